-- wrk script: POST /v1/responses with a unique body on every request (the customer field
-- carries the thread and a counter), random touchpoint, channel, segment and a random subset
-- of the metric fields; submitted_at within the last day. Each thread draws 4,096 random
-- bodies at the start and sends them in turn, each with a new customer. With a second argument
-- "random", the customer is 16 random hex digits instead (like ids from a CRM, which land on
-- random pages of the customer index) rather than the thread and a counter. With "keys", every
-- request carries an Idempotency-Key that starts with 16 random hex digits (as a client's UUIDs
-- would), so every record lands on a random page of the index of idempotency fingerprints.
-- Usage: wrk -s wrk_post.lua -H "Authorization: Bearer KEY" URL/v1/responses -- tp1,tp2,...
--        [random|keys]
-- done() prints one line "WRK_JSON {...}" that tests/bench/bench.py reads.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "wrk_common.lua")
local keys = {}
local counter = 0
local threads = 0
local heads, tails = {}, {}
local TEMPLATES = 4096
local random_customers = false
local with_keys = false
local prefix = nil

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   for k in string.gmatch(args[1] or "", "[^,]+") do
      keys[#keys + 1] = k
   end
   random_customers = args[2] == "random"
   with_keys = args[2] == "keys"
   math.randomseed((tid or 0) * 7919 + os.time())
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   local now = os.time()
   for i = 1, TEMPLATES do
      heads[i], tails[i] = common.template(keys, now, 86400)
   end
   prefix = common.prefix()
end

function request()
   counter = counter + 1
   local i = counter % TEMPLATES + 1
   local customer
   if random_customers then
      customer = string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
   else
      customer = "w" .. tid .. "-" .. counter
   end
   local body = heads[i] .. customer .. tails[i]
   if with_keys then
      return common.request(prefix .. string.format("Idempotency-Key: %08x%08x-%d-%d\r\n",
                                                    math.random(0, 0x7fffffff),
                                                    math.random(0, 0x7fffffff), tid, counter), body)
   end
   return common.request(prefix, body)
end

done = common.done

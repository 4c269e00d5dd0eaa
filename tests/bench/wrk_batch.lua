-- wrk script: POST /v1/responses/batch with 1000 responses per request. Each thread builds 4
-- bodies of random responses (submitted_at within the last 30 days) once, then sends them in
-- turn with the first item's customer field made unique, so building bodies costs wrk little.
-- Usage: wrk -s wrk_batch.lua -H "Authorization: Bearer KEY" URL/v1/responses/batch -- tp1,...
-- [items]

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "wrk_common.lua")
local keys = {}
local counter = 0
local threads = 0
local heads, tails = {}, {}
local prefix = nil

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   for k in string.gmatch(args[1] or "", "[^,]+") do
      keys[#keys + 1] = k
   end
   local n = tonumber(args[2] or "1000")
   math.randomseed((tid or 0) * 7919 + os.time())
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   local now = os.time()
   for b = 1, 4 do
      local items = {}
      for i = 2, n do
         items[#items + 1] = common.item(keys, "b" .. tid .. "-" .. b .. "-" .. i, now, 30 * 86400)
      end
      -- the first item goes last so that its customer (the unique part) ends the body
      local head, tail = common.template(keys, now, 30 * 86400)
      heads[b] = '{"items":[' .. table.concat(items, ",") .. (n > 1 and "," or "") .. head
      tails[b] = tail .. ']}'
   end
   prefix = common.prefix()
end

function request()
   counter = counter + 1
   local b = counter % 4 + 1
   local body = heads[b] .. "u" .. tid .. "-" .. counter .. tails[b]
   return common.request(prefix, body)
end

done = common.done

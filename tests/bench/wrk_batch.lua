-- wrk script: POST /v1/responses/batch with 1000 responses per request. Each thread builds 4
-- bodies of random responses (submitted_at within the last 30 days) once, then sends them in
-- turn with the first item's customer field made unique, so building bodies costs wrk little.
-- Usage: wrk -s wrk_batch.lua -H "Authorization: Bearer KEY" URL/v1/responses/batch -- tp1,...
-- [items]

local channels = {"web", "email", "sms", "phone", "store", "chat", "app", "api"}
local segments = {"consumer", "smb", "enterprise", "public"}
local expectations = {"below", "met", "exceeded"}
local areas = {"interaction", "content", "recovery", "value"}
local keys = {}
local counter = 0
local threads = 0
local heads, tails = {}, {}

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

local function item(customer, now, spread)
   local p = {'{"touchpoint":"', keys[math.random(#keys)], '"'}
   local any = false
   if math.random(100) <= 80 then
      p[#p + 1] = ',"nps":' .. math.random(0, 10); any = true
   end
   if math.random(100) <= 60 then
      p[#p + 1] = ',"csat":' .. math.random(1, 5); any = true
   end
   if math.random(100) <= 40 then
      p[#p + 1] = ',"ces":' .. math.random(1, 7); any = true
   end
   if math.random(100) <= 50 then
      p[#p + 1] = ',"expectation":"' .. expectations[math.random(3)] .. '"'; any = true
   end
   local r = {}
   for _, a in ipairs(areas) do
      if math.random(100) <= 30 then
         r[#r + 1] = '"' .. a .. '":' .. math.random(1, 5)
      end
   end
   if #r > 0 then
      p[#p + 1] = ',"ratings":{' .. table.concat(r, ",") .. '}'; any = true
   end
   if not any then
      p[#p + 1] = ',"nps":' .. math.random(0, 10)
   end
   p[#p + 1] = ',"channel":"' .. channels[math.random(8)] .. '"'
   p[#p + 1] = ',"segment":"' .. segments[math.random(4)] .. '"'
   p[#p + 1] = ',"customer":"' .. customer .. '"'
   p[#p + 1] = ',"submitted_at":"' ..
      os.date("!%Y-%m-%dT%H:%M:%SZ", now - math.random(0, spread)) .. '"}'
   return table.concat(p)
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
         items[#items + 1] = item("b" .. tid .. "-" .. b .. "-" .. i, now, 30 * 86400)
      end
      -- the first item goes last so that its customer (the unique part) ends the body
      local first = item("@", now, 30 * 86400)
      local at = string.find(first, '"customer":"@"', 1, true)
      heads[b] = '{"items":[' .. table.concat(items, ",") .. (n > 1 and "," or "") ..
         string.sub(first, 1, at + 11)
      tails[b] = string.sub(first, at + 13) .. ']}'
   end
end

function request()
   counter = counter + 1
   local b = counter % 4 + 1
   local body = heads[b] .. "u" .. tid .. "-" .. counter .. tails[b]
   return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.1f,"p90_us":%.1f,' ..
      '"p99_us":%.1f,"max_us":%.1f,"mean_us":%.1f,"err_connect":%d,"err_read":%d,' ..
      '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
      summary.requests, summary.duration, summary.bytes, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout))
end

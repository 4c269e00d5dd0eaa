-- wrk script: POST /v1/responses with a unique body on every request (the customer field
-- carries the thread and a counter), random touchpoint, channel, segment and a random subset
-- of the metric fields; submitted_at within the last day.
-- Usage: wrk -s wrk_post.lua -H "Authorization: Bearer KEY" URL/v1/responses -- tp1,tp2,...
-- done() prints one line "WRK_JSON {...}" that tests/bench/bench.py reads.

local channels = {"web", "email", "sms", "phone", "store", "chat", "app", "api"}
local segments = {"consumer", "smb", "enterprise", "public"}
local expectations = {"below", "met", "exceeded"}
local areas = {"interaction", "content", "recovery", "value"}
local keys = {}
local counter = 0
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   for k in string.gmatch(args[1] or "", "[^,]+") do
      keys[#keys + 1] = k
   end
   math.randomseed((tid or 0) * 7919 + os.time())
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

-- One response object as JSON text; customer makes it unique.
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

function request()
   counter = counter + 1
   local body = item("w" .. tid .. "-" .. counter, os.time(), 86400)
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

-- What the wrk scripts share: a random response body, and the report line bench.py reads.
-- Load with: local common = dofile(<this folder> .. "wrk_common.lua")

local common = {}

local channels = {"web", "email", "sms", "phone", "store", "chat", "app", "api"}
local segments = {"consumer", "smb", "enterprise", "public"}
local expectations = {"below", "met", "exceeded"}
local areas = {"interaction", "content", "recovery", "value"}

-- One response object as JSON text: a random touchpoint of keys, channel, segment and subset of
-- the metric fields; customer makes it unique; submitted_at within spread seconds before now.
function common.item(keys, customer, now, spread)
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

-- One random response split around its customer value: head .. customer .. tail is the item.
-- The scripts build many once and make each request unique with the customer alone, so wrk
-- spends its CPU on sending rather than on Lua (it shares the cores with the server).
function common.template(keys, now, spread)
   local item = common.item(keys, "@", now, spread)
   local at = string.find(item, '"customer":"@"', 1, true)
   return string.sub(item, 1, at + 11), string.sub(item, at + 13)
end

-- The request text before Content-Length for wrk's method, path and headers (as wrk.format
-- writes them, with Host), built once in init(). wrk.format builds every request from its
-- header table with string.format and pairs(), which LuaJIT runs in its interpreter: 11.0 us of
-- wrk's CPU per request against 9.4 us this way (medians of 3 runs of the ingest), and wrk
-- shares the machine's two cores with the server it measures. More header lines
-- ("Name: value\r\n") may be appended to it; common.request(prefix, body) completes a request.
function common.prefix()
   local s = {wrk.method .. " " .. wrk.path .. " HTTP/1.1"}
   local host = false
   for name, value in pairs(wrk.headers) do
      if name ~= "Content-Length" then
         s[#s + 1] = name .. ": " .. value
         host = host or string.lower(name) == "host"
      end
   end
   if not host then
      s[#s + 1] = "Host: " .. wrk.host
   end
   return table.concat(s, "\r\n") .. "\r\n"
end

function common.request(prefix, body)
   return prefix .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

-- done(): one line "WRK_JSON {...}" with the figures bench.py reads.
function common.done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.1f,"p90_us":%.1f,' ..
      '"p99_us":%.1f,"max_us":%.1f,"mean_us":%.1f,"err_connect":%d,"err_read":%d,' ..
      '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
      summary.requests, summary.duration, summary.bytes, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout))
end

return common

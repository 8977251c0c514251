-- One "host" for the many-hosts pacing specs and benchmark: its own process and
-- client, sharing the fake's credential and (when REDIS_URL is not "-") the
-- pacing in Redis:
--   lua5.4 spec/support/redis_fleet_child.lua URL REDIS_URL PREFIX COUNT
-- Prints "ok|failed START END NFAILED CODES" (CLOCK_MONOTONIC seconds, one clock
-- for every process on the host), then "sends T1 T2 ..." (when each request was
-- handed to the transport) and "paced P1 P2 ..." (seconds each pacing step took).
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local pacer = require("cloudrenew.pacing")
local runtime = require("cloudrenew.net.runtime")
local fakecloud = require("support.fake")
local url, redis_url, prefix, count = arg[1], arg[2], arg[3], tonumber(arg[4])
local creds = fakecloud.credentials().tencent[1]
local tc, cerr = cloudrenew.tencent{ secret_id = creds.secret_id, secret_key = creds.secret_key,
  endpoint = url, redis = redis_url ~= "-" and redis_url or nil,
  retry = { max_attempts = 10, base_delay = 0.1 } }
if not tc then
  io.write("client ", tostring(cerr), "\n")
  os.exit(1)
end
local ids = {}
for i = 1, count do ids[i] = string.format("edgeone-%s%011d", prefix, i) end
local start = core.monotonic()
local sends, send = {}, runtime.send
runtime.send = function(...)
  sends[#sends + 1] = string.format("%.6f", core.monotonic())
  return send(...)
end
local paced, acquire = {}, pacer.acquire
pacer.acquire = function(...)
  local t0 = core.monotonic()
  local a, b, c = acquire(...)
  paced[#paced + 1] = string.format("%.6f", core.monotonic() - t0 - (a or 0))
  return a, b, c
end
local _, errs = cloudrenew.map(ids, function(id) return tc.teo:RenewPlan{ PlanId = id, Period = 1 } end,
                               { concurrency = 8 })
local finish = core.monotonic()
local failed, codes, list = 0, {}, {}
for i = 1, count do
  if errs[i] then
    failed = failed + 1
    codes[errs[i].code] = (codes[errs[i].code] or 0) + 1
  end
end
for code, n in pairs(codes) do list[#list + 1] = code .. "=" .. n end
table.sort(list)
io.write(string.format("%s %.6f %.6f %d %s\n", failed == 0 and "ok" or "failed", start, finish, failed,
  #list > 0 and table.concat(list, ",") or "-"))
io.write("sends ", table.concat(sends, " "), "\n")
io.write("paced ", table.concat(paced, " "), "\n")

-- A separate process renewing a slice of a fleet, for the host-wide pacing specs:
--   lua5.4 spec/support/fleet_child.lua URL PREFIX COUNT [RATE_LIMIT_FILE]
-- Prints "ok|failed START END NFAILED CODES", where START/END are
-- CLOCK_MONOTONIC seconds (one clock for every process on the host) taken once
-- the client exists and after the last call, and CODES is "code=n,..." or "-";
-- then "sends T1 T2 ...": when each request was handed to the transport.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local runtime = require("cloudrenew.net.runtime")
local fakecloud = require("support.fake")
local url, prefix, count, file = arg[1], arg[2], tonumber(arg[3]), arg[4]
local creds = fakecloud.credentials().tencent[1]
local tc, cerr = cloudrenew.tencent{ secret_id = creds.secret_id, secret_key = creds.secret_key,
  endpoint = url, rate_limit_file = file, retry = { max_attempts = 10, base_delay = 0.1 } }
if not tc then
  io.write("client ", tostring(cerr), "\n")
  os.exit(1)
end
local ids = {}
for i = 1, count do ids[i] = string.format("edgeone-%s%011d", prefix, i) end
-- Start counts from here: a client that blocked in cloudrenew.tencent{} until
-- the other process finished must not look as if it ran alongside it.
local start = core.monotonic()
local sends, send = {}, runtime.send
runtime.send = function(...)      -- observe the send moment; the real transport still sends
  sends[#sends + 1] = string.format("%.6f", core.monotonic())
  return send(...)
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

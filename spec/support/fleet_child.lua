-- A separate process renewing a slice of a fleet, for the host-wide pacing spec:
--   lua5.4 spec/support/fleet_child.lua URL PREFIX COUNT [RATE_LIMIT_FILE]
local cloudrenew = require("cloudrenew")
local fakecloud = require("support.fake")
local url, prefix, count, file = arg[1], arg[2], tonumber(arg[3]), arg[4]
local creds = fakecloud.credentials().tencent[1]
local tc = assert(cloudrenew.tencent{ secret_id = creds.secret_id, secret_key = creds.secret_key,
  endpoint = url, rate_limit_file = file, retry = { max_attempts = 10, base_delay = 0.1 } })
local ids = {}
for i = 1, count do ids[i] = string.format("edgeone-%s%011d", prefix, i) end
local _, errs = cloudrenew.map(ids, function(id) return tc.teo:RenewPlan{ PlanId = id, Period = 1 } end,
                               { concurrency = 8 })
local failed = 0
for i = 1, count do if errs[i] then failed = failed + 1 end end
io.write(failed == 0 and "ok\n" or ("failed " .. failed .. "\n"))

-- One call against a hostile Redis, for spec/redis_faults_spec.lua, bounded by
-- the spec's `timeout`:
--   lua5.4 spec/support/redis_hostile_child.lua FAKE_URL REDIS_URL WHAT
-- WHAT: renew (a teo RenewPlan paced through Redis, retry deadline 5 s) or
-- ledger (a cvm workflow run with the Redis ledger). Prints "done SECONDS CODE
-- MESSAGE" (CODE "-" on success), or "raised MESSAGE".
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")
local url, redis_url, what = arg[1], arg[2], arg[3]
local creds = fakecloud.credentials().tencent[1]
local t0 = core.monotonic()
local ok, a, b = pcall(function()
  local tc = assert(cloudrenew.tencent{ secret_id = creds.secret_id, secret_key = creds.secret_key,
    region = "ap-guangzhou", endpoint = url, retry = { deadline = 5 },
    redis = { url = redis_url, timeout = 1, lease_ttl = 1, lease_wait = 0 } })
  if what == "renew" then return tc.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 1 } end
  return require("cloudrenew.workflow").renew_if_under_budget{ client = tc, product = "cvm",
    resources = { "ins-h0000001" }, period = 1, run_id = "2026-12", confirm = false }
end)
if not ok then io.write("raised ", tostring(a), "\n") os.exit(0) end
local err = b or (type(a) == "table" and a.items and a.items[1] and a.items[1].error)
io.write(string.format("done %.3f %s %s\n", core.monotonic() - t0, err and tostring(err.code) or "-",
  err and tostring(err.message or err) or "-"))

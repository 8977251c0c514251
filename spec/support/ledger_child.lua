-- One "host" running a renewal workflow with the Redis ledger, for the many-
-- hosts specs:
--   lua5.4 spec/support/ledger_child.lua URL REDIS_URL AUDIT_LOG RUN_ID LEASE_TTL ID...
-- Prints "holding" (line-buffered) once it renews, then "finished R U F S"
-- (renewed, unknown, failed, resumed) and "item ID OUTCOME resumed|new CODE" per
-- resource; or "error CODE MESSAGE" when the run did not start.
io.stdout:setvbuf("line")
local cloudrenew = require("cloudrenew")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")
local url, redis_url, log, run_id, ttl = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5])
local ids = { select(6, (table.unpack or unpack)(arg)) }
local creds = fakecloud.credentials().tencent[1]
local tc = assert(cloudrenew.tencent{ secret_id = creds.secret_id, secret_key = creds.secret_key,
  region = "ap-guangzhou", endpoint = url, timeout = 10,
  redis = { url = redis_url, lease_ttl = ttl, lease_wait = 60 } })
local said = false
local report, err = workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = ids,
  period = 1, audit_log = log, run_id = run_id, concurrency = 2, confirm = false,
  on_progress = function(phase)
    if phase == "renew" and not said then said = true; io.write("holding\n") end
  end }
if not report then
  io.write("error ", tostring(err.code), " ", tostring(err.message), "\n")
  os.exit(0)
end
local t = report.totals
io.write(string.format("finished %d %d %d %d\n", t.renewed, t.unknown, t.failed, t.resumed))
for _, it in ipairs(report.items) do
  io.write(string.format("item %s %s %s %s\n", it.id, it.outcome, it.resumed and "resumed" or "new",
    it.error and tostring(it.error.code) or "-"))
end

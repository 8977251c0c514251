-- A renewal run in its own process, for the crash-resume spec (the parent
-- kills it while a renewal is in flight):
--   lua5.4 spec/support/workflow_child.lua URL AUDIT_LOG ID...
local cloudrenew = require("cloudrenew")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")
local url, log = arg[1], arg[2]
local ids = { select(3, table.unpack(arg)) }
local creds = fakecloud.credentials().tencent[1]
local tc = assert(cloudrenew.tencent{ secret_id = creds.secret_id, secret_key = creds.secret_key,
  region = "ap-guangzhou", endpoint = url, timeout = 30 })
local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = ids,
  period = 1, audit_log = log, concurrency = 1, confirm = false })
io.write("finished ", report.totals.renewed, "\n")

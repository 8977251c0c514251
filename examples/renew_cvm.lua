#!/usr/bin/env lua5.4
-- Renew Tencent CVM instances whose renewal price is under a cap, within a
-- budget. Dry run unless --apply: a renewal spends real money.
--
--   CVM_INSTANCES="ins-2zvpghhc,ins-7xk3m9qa" MAX_PRICE=150 BUDGET=5000 PERIOD=1 \
--   TENCENTCLOUD_REGION=ap-guangzhou lua5.4 examples/renew_cvm.lua [--apply]
--
-- Credentials: TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY or ~/.tencentcloud/credentials.
-- Every renewal is recorded in AUDIT_LOG (default renewals-YYYY-MM.jsonl): run it
-- again after a crash and it skips what was already renewed.
package.path = "examples/?.lua;" .. package.path
local cloudrenew = require("cloudrenew")
local workflow = require("cloudrenew.workflow")
local common = require("common")

local tc = assert(cloudrenew.tencent(common.client_opts{ region = os.getenv("TENCENTCLOUD_REGION") or "ap-guangzhou" }))
local report, err = workflow.renew_if_under_budget{
  client = tc, product = "cvm",
  resources = common.list("CVM_INSTANCES"),
  period = tonumber(os.getenv("PERIOD") or "1"),
  max_price = os.getenv("MAX_PRICE") or 150,
  budget = os.getenv("BUDGET"),
  dry_run = arg[1] ~= "--apply",
  audit_log = os.getenv("AUDIT_LOG") or os.date("renewals-%Y-%m.jsonl"),
  concurrency = 8,
}
if not report then io.stderr:write(tostring(err), "\n") os.exit(2) end
common.print_report("Tencent CVM", report)
os.exit(common.status(report))

#!/usr/bin/env lua5.4
-- Renew Volcengine ECS instances whose renewal price (billing
-- QueryPriceForRenew, 20 per inquiry) is under a cap. Dry run unless --apply.
--
--   ECS_INSTANCES="i-3tiefmkskq3vj0hx1lt5" MAX_PRICE=100 VOLCENGINE_REGION=cn-beijing \
--   lua5.4 examples/renew_ecs.lua [--apply]
--
-- Credentials: VOLCENGINE_ACCESS_KEY / VOLCENGINE_SECRET_KEY or ~/.volc/config.
-- Each renewal carries a ClientToken (written to the audit log first), so a
-- lost answer is resent safely and renews once.
package.path = "examples/?.lua;" .. package.path
local cloudrenew = require("cloudrenew")
local workflow = require("cloudrenew.workflow")
local common = require("common")

local volc = assert(cloudrenew.volcengine(common.client_opts{ region = os.getenv("VOLCENGINE_REGION") }))
local report, err = workflow.renew_if_under_budget{
  client = volc, product = "ecs",
  resources = common.list("ECS_INSTANCES"),
  period = tonumber(os.getenv("PERIOD") or "1"),
  max_price = os.getenv("MAX_PRICE") or 100,
  budget = os.getenv("BUDGET"),
  dry_run = arg[1] ~= "--apply",
  audit_log = os.getenv("AUDIT_LOG") or os.date("renewals-%Y-%m.jsonl"),
  concurrency = 8,
}
if not report then io.stderr:write(tostring(err), "\n") os.exit(2) end
common.print_report("Volcengine ECS", report)
os.exit(common.status(report))

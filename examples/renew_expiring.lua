#!/usr/bin/env lua5.4
-- Renew what expires soon, without a hand-kept id list: the read API finds the
-- prepaid CVM instances expiring within EXPIRES_WITHIN_DAYS, each is priced and
-- renewed if it fits the cap and the budget. Postpaid, auto-renewing and expired
-- instances are listed with the reason they are left alone. Dry run unless --apply.
--
--   EXPIRES_WITHIN_DAYS=30 MAX_PRICE=150 BUDGET=5000 PERIOD=1 \
--   TENCENTCLOUD_REGION=ap-guangzhou lua5.4 examples/renew_expiring.lua [--apply]
--
-- Credentials: TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY or ~/.tencentcloud/credentials.
package.path = "examples/?.lua;" .. package.path
local cloudrenew = require("cloudrenew")
local workflow = require("cloudrenew.workflow")
local common = require("common")

local tc = assert(cloudrenew.tencent(common.client_opts{ region = os.getenv("TENCENTCLOUD_REGION") or "ap-guangzhou" }))
local report, err = workflow.renew_if_under_budget{
  client = tc, product = "cvm",
  select = { expires_within_days = tonumber(os.getenv("EXPIRES_WITHIN_DAYS") or "30") },
  period = tonumber(os.getenv("PERIOD") or "1"),
  max_price = os.getenv("MAX_PRICE") or 150,
  budget = os.getenv("BUDGET"),
  dry_run = arg[1] ~= "--apply",
  audit_log = os.getenv("AUDIT_LOG") or os.date("renewals-%Y-%m.jsonl"),
}
if not report then io.stderr:write(tostring(err), "\n") os.exit(2) end
local d = report.discovery
print(string.format("Tencent CVM expiring within %g days: %d listed, %d selected, %d not due yet (%s)",
  d.expires_within_days, d.listed, d.selected, d.not_due, report.dry_run and "dry run" or "apply"))
for _, it in ipairs(report.items) do
  local after = it.expires_after or it.expires_after_planned
  print(string.format("  %-14s %8s  %-12s %-8s expires %s%s", it.id, it.price or "-", it.decision, it.outcome,
    it.expires_before or "-", after and (" -> " .. after .. (it.expires_after and "" or " (planned)")) or ""))
end
local t = report.totals
print(string.format("  renewed %d, skipped %d, failed %d, unknown %d; spent %s (planned %s)",
  t.renewed, t.skipped, t.failed, t.unknown, t.spent, t.planned_amount))
os.exit(common.status(report))

#!/usr/bin/env lua5.4
-- Renew Tencent Host Security (yunjing) Pro for machines whose price is under
-- a cap. Dry run unless --apply.
--
--   HSPRO_QUUIDS="quuid-1,quuid-2" HSPRO_REGION=ap-guangzhou MAX_PRICE=60 \
--   lua5.4 examples/renew_hspro.lua [--apply]
--
-- Each machine is { Quuid, MachineType = "CVM" | "BM", MachineRegion }.
package.path = "examples/?.lua;" .. package.path
local cloudrenew = require("cloudrenew")
local workflow = require("cloudrenew.workflow")
local common = require("common")

local region = os.getenv("HSPRO_REGION") or "ap-guangzhou"
local machines = {}
for _, quuid in ipairs(common.list("HSPRO_QUUIDS")) do
  machines[#machines + 1] = { Quuid = quuid, MachineType = "CVM", MachineRegion = region }
end
local tc = assert(cloudrenew.tencent(common.client_opts{ region = region }))
local report, err = workflow.renew_if_under_budget{
  client = tc, product = "hspro", resources = machines,
  period = tonumber(os.getenv("PERIOD") or "1"),
  max_price = os.getenv("MAX_PRICE") or 60,
  budget = os.getenv("BUDGET"),
  dry_run = arg[1] ~= "--apply",
  audit_log = os.getenv("AUDIT_LOG") or os.date("renewals-%Y-%m.jsonl"),
}
if not report then io.stderr:write(tostring(err), "\n") os.exit(2) end
common.print_report("Tencent Host Security Pro", report)
os.exit(common.status(report))

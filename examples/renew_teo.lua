#!/usr/bin/env lua5.4
-- Renew EdgeOne (teo) plans within a budget. teo has no price inquiry API, so
-- the prices come from you: here a JSON price list file {"edgeone-...": 40}.
-- Dry run unless --apply.
--
--   TEO_PLANS="edgeone-2unuvzjmmn2q" TEO_PRICES=examples/teo-prices.json BUDGET=500 \
--   lua5.4 examples/renew_teo.lua [--apply]
package.path = "examples/?.lua;" .. package.path
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.json")
local workflow = require("cloudrenew.workflow")
local common = require("common")

local path = os.getenv("TEO_PRICES") or "examples/teo-prices.json"
local f = assert(io.open(path, "rb"))
local prices = assert(json.decode(f:read("*a")), path .. ": not JSON")
f:close()

local tc = assert(cloudrenew.tencent(common.client_opts{}))
local report, err = workflow.renew_if_under_budget{
  client = tc, product = "teo",
  resources = common.list("TEO_PLANS"),
  period = tonumber(os.getenv("PERIOD") or "1"),
  -- a table works too; a function lets you look prices up elsewhere
  price = function(plan_id, period)
    local monthly = prices[plan_id]
    if not monthly then return nil, "not in " .. path end
    return monthly * period
  end,
  max_price = os.getenv("MAX_PRICE"),
  budget = os.getenv("BUDGET") or 500,
  dry_run = arg[1] ~= "--apply",
  audit_log = os.getenv("AUDIT_LOG") or os.date("renewals-%Y-%m.jsonl"),
}
if not report then io.stderr:write(tostring(err), "\n") os.exit(2) end
common.print_report("EdgeOne plans", report)
os.exit(common.status(report))

#!/usr/bin/env lua5.4
-- A cron job on a CVM host with no keys on disk: credentials come from the
-- instance's CAM role (metadata service), optionally used to assume another
-- role (ROLE_ARN) that may renew. Temporary credentials are refreshed before
-- they expire, however long the run. Dry run unless --apply.
--
--   CVM_INSTANCES="ins-2zvpghhc,ins-7xk3m9qa" MAX_PRICE=150 \
--   [ROLE_ARN=qcs::cam::uin/100000000001:roleName/renewer] \
--   lua5.4 examples/renew_with_role.lua [--apply]
--
-- Each request is printed to stderr (the client's on_response hook: action,
-- host, attempt, status, time, request id; never a secret).
-- Demo/test only: CLOUDRENEW_METADATA_ENDPOINT=http://127.0.0.1:PORT points the
-- role lookup at the bundled fake cloud (see `make demo`).
package.path = "examples/?.lua;" .. package.path
local cloudrenew = require("cloudrenew")
local observe = require("cloudrenew.observe")
local workflow = require("cloudrenew.workflow")
local common = require("common")

local tc, err = cloudrenew.tencent(common.client_opts{
  region = os.getenv("TENCENTCLOUD_REGION") or "ap-guangzhou",
  credentials = "instance_role",                        -- only the role: never a key left on disk
  metadata_endpoint = os.getenv("CLOUDRENEW_METADATA_ENDPOINT"),
  role_arn = os.getenv("ROLE_ARN"), role_session_name = "renew-cron",
  user_agent = "renew_with_role",
  on_response = function(info) io.stderr:write(observe.line(info), "\n") end,
})
if not tc then io.stderr:write(tostring(err), "\n") os.exit(2) end
print("credentials: " .. tc.credential_source .. " (" .. tc.secret_id .. ")")

local report
report, err = workflow.renew_if_under_budget{
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
common.print_report("Tencent CVM (role credentials)", report)
os.exit(common.status(report))

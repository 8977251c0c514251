-- The Lua side of examples/openresty/nginx.conf: a price endpoint, and a
-- renewal job run by one worker's timer (every RENEW_EVERY seconds).
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.json")
local metrics = require("cloudrenew.metrics")
local workflow = require("cloudrenew.workflow")

local M = {}

M.EVERY = 6 * 3600

-- Credentials come from TENCENTCLOUD_SECRET_ID/KEY (see `env` in nginx.conf).
-- A client per request or timer run is cheap (no connection of its own); close it.
-- This worker's requests (per action: status, throttles, durations, pacing
-- waits) for /metrics; each worker counts its own.
local requests = metrics.collector()

local function client()
  return cloudrenew.tencent{
    region = os.getenv("TENCENTCLOUD_REGION") or "ap-guangzhou",
    connect_to = os.getenv("CLOUDRENEW_CONNECT_TO"),   -- the demo's fake cloud
    on_response = requests.hook,
  }
end

local function ids()
  local out = {}
  for id in (os.getenv("CVM_INSTANCES") or ""):gmatch("[^,%s]+") do out[#out + 1] = id end
  return out
end

function M.price()
  local tc, err = client()
  if not tc then ngx.status = 500; return ngx.say(tostring(err)) end
  local res
  res, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { ngx.var.arg_id },
    InstanceChargePrepaid = { Period = tonumber(ngx.var.arg_period) or 1 } }
  tc:close()
  ngx.header.content_type = "application/json"
  if not res then
    ngx.status = 502
    return ngx.say(json.encode{ error = tostring(err), outcome = err.outcome })
  end
  ngx.say(json.encode{ id = ngx.var.arg_id, price = res.Price.InstancePrice.DiscountPrice,
                       request_id = res.RequestId })
end

local function job(premature)
  if premature then return end   -- nginx is exiting or reloading
  local tc, err = client()
  local report
  if tc then
    report, err = workflow.renew_if_under_budget{
      client = tc, product = "cvm", resources = ids(), period = 1,
      max_price = tonumber(os.getenv("MAX_PRICE") or ""), budget = tonumber(os.getenv("BUDGET") or ""),
      dry_run = os.getenv("APPLY") ~= "1",
      -- a directory the worker user (nginx's `user`) may write; the demo's prefix is its own
      audit_log = ngx.config.prefix() .. "logs/renewals.jsonl",
      settle = true,   -- first resolve what a stopped worker left unknown, from the cloud's records
    }
    tc:close()
  end
  if not report and err.busy then
    -- After a reload the previous generation's worker may still be finishing
    -- its run (it holds the audit log): nothing to do, nothing wrong.
    return ngx.log(ngx.INFO, "cloudrenew job: skipped, ", tostring(err))
  end
  local summary = report and { at = ngx.now(), totals = report.totals } or { at = ngx.now(), error = tostring(err) }
  ngx.shared.renewals:set("last", json.encode(summary))
  if report and ngx.worker.exiting() and report.totals.skipped > 0 then
    ngx.log(ngx.NOTICE, "cloudrenew job: nginx is exiting; renewals not started were skipped for the next run")
  end
  ngx.log(report and ngx.NOTICE or ngx.ERR, "cloudrenew job: ", report and json.encode(report.totals) or tostring(err))
end

function M.start()
  if ngx.worker.id() ~= 0 then return end    -- one worker runs the job
  ngx.timer.at(0, job)
  ngx.timer.every(M.EVERY, job)
end

-- GET /metrics -> Prometheus text: the audit log's outcomes, spend and unknowns,
-- and this worker's requests. (Expiries of every resource: `cloudrenew metrics`
-- in a cron job, or metrics.render{ expiring = ... } here.)
function M.metrics()
  ngx.header.content_type = "text/plain; version=0.0.4"
  ngx.print(metrics.render{ audit = { ngx.config.prefix() .. "logs/renewals.jsonl" }, collector = requests })
end

function M.last_run()
  ngx.header.content_type = "application/json"
  ngx.say(ngx.shared.renewals:get("last") or "null")
end

return M

-- Settling unknown outcomes without guessing. An attempt the audit log leaves
-- unknown (the answer was lost, or the process died while it was in flight),
-- or an accepted renewal no read has confirmed yet, becomes renewed or failed
-- only on proof, written as a "settle" line with settled_by:
--   expiry            the resource's expiry is past the one the intent recorded
--   latest_operation  CVM: LatestOperationRequestId is the attempt's RequestId
--                     and LatestOperationState SUCCESS (renewed) or FAILED (failed)
--   client_token      a product with a ClientToken (ecs): its renewal re-sent with the SAME ClientToken
--                     and parameters (idempotent by the cloud's contract: it
--                     answers the first order, or executes once if the first
--                     never arrived; a refusal means nothing was executed)
--   settle_after      opt-in: settle_after seconds (at least MIN_SETTLE_AFTER)
--                     have passed since the intent and the expiry has still
--                     not moved -> failed
-- Anything less certain stays unknown, and an unknown is never sent again.
-- Every question goes exactly where the renewal went: the intent records the
-- region and endpoint host, and a client that does not reach them asks nothing.
local audit = require("cloudrenew.workflow.audit")
local catalog = require("cloudrenew.client.catalog")
local client_mod = require("cloudrenew.client")
local confirm = require("cloudrenew.workflow.confirm")
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")
local products = require("cloudrenew.products")

local M = {}

M.MAX_SETTLE_AFTER = 366 * 86400
-- The floor: longer than any confirmation (confirm.MAX_TIMEOUT) and than the
-- clouds' own processing of an accepted renewal (CVM stays OPERATING for minutes).
M.MIN_SETTLE_AFTER = 6 * 3600
-- A Volcengine ClientToken is re-sent only while the intent is younger than this:
-- the cloud documents no period for which it remembers a token.
M.RESEND_WITHIN = 6 * 3600
-- The only refusals of a re-sent renewal (same token, same parameters, same
-- region and host) that prove the cloud evaluated the order and did not run it.
-- NotFound, AccessDenied, a region mismatch or anything else prove nothing.
M.REFUSALS_THAT_PROVE_FAILED = { ["Insufficient.Balance"] = true, InvalidPeriod = true, InvalidPeriodUnit = true }

-- settle_after option -> seconds, nil (not given), or false, message.
function M.settle_after(v)
  if v == nil then return nil end
  v = num.canon(v)
  if not num.finite(v) or v < M.MIN_SETTLE_AFTER or v > M.MAX_SETTLE_AFTER then
    return false, "settle_after must be a number of seconds from " .. M.MIN_SETTLE_AFTER .. " (6 hours: longer than"
      .. " any confirmation and than the cloud's own processing) to " .. M.MAX_SETTLE_AFTER .. ", got " .. num.show(v)
  end
  return v
end

-- Where a product's renewal goes from this client: { region, host } (host = the
-- renewal endpoint's host[:port]); the intent line records both.
-- The renewal's service and action are the product's route ("<service> <action>").
function M.place(client, product)
  local p = products.get(product)
  local r = p and type(p.route) == "string" and { p.route:match("^(%S+) (%S+)$") }
  local region = client.options and client.options.region or nil
  if not (r and r[2]) then return { region = region } end
  local spec = catalog.find(client.cloud, r[1], r[2])
  local default = client.cloud == "tencent" and "https://{service}.tencentcloudapi.com"
    or ("https://" .. (spec and spec.host or "open.volcengineapi.com"))
  local ok, u = pcall(client_mod.endpoint, client, r[1], region, nil, default)
  return { region = region, host = ok and u and u.authority or nil }
end

-- Does this client reach where the intent's renewal went? true, or false, why.
-- An intent of an older version (no region, no host) is asked where the caller says.
function M.reaches(client, intent)
  if client.cloud ~= intent.cloud then return false, "the renewal went to " .. tostring(intent.cloud) end
  local p = M.place(client, intent.product)
  if intent.region and intent.region ~= p.region then
    return false, string.format("the renewal went to region %s; this client is in %s (nothing asked)",
      intent.region, tostring(p.region))
  end
  if intent.host and intent.host ~= p.host then
    return false, string.format("the renewal went to host %s; this client sends to %s (nothing asked)",
      intent.host, tostring(p.host))
  end
  return true
end

-- Same token, same parameters: the cloud answers the first order or runs it once
-- (the product's own renew, as the workflow sent it).
local function resend(client, p, intent)
  local row = p.from_record and p.from_record(intent) or intent.id
  local ok, res, err, order = pcall(p.renew, client, { id = intent.id, row = row }, intent.period,
    intent.client_token)
  if not ok then return nil, "re-sent with its ClientToken: raised " .. tostring(res) .. " (proves nothing)" end
  if res then
    return { outcome = "renewed", by = "client_token", request_id = res.RequestId, order = order }
  end
  -- Still processing, a parameter mismatch (the log or the cloud is not what we
  -- think) or no answer: nothing proven.
  if err.outcome ~= "rejected" or not M.REFUSALS_THAT_PROVE_FAILED[err.code] then
    return nil, "re-sent with its ClientToken: " .. tostring(err) .. " (proves nothing)"
  end
  return { outcome = "failed", by = "client_token", request_id = err.request_id,
           error = { code = err.code, message = err.message } }
end

-- Settle one attempt (an entry of log:history). opts: { settle_after = s }.
-- Returns { id, attempt, run_id, before (outcome), outcome, settled_by,
-- expires_after, message }; outcome is "unknown" when nothing was proven.
function M.attempt(log, client, a, opts)
  opts = opts or {}
  local intent = a.intent
  local was = audit.effective(a)
  local out = { id = intent.id, attempt = intent.attempt, run_id = intent.run_id, before = was, outcome = was }
  if not audit.unsettled(a) then return out end
  local reach, rwhy = M.reaches(client, intent)
  if not reach then
    out.message = rwhy
    return out
  end
  local product = intent.product
  local before = confirm.parse_time(intent.expires_before)
  local rid = (a.result and a.result.request_id) or nil
  local verdict, why
  local st, rerr = confirm.read(client, product, intent.id)
  if st and st.found then
    out.expires_after = st.expires_at
    local v = confirm.verdict(product, st, before, rid)
    if v then verdict = { outcome = v.outcome, by = v.by, error = v.message and { code = "RenewInstances.FAILED", message = v.message } } end
    if not verdict and not before then why = "the intent recorded no expiry to compare with" end
  elseif st then
    why = "the read API does not list " .. intent.id
  else
    why = "read failed: " .. tostring(rerr)
  end
  -- Volcengine: a lost answer is settled by asking again with the same token,
  -- only when the expiry was read now and has not moved, and the intent is young.
  local sent = confirm.parse_time(intent.time)
  local age = sent and (core.time() - sent)
  local p = products.get(product)
  if not verdict and was == "unknown" and p and p.token and intent.client_token and intent.period then
    local r, e
    if not (st and st.found and before and st.expires and st.expires <= before) then
      e = "not re-sent: " .. (why or "the expiry read now does not show it unmoved")
    elseif not age or age < 0 or age >= M.RESEND_WITHIN then
      e = string.format("not re-sent: the intent is %s old (a ClientToken is re-sent only within %d s)",
        age and (math.floor(age) .. " s") or "of unknown age", M.RESEND_WITHIN)
    else
      r, e = resend(client, p, intent)
    end
    if r then
      verdict = r
      -- the expiry read before the re-send is stale now: report what it is after
      local st2 = confirm.read(client, product, intent.id)
      out.expires_after = st2 and st2.found and st2.expires_at or nil
    else
      why = e
    end
  end
  -- Opt-in: the expiry provably did not move within settle_after seconds.
  if not verdict and was == "unknown" and opts.settle_after and st and st.found and before and st.expires
      and st.expires <= before then
    if age and age >= opts.settle_after then
      verdict = { outcome = "failed", by = "settle_after", error = { code = "ClientError.Settled",
        message = string.format("the expiry has not moved %d s after the attempt (settle_after %d s)",
          math.floor(age), opts.settle_after) } }
    elseif age then
      why = string.format("the expiry has not moved yet; settle_after (%d s) has not passed (%d s so far)",
        opts.settle_after, math.floor(age))
    end
  end
  if not verdict then
    out.message = why or (was == "unknown" and "nothing proves either outcome yet" or "not confirmed yet")
    return out
  end
  local ok, werr = log:settle(intent.attempt, { cloud = intent.cloud, product = product, id = intent.id,
    run_id = intent.run_id, outcome = verdict.outcome, settled_by = verdict.by,
    expires_after = out.expires_after, request_id = verdict.request_id, order = verdict.order,
    error = verdict.error })
  if not ok then
    out.message = "settled as " .. verdict.outcome .. " but not recorded: " .. tostring(werr)
    out.error = errors.client("AuditLog", out.message, { outcome = "unknown" })
    return out
  end
  out.outcome, out.settled_by, out.order, out.request_id = verdict.outcome, verdict.by, verdict.order, verdict.request_id
  out.error = verdict.error
  out.message = "settled by " .. verdict.by
  return out
end

-- Settle every unsettled attempt on one resource (when opts.same_run, only
-- those of opts.run_id, nil included). Returns the list of M.attempt answers.
function M.resource(log, client, product, id, opts)
  opts = opts or {}
  local out = {}
  for _, a in ipairs(log:history(client.cloud, product, id)) do
    if audit.unsettled(a) and (not opts.same_run or a.intent.run_id == opts.run_id) then
      out[#out + 1] = M.attempt(log, client, a, opts)
    end
  end
  return out
end

return M

-- Auto-renew, managed like renewals (issue 23 part 4): turn auto-renew on or off per
-- resource, any product, through the billing APIs: Tencent billing SetRenewal,
-- Volcengine billing SetRenewalType.
--
--   local autorenew = require("cloudrenew.workflow.autorenew")
--   local plan = autorenew.plan{ clients = { tc, volc }, changes = {
--     { cloud = "tencent", id = "ins-2zvpghhc", auto_renew = true, period = 1 },
--     { cloud = "volcengine", id = "i-3tiefmkskq3vj0hx1lt5", auto_renew = false } } }
--   local report = autorenew.apply{ ..., audit_log = "renewals.jsonl", budget = "500" }
--
-- Each change is read first from the billing list (product code, region, the flag
-- now) and planned; nothing is sent by plan. apply writes an intent to the audit log
-- before each change and a result after it, confirms it by reading the flag back,
-- and on a re-run sends nothing the log holds as applied or maybe applied (an
-- unknown one is settled when the flag read back is the one wanted). Turning
-- auto-renew on commits future spend: its price for one cycle of `period` months is
-- shown where an inquiry exists, and `budget` (a sum for this run) holds what is
-- turned on; under a budget an unpriced one is not turned on.
local audit = require("cloudrenew.workflow.audit")
local errors = require("cloudrenew.client.errors")
local expiring = require("cloudrenew.workflow.expiring")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")

local M = {}

local function invalid(msg)
  return nil, errors.client("InvalidParameter", "autorenew: " .. msg)
end

-- Periods in months: 1-11, or whole years up to 5 (Tencent SetRenewal: "如果是月，
-- 支持：1-11 如果是年，支持：1-5"; Volcengine takes the same set).
local function period_ok(n)
  return n ~= nil and ((n >= 1 and n <= 11) or (n % 12 == 0 and n >= 12 and n <= 60))
end

-- Per cloud: the change's request and how its answer says it was done.
local SET = {
  tencent = { route = "billing SetRenewal",
    send = function(c, it)
      local p = { ProductCode = it.product_code, RegionCode = it.region, InstanceId = it.id,
                  RenewFlag = it.wanted and "NOTIFY_AND_AUTO_RENEW" or "NOTIFY_AND_MANUAL_RENEW" }
      if it.wanted then
        local years = it.period >= 12
        p.RenewPeriod = string.format("%d", years and math.floor(it.period / 12) or it.period)
        p.RenewPeriodUnit = years and "y" or "m"
      end
      local res, err = c.billing:SetRenewal(p)
      if not res then return nil, err end
      -- InstanceList: the instances the operation failed for
      for _, x in ipairs(type(res.InstanceList) == "table" and res.InstanceList or {}) do
        if type(x) == "table" and (x.InstanceId == it.id or x.InstanceId == nil) then
          return nil, errors.new{ code = "SetRenewal.Failed", request_id = res.RequestId, outcome = "rejected",
            message = string.format("SetRenewal failed for %s: code %s: %s", it.id, num.show(x.Code),
              errors.text(x.Message, 256)) }
        end
      end
      return res
    end },
  volcengine = { route = "billing SetRenewalType",
    send = function(c, it, token)
      local p = { Product = it.product_code, InstanceID = it.id, ClientToken = token,
                  RenewType = it.wanted and "Automatically" or "Manually" }
      if it.wanted then p.RenewalDuration, p.RenewalDurationUnit = it.period, "Month" end
      local res, err = c.billing:SetRenewalType(p)
      if not res then return nil, err end
      for _, x in ipairs(type(res.SuccessInstanceList) == "table" and res.SuccessInstanceList or {}) do
        if type(x) == "table" and x.InstanceID == it.id then return res end
      end
      return nil, errors.new{ code = "SetRenewalType.NotApplied", request_id = res.RequestId, outcome = "rejected",
        message = "SetRenewalType did not list " .. it.id .. " in SuccessInstanceList" }
    end },
}

local KNOWN = { clients = true, changes = true, dry_run = true, audit_log = true, budget = true, run_id = true }

local function check(o)
  if type(o) ~= "table" then return invalid("options must be a table") end
  for k in pairs(o) do
    if not KNOWN[k] then return invalid(tostring(k) .. " is not an option (clients, changes, dry_run, audit_log, budget, run_id)") end
  end
  local c = { clients = {}, changes = {}, dry_run = o.dry_run == true, run_id = o.run_id }
  if type(o.clients) ~= "table" or #o.clients == 0 then return invalid("clients must list the clouds' clients") end
  for i, cl in ipairs(o.clients) do
    if type(cl) ~= "table" or not SET[cl.cloud] or type(cl.call) ~= "function" then
      return invalid(string.format("clients[%d] is not a cloudrenew client", i))
    end
    if c.clients[cl.cloud] then return invalid("clients lists two " .. cl.cloud .. " clients") end
    c.clients[cl.cloud] = cl
  end
  if type(o.changes) ~= "table" or #o.changes == 0 then return invalid("changes must list { cloud =, id =, auto_renew = }") end
  local seen = {}
  for i, x in ipairs(o.changes) do
    local where = string.format("changes[%d]", i)
    if type(x) ~= "table" then return invalid(where .. " must be a table") end
    if not c.clients[x.cloud] then return invalid(where .. ".cloud must name a cloud of clients, got " .. num.show(x.cloud)) end
    if type(x.id) ~= "string" or not x.id:find("^[%w%-_.:]+$") or #x.id > expiring.MAX_TEXT then
      return invalid(where .. ".id must be an id string, got " .. num.show(x.id))
    end
    if type(x.auto_renew) ~= "boolean" then return invalid(where .. ".auto_renew must be true or false") end
    local period = x.period == nil and 1 or num.int(x.period, 1, 60)
    if not period_ok(period) then
      return invalid(where .. ".period must be 1-11 months or 12, 24, 36, 48 or 60, got " .. num.show(x.period))
    end
    if seen[x.cloud .. "|" .. x.id] then return invalid(where .. ": " .. x.id .. " is listed twice") end
    seen[x.cloud .. "|" .. x.id] = true
    c.changes[i] = { cloud = x.cloud, id = x.id, wanted = x.auto_renew, period = period }
  end
  if o.budget ~= nil then
    c.budget = money.cents(o.budget, "down")
    if not c.budget then return invalid("budget must be a decimal amount >= 0, got " .. num.show(o.budget)) end
  end
  if c.budget then
    -- A budget is one sum in one currency. Tencent's answers name no currency, so each
    -- cloud's is its own (unknown) one: "on" changes on two clouds would add two
    -- currencies, refused here before anything is read or sent.
    local on, clouds = {}, {}
    for _, ch in ipairs(c.changes) do
      if ch.wanted and not on[ch.cloud] then on[ch.cloud] = true; clouds[#clouds + 1] = ch.cloud end
    end
    if #clouds > 1 then
      table.sort(clouds)
      return invalid("budget: the changes turning auto-renew on are priced in " .. #clouds
        .. " currencies (" .. table.concat(clouds, " and ") .. ": each cloud's own) and a budget never adds"
        .. " two currencies; use one budget per cloud (cloudrenew autorenew --cloud C --budget N)")
    end
  end
  if o.run_id ~= nil and (type(o.run_id) ~= "string" or o.run_id == "") then return invalid("run_id must be a string") end
  if not c.dry_run and type(o.audit_log) ~= "string" then
    return invalid("apply needs audit_log = PATH: each change is recorded before it is sent")
  end
  c.audit_log = o.audit_log
  return c
end

-- Read every change's row (flag, codes, region, price for its period) per cloud.
local function read(c)
  local rows, failed = {}, {}
  for cloud, cl in pairs(c.clients) do
    local groups = {}     -- period (on) or 0 (off, unpriced) -> ids
    for _, ch in ipairs(c.changes) do
      if ch.cloud == cloud then
        local k = ch.wanted and ch.period or 0
        groups[k] = groups[k] or {}
        table.insert(groups[k], ch.id)
      end
    end
    for k, ids in pairs(groups) do
      local got, err = expiring.lookup(cl, ids, { price = k > 0, period = k > 0 and k or nil })
      if not got then
        failed[cloud] = err
      else
        for _, id in ipairs(ids) do rows[cloud .. "|" .. id] = got[id] or false end
      end
    end
  end
  return rows, failed
end

local function err_table(e)
  return e and { code = e.code, message = e.message, request_id = e.request_id } or nil
end

local function product_key(it) return "autorenew:" .. (it.wanted and "on" or "off") end

-- One change: decide, then (apply) record, send, record.
local function one(c, log, it, row, spent)
  if row == false then it.decision = "not_found"; return end
  it.product, it.product_code, it.region, it.current = row.product, row.product_code, row.region, row.auto_renew
  it.route = SET[it.cloud].route
  if it.wanted then it.price, it.price_cents, it.currency = row.price, row.price_cents, row.currency end
  if log then   -- what the log already holds: never sent again
    local st, _, _, att = log:status(it.cloud, product_key(it), it.id, c.run_id)
    if st then
      it.resumed, it.decision = true, "change"
      if st == "unknown" and it.current == it.wanted then
        local ok = log:settle(att.intent.attempt, { outcome = "renewed", settled_by = "flag" })
        if ok then st, it.settled_by = "renewed", "flag" end
      end
      it.outcome = st == "renewed" and "applied" or "unknown"
      return
    end
  end
  if it.current == it.wanted then it.decision = "unchanged"; return end
  if not it.product_code or (it.cloud == "tencent" and not it.region) then
    it.decision = it.product_code and "no_region" or "not_found"
    return
  end
  if it.wanted and c.budget then
    if not it.price_cents then it.decision = "no_price"; return end
    if spent.cents + it.price_cents > c.budget then it.decision = "over_budget"; return end
  end
  it.decision = "change"
  if it.wanted and it.price_cents then spent.cents = spent.cents + it.price_cents end
  if c.dry_run then it.outcome = "planned"; return end
  local token = it.cloud == "volcengine" and ("cr-ar-" .. require("cloudrenew.core").random_hex(12)) or nil
  local attempt, lerr = log:intent{ cloud = it.cloud, product = product_key(it), id = it.id, run_id = c.run_id,
    region = it.region, period = it.wanted and it.period or nil, price = it.wanted and it.price or nil,
    client_token = token, product_code = it.product_code }
  if not attempt then
    it.outcome, it.error = "skipped", { code = "ClientError.AuditLog", message = tostring(lerr) }
    if it.wanted and it.price_cents then spent.cents = spent.cents - it.price_cents end
    return
  end
  it.attempt = attempt
  local ok, res, err = pcall(SET[it.cloud].send, c.clients[it.cloud], it, token)
  if not ok then res, err = nil, errors.client("Internal", "raised: " .. tostring(res), { outcome = "unknown" }) end
  if res then
    it.outcome, it.request_id = "applied", res.RequestId
  else
    it.outcome = (err.outcome == "not_executed" or err.outcome == "rejected") and "failed" or "unknown"
    it.error, it.request_id = err_table(err), err.request_id
    if it.outcome == "failed" and it.wanted and it.price_cents then spent.cents = spent.cents - it.price_cents end
  end
  log:result(attempt, { outcome = it.outcome == "applied" and "renewed" or it.outcome,
                        request_id = it.request_id, error = it.error })
end

-- Confirm what was applied by reading the flags back (one list per cloud).
local function confirm(c, log, items)
  local again = {}
  for _, it in ipairs(items) do
    if it.outcome == "applied" and it.attempt then
      again[it.cloud] = again[it.cloud] or {}
      table.insert(again[it.cloud], it.id)
    end
  end
  for cloud, ids in pairs(again) do
    local got = expiring.lookup(c.clients[cloud], ids, { price = false })
    for _, it in ipairs(items) do
      if it.cloud == cloud and it.outcome == "applied" and it.attempt then
        local row = got and got[it.id]
        it.confirmed = row ~= nil and row.auto_renew == it.wanted
        log:confirm(it.attempt, { outcome = "renewed", confirmed = it.confirmed })
      end
    end
  end
end

function M.run(o)
  local c, cerr = check(o)
  if not c then return nil, cerr end
  local log
  if not c.dry_run then
    local lerr
    log, lerr = audit.open(c.audit_log, { lock = true })
    if not log then return nil, errors.client("AuditLog", "autorenew: audit log: " .. tostring(lerr)) end
  end
  local rows, failed = read(c)
  if c.budget then   -- one cloud, but its answers may still name two currencies
    local cur, seen = {}, {}
    for _, ch in ipairs(c.changes) do
      local row = ch.wanted and rows[ch.cloud .. "|" .. ch.id]
      if row and row.price_cents then
        local k = row.currency or (ch.cloud .. " (unnamed)")
        if not seen[k] then seen[k] = true; cur[#cur + 1] = k end
      end
    end
    if #cur > 1 then
      if log then log:close() end
      table.sort(cur)
      return invalid("budget: the prices of what would be turned on are in " .. #cur .. " currencies ("
        .. table.concat(cur, ", ") .. ") and a budget never adds two currencies; nothing was changed")
    end
  end
  local items, spent = {}, { cents = 0 }
  local t = { changes = #c.changes, planned = 0, applied = 0, skipped = 0, failed = 0, unknown = 0, resumed = 0 }
  for i, ch in ipairs(c.changes) do
    local it = { cloud = ch.cloud, id = ch.id, wanted = ch.wanted, period = ch.period }
    items[i] = it
    if failed[ch.cloud] then
      it.decision, it.outcome, it.error = "unread", "failed", err_table(failed[ch.cloud])
    else
      one(c, log, it, rows[ch.cloud .. "|" .. ch.id], spent)
    end
    it.outcome = it.outcome or "skipped"
    t[it.outcome] = t[it.outcome] + 1
    if it.resumed then t.resumed = t.resumed + 1 end
  end
  if log then
    confirm(c, log, items)
    log:close()
  end
  t.committed_cents = spent.cents
  t.committed = money.format(spent.cents)
  return { items = items, totals = t, mode = c.dry_run and "plan" or "apply" }
end

function M.plan(o)
  if type(o) ~= "table" then return check(o) end
  local p = {}
  for k, v in pairs(o) do p[k] = v end
  p.dry_run = true
  return M.run(p)
end

function M.apply(o)
  if type(o) ~= "table" then return check(o) end
  local p = {}
  for k, v in pairs(o) do p[k] = v end
  p.dry_run = false
  return M.run(p)
end

return M

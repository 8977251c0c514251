-- Budget-guarded renewals: price every resource, decide in a stable order
-- against a per-resource cap and a running budget, then renew what fits,
-- concurrently and paced, writing an audit line before and after each renewal.
-- Money is integer cents throughout (cloudrenew.workflow.money).
local audit = require("cloudrenew.workflow.audit")
local confirm = require("cloudrenew.workflow.confirm")
local errors = require("cloudrenew.client.errors")
local map = require("cloudrenew.net.map")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")
local products = require("cloudrenew.products")
local settle = require("cloudrenew.workflow.settle")
local discover = require("cloudrenew.workflow.discover")
local pipeline = require("cloudrenew.workflow.pipeline")

local M = {}

local function invalid(msg)
  return nil, errors.client("InvalidParameter", "renew_if_under_budget: " .. msg)
end

local function is_client(c)
  return type(c) == "table" and (c.cloud == "tencent" or c.cloud == "volcengine")
    and type(c.call) == "function"
end

-- Resources -> rows { id =, row = } in input order; nil, message when malformed.
local function rows_of(product, resources, client)
  if type(resources) ~= "table" then return nil, "resources must be a list" end
  local p = products.get(product)
  local rows, seen = {}, {}
  for i, r in ipairs(resources) do
    local row, rerr = p.row(r, i, client)
    if not row then return nil, rerr end
    if seen[row.id] then
      return nil, string.format("resources[%d]: %s is listed twice (at %d too)", i, row.id, seen[row.id])
    end
    seen[row.id] = i
    rows[#rows + 1] = row
  end
  local n = 0
  for _ in pairs(resources) do n = n + 1 end
  if n ~= #rows then return nil, "resources must be a list (keys 1..n), not a map" end
  return rows
end

-- One number is one number: a caller's config read by cjson on Lua 5.3+ says
-- period = 1.0. A shallow copy with canonical numbers is all the run ever sees,
-- so audit keys, log lines, bodies and messages say 1 (the caller's table stays).
local function canonical(o)
  if type(o) ~= "table" then return o end
  local c = {}
  for k, v in pairs(o) do c[k] = v end
  for _, k in ipairs{ "period", "concurrency", "max_price", "budget" } do c[k] = num.canon(c[k]) end
  return c
end

M.MAX_CONCURRENCY = 1024

local function check(o)
  if type(o) ~= "table" then return invalid("takes one table of options") end
  local p = products.get(o.product)
  if not p then return invalid("product must be " .. products.say(products.names(), "or", true) .. ", got " .. tostring(o.product)) end
  if not is_client(o.client) then return invalid("client must be a cloudrenew.tencent{} or cloudrenew.volcengine{} client") end
  if o.client.cloud ~= p.cloud then
    return invalid(o.product .. " needs a " .. p.cloud .. " client, got a " .. o.client.cloud .. " one")
  end
  if not num.integral(o.period) or not p.periods[o.period] then
    return invalid("period must be a whole number of months that " .. o.product .. " accepts, got " .. num.show(o.period))
  end
  local caps = {}
  for _, name in ipairs{ "max_price", "budget" } do
    if o[name] ~= nil then
      caps[name] = money.cents(o[name], "down")
      if not caps[name] then
        return invalid(string.format("%s must be an amount from 0 to %d (number or decimal string), got %s",
          name, money.MAX, num.show(o[name])))
      end
    end
  end
  if p.caller_priced then
    if type(o.price) ~= "table" and type(o.price) ~= "function" then
      return invalid(o.product .. " has no price inquiry: pass price = { [" .. (p.id_name or "id")
        .. "] = amount } or a function(id, period)")
    end
  elseif o.price ~= nil then
    return invalid(o.product .. " prices come from the cloud's inquiry; price is for "
      .. products.say(products.names(nil, "caller_priced"), "and") .. " only")
  end
  local conc = num.int(o.concurrency or 8, 1, M.MAX_CONCURRENCY)
  if not conc then
    return invalid("concurrency must be an integer from 1 to " .. M.MAX_CONCURRENCY .. ", got " .. num.show(o.concurrency))
  end
  if o.run_id ~= nil and (type(o.run_id) ~= "string" or o.run_id == "") then
    return invalid("run_id must be a non-empty string")
  end
  if o.run_id ~= nil and (o.run_id:find("^%s") or o.run_id:find("%s$")) then
    return invalid(string.format("run_id must not begin or end with spaces (%q would be another run than %q)",
      o.run_id, (o.run_id:gsub("^%s+", ""):gsub("%s+$", ""))))
  end
  if o.audit_log ~= nil and not audit.is(o.audit_log)
      and (type(o.audit_log) ~= "string" or o.audit_log == "") then
    return invalid("audit_log must be a path or a log from cloudrenew.audit.open")
  end
  if o.on_progress ~= nil and type(o.on_progress) ~= "function" then return invalid("on_progress must be a function") end
  -- Confirmation (on by default) and settling (opt-in): cloudrenew.confirm, .settle.
  local cerr, serr
  o.confirm_opts, cerr = confirm.options(o.confirm)
  if o.confirm_opts == nil then return invalid(cerr) end
  if o.settle ~= nil and type(o.settle) ~= "boolean" then return invalid("settle must be true or false") end
  o.settle_after, serr = settle.settle_after(o.settle_after)
  if o.settle_after == false then return invalid(serr) end
  if o.select ~= nil then   -- discovery (cloudrenew.workflow.discover): a selector instead of, or besides, ids
    local ok, derr = discover.check(o.select, o.product, o.client.options and o.client.options.region)
    if not ok then return nil, derr end
  end
  local rows, rerr = rows_of(o.product, o.resources or (o.select ~= nil and {} or nil), o.client)
  if not rows then return invalid(rerr) end
  return p, rows, caps, conc
end

-- Check a renew_if_under_budget option table without sending anything:
-- true, or nil and the ClientError.InvalidParameter it would return.
function M.validate(o)
  local p, err = check(canonical(o))
  if not p then return nil, err end
  return true
end

-- Never raises: a broken progress printer (or a Redis hiccup keeping the
-- lease) must not stop a pipeline lane.
local function progress(o, phase, done, total)
  if o.ledger_ then pcall(o.ledger_.keepalive, o.ledger_) end    -- many hosts: hold the run's lease
  if o.on_progress then pcall(o.on_progress, phase, done, total) end
end

M.exiting = pipeline.exiting
M.pipeline = pipeline

local function totals_of(items)
  local t = { resources = #items, planned = 0, renewed = 0, failed = 0, unknown = 0, skipped = 0,
              no_price = 0, other_currency = 0, resumed = 0, planned_cents = 0, spent_cents = 0, unknown_cents = 0,
              confirmed = 0, unconfirmed = 0, settled = 0 }
  for _, it in ipairs(items) do
    if it.decision == "renew" then
      t.planned = t.planned + 1
      t.planned_cents = t.planned_cents + it.price_cents
    end
    if it.decision == "no_price" then t.no_price = t.no_price + 1 end
    if it.decision == "other_currency" then t.other_currency = t.other_currency + 1 end
    if it.resumed then t.resumed = t.resumed + 1 end
    if it.confirmed == true then t.confirmed = t.confirmed + 1 end
    if it.confirmed == false and it.outcome == "renewed" then t.unconfirmed = t.unconfirmed + 1 end
    if it.settled_by then t.settled = t.settled + 1 end
    local o = it.outcome
    if o == "renewed" or o == "failed" or o == "unknown" or o == "skipped" then t[o] = t[o] + 1 end
    if it.outcome == "renewed" then t.spent_cents = t.spent_cents + (it.price_cents or 0) end
    if it.outcome == "unknown" then t.unknown_cents = t.unknown_cents + (it.price_cents or 0) end
  end
  t.planned_amount = money.format(t.planned_cents)
  t.spent = money.format(t.spent_cents)
  t.unknown_amount = money.format(t.unknown_cents)
  return t
end

-- One report item: only the fields an item has. A constructor naming all 17
-- would size every item's hash for 32 entries, most of them empty (~940 bytes
-- per resource); assigned one by one, it is sized to what it holds.
local OPTIONAL = { "price_cents", "currency", "request_id", "order", "error", "expires_before",
                   "expires_after", "confirmed", "confirm_message", "settled_by", "settled_outcome" }
local function report_item(it)
  local r = { id = it.id, decision = it.decision, outcome = it.outcome }
  r.price = money.format(it.price_cents)
  for _, k in ipairs(OPTIONAL) do
    local v = it[k]
    if v ~= nil then r[k] = v end
  end
  if it.resumed then r.resumed = it.resumed end
  if it.row ~= nil then r.resource = it.row end
  return r
end

function M.renew_if_under_budget(o)
  o = canonical(o)
  local p, rows, caps, conc = check(o)
  local sel
  if p and o.select ~= nil then   -- checked first: a bad option sends nothing
    sel, rows = discover.select(o)
    if not sel then return nil, rows end
    o.resources = sel.resources
    p, rows, caps, conc = check(o)
  end
  if not p then return nil, rows end
  -- An open log (the CLI's, held across groups) stays open; a path is ours.
  local log, own = nil, false
  if audit.is(o.audit_log) then
    log = o.audit_log
  elseif o.audit_log then
    local err, busy
    log, err, busy = audit.open(o.audit_log, { lock = not o.dry_run })
    -- busy: another run holds the log (under nginx, the previous generation's
    -- worker still finishing its job after a reload): nothing was done, and
    -- err.busy lets a timer job log that quietly
    if not log then return nil, errors.client("AuditLog", err, { busy = busy and true or nil }) end
    own = true
  end
  local cloud = o.client.cloud
  if o.client.options.redis then   -- many hosts: the run's lease and ledger (cloudrenew.workflow.ledger)
    local lerr
    o.ledger_, lerr = require("cloudrenew.workflow.ledger").open(o.client, o.product, o.run_id, { peek = o.dry_run })
    if not o.ledger_ then
      if own then log:close() end
      return nil, lerr
    end
  end
  local settled = {}
  if o.settle and log and not o.dry_run then
    -- A later run: settle what the log leaves unknown for these resources first
    -- (a failed one is then priced and renewed like any other).
    map.map(rows, function(r)
      for _, s in ipairs(settle.resource(log, o.client, o.product, r.id,
          { same_run = true, run_id = o.run_id, settle_after = o.settle_after })) do
        if s.settled_by then settled[r.id] = s end
      end
    end, { concurrency = conc })
  end
  if o.settle and o.ledger_ and not o.dry_run then
    -- Many hosts: an intent only the Redis ledger knows (another host sent it,
    -- or died before it could) is settled by the same proofs as our own.
    map.map(rows, function(r)
      if log and log:status(cloud, o.product, r.id, o.run_id) then return end
      local s = o.ledger_:settle_remote(o.client, o.product, r.id, { settle_after = o.settle_after })
      if s and s.settled_by then settled[r.id] = s end
    end, { concurrency = conc })
  end
  local items = {}
  for i, r in ipairs(rows) do
    local it = { id = r.id, row = r.row, index = i }
    local status, intent, result = nil, nil, nil
    if log then status, intent, result = log:status(cloud, o.product, r.id, o.run_id) end
    if not status and o.ledger_ then status, intent = o.ledger_:resumed(r.id) end
    if status then
      -- Already renewed, or possibly renewed, in this log and run, whatever the
      -- period: never pay twice. Renewing again is a new run_id or log.
      it.resumed, it.decision, it.outcome = true, "renew", status
      if intent.period ~= nil and intent.period ~= o.period then
        log.warnings[#log.warnings + 1] = string.format("%s: %s for period %d in this log (run_id %s), so not sent"
          .. " for period %d; to renew it again this cycle, use a new run_id or log", r.id,
          status == "renewed" and "already renewed" or "possibly renewed", intent.period,
          o.run_id or "none", o.period)
      end
      it.price_cents = money.cents(intent.price, "up")
      it.currency, it.request_id, it.order = intent.currency, result and result.request_id, result and result.order
      it.expires_before = intent.expires_before
      if status == "unknown" then
        it.error = errors.client("Unknown", "an earlier run sent this renewal and its outcome is unknown"
          .. " (audit attempt " .. tostring(intent.attempt) .. ", " .. tostring(intent.time)
          .. "): check the " .. cloud .. " console before renewing it again", { outcome = "unknown" })
      end
    end
    if settled[r.id] then
      it.settled_by, it.expires_after = settled[r.id].settled_by, settled[r.id].expires_after
      it.settled_outcome = settled[r.id].outcome
    end
    items[i] = it
  end
  -- Price, decide, read, renew and confirm, overlapping (cloudrenew.workflow.pipeline).
  pipeline.run(o, p, items, log, caps, conc, {
    progress = function(phase, done, total) progress(o, phase, done, total) end,
    on_planned = function(it)
      if not log then return end
      -- the same resource renewed (or maybe) in this log under another run_id: say so
      for _, a in ipairs(log:history(cloud, o.product, it.id)) do
        local was = audit.effective(a)
        if a.intent.run_id ~= o.run_id and (was == "renewed" or was == "unknown") then
          log.warnings[#log.warnings + 1] = string.format("%s: this log already holds a %s renewal of it under"
            .. " run_id %s (attempt %s, %s); run_id %s renews it again", it.id, was,
            a.intent.run_id and string.format("%q", a.intent.run_id) or "none", tostring(a.intent.attempt),
            tostring(a.intent.time), o.run_id and string.format("%q", o.run_id) or "none")
          break
        end
      end
    end })
  if o.ledger_ then o.ledger_:close(log) end
  if own then log:close() end
  local report = { cloud = cloud, product = o.product, period = o.period, dry_run = o.dry_run and true or false,
                   run_id = o.run_id, items = {}, totals = totals_of(items),
                   audit = log and { path = log.path, warnings = log.warnings,
                     -- a copy: the log keeps counting into its own table
                     writes = { count = log.writes.count, lines = log.writes.lines,
                                seconds = log.writes.seconds, longest = log.writes.longest } } or nil }
  for i, it in ipairs(items) do
    report.items[i] = report_item(it)
    report.currency = report.currency or it.currency
  end
  if sel then discover.annotate(report, sel, o.period) end
  return report
end

return M

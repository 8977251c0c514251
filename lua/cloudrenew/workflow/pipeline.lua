-- The renewal pipeline (issue 25): pricing, deciding, reading the expiry
-- before, renewing and confirming overlap instead of running one after the
-- other, so a fleet job runs at the rate of its slowest action.
--   price lanes    price batches in list order (a rejected batch is halved)
--   decide         in list order, as soon as resources 1..i are priced: the
--                  same decisions and budget arithmetic as deciding at the end
--   read lanes     the expiry before sending, many ids per read request, at
--                  most AHEAD x concurrency resources ahead of the renewals
--   renew lanes    ledger claim, intent (durable first), send, result
--   confirm lane   polls every accepted renewal in shared read requests, off
--                  the renewal lanes, at most one round per confirm.interval
-- Lanes run as one cloudrenew.map, each waiting on the others' queues.
local confirm = require("cloudrenew.workflow.confirm")
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local lanes = require("cloudrenew.workflow.lanes")
local map = require("cloudrenew.net.map")
local money = require("cloudrenew.workflow.money")
local settle = require("cloudrenew.workflow.settle")

local M = {}
local unpack = table.unpack or unpack

M.AHEAD = 2        -- expiries read ahead of the renewals, x concurrency: bounds how old a read is
M.MAX_LANES = { price = 256, read = 64, renew = 640 }   -- within map's 1024 in all

local protect, idle, notify = lanes.protect, lanes.idle, lanes.notify
local queue, push, size, take = lanes.queue, lanes.push, lanes.size, lanes.take

local function raised(stage, e)
  return errors.client("Internal", stage .. " raised: " .. tostring(e), { outcome = "unknown" })
end

-- Under nginx, a worker told to exit (reload, quit) starts no new renewal: the
-- ones already sent finish (their intent and result are written); the rest are
-- skipped, nothing sent, for the next run (the new workers') to renew.
function M.exiting()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.worker) ~= "table" or type(ngx.worker.exiting) ~= "function" then return false end
  local ok, yes = pcall(ngx.worker.exiting)
  return ok and yes == true
end

local function stop(it)
  it.outcome = "skipped"
  it.error = errors.client("Exiting", "not sent: this nginx worker is exiting (reload or quit); the next run renews it")
end

-- ---- pricing and deciding ----------------------------------------------------

-- ask(batch) -> answer, err; then use(batch, answer, err). A batch the cloud
-- rejects as a whole (say one unknown id among twenty) is halved until the
-- culprit stands alone, so one bad id never costs the others their answer.
local function halving(batch, ask, use)
  local got, err = ask(batch)
  if not got and #batch > 1 and err and err.outcome == "rejected" and not err.retryable then
    local half = math.floor(#batch / 2)
    halving({ unpack(batch, 1, half) }, ask, use)
    return halving({ unpack(batch, half + 1, #batch) }, ask, use)
  end
  return use(batch, got, err)
end

local function priced_batch(batch, prices, err)
  for _, it in ipairs(batch) do
    local pr = prices and prices[it.id]
    if pr and pr.cents then
      it.price_cents, it.currency, it.inquiry_request_id = pr.cents, pr.currency, pr.request_id
    elseif pr and pr.error then   -- answered, but not with a price we can trust
      it.error = pr.error
    else
      it.error = err or errors.client("BadResponse", "the price answer did not list " .. it.id)
    end
    it.priced = true
  end
end

local function price_batch(S, batch)
  local o, p = S.o, S.p
  halving(batch, function(b) return p.inquire(o.client, b, o.period, o.price) end,
    priced_batch)
  S.priced = S.priced + #batch
  S.progress("inquire", S.priced, S.to_price)
end

-- Stable order: the first resources listed get the budget first; a later,
-- cheaper one may still fit after a dearer one did not.
local function decide_one(S, it)
  local caps = S.caps
  if not it.price_cents then
    it.decision = "no_price"
  elseif (caps.budget or caps.max_price) and it.currency and S.currency and it.currency ~= S.currency then
    -- a cap is one amount in one currency: never add (or compare) another one
    -- (volc_billing prices many Products, each answer naming its own Currency)
    it.decision = "other_currency"
  elseif caps.max_price and it.price_cents > caps.max_price then
    it.decision = "over_max_price"
  elseif caps.budget and S.committed + it.price_cents > caps.budget then
    it.decision = "over_budget"
  else
    it.decision = "renew"
    S.committed = S.committed + it.price_cents
    S.currency = S.currency or it.currency
  end
end

-- Decide every item whose predecessors are all decided and that is priced;
-- queue the renewals.
local function advance(S)
  local items = S.items
  while S.next_decide <= #items do
    local it = items[S.next_decide]
    if not (it.resumed or it.priced) then return end
    S.next_decide = S.next_decide + 1
    if not it.resumed then
      decide_one(S, it)
      if it.decision ~= "renew" then
        it.outcome = "skipped"
      else
        it.outcome = "planned"
        S.on_planned(it)
        if not S.o.dry_run then
          S.planned = S.planned + 1
          push(S.readable and S.to_read or S.ready, it)
        end
      end
    end
  end
end

local function price_lane(S)
  while true do
    local batch = take(S.batches)
    if not batch then return end
    local ok, e = protect(price_batch, S, batch)
    if not ok then   -- a bug: no guessing a price
      for _, it in ipairs(batch) do
        if not it.price_cents then it.error = raised("pricing", e) end
        it.priced = true
      end
    end
    ok, e = protect(advance, S)
    if not ok then S.broken = raised("deciding", e) end
    notify(S)
  end
end

-- ---- the expiry before sending -------------------------------------------------

-- Read the expiries of batch (items), halving a read the cloud rejects.
local function read_before(S, batch)
  halving(batch, function(b)
    local ids = {}
    for i, it in ipairs(b) do ids[i] = it.id end
    return confirm.read_many(S.o.client, S.o.product, ids)
  end, function(b, got)
    for _, it in ipairs(b) do
      local st = got and got[it.id]
      it.expires_before = st and st.found and st.expires_at or nil
    end
  end)
end

local function read_lane(S)
  while true do
    local room = math.min(S.read_batch, S.ahead - size(S.ready) - S.reading, size(S.to_read))
    if room > 0 then
      local batch = {}
      for i = 1, room do batch[i] = take(S.to_read) end
      S.reading = S.reading + #batch
      if not M.exiting() then protect(read_before, S, batch) end
      S.reading = S.reading - #batch
      for _, it in ipairs(batch) do push(S.ready, it) end
      notify(S)
    elseif (size(S.to_read) == 0 and S.next_decide > #S.items) or S.broken then
      return
    else
      idle(S)
    end
  end
end

-- ---- renewing -------------------------------------------------------------------

local function renew_one(S, it)
  local o, p, log = S.o, S.p, S.log
  if M.exiting() then return stop(it) end
  local token = p.token and ("cr-" .. core.random_hex(16)) or nil
  local attempt
  -- Many hosts: claim it in the Redis ledger as late as possible, right before
  -- the send (cloudrenew.workflow.ledger sets it.outcome when another host has
  -- it or Redis refuses: nothing sent). The claim carries the expiry read and
  -- the token, so any host can settle it.
  local lat = o.ledger_ and o.ledger_:claim(it, o, token)
  if o.ledger_ and not lat then return end
  if log then
    local aerr
    local fields = { cloud = S.cloud, product = o.product, id = it.id, period = o.period,
      price = money.format(it.price_cents), currency = it.currency, run_id = o.run_id, client_token = token,
      expires_before = it.expires_before, region = S.where.region, host = S.where.host }
    -- what the product needs to send it again with the same parameters (its Product code)
    for k, v in pairs(p.record and p.record(it) or {}) do if fields[k] == nil then fields[k] = v end end
    attempt, aerr = log:intent(fields)
    if not attempt then
      it.outcome = "failed"
      -- nothing was sent; the log refuses every later intent of this run
      it.error = errors.client("AuditLog", "not sent: " .. tostring(aerr))
      if lat then o.ledger_:settle(it, lat, o) end
      return
    end
  end
  local res, err, order = p.renew(o.client, it, o.period, token)
  -- an order number is the server's text: printable and bounded here, for every product
  if type(order) == "string" then order = errors.text(order, 64) end
  if res then
    it.outcome, it.request_id, it.order = "renewed", res.RequestId, order
  else
    it.outcome = err.outcome == "unknown" and "unknown" or "failed"
    it.error, it.request_id = err, err.request_id
  end
  if log then
    local ok, aerr = log:result(attempt, { cloud = S.cloud, product = o.product, id = it.id, period = o.period,
      run_id = o.run_id, outcome = it.outcome, request_id = it.request_id, order = it.order,
      error = it.error and { code = it.error.code, message = it.error.message } or nil })
    if not ok then log.warnings[#log.warnings + 1] = "result for " .. it.id .. " not recorded: " .. tostring(aerr) end
  end
  if lat then o.ledger_:settle(it, lat, o) end
  if it.outcome == "renewed" and o.confirm_opts then
    S.to_confirm(it, attempt)
  elseif it.outcome == "unknown" and o.settle and log then
    -- The same run, after its retries: settle now if proof is already there.
    -- (never settle_after here: the cloud may still be processing what this run sent)
    local r = settle.attempt(log, o.client, log.attempts[attempt], {})
    if r.outcome ~= "unknown" then
      it.outcome, it.settled_by, it.expires_after = r.outcome, r.settled_by, r.expires_after
      it.order = it.order or r.order
      if r.outcome == "renewed" then it.error = nil end
    end
  end
end

local function renew_lane(S)
  while true do
    local it = take(S.ready)
    if it then
      it.taken = true
      local ok, e = protect(renew_one, S, it)
      -- renew_one raised (a bug) after its intent may have been written: it
      -- may have sent the renewal, so it is unknown, never failed.
      if not ok and it.outcome == "planned" then it.outcome, it.error = "unknown", raised("renewing", e) end
      S.renewed = S.renewed + 1
      notify(S)   -- room ahead for the read lanes
      S.progress("renew", S.renewed, S.next_decide > #S.items and S.planned
        or S.planned + #S.items - S.next_decide + 1)
    elseif (S.next_decide > #S.items and size(S.to_read) == 0 and S.reading == 0) or S.broken then
      break
    else
      idle(S)
    end
  end
  S.renew_lanes = S.renew_lanes - 1
  notify(S)
end

-- ---- confirming -----------------------------------------------------------------

-- Pending confirmations share read requests: a round reads every pending
-- renewal, read_batch ids a request. Rounds start confirm.interval apart (x1.5
-- after each round that settled nothing, at most 8 x interval, as polls of one
-- resource back off), plus one right after the last renewal, so the run's tail
-- is a round trip, not an interval. Each renewal keeps its own deadline.
local function confirm_round(S, due)
  local o, opts = S.o, S.o.confirm_opts
  local settled = 0
  for i = 1, #due, S.read_batch do
    local batch, ids = {}, {}
    for j = i, math.min(i + S.read_batch - 1, #due) do
      batch[#batch + 1] = due[j]
      ids[#ids + 1] = due[j].it.id
    end
    local got, err = confirm.read_many(o.client, o.product, ids)
    local now = core.monotonic()
    local lines, its = {}, {}
    for _, rec in ipairs(batch) do
      local it = rec.it
      local final = confirm.poll(rec.out, o.product, it.id, rec.before, it.request_id, got and got[it.id], err)
      if final then settled = settled + 1 end
      if not final and now >= rec.deadline then confirm.expire(rec.out, opts); final = true end
      if final then
        rec.done = true
        local _, line = confirm.finish(S.log, rec.attempt, o, it, rec.out, true)
        if S.log and rec.attempt then lines[#lines + 1], its[#its + 1] = { rec.attempt, line }, it end
      end
    end
    if #lines > 0 then confirm.record(S.log, lines, its) end   -- the round's verdicts: one write
  end
  return settled
end

local function confirm_lane(S)
  local opts = S.o.confirm_opts
  local round_at, delay, tail_done, seen = 0, opts.interval, false, 0
  while true do
    local pending = {}
    for _, rec in ipairs(S.pending) do if not rec.done then pending[#pending + 1] = rec end end
    S.pending = pending   -- (S.to_confirm appends to whichever list S.pending is)
    local finished = S.renew_lanes == 0
    if #pending == 0 and finished then return end
    local now = core.monotonic()
    local tail = finished and not tail_done and #pending > 0
    local soonest = math.huge   -- a deadline may come before the next round
    for _, rec in ipairs(pending) do if rec.deadline < soonest then soonest = rec.deadline end end
    if #pending > 0 and (now >= round_at or now >= soonest or tail) then
      if tail then tail_done = true end
      if S.added ~= seen then delay, seen = opts.interval, S.added end   -- new renewals: poll at the base rate
      local ok, settled = protect(confirm_round, S, pending)
      if ok and settled == 0 then delay = math.min(delay * confirm.BACKOFF, opts.interval * confirm.BACKOFF_CAP)
      else delay = opts.interval end
      round_at = core.monotonic() + delay
      if S.o.ledger_ then pcall(S.o.ledger_.keepalive, S.o.ledger_) end
    else
      idle(S, #pending > 0 and math.max(0.001, math.min(round_at, soonest) - now) or nil)
    end
  end
end

-- ---- the run --------------------------------------------------------------------

-- items: every resource in list order (resumed ones are decided already).
-- hooks: progress(phase, done, total), on_planned(it). Returns when every
-- item has its decision and, unless o.dry_run, its outcome.
function M.run(o, p, items, log, caps, conc, hooks)
  local S = { o = o, p = p, log = log, caps = caps, items = items, cloud = o.client.cloud,
    next_decide = 1, committed = 0, priced = 0, to_price = 0, planned = 0, renewed = 0, reading = 0,
    pending = {}, added = 0, waiters = {},
    progress = hooks.progress, on_planned = hooks.on_planned,
    readable = confirm.readable[o.product] and true or false, read_batch = confirm.read_batch(o.product) }
  S.batches, S.to_read, S.ready = queue(S), queue(S), queue(S)
  for _, it in ipairs(items) do
    if it.resumed then   -- what this run already spent counts, in its currency
      S.committed = S.committed + (it.price_cents or 0)
      S.currency = S.currency or it.currency
    end
  end
  local todo = {}
  for _, it in ipairs(items) do if not it.resumed then todo[#todo + 1] = it end end
  S.to_price = #todo
  for i = 1, #todo, p.batch do
    local b = {}
    for j = i, math.min(i + p.batch - 1, #todo) do b[#b + 1] = todo[j] end
    push(S.batches, b)
  end
  local lanes = {}
  local function add(n, f)
    for _ = 1, n do lanes[#lanes + 1] = f end
  end
  add(math.min(conc, size(S.batches), M.MAX_LANES.price), price_lane)
  advance(S)   -- nothing to price (all resumed): decided already
  if not o.dry_run then
    S.where = settle.place(o.client, o.product)   -- recorded in each intent; settling asks exactly there
    S.ahead = math.max(M.AHEAD * conc, 1)
    local renewers = math.min(conc, #todo, M.MAX_LANES.renew)
    S.renew_lanes = renewers
    add(renewers, renew_lane)
    if S.readable then
      -- batched reads need few lanes; one id per read needs as many as renewals
      add(math.min(S.read_batch > 1 and 2 or conc, #todo, M.MAX_LANES.read), read_lane)
    end
    if o.confirm_opts and renewers > 0 then
      S.to_confirm = function(it, attempt)
        local before = confirm.parse_time(it.expires_before)
        local out = confirm.cannot(o.product, before, it.request_id)
        if out then return confirm.finish(log, attempt, o, it, out) end
        local now = core.monotonic()
        S.added = S.added + 1
        S.pending[#S.pending + 1] = { it = it, attempt = attempt, before = before,
          deadline = now + o.confirm_opts.timeout, out = { confirmed = false, outcome = "renewed", polls = 0 } }
        notify(S)
      end
      add(1, confirm_lane)
    end
  end
  if #lanes == 0 then return end
  if log then log.group = true end
  local _, errs = map.map(lanes, function(f) return f(S) end, { concurrency = #lanes })
  if log then log.group = nil end
  local why = S.broken
  for i in ipairs(lanes) do why = why or errs[i] end
  -- What a bug left behind: undecided is not priced; planned and taken by a
  -- renewal lane may have been sent (unknown); planned and never taken was not.
  for _, it in ipairs(items) do
    if not it.resumed and not it.decision then
      it.decision, it.outcome = "no_price", "skipped"
      it.error = it.error or why or raised("the pipeline", "left it undecided")
    elseif it.outcome == "planned" and not o.dry_run then
      it.outcome = it.taken and "unknown" or "skipped"
      it.error = why or raised("the pipeline", "left it planned")
    end
  end
end

return M

-- Renewed means the expiry moved. Reads a resource through its product's read
-- (cloudrenew.products: expiry, auto-renew flag, latest operation) and, after a
-- renewal was accepted, polls until the product's verdict proves it: the expiry
-- advanced past the one observed before sending (every product), or what the
-- product can follow of the renewal itself (cvm: LatestOperationRequestId is the
-- renewal's RequestId with LatestOperationState SUCCESS; FAILED is a failure). Polls are ordinary paced calls and wait through
-- runtime.sleep, so inside cloudrenew.map they run concurrently.
local base = require("cloudrenew.products.base")
local core = require("cloudrenew.core")
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")
local products = require("cloudrenew.products")
local runtime = require("cloudrenew.net.runtime")

local M = {}

M.DEFAULT = { timeout = 120, interval = 2 }
M.MAX_TIMEOUT, M.MAX_INTERVAL = 3600, 300
-- Backoff between polls: interval, x1.5 each time, at most BACKOFF_CAP x interval.
M.BACKOFF, M.BACKOFF_CAP = 1.5, 8

-- confirm option -> { timeout, interval }, false (off), or nil, message.
function M.options(v)
  if v == nil or v == true then return { timeout = M.DEFAULT.timeout, interval = M.DEFAULT.interval } end
  if v == false then return false end
  if type(v) ~= "table" then return nil, "confirm must be true, false or { timeout =, interval = }, got " .. num.show(v) end
  local o = {}
  for k in pairs(v) do
    if k ~= "timeout" and k ~= "interval" then return nil, "confirm." .. tostring(k) .. " is not an option (timeout, interval)" end
  end
  for _, k in ipairs{ "timeout", "interval" } do
    local x = num.canon(v[k] == nil and M.DEFAULT[k] or v[k])
    local max = k == "timeout" and M.MAX_TIMEOUT or M.MAX_INTERVAL
    if not num.finite(x) or x < 0 or x > max or (k == "interval" and x <= 0) then
      return nil, string.format("confirm.%s must be a number of seconds in %s, %d], got %s", k,
        k == "interval" and "(0" or "[0", max, num.show(v[k]))
    end
    o[k] = x
  end
  return o
end

-- ---- time ------------------------------------------------------------------

-- The clouds' times through cloudrenew.dates (strict: "...Z", "...+08:00", and
-- cwp's zone-less Beijing time only when the zone is named): Unix seconds or nil.
function M.parse_time(s, zone_hours) return (dates.parse(s, zone_hours)) end

-- Unix seconds -> the canonical text the log and reports use ("...Z", UTC).
M.format_time = dates.format

-- ---- reading a resource ----------------------------------------------------

local function bad(action, msg)
  return errors.client("BadResponse", action .. ": " .. msg, { action = action, outcome = "not_executed" })
end

local function list_of(res, field, action)
  local l = type(res) == "table" and res[field]
  if type(l) ~= "table" then return nil, bad(action, "answered without a " .. field .. " list") end
  return l
end

-- Each product's read (its module's `read`, cloudrenew.products): one request
-- answers up to `batch` ids (the documented maximum of its id list), parse(x)
-- turns one listed entry into a state: { found, expires (Unix s), expires_at
-- (canonical text), auto_renew (bool|nil), renew_flag, prepaid (bool|nil), latest
-- = { operation, state, request_id, message } }. An id the answer does not list is
-- { found = false }.
local function reader(product)
  local p = products.get(product)
  return p and p.read
end

-- How many ids one read request takes (1 for a product without a read).
function M.read_batch(product)
  local r = reader(product)
  return r and r.batch or 1
end

-- The auto-renew flag of a resource whose read has none (a product's auto_renew:
-- ecs asks billing): true, false or nil (unknown). Never raises.
function M.auto_renew(client, product, id)
  local p = products.get(product)
  if not (p and p.auto_renew) then return nil end
  local ok, v = pcall(p.auto_renew, client, id)
  if ok and type(v) == "boolean" then return v end
  return nil
end

local function read_set(r, client, ids)
  local res, err = r.call(client, ids)
  if not res then return nil, err end
  local out = {}
  if r.one then
    out[ids[1]] = r.one(res, ids[1])
    return out
  end
  local set, lerr = list_of(res, r.field, r.action)
  if not set then return nil, lerr end
  local want = {}
  for _, id in ipairs(ids) do want[id] = true end
  for _, x in ipairs(set) do
    local id = type(x) == "table" and x[r.key]
    if type(id) == "string" and want[id] and not out[id] then out[id] = r.parse(x) end
  end
  for _, id in ipairs(ids) do out[id] = out[id] or { found = false } end
  return out
end

-- Read up to read_batch(product) resources in one request: { [id] = state },
-- or nil, err (the whole read failed). Never raises.
function M.read_many(client, product, ids)
  local r = reader(product)
  if not r then return nil, errors.client("InvalidParameter", "no read action for " .. tostring(product)) end
  if #ids > r.batch then
    return nil, errors.client("InvalidParameter", string.format("%s reads take at most %d ids", product, r.batch))
  end
  local ok, out, err = pcall(read_set, r, client, ids)
  if not ok then return nil, errors.client("Internal", "reading " .. tostring(ids[1]) .. " raised: " .. tostring(out)) end
  if out then
    for _, st in pairs(out) do
      if st.expires then st.expires_at = M.format_time(st.expires) end
    end
  end
  return out, err
end

-- readable[product]: true when the product has a read (confirmed and settled by
-- it); asked of the registry each time, so a product registered later counts.
M.readable = setmetatable({}, { __index = function(_, k) return reader(k) and true or nil end })

-- Read one resource: state (see reader) or nil, err. Never raises.
function M.read(client, product, id)
  local out, err = M.read_many(client, product, { id })
  if not out then return nil, err end
  return out[id]
end

-- ---- confirming ------------------------------------------------------------

-- What one read says about a renewal sent with expiry `before` (Unix s or nil)
-- and answered with request id `rid`: a verdict table, or nil (not yet).
function M.verdict(product, st, before, rid)
  local p = products.get(product)
  return ((p and p.verdict) or base.expiry_verdict)(st, before, rid)
end

-- Poll until a verdict, a read that can never succeed, or opts.timeout.
-- Returns { confirmed = bool, outcome = "renewed"|"failed", expires_after,
-- by, message, polls }. outcome stays "renewed" when unconfirmed: the cloud
-- accepted it, so it is never sent again.
function M.confirm(client, product, id, before, rid, opts)
  local out = M.cannot(product, before, rid)
  if out then return out end
  out = { confirmed = false, outcome = "renewed", polls = 0 }
  local deadline = core.monotonic() + opts.timeout
  local delay = opts.interval
  while true do
    local st, err = M.read(client, product, id)
    if M.poll(out, product, id, before, rid, st, err) then return out end
    local left = deadline - core.monotonic()
    if left <= 0 then break end
    runtime.sleep(math.min(delay, left))
    delay = math.min(delay * M.BACKOFF, opts.interval * M.BACKOFF_CAP)
  end
  return M.expire(out, opts)
end

-- No verdict in time: out says so (outcome stays "renewed").
function M.expire(out, opts)
  out.message = string.format("not confirmed within %gs: %s", opts.timeout, out.message)
  return out
end

-- What one read (st, or nil, err) means for confirmation out: true when it is
-- final (a verdict, or a read that can never succeed), false to ask again.
function M.poll(out, product, id, before, rid, st, err)
  out.polls = out.polls + 1
  if st and st.found then
    out.expires_after = st.expires_at
    local v = M.verdict(product, st, before, rid)
    if v then
      out.confirmed, out.outcome, out.by, out.message = v.confirmed, v.outcome, v.by, v.message
      return true
    end
    out.message = st.latest and st.latest.request_id == rid and st.latest.state
      and ("LatestOperationState still " .. st.latest.state) or "the expiry has not moved yet"
    return false
  elseif st then
    out.message = "the read API does not list " .. id
    return true
  end
  out.message = "read failed: " .. tostring(err)
  return not (err and err.retryable)
end

-- A confirmation that cannot start: no expiry before and no request id to
-- follow (nil when it can).
function M.cannot(product, before, rid)
  local p = products.get(product)
  if not before and not (p and p.tracks_request and rid) then
    return { confirmed = false, outcome = "renewed", polls = 0,
             message = "no expiry was read before sending, so there is nothing to compare with" }
  end
end

-- ---- the workflow's hooks ---------------------------------------------------

-- The expiry to record in the intent (canonical text), or nil when the
-- product has no read or the read failed (the renewal still goes out; it is
-- then confirmed by request id (cvm) or reported unconfirmed).
function M.before(client, product, id)
  if not reader(product) then return nil end
  local st = M.read(client, product, id)
  return st and st.found and st.expires_at or nil
end

-- After an accepted renewal of item `it` (attempt in `log`, may be nil):
-- poll, write the confirm line, and set it.confirmed, it.expires_after and,
-- for a CVM FAILED, it.outcome = "failed" with the cloud's message.
function M.after(log, attempt, o, it, opts)
  return M.finish(log, attempt, o, it,
    M.confirm(o.client, o.product, it.id, M.parse_time(it.expires_before), it.request_id, opts))
end

-- Record confirmation c (as M.confirm returns it) of item `it`: see M.after.
-- defer: only set the item's fields and return the confirm line's fields
-- (the caller writes many at once with M.record).
function M.finish(log, attempt, o, it, c, defer)
  it.confirmed, it.expires_after, it.confirmed_by = c.confirmed, c.expires_after, c.by
  local err
  if c.outcome == "failed" then
    it.outcome = "failed"
    err = { code = "RenewInstances.FAILED", message = c.message }
    it.error = errors.client("RenewalFailed", "RenewInstances was accepted, then FAILED: " .. tostring(c.message),
      { outcome = "rejected", request_id = it.request_id, action = "RenewInstances" })
  elseif not c.confirmed then
    it.confirm_message = c.message
  end
  local line = { cloud = o.client.cloud, product = o.product, id = it.id, run_id = o.run_id,
    confirmed = c.confirmed, outcome = c.outcome, expires_after = c.expires_after, error = err }
  if log and attempt and not defer then M.record(log, { { attempt, line } }, { it }) end
  return c, line
end

-- Write confirm lines { { attempt, fields } } of items its (one write), with
-- a warning for each the log refuses.
function M.record(log, lines, its)
  for i, r in ipairs(log:confirm_many(lines)) do
    if not r[1] then log.warnings[#log.warnings + 1] = "confirmation of " .. its[i].id .. " not recorded: " .. tostring(r[2]) end
  end
end

return M

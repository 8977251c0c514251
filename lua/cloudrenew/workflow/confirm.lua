-- Renewed means the expiry moved. Reads a resource through its cloud's read
-- API (expiry, auto-renew flag, CVM's latest operation) and, after a renewal
-- was accepted, polls until the read proves it: CVM's LatestOperationRequestId
-- is the renewal's RequestId with LatestOperationState SUCCESS (FAILED is a
-- failure), or -- every product -- the expiry advanced past the one observed
-- before sending. Polls are ordinary paced calls and wait through
-- runtime.sleep, so inside cloudrenew.map they run concurrently.
local core = require("cloudrenew.core")
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")
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

local function str(v) return type(v) == "string" and v ~= "" and v or nil end
-- v == want as a boolean, or nil when v is not a string (the field was absent or null).
local function is(v, want)
  if str(v) == nil then return nil end
  return v == want
end
-- yes -> true, no -> false, anything else -> nil (never `x and false or nil`).
local function either(v, yes, no)
  if v == yes then return true end
  if v == no then return false end
  return nil
end

local function bad(action, msg)
  return errors.client("BadResponse", action .. ": " .. msg, { action = action, outcome = "not_executed" })
end

local function list_of(res, field, action)
  local l = type(res) == "table" and res[field]
  if type(l) ~= "table" then return nil, bad(action, "answered without a " .. field .. " list") end
  return l
end

-- Each reader(c, id) -> state or nil, err. state = { found, expires (Unix s),
-- expires_at (canonical text), auto_renew (bool|nil), renew_flag, prepaid
-- (bool|nil), latest = { operation, state, request_id, message } (cvm) }.
local READ = {}

function READ.cvm(c, id)
  local res, err = c:call("cvm", "2017-03-12", "DescribeInstances", { InstanceIds = { id } }, { idempotent = true })
  if not res then return nil, err end
  local set, lerr = list_of(res, "InstanceSet", "DescribeInstances")
  if not set then return nil, lerr end
  for _, x in ipairs(set) do
    if type(x) == "table" and x.InstanceId == id then
      return { found = true, expires = M.parse_time(x.ExpiredTime), renew_flag = str(x.RenewFlag),
        auto_renew = is(x.RenewFlag, "NOTIFY_AND_AUTO_RENEW"), prepaid = is(x.InstanceChargeType, "PREPAID"),
        -- server text reaches logs and terminals: printable and bounded (errors.text)
        latest = { operation = errors.text(str(x.LatestOperation), 64), state = errors.text(str(x.LatestOperationState), 32),
                   request_id = str(x.LatestOperationRequestId), message = errors.text(str(x.LatestOperationErrorMsg)) } }
    end
  end
  return { found = false }
end

function READ.ecs(c, id)
  local res, err = c:call("ecs", "2020-04-01", "DescribeInstances", { InstanceIds = { id } },
                          { method = "GET", idempotent = true })
  if not res then return nil, err end
  local set, lerr = list_of(res, "Instances", "DescribeInstances")
  if not set then return nil, lerr end
  for _, x in ipairs(set) do
    if type(x) == "table" and x.InstanceId == id then
      return { found = true, expires = M.parse_time(x.ExpiredAt),
        prepaid = is(x.InstanceChargeType, "PrePaid") }
    end
  end
  return { found = false }
end

-- ECS's own read has no renewal flag; billing's does (status only: it lags 3-5 s).
function M.ecs_renew_type(c, id)
  local res, err = c:call("billing", "2022-01-01", "ListAvailableInstances",
                          { Product = "ECS", InstanceIDs = { id }, MaxResults = 1 }, { idempotent = true })
  if not res then return nil, err end
  for _, x in ipairs(type(res.InstanceList) == "table" and res.InstanceList or {}) do
    if type(x) == "table" and x.InstanceID == id then return str(x.RenewType) end
  end
  return nil
end

function READ.teo(c, id)
  local res, err = c:call("teo", "2022-09-01", "DescribePlans",
                          { Filters = { { Name = "plan-id", Values = { id } } } }, { idempotent = true })
  if not res then return nil, err end
  local set, lerr = list_of(res, "Plans", "DescribePlans")
  if not set then return nil, lerr end
  for _, x in ipairs(set) do
    if type(x) == "table" and x.PlanId == id then
      return { found = true, expires = M.parse_time(x.ExpiredTime),
        auto_renew = either(x.AutoRenewal, true, false), prepaid = either(x.PayMode, 1, 0) }
    end
  end
  return { found = false }
end

-- Host Security: yunjing renews, cwp knows the deadline (Beijing time, no zone).
function READ.hspro(c, id)
  local res, err = c:call("cwp", "2018-02-28", "DescribeMachineInfo", { Quuid = id }, { idempotent = true })
  if not res then return nil, err end
  local m = res   -- the machine's fields are the answer's own (tccli cwp DescribeMachineInfoResponse)
  if m.Quuid ~= nil and m.Quuid ~= id then return { found = false } end
  return { found = true, expires = M.parse_time(m.ProVersionDeadline, 8),
    prepaid = either(m.PayMode, "PREPAY", "POSTPAY") }
end

M.readable = { cvm = true, ecs = true, teo = true, hspro = true }

-- Read one resource: state (see READ) or nil, err. Never raises.
function M.read(client, product, id)
  local f = READ[product]
  if not f then return nil, errors.client("InvalidParameter", "no read action for " .. tostring(product)) end
  local ok, st, err = pcall(f, client, id)
  if not ok then return nil, errors.client("Internal", "reading " .. tostring(id) .. " raised: " .. tostring(st)) end
  if st and st.expires then st.expires_at = M.format_time(st.expires) end
  return st, err
end

-- ---- confirming ------------------------------------------------------------

-- What one read says about a renewal sent with expiry `before` (Unix s or nil)
-- and answered with request id `rid`: a verdict table, or nil (not yet).
function M.verdict(product, st, before, rid)
  local moved = before and st.expires and st.expires > before
  if product == "cvm" and rid and st.latest and st.latest.request_id == rid then
    local s = st.latest.state
    if s == "SUCCESS" then return { confirmed = true, outcome = "renewed", by = "latest_operation" } end
    if s == "FAILED" then
      return { confirmed = true, outcome = "failed", by = "latest_operation",
               message = st.latest.message or "RenewInstances FAILED (no LatestOperationErrorMsg)" }
    end
    return nil   -- OPERATING (or a state we do not know): keep asking
  end
  if moved then return { confirmed = true, outcome = "renewed", by = "expiry" } end
  return nil
end

-- Poll until a verdict, a read that can never succeed, or opts.timeout.
-- Returns { confirmed = bool, outcome = "renewed"|"failed", expires_after,
-- by, message, polls }. outcome stays "renewed" when unconfirmed: the cloud
-- accepted it, so it is never sent again.
function M.confirm(client, product, id, before, rid, opts)
  local out = { confirmed = false, outcome = "renewed", polls = 0 }
  if not before and not (product == "cvm" and rid) then
    out.message = "no expiry was read before sending, so there is nothing to compare with"
    return out
  end
  local deadline = core.monotonic() + opts.timeout
  local delay = opts.interval
  while true do
    local st, err = M.read(client, product, id)
    out.polls = out.polls + 1
    if st and st.found then
      out.expires_after = st.expires_at
      local v = M.verdict(product, st, before, rid)
      if v then
        out.confirmed, out.outcome, out.by, out.message = v.confirmed, v.outcome, v.by, v.message
        return out
      end
      out.message = st.latest and st.latest.request_id == rid and st.latest.state
        and ("LatestOperationState still " .. st.latest.state) or "the expiry has not moved yet"
    elseif st then
      out.message = "the read API does not list " .. id
      return out
    else
      out.message = "read failed: " .. tostring(err)
      if not err.retryable then return out end
    end
    local left = deadline - core.monotonic()
    if left <= 0 then break end
    runtime.sleep(math.min(delay, left))
    delay = math.min(delay * M.BACKOFF, opts.interval * M.BACKOFF_CAP)
  end
  out.message = string.format("not confirmed within %gs: %s", opts.timeout, out.message)
  return out
end

-- ---- the workflow's hooks ---------------------------------------------------

-- The expiry to record in the intent (canonical text), or nil when the
-- product has no read or the read failed (the renewal still goes out; it is
-- then confirmed by request id (cvm) or reported unconfirmed).
function M.before(client, product, id)
  if not READ[product] then return nil end
  local st = M.read(client, product, id)
  return st and st.found and st.expires_at or nil
end

-- After an accepted renewal of item `it` (attempt in `log`, may be nil):
-- poll, write the confirm line, and set it.confirmed, it.expires_after and,
-- for a CVM FAILED, it.outcome = "failed" with the cloud's message.
function M.after(log, attempt, o, it, opts)
  local c = M.confirm(o.client, o.product, it.id, M.parse_time(it.expires_before), it.request_id, opts)
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
  if log and attempt then
    local ok, aerr = log:confirm(attempt, { cloud = o.client.cloud, product = o.product, id = it.id, run_id = o.run_id,
      confirmed = c.confirmed, outcome = c.outcome, expires_after = c.expires_after, error = err })
    if not ok then log.warnings[#log.warnings + 1] = "confirmation of " .. it.id .. " not recorded: " .. tostring(aerr) end
  end
  return c
end

return M

-- Retries: exponential backoff with full jitter, Retry-After honoured, a
-- deadline, and one re-sign with the server's clock after a timestamp error.
-- Whether a failed request may be sent again is policy.lua's answer (err.retryable):
-- a Tencent renewal that may have reached the cloud never is.
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local pacer = require("cloudrenew.pacing")
local policy = require("cloudrenew.client.policy")
local runtime = require("cloudrenew.net.runtime")

local M = {}

M.defaults = { max_attempts = 4, base_delay = 1, max_delay = 20, deadline = 300 }

-- The most a server's Date may move our clock (docs/clients.md, Bounds).
M.MAX_CLOCK_OFFSET = 3600

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
                 Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Seconds since the epoch for an HTTP date, or nil. RFC 9110 5.6.7: a recipient
-- accepts all three forms, though every current server sends the first:
--   IMF-fixdate   Sun, 06 Nov 1994 08:49:37 GMT
--   rfc850-date   Sunday, 06-Nov-94 08:49:37 GMT   (a two-digit year more than
--                 50 years ahead of `now` is the century before)
--   asctime-date  Sun Nov  6 08:49:37 1994         (UTC)
-- The header is the server's to write, so anything else (out-of-range fields,
-- years outside 1970..9999, any size) is nil, never a raise and never an absurd
-- number. now (optional, seconds) anchors rfc850's century; default the clock.
local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local DAYS = { Mon = "Monday", Tue = "Tuesday", Wed = "Wednesday", Thu = "Thursday", Fri = "Friday",
               Sat = "Saturday", Sun = "Sunday" }

local function parts(s, now)
  local d, mon, y, h, mi, sec =
    s:match("^%a%a%a, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if d then return d, mon, y, h, mi, sec end
  local wd
  wd, d, mon, y, h, mi, sec = s:match("^(%a+), (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if wd then
    if DAYS[wd:sub(1, 3)] ~= wd then return nil end
    local this = tonumber(os.date("!%Y", math.floor(now or core.time())))
    if not this then return nil end
    local yy = this - this % 100 + tonumber(y)
    if yy > this + 50 then yy = yy - 100 end
    return d, mon, tostring(yy), h, mi, sec
  end
  mon, d, h, mi, sec, y = s:match("^%a%a%a (%a%a%a) ([ %d]%d) (%d%d):(%d%d):(%d%d) (%d%d%d%d)$")
  if mon then return d:gsub(" ", ""), mon, y, h, mi, sec end
  return nil
end

function M.http_date(s, now)
  if type(s) ~= "string" or #s > 64 then return nil end
  local d, mon, y, h, mi, sec = parts(s:match("^%s*(.-)%s*$"), now)
  local m = MONTHS[mon or ""]
  if not m then return nil end
  y, d, h, mi, sec = tonumber(y), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  local mdays = (m == 2 and leap) and 29 or MDAYS[m]
  if y < 1970 or y > 9999 or d < 1 or d > mdays or h > 23 or mi > 59 or sec > 60 then return nil end
  -- days from civil (proleptic Gregorian), no dependency on the local time zone
  if m <= 2 then y = y - 1 end
  local floor = math.floor      -- not //: the Lua layer also runs on LuaJIT
  local era = floor(y / 400)    -- y >= 1969 here
  local yoe = y - era * 400
  local doy = floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + h * 3600 + mi * 60 + sec
end

local function setting(client, call_opts, k)
  local c = call_opts.retry
  if type(c) == "table" and c[k] ~= nil then return c[k] end
  local o = client.options.retry
  if type(o) == "table" and o[k] ~= nil then return o[k] end
  return M.defaults[k]
end

local function copy(err)
  local t = {}
  for k, v in pairs(err) do if k ~= "attempts" then t[k] = v end end
  return t
end

-- Retry-After (RFC 9110 10.2.3) -> seconds >= 0, or nil for anything else
-- ("soon", "-5", "1e308", "NaN", ""). delta-seconds, or an HTTP-date counted from
-- the server's own Date when that is within an hour of our clock (skew cancels
-- out), else from our clock. Bounded here; run() caps it at retry.max_delay.
M.MAX_RETRY_AFTER = 86400
function M.retry_after(raw, server_date)
  if type(raw) ~= "string" then return nil end
  local s, secs = raw:match("^[ \t]*(.-)[ \t]*$"), nil
  if s:find("^%d+$") or s:find("^%d+%.%d+$") then
    secs = tonumber(s)                               -- 400 nines: inf, capped below
  else
    local at = M.http_date(s)
    if not at then return nil end
    local now, base = core.time(), M.http_date(server_date)
    if not base or not (math.abs(base - now) <= (M.MAX_CLOCK_OFFSET or 3600)) then base = now end
    secs = at - base
  end
  if secs ~= secs then return nil end                -- NaN
  return math.max(0, math.min(secs, M.MAX_RETRY_AFTER))
end

-- The outcome of a call that stops before sending this attempt: the earlier
-- attempts decide whether the cloud may have acted.
local function outcome(attempts)
  for _, a in ipairs(attempts) do
    if a.outcome == "unknown" then return "unknown" end
  end
  return "not_executed"
end

-- ClientError.Throttled: a wait this call would need is longer than it may wait.
local function too_long(spec, attempts, what, wait, left, limit)
  local e = errors.client("Throttled", string.format("%s: would wait %.1f s, more than %s; not sent",
    what, wait, limit or string.format("the %.1f s left of retry.deadline", math.max(0, left))),
    { retryable = true, outcome = outcome(attempts), action = spec.service .. ":" .. spec.action })
  if #attempts > 0 then e.attempts = attempts end
  return e
end

-- Why pacing refused to hand out a slot -> the error for the call.
local function not_paced(client, spec, attempts, why, would, left)
  if why == "damaged" then
    local e = errors.client("RateLimitFile", "rate_limit_file shrank or was rewritten by another process: "
      .. "not sent (fix or remove the file, then create the client again)",
      { outcome = outcome(attempts), action = spec.service .. ":" .. spec.action })
    if #attempts > 0 then e.attempts = attempts end
    return e
  end
  if why == "redis" then   -- shared pacing unreachable: a renewal fails closed
    local e = errors.client("Redis", tostring(would) .. ": not sent", { retryable = true,
      outcome = outcome(attempts), action = spec.service .. ":" .. spec.action })
    if #attempts > 0 then e.attempts = attempts end
    return e
  end
  local what = string.format("pacing (%s:%s at %.4g/s)", spec.service, spec.action,
    (pacer.rate(client, spec) or 0) * pacer.HEADROOM)
  if why == "full" then return too_long(spec, attempts, what .. ", bucket table full", 0, left) end
  return too_long(spec, attempts, what, would, left,
    left > pacer.MAX_WAIT and string.format("the %d s any pacing wait may take", pacer.MAX_WAIT) or nil)
end

-- Run attempt() until it succeeds, fails for good, or the budget runs out. No
-- wait (pacing, backoff, Retry-After) runs past the deadline: a call that would
-- need one fails at once with ClientError.Throttled (or, after a failure that
-- was not a throttle, with that failure).
function M.run(client, spec, call_opts, attempt)
  local max_attempts = call_opts.retry == false and 1 or setting(client, call_opts, "max_attempts")
  local base, cap = setting(client, call_opts, "base_delay"), setting(client, call_opts, "max_delay")
  local deadline = core.monotonic() + setting(client, call_opts, "deadline")
  local attempts, clock_fixed = {}, false
  local n = 0
  while true do
    n = n + 1
    local left = deadline - core.monotonic()
    local t0 = core.monotonic()
    local paced, why, would = pacer.acquire(client, spec, math.max(0, left))
    if not paced then return nil, not_paced(client, spec, attempts, why, would, left) end
    -- attempt number and the time pacing made it wait (for client hooks)
    local result, err = attempt(n, core.monotonic() - t0)
    if result then return result end
    attempts[#attempts + 1] = copy(err)
    err.attempts = attempts
    if not err.retryable or n >= max_attempts then return nil, err end
    local delay, imposed
    if policy.is_clock(err.code) then
      local server = M.http_date(err.server_date)
      local offset = server and server - core.time()
      -- A Date further off than MAX_CLOCK_OFFSET is a broken or hostile server,
      -- not our clock: ignored, and the call ends with the clock error it got.
      if clock_fixed or not offset or math.abs(offset) > M.MAX_CLOCK_OFFSET then return nil, err end
      -- re-sign with the server's clock and keep the offset for later calls
      client.clock_offset = offset
      clock_fixed, delay = true, 0
    else
      delay = math.random() * math.min(cap, base * 2 ^ (n - 1))
      -- What a server asks for is honoured up to retry.max_delay, never beyond.
      imposed = err.retry_after and math.min(err.retry_after, cap)
      if imposed then delay = math.max(delay, imposed) end
      if policy.is_throttle(err.code, err.status) then
        -- the cloud says we are too fast: slow this bucket down for everyone
        pacer.pause(client, spec, math.min(math.max(delay, base), cap))
      end
    end
    local left = deadline - core.monotonic()
    if delay > left then
      if not (imposed or policy.is_throttle(err.code, err.status)) then return nil, err end
      local what = imposed and string.format("%s asked to wait %.4g s (Retry-After, capped at retry.max_delay %.4g s)",
        err.code or "the cloud", err.retry_after, cap) or ("throttled by the cloud (" .. tostring(err.code) .. "), backoff")
      return nil, too_long(spec, attempts, what, delay, left)
    end
    runtime.sleep(delay)
  end
end

return M

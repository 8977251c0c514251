-- Pacing shared by every host through Redis: the same spacing as the C
-- limiter (one request per 1/rate seconds per (credential, service, action),
-- so no sliding second carries more than the rate), computed atomically in
-- Redis by one script on Redis's own clock (TIME), so host clocks and their
-- skew never matter. A limiter here answers reserve/pause like core.limiter,
-- so pacer.acquire, the late-waker rule and the deadline work unchanged.
local core = require("cloudrenew.core")
local redis = require("cloudrenew.redis")
local runtime = require("cloudrenew.net.runtime")

local M = {}

M.MAX_AHEAD = 600        -- seconds; a bucket further ahead is damage and reset
M.RETRY = 0.1            -- between connects while a renewal waits for Redis

-- KEYS[1] the bucket; ARGV: op, interval_us, max_wait_us, pause_us, cap_us.
-- The bucket holds the theoretical arrival time (TAT) in microseconds of
-- Redis time; reserve hands out TAT and moves it one interval on, unless that
-- slot is more than max_wait away (then nothing is reserved: {1, wait}).
M.SCRIPT = [[
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or 0
if tat > now + tonumber(ARGV[5]) then tat = 0 end
local function store(v)
  redis.call('SET', KEYS[1], string.format('%.0f', v), 'PX', math.floor((v - now) / 1000) + 2000)
end
if ARGV[1] == 'pause' then
  local hold = now + tonumber(ARGV[4])
  if hold > tat then store(hold) end
  return {0, 0}
end
if tat < now then tat = now end
-- after a restart lost the bucket: never before this host's own last slot
local floor = tonumber(ARGV[6] or '0') or 0
if floor > tat and floor <= now + tonumber(ARGV[5]) then tat = floor end
local wait = tat - now
if wait > tonumber(ARGV[3]) then return {1, wait} end
store(tat + tonumber(ARGV[2]))
return {0, wait, tat + tonumber(ARGV[2])}
]]

local Limiter = {}
Limiter.__index = Limiter

local cache = {}      -- one limiter per Redis server and prefix

-- cfg: the checked `redis` option (redis.check). fallback: the process-wide
-- core.limiter, used for inquiries while Redis is unreachable.
function M.limiter(cfg, fallback)
  local k = cfg.url .. "|" .. cfg.prefix .. "|" .. cfg.timeout
  local l = cache[k]
  if not l then
    l = setmetatable({ cfg = cfg, conn = redis.conn(cfg), fallback = fallback, keys = {}, last = {}, warned = -1e9,
                       warnings = {} }, Limiter)
    cache[k] = l
  end
  return l
end

-- pacer's key "id|service|action" -> prefix .. "rl:{<hash of id>}:service:action".
function Limiter:bucket(k)
  local b = self.keys[k]
  if not b then
    local id, rest = k:match("^(.-)|(.*)$")
    b = self.cfg.prefix .. "rl:{" .. redis.hash_id(id or k) .. "}:" .. (rest or ""):gsub("|", ":")
    self.keys[k] = b
  end
  return b
end

local function us(seconds)
  return string.format("%.0f", math.max(0, math.min(seconds, M.MAX_AHEAD)) * 1e6)
end

M.WARN_EVERY = 60

-- Once a minute at most: where the fallback is taken is worth one line, not one per call.
function Limiter:warn(msg)
  local now = core.monotonic()
  if now - self.warned < M.WARN_EVERY then return end
  self.warned = now
  local line = "cloudrenew: " .. msg
  self.warnings[#self.warnings + 1] = line
  if #self.warnings > 100 then table.remove(self.warnings, 1) end
  if M.on_warning then pcall(M.on_warning, line) else io.stderr:write(line, "\n") end
end

-- reserve(key, rate, max_wait, kind) -> wait | nil, "late", would | nil, "redis", message.
-- Redis unreachable: an inquiry is paced by this host alone (with a warning);
-- anything else fails closed, nothing reserved, nothing sent.
function Limiter:reserve(k, rate, max_wait, kind)
  if not max_wait or max_wait > M.MAX_AHEAD then max_wait = M.MAX_AHEAD end
  -- A renewal gives a restarting Redis up to redis.timeout (and its deadline)
  -- to come back; an inquiry falls back at once.
  local give_up = core.monotonic() + (kind == "inquiry" and 0 or math.min(self.cfg.timeout, max_wait))
  local r, err, how
  while true do
    r, err, how = self.conn:eval(M.SCRIPT, { self:bucket(k) },
      { "reserve", us(1 / rate), us(max_wait), "0", us(M.MAX_AHEAD + 1 / rate), self.last[k] or "0" })
    if r ~= nil or how ~= "io" or core.monotonic() + M.RETRY > give_up then break end
    runtime.sleep(M.RETRY)
    self.conn.retry_at = 0
    max_wait = max_wait - M.RETRY
  end
  -- Every wait taken from Redis is bounded by what the caller allowed: an
  -- answer asking for more than max_wait (or less than 0) is not an answer.
  local limit = (max_wait or M.MAX_AHEAD) * 1e6 + 1000
  if type(r) == "table" and (r[1] == 0 or r[1] == 1) and type(r[2]) == "number" and r[2] == r[2] and r[2] >= 0 then
    if r[1] == 1 then return nil, "late", math.min(r[2], M.MAX_AHEAD * 1e6) / 1e6 end
    if r[2] <= limit then
      if type(r[3]) == "number" then self.last[k] = string.format("%.0f", r[3]) end
      return r[2] / 1e6
    end
    err = string.format("it asked for a wait of %.0f s, more than the %.1f s allowed", r[2] / 1e6, max_wait or 0)
  end
  err = "shared pacing in Redis (" .. self.cfg.url .. ") failed: " .. tostring(err or "unexpected answer")
  if kind == "inquiry" and self.fallback then
    self:warn(err .. "; inquiries paced by this host alone until it is back")
    return self.fallback:reserve(k, rate, max_wait)
  end
  return nil, "redis", err
end

-- Hold the bucket closed for everyone (after a throttle). Best effort: with
-- Redis gone the local bucket is held instead.
function Limiter:pause(k, seconds)
  local r = self.conn:eval(M.SCRIPT, { self:bucket(k) }, { "pause", "0", "0", us(seconds), us(M.MAX_AHEAD) })
  if not r and self.fallback then return self.fallback:pause(k, seconds) end
  return true
end

return M

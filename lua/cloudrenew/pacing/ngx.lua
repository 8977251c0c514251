-- Pacing shared by every nginx worker: the C limiter's rule (requests spaced
-- 1/rate apart, so no sliding second carries more than the rate) kept in a
-- lua_shared_dict. Same interface as a core.limiter: reserve(key, rate,
-- max_wait) -> wait | nil, "late", would_wait | nil, "full"; pause(key, seconds).
--
-- Each bucket is one number, the time its next slot opens (GCRA's "theoretical
-- arrival time"). A read-modify-write of it runs under a per-key lock taken
-- with dict:add: the section is a few non-yielding dict calls, and the lock
-- expires by itself (LOCK_TTL), so a worker killed inside it (or a reload)
-- can never leave the others waiting for long.
local M = {}

M.LOCK_TTL = 0.05
M.MAX_AHEAD = 600            -- as CR_RL_MAX_AHEAD_NS
M.SPINS = 2000

local Dict = {}
Dict.__index = Dict

-- name: a lua_shared_dict; nil when it does not exist.
function M.new(name)
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.shared) ~= "table" or not ngx.shared[name] then return nil end
  return setmetatable({ name = name, shared_dict = true }, Dict)
end

local function clock()
  local ngx = rawget(_G, "ngx")
  ngx.update_time()   -- ngx.now() is cached per event-loop turn; workers must agree
  return ngx.now()
end

-- Run fn(dict, key, now) with the bucket's lock held; nil, "full" when the dict
-- has no room, nil, "busy" if the lock stays taken (another worker died in it:
-- the TTL frees it within LOCK_TTL).
function Dict:locked(k, fn, ...)
  local dict = rawget(_G, "ngx").shared[self.name]
  local lk = "lock|" .. k
  for i = 1, M.SPINS do
    local ok, err = dict:add(lk, true, M.LOCK_TTL)
    if ok then
      local r1, r2, r3 = fn(dict, "tat|" .. k, clock(), ...)
      dict:delete(lk)
      return r1, r2, r3
    end
    if err == "no memory" then return nil, "full" end
    if i % 100 == 0 and require("cloudrenew.net.runtime").yieldable() then rawget(_G, "ngx").sleep(0.001) end
  end
  return nil, "full"
end

local function reserve(dict, key, now, rate, max_wait)
  local tat = dict:get(key) or 0
  local slot = math.max(now, tat)
  local wait = slot - now
  if wait > max_wait then return nil, "late", wait end
  local interval = 1 / rate
  local ok, err = dict:set(key, slot + interval, slot + interval - now + 60)
  if not ok then return nil, err == "no memory" and "full" or tostring(err) end
  return wait
end

function Dict:reserve(k, rate, max_wait)
  if type(rate) ~= "number" or not (rate > 0) then error("rate must be > 0", 2) end
  if type(max_wait) ~= "number" or max_wait ~= max_wait or max_wait > M.MAX_AHEAD then max_wait = M.MAX_AHEAD end
  if max_wait < 0 then max_wait = 0 end
  return self:locked(k, reserve, rate, max_wait)
end

local function pause(dict, key, now, seconds)
  local tat = dict:get(key) or 0
  local until_ = now + seconds
  if until_ > tat then dict:set(key, until_, seconds + 60) end
  return true
end

function Dict:pause(k, seconds)
  if type(seconds) ~= "number" or not (seconds > 0) then return true end
  return self:locked(k, pause, math.min(seconds, M.MAX_AHEAD))
end

function Dict:close() end

return M

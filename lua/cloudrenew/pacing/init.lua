-- Pacing: one bucket per (credential id, service, action), shared by every
-- client in the process that uses the same credential (and, with
-- rate_limit_file, by every process on the host). The C limiter spaces requests
-- 1/rate apart, so no sliding second ever carries more than the rate.
local core = require("cloudrenew.core")
local runtime = require("cloudrenew.net.runtime")

local M = {}

-- Pace a little under the documented limit: the cloud counts arrivals, and
-- network jitter can bring two requests spaced exactly 1/rate closer together.
M.HEADROOM = 0.95

-- No pacing wait is longer (the C limiter's CR_RL_MAX_AHEAD_NS): a longer queue
-- fails the call with ClientError.Throttled, and a bucket time further ahead in
-- a shared file is damage or a previous boot, and is reset.
M.MAX_WAIT = 600

local process = core.limiter()
local shared = {}

function M.limiter(path, redis)
  -- Many hosts: the `redis` client option (checked by cloudrenew.redis).
  if redis then return require("cloudrenew.pacing.redis").limiter(redis, process) end
  if not path then return process end
  local l = shared[path]
  if not l then
    local err
    l, err = core.limiter(path)
    if not l then return nil, err end
    shared[path] = l
  end
  return l
end

-- OpenResty: the rate_limit_dict option (a lua_shared_dict name) paces across
-- all workers (pacing/ngx.lua); by default too under nginx when a dict named
-- "cloudrenew" exists and no other shared limiter was chosen. false: off.
M.DICT = "cloudrenew"
function M.dict(name, lim)
  if name == false then return lim end
  if name ~= nil and (type(name) ~= "string" or name == "") then
    return nil, "rate_limit_dict must be the name of a lua_shared_dict (or false)"
  end
  if name == nil and lim ~= process then return lim end
  local d = require("cloudrenew.pacing.ngx").new(name or M.DICT)
  if d then return d end
  if name then return nil, "rate_limit_dict: no lua_shared_dict named " .. name .. " (add `lua_shared_dict "
    .. name .. " 1m;` to nginx's http block)" end
  return lim
end

-- The rate for an action: client override by "service.Action" or "Action",
-- else the catalogue's documented limit. false/0 turns pacing off.
function M.rate(client, spec)
  local o = client.options.rate_limits
  if o == false then return nil end
  if type(o) == "table" then
    local r = o[spec.service .. "." .. spec.action]
    if r == nil then r = o[spec.action] end
    if r == false or r == 0 then return nil end
    if r then return r end
  end
  return spec.rate
end

local function key(client, spec)
  return client.key_id .. "|" .. spec.service .. "|" .. spec.action
end

-- Forget a damaged shared limiter, so the next client naming its path opens
-- (and re-validates) the file again.
local function forget(l)
  for path, v in pairs(shared) do
    if v == l then shared[path] = nil end
  end
end

-- Wait (through the sleep hook) until this request may be sent, but never
-- longer than max_wait seconds. Returns the wait, or nil, reason, would_wait:
-- "late" (the slot is further away than max_wait, or than the limiter's own
-- bound: nothing was reserved) or "damaged" (the shared file shrank or was
-- rewritten by another process: nothing was reserved or sent).
local function reserve(client, k, r, max_wait, kind)
  -- kind: the Redis back-end fails closed without Redis except for inquiries
  local wait, why, would = client.limiter:reserve(k, r, max_wait, kind)
  if why == "full" then wait, why, would = process:reserve(k, r, max_wait) end
  if why == "damaged" then forget(client.limiter) end
  return wait, why, would
end

-- A sleep that overruns (a busy host: tens of ms now and then) would send this
-- request right before the holder of the next slot, and the cloud may count
-- one too many in a second: the 5% headroom is only ~50 ms over a window. A
-- late waker takes a fresh slot instead; the missed one stays unused.
M.LATE = 0.02

function M.acquire(client, spec, max_wait)
  local rate = M.rate(client, spec)
  if not rate then return 0 end
  local k, r = key(client, spec), rate * M.HEADROOM
  local wait, why, would = reserve(client, k, r, max_wait, spec.kind)
  if not wait then return nil, why, would end
  local start = core.monotonic()
  for _ = 1, 2 do
    local due = core.monotonic() + wait
    runtime.sleep(wait)
    local now = core.monotonic()
    if now - due <= M.LATE then break end
    -- no fresh slot within the budget: send on the missed one (as before)
    wait = reserve(client, k, r, math.max(0, (max_wait or M.MAX_WAIT) - (now - start)), spec.kind)
    if not wait then break end
  end
  return core.monotonic() - start
end

-- After a throttle: hold the bucket closed for `seconds` (the C side caps it
-- at 600 s; retry.lua already caps it at retry.max_delay), for every caller.
function M.pause(client, spec, seconds)
  if M.rate(client, spec) then client.limiter:pause(key(client, spec), seconds) end
end

return M

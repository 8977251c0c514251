-- Pacing: one bucket per (credential id, service, action), shared by every
-- client in the process that uses the same credential (and, with
-- rate_limit_file, by every process on the host). The C limiter spaces requests
-- 1/rate apart, so no sliding second ever carries more than the rate.
local core = require("cloudrenew.core")
local runtime = require("cloudrenew.runtime")

local M = {}

-- Pace a little under the documented limit: the cloud counts arrivals, and
-- network jitter can bring two requests spaced exactly 1/rate closer together.
M.HEADROOM = 0.95

local process = core.limiter()
local shared = {}

function M.limiter(path)
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

-- Wait (through the sleep hook) until this request may be sent.
function M.acquire(client, spec)
  local rate = M.rate(client, spec)
  if not rate then return 0 end
  local wait = client.limiter:reserve(key(client, spec), rate * M.HEADROOM)
  if wait == nil then wait = process:reserve(key(client, spec), rate * M.HEADROOM) end
  runtime.sleep(wait)
  return wait
end

-- After a throttle: hold the bucket closed for `seconds`, for every caller.
function M.pause(client, spec, seconds)
  if M.rate(client, spec) then client.limiter:pause(key(client, spec), seconds) end
end

return M

-- Where waiting and sending happen. One sleep hook (phase-aware by default:
-- ngx.sleep under OpenResty where it may yield, a plain sleep elsewhere) and,
-- while cloudrenew.map runs, a scheduler that turns sends and sleeps inside its
-- coroutines into concurrent transfers on a libcurl multi handle.
local core = require("cloudrenew.core")

local M = {}

-- Under ngx_lua: ngx.sleep where the phase can yield (the worker keeps
-- serving), a blocking sleep where it cannot (init, init_worker, log...).
local function yieldable()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return false end
  return require("cloudrenew.net.transport_ngx").usable()
end
M.yieldable = yieldable

function M.default_sleep(seconds)
  if yieldable() then return rawget(_G, "ngx").sleep(seconds) end
  return core.sleep(seconds)
end

M.sleep_hook = M.default_sleep
M.current = nil           -- the active map scheduler, if any

-- Is the running coroutine one of the current scheduler's workers?
local function in_scheduler()
  local s = M.current
  if not s then return nil end
  local co = coroutine.running()
  return co and s.workers[co] and s or nil
end

function M.sleep(seconds)
  if seconds <= 0 then return end
  if in_scheduler() then
    coroutine.yield("sleep", core.monotonic() + seconds)
  else
    M.hook_sleep(seconds)
  end
end

-- Let the other coroutines (map's) or light threads (ngx) run once, then go
-- on: how the audit log gathers the lines written at one moment. A no-op
-- where nothing else can run.
function M.yield()
  if in_scheduler() then
    coroutine.yield("sleep", core.monotonic())
  elseif yieldable() then
    rawget(_G, "ngx").sleep(0)
  end
end

-- Wake worker co of the current map scheduler early from its runtime.sleep;
-- false where that cannot be done (no scheduler: ngx light threads, plain code).
function M.wake(co)
  local s = M.current
  if s and s.wake and s.workers[co] then s.wake(co); return true end
  return false
end

-- Is the running code where M.yield lets others run?
function M.can_yield()
  return in_scheduler() ~= nil or yieldable()
end

-- The hook, except that ngx.sleep (which raises "API disabled" where the
-- phase cannot yield) becomes a blocking sleep there.
function M.hook_sleep(seconds)
  local hook = M.sleep_hook
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and hook == ngx.sleep and not yieldable() then hook = core.sleep end
  return hook(seconds)
end

-- Send a prepared request on a core.http handle: concurrently inside map,
-- blocking elsewhere. Same results either way.
function M.send(http, req)
  if in_scheduler() then
    return coroutine.yield("send", http, req)
  end
  return http:request(req)
end

function M.set_sleep(fn)
  if type(fn) ~= "function" then error("cloudrenew.set_sleep: a function(seconds) is required", 2) end
  M.sleep_hook = fn
end

return M

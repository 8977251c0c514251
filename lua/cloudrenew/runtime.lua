-- Where waiting and sending happen. One sleep hook (plain sleep by default;
-- set ngx.sleep under OpenResty) and, while cloudrenew.map runs, a scheduler
-- that turns sends and sleeps inside its coroutines into concurrent transfers
-- on a libcurl multi handle.
local core = require("cloudrenew.core")

local M = {}

M.sleep_hook = core.sleep
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
    M.sleep_hook(seconds)
  end
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

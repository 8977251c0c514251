-- cloudrenew.map(list, fn, { concurrency = N }): run fn over a list with up to
-- N calls in flight. Each call runs in a coroutine; its sends and waits yield to
-- this loop, which drives them on one libcurl multi handle (see runtime.lua).
-- Results and errors come back in list order; an error raised by fn is caught
-- and reported for its item, so one bad item never aborts a fleet job.
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local runtime = require("cloudrenew.net.runtime")

local M = {}

local function raised(msg)
  return errors.client("Internal", "fn raised: " .. tostring(msg), { outcome = "unknown" })
end

M.MAX_CONCURRENCY = 1024

local function invalid(msg)
  return nil, errors.client("InvalidParameter", "cloudrenew.map: " .. msg)
end

-- Bad arguments answer nil, err (ClientError.InvalidParameter) like every public
-- function: a NaN concurrency once ran nothing and returned empty results.
function M.map(list, fn, opts)
  if type(list) ~= "table" then return invalid("list must be a table") end
  if type(fn) ~= "function" then return invalid("fn must be a function") end
  if opts ~= nil and type(opts) ~= "table" then return invalid("options must be a table like { concurrency = 8 }") end
  opts = opts or {}
  local concurrency = opts.concurrency or 8
  if type(concurrency) ~= "number" or concurrency ~= concurrency or concurrency % 1 ~= 0
     or concurrency < 1 or concurrency > M.MAX_CONCURRENCY then
    return invalid("concurrency must be an integer in [1, " .. M.MAX_CONCURRENCY .. "]")
  end
  -- Under ngx_lua where the phase can yield: light threads (map_ngx.lua).
  if runtime.yieldable() and not runtime.current then
    return require("cloudrenew.net.map_ngx").map(list, fn, concurrency)
  end
  local n = #list
  local results, errs = {}, {}
  local multi = core.multi()
  local waiting = {}     -- transfer id -> coroutine
  local sleepers = {}    -- coroutine -> wake time
  -- wake(co): a worker sleeping in runtime.sleep wakes on the next turn (what
  -- the workflow's pipeline lanes wait with when their queue is empty).
  local sched = { workers = {}, wake = function(co)
    local s = sleepers[co]
    if s then s[1] = 0 end
  end }
  local running, next_item = 0, 1
  local outer = runtime.current

  local step   -- forward

  local function finish(co, i, ok, a, b)
    sched.workers[co] = nil
    running = running - 1
    if ok then results[i], errs[i] = a, b else errs[i] = raised(a) end
  end

  -- Resume a worker and act on what it yields next.
  step = function(co, i, ...)
    local ok, what, x, y = coroutine.resume(co, ...)
    if not ok then return finish(co, i, false, what) end
    if coroutine.status(co) == "dead" then return finish(co, i, true, what, x) end
    if what == "send" then
      waiting[multi:add(x, y)] = { co, i }
    elseif what == "sleep" then
      sleepers[co] = { x, i }
    else
      -- fn yielded for its own reasons outside a coroutine of its own
      sched.workers[co] = nil
      running = running - 1
      errs[i] = raised("fn yielded outside cloudrenew's scheduler")
    end
  end

  runtime.current = sched
  local ok, perr = pcall(function()
    while next_item <= n or running > 0 do
      while running < concurrency and next_item <= n do
        local i = next_item
        next_item = next_item + 1
        -- resume() catches fn's errors; no pcall, which Lua 5.1 cannot yield across
        local co = coroutine.create(fn)
        sched.workers[co] = true
        running = running + 1
        step(co, i, list[i], i)
      end
      if running == 0 then break end
      -- Wait for the nearest timer or network activity, whichever comes first.
      local now = core.monotonic()
      local wake = math.huge
      for _, s in pairs(sleepers) do if s[1] < wake then wake = s[1] end end
      local timeout = math.max(0, math.min(wake - now, 1))
      local done
      if multi:active() > 0 or next(waiting) then
        done = multi:run(timeout)
      else
        runtime.hook_sleep(timeout)
        done = {}
      end
      for _, id in ipairs(done) do
        local w = waiting[id]
        waiting[id] = nil
        step(w[1], w[2], multi:result(id))
      end
      now = core.monotonic()
      local due = {}
      for co, s in pairs(sleepers) do
        if s[1] <= now then due[#due + 1] = { co, s[2] } end
      end
      for _, d in ipairs(due) do
        sleepers[d[1]] = nil
        step(d[1], d[2])
      end
    end
  end)
  runtime.current = outer
  multi:close()
  if not ok then error(perr, 0) end
  return results, errs
end

return M

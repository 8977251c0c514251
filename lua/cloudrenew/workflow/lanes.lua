-- What the workflow's pipeline lanes (cloudrenew.workflow.pipeline) share:
-- a protected call that may yield, waiting for news and waking the waiters,
-- and FIFO queues. Lanes are coroutines of one cloudrenew.map (or ngx light
-- threads under nginx).
local runtime = require("cloudrenew.net.runtime")

local M = {}
local unpack = table.unpack or unpack

M.IDLE = 0.01      -- under ngx, a lane with nothing to do looks again after this long (seconds)
M.NAP = 0.25       -- in cloudrenew.map, an idle lane sleeps this long unless woken (notify)

local function pack(...) return { n = select("#", ...), ... } end

-- pcall that lets f yield to the scheduler. Lua 5.2+ and LuaJIT yield across
-- pcall; PUC Lua 5.1 cannot, so there f runs in a coroutine of its own (made
-- one of the scheduler's workers) whose yields are passed up and answered.
local protect = pcall
if _VERSION == "Lua 5.1" and not rawget(_G, "jit") then
  protect = function(f, ...)
    local co = coroutine.create(f)
    local s = runtime.current
    if s then s.workers[co] = true end
    local r = pack(coroutine.resume(co, ...))
    while r[1] and coroutine.status(co) ~= "dead" do
      r = pack(coroutine.resume(co, coroutine.yield(unpack(r, 2, r.n))))
    end
    if s then s.workers[co] = nil end
    return unpack(r, 1, r.n)
  end
end

M.protect = protect

-- Idle lanes wait for news: in cloudrenew.map they sleep until notify wakes
-- them (or up to `most` seconds); elsewhere (ngx light threads) they poll.
local function idle(S, most)
  local co = coroutine.running()
  if runtime.current and runtime.current.workers[co] then
    S.waiters[co] = true
    runtime.sleep(math.min(most or M.NAP, M.NAP))
    S.waiters[co] = nil
  else
    runtime.sleep(M.IDLE)
  end
end

-- Something changed (a queue, a count a lane waits on): wake the idle lanes.
local function notify(S)
  for co in pairs(S.waiters) do runtime.wake(co) end
end
M.notify = notify

-- A FIFO queue; push wakes the idle lanes.
local function queue(S) return { head = 1, tail = 0, S = S } end
local function push(q, v)
  q.tail = q.tail + 1
  q[q.tail] = v
  if q.S then notify(q.S) end
end
local function size(q) return q.tail - q.head + 1 end
local function take(q)
  if q.head > q.tail then return nil end
  local v = q[q.head]
  q[q.head], q.head = nil, q.head + 1
  return v
end

M.idle, M.queue, M.push, M.size, M.take = idle, queue, push, size, take

return M

-- A throwaway redis-server for the "many hosts" specs and benchmark: its own
-- port on 127.0.0.1, no persistence (--save '' --appendonly no), stopped (or
-- killed and restarted on the same port) by the spec.
local core = require("cloudrenew.core")

local M = {}
local Server = {}
Server.__index = Server

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local read = require("support.fake").read_file

function Server:_launch()
  os.remove(self.pidfile)
  -- not under make asan's preloaded runtime: redis-server is not ours to check
  local cmd = string.format("env -u LD_PRELOAD redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no "
    .. "--daemonize yes --pidfile %s --logfile %s --dir %s", self.port, self.pidfile, self.logfile, self.dir)
  if not sh(cmd) then return false end
  local deadline = core.monotonic() + 10
  while core.monotonic() < deadline do
    local h = core.redis("127.0.0.1", self.port, 0.5)
    if h then
      local pong = h:command("PING")
      h:close()
      local pid = tonumber(read(self.pidfile) or "")
      if pong == "PONG" and pid then self.pid = pid; return true end
    end
    core.sleep(0.05)
  end
  return false
end

-- Start on a free port (tries a few random ones).
function M.start()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. dir))
  for _ = 1, 20 do
    local s = setmetatable({ port = 20000 + math.random(0, 30000), dir = dir,
      pidfile = dir .. "/redis.pid", logfile = dir .. "/redis.log" }, Server)
    if s:_launch() then
      s.url = "redis://127.0.0.1:" .. s.port .. "/0"
      return s
    end
    if s.pid then sh("kill -9 " .. s.pid .. " 2>/dev/null") end
  end
  error("redis-server did not start: " .. tostring(read(dir .. "/redis.log")))
end

-- One command on a fresh connection (specs inspect keys with it).
function Server:command(...)
  local h = assert(core.redis("127.0.0.1", self.port, 2))
  local r, err = h:command(...)
  h:close()
  return r, err
end

-- kill -9 (nothing saved: no persistence), then start again on the same port
-- after `down` seconds.
function Server:restart(down)
  self:kill()
  if down and down > 0 then core.sleep(down) end
  assert(self:_launch(), "redis-server did not come back: " .. tostring(read(self.logfile)))
end

function Server:kill()
  if self.pid then sh("kill -9 " .. self.pid .. " 2>/dev/null") end
  -- wait until the port no longer answers
  local deadline = core.monotonic() + 5
  while core.monotonic() < deadline do
    local h = core.redis("127.0.0.1", self.port, 0.2)
    if not h then break end
    h:close()
    core.sleep(0.02)
  end
  self.pid = nil
end

function Server:stop()
  self:kill()
  sh("rm -rf " .. self.dir)
end

return M

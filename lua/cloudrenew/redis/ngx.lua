-- The Redis seam (cloudrenew.redis) over cosockets under OpenResty: resty.redis
-- (Debian's lua-nginx-redis installs it as nginx.redis). A cosocket belongs to
-- the request (or timer) that opened it, so nothing is held between calls:
-- every command takes a connection from the worker's keep-alive pool and puts
-- it back (set_keepalive). Pools are per worker, so a fork never shares one.
-- Replies and failures read exactly as hiredis' (core.redis): nil -> false,
-- an error reply -> nil, message, "server"; a dead connection -> "io".
local core = require("cloudrenew.core")

local M = {}

M.POOL_SIZE = 16          -- idle connections kept per worker and server
M.IDLE_MS = 60000         -- an idle pooled connection is closed after this
M.MAX_TRIES = M.POOL_SIZE + 2   -- after a Redis restart every pooled one is dead

M.sent = { cosocket = 0, lost = 0 } -- commands sent this way in this worker, connections found dead

local resty
-- resty.redis if ngx_lua can use cosockets now (not in init, init_worker,
-- set, log, header/body filters: those fall back to hiredis, blocking).
function M.usable()
  if not require("cloudrenew.net.transport_ngx").usable() then return false end
  if resty == nil then
    local ok, m = pcall(require, "resty.redis")
    if not ok then ok, m = pcall(require, "nginx.redis") end   -- Debian's name for it
    resty = ok and type(m) == "table" and m or false
  end
  return resty ~= false
end

-- Not command names: resty.redis' own methods.
local OWN = { new = true, connect = true, close = true, set_timeout = true, set_timeouts = true,
  set_keepalive = true, get_reused_times = true, read_reply = true, init_pipeline = true,
  commit_pipeline = true, cancel_pipeline = true, array_to_hash = true, add_commands = true }

local function convert(v, depth)
  if v == rawget(_G, "ngx").null then return false end
  if type(v) ~= "table" then return v end
  if v[1] == false and type(v[2]) == "string" and #v == 2 then return { err = v[2] } end  -- error element
  local t = {}
  for i = 1, #v do t[i] = depth < 8 and convert(v[i], depth + 1) or false end
  return t
end

local function pool_of(c)
  local s = c.server
  -- connections differ by database and password; the password only as a hash
  return "cloudrenew:" .. s.host .. ":" .. s.port .. ":" .. s.db
    .. (s.password and (":" .. core.sha256_hex("cloudrenew-pool|" .. s.password):sub(1, 16)) or "")
end

-- A pooled (or new, authenticated, selected) connection, or nil, message.
local function open(c)
  local s = c.server
  local red, err = resty:new()
  if not red then return nil, "cannot create a cosocket: " .. tostring(err) end
  red:set_timeout(math.floor(c.cfg.timeout * 1000 + 0.5))
  local ok
  ok, err = red:connect(s.host, s.port, { pool = c.pool or pool_of(c), pool_size = M.POOL_SIZE })
  if not ok then return nil, "cannot connect to Redis at " .. s.host .. ":" .. s.port .. ": " .. tostring(err) end
  if (red:get_reused_times() or 0) == 0 then
    if s.password then
      local r, aerr = red:auth(s.password)
      if not r then
        red:close()
        return nil, "Redis AUTH failed" .. (tostring(aerr):find("WRONGPASS") and " (wrong password)" or "")
      end
    end
    if s.db ~= 0 then
      local r, serr = red:select(s.db)
      if not r then red:close(); return nil, "Redis SELECT " .. s.db .. " failed: " .. tostring(serr) end
    end
  end
  return red
end

-- One try (connect, AUTH/SELECT on a new connection, the command) within
-- `total` seconds, whatever the server drips: a cosocket's read timeout starts
-- again with every byte that arrives, so a watchdog light thread bounds the
-- whole and kills the try (ngx_lua cleans up its pending socket operation).
local TIMEOUT = {}
local function bounded(total, fn, ...)
  local ngx_ = rawget(_G, "ngx")
  local work = ngx_.thread.spawn(fn, ...)
  local dog = ngx_.thread.spawn(function() ngx_.sleep(total); return TIMEOUT end)
  local ok, a, b, c = ngx_.thread.wait(work, dog)
  if ok and a == TIMEOUT then
    ngx_.thread.kill(work)
    return false
  end
  ngx_.thread.kill(dog)
  if not ok then return true, nil, "Redis command raised: " .. tostring(a) end
  return true, a, b, c
end

local function try(c, name, argv)
  local red, err = open(c)
  if not red then return nil, err, "connect" end
  local reused = (red:get_reused_times() or 0) > 0
  M.sent.cosocket = M.sent.cosocket + 1
  local r, rerr = red[name](red, (table.unpack or unpack)(argv, 2))
  if r ~= nil then
    red:set_keepalive(M.IDLE_MS, M.POOL_SIZE)
    return r, rerr
  end
  red:close()
  return nil, rerr, reused and "lost_reused" or "lost"
end

-- c: a cloudrenew.redis connection record ({ cfg, server, retry_at, down }).
-- argv: the command as a list. Same results and reconnect rule as Conn:command:
-- after a failed connect none is tried for `reconnect` s; a pooled connection
-- found dead (Redis restarted) is dropped and the next one (or a new one) tried.
function M.command(c, argv, reconnect)
  local name = type(argv[1]) == "string" and argv[1]:lower() or ""
  if name == "" or OWN[name] then return nil, "not a Redis command: " .. tostring(argv[1]), "server" end
  for _ = 1, M.MAX_TRIES do
    local now = core.monotonic()
    if now < c.retry_at then return nil, c.down or "Redis unavailable", "io" end
    local done, r, rerr, how = bounded(c.cfg.timeout, try, c, name, argv)
    if not done then
      -- no whole answer within the total time: the connection is gone with the try
      M.sent.lost = M.sent.lost + 1
      c.down = string.format("Redis command timed out (no whole answer within %g s)", c.cfg.timeout)
      c.retry_at = core.monotonic() + reconnect
      return nil, c.down, "io"
    end
    if how == "connect" then
      c.retry_at, c.down = now + reconnect, rerr
      return nil, rerr, "io"
    end
    if r ~= nil then
      if r == false then return nil, tostring(rerr), "server" end
      c.down = nil
      return convert(r, 0)
    end
    M.sent.lost = M.sent.lost + 1
    c.down = "Redis connection lost: " .. tostring(rerr)
    if how ~= "lost_reused" then
      c.retry_at = core.monotonic() + reconnect
      return nil, c.down, "io"
    end
  end
  return nil, c.down or "Redis unavailable", "io"
end

return M

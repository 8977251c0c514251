-- The Redis seam for shared pacing (pacing/redis.lua) and the renewal ledger
-- (workflow/ledger.lua): parse the `redis` client option, keep one connection per
-- process and server, run server-side scripts by SHA. Plain Lua talks through
-- hiredis in the C core (core.redis); under OpenResty a cosocket variant
-- (resty.redis) can replace `connect` and `command` without touching callers.
local core = require("cloudrenew.core")

local M = {}

M.DEFAULT_PREFIX = "cloudrenew:"
M.DEFAULT_TIMEOUT = 1            -- connect and per-command, seconds
M.RECONNECT = 0.5                -- after a failure, no new connect for this long

local function show(v)
  if type(v) == "string" then return string.format("%q", v:sub(1, 60)) end
  return type(v)
end

-- "redis://[:password@]host[:port][/db]" -> { host, port, db, password } or nil, why.
-- The password never appears in a message.
function M.parse_url(url)
  if type(url) ~= "string" or #url > 1024 or url:find("[%c%s]") then
    return nil, "redis must be a URL like redis://127.0.0.1:6379/0"
  end
  local rest = url:match("^redis://(.*)$")
  if not rest then return nil, "redis must be a URL like redis://127.0.0.1:6379/0 (redis:// scheme)" end
  local password
  local auth, hostpart = rest:match("^(.*)@([^@]*)$")
  if auth then password, rest = auth:match("^[^:]*:(.*)$") or auth, hostpart end
  local hostport, db = rest:match("^([^/]*)/?(%d*)$")
  if not hostport or (rest:find("/", 1, true) and db == "") then
    return nil, "redis URL must be redis://host[:port][/db] (a number after '/')"
  end
  local host, port = hostport:match("^%[([%x:%.]+)%]:(%d+)$")          -- [v6]:port
  if not host then host = hostport:match("^%[([%x:%.]+)%]$") end       -- [v6]
  if not host then host, port = hostport:match("^([%w%.%-]+):(%d+)$") end
  if not host then host = hostport:match("^([%w%.%-]+)$") end
  if not host then
    return nil, "redis URL must be redis://host[:port][/db]: the host or port is malformed (port 1..65535)"
  end
  port = port or "6379"
  if #port > 5 or #db > 4 then return nil, "redis URL has a bad port or database number" end
  port, db = tonumber(port), tonumber(db ~= "" and db or "0")
  if port < 1 or port > 65535 or db > 1000 then return nil, "redis URL has a bad port or database number" end
  if password == "" then password = nil end
  return { host = host, port = port, db = db, password = password or os.getenv("CLOUDRENEW_REDIS_PASSWORD") }
end

-- The `redis` option: a URL string or { url =, prefix =, timeout =, lease_ttl =,
-- lease_wait = }. Returns a checked table or nil, message.
function M.check(opt)
  if type(opt) == "string" then opt = { url = opt } end
  if type(opt) ~= "table" then
    return nil, "redis must be a URL (redis://127.0.0.1:6379/0) or { url = ..., prefix = \"cloudrenew:\" }"
  end
  local out = {}
  for k in pairs(opt) do
    if k ~= "url" and k ~= "prefix" and k ~= "timeout" and k ~= "lease_ttl" and k ~= "lease_wait" then
      return nil, "redis has an unknown setting " .. show(k) .. " (url, prefix, timeout, lease_ttl, lease_wait)"
    end
  end
  local u, err = M.parse_url(opt.url)
  if not u then return nil, err end
  out.server = u
  out.url = "redis://" .. u.host .. ":" .. u.port .. "/" .. u.db    -- for messages: no password
  out.prefix = opt.prefix or M.DEFAULT_PREFIX
  if type(out.prefix) ~= "string" or #out.prefix > 64 or not out.prefix:find("^[%w%-_.:]*$") then
    return nil, "redis.prefix must be up to 64 letters, digits, '-', '_', '.' or ':', got " .. show(opt.prefix)
  end
  for k, def, lo, hi in ([[timeout 1 0.01 60 lease_ttl 120 1 86400 lease_wait 0 0 86400]]):gmatch("(%S+) (%S+) (%S+) (%S+)") do
    local v = opt[k]
    if v == nil then v = tonumber(def) end
    if type(v) ~= "number" or v ~= v or v < tonumber(lo) or v > tonumber(hi) then
      return nil, string.format("redis.%s must be a number of seconds in [%s, %s], got %s", k, lo, hi,
        type(v) == "number" and string.format("%.17g", v) or show(v))
    end
    out[k] = v
  end
  return out
end

local Conn = {}
Conn.__index = Conn
local conns = {}           -- one per server and process

-- Keyed by everything that identifies the connection: host, port, db (in
-- cfg.url) and the password (hashed), so one client's password never decides
-- for another's.
function M.conn(cfg)
  local pw = cfg.server.password
  local key = cfg.url .. "|" .. cfg.timeout .. "|" .. (pw and core.sha256_hex("cloudrenew-redis-pw|" .. pw) or "-")
  local c = conns[key]
  if not c then
    c = setmetatable({ cfg = cfg, server = cfg.server, shas = {}, retry_at = 0 }, Conn)
    conns[key] = c
  end
  return c
end

function Conn:_connect()
  local now = core.monotonic()
  if now < self.retry_at then return nil, self.down or "Redis unavailable" end
  local s = self.server
  local h, err = core.redis(s.host, s.port, self.cfg.timeout)
  if h and s.password then
    local ok, aerr, kind = h:command("AUTH", s.password)
    if not ok then
      h:close()
      -- an answer that never came is a timeout or a lost connection, not a refusal
      h, err = nil, kind == "io" and tostring(aerr)
        or "Redis AUTH failed" .. (aerr and aerr:find("WRONGPASS") and " (wrong password)" or "")
    end
  end
  if h and s.db ~= 0 then
    local ok, serr = h:command("SELECT", s.db)
    if not ok then h:close(); h, err = nil, "Redis SELECT " .. s.db .. " failed: " .. tostring(serr) end
  end
  err = self:redact(err)
  if not h then
    self.retry_at, self.down = now + M.RECONNECT, err
    return nil, err
  end
  self.h, self.down, self.shas, self.pid = h, nil, {}, core.getpid()
  return h
end

-- One command: reply, or nil, message, "io" | "server". A connection found
-- dead (the server restarted since the last call) is replaced once at once;
-- after a failed connect, none is tried for M.RECONNECT s. Every command the
-- back-ends send may run twice without harm (scripts are idempotent per call).
-- Under OpenResty, where cosockets work, resty.redis sends it (redis/ngx.lua).
-- A server's text may echo what it was sent: the password never leaves in a message.
function Conn:redact(msg)
  local pw = self.server.password
  if type(msg) ~= "string" or not pw or #pw < 1 then return msg end
  local out = msg:gsub(pw:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"), "***")
  return out
end

function Conn:command(...)
  local r, err, kind = self:_command(...)
  if r == nil then return nil, self:redact(err), kind end
  return r
end

function Conn:_command(...)
  if rawget(_G, "ngx") and require("cloudrenew.redis.ngx").usable() then
    local argv = type((...)) == "table" and (...) or { ... }
    self.via = "cosocket"
    return require("cloudrenew.redis.ngx").command(self, argv, M.RECONNECT)
  end
  self.via = "hiredis"
  -- a handle inherited across fork (nginx's master) is another process's socket
  if self.h and self.pid ~= core.getpid() then self.h = nil end
  local fresh = false
  for _ = 1, 2 do
    local h = self.h
    if not h then
      local err
      h, err = self:_connect()
      if not h then return nil, err, "io" end
      fresh = true
    end
    local r, err, kind = h:command(...)
    if r ~= nil or kind ~= "io" then return r, err, kind end
    self.h, self.down = nil, err
    if fresh then
      self.retry_at = core.monotonic() + M.RECONNECT
      return nil, err, kind
    end
  end
end

-- Run a server-side script by SHA: SCRIPT LOAD once per connection, EVALSHA
-- after; a NOSCRIPT (a restarted or flushed server) loads it again.
function Conn:eval(src, keys, args)
  local argv = { "EVALSHA", "", #keys }
  for _, k in ipairs(keys) do argv[#argv + 1] = k end
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  for _ = 1, 2 do
    local sha = (self.h or self.via == "cosocket") and self.shas[src]
    if not sha then
      local err, kind
      sha, err, kind = self:command("SCRIPT", "LOAD", src)
      if not sha then return nil, err, kind end
      if type(sha) ~= "string" or not sha:find("^%x+$") or #sha > 64 then
        return nil, "Redis answered SCRIPT LOAD with something that is not a SHA", "server"
      end
      self.shas[src] = sha
    end
    argv[2] = sha
    local r, err, kind = self:command(argv)     -- a list: seeds may be long
    if r ~= nil or kind ~= "server" or not tostring(err):find("^NOSCRIPT") then return r, err, kind end
    self.shas[src] = nil
  end
  return nil, "Redis kept answering NOSCRIPT", "server"
end

-- A key-safe, one-way form of a credential id (the id itself is never stored).
function M.hash_id(id)
  return core.sha256_hex("cloudrenew-redis|" .. tostring(id)):sub(1, 24)
end

return M

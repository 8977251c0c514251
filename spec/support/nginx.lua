-- Start a real nginx (Debian's nginx + libnginx-mod-http-lua) for specs and
-- examples: its own prefix under build/, a loopback port, a generated config
-- whose lua_package_path/cpath point at this tree (lua/, spec/, build/luajit/).
local core = require("cloudrenew.core")

local M = {}
local Nginx = {}
Nginx.__index = Nginx

local ROOT = os.getenv("CLOUDRENEW_ROOT") or "."
M.BIN = os.getenv("CLOUDRENEW_NGINX") or "/usr/sbin/nginx"
M.MODULES = { "/usr/share/nginx/modules/ndk_http_module.so",
              "/usr/share/nginx/modules/ngx_http_lua_module.so" }

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local read = require("support.fake").read_file
M.read = read

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function abs(p)
  if p:sub(1, 1) == "/" then return p end
  local pwd = io.popen("pwd"):read("*l")
  return pwd .. "/" .. p:gsub("^%./", "")
end
M.abs = abs

function M.available()
  local f = io.open(M.BIN, "rb")
  if f then f:close() end
  return f ~= nil and io.open(M.MODULES[2], "rb") ~= nil
end

-- opts: { name, workers = 1, worker_connections = 256, log_level = "warn", http = "extra http-block directives",
--         server = "server-block directives (locations)", main = "main-block lines" }
function M.start(opts)
  local root = abs(ROOT)
  local prefix = root .. "/build/nginx/" .. (opts.name or "t") .. "-" .. tostring(os.time()) .. "-"
    .. tostring(math.random(1e6))
  assert(sh("mkdir -p " .. prefix .. "/logs " .. prefix .. "/conf " .. prefix .. "/tmp"))
  local user = ""
  local uid = io.popen("id -u"):read("*l")
  if uid == "0" then user = "user root root;" end   -- workers read this tree and write audit logs
  local self = setmetatable({ prefix = prefix, root = root }, Nginx)
  for attempt = 1, 20 do
    local port = 20000 + math.random(0, 30000)
    self.port = port
    self.url = "http://127.0.0.1:" .. port
    local conf = {}
    for _, m in ipairs(M.MODULES) do conf[#conf + 1] = "load_module " .. m .. ";" end
    conf[#conf + 1] = user
    conf[#conf + 1] = "worker_processes " .. (opts.workers or 1) .. ";"
    conf[#conf + 1] = "daemon on; master_process on;"
    conf[#conf + 1] = "pid " .. prefix .. "/logs/nginx.pid;"
    conf[#conf + 1] = "error_log " .. prefix .. "/logs/error.log " .. (opts.log_level or "warn") .. ";"
    conf[#conf + 1] = opts.main or ""
    conf[#conf + 1] = "events { worker_connections " .. (opts.worker_connections or 256) .. "; }"
    conf[#conf + 1] = "http {"
    conf[#conf + 1] = "  access_log off;"
    for _, d in ipairs({ "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }) do
      conf[#conf + 1] = "  " .. d .. "_temp_path " .. prefix .. "/tmp/" .. d .. ";"
    end
    conf[#conf + 1] = '  lua_package_path "' .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;"
      .. root .. '/spec/?.lua;;";'
    conf[#conf + 1] = '  lua_package_cpath "' .. root .. '/build/luajit/?.so;;";'
    conf[#conf + 1] = opts.http or ""
    conf[#conf + 1] = "  server {"
    conf[#conf + 1] = "    listen 127.0.0.1:" .. port .. ";"
    conf[#conf + 1] = "    location = /ping { content_by_lua_block { ngx.say('pong') } }"
    conf[#conf + 1] = opts.server or ""
    conf[#conf + 1] = "  }"
    conf[#conf + 1] = "}"
    local text = table.concat(conf, "\n"):gsub("@PORT@", tostring(port)):gsub("@ROOT@", root)
    write(prefix .. "/conf/nginx.conf", text)
    -- nginx (and its LuaJIT build of cloudrenew) is not what make asan checks:
    -- it runs without the ASan runtime that make asan preloads into busted
    if sh("env -u LD_PRELOAD " .. M.BIN .. " -p " .. prefix .. " -c " .. prefix .. "/conf/nginx.conf 2>" .. prefix .. "/logs/start.err") then
      self.http = assert(core.http{ timeout = 30 })
      -- ready once the workers answer
      local deadline = core.monotonic() + 10
      while core.monotonic() < deadline do
        local res = self.http:request{ method = "GET", url = self.url .. "/ping" }
        if res and res.status == 200 then return self end
        core.sleep(0.05)
      end
      error("nginx did not answer: " .. tostring(read(prefix .. "/logs/error.log")))
    end
    local err = read(prefix .. "/logs/start.err") or ""
    if not err:find("Address already in use", 1, true) then
      error("nginx did not start: " .. err .. tostring(read(prefix .. "/logs/error.log")))
    end
  end
  error("nginx: no free port")
end

function Nginx:pid()
  return tonumber((read(self.prefix .. "/logs/nginx.pid") or ""):match("%d+"))
end

-- GET path -> status, body, seconds (through libcurl, from outside nginx).
function Nginx:get(path, timeout)
  local h = self.http
  if timeout then h = assert(core.http{ timeout = timeout }) end
  local res, err = h:request{ method = "GET", url = self.url .. path }
  if h ~= self.http then h:close() end
  if not res then return nil, err.message end
  return res.status, res.body, res.time
end

-- The worker processes' pids (children of the master).
function Nginx:workers()
  local out = {}
  -- without make asan's LD_PRELOAD: pgrep hangs with the ASan runtime preloaded
  local p = io.popen("env -u LD_PRELOAD pgrep -P " .. tostring(self:pid()))
  for line in p:lines() do out[#out + 1] = tonumber(line) end
  p:close()
  return out
end

-- ESTABLISHED TCP connections held by process `pid` to 127.0.0.1:`port`
-- (its socket inodes matched against /proc/net/tcp).
function M.established(pid, port)
  local inodes = {}
  local p = io.popen("env -u LD_PRELOAD ls -l /proc/" .. pid .. "/fd 2>/dev/null")
  for line in p:lines() do
    local ino = line:match("socket:%[(%d+)%]")
    if ino then inodes[ino] = true end
  end
  p:close()
  local n = 0
  for line in (read("/proc/" .. pid .. "/net/tcp") or ""):gmatch("[^\n]+") do
    local rem, st, ino = line:match("^%s*%d+: %x+:%x+ (%x+:%x+) (%x%x) %x+:%x+ %x+:%x+ %x+%s+%d+%s+%d+ (%d+)")
    if rem and st == "01" and inodes[ino] and rem == string.format("0100007F:%04X", port) then n = n + 1 end
  end
  return n
end

-- Resident set size of `pid`, in kB.
function M.rss_kb(pid)
  return tonumber((read("/proc/" .. pid .. "/status") or ""):match("VmRSS:%s*(%d+)"))
end

function Nginx:signal(sig)
  return sh("env -u LD_PRELOAD " .. M.BIN .. " -p " .. self.prefix .. " -c " .. self.prefix .. "/conf/nginx.conf -s " .. sig
    .. " 2>/dev/null")
end

function Nginx:error_log()
  return read(self.prefix .. "/logs/error.log") or ""
end

function Nginx:stop()
  if not self.http then return end
  local pid = self:pid()
  self:signal("stop")
  local deadline = core.monotonic() + 15
  while pid and core.monotonic() < deadline and sh("kill -0 " .. pid .. " 2>/dev/null") do core.sleep(0.05) end
  if pid and sh("kill -0 " .. pid .. " 2>/dev/null") then   -- never leave our nginx behind
    sh("kill -9 $(pgrep -P " .. pid .. ") " .. pid .. " 2>/dev/null")
  end
  self.http:close()
  self.http = nil
  -- keep the prefix (logs, audit files) only when asked to
  if not os.getenv("CLOUDRENEW_KEEP_NGINX") then sh("rm -rf '" .. self.prefix .. "'") end
end

return M

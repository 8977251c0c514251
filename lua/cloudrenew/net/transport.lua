-- The transport seam: a prepared, signed request in; status, headers and body,
-- or a classified failure { kind, sent, message } out. libcurl today; an
-- OpenResty cosocket transport can replace it without touching anything above.
local core = require("cloudrenew.core")
local runtime = require("cloudrenew.net.runtime")

local M = {}

local Curl = {}
Curl.__index = Curl

function M.curl(opts)
  local h, err = core.http{
    ca_file = opts.ca_file, proxy = opts.proxy, connect_to = opts.connect_to,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
    max_response = opts.max_response, user_agent = opts.user_agent,
  }
  if not h then return nil, err end
  return setmetatable({ http = h }, Curl)
end

-- req: { method, url, headers = { {name, value}, ... }, body, fresh }
function Curl:send(req)
  local lines = {}
  for i, h in ipairs(req.headers) do lines[i] = h[1] .. ": " .. h[2] end
  return runtime.send(self.http, {
    method = req.method, url = req.url, headers = lines, body = req.body, fresh = req.fresh,
  })
end

function Curl:close()
  self.http:close()
end

-- The process this code runs in: a client inherited through fork() (nginx's
-- init_by_lua -> workers) must not share the parent's connections.
function M.pid()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.worker) == "table" and ngx.worker.pid then return ngx.worker.pid() end
  return core.getpid and core.getpid() or 0
end

-- transport = "curl" | "ngx" | nil (nil: cosockets inside ngx_lua where the
-- phase allows them, libcurl elsewhere). nil when valid, else why not.
function M.check(v, o)
  if o.ca_file and v ~= "curl" and not o.proxy and type(rawget(_G, "ngx")) == "table" then
    -- cosockets verify against nginx's lua_ssl_trusted_certificate only: a
    -- ca_file they would silently ignore is refused
    return "ca_file does not apply to nginx cosockets: set `lua_ssl_trusted_certificate " .. o.ca_file
      .. ";` in nginx.conf instead, or transport = \"curl\" (blocking) to use ca_file"
  end
  if v == nil or v == "curl" then return nil end
  if v ~= "ngx" then return 'transport must be "curl" or "ngx", got ' .. tostring(v) end
  if type(rawget(_G, "ngx")) ~= "table" then return 'transport = "ngx" needs OpenResty (ngx_lua)' end
  if o.proxy then return 'transport = "ngx" cannot use a proxy: use transport = "curl"' end
end

-- Picks a transport per request: ngx_lua phases differ in what they allow,
-- and one client may serve an init_worker job, a timer and a content handler.
local Auto = {}
Auto.__index = Auto

local orphans = {}   -- handles inherited through fork: never cleaned up here (a TLS
                     -- close_notify would go down the parent's connection)

function M.new(opts)
  local self = setmetatable({ pid = M.pid(), opts = opts }, Auto)
  local mode = opts.transport
  if mode ~= "curl" and not opts.proxy and type(rawget(_G, "ngx")) == "table" then
    -- Under nginx the libcurl handle is made on first use only: a client per
    -- request that only ever rides cosockets allocates nothing native.
    self.ngx = require("cloudrenew.net.transport_ngx").new(opts)
    return self
  end
  local c, err = M.curl(opts)
  if not c then return nil, err end
  self.curl = c
  return self
end

function Auto:send(req)
  local pid = M.pid()
  if pid ~= self.pid then
    if self.curl then orphans[#orphans + 1] = self.curl end
    local c, err = M.curl(self.opts)
    if not c then return nil, { kind = "nomem", sent = false, message = tostring(err) } end
    self.curl, self.pid = c, pid
    if self.ngx then self.ngx = require("cloudrenew.net.transport_ngx").new(self.opts) end
  end
  if self.ngx and require("cloudrenew.net.transport_ngx").usable() then return self.ngx:send(req) end
  if not self.curl then
    local c, err = M.curl(self.opts)
    if not c then return nil, { kind = "nomem", sent = false, message = tostring(err) } end
    self.curl = c
  end
  return self.curl:send(req)
end

-- Which transport a request sent now would use ("ngx" or "curl").
function Auto:which()
  return (self.ngx and require("cloudrenew.net.transport_ngx").usable()) and "ngx" or "curl"
end

-- Frees what the client holds: its libcurl handle (connections included).
-- Cosocket connections are never held between calls (see transport_ngx).
function Auto:close()
  if self.curl and self.pid == M.pid() then self.curl:close() end
end

return M

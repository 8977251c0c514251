-- The OpenResty transport: HTTP/1.1 over ngx.socket.tcp, so a cloud call
-- yields to nginx's event loop instead of blocking the worker. Same seam and
-- same failure classification ({ kind, sent, message, status }) as the libcurl
-- transport (csrc/http.c cr_http_classify), so everything above it is unchanged.
local M = {}

-- Phases where cosockets (and ngx.sleep) work; elsewhere libcurl (blocking).
M.PHASES = { rewrite = true, access = true, content = true, timer = true, ssl_cert = true,
             ssl_session_fetch = true, ssl_client_hello = true }

M.HEADERS_MAX = 64 * 1024     -- as CR_HTTP_HEADERS_MAX
M.POOL_SIZE = 16
M.IDLE_MS = 55 * 1000         -- under the clouds' ~60 s idle close

-- Can this coroutine use cosockets right now?
function M.usable()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return false end
  local ok, phase = pcall(ngx.get_phase)
  return ok and M.PHASES[phase] == true
end

local Ngx = {}
Ngx.__index = Ngx

-- opts: { connect_to, timeout, connect_timeout, max_response, user_agent, pool }
function M.new(opts)
  return setmetatable({
    connect_to = opts.connect_to, timeout = opts.timeout or 60,
    connect_timeout = opts.connect_timeout or 10, max_response = opts.max_response or 8 * 1024 * 1024,
    user_agent = opts.user_agent, pool_label = opts.pool,
  }, Ngx)
end

-- Keep-alive pools are per worker (as cosocket pools are) and per destination
-- and TLS identity, as lua-resty-http names them: scheme, the host name (Host
-- header, SNI and the name verified), port, the address connected to, and
-- verification (always on). Never per client object: a client per request
-- then costs no connection of its own, and at most M.POOL_SIZE idle
-- connections per destination stay open, each for M.IDLE_MS at most. `pool`
-- (a client option) separates clients whose TLS trust differs in ways the
-- name cannot show (locations with different lua_ssl_trusted_certificate).
function M.pool_name(scheme, host, port, chost, cport, label)
  local name = "cloudrenew|" .. scheme .. "://" .. host .. ":" .. port .. "|" .. chost .. ":" .. cport
  if scheme == "https" then name = name .. "|sni=" .. host .. "|verify" end
  if label then name = name .. "|" .. label end
  return name
end

local function failure(kind, sent, message, status, why)
  return nil, { kind = kind, sent = sent, message = message, status = status, why = why }
end

local function now() return rawget(_G, "ngx").now() end

-- "scheme://authority/path?query" -> scheme, host, port, target
local function split(url)
  local scheme, authority, target = url:match("^(https?)://([^/?#]+)(.*)$")
  if not scheme then return nil end
  if target == "" or target:sub(1, 1) == "?" then target = "/" .. target end
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, host, port, target
end

-- Buffered reader over receiveany: nothing is read past what the caller
-- bounded, and every read honours the request's overall deadline.
local Reader = {}
Reader.__index = Reader

-- One more piece from the socket, appended to `buf` (header parsing, small)
-- or returned (bodies: collected in tables, never re-copied per read).
function Reader:recv(deadline)
  local left = deadline - now()
  if left <= 0 then return nil, "timeout" end
  self.sock:settimeout(math.max(1, math.floor(left * 1000)))
  local data, err = self.sock:receiveany(65536)
  if not data then return nil, err end
  self.got = self.got + #data
  return data
end

function Reader:fill(deadline)
  local data, err = self:recv(deadline)
  if not data then return nil, err end
  self.buf = self.buf .. data
  return true
end

-- Up to and excluding `delim`; nil, "too_big" once more than max is buffered.
function Reader:until_(delim, max, deadline)
  while true do
    local s, e = self.buf:find(delim, 1, true)
    if s then
      local out = self.buf:sub(1, s - 1)
      self.buf = self.buf:sub(e + 1)
      return out
    end
    if #self.buf > max then return nil, "too_big" end
    local ok, err = self:fill(deadline)
    if not ok then return nil, err end
  end
end

-- Exactly n bytes.
function Reader:take(n, deadline)
  local parts, have = { self.buf }, #self.buf
  while have < n do
    local data, err = self:recv(deadline)
    if not data then self.buf = table.concat(parts); return nil, err end
    parts[#parts + 1] = data
    have = have + #data
  end
  local all = table.concat(parts)
  self.buf = all:sub(n + 1)
  return all:sub(1, n)
end

-- Everything up to the close, but no more than max bytes.
function Reader:to_close(max, deadline)
  local parts, have = { self.buf }, #self.buf
  self.buf = ""
  while have <= max do
    local data, err = self:recv(deadline)
    if not data then
      if err == "closed" then return table.concat(parts) end
      return nil, err
    end
    parts[#parts + 1] = data
    have = have + #data
  end
  return nil, "too_big"
end

-- A read failure after the request went out: the server may have acted. As
-- with libcurl, a connection closed with nothing read back is a network
-- failure; closed part-way through an answer, a bad response.
local function read_failure(err, what, r)
  if err == "timeout" then return failure("timeout", true, "timed out reading the " .. what) end
  if r and r.got > 0 then
    return failure("bad_response", true, "connection " .. tostring(err) .. " part-way through the " .. what)
  end
  return failure("network", true, "connection " .. tostring(err) .. " while reading the " .. what)
end

local function parse_head(head)
  local status_line, rest = head:match("^([^\r\n]*)\r?\n?(.*)$")
  local major, code = status_line:match("^HTTP/(%d)%.%d (%d%d%d)")
  if not code then return nil end
  local headers = {}
  for line in (rest .. "\n"):gmatch("([^\n]*)\n") do
    local name, value = line:match("^([!#$%%&'*+%-.^_`|~%w]+):[ \t]*(.-)[ \t\r]*$")
    if name then headers[name:lower()] = value end
  end
  return tonumber(code), headers, major
end

-- Read one response (skipping 1xx). Returns status, headers, body, reusable.
local function read_response(r, method, max_body, deadline)
  local status, headers
  repeat
    local head, err = r:until_("\r\n\r\n", M.HEADERS_MAX, deadline)
    if not head then
      if err == "too_big" then
        return failure("bad_response", true, "response headers larger than " .. M.HEADERS_MAX .. " bytes")
      end
      return read_failure(err, "response headers", r)
    end
    status, headers = parse_head(head)
    if not status or status < 100 or status > 599 then
      return failure("bad_response", true, "malformed HTTP status line")
    end
  until status >= 200
  local body
  local te, cl = headers["transfer-encoding"], headers["content-length"]
  if method == "HEAD" or status == 204 or status == 304 then
    body = ""
  elseif te and te:lower():find("chunked", 1, true) then
    local parts, total = {}, 0
    while true do
      local line, err = r:until_("\r\n", 1024, deadline)
      if not line then
        if err == "too_big" then return failure("bad_response", true, "malformed chunk size") end
        return read_failure(err, "response body", r)
      end
      local hex = line:match("^%x+")
      local size = hex and #hex <= 12 and tonumber(hex, 16)
      if not size then return failure("bad_response", true, "malformed chunk size") end
      if size == 0 then
        repeat   -- trailer lines, if any, up to the empty line
          local t, terr = r:until_("\r\n", M.HEADERS_MAX, deadline)
          if not t then return read_failure(terr, "response trailer", r) end
        until t == ""
        break
      end
      total = total + size
      if total > max_body then
        return failure("too_big", true, "response body larger than " .. max_body .. " bytes")
      end
      local chunk, cerr = r:take(size + 2, deadline)
      if not chunk then return read_failure(cerr, "response body", r) end
      parts[#parts + 1] = chunk:sub(1, size)
    end
    body = table.concat(parts)
  elseif cl then
    local n = cl:match("^%d+$") and tonumber(cl)
    if not n then return failure("bad_response", true, "malformed Content-Length") end
    if n > max_body then
      return failure("too_big", true, "response body larger than " .. max_body .. " bytes")
    end
    local err
    body, err = r:take(n, deadline)
    if not body then return read_failure(err, "response body", r) end
  else
    -- No length: the body runs to the end of the connection.
    local err
    body, err = r:to_close(max_body, deadline)
    if not body then
      if err == "too_big" then
        return failure("too_big", true, "response body larger than " .. max_body .. " bytes")
      end
      return read_failure(err, "response body", r)
    end
    return { status = status, headers = headers, body = body }, false
  end
  local conn = (headers["connection"] or ""):lower()
  return { status = status, headers = headers, body = body }, conn ~= "close" and r.buf == ""
end

local function no_resolver(err)
  return type(err) == "string" and err:find("no resolver defined", 1, true)
end

-- The first name server /etc/resolv.conf lists: what nginx's `resolver`
-- should name on this host (nginx itself never reads that file).
function M.system_nameserver(path)
  local f = io.open(path or "/etc/resolv.conf", "rb")
  if not f then return nil end
  local text = f:read(8192) or ""
  f:close()
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local ns = line:match("^%s*nameserver%s+([%x%.:]+)%s*$")
    if ns then return ns:find(":", 1, true) and ("[" .. ns .. "]") or ns end
  end
end

function M.resolver_advice()
  local ns = M.system_nameserver()
  if ns then
    return "add `resolver " .. ns .. " ipv6=off;` to the http block (the name server /etc/resolv.conf lists)"
  end
  return "add `resolver ADDRESS ipv6=off;` to the http block, ADDRESS the name server /etc/resolv.conf lists"
end

-- Names that are this host: connected to without asking DNS (nginx's resolver
-- does not read /etc/hosts).
M.LOOPBACK = { localhost = "127.0.0.1", ["localhost."] = "127.0.0.1", ["ip6-localhost"] = "::1",
               ["ip6-loopback"] = "::1" }

local function is_address(h)
  return h:find("^%d+%.%d+%.%d+%.%d+$") ~= nil or h:find(":", 1, true) ~= nil or h:find("^unix:") ~= nil
end

-- connect(), with name resolution bounded by `left` seconds: nginx's resolver
-- waits resolver_timeout (30 s by default) whatever the socket's timeout, so a
-- name is resolved inside a light thread that is killed at the deadline.
local function connect(ngx, sock, chost, cport, opts, left)
  if is_address(chost) then return sock:connect(chost, cport, opts) end
  local okspawn, th = pcall(ngx.thread.spawn, function() return "connected", sock:connect(chost, cport, opts) end)
  if not okspawn then return sock:connect(chost, cport, opts) end
  -- a little after the socket's own connect timeout, which then names the failure
  local timer = ngx.thread.spawn(function() ngx.sleep(left + 0.05); return "deadline" end)
  local ok1, tag, res, err = ngx.thread.wait(th, timer)
  if ok1 and tag == "deadline" then
    ngx.thread.kill(th)
    sock:close()
    return nil, "resolve_timeout"
  end
  ngx.thread.kill(timer)
  if not ok1 then return nil, tostring(tag) end
  return res, err
end

-- One exchange on one connection. `fresh`: a connection of its own, closed
-- after the answer (renewals: a reused connection the server already dropped
-- would leave it unknown whether the request arrived).
function Ngx:exchange(req, scheme, host, port, target, fresh)
  local ngx = rawget(_G, "ngx")
  local deadline = now() + self.timeout
  local sock = ngx.socket.tcp()
  local chost, cport = host, port
  if self.connect_to then
    chost, cport = self.connect_to:match("^(.*):(%d+)$")
    chost = chost:match("^%[(.*)%]$") or chost
    cport = tonumber(cport)
  end
  local pool = M.pool_name(scheme, host, port, chost, cport, self.pool_label)
  if fresh then pool = pool .. "|fresh|" .. tostring(sock) .. now() end
  chost = M.LOOPBACK[chost:lower()] or chost
  local ctime = math.min(self.connect_timeout, self.timeout)
  sock:settimeout(math.max(1, math.floor(ctime * 1000)))
  local ok, err = connect(ngx, sock, chost, cport, { pool = pool, pool_size = M.POOL_SIZE }, ctime)
  if not ok then
    if no_resolver(err) then
      return failure("network", false, "cannot resolve " .. chost .. ": nginx has no `resolver` directive ("
        .. M.resolver_advice() .. ")", nil, "no_resolver")
    end
    if err == "resolve_timeout" then
      return failure("timeout", false, string.format("timed out resolving %s (%g s): is nginx's `resolver` "
        .. "the name server /etc/resolv.conf lists?", chost, ctime))
    end
    if err == "timeout" then return failure("timeout", false, "timed out connecting to " .. chost) end
    return failure("network", false, "cannot connect to " .. chost .. ":" .. cport .. ": " .. tostring(err))
  end
  local reused = (sock:getreusedtimes() or 0) > 0
  if scheme == "https" and not reused then
    local left = deadline - now()
    sock:settimeout(math.max(1, math.floor(math.min(left, self.connect_timeout) * 1000)))
    -- false: no TLS session to reuse or return. With nil, resty.core asks for
    -- the session after a handshake and asserts on the answer, which a failed
    -- verification can make a raised error instead of a TLS failure.
    local hok, sess, herr = pcall(sock.sslhandshake, sock, false, host, true)
    if not hok then sess, herr = nil, sess end
    if not sess then
      sock:close()
      return failure("tls", false, tostring(herr) .. " (the CA comes from lua_ssl_trusted_certificate)")
    end
  end
  local lines = { req.method .. " " .. target .. " HTTP/1.1" }
  for _, h in ipairs(req.headers) do lines[#lines + 1] = h[1] .. ": " .. h[2] end
  if self.user_agent then lines[#lines + 1] = "User-Agent: " .. self.user_agent end
  local body = req.body or ""
  if #body > 0 or req.method == "POST" then lines[#lines + 1] = "Content-Length: " .. #body end
  lines[#lines + 1] = fresh and "Connection: close" or "Connection: keep-alive"
  local left = deadline - now()
  if left <= 0 then sock:close(); return failure("timeout", false, "timed out before sending") end
  sock:settimeout(math.max(1, math.floor(left * 1000)))
  local sent, serr = sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. body)
  if not sent then
    sock:close()
    -- Bytes may have left even though send failed: the server may have acted.
    if serr == "timeout" then return failure("timeout", true, "timed out sending the request") end
    return failure("network", true, "connection " .. tostring(serr) .. " while sending")
  end
  local r = setmetatable({ sock = sock, buf = "", got = 0 }, Reader)
  local res, keep = read_response(r, req.method, self.max_response, deadline)
  if not res then
    sock:close()
    -- A pooled connection the server had already closed answers nothing at all.
    return nil, keep, reused and r.got == 0 and keep.kind == "network"
  end
  if keep and not fresh then sock:setkeepalive(M.IDLE_MS, M.POOL_SIZE) else sock:close() end
  return res
end

-- req: { method, url, headers = { {name, value}, ... }, body, fresh }
function Ngx:send(req)
  local scheme, host, port, target = split(req.url)
  if not scheme then return failure("invalid", false, "malformed URL") end
  local t0 = now()
  local ok, res, err, stale = pcall(self.exchange, self, req, scheme, host, port, target, req.fresh)
  if ok and not res and stale then
    -- Like libcurl: a dead keep-alive connection (nothing read back) is
    -- retried once on a new one. Only inquiries reuse connections: every
    -- renewal is req.fresh, so it is never sent twice by this line.
    ok, res, err = pcall(self.exchange, self, req, scheme, host, port, target, true)
  end
  -- Nothing here should raise; if it does, the request may have left: unknown.
  if not ok then return failure("network", true, "cosocket error: " .. tostring(res)) end
  if res then res.time = now() - t0 end
  return res, err
end

-- A client holds no connection between calls: each exchange returns its
-- connection to the worker's shared pool (or closes it) before answering.
function Ngx:close() end

return M

-- Client and call options, checked before anything is built or sent: numbers in
-- their bounds, strings that may reach a header or URL, endpoints, retry and rate
-- settings, credential option types, the transport and the pacing it implies.
local errors = require("cloudrenew.client.errors")
local observe = require("cloudrenew.client.observe")
local pacer = require("cloudrenew.pacing")
local transport = require("cloudrenew.net.transport")

local M = {}
local find_control = require("cloudrenew.core").find_control

M.USER_AGENT = "cloudrenew/" .. require("cloudrenew.core").version

local function invalid(msg, fields)
  return nil, errors.client("InvalidParameter", msg, fields)
end
M.invalid = invalid

-- Split "scheme://authority/path" (authority = host[:port]).
function M.parse_url(url)
  if type(url) ~= "string" then return nil end
  local scheme, authority, path = url:match("^(https?)://([^/?#]+)([^?#]*)$")
  if not scheme then return nil end
  if path == "" then path = "/" end
  return { scheme = scheme, authority = authority, path = path }
end

-- Plain HTTP carries the signature and the STS token in cleartext: only to a
-- loopback host (test fakes, local proxies) unless the caller opts in.
local function loopback(host)
  host = host:lower()
  if host == "localhost" or host == "[::1]" then return true end
  local a, b, c = host:match("^127%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  return a ~= nil and tonumber(a) <= 255 and tonumber(b) <= 255 and tonumber(c) <= 255
end

local function host_of(authority)
  local h = authority:match("[^@]*$")               -- userinfo@ names no host
  if h:sub(1, 1) == "[" then return h:match("^%[[^%]]*%]") or h end
  return (h:gsub(":%d*$", ""))
end

M.INSECURE = "plain http:// would send the signed request and any session token in cleartext: "
  .. "use https://, a loopback host (127.0.0.1, [::1], localhost) or allow_insecure_http = true"

-- nil when u may be used with these options, else why not.
function M.insecure(u, o)
  if u.scheme ~= "http" or o.allow_insecure_http then return nil end
  local to = o.connect_to and o.connect_to:match("^(.*):%d+$")
  if loopback(host_of(u.authority)) and (not o.connect_to or (to and loopback(to))) then return nil end
  return M.INSECURE
end

-- Bounds of numeric options (docs/clients.md, Bounds): finite, inside [lo, hi] (lo itself
-- excluded when open), whole where int. The C core checks again before any cast.
M.BOUNDS = {
  timeout = { 0, 3600, open = true }, connect_timeout = { 0, 600, open = true },
  max_response = { 1024, 2 ^ 30, int = true },
  max_attempts = { 1, 20, int = true }, base_delay = { 0, 60 }, max_delay = { 0, 600 },
  deadline = { 0, 86400, open = true }, rate = { 0, 10000, open = true },
}

local tointeger = math.tointeger   -- nil on LuaJIT, where 1.0 is already 1

local function show(v)
  if type(v) == "number" then return string.format("%.17g", v) end
  if type(v) == "string" then return string.format("%q", v:sub(1, 60)) end
  return type(v)
end

-- v as a canonical number within BOUNDS[kind], or nil and a message naming `name`.
function M.number_in(name, v, kind)
  local b = M.BOUNDS[kind]
  if type(v) ~= "number" or v ~= v or v < b[1] or v > b[2] or (b.open and v == b[1])
     or (b.int and v % 1 ~= 0) then
    return nil, string.format("%s must be %s in %s%s, %s]; got %s", name,
      b.int and "an integer" or "a number", b.open and "(" or "[", show(b[1]), show(b[2]), show(v))
  end
  return tointeger and tointeger(v) or v
end

-- retry = { max_attempts, base_delay, max_delay, deadline } (each optional) or false.
function M.check_retry(r, where)
  if r == nil or r == false then return r end
  if type(r) ~= "table" then
    return nil, where .. " must be a table like { max_attempts = 4, deadline = 300 } or false"
  end
  local out = {}
  for k, v in pairs(r) do
    if k ~= "max_attempts" and k ~= "base_delay" and k ~= "max_delay" and k ~= "deadline" then
      return nil, where .. " has an unknown setting " .. show(k) .. " (max_attempts, base_delay, max_delay, deadline)"
    end
    local x, err = M.number_in(where .. "." .. k, v, k)
    if not x then return nil, err end
    out[k] = x
  end
  return out
end

-- Strings that reach a header, a URL or a libcurl option: one token, no control
-- characters or spaces (a CR/LF would inject a header, a NUL truncate in C).
local SHAPES = {
  region = { "^[%w%-_.]+$", "a region name (up to 64 letters, digits, '-', '_' or '.', e.g. ap-guangzhou)", 64 },
  language = { "^[%w%-_]+$", "a language tag such as zh-CN or en-US", 64 },
  connect_to = { "^[^%c%s]+:%d+$", "HOST:PORT, e.g. 127.0.0.1:8443" },
  proxy = { "^[^%c%s]+$", "a proxy URL (no spaces or control characters)" },
  ca_file = { "^[^%c]+$", "a file path (no control characters)" },
  pool = { "^[%w%-_.:]+$", "a keep-alive pool label (up to 64 letters, digits, '-', '_', '.' or ':')", 64 },
}

function M.check_string(k, v)
  local shape = SHAPES[k]
  if type(v) ~= "string" or #v > (shape[3] or 1024) or not v:find(shape[1]) then
    return nil, k .. " must be " .. shape[2] .. ", got " .. show(v)
  end
  return v
end

-- Endpoints (a URL, or a table of URLs by service) before parsing: no control
-- characters or spaces anywhere.
function M.check_endpoint_chars(ep)
  local list = type(ep) == "table" and ep or { ep }
  for _, url in pairs(list) do
    if type(url) ~= "string" or #url > 2048 or url:find("[%c%s]") then
      return "endpoint must be an http(s) URL without spaces or control characters, got " .. show(url)
    end
  end
end

-- rate_limits = { ["service.Action" or "Action"] = rate | 0 | false } or false.
function M.check_rate_limits(r)
  if r == nil or r == false then return nil end
  if type(r) ~= "table" then return "rate_limits must be a table like { RenewInstances = 5 } or false" end
  for k, v in pairs(r) do
    if type(k) ~= "string" or k == "" then return "rate_limits keys must be action names such as RenewInstances" end
    if v ~= false and v ~= 0 then
      local _, err = M.number_in("rate_limits." .. k, v, "rate")
      if err then return err .. " (or 0/false for no pacing)" end
    end
  end
end

-- Call options { region, endpoint, retry, method, idempotent }: a checked copy,
-- or nil and a message. Same rules as the client options they override.
function M.check_call_options(c)
  if c == nil then return {} end
  if type(c) ~= "table" then return nil, "call options must be a table like { region = \"ap-beijing\" }" end
  local out = {}
  for k, v in pairs(c) do out[k] = v end
  if c.region ~= nil then
    local _, err = M.check_string("region", c.region)
    if err then return nil, err end
  end
  if c.endpoint ~= nil then
    local err = M.check_endpoint_chars(c.endpoint)
    if err then return nil, err end
  end
  if c.method ~= nil and c.method ~= "GET" and c.method ~= "POST" then
    return nil, "method must be \"GET\" or \"POST\", got " .. show(c.method)
  end
  if c.encoding ~= nil and c.encoding ~= "json" and c.encoding ~= "form" then
    return nil, "encoding must be \"json\" or \"form\", got " .. show(c.encoding)
  end
  local r, err = M.check_retry(c.retry, "retry")
  if err then return nil, err end
  out.retry = r
  return out
end

-- Last check on a built request's headers ({ {name, value}, ... }): a control
-- character in any value (a token read from a file, say) would split the header.
-- Returns nil, or error fields naming the header but never its value.
function M.header_guard(headers)
  for _, h in ipairs(headers) do
    if type(h[2]) ~= "string" or find_control(h[2]) then   -- h[2]:find("%c"), in C
      return { code = "ClientError.InvalidParameter", outcome = "not_executed",
               message = "header " .. h[1] .. " would hold a control character: nothing was sent" }
    end
  end
end

-- Common client options; returns a table of checked values or nil, err.
function M.check_options(opts, defaults)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then return invalid("client options must be a table") end
  local o = {}
  for _, k in ipairs({ "timeout", "connect_timeout", "max_response" }) do
    local v = opts[k]
    if v == nil then v = defaults[k] or 8 * 1024 * 1024 end
    local x, err = M.number_in(k, v, k)
    if not x then return invalid(err) end
    o[k] = x
  end
  for _, k in ipairs({ "ca_file", "proxy", "connect_to", "region", "language", "pool" }) do
    if opts[k] ~= nil then
      local _, err = M.check_string(k, opts[k])
      if err then return invalid(err) end
    end
    o[k] = opts[k]
  end
  -- Credential options are strings when given: another type was once skipped
  -- silently and the chain fell through to env or profile credentials.
  local oerr = observe.check(opts, o, M.USER_AGENT)   -- on_request/on_response, user_agent
  if oerr then return invalid(oerr) end
  for _, k in ipairs({ "secret_id", "secret_key", "token", "access_key", "session_token", "profile" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "string" then return invalid(k .. " must be a string") end
  end
  if o.ca_file then
    local f = io.open(o.ca_file, "rb")
    if not f then return invalid("ca_file " .. o.ca_file .. " cannot be read") end
    f:close()
  end
  if o.connect_to and not o.connect_to:find("^[^%s]+:%d+$") then
    return invalid("connect_to must be HOST:PORT, e.g. 127.0.0.1:8443")
  end
  if opts.allow_insecure_http ~= nil and type(opts.allow_insecure_http) ~= "boolean" then
    return invalid("allow_insecure_http must be true or false")
  end
  o.allow_insecure_http = opts.allow_insecure_http == true
  local terr0 = transport.check(opts.transport, o)
  if terr0 then return invalid(terr0) end
  o.transport = opts.transport
  local ep = opts.endpoint
  if ep ~= nil then
    local cerr = M.check_endpoint_chars(ep)
    if cerr then return invalid(cerr) end
    local list = type(ep) == "table" and ep or { ep }
    for _, url in pairs(list) do
      local u = M.parse_url(type(url) == "string" and url:gsub("{%w+}", "x") or nil)
      if not u then
        return invalid("endpoint must be an http(s) URL such as https://cvm.tencentcloudapi.com, got "
          .. tostring(url))
      end
      local why = M.insecure(u, o)
      if why then return invalid("endpoint " .. url .. ": " .. why) end
    end
  end
  o.endpoint = ep
  local rerr = M.check_rate_limits(opts.rate_limits)
  if rerr then return invalid(rerr) end
  o.rate_limits = opts.rate_limits
  local r, terr = M.check_retry(opts.retry, "retry")
  if terr then return invalid(terr) end
  o.retry = r == false and { max_attempts = 1 } or r
  if opts.rate_limit_file ~= nil and (type(opts.rate_limit_file) ~= "string" or opts.rate_limit_file == ""
      or opts.rate_limit_file:find("%c")) then
    return invalid("rate_limit_file must be a path (a string without control characters)")
  end
  if opts.redis ~= nil then   -- many hosts (docs/many-hosts.md)
    local rc, rcerr = require("cloudrenew.redis").check(opts.redis)
    if not rc then return invalid(rcerr) end
    o.redis = rc
  end
  local lim, lerr = pacer.limiter(opts.rate_limit_file, o.redis)
  if not lim then return invalid("rate_limit_file " .. opts.rate_limit_file .. ": " .. tostring(lerr)) end
  o.limiter = lim
  local dl, derr = pacer.dict(opts.rate_limit_dict, lim)   -- OpenResty: one budget for all workers
  if not dl then return invalid(derr) end
  o.limiter = dl
  return o
end

return M

-- The request pipeline shared by both clouds: validate -> build -> sign ->
-- execute -> shape. Cloud adapters (tencent.lua, volcengine.lua) supply build,
-- sign and parse; this file owns options, services, error shaping and secrets.
local catalog = require("cloudrenew.catalog")
local core = require("cloudrenew.core")
local errors = require("cloudrenew.errors")
local pacer = require("cloudrenew.pacer")
local policy = require("cloudrenew.policy")
local retry = require("cloudrenew.retry")
local transport = require("cloudrenew.transport")
local validate = require("cloudrenew.validate")

local M = {}

M.VERSION = core.version
M.USER_AGENT = "cloudrenew/" .. core.version

-- Secrets live here, keyed by client, never as fields a table dumper would print.
local secrets = setmetatable({}, { __mode = "k" })
M.secrets = secrets

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

-- Common client options; returns a table of checked values or nil, err.
function M.check_options(opts, defaults)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then return invalid("client options must be a table") end
  local o = {}
  for _, k in ipairs({ "timeout", "connect_timeout" }) do
    local v = opts[k] == nil and defaults[k] or opts[k]
    if type(v) ~= "number" or v <= 0 then return invalid(k .. " must be a positive number of seconds") end
    o[k] = v
  end
  o.max_response = opts.max_response or 8 * 1024 * 1024
  if type(o.max_response) ~= "number" or o.max_response < 1024 then
    return invalid("max_response must be a number of bytes >= 1024")
  end
  for _, k in ipairs({ "ca_file", "proxy", "connect_to", "region", "language" }) do
    if opts[k] ~= nil and (type(opts[k]) ~= "string" or opts[k] == "") then
      return invalid(k .. " must be a non-empty string")
    end
    o[k] = opts[k]
  end
  if o.ca_file then
    local f = io.open(o.ca_file, "rb")
    if not f then return invalid("ca_file " .. o.ca_file .. " cannot be read") end
    f:close()
  end
  if o.connect_to and not o.connect_to:find("^[^%s]+:%d+$") then
    return invalid("connect_to must be HOST:PORT, e.g. 127.0.0.1:8443")
  end
  local ep = opts.endpoint
  if ep ~= nil then
    local list = type(ep) == "table" and ep or { ep }
    for _, url in pairs(list) do
      local u = M.parse_url(type(url) == "string" and url:gsub("{%w+}", "x") or nil)
      if not u then
        return invalid("endpoint must be an http(s) URL such as https://cvm.tencentcloudapi.com, got "
          .. tostring(url))
      end
    end
  end
  o.endpoint = ep
  if opts.rate_limits ~= nil and opts.rate_limits ~= false and type(opts.rate_limits) ~= "table" then
    return invalid("rate_limits must be a table like { RenewInstances = 5 } or false")
  end
  o.rate_limits = opts.rate_limits
  if opts.retry ~= nil and opts.retry ~= false and type(opts.retry) ~= "table" then
    return invalid("retry must be a table like { max_attempts = 4, deadline = 300 } or false")
  end
  o.retry = opts.retry == false and { max_attempts = 1 } or opts.retry
  if opts.rate_limit_file ~= nil and type(opts.rate_limit_file) ~= "string" then
    return invalid("rate_limit_file must be a path")
  end
  local lim, lerr = pacer.limiter(opts.rate_limit_file)
  if not lim then return invalid("rate_limit_file " .. opts.rate_limit_file .. ": " .. tostring(lerr)) end
  o.limiter = lim
  return o
end

function M.new_transport(o)
  local t, err = transport.curl{
    ca_file = o.ca_file, proxy = o.proxy, connect_to = o.connect_to, timeout = o.timeout,
    connect_timeout = o.connect_timeout, max_response = o.max_response, user_agent = M.USER_AGENT,
  }
  if not t then return invalid(err) end
  return t
end

-- Resolve the base URL for a service: call option, client option (string with
-- {service}/{region} placeholders, or a table by service), else the default.
function M.endpoint(client, service, region, call_ep, default)
  local ep = call_ep or client.options.endpoint
  if type(ep) == "table" then ep = ep[service] end
  ep = ep or default
  ep = ep:gsub("{service}", service):gsub("{region}", region or "")
  return M.parse_url(ep)
end

local function scrub(client, err)
  local s = secrets[client]
  if s then err.message = errors.redact(err.message, s.list) end
  return err
end

-- Shape a failure into an error object with outcome and retryable.
local function fail(client, spec, fields)
  fields.action = spec.service .. ":" .. spec.action
  return nil, scrub(client, errors.new(fields))
end

local TRANSPORT_CODE = {
  network = "Network", tls = "Network", timeout = "Timeout", too_big = "BadResponse",
  bad_response = "BadResponse", nomem = "Network", invalid = "InvalidParameter",
}

-- One attempt: build, sign, send, parse. Returns result or nil, err.
function M.attempt(client, spec, params, call_opts, has_token)
  local adapter = client.adapter
  local req, berr = adapter.build(client, spec, params, call_opts)
  if not req then return fail(client, spec, berr) end
  local res, terr = client.transport:send(req)
  if not res then
    local outcome, retryable = policy.transport(spec, terr, has_token)
    local prefix = terr.kind == "tls" and "TLS: " or ""
    return fail(client, spec, {
      code = "ClientError." .. (TRANSPORT_CODE[terr.kind] or "Network"),
      message = prefix .. (terr.message or terr.kind), status = terr.status,
      outcome = outcome, retryable = retryable, transport = terr.kind,
    })
  end
  local result, perr = adapter.parse(client, spec, res)
  if result then return result end
  if perr.code:find("^ClientError%.") then
    perr.outcome, perr.retryable = policy.bad_response(spec, res.status, has_token)
  else
    perr.outcome, perr.retryable = policy.cloud(spec, perr.code, res.status, has_token)
  end
  perr.server_date = res.headers and res.headers["date"]
  perr.retry_after = res.headers and tonumber(res.headers["retry-after"])
  return fail(client, spec, perr)
end

-- Validate then execute one action. spec is a catalogue row or a generic spec.
function M.execute(client, spec, params, call_opts)
  if spec.params then
    local msg = validate.params(spec.params, params)
    if msg then
      return fail(client, spec, { code = "ClientError.InvalidParameter", message = msg,
                                  outcome = "not_executed", retryable = false })
    end
  elseif params ~= nil and type(params) ~= "table" then
    return fail(client, spec, { code = "ClientError.InvalidParameter",
      message = "parameters must be a table", outcome = "not_executed", retryable = false })
  end
  call_opts = call_opts or {}
  local p, has_token = client.adapter.prepare(client, spec, params or {})
  local result, err = retry.run(client, spec, call_opts, function()
    return M.attempt(client, spec, p, call_opts, has_token)
  end)
  if err and has_token then err.client_token = p[spec.token] end
  return result, err
end

-- Service objects: tc.cvm:InquiryPriceRenewInstances{...}.
local Service = {}
Service.__index = function(svc, name)
  local row = catalog.find(rawget(svc, "cloud"), rawget(svc, "service"), name)
  if row then
    local f = function(self, params, call_opts)
      if getmetatable(self) ~= Service then
        error("call " .. name .. " with ':' (service:" .. name .. "{...})", 2)
      end
      return M.execute(self.client, row, params, call_opts)
    end
    rawset(svc, name, f)
    return f
  end
  return nil
end
Service.__tostring = function(svc) return "cloudrenew service " .. svc.cloud .. "." .. svc.service end

function M.attach_services(client, cloud)
  for service in pairs(catalog.services[cloud]) do
    client[service] = setmetatable({ client = client, cloud = cloud, service = service }, Service)
  end
end

-- Generic call spec for any action not in the catalogue (or a catalogued one by name).
function M.generic_spec(cloud, service, version, action, call_opts)
  if type(service) ~= "string" or service == "" or type(version) ~= "string" or version == "" or
     type(action) ~= "string" or action == "" then
    return nil
  end
  local row = catalog.find(cloud, service, action)
  if row and row.version == version then return row end
  return {
    cloud = cloud, service = service, version = version, action = action,
    method = (call_opts and call_opts.method) or "POST", rate = catalog.default_rate,
    -- Unknown actions may spend money: retried only if marked read-only.
    kind = (call_opts and call_opts.idempotent) and "inquiry" or "call",
  }
end

function M.set_secrets(client, creds)
  client.key_id = creds.id
  client.limiter = client.options.limiter
  secrets[client] = { key = creds.key, token = creds.token, list = { creds.key, creds.token } }
end

return M

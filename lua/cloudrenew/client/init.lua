-- The request pipeline shared by both clouds: validate -> build -> sign ->
-- execute -> shape. Cloud adapters (tencent.lua, volcengine.lua) supply build,
-- sign and parse; options.lua checks the options; this file owns services, error
-- shaping and secrets.
local catalog = require("cloudrenew.client.catalog")
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")
local policy = require("cloudrenew.client.policy")
local retry = require("cloudrenew.net.retry")
local transport = require("cloudrenew.net.transport")
local validate = require("cloudrenew.client.validate")
local observe = require("cloudrenew.client.observe")

local M = {}
local find = string.find

M.VERSION = core.version
M.USER_AGENT = "cloudrenew/" .. core.version

-- Secrets live here, keyed by client: never exported, never a field of anything
-- a caller can reach. Only M.attempt reads them, to hand them to adapter.build.
local secrets = setmetatable({}, { __mode = "k" })

-- Option checks live in client/options.lua; the adapters reach them through here.
local options = require("cloudrenew.client.options")
for _, k in ipairs{ "invalid", "parse_url", "insecure", "number_in", "check_retry", "check_string", "check_endpoint_chars", "check_rate_limits", "check_call_options", "header_guard", "check_options" } do M[k] = options[k] end
local invalid = options.invalid

function M.new_transport(o)
  local t, err = transport.new{
    ca_file = o.ca_file, proxy = o.proxy, connect_to = o.connect_to, timeout = o.timeout,
    connect_timeout = o.connect_timeout, max_response = o.max_response, user_agent = o.user_agent or M.USER_AGENT,
    transport = o.transport, pool = o.pool,
  }
  if not t then return invalid(err) end
  return t
end

-- Resolve the base URL for a service: call option, client option (string with
-- {service}/{region} placeholders, or a table by service), else the default.
-- An accepted endpoint is remembered per client, keyed by the template, service
-- and region it came from, with the options insecure() judged it under: the
-- substitutions, URL parse and loopback test cost ~25k instructions a request.
-- The URL table is shared between requests: the adapters only read it.
local resolved = setmetatable({}, { __mode = "k" })
local MAX_RESOLVED = 64
function M.endpoint(client, service, region, call_ep, default)
  local o = client.options
  local ep = call_ep or o.endpoint
  if type(ep) == "table" then ep = ep[service] end
  ep = ep or default
  if type(ep) ~= "string" then return nil, "endpoint must be an http(s) URL" end
  local key = ep .. "\0" .. service .. "\0" .. (region or "")
  local cache = resolved[client]
  local hit = cache and cache[key]
  if hit and hit.allow == o.allow_insecure_http and hit.connect_to == o.connect_to then return hit.u end
  ep = ep:gsub("{service}", service):gsub("{region}", region or "")
  local u = M.parse_url(ep)
  if not u then return nil, "endpoint must be an http(s) URL such as https://cvm.tencentcloudapi.com" end
  local why = M.insecure(u, o)
  if why then return nil, "endpoint " .. ep .. ": " .. why end
  if not cache or cache.n >= MAX_RESOLVED then cache = { n = 0 }; resolved[client] = cache end
  if not cache[key] then cache.n = cache.n + 1 end
  cache[key] = { u = u, allow = o.allow_insecure_http, connect_to = o.connect_to }
  return u
end

-- Every string of an error (attempts and nested tables too) loses the client's
-- secrets and is bounded: a server may echo a header into any field.
local function scrub(client, err)
  local s = secrets[client]
  return errors.scrub(err, s and s.list)
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
function M.attempt(client, spec, params, call_opts, has_token, seen)
  local adapter = client.adapter
  -- The keeper (credentials/init.lua) answers one consistent triple, refreshed when due.
  local keeper = secrets[client]
  local creds, kerr
  if keeper then creds, kerr = keeper:get(client) end
  if kerr then kerr.action = spec.service .. ":" .. spec.action; return nil, scrub(client, kerr) end
  if not creds then
    return fail(client, spec, { code = "ClientError.Credentials", outcome = "not_executed",
                                message = "this client has no credentials" })
  end
  -- The only place secrets leave this table: an argument to the signing step.
  local req, berr = adapter.build(client, spec, params, call_opts, creds)
  if not req then return fail(client, spec, berr) end
  if seen then observe.sending(client, seen, req) end
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
  -- A server may echo a secret anywhere. The answer is decoded as sent (cutting
  -- the raw body first could break its JSON, say inside a \u escape, and turn a
  -- definite refusal into a bad answer that is retried); then every decoded
  -- string is redacted, and fail() scrubs every string of an error, quotes of
  -- the raw body included. An answer whose shape makes parsing raise is a bad
  -- answer, never a raise.
  if seen then seen.status = res.status end
  if type(res.body) ~= "string" then res.body = "" end
  local raw = res.body
  local ok, result, perr = pcall(adapter.parse, client, spec, res)
  res.body = errors.redact(raw, creds.list)
  if ok and type(result) == "table" then
    -- Every string of a result is decoded from the raw body (the adapters add
    -- nothing else). Without a backslash in the body each one is a verbatim
    -- slice of it, so a body holding no form of any secret (res.body == raw:
    -- the plain finds above found none) cannot yield one and needs no walk. A
    -- backslash (\u escapes, \/, \") may spell a secret the finds cannot see:
    -- then every decoded string is redacted.
    if res.body == raw and not find(raw, "\\", 1, true) then return result end
    return errors.scrub_data(result, creds.list)
  end
  if ok and type(perr) == "table" and type(perr.code) == "string" then
    if errors.redact(perr.code, creds.list) ~= perr.code then
      -- a secret is never a cloud's error code: such an answer is a bad one
      perr = { code = "ClientError.BadResponse", status = res.status, request_id = perr.request_id,
               message = "HTTP " .. tostring(res.status) .. " with an error code that is not one" }
    elseif perr.code:find("^ClientError%.") and res.body ~= raw and type(perr.message) == "string" then
      -- a bad answer's message quotes the body, cut to a bound: quote the redacted
      -- body, so the cut cannot leave part of a secret
      local ok2, _, perr2 = pcall(adapter.parse, client, spec, res)
      if ok2 and type(perr2) == "table" and type(perr2.message) == "string" then perr.message = perr2.message end
    end
  end
  if not ok or type(perr) ~= "table" or type(perr.code) ~= "string" then
    perr = { code = "ClientError.BadResponse", status = res.status,
      message = "HTTP " .. tostring(res.status) .. " with an answer that could not be read: "
        .. tostring(ok and "no result" or result) }
  end
  if perr.code:find("^ClientError%.") then
    perr.outcome, perr.retryable = policy.bad_response(spec, res.status, has_token)
  else
    perr.outcome, perr.retryable = policy.cloud(spec, perr.code, res.status, has_token)
  end
  perr.server_date = res.headers and res.headers["date"]
  perr.retry_after = res.headers and retry.retry_after(res.headers["retry-after"], perr.server_date)
  return fail(client, spec, perr)
end

-- Validate then execute one action. spec is a catalogue row or a generic spec.
function M.execute(client, spec, params, call_opts)
  local copts, cerr = M.check_call_options(call_opts)
  if not copts then
    return fail(client, spec, { code = "ClientError.InvalidParameter", message = cerr,
                                outcome = "not_executed", retryable = false })
  end
  call_opts = copts
  -- One number is one number: a normalised copy (1.0 -> 1, the caller's table
  -- untouched) is what validation, signing, bodies and messages all see.
  if type(params) == "table" then
    local nerr
    params, nerr = num.deep(params)
    if not params then
      return fail(client, spec, { code = "ClientError.InvalidParameter", message = "parameters table " .. nerr,
                                  outcome = "not_executed", retryable = false })
    end
  end
  if spec.params then
    local msg = validate.params(spec.params, params, spec)
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
  local result, err = retry.run(client, spec, call_opts, function(n, waited)
    return observe.attempt(client, spec, call_opts, n, waited, function(seen)
      return M.attempt(client, spec, p, call_opts, has_token, seen)
    end)
  end)
  if err and has_token then err.client_token = p[spec.token] end
  return result, err
end

-- Service objects: tc.cvm:InquiryPriceRenewInstances{...}.
local Service = {}
-- svc:pages(action, params, call_opts, opts): every page of a list action (pages.lua).
local function service_pages(self, action, params, call_opts, opts)
  if getmetatable(self) ~= Service then error("call pages with ':' (service:pages(action, params))", 2) end
  return require("cloudrenew.client.pages").service(self, action, params, call_opts, opts)
end
Service.__index = function(svc, name)
  if name == "pages" then return service_pages end
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
  -- All three reach a header, the query or the signed scope: plain names only.
  for _, v in ipairs({ service, version, action }) do
    if type(v) ~= "string" or #v > 128 or not v:find("^[%w%-_.]+$") then return nil end
  end
  local row = catalog.find(cloud, service, action)
  if row and row.version == version then return row end
  return {
    cloud = cloud, service = service, version = version, action = action,
    method = (call_opts and call_opts.method) or "POST", rate = catalog.default_rate,
    encoding = call_opts and call_opts.encoding,   -- "form": Volcengine query-protocol POST
    -- Unknown actions may spend money: retried only if marked read-only.
    kind = (call_opts and call_opts.idempotent) and "inquiry" or "call",
  }
end

function M.set_secrets(client, keeper)
  client.key_id = keeper.current.id
  client.limiter = client.options.limiter
  -- Only the id is a field; the keeper (key, token, providers) goes where
  -- nothing but M.attempt reads. keeper.list: every secret form it has held.
  secrets[client] = keeper
end

-- What both clouds' clients share: Client:call for any action, close, and the
-- constructor's second half (credentials, transport, services).
function M.call(self, cloud, service, version, action, params, call_opts)
  if call_opts ~= nil and type(call_opts) ~= "table" then return invalid("call options must be a table") end
  local spec = M.generic_spec(cloud, service, version, action, call_opts)
  if not spec then
    return invalid("call(service, version, action, params): service, version and action must be non-empty strings")
  end
  return M.execute(self, spec, params, call_opts)
end

function M.close(self)
  if self.transport then self.transport:close() end
end

-- mod: the cloud's module (adapter, CREDENTIALS_LABEL, credential_providers);
-- id_field: where the key id shows (secret_id | access_key); o: checked options.
function M.new_client(cloud, mt, mod, id_field, opts, o)
  local keeper, cerr = require("cloudrenew.credentials").keeper(cloud, mod.CREDENTIALS_LABEL, id_field, opts or {}, o,
    mod.credential_providers)
  if not keeper then return nil, cerr end
  local t, terr = M.new_transport(o)
  if not t then return nil, terr end
  local c = setmetatable({ options = o, [id_field] = keeper.current.id, credential_source = keeper.source,
                           credential_warning = keeper.warning, transport = t, adapter = mod.adapter,
                           cloud = cloud }, mt)
  M.set_secrets(c, keeper)
  M.attach_services(c, cloud)
  return c
end

return M

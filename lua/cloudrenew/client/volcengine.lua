-- Volcengine OpenAPI client: Action/Version in the query, GET (parameters in the
-- query) or POST (JSON body), HMAC-SHA256, errors in ResponseMetadata.Error.
local answer = require("cloudrenew.client.answer")
local client = require("cloudrenew.client")
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local providers = require("cloudrenew.credentials.providers")
local roles = require("cloudrenew.credentials.roles")
local sign = require("cloudrenew.sign")
local validate = require("cloudrenew.client.validate")

local M = {}
local Client = {}
Client.__index = Client

local adapter = {}

-- Credential providers in the SDKs' order (credentials/init.lua runs the chain).
M.CREDENTIALS_LABEL = "Volcengine"
function M.credential_providers(opts, r)
  return {
    providers.options(opts, { "access_key", "secret_key", "session_token" }),
    providers.env{ "VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY", "VOLCENGINE_SESSION_TOKEN" },
    providers.env{ "VOLC_ACCESSKEY", "VOLC_SECRETKEY", "VOLC_SESSIONTOKEN" },
    providers.json_file(function() return providers.home() .. "/.volc/config" end, { "ak", "sk", "session_token" }),
    roles.volcengine_instance_role(r),
    roles.oidc("volcengine", r),
  }
end

-- Copy params and add an idempotency token when the action has one and the
-- caller gave none; the same token is reused on every retry of this call.
function adapter.prepare(_, spec, params)
  if not spec.token then return params, false end
  local p = {}
  for k, v in pairs(params) do p[k] = v end
  if p[spec.token] == nil then p[spec.token] = "cloudrenew-" .. core.random_hex(16) end
  return p, true
end

-- Flatten nested parameters the way Volcengine GET APIs expect: lists as
-- Name.1, Name.2; objects as Name.Field. Returns out, or nil and the first name
-- whose value has no query form (NaN, inf, a function, a non-string key, too deep).
local function flatten(prefix, v, out, depth)
  if type(v) == "table" then
    if depth > 16 then return nil, prefix end
    if validate.is_array(v) then
      for i, x in ipairs(v) do
        local ok, bad = flatten(prefix .. "." .. i, x, out, depth + 1)
        if not ok then return nil, bad end
      end
    else
      for k, x in pairs(v) do
        if type(k) ~= "string" and type(k) ~= "number" then return nil, prefix end
        local name = prefix == "" and tostring(k) or (prefix .. "." .. tostring(k))
        local ok, bad = flatten(name, x, out, depth + 1)
        if not ok then return nil, bad end
      end
    end
  else
    out[prefix] = sign.value(v)
    if out[prefix] == nil then return nil, prefix end
  end
  return out
end

-- creds (key, token) come from client.attempt only: nothing else can reach them.
function adapter.build(c, spec, params, opts, creds)
  local region = opts.region or c.options.region
  local host = spec.host or "open.volcengineapi.com"
  local u, uerr = client.endpoint(c, spec.service, region, opts.endpoint, "https://" .. host)
  if not u then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed", message = uerr }
  end
  local method = spec.method or "POST"
  local form = method == "POST" and spec.encoding == "form"
  local query, body
  if method == "GET" or form then
    local bad
    query, bad = flatten("", params, {}, 1)
    if not query then
      return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                    message = "parameter " .. tostring(bad) .. " has no query-string form "
                      .. "(use strings, finite numbers, booleans, lists and tables)" }
    end
    body = ""
    if form then   -- a query-protocol POST (STS): the parameters as the body
      local names = {}
      for k in pairs(query) do names[#names + 1] = k end
      table.sort(names)
      for i, k in ipairs(names) do names[i] = core.uri_encode(k) .. "=" .. core.uri_encode(query[k]) end
      body, query = table.concat(names, "&"), {}
    end
  else
    local jerr
    query = {}
    body, jerr = json.encode(params)
    if not body then
      return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                    message = "parameters cannot be encoded as JSON: " .. tostring(jerr) }
    end
  end
  query.Action, query.Version = spec.action, spec.version
  local date = os.date("!%Y%m%dT%H%M%SZ", math.floor(core.time() + (c.clock_offset or 0)))
  local ctype = (method == "GET" or form) and "application/x-www-form-urlencoded; charset=utf-8" or "application/json"
  local body_hash = core.sha256_hex(body)
  local signed = { Host = u.authority, ["X-Date"] = date, ["X-Content-Sha256"] = body_hash,
                   ["Content-Type"] = ctype }
  if creds.token then signed["X-Security-Token"] = creds.token end
  local d, serr = core.volc_sign{
    access_key = creds.id, secret_key = creds.key, service = spec.service, region = region,
    date = date, method = method, path = u.path, query = query, headers = signed, body = body,
    for_request = true,   -- authorization and canonical_query alone are read
  }
  if not d then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                  message = "this request cannot be signed: " .. tostring(serr) }
  end
  -- federation calls (AssumeRoleWithOIDC) go unsigned
  local headers = creds.anonymous and {} or { { "Authorization", d.authorization } }
  for k, v in pairs(signed) do headers[#headers + 1] = { k, v } end
  local herr = client.header_guard(headers)
  if herr then return nil, herr end
  return {
    method = method, url = u.scheme .. "://" .. u.authority .. u.path .. "?" .. d.canonical_query,
    headers = headers, body = body,
    -- Every renewal gets a connection of its own, ClientToken or not: on a reused
    -- one libcurl (and the cosocket transport) would re-send it on its own, unpaced.
    fresh = spec.kind ~= "inquiry",
  }
end

-- Any answer -> result or nil, error fields; never raises. Anything that is not
-- a well-formed answer (a success without a Result object too) is
-- ClientError.BadResponse: for a renewal, unknown.
function adapter.parse(_, _, res)
  local status, body = res.status, res.body
  local doc = json.decode(body)
  local meta = answer.object(doc) and doc.ResponseMetadata
  if not answer.object(meta) then
    return answer.bad(status, body == "" and "an empty body"
      or ("a body that is not a Volcengine response: " .. answer.snippet(body)))
  end
  local rid, e = meta.RequestId, meta.Error
  if e ~= nil then
    local _, fields = answer.cloud_error(status, e, rid, "ResponseMetadata.Error")
    if fields.code ~= "ClientError.BadResponse" and type(e.CodeN) == "number" then fields.code_n = e.CodeN end
    return nil, fields
  end
  if not answer.request_id_ok(rid) then
    return answer.bad(status, "a ResponseMetadata.RequestId that is " .. answer.shape(rid))
  end
  if status < 200 or status >= 300 then return answer.bad(status, "no error code", rid) end
  local result = doc.Result
  if not answer.object(result) then
    return answer.bad(status, result == nil and "no Result" or ("a Result that is " .. answer.shape(result)), rid)
  end
  result.RequestId = rid
  return result
end

M.adapter = adapter

function Client:call(service, version, action, params, call_opts)
  if getmetatable(self) ~= Client then error("use volc:call(service, version, action, params)", 2) end
  return client.call(self, "volcengine", service, version, action, params, call_opts)
end

Client.close = client.close

Client.__tostring = function(self)
  return string.format("cloudrenew.volcengine{access_key=%s, region=%s}", self.access_key, self.options.region)
end
Client.__close = Client.close

function M.new(opts)
  local o, err = client.check_options(opts, { timeout = 60, connect_timeout = 10 })
  if not o then return nil, err end
  o.region = o.region or os.getenv("VOLCENGINE_REGION") or "cn-beijing"
  return client.new_client("volcengine", Client, M, "access_key", opts, o)
end

M.Client = Client
return M

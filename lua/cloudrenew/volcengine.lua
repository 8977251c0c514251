-- Volcengine OpenAPI client: Action/Version in the query, GET (parameters in the
-- query) or POST (JSON body), HMAC-SHA256, errors in ResponseMetadata.Error.
local client = require("cloudrenew.client")
local core = require("cloudrenew.core")
local credentials = require("cloudrenew.credentials")
local json = require("cloudrenew.json")
local sign = require("cloudrenew.sign")
local validate = require("cloudrenew.validate")

local M = {}
local Client = {}
Client.__index = Client

local adapter = {}

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

function adapter.build(c, spec, params, opts)
  local region = opts.region or c.options.region
  local host = spec.host or "open.volcengineapi.com"
  local u = client.endpoint(c, spec.service, region, opts.endpoint, "https://" .. host)
  if not u then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed", message = "bad endpoint" }
  end
  local method = spec.method or "POST"
  local query, body
  if method == "GET" then
    local bad
    query, bad = flatten("", params, {}, 1)
    if not query then
      return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                    message = "parameter " .. tostring(bad) .. " has no query-string form "
                      .. "(use strings, finite numbers, booleans, lists and tables)" }
    end
    body = ""
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
  local creds = client.secrets[c]
  local date = os.date("!%Y%m%dT%H%M%SZ", math.floor(core.time() + (c.clock_offset or 0)))
  local ctype = method == "GET" and "application/x-www-form-urlencoded; charset=utf-8" or "application/json"
  local body_hash = core.sha256_hex(body)
  local signed = { Host = u.authority, ["X-Date"] = date, ["X-Content-Sha256"] = body_hash,
                   ["Content-Type"] = ctype }
  if creds.token then signed["X-Security-Token"] = creds.token end
  local d, serr = core.volc_sign{
    access_key = c.access_key, secret_key = creds.key, service = spec.service, region = region,
    date = date, method = method, path = u.path, query = query, headers = signed, body = body,
  }
  if not d then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                  message = "this request cannot be signed: " .. tostring(serr) }
  end
  local headers = { { "Authorization", d.authorization } }
  for k, v in pairs(signed) do headers[#headers + 1] = { k, v } end
  local herr = client.header_guard(headers)
  if herr then return nil, herr end
  return {
    method = method, url = u.scheme .. "://" .. u.authority .. u.path .. "?" .. d.canonical_query,
    headers = headers, body = body,
    -- Renewals carry a ClientToken, so a resend is safe; others stay fresh.
    fresh = spec.kind ~= "inquiry" and not spec.token,
  }
end

function adapter.parse(_, _, res)
  local doc = json.decode(res.body)
  local meta = type(doc) == "table" and doc.ResponseMetadata
  if type(meta) ~= "table" then
    local what = res.body == "" and "an empty body"
      or ("a body that is not a Volcengine response: " .. res.body:sub(1, 120):gsub("%c", " "))
    return nil, { code = "ClientError.BadResponse", status = res.status,
                  message = string.format("HTTP %d with %s", res.status, what) }
  end
  if type(meta.Error) == "table" then
    return nil, { code = tostring(meta.Error.Code or "UnknownError"), message = tostring(meta.Error.Message or ""),
                  request_id = meta.RequestId, status = res.status, code_n = meta.Error.CodeN }
  end
  if res.status < 200 or res.status >= 300 then
    return nil, { code = "ClientError.BadResponse", status = res.status, request_id = meta.RequestId,
                  message = string.format("HTTP %d without an error code", res.status) }
  end
  local result = type(doc.Result) == "table" and doc.Result or {}
  result.RequestId = meta.RequestId
  return result
end

M.adapter = adapter

function Client:call(service, version, action, params, call_opts)
  if getmetatable(self) ~= Client then error("use volc:call(service, version, action, params)", 2) end
  if call_opts ~= nil and type(call_opts) ~= "table" then call_opts = nil end
  local spec = client.generic_spec("volcengine", service, version, action, call_opts)
  if not spec then
    return client.invalid("call(service, version, action, params): service, version and action must be non-empty strings")
  end
  return client.execute(self, spec, params, call_opts)
end

function Client:close()
  if self.transport then self.transport:close() end
end

Client.__tostring = function(self)
  return string.format("cloudrenew.volcengine{access_key=%s, region=%s}", self.access_key, self.options.region)
end
Client.__close = Client.close

function M.new(opts)
  local o, err = client.check_options(opts, { timeout = 60, connect_timeout = 10 })
  if not o then return nil, err end
  o.region = o.region or os.getenv("VOLCENGINE_REGION") or "cn-beijing"
  local creds, cerr = credentials.volcengine(opts or {})
  if not creds then return nil, cerr end
  local t, terr = client.new_transport(o)
  if not t then return nil, terr end
  local c = setmetatable({ options = o, access_key = creds.id, credential_source = creds.source,
                           transport = t, adapter = adapter, cloud = "volcengine" }, Client)
  client.set_secrets(c, creds)
  client.attach_services(c, "volcengine")
  return c
end

M.Client = Client
return M

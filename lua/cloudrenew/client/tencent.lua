-- Tencent Cloud API 3.0 client: POST JSON, TC3-HMAC-SHA256, errors in
-- Response.Error with HTTP 200.
local answer = require("cloudrenew.client.answer")
local client = require("cloudrenew.client")
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local json = require("cloudrenew.client.json")
local providers = require("cloudrenew.credentials.providers")
local roles = require("cloudrenew.credentials.roles")

local M = {}
local Client = {}
Client.__index = Client

local adapter = {}

-- Credential providers in the SDKs' order (credentials/init.lua runs the chain).
M.CREDENTIALS_LABEL = "Tencent Cloud"
function M.credential_providers(opts, r)
  local profile = opts.profile or "default"
  local names = { "secret_id", "secret_key", "token" }
  return {
    providers.options(opts, names),
    providers.env{ "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SESSION_TOKEN" },
    providers.ini(function()
      return providers.nonempty(os.getenv("TENCENTCLOUD_CREDENTIALS_FILE")) or (providers.home() .. "/.tencentcloud/credentials")
    end, profile, names),
    providers.json_file(function() return providers.home() .. "/.tccli/" .. profile .. ".credential" end,
      { "secretId", "secretKey", "token" }),
    roles.tencent_instance_role(r),
    roles.oidc("tencent", r),
  }
end

function adapter.prepare(_, _, params)
  return params, false
end

-- Build and sign one request. Returns req or nil, error fields. creds (key,
-- token) come from client.attempt only: nothing else can reach them.
function adapter.build(c, spec, params, opts, creds)
  local region = opts.region or c.options.region
  if spec.encoding == "form" or opts.encoding == "form" then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
      message = "encoding = \"form\" is Volcengine's (STS); Tencent Cloud API 3.0 takes a JSON body" }
  end
  if spec.region == "required" and not region then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
      message = spec.service .. " needs a region: pass region = \"ap-guangzhou\" (or another) "
        .. "to cloudrenew.tencent{} or in the call options, or set TENCENTCLOUD_REGION" }
  end
  local u, uerr = client.endpoint(c, spec.service, region, opts.endpoint, "https://{service}.tencentcloudapi.com")
  if not u or u.path ~= "/" then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                  message = uerr or "Tencent endpoints take no path: use e.g. https://cvm.tencentcloudapi.com" }
  end
  local body, jerr = json.encode(params)
  if not body then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                  message = "parameters cannot be encoded as JSON: " .. tostring(jerr) }
  end
  local timestamp = math.floor(core.time() + (c.clock_offset or 0))
  local auth, serr = core.tc3_sign{
    secret_id = creds.id, secret_key = creds.key, service = spec.service,
    timestamp = timestamp, method = "POST", query = "", payload = body,
    headers = { ["Content-Type"] = "application/json", Host = u.authority, ["X-TC-Action"] = spec.action },
    for_request = true,   -- authorization alone is read: no detail strings made
  }
  if not auth then
    return nil, { code = "ClientError.InvalidParameter", outcome = "not_executed",
                  message = "this request cannot be signed: " .. tostring(serr) }
  end
  local headers = {
    { "Authorization", auth.authorization },
    { "Content-Type", "application/json" },
    { "Host", u.authority },
    { "X-TC-Action", spec.action },
    { "X-TC-Version", spec.version },
    { "X-TC-Timestamp", tostring(timestamp) },
    { "X-TC-RequestClient", c.options.user_agent or client.USER_AGENT },
  }
  if creds.anonymous then headers[1][2] = "SKIP" end   -- federation calls go unsigned
  if region then headers[#headers + 1] = { "X-TC-Region", region } end
  if creds.token then headers[#headers + 1] = { "X-TC-Token", creds.token } end
  if c.options.language then headers[#headers + 1] = { "X-TC-Language", c.options.language } end
  local herr = client.header_guard(headers)
  if herr then return nil, herr end
  return {
    method = "POST", url = u.scheme .. "://" .. u.authority .. "/", headers = headers, body = body,
    -- A renewal without an idempotency token must never ride a reused connection.
    fresh = spec.kind ~= "inquiry",
  }
end

-- Any answer -> result or nil, error fields; never raises. Anything that is not
-- a well-formed Response is ClientError.BadResponse (for a renewal: unknown).
function adapter.parse(_, _, res)
  local status, body = res.status, res.body
  local doc = json.decode(body)
  local r = answer.object(doc) and doc.Response
  if not answer.object(r) then
    return answer.bad(status, body == "" and "an empty body"
      or ("a body that is not a Tencent Cloud response: " .. answer.snippet(body)))
  end
  local rid = r.RequestId
  if r.Error ~= nil then return answer.cloud_error(status, r.Error, rid, "Response.Error") end
  if not answer.request_id_ok(rid) then
    return answer.bad(status, "a Response.RequestId that is " .. answer.shape(rid))
  end
  if status ~= 200 then return answer.bad(status, "no error code", rid) end
  return r
end

M.adapter = adapter

function Client:call(service, version, action, params, call_opts)
  if getmetatable(self) ~= Client then error("use tc:call(service, version, action, params)", 2) end
  return client.call(self, "tencent", service, version, action, params, call_opts)
end

Client.close = client.close

Client.__tostring = function(self)
  return string.format("cloudrenew.tencent{secret_id=%s, region=%s}", self.secret_id,
    tostring(self.options.region))
end
Client.__close = Client.close

function M.new(opts)
  local o, err = client.check_options(opts, { timeout = 60, connect_timeout = 10 })
  if not o then return nil, err end
  o.region = o.region or os.getenv("TENCENTCLOUD_REGION")
  if o.region == "" then o.region = nil end
  return client.new_client("tencent", Client, M, "secret_id", opts, o)
end

M.Client = Client
M.errors = errors
return M

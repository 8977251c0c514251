-- Temporary-credential providers: instance roles (metadata services), STS
-- AssumeRole and OIDC federation, for both clouds. Same protocol as
-- providers.lua; every answer carries expires_at (unix seconds).
-- Metadata calls go through the project's transport with short timeouts and at
-- most two tries; STS calls go through an inner client of the same cloud (its
-- signer, transport, answer checks and redaction) with a small retry budget.
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local json = require("cloudrenew.client.json")
local providers = require("cloudrenew.credentials.providers")
local runtime = require("cloudrenew.net.runtime")
local transport = require("cloudrenew.net.transport")

local M = {}

M.METADATA = { tencent = "http://metadata.tencentyun.com", volcengine = "http://100.96.0.96" }
M.STS = { tencent = "https://sts.tencentcloudapi.com", volcengine = "https://sts.volcengineapi.com" }
M.METADATA_TIMEOUT, M.METADATA_CONNECT_TIMEOUT = 3, 1
-- Lifetime given to STS credentials whose expiry does not parse (STS's minimum
-- DurationSeconds is 900; the keeper's early refresh comes 300 s before).
M.UNPARSED_TTL = 600

-- A unix time as STS sends it (a number or a string of digits), bounded; or nil.
function M.epoch(v)
  local n = type(v) == "number" and v or (type(v) == "string" and v:find("^%d+$") and tonumber(v)) or nil
  if not n or n ~= n or n < 0 or n > 253402300799 then return nil end
  return math.floor(n)
end

local function provider(name, fetch)
  return { name = name, fetch = fetch }
end

-- "2026-11-23T10:00:00Z" / "...+08:00" / fractional seconds -> unix seconds, or nil.
function M.rfc3339(s)
  if type(s) ~= "string" or #s > 40 then return nil end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  rest = rest:gsub("^%.%d+", "")
  local off = 0
  if rest ~= "Z" and rest ~= "z" then
    local sign, oh, om = rest:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil end
    off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 then return nil end
  local floor = math.floor          -- days from civil; no // (LuaJIT)
  if mo <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * (mo + (mo > 2 and -3 or 9)) + 2) / 5) + d - 1
  local days = era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) - off
end

-- CLOUDRENEW_METADATA_DISABLED=1 (or true) keeps the default chain off the
-- metadata services: no probe of a link-local address from a laptop, a CI box
-- or a test run. An explicit metadata_endpoint still works.
function M.metadata_disabled(o)
  local v = os.getenv("CLOUDRENEW_METADATA_DISABLED")
  return o.metadata_endpoint == nil and (v == "1" or v == "true")
end

-- A transport for one metadata service, made on first use: cosockets where
-- the ngx_lua phase allows them (a request handler or a timer waits without
-- blocking the worker), libcurl elsewhere (init, init_worker: blocking).
local function metadata_http(o)
  local t, tn
  local function sender(no_ngx)
    local tngx = package.loaded["cloudrenew.net.transport_ngx"]
      or (type(rawget(_G, "ngx")) == "table" and require("cloudrenew.net.transport_ngx"))
    if not no_ngx and o.transport ~= "curl" and tngx and tngx.usable() then
      tn = tn or tngx.new{ timeout = M.METADATA_TIMEOUT, connect_timeout = M.METADATA_CONNECT_TIMEOUT,
        max_response = 64 * 1024, user_agent = o.user_agent or ("cloudrenew/" .. core.version) }
      return tn
    end
    if not t then
      local err
      -- proxy "": never through a proxy (nor http_proxy from the environment):
      -- the metadata service answers the instance itself, on its own network.
      t, err = transport.curl{ ca_file = o.ca_file, proxy = "", timeout = M.METADATA_TIMEOUT,
        connect_timeout = M.METADATA_CONNECT_TIMEOUT, max_response = 64 * 1024,
        user_agent = o.user_agent or ("cloudrenew/" .. core.version) }
      if not t then return nil, tostring(err) end
    end
    return t
  end
  return function(method, url, headers)
    local s, serr = sender()
    if not s then return nil, serr end
    local res, terr
    -- One quick second try (metadata services blip), but none after a timeout:
    -- an unreachable service costs one connect timeout, not two.
    for try = 1, 2 do
      res, terr = s:send{ method = method, url = url, headers = headers or {}, body = "", fresh = false }
      if terr and terr.why == "no_resolver" then
        -- nginx has no `resolver`: the metadata host name through libcurl (blocking)
        s, serr = sender(true)
        if not s then return nil, serr end
        res, terr = s:send{ method = method, url = url, headers = headers or {}, body = "", fresh = false }
      end
      if (res and res.status < 500) or (terr and terr.kind == "timeout") then break end
      if try == 1 then runtime.sleep(0.1) end
    end
    if not res then return nil, (terr and (terr.message or terr.kind)) or "no answer" end
    if res.status ~= 200 then return nil, "HTTP " .. tostring(res.status), res.status end
    return res.body
  end
end

-- Under nginx, instance-role credentials are kept per worker, keyed by cloud,
-- metadata service and role: a client made per request reuses them instead of
-- asking the metadata service again, and one refresh at a time runs in the
-- worker (light threads and other requests wait for it, yielding). The cache
-- is local to this file: secrets are never a field anything else can reach.
local shared = {}
M.SHARED_WAIT = 10
-- Forget the worker's instance-role credentials (the next client fetches anew).
function M.forget_shared()
  for k in pairs(shared) do shared[k] = nil end
end
local function shared_fetch(key, early, fetch)
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" then return fetch() end
  local e = shared[key]
  if not e then e = {}; shared[key] = e end
  local limit = core.monotonic() + M.SHARED_WAIT
  while e.refreshing and core.monotonic() < limit and runtime.yieldable() do runtime.sleep(0.01) end
  local c = e.creds
  if c and c.expires_at and core.time() < c.expires_at - early then
    return { id = c.id, key = c.key, token = c.token, expires_at = c.expires_at, source = c.source,
             warning = c.warning }
  end
  e.refreshing = true
  local ok, out, where, why = pcall(fetch)
  e.refreshing = false
  if not ok then error(out, 0) end
  if out then e.creds = out end
  return out, where, why
end

local ROLE = "^%s*([%w%-_.+=,@]+)%s*$"

-- A role name as a path segment: "." and ".." would walk up the metadata tree.
local function role_of(body)
  local role = body:match(ROLE)
  if role and role:find("^%.+$") then return nil end
  return role
end

-- Temporary credentials live minutes to hours (STS 900..43200 s, instance roles
-- about 6 h): an expiry further away than M.MAX_TTL is capped there.
M.MAX_TTL = 86400

-- Bound a provider's answer: nil, why when it already expired; capped (with
-- out.warning) when absurdly far; short-lived (with a warning) when unreadable.
local function bounded(out, raw, what)
  local now = core.time()
  local e = out.expires_at
  if e == nil then
    out.expires_at = now + M.UNPARSED_TTL
    out.warning = string.format("%s answered an expiry that does not parse (%s): the credentials are"
      .. " treated as expiring in %d s", what, errors.text(raw, 64), M.UNPARSED_TTL)
  elseif e <= now + 1 then
    return nil, string.format("%s answered credentials that already expired (%s)", what, errors.text(raw, 64))
  elseif e > now + M.MAX_TTL then
    out.expires_at = now + M.MAX_TTL
    out.warning = string.format("%s answered an expiry more than %d s away (%s): the credentials are"
      .. " refreshed within %d s", what, M.MAX_TTL, errors.text(raw, 64), M.MAX_TTL)
  end
  return out
end

-- Tencent CVM role: GET .../security-credentials/ names the role (unless named),
-- GET .../<role> answers the credentials.
function M.tencent_instance_role(o)
  local base = (o.metadata_endpoint or M.METADATA.tencent) .. "/latest/meta-data/cam/security-credentials/"
  local get = metadata_http(o)
  local early = (o.refresh_early or 300) + 5
  return provider("instance_role", function()
    local where = "instance role at " .. base
    if M.metadata_disabled(o) then return nil, where .. " (disabled by CLOUDRENEW_METADATA_DISABLED)" end
    return shared_fetch("tencent|" .. base .. "|" .. tostring(o.role_name), early, function()
    local role = o.role_name
    if not role then
      local body, err = get("GET", base)
      if not body then return nil, where .. " (" .. err .. ")" end
      role = role_of(body)
      if not role then return nil, where, "instance_role: the metadata service named no role" end
    end
    local body, err = get("GET", base .. role)
    if not body then return nil, where, "instance_role: credentials of role " .. role .. ": " .. err end
    local t = json.decode(body)
    if type(t) ~= "table" or (t.Code ~= nil and t.Code ~= "Success") then
      return nil, where, "instance_role: role " .. role .. ": the metadata service answered no credentials"
    end
    local out, why = bounded({ id = t.TmpSecretId, key = t.TmpSecretKey, token = t.Token,
      expires_at = M.epoch(t.ExpiredTime) or M.rfc3339(t.Expiration), source = "instance_role:" .. role },
      t.ExpiredTime or t.Expiration, "instance_role: role " .. role)
    if not out then return nil, where, why end
    return out
    end)
  end)
end

-- Volcengine ECS role, IMDSv2: PUT a session token, then GET with it.
function M.volcengine_instance_role(o)
  local root = o.metadata_endpoint or M.METADATA.volcengine
  local base = root .. "/volcstack/latest/iam/security_credentials/"
  local get = metadata_http(o)
  local early = (o.refresh_early or 300) + 5
  return provider("instance_role", function()
    local where = "instance role at " .. root
    if M.metadata_disabled(o) then return nil, where .. " (disabled by CLOUDRENEW_METADATA_DISABLED)" end
    return shared_fetch("volcengine|" .. root .. "|" .. tostring(o.role_name), early, function()
    local tok, err = get("PUT", root .. "/latest/api/token", { { "X-volc-ecs-metadata-token-ttl-seconds", "21600" } })
    if not tok then return nil, where .. " (" .. err .. ")" end
    if not tok:find("^[%w%-_.=+/]+$") then return nil, where, "instance_role: the metadata service answered no token" end
    local h = { { "X-volc-ecs-metadata-token", tok } }
    local role = o.role_name
    if not role then
      local body
      body, err = get("GET", base, h)
      if not body then return nil, where .. " (" .. err .. ")" end
      role = role_of(body)
      if not role then return nil, where, "instance_role: the metadata service named no role" end
    end
    local body
    body, err = get("GET", base .. role, h)
    if not body then return nil, where, "instance_role: credentials of role " .. role .. ": " .. err end
    local t = json.decode(body)
    if type(t) ~= "table" then
      return nil, where, "instance_role: role " .. role .. ": the metadata service answered no credentials"
    end
    local out, why = bounded({ id = t.AccessKeyId, key = t.SecretAccessKey, token = t.SessionToken,
      expires_at = M.rfc3339(t.ExpiredTime), source = "instance_role:" .. role }, t.ExpiredTime,
      "instance_role: role " .. role)
    if not out then return nil, where, why end
    return out
    end)
  end)
end

-- An inner client of `cloud` for STS, signing with `creds` (a provider).
local function sts_client(cloud, o, creds)
  local inner
  return function()
    if inner then return inner end
    local err
    inner, err = require("cloudrenew.client." .. cloud).new{
      credentials = creds, region = o.sts_region or o.region or (cloud == "tencent" and "ap-guangzhou" or "cn-beijing"),
      endpoint = o.sts_endpoint or M.STS[cloud], ca_file = o.ca_file, proxy = o.proxy, transport = o.transport,
      connect_to = o.connect_to, allow_insecure_http = o.allow_insecure_http,
      -- the caller's own part (the inner client prefixes cloudrenew/VERSION again) and
      -- hooks: STS calls show in on_request/on_response and --verbose too
      user_agent = o.user_agent_part, on_request = o.on_request, on_response = o.on_response,
      timeout = math.min(o.timeout or 10, 10), connect_timeout = math.min(o.connect_timeout or 3, 3),
      retry = { max_attempts = 2, base_delay = 0.2, max_delay = 1, deadline = 20 },
    }
    return inner, err
  end
end

local VERSION = { tencent = "2018-08-13", volcengine = "2018-01-01" }

-- Call an STS action; answer the provider protocol. where names the provider.
local function sts_call(cloud, get_client, action, params, where, name)
  local c, err = get_client()
  if not c then return nil, where, name .. ": " .. tostring(err and err.message or err) end
  local res
  -- Volcengine STS is a query-protocol service: every official client sends a
  -- POST with a form body (volcengine-go-sdk volcenginequery), not JSON.
  res, err = c:call("sts", VERSION[cloud], action, params,
                    { method = "POST", encoding = cloud == "volcengine" and "form" or nil })
  if not res then return nil, where, name .. ": sts " .. action .. ": " .. tostring(err) end
  local cr = type(res.Credentials) == "table" and res.Credentials or {}
  local out, raw
  if cloud == "tencent" then   -- tccli sts: ExpiredTime (unix s) and Expiration (ISO 8601)
    out = { id = cr.TmpSecretId, key = cr.TmpSecretKey, token = cr.Token, source = name,
            expires_at = M.epoch(res.ExpiredTime) or M.rfc3339(res.Expiration) }
    raw = res.Expiration or res.ExpiredTime
  else
    -- AssumeRole: Credentials.ExpiredTime (volcengine-go-sdk); AssumeRoleWithOIDC:
    -- Credentials.Expiration (volcengine-python-sdk's OIDC provider)
    raw = action == "AssumeRoleWithOIDC" and cr.Expiration or cr.ExpiredTime
    out = { id = cr.AccessKeyId, key = cr.SecretAccessKey, token = cr.SessionToken, source = name,
            expires_at = M.rfc3339(raw) }
  end
  -- Temporary credentials whose end we cannot read are not forever: used for
  -- M.UNPARSED_TTL at most (the keeper refreshes them early), and said so.
  local b, why = bounded(out, raw, "sts " .. action)
  if not b then return nil, where, name .. ": " .. why end
  return b
end

local function session_name(o)
  return o.role_session_name or ("cloudrenew-" .. math.floor(core.time()))
end

-- STS AssumeRole signed with `source` (any provider): role_arn (Tencent) or role_trn.
function M.assume_role(cloud, o, source)
  local get_client = sts_client(cloud, o, source)
  local role = cloud == "tencent" and o.role_arn or o.role_trn
  return provider("assume_role", function()
    local params = { RoleSessionName = session_name(o), DurationSeconds = o.duration }
    if cloud == "tencent" then params.RoleArn = role else params.RoleTrn = role end
    return sts_call(cloud, get_client, "AssumeRole", params, "assume_role " .. role, "assume_role")
  end)
end

-- OIDC federation from the environment the platform sets (TKE / Volcengine).
local OIDC = {
  tencent = { file = "TKE_WEB_IDENTITY_TOKEN_FILE", role = "TKE_ROLE_ARN", provider = "TKE_PROVIDER_ID",
              region = "TKE_REGION", action = "AssumeRoleWithWebIdentity" },
  volcengine = { file = "VOLCENGINE_OIDC_TOKEN_FILE", role = "VOLCENGINE_OIDC_ROLE_TRN",
                 action = "AssumeRoleWithOIDC" },
}

function M.oidc(cloud, o)
  local names = OIDC[cloud]
  local where = "env " .. names.file .. "/" .. names.role .. (names.provider and ("/" .. names.provider) or "")
  local token_box = {}
  local get_client
  return provider("oidc", function()
    local file, role = providers.nonempty(os.getenv(names.file)), providers.nonempty(os.getenv(names.role))
    local pid = names.provider and providers.nonempty(os.getenv(names.provider))
    if not file and not role and not pid then return nil, where end
    if not file or not role or (names.provider and not pid) then
      return nil, where, "oidc: " .. where .. " must all be set"
    end
    -- Read at every fetch: the platform rotates the token file.
    local text = providers.read_file(file)
    local tok = text and text:match("^%s*(.-)%s*$")
    if not tok or tok == "" then return nil, where, "oidc: token file " .. file .. " cannot be read or is empty" end
    token_box[1] = tok
    if not get_client then
      local oo = setmetatable({ sts_region = providers.nonempty(names.region and os.getenv(names.region)) }, { __index = o })
      -- Anonymous "credentials": the call goes unsigned. The token it carries is
      -- redacted from errors; re-read now and then, as the file rotates.
      get_client = sts_client(cloud, oo, provider("anonymous", function()
        return { id = "anonymous", key = "-", anonymous = true, redact = token_box[1],
                 expires_at = core.time() + 900 }
      end))
    end
    local params = { RoleSessionName = session_name(o), DurationSeconds = o.duration }
    if cloud == "tencent" then
      params.ProviderId, params.WebIdentityToken, params.RoleArn = pid, tok, role
    else
      params.OIDCToken, params.RoleTrn = tok, role
    end
    return sts_call(cloud, get_client, names.action, params, where, "oidc")
  end)
end

return M

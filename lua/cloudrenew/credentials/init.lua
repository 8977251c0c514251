-- The credential chain shared by both clouds (as in lua-resty-aws). A provider
-- is a small object: p.name and p:fetch() answering
--   { id, key, token, expires_at, source }       found (expires_at: unix s, nil = static)
--   nil, "where it looked"                       not here: the chain goes on
--   nil, "where it looked", "why not"            found but unusable: the chain stops
-- The clouds differ only in their provider lists (tencent.lua, volcengine.lua).
-- A keeper holds one client's current credentials, refreshes temporary ones
-- REFRESH_EARLY seconds before expiry (once, however many coroutines ask), and
-- lives only in client/init.lua's secret table.
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local roles = require("cloudrenew.credentials.roles")
local runtime = require("cloudrenew.net.runtime")

local M = {}

M.REFRESH_EARLY = 300      -- the SDKs' margin
M.WAIT = 60                -- longest a caller waits for another caller's refresh
M.RETRY_AFTER_FAILURE = 10 -- a failed early refresh is not tried again sooner
M.NAMES = { options = true, env = true, profile = true, instance_role = true, oidc = true }

local function cred_error(msg)
  return errors.client("Credentials", msg)
end

local function invalid(msg)
  return nil, errors.client("InvalidParameter", msg)
end

-- Metadata services speak plain http on link-local/internal addresses: allowed
-- there (and on loopback) for metadata_endpoint only; other hosts need https or
-- allow_insecure_http.
-- a.b.c.d with each part 0..255, as four numbers; nil for anything else.
local function ipv4(host)
  local a, b, c, d = host:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return a, b, c, d
end

-- The host is parsed out of the authority (no userinfo: "127.0.0.1@evil" names
-- evil) and compared as an address or an exact name, never as a text prefix.
local function metadata_url_ok(url, o)
  if url:find("[%c%s]") or #url > 2048 or url:find("[?#]") then return false end
  local scheme, authority = url:match("^(https?)://([^/]+)/?$")
  if not scheme or authority:find("@", 1, true) then return false end
  if scheme == "https" or o.allow_insecure_http then return true end
  local host = authority:match("^%[([^%]]+)%]:?%d*$") or authority:match("^([^:]+):?%d*$")
  if not host then return false end
  host = host:lower()
  if host == "localhost" or host == "::1" or host == "metadata.tencentyun.com" then return true end
  local a, b = ipv4(host)
  return a == 127 or (a == 169 and b == 254) or host == "100.96.0.96"
end

local SESSION = "^[%w+=,.@_%-]+$"

-- The credential options, checked; returns a table for the providers or nil, err.
function M.options(opts, o)
  local r = setmetatable({}, { __index = o })
  for _, k in ipairs({ "role_arn", "role_trn", "role_session_name", "role_name", "metadata_endpoint", "sts_endpoint" }) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "string" or v == "" or #v > 2048 or v:find("[%c%s]")) then
      return invalid(k .. " must be a non-empty string without spaces or control characters")
    end
    r[k] = v
  end
  r.user_agent_part = opts.user_agent      -- o.user_agent is already prefixed
  if r.role_session_name and (#r.role_session_name < 2 or #r.role_session_name > 64 or not r.role_session_name:find(SESSION)) then
    return invalid("role_session_name must be 2-64 characters of letters, digits and +=,.@_-")
  end
  if r.role_name and (not r.role_name:find(SESSION) or r.role_name:find("^%.+$")) then
    return invalid("role_name must be a role name")
  end
  if r.metadata_endpoint then
    r.metadata_endpoint = r.metadata_endpoint:gsub("/+$", "")
    if not metadata_url_ok(r.metadata_endpoint, o) then
      return invalid("metadata_endpoint must be an http(s) URL without a path; plain http:// only to "
        .. "the metadata hosts, a link-local (169.254.x.x) or loopback address, or with allow_insecure_http")
    end
  end
  if r.sts_endpoint and not r.sts_endpoint:find("^https?://[^/?#]+/?$") then
    return invalid("sts_endpoint must be an http(s) URL without a path, e.g. https://sts.tencentcloudapi.com")
  end
  for _, k in ipairs({ "duration", "refresh_early" }) do
    local v, lo, hi, int = opts[k], k == "duration" and 900 or 0, k == "duration" and 43200 or 3600, k == "duration"
    if v ~= nil and (type(v) ~= "number" or v ~= v or (int and v % 1 ~= 0) or v < lo or v > hi) then
      return invalid(string.format("%s must be %s of seconds in [%d, %d]", k, int and "a whole number" or "a number", lo, hi))
    end
    r[k] = v and (math.tointeger and math.tointeger(v) or v)
  end
  local c = opts.credentials
  if c ~= nil and not (type(c) == "string" and M.NAMES[c]) and not (type(c) == "table" and type(c.fetch) == "function") then
    return invalid("credentials must be one of options, env, profile, instance_role, oidc, "
      .. "or a provider object { name = ..., fetch = function(self) ... end }")
  end
  return r
end

-- A provider object from a caller: guarded, so a raise is an error value.
local function guarded(p)
  local name = type(p.name) == "string" and p.name or "custom"
  return { name = name, fetch = function()
    local ok, c, looked, why = pcall(p.fetch, p)
    if not ok then return nil, "provider " .. name, name .. ": raised: " .. errors.text(c, 200) end
    return c, looked or ("provider " .. name), why
  end }
end

-- A list of providers as one provider: the first that answers, then that one.
function M.chain_provider(list, name)
  local chosen
  return { name = name or "chain", fetch = function()
    if chosen then return chosen:fetch() end
    local looked = {}
    for _, p in ipairs(list) do
      local c, where, why = p:fetch()
      if c then chosen = p; return c end
      if why then return nil, where, why end
      looked[#looked + 1] = where
    end
    return nil, table.concat(looked, ", ")
  end }
end

local function check_creds(c)
  for _, k in ipairs({ "id", "key" }) do
    if type(c[k]) ~= "string" or c[k] == "" or c[k]:find("%c") then return k end
  end
  if c.token ~= nil and (type(c.token) ~= "string" or c.token:find("%c")) then return "token" end
  local e = c.expires_at
  if e ~= nil and (type(e) ~= "number" or e ~= e or e == math.huge or e == -math.huge) then return "expires_at" end
end

local Keeper = {}
Keeper.__index = Keeper

-- Install creds as the current triple (one table: a request signs with all of
-- one, never a mix). Old secrets stay on the redaction list for a while.
function Keeper:set(client, c)
  local cur = { id = c.id, key = c.key, token = c.token ~= "" and c.token or nil, expires_at = c.expires_at,
                anonymous = c.anonymous, list = self.list }
  for _, f in ipairs(errors.secret_forms{ c.key, cur.token, c.redact }) do self.list[#self.list + 1] = f end
  while #self.list > 48 do table.remove(self.list, 1) end
  self.current = cur
  if client then
    client.key_id, client[self.id_field] = cur.id, cur.id
    client.credential_source = c.source or self.provider.name
    client.credential_warning = c.warning
  end
  return cur
end

-- A request signed in the last second could reach the cloud after expiry.
M.MARGIN = 1
local function usable(cur, now)
  return cur and (not cur.expires_at or now < cur.expires_at - M.MARGIN)
end

-- Fetch from the chosen provider; never raises. Returns creds or nil, err.
function Keeper:fetch()
  local ok, c, where, why = pcall(self.provider.fetch, self.provider)
  if ok and type(c) == "table" then
    local bad = check_creds(c)
    if not bad then return c end
    why = self.provider.name .. ": answered credentials without a usable " .. bad
  elseif not ok then
    why = self.provider.name .. ": raised: " .. errors.text(c, 200)
  end
  return nil, cred_error("credentials from " .. self.provider.name .. " could not be refreshed: "
    .. tostring(why or ("nothing at " .. tostring(where))))
end

-- The current triple, refreshed first when due. nil, err only when no valid
-- credential is left.
function Keeper:get(client)
  local now = core.time()
  local cur = self.current
  -- due early; never later than the last second in which it is still used
  if cur and (not cur.expires_at or now < cur.expires_at - math.max(self.early, M.MARGIN)) then return cur end
  -- A refresh left hanging (its coroutine abandoned) is taken over after M.WAIT.
  if self.refreshing and core.monotonic() - self.refreshing > M.WAIT then self.refreshing = false end
  if usable(cur, now) and (self.refreshing or now < self.retry_at) then return cur end
  if self.refreshing then
    -- Another coroutine is refreshing: wait for it (runtime.sleep yields inside map).
    local limit = core.monotonic() + M.WAIT
    while self.refreshing and core.monotonic() < limit do runtime.sleep(0.01) end
    if self.current ~= cur and usable(self.current, core.time()) then return self.current end
    return nil, self.last_error or cred_error("credentials from " .. self.provider.name
      .. " expired and another caller's refresh did not finish in " .. M.WAIT .. " s")
  end
  self.refreshing = core.monotonic()      -- when it started
  local c, err = self:fetch()
  self.refreshing = false
  if c then return self:set(client, c) end
  self.last_error, self.retry_at = err, core.time() + M.RETRY_AFTER_FAILURE
  if usable(cur, core.time()) then return cur end     -- an early refresh failed: keep going
  return nil, err
end

-- The chain for one client: cloud_list(opts, r) -> ordered providers.
-- Returns a keeper holding the first credentials found, or nil, err listing
-- every place looked at.
function M.keeper(cloud, label, id_field, opts, o, cloud_list)
  local r, err = M.options(opts, o)
  if not r then return nil, err end
  local list
  if type(opts.credentials) == "table" then
    list = { guarded(opts.credentials) }
  else
    list = {}
    for _, p in ipairs(cloud_list(opts, r)) do
      if opts.credentials == nil or p.name == opts.credentials then list[#list + 1] = p end
    end
  end
  local role = cloud == "tencent" and r.role_arn or r.role_trn
  if role then list = { roles.assume_role(cloud, r, M.chain_provider(list, "source")) } end
  local looked = {}
  for _, p in ipairs(list) do
    local k = setmetatable({ provider = p, list = {}, early = r.refresh_early or M.REFRESH_EARLY,
                             retry_at = 0, id_field = id_field }, Keeper)
    local ok, c, where, why = pcall(p.fetch, p)
    if not ok then return nil, cred_error(p.name .. ": raised: " .. errors.text(c, 200)) end
    if c then
      local bad = check_creds(c)
      if bad then return nil, cred_error(p.name .. ": answered credentials without a usable " .. bad) end
      k:set(nil, c)
      k.source, k.warning = c.source or p.name, c.warning
      return k
    end
    if why then return nil, cred_error(why) end
    looked[#looked + 1] = where
  end
  return nil, cred_error("no " .. label .. " credentials found; looked at " .. table.concat(looked, ", "))
end

-- The credentials a client with these options would start with (for checks and
-- scripts; the caller's own secrets): { id, key, token, source } or nil, err.
local function first(cloud, opts)
  local mod = require("cloudrenew.client." .. cloud)
  local k, err = M.keeper(cloud, mod.CREDENTIALS_LABEL, "key_id", opts or {}, {}, mod.credential_providers)
  if not k then return nil, err end
  local c = k.current
  return { id = c.id, key = c.key, token = c.token, source = k.source, expires_at = c.expires_at,
           warning = k.warning }
end

function M.tencent(opts) return first("tencent", opts) end
function M.volcengine(opts) return first("volcengine", opts) end

return M

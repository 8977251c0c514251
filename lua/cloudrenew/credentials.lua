-- Credential providers, tried in the official SDKs' order. Each provider returns
-- creds, or nil plus a note on where it looked (or an error for a half-set pair).
local json = require("cloudrenew.json")
local errors = require("cloudrenew.errors")

local M = {}

local function home()
  return os.getenv("HOME") or "~"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function nonempty(s)
  if type(s) == "string" and s ~= "" then return s end
end

-- A pair: both halves or neither; one half alone is an error worth reporting.
local function pair(id, key, id_name, key_name, where)
  id, key = nonempty(id), nonempty(key)
  if id and key then return true end
  if id or key then
    return nil, string.format("%s: %s is set but %s is not", where,
      id and id_name or key_name, id and key_name or id_name)
  end
  return false
end

-- Minimal INI reader: [section] then key = value.
local function ini_section(text, section)
  local out, current = {}, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    local s = line:match("^%[(.-)%]$")
    if s then
      current = s
    elseif current == section and line ~= "" and not line:find("^[#;]") then
      local k, v = line:match("^([^=]-)%s*=%s*(.*)$")
      if k then out[k] = v end
    end
  end
  return out
end

-- Tencent: options -> env -> INI profile -> tccli JSON.
function M.tencent(opts)
  local looked = {}
  local ok, perr = pair(opts.secret_id, opts.secret_key, "secret_id", "secret_key", "options")
  if ok then
    return { id = opts.secret_id, key = opts.secret_key, token = nonempty(opts.token), source = "options" }
  elseif ok == nil then
    return nil, errors.client("Credentials", perr)
  end
  looked[#looked + 1] = "options secret_id/secret_key"

  local eid, ekey = os.getenv("TENCENTCLOUD_SECRET_ID"), os.getenv("TENCENTCLOUD_SECRET_KEY")
  ok, perr = pair(eid, ekey, "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "environment")
  if ok then
    return { id = eid, key = ekey, token = nonempty(os.getenv("TENCENTCLOUD_SESSION_TOKEN")), source = "env" }
  elseif ok == nil then
    return nil, errors.client("Credentials", perr)
  end
  looked[#looked + 1] = "env TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY"

  local profile = opts.profile or "default"
  local path = nonempty(os.getenv("TENCENTCLOUD_CREDENTIALS_FILE")) or (home() .. "/.tencentcloud/credentials")
  local text = read_file(path)
  if text then
    local s = ini_section(text, profile)
    ok, perr = pair(s.secret_id, s.secret_key, "secret_id", "secret_key", path .. " [" .. profile .. "]")
    if ok then
      return { id = s.secret_id, key = s.secret_key, token = nonempty(s.token), source = path }
    elseif ok == nil then
      return nil, errors.client("Credentials", perr)
    end
  end
  looked[#looked + 1] = "file " .. path .. " [" .. profile .. "]"

  path = home() .. "/.tccli/" .. profile .. ".credential"
  text = read_file(path)
  if text then
    local t = json.decode(text)
    if type(t) ~= "table" then
      return nil, errors.client("Credentials", path .. " is not valid JSON")
    end
    ok, perr = pair(t.secretId, t.secretKey, "secretId", "secretKey", path)
    if ok then
      return { id = t.secretId, key = t.secretKey, token = nonempty(t.token), source = path }
    elseif ok == nil then
      return nil, errors.client("Credentials", perr)
    end
  end
  looked[#looked + 1] = "file " .. path

  return nil, errors.client("Credentials",
    "no Tencent Cloud credentials found; looked at " .. table.concat(looked, ", "))
end

-- Volcengine: options -> VOLCENGINE_* env -> VOLC_* env -> ~/.volc/config.
function M.volcengine(opts)
  local looked = {}
  local ok, perr = pair(opts.access_key, opts.secret_key, "access_key", "secret_key", "options")
  if ok then
    return { id = opts.access_key, key = opts.secret_key, token = nonempty(opts.session_token), source = "options" }
  elseif ok == nil then
    return nil, errors.client("Credentials", perr)
  end
  looked[#looked + 1] = "options access_key/secret_key"

  for _, names in ipairs({
    { "VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY", "VOLCENGINE_SESSION_TOKEN" },
    { "VOLC_ACCESSKEY", "VOLC_SECRETKEY", "VOLC_SESSIONTOKEN" },
  }) do
    local ak, sk = os.getenv(names[1]), os.getenv(names[2])
    ok, perr = pair(ak, sk, names[1], names[2], "environment")
    if ok then
      return { id = ak, key = sk, token = nonempty(os.getenv(names[3])), source = "env" }
    elseif ok == nil then
      return nil, errors.client("Credentials", perr)
    end
    looked[#looked + 1] = "env " .. names[1] .. "/" .. names[2]
  end

  local path = home() .. "/.volc/config"
  local text = read_file(path)
  if text then
    local t = json.decode(text)
    if type(t) ~= "table" then
      return nil, errors.client("Credentials", path .. " is not valid JSON")
    end
    ok, perr = pair(t.ak, t.sk, "ak", "sk", path)
    if ok then
      return { id = t.ak, key = t.sk, token = nonempty(t.session_token), source = path }
    elseif ok == nil then
      return nil, errors.client("Credentials", perr)
    end
  end
  looked[#looked + 1] = "file " .. path

  return nil, errors.client("Credentials",
    "no Volcengine credentials found; looked at " .. table.concat(looked, ", "))
end

return M

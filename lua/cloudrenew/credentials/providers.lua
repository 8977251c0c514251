-- Credential providers that read what is on this host: options, environment,
-- profile files. Each provider is a small object (see credentials/init.lua):
--   p.name, p:fetch() -> { id, key, token, expires_at }      found
--                      | nil, "where it looked"              not here
--                      | nil, "where it looked", "why not"   found but unusable
-- Secrets stay in locals and upvalues: the objects hold no secret fields.
local json = require("cloudrenew.client.json")

local M = {}

local function nonempty(s)
  if type(s) == "string" and s ~= "" then return s end
end
M.nonempty = nonempty

function M.home()
  return os.getenv("HOME") or "~"
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
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

-- where = { id name, key name, place for messages, source to report }
local function found(id, key, token, where, looked)
  local ok, perr = pair(id, key, where[1], where[2], where[3])
  if ok then return { id = id, key = key, token = nonempty(token), source = where[4] } end
  return nil, looked, perr
end

local function provider(name, fetch)
  return { name = name, fetch = fetch }
end

-- Explicit options: names = { "secret_id", "secret_key", "token" }.
function M.options(opts, names)
  local id, key, token = opts[names[1]], opts[names[2]], opts[names[3]]
  return provider("options", function()
    return found(id, key, token, { names[1], names[2], "options", "options" },
      "options " .. names[1] .. "/" .. names[2])
  end)
end

-- Environment variables: names = { ID_VAR, KEY_VAR, TOKEN_VAR }.
function M.env(names)
  return provider("env", function()
    return found(os.getenv(names[1]), os.getenv(names[2]), os.getenv(names[3]),
      { names[1], names[2], "environment", "env" }, "env " .. names[1] .. "/" .. names[2])
  end)
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

-- An INI profile file; path() is computed at fetch time (env may name it).
function M.ini(path_fn, profile, names)
  return provider("profile", function()
    local path = path_fn()
    local where = "file " .. path .. " [" .. profile .. "]"
    local text = M.read_file(path)
    if not text then return nil, where end
    local s = ini_section(text, profile)
    return found(s[names[1]], s[names[2]], s[names[3]],
      { names[1], names[2], path .. " [" .. profile .. "]", path }, where)
  end)
end

-- A JSON credentials file: names = { "secretId", "secretKey", "token" }.
function M.json_file(path_fn, names)
  return provider("profile", function()
    local path = path_fn()
    local text = M.read_file(path)
    if not text then return nil, "file " .. path end
    local t = json.decode(text)
    if type(t) ~= "table" then return nil, "file " .. path, path .. " is not valid JSON" end
    return found(t[names[1]], t[names[2]], t[names[3]], { names[1], names[2], path, path }, "file " .. path)
  end)
end

return M

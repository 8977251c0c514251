-- Error values: plain tables with a readable __tostring. Runtime failures are
-- returned as `nil, err`; only programming errors raise.
local M = {}

local mt = {}
mt.__index = mt

-- How long a field may be once shaped: a hostile or broken server must not be
-- able to fill a log line, a terminal or a report with megabytes.
M.MAX = { code = 128, request_id = 128, action = 256, outcome = 32 }
M.MAX_TEXT = 1024

-- Any value -> a printable, bounded string (control bytes become spaces).
function M.text(v, max)
  if v == nil then return nil end
  max = max or M.MAX_TEXT
  local s
  if type(v) == "string" then s = v
  elseif type(v) == "number" or type(v) == "boolean" then s = tostring(v)
  else s = "(" .. type(v) .. ")" end
  s = s:gsub("%c", " ")
  if #s > max then s = s:sub(1, max) .. "..." end
  return s
end

local function field(e, k)
  return M.text(rawget(e, k), M.MAX[k])
end

mt.__tostring = function(e)
  local parts = { field(e, "code") or "Error", ": ", field(e, "message") or "" }
  local extra = {}
  for _, k in ipairs({ "action", "status", "request_id", "outcome" }) do
    local v = field(e, k)
    if v then extra[#extra + 1] = k .. "=" .. v end
  end
  if #extra > 0 then parts[#parts + 1] = " (" .. table.concat(extra, ", ") .. ")" end
  return table.concat(parts)
end

-- Errors read as strings where Lua code expects one: "failed: " .. err.
mt.__concat = function(a, b)
  return tostring(a) .. tostring(b)
end

M.metatable = mt

function M.new(fields)
  if fields.retryable == nil then fields.retryable = false end
  return setmetatable(fields, mt)
end

-- A client-side error: code "ClientError.<kind>".
function M.client(kind, message, fields)
  fields = fields or {}
  fields.code = "ClientError." .. kind
  fields.message = message
  fields.outcome = fields.outcome or "not_executed"
  return M.new(fields)
end

function M.is(v)
  return getmetatable(v) == mt
end

-- The list to redact for some secrets: each one raw and percent-encoded (a
-- proxy or a cloud quoting a header or URL back). Computed once per client.
function M.secret_forms(secrets)
  local out = {}
  for _, secret in pairs(secrets) do
    if type(secret) == "string" and #secret >= 4 then
      out[#out + 1] = secret
      local enc = secret:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)
      if enc ~= secret then out[#out + 1] = enc; out[#out + 1] = enc:lower() end
    end
  end
  return out
end

-- Remove every occurrence of the given strings from s (defence in depth: a
-- cloud or proxy message could echo a header back).
function M.redact(s, secrets)
  if type(s) ~= "string" or not secrets then return s end
  for _, secret in ipairs(secrets) do
    if type(secret) == "string" and #secret >= 4 then
      local from = 1
      while true do
        local i, j = s:find(secret, from, true)
        if not i then break end
        s = s:sub(1, i - 1) .. "***" .. s:sub(j + 1)
        from = i + 3
      end
    end
  end
  return s
end

-- Redact every string (keys and values) of a table tree in place; with bound,
-- also cut each string value to its field's limit, after redaction, so a cut
-- never leaves half a secret behind.
local function scrub(t, secrets, bound, seen)
  if seen[t] then return t end
  seen[t] = true
  local renames
  for k, v in pairs(t) do
    if type(v) == "string" then
      local r = M.redact(v, secrets)
      if bound then r = M.text(r, M.MAX[k]) end
      if r ~= v then t[k] = r end
    elseif type(v) == "table" then
      scrub(v, secrets, bound, seen)
    end
    if type(k) == "string" then
      local rk = M.redact(k, secrets)
      if rk ~= k then renames = renames or {}; renames[k] = rk end
    end
  end
  for k, rk in pairs(renames or {}) do
    t[rk], t[k] = t[k], nil
  end
  return t
end

-- An error: every string field redacted and bounded, nested tables too.
function M.scrub(err, secrets)
  return scrub(err, secrets, true, {})
end

-- A decoded answer: redacted only (its data must stay whole).
function M.scrub_data(t, secrets)
  return scrub(t, secrets, false, {})
end

return M

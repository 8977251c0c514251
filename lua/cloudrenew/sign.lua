-- Public signing API (DESIGN.md): for callers that send requests themselves,
-- e.g. from OpenResty cosockets. Any bad input gives nil, ClientError.InvalidParameter
-- and never a raise: every field is checked here before the C signer sees it.
local core = require("cloudrenew.core")
local errors = require("cloudrenew.errors")

local M = {}

-- Largest timestamp whose UTC date still has four digits (9999-12-31T23:59:59Z).
M.MAX_TIMESTAMP = 253402300799

local function bad(fn, msg)
  return nil, errors.client("InvalidParameter", fn .. ": " .. msg)
end

-- Shapes of the fields that end up in a signed scope, a header or the request
-- line. Anything else (a NUL, CR/LF, a space, "/" in a scope part) would make
-- the signature ambiguous or the request malformed, so it is refused, not escaped.
local SHAPE = {
  id = { "^[^%c%s/,]+$", "printable, without spaces, '/' or ','" },
  scope = { "^[%w%-_.]+$", "letters, digits, '-', '_' or '.'" },
  host = { "^[%w%-_.:%[%]]+$", "a host name or host:port" },
  method = { "^[A-Z]+$", "an upper-case HTTP method such as POST" },
  line = { "^[^%c]+$", "one line of text without control characters" },
}

local function check(fn, t, k, shape, optional, dflt)
  local v = t[k]
  if v == nil and optional then return dflt end
  local s = SHAPE[shape]
  if type(v) ~= "string" or #v > 4096 or not v:find(s[1]) then
    return nil, fn .. ": " .. k .. " must be a string: " .. s[2]
  end
  return v
end

-- A non-empty string of raw bytes (secret keys), or an optional string (payload, body).
local function bytes(fn, t, k, optional)
  local v = t[k]
  if v == nil and optional then return "" end
  if type(v) ~= "string" or (not optional and v == "") then
    return nil, fn .. ": " .. k .. (optional and " must be a string" or " is required (a string)")
  end
  return v
end

local function finite(v)
  return v == v and v ~= math.huge and v ~= -math.huge
end

-- Query/header values: strings as they are, integral numbers without ".0".
-- NaN and infinities have no meaning on the wire: nil, like any other non-scalar.
function M.value(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if not finite(v) then return nil end
    if v % 1 == 0 and v > -2^53 and v < 2^53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if t == "boolean" then return tostring(v) end
  return nil
end

-- A header value is one line: no control character but tab.
local function header_value(v)
  return v ~= nil and not v:gsub("\t", " "):find("%c")
end

local function string_map(what, t, allow_lists)
  local out = {}
  if t == nil then return out end
  if type(t) ~= "table" then return nil, what .. " must be a table" end
  local header = what == "headers"
  for k, v in pairs(t) do
    if type(k) ~= "string" or k == "" or (header and not k:find("^[%w!#$%%&'*+%-.^_`|~]+$")) then
      return nil, what .. " names must be " .. (header and "header names (letters, digits, '-')" or "non-empty strings")
    end
    if allow_lists and type(v) == "table" then
      local list = {}
      for i, x in ipairs(v) do
        list[i] = M.value(x)
        if not list[i] then return nil, what .. " " .. k .. " has a value that is not a string or finite number" end
      end
      for i in pairs(v) do
        if not list[i] then return nil, what .. " " .. k .. " must be a list of scalars" end
      end
      out[k] = list
    else
      out[k] = M.value(v)
      if not out[k] or (header and not header_value(out[k])) then
        return nil, what .. " " .. k .. " must be a string or finite number" .. (header and " on one line" or "")
      end
    end
  end
  return out
end

-- Drop any entry whose lower-cased name equals `lname`, then set it.
local function set_header(h, name, value)
  for k in pairs(h) do
    if k:lower() == name:lower() then h[k] = nil end
  end
  h[name] = value
end

-- Run the checks in order; the first failure is the answer.
local function fields(fn, t, list)
  local out = {}
  for _, c in ipairs(list) do
    local v, err
    if c[2] == "bytes" then v, err = bytes(fn, t, c[1], c[3])
    else v, err = check(fn, t, c[1], c[2], c[3], c[4]) end
    if err then return nil, err end
    out[c[1]] = v
  end
  return out
end

function M.tc3(t)
  local fn = "sign.tc3"
  if type(t) ~= "table" then return bad(fn, "argument must be a table") end
  local f, msg = fields(fn, t, {
    { "secret_id", "id" }, { "secret_key", "bytes" }, { "service", "scope" }, { "host", "host" },
    { "method", "method", true, "POST" }, { "content_type", "line", true, "application/json" },
    { "payload", "bytes", true },
  })
  if not f then return nil, errors.client("InvalidParameter", msg) end
  -- The query is sent as is (already encoded): printable, no spaces, no fragment.
  local query = t.query == nil and "" or t.query
  if type(query) ~= "string" or query:find("[%c%s#]") then
    return bad(fn, "query must be an encoded query string (no spaces or control characters)")
  end
  local ts = t.timestamp
  if type(ts) ~= "number" or not finite(ts) or ts < 0 or ts % 1 ~= 0 or ts > M.MAX_TIMESTAMP then
    return bad(fn, "timestamp must be unix seconds (an integer from 0 to " .. M.MAX_TIMESTAMP .. ")")
  end
  local headers, herr = string_map("headers", t.headers)
  if not headers then return bad(fn, herr) end
  set_header(headers, "Content-Type", f.content_type)
  set_header(headers, "Host", f.host)
  local d, err = core.tc3_sign{
    secret_id = f.secret_id, secret_key = f.secret_key, service = f.service,
    timestamp = ts, method = f.method, query = query, payload = f.payload, headers = headers,
  }
  if not d then return bad(fn, err) end
  d.canonical_query = nil
  return d.authorization, d
end

function M.volc(t)
  local fn = "sign.volc"
  if type(t) ~= "table" then return bad(fn, "argument must be a table") end
  local f, msg = fields(fn, t, {
    { "access_key", "id" }, { "secret_key", "bytes" }, { "service", "scope" }, { "region", "scope" },
    { "date", "line" }, { "method", "method", true, "GET" }, { "path", "line", true, "/" },
    { "body", "bytes", true },
  })
  if not f then return nil, errors.client("InvalidParameter", msg) end
  if not f.date:find("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$") then
    return bad(fn, "date must be YYYYMMDDTHHMMSSZ (UTC), got " .. string.format("%q", f.date:sub(1, 40)))
  end
  if not f.path:find("^/[^%s?#]*$") then
    return bad(fn, "path must start with '/' and hold no spaces, '?' or '#'")
  end
  local query, qerr = string_map("query", t.query, true)
  if not query then return bad(fn, qerr) end
  local headers, herr = string_map("headers", t.headers)
  if not headers then return bad(fn, herr) end
  local has_date = false
  for k in pairs(headers) do if k:lower() == "x-date" then has_date = true end end
  if not has_date then headers["X-Date"] = f.date end
  local d, err = core.volc_sign{
    access_key = f.access_key, secret_key = f.secret_key, service = f.service,
    region = f.region, date = f.date, method = f.method, path = f.path,
    query = query, headers = headers, body = f.body,
  }
  if not d then return bad(fn, err) end
  return d.authorization, d
end

return M

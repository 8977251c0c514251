-- Public signing API (DESIGN.md): for callers that send requests themselves,
-- e.g. from OpenResty cosockets. Bad input gives nil, ClientError.InvalidParameter.
local core = require("cloudrenew.core")
local errors = require("cloudrenew.errors")

local M = {}

local function bad(fn, msg)
  return nil, errors.client("InvalidParameter", fn .. ": " .. msg)
end

local function need(fn, t, names)
  for _, k in ipairs(names) do
    if type(t[k]) ~= "string" or t[k] == "" then return fn .. ": " .. k .. " is required (a string)" end
  end
end

-- Query/header values: strings as they are, integral numbers without ".0".
function M.value(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v % 1 == 0 and v > -2^53 and v < 2^53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if t == "boolean" then return tostring(v) end
  return nil
end

local function string_map(fn, what, t, allow_lists)
  local out = {}
  if t == nil then return out end
  if type(t) ~= "table" then return nil, fn .. ": " .. what .. " must be a table" end
  for k, v in pairs(t) do
    if type(k) ~= "string" then return nil, fn .. ": " .. what .. " names must be strings" end
    if allow_lists and type(v) == "table" then
      local list = {}
      for i, x in ipairs(v) do
        list[i] = M.value(x)
        if not list[i] then return nil, fn .. ": " .. what .. " " .. k .. " has a non-scalar value" end
      end
      out[k] = list
    else
      out[k] = M.value(v)
      if not out[k] then return nil, fn .. ": " .. what .. " " .. k .. " must be a string or number" end
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

function M.tc3(t)
  local fn = "sign.tc3"
  if type(t) ~= "table" then return bad(fn, "argument must be a table") end
  local msg = need(fn, t, { "secret_id", "secret_key", "service", "host" })
  if msg then return nil, errors.client("InvalidParameter", msg) end
  if type(t.timestamp) ~= "number" or t.timestamp < 0 or t.timestamp % 1 ~= 0 then
    return bad(fn, "timestamp must be unix seconds (an integer)")
  end
  local headers, herr = string_map(fn, "headers", t.headers)
  if not headers then return bad(fn, herr:sub(#fn + 3)) end
  set_header(headers, "Content-Type", t.content_type or "application/json")
  set_header(headers, "Host", t.host)
  local method = t.method or "POST"
  local d, err = core.tc3_sign{
    secret_id = t.secret_id, secret_key = t.secret_key, service = t.service,
    timestamp = t.timestamp, method = method, query = t.query or "",
    payload = t.payload or "", headers = headers,
  }
  if not d then return bad(fn, err) end
  d.canonical_query = nil
  return d.authorization, d
end

function M.volc(t)
  local fn = "sign.volc"
  if type(t) ~= "table" then return bad(fn, "argument must be a table") end
  local msg = need(fn, t, { "access_key", "secret_key", "service", "region", "date" })
  if msg then return nil, errors.client("InvalidParameter", msg) end
  if not t.date:find("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$") then
    return bad(fn, "date must be YYYYMMDDTHHMMSSZ (UTC), got " .. t.date)
  end
  local query, qerr = string_map(fn, "query", t.query, true)
  if not query then return bad(fn, qerr:sub(#fn + 3)) end
  local headers, herr = string_map(fn, "headers", t.headers)
  if not headers then return bad(fn, herr:sub(#fn + 3)) end
  local has_date = false
  for k in pairs(headers) do if k:lower() == "x-date" then has_date = true end end
  if not has_date then headers["X-Date"] = t.date end
  local d, err = core.volc_sign{
    access_key = t.access_key, secret_key = t.secret_key, service = t.service,
    region = t.region, date = t.date, method = t.method or "GET", path = t.path or "/",
    query = query, headers = headers, body = t.body or "",
  }
  if not d then return bad(fn, err) end
  return d.authorization, d
end

return M

-- One number is one number. JSON decoders on Lua 5.3/5.4 hand over 1.0 where the
-- caller meant 1; a float and an integer that compare equal still print, key and
-- encode differently ("1.0" vs "1"). Everything entering the public API passes
-- through here once, so everything downstream sees one canonical form.
-- On Lua 5.1/LuaJIT every number is a double and tostring(1.0) == "1" already.
local M = {}

local tointeger = math.tointeger   -- nil before Lua 5.3
local huge = math.huge

-- 2^53: above this a double no longer holds every integer, so "integral" means
-- nothing about what the caller typed.
M.MAX_EXACT = 9007199254740992

function M.finite(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge
end

-- An integral finite number (1, 1.0, -3), whatever its subtype.
function M.integral(v)
  return M.finite(v) and v == math.floor(v)
end

-- Canonical form of one value: an integral finite float becomes an integer where
-- the language has integers; every other value (fractions, NaN, inf, strings,
-- tables) comes back unchanged, for validation to judge.
function M.canon(v)
  if tointeger and type(v) == "number" then
    return tointeger(v) or v
  end
  return v
end

-- Integer from v, or nil: accepts 3 and 3.0, refuses 3.5, NaN, inf, strings.
-- lo/hi (optional) bound the result.
function M.int(v, lo, hi)
  if not M.integral(v) then return nil end
  v = M.canon(v)
  if (lo and v < lo) or (hi and v > hi) then return nil end
  return v
end

-- How a value reads in a message: numbers canonical ("13", not "13.0"; "nan",
-- never "-nan"), strings quoted, tables and functions by type.
function M.show(v)
  local t = type(v)
  if t == "number" then
    if v ~= v then return "nan" end
    if v == huge then return "inf" end
    if v == -huge then return "-inf" end
    return tostring(M.canon(v))
  elseif t == "string" then
    return string.format("%q", v)
  elseif t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return "a " .. t   -- never an address: messages stay stable and comparable
end

local MAX_DEPTH = 32

local function copy(v, depth, seen)
  if seen[v] then return nil, "refers to itself (a cycle)" end
  if depth > MAX_DEPTH then return nil, "is nested deeper than " .. MAX_DEPTH .. " levels" end
  seen[v] = true
  local out = {}
  for k, x in pairs(v) do
    local tx = type(x)
    if tx == "table" then
      local err
      x, err = copy(x, depth + 1, seen)
      if err then return nil, err end
    elseif tointeger and tx == "number" then
      x = tointeger(x) or x
    end
    if tointeger and type(k) == "number" then k = tointeger(k) or k end
    out[k] = x
  end
  seen[v] = nil
  -- Keep array/object markers (e.g. cjson.empty_array_mt) the encoder relies on.
  local mt = getmetatable(v)
  if type(mt) == "table" then setmetatable(out, mt) end
  return out
end

-- A normalised COPY of a parameter table (never the caller's own table): every
-- number inside canonical, keys too. Non-finite numbers are kept for validation to
-- refuse with the field's name. Returns copy, or nil and a reason for a cyclic or
-- absurdly deep table (so a caller's mistake never becomes a stack overflow).
function M.deep(t)
  if type(t) ~= "table" then return M.canon(t) end
  return copy(t, 1, {})
end

return M

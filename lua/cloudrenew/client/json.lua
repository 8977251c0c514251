-- JSON through a private lua-cjson instance (so we never change the caller's
-- global cjson settings). Decoded JSON null is dropped from objects (a field that
-- "may be null" reads as nil) and integral numbers become Lua integers.
local cjson = require("cjson")
local core = require("cloudrenew.core")

local M = {}
local codec = cjson.new()
codec.encode_sparse_array(true)           -- a sparse list is a caller bug: refuse it
codec.decode_max_depth(64)

M.null = cjson.null

local tointeger = math.tointeger

local null = cjson.null

-- A decoded table in place: nulls dropped from objects (kept in arrays, where
-- they hold a position), integral numbers made integers. Strings and booleans
-- are left as they are (no call, no write back).
local function clean(v)
  local n = #v
  for k, x in pairs(v) do
    local tx = type(x)
    if tx == "table" then
      clean(x)
    elseif tx == "number" then
      if tointeger then
        local i = tointeger(x)
        if i then v[k] = i end
      end
    elseif x == null then
      if type(k) ~= "number" or k > n then v[k] = nil end
    end
  end
  return v
end

function M.decode(s)
  local ok, v = pcall(codec.decode, s)
  if not ok then return nil, tostring(v) end
  if type(v) == "table" then return clean(v) end
  if tointeger and type(v) == "number" then return tointeger(v) or v end
  return v
end

-- lua-cjson 2.1 writes every number with "%.14g": 12345678901234567 would go out
-- as 1.2345678901235e+16 and 0.1 + 0.2 as 0.3, a different number the cloud would
-- act on, and 10^14 as 1e+14, which integer fields refuse. Such a number is
-- written exactly instead: integers in full digits, other values with the 17
-- digits that read back as the same double. Every other number keeps cjson's form.
local huge, fmt, mtype = math.huge, string.format, math.type
local function exact(v)   -- the text to send, or nil when cjson's is exact already
  if v ~= v or v == huge or v == -huge then return nil end   -- cjson refuses these
  if v % 1 == 0 then
    if v > -1e14 and v < 1e14 then return nil end
    if mtype and mtype(v) == "integer" then return fmt("%d", v) end
    if v > -1e21 and v < 1e21 then return fmt("%.0f", v) end
  end
  if tonumber(fmt("%.14g", v)) == v then return nil end
  return fmt("%.17g", v)
end

-- A copy of v where each number cjson would change is a placeholder string
-- ("\1" .. nonce .. index), its exact text in texts; v itself when nothing
-- changes. A string holding the nonce sets state.clash (a new nonce is drawn).
local MAX_WALK = 1000     -- cjson's own nesting limit: deeper, it refuses anyway
local function swap(v, st, depth)
  local t = type(v)
  if t == "number" then
    local text = exact(v)
    if not text then return v end
    st.n = st.n + 1
    st.texts[st.n] = text
    return "\1" .. st.nonce .. st.n
  elseif t == "string" then
    if v:find(st.nonce, 1, true) then st.clash = true end
    return v
  elseif t ~= "table" or depth > MAX_WALK or st.seen[v] then
    return v
  end
  st.seen[v] = true
  local out
  for k, x in next, v do      -- raw, as cjson walks it
    if type(k) == "string" and k:find(st.nonce, 1, true) then st.clash = true end
    local y = swap(x, st, depth + 1)
    if y ~= x then
      if not out then
        out = {}
        for k2, x2 in next, v do out[k2] = x2 end
      end
      out[k] = y
    end
  end
  st.seen[v] = nil
  if not out then return v end
  local mt = getmetatable(v)                  -- cjson.empty_array_mt and the like
  return type(mt) == "table" and setmetatable(out, mt) or out
end

-- Does any number of v need its exact text? The same raw walk as swap, without
-- copying or checking strings: most bodies hold only small integers and short
-- decimals, and then cjson's own text is exact and no placeholder (nor a clash
-- with one) can occur. `seen` is shared: the walk never yields and leaves it empty.
local seen_walk = {}
local function inexact(v, depth)
  local t = type(v)
  if t == "number" then return exact(v) ~= nil end
  if t ~= "table" or depth > MAX_WALK or seen_walk[v] then return false end
  seen_walk[v] = true
  local found = false
  for _, x in next, v do
    if inexact(x, depth + 1) then found = true; break end
  end
  seen_walk[v] = nil
  return found
end

local nonce   -- drawn once; again only if a string happens to hold it
function M.encode(v)
  if not inexact(v, 1) then
    local ok, s = pcall(codec.encode, v)
    if not ok then return nil, tostring(v and s) end
    return s
  end
  local st, w
  for _ = 1, 8 do
    nonce = nonce or core.random_hex(8)
    st = { n = 0, texts = {}, seen = {}, nonce = nonce }
    w = swap(v, st, 1)
    if not st.clash then break end
    nonce = nil
  end
  if st.clash then return nil, "parameters hold text that cannot be told from a number placeholder" end
  local ok, s = pcall(codec.encode, w)
  if not ok then return nil, tostring(v and s) end
  if st.n > 0 then
    s = s:gsub('"\\u0001' .. st.nonce .. '(%d+)"', function(i) return st.texts[tonumber(i)] end)
  end
  return s
end

return M

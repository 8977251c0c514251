-- JSON through a private lua-cjson instance (so we never change the caller's
-- global cjson settings). Decoded JSON null is dropped from objects (a field that
-- "may be null" reads as nil) and integral numbers become Lua integers.
local cjson = require("cjson")

local M = {}
local codec = cjson.new()
codec.encode_sparse_array(true)           -- a sparse list is a caller bug: refuse it
codec.decode_max_depth(64)

M.null = cjson.null

local tointeger = math.tointeger

local function clean(v)
  if type(v) == "table" then
    local n = #v
    for k, x in pairs(v) do
      if x == cjson.null then
        if type(k) ~= "number" or k > n then v[k] = nil end
      else
        v[k] = clean(x)
      end
    end
  elseif tointeger and type(v) == "number" then
    return tointeger(v) or v
  end
  return v
end

function M.decode(s)
  local ok, v = pcall(codec.decode, s)
  if not ok then return nil, tostring(v) end
  return clean(v)
end

function M.encode(v)
  local ok, s = pcall(codec.encode, v)
  if not ok then return nil, tostring(v and s) end
  return s
end

return M

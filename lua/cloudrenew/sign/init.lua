-- Public signing API (DESIGN.md): for callers that send requests themselves,
-- e.g. from OpenResty cosockets, where a gateway signs every request it passes
-- on. Any bad input gives nil, ClientError.InvalidParameter and never a raise.
-- The checks live in the C core (core.sign_tc3 / core.sign_volc, one pass over
-- the arguments): ids, service, region and host plain tokens, method upper-case
-- letters, text fields one line, header names tokens and values one line,
-- numbers formatted as sign.value does; this module only names the error.
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local mtype = math.type   -- nil before Lua 5.3

local M = {}

local function bad(fn, msg)
  return nil, errors.client("InvalidParameter", fn .. ": " .. msg)
end

-- The C signers call bad(name, message) themselves on a refusal, so sign.tc3
-- and sign.volc are the C functions: no Lua frame per signature.
core.sign_on_error(bad)

-- Largest timestamp whose UTC date still has four digits (9999-12-31T23:59:59Z).
M.MAX_TIMESTAMP = 253402300799

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
    if mtype and mtype(v) == "integer" then return string.format("%d", v) end   -- all 64 bits
    -- integral: every digit (never 1e+18, which integer fields refuse), else 17 digits
    if v % 1 == 0 and v > -1e21 and v < 1e21 then return string.format("%.0f", v) end
    return string.format("%.17g", v)
  end
  if t == "boolean" then return tostring(v) end
  return nil
end

-- sign.tc3(t) -> auth, detail (authorization, canonical_request, string_to_sign,
-- signed_headers, signature) | nil, err
M.tc3 = core.sign_tc3

-- sign.volc(t) -> auth, detail (as tc3's, plus canonical_query: the encoded query
-- to send) | nil, err
M.volc = core.sign_volc

-- On LuaJIT the same answers come faster through the FFI (sign/ffi.lua), which
-- passes anything but the plain case to the functions above.
M.ffi = false
if rawget(_G, "jit") and pcall(require, "ffi") then
  local fast = require("cloudrenew.sign.ffi")
  M.tc3, M.volc, M.ffi = fast.tc3, fast.volc, true
end

return M

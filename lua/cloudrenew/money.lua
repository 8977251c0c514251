-- Money as integer cents, so budgets are summed exactly (floats drift: 0.1 + 0.2).
-- Prices and caps are parsed from their decimal text; anything past the cent is
-- rounded against the caller's favour of spending: prices up, caps down. A cap
-- is therefore never exceeded by rounding.
local M = {}

-- 2^53 / 100: beyond this, integer cents stop being exact doubles on Lua 5.1/LuaJIT.
local MAX_CENTS = 9007199254740992 / 100

local function from_text(s, round)
  local neg, int, frac = s:match("^%s*(%-?)(%d*)%.?(%d*)%s*$")
  if not int or (int == "" and frac == "") then return nil end
  if not s:find("^%s*%-?%d*%.?%d*%s*$") then return nil end
  local cents = tonumber(int ~= "" and int or "0") * 100 + tonumber((frac .. "00"):sub(1, 2))
  local rest = frac:sub(3)
  if rest:find("[1-9]") then
    -- Past the cent: up for prices, down for caps, measured away from zero.
    if (round == "up") == (neg == "") then cents = cents + 1 end
  end
  if cents > MAX_CENTS then return nil end
  if neg == "-" then cents = -cents end
  return cents
end

-- value: a number or a decimal string ("12.34", "12", "0.5"). round: "up" | "down".
-- Returns integer cents, or nil when value is not a plain decimal amount.
function M.cents(value, round)
  local t = type(value)
  if t == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return nil end
    -- %.6f: exact for every amount a person types; floats like 0.1 become "0.100000".
    return from_text(string.format("%.6f", value), round)
  elseif t == "string" then
    return from_text(value, round)
  end
  return nil
end

-- Integer cents -> "1234.56" (the format Volcengine uses for amounts).
function M.format(cents)
  if cents == nil then return nil end
  local sign = cents < 0 and "-" or ""
  cents = math.abs(cents)
  return string.format("%s%d.%02d", sign, math.floor(cents / 100), math.floor(cents % 100))
end

return M

-- Money as integer cents, so budgets are summed exactly (floats drift: 0.1 + 0.2).
-- Prices and caps are parsed from their decimal text; anything past the cent is
-- rounded against the caller's favour of spending: prices up, caps down. A cap
-- is therefore never exceeded by rounding.
local M = {}

-- Nothing real costs over 10^12 in any currency; past that an amount is a bug or an
-- attack. 10^14 cents also keeps sums of many amounts exact doubles (< 2^53) on
-- Lua 5.1/LuaJIT.
M.MAX = 1000000000000
local MAX_CENTS = M.MAX * 100

-- Digits, at most one point, nothing else: no sign, exponent, hex, NaN or inf.
local function from_text(s, round)
  local int, frac = s:match("^%s*(%d*)%.?(%d*)%s*$")
  if not int or (int == "" and frac == "") then return nil end
  if not s:find("^%s*%d*%.?%d*%s*$") then return nil end
  int = int:match("^0*(%d*)$")
  -- Longer than 10^12 needs before the point: too large, whatever tonumber would say.
  if #int > 13 then return nil end
  local cents = tonumber(int ~= "" and int or "0") * 100 + tonumber((frac .. "00"):sub(1, 2))
  -- Past the cent: up for prices, down for caps.
  if round == "up" and frac:sub(3):find("[1-9]") then cents = cents + 1 end
  if cents > MAX_CENTS then return nil end
  return cents
end

-- value: a non-negative number or decimal string ("12.34", "12", "0.5", " 7 ").
-- round: "up" | "down". Returns integer cents, or nil when value is not such an
-- amount: negative, NaN, infinite, over M.MAX, "1e3", "0x10", "12.3.4", "", ...
function M.cents(value, round)
  local t = type(value)
  if t == "number" then
    if value ~= value or value < 0 or value > M.MAX then return nil end
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

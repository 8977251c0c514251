-- The clouds' dates <-> epoch seconds, strictly and without ever raising.
-- Accepted: "2020-04-10T02:47:36Z" (an optional fraction of up to 9 digits), an
-- offset "+00:00" / "+08:00" / "-05:30" (hours <= 14), and a zone-less
-- "2024-01-10 10:51:11" only when the caller names its zone (cwp writes Beijing
-- time: parse(s, 8)). Years 1970..2999, real calendar days, no leap seconds.
-- Pure arithmetic: os.time would read the local zone.
local M = {}

M.MIN_YEAR, M.MAX_YEAR = 1970, 2999

local function leap(y) return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 end
local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function month_days(y, m) return (m == 2 and leap(y)) and 29 or MDAYS[m] end

-- Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil).
local function days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

local function civil(t)
  local z = math.floor(t / 86400) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  local s = t - math.floor(t / 86400) * 86400
  return y, m, d, math.floor(s / 3600), math.floor(s % 3600 / 60), s % 60
end

-- s -> epoch seconds (an integer), or nil and why. zone_hours: the zone of a
-- zone-less string (nil: refuse it).
function M.parse(s, zone_hours)
  if type(s) ~= "string" then return nil, "not a string" end
  if #s > 40 then return nil, "too long" end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil, "not a date-time" end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if y < M.MIN_YEAR or y > M.MAX_YEAR then return nil, "year out of range" end
  if mo < 1 or mo > 12 or d < 1 or d > month_days(y, mo) or h > 23 or mi > 59 or sec > 59 then
    return nil, "no such date or time"
  end
  -- "T" goes with a zone; the space form is cwp's zone-less one.
  local T = s:sub(11, 11) == "T"
  rest = rest:gsub("^%.%d%d?%d?%d?%d?%d?%d?%d?%d?", "", 1)
  local off
  if rest == "Z" and T then
    off = 0
  elseif rest == "" then
    if zone_hours == nil or type(zone_hours) ~= "number" or zone_hours ~= zone_hours
       or zone_hours < -14 or zone_hours > 14 then
      return nil, "no zone"
    end
    off = zone_hours * 3600
  else
    local sign, oh, om = rest:match("^([+-])(%d%d):(%d%d)$")
    if not sign or not T then return nil, "bad zone" end
    oh, om = tonumber(oh), tonumber(om)
    if oh > 14 or om > 59 then return nil, "bad zone" end
    off = (oh * 60 + om) * 60
    if sign == "-" then off = -off end
  end
  local t = days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off
  return math.tointeger and math.tointeger(t) or t
end

local function ok_time(t)
  return type(t) == "number" and t == t and t >= -86400 * 2 and t < 32503680000 + 86400 * 2
end

-- epoch seconds -> "YYYY-MM-DDTHH:MM:SSZ", or nil outside the years above.
function M.format(t)
  if not ok_time(t) then return nil end
  local y, m, d, h, mi, s = civil(math.floor(t))
  return string.format("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, h, mi, s)
end

-- t + n calendar months in UTC, the day clamped to the month's end (how the
-- fake cloud advances an expiry; clouds bill by the month).
function M.add_months(t, n)
  if not ok_time(t) or type(n) ~= "number" or n % 1 ~= 0 or n < 0 or n > 1200 then return nil end
  local y, m, d, h, mi, s = civil(math.floor(t))
  local k = m - 1 + n
  y, m = y + math.floor(k / 12), k % 12 + 1
  if d > month_days(y, m) then d = month_days(y, m) end
  local r = days(y, m, d) * 86400 + h * 3600 + mi * 60 + s
  return math.tointeger and math.tointeger(r) or r
end

return M

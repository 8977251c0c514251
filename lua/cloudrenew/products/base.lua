-- What the product modules share: period sets, a cloud's quote turned into
-- integer cents (cloudrenew.workflow.money, rounded up past the cent) or refused,
-- the row parser for products whose resources are plain ids, and the small
-- readers of hostile answers their list and read functions use.
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")

local M = {}

function M.set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
M.SHORT = M.set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36 }

function M.bad_response(action, what, res)
  return errors.client("BadResponse", action .. " answered without " .. what,
    { action = action, request_id = res and res.RequestId, outcome = "not_executed" })
end

-- A quote is a price only if money.cents takes it: finite, >= 0, an exact
-- decimal, at most 10^12. Anything else is the cloud's bug or an attack; it must
-- never reach the running total (a negative one would make room for more).
local function untrusted(action, what, v, res)
  return errors.client("BadResponse", string.format("%s answered %s = %s, which is not a price"
    .. " (a decimal amount from 0 to %d)", action, what, num.show(v), money.MAX),
    { action = action, request_id = res and res.RequestId, outcome = "not_executed" })
end

function M.quote(action, what, v, res)
  local cents = money.cents(v, "up")
  if cents then return cents end
  return nil, untrusted(action, what, v, res)
end

-- A quote the cloud states in cents (cdb "单位：分", redis AmountUnit "pent"), or in
-- millionths of a cent (redis "microPent": scale 10^6): integer cents, rounded up,
-- within money.MAX; anything else is refused as M.quote refuses.
function M.quote_cents(action, what, v, res, scale)
  v = num.canon(v)
  scale = scale or 1
  if num.finite(v) and v >= 0 and v / scale <= money.MAX * 100 then
    local c = math.ceil(v / scale)
    return math.tointeger and math.tointeger(c) or c
  end
  return nil, untrusted(action, what, v, res)
end

-- Each product's row(r, i, client) turns resources[i] into { id =, row = }
-- (row: what inquire and renew get), or nil and a message naming the entry.
-- Id products take an id string of the documented shape (p.id_pattern).
function M.id_row(p, product)
  return function(r, i)
    if type(r) ~= "string" or not r:find("^[%w%-_.:]+$") then
      return nil, string.format("resources[%d] must be an id string, got %s", i, num.show(r))
    end
    if p.id_pattern and not r:find(p.id_pattern) then
      return nil, string.format("resources[%d] %q is not a valid %s id (like %s)", i, r, product, p.id_example)
    end
    return { id = r, row = r }
  end
end

-- ---- reading answers (server input: never trusted, never raising) -----------

-- A non-empty string, or nil.
function M.str(v) return type(v) == "string" and v ~= "" and v or nil end
-- v == want as a boolean, or nil when v is not a string (the field was absent or null).
function M.is(v, want)
  if M.str(v) == nil then return nil end
  return v == want
end
-- yes -> true, no -> false, anything else -> nil (never `x and false or nil`).
function M.either(v, yes, no)
  if v == yes then return true end
  if v == no then return false end
  return nil
end
-- The clouds' times (cloudrenew.workflow.dates, strict): Unix seconds or nil.
function M.time(s, zone_hours) return (dates.parse(s, zone_hours)) end

-- list -> lists of at most n (a read or list action's documented id maximum).
function M.chunks(list, n)
  local out = {}
  for i = 1, #list, n do
    local c = {}
    for j = i, math.min(i + n - 1, #list) do c[#c + 1] = list[j] end
    out[#out + 1] = c
  end
  return out
end

-- A product's list: by_ids(chunk) for each `batch` of the selector's ids, else every
-- page all_pages() yields; the raw items of `field`, or nil and err.
function M.list(sel, batch, by_ids, all_pages, field)
  local pages = require("cloudrenew.client.pages")
  local list = {}
  if sel.ids then
    for _, ch in ipairs(M.chunks(sel.ids, batch)) do
      local res, err = by_ids(ch)
      if not res then return nil, err end
      for _, x in ipairs(type(res[field]) == "table" and res[field] or {}) do list[#list + 1] = x end
    end
    return list
  end
  return pages.all(all_pages(), field)
end

-- A list's raw items -> entry(x) for each table item whose `key` is a non-empty string.
function M.entries(items, key, entry)
  local out = {}
  for _, x in ipairs(items) do
    if type(x) == "table" and M.str(x[key]) then out[#out + 1] = entry(x) end
  end
  return out
end

-- Tencent's three renewal flags: auto-renew on, off, or unknown (nil).
function M.tc_auto(flag)
  if flag == "NOTIFY_AND_AUTO_RENEW" then return true end
  if flag == "NOTIFY_AND_MANUAL_RENEW" or flag == "DISABLE_NOTIFY_AND_MANUAL_RENEW" then return false end
  return nil
end

-- The verdict every product has: renewed once the expiry read now is past the one
-- read before sending; nil (not yet) otherwise. A product that can follow its
-- renewal's request id (cvm) has its own verdict and falls back to this one.
function M.expiry_verdict(st, before)
  if before and st.expires and st.expires > before then
    return { confirmed = true, outcome = "renewed", by = "expiry" }
  end
  return nil
end

return M

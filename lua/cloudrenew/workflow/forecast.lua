-- A spend forecast (issue 24 part 3): the renewals each resource's expiry
-- implies in the next N months, at today's renewal price for the period,
-- summed per month, per cloud and product, in exact integer cents and per
-- currency (two currencies are never added). Sends no renewal.
--
--   local forecast = require("cloudrenew.workflow.forecast")
--   local f = forecast.build(expiring_report, { months = 12, period = 1, now = os.time(),
--                                               prices = { ["edgeone-..."] = "120.00" } })
--
-- A resource expiring at E with period p months renews at E, E + p, E + 2p ...
-- (calendar months, UTC); each of those inside [now, now + months) is one
-- renewal in the month it falls in. One that has already expired renews at
-- once (this month). Its price: the cloud's inquiry (expiring's price_cents),
-- else prices[id] (the inventory's: teo has no inquiry); else it is counted
-- and listed as unpriced. Auto-renewing resources are included and marked.
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")

local M = {}

M.MAX_MONTHS = 120

local function invalid(msg)
  return nil, errors.client("InvalidParameter", "forecast: " .. msg)
end

local add_months = dates.add_months   -- calendar months, UTC, the day clamped

local function month_of(t) return dates.format(t):sub(1, 7) end

-- report: cloudrenew.workflow.expiring.list's (all = true). o = { months, period, now, prices }.
function M.build(report, o)
  o = o or {}
  if type(report) ~= "table" or type(report.rows) ~= "table" then return invalid("needs an expiring report (rows)") end
  local months = num.int(num.canon(o.months or 12), 1, M.MAX_MONTHS)
  if not months then return invalid("months must be a whole number from 1 to " .. M.MAX_MONTHS) end
  local period = num.int(num.canon(o.period or report.period or 1), 1, 60)
  if not period then return invalid("period must be a whole number of months from 1 to 60") end
  local now = o.now or os.time()
  local horizon = add_months(now, months)
  local prices = o.prices or {}
  local f = { months = months, period = period, from = dates.format(now), to = dates.format(horizon),
              by_month = {}, by_product = {}, totals = {}, resources = {}, unpriced = {}, no_expiry = {} }
  local cells = {}
  local function add(map, key, fields, currency, cents)
    local k = key .. "|" .. currency
    local c = cells[map] and cells[map][k]
    if not c then
      c = { currency = currency, cents = 0, renewals = 0 }
      for fk, fv in pairs(fields) do c[fk] = fv end
      cells[map] = cells[map] or {}
      cells[map][k] = c
      f[map][#f[map] + 1] = c
    end
    c.cents, c.renewals = c.cents + cents, c.renewals + 1
  end
  for _, r in ipairs(report.rows) do
    local product = r.product or r.product_code or "unknown"
    local cents, currency = r.price_cents, r.currency
    if not cents and prices[r.id] ~= nil then
      cents = money.cents(prices[r.id], "up")
      currency = currency or o.currency
    end
    currency = currency or "unknown"
    if not r.expires_at then
      f.no_expiry[#f.no_expiry + 1] = { cloud = r.cloud, product = product, id = r.id }
    else
      local when, list = r.expires_at, {}
      if when < now then when = now end   -- expired: renews at once
      local k = 0
      while when < horizon and k < months + 1 do
        list[#list + 1] = when
        k = k + 1
        when = add_months(r.expires_at < now and now or r.expires_at, k * period)
      end
      local entry = { cloud = r.cloud, product = product, id = r.id, region = r.region,
                      auto_renew = r.auto_renew == true, renewals = #list, expires = r.expires }
      if #list > 0 then
        if cents then
          entry.price = money.format(cents)
          entry.currency = currency
          entry.cents = cents * #list
          for _, t in ipairs(list) do
            add("by_month", month_of(t) .. "|" .. r.cloud .. "|" .. product,
              { month = month_of(t), cloud = r.cloud, product = product }, currency, cents)
            add("by_product", r.cloud .. "|" .. product, { cloud = r.cloud, product = product }, currency, cents)
            add("totals", "all", {}, currency, cents)
          end
        else
          f.unpriced[#f.unpriced + 1] = entry
        end
        f.resources[#f.resources + 1] = entry
      end
    end
  end
  local function order(a, b)
    for _, k in ipairs{ "month", "cloud", "product", "currency" } do
      if (a[k] or "") ~= (b[k] or "") then return (a[k] or "") < (b[k] or "") end
    end
    return false
  end
  for _, map in ipairs{ "by_month", "by_product", "totals" } do
    table.sort(f[map], order)
    for _, c in ipairs(f[map]) do c.amount = money.format(c.cents) end
  end
  return f
end

return M

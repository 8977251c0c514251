-- `cloudrenew forecast [INVENTORY] [--months 12] [--period N] [--json]` (issue 24
-- part 3): what renewing everything that expires will cost, per month, cloud and
-- product, in exact cents and per currency (cloudrenew.workflow.forecast). Prices
-- are the clouds' inquiries for the period; teo plans take the inventory's prices.
-- Sends no renewal. Exit 0, 1 when something is unpriced or a cloud could not be
-- listed, 2 bad input.
local M = {}

M.OK, M.INCOMPLETE, M.BAD_INPUT = 0, 1, 2

function M.command(parser)
  local c = parser:command("forecast", "The renewals each expiry implies in the next N months at today's prices:"
    .. " per month, cloud and product, per currency. Renews nothing.")
  c:argument("inventory", "JSON inventory: client options, and teo's prices.", nil):args("?")
  c:option("--months", "How many months ahead.", "12")
  c:option("--period", "Months each renewal buys (default: the inventory's groups' period when they agree, else 1).")
  c:option("--cloud", "Only this cloud."):choices({ "tencent", "volcengine" })
  c:flag("--json", "Print one JSON document instead of a table.")
  c:flag("--verbose", "One line per request to stderr.")
  return c
end

-- The inventory's teo prices and its groups' period (when they all agree).
local function from_inventory(path)
  if not path then return {}, nil end
  local inv, ierr = require("cloudrenew.cli.inventory").load(path, { clouds_only = true })
  if not inv then return nil, ierr end
  local prices, period, mixed = {}, nil, false
  for _, g in ipairs(inv.groups) do
    for id, amount in pairs(g.price or {}) do prices[id] = amount end
    if period and period ~= g.period then mixed = true end
    period = period or g.period
  end
  return prices, not mixed and period or nil
end

function M.run(opts, out, err)
  local num = require("cloudrenew.client.num")
  local forecast = require("cloudrenew.workflow.forecast")
  local function fail(msg)
    err:write("cloudrenew: ", msg, "\n")
    return M.BAD_INPUT
  end
  local months = num.int(tonumber(opts.months), 1, forecast.MAX_MONTHS)
  if not months then return fail("--months must be a whole number from 1 to " .. forecast.MAX_MONTHS .. ", got " .. tostring(opts.months)) end
  local prices, period = from_inventory(opts.inventory)
  if not prices then return fail(period) end
  if opts.period then
    local perr
    period, perr = require("cloudrenew.cli.text").period(opts.period)
    if not period then return fail(perr) end
  end
  period = period or 1
  local list, cerr = require("cloudrenew.cli.expiring").clients(opts, err)
  if not list then return fail(cerr) end
  local report, rerr = require("cloudrenew.workflow.expiring").list{ clients = list, all = true, price = true,
    price_all = true, period = period, days = 0 }
  for _, c in ipairs(list) do c:close() end
  if not report then return fail(tostring(rerr)) end
  local f, ferr = forecast.build(report, { months = months, period = period, prices = prices })
  if not f then return fail(tostring(ferr)) end
  f.errors = report.errors
  local code = (#f.unpriced > 0 or #report.errors > 0) and M.INCOMPLETE or M.OK
  if opts.json then
    f.version, f.exit_code = require("cloudrenew").VERSION, code
    out:write(require("cloudrenew.client.json").encode(f), "\n")
    return code
  end
  out:write(string.format("Renewals from %s to %s, %d-month period, at today's prices\n\n", f.from:sub(1, 10),
    f.to:sub(1, 10), f.period))
  out:write(string.format("%-8s %-10s %-12s %9s %16s %s\n", "MONTH", "CLOUD", "PRODUCT", "RENEWALS", "AMOUNT", "CURRENCY"))
  for _, c in ipairs(f.by_month) do
    out:write(string.format("%-8s %-10s %-12s %9d %16s %s\n", c.month, c.cloud, c.product, c.renewals, c.amount, c.currency))
  end
  out:write("\nPer cloud and product:\n")
  for _, c in ipairs(f.by_product) do
    out:write(string.format("  %-10s %-12s %5d renewals %16s %s\n", c.cloud, c.product, c.renewals, c.amount, c.currency))
  end
  out:write("Total:\n")
  for _, c in ipairs(f.totals) do out:write(string.format("  %16s %s (%d renewals)\n", c.amount, c.currency, c.renewals)) end
  local auto = 0
  for _, r in ipairs(f.resources) do if r.auto_renew then auto = auto + 1 end end
  out:write(string.format("\n%d resources renew in the window (%d auto-renewing, included)", #f.resources, auto))
  if #f.unpriced > 0 then
    local ids = {}
    for i, r in ipairs(f.unpriced) do if i <= 20 then ids[#ids + 1] = r.id end end
    out:write(string.format("; %d unpriced, not in the sums: %s%s", #f.unpriced, table.concat(ids, ", "),
      #f.unpriced > 20 and ", ..." or ""))
  end
  out:write("\n")
  for _, e in ipairs(report.errors) do
    out:write(string.format("error: %s could not be listed: %s\n", e.cloud, tostring(e.code)))
  end
  return code
end

return M

-- `cloudrenew expiring [INVENTORY] [--days N] [--cloud C] [--json]` (issue 23 part 1):
-- every prepaid instance of the account that is due within N days, across clouds,
-- products and regions (cloudrenew.workflow.expiring), as a table or JSON. Exit
--   0 nothing due needs attention, 1 something due is neither auto-renewing nor
--   renewable here (or a cloud could not be listed), 2 bad input (nothing sent).
-- The clients come from INVENTORY's "tencent"/"volcengine" client options when it is
-- given (its groups are not used), else from the environment and profile files.
local M = {}

M.OK, M.ATTENTION, M.BAD_INPUT = 0, 1, 2
local CLOUDS = { "tencent", "volcengine" }

function M.command(parser)
  local c = parser:command("expiring", "Every prepaid instance of the account due within N days, across clouds,"
    .. " products and regions: expiry, auto-renew, route, price. Renews nothing.")
  c:argument("inventory", "JSON inventory whose client options (endpoint, region, credentials...) are used;"
    .. " without it, the environment's.", nil):args("?")
  c:option("--days", "Due within this many days.", "30")
  c:option("--cloud", "Only this cloud."):choices(CLOUDS)
  c:option("--period", "Months the renewal price is inquired for.", "1")
  c:flag("--all", "Also show what is not due.")
  c:flag("--no-price", "Send no price inquiry.")
  c:flag("--json", "Print one JSON document instead of a table.")
  c:flag("--verbose", "One line per request to stderr.")
  return c
end

local fail = require("cloudrenew.cli.text").bad_input

-- extra_hook: another on_response (cloudrenew metrics' collector), beside --verbose.
local function clients(opts, err, extra_hook)
  local inventory = require("cloudrenew.cli.inventory")
  local base = {}
  if opts.inventory then
    local inv, ierr = inventory.load(opts.inventory, { clouds_only = true })
    if not inv then return nil, ierr end
    base = inv.clouds
  end
  local list, cerr = inventory.clients(base, function(cloud)
    return (opts.cloud == nil or opts.cloud == cloud) and (not opts.inventory or base[cloud] or opts.cloud) and true
  end, opts.verbose and err or nil, extra_hook)
  if not list then return nil, cerr end
  if #list == 0 then return nil, opts.inventory .. " sets up neither tencent nor volcengine" end
  return list
end

M.clients = clients   -- cloudrenew metrics / forecast make their clients the same way

local function ptext(v, max) return require("cloudrenew.client.errors").text(v, max) end

local function cells(r)
  local note = {}
  if r.attention then note[#note + 1] = "ATTENTION: due, not auto-renewing, console only" end
  if r.price_error then note[#note + 1] = "no price: " .. ptext(r.price_error.code, 80) end
  if r.price_note then note[#note + 1] = r.price_note end
  if r.expiry_as_sent then note[#note + 1] = "expiry as sent: " .. ptext(r.expiry_as_sent, 64) end
  local auto = r.auto_renew == true and "auto" or r.auto_renew == false and "manual" or "?"
  return { ptext(r.id, 80), r.cloud, ptext(r.product or r.product_code or "?", 40), ptext(r.region or "-", 40),
           r.expires and r.expires:sub(1, 16):gsub("T", " ") or "unknown",
           r.days_left and tostring(r.days_left) or "?", auto,
           r.renewable and r.route or "console only",
           r.price and (r.price .. (r.currency and (" " .. ptext(r.currency, 8)) or "")) or "-",
           table.concat(note, "; ") }
end

local function print_table(out, report, opts)
  local rows = { { "ID", "CLOUD", "PRODUCT", "REGION", "EXPIRES (UTC)", "DAYS", "AUTO-RENEW", "ROUTE", "PRICE", "NOTE" } }
  for _, r in ipairs(report.rows) do rows[#rows + 1] = cells(r) end
  require("cloudrenew.cli.text").pad_table(out, rows)
  local t = report.totals
  out:write(string.format("\n%d listed, %d due within %s days (%d not due%s), %d due need attention"
    .. " (neither auto-renewing nor renewable here)%s\n", t.listed, t.due, tostring(report.days), t.not_due,
    opts.all and "" or ", not shown", t.attention,
    t.malformed > 0 and (", " .. t.malformed .. " malformed entries ignored") or ""))
  for _, e in ipairs(report.errors) do
    out:write(string.format("error: %s could not be listed: %s: %s%s\n", e.cloud, ptext(e.code, 80), ptext(e.message),
      e.request_id and (" (RequestId " .. ptext(e.request_id, 80) .. ")") or ""))
  end
end

function M.run(opts, out, err)
  local num = require("cloudrenew.client.num")
  local expiring = require("cloudrenew.workflow.expiring")
  local days = tonumber(opts.days)
  if not days or not num.finite(days) or days < 0 or days > expiring.MAX_DAYS then
    return fail(opts, out, err, "--days must be a number of days from 0 to " .. expiring.MAX_DAYS .. ", got " .. tostring(opts.days))
  end
  local period = num.int(tonumber(opts.period), 1, 60)
  if not period then return fail(opts, out, err, "--period must be a whole number of months from 1 to 60, got " .. tostring(opts.period)) end
  local list, cerr = clients(opts, err)
  if not list then return fail(opts, out, err, cerr) end
  local report, rerr = expiring.list{ clients = list, days = days, all = opts.all or false,
                                      price = not opts.no_price, period = period }
  for _, c in ipairs(list) do c:close() end
  if not report then return fail(opts, out, err, tostring(rerr)) end
  for _, e in ipairs(report.errors) do
    err:write(string.format("cloudrenew: %s: %s: %s%s\n", e.cloud, ptext(e.code, 80), ptext(e.message),
      e.request_id and (" (RequestId " .. ptext(e.request_id, 80) .. ")") or ""))
  end
  local code = (report.totals.attention > 0 or #report.errors > 0) and M.ATTENTION or M.OK
  if opts.json then
    report.version, report.exit_code = require("cloudrenew").VERSION, code
    out:write(require("cloudrenew.client.json").encode(report), "\n")
  else
    print_table(out, report, opts)
  end
  return code
end

return M

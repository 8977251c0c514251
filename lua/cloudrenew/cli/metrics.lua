-- `cloudrenew metrics [INVENTORY] [--textfile PATH] [--audit-log FILE]...` (issue 24):
-- every prepaid resource's expiry, auto-renew flag and renewal price (the billing
-- lists, cloudrenew.workflow.expiring), the audit logs' outcomes and spend, and the
-- requests this run made, in the Prometheus text format (cloudrenew.metrics):
-- to stdout, or atomically to a node_exporter textfile. Exit 0 written, 1 written
-- but a cloud could not be listed (cloudrenew_listing_errors says which), 2 bad
-- input (nothing sent, nothing written).
local M = {}

M.OK, M.PARTIAL, M.BAD_INPUT = 0, 1, 2

function M.command(parser)
  local c = parser:command("metrics", "Expiry, auto-renew, prices and audit-log outcomes in the Prometheus text"
    .. " format (node_exporter textfile). Renews nothing.")
  c:argument("inventory", "JSON inventory whose client options are used; without it, the environment's.", nil):args("?")
  c:option("--textfile", "Write here atomically (a temporary file, then rename) instead of stdout;"
    .. " name it *.prom in node_exporter's --collector.textfile.directory.")
  c:option("--audit-log", "An audit log to summarise (strftime % codes are expanded); repeat for several.")
    :count("*")
  c:option("--days", "Inquire the renewal price of what is due within this many days.", "30")
  c:option("--period", "Months the renewal price is inquired for.", "1")
  c:option("--cloud", "Only this cloud."):choices({ "tencent", "volcengine" })
  c:flag("--no-price", "Send no price inquiry.")
  c:flag("--verbose", "One line per request to stderr.")
  return c
end

function M.run(opts, out, err)
  local num = require("cloudrenew.client.num")
  local expiring = require("cloudrenew.workflow.expiring")
  local metrics = require("cloudrenew.metrics")
  local function fail(msg)
    err:write("cloudrenew: ", msg, "\n")
    return M.BAD_INPUT
  end
  local days = tonumber(opts.days)
  if not days or not num.finite(days) or days < 0 or days > expiring.MAX_DAYS then
    return fail("--days must be a number of days from 0 to " .. expiring.MAX_DAYS .. ", got " .. tostring(opts.days))
  end
  local period, perr = require("cloudrenew.cli.text").period(opts.period)
  if not period then return fail(perr) end
  local logs = {}
  for _, p in ipairs(opts.audit_log or {}) do
    local ok, path = pcall(os.date, p)
    if not ok or type(path) ~= "string" or path == "" then return fail("--audit-log " .. tostring(p) .. ": not a usable path") end
    logs[#logs + 1] = path
  end
  if opts.textfile then
    local dir = opts.textfile:match("^(.*)/[^/]*$") or "."
    local probe = io.open(dir .. "/.cloudrenew-metrics-probe", "wb")
    if not probe then return fail("--textfile " .. opts.textfile .. ": its directory " .. dir .. " is not writable") end
    probe:close()
    os.remove(dir .. "/.cloudrenew-metrics-probe")
  end
  local col = metrics.collector()
  local list, cerr = require("cloudrenew.cli.expiring").clients(opts, err, col.hook)
  if not list then return fail(cerr) end
  local report, rerr = expiring.list{ clients = list, days = days, all = true, price = not opts.no_price, period = period }
  for _, c in ipairs(list) do c:close() end
  if not report then return fail(tostring(rerr)) end
  local text = metrics.render{ expiring = report, audit = #logs > 0 and logs or nil, collector = col }
  if opts.textfile then
    local ok, werr = metrics.write_textfile(opts.textfile, text)
    if not ok then err:write("cloudrenew: ", werr, "\n"); return M.BAD_INPUT end
  else
    out:write(text)
  end
  for _, e in ipairs(report.errors) do
    err:write(string.format("cloudrenew: %s could not be listed: %s\n", e.cloud, tostring(e.code)))
  end
  return #report.errors > 0 and M.PARTIAL or M.OK
end

return M

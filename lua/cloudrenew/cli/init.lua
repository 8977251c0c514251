-- `cloudrenew plan|apply INVENTORY`: run renew_if_under_budget for every group
-- of an inventory file, print a table (or JSON) and exit with
--   0 all done, 1 some failed or could not be priced, 2 bad input (arguments,
--   inventory, credentials, audit log), 3 unknown outcomes to check.
-- Nothing is sent until the whole inventory, the credentials and the audit log
-- have been checked.
local argparse = require("argparse")

-- What a command does not use stays out of its start-up: `cloudrenew --help`
-- loads argparse and this file, not the workflow, the clients and the products.
-- Each module below is required on its first use (package.loaded after that).
local function lazy(name)
  return setmetatable({}, { __index = function(_, k) return require(name)[k] end })
end
local cloudrenew = lazy("cloudrenew")
local audit = lazy("cloudrenew.workflow.audit")
local core = lazy("cloudrenew.core")
local inventory = lazy("cloudrenew.cli.inventory")
local json = lazy("cloudrenew.client.json")
local money = lazy("cloudrenew.workflow.money")
local num = lazy("cloudrenew.client.num")
local workflow = lazy("cloudrenew.workflow")

local M = {}

M.OK, M.FAILED, M.BAD_INPUT, M.UNKNOWN = 0, 1, 2, 3
M.DEFAULT_AUDIT_LOG = "renewals-%Y-%m.jsonl"

function M.parser()
  local p = argparse("cloudrenew", "Renew prepaid cloud resources that fit a price cap and a budget.")
    :epilog("Exit status: 0 all done, 1 some failed or had no price, 2 bad input, "
      .. "3 unknown outcomes to check in the console (reconcile: some remain unknown).\nSee docs/cli.md.")
  p:command_target("command")
  p:require_command(false)
  p:flag("--version", "Print the version and exit.")
  local function common(c)
    c:argument("inventory", "JSON inventory file.")
    c:flag("--json", "Print one JSON document instead of a table.")
    c:option("--audit-log", "Audit log (JSON lines); strftime % codes are expanded.",
      M.DEFAULT_AUDIT_LOG)
    c:option("--concurrency", "Requests in flight per group.", "8"):convert(tonumber)
    c:option("--run-id", "Only count renewals recorded under this run id as done.")
    c:flag("--verbose", "One line per request to stderr (action, region, host, attempt, status, time, request id).")
    c:flag("--progress", "A progress line on stderr (done/total, rate, time left) even when it is not a terminal.")
    return c
  end
  common(p:command("plan", "Inquire prices and decide; renew nothing."))
  common(p:command("apply", "Inquire, decide and renew what fits."))
    :flag("--dry-run", "Same as plan.")
  -- cloudrenew.cli.reconcile: read the clouds and the audit log; renew nothing new.
  common(p:command("status", "Per resource: expiry, auto-renew flag and what the audit log says."))
  require("cloudrenew.cli.expiring").command(p)   -- issue 23: every prepaid instance, across clouds
  require("cloudrenew.cli.autorenew").command(p, M.DEFAULT_AUDIT_LOG)   -- issue 23 part 4
  require("cloudrenew.cli.metrics").command(p)    -- issue 24: Prometheus text
  require("cloudrenew.cli.forecast").command(p)   -- issue 24: spend forecast
  common(p:command("reconcile", "Settle the audit log's unknown and unconfirmed renewals from the clouds' read APIs."))
    :option("--settle-after", "Seconds after which an unknown renewal whose expiry has not moved counts as failed"
      .. " (off unless given).")
  return p
end

local function strip(msg)
  return (tostring(msg):gsub("^renew_if_under_budget: ", ""))
end

local function error_table(e)
  if e == nil then return nil end
  if type(e) ~= "table" then return { code = "Error", message = tostring(e) } end
  return { code = e.code, message = e.message, request_id = e.request_id, outcome = e.outcome }
end

-- One client per (cloud, region); nil, message on bad options or credentials.
local function clients_for(inv, on_response)
  local clients, list = {}, {}
  for _, g in ipairs(inv.groups) do
    local key = g.cloud .. "|" .. tostring(g.region)
    if not clients[key] then
      local opts = {}
      for k, v in pairs(inv.clouds[g.cloud]) do opts[k] = v end
      opts.region = g.region
      opts.on_response = on_response    -- --verbose (the clients' documented hook)
      local c, err = cloudrenew[g.cloud](opts)
      if not c then
        for _, x in ipairs(list) do x:close() end
        return nil, string.format("%s: %s: %s: %s", inv.path, g.cloud, tostring(err.code), tostring(err.message))
      end
      clients[key] = c
      list[#list + 1] = c
    end
    g.client = clients[key]
  end
  return list
end


-- Server-supplied text (OrderId, DealName, RequestId, messages) reaches a
-- terminal: printable and bounded, as errors.text makes it.
local ptext = require("cloudrenew.client.errors").text
M.MAX_ID_TEXT = 80

local function detail(it)
  local parts = {}
  if it.resumed then parts[#parts + 1] = "from the audit log" end
  if it.error then
    parts[#parts + 1] = ptext(tostring(it.error.code), M.MAX_ID_TEXT) .. ": " .. ptext(tostring(it.error.message))
  end
  if it.order then parts[#parts + 1] = "order " .. ptext(it.order, M.MAX_ID_TEXT) end
  if it.request_id and (it.outcome ~= "skipped") then parts[#parts + 1] = "RequestId " .. ptext(it.request_id, M.MAX_ID_TEXT) end
  if it.expires_before then   -- the expiry now, and where a renewal takes (or took) it
    local after = it.expires_after or (it.expires_after_planned and it.expires_after_planned .. " planned")
    parts[#parts + 1] = "expires " .. it.expires_before .. (after and (" -> " .. after) or "")
  end
  -- confirmation and settling (cloudrenew.confirm, cloudrenew.settle)
  if it.settled_by then parts[#parts + 1] = "settled by " .. it.settled_by
  elseif it.confirmed == true then parts[#parts + 1] = "confirmed"
  elseif it.confirmed == false and it.outcome == "renewed" then
    parts[#parts + 1] = "unconfirmed: " .. tostring(it.confirm_message)
  end
  return table.concat(parts, "; ")
end

local function print_table(out, runs, totals, header, warnings)
  out:write(header, "\n\n")
  local rows = { { "GROUP", "RESOURCE", "PRICE", "DECISION", "OUTCOME", "DETAIL" } }
  for _, run in ipairs(runs) do
    for _, it in ipairs(run.report.items) do
      rows[#rows + 1] = { run.group.name, it.id, (it.price or "-") .. (it.currency and (" " .. it.currency) or ""),
                          it.decision, it.outcome, detail(it) }
    end
  end
  local w = {}
  for _, r in ipairs(rows) do
    for i = 1, 5 do w[i] = math.max(w[i] or 0, #r[i]) end
  end
  for _, r in ipairs(rows) do
    out:write(string.format("%-" .. w[1] .. "s  %-" .. w[2] .. "s  %" .. w[3] .. "s  %-" .. w[4] .. "s  %-"
      .. w[5] .. "s  %s", r[1], r[2], r[3], r[4], r[5], r[6]):gsub("%s+$", ""), "\n")
  end
  out:write("\n")
  for _, run in ipairs(runs) do
    local t, g = run.report.totals, run.group
    out:write(string.format("%s: %d resource%s, %d planned (%s), %d renewed (%s), %d skipped, %d no price,"
      .. " %d failed, %d unknown%s%s%s\n", g.name, t.resources, t.resources == 1 and "" or "s", t.planned,
      t.planned_amount, t.renewed, t.spent, t.skipped, t.no_price, t.failed, t.unknown,
      g.max_price and (", max_price " .. tostring(g.max_price)) or "",
      g.budget and (", budget " .. tostring(g.budget)) or "",
      t.resumed > 0 and (", " .. t.resumed .. " from the audit log") or ""))
  end
  out:write(string.format("total: %d resources, %d renewed, %d skipped, %d no price, %d failed, %d unknown;"
    .. " spent %s%s, planned %s\n", totals.resources, totals.renewed, totals.skipped, totals.no_price,
    totals.failed, totals.unknown, totals.spent,
    totals.resumed > 0 and (" (" .. totals.earlier .. " of it by earlier runs in the audit log)") or "",
    totals.planned_amount))
  if #totals.unknowns > 0 then
    out:write("\nUNKNOWN OUTCOMES: these renewals may have been charged. Check them in the console;\n"
      .. "re-runs with this audit log will not renew them again.\n")
    for _, u in ipairs(totals.unknowns) do
      out:write(string.format("  %s %s (period %d, price %s)%s: %s\n", u.group, u.id, u.period, u.price or "-",
        u.request_id and (" RequestId " .. ptext(u.request_id, M.MAX_ID_TEXT)) or "", ptext(u.message)))
    end
  end
  for _, wline in ipairs(warnings) do out:write("warning: ", wline, "\n") end
end

local fail = require("cloudrenew.cli.text").bad_input

local function run(argv, out, err)
  out, err = out or io.stdout, err or io.stderr
  local parser = M.parser()
  local args = {}
  for i = 1, #(argv or {}) do args[i] = argv[i] end
  local ok, opts = parser:pparse(args)
  if not ok then
    err:write(parser:get_usage(), "\n\ncloudrenew: ", tostring(opts), "\n")
    return M.BAD_INPUT
  end
  if opts.version then
    out:write("cloudrenew ", cloudrenew.VERSION, "\n")
    return M.OK
  end
  if not opts.command then
    err:write(parser:get_help(), "\n")
    return M.BAD_INPUT
  end
  if opts.command == "expiring" then return require("cloudrenew.cli.expiring").run(opts, out, err) end
  if opts.command == "autorenew" then return require("cloudrenew.cli.autorenew").run(opts, out, err) end
  if opts.command == "metrics" then return require("cloudrenew.cli.metrics").run(opts, out, err) end
  if opts.command == "forecast" then return require("cloudrenew.cli.forecast").run(opts, out, err) end
  -- "2.0" is 2; the same range as the workflow's, checked before anything else.
  local c = num.int(opts.concurrency, 1, workflow.MAX_CONCURRENCY)
  if not c then
    return fail(opts, out, err, "--concurrency must be a whole number from 1 to " .. workflow.MAX_CONCURRENCY
      .. ", got " .. num.show(opts.concurrency))
  end
  local dry = opts.command == "plan" or opts.dry_run or false
  local inv, ierr = inventory.load(opts.inventory)
  if not inv then return fail(opts, out, err, ierr) end
  local clients, cerr = clients_for(inv, opts.verbose and function(info)
    err:write(require("cloudrenew.client.observe").line(info), "\n")
  end or nil)
  if not clients then return fail(opts, out, err, cerr) end
  local function done(code)
    for _, x in ipairs(clients) do x:close() end
    return code
  end
  if opts.command == "status" or opts.command == "reconcile" then
    return done(require("cloudrenew.cli.reconcile").run(opts, inv, c, out,
      function(msg) return fail(opts, out, err, msg) end))
  end
  -- Every group is checked before the first request goes out.
  for _, g in ipairs(inv.groups) do
    g.options = { client = g.client, product = g.product, resources = g.resources, select = g.select, period = g.period,
      max_price = g.max_price, budget = g.budget, price = g.price, concurrency = c, run_id = opts.run_id }
    local okv, verr = workflow.validate(g.options)
    if not okv then return done(fail(opts, out, err, string.format("%s: %s: %s", inv.path, g.entry,
      strip(verr.message)))) end
  end
  local dok, path = pcall(os.date, opts.audit_log)
  if not dok or type(path) ~= "string" or path == "" then
    return done(fail(opts, out, err, "--audit-log " .. opts.audit_log .. ": bad % code: " .. tostring(path)))
  end
  -- One lock for the whole run, so an overlapping run cannot slip in between groups.
  local log, lerr = audit.open(path, { lock = not dry })
  if not log then return done(fail(opts, out, err, "audit log: " .. tostring(lerr))) end

  local tty = core.isatty(2) or opts.progress   -- progress only for a person watching, unless asked
  local runs, group_errors = {}, {}
  local totals = { resources = 0, renewed = 0, skipped = 0, no_price = 0, other_currency = 0, failed = 0, unknown = 0,
                   resumed = 0, spent_cents = 0, planned_cents = 0, earlier_cents = 0, unknowns = {} }
  for _, g in ipairs(inv.groups) do
    local o = g.options
    o.dry_run, o.audit_log = dry, log
    -- done/total, rate and time left from the pacing schedule (cloudrenew.cli.progress)
    o.on_progress = tty and require("cloudrenew.cli.progress").new(err, g.name, o.client,
      require("cloudrenew.products")[o.product], o.confirm ~= false and not dry) or nil
    local report, rerr = workflow.renew_if_under_budget(o)
    if tty then err:write("\r\27[K") end
    if not report then
      -- This group failed as a whole (a discovery read, a held lease...): it sent
      -- nothing, but earlier groups may have renewed or left unknowns, so the run
      -- goes on and its report (and exit status) says all of it.
      local msg = string.format("%s: %s", g.entry, tostring(rerr))
      err:write("cloudrenew: ", msg, "\n")
      group_errors[#group_errors + 1] = { group = g.name, entry = g.entry, code = type(rerr) == "table" and rerr.code or nil,
        message = msg }
      goto next_group
    end
    runs[#runs + 1] = { group = g, report = report }
    local t = report.totals
    for _, k in ipairs({ "resources", "renewed", "skipped", "no_price", "other_currency", "failed", "unknown", "spent_cents",
                         "planned_cents" }) do
      totals[k] = totals[k] + t[k]
    end
    for _, it in ipairs(report.items) do
      if it.resumed then
        totals.resumed = totals.resumed + 1
        if it.outcome == "renewed" then totals.earlier_cents = totals.earlier_cents + (it.price_cents or 0) end
      end
      if it.outcome == "unknown" then
        totals.unknowns[#totals.unknowns + 1] = { group = g.name, cloud = g.cloud, product = g.product, id = it.id,
          period = g.period, price = it.price, request_id = it.request_id,
          message = it.error and it.error.message or "outcome unknown" }
      end
    end
    ::next_group::
  end
  log:close()
  if #runs == 0 then   -- no group ran: nothing was sent, it is bad input (or an unreachable read)
    return done(fail(opts, out, err, group_errors[1].message))
  end
  -- What the run should know beyond its rows: a product's lifecycle as the
  -- official definitions state it, a client's credential oddity.
  local warnings, said = {}, {}
  for _, wline in ipairs(log.warnings or {}) do warnings[#warnings + 1] = wline end
  local products = require("cloudrenew.products")
  for _, g in ipairs(inv.groups) do
    local p = products.get(g.product)
    local key = g.cloud .. "." .. g.product
    if p and p.lifecycle and not said[key] then
      said[key] = true
      warnings[#warnings + 1] = key .. ": " .. p.lifecycle
    end
  end
  for _, cl in ipairs(clients) do
    if cl.credential_warning and not said[cl] then
      said[cl] = true
      warnings[#warnings + 1] = cl.cloud .. " credentials: " .. cl.credential_warning
    end
  end
  totals.spent, totals.planned_amount = money.format(totals.spent_cents), money.format(totals.planned_cents)
  totals.earlier = money.format(totals.earlier_cents)
  for _, ge in ipairs(group_errors) do
    warnings[#warnings + 1] = "group " .. ge.group .. " did not run (nothing sent for it): " .. ge.message
  end
  local code = M.OK
  if totals.unknown > 0 then code = M.UNKNOWN
  elseif totals.failed > 0 or totals.no_price > 0 or totals.other_currency > 0 or #group_errors > 0 then code = M.FAILED end

  if opts.json then
    local groups = {}
    for i, run in ipairs(runs) do
      local r, g = run.report, run.group
      local items = {}
      for j, it in ipairs(r.items) do
        items[j] = { id = it.id, price = it.price, price_cents = it.price_cents, currency = it.currency,
          decision = it.decision, outcome = it.outcome, request_id = ptext(it.request_id, M.MAX_ID_TEXT),
          order = ptext(it.order, M.MAX_ID_TEXT),
          resumed = it.resumed, error = error_table(it.error),
          expires_before = it.expires_before, expires_after = it.expires_after, confirmed = it.confirmed,
          settled_by = it.settled_by }
      end
      groups[i] = { name = g.name, cloud = g.cloud, product = g.product, region = g.region, period = g.period,
                    max_price = g.max_price, budget = g.budget, items = items, totals = r.totals }
    end
    out:write(json.encode{ version = cloudrenew.VERSION, mode = dry and "plan" or "apply",
      inventory = inv.path, audit_log = path, run_id = opts.run_id, groups = groups, totals = totals,
      group_errors = #group_errors > 0 and group_errors or nil, warnings = warnings, exit_code = code }, "\n")
  else
    print_table(out, runs, totals, string.format("cloudrenew %s %s%s (audit log %s)", opts.command, inv.path,
      (opts.dry_run and " --dry-run") or "", path), warnings)
  end
  return done(code)
end

-- Run the CLI with argv (arg without arg[0]); returns the exit status. A bug
-- that raises is reported, never a traceback alone: after `apply` has started
-- anything may have been sent, so it exits 3 (check the audit log).
function M.main(argv, out, err)
  out, err = out or io.stdout, err or io.stderr
  local ok, code = xpcall(run, debug.traceback, argv, out, err)
  if ok then return code end
  err:write("cloudrenew: internal error (please report it): ", tostring(code), "\n")
  for _, a in ipairs(argv or {}) do
    if a == "apply" or a == "reconcile" then   -- reconcile may re-send a Volcengine renewal
      err:write("cloudrenew: renewals may have been sent: check the audit log and the console\n")
      return M.UNKNOWN
    end
  end
  return M.BAD_INPUT
end

return M

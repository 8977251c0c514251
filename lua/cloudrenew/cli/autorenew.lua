-- `cloudrenew autorenew plan|apply INVENTORY` (issue 23 part 4): the inventory's
-- per-cloud "autorenew" lists through cloudrenew.workflow.autorenew. plan shows each
-- change and sends nothing; apply records each in the audit log, sends it and reads
-- the flag back. Exit 0 all done, 1 some change failed, was not found or could not
-- be made (no region, no price under --budget), 2 bad input (nothing sent), 3
-- unknown outcomes (check the console; re-runs never send them again).
local M = {}

M.OK, M.FAILED, M.BAD_INPUT, M.UNKNOWN = 0, 1, 2, 3
local BAD = { not_found = true, no_region = true, no_price = true, unread = true }

function M.command(parser, default_log)
  local c = parser:command("autorenew", "Turn auto-renew on or off per resource (the inventory's \"autorenew\""
    .. " lists): plan shows each change, apply makes it, logs it and reads it back.")
  c:argument("mode", "plan or apply."):choices{ "plan", "apply" }
  c:argument("inventory", "JSON inventory with \"autorenew\": [{ \"id\", \"auto_renew\", \"period\" }] per cloud.")
  c:option("--budget", "At most this much for one renewal cycle of what is turned on (this run, one cloud:"
    .. " two clouds' currencies are never added).")
  c:option("--cloud", "Only this cloud's changes (tencent or volcengine): one budget per cloud.")
  c:option("--audit-log", "Audit log (JSON lines); strftime % codes are expanded.", default_log)
  c:option("--run-id", "Only count changes recorded under this run id as done.")
  c:flag("--json", "Print one JSON document instead of a table.")
  c:flag("--verbose", "One line per request to stderr.")
  return c
end

local function ptext(v, max) return require("cloudrenew.client.errors").text(v, max) end

local fail = require("cloudrenew.cli.text").bad_input

local function flag(v) return v == true and "on" or v == false and "off" or "?" end

local function print_table(out, report, header)
  out:write(header, "\n\n")
  local rows = { { "ID", "CLOUD", "PRODUCT", "REGION", "NOW", "WANTED", "PERIOD", "PRICE/CYCLE", "DECISION", "OUTCOME", "DETAIL" } }
  for _, it in ipairs(report.items) do
    local d = {}
    if it.resumed then d[#d + 1] = "from the audit log" end
    if it.settled_by then d[#d + 1] = "settled by " .. it.settled_by end
    if it.confirmed == true then d[#d + 1] = "confirmed" elseif it.confirmed == false then d[#d + 1] = "unconfirmed" end
    if it.error then d[#d + 1] = ptext(it.error.code, 80) .. ": " .. ptext(it.error.message) end
    if it.request_id then d[#d + 1] = "RequestId " .. ptext(it.request_id, 80) end
    rows[#rows + 1] = { ptext(it.id, 80), it.cloud, ptext(it.product or it.product_code or "?", 40),
      ptext(it.region or "-", 40), flag(it.current), flag(it.wanted), it.wanted and (it.period .. "m") or "-",
      it.price or "-", it.decision or "-", it.outcome, table.concat(d, "; ") }
  end
  require("cloudrenew.cli.text").pad_table(out, rows)
  local t = report.totals
  out:write(string.format("\n%d changes: %d planned, %d applied, %d skipped, %d failed, %d unknown;"
    .. " one renewal cycle of what is turned on: %s\n", t.changes, t.planned, t.applied, t.skipped, t.failed,
    t.unknown, t.committed))
end

function M.run(opts, out, err)
  local inv, ierr = require("cloudrenew.cli.inventory").load(opts.inventory, { clouds_only = true })
  if not inv then return fail(opts, out, err, ierr) end
  if not inv.autorenew then return fail(opts, out, err, opts.inventory .. ": lists no \"autorenew\" changes") end
  if opts.cloud ~= nil and opts.cloud ~= "tencent" and opts.cloud ~= "volcengine" then
    return fail(opts, out, err, "--cloud must be tencent or volcengine, got " .. ptext(opts.cloud, 40))
  end
  local picked = {}   -- the inventory's entries this run takes (changes[i] -> picked[i].entry)
  for _, x in ipairs(inv.autorenew) do
    if opts.cloud == nil or x.cloud == opts.cloud then picked[#picked + 1] = x end
  end
  if #picked == 0 then return fail(opts, out, err, opts.inventory .. ": lists no \"autorenew\" changes for " .. opts.cloud) end
  local need = {}
  for _, x in ipairs(picked) do need[x.cloud] = true end
  local clients, cerr = require("cloudrenew.cli.inventory").clients(inv.clouds,
    function(cloud) return need[cloud] end, opts.verbose and err or nil)
  if not clients then return fail(opts, out, err, cerr) end
  local function close() for _, c in ipairs(clients) do c:close() end end
  local dok, path = pcall(os.date, opts.audit_log)
  if not dok or type(path) ~= "string" or path == "" then
    close()
    return fail(opts, out, err, "--audit-log " .. tostring(opts.audit_log) .. ": bad % code")
  end
  local changes = {}
  for i, x in ipairs(picked) do changes[i] = { cloud = x.cloud, id = x.id, auto_renew = x.auto_renew, period = x.period } end
  local autorenew = require("cloudrenew.workflow.autorenew")
  local report, rerr = autorenew[opts.mode]{ clients = clients, changes = changes, budget = opts.budget,
    audit_log = opts.mode == "apply" and path or nil, run_id = opts.run_id }
  close()
  if not report then
    local msg = tostring(rerr and rerr.message or rerr):gsub("^autorenew: ", "")
    -- changes[i] -> the inventory's entry
    msg = msg:gsub("^changes%[(%d+)%]", function(i) return picked[tonumber(i)].entry end)
    return fail(opts, out, err, opts.inventory .. ": " .. msg)
  end
  local code = M.OK
  for _, it in ipairs(report.items) do
    if it.outcome == "unknown" then code = M.UNKNOWN
    elseif code == M.OK and (it.outcome == "failed" or BAD[it.decision]) then code = M.FAILED end
  end
  if opts.json then
    report.version, report.exit_code, report.audit_log = require("cloudrenew").VERSION, code, opts.mode == "apply" and path or nil
    out:write(require("cloudrenew.client.json").encode(report), "\n")
  else
    print_table(out, report, string.format("cloudrenew autorenew %s %s%s", opts.mode, opts.inventory,
      opts.mode == "apply" and (" (audit log " .. path .. ")") or ""))
  end
  return code
end

return M

-- Shared by the example scripts: client options from the environment and a
-- short printout of a workflow report.
--
-- Demo/test only: CLOUDRENEW_CONNECT_TO=127.0.0.1:8443 CLOUDRENEW_CA_FILE=ca.pem
-- send requests elsewhere while keeping the real host names (see `make demo`).
local M = {}

function M.client_opts(t)
  t = t or {}
  t.connect_to = t.connect_to or os.getenv("CLOUDRENEW_CONNECT_TO")
  t.ca_file = t.ca_file or os.getenv("CLOUDRENEW_CA_FILE")
  return t
end

-- "a,b c" -> { "a", "b", "c" }
function M.list(var, default)
  local out = {}
  for id in (os.getenv(var) or default or ""):gmatch("[^,%s]+") do out[#out + 1] = id end
  return out
end

function M.print_report(title, report)
  print(string.format("%s (%d month(s)%s)", title, report.period, report.dry_run and ", dry run" or ""))
  for _, it in ipairs(report.items) do
    print(string.format("  %-24s %10s %s  %-14s %-8s %s", it.id, it.price or "-", it.currency or "",
      it.decision, it.outcome, (it.resumed and "(from the audit log) " or "")
        .. (it.error and tostring(it.error) or (it.order or it.request_id or ""))))
  end
  local t = report.totals
  print(string.format("  renewed %d, skipped %d, failed %d, unknown %d; spent %s (planned %s)",
    t.renewed, t.skipped, t.failed, t.unknown, t.spent, t.planned_amount))
  for _, w in ipairs(report.audit and report.audit.warnings or {}) do print("  audit: " .. w) end
end

-- Exit status for a script: 3 unknown outcomes to check, 1 failures, else 0.
function M.status(report)
  local t = report.totals
  if t.unknown > 0 then return 3 end
  if t.failed > 0 or t.no_price > 0 then return 1 end
  return 0
end

return M

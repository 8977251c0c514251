-- `cloudrenew status INVENTORY` and `cloudrenew reconcile INVENTORY` (called
-- from cli/init.lua once the inventory and its clients are ready).
--   status     per resource: the expiry and auto-renew flag the cloud reports
--              now, and what the audit log says (last attempt, its outcome,
--              how it was confirmed or settled). Sends no renewal, writes nothing.
--              Exit 0; 1 when a read failed; 3 when the log holds unknowns.
--   reconcile  settles what the log leaves unknown or unconfirmed for the
--              inventory's resources (cloudrenew.settle: expiry, CVM latest
--              operation, Volcengine re-send with the same ClientToken, or
--              --settle-after), writing a settle line for each. Exit 3 only if
--              some remain unknown, else 0.
-- Resources: each group's ids, the ids its select discovers (status), and
-- every id of the group's cloud and product the log has tried.
local audit = require("cloudrenew.workflow.audit")
local confirm = require("cloudrenew.workflow.confirm")
local json = require("cloudrenew.client.json")
local map = require("cloudrenew.net.map")
local products = require("cloudrenew.products")
local settle = require("cloudrenew.workflow.settle")

local M = {}
local ptext = require("cloudrenew.client.errors").text   -- server text: printable, bounded

local function lists(g, id)
  for _, r in ipairs(g.resources or {}) do if products.id_of(g.product, r) == id then return true end end
  return false
end

-- The group a log entry belongs to: the one whose client reaches where its
-- renewal went (the intent's region and host). An intent of an older version
-- (no region, no host) goes to the group listing its id, else the first group
-- of its cloud and product. nil, why when no group reaches it.
function M.route(inv, a)
  local i, first, why = a.intent, nil, nil
  for _, g in ipairs(inv.groups) do
    if g.cloud == i.cloud and g.product == i.product then
      if i.region or i.host then
        local ok, w = settle.reaches(g.client, i)
        if ok then return g end
        why = why or w
      else
        if lists(g, i.id) then return g end
        first = first or g
      end
    end
  end
  if first then return first end
  return nil, why and ("no group of the inventory reaches it: " .. why) or nil
end

-- The group's resource ids, in order, without repeats; ids seen in an earlier
-- group of the same cloud and product are left to that group.
local function ids_for(g, log, taken, status)
  local ids, seen = {}, {}
  local function add(id)
    local k = g.cloud .. "|" .. g.product .. "|" .. tostring(id)
    if type(id) == "string" and not seen[id] and not taken[k] then
      seen[id], taken[k] = true, true
      ids[#ids + 1] = id
    end
  end
  for _, r in ipairs(g.resources or {}) do add(products.id_of(g.product, r)) end
  if status and g.select ~= nil then
    local sel = require("cloudrenew.workflow.discover").select{ client = g.client, product = g.product,
      select = g.select, resources = g.resources }
    if sel then
      local found = {}
      for id in pairs(sel.info or {}) do found[#found + 1] = id end
      table.sort(found)
      for _, id in ipairs(found) do add(id) end
    end
  end
  local logged = {}
  for _, a in pairs(log.attempts) do
    local i = a.intent
    if i.cloud == g.cloud and i.product == g.product and M.route(g.inv, a) == g then logged[#logged + 1] = i.id end
  end
  table.sort(logged)
  for _, id in ipairs(logged) do add(id) end
  return ids
end

-- What the log says about one resource: the last attempt (of run_id, if given).
local function last_attempt(log, g, id, run_id)
  local best
  for _, a in ipairs(log:history(g.cloud, g.product, id)) do
    if run_id == nil or a.intent.run_id == run_id then best = a end
  end
  return best
end

local function describe_attempt(a)
  if not a then return { outcome = "-" } end
  local o = audit.effective(a)
  local d = { outcome = o, attempt = a.intent.attempt, time = a.intent.time, run_id = a.intent.run_id,
              period = a.intent.period, price = a.intent.price, expires_before = a.intent.expires_before,
              request_id = a.result and a.result.request_id, order = a.result and a.result.order }
  if a.settle then
    d.settled_by, d.expires_after = a.settle.settled_by, a.settle.expires_after
    d.order = d.order or a.settle.order
  elseif a.confirm then
    d.confirmed, d.expires_after = a.confirm.confirmed, a.confirm.expires_after
  end
  if o == "renewed" and not a.settle and not (a.confirm and a.confirm.confirmed) then d.unconfirmed = true end
  return d
end

local function auto_flag(g, st)
  if st.auto_renew ~= nil then return st.auto_renew end
  -- a read without a flag (ecs): the product's own way to ask (billing's RenewType)
  return confirm.auto_renew(g.client, g.product, st.id)
end

local function yesno(v) if v == nil then return "-" end return v and "yes" or "no" end

local pad_table = require("cloudrenew.cli.text").pad_table

local function log_text(d)
  if d.outcome == "-" then return "never tried" end
  local s = d.outcome
  if d.settled_by then s = s .. " (settled by " .. d.settled_by .. ")"
  elseif d.confirmed then s = s .. " (confirmed)"
  elseif d.unconfirmed then s = s .. " (unconfirmed)" end
  s = s .. " " .. tostring(d.time) .. (d.run_id and (" run " .. d.run_id) or "")
  if d.expires_after then s = s .. "; expires " .. tostring(d.expires_before or "?") .. " -> " .. d.expires_after end
  return s
end

function M.status(opts, inv, log, conc, out)
  local groups, code, taken = {}, 0, {}
  for _, g in ipairs(inv.groups) do g.inv = inv end
  local unknown, failed_reads = 0, 0
  for gi, g in ipairs(inv.groups) do
    local ids = ids_for(g, log, taken, true)
    local rows = map.map(ids, function(id)
      local st, rerr = confirm.read(g.client, g.product, id)
      local row = { id = id, log = describe_attempt(last_attempt(log, g, id, opts.run_id)) }
      if st then
        st.id = id
        row.found, row.expires, row.prepaid = st.found, st.expires_at, st.prepaid
        if st.found then row.auto_renew = auto_flag(g, st) end
      else
        row.error = { code = rerr.code, message = rerr.message }
      end
      return row
    end, { concurrency = conc })
    for i, id in ipairs(ids) do   -- a row whose fn raised (a bug) still shows, as a failed read
      rows[i] = rows[i] or { id = id, log = describe_attempt(last_attempt(log, g, id, opts.run_id)),
                             error = { code = "ClientError.Internal", message = "status raised" } }
      if rows[i].error then failed_reads = failed_reads + 1 end
      if rows[i].log.outcome == "unknown" then unknown = unknown + 1 end
    end
    groups[gi] = { name = g.name, cloud = g.cloud, product = g.product, region = g.region, resources = rows }
  end
  -- an unknown no group of the inventory reaches still counts (and is named)
  local stray = {}
  for _, a in pairs(log.attempts) do
    if audit.effective(a) == "unknown" and (opts.run_id == nil or a.intent.run_id == opts.run_id) then
      local g, why = M.route(inv, a)
      if not g and why then
        unknown = unknown + 1
        stray[#stray + 1] = a.intent.id .. " (attempt " .. a.intent.attempt .. ") is unknown and " .. why
      end
    end
  end
  table.sort(stray)
  local warnings = {}
  for _, w in ipairs(log.warnings) do warnings[#warnings + 1] = w end
  for _, w in ipairs(stray) do warnings[#warnings + 1] = w end
  if unknown > 0 then code = 3 elseif failed_reads > 0 then code = 1 end
  if opts.json then
    out:write(json.encode{ mode = "status", inventory = inv.path, audit_log = log.path, groups = groups,
      totals = { unknown = unknown, failed_reads = failed_reads }, warnings = warnings, exit_code = code }, "\n")
    return code
  end
  out:write(string.format("cloudrenew status %s (audit log %s)\n\n", inv.path, log.path))
  local rows = { { "GROUP", "RESOURCE", "EXPIRES", "AUTO-RENEW", "AUDIT LOG" } }
  for _, gr in ipairs(groups) do
    for _, r in ipairs(gr.resources) do
      local exp = r.error and ("read failed: " .. tostring(r.error.code))
        or (r.found == false and "not listed") or r.expires or (r.prepaid == false and "postpaid") or "-"
      rows[#rows + 1] = { gr.name, r.id, exp, yesno(r.auto_renew), log_text(r.log) }
    end
  end
  pad_table(out, rows)
  out:write(string.format("\n%d unknown in the audit log%s, %d read%s failed\n", unknown,
    unknown > 0 and " (run `cloudrenew reconcile` to settle them)" or "", failed_reads, failed_reads == 1 and "" or "s"))
  for _, w in ipairs(warnings) do out:write("warning: ", w, "\n") end
  return code
end

function M.reconcile(opts, inv, log, conc, out)
  local groups = {}
  local t = { settled = 0, renewed = 0, failed = 0, unknown = 0, unconfirmed = 0 }
  local sopts = { settle_after = opts.settle_after, same_run = opts.run_id ~= nil, run_id = opts.run_id }
  -- Every unsettled attempt goes to the group that reaches where it was sent;
  -- one no group reaches is shown (under the first group of its cloud and
  -- product, or its own line) and stays unknown: nothing is asked elsewhere.
  local todo, stray = {}, {}
  local order = {}
  for _, a in pairs(log.attempts) do order[#order + 1] = a end
  table.sort(order, function(x, y)
    if x.intent.id ~= y.intent.id then return x.intent.id < y.intent.id end
    return tostring(x.intent.time) < tostring(y.intent.time)
  end)
  for _, a in ipairs(order) do
    if audit.unsettled(a) and (not sopts.same_run or a.intent.run_id == sopts.run_id) then
      local g, why = M.route(inv, a)
      if g then
        todo[g] = todo[g] or {}
        table.insert(todo[g], a)
      elseif why then
        stray[#stray + 1] = { a = a, why = why }
      end
    end
  end
  for gi, g in ipairs(inv.groups) do
    local mine = todo[g] or {}
    local done = map.map(mine, function(a) return settle.attempt(log, g.client, a, sopts) end, { concurrency = conc })
    local lists = {}
    for i, a in ipairs(mine) do
      -- settle.attempt raised (a bug): it is still unknown
      lists[i] = { done[i] or { id = a.intent.id, attempt = a.intent.attempt, run_id = a.intent.run_id,
        before = audit.effective(a), outcome = audit.effective(a), message = "settling raised" } }
    end
    local rows = {}
    for _, list in ipairs(lists) do
      for _, s in ipairs(list) do
        rows[#rows + 1] = { id = s.id, attempt = s.attempt, run_id = s.run_id, was = s.before,
          outcome = s.outcome, settled_by = s.settled_by, expires_after = s.expires_after, order = s.order,
          message = s.message, error = s.error and { code = s.error.code, message = s.error.message } or nil }
        if s.settled_by then
          t.settled = t.settled + 1
          t[s.outcome] = t[s.outcome] + 1
        elseif s.outcome == "unknown" then t.unknown = t.unknown + 1
        else t.unconfirmed = t.unconfirmed + 1 end
      end
    end
    groups[gi] = { name = g.name, cloud = g.cloud, product = g.product, region = g.region, attempts = rows }
  end
  if #stray > 0 then
    local rows = {}
    for _, x in ipairs(stray) do
      local o = audit.effective(x.a)
      rows[#rows + 1] = { id = x.a.intent.id, attempt = x.a.intent.attempt, run_id = x.a.intent.run_id, was = o,
        outcome = o, message = x.why }
      if o == "unknown" then t.unknown = t.unknown + 1 else t.unconfirmed = t.unconfirmed + 1 end
    end
    groups[#groups + 1] = { name = "(no group)", attempts = rows }
  end
  local code = t.unknown > 0 and 3 or 0
  if opts.json then
    out:write(json.encode{ mode = "reconcile", inventory = inv.path, audit_log = log.path, groups = groups,
      totals = t, warnings = log.warnings, exit_code = code }, "\n")
    return code
  end
  out:write(string.format("cloudrenew reconcile %s (audit log %s)\n\n", inv.path, log.path))
  local rows = { { "GROUP", "RESOURCE", "ATTEMPT", "WAS", "NOW", "DETAIL" } }
  for _, gr in ipairs(groups) do
    for _, r in ipairs(gr.attempts) do
      local detail = r.settled_by and ("settled by " .. r.settled_by
        .. (r.expires_after and ("; expires " .. r.expires_after) or "")
        .. (r.order and ("; order " .. ptext(r.order, 80)) or "")
        .. (r.error and ("; " .. tostring(r.error.code) .. ": " .. tostring(r.error.message)) or ""))
        or ptext(r.message) or ""
      rows[#rows + 1] = { gr.name, r.id, r.attempt, r.was, r.outcome, detail }
    end
  end
  if #rows == 1 then out:write("nothing to settle: the audit log holds no unknown or unconfirmed renewal\n")
  else pad_table(out, rows) end
  out:write(string.format("\nsettled %d (%d renewed, %d failed); %d still unknown%s; %d still unconfirmed\n",
    t.settled, t.renewed, t.failed, t.unknown,
    t.unknown > 0 and " (never resent: check them in the console, or run again later)" or "", t.unconfirmed))
  for _, w in ipairs(log.warnings) do out:write("warning: ", w, "\n") end
  return code
end

-- Entry from cli/init.lua: the audit log path, the log (locked for reconcile), the command.
function M.run(opts, inv, conc, out, fail)
  local dok, path = pcall(os.date, opts.audit_log)
  if not dok or type(path) ~= "string" or path == "" then
    return fail("--audit-log " .. opts.audit_log .. ": bad % code: " .. tostring(path))
  end
  if opts.settle_after ~= nil then
    local v, serr = settle.settle_after(tonumber(opts.settle_after) or opts.settle_after)
    if not v then return fail("--settle-after: " .. tostring(serr)) end
    opts.settle_after = v
  end
  local log, lerr = audit.open(path, { lock = opts.command == "reconcile" })
  if not log then return fail("audit log: " .. tostring(lerr)) end
  local ok, code = pcall(M[opts.command], opts, inv, log, conc, out)
  log:close()
  if not ok then error(code, 0) end
  return code
end

return M

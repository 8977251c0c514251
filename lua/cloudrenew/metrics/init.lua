-- Expiry, spend and outcomes in the Prometheus text exposition format
-- (issue 24): what node_exporter's textfile collector reads and what an
-- OpenResty location can serve as /metrics.
--
--   local metrics = require("cloudrenew.metrics")
--   local text = metrics.render{ expiring = report,        -- cloudrenew.workflow.expiring.list
--                                audit = { "renewals.jsonl" },
--                                workflow = wf_report,      -- renew_if_under_budget's report
--                                collector = col }          -- metrics.collector(), on_response
--
-- Names, units and types follow Prometheus' rules (base units: seconds; _total
-- for counters). Label values are bounded: ids, codes and regions of a safe
-- shape and length, never a name or message a server wrote, never a secret.
local audit = require("cloudrenew.workflow.audit")
local dates = require("cloudrenew.workflow.dates")
local money = require("cloudrenew.workflow.money")

local M = {}

M.MAX_LABEL = 128
M.collector = function(...) return require("cloudrenew.metrics.collector").new(...) end

-- A label value of a safe shape (letters, digits and -_.:/@), else nil: such a
-- value can never break the format, a query or a dashboard.
local function safe(v)
  if type(v) == "number" and v == math.floor(v) then v = string.format("%d", v) end
  if type(v) ~= "string" or v == "" or #v > M.MAX_LABEL or not v:find("^[%w%-_.:/@]+$") then return nil end
  return v
end
M.safe = safe

-- Exposition escaping of a label value (backslash, double quote, newline).
local function esc(v)
  return (v:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\n", "\\n"))
end

local function num(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end
  for _, f in ipairs{ "%.15g", "%.16g" } do   -- the shortest text that reads back the same
    local t = string.format(f, v)
    if tonumber(t) == v then return t end
  end
  return string.format("%.17g", v)
end
M.num = num

-- ---- families ------------------------------------------------------------------

-- A set of metric families rendered in the order they were declared.
local Set = {}
Set.__index = Set

function M.set()
  return setmetatable({ order = {}, by_name = {} }, Set)
end

-- family(name, type, help) -> the family (declared once).
function Set:family(name, kind, help)
  local f = self.by_name[name]
  if not f then
    f = { name = name, kind = kind, help = help, samples = {}, seen = {} }
    self.by_name[name] = f
    self.order[#self.order + 1] = f
  end
  return f
end

local function label_text(labels, keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = labels[k]
    if v ~= nil then parts[#parts + 1] = k .. '="' .. esc(v) .. '"' end
  end
  return #parts > 0 and ("{" .. table.concat(parts, ",") .. "}") or ""
end

-- One sample: labels is a map, keys its order; a repeated series is summed
-- (counters) or replaced (gauges).
function Set:sample(name, labels, keys, value, suffix)
  local f = self.by_name[name]
  local lt = label_text(labels or {}, keys or {})
  local key = (suffix or "") .. lt
  local i = f.seen[key]
  if i then
    local s = f.samples[i]
    s.value = f.kind == "gauge" and value or s.value + value
    return
  end
  f.samples[#f.samples + 1] = { suffix = suffix or "", labels = lt, value = value }
  f.seen[key] = #f.samples
end

function Set:render()
  local out = {}
  for _, f in ipairs(self.order) do
    if #f.samples > 0 then
      out[#out + 1] = "# HELP " .. f.name .. " " .. f.help
      out[#out + 1] = "# TYPE " .. f.name .. " " .. f.kind
      for _, s in ipairs(f.samples) do
        out[#out + 1] = f.name .. s.suffix .. s.labels .. " " .. num(s.value)
      end
    end
  end
  return table.concat(out, "\n") .. (#out > 0 and "\n" or "")
end

-- ---- resources (cloudrenew.workflow.expiring rows) --------------------------------

local RES = { "cloud", "product", "region", "id" }

local function resource_labels(cloud, product, region, id)
  local l = { cloud = safe(cloud), product = safe(product) or "unknown", region = safe(region) or "", id = safe(id) }
  if not l.cloud or not l.id then return nil end
  return l
end

local function add_resources(set, report)
  set:family("cloudrenew_resource_expiry_timestamp_seconds", "gauge",
    "When the prepaid resource expires (Unix time).")
  set:family("cloudrenew_resource_time_left_seconds", "gauge",
    "Seconds until the resource expires (negative: expired); days left = value / 86400.")
  set:family("cloudrenew_resource_auto_renew", "gauge", "1 when the resource renews itself, 0 when it does not.")
  set:family("cloudrenew_resource_renewable", "gauge",
    "1 when cloudrenew renews this product (route label), 0 when only the console does.")
  set:family("cloudrenew_resource_renewal_price", "gauge",
    "The renewal price the cloud quoted for period_months, in the currency label's units.")
  set:family("cloudrenew_listing_errors", "gauge", "1 for a cloud whose list of prepaid resources could not be read.")
  local now = report.now or os.time()
  for _, r in ipairs(report.rows or {}) do
    local l = resource_labels(r.cloud, r.product or r.product_code, r.region, r.id)
    if l then
      if r.expires_at then
        set:sample("cloudrenew_resource_expiry_timestamp_seconds", l, RES, r.expires_at)
        set:sample("cloudrenew_resource_time_left_seconds", l, RES, r.expires_at - now)
      end
      if r.auto_renew ~= nil then set:sample("cloudrenew_resource_auto_renew", l, RES, r.auto_renew and 1 or 0) end
      local rl = { cloud = l.cloud, product = l.product, region = l.region, id = l.id,
                   -- renew_as: the module that renews it (volc_billing leaves product to the code)
                   route = r.renewable and safe(r.renew_as or r.product) or "console" }
      set:sample("cloudrenew_resource_renewable", rl, { "cloud", "product", "region", "id", "route" }, r.renewable and 1 or 0)
      if r.price_cents then
        local pl = { cloud = l.cloud, product = l.product, region = l.region, id = l.id,
                     currency = safe(r.currency) or "unknown", period_months = safe(report.period or 1) }
        set:sample("cloudrenew_resource_renewal_price", pl,
          { "cloud", "product", "region", "id", "currency", "period_months" }, r.price_cents / 100)
      end
    end
  end
  for _, e in ipairs(report.errors or {}) do
    if safe(e.cloud) then set:sample("cloudrenew_listing_errors", { cloud = e.cloud }, { "cloud" }, 1) end
  end
end

-- ---- the audit log ------------------------------------------------------------------

local RUN = { "cloud", "product" }

local function declare_audit(set)
  set:family("cloudrenew_renewals_total", "counter",
    "Renewals in the audit log by outcome (renewed, failed, unknown), as settled or confirmed.")
  set:family("cloudrenew_renewal_spend_total", "counter",
    "Sum of the prices of renewals that renewed, in the currency label's units.")
  set:family("cloudrenew_renewals_unknown", "gauge",
    "Renewals whose outcome is unknown (sent, no proof yet): settle them (cloudrenew reconcile).")
  set:family("cloudrenew_renewal_oldest_unknown_timestamp_seconds", "gauge",
    "When the oldest renewal still unknown was sent (Unix time).")
  set:family("cloudrenew_renewals_unconfirmed", "gauge",
    "Renewals the cloud accepted whose effect the read API has not shown (confirmation failed).")
  set:family("cloudrenew_last_renewal_timestamp_seconds", "gauge",
    "When the latest renewal that renewed was sent (Unix time).")
  set:family("cloudrenew_audit_log_readable", "gauge", "1 when the audit log could be read, 0 when it could not.")
end

local function time_of(s)
  if type(s) ~= "string" then return nil end
  return dates.parse((s:gsub("%.%d+Z$", "Z")))
end

local function add_log(set, log)
  local oldest, last = {}, {}
  for _, a in pairs(log.attempts) do
    local i = a.intent
    local l = { cloud = safe(i.cloud), product = safe(i.product) }
    if l.cloud and l.product then
      local o = audit.effective(a)
      set:sample("cloudrenew_renewals_total", { cloud = l.cloud, product = l.product, outcome = o },
        { "cloud", "product", "outcome" }, 1)
      local key = l.cloud .. "|" .. l.product
      local sent = time_of(i.time)
      if o == "renewed" then
        local cents = money.cents(i.price, "up")
        if cents then
          set:sample("cloudrenew_renewal_spend_total", { cloud = l.cloud, product = l.product,
            currency = safe(i.currency) or "unknown" }, { "cloud", "product", "currency" }, cents / 100)
        end
        if sent and (not last[key] or sent > last[key].t) then last[key] = { t = sent, l = l } end
        if not a.settle and a.confirm and a.confirm.confirmed == false then
          set:sample("cloudrenew_renewals_unconfirmed", l, RUN, 1)
        end
      elseif o == "unknown" then
        set:sample("cloudrenew_renewals_unknown", l, RUN, 1)
        if sent and (not oldest[key] or sent < oldest[key].t) then oldest[key] = { t = sent, l = l } end
      end
      -- every cloud/product the log knows has its gauges, zeros included,
      -- so an alert on them sees 0, not an absent series
      set:sample("cloudrenew_renewals_unknown", l, RUN, 0)
      set:sample("cloudrenew_renewals_unconfirmed", l, RUN, 0)
    end
  end
  for _, x in pairs(oldest) do set:sample("cloudrenew_renewal_oldest_unknown_timestamp_seconds", x.l, RUN, x.t) end
  for _, x in pairs(last) do set:sample("cloudrenew_last_renewal_timestamp_seconds", x.l, RUN, x.t) end
end

-- Gauges sum per series (unknown counts) unlike Set:sample's replace: counted
-- here by hand before adding.
local function add_audit(set, paths)
  declare_audit(set)
  local counts = M.set()   -- a scratch set so that gauges of several logs add up
  declare_audit(counts)
  counts.by_name.cloudrenew_renewals_unknown.kind = "counter"
  counts.by_name.cloudrenew_renewals_unconfirmed.kind = "counter"
  for _, p in ipairs(paths) do
    -- a log that is not there yet is not a readable log (no renewals this cycle, or a wrong path)
    local f = not audit.is(p) and io.open(p, "rb")
    if f then f:close() end
    local log = audit.is(p) and p or (f and audit.open(p, { lock = false })) or nil
    local pl = { log = safe(type(p) == "string" and p:match("[^/]+$") or log and log.path and log.path:match("[^/]+$")) or "log" }
    set:sample("cloudrenew_audit_log_readable", pl, { "log" }, log and 1 or 0)
    if log then add_log(counts, log) end
  end
  for _, f in ipairs(counts.order) do
    local target = set.by_name[f.name]
    for _, s in ipairs(f.samples) do
      target.samples[#target.samples + 1] = s
    end
  end
end

-- ---- a workflow report ------------------------------------------------------------

local function add_workflow(set, r)
  set:family("cloudrenew_run_resources", "gauge",
    "Resources of the latest workflow run by outcome (renewed, failed, unknown, skipped, planned).")
  set:family("cloudrenew_run_spend", "gauge", "What the latest workflow run spent, in the currency label's units.")
  set:family("cloudrenew_run_unconfirmed", "gauge", "Renewals of the latest run whose confirmation failed.")
  local l = { cloud = safe(r.cloud), product = safe(r.product) }
  if not l.cloud or not l.product then return end
  local t = r.totals or {}
  for _, o in ipairs{ "renewed", "failed", "unknown", "skipped" } do
    set:sample("cloudrenew_run_resources", { cloud = l.cloud, product = l.product, outcome = o },
      { "cloud", "product", "outcome" }, t[o] or 0)
  end
  set:sample("cloudrenew_run_spend", { cloud = l.cloud, product = l.product, currency = safe(r.currency) or "unknown" },
    { "cloud", "product", "currency" }, (t.spent_cents or 0) / 100)
  set:sample("cloudrenew_run_unconfirmed", l, RUN, t.unconfirmed or 0)
  -- its resources, with what the run learnt of their expiry
  local rows = {}
  for _, it in ipairs(r.items or {}) do
    local at = time_of(it.expires_after or it.expires_before)
    rows[#rows + 1] = { cloud = r.cloud, product = r.product, id = it.id, expires_at = at, renewable = true,
      price_cents = it.price_cents, currency = it.currency, region = type(it.resource) == "table"
        and it.resource.MachineRegion or nil }
  end
  add_resources(set, { rows = rows, period = r.period, now = os.time() })
end

-- o = { expiring = report, audit = { path | log, ... }, workflow = report | { reports },
-- collector = metrics.collector(), now = seconds }: the exposition text.
function M.render(o)
  o = o or {}
  local set = M.set()
  set:family("cloudrenew_metrics_generated_timestamp_seconds", "gauge", "When these metrics were made (Unix time).")
  set:sample("cloudrenew_metrics_generated_timestamp_seconds", nil, nil, o.now or os.time())
  if o.expiring then
    o.expiring.now = o.expiring.now or o.now
    add_resources(set, o.expiring)
  end
  if o.workflow then
    local list = o.workflow.items and { o.workflow } or o.workflow
    for _, r in ipairs(list) do add_workflow(set, r) end
  end
  if o.audit then add_audit(set, type(o.audit) == "table" and not audit.is(o.audit) and o.audit or { o.audit }) end
  if o.collector then o.collector:add_to(set) end
  return set:render()
end

-- Write text to path atomically: a temporary file in the same directory, then
-- rename (what node_exporter's textfile collector needs: never a half file).
function M.write_textfile(path, text)
  local tmp = path .. ".tmp." .. tostring(os.time()) .. "." .. tostring(math.random(1, 1e9))
  local f, err = io.open(tmp, "wb")
  if not f then return nil, "cannot write " .. tmp .. ": " .. tostring(err) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    return nil, "cannot write " .. tmp .. ": " .. tostring(werr or cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, "cannot rename " .. tmp .. " to " .. path .. ": " .. tostring(rerr)
  end
  return true
end

return M

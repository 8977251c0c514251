-- Discovery: which resources of a product are prepaid and expire within N days,
-- found through the read actions instead of a hand-kept id list.
--
--   select = { expires_within_days = 30, region = "ap-guangzhou", ids = {...},
--              filters = {...}, include_auto_renew = false, source = "billing" }
--
-- Every resource the reads show is classified: a candidate (renewed if its price
-- fits), or reported with a decision — "not_prepaid", "auto_renew" (renewed anyway
-- only with include_auto_renew), "expired" (expired or isolated), "no_expiry" (no
-- readable expiry), "conflicting" (listed twice with different facts), "not_found"
-- (an id the cloud does not list) or "not_due" (an id
-- given in select.ids that expires later). Listed resources that are simply not due
-- are only counted. How a product is listed is its module's `list`
-- (cloudrenew.products: cvm DescribeInstances, teo DescribePlans, ecs billing
-- ListAvailableInstances by expiry, hspro cwp DescribeMachineInfo per Quuid); what
-- its selector takes, its select_region, sources and check_select.
local core = require("cloudrenew.core")
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")
local products = require("cloudrenew.products")

local M = {}

M.MAX_DAYS = 3660
local DAY = 86400

local function invalid(msg)
  return nil, errors.client("InvalidParameter", "renew_if_under_budget: select: " .. msg)
end

local KNOWN = { expires_within_days = true, region = true, ids = true, filters = true,
                include_auto_renew = true, source = true }

-- select table -> a checked copy, or nil, err. client_region: the region the
-- renewals go to (a selector's region must be that one: renewals use the client's).
function M.check(s, product, client_region)
  local p = products.get(product) or {}
  if type(s) ~= "table" then return invalid("must be a table like { expires_within_days = 30 }") end
  for k in pairs(s) do
    if not KNOWN[k] then return invalid(tostring(k) .. " is not a selector field (expires_within_days, region, ids, filters, include_auto_renew, source)") end
  end
  local c = { filters = s.filters, include_auto_renew = s.include_auto_renew == true,
              source = s.source or "billing" }
  c.days = num.canon(s.expires_within_days)
  if not num.finite(c.days) or c.days < 0 or c.days > M.MAX_DAYS then
    return invalid("expires_within_days must be a number of days from 0 to " .. M.MAX_DAYS .. ", got " .. num.show(s.expires_within_days))
  end
  if s.include_auto_renew ~= nil and type(s.include_auto_renew) ~= "boolean" then
    return invalid("include_auto_renew must be true or false")
  end
  if s.region ~= nil and (type(s.region) ~= "string" or not s.region:find("^[%w%-_.]+$") or #s.region > 64) then
    return invalid("region must be a region name such as ap-guangzhou, got " .. num.show(s.region))
  end
  if not p.select_region then
    if s.region ~= nil then return invalid("region applies to " .. products.say(products.names(nil, "select_region"), "and") .. " only") end
  elseif s.region ~= nil and client_region ~= nil and s.region ~= client_region then
    return invalid("region " .. s.region .. " is not the client's region " .. client_region
      .. ": renewals go to the client's region, so use a client (or inventory group) for " .. s.region)
  else
    c.region = s.region or client_region
  end
  if s.ids ~= nil then
    if type(s.ids) ~= "table" then return invalid("ids must be a list of ids") end
    c.ids = {}
    local seen = {}
    for i, id in ipairs(s.ids) do
      if type(id) ~= "string" or not id:find("^[%w%-_.:]+$") or #id > 128 then
        return invalid(string.format("ids[%d] must be an id string, got %s", i, num.show(id)))
      end
      if not seen[id] then seen[id] = true; c.ids[#c.ids + 1] = id end
    end
  end
  if s.filters ~= nil and type(s.filters) ~= "table" then return invalid("filters must be a table") end
  if c.ids and s.filters ~= nil then return invalid("give ids or filters, not both") end
  -- "billing" for every product; a product's own sources (ecs: "ecs") besides
  local sources, extra, owners = { "billing" }, { billing = true }, {}
  for _, name in ipairs(products.names(nil, "sources")) do
    for _, src in ipairs(products.get(name).sources) do
      if not extra[src] then extra[src] = true; sources[#sources + 1] = src end
    end
    owners[#owners + 1] = name
  end
  if not extra[c.source] then
    return invalid("source must be " .. products.say(sources, "or", true)
      .. (#owners > 0 and (" (" .. products.say(owners, "and") .. " only)") or ""))
  end
  if p.check_select then
    local msg = p.check_select(c, s)
    if msg then return invalid(msg) end
  end
  return c
end

-- Decide one entry: nil (a candidate) or a decision.
local function classify(e, sel, now)
  if e.prepaid == false then return "not_prepaid" end
  if not e.expires then return "no_expiry" end
  if e.isolated or e.expires <= now then return "expired" end
  if e.expires > now + sel.days * DAY then return "not_due" end
  if e.auto_renew and not sel.include_auto_renew then return "auto_renew" end
  return nil
end

-- o: the workflow's options (client, product, select, resources). Returns
-- sel = { resources = ids/rows to price, info = { [id] = entry }, skipped = {entries},
-- summary = {...} }, or nil, err. Nothing is renewed here.
function M.select(o)
  local p = products.get(o.product)
  local read = p and p.list
  if not read or type(o.client) ~= "table" or type(o.client.cloud) ~= "string" then
    return { resources = o.resources, info = {}, skipped = {} }   -- check() reports it
  end
  local sel, serr = M.check(o.select, o.product, o.client.options and o.client.options.region)
  if not sel then return nil, serr end
  local now = core.time()
  local copts = sel.region and { region = sel.region } or nil   -- the client's region
  local ok, entries, err = pcall(read, o.client, sel, copts, now)
  if not ok then return nil, errors.client("Internal", "discovery raised: " .. tostring(entries)) end
  if not entries then return nil, err end
  local resources, info, skipped, given = {}, {}, {}, {}
  local summary = { expires_within_days = sel.days, listed = #entries, selected = 0, not_due = 0,
                    include_auto_renew = sel.include_auto_renew, region = sel.region,
                    -- ecs listed through billing (account-wide): how many live elsewhere
                    other_region = p.account_wide and p.account_wide(sel) and 0 or nil }
  if type(o.resources) == "table" then
    for i, r in ipairs(o.resources) do
      resources[i] = r
      local id = products.id_of(o.product, r)
      if id then given[id] = true end
    end
  end
  -- Only the ids asked for count, whatever else an answer lists; an id listed
  -- twice with different facts is reported, never resolved by order.
  local asked
  if sel.ids then
    asked = {}
    for _, id in ipairs(sel.ids) do asked[id] = true end
  end
  local conflicting, seen = {}, {}
  for _, e in ipairs(entries) do
    local first = seen[e.id]
    if first and (first.prepaid ~= e.prepaid or first.expires ~= e.expires or first.auto_renew ~= e.auto_renew) then
      conflicting[e.id] = true
    end
    seen[e.id] = first or e
  end
  local found = {}
  for _, e in ipairs(entries) do
    if e.elsewhere then   -- listed account-wide, not in this region: renewed from its own
      summary.other_region = summary.other_region + 1
    elseif asked and not asked[e.id] then
      summary.not_asked = (summary.not_asked or 0) + 1
    elseif conflicting[e.id] then
      if not info[e.id] then
        found[e.id] = true
        e.decision = "conflicting"
        info[e.id] = e
        if not given[e.id] then skipped[#skipped + 1] = e end
      end
    elseif not info[e.id] then
      found[e.id] = true
      e.expires_before = e.expires and dates.format(e.expires) or nil
      e.decision = classify(e, sel, now)
      info[e.id] = e
      if e.decision == nil then
        summary.selected = summary.selected + 1
        if not given[e.id] then resources[#resources + 1] = e.row or e.id end
      elseif e.decision == "not_due" and not sel.ids then
        summary.not_due = summary.not_due + 1
      elseif not given[e.id] then
        skipped[#skipped + 1] = e
      end
    end
  end
  for _, id in ipairs(sel.ids or {}) do
    if not found[id] and not given[id] then skipped[#skipped + 1] = { id = id, decision = "not_found" } end
  end
  summary.reported = #skipped
  return { resources = resources, info = info, skipped = skipped, summary = summary }
end

-- Add expiry facts and the reported-only resources to a workflow report.
function M.annotate(report, sel, period)
  for _, item in ipairs(report.items) do
    local e = sel.info[item.id]
    if e then
      item.expires_before = item.expires_before or e.expires_before
      item.auto_renew, item.charge_type, item.status = e.auto_renew, e.charge, e.status
      if item.decision == "renew" and e.expires then
        item.expires_after_planned = dates.format(dates.add_months(e.expires, period))
      end
    end
  end
  for _, e in ipairs(sel.skipped) do
    report.items[#report.items + 1] = { id = e.id, decision = e.decision, outcome = "skipped",
      expires_before = e.expires_before, expiry_as_sent = e.expires == nil and e.raw_expiry or nil,
      auto_renew = e.auto_renew, charge_type = e.charge, status = e.status, resource = e.row or e.id }
    report.totals.resources = report.totals.resources + 1
    report.totals.skipped = report.totals.skipped + 1
  end
  report.discovery = sel.summary
  return report
end

return M

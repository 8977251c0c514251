-- Volcengine ECS: priced by billing QueryPriceForRenew (20 ids a call), renewed by
-- ecs RenewInstance with a ClientToken the workflow chose and logged first. Read by
-- ecs DescribeInstances; billing ListAvailableInstances has its RenewType and lists
-- the whole account by expiry.
local base = require("cloudrenew.products.base")
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local pages = require("cloudrenew.client.pages")

local str, chunks = base.str, base.chunks
local DAY = 86400

local P = {
  title = "ECS", cloud = "volcengine", id_pattern = "^i%-[0-9a-z]+$", id_example = "i-3tiefmkskq3vj0hx1lt5", periods = base.set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36 },
  batch = 20,  -- QueryPriceForRenew prices up to 20 instances, one amount each
  -- billing ListAvailableInstances' Product (issue 23); the route that renews it
  billing_code = "ECS", route = "ecs RenewInstance",
  inquiry = "billing QueryPriceForRenew",   -- its price inquiry (the CLI's time left)
  price_source = "billing QueryPriceForRenew",
  spec = "spec/workflow_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "ecs DescribeInstances: the expiry moved; a lost answer: RenewInstance again with its ClientToken",
  select_region = true,   -- renewals go to the client's region
  sources = { "ecs" },    -- select.source = "ecs": list through ecs DescribeInstances, not billing
  inquire = function(c, rows, period)
    local ids = {}
    for i, r in ipairs(rows) do ids[i] = r.id end
    local res, err = c.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = period, InstanceIDList = ids }
    if not res then return nil, err end
    local out = {}
    for _, a in ipairs(type(res.InstanceAmountList) == "table" and res.InstanceAmountList or {}) do
      if type(a) == "table" and type(a.InstanceID) == "string" then
        -- One bad amount costs only its own instance its price (error kept per id).
        local cents, qerr = base.quote("QueryPriceForRenew", "DiscountAmount for " .. a.InstanceID, a.DiscountAmount, res)
        if out[a.InstanceID] then   -- two amounts for one instance: trust neither
          cents, qerr = nil, errors.client("BadResponse", "QueryPriceForRenew listed " .. a.InstanceID
            .. " twice", { action = "QueryPriceForRenew", request_id = res.RequestId, outcome = "not_executed" })
        end
        out[a.InstanceID] = { cents = cents, error = qerr, currency = res.Currency, request_id = res.RequestId }
      end
    end
    return out, nil, res.RequestId
  end,
  -- The ClientToken is chosen by the workflow and written to the audit log first.
  renew = function(c, row, period, token)
    local res, err = c.ecs:RenewInstance{ InstanceId = row.id, Period = period, PeriodUnit = "Month",
                                          ClientToken = token }
    return res, err, res and res.OrderId
  end,
  token = true,
}
P.row = base.id_row(P, "ecs")

-- Read: ecs DescribeInstances takes up to 100 ids; it has no renewal flag.
P.read = { batch = 100, field = "Instances", action = "DescribeInstances", key = "InstanceId",
  call = function(c, ids)
    return c:call("ecs", "2020-04-01", "DescribeInstances", { InstanceIds = ids, MaxResults = 100 },
                  { method = "GET", idempotent = true })
  end,
  parse = function(x)
    return { found = true, expires = base.time(x.ExpiredAt), prepaid = base.is(x.InstanceChargeType, "PrePaid") }
  end }

-- ECS's own read has no renewal flag; billing's does (status only: it lags 3-5 s).
function P.renew_type(c, id)
  local res, err = c:call("billing", "2022-01-01", "ListAvailableInstances",
                          { Product = "ECS", InstanceIDs = { id }, MaxResults = 1 }, { idempotent = true })
  if not res then return nil, err end
  for _, x in ipairs(type(res.InstanceList) == "table" and res.InstanceList or {}) do
    if type(x) == "table" and x.InstanceID == id then return str(x.RenewType) end
  end
  return nil
end

-- The auto-renew flag when the read has none: true, false or nil (unknown).
function P.auto_renew(c, id)
  local rt = P.renew_type(c, id)
  if rt then return rt == "Automatically" end
  return nil
end

function P.check_select(c, s)
  if c.source == "billing" and s.filters ~= nil and not c.ids then
    return "ecs filters are DescribeInstances parameters: they need source = \"ecs\""
  end
end

-- Listed through billing (account-wide, every region): discovery counts those of
-- other regions (other_region).
function P.account_wide(sel) return not sel.ids and sel.source ~= "ecs" end

-- billing's RenewType for the given ids: { [id] = "Manually"|"Automatically"|... }.
local function renew_types(c, ids, copts)
  local out = {}
  for _, ch in ipairs(chunks(ids, 100)) do
    local items, err = pages.all(c.billing:pages("ListAvailableInstances",
      { Product = "ECS", InstanceIDs = ch, MaxResults = 100 }, copts), "InstanceList")
    if not items then return nil, err end
    for _, x in ipairs(items) do
      if type(x) == "table" and str(x.InstanceID) then out[x.InstanceID] = str(x.RenewType) end
    end
  end
  return out
end

-- Discovery: billing ListAvailableInstances with ExpiredTimeStart/End (31-day
-- spans: the whole account, every region), then ecs DescribeInstances by those ids
-- in the client's region: the others are only counted (elsewhere); or with
-- source = "ecs" (and always for ids) ecs DescribeInstances plus billing's
-- RenewType by InstanceIDs.
function P.list(c, sel, copts, now)
  local out = {}
  if sel.ids or sel.source == "ecs" then
    local list = {}
    if sel.ids then
      for _, ch in ipairs(chunks(sel.ids, 100)) do
        local res, err = c.ecs:DescribeInstances({ InstanceIds = ch, MaxResults = 100 }, copts)
        if not res then return nil, err end
        for _, x in ipairs(type(res.Instances) == "table" and res.Instances or {}) do list[#list + 1] = x end
      end
    else
      local q = { MaxResults = 100 }
      for k, v in pairs(sel.filters or {}) do q[k] = v end
      local items, err = pages.all(c.ecs:pages("DescribeInstances", q, copts), "Instances")
      if not items then return nil, err end
      list = items
    end
    local prepaid = {}
    for _, x in ipairs(list) do
      if type(x) == "table" and str(x.InstanceId) then
        local e = { id = x.InstanceId, prepaid = x.InstanceChargeType == "PrePaid", charge = str(x.InstanceChargeType),
          expires = base.time(x.ExpiredAt), raw_expiry = x.ExpiredAt, status = str(x.Status) }
        out[#out + 1] = e
        if e.prepaid then prepaid[#prepaid + 1] = e.id end
      end
    end
    local types, err = renew_types(c, prepaid, copts)
    if not types then return nil, err end
    for _, e in ipairs(out) do
      if types[e.id] then e.auto_renew = types[e.id] == "Automatically" end
    end
    return out
  end
  -- The cloud's own expiry filter: spans of at most 31 days from 31 days ago
  -- (recently expired ones are reported) to now + N days.
  local from, to = now - 31 * DAY, now + sel.days * DAY
  local seen = {}
  while from < to do
    local stop = math.min(from + 31 * DAY, to)
    local items, err = pages.all(c.billing:pages("ListAvailableInstances", { Product = "ECS", MaxResults = 100,
      ExpiredTimeStart = dates.format(from), ExpiredTimeEnd = dates.format(stop) }, copts), "InstanceList")
    if not items then return nil, err end
    for _, x in ipairs(items) do
      if type(x) == "table" and str(x.InstanceID) and not seen[x.InstanceID] then
        seen[x.InstanceID] = true
        out[#out + 1] = { id = x.InstanceID, prepaid = true, charge = "PrePaid", expires = base.time(x.ExpiredTime),
          raw_expiry = x.ExpiredTime, auto_renew = x.RenewType == "Automatically", status = str(x.Status) }
      end
    end
    from = stop + 1
  end
  -- billing lists the whole account and its answer names no region: only what
  -- ecs DescribeInstances shows in this region may be priced or renewed here.
  local ids = {}
  for i, e in ipairs(out) do ids[i] = e.id end
  local here = {}
  for _, ch in ipairs(chunks(ids, 100)) do
    local res, err = c.ecs:DescribeInstances({ InstanceIds = ch, MaxResults = 100 }, copts)
    if not res then return nil, err end
    for _, x in ipairs(type(res.Instances) == "table" and res.Instances or {}) do
      if type(x) == "table" and str(x.InstanceId) then here[x.InstanceId] = x end
    end
  end
  for _, e in ipairs(out) do
    local x = here[e.id]
    if not x then
      e.elsewhere = true
    elseif str(x.InstanceChargeType) then   -- ecs's own word on how it is charged
      e.prepaid, e.charge = x.InstanceChargeType == "PrePaid", x.InstanceChargeType
    end
  end
  return out
end

return P

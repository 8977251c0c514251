-- Any Volcengine product ListAvailableInstances shows (issue 23 part 2, the volc
-- billing route): priced by billing QueryPriceForRenew and renewed by billing
-- RenewInstance, each with the instance's Product code, the RenewInstance with a
-- ClientToken the workflow chose and logged first (as ecs). Confirmed by the expiry
-- moving in ListAvailableInstances. A resource is { Product =, InstanceID = }.
-- Its name, volc_billing, is not "billing": that is the service every cloud has.
-- Products another module renews (ecs: "ECS") keep their own route: discovery
-- leaves them out, `cloudrenew expiring` shows them on theirs.
local base = require("cloudrenew.products.base")
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")
local pages = require("cloudrenew.client.pages")

local str = base.str
local DAY = 86400

local P = {
  title = "any product, by billing", cloud = "volcengine",
  -- Months; the definitions state none for RenewInstance: ecs's set assumed
  -- (QueryPriceForRenew's UseDuration is at most 36).
  periods = base.set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36 },
  batch = 20,   -- QueryPriceForRenew: up to 20 ids of one Product a call
  route = "billing RenewInstance",
  price_source = "billing QueryPriceForRenew (with the instance's Product)",
  spec = "spec/volc_billing_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "billing ListAvailableInstances: the expiry moved; a lost answer: RenewInstance again with its ClientToken",
  -- every Product code no other module renews (cloudrenew expiring; issue 23 part 2)
  any_billing_code = true,
  token = true,
  id_name = "InstanceID",
  example = { Product = "RDS_MySQL", InstanceID = "mysql-3tiefmkskq3vj" },   -- a resource as callers give it
}

-- { Product =, InstanceID = } -> { id =, row = }: both strings of id shape.
function P.row(r, i)
  if type(r) ~= "table" then
    return nil, string.format("resources[%d] must be { Product =, InstanceID = } (volc_billing renews any product:"
      .. " it needs the instance's Product code), got %s", i, num.show(r))
  end
  for _, k in ipairs{ "Product", "InstanceID" } do
    local v = r[k]
    if type(v) ~= "string" or not v:find("^[%w%-_.:]+$") or #v > 128 then
      return nil, string.format("resources[%d].%s must be a code or id string, got %s", i, k, num.show(v))
    end
  end
  return { id = r.InstanceID, row = { Product = r.Product, InstanceID = r.InstanceID } }
end

function P.id_of(r) return type(r) == "table" and r.InstanceID or nil end

-- A row from a billing list entry (cloudrenew.workflow.expiring).
function P.billing_row(id, _, _, code) return { Product = code, InstanceID = id } end

-- The intent records the Product code, so a lost answer can be asked again with
-- the same parameters (settling by ClientToken), and the row rebuilt from it.
function P.record(it) return { product_code = type(it.row) == "table" and it.row.Product or nil } end
function P.from_record(intent) return { Product = intent.product_code, InstanceID = intent.id } end

-- Rows of several Products: one QueryPriceForRenew per Product.
function P.inquire(c, rows, period)
  local by, order = {}, {}
  for _, r in ipairs(rows) do
    local code = r.row.Product
    if not by[code] then by[code] = {}; order[#order + 1] = code end
    table.insert(by[code], r.id)
  end
  local out, last_err = {}, nil
  for _, code in ipairs(order) do
    local res, err = c.billing:QueryPriceForRenew{ Product = code, UseDuration = period, InstanceIDList = by[code] }
    if not res then
      for _, id in ipairs(by[code]) do out[id] = { error = err } end
      last_err = err
    else
      for _, a in ipairs(type(res.InstanceAmountList) == "table" and res.InstanceAmountList or {}) do
        if type(a) == "table" and type(a.InstanceID) == "string" then
          local cents, qerr = base.quote("QueryPriceForRenew", "DiscountAmount for " .. a.InstanceID, a.DiscountAmount, res)
          if out[a.InstanceID] then   -- two amounts for one instance: trust neither
            cents, qerr = nil, errors.client("BadResponse", "QueryPriceForRenew listed " .. a.InstanceID
              .. " twice", { action = "QueryPriceForRenew", request_id = res.RequestId, outcome = "not_executed" })
          end
          out[a.InstanceID] = { cents = cents, error = qerr, currency = res.Currency, request_id = res.RequestId }
        end
      end
    end
  end
  if #order == 1 and last_err then return nil, last_err end
  return out
end

-- The answer must list the instance in SuccessInstanceList; an answer that does
-- not is no proof either way: unknown (never re-sent, settled by the expiry).
function P.renew(c, row, period, token)
  local r = type(row.row) == "table" and row.row or {}
  local res, err = c.billing:RenewInstance{ Product = r.Product, InstanceID = row.id, RenewalDuration = period,
    RenewalDurationUnit = "Month", ClientToken = token }
  if not res then return nil, err end
  for _, x in ipairs(type(res.SuccessInstanceList) == "table" and res.SuccessInstanceList or {}) do
    if type(x) == "table" and x.InstanceID == row.id then
      local orders = type(res.OrderIDList) == "table" and res.OrderIDList or {}
      return res, nil, type(orders[1]) == "string" and errors.text(orders[1], 64) or nil
    end
  end
  return nil, errors.client("BadResponse", "RenewInstance answered without " .. row.id .. " in SuccessInstanceList",
    { action = "RenewInstance", request_id = res.RequestId, outcome = "unknown" })
end

-- Read: ListAvailableInstances by InstanceIDs (up to 100), any Product.
P.read = { batch = 100, field = "InstanceList", action = "ListAvailableInstances", key = "InstanceID",
  call = function(c, ids)
    return c:call("billing", "2022-01-01", "ListAvailableInstances", { InstanceIDs = ids, MaxResults = 100 },
                  { idempotent = true })
  end,
  parse = function(x)
    local flag = nil   -- Automatically: on; Manually, NoRenew: off; anything else unknown
    if x.RenewType == "Automatically" then flag = true
    elseif x.RenewType == "Manually" or x.RenewType == "NoRenew" then flag = false end
    return { found = true, expires = base.time(x.ExpiredTime), renew_flag = str(x.RenewType),
      auto_renew = flag, prepaid = true }
  end }

function P.check_select(c)
  if c.filters ~= nil then return "volc_billing takes no filters (ids, or the account's list by expiry)" end
end

-- The codes another module renews: left to it.
local function owned()
  local t = {}
  for _, name in ipairs(require("cloudrenew.products").names("volcengine", "billing_code")) do
    t[require("cloudrenew.products").get(name).billing_code] = true
  end
  return t
end

local function entry(x)
  return { id = x.InstanceID, prepaid = true, charge = "PrePaid", expires = base.time(x.ExpiredTime),
    raw_expiry = x.ExpiredTime, auto_renew = x.RenewType == "Automatically", status = str(x.Status),
    row = { Product = str(x.Product), InstanceID = x.InstanceID } }
end

-- Discovery: ListAvailableInstances by ids, or by expiry in 31-day spans (the
-- whole account, every Product and region), leaving out what has its own route.
function P.list(c, sel, copts, now)
  local mine, out, seen = owned(), {}, {}
  local function take(items)
    for _, x in ipairs(items) do
      if type(x) == "table" and str(x.InstanceID) and str(x.Product) and not mine[x.Product]
          and not seen[x.InstanceID] then
        seen[x.InstanceID] = true
        out[#out + 1] = entry(x)
      end
    end
  end
  if sel.ids then
    for _, ch in ipairs(base.chunks(sel.ids, 100)) do
      local items, err = pages.all(c.billing:pages("ListAvailableInstances", { InstanceIDs = ch, MaxResults = 100 },
        copts), "InstanceList")
      if not items then return nil, err end
      take(items)
    end
    return out
  end
  local from, to = now - 31 * DAY, now + sel.days * DAY
  while from < to do
    local stop = math.min(from + 31 * DAY, to)
    local items, err = pages.all(c.billing:pages("ListAvailableInstances", { MaxResults = 100,
      ExpiredTimeStart = dates.format(from), ExpiredTimeEnd = dates.format(stop) }, copts), "InstanceList")
    if not items then return nil, err end
    take(items)
    from = stop + 1
  end
  return out
end

return P

-- Lighthouse (Tencent lighthouse 2020-03-24): priced by InquirePriceRenewInstances
-- (up to 50 ids, a price each in InstancePriceDetailSet), renewed by RenewInstances,
-- asynchronous as cvm: DescribeInstances' LatestOperation* follow the renewal's
-- RequestId. RenewDataDisk is sent false to both (RenewInstances' default is TRUE,
-- the inquiry's false): the price asked is the price charged.
local base = require("cloudrenew.products.base")
local cvm = require("cloudrenew.products.cvm")
local errors = require("cloudrenew.client.errors")

local str, is = base.str, base.is

local P = {
  title = "Lighthouse", cloud = "tencent",
  id_pattern = "^lhins%-[0-9a-z]+$", id_example = "lhins-hwqmi7d5",
  periods = base.SHORT,   -- "续费实例时，取值范围：1, 2, ..., 12, 24, 36"
  batch = 50,             -- "每次请求批量实例的上限为50"
  -- billing's code for Lighthouse: assumed (no definition names it; docs/official.md)
  billing_code = "p_lighthouse", route = "lighthouse RenewInstances", regional = true, select_region = true,
  inquiry = "lighthouse InquirePriceRenewInstances",
  price_source = "lighthouse InquirePriceRenewInstances (RenewDataDisk false)",
  spec = "spec/tencent_products_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "lighthouse DescribeInstances: LatestOperationState of the renewal's RequestId, or the expiry moved",
  tracks_request = true,
  verdict = cvm.verdict,
}
P.row = base.id_row(P, "lighthouse")

local A = "InquirePriceRenewInstances"

function P.inquire(c, rows, period, _, copts)
  local ids = {}
  for i, r in ipairs(rows) do ids[i] = r.id end
  local res, err = c.lighthouse:InquirePriceRenewInstances({ InstanceIds = ids,
    InstanceChargePrepaid = { Period = period }, RenewDataDisk = false }, copts)
  if not res then return nil, err end
  local out = {}
  for _, d in ipairs(type(res.InstancePriceDetailSet) == "table" and res.InstancePriceDetailSet or {}) do
    local p = type(d) == "table" and type(d.InstancePrice) == "table" and d.InstancePrice or nil
    if p and type(d.InstanceId) == "string" and p.DiscountPrice ~= nil then
      local cents, qerr = base.quote(A, "DiscountPrice for " .. d.InstanceId, p.DiscountPrice, res)
      if out[d.InstanceId] then   -- two prices for one instance: trust neither
        cents, qerr = nil, errors.client("BadResponse", A .. " listed " .. d.InstanceId .. " twice",
          { action = A, request_id = res.RequestId, outcome = "not_executed" })
      end
      out[d.InstanceId] = { cents = cents, error = qerr, currency = str(p.Currency), request_id = res.RequestId }
    end
  end
  -- One id and no detail: Price is "the first instance's" price.
  if #ids == 1 and not out[ids[1]] then
    local p = type(res.Price) == "table" and type(res.Price.InstancePrice) == "table" and res.Price.InstancePrice or {}
    if p.DiscountPrice == nil then return nil, base.bad_response(A, "Price.InstancePrice.DiscountPrice", res) end
    local cents, qerr = base.quote(A, "Price.InstancePrice.DiscountPrice", p.DiscountPrice, res)
    if not cents then return nil, qerr end
    out[ids[1]] = { cents = cents, currency = str(p.Currency), request_id = res.RequestId }
  end
  return out
end

function P.renew(c, row, period)
  return c.lighthouse:RenewInstances{ InstanceIds = { row.id }, InstanceChargePrepaid = { Period = period },
    RenewDataDisk = false }
end

P.read = { batch = 100, field = "InstanceSet", action = "DescribeInstances", key = "InstanceId",
  call = function(c, ids)
    return c:call("lighthouse", "2020-03-24", "DescribeInstances", { InstanceIds = ids, Limit = 100 }, { idempotent = true })
  end,
  parse = function(x)
    return { found = true, expires = base.time(x.ExpiredTime), renew_flag = str(x.RenewFlag),
      auto_renew = base.tc_auto(x.RenewFlag), prepaid = is(x.InstanceChargeType, "PREPAID"),
      latest = { operation = errors.text(str(x.LatestOperation), 64), state = errors.text(str(x.LatestOperationState), 32),
                 request_id = str(x.LatestOperationRequestId) } }
  end }

function P.list(c, sel, copts)
  local items, err = base.list(sel, 100,
    function(ch) return c.lighthouse:DescribeInstances({ InstanceIds = ch, Limit = 100 }, copts) end,
    function() return c.lighthouse:pages("DescribeInstances", { Filters = sel.filters, Limit = 100 }, copts) end,
    "InstanceSet")
  if not items then return nil, err end
  return base.entries(items, "InstanceId", function(x)
    return { id = x.InstanceId, prepaid = x.InstanceChargeType == "PREPAID", charge = str(x.InstanceChargeType),
      expires = base.time(x.ExpiredTime), raw_expiry = x.ExpiredTime,
      auto_renew = x.RenewFlag == "NOTIFY_AND_AUTO_RENEW", status = str(x.InstanceState),
      isolated = x.InstanceState == "SHUTDOWN" }
  end)
end

return P

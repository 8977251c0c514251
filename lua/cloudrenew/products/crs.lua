-- Redis (Tencent redis 2018-04-12; ids crs-...): priced by InquiryPriceRenewInstance
-- (Price in AmountUnit's unit: pent = cents, microPent = millionths of a cent; the
-- older definition, before AmountUnit, said "单位：分"), renewed by RenewInstance,
-- read by DescribeInstances (DeadlineTime, AutoRenewFlag, BillingMode). Its name is
-- crs, not redis: "redis" is an inventory's Redis-ledger option.
local base = require("cloudrenew.products.base")
local errors = require("cloudrenew.client.errors")

local str = base.str
local SCALE = { pent = 1, microPent = 1000000 }

local P = {
  title = "TencentDB for Redis", cloud = "tencent",
  id_pattern = "^crs%-[0-9a-z]+$", id_example = "crs-xjhsdj12",
  periods = base.SHORT,   -- "取值范围 [1,2,3,4,5,6,7,8,9,10,11,12,24,36]"
  batch = 1,
  billing_code = "p_redis", route = "redis RenewInstance", regional = true, select_region = true,
  inquiry = "redis InquiryPriceRenewInstance",
  price_source = "redis InquiryPriceRenewInstance (Price in AmountUnit: pent or microPent)",
  spec = "spec/tencent_products_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "redis DescribeInstances: the expiry moved",
}
P.row = base.id_row(P, "crs")

function P.inquire(c, rows, period, _, copts)
  local res, err = c.redis:InquiryPriceRenewInstance({ InstanceId = rows[1].id, Period = period }, copts)
  if not res then return nil, err end
  if res.Price == nil then return nil, base.bad_response("InquiryPriceRenewInstance", "Price", res) end
  local unit = res.AmountUnit == nil and "pent" or res.AmountUnit
  local scale = SCALE[unit]
  if not scale then   -- a unit we do not know: never guess a price's scale
    return nil, errors.client("BadResponse", "InquiryPriceRenewInstance answered AmountUnit "
      .. errors.text(tostring(unit), 32) .. " (pent or microPent expected)",
      { action = "InquiryPriceRenewInstance", request_id = res.RequestId, outcome = "not_executed" })
  end
  local cents, qerr = base.quote_cents("InquiryPriceRenewInstance", "Price (" .. unit .. ")", res.Price, res, scale)
  if not cents then return nil, qerr end
  return { [rows[1].id] = { cents = cents, currency = str(res.Currency), request_id = res.RequestId } }
end

function P.renew(c, row, period)
  local res, err = c.redis:RenewInstance{ InstanceId = row.id, Period = period }
  return res, err, res and (str(res.DealName) or str(res.DealId))
end

-- DeadlineTime: zone-less, Beijing time. AutoRenewFlag 1 on, 0 off; BillingMode 1 prepaid.
P.read = { batch = 100, field = "InstanceSet", action = "DescribeInstances", key = "InstanceId",
  call = function(c, ids)
    return c:call("redis", "2018-04-12", "DescribeInstances", { InstanceIds = ids, Limit = 100 }, { idempotent = true })
  end,
  parse = function(x)
    return { found = true, expires = base.time(x.DeadlineTime, 8), auto_renew = base.either(x.AutoRenewFlag, 1, 0),
      prepaid = base.either(x.BillingMode, 1, 0) }
  end }

function P.list(c, sel, copts)
  local items, err = base.list(sel, 100,
    function(ch) return c.redis:DescribeInstances({ InstanceIds = ch, Limit = 100 }, copts) end,
    function() return c.redis:pages("DescribeInstances", { BillingMode = "prepaid", Limit = 100 }, copts) end,
    "InstanceSet")
  if not items then return nil, err end
  return base.entries(items, "InstanceId", function(x)
    return { id = x.InstanceId, prepaid = x.BillingMode == 1, charge = x.BillingMode == 1 and "prepaid" or "postpaid",
      expires = base.time(x.DeadlineTime, 8), raw_expiry = x.DeadlineTime, auto_renew = x.AutoRenewFlag == 1,
      status = type(x.Status) == "number" and tostring(math.floor(x.Status)) or nil,
      isolated = x.Status == -2 or x.Status == -3 }
  end)
end

function P.check_select(c)
  if c.filters ~= nil then return "crs takes no filters: give ids or none" end
end

return P

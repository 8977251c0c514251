-- MySQL (Tencent cdb 2017-03-20): priced by DescribeDBPrice with InstanceId (the
-- renewal's price, "单位：分": integer cents), renewed by RenewDBInstance, read by
-- DescribeDBInstances (DeadlineTime, AutoRenew, PayType).
local base = require("cloudrenew.products.base")

local str = base.str

local P = {
  title = "MySQL", cloud = "tencent",
  id_pattern = "^cdb%-[0-9a-z]+$", id_example = "cdb-c1nl9rpv",
  periods = base.SHORT,   -- RenewDBInstance TimeSpan "[1,2,3,4,5,6,7,8,9,10,11,12,24,36]"
  batch = 1,
  billing_code = "p_cdb", route = "cdb RenewDBInstance", regional = true, select_region = true,
  inquiry = "cdb DescribeDBPrice",
  price_source = "cdb DescribeDBPrice (with InstanceId: the renewal's price, in cents)",
  spec = "spec/tencent_products_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "cdb DescribeDBInstances: the expiry moved",
}
P.row = base.id_row(P, "cdb")

function P.inquire(c, rows, period, _, copts)
  local res, err = c.cdb:DescribeDBPrice({ InstanceId = rows[1].id, Period = period }, copts)
  if not res then return nil, err end
  if res.Price == nil then return nil, base.bad_response("DescribeDBPrice", "Price", res) end
  local cents, qerr = base.quote_cents("DescribeDBPrice", "Price (cents)", res.Price, res)
  if not cents then return nil, qerr end
  return { [rows[1].id] = { cents = cents, currency = str(res.Currency), request_id = res.RequestId } }
end

function P.renew(c, row, period)
  local res, err = c.cdb:RenewDBInstance{ InstanceId = row.id, TimeSpan = period }
  return res, err, res and str(res.DealId)
end

-- AutoRenew: 0 not opened, 1 on, 2 closed. DeadlineTime: zone-less, Beijing time.
local function auto(v)
  if v == 1 then return true end
  if v == 0 or v == 2 then return false end
  return nil
end

P.read = { batch = 100, field = "Items", action = "DescribeDBInstances", key = "InstanceId",
  call = function(c, ids)
    return c:call("cdb", "2017-03-20", "DescribeDBInstances", { InstanceIds = ids, Limit = 100 }, { idempotent = true })
  end,
  parse = function(x)
    return { found = true, expires = base.time(x.DeadlineTime, 8), auto_renew = auto(x.AutoRenew),
      prepaid = base.either(x.PayType, 0, 1) }
  end }

function P.list(c, sel, copts)
  local items, err = base.list(sel, 100,
    function(ch) return c.cdb:DescribeDBInstances({ InstanceIds = ch, Limit = 100 }, copts) end,
    function() return c.cdb:pages("DescribeDBInstances", { Limit = 100 }, copts) end, "Items")
  if not items then return nil, err end
  return base.entries(items, "InstanceId", function(x)
    return { id = x.InstanceId, prepaid = x.PayType == 0, charge = x.PayType == 0 and "PRE_PAID" or "HOUR_PAID",
      expires = base.time(x.DeadlineTime, 8), raw_expiry = x.DeadlineTime, auto_renew = x.AutoRenew == 1,
      status = type(x.Status) == "number" and tostring(math.floor(x.Status)) or nil,
      isolated = x.Status == 4 or x.Status == 5 }
  end)
end

-- cdb DescribeDBInstances has no Filters: a selector takes ids or nothing.
function P.check_select(c)
  if c.filters ~= nil then return "cdb takes no filters (DescribeDBInstances has none here): give ids or none" end
end

return P

-- Cloud disks (Tencent cbs 2017-03-12): priced by InquiryPriceRenewDisks (one
-- DiskPrice for all the ids it is given: a batch of one), renewed by RenewDisk,
-- read by DescribeDisks (DeadlineTime, RenewFlag, DiskChargeType).
local base = require("cloudrenew.products.base")

local str = base.str

local P = {
  title = "cloud disk", cloud = "tencent",
  id_pattern = "^disk%-[0-9a-z]+$", id_example = "disk-11112222",
  periods = base.SHORT,   -- "取值范围：1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36"
  batch = 1,
  -- billing's code for cbs (a BusinessCode in tccli's billing examples)
  billing_code = "p_cbs", route = "cbs RenewDisk", regional = true, select_region = true,
  inquiry = "cbs InquiryPriceRenewDisks",
  price_source = "cbs InquiryPriceRenewDisks",
  spec = "spec/tencent_products_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "cbs DescribeDisks: the expiry moved",
}
P.row = base.id_row(P, "cbs")

function P.inquire(c, rows, period, _, copts)
  local res, err = c.cbs:InquiryPriceRenewDisks({ DiskIds = { rows[1].id },
    DiskChargePrepaids = { { Period = period } } }, copts)
  if not res then return nil, err end
  local price = type(res.DiskPrice) == "table" and res.DiskPrice or {}
  if price.DiscountPrice == nil then return nil, base.bad_response("InquiryPriceRenewDisks", "DiskPrice.DiscountPrice", res) end
  local cents, qerr = base.quote("InquiryPriceRenewDisks", "DiskPrice.DiscountPrice", price.DiscountPrice, res)
  if not cents then return nil, qerr end
  return { [rows[1].id] = { cents = cents, request_id = res.RequestId } }
end

function P.renew(c, row, period)
  return c.cbs:RenewDisk{ DiskId = row.id, DiskChargePrepaid = { Period = period } }
end

-- DeadlineTime is tccli's "datetime" (yyyy-MM-dd HH:mm:ss, no zone): Beijing time.
local function parse(x)
  return { found = true, expires = base.time(x.DeadlineTime, 8), renew_flag = str(x.RenewFlag),
    auto_renew = base.tc_auto(x.RenewFlag), prepaid = base.is(x.DiskChargeType, "PREPAID") }
end

P.read = { batch = 100, field = "DiskSet", action = "DescribeDisks", key = "DiskId", parse = parse,
  call = function(c, ids)
    return c:call("cbs", "2017-03-12", "DescribeDisks", { DiskIds = ids, Limit = 100 }, { idempotent = true })
  end }

function P.list(c, sel, copts)
  local items, err = base.list(sel, 100,
    function(ch) return c.cbs:DescribeDisks({ DiskIds = ch, Limit = 100 }, copts) end,
    function() return c.cbs:pages("DescribeDisks", { Filters = sel.filters, Limit = 100 }, copts) end, "DiskSet")
  if not items then return nil, err end
  return base.entries(items, "DiskId", function(x)
    return { id = x.DiskId, prepaid = x.DiskChargeType == "PREPAID", charge = str(x.DiskChargeType),
      expires = base.time(x.DeadlineTime, 8), raw_expiry = x.DeadlineTime,
      auto_renew = x.RenewFlag == "NOTIFY_AND_AUTO_RENEW", status = str(x.DiskState),
      isolated = x.DiskState == "TORECYCLE" }
  end)
end

return P

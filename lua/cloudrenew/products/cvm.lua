-- CVM (Tencent cvm 2017-03-12): priced by InquiryPriceRenewInstances, renewed by
-- RenewInstances; instance price plus any bandwidth part.
local base = require("cloudrenew.products.base")

-- Tencent ItemPrice -> cents; BandwidthPrice is part of what a renewal charges.
local function item_cents(p, what, res)
  if type(p) ~= "table" or p.DiscountPrice == nil then return nil end
  return base.quote("InquiryPriceRenewInstances", what .. ".DiscountPrice", p.DiscountPrice, res)
end

local P = {
  cloud = "tencent", id_pattern = "^ins%-[0-9a-z]+$", id_example = "ins-2zvpghhc", periods = base.set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36, 48, 60 },
  -- InquiryPriceRenewInstances answers one total for all the ids it is given,
  -- so a per-resource price needs a batch of one.
  batch = 1,
  -- Tencent billing DescribeRenewInstances lists it as ProductCode p_cvm (issue 23);
  -- route: what renews it; regional: its inquiry and renewal go to the instance's region.
  billing_code = "p_cvm", route = "cvm RenewInstances", regional = true,
  inquiry = "cvm InquiryPriceRenewInstances",   -- its price inquiry (the CLI's time left)
  -- copts: call options (the region of an instance listed account-wide)
  inquire = function(c, rows, period, _, copts)
    local res, err = c.cvm:InquiryPriceRenewInstances({
      InstanceIds = { rows[1].id }, InstanceChargePrepaid = { Period = period } }, copts)
    if not res then return nil, err end
    local price = type(res.Price) == "table" and res.Price or {}
    local inst, ierr = item_cents(price.InstancePrice, "Price.InstancePrice", res)
    if ierr then return nil, ierr end
    if not inst then return nil, base.bad_response("InquiryPriceRenewInstances", "Price.InstancePrice.DiscountPrice", res) end
    -- A bandwidth part that is present but not a price spoils the whole quote.
    local bw, berr = item_cents(price.BandwidthPrice, "Price.BandwidthPrice", res)
    if berr then return nil, berr end
    return { [rows[1].id] = { cents = inst + (bw or 0), request_id = res.RequestId } }
  end,
  renew = function(c, row, period)
    return c.cvm:RenewInstances{ InstanceIds = { row.id }, InstanceChargePrepaid = { Period = period } }
  end,
}
P.row = base.id_row(P, "cvm")

return P

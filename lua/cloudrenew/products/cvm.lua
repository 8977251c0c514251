-- CVM (Tencent cvm 2017-03-12): priced by InquiryPriceRenewInstances, renewed by
-- RenewInstances; instance price plus any bandwidth part. Read by DescribeInstances,
-- whose LatestOperation* fields follow the renewal's own RequestId.
local base = require("cloudrenew.products.base")
local errors = require("cloudrenew.client.errors")
local pages = require("cloudrenew.client.pages")

local str, is = base.str, base.is

-- Tencent ItemPrice -> cents; BandwidthPrice is part of what a renewal charges.
local function item_cents(p, what, res)
  if type(p) ~= "table" or p.DiscountPrice == nil then return nil end
  return base.quote("InquiryPriceRenewInstances", what .. ".DiscountPrice", p.DiscountPrice, res)
end

local P = {
  title = "CVM", cloud = "tencent",
  id_pattern = "^ins%-[0-9a-z]+$", id_example = "ins-2zvpghhc",
  periods = base.set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36, 48, 60 },
  -- InquiryPriceRenewInstances answers one total for all the ids it is given,
  -- so a per-resource price needs a batch of one.
  batch = 1,
  -- Tencent billing DescribeRenewInstances lists it as ProductCode p_cvm (issue 23);
  -- route: what renews it; regional: its inquiry and renewal go to the instance's region.
  billing_code = "p_cvm", route = "cvm RenewInstances", regional = true,
  inquiry = "cvm InquiryPriceRenewInstances",   -- its price inquiry (the CLI's time left)
  price_source = "cvm InquiryPriceRenewInstances",
  spec = "spec/workflow_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "cvm DescribeInstances: LatestOperationState of the renewal's RequestId, or the expiry moved",
  -- a selector's region applies: renewals go to the client's region
  select_region = true,
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

-- Read (confirmation, settling, reconcile): one request answers up to 100 ids
-- (InstanceIds' maximum; Limit defaults to 20, so a batch says 100).
P.read = { batch = 100, field = "InstanceSet", action = "DescribeInstances", key = "InstanceId",
  call = function(c, ids)
    return c:call("cvm", "2017-03-12", "DescribeInstances", { InstanceIds = ids, Limit = 100 }, { idempotent = true })
  end,
  parse = function(x)
    return { found = true, expires = base.time(x.ExpiredTime), renew_flag = str(x.RenewFlag),
      auto_renew = is(x.RenewFlag, "NOTIFY_AND_AUTO_RENEW"), prepaid = is(x.InstanceChargeType, "PREPAID"),
      -- server text reaches logs and terminals: printable and bounded (errors.text)
      latest = { operation = errors.text(str(x.LatestOperation), 64), state = errors.text(str(x.LatestOperationState), 32),
                 request_id = str(x.LatestOperationRequestId), message = errors.text(str(x.LatestOperationErrorMsg)) } }
  end }

-- The renewal's RequestId is followed: a confirmation can start without an expiry.
P.tracks_request = true

-- LatestOperationRequestId is the renewal's RequestId: SUCCESS renewed it, FAILED
-- did not (with the cloud's message), anything else is "not yet" whatever the expiry.
function P.verdict(st, before, rid)
  if rid and st.latest and st.latest.request_id == rid then
    local s = st.latest.state
    if s == "SUCCESS" then return { confirmed = true, outcome = "renewed", by = "latest_operation" } end
    if s == "FAILED" then
      return { confirmed = true, outcome = "failed", by = "latest_operation",
               message = st.latest.message or "RenewInstances FAILED (no LatestOperationErrorMsg)" }
    end
    return nil   -- OPERATING (or a state we do not know): keep asking
  end
  return base.expiry_verdict(st, before)
end

-- Discovery: DescribeInstances, all pages (no expiry filter exists: the caller filters).
local function entry(x)
  return { id = x.InstanceId, prepaid = x.InstanceChargeType == "PREPAID", charge = str(x.InstanceChargeType),
    expires = base.time(x.ExpiredTime), raw_expiry = x.ExpiredTime,
    auto_renew = x.RenewFlag == "NOTIFY_AND_AUTO_RENEW", status = str(x.InstanceState),
    isolated = x.InstanceState == "SHUTDOWN" }
end

function P.list(c, sel, copts)
  local list = {}
  if sel.ids then
    for _, ch in ipairs(base.chunks(sel.ids, 100)) do
      local res, err = c.cvm:DescribeInstances({ InstanceIds = ch, Limit = 100 }, copts)
      if not res then return nil, err end
      for _, x in ipairs(type(res.InstanceSet) == "table" and res.InstanceSet or {}) do list[#list + 1] = x end
    end
  else
    local items, err = pages.all(c.cvm:pages("DescribeInstances", { Filters = sel.filters, Limit = 100 }, copts),
      "InstanceSet")
    if not items then return nil, err end
    list = items
  end
  local out = {}
  for _, x in ipairs(list) do
    if type(x) == "table" and str(x.InstanceId) then out[#out + 1] = entry(x) end
  end
  return out
end

return P

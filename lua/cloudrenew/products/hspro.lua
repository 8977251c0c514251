-- Host Security Pro (Tencent yunjing 2018-02-28): priced by
-- InquiryPriceOpenProVersionPrepaid, renewed by RenewProVersion; a resource is a machine row.
-- cwp knows the deadline: DescribeMachineInfo reads one machine by Quuid.
local base = require("cloudrenew.products.base")

local str, either = base.str, base.either

local P = {
  title = "Host Security Pro", cloud = "tencent", periods = base.SHORT,
  example = { Quuid = "2c6d9e4f-0000-0000-0000-000000000001", MachineType = "CVM", MachineRegion = "ap-guangzhou" },
  price_source = "yunjing InquiryPriceOpenProVersionPrepaid (the price of opening Pro)",
  spec = "spec/workflow_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "cwp DescribeMachineInfo: ProVersionDeadline moved",
  -- What the official definitions say of these actions (the catalogue rows'
  -- lifecycle, from tccli): the CLI prints it wherever hspro is renewed.
  lifecycle = "yunjing 2018-02-28 RenewProVersion and InquiryPriceOpenProVersionPrepaid are not in the"
    .. " maintained cwp 2018-02-28 API (deleted there 2022-04-27; the older yunjing line still defines"
    .. " them), and the inquiry is officially the price of opening Pro (\"开通专业版询价\"), taken here"
    .. " as the renewal's price",
  batch = 1,   -- InquiryPriceOpenProVersionPrepaid also answers a total only
  -- Billing's list shows Host Security as p_yunjing, which tc_billing renews (billing
  -- RenewInstance, the maintained route); this one takes machines by Quuid.
  route = "yunjing RenewProVersion",
  inquiry = "yunjing InquiryPriceOpenProVersionPrepaid",   -- its price inquiry (the CLI's time left)
  -- A bare Quuid means a CVM machine in the client's region.
  row = function(r, i, client)
    if type(r) == "string" then
      r = { Quuid = r, MachineType = "CVM", MachineRegion = client.options and client.options.region }
    end
    if type(r) ~= "table" or type(r.Quuid) ~= "string" or r.Quuid == "" then
      return nil, string.format("resources[%d] must be { Quuid =, MachineType =, MachineRegion = }", i)
    end
    if r.MachineType ~= "CVM" and r.MachineType ~= "BM" then
      return nil, string.format("resources[%d].MachineType must be \"CVM\" or \"BM\"", i)
    end
    if type(r.MachineRegion) ~= "string" or r.MachineRegion == "" then
      return nil, string.format("resources[%d].MachineRegion is required (e.g. \"ap-guangzhou\")", i)
    end
    return { id = r.Quuid, row = r }
  end,
  inquire = function(c, rows, period)
    local r = rows[1].row
    local res, err = c.yunjing:InquiryPriceOpenProVersionPrepaid{ ChargePrepaid = { Period = period },
      Machines = { { MachineType = r.MachineType, MachineRegion = r.MachineRegion, Quuid = r.Quuid } } }
    if not res then return nil, err end
    if res.DiscountPrice == nil then return nil, base.bad_response("InquiryPriceOpenProVersionPrepaid", "DiscountPrice", res) end
    local cents, qerr = base.quote("InquiryPriceOpenProVersionPrepaid", "DiscountPrice", res.DiscountPrice, res)
    if not cents then return nil, qerr end
    return { [rows[1].id] = { cents = cents, request_id = res.RequestId } }
  end,
  renew = function(c, row, period)
    return c.yunjing:RenewProVersion{ Quuid = row.id, ChargePrepaid = { Period = period } }
  end,
}

-- Read: cwp's deadline is Beijing time with no zone; DescribeMachineInfo takes one
-- machine and answers with its fields at the top.
P.read = { batch = 1, action = "DescribeMachineInfo",
  call = function(c, ids)
    return c:call("cwp", "2018-02-28", "DescribeMachineInfo", { Quuid = ids[1] }, { idempotent = true })
  end,
  one = function(m, id)
    if m.Quuid ~= nil and m.Quuid ~= id then return { found = false } end
    return { found = true, expires = base.time(m.ProVersionDeadline, 8),
      prepaid = either(m.PayMode, "PREPAY", "POSTPAY") }
  end }

function P.id_of(r) return type(r) == "table" and r.Quuid or nil end

-- A selector needs ids (Quuids): listing machines is not catalogued.
function P.check_select(c)
  if not c.ids then return "hspro needs ids (Quuids): cwp DescribeMachineInfo reads one machine by Quuid" end
  if c.filters ~= nil then return "hspro takes no filters" end
end

-- Discovery: DescribeMachineInfo per Quuid; it shows no auto-renew flag.
function P.list(c, sel, copts)
  local out = {}
  for _, id in ipairs(sel.ids) do
    local m, err = c.cwp:DescribeMachineInfo({ Quuid = id }, copts)
    if not m then
      if err.code ~= "ResourceNotFound" then return nil, err end
    else
      out[#out + 1] = { id = id, prepaid = m.PayMode == "PREPAY", charge = str(m.PayMode),
        expires = base.time(m.ProVersionDeadline, 8), raw_expiry = m.ProVersionDeadline,
        status = str(m.MachineStatus),
        row = { Quuid = id, MachineType = m.MachineType == "BM" and "BM" or "CVM",
                MachineRegion = str(m.MachineRegion) or sel.region or (c.options and c.options.region) } }
    end
  end
  return out
end

return P

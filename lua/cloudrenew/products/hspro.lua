-- Host Security Pro (Tencent yunjing 2018-02-28): priced by
-- InquiryPriceOpenProVersionPrepaid, renewed by RenewProVersion; a resource is a machine row.
local base = require("cloudrenew.products.base")

local P = {
  cloud = "tencent", periods = base.SHORT,
  -- What the official definitions say of these actions (the catalogue rows'
  -- lifecycle, from tccli): the CLI prints it wherever hspro is renewed.
  lifecycle = "yunjing 2018-02-28 RenewProVersion and InquiryPriceOpenProVersionPrepaid are not in the"
    .. " maintained cwp 2018-02-28 API (deleted there 2022-04-27; the older yunjing line still defines"
    .. " them), and the inquiry is officially the price of opening Pro (\"开通专业版询价\"), taken here"
    .. " as the renewal's price",
  batch = 1,   -- InquiryPriceOpenProVersionPrepaid also answers a total only
  -- billing DescribeRenewInstances' ProductCode (tccli's RenewInstance names p_yunjing)
  billing_code = "p_yunjing", route = "yunjing RenewProVersion",
  inquiry = "yunjing InquiryPriceOpenProVersionPrepaid",   -- its price inquiry (the CLI's time left)
  -- A row from billing's listing: its InstanceId taken as the Quuid, a CVM machine in
  -- its RegionCode (billing names no machine type; docs/official.md).
  billing_row = function(id, region, client)
    return { Quuid = id, MachineType = "CVM", MachineRegion = region or (client.options and client.options.region) }
  end,
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

return P

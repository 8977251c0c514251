-- What the workflow needs to know per product: which cloud, which periods,
-- how to price a batch of resources and how to renew one. Prices come back in
-- integer cents (cloudrenew.money), rounded up past the cent.
local errors = require("cloudrenew.errors")
local money = require("cloudrenew.money")
local num = require("cloudrenew.num")

local M = {}

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
local SHORT = set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36 }

local function bad_response(action, what, res)
  return errors.client("BadResponse", action .. " answered without " .. what,
    { action = action, request_id = res and res.RequestId, outcome = "not_executed" })
end

-- A quote is a price only if money.cents takes it: finite, >= 0, an exact
-- decimal, at most 10^12. Anything else is the cloud's bug or an attack; it must
-- never reach the running total (a negative one would make room for more).
local function untrusted(action, what, v, res)
  return errors.client("BadResponse", string.format("%s answered %s = %s, which is not a price"
    .. " (a decimal amount from 0 to %d)", action, what, num.show(v), money.MAX),
    { action = action, request_id = res and res.RequestId, outcome = "not_executed" })
end

local function quote(action, what, v, res)
  local cents = money.cents(v, "up")
  if cents then return cents end
  return nil, untrusted(action, what, v, res)
end

-- Tencent ItemPrice -> cents; BandwidthPrice is part of what a renewal charges.
local function item_cents(p, what, res)
  if type(p) ~= "table" or p.DiscountPrice == nil then return nil end
  return quote("InquiryPriceRenewInstances", what .. ".DiscountPrice", p.DiscountPrice, res)
end

-- Each product's row(r, i, client) turns resources[i] into { id =, row = }
-- (row: what inquire and renew get), or nil and a message naming the entry.
-- Id products take an id string of the documented shape.
local function id_row(product)
  return function(r, i)
    local p = M[product]
    if type(r) ~= "string" or not r:find("^[%w%-_.:]+$") then
      return nil, string.format("resources[%d] must be an id string, got %s", i, num.show(r))
    end
    if p.id_pattern and not r:find(p.id_pattern) then
      return nil, string.format("resources[%d] %q is not a valid %s id (like %s)", i, r, product, p.id_example)
    end
    return { id = r, row = r }
  end
end

M.cvm = {
  row = id_row("cvm"),
  cloud = "tencent", id_pattern = "^ins%-[0-9a-z]+$", id_example = "ins-2zvpghhc", periods = set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36, 48, 60 },
  -- InquiryPriceRenewInstances answers one total for all the ids it is given,
  -- so a per-resource price needs a batch of one.
  batch = 1,
  inquire = function(c, rows, period)
    local res, err = c.cvm:InquiryPriceRenewInstances{
      InstanceIds = { rows[1].id }, InstanceChargePrepaid = { Period = period } }
    if not res then return nil, err end
    local price = type(res.Price) == "table" and res.Price or {}
    local inst, ierr = item_cents(price.InstancePrice, "Price.InstancePrice", res)
    if ierr then return nil, ierr end
    if not inst then return nil, bad_response("InquiryPriceRenewInstances", "Price.InstancePrice.DiscountPrice", res) end
    -- A bandwidth part that is present but not a price spoils the whole quote.
    local bw, berr = item_cents(price.BandwidthPrice, "Price.BandwidthPrice", res)
    if berr then return nil, berr end
    return { [rows[1].id] = { cents = inst + (bw or 0), request_id = res.RequestId } }
  end,
  renew = function(c, row, period)
    return c.cvm:RenewInstances{ InstanceIds = { row.id }, InstanceChargePrepaid = { Period = period } }
  end,
}

M.hspro = {
  cloud = "tencent", periods = SHORT,
  batch = 1,   -- InquiryPriceOpenProVersionPrepaid also answers a total only
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
    if res.DiscountPrice == nil then return nil, bad_response("InquiryPriceOpenProVersionPrepaid", "DiscountPrice", res) end
    local cents, qerr = quote("InquiryPriceOpenProVersionPrepaid", "DiscountPrice", res.DiscountPrice, res)
    if not cents then return nil, qerr end
    return { [rows[1].id] = { cents = cents, request_id = res.RequestId } }
  end,
  renew = function(c, row, period)
    return c.yunjing:RenewProVersion{ Quuid = row.id, ChargePrepaid = { Period = period } }
  end,
}

M.teo = {
  row = id_row("teo"),
  cloud = "tencent", id_pattern = "^edgeone%-[0-9a-z]+$", id_example = "edgeone-2unuvzjmmn2q", periods = SHORT,
  batch = 1,
  -- teo has no price inquiry: the caller's table or function is the price list.
  caller_priced = true,
  inquire = function(_, rows, period, price)
    local id = rows[1].id
    local v, perr
    if type(price) == "function" then
      local ok, a, b = pcall(price, id, period)
      if not ok then
        return nil, errors.client("InvalidParameter", "price function failed for " .. id .. ": " .. tostring(a))
      end
      v, perr = a, b
    else
      v = price[id]
    end
    if v == nil then
      return nil, errors.client("InvalidParameter", "no price given for " .. id
        .. (perr and (": " .. tostring(perr)) or ""))
    end
    local cents = money.cents(v, "up")
    if not cents then
      return nil, errors.client("InvalidParameter", string.format("price for %s is %s, which is not an amount"
        .. " (a decimal from 0 to %d)", id, num.show(v), money.MAX))
    end
    return { [id] = { cents = cents } }
  end,
  renew = function(c, row, period)
    local res, err = c.teo:RenewPlan{ PlanId = row.id, Period = period, AutoUseVoucher = "false" }
    return res, err, res and res.DealName
  end,
}

M.ecs = {
  row = id_row("ecs"),
  cloud = "volcengine", id_pattern = "^i%-[0-9a-z]+$", id_example = "i-3tiefmkskq3vj0hx1lt5", periods = set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36 },
  batch = 20,  -- QueryPriceForRenew prices up to 20 instances, one amount each
  inquire = function(c, rows, period)
    local ids = {}
    for i, r in ipairs(rows) do ids[i] = r.id end
    local res, err = c.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = period, InstanceIDList = ids }
    if not res then return nil, err end
    local out = {}
    for _, a in ipairs(type(res.InstanceAmountList) == "table" and res.InstanceAmountList or {}) do
      if type(a) == "table" and type(a.InstanceID) == "string" then
        -- One bad amount costs only its own instance its price (error kept per id).
        local cents, qerr = quote("QueryPriceForRenew", "DiscountAmount for " .. a.InstanceID, a.DiscountAmount, res)
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

return M

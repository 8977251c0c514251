-- Volcengine ECS: priced by billing QueryPriceForRenew (20 ids a call), renewed by
-- ecs RenewInstance with a ClientToken the workflow chose and logged first.
local base = require("cloudrenew.products.base")
local errors = require("cloudrenew.client.errors")

local P = {
  cloud = "volcengine", id_pattern = "^i%-[0-9a-z]+$", id_example = "i-3tiefmkskq3vj0hx1lt5", periods = base.set{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36 },
  batch = 20,  -- QueryPriceForRenew prices up to 20 instances, one amount each
  -- billing ListAvailableInstances' Product (issue 23); the route that renews it
  billing_code = "ECS", route = "ecs RenewInstance",
  inquiry = "billing QueryPriceForRenew",   -- its price inquiry (the CLI's time left)
  inquire = function(c, rows, period)
    local ids = {}
    for i, r in ipairs(rows) do ids[i] = r.id end
    local res, err = c.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = period, InstanceIDList = ids }
    if not res then return nil, err end
    local out = {}
    for _, a in ipairs(type(res.InstanceAmountList) == "table" and res.InstanceAmountList or {}) do
      if type(a) == "table" and type(a.InstanceID) == "string" then
        -- One bad amount costs only its own instance its price (error kept per id).
        local cents, qerr = base.quote("QueryPriceForRenew", "DiscountAmount for " .. a.InstanceID, a.DiscountAmount, res)
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
P.row = base.id_row(P, "ecs")

return P

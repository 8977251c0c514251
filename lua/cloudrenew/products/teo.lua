-- EdgeOne plans (Tencent teo 2022-09-01): renewed by RenewPlan; teo has no price
-- inquiry, so the caller's table or function is the price list.
local base = require("cloudrenew.products.base")
local errors = require("cloudrenew.client.errors")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")

local P = {
  cloud = "tencent", id_pattern = "^edgeone%-[0-9a-z]+$", id_example = "edgeone-2unuvzjmmn2q", periods = base.SHORT,
  batch = 1,
  -- billing DescribeRenewInstances' ProductCode: assumed (no definition names teo's; docs/official.md)
  billing_code = "p_teo", route = "teo RenewPlan",
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
P.row = base.id_row(P, "teo")

return P

-- EdgeOne plans (Tencent teo 2022-09-01): renewed by RenewPlan; teo has no price
-- inquiry, so the caller's table or function is the price list. Read by DescribePlans.
local base = require("cloudrenew.products.base")
local errors = require("cloudrenew.client.errors")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")
local pages = require("cloudrenew.client.pages")

local str = base.str

local P = {
  title = "EdgeOne plan", cloud = "tencent", id_pattern = "^edgeone%-[0-9a-z]+$", id_example = "edgeone-2unuvzjmmn2q", periods = base.SHORT,
  batch = 1,
  -- billing's code for EdgeOne: p_edgeone ("边缘安全加速平台", a BusinessCode in tccli's
  -- billing examples; taken as DescribeRenewInstances' ProductCode, docs/official.md)
  billing_code = "p_edgeone", route = "teo RenewPlan",
  -- teo has no price inquiry: the caller's table or function is the price list.
  caller_priced = true,
  id_name = "PlanId", noun = "plan",   -- what the caller's price list is keyed by
  price_source = "the caller (price = table or function; the inventory's prices)",
  spec = "spec/workflow_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "teo DescribePlans: the expiry moved",
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

-- Read: DescribePlans' plan-id filter takes up to 20 ids.
P.read = { batch = 20, field = "Plans", action = "DescribePlans", key = "PlanId",
  call = function(c, ids)
    return c:call("teo", "2022-09-01", "DescribePlans",
                  { Filters = { { Name = "plan-id", Values = ids } }, Limit = 200 }, { idempotent = true })
  end,
  parse = function(x)
    return { found = true, expires = base.time(x.ExpiredTime),
      auto_renew = base.either(x.AutoRenewal, true, false), prepaid = base.either(x.PayMode, 1, 0) }
  end }

-- Discovery: DescribePlans, all pages.
local function entry(x)
  return { id = x.PlanId, prepaid = x.PayMode == 1, charge = x.PayMode == 1 and "prepaid" or "postpaid",
    expires = base.time(x.ExpiredTime), raw_expiry = x.ExpiredTime,
    auto_renew = x.AutoRenewal == true, status = str(x.Status),
    isolated = x.Status == "isolated" or x.Status == "expired" }
end

function P.list(c, sel, copts)
  local list = {}
  local queries = {}
  if sel.ids then
    for _, ch in ipairs(base.chunks(sel.ids, 20)) do
      queries[#queries + 1] = { Filters = { { Name = "plan-id", Values = ch } }, Limit = 200 }
    end
  else
    queries[1] = { Filters = sel.filters, Limit = 200 }
  end
  for _, q in ipairs(queries) do
    local items, err = pages.all(c.teo:pages("DescribePlans", q, copts), "Plans")
    if not items then return nil, err end
    for _, x in ipairs(items) do list[#list + 1] = x end
  end
  local out = {}
  for _, x in ipairs(list) do
    if type(x) == "table" and str(x.PlanId) then out[#out + 1] = entry(x) end
  end
  return out
end

return P

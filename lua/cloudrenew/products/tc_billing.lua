-- The products Tencent billing 2018-07-09 RenewInstance renews (issue 23 part 2):
-- "T-Sec-Web应用防火墙、云防火墙、主机安全、主机容器、云安全中心、T-Sec-密钥管理系统" (its
-- definition). It is Host Security's maintained route (ProductCode p_yunjing, the
-- definition's example), next to hspro's older yunjing actions. A resource is
-- { ProductCode =, SubProductCode =, RegionCode =, InstanceId = } as
-- DescribeRenewInstances lists it. ClientToken is required: the workflow chooses and
-- logs it first, and a lost answer is asked again with it. No price inquiry exists:
-- the caller prices it, as teo. Confirmed by DescribeRenewInstances: the expiry moved.
local base = require("cloudrenew.products.base")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")
local pages = require("cloudrenew.client.pages")
local teo = require("cloudrenew.products.teo")

local str = base.str
local DAY = 86400
local FIELDS = { "ProductCode", "SubProductCode", "RegionCode", "InstanceId" }

-- What the definition lists, as DescribeRenewInstances' ProductName may show it
-- (names, not codes: the definition gives p_yunjing's code only).
local NAMES = { "Web应用防火墙", "云防火墙", "主机安全", "主机容器", "云安全中心", "密钥管理系统" }

local periods = {}
for m = 1, 36 do periods[m] = true end   -- "取值上限：36", PeriodUnit m

local P = {
  title = "WAF, Cloud Firewall, Host Security, KMS, ... by billing", cloud = "tencent",
  periods = periods, batch = 1,
  route = "billing RenewInstance",
  billing_code = "p_yunjing",   -- the definition's example; the other products by name (billing_match)
  caller_priced = true, id_name = "InstanceId", noun = "instance",
  price_source = "the caller (billing RenewInstance has no inquiry)",
  spec = "spec/tencent_products_spec.lua",   -- the spec that runs it through the workflow (README's table)
  confirmation = "billing DescribeRenewInstances: the expiry moved; a lost answer: RenewInstance again with its ClientToken",
  token = true,
  inquire = teo.inquire,   -- the caller's price table or function, as teo's
  example = { ProductCode = "p_yunjing", SubProductCode = "sp_yunjing_vas", RegionCode = "ap-guangzhou",
              InstanceId = "yunjing-00000001" },
}

-- A billing list entry this route renews: p_yunjing, or a product the definition names.
function P.billing_match(code, product_name)
  if code == P.billing_code then return true end
  if type(product_name) ~= "string" then return false end
  for _, n in ipairs(NAMES) do
    if product_name:find(n, 1, true) then return true end
  end
  return false
end

function P.row(r, i)
  if type(r) ~= "table" then
    return nil, string.format("resources[%d] must be { ProductCode =, SubProductCode =, RegionCode =, InstanceId = }"
      .. " (billing RenewInstance needs all four, as DescribeRenewInstances lists them), got %s", i, num.show(r))
  end
  for _, k in ipairs(FIELDS) do
    local v = r[k]
    if type(v) ~= "string" or not v:find("^[%w%-_.:]+$") or #v > 128 then
      return nil, string.format("resources[%d].%s must be a code or id string, got %s", i, k, num.show(v))
    end
  end
  return { id = r.InstanceId, row = { ProductCode = r.ProductCode, SubProductCode = r.SubProductCode,
    RegionCode = r.RegionCode, InstanceId = r.InstanceId } }
end

function P.id_of(r) return type(r) == "table" and r.InstanceId or nil end

function P.billing_row(id, region, _, code, sub)
  return { ProductCode = code, SubProductCode = sub, RegionCode = region, InstanceId = id }
end

-- The intent keeps the codes, so a lost answer is asked again with the same parameters.
function P.record(it)
  local r = type(it.row) == "table" and it.row or {}
  return { product_code = r.ProductCode, sub_product_code = r.SubProductCode, region_code = r.RegionCode }
end
function P.from_record(intent)
  return { ProductCode = intent.product_code, SubProductCode = intent.sub_product_code,
           RegionCode = intent.region_code, InstanceId = intent.id }
end

function P.renew(c, row, period, token)
  local r = type(row.row) == "table" and row.row or {}
  local res, err = c.billing:RenewInstance{ ClientToken = token, ProductCode = r.ProductCode,
    SubProductCode = r.SubProductCode, RegionCode = r.RegionCode, InstanceId = row.id, Period = period,
    PeriodUnit = "m" }
  if not res then return nil, err end
  local orders = type(res.OrderIdList) == "table" and res.OrderIdList or {}
  return res, nil, type(orders[1]) == "string" and errors.text(orders[1], 64) or nil
end

-- ExpireTime: "yyyy-MM-dd HH:mm:ss", Beijing time (docs/official.md).
local function parse(x)
  return { found = true, expires = base.time(x.ExpireTime, 8), renew_flag = str(x.RenewFlag),
    auto_renew = base.tc_auto(x.RenewFlag), prepaid = true }
end

P.read = { batch = 100, field = "InstanceList", action = "DescribeRenewInstances", key = "InstanceId", parse = parse,
  call = function(c, ids)
    return c:call("billing", "2018-07-09", "DescribeRenewInstances", { InstanceIdList = ids, MaxResults = 100 },
                  { idempotent = true })
  end }

function P.check_select(c)
  if c.filters ~= nil then return "tc_billing takes no filters (ids, or the account's list by expiry)" end
end

local function entry(x)
  return { id = x.InstanceId, prepaid = true, charge = "PREPAID", expires = base.time(x.ExpireTime, 8),
    raw_expiry = x.ExpireTime, auto_renew = x.RenewFlag == "NOTIFY_AND_AUTO_RENEW", status = str(x.Status),
    row = { ProductCode = str(x.ProductCode), SubProductCode = str(x.SubProductCode), RegionCode = str(x.RegionCode),
            InstanceId = x.InstanceId } }
end

-- Discovery: DescribeRenewInstances by ids, or by expiry (up to sel.days ahead, the
-- whole account), keeping what this route renews.
function P.list(c, sel, copts, now)
  local queries = {}
  if sel.ids then
    for _, ch in ipairs(base.chunks(sel.ids, 100)) do queries[#queries + 1] = { InstanceIdList = ch, MaxResults = 100 } end
  else
    local function bj(t) return os.date("!%Y-%m-%d %H:%M:%S", math.floor(t) + 8 * 3600) end
    queries[1] = { MaxResults = 100, ExpireTimeStart = bj(now - 31 * DAY), ExpireTimeEnd = bj(now + sel.days * DAY) }
  end
  local out, seen = {}, {}
  for _, q in ipairs(queries) do
    local items, err = pages.all(c.billing:pages("DescribeRenewInstances", q, copts), "InstanceList")
    if not items then return nil, err end
    for _, x in ipairs(items) do
      if type(x) == "table" and str(x.InstanceId) and not seen[x.InstanceId]
          and P.billing_match(x.ProductCode, x.ProductName) and str(x.SubProductCode) and str(x.RegionCode) then
        seen[x.InstanceId] = true
        out[#out + 1] = entry(x)
      end
    end
  end
  return out
end


return P

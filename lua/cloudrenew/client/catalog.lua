-- The action catalogue: data, one row per documented action. Adding an action is
-- adding a row. Fields:
--   cloud, service, version, action, method ("POST" JSON body | "GET" query)
--   host      default host (Tencent: "<service>.tencentcloudapi.com")
--   rate      documented requests/second per account (pacing default)
--   kind      "inquiry" (read-only, safe to retry) | "renewal" (spends money)
--   token     name of the idempotency token parameter, when the cloud has one
--   region    "required" when the action needs X-TC-Region
--   params    validation rules (see validate.lua); result documents the answer
--   exclusive lists of parameters the definition forbids giving together
--   one_of    lists of parameters of which the definition requires one
--   lifecycle what the official definitions say of the action's life, when it matters
local M = {}

local function range(a, b, ...)
  local t = {}
  for i = a, b do t[#t + 1] = i end
  for _, v in ipairs({ ... }) do t[#t + 1] = v end
  return t
end

local RENEW_FLAGS = { "NOTIFY_AND_AUTO_RENEW", "NOTIFY_AND_MANUAL_RENEW", "DISABLE_NOTIFY_AND_MANUAL_RENEW" }
local TC_PERIODS = range(1, 12, 24, 36)
local CVM_PERIODS = range(1, 12, 24, 36, 48, 60)
local VOLC_PERIODS = range(1, 9, 12, 24, 36)

local CVM_IDS = function(max)
  return { type = "array", required = true, min = 1, max = max, unique = true,
           items = { type = "string", pattern = "^ins%-[0-9a-z]+$", example = "ins-2zvpghhc" } }
end
local CVM_CHARGE = { type = "object", required = true, fields = {
  Period = { type = "integer", required = true, enum = CVM_PERIODS },
  RenewFlag = { type = "string", enum = RENEW_FLAGS },
} }
local HS_CHARGE = { type = "object", required = true, fields = {
  Period = { type = "integer", required = true, enum = TC_PERIODS },
  RenewFlag = { type = "string", enum = RENEW_FLAGS },
} }

-- tccli: both yunjing actions were deleted from the maintained cwp 2018-02-28 line
-- on 2022-04-27; only the older yunjing line defines them.
local YUNJING_LIFE = "not in the maintained cwp 2018-02-28 API (deleted there 2022-04-27, tccli CHANGELOG);"
  .. " only the older yunjing 2018-02-28 line defines it"

M.actions = {
  { cloud = "tencent", service = "yunjing", version = "2018-02-28", action = "RenewProVersion",
    method = "POST", rate = 20, kind = "renewal", lifecycle = YUNJING_LIFE,
    params = {
      Quuid = { type = "string", required = true, min = 1, max = 128 },
      ChargePrepaid = HS_CHARGE,
    } },
  { cloud = "tencent", service = "yunjing", version = "2018-02-28",
    action = "InquiryPriceOpenProVersionPrepaid", method = "POST", rate = 20, kind = "inquiry",
    lifecycle = YUNJING_LIFE .. "; officially the price of opening Pro (\"开通专业版询价\")",
    params = {
      ChargePrepaid = HS_CHARGE,
      Machines = { type = "array", required = true, min = 1, items = { type = "object", fields = {
        MachineType = { type = "string", required = true, enum = { "CVM", "BM" } },
        MachineRegion = { type = "string", required = true, min = 1 },
        Quuid = { type = "string", required = true, min = 1, max = 128 },
      } } },
    } },
  { cloud = "tencent", service = "teo", version = "2022-09-01", action = "RenewPlan",
    method = "POST", rate = 20, kind = "renewal",
    params = {
      PlanId = { type = "string", required = true, pattern = "^edgeone%-[0-9a-z]+$",
                 example = "edgeone-2unuvzjmmn2q" },
      Period = { type = "integer", required = true, enum = TC_PERIODS },
      -- a STRING in the API, not a boolean
      AutoUseVoucher = { type = "string", enum = { "true", "false" } },
    } },
  { cloud = "tencent", service = "cvm", version = "2017-03-12", action = "InquiryPriceRenewInstances",
    method = "POST", rate = 10, kind = "inquiry", region = "required",
    params = {
      InstanceIds = CVM_IDS(100),
      InstanceChargePrepaid = CVM_CHARGE,
      DryRun = { type = "boolean" },
      RenewPortableDataDisk = { type = "boolean" },
    } },
  { cloud = "tencent", service = "cvm", version = "2017-03-12", action = "RenewInstances",
    method = "POST", rate = 10, kind = "renewal", region = "required",
    params = {
      InstanceIds = CVM_IDS(100),
      InstanceChargePrepaid = CVM_CHARGE,
      RenewPortableDataDisk = { type = "boolean" },
    } },
  { cloud = "volcengine", service = "ecs", version = "2020-04-01", action = "RenewInstance",
    method = "GET", rate = 10, kind = "renewal", token = "ClientToken",
    params = {
      InstanceId = { type = "string", required = true, pattern = "^i%-[0-9a-z]+$",
                     example = "i-3tiefmkskq3vj0hx1lt5" },
      Period = { type = "integer", required = true, enum = VOLC_PERIODS },
      PeriodUnit = { type = "string", required = true, enum = { "Month" } },   -- required officially
      ClientToken = { type = "string", min = 1, max = 64, pattern = "^[\32-\126]+$",
                      example = "at most 64 printable ASCII characters" },
    } },
  { cloud = "volcengine", service = "billing", version = "2022-01-01", action = "QueryPriceForRenew",
    method = "POST", rate = 10, kind = "inquiry", host = "billing.volcengineapi.com",
    params = {
      Product = { type = "string", required = true, min = 1 },
      UseDuration = { type = "integer", required = true, min = 1, max = 36 },
      InstanceIDList = { type = "array", required = true, min = 1, max = 20, unique = true,
                         items = { type = "string", min = 1 } },
    } },
}

-- Read actions (issue 11): discovery and confirmation. Filters the APIs document
-- are checked for shape and documented bounds only; their names stay open.
local function filters(max, max_values)
  return { type = "array", max = max, items = { type = "object", fields = {
    Name = { type = "string", required = true, min = 1, max = 128 },
    Values = { type = "array", required = true, min = 1, max = max_values,
               items = { type = "string", max = 1024 } },
  } } }
end
local PAGE = { type = "integer", min = 0, max = 1000000000 }
local TOKEN = { type = "string", max = 1024 }
local UTC_TIME = { type = "string", pattern = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$",
                   example = "yyyy-MM-ddTHH:mm:ssZ (UTC)" }
-- "格式为yyyy-MM-dd HH:mm:ss" (billing DescribeRenewInstances); the zone is not stated: Beijing time assumed.
local BEIJING_TIME = { type = "string", pattern = "^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$",
                       example = "yyyy-MM-dd HH:mm:ss (Beijing time)" }
local READS = {
  { cloud = "tencent", service = "cvm", version = "2017-03-12", action = "DescribeInstances",
    method = "POST", rate = 40, kind = "inquiry", region = "required",
    pages = { style = "offset", offset = "Offset", limit = "Limit", max = 100,
              list = "InstanceSet", total = "TotalCount" },
    exclusive = { { "InstanceIds", "Filters" } },   -- "不支持同时指定InstanceIds和Filters"
    params = {
      InstanceIds = { type = "array", max = 100, unique = true, items = CVM_IDS(1).items },
      Filters = filters(10, 5), Offset = PAGE,
      Limit = { type = "integer", min = 1, max = 100 },
    } },
  { cloud = "tencent", service = "teo", version = "2022-09-01", action = "DescribePlans",
    method = "POST", rate = 20, kind = "inquiry",
    pages = { style = "offset", offset = "Offset", limit = "Limit", max = 200,
              list = "Plans", total = "TotalCount" },
    params = {
      Filters = filters(4, 20), Offset = PAGE,
      Limit = { type = "integer", min = 1, max = 200 },
      Order = { type = "string", enum = { "enable-time", "expire-time" } },
      Direction = { type = "string", enum = { "asc", "desc" } },
    } },
  { cloud = "tencent", service = "cwp", version = "2018-02-28", action = "DescribeMachineInfo",
    method = "POST", rate = 20, kind = "inquiry",
    one_of = { { "Quuid", "Uuid" } },   -- "Quuid , Uuid 必填一项"
    params = {
      Quuid = { type = "string", min = 1, max = 128 },
      Uuid = { type = "string", min = 1, max = 128 },
    } },
  { cloud = "volcengine", service = "ecs", version = "2020-04-01", action = "DescribeInstances",
    method = "GET", rate = 10, kind = "inquiry",   -- no documented limit found: 10/s assumed
    pages = { style = "token", token = "NextToken", limit = "MaxResults", max = 100, list = "Instances" },
    params = {
      InstanceIds = { type = "array", max = 100, unique = true,
                      items = { type = "string", pattern = "^i%-[0-9a-z]+$", example = "i-3tiefmkskq3vj0hx1lt5" } },
      InstanceChargeType = { type = "string", enum = { "PrePaid", "PostPaid" } },
      Status = { type = "string", min = 1, max = 32 },
      MaxResults = { type = "integer", min = 1, max = 100 },
      NextToken = TOKEN,
    } },
  { cloud = "volcengine", service = "billing", version = "2022-01-01", action = "ListAvailableInstances",
    method = "POST", rate = 5, kind = "inquiry", host = "billing.volcengineapi.com",
    pages = { style = "token", token = "NextToken", limit = "MaxResults", max = 100, list = "InstanceList" },
    params = {
      Product = { type = "string", min = 1, max = 64 },
      InstanceIDs = { type = "array", max = 100, unique = true, items = { type = "string", min = 1, max = 128 } },
      RenewType = { type = "string", enum = { "Manually", "Automatically", "NoRenew" } },
      ExpiredTimeStart = UTC_TIME, ExpiredTimeEnd = UTC_TIME,
      MaxResults = { type = "integer", required = true, min = 1, max = 100 },   -- required officially
      NextToken = TOKEN,
    } },
  -- Issue 23: every prepaid instance the renewal management page knows, any product
  -- and region. 20/s: "A maximum of 20 requests can be initiated per second for this
  -- API" (tencentcloud.com/document/api/555/78424); tccli's api.json states no rate.
  { cloud = "tencent", service = "billing", version = "2018-07-09", action = "DescribeRenewInstances",
    method = "POST", rate = 20, kind = "inquiry",
    pages = { style = "token", token = "NextToken", limit = "MaxResults", max = 100, list = "InstanceList" },
    params = {
      MaxResults = { type = "integer", required = true, min = 1, max = 100 },   -- "取值范围：1~100"
      NextToken = TOKEN,
      Reverse = { type = "boolean" },
      RenewFlagList = { type = "array", max = 3, unique = true, items = { type = "string", enum = RENEW_FLAGS } },
      InstanceIdList = { type = "array", max = 100, unique = true, items = { type = "string", min = 1, max = 128 } },
      ExpireTimeStart = BEIJING_TIME, ExpireTimeEnd = BEIJING_TIME,
    } },
}
for _, row in ipairs(READS) do M.actions[#M.actions + 1] = row end

-- Issue 23 part 4: auto-renew flags through the billing APIs (any product). They spend
-- nothing now but commit future spend: kind "renewal" (never re-sent on an unknown).
local AUTORENEW = {
  -- 20/s: "A maximum of 20 requests can be initiated per second for this API"
  -- (tencentcloud.com/document/api/555/78444); tccli states none.
  { cloud = "tencent", service = "billing", version = "2018-07-09", action = "SetRenewal",
    method = "POST", rate = 20, kind = "renewal",
    params = {
      ProductCode = { type = "string", required = true, min = 1, max = 128 },
      RegionCode = { type = "string", required = true, min = 1, max = 64 },
      InstanceId = { type = "string", required = true, min = 1, max = 128 },   -- "仅支持指定一个"
      RenewFlag = { type = "string", required = true, enum = RENEW_FLAGS },
      -- a STRING in the API: "如果是月，支持：1-11 如果是年，支持：1-5"
      RenewPeriod = { type = "string", pattern = "^[1-9][0-9]?$", example = "1 to 11 (months) or 1 to 5 (years)" },
      RenewPeriodUnit = { type = "string", enum = { "y", "m" } },
    } },
  -- No documented limit found: 5/s assumed, as ListAvailableInstances.
  { cloud = "volcengine", service = "billing", version = "2022-01-01", action = "SetRenewalType",
    method = "POST", rate = 5, kind = "renewal", host = "billing.volcengineapi.com", token = "ClientToken",
    params = {
      Product = { type = "string", required = true, min = 1, max = 64 },
      InstanceID = { type = "string", required = true, min = 1, max = 128 },
      RenewType = { type = "string", required = true, enum = { "Manually", "Automatically", "NoRenew" } },
      RenewalDuration = { type = "integer", min = 1, max = 60 },
      RenewalDurationUnit = { type = "string", enum = { "Month", "Year" } },   -- values assumed (as ecs PeriodUnit)
      RenewalTimes = { type = "integer", min = 1, max = 1000 },
      SetRenewalRelatedInstance = { type = "boolean" },
      ClientToken = { type = "string", min = 1, max = 64, pattern = "^[\32-\126]+$",
                      example = "at most 64 printable ASCII characters" },
    } },
}
for _, row in ipairs(AUTORENEW) do M.actions[#M.actions + 1] = row end

-- Issue 23 part 2: Volcengine billing renews any product ListAvailableInstances shows
-- (product "billing", cloudrenew.products.billing). No documented limit found: 5/s
-- assumed, as the other billing actions. ClientToken makes it idempotent, as ecs's.
M.actions[#M.actions + 1] = {
  cloud = "volcengine", service = "billing", version = "2022-01-01", action = "RenewInstance",
  method = "POST", rate = 5, kind = "renewal", host = "billing.volcengineapi.com", token = "ClientToken",
  params = {
    Product = { type = "string", required = true, min = 1, max = 64 },
    InstanceID = { type = "string", required = true, min = 1, max = 128 },
    RenewalDuration = { type = "integer", min = 1, max = 36 },   -- months: QueryPriceForRenew's UseDuration bound
    RenewalDurationUnit = { type = "string", required = true, enum = { "Month" } },   -- required officially; value assumed (as ecs PeriodUnit)
    RenewRelatedInstance = { type = "boolean" },
    UnitedExpireDay = { type = "string", min = 1, max = 8 },
    AutoUseCoupon = { type = "boolean" },
    ClientToken = { type = "string", min = 1, max = 64, pattern = "^[\32-\126]+$",
                    example = "at most 64 printable ASCII characters" },
  } }

-- Issue 23 part 2: Tencent products whose own APIs renew them, and billing's
-- RenewInstance for the products it lists. tccli states no rate for any of them and
-- no vendor page was at hand: 10/s assumed for renewals, 20/s for inquiries and reads
-- (docs/official.md). Periods are the definitions' ("取值范围：1, 2, ..., 24, 36").
local function ids_of(pattern, example, max)
  return { type = "array", max = max, unique = true, items = { type = "string", pattern = pattern, example = example } }
end
local DISK = { "^disk%-[0-9a-z]+$", "disk-11112222" }
local LH = { "^lhins%-[0-9a-z]+$", "lhins-hwqmi7d5" }
local LH_CHARGE = { type = "object", required = true, fields = {
  Period = { type = "integer", required = true, enum = TC_PERIODS },   -- "续费实例时" 1-12, 24, 36
  RenewFlag = { type = "string", enum = RENEW_FLAGS },
} }
local DISK_CHARGE = { type = "object", fields = {
  Period = { type = "integer", required = true, enum = TC_PERIODS },
  RenewFlag = { type = "string", enum = RENEW_FLAGS },
  CurInstanceDeadline = { type = "string", min = 1, max = 64 },
} }
local OWN = {
  { cloud = "tencent", service = "cbs", version = "2017-03-12", action = "InquiryPriceRenewDisks",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    one_of = { { "DiskChargePrepaids", "NewDeadline" } },   -- "两者必传一个"
    params = {
      DiskIds = { type = "array", required = true, min = 1, max = 100, unique = true,
                  items = { type = "string", pattern = DISK[1], example = DISK[2] } },
      DiskChargePrepaids = { type = "array", min = 1, max = 100, items = DISK_CHARGE },
      NewDeadline = { type = "string", min = 1, max = 64 },
      ProjectId = { type = "integer", min = 0 },
    } },
  { cloud = "tencent", service = "cbs", version = "2017-03-12", action = "RenewDisk",
    method = "POST", rate = 10, kind = "renewal", region = "required",
    params = {
      DiskId = { type = "string", required = true, pattern = DISK[1], example = DISK[2] },
      DiskChargePrepaid = (function() local t = {}; for k, v in pairs(DISK_CHARGE) do t[k] = v end
        t.required = true; return t end)(),
    } },
  { cloud = "tencent", service = "cbs", version = "2017-03-12", action = "DescribeDisks",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    pages = { style = "offset", offset = "Offset", limit = "Limit", max = 100, list = "DiskSet", total = "TotalCount" },
    exclusive = { { "DiskIds", "Filters" } },   -- "参数不支持同时指定`DiskIds`和`Filters`"
    params = {
      DiskIds = ids_of(DISK[1], DISK[2], 100), Filters = filters(10, 5), Offset = PAGE,
      Limit = { type = "integer", min = 1, max = 100 },
      Order = { type = "string", enum = { "ASC", "DESC" } },
      OrderField = { type = "string", enum = { "CREATE_TIME", "DEADLINE" } },
      ReturnBindAutoSnapshotPolicy = { type = "boolean" },
    } },
  -- DescribeDBPrice answers in cents ("单位：分"); with InstanceId it is the renewal's price.
  { cloud = "tencent", service = "cdb", version = "2017-03-20", action = "DescribeDBPrice",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    params = {
      Period = { type = "integer", required = true, min = 1, max = 36 },
      InstanceId = { type = "string", pattern = "^cdb%-[0-9a-z]+$", example = "cdb-c1nl9rpv" },
      Zone = { type = "string", min = 1 }, GoodsNum = { type = "integer", min = 1, max = 100 },
      Memory = { type = "integer", min = 1 }, Volume = { type = "integer", min = 1 },
      InstanceRole = { type = "string", enum = { "master", "ro", "dr" } },
      PayType = { type = "string", enum = { "PRE_PAID", "HOUR_PAID" } },
      ProtectMode = { type = "integer", enum = { 0, 1, 2 } },
      DeviceType = { type = "string", enum = { "UNIVERSAL", "EXCLUSIVE", "CLOUD_NATIVE_CLUSTER",
        "CLOUD_NATIVE_CLUSTER_EXCLUSIVE", "CLOUD_NATIVE_CLUSTER_ULTRA" } }, InstanceNodes = { type = "integer", min = 1 },
      Cpu = { type = "integer", min = 1 }, Ladder = { type = "integer", enum = { 1, 2, 3 } },
      DiskType = { type = "string", min = 1 },
    } },
  { cloud = "tencent", service = "cdb", version = "2017-03-20", action = "RenewDBInstance",
    method = "POST", rate = 10, kind = "renewal", region = "required",
    params = {
      InstanceId = { type = "string", required = true, pattern = "^cdb%-[0-9a-z]+$", example = "cdb-c1nl9rpv" },
      TimeSpan = { type = "integer", required = true, enum = TC_PERIODS },
      ModifyPayType = { type = "string", enum = { "PREPAID" } },
      AutoRenew = { type = "integer", enum = { 0, 1 } },
    } },
  { cloud = "tencent", service = "cdb", version = "2017-03-20", action = "DescribeDBInstances",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    pages = { style = "offset", offset = "Offset", limit = "Limit", max = 2000, list = "Items", total = "TotalCount" },
    params = {
      InstanceIds = ids_of("^cdb%-[0-9a-z]+$", "cdb-c1nl9rpv", 2000), Offset = PAGE,
      Limit = { type = "integer", min = 1, max = 2000 },
    } },
  -- Price's unit is AmountUnit's: pent (cents) or microPent.
  { cloud = "tencent", service = "redis", version = "2018-04-12", action = "InquiryPriceRenewInstance",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    params = {
      InstanceId = { type = "string", required = true, pattern = "^crs%-[0-9a-z]+$", example = "crs-xjhsdj12" },
      Period = { type = "integer", required = true, enum = TC_PERIODS },
    } },
  { cloud = "tencent", service = "redis", version = "2018-04-12", action = "RenewInstance",
    method = "POST", rate = 10, kind = "renewal", region = "required",
    params = {
      InstanceId = { type = "string", required = true, pattern = "^crs%-[0-9a-z]+$", example = "crs-xjhsdj12" },
      Period = { type = "integer", required = true, enum = TC_PERIODS },
      ModifyPayMode = { type = "string", enum = { "prepaid" } },
    } },
  { cloud = "tencent", service = "redis", version = "2018-04-12", action = "DescribeInstances",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    pages = { style = "offset", offset = "Offset", limit = "Limit", max = 1000, list = "InstanceSet", total = "TotalCount" },
    params = {
      InstanceIds = ids_of("^crs%-[0-9a-z]+$", "crs-xjhsdj12", 1000), InstanceId = { type = "string", min = 1 },
      Offset = PAGE, Limit = { type = "integer", min = 1, max = 1000 },
      BillingMode = { type = "string", enum = { "postpaid", "prepaid" } },
      OrderBy = { type = "string", min = 1 }, OrderType = { type = "integer", enum = { 0, 1 } },
    } },
  -- Lighthouse is asynchronous as cvm: DescribeInstances' LatestOperation* follow the
  -- renewal's RequestId. RenewDataDisk defaults to TRUE in RenewInstances but false in
  -- the inquiry: cloudrenew sends false to both, so the price is what is charged.
  { cloud = "tencent", service = "lighthouse", version = "2020-03-24", action = "InquirePriceRenewInstances",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    params = {
      InstanceIds = { type = "array", required = true, min = 1, max = 50, unique = true,
                      items = { type = "string", pattern = LH[1], example = LH[2] } },   -- "上限为50"
      InstanceChargePrepaid = LH_CHARGE,
      RenewDataDisk = { type = "boolean" }, AlignInstanceExpiredTime = { type = "boolean" },
    } },
  { cloud = "tencent", service = "lighthouse", version = "2020-03-24", action = "RenewInstances",
    method = "POST", rate = 10, kind = "renewal", region = "required",
    params = {
      InstanceIds = { type = "array", required = true, min = 1, max = 100, unique = true,
                      items = { type = "string", pattern = LH[1], example = LH[2] } },
      InstanceChargePrepaid = LH_CHARGE,
      RenewDataDisk = { type = "boolean" }, AutoVoucher = { type = "boolean" },
    } },
  { cloud = "tencent", service = "lighthouse", version = "2020-03-24", action = "DescribeInstances",
    method = "POST", rate = 20, kind = "inquiry", region = "required",
    pages = { style = "offset", offset = "Offset", limit = "Limit", max = 100, list = "InstanceSet", total = "TotalCount" },
    exclusive = { { "InstanceIds", "Filters" } },
    params = {
      InstanceIds = ids_of(LH[1], LH[2], 100), Filters = filters(10, 100), Offset = PAGE,
      Limit = { type = "integer", min = 1, max = 100 },
      OrderField = { type = "string", enum = { "EXPIRED_TIME" } }, Order = { type = "string", enum = { "ASC", "DESC" } },
    } },
  -- billing RenewInstance: the products its definition lists (WAF, Cloud Firewall, Host
  -- Security, container security, Security Center, KMS). ClientToken is required.
  { cloud = "tencent", service = "billing", version = "2018-07-09", action = "RenewInstance",
    method = "POST", rate = 10, kind = "renewal", token = "ClientToken",
    params = {
      ClientToken = { type = "string", required = true, min = 1, max = 64, pattern = "^[\33-\126]+$",
                      example = "at most 64 ASCII characters" },
      ProductCode = { type = "string", required = true, min = 1, max = 128 },
      SubProductCode = { type = "string", required = true, min = 1, max = 128 },
      RegionCode = { type = "string", required = true, min = 1, max = 64 },
      InstanceId = { type = "string", required = true, min = 1, max = 128 },
      Period = { type = "integer", min = 1, max = 36 },   -- "取值上限：36，默认取值1"
      PeriodUnit = { type = "string", enum = { "m", "y" } },
    } },
}
for _, row in ipairs(OWN) do M.actions[#M.actions + 1] = row end

-- Lookups: by_service[cloud][service][action] = row; services[cloud][service] = version.
M.by_service, M.services = {}, {}
for _, row in ipairs(M.actions) do
  local c = M.by_service[row.cloud] or {}
  M.by_service[row.cloud] = c
  c[row.service] = c[row.service] or {}
  c[row.service][row.action] = row
  M.services[row.cloud] = M.services[row.cloud] or {}
  M.services[row.cloud][row.service] = row.version
end

-- Rate used when a doc gives none (generic calls).
M.default_rate = 20

function M.find(cloud, service, action)
  local c = M.by_service[cloud]
  return c and c[service] and c[service][action] or nil
end

return M

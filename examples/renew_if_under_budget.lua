#!/usr/bin/env lua5.4
-- Inquire renewal prices, then renew only what is under a price cap, on each
-- cloud. Dry run unless --apply is given: a renewal spends real money.
--
--   lua5.4 examples/renew_if_under_budget.lua [--apply]
--
-- Credentials: TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY (or ~/.tencentcloud/credentials)
-- and VOLCENGINE_ACCESS_KEY/VOLCENGINE_SECRET_KEY (or ~/.volc/config).
-- What to renew: CVM_INSTANCES="ins-aaaaaaaa,ins-bbbbbbbb" ECS_INSTANCES="i-..." PERIOD=1
-- MAX_PRICE=150 (per resource, in the cloud's currency), TENCENTCLOUD_REGION=ap-guangzhou.
-- Test/demo only: CLOUDRENEW_CONNECT_TO=127.0.0.1:8443 CLOUDRENEW_CA_FILE=ca.pem send the
-- requests to another address with the real host names (see `make demo`).
local cloudrenew = require("cloudrenew")

local apply = arg[1] == "--apply"
local period = tonumber(os.getenv("PERIOD") or "1")
local max_price = tonumber(os.getenv("MAX_PRICE") or "150")

local function list(var)
  local out = {}
  for id in (os.getenv(var) or ""):gmatch("[^,%s]+") do out[#out + 1] = id end
  return out
end

local net = { connect_to = os.getenv("CLOUDRENEW_CONNECT_TO"), ca_file = os.getenv("CLOUDRENEW_CA_FILE") }
local function with_net(t)
  for k, v in pairs(net) do t[k] = v end
  return t
end

local failures = 0
local function report(what, res, err)
  if res then
    print(string.format("  %-48s ok  RequestId=%s%s", what, res.RequestId,
      res.OrderId and (" OrderId=" .. res.OrderId) or ""))
  else
    failures = failures + 1
    print(string.format("  %-48s FAILED %s", what, tostring(err)))
  end
end

-- Tencent CVM: one inquiry per instance (a batch answer is a sum), then renew.
local cvm_ids = list("CVM_INSTANCES")
if #cvm_ids > 0 then
  local tc, err = cloudrenew.tencent(with_net{ region = os.getenv("TENCENTCLOUD_REGION") or "ap-guangzhou" })
  if not tc then print("tencent: " .. tostring(err)); os.exit(2) end
  print(string.format("Tencent CVM, %d month(s), cap %.2f per instance:", period, max_price))
  for _, id in ipairs(cvm_ids) do
    local price, perr = tc.cvm:InquiryPriceRenewInstances{
      InstanceIds = { id }, InstanceChargePrepaid = { Period = period } }
    if not price then
      report("inquire " .. id, nil, perr)
    else
      local p = price.Price.InstancePrice.DiscountPrice
      if p > max_price then
        print(string.format("  %-48s skip: %.2f is over the cap", id, p))
      elseif not apply then
        print(string.format("  %-48s would renew for %.2f (dry run)", id, p))
      else
        report(string.format("renew %s for %.2f", id, p),
          tc.cvm:RenewInstances{ InstanceIds = { id }, InstanceChargePrepaid = { Period = period } })
      end
    end
  end
end

-- Volcengine ECS: price up to 20 instances per inquiry, then renew each.
local ecs_ids = list("ECS_INSTANCES")
if #ecs_ids > 0 then
  local volc, err = cloudrenew.volcengine(with_net{})
  if not volc then print("volcengine: " .. tostring(err)); os.exit(2) end
  print(string.format("Volcengine ECS, %d month(s), cap %.2f per instance:", period, max_price))
  for first = 1, #ecs_ids, 20 do
    local batch = { table.unpack(ecs_ids, first, math.min(first + 19, #ecs_ids)) }
    local quote, qerr = volc.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = period,
                                                        InstanceIDList = batch }
    if not quote then report("inquire " .. #batch .. " instance(s)", nil, qerr) end
    for _, item in ipairs(quote and quote.InstanceAmountList or {}) do
      local p = tonumber(item.DiscountAmount)
      if p > max_price then
        print(string.format("  %-48s skip: %s %s is over the cap", item.InstanceID, item.DiscountAmount, quote.Currency))
      elseif not apply then
        print(string.format("  %-48s would renew for %s %s (dry run)", item.InstanceID, item.DiscountAmount, quote.Currency))
      else
        report(string.format("renew %s for %s %s", item.InstanceID, item.DiscountAmount, quote.Currency),
          volc.ecs:RenewInstance{ InstanceId = item.InstanceID, Period = period, PeriodUnit = "Month" })
      end
    end
  end
end

if #cvm_ids + #ecs_ids == 0 then
  print("Nothing to do: set CVM_INSTANCES and/or ECS_INSTANCES (comma-separated ids).")
end
os.exit(failures == 0 and 0 or 1)

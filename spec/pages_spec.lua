-- Typed read actions and pagination (issue 11 part 1), through the fake cloud:
-- Offset/Limit and NextToken/MaxResults, paced pages, servers that never end.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local pages = require("cloudrenew.client.pages")
local fixture = require("support.fixture")

local function fleet(prefix, n, width, extra)
  local out = {}
  for i = 1, n do
    local r = { id = string.format("%s%0" .. width .. "d", prefix, i), expires_in_days = i % 40 + 1 }
    for k, v in pairs(extra or {}) do r[k] = v end
    out[i] = r
  end
  return out
end

describe("read actions and pages", function()
  local fake, tc, volc
  local fx = fixture.new()

  setup(function() fake, tc, volc = fx.fake, fx:tencent(), fx:volcengine() end)

  it("walks 250 CVM instances in pages of 100 (Offset/Limit), one request per page", function()
    fake:resources(fleet("ins-p", 250, 7))
    local ids, n = {}, 0
    for page, err in tc.cvm:pages("DescribeInstances", { Limit = 100 }) do
      assert.is_nil(err)
      n = n + 1
      for _, inst in ipairs(page.InstanceSet) do ids[#ids + 1] = inst.InstanceId end
    end
    assert.are.equal(3, n)
    assert.are.equal(250, #ids)
    local offsets = {}
    for _, r in ipairs(fake:requests_for("DescribeInstances")) do
      offsets[#offsets + 1] = r.body:match('"Offset":(%d+)') or "none"
    end
    assert.are.same({ "none", "100", "200" }, offsets)
  end)

  it("defaults Limit to the documented maximum and stops on TotalCount", function()
    fake:resources(fleet("ins-p", 200, 7))
    local items, n = pages.all(tc.cvm:pages("DescribeInstances", {}), "InstanceSet")
    assert.are.equal(200, #items)
    assert.are.equal(2, n)
    assert.are.equal(2, #fake:requests_for("DescribeInstances"))
  end)

  it("follows NextToken for ecs DescribeInstances and billing ListAvailableInstances", function()
    fake:resources(fleet("i-p", 25, 19))
    local items, n = pages.all(volc.ecs:pages("DescribeInstances", { MaxResults = 10 }), "Instances")
    assert.are.equal(25, #items)
    assert.are.equal(3, n)
    local reqs = fake:requests_for("DescribeInstances")
    assert.is_nil(reqs[1].query:find("NextToken"))
    assert.truthy(reqs[2].query:find("NextToken=tok%-10"), reqs[2].query)
    items, n = pages.all(volc.billing:pages("ListAvailableInstances", { Product = "ECS", MaxResults = 20 }),
      "InstanceList")
    assert.are.equal(25, #items)
    assert.are.equal(2, n)
    assert.truthy(items[1].ExpiredTime:find("Z$"), items[1].ExpiredTime)
  end)

  it("works for a generic call given its paging", function()
    fake:resources(fleet("edgeone-p", 30, 11))
    local iter = pages.call(tc, "teo", "2022-09-01", "DescribePlans", { Limit = 7 }, nil,
      { paging = { style = "offset", offset = "Offset", limit = "Limit", list = "Plans", total = "TotalCount" } })
    local items, n = pages.all(iter, "Plans")
    assert.are.equal(30, #items)
    assert.are.equal(5, n)
  end)

  it("paces pages like every other call", function()
    fake:resources(fleet("ins-p", 50, 7))
    local c = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limits = { DescribeInstances = 5 } }))
    local t0 = core.monotonic()
    local items = assert(pages.all(c.cvm:pages("DescribeInstances", { Limit = 10 }), "InstanceSet"))
    c:close()
    assert.are.equal(50, #items)
    -- 5 requests at 5/s: at least ~0.8 s between the first and the last
    local reqs = fake:requests_for("DescribeInstances")
    assert.are.equal(5, #reqs)
    assert.truthy(reqs[5].time - reqs[1].time >= 0.7, "spread " .. (reqs[5].time - reqs[1].time))
    assert.truthy(core.monotonic() - t0 >= 0.7)
  end)

  local function volc_page(ids, token)
    local list = {}
    for i, id in ipairs(ids) do list[i] = '{"InstanceId":"' .. id .. '"}' end
    return '{"ResponseMetadata":{"RequestId":"r-1","Action":"DescribeInstances","Version":"2020-04-01"},'
      .. '"Result":{"Instances":[' .. table.concat(list, ",") .. ']'
      .. (token and (',"NextToken":"' .. token .. '"') or "") .. '}}'
  end

  it("a token page ends on an empty or missing token, or a page shorter than MaxResults, even one repeating its token", function()
    local endings = {
      { "short page repeating its token", volc_page({ "i-c" }, "t1") },
      { "empty page with a new token", volc_page({}, "t2") },
      { "empty token", volc_page({ "i-c" }, "") },
      { "no token", volc_page({ "i-c" }, nil) },
    }
    for _, e in ipairs(endings) do
      fake:reset()
      fake:faults{ { action = "DescribeInstances", kind = "body", body = volc_page({ "i-a", "i-b" }, "t1"), count = 1 },
                   { action = "DescribeInstances", kind = "body", body = e[2], rate = 1 } }
      local items, n = pages.all(volc.ecs:pages("DescribeInstances", { MaxResults = 2 }), "Instances")
      assert.is_table(items, e[1] .. ": " .. tostring(n))
      assert.are.equal(2, n, e[1])
      assert.are.equal(e[2]:find("i-c", 1, true) and 3 or 2, #items, e[1])
    end
  end)

  it("ends with BadResponse when a server answers the same NextToken again on a full page", function()
    local body = volc_page({ "i-same" }, "again")
    fake:faults{ { action = "DescribeInstances", kind = "body", body = body, rate = 1 } }
    local got, last = 0, nil
    for page, err in volc.ecs:pages("DescribeInstances", { MaxResults = 1 }) do
      if page then got = got + 1 else last = err end
    end
    assert.are.equal(2, got)                       -- the token is followed once, then refused
    assert.are.equal("ClientError.BadResponse", last.code)
    assert.truthy(last.message:find("again"), last.message)
    assert.are.equal(2, #fake:requests_for("DescribeInstances"))
  end)

  it("is bounded by max_pages when TotalCount lies and every page is full", function()
    local set = {}
    for i = 1, 10 do set[i] = string.format('{"InstanceId":"ins-l%07d"}', i) end
    local body = '{"Response":{"RequestId":"r-1","TotalCount":1000000000,"InstanceSet":['
      .. table.concat(set, ",") .. ']}}'
    fake:faults{ { action = "DescribeInstances", kind = "body", body = body, rate = 1 } }
    local got, last = 0, nil
    for page, err in tc.cvm:pages("DescribeInstances", { Limit = 10 }, nil, { max_pages = 4 }) do
      if page then got = got + 1 else last = err end
    end
    assert.are.equal(4, got)
    assert.are.equal("ClientError.BadResponse", last.code)
    assert.truthy(last.message:find("max_pages"), last.message)
    assert.are.equal(4, #fake:requests_for("DescribeInstances"))
  end)

  it("stops on an empty page whatever TotalCount says", function()
    local body = '{"Response":{"RequestId":"r-1","TotalCount":500,"InstanceSet":[]}}'
    fake:faults{ { action = "DescribeInstances", kind = "body", body = body, rate = 1 } }
    local items, n = pages.all(tc.cvm:pages("DescribeInstances", {}), "InstanceSet")
    assert.are.equal(0, #items)
    assert.are.equal(1, n)
  end)

  it("an error ends the loop with (false, err); bad input sends nothing", function()
    local n, last = 0, nil
    for page, err in tc.cvm:pages("DescribeInstances", { Limit = 101 }) do
      n = n + 1
      assert.is_false(page)
      last = err
    end
    assert.are.equal(1, n)
    assert.are.equal("ClientError.InvalidParameter", last.code)
    assert.truthy(last.message:find("Limit must be <= 100"), last.message)
    local _, err = pages.all(tc.cvm:pages("RenewInstances", {}), "x")
    assert.are.equal("ClientError.InvalidParameter", err.code)
    _, err = pages.all(tc.cvm:pages("DescribeInstances", {}, nil, { max_pages = 0 }), "x")
    assert.are.equal("ClientError.InvalidParameter", err.code)
    _, err = pages.all(tc.cvm:pages("DescribeInstances", { InstanceIds = { "i-x" } }), "InstanceSet")
    assert.are.equal("ClientError.InvalidParameter", err.code)
    assert.are.equal(0, #fake:requests())
  end)

  it("validates the read actions' documented parameters", function()
    local cases = {
      { tc.cvm, "DescribeInstances", { Filters = { { Name = "zone" } } }, "Values is required" },
      { tc.cvm, "DescribeInstances", { Offset = -1 }, "Offset must be >= 0" },
      { tc.teo, "DescribePlans", { Limit = 201 }, "Limit must be <= 200" },
      { tc.teo, "DescribePlans", { Order = "name" }, "Order must be one of" },
      { tc.cwp, "DescribeMachineInfo", { Quuid = "" }, "Quuid must not be empty" },
      { volc.ecs, "DescribeInstances", { InstanceChargeType = "Monthly" }, "InstanceChargeType must be one of" },
      { volc.billing, "ListAvailableInstances", { ExpiredTimeEnd = "2026-01-01 00:00:00" }, "ExpiredTimeEnd" },
      { volc.billing, "ListAvailableInstances", { MaxResults = 0 }, "MaxResults must be >= 1" },
    }
    for _, c in ipairs(cases) do
      local res, err = c[1][c[2]](c[1], c[3])
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(err.message:find(c[4], 1, true), err.message)
    end
    assert.are.equal(0, #fake:requests())
  end)

  it("reads cwp ProVersionDeadline and teo plans through typed actions", function()
    fake:resources{ { id = "quuid-1", product = "hspro", expires_at = 1767225600 },
                    { id = "edgeone-aaaaaaaaaaaa", expires_at = 1767225600, auto_renew = true } }
    local m = assert(tc.cwp:DescribeMachineInfo{ Quuid = "quuid-1" })
    assert.are.equal("2026-01-01 08:00:00", m.ProVersionDeadline)
    assert.are.equal("PREPAY", m.PayMode)
    local p = assert(tc.teo:DescribePlans{ Filters = { { Name = "plan-id", Values = { "edgeone-aaaaaaaaaaaa" } } } })
    assert.are.equal(1, p.TotalCount)
    assert.is_true(p.Plans[1].AutoRenewal)
  end)
end)

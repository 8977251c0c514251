-- Volcengine actions end to end against the fake cloud.
local cloudrenew = require("cloudrenew")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local function query_param(raw, name)
  for k, v in raw:gmatch("([^&=]+)=([^&]*)") do
    if k == name then return v end
  end
end

describe("volcengine client", function()
  local fake, volc
  local fx = fixture.new()

  setup(function() fake, volc = fx.fake, fx:volcengine() end)

  it("renews an ECS instance by GET with an automatic ClientToken", function()
    local res, err = volc.ecs:RenewInstance{ InstanceId = "i-3tiefmkskq3vj0hx1lt5", Period = 1, PeriodUnit = "Month" }
    assert.is_nil(err)
    assert.is_string(res.OrderId)
    assert.is_string(res.RequestId)
    local r = fake:requests_for("RenewInstance")[1]
    assert.are.equal("GET", r.method)
    assert.are.equal("", r.body)
    assert.are.equal("i-3tiefmkskq3vj0hx1lt5", query_param(r.query, "InstanceId"))
    assert.truthy(query_param(r.query, "ClientToken"):find("^cloudrenew%-%x+$"))
    assert.are.equal(1, fake:renewals()["i-3tiefmkskq3vj0hx1lt5"])
  end)

  it("a caller's ClientToken makes a repeated renewal return the same order, executed once", function()
    local p = { InstanceId = "i-3tiefmkskq3vj0hx1lt5", Period = 12, PeriodUnit = "Month", ClientToken = "nightly-2026-11-22-i-3tie" }
    local a = assert(volc.ecs:RenewInstance(p))
    local b = assert(volc.ecs:RenewInstance(p))
    assert.are.equal(a.OrderId, b.OrderId)
    assert.are.equal(1, fake:renewals()["i-3tiefmkskq3vj0hx1lt5"])
    assert.are.equal("nightly-2026-11-22-i-3tie", p.ClientToken)     -- the caller's table is not changed
    local _, err = volc.ecs:RenewInstance{ InstanceId = "i-3tiefmkskq3vj0hx1lt5", Period = 24, PeriodUnit = "Month",
                                           ClientToken = "nightly-2026-11-22-i-3tie" }
    assert.are.equal("IdempotentParameterMismatch", err.code)
    assert.are.equal(400, err.status)
  end)

  it("inquires renewal prices with string amounts", function()
    fake:config{ prices = { ["i-aaaaaaaaaaaaaaaaaaaa"] = 100, ["i-bbbbbbbbbbbbbbbbbbbb"] = 33.33 } }
    local res, err = volc.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = 3,
      InstanceIDList = { "i-aaaaaaaaaaaaaaaaaaaa", "i-bbbbbbbbbbbbbbbbbbbb" } }
    assert.is_nil(err)
    assert.are.equal("CNY", res.Currency)
    assert.are.equal("399.99", res.TotalOriginalAmount)
    assert.are.equal(2, #res.InstanceAmountList)
    assert.are.equal("300.00", res.InstanceAmountList[1].OriginalAmount)
    assert.is_string(res.RequestId)
    local r = fake:requests_for("QueryPriceForRenew")[1]
    assert.are.equal("POST", r.method)
    assert.are.equal("billing", r.service)
    assert.are.equal("application/json", r.headers["content-type"])
  end)

  it("reaches any other action through volc:call, GET parameters flattened", function()
    local res, err = volc:call("ecs", "2020-04-01", "DescribeInstances",
      -- DescribeInstances is catalogued: only documented names pass (Status is one)
      { MaxResults = 10, InstanceIds = { "i-a", "i-b" }, Status = "a b&c=d/é~*'()+" }, { method = "GET" })
    assert.is_nil(err)
    assert.is_table(res.Instances)
    local q = fake:requests_for("DescribeInstances")[1].query
    assert.are.equal("i-a", query_param(q, "InstanceIds.1"))
    assert.are.equal("i-b", query_param(q, "InstanceIds.2"))
    assert.are.equal("a%20b%26c%3Dd%2F%C3%A9~%2A%27%28%29%2B", query_param(q, "Status"))
  end)

  describe("rejects bad input before sending anything", function()
    local ids21 = {}
    for i = 1, 21 do ids21[i] = "i-" .. i end
    local cases = {
      { "ecs", "RenewInstance", { Period = 1 }, "InstanceId is required" },
      { "ecs", "RenewInstance", { InstanceId = "i-abc", Period = 10, PeriodUnit = "Month" },
        "Period must be one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36; got 10" },
      -- required in the official definition (volcengine-go-sdk RenewInstanceInput)
      { "ecs", "RenewInstance", { InstanceId = "i-abc", Period = 1 }, "PeriodUnit is required" },
      { "billing", "ListAvailableInstances", { Product = "ECS" }, "MaxResults is required" },
      { "ecs", "RenewInstance", { InstanceId = "i-abc", Period = 1, PeriodUnit = "Week" },
        'PeriodUnit must be one of Month; got "Week"' },
      { "ecs", "RenewInstance", { InstanceId = "i-abc", Period = 1, PeriodUnit = "Month", ClientToken = ("x"):rep(65) },
        "ClientToken must be at most 64 characters" },
      { "ecs", "RenewInstance", { InstanceId = "ins-2zvpghhc", Period = 1, PeriodUnit = "Month" }, "does not look like i-" },
      { "billing", "QueryPriceForRenew", { Product = "ECS", UseDuration = 1, InstanceIDList = ids21 },
        "InstanceIDList must have at most 20 items, got 21" },
      { "billing", "QueryPriceForRenew", { Product = "ECS", UseDuration = 1, InstanceIDList = { "i-1", "i-1" } },
        'InstanceIDList[2] repeats "i-1"' },
      { "billing", "QueryPriceForRenew", { Product = "ECS", UseDuration = 1.5, InstanceIDList = { "i-1" } },
        "UseDuration must be an integer" },
    }
    for _, c in ipairs(cases) do
      it(c[2] .. ": " .. c[4], function()
        local res, err = volc[c[1]][c[2]](volc[c[1]], c[3])
        assert.is_nil(res)
        assert.are.equal("ClientError.InvalidParameter", err.code)
        assert.truthy(err.message:find(c[4], 1, true), err.message)
        assert.are.equal("not_executed", err.outcome)
        assert.are.equal(0, #fake:requests())
      end)
    end
  end)

  describe("surfaces cloud errors with code, status and RequestId", function()
    it("unknown instance -> 404 InvalidInstance.NotFound", function()
      fake:config{ missing = { "i-gone0000000000000000" } }
      local res, err = volc.ecs:RenewInstance{ InstanceId = "i-gone0000000000000000", Period = 1, PeriodUnit = "Month" }
      assert.is_nil(res)
      assert.are.equal("InvalidInstance.NotFound", err.code)
      assert.are.equal(404, err.status)
      assert.is_string(err.request_id)
      assert.are.equal("rejected", err.outcome)
      assert.is_string(err.client_token)        -- to retry by hand with the same token
      assert.are.equal("ecs:RenewInstance", err.action)
    end)

    it("locked instance -> 412 OperationDenied.ResourceLocked", function()
      fake:config{ locked = { "i-locked00000000000000" } }
      local _, err = volc.ecs:RenewInstance{ InstanceId = "i-locked00000000000000", Period = 1, PeriodUnit = "Month" }
      assert.are.equal("OperationDenied.ResourceLocked", err.code)
      assert.are.equal(412, err.status)
    end)

    it("wrong secret -> SignatureDoesNotMatch; unknown key -> InvalidAccessKey", function()
      local c = assert(cloudrenew.volcengine(fake:volc_opts{ secret_key = "wrong-secret" }))
      local _, err = c.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }
      c:close()
      assert.are.equal("SignatureDoesNotMatch", err.code)
      assert.are.equal(401, err.status)
      assert.is_nil(tostring(err):find("wrong-secret", 1, true))
      c = assert(cloudrenew.volcengine(fake:volc_opts{ access_key = "AKLTnobody" }))
      _, err = c.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }
      c:close()
      assert.are.equal("InvalidAccessKey", err.code)
    end)

    it("unknown action -> InvalidActionOrVersion", function()
      local _, err = volc:call("ecs", "2020-04-01", "BuyTheMoon", {}, { method = "GET" })
      assert.are.equal("InvalidActionOrVersion", err.code)
      assert.are.equal(404, err.status)
    end)
  end)

  it("STS: signs and sends X-Security-Token", function()
    local sts = fakecloud.credentials().volcengine[2]
    local c = assert(cloudrenew.volcengine(fake:volc_opts{ access_key = sts.access_key, secret_key = sts.secret_key,
                                                           session_token = sts.session_token }))
    assert.is_nil(select(2, c.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }))
    local r = fake:requests_for("RenewInstance")[1]
    assert.are.equal(sts.session_token, r.headers["x-security-token"])
    assert.truthy(r.headers["authorization"]:find("x-security-token", 1, true))
    assert.is_nil(tostring(c):find(sts.secret_key, 1, true))
    c:close()
  end)
end)

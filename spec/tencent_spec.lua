-- Tencent actions end to end: Lua -> C core -> libcurl -> the fake cloud, which
-- verifies every signature independently.
local cloudrenew = require("cloudrenew")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

describe("tencent client", function()
  local fake, tc
  local fx = fixture.new()

  setup(function() fake, tc = fx.fake, fx:tencent() end)

  it("inquires a CVM renewal price", function()
    fake:config{ prices = { ["ins-2zvpghhc"] = 100, ["ins-7xk3m9qa"] = 50.5 } }
    local res, err = tc.cvm:InquiryPriceRenewInstances{
      InstanceIds = { "ins-2zvpghhc", "ins-7xk3m9qa" }, InstanceChargePrepaid = { Period = 2 } }
    assert.is_nil(err)
    assert.are.equal(301, res.Price.InstancePrice.OriginalPrice)
    assert.are.equal(240.8, res.Price.InstancePrice.DiscountPrice)
    assert.is_nil(res.Price.InstancePrice.UnitPrice)          -- JSON null reads as nil
    assert.is_string(res.RequestId)
    local r = fake:requests_for("InquiryPriceRenewInstances")[1]
    assert.are.equal("cvm", r.service)
    assert.are.equal("2017-03-12", r.headers["x-tc-version"])
    assert.are.equal("ap-guangzhou", r.headers["x-tc-region"])
    assert.are.equal("application/json", r.headers["content-type"])
    assert.truthy(r.headers["user-agent"]:find("^cloudrenew/"))
  end)

  it("renews CVM instances", function()
    local res, err = tc.cvm:RenewInstances{ InstanceIds = { "ins-2zvpghhc" },
                                           InstanceChargePrepaid = { Period = 48, RenewFlag = "NOTIFY_AND_AUTO_RENEW" } }
    assert.is_nil(err)
    assert.is_string(res.RequestId)
    assert.are.equal(1, fake:renewals()["ins-2zvpghhc"])
  end)

  it("renews an EdgeOne plan and returns the DealName", function()
    local res, err = tc.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 3, AutoUseVoucher = "false" }
    assert.is_nil(err)
    assert.is_string(res.DealName)
    assert.are.equal(1, fake:renewals()["edgeone-2unuvzjmmn2q"])
    -- teo needs no region: none is required, the configured one is still sent
    assert.are.equal("2022-09-01", fake:requests_for("RenewPlan")[1].headers["x-tc-version"])
  end)

  it("renews Host Security pro and inquires its price", function()
    local res, err = tc.yunjing:RenewProVersion{ Quuid = "e3b4c3f6-5f7e-4ddb-bb4c-5e2e3c5d0a11",
                                                ChargePrepaid = { Period = 1 } }
    assert.is_nil(err)
    assert.is_string(res.RequestId)
    assert.are.equal(1, fake:renewals()["e3b4c3f6-5f7e-4ddb-bb4c-5e2e3c5d0a11"])
    fake:config{ prices = { q1 = 40 } }
    res, err = tc.yunjing:InquiryPriceOpenProVersionPrepaid{ ChargePrepaid = { Period = 2 },
      Machines = { { MachineType = "CVM", MachineRegion = "ap-guangzhou", Quuid = "q1" } } }
    assert.is_nil(err)
    assert.are.equal(80, res.OriginalPrice)
    assert.are.equal(72, res.DiscountPrice)
  end)

  it("reaches any other action through tc:call", function()
    local res, err = tc:call("cvm", "2017-03-12", "DescribeInstances", { Limit = 1 }, { region = "ap-beijing" })
    assert.is_nil(err)
    assert.are.equal(1, #res.InstanceSet)
    assert.are.equal("ap-beijing", fake:requests_for("DescribeInstances")[1].headers["x-tc-region"])
  end)

  it("signs non-ASCII parameters the fake verifies", function()
    local res, err = tc:call("cvm", "2017-03-12", "DescribeInstances",
      { Limit = 2, Filters = { { Name = "instance-name", Values = { "未命名 & / \"x\"" } } } })
    assert.is_nil(err)
    assert.are.equal(2, #res.InstanceSet)
  end)

  describe("rejects bad input before sending anything", function()
    local cases = {
      { "RenewInstances", {}, "InstanceIds is required" },
      { "RenewInstances", { InstanceIds = { "ins-2zvpghhc" } }, "InstanceChargePrepaid is required" },
      { "RenewInstances", { InstanceIds = { "i-123" }, InstanceChargePrepaid = { Period = 1 } },
        'InstanceIds[1] "i-123" does not look like ins-2zvpghhc' },
      { "RenewInstances", { InstanceIds = { "ins-2zvpghhc", "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } },
        "InstanceIds[2] repeats" },
      { "InquiryPriceRenewInstances", { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 13 } },
        "InstanceChargePrepaid.Period must be one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36, 48, 60; got 13" },
      { "InquiryPriceRenewInstances", { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = "1" } },
        'InstanceChargePrepaid.Period must be an integer, got "1"' },
      { "RenewInstances", { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 }, DryRun = true },
        "DryRun is not a documented parameter" },
      { "RenewInstances", { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1, RenewFlag = "YES" } },
        "InstanceChargePrepaid.RenewFlag must be one of" },
      -- tccli cvm 2017-03-12 DescribeInstances: InstanceIds and Filters may not be given together
      { "DescribeInstances", { InstanceIds = { "ins-2zvpghhc" },
          Filters = { { Name = "instance-charge-type", Values = { "PREPAID" } } } },
        "InstanceIds and Filters cannot be given together" },
    }
    local ids = {}
    for i = 1, 101 do ids[i] = string.format("ins-%08d", i) end
    cases[#cases + 1] = { "InquiryPriceRenewInstances", { InstanceIds = ids, InstanceChargePrepaid = { Period = 1 } },
      "InstanceIds must have at most 100 items, got 101" }

    for _, c in ipairs(cases) do
      it(c[1] .. ": " .. c[3], function()
        local res, err = tc.cvm[c[1]](tc.cvm, c[2])
        assert.is_nil(res)
        assert.are.equal("ClientError.InvalidParameter", err.code)
        assert.truthy(err.message:find(c[3], 1, true), err.message)
        assert.are.equal("not_executed", err.outcome)
        assert.are.equal(false, err.retryable)
        assert.are.equal("cvm:" .. c[1], err.action)
        assert.are.equal(0, #fake:requests())
      end)
    end

    it("teo AutoUseVoucher must be the string \"true\"/\"false\", and Period 48 is cvm-only", function()
      local _, err = tc.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 1, AutoUseVoucher = true }
      assert.truthy(err.message:find('AutoUseVoucher must be a string, got true', 1, true), err.message)
      _, err = tc.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 48 }
      assert.truthy(err.message:find("Period must be one of", 1, true))
      _, err = tc.yunjing:InquiryPriceOpenProVersionPrepaid{ ChargePrepaid = { Period = 1 },
        Machines = { { MachineType = "VM", MachineRegion = "ap-guangzhou", Quuid = "q" } } }
      assert.truthy(err.message:find('Machines[1].MachineType must be one of CVM, BM; got "VM"', 1, true), err.message)
      assert.are.equal(0, #fake:requests())
    end)

    it("cwp DescribeMachineInfo needs one of Quuid, Uuid (tccli: \"必填一项\")", function()
      local res, err = tc.cwp:DescribeMachineInfo{}
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(err.message:find("one of Quuid, Uuid is required", 1, true), err.message)
      assert.are.equal(0, #fake:requests())
    end)

    it("a CVM call without a region says how to give one", function()
      local c = assert(cloudrenew.tencent(fake:tencent_opts{ region = fakecloud.UNSET }))
      local _, err = c.cvm:RenewInstances{ InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }
      c:close()
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(err.message:find("cvm needs a region", 1, true))
      assert.are.equal(0, #fake:requests())
    end)
  end)

  describe("surfaces cloud errors with code and RequestId", function()
    it("unknown instance", function()
      fake:config{ missing = { "ins-0000dead" } }
      local res, err = tc.cvm:RenewInstances{ InstanceIds = { "ins-0000dead" }, InstanceChargePrepaid = { Period = 1 } }
      assert.is_nil(res)
      assert.are.equal("InvalidInstanceId.NotFound", err.code)
      assert.is_string(err.request_id)
      assert.are.equal(200, err.status)
      assert.are.equal("rejected", err.outcome)
      assert.are.equal(false, err.retryable)
      assert.are.equal("cvm:RenewInstances", err.action)
      assert.truthy(tostring(err):find("^InvalidInstanceId.NotFound: .*%(action=cvm:RenewInstances, status=200, request_id=.+, outcome=rejected%)$"))
      assert.is_nil(fake:renewals()["ins-0000dead"])
    end)

    it("locked plan and insufficient balance", function()
      fake:config{ locked = { "edgeone-lockedplan01" } }
      local _, err = tc.teo:RenewPlan{ PlanId = "edgeone-lockedplan01", Period = 1 }
      assert.are.equal("OperationDenied.ResourceHasBeenLocked", err.code)
      fake:config{ balance = 0 }
      _, err = tc.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 1 }
      assert.are.equal("FailedOperation.InsufficientAccountBalance", err.code)
      assert.is_nil(fake:renewals()["edgeone-2unuvzjmmn2q"])
    end)

    it("wrong secret key -> AuthFailure.SignatureFailure; unknown id -> SecretIdNotFound", function()
      local c = assert(cloudrenew.tencent(fake:tencent_opts{ secret_key = "not-the-key" }))
      local _, err = c.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-2zvpghhc" },
                                                       InstanceChargePrepaid = { Period = 1 } }
      c:close()
      assert.are.equal("AuthFailure.SignatureFailure", err.code)
      assert.are.equal(false, err.retryable)
      c = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = "AKIDnobody" }))
      _, err = c.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 1 }
      c:close()
      assert.are.equal("AuthFailure.SecretIdNotFound", err.code)
    end)

    it("an unknown generic action -> InvalidAction, a wrong version -> NoSuchVersion", function()
      local _, err = tc:call("cvm", "2017-03-12", "BuyTheMoon", {})
      assert.are.equal("InvalidAction", err.code)
      assert.are.equal("rejected", err.outcome)
      _, err = tc:call("cvm", "2099-01-01", "DescribeInstances", {})
      assert.are.equal("NoSuchVersion", err.code)
      local res
      res, err = tc:call("cvm", "", "DescribeInstances")
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
    end)
  end)

  describe("STS credentials", function()
    it("sends X-TC-Token, and never shows the key or token anywhere", function()
      local sts = fakecloud.credentials().tencent[2]
      local c = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = sts.secret_id, secret_key = sts.secret_key,
                                                             token = sts.token }))
      local res, err = c.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 1 }
      assert.is_nil(err)
      assert.is_string(res.DealName)
      assert.are.equal(sts.token, fake:requests_for("RenewPlan")[1].headers["x-tc-token"])
      local shown = tostring(c)
      assert.truthy(shown:find(sts.secret_id, 1, true))
      assert.is_nil(shown:find(sts.secret_key, 1, true))
      for k, v in pairs(c) do
        assert.are_not.equal(sts.secret_key, v, k)
        assert.are_not.equal(sts.token, v, k)
      end
      c:close()
      c = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = sts.secret_id, secret_key = sts.secret_key,
                                                       token = "wrong-token" }))
      _, err = c.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 1 }
      c:close()
      assert.are.equal("AuthFailure.TokenFailure", err.code)
      assert.is_nil(tostring(err):find("wrong-token", 1, true))
    end)
  end)

  it("rejects bad client options with nil, err", function()
    local c, err = cloudrenew.tencent(fake:tencent_opts{ timeout = -1 })
    assert.is_nil(c)
    assert.are.equal("ClientError.InvalidParameter", err.code)
    c, err = cloudrenew.tencent(fake:tencent_opts{ endpoint = "ftp://x" })
    assert.is_nil(c)
    assert.truthy(err.message:find("endpoint must be an http(s) URL", 1, true))
    c, err = cloudrenew.tencent(fake:tencent_opts{ ca_file = "/nonexistent/ca.pem" })
    assert.is_nil(c)
    assert.truthy(err.message:find("ca_file /nonexistent/ca.pem cannot be read", 1, true))
    c, err = cloudrenew.tencent(fake:tencent_opts{ connect_to = "nowhere" })
    assert.is_nil(c)
    assert.truthy(err.message:find("connect_to must be HOST:PORT", 1, true))
  end)

  it("raises only for programming errors such as calling with '.'", function()
    assert.has_error(function() tc.cvm.RenewInstances({}) end)
  end)
end)

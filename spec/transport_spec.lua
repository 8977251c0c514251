-- Transport: HTTPS with the clouds' real host names (connect_to + test CA), TLS
-- verification failures, network faults and their money outcome, keep-alive.
local cloudrenew = require("cloudrenew")
local fakecloud = require("support.fake")

local CVM_Q = { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }

describe("transport", function()
  local fake

  setup(function() fake = fakecloud.start() end)
  teardown(function() if fake then fake:stop() end end)
  before_each(function() fake:reset() end)

  describe("HTTPS", function()
    it("keeps the real host names (Host, TLS name, signature) through connect_to + ca_file", function()
      local tc = assert(cloudrenew.tencent(fake:tls_opts(fake:tencent_opts())))
      local res, err = tc.cvm:InquiryPriceRenewInstances(CVM_Q)
      assert.is_nil(err)
      assert.is_table(res.Price)
      assert(tc.teo:RenewPlan{ PlanId = "edgeone-2unuvzjmmn2q", Period = 1 })
      tc:close()
      assert.are.equal("cvm.tencentcloudapi.com", fake:requests_for("InquiryPriceRenewInstances")[1].headers.host)
      assert.are.equal("teo.tencentcloudapi.com", fake:requests_for("RenewPlan")[1].headers.host)

      local volc = assert(cloudrenew.volcengine(fake:tls_opts(fake:volc_opts())))
      assert(volc.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" })
      assert(volc.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = 1, InstanceIDList = { "i-abc" } })
      volc:close()
      assert.are.equal("open.volcengineapi.com", fake:requests_for("RenewInstance")[1].headers.host)
      assert.are.equal("billing.volcengineapi.com", fake:requests_for("QueryPriceForRenew")[1].headers.host)
    end)

    it("refuses a server its CA bundle does not trust: nothing is sent", function()
      local o = fake:tls_opts(fake:tencent_opts())
      o.ca_file = fake.certs.wrong_ca
      local tc = assert(cloudrenew.tencent(o))
      local res, err = tc.cvm:RenewInstances(CVM_Q)
      tc:close()
      assert.is_nil(res)
      assert.are.equal("ClientError.Network", err.code)
      assert.truthy(err.message:find("^TLS: "), err.message)
      assert.are.equal("not_executed", err.outcome)
      assert.are.equal(false, err.retryable)
      assert.are.equal(0, #fake:requests())
    end)
  end)

  describe("network failures before sending", function()
    it("connection refused -> ClientError.Network, not_executed, retryable", function()
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ endpoint = "http://127.0.0.1:9" }))
      local _, err = tc.cvm:RenewInstances(CVM_Q)
      tc:close()
      assert.are.equal("ClientError.Network", err.code)
      assert.are.equal("not_executed", err.outcome)
      assert.are.equal(true, err.retryable)
      assert.truthy(tostring(err):find("ClientError.Network: ", 1, true))
    end)

    it("unresolvable host -> ClientError.Network, not_executed", function()
      local volc = assert(cloudrenew.volcengine(fake:volc_opts{ endpoint = "https://no-such-host.invalid" }))
      local _, err = volc.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }
      volc:close()
      assert.are.equal("ClientError.Network", err.code)
      assert.are.equal("not_executed", err.outcome)
    end)
  end)

  describe("failures after sending", function()
    local tc
    before_each(function() tc = assert(cloudrenew.tencent(fake:tencent_opts{ timeout = 1 })) end)
    after_each(function() tc:close() end)

    it("a renewal timeout is 'unknown' and not retryable", function()
      fake:faults{ { action = "RenewInstances", kind = "slow", delay = 2.5 } }
      local t0 = os.time()
      local _, err = tc.cvm:RenewInstances(CVM_Q)
      assert.are.equal("ClientError.Timeout", err.code)
      assert.are.equal("unknown", err.outcome)
      assert.are.equal(false, err.retryable)
      assert.truthy(os.time() - t0 <= 2)
    end)

    it("an inquiry timeout is retryable", function()
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "slow", delay = 2.5 } }
      local _, err = tc.cvm:InquiryPriceRenewInstances(CVM_Q, { retry = false })
      assert.are.equal("ClientError.Timeout", err.code)
      assert.are.equal(true, err.retryable)
    end)

    it("a dropped connection after the cloud acted is never silently re-sent", function()
      -- warm a keep-alive connection first: libcurl re-sends a request on its own
      -- when a *reused* connection dies before any response byte
      for _ = 1, 3 do assert(tc.cvm:InquiryPriceRenewInstances(CVM_Q)) end
      fake:faults{ { action = "RenewInstances", kind = "drop_after" } }
      local _, err = tc.cvm:RenewInstances(CVM_Q)
      assert.are.equal("ClientError.Network", err.code)
      assert.are.equal("unknown", err.outcome)
      assert.are.equal(false, err.retryable)
      assert.are.equal(1, fake:renewals()["ins-2zvpghhc"])
      assert.are.equal(1, #fake:requests_for("RenewInstances"))
    end)

    it("a drop before processing is still 'unknown' to us, and nothing was renewed", function()
      fake:faults{ { action = "RenewInstances", kind = "drop_before" } }
      local _, err = tc.cvm:RenewInstances(CVM_Q)
      assert.are.equal("unknown", err.outcome)
      assert.is_nil(fake:renewals()["ins-2zvpghhc"])
    end)

    it("a Volcengine renewal never rides a reused connection: a lost answer is one request at the cloud", function()
      -- issue 21 case 6: the ClientToken made renewals 'safe to re-send', so they rode
      -- keep-alive connections and libcurl re-sent one on its own, unpaced
      local volc = assert(cloudrenew.volcengine(fake:volc_opts()))
      for _ = 1, 3 do
        assert(volc.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = 1, InstanceIDList = { "i-abc" } })
      end
      fake:faults{ { action = "RenewInstance", kind = "drop_after" } }
      local _, err = volc.ecs:RenewInstance({ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }, { retry = false })
      assert.are.equal("unknown", err.outcome)
      assert.are.equal(1, #fake:requests_for("RenewInstance"))
      assert.are.equal(1, fake:renewals()["i-abc"])
      volc:close()
    end)

    it("a Volcengine renewal with a lost answer keeps its ClientToken and is retryable", function()
      local volc = assert(cloudrenew.volcengine(fake:volc_opts()))
      fake:faults{ { action = "RenewInstance", kind = "drop_after" } }
      local _, err = volc.ecs:RenewInstance({ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }, { retry = false })
      assert.are.equal("unknown", err.outcome)
      assert.are.equal(true, err.retryable)
      local again = assert(volc.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month", ClientToken = err.client_token })
      assert.is_string(again.OrderId)
      assert.are.equal(1, fake:renewals()["i-abc"])
      volc:close()
    end)
  end)

  describe("bad answers", function()
    local tc
    before_each(function() tc = assert(cloudrenew.tencent(fake:tencent_opts())) end)
    after_each(function() tc:close() end)

    local cases = {
      { "nonjson", 200, "not a Tencent Cloud response: <html>oops</html>" },
      { "status500", 500, "HTTP 500 with an empty body" },
      { "status502_html", 502, "HTTP 502 with a body that is not a Tencent Cloud response" },
      { "truncated", nil, "" },
      { "huge", nil, "larger than" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " -> ClientError.BadResponse", function()
        fake:faults{ { action = "RenewInstances", kind = c[1] } }
        local res, err = tc.cvm:RenewInstances(CVM_Q)
        assert.is_nil(res)
        assert.are.equal("ClientError.BadResponse", err.code)
        assert.truthy(err.message:find(c[3], 1, true), err.message)
        if c[2] then assert.are.equal(c[2], err.status) end
        assert.are.equal("unknown", err.outcome)
        assert.are.equal(false, err.retryable)
      end)
    end

    it("an inquiry answered by a 5xx page is retryable", function()
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "status502_html" } }
      local _, err = tc.cvm:InquiryPriceRenewInstances(CVM_Q, { retry = false })
      assert.are.equal("ClientError.BadResponse", err.code)
      assert.are.equal(true, err.retryable)
    end)
  end)

  it("reuses one keep-alive connection for inquiries, and a fresh one for each renewal", function()
    local tc = assert(cloudrenew.tencent(fake:tencent_opts()))
    for _ = 1, 4 do assert(tc.cvm:InquiryPriceRenewInstances(CVM_Q)) end
    for _ = 1, 2 do assert(tc.cvm:RenewInstances(CVM_Q)) end
    tc:close()
    local ports = {}
    for _, r in ipairs(fake:requests_for("InquiryPriceRenewInstances")) do ports[r.peer_port] = true end
    local n = 0
    for _ in pairs(ports) do n = n + 1 end
    assert.are.equal(1, n)
    local renew = fake:requests_for("RenewInstances")
    assert.are_not.equal(renew[1].peer_port, renew[2].peer_port)
    assert.is_nil(ports[renew[1].peer_port])
  end)
end)

-- Retries (issue 3): throttling is absorbed, read-only calls are retried after
-- transient failures, renewals only when that cannot buy twice. Every fault on
-- every renewal action is checked against what the fake actually executed.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fixture = require("support.fixture")

local FAST = { base_delay = 0.05, max_delay = 0.2, max_attempts = 4 }
local CVM_Q = { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }

describe("retries", function()
  local fake, tc, volc
  local fx = fixture.new()

  setup(function()
    fake, tc, volc = fx.fake, fx:tencent{ retry = FAST, timeout = 1 }, fx:volcengine{ retry = FAST, timeout = 1 }
  end)

  it("absorbs throttling of a Tencent renewal: the cloud did not act, so it is re-sent", function()
    fake:faults{ { action = "RenewInstances", kind = "throttle", count = 2 } }
    local res, err = tc.cvm:RenewInstances(CVM_Q)
    assert.is_nil(err)
    assert.is_string(res.RequestId)
    assert.are.equal(3, #fake:requests_for("RenewInstances"))
    assert.are.equal(1, fake:renewals()["ins-2zvpghhc"])
  end)

  it("honours Retry-After from a Volcengine 429, up to retry.max_delay", function()
    local body = { Product = "ECS", UseDuration = 1, InstanceIDList = { "i-abc" } }
    fake:faults{ { action = "QueryPriceForRenew", kind = "throttle" } }
    local t0 = core.monotonic()
    local res = volc.billing:QueryPriceForRenew(body, { retry = { base_delay = 0.05, max_delay = 2 } })
    assert.is_table(res)
    assert.truthy(core.monotonic() - t0 >= 0.95)       -- Retry-After: 1, though base_delay says 0.05
    -- FAST caps what a server may impose at 0.2 s
    fake:faults{ { action = "QueryPriceForRenew", kind = "throttle" } }
    t0 = core.monotonic()
    assert.is_table(volc.billing:QueryPriceForRenew(body))
    local elapsed = core.monotonic() - t0
    assert.truthy(elapsed >= 0.19 and elapsed < 0.6, "elapsed " .. elapsed)
  end)

  it("keeps every attempt's error when it gives up", function()
    fake:faults{ { action = "InquiryPriceRenewInstances", kind = "status500", count = 10 } }
    local _, err = tc.cvm:InquiryPriceRenewInstances(CVM_Q)
    assert.are.equal("ClientError.BadResponse", err.code)
    assert.are.equal(4, #err.attempts)
    for _, a in ipairs(err.attempts) do assert.are.equal(500, a.status) end
    assert.are.equal(4, #fake:requests_for("InquiryPriceRenewInstances"))
  end)

  it("retries an inquiry after 5xx, a timeout and a dropped connection", function()
    fake:faults{ { action = "InquiryPriceRenewInstances", kind = "status500" },
                 { action = "InquiryPriceRenewInstances", kind = "slow", delay = 1.5 },
                 { action = "InquiryPriceRenewInstances", kind = "drop_after" } }
    local res, err = tc.cvm:InquiryPriceRenewInstances(CVM_Q)
    assert.is_nil(err)
    assert.is_table(res.Price)
    assert.are.equal(4, #fake:requests_for("InquiryPriceRenewInstances"))
  end)

  it("retries a Tencent renewal that provably never left (connection refused), up to max_attempts", function()
    local c = assert(cloudrenew.tencent(fake:tencent_opts{ endpoint = "http://127.0.0.1:9", retry = FAST }))
    local _, err = c.cvm:RenewInstances(CVM_Q)
    c:close()
    assert.are.equal("not_executed", err.outcome)
    assert.are.equal(4, #err.attempts)
  end)

  it("stops at the deadline", function()
    local c = assert(cloudrenew.tencent(fake:tencent_opts{ endpoint = "http://127.0.0.1:9",
      retry = { base_delay = 0.4, max_delay = 0.4, max_attempts = 20, deadline = 0.5 } }))
    local t0 = core.monotonic()
    local _, err = c.cvm:RenewInstances(CVM_Q)
    c:close()
    assert.truthy(#err.attempts < 20)
    assert.truthy(core.monotonic() - t0 < 1.5)
  end)

  it("re-sends a Volcengine renewal whose answer was lost, with the same ClientToken", function()
    fake:faults{ { action = "RenewInstance", kind = "drop_after" } }
    local res, err = volc.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }
    assert.is_nil(err)
    assert.is_string(res.OrderId)
    local reqs = fake:requests_for("RenewInstance")
    assert.are.equal(2, #reqs)
    assert.are.equal(reqs[1].query:match("ClientToken=([^&]+)"), reqs[2].query:match("ClientToken=([^&]+)"))
    assert.are.equal(1, fake:renewals()["i-abc"])
  end)

  it("re-signs with the server's clock after AuthFailure.SignatureExpire, once, and keeps the offset", function()
    fake:config{ clock_offset = 900 }
    local c = assert(cloudrenew.tencent(fake:tencent_opts{ retry = FAST }))
    assert(c.cvm:InquiryPriceRenewInstances(CVM_Q))
    local reqs = fake:requests_for("InquiryPriceRenewInstances")
    assert.are.equal(2, #reqs)
    assert.are.equal("AuthFailure.SignatureExpire", reqs[1].error)
    assert.truthy(math.abs(c.clock_offset - 900) < 5)
    assert(c.cvm:InquiryPriceRenewInstances(CVM_Q))          -- no second expiry
    assert.are.equal(3, #fake:requests_for("InquiryPriceRenewInstances"))
    c:close()
  end)

  it("re-signs a Volcengine request after InvalidTimestamp", function()
    fake:config{ clock_offset = -900 }
    local c = assert(cloudrenew.volcengine(fake:volc_opts{ retry = FAST }))
    local res, err = c.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }
    c:close()
    assert.is_nil(err)
    assert.is_string(res.OrderId)
    assert.are.equal("InvalidTimestamp", fake:requests_for("RenewInstance")[1].error)
    assert.are.equal(1, fake:renewals()["i-abc"])
  end)
end)

-- Every fault on every renewal action: never executed twice, and the outcome we
-- report agrees with what the cloud actually did.
describe("renewals under every fault", function()
  local fake, tc, volc
  local fx = fixture.new{ reset = false }   -- each spec resets the fake itself
  setup(function()
    fake, tc, volc = fx.fake, fx:tencent{ retry = FAST, timeout = 1 }, fx:volcengine{ retry = FAST, timeout = 1 }
  end)

  local renewals = {
    { "RenewInstances", "ins-2zvpghhc", function(id) return tc.cvm:RenewInstances{
        InstanceIds = { id }, InstanceChargePrepaid = { Period = 1 } } end },
    { "RenewPlan", "edgeone-2unuvzjmmn2q", function(id) return tc.teo:RenewPlan{ PlanId = id, Period = 1 } end },
    { "RenewProVersion", "quuid-0001", function(id) return tc.yunjing:RenewProVersion{
        Quuid = id, ChargePrepaid = { Period = 1 } } end },
    { "RenewInstance", "i-abc", function(id) return volc.ecs:RenewInstance{ InstanceId = id, Period = 1, PeriodUnit = "Month" } end },
  }
  local kinds = { "drop_before", "drop_after", "status500", "status502_html", "slow", "nonjson",
                  "truncated", "huge", "throttle" }

  for _, r in ipairs(renewals) do
    for _, kind in ipairs(kinds) do
      it(r[1] .. " with " .. kind, function()
        fake:reset()
        fake:faults{ { action = r[1], kind = kind, delay = kind == "slow" and 1.5 or nil } }
        local res, err = r[3](r[2])
        local executed = fake:renewals()[r[2]] or 0
        assert.truthy(executed <= 1, "executed " .. executed .. " times")
        if res then
          assert.are.equal(1, executed)
        elseif err.outcome == "not_executed" or err.outcome == "rejected" then
          assert.are.equal(0, executed)
        else
          assert.are.equal("unknown", err.outcome)
          assert.are.equal(false, err.retryable)
        end
        -- a token-less renewal that may have reached the cloud is never re-sent
        if r[1] ~= "RenewInstance" and kind ~= "throttle" and kind ~= "drop_before" and kind ~= "status500" then
          assert.are.equal(1, #fake:requests_for(r[1]))
        end
        -- with a ClientToken, every fault ends in exactly one renewal
        if r[1] == "RenewInstance" then
          assert.is_table(res, err and tostring(err))
        end
      end)
    end
  end

  it("a fleet under random faults: nothing renewed twice, every success renewed once", function()
    fake:reset()
    fake:faults{ { action = "*", kind = "drop_after", rate = 0.15 }, { action = "*", kind = "throttle", rate = 0.15 },
                 { action = "*", kind = "drop_before", rate = 0.1 }, { action = "*", kind = "nonjson", rate = 0.1 } }
    local ids = {}
    for i = 1, 40 do ids[i] = string.format("ins-%08d", i) end
    local results, errs = cloudrenew.map(ids, function(id)
      return tc.cvm:RenewInstances{ InstanceIds = { id }, InstanceChargePrepaid = { Period = 1 } }
    end, { concurrency = 8 })
    local counts = fake:renewals()
    local ok, unknown = 0, 0
    for i, id in ipairs(ids) do
      local n = counts[id] or 0
      assert.truthy(n <= 1, id .. " renewed " .. n .. " times")
      if results[i] then ok = ok + 1; assert.are.equal(1, n)
      elseif errs[i].outcome == "unknown" then unknown = unknown + 1
      else assert.are.equal(0, n) end
    end
    assert.truthy(ok > 0 and unknown > 0, ok .. " ok, " .. unknown .. " unknown")
  end)
end)

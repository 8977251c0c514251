-- Answers of any shape (issue 9, section 4): the fake's `body` fault sends
-- malformed, mistyped or hostile JSON, after really executing the renewal when
-- asked. A renewal that gets such an answer is ClientError.BadResponse with
-- outcome "unknown" (the cloud may have acted), never a success and never
-- "rejected"; an inquiry gets a clean error; nothing raises.
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.client.json")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local CVM = { InstanceIds = { "ins-aaaaaaaa" }, InstanceChargePrepaid = { Period = 1 } }
local ECS = { InstanceId = "i-aaaaaaaa", Period = 1, PeriodUnit = "Month" }
local FAST = { base_delay = 0.01, max_delay = 0.02 }

-- Call without letting a raise escape the spec: a raise is itself a failure.
local function call(f, ...)
  local ok, res, err = pcall(f, ...)
  assert(ok, "the call raised: " .. tostring(res))
  return res, err
end

-- Every string field of the error is a bounded string; tostring and .. work.
local function assert_clean(err)
  assert.is_true(cloudrenew.errors.is(err))
  for _, k in ipairs({ "code", "message", "action", "outcome" }) do
    assert.are.equal("string", type(err[k]), k)
    assert.is_true(#err[k] <= 2048, k)
  end
  if err.request_id ~= nil then
    assert.are.equal("string", type(err.request_id))
    assert.is_nil(err.request_id:find("%c"))
  end
  assert.is_string(tostring(err))
  assert.is_nil(tostring(err):find("%c"))
end

local deep = string.rep("[", 5000) .. string.rep("]", 5000)

-- Tencent answers (HTTP 200 unless given): each is malformed in one way.
local TENCENT = {
  { "Response is an array", '{"Response":[1,2]}' },
  { "Response is an empty array", '{"Response":[]}' },
  { "Response is a string", '{"Response":"ok"}' },
  { "Error is a string", '{"Response":{"Error":"boom","RequestId":"r-1"}}' },
  { "Error is an empty object", '{"Response":{"Error":{},"RequestId":"r-1"}}' },
  { "Error is an array", '{"Response":{"Error":["InvalidPeriod"],"RequestId":"r-1"}}' },
  { "Error.Code is a number", '{"Response":{"Error":{"Code":123,"Message":"x"},"RequestId":"r-1"}}' },
  { "Error.Code is an object", '{"Response":{"Error":{"Code":{"a":1},"Message":"x"},"RequestId":"r-1"}}' },
  { "Error.Code is a boolean", '{"Response":{"Error":{"Code":true,"Message":"x"},"RequestId":"r-1"}}' },
  { "Error.Code is empty", '{"Response":{"Error":{"Code":"","Message":"x"},"RequestId":"r-1"}}' },
  { "Error.Code claims to be a client code",
    '{"Response":{"Error":{"Code":"ClientError.InvalidParameter","Message":"x"},"RequestId":"r-1"}}' },
  { "Error.Message is an object", '{"Response":{"Error":{"Code":"InvalidPeriod","Message":{"a":[1]}},"RequestId":"r-1"}}' },
  { "Error.Message is a number", '{"Response":{"Error":{"Code":"InvalidPeriod","Message":7},"RequestId":"r-1"}}' },
  { "RequestId is a number on an error", '{"Response":{"Error":{"Code":"InvalidPeriod","Message":"x"},"RequestId":5}}' },
  { "RequestId is a number on success", '{"Response":{"RequestId":42}}' },
  { "RequestId is an object on success", '{"Response":{"RequestId":{"x":1}}}' },
  { "RequestId holds terminal escapes", '{"Response":{"RequestId":"r\\u001b[2J"}}' },
  { "no RequestId on success", '{"Response":{}}' },
  { "deeply nested JSON", '{"Response":' .. deep .. '}' },
  { "top-level string", '"Response"' },
  { "top-level number", '42' },
  { "top-level null", 'null' },
  { "top-level array", '[{"Response":{"RequestId":"r"}}]' },
  { "not JSON", '{"Response":{"RequestId":"r-1"' },
  { "an empty body", '' },
}

-- Volcengine answers; status 200 unless given.
local VOLC = {
  { "ResponseMetadata is an array", '{"ResponseMetadata":[1],"Result":{"OrderId":"o"}}' },
  { "ResponseMetadata is a string", '{"ResponseMetadata":"ok","Result":{"OrderId":"o"}}' },
  { "ResponseMetadata.Error is a string", '{"ResponseMetadata":{"RequestId":"r","Error":"boom"}}', 400 },
  { "ResponseMetadata.Error is a number", '{"ResponseMetadata":{"RequestId":"r","Error":5}}' },
  { "ResponseMetadata.Error is an array", '{"ResponseMetadata":{"RequestId":"r","Error":["x"]}}', 400 },
  { "ResponseMetadata.Error.Code is a number", '{"ResponseMetadata":{"RequestId":"r","Error":{"Code":5,"Message":"m"}}}', 400 },
  { "ResponseMetadata.Error.Code is an object", '{"ResponseMetadata":{"RequestId":"r","Error":{"Code":{},"Message":"m"}}}', 400 },
  { "ResponseMetadata.Error.Message is an array",
    '{"ResponseMetadata":{"RequestId":"r","Error":{"Code":"InvalidPeriod","Message":[1,2]}}}', 400 },
  { "RequestId is a number", '{"ResponseMetadata":{"RequestId":7},"Result":{"OrderId":"o"}}' },
  { "Result missing on success", '{"ResponseMetadata":{"RequestId":"r"}}' },
  { "Result is a string", '{"ResponseMetadata":{"RequestId":"r"},"Result":"ok"}' },
  { "Result is an array", '{"ResponseMetadata":{"RequestId":"r"},"Result":[1]}' },
  { "Result is null", '{"ResponseMetadata":{"RequestId":"r"},"Result":null}' },
  { "deeply nested JSON", '{"ResponseMetadata":{"RequestId":"r"},"Result":' .. deep .. '}' },
  { "top-level string", '"ok"' },
  { "top-level number", '1' },
  { "top-level null", 'null' },
}

describe("answers of any shape", function()
  local fake, tc, volc
  local fx = fixture.new{ tls = false }

  setup(function() fake, tc, volc = fx.fake, fx:tencent{ retry = FAST }, fx:volcengine{ retry = FAST } end)

  describe("Tencent", function()
    for _, case in ipairs(TENCENT) do
      it("a renewal answered with " .. case[1] .. " is BadResponse, unknown, executed once", function()
        fake:faults{ { action = "RenewInstances", kind = "body", body = case[2], status = case[3] or 200,
                       execute = true } }
        local res, err = call(tc.cvm.RenewInstances, tc.cvm, CVM)
        assert.is_nil(res)
        assert_clean(err)
        assert.are.equal("ClientError.BadResponse", err.code)
        assert.are.equal("unknown", err.outcome)
        assert.are.equal(false, err.retryable)      -- no idempotency token: never resent
        assert.are.equal(1, #fake:requests_for("RenewInstances"))
        assert.are.equal(1, fake:renewals()["ins-aaaaaaaa"])
        assert.are.equal("string", type("failed: " .. err))
      end)

      it("an inquiry answered with " .. case[1] .. " is a clean error", function()
        fake:faults{ { action = "InquiryPriceRenewInstances", kind = "body", body = case[2] } }
        local res, err = call(tc.cvm.InquiryPriceRenewInstances, tc.cvm, CVM, { retry = false })
        assert.is_nil(res)
        assert_clean(err)
        assert.are.equal("ClientError.BadResponse", err.code)
      end)
    end

    it("a well-formed cloud error stays the cloud's code and is rejected", function()
      fake:faults{ { action = "RenewInstances", kind = "body",
        body = '{"Response":{"Error":{"Code":"InvalidPeriod","Message":"bad period"},"RequestId":"r-9"}}' } }
      local _, err = call(tc.cvm.RenewInstances, tc.cvm, CVM)
      assert.are.equal("InvalidPeriod", err.code)
      assert.are.equal("bad period", err.message)
      assert.are.equal("r-9", err.request_id)
      assert.are.equal("rejected", err.outcome)
    end)

    it("a huge error message is cut to a bounded string", function()
      local long = string.rep("m", 100000)
      fake:faults{ { action = "RenewInstances", kind = "body",
        body = '{"Response":{"Error":{"Code":"InvalidPeriod","Message":"' .. long .. '"},"RequestId":"r-9"}}' } }
      local _, err = call(tc.cvm.RenewInstances, tc.cvm, CVM)
      assert_clean(err)
      assert.is_true(#err.message < 2048)
      assert.is_true(#tostring(err) < 4096)
    end)
  end)

  describe("Volcengine", function()
    for _, case in ipairs(VOLC) do
      it("a renewal answered with " .. case[1] .. " is BadResponse, unknown, executed once", function()
        fake:faults{ { action = "RenewInstance", kind = "body", body = case[2], status = case[3] or 200,
                       execute = true } }
        local res, err = call(volc.ecs.RenewInstance, volc.ecs, ECS, { retry = false })
        assert.is_nil(res)
        assert_clean(err)
        assert.are.equal("ClientError.BadResponse", err.code)
        assert.are.equal("unknown", err.outcome)
        assert.is_string(err.client_token)
        assert.are.equal(1, fake:renewals()["i-aaaaaaaa"])
      end)

      it("an inquiry answered with " .. case[1] .. " is a clean error", function()
        fake:faults{ { action = "QueryPriceForRenew", kind = "body", body = case[2], status = case[3] or 200 } }
        local res, err = call(volc.billing.QueryPriceForRenew, volc.billing,
          { Product = "ECS", UseDuration = 1, InstanceIDList = { "i-aaaaaaaa" } }, { retry = false })
        assert.is_nil(res)
        assert_clean(err)
        assert.are.equal("ClientError.BadResponse", err.code)
      end)
    end

    it("a renewal whose success has no Result is retried with its ClientToken: one execution", function()
      fake:faults{ { action = "RenewInstance", kind = "body", execute = true,
                     body = '{"ResponseMetadata":{"RequestId":"r"}}' } }
      local res, err = call(volc.ecs.RenewInstance, volc.ecs, ECS)
      assert.is_nil(err)
      assert.is_string(res.OrderId)
      assert.are.equal(2, #fake:requests_for("RenewInstance"))
      assert.are.equal(1, fake:renewals()["i-aaaaaaaa"])
    end)

    it("a well-formed cloud error stays the cloud's code", function()
      fake:faults{ { action = "RenewInstance", kind = "body", status = 400,
        body = '{"ResponseMetadata":{"RequestId":"r-2","Error":{"Code":"InvalidPeriod","CodeN":0,"Message":"no"}}}' } }
      local _, err = call(volc.ecs.RenewInstance, volc.ecs, ECS)
      assert.are.equal("InvalidPeriod", err.code)
      assert.are.equal("r-2", err.request_id)
      assert.are.equal("rejected", err.outcome)
    end)
  end)

  describe("the workflow never records a malformed answer as renewed", function()
    local log
    before_each(function() log = os.tmpname() end)
    after_each(function() os.remove(log) end)

    local function audit_outcomes()
      local out = {}
      for l in (fakecloud.read_file(log) or ""):gmatch("[^\n]+") do
        local e = assert(json.decode(l))
        if e.outcome then out[#out + 1] = e.outcome end
      end
      return out
    end

    it("cvm: Error as a string after the renewal ran -> unknown, counted once", function()
      fake:faults{ { action = "RenewInstances", kind = "body", execute = true,
                     body = '{"Response":{"Error":"boom","RequestId":"r-1"}}' } }
      local report = assert(call(workflow.renew_if_under_budget, { client = tc, product = "cvm",
        resources = { "ins-aaaaaaaa" }, period = 1, audit_log = log }))
      local it1 = report.items[1]
      assert.are.equal("unknown", it1.outcome)
      assert.are.equal("ClientError.BadResponse", it1.error.code)
      assert.are.equal(0, report.totals.renewed)
      assert.are.equal(1, report.totals.unknown)
      assert.are.equal(1, fake:renewals()["ins-aaaaaaaa"])
      assert.are.same({ "unknown" }, audit_outcomes())
    end)

    it("cvm: a success without RequestId -> unknown, not renewed", function()
      fake:faults{ { action = "RenewInstances", kind = "body", execute = true, body = '{"Response":{}}' } }
      local report = assert(call(workflow.renew_if_under_budget, { client = tc, product = "cvm",
        resources = { "ins-aaaaaaaa" }, period = 1, audit_log = log }))
      assert.are.equal("unknown", report.items[1].outcome)
      assert.are.equal(0, report.totals.renewed)
      assert.are.equal(1, fake:renewals()["ins-aaaaaaaa"])
    end)

    it("ecs: a success without Result (retries off) -> unknown, not renewed", function()
      local v = assert(cloudrenew.volcengine(fake:volc_opts{ retry = false }))
      fake:faults{ { action = "RenewInstance", kind = "body", execute = true,
                     body = '{"ResponseMetadata":{"RequestId":"r"}}' } }
      local report = assert(call(workflow.renew_if_under_budget, { client = v, product = "ecs",
        resources = { "i-aaaaaaaa" }, period = 1, audit_log = log }))
      v:close()
      assert.are.equal("unknown", report.items[1].outcome)
      assert.are.equal(0, report.totals.renewed)
      assert.are.equal(1, fake:renewals()["i-aaaaaaaa"])
      assert.are.same({ "unknown" }, audit_outcomes())
    end)

    it("cvm: a malformed inquiry answer is no price, nothing renewed", function()
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "body", count = 10,
                     body = '{"Response":{"Error":{"Code":5},"RequestId":"r"}}' } }
      local report = assert(call(workflow.renew_if_under_budget, { client = tc, product = "cvm",
        resources = { "ins-aaaaaaaa" }, period = 1, audit_log = log }))
      assert.are.equal("no_price", report.items[1].decision)
      assert.are.equal(0, #fake:requests_for("RenewInstances"))
    end)
  end)
end)

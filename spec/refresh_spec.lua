-- Temporary credentials over time (issue 12): refreshed before expiry once per
-- client however many coroutines need them, never a half-updated triple,
-- expiry in the middle of a long fleet run, a failed refresh; and what the
-- client shows of itself: on_request/on_response, user_agent, CLI --verbose.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local U = fakecloud.UNSET
local CVM = { InstanceIds = { "ins-aaaaaaaa" }, InstanceChargePrepaid = { Period = 1 } }
local ARN = "qcs::cam::uin/100000000001:roleName/ops-renew"

local function ids_of(reqs)
  local out = {}
  for _, r in ipairs(reqs) do
    local id = (r.headers.authorization or ""):match("Credential=([^/]+)/")
    if id then out[id] = (out[id] or 0) + 1 end
  end
  return out
end

local count = fixture.count

describe("temporary credentials", function()
  local fake
  local fx = fixture.new{ tls = false }

  setup(function() fake = fx.fake end)
  before_each(function() fake:_req("POST", "iam", {}) end)

  local function iam(cfg) return fake:_req("POST", "iam", cfg) end
  local function issued(k) return fake:_req("GET", "iam").issued[k] or 0 end
  local function role_client(extra)
    local o = fake:tencent_opts{ secret_id = U, secret_key = U, credentials = "instance_role",
                                 metadata_endpoint = fake.url, rate_limits = false,
                                 retry = { base_delay = 0.01, max_delay = 0.02 } }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(cloudrenew.tencent(o))
  end
  -- Every recorded call of action succeeded (the fake checks id, key and token
  -- belong together, and that the token has not expired).
  local function all_clean(action, n)
    local reqs = fake:requests_for(action)
    assert.are.equal(n, #reqs)
    for _, r in ipairs(reqs) do assert.is_nil(r.error, json.encode{ r.error, r.status }) end
    return reqs
  end

  it("expired: many coroutines, one refresh at the fake, the others wait for it", function()
    iam{ ttl = 2 }
    local tc = role_client{ refresh_early = 0 }
    assert.are.equal(1, issued("tencent:metadata"))
    core.sleep(2.1)      -- expired now
    fake:faults{ { action = "MetadataCredentials", kind = "slow", delay = 0.4 } }
    local list = {}
    for i = 1, 32 do list[i] = i end
    local results, errs = cloudrenew.map(list, function()
      return tc.cvm:InquiryPriceRenewInstances(CVM)
    end, { concurrency = 16 })
    for i = 1, 32 do assert.is_truthy(results[i], tostring(errs[i])) end
    assert.are.equal(2, issued("tencent:metadata"))
    local reqs = all_clean("InquiryPriceRenewInstances", 32)
    assert.are.equal(1, count(ids_of(reqs)))     -- all signed with the new triple
    tc:close()
  end)

  it("due but still valid: one refresh while the others go on with the current triple", function()
    iam{ ttl = 4 }
    local tc = role_client{ refresh_early = 3.5 }
    local old = tc.secret_id
    core.sleep(1.6)      -- inside the refresh window, 2.4-3.4 s of validity left
    fake:faults{ { action = "MetadataCredentials", kind = "slow", delay = 0.5 } }
    fake:config{ latency = 0.05 }
    local list = {}
    for i = 1, 48 do list[i] = i end
    local results = cloudrenew.map(list, function()
      return tc.cvm:InquiryPriceRenewInstances(CVM)
    end, { concurrency = 8 })
    for i = 1, 48 do assert.is_truthy(results[i]) end
    assert.are.equal(2, issued("tencent:metadata"))
    local ids = ids_of(all_clean("InquiryPriceRenewInstances", 48))
    assert.are.equal(2, count(ids))
    assert.is_truthy(ids[old])                   -- used while the refresh ran
    assert.are_not.equal(old, tc.secret_id)
    tc:close()
  end)

  it("credentials expire again and again during a long fleet run: every request accepted", function()
    iam{ ttl = 2 }
    local tc = role_client{ refresh_early = 0.5 }
    fake:config{ latency = 0.08 }     -- 320 / 8 x 0.08 s: over 3 s, longer than any one triple lives
    local list = {}
    for i = 1, 320 do list[i] = i end
    local t0 = core.monotonic()
    local results, errs = cloudrenew.map(list, function()
      return tc.cvm:InquiryPriceRenewInstances(CVM)
    end, { concurrency = 8 })
    local took = core.monotonic() - t0
    for i = 1, 320 do assert.is_truthy(results[i], tostring(errs[i])) end
    assert.is_true(took > 3, "the run outlived one credential lifetime: " .. took)
    assert.is_true(issued("tencent:metadata") >= 2)
    all_clean("InquiryPriceRenewInstances", 320)
    tc:close()
  end)

  it("a refresh left hanging (its coroutine never resumed) is taken over after credentials.WAIT", function()
    local credentials = require("cloudrenew.credentials")
    local src = fakecloud.credentials().tencent[1]
    local n, hang = 0, false
    local tc = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = U, secret_key = U, credentials = {
      name = "flaky", fetch = function()
        n = n + 1
        if hang then coroutine.yield("hang") end
        return { id = src.secret_id, key = src.secret_key, expires_at = core.time() + (n == 1 and 0.5 or 3600) }
      end } }))
    hang = true
    local co = coroutine.create(function() return tc.cvm:InquiryPriceRenewInstances(CVM) end)
    local ok, what = coroutine.resume(co)            -- stops inside the refresh, for good
    assert.are.same({ true, "hang" }, { ok, what })
    hang = false
    local old = credentials.WAIT
    credentials.WAIT = 0.2
    core.sleep(0.25)
    local res, err = tc.cvm:InquiryPriceRenewInstances(CVM)
    credentials.WAIT = old
    assert.is_truthy(res, tostring(err))
    assert.are.equal(3, n)
    tc:close()
  end)

  it("the fake rejects a credential past its expiry (a provider that lies about it)", function()
    iam{ ttl = 1 }
    local probe = role_client()
    local src = fake:_req("GET", "iam").credentials[1]
    probe:close()
    local tc = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = U, secret_key = U, credentials = {
      name = "liar", fetch = function()
        return { id = src.secret_id, key = src.secret_key, token = src.token, expires_at = core.time() + 3600 }
      end } }))
    core.sleep(2.05)     -- the fake's expiry is whole seconds, rounded up
    local res, err = tc.cvm:InquiryPriceRenewInstances(CVM)
    assert.is_nil(res)
    assert.are.equal("AuthFailure.TokenFailure", err.code)
    tc:close()
  end)

  it("a failed early refresh keeps the valid triple; once expired, ClientError.Credentials naming the provider", function()
    iam{ ttl = 3 }
    local tc = role_client{ refresh_early = 2.9 }
    core.sleep(1.1)      -- 1.9-2.9 s left: due, still valid
    iam{ ttl = 3, metadata = "down" }
    assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))     -- refresh failed, old triple still good
    assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
    local tried = fake:requests_for("MetadataRole")
    assert.are.equal(500, tried[#tried].status)                    -- the early refresh was tried, and failed
    assert.are.equal(2, #fake:requests_for("InquiryPriceRenewInstances"))
    core.sleep(2.0)      -- less than 1 s of validity left: not used any more
    local ok, res, err = pcall(tc.cvm.InquiryPriceRenewInstances, tc.cvm, CVM)
    assert.is_true(ok)
    assert.is_nil(res)
    assert.are.equal("ClientError.Credentials", err.code)
    assert.are.equal("not_executed", err.outcome)
    assert.truthy(err.message:find("credentials from instance_role could not be refreshed", 1, true), err.message)
    iam{ ttl = 60 }                                                -- the service is back
    assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
    tc:close()
  end)

  describe("hooks", function()
    -- Every 10-byte piece of every secret.
    local function assert_clean(v, secrets, path)
      if type(v) == "string" then
        for _, s in ipairs(secrets) do
          for i = 1, #s - 9 do
            assert(not v:find(s:sub(i, i + 9), 1, true), "secret piece at " .. path .. ": " .. v)
          end
        end
      elseif type(v) == "table" then
        for k, x in pairs(v) do assert_clean(k, secrets, path); assert_clean(x, secrets, path .. "." .. tostring(k)) end
      end
    end

    it("on_request/on_response see action, region, host, attempt, pacing wait, status, time, request id; never a secret", function()
      local before, after = {}, {}
      local src = fakecloud.credentials().tencent[1]
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ role_arn = ARN, sts_endpoint = fake.url,
        retry = { base_delay = 0.01, max_delay = 0.02 },
        on_request = function(i) before[#before + 1] = i end,
        on_response = function(i) after[#after + 1] = i end }))
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "throttle" } }
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      fake:config{ missing = { "ins-zzzzzzzz" } }
      local _, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-zzzzzzzz" }, InstanceChargePrepaid = { Period = 1 } }
      assert.is_truthy(err)
      -- the client's own STS AssumeRole first (made when the client was), then three cvm attempts
      assert.are.equal(4, #before)
      assert.are.equal(4, #after)
      assert.are.same({ "sts", "AssumeRole", 200 }, { after[1].service, after[1].action, after[1].status })
      table.remove(before, 1)
      local sts_info = table.remove(after, 1)
      local a = after[2]
      assert.are.same({ "tencent", "cvm", "InquiryPriceRenewInstances", "ap-guangzhou", fake.url:match("//(.*)$"), 2, 200 },
        { a.cloud, a.service, a.action, a.region, a.host, a.attempt, a.status })
      assert.is_string(a.request_id)
      assert.is_true(a.duration > 0 and a.pacing_wait >= 0)
      assert.are.equal("RequestLimitExceeded", after[1].error_code)
      assert.are.equal(1, after[1].attempt)
      assert.is_truthy(after[3].error_code)
      assert.is_nil(before[1].status)
      local secrets = { src.secret_key }
      for _, c in ipairs(fake:_req("GET", "iam").credentials) do
        secrets[#secrets + 1] = c.secret_key; secrets[#secrets + 1] = c.token
      end
      assert.are.equal(3, #secrets)
      assert_clean(before, secrets, "on_request")
      assert_clean(after, secrets, "on_response")
      assert_clean(sts_info, secrets, "on_response (sts)")
      for _, i in ipairs(after) do
        for k in pairs(i) do assert.is_nil(k:lower():find("auth"), k) end
      end
      tc:close()
    end)

    it("a hook that raises is ignored; bad hooks and user_agent values are refused", function()
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ on_request = function() error("boom") end,
                                                             on_response = function() error("bang") end }))
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      tc:close()
      for _, bad in ipairs({ { on_response = "print" }, { user_agent = "" }, { user_agent = "a\r\nX-Evil: 1" },
                             { user_agent = string.rep("a", 120) }, { user_agent = "ops(1)" }, { user_agent = 5 } }) do
        local c, err = cloudrenew.tencent(fake:tencent_opts(bad))
        assert.is_nil(c)
        assert.are.equal("ClientError.InvalidParameter", err.code)
      end
    end)

    it("user_agent is appended to cloudrenew's own, in User-Agent and X-TC-RequestClient", function()
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ user_agent = "ops-cron/2.1 host a;b" }))
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      local h = fake:requests_for("InquiryPriceRenewInstances")[1].headers
      local want = "cloudrenew/" .. cloudrenew.VERSION .. " ops-cron/2.1 host a;b"
      assert.are.equal(want, h["x-tc-requestclient"])
      assert.are.equal(want, h["user-agent"])
      tc:close()
      local v = assert(cloudrenew.volcengine(fake:volc_opts{ user_agent = "ops-cron/2.1" }))
      assert.is_truthy(v.ecs:RenewInstance{ InstanceId = "i-aaaaaaaa", Period = 1, PeriodUnit = "Month" })
      assert.are.equal("cloudrenew/" .. cloudrenew.VERSION .. " ops-cron/2.1",
        fake:requests_for("RenewInstance")[1].headers["user-agent"])
      v:close()
    end)

    it("an assumed role's STS call shows in the hooks too, with the caller's user_agent once", function()
      local seen = {}
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ role_arn = ARN, sts_endpoint = fake.url,
        user_agent = string.rep("u", 100), on_response = function(i) seen[#seen + 1] = i.service .. ":" .. i.action end }))
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      assert.are.same({ "sts:AssumeRole", "cvm:InquiryPriceRenewInstances" }, seen)
      assert.are.equal("cloudrenew/" .. cloudrenew.VERSION .. " " .. string.rep("u", 100),
        fake:requests_for("AssumeRole")[1].headers["user-agent"])
      tc:close()
    end)

    it("CLI --verbose: one line per request on stderr, from the same hook, with a role-based inventory", function()
      local dir = os.tmpname(); os.remove(dir); assert(os.execute("mkdir -p " .. dir))
      local inv = dir .. "/inv.json"
      local f = assert(io.open(inv, "w"))
      f:write(json.encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, credentials = "instance_role",
        metadata_endpoint = fake.url, cvm = { { period = 1, max_price = "150", resources = { "ins-aaaaaaaa", "ins-bbbbbbbb" } } } } })
      f:close()
      local out, err = {}, {}
      local function sink(t) return { write = function(_, ...) for _, s in ipairs({ ... }) do t[#t + 1] = s end end,
                                      flush = function() end } end
      local rc = require("cloudrenew.cli").main({ "plan", "--verbose", inv, "--audit-log", dir .. "/a.jsonl" }, sink(out), sink(err))
      os.execute("rm -rf " .. dir)
      assert.are.equal(0, rc, table.concat(out) .. table.concat(err))
      local lines = {}
      for l in table.concat(err):gmatch("[^\n]+") do
        if l:find("^cloudrenew: tencent cvm:InquiryPriceRenewInstances") then lines[#lines + 1] = l end
      end
      assert.are.equal(#fake:requests_for("InquiryPriceRenewInstances"), #lines)
      assert.truthy(lines[1]:find("region=ap%-guangzhou host=127%.0%.0%.1:%d+ attempt=1 status=200 [%d.]+s wait=[%d.]+s request_id=%S+$"), lines[1])
      local secrets = {}
      for _, c in ipairs(fake:_req("GET", "iam").credentials) do secrets[#secrets + 1] = c.secret_key; secrets[#secrets + 1] = c.token end
      assert_clean(table.concat(err) .. table.concat(out), secrets, "CLI output")
    end)
  end)
end)

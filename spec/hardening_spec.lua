-- Issue 10 §3: nothing a caller or a server sends can raise or reach undefined
-- behaviour. A table-driven sweep feeds hostile values to every public entry
-- point and asserts: no raise (pcall succeeds), nil + a ClientError code, and
-- nothing reached the fake. Then hostile Date headers from the fake, after
-- which the same client must keep working.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local retry = require("cloudrenew.net.retry")
local sign = require("cloudrenew.sign")
local fakecloud = require("support.fake")

local HOSTILE = {
  { "a table", {} }, { "true", true }, { "a function", print }, { "NaN", 0 / 0 },
  { "inf", math.huge }, { "-inf", -math.huge }, { "1e300", 1e300 }, { "-1", -1 },
  { "a NUL byte", "a\0b" }, { "CR/LF", "a\r\nX-Evil: 1" },
}
-- Hostile values a field of raw bytes (payload, body, secret) legitimately takes.
local BYTES_OK = { ["a NUL byte"] = true, ["CR/LF"] = true }

local function copy(t, k, v)
  local o = {}
  for a, b in pairs(t) do o[a] = b end
  if k then o[k] = v end
  return o
end

-- Call fn(...) under pcall; it must not raise and must answer nil, ClientError.*.
local function refused(what, fn, ...)
  local ok, res, err = pcall(fn, ...)
  assert(ok, what .. " raised: " .. tostring(res))
  assert(res == nil, what .. " was accepted")
  assert(type(err) == "table" and type(err.code) == "string" and err.code:find("^ClientError%."),
    what .. " gave no ClientError: " .. tostring(err))
  assert(tostring(err) ~= "", what)
  return err
end

local TC3 = {
  secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", secret_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
  service = "cvm", host = "cvm.tencentcloudapi.com", timestamp = 1551113065,
  payload = '{"Limit": 1}', method = "POST", content_type = "application/json", query = "",
  headers = { ["X-TC-Action"] = "DescribeInstances" },
}
local VOLC = {
  access_key = "AKLTexample", secret_key = "c2VjcmV0", service = "ecs", region = "cn-beijing",
  date = "20201230T081805Z", method = "GET", path = "/",
  query = { Action = "RenewInstance", Version = "2020-04-01", InstanceId = "i-abc" },
  headers = { Host = "open.volcengineapi.com" }, body = "",
}

describe("hardening: the signers", function()
  for _, case in ipairs({ { "sign.tc3", sign.tc3, TC3, { secret_key = true, payload = true } },
                          { "sign.volc", sign.volc, VOLC, { secret_key = true, body = true } } }) do
    local name, fn, base, bytes = case[1], case[2], case[3], case[4]
    local fields = {}
    for k in pairs(base) do fields[#fields + 1] = k end
    table.sort(fields)
    for _, k in ipairs(fields) do
      it(name .. " refuses hostile " .. k, function()
        for _, h in ipairs(HOSTILE) do
          local what = name .. " " .. k .. " = " .. h[1]
          if bytes[k] and BYTES_OK[h[1]] then
            -- raw bytes: signed by length, so the NUL must change the signature
            local ok, auth, d = pcall(fn, copy(base, k, h[2]))
            assert(ok and auth, what .. ": " .. tostring(d))
            local _, d2 = fn(copy(base, k, "a"))
            assert(d.signature ~= d2.signature, what .. " was truncated")
          elseif not (h[1] == "a table" and (k == "headers" or (k == "query" and name == "sign.volc"))) then
            refused(what, fn, copy(base, k, h[2]))
          end
        end
      end)
    end

    it(name .. " refuses hostile header names and values", function()
      for _, h in ipairs(HOSTILE) do
        if type(h[2]) ~= "string" and type(h[2]) ~= "table" then
          refused(name .. " headers = " .. h[1], fn, copy(base, "headers", h[2]))
        end
        if h[1] ~= "true" and h[1] ~= "1e300" and h[1] ~= "-1" then   -- scalars with a wire form
          refused(name .. " header value " .. h[1], fn, copy(base, "headers", { ["X-Thing"] = h[2] }))
        end
        if type(h[2]) == "string" then
          refused(name .. " header name " .. h[1], fn, copy(base, "headers", { [h[2]] = "1" }))
        end
      end
      refused(name .. " header name 1", fn, copy(base, "headers", { "x" }))
    end)

    it(name .. " signs only token methods", function()
      for _, m in ipairs({ "POST\n", "GET ", "get", "P\0ST", "" }) do
        refused(name .. " method " .. string.format("%q", m), fn, copy(base, "method", m))
      end
    end)
  end

  it("sign.tc3 takes only whole unix seconds up to year 9999", function()
    for _, ts in ipairs({ 1.5, 2^53, 253402300800, 1e300 }) do
      refused("timestamp " .. ts, sign.tc3, copy(TC3, "timestamp", ts))
    end
    assert(sign.tc3(copy(TC3, "timestamp", 253402300799)))
    assert(sign.tc3(copy(TC3, "timestamp", 0)))
  end)

  it("sign.volc refuses query values without a wire form and signs NUL bytes in values", function()
    for _, h in ipairs(HOSTILE) do
      if not BYTES_OK[h[1]] then
        if not (h[1] == "a table" or h[1] == "true" or h[1] == "1e300" or h[1] == "-1") then
          -- {} is an empty list; booleans and finite numbers are scalars with a wire form
          refused("query value " .. h[1], sign.volc, copy(VOLC, "query", { Action = h[2] }))
        end
        if h[1] ~= "true" and h[1] ~= "1e300" and h[1] ~= "-1" then
          refused("query list value " .. h[1], sign.volc, copy(VOLC, "query", { Ids = { "a", h[2] } }))
        end
      end
    end
    refused("query name 1", sign.volc, copy(VOLC, "query", { "x" }))
    -- raw bytes in query values are encoded, so NUL is part of what is signed
    local _, a = sign.volc(copy(VOLC, "query", { Id = "a\0b" }))
    local _, b = sign.volc(copy(VOLC, "query", { Id = "a" }))
    assert.are_not.equal(a.signature, b.signature)
    assert.truthy(a.canonical_query:find("Id=a%%00b"))
  end)

  it("the C core answers nil, message for hostile input instead of raising", function()
    local t = copy(TC3, "headers", { ["Content-Type"] = "application/json", Host = "h" })
    for k, v in pairs({ timestamp = 1e300, method = 5, payload = {}, query = true, secret_id = "a\0b",
                        service = "c/vm", headers = "x" }) do
      local ok, r, msg = pcall(core.tc3_sign, copy(t, k, v))
      assert(ok, "core.tc3_sign " .. k .. " raised: " .. tostring(r))
      assert(r == nil and type(msg) == "string", "core.tc3_sign " .. k)
    end
    for k, v in pairs({ region = 0 / 0, date = "20201230T081805Z\0", path = "/\r\n", body = 1,
                        query = { x = { {} } }, headers = { [1] = "x" } }) do
      local ok, r, msg = pcall(core.volc_sign, copy(VOLC, k, v))
      assert(ok, "core.volc_sign " .. k .. " raised: " .. tostring(r))
      assert(r == nil and type(msg) == "string", "core.volc_sign " .. k)
    end
    for k, v in pairs({ timeout = 0 / 0, connect_timeout = 1e300, max_response = -1, proxy = "a\0b",
                        ca_file = 5 }) do
      local ok, r, msg = pcall(core.http, { [k] = v })
      assert(ok, "core.http " .. k .. " raised: " .. tostring(r))
      assert(r == nil and type(msg) == "string", "core.http " .. k)
    end
    local t0 = core.monotonic()
    for _, s in ipairs({ 0 / 0, -math.huge, -1 }) do core.sleep(s) end
    local m = core.multi()
    for _, s in ipairs({ 0 / 0, -math.huge, math.huge, 1e300 }) do assert.are.same({}, m:run(s)) end
    m:close()
    assert.truthy(core.monotonic() - t0 < 1)
  end)
end)

describe("hardening: clients, calls and map", function()
  local fake
  setup(function() fake = fakecloud.start{ tls = false } end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  local function nothing_sent(what)
    local reqs = fake:requests()
    assert(#reqs == 0, what .. " reached the fake (" .. #reqs .. " requests)")
  end

  -- Options whose every hostile value must be refused by the constructor.
  local OPTIONS = { "timeout", "connect_timeout", "max_response", "region", "endpoint", "connect_to",
                    "proxy", "ca_file", "retry", "rate_limits", "rate_limit_file" }
  for _, cloud in ipairs({ "tencent", "volcengine" }) do
    local new, opts = cloudrenew[cloud], cloud == "tencent" and "tencent_opts" or "volc_opts"
    local list = {}
    for i, k in ipairs(OPTIONS) do list[i] = k end
    if cloud == "tencent" then list[#list + 1] = "language" end
    for _, k in ipairs(list) do
      it("cloudrenew." .. cloud .. "{} refuses hostile " .. k, function()
        for _, h in ipairs(HOSTILE) do
          local skip = (k == "retry" or k == "rate_limits" or k == "endpoint") and h[1] == "a table"
          if not skip then refused(cloud .. " " .. k .. " = " .. h[1], new, fake[opts](fake, { [k] = h[2] })) end
        end
      end)
    end

    it("cloudrenew." .. cloud .. "{} refuses hostile retry settings and rate overrides", function()
      for _, k in ipairs({ "max_attempts", "base_delay", "max_delay", "deadline" }) do
        for _, h in ipairs(HOSTILE) do
          refused(cloud .. " retry." .. k .. " = " .. h[1], new, fake[opts](fake, { retry = { [k] = h[2] } }))
        end
      end
      for _, h in ipairs(HOSTILE) do
        refused(cloud .. " rate_limits value " .. h[1], new,
          fake[opts](fake, { rate_limits = { RenewInstances = h[2] } }))
        refused(cloud .. " endpoint table value " .. h[1], new, fake[opts](fake, { endpoint = { ecs = h[2] } }))
      end
      refused(cloud .. " rate_limits key", new, fake[opts](fake, { rate_limits = { 5 } }))
      refused(cloud .. " retry key", new, fake[opts](fake, { retry = { max_atempts = 2 } }))
    end)

    it("cloudrenew." .. cloud .. "{} enforces the documented ranges at their edges", function()
      local ok_cases = { { timeout = 3600 }, { connect_timeout = 600 }, { max_response = 1024 },
        { max_response = 2^30 }, { retry = { max_attempts = 20 } }, { retry = { max_attempts = 1.0 } },
        { retry = { base_delay = 0, max_delay = 0 } }, { retry = { base_delay = 60, max_delay = 600 } },
        { retry = { deadline = 86400 } }, { rate_limits = { RenewInstances = 10000, Other = 0, X = false } },
        { rate_limits = false }, { retry = false }, { timeout = 0.5 } }
      for _, o in ipairs(ok_cases) do
        local c, err = new(fake[opts](fake, o))
        assert(c, tostring(err))
        c:close()
      end
      local bad_cases = { { timeout = 0 }, { timeout = 3600.5 }, { connect_timeout = 601 },
        { max_response = 1023 }, { max_response = 2^30 + 1 }, { max_response = 4096.5 },
        { retry = { max_attempts = 21 } }, { retry = { max_attempts = 0 } }, { retry = { max_attempts = 1.5 } },
        { retry = { base_delay = 61 } }, { retry = { max_delay = 601 } }, { retry = { deadline = 0 } },
        { retry = { deadline = 86401 } }, { rate_limits = { RenewInstances = 10001 } },
        { region = "" }, { region = "cn beijing" }, { region = string.rep("a", 200) } }
      for _, o in ipairs(bad_cases) do
        local k, v = next(o)
        if type(v) == "table" then local k2, v2 = next(v); k, v = k .. "." .. tostring(k2), v2 end
        refused(cloud .. " " .. k .. " = " .. tostring(v), new, fake[opts](fake, o))
      end
    end)
  end

  it("typed actions refuse hostile parameters and call options, sending nothing", function()
    local tc = assert(cloudrenew.tencent(fake:tencent_opts()))
    local volc = assert(cloudrenew.volcengine(fake:volc_opts()))
    for _, h in ipairs(HOSTILE) do
      local v = h[2]
      refused("cvm Period " .. h[1], tc.cvm.InquiryPriceRenewInstances, tc.cvm,
        { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = v } })
      refused("cvm InstanceIds " .. h[1], tc.cvm.RenewInstances, tc.cvm,
        { InstanceIds = { v }, InstanceChargePrepaid = { Period = 1 } })
      refused("ecs Period " .. h[1], volc.ecs.RenewInstance, volc.ecs, { InstanceId = "i-abc", Period = v, PeriodUnit = "Month" })
      refused("ecs InstanceId " .. h[1], volc.ecs.RenewInstance, volc.ecs, { InstanceId = v, Period = 1, PeriodUnit = "Month" })
      refused("billing ids " .. h[1], volc.billing.QueryPriceForRenew, volc.billing,
        { Product = "ECS", UseDuration = 1, InstanceIDList = { v } })
      refused("billing UseDuration " .. h[1], volc.billing.QueryPriceForRenew, volc.billing,
        { Product = "ECS", UseDuration = v, InstanceIDList = { "i-abc" } })
      refused("teo PlanId " .. h[1], tc.teo.RenewPlan, tc.teo, { PlanId = v, Period = 1 })
      refused("teo Period " .. h[1], tc.teo.RenewPlan, tc.teo, { PlanId = "edgeone-2unuvzjmmn2q", Period = v })
      refused("yunjing Quuid " .. h[1], tc.yunjing.RenewProVersion, tc.yunjing,
        { Quuid = v, ChargePrepaid = { Period = 1 } })
      refused("yunjing Period " .. h[1], tc.yunjing.InquiryPriceOpenProVersionPrepaid, tc.yunjing,
        { ChargePrepaid = { Period = v }, Machines = { { MachineType = "CVM", MachineRegion = "ap-guangzhou",
          Quuid = "q" } } })
      if h[1] ~= "a table" then
        refused("params = " .. h[1], tc.cvm.InquiryPriceRenewInstances, tc.cvm, v)
        refused("call options = " .. h[1], tc.cvm.InquiryPriceRenewInstances, tc.cvm,
          { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }, v)
        refused("volc call options = " .. h[1], volc.ecs.RenewInstance, volc.ecs, { InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }, v)
      end
      for _, k in ipairs({ "region", "endpoint", "retry" }) do
        if not ((k == "retry" or k == "endpoint") and h[1] == "a table") then
          refused("tc call option " .. k .. " = " .. h[1], tc.cvm.InquiryPriceRenewInstances, tc.cvm,
            { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }, { [k] = v })
          refused("volc call option " .. k .. " = " .. h[1], volc.ecs.RenewInstance, volc.ecs,
            { InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }, { [k] = v })
        end
      end
      for _, k in ipairs({ "max_attempts", "base_delay", "max_delay", "deadline" }) do
        refused("call retry." .. k .. " = " .. h[1], tc.cvm.InquiryPriceRenewInstances, tc.cvm,
          { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }, { retry = { [k] = v } })
      end
    end
    nothing_sent("typed actions")
    tc:close(); volc:close()
  end)

  it("tc:call and volc:call refuse hostile names, parameters and options, sending nothing", function()
    local tc = assert(cloudrenew.tencent(fake:tencent_opts()))
    local volc = assert(cloudrenew.volcengine(fake:volc_opts()))
    local args = { "cvm", "2017-03-12", "DescribeInstances" }
    for _, h in ipairs(HOSTILE) do
      for i = 1, 3 do
        local a = { args[1], args[2], args[3] }
        a[i] = h[2]
        refused("tc:call arg " .. i .. " = " .. h[1], tc.call, tc, a[1], a[2], a[3], {})
        refused("volc:call arg " .. i .. " = " .. h[1], volc.call, volc, a[1], a[2], a[3], {})
      end
      if type(h[2]) == "number" and h[2] ~= 1e300 and h[2] ~= -1 then   -- no JSON/query form
        refused("tc:call param " .. h[1], tc.call, tc, "cvm", "2017-03-12", "DescribeInstances", { Limit = h[2] })
        refused("volc:call POST param " .. h[1], volc.call, volc, "ecs", "2020-04-01", "DescribeInstances",
          { MaxResults = h[2] })
        refused("volc:call GET param " .. h[1], volc.call, volc, "ecs", "2020-04-01", "DescribeInstances",
          { MaxResults = h[2] }, { method = "GET" })
      end
      if h[1] ~= "a table" then
        refused("tc:call params = " .. h[1], tc.call, tc, "cvm", "2017-03-12", "DescribeInstances", h[2])
      end
      refused("volc:call method = " .. h[1], volc.call, volc, "ecs", "2020-04-01", "DescribeInstances", {},
        { method = h[2] })
      refused("volc:call encoding = " .. h[1], volc.call, volc, "sts", "2018-01-01", "AssumeRole", {},
        { encoding = h[2] })
      if h[1] ~= "a table" then
        refused("tc:call options = " .. h[1], tc.call, tc, "cvm", "2017-03-12", "DescribeInstances", {}, h[2])
        refused("volc:call options = " .. h[1], volc.call, volc, "ecs", "2020-04-01", "DescribeInstances", {}, h[2])
      end
      refused("tc:call region = " .. h[1], tc.call, tc, "cvm", "2017-03-12", "DescribeInstances", {},
        { region = h[2] })
    end
    refused("volc:call method GET\\n", volc.call, volc, "ecs", "2020-04-01", "X", {}, { method = "GET\n" })
    -- Tencent Cloud API 3.0 POSTs are JSON: a form body is refused, not silently sent as JSON
    refused("tc:call encoding = form", tc.call, tc, "cvm", "2017-03-12", "DescribeInstances", {}, { encoding = "form" })
    nothing_sent("generic calls")
    tc:close(); volc:close()
  end)

  it("credentials that would break a header or the signed scope are refused before sending", function()
    local cases = {
      { "tencent", "secret_id" }, { "tencent", "token" }, { "tencent", "secret_key", bytes = true },
      { "volcengine", "access_key" }, { "volcengine", "session_token" }, { "volcengine", "secret_key", bytes = true },
    }
    for _, case in ipairs(cases) do
      local cloud, k = case[1], case[2]
      local opts = cloud == "tencent" and "tencent_opts" or "volc_opts"
      for _, h in ipairs(HOSTILE) do
        -- a secret key is raw bytes: only its type can be wrong here
        if not (case.bytes and BYTES_OK[h[1]]) then
          local what = cloud .. " " .. k .. " = " .. h[1]
          local ok, c, err = pcall(cloudrenew[cloud], fake[opts](fake, { [k] = h[2] }))
          assert(ok, what .. " raised: " .. tostring(c))
          if c then
            local call = cloud == "tencent" and function() return c:call("cvm", "2017-03-12", "DescribeInstances", {}) end
              or function() return c:call("ecs", "2020-04-01", "DescribeInstances", {}) end
            err = refused(what .. " (at the call)", call)
            c:close()
          end
          assert(type(err) == "table" and err.code:find("^ClientError%."), what .. ": " .. tostring(err))
          assert.is_nil(tostring(err):find("X-Evil", 1, true))
        end
      end
    end
    nothing_sent("hostile credentials")
  end)

  it("cloudrenew.map refuses hostile arguments without raising", function()
    local fn = function() return 1 end
    for _, h in ipairs(HOSTILE) do
      if h[1] ~= "a table" then refused("map list " .. h[1], cloudrenew.map, h[2], fn) end
      if h[1] ~= "a function" then refused("map fn " .. h[1], cloudrenew.map, { 1 }, h[2]) end
      if h[1] ~= "a table" then refused("map opts " .. h[1], cloudrenew.map, { 1 }, fn, h[2]) end
      refused("map concurrency " .. h[1], cloudrenew.map, { 1 }, fn, { concurrency = h[2] })
    end
    for _, c in ipairs({ 0, 1.5, 1025 }) do refused("map concurrency " .. c, cloudrenew.map, { 1 }, fn, { concurrency = c }) end
    local res = assert(cloudrenew.map({ 1, 2 }, function(x) return x * 2 end, { concurrency = 1024 }))
    assert.are.same({ 2, 4 }, res)
  end)
end)

describe("hardening: server Date headers", function()
  local fake
  local FAST = { base_delay = 0.01, max_delay = 0.05, max_attempts = 3 }
  local CVM_Q = { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }
  setup(function() fake = fakecloud.start{ tls = false } end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  local DATES = {
    { "a Date from 1900", "Mon, 01 Jan 1900 00:00:00 GMT" },
    { "year 99999", "Fri, 31 Dec 99999 23:59:59 GMT" },
    { "year 0", "Sat, 01 Jan 0000 00:00:00 GMT" },
    { "garbage", "soon, maybe" },
    { "out-of-range fields", "Mon, 99 Jan 2026 99:99:99 GMT" },
    { "a huge year", "Mon, 01 Jan " .. string.rep("9", 400) .. " 00:00:00 GMT" },
    { "an enormous header", "Mon, 01 Jan 2026 " .. string.rep("0", 60000) .. " GMT" },
    { "a date far in the future", "Mon, 01 Jan 2100 00:00:00 GMT" },
  }

  local function calls(cloud)
    if cloud == "tencent" then
      local c = assert(cloudrenew.tencent(fake:tencent_opts{ retry = FAST }))
      return c, function() return c.cvm:InquiryPriceRenewInstances(CVM_Q) end,
        "AuthFailure.SignatureExpire"
    end
    local c = assert(cloudrenew.volcengine(fake:volc_opts{ retry = FAST }))
    return c, function() return c.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" } end, "InvalidTimestamp"
  end

  for _, cloud in ipairs({ "tencent", "volcengine" }) do
    for _, d in ipairs(DATES) do
      it(cloud .. ": " .. d[1] .. " is ignored, the clock error returned, and the client keeps working", function()
        fake:config{ clock_offset = 900, date_header = d[2] }
        local c, call, code = calls(cloud)
        local ok, res, err = pcall(call)
        assert(ok, "raised: " .. tostring(res))
        assert.is_nil(res)
        assert.are.equal(code, err.code)
        assert.is_nil(c.clock_offset)
        assert.are.equal(1, #fake:requests())          -- not re-signed with a bogus clock
        fake:reset()
        ok, res, err = pcall(call)
        assert(ok, "raised afterwards: " .. tostring(res))
        assert(res, tostring(err))
        c:close()
      end)
    end

    it(cloud .. ": a server clock more than 3600 s off is not adopted", function()
      fake:config{ clock_offset = 3700 }
      local c, call, code = calls(cloud)
      local res, err = call()
      assert.is_nil(res)
      assert.are.equal(code, err.code)
      assert.is_nil(c.clock_offset)
      fake:config{ clock_offset = 3500 }
      assert(call())
      assert.truthy(math.abs(c.clock_offset - 3500) < 5)
      c:close()
    end)
  end

  it("retry.http_date parses the three HTTP-date forms (RFC 9110) and never raises on anything else", function()
    assert.are.equal(1795334400, retry.http_date("Sun, 22 Nov 2026 08:00:00 GMT"))
    -- RFC 9110's own example in its three forms
    assert.are.equal(784111777, retry.http_date("Sun, 06 Nov 1994 08:49:37 GMT"))
    assert.are.equal(784111777, retry.http_date("Sunday, 06-Nov-94 08:49:37 GMT"))
    assert.are.equal(784111777, retry.http_date("Sun Nov  6 08:49:37 1994"))
    assert.are.equal(1795334400, retry.http_date("Sun Nov 22 08:00:00 2026"))
    -- rfc850's two-digit year: more than 50 years ahead of now is the century before
    local y2026 = 1795334400
    assert.are.equal(1795334400, retry.http_date("Sunday, 22-Nov-26 08:00:00 GMT", y2026))
    assert.are.equal(retry.http_date("Sun, 22 Nov 2076 08:00:00 GMT"),
      retry.http_date("Sunday, 22-Nov-76 08:00:00 GMT", y2026))
    assert.are.equal(retry.http_date("Sun, 22 Nov 1977 08:00:00 GMT"),
      retry.http_date("Sunday, 22-Nov-77 08:00:00 GMT", y2026))
    assert.are.equal(retry.http_date("Sun, 22 Nov 2090 08:00:00 GMT"),
      retry.http_date("Sunday, 22-Nov-90 08:00:00 GMT", 4000000000))   -- from 2096
    for _, bad in ipairs({ "Sonday, 06-Nov-94 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
                           "Sunday, 06-Nov-1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37",
                           "Sun Nov  6 08:49:37 1994 GMT", "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49 1994",
                           "Sun Nov 31 08:49:37 1994", "Sun Nov  6 08:49:37 1969", "Sun Nov  6 08:49:37 94",
                           "Monday, 31-Feb-26 00:00:00 GMT" }) do
      assert(retry.http_date(bad) == nil, bad)
    end
    assert.are.equal(0, retry.http_date("Thu, 01 Jan 1970 00:00:00 GMT"))
    assert.are.equal(253402300799, retry.http_date("Fri, 31 Dec 9999 23:59:59 GMT"))
    local inputs = { false, 5, 0 / 0, {}, true, "", "GMT", "Sun, 22 Nov 2026 08:00:00", "Sun, 22 Nov 2026 08:00 GMT",
      "Sun, 32 Nov 2026 08:00:00 GMT", "Sun, 22 Foo 2026 08:00:00 GMT", "Sun, 22 Nov 1969 23:59:59 GMT",
      "Sun, 22 Nov 10000 08:00:00 GMT", "Sun, 22 Nov 2026 24:00:00 GMT", "Sun, 22 Nov 2026 08:60:00 GMT",
      "Sun, 22 Nov -2026 08:00:00 GMT", "Sun, 22 Nov 2026 08:00:00 GMT" .. string.rep(" ", 1e5),
      string.rep("1", 1e6), "Sun, 22 Nov " .. string.rep("9", 5000) .. " 08:00:00 GMT", "\0\r\n" }
    assert.is_nil(retry.http_date(nil))
    for i = 1, #inputs do
      local ok, v = pcall(retry.http_date, inputs[i])
      assert(ok, "raised on input " .. i .. ": " .. tostring(v))
      assert(v == nil, "input " .. i .. " gave " .. tostring(v))
    end
  end)
end)

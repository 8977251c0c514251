-- Secrets stay secret (issue 9, section 5): a hostile server echoing the key or
-- the STS token into any field never gets it into an error, a result, tostring,
-- the CLI table or --json; no table reachable from the modules or a client holds
-- them; plain http:// goes nowhere but loopback without an explicit opt-in.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")

local FAST = { base_delay = 0.01, max_delay = 0.02 }
local CVM = { InstanceIds = { "ins-aaaaaaaa" }, InstanceChargePrepaid = { Period = 1 } }
local ECS = { InstanceId = "i-aaaaaaaa", Period = 1, PeriodUnit = "Month" }

-- Every 10-byte piece of every secret (a truncation must not leave half a key).
-- The secrets are random, so a piece cannot turn up by chance.
local function pieces(secrets)
  local out = {}
  for _, s in ipairs(secrets) do
    for i = 1, #s - 9 do out[#out + 1] = s:sub(i, i + 9) end
  end
  return out
end

local function assert_no_secret(s, secrets, what)
  assert.is_string(s)
  for _, p in ipairs(pieces(secrets)) do
    assert(not s:find(p, 1, true), (what or "string") .. " holds a piece of a secret (" .. p .. "): " .. s)
  end
end

-- Walk every table reachable from roots (values, keys, metatables) and check
-- each string; functions are opaque (no debug.*), as for any caller.
local function walk(roots, secrets)
  local seen, n = {}, 0
  local function visit(v, path)
    local t = type(v)
    if t == "string" then
      for _, s in ipairs(secrets) do
        assert(not v:find(s, 1, true), "secret reachable at " .. path)
      end
    elseif t == "table" and not seen[v] then
      seen[v], n = true, n + 1
      for k, x in pairs(v) do
        visit(k, path .. "[key]")
        visit(x, path .. "." .. tostring(k))
      end
      local mt = getmetatable(v)
      if type(mt) == "table" then visit(mt, path .. "<mt>") end
    end
  end
  for name, r in pairs(roots) do visit(r, name) end
  return n
end

-- JSON string literal with every character \u-escaped: decodes to s, never contains it.
local function escaped(s)
  return (s:gsub(".", function(c) return string.format("\\u%04x", c:byte()) end))
end

describe("secrets", function()
  local fake, tcs, vcs, SECRETS

  setup(function()
    fake = fakecloud.start{ tls = false }
    local hex = core.random_hex
    tcs = { secret_id = "AKIDsecrets" .. hex(8), secret_key = "sk" .. hex(16), token = "tok" .. hex(20) }
    vcs = { access_key = "AKTPsecrets" .. hex(8), secret_key = "vsk" .. hex(16), session_token = "vtok" .. hex(20) }
    fake:add_credentials{ cloud = "tencent", secret_id = tcs.secret_id, secret_key = tcs.secret_key,
                          token = tcs.token }
    fake:add_credentials{ cloud = "volcengine", access_key = vcs.access_key, secret_key = vcs.secret_key,
                          session_token = vcs.session_token }
    SECRETS = { tcs.secret_key, tcs.token, vcs.secret_key, vcs.session_token }
  end)
  teardown(function() if fake then fake:stop() end end)
  before_each(function() fake:reset() end)

  local function tencent(extra)
    local o = fake:tencent_opts{ secret_id = tcs.secret_id, secret_key = tcs.secret_key, token = tcs.token,
                                 retry = FAST }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(cloudrenew.tencent(o))
  end
  local function volcengine(extra)
    local o = fake:volc_opts{ access_key = vcs.access_key, secret_key = vcs.secret_key,
                              session_token = vcs.session_token, retry = FAST }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(cloudrenew.volcengine(o))
  end

  local function assert_error_clean(err)
    for _, k in ipairs({ "code", "message", "request_id", "action" }) do
      if err[k] ~= nil then assert_no_secret(err[k], SECRETS, k) end
    end
    assert_no_secret(tostring(err), SECRETS, "tostring(err)")
    assert_no_secret("x" .. err, SECRETS, "concat")
    walk({ err = err }, SECRETS)
    for _, a in ipairs(err.attempts or {}) do walk({ attempt = a }, SECRETS) end
  end

  describe("a hostile server echoing them", function()
    it("Tencent: key and token in Error.Code, Message and RequestId are redacted", function()
      local tc = tencent()
      local body = json.encode{ Response = { Error = { Code = "InvalidPeriod",
        Message = "your key is " .. tcs.secret_key .. " and token " .. tcs.token },
        RequestId = tcs.token } }
      fake:faults{ { action = "RenewInstances", kind = "body", body = body, execute = true } }
      local res, err = tc.cvm:RenewInstances(CVM)
      assert.is_nil(res)
      assert.are.equal("InvalidPeriod", err.code)
      assert.are.equal("your key is *** and token ***", err.message)
      assert_error_clean(err)
      -- the token as the error code: not a code any more, so a bad answer
      fake:faults{ { action = "RenewInstances", kind = "body", body = json.encode{ Response = {
        Error = { Code = tcs.token, Message = "m" }, RequestId = tcs.token } } } }
      res, err = tc.cvm:RenewInstances(CVM)
      assert.is_nil(res)
      assert.are.equal("ClientError.BadResponse", err.code)
      assert.are.equal("unknown", err.outcome)
      assert_error_clean(err)
      -- the same through \u escapes, which a byte-level filter on the body would miss
      fake:faults{ { action = "RenewInstances", kind = "body",
        body = '{"Response":{"Error":{"Code":"' .. escaped(tcs.token) .. '","Message":"'
          .. escaped(tcs.secret_key) .. '"},"RequestId":"' .. escaped(tcs.token) .. '"}}' } }
      res, err = tc.cvm:RenewInstances(CVM)
      assert.is_nil(res)
      assert_error_clean(err)
      tc:close()
    end)

    it("redaction never changes what an answer means: a key echoed with its first character \\u-escaped", function()
      -- issue 21: redacting the raw body cut "\\u0073k..." into "\\u007***", the JSON broke,
      -- and a definite refusal became BadResponse/unknown and was retried
      -- a key starting with a digit: "\\u0033" ends in "3", so the escaped text holds the key
      local t = { secret_id = "AKIDesc" .. core.random_hex(8), secret_key = "3" .. core.random_hex(16) }
      fake:add_credentials{ cloud = "tencent", secret_id = t.secret_id, secret_key = t.secret_key }
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = t.secret_id, secret_key = t.secret_key,
                                                              retry = FAST }))
      local esc = "\\u0033" .. t.secret_key:sub(2)
      local body = '{"Response":{"Error":{"Code":"InvalidPeriod","Message":"your key is ' .. esc
        .. '"},"RequestId":"r-esc"}}'
      fake:faults{ { action = "RenewInstances", kind = "body", body = body, execute = false } }
      local res, err = tc.cvm:RenewInstances(CVM)
      assert.is_nil(res)
      assert.are.equal("InvalidPeriod", err.code)
      assert.are.equal("rejected", err.outcome)
      assert.are.equal(false, err.retryable)
      assert.are.equal("r-esc", err.request_id)
      assert.are.equal(1, #fake:requests_for("RenewInstances"))
      assert_no_secret(tostring(err), { t.secret_key }, "tostring(err)")
      assert_no_secret(err.message, { t.secret_key }, "message")
      tc:close()
    end)

    it("a token echoed percent-encoded (as in a quoted URL) is redacted too", function()
      local t = { secret_id = "AKIDpct" .. core.random_hex(8), secret_key = "pk" .. core.random_hex(16),
                  token = "tk/" .. core.random_hex(12) .. "+x=" }
      fake:add_credentials{ cloud = "tencent", secret_id = t.secret_id, secret_key = t.secret_key, token = t.token }
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = t.secret_id, secret_key = t.secret_key,
                                                              token = t.token }))
      local enc = t.token:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)
      assert.are_not.equal(enc, t.token)
      fake:faults{ { action = "RenewInstances", kind = "body", body = json.encode{ Response = {
        Error = { Code = "InvalidPeriod", Message = "GET /?Token=" .. enc .. " and " .. enc:lower() .. " and " .. t.token },
        RequestId = "r" } } } }
      local _, err = tc.cvm:RenewInstances(CVM)
      assert.are.equal("GET /?Token=*** and *** and ***", err.message)
      tc:close()
    end)

    it("a secret at the edge of a long message is redacted before the message is cut", function()
      local tc = tencent()
      for pad = 1000, 1040, 4 do
        fake:faults{ { action = "RenewInstances", kind = "body", body = json.encode{ Response = {
          Error = { Code = "InvalidPeriod", Message = string.rep("m", pad) .. tcs.token .. tcs.secret_key },
          RequestId = "r" } } } }
        local _, err = tc.cvm:RenewInstances(CVM)
        assert_error_clean(err)
      end
      -- a body that is not JSON is quoted in the message: the quote is redacted too
      for pad = 100, 130, 3 do
        fake:faults{ { action = "RenewInstances", kind = "body", body = string.rep("x", pad) .. tcs.token } }
        local _, err = tc.cvm:RenewInstances(CVM)
        assert.are.equal("ClientError.BadResponse", err.code)
        assert_error_clean(err)
      end
      tc:close()
    end)

    it("Volcengine: every attempt in err.attempts is redacted", function()
      local v = volcengine()
      local body = json.encode{ ResponseMetadata = { RequestId = vcs.session_token,
        Error = { Code = vcs.session_token, Message = vcs.secret_key } } }
      fake:faults{ { action = "RenewInstance", kind = "body", body = body, status = 500, execute = true,
                     count = 3 } }
      local res, err = v.ecs:RenewInstance(ECS, { retry = { max_attempts = 3 } })
      assert.is_nil(res)
      assert.are.equal(3, #err.attempts)
      assert_error_clean(err)
      -- a malformed answer echoing them as a wrong-typed field
      fake:faults{ { action = "RenewInstance", kind = "body", status = 400,
        body = json.encode{ ResponseMetadata = { RequestId = vcs.session_token,
                                                 Error = { Code = { vcs.secret_key }, Message = vcs.session_token } } } } }
      res, err = v.ecs:RenewInstance(ECS, { retry = false })
      assert.are.equal("ClientError.BadResponse", err.code)
      assert_error_clean(err)
      v:close()
    end)

    it("a success echoing them returns a result without them", function()
      local tc = tencent()
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "body",
        body = json.encode{ Response = { RequestId = tcs.token, Price = { InstancePrice = {
          DiscountPrice = 10, Note = "k=" .. tcs.secret_key, [tcs.token] = 1 } } } } } }
      local res = assert(tc.cvm:InquiryPriceRenewInstances(CVM))
      assert.are.equal(10, res.Price.InstancePrice.DiscountPrice)
      walk({ res = res }, SECRETS)
      tc:close()
    end)

    it("a success echoing them \\u-escaped or with an escaped slash returns a result without them", function()
      -- issue 25: a result is walked only when its body may spell a secret; a body
      -- without any raw form of one but with escapes must still be redacted
      local t = { secret_id = "AKIDsl" .. core.random_hex(8), secret_key = "sk/" .. core.random_hex(16) }
      fake:add_credentials{ cloud = "tencent", secret_id = t.secret_id, secret_key = t.secret_key }
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = t.secret_id, secret_key = t.secret_key }))
      local slashed = t.secret_key:gsub("/", "\\/")
      for _, spelled in ipairs{ escaped(t.secret_key), slashed, "\\u0073" .. t.secret_key:sub(2) } do
        fake:faults{ { action = "InquiryPriceRenewInstances", kind = "body",
          body = '{"Response":{"RequestId":"r-esc","Price":{"InstancePrice":{"DiscountPrice":10,'
            .. '"Note":"k=' .. spelled .. '","' .. spelled .. '":1}}}}' } }
        local res = assert(tc.cvm:InquiryPriceRenewInstances(CVM))
        assert.are.equal(10, res.Price.InstancePrice.DiscountPrice)
        walk({ res = res }, { t.secret_key })
      end
      tc:close()
    end)

    it("the workflow report holds no secret", function()
      local tc = tencent()
      local log = os.tmpname()
      fake:faults{ { action = "RenewInstances", kind = "body", execute = true,
        body = json.encode{ Response = { Error = { Code = tcs.token, Message = tcs.secret_key }, RequestId = tcs.token } } } }
      local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm",
        resources = { "ins-aaaaaaaa" }, period = 1, audit_log = log })
      assert.are.equal("unknown", report.items[1].outcome)
      walk({ report = report }, SECRETS)
      assert_no_secret(fakecloud.read_file(log), SECRETS, "audit log")
      os.remove(log)
      tc:close()
    end)
  end)

  describe("the CLI", function()
    local dir
    before_each(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
    end)
    after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

    local function run(args)
      local env = {
        "PATH='" .. os.getenv("PATH") .. "'", "HOME='" .. dir .. "'", "CLOUDRENEW_METADATA_DISABLED=1",
        "TENCENTCLOUD_SECRET_ID=" .. tcs.secret_id, "TENCENTCLOUD_SECRET_KEY=" .. tcs.secret_key,
        "TENCENTCLOUD_SESSION_TOKEN=" .. tcs.token,
      }
      local cmd = "env -i " .. table.concat(env, " ") .. " lua5.4 bin/cloudrenew " .. table.concat(args, " ")
        .. " >" .. dir .. "/out 2>" .. dir .. "/err"
      os.execute(cmd)
      return fakecloud.read_file(dir .. "/out") or "", fakecloud.read_file(dir .. "/err") or ""
    end

    it("prints no secret in the table, --json or stderr", function()
      local inv = dir .. "/inv.json"
      local f = assert(io.open(inv, "wb"))
      f:write(json.encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10,
        cvm = { period = 1, resources = { "ins-aaaaaaaa", "ins-bbbbbbbb" } } } })
      f:close()
      local hostile = json.encode{ Response = { Error = { Code = tcs.token, Message = "echo " .. tcs.secret_key },
                                                RequestId = tcs.token } }
      for _, json_flag in ipairs({ "", "--json" }) do
        fake:reset()
        fake:faults{
          { action = "RenewInstances", kind = "body", execute = true, body = hostile },
          { action = "RenewInstances", kind = "body", execute = true,
            body = json.encode{ Response = { RequestId = tcs.token } } },
        }
        local out, err = run{ "apply", inv, "--audit-log", dir .. "/audit" .. json_flag .. ".jsonl", json_flag }
        assert.is_truthy(#fake:requests_for("RenewInstances") == 2, out .. err)
        assert_no_secret(out, SECRETS, "stdout")
        assert_no_secret(err, SECRETS, "stderr")
        if json_flag ~= "" then assert.is_table(json.decode(out)) end
      end
    end)
  end)

  describe("are not reachable from Lua", function()
    it("through the modules, a client, its services, errors or results", function()
      local tc, v = tencent(), volcengine()
      local _, terr = tc.cvm:RenewInstances{ InstanceIds = "bad" }
      local _, verr = v.ecs:RenewInstance(ECS, { endpoint = "http://127.0.0.1:9", retry = false })
      local res = assert(tc.cvm:InquiryPriceRenewInstances(CVM))
      local roots = { tc = tc, v = v, terr = terr, verr = verr, res = res }
      for name, m in pairs(package.loaded) do
        if type(name) == "string" and name:find("^cloudrenew") then roots[name] = m end
      end
      assert.is_nil(require("cloudrenew.client").secrets)
      local n = walk(roots, SECRETS)
      assert.is_true(n > 20)
      assert_no_secret(tostring(tc), SECRETS)
      assert_no_secret(tostring(v), SECRETS)
      -- the clients still sign with them
      assert.is_string(assert(v.ecs:RenewInstance(ECS)).OrderId)
      tc:close()
      v:close()
    end)

    it("from a role-based client: instance role, assumed role and their refreshes (issue 12)", function()
      fake:_req("POST", "iam", { ttl = 3 })
      local cs = fakecloud.credentials()
      local rt = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = fakecloud.UNSET, secret_key = fakecloud.UNSET,
        credentials = "instance_role", metadata_endpoint = fake.url, refresh_early = 10 }))
      local ar = assert(cloudrenew.volcengine(fake:volc_opts{ role_trn = "trn:iam::2100000001:role/ops",
        sts_endpoint = fake.url, duration = 900 }))
      local infos = {}
      local hooked = assert(cloudrenew.tencent(fake:tencent_opts{ role_arn = "qcs::cam::uin/1:roleName/ops",
        sts_endpoint = fake.url, on_request = function(i) infos[#infos + 1] = i end,
        on_response = function(i) infos[#infos + 1] = i end }))
      assert(rt.cvm:InquiryPriceRenewInstances(CVM))
      -- refresh_early > ttl: every call finds the triple due and refreshes it
      local res = assert(rt.cvm:InquiryPriceRenewInstances(CVM))
      local _, verr = ar.ecs:RenewInstance(ECS, { endpoint = "http://127.0.0.1:9", retry = false })
      assert(hooked.cvm:InquiryPriceRenewInstances(CVM))
      local secrets = { cs.tencent[1].secret_key, cs.volcengine[1].secret_key }
      for _, c in ipairs(fake:_req("GET", "iam").credentials) do
        secrets[#secrets + 1] = c.secret_key
        secrets[#secrets + 1] = c.token or c.session_token
      end
      assert.is_true(#secrets >= 12)                   -- 3 metadata + 2 AssumeRole, keys and tokens
      local roots = { rt = rt, ar = ar, hooked = hooked, res = res, verr = verr, infos = infos }
      for name, m in pairs(package.loaded) do
        if type(name) == "string" and name:find("^cloudrenew") then roots[name] = m end
      end
      assert.is_true(walk(roots, secrets) > 20)
      assert_no_secret(tostring(rt) .. tostring(ar) .. tostring(verr), secrets)
      rt:close(); ar:close(); hooked:close()
    end)
  end)

  describe("plain http://", function()
    local function refused(c, err)
      assert.is_nil(c)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.is_truthy(err.message:find("allow_insecure_http", 1, true), err.message)
    end

    it("is refused for any host but loopback, in client options, for both clouds", function()
      for _, ep in ipairs({ "http://cvm.tencentcloudapi.com", "http://10.0.0.1:8080", "http://0.0.0.0:9",
          "http://127.0.0.1.nip.io", "http://127.0.0.1@evil.example", "http://localhost.evil.example",
          "http://127.0.0.256", "http://[::2]:9", "http://{service}.internal.example",
          { cvm = "http://cvm.internal.example" } }) do
        refused(cloudrenew.tencent(fake:tencent_opts{ endpoint = ep }))
        refused(cloudrenew.volcengine(fake:volc_opts{ endpoint = ep }))
      end
      -- connect_to sends the connection elsewhere: it must be loopback too
      refused(cloudrenew.tencent(fake:tencent_opts{ connect_to = "10.1.2.3:80" }))
      assert.are.equal(0, #fake:requests())
    end)

    it("is allowed for loopback hosts and for https", function()
      for _, ep in ipairs({ "http://127.0.0.1:9", "http://127.1.2.3", "http://localhost:9", "http://LOCALHOST",
          "http://[::1]:9", "https://cvm.tencentcloudapi.com", "https://{service}.example.com" }) do
        local c = assert(cloudrenew.tencent(fake:tencent_opts{ endpoint = ep }))
        c:close()
        c = assert(cloudrenew.volcengine(fake:volc_opts{ endpoint = ep }))
        c:close()
      end
    end)

    it("is refused in a per-call endpoint override: nothing is sent", function()
      local tc, v = tencent(), volcengine()
      local res, err = tc.cvm:RenewInstances(CVM, { endpoint = "http://cvm.tencentcloudapi.com" })
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.are.equal("not_executed", err.outcome)
      res, err = v.ecs:RenewInstance(ECS, { endpoint = "http://open.volcengineapi.com" })
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      res, err = tc:call("cvm", "2017-03-12", "DescribeInstances", {}, { endpoint = "http://10.0.0.1" })
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.are.equal(0, #fake:requests())
      tc:close()
      v:close()
    end)

    it("allow_insecure_http = true is the documented opt-in (and must be a boolean)", function()
      -- a real cloud host name over plain HTTP, connected to the fake
      local o = fake:tencent_opts{ endpoint = "http://cvm.tencentcloudapi.com",
                                   connect_to = "127.0.0.1:" .. fake.http_port }
      refused(cloudrenew.tencent(o))
      o.allow_insecure_http = true
      local tc = assert(cloudrenew.tencent(o))
      assert(tc.cvm:InquiryPriceRenewInstances(CVM))
      assert.are.equal(1, #fake:requests())
      tc:close()
      local c, err = cloudrenew.volcengine(fake:volc_opts{ allow_insecure_http = "yes" })
      assert.is_nil(c)
      assert.are.equal("ClientError.InvalidParameter", err.code)
    end)
  end)

  it("errors concatenate like strings", function()
    local tc = tencent()
    local _, err = tc.cvm:RenewInstances{ InstanceIds = "bad" }
    assert.are.equal("failed: " .. tostring(err), "failed: " .. err)
    assert.are.equal(tostring(err), err .. "")
    assert.are.equal(tostring(err) .. " / " .. tostring(err), err .. " / " .. err)
    tc:close()
  end)
end)

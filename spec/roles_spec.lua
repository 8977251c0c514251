-- Role and federated credentials (issue 12): instance roles, STS AssumeRole and
-- OIDC for both clouds against the fake's metadata services and STS, the chain
-- order, refresh before expiry under concurrency, expiry during a long fleet
-- run, an unreachable metadata service. Real path: Lua -> C core -> libcurl.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local U = fakecloud.UNSET
local CVM = { InstanceIds = { "ins-aaaaaaaa" }, InstanceChargePrepaid = { Period = 1 } }
local ECS = { InstanceId = "i-aaaaaaaa", Period = 1, PeriodUnit = "Month" }
local ARN = "qcs::cam::uin/100000000001:roleName/ops-renew"
local TRN = "trn:iam::2100000001:role/ops-renew"

local q = fixture.q

describe("role credentials", function()
  local fake, creds
  local fx = fixture.new{ tls = false }

  setup(function() fake, creds = fx.fake, fakecloud.credentials() end)
  before_each(function() fake:_req("POST", "iam", {}) end)

  local function iam(cfg) return fake:_req("POST", "iam", cfg) end
  local function issued() return fake:_req("GET", "iam").issued end
  local function keyless_tc(extra)
    local o = fake:tencent_opts{ secret_id = U, secret_key = U, metadata_endpoint = fake.url,
                                 sts_endpoint = fake.url, rate_limits = false }
    for k, v in pairs(extra or {}) do o[k] = v end
    return cloudrenew.tencent(o)
  end
  local function keyless_volc(extra)
    local o = fake:volc_opts{ access_key = U, secret_key = U, metadata_endpoint = fake.url,
                              sts_endpoint = fake.url, rate_limits = false }
    for k, v in pairs(extra or {}) do o[k] = v end
    return cloudrenew.volcengine(o)
  end

  -- Run code in a child lua5.4 with exactly env (OIDC and the chain read the environment).
  local function child(env, code)
    local home = os.tmpname(); os.remove(home)
    assert(os.execute("mkdir -p " .. home .. "/.tencentcloud " .. home .. "/.volc"))
    local vars = { "HOME=" .. home, "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;'",
                   "LUA_CPATH='build/?.so;;'", "PATH=/usr/bin:/bin", "FAKE_URL=" .. fake.url,
                   "CLOUDRENEW_METADATA_DISABLED=1" }
    for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. q((v:gsub("HOME", home))) end
    local script = os.tmpname()
    local f = assert(io.open(script, "w")); f:write(code); f:close()
    local p = assert(io.popen("env -i " .. table.concat(vars, " ") .. " lua5.4 " .. script .. " 2>&1"))
    local out = p:read("a"); p:close()
    os.remove(script); os.execute("rm -rf " .. home)
    return (out:gsub("%s+$", ""))
  end

  describe("Tencent", function()
    it("CVM instance role: discovers the role, signs with its temporary credentials and token", function()
      local tc = assert(keyless_tc{ credentials = "instance_role" })
      assert.truthy(tc.secret_id:find("^AKIDtmp"))
      assert.are.equal("instance_role:cloudrenew-role", tc.credential_source)
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      local reqs = fake:requests()
      assert.are.same({ "MetadataRole", "MetadataCredentials", "InquiryPriceRenewInstances" },
        { reqs[1].action, reqs[2].action, reqs[3].action })
      assert.are.equal("/latest/meta-data/cam/security-credentials/cloudrenew-role", reqs[2].path)
      assert.is_nil(reqs[3].error)
      assert.truthy(reqs[3].headers["x-tc-token"]:find("^tmptoken"))
      tc:close()
    end)

    it("CVM instance role named: no discovery request; an unknown role is a clear error", function()
      iam{ role = "named-role" }
      local tc = assert(keyless_tc{ credentials = "instance_role", role_name = "named-role" })
      assert.are.equal(1, #fake:requests())
      tc:close()
      local c, err = keyless_tc{ credentials = "instance_role", role_name = "other" }
      assert.is_nil(c)
      assert.are.equal("ClientError.Credentials", err.code)
      assert.truthy(err.message:find("instance_role: credentials of role other: HTTP 404", 1, true), err.message)
    end)

    it("instance-role expiries are bounded: one already past is refused, an absurd one is capped and said", function()
      -- issue 21: a past ExpiredTime was accepted (and fetched again on every call);
      -- 1e300 was accepted and never refreshed (any absurd expiry is capped)
      iam{ ttl = -3600 }
      local c, err = keyless_tc{ credentials = "instance_role" }
      assert.is_nil(c)
      assert.are.equal("ClientError.Credentials", err.code)
      assert.truthy(err.message:find("already expired", 1, true), err.message)
      iam{ ttl = 1e10 }   -- three centuries (Python cannot date 1e300)
      local o = fake:tencent_opts{ secret_id = U, secret_key = U, metadata_endpoint = fake.url,
                                   credentials = "instance_role" }
      local cr = assert(require("cloudrenew.credentials").tencent(o))
      assert.truthy(cr.expires_at <= core.time() + 86400 + 5, tostring(cr.expires_at))
      local tc = assert(keyless_tc{ credentials = "instance_role" })
      assert.truthy(tostring(tc.credential_warning):find("expiry", 1, true), tostring(tc.credential_warning))
      tc:close()
    end)

    it("a role named '..' or '.' is refused, by option or by the metadata service", function()
      for _, name in ipairs{ "..", "." } do
        local _, err = keyless_tc{ credentials = "instance_role", role_name = name }
        assert.are.equal("ClientError.InvalidParameter", err and err.code, name)
      end
      iam{ role = ".." }
      local _, err = keyless_tc{ credentials = "instance_role" }
      assert.are.equal("ClientError.Credentials", err.code)
      assert.truthy(err.message:find("named no role", 1, true), err.message)
      for _, r in ipairs(fake:requests()) do assert.falsy(r.path and r.path:find("/%.%."), r.path) end
    end)

    it("STS AssumeRole signed with the source credentials; the client then uses the role's", function()
      local src = creds.tencent[1]
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ role_arn = ARN, role_session_name = "renew-job",
        duration = 3600, sts_endpoint = fake.url }))
      assert.are.equal("assume_role", tc.credential_source)
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      local ar = fake:requests_for("AssumeRole")
      assert.are.equal(1, #ar)
      assert.is_nil(ar[1].error)
      assert.are.equal("sts", ar[1].service)
      assert.truthy(ar[1].headers.authorization:find("Credential=" .. src.secret_id .. "/", 1, true))
      local body = require("cloudrenew.client.json").decode(ar[1].body)
      assert.are.same({ RoleArn = ARN, RoleSessionName = "renew-job", DurationSeconds = 3600 }, body)
      local call = fake:requests_for("InquiryPriceRenewInstances")[1]
      assert.truthy(call.headers.authorization:find("Credential=AKIDtmp", 1, true))
      tc:close()
    end)

    it("AssumeRole with the instance role as its source", function()
      local tc = assert(keyless_tc{ credentials = "instance_role", role_arn = ARN })
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      assert.are.same({ ["tencent:metadata"] = 1, ["tencent:AssumeRole"] = 1 }, issued())
      tc:close()
    end)

    it("an STS refusal is ClientError.Credentials naming the provider and the cloud's code", function()
      local c, err = cloudrenew.tencent(fake:tencent_opts{ role_arn = "not-an-arn", sts_endpoint = fake.url })
      assert.is_nil(c)
      assert.are.equal("ClientError.Credentials", err.code)
      assert.truthy(err.message:find("assume_role: sts AssumeRole: InvalidParameter.RoleArn", 1, true), err.message)
    end)

    it("TKE OIDC: AssumeRoleWithWebIdentity from TKE_* variables, sent unsigned", function()
      local out = child({ TKE_WEB_IDENTITY_TOKEN_FILE = "HOME/token", TKE_ROLE_ARN = ARN,
                          TKE_PROVIDER_ID = "fake-provider", TKE_REGION = "ap-shanghai" }, [[
        local f = io.open(os.getenv("HOME") .. "/token", "w"); f:write("fake-oidc-token\n"); f:close()
        local tc, err = require("cloudrenew").tencent{ endpoint = os.getenv("FAKE_URL"), sts_endpoint = os.getenv("FAKE_URL"),
          metadata_endpoint = "http://127.0.0.1:1", region = "ap-guangzhou" }
        if not tc then print(err) return end
        local res, cerr = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-aaaaaaaa" }, InstanceChargePrepaid = { Period = 1 } }
        print(tc.credential_source, tc.secret_id:sub(1, 7), res and "ok" or tostring(cerr))
      ]])
      assert.are.equal("oidc\tAKIDtmp\tok", out)
      local w = fake:requests_for("AssumeRoleWithWebIdentity")
      assert.are.equal(1, #w)
      assert.are.equal("SKIP", w[1].headers.authorization)
      assert.are.equal("ap-shanghai", w[1].headers["x-tc-region"])
      assert.is_nil(w[1].error)
    end)
  end)

  describe("Volcengine", function()
    it("ECS instance role over IMDSv2: token first (PUT), then credentials with the token", function()
      local v = assert(keyless_volc{ credentials = "instance_role", role_name = "cloudrenew-role" })
      assert.truthy(v.access_key:find("^AKTPtmp"))
      assert.is_truthy(v.ecs:RenewInstance(ECS))
      local reqs = fake:requests()
      assert.are.same({ "MetadataToken", "MetadataCredentials", "RenewInstance" },
        { reqs[1].action, reqs[2].action, reqs[3].action })
      assert.are.equal("PUT", reqs[1].method)
      assert.are.equal("21600", reqs[1].headers["x-volc-ecs-metadata-token-ttl-seconds"])
      assert.truthy(reqs[2].headers["x-volc-ecs-metadata-token"]:find("^imds%-"))
      assert.is_nil(reqs[3].error)
      v:close()
    end)

    it("ECS role discovered when not named; a metadata answer that is not credentials is a clear error", function()
      local v = assert(keyless_volc{ credentials = "instance_role" })
      assert.are.equal("instance_role:cloudrenew-role", v.credential_source)
      assert.are.equal(1, #fake:requests_for("MetadataRole"))
      v:close()
      iam{ metadata = "garbage" }
      local c, err = keyless_volc{ credentials = "instance_role" }
      assert.is_nil(c)
      assert.are.equal("ClientError.Credentials", err.code)
      assert.truthy(err.message:find("instance_role: role cloudrenew-role: the metadata service answered no credentials", 1, true), err.message)
      c, err = keyless_tc{ credentials = "instance_role" }
      assert.is_nil(c)
      assert.truthy(err.message:find("answered no credentials", 1, true), err.message)
    end)

    it("STS AssumeRole with role_trn, signed by the source", function()
      local v = assert(cloudrenew.volcengine(fake:volc_opts{ role_trn = TRN, sts_endpoint = fake.url }))
      assert.is_truthy(v.ecs:RenewInstance(ECS))
      local ar = fake:requests_for("AssumeRole")
      assert.are.equal(1, #ar)
      assert.is_nil(ar[1].error)
      assert.truthy(ar[1].headers.authorization:find(creds.volcengine[1].access_key, 1, true))
      -- as every official client sends it (volcengine-go-sdk volcenginequery: a POST's
      -- parameters as a form body, Action/Version in the query)
      assert.are.equal("POST", ar[1].method)
      assert.are.equal("application/x-www-form-urlencoded; charset=utf-8", ar[1].headers["content-type"])
      assert.truthy(ar[1].body:find("RoleTrn=" .. core.uri_encode(TRN), 1, true), ar[1].body)
      assert.truthy(ar[1].body:find("RoleSessionName=cloudrenew-", 1, true), ar[1].body)
      v:close()
    end)

    it("an STS expiry that does not parse means short-lived credentials, refreshed early, and a warning", function()
      for _, cloud in ipairs{ "tencent", "volcengine" } do
        for _, bad in ipairs{ "not-a-date", "2026-13-45T99:00:00Z", "" } do
          iam{ sts_expiry = bad }
          local o = cloud == "tencent" and fake:tencent_opts{ role_arn = ARN, sts_endpoint = fake.url }
                                        or fake:volc_opts{ role_trn = TRN, sts_endpoint = fake.url }
          local c = assert(require("cloudrenew.credentials")[cloud](o))
          local now = core.time()
          assert.is_number(c.expires_at, cloud .. " " .. bad)
          assert.truthy(c.expires_at > now and c.expires_at <= now + 900, cloud .. " " .. bad)
          local client = assert(cloudrenew[cloud](o))
          assert.truthy(tostring(client.credential_warning):find("expiry that does not parse", 1, true),
            tostring(client.credential_warning))
          client:close()
        end
      end
    end)

    it("OIDC: AssumeRoleWithOIDC from VOLCENGINE_OIDC_* variables, unsigned", function()
      local out = child({ VOLCENGINE_OIDC_TOKEN_FILE = "HOME/token", VOLCENGINE_OIDC_ROLE_TRN = TRN }, [[
        local f = io.open(os.getenv("HOME") .. "/token", "w"); f:write("fake-oidc-token"); f:close()
        local v, err = require("cloudrenew").volcengine{ endpoint = os.getenv("FAKE_URL"), sts_endpoint = os.getenv("FAKE_URL"),
          metadata_endpoint = "http://127.0.0.1:1" }
        if not v then print(err) return end
        local res, cerr = v.ecs:RenewInstance{ InstanceId = "i-aaaaaaaa", Period = 1, PeriodUnit = "Month" }
        print(v.credential_source, v.access_key:sub(1, 7), res and "ok" or tostring(cerr))
      ]])
      assert.are.equal("oidc\tAKTPtmp\tok", out)
      local w = fake:requests_for("AssumeRoleWithOIDC")
      assert.are.equal(1, #w)
      assert.is_nil(w[1].headers.authorization)
      assert.is_nil(w[1].error)
      assert.are.equal("POST", w[1].method)
      assert.are.equal("application/x-www-form-urlencoded; charset=utf-8", w[1].headers["content-type"])
      assert.truthy(w[1].body:find("OIDCToken=fake-oidc-token", 1, true), w[1].body)
    end)
  end)

  it("examples/renew_with_role.lua runs against the fake (instance role, then an assumed role)", function()
    local tls = fakecloud.start{ tls = true }
    local dir = os.tmpname(); os.remove(dir)
    local env = table.concat({ "env -i PATH=/usr/bin:/bin LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;'",
      "CLOUDRENEW_CONNECT_TO=" .. tls.tls_addr, "CLOUDRENEW_CA_FILE=" .. tls.certs.ca,
      "CLOUDRENEW_METADATA_ENDPOINT=" .. tls.url, "CVM_INSTANCES=ins-aaaaaaaa,ins-bbbbbbbb",
      "AUDIT_LOG=" .. dir .. ".jsonl", "ROLE_ARN=" .. ARN }, " ")
    local p = assert(io.popen(env .. " lua5.4 examples/renew_with_role.lua --apply 2>&1"))
    local out = p:read("a"); local ok = p:close()
    local renewals = tls:renewals()
    local ar = #tls:requests_for("AssumeRole")
    tls:stop()
    os.remove(dir .. ".jsonl")
    assert.is_true(ok == true or ok == 0, out)
    assert.truthy(out:find("credentials: assume_role (AKIDtmp", 1, true), out)
    assert.truthy(out:find("cloudrenew: tencent cvm:RenewInstances region=ap-guangzhou host=cvm.tencentcloudapi.com ", 1, true), out)
    assert.are.same({ ["ins-aaaaaaaa"] = 1, ["ins-bbbbbbbb"] = 1 }, renewals)
    assert.are.equal(1, ar)
  end)

  describe("the chain", function()
    local PRINT = [[
      local tc, err = require("cloudrenew").tencent{ endpoint = os.getenv("FAKE_URL"), sts_endpoint = os.getenv("FAKE_URL"),
        metadata_endpoint = METADATA, credentials = NAMED }
      print(tc and tc.credential_source or tostring(err))
    ]]
    local function chain(env, metadata, named)
      return child(env, (PRINT:gsub("METADATA", metadata and "os.getenv('FAKE_URL')" or "'http://127.0.0.1:1'")
        :gsub("NAMED", named and ("'" .. named .. "'") or "nil")))
    end
    local TKE = { TKE_WEB_IDENTITY_TOKEN_FILE = "HOME/.tencentcloud/credentials", TKE_ROLE_ARN = ARN,
                  TKE_PROVIDER_ID = "fake-provider" }

    it("env before the instance role, the instance role before OIDC, OIDC last", function()
      local env = { TENCENTCLOUD_SECRET_ID = creds.tencent[1].secret_id, TENCENTCLOUD_SECRET_KEY = "k" }
      for k, v in pairs(TKE) do env[k] = v end
      assert.are.equal("env", chain(env, true))
      env.TENCENTCLOUD_SECRET_ID, env.TENCENTCLOUD_SECRET_KEY = nil, nil
      assert.are.equal("instance_role:cloudrenew-role", chain(env, true))
      -- metadata unreachable: OIDC (its token file is unreadable here: a clear error naming it)
      local out = chain(env, false)
      assert.truthy(out:find("oidc: token file .* cannot be read or is empty"), out)
    end)

    it("credentials = a name picks that provider alone", function()
      local env = { TENCENTCLOUD_SECRET_ID = creds.tencent[1].secret_id, TENCENTCLOUD_SECRET_KEY = "k" }
      assert.are.equal("instance_role:cloudrenew-role", chain(env, true, "instance_role"))
      local out = chain(env, false, "instance_role")
      assert.truthy(out:find("^ClientError.Credentials: no Tencent Cloud credentials found; looked at instance role at "
        .. "http://127.0.0.1:1/", 1, false), out)
      assert.is_nil(out:find("TENCENTCLOUD", 1, true))
    end)

    it("a provider object answers for itself; a raising one is an error value", function()
      local src = creds.tencent[1]
      local tc = assert(cloudrenew.tencent(fake:tencent_opts{ secret_id = U, secret_key = U, credentials = {
        name = "vault", fetch = function() return { id = src.secret_id, key = src.secret_key, source = "vault:ops" } end } }))
      assert.are.equal("vault:ops", tc.credential_source)
      assert.is_truthy(tc.cvm:InquiryPriceRenewInstances(CVM))
      local c, err = cloudrenew.tencent(fake:tencent_opts{ secret_id = U, secret_key = U, credentials = {
        name = "vault", fetch = function() error("vault sealed") end } })
      assert.is_nil(c)
      assert.are.equal("ClientError.Credentials", err.code)
      assert.truthy(err.message:find("vault: raised: .*vault sealed"), err.message)
      c, err = cloudrenew.tencent(fake:tencent_opts{ credentials = "somewhere" })
      assert.is_nil(c)
      assert.are.equal("ClientError.InvalidParameter", err.code)
    end)

    it("metadata unreachable: fast, and the error lists the provider", function()
      local t0 = core.monotonic()
      local c, err = keyless_tc{ credentials = "instance_role", metadata_endpoint = "http://127.0.0.1:1" }
      assert.is_nil(c)
      assert.is_true(core.monotonic() - t0 < 1.5)
      assert.truthy(err.message:find("instance role at http://127.0.0.1:1/", 1, true), err.message)
      -- a metadata service that answers 500: the same, after one quick second try
      iam{ metadata = "down" }
      c, err = keyless_volc{ credentials = "instance_role" }
      assert.is_nil(c)
      assert.truthy(err.message:find("instance role at " .. fake.url .. " (HTTP 500)", 1, true), err.message)
      assert.are.equal(2, #fake:requests_for("MetadataToken"))
    end)

    it("the metadata service is asked directly, never through http_proxy from the environment", function()
      local out = child({ http_proxy = "http://127.0.0.1:1", HTTP_PROXY = "http://127.0.0.1:1" }, [[
        local tc, err = require("cloudrenew").tencent{ credentials = "instance_role", metadata_endpoint = os.getenv("FAKE_URL") }
        print(tc and tc.credential_source or tostring(err))
      ]])
      assert.are.equal("instance_role:cloudrenew-role", out)
    end)

    it("plain http:// metadata endpoints only to metadata, link-local or loopback hosts", function()
      local _, err = keyless_tc{ credentials = "instance_role", metadata_endpoint = "http://10.1.2.3" }
      assert.are.equal("ClientError.InvalidParameter", err.code)
      _, err = keyless_tc{ credentials = "instance_role", metadata_endpoint = "http://169.254.0.23:1" }
      assert.are.equal("ClientError.Credentials", err.code)    -- allowed, then unreachable
      -- issue 21: the host is parsed and compared as an address, not a text prefix
      for _, url in ipairs{ "http://127.0.0.1@192.0.2.1", "http://127.0.0.1.example.com",
                            "http://169.254.169.254.example.com", "http://user:pw@169.254.169.254",
                            "http://127.0.0.1:80@192.0.2.1:80", "http://127.999.0.1", "http://169.254.1" } do
        _, err = keyless_tc{ credentials = "instance_role", metadata_endpoint = url }
        assert.are.equal("ClientError.InvalidParameter", err and err.code, url)
      end
      _, err = keyless_tc{ credentials = "instance_role", sts_endpoint = "http://10.1.2.3", role_arn = ARN }
      assert.are.equal("ClientError.Credentials", err.code)
      assert.truthy(err.message:find("plain http://", 1, true), err.message)
    end)
  end)
end)

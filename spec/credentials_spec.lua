-- The credential chain, run in a child lua5.4 with a controlled HOME and
-- environment (Lua cannot set environment variables in-process).
local function run(env, home_files, code)
  local home = os.tmpname(); os.remove(home)
  assert(os.execute("mkdir -p " .. home .. "/.tencentcloud " .. home .. "/.tccli " .. home .. "/.volc"))
  for path, text in pairs(home_files or {}) do
    local f = assert(io.open(home .. "/" .. path, "w")); f:write(text); f:close()
  end
  local vars = { "HOME=" .. home, "LUA_PATH='lua/?.lua;lua/?/init.lua;;'", "LUA_CPATH='build/?.so;;'",
                 "PATH=/usr/bin:/bin", "CLOUDRENEW_METADATA_DISABLED=1" }
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "='" .. v .. "'" end
  local script = os.tmpname()
  local f = assert(io.open(script, "w")); f:write(code); f:close()
  local p = assert(io.popen("env -i " .. table.concat(vars, " ") .. " lua5.4 " .. script .. " 2>&1"))
  local out = p:read("a"); p:close()
  os.remove(script); os.execute("rm -rf " .. home)
  return (out:gsub("%s+$", ""))
end

local TC = [[
local c, err = require("cloudrenew").tencent{OPTS}
if c then print(c.secret_id .. " " .. c.credential_source:gsub("^/.-/%.", "~/.") .. " " .. tostring(require("cloudrenew.credentials").tencent{OPTS}.token))
else print(err.code .. " | " .. err.message) end
]]
local VOLC = TC:gsub("tencent", "volcengine"):gsub("c%.secret_id", "c.access_key")
local function with(template, opts)
  return (template:gsub("OPTS", function() return opts end))
end

describe("tencent credentials", function()
  it("prefers explicit options over the environment", function()
    local out = run({ TENCENTCLOUD_SECRET_ID = "AKIDenv", TENCENTCLOUD_SECRET_KEY = "envkey" }, nil,
      with(TC, 'secret_id = "AKIDopt", secret_key = "optkey", token = "tok"'))
    assert.are.equal("AKIDopt options tok", out)
  end)

  it("reads TENCENTCLOUD_* from the environment, session token included", function()
    local out = run({ TENCENTCLOUD_SECRET_ID = "AKIDenv", TENCENTCLOUD_SECRET_KEY = "envkey",
                      TENCENTCLOUD_SESSION_TOKEN = "envtok" }, nil, with(TC, ""))
    assert.are.equal("AKIDenv env envtok", out)
  end)

  it("falls back to ~/.tencentcloud/credentials [default], then ~/.tccli", function()
    local out = run(nil, { [".tencentcloud/credentials"] = "[other]\nsecret_id = AKIDother\nsecret_key = k\n" ..
      "[default]\nsecret_id = AKIDini\nsecret_key = inikey\n" }, with(TC, ""))
    assert.truthy(out:find("^AKIDini .*credentials nil$"), out)
    out = run(nil, { [".tccli/default.credential"] = '{"secretId":"AKIDcli","secretKey":"clikey"}' }, with(TC, ""))
    assert.truthy(out:find("^AKIDcli "), out)
  end)

  it("honours TENCENTCLOUD_CREDENTIALS_FILE and a profile option", function()
    local out = run({ TENCENTCLOUD_CREDENTIALS_FILE = "/tmp/cr-creds-test.ini" }, nil,
      'local f = io.open("/tmp/cr-creds-test.ini","w") f:write("[prod]\\nsecret_id=AKIDprod\\nsecret_key=p\\n") f:close()\n'
      .. with(TC, 'profile = "prod"') .. '\nos.remove("/tmp/cr-creds-test.ini")')
    assert.truthy(out:find("^AKIDprod /tmp/cr%-creds%-test%.ini"), out)
  end)

  it("reports a half-set pair by name", function()
    local out = run({ TENCENTCLOUD_SECRET_ID = "AKIDenv" }, nil, with(TC, ""))
    assert.are.equal("ClientError.Credentials | environment: TENCENTCLOUD_SECRET_ID is set but " ..
      "TENCENTCLOUD_SECRET_KEY is not", out)
  end)

  it("says everywhere it looked when nothing is found, without raising", function()
    local out = run(nil, nil, with(TC, ""))
    assert.truthy(out:find("^ClientError.Credentials | no Tencent Cloud credentials found; looked at options " ..
      "secret_id/secret_key, env TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY, file .-/%.tencentcloud/credentials " ..
      "%[default%], file .-/%.tccli/default%.credential, instance role at http://metadata%.tencentyun%.com/latest/"
      .. "meta%-data/cam/security%-credentials/ %(disabled by CLOUDRENEW_METADATA_DISABLED%), env TKE_WEB_IDENTITY_TOKEN_FILE/TKE_ROLE_ARN/TKE_PROVIDER_ID$"), out)
  end)
end)

describe("volcengine credentials", function()
  it("reads VOLCENGINE_* before the older VOLC_* names", function()
    local out = run({ VOLCENGINE_ACCESS_KEY = "AKnew", VOLCENGINE_SECRET_KEY = "sknew",
                      VOLC_ACCESSKEY = "AKold", VOLC_SECRETKEY = "skold" }, nil, with(VOLC, ""))
    assert.are.equal("AKnew env nil", out)
    out = run({ VOLC_ACCESSKEY = "AKold", VOLC_SECRETKEY = "skold" }, nil, with(VOLC, ""))
    assert.are.equal("AKold env nil", out)
  end)

  it("falls back to ~/.volc/config and reports a broken file", function()
    local out = run(nil, { [".volc/config"] = '{"ak":"AKfile","sk":"skfile"}' }, with(VOLC, ""))
    assert.truthy(out:find("^AKfile "), out)
    out = run(nil, { [".volc/config"] = '{"ak":' }, with(VOLC, ""))
    assert.truthy(out:find("^ClientError.Credentials | .-/%.volc/config is not valid JSON$"), out)
  end)

  it("says where it looked when nothing is found", function()
    local out = run(nil, nil, with(VOLC, ""))
    assert.truthy(out:find("no Volcengine credentials found; looked at options access_key/secret_key, " ..
      "env VOLCENGINE_ACCESS_KEY/VOLCENGINE_SECRET_KEY, env VOLC_ACCESSKEY/VOLC_SECRETKEY, file ", 1, true), out)
    -- the specs run with CLOUDRENEW_METADATA_DISABLED=1: no probe of a link-local address
    assert.truthy(out:find("/.volc/config, instance role at http://100.96.0.96 (disabled by CLOUDRENEW_METADATA_DISABLED)",
      1, true), out)
    assert.truthy(out:find("%), env VOLCENGINE_OIDC_TOKEN_FILE/VOLCENGINE_OIDC_ROLE_TRN$"), out)
  end)
end)

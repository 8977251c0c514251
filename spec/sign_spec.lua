-- Signing: the clouds' published worked examples, plus edge cases checked against
-- an independent implementation (the openssl command line computing the chain).
local core = require("cloudrenew.core")
local sign = require("cloudrenew.sign")

local TC_PAYLOAD = [[{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}]]

local function last_line(s) return s:match("([^\n]*)$") end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

-- HMAC-SHA256 through the openssl CLI; key given as raw bytes or hex.
local function openssl_hmac(key_hex, msg)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb")); f:write(msg); f:close()
  local p = assert(io.popen("openssl dgst -sha256 -mac HMAC -macopt hexkey:" .. key_hex .. " " .. tmp))
  local out = p:read("a"); p:close(); os.remove(tmp)
  return assert(out:match("= (%x+)"))
end

local function openssl_sha256(msg)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb")); f:write(msg); f:close()
  local p = assert(io.popen("openssl dgst -sha256 " .. tmp))
  local out = p:read("a"); p:close(); os.remove(tmp)
  return assert(out:match("= (%x+)"))
end

describe("sign.tc3", function()
  it("reproduces the current official example (content-type;host;x-tc-action)", function()
    local auth, d = sign.tc3{
      secret_id = "AKID" .. ("*"):rep(32), secret_key = ("*"):rep(32), service = "cvm",
      host = "cvm.tencentcloudapi.com", timestamp = 1551113065, payload = TC_PAYLOAD,
      content_type = "application/json; charset=utf-8", headers = { ["X-TC-Action"] = "DescribeInstances" },
    }
    assert.are.equal("35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064",
      last_line(d.canonical_request))
    assert.are.equal("7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
      last_line(d.string_to_sign))
    assert.are.equal("10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f", d.signature)
    assert.are.equal("TC3-HMAC-SHA256 Credential=AKID" .. ("*"):rep(32) ..
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host;x-tc-action, " ..
      "Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f", auth)
    assert.are.equal("content-type;host;x-tc-action", d.signed_headers)
  end)

  it("reproduces the older official example (content-type;host)", function()
    local _, d = sign.tc3{
      secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", secret_key = "Gu5t9xGARNpq86cd98joQYCN3*******",
      service = "cvm", host = "cvm.tencentcloudapi.com", timestamp = 1551113065, payload = TC_PAYLOAD,
      content_type = "application/json; charset=utf-8",
    }
    assert.are.equal("5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
      last_line(d.string_to_sign))
    assert.are.equal("2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c", d.signature)
  end)

  it("signs raw UTF-8 payloads and GET queries exactly as openssl computes the chain", function()
    local payload = '{"Name":"未命名 服务器","Tag":"a&b=c/d"}'
    local _, d = sign.tc3{
      secret_id = "AKIDedge", secret_key = "edge-secret", service = "teo", host = "teo.tencentcloudapi.com",
      timestamp = 1700000000, method = "GET", query = "Limit=10&Name=%E6%9C%AA", payload = payload,
    }
    assert.are.equal(openssl_sha256(payload), last_line(d.canonical_request))
    assert.are.equal(1, (d.canonical_request:find("GET\n/\nLimit=10&Name=%E6%9C%AA\n", 1, true)))
    local k = openssl_hmac(hex("TC3edge-secret"), "2023-11-14")
    k = openssl_hmac(k, "teo")
    k = openssl_hmac(k, "tc3_request")
    assert.are.equal(openssl_hmac(k, d.string_to_sign), d.signature)
    assert.are.equal(openssl_sha256(d.canonical_request), last_line(d.string_to_sign))
  end)

  it("hashes an empty payload as the SHA-256 of nothing", function()
    local _, d = sign.tc3{ secret_id = "a", secret_key = "b", service = "cvm", host = "h", timestamp = 0 }
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      last_line(d.canonical_request))
    assert.truthy(d.string_to_sign:find("\n1970-01-01/cvm/tc3_request\n", 1, true))
  end)

  it("rejects bad input with ClientError.InvalidParameter naming the field", function()
    local a, err = sign.tc3{ secret_id = "a", service = "cvm", host = "h", timestamp = 1 }
    assert.is_nil(a)
    assert.are.equal("ClientError.InvalidParameter", err.code)
    assert.truthy(err.message:find("secret_key", 1, true))
    a, err = sign.tc3{ secret_id = "a", secret_key = "b", service = "cvm", host = "h", timestamp = "x" }
    assert.is_nil(a)
    assert.truthy(err.message:find("timestamp", 1, true))
    assert.is_nil((sign.tc3("nope")))
  end)
end)

describe("sign.volc", function()
  local EXAMPLE = {
    access_key = "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
    secret_key = "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==",
    service = "iam", region = "cn-north-1", date = "20201230T081805Z", method = "GET", path = "/",
    query = { Action = "ListUsers", Version = "2018-01-01", Limit = 10, Offset = 0 },
    headers = { Host = "iam.volcengineapi.com",
                ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
                ["X-Content-Sha256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    body = "",
  }

  it("reproduces the official example", function()
    local auth, d = sign.volc(EXAMPLE)
    assert.are.equal("3a4d4dee07c3308a52da01bc12d7a83c3705bfa543f51648f46de880bb2a7447",
      last_line(d.string_to_sign))
    assert.are.equal("28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7", d.signature)
    assert.are.equal("content-type;host;x-content-sha256;x-date", d.signed_headers)
    assert.are.equal("Action=ListUsers&Limit=10&Offset=0&Version=2018-01-01", d.canonical_query)
    assert.are.equal("HMAC-SHA256 Credential=AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE/20201230/" ..
      "cn-north-1/iam/request, SignedHeaders=content-type;host;x-content-sha256;x-date, " ..
      "Signature=28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7", auth)
  end)

  it("encodes reserved and non-ASCII query values per RFC 3986 and sorts by name", function()
    local _, d = sign.volc{
      access_key = "AK", secret_key = "SK", service = "ecs", region = "cn-beijing",
      date = "20261122T000000Z", method = "GET",
      query = { b = "a b&c=d/é~*'()+", a = { "2", "1" }, ["Name.1"] = "x" },
      headers = { Host = "open.volcengineapi.com" },
    }
    assert.are.equal("Name.1=x&a=1&a=2&b=a%20b%26c%3Dd%2F%C3%A9~%2A%27%28%29%2B", d.canonical_query)
    local k = openssl_hmac(hex("SK"), "20261122")
    for _, part in ipairs({ "cn-beijing", "ecs", "request" }) do k = openssl_hmac(k, part) end
    assert.are.equal(openssl_hmac(k, d.string_to_sign), d.signature)
    assert.truthy(d.canonical_request:find("\nhost:open.volcengineapi.com\nx-date:20261122T000000Z\n", 1, true))
  end)

  it("signs a POST body by its SHA-256", function()
    local body = '{"InstanceIDList":["i-1"],"Product":"ECS"}'
    local _, d = sign.volc{ access_key = "AK", secret_key = "SK", service = "billing", region = "cn-beijing",
      date = "20261122T000000Z", method = "POST", query = { Action = "QueryPriceForRenew" },
      headers = { Host = "billing.volcengineapi.com" }, body = body }
    assert.are.equal(openssl_sha256(body), last_line(d.canonical_request))
    assert.are.equal(1, (d.canonical_request:find("POST\n/\nAction=QueryPriceForRenew\n", 1, true)))
  end)

  it("rejects a malformed date", function()
    local a, err = sign.volc{ access_key = "AK", secret_key = "SK", service = "ecs", region = "r",
                               date = "2026-11-22" }
    assert.is_nil(a)
    assert.are.equal("ClientError.InvalidParameter", err.code)
    assert.truthy(err.message:find("YYYYMMDDTHHMMSSZ", 1, true))
  end)
end)

describe("signing key cache", function()
  it("derives a key once per secret, date and service", function()
    local base = { secret_id = "AKIDcache", secret_key = "cache-" .. core.random_hex(8), service = "cvm",
                   host = "cvm.tencentcloudapi.com", timestamp = 1763769600 }
    local before = core.sign_key_derivations()
    for i = 1, 5 do base.payload = tostring(i); assert(sign.tc3(base)) end
    assert.are.equal(before + 1, core.sign_key_derivations())
    base.timestamp = base.timestamp + 86400          -- next day: a new key
    assert(sign.tc3(base))
    base.service = "teo"                             -- another service: a new key
    assert(sign.tc3(base))
    assert.are.equal(before + 3, core.sign_key_derivations())
  end)
end)

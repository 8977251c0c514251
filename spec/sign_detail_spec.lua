-- The gateway fast path (issue 13 item 6): detail is built on first read from a
-- snapshot of the call that made it, and the key cache tells secrets apart by
-- their bytes, not by a digest or the string object.
local core = require("cloudrenew.core")
local sign = require("cloudrenew.sign")

local function tc3(over)
  local t = { secret_id = "AKIDdetail", secret_key = "detail-secret", service = "cvm",
              host = "cvm.tencentcloudapi.com", timestamp = 1763769600, payload = '{"Limit":1}',
              headers = { ["X-TC-Action"] = "DescribeInstances" } }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

local FIELDS = { "authorization", "canonical_request", "string_to_sign", "signed_headers", "signature" }

describe("sign detail", function()
  it("keeps each call's own values, read before or after later calls", function()
    local a1, d1 = sign.tc3(tc3{ payload = "one" })
    local a2, d2 = sign.tc3(tc3{ payload = "two" })
    assert.are_not.equal(a1, a2)
    assert.are.equal(a2, d2.authorization)
    assert.are.equal(a1, d1.authorization)          -- read after the second call
    assert.are.equal(d1.signature, a1:match("Signature=(%x+)$"))
    assert.are.equal(core.sha256_hex("one"), d1.canonical_request:match("(%x+)$"))
    assert.are.equal(core.sha256_hex(d1.canonical_request), d1.string_to_sign:match("(%x+)$"))
    assert.are.equal("content-type;host;x-tc-action", d1.signed_headers)
    assert.is_nil(d1.canonical_query)                -- a TC3 query is sent as given
  end)

  it("is a table whose fields are all there once one is read", function()
    local _, d = sign.tc3(tc3())
    assert.are.equal("table", type(d))
    assert.truthy(d.signature)
    local seen = 0
    for k, v in pairs(d) do
      assert.are.equal("string", type(v), k)
      seen = seen + 1
    end
    assert.are.equal(#FIELDS, seen)
    for _, k in ipairs(FIELDS) do assert.are.equal("string", type(rawget(d, k)), k) end
  end)

  it("keeps a field the caller set before reading, and gives volc its canonical_query", function()
    local _, d = sign.volc{ access_key = "AK", secret_key = "SK", service = "ecs", region = "cn-beijing",
      date = "20261122T000000Z", query = { Action = "DescribeInstances", Version = "2020-04-01" },
      headers = { Host = "open.volcengineapi.com" } }
    d.signature = "mine"
    assert.are.equal("Action=DescribeInstances&Version=2020-04-01", d.canonical_query)
    assert.are.equal("mine", d.signature)
    assert.truthy(d.authorization:find("Signature=%x+$"))
  end)

  if _VERSION ~= "Lua 5.1" then
    it("pairs() on an unread detail lists every field (Lua 5.2+)", function()
      local _, d = sign.tc3(tc3())
      local n = 0
      for _ in pairs(d) do n = n + 1 end
      assert.are.equal(#FIELDS, n)
    end)
  end
end)

describe("signing key cache", function()
  it("tells apart secrets of one length that differ only in the last byte", function()
    local base = "k-" .. core.random_hex(8)
    local before = core.sign_key_derivations()
    local a1 = sign.tc3(tc3{ secret_key = base .. "a" })
    local b1 = sign.tc3(tc3{ secret_key = base .. "b" })
    local a2 = sign.tc3(tc3{ secret_key = base .. "a" })
    assert.are_not.equal(a1, b1)
    assert.are.equal(a1, a2)
    assert.are.equal(before + 2, core.sign_key_derivations())
    -- and the chain is the documented one (checked against the C core's own HMAC)
    local k = core.hmac_sha256_hex("TC3" .. base .. "a", "2025-11-22")
    local function hmac_hex_key(hexkey, msg)
      return core.hmac_sha256_hex((hexkey:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)), msg)
    end
    k = hmac_hex_key(k, "cvm")
    k = hmac_hex_key(k, "tc3_request")
    local _, d = sign.tc3(tc3{ secret_key = base .. "a" })
    assert.are.equal(hmac_hex_key(k, d.string_to_sign), d.signature)
  end)

  it("signs the same with the C core's own entry point (one signer per state)", function()
    local t = tc3()
    local auth = sign.tc3(t)
    local d = assert(core.tc3_sign{ secret_id = t.secret_id, secret_key = t.secret_key, service = "cvm",
      timestamp = t.timestamp, method = "POST", query = "", payload = t.payload,
      headers = { ["Content-Type"] = "application/json", Host = t.host, ["X-TC-Action"] = "DescribeInstances" } })
    assert.are.equal(auth, d.authorization)
  end)
end)

-- sign.tc3 / sign.volc on LuaJIT go through the FFI (sign/ffi.lua) for plain
-- arguments and through the C binding (core.sign_tc3 / core.sign_volc) for
-- the rest. Whatever the path, the answer must be the binding's: the same
-- header, the same detail, the same refusal.
local core = require("cloudrenew.core")
local sign = require("cloudrenew.sign")

local JIT = rawget(_G, "jit") ~= nil

local function plain(d)
  local t = {}
  for k, v in pairs(d) do t[k] = v end
  return t
end

-- fn(t) answers as the binding does for t.
local function agrees(fn, binding, t, label)
  local a1, d1 = fn(t)
  local a2, d2 = binding(t)
  if a2 == nil then
    assert.is_nil(a1, label)
    assert.are.equal(d2.code, d1.code, label)
    assert.are.equal(d2.message, d1.message, label)
  else
    assert.are.equal(a2, a1, label)
    assert.are.same(plain(d2), plain(d1), label)
  end
  return a1
end

local function volc(over)
  local t = {
    access_key = "AKLTexample", secret_key = "c2VjcmV0", service = "ecs", region = "cn-beijing",
    date = "20261122T000000Z", method = "GET", path = "/",
    query = { Action = "RenewInstance", Version = "2020-04-01", InstanceId = "i-abc", Period = "1" },
    headers = { Host = "open.volcengineapi.com", ["Content-Type"] = "application/x-www-form-urlencoded" },
    body = "",
  }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

local function tc3(over)
  local t = {
    secret_id = "AKIDexample", secret_key = "tc3-secret", service = "cvm", host = "cvm.tencentcloudapi.com",
    timestamp = 1763769600, method = "POST", content_type = "application/json", payload = '{"Limit":1}',
    headers = { ["X-TC-Action"] = "DescribeInstances", ["X-TC-Version"] = "2017-03-12" },
  }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

local NONE = {}   -- a field set to nil in a case

local function with(make, over)
  local t = make()
  for k, v in pairs(over) do
    if v == NONE then t[k] = nil else t[k] = v end
  end
  return t
end

local many = {}
for i = 1, 70 do many["Name" .. i] = "value " .. i end
local many_headers = { Host = "open.volcengineapi.com" }
for i = 1, 40 do many_headers["X-Extra-" .. i] = "v" .. i end

-- Plain arguments: on LuaJIT the FFI path signs these itself.
local VOLC_PLAIN = {
  { "the bench request", {} },
  { "defaults for method, path and body", { method = NONE, path = NONE, body = NONE } },
  { "no query", { query = NONE } },
  { "no headers: X-Date only", { headers = NONE } },
  { "an X-Date header of any case is used as given",
    { headers = { Host = "h.example", ["x-DATE"] = "20261122T000000Z" } } },
  { "a POST with a body", { method = "POST", body = '{"InstanceId":"i-1"}' } },
  { "raw query bytes: spaces, UTF-8, a NUL, reserved", { query = { A = "a b", B = "续费", C = "x\0y", D = "&=?/#" } } },
  { "a header value with a tab and outer spaces", { headers = { Host = "h", ["X-Note"] = "  a\tb  " } } },
  { "70 query pairs (the pair array grows)", { query = many } },
  { "41 headers", { headers = many_headers } },
  { "a path", { path = "/v1/items" } },
}
local VOLC_OTHER = {   -- numbers, lists, proxies and refusals: the binding answers
  { "a number value", { query = { Action = "A", Period = 1 } } },
  { "a float and a boolean", { query = { P = 1.5, DryRun = true } } },
  { "a repeated name (a list)", { query = { Id = { "b", "a" }, Action = "A" } } },
  { "a number header value", { headers = { Host = "h", ["X-N"] = 42 } } },
  { "an access_key with a NUL", { access_key = "AK\0LT" } },
  { "an access_key with a space", { access_key = "AK LT" } },
  { "a service with '/'", { service = "ec/s" } },
  { "a region with a space", { region = "cn beijing" } },
  { "a bad date", { date = "2026-11-22" } },
  { "a lower-case method", { method = "get" } },
  { "a path without '/'", { path = "v1" } },
  { "a path with '?'", { path = "/a?b" } },
  { "a header name with a space", { headers = { ["Bad Name"] = "x" } } },
  { "Host and host", { headers = { Host = "a", host = "b" } } },
  { "an empty query name", { query = { [""] = "x" } } },
  { "an empty header name", { headers = { [""] = "x" } } },
  { "a header value with a newline", { headers = { Host = "h", ["X-A"] = "a\nb" } } },
  { "an empty secret", { secret_key = "" } },
  { "a missing secret", { secret_key = NONE } },
  { "a body that is a table", { body = {} } },
  { "headers that are a string", { headers = "Host: x" } },
  { "a query that is a number", { query = 5 } },
  { "a numeric query name", { query = { [1] = "x" } } },
  { "a method that is false", { method = false } },
}
local TC3_PLAIN = {
  { "the bench request", {} },
  { "defaults for method, content type and payload", { method = NONE, content_type = NONE, payload = NONE } },
  { "Host and Content-Type headers of any case are left out",
    { headers = { HOST = "ignored", ["content-TYPE"] = "ignored", ["X-TC-Action"] = "A" } } },
  { "a skipped header may hold anything", { headers = { host = {}, ["X-TC-Action"] = "A" } } },
  { "a GET with a query", { method = "GET", query = "Limit=1&Offset=0", payload = "" } },
  { "a payload with a NUL", { payload = "a\0b" } },
  { "no extra headers", { headers = NONE } },
  { "timestamp 0 and the last one", { timestamp = 0 } },
  { "timestamp 253402300799", { timestamp = 253402300799 } },
  { "a host with a port", { host = "127.0.0.1:8443" } },
}
local TC3_OTHER = {
  { "a fractional timestamp", { timestamp = 1.5 } },
  { "a negative timestamp", { timestamp = -1 } },
  { "a timestamp past 9999", { timestamp = 253402300800 } },
  { "a timestamp string", { timestamp = "1763769600" } },
  { "a query with a space", { query = "a=b c" } },
  { "a content type with a tab", { content_type = "application/json;\tcharset=utf-8" } },
  { "a host with a space", { host = "cvm tencent" } },
  { "a host with '/'", { host = "cvm/x" } },
  { "a secret_id with ','", { secret_id = "AKID,x" } },
  { "a number header value", { headers = { ["X-TC-Action"] = "A", ["X-N"] = 7 } } },
  { "a header name with ':'", { headers = { ["X:A"] = "1" } } },
  { "a missing service", { service = NONE } },
  { "method 'post'", { method = "post" } },
}

describe("sign on every Lua", function()
  it("says which path it takes", function()
    assert.are.equal(JIT, sign.ffi)
    if not JIT then
      assert.are.equal(core.sign_tc3, sign.tc3)
      assert.are.equal(core.sign_volc, sign.volc)
    end
  end)

  for _, c in ipairs(VOLC_PLAIN) do
    it("volc answers as the binding: " .. c[1], function()
      agrees(sign.volc, core.sign_volc, with(volc, c[2]), c[1])
    end)
  end
  for _, c in ipairs(VOLC_OTHER) do
    it("volc answers as the binding: " .. c[1], function()
      agrees(sign.volc, core.sign_volc, with(volc, c[2]), c[1])
    end)
  end
  for _, c in ipairs(TC3_PLAIN) do
    it("tc3 answers as the binding: " .. c[1], function()
      agrees(sign.tc3, core.sign_tc3, with(tc3, c[2]), c[1])
    end)
  end
  for _, c in ipairs(TC3_OTHER) do
    it("tc3 answers as the binding: " .. c[1], function()
      agrees(sign.tc3, core.sign_tc3, with(tc3, c[2]), c[1])
    end)
  end

  it("answers a proxy table (fields behind __index) as the binding", function()
    local proxy = setmetatable({}, { __index = volc() })
    agrees(sign.volc, core.sign_volc, proxy, "volc proxy")
    agrees(sign.tc3, core.sign_tc3, setmetatable({}, { __index = tc3() }), "tc3 proxy")
    agrees(sign.volc, core.sign_volc, volc{ query = setmetatable({}, { __index = { A = "1" } }) }, "query proxy")
  end)

  it("answers non-tables as the binding", function()
    for _, v in ipairs({ "x", 1, true }) do
      agrees(sign.volc, core.sign_volc, v, tostring(v))
      agrees(sign.tc3, core.sign_tc3, v, tostring(v))
    end
    agrees(sign.volc, core.sign_volc, nil, "nil")
  end)

  it("agrees with the binding on 3000 random mixes of good and bad fields", function()
    local seed = os.time()
    math.randomseed(seed)
    local pool = {
      access_key = { "AK", "AK LT", "AK\0", "", 5 }, secret_key = { "s", "", "s\0k", false },
      service = { "ecs", "billing", "e/s", "ECS" }, region = { "cn-beijing", "cn beijing", "" },
      date = { "20261122T000000Z", "20261122T000000", "x" }, method = { "GET", "POST", "get", NONE },
      path = { "/", "/a/b", "a", NONE, "/a b" }, body = { "", "{}", NONE, 1 },
      query = { NONE, { A = "1" }, { A = 1 }, { [""] = "x" }, { L = { "a", "b" } }, { B = "x y", C = "\0" } },
      headers = { NONE, { Host = "h" }, { Host = "a", host = "b" }, { ["X-Date"] = "20261122T000000Z" },
                  { ["Bad Name"] = "v" }, { H = "a\nb" }, { H = "a\tb" } },
    }
    local tpool = {
      secret_id = { "AKID", "AK ID", "AK/ID", "" }, secret_key = { "k", "", 1 },
      service = { "cvm", "c vm", "CVM_1" }, host = { "cvm.example", "h:1", "h h", "" },
      timestamp = { 0, 1763769600, 1.5, -1, "1", 253402300799, 253402300800 },
      method = { "POST", "GET", "Post", NONE }, content_type = { "application/json", "a\tb", NONE, "" },
      payload = { "", "{}", NONE, "a\0" }, query = { NONE, "", "a=1", "a b", "#" },
      headers = { NONE, { ["X-TC-Action"] = "A" }, { host = "x" }, { ["x y"] = "1" }, { A = 1 } },
    }
    local function pick(p)
      local t = {}
      for k, vs in pairs(p) do
        local v = vs[math.random(#vs)]
        if v ~= NONE then t[k] = v end
      end
      return t
    end
    for i = 1, 1500 do
      agrees(sign.volc, core.sign_volc, pick(pool), "volc case " .. i .. " seed " .. seed)
      agrees(sign.tc3, core.sign_tc3, pick(tpool), "tc3 case " .. i .. " seed " .. seed)
    end
  end)
end)

describe("sign through the FFI (LuaJIT)", function()
  if not JIT then
    pending("LuaJIT only: on Lua 5.1-5.4 sign.tc3/.volc are the C binding's functions")
    return
  end
  local fast = require("cloudrenew.sign.ffi")

  it("signs plain arguments itself", function()
    for _, c in ipairs(VOLC_PLAIN) do
      assert.truthy(fast.fast_volc(with(volc, c[2])), c[1])
    end
    for _, c in ipairs(TC3_PLAIN) do
      assert.truthy(fast.fast_tc3(with(tc3, c[2])), c[1])
    end
  end)

  it("leaves numbers, lists, proxies and refusals to the binding", function()
    for _, c in ipairs(VOLC_OTHER) do
      assert.is_false(fast.fast_volc(with(volc, c[2])), c[1])
    end
    for _, c in ipairs(TC3_OTHER) do
      assert.is_false(fast.fast_tc3(with(tc3, c[2])), c[1])
    end
    assert.is_false(fast.fast_volc(setmetatable({}, { __index = volc() })))
  end)

  it("keeps each call's own detail and survives a collection between calls", function()
    local a1, d1 = sign.volc(volc{ query = { Action = "One" } })
    collectgarbage()
    local a2, d2 = sign.volc(volc{ query = { Action = "Two" } })
    assert.are_not.equal(a1, a2)
    assert.are.equal("Action=One", d1.canonical_query)
    assert.are.equal("Action=Two", d2.canonical_query)
    assert.are.equal(a1, d1.authorization)
  end)
end)

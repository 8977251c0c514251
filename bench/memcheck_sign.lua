-- The signing paths for valgrind (run by `make bench-sign`'s memcheck step or
-- by hand): valgrind --leak-check=full lua5.4 bench/memcheck_sign.lua
-- Successes with the detail read and unread, every refusal kind (fast pass,
-- strict re-read, sign.c), numbers and lists, more keys than the cache holds
-- (eviction), a scope too long to cache, and the state's signer freed at exit.
local core = require("cloudrenew.core")
local sign = require("cloudrenew.sign")

local T = { secret_id = "AKIDmem", secret_key = "mem-secret", service = "cvm", host = "cvm.tencentcloudapi.com",
            timestamp = 1763769600, payload = '{"Limit":1}', headers = { ["X-TC-Action"] = "DescribeInstances", N = 5 } }
local V = { access_key = "AKmem", secret_key = "SKmem", service = "ecs", region = "cn-beijing",
            date = "20261122T000000Z", query = { Action = "RenewInstance", Ids = { "a", 2, true }, P = 1.5 },
            headers = { Host = "open.volcengineapi.com" }, body = "x" }
local function with(t, k, v) local o = {} for a, b in pairs(t) do o[a] = b end o[k] = v return o end

for i = 1, 40 do                                   -- 40 secrets: the 32-slot cache evicts
  local a, d = sign.tc3(with(T, "secret_key", "s" .. i))
  assert(a and (i % 2 == 0 or d.canonical_request))
  a, d = sign.volc(with(V, "secret_key", "v" .. i))
  assert(a and (i % 3 == 0 or d.canonical_query))
end
assert(sign.tc3(with(T, "service", ("s"):rep(300))))   -- scope too long to cache
for k, v in pairs({ secret_id = "a b", secret_key = "", service = "c/v", host = "h h", method = "get",
                    content_type = "a\nb", payload = 1, query = "a b", timestamp = 1.5,
                    headers = { ["X A"] = "1" } }) do
  assert(not sign.tc3(with(T, k, v)))
end
assert(not sign.tc3(with(T, "headers", { X = "a\0b" })))
assert(not sign.tc3(with(T, "headers", { A = "1", a = "2" })))   -- duplicate: only sign.c sees it
for k, v in pairs({ date = "2026", path = "/a b", query = { x = { {} } }, region = "r r",
                    headers = { [1] = "x" } }) do
  assert(not sign.volc(with(V, k, v)))
end
assert(core.tc3_sign{ secret_id = "a", secret_key = "b", service = "cvm", timestamp = 1, method = "POST",
  query = "", payload = "", headers = { ["Content-Type"] = "a", Host = "h" } })
assert(not core.volc_sign{ access_key = "a", secret_key = "b", service = "s", region = "r",
  date = "bad", method = "GET", path = "/", query = {}, headers = { Host = "h" } })
collectgarbage()
print("memcheck_sign: ok")

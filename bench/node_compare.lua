-- Sequential calls/s: cloudrenew vs Tencent's official Node SDK
-- (tencentcloud-sdk-nodejs-cvm, bench/node/), the same InquiryPriceRenewInstances
-- against the bundled fake cloud on loopback (plain HTTP, no latency, no
-- pacing), one call at a time. Median of 5 rounds each.
--   make bench-node   (installs the SDK from the npm registry into build/bench-node)
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakemod = require("support.fake")
local json = require("cloudrenew.client.json")

local N = tonumber(arg and arg[1]) or 500   -- the fake slows as its request log grows: keep rounds short
local WARM = 100
local fake = fakemod.start{ tls = false }

local function median(t)
  table.sort(t)
  return t[math.ceil(#t / 2)]
end

local function node_round()
  local p = assert(io.popen(string.format("NODE_PATH=build/bench-node/node_modules node bench/node/inquire.js %s %d %d",
    fake.url, N, WARM)))
  local out = p:read("*a")
  p:close()
  local r = json.decode(out:match("{.*}") or "null")
  assert(type(r) == "table", "the Node SDK run failed: " .. out)
  return r.per_second, r.cpu_us_per_call
end

local tc = assert(cloudrenew.tencent(fake:tencent_opts{ timeout = 30, rate_limits = false }))
local req = { InstanceIds = { "ins-nodebnch" }, InstanceChargePrepaid = { Period = 1 } }
local function lua_round()
  for _ = 1, WARM do assert(tc.cvm:InquiryPriceRenewInstances(req)) end
  local t0, c0 = core.monotonic(), os.clock()
  for _ = 1, N do
    local r = assert(tc.cvm:InquiryPriceRenewInstances(req))
    assert(r.Price, "no Price in the answer")
  end
  return N / (core.monotonic() - t0), (os.clock() - c0) * 1e6 / N
end

local lua_rates, node_rates, lua_cpu, node_cpu = {}, {}, {}, {}
-- the fake keeps every request it saw: reset it before each round so both
-- clients meet the same fake
for _ = 1, 5 do
  fake:reset()
  node_rates[#node_rates + 1], node_cpu[#node_cpu + 1] = node_round()
  fake:reset()
  lua_rates[#lua_rates + 1], lua_cpu[#lua_cpu + 1] = lua_round()
end
local l, n = median(lua_rates), median(node_rates)
local p = io.popen("node --version")
local nv = p:read("*l")
p:close()
print(string.format("%d sequential InquiryPriceRenewInstances, median of 5 (fake cloud, loopback, plain HTTP)", N))
local lc, nc = median(lua_cpu), median(node_cpu)
print(string.format("cloudrenew (%s): %8.0f calls/s, client CPU %5.0f us a call", _VERSION, l, lc))
print(string.format("Node SDK (node %s, tencentcloud-sdk-nodejs-cvm 4.1.316): %8.0f calls/s, client CPU %5.0f us a call",
  nv, n, nc))
print(string.format("ratio: %.2fx calls/s (the fake's own time is in both), %.2fx client CPU a call", l / n, nc / lc))
tc:close()
fake:stop()

-- Sequential calls/s: cloudrenew vs Tencent's official Node SDK
-- (tencentcloud-sdk-nodejs-cvm, bench/node/), the same InquiryPriceRenewInstances
-- against the bundled fake cloud on loopback (plain HTTP, no latency, no
-- pacing), one call at a time. Median of 3 rounds each.
--   make bench-node   (installs the SDK from the npm registry into build/bench-node)
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakemod = require("support.fake")
local json = require("cloudrenew.client.json")

local N = tonumber(arg and arg[1]) or 2000
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
  return r.per_second
end

local tc = assert(cloudrenew.tencent(fake:tencent_opts{ timeout = 30, rate_limits = false }))
local req = { InstanceIds = { "ins-nodebnch" }, InstanceChargePrepaid = { Period = 1 } }
local function lua_round()
  for _ = 1, WARM do assert(tc.cvm:InquiryPriceRenewInstances(req)) end
  local t0 = core.monotonic()
  for _ = 1, N do
    local r = assert(tc.cvm:InquiryPriceRenewInstances(req))
    assert(r.Price, "no Price in the answer")
  end
  return N / (core.monotonic() - t0)
end

local lua_rates, node_rates = {}, {}
for _ = 1, 3 do
  node_rates[#node_rates + 1] = node_round()
  lua_rates[#lua_rates + 1] = lua_round()
end
local l, n = median(lua_rates), median(node_rates)
local p = io.popen("node --version")
local nv = p:read("*l")
p:close()
print(string.format("%d sequential InquiryPriceRenewInstances, median of 3 (fake cloud, loopback, plain HTTP)", N))
print(string.format("cloudrenew (%s): %8.0f calls/s", _VERSION, l))
print(string.format("Node SDK (node %s, tencentcloud-sdk-nodejs-cvm 4.1.316): %8.0f calls/s", nv, n))
print(string.format("ratio: %.2fx", l / n))
tc:close()
fake:stop()

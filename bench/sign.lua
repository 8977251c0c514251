-- `make bench-sign`: the public signers against a raw C HMAC chain, in one process.
-- bench/sign_raw.c (module `signraw`, built by the Makefile target) signs the
-- same request as tight C with a fixed request shape; this script times it and
-- cloudrenew.sign.tc3 / .volc in interleaved rounds (so load from other
-- processes hits both alike), keeps each side's fastest round and prints
--   ratio = (sign rate) / (raw C rate)      target: >= 0.5 (exit 1 on a miss)
-- Usage: lua bench/sign.lua [signatures per round (20000)] [rounds (7)]
local core = require("cloudrenew.core")
local sign = require("cloudrenew.sign")
local raw = require("signraw")

local N = tonumber(arg and arg[1]) or 20000
local ROUNDS = tonumber(arg and arg[2]) or 7
local TARGET = 0.5

-- A 300-byte JSON payload, as in DESIGN.md's measurement.
local PAYLOAD = '{"InstanceIds":["ins-' .. ("0123456789abcdef"):rep(20):sub(1, 261) .. '"],"DryRun":false}'
assert(#PAYLOAD == 300, #PAYLOAD)

local TC3 = {
  secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", secret_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
  service = "cvm", host = "cvm.tencentcloudapi.com", timestamp = 1763769600, method = "POST",
  content_type = "application/json", payload = PAYLOAD,
  headers = { ["X-TC-Action"] = "DescribeInstances" },
}
local TC3_RAW = {
  secret_id = TC3.secret_id, secret_key = TC3.secret_key, service = TC3.service, host = TC3.host,
  timestamp = TC3.timestamp, content_type = TC3.content_type, action = "DescribeInstances",
  payload = PAYLOAD,
}

local BODY = ""
local XSHA = core.sha256_hex(BODY)
local VOLC = {
  access_key = "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
  secret_key = "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==",
  service = "ecs", region = "cn-beijing", date = "20261122T000000Z", method = "GET", path = "/",
  query = { Action = "RenewInstance", Version = "2020-04-01", InstanceId = "i-ybvz8b1nbzeh0ds3ahjc",
            Period = "1" },
  headers = { Host = "open.volcengineapi.com",
              ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
              ["X-Content-Sha256"] = XSHA },
  body = BODY,
}
local VOLC_RAW = {
  access_key = VOLC.access_key, secret_key = VOLC.secret_key, service = VOLC.service,
  region = VOLC.region, date = VOLC.date, host = VOLC.headers.Host,
  content_type = VOLC.headers["Content-Type"], content_sha256 = XSHA, body = BODY,
  query = { { "Action", "RenewInstance" }, { "InstanceId", "i-ybvz8b1nbzeh0ds3ahjc" },
            { "Period", "1" }, { "Version", "2020-04-01" } },
}

-- Both sides must produce the same header, or they did not do the same work.
local function same(name, fn, t, rawfn, rt)
  local auth = assert(fn(t))
  local _, rauth = rawfn(rt, 1)
  if auth ~= rauth then
    io.stderr:write(name, ": the raw chain and cloudrenew disagree\n  ", rauth, "\n  ", auth, "\n")
    os.exit(2)
  end
end
same("tc3", sign.tc3, TC3, raw.tc3, TC3_RAW)
same("volc", sign.volc, VOLC, raw.volc, VOLC_RAW)

local function loop(fn, t, n)
  local t0 = core.monotonic()
  for _ = 1, n do
    local auth = fn(t)
    if not auth then error("signing failed") end
  end
  return core.monotonic() - t0
end

-- The same through a fresh argument table per call, as gateway code often writes it.
local function loop_fresh_tc3(n)
  local t0, s = core.monotonic(), TC3
  for _ = 1, n do
    local auth = sign.tc3{
      secret_id = s.secret_id, secret_key = s.secret_key, service = s.service, host = s.host,
      timestamp = s.timestamp, method = "POST", content_type = s.content_type, payload = s.payload,
      headers = { ["X-TC-Action"] = "DescribeInstances" },
    }
    if not auth then error("signing failed") end
  end
  return core.monotonic() - t0
end

local function loop_fresh_volc(n)
  local t0, s = core.monotonic(), VOLC
  for _ = 1, n do
    local auth = sign.volc{
      access_key = s.access_key, secret_key = s.secret_key, service = s.service, region = s.region,
      date = s.date, method = "GET", path = "/",
      query = { Action = "RenewInstance", Version = "2020-04-01", InstanceId = "i-ybvz8b1nbzeh0ds3ahjc",
                Period = "1" },
      headers = { Host = "open.volcengineapi.com",
                  ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
                  ["X-Content-Sha256"] = XSHA },
      body = BODY,
    }
    if not auth then error("signing failed") end
  end
  return core.monotonic() - t0
end

local best = {}
local function keep(k, t) if not best[k] or t < best[k] then best[k] = t end end

loop(sign.tc3, TC3, N / 10); loop(sign.volc, VOLC, N / 10)     -- warm up (and let LuaJIT trace)
for _ = 1, ROUNDS do
  keep("tc3 raw", (raw.tc3(TC3_RAW, N)))
  keep("tc3", loop(sign.tc3, TC3, N))
  keep("tc3 fresh", loop_fresh_tc3(N))
  keep("volc raw", (raw.volc(VOLC_RAW, N)))
  keep("volc", loop(sign.volc, VOLC, N))
  keep("volc fresh", loop_fresh_volc(N))
  if sign.ffi then
    keep("tc3 binding", loop(core.sign_tc3, TC3, N))
    keep("volc binding", loop(core.sign_volc, VOLC, N))
  end
end

local function us(k) return best[k] / N * 1e6 end
print(string.format("%s, %s, %d signatures x %d rounds (fastest round kept); sign.* via %s",
  jit and jit.version or _VERSION, core.curl_version and "cloudrenew " .. core.version or "", N, ROUNDS,
  sign.ffi and "the FFI" or "the C binding"))
print(string.format("%-6s %12s %12s %8s %18s %8s  %s", "signer", "raw C us", "sign us", "ratio",
  "fresh table us", "ratio", "result"))
local miss = false
for _, c in ipairs({ "tc3", "volc" }) do
  local r, rf = us(c .. " raw"), us(c)
  local ratio, fresh = r / rf, r / us(c .. " fresh")
  local ok = ratio >= TARGET
  miss = miss or not ok
  print(string.format("%-6s %12.3f %12.3f %8.3f %18.3f %8.3f  %s", c, r, rf, ratio, us(c .. " fresh"), fresh,
    ok and "PASS" or "MISS (target " .. TARGET .. ")"))
end
if sign.ffi then
  for _, c in ipairs({ "tc3", "volc" }) do
    print(string.format("%-6s %12s %12.3f %8.3f  (the C binding, for information)", c, "",
      us(c .. " binding"), us(c .. " raw") / us(c .. " binding")))
  end
end
os.exit(miss and 1 or 0)

-- Many hosts (issue 14): what pacing through Redis costs per request, and what
-- 4 processes sharing one credential send together against the limit.
--   make bench-redis            (or: lua5.4 bench/redis_pacing.lua [N] [PER_HOST])
-- Starts its own redis-server (own port, no persistence) and the fake cloud.
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")
local pacer_redis = require("cloudrenew.pacing.redis")
local redis = require("cloudrenew.redis")
local redis_server = require("support.redis_server")

local N, PER_HOST = tonumber(arg[1]) or 20000, tonumber(arg[2]) or 50

local rs = redis_server.start()
local fake = fakecloud.start{ tls = false }

-- 1. Per-request overhead of a reservation: rate 1e9 so nothing ever waits.
local function per_call(l, n)
  local t0 = core.monotonic()
  for i = 1, n do assert(l:reserve("AKIDbench|cvm|RenewInstances", 1e9, 600, "renewal")) end
  return (core.monotonic() - t0) / n * 1e6
end
local file = os.tmpname()
local limiters = {
  { "host-local (process table, C)", core.limiter() },
  { "host-wide file (rate_limit_file, C)", assert(core.limiter(file)) },
  { "Redis (EVALSHA over loopback TCP)", pacer_redis.limiter(assert(redis.check(rs.url)), core.limiter()) },
}
print(string.format("per-request pacing overhead, %d reservations each (%s):", N, _VERSION))
for _, l in ipairs(limiters) do
  per_call(l[2], math.min(N, 1000))     -- warm up (connect, SCRIPT LOAD)
  print(string.format("  %-40s %8.2f us", l[1], per_call(l[2], N)))
end
os.remove(file)

-- 2. 4 processes, one credential, teo RenewPlan (documented 20/s).
local busiest = fakecloud.busiest
local function fleet(redis_url)
  fake:reset()
  rs:command("FLUSHALL")
  local out, cmds = os.tmpname(), {}
  for i = 1, 4 do
    cmds[i] = "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 spec/support/redis_fleet_child.lua " .. fake.url .. " " .. redis_url .. " "
      .. string.char(96 + i) .. " " .. PER_HOST .. " > " .. out .. "." .. i
  end
  assert(os.execute("(" .. table.concat(cmds, " & ") .. " & wait)"))
  local sends, ok = {}, 0
  for i = 1, 4 do
    local text = fakecloud.read_file(out .. "." .. i) or ""
    if text:find("^ok ") then ok = ok + 1 end
    for t in (text:match("\nsends ([^\n]*)") or ""):gmatch("%S+") do sends[#sends + 1] = tonumber(t) end
    os.remove(out .. "." .. i)
  end
  os.remove(out)
  local at = {}
  for _, r in ipairs(fake:requests_for("RenewPlan")) do at[#at + 1] = r.time end
  table.sort(sends)
  local span = sends[#sends] - sends[1]
  return { ok = ok, n = #sends, rate = (#sends - 1) / span, busiest = busiest(sends), at_fake = busiest(at),
           throttled = fake:state().throttled }
end
print(string.format("4 processes x %d RenewPlan, one credential, documented limit 20/s (paced at 19/s):", PER_HOST))
for _, c in ipairs{ { "Redis pacing", rs.url }, { "host-local pacing only", "-" } } do
  local r = fleet(c[2])
  print(string.format("  %-24s %d/4 hosts ok, %d sent, combined %.2f/s, busiest second %d as sent, %d at the fake, %d throttled",
    c[1], r.ok, r.n, r.rate, r.busiest, r.at_fake, r.throttled))
end
fake:stop()
rs:stop()

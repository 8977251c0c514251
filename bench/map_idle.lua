-- cloudrenew.map must never idle while work is waiting: against the fake with no
-- latency and no pacing (rate_limits = false), ten rounds of N inquiries at
-- concurrency 16 should take about the same time each. A scheduler that polls
-- libcurl after every transfer already finished sits out its whole poll timeout
-- (1 s) now and then, which shows up as rounds several times the median.
--   make bench-idle            (or: lua5.4 bench/map_idle.lua [N] [ROUNDS])
-- Exit status: 0 when the slowest round is within 2x of the median, 1 otherwise.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakemod = require("support.fake")

local N = tonumber(arg and arg[1]) or 200
local ROUNDS = tonumber(arg and arg[2]) or 10
local CONCURRENCY = 16

local fake = fakemod.start{ tls = false }
local tc = assert(cloudrenew.tencent(fake:tencent_opts{ timeout = 30, rate_limits = false }))

local ids = {}
for i = 1, N do ids[i] = string.format("ins-q%07d", i) end
local function inquire(id)
  return tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { id }, InstanceChargePrepaid = { Period = 1 } }
end

print(string.format("cloudrenew %s, %s; %d rounds of %d InquiryPriceRenewInstances, concurrency %d, "
  .. "no latency, no pacing", cloudrenew.VERSION, _VERSION, ROUNDS, N, CONCURRENCY))
local times, errors = {}, 0
for r = 1, ROUNDS do
  fake:reset()
  local t0 = core.monotonic()
  local results, errs = cloudrenew.map(ids, inquire, { concurrency = CONCURRENCY })
  times[r] = core.monotonic() - t0
  local bad = 0
  for i = 1, N do if errs[i] or not results[i] then bad = bad + 1 end end
  errors = errors + bad
  print(string.format("round %2d  %7.3f s  %6.0f req/s  errors %d", r, times[r], N / times[r], bad))
end

local sorted = {}
for i, t in ipairs(times) do sorted[i] = t end
table.sort(sorted)
local median = (sorted[math.floor((ROUNDS + 1) / 2)] + sorted[math.floor(ROUNDS / 2) + 1]) / 2
local slowest = sorted[ROUNDS]
local ok = slowest <= 2 * median and errors == 0
print(string.format("median %.3f s, fastest %.3f s, slowest %.3f s (%.2fx the median), errors %d: %s",
  median, sorted[1], slowest, slowest / median, errors, ok and "PASS" or "MISS"))
tc:close()
fake:stop()
os.exit(ok and 0 or 1)

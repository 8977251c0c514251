-- CPU and memory per request, for callgrind (bench/cpu.sh, `make bench-cpu`):
--   lua5.4 bench/cpu.lua inquiry N   -- W warm-up + N cvm InquiryPriceRenewInstances, one id each
--   lua5.4 bench/cpu.lua renewal N   -- W warm-up + N cvm RenewInstances, one id each
--   lua5.4 bench/cpu.lua memory N    -- bytes per resource of a workflow report (N resources)
-- Sequential calls against the bundled fake cloud (plain HTTP, no latency, no
-- pacing). bench/cpu.sh runs each mode twice under callgrind with two values of N:
-- the difference of the two instruction totals over the difference of N is the
-- cost of one call (start-up, the fake's start and the warm-up cancel out).
local cloudrenew = require("cloudrenew")
local fakemod = require("support.fake")

local mode = arg and arg[1] or "inquiry"
local N = tonumber(arg and arg[2]) or 100
local WARM = 20

local fake = fakemod.start{ tls = false }
local tc = assert(cloudrenew.tencent(fake:tencent_opts{ timeout = 30, rate_limits = false }))

local function id(tag, i) return string.format("ins-%s%07d", tag, i) end

if mode == "inquiry" then
  local function one(i)
    local res, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { id("q", i) },
      InstanceChargePrepaid = { Period = 1 } }
    assert(res, err and tostring(err))
  end
  for i = 1, WARM do one(i) end
  for i = 1, N do one(WARM + i) end
elseif mode == "renewal" then
  local function one(i)
    local res, err = tc.cvm:RenewInstances{ InstanceIds = { id("r", i) },
      InstanceChargePrepaid = { Period = 1 } }
    assert(res, err and tostring(err))
  end
  for i = 1, WARM do one(i) end
  for i = 1, N do one(WARM + i) end
elseif mode == "memory" then
  -- A workflow report held by the caller: bytes per resource, after a full
  -- collection, for a dry run (priced, decided) and an applied run (renewed).
  local workflow = require("cloudrenew.workflow")
  local ids = {}
  for i = 1, N do ids[i] = id("m", i) end
  local function measure(dry)
    collectgarbage("collect"); collectgarbage("collect")
    local before = collectgarbage("count")
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = ids,
      period = 1, budget = 1e9, dry_run = dry, confirm = false })
    collectgarbage("collect"); collectgarbage("collect")
    local after = collectgarbage("count")
    assert(#report.items == N)
    for _, it in ipairs(report.items) do assert(it.outcome == (dry and "planned" or "renewed"), it.outcome) end
    return (after - before) * 1024 / N
  end
  local dry = measure(true)
  fake:reset()
  local applied = measure(false)
  print(string.format("%s: report bytes per resource (%d resources): dry run %.0f, applied %.0f",
    rawget(_G, "jit") and jit.version or _VERSION, N, dry, applied))
else
  error("mode: inquiry | renewal | memory")
end
tc:close()
fake:stop()

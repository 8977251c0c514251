-- Fleet throughput against the bundled fake cloud with 100 ms of latency and
-- the documented per-action limits enforced over a sliding second. Each job's
-- bound is requests / limit; the target is elapsed within 10% of it with zero
-- errors, zero throttles reaching the caller and every renewal executed once.
--   make bench              (or: lua5.4 bench/throughput.lua [--quick])
-- Exit status: 0 when every job meets the target, 1 otherwise.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakemod = require("support.fake")

local quick = arg and arg[1] == "--quick"
local RENEWALS = quick and 40 or 200
local INQUIRIES = quick and 200 or 2000
local CONCURRENCY = 16
local LATENCY = 0.1

local fake = fakemod.start{ tls = false, latency = LATENCY, limits = true }

local ids = fakemod.ids

local tc = assert(cloudrenew.tencent(fake:tencent_opts{ timeout = 30 }))
local volc = assert(cloudrenew.volcengine(fake:volc_opts{ timeout = 30 }))

local jobs = {
  { name = "cvm RenewInstances", action = "RenewInstances", limit = 10, renew = true,
    ids = ids("ins-", RENEWALS, 8, "r"),
    call = function(id) return tc.cvm:RenewInstances{
      InstanceIds = { id }, InstanceChargePrepaid = { Period = 1 } } end },
  { name = "teo RenewPlan", action = "RenewPlan", limit = 20, renew = true,
    ids = ids("edgeone-", RENEWALS, 12, "b"),
    call = function(id) return tc.teo:RenewPlan{ PlanId = id, Period = 1 } end },
  { name = "yunjing RenewProVersion", action = "RenewProVersion", limit = 20, renew = true,
    ids = ids("quuid-", RENEWALS, 10, "b"),
    call = function(id) return tc.yunjing:RenewProVersion{
      Quuid = id, ChargePrepaid = { Period = 1 } } end },
  { name = "ecs RenewInstance", action = "RenewInstance", limit = 10, renew = true,
    ids = ids("i-", RENEWALS, 20, "b"),
    call = function(id) return volc.ecs:RenewInstance{ InstanceId = id, Period = 1, PeriodUnit = "Month" } end },
  { name = "cvm InquiryPriceRenewInstances", action = "InquiryPriceRenewInstances", limit = 10,
    ids = ids("ins-", INQUIRIES, 8, "q"),
    call = function(id) return tc.cvm:InquiryPriceRenewInstances{
      InstanceIds = { id }, InstanceChargePrepaid = { Period = 1 } } end },
}

print(string.format("cloudrenew %s, %s, %s CPUs; fake cloud latency %.0f ms, limits on; concurrency %d%s",
  cloudrenew.VERSION, _VERSION, fakemod.machine(), LATENCY * 1000, CONCURRENCY, quick and " (quick)" or ""))
print(string.format("%-32s %8s %6s %9s %9s %6s %7s %10s %9s  %s",
  "job", "requests", "limit", "bound s", "elapsed s", "ratio", "errors", "throttled", "renewals", "result"))

local failed = false
for _, job in ipairs(jobs) do
  fake:reset()
  fake:config{ latency = LATENCY, limits = true }
  local t0 = core.monotonic()
  local results, errs = cloudrenew.map(job.ids, job.call, { concurrency = CONCURRENCY })
  local elapsed = core.monotonic() - t0
  local errors, first = 0, nil
  for i = 1, #job.ids do
    if errs[i] or not results[i] then
      errors = errors + 1
      first = first or tostring(errs[i])
    end
  end
  local state = fake:state()
  local throttled = (state.throttled_by_action or {})[job.action] or 0
  local renew_ok, renew_note = true, "-"
  if job.renew then
    local counts = fake:renewals()
    local once = 0
    for _, id in ipairs(job.ids) do
      if counts[id] == 1 then once = once + 1 end
    end
    renew_ok = once == #job.ids and state.request_count == #job.ids
    renew_note = once .. " x1"
  end
  local bound = #job.ids / job.limit
  local ratio = elapsed / bound
  local ok = errors == 0 and renew_ok and ratio <= 1.10
  failed = failed or not ok
  print(string.format("%-32s %8d %6d %9.1f %9.2f %6.3f %7d %10d %9s  %s",
    job.name, #job.ids, job.limit, bound, elapsed, ratio, errors, throttled, renew_note,
    ok and "PASS" or "MISS"))
  if first then print("  first error: " .. first) end
end

tc:close()
volc:close()
fake:stop()
os.exit(failed and 1 or 0)

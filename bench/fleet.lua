-- Workflow fleet runs at the cloud's speed (issue 25): renew_if_under_budget
-- against the bundled fake with 100 ms latency and the documented per-action
-- limits enforced, compared with the bound the slowest action's rate sets
-- (requests it needs / its documented rate). Confirmation on unless a job says
-- otherwise; every run counts at the fake that each resource was renewed once.
--   make bench-fleet                 (lua5.4 bench/fleet.lua [--quick] [job ...])
-- Exit status: 0 when every job meets its target, 1 otherwise.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakemod = require("support.fake")
local workflow = require("cloudrenew.workflow")

local args, only = {}, {}
for _, a in ipairs(arg or {}) do
  if a == "--quick" then args.quick = true else only[a] = true end
end
local N = args.quick and 40 or 200
local BIG = args.quick and 200 or 1000
local LATENCY = 0.1
local HEADROOM = 0.95   -- the pacer's (cloudrenew.pacing.HEADROOM)

local fake = fakemod.start{ tls = false, latency = LATENCY, limits = true }
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local ids = fakemod.ids

local function tc(extra)
  local o = fake:tencent_opts{ timeout = 30 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(cloudrenew.tencent(o))
end
local function volc(extra)
  local o = fake:volc_opts{ timeout = 30 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(cloudrenew.volcengine(o))
end

-- Each job: its resources, the run, and the bound: max over the actions it
-- must send of requests / documented rate (tail = what no schedule can beat:
-- the last renewal's settling time at the fake).
local jobs = {
  { name = "ecs, plain map (reference)", product = "ecs", n = N, bound = N / 10,
    run = function(c, list)
      local _, errs = cloudrenew.map(list, function(id)
        return c.ecs:RenewInstance{ InstanceId = id, Period = 1, PeriodUnit = "Month" }
      end, { concurrency = 8 })
      local e = 0
      for i = 1, #list do if errs[i] then e = e + 1 end end
      return { totals = { renewed = #list - e, failed = e, confirmed = 0 } }
    end },
  { name = "ecs, workflow, confirm on", product = "ecs", n = N, bound = N / 10 },
  { name = "ecs, workflow, confirm = false", product = "ecs", n = N, bound = N / 10, confirm = false },
  { name = "cvm, settles at once", product = "cvm", n = N, bound = N / 10 },
  { name = "cvm, settles in 3 s", product = "cvm", n = N, bound = N / 10, operation_seconds = 3, tail = 3 },
  -- The audit log under load: 100/s renewals (limits raised at the fake and in
  -- the pacer alike), so its writes are a large share of the run if serialised.
  { name = "cvm x" .. BIG .. " at 100/s (audit log)", product = "cvm", n = BIG, bound = BIG / 100, fast = true },
}

print(string.format("cloudrenew %s, %s, %s; fake latency %.0f ms, documented limits; concurrency 8 (default)%s",
  cloudrenew.VERSION, _VERSION, fakemod.machine(), LATENCY * 1000, args.quick and " (quick)" or ""))
print(string.format("%-34s %5s %7s %9s %6s %6s %8s %8s %9s %6s  %s", "job", "n", "bound s", "elapsed s",
  "x bnd", "target", "renewed", "confirm", "audit s", "audit%", "result"))

local failed = false
local ran = 0
for j, job in ipairs(jobs) do
  if next(only) == nil or only[tostring(j)] then
    ran = ran + 1
    fake:reset()
    local overrides = job.fast and { RenewInstances = 100, InquiryPriceRenewInstances = 100, DescribeInstances = 200 } or nil
    fake:config{ latency = LATENCY, limits = true, limit_overrides = overrides }
    local prefix = job.product == "cvm" and "ins-" or "i-"
    local list = ids(prefix, job.n, job.product == "cvm" and 8 or 20, job.product == "cvm" and "b" or "bbbb")
    if job.operation_seconds then fake:resources(nil, { operation_seconds = job.operation_seconds }) end
    local c
    if job.product == "cvm" then
      c = tc(job.fast and { rate_limits = overrides } or nil)
    else
      c = volc()
    end
    local log = dir .. "/audit-" .. j .. ".log"
    local t0, c0 = core.monotonic(), os.clock()
    local r, err
    if job.run then
      r = job.run(c, list)
    else
      r, err = workflow.renew_if_under_budget{ client = c, product = job.product, resources = list, period = 1,
        audit_log = log, confirm = job.confirm }
    end
    local elapsed, cpu = core.monotonic() - t0, os.clock() - c0
    c:close()
    local counts = fake:renewals()
    local once, twice = 0, 0
    for _, id in ipairs(list) do
      if counts[id] == 1 then once = once + 1 elseif (counts[id] or 0) > 1 then twice = twice + 1 end
    end
    local bound = job.bound + (job.tail or 0)
    local ratio = elapsed / bound
    -- the 1k job's target is the audit log's share (< 10 %); its ratio is shown
    local target = job.run and 1.10 or (job.fast and math.huge or 1.15)
    local t = r and r.totals or {}
    local aud = r and r.audit and r.audit.writes
    local confirmed_ok = job.run or job.confirm == false or (t.confirmed == job.n)
    local audit_ok = not job.fast or (aud and aud.seconds / elapsed < 0.10)
    local ok = r and once == job.n and twice == 0 and ratio <= target and confirmed_ok and audit_ok
    failed = failed or not ok
    print(string.format("%-34s %5d %7.1f %9.2f %6.3f %6s %8s %8s %9s %6s  %s", job.name, job.n, bound, elapsed,
      ratio, target == math.huge and "-" or string.format("%.2f", target), once .. (twice > 0 and ("+" .. twice .. "x2") or ""), job.run and "-" or tostring(t.confirmed),
      aud and string.format("%.2f", aud.seconds) or "-",
      aud and string.format("%.1f", 100 * aud.seconds / elapsed) or "-", ok and "PASS" or "MISS"))
    if err then print("  error: " .. tostring(err)) end
    print(string.format("  client CPU %.2f s (%.1f ms a resource)", cpu, 1000 * cpu / job.n))
    if aud then
      print(string.format("  audit log: %d lines in %d writes (one fsync each), longest %.1f ms",
        aud.lines, aud.count, aud.longest * 1000))
    end
    if job.tail then
      print(string.format("  bound = %d renewals / 10/s + %g s for the last one to settle at the fake;"
        .. " without the tail: x%.3f", job.n, job.tail, elapsed / job.bound))
    end
  end
end
print(string.format("pacing headroom %.2f: the floor of every ratio is 1/%.2f = %.3f", HEADROOM, HEADROOM, 1 / HEADROOM))
os.execute("rm -rf " .. dir)
fake:stop()
os.exit((failed or ran == 0) and 1 or 0)

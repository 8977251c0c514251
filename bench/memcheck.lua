-- Exercise every C path once (signing, blocking and concurrent HTTP, failures,
-- TLS, pacing, a client closed with transfers in flight) for valgrind:
--   valgrind --leak-check=full lua5.4 bench/memcheck.lua
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fake = require("support.fake").start()

local tc = assert(cloudrenew.tencent(fake:tencent_opts()))
local volc = assert(cloudrenew.volcengine(fake:volc_opts()))
local q = { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }
assert(tc.cvm:InquiryPriceRenewInstances(q))
assert(tc.cvm:RenewInstances(q))
assert(volc.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" })
assert(volc.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = 1, InstanceIDList = { "i-abc" } })
fake:faults{ { action = "RenewInstances", kind = "drop_after" }, { action = "RenewInstances", kind = "huge" },
             { action = "RenewInstances", kind = "truncated" } }
for _ = 1, 3 do assert(not tc.cvm:RenewInstances(q)) end
local tls = assert(cloudrenew.tencent(fake:tls_opts(fake:tencent_opts())))
assert(tls.cvm:InquiryPriceRenewInstances(q))
local o = fake:tls_opts(fake:tencent_opts()); o.ca_file = fake.certs.wrong_ca
local bad = assert(cloudrenew.tencent(o))
assert(not bad.cvm:InquiryPriceRenewInstances(q))
local ids = {}
for i = 1, 12 do ids[i] = string.format("edgeone-%012d", i) end
local res, errs = cloudrenew.map(ids, function(id) return tc.teo:RenewPlan{ PlanId = id, Period = 1 } end,
                                 { concurrency = 6 })
for i = 1, #ids do assert(res[i] and not errs[i]) end
-- a client closed while its transfer is in flight inside a multi
local h = assert(core.http{ timeout = 5 })
local m = core.multi()
m:add(h, { method = "GET", url = fake.url .. "/__fake/state", headers = {} })
h:close()
while m:active() > 0 do m:run(0.05) end
m:close()
local lpath = os.tmpname()
local lim = assert(core.limiter(lpath))
assert(lim:reserve("k", 10))
assert(select(2, lim:reserve("k", 0.001, 0)) == "late")   -- too far: nothing reserved
assert(lim:pause("k", 1e308))                              -- clamped, not cast blindly
io.open(lpath, "w"):close()                                -- truncated under the mapping
assert(select(2, lim:reserve("k", 10)) == "damaged")
lim:close()
os.remove(lpath)
-- the audit log's C paths: durable appends, the run lock (held, refused, released, collected),
-- a torn tail refused and cut off
local log = os.tmpname()
os.remove(log)
local report = assert(require("cloudrenew.workflow").renew_if_under_budget{ client = tc, product = "cvm",
  resources = { "ins-2zvpghhc", "ins-7xk3m9qa" }, period = 1, audit_log = log })
assert(report.totals.renewed == 2)
local held = assert(core.lock(log))
assert(not core.lock(log))
held:release()
core.lock(log)          -- left to __gc
collectgarbage()
assert(not core.append_durable("/nonexistent-dir/x", "x\n"))
-- a torn tail: appending onto it refused, a stale size refused, then cut off
local torn = os.tmpname()
local tf = assert(io.open(torn, "wb")); tf:write('{"a":1}\n{"b"'); tf:close()
assert(not core.append_durable(torn, "x\n"))
assert(not core.truncate_tail(torn, 3, 1))
assert(core.truncate_tail(torn, 12, 8))
assert(core.append_durable(torn, "x\n"))
assert(not core.truncate_tail("/nonexistent-dir/x", 1, 0))
os.remove(torn)
os.remove(log)
tc:close(); volc:close(); tls:close(); bad:close()
fake:stop()
print("memcheck script done")

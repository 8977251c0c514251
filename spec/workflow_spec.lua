-- cloudrenew.workflow.renew_if_under_budget against the fake cloud: every
-- decision path, each product, exact money, the audit log and resuming after a
-- crash, and faults in the middle of a run.
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local workflow = require("cloudrenew.workflow")
local fixture = require("support.fixture")

local FAST = { base_delay = 0.01, max_delay = 0.05 }

local function read_lines(path)
  local out = {}
  local f = io.open(path, "rb")
  if not f then return out end
  for line in f:lines() do out[#out + 1] = line end
  f:close()
  return out
end

local entries, by_id, count = fixture.entries, fixture.by_id, fixture.count

describe("workflow.renew_if_under_budget", function()
  local fake, tc, volc, log
  local fx = fixture.new()

  setup(function() fake, tc, volc = fx.fake, fx:tencent{ retry = FAST }, fx:volcengine{ retry = FAST } end)
  before_each(function() log = fx:log() end)

  describe("decisions", function()
    -- CVM inquiries answer 80% of the monthly price set at the fake.
    local IDS = { "ins-aaaaaaa1", "ins-aaaaaaa2", "ins-aaaaaaa3", "ins-aaaaaaa4", "ins-aaaaaaa5" }
    before_each(function()
      fake:config{ prices = { ["ins-aaaaaaa1"] = 100, ["ins-aaaaaaa2"] = 250, ["ins-aaaaaaa3"] = 50,
                              ["ins-aaaaaaa4"] = 100 }, missing = { "ins-aaaaaaa5" } }
    end)

    it("renews in list order what is under max_price and fits the budget; skips the rest", function()
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = IDS,
        period = 1, max_price = 150, budget = 120, audit_log = log })
      local it = by_id(r)
      assert.are.same({ "80.00", "renew", "renewed" }, { it["ins-aaaaaaa1"].price, it["ins-aaaaaaa1"].decision, it["ins-aaaaaaa1"].outcome })
      assert.are.same({ "200.00", "over_max_price", "skipped" }, { it["ins-aaaaaaa2"].price, it["ins-aaaaaaa2"].decision, it["ins-aaaaaaa2"].outcome })
      -- 80 + 40 is exactly the budget: it fits
      assert.are.same({ "40.00", "renew", "renewed" }, { it["ins-aaaaaaa3"].price, it["ins-aaaaaaa3"].decision, it["ins-aaaaaaa3"].outcome })
      assert.are.same({ "80.00", "over_budget", "skipped" }, { it["ins-aaaaaaa4"].price, it["ins-aaaaaaa4"].decision, it["ins-aaaaaaa4"].outcome })
      assert.are.equal("no_price", it["ins-aaaaaaa5"].decision)
      assert.are.equal("InvalidInstanceId.NotFound", it["ins-aaaaaaa5"].error.code)
      assert.is_string(it["ins-aaaaaaa1"].request_id)
      assert.are.same({ ["ins-aaaaaaa1"] = 1, ["ins-aaaaaaa3"] = 1 }, fake:renewals())
      local t = r.totals
      assert.are.same({ 5, 2, 2, 0, 0, 3, 1, "120.00", 12000 },
        { t.resources, t.planned, t.renewed, t.failed, t.unknown, t.skipped, t.no_price, t.spent, t.spent_cents })
      -- one inquiry per instance: the API answers a total for the ids it gets
      for _, q in ipairs(fake:requests_for("InquiryPriceRenewInstances")) do
        assert.are.equal(1, #json.decode(q.body).InstanceIds)
      end
    end)

    it("a later, cheaper resource still fits after a dearer one did not", function()
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm",
        resources = { "ins-aaaaaaa4", "ins-aaaaaaa2", "ins-aaaaaaa3" }, period = 1, budget = 150 })
      local it = by_id(r)
      assert.are.equal("renew", it["ins-aaaaaaa4"].decision)
      assert.are.equal("over_budget", it["ins-aaaaaaa2"].decision)
      assert.are.equal("renew", it["ins-aaaaaaa3"].decision)
    end)

    it("without caps renews everything it could price", function()
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = IDS, period = 2 })
      assert.are.equal(4, r.totals.renewed)
      assert.are.equal("160.00", by_id(r)["ins-aaaaaaa1"].price)    -- two months
      assert.are.equal(4, count(fake:renewals()))
    end)

    it("dry_run inquires and decides, renews nothing and writes no audit line", function()
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = IDS,
        period = 1, max_price = 150, budget = 120, dry_run = true, audit_log = log })
      assert.is_true(r.dry_run)
      local it = by_id(r)
      assert.are.equal("planned", it["ins-aaaaaaa1"].outcome)
      assert.are.equal("planned", it["ins-aaaaaaa3"].outcome)
      assert.are.equal("skipped", it["ins-aaaaaaa4"].outcome)
      assert.are.same({ 2, "120.00", 0 }, { r.totals.planned, r.totals.planned_amount, r.totals.renewed })
      assert.are.equal(0, #fake:requests_for("RenewInstances"))
      assert.is_nil(io.open(log))
    end)

    it("sums money exactly: 0.1 + 0.2 + 0.3 fits a budget of 0.6", function()
      local plans = { "edgeone-aaaaaaaaaaa1", "edgeone-aaaaaaaaaaa2", "edgeone-aaaaaaaaaaa3" }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "teo", resources = plans,
        period = 1, budget = 0.6, price = { [plans[1]] = 0.1, [plans[2]] = "0.2", [plans[3]] = 0.3 } })
      assert.are.equal(3, r.totals.renewed)
      assert.are.equal("0.60", r.totals.spent)
      assert.are.equal(60, r.totals.spent_cents)
    end)

    it("rounds a price up and a cap down past the cent", function()
      local plans = { "edgeone-aaaaaaaaaab1", "edgeone-aaaaaaaaaab2" }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "teo", resources = plans,
        period = 1, max_price = "10.009", dry_run = true, price = { [plans[1]] = "10.001", [plans[2]] = 10 } })
      assert.are.equal("10.01", r.items[1].price)
      assert.are.equal("over_max_price", r.items[1].decision)     -- 10.01 > 10.00
      assert.are.equal("renew", r.items[2].decision)
    end)
  end)

  describe("products", function()
    it("hspro: prices each machine, renews with its Quuid", function()
      fake:config{ prices = { q1 = 100, q2 = 300 } }   -- answers 90%
      local rows = { { Quuid = "q1", MachineType = "CVM", MachineRegion = "ap-guangzhou" },
                     { Quuid = "q2", MachineType = "BM", MachineRegion = "ap-shanghai" } }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "hspro", resources = rows,
        period = 1, max_price = 100 })
      assert.are.same({ "90.00", "renewed" }, { r.items[1].price, r.items[1].outcome })
      assert.are.same({ "270.00", "over_max_price" }, { r.items[2].price, r.items[2].decision })
      assert.are.same({ q1 = 1 }, fake:renewals())
      local q = json.decode(fake:requests_for("InquiryPriceOpenProVersionPrepaid")[2].body)
      assert.are.same({ { MachineType = "BM", MachineRegion = "ap-shanghai", Quuid = "q2" } }, q.Machines)
    end)

    it("teo: caller prices by table or function; a missing or failing price is no_price", function()
      local plans = { "edgeone-aaaaaaaaaac1", "edgeone-aaaaaaaaaac2", "edgeone-aaaaaaaaaac3" }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "teo", resources = plans,
        period = 3, price = function(id, period)
          assert.are.equal(3, period)
          if id == plans[2] then return nil, "not in the price list" end
          if id == plans[3] then error("price service down") end
          return 30
        end })
      assert.are.same({ "30.00", "renewed" }, { r.items[1].price, r.items[1].outcome })
      assert.is_string(r.items[1].order)                        -- the DealName
      assert.are.equal("no_price", r.items[2].decision)
      assert.truthy(r.items[2].error.message:find("not in the price list", 1, true))
      assert.are.equal("no_price", r.items[3].decision)
      assert.truthy(r.items[3].error.message:find("price service down", 1, true))
      assert.are.same({ [plans[1]] = 1 }, fake:renewals())
    end)

    it("ecs: prices 20 per inquiry, isolates an unknown id by halving, renews with a logged ClientToken", function()
      local ids = {}
      for i = 1, 25 do ids[i] = string.format("i-wf%018d", i) end
      fake:config{ missing = { ids[7] } }
      local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", resources = ids,
        period = 1, audit_log = log, concurrency = 4 })
      assert.are.equal(24, r.totals.renewed)
      assert.are.equal("CNY", r.currency)
      assert.are.equal("no_price", r.items[7].decision)
      assert.are.equal("InvalidInstance.NotFound", r.items[7].error.code)
      assert.truthy(r.items[1].order:find("^Order"))
      -- 1-20 (rejected) and 21-25; then 1-10 | 11-20, 1-5 | 6-10, 6-7 | 8-10, 6 | 7
      local sizes, alone = {}, {}
      for _, q in ipairs(fake:requests_for("QueryPriceForRenew")) do
        local list = json.decode(q.body).InstanceIDList
        sizes[#sizes + 1] = #list
        if #list == 1 then alone[#alone + 1] = list[1] end
      end
      table.sort(sizes)
      assert.are.same({ 1, 1, 2, 3, 5, 5, 5, 10, 10, 20 }, sizes)
      assert.are.same({ ids[6], ids[7] }, (function() table.sort(alone); return alone end)())
      local tokens = {}
      for _, e in ipairs(entries(log)) do
        if e.event == "intent" then tokens[e.id] = e.client_token end
      end
      for _, q in ipairs(fake:requests_for("RenewInstance")) do
        local id = q.query:match("InstanceId=([^&]+)")
        assert.are.equal(tokens[id], q.query:match("ClientToken=([^&]+)"))
      end
    end)
  end)

  describe("progress and bugs", function()
    it("reports progress per phase", function()
      local seen = {}
      assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-eeeeeee1", "ins-eeeeeee2" },
        period = 1, on_progress = function(phase, done, total)
          seen[#seen + 1] = phase .. " " .. done .. "/" .. total
          error("a broken progress printer must not stop renewals")
        end })
      table.sort(seen)
      assert.are.same({ "inquire 1/2", "inquire 2/2", "renew 1/2", "renew 2/2" }, seen)
      assert.are.equal(2, count(fake:renewals()))
    end)

    it("a renewal step that raises after its intent is unknown, never failed or retried", function()
      -- a client whose RenewInstances raises once the intent is on disk
      local proxy = setmetatable({ cvm = {
        InquiryPriceRenewInstances = function(_, q) return tc.cvm:InquiryPriceRenewInstances(q) end,
        RenewInstances = function() error("bug in a caller-supplied client") end,
      } }, { __index = tc })
      local r = assert(workflow.renew_if_under_budget{ client = proxy, product = "cvm",
        resources = { "ins-eeeeeee3" }, period = 1, audit_log = log })
      assert.are.equal("unknown", r.items[1].outcome)
      assert.truthy(tostring(r.items[1].error):find("bug in a caller", 1, true))
      assert.are.equal("intent", entries(log)[1].event)
      assert.are.equal(0, #fake:requests_for("RenewInstances"))
    end)
  end)

  describe("bad input", function()
    local function rejects(opts, pattern)
      local r, err = workflow.renew_if_under_budget(opts)
      assert.is_nil(r)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(err.message:find(pattern, 1, true), err.message)
    end

    it("is refused with a message naming the option, and nothing is sent", function()
      local base = { client = tc, product = "cvm", resources = { "ins-aaaaaaa1" }, period = 1 }
      local function with(t)
        local o = {}
        for k, v in pairs(base) do o[k] = v end
        for k, v in pairs(t) do o[k] = v end
        return o
      end
      rejects(with{ product = "nosuch" }, "product")
      rejects(with{ client = {} }, "client")
      rejects(with{ client = volc }, "cvm needs a tencent client")
      rejects(with{ period = 13 }, "period")
      rejects(with{ period = 1.5 }, "period")
      rejects(with{ max_price = -1 }, "max_price")
      rejects(with{ budget = "lots" }, "budget")
      rejects(with{ resources = { "ins-aaaaaaa1", "ins-aaaaaaa1" } }, "listed twice")
      rejects(with{ resources = { a = "ins-aaaaaaa1" } }, "list")
      rejects(with{ resources = { 42 } }, "resources[1]")
      rejects(with{ resources = { "ins-aaaaaaa1", "i-aaaaaaa2" } }, 'resources[2] "i-aaaaaaa2" is not a valid cvm id')
      rejects(with{ product = "ecs", client = volc, resources = { "ins-aaaaaaa1" } }, "not a valid ecs id")
      rejects(with{ product = "teo", resources = { "plan-1" }, price = {} }, "not a valid teo id")
      -- validate() gives the same answer without running anything
      local ok, verr = workflow.validate(with{ period = 13 })
      assert.is_nil(ok)
      assert.truthy(verr.message:find("period", 1, true))
      assert.is_true(workflow.validate(base))
      rejects(with{ price = { ["ins-aaaaaaa1"] = 1 } }, "price is for teo and tc_billing only")
      rejects(with{ product = "teo", resources = { "edgeone-aaaaaaaaaaa1" } }, "teo has no price inquiry")
      rejects(with{ product = "hspro", resources = { { Quuid = "q", MachineType = "VM", MachineRegion = "r" } } },
        "MachineType")
      rejects(with{ concurrency = 0 }, "concurrency")
      rejects("cvm", "one table")
      assert.are.equal(0, #fake:requests())
    end)

    it("an audit log it cannot lock or create stops the run before anything is sent", function()
      local r, err = workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-aaaaaaa1" },
        period = 1, audit_log = "/nonexistent-dir/audit.jsonl" }
      assert.is_nil(r)
      assert.are.equal("ClientError.AuditLog", err.code)
      assert.are.equal(0, #fake:requests())
    end)
  end)

  describe("audit log and resume", function()
    local IDS = { "ins-bbbbbbb1", "ins-bbbbbbb2", "ins-bbbbbbb3" }

    it("writes an fsynced intent before and a result after each renewal", function()
      fake:config{ prices = { ["ins-bbbbbbb1"] = 10 } }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-bbbbbbb1" },
        period = 1, audit_log = log, run_id = "2026-11" })
      local e = entries(log)
      assert.are.equal(3, #e)
      assert.are.same({ "intent", "tencent", "cvm", "ins-bbbbbbb1", 1, "8.00", "2026-11" },
        { e[1].event, e[1].cloud, e[1].product, e[1].id, e[1].period, e[1].price, e[1].run_id })
      assert.are.same({ "result", "renewed", r.items[1].request_id, e[1].attempt },
        { e[2].event, e[2].outcome, e[2].request_id, e[2].attempt })
      -- confirmation (on by default) follows: the read API saw the expiry move
      assert.are.same({ "confirm", true, "renewed", e[1].attempt, r.items[1].expires_after },
        { e[3].event, e[3].confirmed, e[3].outcome, e[3].attempt, e[3].expires_after })
      assert.truthy(e[1].time:find("^%d%d%d%d%-%d%d%-%d%dT"))
    end)

    it("a re-run skips what is renewed, counts it against the budget, and retries what failed", function()
      fake:config{ prices = { ["ins-bbbbbbb1"] = 100, ["ins-bbbbbbb2"] = 100, ["ins-bbbbbbb3"] = 100 },
                   locked = { "ins-bbbbbbb2" } }
      local opts = { client = tc, product = "cvm", resources = IDS, period = 1, budget = 240, audit_log = log }
      local r1 = assert(workflow.renew_if_under_budget(opts))
      assert.are.same({ "renewed", "failed", "renewed" }, { r1.items[1].outcome, r1.items[2].outcome, r1.items[3].outcome })
      assert.are.equal("OperationDenied.InstanceOperationInProgress", r1.items[2].error.code)
      fake:config{ locked = { "ins-zzzzzzzz" } }   -- (an empty table would encode as {})
      opts.budget = 200
      local r2 = assert(workflow.renew_if_under_budget(opts))
      assert.is_true(r2.items[1].resumed)
      assert.are.equal("renewed", r2.items[1].outcome)
      -- 80 + 80 already spent in this run: the failed one no longer fits
      assert.are.equal("over_budget", r2.items[2].decision)
      opts.budget = 300
      local r3 = assert(workflow.renew_if_under_budget(opts))
      assert.are.equal("renewed", r3.items[2].outcome)
      assert.is_nil(r3.items[2].resumed)
      assert.are.same({ ["ins-bbbbbbb1"] = 1, ["ins-bbbbbbb2"] = 1, ["ins-bbbbbbb3"] = 1 }, fake:renewals())
      -- the re-runs priced only bbb2: 3 + 1 + 1 inquiries
      assert.are.equal(5, #fake:requests_for("InquiryPriceRenewInstances"))
    end)

    it("a run_id scopes the log: another run renews again", function()
      local opts = { client = tc, product = "cvm", resources = { "ins-bbbbbbb1" }, period = 1, audit_log = log,
                     run_id = "2026-11" }
      assert(workflow.renew_if_under_budget(opts))
      assert.is_true(assert(workflow.renew_if_under_budget(opts)).items[1].resumed)
      opts.run_id = "2026-12"
      assert.are.equal("renewed", assert(workflow.renew_if_under_budget(opts)).items[1].outcome)
      assert.are.equal(2, fake:renewals()["ins-bbbbbbb1"])
    end)

    it("after a crash between intent and result, the re-run never resends and reports unknown", function()
      -- The fake executes the renewal at once and answers 10 s later: the
      -- child is killed while its renewal is in flight.
      fake:faults{ { action = "RenewInstances", kind = "slow", delay = 10 } }
      local lp = "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='build/?.so;;' "
      local pidfile = os.tmpname()
      os.execute(lp .. "lua5.4 spec/support/workflow_child.lua " .. fake.url .. " " .. log
        .. " ins-bbbbbbb1 ins-bbbbbbb2 >/dev/null 2>&1 & echo $! > " .. pidfile)
      local pid = io.open(pidfile):read("*l")
      os.remove(pidfile)
      local deadline = core.monotonic() + 15
      while (fake:renewals()["ins-bbbbbbb1"] or 0) == 0 and core.monotonic() < deadline do core.sleep(0.05) end
      os.execute("kill -9 " .. pid)
      -- the kernel drops the dead run's lock once the process is gone
      local lock
      deadline = core.monotonic() + 10
      repeat lock = core.lock(log) until lock or core.monotonic() > deadline or core.sleep(0.02)
      assert(lock, "the killed run still holds the log"):release()
      assert.are.equal(1, fake:renewals()["ins-bbbbbbb1"])
      local e = entries(log)
      assert.are.equal(1, #e)
      assert.are.equal("intent", e[1].event)
      fake:reset()
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm",
        resources = { "ins-bbbbbbb1", "ins-bbbbbbb2" }, period = 1, audit_log = log })
      assert.are.same({ "unknown", true }, { r.items[1].outcome, r.items[1].resumed },
        tostring(r.items[1].error) .. " " .. table.concat(read_lines(log), "\n"))
      assert.truthy(r.items[1].error.message:find("check the tencent console", 1, true))
      assert.are.equal("renewed", r.items[2].outcome)
      assert.are.same({ 1, 1 }, { r.totals.unknown, r.totals.renewed })
      assert.are.same({ ["ins-bbbbbbb2"] = 1 }, fake:renewals())   -- nothing resent for bbb1
      assert.are.equal(1, #fake:requests_for("InquiryPriceRenewInstances"))   -- bbb2 only
    end)

    it("cuts off and reports a torn last line (no newline) before appending", function()
      local f = io.open(log, "wb")
      f:write('{"event":"intent","attempt":"x1","cloud":"tencent","product":"cvm","id":"ins-bbbbbbb3","period":1,"price":"1.00"}\n')
      f:write('{"event":"intent","attempt":"x2","cl')
      f:close()
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = IDS,
        period = 1, audit_log = log })
      assert.are.equal(1, #r.audit.warnings)
      assert.truthy(r.audit.warnings[1]:find(":2: cut off a torn last line", 1, true))
      assert.are.equal("unknown", r.items[3].outcome)       -- the complete intent without a result
      assert.are.equal(2, r.totals.renewed)
      local lines = read_lines(log)
      for i = 1, #lines do assert(json.decode(lines[i]), lines[i]) end
      assert.are.equal(7, #lines)   -- 1 kept + 2 x (intent, result, confirm)
    end)

    it("refuses a log damaged before its last line, before sending anything", function()
      local f = io.open(log, "wb")
      f:write('garbage\n{"event":"intent","attempt":"x1","cloud":"tencent","product":"cvm","id":"a","period":1}\n')
      f:close()
      local r, err = workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = IDS, period = 1, audit_log = log }
      assert.is_nil(r)
      assert.are.equal("ClientError.AuditLog", err.code)
      assert.truthy(err.message:find(":1: not an audit entry", 1, true), err.message)
      assert.are.equal(0, #fake:requests())
    end)

    it("one run at a time per log; a dry run may still read it", function()
      local lock = assert(core.lock(log))
      local opts = { client = tc, product = "cvm", resources = IDS, period = 1, audit_log = log }
      local r, err = workflow.renew_if_under_budget(opts)
      assert.is_nil(r)
      assert.are.equal("ClientError.AuditLog", err.code)
      assert.truthy(err.message:find("locked by another running process", 1, true))
      assert.are.equal(0, #fake:requests())
      opts.dry_run = true
      assert.are.equal(3, assert(workflow.renew_if_under_budget(opts)).totals.planned)
      lock:release()
      opts.dry_run = nil
      assert.are.equal(3, assert(workflow.renew_if_under_budget(opts)).totals.renewed)
    end)
  end)

  describe("under faults and throttling", function()
    it("paced at the documented limits, a fleet renews once each and never sees a throttle", function()
      fake:config{ limits = true, latency = 0.05 }
      local ids = {}
      for i = 1, 30 do ids[i] = string.format("ins-c%07d", i) end
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = ids,
        period = 1, concurrency = 16, audit_log = log })
      assert.are.equal(30, r.totals.renewed)
      assert.are.equal(0, fake:state().throttled)
      for _, id in ipairs(ids) do assert.are.equal(1, fake:renewals()[id]) end
    end)

    it("absorbs throttling and 5xx on inquiries; a lost Tencent renewal answer is unknown, not resent", function()
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "throttle", count = 2 },
                   { action = "InquiryPriceRenewInstances", kind = "status500", count = 1 },
                   { action = "RenewInstances", kind = "drop_after", count = 1 } }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm",
        resources = { "ins-ddddddd1" }, period = 1, audit_log = log })
      assert.is_string(r.items[1].price)
      assert.are.equal("unknown", r.items[1].outcome)
      assert.are.equal(1, r.totals.unknown)
      assert.are.equal(1, #fake:requests_for("RenewInstances"))
      assert.are.equal(1, fake:renewals()["ins-ddddddd1"])
      local e = entries(log)
      assert.are.equal("unknown", e[#e].outcome)
      local again = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm",
        resources = { "ins-ddddddd1" }, period = 1, audit_log = log })
      assert.are.same({ "unknown", true }, { again.items[1].outcome, again.items[1].resumed })
      assert.are.equal(1, #fake:requests_for("RenewInstances"))
    end)

    it("a lost Volcengine renewal answer is resent with its ClientToken and renewed once", function()
      fake:faults{ { action = "RenewInstance", kind = "drop_after", count = 1 } }
      local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs",
        resources = { "i-wf000000000000000099" }, period = 1, audit_log = log })
      assert.are.equal("renewed", r.items[1].outcome)
      assert.are.equal(1, fake:renewals()["i-wf000000000000000099"])
      assert.are.equal(2, #fake:requests_for("RenewInstance"))
    end)

    it("an inquiry that keeps failing leaves the resource unpriced and unrenewed", function()
      fake:faults{ { action = "QueryPriceForRenew", kind = "status502_html", rate = 1 } }
      local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs",
        resources = { "i-wf000000000000000098", "i-wf000000000000000097" }, period = 1 })
      assert.are.equal(2, r.totals.no_price)
      assert.are.equal(0, #fake:requests_for("RenewInstance"))
      assert.is_string(r.items[1].error.code)
    end)
  end)
end)

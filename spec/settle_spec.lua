-- Settling unknown outcomes (issue 11 section 4), through the fake with
-- renewals counted there: never more than one execution per resource (the
-- Volcengine re-send with the same ClientToken is answered, not executed).
local audit = require("cloudrenew.workflow.audit")
local json = require("cloudrenew.client.json")
local settle = require("cloudrenew.workflow.settle")
local workflow = require("cloudrenew.workflow")
local fixture = require("support.fixture")

-- Two attempts per call: a lost answer stays lost after the client's retries.
local TWO = { max_attempts = 2, base_delay = 0.01, max_delay = 0.05 }

local entries, events = fixture.entries, fixture.events

-- A gateway's garbage instead of the cloud's answer: the outcome is lost.
-- (A dropped connection would not do: a token-bearing request may be re-sent
-- by the transport on a fresh connection, so the count of drops is not ours.)
local function lost(n, executed)
  return { action = "RenewInstance", kind = "body", status = 502, body = "<html>bad gateway</html>",
           count = n, execute = executed or false }
end

-- Make every intent of the log `secs` older (as if written then).
local function age(path, secs)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  local t = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() - secs)
  f = assert(io.open(path, "wb"))
  f:write((text:gsub('"time":"[^"]*"', '"time":"' .. t .. '"')))
  f:close()
end

local function write(path, lines)
  local f = assert(io.open(path, "wb"))
  for _, l in ipairs(lines) do f:write(json.encode(l), "\n") end
  f:close()
end

describe("settling unknown outcomes", function()
  local fake, tc, volc, log
  local fx = fixture.new()

  setup(function() fake, tc, volc = fx.fake, fx:tencent{ retry = TWO }, fx:volcengine{ retry = TWO } end)
  before_each(function() log = fx:log() end)

  local function run(o)
    o.audit_log = o.audit_log or log
    o.period = o.period or 1
    return assert(workflow.renew_if_under_budget(o))
  end

  describe("Volcengine: the same ClientToken and parameters", function()
    it("a lost answer (never executed) is re-sent with its token in the same run: renewed once, order recorded", function()
      fake:resources{ { id = "i-st00000000000000001", expires_in_days = 3 } }
      fake:faults{ lost(2) }
      local r = run{ client = volc, product = "ecs", resources = { "i-st00000000000000001" }, settle = true }
      local it = r.items[1]
      assert.are.same({ "renewed", "client_token" }, { it.outcome, it.settled_by })
      local sends = fake:requests_for("RenewInstance")
      assert.are.equal(3, #sends)
      for _, s in ipairs(sends) do
        assert.are.equal(events(log, "intent")[1].client_token, s.query.ClientToken or s.query:match("ClientToken=([^&]+)"))
      end
      assert.are.same({ ["i-st00000000000000001"] = 1 }, fake:renewals())
      local s = events(log, "settle")[1]
      assert.are.same({ "renewed", "client_token", it.order }, { s.outcome, s.settled_by, s.order })
      assert.are.equal(fake:resource("i-st00000000000000001").expires, s.expires_after)   -- read after the re-send
      assert.are_not.equal(events(log, "intent")[1].expires_before, s.expires_after)
      assert.truthy(s.order:find("^Order"))
    end)

    it("a later run: executed, answer lost, the expiry unreadable -> not re-sent (issue 21 case 2); readable -> settled by expiry", function()
      fake:resources{ { id = "i-st00000000000000002", expires_in_days = 3 } }
      fake:faults{ lost(1, true), lost(1) }
      local r1 = run{ client = volc, product = "ecs", resources = { "i-st00000000000000002" }, run_id = "m1" }
      assert.are.equal("unknown", r1.items[1].outcome)
      assert.are.same({ ["i-st00000000000000002"] = 1 }, fake:renewals())
      -- The read cannot prove it this time (two 500s = every attempt): nothing re-sent, still unknown.
      fake:faults{ { action = "DescribeInstances", kind = "status500", count = 2 } }
      local r2 = run{ client = volc, product = "ecs", resources = { "i-st00000000000000002" }, run_id = "m1", settle = true }
      assert.are.same({ true, "unknown" }, { r2.items[1].resumed, r2.items[1].outcome })
      assert.are.equal(2, #fake:requests_for("RenewInstance"))
      local r3 = run{ client = volc, product = "ecs", resources = { "i-st00000000000000002" }, run_id = "m1", settle = true }
      local it = r3.items[1]
      assert.are.same({ true, "renewed", "expiry" }, { it.resumed, it.outcome, it.settled_by })
      assert.are.same({ ["i-st00000000000000002"] = 1 }, fake:renewals())   -- ONE execution
      assert.are.equal(2, #fake:requests_for("RenewInstance"))
      assert.are.equal(1, #events(log, "settle"))
    end)

    it("issue 21 case 2: not re-sent when the expiry read fails (403) or the instance is not listed, nor when the intent is older than RESEND_WITHIN", function()
      fake:resources{ { id = "i-st00000000000000004", expires_in_days = 3 } }
      fake:faults{ lost(2) }
      local r1 = run{ client = volc, product = "ecs", resources = { "i-st00000000000000004" }, confirm = false }
      assert.are.equal("unknown", r1.items[1].outcome)
      local sends = #fake:requests_for("RenewInstance")
      local denied = '{"ResponseMetadata":{"RequestId":"r-1","Action":"DescribeInstances","Version":"2020-04-01",'
        .. '"Service":"ecs","Region":"cn-beijing","Error":{"CodeN":100013,"Code":"AccessDenied","Message":"no"}}}'
      fake:faults{ { action = "DescribeInstances", kind = "body", status = 403, body = denied, count = 1 } }
      local l = assert(audit.open(log, { lock = true }))
      local out = settle.resource(l, volc, "ecs", "i-st00000000000000004")
      assert.are.equal("unknown", out[1].outcome)
      assert.truthy(out[1].message:find("not re-sent", 1, true), out[1].message)
      -- not listed (the read answers, without it)
      fake:resources({ { id = "i-st00000000000000004", region = "cn-shanghai", expires_in_days = 3 } }, { merge = true })
      out = settle.resource(l, volc, "ecs", "i-st00000000000000004")
      assert.are.equal("unknown", out[1].outcome)
      assert.truthy(out[1].message:find("not re-sent: the read API does not list", 1, true), out[1].message)
      l:close()
      assert.are.equal(sends, #fake:requests_for("RenewInstance"))
      -- listed and unmoved, but the intent is older than the bound: not re-sent either
      local was = require("cloudrenew.workflow.confirm").parse_time(events(log, "intent")[1].expires_before)
      fake:resources({ { id = "i-st00000000000000004", region = "cn-beijing", expires_at = was } }, { merge = true })
      age(log, settle.RESEND_WITHIN + 60)
      l = assert(audit.open(log, { lock = true }))
      out = settle.resource(l, volc, "ecs", "i-st00000000000000004")
      assert.are.equal("unknown", out[1].outcome)
      assert.truthy(out[1].message:find("re-sent only within", 1, true), out[1].message)
      l:close()
      assert.are.equal(sends, #fake:requests_for("RenewInstance"))
      assert.are.equal(0, #events(log, "settle"))
      assert.are.same({}, fake:renewals())
    end)

    it("issue 21 case 1: a re-send refused with NotFound (or AccessDenied) proves nothing: still unknown", function()
      fake:resources{ { id = "i-st00000000000000005", expires_in_days = 3 } }
      fake:faults{ lost(2) }
      assert.are.equal("unknown", run{ client = volc, product = "ecs", resources = { "i-st00000000000000005" } }.items[1].outcome)
      for _, code in ipairs{ "InvalidInstance.NotFound", "AccessDenied" } do
        local body = '{"ResponseMetadata":{"RequestId":"r-2","Action":"RenewInstance","Version":"2020-04-01",'
          .. '"Service":"ecs","Region":"cn-beijing","Error":{"CodeN":1,"Code":"' .. code .. '","Message":"no"}}}'
        fake:faults{ { action = "RenewInstance", kind = "body", status = 404, body = body, count = 1 } }
        local l = assert(audit.open(log, { lock = true }))
        local out = settle.resource(l, volc, "ecs", "i-st00000000000000005")
        l:close()
        assert.are.equal("unknown", out[1].outcome)
        assert.truthy(out[1].message:find(code, 1, true), out[1].message)
      end
      assert.are.equal(0, #events(log, "settle"))
      -- an intent recorded in another region is not asked through this client at all
      local sends = #fake:requests()
      local sh = fx:volcengine{ region = "cn-shanghai" }
      local l = assert(audit.open(log, { lock = true }))
      local out = settle.resource(l, sh, "ecs", "i-st00000000000000005")
      l:close()
      assert.are.equal("unknown", out[1].outcome)
      assert.truthy(out[1].message:find("went to region cn-beijing", 1, true), out[1].message)
      assert.are.equal(sends, #fake:requests())
      assert.are.same({}, fake:renewals())
    end)

    it("issue 21/25: confirm = false costs only the reads before sending (shared: many ids a read), as docs/workflows.md says", function()
      fake:resources{ { id = "i-st00000000000000007", expires_in_days = 3 }, { id = "i-st00000000000000008", expires_in_days = 3 } }
      local r = run{ client = volc, product = "ecs", resources = { "i-st00000000000000007", "i-st00000000000000008" }, confirm = false }
      assert.are.same({ "renewed", "renewed" }, { r.items[1].outcome, r.items[2].outcome })
      local reads = fake:requests_for("DescribeInstances")
      assert.is_true(#reads >= 1 and #reads <= 2, #reads .. " reads")
      for _, e in ipairs(events(log, "intent")) do assert.truthy(e.expires_before) end
      assert.are.equal(0, #events(log, "confirm"))
      local f = assert(io.open("docs/workflows.md", "rb"))
      local doc = f:read("a")
      f:close()
      assert.truthy(doc:find("`confirm = false` skips the polls only: the reads before sending stay, none after.", 1, true))
    end)

    it("a re-send the cloud refuses proves nothing was executed: failed", function()
      fake:resources{ { id = "i-st00000000000000003", expires_in_days = 3 } }
      fake:faults{ lost(2) }
      local r1 = run{ client = volc, product = "ecs", resources = { "i-st00000000000000003" } }
      assert.are.equal("unknown", r1.items[1].outcome)
      fake:config{ balance = 0 }
      local l = assert(audit.open(log, { lock = true }))
      local out = settle.resource(l, volc, "ecs", "i-st00000000000000003")
      l:close()
      assert.are.same({ "failed", "client_token", "Insufficient.Balance" }, { out[1].outcome, out[1].settled_by, out[1].error.code })
      assert.are.same({}, fake:renewals())
    end)
  end)

  describe("Tencent: the read API", function()
    it("a later run: the expiry advanced past the recorded one -> renewed (settled_by expiry), not resent", function()
      fake:resources{ { id = "edgeone-st0000000001", expires_in_days = 3 } }
      fake:faults{ { action = "RenewPlan", kind = "drop_after", count = 1 } }
      local price = { ["edgeone-st0000000001"] = 10 }
      local r1 = run{ client = tc, product = "teo", resources = { "edgeone-st0000000001" }, price = price }
      assert.are.equal("unknown", r1.items[1].outcome)
      local intent = events(log, "intent")[1]
      local r2 = run{ client = tc, product = "teo", resources = { "edgeone-st0000000001" }, price = price, settle = true }
      local it = r2.items[1]
      assert.are.same({ true, "renewed", "expiry" }, { it.resumed, it.outcome, it.settled_by })
      assert.are.equal(fake:resource("edgeone-st0000000001").expires, it.expires_after)
      assert.are.equal(intent.expires_before, it.expires_before)
      assert.are.same({ ["edgeone-st0000000001"] = 1 }, fake:renewals())
      assert.are.equal(1, #fake:requests_for("RenewPlan"))
      local s = events(log, "settle")[1]
      assert.are.same({ intent.attempt, "renewed", "expiry" }, { s.attempt, s.outcome, s.settled_by })
    end)

    it("cvm: LatestOperation RenewInstances FAILED for the recorded RequestId -> failed, free to renew again", function()
      fake:resources({ { id = "ins-st000001", expires_in_days = 3, operation_result = "FAILED",
                         operation_error = "trade failed" } }, { operation_seconds = 0.5 })
      local r1 = run{ client = tc, product = "cvm", resources = { "ins-st000001" }, run_id = "m1",
                      confirm = { timeout = 0.1, interval = 0.05 } }
      assert.are.same({ "renewed", false }, { r1.items[1].outcome, r1.items[1].confirmed })
      require("cloudrenew.core").sleep(0.7)
      local l = assert(audit.open(log, { lock = true }))
      local out = settle.resource(l, tc, "cvm", "ins-st000001")
      assert.are.same({ "failed", "latest_operation" }, { out[1].outcome, out[1].settled_by })
      assert.truthy(out[1].error.message:find("trade failed", 1, true))
      assert.is_nil((l:status("tencent", "cvm", "ins-st000001", "m1")))
      l:close()
      assert.are.same({ ["ins-st000001"] = 1 }, fake:renewals())
    end)

    it("cvm: an unknown with a RequestId the latest operation names, SUCCESS -> renewed", function()
      fake:resources{ { id = "ins-st000002", expires_in_days = 3 } }
      local before = fake:resource("ins-st000002").expires
      -- The renewal ran; its answer reached us only as far as the RequestId.
      assert(tc.cvm:RenewInstances{ InstanceIds = { "ins-st000002" }, InstanceChargePrepaid = { Period = 1 } })
      local rid = fake:resource("ins-st000002").latest_operation.request_id
      write(log, {
        { event = "intent", attempt = "a1", time = "2026-11-01T00:00:00.000Z", cloud = "tencent", product = "cvm",
          id = "ins-st000002", period = 1, price = "1.00", expires_before = before },
        { event = "result", attempt = "a1", time = "2026-11-01T00:00:01.000Z", outcome = "unknown", request_id = rid,
          error = { code = "ClientError.BadResponse", message = "truncated" } } })
      -- the expiry is hidden from this read: only the operation can prove it
      fake:resources({ { id = "ins-st000002", expires_at = require("cloudrenew.workflow.confirm").parse_time(before) } }, { merge = true })
      local l = assert(audit.open(log, { lock = true }))
      local out = settle.resource(l, tc, "cvm", "ins-st000002")
      l:close()
      assert.are.same({ "renewed", "latest_operation" }, { out[1].outcome, out[1].settled_by })
    end)

    it("anything less certain stays unknown and is never resent (settle_after not yet passed)", function()
      fake:resources{ { id = "ins-st000003", expires_in_days = 3 } }
      fake:faults{ { action = "RenewInstances", kind = "drop_before", count = 1 } }
      local r1 = run{ client = tc, product = "cvm", resources = { "ins-st000003" } }
      assert.are.equal("unknown", r1.items[1].outcome)
      local r2 = run{ client = tc, product = "cvm", resources = { "ins-st000003" }, settle = true }
      assert.are.same({ true, "unknown" }, { r2.items[1].resumed, r2.items[1].outcome })
      assert.is_nil(r2.items[1].settled_by)
      local r3 = run{ client = tc, product = "cvm", resources = { "ins-st000003" }, settle = true, settle_after = 6 * 3600 }
      assert.are.same({ true, "unknown" }, { r3.items[1].resumed, r3.items[1].outcome })
      assert.are.equal(0, #events(log, "settle"))
      assert.are.equal(1, #fake:requests_for("RenewInstances"))
      assert.are.same({}, fake:renewals())
    end)

    it("settle_after (opt-in): the expiry still has not moved after that long -> failed, then renewed once", function()
      fake:resources{ { id = "ins-st000004", expires_in_days = 3 } }
      fake:faults{ { action = "RenewInstances", kind = "drop_before", count = 1 } }
      local r1 = run{ client = tc, product = "cvm", resources = { "ins-st000004" } }
      assert.are.equal("unknown", r1.items[1].outcome)
      age(log, 7 * 3600)
      local r2 = run{ client = tc, product = "cvm", resources = { "ins-st000004" }, settle = true, settle_after = 6 * 3600 }
      local it = r2.items[1]
      assert.are.same({ "renewed", true }, { it.outcome, it.confirmed })
      assert.is_nil(it.resumed)
      local s = events(log, "settle")[1]
      assert.are.same({ "failed", "settle_after" }, { s.outcome, s.settled_by })
      assert.are.same({ ["ins-st000004"] = 1 }, fake:renewals())
    end)

    it("issue 21 case 3: settle_after below 6 h is refused; never applied in the run that sent the renewal", function()
      for _, v in ipairs{ 0, 1, 3600, 6 * 3600 - 1 } do
        local r, err = workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-st000006" },
          period = 1, settle = true, settle_after = v, audit_log = log }
        assert.is_nil(r)
        assert.are.equal("ClientError.InvalidParameter", err.code)
        assert.truthy(err.message:find("21600", 1, true))
      end
      assert.are.equal(0, #fake:requests())
      -- a renewal still OPERATING when this run's answer is lost: the same run never turns it failed
      fake:resources({ { id = "ins-st000006", expires_in_days = 3 } }, { operation_seconds = 2 })
      fake:faults{ { action = "RenewInstances", kind = "drop_after", count = 1 } }
      local r = run{ client = tc, product = "cvm", resources = { "ins-st000006" }, settle = true,
                     settle_after = 6 * 3600 }
      assert.are.equal("unknown", r.items[1].outcome)
      assert.are.equal(0, #events(log, "settle"))
      require("cloudrenew.core").sleep(2.2)
      local r2 = run{ client = tc, product = "cvm", resources = { "ins-st000006" }, settle = true, settle_after = 6 * 3600 }
      assert.are.same({ true, "renewed", "expiry" }, { r2.items[1].resumed, r2.items[1].outcome, r2.items[1].settled_by })
      assert.are.same({ ["ins-st000006"] = 1 }, fake:renewals())
    end)

    it("a bad settle_after or settle is InvalidParameter", function()
      for _, o in ipairs{ { settle_after = -1 }, { settle_after = 0 / 0 }, { settle = "yes" } } do
        o.client, o.product, o.resources, o.period = tc, "cvm", { "ins-st000005" }, 1
        local r, err = workflow.renew_if_under_budget(o)
        assert.is_nil(r)
        assert.are.equal("ClientError.InvalidParameter", err.code)
      end
      assert.are.equal(0, #fake:requests())
    end)
  end)

  describe("issue 21 case 10: two settlers on one log", function()
    local function unknown_renewed(id)
      fake:resources{ { id = id, expires_in_days = 3 } }
      fake:faults{ { action = "RenewInstances", kind = "drop_after", count = 1 } }
      local r = run{ client = tc, product = "cvm", resources = { id } }
      assert.are.equal("unknown", r.items[1].outcome)
    end

    it("one locked, one not: the unlocked settler records nothing while the lock is held; one settle line, the log stays usable", function()
      unknown_renewed("ins-st000010")
      local locked = assert(audit.open(log, { lock = true }))
      local loose = assert(audit.open(log))
      local o2 = settle.resource(loose, tc, "cvm", "ins-st000010")
      assert.are.equal("unknown", o2[1].outcome)
      assert.truthy(o2[1].message:find("locked by another running process", 1, true), o2[1].message)
      local o1 = settle.resource(locked, tc, "cvm", "ins-st000010")
      assert.are.same({ "renewed", "expiry" }, { o1[1].outcome, o1[1].settled_by })
      locked:close()
      assert.are.equal(1, #events(log, "settle"))
      local again = assert(audit.open(log, { lock = true }))
      assert.are.equal("renewed", (again:status("tencent", "cvm", "ins-st000010", nil)))
      again:close()
      assert.are.same({ ["ins-st000010"] = 1 }, fake:renewals())
    end)

    it("two unlocked settlers in turn: the second reads the first's settle line and writes none", function()
      unknown_renewed("ins-st000011")
      local a = assert(audit.open(log))
      local b = assert(audit.open(log))
      assert.are.equal("renewed", settle.resource(a, tc, "cvm", "ins-st000011")[1].outcome)
      local ob = settle.resource(b, tc, "cvm", "ins-st000011")
      assert.are_not.equal("failed", ob[1].outcome)
      assert.are.equal(1, #events(log, "settle"))
      -- and the log is still usable by the next run
      local r = run{ client = tc, product = "cvm", resources = { "ins-st000011" } }
      assert.are.same({ true, "renewed" }, { r.items[1].resumed, r.items[1].outcome })
      assert.are.same({ ["ins-st000011"] = 1 }, fake:renewals())
    end)
  end)

  describe("the audit log stays strict", function()
    local function lines_with(extra)
      local l = {
        { event = "intent", attempt = "a1", cloud = "tencent", product = "cvm", id = "ins-st000009", period = 1,
          price = "1.00", expires_before = "2026-12-01T00:00:00Z" },
        { event = "result", attempt = "a1", outcome = "unknown" },
      }
      for _, e in ipairs(extra) do l[#l + 1] = e end
      return l
    end
    it("accepts confirm and settle lines that fit, and reads the outcome they decide", function()
      write(log, lines_with{ { event = "settle", attempt = "a1", outcome = "renewed", settled_by = "expiry",
                              expires_after = "2027-01-01T00:00:00Z" } })
      local l = assert(audit.open(log))
      assert.are.equal("renewed", (l:status("tencent", "cvm", "ins-st000009", nil)))
    end)
    it("refuses a settle or confirm line that does not fit, naming the line", function()
      local bad = {
        { { event = "settle", attempt = "a1", outcome = "unknown", settled_by = "expiry" }, "settle outcome must be" },
        { { event = "settle", attempt = "a1", outcome = "renewed", settled_by = "guess" }, "settled_by must be" },
        { { event = "settle", attempt = "a1", outcome = "renewed" }, "settle without settled_by" },
        { { event = "settle", attempt = "zz", outcome = "renewed", settled_by = "expiry" }, "has no intent" },
        { { event = "settle", attempt = "a1", outcome = "renewed", settled_by = "settle_after" }, "settle_after only" },
        { { event = "confirm", attempt = "a1", outcome = "renewed", confirmed = true }, "does not follow exactly one renewed" },
        { { event = "settle", attempt = "a1", outcome = "renewed", settled_by = "expiry", expires_after = "2027-01-01" }, "expires_after must be" },
        { { event = "settle", attempt = "a1", outcome = "failed", settled_by = "expiry", confirmed = true }, "confirmed does not belong" },
        { { event = "settle", attempt = "a1", outcome = "renewed", settled_by = "expiry" },
          { event = "settle", attempt = "a1", outcome = "failed", settled_by = "expiry" }, "after its settle line" },
      }
      for _, case in ipairs(bad) do
        local extra, want = {}, nil
        for _, x in ipairs(case) do if type(x) == "string" then want = x else extra[#extra + 1] = x end end
        write(log, lines_with(extra))
        local l, err = audit.open(log)
        assert.is_nil(l, want)
        assert.truthy(err:find(want, 1, true), err)
        assert.truthy(err:find(":%d+: "), err)
      end
    end)
  end)
end)

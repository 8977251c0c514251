-- Confirmation (issue 11 section 3): after a renewal is accepted, the read API
-- must show it. CVM: LatestOperationRequestId = the renewal's RequestId and
-- LatestOperationState SUCCESS (FAILED is a failure; OPERATING past the limit is
-- unconfirmed); ECS, teo, hspro: the expiry moved past the one read before
-- sending. Everything through the fake, renewals counted there.
local cloudrenew = require("cloudrenew")
local confirm = require("cloudrenew.workflow.confirm")
local core = require("cloudrenew.core")
local workflow = require("cloudrenew.workflow")
local fixture = require("support.fixture")

local FAST = { base_delay = 0.01, max_delay = 0.05 }

local entries, events = fixture.entries, fixture.events

describe("confirm.parse_time", function()
  it("reads the clouds' time formats as the same instant", function()
    local t = confirm.parse_time("2026-12-01T00:00:00Z")
    assert.are.equal(1796083200, t)
    assert.are.equal(t, confirm.parse_time("2026-12-01T00:00:00+00:00"))
    assert.are.equal(t, confirm.parse_time("2026-12-01T08:00:00+08:00"))        -- ecs ExpiredAt
    assert.are.equal(t, confirm.parse_time("2026-12-01 08:00:00", 8))           -- cwp, Beijing time
    assert.are.equal(t, confirm.parse_time("2026-12-01T00:00:00.250Z"))
    assert.are.equal("2026-12-01T00:00:00Z", confirm.format_time(t))
    assert.are.equal(951782400, confirm.parse_time("2000-02-29T00:00:00Z"))
  end)
  it("refuses what it cannot read exactly (nil, never a guess)", function()
    for _, s in ipairs{ "2026-12-01", "2026-13-01T00:00:00Z", "2026-12-01 08:00:00", "tomorrow",
                        "2026-12-01T00:00:00+8", string.rep("9", 100) } do
      assert.is_nil(confirm.parse_time(s), s)
    end
    assert.is_nil(confirm.parse_time(12345))
  end)
  it("checks the confirm option", function()
    assert.are.same({ timeout = 120, interval = 2 }, confirm.options(nil))
    assert.are.equal(false, confirm.options(false))
    assert.are.same({ timeout = 5, interval = 0.5 }, confirm.options{ timeout = 5.0, interval = 0.5 })
    for _, bad in ipairs{ { timeout = -1 }, { interval = 0 }, { timeout = 0 / 0 }, { timeout = 3601 },
                          { every = 1 }, "yes" } do
      assert.is_nil((confirm.options(bad)))
    end
  end)
end)

describe("workflow confirmation", function()
  local fake, tc, volc, log
  local fx = fixture.new()

  setup(function() fake, tc, volc = fx.fake, fx:tencent{ retry = FAST }, fx:volcengine{ retry = FAST } end)
  before_each(function() log = fx:log() end)

  it("confirm.read: expiry, auto-renew flag and charge type per product (false stays false, unknown is nil)", function()
    fake:resources{ { id = "ins-cf000009", auto_renew = true, expires_in_days = 3 }, { id = "ins-cf00000a", prepaid = false },
                    { id = "edgeone-cf0000000009", expires_in_days = 3 },
                    { id = "edgeone-cf000000000a", auto_renew = true, prepaid = false },
                    { id = "i-cf00000000000000009", expires_in_days = 3 },
                    { id = "quuid-cf-0009", product = "hspro", expires_in_days = 3 } }
    fake:config{ missing = { "ins-cf00000b" } }
    local function read(c, product, id)
      local st = assert(confirm.read(c, product, id))
      return { st.found, st.expires_at, st.auto_renew, st.prepaid }
    end
    local exp = function(id) return fake:resource(id).expires end
    assert.are.same({ true, exp("ins-cf000009"), true, true }, read(tc, "cvm", "ins-cf000009"))
    assert.are.same({ true, nil, false, false }, read(tc, "cvm", "ins-cf00000a"))
    assert.are.same({ false }, read(tc, "cvm", "ins-cf00000b"))
    assert.are.same({ true, exp("edgeone-cf0000000009"), false, true }, read(tc, "teo", "edgeone-cf0000000009"))
    assert.are.same({ true, nil, true, false }, read(tc, "teo", "edgeone-cf000000000a"))
    assert.are.same({ true, exp("i-cf00000000000000009"), nil, true }, read(volc, "ecs", "i-cf00000000000000009"))
    assert.are.same({ true, exp("quuid-cf-0009"), nil, true }, read(tc, "hspro", "quuid-cf-0009"))
  end)

  it("cvm: OPERATING, then SUCCESS for the renewal's RequestId -> confirmed with the new expiry", function()
    fake:resources({ { id = "ins-cf000001", expires_in_days = 5 } }, { operation_seconds = 0.8 })
    local before = fake:resource("ins-cf000001").expires
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000001" },
      period = 1, audit_log = log, confirm = { timeout = 20, interval = 0.2 } })
    local it = r.items[1]
    local after = fake:resource("ins-cf000001")
    assert.are.same({ "renewed", true, before, after.expires }, { it.outcome, it.confirmed, it.expires_before, it.expires_after })
    assert.are.equal(it.request_id, after.latest_operation.request_id)
    assert.is_true(confirm.parse_time(it.expires_after) > confirm.parse_time(it.expires_before))
    -- it kept asking while OPERATING: one read before sending, several after
    assert.is_true(#fake:requests_for("DescribeInstances") >= 3)
    assert.are.same({ ["ins-cf000001"] = 1 }, fake:renewals())
    assert.are.equal(1, r.totals.confirmed)
    local intent, c = events(log, "intent")[1], events(log, "confirm")[1]
    assert.are.equal(before, intent.expires_before)
    assert.are.same({ true, "renewed", after.expires, intent.attempt }, { c.confirmed, c.outcome, c.expires_after, c.attempt })
  end)

  it("cvm: LatestOperationState FAILED -> failed with LatestOperationErrorMsg, recorded, free to renew again", function()
    fake:resources{ { id = "ins-cf000002", expires_in_days = 5, operation_result = "FAILED",
                      operation_error = "InsufficientBalance: account in arrears" } }
    local before = fake:resource("ins-cf000002").expires
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000002" },
      period = 1, audit_log = log, run_id = "r1", confirm = { timeout = 10, interval = 0.2 } })
    local it = r.items[1]
    assert.are.same({ "failed", true, before, before }, { it.outcome, it.confirmed, it.expires_before, it.expires_after })
    assert.are.equal("ClientError.RenewalFailed", it.error.code)
    assert.truthy(it.error.message:find("account in arrears", 1, true))
    assert.are.same({ 1, 0 }, { r.totals.failed, r.totals.renewed })
    assert.are.same({ ["ins-cf000002"] = 1 }, fake:renewals())
    local c = events(log, "confirm")[1]
    assert.are.same({ "failed", true }, { c.outcome, c.confirmed })
    assert.truthy(c.error.message:find("account in arrears", 1, true))
    -- The log now says "not renewed": a re-run would price and renew it (dry run shows the plan).
    local l = assert(require("cloudrenew.workflow.audit").open(log))
    assert.is_nil((l:status("tencent", "cvm", "ins-cf000002", "r1")))
    local again = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000002" },
      period = 1, audit_log = log, run_id = "r1", dry_run = true })
    assert.are.same({ "renew", "planned" }, { again.items[1].decision, again.items[1].outcome })
  end)

  it("cvm: a hostile LatestOperationErrorMsg (control bytes, 20 KB) is printable and bounded in the report and log", function()
    fake:resources{ { id = "ins-cf000006", operation_result = "FAILED",
                      operation_error = "boom\27[2J\r\n" .. string.rep("x", 20000) } }
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000006" },
      period = 1, audit_log = log, confirm = { timeout = 5, interval = 0.1 } })
    local m = r.items[1].error.message
    assert.are.equal("failed", r.items[1].outcome)
    assert.truthy(m:find("boom", 1, true))
    assert.is_nil(m:find("%c"))
    assert.is_true(#m < 1200, #m)
    local c = events(log, "confirm")[1]
    assert.is_nil(c.error.message:find("%c"))
    assert.is_true(#c.error.message < 1200)
  end)

  it("cvm: still OPERATING at the limit -> renewed but unconfirmed, within the limit, never resent", function()
    fake:resources({ { id = "ins-cf000003", expires_in_days = 5 } }, { operation_seconds = 60 })
    local t0 = core.monotonic()
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000003" },
      period = 1, audit_log = log, confirm = { timeout = 0.8, interval = 0.2 } })
    local took = core.monotonic() - t0
    local it = r.items[1]
    assert.are.same({ "renewed", false }, { it.outcome, it.confirmed })
    assert.truthy(it.confirm_message:find("OPERATING", 1, true))
    assert.is_true(took < 5, "took " .. took)
    assert.are.same({ 1, 1, 0 }, { r.totals.renewed, r.totals.unconfirmed, r.totals.confirmed })
    local c = events(log, "confirm")[1]
    assert.are.same({ false, "renewed" }, { c.confirmed, c.outcome })
    -- a re-run with the same log never sends it again
    local again = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000003" },
      period = 1, audit_log = log, confirm = false })
    assert.are.same({ true, "renewed" }, { again.items[1].resumed, again.items[1].outcome })
    assert.are.same({ ["ins-cf000003"] = 1 }, fake:renewals())
  end)

  it("cvm: polls of many resources wait concurrently inside cloudrenew.map", function()
    local ids, fleet = {}, {}
    for i = 1, 6 do
      ids[i] = string.format("ins-cf1%05d", i)
      fleet[i] = { id = ids[i], expires_in_days = 3 }
    end
    fake:resources(fleet, { operation_seconds = 1 })
    local t0 = core.monotonic()
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = ids,
      period = 1, concurrency = 8, confirm = { timeout = 20, interval = 0.25 } })
    local took = core.monotonic() - t0
    assert.are.same({ 6, 6 }, { r.totals.renewed, r.totals.confirmed })
    assert.is_true(took < 4, "six 1 s operations confirmed one after another would take > 6 s; took " .. took)
    for _, id in ipairs(ids) do assert.are.equal(1, fake:renewals()[id]) end
  end)

  it("ecs: the expiry (ExpiredAt, +08:00) advanced past the one read before -> confirmed", function()
    fake:resources{ { id = "i-cf00000000000000001", expires_in_days = 4 } }
    local before = fake:resource("i-cf00000000000000001").expires
    local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs",
      resources = { "i-cf00000000000000001" }, period = 2, audit_log = log })
    local it = r.items[1]
    assert.are.same({ "renewed", true, before, fake:resource("i-cf00000000000000001").expires },
      { it.outcome, it.confirmed, it.expires_before, it.expires_after })
    assert.are.equal(before, events(log, "intent")[1].expires_before)
    assert.are.same({ ["i-cf00000000000000001"] = 1 }, fake:renewals())
  end)

  it("teo (DescribePlans) and hspro (cwp ProVersionDeadline, Beijing time): the expiry moved -> confirmed", function()
    fake:resources{ { id = "edgeone-cf0000000001", expires_in_days = 2 },
                    { id = "quuid-cf-0001", product = "hspro", expires_in_days = 2 } }
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "teo", resources = { "edgeone-cf0000000001" },
      period = 1, price = { ["edgeone-cf0000000001"] = 10 }, audit_log = log })
    assert.are.same({ "renewed", true, fake:resource("edgeone-cf0000000001").expires },
      { r.items[1].outcome, r.items[1].confirmed, r.items[1].expires_after })
    local h = assert(workflow.renew_if_under_budget{ client = tc, product = "hspro", resources = { "quuid-cf-0001" },
      period = 1, audit_log = log })
    assert.are.same({ "renewed", true, fake:resource("quuid-cf-0001").expires },
      { h.items[1].outcome, h.items[1].confirmed, h.items[1].expires_after })
    assert.are_not.equal(h.items[1].expires_before, h.items[1].expires_after)
    assert.are.same({ ["edgeone-cf0000000001"] = 1, ["quuid-cf-0001"] = 1 }, fake:renewals())
  end)

  it("confirm = false: no polling after the renewal, no confirm line", function()
    fake:resources{ { id = "ins-cf000004", expires_in_days = 5 } }
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000004" },
      period = 1, audit_log = log, confirm = false })
    assert.are.same({ "renewed" }, { r.items[1].outcome })
    assert.is_nil(r.items[1].confirmed)
    assert.are.equal(1, #fake:requests_for("DescribeInstances"))   -- the expiry read before sending
    assert.are.equal(0, #events(log, "confirm"))
    assert.is_string(events(log, "intent")[1].expires_before)
  end)

  it("a bad confirm option is InvalidParameter and sends nothing", function()
    local r, err = workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-cf000005" },
      period = 1, confirm = { timeout = "soon" } }
    assert.is_nil(r)
    assert.are.equal("ClientError.InvalidParameter", err.code)
    assert.truthy(err.message:find("confirm.timeout", 1, true))
    assert.are.equal(0, #fake:requests())
  end)
end)

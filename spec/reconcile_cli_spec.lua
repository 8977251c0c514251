-- `cloudrenew status` and `cloudrenew reconcile` as an operator runs them: a
-- separate lua5.4 process, an inventory, the fake cloud, the audit log. Exit
-- codes: status 0 (1 a read failed, 3 the log holds unknowns); reconcile 3 only
-- while some renewal remains unknown. Renewals counted at the fake.
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.client.json")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local read, write, q = fakecloud.read_file, fixture.write, fixture.q

describe("bin/cloudrenew status and reconcile", function()
  local fake, dir, creds, log

  local function run(args) return fixture.cli(dir, args) end   -- bin/cloudrenew, the fake's keys

  local function inventory(groups, name)
    local t = {}
    if groups.tencent then
      t.tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10 }
      for k, v in pairs(groups.tencent) do t.tencent[k] = v end
    end
    if groups.volcengine then
      t.volcengine = { region = "cn-beijing", endpoint = fake.url, timeout = 10 }
      for k, v in pairs(groups.volcengine) do t.volcengine[k] = v end
    end
    local path = dir .. "/" .. (name or "inventory.json")
    write(path, assert(json.encode(t)))
    return path
  end

  local CVM = { "ins-rc000001", "ins-rc000002", "ins-rc000003" }
  local function cvm_inv() return inventory{ tencent = { cvm = { period = 1, resources = CVM } } } end

  local function entries()
    local out = {}
    for l in (read(log) or ""):gmatch("[^\n]+") do out[#out + 1] = assert(json.decode(l)) end
    return out
  end

  local fx = fixture.new{ tls = false }
  setup(function() fake, creds = fx.fake, fakecloud.credentials() end)
  before_each(function()
    dir = fx:dir()
    log = dir .. "/audit.jsonl"
  end)

  it("status: expiry, auto-renew flag and the log's word per resource; sends and writes nothing; exit 0", function()
    fake:resources{ { id = "ins-rc000001", expires_in_days = 5 }, { id = "ins-rc000002", expires_in_days = 9, auto_renew = true },
                    { id = "ins-rc000003", prepaid = false } }
    local path = cvm_inv()
    -- renew only the first (through the CLI); the others stay untried
    local rc, out = run{ "apply", inventory({ tencent = { cvm = { period = 1, resources = { "ins-rc000001" } } } }, "one.json"),
      "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("ins%-rc000001.-expires %S+ %-> %S+; confirmed"), out)
    local before_log = read(log)
    local renew_sends = #fake:requests_for("RenewInstances")
    rc, out = run{ "status", path, "--audit-log", log, "--json" }
    assert.are.equal(0, rc, out)
    local doc = assert(json.decode(out), out)
    local res = {}
    for _, r in ipairs(doc.groups[1].resources) do res[r.id] = r end
    assert.are.equal(fake:resource("ins-rc000001").expires, res["ins-rc000001"].expires)
    assert.are.same({ "renewed", true }, { res["ins-rc000001"].log.outcome, res["ins-rc000001"].log.confirmed })
    assert.are.equal(res["ins-rc000001"].expires, res["ins-rc000001"].log.expires_after)
    assert.are.same({ false, true }, { res["ins-rc000001"].auto_renew, res["ins-rc000002"].auto_renew })
    assert.are.same({ "-", false }, { res["ins-rc000002"].log.outcome, res["ins-rc000003"].prepaid })
    assert.are.equal(renew_sends, #fake:requests_for("RenewInstances"))
    assert.are.equal(before_log, read(log))
    rc, out = run{ "status", path, "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("ins%-rc000001%s+%d+%-%d+%-%d+T[%d:]+Z%s+no%s+renewed %(confirmed%)"), out)
    assert.truthy(out:find("ins%-rc000002%s+%S+%s+yes%s+never tried"), out)
    assert.truthy(out:find("ins%-rc000003%s+postpaid"), out)
  end)

  it("status: a group's select lists what the reads find (with their expiry), renewing nothing", function()
    fake:resources{ { id = "ins-rs000001", expires_in_days = 5 }, { id = "ins-rs000002", expires_in_days = 100 } }
    local rc, out = run{ "status", inventory{ tencent = { cvm = { period = 1, select = { expires_within_days = 30 } } } },
      "--audit-log", log, "--json" }
    assert.are.equal(0, rc, out)
    local res = {}
    for _, r in ipairs(assert(json.decode(out), out).groups[1].resources) do res[r.id] = r end
    assert.are.equal(fake:resource("ins-rs000001").expires, res["ins-rs000001"].expires)
    assert.are.equal(fake:resource("ins-rs000002").expires, res["ins-rs000002"].expires)
    assert.are.equal(0, #fake:requests_for("RenewInstances"))
  end)

  it("status: a read the cloud refuses is shown and exits 1", function()
    local denied = '{"Response":{"Error":{"Code":"UnauthorizedOperation","Message":"no DescribeInstances for you"},'
      .. '"RequestId":"r-1"}}'
    fake:faults{ { action = "DescribeInstances", kind = "body", body = denied, count = 3 } }
    local rc, out = run{ "status", cvm_inv(), "--audit-log", log }
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("ins%-rc000001%s+read failed: UnauthorizedOperation"), out)
    assert.truthy(out:find("3 reads failed", 1, true), out)
    assert.are.equal(0, #fake:requests_for("RenewInstances"))
  end)

  it("apply: a CVM renewal accepted, then FAILED, is failed (exit 1) with the cloud's message; --json carries it", function()
    fake:resources{ { id = "ins-rc000001", operation_result = "FAILED", operation_error = "resource frozen" } }
    local rc, out = run{ "apply", inventory({ tencent = { cvm = { period = 1, resources = { "ins-rc000001", "ins-rc000002" } } } }),
      "--audit-log", log, "--json" }
    assert.are.equal(1, rc, out)
    local items = {}
    for _, it in ipairs(assert(json.decode(out), out).groups[1].items) do items[it.id] = it end
    local f, okr = items["ins-rc000001"], items["ins-rc000002"]
    assert.are.same({ "failed", true, "ClientError.RenewalFailed" }, { f.outcome, f.confirmed, f.error.code })
    assert.truthy(f.error.message:find("resource frozen", 1, true))
    assert.are.same({ "renewed", true, fake:resource("ins-rc000002").expires }, { okr.outcome, okr.confirmed, okr.expires_after })
    assert.are.equal(f.expires_before, f.expires_after)
  end)

  it("reconcile: a lost Tencent answer whose renewal ran is settled renewed (expiry); status then exits 0", function()
    fake:faults{ { action = "RenewInstances", kind = "drop_after", count = 1 } }
    local rc, out = run{ "apply", cvm_inv(), "--audit-log", log, "--concurrency", "1" }
    assert.are.equal(3, rc, out)
    rc, out = run{ "status", cvm_inv(), "--audit-log", log }
    assert.are.equal(3, rc, out)
    assert.truthy(out:find("1 unknown in the audit log", 1, true), out)
    rc, out = run{ "reconcile", cvm_inv(), "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("unknown%s+renewed%s+settled by expiry"), out)
    assert.truthy(out:find("settled 1 (1 renewed, 0 failed); 0 still unknown", 1, true), out)
    local s = entries()[#entries()]
    assert.are.same({ "settle", "renewed", "expiry" }, { s.event, s.outcome, s.settled_by })
    rc, out = run{ "status", cvm_inv(), "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("renewed (settled by expiry)", 1, true), out)
    -- each renewed once; reconcile sent no renewal
    assert.are.same({ ["ins-rc000001"] = 1, ["ins-rc000002"] = 1, ["ins-rc000003"] = 1 }, fake:renewals())
    assert.are.equal(3, #fake:requests_for("RenewInstances"))
    rc, out = run{ "reconcile", cvm_inv(), "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("nothing to settle", 1, true), out)
  end)

  it("reconcile: no proof -> still unknown, exit 3, nothing resent; issue 21 case 3: --settle-after below 6 h is refused, an old intent settles failed", function()
    fake:faults{ { action = "RenewInstances", kind = "drop_before", count = 1 } }
    local rc, out = run{ "apply", cvm_inv(), "--audit-log", log, "--concurrency", "1" }
    assert.are.equal(3, rc, out)
    local sends = #fake:requests_for("RenewInstances")
    rc, out = run{ "reconcile", cvm_inv(), "--audit-log", log, "--json" }
    assert.are.equal(3, rc, out)
    local doc = assert(json.decode(out), out)
    assert.are.same({ 1, 0, 3 }, { doc.totals.unknown, doc.totals.settled, doc.exit_code })
    assert.are.equal(sends, #fake:requests_for("RenewInstances"))
    -- a CVM renewal may still be OPERATING: 0 (or anything under the floor) is bad input
    for _, v in ipairs{ "0", "60", "21599", "-5" } do
      rc, out = run{ "reconcile", cvm_inv(), "--audit-log", log, "--settle-after", v }
      assert.are.equal(2, rc, out)
    end
    -- the floor itself, on a fresh intent: not yet
    rc, out = run{ "reconcile", cvm_inv(), "--audit-log", log, "--settle-after", "21600" }
    assert.are.equal(3, rc, out)
    assert.truthy(out:find("settle_after (21600 s) has not passed", 1, true), out)
    -- the same intent seven hours old: settled failed
    local text = read(log)
    local t = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() - 7 * 3600)
    write(log, (text:gsub('"time":"[^"]*"', '"time":"' .. t .. '"')))
    rc, out = run{ "reconcile", cvm_inv(), "--audit-log", log, "--settle-after", "21600" }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("unknown%s+failed%s+settled by settle_after"), out)
    assert.are.equal(sends, #fake:requests_for("RenewInstances"))
    assert.are.same({ ["ins-rc000002"] = 1, ["ins-rc000003"] = 1 }, fake:renewals())
  end)

  it("issue 21 case 2: reconcile re-sends no ClientToken while the expiry read fails; once read, the moved expiry settles it, renewed once", function()
    local volc = assert(cloudrenew.volcengine(fake:volc_opts{ retry = { max_attempts = 2, base_delay = 0.01 } }))
    fake:faults{ { action = "RenewInstance", kind = "body", status = 502, body = "<html>gateway</html>", count = 1, execute = true },
                 { action = "RenewInstance", kind = "body", status = 502, body = "<html>gateway</html>", count = 1 } }
    -- the expiry read fails too, so only the token can settle it
    local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", resources = { "i-rc00000000000000001" },
      period = 1, audit_log = log, confirm = false })
    volc:close()
    assert.are.equal("unknown", r.items[1].outcome)
    -- issue 21 case 2: the expiry read fails: nothing proves it unmoved, so the token is not re-sent
    local inv = inventory{ volcengine = { ecs = { period = 1, resources = { "i-rc00000000000000001" } } } }
    fake:faults{ { action = "DescribeInstances", kind = "status500", count = 4 } }
    local sends = #fake:requests_for("RenewInstance")
    local rc, out = run{ "reconcile", inv, "--audit-log", log }
    assert.are.equal(3, rc, out)
    assert.truthy(out:find("not re-sent: read failed", 1, true), out)
    assert.are.equal(sends, #fake:requests_for("RenewInstance"))
    -- the read works again: the expiry moved (it ran), settled by expiry, nothing re-sent
    rc, out = run{ "reconcile", inv, "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("unknown%s+renewed%s+settled by expiry"), out)
    assert.are.equal(sends, #fake:requests_for("RenewInstance"))
    assert.are.same({ ["i-rc00000000000000001"] = 1 }, fake:renewals())
    local token = entries()[1].client_token
    for _, s in ipairs(fake:requests_for("RenewInstance")) do assert.truthy(s.query:find("ClientToken=" .. token, 1, true)) end
  end)
  -- issue 21 case 1: every log entry is asked where its renewal went
  it("issue 21 case 1: two ecs groups in two regions: reconcile and status ask each entry's own region; NotFound proves nothing", function()
    fake:resources{ { id = "i-rg00000000000000001", product = "ecs", region = "cn-beijing", expires_in_days = 3 },
                    { id = "i-rg00000000000000002", product = "ecs", region = "cn-shanghai", expires_in_days = 3 } }
    local inv = inventory{ volcengine = { ecs = {
      { name = "bj", period = 1, resources = { "i-rg00000000000000001" } },
      { name = "sh", region = "cn-shanghai", period = 1, resources = { "i-rg00000000000000002" } } } } }
    -- the second group's renewal: every answer lost, never executed
    local volc = assert(cloudrenew.volcengine(fake:volc_opts{ region = "cn-shanghai", retry = { max_attempts = 2, base_delay = 0.01 } }))
    fake:faults{ { action = "RenewInstance", kind = "body", status = 502, body = "<html>gateway</html>", count = 2 } }
    local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", resources = { "i-rg00000000000000002" },
      period = 1, audit_log = log })
    volc:close()
    assert.are.equal("unknown", r.items[1].outcome)
    local intent = entries()[1]
    assert.are.same({ "intent", "cn-shanghai" }, { intent.event, intent.region })
    assert.are.equal(fake.url:match("^http://(.*)$"), intent.host)
    -- status reads it in its own region (listed, with its expiry), under its own group
    local rc, out = run{ "status", inv, "--audit-log", log, "--json" }
    assert.are.equal(3, rc, out)
    local found
    for _, g in ipairs(assert(json.decode(out), out).groups) do
      for _, row in ipairs(g.resources) do
        if row.id == "i-rg00000000000000002" then found = { g.name, row.found, row.expires } end
      end
    end
    assert.are.same({ "sh", true, fake:resource("i-rg00000000000000002").expires }, found)
    rc, out = run{ "reconcile", inv, "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("sh%s+i%-rg00000000000000002%s+%x+%s+unknown%s+renewed%s+settled by client_token"), out)
    for _, q in ipairs(fake:requests()) do
      if q.query and tostring(q.query):find("rg00000000000000002", 1, true) then assert.are.equal("cn-shanghai", q.region) end
    end
    local settles = {}
    for _, e in ipairs(entries()) do if e.event == "settle" then settles[#settles + 1] = e.outcome end end
    assert.are.same({ "renewed" }, settles)
    rc, out = run{ "apply", inv, "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.are.same({ ["i-rg00000000000000001"] = 1, ["i-rg00000000000000002"] = 1 }, fake:renewals())
  end)

  it("issue 21 case 1: an entry no group reaches (its region left the inventory) stays unknown; nothing is sent", function()
    fake:resources{ { id = "i-rg00000000000000003", product = "ecs", region = "cn-shanghai", expires_in_days = 3 } }
    local volc = assert(cloudrenew.volcengine(fake:volc_opts{ region = "cn-shanghai", retry = { max_attempts = 2, base_delay = 0.01 } }))
    fake:faults{ { action = "RenewInstance", kind = "body", status = 502, body = "<html>gateway</html>", count = 2 } }
    assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", resources = { "i-rg00000000000000003" },
      period = 1, audit_log = log })
    volc:close()
    local sends = #fake:requests_for("RenewInstance")
    local rc, out = run{ "reconcile", inventory{ volcengine = { ecs = { period = 1, resources = { "i-rg00000000000000009" } } } },
      "--audit-log", log }
    assert.are.equal(3, rc, out)
    assert.truthy(out:find("went to region cn-shanghai", 1, true), out)
    assert.are.equal(sends, #fake:requests_for("RenewInstance"))
    for _, e in ipairs(entries()) do assert.are_not.equal("settle", e.event) end
    assert.are.same({}, fake:renewals())
  end)
end)

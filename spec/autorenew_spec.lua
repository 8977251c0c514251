-- Issue 23 part 4: auto-renew, managed like renewals. cloudrenew.workflow.autorenew
-- plans each change before anything is sent, applies it through Tencent billing
-- SetRenewal / Volcengine billing SetRenewalType (any product), records intent and
-- result in the audit log, confirms it by reading the flag back, resumes without
-- re-sending, and holds what it turns on to the budget for one renewal cycle.
-- Against the fake cloud's billing actions (part 5).
local autorenew = require("cloudrenew.workflow.autorenew")
local json = require("cloudrenew.client.json")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local FLEET = {
  { id = "ins-ar000001", region = "ap-guangzhou", expires_in_days = 20.5 },                  -- cvm, manual
  { id = "ins-ar000002", region = "ap-shanghai", expires_in_days = 40.5, auto_renew = true }, -- cvm, auto
  { id = "cos-ar00001", product = "other", cloud = "tencent", product_code = "p_cos",
    sub_product_code = "sp_cos", region = "ap-shanghai", expires_in_days = 10.5 },           -- console only
  { id = "i-ar00000000000000001", expires_in_days = 15.5 },                                   -- ecs, manual
  { id = "rds-ar000001", product = "other", cloud = "volcengine", product_code = "RDS_MySQL",
    expires_in_days = 30.5, auto_renew = true },
}

local CHANGES = {
  { cloud = "tencent", id = "ins-ar000001", auto_renew = true, period = 1 },
  { cloud = "tencent", id = "ins-ar000002", auto_renew = false },
  { cloud = "tencent", id = "cos-ar00001", auto_renew = true, period = 12 },
  { cloud = "volcengine", id = "i-ar00000000000000001", auto_renew = true, period = 1 },
  { cloud = "volcengine", id = "rds-ar000001", auto_renew = false },
}

local function changes(filter)
  local out = {}
  for _, c in ipairs(CHANGES) do
    if not filter or filter(c) then
      out[#out + 1] = { cloud = c.cloud, id = c.id, auto_renew = c.auto_renew, period = c.period }
    end
  end
  return out
end

local function flags(fake)
  local t = {}
  for _, r in ipairs(fake:fleet().resources) do t[r.id] = r.auto_renew end
  return t
end

local sets = function(fake)
  return #fake:requests_for("SetRenewal") + #fake:requests_for("SetRenewalType")
end

describe("autorenew (issue 23 part 4)", function()
  local fake, tc, volc
  local fx = fixture.new{ tls = false }
  setup(function() fake, tc, volc = fx.fake, fx:tencent(), fx:volcengine() end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = { ["ins-ar000001"] = 100, ["i-ar00000000000000001"] = 100 } }
  end)

  it("plan shows each change (current, wanted, period, price of one cycle) and sends nothing", function()
    local report = assert(autorenew.plan{ clients = { tc, volc }, changes = changes() })
    local by = fixture.by_id(report)
    local a = by["ins-ar000001"]
    assert.are.same({ false, true, 1, "change", "planned", "80.00", "billing SetRenewal" },
      { a.current, a.wanted, a.period, a.decision, a.outcome, a.price, a.route })
    local b = by["ins-ar000002"]
    assert.are.same({ true, false, "change", "planned" }, { b.current, b.wanted, b.decision, b.outcome })
    assert.is_nil(b.price)                   -- turning off commits nothing
    local d = by["cos-ar00001"]
    assert.are.same({ "p_cos", "ap-shanghai", "change", 12 }, { d.product_code, d.region, d.decision, d.period })
    assert.is_nil(d.price)                   -- no inquiry for a console-only product
    local e = by["i-ar00000000000000001"]
    assert.are.same({ "ECS", "85.00", "billing SetRenewalType" }, { e.product_code, e.price, e.route })
    assert.are.equal(5, report.totals.planned)
    assert.are.equal("165.00", report.totals.committed)   -- one cycle of what it turns on, where priced
    assert.are.equal(0, sets(fake))
  end)

  it("apply changes exactly the planned flags, once, logs intent, result and confirmation, and resumes", function()
    local log = fx:log()
    local before = flags(fake)
    local report = assert(autorenew.apply{ clients = { tc, volc }, changes = changes(), audit_log = log })
    assert.are.equal(5, report.totals.applied, json.encode(report.items))
    for _, it in ipairs(report.items) do
      assert.are.equal("applied", it.outcome, it.id)
      assert.is_true(it.confirmed, it.id)
    end
    local after = flags(fake)
    for _, c in ipairs(changes()) do assert.are.equal(c.auto_renew, after[c.id], c.id) end
    assert.are.equal(5, sets(fake))
    -- the requests: ProductCode and RegionCode from billing's list, the flag, the period
    local tr = {}
    for _, r in ipairs(fake:requests_for("SetRenewal")) do local b = json.decode(r.body); tr[b.InstanceId] = b end
    assert.are.same({ ProductCode = "p_cvm", RegionCode = "ap-guangzhou", InstanceId = "ins-ar000001",
                      RenewFlag = "NOTIFY_AND_AUTO_RENEW", RenewPeriod = "1", RenewPeriodUnit = "m" }, tr["ins-ar000001"])
    assert.are.same({ "1", "y" }, { tr["cos-ar00001"].RenewPeriod, tr["cos-ar00001"].RenewPeriodUnit })
    assert.are.equal("NOTIFY_AND_MANUAL_RENEW", tr["ins-ar000002"].RenewFlag)
    local vr = json.decode(fake:requests_for("SetRenewalType")[1].body)
    assert.truthy(vr.ClientToken and vr.Product and vr.RenewType)
    -- the log: an intent, a result and a confirm per change
    assert.are.equal(5, #fixture.events(log, "intent"))
    assert.are.equal(5, #fixture.events(log, "result"))
    assert.are.equal(5, #fixture.events(log, "confirm"))
    for _, e in ipairs(fixture.events(log, "intent")) do assert.truthy(e.product:find("^autorenew:")) end
    -- again: everything is in the log, nothing is sent
    local again = assert(autorenew.apply{ clients = { tc, volc }, changes = changes(), audit_log = log })
    assert.are.equal(5, sets(fake))
    for _, it in ipairs(again.items) do assert.is_true(it.resumed, it.id) end
    assert.are_not.same(before, after)
  end)

  it("the budget holds one renewal cycle of what it turns on; unpriced ones are not turned on under a budget", function()
    -- one budget per cloud: Tencent's and Volcengine's prices are never added together
    local log = fx:log()
    local report = assert(autorenew.apply{ clients = { tc, volc }, audit_log = log, budget = "100",
      changes = changes(function(c) return c.auto_renew and c.cloud == "tencent" end) })
    local by = fixture.by_id(report)
    assert.are.equal("applied", by["ins-ar000001"].outcome)               -- 80.00 fits
    assert.are.equal("no_price", by["cos-ar00001"].decision)
    assert.are.equal(1, sets(fake))
    assert.are.equal("80.00", report.totals.committed)
    report = assert(autorenew.apply{ clients = { tc, volc }, audit_log = log, budget = "80",
      changes = changes(function(c) return c.auto_renew and c.cloud == "volcengine" end) })
    assert.are.equal("over_budget", report.items[1].decision)             -- 85.00 > 80
    assert.are.equal(1, sets(fake))
  end)

  it("never adds two currencies: a budget over changes priced by both clouds is refused, nothing sent", function()
    for _, mode in ipairs{ "plan", "apply" } do
      local r, err = autorenew[mode]{ clients = { tc, volc }, audit_log = fx:log(), budget = "1000",
        changes = changes(function(c) return c.auto_renew end) }
      assert.is_nil(r)
      assert.are.equal("ClientError.InvalidParameter", err.code, tostring(err))
      local msg = tostring(err)
      assert.truthy(msg:find("tencent", 1, true) and msg:find("volcengine", 1, true), msg)
      assert.truthy(msg:find("--cloud", 1, true), msg)
    end
    assert.are.same({}, fake:requests())
    -- turning off commits nothing: a budget over one cloud's "on" and the other's "off" is fine
    assert(autorenew.plan{ clients = { tc, volc }, budget = "1000", changes = changes(function(c)
      return c.cloud == "tencent" or not c.auto_renew end) })
    -- without a budget nothing is summed against a cap: both clouds plan together
    assert(autorenew.plan{ clients = { tc, volc }, changes = changes() })
  end)

  it("never adds two currencies within one cloud: prices answered in two currencies refuse the budget, nothing changed", function()
    fake:resources({ { id = "i-ar00000000000000002", expires_in_days = 25.5 } }, { merge = true })
    local ids = '{"InstanceID":"i-ar00000000000000001","Product":"ECS","OriginalAmount":"10.00","DiscountAmount":"9.00"},'
      .. '{"InstanceID":"i-ar00000000000000002","Product":"ECS","OriginalAmount":"10.00","DiscountAmount":"9.00"}'
    fake:faults{ { action = "QueryPriceForRenew", kind = "body", body = '{"ResponseMetadata":{"RequestId":"rid-usd",'
      .. '"Action":"QueryPriceForRenew","Version":"2022-01-01"},"Result":{"Currency":"USD","TotalOriginalAmount":"20.00",'
      .. '"TotalDiscountAmount":"18.00","InstanceAmountList":[' .. ids .. ']}}' } }
    local r, err = autorenew.apply{ clients = { volc }, audit_log = fx:log(), budget = "1000", changes = {
      { cloud = "volcengine", id = "i-ar00000000000000001", auto_renew = true, period = 1 },
      { cloud = "volcengine", id = "i-ar00000000000000002", auto_renew = true, period = 2 } } }
    assert.is_nil(r)
    assert.are.equal("ClientError.InvalidParameter", err.code, tostring(err))
    assert.truthy(tostring(err):find("USD", 1, true) and tostring(err):find("CNY", 1, true), tostring(err))
    assert.are.equal(2, #fake:requests_for("QueryPriceForRenew"))
    assert.are.equal(0, sets(fake))
  end)

  it("an answer lost on the way back is unknown, never re-sent; the flag read back settles it", function()
    local log = fx:log()
    fake:faults{ { action = "SetRenewal", kind = "drop_after" } }
    local one = changes(function(c) return c.id == "ins-ar000001" end)
    local report = assert(autorenew.apply{ clients = { tc }, changes = one, audit_log = log })
    local it = report.items[1]
    assert.are.equal("unknown", it.outcome)
    assert.are.equal(1, #fake:requests_for("SetRenewal"))
    assert.is_true(flags(fake)["ins-ar000001"])       -- the fake did act
    local again = assert(autorenew.apply{ clients = { tc }, changes = one, audit_log = log })
    assert.are.equal(1, #fake:requests_for("SetRenewal"))
    assert.are.same({ "applied", true, "flag" }, { again.items[1].outcome, again.items[1].resumed, again.items[1].settled_by })
    assert.are.equal(1, #fixture.events(log, "settle"))
  end)

  it("a refused change is failed with the cloud's code and RequestId; a hostile answer never raises", function()
    local log = fx:log()
    fake:faults{
      { action = "SetRenewal", kind = "body", execute = false,
        body = '{"Response":{"Error":{"Code":"FailedOperation","Message":"no"},"RequestId":"rid-refused-1"}}' },
      { action = "SetRenewalType", kind = "body", execute = false,
        body = '{"ResponseMetadata":{"RequestId":"rid-hostile-2","Action":"SetRenewalType","Version":"2022-01-01"},'
          .. '"Result":{"SuccessInstanceList":[7,{"InstanceID":{}},"x"]}}' } }
    local ok, report = pcall(autorenew.apply, { clients = { tc, volc }, audit_log = log,
      changes = changes(function(c) return c.id == "ins-ar000001" or c.id == "i-ar00000000000000001" end) })
    assert.is_true(ok, tostring(report))
    local by = fixture.by_id(report)
    local a, e = by["ins-ar000001"], by["i-ar00000000000000001"]
    assert.are.same({ "failed", "FailedOperation", "rid-refused-1" }, { a.outcome, a.error.code, a.request_id })
    assert.are.same({ "failed", "rid-hostile-2" }, { e.outcome, e.request_id })
    assert.is_false(flags(fake)["ins-ar000001"])
    -- failed is certain: the next run sends it again (once)
    local again = assert(autorenew.apply{ clients = { tc }, audit_log = log,
      changes = changes(function(c) return c.id == "ins-ar000001" end) })
    assert.are.equal("applied", again.items[1].outcome)
    assert.are.equal(2, #fake:requests_for("SetRenewal"))
  end)

  it("what is already as wanted, not listed or without a region is skipped, nothing sent", function()
    fake:resources({ { id = "ins-noregion2", expires_in_days = 9 } }, { merge = true })
    local report = assert(autorenew.apply{ clients = { tc }, audit_log = fx:log(), changes = {
      { cloud = "tencent", id = "ins-ar000002", auto_renew = true },
      { cloud = "tencent", id = "ins-nothere1", auto_renew = true },
      { cloud = "tencent", id = "ins-noregion2", auto_renew = true } } })
    local by = fixture.by_id(report)
    assert.are.same({ "unchanged", "not_found", "no_region" },
      { by["ins-ar000002"].decision, by["ins-nothere1"].decision, by["ins-noregion2"].decision })
    for _, it in ipairs(report.items) do assert.are.equal("skipped", it.outcome) end
    assert.are.equal(0, sets(fake))
  end)

  it("refuses bad input with ClientError.InvalidParameter, sending nothing", function()
    local ok1 = { cloud = "tencent", id = "ins-ar000001", auto_renew = true }
    for _, o in ipairs{
      { clients = { tc }, changes = { { cloud = "tencent", id = "ins-ar000001", auto_renew = "yes" } } },
      { clients = { tc }, changes = { { cloud = "volcengine", id = "i-1", auto_renew = true } } },
      { clients = { tc }, changes = { { cloud = "tencent", id = "ins-ar000001", auto_renew = true, period = 0 } } },
      { clients = { tc }, changes = { { cloud = "tencent", id = "ins-ar000001", auto_renew = true, period = 13 } } },
      { clients = { tc }, changes = { ok1, ok1 } },
      { clients = { tc }, changes = { { cloud = "tencent", id = "bad id\n", auto_renew = true } } },
      { clients = { tc }, changes = {} },
      { clients = { tc }, changes = { ok1 }, budget = "-1" },
      { clients = { tc }, changes = { ok1 } },   -- apply without an audit log
    } do
      local r, err = autorenew.apply(o)
      assert.is_nil(r)
      assert.are.equal("ClientError.InvalidParameter", err.code, tostring(err))
    end
    assert.are.same({}, fake:requests())
  end)
end)

describe("cloudrenew autorenew plan|apply (issue 23 part 4)", function()
  local fake, dir, creds
  local read, write, q = fakecloud.read_file, fixture.write, fixture.q
  local fx = fixture.new{ tls = false }
  setup(function() fake, creds = fx.fake, fakecloud.credentials() end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = { ["ins-ar000001"] = 100, ["i-ar00000000000000001"] = 100 } }
    dir = fx:dir()
  end)

  local function run(args) return fixture.cli(dir, args) end   -- bin/cloudrenew, the fake's keys

  local function inventory(extra, name)
    local t = { tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10, autorenew = {} },
                volcengine = { endpoint = fake.url, timeout = 10, autorenew = {} } }
    for _, c in ipairs(changes()) do
      table.insert(t[c.cloud].autorenew, { id = c.id, auto_renew = c.auto_renew, period = c.period })
    end
    for cloud, list in pairs(extra or {}) do for _, x in ipairs(list) do table.insert(t[cloud].autorenew, x) end end
    local path = dir .. "/" .. (name or "inventory.json")
    write(path, json.encode(t))
    return path
  end

  it("plan prints each change and sends nothing; apply makes them once; again sends nothing", function()
    local log = dir .. "/audit.jsonl"
    local rc, out, err = run{ "autorenew", "plan", inventory(), "--audit-log", log }
    assert.are.equal(0, rc, out .. err)
    assert.truthy(out:find("ins%-ar000001%s+tencent%s+cvm%s+ap%-guangzhou%s+off%s+on%s+1m%s+80%.00%s+change%s+planned"), out)
    assert.truthy(out:find("rds%-ar000001%s+volcengine%s+RDS_MySQL%s+%-%s+on%s+off"), out)
    assert.are.equal(0, sets(fake))
    assert.is_nil(read(log))
    rc, out = run{ "autorenew", "apply", inventory(), "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("5 applied", 1, true), out)
    assert.are.equal(5, sets(fake))
    rc, out = run{ "autorenew", "apply", inventory(), "--audit-log", log, "--json" }
    assert.are.equal(0, rc, out)
    assert.are.equal(5, sets(fake))
    local doc = assert(json.decode(out))
    assert.are.equal(5, doc.totals.resumed)
  end)

  it("--cloud C takes one cloud's changes: one budget per cloud", function()
    local log = dir .. "/audit.jsonl"
    local rc, out, err = run{ "autorenew", "apply", inventory(), "--budget", "100", "--cloud", "tencent", "--audit-log", log }
    assert.are.equal(1, rc, out .. err)                            -- cos-ar00001 has no price under a budget
    assert.truthy(out:find("ins%-ar000001.-applied"), out)
    assert.is_nil(out:find("i-ar00000000000000001", 1, true), out)
    assert.are.equal(2, #fake:requests_for("SetRenewal"))         -- ins-ar000001 on, ins-ar000002 off
    assert.are.equal(0, #fake:requests_for("SetRenewalType"))
    rc, out, err = run{ "autorenew", "plan", inventory(), "--budget", "100", "--cloud", "volcengine" }
    assert.are.equal(0, rc, out .. err)
    assert.truthy(out:find("i%-ar00000000000000001.-change%s+planned"), out)
    rc, out, err = run{ "autorenew", "plan", inventory(), "--cloud", "aws" }
    assert.are.equal(2, rc, out .. err)
  end)

  it("exit 1 when a change cannot be made; 2 on bad input, nothing sent", function()
    local rc, out = run{ "autorenew", "plan", inventory{ tencent = { { id = "ins-nothere1", auto_renew = true } } } }
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("ins%-nothere1.-not_found"), out)
    local n = #fake:requests()
    for _, args in ipairs{
      { "autorenew", "apply", inventory({ tencent = { { id = "ins-ar000009", auto_renew = "yes" } } }, "bad.json") },
      { "autorenew", "apply", inventory(), "--budget", "lots" },
      { "autorenew", "apply", inventory(), "--budget", "500" },   -- two clouds' prices never add up
      { "autorenew", "run", inventory() },
    } do
      local code, _, err = run(args)
      assert.are.equal(2, code, table.concat(args, " ") .. ": " .. err)
    end
    local code, _, err = run{ "autorenew", "apply", inventory(), "--budget", "500" }
    assert.truthy(err:find("--cloud", 1, true), err)
    code, _, err = run{ "autorenew", "apply", inventory{ tencent = { { id = "ins-ar000009", auto_renew = "yes" } } } }
    assert.truthy(err:find("tencent.autorenew[4].auto_renew", 1, true), err)
    assert.are.equal(2, code)
    assert.are.equal(n, #fake:requests())
  end)
end)

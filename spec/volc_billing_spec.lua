-- Issue 23 part 2: every Volcengine product ListAvailableInstances shows is priced
-- by billing QueryPriceForRenew and renewed by billing RenewInstance with its
-- Product code (product "volc_billing", the volc billing route), with the ClientToken
-- rules ecs has; confirmed by the expiry moving in ListAvailableInstances. ecs
-- keeps its own route. Against the fake cloud, whose billing actions are bounded
-- by the official definitions (spec/fakecloud/official.py).
local workflow = require("cloudrenew.workflow")
local expiring = require("cloudrenew.workflow.expiring")
local settle = require("cloudrenew.workflow.settle")
local audit = require("cloudrenew.workflow.audit")
local json = require("cloudrenew.client.json")
local fixture = require("support.fixture")

local FLEET = {
  { id = "rds-vb000001", product = "other", cloud = "volcengine", product_code = "RDS_MySQL", expires_in_days = 4.5 },
  { id = "redis-vb00001", product = "other", cloud = "volcengine", product_code = "Redis", expires_in_days = 9.5 },
  { id = "clb-vb000001", product = "other", cloud = "volcengine", product_code = "CLB", expires_in_days = 90.5 },
  { id = "i-vb00000000000000001", expires_in_days = 6.5 },                                    -- ecs: its own route
}

local function body(r) return json.decode(r.body) end

describe("the Volcengine billing route (issue 23 part 2)", function()
  local fake, volc, log
  local fx = fixture.new{ tls = false }
  setup(function()
    fake, volc = fx.fake, fx:volcengine{ retry = { max_attempts = 2, base_delay = 0.01, max_delay = 0.05 } }
  end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = { ["rds-vb000001"] = 100, ["redis-vb00001"] = 200 } }
    log = fx:log()
  end)

  it("cloudrenew expiring shows every other product as renewable by billing RenewInstance, priced by its inquiry", function()
    local report = assert(expiring.list{ clients = { volc }, days = 30 })
    local by = fixture.by_id(report.rows and { items = report.rows } or report)
    local rds = by["rds-vb000001"]
    assert.are.same({ "RDS_MySQL", "billing RenewInstance", true, false, "85.00" },
      { rds.product_code, rds.route, rds.renewable, rds.attention, rds.price })
    assert.are.equal("ecs RenewInstance", by["i-vb00000000000000001"].route)   -- ecs keeps its own
    local asked = {}
    for _, r in ipairs(fake:requests_for("QueryPriceForRenew")) do
      local b = body(r)
      for _, id in ipairs(b.InstanceIDList) do asked[id] = b.Product end
    end
    assert.are.same({ ["rds-vb000001"] = "RDS_MySQL", ["redis-vb00001"] = "Redis", ["i-vb00000000000000001"] = "ECS" }, asked)
    assert.are.equal(0, report.totals.attention)
    assert.are.same({}, fake:renewals())
    -- metrics (cloudrenew.metrics): renewable, by the volc_billing route
    local text = require("cloudrenew.metrics").render{ expiring = report, now = 1800000000 }
    assert.truthy(text:find('cloudrenew_resource_renewable{cloud="volcengine",product="RDS_MySQL",region="",'
      .. 'id="rds-vb000001",route="volc_billing"} 1', 1, true), text)
  end)

  it("prices, renews once with a ClientToken, confirms by the expiry in ListAvailableInstances, resumes", function()
    local rows = { { Product = "RDS_MySQL", InstanceID = "rds-vb000001" }, { Product = "Redis", InstanceID = "redis-vb00001" } }
    local o = { client = volc, product = "volc_billing", period = 1, resources = rows, budget = "200", audit_log = log }
    local report = assert(workflow.renew_if_under_budget(o))
    local by = fixture.by_id(report)
    assert.are.same({ "85.00", "renew", "renewed", true }, { by["rds-vb000001"].price, by["rds-vb000001"].decision,
      by["rds-vb000001"].outcome, by["rds-vb000001"].confirmed })
    assert.are.same({ "170.00", "over_budget" }, { by["redis-vb00001"].price, by["redis-vb00001"].decision })
    assert.are.same({ ["rds-vb000001"] = 1 }, fake:renewals())
    local sent = fake:requests_for("RenewInstance")
    assert.are.equal(1, #sent)
    local b = body(sent[1])
    local intent = fixture.events(log, "intent")[1]
    assert.are.same({ "RDS_MySQL", "rds-vb000001", 1, "Month", intent.client_token },
      { b.Product, b.InstanceID, b.RenewalDuration, b.RenewalDurationUnit, b.ClientToken })
    assert.are.same({ "volc_billing", "RDS_MySQL" }, { intent.product, intent.product_code })
    assert.truthy(intent.expires_before)
    assert.are.equal(fake:resource("rds-vb000001").expires, by["rds-vb000001"].expires_after)
    -- again: the log holds it, nothing is sent
    local again = assert(workflow.renew_if_under_budget(o))
    assert.is_true(fixture.by_id(again)["rds-vb000001"].resumed)
    assert.are.equal(1, #fake:requests_for("RenewInstance"))
  end)

  it("a lost answer is unknown, never re-sent blindly; settled by the same ClientToken and parameters: renewed once", function()
    fake:faults{ { action = "RenewInstance", kind = "body", status = 502, body = "<html>bad gateway</html>",
                   count = 2, execute = true } }
    local rows = { { Product = "RDS_MySQL", InstanceID = "rds-vb000001" } }
    local r1 = assert(workflow.renew_if_under_budget{ client = volc, product = "volc_billing", period = 1,
      resources = rows, audit_log = log, confirm = { timeout = 0, interval = 0.01 } })
    assert.are.equal("unknown", r1.items[1].outcome)
    assert.are.same({ ["rds-vb000001"] = 1 }, fake:renewals())
    local n = #fake:requests_for("RenewInstance")
    local l = assert(audit.open(log, { lock = true }))
    local out = settle.resource(l, volc, "volc_billing", "rds-vb000001")
    l:close()
    -- the expiry moved already: settled by it, nothing re-sent
    assert.are.same({ "renewed", "expiry" }, { out[1].outcome, out[1].settled_by })
    assert.are.equal(n, #fake:requests_for("RenewInstance"))
    assert.are.same({ ["rds-vb000001"] = 1 }, fake:renewals())
  end)

  it("a lost answer of a renewal never executed is settled by re-sending its ClientToken: executed once", function()
    fake:faults{ { action = "RenewInstance", kind = "body", status = 502, body = "<html>bad gateway</html>",
                   count = 2, execute = false } }
    local rows = { { Product = "Redis", InstanceID = "redis-vb00001" } }
    local r = assert(workflow.renew_if_under_budget{ client = volc, product = "volc_billing", period = 1,
      resources = rows, audit_log = log, settle = true, confirm = { timeout = 0, interval = 0.01 } })
    assert.are.same({ "renewed", "client_token" }, { r.items[1].outcome, r.items[1].settled_by })
    local sends = fake:requests_for("RenewInstance")
    assert.are.equal(3, #sends)
    local token = fixture.events(log, "intent")[1].client_token
    for _, s in ipairs(sends) do
      assert.are.same({ token, "Redis" }, { body(s).ClientToken, body(s).Product })
    end
    assert.are.same({ ["redis-vb00001"] = 1 }, fake:renewals())
  end)

  it("never adds two currencies: under a cap, a price in another currency than the first renewed is other_currency", function()
    fake:faults{ { action = "QueryPriceForRenew", kind = "body", body = '{"ResponseMetadata":{"RequestId":"rid-usd",'
      .. '"Action":"QueryPriceForRenew","Version":"2022-01-01"},"Result":{"Currency":"USD","TotalOriginalAmount":"10.00",'
      .. '"TotalDiscountAmount":"9.00","InstanceAmountList":[{"InstanceID":"rds-vb000001","Product":"RDS_MySQL",'
      .. '"OriginalAmount":"10.00","DiscountAmount":"9.00"}]}}' } }
    local rows = { { Product = "RDS_MySQL", InstanceID = "rds-vb000001" }, { Product = "Redis", InstanceID = "redis-vb00001" } }
    local report = assert(workflow.renew_if_under_budget{ client = volc, product = "volc_billing", period = 1,
      resources = rows, budget = "1000", dry_run = true })
    local by = fixture.by_id(report)
    assert.are.same({ "renew", "USD" }, { by["rds-vb000001"].decision, by["rds-vb000001"].currency })
    assert.are.same({ "other_currency", "CNY", "skipped" },
      { by["redis-vb00001"].decision, by["redis-vb00001"].currency, by["redis-vb00001"].outcome })
    assert.are.equal("9.00", report.totals.planned_amount)   -- 9.00 USD, never + 170.00 CNY
    -- without a cap nothing is summed against one: both are renewed
    fake:faults{ { action = "QueryPriceForRenew", kind = "body", body = '{"ResponseMetadata":{"RequestId":"rid-usd",'
      .. '"Action":"QueryPriceForRenew","Version":"2022-01-01"},"Result":{"Currency":"USD","TotalOriginalAmount":"10.00",'
      .. '"TotalDiscountAmount":"9.00","InstanceAmountList":[{"InstanceID":"rds-vb000001","Product":"RDS_MySQL",'
      .. '"OriginalAmount":"10.00","DiscountAmount":"9.00"}]}}' } }
    report = assert(workflow.renew_if_under_budget{ client = volc, product = "volc_billing", period = 1,
      resources = rows, dry_run = true })
    for _, it in ipairs(report.items) do assert.are.equal("renew", it.decision, it.id) end
  end)

  it("discovery lists every product of the account but those with their own route", function()
    local report = assert(workflow.renew_if_under_budget{ client = volc, product = "volc_billing", period = 1,
      select = { expires_within_days = 30 }, dry_run = true })
    local by = fixture.by_id(report)
    assert.are.same({ "renew", "renew" }, { by["rds-vb000001"].decision, by["redis-vb00001"].decision })
    assert.is_nil(by["i-vb00000000000000001"], "ecs is renewed by its own route")
    assert.is_nil(by["clb-vb000001"], "not due")
    assert.are.same({ Product = "RDS_MySQL", InstanceID = "rds-vb000001" }, by["rds-vb000001"].resource)
    assert.are.same({}, fake:renewals())
  end)

  it("refuses a row without its Product, or a period it does not take, sending nothing", function()
    for _, o in ipairs{
      { resources = { "rds-vb000001" } },
      { resources = { { InstanceID = "rds-vb000001" } } },
      { resources = { { Product = "RDS_MySQL", InstanceID = "bad id" } } },
      { resources = { { Product = "RDS_MySQL", InstanceID = "rds-vb000001" } }, period = 10 },
    } do
      local r, err = workflow.renew_if_under_budget{ client = volc, product = "volc_billing", period = o.period or 1,
        resources = o.resources }
      assert.is_nil(r)
      assert.are.equal("ClientError.InvalidParameter", err.code, tostring(err))
    end
    assert.are.same({}, fake:requests())
  end)
end)

describe("cloudrenew plan|apply with a volc_billing group (issue 23 part 2)", function()
  local fakecloud = require("support.fake")
  local fake, dir, creds
  local read, q = fakecloud.read_file, fixture.q
  local fx = fixture.new{ tls = false }
  setup(function() fake, creds = fx.fake, fakecloud.credentials() end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = { ["rds-vb000001"] = 100, ["redis-vb00001"] = 200 } }
    dir = fx:dir()
  end)

  local function run(args)
    local e = { "PATH=" .. q(os.getenv("PATH")), "HOME=" .. q(dir), "CLOUDRENEW_METADATA_DISABLED=1",
      "VOLCENGINE_ACCESS_KEY=" .. q(creds.volcengine[1].access_key),
      "VOLCENGINE_SECRET_KEY=" .. q(creds.volcengine[1].secret_key) }
    local cmd = { "env", "-i", table.concat(e, " "), "lua5.4", "bin/cloudrenew" }
    for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
    os.execute(table.concat(cmd, " ") .. " >" .. dir .. "/out 2>" .. dir .. "/err; echo $? >" .. dir .. "/rc")
    return tonumber(read(dir .. "/rc")), read(dir .. "/out") or "", read(dir .. "/err") or ""
  end

  it("plans and applies { Product, InstanceID } resources from the inventory, once", function()
    local inv = dir .. "/inventory.json"
    fixture.write(inv, json.encode{ volcengine = { endpoint = fake.url, timeout = 10, volc_billing = {
      period = 1, budget = "100", resources = { { Product = "RDS_MySQL", InstanceID = "rds-vb000001" } } } } })
    local log = dir .. "/audit.jsonl"
    local rc, out, err = run{ "plan", inv, "--audit-log", log }
    assert.are.equal(0, rc, out .. err)
    assert.truthy(out:find("rds-vb000001", 1, true), out)
    assert.are.same({}, fake:renewals())
    rc, out, err = run{ "apply", inv, "--audit-log", log }
    assert.are.equal(0, rc, out .. err)
    assert.are.same({ ["rds-vb000001"] = 1 }, fake:renewals())
    rc, out, err = run{ "apply", inv, "--audit-log", log }
    assert.are.equal(0, rc, out .. err)
    assert.are.same({ ["rds-vb000001"] = 1 }, fake:renewals())
  end)

  it("exit 1 when, under a cap, a price comes in another currency than the run's (other_currency)", function()
    fake:faults{ { action = "QueryPriceForRenew", kind = "body", body = '{"ResponseMetadata":{"RequestId":"rid-usd",'
      .. '"Action":"QueryPriceForRenew","Version":"2022-01-01"},"Result":{"Currency":"USD","TotalOriginalAmount":"10.00",'
      .. '"TotalDiscountAmount":"9.00","InstanceAmountList":[{"InstanceID":"rds-vb000001","Product":"RDS_MySQL",'
      .. '"OriginalAmount":"10.00","DiscountAmount":"9.00"}]}}' } }
    local inv = dir .. "/inventory.json"
    fixture.write(inv, json.encode{ volcengine = { endpoint = fake.url, timeout = 10, volc_billing = {
      period = 1, budget = "1000", resources = { { Product = "RDS_MySQL", InstanceID = "rds-vb000001" },
                                                 { Product = "Redis", InstanceID = "redis-vb00001" } } } } })
    local rc, out, err = run{ "plan", inv, "--audit-log", dir .. "/audit.jsonl" }
    assert.are.equal(1, rc, out .. err)
    assert.truthy(out:find("redis%-vb00001.-other_currency"), out)
  end)
end)

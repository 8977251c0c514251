-- Issue 23 part 2: the Tencent products whose own APIs renew them (cbs, cdb, crs
-- (Redis), lighthouse) and billing RenewInstance (tc_billing: Host Security's
-- maintained route, firewalls, KMS, ...), each through the whole workflow against
-- the fake cloud (bounded by the official definitions, spec/fakecloud/official.py):
-- priced by its own inquiry (or the caller), renewed once, confirmed by its read
-- action, resumed without re-sending; the money units each inquiry states; bad
-- input refused before anything is sent; cloud errors surfaced with their RequestId.
local workflow = require("cloudrenew.workflow")
local expiring = require("cloudrenew.workflow.expiring")
local discover = require("cloudrenew.workflow.discover")
local settle = require("cloudrenew.workflow.settle")
local json = require("cloudrenew.client.json")
local fixture = require("support.fixture")

local FLEET = {
  { id = "disk-tp000001", region = "ap-guangzhou", expires_in_days = 5.5 },
  { id = "cdb-tp000001", region = "ap-guangzhou", expires_in_days = 6.5 },
  { id = "crs-tp000001", region = "ap-guangzhou", expires_in_days = 7.5 },
  { id = "lhins-tp000001", region = "ap-guangzhou", expires_in_days = 8.5 },
  { id = "yj-tp000001", product = "hspro", region = "ap-guangzhou", expires_in_days = 9.5 },
  { id = "cfw-tp000001", product = "other", cloud = "tencent", product_code = "p_cfw", sub_product_code = "sp_cfw_vpc",
    product_name = "云防火墙", region = "ap-guangzhou", expires_in_days = 10.5 },
  { id = "cos-tp000001", product = "other", cloud = "tencent", product_code = "p_cos", product_name = "COS 对象存储",
    region = "ap-others", expires_in_days = 11.5 },
  { id = "disk-tp000009", region = "ap-shanghai", expires_in_days = 5.5 },   -- another region
}
-- monthly prices (the fake's own discounts: cbs 80 %, cdb 85 %, crs 90 %, lighthouse 80 %)
local PRICES = { ["disk-tp000001"] = 100, ["cdb-tp000001"] = 200, ["crs-tp000001"] = 300,
                 ["lhins-tp000001"] = 400 }

local function body(r) return json.decode(r.body) end
local function sent(fake, action, service)
  local out = {}
  for _, r in ipairs(fake:requests_for(action)) do
    if service == nil or r.service == service then out[#out + 1] = r end
  end
  return out
end

describe("Tencent products with their own renewal APIs (issue 23 part 2)", function()
  local fake, tc, log
  local fx = fixture.new{ tls = false }
  setup(function()
    fake, tc = fx.fake, fx:tencent{ retry = { max_attempts = 2, base_delay = 0.01, max_delay = 0.05 } }
  end)
  before_each(function()
    fake:resources(FLEET, { operation_seconds = 0 })
    fake:config{ prices = PRICES }
    log = fx:log()
  end)

  -- product, id, the price for 1 month, its renewal action (service), what it must carry
  local CASES = {
    { "cbs", "disk-tp000001", "80.00", "RenewDisk", "cbs", function(b) return b.DiskId == "disk-tp000001" and b.DiskChargePrepaid.Period == 1 end },
    { "cdb", "cdb-tp000001", "170.00", "RenewDBInstance", "cdb", function(b) return b.InstanceId == "cdb-tp000001" and b.TimeSpan == 1 end },
    { "crs", "crs-tp000001", "270.00", "RenewInstance", "redis", function(b) return b.InstanceId == "crs-tp000001" and b.Period == 1 end },
    { "lighthouse", "lhins-tp000001", "320.00", "RenewInstances", "lighthouse",
      function(b) return b.InstanceIds[1] == "lhins-tp000001" and b.InstanceChargePrepaid.Period == 1 and b.RenewDataDisk == false end },
  }
  for _, c in ipairs(CASES) do
    local product, id, price, action, service, carries = c[1], c[2], c[3], c[4], c[5], c[6]
    it(product .. ": priced by its own inquiry, renewed once by " .. service .. " " .. action
        .. ", confirmed by its read action, resumed without re-sending", function()
      local o = { client = tc, product = product, period = 1, resources = { id }, budget = "1000", audit_log = log,
                  confirm = { timeout = 5, interval = 0.05 } }
      local report = assert(workflow.renew_if_under_budget(o))
      local r = fixture.by_id(report)[id]
      assert.are.same({ price, "renew", "renewed", true }, { r.price, r.decision, r.outcome, r.confirmed })
      assert.are.same({ [id] = 1 }, fake:renewals())
      local got = sent(fake, action, service)
      assert.are.equal(1, #got)
      assert.is_true(carries(body(got[1])), got[1].body)
      assert.are.equal("ap-guangzhou", got[1].region)
      assert.are.equal(fake:resource(id).expires, r.expires_after)
      local again = assert(workflow.renew_if_under_budget(o))
      assert.is_true(fixture.by_id(again)[id].resumed)
      assert.are.equal(1, #sent(fake, action, service))
    end)

    it(product .. ": over max_price it is not renewed; a malformed id is refused before anything is sent", function()
      local report = assert(workflow.renew_if_under_budget{ client = tc, product = product, period = 1,
        resources = { id }, max_price = "1", audit_log = log })
      assert.are.equal("over_max_price", fixture.by_id(report)[id].decision)
      assert.are.same({}, fake:renewals())
      local n = #fake:requests()
      local rep, err = workflow.renew_if_under_budget{ client = tc, product = product, period = 1,
        resources = { "bad-" .. id }, budget = "1000", audit_log = log }
      assert.is_nil(rep)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(err.message:find("not a valid " .. product .. " id", 1, true), err.message)
      assert.are.equal(n, #fake:requests())
    end)

    it(product .. ": an instance the region does not hold is the cloud's error, with its RequestId; nothing renewed", function()
      local other = id:gsub("tp000001", "tp000404")
      fake:config{ missing = { other } }
      local report = assert(workflow.renew_if_under_budget{ client = tc, product = product, period = 1,
        resources = { other }, budget = "1000", audit_log = log })
      local r = fixture.by_id(report)[other]
      assert.are.equal("ResourceNotFound", r.error.code)
      assert.truthy(r.error.request_id)
      assert.are.same({}, fake:renewals())
    end)
  end

  it("discovery lists each product through its own read action, in the client's region only", function()
    for _, c in ipairs{ { "cbs", "disk-tp000001" }, { "cdb", "cdb-tp000001" }, { "crs", "crs-tp000001" },
                        { "lighthouse", "lhins-tp000001" } } do
      local sel = assert(discover.select{ client = tc, product = c[1], select = { expires_within_days = 30 } })
      assert.are.same({ c[2] }, sel.resources, c[1])
    end
    -- disk-tp000009 is in ap-shanghai: a Shanghai client finds it, Guangzhou's does not
    local sh = fx:tencent{ region = "ap-shanghai" }
    local sel = assert(discover.select{ client = sh, product = "cbs", select = { expires_within_days = 30 } })
    assert.are.same({ "disk-tp000009" }, sel.resources)
  end)

  it("cdb's DescribeDBPrice is in cents and redis's Price in its AmountUnit: never read as yuan", function()
    fake:config{ raw_quotes = { ["cdb-tp000001"] = 12345 } }
    local rep = assert(workflow.renew_if_under_budget{ client = tc, product = "cdb", period = 1,
      resources = { "cdb-tp000001" }, budget = "1000", dry_run = true, audit_log = log })
    assert.are.equal("123.45", fixture.by_id(rep)["cdb-tp000001"].price)
    local function redis_price(answer)
      fake:faults{ { action = "InquiryPriceRenewInstance", kind = "body", body = json.encode{ Response = answer } } }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "crs", period = 1,
        resources = { "crs-tp000001" }, budget = "1000", dry_run = true, audit_log = log })
      return fixture.by_id(r)["crs-tp000001"]
    end
    assert.are.equal("250.01", redis_price{ Price = 25000.5, AmountUnit = "pent", RequestId = "rid-1" }.price)
    assert.are.equal("0.13", redis_price{ Price = 12345678, AmountUnit = "microPent", RequestId = "rid-2" }.price)
    assert.are.equal("99.00", redis_price{ Price = 9900, RequestId = "rid-3" }.price)   -- the older "单位：分"
    local odd = redis_price{ Price = 9900, AmountUnit = "yuan", RequestId = "rid-4" }
    assert.are.equal("ClientError.BadResponse", odd.error.code)
    assert.truthy(odd.error.message:find("AmountUnit", 1, true))
    assert.are.same({}, fake:renewals())
  end)

  it("lighthouse is asynchronous: a FAILED LatestOperation of the renewal's RequestId is a failed renewal", function()
    fake:resources({ { id = "lhins-tp000002", region = "ap-guangzhou", expires_in_days = 3, operation_result = "FAILED" } },
      { merge = true })
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "lighthouse", period = 1,
      resources = { "lhins-tp000002" }, budget = "1000", audit_log = log, confirm = { timeout = 5, interval = 0.05 } })
    local r = fixture.by_id(report)["lhins-tp000002"]
    assert.are.same({ "failed", true }, { r.outcome, r.confirmed })
    assert.are.equal(1, #sent(fake, "RenewInstances", "lighthouse"))
  end)

  it("lighthouse: an OPERATING renewal is confirmed once its LatestOperation of that RequestId says SUCCESS", function()
    fake:resources({ { id = "lhins-tp000003", region = "ap-guangzhou", expires_in_days = 3 } },
      { merge = true, operation_seconds = 0.4 })
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "lighthouse", period = 1,
      resources = { "lhins-tp000003" }, budget = "1000", audit_log = log, confirm = { timeout = 10, interval = 0.1 } })
    local r = fixture.by_id(report)["lhins-tp000003"]
    assert.are.same({ "renewed", true }, { r.outcome, r.confirmed })
    assert.truthy(#sent(fake, "DescribeInstances", "lighthouse") >= 2, "confirmed before the operation ended")
  end)

  it("cbs: a lost answer is unknown and never re-sent; settled by the expiry it moved", function()
    fake:faults{ { action = "RenewDisk", kind = "drop_after" } }
    local o = { client = tc, product = "cbs", period = 1, resources = { "disk-tp000001" }, budget = "1000",
      audit_log = log, confirm = false }
    local report = assert(workflow.renew_if_under_budget(o))
    assert.are.equal("unknown", fixture.by_id(report)["disk-tp000001"].outcome)
    assert(workflow.renew_if_under_budget(o))   -- again: the log holds an unknown; nothing is sent
    assert.are.equal(1, #sent(fake, "RenewDisk", "cbs"))
    o.settle = true
    local again = assert(workflow.renew_if_under_budget(o))
    assert.are.same({ "renewed", "expiry" }, { fixture.by_id(again)["disk-tp000001"].outcome,
      fixture.by_id(again)["disk-tp000001"].settled_by })
    assert.are.same({ ["disk-tp000001"] = 1 }, fake:renewals())
  end)

  it("lighthouse prices up to 50 instances a request, one price each", function()
    local ids = {}
    for i = 1, 3 do ids[i] = string.format("lhins-tq%06d", i) end
    local fleet = {}
    for i, id in ipairs(ids) do fleet[i] = { id = id, region = "ap-guangzhou", expires_in_days = 3 } end
    fake:resources(fleet)
    fake:config{ prices = { [ids[1]] = 10, [ids[2]] = 20, [ids[3]] = 30 } }
    local rep = assert(workflow.renew_if_under_budget{ client = tc, product = "lighthouse", period = 1,
      resources = ids, budget = "1000", dry_run = true, audit_log = log })
    local by = fixture.by_id(rep)
    assert.are.same({ "8.00", "16.00", "24.00" }, { by[ids[1]].price, by[ids[2]].price, by[ids[3]].price })
    assert.are.equal(1, #sent(fake, "InquirePriceRenewInstances", "lighthouse"))
  end)
end)

describe("Tencent billing RenewInstance: tc_billing (issue 23 part 2)", function()
  local fake, tc, log
  local fx = fixture.new{ tls = false }
  local YJ = { ProductCode = "p_yunjing", SubProductCode = "sp_yunjing_vas", RegionCode = "ap-guangzhou", InstanceId = "yj-tp000001" }
  local CFW = { ProductCode = "p_cfw", SubProductCode = "sp_cfw_vpc", RegionCode = "ap-guangzhou", InstanceId = "cfw-tp000001" }
  setup(function()
    fake, tc = fx.fake, fx:tencent{ retry = { max_attempts = 2, base_delay = 0.01, max_delay = 0.05 } }
  end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = PRICES }
    log = fx:log()
  end)

  it("cloudrenew expiring shows each product with its route; firewalls and Host Security by billing RenewInstance", function()
    local report = assert(expiring.list{ clients = { tc }, days = 30 })
    local by = fixture.by_id({ items = report.rows })
    local want = {
      ["disk-tp000001"] = { "cbs RenewDisk", true, "cbs" }, ["cdb-tp000001"] = { "cdb RenewDBInstance", true, "cdb" },
      ["crs-tp000001"] = { "redis RenewInstance", true, "crs" },
      ["lhins-tp000001"] = { "lighthouse RenewInstances", true, "lighthouse" },
      ["yj-tp000001"] = { "billing RenewInstance", true, "tc_billing" },
      ["cfw-tp000001"] = { "billing RenewInstance", true, "tc_billing" },
      ["cos-tp000001"] = { "console", false },
    }
    for id, w in pairs(want) do
      local r = assert(by[id], id)
      assert.are.same(w, { r.route, r.renewable, r.renew_as }, id)
    end
    -- own inquiries priced what is due; billing-renewed products are the caller's to price
    assert.are.equal("80.00", by["disk-tp000001"].price)
    assert.truthy(by["cfw-tp000001"].price_note:find("caller-priced", 1, true))
    assert.are.equal("p_cfw", by["cfw-tp000001"].product_code)
    assert.are.same({}, fake:renewals())
  end)

  it("renews with the ClientToken logged first, priced by the caller, confirmed by DescribeRenewInstances", function()
    local o = { client = tc, product = "tc_billing", period = 1, resources = { YJ, CFW },
      price = { ["yj-tp000001"] = "30", ["cfw-tp000001"] = "3000" }, budget = "100", audit_log = log }
    local report = assert(workflow.renew_if_under_budget(o))
    local by = fixture.by_id(report)
    assert.are.same({ "30.00", "renew", "renewed", true }, { by["yj-tp000001"].price, by["yj-tp000001"].decision,
      by["yj-tp000001"].outcome, by["yj-tp000001"].confirmed })
    assert.are.equal("over_budget", by["cfw-tp000001"].decision)
    assert.are.same({ ["yj-tp000001"] = 1 }, fake:renewals())
    local got = sent(fake, "RenewInstance", "billing")
    assert.are.equal(1, #got)
    local b, intent = body(got[1]), fixture.events(log, "intent")[1]
    assert.are.same({ "p_yunjing", "sp_yunjing_vas", "ap-guangzhou", "yj-tp000001", 1, "m", intent.client_token },
      { b.ProductCode, b.SubProductCode, b.RegionCode, b.InstanceId, b.Period, b.PeriodUnit, b.ClientToken })
    assert.are.same({ "tc_billing", "p_yunjing", "sp_yunjing_vas", "ap-guangzhou" },
      { intent.product, intent.product_code, intent.sub_product_code, intent.region_code })
    local again = assert(workflow.renew_if_under_budget(o))
    assert.is_true(fixture.by_id(again)["yj-tp000001"].resumed)
    assert.are.equal(1, #sent(fake, "RenewInstance", "billing"))
  end)

  it("a lost answer is unknown, never re-sent blindly; settled by the same ClientToken: renewed once", function()
    fake:faults{ { action = "RenewInstance", kind = "drop_after" } }
    local o = { client = tc, product = "tc_billing", period = 1, resources = { CFW },
      price = { ["cfw-tp000001"] = "50" }, budget = "100", audit_log = log, confirm = false }
    local report = assert(workflow.renew_if_under_budget(o))
    assert.are.equal("unknown", fixture.by_id(report)["cfw-tp000001"].outcome)
    assert.are.equal(1, #sent(fake, "RenewInstance", "billing"))
    -- the run again: the log holds an unknown, nothing is sent
    assert(workflow.renew_if_under_budget(o))
    assert.are.equal(1, #sent(fake, "RenewInstance", "billing"))
    -- the expiry moved already (the cloud acted): settled by the expiry, no re-send
    local out = settle.resource(require("cloudrenew.workflow.audit").open(log), tc, "tc_billing", "cfw-tp000001")
    assert.are.equal("renewed", out[1].outcome)
    assert.are.same({ ["cfw-tp000001"] = 1 }, fake:renewals())
  end)

  it("a lost request that never arrived is settled by re-sending the same ClientToken and parameters", function()
    fake:faults{ { action = "RenewInstance", kind = "drop_before" } }
    local o = { client = tc, product = "tc_billing", period = 1, resources = { CFW },
      price = { ["cfw-tp000001"] = "50" }, budget = "100", audit_log = log, confirm = false }
    local report = assert(workflow.renew_if_under_budget(o))
    -- no answer: unknown (the request may have arrived); nothing was renewed
    assert.are.equal("unknown", fixture.by_id(report)["cfw-tp000001"].outcome)
    assert.are.same({}, fake:renewals())
    local out = settle.resource(require("cloudrenew.workflow.audit").open(log), tc, "tc_billing", "cfw-tp000001")
    assert.are.same({ "renewed", "client_token" }, { out[1].outcome, out[1].settled_by })
    local got = sent(fake, "RenewInstance", "billing")
    assert.are.equal(2, #got)
    assert.are.same(body(got[1]), body(got[2]))   -- the same token and parameters
    assert.are.same({ ["cfw-tp000001"] = 1 }, fake:renewals())
    -- settling again sends nothing: it is settled
    settle.resource(require("cloudrenew.workflow.audit").open(log), tc, "tc_billing", "cfw-tp000001")
    assert.are.equal(2, #sent(fake, "RenewInstance", "billing"))
  end)

  it("codes that are not the instance's are the cloud's refusal, with its RequestId; nothing renewed", function()
    local wrong = { ProductCode = "p_cfw", SubProductCode = "sp_cfw_vpc", RegionCode = "ap-shanghai", InstanceId = "cfw-tp000001" }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "tc_billing", period = 1,
      resources = { wrong }, price = { ["cfw-tp000001"] = "10" }, budget = "100", audit_log = log })
    local r = fixture.by_id(report)["cfw-tp000001"]
    assert.are.same({ "failed", "ResourceNotFound" }, { r.outcome, r.error.code })
    assert.truthy(r.error.request_id)
    assert.are.same({}, fake:renewals())
  end)

  it("a resource without its four codes is refused before anything is sent", function()
    local n = #fake:requests()
    local rep, err = workflow.renew_if_under_budget{ client = tc, product = "tc_billing", period = 1,
      resources = { { ProductCode = "p_cfw", InstanceId = "cfw-tp000001" } }, price = { ["cfw-tp000001"] = "1" },
      budget = "100", audit_log = log }
    assert.is_nil(rep)
    assert.are.equal("ClientError.InvalidParameter", err.code)
    assert.truthy(err.message:find("SubProductCode", 1, true), err.message)
    assert.are.equal(n, #fake:requests())
  end)
end)

describe("a mixed inventory through bin/cloudrenew (issue 23 part 5)", function()
  local fake, dir
  local fx = fixture.new{ tls = false }
  setup(function() fake = fx.fake end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = PRICES }
    dir = fx:dir()
  end)

  it("renews each product once and confirms it; apply again sends nothing", function()
    local inv = dir .. "/inventory.json"
    local function group(resources, extra)
      local g = { period = 1, budget = "1000", resources = resources }
      for k, v in pairs(extra or {}) do g[k] = v end
      return g
    end
    fixture.write(inv, json.encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10,
      ["cbs"] = group{ "disk-tp000001" }, ["cdb"] = group{ "cdb-tp000001" }, ["crs"] = group{ "crs-tp000001" },
      ["lighthouse"] = group{ "lhins-tp000001" },
      ["tc_billing"] = group({ { ProductCode = "p_cfw", SubProductCode = "sp_cfw_vpc", RegionCode = "ap-guangzhou",
        InstanceId = "cfw-tp000001" } }, { prices = { ["cfw-tp000001"] = "40" } }) } })
    local log = dir .. "/audit.jsonl"
    local rc, out, err = fixture.cli(dir, { "apply", inv, "--audit-log", log, "--json" })
    assert.are.equal(0, rc, out .. err)
    local want = { ["disk-tp000001"] = 1, ["cdb-tp000001"] = 1, ["crs-tp000001"] = 1, ["lhins-tp000001"] = 1,
                   ["cfw-tp000001"] = 1 }
    assert.are.same(want, fake:renewals())
    local results = {}
    for _, e in ipairs(fixture.events(log, "result")) do results[e.id] = e.outcome end
    for id in pairs(want) do assert.are.equal("renewed", results[id], id) end
    local confirmed = {}
    for _, e in ipairs(fixture.entries(log)) do
      if e.event == "confirm" or e.confirmed == true then confirmed[e.id] = true end
    end
    for id in pairs(want) do assert.is_true(confirmed[id], id .. " was not confirmed: " .. out) end
    rc, out, err = fixture.cli(dir, { "apply", inv, "--audit-log", log })
    assert.are.equal(0, rc, out .. err)
    assert.are.same(want, fake:renewals())
  end)
end)

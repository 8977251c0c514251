-- Issue 23 part 1: see everything that expires. Tencent billing DescribeRenewInstances
-- and Volcengine billing ListAvailableInstances (no Product filter) list every prepaid
-- instance of the account; cloudrenew.workflow.expiring turns them into one table
-- across clouds, products and regions (expiry, days left, auto-renew, route, price),
-- and `cloudrenew expiring` prints it. Everything runs against the fake cloud, whose
-- billing actions serve a fleet of several products and regions (part 5).
local expiring = require("cloudrenew.workflow.expiring")
local json = require("cloudrenew.client.json")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local read, write, q = fakecloud.read_file, fixture.write, fixture.q

-- A mixed account: Tencent products cloudrenew renews (cvm, teo, Host Security through
-- billing RenewInstance, cbs), two only the console renews, in several regions; on
-- Volcengine ecs and a product billing renews (part 2).
local FLEET = {
  { id = "ins-gz000001", region = "ap-guangzhou", expires_in_days = 5.5 },                     -- cvm, manual
  { id = "ins-sh000001", region = "ap-shanghai", expires_in_days = 12.5, auto_renew = true },   -- cvm, auto
  { id = "ins-sh000002", region = "ap-shanghai", expires_in_days = 200.5 },                    -- cvm, not due
  { id = "edgeone-plan0001", expires_in_days = 20.5 },                                         -- teo
  { id = "quuid-hs-0001", product = "hspro", region = "ap-beijing", expires_in_days = 3.5 },   -- Host Security
  { id = "disk-cbs00001", region = "ap-shanghai", expires_in_days = 8.5 },                    -- cbs
  { id = "cos-std00001", product = "other", cloud = "tencent", product_code = "p_cos",
    sub_product_code = "sp_cos_pkg_std_new", region = "ap-shanghai", expires_in_days = 8.7 },  -- console only
  { id = "lb-clb00001", product = "other", cloud = "tencent", product_code = "p_clb",
    sub_product_code = "sp_clb", region = "ap-guangzhou", expires_in_days = 9.5, auto_renew = true },
  { id = "ins-postpaid1", region = "ap-guangzhou", prepaid = false },                          -- not listed
  { id = "i-ecs0000000000000001", expires_in_days = 15.5 },                                    -- ecs, manual
  { id = "rds-mysql00001", product = "other", cloud = "volcengine", product_code = "RDS_MySQL",
    expires_in_days = 4.5 },                                                                   -- billing RenewInstance
}

local function rows_by_id(report)
  local t = {}
  for _, r in ipairs(report.rows) do t[r.id] = r end
  return t
end

describe("expiring (issue 23 part 1)", function()
  local fake, tc, volc
  local fx = fixture.new{ tls = false }

  setup(function() fake, tc, volc = fx.fake, fx:tencent(), fx:volcengine() end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = { ["ins-gz000001"] = 100, ["ins-sh000001"] = 200, ["i-ecs0000000000000001"] = 100,
                            ["quuid-hs-0001"] = 100, ["disk-cbs00001"] = 100 } }
  end)

  it("lists every product and region of both clouds with expiry, days left, auto-renew, route and price", function()
    local report = assert(expiring.list{ clients = { tc, volc }, days = 30 })
    local by = rows_by_id(report)
    -- what is due within 30 days, from both clouds, every product and region
    for _, id in ipairs{ "ins-gz000001", "ins-sh000001", "edgeone-plan0001", "quuid-hs-0001", "disk-cbs00001",
                         "cos-std00001", "lb-clb00001", "i-ecs0000000000000001", "rds-mysql00001" } do
      assert.truthy(by[id], id .. " is missing")
    end
    assert.is_nil(by["ins-sh000002"], "not due within 30 days: counted, not shown")
    assert.is_nil(by["ins-postpaid1"], "billing lists prepaid instances only")
    assert.are.equal(1, report.totals.not_due)
    -- sorted by expiry, soonest first
    assert.are.equal("quuid-hs-0001", report.rows[1].id)
    for i = 2, #report.rows do
      assert.truthy(report.rows[i - 1].expires_at <= report.rows[i].expires_at)
    end

    local gz = by["ins-gz000001"]
    assert.are.same({ "tencent", "cvm", "p_cvm", "ap-guangzhou", 5, false, true },
      { gz.cloud, gz.product, gz.product_code, gz.region, gz.days_left, gz.auto_renew, gz.renewable })
    assert.are.equal("cvm RenewInstances", gz.route)
    assert.are.equal("80.00", gz.price)          -- the fake's inquiry: 80 % of 100, in ap-guangzhou
    assert.truthy(gz.attention == false and gz.due == true)
    assert.truthy(gz.expires:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"))
    assert.are.equal("NOTIFY_AND_MANUAL_RENEW", gz.renew_flag)

    local sh = by["ins-sh000001"]
    assert.are.same({ "ap-shanghai", 12, true, "160.00" }, { sh.region, sh.days_left, sh.auto_renew, sh.price })
    -- priced in its own region: the inquiry went to ap-shanghai
    local regions = {}
    for _, r in ipairs(fake:requests_for("InquiryPriceRenewInstances")) do
      regions[#regions + 1] = r.headers["x-tc-region"] or r.headers["X-TC-Region"]
    end
    table.sort(regions)
    assert.are.same({ "ap-guangzhou", "ap-shanghai" }, regions)

    local teo = by["edgeone-plan0001"]
    assert.are.same({ "teo", "teo RenewPlan", true }, { teo.product, teo.route, teo.renewable })
    assert.is_nil(teo.price)
    assert.truthy(teo.price_note:find("caller", 1, true), teo.price_note)

    -- Host Security's maintained route: billing RenewInstance (issue 23 part 2), caller-priced
    local hs = by["quuid-hs-0001"]
    assert.are.same({ "tc_billing", "p_yunjing", "billing RenewInstance", true },
      { hs.renew_as, hs.product_code, hs.route, hs.renewable })
    assert.is_nil(hs.price)
    assert.truthy(hs.price_note:find("caller", 1, true), hs.price_note)

    local cbs = by["disk-cbs00001"]
    assert.are.same({ "tencent", "cbs", "p_cbs", "ap-shanghai", true, "cbs RenewDisk", false, "80.00" },
      { cbs.cloud, cbs.product, cbs.product_code, cbs.region, cbs.renewable, cbs.route, cbs.attention, cbs.price })
    local cos = by["cos-std00001"]
    assert.are.same({ "tencent", "p_cos", "ap-shanghai", false, "console", true },
      { cos.cloud, cos.product_code, cos.region, cos.renewable, cos.route, cos.attention })
    assert.is_nil(cos.product)
    local clb = by["lb-clb00001"]
    assert.are.same({ true, false, false }, { clb.auto_renew, clb.renewable, clb.attention })

    local ecs = by["i-ecs0000000000000001"]
    assert.are.same({ "volcengine", "ecs", "ECS", "ecs RenewInstance", true, false, "85.00" },
      { ecs.cloud, ecs.product, ecs.product_code, ecs.route, ecs.renewable, ecs.auto_renew, ecs.price })
    assert.are.equal("Manually", ecs.renew_flag)
    -- issue 23 part 2: any other Volcengine product is renewed (and priced) through billing
    local rds = by["rds-mysql00001"]
    assert.are.same({ "RDS_MySQL", true, "billing RenewInstance", false, 4 },
      { rds.product_code, rds.renewable, rds.route, rds.attention, rds.days_left })

    assert.are.same({ "cos-std00001" }, (function()
      local t = {}
      for _, r in ipairs(report.rows) do if r.attention then t[#t + 1] = r.id end end
      table.sort(t)
      return t
    end)())
    assert.are.equal(1, report.totals.attention)
    assert.are.same({}, report.errors)
    -- nothing was renewed or changed
    assert.are.same({}, fake:renewals())
    -- Volcengine was asked without a Product filter (every product of the account)
    for _, r in ipairs(fake:requests_for("ListAvailableInstances")) do
      assert.is_nil(json.decode(r.body).Product)
    end
  end)

  it("all = true shows what is not due too; price = false sends no inquiry", function()
    local report = assert(expiring.list{ clients = { tc }, days = 30, all = true, price = false })
    local by = rows_by_id(report)
    assert.truthy(by["ins-sh000002"])
    assert.is_false(by["ins-sh000002"].due)
    assert.is_nil(by["i-ecs0000000000000001"], "only the clients given are asked")
    assert.are.equal(0, #fake:requests_for("InquiryPriceRenewInstances"))
    assert.are.equal(0, #fake:requests_for("ListAvailableInstances"))
  end)

  it("a product cloudrenew renews stays renewable when its row names no region; it is just not priced", function()
    fake:resources{ { id = "ins-noregion1", expires_in_days = 5.5 },
                    { id = "disk-noregion1", expires_in_days = 6.5 } }
    local bare = fx:tencent{ region = fakecloud.UNSET }
    local report = assert(expiring.list{ clients = { bare }, days = 30 })
    for _, r in ipairs(report.rows) do
      assert.is_true(r.renewable, r.id)
      assert.is_false(r.attention, r.id)
      assert.is_nil(r.price, r.id)
      assert.truthy(r.price_note:find("no region", 1, true), r.price_note)
    end
    assert.are.equal(2, #report.rows)
    assert.are.equal(0, #fake:requests_for("InquiryPriceRenewInstances"))
    assert.are.equal(0, #fake:requests_for("InquiryPriceRenewDisks"))
  end)

  it("pages exactly as the definitions say: MaxResults 100 and NextToken, to the end", function()
    local list = {}
    for i = 1, 230 do list[i] = { id = string.format("ins-p%07d", i), region = "ap-guangzhou", expires_in_days = 1 + i % 20 } end
    for i = 1, 120 do list[#list + 1] = { id = string.format("i-p%018d", i), expires_in_days = 1 + i % 20 } end
    fake:resources(list)
    local report = assert(expiring.list{ clients = { tc, volc }, days = 30, price = false })
    assert.are.equal(350, #report.rows)
    local tr = fake:requests_for("DescribeRenewInstances")
    assert.are.equal(3, #tr)
    local tok
    for i, r in ipairs(tr) do
      local b = json.decode(r.body)
      assert.are.equal(100, b.MaxResults)
      assert.are.equal(tok, b.NextToken, "page " .. i)
      tok = "tok-" .. (i * 100)
    end
    local vr = fake:requests_for("ListAvailableInstances")
    assert.are.equal(2, #vr)
    assert.are.equal("tok-100", json.decode(vr[2].body).NextToken)
  end)

  it("refuses bad input with ClientError.InvalidParameter, sending nothing", function()
    for _, o in ipairs{
      { clients = { tc }, days = -1 }, { clients = { tc }, days = 1 / 0 }, { clients = { tc }, days = "x" },
      { clients = {} }, { clients = { {} } }, { clients = { tc, tc } }, { clients = { tc }, period = 0 },
      { clients = { tc }, price = "yes" }, { clients = { tc }, colour = "red" }, "nope",
    } do
      local r, err = expiring.list(o)
      assert.is_nil(r)
      assert.are.equal("ClientError.InvalidParameter", err.code, tostring(err))
    end
    assert.are.same({}, fake:requests())
  end)

  it("a cloud's error names its code and RequestId; the other cloud is still listed", function()
    fake:faults{ { action = "DescribeRenewInstances", kind = "body",
      body = '{"Response":{"Error":{"Code":"AuthFailure.UnauthorizedOperation","Message":"no"},"RequestId":"rid-denied-1"}}' } }
    local report = assert(expiring.list{ clients = { tc, volc }, days = 30, price = false })
    assert.are.equal(1, #report.errors)
    local e = report.errors[1]
    assert.are.same({ "tencent", "AuthFailure.UnauthorizedOperation", "rid-denied-1" }, { e.cloud, e.code, e.request_id })
    assert.truthy(rows_by_id(report)["rds-mysql00001"])
  end)

  it("hostile answers never raise: a bad date is an unknown expiry, bad types are dropped, sizes bounded", function()
    local long = string.rep("x", 5000)
    local body = json.encode{ Response = { RequestId = "rid-hostile", NextToken = json.null, InstanceList = {
      { InstanceId = "ins-bad00001", ProductCode = "p_cvm", SubProductCode = "sp_cvm", RegionCode = "ap-guangzhou",
        ExpireTime = "2026-02-30 25:00:00", RenewFlag = "NOTIFY_AND_MANUAL_RENEW", Status = "NORMAL" },
      { InstanceId = "ins-bad00002", ProductCode = 7, RegionCode = {}, ExpireTime = 12345, RenewFlag = true },
      { InstanceId = long, ProductCode = long, ExpireTime = "2026-01-01 00:00:00", RenewFlag = long },
      "not an object", { ProductCode = "p_cvm" },
    } } }
    fake:faults{ { action = "DescribeRenewInstances", kind = "body", body = body } }
    local ok, report = pcall(expiring.list, { clients = { tc }, days = 30, price = false })
    assert.is_true(ok, tostring(report))
    local by = rows_by_id(report)
    local a = by["ins-bad00001"]
    assert.is_nil(a.expires)
    assert.is_nil(a.days_left)
    assert.are.equal("2026-02-30 25:00:00", a.expiry_as_sent)
    assert.is_true(a.due)            -- unknown expiry: it may be due
    assert.is_true(a.renewable)
    assert.is_false(a.attention)     -- renewable here: a plan reads its expiry itself
    local b = by["ins-bad00002"]
    assert.is_nil(b.product_code)
    assert.is_nil(b.region)
    assert.is_nil(b.auto_renew)
    assert.are.equal("console", b.route)
    for _, r in ipairs(report.rows) do
      assert.truthy(#r.id <= expiring.MAX_TEXT and (r.product_code == nil or #r.product_code <= expiring.MAX_TEXT))
    end
    assert.is_true(b.attention)      -- unknown product, unknown expiry, not auto-renewing
    assert.are.equal(2, #report.rows)   -- an id of 5000 characters is no id
    assert.are.equal(3, report.totals.malformed)
  end)
end)

describe("cloudrenew expiring (issue 23 part 1)", function()
  local fake, dir, creds
  local fx = fixture.new{ tls = false }
  setup(function() fake, creds = fx.fake, fakecloud.credentials() end)
  before_each(function()
    fake:resources(FLEET)
    dir = fx:dir()
  end)

  local function run(args) return fixture.cli(dir, args) end   -- bin/cloudrenew, the fake's keys

  local function clouds()
    local path = dir .. "/clouds.json"
    write(path, json.encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10 },
                             volcengine = { region = "cn-beijing", endpoint = fake.url, timeout = 10 } })
    return path
  end

  it("prints one table across clouds; exit 1 when something due is neither auto-renewing nor renewable here", function()
    local rc, out, err = run{ "expiring", clouds(), "--days", "30" }
    assert.are.equal(1, rc, out .. err)
    for _, want in ipairs{ "ins%-gz000001%s+tencent%s+cvm", "disk%-cbs00001%s+tencent%s+cbs", "cos%-std00001%s+tencent%s+p_cos", "rds%-mysql00001%s+volcengine%s+RDS_MySQL",
                           "i%-ecs0000000000000001%s+volcengine%s+ecs", "edgeone%-plan0001" } do
      assert.truthy(out:find(want), want .. "\n" .. out)
    end
    assert.truthy(out:find("console only", 1, true), out)
    assert.truthy(out:find("1 due need attention", 1, true), out)
    assert.is_nil(out:find("ins-sh000002", 1, true))
  end)

  it("--json: the same rows; --cloud limits the clouds asked; exit 0 when nothing needs attention", function()
    local rc, out = run{ "expiring", clouds(), "--days", "30", "--json", "--cloud", "tencent", "--no-price" }
    assert.are.equal(1, rc, out)
    local doc = assert(json.decode(out))
    assert.are.equal(1, doc.exit_code)
    local ids = {}
    for _, r in ipairs(doc.rows) do ids[r.id] = r end
    assert.truthy(ids["cos-std00001"].attention)
    assert.is_false(ids["disk-cbs00001"].attention)
    assert.is_nil(ids["rds-mysql00001"])
    assert.are.equal(0, #fake:requests_for("ListAvailableInstances"))
    assert.are.equal(0, #fake:requests_for("InquiryPriceRenewInstances"))
    -- the console-only ones renew themselves: nothing needs attention
    fake:resources({ { id = "cos-std00001", auto_renew = true }, { id = "rds-mysql00001", auto_renew = true } },
      { merge = true })
    rc, out = run{ "expiring", clouds(), "--days", "30", "--no-price" }
    assert.are.equal(0, rc, out)
    rc = run{ "expiring", clouds(), "--days", "3" , "--no-price" }
    assert.are.equal(0, rc)
  end)

  it("bad arguments exit 2 and send nothing", function()
    for _, args in ipairs{ { "expiring", clouds(), "--days", "-3" }, { "expiring", clouds(), "--cloud", "aws" },
                           { "expiring", clouds(), "--period", "0" }, { "expiring", dir .. "/missing.json" } } do
      local rc, _, err = run(args)
      assert.are.equal(2, rc, table.concat(args, " ") .. ": " .. err)
    end
    assert.are.same({}, fake:requests())
  end)
end)

-- Issue 24: expiry and spend as Prometheus metrics, checked with the real
-- `promtool check metrics` (Debian's prometheus package), alert rules checked
-- and unit-tested with `promtool check rules` / `promtool test rules`, and the
-- spend forecast's sums exact against a fleet with known prices. Everything
-- against the fake cloud.
local audit = require("cloudrenew.workflow.audit")
local expiring = require("cloudrenew.workflow.expiring")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")
local json = require("cloudrenew.client.json")
local metrics = require("cloudrenew.metrics")
local workflow = require("cloudrenew.workflow")

local read, write, q, sh = fakecloud.read_file, fixture.write, fixture.q, fixture.sh

local PROMTOOL = "promtool"

-- promtool check metrics on text: true, or false and what it said.
local function promcheck(text, dir)
  write(dir .. "/m.prom", text)
  local ok = sh(PROMTOOL .. " check metrics < " .. q(dir .. "/m.prom") .. " > " .. q(dir .. "/pt") .. " 2>&1")
  return ok, read(dir .. "/pt")
end

-- value of the series whose text (name{labels}) is line-prefix, or nil.
local function value(text, series)
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, #series + 1) == series .. " " then return tonumber(line:sub(#series + 2)) end
  end
end

local FLEET = {
  { id = "ins-mt000001", region = "ap-guangzhou", expires_in_days = 5.5 },
  { id = "ins-mt000002", region = "ap-shanghai", expires_in_days = 12.5, auto_renew = true },
  { id = "cos-mt000001", product = "other", cloud = "tencent", product_code = "p_cos",
    sub_product_code = "sp_cos", region = "ap-shanghai", expires_in_days = 8.5 },
  { id = "i-mt00000000000000001", expires_in_days = 15.5 },
}

describe("metrics (issue 24)", function()
  local fake, tc, volc, dir
  local fx = fixture.new{ tls = false }
  setup(function() fake, tc, volc = fx.fake, fx:tencent(), fx:volcengine() end)
  before_each(function()
    fake:resources(FLEET)
    fake:config{ prices = { ["ins-mt000001"] = 100, ["ins-mt000002"] = 200, ["ins-mt000003"] = 200,
                            ["i-mt00000000000000001"] = 100 } }
    dir = fx:dir()
  end)

  it("promtool available (Debian package prometheus, installed by scripts/deps.sh)", function()
    assert.is_true(sh(PROMTOOL .. " --version > /dev/null 2>&1"), "promtool is missing")
  end)

  it("renders every resource's expiry, time left, auto-renew, route and price; promtool accepts it", function()
    local report = assert(expiring.list{ clients = { tc, volc }, days = 30, all = true })
    local col = metrics.collector()
    local text = metrics.render{ expiring = report, collector = col, now = 1800000000 }
    local ok, said = promcheck(text, dir)
    assert.is_true(ok, said)
    local by = {}
    for _, r in ipairs(report.rows) do by[r.id] = r end
    local gz = 'cloud="tencent",product="cvm",region="ap-guangzhou",id="ins-mt000001"'
    assert.are.equal(by["ins-mt000001"].expires_at, value(text, "cloudrenew_resource_expiry_timestamp_seconds{" .. gz .. "}"))
    assert.are.equal(by["ins-mt000001"].expires_at - 1800000000, value(text, "cloudrenew_resource_time_left_seconds{" .. gz .. "}"))
    assert.are.equal(0, value(text, "cloudrenew_resource_auto_renew{" .. gz .. "}"))
    assert.are.equal(1, value(text, 'cloudrenew_resource_auto_renew{cloud="tencent",product="cvm",region="ap-shanghai",id="ins-mt000002"}'))
    assert.are.equal(1, value(text, "cloudrenew_resource_renewable{" .. gz .. ',route="cvm"}'))
    assert.are.equal(0, value(text, 'cloudrenew_resource_renewable{cloud="tencent",product="p_cos",region="ap-shanghai",id="cos-mt000001",route="console"}'))
    -- the fake's inquiry: 80 % of 100; currency label as the cloud says ("unknown" when it does not)
    assert.are.equal(80, value(text, "cloudrenew_resource_renewal_price{" .. gz .. ',currency="unknown",period_months="1"}'))
    assert.are.equal(85, value(text, 'cloudrenew_resource_renewal_price{cloud="volcengine",product="ecs",region="",'
      .. 'id="i-mt00000000000000001",currency="CNY",period_months="1"}'))
    assert.are.same({}, fake:renewals())
  end)

  it("a client's on_response feeds per-action request counts, throttles and histograms", function()
    local col = metrics.collector()
    local c = fx:tencent{ on_response = col.hook, retry = { base_delay = 0.01, max_delay = 0.02 } }
    fake:faults{ { kind = "throttle", action = "InquiryPriceRenewInstances", count = 1 } }
    assert(c.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-mt000001" }, InstanceChargePrepaid = { Period = 1 } })
    local text = col:render()
    local ok, said = promcheck(text, dir)
    assert.is_true(ok, said)
    local k = 'cloud="tencent",service="cvm",action="InquiryPriceRenewInstances"'
    assert.are.equal(1, value(text, "cloudrenew_throttled_requests_total{" .. k .. "}"))
    assert.are.equal(2, value(text, "cloudrenew_request_duration_seconds_count{" .. k .. "}"))
    assert.are.equal(2, value(text, "cloudrenew_pacing_wait_seconds_count{" .. k .. "}"))
    assert.are.equal(1, value(text, "cloudrenew_requests_total{" .. k .. ',status="200",result="ok"}'))
    assert.are.equal(1, value(text, "cloudrenew_requests_total{" .. k .. ',status="200",result="throttled"}'))
    assert.falsy(text:find("RequestLimitExceeded", 1, true), "a server's error code is never a label")
    assert.falsy(text:find(require("support.fake").credentials().tencent[1].secret_id, 1, true))
  end)

  it("summarises audit logs: outcomes, spend, unknowns (and the oldest), unconfirmed; promtool accepts it", function()
    local log = dir .. "/renewals.jsonl"
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 1, audit_log = log,
      resources = { "ins-mt000001", "ins-mt000003" } })
    assert.are.equal(2, r.totals.renewed)
    -- an intent without a result: sent, outcome unknown
    local l = assert(audit.open(log, { lock = true }))
    assert(l:intent{ cloud = "tencent", product = "cvm", id = "ins-mt000009", period = 1, price = "50.00" })
    l:close()
    local text = metrics.render{ audit = { log, dir .. "/missing.jsonl" }, workflow = r }
    local ok, said = promcheck(text, dir)
    assert.is_true(ok, said)
    assert.are.equal(2, value(text, 'cloudrenew_renewals_total{cloud="tencent",product="cvm",outcome="renewed"}'))
    assert.are.equal(1, value(text, 'cloudrenew_renewals_total{cloud="tencent",product="cvm",outcome="unknown"}'))
    assert.are.equal(1, value(text, 'cloudrenew_renewals_unknown{cloud="tencent",product="cvm"}'))
    assert.are.equal(0, value(text, 'cloudrenew_renewals_unconfirmed{cloud="tencent",product="cvm"}'))
    assert.truthy(value(text, 'cloudrenew_renewal_oldest_unknown_timestamp_seconds{cloud="tencent",product="cvm"}'))
    assert.truthy(value(text, 'cloudrenew_last_renewal_timestamp_seconds{cloud="tencent",product="cvm"}'))
    -- 80.00 + 160.00, exact
    assert.are.equal(240, value(text, 'cloudrenew_renewal_spend_total{cloud="tencent",product="cvm",currency="unknown"}'))
    assert.are.equal(1, value(text, 'cloudrenew_audit_log_readable{log="renewals.jsonl"}'))
    assert.are.equal(0, value(text, 'cloudrenew_audit_log_readable{log="missing.jsonl"}'))
    assert.are.equal(2, value(text, 'cloudrenew_run_resources{cloud="tencent",product="cvm",outcome="renewed"}'))
  end)

  it("hostile ids and codes from a server never become labels; the text stays valid", function()
    local report = { period = 1, rows = {
      { cloud = "tencent", id = 'ins-a"}\nevil 1', product_code = "p_cos", expires_at = 1 },
      { cloud = "tencent", id = "ok-1", product_code = "p x\\y", expires_at = 2, auto_renew = true },
      { cloud = "tencent", id = string.rep("a", 500), expires_at = 3 } }, errors = {} }
    local text = metrics.render{ expiring = report, now = 0 }
    local ok, said = promcheck(text, dir)
    assert.is_true(ok, said)
    assert.falsy(text:find("evil", 1, true))
    assert.truthy(text:find('id="ok-1"', 1, true))
    assert.truthy(text:find('product="unknown"', 1, true))
  end)

  it("the alert rules pass promtool check rules and promtool test rules, and name only metrics cloudrenew writes", function()
    local rules = "examples/prometheus/cloudrenew-alerts.yml"
    assert.is_true(sh(PROMTOOL .. " check rules " .. rules .. " > " .. q(dir .. "/pt") .. " 2>&1"), read(dir .. "/pt"))
    assert.is_true(sh("cd examples/prometheus && " .. PROMTOOL .. " test rules cloudrenew-alerts.test.yml > "
      .. q(dir .. "/pt") .. " 2>&1"), read(dir .. "/pt"))
    -- every metric a rule reads is one cloudrenew writes (names drift, alerts go silent)
    local log = dir .. "/r.jsonl"
    local l = assert(audit.open(log, { lock = true }))
    local a = assert(l:intent{ cloud = "tencent", product = "cvm", id = "ins-mt000009", period = 1, price = "1.00" })
    assert(l:result(a, { cloud = "tencent", product = "cvm", id = "ins-mt000009", period = 1, outcome = "renewed" }))
    assert(l:intent{ cloud = "tencent", product = "cvm", id = "ins-mt00000a", period = 1, price = "1.00" })
    l:close()
    local report = assert(expiring.list{ clients = { tc, volc }, days = 30, all = true })
    report.errors = { { cloud = "volcengine" } }
    local text = metrics.render{ expiring = report, audit = { log }, collector = metrics.collector() }
    local names = {}
    for line in text:gmatch("# TYPE (%S+)") do names[line] = true end
    local used = 0
    for name in read(rules):gmatch("(cloudrenew_[%w_]+)") do
      used = used + 1
      assert.truthy(names[name], name .. " is read by a rule but cloudrenew never writes it")
    end
    assert.is_true(used >= 6)
  end)

  it("the rule tests can fail: a rule that ignores the auto-renew flag is caught by promtool test rules", function()
    local rules = read("examples/prometheus/cloudrenew-alerts.yml")
    local broken, n = rules:gsub("unless on %(cloud, product, region, id%) cloudrenew_resource_auto_renew == 1\n", "\n")
    assert.is_true(n >= 1)
    write(dir .. "/cloudrenew-alerts.yml", broken)
    write(dir .. "/cloudrenew-alerts.test.yml", read("examples/prometheus/cloudrenew-alerts.test.yml"))
    assert.is_false(sh("cd " .. q(dir) .. " && " .. PROMTOOL .. " test rules cloudrenew-alerts.test.yml > pt 2>&1"))
    assert.truthy((read(dir .. "/pt") or ""):find("ins-auto", 1, true), read(dir .. "/pt"))
  end)

  describe("cloudrenew metrics", function()
    local function clouds()
      local path = dir .. "/clouds.json"
      write(path, json.encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10 },
                               volcengine = { region = "cn-beijing", endpoint = fake.url, timeout = 10 } })
      return path
    end

    it("writes the node_exporter textfile atomically; promtool accepts it", function()
      local log = dir .. "/r.jsonl"
      local l = assert(audit.open(log, { lock = true }))
      assert(l:intent{ cloud = "tencent", product = "cvm", id = "ins-mt000009", period = 1, price = "50.00" })
      l:close()
      local prom = dir .. "/cloudrenew.prom"
      local rc, out, err = fixture.cli(dir, { "metrics", clouds(), "--textfile", prom, "--audit-log", log })
      assert.are.equal(0, rc, err)
      assert.are.equal("", out)
      local text = assert(read(prom))
      local ok, said = promcheck(text, dir)
      assert.is_true(ok, said)
      assert.truthy(text:find('cloudrenew_resource_expiry_timestamp_seconds{cloud="volcengine",product="ecs"', 1, true), text)
      assert.truthy(text:find('cloudrenew_renewals_unknown{cloud="tencent",product="cvm"} 1', 1, true))
      assert.truthy(text:find('cloudrenew_requests_total{cloud="tencent",service="billing",action="DescribeRenewInstances",status="200",result="ok"}', 1, true))
      -- nothing half-written is left beside it
      local p = io.popen("ls -a " .. q(dir))
      local names = p:read("*a")
      p:close()
      assert.falsy(names:find("%.tmp"), names)
      assert.are.same({}, fake:renewals())
    end)

    it("to stdout without --textfile; bad input exits 2 and writes nothing", function()
      local rc, out = fixture.cli(dir, { "metrics", clouds(), "--no-price" })
      assert.are.equal(0, rc)
      assert.truthy(out:find("# TYPE cloudrenew_resource_expiry_timestamp_seconds gauge", 1, true))
      assert.are.equal(0, #fake:requests_for("InquiryPriceRenewInstances"))
      local before = #fake:requests()
      local rc2, _, err2 = fixture.cli(dir, { "metrics", clouds(), "--days=-1" })
      assert.are.equal(2, rc2)
      assert.truthy(err2:find("--days", 1, true), err2)
      local rc3, _, err3 = fixture.cli(dir, { "metrics", clouds(), "--textfile", "/nonexistent/dir/x.prom" })
      assert.are.equal(2, rc3)
      assert.truthy(err3:find("not writable", 1, true), err3)
      assert.are.equal(before, #fake:requests())
    end)
  end)
end)

describe("forecast (issue 24 part 3)", function()
  local forecast = require("cloudrenew.workflow.forecast")
  local dates = require("cloudrenew.workflow.dates")
  local fake, tc, volc, dir
  local fx = fixture.new{ tls = false }
  local NOW = 1798761600   -- 2027-01-01T00:00:00Z
  local function at(s) return assert(dates.parse(s)) end
  setup(function() fake, tc, volc = fx.fake, fx:tencent(), fx:volcengine() end)
  before_each(function()
    dir = fx:dir()
    fake:resources{
      { id = "ins-fc000001", region = "ap-guangzhou", expires_at = at("2027-01-15T00:00:00Z") },
      { id = "ins-fc000002", region = "ap-guangzhou", expires_at = at("2026-12-01T00:00:00Z"), auto_renew = true },
      { id = "i-fc00000000000000001", expires_at = at("2027-06-30T00:00:00Z") },
      { id = "edgeone-fc000001", expires_at = at("2027-03-10T00:00:00Z") },
      { id = "disk-fc000001", product = "other", cloud = "tencent", product_code = "p_cos", sub_product_code = "sp_cos",
        region = "ap-shanghai", expires_at = at("2027-02-01T00:00:00Z") },
      { id = "ins-fc000003", region = "ap-guangzhou", expires_at = at("2028-06-01T00:00:00Z") },   -- after the window
    }
    -- the fake's inquiries: cvm 80 %, ecs 85 % of these
    fake:config{ prices = { ["ins-fc000001"] = 100, ["ins-fc000002"] = 30, ["i-fc00000000000000001"] = 100,
                            ["ins-fc000003"] = 100 } }
  end)

  it("sums the renewals each expiry implies per month, cloud and product, exactly, never across currencies", function()
    local report = assert(expiring.list{ clients = { tc, volc }, all = true, price = true, price_all = true, days = 0 })
    local f = assert(forecast.build(report, { months = 12, period = 1, now = NOW,
      prices = { ["edgeone-fc000001"] = "12.34" } }))
    local cells = {}
    for _, c in ipairs(f.by_month) do cells[c.month .. " " .. c.cloud .. " " .. c.product] = c.amount .. " " .. c.currency end
    -- January: ins-fc000001 (80.00) and the expired ins-fc000002 renewing at once (24.00)
    assert.are.equal("104.00 unknown", cells["2027-01 tencent cvm"])
    assert.are.equal("104.00 unknown", cells["2027-12 tencent cvm"])
    assert.is_nil(cells["2027-02 tencent teo"])
    assert.are.equal("12.34 unknown", cells["2027-03 tencent teo"])
    assert.is_nil(cells["2027-05 volcengine ecs"])
    assert.are.equal("85.00 CNY", cells["2027-06 volcengine ecs"])
    assert.are.equal("85.00 CNY", cells["2027-12 volcengine ecs"])
    local per = {}
    for _, c in ipairs(f.by_product) do per[c.cloud .. " " .. c.product] = { c.renewals, c.amount, c.currency } end
    assert.are.same({ 24, "1248.00", "unknown" }, per["tencent cvm"])     -- 12 x 80.00 + 12 x 24.00
    assert.are.same({ 10, "123.40", "unknown" }, per["tencent teo"])      -- March..December, the inventory's price
    assert.are.same({ 7, "595.00", "CNY" }, per["volcengine ecs"])        -- June 30 .. December 30
    local totals = {}
    for _, c in ipairs(f.totals) do totals[c.currency] = c.amount end
    assert.are.same({ unknown = "1371.40", CNY = "595.00" }, totals)      -- two currencies, two sums
    assert.are.equal(1, #f.unpriced)
    assert.are.equal("disk-fc000001", f.unpriced[1].id)
    local auto
    for _, r in ipairs(f.resources) do if r.id == "ins-fc000002" then auto = r.auto_renew end end
    assert.is_true(auto)
    for _, r in ipairs(f.resources) do assert.are_not.equal("ins-fc000003", r.id) end
    assert.are.same({}, fake:renewals())
    assert.are.equal(0, #fake:requests_for("RenewInstances"))
  end)

  it("a 3-month period: a renewal every third month, each at the 3-month price (from the i24 branch)", function()
    local report = assert(expiring.list{ clients = { tc }, all = true, price = true, price_all = true, days = 0, period = 3 })
    local f = assert(forecast.build(report, { months = 12, period = 3, now = NOW }))
    local cells = {}
    for _, c in ipairs(f.by_month) do cells[c.month .. " " .. c.cloud .. " " .. c.product] = c.amount end
    -- ins-fc000001 at 3 x 80.00 on Jan 15, Apr, Jul, Oct; the expired ins-fc000002 at 3 x 24.00 at once, then every 3 months
    for _, m in ipairs{ "2027-01", "2027-04", "2027-07", "2027-10" } do assert.are.equal("312.00", cells[m .. " tencent cvm"], m) end
    for _, m in ipairs{ "2027-02", "2027-03", "2027-05", "2027-12" } do assert.is_nil(cells[m .. " tencent cvm"], m) end
    local per = {}
    for _, c in ipairs(f.by_product) do per[c.cloud .. " " .. c.product] = { c.renewals, c.amount } end
    assert.are.same({ 8, "1248.00" }, per["tencent cvm"])   -- a year costs what 12 monthly renewals cost here
    for _, r in ipairs(fake:requests_for("InquiryPriceRenewInstances")) do
      assert.are.equal(3, require("cloudrenew.client.json").decode(r.body).InstanceChargePrepaid.Period)
    end
  end)

  it("refuses bad input", function()
    local _, err = forecast.build({ rows = {} }, { months = 0 })
    assert.are.equal("ClientError.InvalidParameter", err.code)
    _, err = forecast.build({ rows = {} }, { months = 1.5 })
    assert.are.equal("ClientError.InvalidParameter", err.code)
    _, err = forecast.build(nil)
    assert.are.equal("ClientError.InvalidParameter", err.code)
  end)

  it("cloudrenew forecast INVENTORY --json: the same sums, teo at the inventory's prices; exit 1 with an unpriced resource", function()
    local inv = dir .. "/inv.json"
    write(inv, json.encode{
      tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10,
                  teo = { period = 1, prices = { ["edgeone-fc000001"] = "12.34" }, resources = { "edgeone-fc000001" } } },
      volcengine = { region = "cn-beijing", endpoint = fake.url, timeout = 10 } })
    local rc, out, err = fixture.cli(dir, { "forecast", inv, "--months", "24", "--json" })
    assert.are.equal(1, rc, err)
    local f = assert(json.decode(out))
    assert.are.equal(24, f.months)
    local ids = {}
    for _, r in ipairs(f.unpriced) do ids[#ids + 1] = r.id end
    assert.are.same({ "disk-fc000001" }, ids)
    local teo
    for _, c in ipairs(f.by_product) do if c.product == "teo" then teo = c end end
    assert.are.equal(teo.renewals * 1234, teo.cents)
    local rc2, _, err2 = fixture.cli(dir, { "forecast", inv, "--months", "0" })
    assert.are.equal(2, rc2)
    assert.truthy(err2:find("--months", 1, true), err2)
    local rc3, table_out = fixture.cli(dir, { "forecast", inv })
    assert.are.equal(1, rc3)
    assert.truthy(table_out:find("unpriced", 1, true), table_out)
    assert.are.same({}, fake:renewals())
  end)
end)

-- examples/openresty serves /metrics: scraped from a real nginx after its timer job renewed.
local nginx = require("support.nginx")
local describe_nginx = (rawget(_G, "jit") == nil and nginx.available()) and describe or pending

describe_nginx("GET /metrics under nginx (examples/openresty, issue 24)", function()
  local fake
  setup(function() fake = fakecloud.start() end)
  teardown(function() if fake then fake:stop() end end)

  it("the example's /metrics passes promtool and counts the timer job's renewals and requests", function()
    local c = fakecloud.credentials().tencent[1]
    local ids = {}
    for i = 1, 5 do ids[i] = string.format("ins-mtx%05d", i) end
    local ngx_ = nginx.start{
      name = "i24metrics", workers = 1,
      main = "env TENCENTCLOUD_SECRET_ID=" .. c.secret_id .. "; env TENCENTCLOUD_SECRET_KEY=" .. c.secret_key
        .. "; env CLOUDRENEW_CONNECT_TO=" .. fake.tls_addr .. "; env CVM_INSTANCES=" .. table.concat(ids, ",")
        .. "; env APPLY=1; env BUDGET=1000000;",
      http = "  lua_ssl_trusted_certificate " .. nginx.abs(fake.certs.ca) .. ";\n  lua_ssl_verify_depth 3;\n"
        .. "  lua_shared_dict cloudrenew 1m;\n  lua_shared_dict renewals 1m;\n"
        .. "  init_by_lua_block { package.path = '@ROOT@/examples/openresty/?.lua;' .. package.path }\n"
        .. "  init_worker_by_lua_block { require('renewals').start() }\n",
      server = "    location = /metrics { content_by_lua_block { require('renewals').metrics() } }\n",
    }
    local ok, err = pcall(function()
      local deadline = require("cloudrenew.core").monotonic() + 30
      local text
      repeat
        require("cloudrenew.core").sleep(0.2)
        local status, body = ngx_:get("/metrics")
        assert.are.equal(200, status, tostring(body))
        text = body
      until (text:find('outcome="renewed"} 5', 1, true)) or require("cloudrenew.core").monotonic() > deadline
      local dir = os.tmpname()
      os.remove(dir)
      assert(sh("mkdir -p " .. q(dir)))
      local pok, said = promcheck(text, dir)
      os.execute("rm -rf " .. q(dir))
      assert.is_true(pok, said)
      assert.truthy(text:find('cloudrenew_renewals_total{cloud="tencent",product="cvm",outcome="renewed"} 5', 1, true), text)
      assert.truthy(text:find('cloudrenew_requests_total{cloud="tencent",service="cvm",action="RenewInstances",status="200",result="ok"} 5', 1, true), text)
      assert.truthy(text:find("cloudrenew_request_duration_seconds_bucket", 1, true))
      assert.falsy(text:find(c.secret_id, 1, true))
    end)
    ngx_:stop()
    assert(ok, err)
  end)
end)

describe("progress (issue 24 part 4)", function()
  local progress = require("cloudrenew.cli.progress")
  local products = require("cloudrenew.products")
  local fake, tc, dir
  local fx = fixture.new{ tls = false }
  setup(function() fake, tc = fx.fake, fx:tencent() end)
  before_each(function() dir = fx:dir() end)

  -- a file handle that keeps what is written
  local function sink()
    local s = { text = "" }
    function s:write(...) for _, v in ipairs{ ... } do self.text = self.text .. v end; return self end
    function s:flush() end
    return s
  end

  it("the time left comes from the pacing schedule: requests left / the action's paced rate, the slower phase", function()
    local t = 100
    local out = sink()
    local on = progress.new(out, "web", tc, products.cvm, true, function() return t end)
    on("inquire", 50, 100)      -- 50 inquiries left at 10/s x 0.95
    t = 102
    on("renew", 10, 100)        -- 90 renewals left at 10/s x 0.95 = 9.47 s, + 1 s for the last confirmation round
    local last = out.text:match("[^\r]*$")
    assert.are.equal("\27[Kweb: priced 50/100, renewed 10/100 (5.0/s), 10s left", last)
    -- a client with its own rate_limits paces (and predicts) at that rate
    local slow = fx:tencent{ rate_limits = { RenewInstances = 1 } }
    out = sink()
    on = progress.new(out, "db", slow, products.cvm, false, function() return t end)
    on("renew", 0, 60)
    assert.are.equal("\27[Kdb: renewed 0/60, 1m03s left", out.text:match("[^\r]*$"))
    assert.are.equal("2h05m", progress.clock(7500))
  end)

  it("on a terminal (a pty from script(1)) one line is redrawn in place, without being asked (from the i24 branch)", function()
    local inv = dir .. "/inv.json"
    write(inv, json.encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10,
      cvm = { period = 1, resources = { "ins-pt000001", "ins-pt000002" } } } })
    local c = fakecloud.credentials().tencent[1]
    local inner = "env -i PATH=" .. q(os.getenv("PATH")) .. " HOME=" .. q(dir) .. " CLOUDRENEW_METADATA_DISABLED=1"
      .. " TENCENTCLOUD_SECRET_ID=" .. q(c.secret_id) .. " TENCENTCLOUD_SECRET_KEY=" .. q(c.secret_key)
      .. " lua5.4 bin/cloudrenew plan " .. q(inv) .. " --audit-log " .. q(dir .. "/a.jsonl")
    assert(sh("script -qec " .. q(inner) .. " /dev/null > " .. q(dir .. "/tty") .. " 2>&1 < /dev/null"))
    local tty = read(dir .. "/tty") or ""
    assert.truthy(tty:find("\r\27[Kcvm", 1, true) or tty:find("\r\27[Ktencent", 1, true), tty)
    assert.truthy(tty:find("priced 2/2", 1, true), tty)
  end)

  it("off a terminal the CLI prints no progress unless asked (--progress)", function()
    local inv = dir .. "/inv.json"
    write(inv, json.encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10,
      cvm = { period = 1, resources = { "ins-pg000001", "ins-pg000002" } } } })
    local rc, _, err = fixture.cli(dir, { "plan", inv, "--audit-log", dir .. "/a.jsonl" })
    assert.are.equal(0, rc, err)
    assert.falsy(err:find("left", 1, true), err)
    local rc2, _, err2 = fixture.cli(dir, { "plan", inv, "--audit-log", dir .. "/a.jsonl", "--progress" })
    assert.are.equal(0, rc2, err2)
    assert.truthy(err2:find("priced 2/2", 1, true), err2)
    assert.truthy(err2:find("left", 1, true), err2)
  end)
end)

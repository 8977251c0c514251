-- Discovery (issue 11 part 2): renew what expires, found through the read
-- actions, through the fake cloud's fleet. Renewals are counted at the fake.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local dates = require("cloudrenew.workflow.dates")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local DAY = 86400

local by_id = fixture.by_id

local function count(list, pred)
  local n = 0
  for _, x in ipairs(list) do if pred(x) then n = n + 1 end end
  return n
end

describe("dates", function()
  it("parses Z, +00:00, +08:00 and zone-less Beijing time into epoch seconds", function()
    assert.are.equal(1586486856, dates.parse("2020-04-10T02:47:36Z"))
    assert.are.equal(1600732800, dates.parse("2020-09-22T00:00:00+00:00"))
    assert.are.equal(1796054400, dates.parse("2026-12-01T00:00:00+08:00"))  -- 2026-11-30T16:00Z
    assert.are.equal(1704855071, dates.parse("2024-01-10 10:51:11", 8))
    assert.are.equal(1586486856, dates.parse("2020-04-10T02:47:36.250Z"))
    assert.are.equal("2020-04-10T02:47:36Z", dates.format(1586486856))
  end)

  it("refuses anything else with nil and a reason, never raising", function()
    local bad = { "2024-01-10 10:51:11", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1969-12-31T23:59:59Z",
      "3000-01-01T00:00:00Z", "2024-01-10T24:00:00Z", "2024-01-10T10:51:60Z", "2024-01-10T10:51:11+15:00",
      "2024-01-10T10:51:11+0800", "2024-01-10 10:51:11Z", "2024-1-10T10:51:11Z", "", "null",
      string.rep("2", 100), "2024-01-10T10:51:11Z\n", "2024-01-10T10:51:11Zjunk", 1704855071, true, {} }
    for _, s in ipairs(bad) do
      local ok, t, why = pcall(dates.parse, s)
      assert.is_true(ok)
      assert.is_nil(t, tostring(s))
      assert.is_string(why)
    end
    for _, z in ipairs({ 0 / 0, 1 / 0, 15, "8" }) do assert.is_nil(dates.parse("2024-01-10 10:51:11", z)) end
    assert.is_nil(dates.format(0 / 0))
    assert.is_nil(dates.format(1e300))
  end)

  it("adds calendar months in UTC, clamping to the month's end", function()
    assert.are.equal("2024-02-29T10:00:00Z", dates.format(dates.add_months(dates.parse("2024-01-31T10:00:00Z"), 1)))
    assert.are.equal("2025-03-31T00:00:00Z", dates.format(dates.add_months(dates.parse("2024-03-31T00:00:00Z"), 12)))
    assert.are.equal("2027-01-15T00:00:00Z", dates.format(dates.add_months(dates.parse("2026-11-15T00:00:00Z"), 2)))
    assert.is_nil(dates.add_months(0, -1))
    assert.is_nil(dates.add_months(0, 1.5))
  end)
end)

describe("discovery", function()
  local fake, tc, volc
  local fx = fixture.new()

  setup(function() fake, tc, volc = fx.fake, fx:tencent(), fx:volcengine() end)

  -- 250 CVM instances: 244 expire in 100+ days; the rest are each kind of case.
  local function cvm_fleet()
    local list = {}
    for i = 1, 244 do list[i] = { id = string.format("ins-f%07d", i), expires_in_days = 100 + i } end
    local extra = {
      { id = "ins-due00001", expires_in_days = 3 },
      { id = "ins-due00002", expires_in_days = 29.5 },
      { id = "ins-postpaid", prepaid = false },
      { id = "ins-autorenw", expires_in_days = 10, auto_renew = true },
      { id = "ins-expired1", expires_in_days = -2 },
      { id = "ins-isolated", expires_in_days = 5, status = "SHUTDOWN" },
    }
    for _, r in ipairs(extra) do list[#list + 1] = r end
    fake:resources(list)
  end

  it("cvm: finds prepaid instances expiring within N days across pages; dry run shows the planned expiry", function()
    cvm_fleet()
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 1,
      select = { expires_within_days = 30 }, dry_run = true })
    assert.are.equal(3, #fake:requests_for("DescribeInstances"))          -- 250 in pages of 100
    local items = by_id(report)
    for _, id in ipairs({ "ins-due00001", "ins-due00002" }) do
      local it = items[id]
      assert.are.equal("renew", it.decision)
      assert.are.equal("planned", it.outcome)
      local before = fake:resource(id).expires_at
      assert.are.equal(dates.format(before), it.expires_before)
      assert.are.equal(dates.format(dates.add_months(before, 1)), it.expires_after_planned)
    end
    assert.are.equal("not_prepaid", items["ins-postpaid"].decision)
    assert.are.equal("auto_renew", items["ins-autorenw"].decision)
    assert.is_true(items["ins-autorenw"].auto_renew)
    assert.is_string(items["ins-autorenw"].expires_before)
    assert.are.equal("expired", items["ins-expired1"].decision)
    assert.are.equal("expired", items["ins-isolated"].decision)
    for _, id in ipairs({ "ins-postpaid", "ins-autorenw", "ins-expired1", "ins-isolated" }) do
      assert.are.equal("skipped", items[id].outcome)
    end
    assert.are.equal(6, #report.items)                                    -- not-due ones only counted
    assert.are.same({ expires_within_days = 30, listed = 250, selected = 2, not_due = 244, reported = 4,
                      include_auto_renew = false, region = "ap-guangzhou" }, report.discovery)
    assert.are.equal(2, report.totals.planned)
    assert.are.equal(6, report.totals.resources)
    assert.are.same({}, fake:renewals())
  end)

  it("cvm: renews each selected instance once; auto-renewing ones only with include_auto_renew", function()
    cvm_fleet()
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 2,
      select = { expires_within_days = 30, include_auto_renew = true } })
    local items = by_id(report)
    for _, id in ipairs({ "ins-due00001", "ins-due00002", "ins-autorenw" }) do
      assert.are.equal("renewed", items[id].outcome)
    end
    assert.is_true(items["ins-autorenw"].auto_renew)
    assert.are.same({ ["ins-due00001"] = 1, ["ins-due00002"] = 1, ["ins-autorenw"] = 1 }, fake:renewals())
    -- A second run selects nothing new: the renewed ones now expire in 2+ months.
    report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 2,
      select = { expires_within_days = 30, include_auto_renew = true } })
    assert.are.equal(0, report.totals.planned)
    assert.are.same({ ["ins-due00001"] = 1, ["ins-due00002"] = 1, ["ins-autorenw"] = 1 }, fake:renewals())
  end)

  it("cvm: ids, region and filters narrow the selection; unknown and not-due ids are reported", function()
    cvm_fleet()
    fake:resources({ { id = "ins-sh000001", region = "ap-shanghai", expires_in_days = 4 } }, { merge = true })
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 1, dry_run = true,
      select = { expires_within_days = 30, ids = { "ins-due00001", "ins-f0000001", "ins-postpaid" } } })
    local items = by_id(report)
    assert.are.equal("renew", items["ins-due00001"].decision)
    assert.are.equal("not_due", items["ins-f0000001"].decision)
    assert.are.equal("not_prepaid", items["ins-postpaid"].decision)
    assert.are.equal(1, #fake:requests_for("DescribeInstances"))
    fake:reset()
    cvm_fleet()
    fake:resources({ { id = "ins-sh000001", region = "ap-shanghai", expires_in_days = 4 } }, { merge = true })
    local sh = assert(cloudrenew.tencent(fake:tencent_opts{ region = "ap-shanghai" }))
    report = assert(workflow.renew_if_under_budget{ client = sh, product = "cvm", period = 1, dry_run = true,
      select = { expires_within_days = 30, region = "ap-shanghai",
                 filters = { { Name = "instance-id", Values = { "ins-sh000001" } } } } })
    sh:close()
    assert.are.equal(1, #report.items)
    assert.are.equal("ins-sh000001", report.items[1].id)
    assert.are.equal("ap-shanghai", fake:requests_for("DescribeInstances")[1].headers["x-tc-region"])
    -- besides a list of ids: both are priced
    report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 1, dry_run = true,
      resources = { "ins-f0000009" }, select = { expires_within_days = 30, ids = { "ins-due00002" } } })
    assert.are.equal(2, report.totals.planned)
  end)

  it("teo: DescribePlans finds expiring prepaid plans", function()
    fake:resources{
      { id = "edgeone-due000000001", expires_in_days = 7 },
      { id = "edgeone-late00000001", expires_in_days = 90 },
      { id = "edgeone-auto00000001", expires_in_days = 7, auto_renew = true },
      { id = "edgeone-post00000001", prepaid = false },
      { id = "edgeone-gone00000001", expires_in_days = -1 },
    }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "teo", period = 1,
      price = function() return 10 end, select = { expires_within_days = 14 } })
    local items = by_id(report)
    assert.are.equal("renewed", items["edgeone-due000000001"].outcome)
    assert.are.equal("auto_renew", items["edgeone-auto00000001"].decision)
    assert.are.equal("not_prepaid", items["edgeone-post00000001"].decision)
    assert.are.equal("expired", items["edgeone-gone00000001"].decision)
    assert.is_nil(items["edgeone-late00000001"])
    assert.are.same({ ["edgeone-due000000001"] = 1 }, fake:renewals())
  end)

  it("ecs: billing ListAvailableInstances in spans of at most 31 days, RenewType as the auto-renew flag", function()
    fake:resources{
      { id = "i-due0000000000000001", expires_in_days = 5 },
      { id = "i-due0000000000000002", expires_in_days = 70 },
      { id = "i-auto000000000000001", expires_in_days = 20, auto_renew = true },
      { id = "i-late000000000000001", expires_in_days = 200 },
      { id = "i-gone000000000000001", expires_in_days = -3 },
    }
    local report = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", period = 1,
      select = { expires_within_days = 75 } })
    local items = by_id(report)
    assert.are.equal("renewed", items["i-due0000000000000001"].outcome)
    assert.are.equal("renewed", items["i-due0000000000000002"].outcome)
    assert.are.equal("auto_renew", items["i-auto000000000000001"].decision)
    assert.are.equal("expired", items["i-gone000000000000001"].decision)
    assert.is_nil(items["i-late000000000000001"])
    local reqs = fake:requests_for("ListAvailableInstances")
    assert.are.equal(4, #reqs)                     -- -31..0, 0..31, 31..62, 62..75 days
    for _, r in ipairs(reqs) do
      local s, e = r.body:match('"ExpiredTimeStart":"([^"]+)"'), r.body:match('"ExpiredTimeEnd":"([^"]+)"')
      local span = dates.parse(e) - dates.parse(s)
      assert.truthy(span > 0 and span <= 31 * DAY, r.body)
    end
    assert.are.same({ ["i-due0000000000000001"] = 1, ["i-due0000000000000002"] = 1 }, fake:renewals())
  end)

  it("ecs: billing lists the whole account; only what DescribeInstances shows in the client's region is priced or renewed", function()
    -- billing ListAvailableInstances has no region field (volcengine-go-sdk
    -- InstanceListForListAvailableInstancesOutput): region is checked through ecs.
    fake:resources{
      { id = "i-here000000000000001", expires_in_days = 5, region = "cn-beijing" },
      { id = "i-there00000000000001", expires_in_days = 6, region = "cn-shanghai" },
    }
    local report = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", period = 1,
      select = { expires_within_days = 30 } })
    local items = by_id(report)
    assert.are.equal("renewed", items["i-here000000000000001"].outcome)
    assert.is_nil(items["i-there00000000000001"])
    assert.are.same({ ["i-here000000000000001"] = 1 }, fake:renewals())
    for _, r in ipairs(fake:requests_for("QueryPriceForRenew")) do
      assert.falsy(r.body:find("i-there", 1, true), r.body)
    end
    assert.are.equal(1, report.discovery.other_region)
    -- the region read went to the client's region and named the listed ids
    local reads = fake:requests_for("DescribeInstances")
    assert.is_true(#reads >= 1)
    assert.are.equal("cn-beijing", reads[1].region)
    -- seen from Shanghai, the same account renews only the Shanghai instance
    local sh = assert(cloudrenew.volcengine(fake:volc_opts{ region = "cn-shanghai" }))
    report = assert(workflow.renew_if_under_budget{ client = sh, product = "ecs", period = 1,
      select = { expires_within_days = 30 } })
    items = by_id(report)
    assert.are.equal("renewed", items["i-there00000000000001"].outcome)
    assert.is_nil(items["i-here000000000000001"])
    assert.are.same({ ["i-here000000000000001"] = 1, ["i-there00000000000001"] = 1 }, fake:renewals())
  end)

  it("ids: an answer that also lists an id nobody asked for renews only the ids asked for", function()
    -- issue 21 case 5: a by-id read answering another instance too got it renewed
    local soon = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(core.time()) + 5 * DAY)
    local function inst(id)
      return '{"InstanceId":"' .. id .. '","InstanceChargeType":"PREPAID","ExpiredTime":"' .. soon
        .. '","RenewFlag":"NOTIFY_AND_MANUAL_RENEW","InstanceState":"RUNNING"}'
    end
    fake:faults{ { action = "DescribeInstances", kind = "body", count = 1, body = '{"Response":{"RequestId":"r-1",'
      .. '"TotalCount":2,"InstanceSet":[' .. inst("ins-asked001") .. "," .. inst("ins-other001") .. "]}}" } }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 1,
      select = { expires_within_days = 30, ids = { "ins-asked001" } } })
    local items = by_id(report)
    assert.are.equal("renewed", items["ins-asked001"].outcome)
    assert.is_nil(items["ins-other001"])
    assert.are.same({ ["ins-asked001"] = 1 }, fake:renewals())
  end)

  it("a resource listed twice with conflicting facts (prepaid, then postpaid) is reported, not renewed", function()
    local soon = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(core.time()) + 5 * DAY)
    local function inst(id, charge)
      return '{"InstanceId":"' .. id .. '","InstanceChargeType":"' .. charge .. '","ExpiredTime":"' .. soon
        .. '","InstanceState":"RUNNING"}'
    end
    -- a full first page (100) so that a second is asked for
    local first = {}
    for i = 1, 99 do first[i] = inst(string.format("ins-fill%04d", i), "POSTPAID") end
    first[100] = inst("ins-twice001", "PREPAID")
    local function page(list) return '{"Response":{"RequestId":"r-1","TotalCount":101,"InstanceSet":['
      .. table.concat(list, ",") .. "]}}" end
    fake:faults{ { action = "DescribeInstances", kind = "body", count = 1, body = page(first) },
                 { action = "DescribeInstances", kind = "body", count = 1,
                   body = page{ inst("ins-twice001", "POSTPAID") } } }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 1,
      select = { expires_within_days = 30 } }, "x")
    local items = by_id(report)
    assert.are.equal("conflicting", items["ins-twice001"].decision)
    assert.are.equal("skipped", items["ins-twice001"].outcome)
    assert.are.same({}, fake:renewals())
  end)

  it("ecs: source = \"ecs\" and ids read DescribeInstances (ExpiredAt +08:00) and report postpaid ones", function()
    fake:resources{
      { id = "i-due0000000000000001", expires_in_days = 5 },
      { id = "i-post000000000000001", prepaid = false },
      { id = "i-auto000000000000001", expires_in_days = 20, auto_renew = true },
    }
    local report = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", period = 1, dry_run = true,
      select = { expires_within_days = 30, source = "ecs" } })
    local items = by_id(report)
    assert.are.equal("renew", items["i-due0000000000000001"].decision)
    assert.are.equal(dates.format(fake:resource("i-due0000000000000001").expires_at),
      items["i-due0000000000000001"].expires_before)
    assert.are.equal("not_prepaid", items["i-post000000000000001"].decision)
    assert.are.equal("auto_renew", items["i-auto000000000000001"].decision)
    fake:config{ missing = { "i-none000000000000001" } }
    report = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", period = 1, dry_run = true,
      select = { expires_within_days = 30, ids = { "i-post000000000000001", "i-none000000000000001" } } })
    items = by_id(report)
    assert.are.equal("not_prepaid", items["i-post000000000000001"].decision)
    assert.are.equal("not_found", items["i-none000000000000001"].decision)
  end)

  it("hspro: cwp DescribeMachineInfo per Quuid, ProVersionDeadline read as Beijing time", function()
    fake:resources{
      { id = "quuid-due-1", product = "hspro", expires_at = math.floor(core.time()) + 3 * DAY, region = "ap-beijing" },
      { id = "quuid-post-1", product = "hspro", prepaid = false },
    }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "hspro", period = 1,
      select = { expires_within_days = 10, ids = { "quuid-due-1", "quuid-post-1" } } })
    local items = by_id(report)
    assert.are.equal("renewed", items["quuid-due-1"].outcome)
    assert.are.equal("ap-beijing", items["quuid-due-1"].resource.MachineRegion)
    assert.are.equal(dates.format(math.floor(core.time()) + 3 * DAY):sub(1, 16), items["quuid-due-1"].expires_before:sub(1, 16))
    assert.are.equal("not_prepaid", items["quuid-post-1"].decision)
    assert.are.same({ ["quuid-due-1"] = 1 }, fake:renewals())
    assert.truthy(#fake:requests_for("DescribeMachineInfo") >= 2)   -- discovery's two, then confirmation's
  end)

  it("refuses a bad selector before sending anything", function()
    local cases = {
      { "cvm", { expires_within_days = -1 }, "expires_within_days" },
      { "cvm", { expires_within_days = 0 / 0 }, "expires_within_days" },
      { "cvm", { expires_within_days = 30, colour = "red" }, "colour is not a selector field" },
      { "cvm", { expires_within_days = 30, ids = { "a" }, filters = {} }, "not both" },
      { "cvm", { expires_within_days = 30, region = "a\nb" }, "region" },
      { "cvm", "30 days", "must be a table" },
      { "hspro", { expires_within_days = 30 }, "hspro needs ids" },
      { "cvm", { expires_within_days = 30, include_auto_renew = "yes" }, "include_auto_renew" },
      { "cvm", { expires_within_days = 30, region = "ap-beijing" }, "not the client's region ap-guangzhou" },
      { "teo", { expires_within_days = 30, region = "ap-beijing" }, "cvm, cbs, cdb, crs, lighthouse and ecs only" },
    }
    for _, c in ipairs(cases) do
      local res, err = workflow.renew_if_under_budget{ client = tc, product = c[1], period = 1, select = c[2],
        price = c[1] == "teo" and {} or nil }
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(err.message:find(c[3], 1, true), err.message)
      assert.is_true(workflow.validate{ client = tc, product = c[1], period = 1, select = c[2],
        price = c[1] == "teo" and {} or nil } == nil)
    end
    local _, err = workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 13,
      select = { expires_within_days = 30 } }
    assert.are.equal("ClientError.InvalidParameter", err.code)
    assert.are.equal(0, #fake:requests())
  end)

  it("a failed read fails the run before anything is priced or renewed", function()
    cvm_fleet()
    fake:faults{ { action = "DescribeInstances", kind = "status500", rate = 1 } }
    local res, err = workflow.renew_if_under_budget{ client = tc, product = "cvm", period = 1,
      select = { expires_within_days = 30 } }
    assert.is_nil(res)
    assert.is_string(err.code)
    assert.are.equal(0, #fake:requests_for("InquiryPriceRenewInstances"))
    assert.are.same({}, fake:renewals())
    assert.are.equal(0, count(fake:requests(), function(r) return r.action == "RenewInstances" end))
  end)

  it("the CLI inventory takes a select per group (plan shows expiry now and planned)", function()
    cvm_fleet()
    local creds = fakecloud.credentials()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local function q(x) return "'" .. tostring(x):gsub("'", "'\\''") .. "'" end
    local inv = dir .. "/inv.json"
    local f = assert(io.open(inv, "w"))
    f:write(require("cloudrenew.client.json").encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url, timeout = 10,
      cvm = { period = 1, select = { expires_within_days = 30 } } } })
    f:close()
    local cmd = table.concat({ "env", "-i", "PATH=" .. q(os.getenv("PATH")), "HOME=" .. q(dir),
      "TENCENTCLOUD_SECRET_ID=" .. q(creds.tencent[1].secret_id), "TENCENTCLOUD_SECRET_KEY=" .. q(creds.tencent[1].secret_key),
      "lua5.4", "bin/cloudrenew", "plan", q(inv), "--audit-log", q(dir .. "/audit.jsonl") }, " ")
    local rc = os.execute(cmd .. " >" .. dir .. "/out 2>" .. dir .. "/err")
    local out = fakecloud.read_file(dir .. "/out")
    assert.truthy(rc == true or rc == 0, tostring(fakecloud.read_file(dir .. "/err")))
    local before = dates.format(fake:resource("ins-due00001").expires_at)
    local planned = dates.format(dates.add_months(fake:resource("ins-due00001").expires_at, 1))
    assert.truthy(out:find("ins-due00001", 1, true), out)
    assert.truthy(out:find("expires " .. before .. " -> " .. planned .. " planned", 1, true), out)
    assert.truthy(out:find("ins%-postpaid%s+%-%s+not_prepaid"), out)
    assert.truthy(out:find("ins%-autorenw%s+%-%s+auto_renew"), out)
    assert.are.same({}, fake:renewals())
    -- a bad selector stops the run before anything is sent
    f = assert(io.open(inv, "w"))
    f:write(require("cloudrenew.client.json").encode{ tencent = { region = "ap-guangzhou", endpoint = fake.url,
      cvm = { period = 1, select = { expires_within_days = "soon" } } } })
    f:close()
    fake:reset()
    rc = os.execute(cmd .. " >" .. dir .. "/out 2>" .. dir .. "/err")
    assert.falsy(rc == true or rc == 0)
    assert.truthy(fakecloud.read_file(dir .. "/err"):find("cvm.select: expires_within_days", 1, true),
      fakecloud.read_file(dir .. "/err"))
    assert.are.equal(0, #fake:requests())
    os.execute("rm -rf " .. q(dir))
  end)
end)

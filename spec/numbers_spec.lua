-- One number is one number (issue 9, part 1). A caller reading its config with
-- lua-cjson on Lua 5.3/5.4 gets floats (period = 1.0, not 1). Every integral
-- value entering the API is normalised once, so keys, audit lines, request
-- bodies, signatures and messages see one form, and a re-run renews nothing twice.
-- Runs on Lua 5.4 and LuaJIT (where 1.0 and 1 are the same double already).
local cjson = require("cjson")
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.client.json")
local num = require("cloudrenew.client.num")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local FAST = { base_delay = 0.01, max_delay = 0.05 }
local mtype = math.type or function() return nil end   -- nil on LuaJIT: nothing to check

local has, q = fixture.has, fixture.q

describe("num", function()
  it("canon turns integral finite floats into integers and leaves the rest", function()
    local one = cjson.decode("[1.0]")[1]
    assert.are.equal("1", tostring(num.canon(one)))
    assert.are.equal("1.5", tostring(num.canon(1.5)))
    assert.are.equal("x", num.canon("x"))
    assert.is_true(num.canon(0 / 0) ~= num.canon(0 / 0))
    assert.are.equal(math.huge, num.canon(math.huge))
    if math.tointeger then assert.are.equal("integer", mtype(num.canon(one))) end
  end)

  it("deep copies without touching the caller's table, and refuses cycles and absurd depth", function()
    local t = cjson.decode('{"a": 1, "b": [2, {"c": 3.0}], "d": 1.5, "e": "4"}')
    local c = assert(num.deep(t))
    assert.are.same({ "1", "2", "3", "1.5", "4" },
      { tostring(c.a), tostring(c.b[1]), tostring(c.b[2].c), tostring(c.d), c.e })
    assert.are_not.equal(t, c)
    if math.tointeger then assert.are.equal("float", mtype(t.a)) end   -- the caller's stays as given
    local shared = { 1 }
    assert.truthy(num.deep({ shared, shared }))                        -- shared is not a cycle
    local cyc = { x = {} }
    cyc.x.y = cyc
    local r, err = num.deep(cyc)
    assert.is_nil(r)
    assert.truthy(has(err, "cycle"))
    local deep = {}
    for _ = 1, 200 do deep = { deep } end
    r, err = num.deep(deep)
    assert.is_nil(r)
    assert.truthy(has(err, "deeper"))
  end)

  it("int and show", function()
    assert.are.equal("3", tostring(num.int(3.0, 1, 5)))
    assert.is_nil(num.int(3.5))
    assert.is_nil(num.int(0 / 0))
    assert.is_nil(num.int(1 / 0))
    assert.is_nil(num.int(6, 1, 5))
    assert.is_nil(num.int("3"))
    assert.are.same({ "13", "nan", "inf", "-inf", '"x"', "1.5" },
      { num.show(13.0), num.show(0 / 0), num.show(1 / 0), num.show(-1 / 0), num.show("x"), num.show(1.5) })
  end)
end)

describe("numbers decoded by lua-cjson", function()
  local fake, tc, volc, log
  local fx = fixture.new{ tls = false }

  setup(function() fake, tc, volc = fx.fake, fx:tencent{ retry = FAST }, fx:volcengine{ retry = FAST } end)
  before_each(function() log = fx:log() end)

  local IDS = { "ins-numb0001", "ins-numb0002" }

  local function run(o, extra)
    local opts = { client = tc, product = "cvm", resources = IDS, audit_log = log }
    for k, v in pairs(o) do opts[k] = v end
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(workflow.renew_if_under_budget(opts))
  end

  describe("workflow", function()
    it("a re-run with period 1.0 from cjson renews nothing an earlier period = 1 run renewed", function()
      local r1 = run{ period = 1 }
      assert.are.equal(2, r1.totals.renewed)
      local cfg = cjson.decode('{"period": 1, "concurrency": 2, "max_price": 300, "budget": 1000}')
      local r2 = run(cfg)
      assert.are.equal(2, r2.totals.resumed)
      local r3 = run(cjson.decode('{"period": 1.0}'))
      assert.are.equal(2, r3.totals.resumed)
      assert.are.equal(2, #fake:requests_for("RenewInstances"))
      assert.are.same({ ["ins-numb0001"] = 1, ["ins-numb0002"] = 1 }, fake:renewals())
      -- the caller's table is left as given; the report carries the canonical value
      if math.tointeger then
        assert.are.equal("float", mtype(cfg.period))
        assert.are.equal("integer", mtype(r2.period))
      end
      assert.are.equal("1", tostring(r2.period))
    end)

    it("cjson options on every run: the log, the bodies and the report say 1, and nothing renews twice", function()
      local cfg = cjson.decode('{"period": 1, "concurrency": 2, "budget": 1000}')
      assert.are.equal(2, run(cfg).totals.renewed)
      assert.are.equal(2, run(cjson.decode('{"period": 1, "concurrency": 2, "budget": 1000}')).totals.resumed)
      assert.are.equal(2, run{ period = 1 }.totals.resumed)
      assert.are.equal(2, #fake:requests_for("RenewInstances"))
      assert.are.same({ ["ins-numb0001"] = 1, ["ins-numb0002"] = 1 }, fake:renewals())
      for _, rq in ipairs(fake:requests_for("RenewInstances")) do
        assert.truthy(has(rq.body, '"Period":1'), rq.body)
        assert.falsy(has(rq.body, "1.0"), rq.body)
      end
      local text = assert(fakecloud.read_file(log))
      assert.truthy(has(text, '"period":1'), text)
      assert.falsy(text:find('"period":1%.'), text)
    end)

    it("teo: the price function gets the canonical period", function()
      local seen
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "teo", period = cjson.decode("[3.0]")[1],
        resources = { "edgeone-numb00000001" }, dry_run = true,
        price = function(_, period) seen = period; return 10 end })
      assert.are.equal("planned", r.items[1].outcome)
      assert.are.equal("3", tostring(seen))
    end)

    it("messages show the canonical number; non-integral, non-finite and out-of-range values are refused", function()
      local function refused(extra, part)
        local o = { client = tc, product = "cvm", resources = IDS, period = 1 }
        for k, v in pairs(extra) do o[k] = v end
        local r, err = workflow.renew_if_under_budget(o)
        assert.is_nil(r)
        assert.are.equal("ClientError.InvalidParameter", err.code)
        assert.truthy(has(err.message, part), err.message .. " lacks " .. part)
        return err.message
      end
      local msg = refused({ period = cjson.decode("[13]")[1] }, "got 13")
      assert.falsy(has(msg, "13.0"), msg)
      msg = refused({ resources = cjson.decode("[12345]") }, "got 12345")
      assert.falsy(has(msg, "12345.0"), msg)
      refused({ period = 0 / 0 }, "got nan")
      refused({ period = 1 / 0 }, "got inf")
      for _, c in ipairs({ 1.5, 0, -1, 0 / 0, 1 / 0, 2000, "4" }) do
        refused({ concurrency = c }, "concurrency")
      end
      msg = refused({ concurrency = cjson.decode("[2000]")[1] }, "got 2000")
      assert.falsy(has(msg, "2000.0"), msg)
      refused({ budget = 1 / 0 }, "budget")
      refused({ max_price = 0 / 0 }, "max_price")
      assert.are.equal(0, #fake:requests())
    end)
  end)

  describe("typed actions and generic calls", function()
    it("send canonical numbers and leave the caller's table alone", function()
      local p = cjson.decode('{"InstanceIds": ["ins-numb0001"], "InstanceChargePrepaid": {"Period": 1.0}}')
      assert(tc.cvm:InquiryPriceRenewInstances(p))
      assert(volc.ecs:RenewInstance(cjson.decode('{"InstanceId": "i-numb00000000000001", "Period": 1.0,'
        .. ' "PeriodUnit": "Month"}')))
      assert(volc.billing:QueryPriceForRenew(cjson.decode('{"Product": "ECS", "UseDuration": 2.0,'
        .. ' "InstanceIDList": ["i-numb00000000000001"]}')))
      assert(tc:call("cvm", "2017-03-12", "DescribeInstances", cjson.decode('{"Limit": 1.0}')))
      assert(volc:call("ecs", "2020-04-01", "DescribeInstances", cjson.decode('{"MaxResults": 10.0}'),
        { method = "GET" }))
      local by = {}
      for _, rq in ipairs(fake:requests()) do by[rq.action] = rq end
      assert.truthy(has(by.InquiryPriceRenewInstances.body, '"Period":1}'), by.InquiryPriceRenewInstances.body)
      assert.truthy(by.RenewInstance.query:find("Period=1&", 1, true) or by.RenewInstance.query:find("Period=1$"),
        by.RenewInstance.query)
      assert.truthy(has(by.QueryPriceForRenew.body, '"UseDuration":2'), by.QueryPriceForRenew.body)
      assert.truthy(has(by.DescribeInstances.query, "MaxResults=10"), by.DescribeInstances.query)
      for _, rq in ipairs(fake:requests()) do
        assert.falsy((rq.body or ""):find("%d%.0[,}]"), rq.body)
        assert.falsy((rq.query or ""):find("%d%.0&"), rq.query)
        assert.is_nil(rq.error, rq.action .. ": " .. tostring(rq.error))
      end
      if math.tointeger then assert.are.equal("float", mtype(p.InstanceChargePrepaid.Period)) end
    end)

    it("numbers lua-cjson would round (15+ digits, 0.1 + 0.2) reach the cloud exactly, in bodies and queries",
      function()
      -- Documented parameters are bounded; an action the catalogue does not know
      -- passes its parameters through, so that is where such numbers travel.
      local big = math.tointeger and math.tointeger(123456789012345678) or 2 ^ 60
      local big_text = math.tointeger and "123456789012345678" or "1152921504606846976"
      tc:call("cvm", "2017-03-12", "DescribeZones",
        { ProjectId = big, Ratio = 0.1 + 0.2, Wide = 1e14, Plain = 12345, Half = 0.5, Tag = "x" })
      volc:call("billing", "2022-01-01", "QueryBalanceAcct", { AccountId = big, Nested = { Ratio = 0.1 + 0.2 } })
      volc:call("ecs", "2020-04-01", "DescribeZones", { ProjectId = big, Wide = 2 ^ 60 }, { method = "GET" })
      local by = {}
      for _, rq in ipairs(fake:requests()) do by[rq.action .. (rq.body ~= "" and rq.body and " body" or "")] = rq end
      local tb, vb, vq = by["DescribeZones body"], by["QueryBalanceAcct body"], by.DescribeZones
      assert(tb and vb and vq, "the fake saw every call")
      assert.truthy(has(tb.body, '"ProjectId":' .. big_text), tb.body)
      assert.truthy(has(tb.body, '"Ratio":0.30000000000000004'), tb.body)
      assert.truthy(has(tb.body, '"Wide":100000000000000'), tb.body)
      assert.truthy(has(tb.body, '"Plain":12345') and has(tb.body, '"Half":0.5') and has(tb.body, '"Tag":"x"'),
        tb.body)
      assert.falsy(tb.body:find("e+", 1, true), tb.body)
      assert.are.equal(0.1 + 0.2, json.decode(tb.body).Ratio)
      assert.truthy(has(vb.body, '"AccountId":' .. big_text), vb.body)
      assert.truthy(has(vb.body, '{"Ratio":0.30000000000000004}'), vb.body)
      assert.truthy(has(vq.query, "ProjectId=" .. big_text), vq.query)
      assert.truthy(has(vq.query, "Wide=1152921504606846976"), vq.query)
      -- sign.volc given the numbers itself (the C binding formats them) writes the same digits
      local _, d = require("cloudrenew.sign").volc{ access_key = "AKLTnumb", secret_key = "s", service = "ecs",
        region = "cn-beijing", date = "20261122T000000Z", query = { B = big, W = 2 ^ 60, R = 0.1 + 0.2 },
        headers = { Host = "open.volcengineapi.com" } }
      assert.are.equal("B=" .. big_text .. "&R=0.30000000000000004&W=1152921504606846976", d.canonical_query)
      -- signed and sent as they were built: the fake answers about the action, not the signature
      assert.are.same({ "InvalidAction", "InvalidActionOrVersion", "InvalidActionOrVersion" },
        { tb.error, vb.error, vq.error })
    end)

    it("json.encode: exact where cjson rounds, cjson's own text elsewhere, the caller's table untouched", function()
      local t = { a = { b = { 0.1 + 0.2, "s" } }, n = 7, s = "\1text" }
      local out = assert(json.encode(t))
      assert.are.same({ a = { b = { 0.1 + 0.2, "s" } }, n = 7, s = "\1text" }, json.decode(out))
      assert.are.equal("number", type(t.a.b[1]))
      local plain = { x = 1, y = { 2, 3.5 }, z = "q" }
      assert.are.equal(cjson.encode(plain), json.encode(plain))
      local _, err = json.encode({ bad = 0 / 0 })
      assert.truthy(has(err, "NaN"), err)
    end)

    it("validation messages say 13, not 13.0, and nothing is sent", function()
      local res, err = tc.cvm:InquiryPriceRenewInstances(cjson.decode(
        '{"InstanceIds": ["ins-numb0001"], "InstanceChargePrepaid": {"Period": 13}}'))
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(has(err.message, "got 13"), err.message)
      assert.falsy(has(err.message, "13.0"), err.message)
      res, err = tc.cvm:InquiryPriceRenewInstances(cjson.decode(
        '{"InstanceIds": [12345], "InstanceChargePrepaid": {"Period": 1}}'))
      assert.is_nil(res)
      assert.truthy(has(err.message, "InstanceIds[1] must be a string, got 12345"), err.message)
      assert.falsy(has(err.message, "12345.0"), err.message)
      res, err = tc.teo:RenewPlan{ PlanId = "edgeone-numb00000001", Period = 0 / 0 }
      assert.is_nil(res)
      assert.truthy(has(err.message, "nan"), err.message)
      assert.falsy(has(err.message, "-nan"), err.message)
      assert.are.equal(0, #fake:requests())
    end)

    it("a cyclic or absurdly deep parameter table is InvalidParameter, never a raise, and nothing is sent", function()
      local cyc = { MaxResults = 10, Filter = {} }
      cyc.Filter.Again = cyc
      local ok, res, err = pcall(volc.call, volc, "ecs", "2020-04-01", "DescribeInstances", cyc, { method = "GET" })
      assert.is_true(ok, tostring(res))
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(has(err.message, "cycle"), err.message)
      local tcyc = { InstanceIds = { "ins-numb0001" }, InstanceChargePrepaid = { Period = 1 } }
      tcyc.InstanceChargePrepaid.Loop = tcyc
      ok, res, err = pcall(tc.cvm.InquiryPriceRenewInstances, tc.cvm, tcyc)
      assert.is_true(ok, tostring(res))
      assert.are.equal("ClientError.InvalidParameter", err.code)
      local deep = {}
      for _ = 1, 100000 do deep = { deep } end
      ok, res, err = pcall(tc.call, tc, "cvm", "2017-03-12", "DescribeInstances", { Filters = deep })
      assert.is_true(ok, tostring(res))
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.are.equal(0, #fake:requests())
    end)
  end)

  it("client options from cjson: retry and rate settings take 2.0 as 2", function()
    local c = assert(cloudrenew.tencent(fake:tencent_opts{
      retry = cjson.decode('{"max_attempts": 2.0, "base_delay": 0.01, "max_delay": 0.05}'),
      rate_limits = cjson.decode('{"InquiryPriceRenewInstances": 5.0}'), timeout = cjson.decode("[10.0]")[1] }))
    fake:faults{ { action = "InquiryPriceRenewInstances", kind = "status500", count = 5 } }
    local res, err = c.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-numb0001" },
      InstanceChargePrepaid = { Period = 1 } }
    assert.is_nil(res)
    assert.are.equal("ClientError.BadResponse", err.code)
    assert.are.equal(2, #fake:requests_for("InquiryPriceRenewInstances"))   -- exactly max_attempts
    c:close()
    local bad, berr = cloudrenew.tencent(fake:tencent_opts{ retry = cjson.decode('{"max_attempts": 2.5}') })
    assert.is_nil(bad)
    assert.are.equal("ClientError.InvalidParameter", berr.code)
  end)

  describe("cloudrenew.net.map", function()
    it("takes concurrency 2.0 from cjson; refuses fractions, NaN, inf and out-of-range values by name", function()
      local results = cloudrenew.map({ 1, 2, 3 }, function(x) return x * 2 end,
        { concurrency = cjson.decode("[2.0]")[1] })
      assert.are.same({ 2, 4, 6 }, results)
      for _, c in ipairs({ 1.5, 0, 0 / 0, 1 / 0, 2000, "2" }) do
        local ran = false
        local ok, res, err = pcall(cloudrenew.map, { 1 }, function(x) ran = true; return x end, { concurrency = c })
        assert.is_true(ok, tostring(res))
        assert.is_nil(res, "accepted concurrency " .. tostring(c))
        assert.are.equal("ClientError.InvalidParameter", err.code)
        assert.truthy(has(err.message, "concurrency"), err.message)
        assert.is_false(ran)
      end
    end)
  end)

  describe("the CLI", function()
    local dir, creds

    before_each(function()
      dir = fx:dir()
      creds = fakecloud.credentials()
    end)

    local function cli(args)
      local env = { "PATH=" .. q(os.getenv("PATH")), "HOME=" .. q(dir),
        "TENCENTCLOUD_SECRET_ID=" .. q(creds.tencent[1].secret_id),
        "TENCENTCLOUD_SECRET_KEY=" .. q(creds.tencent[1].secret_key) }
      local cmd = { "env", "-i", table.concat(env, " "), "lua5.4", "bin/cloudrenew" }
      for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
      os.execute(table.concat(cmd, " ") .. " >" .. dir .. "/out 2>" .. dir .. "/err; echo $? >" .. dir .. "/rc")
      return tonumber(fakecloud.read_file(dir .. "/rc")), fakecloud.read_file(dir .. "/out") or "",
        fakecloud.read_file(dir .. "/err") or ""
    end

    it("an inventory saying 1.0 and --concurrency 2.0 renews once, and resumes a library run's log", function()
      -- a library run first, its options from cjson (period is a float on Lua 5.4)
      local r = run(cjson.decode('{"period": 1.0}'), { resources = { IDS[1] } })
      assert.are.equal(1, r.totals.renewed)
      local path = dir .. "/inventory.json"
      local f = assert(io.open(path, "wb"))
      f:write('{"tencent": {"region": "ap-guangzhou", "endpoint": "' .. fake.url .. '", "timeout": 10.0,'
        .. ' "cvm": {"period": 1.0, "max_price": 150.0, "budget": 1000.0, "resources": ["'
        .. IDS[1] .. '", "' .. IDS[2] .. '"]}}}')
      f:close()
      for round = 1, 2 do
        local rc, out, err = cli{ "apply", "--json", path, "--audit-log", log, "--concurrency", "2.0" }
        assert.are.equal(0, rc, err)
        local doc = assert(json.decode(out))
        local g = doc.groups[1]
        assert.are.equal("1", tostring(g.period))
        assert.are.equal(round == 1 and 1 or 2, g.totals.resumed)
        assert.falsy(out:find(":%-?%d+%.0[,}]"), out)   -- no number printed as 1.0
      end
      assert.are.same({ ["ins-numb0001"] = 1, ["ins-numb0002"] = 1 }, fake:renewals())
      local rc, _, err = cli{ "plan", path, "--concurrency", "2000.0" }
      assert.are.equal(2, rc)
      assert.truthy(has(err, "--concurrency must be a whole number from 1 to 1024, got 2000"), err)
      rc, _, err = cli{ "plan", path, "--concurrency", "1.5" }
      assert.are.equal(2, rc)
      assert.truthy(has(err, "got 1.5"), err)
    end)
  end)
end)

-- bin/cloudrenew as an operator runs it: a separate lua5.4 process reading an
-- inventory file, credentials from its environment, talking to the fake cloud.
-- Checks exit codes, the table and JSON output, resuming through the audit log,
-- and that a bad inventory, missing credentials or a busy audit log stop the
-- run before anything is sent.
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local read, write, q = fakecloud.read_file, fixture.write, fixture.q

describe("bin/cloudrenew", function()
  local fake, dir, creds

  -- Run the CLI with a clean environment; returns exit code, stdout, stderr.
  local function run(args, env)
    env = env or {}
    local e = { "PATH=" .. q(os.getenv("PATH")), "HOME=" .. q(dir), "CLOUDRENEW_METADATA_DISABLED=1" }
    local base = {
      TENCENTCLOUD_SECRET_ID = creds.tencent[1].secret_id, TENCENTCLOUD_SECRET_KEY = creds.tencent[1].secret_key,
      VOLCENGINE_ACCESS_KEY = creds.volcengine[1].access_key, VOLCENGINE_SECRET_KEY = creds.volcengine[1].secret_key,
    }
    for k, v in pairs(base) do if env[k] == nil then e[#e + 1] = k .. "=" .. q(v) end end
    for k, v in pairs(env) do if v ~= false then e[#e + 1] = k .. "=" .. q(v) end end
    local cmd = { "env", "-i", table.concat(e, " "), "lua5.4", "bin/cloudrenew" }
    for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
    local sh = table.concat(cmd, " ") .. " >" .. dir .. "/out 2>" .. dir .. "/err; echo $? >" .. dir .. "/rc"
    os.execute(sh)
    return tonumber(read(dir .. "/rc")), read(dir .. "/out") or "", read(dir .. "/err") or ""
  end

  local function inventory(t, name)
    local path = dir .. "/" .. (name or "inventory.json")
    local text = type(t) == "string" and t or assert(json.encode(t))
    -- case tables are built before the fake starts: FAKE_URL stands for its address
    write(path, (text:gsub("FAKE_URL", (fake.url:gsub("/", "\\/")))))
    return path
  end

  -- An inventory against the fake over plain HTTP.
  local function inv(groups)
    local t = { tencent = { region = "ap-guangzhou", endpoint = "FAKE_URL", timeout = 10 } }
    for k, v in pairs(groups.tencent or {}) do t.tencent[k] = v end
    if groups.volcengine then
      t.volcengine = { region = "cn-beijing", endpoint = "FAKE_URL", timeout = 10 }
      for k, v in pairs(groups.volcengine) do t.volcengine[k] = v end
    end
    return t
  end

  local CVM = { "ins-ccccccc1", "ins-ccccccc2", "ins-ccccccc3" }
  local function cvm_group(extra)
    local g = { period = 1, max_price = "150", resources = CVM }
    for k, v in pairs(extra or {}) do g[k] = v end
    return inv{ tencent = { cvm = g } }
  end

  local fx = fixture.new{ tls = false }
  setup(function() fake, creds = fx.fake, fakecloud.credentials() end)
  before_each(function()
    -- monthly prices; the fake's inquiry answers 80% of them
    fake:config{ prices = { ["ins-ccccccc1"] = 100, ["ins-ccccccc2"] = 300, ["ins-ccccccc3"] = 50 } }
    dir = fx:dir()
  end)

  it("plan prices and decides, renews nothing, writes no audit log, exits 0", function()
    local log = dir .. "/audit.jsonl"
    local rc, out = run{ "plan", inventory(cvm_group()), "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("ins%-ccccccc1%s+80%.00%s+renew%s+planned"), out)
    assert.truthy(out:find("ins%-ccccccc2%s+240%.00%s+over_max_price%s+skipped"), out)
    assert.truthy(out:find("total: 3 resources, 0 renewed, 1 skipped", 1, true), out)
    assert.are.equal(0, #fake:requests_for("RenewInstances"))
    assert.are.equal(3, #fake:requests_for("InquiryPriceRenewInstances"))
    assert.is_nil(read(log))
    -- apply --dry-run is plan
    rc = run{ "apply", "--dry-run", inventory(cvm_group()), "--audit-log", log }
    assert.are.equal(0, rc)
    assert.are.equal(0, #fake:requests_for("RenewInstances"))
  end)

  it("apply renews what fits, logs it, and a re-run pays nothing twice", function()
    local log = dir .. "/audit.jsonl"
    local path = inventory(cvm_group{ budget = "100" })
    local rc, out = run{ "apply", path, "--audit-log", log }
    assert.are.equal(0, rc, out)
    -- 80 fits; 240 is over max_price; 40 would make 120 > budget 100
    assert.truthy(out:find("ins%-ccccccc1%s+80%.00%s+renew%s+renewed%s+RequestId %S+"), out)
    assert.truthy(out:find("ins%-ccccccc3%s+40%.00%s+over_budget%s+skipped"), out)
    assert.truthy(out:find("spent 80.00, planned 80.00", 1, true), out)
    assert.are.same({ ["ins-ccccccc1"] = 1 }, fake:renewals())
    local lines = 0
    for l in (read(log) or ""):gmatch("[^\n]+") do
      lines = lines + 1
      assert.truthy(json.decode(l).id == "ins-ccccccc1")
    end
    assert.are.equal(3, lines)   -- intent, result and confirm
    rc, out = run{ "apply", path, "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("renewed%s+from the audit log"), out)
    assert.truthy(out:find("80.00 of it by earlier runs", 1, true), out)
    assert.are.equal(1, #fake:requests_for("RenewInstances"))
    assert.are.same({ ["ins-ccccccc1"] = 1 }, fake:renewals())
  end)

  it("--json prints one document with every item and the exit code", function()
    local rc, out = run{ "apply", "--json", inventory(cvm_group()), "--audit-log", dir .. "/a.jsonl" }
    assert.are.equal(0, rc, out)
    local doc = assert(json.decode(out), out)
    assert.are.equal("apply", doc.mode)
    assert.are.equal(0, doc.exit_code)
    assert.are.equal(dir .. "/a.jsonl", doc.audit_log)
    local g = doc.groups[1]
    assert.are.same({ "tencent.cvm", "cvm", 1, "150" }, { g.name, g.product, g.period, g.max_price })
    assert.are.same({ "ins-ccccccc1", "80.00", 8000, "renew", "renewed" },
      { g.items[1].id, g.items[1].price, g.items[1].price_cents, g.items[1].decision, g.items[1].outcome })
    assert.truthy(g.items[1].request_id)
    assert.are.equal("over_max_price", g.items[2].decision)
    assert.are.same({ 2, 12000 }, { doc.totals.renewed, doc.totals.spent_cents })
  end)

  it("exits 1 when a renewal fails or a resource has no price, with the cloud's code", function()
    fake:config{ missing = { "ins-ccccccc3" }, locked = { "ins-ccccccc1" } }
    local rc, out = run{ "apply", inventory(cvm_group()), "--audit-log", dir .. "/a.jsonl" }
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("ins%-ccccccc1%s+80%.00%s+renew%s+failed%s+%S+"), out)
    assert.truthy(out:find("ins%-ccccccc3%s+%-%s+no_price%s+skipped"), out)
    assert.truthy(out:find("RequestId", 1, true))
    assert.are.same({}, fake:renewals())
  end)

  it("exits 3 on an unknown outcome, lists it, and a re-run does not send it again", function()
    fake:faults{ { action = "RenewInstances", kind = "drop_after" } }
    local log = dir .. "/a.jsonl"
    local path = inventory(cvm_group{ resources = { "ins-ccccccc1" } })
    local rc, out = run{ "apply", path, "--audit-log", log }
    assert.are.equal(3, rc, out)
    assert.truthy(out:find("UNKNOWN OUTCOMES", 1, true), out)
    assert.truthy(out:find("tencent.cvm ins-ccccccc1 (period 1, price 80.00)", 1, true), out)
    assert.are.same({ ["ins-ccccccc1"] = 1 }, fake:renewals())   -- the cloud did renew it
    rc, out = run{ "apply", "--json", path, "--audit-log", log }
    assert.are.equal(3, rc, out)
    local doc = json.decode(out)
    assert.are.equal("unknown", doc.groups[1].items[1].outcome)
    assert.is_true(doc.groups[1].items[1].resumed)
    assert.are.equal(1, #doc.totals.unknowns)
    assert.are.equal(1, #fake:requests_for("RenewInstances"))
    assert.are.same({ ["ins-ccccccc1"] = 1 }, fake:renewals())
  end)

  it("issue 21 case 11: a later group that fails (a discovery read) does not hide what earlier groups did: every report, exit 3 while unknowns remain", function()
    fake:resources{ { id = "ins-ccccccc1", expires_in_days = 3 }, { id = "ins-ccccccc2", expires_in_days = 3 } }
    fake:faults{ { action = "RenewInstances", kind = "drop_after", count = 1 },
                 { action = "DescribePlans", kind = "body", status = 200, count = 10,
                   body = '{"Response":{"Error":{"Code":"UnauthorizedOperation","Message":"no DescribePlans"},"RequestId":"r-9"}}' } }
    write(dir .. "/teo.json", '{"edgeone-cccccccccc01": "12.50"}')
    local t = inv{ tencent = {
      cvm = { name = "web", period = 1, resources = { "ins-ccccccc1", "ins-ccccccc2" } },
      teo = { name = "plans", period = 1, prices = "teo.json", select = { expires_within_days = 30 } } } }
    local log = dir .. "/a.jsonl"
    local rc, out, err = run{ "apply", inventory(t), "--audit-log", log, "--concurrency", "1" }
    assert.are.equal(3, rc, out .. err)
    assert.truthy(out:find("web%s+ins%-ccccccc1%s+%S+%s+renew%s+unknown"), out)
    assert.truthy(out:find("web%s+ins%-ccccccc2%s+%S+%s+renew%s+renewed"), out)
    assert.truthy(out:find("UNKNOWN OUTCOMES", 1, true), out)
    assert.truthy(out:find("group plans did not run", 1, true), out)
    assert.truthy(err:find("UnauthorizedOperation", 1, true), err)
    assert.are.same({ ["ins-ccccccc1"] = 1, ["ins-ccccccc2"] = 1 }, fake:renewals())
    -- --json: the same, one document (the unknown is resumed, nothing sent again)
    fake:faults{ { action = "DescribePlans", kind = "body", status = 200, count = 10,
                   body = '{"Response":{"Error":{"Code":"UnauthorizedOperation","Message":"no DescribePlans"},"RequestId":"r-9"}}' } }
    rc, out = run{ "apply", "--json", inventory(t), "--audit-log", log }
    assert.are.equal(3, rc, out)
    local doc = assert(json.decode(out), out)
    assert.are.same({ 3, 1, "web" }, { doc.exit_code, #doc.groups, doc.groups[1].name })
    assert.are.equal(1, doc.totals.unknown)
    assert.truthy(doc.group_errors[1].message:find("UnauthorizedOperation", 1, true))
    assert.are.same({ ["ins-ccccccc1"] = 1, ["ins-ccccccc2"] = 1 }, fake:renewals())
    -- all renewed, the later group still failing: exit 1 (not 2: something ran)
    rc, out = run{ "apply", inventory{ tencent = {
      cvm = { name = "web", period = 1, resources = { "ins-ccccccc2" } },
      teo = { name = "plans", period = 1, prices = "teo.json", select = { expires_within_days = 30 } } } }, "--audit-log", log }
    assert.are.equal(1, rc, out)
    assert.are.same({ ["ins-ccccccc1"] = 1, ["ins-ccccccc2"] = 1 }, fake:renewals())
  end)

  it("issue 21: a server-supplied OrderId reaches the table printable and bounded (no escapes, no fake lines)", function()
    local evil = "Order1\27[2J\27]0;pwned\7\nins-ccccccc9  80.00  renew  renewed  " .. string.rep("x", 300)
    local body = assert(json.encode{ ResponseMetadata = { RequestId = "r-evil", Action = "RenewInstance",
      Version = "2020-04-01", Service = "ecs", Region = "cn-beijing" }, Result = { OrderId = evil } })
    fake:faults{ { action = "RenewInstance", kind = "body", status = 200, body = body, count = 1, execute = true } }
    local rc, out = run{ "apply", inventory(inv{ volcengine = { ecs = { period = 1, resources = { "i-cccccccccc1" } } } }),
      "--audit-log", dir .. "/a.jsonl" }
    assert.are.equal(0, rc, out)
    assert.is_nil(out:find("\27", 1, true))
    assert.is_nil(out:find("\7", 1, true))
    assert.is_nil(out:find("\nins%-ccccccc9"))
    assert.truthy(out:find("order Order1 [2J ]0;pwned  ins-ccccccc9", 1, true), out)
    assert.is_nil(out:find(string.rep("x", 100), 1, true))
    local rc2, jout = run{ "apply", "--json", inventory(inv{ volcengine = { ecs = { period = 1, resources = { "i-cccccccccc1" } } } }),
      "--audit-log", dir .. "/a.jsonl" }
    assert.are.equal(0, rc2, jout)
    local o = assert(json.decode(jout)).groups[1].items[1].order
    assert.truthy(#o <= 83 and not o:find("%c"), o)
  end)

  it("issue 21: --audit-log naming a directory or a FIFO is refused (exit 2, clear message) by plan, status and apply", function()
    local path = inventory(cvm_group())
    for _, cmd in ipairs{ "plan", "status", "apply" } do
      local rc, _, err = run{ cmd, path, "--audit-log", dir }
      assert.are.equal(2, rc, err)
      assert.truthy(err:find("is a directory: the audit log must be a regular file", 1, true), err)
    end
    assert(fixture.sh("mkfifo " .. q(dir .. "/fifo")))
    for _, cmd in ipairs{ "plan", "status", "apply", "reconcile" } do
      local rc, _, err = run{ cmd, path, "--audit-log", dir .. "/fifo" }
      assert.are.equal(2, rc, err)
      assert.truthy(err:find("is a fifo: the audit log must be a regular file", 1, true), err)
    end
    assert.are.equal(0, #fake:requests_for("RenewInstances"))
  end)

  it("issue 21: an inventory prices file is bounded: /dev/zero and a file over 4 MiB are refused, nothing sent", function()
    local function teo(prices)
      return inventory(inv{ tencent = { teo = { period = 1, prices = prices, resources = { "edgeone-cccccccccc01" } } } })
    end
    local rc, _, err = run{ "plan", teo("/dev/zero"), "--audit-log", dir .. "/a.jsonl" }
    assert.are.equal(2, rc, err)
    assert.truthy(err:find("not a regular file", 1, true), err)
    write(dir .. "/big.json", '{"edgeone-cccccccccc01": "1' .. string.rep("0", 5 * 1024 * 1024) .. '"}')
    rc, _, err = run{ "plan", teo("big.json"), "--audit-log", dir .. "/a.jsonl" }
    assert.are.equal(2, rc, err)
    assert.truthy(err:find("larger than 4194304 bytes", 1, true), err)
    assert.are.equal(0, #fake:requests())
  end)

  it("issue 21: run_ids with surrounding spaces are refused; a renewal of the resource under another run_id is warned of", function()
    local log = dir .. "/a.jsonl"
    local path = inventory(cvm_group{ resources = { "ins-ccccccc1" } })
    local rc, out, err = run{ "apply", path, "--audit-log", log, "--run-id", "2026-12 " }
    assert.are.equal(2, rc, err)
    assert.truthy(err:find("run_id must not begin or end with spaces", 1, true), err)
    rc, out = run{ "apply", path, "--audit-log", log, "--run-id", "2026-12" }
    assert.are.equal(0, rc, out)
    assert.is_nil(out:find("already holds", 1, true))
    rc, out = run{ "apply", path, "--audit-log", log }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find('warning: ins-ccccccc1: this log already holds a renewed renewal of it under run_id "2026-12"', 1, true), out)
    rc, out = run{ "plan", "--json", path, "--audit-log", log, "--run-id", "2026-12b" }
    assert.are.equal(0, rc, out)
    local warned = false
    for _, w in ipairs(assert(json.decode(out)).warnings) do warned = warned or w:find("already holds", 1, true) ~= nil end
    assert.is_true(warned)
    assert.are.same({ ["ins-ccccccc1"] = 2 }, fake:renewals())   -- the second was asked for (a new run_id), and warned of
  end)

  it("runs every group of every product and cloud, with a teo price file next to the inventory", function()
    write(dir .. "/teo.json", '{"edgeone-cccccccccc01": "12.50"}')
    local t = inv{
      tencent = {
        cvm = { { name = "web", period = 1, resources = { "ins-ccccccc1" } },
                { name = "db", period = 12, region = "ap-shanghai", resources = { "ins-ccccccc3" } } },
        teo = { period = 1, prices = "teo.json", resources = { "edgeone-cccccccccc01" } },
        hspro = { period = 1, resources = { "quuid-c1", { Quuid = "quuid-c2", MachineType = "BM",
                                                          MachineRegion = "ap-shanghai" } } },
      },
      volcengine = { ecs = { period = 1, resources = { "i-cccccccccc1", "i-cccccccccc2" } } },
    }
    local rc, out = run{ "apply", inventory(t), "--audit-log", dir .. "/a.jsonl", "--concurrency", "2" }
    assert.are.equal(0, rc, out)
    local r = fake:renewals()
    for _, id in ipairs{ "ins-ccccccc1", "ins-ccccccc3", "edgeone-cccccccccc01", "quuid-c1", "quuid-c2",
                         "i-cccccccccc1", "i-cccccccccc2" } do
      assert.are.equal(1, r[id], id)
    end
    assert.truthy(out:find("edgeone%-cccccccccc01%s+12%.50"), out)
    local regions = {}
    for _, req in ipairs(fake:requests_for("RenewInstances")) do
      for k, v in pairs(req.headers) do
        if k:lower() == "x-tc-region" then regions[#regions + 1] = v end
      end
    end
    table.sort(regions)
    assert.are.same({ "ap-guangzhou", "ap-shanghai" }, regions)
  end)

  it("plan says what the Host Security actions are: the old yunjing line, and the price of opening Pro", function()
    local t = inv{ tencent = { hspro = { period = 1, resources = { "quuid-c1" } } } }
    local rc, out = run{ "plan", inventory(t), "--audit-log", dir .. "/a.jsonl" }
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("warning: tencent.hspro: yunjing 2018-02-28 RenewProVersion and "
      .. "InquiryPriceOpenProVersionPrepaid are not in the maintained cwp 2018-02-28 API", 1, true), out)
    assert.truthy(out:find("the price of opening Pro", 1, true), out)
    rc, out = run{ "plan", inventory(t), "--audit-log", dir .. "/a.jsonl", "--json" }
    assert.are.equal(0, rc, out)
    local doc = json.decode(out)
    assert.truthy(table.concat(doc.warnings, "\n"):find("InquiryPriceOpenProVersionPrepaid", 1, true), out)
    -- a cvm-only inventory carries no such warning
    rc, out = run{ "plan", inventory(cvm_group()), "--audit-log", dir .. "/a.jsonl" }
    assert.falsy(out:find("yunjing", 1, true), out)
  end)

  describe("bad input exits 2, names file, entry and field, and sends nothing", function()
    local cases = {
      { "not JSON", '{"tencent": {"cvm": }', "not valid JSON: .* at line 1, column 21" },
      { "unknown top key", { tencnet = {} }, "inventory.json: tencnet: unknown key" },
      { "secret in file", inv{ tencent = { secret_key = "abcd" } }, "tencent.secret_key: credentials do not belong" },
      { "unknown group key", cvm_group{ max_prise = 1 }, "tencent.cvm.max_prise: unknown key" },
      { "bad period", cvm_group{ period = 13 }, "tencent.cvm.period: must be a whole number of months" },
      { "no period", cvm_group{ period = json.null }, "tencent.cvm.period: is required" },
      { "bad amount", cvm_group{ budget = "lots" }, "tencent.cvm.budget: must be an amount" },
      { "empty resources", cvm_group{ resources = {} }, "tencent.cvm.resources: must be a non%-empty list" },
      { "bad id", cvm_group{ resources = { "ins-ccccccc1", "i-abc" } },
        'tencent.cvm: resources%[2%] "i%-abc" is not a valid cvm id' },
      { "id twice", inv{ tencent = { cvm = { { period = 1, resources = { "ins-ccccccc1" } },
                                             { period = 2, resources = { "ins-ccccccc1" } } } } },
        "tencent.cvm%[2%].resources%[1%]: ins%-ccccccc1 is already listed in tencent.cvm%[1%].resources%[1%]" },
      { "teo without prices", inv{ tencent = { teo = { period = 1, resources = { "edgeone-cccccccccc01" } } } },
        "tencent.teo.prices: is required" },
      { "prices on cvm", cvm_group{ prices = {} }, "tencent.cvm.prices: is for teo and tc_billing only" },
      { "missing price file", inv{ tencent = { teo = { period = 1, prices = "nope.json",
                                                      resources = { "edgeone-cccccccccc01" } } } },
        "tencent.teo.prices: cannot read .*nope.json" },
      { "hspro row", inv{ tencent = { hspro = { period = 1, resources = { { Quuid = "q", MachineType = "VM",
                                                                        MachineRegion = "r" } } } } },
        "tencent.hspro: resources%[1%].MachineType" },
      { "nothing listed", { tencent = { region = "ap-guangzhou" } }, "lists no resources" },
      { "bad client option", inv{ tencent = { timeout = -1, cvm = { period = 1, resources = CVM } } },
        "tencent.timeout: must be a positive number" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local rc, out, err = run{ "apply", inventory(c[2]), "--audit-log", dir .. "/a.jsonl" }
        assert.are.equal(2, rc, out .. err)
        assert.truthy(err:find(c[3]), err)
        assert.truthy(err:find(dir .. "/inventory.json", 1, true), err)
        assert.are.equal("", out)
        assert.are.equal(0, #fake:requests())
        assert.is_nil(read(dir .. "/a.jsonl"))
      end)
    end

    it("a missing file, and --json still prints a document", function()
      local rc, out, err = run{ "plan", "--json", dir .. "/nope.json" }
      assert.are.equal(2, rc)
      assert.truthy(err:find("nope.json: cannot read", 1, true), err)
      local doc = assert(json.decode(out))
      assert.are.same({ 2, "BadInput" }, { doc.exit_code, doc.error.code })
    end)

    it("usage errors", function()
      for _, args in ipairs{ {}, { "renew", "x.json" }, { "plan" }, { "plan", "x.json", "--bogus" },
                             { "plan", inventory(cvm_group()), "--concurrency", "0" },
                             { "plan", inventory(cvm_group()), "--concurrency", "many" },
                             { "plan", inventory(cvm_group()), "--audit-log", dir .. "/%Q.jsonl" } } do
        local rc, _, err = run(args)
        assert.are.equal(2, rc, table.concat(args, " ") .. ": " .. err)
        assert.truthy(#err > 0)
      end
      assert.are.equal(0, #fake:requests())
    end)

    it("missing credentials say where they were looked for", function()
      local rc, _, err = run({ "plan", inventory(cvm_group()) },
        { TENCENTCLOUD_SECRET_ID = false, TENCENTCLOUD_SECRET_KEY = false })
      assert.are.equal(2, rc)
      assert.truthy(err:find("tencent: ClientError.Credentials", 1, true), err)
      assert.truthy(err:find("TENCENTCLOUD_SECRET_ID", 1, true), err)
      assert.are.equal(0, #fake:requests())
    end)

    it("an audit log held by another run, or damaged, stops apply before it sends", function()
      local log = dir .. "/a.jsonl"
      local lock = assert(core.lock(log))
      local rc, _, err = run{ "apply", inventory(cvm_group()), "--audit-log", log }
      lock:release()
      assert.are.equal(2, rc)
      assert.truthy(err:find("locked by another running process", 1, true), err)
      write(log, '{"event":"intent"\nnot json\n{"event":"result"}\n')
      rc, _, err = run{ "apply", inventory(cvm_group()), "--audit-log", log }
      assert.are.equal(2, rc)
      assert.truthy(err:find("damaged", 1, true), err)
      assert.are.equal(0, #fake:requests())
    end)
  end)

  it("shows progress on stderr only when it is a terminal", function()
    local path = inventory(cvm_group())
    local rc, _, err = run{ "plan", path }
    assert.are.equal(0, rc)
    assert.are.equal("", err)
    -- script(1) (bsdutils, always in Debian) gives the run a pseudo-terminal
    local e = string.format("TENCENTCLOUD_SECRET_ID=%s TENCENTCLOUD_SECRET_KEY=%s",
      q(creds.tencent[1].secret_id), q(creds.tencent[1].secret_key))
    os.execute(string.format("%s script -qec %s /dev/null >%s/tty 2>&1 </dev/null", e,
      q("lua5.4 bin/cloudrenew plan " .. path .. " --audit-log " .. dir .. "/a.jsonl"), dir))
    local tty = read(dir .. "/tty") or ""
    assert.truthy(tty:find("tencent.cvm: priced 3/3", 1, true), tty)
    assert.truthy(tty:find("left", 1, true), tty)   -- issue 24: the time left
    assert.truthy(tty:find("total: 3 resources", 1, true), tty)
  end)

  it("expands strftime codes in --audit-log (cron-friendly monthly logs)", function()
    local rc, out = run{ "apply", inventory(cvm_group{ resources = { "ins-ccccccc1" } }),
                         "--audit-log", dir .. "/renewals-%Y-%m.jsonl" }
    assert.are.equal(0, rc, out)
    assert.truthy(read(dir .. "/renewals-" .. os.date("%Y-%m") .. ".jsonl"))
  end)
end)

-- Issue 21, the Redis-shared fleet: what a lost, slow, hostile or wrong Redis
-- must never cost (a second renewal, a hang, a raise, a leaked password).
-- Real path throughout: Lua -> C -> hiredis -> a real local redis-server (or a
-- small hostile TCP server started here), renewals counted at the fake.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")
local redis_server = require("support.redis_server")

local ENV = "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='build/?.so;;' "
local sh = fixture.sh

-- Every resource renewed at most once at the fake: id -> count of those that were more.
local function twice(fake)
  local bad = {}
  for id, n in pairs(fake:renewals()) do if n > 1 then bad[#bad + 1] = id .. "=" .. n end end
  table.sort(bad)
  return bad
end

describe("issue 21: the Redis ledger across hosts", function()
  local fake, rs
  local IDS = {}
  for i = 1, 16 do IDS[i] = string.format("ins-w%07d", i) end
  local fx = fixture.new{ tls = false }
  setup(function() fake, rs = fx.fake, redis_server.start() end)
  teardown(function() if rs then rs:stop() end end)
  before_each(function()
    fake:config{ latency = 0.05 }
    rs:command("FLUSHALL")
  end)

  -- One host (spec/support/ledger_child.lua) in the background.
  local function start_host(dir, name, ttl, ids)
    local h = { out = dir .. "/out." .. name, log = dir .. "/audit." .. name .. ".jsonl", pidfile = dir .. "/pid." .. name }
    assert(sh(ENV .. "lua5.4 spec/support/ledger_child.lua " .. fake.url .. " " .. rs.url .. " " .. h.log
      .. " 2026-12 " .. ttl .. " " .. table.concat(ids, " ") .. " > " .. h.out .. " 2>&1 & echo $! > " .. h.pidfile))
    h.pid = tonumber(fakecloud.read_file(h.pidfile))
    return h
  end

  local function alive(h) return h.pid and sh("kill -0 " .. h.pid .. " 2>/dev/null") end

  local function wait_host(h, limit)
    local deadline = core.monotonic() + (limit or 60)
    while alive(h) and core.monotonic() < deadline do core.sleep(0.05) end
    assert.is_false(alive(h), "a host did not finish")
    h.text = fakecloud.read_file(h.out) or ""
    h.items = {}
    for id, outcome, how, code in h.text:gmatch("item (%S+) (%S+) (%S+) (%S+)") do
      h.items[id] = { outcome = outcome, resumed = how == "resumed", code = code }
    end
    return h
  end

  local function wait_for(h, what, limit)
    local deadline = core.monotonic() + (limit or 20)
    while core.monotonic() < deadline do
      if (fakecloud.read_file(h.out) or ""):find(what, 1, true) then return true end
      core.sleep(0.02)
    end
    return false
  end

  it("case 4: Redis wiped while a holder runs: what it read is re-seeded and a new host waits, nothing renewed twice", function()
    local dir = fx:dir()
    -- host A renews the first half and finishes
    local first = {}
    for i = 1, 8 do first[i] = IDS[i] end
    local a = wait_host(start_host(dir, "a", 2, first))
    assert.truthy(a.text:find("finished 8 0 0 0", 1, true), a.text)
    -- host B resumes A's half from the ledger (it only read those) and renews the rest, slowly
    fake:config{ latency = 0.25 }
    local b = start_host(dir, "b", 2, IDS)
    assert.truthy(wait_for(b, "holding"), "B did not start renewing")
    -- Redis loses its data while B holds the lease; host C starts right after
    rs:command("FLUSHALL")
    local c = start_host(dir, "c", 2, IDS)
    wait_host(b)
    wait_host(c)
    assert.are.same({}, twice(fake), "B: " .. b.text .. "\nC: " .. c.text)
    for _, id in ipairs(IDS) do assert.are.equal(1, fake:renewals()[id], id) end
  end)

  -- The ledger hash of the run_id's lease (one run in these specs).
  local function ledger_hash()
    for _, k in ipairs(rs:command("KEYS", "*:ledger")) do
      local t, out = rs:command("HGETALL", k), {}
      for i = 1, #t - 1, 2 do out[t[i]] = t[i + 1] end
      return out
    end
    return {}
  end

  it("case 7: the ledger claim comes after the pre-send expiry read, right before the send", function()
    local workflow = require("cloudrenew.workflow")
    local seen = {}
    local tc = fx:tencent{ redis = { url = rs.url, lease_ttl = 1, lease_wait = 5 }, on_request = function(info)
      if info.action == "DescribeInstances" then
        local n = 0
        for _ in pairs(ledger_hash()) do n = n + 1 end
        seen[#seen + 1] = n
      end
    end }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { IDS[1] },
      period = 1, run_id = "2026-12", concurrency = 1, confirm = false })
    assert.are.equal("renewed", report.items[1].outcome)
    assert.are.same({ 0 }, seen, "the ledger held a claim while the expiry read was in flight")
    -- the claim carries what a settler needs: the expiry read and when it was made
    local v = ledger_hash()[IDS[1]]
    assert.truthy(v and v:find("^renewed "), tostring(v))
  end)

  it("case 7: an intent only the ledger knows (its host died) is settled by proof by another host", function()
    local workflow = require("cloudrenew.workflow")
    local ledger = require("cloudrenew.workflow.ledger")
    local confirm = require("cloudrenew.workflow.confirm")
    local redis_opt = { url = rs.url, lease_ttl = 1, lease_wait = 5 }
    local dead = fx:tencent{ redis = redis_opt }
    -- host A: reads, claims both, sends the first only, then dies (no result, no local log here)
    local o = { client = dead, product = "cvm", run_id = "2026-12", period = 1 }
    local l = assert(ledger.open(dead, "cvm", "2026-12"))
    for i = 1, 2 do
      local it = { id = IDS[i], price_cents = 100, currency = "CNY" }
      it.expires_before = confirm.before(dead, "cvm", it.id)
      assert.truthy(it.expires_before)
      assert.truthy(l:claim(it, o, nil))
    end
    assert(dead.cvm:RenewInstances{ InstanceIds = { IDS[1] }, InstanceChargePrepaid = { Period = 1 } })
    core.sleep(1.2)     -- its lease expires
    -- host B settles with the same proofs as its own: IDS[1]'s expiry moved (renewed);
    -- IDS[2] never reached the cloud and stays unknown (no settle_after given)
    local tc = fx:tencent{ redis = redis_opt }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { IDS[1], IDS[2] },
      period = 1, run_id = "2026-12", concurrency = 1, confirm = false, settle = true })
    local by = fixture.by_id(report)
    assert.are.equal("renewed", by[IDS[1]].outcome)
    assert.are.equal("expiry", by[IDS[1]].settled_by)
    assert.are.equal("unknown", by[IDS[2]].outcome)
    assert.truthy(ledger_hash()[IDS[1]]:find("^renewed "))
    -- with settle_after passed and the expiry unmoved, IDS[2] is proven not renewed: renewed once now
    -- (settle_after has a 6 h floor: the ledger's intent is made 7 h old)
    local key = rs:command("KEYS", "*:ledger")[1]
    local v = rs:command("HGET", key, IDS[2])
    local f = {}
    for w in v:gmatch("%S+") do f[#f + 1] = w end
    f[7] = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(core.time()) - 7 * 3600)
    rs:command("HSET", key, IDS[2], table.concat(f, " "))
    report = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { IDS[1], IDS[2] },
      period = 1, run_id = "2026-12", concurrency = 1, confirm = false, settle = true, settle_after = 21600 })
    by = fixture.by_id(report)
    assert.are.equal("renewed", by[IDS[1]].outcome)
    assert.are.equal("renewed", by[IDS[2]].outcome, tostring(by[IDS[2]].error) .. " " .. tostring(by[IDS[2]].settled_by) .. " " .. tostring(ledger_hash()[IDS[2]]))
    assert.are.same({}, twice(fake))
    assert.are.equal(1, fake:renewals()[IDS[1]])
    assert.are.equal(1, fake:renewals()[IDS[2]])
  end)

  it("case 7 (issue 23): a billing renewal only the ledger knows is settled by another host with its ClientToken and codes", function()
    local workflow = require("cloudrenew.workflow")
    local ledger = require("cloudrenew.workflow.ledger")
    local confirm = require("cloudrenew.workflow.confirm")
    fake:resources({ { id = "cfw-rl000001", product = "other", cloud = "tencent", product_code = "p_cfw",
      sub_product_code = "sp_cfw_vpc", region = "ap-guangzhou", expires_in_days = 5 } })
    local row = { ProductCode = "p_cfw", SubProductCode = "sp_cfw_vpc", RegionCode = "ap-guangzhou", InstanceId = "cfw-rl000001" }
    local redis_opt = { url = rs.url, lease_ttl = 1, lease_wait = 5 }
    local dead = fx:tencent{ redis = redis_opt }
    -- host A claims it with a ClientToken and dies before its request leaves
    local o = { client = dead, product = "tc_billing", run_id = "2026-12b", period = 1 }
    local l = assert(ledger.open(dead, "tc_billing", "2026-12b"))
    local it = { id = "cfw-rl000001", row = row, price_cents = 4000, currency = "CNY" }
    it.expires_before = confirm.before(dead, "tc_billing", it.id)
    assert.truthy(it.expires_before)
    assert.truthy(l:claim(it, o, "cr-ledger-token-0001"))
    assert.truthy(ledger_hash()["cfw-rl000001"]:find("product_code=p_cfw", 1, true))
    core.sleep(1.2)     -- its lease expires
    -- host B: the expiry has not moved and the intent is young: the same token and codes again
    local tc = fx:tencent{ redis = redis_opt }
    local report = assert(workflow.renew_if_under_budget{ client = tc, product = "tc_billing", resources = { row },
      price = { ["cfw-rl000001"] = "40" }, period = 1, run_id = "2026-12b", confirm = false, settle = true })
    local r = fixture.by_id(report)["cfw-rl000001"]
    assert.are.same({ "renewed", "client_token" }, { r.outcome, r.settled_by })
    local sent = fake:requests_for("RenewInstance")
    assert.are.equal(1, #sent)
    local b = require("cloudrenew.client.json").decode(sent[1].body)
    assert.are.same({ "cr-ledger-token-0001", "p_cfw", "sp_cfw_vpc", "ap-guangzhou" },
      { b.ClientToken, b.ProductCode, b.SubProductCode, b.RegionCode })
    assert.are.same({ ["cfw-rl000001"] = 1 }, fake:renewals())
  end)
end)

describe("issue 21: a hostile or malformed Redis", function()
  local fx = fixture.new{ tls = false }

  -- A misbehaving Redis (spec/support/hostile_redis.py) living `life` s; its URL.
  local function hostile(mode, resp, life, password)
    local dir = fx:dir()
    local portfile = dir .. "/port"
    assert(sh("python3 spec/support/hostile_redis.py " .. portfile .. " " .. (life or 15) .. " " .. mode .. " "
      .. fixture.q(resp or "") .. " > /dev/null 2>&1 &"))
    local deadline = core.monotonic() + 10
    while not fakecloud.read_file(portfile) and core.monotonic() < deadline do core.sleep(0.02) end
    local port = assert(tonumber(fakecloud.read_file(portfile)))
    return "redis://" .. (password and (":" .. password .. "@") or "") .. "127.0.0.1:" .. port .. "/0"
  end

  -- One call in a child bounded by `timeout` 30: { seconds, code, message } or { raised }.
  local function child(redis_url, what)
    local p = io.popen("timeout 30 env " .. ENV .. "lua5.4 spec/support/redis_hostile_child.lua " .. fx.fake.url
      .. " " .. fixture.q(redis_url) .. " " .. what .. " 2>&1")
    local text = p:read("a")
    p:close()
    local s, code, msg = text:match("done (%S+) (%S+) ([^\n]*)")
    return { seconds = tonumber(s), code = code, message = msg, text = text }
  end

  it("case 8: a pacing answer asking to wait 10^9 s is not slept: the renewal fails closed at once", function()
    local r = child(hostile("reply", "*3\\r\\n:0\\r\\n:1000000000000000\\r\\n:1\\r\\n"), "renew")
    assert.truthy(r.seconds, r.text)
    assert.truthy(r.seconds < 8, r.text)
    assert.are.equal("ClientError.Redis", r.code, r.text)
    assert.are.same({}, fx.fake:renewals())
  end)

  it("case 8: a Redis dripping one byte every 0.5 s is bounded by a total time per command", function()
    local r = child(hostile("drip", nil, 25), "renew")
    assert.truthy(r.seconds, r.text)
    assert.truthy(r.seconds < 8, r.text)
    assert.are.equal("ClientError.Redis", r.code, r.text)
    assert.are.same({}, fx.fake:renewals())
  end)

  it("case 9: a wrong-typed ledger answer is an error, nothing sent, nothing raised", function()
    for _, resp in ipairs{ "*5\\r\\n+ok\\r\\n+e\\r\\n+h/1\\r\\n:1\\r\\n:5\\r\\n", ":7\\r\\n", "*1\\r\\n*1\\r\\n:1\\r\\n",
                           "*5\\r\\n+ok\\r\\n:1\\r\\n:2\\r\\n:3\\r\\n*2\\r\\n:1\\r\\n:2\\r\\n" } do
      local r = child(hostile("reply", resp), "ledger")
      assert.truthy(r.seconds, resp .. ": " .. r.text)
      assert.truthy(r.code == "ClientError.Redis" or r.code == "ClientError.Lease", r.text)
    end
    assert.are.same({}, fx.fake:renewals())
  end)

  it("a Redis error echoing the password never shows it", function()
    local r = child(hostile("error", nil, 15, "s3cretpw"), "renew")
    assert.truthy(r.seconds, r.text)
    assert.are.equal("ClientError.Redis", r.code, r.text)
    assert.is_nil(r.text:find("s3cretpw", 1, true), r.text)
  end)

  it("a Redis that accepts and never answers is a timeout, not 'AUTH failed'", function()
    local r = child(hostile("silent", nil, 15, "pw"), "renew")
    assert.truthy(r.seconds, r.text)
    assert.are.equal("ClientError.Redis", r.code, r.text)
    assert.is_nil(r.text:find("AUTH failed", 1, true), r.text)
    assert.truthy(r.text:lower():find("timed out", 1, true), r.text)
  end)

  it("a malformed Redis URL is ClientError.InvalidParameter at client creation", function()
    for _, u in ipairs{ "redis://:pw@127.0.0.1:notaport/0", "redis://127.0.0.1:/0", "redis://127.0.0.1:6379/x",
                        "redis://127.0.0.1:6379:6379/0", "redis://:pw@/0" } do
      local tc, err = cloudrenew.tencent(fx.fake:tencent_opts{ redis = u })
      assert.is_nil(tc, u)
      assert.are.equal("ClientError.InvalidParameter", err.code, u)
      assert.is_nil(tostring(err):find("pw", 1, true), tostring(err))
    end
  end)

  it("the hiredis connection is keyed by host, port, db and password", function()
    local redis = require("cloudrenew.redis")
    local a = assert(redis.check("redis://:one@127.0.0.1:6379/0"))
    local b = assert(redis.check("redis://:two@127.0.0.1:6379/0"))
    local c = assert(redis.check("redis://:one@127.0.0.1:6379/1"))
    assert.are_not.equal(redis.conn(a), redis.conn(b))
    assert.are_not.equal(redis.conn(a), redis.conn(c))
    assert.are.equal(redis.conn(a), redis.conn(assert(redis.check("redis://:one@127.0.0.1:6379/0"))))
  end)
end)

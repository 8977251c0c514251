-- Pacing and concurrency (issue 3), measured at the fake cloud, which enforces
-- the documented limits over a sliding one-second window per (credential, action).
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")

local function plans(prefix, n)
  local ids = {}
  for i = 1, n do ids[i] = string.format("edgeone-%s%011d", prefix, i) end
  return ids
end

local function all_ok(results, errs, n)
  for i = 1, n do
    assert.is_nil(errs[i], errs[i] and tostring(errs[i]))
    assert.is_table(results[i])
  end
end

describe("pacing", function()
  local fake

  setup(function() fake = fakecloud.start() end)
  teardown(function() fake:stop() end)
  before_each(function()
    fake:reset()
    fake:config{ limits = true }
  end)

  it("reaches the documented rate with concurrency and is never throttled", function()
    fake:config{ limits = true, latency = 0.1 }
    local tc = assert(cloudrenew.tencent(fake:tencent_opts{ retry = false }))
    local ids = plans("a", 60)
    local t0 = core.monotonic()
    local results, errs = cloudrenew.map(ids, function(id)
      return tc.teo:RenewPlan{ PlanId = id, Period = 1 }
    end, { concurrency = 16 })
    local elapsed = core.monotonic() - t0
    tc:close()
    all_ok(results, errs, 60)
    assert.are.equal(0, fake:state().throttled)
    -- 60 requests at 20/s (paced at 95%): about 3.1 s; sequential would take 6+ s
    assert.truthy(elapsed > 2.9 and elapsed < 4.0, "elapsed " .. elapsed)
  end)

  it("shares one bucket between clients that use the same credential", function()
    local a = assert(cloudrenew.tencent(fake:tencent_opts{ retry = false }))
    local b = assert(cloudrenew.tencent(fake:tencent_opts{ retry = false }))
    local ids = plans("b", 40)
    local t0 = core.monotonic()
    local results, errs = cloudrenew.map(ids, function(id, i)
      return (i % 2 == 0 and a or b).teo:RenewPlan{ PlanId = id, Period = 1 }
    end, { concurrency = 16 })
    local elapsed = core.monotonic() - t0
    a:close(); b:close()
    all_ok(results, errs, 40)
    assert.are.equal(0, fake:state().throttled)
    assert.truthy(elapsed > 1.9, "elapsed " .. elapsed)
  end)

  it("takes per-action overrides", function()
    local tc = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limits = { RenewPlan = 5 } }))
    local t0 = core.monotonic()
    for _, id in ipairs(plans("c", 6)) do assert(tc.teo:RenewPlan{ PlanId = id, Period = 1 }) end
    local elapsed = core.monotonic() - t0
    tc:close()
    assert.truthy(elapsed > 1.0, "elapsed " .. elapsed)
  end)

  it("without pacing (rate_limits = false) the fake throttles, and retries still absorb it", function()
    fake:config{ limits = true, limit_overrides = { DescribeInstances = 5 } }
    local tc = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limits = false,
      retry = { base_delay = 0.2, max_attempts = 10 } }))
    local results, errs = cloudrenew.map({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, function()
      return tc:call("cvm", "2017-03-12", "DescribeInstances", { Limit = 1 })
    end, { concurrency = 10 })
    tc:close()
    all_ok(results, errs, 10)
    assert.truthy(fake:state().throttled > 0)
  end)

  local function run_children(file)
    local cmd = "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 " ..
      "spec/support/fleet_child.lua " .. fake.url .. " %s 30 " .. (file or "")
    local out = os.tmpname()
    local t0 = core.monotonic()
    assert(os.execute("(" .. cmd:format("p") .. " > " .. out .. ".1 & " .. cmd:format("q") .. " > " .. out ..
      ".2 & wait)"))
    local elapsed = core.monotonic() - t0
    local o1 = io.open(out .. ".1"):read("*a"); local o2 = io.open(out .. ".2"):read("*a")
    os.remove(out); os.remove(out .. ".1"); os.remove(out .. ".2")
    return o1 .. o2, elapsed
  end

  it("two processes sharing rate_limit_file stay under the limit together", function()
    local file = os.tmpname()
    local out, elapsed = run_children(file)
    os.remove(file)
    assert.are.equal("ok\nok\n", out)
    assert.are.equal(0, fake:state().throttled)
    local n = 0
    for _ in pairs(fake:renewals()) do n = n + 1 end
    assert.are.equal(60, n)
    assert.truthy(elapsed > 2.9, "elapsed " .. elapsed)     -- 60 at 20/s, shared
  end)

  it("two processes pacing separately exceed it (the control for the test above)", function()
    local out = run_children(nil)
    assert.are.equal("ok\nok\n", out)                     -- retries absorb the throttling
    assert.truthy(fake:state().throttled > 0)
  end)
end)

describe("cloudrenew.map", function()
  local fake, tc
  setup(function()
    fake = fakecloud.start()
    tc = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limits = false, retry = false }))
  end)
  teardown(function() tc:close(); fake:stop() end)
  before_each(function() fake:reset() end)

  it("returns results and errors in list order, and catches what fn raises", function()
    fake:config{ missing = { "edgeone-missing00000" } }
    local ids = { "edgeone-aaaaaaaaaaaa", "edgeone-missing00000", "boom", "edgeone-bbbbbbbbbbbb" }
    local results, errs = cloudrenew.map(ids, function(id)
      if id == "boom" then error("fn blew up") end
      return tc.teo:RenewPlan{ PlanId = id, Period = 1 }
    end, { concurrency = 4 })
    assert.is_string(results[1].DealName)
    assert.is_nil(errs[1])
    assert.are.equal("InvalidParameter.PlanNotFound", errs[2].code)
    assert.are.equal("ClientError.Internal", errs[3].code)
    assert.truthy(errs[3].message:find("fn blew up", 1, true))
    assert.is_string(results[4].DealName)
    assert.are_not.equal(results[1].DealName, results[4].DealName)
  end)

  it("keeps at most `concurrency` requests in flight", function()
    fake:config{ latency = 0.3 }
    local items = { 1, 2, 3, 4, 5, 6, 7, 8 }
    local function run(c)
      local t0 = core.monotonic()
      local results, errs = cloudrenew.map(items, function()
        return tc:call("cvm", "2017-03-12", "DescribeInstances", {})
      end, { concurrency = c })
      all_ok(results, errs, #items)
      return core.monotonic() - t0
    end
    local t8, t4, t1 = run(8), run(4), run(1)
    -- Shape, not absolute speed (a loaded CI box stretches every run): 8 in
    -- flight take one round trip, 4 take two, 1 takes eight.
    local shape = string.format("t8=%.2f t4=%.2f t1=%.2f", t8, t4, t1)
    assert.is_true(t8 < 0.6, shape)
    assert.is_true(t4 > 0.59 and t4 > t8 + 0.2, shape)
    assert.is_true(t1 > 2.39 and t1 > t4 + 1.2, shape)
  end)

  it("answers bad arguments with nil, ClientError.InvalidParameter (see hardening_spec)", function()
    for _, args in ipairs({ { "x", print }, { {}, "x" }, { {}, print, { concurrency = 0 } } }) do
      local res, err = cloudrenew.map(args[1], args[2], args[3])
      assert.is_nil(res)
      assert.are.equal("ClientError.InvalidParameter", err.code)
    end
  end)

  it("routes waits through the sleep hook outside map", function()
    local slept = 0
    cloudrenew.set_sleep(function(s) slept = slept + s; core.sleep(s) end)
    local c = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limits = { DescribeInstances = 4 } }))
    for _ = 1, 3 do assert(c:call("cvm", "2017-03-12", "DescribeInstances", {})) end
    c:close()
    cloudrenew.set_sleep(core.sleep)
    assert.truthy(slept > 0.3, "slept " .. slept)
  end)
end)

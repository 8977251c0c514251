-- Pacing and concurrency (issue 3), measured at the fake cloud, which enforces
-- the documented limits over a sliding one-second window per (credential, action).
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

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

  -- Two fleet_child processes side by side; returns their parsed report lines.
  local function run_children(file)
    local cmd = "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 " ..
      "spec/support/fleet_child.lua " .. fake.url .. " %s 30 " .. (file or "")
    local out = os.tmpname()
    assert(os.execute("(" .. cmd:format("p") .. " > " .. out .. ".1 & " .. cmd:format("q") .. " > " .. out ..
      ".2 & wait)"))
    local reports, sends = {}, {}
    for i = 1, 2 do
      local text = fakecloud.read_file(out .. "." .. i) or ""
      local line = text:match("^[^\n]*")
      local status, t0, t1, failed = line:match("^(%a+) (%S+) (%S+) (%d+)")
      reports[i] = { line = line, status = status, start = tonumber(t0), finish = tonumber(t1),
                     failed = tonumber(failed) }
      for t in (text:match("\nsends ([^\n]*)") or ""):gmatch("%S+") do sends[#sends + 1] = tonumber(t) end
      os.remove(out .. "." .. i)
    end
    os.remove(out)
    return reports, sends
  end

  local busiest = fakecloud.busiest

  local function fake_times()
    local times = {}
    for _, r in ipairs(fake:requests_for("RenewPlan")) do times[#times + 1] = r.time end
    return times
  end

  it("two processes sharing rate_limit_file run side by side and stay under the limit together", function()
    local file = os.tmpname()
    local r, sends = run_children(file)
    os.remove(file)
    for i = 1, 2 do assert.are.equal("ok", r[i].status, r[i].line) end
    -- Both were sending at the same time: neither waited for the other to exit.
    local overlap = math.min(r[1].finish, r[2].finish) - math.max(r[1].start, r[2].start)
    assert.truthy(overlap > 1.0, string.format("overlap %.2f s: %s / %s", overlap, r[1].line, r[2].line))
    local n = 0
    for _ in pairs(fake:renewals()) do n = n + 1 end
    assert.are.equal(60, n)
    -- 60 at 20/s, shared: as sent (one clock for both processes), no second
    -- ever carries more than 20 of them.
    assert.is_true(#sends >= 60)
    assert.truthy(busiest(sends) <= 20, "busiest second as sent: " .. busiest(sends))
    -- The fake stamps a request when its (Python, on a busy host CPU-starved)
    -- thread gets to it, which can bunch two arrivals: allow that one, no more.
    -- Pacing separately (the control below) reaches about 38.
    local at_fake, throttled = busiest(fake_times()), fake:state().throttled
    assert.truthy(at_fake <= 21 and throttled <= 1,
      string.format("busiest second at the fake %d, throttled %d", at_fake, throttled))
    local span = math.max(r[1].finish, r[2].finish) - math.min(r[1].start, r[2].start)
    assert.truthy(span > 2.9, "span " .. span)
  end)

  it("two processes pacing separately exceed it (the control for the test above)", function()
    local r, sends = run_children(nil)
    for i = 1, 2 do assert.are.equal("ok", r[i].status, r[i].line) end  -- retries absorb the throttling
    assert.truthy(fake:state().throttled > 0)
    assert.truthy(busiest(sends) > 30, "busiest second as sent: " .. busiest(sends))
  end)
end)

-- The host-wide file is shared state other users and processes can touch:
-- it is opened only when it is ours and private, and damage fails calls
-- cleanly instead of crashing or stalling the process (issue 10, section 1).
describe("the shared pacing file", function()
  local fake
  setup(function() fake = fakecloud.start() end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)

  local sh = fixture.sh
  local function size(path)
    local f = assert(io.open(path, "rb")); local n = f:seek("end"); f:close(); return n
  end
  local function fresh() local p = os.tmpname(); os.remove(p); return p end

  -- Opening the client refuses the file, with a message naming the rule.
  local function refused(path, pattern)
    local c, err = cloudrenew.tencent(fake:tencent_opts{ rate_limit_file = path })
    if c then c:close(); error("accepted " .. path, 2) end
    assert.are.equal("ClientError.InvalidParameter", err.code)
    assert.truthy(err.message:find(pattern), err.message)
  end

  it("creates a new file 0600 and reopens it", function()
    local path = fresh()
    local c = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limit_file = path }))
    assert(c:call("cvm", "2017-03-12", "DescribeInstances", {}))
    c:close()
    local f = assert(io.popen("stat -c %a " .. path)); local mode = f:read("*l"); f:close()
    assert.are.equal("600", mode)
    assert.are.equal("CRRL0001", fakecloud.read_file(path):sub(1, 8))
    os.remove(path)
  end)

  it("refuses a symlink, and leaves its target alone", function()
    local target, link = os.tmpname(), fresh()
    assert(sh("ln -s " .. target .. " " .. link))
    refused(link, "symlink")
    assert.are.equal(0, size(target))
    os.remove(link); os.remove(target)
  end)

  it("refuses a file writable by group or others", function()
    for _, mode in ipairs({ "620", "602", "666" }) do
      local path = os.tmpname()
      assert(sh("chmod " .. mode .. " " .. path))
      refused(path, "writable by group or others")
      assert.are.equal(0, size(path))
      os.remove(path)
    end
  end)

  it("refuses a file owned by another user", function()
    local f = assert(io.popen("id -u")); local euid = f:read("*l"); f:close()
    if euid ~= "0" then pending("needs root to give a file away") return end
    local path = os.tmpname()
    assert(sh("chown 65534 " .. path))
    refused(path, "not owned by")
    assert.are.equal(0, size(path))
    os.remove(path)
  end)

  it("refuses what is not a regular file (a FIFO, a directory)", function()
    local fifo = fresh()
    assert(sh("mkfifo -m 600 " .. fifo))
    refused(fifo, "not a regular file")
    os.remove(fifo)
    local dir = fresh()
    assert(sh("mkdir -m 700 " .. dir))
    refused(dir, "not a regular file")
    assert(sh("rmdir " .. dir))
  end)

  it("never grows or rewrites a file it did not create or recognise", function()
    local cases = { ("\0"):rep(100), "#!/bin/sh\necho hello\n", ("\0"):rep(16) .. "data" }
    for _, content in ipairs(cases) do
      local path = os.tmpname()
      local f = assert(io.open(path, "wb")); f:write(content); f:close()
      refused(path, "not a cloudrenew rate%-limit file")
      assert.are.equal(content, fakecloud.read_file(path))
      os.remove(path)
    end
  end)

  it("survives another process truncating the file mid-run: calls fail cleanly, nothing unpaced is sent", function()
    local path = os.tmpname()
    local tc = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limit_file = path, retry = false }))
    local ids = plans("t", 40)
    -- A child truncates the file while the batch is running (40 at 20/s: about 2 s).
    assert(sh("(sleep 0.6; : > " .. path .. ") &"))
    local results, errs = cloudrenew.map(ids, function(id)
      return tc.teo:RenewPlan{ PlanId = id, Period = 1 }
    end, { concurrency = 8 })
    tc:close()
    local ok, failed = 0, 0
    for i = 1, #ids do
      if results[i] then
        ok = ok + 1
      else
        failed = failed + 1
        assert.are.equal("ClientError.RateLimitFile", errs[i].code, tostring(errs[i]))
        assert.are.equal("not_executed", errs[i].outcome)
        assert.truthy(errs[i].message:find("shrank", 1, true), errs[i].message)
      end
    end
    assert.truthy(ok > 0 and failed > 0, "ok " .. ok .. ", failed " .. failed)
    assert.are.equal(ok, #fake:requests_for("RenewPlan"))   -- a failed call sent nothing
    -- A new client re-creates the (now empty) file and paces again.
    local c2 = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limit_file = path, retry = false }))
    assert(c2.teo:RenewPlan{ PlanId = "edgeone-zzzzzzzzzzzz", Period = 1 })
    c2:close()
    assert.are.equal("CRRL0001", fakecloud.read_file(path):sub(1, 8))
    os.remove(path)
  end)
end)

describe("cloudrenew.net.map", function()
  local fake, tc
  local fx = fixture.new()
  setup(function() fake, tc = fx.fake, fx:tencent{ rate_limits = false, retry = false } end)

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

-- The audit log never lets a renewal be sent twice (issue 9, section 2):
-- resume identity whatever the period, an intent durable before anything is
-- sent (ENOSPC, foreign fragments), kill -9 mid-renewal, a concurrent foreign
-- writer, hand edits and wrong field types. Everything runs through
-- workflow.renew_if_under_budget against the fake cloud, and every spec
-- counts renewals at the fake: at most one per resource across all runs.
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local audit = require("cloudrenew.workflow.audit")
local workflow = require("cloudrenew.workflow")
local fakecloud = require("support.fake")
local fixture = require("support.fixture")

local FAST = { base_delay = 0.01, max_delay = 0.05 }
local LP = "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='build/?.so;;' "

local function read_file(path) return fakecloud.read_file(path) or "" end

local write_file = fixture.write

local function lines_of(s)
  local out = {}
  for l in s:gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

-- Every line of the log decodes and the file ends on a newline.
local function assert_clean(path)
  local s = read_file(path)
  assert.are.equal("\n", s:sub(-1), "the log must end on a newline")
  local out = {}
  for i, l in ipairs(lines_of(s)) do out[i] = assert(json.decode(l), path .. ":" .. i .. ": " .. l) end
  return out
end

local sh = fixture.sh

local function capture(cmd)
  local p = io.popen(cmd)
  local s = p:read("*a")
  p:close()
  return s
end

-- A well-formed intent line as the workflow writes it (for hand-made logs).
local function intent_line(attempt, id, extra)
  local e = { event = "intent", attempt = attempt, time = "2026-11-01T00:00:00.000Z", cloud = "tencent",
              product = "cvm", id = id, period = 1, price = "8.00" }
  for k, v in pairs(extra or {}) do e[k] = v end
  return assert(json.encode(e))
end

local function result_line(attempt, id, outcome, extra)
  local e = { event = "result", attempt = attempt, time = "2026-11-01T00:00:01.000Z", cloud = "tencent",
              product = "cvm", id = id, period = 1, outcome = outcome }
  for k, v in pairs(extra or {}) do e[k] = v end
  return assert(json.encode(e))
end

describe("audit log", function()
  local fake, tc, log
  local fx = fixture.new()

  setup(function() fake, tc = fx.fake, fx:tencent{ retry = FAST } end)
  before_each(function() log = fx:log() end)

  local function run(ids, extra)
    -- intent/result pairs only: confirm lines are confirm_spec's (confirm = false)
    local o = { client = tc, product = "cvm", resources = ids, period = 1, audit_log = log, concurrency = 1,
                confirm = false }
    for k, v in pairs(extra or {}) do o[k] = v end
    return workflow.renew_if_under_budget(o)
  end

  describe("resume identity", function()
    it("a changed period does not renew again with the same log and run_id", function()
      local ids = { "ins-cccccc01", "ins-cccccc02" }
      local r1 = assert(run(ids, { run_id = "2026-11" }))
      assert.are.equal(2, r1.totals.renewed)
      local r2 = assert(run(ids, { run_id = "2026-11", period = 3 }))
      assert.are.same({ true, true }, { r2.items[1].resumed, r2.items[2].resumed })
      assert.are.same({ "renewed", "renewed" }, { r2.items[1].outcome, r2.items[2].outcome })
      -- the report says why nothing was sent for period 3
      local said = table.concat(r2.audit.warnings, "\n")
      assert.truthy(said:find("ins-cccccc01", 1, true) and said:find("run_id", 1, true), said)
      assert.are.same({ ["ins-cccccc01"] = 1, ["ins-cccccc02"] = 1 }, fake:renewals())
      assert.are.equal(2, #fake:requests_for("RenewInstances"))
      -- renewing again in this cycle is deliberate: a new run_id
      local r3 = assert(run(ids, { run_id = "2026-11-extra", period = 3 }))
      assert.are.equal(2, r3.totals.renewed)
      assert.are.same({ ["ins-cccccc01"] = 2, ["ins-cccccc02"] = 2 }, fake:renewals())
    end)

    it("period 1 and period 1.0 (as lua-cjson decodes it) are the same renewal, either way round", function()
      local one_float = require("cjson").decode('{"p":1.0}').p
      assert(one_float == 1)
      local r1 = assert(run({ "ins-cccccc03" }, { period = 1 }))
      assert.are.equal(1, r1.totals.renewed)
      local r2 = assert(run({ "ins-cccccc03" }, { period = one_float }))
      assert.is_true(r2.items[1].resumed)
      local r3 = assert(run({ "ins-cccccc04" }, { period = one_float }))
      assert.are.equal(1, r3.totals.renewed)
      local r4 = assert(run({ "ins-cccccc04" }, { period = 1 }))
      assert.is_true(r4.items[1].resumed)
      assert.are.same({ ["ins-cccccc03"] = 1, ["ins-cccccc04"] = 1 }, fake:renewals())
      -- the log holds canonical numbers only
      for _, e in ipairs(assert_clean(log)) do
        if e.period ~= nil then assert.are.equal("1", tostring(e.period)) end
      end
    end)

    it("possibly renewed (intent without result, result unknown) is never sent again, whatever the period", function()
      write_file(log, intent_line("a1", "ins-cccccc05") .. "\n"
        .. intent_line("a2", "ins-cccccc06") .. "\n" .. result_line("a2", "ins-cccccc06", "unknown") .. "\n"
        -- a later failed attempt does not make a possibly renewed resource renewable again
        .. intent_line("a3", "ins-cccccc05", { period = 2 }) .. "\n"
        .. result_line("a3", "ins-cccccc05", "failed", { period = 2 }) .. "\n")
      local r = assert(run({ "ins-cccccc05", "ins-cccccc06", "ins-cccccc07" }, { period = 6 }))
      assert.are.same({ "unknown", "unknown", "renewed" }, { r.items[1].outcome, r.items[2].outcome, r.items[3].outcome })
      assert.are.same({ true, true }, { r.items[1].resumed, r.items[2].resumed })
      assert.are.same({ ["ins-cccccc07"] = 1 }, fake:renewals())
    end)
  end)

  describe("a renewal is sent only after its complete intent is durable", function()
    it("ENOSPC mid-run (small tmpfs): the short intent is cut off, nothing is sent after it, "
      .. "a roomier re-run renews the rest once", function()
      if capture("id -u"):match("%d+") ~= "0" then
        pending("needs root to mount a tmpfs (mount -t tmpfs): run the suite as root to cover ENOSPC")
        return
      end
      local ids = { "ins-dddddd01", "ins-dddddd02", "ins-dddddd03", "ins-dddddd04" }
      local opts = { run_id = "enospc" }
      -- Calibrate: the exact lines this run writes (same ids, run_id, prices).
      local cal = log .. ".cal"
      local c = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = ids,
        period = 1, audit_log = cal, concurrency = 1, run_id = "enospc", confirm = false })
      assert.are.equal(4, c.totals.renewed)
      local cl = lines_of(read_file(cal))
      os.remove(cal)
      fake:reset()
      local page = tonumber(capture("getconf PAGESIZE"):match("%d+"))
      local dir = capture("mktemp -d"):match("%S+")
      if not sh("mount -t tmpfs -o size=" .. (2 * page) .. " tmpfs " .. dir .. " 2>/dev/null") then
        os.remove(dir)
        pending("cannot mount a tmpfs here (no CAP_SYS_ADMIN?): ENOSPC not covered")
        return
      end
      finally(function()
        sh("umount " .. dir)
        os.remove(dir)
      end)
      -- One page for a filler, one for the log; the log starts with a padding
      -- entry sized so that renewals 1 and 2 fit and the 3rd intent is cut short.
      write_file(dir .. "/filler", string.rep("x", page))
      local used = #cl[1] + #cl[2] + #cl[3] + #cl[4] + 4
      local pad_to = page - used - math.floor(#cl[5] / 2)
      local pad = intent_line("pad", "ins-pad00000", { run_id = "padding", note = "" })
      pad = intent_line("pad", "ins-pad00000", { run_id = "padding", note = string.rep("p", pad_to - #pad - 1) })
      assert.are.equal(pad_to, #pad + 1)
      local tlog = dir .. "/renewals.jsonl"
      write_file(tlog, pad .. "\n")
      opts.audit_log = tlog
      local r = assert(run(ids, opts))
      assert.are.same({ "renewed", "renewed", "failed", "failed" },
        { r.items[1].outcome, r.items[2].outcome, r.items[3].outcome, r.items[4].outcome })
      for i = 3, 4 do
        assert.are.equal("ClientError.AuditLog", r.items[i].error.code)
        assert.are.equal("not_executed", r.items[i].error.outcome)
      end
      assert.truthy(tostring(r.items[3].error):find("short write", 1, true), tostring(r.items[3].error))
      assert.truthy(table.concat(r.audit.warnings, "\n"):find("stopped", 1, true), table.concat(r.audit.warnings, "\n"))
      assert.are.same({ ["ins-dddddd01"] = 1, ["ins-dddddd02"] = 1 }, fake:renewals())
      -- no fragment: the log is the padding and two complete renewals
      local e = assert_clean(tlog)
      assert.are.equal(5, #e)
      assert.are.same({ "intent", "result", "intent", "result" }, { e[2].event, e[3].event, e[4].event, e[5].event })
      -- the same log, given room, resumes 1 and 2 and renews 3 and 4 once
      assert(sh("mount -o remount,size=1m " .. dir))
      local r2 = assert(run(ids, opts))
      assert.are.same({ true, true }, { r2.items[1].resumed, r2.items[2].resumed })
      assert.are.same({ "renewed", "renewed" }, { r2.items[3].outcome, r2.items[4].outcome })
      assert.are.same({ ["ins-dddddd01"] = 1, ["ins-dddddd02"] = 1, ["ins-dddddd03"] = 1, ["ins-dddddd04"] = 1 },
        fake:renewals())
      assert.are.equal(9, #assert_clean(tlog))
    end)

    it("a foreign partial line appended mid-run is never glued to: the run stops sending", function()
      local ids = { "ins-dddddd05", "ins-dddddd06", "ins-dddddd07" }
      local fragment = '{"event":"intent","attem'
      local r = assert(run(ids, { on_progress = function(phase, done)
        if phase == "renew" and done == 1 then
          local f = assert(io.open(log, "ab")); f:write(fragment); f:close()
        end
      end }))
      assert.are.same({ "renewed", "failed", "failed" }, { r.items[1].outcome, r.items[2].outcome, r.items[3].outcome })
      assert.are.equal("ClientError.AuditLog", r.items[2].error.code)
      assert.are.same({ ["ins-dddddd05"] = 1 }, fake:renewals())
      local s = read_file(log)
      assert.are.equal(fragment, s:sub(-#fragment))     -- nothing glued to it
      assert.are.equal(2, #lines_of(s))
      -- the next run cuts the fragment off and renews the other two once
      local r2 = assert(run(ids))
      assert.are.same({ true, "renewed", "renewed" }, { r2.items[1].resumed, r2.items[2].outcome, r2.items[3].outcome })
      assert.are.equal(6, #assert_clean(log))
      assert.are.same({ ["ins-dddddd05"] = 1, ["ins-dddddd06"] = 1, ["ins-dddddd07"] = 1 }, fake:renewals())
    end)

    it("kill -9 between intent and result: the re-run (another period) sends nothing twice", function()
      local ids = { "ins-dddddd08", "ins-dddddd09", "ins-dddddd10" }
      -- the 1st renewal answers at once, the 2nd 10 s late: the child dies with it in flight
      fake:faults{ { action = "RenewInstances", kind = "slow", delay = 0.01 },
                   { action = "RenewInstances", kind = "slow", delay = 10 } }
      local pidfile = os.tmpname()
      os.execute(LP .. "lua5.4 spec/support/workflow_child.lua " .. fake.url .. " " .. log .. " "
        .. table.concat(ids, " ") .. " >/dev/null 2>&1 & echo $! > " .. pidfile)
      local pid = io.open(pidfile):read("*l")
      os.remove(pidfile)
      local deadline = core.monotonic() + 15
      while (fake:renewals()["ins-dddddd09"] or 0) == 0 and core.monotonic() < deadline do core.sleep(0.05) end
      os.execute("kill -9 " .. pid)
      local lock
      deadline = core.monotonic() + 10
      repeat lock = core.lock(log) until lock or core.monotonic() > deadline or core.sleep(0.02)
      assert(lock, "the killed run still holds the log"):release()
      local e = assert_clean(log)
      assert.are.same({ "intent", "result", "intent" }, { e[1].event, e[2].event, e[3].event })
      local r = assert(run(ids, { period = 2 }))
      assert.are.same({ "renewed", "unknown", "renewed" }, { r.items[1].outcome, r.items[2].outcome, r.items[3].outcome })
      assert.are.same({ true, true }, { r.items[1].resumed, r.items[2].resumed })
      assert.are.same({ ["ins-dddddd08"] = 1, ["ins-dddddd09"] = 1, ["ins-dddddd10"] = 1 }, fake:renewals())
    end)

    it("a second writer appending concurrently: the log stays parseable, each resource renewed once", function()
      local ids = {}
      for i = 1, 12 do ids[i] = string.format("ins-eeeeee%02d", i) end
      local stop = log .. ".stop"
      os.remove(stop)
      local child = assert(io.popen(LP .. "lua5.4 spec/support/audit_writer.lua " .. log .. " " .. stop))
      local out
      local function stop_child()   -- also when an assertion fails: never leave it writing
        if out then return end
        write_file(stop, "")
        out = child:read("*a")
        child:close()
        os.remove(stop)
      end
      finally(stop_child)
      local deadline = core.monotonic() + 10
      while #read_file(log) < 2000 and core.monotonic() < deadline do core.sleep(0.01) end
      local r = assert(run(ids, { concurrency = 4, run_id = "ours" }))
      stop_child()
      local n = tonumber(out:match("lines (%d+)"))
      assert.are.equal(12, r.totals.renewed)
      local e = assert_clean(log)
      local ours, foreign, first, last = 0, 0, nil, nil
      for i, x in ipairs(e) do
        if x.run_id == "ours" then
          ours = ours + 1
          first, last = first or i, i
        elseif x.run_id == "foreign" then foreign = foreign + 1 end
      end
      assert.are.same({ 24, n }, { ours, foreign })
      local between = 0
      for i = first, last do if e[i].run_id == "foreign" then between = between + 1 end end
      assert.is_true(between > 0, "the foreign writer never wrote during the run")
      -- the log opens cleanly and a re-run resumes every one of ours
      local l = assert(audit.open(log))
      assert.are.same({}, l.warnings)
      l:close()
      local r2 = assert(run(ids, { concurrency = 4, run_id = "ours" }))
      assert.are.equal(12, r2.totals.resumed)
      local renewals = fake:renewals()
      for _, id in ipairs(ids) do assert.are.equal(1, renewals[id]) end
      assert.are.equal(12, #fake:requests_for("RenewInstances"))
    end)
  end)

  describe("reading the log", function()
    local GOOD = intent_line("g1", "ins-ffffff01") .. "\n" .. result_line("g1", "ins-ffffff01", "renewed") .. "\n"
    local IDS = { "ins-ffffff01", "ins-ffffff02" }

    it("an unterminated garbage last line (a torn write) is cut off before the run appends", function()
      write_file(log, GOOD .. '{"event":"intent","attempt":"x2","cl')
      local r = assert(run(IDS))
      assert.are.same({ true, "renewed" }, { r.items[1].resumed, r.items[2].outcome })
      assert.are.equal(1, #r.audit.warnings)
      assert.truthy(r.audit.warnings[1]:find(log .. ":3: cut off a torn last line", 1, true), r.audit.warnings[1])
      local e = assert_clean(log)
      assert.are.equal(4, #e)
      assert.are.equal(GOOD, read_file(log):sub(1, #GOOD))
      assert.are.same({ ["ins-ffffff02"] = 1 }, fake:renewals())
    end)

    it("a dry run leaves a torn last line in place and warns about it", function()
      local torn = GOOD .. '{"event":"res'
      write_file(log, torn)
      local r = assert(run(IDS, { dry_run = true }))
      assert.are.equal("planned", r.items[2].outcome)
      assert.truthy(r.audit.warnings[1]:find(log .. ":3: ", 1, true), r.audit.warnings[1])
      assert.are.equal(torn, read_file(log))
      assert.are.equal(0, #fake:requests_for("RenewInstances"))
    end)

    it("a newline-terminated line that does not parse stops the run, naming the line, even the last", function()
      for _, s in ipairs{ GOOD .. "garbage\n", GOOD .. '{"event":"intent","attempt":"x2","cl\n',
                          "garbage\n" .. GOOD, GOOD .. "{}\n" } do
        write_file(log, s)
        local r, err = run(IDS)
        assert.is_nil(r, s)
        assert.are.equal("ClientError.AuditLog", err.code)
        local n = s:sub(1, 7) == "garbage" and 1 or 3
        assert.truthy(err.message:find(log .. ":" .. n .. ":", 1, true), err.message)
        assert.are.equal(s, read_file(log))
      end
      assert.are.equal(0, #fake:requests())
    end)

    it("a complete entry without its newline is not a torn write: refused, naming the line", function()
      write_file(log, intent_line("g1", "ins-ffffff01"))
      local r, err = run(IDS)
      assert.is_nil(r)
      assert.truthy(err.message:find(log .. ":1:", 1, true), err.message)
      assert.are.equal(0, #fake:requests())
    end)

    it("fields of the wrong type stop the run before anything is sent, naming the line", function()
      local bad = {
        intent_line(12345, "ins-ffffff02"),                                 -- "attempt": 12345
        intent_line("b1", "ins-ffffff02", { event = "commit" }),
        intent_line("b1", 42),
        intent_line("b1", "ins-ffffff02", { cloud = true }),
        intent_line("b1", "ins-ffffff02", { period = "1" }),
        intent_line("b1", "ins-ffffff02", { period = 1.5 }),
        intent_line("b1", "ins-ffffff02", { price = 8 }),
        intent_line("b1", "ins-ffffff02", { price = "eight" }),
        intent_line("b1", "ins-ffffff02", { run_id = 7 }),
        intent_line("b1", "ins-ffffff02", { time = 5 }),
        intent_line("b1", "ins-ffffff02", { client_token = {} }),
        '{"event":"intent","attempt":"b1","cloud":"tencent","product":"cvm"}',   -- no id
        result_line("g2", "ins-ffffff03", "paid"),
        result_line("g2", "ins-ffffff03", "renewed", { request_id = 1 }),
        result_line("g2", "ins-ffffff03", "failed", { error = "boom" }),
        result_line("zz", "ins-ffffff03", "renewed"),                        -- no intent before it
        result_line("g2", "ins-ffffff09", "renewed"),                        -- another resource's attempt
        result_line("g1", "ins-ffffff01", "renewed"),                        -- a second result
        intent_line("g1", "ins-ffffff02"),                                   -- attempt id reused
        "[1,2,3]",
        '"intent"',
      }
      for _, line in ipairs(bad) do
        write_file(log, GOOD .. intent_line("g2", "ins-ffffff03") .. "\n" .. line .. "\n"
          .. intent_line("g9", "ins-ffffff07") .. "\n")
        local r, err = run(IDS)
        assert.is_nil(r, line)
        assert.are.equal("ClientError.AuditLog", err.code)
        assert.truthy(err.message:find(log .. ":4:", 1, true), line .. " -> " .. err.message)
      end
      assert.are.equal(0, #fake:requests())
    end)

    it("unknown extra fields and blank lines are accepted (forward compatibility)", function()
      write_file(log, intent_line("g1", "ins-ffffff01", { future = { a = 1 }, retries = 3 }) .. "\n\n"
        .. result_line("g1", "ins-ffffff01", "renewed", { note = "ok" }) .. "\n")
      local r = assert(run(IDS))
      assert.are.same({ true, "renewed" }, { r.items[1].resumed, r.items[2].outcome })
      assert.are.same({ ["ins-ffffff02"] = 1 }, fake:renewals())
    end)
  end)
end)

describe("audit log group commit", function()
  local runtime = require("cloudrenew.net.runtime")
  local fx = fixture.new{ tls = false }
  local saved = {}
  before_each(function()
    saved = { yield = runtime.yield, can_yield = runtime.can_yield, wait = audit.GROUP_WAIT }
    -- a scheduler of our own: yield hands control back to this spec
    runtime.can_yield = function() return true end
    runtime.yield = function() coroutine.yield() end
    audit.GROUP_WAIT = 0.2
  end)
  after_each(function()
    runtime.yield, runtime.can_yield, audit.GROUP_WAIT = saved.yield, saved.can_yield, saved.wait
  end)

  local function entry(attempt, id)
    return { event = "intent", attempt = attempt, cloud = "tencent", product = "cvm", id = id, period = 1, price = "8.00" }
  end

  it("lines written at one moment share one write; a leader that never comes back does not hold the others", function()
    local path = fx:log()
    local log = assert(audit.open(path))
    log.group = true
    -- two at one moment: one write of both lines
    local a = coroutine.create(function() return log:append(entry("a1", "ins-gc000001")) end)
    local b = coroutine.create(function() return log:append(entry("b1", "ins-gc000002")) end)
    assert(coroutine.resume(a))          -- a leads and yields to gather
    assert(coroutine.resume(b))          -- b joins and waits
    local _, ok = coroutine.resume(a)    -- a writes both
    assert.is_true(ok)
    local _, okb = coroutine.resume(b)
    assert.is_true(okb)
    assert.are.same({ 1, 2 }, { log.writes.count, log.writes.lines })
    -- a leader dropped after gathering (its coroutine never resumed): the follower
    -- writes the batch itself after GROUP_WAIT, and the leader, if it comes back, writes nothing again
    local lead = coroutine.create(function() return log:append(entry("a2", "ins-gc000003")) end)
    local follow = coroutine.create(function() return log:append(entry("b2", "ins-gc000004")) end)
    assert(coroutine.resume(lead))
    assert(coroutine.resume(follow))
    local t0, done, fok = core.monotonic(), false, nil
    while not done and core.monotonic() - t0 < 5 do
      local _, r = coroutine.resume(follow)
      done, fok = coroutine.status(follow) == "dead", r
      core.sleep(0.01)
    end
    assert.is_true(done, "the follower waited for a leader that never came back")
    assert.is_true(fok)
    assert.truthy(core.monotonic() - t0 >= 0.15)
    local _, lok = coroutine.resume(lead)  -- late: finds its batch written
    assert.is_true(lok)
    assert.are.equal(coroutine.status(lead), "dead")
    local text = read_file(path)
    for _, id in ipairs{ "ins-gc000001", "ins-gc000002", "ins-gc000003", "ins-gc000004" } do
      local n = select(2, text:gsub(id:gsub("%-", "%%-"), ""))
      assert.are.equal(1, n, id .. " written " .. n .. " times")
    end
    assert.are.same({ 2, 4 }, { log.writes.count, log.writes.lines })
    log:close()
  end)
end)

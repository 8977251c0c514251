-- Every wait is bounded (issue 10, sections 1 and 2): what a server imposes
-- (Retry-After, throttle pauses) is capped at retry.max_delay, Retry-After is
-- parsed strictly, bucket times read from the shared file are untrusted, and a
-- wait longer than what is left of the call's deadline fails at once with
-- ClientError.Throttled instead of sleeping. Everything runs through the fake.
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")

local BODY = { Product = "ECS", UseDuration = 1, InstanceIDList = { "i-abc" } }

-- A sleep hook that records every wait and raises on any longer than `limit`
-- (today's code would otherwise sleep for an hour instead of failing).
local slept
local function guard(limit)
  slept = { max = 0, total = 0 }
  cloudrenew.set_sleep(function(s)
    if s > limit then error(string.format("asked to sleep %.1f s (bound %.1f s)", s, limit)) end
    slept.total = slept.total + s
    if s > slept.max then slept.max = s end
    core.sleep(s)
  end)
end

-- The shared file: 16-byte header ("CRRL0001", capacity), then 16-byte buckets
-- { key hash, TAT in CLOCK_MONOTONIC ns }, all little-endian (see ratelimit.c).
local function u64(s, at)
  local v = 0
  for i = at + 7, at, -1 do v = v * 256 + s:byte(i) end
  return v
end
local function le8(v)
  local t = {}
  for i = 1, 8 do t[i] = string.char(v % 256); v = math.floor(v / 256) end
  return table.concat(t)
end
-- Offset (0-based) of the TAT of the only claimed bucket.
local function tat_offset(path)
  local s = assert(fakecloud.read_file(path))
  local found
  for off = 16, #s - 16, 16 do
    if u64(s, off + 1) ~= 0 then
      assert.is_nil(found, "more than one bucket claimed")
      found = off + 8
    end
  end
  return assert(found, "no bucket claimed")
end
local function read_tat(path, off) return u64(assert(fakecloud.read_file(path)), off + 1) end
local function write_tat(path, off, ns)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", off)
  f:write(le8(ns))
  f:close()
end
local function now_ns() return math.floor(core.monotonic() * 1e9) end

local function throttled_at_once(err, t0, pattern)
  assert.truthy(err, "expected an error")
  assert.are.equal("ClientError.Throttled", err.code, tostring(err))
  assert.are.equal("not_executed", err.outcome)
  assert.is_true(err.retryable)
  assert.truthy(err.message:find(pattern), err.message)
  assert.truthy(core.monotonic() - t0 < 0.5, "took " .. (core.monotonic() - t0))
end

describe("bounded waits", function()
  local fake
  setup(function() fake = fakecloud.start() end)
  teardown(function() fake:stop() end)
  before_each(function() fake:reset() end)
  after_each(function() cloudrenew.set_sleep(core.sleep) end)

  local function volc(retry)
    return assert(cloudrenew.volcengine(fake:volc_opts{ retry = retry }))
  end
  local function throttle_once(value)
    fake:faults{ { action = "QueryPriceForRenew", kind = "throttle", retry_after = value } }
  end

  describe("Retry-After", function()
    it("3000 is capped at retry.max_delay, for this call and for the bucket", function()
      local path = os.tmpname()
      local c = assert(cloudrenew.volcengine(fake:volc_opts{ rate_limit_file = path,
        retry = { base_delay = 0.05, max_delay = 0.4, deadline = 30 } }))
      throttle_once("3000")
      guard(1)
      local t0 = core.monotonic()
      local res, err = c.billing:QueryPriceForRenew(BODY)
      assert.is_nil(err)
      assert.is_table(res)
      assert.truthy(slept.max >= 0.35 and slept.max <= 0.41, "slept " .. slept.max)
      assert.truthy(core.monotonic() - t0 < 2)
      assert.are.equal(2, #fake:requests_for("QueryPriceForRenew"))
      -- The pause other processes see in the file is the capped one, already over.
      assert.truthy(read_tat(path, tat_offset(path)) - now_ns() < 0.2e9)
      c:close()
      os.remove(path)
    end)

    it("longer than what is left of the deadline fails at once with ClientError.Throttled", function()
      -- Tencent this time (throttles answer HTTP 200), on an action the other
      -- cases do not use: the bucket stays paused for max_delay afterwards.
      local c = assert(cloudrenew.tencent(fake:tencent_opts{
        retry = { base_delay = 0.05, max_delay = 5, deadline = 1 } }))
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "throttle", retry_after = "3000" } }
      guard(1)
      local t0 = core.monotonic()
      local res, err = c.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-2zvpghhc" },
                                                         InstanceChargePrepaid = { Period = 1 } }
      c:close()
      assert.is_nil(res)
      throttled_at_once(err, t0, "Retry%-After")
      assert.truthy(err.message:find("deadline", 1, true), err.message)
      assert.are.equal(1, #err.attempts)
      assert.are.equal("RequestLimitExceeded", err.attempts[1].code)
      assert.are.equal(1, #fake:requests_for("InquiryPriceRenewInstances"))
    end)

    for _, value in ipairs({ "1e308", "-5", "soon", "NaN", "inf", "0x10", "", "3000 s", "1.5e3" }) do
      it(string.format("%q is ignored (backoff only)", value), function()
        local c = volc{ base_delay = 0.05, max_delay = 10, deadline = 30 }
        throttle_once(value)
        guard(0.3)
        local t0 = core.monotonic()
        local res, err = c.billing:QueryPriceForRenew(BODY)
        c:close()
        assert.is_nil(err)
        assert.is_table(res)
        assert.truthy(core.monotonic() - t0 < 1)
        assert.are.equal(2, #fake:requests_for("QueryPriceForRenew"))
      end)
    end

    it("a huge delta-seconds value is capped, not converted blindly", function()
      local c = volc{ base_delay = 0.05, max_delay = 0.3, deadline = 30 }
      throttle_once(("9"):rep(400))
      guard(1)
      assert(c.billing:QueryPriceForRenew(BODY))
      c:close()
      assert.truthy(slept.max >= 0.25 and slept.max <= 0.31, "slept " .. slept.max)
    end)

    it("an HTTP-date counts from the server's Date", function()
      local c = volc{ base_delay = 0.05, max_delay = 10, deadline = 30 }
      throttle_once(os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 3))
      guard(5)
      local res, err = c.billing:QueryPriceForRenew(BODY)
      c:close()
      assert.is_nil(err)
      assert.is_table(res)
      assert.truthy(slept.max >= 1.5 and slept.max <= 4.1, "slept " .. slept.max)
    end)

    -- RFC 9110 5.6.7: a recipient accepts the obsolete forms too (rfc850, asctime).
    for _, form in ipairs({ { "asctime", "!%a %b %e %H:%M:%S %Y" }, { "rfc850", "!%A, %d-%b-%y %H:%M:%S GMT" } }) do
      it("an HTTP-date in " .. form[1] .. " form counts too", function()
        local c = volc{ base_delay = 0.05, max_delay = 10, deadline = 30 }
        throttle_once(os.date(form[2], os.time() + 3))
        guard(5)
        local res, err = c.billing:QueryPriceForRenew(BODY)
        c:close()
        assert.is_nil(err)
        assert.is_table(res)
        assert.truthy(slept.max >= 1.5 and slept.max <= 4.1, "slept " .. slept.max)
      end)
    end

    it("an HTTP-date in the past means now; one in 2099 is capped", function()
      local c = volc{ base_delay = 0.05, max_delay = 0.3, deadline = 30 }
      throttle_once("Sun, 06 Nov 1994 08:49:37 GMT")
      guard(0.31)
      assert(c.billing:QueryPriceForRenew(BODY))
      assert.truthy(slept.max <= 0.11, "slept " .. slept.max)
      throttle_once("Thu, 01 Jan 2099 00:00:00 GMT")
      assert(c.billing:QueryPriceForRenew(BODY))
      c:close()
      assert.truthy(slept.max >= 0.25, "slept " .. slept.max)
    end)
  end)

  describe("pacing", function()
    it("a bucket time an hour ahead in the shared file (now + 3500 s) counts as damaged and is reset", function()
      local path = os.tmpname()
      local c = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limit_file = path }))
      assert(c:call("cvm", "2017-03-12", "DescribeInstances", {}))
      local off = tat_offset(path)
      write_tat(path, off, now_ns() + 3500e9)
      guard(1)
      local t0 = core.monotonic()
      local res, err = c:call("cvm", "2017-03-12", "DescribeInstances", {})
      assert.is_nil(err)
      assert.is_table(res)
      assert.truthy(core.monotonic() - t0 < 1)
      assert.truthy(read_tat(path, off) - now_ns() < 1e9, "the bucket was reset")
      c:close()
      os.remove(path)
    end)

    it("a queue longer than what is left of the deadline fails at once and leaves the slot unused", function()
      local path = os.tmpname()
      local c = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limit_file = path, retry = { deadline = 5 } }))
      assert(c:call("cvm", "2017-03-12", "DescribeInstances", {}))
      local off = tat_offset(path)
      local tat = now_ns() + 400e9        -- within the 600 s bound: a real (if long) queue
      write_tat(path, off, tat)
      guard(1)
      local t0 = core.monotonic()
      local res, err = c:call("cvm", "2017-03-12", "DescribeInstances", {})
      assert.is_nil(res)
      throttled_at_once(err, t0, "pacing")
      assert.truthy(err.message:find("399", 1, true) or err.message:find("400", 1, true), err.message)
      assert.are.equal(1, #fake:requests_for("DescribeInstances"))
      assert.are.equal(tat, read_tat(path, off))     -- nothing reserved
      c:close()
      os.remove(path)
    end)

    it("in one process too: a slot past the deadline is not taken, so the next caller is not pushed back", function()
      local key = { DescribeInstances = 1 }
      local short = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limits = key, retry = { deadline = 0.5 } }))
      local long = assert(cloudrenew.tencent(fake:tencent_opts{ rate_limits = key, retry = { deadline = 10 } }))
      guard(2)
      local t0 = core.monotonic()
      assert(short:call("cvm", "2017-03-12", "DescribeInstances", {}))
      local res, err = short:call("cvm", "2017-03-12", "DescribeInstances", {})   -- needs ~1.05 s
      assert.is_nil(res)
      throttled_at_once(err, t0, "pacing")
      assert(long:call("cvm", "2017-03-12", "DescribeInstances", {}))
      local elapsed = core.monotonic() - t0
      -- One interval (1/0.95 s) after the first call, not two.
      assert.truthy(elapsed > 0.95 and elapsed < 1.6, "elapsed " .. elapsed)
      short:close(); long:close()
      assert.are.equal(2, #fake:requests_for("DescribeInstances"))
    end)
  end)
end)

-- A hostile server (spec/hostile/server.py on 127.0.0.1) answering real clients
-- (Lua -> C core -> libcurl) in every way a server should not: endless or
-- dripping headers and bodies, oversized and malformed bodies, redirects,
-- closes mid-body, lying lengths, garbage status lines, HTTP/0.9, absurd
-- Retry-After and Date values. Nothing may raise, hang past its timeout or
-- crash (`make asan` runs this file against the sanitized core); each case
-- checks the error code and outcome, and a renewal is executed at most once:
-- a cvm RenewInstances is received at most once, an ecs RenewInstance only
-- ever with one ClientToken (the cloud deduplicates on it).
local cloudrenew = require("cloudrenew")
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")

local ROOT = os.getenv("CLOUDRENEW_ROOT") or "."
local TIMEOUT = 1            -- per attempt, seconds
local SLACK = 2.5            -- scheduling slack on a loaded machine

local Server = {}
Server.__index = Server

local read_all = require("support.fake").read_file

local function start()
  local tmp = os.tmpname()
  local pipe = assert(io.popen("python3 " .. ROOT .. "/spec/hostile/server.py > " .. tmp .. " 2>&1", "w"))
  local info
  local deadline = core.monotonic() + 15
  repeat
    core.sleep(0.02)
    local s = read_all(tmp)
    if s and s:find("\n") then info = json.decode(s:match("^[^\n]+")) end
  until info or core.monotonic() > deadline
  os.remove(tmp)
  assert(info, "hostile server did not start")
  return setmetatable({ pipe = pipe, url = "http://127.0.0.1:" .. info.port,
                        control = assert(core.http{ timeout = 10 }) }, Server)
end

function Server:_req(method, path, body)
  local res, err = self.control:request{ method = method, url = self.url .. "/__hostile/" .. path,
    headers = { "Content-Type: application/json" }, body = body and json.encode(body) or nil }
  assert(res, err and err.message)
  return json.decode(res.body)
end
function Server:mode(t) return self:_req("POST", "mode", t) end
function Server:reset() return self:_req("POST", "reset", {}) end
function Server:counts() return self:_req("GET", "counts") end

function Server:stop()
  self.control:close()
  self.pipe:close()
end

local RETRY = { max_attempts = 2, base_delay = 0, max_delay = 0.2, deadline = 10 }

local function opts(server, extra)
  local o = { endpoint = server.url, timeout = TIMEOUT, connect_timeout = TIMEOUT,
              max_response = 64 * 1024, retry = RETRY, rate_limits = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function tencent(server, extra)
  local o = opts(server, extra)
  o.secret_id = o.secret_id or "AKIDhostile0000000000"
  o.secret_key, o.region = "hostile-secret-key", "ap-guangzhou"
  return assert(cloudrenew.tencent(o))
end

local function volcengine(server, extra)
  local o = opts(server, extra)
  o.access_key, o.secret_key, o.region = "AKLThostile000000000", "hostile-secret-key", "cn-beijing"
  return assert(cloudrenew.volcengine(o))
end

local CALLS = {
  cvm_renew = { action = "RenewInstances", renewal = true, run = function(c)
    return c.cvm:RenewInstances{ InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } } end },
  cvm_inquiry = { action = "InquiryPriceRenewInstances", run = function(c)
    return c.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-2zvpghhc" },
                                             InstanceChargePrepaid = { Period = 1 } } end },
  ecs_renew = { action = "RenewInstance", volc = true, renewal = true, run = function(c)
    return c.ecs:RenewInstance{ InstanceId = "i-3tiefmkskq3vj0hs2bh5", Period = 1, PeriodUnit = "Month" } end },
}

-- Run one call against the current mode: never raises, returns within bound
-- seconds, and a renewal reached the cloud at most once. Returns res, err.
local function run(server, which, bound, extra)
  local call = CALLS[which]
  local client = call.volc and volcengine(server, extra) or tencent(server, extra)
  local t0 = core.monotonic()
  local ok, res, err = pcall(call.run, client)
  local elapsed = core.monotonic() - t0
  client:close()
  assert(ok, "raised: " .. tostring(res))
  assert(elapsed <= bound + SLACK, string.format("took %.2f s, bound %.2f s", elapsed, bound))
  local counts = server:counts()
  local n = counts.actions[call.action] or 0
  assert(n >= 1, "the server never saw " .. call.action)
  if call.renewal and not call.volc then
    assert.are.equal(1, n, "RenewInstances received " .. n .. " times")
  elseif call.renewal then
    local tokens = counts.tokens[call.action] or {}
    assert.are.equal(n, #tokens, "every RenewInstance carries a ClientToken")
    for _, t in ipairs(tokens) do assert.are.equal(tokens[1], t, "a resend must reuse its ClientToken") end
  end
  return res, err, n
end

local function fails(server, which, code, outcome, bound, extra)
  local res, err, n = run(server, which, bound, extra)
  assert.is_nil(res)
  assert.is_table(err, "an error table")
  assert.are.equal(code, err.code, tostring(err))
  assert.are.equal(outcome, err.outcome, tostring(err))
  assert.is_string(tostring(err))
  return err, n
end

describe("hostile server", function()
  local server

  -- A wait a server could stretch must fail the case, not hang the suite.
  setup(function()
    server = start()
    cloudrenew.set_sleep(function(seconds)
      if seconds > 5 then error(string.format("asked to sleep %.4g s", seconds)) end
      core.sleep(seconds)
    end)
  end)
  teardown(function()
    cloudrenew.set_sleep(core.sleep)
    if server then server:stop() end
  end)
  before_each(function() server:reset() end)

  it("answers well when it behaves (the control for every case below)", function()
    local res = run(server, "cvm_inquiry", TIMEOUT)
    assert.are.equal("hostile-ok", res.RequestId)
    server:reset()
    assert.are.equal("hostile-ok", run(server, "cvm_renew", TIMEOUT).RequestId)
    server:reset()
    assert.are.equal("hostile-ok", run(server, "ecs_renew", TIMEOUT).RequestId)
  end)

  describe("slow and endless answers end at the client's limits", function()
    it("dripping headers: a renewal times out once, unknown", function()
      server:mode{ mode = "drip_headers" }
      local err = fails(server, "cvm_renew", "ClientError.Timeout", "unknown", TIMEOUT)
      assert.are.equal(false, err.retryable)
    end)

    it("dripping headers: an inquiry is retried within its attempts", function()
      server:mode{ mode = "drip_headers" }
      local _, n = fails(server, "cvm_inquiry", "ClientError.Timeout", "unknown", 2 * TIMEOUT)
      assert.are.equal(RETRY.max_attempts, n)
    end)

    it("dripping headers: an ecs renewal is resent only with its ClientToken", function()
      server:mode{ mode = "drip_headers" }
      fails(server, "ecs_renew", "ClientError.Timeout", "unknown", 2 * TIMEOUT)
    end)

    it("endless headers stop at the 64 KiB header cap: bad response, unknown", function()
      server:mode{ mode = "endless_headers" }
      local err = fails(server, "cvm_renew", "ClientError.BadResponse", "unknown", TIMEOUT)
      assert.truthy(err.message:find("header", 1, true), err.message)
    end)

    it("a dripping body times out, unknown", function()
      server:mode{ mode = "drip_body" }
      fails(server, "cvm_renew", "ClientError.Timeout", "unknown", TIMEOUT)
    end)

    it("an endless body stops at max_response, unknown", function()
      server:mode{ mode = "endless_body" }
      local err = fails(server, "cvm_renew", "ClientError.BadResponse", "unknown", TIMEOUT)
      assert.truthy(err.message:find("larger than", 1, true), err.message)
    end)

    it("an oversized body (Content-Length over max_response) is refused, unknown", function()
      server:mode{ mode = "oversized", size = 1024 * 1024 }
      local err = fails(server, "cvm_renew", "ClientError.BadResponse", "unknown", TIMEOUT)
      assert.truthy(err.message:find("larger than", 1, true), err.message)
    end)
  end)

  describe("malformed answers are bad responses, never raised", function()
    for _, case in ipairs({
      { "garbage JSON", { mode = "garbage_json" } },
      { "100000 nested arrays", { mode = "deep_json", depth = 100000 } },
      { "100000 nested objects", { mode = "deep_object", depth = 100000 } },
      { "a close mid-body", { mode = "mid_body_close" } },
      { "a Content-Length larger than the body", { mode = "length_lie_short" } },
      { "a Content-Length smaller than the body", { mode = "length_lie_long" } },
      { "a garbage status line", { mode = "garbage_status" } },
      { "no status line at all", { mode = "no_status" } },
      { "an HTTP/0.9 answer (a body, no status line)", { mode = "http09" } },
    }) do
      it(case[1] .. ": a renewal is unknown and received once", function()
        server:mode(case[2])
        local err = fails(server, "cvm_renew", "ClientError.BadResponse", "unknown", TIMEOUT)
        assert.are.equal(false, err.retryable)
      end)
    end

    it("a garbage status line to an ecs renewal: resent only with the same ClientToken", function()
      server:mode{ mode = "garbage_status" }
      fails(server, "ecs_renew", "ClientError.BadResponse", "unknown", 2 * TIMEOUT)
    end)

    it("an empty reply (connection closed unanswered) is a network failure, unknown", function()
      server:mode{ mode = "close" }
      fails(server, "cvm_renew", "ClientError.Network", "unknown", TIMEOUT)
    end)

    it("a folded header line after a transfer on the same client neither crashes nor raises", function()
      local tc = tencent(server)
      assert(CALLS.cvm_inquiry.run(tc))
      server:mode{ mode = "folded" }
      local ok, res, err = pcall(CALLS.cvm_inquiry.run, tc)
      tc:close()
      assert(ok, tostring(res))
      assert(res or err.code == "ClientError.BadResponse", tostring(err))
    end)
  end)

  describe("redirects are not followed", function()
    for _, status in ipairs({ 301, 302, 307, 308 }) do
      it(status .. " to the same server: one request, bad response, unknown", function()
        server:mode{ mode = "redirect", status = status, location = server.url .. "/elsewhere" }
        local err = fails(server, "cvm_renew", "ClientError.BadResponse", "unknown", TIMEOUT)
        assert.are.equal(status, err.status)
      end)
    end
  end)

  describe("extreme Retry-After values never stretch a call past its deadline", function()
    for _, ra in ipairs({ "3000", "1e308", "-5", "soon", "Fri, 31 Dec 9999 23:59:59 GMT",
                          string.rep("9", 400), "" }) do
      for _, which in ipairs({ "cvm_inquiry", "ecs_renew" }) do
        it(which .. " throttled with Retry-After: " .. ra:sub(1, 40), function()
          server:mode{ mode = "throttle", retry_after = ra }
          -- at most max_attempts answers, each wait capped at retry.max_delay
          local res, err = run(server, which, RETRY.max_attempts * RETRY.max_delay)
          assert.is_nil(res)
          assert(err.code == "RequestLimitExceeded" or err.code == "AccountFlowLimitExceeded"
            or err.code == "ClientError.Throttled", tostring(err))
          assert(err.outcome == "rejected" or err.outcome == "not_executed", tostring(err))
          assert.are.equal(true, err.retryable)
        end)
      end
    end

    it("with pacing on, a Retry-After: 3000 pause does not stall the client's next call", function()
      server:mode{ mode = "throttle", retry_after = "3000" }
      local tc = tencent(server, { rate_limits = { InquiryPriceRenewInstances = 50 },
                                   secret_id = "AKIDhostilepause00000" })
      local ok, res, err = pcall(CALLS.cvm_inquiry.run, tc)
      assert(ok, tostring(res))
      assert.is_nil(res)
      server:mode{ mode = "ok" }
      local t0 = core.monotonic()
      ok, res, err = pcall(CALLS.cvm_inquiry.run, tc)
      local elapsed = core.monotonic() - t0
      tc:close()
      assert(ok, tostring(res))
      -- either it runs (the pause was capped at retry.max_delay) or it fails at once
      assert(elapsed <= RETRY.max_delay + TIMEOUT + SLACK, string.format("waited %.1f s", elapsed))
      assert(res or err.code == "ClientError.Throttled", tostring(err))
    end)
  end)

  describe("extreme Date values are ignored, not adopted", function()
    for _, date in ipairs({ "Mon, 01 Jan 1900 00:00:00 GMT", "Fri, 31 Dec 99999 23:59:59 GMT",
                            "Thu, 01 Jan 1970 00:00:00 GMT", "not a date", string.rep("9", 300) }) do
      it("a clock error with Date: " .. date:sub(1, 40) .. " fails cleanly; the client still works", function()
        server:mode{ mode = "clock", date = date }
        local tc = tencent(server)
        local ok, res, err = pcall(CALLS.cvm_inquiry.run, tc)
        assert(ok, "raised: " .. tostring(res))
        assert.is_nil(res)
        assert.are.equal("AuthFailure.SignatureExpire", err.code, tostring(err))
        assert.are.equal("rejected", err.outcome)
        server:mode{ mode = "ok" }
        ok, res, err = pcall(CALLS.cvm_inquiry.run, tc)
        tc:close()
        assert(ok, "raised on the next call: " .. tostring(res))
        assert(res, tostring(err))
      end)

      it("Volcengine: a clock error with Date: " .. date:sub(1, 40) .. " fails cleanly", function()
        server:mode{ mode = "clock", date = date }
        local volc = volcengine(server)
        local ok, res, err = pcall(CALLS.ecs_renew.run, volc)
        assert(ok, "raised: " .. tostring(res))
        assert.is_nil(res)
        assert.are.equal("SignatureExpire", err.code, tostring(err))
        server:mode{ mode = "ok" }
        ok, res, err = pcall(CALLS.ecs_renew.run, volc)
        volc:close()
        assert(ok, "raised on the next call: " .. tostring(res))
        assert(res, tostring(err))
      end)
    end
  end)
end)

-- cloudrenew inside a real nginx (Debian's nginx + libnginx-mod-http-lua, LuaJIT):
-- the cosocket transport, phase-aware waits, light-thread map, worker-shared
-- pacing, fork safety. The spec drives nginx from outside (libcurl) against the
-- fake cloud. nginx always runs the LuaJIT build (build/luajit), so this file
-- runs once, in the Lua 5.4 pass of `make test`.
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local fakecloud = require("support.fake")
local nginx = require("support.nginx")

local describe_nginx = (jit == nil and nginx.available()) and describe or pending

local function app_cfg(fake, extra)
  local c = fakecloud.credentials().tencent[1]
  local v = fakecloud.credentials().volcengine[1]
  return string.format("APP_CFG = { url = %q, tls_addr = %q, creds = { secret_id = %q, secret_key = %q }, "
    .. "volc = { access_key = %q, secret_key = %q } }%s",
    fake.url, fake.tls_addr, c.secret_id, c.secret_key, v.access_key, v.secret_key, extra or "")
end

local function loc(path, body, extra)
  return "    location = " .. path .. " { " .. (extra or "") .. " content_by_lua_block { " .. body .. " } }\n"
end

local APP_LOCATIONS = table.concat{
  loc("/typed", "require('support.ngx_app').typed()"),
  loc("/wrongca", "require('support.ngx_app').typed()", "lua_ssl_trusted_certificate @WRONGCA@;"),
  loc("/slow", "require('support.ngx_app').slow()"),
  loc("/workflow", "require('support.ngx_app').workflow()"),
  loc("/timer", "require('support.ngx_app').timer_start()"),
  loc("/result", "require('support.ngx_app').result()"),
  loc("/strings", "require('support.ngx_app').strings()"),
  loc("/map", "require('support.ngx_app').map()"),
  loc("/generic", "require('support.ngx_app').generic()"),
  loc("/volc", "require('support.ngx_app').volc()"),
  loc("/gateway", "require('support.ngx_app').gateway()"),
  loc("/", "require('support.ngx_app').chunked_cloud()"),
  "    location = /logcall { content_by_lua_block { ngx.say('ok') } "
    .. "log_by_lua_block { require('support.ngx_app').blocking_call('log') } }\n",
}

local function get_json(ngx_, path, timeout)
  local status, body = ngx_:get(path, timeout)
  assert(status == 200, "GET " .. path .. ": " .. tostring(status) .. " " .. tostring(body)
    .. "\n" .. ngx_:error_log():sub(-2000))
  return json.decode(body)
end

local function poll(ngx_, key, seconds)
  local deadline = core.monotonic() + seconds
  while core.monotonic() < deadline do
    local r = get_json(ngx_, "/result?key=" .. key)
    if r ~= nil and r ~= json.null then return r end
    core.sleep(0.05)
  end
end

-- spec/hostile/server.py, driven as in hostile_spec.lua.
local function hostile_start()
  local tmp = os.tmpname()
  local pipe = assert(io.popen("python3 spec/hostile/server.py > " .. tmp .. " 2>&1", "w"))
  local info
  local deadline = core.monotonic() + 15
  repeat
    core.sleep(0.02)
    local s = nginx.read(tmp)
    if s and s:find("\n") then info = json.decode(s:match("^[^\n]+")) end
  until info or core.monotonic() > deadline
  os.remove(tmp)
  assert(info, "hostile server did not start")
  local h = { pipe = pipe, url = "http://127.0.0.1:" .. info.port, control = assert(core.http{ timeout = 10 }) }
  function h.mode(t)
    assert(h.control:request{ method = "POST", url = h.url .. "/__hostile/mode",
      headers = { "Content-Type: application/json" }, body = json.encode(t) })
  end
  function h.counts()
    return json.decode(h.control:request{ method = "GET", url = h.url .. "/__hostile/counts" }.body)
  end
  function h.stop() h.control:close(); h.pipe:close() end
  return h
end

describe_nginx("under OpenResty (real nginx)", function()
  local fake, ngx_

  setup(function()
    fake = fakecloud.start()
    ngx_ = nginx.start{
      name = "app", workers = 1,
      http = "  lua_shared_dict results 1m;\n"
        .. "  lua_ssl_trusted_certificate " .. nginx.abs(fake.certs.ca) .. ";\n"
        .. "  lua_ssl_verify_depth 3;\n"
        .. "  init_by_lua_block { " .. app_cfg(fake) .. " }\n"
        .. "  init_worker_by_lua_block { require('support.ngx_app').blocking_call('init_worker') }\n",
      server = (APP_LOCATIONS:gsub("@WRONGCA@", nginx.abs(fake.certs.wrong_ca))),
    }
  end)
  teardown(function()
    if ngx_ then ngx_:stop() end
    if fake then fake:stop() end
  end)
  before_each(function() fake:reset(); fake:config{ latency = 0 } end)

  describe("cosocket transport", function()
    it("answers a typed call from a content handler over cosockets", function()
      local r = get_json(ngx_, "/typed?id=ins-2zvpghhc")
      assert.is_true(r.ok, r.str)
      assert.are.equal("ngx", r.transport)
      assert.is_number(r.price)
      local reqs = fake:requests_for("InquiryPriceRenewInstances")
      assert.are.equal(1, #reqs)
      assert.truthy(reqs[1].headers["user-agent"]:find("^cloudrenew/"))
    end)

    it("a gateway signs its own requests with cloudrenew.sign (through the FFI) and the cloud accepts them", function()
      local r = get_json(ngx_, "/gateway")
      assert.is_true(r.ffi)
      assert.is_true(r.fast_volc)
      assert.is_true(r.fast_tc3)
      assert.is_true(r.same_volc)
      assert.is_true(r.same_tc3)
      assert.are.equal(200, r.volc_status, r.volc_body)
      assert.truthy(r.volc_body:find('"Result"', 1, true), r.volc_body)
      assert.falsy(r.volc_body:find('"Error"', 1, true), r.volc_body)
      assert.are.equal(200, r.tc3_status, r.tc3_body)
      assert.truthy(r.tc3_body:find('"InstanceSet"', 1, true), r.tc3_body)
      assert.falsy(r.tc3_body:find('"Error"', 1, true), r.tc3_body)
      assert.are.equal(2, #fake:requests_for("DescribeInstances"))
    end)

    it("keeps the real host name over TLS (SNI, verification on, CA from lua_ssl_trusted_certificate)", function()
      local r = get_json(ngx_, "/typed?tls=1")
      assert.is_true(r.ok, r.str)
      assert.are.equal("ngx", r.transport)
      assert.are.equal("cvm.tencentcloudapi.com", fake:requests_for("InquiryPriceRenewInstances")[1].headers.host)
    end)

    it("Volcengine: ecs RenewInstance (GET, query) and billing QueryPriceForRenew (POST JSON), plain and TLS", function()
      for _, q in ipairs({ "", "?tls=1" }) do
        fake:reset()
        local r = get_json(ngx_, "/volc" .. q)
        assert.are.equal("ngx", r.transport)
        assert.is_true(r.quote, r.quote_err)
        assert.is_true(r.renewed, r.renew_err)
        assert.are.equal(1, #fake:requests_for("RenewInstance"))
        if q ~= "" then
          assert.are.equal("open.volcengineapi.com", fake:requests_for("RenewInstance")[1].headers.host)
          assert.are.equal("billing.volcengineapi.com", fake:requests_for("QueryPriceForRenew")[1].headers.host)
        end
      end
    end)

    it("refuses a server the trusted CA does not vouch for: TLS error, not_executed, nothing sent", function()
      local r = get_json(ngx_, "/wrongca?tls=1&renew=1")
      assert.is_false(r.ok)
      assert.are.equal("ClientError.Network", r.code)
      assert.truthy(r.message:find("^TLS: "), r.message)
      assert.are.equal("not_executed", r.outcome)
      assert.is_false(r.retryable)
      assert.are.equal(0, #fake:requests())
    end)

    it("connection refused: ClientError.Network, not_executed, retryable", function()
      local r = get_json(ngx_, "/typed?endpoint=http://127.0.0.1:9&renew=1")
      assert.are.equal("ClientError.Network", r.code)
      assert.are.equal("not_executed", r.outcome)
      assert.is_true(r.retryable)
    end)

    it("a renewal timeout is unknown and not retried, like libcurl", function()
      fake:faults{ { action = "RenewInstances", kind = "slow", delay = 2.5 } }
      local r = get_json(ngx_, "/typed?renew=1&timeout=1")
      assert.are.equal("ClientError.Timeout", r.code)
      assert.are.equal("unknown", r.outcome)
      assert.is_false(r.retryable)
      assert.are.equal(1, #fake:requests_for("RenewInstances"))
    end)

    it("no resolver directive: a clear error naming it, nothing sent", function()
      local r = get_json(ngx_, "/typed?endpoint=https://cvm.tencentcloudapi.com")
      assert.are.equal("ClientError.Network", r.code)
      assert.are.equal("not_executed", r.outcome)
      assert.truthy(r.message:find("resolver", 1, true), r.message)
    end)

    it("reuses a keep-alive connection for inquiries, never for renewals", function()
      assert.is_true(get_json(ngx_, "/typed?twice=1").ok)
      local q = fake:requests_for("InquiryPriceRenewInstances")
      assert.are.equal(2, #q)
      assert.are.equal(q[1].peer_port, q[2].peer_port)
      assert.is_true(get_json(ngx_, "/typed?renew=1").ok)
      assert.is_true(get_json(ngx_, "/typed?renew=1").ok)
      local rn = fake:requests_for("RenewInstances")
      assert.are_not.equal(rn[1].peer_port, rn[2].peer_port)
    end)

    it("reads a chunked body; one over max_response is ClientError.BadResponse, sent", function()
      local r = get_json(ngx_, "/generic")
      assert.is_true(r.ok, r.str)
      assert.are.equal(7, r.total)
      assert.are.equal(3000, r.pad)
      assert.are.equal("chunked-1", r.request_id)
      r = get_json(ngx_, "/generic?max=2048")
      assert.is_false(r.ok)
      assert.are.equal("ClientError.BadResponse", r.code)
      assert.truthy(r.message:find("larger than 2048", 1, true), r.message)
      assert.are.equal("unknown", r.outcome)
    end)

    it("transport = \"curl\" is honoured inside a content handler", function()
      local r = get_json(ngx_, "/typed?transport=curl")
      assert.is_true(r.ok, r.str)
      assert.are.equal("curl", r.transport)
    end)
  end)

  describe("hostile answers over cosockets: classified as libcurl classifies them (hostile_spec)", function()
    local h
    setup(function() h = hostile_start() end)
    teardown(function() if h then h.stop() end end)
    for _, case in ipairs({
      { "dripping headers", { mode = "drip_headers" }, "ClientError.Timeout" },
      { "endless headers", { mode = "endless_headers" }, "ClientError.BadResponse", "header" },
      { "a dripping body", { mode = "drip_body" }, "ClientError.Timeout" },
      { "an endless body", { mode = "endless_body" }, "ClientError.BadResponse", "larger than" },
      { "an oversized Content-Length", { mode = "oversized", size = 1024 * 1024 }, "ClientError.BadResponse", "larger than" },
      { "garbage JSON", { mode = "garbage_json" }, "ClientError.BadResponse" },
      { "a close mid-body", { mode = "mid_body_close" }, "ClientError.BadResponse" },
      { "a Content-Length larger than the body", { mode = "length_lie_short" }, "ClientError.BadResponse" },
      { "a garbage status line", { mode = "garbage_status" }, "ClientError.BadResponse" },
      { "no status line", { mode = "no_status" }, "ClientError.BadResponse" },
      { "an HTTP/0.9 answer", { mode = "http09" }, "ClientError.BadResponse" },
      { "a connection closed unanswered", { mode = "close" }, "ClientError.Network" },
    }) do
      it(case[1] .. ": " .. case[3] .. ", a renewal unknown, not retried, within its timeout", function()
        h.mode(case[2])
        local before = (h.counts().actions or {}).RenewInstances or 0
        local t0 = core.monotonic()
        local r = get_json(ngx_, "/typed?renew=1&timeout=2&max=65536&endpoint=" .. h.url, 30)
        assert.is_true(core.monotonic() - t0 < 6, "took " .. (core.monotonic() - t0))
        assert.is_false(r.ok)
        assert.are.equal(case[3], r.code, r.str)
        assert.are.equal("unknown", r.outcome)
        assert.is_false(r.retryable)
        if case[4] then assert.truthy(r.message:find(case[4], 1, true), r.message) end
        assert.are.equal(before + 1, h.counts().actions.RenewInstances)
      end)
    end
  end)

  describe("event loop", function()
    it("/ping stays under 50 ms while another request spends > 1 s in cloud calls", function()
      fake:config{ latency = 0.3 }
      local multi = core.multi()
      local slow = assert(core.http{ timeout = 30 })
      local id = multi:add(slow, { method = "GET", url = ngx_.url .. "/slow?n=4" })
      local t0 = core.monotonic()
      multi:run(0.1)
      local worst = 0
      for _ = 1, 20 do
        local status, _, secs = ngx_:get("/ping")
        assert.are.equal(200, status)
        if secs > worst then worst = secs end
        multi:run(0.02)
      end
      local done = {}
      while #done == 0 and core.monotonic() - t0 < 20 do done = multi:run(0.5) end
      local res = assert(multi:result(id))
      multi:close(); slow:close()
      local r = json.decode(res.body)
      assert.is_true(r.ok, r.str)
      assert.is_true(r.elapsed > 1.0, "slow request took " .. r.elapsed)
      print(string.format("\n  /ping worst latency %.1f ms while /slow spent %.2f s in cloud calls",
        worst * 1000, r.elapsed))
      assert.is_true(worst < 0.05, "worst /ping " .. worst)
    end)

    it("cloudrenew.map runs items as light threads: n calls take about one latency", function()
      fake:config{ latency = 0.4 }
      local r = get_json(ngx_, "/map?n=6")
      assert.is_true(r.elapsed < 1.2, "map took " .. r.elapsed)
      assert.are.equal("ClientError.Internal", r.codes[2])
      for i = 1, 6 do
        if i ~= 2 then assert.is_number(r.prices[i]); assert.is_false(r.codes[i]) end
      end
    end)
  end)

  describe("workflow", function()
    it("renews under budget from a content handler", function()
      local log = ngx_.prefix .. "/content.jsonl"
      local r = get_json(ngx_, "/workflow?log=" .. log)
      assert.is_true(r.ok, r.str)
      assert.are.equal(3, r.renewed)
      assert.are.same({ ["ins-wfaaaaa1"] = 1, ["ins-wfaaaaa2"] = 1, ["ins-wfaaaaa3"] = 1 }, fake:renewals())
    end)

    it("renews under budget from a timer", function()
      local log = ngx_.prefix .. "/timer.jsonl"
      assert.is_true(get_json(ngx_, "/timer?log=" .. log).ok)
      local r = poll(ngx_, "timer", 10)
      assert.is_table(r)
      assert.is_true(r.ok, r.str)
      assert.are.equal(3, r.renewed)
      assert.are.equal("ngx", r.transport)
    end)
  end)

  describe("phases without cosockets", function()
    it("init_worker: libcurl (blocking), the pacing wait sleeps, nothing raises", function()
      local r = poll(ngx_, "init_worker", 5)
      assert.is_table(r)
      assert.is_nil(r.raised)
      assert.is_true(r.ok, r.str)
      assert.are.equal("curl", r.transport)
      assert.are.equal("init_worker", r.phase)
    end)

    it("log: libcurl (blocking), nothing raises", function()
      assert.are.equal(200, (ngx_:get("/logcall")))
      local r = poll(ngx_, "log", 5)
      assert.is_table(r)
      assert.is_nil(r.raised)
      assert.is_true(r.ok, r.str)
      assert.are.equal("curl", r.transport)
    end)
  end)

  describe("errors", function()
    it("print with ngx.say(err) and concatenate on either side", function()
      local status, body = ngx_:get("/strings")
      assert.are.equal(200, status)
      local l1, l2, l3 = body:match("^([^\n]*)\n([^\n]*)\n([^\n]*)\n$")
      assert.truthy(l1 and l1:find("^ClientError%.Network: "), body)
      assert.are.equal("failed: " .. l1, l2)
      assert.are.equal(l1 .. " (end)", l3)
      assert.falsy(ngx_:error_log():find("runtime error", 1, true))
    end)
  end)
end)

local busiest = fakecloud.busiest   -- the most of these times in any sliding second

-- Fire GET paths all at once from outside; the decoded answers in order.
local function fire(ngx_, paths, between)
  local multi = core.multi()
  local handles, ids, out = {}, {}, {}
  for i, p in ipairs(paths) do
    handles[i] = assert(core.http{ timeout = 60 })
    ids[multi:add(handles[i], { method = "GET", url = ngx_.url .. p })] = i
    if between then between(i) end
  end
  local left, deadline = #paths, core.monotonic() + 60
  while left > 0 and core.monotonic() < deadline do
    for _, id in ipairs(multi:run(0.2)) do
      local res = multi:result(id)
      out[ids[id]] = res and res.status == 200 and json.decode(res.body) or { ok = false, str = "no answer" }
      left = left - 1
    end
  end
  multi:close()
  for _, h in ipairs(handles) do h:close() end
  return out
end

local function renew_times(fake)
  local t = {}
  for _, r in ipairs(fake:requests_for("RenewInstances")) do t[#t + 1] = r.time end
  return t
end

describe_nginx("under OpenResty with 4 workers", function()
  local fake, ngx_

  setup(function()
    fake = fakecloud.start()
    ngx_ = nginx.start{
      name = "workers", workers = 4,
      http = "  lua_shared_dict cloudrenew 1m;\n  lua_shared_dict results 1m;\n"
        .. "  init_by_lua_block { " .. app_cfg(fake) .. " require('support.ngx_app').init_client('curl') }\n",
      server = loc("/renew", "require('support.ngx_app').renew()")
        .. loc("/forked", "require('support.ngx_app').forked_price()")
        .. loc("/result", "require('support.ngx_app').result()")
        .. loc("/typed", "require('support.ngx_app').typed()")
        .. loc("/sends", "require('support.ngx_app').sends()"),
    }
  end)
  teardown(function()
    if ngx_ then ngx_:stop() end
    if fake then fake:stop() end
  end)
  before_each(function() fake:reset(); get_json(ngx_, "/sends") end)

  -- The most renewals in any sliding second as sent (stamped in the workers
  -- just before sending) and as the fake stamped them. The fake's Python
  -- thread stamps a request when it gets to it, which on a busy host can bunch
  -- two arrivals: one more is allowed there, as in pacing_spec.
  local function check_paced(label)
    local sent, at_fake = busiest(get_json(ngx_, "/sends")), busiest(renew_times(fake))
    print(string.format("\n  %s: busiest sliding second %d as sent, %d at the fake (limit 10)", label, sent, at_fake))
    assert.is_true(sent <= 10, "busiest second as sent " .. sent)
    assert.is_true(at_fake <= 11, "busiest second at the fake " .. at_fake)
  end

  local function paths(n, prefix, extra)
    local p = {}
    for i = 1, n do p[i] = string.format("/renew?id=ins-%s%04d%s", prefix, i, extra or "") end
    return p
  end

  it("40 renewals fired at once: every sliding second at the fake stays within RenewInstances' 10/s", function()
    local t0 = core.monotonic()
    local out = fire(ngx_, paths(40, "pace"))
    local pids = {}
    for i = 1, 40 do
      assert.is_true(out[i].ok, out[i].str)
      assert.are.equal("dict", out[i].paced_by)
      pids[out[i].pid] = true
    end
    local workers = 0
    for _ in pairs(pids) do workers = workers + 1 end
    print(string.format("\n  4 workers, 40 renewals: %d worker(s) served them, %.2f s", workers, core.monotonic() - t0))
    assert.is_true(workers >= 2, "only one worker served the renewals")
    check_paced("4 workers, 40 renewals")
  end)

  it("the same burst with per-worker budgets (rate_limit_dict = false) overshoots: the check can fail", function()
    local out = fire(ngx_, paths(40, "solo", "&dict=off"))
    local pids = {}
    for i = 1, 40 do assert.is_true(out[i].ok, out[i].str); pids[out[i].pid] = true end
    local workers = 0
    for _ in pairs(pids) do workers = workers + 1 end
    local sent = busiest(get_json(ngx_, "/sends"))
    print(string.format("\n  per-worker pacing: %d worker(s), busiest sliding second %d as sent", workers, sent))
    if workers >= 2 then assert.is_true(sent > 10, "busiest second as sent " .. sent) end
  end)

  it("nginx -s reload during a paced run: every renewal answers, still within the limit, no hang", function()
    local old = ngx_:pid()
    local out = fire(ngx_, paths(30, "reld"), function(i)
      if i == 15 then assert.is_true(ngx_:signal("reload")); core.sleep(0.3) end
    end)
    for i = 1, 30 do assert.is_true(out[i].ok, out[i].str) end
    check_paced("reload mid-run")
    assert.are.equal(old, ngx_:pid())
    assert.are.equal(200, (ngx_:get("/ping")))
  end)

  it("a throttle answer in one worker pauses the shared bucket for every worker", function()
    fake:faults{ { action = "InquiryPriceRenewInstances", kind = "throttle", retry_after = "2" } }
    local multi, h = core.multi(), assert(core.http{ timeout = 30 })
    local id = multi:add(h, { method = "GET", url = ngx_.url .. "/typed?id=ins-thrott01" })
    local t0 = core.monotonic()
    while #fake:requests_for("InquiryPriceRenewInstances") == 0 and core.monotonic() - t0 < 5 do multi:run(0.05) end
    local p = {}
    for i = 1, 8 do p[i] = string.format("/typed?id=ins-thrott%02d", i + 1) end
    local out = fire(ngx_, p)
    local done = {}
    while #done == 0 and core.monotonic() - t0 < 20 do done = multi:run(0.2) end
    local first = json.decode(assert(multi:result(id)).body)
    multi:close(); h:close()
    assert.is_true(first.ok, first.str)
    for i = 1, 8 do assert.is_true(out[i].ok, out[i].str) end
    local reqs = fake:requests_for("InquiryPriceRenewInstances")
    assert.are.equal(10, #reqs)
    table.sort(reqs, function(a, b) return a.time < b.time end)
    -- everything after the throttled request waited out the pause (2 s, less pacing jitter)
    assert.is_true(reqs[2].time - reqs[1].time >= 1.9, "next request after " .. (reqs[2].time - reqs[1].time))
  end)

  it("init_by_lua: a call goes through libcurl (blocking, in the master) and nothing raises", function()
    local r = get_json(ngx_, "/result?key=init")
    assert.is_table(r)
    assert.is_nil(r.raised)
    assert.is_true(r.ok, r.str)
    assert.are.equal("init", r.phase)
    assert.are.equal("curl", r.transport)
  end)

  it("a client made and used before the fork never hands a worker another request's answer", function()
    -- the price each id should get, asked directly
    local direct = assert(require("cloudrenew").tencent(fake:tencent_opts{ rate_limits = false }))
    local want, p = {}, {}
    for i = 1, 24 do
      local id = string.format("ins-fork%04d", i)
      local res = assert(direct.cvm:InquiryPriceRenewInstances{ InstanceIds = { id }, InstanceChargePrepaid = { Period = 1 } })
      want[i] = res.Price.InstancePrice.DiscountPrice
      p[i] = "/forked?id=" .. id
    end
    direct:close()
    local out = fire(ngx_, p)
    for i = 1, 24 do
      assert.is_true(out[i].ok, out[i].str)
      assert.are.equal("curl", out[i].transport)
      assert.are.equal(want[i], out[i].price)
    end
  end)
end)

-- Outside nginx the same fork check runs on core.getpid (e.g. a script that
-- forks through luaposix after using a client).
describe("fork safety without nginx", function()
  local fake
  setup(function() fake = fakecloud.start() end)
  teardown(function() if fake then fake:stop() end end)

  it("transport and rate_limit_dict options are checked: nothing to fall back on outside nginx", function()
    local cloudrenew = require("cloudrenew")
    for _, o in ipairs({ { transport = "ngx" }, { transport = "cosocket" }, { transport = 1 },
                         { rate_limit_dict = "cloudrenew" }, { rate_limit_dict = 3 } }) do
      local tc, err = cloudrenew.tencent(fake:tencent_opts(o))
      assert.is_nil(tc)
      assert.are.equal("ClientError.InvalidParameter", err.code)
      assert.truthy(err.message:find(next(o), 1, true), err.message)
    end
    local tc = assert(cloudrenew.tencent(fake:tencent_opts{ transport = "curl", rate_limit_dict = false }))
    assert.are.equal("curl", tc.transport:which())
    tc:close()
  end)

  it("core.getpid is this process", function()
    local f = io.open("/proc/self/stat")
    if not f then return pending("no /proc") end
    local pid = tonumber(f:read("*a"):match("^%d+"))
    f:close()
    assert.are.equal(pid, core.getpid())
  end)

  it("a client created in another process leaves the inherited libcurl handle alone and opens its own", function()
    local tc = assert(require("cloudrenew").tencent(fake:tencent_opts()))
    local q = { InstanceIds = { "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }
    assert(tc.cvm:InquiryPriceRenewInstances(q))
    local inherited = tc.transport.curl
    tc.transport.pid = -1              -- as if this process were a fork of its creator
    assert(tc.cvm:InquiryPriceRenewInstances(q))
    assert.are_not.equal(inherited, tc.transport.curl)
    assert.are.equal(core.getpid(), tc.transport.pid)
    -- never closed here (a TLS close_notify would go down the parent's connection)
    local ok = inherited.http:request{ method = "GET", url = fake.url .. "/__fake/requests" }
    assert.is_table(ok)
    local reqs = fake:requests_for("InquiryPriceRenewInstances")
    assert.are_not.equal(reqs[1].peer_port, reqs[2].peer_port)
    tc:close()
  end)
end)

-- Issue 22: OpenResty in production, in a real nginx (Debian's nginx +
-- libnginx-mod-http-lua, LuaJIT) driven from outside against the fake cloud.
-- Part 1: per-request clients do not exhaust worker_connections (shared,
-- bounded keep-alive pools). Part 2: instance-role / STS credentials never
-- block the worker. Part 3: DNS within the call's timeout, loopback names
-- without DNS. Part 4: what a timer job needs (ca_file, exiting, the lock).
-- Like openresty_spec.lua, it runs in the Lua 5.4 pass only.
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local fakecloud = require("support.fake")
local nginx = require("support.nginx")

local describe_nginx = (jit == nil and nginx.available()) and describe or pending

local ARN = "qcs::cam::uin/100000000001:roleName/ops-renew"

local function app_cfg(fake)
  local c = fakecloud.credentials().tencent[1]
  local v = fakecloud.credentials().volcengine[1]
  return string.format("APP_CFG = { url = %q, tls_addr = %q, creds = { secret_id = %q, secret_key = %q }, "
    .. "volc = { access_key = %q, secret_key = %q }, role_arn = %q }",
    fake.url, fake.tls_addr, c.secret_id, c.secret_key, v.access_key, v.secret_key, ARN)
end

local function loc(path, body, extra)
  return "    location = " .. path .. " { " .. (extra or "") .. " content_by_lua_block { " .. body .. " } }\n"
end

local function get_json(ngx_, path, timeout)
  local status, body = ngx_:get(path, timeout)
  assert(status, "GET " .. path .. ": " .. tostring(body))
  local ok, t = pcall(json.decode, body)
  return ok and t or { raw = body }, status
end

-- n GETs of `path`, `conc` at a time (libcurl multi from outside nginx).
-- Returns the count of each status and the worst latency.
local function blast(ngx_, path, n, conc)
  local multi = core.multi()
  local handles, free = {}, {}
  for i = 1, conc do handles[i] = assert(core.http{ timeout = 30 }); free[#free + 1] = handles[i] end
  local inflight, statuses, worst, sent, done_n = {}, {}, 0, 0, 0
  while done_n < n do
    while sent < n and #free > 0 do
      local h = table.remove(free)
      sent = sent + 1
      inflight[multi:add(h, { method = "GET", url = ngx_.url .. path .. (path:find("?", 1, true) and "&" or "?")
        .. "id=ins-" .. string.format("%08d", sent % 100000000) })] = h
    end
    for _, id in ipairs(multi:run(1) or {}) do
      local res, err = multi:result(id)
      local st = res and res.status or ("error:" .. tostring(err and (err.message or err.kind)))
      statuses[st] = (statuses[st] or 0) + 1
      if res and res.time and res.time > worst then worst = res.time end
      free[#free + 1] = inflight[id]
      inflight[id] = nil
      done_n = done_n + 1
    end
  end
  multi:close()
  for _, h in ipairs(handles) do h:close() end
  return statuses, worst
end

describe_nginx("issue 22 (real nginx)", function()
  local fake

  setup(function() fake = fakecloud.start() end)
  teardown(function() if fake then fake:stop() end end)
  before_each(function() fake:reset(); fake:config{ latency = 0 } end)

  describe("part 1: per-request clients", function()
    local ngx_
    setup(function()
      ngx_ = nginx.start{
        name = "i22p1", workers = 1, worker_connections = 64,
        http = "  lua_ssl_trusted_certificate " .. nginx.abs(fake.certs.ca) .. ";\n"
          .. "  lua_ssl_verify_depth 3;\n"
          .. "  init_by_lua_block { " .. app_cfg(fake) .. " }\n",
        server = loc("/percall", "require('support.ngx_app').percall()"),
      }
    end)
    teardown(function() if ngx_ then ngx_:stop() end end)

    it("3400 per-request inquiries with worker_connections 64: no 502, idle connections bounded, RSS flat", function()
      local worker = ngx_:workers()[1]
      local port = tonumber(fake.url:match(":(%d+)$"))
      -- warm up (LuaJIT traces, the pools), then measure
      local st0 = blast(ngx_, "/percall", 200, 8)
      assert.are.same({ [200] = 200 }, st0, ngx_:error_log():sub(-1500))
      local rss0 = nginx.rss_kb(worker)
      local t0 = core.monotonic()
      local st, worst = blast(ngx_, "/percall", 3000, 8)
      local secs = core.monotonic() - t0
      local idle = nginx.established(worker, port)
      local rss1 = nginx.rss_kb(worker)
      -- and TLS (a pool per TLS identity: host name, SNI, verification)
      local st2 = blast(ngx_, "/percall?tls=1", 200, 8)
      local tls_port = tonumber(fake.tls_addr:match(":(%d+)$"))
      local idle_tls = nginx.established(worker, tls_port)
      print(string.format("\n  3000 per-request inquiries (8 at a time): %.2f s, %.0f/s, worst %.1f ms; "
        .. "idle connections to the fake %d (TLS %d); worker RSS %d -> %d kB",
        secs, 3000 / secs, worst * 1000, idle, idle_tls, rss0, rss1))
      assert.are.same({ [200] = 3000 }, st, ngx_:error_log():sub(-1500))
      assert.are.same({ [200] = 200 }, st2, ngx_:error_log():sub(-1500))
      assert.is_true(idle <= 16, "idle connections " .. idle)
      assert.is_true(idle_tls <= 16, "idle TLS connections " .. idle_tls)
      assert.is_true(rss1 - rss0 < 4096, "RSS grew " .. (rss1 - rss0) .. " kB")
      assert.falsy(ngx_:error_log():find("worker_connections are not enough", 1, true))
      -- every inquiry reached the fake over at most a handful of connections
      local ports = {}
      local seen = fake:requests_for("InquiryPriceRenewInstances")
      assert.are.equal(3400, #seen)
      for _, r in ipairs(seen) do ports[r.peer_port] = true end
      local nports = 0
      for _ in pairs(ports) do nports = nports + 1 end
      assert.is_true(nports <= 32, "connections used " .. nports)
    end)
  end)

  describe("part 2: credentials never block the worker", function()
    local ngx_
    setup(function()
      ngx_ = nginx.start{
        name = "i22p2", workers = 1,
        http = "  init_by_lua_block { " .. app_cfg(fake) .. " }\n",
        server = loc("/role", "require('support.ngx_app').role()"),
      }
    end)
    teardown(function() if ngx_ then ngx_:stop() end end)

    -- /ping's worst latency while `path` runs; returns it and path's answer.
    local function ping_during(path)
      local multi = core.multi()
      local slow = assert(core.http{ timeout = 30 })
      local id = multi:add(slow, { method = "GET", url = ngx_.url .. path })
      local t0 = core.monotonic()
      local finished = false
      local function run(s)
        for _, d in ipairs(multi:run(s) or {}) do if d == id then finished = true end end
      end
      run(0.1)
      local worst = 0
      for _ = 1, 15 do
        local status, _, secs = ngx_:get("/ping")
        assert.are.equal(200, status)
        if secs > worst then worst = secs end
        run(0.02)
      end
      while not finished and core.monotonic() - t0 < 20 do run(0.5) end
      local res = assert(multi:result(id))
      multi:close(); slow:close()
      return worst, json.decode(res.body)
    end

    it("a slow metadata service (0.6 s): /ping stays fast while a request fetches instance-role credentials", function()
      fake:faults{ { action = "MetadataCredentials", kind = "slow", delay = 0.6, count = 1 } }
      local worst, r = ping_during("/role?flush=1")
      print(string.format("\n  /ping worst %.1f ms while /role waited %.2f s for the metadata service",
        worst * 1000, r.elapsed))
      assert.is_true(r.ok, r.str)
      assert.are.equal("instance_role:cloudrenew-role", r.source)
      assert.is_true(r.elapsed >= 0.6, "elapsed " .. r.elapsed)
      assert.is_true(worst < 0.1, "worst /ping " .. worst)
    end)

    it("6 requests at once, each with its own client, fetch instance-role credentials once (single flight per worker)", function()
      assert.are.same({ [200] = 1 }, (blast(ngx_, "/role?flush=only", 1, 1)))
      fake:faults{ { action = "MetadataCredentials", kind = "slow", delay = 0.6, count = 1 } }
      local t0 = core.monotonic()
      local st = blast(ngx_, "/role", 6, 6)
      local secs = core.monotonic() - t0
      assert.are.same({ [200] = 6 }, st)
      local fetched = #fake:requests_for("MetadataCredentials")
      print(string.format("\n  6 per-request clients at once, metadata answering in 0.6 s: %d credential fetch(es), %.2f s",
        fetched, secs))
      assert.are.equal(1, fetched)
      assert.are.equal(6, #fake:requests_for("InquiryPriceRenewInstances"))
    end)

    it("a slow STS (0.6 s): /ping stays fast while a request assumes a role", function()
      fake:faults{ { action = "AssumeRole", kind = "slow", delay = 0.6, count = 1 } }
      local worst, r = ping_during("/role?sts=1")
      print(string.format("\n  /ping worst %.1f ms while /role?sts=1 waited %.2f s for STS", worst * 1000, r.elapsed))
      assert.is_true(r.ok, r.str)
      assert.is_true(r.elapsed >= 0.6, "elapsed " .. r.elapsed)
      assert.is_true(worst < 0.1, "worst /ping " .. worst)
    end)
  end)

  describe("part 3: DNS", function()
    local ngx_, hole
    setup(function()
      -- spec/support/fakedns.py: *.fake.test is 127.0.0.1, any other name is never
      -- answered (nginx's resolver then waits resolver_timeout)
      local tmp = os.tmpname()
      os.execute("python3 spec/support/fakedns.py > " .. tmp .. " 2>&1 &")
      local deadline = core.monotonic() + 10
      repeat
        core.sleep(0.05)
        local port, pid = (nginx.read(tmp) or ""):match("^(%d+) (%d+)")
        if port then hole = { port = tonumber(port), pid = tonumber(pid) } end
      until hole or core.monotonic() > deadline
      os.remove(tmp)
      assert(hole, "the silent name server did not start")
      ngx_ = nginx.start{
        name = "i22p3", workers = 1,
        http = "  resolver 127.0.0.1:" .. hole.port .. " ipv6=off;\n  resolver_timeout 10s;\n"
          .. "  init_by_lua_block { " .. app_cfg(fake) .. " }\n",
        server = loc("/percall", "require('support.ngx_app').percall()"),
      }
    end)
    teardown(function()
      if ngx_ then ngx_:stop() end
      if hole then os.execute("kill " .. hole.pid) end
    end)

    it("the call's timeout bounds name resolution (resolver_timeout 10s, timeout = 1): not_executed within ~1 s", function()
      local r, status = get_json(ngx_, "/percall?timeout=1&retry=0&endpoint=https://cvm.example.invalid", 30)
      print(string.format("\n  a name server that never answers, timeout = 1: %s after %.2f s", tostring(r.code),
        r.elapsed or -1))
      assert.are.equal(502, status)
      assert.are.equal("ClientError.Timeout", r.code, r.str)
      assert.are.equal("not_executed", r.outcome)
      assert.is_true(r.elapsed < 1.5, "elapsed " .. tostring(r.elapsed))
      assert.truthy(r.message:find("resolv", 1, true), r.message)
      -- with the default retries, each attempt is bounded the same way
      r = get_json(ngx_, "/percall?timeout=1&endpoint=https://cvm.example.invalid", 60)
      print(string.format("  with retries: %s after %.2f s", tostring(r.code), r.elapsed or -1))
      assert.are.equal("ClientError.Timeout", r.code, r.str)
      assert.is_true(r.elapsed < 10, "elapsed " .. tostring(r.elapsed))
    end)

    it("a name the resolver answers: connected through the light thread, pooled for inquiries", function()
      local port = fake.url:match(":(%d+)$")
      for _ = 1, 3 do
        local r, status = get_json(ngx_, "/percall?insecure=1&timeout=3&endpoint=http://cvm.fake.test:" .. port, 30)
        assert.are.equal(200, status, r.str)
        assert.is_true(r.ok, r.str)
      end
      local q = fake:requests_for("InquiryPriceRenewInstances")
      assert.are.equal(3, #q)
      assert.are.equal(q[1].peer_port, q[3].peer_port)
      assert.are.equal("cvm.fake.test:" .. port, q[1].headers.host)
    end)

    it("localhost resolves without DNS under nginx (its resolver ignores /etc/hosts)", function()
      local port = fake.url:match(":(%d+)$")
      local r, status = get_json(ngx_, "/percall?timeout=3&endpoint=http://localhost:" .. port, 30)
      assert.are.equal(200, status, r.str)
      assert.is_true(r.ok, r.str)
      assert.is_true(r.elapsed < 1, "elapsed " .. tostring(r.elapsed))
    end)
  end)

  describe("part 3: no resolver directive", function()
    local ngx_
    setup(function()
      ngx_ = nginx.start{ name = "i22p3b", workers = 1,
        http = "  init_by_lua_block { " .. app_cfg(fake) .. " }\n",
        server = loc("/percall", "require('support.ngx_app').percall()") }
    end)
    teardown(function() if ngx_ then ngx_:stop() end end)

    it("the error names the name server /etc/resolv.conf lists, not 127.0.0.53", function()
      local ns = (nginx.read("/etc/resolv.conf") or ""):match("\n%s*nameserver%s+([%d%.]+)")
        or (nginx.read("/etc/resolv.conf") or ""):match("^%s*nameserver%s+([%d%.]+)")
      local r = get_json(ngx_, "/percall?endpoint=https://cvm.tencentcloudapi.com")
      assert.are.equal("ClientError.Network", r.code)
      assert.are.equal("not_executed", r.outcome)
      assert.truthy(r.message:find("resolver", 1, true), r.message)
      assert.truthy(r.message:find("/etc/resolv.conf", 1, true), r.message)
      if ns then assert.truthy(r.message:find("resolver " .. ns, 1, true), r.message) end
      if ns ~= "127.0.0.53" then assert.falsy(r.message:find("127.0.0.53", 1, true), r.message) end
    end)
  end)

  describe("part 4: a timer job (examples/openresty/renewals.lua)", function()
    local N = 30

    -- The example's own nginx set-up and Lua module, against the fake (TLS, real host name).
    local function start_example(name)
      local c = fakecloud.credentials().tencent[1]
      local ids = {}
      for i = 1, N do ids[i] = string.format("ins-job%05d", i) end
      return nginx.start{
        name = name, workers = 2, log_level = "info",
        main = "env TENCENTCLOUD_SECRET_ID=" .. c.secret_id .. "; env TENCENTCLOUD_SECRET_KEY=" .. c.secret_key
          .. "; env CLOUDRENEW_CONNECT_TO=" .. fake.tls_addr .. "; env CVM_INSTANCES=" .. table.concat(ids, ",")
          .. "; env APPLY=1; env BUDGET=1000000;",
        http = "  lua_ssl_trusted_certificate " .. nginx.abs(fake.certs.ca) .. ";\n  lua_ssl_verify_depth 3;\n"
          .. "  lua_shared_dict cloudrenew 1m;\n  lua_shared_dict renewals 1m;\n"
          .. "  init_by_lua_block { package.path = '@ROOT@/examples/openresty/?.lua;' .. package.path }\n"
          .. "  init_worker_by_lua_block { require('renewals').start() }\n",
        server = loc("/last-run", "require('renewals').last_run()"),
      }
    end

    local function wait_for(pred, seconds)
      local deadline = core.monotonic() + seconds
      while core.monotonic() < deadline do
        if pred() then return true end
        core.sleep(0.05)
      end
      return false
    end

    local function audit(ngx_)
      local intents, results = {}, {}
      for line in (nginx.read(ngx_.prefix .. "/logs/renewals.jsonl") or ""):gmatch("[^\n]+") do
        local t = json.decode(line)
        if t.type == "intent" or t.event == "intent" then intents[#intents + 1] = t
        elseif t.type == "result" or t.event == "result" then results[#results + 1] = t end
      end
      return intents, results
    end

    it("nginx -s quit while the job renews: no new renewal starts once the worker is exiting, none sent twice", function()
      local ngx_ = start_example("i22p4q")
      local ok, err = pcall(function()
        assert.is_true(wait_for(function() return #fake:requests_for("RenewInstances") >= 1 end, 20),
          "the job never renewed: " .. ngx_:error_log():sub(-1500))
        local pid = ngx_:pid()
        ngx_:signal("quit")
        assert.is_true(wait_for(function() return not os.execute("kill -0 " .. pid .. " 2>/dev/null") end, 30))
        local sent = fake:requests_for("RenewInstances")
        local ids = {}
        for _, r in ipairs(sent) do
          local id = json.decode(r.body).InstanceIds[1]
          assert.is_nil(ids[id], "renewed twice: " .. id)
          ids[id] = true
        end
        local intents, results = audit(ngx_)
        print(string.format("\n  quit during the job: %d of %d renewals sent, %d intents, %d results", #sent, N,
          #intents, #results))
        assert.is_true(#sent < N, "every renewal went out after quit: " .. #sent)
        assert.are.equal(#intents, #results)
        assert.are.equal(#sent, #intents)
        local log = ngx_:error_log()
        assert.truthy(log:find("exiting", 1, true), log:sub(-2000))
      end)
      ngx_:stop()
      assert(ok, err)
    end)

    it("a reload while the job runs logs no error or notice line about the lock (info at most)", function()
      local ngx_ = start_example("i22p4r")
      local ok, err = pcall(function()
        assert.is_true(wait_for(function() return #fake:requests_for("RenewInstances") >= 1 end, 20))
        ngx_:signal("reload")
        assert.is_true(wait_for(function() return ngx_:error_log():find("locked by another running process", 1, true) end, 20),
          ngx_:error_log():sub(-2000))
        for line in ngx_:error_log():gmatch("[^\n]+") do
          if line:find("locked by another running process", 1, true) then
            assert.truthy(line:find("[info]", 1, true), line)
          end
        end
      end)
      ngx_:stop()
      assert(ok, err)
    end)
  end)

  describe("part 4: ca_file on the cosocket path", function()
    local ngx_
    setup(function()
      ngx_ = nginx.start{ name = "i22p4c", workers = 1,
        http = "  lua_ssl_trusted_certificate " .. nginx.abs(fake.certs.ca) .. ";\n  lua_ssl_verify_depth 3;\n"
          .. "  init_by_lua_block { " .. app_cfg(fake) .. " }\n",
        server = loc("/percall", "require('support.ngx_app').percall()") }
    end)
    teardown(function() if ngx_ then ngx_:stop() end end)

    it("is refused with a message naming lua_ssl_trusted_certificate, nothing sent", function()
      local r, status = get_json(ngx_, "/percall?tls=1&ca_file=" .. nginx.abs(fake.certs.wrong_ca))
      assert.are.equal(502, status)
      assert.are.equal("ClientError.InvalidParameter", r.code)
      assert.truthy(r.message:find("lua_ssl_trusted_certificate", 1, true), r.message)
      assert.are.equal(0, #fake:requests_for("InquiryPriceRenewInstances"))
    end)
  end)
end)

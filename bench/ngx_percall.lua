-- Issue 22: per-request clients under a real nginx at volume. 10,000 GET
-- /percall (each makes a client, sends one InquiryPriceRenewInstances over
-- cosockets, closes it) through 2 workers with worker_connections 512, 16 at a
-- time, against the fake cloud (no latency, unpaced). Every 1000 requests:
-- statuses so far, ESTABLISHED connections from the workers to the fake, and
-- the workers' RSS. Target: zero non-200, idle connections <= 16 per worker
-- and destination, RSS flat after warm-up.
--   make bench-ngx            (or: lua5.4 bench/ngx_percall.lua [N] [CONCURRENCY])
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")
local nginx = require("support.nginx")

local N, CONC = tonumber(arg[1]) or 10000, tonumber(arg[2]) or 16

local fake = fakecloud.start()
local c = fakecloud.credentials().tencent[1]
local ngx_ = nginx.start{
  name = "bench-percall", workers = 2, worker_connections = 512,
  http = string.format("  init_by_lua_block { APP_CFG = { url = %q, tls_addr = %q, creds = { secret_id = %q, "
    .. "secret_key = %q } } }\n", fake.url, fake.tls_addr, c.secret_id, c.secret_key),
  server = "    location = /percall { content_by_lua_block { require('support.ngx_app').percall() } }\n",
}
local port = tonumber(fake.url:match(":(%d+)$"))

local function sample()
  local conns, rss = 0, 0
  for _, pid in ipairs(ngx_:workers()) do
    conns = conns + nginx.established(pid, port)
    rss = rss + (nginx.rss_kb(pid) or 0)
  end
  return conns, rss
end

local multi = core.multi()
local free, inflight = {}, {}
for i = 1, CONC do free[i] = assert(core.http{ timeout = 30 }) end
local statuses, sent, done, worst = {}, 0, 0, 0
local lat = {}
local t0 = core.monotonic()
print(string.format("%d per-request inquiries, %d at a time, 2 workers, worker_connections 512", N, CONC))
print("   done   non-200   conns   RSS kB (both workers)")
while done < N do
  while sent < N and #free > 0 do
    local h = table.remove(free)
    sent = sent + 1
    inflight[multi:add(h, { method = "GET", url = ngx_.url .. "/percall?id=ins-" .. string.format("%08d", sent) })] = h
  end
  for _, id in ipairs(multi:run(1) or {}) do
    local res = multi:result(id)
    local st = res and res.status or "error"
    statuses[st] = (statuses[st] or 0) + 1
    if res and res.time then lat[#lat + 1] = res.time; if res.time > worst then worst = res.time end end
    free[#free + 1] = inflight[id]
    inflight[id] = nil
    done = done + 1
    if done % 1000 == 0 then
      local conns, rss = sample()
      print(string.format("%7d %9d %7d %9d", done, done - (statuses[200] or 0), conns, rss))
    end
  end
end
local secs = core.monotonic() - t0
table.sort(lat)
local conns, rss = sample()
print(string.format("%.2f s, %.0f/s; latency p50 %.1f ms, p99 %.1f ms, worst %.1f ms; 200: %d of %d; "
  .. "'worker_connections are not enough': %s; idle connections at the end %d; RSS %d kB",
  secs, N / secs, lat[math.ceil(#lat * 0.5)] * 1000, lat[math.ceil(#lat * 0.99)] * 1000, worst * 1000,
  statuses[200] or 0, N, ngx_:error_log():find("worker_connections are not enough", 1, true) and "yes" or "no",
  conns, rss))
multi:close()
for _, h in ipairs(free) do h:close() end
ngx_:stop()
fake:stop()
os.exit((statuses[200] or 0) == N and 0 or 1)

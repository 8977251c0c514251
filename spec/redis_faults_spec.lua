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
end)

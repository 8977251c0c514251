-- The multi driver behind cloudrenew.map never waits when work is ready: a
-- transfer whose answer is already in the socket must come back from
-- multi:run at once, not after the poll timeout (issue 10 section 4; the
-- throughput shape is bench/map_idle.lua).
local core = require("cloudrenew.core")
local fakecloud = require("support.fake")

-- Any request the fake records and answers (unsigned: it answers an auth error).
local function REQ(fake)
  return { method = "POST", url = fake.url .. "/", body = "{}",
           headers = { "Content-Type: application/json", "X-TC-Action: DescribeInstances" } }
end

describe("multi:run", function()
  local fake

  setup(function() fake = fakecloud.start{ tls = false } end)
  teardown(function() if fake then fake:stop() end end)

  -- Start one transfer and drive it until the fake has it; then let the answer
  -- arrive while nobody drives libcurl, as happens while map's Lua side runs.
  local function answered_transfer(multi, http)
    fake:reset()
    local id = multi:add(http, REQ(fake))
    local deadline = core.monotonic() + 5
    local done = {}
    while #fake:requests() == 0 and #done == 0 and core.monotonic() < deadline do
      done = multi:run(0)
      core.sleep(0.01)
    end
    core.sleep(0.2)
    return id, done
  end

  it("returns a finished transfer without sitting out its timeout", function()
    local multi, http = core.multi(), assert(core.http{ timeout = 10 })
    for _ = 1, 3 do
      local id, early = answered_transfer(multi, http)
      local t0 = core.monotonic()
      local done = #early > 0 and early or multi:run(1)
      local elapsed = core.monotonic() - t0
      assert.are.same({ id }, done)
      assert.is_table(multi:result(id))
      assert(elapsed < 0.5, string.format("multi:run(1) idled %.2f s with the answer ready", elapsed))
    end
    multi:close()
    http:close()
  end)

  it("still waits for a transfer whose answer has not come", function()
    local multi, http = core.multi(), assert(core.http{ timeout = 10 })
    fake:config{ latency = 0.3 }
    local id = multi:add(http, REQ(fake))
    local t0, done = core.monotonic(), {}
    while #done == 0 and core.monotonic() - t0 < 5 do done = multi:run(1) end
    fake:config{ latency = 0 }
    assert.are.same({ id }, done)
    assert(core.monotonic() - t0 >= 0.25, "answered before the fake's latency")
    multi:result(id)
    multi:close()
    http:close()
  end)
end)

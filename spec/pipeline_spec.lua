-- Issue 25: a fleet run at the cloud's speed. Pricing, renewing and confirming
-- overlap (cloudrenew.workflow.pipeline); confirmation polls share read
-- requests and never hold a renewal lane; concurrent audit lines share one
-- write and one fsync. Shown by what the fake receives (order, counts), never
-- by timing; every run counts at the fake that each resource was renewed once.
-- The speed itself is bench/fleet.lua's (make bench-fleet).
local workflow = require("cloudrenew.workflow")
local fixture = require("support.fixture")

local FAST = { base_delay = 0.01, max_delay = 0.05 }

-- ids(prefix, width, n, tag): n stable ids (support.fake.ids)
local function ids(prefix, width, n, tag) return require("support.fake").ids(prefix, n, width, tag) end

describe("the renewal pipeline (issue 25)", function()
  local fake, tc, volc, log
  local fx = fixture.new()

  setup(function() fake, tc, volc = fx.fake, fx:tencent{ retry = FAST }, fx:volcengine{ retry = FAST } end)
  before_each(function() log = fx:log() end)

  local function once(list)
    local got = fake:renewals()
    for _, id in ipairs(list) do assert.are.equal(1, got[id], id .. " renewed " .. tostring(got[id]) .. " times") end
  end

  local function max_ids(reqs)
    local most = 0
    for _, r in ipairs(reqs) do
      local n = 0
      if type(r.query) == "string" then n = select(2, r.query:gsub("InstanceIds%.%d+=", "")) end
      local ok, body = pcall(require("cloudrenew.client.json").decode, r.body or "")
      if ok and type(body) == "table" and type(body.InstanceIds) == "table" then n = #body.InstanceIds end
      if n > most then most = n end
    end
    return most
  end

  it("ecs: the expiries before sending and the confirmation polls share read requests (30 renewals, a few reads)", function()
    local list = ids("i-", 20, 30, "pp")
    local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", resources = list, period = 1,
      audit_log = log })
    assert.are.equal(30, r.totals.renewed)
    assert.are.equal(30, r.totals.confirmed)
    for _, it in ipairs(r.items) do assert.truthy(it.expires_before, it.id) end
    once(list)
    -- one read before and one poll per resource would be 60 and more
    local reads = fake:requests_for("DescribeInstances")
    assert.is_true(#reads < 15, #reads .. " DescribeInstances for 30 renewals")
    assert.is_true(max_ids(reads) > 1, "no read carried more than one id")
  end)

  it("cvm: a renewal still OPERATING is polled off the renewal lane: the next renewal goes out meanwhile", function()
    fake:resources(nil, { operation_seconds = 2 })
    local list = ids("ins-", 8, 4, "pq")
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = list, period = 1,
      audit_log = log, concurrency = 1, confirm = { interval = 0.5, timeout = 30 } })
    assert.are.equal(4, r.totals.renewed)
    assert.are.equal(4, r.totals.confirmed)
    for _, it in ipairs(r.items) do assert.are.equal(true, it.confirmed, it.id) end
    once(list)
    local renews = fake:requests_for("RenewInstances")
    assert.are.equal(4, #renews)
    -- with one lane, a renewal holding it while polling would send the next
    -- only after the first settled (2 s at the fake)
    assert.is_true(renews[4].time - renews[1].time < 2,
      string.format("the 4th renewal went out %.2f s after the 1st", renews[4].time - renews[1].time))
    fake:resources(nil, { operation_seconds = 0 })
  end)

  it("cvm: resource 1 is renewed while later ones are still priced, with the same decisions and budget", function()
    -- prices 10..120 (the inquiry answers 80 %: 8.00..96.00); budget 150.00 in list order:
    -- 8 + 16 + 24 + 32 + 40 = 120 fit, 48 does not (168), nor anything dearer
    local list = ids("ins-", 8, 12, "pr")
    local prices = {}
    for i, id in ipairs(list) do prices[id] = 10 * i end
    fake:config{ prices = prices }
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = list, period = 1,
      audit_log = log, concurrency = 1, budget = 150, confirm = false })
    local want = {}
    for i = 1, 12 do want[i] = i <= 5 and "renew" or "over_budget" end
    local got = {}
    for i, it in ipairs(r.items) do got[i] = it.decision end
    assert.are.same(want, got)
    assert.are.equal("120.00", r.totals.spent)
    local renewed = fake:renewals()
    for i, id in ipairs(list) do assert.are.equal(i <= 5 and 1 or nil, renewed[id], id) end
    -- the first renewal reached the cloud before the last inquiry did
    local inquiries = fake:requests_for("InquiryPriceRenewInstances")
    local renews = fake:requests_for("RenewInstances")
    assert.are.equal(12, #inquiries)
    assert.is_true(renews[1].time < inquiries[#inquiries].time,
      "every inquiry came before the first renewal: pricing and renewing did not overlap")
  end)

  it("a rejected pricing batch is halved without holding up the renewals before it", function()
    local list = ids("i-", 20, 6, "ps")
    fake:config{ missing = { list[4] } }
    local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", resources = list, period = 1,
      audit_log = log, confirm = false })
    local got = {}
    for i, it in ipairs(r.items) do got[i] = it.decision end
    assert.are.same({ "renew", "renew", "renew", "no_price", "renew", "renew" }, got)
    once({ list[1], list[2], list[3], list[5], list[6] })
    assert.is_nil(fake:renewals()[list[4]])
  end)

  it("concurrent audit lines share writes (fewer fsyncs than lines); every intent still precedes its send", function()
    fake:config{ latency = 0.05 }
    local list = ids("ins-", 8, 24, "pt")
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = list, period = 1,
      audit_log = log, concurrency = 8, confirm = { interval = 0.2, timeout = 30 } })
    fake:config{ latency = 0 }
    assert.are.equal(24, r.totals.renewed)
    once(list)
    local w = r.audit.writes
    assert.are.equal(72, w.lines)               -- intent, result, confirm for each
    assert.is_true(w.count < w.lines, w.count .. " writes for " .. w.lines .. " lines")
    assert.is_true(w.seconds >= 0 and w.longest <= w.seconds)
    -- on disk: each resource's intent before its result, one of each
    local seen = {}
    for _, e in ipairs(fixture.entries(log)) do
      seen[e.id] = (seen[e.id] or "") .. e.event:sub(1, 1)
    end
    for _, id in ipairs(list) do assert.are.equal("irc", seen[id], id) end
  end)

  it("dry_run prices and decides in order and sends no renewal", function()
    local list = ids("ins-", 8, 5, "pu")
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = list, period = 1,
      dry_run = true })
    for _, it in ipairs(r.items) do
      assert.are.equal("renew", it.decision)
      assert.are.equal("planned", it.outcome)
    end
    assert.are.equal(0, #fake:requests_for("RenewInstances"))
    assert.are.equal(0, #fake:requests_for("DescribeInstances"))
  end)
end)

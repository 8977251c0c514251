-- Prices that cannot be trusted are not prices (issue 9, part 3). A quote that is
-- negative, not finite, not an exact decimal, or over 10^12 is no_price with an
-- error naming the value, and never moves the running total: spend stays within
-- the budget. Quotes come from the fake cloud's raw_quotes (answered verbatim),
-- next to honest ones; teo prices come from the caller and the inventory.
local inventory = require("cloudrenew.cli.inventory")
local json = require("cloudrenew.client.json")
local money = require("cloudrenew.workflow.money")
local workflow = require("cloudrenew.workflow")
local fixture = require("support.fixture")

local FAST = { base_delay = 0.01, max_delay = 0.05 }

local by_id, has = fixture.by_id, fixture.has

describe("money.cents", function()
  it("refuses what is not an exact, finite, non-negative decimal amount up to 10^12", function()
    for _, v in ipairs({ "NaN", "nan", "inf", "1e309", "1e3", "12.3.4", "-1000", "-0.01", "", "  ", ".",
                         "0x10", "1,5", "+5", "١٢", "1000000000000.01", "99999999999999999999",
                         -1000, -0.01, 1 / 0, -1 / 0, 0 / 0, 1e13, 1e300, true, {} }) do
      assert.is_nil(money.cents(v, "up"), "accepted " .. tostring(v))
      assert.is_nil(money.cents(v, "down"), "accepted " .. tostring(v))
    end
  end)

  it("parses decimal strings and JSON numbers exactly, up to 10^12", function()
    assert.are.equal(9323, money.cents(93.23, "up"))
    assert.are.equal(9323, money.cents(json.decode("93.23"), "up"))
    assert.are.equal(9323, money.cents(require("cjson").decode("93.23"), "down"))
    assert.are.equal(9323, money.cents(" 93.23 ", "up"))
    assert.are.equal(30, money.cents(0.1 + 0.2, "up"))
    assert.are.equal(0, money.cents("0", "up"))
    assert.are.equal(50, money.cents(".5", "up"))
    assert.are.equal(1001, money.cents("10.001", "up"))
    assert.are.equal(1000, money.cents("10.009", "down"))
    assert.are.equal(100000000000000, money.cents("1000000000000", "up"))
    assert.are.equal(100000000000000, money.cents(1e12, "up"))
  end)
end)

describe("hostile price quotes", function()
  local fake, tc, volc
  local fx = fixture.new{ tls = false }

  setup(function() fake, tc, volc = fx.fake, fx:tencent{ retry = FAST }, fx:volcengine{ retry = FAST } end)

  -- Every bad one is no_price, BadResponse, its value named; nothing of it renewed.
  local function assert_refused(r, bad)
    local it = by_id(r)
    for id, shown in pairs(bad) do
      assert.are.equal("no_price", it[id].decision, id)
      assert.are.equal("skipped", it[id].outcome, id)
      assert.is_nil(it[id].price_cents, id)
      assert.are.equal("ClientError.BadResponse", it[id].error.code, id)
      assert.is_true(has(it[id].error.message, shown), id .. ": " .. it[id].error.message .. " lacks " .. shown)
    end
    local renewed = fake:renewals()
    for id in pairs(bad) do assert.is_nil(renewed[id], id .. " was renewed") end
  end

  it("cvm: -1000, NaN, 1e309, 12.3.4 and 10^13 as DiscountPrice are no_price; spend stays within budget", function()
    -- honest ones: 100 and 50 a month, the inquiry answers 80 % (80.00, 40.00)
    fake:config{
      prices = { ["ins-honest01"] = 100, ["ins-honest02"] = 100, ["ins-honest03"] = 50 },
      raw_quotes = { ["ins-negative"] = -1000, ["ins-negstr01"] = "-1000", ["ins-nanstr01"] = "NaN",
                     ["ins-infstr01"] = "1e309", ["ins-inflit01"] = { ["$literal"] = "1e309" },
                     ["ins-dots0001"] = "12.3.4", ["ins-huge0001"] = 1e13, ["ins-honest04"] = "93.23",
                     ["ins-honest05"] = 12.5 } }
    local ids = { "ins-negative", "ins-honest01", "ins-negstr01", "ins-nanstr01", "ins-honest02",
                  "ins-infstr01", "ins-inflit01", "ins-dots0001", "ins-huge0001", "ins-honest03",
                  "ins-honest04", "ins-honest05" }
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = ids,
      period = 1, budget = 200, concurrency = 3 })
    assert_refused(r, { ["ins-negative"] = "-1000", ["ins-negstr01"] = '"-1000"', ["ins-nanstr01"] = '"NaN"',
      ["ins-infstr01"] = '"1e309"', ["ins-inflit01"] = "inf", ["ins-dots0001"] = '"12.3.4"',
      ["ins-huge0001"] = "10000000000000" })
    local it = by_id(r)
    -- 80 + 80 fit in 200; 40 more fits exactly; then nothing else does
    assert.are.same({ "renew", "renew", "renew", "over_budget", "over_budget" },
      { it["ins-honest01"].decision, it["ins-honest02"].decision, it["ins-honest03"].decision,
        it["ins-honest04"].decision, it["ins-honest05"].decision })
    assert.are.equal("93.23", it["ins-honest04"].price)
    assert.are.equal("12.50", it["ins-honest05"].price)
    assert.are.same({ ["ins-honest01"] = 1, ["ins-honest02"] = 1, ["ins-honest03"] = 1 }, fake:renewals())
    assert.are.equal(20000, r.totals.spent_cents)
    assert.are.equal(7, r.totals.no_price)
  end)

  it("cvm: a BandwidthPrice that is present but not a price spoils the quote (never lowers it)", function()
    for _, case in ipairs({ { "-5", "-5" }, { '"NaN"', '"NaN"' }, { "1e309", "inf" }, { "Infinity", "inf" },
                            { '"1.2.3"', '"1.2.3"' } }) do
      fake:reset()
      fake:faults{ { action = "InquiryPriceRenewInstances", kind = "body", body = '{"Response": {"Price": {'
        .. '"InstancePrice": {"DiscountPrice": 100}, "BandwidthPrice": {"DiscountPrice": ' .. case[1] .. '}},'
        .. ' "RequestId": "req-bw"}}' } }
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "cvm", resources = { "ins-bandw001" },
        period = 1, budget = 100 })
      assert_refused(r, { ["ins-bandw001"] = case[2] })
      assert.truthy(has(r.items[1].error.message, "BandwidthPrice"), r.items[1].error.message)
      assert.are.equal("req-bw", r.items[1].error.request_id)
    end
  end)

  it("hspro: a hostile DiscountPrice is no_price, the honest ones renew within budget", function()
    fake:config{ prices = { qh1 = 100, qh2 = 100 },   -- answers 90 %: 90.00 each
      raw_quotes = { qneg = -1000, qnan = "NaN", qinf = { ["$literal"] = "1e309" }, qdot = "12.3.4",
                     qobj = { amount = 1 } } }
    local rows = {}
    for i, q in ipairs({ "qneg", "qh1", "qnan", "qinf", "qdot", "qobj", "qh2" }) do
      rows[i] = { Quuid = q, MachineType = "CVM", MachineRegion = "ap-guangzhou" }
    end
    local r = assert(workflow.renew_if_under_budget{ client = tc, product = "hspro", resources = rows,
      period = 1, budget = 100 })
    assert_refused(r, { qneg = "-1000", qnan = '"NaN"', qinf = "inf", qdot = '"12.3.4"', qobj = "table" })
    assert.are.same({ "renew", "over_budget" }, { by_id(r).qh1.decision, by_id(r).qh2.decision })
    assert.are.same({ qh1 = 1 }, fake:renewals())
  end)

  it("ecs: hostile DiscountAmount strings in a batch are no_price; the rest of the batch keeps its price", function()
    local ids = {}
    for i = 1, 8 do ids[i] = string.format("i-pr%018d", i) end
    fake:config{ prices = { [ids[2]] = 100, [ids[5]] = 100, [ids[8]] = 100 },   -- 85 %: 85.00
      raw_quotes = { [ids[1]] = "-1000", [ids[3]] = "NaN", [ids[4]] = "1e309", [ids[6]] = "12.3.4",
                     [ids[7]] = { ["$literal"] = "-1e309" } } }
    local r = assert(workflow.renew_if_under_budget{ client = volc, product = "ecs", resources = ids,
      period = 1, budget = 170 })
    assert_refused(r, { [ids[1]] = '"-1000"', [ids[3]] = '"NaN"', [ids[4]] = '"1e309"',
                        [ids[6]] = '"12.3.4"', [ids[7]] = "-inf" })
    assert.are.same({ "renew", "renew", "over_budget" },
      { r.items[2].decision, r.items[5].decision, r.items[8].decision })
    assert.are.same({ [ids[2]] = 1, [ids[5]] = 1 }, fake:renewals())
    assert.are.equal("170.00", r.totals.spent)
    -- one inquiry for all eight: the bad ones did not cost the others their price
    assert.are.equal(1, #fake:requests_for("QueryPriceForRenew"))
  end)

  it("teo: hostile caller prices (table or function) are no_price, InvalidParameter naming the value", function()
    local plans = {}
    for i = 1, 8 do plans[i] = string.format("edgeone-pr%010d", i) end
    local table_prices = { [plans[1]] = -1000, [plans[2]] = 30, [plans[3]] = "NaN", [plans[4]] = 1 / 0,
      [plans[5]] = 0 / 0, [plans[6]] = "12.3.4", [plans[7]] = 1e13, [plans[8]] = "30" }
    local shown = { [plans[1]] = "-1000", [plans[3]] = '"NaN"', [plans[4]] = "inf", [plans[5]] = "nan",
      [plans[6]] = '"12.3.4"', [plans[7]] = "10000000000000" }
    for _, price in ipairs({ table_prices, function(id) return table_prices[id] end }) do
      fake:reset()
      local r = assert(workflow.renew_if_under_budget{ client = tc, product = "teo", resources = plans,
        period = 1, budget = 40, price = price })
      local it = by_id(r)
      for id, s in pairs(shown) do
        assert.are.equal("no_price", it[id].decision, id)
        assert.are.equal("ClientError.InvalidParameter", it[id].error.code, id)
        assert.is_true(has(it[id].error.message, s), it[id].error.message .. " lacks " .. s)
      end
      assert.are.same({ "renew", "over_budget" }, { it[plans[2]].decision, it[plans[8]].decision })
      assert.are.same({ [plans[2]] = 1 }, fake:renewals())
    end
  end)

  it("inventory: a teo price that is not an amount is refused naming the value", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local cases = { ["-1000"] = "-1000", ['"NaN"'] = '"NaN"', ["1e309"] = "inf", ['"12.3.4"'] = '"12.3.4"',
                    ["1e13"] = "10000000000000", ['"1e309"'] = '"1e309"' }
    for text, s in pairs(cases) do
      local path = dir .. "/inv.json"
      local f = assert(io.open(path, "wb"))
      f:write('{"tencent": {"teo": {"period": 1, "resources": ["edgeone-aaaaaaaaaaa1"],'
        .. ' "prices": {"edgeone-aaaaaaaaaaa1": ' .. text .. '}}}}')
      f:close()
      local inv, err = inventory.load(path)
      assert.is_nil(inv, text)
      assert.is_true(has(err, "edgeone-aaaaaaaaaaa1") and has(err, s), tostring(err) .. " lacks " .. s)
    end
    os.execute("rm -rf " .. dir)
  end)
end)

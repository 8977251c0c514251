-- Everything that expires (issue 23 part 1): the clouds' billing lists of every
-- prepaid instance of the account, any product and region, as one table.
--
--   local expiring = require("cloudrenew.workflow.expiring")
--   local report, err = expiring.list{ clients = { tc, volc }, days = 30 }
--
-- Tencent billing 2018-07-09 DescribeRenewInstances and Volcengine billing
-- 2022-01-01 ListAvailableInstances (no Product filter), every page. Each row says
-- its expiry, days left, the auto-renew flag, whether cloudrenew renews its product
-- (route) or only the console does, and, for what is due, the renewal price where
-- the product has an inquiry. Nothing is renewed or changed. Everything the clouds
-- send is bounded: an unreadable expiry is an unknown expiry, a malformed entry is
-- counted, never raised on.
local core = require("cloudrenew.core")
local dates = require("cloudrenew.workflow.dates")
local errors = require("cloudrenew.client.errors")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")
local pages = require("cloudrenew.client.pages")
local products = require("cloudrenew.products")

local M = {}

M.DEFAULT_DAYS, M.MAX_DAYS = 30, 3660
M.MAX_TEXT = 128       -- ids, codes, names: longer ids are no ids, longer names are cut
local DAY = 86400

local function invalid(msg)
  return nil, errors.client("InvalidParameter", "expiring: " .. msg)
end

-- A bounded, printable string from a server, or nil.
local function text(v, cut)
  if type(v) ~= "string" or v == "" or v:find("%c") then return nil end
  if #v > M.MAX_TEXT then
    if not cut then return nil end
    return v:sub(1, M.MAX_TEXT) .. "..."
  end
  return v
end

local function region_of(v)
  return type(v) == "string" and #v <= 64 and v:find("^[%w%-_.]+$") and v or nil
end

-- Per cloud: the billing list, and one entry of it -> the facts a row needs.
local AUTO = { NOTIFY_AND_AUTO_RENEW = true, NOTIFY_AND_MANUAL_RENEW = false,
               DISABLE_NOTIFY_AND_MANUAL_RENEW = false,
               Automatically = true, Manually = false, NoRenew = false }
local LIST = {
  tencent = { service = "billing", action = "DescribeRenewInstances", ids = "InstanceIdList",
    entry = function(x)
      -- ExpireTime: "yyyy-MM-dd HH:mm:ss", Beijing time (docs/official.md)
      return { id = x.InstanceId, code = x.ProductCode, sub = x.SubProductCode, region = x.RegionCode,
               raw_expiry = x.ExpireTime, expires = dates.parse(x.ExpireTime, 8), flag = x.RenewFlag,
               status = x.Status, name = x.InstanceName, product_name = x.ProductName }
    end },
  volcengine = { service = "billing", action = "ListAvailableInstances", ids = "InstanceIDs",
    entry = function(x)
      -- the whole account, no region in the answer
      return { id = x.InstanceID, code = x.Product, raw_expiry = x.ExpiredTime, expires = dates.parse(x.ExpiredTime),
               flag = x.RenewType, status = x.Status, name = x.InstanceName, product_name = x.ProductName }
    end },
}

-- by_code[cloud][billing code] = product name (from the product modules); [ANY]: the
-- module renewing every code no other one has
local ANY = {}
local function by_code()
  local t = { tencent = {}, volcengine = {} }
  for _, name in ipairs(products.names()) do
    local p = products.get(name)
    if p.billing_code and t[p.cloud] then t[p.cloud][p.billing_code] = name end
    -- a module that renews every other code of its cloud (volc_billing)
    if p.any_billing_code and t[p.cloud] then t[p.cloud][ANY] = name end
  end
  return t
end

-- The module whose billing_match takes an entry no code names (tc_billing: by the
-- product names its definition lists), or nil.
local function matched(matchers, code, product_name)
  for _, name in ipairs(matchers) do
    if products.get(name).billing_match(code, product_name) then return name end
  end
end

local KNOWN = { clients = true, days = true, all = true, price = true, period = true, price_all = true }

local function check(o)
  if type(o) ~= "table" then return invalid("options must be a table like { clients = { tc, volc }, days = 30 }") end
  for k in pairs(o) do
    if not KNOWN[k] then return invalid(tostring(k) .. " is not an option (clients, days, all, price, period, price_all)") end
  end
  local c = { days = M.DEFAULT_DAYS, all = o.all == true, price = o.price ~= false, period = 1, clients = {} }
  if type(o.clients) ~= "table" or #o.clients == 0 then
    return invalid("clients must list a cloudrenew.tencent and/or cloudrenew.volcengine client")
  end
  local seen = {}
  for i, cl in ipairs(o.clients) do
    if type(cl) ~= "table" or not LIST[cl.cloud] or type(cl.call) ~= "function" then
      return invalid(string.format("clients[%d] is not a cloudrenew client", i))
    end
    if seen[cl.cloud] then return invalid("clients lists two " .. cl.cloud .. " clients: one per cloud (the lists are account-wide)") end
    seen[cl.cloud] = true
    c.clients[i] = cl
  end
  if o.days ~= nil then
    c.days = num.canon(o.days)
    if not num.finite(c.days) or c.days < 0 or c.days > M.MAX_DAYS then
      return invalid("days must be a number of days from 0 to " .. M.MAX_DAYS .. ", got " .. num.show(o.days))
    end
  end
  c.price_all = o.price_all == true   -- price every renewable row, not only the due ones (forecast)
  for _, k in ipairs{ "all", "price", "price_all" } do
    if o[k] ~= nil and type(o[k]) ~= "boolean" then return invalid(k .. " must be true or false") end
  end
  if o.period ~= nil then
    c.period = num.int(o.period, 1, 60)
    if not c.period then return invalid("period must be a whole number of months from 1 to 60, got " .. num.show(o.period)) end
  end
  return c
end

local function error_of(cloud, err)
  return { cloud = cloud, code = type(err) == "table" and err.code or "Error",
           message = errors.text(type(err) == "table" and err.message or err),
           request_id = type(err) == "table" and err.request_id or nil }
end

-- One cloud's list -> rows, or nil, err. totals counts the malformed and duplicates.
-- c.ids: only these ids (the list's own id filter, 100 a request).
local function read(client, codes, now, c, totals)
  local l = LIST[client.cloud]
  local items = {}
  for i = 1, c.ids and #c.ids or 1, 100 do
    local q = { MaxResults = 100 }
    if c.ids then q[l.ids] = { (table.unpack or unpack)(c.ids, i, math.min(i + 99, #c.ids)) } end
    local got, err = pages.all(client[l.service]:pages(l.action, q), "InstanceList")
    if not got then return nil, err end
    for _, x in ipairs(got) do items[#items + 1] = x end
  end
  local rows, seen = {}, {}
  local matchers = products.names(client.cloud, "billing_match")   -- once, not per row
  for _, x in ipairs(items) do
    local e = type(x) == "table" and l.entry(x) or nil
    local id = e and text(e.id)
    if not id then
      totals.malformed = totals.malformed + 1
    elseif seen[id] then
      totals.duplicates = totals.duplicates + 1
    else
      seen[id] = true
      local code = text(e.code)
      local pname = code and (codes[client.cloud][code] or matched(matchers, code, e.product_name)
        or codes[client.cloud][ANY])
      local p = pname and products.get(pname)
      local region = region_of(e.region)
      local expires = e.expires
      local r = { cloud = client.cloud, id = id, name = text(e.name, true), product_code = code,
        sub_product_code = text(e.sub), product_name = text(e.product_name, true), region = region,
        expires_at = expires, expires = expires and dates.format(expires) or nil,
        expiry_as_sent = not expires and text(e.raw_expiry, true) or nil,
        days_left = expires and math.floor((expires - now) / DAY) or nil,
        renew_flag = text(e.flag), status = text(e.status) }
      if type(e.flag) == "string" then r.auto_renew = AUTO[e.flag] end   -- nil: an unknown flag
      if r.days_left and math.tointeger then r.days_left = math.tointeger(r.days_left) end
      r.due = expires == nil or expires <= now + c.days * DAY
      -- renewable here: a product module renews it and the id has its shape; the
      -- row its inquiry takes may still be missing something (a region: price_note)
      if p and (not p.id_pattern or id:find(p.id_pattern)) then
        -- product: the module's name; a route for any code (volc_billing) leaves the
        -- row's own product_code to name it (r.renew_as says which module renews it)
        r.product = not (p.any_billing_code or p.billing_match) and pname or nil
        r.renew_as, r.route, r.renewable, r._p = pname, p.route, true, p
        r._row, r._row_err = p.row(p.billing_row and p.billing_row(id, region, client, code, text(e.sub)) or id, 1, client)
      else
        r.renewable, r.route = false, "console"
      end
      r.attention = r.due and r.auto_renew ~= true and not r.renewable
      if r.expires == nil then totals.unknown_expiry = totals.unknown_expiry + 1 end
      rows[#rows + 1] = r
    end
  end
  return rows
end

-- Price the due (every: all) renewable rows of one client, batched per product and region.
local function price(client, rows, period, every)
  local groups, order = {}, {}
  for _, r in ipairs(rows) do
    if (r.due or every) and r._p then
      local p = r._p
      local region = r.region or (client.options and client.options.region)
      if p.caller_priced then
        r.price_note = "caller-priced: " .. p.name .. " has no price inquiry"
      elseif not region and (p.regional or not r._row) then
        r.price_note = "not priced: the list names no region and the client has none"
      elseif not r._row then
        r.price_note = "not priced: " .. tostring(r._row_err)
        r.price_note = "not priced: the list names no region and the client has none"
      elseif not p.periods[period] then
        r.price_note = string.format("%s is not renewed for %d month(s)", p.name, period)
      else
        local key = p.name .. "|" .. (p.regional and (r.region or "") or "")
        if not groups[key] then groups[key] = {}; order[#order + 1] = key end
        local g = groups[key]
        g[#g + 1] = r
      end
    end
  end
  for _, key in ipairs(order) do
    local g = groups[key]
    local p = g[1]._p
    local copts = p.regional and g[1].region and { region = g[1].region } or nil
    for i = 1, #g, p.batch do
      local batch, rws = {}, {}
      for j = i, math.min(i + p.batch - 1, #g) do
        batch[#batch + 1] = g[j]
        rws[#rws + 1] = g[j]._row
      end
      local ok, quotes, err = pcall(p.inquire, client, rws, period, nil, copts)
      if not ok then quotes, err = nil, errors.client("Internal", "inquiry raised: " .. tostring(quotes)) end
      for _, r in ipairs(batch) do
        local qt = quotes and quotes[r.id]
        if qt and qt.cents then
          r.price_cents, r.price, r.currency = qt.cents, money.format(qt.cents), text(qt.currency)
        else
          local e = (qt and qt.error) or err or errors.client("BadResponse", "the inquiry named no price for " .. r.id)
          r.price_error = { code = e.code, message = errors.text(e.message), request_id = e.request_id }
        end
      end
    end
  end
end

-- o = { clients = { tc, volc }, days = 30, all = false, price = true, period = 1 }.
-- Returns { rows, totals, errors, days, period, generated } or nil, err (bad input).
-- A cloud whose list fails is in report.errors (code, message, RequestId); the
-- other clouds are still listed.
function M.list(o)
  local c, cerr = check(o)
  if not c then return nil, cerr end
  local now = core.time()
  local codes = by_code()
  local report = { rows = {}, errors = {}, days = c.days, period = c.period, generated = dates.format(now),
    totals = { listed = 0, shown = 0, due = 0, attention = 0, not_due = 0, malformed = 0, duplicates = 0,
               unknown_expiry = 0, priced = 0 } }
  local t = report.totals
  for _, client in ipairs(c.clients) do
    local ok, rows, err = pcall(read, client, codes, now, c, t)
    if not ok then rows, err = nil, errors.client("Internal", "listing raised: " .. tostring(rows)) end
    if not rows then
      report.errors[#report.errors + 1] = error_of(client.cloud, err)
    else
      if c.price then price(client, rows, c.period, c.price_all) end
      for _, r in ipairs(rows) do
        t.listed = t.listed + 1
        if r.due then t.due = t.due + 1 else t.not_due = t.not_due + 1 end
        if r.attention then t.attention = t.attention + 1 end
        if r.price then t.priced = t.priced + 1 end
        r._p, r._row, r._row_err = nil, nil, nil
        if r.due or c.all then report.rows[#report.rows + 1] = r end
      end
    end
  end
  t.shown = #report.rows
  M.sort(report.rows)
  return report
end

function M.sort(rows)
  table.sort(rows, function(a, b)
    if (a.expires_at == nil) ~= (b.expires_at == nil) then return a.expires_at == nil end
    if a.expires_at ~= b.expires_at then return a.expires_at < b.expires_at end
    if a.cloud ~= b.cloud then return a.cloud < b.cloud end
    return a.id < b.id
  end)
end

-- The rows of the given ids (any expiry) from one client's billing list, each
-- priced for period where it can be (opts.price ~= false): { [id] = row }, or
-- nil, err. For cloudrenew.workflow.autorenew; ids are checked by the caller.
function M.lookup(client, ids, opts)
  opts = opts or {}
  local t = { malformed = 0, duplicates = 0, unknown_expiry = 0 }
  local c = { ids = ids, days = M.MAX_DAYS }
  local rows, err = read(client, by_code(), core.time(), c, t)
  if not rows then return nil, err end
  if opts.price ~= false then price(client, rows, opts.period or 1, true) end
  local out = {}
  for _, r in ipairs(rows) do
    r._p, r._row, r._row_err = nil, nil, nil
    out[r.id] = r
  end
  return out
end

return M

-- The CLI's inventory: a JSON file listing, per cloud and product, the
-- resources to renew with their period, price cap and budget. Loading checks
-- its shape; every problem names the file, the entry and the field. Values the
-- workflow owns (periods, amounts, id shapes) are checked again by
-- workflow.validate before anything is sent.
--
--   { "tencent": { "region": "ap-guangzhou",
--                  "cvm": { "period": 1, "max_price": "150", "budget": "2000",
--                           "resources": ["ins-2zvpghhc"] } },
--     "volcengine": { "region": "cn-beijing", "ecs": [ {group}, {group} ] } }
--
-- Keys that start with "_" are comments and ignored.
local json = require("cloudrenew.client.json")
local money = require("cloudrenew.workflow.money")
local num = require("cloudrenew.client.num")
local products = require("cloudrenew.products")

local M = {}

-- Per cloud: the client options an inventory may set (its products are those of
-- cloudrenew.products for that cloud, asked when an inventory is loaded)
-- ("region" may also be set per group; "profile" names a Tencent profile).
local COMMON = { "region", "endpoint", "connect_to", "ca_file", "proxy", "timeout", "connect_timeout",
                 "rate_limit_file",
                 "redis",   -- many hosts (docs/many-hosts.md); checked when the client is made
                 -- credentials without keys (docs/clients.md, Credentials); checked when the client is made
                 "credentials", "role_session_name", "role_name", "duration", "metadata_endpoint",
                 "sts_endpoint", "user_agent" }
M.CLOUDS = {
  tencent = { client_keys = { "profile", "role_arn", (table.unpack or unpack)(COMMON) } },
  volcengine = { client_keys = { "role_trn", (table.unpack or unpack)(COMMON) } },
}
local GROUP_KEYS = { "name", "region", "period", "max_price", "budget", "resources", "prices", "select" }
-- Never in a file that gets copied around, committed and pasted into tickets.
local SECRET_KEYS = { secret_id = 1, secret_key = 1, access_key = 1, access_key_id = 1,
  secret_access_key = 1, session_token = 1, token = 1, password = 1, secretid = 1, secretkey = 1,
  accesskey = 1, accesskeyid = 1, secretaccesskey = 1 }

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

-- The inventory and a teo prices file: regular files of at most MAX_FILE bytes
-- (a FIFO would hang the run, /dev/zero would fill memory).
M.MAX_FILE = 4 * 1024 * 1024
local function read(path)
  local kind, kerr = require("cloudrenew.core").file_kind(path)
  if kind and kind ~= "file" and kind ~= "missing" then
    return nil, "is a " .. (kind == "other" and "device or socket" or kind) .. ", not a regular file"
  end
  if not kind then return nil, kerr end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read(M.MAX_FILE + 1)
  f:close()
  if s and #s > M.MAX_FILE then return nil, "is larger than " .. M.MAX_FILE .. " bytes" end
  return s or ""
end

-- cjson says "at character N": say line and column as editors do.
local function where(text, msg)
  local n = tonumber(msg:match("at character (%d+)"))
  if not n then return msg end
  local line, col = 1, n
  for nl in text:sub(1, n - 1):gmatch("()\n") do line, col = line + 1, n - nl end
  return msg:gsub("at character %d+", "at line " .. line .. ", column " .. col)
end

local function is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function check_keys(t, allowed, fail)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if SECRET_KEYS[k:lower()] then
      return fail(k, "credentials do not belong in an inventory: set them in the environment"
        .. " (TENCENTCLOUD_SECRET_ID/KEY, VOLCENGINE_ACCESS_KEY/SECRET_KEY) or a profile file")
    end
    if not allowed[k] and k:sub(1, 1) ~= "_" then
      local names = {}
      for a in pairs(allowed) do names[#names + 1] = a end
      table.sort(names)
      return fail(k, "unknown key (expected one of: " .. table.concat(names, ", ") .. ")")
    end
  end
  return true
end

local function check_client(c, entry, fail)
  for _, k in ipairs({ "region", "profile", "connect_to", "ca_file", "proxy", "rate_limit_file" }) do
    if c[k] ~= nil and (type(c[k]) ~= "string" or c[k] == "") then
      return fail(entry .. "." .. k, "must be a non-empty string")
    end
  end
  for _, k in ipairs({ "timeout", "connect_timeout" }) do
    if c[k] ~= nil and (not num.finite(c[k]) or c[k] <= 0) then
      return fail(entry .. "." .. k, "must be a positive number of seconds, got " .. num.show(c[k]))
    end
  end
  if c.endpoint ~= nil and type(c.endpoint) ~= "string" then
    return fail(entry .. ".endpoint", "must be a URL string")
  end
  local ru = type(c.redis) == "table" and c.redis.url or c.redis
  if type(ru) == "string" and ru:find("@", 1, true) then
    return fail(entry .. ".redis", "a password does not belong in an inventory: set CLOUDRENEW_REDIS_PASSWORD")
  end
  return true
end

-- prices: an object { id = amount } or the path of a JSON file holding one
-- (relative to the inventory's directory).
local function load_prices(v, dir, entry, fail, id_name)
  if type(v) == "string" then
    local path = v:sub(1, 1) == "/" and v or dir .. v
    local text, err = read(path)
    if not text then return fail(entry, "cannot read " .. path .. ": " .. tostring(err)) end
    local t, jerr = json.decode(text)
    if not t then return fail(entry, path .. " is not JSON: " .. where(text, jerr)) end
    v = t
  end
  if type(v) ~= "table" or (next(v) ~= nil and is_list(v)) then
    return fail(entry, "must be an object { \"<" .. (id_name or "id") .. ">\": amount } or the path of a JSON file holding one")
  end
  for id, amount in pairs(v) do
    if not money.cents(amount, "up") then
      return fail(entry .. "." .. tostring(id), string.format("must be an amount from 0 to %d"
        .. " (number or decimal string), got %s", money.MAX, num.show(amount)))
    end
  end
  return v
end

local function group(g, ctx, entry, fail)
  if type(g) ~= "table" or is_list(g) then
    return fail(entry, "must be an object with period, resources and optional max_price, budget")
  end
  local ok, e = check_keys(g, set(GROUP_KEYS), function(k, m) return fail(entry .. "." .. k, m) end)
  if not ok then return nil, e end
  if g.name ~= nil and (type(g.name) ~= "string" or g.name == "") then
    return fail(entry .. ".name", "must be a non-empty string")
  end
  if g.region ~= nil and (type(g.region) ~= "string" or g.region == "") then
    return fail(entry .. ".region", "must be a non-empty string")
  end
  if g.period == nil then return fail(entry .. ".period", "is required (months)") end
  local p = products.get(ctx.product)
  if not num.integral(g.period) or not p.periods[num.canon(g.period)] then
    return fail(entry .. ".period", "must be a whole number of months that " .. ctx.product
      .. " accepts, got " .. num.show(g.period))
  end
  for _, k in ipairs({ "max_price", "budget" }) do
    local v = g[k]
    if v ~= nil then
      if not money.cents(v, "down") then
        return fail(entry .. "." .. k, string.format("must be an amount from 0 to %d (number or decimal"
          .. " string), got %s", money.MAX, num.show(v)))
      end
    end
  end
  -- A selector (cloudrenew.workflow.discover) finds resources instead of, or besides, the list.
  if g.select ~= nil then
    local sok, serr = require("cloudrenew.workflow.discover").check(g.select, ctx.product, g.region or ctx.region)
    if not sok then return fail(entry .. ".select", (serr.message:gsub("^renew_if_under_budget: select: ", ""))) end
  end
  if (g.select == nil or g.resources ~= nil) and (not is_list(g.resources) or #g.resources == 0) then
    return fail(entry .. ".resources", "must be a non-empty list of resource ids (or give a select)")
  end
  local prices
  if p.caller_priced then
    if g.prices == nil then
      return fail(entry .. ".prices", "is required: " .. ctx.product .. " has no price inquiry, list each "
        .. (p.noun or "resource") .. "'s renewal price")
    end
    local perr
    prices, perr = load_prices(g.prices, ctx.dir, entry .. ".prices", fail, p.id_name)
    if not prices then return nil, perr end
  elseif g.prices ~= nil then
    return fail(entry .. ".prices", "is for " .. products.say(products.names(nil, "caller_priced"), "and")
      .. " only: " .. ctx.product .. " prices come from the cloud's inquiry")
  end
  return {
    name = g.name or entry, entry = entry, cloud = ctx.cloud, product = ctx.product,
    region = g.region or ctx.region, period = num.canon(g.period), max_price = g.max_price, budget = g.budget,
    resources = g.resources or {}, price = prices, select = g.select,
  }
end

-- Parse and check an inventory file. Returns { path, clouds = { [cloud] =
-- client options }, groups = { ... } } or nil, "FILE: entry.field: problem".
-- opts.clouds_only: a file with client options and no groups is fine (`expiring`).
function M.load(path, opts)
  local function fail(field, msg)
    return nil, string.format("%s: %s%s", path, field and (field .. ": ") or "", msg)
  end
  local text, rerr = read(path)
  if not text then return fail(nil, "cannot read: " .. tostring(rerr)) end
  local doc, jerr = json.decode(text)
  if doc == nil then return fail(nil, "not valid JSON: " .. where(text, tostring(jerr))) end
  if type(doc) ~= "table" or (is_list(doc) and next(doc) ~= nil) then
    return fail(nil, "must be a JSON object with \"tencent\" and/or \"volcengine\"")
  end
  local ok, e = check_keys(doc, set({ "tencent", "volcengine" }), fail)
  if not ok then return nil, e end
  local inv = { path = path, clouds = {}, groups = {} }
  local dir = path:match("^(.*/)") or ""
  local seen = {}
  for _, cloud in ipairs({ "tencent", "volcengine" }) do
    local c = doc[cloud]
    if c ~= nil then
      if type(c) ~= "table" or (is_list(c) and next(c) ~= nil) then return fail(cloud, "must be an object") end
      local keys = M.CLOUDS[cloud].client_keys
      local allowed = set(keys)
      for _, p in ipairs(products.names(cloud)) do allowed[p] = true end
      allowed.autorenew = true   -- `cloudrenew autorenew`: [{ "id", "auto_renew", "period" }]
      ok, e = check_keys(c, allowed, function(k, m) return fail(cloud .. "." .. k, m) end)
      if not ok then return nil, e end
      ok, e = check_client(c, cloud, fail)
      if not ok then return nil, e end
      local opts = {}
      for _, k in ipairs(keys) do opts[k] = num.canon(c[k]) end
      -- File paths in the inventory are relative to the inventory, like prices.
      for _, k in ipairs({ "ca_file", "rate_limit_file" }) do
        if opts[k] and opts[k]:sub(1, 1) ~= "/" then opts[k] = dir .. opts[k] end
      end
      inv.clouds[cloud] = opts
      if c.autorenew ~= nil then
        if not is_list(c.autorenew) or #c.autorenew == 0 then
          return fail(cloud .. ".autorenew", "must be a list of { \"id\": ..., \"auto_renew\": true|false, \"period\": months }")
        end
        inv.autorenew = inv.autorenew or {}
        for i, x in ipairs(c.autorenew) do
          local entry = string.format("%s.autorenew[%d]", cloud, i)
          if type(x) ~= "table" then return fail(entry, "must be an object") end
          ok, e = check_keys(x, set({ "id", "auto_renew", "period" }), function(k, m) return fail(entry .. "." .. k, m) end)
          if not ok then return nil, e end
          -- values are checked by cloudrenew.workflow.autorenew before anything is sent
          inv.autorenew[#inv.autorenew + 1] = { cloud = cloud, id = x.id, auto_renew = x.auto_renew,
                                                period = num.canon(x.period), entry = entry }
        end
      end
      for _, product in ipairs(products.names(cloud)) do
        local v = c[product]
        if v ~= nil then
          local list = is_list(v) and v or { v }
          if #list == 0 then return fail(cloud .. "." .. product, "lists no groups") end
          for i, g in ipairs(list) do
            local entry = cloud .. "." .. product .. (is_list(v) and ("[" .. i .. "]") or "")
            local grp, gerr = group(g, { cloud = cloud, product = product, region = c.region, dir = dir },
              entry, fail)
            if not grp then return nil, gerr end
            -- The same resource in two groups would be renewed twice.
            for j, r in ipairs(grp.resources) do
              local id = products.id_of(product, r)
              if type(id) == "string" then
                local key = cloud .. "." .. product .. "|" .. id
                if seen[key] then
                  return fail(entry .. ".resources[" .. j .. "]", id .. " is already listed in " .. seen[key])
                end
                seen[key] = entry .. ".resources[" .. j .. "]"
              end
            end
            inv.groups[#inv.groups + 1] = grp
          end
        end
      end
    end
  end
  if #inv.groups == 0 and not (opts and opts.clouds_only) then
    return fail(nil, "lists no resources: add e.g. \"tencent\": {\"cvm\": {\"period\": 1, \"resources\": [...]}}")
  end
  return inv
end


-- The clients of the clouds want(cloud) picks, each from its options in `clouds`
-- (an inventory's, or none), tencent first. err: --verbose's stream (nil: quiet);
-- hook: another on_response (cloudrenew metrics' collector). A list, or nil and
-- a message (the clients made so far closed).
function M.clients(clouds, want, err, hook)
  local cloudrenew = require("cloudrenew")
  local list = {}
  for _, cloud in ipairs{ "tencent", "volcengine" } do
    if want(cloud) then
      local o = {}
      for k, v in pairs(clouds and clouds[cloud] or {}) do o[k] = v end
      if err or hook then
        o.on_response = function(info)
          if err then err:write(require("cloudrenew.client.observe").line(info), "\n") end
          if hook then hook(info) end
        end
      end
      local c, cerr = cloudrenew[cloud](o)
      if not c then
        for _, x in ipairs(list) do x:close() end
        return nil, string.format("%s: %s: %s", cloud, tostring(cerr.code), tostring(cerr.message))
      end
      list[#list + 1] = c
    end
  end
  return list
end

return M

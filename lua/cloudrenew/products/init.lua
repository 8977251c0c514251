-- The products the workflow renews, one module each behind one interface. The
-- workflow, discovery, confirmation, settling and the CLI use only this interface
-- and never branch on a product's name; adding a product is one module here plus
-- its catalogue rows and fake behaviour.
--
-- A product module (P) holds:
--   title, cloud, id_pattern/id_example (or example: a resource as callers give it), periods (a set of months), batch (ids an
--   inquiry takes), row(r, i, client) -> { id =, row = } or nil, message
--   inquire(c, rows, period, price, copts) -> { [id] = { cents, currency, error,
--     request_id } } or nil, err;  caller_priced (no inquiry: price comes from the
--     caller; id_name, noun: what the caller's price list is keyed by)
--   renew(c, row, period, token) -> res, err, order;  token (a ClientToken is chosen
--     and logged first, and re-sent with the same parameters to settle a lost answer)
--   route ("<service> <action>" that renews it), price_source, confirmation, spec (text:
--     README's product table is checked against them), lifecycle (a warning)
--   read = { batch, action, call(c, ids), field/key/parse(x) or one(answer, id) }:
--     expiry, flag, latest operation (optional: without one, nothing is confirmed)
--   verdict(st, before, rid) (optional; default: the expiry moved), tracks_request
--     (a confirmation can follow the renewal's request id alone)
--   auto_renew(c, id) (optional: the flag when read has none)
--   list(c, sel, copts, now) -> entries (discovery; optional), select_region,
--     sources (extra select.source values), check_select(sel, s) -> message or nil,
--     account_wide(sel) (its list spans every region)
--   billing_code, regional, billing_row(id, region, client, code, sub) (issue 23's billing
--     lists), billing_match(code, product_name) (renews entries beyond its one code:
--     tc_billing), any_billing_code (renews every code of its cloud no other module has)
--   id_of(r) (a resource given as a table: its id), record(it) -> extra intent fields,
--     from_record(intent) -> the row again (settling re-sends with the same parameters)
-- Prices come back in integer cents (cloudrenew.workflow.money).
local REG = {}
-- The order the products are named in messages and the CLI's inventory.
local NAMES = { "cvm", "hspro", "teo", "cbs", "cdb", "crs", "lighthouse", "tc_billing", "ecs", "volc_billing" }
for _, name in ipairs(NAMES) do
  local p = require("cloudrenew.products." .. name)
  p.name = name
  REG[name] = p
end

local M = {}

-- The module of a product name, or nil (never a helper of this table).
function M.get(name)
  if type(name) ~= "string" then return nil end
  return rawget(REG, name)
end

-- The product names in order; those of one cloud; those whose module has field k.
function M.names(cloud, k)
  local out = {}
  for _, name in ipairs(NAMES) do
    local p = REG[name]
    if (cloud == nil or p.cloud == cloud) and (k == nil or p[k]) then out[#out + 1] = name end
  end
  return out
end

-- { "a", "b", "c" } -> `"a", "b" or "c"` (quote: with quotes) / "a, b and c".
function M.say(list, word, quote)
  local q = {}
  for i, v in ipairs(list) do q[i] = quote and ('"' .. v .. '"') or v end
  if #q <= 1 then return q[1] or "" end
  return table.concat(q, ", ", 1, #q - 1) .. " " .. (word or "or") .. " " .. q[#q]
end

-- Add a product at run time (a module of the interface above, under a new name):
-- the workflow, discovery, confirmation, settling and the inventory take it as
-- they take the built-in ones. true, or nil and a message.
local NEED = { "cloud", "periods", "batch", "row", "inquire", "renew", "route" }
function M.register(name, p)
  if type(name) ~= "string" or not name:find("^[%a][%w_]*$") or rawget(REG, name) or M[name] then
    return nil, "product name must be a new identifier, got " .. tostring(name)
  end
  if type(p) ~= "table" then return nil, "a product is a module table" end
  for _, k in ipairs(NEED) do
    if p[k] == nil then return nil, "product " .. name .. " has no " .. k end
  end
  p.name = name
  REG[name] = p
  NAMES[#NAMES + 1] = name
  return true
end

-- The id of resource r of a product: r itself when a string, else its module's
-- id_of(r) (hspro: the Quuid; volc_billing: the InstanceID), or nil.
function M.id_of(name, r)
  if type(r) == "string" then return r end
  local p = M.get(name)
  return p and p.id_of and p.id_of(r) or nil
end

-- A period set as text: runs of months joined ("1-12, 24, 36").
function M.periods_text(p)
  local list = {}
  for n in pairs(p.periods) do list[#list + 1] = n end
  table.sort(list)
  local out, i = {}, 1
  while i <= #list do
    local j = i
    while j < #list and list[j + 1] == list[j] + 1 do j = j + 1 end
    out[#out + 1] = j > i + 1 and (list[i] .. "-" .. list[j]) or tostring(list[i])
    if j == i + 1 then out[#out + 1] = tostring(list[j]) end
    i = j + 1
  end
  return table.concat(out, ", ")
end

-- README's product table, generated from the modules (spec/products_spec.lua
-- checks README holds exactly these lines).
M.CLOUD_TITLE = { tencent = "Tencent Cloud", volcengine = "Volcengine" }
function M.table()
  local lines = { "| product | cloud | route (renewal) | price source | periods (months) | confirmation | spec |",
                  "|---|---|---|---|---|---|---|" }
  for _, name in ipairs(NAMES) do
    local p = REG[name]
    lines[#lines + 1] = string.format("| `%s` (%s) | %s | %s | %s | %s | %s | %s |", name, p.title or name,
      M.CLOUD_TITLE[p.cloud] or p.cloud, p.route, p.price_source or "-", M.periods_text(p), p.confirmation or "-",
      p.spec and ("[" .. p.spec:match("[^/]+$") .. "](" .. p.spec .. ")") or "-")
  end
  return lines
end

-- products.cvm, ... as before; the helpers above through the metatable, so
-- pairs(products) still walks the products only.
return setmetatable(REG, { __index = M })

-- The vendors' official definitions (official/extract.json, issue 20) against the
-- catalogue and the code.
--
-- Static half: every catalogue row against its action's definition: service,
-- version, host, method and body encoding (of the request the real adapter builds),
-- each parameter (exists, same case, same type, required where official,
-- enumerations and bounds no wider than official), official required parameters the
-- row does not accept, rules between parameters, paging fields, stated rates,
-- lifecycle.
--
-- Dynamic half: products, discover, the workflow (confirm, settle) and roles run
-- through real clients whose transport is a recorder: it identifies each request
-- on the wire (action, version, service), checks it against the definition
-- (method, encoding, host, parameters) and answers with a response synthesised
-- from the action's official output schema (values of the right types, arrays of
-- one element, ids echoed from the request, dates near now). The answer the
-- adapter parses is handed to the code wrapped in proxies that record every key
-- the code reads at every path, misses included; each read must exist in the
-- official output at that path.
--
-- Every disagreement the checker finds is either in KNOWN (reported pending, to
-- be fixed by issue 20 part 4) or fails the spec; a KNOWN entry that no longer
-- occurs fails too, so a fix removes its entry.
local KNOWN = {
  -- every disagreement found so far is fixed (issue 20 part 4); a new one fails
  -- the spec until it is fixed or, where the definition is ambiguous, listed here
  -- with the assumption docs/ states.
}

local cjson = require("cjson")
local catalog = require("cloudrenew.client.catalog")
local validate = require("cloudrenew.client.validate")
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local dates = require("cloudrenew.workflow.dates")

local EXTRACT = "official/extract.json"
local DAY = 86400

-- ---- the extract -------------------------------------------------------------

local function clean_null(v)
  if v == cjson.null then return nil end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = clean_null(x) end
  end
  return v
end

local function load_extract(path)
  local f = assert(io.open(path or EXTRACT, "rb"), "no " .. (path or EXTRACT) .. ": run scripts/official-extract.py")
  local text = f:read("*a")
  f:close()
  return clean_null(cjson.new().decode(text))
end

local EX = load_extract()

local function id_of(cloud, service, version, action)
  return cloud .. "/" .. service .. "/" .. version .. "/" .. action
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t or {}) do out[#out + 1] = k end
  table.sort(out, function(a, b) return tostring(a) < tostring(b) end)
  return out
end

local function deep_copy(t, seen)
  if type(t) ~= "table" then return t end
  seen = seen or {}
  if seen[t] then return seen[t] end
  local c = {}
  seen[t] = c
  for k, v in pairs(t) do c[k] = deep_copy(v, seen) end
  return c
end

local function contains(list, v)
  for _, x in ipairs(list or {}) do if x == v then return true end end
  return false
end

-- Findings: key -> message. The key is stable (KNOWN is keyed by it).
local function add(findings, key, msg)
  if not findings[key] then findings[key] = msg end
end

-- ---- the static half: a catalogue against the extract --------------------------

local C = {}

-- A value the catalogue's rule accepts (to ask the catalogue's own validation
-- whether it refuses what the definition refuses), or nil.
local function sample(rule, depth)
  depth = depth or 0
  if depth > 8 then return nil end
  if rule.enum then return rule.enum[1] end
  local t = rule.type
  if t == "string" then
    local cands = { rule.example, "2026-01-01T00:00:00Z", "rec-sample" }
    for _, s in ipairs(cands) do
      if type(s) == "string" and validate.check(rule, s, "x") == nil then return s end
    end
    if rule.min then
      local s = string.rep("x", rule.min)
      if validate.check(rule, s, "x") == nil then return s end
    end
    return nil
  elseif t == "integer" or t == "number" then
    local v = rule.min or 1
    if rule.max and v > rule.max then v = rule.max end
    return v
  elseif t == "boolean" then
    return false
  elseif t == "array" then
    local n = math.max(rule.min or 1, 1)
    local out = {}
    for i = 1, n do
      local x = rule.items and sample(rule.items, depth + 1) or "x"
      if x == nil then return nil end
      if rule.unique and type(x) == "string" then x = x .. (i > 1 and tostring(i) or "") end
      out[i] = x
    end
    return out
  elseif t == "object" then
    local out = {}
    for _, name in ipairs(sorted_keys(rule.fields)) do
      local sub = rule.fields[name]
      if sub.required then
        local x = sample(sub, depth + 1)
        if x == nil then return nil end
        out[name] = x
      end
    end
    return out
  end
end
C.sample = sample

-- The largest value a catalogue rule lets through (enum or max), or nil.
local function rule_max(rule)
  if rule.enum then
    local m
    for _, v in ipairs(rule.enum) do
      if type(v) == "number" and (m == nil or v > m) then m = v end
    end
    if m and rule.max then return math.min(m, rule.max) end
    return m or rule.max
  end
  return rule.max
end

-- One catalogue rule against one official member.
local function compare(findings, id, path, rule, off)
  if rule.type ~= off.type then   -- the catalogue's rule types are the extract's JSON types
    add(findings, "param-type " .. id .. " " .. path,
      string.format("%s %s: catalogue type %s, official %s", id, path, tostring(rule.type), tostring(off.type)))
    return
  end
  if off.required and not rule.required then
    add(findings, "param-required " .. id .. " " .. path,
      string.format("%s %s: required officially, optional in the catalogue", id, path))
  end
  if off.enum then
    if not rule.enum then
      add(findings, "param-enum " .. id .. " " .. path,
        string.format("%s %s: officially one of %s; the catalogue takes any value", id, path, table.concat(off.enum, ", ")))
    else
      for _, v in ipairs(rule.enum) do
        if not contains(off.enum, v) then
          add(findings, "param-enum " .. id .. " " .. path,
            string.format("%s %s: the catalogue accepts %s, which the definition does not list (%s)", id, path,
              tostring(v), table.concat(off.enum, ", ")))
        end
      end
    end
  end
  if off.type == "integer" or off.type == "number" then
    local m = rule_max(rule)
    if off.max and (m == nil or m > off.max) then
      add(findings, "param-bound " .. id .. " " .. path,
        string.format("%s %s: officially at most %s; the catalogue allows %s", id, path, off.max, tostring(m or "any")))
    end
    if off.min and (rule.min == nil or rule.min < off.min) and not rule.enum then
      add(findings, "param-bound " .. id .. " " .. path,
        string.format("%s %s: officially at least %s; the catalogue allows %s", id, path, off.min, tostring(rule.min or "any")))
    end
  elseif off.type == "array" then
    if off.max_items and (rule.max == nil or rule.max > off.max_items) then
      add(findings, "param-bound " .. id .. " " .. path,
        string.format("%s %s: officially at most %d items; the catalogue allows %s", id, path, off.max_items,
          tostring(rule.max or "any")))
    end
    if off.items and rule.items then
      compare(findings, id, path .. "[]", rule.items, off.items)
    end
  elseif off.type == "string" then
    if off.max_length and (rule.max == nil or rule.max > off.max_length) then
      add(findings, "param-bound " .. id .. " " .. path,
        string.format("%s %s: officially at most %d characters; the catalogue allows %s", id, path, off.max_length,
          tostring(rule.max or "any")))
    end
    if off.min_length and (rule.min or 0) < off.min_length then
      add(findings, "param-bound " .. id .. " " .. path,
        string.format("%s %s: officially at least %d characters; the catalogue allows %d", id, path, off.min_length,
          rule.min or 0))
    end
  elseif off.type == "object" then
    C.compare_fields(findings, id, path .. ".", rule.fields or {}, off.fields or {})
  end
end

function C.compare_fields(findings, id, prefix, rules, offs)
  for _, name in ipairs(sorted_keys(rules)) do
    local off = offs[name]
    local path = prefix .. name
    if not off then
      local case
      for oname in pairs(offs) do
        if oname:lower() == name:lower() then case = oname end
      end
      if case then
        add(findings, "param-case " .. id .. " " .. path,
          string.format("%s %s: the definition spells it %s", id, path, prefix .. case))
      else
        add(findings, "param-unknown " .. id .. " " .. path,
          string.format("%s %s: no such parameter in the definition", id, path))
      end
    else
      compare(findings, id, path, rules[name], off)
    end
  end
  for _, name in ipairs(sorted_keys(offs)) do
    if offs[name].required and not rules[name] then
      add(findings, "param-missing " .. id .. " " .. prefix .. name,
        string.format("%s %s%s: required officially, and the catalogue does not accept it", id, prefix, name))
    end
  end
end

-- The request the real adapter builds for a row (method, encoding, host).
local BUILD_CLIENTS = {}
local function build_client(cloud)
  if not BUILD_CLIENTS[cloud] then
    local mod = require("cloudrenew.client." .. cloud)
    local c = assert(mod.new(cloud == "tencent"
      and { secret_id = "AKIDofficialspec", secret_key = "official-spec-key", region = "ap-guangzhou" }
      or { access_key = "AKLTofficialspec", secret_key = "official-spec-key", region = "cn-beijing" }))
    BUILD_CLIENTS[cloud] = c
  end
  return BUILD_CLIENTS[cloud]
end

local function header(headers, name)
  for _, h in ipairs(headers or {}) do
    if h[1]:lower() == name:lower() then return h[2] end
  end
end

-- req -> "json" | "form" | "query"
local function encoding_of(req)
  local ctype = (header(req.headers, "Content-Type") or ""):lower()
  if req.method == "GET" then return "query" end
  if ctype:find("application/json", 1, true) then return "json" end
  if ctype:find("x-www-form-urlencoded", 1, true) then return "form" end
  return "other:" .. ctype
end
C.encoding_of = encoding_of

local function host_of(url)
  return url:match("^%a+://([^/?]+)")
end

local function host_ok(host, hosts)
  for _, h in ipairs(hosts or {}) do
    local pat = "^" .. h:gsub("[%.%-]", "%%%0"):gsub("{region}", "[%%w%%-]+") .. "$"
    if host:find(pat) then return true end
  end
  return false
end

local function prefix_of(cloud) return cloud == "tencent" and "Response." or "Result." end

function C.check_rows(rows, ex)
  local findings = {}
  for _, row in ipairs(rows) do
    local id = id_of(row.cloud, row.service, row.version, row.action)
    local e = ex.actions[id]
    if not e or not e.defined then
      add(findings, "undefined " .. id, id .. ": no such action in the official definitions")
    else
      if e.version ~= row.version then
        add(findings, "version " .. id, string.format("%s: official version %s", id, tostring(e.version)))
      end
      -- what the real adapter sends for this row
      local c = build_client(row.cloud)
      local req, berr = c.adapter.build(c, row, {}, {}, { id = "AKIDofficialspec", key = "official-spec-key" })
      if not req then
        add(findings, "build " .. id, id .. ": the adapter builds no request: " .. tostring(berr and berr.message))
      else
        if req.method ~= e.method then
          add(findings, "method " .. id, string.format("%s: sent as %s, official %s", id, req.method, tostring(e.method)))
        end
        local enc = encoding_of(req)
        if enc ~= e.encoding then
          add(findings, "encoding " .. id, string.format("%s: body %s, official %s", id, enc, tostring(e.encoding)))
        end
        local host = host_of(req.url)
        if not host_ok(host, e.hosts) then
          add(findings, "host " .. id, string.format("%s: sent to %s, official %s", id, host, table.concat(e.hosts or {}, " | ")))
        end
      end
      C.compare_fields(findings, id, "", row.params or {}, e.input.fields)
      -- rules between parameters, asked of the catalogue's own validation
      local base = sample({ type = "object", fields = row.params or {} })
      local rules = e.input.rules or {}
      for _, pair in ipairs(rules.exclusive or {}) do
        local a, b = row.params and row.params[pair[1]], row.params and row.params[pair[2]]
        if a and b and base then
          local p = deep_copy(base)
          p[pair[1]], p[pair[2]] = sample(a), sample(b)
          if p[pair[1]] ~= nil and p[pair[2]] ~= nil and validate.params(row.params, p, row) == nil then
            add(findings, "exclusive " .. id .. " " .. pair[1] .. "+" .. pair[2],
              string.format("%s: the definition refuses %s with %s; the catalogue accepts both", id, pair[1], pair[2]))
          end
        end
      end
      for _, pair in ipairs(rules.one_of_required or {}) do
        if base then
          local p = deep_copy(base)
          p[pair[1]], p[pair[2]] = nil, nil
          if validate.params(row.params or {}, p, row) == nil then
            add(findings, "one-of " .. id .. " " .. pair[1] .. "|" .. pair[2],
              string.format("%s: one of %s, %s is required; the catalogue accepts neither", id, pair[1], pair[2]))
          end
        end
      end
      if row.token and not e.input.fields[row.token] then
        add(findings, "token " .. id, string.format("%s: idempotency token %s is no parameter", id, row.token))
      end
      -- paging fields
      local pg = row.pages
      if pg then
        local pre = prefix_of(row.cloud)
        local function need_in(name, typ)
          local f = name and e.input.fields[name]
          if not f or f.type ~= typ then
            add(findings, "paging " .. id .. " " .. tostring(name),
              string.format("%s: paging parameter %s is not an official %s parameter", id, tostring(name), typ))
          end
          return f
        end
        local function need_out(name, typ)
          if not name or e.output[pre .. name] ~= typ then
            add(findings, "paging " .. id .. " " .. pre .. tostring(name),
              string.format("%s: paging field %s%s is not an official %s", id, pre, tostring(name), typ))
          end
        end
        local lim = need_in(pg.limit, "integer")
        if lim and lim.max and pg.max and pg.max > lim.max then
          add(findings, "paging " .. id .. " max", string.format("%s: pages of %d, officially at most %d", id, pg.max, lim.max))
        end
        need_out(pg.list, "array")
        if pg.style == "offset" then
          need_in(pg.offset, "integer")
          need_out(pg.total or "TotalCount", "integer")
        else
          need_in(pg.token, "string")
          need_out(pg.token, "string")
        end
      end
      if e.rate and row.rate and row.rate > e.rate then
        add(findings, "rate " .. id, string.format("%s: paced at %s/s, documented %s/s", id, row.rate, e.rate))
      end
      -- lifecycle: an action the definitions record as deleted must say so
      for _, ev in ipairs(e.lifecycle and e.lifecycle.events or {}) do
        if ev.event == "deleted" and row.lifecycle == nil then
          add(findings, "lifecycle " .. id, string.format("%s: deleted from %s %s on %s (%s); the row states no lifecycle",
            id, ev.service, ev.version, ev.date, e.lifecycle.changelog and e.lifecycle.changelog.path or "changelog"))
        end
      end
    end
  end
  return findings
end

-- ---- the dynamic half: a recording transport and answer builder -----------------

local H = {}

-- Schema tree of an action's output paths: node = { type, fields = {}, item = node }.
local TREES = {}
local function tree_of(e)
  local key = id_of(e.cloud, e.service, e.version, e.action)
  if TREES[key] then return TREES[key] end
  local root = { type = "object", fields = {} }
  for _, path in ipairs(sorted_keys(e.output)) do
    local node = root
    for seg in path:gmatch("[^%.]+") do
      local isarr = seg:sub(-2) == "[]"
      local name = isarr and seg:sub(1, -3) or seg
      node.fields = node.fields or {}
      node.fields[name] = node.fields[name] or { type = "object" }
      node = node.fields[name]
      if isarr then
        node.item = node.item or { type = "object" }
        node = node.item
      end
    end
    node.type = e.output[path]
  end
  TREES[key] = root
  return root
end

-- Values the code needs to walk its paths (a prepaid, renewable resource), each
-- used only when the definition lists it (or lists no enumeration).
local PREFER = {
  tencent = { PayMode = { 1, "PREPAY" }, InstanceChargeType = { "PREPAID" }, Status = { "normal" },
              RenewFlag = { "NOTIFY_AND_MANUAL_RENEW" }, LatestOperationState = { "SUCCESS" },
              MachineType = { "CVM" }, InstanceState = { "RUNNING" }, AutoRenewal = { false },
              -- cdb, redis, cbs (issue 23 part 2)
              PayType = { 0 }, BillingMode = { 1 }, DiskChargeType = { "PREPAID" }, AutoRenew = { 0 },
              AutoRenewFlag = { 0 }, AmountUnit = { "pent" } },
  volcengine = { InstanceChargeType = { "PrePaid" }, RenewType = { "Manually" }, Status = { "RUNNING" },
                 Currency = { "CNY" }, Product = { "ECS" } },
}
local FALLBACK_ID = {
  tencent = { InstanceId = "ins-rec00001", PlanId = "edgeone-rec00001", Quuid = "rec-quuid-00001",
              Uuid = "rec-uuid-00001" },
  volcengine = { InstanceId = "i-rec00001", InstanceID = "i-rec00001" },
}

-- Every string a request carries, by the singular of its name: InstanceIds,
-- InstanceIDList, InstanceIDs -> InstanceId/InstanceID; Filters plan-id -> PlanId.
local function camel(s)
  return (s:gsub("(%w)(%w*)", function(a, b) return a:upper() .. b end):gsub("%-", ""))
end
local function echoes(params)
  local out = {}
  local function walk(name, v)
    if type(v) == "string" then
      if name and out[name] == nil then out[name] = v end
    elseif type(v) == "table" then
      if type(v.Name) == "string" and type(v.Values) == "table" and type(v.Values[1]) == "string" then
        out[camel(v.Name)] = out[camel(v.Name)] or v.Values[1]
      end
      if v[1] ~= nil and name then
        local one = name:gsub("List$", ""):gsub("s$", "")
        if type(v[1]) == "string" and out[one] == nil then out[one] = v[1] end
        for _, x in ipairs(v) do walk(nil, x) end
      else
        for k, x in pairs(v) do if type(k) == "string" then walk(k, x) end end
      end
    end
  end
  walk(nil, params)
  return out
end

local function is_date_name(name)
  return name:find("Time$") or name:find("At$") or name:find("Deadline$") or name:find("Expiration$")
    or name:find("Date$")
end

-- A scalar for an output leaf: path, its official facts, the request's echoes.
local function scalar(ctx, path, name, node)
  local facts = ctx.e.output_facts[path] or {}
  local cloud = ctx.e.cloud
  local t = node.type
  if t == "string" and ctx.echo[name] then return ctx.echo[name] end
  -- a drive's own preference (volc_billing: a Product no other module renews)
  if t == "string" and type((ctx.h.prefer or {})[name]) == "string" then return ctx.h.prefer[name] end
  for _, v in ipairs((PREFER[cloud] or {})[name] or {}) do
    local typ = type(v) == "number" and (math.type and math.type(v) == "float" and "number" or "integer")
      or type(v)
    if (typ == t or (typ == "integer" and t == "number")) and (facts.enum == nil or contains(facts.enum, v)) then
      return v
    end
  end
  if facts.enum then return facts.enum[1] end
  if t == "string" then
    local ex = type(facts.example) == "string" and facts.example or nil
    if facts.format == "datetime_iso" or (ex and ex:find("^%d%d%d%d%-%d%d%-%d%d")) or is_date_name(name) then
      if ctx.mode == "odd" then return "not-a-date" end
      local t0 = math.floor(ctx.now) + 10 * DAY
      if ex and ex:find("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$") then   -- zone-less (cwp: Beijing time)
        return os.date("!%Y-%m-%d %H:%M:%S", t0 + 8 * 3600)
      end
      return dates.format(t0)
    end
    if name:find("Amount$") or name:find("Price$") then return "12.34" end
    if name:find("Token$") then return "" end   -- token paging: an empty token ends the list
    if name == "RequestId" then
      ctx.h.seq = ctx.h.seq + 1
      return string.format("rec-%08d", ctx.h.seq)
    end
    local fb = (FALLBACK_ID[cloud] or {})[name]
    if fb then return fb end
    if ex and #ex <= 64 and not ex:find("%*") then return ex end
    return "rec-" .. name:lower()
  elseif t == "integer" then
    if is_date_name(name) then return math.floor(ctx.now) + 3600 end   -- unix seconds
    if name == "TotalCount" then return 1 end
    return 1
  elseif t == "number" then
    return 12.34
  elseif t == "boolean" then
    return false
  end
  return {}
end

local function synth(ctx, node, path, name)
  if node.type == "array" then
    local item = node.item or { type = "string" }
    return { synth(ctx, item, path .. "[]", name) }
  elseif node.type == "object" then
    if not node.fields then return {} end
    local out = {}
    for k, sub in pairs(node.fields) do
      local p = path == "" and k or (path .. "." .. k)
      if p ~= "ResponseMetadata.Error" then out[k] = synth(ctx, sub, p, k) end
    end
    return out
  end
  return scalar(ctx, path, name, node)
end

-- The whole answer for one request.
function H.answer_for(h, e, params)
  local ctx = { e = e, echo = echoes(params), mode = h.mode, now = core.time(), h = h }
  local data = synth(ctx, tree_of(e), "", "")
  if e.cloud == "volcengine" then
    local m = data.ResponseMetadata or {}
    m.Action, m.Version, m.Service, m.Region = e.action, e.version, e.service, "cn-beijing"
    data.ResponseMetadata = m
  end
  return data
end

-- ---- reading requests off the wire --------------------------------------------

local function unescape(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(x) return string.char(tonumber(x, 16)) end))
end

local function parse_qs(s)
  local out = {}
  for pair in (s or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    out[unescape(k)] = unescape(v)
  end
  return out
end

-- { ["A.1"] = x, ["B.1.Name"] = y } -> { A = { x }, B = { { Name = y } } }
local function unflatten(flat)
  local out = {}
  for _, k in ipairs(sorted_keys(flat)) do
    local node, segs = out, {}
    for seg in k:gmatch("[^%.]+") do segs[#segs + 1] = tonumber(seg) or seg end
    for i = 1, #segs - 1 do
      node[segs[i]] = node[segs[i]] or {}
      node = node[segs[i]]
    end
    node[segs[#segs]] = flat[k]
  end
  return out
end

-- req -> { cloud, service (or nil), action, version, method, encoding, host, params }
function H.read_request(req)
  local host = host_of(req.url)
  local w = { method = req.method, encoding = encoding_of(req), host = host }
  local action = header(req.headers, "X-TC-Action")
  if action then
    w.cloud, w.action, w.version = "tencent", action, header(req.headers, "X-TC-Version")
    w.service = host:match("^([%w%-]+)%.tencentcloudapi%.com$")
    w.params = json.decode(req.body ~= "" and req.body or "{}") or {}
    return w
  end
  local q = parse_qs(req.url:match("%?(.*)$"))
  w.cloud, w.action, w.version = "volcengine", q.Action, q.Version
  q.Action, q.Version = nil, nil
  local auth = header(req.headers, "Authorization")
  w.service = auth and auth:match("Credential=[^/]+/[^/]+/[^/]+/([^/]+)/request")
    or (host:match("^(%w+)%.volcengineapi%.com$") ~= "open" and host:match("^(%w+)%.volcengineapi%.com$") or nil)
  if w.encoding == "query" then
    w.params = unflatten(q)
  elseif w.encoding == "form" then
    w.params = unflatten(parse_qs(req.body))
  else
    w.params = json.decode(req.body ~= "" and req.body or "{}") or {}
  end
  return w
end

function H.identify(ex, w)
  local found
  for key, e in pairs(ex.actions) do
    if e.cloud == w.cloud and e.action == w.action and e.version == w.version
        and (w.service == nil or e.service == w.service) then
      if found then return nil end
      found = key
    end
  end
  return found
end

-- A wire value against an official member; strings_only: query and form carry text.
local function wire_check(findings, id, path, off, v, strings_only)
  local t = off.type
  local function bad(what)
    add(findings, "wire-param-type " .. id .. " " .. path,
      string.format("%s %s: sent %s, official %s", id, path, what, t))
  end
  if t == "integer" or t == "number" then
    local n = type(v) == "number" and v or (strings_only and type(v) == "string" and tonumber(v)) or nil
    if n == nil or (t == "integer" and n % 1 ~= 0) then return bad(type(v)) end
    if off.enum and not contains(off.enum, n) then
      add(findings, "wire-param-enum " .. id .. " " .. path, string.format("%s %s: sent %s, official one of %s", id,
        path, tostring(n), table.concat(off.enum, ", ")))
    end
    if off.max and n > off.max then
      add(findings, "wire-param-bound " .. id .. " " .. path, string.format("%s %s: sent %s > %s", id, path, n, off.max))
    end
  elseif t == "boolean" then
    if not (type(v) == "boolean" or (strings_only and (v == "true" or v == "false"))) then return bad(type(v)) end
  elseif t == "string" then
    if type(v) ~= "string" then return bad(type(v)) end
    if off.enum and not contains(off.enum, v) then
      add(findings, "wire-param-enum " .. id .. " " .. path, string.format("%s %s: sent %q, official one of %s", id,
        path, v, table.concat(off.enum, ", ")))
    end
    if (off.max_length and #v > off.max_length) or (off.min_length and #v < off.min_length) then
      add(findings, "wire-param-bound " .. id .. " " .. path, string.format("%s %s: %d characters", id, path, #v))
    end
  elseif t == "array" then
    if type(v) ~= "table" then return bad(type(v)) end
    if off.max_items and #v > off.max_items then
      add(findings, "wire-param-bound " .. id .. " " .. path, string.format("%s %s: %d items > %d", id, path, #v, off.max_items))
    end
    for _, x in ipairs(v) do
      if off.items then wire_check(findings, id, path .. "[]", off.items, x, strings_only) end
    end
  elseif t == "object" then
    if type(v) ~= "table" then return bad(type(v)) end
    H.wire_fields(findings, id, path .. ".", off, v, strings_only)
  end
end

function H.wire_fields(findings, id, prefix, off, params, strings_only)
  local fields = off.fields or {}
  for _, k in ipairs(sorted_keys(params)) do
    local f = fields[k]
    if not f then
      add(findings, "wire-param-unknown " .. id .. " " .. prefix .. tostring(k),
        string.format("%s %s%s: sent, but no such parameter in the definition", id, prefix, tostring(k)))
    else
      wire_check(findings, id, prefix .. k, f, params[k], strings_only)
    end
  end
  for _, k in ipairs(sorted_keys(fields)) do
    if fields[k].required and params[k] == nil then
      add(findings, "wire-param-required " .. id .. " " .. prefix .. k,
        string.format("%s %s%s: required officially, not sent", id, prefix, k))
    end
  end
  local rules = off.rules or {}
  for _, pair in ipairs(rules.exclusive or {}) do
    if params[pair[1]] ~= nil and params[pair[2]] ~= nil then
      add(findings, "wire-exclusive " .. id .. " " .. pair[1] .. "+" .. pair[2],
        string.format("%s: sent %s with %s, which the definition refuses", id, pair[1], pair[2]))
    end
  end
  for _, pair in ipairs(rules.one_of_required or {}) do
    if params[pair[1]] == nil and params[pair[2]] == nil then
      add(findings, "wire-one-of " .. id .. " " .. pair[1] .. "|" .. pair[2],
        string.format("%s: sent neither %s nor %s", id, pair[1], pair[2]))
    end
  end
  for name, f in pairs(fields) do
    if f.filter_names and type(params[name]) == "table" then
      for _, flt in ipairs(params[name]) do
        local n = type(flt) == "table" and flt.Name
        local ok = contains(f.filter_names, n)
        if not ok and type(n) == "string" and n:find("^tag:") then ok = contains(f.filter_names, "tag:tag-key") end
        if not ok then
          add(findings, "wire-filter-name " .. id .. " " .. tostring(n),
            string.format("%s: filter %s is not one the definition documents (%s)", id, tostring(n),
              table.concat(f.filter_names, ", ")))
        end
      end
    end
  end
end

-- ---- the harness: recording transport + recording answers ----------------------

-- A new harness: h.findings (wire), h.reads[id][path] = true, h.driven[id] = n.
function H.new(ex)
  return { ex = ex, findings = {}, reads = {}, driven = {}, seq = 0, mode = "normal", lose = {} }
end

local function record(h, id, path)
  h.reads[id] = h.reads[id] or {}
  h.reads[id][path] = true
end

-- The decoded answer wrapped so that every key read is recorded at its path.
-- Arrays stay plain tables (# and ipairs work raw on LuaJIT) holding proxies.
local function wrap(h, id, data, path, root_meta)
  if type(data) ~= "table" then return data end
  if rawget(data, 1) ~= nil then
    local arr = {}
    for i, v in ipairs(data) do arr[i] = wrap(h, id, v, path .. "[]") end
    return arr
  end
  local cache = {}
  return setmetatable({}, { __index = function(_, k)
    local p
    if root_meta and k == "RequestId" then
      p = "ResponseMetadata.RequestId"   -- the adapter's copy of ResponseMetadata.RequestId
    elseif type(k) == "string" then
      p = path .. "." .. k
    else
      p = path .. "[" .. tostring(k) .. "]"
    end
    record(h, id, p)
    local v = data[k]
    if type(v) == "table" then
      if cache[k] == nil then cache[k] = wrap(h, id, v, p) end
      return cache[k]
    end
    return v
  end })
end
H.wrap = wrap

local Transport = {}
Transport.__index = Transport
function Transport:which() return "curl" end
function Transport:close() end
function Transport:send(req)
  local h = self.h
  local w = H.read_request(req)
  local id = H.identify(h.ex, w)
  if not id then
    add(h.findings, "wire-unidentified " .. tostring(w.cloud) .. "/" .. tostring(w.service) .. "/"
      .. tostring(w.version) .. "/" .. tostring(w.action), "a request no definition describes")
    return { status = 400, headers = {}, body = "{}" }
  end
  local e = h.ex.actions[id]
  h.driven[id] = (h.driven[id] or 0) + 1
  if w.method ~= e.method then
    add(h.findings, "wire-method " .. id, string.format("%s: sent as %s, official %s", id, w.method, tostring(e.method)))
  end
  if w.encoding ~= e.encoding then
    add(h.findings, "wire-encoding " .. id, string.format("%s: body %s, official %s", id, w.encoding, tostring(e.encoding)))
  end
  if not host_ok(w.host, e.hosts) then
    add(h.findings, "wire-host " .. id, string.format("%s: sent to %s, official %s", id, w.host, table.concat(e.hosts or {}, " | ")))
  end
  H.wire_fields(h.findings, id, "", e.input, w.params, w.encoding ~= "json")
  if (h.lose[e.action] or 0) > 0 then   -- the answer is lost on its way back
    h.lose[e.action] = h.lose[e.action] - 1
    return { status = 502, headers = {}, body = "<html>bad gateway</html>" }
  end
  local data = H.answer_for(h, e, w.params)
  return { status = 200, headers = {}, body = cjson.encode(data), official = { id = id, cloud = e.cloud } }
end

-- Run fn with every client's transport recording into h and every parsed answer
-- wrapped; everything restored after.
function H.run(h, fn)
  local transport = require("cloudrenew.net.transport")
  local adapters = { require("cloudrenew.client.tencent").adapter, require("cloudrenew.client.volcengine").adapter }
  local real_new = transport.new
  local real_parse = {}
  transport.new = function() return setmetatable({ h = h }, Transport) end
  for i, a in ipairs(adapters) do
    real_parse[i] = a.parse
    local parse = a.parse
    a.parse = function(c, spec, res)
      local r, e = parse(c, spec, res)
      if type(r) == "table" and res.official then
        local vol = res.official.cloud == "volcengine"
        return wrap(h, res.official.id, r, vol and "Result" or "Response", vol)
      end
      return r, e
    end
  end
  local ok, err = pcall(fn)
  transport.new = real_new
  for i, a in ipairs(adapters) do a.parse = real_parse[i] end
  if not ok then error(err, 0) end
end

function H.read_findings(h)
  local findings = {}
  for id, paths in pairs(h.reads) do
    local e = h.ex.actions[id]
    for path in pairs(paths) do
      if not (e and e.output[path]) then
        add(findings, "read " .. id .. " " .. path,
          string.format("%s: the code reads %s, which the official output does not have", id, path))
      end
    end
  end
  return findings
end

-- ---- driving the real modules ----------------------------------------------------

local cloudrenew = require("cloudrenew")

local function clients()
  local tc = assert(cloudrenew.tencent{ secret_id = "AKIDofficialspec", secret_key = "official-spec-key",
    region = "ap-guangzhou", rate_limits = false, retry = false })
  local volc = assert(cloudrenew.volcengine{ access_key = "AKLTofficialspec", secret_key = "official-spec-key",
    region = "cn-beijing", rate_limits = false, retry = false })
  return tc, volc
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function with_env(env, fn)
  local real = os.getenv
  os.getenv = function(k)
    if env[k] ~= nil then return env[k] end
    return real(k)
  end
  local ok, err = pcall(fn)
  os.getenv = real
  if not ok then error(err, 0) end
end

-- strict: the normal answers must carry the code to its deepest reads.
local function drive(h, strict)
  local products = require("cloudrenew.products")
  local discover = require("cloudrenew.workflow.discover")
  local confirm = require("cloudrenew.workflow.confirm")
  local workflow = require("cloudrenew.workflow")
  local roles = require("cloudrenew.credentials.roles")
  local tc, volc = clients()
  local function must(v, err, what)
    if strict then assert(v, what .. ": " .. tostring(err)) end
    return v
  end

  -- products
  local cvm, hspro, teo, ecs = products.cvm, products.hspro, products.teo, products.ecs
  must(cvm.inquire(tc, { { id = "ins-rec00001", row = "ins-rec00001" } }, 1), nil, "cvm inquire")
  must(cvm.renew(tc, { id = "ins-rec00001" }, 1), nil, "cvm renew")
  local hrow = assert(hspro.row("rec-quuid-00001", 1, tc))
  must(hspro.inquire(tc, { hrow }, 1), nil, "hspro inquire")
  must(hspro.renew(tc, hrow, 1), nil, "hspro renew")
  must(teo.renew(tc, { id = "edgeone-rec00001" }, 1), nil, "teo renew")
  local prices, perr = ecs.inquire(volc, { { id = "i-rec00001" } }, 1)
  must(prices and prices["i-rec00001"] and prices["i-rec00001"].cents, perr, "ecs inquire")
  must(ecs.renew(volc, { id = "i-rec00001" }, 1, "cr-official-spec-token"), nil, "ecs renew")
  local vb = products.volc_billing   -- issue 23 part 2: any product through billing
  local vrow = assert(vb.row({ Product = "RDS_MySQL", InstanceID = "rds-rec00001" }, 1))
  local vprices, vperr = vb.inquire(volc, { vrow }, 1)
  must(vprices and vprices["rds-rec00001"] and vprices["rds-rec00001"].cents, vperr, "volc_billing inquire")
  must(vb.renew(volc, vrow, 1, "cr-official-spec-token"), nil, "volc_billing renew")
  -- issue 23 part 2: Tencent products with their own renewal APIs, and billing RenewInstance
  for _, c in ipairs{ { "cbs", "disk-rec00001" }, { "cdb", "cdb-rec00001" }, { "crs", "crs-rec00001" },
                      { "lighthouse", "lhins-rec00001" } } do
    local p = products[c[1]]
    local got, gerr = p.inquire(tc, { { id = c[2], row = c[2] } }, 1)
    must(got and got[c[2]] and got[c[2]].cents, gerr, c[1] .. " inquire")
    must(p.renew(tc, { id = c[2], row = c[2] }, 1), nil, c[1] .. " renew")
  end
  local trow = assert(products.tc_billing.row({ ProductCode = "p_yunjing", SubProductCode = "sp_yunjing_vas",
    RegionCode = "ap-guangzhou", InstanceId = "yj-rec00001" }, 1))
  must(products.tc_billing.renew(tc, trow, 1, "cr-official-spec-token"), nil, "tc_billing renew")

  -- discover, every reader and source
  local selects = {
    { tc, "cvm", { expires_within_days = 30 } },
    { tc, "cvm", { expires_within_days = 30, ids = { "ins-rec00001" } } },
    { tc, "teo", { expires_within_days = 30 } },
    { tc, "teo", { expires_within_days = 30, ids = { "edgeone-rec00001" } } },
    { tc, "hspro", { expires_within_days = 30, ids = { "rec-quuid-00001" } } },
    { volc, "ecs", { expires_within_days = 30 } },
    { volc, "ecs", { expires_within_days = 30, source = "ecs" } },
    { volc, "ecs", { expires_within_days = 30, ids = { "i-rec00001" } } },
    { volc, "volc_billing", { expires_within_days = 30 }, { Product = "RDS_MySQL" } },
    { volc, "volc_billing", { expires_within_days = 30, ids = { "rds-rec00001" } }, { Product = "RDS_MySQL" } },
    { tc, "cbs", { expires_within_days = 30 } }, { tc, "cbs", { expires_within_days = 30, ids = { "disk-rec00001" } } },
    { tc, "cdb", { expires_within_days = 30 }, { InstanceId = "cdb-rec00001" } }, { tc, "cdb", { expires_within_days = 30, ids = { "cdb-rec00001" } } },
    { tc, "crs", { expires_within_days = 30 }, { InstanceId = "crs-rec00001" } }, { tc, "crs", { expires_within_days = 30, ids = { "crs-rec00001" } } },
    { tc, "lighthouse", { expires_within_days = 30 }, { InstanceId = "lhins-rec00001" } },
    { tc, "lighthouse", { expires_within_days = 30, ids = { "lhins-rec00001" } } },
    { tc, "tc_billing", { expires_within_days = 30 }, { ProductCode = "p_yunjing" } },
    { tc, "tc_billing", { expires_within_days = 30, ids = { "yj-rec00001" } }, { ProductCode = "p_yunjing" } },
  }
  for _, s in ipairs(selects) do
    h.prefer = s[4]
    local sel, err = discover.select{ client = s[1], product = s[2], select = s[3],
      resources = s[2] == "teo" and {} or nil }
    must(sel, err, "discover " .. s[2])
    if strict then
      assert(sel.summary.selected >= 1, "discover " .. s[2] .. " selected nothing: the answers do not reach the renewal path")
    end
  end
  h.prefer = nil

  -- confirm's readers
  for _, r in ipairs{ { tc, "cvm", "ins-rec00001" }, { tc, "teo", "edgeone-rec00001" },
                      { tc, "hspro", "rec-quuid-00001" }, { volc, "ecs", "i-rec00001" },
                      { volc, "volc_billing", "rds-rec00001" }, { tc, "cbs", "disk-rec00001" },
                      { tc, "cdb", "cdb-rec00001" }, { tc, "crs", "crs-rec00001" }, { tc, "lighthouse", "lhins-rec00001" },
                      { tc, "tc_billing", "yj-rec00001" } } do
    local st, err = confirm.read(r[1], r[2], r[3])
    must(st and st.found, err, "confirm.read " .. r[2])
  end
  must(ecs.renew_type(volc, "i-rec00001"), nil, "products.ecs.renew_type")

  -- expiring (issue 23): both clouds' billing lists of every prepaid instance, priced
  local expiring = require("cloudrenew.workflow.expiring")
  local rep, rerr = expiring.list{ clients = { tc, volc }, days = 30 }
  must(rep, rerr, "expiring")
  if strict then
    assert(#rep.errors == 0 and #rep.rows >= 2, "expiring: the billing lists did not reach the table")
  end

  -- autorenew (issue 23 part 4): billing lists by id, SetRenewal / SetRenewalType, read back
  local autorenew = require("cloudrenew.workflow.autorenew")
  local adir = tmpdir()
  local arep, aerr = autorenew.apply{ clients = { tc, volc }, audit_log = adir .. "/autorenew.jsonl", changes = {
    { cloud = "tencent", id = "ins-rec00001", auto_renew = true, period = 1 },
    { cloud = "volcengine", id = "i-rec00001", auto_renew = true, period = 1 } } }
  must(arep, aerr, "autorenew")
  if strict then
    for _, it in ipairs(arep.items) do
      assert(it.decision == "change", "autorenew " .. it.id .. ": " .. tostring(it.decision) .. ": the list did not reach the change")
    end
  end
  os.execute("rm -rf " .. adir)

  -- the workflow: discovery, inquiry, decision, renewal, confirmation; settling
  -- when a renewal's answer is lost (ecs: the same ClientToken again)
  local dir = tmpdir()
  local runs = {
    { client = tc, product = "cvm", select = { expires_within_days = 30 } },
    { client = tc, product = "hspro", select = { expires_within_days = 30, ids = { "rec-quuid-00001" } } },
    { client = tc, product = "teo", select = { expires_within_days = 30 }, price = function() return "10" end },
    { client = volc, product = "ecs", select = { expires_within_days = 30 } },
    { client = volc, product = "ecs", select = { expires_within_days = 30, ids = { "i-rec00001" } }, lose = "RenewInstance" },
    { client = tc, product = "cvm", select = { expires_within_days = 30, ids = { "ins-rec00001" } }, lose = "RenewInstances" },
    { client = volc, product = "volc_billing", select = { expires_within_days = 30 }, prefer = { Product = "RDS_MySQL" } },
    { client = volc, product = "volc_billing", select = { expires_within_days = 30, ids = { "rds-rec00001" } },
      lose = "RenewInstance", prefer = { Product = "RDS_MySQL" } },
    { client = tc, product = "cbs", select = { expires_within_days = 30 } },
    { client = tc, product = "cdb", select = { expires_within_days = 30 }, prefer = { InstanceId = "cdb-rec00001" } },
    { client = tc, product = "crs", select = { expires_within_days = 30 }, prefer = { InstanceId = "crs-rec00001" } },
    { client = tc, product = "lighthouse", select = { expires_within_days = 30 }, prefer = { InstanceId = "lhins-rec00001" } },
    { client = tc, product = "tc_billing", select = { expires_within_days = 30, ids = { "yj-rec00001" } },
      price = function() return "10" end, lose = "RenewInstance", prefer = { ProductCode = "p_yunjing" } },
  }
  for i, r in ipairs(runs) do
    if r.lose then h.lose[r.lose] = 1 end
    h.prefer = r.prefer
    local report, err = workflow.renew_if_under_budget{ client = r.client, product = r.product, period = 1,
      select = r.select, price = r.price, budget = 1000, audit_log = dir .. "/audit-" .. i .. ".jsonl",
      confirm = { timeout = 0, interval = 0.01 }, settle = r.lose and true or nil, run_id = "official-" .. i }
    must(report, err, "workflow " .. r.product)
    if strict then
      local t = report.totals
      assert(t.renewed + t.unknown >= 1, "workflow " .. r.product .. " renewed nothing")
      if r.lose == "RenewInstance" then assert(t.settled >= 1, r.product .. ": the lost renewal was not settled") end
    end
    h.lose, h.prefer = {}, nil
  end
  os.execute("rm -rf " .. dir)

  -- roles: STS AssumeRole signed by a source, and OIDC federation from the env
  local src = { name = "source", fetch = function() return { id = "AKIDrolesource", key = "role-source-key" } end }
  local got = {}
  got[#got + 1] = { roles.assume_role("tencent", { role_arn = "qcs::cam::uin/100000000001:roleName/rec" }, src).fetch() }
  got[#got + 1] = { roles.assume_role("volcengine", { role_trn = "trn:iam::2100000001:role/rec" }, src).fetch() }
  local tok = os.tmpname()
  local f = assert(io.open(tok, "wb"))
  f:write("eyJrec.oidc.token\n")
  f:close()
  with_env({ TKE_WEB_IDENTITY_TOKEN_FILE = tok, TKE_ROLE_ARN = "qcs::cam::uin/100000000001:roleName/rec",
             TKE_PROVIDER_ID = "rec-provider", TKE_REGION = "ap-guangzhou",
             VOLCENGINE_OIDC_TOKEN_FILE = tok, VOLCENGINE_OIDC_ROLE_TRN = "trn:iam::2100000001:role/rec" }, function()
    got[#got + 1] = { roles.oidc("tencent", {}).fetch() }
    got[#got + 1] = { roles.oidc("volcengine", {}).fetch() }
  end)
  os.remove(tok)
  for i, g in ipairs(got) do
    must(g[1] and g[1].id, g[3] or g[2], "roles #" .. i)
  end
end

-- All findings, computed once: static (the catalogue), wire and reads (the run).
local ALL
local function all_findings()
  if ALL then return ALL end
  local out = { static = C.check_rows(catalog.actions, EX), wire = {}, reads = {}, driven = {} }
  for _, mode in ipairs{ "normal", "odd" } do
    local h = H.new(EX)
    h.mode = mode
    H.run(h, function() drive(h, mode == "normal") end)
    for k, v in pairs(h.findings) do add(out.wire, k, v) end
    for k, v in pairs(H.read_findings(h)) do add(out.reads, k, v) end
    for id, n in pairs(h.driven) do out.driven[id] = (out.driven[id] or 0) + n end
    out.reads_seen = out.reads_seen or {}
    for id, paths in pairs(h.reads) do
      out.reads_seen[id] = out.reads_seen[id] or {}
      for p in pairs(paths) do out.reads_seen[id][p] = true end
    end
  end
  for id in pairs(EX.actions) do
    if not out.driven[id] then add(out.static, "not-driven " .. id, id .. ": no drive of the code sent it") end
  end
  out.all = {}
  for _, part in ipairs{ out.static, out.wire, out.reads } do
    for k, v in pairs(part) do out.all[k] = v end
  end
  ALL = out
  return out
end

local function list(t)
  local out = {}
  for _, k in ipairs(sorted_keys(t)) do out[#out + 1] = "  " .. k .. "\n      " .. t[k] end
  return table.concat(out, "\n")
end

-- ---- the spec --------------------------------------------------------------------

describe("official definitions (issue 20)", function()
  describe("the extract", function()
    it("names its sources and their commits", function()
      assert.are.equal("TencentCloud/tencentcloud-cli", EX.sources.tencent.repo)
      assert.are.equal("volcengine/volcengine-go-sdk", EX.sources.volcengine.repo)
      assert.truthy(EX.sources.tencent.commit:find("^%x+$") and #EX.sources.tencent.commit == 40)
      assert.truthy(EX.sources.volcengine.commit:find("^%x+$") and #EX.sources.volcengine.commit == 40)
      for id, e in pairs(EX.actions) do
        assert.truthy(e.source and e.source.repo and e.source.path and e.source.commit, id)
      end
    end)

    it("defines every catalogue row and every action the code sends", function()
      for _, row in ipairs(catalog.actions) do
        local id = id_of(row.cloud, row.service, row.version, row.action)
        assert.truthy(EX.actions[id] and EX.actions[id].defined, id .. " is not in " .. EXTRACT)
      end
      local f = all_findings()
      local missing = {}
      for k, v in pairs(f.wire) do if k:find("^wire%-unidentified") then missing[k] = v end end
      assert.are.same({}, missing)
    end)

    it("every action of the extract is sent by some drive of the code", function()
      local f = all_findings()
      local nd = {}
      for k, v in pairs(f.static) do if k:find("^not%-driven") then nd[k] = v end end
      assert.are.same({}, nd)
    end)

    it("records the lifecycle the definitions state", function()
      local life = EX.actions["tencent/yunjing/2018-02-28/RenewProVersion"].lifecycle
      local deleted
      for _, ev in ipairs(life.events) do
        if ev.event == "deleted" and ev.service == "cwp" then deleted = ev end
      end
      assert.truthy(deleted, "tccli CHANGELOG: RenewProVersion deleted from cwp")
      assert.are.equal("2022-04-27", deleted.date)
      assert.are.equal("2020-09-15 08:08:47", life.service_last_updated)
      assert.are.equal("online", EX.actions["tencent/cvm/2017-03-12/RenewInstances"].lifecycle.status)
    end)

    it("states no request rate for any action (the catalogue's rates stay the project's assumptions)", function()
      local stated = {}
      for id, e in pairs(EX.actions) do if e.rate then stated[#stated + 1] = id end end
      -- when a definition does state one, check_rows compares it (finding "rate ...")
      assert.are.same({}, stated)
    end)
  end)

  describe("the code against the definitions", function()
    it("reads only response fields the official outputs have, at their paths", function()
      local f = all_findings()
      local n = 0
      for _, paths in pairs(f.reads_seen) do for _ in pairs(paths) do n = n + 1 end end
      assert.truthy(n >= 40, "the drives read only " .. n .. " fields: the recorder is not seeing the code")
      -- the deep reads are there (a drive that stops early would miss them)
      local seen = f.reads_seen
      for _, want in ipairs{
        { "tencent/cvm/2017-03-12/InquiryPriceRenewInstances", "Response.Price.InstancePrice.DiscountPrice" },
        { "tencent/cvm/2017-03-12/DescribeInstances", "Response.InstanceSet[].LatestOperationRequestId" },
        { "tencent/teo/2022-09-01/DescribePlans", "Response.Plans[].AutoRenewal" },
        { "tencent/cwp/2018-02-28/DescribeMachineInfo", "Response.ProVersionDeadline" },
        { "volcengine/billing/2022-01-01/QueryPriceForRenew", "Result.InstanceAmountList[].DiscountAmount" },
        { "volcengine/ecs/2020-04-01/RenewInstance", "Result.OrderId" },
        { "volcengine/ecs/2020-04-01/DescribeInstances", "Result.Instances[].ExpiredAt" },
        { "volcengine/billing/2022-01-01/ListAvailableInstances", "Result.InstanceList[].RenewType" },
        { "tencent/sts/2018-08-13/AssumeRoleWithWebIdentity", "Response.Credentials.TmpSecretKey" },
        { "volcengine/sts/2018-01-01/AssumeRole", "Result.Credentials.SessionToken" },
        { "tencent/teo/2022-09-01/RenewPlan", "Response.DealName" },
        { "tencent/billing/2018-07-09/DescribeRenewInstances", "Response.InstanceList[].ExpireTime" },
        { "tencent/billing/2018-07-09/DescribeRenewInstances", "Response.InstanceList[].RegionCode" },
        { "volcengine/billing/2022-01-01/ListAvailableInstances", "Result.InstanceList[].Product" },
        { "volcengine/billing/2022-01-01/SetRenewalType", "Result.SuccessInstanceList[].InstanceID" },
        { "tencent/billing/2018-07-09/SetRenewal", "Response.InstanceList[].InstanceId" },
      } do
        assert.truthy(seen[want[1]] and seen[want[1]][want[2]], want[1] .. " " .. want[2] .. " was never read")
      end
    end)
  end)

  describe("disagreements", function()
    for _, key in ipairs(sorted_keys(KNOWN)) do
      it(key, function()
        local f = all_findings()
        assert.truthy(f.all[key], "KNOWN entry no longer occurs (fixed?): remove it from KNOWN in spec/official_spec.lua")
        pending(KNOWN[key] .. "\n      found: " .. f.all[key])
      end)
    end

    it("finds none outside KNOWN", function()
      local f = all_findings()
      local new = {}
      for k, v in pairs(f.all) do if not KNOWN[k] then new[k] = v end end
      assert(next(new) == nil, "disagreements with the official definitions (fix them, or add to KNOWN with issue 20 part 4):\n"
        .. list(new))
    end)
  end)

  describe("the checker catches", function()
    local function rows_with(fn)
      local rows = deep_copy(catalog.actions)
      for _, row in ipairs(rows) do fn(row) end
      return rows
    end
    local base

    local function new_findings(rows)
      base = base or C.check_rows(catalog.actions, EX)
      local got = C.check_rows(rows, EX)
      local out = {}
      for k, v in pairs(got) do if not base[k] then out[k] = v end end
      return out
    end

    it("a misspelt parameter", function()
      local got = new_findings(rows_with(function(row)
        if row.action == "RenewPlan" then
          row.params.AutoUseVocher, row.params.AutoUseVoucher = row.params.AutoUseVoucher, nil
        end
      end))
      assert.are.same({ "param-unknown tencent/teo/2022-09-01/RenewPlan AutoUseVocher" }, sorted_keys(got))
    end)

    it("a parameter in the wrong case", function()
      local got = new_findings(rows_with(function(row)
        if row.action == "QueryPriceForRenew" then
          row.params.InstanceIdList, row.params.InstanceIDList = row.params.InstanceIDList, nil
        end
      end))
      assert.truthy(got["param-case volcengine/billing/2022-01-01/QueryPriceForRenew InstanceIdList"], list(got))
    end)

    it("an out-of-range enumeration value", function()
      local got = new_findings(rows_with(function(row)
        if row.action == "InquiryPriceRenewInstances" then
          local p = row.params.InstanceChargePrepaid.fields.Period
          p.enum[#p.enum + 1] = 72
        elseif row.action == "DescribePlans" then
          row.params.Order.enum[#row.params.Order.enum + 1] = "create-time"
        end
      end))
      -- the two cvm rows share one InstanceChargePrepaid rule
      assert.are.same({ "param-enum tencent/cvm/2017-03-12/InquiryPriceRenewInstances InstanceChargePrepaid.Period",
                        "param-enum tencent/cvm/2017-03-12/RenewInstances InstanceChargePrepaid.Period",
                        "param-enum tencent/teo/2022-09-01/DescribePlans Order" }, sorted_keys(got))
    end)

    it("a bound wider than the definition's", function()
      local got = new_findings(rows_with(function(row)
        if row.action == "DescribePlans" then row.params.Limit.max = 500 end
      end))
      assert.truthy(got["param-bound tencent/teo/2022-09-01/DescribePlans Limit"], list(got))
    end)

    it("a wrong HTTP method", function()
      local got = new_findings(rows_with(function(row)
        if row.cloud == "volcengine" and row.action == "RenewInstance" then row.method = "POST" end
      end))
      assert.are.same({ "encoding volcengine/ecs/2020-04-01/RenewInstance", "method volcengine/ecs/2020-04-01/RenewInstance" },
        sorted_keys(got))
    end)

    it("a required parameter left optional, and a wrong type", function()
      local got = new_findings(rows_with(function(row)
        if row.action == "RenewProVersion" then row.params.Quuid.required = nil end
        if row.action == "RenewPlan" then row.params.AutoUseVoucher = { type = "boolean" } end
      end))
      assert.are.same({ "param-required tencent/yunjing/2018-02-28/RenewProVersion Quuid",
                        "param-type tencent/teo/2022-09-01/RenewPlan AutoUseVoucher" }, sorted_keys(got))
    end)

    it("an official required parameter the row does not accept, and an action the definitions lack", function()
      local got = new_findings(rows_with(function(row)
        if row.cloud == "volcengine" and row.action == "RenewInstance" then row.params.PeriodUnit = nil end
        if row.action == "RenewPlan" then row.action = "RenewPlans" end
      end))
      assert.are.same({ "param-missing volcengine/ecs/2020-04-01/RenewInstance PeriodUnit",
                        "undefined tencent/teo/2022-09-01/RenewPlans" }, sorted_keys(got))
    end)

    it("a reader that reads a misspelt field, and a request the definition refuses", function()
      local h = H.new(EX)
      local expire
      H.run(h, function()
        local tc = clients()
        local res = assert(tc:call("cvm", "2017-03-12", "DescribeInstances", { InstanceIds = { "ins-rec00001" } }))
        expire = res.InstanceSet[1].ExpiredTime        -- right
        local _ = res.InstanceSet[1].ExpireTime        -- misspelt
        -- the catalogue refuses InstanceIds with Filters before sending; without its
        -- rule the request would reach the wire, where the recorder must flag it
        local row = catalog.find("tencent", "cvm", "DescribeInstances")
        local rule = row.exclusive
        assert.is_nil(select(1, tc:call("cvm", "2017-03-12", "DescribeInstances",
          { InstanceIds = { "ins-rec00001" }, Filters = { { Name = "zone", Values = { "ap-guangzhou-3" } } } })))
        row.exclusive = nil
        local ok, sent = pcall(tc.call, tc, "cvm", "2017-03-12", "DescribeInstances",
          { InstanceIds = { "ins-rec00001" }, Filters = { { Name = "zone", Values = { "ap-guangzhou-3" } } } })
        row.exclusive = rule
        assert(ok and sent, tostring(sent))
        -- a generic call the catalogue does not check: a misspelt parameter, a required one missing
        assert(tc:call("sts", "2018-08-13", "AssumeRole", { RoleArn = "qcs::cam::uin/100000000001:roleName/rec",
          RoleSesionName = "rec" }))
      end)
      assert.truthy(dates.parse(expire), "the builder's ExpiredTime is a date the code reads")
      local reads = H.read_findings(h)
      assert.are.same({ "read tencent/cvm/2017-03-12/DescribeInstances Response.InstanceSet[].ExpireTime" },
        sorted_keys(reads))
      assert.are.same({ "wire-exclusive tencent/cvm/2017-03-12/DescribeInstances Filters+InstanceIds",
                        "wire-param-required tencent/sts/2018-08-13/AssumeRole RoleSessionName",
                        "wire-param-unknown tencent/sts/2018-08-13/AssumeRole RoleSesionName" },
        sorted_keys(h.findings))
    end)

    it("a request sent with the wrong method or encoding", function()
      local h = H.new(EX)
      H.run(h, function()
        local _, volc = clients()
        -- a generic call: a GET query where the official client sends a form POST
        assert(volc:call("sts", "2018-01-01", "AssumeRole", { RoleTrn = "trn:iam::2100000001:role/rec",
          RoleSessionName = "rec" }, { method = "GET" }))
      end)
      assert.are.same({ "wire-encoding volcengine/sts/2018-01-01/AssumeRole",
                        "wire-method volcengine/sts/2018-01-01/AssumeRole" }, sorted_keys(h.findings))
    end)
  end)
end)

-- Parameter checking against the catalogue's rules, before anything is built or
-- sent. A rule: { type = "string"|"integer"|"number"|"boolean"|"array"|"object",
-- required, enum, pattern, min, max (numbers: value; arrays/strings: length),
-- unique, items (rule), fields (name -> rule), strict (reject unknown fields) }.
local num = require("cloudrenew.client.num")
local find_control = require("cloudrenew.core").find_control   -- s:find("%c"), in C

local M = {}

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end
M.is_array = is_array

-- Numbers as the caller meant them ("13", never "13.0"; "nan", never "-nan").
local show = num.show

local function enum_text(enum)
  local out = {}
  for i, v in ipairs(enum) do out[i] = type(v) == "number" and show(v) or tostring(v) end
  return table.concat(out, ", ")
end

local check

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out, function(a, b) return tostring(a) < tostring(b) end)
  return out
end

-- A rule's field names, sorted: rules are the catalogue's data and never change,
-- so each set is sorted once, not on every call.
local sorted_fields = setmetatable({}, { __mode = "k" })
local NO_FIELDS = {}
local function field_names(fields)
  local names = sorted_fields[fields]
  if not names then
    names = sorted_keys(fields)
    sorted_fields[fields] = names
  end
  return names
end

-- A field's path ("A.B[2]"), made only when a message needs it: a valid call
-- builds no path strings for its leaves.
local function join(base, key)
  if key == nil then return base end
  if type(key) == "number" then return string.format("%s[%d]", base, key) end
  return base ~= "" and base .. "." .. key or key
end

-- Objects report every problem they find (sorted, so messages are stable).
local function check_object(rule, v, path)
  if type(v) ~= "table" or (next(v) ~= nil and is_array(v)) then
    return path .. " must be a table of named fields"
  end
  local fields = rule.fields or NO_FIELDS
  local problems = {}
  for _, name in ipairs(field_names(fields)) do
    local sub, x = fields[name], v[name]
    if x == nil then
      if sub.required then problems[#problems + 1] = join(path, name) .. " is required" end
    else
      problems[#problems + 1] = check(sub, x, path, name)
    end
  end
  local unknown = false
  if rule.strict ~= false then   -- the caller's names are sorted only to report one
    for name in pairs(v) do
      if type(name) ~= "string" or not fields[name] then unknown = true; break end
    end
  end
  if unknown then
    local prefix = path ~= "" and path .. "." or ""
    for _, name in ipairs(sorted_keys(v)) do
      if type(name) ~= "string" or not fields[name] then
        problems[#problems + 1] = string.format("%s%s is not a documented parameter (known: %s)",
          prefix, tostring(name), table.concat(sorted_keys(fields), ", "))
      end
    end
  end
  if #problems > 0 then return table.concat(problems, "; ") end
end

check = function(rule, v, base, key)
  local t = rule.type
  if t == "object" then return check_object(rule, v, join(base, key)) end
  if t == "array" then
    local path = join(base, key)
    if type(v) ~= "table" or not is_array(v) then return path .. " must be a list" end
    local n = #v
    if rule.min and n < rule.min then
      return string.format("%s must have at least %d item(s), got %d", path, rule.min, n)
    end
    if rule.max and n > rule.max then
      return string.format("%s must have at most %d items, got %d", path, rule.max, n)
    end
    local seen = rule.unique and {}
    for i = 1, n do
      if rule.items then
        local err = check(rule.items, v[i], path, i)
        if err then return err end
      end
      if rule.unique then
        if seen[v[i]] then return string.format("%s[%d] repeats %s", path, i, show(v[i])) end
        seen[v[i]] = true
      end
    end
    return nil
  end
  if t == "integer" then
    if not num.integral(v) then return join(base, key) .. " must be an integer, got " .. show(v) end
  elseif t == "number" then
    if not num.finite(v) then return join(base, key) .. " must be a finite number, got " .. show(v) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return join(base, key) .. " must be true or false, got " .. show(v) end
  elseif t == "string" then
    if type(v) ~= "string" then return join(base, key) .. " must be a string, got " .. show(v) end
    -- No documented parameter spans lines or holds a NUL: refuse, never forward.
    if find_control(v) then return join(base, key) .. " must not contain control characters, got " .. show(v) end
    if rule.min and #v < rule.min then return join(base, key) .. " must not be empty" end
    if rule.max and #v > rule.max then
      return string.format("%s must be at most %d characters", join(base, key), rule.max)
    end
    if rule.pattern and not v:find(rule.pattern) then
      return string.format("%s %s does not look like %s", join(base, key), show(v), rule.example or rule.pattern)
    end
  end
  if rule.enum then
    for _, ok in ipairs(rule.enum) do
      if v == ok then return nil end
    end
    return string.format("%s must be one of %s; got %s", join(base, key), enum_text(rule.enum), show(v))
  end
  if t == "integer" or t == "number" then
    if rule.min and v < rule.min then return string.format("%s must be >= %s, got %s", join(base, key), show(rule.min), show(v)) end
    if rule.max and v > rule.max then return string.format("%s must be <= %s, got %s", join(base, key), show(rule.max), show(v)) end
  end
  return nil
end

-- Returns nil when params satisfy the rules, else a message naming the field.
-- row (optional): a catalogue row's rules between top-level parameters:
--   exclusive = { { "A", "B" }, ... }  never given together
--   one_of    = { { "A", "B" }, ... }  at least one of them given
function M.params(fields, params, row)
  if params == nil then params = {} end
  if type(params) ~= "table" then return "parameters must be a table" end
  local msg = check({ type = "object", fields = fields }, params, "")
  if msg then return msg end
  for _, set in ipairs(row and row.exclusive or {}) do
    local given = {}
    for _, k in ipairs(set) do
      if params[k] ~= nil then given[#given + 1] = k end
    end
    if #given > 1 then return table.concat(given, " and ") .. " cannot be given together" end
  end
  for _, set in ipairs(row and row.one_of or {}) do
    local any = false
    for _, k in ipairs(set) do any = any or params[k] ~= nil end
    if not any then return "one of " .. table.concat(set, ", ") .. " is required" end
  end
  return nil
end

M.check = check
return M

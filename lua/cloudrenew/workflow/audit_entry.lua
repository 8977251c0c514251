-- The audit log's entries (cloudrenew.workflow.audit): their key (cloud,
-- product, id, run_id) and the shape each event must have. A line that fails
-- check() was edited or written by something else; the log refuses to go on.
local money = require("cloudrenew.workflow.money")

local M = {}

local OUTCOMES = { renewed = true, failed = true, unknown = true }
-- confirm: what the read API said after an accepted renewal (cloudrenew.confirm);
-- settle: how a later look turned an unknown (or unconfirmed) one into an outcome.
local EVENTS = { intent = true, result = true, confirm = true, settle = true }
local FINAL = { renewed = true, failed = true }
-- flag: an auto-renew change (cloudrenew.workflow.autorenew) read back as the one wanted
M.SETTLED_BY = { client_token = true, expiry = true, latest_operation = true, settle_after = true, flag = true }

-- Canonical text of a key part: a string as it is, an integral number in %d
-- (never tostring of a raw float: 1.0 and 1 are one value); nil otherwise.
local function canon(v)
  if type(v) == "string" then return v end
  if type(v) == "number" and v == v and v % 1 == 0 and math.abs(v) < 2 ^ 53 then
    return string.format("%d", v)
  end
  return nil
end

local function key(cloud, product, id, run_id)
  local parts = { canon(cloud), canon(product), canon(id), run_id == nil and "" or canon(run_id) }
  for i = 1, 4 do
    if not parts[i] then error("audit: cloud, product, id and run_id must be strings", 3) end
  end
  return table.concat(parts, "\0")
end

local function got(v)
  if type(v) == "string" then return string.format("%q", v:sub(1, 40)) end
  if type(v) == "number" or type(v) == "boolean" then return type(v) .. " " .. tostring(v) end
  return type(v)
end

local function str(v) return type(v) == "string" and v ~= "" end
local function posint(v) return type(v) == "number" and v == v and v % 1 == 0 and v >= 1 and v < 2 ^ 53 end
local function amount(v) return type(v) == "string" and (money.cents(v, "up") or -1) >= 0 end
-- Expiries as cloudrenew.confirm.format_time writes them: UTC, to the second.
local function utc(v) return type(v) == "string" and v:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$") ~= nil end
local AFTER = { result = true, confirm = true, settle = true }

-- field -> { test, what, required-for-event }. Unknown extra fields are
-- allowed (a newer writer may add some); the known ones must have their type.
local FIELDS = {
  attempt = { str, "a non-empty string", { intent = true, result = true, confirm = true, settle = true } },
  time = { str, "a non-empty string" },
  cloud = { str, "a non-empty string", { intent = true } },
  product = { str, "a non-empty string", { intent = true } },
  id = { str, "a non-empty string", { intent = true } },
  run_id = { str, "a non-empty string" },
  period = { posint, "a whole number >= 1" },
  price = { amount, "a decimal amount string >= 0", nil, "intent" },
  currency = { str, "a non-empty string", nil, "intent" },
  client_token = { str, "a non-empty string", nil, "intent" },
  -- where the renewal went: settling and reconciling ask exactly there
  region = { str, "a non-empty string", nil, "intent" },
  host = { str, "a non-empty string", nil, "intent" },
  outcome = { function(v) return OUTCOMES[v] ~= nil end, "renewed, failed or unknown",
              { result = true, confirm = true, settle = true }, AFTER },
  request_id = { str, "a non-empty string", nil, { result = true, settle = true } },
  order = { str, "a non-empty string", nil, { result = true, settle = true } },
  error = { function(v)
    return type(v) == "table" and (v.code == nil or type(v.code) == "string")
      and (v.message == nil or type(v.message) == "string")
  end, "an object with string code and message", nil, AFTER },
  expires_before = { utc, "a UTC time like 2026-12-01T00:00:00Z", nil, "intent" },
  expires_after = { utc, "a UTC time like 2026-12-01T00:00:00Z", nil, AFTER },
  confirmed = { function(v) return type(v) == "boolean" end, "true or false", { confirm = true }, "confirm" },
  settled_by = { function(v) return M.SETTLED_BY[v] ~= nil end,
                 "client_token, expiry, latest_operation, settle_after or flag", { settle = true }, "settle" },
}

local function belongs(f4, event)
  if type(f4) == "table" then return f4[event] ~= nil end
  return f4 == event
end

-- nil when e is a well-formed entry, else why not.
local function check(e)
  if type(e) ~= "table" then return "not a JSON object" end
  if not EVENTS[e.event] then return "event must be intent, result, confirm or settle, got " .. got(e.event) end
  -- A confirm or settle line decides: it never says "unknown".
  if (e.event == "confirm" or e.event == "settle") and not FINAL[e.outcome] then
    return e.event .. " outcome must be renewed or failed, got " .. got(e.outcome)
  end
  for name, f in pairs(FIELDS) do
    local v = e[name]
    if v == nil then
      if f[3] and f[3][e.event] then return e.event .. " without " .. name end
    elseif f[4] and not belongs(f[4], e.event) then
      return name .. " does not belong in a " .. e.event
    elseif not f[1](v) then
      return name .. " must be " .. f[2] .. ", got " .. got(v)
    end
  end
  return nil
end

M.check, M.key, M.canon = check, key, canon
return M

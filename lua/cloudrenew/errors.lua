-- Error values: plain tables with a readable __tostring. Runtime failures are
-- returned as `nil, err`; only programming errors raise.
local M = {}

local mt = {}
mt.__index = mt

mt.__tostring = function(e)
  local parts = { e.code or "Error", ": ", e.message or "" }
  local extra = {}
  if e.action then extra[#extra + 1] = "action=" .. e.action end
  if e.status then extra[#extra + 1] = "status=" .. tostring(e.status) end
  if e.request_id then extra[#extra + 1] = "request_id=" .. e.request_id end
  if e.outcome then extra[#extra + 1] = "outcome=" .. e.outcome end
  if #extra > 0 then parts[#parts + 1] = " (" .. table.concat(extra, ", ") .. ")" end
  return table.concat(parts)
end

M.metatable = mt

function M.new(fields)
  if fields.retryable == nil then fields.retryable = false end
  return setmetatable(fields, mt)
end

-- A client-side error: code "ClientError.<kind>".
function M.client(kind, message, fields)
  fields = fields or {}
  fields.code = "ClientError." .. kind
  fields.message = message
  fields.outcome = fields.outcome or "not_executed"
  return M.new(fields)
end

function M.is(v)
  return getmetatable(v) == mt
end

-- Remove every occurrence of the given secrets from a string (defence in depth:
-- a cloud or proxy message could echo a header back).
function M.redact(s, secrets)
  if type(s) ~= "string" or not secrets then return s end
  for _, secret in ipairs(secrets) do
    if type(secret) == "string" and #secret >= 4 then
      local from = 1
      while true do
        local i, j = s:find(secret, from, true)
        if not i then break end
        s = s:sub(1, i - 1) .. "***" .. s:sub(j + 1)
        from = i + 3
      end
    end
  end
  return s
end

return M

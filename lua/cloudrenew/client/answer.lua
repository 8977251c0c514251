-- What a cloud's answer may look like. Everything a server sends is untrusted:
-- these checks let the adapters' parsers accept only the documented shapes and
-- describe anything else without raising (the result is ClientError.BadResponse,
-- "unknown" for a renewal, because the cloud may have acted).
local M = {}
local find_control = require("cloudrenew.core").find_control   -- s:find("%c"), in C

-- A JSON object (cjson decodes [] and {} alike; an array has [1]).
function M.object(v)
  return type(v) == "table" and rawget(v, 1) == nil
end

-- What a wrong-typed field holds, for a message (errors bound it later).
function M.shape(v)
  if type(v) == "table" then return rawget(v, 1) ~= nil and "an array" or "an object" end
  if type(v) == "string" then return string.format("the string %q", v:sub(1, 60)) end
  return "a " .. type(v) .. " (" .. tostring(v) .. ")"
end

-- A cloud error code as the clouds write them ("InvalidParameter.Period");
-- a server may not claim one of our client codes.
function M.code_ok(v)
  return type(v) == "string" and #v <= 128 and v:find("^%a[%w%.%-_]*$") ~= nil
    and not v:find("^ClientError%.")
end

-- A request id is printed in reports and terminals: short, no control bytes.
function M.request_id_ok(v)
  return type(v) == "string" and #v >= 1 and #v <= 128 and not find_control(v)
end

-- The start of a body that is not an answer, for the message.
function M.snippet(body)
  if #body > 120 then body = body:sub(1, 120) .. "..." end
  return (body:gsub("%c", " "))
end

-- Error fields for an unusable answer; rid is kept only when it is a usable id.
function M.bad(status, what, rid)
  return nil, { code = "ClientError.BadResponse", status = status,
                request_id = M.request_id_ok(rid) and rid or nil,
                message = string.format("HTTP %s with %s", tostring(status), what) }
end

-- The common part of both clouds' error objects: { Code, Message } with a
-- RequestId beside it. Returns error fields (well-formed or BadResponse).
function M.cloud_error(status, e, rid, where)
  if not M.object(e) then return M.bad(status, where .. " that is " .. M.shape(e), rid) end
  if not M.code_ok(e.Code) then return M.bad(status, where .. ".Code that is " .. M.shape(e.Code), rid) end
  if e.Message ~= nil and type(e.Message) ~= "string" then
    return M.bad(status, where .. ".Message that is " .. M.shape(e.Message) .. " (Code " .. e.Code .. ")", rid)
  end
  if not M.request_id_ok(rid) then
    return M.bad(status, "a RequestId that is " .. M.shape(rid) .. " (Code " .. e.Code .. ")")
  end
  return nil, { code = e.Code, message = e.Message or "", request_id = rid, status = status }
end

return M

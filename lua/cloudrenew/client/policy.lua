-- What a failure means for money: may the cloud have acted (outcome), and may
-- the same request be sent again (retryable)? One place, used by error shaping
-- and by the retry loop.
local M = {}

local THROTTLE = {
  RequestLimitExceeded = true, FlowLimitExceeded = true,
  ["RequestLimitExceeded.UinLimitExceeded"] = true,
  ["RequestLimitExceeded.GlobalRegionUinLimitExceeded"] = true,
  ["RequestLimitExceeded.IPLimitExceeded"] = true,
}
local SERVER_SIDE = { InternalError = true, ServiceUnavailable = true, ServiceUnavailableTemp = true }
local CLOCK = { ["AuthFailure.SignatureExpire"] = true, InvalidTimestamp = true }

function M.is_throttle(code, status)
  return THROTTLE[code] == true or (code and code:find("^RequestLimitExceeded%.") ~= nil)
    or status == 429
end

function M.is_clock(code)
  return CLOCK[code] == true
end

-- May this request be sent again after a failure that may have reached the cloud?
-- Inquiries are read-only; a renewal only with its idempotency token.
local function resendable(spec, has_token)
  return spec.kind == "inquiry" or has_token == true
end

-- A transport failure (kind, sent) -> outcome, retryable.
function M.transport(spec, failure, has_token)
  if not failure.sent then
    return "not_executed", failure.kind ~= "tls" and failure.kind ~= "invalid"
  end
  return "unknown", resendable(spec, has_token)
end

-- An answer from the cloud that is not a usable result (no JSON, 5xx page).
function M.bad_response(spec, status, has_token)
  return "unknown", resendable(spec, has_token) and (status == nil or status >= 500 or status == 200)
end

-- A cloud error code -> outcome, retryable.
function M.cloud(spec, code, status, has_token)
  if M.is_throttle(code, status) then return "rejected", true end
  if M.is_clock(code) then return "rejected", true end
  if SERVER_SIDE[code] or (status and status >= 500) then
    -- A trade system that failed internally may still have charged.
    if spec.kind ~= "inquiry" then return "unknown", has_token == true end
    return "rejected", true
  end
  return "rejected", false
end

return M

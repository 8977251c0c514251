-- Seeing what a client does: the on_request / on_response hooks and the
-- user_agent option. A hook gets a fresh table per attempt built only from
-- names, numbers and already-redacted error fields: never a key, a token, a
-- header or a body. A hook that raises is ignored (the call goes on).
local core = require("cloudrenew.core")

local M = {}

M.MAX_USER_AGENT = 128

-- Check the hook and user_agent options into o; nil or a message.
function M.check(opts, o, base)
  for _, k in ipairs({ "on_request", "on_response" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "function" then return k .. " must be a function(info)" end
    o[k] = opts[k]
  end
  local ua = opts.user_agent
  if ua ~= nil then
    local full = type(ua) == "string" and (base .. " " .. ua)
    if not full or ua == "" or not ua:find("^[%w%-_ ,;./]+$") or #full > M.MAX_USER_AGENT then
      return string.format("user_agent must be 1-%d characters of letters, digits and -_ ,;./ "
        .. "(it is appended to %q; %d characters in all at most)",
        M.MAX_USER_AGENT - #base - 1, base, M.MAX_USER_AGENT)
    end
    o.user_agent = full
  end
end

local function host_of(url)
  return type(url) == "string" and url:match("^%a+://([^/?#]+)") or nil
end

local function call(hook, info)
  if not hook then return end
  local copy = {}
  for k, v in pairs(info) do copy[k] = v end
  pcall(hook, copy)    -- yieldable on 5.4/LuaJIT: a hook may log through cosockets
end

-- Called by client.attempt once the request is built: the request is going out.
function M.sending(client, seen, req)
  seen.host = host_of(req.url)
  seen.method = req.method
  call(client.options.on_request, seen)
end

-- Wrap one attempt: fn(seen) runs client.attempt; on_response gets the outcome.
function M.attempt(client, spec, call_opts, n, waited, fn)
  local o = client.options
  if not o.on_request and not o.on_response then return fn(nil) end
  local seen = {
    cloud = client.cloud, service = spec.service, action = spec.action, version = spec.version,
    region = call_opts.region or o.region, attempt = n, pacing_wait = waited or 0,
  }
  local t0 = core.monotonic()
  local result, err = fn(seen)
  seen.duration = core.monotonic() - t0
  if result then
    seen.request_id = type(result.RequestId) == "string" and result.RequestId or nil
  else
    seen.error_code, seen.request_id, seen.outcome = err.code, err.request_id, err.outcome
    seen.status = seen.status or err.status
  end
  call(o.on_response, seen)
  return result, err
end

-- One line for the CLI's --verbose.
function M.line(i)
  return string.format("cloudrenew: %s %s:%s region=%s host=%s attempt=%s status=%s %.3fs wait=%.3fs%s%s",
    tostring(i.cloud), tostring(i.service), tostring(i.action), tostring(i.region or "-"), tostring(i.host or "-"),
    tostring(i.attempt), tostring(i.status or "-"), i.duration or 0, i.pacing_wait or 0,
    i.request_id and (" request_id=" .. i.request_id) or "", i.error_code and (" error=" .. i.error_code) or "")
end

return M

-- The transport seam: a prepared, signed request in; status, headers and body,
-- or a classified failure { kind, sent, message } out. libcurl today; an
-- OpenResty cosocket transport can replace it without touching anything above.
local core = require("cloudrenew.core")
local runtime = require("cloudrenew.runtime")

local M = {}

local Curl = {}
Curl.__index = Curl

function M.curl(opts)
  local h, err = core.http{
    ca_file = opts.ca_file, proxy = opts.proxy, connect_to = opts.connect_to,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
    max_response = opts.max_response, user_agent = opts.user_agent,
  }
  if not h then return nil, err end
  return setmetatable({ http = h }, Curl)
end

-- req: { method, url, headers = { {name, value}, ... }, body, fresh }
function Curl:send(req)
  local lines = {}
  for i, h in ipairs(req.headers) do lines[i] = h[1] .. ": " .. h[2] end
  return runtime.send(self.http, {
    method = req.method, url = req.url, headers = lines, body = req.body, fresh = req.fresh,
  })
end

function Curl:close()
  self.http:close()
end

return M

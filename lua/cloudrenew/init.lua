-- cloudrenew: inquire renewal prices and renew prepaid resources on Tencent
-- Cloud and Volcengine. README.md is the tour, docs/ the reference.
local M = {}

M.VERSION = require("cloudrenew.core").version
M.errors = require("cloudrenew.client.errors")

function M.tencent(opts)
  return require("cloudrenew.client.tencent").new(opts)
end

function M.volcengine(opts)
  return require("cloudrenew.client.volcengine").new(opts)
end

-- The one sleep every wait goes through (ngx.sleep under OpenResty).
function M.set_sleep(fn)
  return require("cloudrenew.net.runtime").set_sleep(fn)
end

function M.map(list, fn, opts)
  return require("cloudrenew.net.map").map(list, fn, opts)
end

return M

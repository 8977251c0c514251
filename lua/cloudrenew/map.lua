-- cloudrenew.map(list, fn, opts): run fn over a list; results and errors come
-- back in list order. fn's raised errors are caught and reported per item so one
-- bad item never aborts a fleet job.
local errors = require("cloudrenew.errors")

local M = {}

function M.map(list, fn, opts)
  if type(list) ~= "table" then error("cloudrenew.map: list must be a table", 2) end
  if type(fn) ~= "function" then error("cloudrenew.map: fn must be a function", 2) end
  opts = opts or {}
  local results, errs = {}, {}
  for i = 1, #list do
    local ok, res, err = pcall(fn, list[i], i)
    if not ok then
      errs[i] = errors.client("Internal", "fn raised: " .. tostring(res), { outcome = "unknown" })
    else
      results[i], errs[i] = res, err
    end
  end
  return results, errs
end

return M

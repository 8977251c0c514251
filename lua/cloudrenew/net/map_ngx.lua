-- cloudrenew.map inside ngx_lua, in a phase that can yield: up to N items run
-- as ngx.thread light threads whose cosocket sends and ngx.sleep waits yield
-- to nginx's event loop, so the worker keeps serving while a fleet job runs.
-- Same contract as map.lua: results and errors in list order; an error raised
-- by fn is reported for its item.
local errors = require("cloudrenew.client.errors")

local M = {}

function M.map(list, fn, concurrency)
  local ngx = rawget(_G, "ngx")
  local n = #list
  local results, errs = {}, {}
  local next_item = 1
  local function worker()
    while next_item <= n do
      local i = next_item
      next_item = next_item + 1
      -- LuaJIT (ngx_lua) yields across pcall: cosockets work inside
      local ok, a, b = pcall(fn, list[i], i)
      if ok then
        results[i], errs[i] = a, b
      else
        errs[i] = errors.client("Internal", "fn raised: " .. tostring(a), { outcome = "unknown" })
      end
    end
  end
  local threads = {}
  for t = 1, math.min(concurrency, n) do
    local th = ngx.thread.spawn(worker)
    if not th then
      -- No thread to spare: run what is left in this one.
      worker()
      break
    end
    threads[t] = th
  end
  for _, th in ipairs(threads) do ngx.thread.wait(th) end
  return results, errs
end

return M

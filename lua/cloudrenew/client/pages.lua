-- Pagination over any list action, typed or generic: Offset/Limit (Tencent) or
-- NextToken/MaxResults (Volcengine). Every page is an ordinary call, so it is
-- validated, signed, paced and retried like any other. A server that never ends
-- (the same NextToken again, a TotalCount that lies) is cut off: the loop is
-- bounded by what it has seen and by max_pages.
--
--   for page, err in tc.cvm:pages("DescribeInstances", { Limit = 100 }) do
--     if not page then print(err) break end      -- page is false when err is set
--     for _, inst in ipairs(page.InstanceSet) do ... end
--   end
local catalog = require("cloudrenew.client.catalog")
local errors = require("cloudrenew.client.errors")
local num = require("cloudrenew.client.num")

local M = {}

M.MAX_PAGES = 1000

local function invalid(msg)
  return errors.client("InvalidParameter", msg, { outcome = "not_executed" })
end

-- paging = { style = "offset", offset = "Offset", limit = "Limit", max = 100,
--            list = "InstanceSet", total = "TotalCount" }
--        | { style = "token", token = "NextToken", limit = "MaxResults", max = 100, list = "Instances" }
local function check_paging(p)
  if type(p) ~= "table" or (p.style ~= "offset" and p.style ~= "token") then
    return "paging must be { style = \"offset\", offset =, limit =, list =, total = } or "
      .. "{ style = \"token\", token =, limit =, list = }"
  end
  for _, k in ipairs(p.style == "offset" and { "offset", "limit", "list" } or { "token", "list" }) do
    if type(p[k]) ~= "string" or p[k] == "" then return "paging." .. k .. " must be a field name" end
  end
end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

-- The iterator behind every form: fetch(params) -> result | nil, err.
-- opts.max_pages bounds the number of requests (default M.MAX_PAGES).
function M.iterate(fetch, params, paging, opts)
  local done, failed = false, nil
  local perr = check_paging(paging)
  if not perr and params ~= nil and type(params) ~= "table" then perr = "parameters must be a table" end
  local max_pages = M.MAX_PAGES
  if not perr and type(opts) == "table" and opts.max_pages ~= nil then
    max_pages = num.int(opts.max_pages, 1, 1000000)
    if not max_pages then perr = "max_pages must be an integer from 1 to 1000000, got " .. num.show(opts.max_pages) end
  end
  if perr then failed = invalid("pages: " .. perr) end
  local p = copy(params)
  local limit = paging and paging.limit
  if not perr and limit and p[limit] == nil and paging.max then p[limit] = paging.max end
  local seen, fetched, count = {}, 0, 0
  local function stop(err)
    done = true
    return false, err
  end
  return function()
    if failed then
      local e = failed
      failed, done = nil, true
      return false, e
    end
    if done then return nil end
    if fetched >= max_pages then
      return stop(errors.client("BadResponse", string.format("paging %s did not end after %d pages (max_pages)",
        paging.list, max_pages), { outcome = "not_executed" }))
    end
    fetched = fetched + 1
    local res, err = fetch(copy(p))
    if not res then return stop(err) end
    local list = res[paging.list]
    if list ~= nil and type(list) ~= "table" then
      return stop(errors.client("BadResponse", paging.list .. " is not a list", { request_id = res.RequestId }))
    end
    local n = list and #list or 0
    count = count + n
    if paging.style == "offset" then
      local total = num.canon(res[paging.total or "TotalCount"])
      local step = num.canon(p[paging.limit]) or n
      p[paging.offset] = (num.canon(p[paging.offset]) or 0) + n
      -- An empty or short page ends it whatever TotalCount says; so does reaching TotalCount.
      if n == 0 or n < step or (type(total) == "number" and count >= total) then done = true end
    else
      local tok = res[paging.token]
      local step = num.canon(p[paging.limit])
      -- The documented end of a list: no token, an empty one, or a page shorter than
      -- asked for (a last page may repeat its token: it still ends there).
      if type(tok) ~= "string" or tok == "" or n == 0 or (type(step) == "number" and n < step) then
        done = true
      elseif seen[tok] then
        -- A full page with a token seen before would loop for ever: this page counts, the next would not.
        failed = errors.client("BadResponse", string.format("paging %s: the server answered %s %q again",
          paging.list, paging.token, tok:sub(1, 64)), { request_id = res.RequestId, outcome = "not_executed" })
      else
        seen[tok] = true
        p[paging.token] = tok
      end
    end
    return res
  end
end

-- An iterator that yields (false, err) once.
function M.failing(err)
  local given = false
  return function()
    if given then return nil end
    given = true
    return false, err
  end
end

-- svc:pages(action, params, call_opts, opts): a catalogued action with paging.
function M.service(svc, action, params, call_opts, opts)
  local row = type(action) == "string" and catalog.find(svc.cloud, svc.service, action)
  local paging = opts and opts.paging or (row and row.pages)
  if not row or not paging then
    return M.failing(invalid(string.format("pages: %s.%s is not a paged catalogue action; use "
      .. "require(\"cloudrenew.pages\").call(client, service, version, action, params, call_opts, { paging = ... })",
      svc.service, tostring(action))))
  end
  return M.iterate(function(p) return svc[action](svc, p, call_opts) end, params, paging, opts)
end

-- Any action, generic or typed: opts.paging is required unless the action is catalogued with one.
function M.call(client, service, version, action, params, call_opts, opts)
  local row = catalog.find(client.cloud, service, action)
  local paging = opts and opts.paging or (row and row.version == version and row.pages)
  return M.iterate(function(p) return client:call(service, version, action, p, call_opts) end,
    params, paging, opts)
end

-- All items of every page in one list: items, pages fetched, or nil, err.
function M.all(iter, list_name)
  local items, n = {}, 0
  for page, err in iter do
    if not page then return nil, err end
    n = n + 1
    for _, x in ipairs(type(page[list_name]) == "table" and page[list_name] or {}) do items[#items + 1] = x end
  end
  return items, n
end

return M

-- One describe block's fake cloud, its clients and temporary paths: inside a describe,
-- `local fx = fixture.new{ tls = false }` starts fx.fake in setup, resets it before each
-- test, removes fx:log()/fx:dir() paths after it, closes fx:tencent()/fx:volcengine()
-- clients and stops the fake in teardown. Below: small helpers specs used to copy.
local busted = require("busted")
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.client.json")
local fakecloud = require("support.fake")

local M = {}
local Fixture = {}
Fixture.__index = Fixture

-- opts: support.fake.start's ({ tls, latency, limits }); reset = false: no reset
-- before each test. The hooks run before those the spec registers after this call.
function M.new(opts)
  opts = opts or {}
  local self = setmetatable({ clients = {}, logs = {}, dirs = {} }, Fixture)
  busted.setup(function() self.fake = fakecloud.start(opts) end)
  busted.teardown(function()
    for _, c in ipairs(self.clients) do c:close() end
    self.clients = {}
    if self.fake then self.fake:stop() end
  end)
  if opts.reset ~= false then busted.before_each(function() self.fake:reset() end) end
  busted.after_each(function()
    for _, path in ipairs(self.logs) do os.remove(path) end
    for _, path in ipairs(self.dirs) do os.execute("rm -rf " .. M.q(path)) end
    self.logs, self.dirs = {}, {}
  end)
  return self
end

-- Clients on the fake (extra: as fake:tencent_opts / fake:volc_opts), closed in teardown.
function Fixture:tencent(extra)
  local c = assert(cloudrenew.tencent(self.fake:tencent_opts(extra)))
  self.clients[#self.clients + 1] = c
  return c
end

function Fixture:volcengine(extra)
  local c = assert(cloudrenew.volcengine(self.fake:volc_opts(extra)))
  self.clients[#self.clients + 1] = c
  return c
end

-- A fresh temporary path with no file at it (an audit log to be), removed after the test.
function Fixture:log()
  local path = os.tmpname()
  os.remove(path)
  self.logs[#self.logs + 1] = path
  return path
end

-- A fresh empty temporary directory, removed with all in it after the test.
function Fixture:dir()
  local path = os.tmpname()
  os.remove(path)
  assert(os.execute("mkdir -p " .. path))
  self.dirs[#self.dirs + 1] = path
  return path
end

-- Every line of a JSON-lines file (an audit log) decoded; {} when there is no file.
function M.entries(path)
  local out = {}
  local f = io.open(path, "rb")
  if not f then return out end
  for line in f:lines() do out[#out + 1] = assert(json.decode(line)) end
  f:close()
  return out
end

-- The entries whose event is name.
function M.events(path, name)
  local out = {}
  for _, e in ipairs(M.entries(path)) do if e.event == name then out[#out + 1] = e end end
  return out
end

-- A workflow report's items by resource id.
function M.by_id(report)
  local t = {}
  for _, it in ipairs(report.items) do t[it.id] = it end
  return t
end

-- How many keys a table has.
function M.count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- s is a string holding part (plain text, not a pattern).
function M.has(s, part) return type(s) == "string" and s:find(part, 1, true) ~= nil end

-- s quoted for sh.
function M.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- bin/cloudrenew as an operator runs it, in a clean environment holding the
-- fake's first Tencent and Volcengine keys (HOME = dir): rc, stdout, stderr.
function M.cli(dir, args)
  local creds = require("support.fake").credentials()
  local q = M.q
  local e = { "PATH=" .. q(os.getenv("PATH")), "HOME=" .. q(dir), "CLOUDRENEW_METADATA_DISABLED=1",
    "TENCENTCLOUD_SECRET_ID=" .. q(creds.tencent[1].secret_id), "TENCENTCLOUD_SECRET_KEY=" .. q(creds.tencent[1].secret_key),
    "VOLCENGINE_ACCESS_KEY=" .. q(creds.volcengine[1].access_key),
    "VOLCENGINE_SECRET_KEY=" .. q(creds.volcengine[1].secret_key) }
  local cmd = { "env", "-i", table.concat(e, " "), "lua5.4", "bin/cloudrenew" }
  for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
  os.execute(table.concat(cmd, " ") .. " >" .. dir .. "/out 2>" .. dir .. "/err; echo $? >" .. dir .. "/rc")
  local read = require("support.fake").read_file
  return tonumber(read(dir .. "/rc")), read(dir .. "/out") or "", read(dir .. "/err") or ""
end

-- Runs cmd through the shell: true when it exits 0.
function M.sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

return M

-- Start and drive the bundled fake cloud (spec/fakecloud) from specs, examples
-- and benchmarks. The server is a child process whose stdin is a pipe we hold:
-- when this Lua process ends, the pipe closes and the fake exits with it.
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")

local M = {}
local Fake = {}
Fake.__index = Fake

local ROOT = os.getenv("CLOUDRENEW_ROOT") or "."

-- In *_opts{...}: leave this option out (false is a real value for some options).
M.UNSET = setmetatable({}, { __tostring = function() return "UNSET" end })

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- The whole file, or nil when it cannot be read (specs use it too).
M.read_file = read_all

-- n stable, valid ids for specs and benches: prefix .. tag .. i in hex,
-- zero padded to width characters after the prefix (ids("ins-", 3, 8, "b")
-- -> ins-b0000001 ...).
function M.ids(prefix, n, width, tag)
  local out = {}
  for i = 1, n do
    local s = string.format("%x", i)
    out[i] = prefix .. tag .. string.rep("0", width - #tag - #s) .. s
  end
  return out
end

-- "Linux 6.1 x86_64 2" (kernel, machine, CPUs) for a bench's first line.
function M.machine()
  local p = io.popen("uname -srm 2>/dev/null; nproc 2>/dev/null")
  local s = p and p:read("*a") or ""
  if p then p:close() end
  return (s:gsub("\n", " "):gsub("%s+$", ""))
end

-- The most of these times (seconds, any clock) in any sliding second: how
-- pacing specs and benches check "no second carries more than the limit".
function M.busiest(times)
  table.sort(times)
  local most, j = 0, 1
  for i = 1, #times do
    while times[i] - times[j] >= 1 do j = j + 1 end
    if i - j + 1 > most then most = i - j + 1 end
  end
  return most
end

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

-- Test certificates (a CA, a server cert for the clouds' host names, a wrong CA).
function M.certs()
  local dir = ROOT .. "/build/test-certs"
  assert(sh("sh " .. ROOT .. "/spec/support/certs.sh " .. dir), "certs.sh failed")
  return { dir = dir, ca = dir .. "/ca.pem", wrong_ca = dir .. "/wrong-ca.pem",
           cert = dir .. "/server.pem", key = dir .. "/server.key" }
end

-- Credentials the fake knows (spec/fakecloud/credentials.json).
function M.credentials()
  return assert(json.decode(assert(read_all(ROOT .. "/spec/fakecloud/credentials.json"))))
end

-- opts: { tls = true, latency = seconds, limits = true }
function M.start(opts)
  opts = opts or {}
  local tmp = os.tmpname()
  local args = { "python3", ROOT .. "/spec/fakecloud/fakecloud.py", "--port", "0" }
  local certs
  if opts.tls ~= false then
    certs = M.certs()
    for _, a in ipairs({ "--tls-port", "0", "--cert", certs.cert, "--key", certs.key }) do args[#args + 1] = a end
  end
  if opts.latency then args[#args + 1] = "--latency"; args[#args + 1] = tostring(opts.latency) end
  if opts.limits then args[#args + 1] = "--limits" end
  local cmd = table.concat(args, " ") .. " > " .. tmp .. " 2> " .. tmp .. ".err"
  local pipe = assert(io.popen(cmd, "w"))
  local info
  local deadline = core.monotonic() + 15
  repeat
    core.sleep(0.02)
    local s = read_all(tmp)
    if s and s:find("\n") then info = json.decode(s:match("^[^\n]+")) end
  until info or core.monotonic() > deadline
  if not info then
    error("fake cloud did not start: " .. tostring(read_all(tmp .. ".err")))
  end
  os.remove(tmp)
  local self = setmetatable({
    pipe = pipe, pid = info.pid, http_port = info.http_port, https_port = info.https_port,
    url = "http://127.0.0.1:" .. info.http_port, certs = certs, errfile = tmp .. ".err",
    control = assert(core.http{ timeout = 30 }),
  }, Fake)
  if info.https_port then self.tls_addr = "127.0.0.1:" .. info.https_port end
  return self
end

function Fake:_req(method, path, body)
  local res, err = self.control:request{
    method = method, url = self.url .. "/__fake/" .. path,
    headers = { "Content-Type: application/json" }, body = body and json.encode(body) or nil,
  }
  assert(res, err and err.message)
  assert(res.status == 200, "fake control " .. path .. ": HTTP " .. res.status .. " " .. res.body)
  return json.decode(res.body)
end

function Fake:reset() return self:_req("POST", "reset", {}) end
function Fake:config(t) return self:_req("POST", "config", t) end
function Fake:faults(list) return self:_req("POST", "faults", { faults = list }) end
function Fake:requests() return self:_req("GET", "requests") end
function Fake:renewals() return self:_req("GET", "renewals") end
function Fake:state() return self:_req("GET", "state") end
function Fake:add_credentials(t) return self:_req("POST", "credentials", t) end

-- The fleet (spec/fakecloud/describe.py): set resources (replacing the fleet, or
-- merged into it with opts.merge) and/or opts.operation_seconds; read it back.
-- Each resource: { id, product, region, prepaid, charge_type, expires_at (epoch) |
-- expires_in_days, auto_renew, status, time_format, operation_result, operation_error }.
function Fake:resources(list, opts)
  opts = opts or {}
  local body = { merge = opts.merge and true or false, operation_seconds = opts.operation_seconds }
  if list and #list > 0 then body.resources = list end
  return self:_req("POST", "resources", body)
end
-- { operation_seconds, resources = { { id, expires_at, expires, auto_renew, status,
-- latest_operation = { op, request_id, state } }, ... } }
function Fake:fleet() return self:_req("GET", "resources") end
-- One resource of the fleet by id (nil when the fake does not hold it).
function Fake:resource(id)
  for _, r in ipairs(self:fleet().resources) do
    if r.id == id then return r end
  end
end

-- Requests recorded for one action (all when action is nil).
function Fake:requests_for(action)
  local out = {}
  for _, r in ipairs(self:requests()) do
    if action == nil or r.action == action then out[#out + 1] = r end
  end
  return out
end

function Fake:stop()
  if not self.pipe then return end
  pcall(self._req, self, "POST", "shutdown", {})
  self.pipe:close()
  self.pipe = nil
  self.control:close()
  os.remove(self.errfile)
end

-- Client options for the fake: plain HTTP by endpoint override, or the clouds'
-- real host names over HTTPS through connect_to + the test CA.
function Fake:tencent_opts(extra)
  local c = M.credentials().tencent[1]
  local o = { secret_id = c.secret_id, secret_key = c.secret_key, region = "ap-guangzhou",
              endpoint = self.url, timeout = 10 }
  for k, v in pairs(extra or {}) do if v == M.UNSET then o[k] = nil else o[k] = v end end
  return o
end

function Fake:volc_opts(extra)
  local c = M.credentials().volcengine[1]
  local o = { access_key = c.access_key, secret_key = c.secret_key, region = "cn-beijing",
              endpoint = self.url, timeout = 10 }
  for k, v in pairs(extra or {}) do if v == M.UNSET then o[k] = nil else o[k] = v end end
  return o
end

function Fake:tls_opts(opts)
  opts.endpoint = nil
  opts.connect_to = self.tls_addr
  opts.ca_file = self.certs.ca
  return opts
end

return M

-- A foreign writer for the audit spec: appends well-formed audit lines (one
-- write(2) each, as a well-behaved appender does, and without the run lock)
-- to LOG until the file STOP exists, then prints how many lines it wrote.
--   lua5.4 spec/support/audit_writer.lua LOG STOP
local core = require("cloudrenew.core")
local log, stop = arg[1], arg[2]
local n, i = 0, 0
local function exists(p) local f = io.open(p, "rb"); if f then f:close() end; return f ~= nil end
while not exists(stop) do
  i = i + 1
  local attempt = string.format("foreign%09d", i)
  local id = string.format("ins-f%07d", i)
  assert(core.append_durable(log, string.format('{"event":"intent","attempt":"%s","cloud":"tencent",'
    .. '"product":"cvm","id":"%s","period":1,"price":"1.00","run_id":"foreign","writer":"other"}\n', attempt, id)))
  assert(core.append_durable(log, string.format('{"event":"result","attempt":"%s","cloud":"tencent",'
    .. '"product":"cvm","id":"%s","run_id":"foreign","outcome":"failed"}\n', attempt, id)))
  n = n + 2
  core.sleep(0.001)
end
io.write("lines ", n, "\n")

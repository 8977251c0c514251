-- The audit log: JSON lines, one "intent" before each renewal is sent and one
-- "result" after it, each appended with a single write and fsynced (core
-- append_durable). Reading it back tells a re-run what this run already did:
-- a renewal whose intent has no result may have been executed (the process
-- died while it was in flight), so it is treated as unknown, never resent.
local core = require("cloudrenew.core")
local json = require("cloudrenew.json")

local M = {}

local Log = {}
Log.__index = Log

local function key(e)
  return table.concat({ tostring(e.cloud), tostring(e.product), tostring(e.id),
                        tostring(e.period), tostring(e.run_id or "") }, "\0")
end

local function iso_now()
  local t = core.time()
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. string.format(".%03dZ", math.floor((t % 1) * 1000))
end

-- Fold the entries into per-key state: the latest attempt decides.
local function fold(entries)
  local attempts, state = {}, {}
  for _, e in ipairs(entries) do
    if e.event == "intent" and type(e.attempt) == "string" then
      local a = { intent = e }
      attempts[e.attempt] = a
      state[key(e)] = a
    elseif e.event == "result" and type(e.attempt) == "string" and attempts[e.attempt] then
      attempts[e.attempt].result = e
    end
  end
  return state
end

-- Open (or prepare to create) the log at path. Reading is tolerant of a last
-- line cut short by a crash: it cannot hide a sent renewal, because the intent
-- is complete on disk before anything is sent. A broken line elsewhere means
-- the file was damaged or edited, and guessing could pay twice: refuse.
-- opts.lock: take the log's lock first (one run at a time per log: two
-- overlapping cron runs would both see "not renewed yet" and both pay).
function M.open(path, opts)
  local log = setmetatable({ path = path, warnings = {}, needs_newline = false }, Log)
  if opts and opts.lock then
    local lock, err, busy = core.lock(path)
    if not lock then
      return nil, busy and (err .. ": another run is using this log; let it finish, then run again") or err
    end
    log.lock_handle = lock
  end
  local entries = {}
  local f, ferr, errno = io.open(path, "rb")
  if not f and errno ~= 2 then   -- anything but "no such file": history we cannot read
    log:close()
    return nil, "cannot read audit log " .. tostring(ferr)
  end
  if f then
    local data = f:read("*a")
    f:close()
    local lines, from = {}, 1
    while from <= #data do
      local nl = data:find("\n", from, true) or (#data + 1)
      lines[#lines + 1] = data:sub(from, nl - 1)
      from = nl + 1
    end
    for i, line in ipairs(lines) do
      if line:find("%S") then
        local e = json.decode(line)
        if type(e) ~= "table" or (e.event ~= "intent" and e.event ~= "result") then
          if i < #lines then
            log:close()
            return nil, string.format("%s:%d: not an audit entry (%s); the log is damaged: "
              .. "fix or move it before renewing again", path, i, line:sub(1, 60))
          end
          log.warnings[#log.warnings + 1] = string.format(
            "%s:%d: ignored a half-written last line (%d bytes)", path, i, #line)
        else
          entries[#entries + 1] = e
        end
      end
    end
    log.needs_newline = #data > 0 and data:sub(-1) ~= "\n"
  end
  log.state = fold(entries)
  return log
end

-- What the log says about this renewal: nil (never tried, or tried and
-- rejected), or "renewed" / "unknown" plus the intent and result entries.
function Log:status(cloud, product, id, period, run_id)
  local a = self.state[key{ cloud = cloud, product = product, id = id, period = period, run_id = run_id }]
  if not a then return nil end
  if not a.result then return "unknown", a.intent end
  local outcome = a.result.outcome
  if outcome == "renewed" or outcome == "unknown" then return outcome, a.intent, a.result end
  return nil, a.intent, a.result
end

function Log:append(entry)
  entry.time = iso_now()
  local line, err = json.encode(entry)
  if not line then return nil, "cannot encode audit entry: " .. tostring(err) end
  if self.needs_newline then line = "\n" .. line end
  local ok, werr = core.append_durable(self.path, line .. "\n")
  if not ok then return nil, werr end
  self.needs_newline = false
  return true
end

-- Before sending: returns the attempt id, or nil, err (then nothing may be sent).
function Log:intent(fields)
  local e = { event = "intent", attempt = core.random_hex(8) }
  for k, v in pairs(fields) do e[k] = v end
  local ok, err = self:append(e)
  if not ok then return nil, err end
  self.state[key(e)] = { intent = e }
  return e.attempt
end

function Log:result(attempt, fields)
  local e = { event = "result", attempt = attempt }
  for k, v in pairs(fields) do e[k] = v end
  local ok, err = self:append(e)
  if not ok then return nil, err end
  self.state[key(e)].result = e
  return true
end

-- Is v a log returned by open()?
function M.is(v)
  return getmetatable(v) == Log
end

function Log:close()
  if self.lock_handle then self.lock_handle:release(); self.lock_handle = nil end
end

return M

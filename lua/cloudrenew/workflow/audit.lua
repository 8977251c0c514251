-- The audit log: JSON lines, one "intent" before each renewal is sent and one
-- "result" after it, each appended with a single write and fsynced (core
-- append_durable, which cuts a short write back off). Reading it back tells a
-- re-run what was already done: a renewal whose intent has no result may have
-- been executed (the process died while it was in flight), so it is unknown,
-- never resent. A resource is keyed by cloud, product, id and run_id, not by
-- period: renewing it again in the same cycle must be a deliberate act (a new
-- run_id or log), never the side effect of a changed or differently-typed
-- period.
local core = require("cloudrenew.core")
local json = require("cloudrenew.client.json")
local runtime = require("cloudrenew.net.runtime")

local M = {}

local Log = {}
Log.__index = Log

-- Entry keys and shapes: cloudrenew.workflow.audit_entry.
local entry = require("cloudrenew.workflow.audit_entry")
local check, key, canon = entry.check, entry.key, entry.canon
M.SETTLED_BY = entry.SETTLED_BY

local function iso_now()
  local t = core.time()
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. string.format(".%03dZ", math.floor((t % 1) * 1000))
end

-- Add one checked entry to the log's state; nil, why when it contradicts the
-- entries before it (then the file was edited or written by something else).
function Log:_add(e)
  if e.event == "intent" then
    if self.attempts[e.attempt] then return nil, "attempt " .. e.attempt .. " is used twice" end
    local a = { intent = e }
    self.attempts[e.attempt] = a
    local k = key(e.cloud, e.product, e.id, e.run_id)
    local list = self.by_key[k] or {}
    self.by_key[k] = list
    list[#list + 1] = a
    -- Every attempt on one resource, whatever its run_id (status, reconcile).
    self.by_resource = self.by_resource or {}
    local rk = key(e.cloud, e.product, e.id, nil)
    self.by_resource[rk] = self.by_resource[rk] or {}
    table.insert(self.by_resource[rk], a)
    return true
  end
  local why = self:_follow_why(e)
  if why then return nil, why end
  self.attempts[e.attempt][e.event] = e
  return true
end

-- The outcome an attempt has now: its settle line's, else its confirm line's,
-- else its result's; no result at all is "unknown" (it may have been sent).
function M.effective(a)
  if a.settle then return a.settle.outcome end
  if a.confirm then return a.confirm.outcome end
  return a.result and a.result.outcome or "unknown"
end

-- May an attempt still be settled? Unknown ones, and accepted renewals no read
-- has confirmed yet (a CVM renewal can still fail after it was accepted).
function M.unsettled(a)
  local o = M.effective(a)
  if o == "unknown" then return true end
  return o == "renewed" and not a.settle and not (a.confirm and a.confirm.confirmed)
end

-- nil when a result, confirm or settle line e fits the attempt it names; else why not.
function Log:_follow_why(e)
  local a = self.attempts[e.attempt]
  if not a then return e.event .. " for attempt " .. e.attempt .. " has no intent before it" end
  for _, f in ipairs{ "cloud", "product", "id", "run_id" } do
    if e[f] ~= nil and e[f] ~= a.intent[f] then
      return e.event .. " for attempt " .. e.attempt .. " names another " .. f .. " than its intent"
    end
  end
  if a.settle then return "attempt " .. e.attempt .. " has a " .. e.event .. " after its settle line" end
  if e.event == "result" then
    if a.result then return "attempt " .. e.attempt .. " has a second result" end
  elseif e.event == "confirm" then
    if not a.result or a.result.outcome ~= "renewed" or a.confirm then
      return "confirm for attempt " .. e.attempt .. " does not follow exactly one renewed result"
    end
  elseif not M.unsettled(a) then
    return "settle for attempt " .. e.attempt .. " follows an outcome that was already certain"
  elseif e.settled_by == "settle_after" and (e.outcome ~= "failed" or M.effective(a) ~= "unknown") then
    return "settle_after only turns an unknown attempt into failed"
  end
  return nil
end

local function damaged(path, n, why)
  return string.format("%s:%d: %s; the log is damaged: fix or move it before renewing again", path, n, why)
end

-- Parse the whole file. Only a torn write may be dropped: a last line with no
-- newline that is not complete JSON (the append that wrote it never finished,
-- so nothing was sent for it). Anything else wrong, on any line, refuses:
-- guessing could pay twice. Returns the torn tail's length and line number.
function Log:_load(data)
  local from, n = 1, 0
  while true do
    local nl = data:find("\n", from, true)
    if not nl then break end
    n = n + 1
    local line = data:sub(from, nl - 1)
    from = nl + 1
    if line:find("%S") then
      local e = json.decode(line)
      local why
      if type(e) == "table" then why = check(e) else why = "not an audit entry (" .. line:sub(1, 60) .. ")" end
      if why then return nil, damaged(self.path, n, why) end
      local ok, cerr = self:_add(e)
      if not ok then return nil, damaged(self.path, n, cerr) end
    end
  end
  local tail = data:sub(from)
  if tail:find("%S") and json.decode(tail) ~= nil then
    return nil, damaged(self.path, n + 1, "a complete line without its final newline is not a torn write"
      .. " (a hand edit?): add the newline to keep it, or delete it")
  end
  return #tail, n + 1
end

-- Open (or prepare to create) the log at path. opts.lock: take the log's lock
-- first (one run at a time per log: two overlapping cron runs would both see
-- "not renewed yet" and both pay); only then is a torn last line cut off.
function M.open(path, opts)
  local log = setmetatable({ path = path, warnings = {}, attempts = {}, by_key = {},
    writes = { count = 0, lines = 0, seconds = 0, longest = 0 } }, Log)
  -- Only a regular file (or nothing yet, to create): a directory cannot be read
  -- as a log, a FIFO would hang the run, a device is not a log.
  local kind, kerr = core.file_kind(path)
  if not kind then return nil, kerr end
  if kind ~= "file" and kind ~= "missing" then
    return nil, string.format("%s is a %s: the audit log must be a regular file (or a path to create)", path,
      kind == "other" and "device or socket" or kind)
  end
  if opts and opts.lock then
    local lock, err, busy = core.lock(path)
    if not lock then
      return nil, busy and (err .. ": another run is using this log; let it finish, then run again") or err, busy
    end
    log.lock_handle = lock
  end
  local f, ferr, errno = io.open(path, "rb")
  if not f and errno ~= 2 then   -- anything but "no such file": history we cannot read
    log:close()
    return nil, "cannot read audit log " .. tostring(ferr)
  end
  log.size, log.mine = 0, {}
  if f then
    local data = f:read("*a")
    f:close()
    local torn, n = log:_load(data)
    if not torn then log:close(); return nil, n end
    log.size = #data - torn   -- what was read: later lines are re-read before a settle
    if torn > 0 then
      if log.lock_handle then
        local ok, terr = core.truncate_tail(path, #data, #data - torn)
        if not ok then log:close(); return nil, terr end
        log.warnings[#log.warnings + 1] = string.format("%s:%d: cut off a torn last line (%d bytes; "
          .. "its append never finished, so nothing was sent for it)", path, n, torn)
      else
        log.torn = string.format("%s:%d: a torn last line (%d bytes) is ignored; a run that locks the log "
          .. "cuts it off", path, n, torn)
        log.warnings[#log.warnings + 1] = log.torn
      end
    end
  end
  return log
end

-- What the log says about this resource in this run: "renewed" or "unknown"
-- (plus the intent and result entries) when any attempt renewed it or may
-- have, whatever its period; nil when never tried, or only tried and refused.
function Log:status(cloud, product, id, run_id)
  local list = self.by_key[key(cloud, product, id, run_id)]
  if not list then return nil end
  local best, rank = list[#list], 0
  for _, a in ipairs(list) do
    local o = M.effective(a)
    local r = (o == "renewed" and 2) or (o == "unknown" and 1) or 0
    if r >= rank then best, rank = a, r end
  end
  if rank == 2 then return "renewed", best.intent, best.result, best end
  if rank == 1 then return "unknown", best.intent, best.result, best end
  return nil, best.intent, best.result, best
end

-- Every attempt on one resource across run_ids, oldest first: { intent,
-- result, confirm, settle } (read them with M.effective / M.unsettled).
function Log:history(cloud, product, id)
  local list = self.by_resource and self.by_resource[key(cloud, product, id, nil)] or {}
  local out = {}
  for i, a in ipairs(list) do out[i] = a end
  return out
end

-- One line, only if the reader would accept it back. After any failed write
-- the log takes no more intents: nothing more is sent in this run.
-- entry -> its line (time stamped, checked, encoded), or nil, why.
function Log:_line(entry)
  if self.torn then return nil, self.torn .. ": open the log with its lock to append" end
  entry.time = iso_now()
  local why = check(entry)
  if why then return nil, "cannot record " .. tostring(entry.id) .. ": " .. why end
  local line, err = json.encode(entry)
  if not line then return nil, "cannot encode audit entry: " .. tostring(err) end
  return line .. "\n"
end

function Log:append(entry)
  local line, why = self:_line(entry)
  if not line then return nil, why end
  -- Group commit (the workflow's pipeline turns it on): lines written by
  -- concurrent renewals at one moment share one write and one fsync; each
  -- caller still returns only once its own line is durable.
  if self.group and entry.event ~= "settle" and runtime.can_yield() then
    local batch = self.batch
    if batch then   -- a leader is gathering: join it and wait for its write
      batch[#batch + 1] = line
      local deadline = core.monotonic() + M.GROUP_WAIT
      while not batch.done and core.monotonic() < deadline do runtime.yield() end
      -- A leader that never came back (its coroutine or light thread was
      -- dropped) must not hold the others' lines: the first follower past the
      -- deadline writes the batch itself; a leader coming back later finds it done.
      if not batch.done then M._write_batch(self, batch) end
      if not batch.ok then return nil, batch.err end
      return true
    end
    batch = { line }
    self.batch = batch
    runtime.yield()   -- the others ready now add theirs
    if not batch.done then M._write_batch(self, batch) end
    if not batch.ok then return nil, batch.err end
    return true
  end
  return self:_write({ line })
end

-- How long a follower waits for its leader's write (seconds): far past any
-- scheduler turn, well short of anything a run would notice.
M.GROUP_WAIT = 5

-- Write a gathered batch once, whoever gets there first.
function M._write_batch(log, batch)
  if log.batch == batch then log.batch = nil end
  batch.ok, batch.err = log:_write(batch)
  batch.done = true
end

-- One write and one fsync of lines (core append_durable); counted in
-- self.writes (count, lines, seconds, longest) for the report.
function Log:_write(lines)
  local data = #lines == 1 and lines[1] or table.concat(lines)
  local t0 = core.monotonic()
  local ok, werr = core.append_durable(self.path, data)
  local took = core.monotonic() - t0
  local w = self.writes
  w.count, w.lines, w.seconds = w.count + 1, w.lines + #lines, w.seconds + took
  if took > w.longest then w.longest = took end
  if ok and self.mine then   -- known already when the tail is re-read
    for _, l in ipairs(lines) do self.mine[l] = true end
  end
  if not ok then
    if not self.failed then
      self.failed = werr
      self.warnings[#self.warnings + 1] = "audit log write failed: " .. werr .. "; renewals stopped for the rest of"
        .. " this run (nothing more sent; a re-run with room renews the rest, none twice)"
    end
    return nil, werr
  end
  return true
end

-- A server's answer may put anything in a request id or order: the log keeps
-- strings only (numbers in canonical form), so it can always be read back.
local function text(v)
  if v == nil or type(v) == "string" then return v ~= "" and v or nil end
  return canon(v)
end

-- Before sending: returns the attempt id, or nil, err (then nothing may be sent).
function Log:intent(fields)
  if self.failed then return nil, "an earlier audit log write failed in this run (" .. self.failed .. ")" end
  local e = { event = "intent", attempt = core.random_hex(8) }
  for k, v in pairs(fields) do e[k] = v end
  local ok, err = self:append(e)
  if not ok then return nil, err end
  assert(self:_add(e))
  return e.attempt
end

function Log:result(attempt, fields)
  local e = { event = "result", attempt = attempt }
  for k, v in pairs(fields) do e[k] = v end
  e.request_id, e.order = text(e.request_id), text(e.order)
  if e.error ~= nil then e.error = { code = text(e.error.code), message = text(e.error.message) } end
  local ok, err = self:append(e)
  if not ok then return nil, err end
  assert(self:_add(e))
  return true
end

-- After a result: what the read API confirmed (cloudrenew.confirm), or how an
-- unknown or unconfirmed attempt was settled (cloudrenew.settle). Refused,
-- nothing written, when the line would contradict the attempt's history.
-- Read what others appended since this log was read (another settler, another
-- program) into its state; lines this log wrote itself are skipped.
function Log:_refresh()
  local f = io.open(self.path, "rb")
  if not f then return true end
  f:seek("set", self.size or 0)
  local data = f:read("*a") or ""
  f:close()
  local from = 1
  while true do
    local nl = data:find("\n", from, true)
    if not nl then break end
    local line = data:sub(from, nl)
    from = nl + 1
    if self.mine[line] then
      self.mine[line] = nil
    elseif line:find("%S") then
      local e = json.decode(line)
      local why = type(e) == "table" and check(e) or "not an audit entry"
      if not why then
        local ok, aerr = self:_add(e)
        if not ok then why = aerr end
      end
      if why then return nil, "the log changed under this run (" .. why .. "): nothing recorded" end
    end
    self.size = (self.size or 0) + #line
  end
  return true
end

local function follow(self, event, attempt, fields)
  local e = { event = event, attempt = attempt }
  for k, v in pairs(fields) do e[k] = v end
  e.request_id, e.order = text(e.request_id), text(e.order)
  if e.error ~= nil then e.error = { code = text(e.error.code), message = text(e.error.message) } end
  -- A settle line decides an attempt once: it is written under the log's lock
  -- (taken for this append when the log was opened without it) and only after
  -- reading what another settler may have written since.
  local lock
  if event == "settle" and self.mine then
    if not self.lock_handle then
      local lerr, busy
      lock, lerr, busy = core.lock(self.path)
      if not lock then
        return nil, busy and (self.path .. " is locked by another running process: this settle is not recorded"
          .. " (run again when it has finished)") or lerr
      end
    end
    local ok, rerr = self:_refresh()
    if not ok then
      if lock then lock:release() end
      return nil, rerr
    end
  end
  local why = self:_follow_why(e)
  local ok, err
  if why then ok, err = nil, why else ok, err = self:append(e) end
  if lock then lock:release() end
  if not ok then return nil, err end
  assert(self:_add(e))
  return true
end

function Log:confirm(attempt, fields) return follow(self, "confirm", attempt, fields) end

-- Many confirm lines, { { attempt, fields }, ... }, in one write and one fsync
-- (a confirmation round's verdicts): { { true } | { nil, err } } in that order.
function Log:confirm_many(list)
  local out, lines, entries = {}, {}, {}
  for i, x in ipairs(list) do
    local e = { event = "confirm", attempt = x[1] }
    for k, v in pairs(x[2]) do e[k] = v end
    if e.error ~= nil then e.error = { code = text(e.error.code), message = text(e.error.message) } end
    local line, why = nil, self:_follow_why(e)
    if not why then line, why = self:_line(e) end
    if line then
      lines[#lines + 1], entries[#entries + 1] = line, { i, e }
    else
      out[i] = { nil, why }
    end
  end
  if #lines > 0 then
    local ok, werr = self:_write(lines)
    for _, p in ipairs(entries) do
      if ok then assert(self:_add(p[2])); out[p[1]] = { true } else out[p[1]] = { nil, werr } end
    end
  end
  return out
end
function Log:settle(attempt, fields) return follow(self, "settle", attempt, fields) end

-- Is v a log returned by open()?
function M.is(v)
  return getmetatable(v) == Log
end

function Log:close()
  if self.lock_handle then self.lock_handle:release(); self.lock_handle = nil end
end

return M

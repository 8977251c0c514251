-- The renewal ledger in Redis (docs/many-hosts.md): a fenced lease per
-- (cloud, account, product, run_id) so one host at a time renews a run, and
-- every intent and result mirrored next to the local audit log, so a run on
-- host B sees what host A renewed or may have renewed and never sends it
-- again. One server-side script does every step atomically; every write checks
-- the lease (token and fencing number) and the epoch (a marker that tells a
-- Redis that lost its data from one that never had any).
local core = require("cloudrenew.core")
local errors = require("cloudrenew.client.errors")
local redis = require("cloudrenew.redis")
local runtime = require("cloudrenew.net.runtime")

local M = {}

-- KEYS: lease, fence, ledger (hash id -> "state attempt price currency"),
-- events (list of entries), epoch. ARGV: op, epoch, lease value | token, ttl_ms, ...
M.SCRIPT = [[
local op, epoch, lv, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local cur = redis.call('GET', KEYS[5])
if op == 'open' then
  if epoch ~= '' and cur ~= epoch then return {'wiped', cur or ''} end
  if not cur then
    -- a new epoch says when Redis (new, restarted or flushed) started afresh
    if redis.replicate_commands then pcall(redis.replicate_commands) end
    local t = redis.call('TIME')
    cur = ARGV[5] .. '/' .. string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
    redis.call('SET', KEYS[5], cur)
  end
  if ARGV[6] == 'peek' then return {'ok', cur, '', '0', redis.call('HGETALL', KEYS[3])} end
  -- Within one lease_ttl of a fresh epoch only a holder from before (retake)
  -- may take the lease: every other host gives it that long to re-seed.
  local born = tonumber(cur:match('/(%d+)$') or '')
  if born and ARGV[6] ~= 'retake' then
    local t = redis.call('TIME')
    local age = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - born
    if age >= 0 and age < ttl then return {'young', ttl - age, cur} end
  end
  local held = redis.call('GET', KEYS[1])
  local mine = held and held:sub(1, #lv + 1) == lv .. '/'
  if held and not mine then return {'busy', redis.call('PTTL', KEYS[1]), cur} end
  if not mine then held = lv .. '/' .. redis.call('INCR', KEYS[2]) end
  redis.call('SET', KEYS[1], held, 'PX', ttl)
  for i = 7, #ARGV, 2 do       -- re-seed after a wipe: fill gaps, settle own intents
    local old = redis.call('HGET', KEYS[3], ARGV[i])
    local a = ARGV[i + 1]:match('^%S+ (%S+)')
    if not old or (old:match('^intent (%S+)') == a) then redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
  end
  return {'ok', cur, held, held:match('/(%d+)$'), redis.call('HGETALL', KEYS[3])}
end
if cur ~= epoch then return {'wiped', cur or ''} end
local held = redis.call('GET', KEYS[1])
if op == 'release' then
  if held == lv then redis.call('DEL', KEYS[1]) end
  return {'ok'}
end
if held ~= lv then return {'lost', held and 'held' or 'expired'} end
redis.call('PEXPIRE', KEYS[1], ttl)
if op == 'keepalive' then return {'ok'} end
local id, value = ARGV[5], ARGV[6]
local state, attempt = value:match('^(%S+) (%S+)')
local old = redis.call('HGET', KEYS[3], id)
if op == 'intent' then
  if old and old:match('^%S+ (%S+)') ~= attempt and not old:find('^failed ') then return {'taken', old} end
elseif not (old and old:match('^%S+ (%S+)') == attempt) then
  return {'taken', old or ''}
end
redis.call('HSET', KEYS[3], id, value)
redis.call('RPUSH', KEYS[4], ARGV[7])
redis.call('PEXPIRE', KEYS[4], 90 * 86400000)
redis.call('PEXPIRE', KEYS[3], 90 * 86400000)
return {'ok'}
]]

local Ledger = {}
Ledger.__index = Ledger

local function fail(kind, msg)
  return nil, errors.client(kind, msg, { outcome = "not_executed", retryable = true })
end

local function pairs_of(list)
  local t = {}
  for i = 1, #list - 1, 2 do t[list[i]] = list[i + 1] end
  return t
end

-- "state attempt price currency" -> state, attempt, price, currency
local function parse(v)
  local s, a, p, c = tostring(v):match("^(%S+) (%S+) (%S+) (%S+)")
  return s, a, p ~= "-" and p or nil, c ~= "-" and c or nil
end
M.parse = parse

-- Is r an answer the script can give to op? Anything else (a wrong-typed,
-- hostile or foreign answer) is an error: nil, err, and nothing is sent.
local function shaped(op, r)
  if type(r) ~= "table" or type(r[1]) ~= "string" then return false end
  local s = r[1]
  if s == "ok" then
    if op ~= "open" then return true end
    if type(r[2]) ~= "string" or type(r[3]) ~= "string" or type(r[5]) ~= "table" or #r[5] % 2 ~= 0 then return false end
    if type(r[4]) ~= "string" and type(r[4]) ~= "number" then return false end
    if r[3] ~= "" and not r[3]:find("/%d+$") then return false end
    for _, v in ipairs(r[5]) do if type(v) ~= "string" then return false end end
    return true
  elseif s == "wiped" or s == "lost" or s == "taken" then
    return type(r[2]) == "string"
  elseif s == "busy" or s == "young" then
    return type(r[2]) == "number" and type(r[3]) == "string"
  end
  return false
end

function Ledger:_eval(op, extra)
  local args = { op, self.epoch or "", op ~= "open" and self.lease or self.token, tostring(math.floor(self.cfg.lease_ttl * 1000)) }
  for _, v in ipairs(extra or {}) do args[#args + 1] = v end
  local r, err = self.conn:eval(M.SCRIPT, self.keys, args)
  if not shaped(op, r) then
    return nil, "Redis ledger (" .. self.cfg.url .. "): " .. tostring(err or "unexpected answer")
  end
  return r
end

-- Take (or, after a wipe or a lost lease, take back) the lease; seed Redis
-- with what this run knows. Waits up to `wait` s for another host's lease
-- (and for Redis itself, should it be restarting).
function Ledger:_open(wait)
  local deadline = core.monotonic() + (wait or 0)
  while true do
    local seeds = { core.random_hex(8), self.peek and "peek" or self.lease and "retake" or "lease" }
    for id, v in pairs(self.known) do seeds[#seeds + 1] = id; seeds[#seeds + 1] = v end
    local r, err = self:_eval("open", seeds)
    local now = core.monotonic()
    if r and r[1] == "ok" then
      self.epoch, self.lease, self.fence = r[2], r[3] ~= "" and r[3] or nil, tonumber(r[4])
      self.remote = pairs_of(r[5] or {})
      -- what this host read is re-seeded after a wipe as what it wrote is
      -- (gaps only: an entry Redis still holds is never overwritten by it)
      if not self.peek then
        for id, v in pairs(self.remote) do self.known[id] = v end
      end
      self.alive_at = now
      return true
    end
    local pause = 0.1
    if not r then
      if now + pause > deadline then return fail("Redis", err) end
      self.conn.retry_at = 0
    elseif r[1] == "wiped" then
      -- Redis lost its data since we last looked. A holder takes its lease
      -- back and re-seeds at once; anyone else meets the young epoch next.
      self.epoch, pause = nil, 0
    elseif r[1] == "young" then
      -- Redis started afresh (new, restarted or flushed) less than lease_ttl
      -- ago: a holder from before may still be re-seeding what it wrote or
      -- read. Every host but that holder waits until the epoch is lease_ttl old.
      self.epoch = r[3] ~= "" and r[3] or nil
      pause = math.max((tonumber(r[2]) or 0) / 1000, 0.01)
      if now + pause > deadline then
        return fail("Lease", string.format("Redis has had no record of this run for less than redis.lease_ttl (new,"
          .. " restarted or flushed): another host may still re-seed it; waiting %.1f s more would pass"
          .. " redis.lease_wait (nothing sent; run again then, or raise lease_wait)", pause))
      end
    else       -- busy: remember the epoch, so a wipe while we wait is seen
      self.epoch = self.epoch or (r[3] ~= "" and r[3] or nil)
      if now + pause > deadline then
        return fail("Lease", string.format("another host holds the lease of this run (%s, %s, run_id %s) for "
          .. "%.1f s more: let it finish (or wait with redis.lease_wait)", self.cloud, self.product,
          self.run_id or "none", (tonumber(r[2]) or 0) / 1000))
      end
    end
    if pause > 0 then runtime.sleep(pause) end
  end
end

-- Write one ledger entry under the lease. Redis gone, restarted (its data
-- lost) or the lease lost: take the lease back (waiting up to lease_ttl for
-- Redis to answer), re-seed what this run knows, then write again.
function Ledger:_write(op, id, value, entry)
  for _ = 1, 3 do
    local r = self:_eval(op, { id, value, entry })
    if r and r[1] == "ok" then
      self.known[id] = value
      self.alive_at = core.monotonic()
      return true
    end
    if r and r[1] == "taken" then return nil, "taken", r[2] end
    local ok, oerr = self:_open(r and 0 or self.cfg.lease_ttl)
    if not ok then
      self.dirty = true
      return nil, oerr
    end
  end
  self.dirty = true
  return fail("Lease", "the lease of this run was lost and could not be taken back")
end

-- Open the ledger of a run. opts.peek: read only, no lease (dry runs).
-- Returns the ledger, or nil and a ClientError (Redis, Lease).
function M.open(client, product, run_id, opts)
  local cfg = client.options.redis
  local run = table.concat({ client.cloud, redis.hash_id(client.key_id), product, run_id or "" }, "|")
  local tag = cfg.prefix .. "run:{" .. core.sha256_hex(run):sub(1, 24) .. "}:"
  local l = setmetatable({ cfg = cfg, conn = redis.conn(cfg), token = core.random_hex(16), known = {}, warnings = {},
    cloud = client.cloud, product = product, run_id = run_id, peek = opts and opts.peek,
    keys = { tag .. "lease", tag .. "fence", tag .. "ledger", tag .. "events", cfg.prefix .. "epoch" } }, Ledger)
  local ok, err = l:_open(cfg.lease_wait)
  if not ok then return nil, err end
  return l
end

-- What Redis says about id: "renewed" | "unknown" (an intent without result,
-- or an unknown result) | nil (never tried, or only failed), price, currency.
function Ledger:status(id)
  local v = self.remote[id]
  if not v then return nil end
  local s, _, price, currency = parse(v)
  if s == "renewed" then return "renewed", price, currency end
  if s == "intent" or s == "unknown" then return "unknown", price, currency end
  return nil
end

-- Before sending: true, or nil, "taken", state (another host has it) or nil, err.
function Ledger:intent(id, attempt, price, currency, entry)
  return self:_write("intent", id, table.concat({ "intent", attempt, price or "-", currency or "-" }, " "), entry)
end

function Ledger:result(id, attempt, outcome, price, currency, entry)
  return self:_write("result", id, table.concat({ outcome, attempt, price or "-", currency or "-" }, " "), entry)
end

-- Extend the lease during long phases (at most every lease_ttl / 3).
function Ledger:keepalive()
  if self.peek or not self.lease or core.monotonic() - (self.alive_at or 0) < self.cfg.lease_ttl / 3 then return end
  local r = self:_eval("keepalive")
  if r and r[1] == "ok" then self.alive_at = core.monotonic()
  elseif r and (r[1] == "wiped" or r[1] == "lost") then self:_open(0) end
end

-- For the workflow's resume step: status and an intent-like table, when
-- another host renewed id or may have (nil when Redis knows nothing of it).
function Ledger:resumed(id)
  local s, price, currency = self:status(id)
  if not s then return nil end
  return s, { price = price, currency = currency, attempt = "in the Redis ledger", time = "another run" }
end

local function entry(event, o, it, attempt, extra)
  local e = { event = event, attempt = attempt, cloud = o.client.cloud, product = o.product, id = it.id,
              run_id = o.run_id, period = o.period, time = string.format("%.3f", core.time()) }
  for k, v in pairs(extra or {}) do e[k] = v end
  local ok, line = pcall(require("cloudrenew.client.json").encode, e)
  return ok and line or "{}"
end

local money = require("cloudrenew.workflow.money")

-- One field of a ledger value: no space, bounded, "-" for none.
local function field(v)
  v = v ~= nil and tostring(v) or ""
  if v == "" or #v > 64 or v:find("%s") then return "-" end
  return v
end

-- An intent's value: "intent attempt price currency expires_before token
-- time period k=v..." (the first four are what every reader parses; k=v: what the
-- product records to re-send with the same parameters, e.g. product_code, so
-- another host can settle a lost answer by its ClientToken).
local function intent_value(attempt, price, currency, it, o, token)
  local t = { "intent", attempt, field(price), field(currency), field(it.expires_before), field(token),
    os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(core.time())), field(o.period) }
  local p = require("cloudrenew.products").get(o.product)
  local rec = p and p.record and p.record(it) or {}
  local keys = {}
  for k in pairs(rec) do if type(k) == "string" and k:find("^[%a_]+$") then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do t[#t + 1] = k .. "=" .. field(rec[k]) end
  return table.concat(t, " ")
end

-- Before sending it (after the pre-send read): the attempt id, or nil after
-- setting it.outcome (another host has it: renewed/unknown, resumed; Redis or
-- the lease failed: failed, nothing sent).
function Ledger:claim(it, o, token)
  local attempt = core.random_hex(8)
  local price = it.price_cents and money.format(it.price_cents) or nil
  local ok, why, state = self:_write("intent", it.id, intent_value(attempt, price, it.currency, it, o, token),
    entry("intent", o, it, attempt, { price = price, currency = it.currency, fence = self.fence,
      expires_before = it.expires_before, client_token = token }))
  if ok then return attempt end
  if why == "taken" then
    local s = parse(state)
    it.resumed, it.outcome = true, s == "renewed" and "renewed" or "unknown"
    if it.outcome == "unknown" then
      it.error = errors.client("Unknown", "another host sent this renewal and its outcome is unknown"
        .. " (Redis ledger): check the " .. o.client.cloud .. " console before renewing it again", { outcome = "unknown" })
    end
    return nil
  end
  it.outcome, it.error = "failed", why
  return nil
end

-- After the answer (or after the local audit log refused the intent: failed).
function Ledger:settle(it, attempt, o)
  local outcome = it.outcome == "renewed" and "renewed" or it.outcome == "unknown" and "unknown" or "failed"
  local price = it.price_cents and money.format(it.price_cents) or nil
  local ok, why = self:result(it.id, attempt, outcome, price, it.currency,
    entry("result", o, it, attempt, { outcome = outcome, request_id = it.request_id, fence = self.fence }))
  if not ok then
    self.warnings[#self.warnings + 1] = "result for " .. it.id .. " not recorded in Redis (" .. tostring(why)
      .. "): other hosts see it as possibly renewed and will not send it"
  end
end

-- Settle an intent only the ledger knows (another host's, or one a dead host
-- left) by the proofs cloudrenew.workflow.settle takes for our own: the
-- expiry moved past the one the claim recorded, a Volcengine re-send with its
-- ClientToken, or (opt-in) settle_after with the expiry unmoved. The verdict
-- is written to the ledger under our lease. Returns settle.attempt's answer,
-- or nil when the ledger holds nothing to settle for id.
function Ledger:settle_remote(client, product, id, opts)
  local v = self.remote[id]
  if self.peek or not self.lease or type(v) ~= "string" then return nil end
  local s, attempt, price, currency = parse(v)
  if s ~= "intent" and s ~= "unknown" then return nil end
  local f, n = {}, 0
  for w in v:gmatch("%S+") do
    n = n + 1
    if w ~= "-" then f[n] = w end
  end
  local intent = { cloud = client.cloud, product = product, id = id, attempt = attempt, run_id = self.run_id,
    expires_before = f[5], client_token = f[6], time = f[7], period = tonumber(f[8]) }
  for i = 9, n do   -- the product's own k=v (ledger values written before them have none)
    local k, val = (f[i] or ""):match("^([%a_]+)=(.+)$")
    if k and val ~= "-" and intent[k] == nil then intent[k] = val end
  end
  if s == "unknown" then return nil end    -- a result "unknown": its sender's log has the detail
  local me = self
  local sink = { settle = function(_, _, e)
    local value = table.concat({ e.outcome, attempt, price or "-", currency or "-" }, " ")
    local ok, why = me:_write("result", id, value, entry("result", { client = client, product = product,
      run_id = me.run_id, period = intent.period }, { id = id }, attempt, { outcome = e.outcome,
      settled_by = e.settled_by, request_id = e.request_id, fence = me.fence }))
    if not ok then return nil, why end
    me.remote[id] = value
    return true
  end }
  return require("cloudrenew.workflow.settle").attempt(sink, client, { intent = intent }, opts)
end

-- Compare-and-delete: only our own lease is released. Warnings go to the
-- audit log's list (the report's audit.warnings) when there is one.
function Ledger:close(log)
  -- a write failed: before leaving, give Redis one lease_ttl to take our record
  if self.dirty and self.lease and not self.peek and not self:_open(self.cfg.lease_ttl) then
    self.warnings[#self.warnings + 1] = "the Redis ledger may lack this run's last entries: other hosts"
      .. " rely on their own audit logs for them"
  end
  if self.lease and not self.peek then self:_eval("release") end
  self.lease = nil
  if log then
    for _, w in ipairs(self.warnings) do log.warnings[#log.warnings + 1] = w end
  end
end

return M

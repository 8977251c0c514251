-- Per-action request metrics from the clients' on_response hook (issue 24):
-- requests by HTTP status, throttles, and histograms of the request duration
-- and of the pacing wait before it.
--
--   local col = require("cloudrenew.metrics").collector()
--   local tc = cloudrenew.tencent{ ..., on_response = col.hook }
--   ... col:render() (or metrics.render{ collector = col })
--
-- Label values come from the catalogue (cloud, service, action) and the HTTP
-- status; an error code from a server is never a label (it is server text).
-- At most MAX_SERIES label sets are kept; the rest count under action="other".
local policy = require("cloudrenew.client.policy")

local M = {}

M.MAX_SERIES = 500
-- Seconds. Requests take ~0.05-2 s; pacing waits run from 0 to the rate's period
-- and up to minutes when a limit is shared by many hosts.
M.DURATION_BUCKETS = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 }
M.WAIT_BUCKETS = { 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60 }

local Col = {}
Col.__index = Col

function M.new()
  local self = setmetatable({ series = {}, n = 0 }, Col)
  -- the hook as a plain function, so it can be passed as on_response
  self.hook = function(info) return self:observe(info) end
  return self
end

local function hist(buckets)
  local h = { count = 0, sum = 0, buckets = {} }
  for i = 1, #buckets do h.buckets[i] = 0 end
  return h
end

local function put(h, bounds, v)
  h.count, h.sum = h.count + 1, h.sum + v
  for i, b in ipairs(bounds) do
    if v <= b then h.buckets[i] = h.buckets[i] + 1 end
  end
end

function Col:observe(info)
  if type(info) ~= "table" then return end
  local metrics = require("cloudrenew.metrics")
  local cloud = metrics.safe(info.cloud) or "unknown"
  local service = metrics.safe(info.service) or "unknown"
  local action = metrics.safe(info.action) or "unknown"
  local key = cloud .. "|" .. service .. "|" .. action
  local s = self.series[key]
  if not s then
    if self.n >= M.MAX_SERIES then
      service, action, key = "other", "other", cloud .. "|other|other"
      s = self.series[key]
    end
    if not s then
      s = { cloud = cloud, service = service, action = action, status = {}, throttled = 0,
            duration = hist(M.DURATION_BUCKETS), wait = hist(M.WAIT_BUCKETS) }
      self.series[key] = s
      self.n = self.n + 1
    end
  end
  local st = math.type and math.type(info.status) and info.status
    or (type(info.status) == "number" and info.status == math.floor(info.status) and info.status)
  local status = st and st >= 100 and st <= 599 and string.format("%d", st) or "none"
  -- Tencent answers errors with HTTP 200: the result says what it was
  local result = "ok"
  if info.error_code then
    if policy.is_throttle(info.error_code, info.status) then
      result = "throttled"
      s.throttled = s.throttled + 1
    elseif status == "none" then
      result = "no_answer"
    else
      result = "error"
    end
  end
  local k = status .. "|" .. result
  s.status[k] = (s.status[k] or 0) + 1
  if type(info.duration) == "number" and info.duration == info.duration and info.duration >= 0 then
    put(s.duration, M.DURATION_BUCKETS, info.duration)
  end
  if type(info.pacing_wait) == "number" and info.pacing_wait == info.pacing_wait and info.pacing_wait >= 0 then
    put(s.wait, M.WAIT_BUCKETS, info.pacing_wait)
  end
end

local KEYS = { "cloud", "service", "action" }

local function add_hist(set, name, s, h, bounds)
  local l = { cloud = s.cloud, service = s.service, action = s.action }
  local keys = { "cloud", "service", "action", "le" }
  for i, b in ipairs(bounds) do
    l.le = require("cloudrenew.metrics").num(b)
    set:sample(name, l, keys, h.buckets[i], "_bucket")
  end
  l.le = "+Inf"
  set:sample(name, l, keys, h.count, "_bucket")
  l.le = nil
  set:sample(name, l, KEYS, h.sum, "_sum")
  set:sample(name, l, KEYS, h.count, "_count")
end

-- Add this collector's families to a metrics set (cloudrenew.metrics).
function Col:add_to(set)
  set:family("cloudrenew_requests_total", "counter", "Cloud API requests (attempts) by action, HTTP status"
    .. " (\"none\": no answer) and result (ok, error, throttled, no_answer).")
  set:family("cloudrenew_throttled_requests_total", "counter", "Requests the cloud answered with a throttling error.")
  set:family("cloudrenew_request_duration_seconds", "histogram", "Time from sending a request to its answer.")
  set:family("cloudrenew_pacing_wait_seconds", "histogram", "Time a request waited for its action's rate limit.")
  local keys = {}
  for k in pairs(self.series) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local s = self.series[k]
    local statuses = {}
    for st in pairs(s.status) do statuses[#statuses + 1] = st end
    table.sort(statuses)
    for _, k in ipairs(statuses) do
      local st, result = k:match("^(.-)|(.*)$")
      set:sample("cloudrenew_requests_total", { cloud = s.cloud, service = s.service, action = s.action, status = st,
        result = result }, { "cloud", "service", "action", "status", "result" }, s.status[k])
    end
    set:sample("cloudrenew_throttled_requests_total", s, KEYS, s.throttled)
    add_hist(set, "cloudrenew_request_duration_seconds", s, s.duration, M.DURATION_BUCKETS)
    add_hist(set, "cloudrenew_pacing_wait_seconds", s, s.wait, M.WAIT_BUCKETS)
  end
end

function Col:render()
  local metrics = require("cloudrenew.metrics")
  local set = metrics.set()
  self:add_to(set)
  return set:render()
end

return M

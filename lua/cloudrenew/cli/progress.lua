-- The CLI's progress line (issue 24 part 4): per group, what is priced and
-- renewed so far, the rate, and the time left. Pacing makes the time left
-- predictable: requests left / the action's paced rate (documented limit x
-- pacing headroom, or the client's rate_limits), taken for each phase (they
-- overlap: the slower one sets the end), plus a confirmation round at the end.
-- Printed to stderr on a terminal only, unless asked (--progress).
local catalog = require("cloudrenew.client.catalog")
local core = require("cloudrenew.core")
local pacing = require("cloudrenew.pacing")

local M = {}

-- The paced rate (requests/s) of "service Action" for this client, or nil.
local function paced(client, route)
  if not client or type(route) ~= "string" then return nil end
  local service, action = route:match("^(%S+)%s+(%S+)$")
  local spec = service and catalog.find(client.cloud, service, action)
  local r = spec and pacing.rate(client, spec)
  return r and r > 0 and r * pacing.HEADROOM or nil
end
M.paced = paced

local function clock(s)
  if s == nil then return "?" end
  s = math.floor(s + 0.5)
  if s < 60 then return s .. "s" end
  local f = math.floor
  if s < 3600 then return string.format("%dm%02ds", f(s / 60), s % 60) end
  return string.format("%dh%02dm", f(s / 3600), f(s % 3600 / 60))
end
M.clock = clock

-- on_progress for one group: err (a file), name, client, product module p,
-- confirm options (false/nil: off), now (a clock, for specs).
function M.new(err, name, client, p, confirm, now)
  now = now or core.monotonic
  local t0 = now()
  local phases = {
    inquire = { rate = paced(client, p and p.inquiry), per = p and p.batch or 1 },
    renew = { rate = paced(client, p and p.route), per = 1 },
  }
  local function left()
    local worst = 0
    for _, ph in pairs(phases) do
      if ph.total and ph.done < ph.total then
        local requests = math.ceil((ph.total - ph.done) / ph.per)
        local rate = ph.rate
        if not rate and ph.done > 0 then rate = ph.done / ph.per / math.max(now() - t0, 0.001) end
        if not rate then return nil end
        worst = math.max(worst, requests / rate)
      end
    end
    -- the renewals' last confirmation round: about a round trip after the last one
    if confirm and phases.renew.total and phases.renew.done < phases.renew.total then worst = worst + 1 end
    return worst
  end
  return function(phase, done, total)
    local ph = phases[phase]
    if not ph then return end
    ph.done, ph.total = done, total
    local parts = {}
    if phases.inquire.total then parts[#parts + 1] = string.format("priced %d/%d", phases.inquire.done, phases.inquire.total) end
    if phases.renew.total then parts[#parts + 1] = string.format("renewed %d/%d", phases.renew.done, phases.renew.total) end
    local el = now() - t0
    local r = phases.renew.total and phases.renew.done > 0 and phases.renew.done / math.max(el, 0.001)
    err:write(string.format("\r\27[K%s: %s%s, %s left", name, table.concat(parts, ", "),
      r and string.format(" (%.1f/s)", r) or "", clock(left())))
    err:flush()
  end
end

return M

-- Handlers for spec/openresty_redis_spec.lua: Redis-shared pacing inside nginx
-- workers. APP_CFG (init_by_lua) as for ngx_app, plus APP_CFG.redis (a URL).
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.client.json")
local app = require("support.ngx_app")

local M = {}

local function cfg() return APP_CFG end   -- luacheck: ignore (set by init_by_lua)

-- One renewal per request (a client per request) paced through Redis;
-- ?redis=URL overrides the server. Reports which path the seam took.
function M.renew()
  local a = ngx.req.get_uri_args()
  local o = app.tc_opts{ timeout = 30, redis = a.redis or cfg().redis }
  o.on_request = function() ngx.shared.results:rpush("sends", require("cloudrenew.core").time()) end
  local tc = assert(cloudrenew.tencent(o))
  local res, err = tc.cvm:RenewInstances{ InstanceIds = { a.id }, InstanceChargePrepaid = { Period = 1 } }
  local r = app.shape(res, err)
  r.pid = ngx.worker.pid()
  r.via = tc.options.limiter.conn and tc.options.limiter.conn.via
  r.cosocket_commands = require("cloudrenew.redis.ngx").sent.cosocket
  r.lost = require("cloudrenew.redis.ngx").sent.lost
  ngx.say(json.encode(r))
end

-- A renewal workflow with the Redis lease and ledger: ?log=PATH&run=ID&ids=a,b,c
-- (several requests on one run stand in for hosts, each with its own audit log).
function M.run()
  local a = ngx.req.get_uri_args()
  local ids = {}
  for id in a.ids:gmatch("[^,]+") do ids[#ids + 1] = id end
  local tc = assert(cloudrenew.tencent(app.tc_opts{ timeout = 10,
    redis = { url = cfg().redis, lease_ttl = 5, lease_wait = 60 } }))
  local report, err = require("cloudrenew.workflow").renew_if_under_budget{ client = tc, product = "cvm",
    resources = ids, period = 1, audit_log = a.log, run_id = a.run, concurrency = 2, confirm = false }
  local r = { ok = report ~= nil, str = err and tostring(err), pid = ngx.worker.pid(),
    via = tc.options.limiter.conn.via, cosocket_commands = require("cloudrenew.redis.ngx").sent.cosocket }
  if report then
    r.fresh, r.outcomes = 0, {}
    for _, it in ipairs(report.items) do
      r.outcomes[it.id] = it.outcome
      if it.outcome == "renewed" and not it.resumed then r.fresh = r.fresh + 1 end
    end
  end
  ngx.say(json.encode(r))
end

-- init_worker (no cosockets there): the seam falls back to hiredis.
function M.init_worker_ping()
  local redis = require("cloudrenew.redis")
  local c = redis.conn(assert(redis.check(cfg().redis)))
  local pong, err = c:command("PING")
  ngx.shared.results:set("iw:" .. ngx.worker.pid(), json.encode{ pong = pong or err, via = c.via,
    cosocket_commands = require("cloudrenew.redis.ngx").sent.cosocket })
end

function M.init_worker_results()
  local d, out = ngx.shared.results, {}
  for _, k in ipairs(d:get_keys(0)) do
    if k:find("^iw:") then out[#out + 1] = json.decode(d:get(k)) end
  end
  ngx.say(json.encode(out))
end

return M

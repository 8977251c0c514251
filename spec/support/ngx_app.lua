-- Handlers run inside the real nginx that spec/openresty_spec.lua starts.
-- APP_CFG (set in init_by_lua by the spec): { url, tls_addr, creds = { tencent = {...} } }.
local cloudrenew = require("cloudrenew")
local json = require("cloudrenew.client.json")

local M = {}

local function cfg() return APP_CFG end   -- luacheck: ignore (set by init_by_lua)

function M.tc_opts(extra)
  local c = cfg().creds
  local o = { secret_id = c.secret_id, secret_key = c.secret_key, region = "ap-guangzhou",
              endpoint = cfg().url, timeout = 10 }
  for k, v in pairs(extra or {}) do if v == "UNSET" then o[k] = nil else o[k] = v end end
  return o
end

local function out(t)
  ngx.say(json.encode(t))
end

local function shape(res, err)
  if res then
    return { ok = true, price = res.Price and res.Price.InstancePrice and res.Price.InstancePrice.DiscountPrice,
             request_id = res.RequestId }
  end
  return { ok = false, code = err.code, outcome = err.outcome, retryable = err.retryable,
           message = err.message, str = tostring(err) }
end
M.shape = shape

-- One typed inquiry; args: id, tls=1, endpoint, timeout, renew=1, transport
function M.typed()
  local a = ngx.req.get_uri_args()
  local extra = { timeout = tonumber(a.timeout), transport = a.transport, max_response = tonumber(a.max) }
  if a.tls then extra.endpoint = "UNSET"; extra.connect_to = cfg().tls_addr end
  if a.endpoint then extra.endpoint = a.endpoint end
  -- this location trusts another CA: its TLS connections are pooled apart
  if ngx.var.uri == "/wrongca" then extra.pool = "wrongca" end
  local tc, cerr = cloudrenew.tencent(M.tc_opts(extra))
  if not tc then return out{ ok = false, code = cerr.code, message = cerr.message } end
  local q = { InstanceIds = { a.id or "ins-2zvpghhc" }, InstanceChargePrepaid = { Period = 1 } }
  local t0 = ngx.now()
  local res, err
  if a.renew then res, err = tc.cvm:RenewInstances(q) else res, err = tc.cvm:InquiryPriceRenewInstances(q) end
  if a.twice and res then res, err = tc.cvm:InquiryPriceRenewInstances(q) end
  local r = shape(res, err)
  r.transport = tc.transport:which()
  r.elapsed = ngx.now() - t0
  tc:close()
  out(r)
end

-- Volcengine over cosockets: ecs RenewInstance (GET, query) and billing (POST JSON).
function M.volc()
  local c = cfg().volc
  local o = { access_key = c.access_key, secret_key = c.secret_key, region = "cn-beijing", timeout = 10 }
  if ngx.var.arg_tls then o.connect_to = cfg().tls_addr else o.endpoint = cfg().url end
  local v = assert(cloudrenew.volcengine(o))
  local q, qerr = v.billing:QueryPriceForRenew{ Product = "ECS", UseDuration = 1, InstanceIDList = { "i-abc" } }
  local r, rerr = v.ecs:RenewInstance{ InstanceId = "i-abc", Period = 1, PeriodUnit = "Month" }
  out{ transport = v.transport:which(), quote = q ~= nil, quote_err = qerr and tostring(qerr),
       renewed = r ~= nil, renew_err = rerr and tostring(rerr) }
  v:close()
end

-- A generic call to this nginx's own "/" (a chunked answer); ?max= max_response.
function M.generic()
  local tc = assert(cloudrenew.tencent(M.tc_opts{ endpoint = "http://127.0.0.1:" .. ngx.var.server_port,
    max_response = tonumber(ngx.var.arg_max), retry = false }))
  local res, err = tc:call("cvm", "2017-03-12", "DescribeInstances", { Limit = 1 })
  tc:close()
  if not res then return out(shape(nil, err)) end
  out{ ok = true, total = res.TotalCount, pad = #(res.Pad or ""), request_id = res.RequestId }
end

-- What "/" answers: a cloud-shaped body in pieces, so nginx sends it chunked.
function M.chunked_cloud()
  local pad = string.rep("x", tonumber(ngx.var.http_x_pad) or 3000)
  ngx.header.content_type = "application/json"
  ngx.print('{"Response": {"TotalCount": 7, "Pad": "')
  ngx.flush(true)
  ngx.print(pad)
  ngx.flush(true)
  ngx.print('", "RequestId": "chunked-1"}}')
end

-- A request that spends its time in cloud calls (the fake's latency).
function M.slow()
  local tc = assert(cloudrenew.tencent(M.tc_opts()))
  local n = tonumber(ngx.var.arg_n) or 4
  local t0 = ngx.now()
  for i = 1, n do
    local res, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-slow000" .. i },
      InstanceChargePrepaid = { Period = 1 } }
    if not res then return out{ ok = false, str = tostring(err) } end
  end
  out{ ok = true, elapsed = ngx.now() - t0 }
end

local function run_workflow(log)
  local workflow = require("cloudrenew.workflow")
  local tc = assert(cloudrenew.tencent(M.tc_opts()))
  local report, err = workflow.renew_if_under_budget{
    client = tc, product = "cvm", resources = { "ins-wfaaaaa1", "ins-wfaaaaa2", "ins-wfaaaaa3" }, period = 1,
    budget = 1e9, audit_log = log, concurrency = 3,
  }
  if not report then return { ok = false, str = tostring(err) } end
  return { ok = true, renewed = report.totals.renewed, resources = report.totals.resources,
           transport = tc.transport:which() }
end

function M.workflow()
  out(run_workflow(ngx.var.arg_log))
end

function M.timer_start()
  local log = ngx.var.arg_log
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local r = run_workflow(log)
    ngx.shared.results:set("timer", json.encode(r))
  end)
  out{ ok = ok ~= nil, err = err }
end

-- The send times recorded so far (and forget them).
function M.sends()
  local d, t = ngx.shared.results, {}
  while true do
    local v = d:lpop("sends")
    if not v then break end
    t[#t + 1] = v
  end
  out(t)
end

function M.result()
  ngx.say(ngx.shared.results:get(ngx.var.arg_key) or "null")
end

-- Errors read as strings where OpenResty code expects one.
function M.strings()
  local tc = assert(cloudrenew.tencent(M.tc_opts{ endpoint = "http://127.0.0.1:9" }))
  local _, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-xxxxxxxx" }, InstanceChargePrepaid = { Period = 1 } }
  ngx.say(tostring(err))
  ngx.say("failed: " .. err)
  ngx.say(err .. " (end)")
end

-- cloudrenew.map over n ids: light threads under nginx.
function M.map()
  local tc = assert(cloudrenew.tencent(M.tc_opts()))
  local n = tonumber(ngx.var.arg_n) or 6
  local ids = {}
  for i = 1, n do ids[i] = "ins-map0000" .. i end
  local t0 = ngx.now()
  local results, errs = cloudrenew.map(ids, function(id)
    if id == "ins-map00002" then error("boom") end
    return tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { id }, InstanceChargePrepaid = { Period = 1 } }
  end, { concurrency = n })
  local prices, codes = {}, {}
  for i = 1, n do
    prices[i] = results[i] and results[i].Price.InstancePrice.DiscountPrice or false
    codes[i] = errs[i] and errs[i].code or false
  end
  out{ elapsed = ngx.now() - t0, prices = prices, codes = codes }
end

-- A call from a phase without cosockets (init_worker, log): must not raise.
function M.blocking_call(key)
  -- in log, the caller's own set_sleep(ngx.sleep) (raises there if called as is)
  if key == "log" then cloudrenew.set_sleep(ngx.sleep) end
  local ok, r = pcall(function()
    local tc = assert(cloudrenew.tencent(M.tc_opts{ rate_limits = { InquiryPriceRenewInstances = 2 } }))
    local res, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-phase001" },
      InstanceChargePrepaid = { Period = 1 } }
    -- a second call waits for the pacer (0.5 s): the sleep must work here too
    if res then res, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-phase001" },
      InstanceChargePrepaid = { Period = 1 } } end
    local s = shape(res, err)
    s.transport = tc.transport:which()
    s.phase = ngx.get_phase()
    return s
  end)
  ngx.shared.results:set(key, json.encode(ok and r or { ok = false, raised = tostring(r) }))
end

-- One renewal per request (a client per request); ?dict=off: per-worker pacing.
function M.renew()
  local a = ngx.req.get_uri_args()
  local o = M.tc_opts{ timeout = 30 }
  if a.dict == "off" then o.rate_limit_dict = false end
  -- when each renewal goes out, on the fake's clock (wall time)
  o.on_request = function() ngx.shared.results:rpush("sends", require("cloudrenew.core").time()) end
  local tc = assert(cloudrenew.tencent(o))
  local res, err = tc.cvm:RenewInstances{ InstanceIds = { a.id }, InstanceChargePrepaid = { Period = 1 } }
  local r = shape(res, err)
  r.pid = ngx.worker.pid()
  r.paced_by = tc.options.limiter.shared_dict and "dict" or "process"
  out(r)
end

-- A client made (and used) in init_by_lua, before nginx forks its workers.
function M.init_client(transport)
  M.forked = assert(cloudrenew.tencent(M.tc_opts{ transport = transport, rate_limits = false }))
  local ok, res, err = pcall(M.forked.cvm.InquiryPriceRenewInstances, M.forked.cvm,
    { InstanceIds = { "ins-master01" }, InstanceChargePrepaid = { Period = 1 } })
  local r = ok and shape(res, err) or { ok = false, raised = tostring(res) }
  r.phase, r.transport = ngx.get_phase(), M.forked.transport:which()
  ngx.shared.results:set("init", json.encode(r))
end

function M.forked_price()
  local res, err = M.forked.cvm:InquiryPriceRenewInstances{ InstanceIds = { ngx.var.arg_id },
    InstanceChargePrepaid = { Period = 1 } }
  local r = shape(res, err)
  r.pid = ngx.worker.pid()
  r.transport = M.forked.transport:which()
  out(r)
end

-- A gateway's own requests: signed with cloudrenew.sign (the FFI path inside
-- nginx) and sent over a cosocket by hand; the fake cloud checks the
-- signatures. Also reports whether the FFI path signed and whether the C
-- binding signs the same.
local function send_raw(req)
  local host, port = cfg().url:match("^http://([^:/]+):(%d+)")
  local sock = ngx.socket.tcp()
  sock:settimeouts(5000, 5000, 5000)
  local ok, err = sock:connect(host, tonumber(port))
  if not ok then return nil, err end
  sock:send(req)
  local status = sock:receive("*l")
  local body = sock:receive("*a") or ""
  sock:close()
  return status and tonumber(status:match("^HTTP/1%.%d (%d+)")), body:match("\r\n\r\n(.*)$") or body
end

function M.gateway()
  local sign = require("cloudrenew.sign")
  local core = require("cloudrenew.core")
  local fast = sign.ffi and require("cloudrenew.sign.ffi")
  local hostport = cfg().url:match("^http://([^/]+)")
  local v, c = cfg().volc, cfg().creds
  local date = os.date("!%Y%m%dT%H%M%SZ")
  local vt = { access_key = v.access_key, secret_key = v.secret_key, service = "ecs", region = "cn-beijing",
               date = date, method = "GET", path = "/",
               query = { Action = "DescribeInstances", Version = "2020-04-01", MaxResults = "10" },
               headers = { Host = hostport } }
  local vauth, vdetail = sign.volc(vt)
  local vstatus, vbody = send_raw("GET /?" .. vdetail.canonical_query .. " HTTP/1.1\r\nHost: " .. hostport
    .. "\r\nX-Date: " .. date .. "\r\nAuthorization: " .. vauth .. "\r\nConnection: close\r\n\r\n")
  local payload = '{"Limit":1}'
  local ts = ngx.time()
  local tt = { secret_id = c.secret_id, secret_key = c.secret_key, service = "cvm", host = hostport,
               timestamp = ts, payload = payload, headers = { ["X-TC-Action"] = "DescribeInstances" } }
  local tauth = sign.tc3(tt)
  local tstatus, tbody = send_raw("POST / HTTP/1.1\r\nHost: " .. hostport
    .. "\r\nContent-Type: application/json\r\nX-TC-Action: DescribeInstances\r\nX-TC-Version: 2017-03-12"
    .. "\r\nX-TC-Timestamp: " .. ts .. "\r\nX-TC-Region: ap-guangzhou\r\nAuthorization: " .. tauth
    .. "\r\nContent-Length: " .. #payload .. "\r\nConnection: close\r\n\r\n" .. payload)
  out{ ffi = sign.ffi, fast_volc = fast and fast.fast_volc(vt) ~= false, fast_tc3 = fast and fast.fast_tc3(tt) ~= false,
       same_volc = vauth == core.sign_volc(vt), same_tc3 = tauth == core.sign_tc3(tt),
       volc_status = vstatus, volc_body = vbody, tc3_status = tstatus, tc3_body = tbody }
end

-- Issue 22: the cheap per-request client, as examples/openresty does it: made,
-- used for one inquiry and closed in every request. 502 on any failure.
function M.percall()
  local a = ngx.req.get_uri_args()
  -- unpaced: the spec measures connections, not the 10/s limit
  local extra = { timeout = tonumber(a.timeout), rate_limits = false }
  if a.retry == "0" then extra.retry = false end
  if a.insecure then extra.allow_insecure_http = true end
  if a.endpoint then extra.endpoint = a.endpoint end
  if a.ca_file then extra.ca_file = a.ca_file end
  if a.tls then extra.endpoint = "UNSET"; extra.connect_to = cfg().tls_addr end
  local tc, cerr = cloudrenew.tencent(M.tc_opts(extra))
  if not tc then ngx.status = 502; return out{ ok = false, code = cerr.code, message = cerr.message } end
  local t0 = ngx.now()
  local res, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { a.id or "ins-2zvpghhc" },
    InstanceChargePrepaid = { Period = 1 } }
  tc:close()
  local r = shape(res, err)
  r.elapsed = ngx.now() - t0
  if not res then ngx.status = 502 end
  out(r)
end

-- Issue 22: a client whose credentials come from an instance role (the fake's
-- metadata service) or from STS AssumeRole, made in this request.
function M.role()
  local a = ngx.req.get_uri_args()
  -- ?flush=1: forget the worker's instance-role credentials first
  if a.flush then require("cloudrenew.credentials.roles").forget_shared() end
  if a.flush == "only" then return out{ ok = true } end
  local t0 = ngx.now()
  local o = { region = "ap-guangzhou", endpoint = cfg().url, timeout = 10 }
  if a.sts then
    local c = cfg().creds
    o.secret_id, o.secret_key, o.role_arn = c.secret_id, c.secret_key, cfg().role_arn
    o.sts_endpoint = cfg().url
  else
    o.credentials, o.metadata_endpoint = "instance_role", cfg().url
  end
  local tc, cerr = cloudrenew.tencent(o)
  if not tc then return out{ ok = false, str = tostring(cerr), elapsed = ngx.now() - t0 } end
  local res, err = tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-2zvpghhc" },
    InstanceChargePrepaid = { Period = 1 } }
  tc:close()
  local r = shape(res, err)
  r.source, r.elapsed = tc.credential_source, ngx.now() - t0
  out(r)
end

return M

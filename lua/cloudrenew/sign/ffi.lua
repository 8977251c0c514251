-- cloudrenew.sign on LuaJIT (OpenResty, nginx): the arguments are read by
-- compiled Lua and handed to the C signer through the FFI (sign_args.c), with
-- no Lua C API call per field; the answer is the same `auth, detail` as the
-- C binding's (core.sign_tc3 / core.sign_volc). Only the plain case is taken
-- here: string fields, string header and query values, tables without a
-- metatable. Anything else (numbers, lists, proxies, a refusal) goes to the
-- binding, which signs it or names the bad field, so both paths answer alike.
local ffi = require("ffi")
local core = require("cloudrenew.core")

-- Mirrors sign.h (cr_kv, cr_buf, cr_sign_output, cr_*_args, cr_sign_entry);
-- spec/sign_ffi_spec.lua checks every answer against the binding's.
if not pcall(ffi.typeof, "cloudrenew_sign_entry") then
  ffi.cdef[[
  typedef struct { const char *name; size_t name_len; const char *value; size_t value_len; } cloudrenew_kv;
  typedef struct { char *data; size_t len, cap; } cloudrenew_buf;
  typedef struct {
    cloudrenew_buf canonical_query, canonical_request, string_to_sign, signed_headers, authorization;
    char signature[65];
  } cloudrenew_sign_output;
  typedef struct {
    const char *secret_id, *secret_key, *service, *host, *method, *content_type, *query, *payload;
    size_t secret_id_len, secret_key_len, service_len, host_len, method_len, content_type_len,
           query_len, payload_len;
    long long timestamp;
    cloudrenew_kv *headers; size_t nheaders, headers_cap;
  } cloudrenew_tc3_args;
  typedef struct {
    const char *access_key, *secret_key, *service, *region, *date, *method, *path, *body;
    size_t access_key_len, secret_key_len, service_len, region_len, date_len, method_len, path_len,
           body_len;
    const cloudrenew_kv *kv; size_t nquery, nheaders;
  } cloudrenew_volc_args;
  typedef struct {
    int (*tc3)(void *s, const cloudrenew_tc3_args *a, cloudrenew_sign_output *out);
    int (*volc)(void *s, const cloudrenew_volc_args *a, cloudrenew_sign_output *out);
  } cloudrenew_sign_entry;
  ]]
end

local type, pairs, getmetatable, tonumber = type, pairs, getmetatable, tonumber
local lower, ffi_string, ffi_copy = string.lower, ffi.string, ffi.copy

local MAX_TIMESTAMP = 253402300799
local KV = ffi.typeof("cloudrenew_kv[?]")

local M = {}

-- The binding's functions keep this state's signer (and its output) alive.
local core_tc3, core_volc = core.sign_tc3, core.sign_volc
local entry, signer, out = core.sign_entry()
entry = ffi.cast("const cloudrenew_sign_entry *", entry)
out = ffi.cast("cloudrenew_sign_output *", out)
signer = ffi.cast("void *", signer)   -- a cdata: the JIT does not convert light userdata
local tc3_fn, volc_fn = entry.tc3, entry.volc

-- One pair array and one argument struct per state, reused: a call never
-- yields between filling them and reading the output. The pairs point into
-- strings the caller's tables hold for the whole call.
local cap = 16
local kv = KV(cap)
local targs = ffi.new("cloudrenew_tc3_args")
local vargs = ffi.new("cloudrenew_volc_args")

local function room(n)
  local bigger = KV(cap * 2)
  ffi_copy(bigger, kv, ffi.sizeof("cloudrenew_kv") * n)
  kv, cap = bigger, cap * 2
end

local function str(b) return ffi_string(b.data, tonumber(b.len)) end

local function answer(volc)
  local o = out
  local auth = str(o.authorization)
  return auth, {
    authorization = auth, canonical_query = volc and str(o.canonical_query) or nil,
    canonical_request = str(o.canonical_request), string_to_sign = str(o.string_to_sign),
    signed_headers = str(o.signed_headers), signature = ffi_string(o.signature, 64),
  }
end

-- Pairs of a plain table of strings from kv[n] on; nil when not that plain.
-- skip1/skip2: names (lower-case, of lengths l1/l2) left out, whatever their
-- value; find: a name whose presence is reported.
local function read(tbl, n, l1, skip1, l2, skip2, find)
  local found = false
  if tbl == nil then return n, found end
  if type(tbl) ~= "table" or getmetatable(tbl) ~= nil then return nil end
  for k, v in pairs(tbl) do
    if type(k) ~= "string" then return nil end
    local kl = #k
    if (kl == l1 or kl == l2) and (lower(k) == skip1 or lower(k) == skip2) then   -- luacheck: ignore
      -- left out: the caller's Content-Type / Host come from their own fields
    else
      if type(v) ~= "string" then return nil end
      if find and kl == 6 and lower(k) == find then found = true end
      if n == cap then room(n) end
      local e = kv[n]
      e.name, e.name_len, e.value, e.value_len = k, kl, v, #v
      n = n + 1
    end
  end
  return n, found
end

-- The fast path: auth, detail, or false when the binding must answer.
function M.fast_tc3(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil then return false end
  local id, sk, svc, host, ts = t.secret_id, t.secret_key, t.service, t.host, t.timestamp
  local method, ct, payload, query = t.method, t.content_type, t.payload, t.query
  if method == nil then method = "POST" end
  if ct == nil then ct = "application/json" end
  if payload == nil then payload = "" end
  if query == nil then query = "" end
  if type(id) ~= "string" or type(sk) ~= "string" or type(svc) ~= "string" or type(host) ~= "string" or
     type(method) ~= "string" or type(ct) ~= "string" or type(payload) ~= "string" or
     type(query) ~= "string" or type(ts) ~= "number" or not (ts >= 0 and ts <= MAX_TIMESTAMP) or
     ts % 1 ~= 0 then
    return false
  end
  local n = read(t.headers, 0, 12, "content-type", 4, "host", nil)
  if not n then return false end
  if n + 2 > cap then room(n) end
  local a = targs
  a.secret_id, a.secret_id_len, a.secret_key, a.secret_key_len = id, #id, sk, #sk
  a.service, a.service_len, a.host, a.host_len = svc, #svc, host, #host
  a.method, a.method_len, a.content_type, a.content_type_len = method, #method, ct, #ct
  a.query, a.query_len, a.payload, a.payload_len = query, #query, payload, #payload
  a.timestamp, a.headers, a.nheaders, a.headers_cap = ts, kv, n, cap
  if tc3_fn(signer, a, out) ~= 0 then return false end
  return answer(false)
end

function M.fast_volc(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil then return false end
  local ak, sk, svc, region, date = t.access_key, t.secret_key, t.service, t.region, t.date
  local method, path, body = t.method, t.path, t.body
  if method == nil then method = "GET" end
  if path == nil then path = "/" end
  if body == nil then body = "" end
  if type(ak) ~= "string" or type(sk) ~= "string" or type(svc) ~= "string" or type(region) ~= "string" or
     type(date) ~= "string" or type(method) ~= "string" or type(path) ~= "string" or type(body) ~= "string" then
    return false
  end
  local nq = read(t.query, 0)
  if not nq then return false end
  local n, dated = read(t.headers, nq, -1, nil, -1, nil, "x-date")
  if not n then return false end
  if not dated then                       -- X-Date from `date`, as the binding adds it
    if n == cap then room(n) end
    local e = kv[n]
    e.name, e.name_len, e.value, e.value_len = "X-Date", 6, date, #date
    n = n + 1
  end
  local a = vargs
  a.access_key, a.access_key_len, a.secret_key, a.secret_key_len = ak, #ak, sk, #sk
  a.service, a.service_len, a.region, a.region_len = svc, #svc, region, #region
  a.date, a.date_len, a.method, a.method_len = date, #date, method, #method
  a.path, a.path_len, a.body, a.body_len = path, #path, body, #body
  a.kv, a.nquery, a.nheaders = kv, nq, n - nq
  if volc_fn(signer, a, out) ~= 0 then return false end
  return answer(true)
end

local fast_tc3, fast_volc = M.fast_tc3, M.fast_volc

function M.tc3(t)
  local auth, detail = fast_tc3(t)
  if auth then return auth, detail end
  return core_tc3(t)
end

function M.volc(t)
  local auth, detail = fast_volc(t)
  if auth then return auth, detail end
  return core_volc(t)
end

return M

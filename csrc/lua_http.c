/* core.http (one libcurl easy handle) and core.multi (concurrent transfers): separate because only they drive libcurl. */
#include <string.h>

#include "http.h"
#include "lua_util.h"

#define HTTP_MT    "cloudrenew.core.http"
#define MULTI_MT   "cloudrenew.core.multi"

/* ---- HTTP client -------------------------------------------------------- */

typedef struct {
  cr_http *h;
  cr_http_response resp;   /* reused by blocking requests: buffers keep their capacity */
} l_http;

static l_http *check_http(lua_State *L) {
  l_http *c = luaL_checkudata(L, 1, HTTP_MT);
  if (!c->h) luaL_error(L, "cloudrenew.core: HTTP client is closed");
  return c;
}

static int http_close(lua_State *L) {
  l_http *c = luaL_checkudata(L, 1, HTTP_MT);
  cr_http_response_free(&c->resp);
  cr_http_free(c->h);
  c->h = NULL;
  return 0;
}

static int http_tostring(lua_State *L) {
  l_http *c = luaL_checkudata(L, 1, HTTP_MT);
  lua_pushfstring(L, "cloudrenew.core.http (%s)", c->h ? "open" : "closed");
  return 1;
}

/* Bounds of the transport settings (docs/clients.md, Bounds; client.options.check_options
 * enforces the same ranges with clearer messages). */
#define MAX_TIMEOUT_S 3600.0
#define MAX_CONNECT_TIMEOUT_S 600.0
#define MAX_RESPONSE_BYTES (1024.0 * 1024 * 1024)

/* Seconds in (0, max] to milliseconds, at least 1: 0 would mean "no timeout". */
static long secs_to_ms(double s) {
  long ms = (long)(s * 1000);
  return ms < 1 ? 1 : ms;
}

/* core.http{ca_file, proxy, connect_to, user_agent, timeout, connect_timeout, max_response}
 * -> http | nil, message. Out-of-range numbers are refused before any cast. */
static int l_http_new(lua_State *L) {
  cr_http_opts o;
  l_http *c;
  char err[256];
  rd_err e = {{0}};
  double timeout, connect_timeout, max_response;
  lua_settop(L, 1);
  if (!lua_istable(L, 1)) { cr_rd_fail(&e, "must be a table", "argument"); return cr_rd_push(L, &e); }
  memset(&o, 0, sizeof o);
  o.ca_file = cr_field_str(L, 1, "ca_file", NULL, 0, &e);
  o.proxy = cr_field_str(L, 1, "proxy", NULL, 0, &e);
  o.connect_to = cr_field_str(L, 1, "connect_to", NULL, 0, &e);
  o.user_agent = cr_field_str(L, 1, "user_agent", NULL, 0, &e);
  timeout = cr_field_num(L, 1, "timeout", 60, &e);
  connect_timeout = cr_field_num(L, 1, "connect_timeout", 10, &e);
  max_response = cr_field_num(L, 1, "max_response", 8 * 1024 * 1024, &e);
  if (!(timeout > 0 && timeout <= MAX_TIMEOUT_S)) cr_rd_fail(&e, "must be seconds in (0, 3600]", "timeout");
  if (!(connect_timeout > 0 && connect_timeout <= MAX_CONNECT_TIMEOUT_S))
    cr_rd_fail(&e, "must be seconds in (0, 600]", "connect_timeout");
  if (!cr_in_range(max_response, 1024, MAX_RESPONSE_BYTES))
    cr_rd_fail(&e, "must be bytes in [1024, 1 GiB]", "max_response");
  if (e.msg[0]) return cr_rd_push(L, &e);
  o.timeout_ms = secs_to_ms(timeout);
  o.connect_timeout_ms = secs_to_ms(connect_timeout);
  o.max_response = (size_t)max_response;
  c = lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  luaL_getmetatable(L, HTTP_MT);
  lua_setmetatable(L, -2);
  c->h = cr_http_new(&o, err, sizeof err);
  if (!c->h) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  return 1;
}

static const char *const kind_names[] = {
  "ok", "network", "timeout", "tls", "too_big", "bad_response", "nomem", "invalid"
};

/* Parsing is cr_http_parse_headers (pure C, fuzzed); this callback only stores.
 * A Lua error raised here unwinds through that parser alone, which holds nothing. */
static int set_header(void *ud, const char *name, size_t nl, const char *v, size_t vl) {
  lua_State *L = ud;
  lua_pushlstring(L, name, nl);
  lua_pushlstring(L, v, vl);
  lua_rawset(L, -3);
  return 0;
}

static void push_headers(lua_State *L, const cr_buf *b) {
  lua_newtable(L);
  cr_http_parse_headers(b->data, b->len, set_header, L);
}

/* Push a finished response as (table) or (nil, failure table). */
static int push_response(lua_State *L, const cr_http_response *r) {
  if (r->result == CR_HTTP_OK) {
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)r->status); lua_setfield(L, -2, "status");
    lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len); lua_setfield(L, -2, "body");
    push_headers(L, &r->headers); lua_setfield(L, -2, "headers");
    lua_pushnumber(L, r->total_time); lua_setfield(L, -2, "time");
    return 1;
  }
  lua_pushnil(L);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, kind_names[r->result]); lua_setfield(L, -2, "kind");
  lua_pushboolean(L, r->sent); lua_setfield(L, -2, "sent");
  lua_pushstring(L, r->error); lua_setfield(L, -2, "message");
  lua_pushinteger(L, r->curl_code); lua_setfield(L, -2, "curl_code");
  if (r->status) { lua_pushinteger(L, (lua_Integer)r->status); lua_setfield(L, -2, "status"); }
  return 2;
}

/* Read {method, url, headers = {"Name: value", ...}, body, fresh} into req.
 * Header strings are anchored in the request table at index t. */
static void read_request(lua_State *L, int t, cr_http_request *req) {
  size_t i, n;
  const char **lines;
  memset(req, 0, sizeof *req);
  rd_err e = {{0}};
  req->method = cr_field_str(L, t, "method", NULL, 1, &e);
  req->url = cr_field_str(L, t, "url", NULL, 1, &e);
  req->body = cr_field_str(L, t, "body", &req->body_len, 0, &e);
  /* Built by transport.lua, never by a caller: a bad one is a bug, raised here
   * before libcurl is involved. */
  if (e.msg[0]) luaL_error(L, "%s", e.msg);
  lua_getfield(L, t, "fresh");
  req->fresh_connection = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, t, "headers");
  n = lua_istable(L, -1) ? cr_rawlen(L, -1) : 0;
  lines = lua_newuserdata(L, (n ? n : 1) * sizeof *lines);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -2, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "cloudrenew.core: headers must be strings");
    lines[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  req->headers = lines; req->nheaders = n;
  /* The headers table and the scratch array stay on the stack until we return. */
}

static int http_request(lua_State *L) {
  l_http *c = check_http(L);
  cr_http_request req;
  luaL_checktype(L, 2, LUA_TTABLE);
  read_request(L, 2, &req);
  c->resp.body.len = 0; c->resp.headers.len = 0;   /* keep capacity */
  c->resp.result = 0; c->resp.sent = 0; c->resp.status = 0; c->resp.too_big = 0;
  c->resp.error[0] = 0;
  cr_http_perform(c->h, &req, &c->resp);           /* no Lua calls inside */
  return push_response(L, &c->resp);
}

/* ---- concurrent transfers ----------------------------------------------- */

typedef struct { cr_multi *m; } l_multi;

static l_multi *check_multi(lua_State *L) {
  l_multi *lm = luaL_checkudata(L, 1, MULTI_MT);
  if (!lm->m) luaL_error(L, "cloudrenew.core: multi is closed");
  return lm;
}

static int multi_close(lua_State *L) {
  l_multi *lm = luaL_checkudata(L, 1, MULTI_MT);
  cr_multi_free(lm->m);
  lm->m = NULL;
  return 0;
}

static int l_multi_new(lua_State *L) {
  l_multi *lm = lua_newuserdata(L, sizeof *lm);
  lm->m = NULL;
  luaL_getmetatable(L, MULTI_MT);
  lua_setmetatable(L, -2);
  if (!(lm->m = cr_multi_new())) return luaL_error(L, "cloudrenew.core: curl_multi_init failed");
  return 1;
}

/* multi:add(http, req) -> id. The request is copied into C; nothing Lua-owned
 * is referenced while the transfer runs. */
static int multi_add(lua_State *L) {
  l_multi *lm = check_multi(L);
  l_http *c = luaL_checkudata(L, 2, HTTP_MT);
  cr_http_request req;
  int id;
  if (!c->h) return luaL_error(L, "cloudrenew.core: HTTP client is closed");
  luaL_checktype(L, 3, LUA_TTABLE);
  read_request(L, 3, &req);
  id = cr_multi_add(lm->m, c->h, &req);
  if (id < 0) return luaL_error(L, "cloudrenew.core: out of memory adding a transfer");
  lua_pushinteger(L, id);
  return 1;
}

/* multi:run(timeout_seconds) -> { finished ids } */
static int multi_run(lua_State *L) {
  l_multi *lm = check_multi(L);
  double t = lua_type(L, 2) == LUA_TNUMBER ? (double)lua_tonumber(L, 2) : 0;
  int done[256], n, i;
  if (!(t > 0)) t = 0;                      /* NaN, negatives: just poll */
  if (t > MAX_TIMEOUT_S) t = MAX_TIMEOUT_S; /* inf, 1e300: bounded before the cast */
  n = cr_multi_run(lm->m, (long)(t * 1000), done, 256);
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) { lua_pushinteger(L, done[i]); lua_rawseti(L, -2, i + 1); }
  return 1;
}

/* multi:result(id) -> response | nil, failure; frees the slot. */
static int multi_result(lua_State *L) {
  l_multi *lm = check_multi(L);
  int id = (int)luaL_checkinteger(L, 2), nret;
  const cr_http_response *r = cr_multi_response(lm->m, id);
  if (!r) return luaL_error(L, "cloudrenew.core: no transfer %d", id);
  nret = push_response(L, r);
  cr_multi_release(lm->m, id);
  return nret;
}

static int multi_active(lua_State *L) {
  lua_pushinteger(L, cr_multi_active(check_multi(L)->m));
  return 1;
}

static const luaL_Reg http_methods[] = {
  {"request", http_request}, {"close", http_close}, {NULL, NULL}
};

static const luaL_Reg multi_methods[] = {
  {"add", multi_add}, {"run", multi_run}, {"result", multi_result},
  {"active", multi_active}, {"close", multi_close}, {NULL, NULL}
};

static const luaL_Reg http_funcs[] = {
  {"http", l_http_new}, {"multi", l_multi_new}, {NULL, NULL}
};

void cr_open_http(lua_State *L) {
  cr_new_class(L, HTTP_MT, http_close, http_methods, http_tostring);
  cr_new_class(L, MULTI_MT, multi_close, multi_methods, NULL);
  cr_setfuncs(L, http_funcs, 0);
}

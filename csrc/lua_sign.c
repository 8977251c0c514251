/* Hashes, uri_encode and the signer state with its table-answering tc3_sign/volc_sign: what every signing closure shares. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_sign.h"

#define SIGNER_MT "cloudrenew.core.signer"

const char *const cr_sign_keys[] = {
  "secret_id", "secret_key", "service", "host", "method", "content_type", "payload", "query",
  "timestamp", "headers", "access_key", "region", "date", "path", "body", "authorization",
  "canonical_query", "canonical_request", "string_to_sign", "signed_headers", "signature", NULL
};

/* ---- hashing ------------------------------------------------------------ */

static int l_sha256_hex(lua_State *L) {
  size_t n; const char *s = luaL_checklstring(L, 1, &n);
  char hex[65];
  cr_sha256_hex(s, n, hex);
  lua_pushlstring(L, hex, 64);
  return 1;
}

static int l_hmac_sha256_hex(lua_State *L) {
  size_t kn, mn, i;
  const char *k = luaL_checklstring(L, 1, &kn), *m = luaL_checklstring(L, 2, &mn);
  unsigned char mac[32]; char hex[65];
  cr_hmac_sha256(k, kn, m, mn, mac);
  for (i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", mac[i]);
  lua_pushlstring(L, hex, 64);
  return 1;
}

static int l_uri_encode(lua_State *L) {
  size_t n; const char *s = luaL_checklstring(L, 1, &n);
  cr_buf b = {0};
  if (cr_uri_encode(&b, s, n) != 0) { cr_buf_free(&b); return luaL_error(L, "out of memory"); }
  lua_pushlstring(L, b.data ? b.data : "", b.len);
  cr_buf_free(&b);
  return 1;
}

static int l_sign_key_derivations(lua_State *L) {
  lua_pushnumber(L, (lua_Number)cr_sign_key_derivations());
  return 1;
}

/* ---- tc3_sign / volc_sign: every part of the signature as a table -------- */

/* Read a {name = "value"} table (values may also be arrays of strings, for
 * repeated query names) into a scratch cr_kv array owned by the Lua stack.
 * Leaves the stack as it found it plus that scratch userdata. */
static cr_kv *read_pairs(lua_State *L, int t, const char *what, size_t *n, rd_err *e) {
  size_t count = 0, i = 0;
  cr_kv *kv;
  *n = 0;
  if (lua_isnil(L, t)) return NULL;
  if (!lua_istable(L, t)) { cr_rd_fail(e, "must be a table", what); return NULL; }
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -1) == LUA_TTABLE) count += cr_rawlen(L, -1); else count++;
    lua_pop(L, 1);
  }
  kv = lua_newuserdata(L, (count ? count : 1) * sizeof *kv);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING) { cr_rd_fail(e, "names must be strings", what); lua_pop(L, 2); return NULL; }
    if (lua_type(L, -1) == LUA_TTABLE) {
      size_t j, m = cr_rawlen(L, -1);
      for (j = 1; j <= m && i < count; j++, i++) {
        lua_rawgeti(L, -1, (int)j);
        if (lua_type(L, -1) != LUA_TSTRING) { cr_rd_fail(e, "values must be strings", what); lua_pop(L, 3); return NULL; }
        kv[i].value = lua_tolstring(L, -1, &kv[i].value_len);  /* anchored in the inner table */
        kv[i].name = lua_tolstring(L, -3, &kv[i].name_len);
        lua_pop(L, 1);
      }
    } else if (lua_type(L, -1) != LUA_TSTRING || i >= count) {
      cr_rd_fail(e, "values must be strings", what); lua_pop(L, 2); return NULL;
    } else {
      kv[i].name = lua_tolstring(L, -2, &kv[i].name_len);
      kv[i].value = lua_tolstring(L, -1, &kv[i].value_len);
      i++;
    }
    lua_pop(L, 1);
  }
  *n = i;
  return kv;
}

static void push_buf(lua_State *L, const cr_buf *b, const char *k) {
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  lua_setfield(L, -2, k);
}

/* A true `for_request` field of the argument table: the answer table holds only
 * what a request is made of, authorization and canonical_query (the clients read
 * nothing else; the canonical request and string to sign are long strings made
 * for nothing there). */
static int want_for_request(lua_State *L) {
  int yes;
  lua_getfield(L, 1, "for_request");
  yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

static int push_signout(lua_State *L, cr_sign_output *o, int rc, int for_request) {
  if (rc == CR_SIGN_ENOMEM) return luaL_error(L, "cloudrenew.core: out of memory while signing");
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, "invalid signing input (a control character, space or '/' where none may be, "
                      "a duplicate or empty header name, or a missing Host/Content-Type)");
    return 2;
  }
  lua_createtable(L, 0, for_request ? 2 : 6);
  push_buf(L, &o->authorization, "authorization");
  push_buf(L, &o->canonical_query, "canonical_query");
  if (for_request) return 1;
  push_buf(L, &o->canonical_request, "canonical_request");
  push_buf(L, &o->string_to_sign, "string_to_sign");
  push_buf(L, &o->signed_headers, "signed_headers");
  lua_pushstring(L, o->signature); lua_setfield(L, -2, "signature");
  return 1;
}

/* core.tc3_sign{secret_id, secret_key, service, timestamp, method, query, payload, headers,
 *               for_request}
 * -> table | nil, message. Never raises on what it is given. */
static int l_tc3_sign(lua_State *L) {
  cr_tc3_input in;
  l_signer *u = state_signer(L);
  rd_err e = {{0}};
  double ts;
  lua_settop(L, 1);
  if (!lua_istable(L, 1)) { cr_rd_fail(&e, "must be a table", "argument"); return cr_rd_push(L, &e); }
  memset(&in, 0, sizeof in);
  in.secret_id = cr_field_str(L, 1, "secret_id", NULL, 1, &e);
  in.secret_key = cr_field_str(L, 1, "secret_key", &in.secret_key_len, 1, &e);
  in.service = cr_field_str(L, 1, "service", NULL, 1, &e);
  in.method = cr_field_str(L, 1, "method", NULL, 1, &e);
  in.query = cr_field_str(L, 1, "query", &in.query_len, 0, &e);
  if (!in.query) in.query = "";
  in.payload = cr_field_str(L, 1, "payload", &in.payload_len, 0, &e);
  if (!in.payload) in.payload = "";
  ts = cr_field_num(L, 1, "timestamp", -1, &e);
  if (!cr_in_range(ts, 0, (double)CR_SIGN_MAX_TIMESTAMP) || ts != (double)(long long)ts)
    cr_rd_fail(&e, "must be whole unix seconds up to year 9999", "timestamp");
  else
    in.timestamp = (long long)ts;
  lua_getfield(L, 1, "headers");                       /* index 2 */
  in.headers = read_pairs(L, 2, "headers", &in.nheaders, &e);
  if (e.msg[0]) return cr_rd_push(L, &e);
  return push_signout(L, &u->out, cr_tc3_sign_with(u->s, &in, &u->out), want_for_request(L));
}

/* core.volc_sign{access_key, secret_key, service, region, date, method, path, query, headers, body,
 *                for_request}
 * -> table | nil, message. Never raises on what it is given. */
static int l_volc_sign(lua_State *L) {
  cr_volc_input in;
  l_signer *u = state_signer(L);
  rd_err e = {{0}};
  lua_settop(L, 1);
  if (!lua_istable(L, 1)) { cr_rd_fail(&e, "must be a table", "argument"); return cr_rd_push(L, &e); }
  memset(&in, 0, sizeof in);
  in.access_key = cr_field_str(L, 1, "access_key", NULL, 1, &e);
  in.secret_key = cr_field_str(L, 1, "secret_key", &in.secret_key_len, 1, &e);
  in.service = cr_field_str(L, 1, "service", NULL, 1, &e);
  in.region = cr_field_str(L, 1, "region", NULL, 1, &e);
  in.date = cr_field_str(L, 1, "date", NULL, 1, &e);
  in.method = cr_field_str(L, 1, "method", NULL, 1, &e);
  in.path = cr_field_str(L, 1, "path", NULL, 0, &e);
  if (!in.path) in.path = "/";
  in.body = cr_field_str(L, 1, "body", &in.body_len, 0, &e);
  if (!in.body) in.body = "";
  lua_getfield(L, 1, "query");                         /* index 2 */
  in.query = read_pairs(L, 2, "query", &in.nquery, &e);
  lua_getfield(L, 1, "headers");                       /* index 3 or 4 */
  in.headers = read_pairs(L, lua_gettop(L), "headers", &in.nheaders, &e);
  if (e.msg[0]) return cr_rd_push(L, &e);
  return push_signout(L, &u->out, cr_volc_sign_with(u->s, &in, &u->out), want_for_request(L));
}

/* ---- the signer state: one per lua_State, upvalue 1 of every closure ------ */

static int signer_gc(lua_State *L) {
  l_signer *u = luaL_checkudata(L, 1, SIGNER_MT);
  cr_signer_free(u->s);
  cr_sign_output_free(&u->out);
  free(u->kv);
  free(u->num);
  u->s = NULL; u->kv = NULL; u->num = NULL; u->cap = 0;
  return 0;
}

/* core.sign_on_error(fn): sign_tc3/sign_volc then return fn(name, message)
 * for a refusal (nil: back to nil, message). */
static int l_sign_on_error(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_rawseti(L, KEY(K_FAIL), 1);
  return 0;
}

/* core.sign_entry() -> entries, signer, output (light userdata) for the LuaJIT
 * FFI path (sign_ffi.lua): cr_sign_entries and this state's signer and output,
 * which live as long as the signer functions (upvalue 1 of each). */
static int l_sign_entry(lua_State *L) {
  l_signer *u = state_signer(L);
  lua_pushlightuserdata(L, (void *)&cr_sign_entries);
  lua_pushlightuserdata(L, u->s);
  lua_pushlightuserdata(L, &u->out);
  return 3;
}

/* Registers tc3_sign, volc_sign, sign_tc3, sign_volc, sign_on_error and sign_entry on the table on top,
 * all sharing one signer per lua_State (freed by its __gc with the state). */
void cr_open_signers(lua_State *L) {
  static const lua_CFunction fns[] = { l_tc3_sign, l_volc_sign, cr_l_sign_tc3, cr_l_sign_volc, l_sign_on_error,
                                       l_sign_entry };
  static const char *const names[] = { "tc3_sign", "volc_sign", "sign_tc3", "sign_volc", "sign_on_error",
                                       "sign_entry" };
  l_signer *u;
  int i, k, top = lua_gettop(L);
  luaL_checkstack(L, 2 * SIGN_UPVALUES + 4, "cloudrenew.core: opening the signers");
  luaL_newmetatable(L, SIGNER_MT);
  lua_pushcfunction(L, signer_gc); lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  u = lua_newuserdata(L, sizeof *u);                  /* top + 1: the upvalues from here */
  memset(u, 0, sizeof *u);
  luaL_getmetatable(L, SIGNER_MT);
  lua_setmetatable(L, -2);
  if (!(u->s = cr_signer_new())) luaL_error(L, "cloudrenew.core: cannot set up the signer (OpenSSL)");
  for (k = 0; cr_sign_keys[k]; k++) lua_pushstring(L, cr_sign_keys[k]);
  lua_newtable(L);                                    /* K_DETAIL_MT, filled below */
  lua_newtable(L);                                    /* K_LINKS: weak keys */
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_newtable(L);                                    /* K_FAIL */
  for (k = 1; k <= SIGN_UPVALUES; k++) lua_pushvalue(L, top + k);
  lua_pushcclosure(L, cr_l_detail_index, SIGN_UPVALUES);
  lua_setfield(L, top + K_DETAIL_MT, "__index");
  for (k = 1; k <= SIGN_UPVALUES; k++) lua_pushvalue(L, top + k);
  lua_pushcclosure(L, cr_l_detail_pairs, SIGN_UPVALUES);
  lua_setfield(L, top + K_DETAIL_MT, "__pairs");
  for (i = 0; i < 6; i++) {
    for (k = 1; k <= SIGN_UPVALUES; k++) lua_pushvalue(L, top + k);
    lua_pushcclosure(L, fns[i], SIGN_UPVALUES);
    lua_setfield(L, top, names[i]);
  }
  lua_settop(L, top);
}

/* core.find_control(s) -> position of the first control byte of s, or nil: what
 * s:find("%c") answers (the same iscntrl test), without the pattern matcher's
 * per-position cost (about 150 instructions a byte: a 200-byte Authorization
 * header took 30k). The last check on every header value a request carries. */
static int l_find_control(lua_State *L) {
  size_t n, i;
  const char *s = luaL_checklstring(L, 1, &n);
  for (i = 0; i < n; i++) {
    if (iscntrl((unsigned char)s[i])) { lua_pushinteger(L, (lua_Integer)i + 1); return 1; }
  }
  lua_pushnil(L);
  return 1;
}

static const luaL_Reg sign_funcs[] = {
  {"sha256_hex", l_sha256_hex}, {"hmac_sha256_hex", l_hmac_sha256_hex},
  {"uri_encode", l_uri_encode}, {"sign_key_derivations", l_sign_key_derivations},
  {"find_control", l_find_control}, {NULL, NULL}
};

void cr_open_sign(lua_State *L) { cr_setfuncs(L, sign_funcs, 0); }

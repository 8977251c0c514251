/* The signers' detail table, built on first read: separate because it is a lazy metatable protocol of its own, not signing. */
#include <string.h>

#include "lua_sign.h"

/* ---- detail, built on first read ------------------------------------------
 * Most gateways only send `auth`, so detail starts as an empty table with a
 * shared metatable, linked through a weak-keyed table to a snapshot userdata
 * (one allocation, plain bytes); the first field read (or pairs() on Lua 5.2+)
 * turns the snapshot into ordinary fields and drops the link. */
/* The snapshot holds only authorization, canonical_request and
 * string_to_sign: the rest are parts of them (signature ends the
 * authorization; canonical_query is the request's third line, signed_headers
 * its last line but the body hash; no line holds a '\n' of its own), so each
 * call copies about 700 bytes instead of 950. */
typedef struct { size_t alen, clen, slen; int volc; char data[1]; } snapshot;

static void detail_put(lua_State *L, int t, int k, const char *p, size_t n) {
  lua_pushvalue(L, KEY(k));
  lua_rawget(L, t);
  if (lua_isnil(L, -1)) {               /* a field the caller set first stays */
    lua_pushvalue(L, KEY(k));
    lua_pushlstring(L, p, n);
    lua_rawset(L, t);
  }
  lua_pop(L, 1);
}

static void detail_fill(lua_State *L, int t, const snapshot *sn) {
  const char *a = sn->data, *c = a + sn->alen, *end = c + sn->clen, *q, *e;
  detail_put(L, t, K_AUTHORIZATION, a, sn->alen);
  if (sn->volc) {                       /* method \n path \n query \n ... */
    q = memchr(c, '\n', sn->clen);
    q = q ? memchr(q + 1, '\n', (size_t)(end - q - 1)) : NULL;
    e = q ? memchr(q + 1, '\n', (size_t)(end - q - 1)) : NULL;
    if (e) detail_put(L, t, K_CANONICAL_QUERY, q + 1, (size_t)(e - q - 1));
  }
  detail_put(L, t, K_CANONICAL_REQUEST, c, sn->clen);
  detail_put(L, t, K_STRING_TO_SIGN, end, sn->slen);
  if (sn->clen > 65) {                  /* ... \n signed_headers \n body_hash */
    for (e = end - 65, q = e; q > c && q[-1] != '\n'; q--) {}
    detail_put(L, t, K_SIGNED_HEADERS, q, (size_t)(e - q));
  }
  if (sn->alen >= 64) detail_put(L, t, K_SIGNATURE, a + sn->alen - 64, 64);
}

/* Materialise t's fields if it still has a snapshot. */
static void detail_materialise(lua_State *L, int t) {
  lua_pushvalue(L, KEY(K_LINKS));
  lua_pushvalue(L, t);
  lua_rawget(L, -2);
  if (lua_type(L, -1) == LUA_TUSERDATA) {
    detail_fill(L, t, lua_touserdata(L, -1));
    lua_pushvalue(L, t);
    lua_pushnil(L);
    lua_rawset(L, -4);
  }
  lua_pop(L, 2);
}

int cr_l_detail_index(lua_State *L) {
  lua_settop(L, 2);
  if (!lua_istable(L, 1)) return 0;
  detail_materialise(L, 1);
  lua_rawget(L, 1);
  return 1;
}

static int detail_next(lua_State *L) {
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}

int cr_l_detail_pairs(lua_State *L) {
  lua_settop(L, 1);
  if (lua_istable(L, 1)) detail_materialise(L, 1);
  lua_pushcfunction(L, detail_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

#if LUA_VERSION_NUM < 502
/* LuaJIT and 5.1 have no __pairs, so a lazy detail would look empty to
 * pairs() until read; and there a userdata plus a weak-table entry cost more
 * than five short strings (LuaJIT: about 0.1 us a call). Filled at once. */
static void detail_eager(lua_State *L, const cr_sign_output *o, int volc) {
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, KEY(K_AUTHORIZATION)); lua_pushvalue(L, -3); lua_rawset(L, -3);
  if (volc) {
    lua_pushvalue(L, KEY(K_CANONICAL_QUERY));
    lua_pushlstring(L, o->canonical_query.data, o->canonical_query.len);
    lua_rawset(L, -3);
  }
  lua_pushvalue(L, KEY(K_CANONICAL_REQUEST));
  lua_pushlstring(L, o->canonical_request.data, o->canonical_request.len);
  lua_rawset(L, -3);
  lua_pushvalue(L, KEY(K_STRING_TO_SIGN));
  lua_pushlstring(L, o->string_to_sign.data, o->string_to_sign.len);
  lua_rawset(L, -3);
  lua_pushvalue(L, KEY(K_SIGNED_HEADERS));
  lua_pushlstring(L, o->signed_headers.data, o->signed_headers.len);
  lua_rawset(L, -3);
  lua_pushvalue(L, KEY(K_SIGNATURE)); lua_pushlstring(L, o->signature, 64); lua_rawset(L, -3);
}
#endif

/* The detail of o pushed (after the authorization the caller pushed), from
 * inside a signing closure: the upvalues are the signer's. */
void cr_sign_push_detail(lua_State *L, const cr_sign_output *o, int volc) {
  snapshot *sn;
  char *at;
  size_t total;
#if LUA_VERSION_NUM < 502
  detail_eager(L, o, volc);
  (void)sn; (void)at; (void)total;
  return;
#endif
  lua_createtable(L, 0, 0);
  total = o->authorization.len + o->canonical_request.len + o->string_to_sign.len;
#if LUA_VERSION_NUM >= 504
  sn = lua_newuserdatauv(L, sizeof *sn + total, 0);   /* no user value slot to allocate */
#else
  sn = lua_newuserdata(L, sizeof *sn + total);
#endif
  sn->volc = volc;
  at = sn->data;
  memcpy(at, o->authorization.data, sn->alen = o->authorization.len); at += sn->alen;
  memcpy(at, o->canonical_request.data, sn->clen = o->canonical_request.len); at += sn->clen;
  memcpy(at, o->string_to_sign.data, sn->slen = o->string_to_sign.len);
  lua_pushvalue(L, KEY(K_LINKS));   /* links[detail] = snapshot */
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 2);
  lua_pushvalue(L, KEY(K_DETAIL_MT));
  lua_setmetatable(L, -2);
}

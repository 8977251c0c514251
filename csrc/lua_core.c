/* cloudrenew.core: luaopen_cloudrenew_core and the bindings not yet in a file
 * of their own. lua_util.h says what every lua_*.c keeps to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "lua_util.h"
#include "sign.h"

#ifndef CLOUDRENEW_VERSION
#define CLOUDRENEW_VERSION "scm"
#endif


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

/* ---- hashing and signing ----------------------------------------------- */

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

static void push_buf(lua_State *L, const cr_buf *b, const char *k) {
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  lua_setfield(L, -2, k);
}

static int push_signout(lua_State *L, cr_sign_output *o, int rc) {
  if (rc == CR_SIGN_ENOMEM) return luaL_error(L, "cloudrenew.core: out of memory while signing");
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, "invalid signing input (a control character, space or '/' where none may be, "
                      "a duplicate or empty header name, or a missing Host/Content-Type)");
    return 2;
  }
  lua_newtable(L);
  push_buf(L, &o->authorization, "authorization");
  push_buf(L, &o->canonical_query, "canonical_query");
  push_buf(L, &o->canonical_request, "canonical_request");
  push_buf(L, &o->string_to_sign, "string_to_sign");
  push_buf(L, &o->signed_headers, "signed_headers");
  lua_pushstring(L, o->signature); lua_setfield(L, -2, "signature");
  return 1;
}

/* ---- the public signers: cloudrenew.sign.tc3 / .volc --------------------
 * Gateways call these per request for many clients, so the public contract is
 * kept here in one pass over the arguments and without duplicating sign.c:
 * the fast pass checks types, lengths, NUL bytes, the shapes sign.c does not
 * know (service/region letters, host), merges headers and formats numbers;
 * sign.c then refuses every byte that may not be signed (ids, method, path,
 * date, header names and values). Only when it refuses does a strict pass
 * re-read the arguments to name the field. sign.lua turns the message into
 * ClientError.InvalidParameter. Every value read stays on the Lua stack until
 * the answer is built (an __index may hand out strings nothing else
 * references), and the state's signer userdata owns all scratch memory, so
 * even a raise from a metamethod leaks nothing. */
#define SIGNER_MT "cloudrenew.core.signer"

typedef struct {
  cr_signer *s;
  cr_sign_output out;        /* reused: buffers keep their capacity */
  cr_kv *kv;                 /* headers / query pairs of one call */
  char (*num)[32];           /* num[i]: kv[i]'s value when it was a number */
  size_t cap;
} l_signer;

/* Upvalue 1 is the l_signer; the field names follow (interned once, so a read
 * is a table lookup rather than a string hash), then the detail metatable,
 * the weak table linking an unread detail to its snapshot and a table whose
 * [1] is the refusal handler sign.lua installs (core.sign_on_error). */
enum { K_SECRET_ID = 2, K_SECRET_KEY, K_SERVICE, K_HOST, K_METHOD, K_CONTENT_TYPE, K_PAYLOAD,
       K_QUERY, K_TIMESTAMP, K_HEADERS, K_ACCESS_KEY, K_REGION, K_DATE, K_PATH, K_BODY,
       K_AUTHORIZATION, K_CANONICAL_QUERY, K_CANONICAL_REQUEST, K_STRING_TO_SIGN,
       K_SIGNED_HEADERS, K_SIGNATURE, K_DETAIL_MT, K_LINKS, K_FAIL };
static const char *const sign_keys[] = {
  "secret_id", "secret_key", "service", "host", "method", "content_type", "payload", "query",
  "timestamp", "headers", "access_key", "region", "date", "path", "body", "authorization",
  "canonical_query", "canonical_request", "string_to_sign", "signed_headers", "signature", NULL
};
#define SIGN_UPVALUES (K_FAIL)
#define KEY(k) lua_upvalueindex(k)
#define KNAME(k) sign_keys[(k) - K_SECRET_ID]

/* t[k] pushed, its type returned: one API call on 5.3+, where lua_gettable says it. */
#if LUA_VERSION_NUM >= 503
#define field_type(L, k) (lua_pushvalue((L), KEY(k)), lua_gettable((L), 1))
#else
static int field_type(lua_State *L, int k) {
  lua_pushvalue(L, KEY(k));
  lua_gettable(L, 1);
  return lua_type(L, -1);
}
#endif

static int signer_gc(lua_State *L) {
  l_signer *u = luaL_checkudata(L, 1, SIGNER_MT);
  cr_signer_free(u->s);
  cr_sign_output_free(&u->out);
  free(u->kv);
  free(u->num);
  u->s = NULL; u->kv = NULL; u->num = NULL; u->cap = 0;
  return 0;
}

static l_signer *state_signer(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

/* Room for n pairs; -1 when out of memory (what was read stays valid). */
static int kv_room(l_signer *u, size_t n) {
  size_t cap = u->cap ? u->cap : 8;
  cr_kv *kv;
  char (*num)[32];
  if (n <= u->cap) return 0;
  while (cap < n) { if (cap > ((size_t)-1) / 64) return -1; cap *= 2; }
  if (!(kv = realloc(u->kv, cap * sizeof *kv))) return -1;
  u->kv = kv;
  if (!(num = realloc(u->num, cap * sizeof *num))) return -1;
  u->num = num; u->cap = cap;
  return 0;
}

/* Indexed by CR_SH_* (sign.h): what a refusal says the field must be. */
static const char *const shape_desc[] = {
  "printable, without spaces, '/' or ','", "letters, digits, '-', '_' or '.'",
  "a host name or host:port", "an upper-case HTTP method such as POST",
  "one line of text without control characters"
};

/* Messages name the field; a caller-chosen name is shown printable and short. */
static void pub_fail(rd_err *e, const char *fmt, const char *a) {
  if (!e->msg[0]) snprintf(e->msg, sizeof e->msg, fmt, a ? a : "");
}

static void show(char out[48], const char *s, size_t n) {
  size_t i, m = n < 40 ? n : 40;
  for (i = 0; i < m; i++) out[i] = (s[i] > ' ' && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
  out[m] = '\0';
  if (n > m) memcpy(out + m, "...", 4);
}

/* t[k] (left on the stack) as a string of a shape, or dflt when absent and
 * dflt given. The fast pass leaves to sign.c the byte checks it makes itself
 * (ids, method, one-line text), keeping the length cap and refusing a NUL that
 * would cut a C string short. */
static const char *pub_text(lua_State *L, int k, int sh, const char *dflt, size_t *len, int strict,
                            rd_err *e) {
  size_t n = 0;
  const char *s;
  int ty = field_type(L, k);
  if (ty == LUA_TNIL && dflt) { *len = strlen(dflt); return dflt; }
  s = ty == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
  if (!(strict ? cr_shape_ok(sh, s, n) : cr_shape_fast(sh, s, n))) {
    if (!e->msg[0]) snprintf(e->msg, sizeof e->msg, "%s must be a string: %s", KNAME(k), shape_desc[sh]);
    return NULL;
  }
  *len = n;
  return s;
}

/* t[k] (left on the stack) as raw bytes: required non-empty, or optional ("" when absent). */
static const char *pub_bytes(lua_State *L, int k, int required, size_t *len, rd_err *e) {
  const char *s;
  int ty = field_type(L, k);
  *len = 0;
  if (!required && ty == LUA_TNIL) return "";
  s = ty == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
  if (!s || (required && *len == 0)) {
    pub_fail(e, required ? "%s is required (a string)" : "%s must be a string", KNAME(k));
    return NULL;
  }
  return s;
}

/* sign.value: strings as they are, finite numbers (integral ones without ".0"),
 * booleans; NULL for anything else. A number is formatted into buf. */
static const char *pub_scalar(lua_State *L, int idx, char buf[32], size_t *len) {
  double v;
  int n;
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: return lua_tolstring(L, idx, len);
  case LUA_TBOOLEAN:
    *len = lua_toboolean(L, idx) ? 4 : 5;
    return lua_toboolean(L, idx) ? "true" : "false";
  case LUA_TNUMBER:
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx)) {                 /* all 64 bits, not a double's 53 */
      *len = (size_t)snprintf(buf, 32, "%lld", (long long)lua_tointeger(L, idx));
      return buf;
    }
#endif
    v = (double)lua_tonumber(L, idx);
    if (v - v != 0) return NULL;                                      /* NaN, +-inf */
    /* integral (every double from 2^53 on is): every digit, never 1e+18 */
    if (v > -1e21 && v < 1e21 &&
        (v >= 9007199254740992.0 || v <= -9007199254740992.0 || v == (double)(long long)v))
      n = snprintf(buf, 32, "%.0f", v);
    else
      n = snprintf(buf, 32, "%.17g", v);
    *len = (size_t)n;
    return buf;
  default: return NULL;
  }
}

/* Store the scalar at idx as pair i (a number is kept in u->num[i]; its pointer
 * is fixed up once all pairs are read, since kv_room may move u->num). */
static int put_pair(l_signer *u, size_t i, lua_State *L, const char *name, size_t name_len, int idx) {
  const char *v = pub_scalar(L, idx, u->num[i], &u->kv[i].value_len);
  if (!v) return -1;
  u->kv[i].name = name; u->kv[i].name_len = name_len;
  u->kv[i].value = v == u->num[i] ? NULL : v;
  return 0;
}

static void fix_numbers(l_signer *u, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) if (!u->kv[i].value) u->kv[i].value = u->num[i];
}

/* s (n bytes) equals `lower` ignoring ASCII case. */
static int lower_eq(const char *s, size_t n, const char *lower, size_t ln) {
  size_t i;
  if (n != ln) return 0;
  for (i = 0; i < n; i++) if ((s[i] | (cr_char_class[(unsigned char)s[i]] & CR_CC_UPPER ? 0x20 : 0)) != lower[i]) return 0;
  return 1;
}

typedef struct { const char *skip1, *skip2, *find; int has; } hdr_rules;

/* The headers table at idx -> pairs from *n on: string names, scalar values.
 * Names equal (any case) to r->skip1/skip2 are left out, the caller sets
 * those; r->has is set if a name equals r->find. The strict pass also checks
 * what sign.c refuses: names are HTTP tokens, values one line (tab allowed). */
static int read_headers(lua_State *L, l_signer *u, int idx, size_t *n, hdr_rules *r, int strict,
                        rd_err *e) {
  char nm[48];
  if (lua_isnil(L, idx)) return 0;
  if (!lua_istable(L, idx)) { pub_fail(e, "headers must be a table", NULL); return -1; }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t kl = 0, i;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
    int ok = k != NULL && kl > 0;
    for (i = 0; ok && strict && i < kl; i++) ok = (cr_char_class[(unsigned char)k[i]] & CR_CC_TOKEN) != 0;
    if (!ok) {
      pub_fail(e, "headers names must be header names (letters, digits, '-')", NULL);
      lua_pop(L, 2);
      return -1;
    }
    if (r->find && lower_eq(k, kl, r->find, strlen(r->find))) r->has = 1;
    if ((r->skip1 && lower_eq(k, kl, r->skip1, strlen(r->skip1))) ||
        (r->skip2 && lower_eq(k, kl, r->skip2, strlen(r->skip2)))) {
      lua_pop(L, 1);
      continue;
    }
    if (kv_room(u, *n + 1)) { pub_fail(e, "out of memory", NULL); lua_pop(L, 2); return -1; }
    ok = put_pair(u, *n, L, k, kl, -1) == 0;
    if (ok && strict) {
      const char *v = u->kv[*n].value ? u->kv[*n].value : u->num[*n];
      for (i = 0; ok && i < u->kv[*n].value_len; i++) ok = !(cr_char_class[(unsigned char)v[i]] & CR_CC_CTLX);
    }
    if (!ok) {
      show(nm, k, kl);
      pub_fail(e, "headers %s must be a string or finite number on one line", nm);
      lua_pop(L, 2);
      return -1;
    }
    (*n)++;
    lua_pop(L, 1);   /* the value stays anchored in the headers table */
  }
  return 0;
}

/* The Volcengine query table at idx: names non-empty strings, values scalars or
 * lists of scalars (a repeated name), raw bytes: sign.c encodes them. */
static int read_query(lua_State *L, l_signer *u, int idx, size_t *n, rd_err *e) {
  char nm[48];
  if (lua_isnil(L, idx)) return 0;
  if (!lua_istable(L, idx)) { pub_fail(e, "query must be a table", NULL); return -1; }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t kl = 0;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
    const char *why = NULL;
    if (!k || kl == 0) {
      pub_fail(e, "query names must be non-empty strings", NULL);
      lua_pop(L, 2);
      return -1;
    }
    if (lua_istable(L, -1)) {
      size_t j, m = 0, count = 0;
      for (j = 1; !why; j++, m++) {     /* ipairs: up to the first nil */
        lua_rawgeti(L, -1, (int)j);
        if (lua_isnil(L, -1)) { lua_pop(L, 1); break; }
        if (kv_room(u, *n + 1)) why = "out of memory";
        else if (put_pair(u, *n, L, k, kl, -1)) why = "query %s has a value that is not a string or finite number";
        else (*n)++;
        lua_pop(L, 1);                  /* anchored in the list */
      }
      if (!why) {
        lua_pushnil(L);
        while (lua_next(L, -2)) { count++; lua_pop(L, 1); }
        if (count != m) why = "query %s must be a list of scalars";
      }
    } else if (kv_room(u, *n + 1)) {
      why = "out of memory";
    } else if (put_pair(u, *n, L, k, kl, -1)) {
      why = "query %s must be a string or finite number";
    } else {
      (*n)++;
    }
    if (why) {
      show(nm, k, kl);
      pub_fail(e, why, nm);
      lua_pop(L, 2);
      return -1;
    }
    lua_pop(L, 1);
  }
  return 0;
}

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

static int detail_index(lua_State *L) {
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

static int detail_pairs(lua_State *L) {
  lua_settop(L, 1);
  if (lua_istable(L, 1)) detail_materialise(L, 1);
  lua_pushcfunction(L, detail_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

/* A refusal: nil, message, or what the installed handler returns for
 * (name, message): sign.lua's ClientError, without a Lua wrapper around
 * every successful call. */
static int pub_refuse(lua_State *L, int volc, const char *msg) {
  lua_rawgeti(L, KEY(K_FAIL), 1);
  if (!lua_isfunction(L, -1)) {
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
  }
  lua_pushstring(L, volc ? "sign.volc" : "sign.tc3");
  lua_pushstring(L, msg);
  lua_call(L, 2, 2);
  return 2;
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

/* auth, detail from the state's output; a refusal otherwise. */
static int pub_result(lua_State *L, l_signer *u, int rc, int volc) {
  const cr_sign_output *o = &u->out;
  snapshot *sn;
  char *at;
  size_t total;
  if (rc != 0)
    return pub_refuse(L, volc, rc == CR_SIGN_ENOMEM ? "out of memory while signing" :
                      "invalid signing input (a control character, space or '/' where none may be, "
                      "a duplicate or empty header name, or a missing Host/Content-Type)");
  lua_pushlstring(L, o->authorization.data, o->authorization.len);
#if LUA_VERSION_NUM < 502
  detail_eager(L, o, volc);
  (void)sn; (void)at; (void)total;
  return 2;
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
  return 2;
}

#define PUB_STACK 48   /* fields, tables and iteration never need more */

/* One pass over sign.tc3's argument; strict: name the first bad field. */
static int tc3_pass(lua_State *L, l_signer *u, int strict, rd_err *e) {
  cr_tc3_input in;
  hdr_rules r = { "content-type", "host", NULL, 0 };
  size_t n = 0, ctl = 0, hl = 0, l = 0, i;
  const char *ct, *host;
  double ts;
  in.query = NULL; in.query_len = 0;   /* the rest is set below: no zeroing pass per call */
  in.secret_id = pub_text(L, K_SECRET_ID, CR_SH_ID, NULL, &l, strict, e);
  in.secret_key = pub_bytes(L, K_SECRET_KEY, 1, &in.secret_key_len, e);
  in.service = pub_text(L, K_SERVICE, CR_SH_SCOPE, NULL, &l, strict, e);
  host = pub_text(L, K_HOST, CR_SH_HOST, NULL, &hl, strict, e);
  in.method = pub_text(L, K_METHOD, CR_SH_METHOD, "POST", &l, strict, e);
  ct = pub_text(L, K_CONTENT_TYPE, CR_SH_LINE, "application/json", &ctl, 1, e);   /* sign.c allows a tab */
  in.payload = pub_bytes(L, K_PAYLOAD, 0, &in.payload_len, e);
  if (e->msg[0]) return CR_SIGN_EINVAL;
  lua_pushvalue(L, KEY(K_QUERY));
  lua_gettable(L, 1);
  if (lua_isnil(L, -1)) in.query = "";
  else if (lua_type(L, -1) == LUA_TSTRING) {
    in.query = lua_tolstring(L, -1, &in.query_len);
    for (i = 0; strict && in.query && i < in.query_len; i++)
      if (cr_char_class[(unsigned char)in.query[i]] & (CR_CC_CTL | CR_CC_SPACE | CR_CC_HASH)) in.query = NULL;
  }
  if (!in.query) {
    pub_fail(e, "query must be an encoded query string (no spaces or control characters)", NULL);
    return CR_SIGN_EINVAL;
  }
  lua_pushvalue(L, KEY(K_TIMESTAMP));
  lua_gettable(L, 1);
  ts = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
  if (!cr_in_range(ts, 0, (double)CR_SIGN_MAX_TIMESTAMP) || ts != (double)(long long)ts) {
    pub_fail(e, "timestamp must be unix seconds (an integer from 0 to 253402300799)", NULL);
    return CR_SIGN_EINVAL;
  }
  in.timestamp = (long long)ts;
  lua_pushvalue(L, KEY(K_HEADERS));
  lua_gettable(L, 1);
  if (read_headers(L, u, lua_gettop(L), &n, &r, strict, e)) return CR_SIGN_EINVAL;
  if (kv_room(u, n + 2)) { pub_fail(e, "out of memory", NULL); return CR_SIGN_EINVAL; }
  fix_numbers(u, n);
  u->kv[n].name = "Content-Type"; u->kv[n].name_len = 12; u->kv[n].value = ct; u->kv[n].value_len = ctl;
  u->kv[n + 1].name = "Host"; u->kv[n + 1].name_len = 4; u->kv[n + 1].value = host; u->kv[n + 1].value_len = hl;
  in.headers = u->kv; in.nheaders = n + 2;
  return strict ? 0 : cr_tc3_sign_with(u->s, &in, &u->out);
}

/* One pass over sign.volc's argument; strict: name the first bad field. */
static int volc_pass(lua_State *L, l_signer *u, int strict, rd_err *e) {
  cr_volc_input in;
  hdr_rules r = { NULL, NULL, "x-date", 0 };
  size_t n = 0, nq, l = 0, dl = 0, i;
  char shown[48];
  in.access_key = pub_text(L, K_ACCESS_KEY, CR_SH_ID, NULL, &l, strict, e);
  in.secret_key = pub_bytes(L, K_SECRET_KEY, 1, &in.secret_key_len, e);
  in.service = pub_text(L, K_SERVICE, CR_SH_SCOPE, NULL, &l, strict, e);
  in.region = pub_text(L, K_REGION, CR_SH_SCOPE, NULL, &l, strict, e);
  in.date = pub_text(L, K_DATE, CR_SH_LINE, NULL, &dl, strict, e);
  in.method = pub_text(L, K_METHOD, CR_SH_METHOD, "GET", &l, strict, e);
  in.path = pub_text(L, K_PATH, CR_SH_LINE, "/", &l, strict, e);
  in.body = pub_bytes(L, K_BODY, 0, &in.body_len, e);
  if (e->msg[0]) return CR_SIGN_EINVAL;
  if (strict) {
    for (i = 0; i < dl; i++)
      if (i == 8 ? in.date[i] != 'T' : i == 15 ? in.date[i] != 'Z' : (unsigned)(in.date[i] - '0') > 9) break;
    if (dl != 16 || i != 16) {
      show(shown, in.date, dl);
      pub_fail(e, "date must be YYYYMMDDTHHMMSSZ (UTC), got \"%s\"", shown);
      return CR_SIGN_EINVAL;
    }
    for (i = 0; i < l; i++)
      if (cr_char_class[(unsigned char)in.path[i]] & (CR_CC_SPACE | CR_CC_QMARK | CR_CC_HASH)) break;
    if (in.path[0] != '/' || i != l) {
      pub_fail(e, "path must start with '/' and hold no spaces, '?' or '#'", NULL);
      return CR_SIGN_EINVAL;
    }
  }
  lua_pushvalue(L, KEY(K_QUERY));
  lua_gettable(L, 1);
  if (read_query(L, u, lua_gettop(L), &n, e)) return CR_SIGN_EINVAL;
  nq = n;
  lua_pushvalue(L, KEY(K_HEADERS));
  lua_gettable(L, 1);
  if (read_headers(L, u, lua_gettop(L), &n, &r, strict, e)) return CR_SIGN_EINVAL;
  if (!r.has) {
    if (kv_room(u, n + 1)) { pub_fail(e, "out of memory", NULL); return CR_SIGN_EINVAL; }
    u->kv[n].name = "X-Date"; u->kv[n].name_len = 6; u->kv[n].value = in.date; u->kv[n].value_len = dl;
    n++;
  }
  fix_numbers(u, n);
  in.query = u->kv; in.nquery = nq;
  in.headers = u->kv + nq; in.nheaders = n - nq;
  return strict ? 0 : cr_volc_sign_with(u->s, &in, &u->out);
}

/* core.sign_tc3(t) / core.sign_volc(t) -> authorization, detail | nil, message
 * (the message without the "sign.tc3: " prefix). Never raises on what it is given. */
static int pub_sign(lua_State *L, int volc) {
  l_signer *u = state_signer(L);
  rd_err e;          /* only msg[0] is read before a message is written: no 160-byte zeroing */
  int rc;
  e.msg[0] = '\0';
  lua_settop(L, 1);
  if (!lua_istable(L, 1)) return pub_refuse(L, volc, "argument must be a table");
  if (!lua_checkstack(L, PUB_STACK)) return pub_refuse(L, volc, "out of memory");
  rc = volc ? volc_pass(L, u, 0, &e) : tc3_pass(L, u, 0, &e);
  if (e.msg[0]) return pub_refuse(L, volc, e.msg);
  if (rc == CR_SIGN_EINVAL) {         /* sign.c refused: re-read strictly to name the field */
    lua_settop(L, 1);
    if (volc) volc_pass(L, u, 1, &e); else tc3_pass(L, u, 1, &e);
    if (e.msg[0]) return pub_refuse(L, volc, e.msg);
  }
  return pub_result(L, u, rc, volc);
}

static int l_sign_tc3(lua_State *L) { return pub_sign(L, 0); }
static int l_sign_volc(lua_State *L) { return pub_sign(L, 1); }

/* core.sign_on_error(fn): sign_tc3/sign_volc then return fn(name, message)
 * for a refusal (nil: back to nil, message). */
static int l_sign_on_error(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_rawseti(L, KEY(K_FAIL), 1);
  return 0;
}

/* core.tc3_sign{secret_id, secret_key, service, timestamp, method, query, payload, headers}
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
  return push_signout(L, &u->out, cr_tc3_sign_with(u->s, &in, &u->out));
}

/* core.volc_sign{access_key, secret_key, service, region, date, method, path, query, headers, body}
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
  return push_signout(L, &u->out, cr_volc_sign_with(u->s, &in, &u->out));
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
static void open_signers(lua_State *L) {
  static const lua_CFunction fns[] = { l_tc3_sign, l_volc_sign, l_sign_tc3, l_sign_volc, l_sign_on_error,
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
  for (k = 0; sign_keys[k]; k++) lua_pushstring(L, sign_keys[k]);
  lua_newtable(L);                                    /* K_DETAIL_MT, filled below */
  lua_newtable(L);                                    /* K_LINKS: weak keys */
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_newtable(L);                                    /* K_FAIL */
  for (k = 1; k <= SIGN_UPVALUES; k++) lua_pushvalue(L, top + k);
  lua_pushcclosure(L, detail_index, SIGN_UPVALUES);
  lua_setfield(L, top + K_DETAIL_MT, "__index");
  for (k = 1; k <= SIGN_UPVALUES; k++) lua_pushvalue(L, top + k);
  lua_pushcclosure(L, detail_pairs, SIGN_UPVALUES);
  lua_setfield(L, top + K_DETAIL_MT, "__pairs");
  for (i = 0; i < 6; i++) {
    for (k = 1; k <= SIGN_UPVALUES; k++) lua_pushvalue(L, top + k);
    lua_pushcclosure(L, fns[i], SIGN_UPVALUES);
    lua_setfield(L, top, names[i]);
  }
  lua_settop(L, top);
}

static int l_sign_key_derivations(lua_State *L) {
  lua_pushnumber(L, (lua_Number)cr_sign_key_derivations());
  return 1;
}

/* ---- module ------------------------------------------------------------- */

static const luaL_Reg funcs[] = {
  {"sha256_hex", l_sha256_hex}, {"hmac_sha256_hex", l_hmac_sha256_hex},
  {"uri_encode", l_uri_encode}, {"sign_key_derivations", l_sign_key_derivations}, {NULL, NULL}
};

int luaopen_cloudrenew_core(lua_State *L) {
  if (cr_http_global_init() != 0) return luaL_error(L, "cloudrenew.core: curl_global_init failed");
  cr_newlib(L, funcs);
  cr_open_http(L);      /* http, multi */
  cr_open_pace(L);      /* limiter, monotonic, time, getpid, sleep, random_hex */
  cr_open_fileio(L);    /* append_durable, truncate_tail, lock, isatty */
  open_signers(L);   /* tc3_sign, volc_sign, sign_tc3, sign_volc */
  lua_pushstring(L, CLOUDRENEW_VERSION); lua_setfield(L, -2, "version");
  /* curl_version_info, not curl_version(): the latter initialises libldap, whose
   * one-time allocations are never freed and would drown real leaks in valgrind. */
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version); lua_setfield(L, -2, "curl_version");
  cr_open_redis(L);
  return 1;
}

/* core.sign_tc3 / core.sign_volc, the public signers: separate because their one-pass argument contract is the hot path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_sign.h"

/* The public signers: cloudrenew.sign.tc3 / .volc.
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

/* auth, detail from the state's output; a refusal otherwise. */
static int pub_result(lua_State *L, l_signer *u, int rc, int volc) {
  const cr_sign_output *o = &u->out;
  if (rc != 0)
    return pub_refuse(L, volc, rc == CR_SIGN_ENOMEM ? "out of memory while signing" :
                      "invalid signing input (a control character, space or '/' where none may be, "
                      "a duplicate or empty header name, or a missing Host/Content-Type)");
  lua_pushlstring(L, o->authorization.data, o->authorization.len);
  cr_sign_push_detail(L, o, volc);   /* lua_sign_detail.c */
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

int cr_l_sign_tc3(lua_State *L) { return pub_sign(L, 0); }
int cr_l_sign_volc(lua_State *L) { return pub_sign(L, 1); }

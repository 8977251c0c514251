/* bench/sign_raw.c: the raw C baseline for `make bench-sign` (a bench-only Lua
 * module, never installed). Each loop signs n requests with nothing but the
 * HMAC chain a hand-written C gateway would run for a FIXED request shape: the
 * signing key derived once outside the loop, EVP_MD/EVP_MAC fetched once, one
 * reused digest context, one keyed MAC context re-initialised per signature,
 * every string laid out with memcpy into stack buffers. No validation, no
 * sorting, no allocation, no Lua in the loop: an upper bound for the signers.
 *
 *   signraw.tc3(t, n)  -> seconds, authorization   (t: the sign.tc3 fields)
 *   signraw.volc(t, n) -> seconds, authorization   (t: see bench/sign.lua)
 * The authorization is the last one signed; bench/sign.lua checks it equals
 * what cloudrenew.sign produces, so both sides did the same work. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
#endif

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

typedef struct {
  EVP_MD *md;
  EVP_MD_CTX *mdctx;
  EVP_MAC *mac;
  EVP_MAC_CTX *keyed;
} raw;

static void raw_free(raw *r) {
  EVP_MAC_CTX_free(r->keyed);
  EVP_MAC_free(r->mac);
  EVP_MD_CTX_free(r->mdctx);
  EVP_MD_free(r->md);
}

static void hex(const unsigned char *in, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) { out[2 * i] = d[in[i] >> 4]; out[2 * i + 1] = d[in[i] & 15]; }
}

static int sha256_hex(raw *r, const void *p, size_t n, char out[64]) {
  unsigned char md[32];
  if (!EVP_DigestInit_ex2(r->mdctx, r->md, NULL) || !EVP_DigestUpdate(r->mdctx, p, n) ||
      !EVP_DigestFinal_ex(r->mdctx, md, NULL)) return -1;
  hex(md, 32, out);
  return 0;
}

static EVP_MAC_CTX *keyed_ctx(raw *r, const void *key, size_t klen) {
  OSSL_PARAM p[2];
  EVP_MAC_CTX *c = EVP_MAC_CTX_new(r->mac);
  p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
  p[1] = OSSL_PARAM_construct_end();
  if (c && EVP_MAC_init(c, key, klen, p)) return c;
  EVP_MAC_CTX_free(c);
  return NULL;
}

static int mac_once(EVP_MAC_CTX *c, const void *m, size_t n, unsigned char out[32]) {
  size_t ol = 0;
  return EVP_MAC_init(c, NULL, 0, NULL) && EVP_MAC_update(c, m, n) &&
         EVP_MAC_final(c, out, &ol, 32) && ol == 32 ? 0 : -1;
}

/* Derive the chain's key once (outside the timed loop) and keep it keyed. */
static int setup(raw *r, const char *prefix, const char *secret, const char *const *steps) {
  unsigned char k[32];
  char first[512];
  EVP_MAC_CTX *c;
  size_t i;
  memset(r, 0, sizeof *r);
  if (!(r->md = EVP_MD_fetch(NULL, "SHA256", NULL)) || !(r->mdctx = EVP_MD_CTX_new()) ||
      !(r->mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) return -1;
  snprintf(first, sizeof first, "%s%s", prefix, secret);
  for (i = 0; steps[i]; i++) {
    c = keyed_ctx(r, i ? (const char *)k : first, i ? 32 : strlen(first));
    if (!c || mac_once(c, steps[i], strlen(steps[i]), k)) { EVP_MAC_CTX_free(c); return -1; }
    EVP_MAC_CTX_free(c);
  }
  return (r->keyed = keyed_ctx(r, k, 32)) ? 0 : -1;
}

#define PUT(s, n) (memcpy(at, (s), (n)), at += (n))
#define PUTS(s) PUT((s), strlen(s))

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *field(lua_State *L, const char *k, size_t *n) {
  const char *s;
  lua_getfield(L, 1, k);
  s = luaL_checklstring(L, -1, n);
  lua_pop(L, 1);   /* anchored in t */
  return s;
}

/* TC3 with headers content-type, host, x-tc-action (values lower-cased). */
static int raw_tc3(lua_State *L) {
  size_t idl, skl, svl, hl, ctl, acl, pl, i;
  const char *id = field(L, "secret_id", &idl), *sk = field(L, "secret_key", &skl);
  const char *svc = field(L, "service", &svl), *host = field(L, "host", &hl);
  const char *ct = field(L, "content_type", &ctl), *act = field(L, "action", &acl);
  const char *pay = field(L, "payload", &pl);
  long long ts;
  long n = (long)luaL_checknumber(L, 2), k;
  char cr[2048], sts[512], auth[512], ph[64], ch[64], sig[64], date[40], tss[24], *at = NULL;
  const char *steps[4];
  unsigned char mac[32];
  struct tm tm;
  time_t t;
  double t0;
  raw r;
  (void)skl;
  lua_getfield(L, 1, "timestamp");
  ts = (long long)luaL_checknumber(L, -1);
  lua_pop(L, 1);
  if (hl + ctl + acl + svl + idl > 1024) return luaL_error(L, "fields too long for the bench");
  t = (time_t)ts; gmtime_r(&t, &tm);
  snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  steps[0] = date; steps[1] = svc; steps[2] = "tc3_request"; steps[3] = NULL;
  if (setup(&r, "TC3", sk, steps)) { raw_free(&r); return luaL_error(L, "openssl setup failed"); }
  t0 = now();
  for (k = 0; k < n; k++) {
    int tl;
    t = (time_t)ts; gmtime_r(&t, &tm);   /* the request's date, as a gateway must */
    date[0] = (char)('0' + (tm.tm_year + 1900) / 1000); date[1] = (char)('0' + (tm.tm_year + 1900) / 100 % 10);
    date[2] = (char)('0' + (tm.tm_year + 1900) / 10 % 10); date[3] = (char)('0' + (tm.tm_year + 1900) % 10);
    date[5] = (char)('0' + (tm.tm_mon + 1) / 10); date[6] = (char)('0' + (tm.tm_mon + 1) % 10);
    date[8] = (char)('0' + tm.tm_mday / 10); date[9] = (char)('0' + tm.tm_mday % 10);
    tl = snprintf(tss, sizeof tss, "%lld", ts);
    if (sha256_hex(&r, pay, pl, ph)) break;
    at = cr;
    PUTS("POST\n/\n\ncontent-type:");
    for (i = 0; i < ctl; i++) *at++ = (char)(ct[i] >= 'A' && ct[i] <= 'Z' ? ct[i] + 32 : ct[i]);
    PUTS("\nhost:");
    for (i = 0; i < hl; i++) *at++ = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32 : host[i]);
    PUTS("\nx-tc-action:");
    for (i = 0; i < acl; i++) *at++ = (char)(act[i] >= 'A' && act[i] <= 'Z' ? act[i] + 32 : act[i]);
    PUTS("\n\ncontent-type;host;x-tc-action\n");
    PUT(ph, 64);
    if (sha256_hex(&r, cr, (size_t)(at - cr), ch)) break;
    at = sts;
    PUTS("TC3-HMAC-SHA256\n"); PUT(tss, (size_t)tl); *at++ = '\n';
    PUT(date, 10); *at++ = '/'; PUT(svc, svl); PUTS("/tc3_request\n"); PUT(ch, 64);
    if (mac_once(r.keyed, sts, (size_t)(at - sts), mac)) break;
    hex(mac, 32, sig);
    at = auth;
    PUTS("TC3-HMAC-SHA256 Credential="); PUT(id, idl); *at++ = '/'; PUT(date, 10); *at++ = '/';
    PUT(svc, svl); PUTS("/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=");
    PUT(sig, 64);
  }
  t0 = now() - t0;
  raw_free(&r);
  if (k < n) return luaL_error(L, "openssl failed");
  lua_pushnumber(L, t0);
  lua_pushlstring(L, auth, (size_t)(at - auth));
  return 2;
}

/* Volcengine GET with query names known and pre-sorted (t.query = {{name, value}, ...}
 * in order; values percent-encoded per signature) and headers content-type, host,
 * x-content-sha256 (t.content_sha256), x-date (t.date). */
static int raw_volc(lua_State *L) {
  static const char digits[] = "0123456789ABCDEF";
  size_t akl, skl, svl, rgl, hl, ctl, xl, dl, bl, nq, i, j;
  const char *ak = field(L, "access_key", &akl), *sk = field(L, "secret_key", &skl);
  const char *svc = field(L, "service", &svl), *rg = field(L, "region", &rgl);
  const char *host = field(L, "host", &hl), *ct = field(L, "content_type", &ctl);
  const char *xsha = field(L, "content_sha256", &xl), *date = field(L, "date", &dl);
  const char *body = field(L, "body", &bl);
  const char *qn[8], *qv[8];
  size_t qnl[8], qvl[8];
  long n = (long)luaL_checknumber(L, 2), k;
  char cr[4096], sts[512], auth[512], ch[64], bh[64], sig[64], ymd[9], *at = NULL;
  const char *steps[5];
  unsigned char mac[32];
  double t0;
  raw r;
  (void)skl;
  lua_getfield(L, 1, "query");
  nq = lua_rawlen(L, -1);
  if (nq > 8 || dl != 16) return luaL_error(L, "bench query too long or bad date");
  for (i = 0; i < nq; i++) {
    lua_rawgeti(L, -1, (int)i + 1);
    lua_rawgeti(L, -1, 1); qn[i] = luaL_checklstring(L, -1, &qnl[i]);
    lua_rawgeti(L, -2, 2); qv[i] = luaL_checklstring(L, -1, &qvl[i]);
    if (qnl[i] + qvl[i] > 128) return luaL_error(L, "bench query too long");
    lua_pop(L, 3);   /* anchored in the pair table, anchored in t */
  }
  lua_pop(L, 1);
  if (hl + ctl + xl + svl + rgl + akl > 1024) return luaL_error(L, "fields too long for the bench");
  memcpy(ymd, date, 8); ymd[8] = '\0';
  steps[0] = ymd; steps[1] = rg; steps[2] = svc; steps[3] = "request"; steps[4] = NULL;
  if (setup(&r, "", sk, steps)) { raw_free(&r); return luaL_error(L, "openssl setup failed"); }
  t0 = now();
  for (k = 0; k < n; k++) {
    at = cr;
    PUTS("GET\n/\n");
    for (i = 0; i < nq; i++) {
      if (i) *at++ = '&';
      PUT(qn[i], qnl[i]); *at++ = '=';
      for (j = 0; j < qvl[i]; j++) {
        unsigned char c = (unsigned char)qv[i][j];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') *at++ = (char)c;
        else { *at++ = '%'; *at++ = digits[c >> 4]; *at++ = digits[c & 15]; }
      }
    }
    PUTS("\ncontent-type:"); PUT(ct, ctl); PUTS("\nhost:"); PUT(host, hl);
    PUTS("\nx-content-sha256:"); PUT(xsha, xl); PUTS("\nx-date:"); PUT(date, dl);
    PUTS("\n\ncontent-type;host;x-content-sha256;x-date\n");
    if (sha256_hex(&r, body, bl, bh)) break;
    PUT(bh, 64);
    if (sha256_hex(&r, cr, (size_t)(at - cr), ch)) break;
    at = sts;
    PUTS("HMAC-SHA256\n"); PUT(date, dl); *at++ = '\n'; PUT(ymd, 8); *at++ = '/';
    PUT(rg, rgl); *at++ = '/'; PUT(svc, svl); PUTS("/request\n"); PUT(ch, 64);
    if (mac_once(r.keyed, sts, (size_t)(at - sts), mac)) break;
    hex(mac, 32, sig);
    at = auth;
    PUTS("HMAC-SHA256 Credential="); PUT(ak, akl); *at++ = '/'; PUT(ymd, 8); *at++ = '/';
    PUT(rg, rgl); *at++ = '/'; PUT(svc, svl);
    PUTS("/request, SignedHeaders=content-type;host;x-content-sha256;x-date, Signature=");
    PUT(sig, 64);
  }
  t0 = now() - t0;
  raw_free(&r);
  if (k < n) return luaL_error(L, "openssl failed");
  lua_pushnumber(L, t0);
  lua_pushlstring(L, auth, (size_t)(at - auth));
  return 2;
}

int luaopen_signraw(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, raw_tc3); lua_setfield(L, -2, "tc3");
  lua_pushcfunction(L, raw_volc); lua_setfield(L, -2, "volc");
  return 1;
}

/* TC3-HMAC-SHA256 (Tencent Cloud v3) and Volcengine HMAC-SHA256 request signing.
 * Only OpenSSL 3 calls that are not deprecated: EVP_MD/EVP_MAC fetched once per
 * signer (one-shot EVP_Digest and HMAC() only for the standalone helpers). */
#include "sign.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

/* ---- buffers ------------------------------------------------------------- */

static int buf_reserve(cr_buf *b, size_t extra) {
  size_t need, cap;
  char *p;
  if (extra > SIZE_MAX - b->len - 1) return -1;
  need = b->len + extra + 1;                    /* +1: room for the NUL */
  if (b->data && need <= b->cap) return 0;
  cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (!(p = realloc(b->data, cap))) return -1;
  if (!b->data) p[0] = '\0';
  b->data = p; b->cap = cap;
  return 0;
}

/* Appending zero bytes still allocates, so a successful empty result is "" not NULL. */
int cr_buf_append(cr_buf *b, const void *p, size_t n) {
  if (buf_reserve(b, n) != 0) return -1;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int cr_buf_puts(cr_buf *b, const char *s) { return cr_buf_append(b, s, strlen(s)); }

void cr_buf_free(cr_buf *b) { free(b->data); b->data = NULL; b->len = b->cap = 0; }

static void buf_clear(cr_buf *b) { b->len = 0; if (b->data) b->data[0] = '\0'; }

/* Empty an output for reuse: its buffers keep their capacity. */
static void output_clear(cr_sign_output *out) {
  buf_clear(&out->canonical_query);
  buf_clear(&out->canonical_request);
  buf_clear(&out->string_to_sign);
  buf_clear(&out->signed_headers);
  buf_clear(&out->authorization);
  out->signature[0] = '\0';
}

void cr_sign_output_free(cr_sign_output *out) {
  cr_buf_free(&out->canonical_query);
  cr_buf_free(&out->canonical_request);
  cr_buf_free(&out->string_to_sign);
  cr_buf_free(&out->signed_headers);
  cr_buf_free(&out->authorization);
  memset(out, 0, sizeof *out);
}

/* ---- primitives ---------------------------------------------------------- */

const unsigned short cr_char_class[256] = {
  1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1, 1025, 1025, 1025, 1025, 1025, 1025,
  1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025, 1025,
  2, 4, 0, 132, 4, 4, 4, 4, 0, 0, 4, 4, 64, 540, 540, 64,
  540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 16, 0, 0, 0, 0, 256,
  0, 572, 572, 572, 572, 572, 572, 572, 572, 572, 572, 572, 572, 572, 572, 572,
  572, 572, 572, 572, 572, 572, 572, 572, 572, 572, 572, 16, 0, 16, 4, 540,
  4, 540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 540,
  540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 540, 0, 4, 0, 516, 1025,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
#define CC(c, bits) (cr_char_class[(unsigned char)(c)] & (bits))

static void to_hex(const unsigned char in[32], char out[65]) {
  static const char pairs[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
  int i;
  for (i = 0; i < 32; i++) memcpy(out + 2 * i, pairs + 2 * in[i], 2);
  out[64] = '\0';
}

/* Standalone helpers (core.sha256_hex and friends); the signers use a cr_signer.
 * The void public wrappers cannot report failure, so they yield zeros. */
static int sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[32] = {0};
  unsigned int mdlen = 0;
  int ok = EVP_Digest(len ? data : "", len, md, &mdlen, EVP_sha256(), NULL) && mdlen == 32;
  to_hex(md, out);
  return ok ? 0 : -1;
}

static int hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32]) {
  unsigned int olen = 0;
  /* OpenSSL 3 rejects a NULL key even with length 0, hence the "" stand-ins. */
  if (klen <= INT32_MAX && HMAC(EVP_sha256(), klen ? key : "", (int)klen,
                                (const unsigned char *)(mlen ? msg : ""), mlen, out, &olen) && olen == 32)
    return 0;
  memset(out, 0, 32);
  return -1;
}

void cr_sha256_hex(const void *data, size_t len, char out[65]) { (void)sha256_hex(data, len, out); }
void cr_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32]) {
  (void)hmac(key, klen, msg, mlen, out);
}

/* Encode into dst (or, with dst NULL, only measure): lets callers size exactly once.
 * Query names and values are mostly unreserved bytes, so runs of them are
 * found first and copied at once. */
static size_t uri_enc(char *dst, const char *s, size_t n) {
  static const char digits[] = "0123456789ABCDEF";
  size_t i = 0, r, m = 0;
  while (i < n) {
    for (r = i; r < n && CC(s[r], CR_CC_UNRES); r++) {}
    if (r > i) {
      if (dst) memcpy(dst + m, s + i, r - i);
      m += r - i;
      if ((i = r) == n) break;
    }
    if (dst) {
      unsigned char c = (unsigned char)s[i];
      dst[m] = '%'; dst[m + 1] = digits[c >> 4]; dst[m + 2] = digits[c & 15];
    }
    m += 3; i++;
  }
  return m;
}

int cr_uri_encode(cr_buf *b, const char *s, size_t n) {
  if (n > SIZE_MAX / 3 || buf_reserve(b, uri_enc(NULL, s, n)) != 0) return -1;
  b->len += uri_enc(b->data + b->len, s, n);
  b->data[b->len] = '\0';
  return 0;
}

/* ---- the signer ------------------------------------------------------------
 * OpenSSL 3's one-shot EVP_Digest(EVP_sha256()) and HMAC() fetch the algorithm
 * from the provider on every call, and deriving the signing key costs three or
 * four HMACs. A signer fetches SHA-256 and HMAC once, reuses one digest
 * context, and keeps per (algorithm, scope, secret) an HMAC context already
 * keyed with the derived key: a signature only re-initialises it (EVP_MAC_init
 * without a key keeps the key). Slots are found by comparing the secret itself
 * (a copy, cleansed on eviction and free), not a SHA-256 of it per call: the
 * secret already sits in the caller's memory, and a digest per call was a
 * tenth of the signing time. The key only changes per day and scope, so
 * round-robin replacement is enough: yesterday's keys just age out. */
#define CACHE_SLOTS 32
#define SCOPE_MAX 256

typedef struct {
  EVP_MAC_CTX *mac;          /* keyed with the derived key; NULL: slot unused */
  const char *alg;           /* one of the two static algorithm names */
  size_t scope_len, secret_len;
  unsigned char *secret;
  char scope[SCOPE_MAX];     /* the scope parts joined by '/' (none holds a '/') */
} key_slot;

typedef struct { const char *n; size_t nl; const char *v; size_t vl; } pair;

struct cr_signer {
  EVP_MD *md;
  EVP_MAC *hmac;
  EVP_MD_CTX *mdctx;
  key_slot slot[CACHE_SLOTS];
  unsigned next, last;
  pair *pairs; size_t pairs_cap;   /* canonicalisation scratch, reused */
  char *arena; size_t arena_cap;
  cr_buf ch, scope;
};

static unsigned long derivations;
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;

unsigned long cr_sign_key_derivations(void) {
  unsigned long n;
  pthread_mutex_lock(&count_mu);
  n = derivations;
  pthread_mutex_unlock(&count_mu);
  return n;
}

static void slot_clear(key_slot *k) {
  EVP_MAC_CTX_free(k->mac);                  /* the provider cleanses its key state */
  if (k->secret) { OPENSSL_cleanse(k->secret, k->secret_len); free(k->secret); }
  k->mac = NULL; k->secret = NULL; k->secret_len = k->scope_len = 0;
}

void cr_signer_free(cr_signer *s) {
  size_t i;
  if (!s) return;
  for (i = 0; i < CACHE_SLOTS; i++) slot_clear(&s->slot[i]);
  EVP_MD_CTX_free(s->mdctx);
  EVP_MAC_free(s->hmac);
  EVP_MD_free(s->md);
  free(s->pairs);
  /* scratch held header values, a session token among them */
  if (s->arena) OPENSSL_cleanse(s->arena, s->arena_cap);
  free(s->arena);
  if (s->ch.data) OPENSSL_cleanse(s->ch.data, s->ch.cap);
  cr_buf_free(&s->ch);
  cr_buf_free(&s->scope);
  free(s);
}

cr_signer *cr_signer_new(void) {
  cr_signer *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (!(s->md = EVP_MD_fetch(NULL, "SHA256", NULL)) || !(s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) ||
      !(s->mdctx = EVP_MD_CTX_new())) {
    cr_signer_free(s);
    return NULL;
  }
  return s;
}

/* Grow the scratch to hold n pairs and an arena of `bytes`. */
static int scratch(cr_signer *s, size_t n, size_t bytes) {
  if (n > s->pairs_cap) {
    pair *p = n > SIZE_MAX / sizeof *p ? NULL : realloc(s->pairs, n * sizeof *p);
    if (!p) return -1;
    s->pairs = p; s->pairs_cap = n;
  }
  if (bytes > s->arena_cap) {
    char *a = realloc(s->arena, bytes);
    if (!a) return -1;
    s->arena = a; s->arena_cap = bytes;
  }
  return 0;
}

static int s_sha256_hex(cr_signer *s, const void *data, size_t len, char out[65]) {
  unsigned char md[32] = {0};
  unsigned int mdlen = 0;
  int ok = EVP_DigestInit_ex2(s->mdctx, s->md, NULL) && EVP_DigestUpdate(s->mdctx, len ? data : "", len) &&
           EVP_DigestFinal_ex(s->mdctx, md, &mdlen) && mdlen == 32;
  if (!ok) memset(md, 0, sizeof md);
  to_hex(md, out);
  return ok ? 0 : -1;
}

/* One MAC over msg with c already (re)initialised. */
static int mac_run(EVP_MAC_CTX *c, const void *msg, size_t n, unsigned char out[32]) {
  size_t olen = 0;
  if (EVP_MAC_update(c, (const unsigned char *)(n ? msg : ""), n) && EVP_MAC_final(c, out, &olen, 32) &&
      olen == 32)
    return 0;
  memset(out, 0, 32);
  return -1;
}

/* A new HMAC context keyed with HMAC(...HMAC(HMAC(prefix || secret, steps[0]),
 * steps[1])..., steps[n-1]); NULL on failure. */
static EVP_MAC_CTX *derive(cr_signer *s, const char *prefix, const char *secret, size_t slen,
                           const char *const *steps, size_t nsteps) {
  unsigned char k[32], *first = NULL;
  size_t i, plen = strlen(prefix);
  EVP_MAC_CTX *c = NULL;
  OSSL_PARAM p[2];
  int ok = 0;
  p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
  p[1] = OSSL_PARAM_construct_end();
  if (slen > SIZE_MAX - plen - 1 || !(first = malloc(plen + slen + 1)) || !(c = EVP_MAC_CTX_new(s->hmac)))
    goto done;
  memcpy(first, prefix, plen);
  memcpy(first + plen, secret, slen);
  if (!EVP_MAC_init(c, first, plen + slen, p) || mac_run(c, steps[0], strlen(steps[0]), k)) goto done;
  for (i = 1; i < nsteps; i++)
    if (!EVP_MAC_init(c, k, 32, NULL) || mac_run(c, steps[i], strlen(steps[i]), k)) goto done;
  ok = EVP_MAC_init(c, k, 32, NULL);
done:
  if (first) { OPENSSL_cleanse(first, plen + slen); free(first); }
  OPENSSL_cleanse(k, sizeof k);
  if (!ok) { EVP_MAC_CTX_free(c); return NULL; }
  pthread_mutex_lock(&count_mu);
  derivations++;
  pthread_mutex_unlock(&count_mu);
  return c;
}

/* Equal bytes, in time that depends on n only (as CRYPTO_memcmp, which
 * goes a byte at a time: a tenth of a signature's non-crypto work). */
static int ct_equal(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  uint64_t d = 0, u, v;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) { memcpy(&u, x + i, 8); memcpy(&v, y + i, 8); d |= u ^ v; }
  for (; i < n; i++) d |= (uint64_t)(x[i] ^ y[i]);
  return d == 0;
}

/* HMAC(signing key, msg): the key comes from the cache or is derived (and
 * cached unless the scope is oversized, then used once and freed). */
static int sign_mac(cr_signer *s, const char *alg, const char *prefix, const char *secret, size_t slen,
                    const char *const *steps, size_t nsteps, const char *scope, size_t scope_len,
                    const char *msg, size_t mlen, unsigned char out[32]) {
  EVP_MAC_CTX *c = NULL;
  key_slot *k;
  unsigned i;
  int rc, temp = 0;
  for (i = 0; scope_len < SCOPE_MAX && i < CACHE_SLOTS; i++) {
    k = &s->slot[(s->last + i) % CACHE_SLOTS];           /* the last hit first */
    if (k->mac && k->alg == alg && k->scope_len == scope_len && k->secret_len == slen &&
        !memcmp(k->scope, scope, scope_len) && ct_equal(k->secret, secret, slen)) {
      s->last = (s->last + i) % CACHE_SLOTS;
      c = k->mac;
      break;
    }
  }
  if (!c) {
    if (!(c = derive(s, prefix, secret, slen, steps, nsteps))) return -1;
    temp = 1;
    if (scope_len < SCOPE_MAX) {
      k = &s->slot[s->next % CACHE_SLOTS];
      slot_clear(k);
      if ((k->secret = malloc(slen))) {
        memcpy(k->secret, secret, slen);
        memcpy(k->scope, scope, scope_len);
        k->mac = c; k->alg = alg; k->secret_len = slen; k->scope_len = scope_len;
        s->last = s->next++ % CACHE_SLOTS;
        temp = 0;
      }
    }
  }
  rc = EVP_MAC_init(c, NULL, 0, NULL) ? mac_run(c, msg, mlen, out) : -1;
  if (temp) EVP_MAC_CTX_free(c);
  return rc;
}

/* ---- canonicalisation ---------------------------------------------------- */

/* Byte order; inline rather than memcmp: signed names mostly differ early. */
static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl) {
  size_t i, m = al < bl ? al : bl;
  for (i = 0; i < m; i++)
    if (a[i] != b[i]) return (int)(unsigned char)a[i] - (int)(unsigned char)b[i];
  return (al > bl) - (al < bl);
}

static int cmp_pair(const void *x, const void *y) {
  const pair *a = x, *b = y;
  int c = cmp_bytes(a->n, a->nl, b->n, b->nl);
  return c ? c : cmp_bytes(a->v, a->vl, b->v, b->vl);
}

/* Requests sign a handful of headers and query pairs: insertion sort beats
 * qsort's indirect calls there. */
static void sort_pairs(pair *p, size_t n) {
  size_t i, j;
  if (n > 16) { qsort(p, n, sizeof *p, cmp_pair); return; }
  for (i = 1; i < n; i++) {
    pair x = p[i];
    for (j = i; j > 0 && cmp_pair(&p[j - 1], &x) > 0; j--) p[j] = p[j - 1];
    p[j] = x;
  }
}

/* Any byte of a class in bits? (NUL is a control character.) */
static int has_any(const char *s, size_t n, unsigned bits) {
  size_t i;
  for (i = 0; i < n; i++) if (CC(s[i], bits)) return 1;
  return 0;
}


static int bad_kvs(const cr_kv *kv, size_t n) {
  size_t i;
  if (n && !kv) return 1;
  for (i = 0; i < n; i++)
    if ((kv[i].name_len && !kv[i].name) || (kv[i].value_len && !kv[i].value)) return 1;
  return 0;
}

/* A header name lower-cased into dst; 0 unless it is a non-empty token
 * (no trimming: a token holds no space or tab). */
static int name_lower(char *dst, const char *s, size_t n) {
  size_t i;
  unsigned all = CR_CC_TOKEN;
  for (i = 0; i < n; i++) {
    unsigned c = cr_char_class[(unsigned char)s[i]];
    all &= c;
    dst[i] = (char)(s[i] | (c & CR_CC_UPPER ? 0x20 : 0));
  }
  return n && all;
}

/* 1 when no byte is a control character but tab. Eight bytes a step (SWAR:
 * a byte below 0x20 or equal to 0x7f sets its word's flag); a flagged word,
 * a tab for instance, and the tail are checked byte by byte. */
#define ONES ((uint64_t)-1 / 255)
#define HAS_LESS(w, n) (((w) - ONES * (n)) & ~(w) & (ONES * 0x80))   /* a byte < n (n <= 128) */
#define HAS_BYTE(w, c) HAS_LESS((w) ^ (ONES * (c)), 1)
static int one_line(const char *s, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if (HAS_LESS(w, 0x20) | HAS_BYTE(w, 0x7f)) break;
  }
  for (; i < n; i++) if (CC(s[i], CR_CC_CTLX)) return 0;
  return 1;
}

/* A header value trimmed of spaces/tabs, used in place unless it must be
 * lower-cased and holds an upper-case letter (then copied to *at); -1 when it
 * holds a control character but tab. */
static int value_span(const char *s, size_t n, int lower, char **at, const char **v, size_t *vl) {
  size_t i;
  unsigned acc = 0;
  while (n && (s[0] == ' ' || s[0] == '\t')) { s++; n--; }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  *vl = n;
  *v = s;
  if (!lower) return one_line(s, n) ? 0 : -1;
  for (i = 0; i < n; i++) acc |= cr_char_class[(unsigned char)s[i]];
  if (acc & CR_CC_CTLX) return -1;
  if (!(acc & CR_CC_UPPER)) return 0;
  for (i = 0; i < n; i++) (*at)[i] = (char)(s[i] | (CC(s[i], CR_CC_UPPER) ? 0x20 : 0));
  *v = *at;
  *at += n;
  return 0;
}

/* CanonicalHeaders (into s->ch) + SignedHeaders; *seen gets bit 1 for
 * content-type, 2 for host. Names that are not tokens (empty, spaces, ':', ';',
 * CR/LF, NUL...), values with a control character but tab, and duplicate names
 * (e.g. "Host" and "host") are rejected: they would make the signature
 * ambiguous or the request malformed. */
static int canon_headers(cr_signer *s, const cr_kv *h, size_t nh, int lower_values, cr_buf *signed_hdrs,
                         int *seen) {
  pair *p;
  char *at;
  size_t i, total = 1;
  buf_clear(&s->ch);
  if (nh == 0 || bad_kvs(h, nh)) return CR_SIGN_EINVAL;
  for (i = 0; i < nh; i++) {
    if (h[i].value_len > SIZE_MAX - total || h[i].name_len > SIZE_MAX - total - h[i].value_len)
      return CR_SIGN_ENOMEM;
    total += h[i].name_len + h[i].value_len;
  }
  if (scratch(s, nh, total)) return CR_SIGN_ENOMEM;
  p = s->pairs;
  for (at = s->arena, i = 0; i < nh; i++) {
    if (!name_lower(at, h[i].name, h[i].name_len)) return CR_SIGN_EINVAL;
    p[i].n = at; at += p[i].nl = h[i].name_len;
    if (value_span(h[i].value, h[i].value_len, lower_values, &at, &p[i].v, &p[i].vl))
      return CR_SIGN_EINVAL;                                       /* one line: no control but tab */
    if (p[i].nl == 12 && !memcmp(p[i].n, "content-type", 12)) *seen |= 1;
    if (p[i].nl == 4 && !memcmp(p[i].n, "host", 4)) *seen |= 2;
  }
  sort_pairs(p, nh);
  for (i = 1; i < nh; i++)
    if (!cmp_bytes(p[i - 1].n, p[i - 1].nl, p[i].n, p[i].nl)) return CR_SIGN_EINVAL;
  /* name ':' value '\n' per header; the arena total bounds all names and values */
  if (nh > (SIZE_MAX - total) / 2 || buf_reserve(&s->ch, total + 2 * nh) ||
      buf_reserve(signed_hdrs, total + nh))
    return CR_SIGN_ENOMEM;
  for (i = 0; i < nh; i++) {
    char *c = s->ch.data + s->ch.len;
    memcpy(c, p[i].n, p[i].nl); c += p[i].nl; *c++ = ':';
    memcpy(c, p[i].v, p[i].vl); c += p[i].vl; *c++ = '\n';
    s->ch.len = (size_t)(c - s->ch.data);
    c = signed_hdrs->data + signed_hdrs->len;
    if (i) *c++ = ';';
    memcpy(c, p[i].n, p[i].nl); c += p[i].nl;
    signed_hdrs->len = (size_t)(c - signed_hdrs->data);
  }
  s->ch.data[s->ch.len] = '\0';
  signed_hdrs->data[signed_hdrs->len] = '\0';
  return 0;
}

/* Volcengine CanonicalQuery: encode every name and value, sort by (name, value), join. */
static int canon_query(cr_signer *s, const cr_kv *q, size_t nq, cr_buf *out) {
  pair *p;
  char *at;
  size_t i, total = 1;
  if (bad_kvs(q, nq)) return CR_SIGN_EINVAL;
  if (cr_buf_append(out, "", 0)) return CR_SIGN_ENOMEM;   /* empty query -> "" */
  if (nq == 0) return 0;
  for (i = 0; i < nq; i++) {   /* encoding at most triples; size the arena once */
    size_t room = (SIZE_MAX - total) / 3;
    if (q[i].value_len > room || q[i].name_len > room - q[i].value_len) return CR_SIGN_ENOMEM;
    total += 3 * (q[i].name_len + q[i].value_len);
  }
  if (scratch(s, nq, total)) return CR_SIGN_ENOMEM;
  p = s->pairs;
  for (at = s->arena, i = 0; i < nq; i++) {
    p[i].n = at; at += p[i].nl = uri_enc(at, q[i].name, q[i].name_len);
    p[i].v = at; at += p[i].vl = uri_enc(at, q[i].value, q[i].value_len);
  }
  sort_pairs(p, nq);
  /* the encoded pairs fill at most the arena; plus '&' and '=' per pair */
  if (nq > SIZE_MAX / 2 - total || buf_reserve(out, (size_t)(at - s->arena) + 2 * nq)) return CR_SIGN_ENOMEM;
  for (at = out->data, i = 0; i < nq; i++) {
    if (i) *at++ = '&';
    memcpy(at, p[i].n, p[i].nl); at += p[i].nl; *at++ = '=';
    memcpy(at, p[i].v, p[i].vl); at += p[i].vl;
  }
  *at = '\0'; out->len = (size_t)(at - out->data);
  return 0;
}

static int empty(const char *s) { return !s || !*s; }

/* Ids, scope parts, the method and the path land in the signed scope, the
 * Authorization header or the request line: no control character or space,
 * and no byte of the `extra` classes ('/' would split a scope part, ',' an
 * Authorization field). Returns the length, 0 when refused or empty: one pass
 * (they are a few dozen bytes), so callers need no strlen of their own. */
static size_t clean(const char *s, unsigned extra) {
  size_t n;
  unsigned acc = 0;
  if (!s) return 0;
  for (n = 0; s[n]; n++) acc |= cr_char_class[(unsigned char)s[n]];
  return acc & (CR_CC_CTL | CR_CC_SPACE | extra) ? 0 : n;
}

/* The length of an upper-case token (an HTTP method), 0 otherwise. */
static size_t upper_token(const char *s) {
  size_t n;
  if (!s) return 0;
  for (n = 0; s[n]; n++) if (!CC(s[n], CR_CC_UPPER)) return 0;
  return n;
}

/* ---- signers -------------------------------------------------------------
 * Both schemes share one shape: CanonicalRequest -> StringToSign over a scope
 * "a/b/.../terminator" -> key chained through the same scope parts -> header. */
typedef struct {
  const char *alg, *key_prefix, *id, *when, *method, *path, *query, *body, *secret;
  size_t alg_len, id_len, when_len, method_len, path_len, query_len, body_len, secret_len, nsteps;
  const char *steps[4];
  size_t step_len[4];
} sign_job;

static char *put(char *p, const void *s, size_t n) { memcpy(p, s, n); return p + n; }

/* Lays every string out by length into the output's reused buffers: signing
 * is a few hundred bytes of copying around three digests, so strlen and
 * per-piece appends were a visible share of it. */
static int sign_common(cr_signer *s, const sign_job *j, cr_sign_output *out) {
  char body_hash[65], cr_hash[65], *p;
  unsigned char mac[32];
  cr_buf *scope = &s->scope, *cr = &out->canonical_request, *sts = &out->string_to_sign;
  cr_buf *auth = &out->authorization;
  const cr_buf *sh = &out->signed_headers;
  const size_t *sl = j->step_len;
  size_t i, ml = j->method_len, pl = j->path_len, al = j->alg_len;
  size_t wl = j->when_len, idl = j->id_len, cap = SIZE_MAX / 8, n = 0;
  buf_clear(scope);
  for (i = 0; i < j->nsteps; i++) n += sl[i] + 1;
  /* every piece is in memory already, so this bound only refuses a lying caller */
  if (n > cap || ml > cap || pl > cap || j->query_len > cap || s->ch.len > cap || sh->len > cap ||
      idl > cap || buf_reserve(scope, n) ||
      buf_reserve(cr, ml + pl + j->query_len + s->ch.len + sh->len + 64 + 5) ||
      buf_reserve(sts, al + wl + n + 64 + 3) ||
      buf_reserve(auth, al + 13 + idl + 1 + n + 16 + sh->len + 12 + 64))
    return CR_SIGN_ENOMEM;
  for (p = scope->data, i = 0; i < j->nsteps; i++) {
    if (i) *p++ = '/';
    p = put(p, j->steps[i], sl[i]);
  }
  *p = '\0'; scope->len = (size_t)(p - scope->data);
  /* The query is appended by length: it is length-delimited and may be "".
   * An empty body (every GET) has a constant hash: no digest for it. */
  if (!j->body_len)
    memcpy(body_hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 65);
  else if (s_sha256_hex(s, j->body, j->body_len, body_hash))
    return CR_SIGN_ENOMEM;
  p = put(cr->data, j->method, ml); *p++ = '\n';
  p = put(p, j->path, pl); *p++ = '\n';
  p = put(p, j->query, j->query_len); *p++ = '\n';
  p = put(p, s->ch.data, s->ch.len); *p++ = '\n';
  p = put(p, sh->data, sh->len); *p++ = '\n';
  p = put(p, body_hash, 64);
  *p = '\0'; cr->len = (size_t)(p - cr->data);
  if (s_sha256_hex(s, cr->data, cr->len, cr_hash)) return CR_SIGN_ENOMEM;
  p = put(sts->data, j->alg, al); *p++ = '\n';
  p = put(p, j->when, wl); *p++ = '\n';
  p = put(p, scope->data, scope->len); *p++ = '\n';
  p = put(p, cr_hash, 64);
  *p = '\0'; sts->len = (size_t)(p - sts->data);
  if (sign_mac(s, j->alg, j->key_prefix, j->secret, j->secret_len, j->steps, j->nsteps, scope->data,
               scope->len, sts->data, sts->len, mac))
    return CR_SIGN_ENOMEM;
  to_hex(mac, out->signature);
  OPENSSL_cleanse(mac, sizeof mac);
  p = put(auth->data, j->alg, al); p = put(p, " Credential=", 12);
  p = put(p, j->id, idl); *p++ = '/';
  p = put(p, scope->data, scope->len); p = put(p, ", SignedHeaders=", 16);
  p = put(p, sh->data, sh->len); p = put(p, ", Signature=", 12);
  p = put(p, out->signature, 64);
  *p = '\0'; auth->len = (size_t)(p - auth->data);
  return 0;
}

/* Unix seconds (0..CR_SIGN_MAX_TIMESTAMP) -> "YYYY-MM-DD" in UTC, by the civil
 * calendar (H. Hinnant's days_from_civil inverse): no gmtime_r, whose glibc
 * implementation takes the time-zone lock on every call. */
static void utc_date(long long t, char out[11]) {
  long long z = t / 86400 + 719468, era = z / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  unsigned y = (unsigned)(yoe + era * 400) + (m <= 2);
  out[0] = (char)('0' + y / 1000 % 10); out[1] = (char)('0' + y / 100 % 10);
  out[2] = (char)('0' + y / 10 % 10);   out[3] = (char)('0' + y % 10);
  out[4] = '-'; out[5] = (char)('0' + m / 10); out[6] = (char)('0' + m % 10);
  out[7] = '-'; out[8] = (char)('0' + d / 10); out[9] = (char)('0' + d % 10);
  out[10] = '\0';
}

/* 0 <= t: its decimal digits (their count returned), without printf's
 * locale and format parsing. */
static size_t ts_text(long long t, char out[24]) {
  char tmp[24];
  size_t n = 0, i;
  do { tmp[n++] = (char)('0' + t % 10); t /= 10; } while (t);
  for (i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

int cr_tc3_sign_with(cr_signer *s, const cr_tc3_input *in, cr_sign_output *out) {
  char date[11], ts[24];
  int rc = CR_SIGN_EINVAL, seen = 0;
  sign_job j;   /* every field set below before use: no zeroing pass (rep stos) per call */

  output_clear(out);
  if (!(j.id_len = clean(in->secret_id, CR_CC_SEP)) || !in->secret_key || !in->secret_key_len ||
      !(j.step_len[1] = clean(in->service, CR_CC_SEP)) || !(j.method_len = upper_token(in->method)) ||
      (!in->query && in->query_len) ||
      (in->query && has_any(in->query, in->query_len, CR_CC_CTL | CR_CC_SPACE | CR_CC_HASH)) || (!in->payload && in->payload_len) ||
      in->timestamp < 0 || in->timestamp > CR_SIGN_MAX_TIMESTAMP)
    goto done;
  utc_date(in->timestamp, date);
  j.when_len = ts_text(in->timestamp, ts);
  rc = canon_headers(s, in->headers, in->nheaders, 1, &out->signed_headers, &seen);
  if (rc == 0 && seen != 3) rc = CR_SIGN_EINVAL;     /* Tencent requires both */
  if (rc) goto done;
  j.alg = "TC3-HMAC-SHA256"; j.alg_len = 15; j.key_prefix = "TC3"; j.id = in->secret_id; j.when = ts;
  j.method = in->method; j.path = "/"; j.path_len = 1;
  j.query = in->query ? in->query : ""; j.query_len = in->query_len;
  j.body = in->payload; j.body_len = in->payload_len;
  j.secret = in->secret_key; j.secret_len = in->secret_key_len;
  j.steps[0] = date; j.step_len[0] = 10; j.steps[1] = in->service;
  j.steps[2] = "tc3_request"; j.step_len[2] = 11; j.nsteps = 3;
  rc = sign_common(s, &j, out);
done:
  if (rc) cr_sign_output_free(out);
  return rc;
}

/* X-Date must be exactly YYYYMMDDTHHMMSSZ; its first 8 chars are the scope date. */
static int valid_xdate(const char *d) {
  int i;
  for (i = 0; i < 16; i++)
    if (i == 8 ? d[i] != 'T' : i == 15 ? d[i] != 'Z' : !(d[i] >= '0' && d[i] <= '9')) return 0;
  return d[16] == '\0';
}

int cr_volc_sign_with(cr_signer *s, const cr_volc_input *in, cr_sign_output *out) {
  char ymd[9];
  int rc = CR_SIGN_EINVAL, seen = 0;
  sign_job j;   /* every field set below before use */

  output_clear(out);
  if (!(j.id_len = clean(in->access_key, CR_CC_SEP)) || !in->secret_key || !in->secret_key_len ||
      !(j.step_len[2] = clean(in->service, CR_CC_SEP)) || !(j.step_len[1] = clean(in->region, CR_CC_SEP)) ||
      empty(in->date) || !(j.method_len = upper_token(in->method)) ||
      !(j.path_len = clean(in->path, CR_CC_QMARK | CR_CC_HASH)) || in->path[0] != '/' ||
      (!in->body && in->body_len) || !valid_xdate(in->date))
    goto done;
  memcpy(ymd, in->date, 8); ymd[8] = '\0';
  if ((rc = canon_query(s, in->query, in->nquery, &out->canonical_query)) != 0 ||
      (rc = canon_headers(s, in->headers, in->nheaders, 0, &out->signed_headers, &seen)) != 0)
    goto done;
  j.alg = "HMAC-SHA256"; j.alg_len = 11; j.key_prefix = ""; j.id = in->access_key;
  j.when = in->date; j.when_len = 16;
  j.method = in->method; j.path = in->path;
  j.query = out->canonical_query.data; j.query_len = out->canonical_query.len;
  j.body = in->body; j.body_len = in->body_len;
  j.secret = in->secret_key; j.secret_len = in->secret_key_len;
  j.steps[0] = ymd; j.step_len[0] = 8; j.steps[1] = in->region; j.steps[2] = in->service;
  j.steps[3] = "request"; j.step_len[3] = 7;
  j.nsteps = 4;
  rc = sign_common(s, &j, out);
done:
  if (rc) cr_sign_output_free(out);
  return rc;
}

/* The context-free entry points share one process-wide signer under a mutex;
 * it lives as long as the process (reachable from here, never leaked). */
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static cr_signer *shared;

static int shared_sign(const cr_tc3_input *tc3, const cr_volc_input *volc, cr_sign_output *out) {
  int rc = CR_SIGN_ENOMEM;
  pthread_mutex_lock(&shared_mu);
  if (!shared) shared = cr_signer_new();
  if (shared) rc = tc3 ? cr_tc3_sign_with(shared, tc3, out) : cr_volc_sign_with(shared, volc, out);
  else cr_sign_output_free(out);
  pthread_mutex_unlock(&shared_mu);
  return rc;
}

int cr_tc3_sign(const cr_tc3_input *in, cr_sign_output *out) { return shared_sign(in, NULL, out); }
int cr_volc_sign(const cr_volc_input *in, cr_sign_output *out) { return shared_sign(NULL, in, out); }

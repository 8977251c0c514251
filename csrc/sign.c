/* TC3-HMAC-SHA256 (Tencent Cloud v3) and Volcengine HMAC-SHA256 request signing.
 * Only non-deprecated OpenSSL 3 calls: EVP_Digest and the one-shot HMAC(). */
#include "sign.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- buffers ------------------------------------------------------------ */

static int buf_reserve(cr_buf *b, size_t extra) {
  size_t need, cap;
  char *p;
  if (extra > SIZE_MAX - b->len - 1) return -1;
  need = b->len + extra + 1;                      /* +1 keeps room for the NUL */
  if (b->data && need <= b->cap) return 0;
  cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (!(p = realloc(b->data, cap))) return -1;
  if (!b->data) p[0] = '\0';
  b->data = p;
  b->cap = cap;
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

void cr_buf_free(cr_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
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

static void to_hex(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

/* Internal variants report failure so the signers can return an error instead
 * of signing with garbage; the public void wrappers cannot, so they emit zeros. */
static int sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (!EVP_Digest(len ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
    memset(out, '0', 64);
    out[64] = '\0';
    return -1;
  }
  to_hex(md, 32, out);
  return 0;
}

static int hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32]) {
  unsigned int olen = 0;
  /* OpenSSL 3 rejects a NULL key even with length 0, hence the "" substitutes. */
  if (klen > INT32_MAX ||
      !HMAC(EVP_sha256(), klen ? key : "", (int)klen, (const unsigned char *)(mlen ? msg : ""),
            mlen, out, &olen) || olen != 32) {
    memset(out, 0, 32);
    return -1;
  }
  return 0;
}

void cr_sha256_hex(const void *data, size_t len, char out[65]) { (void)sha256_hex(data, len, out); }

void cr_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32]) {
  (void)hmac(key, klen, msg, mlen, out);
}

int cr_uri_encode(cr_buf *b, const char *s, size_t n) {
  static const char digits[] = "0123456789ABCDEF";
  size_t i;
  char *p;
  if (n > (SIZE_MAX - 1) / 3 || buf_reserve(b, 3 * n) != 0) return -1;   /* worst case, once */
  p = b->data + b->len;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      *p++ = (char)c;
    } else {
      *p++ = '%';
      *p++ = digits[c >> 4];
      *p++ = digits[c & 15];
    }
  }
  b->len = (size_t)(p - b->data);
  b->data[b->len] = '\0';
  return 0;
}

/* ---- signing-key cache ----------------------------------------------------
 * The derived key only changes per day/scope, so re-deriving it per request
 * would triple the HMAC work. Entries are keyed by SHA-256 of the secret (the
 * raw secret never sits in the table) plus the scope: algorithm, then every
 * derivation step, NUL-separated (the steps are C strings, so this cannot be
 * ambiguous). Round-robin replacement: old days simply age out. */
#define CACHE_SLOTS 32
#define SCOPE_MAX 256

typedef struct {
  int used;
  size_t scope_len;
  unsigned char secret_hash[32], key[32];
  char scope[SCOPE_MAX];
} cache_entry;

static cache_entry cache[CACHE_SLOTS];
static unsigned cache_next;
static unsigned long derivations;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

unsigned long cr_sign_key_derivations(void) {
  unsigned long n;
  pthread_mutex_lock(&cache_mu);
  n = derivations;
  pthread_mutex_unlock(&cache_mu);
  return n;
}

/* key = HMAC(...HMAC(HMAC(prefix || secret, steps[0]), steps[1])..., steps[n-1]) */
static int signing_key(const char *alg, const char *prefix, const char *secret, size_t slen,
                       const char *const *steps, size_t nsteps, unsigned char key[32]) {
  unsigned char sh[32], k[32], tmp[32];
  unsigned int shlen = 0;
  char scope[SCOPE_MAX];
  size_t i, slen_scope = 0, plen = strlen(prefix), l;
  int cacheable = 1, rc = -1;
  unsigned char *first = NULL;

  if (!EVP_Digest(secret, slen, sh, &shlen, EVP_sha256(), NULL)) return -1;
  for (i = 0; i <= nsteps && cacheable; i++) {
    const char *s = i ? steps[i - 1] : alg;
    l = strlen(s) + 1;
    if (l > SCOPE_MAX - slen_scope) cacheable = 0;   /* oversized scope: just skip the cache */
    else { memcpy(scope + slen_scope, s, l); slen_scope += l; }
  }
  if (cacheable) {
    pthread_mutex_lock(&cache_mu);
    for (i = 0; i < CACHE_SLOTS; i++) {
      cache_entry *e = &cache[i];
      if (e->used && e->scope_len == slen_scope && !memcmp(e->secret_hash, sh, 32) &&
          !memcmp(e->scope, scope, slen_scope)) {
        memcpy(key, e->key, 32);
        pthread_mutex_unlock(&cache_mu);
        rc = 0;
        goto done;
      }
    }
    pthread_mutex_unlock(&cache_mu);
  }
  /* Miss: derive outside the lock so concurrent signers are not serialised on it. */
  if (slen > SIZE_MAX - plen || !(first = malloc(plen + slen + 1))) goto done;
  memcpy(first, prefix, plen);
  memcpy(first + plen, secret, slen);
  if (hmac(first, plen + slen, steps[0], strlen(steps[0]), k) != 0) goto done;
  for (i = 1; i < nsteps; i++) {
    if (hmac(k, 32, steps[i], strlen(steps[i]), tmp) != 0) goto done;
    memcpy(k, tmp, 32);
  }
  memcpy(key, k, 32);
  rc = 0;
  pthread_mutex_lock(&cache_mu);
  derivations++;
  if (cacheable) {
    cache_entry *e = &cache[cache_next++ % CACHE_SLOTS];
    e->used = 1;
    e->scope_len = slen_scope;
    memcpy(e->secret_hash, sh, 32);
    memcpy(e->scope, scope, slen_scope);
    memcpy(e->key, k, 32);
  }
  pthread_mutex_unlock(&cache_mu);
done:
  if (first) { OPENSSL_cleanse(first, plen + slen); free(first); }
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(tmp, sizeof tmp);
  OPENSSL_cleanse(sh, sizeof sh);
  return rc;
}

/* ---- canonicalisation ---------------------------------------------------- */

typedef struct { const char *n; size_t nl; const char *v; size_t vl; } pair;

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c ? c : (al > bl) - (al < bl);
}

static int cmp_pair(const void *x, const void *y) {
  const pair *a = x, *b = y;
  int c = cmp_bytes(a->n, a->nl, b->n, b->nl);
  return c ? c : cmp_bytes(a->v, a->vl, b->v, b->vl);
}

static int is_ws(char c) { return c == ' ' || c == '\t'; }

static int bad_kvs(const cr_kv *kv, size_t n) {
  size_t i;
  if (n && !kv) return 1;
  for (i = 0; i < n; i++)
    if ((kv[i].name_len && !kv[i].name) || (kv[i].value_len && !kv[i].value)) return 1;
  return 0;
}

/* Copy [s, s+n) trimmed (and optionally lower-cased) to *dst; returns the new length. */
static size_t trim_copy(char *dst, const char *s, size_t n, int lower) {
  size_t i, m = 0;
  while (n && is_ws(s[0])) { s++; n--; }
  while (n && is_ws(s[n - 1])) n--;
  for (i = 0; i < n; i++) {
    char c = s[i];
    dst[m++] = (char)(lower && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return m;
}

/* CanonicalHeaders + SignedHeaders. *seen gets bit 1 for content-type, 2 for host.
 * Empty or duplicate names (e.g. "Host" and "host") and CR/LF anywhere are
 * rejected: they would make the signature ambiguous or the request malformed. */
static int canon_headers(const cr_kv *h, size_t nh, int lower_values, cr_buf *canon,
                         cr_buf *signed_hdrs, int *seen) {
  pair *p = NULL;
  char *arena = NULL, *at;
  size_t i, total = 1;
  int rc = CR_SIGN_ENOMEM;
  if (nh == 0 || bad_kvs(h, nh)) return CR_SIGN_EINVAL;
  for (i = 0; i < nh; i++) {
    if (h[i].name_len > SIZE_MAX - total - h[i].value_len) return CR_SIGN_ENOMEM;
    total += h[i].name_len + h[i].value_len;
  }
  if (nh > SIZE_MAX / sizeof *p || !(p = malloc(nh * sizeof *p)) || !(arena = malloc(total))) goto done;
  at = arena;
  rc = CR_SIGN_EINVAL;
  for (i = 0; i < nh; i++) {
    p[i].n = at; p[i].nl = trim_copy(at, h[i].name, h[i].name_len, 1); at += p[i].nl;
    p[i].v = at; p[i].vl = trim_copy(at, h[i].value, h[i].value_len, lower_values); at += p[i].vl;
    if (!p[i].nl || memchr(p[i].n, ':', p[i].nl) || memchr(p[i].n, ';', p[i].nl) ||
        memchr(p[i].n, '\n', p[i].nl) || memchr(p[i].n, '\r', p[i].nl) ||
        memchr(p[i].v, '\n', p[i].vl) || memchr(p[i].v, '\r', p[i].vl)) goto done;
    if (p[i].nl == 12 && !memcmp(p[i].n, "content-type", 12)) *seen |= 1;
    if (p[i].nl == 4 && !memcmp(p[i].n, "host", 4)) *seen |= 2;
  }
  qsort(p, nh, sizeof *p, cmp_pair);
  for (i = 1; i < nh; i++)
    if (!cmp_bytes(p[i - 1].n, p[i - 1].nl, p[i].n, p[i].nl)) goto done;
  rc = CR_SIGN_ENOMEM;
  for (i = 0; i < nh; i++) {
    if (cr_buf_append(canon, p[i].n, p[i].nl) || cr_buf_puts(canon, ":") ||
        cr_buf_append(canon, p[i].v, p[i].vl) || cr_buf_puts(canon, "\n") ||
        (i && cr_buf_puts(signed_hdrs, ";")) || cr_buf_append(signed_hdrs, p[i].n, p[i].nl))
      goto done;
  }
  rc = 0;
done:
  free(p);
  free(arena);
  return rc;
}

/* Volcengine CanonicalQuery: encode each name/value, sort by (name, value), join. */
static int canon_query(const cr_kv *q, size_t nq, cr_buf *out) {
  cr_buf arena = {0};
  pair *p = NULL;
  size_t i, *off = NULL;
  int rc = CR_SIGN_ENOMEM;
  if (bad_kvs(q, nq)) return CR_SIGN_EINVAL;
  if (cr_buf_append(out, "", 0)) return CR_SIGN_ENOMEM;
  if (nq == 0) return 0;
  if (nq > SIZE_MAX / sizeof *p / 2 || !(p = malloc(nq * sizeof *p)) ||
      !(off = malloc(2 * nq * sizeof *off))) goto done;
  /* Offsets first, pointers after: the arena may move while it grows. */
  for (i = 0; i < nq; i++) {
    off[2 * i] = arena.len;
    if (cr_uri_encode(&arena, q[i].name, q[i].name_len)) goto done;
    off[2 * i + 1] = arena.len;
    if (cr_uri_encode(&arena, q[i].value, q[i].value_len)) goto done;
  }
  for (i = 0; i < nq; i++) {
    size_t end = i + 1 < nq ? off[2 * i + 2] : arena.len;
    p[i].n = arena.data + off[2 * i];     p[i].nl = off[2 * i + 1] - off[2 * i];
    p[i].v = arena.data + off[2 * i + 1]; p[i].vl = end - off[2 * i + 1];
  }
  qsort(p, nq, sizeof *p, cmp_pair);
  for (i = 0; i < nq; i++)
    if ((i && cr_buf_puts(out, "&")) || cr_buf_append(out, p[i].n, p[i].nl) ||
        cr_buf_puts(out, "=") || cr_buf_append(out, p[i].v, p[i].vl)) goto done;
  rc = 0;
done:
  free(p);
  free(off);
  cr_buf_free(&arena);
  return rc;
}

static int empty(const char *s) { return !s || !*s; }

/* ---- signers ------------------------------------------------------------- */

int cr_tc3_sign(const cr_tc3_input *in, cr_sign_output *out) {
  char date[32], ts[32], body_hash[65], cr_hash[65];
  const char *steps[3];
  unsigned char key[32], mac[32];
  cr_buf ch = {0};
  struct tm tm;
  time_t t;
  int rc, seen = 0;

  if (!in || !out) return CR_SIGN_EINVAL;
  t = (time_t)in->timestamp;
  if (empty(in->secret_id) || !in->secret_key || !in->secret_key_len || empty(in->service) ||
      empty(in->method) || (!in->query && in->query_len) || (!in->payload && in->payload_len) ||
      in->timestamp < 0 || (long long)t != in->timestamp || !gmtime_r(&t, &tm) ||
      !strftime(date, sizeof date, "%Y-%m-%d", &tm)) {
    rc = CR_SIGN_EINVAL;
    goto done;
  }
  snprintf(ts, sizeof ts, "%lld", in->timestamp);
  rc = canon_headers(in->headers, in->nheaders, 1, &ch, &out->signed_headers, &seen);
  if (rc == 0 && seen != 3) rc = CR_SIGN_EINVAL;      /* Tencent requires both */
  if (rc) goto done;
  rc = CR_SIGN_ENOMEM;
  if (sha256_hex(in->payload, in->payload_len, body_hash)) goto done;
  if (cr_buf_puts(&out->canonical_request, in->method) ||
      cr_buf_puts(&out->canonical_request, "\n/\n") ||
      cr_buf_append(&out->canonical_request, in->query ? in->query : "", in->query_len) ||
      cr_buf_puts(&out->canonical_request, "\n") ||
      cr_buf_append(&out->canonical_request, ch.data, ch.len) ||
      cr_buf_puts(&out->canonical_request, "\n") ||
      cr_buf_append(&out->canonical_request, out->signed_headers.data, out->signed_headers.len) ||
      cr_buf_puts(&out->canonical_request, "\n") ||
      cr_buf_puts(&out->canonical_request, body_hash)) goto done;
  if (sha256_hex(out->canonical_request.data, out->canonical_request.len, cr_hash)) goto done;
  if (cr_buf_puts(&out->string_to_sign, "TC3-HMAC-SHA256\n") ||
      cr_buf_puts(&out->string_to_sign, ts) || cr_buf_puts(&out->string_to_sign, "\n") ||
      cr_buf_puts(&out->string_to_sign, date) || cr_buf_puts(&out->string_to_sign, "/") ||
      cr_buf_puts(&out->string_to_sign, in->service) ||
      cr_buf_puts(&out->string_to_sign, "/tc3_request\n") ||
      cr_buf_puts(&out->string_to_sign, cr_hash)) goto done;
  steps[0] = date; steps[1] = in->service; steps[2] = "tc3_request";
  if (signing_key("TC3-HMAC-SHA256", "TC3", in->secret_key, in->secret_key_len, steps, 3, key) ||
      hmac(key, 32, out->string_to_sign.data, out->string_to_sign.len, mac)) goto done;
  to_hex(mac, 32, out->signature);
  if (cr_buf_puts(&out->authorization, "TC3-HMAC-SHA256 Credential=") ||
      cr_buf_puts(&out->authorization, in->secret_id) || cr_buf_puts(&out->authorization, "/") ||
      cr_buf_puts(&out->authorization, date) || cr_buf_puts(&out->authorization, "/") ||
      cr_buf_puts(&out->authorization, in->service) ||
      cr_buf_puts(&out->authorization, "/tc3_request, SignedHeaders=") ||
      cr_buf_append(&out->authorization, out->signed_headers.data, out->signed_headers.len) ||
      cr_buf_puts(&out->authorization, ", Signature=") ||
      cr_buf_puts(&out->authorization, out->signature)) goto done;
  rc = 0;
done:
  cr_buf_free(&ch);
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(mac, sizeof mac);
  if (rc && out) cr_sign_output_free(out);
  return rc;
}

/* X-Date must be exactly YYYYMMDDTHHMMSSZ; its first 8 chars are the scope date. */
static int valid_xdate(const char *d) {
  int i;
  for (i = 0; i < 16; i++) {
    char c = d[i];
    if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' : !(c >= '0' && c <= '9')) return 0;
  }
  return d[16] == '\0';
}

int cr_volc_sign(const cr_volc_input *in, cr_sign_output *out) {
  char ymd[9], body_hash[65], cr_hash[65];
  const char *steps[4];
  unsigned char key[32], mac[32];
  cr_buf ch = {0}, *cr, *sts, *au;
  int rc, seen = 0;

  if (!in || !out) return CR_SIGN_EINVAL;
  cr = &out->canonical_request; sts = &out->string_to_sign; au = &out->authorization;
  if (empty(in->access_key) || !in->secret_key || !in->secret_key_len || empty(in->service) ||
      empty(in->region) || empty(in->date) || empty(in->method) || empty(in->path) ||
      (!in->body && in->body_len) || !valid_xdate(in->date)) {
    rc = CR_SIGN_EINVAL;
    goto done;
  }
  memcpy(ymd, in->date, 8);
  ymd[8] = '\0';
  if ((rc = canon_query(in->query, in->nquery, &out->canonical_query)) != 0 ||
      (rc = canon_headers(in->headers, in->nheaders, 0, &ch, &out->signed_headers, &seen)) != 0)
    goto done;
  rc = CR_SIGN_ENOMEM;
  if (sha256_hex(in->body, in->body_len, body_hash)) goto done;
  if (cr_buf_puts(cr, in->method) || cr_buf_puts(cr, "\n") || cr_buf_puts(cr, in->path) ||
      cr_buf_puts(cr, "\n") ||
      cr_buf_append(cr, out->canonical_query.data, out->canonical_query.len) ||
      cr_buf_puts(cr, "\n") || cr_buf_append(cr, ch.data, ch.len) || cr_buf_puts(cr, "\n") ||
      cr_buf_append(cr, out->signed_headers.data, out->signed_headers.len) ||
      cr_buf_puts(cr, "\n") || cr_buf_puts(cr, body_hash)) goto done;
  if (sha256_hex(cr->data, cr->len, cr_hash)) goto done;
  if (cr_buf_puts(sts, "HMAC-SHA256\n") || cr_buf_puts(sts, in->date) || cr_buf_puts(sts, "\n") ||
      cr_buf_puts(sts, ymd) || cr_buf_puts(sts, "/") || cr_buf_puts(sts, in->region) ||
      cr_buf_puts(sts, "/") || cr_buf_puts(sts, in->service) || cr_buf_puts(sts, "/request\n") ||
      cr_buf_puts(sts, cr_hash)) goto done;
  steps[0] = ymd; steps[1] = in->region; steps[2] = in->service; steps[3] = "request";
  if (signing_key("HMAC-SHA256", "", in->secret_key, in->secret_key_len, steps, 4, key) ||
      hmac(key, 32, sts->data, sts->len, mac)) goto done;
  to_hex(mac, 32, out->signature);
  if (cr_buf_puts(au, "HMAC-SHA256 Credential=") || cr_buf_puts(au, in->access_key) ||
      cr_buf_puts(au, "/") || cr_buf_puts(au, ymd) || cr_buf_puts(au, "/") ||
      cr_buf_puts(au, in->region) || cr_buf_puts(au, "/") || cr_buf_puts(au, in->service) ||
      cr_buf_puts(au, "/request, SignedHeaders=") ||
      cr_buf_append(au, out->signed_headers.data, out->signed_headers.len) ||
      cr_buf_puts(au, ", Signature=") || cr_buf_puts(au, out->signature)) goto done;
  rc = 0;
done:
  cr_buf_free(&ch);
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(mac, sizeof mac);
  if (rc && out) cr_sign_output_free(out);
  return rc;
}

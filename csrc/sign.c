/* TC3-HMAC-SHA256 (Tencent Cloud v3) and Volcengine HMAC-SHA256 request signing.
 * Only OpenSSL 3 calls that are not deprecated: EVP_Digest and one-shot HMAC(). */
#include "sign.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define END ((const char *)NULL)   /* cat() sentinel; a bare NULL may be an int */

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

/* Append C strings up to END; keeps the signers' layouts readable. */
static int cat(cr_buf *b, ...) {
  va_list ap;
  const char *s;
  int rc = 0;
  va_start(ap, b);
  while (rc == 0 && (s = va_arg(ap, const char *)) != NULL) rc = cr_buf_puts(b, s);
  va_end(ap);
  return rc;
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

static void to_hex(const unsigned char in[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 32; i++) { out[2 * i] = digits[in[i] >> 4]; out[2 * i + 1] = digits[in[i] & 15]; }
  out[64] = '\0';
}

/* Internal variants report failure so a signer returns an error rather than a
 * bogus signature; the void public wrappers cannot, so they yield zeros. */
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

/* Encode into dst (or, with dst NULL, only measure): lets callers size exactly once. */
static size_t uri_enc(char *dst, const char *s, size_t n) {
  static const char digits[] = "0123456789ABCDEF";
  size_t i, m = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      if (dst) dst[m] = (char)c;
      m++;
    } else {
      if (dst) { dst[m] = '%'; dst[m + 1] = digits[c >> 4]; dst[m + 2] = digits[c & 15]; }
      m += 3;
    }
  }
  return m;
}

int cr_uri_encode(cr_buf *b, const char *s, size_t n) {
  if (n > SIZE_MAX / 3 || buf_reserve(b, uri_enc(NULL, s, n)) != 0) return -1;
  b->len += uri_enc(b->data + b->len, s, n);
  b->data[b->len] = '\0';
  return 0;
}

/* ---- signing-key cache -----------------------------------------------------
 * The derived key only changes per day and scope, so deriving it per request
 * would triple the HMAC work. Entries are keyed by SHA-256 of the secret (the
 * raw secret never sits in the table) plus the scope: the algorithm and every
 * derivation step, NUL-separated (all are C strings, so this is unambiguous).
 * Round-robin replacement is enough: yesterday's keys just age out. */
#define CACHE_SLOTS 32
#define SCOPE_MAX 256

static struct {
  int used;
  size_t scope_len;
  unsigned char secret_hash[32], key[32];
  char scope[SCOPE_MAX];
} cache[CACHE_SLOTS];
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
  unsigned char sh[32], k[32], tmp[32], *first = NULL;
  unsigned int shlen = 0;
  char scope[SCOPE_MAX];
  size_t i, sl = 0, plen = strlen(prefix);
  int cacheable = 1, rc = -1;

  if (!EVP_Digest(secret, slen, sh, &shlen, EVP_sha256(), NULL)) return -1;
  for (i = 0; i <= nsteps && cacheable; i++) {
    const char *s = i ? steps[i - 1] : alg;
    size_t l = strlen(s) + 1;
    if (l > SCOPE_MAX - sl) cacheable = 0;        /* oversized scope: bypass the cache */
    else { memcpy(scope + sl, s, l); sl += l; }
  }
  pthread_mutex_lock(&cache_mu);
  for (i = 0; cacheable && i < CACHE_SLOTS; i++)
    if (cache[i].used && cache[i].scope_len == sl && !memcmp(cache[i].secret_hash, sh, 32) &&
        !memcmp(cache[i].scope, scope, sl)) {
      memcpy(key, cache[i].key, 32);
      rc = 0;
      break;
    }
  pthread_mutex_unlock(&cache_mu);
  if (rc == 0) goto done;
  /* Miss: derive outside the lock so concurrent signers are not serialised on it. */
  if (slen > SIZE_MAX - plen - 1 || !(first = malloc(plen + slen + 1))) goto done;
  memcpy(first, prefix, plen);
  memcpy(first + plen, secret, slen);
  if (hmac(first, plen + slen, steps[0], strlen(steps[0]), k)) goto done;
  for (i = 1; i < nsteps; i++) {
    if (hmac(k, 32, steps[i], strlen(steps[i]), tmp)) goto done;
    memcpy(k, tmp, 32);
  }
  memcpy(key, k, 32);
  rc = 0;
  pthread_mutex_lock(&cache_mu);
  derivations++;
  if (cacheable) {
    i = cache_next++ % CACHE_SLOTS;
    cache[i].used = 1; cache[i].scope_len = sl;
    memcpy(cache[i].secret_hash, sh, 32);
    memcpy(cache[i].scope, scope, sl);
    memcpy(cache[i].key, k, 32);
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

/* strchr(set, '\0') finds set's own terminator, so NUL bytes always count. */
static int has_any(const char *s, size_t n, const char *set) {
  size_t i;
  for (i = 0; i < n; i++) if (strchr(set, s[i])) return 1;
  return 0;
}

static int bad_kvs(const cr_kv *kv, size_t n) {
  size_t i;
  if (n && !kv) return 1;
  for (i = 0; i < n; i++)
    if ((kv[i].name_len && !kv[i].name) || (kv[i].value_len && !kv[i].value)) return 1;
  return 0;
}

/* Copy s trimmed of spaces/tabs (and optionally lower-cased) to dst; returns the length. */
static size_t trim_copy(char *dst, const char *s, size_t n, int lower) {
  size_t i;
  while (n && (s[0] == ' ' || s[0] == '\t')) { s++; n--; }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  for (i = 0; i < n; i++)
    dst[i] = (char)(lower && s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
  return n;
}

/* CanonicalHeaders + SignedHeaders; *seen gets bit 1 for content-type, 2 for host.
 * Empty or duplicate names (e.g. "Host" and "host") and CR/LF/NUL anywhere are
 * rejected: they would make the signature ambiguous or the request malformed. */
static int canon_headers(const cr_kv *h, size_t nh, int lower_values, cr_buf *canon,
                         cr_buf *signed_hdrs, int *seen) {
  pair *p = NULL;
  char *arena = NULL, *at;
  size_t i, total = 1;
  int rc = CR_SIGN_ENOMEM;
  if (nh == 0 || bad_kvs(h, nh)) return CR_SIGN_EINVAL;
  for (i = 0; i < nh; i++) {
    if (h[i].value_len > SIZE_MAX - total || h[i].name_len > SIZE_MAX - total - h[i].value_len)
      return CR_SIGN_ENOMEM;
    total += h[i].name_len + h[i].value_len;
  }
  if (nh > SIZE_MAX / sizeof *p || !(p = malloc(nh * sizeof *p)) || !(arena = malloc(total))) goto done;
  rc = CR_SIGN_EINVAL;
  for (at = arena, i = 0; i < nh; i++) {
    p[i].n = at; at += p[i].nl = trim_copy(at, h[i].name, h[i].name_len, 1);
    p[i].v = at; at += p[i].vl = trim_copy(at, h[i].value, h[i].value_len, lower_values);
    if (!p[i].nl || has_any(p[i].n, p[i].nl, ":;\r\n") || has_any(p[i].v, p[i].vl, "\r\n")) goto done;
    if (p[i].nl == 12 && !memcmp(p[i].n, "content-type", 12)) *seen |= 1;
    if (p[i].nl == 4 && !memcmp(p[i].n, "host", 4)) *seen |= 2;
  }
  qsort(p, nh, sizeof *p, cmp_pair);
  for (i = 1; i < nh; i++)
    if (!cmp_bytes(p[i - 1].n, p[i - 1].nl, p[i].n, p[i].nl)) goto done;
  rc = CR_SIGN_ENOMEM;
  for (i = 0; i < nh; i++)
    if (cr_buf_append(canon, p[i].n, p[i].nl) || cr_buf_puts(canon, ":") ||
        cr_buf_append(canon, p[i].v, p[i].vl) || cr_buf_puts(canon, "\n") ||
        (i && cr_buf_puts(signed_hdrs, ";")) || cr_buf_append(signed_hdrs, p[i].n, p[i].nl))
      goto done;
  rc = 0;
done:
  free(p);
  free(arena);
  return rc;
}

/* Volcengine CanonicalQuery: encode every name and value, sort by (name, value), join. */
static int canon_query(const cr_kv *q, size_t nq, cr_buf *out) {
  pair *p = NULL;
  char *arena = NULL, *at;
  size_t i, total = 1;
  int rc = CR_SIGN_ENOMEM;
  if (bad_kvs(q, nq)) return CR_SIGN_EINVAL;
  if (cr_buf_append(out, "", 0)) return CR_SIGN_ENOMEM;   /* empty query -> "" */
  if (nq == 0) return 0;
  for (i = 0; i < nq; i++) {   /* encoding at most triples; size the arena once */
    size_t room = (SIZE_MAX - total) / 3;
    if (q[i].value_len > room || q[i].name_len > room - q[i].value_len) return CR_SIGN_ENOMEM;
    total += 3 * (q[i].name_len + q[i].value_len);
  }
  if (nq > SIZE_MAX / sizeof *p || !(p = malloc(nq * sizeof *p)) || !(arena = malloc(total))) goto done;
  for (at = arena, i = 0; i < nq; i++) {
    p[i].n = at; at += p[i].nl = uri_enc(at, q[i].name, q[i].name_len);
    p[i].v = at; at += p[i].vl = uri_enc(at, q[i].value, q[i].value_len);
  }
  qsort(p, nq, sizeof *p, cmp_pair);
  for (i = 0; i < nq; i++)
    if ((i && cr_buf_puts(out, "&")) || cr_buf_append(out, p[i].n, p[i].nl) ||
        cr_buf_puts(out, "=") || cr_buf_append(out, p[i].v, p[i].vl)) goto done;
  rc = 0;
done:
  free(p);
  free(arena);
  return rc;
}

static int empty(const char *s) { return !s || !*s; }

/* Ids, scope parts, the method and the path land in the signed scope, the
 * Authorization header or the request line: no control character or space,
 * and none of `extra` ('/' would split a scope part, ',' an Authorization field). */
static int clean(const char *s, const char *extra) {
  if (empty(s)) return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr(extra, *s)) return 0;
  return 1;
}

static int upper_token(const char *s) {
  if (empty(s)) return 0;
  for (; *s; s++) if (*s < 'A' || *s > 'Z') return 0;
  return 1;
}

/* ---- signers -------------------------------------------------------------
 * Both schemes share one shape: CanonicalRequest -> StringToSign over a scope
 * "a/b/.../terminator" -> key chained through the same scope parts -> header. */
typedef struct {
  const char *alg, *key_prefix, *id, *when, *method, *path, *query, *body, *secret;
  size_t query_len, body_len, secret_len, nsteps;
  const char *steps[4];
} sign_job;

/* cat() stops at NULL, so ch and signed_headers must hold data: canon_headers ensures it. */
static int sign_common(const sign_job *j, const cr_buf *ch, cr_sign_output *out) {
  char body_hash[65], cr_hash[65];
  unsigned char key[32], mac[32];
  cr_buf scope = {0}, *cr = &out->canonical_request, *sts = &out->string_to_sign;
  const char *sh;
  size_t i;
  int rc = CR_SIGN_ENOMEM;
  for (i = 0; i < j->nsteps; i++)
    if ((i && cr_buf_puts(&scope, "/")) || cr_buf_puts(&scope, j->steps[i])) goto done;
  sh = out->signed_headers.data;
  /* The query is appended by length: it is length-delimited and may be "". */
  if (sha256_hex(j->body, j->body_len, body_hash) ||
      cat(cr, j->method, "\n", j->path, "\n", END) || cr_buf_append(cr, j->query, j->query_len) ||
      cat(cr, "\n", ch->data, "\n", sh, "\n", body_hash, END) ||
      sha256_hex(cr->data, cr->len, cr_hash) ||
      cat(sts, j->alg, "\n", j->when, "\n", scope.data, "\n", cr_hash, END) ||
      signing_key(j->alg, j->key_prefix, j->secret, j->secret_len, j->steps, j->nsteps, key) ||
      hmac(key, 32, sts->data, sts->len, mac))
    goto done;
  to_hex(mac, out->signature);
  if (cat(&out->authorization, j->alg, " Credential=", j->id, "/", scope.data, ", SignedHeaders=",
          sh, ", Signature=", out->signature, END))
    goto done;
  rc = 0;
done:
  cr_buf_free(&scope);
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(mac, sizeof mac);
  return rc;
}

int cr_tc3_sign(const cr_tc3_input *in, cr_sign_output *out) {
  char date[32], ts[32];
  cr_buf ch = {0};
  struct tm tm;
  time_t t = (time_t)in->timestamp;
  int rc = CR_SIGN_EINVAL, seen = 0;
  sign_job j = {0};

  if (!clean(in->secret_id, "/,") || !in->secret_key || !in->secret_key_len ||
      !clean(in->service, "/,") || !upper_token(in->method) || (!in->query && in->query_len) ||
      (in->query && has_any(in->query, in->query_len, " \t\r\n#")) || (!in->payload && in->payload_len) ||
      in->timestamp < 0 || in->timestamp > CR_SIGN_MAX_TIMESTAMP ||
      (long long)t != in->timestamp || !gmtime_r(&t, &tm) ||
      !strftime(date, sizeof date, "%Y-%m-%d", &tm))
    goto done;
  snprintf(ts, sizeof ts, "%lld", in->timestamp);
  rc = canon_headers(in->headers, in->nheaders, 1, &ch, &out->signed_headers, &seen);
  if (rc == 0 && seen != 3) rc = CR_SIGN_EINVAL;     /* Tencent requires both */
  if (rc) goto done;
  j.alg = "TC3-HMAC-SHA256"; j.key_prefix = "TC3"; j.id = in->secret_id; j.when = ts;
  j.method = in->method; j.path = "/";
  j.query = in->query ? in->query : ""; j.query_len = in->query_len;
  j.body = in->payload; j.body_len = in->payload_len;
  j.secret = in->secret_key; j.secret_len = in->secret_key_len;
  j.steps[0] = date; j.steps[1] = in->service; j.steps[2] = "tc3_request"; j.nsteps = 3;
  rc = sign_common(&j, &ch, out);
done:
  cr_buf_free(&ch);
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

int cr_volc_sign(const cr_volc_input *in, cr_sign_output *out) {
  char ymd[9];
  cr_buf ch = {0};
  int rc = CR_SIGN_EINVAL, seen = 0;
  sign_job j = {0};

  if (!clean(in->access_key, "/,") || !in->secret_key || !in->secret_key_len ||
      !clean(in->service, "/,") || !clean(in->region, "/,") || empty(in->date) ||
      !upper_token(in->method) || !clean(in->path, "?#") || in->path[0] != '/' ||
      (!in->body && in->body_len) || !valid_xdate(in->date))
    goto done;
  memcpy(ymd, in->date, 8); ymd[8] = '\0';
  if ((rc = canon_query(in->query, in->nquery, &out->canonical_query)) != 0 ||
      (rc = canon_headers(in->headers, in->nheaders, 0, &ch, &out->signed_headers, &seen)) != 0)
    goto done;
  j.alg = "HMAC-SHA256"; j.key_prefix = ""; j.id = in->access_key; j.when = in->date;
  j.method = in->method; j.path = in->path;
  j.query = out->canonical_query.data; j.query_len = out->canonical_query.len;
  j.body = in->body; j.body_len = in->body_len;
  j.secret = in->secret_key; j.secret_len = in->secret_key_len;
  j.steps[0] = ymd; j.steps[1] = in->region; j.steps[2] = in->service; j.steps[3] = "request";
  j.nsteps = 4;
  rc = sign_common(&j, &ch, out);
done:
  cr_buf_free(&ch);
  if (rc) cr_sign_output_free(out);
  return rc;
}

/* Fuzz the HTTP response handling that does not need a socket: the header
 * callback and its 64 KiB cap, the body callback and max_response, the header
 * block parser the binding uses (cr_http_parse_headers) and the classification
 * of every libcurl result code and status (cr_http_classify).
 * Input: byte 0 = flags (chunking), byte 1 = curl code, bytes 2-3 = body cap,
 * then the header block, 0x1f, the body (see fuzz/README.md). */
#include "fuzz_util.h"
#include "http.h"

typedef struct { const char *lo, *hi; size_t count; } walk;

static int on_pair(void *ud, const char *name, size_t nl, const char *v, size_t vl) {
  walk *w = ud;
  size_t i;
  CHECK(nl >= 1 && nl <= CR_HTTP_NAME_MAX && name[nl] == 0);
  for (i = 0; i < nl; i++) {
    unsigned char c = (unsigned char)name[i];
    CHECK(c > ' ' && c < 127 && c != ':' && !(c >= 'A' && c <= 'Z'));
  }
  CHECK(v >= w->lo && v + vl <= w->hi);        /* the value lies inside the block */
  CHECK(memchr(v, '\n', vl) == NULL);
  if (vl) {
    CHECK(v[0] != ' ' && v[0] != '\t');
    CHECK(v[vl - 1] != ' ' && v[vl - 1] != '\t' && v[vl - 1] != '\r');
  }
  w->count++;
  return 0;
}

static int stop_after_one(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  (void)n; (void)nl; (void)v; (void)vl;
  ++*(size_t *)ud;
  return 1;
}

/* Feed the header block the way libcurl does: one line per call. */
static void feed_headers(cr_http_response *r, const char *p, size_t n) {
  while (n > 0) {
    const char *eol = memchr(p, '\n', n);
    size_t len = eol ? (size_t)(eol - p) + 1 : n, got;
    int new_block = len >= 5 && memcmp(p, "HTTP/", 5) == 0;
    size_t before = new_block ? 0 : r->headers.len;
    got = cr_http_on_header((char *)p, 1, len, r);
    CHECK(got == len || got == 0);
    if (got == 0) { CHECK(r->too_big == 2 || before + len > CR_HTTP_HEADERS_MAX); return; }
    CHECK(r->headers.len == before + len && r->headers.len <= CR_HTTP_HEADERS_MAX);
    p += len; n -= len;
  }
}

static void feed_body(cr_http_response *r, const char *p, size_t n, unsigned chunk) {
  size_t total = 0;
  if (chunk == 0) chunk = 1;
  while (n > 0) {
    size_t len = n < chunk ? n : chunk;
    size_t got = cr_http_on_body((char *)p, 1, len, r);
    if (got == 0) {                       /* refused: only because of the cap */
      CHECK(r->too_big == 1 && total + len > r->max_body);
      return;
    }
    CHECK(got == len);
    total += len;
    CHECK(r->body.len == total && total <= r->max_body);
    p += len; n -= len;
  }
  CHECK(!r->too_big);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cr_http_response r;
  field f[2];
  size_t nf, count, one = 0;
  walk w;
  CURLcode rc;
  if (size < 4) return 0;
  memset(&r, 0, sizeof r);
  r.max_body = (size_t)data[2] << 8 | data[3];
  rc = (CURLcode)(data[1] % CURL_LAST);
  nf = split_fields(data + 4, size - 4, f, 2);

  feed_headers(&r, f[0].p, f[0].n);
  w.lo = r.headers.data; w.hi = r.headers.data ? r.headers.data + r.headers.len : NULL; w.count = 0;
  count = cr_http_parse_headers(r.headers.data, r.headers.len, on_pair, &w);
  CHECK(count == w.count);
  CHECK(cr_http_parse_headers(r.headers.data, r.headers.len, stop_after_one, &one) == (count ? 1u : 0u));
  /* the raw fuzz bytes too, unbounded by the callback's cap */
  w.lo = f[0].p; w.hi = f[0].p ? f[0].p + f[0].n : NULL; w.count = 0;
  CHECK(cr_http_parse_headers(f[0].p, f[0].n, on_pair, &w) == w.count);
  CHECK(cr_http_parse_headers(NULL, 0, on_pair, &w) == 0);

  if (nf > 1) feed_body(&r, f[1].p, f[1].n, (unsigned)(data[0] & 0x3f) * 37 + 1);

  r.status = nf > 1 && f[1].n ? (long)(unsigned char)f[1].p[0] * 3 : 200;   /* 0..765 */
  cr_http_classify(&r, rc, data[0] >> 7);
  CHECK(r.result >= CR_HTTP_OK && r.result <= CR_HTTP_EINVAL);
  CHECK(r.curl_code == (int)rc);
  CHECK(memchr(r.error, 0, sizeof r.error) != NULL);
  CHECK(r.sent == 0 || r.sent == 1);
  if (rc == CURLE_OK && r.status >= 100 && r.status <= 599)
    CHECK(r.result == CR_HTTP_OK && r.sent && r.error[0] == 0);
  else if (rc == CURLE_OK) CHECK(r.result == CR_HTTP_EBADRESPONSE && r.sent);
  else CHECK(r.result != CR_HTTP_OK && r.error[0] != 0);
  if (rc == CURLE_OPERATION_TIMEDOUT) CHECK(r.result == CR_HTTP_ETIMEOUT);
  if (rc == CURLE_WRITE_ERROR && r.too_big == 1) CHECK(r.result == CR_HTTP_ETOOBIG);
  /* "not sent" is a promise that a renewal may be resent: only where provable */
  if (!r.sent) CHECK(rc != CURLE_OK && rc != CURLE_WRITE_ERROR && rc != CURLE_PARTIAL_FILE);
  cr_http_response_free(&r);
  return 0;
}

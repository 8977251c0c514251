/* Fuzz the signers' canonicalisation: cr_tc3_sign and cr_volc_sign with fuzzed
 * ids, secrets, services, methods, paths, queries, headers and payloads, and
 * cr_uri_encode; and the FFI entries (cr_tc3_sign_args / cr_volc_sign_args,
 * fields by pointer and length): whatever they accept they sign exactly as
 * cr_tc3_sign / cr_volc_sign do. Any input either fails cleanly (CR_SIGN_EINVAL) or produces
 * a well-formed, deterministic signature; ASan/UBSan watch the memory.
 * Input: mode byte, then fields separated by 0x1f (see fuzz/README.md). */
#include "fuzz_util.h"
#include "sign.h"

static int is_hex_lower(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '~';
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Output of cr_uri_encode: unreserved bytes and %XX only, decoding back to the input. */
static void check_uri(const char *s, size_t n) {
  cr_buf b = {0};
  size_t i, j = 0;
  CHECK(cr_uri_encode(&b, s, n) == 0);
  CHECK(b.data && b.data[b.len] == 0);
  for (i = 0; i < b.len; j++) {
    unsigned char c = (unsigned char)b.data[i];
    CHECK(j < n);
    if (c == '%') {
      int hi, lo;
      CHECK(i + 2 < b.len);
      hi = hexval(b.data[i + 1]); lo = hexval(b.data[i + 2]);
      CHECK(hi >= 0 && lo >= 0);
      CHECK((unsigned char)s[j] == (unsigned char)(hi * 16 + lo));
      CHECK(!unreserved((unsigned char)s[j]));
      i += 3;
    } else {
      CHECK(unreserved(c) && c == (unsigned char)s[j]);
      i++;
    }
  }
  CHECK(j == n);
  cr_buf_free(&b);
}

/* Fields after the fixed ones: "H<name>:<value>" headers, "Q<name>=<value>" query pairs. */
static size_t read_kvs(field *f, size_t nf, char tag, char sep, cr_kv *out, size_t max) {
  size_t i, n = 0;
  for (i = 0; i < nf && n < max; i++) {
    const char *p = f[i].p, *at;
    size_t len = f[i].n;
    if (len == 0 || p[0] != tag) continue;
    p++; len--;
    at = memchr(p, sep, len);
    out[n].name = p; out[n].name_len = at ? (size_t)(at - p) : len;
    out[n].value = at ? at + 1 : p + len; out[n].value_len = at ? len - (size_t)(at - p) - 1 : 0;
    n++;
  }
  return n;
}

static void check_output(const cr_sign_output *o, const char *alg) {
  size_t i;
  CHECK(strlen(o->signature) == 64 && is_hex_lower(o->signature, 64));
  CHECK(o->authorization.data && strncmp(o->authorization.data, alg, strlen(alg)) == 0);
  CHECK(o->signed_headers.data && o->signed_headers.len > 0);
  for (i = 0; i < o->signed_headers.len; i++) {
    char c = o->signed_headers.data[i];
    /* names are lower-cased, and nothing can break the header line */
    CHECK(!(c >= 'A' && c <= 'Z') && c != '\r' && c != '\n' && c != ':' && c != 0);
  }
  /* the Authorization header value is one line: no input (id, service,
   * region, date, header names) can inject a header through it. (Other control
   * bytes in a header name still pass the C signer; sign.lua refuses non-token
   * names before they get here.) */
  CHECK(strlen(o->authorization.data) == o->authorization.len);
  CHECK(strpbrk(o->authorization.data, "\r\n") == NULL);
  CHECK(o->canonical_request.data && o->string_to_sign.data);
  /* the method line of the canonical request is a single token */
  CHECK(strcspn(o->canonical_request.data, "\n") > 0);
  CHECK(strstr(o->string_to_sign.data, alg) == o->string_to_sign.data);
}

static int name_is(const cr_kv *h, const char *lower) {
  size_t i, n = strlen(lower);
  if (h->name_len != n) return 0;
  for (i = 0; i < n; i++) {
    char c = h->name[i];
    if ((c >= 'A' && c <= 'Z' ? (char)(c + 32) : c) != lower[i]) return 0;
  }
  return 1;
}

/* The TC3 FFI entry over the same fields (the binding's shapes on top), with
 * Host and Content-Type from their own fields as sign_ffi.lua passes them:
 * when it signs, the answer is cr_tc3_sign's for the merged headers. */
static void fuzz_tc3_args(const cr_tc3_input *in, field *f, const char *id, const char *svc, const char *method) {
  cr_kv h[18], merged[18];
  cr_tc3_args a;
  cr_tc3_input m = *in;
  cr_sign_output o1, o2;
  size_t i, n = 0;
  int rc;
  for (i = 0; i < in->nheaders; i++)
    if (!name_is(&in->headers[i], "host") && !name_is(&in->headers[i], "content-type")) h[n++] = in->headers[i];
  memset(&a, 0, sizeof a);
  a.secret_id = id; a.secret_id_len = f[0].n;          /* an embedded NUL: refused by length */
  a.secret_key = f[1].p; a.secret_key_len = f[1].n;
  a.service = svc; a.service_len = f[2].n;
  a.host = "fuzz.example:8443"; a.host_len = 17;
  a.method = method; a.method_len = f[4].n;
  a.content_type = "application/json"; a.content_type_len = 16;
  a.query = in->query ? in->query : ""; a.query_len = in->query_len;
  a.payload = in->payload ? in->payload : ""; a.payload_len = in->payload_len;
  a.timestamp = in->timestamp;
  a.headers = h; a.nheaders = n; a.headers_cap = 18;
  memset(&o1, 0, sizeof o1); memset(&o2, 0, sizeof o2);
  {
    cr_signer *s = cr_signer_new();
    CHECK(s);
    rc = cr_sign_entries.tc3(s, &a, &o1);            /* the address sign_ffi.lua calls */
    CHECK(rc == 0 || rc == CR_SIGN_EINVAL);
    if (rc == 0) {
      memcpy(merged, h, (n + 2) * sizeof *h);            /* h[n], h[n+1]: Content-Type, Host */
      m.headers = merged; m.nheaders = n + 2;
      CHECK(cr_tc3_sign(&m, &o2) == 0);
      CHECK(strcmp(o1.authorization.data, o2.authorization.data) == 0);
      CHECK(strcmp(o1.canonical_request.data, o2.canonical_request.data) == 0);
    }
    cr_signer_free(s);
  }
  cr_sign_output_free(&o1); cr_sign_output_free(&o2);
}

static void fuzz_tc3(field *f, size_t nf) {
  cr_kv hdr[16];
  cr_tc3_input in;
  cr_sign_output o1, o2;
  char *id, *svc, *method, *ts;
  int rc1, rc2;
  if (nf < 7) return;
  memset(&in, 0, sizeof in);
  id = cstr(&f[0]); svc = cstr(&f[2]); method = cstr(&f[4]); ts = cstr(&f[3]);
  in.secret_id = id;
  in.secret_key = f[1].p; in.secret_key_len = f[1].n;
  in.service = svc; in.method = method;
  in.timestamp = strtoll(ts, NULL, 10);
  in.query = f[5].p; in.query_len = f[5].n;
  in.payload = f[6].p; in.payload_len = f[6].n;
  in.nheaders = read_kvs(f + 7, nf - 7, 'H', ':', hdr, 16);
  in.headers = hdr;
  memset(&o1, 0, sizeof o1); memset(&o2, 0, sizeof o2);
  rc1 = cr_tc3_sign(&in, &o1);
  rc2 = cr_tc3_sign(&in, &o2);            /* second run goes through the key cache */
  CHECK(rc1 == rc2 && (rc1 == 0 || rc1 == CR_SIGN_EINVAL));
  if (rc1 == 0) {
    check_output(&o1, "TC3-HMAC-SHA256");
    CHECK(strcmp(o1.signature, o2.signature) == 0);
    CHECK(strstr(o1.signed_headers.data, "content-type") && strstr(o1.signed_headers.data, "host"));
  }
  cr_sign_output_free(&o1); cr_sign_output_free(&o2);
  fuzz_tc3_args(&in, f, id, svc, method);
  free(id); free(svc); free(method); free(ts);
}

/* The Volcengine FFI entry over the same fields, by length (a field with an
 * embedded NUL must be refused, not signed short): when it signs, the answer
 * is cr_volc_sign's, which must have signed too. */
static void fuzz_volc_args(const cr_volc_input *in, field *f, int rc_plain, char *const *s) {
  cr_kv kv[48];
  cr_volc_args a;
  cr_sign_output o1, o2;
  cr_signer *sg = cr_signer_new();
  int rc;
  CHECK(sg);
  memcpy(kv, in->query, in->nquery * sizeof *kv);
  memcpy(kv + in->nquery, in->headers, in->nheaders * sizeof *kv);
  memset(&a, 0, sizeof a);
  a.access_key = s[0]; a.access_key_len = f[0].n;
  a.secret_key = f[1].p; a.secret_key_len = f[1].n;
  a.service = s[1]; a.service_len = f[2].n;
  a.region = s[2]; a.region_len = f[3].n;
  a.date = s[3]; a.date_len = f[4].n;
  a.method = s[4]; a.method_len = f[5].n;
  a.path = s[5]; a.path_len = f[6].n;
  a.body = in->body ? in->body : ""; a.body_len = in->body_len;
  a.kv = kv; a.nquery = in->nquery; a.nheaders = in->nheaders;
  memset(&o1, 0, sizeof o1); memset(&o2, 0, sizeof o2);
  rc = cr_volc_sign_args(sg, &a, &o1);
  CHECK(rc == 0 || rc == CR_SIGN_EINVAL);
  if (rc == 0) {
    CHECK(rc_plain == 0);
    CHECK(cr_volc_sign(in, &o2) == 0);
    CHECK(strcmp(o1.authorization.data, o2.authorization.data) == 0);
    CHECK(strcmp(o1.canonical_query.data, o2.canonical_query.data) == 0);
  }
  cr_sign_output_free(&o1); cr_sign_output_free(&o2);
  cr_signer_free(sg);
}

static void fuzz_volc(field *f, size_t nf) {
  cr_kv hdr[16], q[32];
  cr_volc_input in;
  cr_sign_output o1, o2;
  char *s[7];
  size_t i;
  int rc1, rc2;
  if (nf < 8) return;
  memset(&in, 0, sizeof in);
  s[0] = cstr(&f[0]); s[1] = cstr(&f[2]); s[2] = cstr(&f[3]); s[3] = cstr(&f[4]);
  s[4] = cstr(&f[5]); s[5] = cstr(&f[6]); s[6] = NULL;
  in.access_key = s[0];
  in.secret_key = f[1].p; in.secret_key_len = f[1].n;
  in.service = s[1]; in.region = s[2]; in.date = s[3]; in.method = s[4]; in.path = s[5];
  in.body = f[7].p; in.body_len = f[7].n;
  in.nheaders = read_kvs(f + 8, nf - 8, 'H', ':', hdr, 16); in.headers = hdr;
  in.nquery = read_kvs(f + 8, nf - 8, 'Q', '=', q, 32); in.query = q;
  memset(&o1, 0, sizeof o1); memset(&o2, 0, sizeof o2);
  rc1 = cr_volc_sign(&in, &o1);
  rc2 = cr_volc_sign(&in, &o2);
  CHECK(rc1 == rc2 && (rc1 == 0 || rc1 == CR_SIGN_EINVAL));
  if (rc1 == 0) {
    check_output(&o1, "HMAC-SHA256");
    CHECK(strcmp(o1.signature, o2.signature) == 0);
    /* the query sent verbatim: encoded pairs joined by & and = only */
    for (i = 0; i < o1.canonical_query.len; i++) {
      unsigned char c = (unsigned char)o1.canonical_query.data[i];
      CHECK(unreserved(c) || c == '%' || c == '&' || c == '=');
    }
    CHECK(o1.canonical_query.len == 0 || in.nquery > 0);
  }
  cr_sign_output_free(&o1); cr_sign_output_free(&o2);
  fuzz_volc_args(&in, f, rc1, s);
  for (i = 0; s[i]; i++) free(s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  field f[MAX_FIELDS];
  size_t nf;
  if (size < 1) return 0;
  nf = split_fields(data + 1, size - 1, f, MAX_FIELDS);
  switch (data[0] % 3) {
  case 0: fuzz_tc3(f, nf); break;
  case 1: fuzz_volc(f, nf); break;
  default: check_uri((const char *)data + 1, size - 1); break;
  }
  return 0;
}

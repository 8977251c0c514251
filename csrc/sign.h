/* Request signing for Tencent Cloud (TC3-HMAC-SHA256) and Volcengine (HMAC-SHA256).
 * Pure C + OpenSSL; no Lua here so the signer stays testable and reusable. */
#ifndef CR_SIGN_H
#define CR_SIGN_H

#include <stddef.h>

/* A name/value pair; not NUL-terminated necessarily, lengths are authoritative. */
typedef struct {
  const char *name;  size_t name_len;
  const char *value; size_t value_len;
} cr_kv;

/* Growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct { char *data; size_t len, cap; } cr_buf;
int  cr_buf_append(cr_buf *b, const void *p, size_t n);   /* 0 ok, -1 out of memory */
int  cr_buf_puts(cr_buf *b, const char *s);
void cr_buf_free(cr_buf *b);

void cr_sha256_hex(const void *data, size_t len, char out[65]);
void cr_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    unsigned char out[32]);
/* RFC 3986: A-Za-z0-9-_.~ kept, everything else %XX with upper-case hex. */
int  cr_uri_encode(cr_buf *b, const char *s, size_t n);

typedef struct {
  cr_buf canonical_query;    /* volc only: the encoded, sorted query to send verbatim */
  cr_buf canonical_request;
  cr_buf string_to_sign;
  cr_buf signed_headers;     /* "content-type;host" */
  cr_buf authorization;      /* full Authorization header value */
  char   signature[65];      /* lower-case hex */
} cr_sign_output;
void cr_sign_output_free(cr_sign_output *out);

typedef struct {
  const char *secret_id;                         /* NUL-terminated */
  const char *secret_key; size_t secret_key_len;
  const char *service;                           /* "cvm" */
  long long   timestamp;                         /* unix seconds; Date is its UTC day */
  const char *method;                            /* "POST" / "GET" */
  const char *query; size_t query_len;           /* query exactly as sent; "" for POST */
  const cr_kv *headers; size_t nheaders;         /* headers to sign (must incl. content-type, host) */
  const char *payload; size_t payload_len;
} cr_tc3_input;

typedef struct {
  const char *access_key;                        /* NUL-terminated */
  const char *secret_key; size_t secret_key_len;
  const char *service, *region;                  /* "ecs", "cn-beijing" */
  const char *date;                              /* X-Date, YYYYMMDDTHHMMSSZ */
  const char *method, *path;                     /* "GET", "/" */
  const cr_kv *query; size_t nquery;             /* raw names/values; signer encodes + sorts */
  const cr_kv *headers; size_t nheaders;         /* exactly the headers to sign */
  const char *body; size_t body_len;
} cr_volc_input;

/* Return 0 on success, CR_SIGN_ENOMEM, or CR_SIGN_EINVAL (bad input; out untouched/freed).
 * Ids, service, region and method must be printable without spaces (no '/' or ',' in
 * ids and scope parts; the method upper-case letters); the path and a TC3 query
 * hold no control characters or spaces; timestamp is 0..CR_SIGN_MAX_TIMESTAMP. */
/* Largest timestamp whose UTC date has four digits: 9999-12-31T23:59:59Z. */
#define CR_SIGN_MAX_TIMESTAMP 253402300799LL
#define CR_SIGN_ENOMEM (-1)
#define CR_SIGN_EINVAL (-2)
int cr_tc3_sign(const cr_tc3_input *in, cr_sign_output *out);
int cr_volc_sign(const cr_volc_input *in, cr_sign_output *out);

/* Number of derived signing keys computed so far (the cache's misses); for tests/benchmarks. */
unsigned long cr_sign_key_derivations(void);

#endif

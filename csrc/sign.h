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
 * hold no control characters or spaces; timestamp is 0..CR_SIGN_MAX_TIMESTAMP;
 * header names are HTTP tokens, header values hold no control character but tab. */
/* Largest timestamp whose UTC date has four digits: 9999-12-31T23:59:59Z. */
#define CR_SIGN_MAX_TIMESTAMP 253402300799LL
#define CR_SIGN_ENOMEM (-1)
#define CR_SIGN_EINVAL (-2)
int cr_tc3_sign(const cr_tc3_input *in, cr_sign_output *out);
int cr_volc_sign(const cr_volc_input *in, cr_sign_output *out);

/* A signer owns what repeated signing reuses: the fetched SHA-256 and HMAC
 * implementations, one digest context, scratch buffers and a cache of keyed
 * HMAC contexts per (secret, scope). It is not thread-safe: one per thread (the
 * Lua binding keeps one per lua_State). cr_tc3_sign/cr_volc_sign above use a
 * process-wide one under a mutex. With a signer, `out` may hold buffers from an
 * earlier call: they are emptied and reused (on failure they are freed). */
typedef struct cr_signer cr_signer;
cr_signer *cr_signer_new(void);                  /* NULL when out of memory */
void cr_signer_free(cr_signer *s);               /* cleanses every cached key */
int cr_tc3_sign_with(cr_signer *s, const cr_tc3_input *in, cr_sign_output *out);
int cr_volc_sign_with(cr_signer *s, const cr_volc_input *in, cr_sign_output *out);

/* Byte classes (bit masks) for the signer's checks and the Lua binding's:
 * one table lookup per byte instead of strchr over a set. */
#define CR_CC_CTL   0x001   /* control: 0x00-0x1f and 0x7f */
#define CR_CC_SPACE 0x002   /* ' ' */
#define CR_CC_TOKEN 0x004   /* RFC 9110 tchar: a header-name byte */
#define CR_CC_SCOPE 0x008   /* letters, digits, '-', '_', '.' */
#define CR_CC_HOST  0x010   /* scope bytes and ':', '[', ']' */
#define CR_CC_UPPER 0x020   /* 'A'-'Z' */
#define CR_CC_SEP   0x040   /* '/' and ',' (split a scope part / an Authorization field) */
#define CR_CC_HASH  0x080   /* '#' */
#define CR_CC_QMARK 0x100   /* '?' */
#define CR_CC_UNRES 0x200   /* RFC 3986 unreserved: letters, digits, '-', '_', '.', '~' */
#define CR_CC_CTLX  0x400   /* control but tab: what a header value may not hold */
extern const unsigned short cr_char_class[256];

/* The public signers' argument checks over (pointer, length) fields
 * (sign_args.c): shared by the Lua binding and the LuaJIT FFI path. Shapes:
 * ids (no control, space, '/' or ','), scope parts (letters, digits, '-', '_',
 * '.'), host[:port], an upper-case method, one line of text. */
enum { CR_SH_ID, CR_SH_SCOPE, CR_SH_HOST, CR_SH_METHOD, CR_SH_LINE };
int cr_shape_ok(int sh, const char *p, size_t n);     /* 1..4096 bytes, all of the shape */
int cr_shape_fast(int sh, const char *p, size_t n);   /* what the fast pass checks (sign.c does the rest) */

typedef struct {                                      /* every pointer with its length */
  const char *secret_id, *secret_key, *service, *host, *method, *content_type, *query, *payload;
  size_t secret_id_len, secret_key_len, service_len, host_len, method_len, content_type_len,
         query_len, payload_len;
  long long timestamp;
  cr_kv *headers; size_t nheaders, headers_cap;       /* room for 2 more: Content-Type, Host */
} cr_tc3_args;

typedef struct {
  const char *access_key, *secret_key, *service, *region, *date, *method, *path, *body;
  size_t access_key_len, secret_key_len, service_len, region_len, date_len, method_len, path_len,
         body_len;
  const cr_kv *kv; size_t nquery, nheaders;           /* query pairs, then headers (X-Date included) */
} cr_volc_args;

/* 0, CR_SIGN_ENOMEM or CR_SIGN_EINVAL (a refusal: the binding's strict pass names it). */
int cr_tc3_sign_args(cr_signer *s, const cr_tc3_args *a, cr_sign_output *out);
int cr_volc_sign_args(cr_signer *s, const cr_volc_args *a, cr_sign_output *out);
typedef struct {
  int (*tc3)(cr_signer *s, const cr_tc3_args *a, cr_sign_output *out);
  int (*volc)(cr_signer *s, const cr_volc_args *a, cr_sign_output *out);
} cr_sign_entry;
extern const cr_sign_entry cr_sign_entries;

/* Number of derived signing keys computed so far (the cache's misses); for tests/benchmarks. */
unsigned long cr_sign_key_derivations(void);

#endif

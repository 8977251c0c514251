/* HTTP transport over libcurl. No Lua here: the binding copies arguments in and
 * results out, so no Lua error can ever unwind through a libcurl frame. */
#ifndef CR_HTTP_H
#define CR_HTTP_H

#include <stddef.h>
#include <curl/curl.h>
#include "sign.h"   /* cr_buf */

typedef struct {
  const char *ca_file, *proxy, *connect_to, *user_agent;  /* NULL = unset */
  long timeout_ms, connect_timeout_ms;
  size_t max_response;                                    /* body cap in bytes */
} cr_http_opts;

/* Failure classes; `sent` in the response says whether the request may have
 * reached the server (0 = provably not sent). */
enum {
  CR_HTTP_OK = 0,
  CR_HTTP_ENETWORK,      /* DNS, connect, reset, empty reply */
  CR_HTTP_ETIMEOUT,
  CR_HTTP_ETLS,          /* handshake or certificate verification */
  CR_HTTP_ETOOBIG,       /* body over max_response */
  CR_HTTP_EBADRESPONSE,  /* truncated body, malformed HTTP */
  CR_HTTP_ENOMEM,
  CR_HTTP_EINVAL         /* bad option (e.g. connect_to) */
};

typedef struct {
  const char *method, *url;
  const char *const *headers; size_t nheaders;   /* "Name: value" lines */
  const char *body; size_t body_len;
  int fresh_connection;   /* non-idempotent: never reuse a connection (see http.c) */
} cr_http_request;

typedef struct {
  int    result;          /* CR_HTTP_* */
  int    sent;
  int    curl_code;
  long   status;
  double total_time;      /* seconds */
  cr_buf body, headers;   /* headers: raw block of the final response */
  size_t max_body;        /* set by cr_http_prepare from the client's cap */
  int    too_big;         /* 1: body over max_body; 2: header block over CR_HTTP_HEADERS_MAX */
  char   error[CURL_ERROR_SIZE + 64];
} cr_http_response;

/* One client: options plus a connection cache shared by all of its transfers. */
typedef struct cr_http cr_http;

int  cr_http_global_init(void);
cr_http *cr_http_new(const cr_http_opts *opts, char *err, size_t errlen);
void cr_http_free(cr_http *h);

/* Prepare an easy handle for req into resp (resp zeroed by caller). Returns an
 * easy handle to run (blocking: cr_http_finish(curl_easy_perform(...))), or NULL
 * with resp->result set. *hdrs receives the header list to free after the run. */
CURL *cr_http_prepare(cr_http *h, const cr_http_request *req, cr_http_response *resp,
                      struct curl_slist **hdrs);
/* Classify a finished transfer into resp, then release the easy handle. */
void cr_http_finish(cr_http *h, CURL *easy, CURLcode rc, cr_http_response *resp,
                    struct curl_slist *hdrs);

/* Concurrent transfers through libcurl's multi interface. Every slot (easy
 * handle, header list, response buffers) is owned by the cr_multi. A client
 * freed while it has transfers in flight is released when the last one ends. */
typedef struct cr_multi cr_multi;
cr_multi *cr_multi_new(void);
void cr_multi_free(cr_multi *m);
/* Start req on h; returns a slot id >= 0, or -1 when out of memory. A request that
 * fails before starting still gets a slot, already finished with its error. */
int  cr_multi_add(cr_multi *m, cr_http *h, const cr_http_request *req);
/* Drive transfers for up to timeout_ms; store up to max ids of finished slots. */
int  cr_multi_run(cr_multi *m, long timeout_ms, int *done, int max);
const cr_http_response *cr_multi_response(cr_multi *m, int id);
void cr_multi_release(cr_multi *m, int id);
int  cr_multi_active(const cr_multi *m);

/* Parse a raw header block (the final response's, as collected in
 * cr_http_response.headers) and call fn once per well-formed "Name: value"
 * line, in order: name lower-cased (1..CR_HTTP_NAME_MAX bytes of RFC 9110 token
 * characters), value with surrounding blanks and the CR removed. The status
 * line, folded continuations and lines with a malformed name are skipped. A
 * non-zero return from fn stops the walk. Pure: no allocation, no libcurl, so
 * the binding may raise from fn and the fuzzer can drive it directly. Returns
 * the number of headers reported. */
#define CR_HTTP_NAME_MAX 127
typedef int (*cr_header_fn)(void *ud, const char *name, size_t name_len,
                            const char *value, size_t value_len);
size_t cr_http_parse_headers(const char *data, size_t len, cr_header_fn fn, void *ud);

/* The body and header caps as libcurl's write callbacks see them: return the
 * bytes accepted (less than size * n aborts the transfer). Public so the fuzz
 * targets drive the same functions the transfers use. */
size_t cr_http_on_body(char *p, size_t size, size_t n, void *resp);
size_t cr_http_on_header(char *p, size_t size, size_t n, void *resp);
#define CR_HTTP_HEADERS_MAX (64 * 1024)

/* Classify a transfer's libcurl code and resp->status into resp (result, sent,
 * error), given whether any byte may have left this host. cr_http_finish
 * calls it. A status outside 100..599 is a bad response even when curl is OK. */
void cr_http_classify(cr_http_response *resp, CURLcode rc, int maybe_sent);

/* Blocking convenience: prepare + perform + finish. */
void cr_http_perform(cr_http *h, const cr_http_request *req, cr_http_response *resp);
void cr_http_response_free(cr_http_response *resp);

#endif

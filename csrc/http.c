/* libcurl transport: one CURLSH per client so every transfer, blocking or in a
 * multi, reuses the same keep-alive connections, DNS and TLS sessions. */
#define _POSIX_C_SOURCE 200809L
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cr_http {
  CURLSH *share;
  char *ca_file, *proxy, *user_agent;
  struct curl_slist *connect_to;
  long timeout_ms, connect_timeout_ms;
  size_t max_response;
  int inflight;               /* transfers running in some cr_multi */
  int closing;                /* freed by its owner while transfers were in flight */
};

int cr_http_global_init(void) {
  static int done = 0;
  if (!done) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
    done = 1;
  }
  return 0;
}

static char *dupstr(const char *s) {
  char *d;
  if (!s) return NULL;
  d = malloc(strlen(s) + 1);
  if (d) strcpy(d, s);
  return d;
}

void cr_http_free(cr_http *h) {
  if (!h) return;
  if (h->inflight > 0) { h->closing = 1; return; }   /* the last transfer frees it */
  if (h->share) curl_share_cleanup(h->share);
  curl_slist_free_all(h->connect_to);
  free(h->ca_file); free(h->proxy); free(h->user_agent);
  free(h);
}

cr_http *cr_http_new(const cr_http_opts *o, char *err, size_t errlen) {
  cr_http *h = calloc(1, sizeof *h);
  if (!h) { snprintf(err, errlen, "out of memory"); return NULL; }
  h->timeout_ms = o->timeout_ms;
  h->connect_timeout_ms = o->connect_timeout_ms;
  h->max_response = o->max_response;
  if ((o->ca_file && !(h->ca_file = dupstr(o->ca_file))) ||
      (o->proxy && !(h->proxy = dupstr(o->proxy))) ||
      (o->user_agent && !(h->user_agent = dupstr(o->user_agent)))) {
    snprintf(err, errlen, "out of memory"); cr_http_free(h); return NULL;
  }
  if (o->connect_to && *o->connect_to) {
    /* "127.0.0.1:8443" means: whatever host/port the URL names, connect here. */
    char line[512];
    const char *colon = strrchr(o->connect_to, ':');
    if (!colon || colon == o->connect_to || !colon[1] ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strlen(o->connect_to) > sizeof line - 8) {
      snprintf(err, errlen, "connect_to must be HOST:PORT, e.g. 127.0.0.1:8443");
      cr_http_free(h); return NULL;
    }
    snprintf(line, sizeof line, "::%s", o->connect_to);
    if (!(h->connect_to = curl_slist_append(NULL, line))) {
      snprintf(err, errlen, "out of memory"); cr_http_free(h); return NULL;
    }
  }
  h->share = curl_share_init();
  if (!h->share) { snprintf(err, errlen, "curl_share_init failed"); cr_http_free(h); return NULL; }
  curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return h;
}

size_t cr_http_on_body(char *p, size_t size, size_t n, void *ud) {
  cr_http_response *r = ud;
  size_t len = size * n;
  /* Compared as "len > room" so a huge len cannot wrap the sum past the cap. */
  if (r->body.len > r->max_body || len > r->max_body - r->body.len) { r->too_big = 1; return 0; }
  return cr_buf_append(&r->body, p, len) == 0 ? len : 0;
}

size_t cr_http_on_header(char *p, size_t size, size_t n, void *ud) {
  cr_http_response *r = ud;
  size_t len = size * n;
  /* A new status line (100-continue, proxy CONNECT, redirects) starts a new block. */
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) r->headers.len = 0;
  if (r->headers.len > CR_HTTP_HEADERS_MAX || len > CR_HTTP_HEADERS_MAX - r->headers.len) {
    r->too_big = 2;   /* an endless header block: a bad response, not a big body */
    return 0;
  }
  return cr_buf_append(&r->headers, p, len) == 0 ? len : 0;
}

/* RFC 9110 tchar: what a header name may contain. */
static int is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

size_t cr_http_parse_headers(const char *data, size_t len, cr_header_fn fn, void *ud) {
  const char *p = data, *end = data ? data + len : NULL;
  size_t count = 0;
  if (!data) return 0;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    const char *colon = memchr(p, ':', (size_t)(le - p));
    size_t nl = colon ? (size_t)(colon - p) : 0, i;
    if (nl > 0 && nl <= CR_HTTP_NAME_MAX) {
      char name[CR_HTTP_NAME_MAX + 1];
      const char *v = colon + 1, *ve = le;
      for (i = 0; i < nl && is_tchar((unsigned char)p[i]); i++)
        name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
      if (i == nl) {
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        name[nl] = 0;
        count++;
        if (fn(ud, name, nl, v, (size_t)(ve - v))) break;
      }
    }
    p = eol ? eol + 1 : end;
  }
  return count;
}

CURL *cr_http_prepare(cr_http *h, const cr_http_request *req, cr_http_response *resp,
                      struct curl_slist **hdrs) {
  CURL *e;
  size_t i;
  *hdrs = NULL;
  resp->max_body = h->max_response;
  /* A fresh easy handle per transfer, never a reset one: libcurl 7.88 (Debian
   * 12) keeps a pointer into the previous transfer's header store across
   * transfers, and a folded header line in the next answer then reads freed
   * memory (found by fuzz/fuzz_response). Connections, DNS and TLS sessions
   * are still reused through the share. */
  e = curl_easy_init();
  if (!e) { resp->result = CR_HTTP_ENOMEM; snprintf(resp->error, sizeof resp->error, "out of memory"); return NULL; }

  for (i = 0; i < req->nheaders; i++) {
    struct curl_slist *n = curl_slist_append(*hdrs, req->headers[i]);
    if (!n) goto nomem;
    *hdrs = n;
  }
  /* libcurl would add "Expect: 100-continue" to large bodies: one wasted round trip. */
  { struct curl_slist *n = curl_slist_append(*hdrs, "Expect:"); if (!n) goto nomem; *hdrs = n; }

  curl_easy_setopt(e, CURLOPT_SHARE, h->share);
  curl_easy_setopt(e, CURLOPT_URL, req->url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);   /* verification is never turned off */
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (h->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
  if (h->proxy) curl_easy_setopt(e, CURLOPT_PROXY, h->proxy);
  if (h->connect_to) curl_easy_setopt(e, CURLOPT_CONNECT_TO, h->connect_to);
  if (h->user_agent) curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cr_http_on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cr_http_on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, resp->error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, resp);
  if (strcmp(req->method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (strcmp(req->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    /* Copied: a concurrent transfer outlives the Lua string it came from. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
  }
  if (req->fresh_connection) {
    /* libcurl silently re-sends a request when a reused connection dies before
     * any response byte arrives (Curl_retry_request). For a non-idempotent
     * renewal whose answer was lost that would be a second purchase, so such a
     * request always gets its own connection and never lends it out after. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  return e;
nomem:
  curl_slist_free_all(*hdrs); *hdrs = NULL;
  curl_easy_cleanup(e);
  resp->result = CR_HTTP_ENOMEM;
  snprintf(resp->error, sizeof resp->error, "out of memory");
  return NULL;
}

/* Did any byte of the request possibly leave this host? Conservative: once the
 * transfer got past connecting we assume yes. */
static int maybe_sent(CURL *e) {
  curl_off_t pre = 0, reqsize = 0;
  long rs = 0;
  curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
  if (curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &rs) == CURLE_OK) reqsize = rs;
  return pre > 0 || reqsize > 0;
}

void cr_http_classify(cr_http_response *resp, CURLcode rc, int sent) {
  resp->curl_code = (int)rc;
  if (!resp->error[0]) snprintf(resp->error, sizeof resp->error, "%s", curl_easy_strerror(rc));

  switch (rc) {
  case CURLE_OK:
    resp->sent = 1;
    if (resp->status < 100 || resp->status > 599) {
      /* libcurl is lenient with status lines ("HTTP/200 OK" passes): a
       * status no server means is an unreadable answer, not a success. */
      resp->result = CR_HTTP_EBADRESPONSE;
      snprintf(resp->error, sizeof resp->error, "malformed HTTP status line (status %ld)", resp->status);
      break;
    }
    resp->result = CR_HTTP_OK; resp->error[0] = 0; break;
  case CURLE_UNSUPPORTED_PROTOCOL:
    /* Also what libcurl says to an HTTP/0.9 answer or a garbage status line,
     * i.e. after the request went out: then the server may have acted. */
    if (sent) { resp->result = CR_HTTP_EBADRESPONSE; resp->sent = 1; break; }
    resp->result = CR_HTTP_ENETWORK; resp->sent = 0; break;
  case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT: case CURLE_URL_MALFORMAT:
    resp->result = CR_HTTP_ENETWORK; resp->sent = 0; break;
  case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CIPHER: case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_CRL_BADFILE:
    /* The handshake precedes the request: nothing reached the application. */
    resp->result = CR_HTTP_ETLS; resp->sent = 0; break;
  case CURLE_OPERATION_TIMEDOUT:
    resp->result = CR_HTTP_ETIMEOUT; resp->sent = sent; break;
  case CURLE_WRITE_ERROR:
    if (resp->too_big == 2) {
      resp->result = CR_HTTP_EBADRESPONSE; resp->sent = 1;
      snprintf(resp->error, sizeof resp->error,
               "response headers larger than %d bytes", CR_HTTP_HEADERS_MAX);
    } else if (resp->too_big) {
      resp->result = CR_HTTP_ETOOBIG; resp->sent = 1;
      snprintf(resp->error, sizeof resp->error,
               "response body larger than %zu bytes", resp->max_body);
    } else { resp->result = CR_HTTP_ENOMEM; resp->sent = 1; }
    break;
  case CURLE_PARTIAL_FILE: case CURLE_WEIRD_SERVER_REPLY: case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
    resp->result = CR_HTTP_EBADRESPONSE; resp->sent = 1; break;
  case CURLE_OUT_OF_MEMORY:
    resp->result = CR_HTTP_ENOMEM; resp->sent = sent; break;
  default:   /* GOT_NOTHING, RECV_ERROR, SEND_ERROR, ...: the server may have acted */
    resp->result = CR_HTTP_ENETWORK; resp->sent = sent; break;
  }
}

void cr_http_finish(cr_http *h, CURL *e, CURLcode rc, cr_http_response *resp,
                    struct curl_slist *hdrs) {
  (void)h;   /* kept: the transfer belongs to h (see the note in cr_http_prepare) */
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
  curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &resp->total_time);
  cr_http_classify(resp, rc, rc == CURLE_OK ? 1 : maybe_sent(e));
  curl_slist_free_all(hdrs);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_cleanup(e);
}

void cr_http_perform(cr_http *h, const cr_http_request *req, cr_http_response *resp) {
  struct curl_slist *hdrs;
  CURL *e = cr_http_prepare(h, req, resp, &hdrs);
  if (!e) return;
  cr_http_finish(h, e, curl_easy_perform(e), resp, hdrs);
}

void cr_http_response_free(cr_http_response *resp) {
  cr_buf_free(&resp->body);
  cr_buf_free(&resp->headers);
}

/* ---- multi ---------------------------------------------------------------- */

typedef struct {
  CURL *easy;                 /* NULL once finished */
  cr_http *h;
  struct curl_slist *hdrs;
  cr_http_response resp;
  int used, done;
} cr_slot;

struct cr_multi {
  CURLM *multi;
  cr_slot **slots;            /* stable addresses: curl holds &slot->resp */
  int nslots, active;
};

cr_multi *cr_multi_new(void) {
  cr_multi *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  if (!(m->multi = curl_multi_init())) { free(m); return NULL; }
  return m;
}

static void slot_finish(cr_multi *m, cr_slot *s, CURLcode rc) {
  curl_multi_remove_handle(m->multi, s->easy);
  cr_http_finish(s->h, s->easy, rc, &s->resp, s->hdrs);
  s->easy = NULL; s->hdrs = NULL; s->done = 1;
  m->active--;
  if (--s->h->inflight == 0 && s->h->closing) { s->h->closing = 0; cr_http_free(s->h); }
}

void cr_multi_free(cr_multi *m) {
  int i;
  if (!m) return;
  for (i = 0; i < m->nslots; i++) {
    cr_slot *s = m->slots[i];
    if (s->used && !s->done) slot_finish(m, s, CURLE_ABORTED_BY_CALLBACK);
    cr_http_response_free(&s->resp);
    free(s);
  }
  free(m->slots);
  curl_multi_cleanup(m->multi);
  free(m);
}

int cr_multi_add(cr_multi *m, cr_http *h, const cr_http_request *req) {
  int id;
  cr_slot *s = NULL;
  for (id = 0; id < m->nslots; id++) if (!m->slots[id]->used) { s = m->slots[id]; break; }
  if (!s) {
    cr_slot **grown = realloc(m->slots, (size_t)(m->nslots + 1) * sizeof *grown);
    if (!grown) return -1;
    m->slots = grown;
    if (!(s = calloc(1, sizeof *s))) return -1;
    m->slots[m->nslots++] = s;
    id = m->nslots - 1;
  }
  s->used = 1; s->done = 0; s->h = h;
  s->resp.body.len = 0; s->resp.headers.len = 0;
  s->resp.result = 0; s->resp.sent = 0; s->resp.status = 0; s->resp.too_big = 0;
  s->resp.curl_code = 0; s->resp.error[0] = 0;
  s->easy = cr_http_prepare(h, req, &s->resp, &s->hdrs);
  if (!s->easy) { s->done = 1; return id; }
  if (curl_multi_add_handle(m->multi, s->easy) != CURLM_OK) {
    h->inflight++; m->active++;
    slot_finish(m, s, CURLE_OUT_OF_MEMORY);
    return id;
  }
  h->inflight++; m->active++;
  return id;
}

/* Move every transfer libcurl reports finished into its slot; returns how many. */
static int drain_finished(cr_multi *m) {
  int left, i, n = 0;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    cr_http_response *r;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    for (i = 0; i < m->nslots; i++) {
      cr_slot *s = m->slots[i];
      if (&s->resp == r && s->easy == msg->easy_handle) {
        slot_finish(m, s, msg->data.result); n++; break;
      }
    }
  }
  return n;
}

static int unreported(const cr_multi *m) {
  int i;
  for (i = 0; i < m->nslots; i++) if (m->slots[i]->used && m->slots[i]->done == 1) return 1;
  return 0;
}

int cr_multi_run(cr_multi *m, long timeout_ms, int *done, int max) {
  int running = 0, n = 0, i;
  curl_multi_perform(m->multi, &running);
  drain_finished(m);
  /* Wait only when nothing is ready to hand back: polling after the perform
   * above finished the last transfer would sit out the whole timeout with no
   * socket left to wake it (map idled up to 1 s per batch that way). */
  if (running > 0 && timeout_ms > 0 && !unreported(m)) {
    if (timeout_ms > 3600 * 1000L) timeout_ms = 3600 * 1000L;   /* fits an int */
    curl_multi_poll(m->multi, NULL, 0, (int)timeout_ms, NULL);
    curl_multi_perform(m->multi, &running);
    drain_finished(m);
  }
  /* Report every finished, unreported slot (including ones that failed in add). */
  for (i = 0; i < m->nslots && n < max; i++)
    if (m->slots[i]->used && m->slots[i]->done == 1) { m->slots[i]->done = 2; done[n++] = i; }
  return n;
}

const cr_http_response *cr_multi_response(cr_multi *m, int id) {
  if (id < 0 || id >= m->nslots || !m->slots[id]->used) return NULL;
  return &m->slots[id]->resp;
}

void cr_multi_release(cr_multi *m, int id) {
  if (id >= 0 && id < m->nslots && m->slots[id]->done) m->slots[id]->used = 0;
}

int cr_multi_active(const cr_multi *m) { return m->active; }

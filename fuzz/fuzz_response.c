/* Fuzz the whole response path through a live libcurl handle: the fuzz input
 * is what "the server" sends (status line, headers, body, any bytes at all),
 * written by a loopback peer that libcurl connects to. The request
 * goes through cr_http_prepare / cr_http_finish exactly as the binding's does,
 * then the header block goes through cr_http_parse_headers. Every answer must
 * be classified (never a crash, never "not sent" once the request was written),
 * bounded by max_response and the header cap. Input: raw response bytes. */
#include "fuzz_util.h"
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener = -1;
static struct sockaddr_in listen_addr;
static char url[64];

static int count_pair(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  (void)n; (void)v; (void)vl;
  CHECK(nl >= 1 && nl <= CR_HTTP_NAME_MAX);
  ++*(size_t *)ud;
  return 0;
}

static cr_http *client;
static CURLM *multi;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cr_http_request req;
  cr_http_response resp;
  struct curl_slist *hdrs;
  const char *lines[] = { "Content-Type: application/json", "X-TC-Action: RenewInstances" };
  CURL *e;
  CURLMsg *msg;
  CURLcode rc;
  struct pollfd pfd;
  int running = 1, left, server_fd;
  size_t n = 0;
  if (!client) {
    cr_http_opts o;
    char err[256];
    memset(&o, 0, sizeof o);
    o.timeout_ms = 2000; o.connect_timeout_ms = 1000; o.max_response = 4096;
    CHECK(cr_http_global_init() == 0);
    client = cr_http_new(&o, err, sizeof err);
    CHECK(client != NULL);
    listener = loopback_listener(&listen_addr);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(listen_addr.sin_port));
    CHECK((multi = curl_multi_init()) != NULL);
  }
  memset(&req, 0, sizeof req);
  req.method = "POST"; req.url = url;
  req.headers = lines; req.nheaders = 2;
  req.body = "{}"; req.body_len = 2;
  req.fresh_connection = 1;                  /* one connection per answer */
  memset(&resp, 0, sizeof resp);
  e = cr_http_prepare(client, &req, &resp, &hdrs);
  CHECK(e != NULL);
  if (getenv("FUZZ_VERBOSE")) curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  /* Single-threaded: start the transfer on a multi, accept its connection,
   * write the whole answer and shut our side, then let libcurl finish. */
  CHECK(curl_multi_add_handle(multi, e) == CURLM_OK);
  do {
    CHECK(curl_multi_perform(multi, &running) == CURLM_OK);
    pfd.fd = listener; pfd.events = POLLIN;
  } while (running && poll(&pfd, 1, 10) == 0);
  pfd.fd = listener; pfd.events = POLLIN;
  CHECK(poll(&pfd, 1, 1000) == 1);           /* never block in accept: it connected */
  server_fd = accept(listener, NULL, NULL);
  CHECK(server_fd >= 0);
  CHECK(size == 0 || write(server_fd, data, size) == (ssize_t)size);
  shutdown(server_fd, SHUT_WR);
  while (running) {
    CHECK(curl_multi_poll(multi, NULL, 0, 100, NULL) == CURLM_OK);
    CHECK(curl_multi_perform(multi, &running) == CURLM_OK);
  }
  msg = curl_multi_info_read(multi, &left);
  CHECK(msg && msg->msg == CURLMSG_DONE && msg->easy_handle == e);
  rc = msg->data.result;
  curl_multi_remove_handle(multi, e);
  cr_http_finish(client, e, rc, &resp, hdrs);
  close(server_fd);

  CHECK(resp.result >= CR_HTTP_OK && resp.result <= CR_HTTP_EINVAL);
  CHECK(resp.body.len <= 4096 && resp.headers.len <= CR_HTTP_HEADERS_MAX);
  CHECK(memchr(resp.error, 0, sizeof resp.error) != NULL);
  /* the request was written before any answer was read: it may have acted */
  if (!resp.sent) fprintf(stderr, "not sent: %s (curl %d)\n", resp.error, resp.curl_code);
  CHECK(resp.sent == 1);
  if (resp.result == CR_HTTP_OK) CHECK(resp.status >= 100 && resp.status <= 599);
  cr_http_parse_headers(resp.headers.data, resp.headers.len, count_pair, &n);
  cr_http_response_free(&resp);
  return 0;
}

/* hiredis behind a small C API (redis.h). Blocking, one command at a time:
 * the pacer and the ledger need a few round trips per renewal, not pipelines. */
#define _POSIX_C_SOURCE 200809L
#include "redis.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct cr_redis {
  redisContext *c;
  pid_t pid;          /* a fork must not talk on its parent's socket */
  double timeout;     /* seconds: the total time one command may take */
};

static struct timeval tv_of(double s);

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* hiredis 0.14 allocates a multi-bulk's element array as soon as its header
 * line arrives: "*300000000" from a hostile server is gigabytes before one
 * element came. Walk the unparsed bytes (items are consumed whole, so they
 * start at an item) and refuse a header over CR_REDIS_MAX_ELEMENTS first. */
#define CR_REDIS_MAX_ELEMENTS 1000000
static int sane_headers(const char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    char t = p[i];
    const char *eol = memchr(p + i, '\r', n - i);
    long long v = 0;
    size_t j;
    int neg = 0;
    if (!eol) return 1;                       /* incomplete: nothing allocated yet */
    if (t != '*' && t != '$') { i = (size_t)(eol - p) + 2; continue; }
    for (j = i + 1; j < (size_t)(eol - p); j++) {
      if (j == i + 1 && p[j] == '-') { neg = 1; continue; }
      if (p[j] < '0' || p[j] > '9') return 1;  /* hiredis reports the protocol error */
      if (v > CR_REDIS_MAX_ELEMENTS * 1000LL) return 0;
      v = v * 10 + (p[j] - '0');
    }
    if (neg) { i = (size_t)(eol - p) + 2; continue; }
    if (t == '*') {
      if (v > CR_REDIS_MAX_ELEMENTS) return 0;
      i = (size_t)(eol - p) + 2;
    } else {
      i = (size_t)(eol - p) + 2 + (size_t)v + 2;
    }
  }
  return 1;
}

/* One command within a total deadline: hiredis' per-read timeout alone lets a
 * server that drips one byte per read hold the caller for ever. Each write and
 * read gets what is left of the deadline as its socket timeout. NULL with err
 * set when the deadline passes, the peer goes away or the reply is malformed. */
static redisReply *command_within(redisContext *c, int argc, const char **argv, const size_t *lens,
                                  double timeout, char *err, size_t errlen) {
  double deadline = now_s() + timeout;
  void *reply = NULL;
  int done = 0;
  if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK) {
    snprintf(err, errlen, "Redis connection lost: %s", c->err ? c->errstr : "cannot queue the command");
    return NULL;
  }
  while (!done) {
    double left = deadline - now_s();
    if (left <= 0) { snprintf(err, errlen, "Redis timed out after %.3g s (sending)", timeout); return NULL; }
    redisSetTimeout(c, tv_of(left < 0.001 ? 0.001 : left));
    if (redisBufferWrite(c, &done) != REDIS_OK) {
      snprintf(err, errlen, "Redis connection lost: %s", c->err ? c->errstr : "write failed");
      return NULL;
    }
  }
  for (;;) {
    double left;
    if (c->reader->buf && !sane_headers(c->reader->buf + c->reader->pos, c->reader->len - c->reader->pos)) {
      snprintf(err, errlen, "Redis sent a reply with more than %d elements", CR_REDIS_MAX_ELEMENTS);
      return NULL;
    }
    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
      snprintf(err, errlen, "Redis sent a malformed reply: %s", c->reader->errstr);
      return NULL;
    }
    if (reply) return reply;
    left = deadline - now_s();
    if (left <= 0) { snprintf(err, errlen, "Redis timed out after %.3g s", timeout); return NULL; }
    redisSetTimeout(c, tv_of(left < 0.001 ? 0.001 : left));
    if (redisBufferRead(c) != REDIS_OK) {
      if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        snprintf(err, errlen, "Redis timed out after %.3g s", timeout);
      else
        snprintf(err, errlen, "Redis connection lost: %s", c->err ? c->errstr : "read failed");
      return NULL;
    }
  }
}

static struct timeval tv_of(double s) {
  struct timeval tv;
  if (!(s > 0)) s = 1;
  if (s > 3600) s = 3600;
  tv.tv_sec = (time_t)s;
  tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
  return tv;
}

cr_redis *cr_redis_connect(const char *host, int port, double timeout_s, char *err, size_t errlen) {
  struct timeval tv = tv_of(timeout_s);
  cr_redis *r;
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (!c) { snprintf(err, errlen, "cannot allocate a Redis context"); return NULL; }
  if (c->err) {
    snprintf(err, errlen, "cannot connect to Redis at %s:%d: %s", host, port, c->errstr);
    redisFree(c);
    return NULL;
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    snprintf(err, errlen, "cannot set the Redis timeout: %s", c->errstr);
    redisFree(c);
    return NULL;
  }
  if (!(r = malloc(sizeof *r))) {
    redisFree(c);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->c = c;
  r->pid = getpid();
  r->timeout = timeout_s > 0 && timeout_s <= 3600 ? timeout_s : 1;
  return r;
}

/* Block SIGPIPE for this thread around the write, then consume one raised by
 * it (a Redis that restarted leaves a dead socket; the next write would kill
 * a Lua interpreter, which keeps SIGPIPE's default action). */
redisReply *cr_redis_command(cr_redis *r, int argc, const char **argv, const size_t *lens,
                             char *err, size_t errlen) {
  sigset_t pipe_set, old, pending;
  int had_pending;
  redisReply *reply;
  if (!r || !r->c) { snprintf(err, errlen, "Redis connection is closed"); return NULL; }
  if (r->pid != getpid()) { snprintf(err, errlen, "Redis connection belongs to the parent process"); return NULL; }
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  sigpending(&pending);
  had_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  reply = command_within(r->c, argc, argv, lens, r->timeout, err, errlen);
  if (!had_pending) {
    struct timespec zero = { 0, 0 };
    sigemptyset(&pending);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {}
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return reply;
}

void cr_redis_free_reply(redisReply *reply) {
  if (reply) freeReplyObject(reply);
}

void cr_redis_close(cr_redis *r) {
  if (!r) return;
  /* In a fork, closing our copy of the descriptor leaves the parent's intact. */
  if (r->c) redisFree(r->c);
  free(r);
}

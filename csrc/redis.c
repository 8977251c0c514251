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
};

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
  reply = redisCommandArgv(r->c, argc, argv, lens);
  if (!had_pending) {
    struct timespec zero = { 0, 0 };
    sigemptyset(&pending);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {}
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!reply) {
    snprintf(err, errlen, "Redis connection lost: %s", r->c->err ? r->c->errstr : "no reply");
    return NULL;
  }
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

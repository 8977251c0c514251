/* Helpers shared by the libFuzzer harnesses (never part of core.so). Inputs are
 * fields separated by 0x1f (ASCII unit separator), so seeds stay readable and
 * every other byte, NUL/CR/LF included, can appear inside a field. */
#ifndef CR_FUZZ_UTIL_H
#define CR_FUZZ_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_SEP 0x1f
#define MAX_FIELDS 64

typedef struct { const char *p; size_t n; } field;

/* Split data into at most max fields; returns how many. */
static inline size_t split_fields(const uint8_t *data, size_t size, field *out, size_t max) {
  size_t nf = 0, start = 0, i;
  for (i = 0; i <= size && nf < max; i++) {
    if (i == size || data[i] == FIELD_SEP) {
      out[nf].p = (const char *)data + start; out[nf].n = i - start; nf++;
      start = i + 1;
    }
  }
  return nf;
}

/* A NUL-terminated copy (an embedded NUL ends the C string, as in the binding). */
static inline char *cstr(const field *f) {
  char *s = malloc(f->n + 1);
  if (!s) abort();
  memcpy(s, f->p, f->n);
  s[f->n] = 0;
  return s;
}

#define CHECK(cond) do { if (!(cond)) { \
  fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* A listening TCP socket on 127.0.0.1, port picked by the kernel; *a gets its
 * address (the harnesses that play a peer: fuzz_response, fuzz_redis). */
static inline int loopback_listener(struct sockaddr_in *a) {
  socklen_t len = sizeof *a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)a, sizeof *a) == 0);
  CHECK(listen(fd, 4) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)a, &len) == 0);
  return fd;
}

#endif

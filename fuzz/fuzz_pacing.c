/* Fuzz the shared pacing file (csrc/ratelimit.c): whatever bytes another process
 * or a bad disk left in it, opening it and reserving or pausing slots never
 * crashes, never answers outside its documented results, never hands out a wait
 * beyond CR_RL_MAX_AHEAD_NS, and a file it did not create with a valid header is
 * never written. Input (fuzz/README.md): byte 0 = flags (bit 0: prefix a valid
 * header with capacity byte 1 % 64 + 1; bit 1: truncate the file between
 * operations), then fields separated by 0x1f: the file's bytes, then up to 8
 * operations "R<rate byte><wait byte><key>" or "P<pause byte><key>". */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "ratelimit.h"

static char path[64];

static void write_file(const char *p, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    CHECK(w > 0);
    p += w; n -= (size_t)w;
  }
  close(fd);
}

static double rate_of(unsigned char b) {
  switch (b % 8) {
  case 0: return 0.0;
  case 1: return -1.0;
  case 2: return NAN;
  case 3: return INFINITY;
  case 4: return 1e-300;
  default: return (double)(b / 8 + 1);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  field f[MAX_FIELDS];
  char err[256];
  size_t nf, i;
  if (size < 2) return 0;
  if (!path[0]) snprintf(path, sizeof path, "/dev/shm/cr-fuzz-pacing-%d", (int)getpid());
  unsigned flags = data[0];
  nf = split_fields(data + 2, size - 2, f, 10);
  /* the file as found */
  size_t hdr = (flags & 1) ? 16 : 0;
  size_t flen = hdr + f[0].n;
  char *content = malloc(flen ? flen : 1);
  CHECK(content != NULL);
  if (hdr) {
    uint64_t cap = (uint64_t)(data[1] % 64 + 1);
    memcpy(content, "CRRL0001", 8);
    memcpy(content + 8, &cap, 8);
  }
  memcpy(content + hdr, f[0].p, f[0].n);
  write_file(content, flen);
  struct stat before;
  CHECK(stat(path, &before) == 0);
  int valid = flen >= 16 && memcmp(content, "CRRL0001", 8) == 0;
  err[0] = 0;
  cr_rl *rl = cr_rl_open_shared(path, 8, err, sizeof err);
  if (!rl) {
    CHECK(err[0] != 0);
  } else {
    int64_t now = cr_rl_now();
    for (i = 1; i < nf && i < 9; i++) {
      int64_t wait = -1;
      int rc;
      if (f[i].n >= 3 && f[i].p[0] == 'R') {
        double rate = rate_of((unsigned char)f[i].p[1]);
        int64_t max_wait = (int64_t)(unsigned char)f[i].p[2] * 100000000;
        rc = cr_rl_reserve(rl, f[i].p + 3, f[i].n - 3, rate, now, max_wait, &wait);
        CHECK(rc == CR_RL_OK || rc == CR_RL_FULL || rc == CR_RL_LATE || rc == CR_RL_DAMAGED || rc == CR_RL_BADRATE);
        if (!(rate > 0)) CHECK(rc == CR_RL_BADRATE || rc == CR_RL_DAMAGED);
        if (rc == CR_RL_OK) CHECK(wait >= 0 && wait <= CR_RL_MAX_AHEAD_NS && wait <= max_wait);
      } else if (f[i].n >= 2 && f[i].p[0] == 'P') {
        rc = cr_rl_pause(rl, f[i].p + 2, f[i].n - 2, now, (int64_t)(unsigned char)f[i].p[1] * 1000000000);
        CHECK(rc == CR_RL_OK || rc == CR_RL_FULL || rc == CR_RL_DAMAGED);
      }
      if ((flags & 2) && i == 2) CHECK(truncate(path, 8) == 0);   /* another process cut it */
      now += 1000000;
    }
    cr_rl_close(rl);
  }
  if (!valid && flen > 0) {
    /* a file with an unknown header is never written */
    struct stat after;
    CHECK(stat(path, &after) == 0);
    if (!(flags & 2)) CHECK(after.st_size == before.st_size);
  }
  free(content);
  unlink(path);
  return 0;
}

/* Fuzz the audit log's file primitives (csrc/fileio.c) on whatever a previous
 * run, another writer or a crash left in the file: an append goes through only
 * onto an empty file or one that ends on a newline (then the file is exactly the
 * old bytes plus the line), and is refused leaving the file untouched otherwise;
 * truncate_tail cuts only when the size is still the expected one and the new
 * size is within it. Input: byte 0 = flags (bit 0: no file at all), then fields
 * separated by 0x1f: the file's bytes, the line to append, then "T<expect
 * delta><size byte>" operations for truncate_tail. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "fileio.h"

static char path[64];

static size_t read_all(char *buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  size_t n = 0;
  if (fd < 0) return 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r <= 0) break;
    n += (size_t)r;
    if (n == cap) break;
  }
  close(fd);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  field f[MAX_FIELDS];
  char err[256];
  static char got[65536];
  size_t nf, i;
  if (size < 1 || size > 16384) return 0;
  if (!path[0]) snprintf(path, sizeof path, "/dev/shm/cr-fuzz-fileio-%d", (int)getpid());
  unlink(path);
  nf = split_fields(data + 1, size - 1, f, 12);
  int exists = !(data[0] & 1);
  if (exists) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (f[0].n) CHECK(write(fd, f[0].p, f[0].n) == (ssize_t)f[0].n);
    close(fd);
  }
  size_t old = exists ? f[0].n : 0;
  const char *line = nf > 1 ? f[1].p : "";
  size_t llen = nf > 1 ? f[1].n : 0;
  err[0] = 0;
  int rc = cr_append_durable(path, line, llen, err, sizeof err);
  size_t n = read_all(got, sizeof got);
  int may = old == 0 || f[0].p[old - 1] == '\n';
  if (rc == 0) {
    CHECK(may);
    CHECK(n == old + llen);
    CHECK(memcmp(got, f[0].p, old) == 0 && memcmp(got + old, line, llen) == 0);
  } else {
    CHECK(err[0] != 0);
    CHECK(!may || llen == 0);   /* refused only for a partial last line (or nothing to write) */
    CHECK(n == old && (old == 0 || memcmp(got, f[0].p, old) == 0));
  }
  for (i = 2; i < nf; i++) {
    if (f[i].n < 3 || f[i].p[0] != 'T') continue;
    struct stat st;
    if (stat(path, &st) != 0) break;
    long long cur = (long long)st.st_size;
    long long expect = cur + ((signed char)f[i].p[1] % 3);   /* right, or off by one either way */
    long long to = (unsigned char)f[i].p[2];
    err[0] = 0;
    rc = cr_truncate_tail(path, expect, to, err, sizeof err);
    CHECK(stat(path, &st) == 0);
    if (rc == 0) {
      CHECK(expect == cur && to <= cur && (long long)st.st_size == to);
    } else {
      CHECK(err[0] != 0 && (long long)st.st_size == cur);
      CHECK(expect != cur || to > cur);
    }
  }
  unlink(path);
  return 0;
}

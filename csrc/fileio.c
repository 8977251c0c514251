/* Durable appends (audit log). A renewal's intent must be on disk before the
 * request leaves, so a crash right after sending still leaves a trace: that is
 * what lets a re-run skip it instead of paying twice. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *what, const char *path, int e) {
  snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
  return -1;
}

static void sync_dir(const char *path) {
  char *copy = strdup(path);
  if (!copy) return;
  int d = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) { (void)fsync(d); close(d); }
  free(copy);
}

int cr_append_durable(const char *path, const char *buf, size_t len, char *err, size_t errlen) {
  int created = 0;
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) created = 1;
    else if (errno == EEXIST) fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) return fail(err, errlen, "cannot open", path, errno);
  /* One write() on O_APPEND: concurrent appenders never interleave a line. */
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno; close(fd);
      return fail(err, errlen, "cannot write", path, e);
    }
    off += (size_t)n;
  }
  if (fsync(fd) != 0) { int e = errno; close(fd); return fail(err, errlen, "cannot fsync", path, e); }
  if (close(fd) != 0) return fail(err, errlen, "cannot close", path, errno);
  if (created) sync_dir(path);
  return 0;
}

int cr_lock_path(const char *path, int *busy, char *err, size_t errlen) {
  *busy = 0;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) sync_dir(path);
  }
  if (fd < 0) return fail(err, errlen, "cannot open", path, errno);
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK) {
      *busy = 1;
      snprintf(err, errlen, "%s is locked by another running process", path);
      return -1;
    }
    return fail(err, errlen, "cannot lock", path, e);
  }
  return fd;
}

int cr_isatty(int fd) {
  return isatty(fd) == 1;
}

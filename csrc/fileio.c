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

/* Undo a failed append: cut our own bytes [end - written, end) off again, so
 * no later line is glued to a fragment (the next reader would see one damaged
 * line, or worse, a valid-looking mix). With O_APPEND the offset after write()
 * is the end of what we wrote; if another process appended after that, cutting
 * would destroy its line too, so we leave the file alone and say so. */
static void rollback(int fd, size_t written, char *err, size_t errlen) {
  size_t used = strlen(err);
  if (written == 0 || used + 1 >= errlen) return;
  off_t end = lseek(fd, 0, SEEK_CUR);
  struct stat st;
  const char *what;
  if (end < (off_t)written || fstat(fd, &st) != 0) what = "; could not check the partial line";
  else if (st.st_size != end) what = "; another process appended after the partial line: not cut off";
  else if (ftruncate(fd, end - (off_t)written) != 0) what = "; could not cut the partial line off";
  else { (void)fsync(fd); what = "; the partial line was cut off"; }
  snprintf(err + used, errlen - used, "%s", what);
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
  /* Never glue a line to someone else's unfinished one: the file must end on
   * a newline (or be empty) before we add to it. */
  struct stat st;
  if (fstat(fd, &st) != 0) { int e = errno; close(fd); return fail(err, errlen, "cannot stat", path, e); }
  if (st.st_size > 0) {
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    char last = 0;
    ssize_t r = rfd >= 0 ? pread(rfd, &last, 1, st.st_size - 1) : -1;
    int e = errno;
    if (rfd >= 0) close(rfd);
    if (r != 1) { close(fd); return fail(err, errlen, "cannot read the end of", path, r < 0 ? e : EIO); }
    if (last != '\n') {
      close(fd);
      snprintf(err, errlen, "%s ends in a partial line (not written by this run): nothing appended", path);
      return -1;
    }
  }
  /* One write() on O_APPEND: concurrent appenders never interleave a line. A
   * short write (disk full, quota) is a failure, never continued: the rest
   * could land after another process's line. */
  ssize_t n;
  do n = write(fd, buf, len); while (n < 0 && errno == EINTR);
  if (n < 0) { int e = errno; close(fd); return fail(err, errlen, "cannot write", path, e); }
  if ((size_t)n < len) {
    snprintf(err, errlen, "short write to %s (%zd of %zu bytes: disk full or over quota?)", path, n, len);
    rollback(fd, (size_t)n, err, errlen);
    close(fd);
    return -1;
  }
  if (fsync(fd) != 0) {
    /* Not durable: take the line back, so the log never claims an intent
     * that the caller will not act on. */
    fail(err, errlen, "cannot fsync", path, errno);
    rollback(fd, len, err, errlen);
    close(fd);
    return -1;
  }
  /* The data is durable once fsync succeeded; a close() error adds nothing. */
  (void)close(fd);
  if (created) sync_dir(path);
  return 0;
}

int cr_truncate_tail(const char *path, long long expect, long long size, char *err, size_t errlen) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(err, errlen, "cannot open", path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) { int e = errno; close(fd); return fail(err, errlen, "cannot stat", path, e); }
  if ((long long)st.st_size != expect || size < 0 || size > expect) {
    close(fd);
    snprintf(err, errlen, "%s changed while it was being read (another writer?): nothing cut off", path);
    return -1;
  }
  if (ftruncate(fd, (off_t)size) != 0) { int e = errno; close(fd); return fail(err, errlen, "cannot truncate", path, e); }
  if (fsync(fd) != 0) { int e = errno; close(fd); return fail(err, errlen, "cannot fsync", path, e); }
  (void)close(fd);
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

const char *cr_file_kind(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) return "missing";
    fail(err, errlen, "cannot stat", path, errno);
    return NULL;
  }
  if (S_ISREG(st.st_mode)) return "file";
  if (S_ISDIR(st.st_mode)) return "directory";
  if (S_ISFIFO(st.st_mode)) return "fifo";
  return "other";
}

int cr_isatty(int fd) {
  return isatty(fd) == 1;
}

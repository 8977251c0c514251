/* Durable appends for the audit log: no Lua here. */
#ifndef CR_FILEIO_H
#define CR_FILEIO_H

#include <stddef.h>

/* Append buf to path (created 0600 when missing) with one write(2) on an
 * O_APPEND descriptor, then fsync(2) it; a newly created file also gets its
 * directory fsynced so the entry survives a power cut. Refuses (appends
 * nothing) when the file does not end on a newline. A short or failed write or
 * fsync is a failure; what it wrote is cut off again (ftruncate + fsync)
 * unless another process appended after it. Returns 0, or -1 with a message
 * in err. */
int cr_append_durable(const char *path, const char *buf, size_t len, char *err, size_t errlen);

/* Cut path back to size bytes (then fsync), only if it is still expect
 * bytes long: the caller read it whole and holds its lock. 0, or -1 + err. */
int cr_truncate_tail(const char *path, long long expect, long long size, char *err, size_t errlen);

/* Take an exclusive advisory lock (flock) on path, creating it 0600 when
 * missing, without waiting. Returns the locked descriptor (close it to
 * release; the kernel releases it when the process dies), or -1 with a message
 * in err; *busy is set when another process holds the lock. */
int cr_lock_path(const char *path, int *busy, char *err, size_t errlen);

/* 1 when fd is a terminal. */
int cr_isatty(int fd);
/* What is at path (following links): "file", "missing", "directory", "fifo", "other"; NULL + err on failure. */
const char *cr_file_kind(const char *path, char *err, size_t errlen);

#endif

/* GCRA pacing over a fixed table of atomic buckets; see ratelimit.h.
 * Needs C11 <stdatomic.h> (build with -std=c11 or later). */
#include "ratelimit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  _Atomic uint64_t key_hash;   /* 0 = empty; claimed once, never released */
  _Atomic int64_t tat;         /* theoretical arrival time, CLOCK_MONOTONIC ns */
} bucket;

/* File layout (little-endian on every platform this builds for): this header,
 * then `capacity` buckets of { key hash (FNV-1a 64), TAT (CLOCK_MONOTONIC ns) }. */
typedef struct { uint64_t magic, capacity; } file_hdr;

struct cr_rl {
  bucket *b;
  size_t cap;
  void *map;        /* NULL for the process table */
  size_t maplen;
  int fd;           /* -1 for the process table; kept open to fstat before each access */
};

#define PROC_CAP 4096
#define MAX_CAP ((size_t)1 << 24)   /* 256 MiB of buckets; larger is a corrupt header */
#define LOCK_TRIES 2000             /* x 1 ms: how long we wait on a foreign creation lock */
static const char MAGIC[8] = {'C', 'R', 'R', 'L', '0', '0', '0', '1'};

/* Static storage is zero-initialised, and zero is a valid atomic state (C11 7.17.2),
 * so the process table needs no run-time init and no once-guard. */
static bucket proc_buckets[PROC_CAP];
static cr_rl proc_table = {proc_buckets, PROC_CAP, NULL, 0, -1};

int64_t cr_rl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

cr_rl *cr_rl_process(void) { return &proc_table; }

static uint64_t magic_u64(void) {
  uint64_t m;
  memcpy(&m, MAGIC, sizeof m);   /* the file starts with the bytes "CRRL0001" */
  return m;
}

static cr_rl *fail(int fd, char *err, size_t errlen, const char *what, int e) {
  if (err && errlen) {
    if (e) snprintf(err, errlen, "%s: %s", what, strerror(e));
    else snprintf(err, errlen, "%s", what);
  }
  if (fd >= 0) close(fd);   /* closing also drops a flock we still hold */
  return NULL;
}

/* The file must be ours and private: another user who can write it could stall
 * or speed up our requests, or make us scribble over a file we were pointed at. */
static const char *unsafe(const struct stat *st) {
  if (!S_ISREG(st->st_mode)) return "not a regular file (refused)";
  if (st->st_uid != geteuid()) return "not owned by the effective user (refused)";
  if (st->st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others (refused; chmod 600)";
  return NULL;
}

static int lock_bounded(int fd) {
  struct timespec ms = {0, 1000000};
  int i;
  for (i = 0; i < LOCK_TRIES; i++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno != EWOULDBLOCK && errno != EINTR) return errno;
    nanosleep(&ms, NULL);
  }
  return EWOULDBLOCK;
}

cr_rl *cr_rl_open_shared(const char *path, size_t capacity, char *err, size_t errlen) {
  file_hdr h = {0, 0};
  struct stat st;
  const char *why;
  size_t cap, len;
  void *map;
  cr_rl *rl;
  int fd, e;

  if (capacity == 0 || capacity > MAX_CAP) return fail(-1, err, errlen, "rate-limit capacity out of range", 0);
  /* Look before opening: opening a device or FIFO can itself have effects. */
  if (lstat(path, &st) == 0) {
    if (S_ISLNK(st.st_mode)) return fail(-1, err, errlen, "is a symlink (refused)", 0);
    if ((why = unsafe(&st))) return fail(-1, err, errlen, why, 0);
  }
  /* O_NOFOLLOW/O_NONBLOCK/O_NOCTTY close the race with a swap after the lstat;
   * fstat below is what decides. */
  fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600);
  if (fd < 0) {
    e = errno;
    if (e == ELOOP) return fail(-1, err, errlen, "is a symlink (refused)", 0);
    if (e == EISDIR || e == ENXIO) return fail(-1, err, errlen, "not a regular file (refused)", 0);
    return fail(-1, err, errlen, path, e);
  }
  if (fstat(fd, &st) != 0) return fail(fd, err, errlen, "fstat", errno);
  if ((why = unsafe(&st))) return fail(fd, err, errlen, why, 0);
  /* Serialise initialisation only: two processes creating the file at once agree
   * on one header. Held for a few syscalls and released below, never for the life
   * of the mapping (a mapping keeps the open file description, and with it a
   * flock, alive: that used to make every other opener wait for us to exit). */
  if ((e = lock_bounded(fd)) != 0)
    return fail(fd, err, errlen, e == EWOULDBLOCK ? "locked by another process for over 2 s" : "flock", e);
  if (fstat(fd, &st) != 0) return fail(fd, err, errlen, "fstat", errno);
  if (st.st_size == 0) {                       /* new, or an empty file its owner made for us */
    h.magic = magic_u64();
    h.capacity = capacity;
    /* Header first: a creator that dies here leaves a short file that is still
     * recognisably ours, which the next opener grows. */
    if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) return fail(fd, err, errlen, "write", errno);
  } else if ((size_t)st.st_size < sizeof h || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
             h.magic != magic_u64()) {
    return fail(fd, err, errlen, "not a cloudrenew rate-limit file (refused; remove it or name another)", 0);
  } else if (h.capacity == 0 || h.capacity > MAX_CAP) {
    return fail(fd, err, errlen, "corrupt rate-limit file header", 0);
  }
  cap = (size_t)h.capacity;                     /* the file's capacity wins over ours */
  len = sizeof(file_hdr) + cap * sizeof(bucket);
  /* Only ever grow a file whose header we just wrote or checked: shrinking one
   * others have mapped would fault them. Zero fill is a valid empty table. */
  if ((uint64_t)st.st_size < len && ftruncate(fd, (off_t)len) != 0)
    return fail(fd, err, errlen, "ftruncate", errno);
  flock(fd, LOCK_UN);
  map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return fail(fd, err, errlen, "mmap", errno);

  rl = malloc(sizeof *rl);
  if (!rl) { munmap(map, len); return fail(fd, err, errlen, "out of memory", 0); }
  rl->b = (bucket *)((char *)map + sizeof(file_hdr));
  rl->cap = cap;
  rl->map = map;
  rl->maplen = len;
  rl->fd = fd;
  /* Cross-process atomics only work if they are real lock-free instructions;
   * a libatomic lock would be private to each process. */
  if (!atomic_is_lock_free(&rl->b[0].key_hash) || !atomic_is_lock_free(&rl->b[0].tat)) {
    cr_rl_close(rl);
    return fail(-1, err, errlen, "64-bit atomics are not lock-free on this platform", 0);
  }
  return rl;
}

void cr_rl_close(cr_rl *rl) {
  if (!rl || rl == &proc_table) return;
  munmap(rl->map, rl->maplen);
  close(rl->fd);
  free(rl);
}

/* Touching a mapped page past the end of the file raises SIGBUS, so before each
 * access check that the file still covers the mapping and still carries our
 * header. What remains is the window between this fstat and the access (a few
 * instructions), which no portable check closes. */
static int intact(const cr_rl *rl) {
  struct stat st;
  file_hdr h;
  if (rl->fd < 0) return 1;
  if (fstat(rl->fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size < rl->maplen) return 0;
  memcpy(&h, rl->map, sizeof h);
  return h.magic == magic_u64() && h.capacity == rl->cap;
}

static bucket *find(cr_rl *rl, const char *key, size_t keylen) {
  uint64_t h = 14695981039346656037ULL;   /* 64-bit FNV-1a */
  size_t i, n;
  for (i = 0; i < keylen; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
  if (h == 0) h = 1;                      /* 0 marks an empty slot */
  /* Open addressing, linear probing. Equal 64-bit hashes share a bucket (accepted). */
  for (i = (size_t)(h % rl->cap), n = 0; n < rl->cap; n++, i = (i + 1 == rl->cap) ? 0 : i + 1) {
    bucket *b = &rl->b[i];
    uint64_t cur = atomic_load(&b->key_hash);
    if (cur == 0 && atomic_compare_exchange_strong(&b->key_hash, &cur, h)) return b;
    if (cur == h) return b;   /* ours, or a racer claimed it for the same key */
  }
  return NULL;
}

static int64_t sat_add(int64_t a, int64_t b) {   /* b >= 0 */
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t clamp_ahead(int64_t ns) {
  return ns < 0 ? 0 : ns > CR_RL_MAX_AHEAD_NS ? CR_RL_MAX_AHEAD_NS : ns;
}

int cr_rl_reserve(cr_rl *rl, const char *key, size_t keylen, double rate, int64_t now,
                  int64_t max_wait_ns, int64_t *wait_ns) {
  double q;
  int64_t iv, cur, slot;
  bucket *b;

  *wait_ns = 0;
  if (!(rate > 0)) return CR_RL_BADRATE;         /* also rejects NaN */
  q = 1e9 / rate;                                /* interval, rounded up (no libm) */
  if (q >= 4e18) iv = (int64_t)4e18;
  else { iv = (int64_t)q; if ((double)iv < q) iv++; }
  max_wait_ns = clamp_ahead(max_wait_ns);
  if (!intact(rl)) return CR_RL_DAMAGED;
  if (!(b = find(rl, key, keylen))) return CR_RL_FULL;
  cur = atomic_load(&b->tat);
  do {
    /* The TAT is untrusted (another process, a hand edit, a previous boot): one
     * further ahead than any queue we allow counts as idle. cur > now first, so
     * cur - now cannot overflow. */
    slot = (cur > now && cur - now <= CR_RL_MAX_AHEAD_NS + iv) ? cur : now;
    if (slot - now > max_wait_ns) {              /* would wait too long: reserve nothing */
      *wait_ns = slot - now;
      return CR_RL_LATE;
    }
  } while (!atomic_compare_exchange_weak(&b->tat, &cur, sat_add(slot, iv)));
  *wait_ns = slot - now;
  return CR_RL_OK;
}

int cr_rl_pause(cr_rl *rl, const char *key, size_t keylen, int64_t now, int64_t pause_ns) {
  int64_t until = sat_add(now, clamp_ahead(pause_ns)), cur;
  bucket *b;
  if (!intact(rl)) return CR_RL_DAMAGED;
  if (!(b = find(rl, key, keylen))) return CR_RL_FULL;
  cur = atomic_load(&b->tat);
  /* Never shortens a hold: a TAT past `until` that reserve would call stale is
   * left for reserve to reset. */
  while (cur < until && !atomic_compare_exchange_weak(&b->tat, &cur, until)) {}
  return CR_RL_OK;
}

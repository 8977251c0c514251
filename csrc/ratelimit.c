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

typedef struct { uint64_t magic, capacity; } file_hdr;   /* then capacity buckets */

struct cr_rl {
  bucket *b;
  size_t cap;
  void *map;        /* NULL for the process table */
  size_t maplen;
};

#define PROC_CAP 4096
#define MAX_CAP ((size_t)1 << 24)   /* 256 MiB of buckets; larger is a corrupt header */
static const char MAGIC[8] = {'C', 'R', 'R', 'L', '0', '0', '0', '1'};

/* Static storage is zero-initialised, and zero is a valid atomic state (C11 7.17.2),
 * so the process table needs no run-time init and no once-guard. */
static bucket proc_buckets[PROC_CAP];
static cr_rl proc_table = {proc_buckets, PROC_CAP, NULL, 0};

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
  if (fd >= 0) close(fd);   /* closing also drops our flock */
  return NULL;
}

cr_rl *cr_rl_open_shared(const char *path, size_t capacity, char *err, size_t errlen) {
  file_hdr h = {0, 0};
  struct stat st;
  size_t cap, len;
  void *map;
  cr_rl *rl;
  int fd;

  if (capacity == 0 || capacity > MAX_CAP) return fail(-1, err, errlen, "rate-limit capacity out of range", 0);
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(-1, err, errlen, path, errno);
  /* Serialise creation only: every opener takes the lock, so two processes creating
   * the file at once agree on one header. The kernel drops it if we die. */
  while (flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) return fail(fd, err, errlen, "flock", errno);
  if (fstat(fd, &st) != 0) return fail(fd, err, errlen, "fstat", errno);
  if (st.st_size > 0 && pread(fd, &h, sizeof h, 0) < 0) return fail(fd, err, errlen, "read", errno);
  if (h.magic == 0 && h.capacity == 0) {       /* new, or creator died before the header */
    h.magic = magic_u64();
    h.capacity = capacity;
  } else if (h.magic != magic_u64()) {
    return fail(fd, err, errlen, "not a cloudrenew rate-limit file", 0);
  } else if (h.capacity == 0 || h.capacity > MAX_CAP) {
    return fail(fd, err, errlen, "corrupt rate-limit file header", 0);
  }
  cap = (size_t)h.capacity;                     /* the file's capacity wins over ours */
  len = sizeof(file_hdr) + cap * sizeof(bucket);
  /* Only ever grow: shrinking a file others have mapped would SIGBUS them. Zero
   * fill is a valid empty table. Header goes in after the size, under the lock. */
  if ((uint64_t)st.st_size < len && ftruncate(fd, (off_t)len) != 0)
    return fail(fd, err, errlen, "ftruncate", errno);
  if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) return fail(fd, err, errlen, "write", errno);
  map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return fail(fd, err, errlen, "mmap", errno);
  close(fd);   /* the mapping outlives the fd; closing also releases the flock */

  rl = malloc(sizeof *rl);
  if (!rl) { munmap(map, len); return fail(-1, err, errlen, "out of memory", 0); }
  rl->b = (bucket *)((char *)map + sizeof(file_hdr));
  rl->cap = cap;
  rl->map = map;
  rl->maplen = len;
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
  free(rl);
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

/* A shared file keeps CLOCK_MONOTONIC times, which restart at boot: a time more
 * than an hour ahead cannot come from a real queue, only from before a reboot,
 * so such a bucket counts as idle instead of stalling callers for days. */
#define STALE_AHEAD_NS ((int64_t)3600 * 1000000000)

int64_t cr_rl_reserve(cr_rl *rl, const char *key, size_t keylen, double rate, int64_t now) {
  double q;
  int64_t iv, cur, slot;
  bucket *b;

  if (!(rate > 0)) return -1;                    /* also rejects NaN */
  q = 1e9 / rate;                                /* interval, rounded up (no libm) */
  if (q >= 4e18) iv = (int64_t)4e18;
  else { iv = (int64_t)q; if ((double)iv < q) iv++; }
  if (!(b = find(rl, key, keylen))) return -1;
  cur = atomic_load(&b->tat);
  do {
    slot = (cur > now && cur - now < STALE_AHEAD_NS) ? cur : now;
  } while (!atomic_compare_exchange_weak(&b->tat, &cur, sat_add(slot, iv)));
  return slot - now;
}

int cr_rl_pause(cr_rl *rl, const char *key, size_t keylen, int64_t now, int64_t pause_ns) {
  int64_t until = sat_add(now, pause_ns > 0 ? pause_ns : 0), cur;
  bucket *b = find(rl, key, keylen);
  if (!b) return -1;
  cur = atomic_load(&b->tat);
  while ((cur < until || cur - now >= STALE_AHEAD_NS) &&
         !atomic_compare_exchange_weak(&b->tat, &cur, until)) {}
  return 0;
}

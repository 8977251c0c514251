/* Request pacing: GCRA with zero burst tolerance. Each bucket holds one atomic
 * "theoretical arrival time" (TAT); a request reserves the slot max(TAT, now)
 * and advances TAT by interval = 1/rate. Requests are therefore spaced at least
 * 1/rate apart, so no sliding 1-second window ever carries more than `rate` of
 * them (a classic token bucket that bursts `rate` then refills can carry 2x).
 * That bound is on reserved slots; real sends lag by sleep/scheduling jitter, so
 * two can land < 1/rate apart: pace a little below the server's hard limit.
 * Lock-free (one CAS), so a process that dies mid-call wedges nobody. No Lua here. */
#ifndef CR_RATELIMIT_H
#define CR_RATELIMIT_H

#include <stdint.h>
#include <stddef.h>

typedef struct cr_rl cr_rl;   /* a table of buckets: process-local or a shared file */

/* Results of cr_rl_reserve / cr_rl_pause. */
#define CR_RL_OK       0
#define CR_RL_FULL    (-1)   /* no free bucket: fall back to the process table */
#define CR_RL_LATE    (-2)   /* the slot is further away than max_wait: nothing reserved */
#define CR_RL_DAMAGED (-3)   /* the shared file shrank or was rewritten under us: not touched */
#define CR_RL_BADRATE (-4)   /* rate is not > 0 (NaN included) */

/* No wait this module hands out or holds a bucket for exceeds this. A TAT read
 * from a bucket further ahead than MAX_AHEAD + one interval cannot come from a
 * real queue (reservations and pauses stay inside it): it is from before a
 * reboot (CLOCK_MONOTONIC restarts) or damaged, and the bucket counts as idle. */
#define CR_RL_MAX_AHEAD_NS ((int64_t)600 * 1000000000)

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC: one clock for every process on the host). */
int64_t cr_rl_now(void);

/* The process-wide table (created on first use; never freed). */
cr_rl *cr_rl_process(void);

/* Open (creating if needed) a host-wide table backed by an mmap'ed file, shared by
 * every process that opens the same path. Returns NULL and fills err on failure.
 * The file must be a regular file (symlinks are not followed), owned by the
 * effective user and not writable by group or others. A new or empty file is
 * initialised; any other file must carry a valid header before it is grown, and is
 * otherwise never written. The creation lock is released before returning, so
 * openers never wait on each other beyond a few microseconds (at most ~2 s on a
 * foreign lock holder, then an error). The fd stays open (close-on-exec) so every
 * access can first check that the file was not truncated under the mapping.
 * capacity: number of buckets (e.g. 4096, 1..2^24) used when creating the file;
 * an existing file keeps its own. Keys are never evicted. TATs are CLOCK_MONOTONIC,
 * which restarts at boot: keep the file somewhere cleared at boot (tmpfs). */
cr_rl *cr_rl_open_shared(const char *path, size_t capacity, char *err, size_t errlen);
void   cr_rl_close(cr_rl *rl);   /* no-op for the process table */

/* Reserve the next send slot for `key` at `rate` requests/second. On CR_RL_OK,
 * *wait_ns is the time to wait from `now` before sending (0 = now). When the slot
 * is more than max_wait_ns away (clamped to [0, CR_RL_MAX_AHEAD_NS]) nothing is
 * reserved, *wait_ns tells how long it would have been, and CR_RL_LATE is returned.
 * Other results: CR_RL_FULL, CR_RL_DAMAGED, CR_RL_BADRATE. */
int cr_rl_reserve(cr_rl *rl, const char *key, size_t keylen, double rate, int64_t now,
                  int64_t max_wait_ns, int64_t *wait_ns);

/* Hold the bucket closed until now + pause_ns (after the cloud throttled us;
 * pause_ns clamped to [0, CR_RL_MAX_AHEAD_NS]); never shortens an existing hold.
 * Returns CR_RL_OK, CR_RL_FULL or CR_RL_DAMAGED. */
int cr_rl_pause(cr_rl *rl, const char *key, size_t keylen, int64_t now, int64_t pause_ns);

#endif

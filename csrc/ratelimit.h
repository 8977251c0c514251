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

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC: one clock for every process on the host). */
int64_t cr_rl_now(void);

/* The process-wide table (created on first use; never freed). */
cr_rl *cr_rl_process(void);

/* Open (creating if needed) a host-wide table backed by an mmap'ed file, shared by
 * every process that opens the same path. Returns NULL and fills err on failure.
 * capacity: number of buckets (e.g. 4096, 1..2^24) used when creating the file;
 * an existing file keeps its own. Keys are never evicted. TATs are CLOCK_MONOTONIC,
 * which restarts at boot: keep the file somewhere cleared at boot (tmpfs). */
cr_rl *cr_rl_open_shared(const char *path, size_t capacity, char *err, size_t errlen);
void   cr_rl_close(cr_rl *rl);   /* no-op for the process table */

/* Reserve the next send slot for `key` at `rate` requests/second (rate > 0).
 * Returns the nanoseconds to wait from `now` before sending (0 = send now), or
 * -1 when the table is full (caller should then fall back to the process table)
 * or rate is not > 0 (NaN included; the binding should reject those first). */
int64_t cr_rl_reserve(cr_rl *rl, const char *key, size_t keylen, double rate, int64_t now);

/* Hold the bucket closed until now + pause_ns (after the cloud throttled us); never
 * shortens an existing hold. Returns 0, or -1 when the table is full. */
int cr_rl_pause(cr_rl *rl, const char *key, size_t keylen, int64_t now, int64_t pause_ns);

#endif

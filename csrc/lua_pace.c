/* core.limiter (ratelimit.c's token buckets) and the process primitives pacing runs on (clocks, sleep, getpid, random_hex): apart from the wire and the files. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "lua_util.h"
#include "ratelimit.h"

#define RL_MT      "cloudrenew.core.limiter"

/* ---- pacing -------------------------------------------------------------- */

typedef struct { cr_rl *rl; int shared; } l_rl;

static l_rl *check_rl(lua_State *L) {
  l_rl *r = luaL_checkudata(L, 1, RL_MT);
  if (!r->rl) luaL_error(L, "cloudrenew.core: limiter is closed");
  return r;
}

static int rl_close(lua_State *L) {
  l_rl *r = luaL_checkudata(L, 1, RL_MT);
  if (r->rl && r->shared) cr_rl_close(r->rl);
  r->rl = NULL;
  return 0;
}

static l_rl *new_rl(lua_State *L) {
  l_rl *r = lua_newuserdata(L, sizeof *r);
  r->rl = NULL; r->shared = 0;
  luaL_getmetatable(L, RL_MT);
  lua_setmetatable(L, -2);
  return r;
}

/* core.limiter() -> the process-wide table; core.limiter(path) -> host-wide file. */
static int l_limiter(lua_State *L) {
  const char *path = luaL_optstring(L, 1, NULL);
  l_rl *r = new_rl(L);
  char err[256];
  if (!path) { r->rl = cr_rl_process(); return 1; }
  r->rl = cr_rl_open_shared(path, 4096, err, sizeof err);
  if (!r->rl) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  r->shared = 1;
  return 1;
}

/* Seconds (untrusted double: NaN, negative, 1e308) -> ns in [0, CR_RL_MAX_AHEAD_NS],
 * clamped before the conversion so it is never undefined. */
static int64_t rl_secs_ns(double secs) {
  if (!(secs > 0)) return 0;
  if (secs >= (double)CR_RL_MAX_AHEAD_NS / 1e9) return CR_RL_MAX_AHEAD_NS;
  return (int64_t)(secs * 1e9);
}

static int rl_failure(lua_State *L, int rc) {
  lua_pushnil(L);
  lua_pushstring(L, rc == CR_RL_FULL ? "full" : rc == CR_RL_LATE ? "late" : "damaged");
  return 2;
}

/* limiter:reserve(key, rate[, max_wait]) -> seconds to wait, or nil, reason[, would_wait]:
 * "full" (table full), "late" (the slot is more than max_wait seconds away; nothing
 * was reserved; would_wait says how far), "damaged" (the shared file shrank or was
 * rewritten). max_wait defaults to (and is capped at) CR_RL_MAX_AHEAD_NS. */
static int rl_reserve(lua_State *L) {
  l_rl *r = check_rl(L);
  size_t kl; const char *k = luaL_checklstring(L, 2, &kl);
  double rate = luaL_checknumber(L, 3);
  double max_wait = luaL_optnumber(L, 4, (double)CR_RL_MAX_AHEAD_NS / 1e9);
  int64_t w = 0;
  int rc;
  luaL_argcheck(L, rate > 0, 3, "rate must be > 0");
  rc = cr_rl_reserve(r->rl, k, kl, rate, cr_rl_now(), rl_secs_ns(max_wait), &w);
  if (rc != CR_RL_OK) {
    rl_failure(L, rc);
    if (rc != CR_RL_LATE) return 2;
    lua_pushnumber(L, (lua_Number)w / 1e9);
    return 3;
  }
  lua_pushnumber(L, (lua_Number)w / 1e9);
  return 1;
}

/* limiter:pause(key, seconds) -> true, or nil, reason: hold the bucket closed
 * (after a throttle) for at most CR_RL_MAX_AHEAD_NS. */
static int rl_pause(lua_State *L) {
  l_rl *r = check_rl(L);
  size_t kl; const char *k = luaL_checklstring(L, 2, &kl);
  double secs = luaL_checknumber(L, 3);
  int rc = cr_rl_pause(r->rl, k, kl, cr_rl_now(), rl_secs_ns(secs));
  if (rc != CR_RL_OK) return rl_failure(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- clocks, sleep, randomness ----------------------------------------- */

static int l_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

/* core.getpid(): a client compares it with its creator's to notice a fork
 * (nginx's master -> workers) and stop sharing inherited connections. */
static int l_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static int l_time(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

#define MAX_SLEEP_S 86400.0

static int l_sleep(lua_State *L) {
  double s = lua_type(L, 1) == LUA_TNUMBER ? (double)lua_tonumber(L, 1) : 0;
  struct timespec ts;
  if (!(s > 0)) return 0;                   /* also NaN */
  if (s > MAX_SLEEP_S) s = MAX_SLEEP_S;     /* inf, 1e300: no wait outlives the longest deadline */
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  return 0;
}

static int l_random_hex(lua_State *L) {
  int n = (int)luaL_checkinteger(L, 1), i;
  unsigned char buf[64]; char hex[129];
  luaL_argcheck(L, n > 0 && n <= 64, 1, "1..64 bytes");
  if (RAND_bytes(buf, n) != 1) return luaL_error(L, "cloudrenew.core: RAND_bytes failed");
  for (i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", buf[i]);
  lua_pushlstring(L, hex, (size_t)n * 2);
  return 1;
}

static const luaL_Reg rl_methods[] = {
  {"reserve", rl_reserve}, {"pause", rl_pause}, {"close", rl_close}, {NULL, NULL}
};

static const luaL_Reg pace_funcs[] = {
  {"limiter", l_limiter}, {"monotonic", l_monotonic}, {"time", l_time}, {"getpid", l_getpid},
  {"sleep", l_sleep}, {"random_hex", l_random_hex}, {NULL, NULL}
};

void cr_open_pace(lua_State *L) {
  cr_new_class(L, RL_MT, rl_close, rl_methods, NULL);
  cr_setfuncs(L, pace_funcs, 0);
}

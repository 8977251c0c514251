/* What every lua_*.c binding shares: the argument readers, the userdata class helper, the compat shims. */
#ifndef CR_LUA_UTIL_H
#define CR_LUA_UTIL_H

/* Only the lua_*.c files know Lua. Each reads its arguments into C structs
 * first, then sign.c / http.c / ratelimit.c / fileio.c / redis.c run with no
 * Lua call in between, so no Lua error can unwind through an OpenSSL, libcurl
 * or hiredis frame. Every C allocation is owned by a userdata with __gc, so a
 * raised error cannot leak it. Symbols shared between the binding files are
 * named cr_* and declared here (or in lua_sign.h), never under a Lua or libcurl name. */

#include <stddef.h>

#include "compat.h"

/* A userdata class: metatable `name` with __gc (and __close on 5.4) = release,
 * methods as __index, optional __tostring. Leaves the stack as it found it. */
void cr_new_class(lua_State *L, const char *name, lua_CFunction release,
                  const luaL_Reg *methods, lua_CFunction tostring);

/* Argument readers never raise: a bad field records the first problem in *e and
 * reads as absent, so a binding answers nil, message. Whatever Lua hands over,
 * no Lua error starts here, and a C string never silently loses a tail to a NUL. */
typedef struct { char msg[160]; } rd_err;

void cr_rd_fail(rd_err *e, const char *what, const char *k);
int cr_rd_push(lua_State *L, const rd_err *e);

/* With len == NULL the consumer takes a C string, so an embedded NUL is refused. */
const char *cr_field_str(lua_State *L, int t, const char *k, size_t *len, int required, rd_err *e);
double cr_field_num(lua_State *L, int t, const char *k, double dflt, rd_err *e);

/* lo <= v <= hi, false for NaN: the test every double passes before an integer
 * cast, since converting a value the target type cannot hold is undefined. */
static inline int cr_in_range(double v, double lo, double hi) { return v >= lo && v <= hi; }

/* The module's pieces. Each sets its functions on the module table on top of
 * the stack (registering its metatables first) and leaves the stack as it found it. */
void cr_open_sign(lua_State *L);      /* lua_sign.c: hashes, uri_encode, sign_key_derivations */
void cr_open_signers(lua_State *L);   /* lua_sign.c: tc3_sign, volc_sign, sign_tc3, sign_volc, ... */
void cr_open_http(lua_State *L);      /* lua_http.c: http, multi */
void cr_open_pace(lua_State *L);      /* lua_pace.c: limiter, clocks, sleep, random_hex */
void cr_open_fileio(lua_State *L);    /* lua_fileio.c: append_durable, truncate_tail, lock, isatty */
void cr_open_redis(lua_State *L);     /* lua_redis.c: redis */
struct redisReply;
/* lua_redis.c: one hiredis reply as a Lua value (what conn:command returns). */
void cr_redis_push_reply(lua_State *L, const struct redisReply *x);

#endif

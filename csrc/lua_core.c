/* cloudrenew.core's entry point: builds the module table from the per-concern binding files (lua_util.h lists them). */
#include "http.h"
#include "lua_util.h"

#ifndef CLOUDRENEW_VERSION
#define CLOUDRENEW_VERSION "scm"
#endif

/* The fields go in in the order they always did: sign, http, pace and fileio
 * functions, the signers, version, curl_version, redis. */
int luaopen_cloudrenew_core(lua_State *L) {
  if (cr_http_global_init() != 0) return luaL_error(L, "cloudrenew.core: curl_global_init failed");
  lua_newtable(L);
  cr_open_sign(L);      /* sha256_hex, hmac_sha256_hex, uri_encode, sign_key_derivations, find_control */
  cr_open_http(L);      /* http, multi */
  cr_open_pace(L);      /* limiter, monotonic, time, getpid, sleep, random_hex */
  cr_open_fileio(L);    /* append_durable, truncate_tail, lock, isatty */
  cr_open_signers(L);   /* tc3_sign, volc_sign, sign_tc3, sign_volc, sign_on_error, sign_entry */
  lua_pushstring(L, CLOUDRENEW_VERSION); lua_setfield(L, -2, "version");
  /* curl_version_info, not curl_version(): the latter initialises libldap, whose
   * one-time allocations are never freed and would drown real leaks in valgrind. */
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version); lua_setfield(L, -2, "curl_version");
  cr_open_redis(L);     /* redis */
  return 1;
}

/* core.append_durable, truncate_tail, lock and isatty over fileio.c: the ledger's files, separate from pacing. */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "fileio.h"
#include "lua_util.h"

/* core.append_durable(path, data) -> true | nil, err: one O_APPEND write + fsync. */
static int l_append_durable(lua_State *L) {
  size_t len;
  const char *path = luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  char err[512];
  if (cr_append_durable(path, data, len, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.truncate_tail(path, expect, size) -> true | nil, err: cut a torn last
 * line off (the caller holds the log's lock and read expect bytes). */
static int l_truncate_tail(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  long long expect = (long long)luaL_checknumber(L, 2);
  long long size = (long long)luaL_checknumber(L, 3);
  char err[512];
  if (cr_truncate_tail(path, expect, size, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.lock(path) -> lock | nil, err, busy. The lock lives as long as the
 * userdata (release(), __close or __gc), or the process. */
#define LOCK_MT "cloudrenew.lock"

static int lock_release(lua_State *L) {
  int *fd = (int *)luaL_checkudata(L, 1, LOCK_MT);
  if (*fd >= 0) { close(*fd); *fd = -1; }
  return 0;
}

static int l_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char err[512];
  int busy = 0;
  int *ud = (int *)lua_newuserdata(L, sizeof(int));
  *ud = -1;
  luaL_getmetatable(L, LOCK_MT);
  lua_setmetatable(L, -2);
  *ud = cr_lock_path(path, &busy, err, sizeof err);
  if (*ud < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    lua_pushboolean(L, busy);
    return 3;
  }
  return 1;
}

static int l_isatty(lua_State *L) {
  lua_pushboolean(L, cr_isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* core.file_kind(path) -> "file" | "missing" | "directory" | "fifo" | "other" | nil, err */
static int l_file_kind(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char err[512];
  const char *k = cr_file_kind(path, err, sizeof err);
  if (!k) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  lua_pushstring(L, k);
  return 1;
}

static const luaL_Reg fileio_funcs[] = {
  {"append_durable", l_append_durable}, {"truncate_tail", l_truncate_tail}, {"lock", l_lock},
  {"isatty", l_isatty}, {"file_kind", l_file_kind}, {NULL, NULL}
};

void cr_open_fileio(lua_State *L) {
  static const luaL_Reg lock_methods[] = { {"release", lock_release}, {NULL, NULL} };
  cr_new_class(L, LOCK_MT, lock_release, lock_methods, NULL);
  cr_setfuncs(L, fileio_funcs, 0);
}

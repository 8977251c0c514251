/* The helpers lua_util.h declares: shared by every binding file, so defined once here. */
#include <stdio.h>
#include <string.h>

#include "lua_util.h"

/* A userdata class: metatable `name` with __gc (and __close on 5.4) = release,
 * methods as __index, optional __tostring. Leaves the stack as it found it. */
void cr_new_class(lua_State *L, const char *name, lua_CFunction release,
                  const luaL_Reg *methods, lua_CFunction tostring) {
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, release); lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
  lua_pushcfunction(L, release); lua_setfield(L, -2, "__close");
#endif
  if (tostring) { lua_pushcfunction(L, tostring); lua_setfield(L, -2, "__tostring"); }
  cr_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* The argument readers (lua_util.h says what they promise). */
void cr_rd_fail(rd_err *e, const char *what, const char *k) {
  if (!e->msg[0]) snprintf(e->msg, sizeof e->msg, "cloudrenew.core: %s %s", k, what);
}

int cr_rd_push(lua_State *L, const rd_err *e) {
  lua_pushnil(L);
  lua_pushstring(L, e->msg);
  return 2;
}

/* With len == NULL the consumer takes a C string, so an embedded NUL is refused. */
const char *cr_field_str(lua_State *L, int t, const char *k, size_t *len, int required, rd_err *e) {
  const char *s = NULL;
  size_t n = 0;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    if (required) cr_rd_fail(e, "is required", k);
  } else if (lua_type(L, -1) != LUA_TSTRING) {
    cr_rd_fail(e, "must be a string", k);
  } else {
    s = lua_tolstring(L, -1, &n);
    if (!len && strlen(s) != n) { cr_rd_fail(e, "must not contain NUL bytes", k); s = NULL; n = 0; }
  }
  lua_pop(L, 1);   /* a string stays referenced by the table, which stays on the stack */
  if (len) *len = n;
  return s;
}

double cr_field_num(lua_State *L, int t, const char *k, double dflt, rd_err *e) {
  double v = dflt;
  lua_getfield(L, t, k);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER) cr_rd_fail(e, "must be a number", k);
    else v = (double)lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

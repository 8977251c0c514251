/* Lua 5.1 / LuaJIT 2.1 / 5.3 / 5.4 shims. Renamed symbols only: LuaJIT 2.1
 * already exports luaL_setfuncs, so redefining it under that name breaks there.
 * Included by every lua_*.c (through lua_util.h), so the one function is
 * static inline: a file that does not call it compiles without a warning. */
#ifndef CR_COMPAT_H
#define CR_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
static inline void cr_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define cr_rawlen(L, i) lua_objlen((L), (i))
#else
#define cr_setfuncs(L, l, n) luaL_setfuncs((L), (l), (n))
#define cr_rawlen(L, i) lua_rawlen((L), (i))
#endif

#define cr_newlib(L, l) (lua_newtable(L), cr_setfuncs((L), (l), 0))

#endif

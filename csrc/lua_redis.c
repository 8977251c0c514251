/* core.redis over hiredis (issue 14: shared pacing and the renewal ledger): separate because only it drives hiredis. */
#include "lua_util.h"
#include "redis.h"

/* core.redis(host, port, timeout) -> conn | nil, err. conn:command(...) ->
 * reply | nil, message, "io" (connection dead: close it, connect again) or
 * "server" (an error reply). Arguments are copied into C arrays before
 * hiredis runs, and the reply is owned by a userdata while it becomes Lua
 * values, so neither a raised error nor a longjmp can leak it. */
#define REDIS_MT       "cloudrenew.core.redis"
#define REDISREPLY_MT  "cloudrenew.core.redisreply"
#define REDIS_MAX_ARGS 100000

typedef struct { cr_redis *r; } l_redis;
typedef struct { redisReply *reply; } l_redisreply;

static int redis_close(lua_State *L) {
  l_redis *u = luaL_checkudata(L, 1, REDIS_MT);
  cr_redis_close(u->r);
  u->r = NULL;
  return 0;
}

static int redisreply_gc(lua_State *L) {
  l_redisreply *u = luaL_checkudata(L, 1, REDISREPLY_MT);
  cr_redis_free_reply(u->reply);
  u->reply = NULL;
  return 0;
}

static int l_redis_new(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  lua_Number port = luaL_checknumber(L, 2);
  lua_Number timeout = luaL_optnumber(L, 3, 1);
  char err[256];
  l_redis *u;
  luaL_argcheck(L, port >= 1 && port <= 65535, 2, "port must be 1..65535");
  u = lua_newuserdata(L, sizeof *u);
  u->r = NULL;
  luaL_getmetatable(L, REDIS_MT);
  lua_setmetatable(L, -2);
  u->r = cr_redis_connect(host, (int)port, (double)timeout, err, sizeof err);
  if (!u->r) { lua_pushnil(L); lua_pushstring(L, err); return 2; }
  return 1;
}

static void redis_push(lua_State *L, const redisReply *x, int depth);

/* The conversion on its own (fuzz/fuzz_redis.c drives it): pushes one value. */
void cr_redis_push_reply(lua_State *L, const struct redisReply *x) { redis_push(L, x, 0); }

static void redis_push(lua_State *L, const redisReply *x, int depth) {
  size_t i;
  luaL_checkstack(L, 4, "redis reply too deep");
  switch (x->type) {
#if LUA_VERSION_NUM >= 503
  case REDIS_REPLY_INTEGER: lua_pushinteger(L, (lua_Integer)x->integer); break;
#else
  case REDIS_REPLY_INTEGER: lua_pushnumber(L, (lua_Number)x->integer); break;
#endif
  case REDIS_REPLY_NIL: lua_pushboolean(L, 0); break;
  case REDIS_REPLY_ERROR:
    lua_createtable(L, 0, 1);
    lua_pushlstring(L, x->str ? x->str : "", x->str ? x->len : 0);
    lua_setfield(L, -2, "err");
    break;
  case REDIS_REPLY_ARRAY:
    lua_createtable(L, x->elements > 1000 ? 1000 : (int)x->elements, 0);
    for (i = 0; i < x->elements && depth < 8; i++) {
      redis_push(L, x->element[i], depth + 1);
      lua_rawseti(L, -2, (int)i + 1);
    }
    break;
  default:                     /* string, status (and newer hiredis' scalars) */
    if (x->str) lua_pushlstring(L, x->str, x->len); else lua_pushboolean(L, 0);
  }
}

/* conn:command(arg, ...) or conn:command({arg, ...}) for long argument lists. */
static int redis_command(lua_State *L) {
  l_redis *u = luaL_checkudata(L, 1, REDIS_MT);
  int list = lua_type(L, 2) == LUA_TTABLE, argc, i;
  const char **argv;
  size_t *lens;
  l_redisreply *holder;
  char err[256];
  argc = list ? (int)(cr_rawlen(L, 2) > REDIS_MAX_ARGS ? REDIS_MAX_ARGS + 1 : cr_rawlen(L, 2)) : lua_gettop(L) - 1;
  luaL_argcheck(L, argc >= 1 && argc <= REDIS_MAX_ARGS, 2, "1 to 100000 command arguments");
  if (!u->r) { lua_pushnil(L); lua_pushstring(L, "Redis connection is closed"); lua_pushstring(L, "io"); return 3; }
  if (list) lua_settop(L, 2);
  argv = lua_newuserdata(L, sizeof *argv * (size_t)argc);
  lens = lua_newuserdata(L, sizeof *lens * (size_t)argc);
  for (i = 0; i < argc; i++) {
    int t, at = i + 2;
    if (list) {
      /* the strings stay referenced by the list while hiredis reads them */
      lua_rawgeti(L, 2, i + 1);
      t = lua_type(L, -1);
      if (t == LUA_TNUMBER) { lua_tostring(L, -1); lua_rawseti(L, 2, i + 1); lua_rawgeti(L, 2, i + 1); }
      at = lua_gettop(L);
    } else {
      t = lua_type(L, at);
    }
    luaL_argcheck(L, t == LUA_TSTRING || t == LUA_TNUMBER, list ? 2 : at, "string or number");
    argv[i] = lua_tolstring(L, at, &lens[i]);   /* numbers become strings in place */
    if (list) lua_pop(L, 1);
  }
  holder = lua_newuserdata(L, sizeof *holder);
  holder->reply = NULL;
  luaL_getmetatable(L, REDISREPLY_MT);
  lua_setmetatable(L, -2);
  holder->reply = cr_redis_command(u->r, argc, argv, lens, err, sizeof err);
  if (!holder->reply) {
    cr_redis_close(u->r);
    u->r = NULL;
    lua_pushnil(L); lua_pushstring(L, err); lua_pushstring(L, "io");
    return 3;
  }
  if (holder->reply->type == REDIS_REPLY_ERROR) {
    lua_pushnil(L);
    lua_pushlstring(L, holder->reply->str ? holder->reply->str : "", holder->reply->str ? holder->reply->len : 0);
    lua_pushstring(L, "server");
    return 3;
  }
  redis_push(L, holder->reply, 0);
  return 1;
}

static const luaL_Reg redis_methods[] = {
  {"command", redis_command}, {"close", redis_close}, {NULL, NULL}
};

/* Registers the metatables and sets core.redis on the module table at -1. */
void cr_open_redis(lua_State *L) {
  luaL_newmetatable(L, REDISREPLY_MT);
  lua_pushcfunction(L, redisreply_gc); lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  cr_new_class(L, REDIS_MT, redis_close, redis_methods, NULL);
  lua_pushcfunction(L, l_redis_new);
  lua_setfield(L, -2, "redis");
}

/* Fuzz the Redis reply path: the input is what "the server" answers, written
 * by a loopback peer before the command is sent; cr_redis_command reads it
 * through hiredis within its deadline (csrc/redis.c), and the reply becomes a
 * Lua value through the binding's conversion (cr_redis_push_reply, lua_redis.c),
 * run under lua_pcall so a Lua error never crosses hiredis frames. Any input
 * is a reply (freed by its owner) or NULL with a message; the Lua value is a
 * string, number, boolean or table (array slots, or {err=} for a nested error
 * reply) nested at most 9 deep. Input: raw bytes. */
#include "fuzz_util.h"
#include "redis.h"
#include "lua_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener = -1;
static int port;
static lua_State *L;

static int push_reply(lua_State *l) {
  cr_redis_push_reply(l, (const redisReply *)lua_touserdata(l, 1));
  return 1;
}

static void check_value(lua_State *l, int idx, int depth) {
  int t = lua_type(l, idx);
  CHECK(depth <= 9);
  CHECK(t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN || t == LUA_TTABLE);
  if (t == LUA_TTABLE) {
    lua_pushnil(l);
    while (lua_next(l, idx < 0 ? idx - 1 : idx)) {
      /* array slots, or the "err" field of an error reply nested in an array */
      CHECK(lua_type(l, -2) == LUA_TNUMBER ||
            (lua_type(l, -2) == LUA_TSTRING && strcmp(lua_tostring(l, -2), "err") == 0));
      check_value(l, lua_gettop(l), depth + 1);
      lua_pop(l, 1);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *argv[] = { "PING" };
  size_t lens[] = { 4 };
  char err[256];
  cr_redis *r;
  redisReply *reply;
  struct pollfd pfd;
  int server_fd;
  if (!L) {
    struct sockaddr_in a;
    listener = loopback_listener(&a);
    port = ntohs(a.sin_port);
    CHECK((L = luaL_newstate()) != NULL);
  }
  /* the connection completes in the backlog; accept it, write the whole
   * answer and shut our side before the command is sent (fits the buffers) */
  r = cr_redis_connect("127.0.0.1", port, 0.5, err, sizeof err);
  CHECK(r != NULL);
  pfd.fd = listener; pfd.events = POLLIN;
  CHECK(poll(&pfd, 1, 1000) == 1);
  server_fd = accept(listener, NULL, NULL);
  CHECK(server_fd >= 0);
  CHECK(size == 0 || write(server_fd, data, size) == (ssize_t)size);
  shutdown(server_fd, SHUT_WR);
  err[0] = 0;
  reply = cr_redis_command(r, 1, argv, lens, err, sizeof err);
  if (!reply) {
    CHECK(err[0] != 0 && memchr(err, 0, sizeof err) != NULL);
  } else {
    int top = lua_gettop(L);
    lua_pushcfunction(L, push_reply);
    lua_pushlightuserdata(L, reply);
    if (lua_pcall(L, 1, 1, 0) == 0) check_value(L, -1, 0);
    lua_settop(L, top);
    cr_redis_free_reply(reply);
  }
  cr_redis_close(r);
  close(server_fd);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}

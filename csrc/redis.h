/* A blocking Redis connection (hiredis) for the pacing and ledger back-ends.
 * No Lua here: lua_redis.c reads the arguments into C arrays first and turns
 * the reply into Lua values after the call, from a reply it owns. */
#ifndef CR_REDIS_H
#define CR_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

typedef struct cr_redis cr_redis;

/* Connect to host:port (TCP) with a timeout that also bounds every later
 * command. NULL and a message in err (no secret ever reaches it) on failure. */
cr_redis *cr_redis_connect(const char *host, int port, double timeout_s, char *err, size_t errlen);

/* One command. Returns the reply (the caller frees it with cr_redis_free_reply)
 * or NULL with a message in err: then the connection is dead (I/O error, a
 * timeout, the server gone, or this process is a fork of the one that
 * connected) and must be closed. SIGPIPE from a peer that went away is
 * swallowed, never delivered to the process. */
redisReply *cr_redis_command(cr_redis *r, int argc, const char **argv, const size_t *lens,
                             char *err, size_t errlen);

void cr_redis_free_reply(redisReply *reply);
void cr_redis_close(cr_redis *r);

#endif

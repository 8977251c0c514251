-- Every C path of the Redis binding (csrc/redis.c, csrc/lua_redis.c)
-- once, for valgrind (`make memcheck` runs it after bench/memcheck.lua):
-- refused connect, every reply type, long argument lists, an error reply, a
-- raised argument error with a reply holder alive, a server gone mid-session
-- (SIGPIPE swallowed), close, __gc of an open connection, the pacer and ledger.
local core = require("cloudrenew.core")
local redis_server = require("support.redis_server")

assert(not core.redis("127.0.0.1", 1, 0.5))
local rs = redis_server.start()
local h = assert(core.redis("127.0.0.1", rs.port, 2))
assert(h:command("SET", "k", "v") == "OK")
assert(h:command("GET", "k") == "v")
assert(h:command("GET", "missing") == false)
assert(h:command("INCR", "n") == 1)
assert(h:command("RPUSH", "l", "a", 2, "c") == 3)
assert(#h:command("LRANGE", "l", 0, -1) == 3)
local nested = h:command("EVAL", "return {1, 'x', {2, {3}}, redis.error_reply('E')}", 0)
assert(nested[3][2][1] == 3 and nested[4].err:find("E", 1, true))
local list = { "HSET", "h" }
for i = 1, 2000 do list[#list + 1] = "f" .. i; list[#list + 1] = i end
assert(h:command(list) == 2000)
local r, err, kind = h:command("NOPE")
assert(r == nil and kind == "server" and err)
assert(not pcall(h.command, h, "SET", {}, "x"))       -- raises after the holder exists
assert(not pcall(h.command, h))
local lost = assert(core.redis("127.0.0.1", rs.port, 2))
assert(lost:command("PING") == "PONG")
rs:restart(0)
for _ = 1, 3 do                                        -- dead socket: io, then closed
  local _, _, k = lost:command("PING")
  assert(k == "io")
end
lost:close()
lost:close()
local leaked = assert(core.redis("127.0.0.1", rs.port, 2))  -- closed by __gc
assert(leaked:command("PING") == "PONG")
leaked = nil
h = nil
collectgarbage()
collectgarbage()

-- the Lua layers on top: pacing, and the reply shapes they read
local redis = require("cloudrenew.redis")
local pr = require("cloudrenew.pacing.redis")
local l = pr.limiter(assert(redis.check(rs.url)), core.limiter())
for _ = 1, 50 do assert(l:reserve("AKIDmem|cvm|RenewInstances", 1e6, 600, "renewal")) end
assert(l:pause("AKIDmem|cvm|RenewInstances", 0.01))
rs:stop()
print("memcheck_redis: ok")

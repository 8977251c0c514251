# cloudrenew: `make` builds the Lua 5.4 module; `make LUA=luajit` (or lua5.1, lua5.3)
# builds build/$(LUA)/cloudrenew/core.so; `make test` and `make demo` install
# missing Debian packages first.
LUA      ?= lua5.4
VERSION  := 0.1.0
PKG      := $(LUA)
ifeq ($(LUA),lua5.4)
OUTDIR   := build
else
OUTDIR   := build/$(LUA)
endif
LUA_CFLAGS  ?= $(shell pkg-config --cflags $(PKG) 2>/dev/null)
DEP_CFLAGS  := $(shell pkg-config --cflags libcurl openssl 2>/dev/null)
DEP_LIBS    := $(shell pkg-config --libs libcurl openssl 2>/dev/null || echo -lcurl -lssl -lcrypto)
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
ALL_CFLAGS = $(CFLAGS) $(WARN) -fPIC -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
             -DCLOUDRENEW_VERSION='"$(VERSION)"' $(LUA_CFLAGS) $(DEP_CFLAGS)
SRCS     := csrc/sign.c csrc/http.c csrc/ratelimit.c csrc/fileio.c csrc/lua_core.c
SRCS     := $(wildcard $(SRCS))
OBJS     := $(patsubst csrc/%.c,$(OUTDIR)/obj/%.o,$(SRCS))
MODULE   := $(OUTDIR)/cloudrenew/core.so
BUSTED   := busted --lua=lua5.4

.PHONY: all deps test demo memcheck bench bench-idle clean

all: $(MODULE)

$(OUTDIR)/obj/%.o: csrc/%.c $(wildcard csrc/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(MODULE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(OBJS) $(DEP_LIBS) -pthread

deps:
	@sh scripts/deps.sh

# The suite runs under Lua 5.4 and LuaJIT 2.1 (OpenResty's Lua); Lua 5.1 is
# compiled to keep the C portable.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory LUA=luajit all
	@$(MAKE) --no-print-directory LUA=lua5.1 all
	$(BUSTED)
	busted --lua=luajit --run=luajit

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

# Every C path under valgrind (signing, blocking and concurrent HTTP, failures,
# TLS, pacing, a client closed mid-transfer): fails on any error or leak.
memcheck: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	valgrind --keep-debuginfo=yes --leak-check=full --show-leak-kinds=definite,indirect \
	  --errors-for-leak-kinds=definite,indirect --error-exitcode=9 lua5.4 bench/memcheck.lua

# Fleet throughput against the fake (100 ms latency, documented limits): about
# 5 minutes; `make bench BENCH_ARGS=--quick` takes about 35 s. See bench/README.md.
bench: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/throughput.lua $(BENCH_ARGS)

# cloudrenew.map never idles: 10 rounds of N inquiries at concurrency 16, no
# latency, no pacing; the slowest round must be within 2x of the median.
# `make bench-idle BENCH_ARGS="2000 10"` is the issue's size. See bench/README.md.
bench-idle: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/map_idle.lua $(BENCH_ARGS)

clean:
	rm -rf build

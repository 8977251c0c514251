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
DEP_LIBS    := $(shell pkg-config --libs libcurl openssl 2>/dev/null || echo -lcurl -lssl -lcrypto) -lhiredis
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
ALL_CFLAGS = $(CFLAGS) $(WARN) -fPIC -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
             -DCLOUDRENEW_VERSION='"$(VERSION)"' $(LUA_CFLAGS) $(DEP_CFLAGS)
SRCS     := csrc/sign.c csrc/sign_args.c csrc/http.c csrc/ratelimit.c csrc/fileio.c csrc/redis.c \
            csrc/lua_util.c csrc/lua_sign.c csrc/lua_sign_pub.c csrc/lua_sign_detail.c csrc/lua_http.c \
            csrc/lua_pace.c csrc/lua_fileio.c csrc/lua_redis.c csrc/lua_core.c
SRCS     := $(wildcard $(SRCS))
OBJS     := $(patsubst csrc/%.c,$(OUTDIR)/obj/%.o,$(SRCS))
MODULE   := $(OUTDIR)/cloudrenew/core.so
BUSTED   := busted --lua=lua5.4

.PHONY: all deps deps-san test demo openresty-demo memcheck asan fuzz bench bench-idle bench-sign bench-cpu bench-ngx bench-fleet bench-node clean

all: $(MODULE)

$(OUTDIR)/obj/%.o: csrc/%.c $(wildcard csrc/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(MODULE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(OBJS) $(DEP_LIBS) -pthread $(SAN_LDFLAGS)

deps:
	@sh scripts/deps.sh

# The suite runs under Lua 5.4 and LuaJIT 2.1 (OpenResty's Lua); Lua 5.1 is
# compiled to keep the C portable.
# Specs never probe the clouds' real metadata services (link-local addresses):
# the instance-role providers are off unless a spec names a metadata_endpoint.
test asan memcheck: export CLOUDRENEW_METADATA_DISABLED = 1

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory LUA=luajit all
	@$(MAKE) --no-print-directory LUA=lua5.1 all
	$(BUSTED)
	busted --lua=luajit --run=luajit

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

# examples/openresty/nginx.conf (a renewal job in a timer, a price endpoint) in
# a real nginx against the fake cloud; nginx loads the LuaJIT build.
openresty-demo: deps
	@$(MAKE) --no-print-directory LUA=luajit all
	@sh examples/openresty/demo.sh

# Every C path under valgrind (signing, blocking and concurrent HTTP, failures,
# TLS, pacing, a client closed mid-transfer): fails on any error or leak.
memcheck: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	valgrind --keep-debuginfo=yes --leak-check=full --show-leak-kinds=definite,indirect \
	  --errors-for-leak-kinds=definite,indirect --error-exitcode=9 lua5.4 bench/memcheck.lua
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	valgrind --keep-debuginfo=yes --leak-check=full --show-leak-kinds=definite,indirect \
	  --errors-for-leak-kinds=definite,indirect --error-exitcode=9 lua5.4 bench/memcheck_redis.lua

# Sanitizers and fuzzing need clang and its runtimes (Debian: clang, libclang-rt-dev, llvm).
deps-san:
	@sh scripts/deps.sh sanitizers

# The C core built by clang with AddressSanitizer + UBSan (any report is fatal)
# into build/asan, and the whole Lua 5.4 suite run against it. lua5.4 itself is
# not instrumented, so the ASan runtime is preloaded; leaks are memcheck's job
# (and the Python fake, which inherits the preload, keeps its arenas to exit).
# Reports from any process, children included, go to build/asan/reports/ and
# fail the target. `make asan ASAN_SPECS=spec/transport_spec.lua` runs a subset.
# Child processes (the CLI, fleet children, nginx) load the plain builds.
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_RT     = $(shell clang -print-file-name=libclang_rt.asan-x86_64.so)
ASAN_DIR   := build/asan
ASAN_SPECS ?=
asan: deps deps-san
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory LUA=luajit all
	@$(MAKE) --no-print-directory OUTDIR=$(ASAN_DIR) CC=clang \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer $(SAN_FLAGS)" \
	  SAN_LDFLAGS="$(SAN_FLAGS) -shared-libasan" all
	@rm -rf $(ASAN_DIR)/reports && mkdir -p $(ASAN_DIR)/reports
	LD_PRELOAD="$(ASAN_RT)" \
	ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:log_path=$(CURDIR)/$(ASAN_DIR)/reports/asan" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(ASAN_DIR)/reports/ubsan" \
	  $(BUSTED) --cpath='$(ASAN_DIR)/?.so' $(ASAN_SPECS); rc=$$?; \
	if ls $(ASAN_DIR)/reports/* >/dev/null 2>&1; then \
	  cat $(ASAN_DIR)/reports/*; echo "make asan: sanitizer reports above" >&2; exit 1; fi; \
	exit $$rc

# libFuzzer targets (fuzz/README.md): each runs FUZZ_SECONDS (default 60) from
# its seed corpus in fuzz/corpus/<target>/; any crash or sanitizer report fails.
# The harnesses link the C sources directly: nothing of them is in core.so.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_sign fuzz_headers fuzz_response fuzz_pacing fuzz_fileio fuzz_redis
FUZZ_DIR     := build/fuzz
FUZZ_CORE    := csrc/sign.c csrc/sign_args.c csrc/http.c csrc/ratelimit.c csrc/fileio.c
# fuzz_redis also links the Redis connection and the binding's reply conversion (and Lua 5.4)
$(FUZZ_DIR)/fuzz_redis: FUZZ_EXTRA = csrc/redis.c csrc/lua_redis.c csrc/lua_util.c \
  $(shell pkg-config --cflags --libs lua5.4 2>/dev/null || echo -I/usr/include/lua5.4 -llua5.4)
$(FUZZ_DIR)/fuzz_redis: csrc/redis.c csrc/lua_redis.c csrc/lua_util.c
$(FUZZ_DIR)/%: fuzz/%.c $(FUZZ_CORE) $(wildcard csrc/*.h)
	@mkdir -p $(dir $@)
	clang -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all $(WARN) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	  -Icsrc $(DEP_CFLAGS) $< $(FUZZ_CORE) $(FUZZ_EXTRA) -o $@ $(DEP_LIBS) -pthread

fuzz: deps deps-san $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t && \
	  echo "== $$t: $(FUZZ_SECONDS) s from fuzz/corpus/$$t" && \
	  ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=8192 -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/$$t- \
	    $(FUZZ_DIR)/corpus/$$t fuzz/corpus/$$t 2>$(FUZZ_DIR)/$$t.log \
	  || { tail -60 $(FUZZ_DIR)/$$t.log; echo "make fuzz: $$t failed" >&2; exit 1; }; \
	  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' $(FUZZ_DIR)/$$t.log; \
	done

# Fleet throughput against the fake (100 ms latency, documented limits): about
# 5 minutes; `make bench BENCH_ARGS=--quick` takes about 35 s. See bench/README.md.
bench: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/throughput.lua $(BENCH_ARGS)

# Workflow fleet runs (issue 25): renew_if_under_budget with confirmation vs the
# bound the slowest action's documented rate sets; about 4 minutes,
# `make bench-fleet BENCH_ARGS=--quick` about 1. See bench/README.md.
bench-fleet: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/fleet.lua $(BENCH_ARGS)

# Sequential calls/s vs Tencent's official Node SDK (bench/node/, installed from
# the npm registry into build/bench-node; needs node and npm). See bench/README.md.
bench-node: deps all
	@command -v npm >/dev/null || { echo "bench-node needs node and npm (apt-get install nodejs npm)"; exit 1; }
	mkdir -p build/bench-node && cp bench/node/package.json build/bench-node/ && \
	  cd build/bench-node && npm install --no-audit --no-fund --silent
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/node_compare.lua $(BENCH_ARGS)

# cloudrenew.map never idles: 10 rounds of N inquiries at concurrency 16, no
# latency, no pacing; the slowest round must be within 2x of the median.
# `make bench-idle BENCH_ARGS="2000 10"` is the issue's size. See bench/README.md.
bench-idle: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/map_idle.lua $(BENCH_ARGS)

# Many hosts: pacing through Redis vs host-local per request, and 4 processes
# sharing one credential vs the limit (own redis-server). See bench/README.md.
bench-redis: deps all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/redis_pacing.lua $(BENCH_ARGS)

# Issue 22: 10,000 per-request clients through a real nginx (2 workers,
# worker_connections 512): statuses, idle connections, RSS. See bench/README.md.
bench-ngx: deps all
	$(MAKE) LUA=luajit all
	LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="build/?.so;;" \
	  lua5.4 bench/ngx_percall.lua $(BENCH_ARGS)

# Public signers vs a raw C HMAC chain (bench/sign_raw.c, a bench-only module) in
# one process per Lua: ratio = sign rate / raw rate, target >= 0.5 under Lua 5.4
# and LuaJIT. `make bench-sign BENCH_ARGS="20000 7"`. See bench/README.md.
BENCH_SIGN_LUAS := lua5.4 luajit
bench-sign: deps
	@for l in $(BENCH_SIGN_LUAS); do \
	  $(MAKE) --no-print-directory LUA=$$l all || exit 1; \
	  o=build/bench/$$l; [ $$l = lua5.4 ] && c=build || c=build/$$l; mkdir -p $$o && \
	  $(CC) $(CFLAGS) $(WARN) -fPIC -shared $$(pkg-config --cflags $$l) $(DEP_CFLAGS) \
	    bench/sign_raw.c -o $$o/signraw.so $(DEP_LIBS) || exit 1; \
	  LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$$c/?.so;$$o/?.so;;" \
	    $$l bench/sign.lua $(BENCH_ARGS) || rc=1; \
	done; exit $${rc:-0}

# Instructions (callgrind) per inquiry, per renewal and for `cloudrenew --help`,
# and workflow report bytes per resource; LUA=luajit for LuaJIT. See bench/README.md.
bench-cpu: deps all
	LUA=$(LUA) sh bench/cpu.sh

clean:
	rm -rf build

#!/bin/sh
# Install the Debian packages cloudrenew needs to build, test and demo, only when
# some are missing (so `make demo` / `make test` work on a fresh Debian machine).
set -eu
PKGS="gcc make pkg-config lua5.4 liblua5.4-dev lua-cjson lua-busted lua-argparse \
libcurl4-openssl-dev libssl-dev openssl python3 luarocks luajit2 libluajit2-5.1-dev \
liblua5.1-0-dev valgrind nginx libnginx-mod-http-lua lua-resty-core \
libhiredis-dev redis-server lua-nginx-redis prometheus"
# lua-nginx-redis (resty.redis, installed as nginx.redis) pulls nginx-extras: a
# metapackage of more dynamic modules for the same nginx version; nothing loads
# them unless a config includes /etc/nginx/modules-enabled (the specs' does not).
# OpenResty's LuaJIT (luajit2, same 2.1 headers and `luajit` binary): Debian's
# libnginx-mod-http-lua conflicts with luajit/libluajit-5.1-dev, which apt
# removes when these are installed over them.
# `deps.sh sanitizers` (make asan / make fuzz): clang with its ASan/UBSan/libFuzzer
# runtimes and llvm-symbolizer for readable reports.
[ "${1:-}" = sanitizers ] && PKGS="clang libclang-rt-dev llvm"
[ "${CLOUDRENEW_EXTRA_PKGS:-}" ] && PKGS="$PKGS $CLOUDRENEW_EXTRA_PKGS"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "cloudrenew: installing missing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2

#!/bin/sh
# Instructions (callgrind) per inquiry, per renewal and for start-up, and report
# bytes per resource: `make bench-cpu` (LUA=luajit for LuaJIT). See bench/README.md.
# Per call: two runs of bench/cpu.lua under callgrind, N1 and N2 calls after the
# same warm-up; (Ir(N2) - Ir(N1)) / (N2 - N1). Only the Lua process is counted
# (the fake cloud is a child that valgrind does not follow).
set -e
LUA=${LUA:-lua5.4}
N1=${N1:-50}
N2=${N2:-250}
case $LUA in lua5.4) CP=build ;; *) CP=build/$LUA ;; esac
export LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="$CP/?.so;;"
export CLOUDRENEW_METADATA_DISABLED=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ir() {   # total instructions of one run: ir NAME command...
  name=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$out/$name.cg" "$@" >"$out/$name.log" 2>&1 \
    || { cat "$out/$name.log"; echo "bench-cpu: $name failed" >&2; exit 1; }
  sed -n 's/^summary: *//p;s/^totals: *//p' "$out/$name.cg" | head -1
}
for mode in inquiry renewal; do
  a=$(ir "$mode-$N1" $LUA bench/cpu.lua $mode $N1)
  b=$(ir "$mode-$N2" $LUA bench/cpu.lua $mode $N2)
  echo "$LUA $mode: $(( (b - a) / (N2 - N1) )) instructions per call ($N1: $a, $N2: $b)"
done
# bin/cloudrenew runs lua5.4 with build/ first on its cpath; other Luas run the same main
if [ "$LUA" = lua5.4 ]; then
  s=$(ir startup $LUA bin/cloudrenew --help)
else
  s=$(ir startup $LUA -e 'os.exit(require("cloudrenew.cli").main({ "--help" }))')
fi
echo "$LUA start-up (cloudrenew --help): $s instructions"
$LUA bench/cpu.lua memory ${NMEM:-2000}

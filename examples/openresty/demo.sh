#!/bin/sh
# `make openresty-demo`: run examples/openresty/nginx.conf in a real nginx
# against the bundled fake cloud (HTTPS with the clouds' real host names through
# connect_to; the test CA as lua_ssl_trusted_certificate). No credentials needed.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
pre=$root/build/openresty-demo
port=${OPENRESTY_DEMO_PORT:-18089}
rm -rf "$pre" && mkdir -p "$pre/conf" "$pre/logs" "$pre/app" "$pre/lib"
ln -s "$root/lua" "$pre/lua"
ln -s "$root/build/luajit/cloudrenew" "$pre/lib/cloudrenew"
cp examples/openresty/renewals.lua "$pre/app/"
sh spec/support/certs.sh build/test-certs
sed -e "s#/etc/ssl/certs/ca-certificates.crt#$root/build/test-certs/ca.pem#" \
    -e "s#listen 127.0.0.1:8089#listen 127.0.0.1:$port#" \
    -e "s#resolver NAMESERVER#resolver $(awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf)#" \
    examples/openresty/nginx.conf > "$pre/conf/nginx.conf"
[ "$(id -u)" = 0 ] && sed -i '1i user root root;' "$pre/conf/nginx.conf"
python3 spec/fakecloud/fakecloud.py --port 0 --tls-port 0 \
  --cert build/test-certs/server.pem --key build/test-certs/server.key >"$pre/fake.json" 2>"$pre/fake.log" &
fake=$!
stop() { nginx -p "$pre" -c conf/nginx.conf -s stop 2>/dev/null || true; kill $fake 2>/dev/null || true; }
trap stop EXIT INT TERM
i=0
while ! grep -q https_port "$pre/fake.json" 2>/dev/null; do
  i=$((i + 1)); [ $i -gt 150 ] && { cat "$pre/fake.log" >&2; exit 1; }
  sleep 0.1
done
eval "$(python3 - "$pre/fake.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
tc = json.load(open("spec/fakecloud/credentials.json"))["tencent"][0]
print(f"export CLOUDRENEW_CONNECT_TO=127.0.0.1:{info['https_port']}")
print(f"export TENCENTCLOUD_SECRET_ID='{tc['secret_id']}' TENCENTCLOUD_SECRET_KEY='{tc['secret_key']}'")
PY
)"
export CVM_INSTANCES="ins-2zvpghhc,ins-7xk3m9qa,ins-q1w2e3r4" MAX_PRICE=150 BUDGET=1000 APPLY=1
get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode().strip())' "$1"; }
nginx -p "$pre" -c conf/nginx.conf
echo "== nginx ($pre) on 127.0.0.1:$port, fake cloud at $CLOUDRENEW_CONNECT_TO"
i=0
until out=$(get "http://127.0.0.1:$port/last-run" 2>/dev/null) && [ "$out" != null ]; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "the timer job did not report" >&2; tail "$pre/logs/error.log" >&2; exit 1; }
  sleep 0.1
done
echo "-- GET /last-run (the renewal job a timer ran at start):"
echo "$out"
echo "-- GET /price?id=ins-2zvpghhc:"
get "http://127.0.0.1:$port/price?id=ins-2zvpghhc"
echo "-- audit log: $pre/logs/renewals.jsonl ($(wc -l < "$pre/logs/renewals.jsonl") lines)"

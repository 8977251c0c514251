#!/bin/sh
# `make demo`: start the bundled fake cloud (HTTPS, a test CA, the clouds' real
# host names reached through connect_to) and run the examples against it.
# No credentials needed: the fake's own test keys are used.
set -eu
cd "$(dirname "$0")/.."
out=build/demo
mkdir -p "$out"
sh spec/support/certs.sh build/test-certs
python3 spec/fakecloud/fakecloud.py --port 0 --tls-port 0 \
  --cert build/test-certs/server.pem --key build/test-certs/server.key >"$out/fake.json" 2>"$out/fake.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
i=0
while ! grep -q https_port "$out/fake.json" 2>/dev/null; do
  i=$((i + 1)); [ $i -gt 150 ] && { echo "fake cloud did not start:" >&2; cat "$out/fake.log" >&2; exit 1; }
  sleep 0.1
done
eval "$(python3 - "$out/fake.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
creds = json.load(open("spec/fakecloud/credentials.json"))
tc, volc = creds["tencent"][0], creds["volcengine"][0]
print(f"export CLOUDRENEW_CONNECT_TO=127.0.0.1:{info['https_port']}")
print(f"export TENCENTCLOUD_SECRET_ID='{tc['secret_id']}' TENCENTCLOUD_SECRET_KEY='{tc['secret_key']}'")
print(f"export VOLCENGINE_ACCESS_KEY='{volc['access_key']}' VOLCENGINE_SECRET_KEY='{volc['secret_key']}'")
PY
)"
export CLOUDRENEW_CA_FILE=build/test-certs/ca.pem
export LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;"
export CVM_INSTANCES="ins-2zvpghhc,ins-7xk3m9qa,ins-q1w2e3r4" ECS_INSTANCES="i-3tiefmkskq3vj0hx1lt5,i-demo00000000000002"
export MAX_PRICE="${MAX_PRICE:-150}" PERIOD="${PERIOD:-1}" TENCENTCLOUD_REGION=ap-guangzhou
echo "== cloudrenew demo against the bundled fake cloud (https://*.tencentcloudapi.com, *.volcengineapi.com -> $CLOUDRENEW_CONNECT_TO)"
lua5.4 examples/renew_if_under_budget.lua --apply

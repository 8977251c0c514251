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
export HSPRO_QUUIDS="2c6d9e4f-demo-0001,2c6d9e4f-demo-0002" TEO_PLANS="edgeone-2unuvzjmmn2q,edgeone-demo0000000b"
export TENCENTCLOUD_REGION=ap-guangzhou PERIOD=1 AUDIT_LOG="$out/renewals.jsonl"
rm -f "$AUDIT_LOG"
echo "== cloudrenew demo against the bundled fake cloud (https://*.tencentcloudapi.com, *.volcengineapi.com -> $CLOUDRENEW_CONNECT_TO)"
echo "-- dry run: inquire and decide, renew nothing"
lua5.4 examples/renew_cvm.lua
echo "-- apply, one script per product (audit log: $AUDIT_LOG)"
MAX_PRICE=150 lua5.4 examples/renew_cvm.lua --apply
MAX_PRICE=60 lua5.4 examples/renew_hspro.lua --apply
BUDGET=100 lua5.4 examples/renew_teo.lua --apply
MAX_PRICE=100 lua5.4 examples/renew_ecs.lua --apply
echo "-- the same CVM run again: the audit log says it is done, nothing is paid twice"
lua5.4 examples/renew_cvm.lua --apply
echo "-- discovery: no id list; the read API finds what expires within 30 days (examples/renew_expiring.lua)"
python3 - "$out/fake.json" <<'PY'
import json, sys, urllib.request
port = json.load(open(sys.argv[1]))["http_port"]
fleet = [{"id": "ins-f%07d" % i, "expires_in_days": 60 + i} for i in range(1, 141)] + [
    {"id": "ins-exp00001", "expires_in_days": 6}, {"id": "ins-exp00002", "expires_in_days": 21},
    {"id": "ins-postpd01", "prepaid": False}, {"id": "ins-autornw1", "expires_in_days": 12, "auto_renew": True},
    {"id": "ins-expired1", "expires_in_days": -3}]
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/__fake/resources" % port,
    json.dumps({"resources": fleet}).encode(), {"Content-Type": "application/json"})).read()
PY
lua5.4 examples/renew_expiring.lua
lua5.4 examples/renew_expiring.lua --apply
echo "-- no keys on disk: the instance's role (the fake's metadata service), refreshed before expiry (examples/renew_with_role.lua)"
CLOUDRENEW_METADATA_ENDPOINT="http://127.0.0.1:$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_port"])' "$out/fake.json")" \
  CVM_INSTANCES="ins-role0001,ins-role0002" lua5.4 examples/renew_with_role.lua --apply
echo
echo "== the CLI: cloudrenew plan|apply over examples/inventory.json (every product, both clouds)"
# The demo copy points the inventory at the fake (connect_to + the test CA).
python3 - "$CLOUDRENEW_CONNECT_TO" "$(pwd)/$CLOUDRENEW_CA_FILE" <<'PY'
import json, shutil, sys
inv = json.load(open("examples/inventory.json"))
for cloud in ("tencent", "volcengine"):
    inv[cloud]["connect_to"], inv[cloud]["ca_file"] = sys.argv[1], sys.argv[2]
json.dump(inv, open("build/demo/inventory.json", "w"), indent=2)
shutil.copy("examples/teo-prices.json", "build/demo/teo-prices.json")
PY
rm -rf "$out/cron"
mkdir -p "$out/cron"
set +e
echo "-- bin/cloudrenew plan (its own audit log, so the fake renews these again)"
bin/cloudrenew plan build/demo/inventory.json --audit-log "$out/cron/renewals-%Y-%m.jsonl"
echo "-- examples/cron_fleet.sh: apply, JSON report, notification by exit status"
CLOUDRENEW=bin/cloudrenew CLOUDRENEW_LOG_DIR="$out/cron" CLOUDRENEW_NOTIFY="echo notify:" \
  sh examples/cron_fleet.sh build/demo/inventory.json
echo "-- bin/cloudrenew apply again: the audit log shows everything done, nothing is sent twice"
bin/cloudrenew apply build/demo/inventory.json --audit-log "$out/cron/renewals-%Y-%m.jsonl"
rc=$?
echo
echo "== bin/cloudrenew expiring: every prepaid instance of both accounts due within 30 days, any product and region"
python3 - "$out/fake.json" <<'PY'
import json, sys, urllib.request
port = json.load(open(sys.argv[1]))["http_port"]
fleet = [
    {"id": "ins-2zvpghhc", "region": "ap-guangzhou", "expires_in_days": 6.5},
    {"id": "ins-db000001", "region": "ap-shanghai", "expires_in_days": 13.5, "auto_renew": True},
    {"id": "ins-later001", "region": "ap-beijing", "expires_in_days": 90.5},
    {"id": "edgeone-2unuvzjmmn2q", "expires_in_days": 20.5},
    {"id": "2c6d9e4f-demo-0001", "product": "hspro", "region": "ap-guangzhou", "expires_in_days": 4.5},
    {"id": "disk-demo0001", "region": "ap-guangzhou", "expires_in_days": 9.5},
    {"id": "cdb-demo0001", "region": "ap-guangzhou", "expires_in_days": 8.5},
    {"id": "crs-demo0001", "region": "ap-guangzhou", "expires_in_days": 7.5},
    {"id": "lhins-demo0001", "region": "ap-guangzhou", "expires_in_days": 5.5},
    {"id": "cfw-demo0001", "product": "other", "cloud": "tencent", "product_code": "p_cfw",
     "sub_product_code": "sp_cfw_vpc", "product_name": "云防火墙", "region": "ap-guangzhou", "expires_in_days": 10.5},
    {"id": "cos-demo0001", "product": "other", "cloud": "tencent", "product_code": "p_cos",
     "sub_product_code": "sp_cos_pkg_std_new", "region": "ap-shanghai", "expires_in_days": 9.5},
    {"id": "i-3tiefmkskq3vj0hx1lt5", "expires_in_days": 11.5},
    {"id": "rds-demo0001", "product": "other", "cloud": "volcengine", "product_code": "RDS_MySQL",
     "expires_in_days": 17.5, "auto_renew": True},
]
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/__fake/resources" % port,
    json.dumps({"resources": fleet}).encode(), {"Content-Type": "application/json"})).read()
PY
bin/cloudrenew expiring build/demo/inventory.json --days 30
echo "exit status $? (0 nothing due needs attention, 1 something due is neither auto-renewing nor renewable here)"
echo
echo "== bin/cloudrenew apply: any Volcengine product through billing (volc_billing): the RDS instance, priced, renewed once, confirmed"
python3 - "$CLOUDRENEW_CONNECT_TO" "$(pwd)/$CLOUDRENEW_CA_FILE" <<'PY'
import json, sys
tls = {"connect_to": sys.argv[1], "ca_file": sys.argv[2]}
inv = {"volcengine": dict(tls, volc_billing={"period": 1, "budget": "500",
       "resources": [{"Product": "RDS_MySQL", "InstanceID": "rds-demo0001"}]})}
json.dump(inv, open("build/demo/billing.json", "w"), indent=2)
PY
bin/cloudrenew apply build/demo/billing.json --audit-log "$out/cron/billing.jsonl"
echo "-- again: the audit log holds it, nothing is sent"
bin/cloudrenew apply build/demo/billing.json --audit-log "$out/cron/billing.jsonl" | tail -n 1
echo
echo "== bin/cloudrenew apply: every Tencent product, each by its own route (cbs, cdb, Redis, Lighthouse) or billing"
echo "   RenewInstance (tc_billing: the Cloud Firewall, priced by the caller), renewed once and confirmed"
python3 - "$CLOUDRENEW_CONNECT_TO" "$(pwd)/$CLOUDRENEW_CA_FILE" <<'PY'
import json, sys
tls = {"connect_to": sys.argv[1], "ca_file": sys.argv[2]}
def g(ids, cap="300", **kw):
    return dict({"period": 1, "max_price": cap, "resources": ids}, **kw)
inv = {"tencent": dict(tls, region="ap-guangzhou", cbs=g(["disk-demo0001"]), cdb=g(["cdb-demo0001"]),
       crs=g(["crs-demo0001"]), lighthouse=g(["lhins-demo0001"]),
       tc_billing=g([{"ProductCode": "p_cfw", "SubProductCode": "sp_cfw_vpc", "RegionCode": "ap-guangzhou",
                      "InstanceId": "cfw-demo0001"}], prices={"cfw-demo0001": "120"}))}
json.dump(inv, open("build/demo/products.json", "w"), indent=2)
PY
bin/cloudrenew apply build/demo/products.json --audit-log "$out/cron/products.jsonl"
echo "-- again: the audit log holds them, nothing is sent"
bin/cloudrenew apply build/demo/products.json --audit-log "$out/cron/products.jsonl" | tail -n 1
echo
echo "== bin/cloudrenew autorenew: the console-only COS package and the ECS instance renew themselves from now on"
python3 - "$CLOUDRENEW_CONNECT_TO" "$(pwd)/$CLOUDRENEW_CA_FILE" <<'PY'
import json, sys
tls = {"connect_to": sys.argv[1], "ca_file": sys.argv[2]}
inv = {"tencent": dict(tls, region="ap-guangzhou", autorenew=[{"id": "cos-demo0001", "auto_renew": True, "period": 1}]),
       "volcengine": dict(tls, autorenew=[{"id": "i-3tiefmkskq3vj0hx1lt5", "auto_renew": True, "period": 1}])}
json.dump(inv, open("build/demo/autorenew.json", "w"), indent=2)
PY
bin/cloudrenew autorenew plan build/demo/autorenew.json
echo "-- a budget is one cloud's (one currency): over both clouds it is refused, nothing sent (exit 2)"
bin/cloudrenew autorenew apply build/demo/autorenew.json --budget 50 --audit-log "$out/cron/autorenew.jsonl"
echo "-- Tencent's changes under a budget of 50 for one cycle: COS has no price inquiry here, so it waits (exit 1)"
bin/cloudrenew autorenew apply build/demo/autorenew.json --cloud tencent --budget 50 --audit-log "$out/cron/autorenew.jsonl"
echo "-- apply without a budget: the COS package and the ECS instance"
bin/cloudrenew autorenew apply build/demo/autorenew.json --audit-log "$out/cron/autorenew.jsonl"
bin/cloudrenew expiring build/demo/inventory.json --days 30 --no-price
echo "exit status $? (nothing due needs attention now)"
set -e
echo "exit status $rc (0 all done, 1 some failed, 2 bad input, 3 unknown outcomes)"
exit $rc


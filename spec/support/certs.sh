#!/bin/sh
# Test certificates for the fake cloud: certs.sh DIR creates, in DIR,
#   ca.pem ca.key          a test CA
#   server.pem server.key  signed by it, for the clouds' host names, localhost, 127.0.0.1
#   wrong-ca.pem           an unrelated CA (TLS must fail with it)
# Idempotent: does nothing while a complete, unexpired set exists. EC P-256, 30 days.
set -eu

dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"

have_all() {
  for f in ca.pem ca.key server.pem server.key wrong-ca.pem; do
    [ -s "$dir/$f" ] || return 1
  done
  # Regenerate a day before expiry rather than hand out a dying certificate.
  openssl x509 -checkend 86400 -noout -in "$dir/server.pem" >/dev/null 2>&1
}

have_all && exit 0

# Concurrent runs (parallel test jobs) must not mix files from two CAs: take a lock.
lock="$dir/.lock"
tries=0
until mkdir "$lock" 2>/dev/null; do
  tries=$((tries + 1))
  if [ "$tries" -gt 300 ]; then rmdir "$lock" 2>/dev/null || true; tries=0; fi  # stale (30 s)
  sleep 0.1
done
work=$(mktemp -d "$dir/.work.XXXXXX")
cleanup() { rm -rf "$work"; rmdir "$lock" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 1' INT TERM
have_all && exit 0   # another run finished while we waited

log="$work/openssl.log"
run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "certs.sh: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

newkey() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

cat >"$work/ext.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = DNS:*.tencentcloudapi.com, DNS:*.ap-guangzhou.tencentcloudapi.com, DNS:tencentcloudapi.com, DNS:open.volcengineapi.com, DNS:*.volcengineapi.com, DNS:localhost, IP:127.0.0.1
EOF

mkca() {  # mkca NAME "CN"
  newkey "$work/$1.key"
  run openssl req -new -x509 -key "$work/$1.key" -out "$work/$1.pem" -days 30 \
    -subj "/O=cloudrenew tests/CN=$2" -config "$work/ext.cnf" -extensions ca
}

mkca ca "cloudrenew fakecloud test CA"
mkca wrong-ca "cloudrenew unrelated CA"

newkey "$work/server.key"
run openssl req -new -key "$work/server.key" -out "$work/server.csr" \
  -subj "/O=cloudrenew tests/CN=fakecloud"
run openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -out "$work/server.pem" -days 30 -sha256 \
  -extfile "$work/ext.cnf" -extensions server

chmod 600 "$work/ca.key" "$work/server.key"
# The server certificate goes last: have_all() treats its presence as "done".
for f in ca.key ca.pem wrong-ca.pem server.key server.pem; do
  mv -f "$work/$f" "$dir/$f"
done

"""Client side of selftest.py: a compact signer for both clouds (written apart
from signing.py, so the two check each other) and a harness that starts the
fake cloud and talks to it with http.client."""
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import creds

HERE = os.path.dirname(os.path.abspath(__file__))

TC = creds.TENCENT[0]
TC_STS = creds.TENCENT[1]
VOLC = creds.VOLCENGINE[0]
VOLC_STS = creds.VOLCENGINE[1]
VECTOR_PAYLOAD = (r'{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], '
                  r'"Name": "instance-name"}]}')


# ---- a compact client-side signer, independent of signing.py --------------------

def _sha(b):
    return hashlib.sha256(b if isinstance(b, bytes) else b.encode()).hexdigest()


def _mac(k, m):
    return hmac.new(k if isinstance(k, bytes) else k.encode(), m.encode(), hashlib.sha256)


def tc3_headers(cred, service, action, version, payload, host, ts=None, region=None,
                method="POST", query="", ctype="application/json", sign_action=False,
                token=None):
    ts = int(time.time()) if ts is None else ts
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    hdrs = {"content-type": ctype, "host": host}
    if sign_action:
        hdrs["x-tc-action"] = action
    names = sorted(hdrs)
    canon = "%s\n/\n%s\n%s\n%s\n%s" % (
        method, query, "".join("%s:%s\n" % (n, hdrs[n].lower()) for n in names),
        ";".join(names), _sha(payload))
    sts = "TC3-HMAC-SHA256\n%d\n%s/%s/tc3_request\n%s" % (ts, date, service, _sha(canon))
    k = _mac("TC3" + cred["secret_key"], date).digest()
    k = _mac(_mac(k, service).digest(), "tc3_request").digest()
    sig = _mac(k, sts).hexdigest()
    out = {"Content-Type": ctype, "Host": host, "X-TC-Action": action, "X-TC-Version": version,
           "X-TC-Timestamp": str(ts),
           "Authorization": "TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, SignedHeaders=%s, "
                            "Signature=%s" % (cred["secret_id"], date, service, ";".join(names),
                                              sig)}
    if region:
        out["X-TC-Region"] = region
    if token or cred.get("token"):
        out["X-TC-Token"] = token or cred["token"]
    return out, _sha(canon), sig


def volc_request(cred, service, region, method, params, host, body=b"", ctype=None,
                 x_date=None, token=None):
    """Returns (headers, query string, hashed canonical request, signature)."""
    x_date = x_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    hdrs = {"host": host, "x-date": x_date, "x-content-sha256": _sha(body)}
    if ctype:
        hdrs["content-type"] = ctype
    tok = token or cred.get("session_token")
    if tok:
        hdrs["x-security-token"] = tok
    names = sorted(hdrs)
    q = "&".join("%s=%s" % (quote(k, safe="-_.~"), quote(str(v), safe="-_.~"))
                 for k, v in sorted(params.items()))
    canon = "%s\n/\n%s\n%s\n%s\n%s" % (
        method, q, "".join("%s:%s\n" % (n, hdrs[n]) for n in names), ";".join(names), _sha(body))
    sts = "HMAC-SHA256\n%s\n%s/%s/%s/request\n%s" % (x_date, x_date[:8], region, service,
                                                    _sha(canon))
    k = cred["secret_key"].encode()
    for part in (x_date[:8], region, service, "request"):
        k = _mac(k, part).digest()
    sig = _mac(k, sts).hexdigest()
    hdrs["authorization"] = "HMAC-SHA256 Credential=%s/%s/%s/%s/request, SignedHeaders=%s, " \
        "Signature=%s" % (cred["access_key"], x_date[:8], region, service, ";".join(names), sig)
    return hdrs, q, _sha(canon), sig


# ---- harness ------------------------------------------------------------------

class Fake:
    def __init__(self, certs):
        self.certs = certs
        cmd = [sys.executable, os.path.join(HERE, "fakecloud.py"), "--port", "0", "--tls-port",
               "0", "--cert", certs + "/server.pem", "--key", certs + "/server.key"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fakecloud did not start (its stderr is above)")
        info = json.loads(line)
        self.port, self.tls_port = info["http_port"], info["https_port"]
        self.host = "127.0.0.1:%d" % self.port
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def send(self, method, path, headers=None, body=b"", conn=None):
        c = conn or self.conn
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data

    def control(self, method, name, obj=None):
        st, _, data = self.send(method, "/__fake/" + name, {"Content-Type": "application/json"},
                                json.dumps(obj or {}).encode() if method == "POST" else b"")
        assert st == 200, (name, st, data)
        return json.loads(data)

    def tencent(self, service, action, params, version=None, cred=TC, region="ap-guangzhou",
                conn=None, **kw):
        version = version or {"cvm": "2017-03-12", "teo": "2022-09-01",
                              "yunjing": "2018-02-28"}[service]
        payload = json.dumps(params)
        hdrs, _, _ = tc3_headers(cred, service, action, version, payload, self.host,
                                 region=region, **kw)
        st, _, data = self.send("POST", "/", hdrs, payload.encode(), conn)
        assert st == 200, (st, data)
        return json.loads(data)["Response"]

    def volc(self, service, action, version, params, method="GET", body=None, cred=VOLC, **kw):
        query = dict(params if method == "GET" else {}, Action=action, Version=version)
        raw = json.dumps(body).encode() if body is not None else b""
        hdrs, q, _, _ = volc_request(cred, service, "cn-beijing", method, query, self.host, raw,
                                     "application/json" if body is not None else None, **kw)
        st, rh, data = self.send(method, "/?" + q, hdrs, raw)
        return st, rh, json.loads(data)

    def stop(self):
        try:
            self.control("POST", "shutdown")
            self.proc.wait(5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def raw_exchange(port, request_bytes, wait=5):
    """Send raw bytes; return everything the server sent before closing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        s.sendall(request_bytes)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()


def raw_tencent(fake, action, params, service="cvm"):
    payload = json.dumps(params)
    hdrs, _, _ = tc3_headers(TC, service, action, "2017-03-12", payload, fake.host,
                             region="ap-guangzhou")
    head = "POST / HTTP/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in hdrs.items())
    head += "Content-Length: %d\r\n\r\n" % len(payload)
    return head.encode() + payload.encode()

#!/usr/bin/env python3
"""A hostile HTTP server for spec/hostile_spec.lua (Python stdlib only).

Listens on 127.0.0.1 (an ephemeral port unless --port), prints one JSON line
{"port": N, "pid": P} and serves until stdin closes (the spec holds the pipe).
Every request to a path outside /__hostile/ is counted per action (X-TC-Action
header or the Action query parameter; a Volcengine ClientToken is recorded too),
then answered the way the current mode says: a well-formed answer, or one of
many ways to misbehave (see MODES). Control endpoints (never counted):
  POST /__hostile/mode   {"mode": "drip_headers", ...options}   (all later requests)
  POST /__hostile/reset  clear counts, mode back to "ok"
  GET  /__hostile/counts {"actions": {Action: n}, "tokens": {Action: [token, ...]}}
"""
import json
import socket
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATE = {"mode": {"mode": "ok"}, "actions": {}, "tokens": {}}
DRIP_LIMIT = 30.0        # a dripping answer gives up after this many seconds
ENDLESS_LIMIT = 64 << 20  # an endless answer gives up after this many bytes


def read_request(conn):
    """Return (method, target, headers dict lower-cased, body) or None."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target = lines[0].split(" ")[0:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    need = int(headers.get("content-length", "0") or 0)
    while len(body) < need:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return method, target, headers, body


def tc_ok():
    return json.dumps({"Response": {"RequestId": "hostile-ok", "Price": {"InstancePrice": {
        "OriginalPrice": 100, "DiscountPrice": 80}}}}).encode()


def tc_error(code):
    return json.dumps({"Response": {"RequestId": "hostile-err",
                                    "Error": {"Code": code, "Message": "hostile " + code}}}).encode()


def volc_ok(action):
    return json.dumps({"ResponseMetadata": {"RequestId": "hostile-ok", "Action": action,
                                            "Version": "2020-04-01"},
                       "Result": {"OrderId": "hostile-order"}}).encode()


def volc_error(code):
    return json.dumps({"ResponseMetadata": {"RequestId": "hostile-err",
                                            "Error": {"Code": code, "Message": "hostile " + code}}}).encode()


def answer(status, body, extra=(), reason="OK"):
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" \
           "Connection: close\r\n" % (status, reason, len(body))
    for name, value in extra:
        head += "%s: %s\r\n" % (name, value)
    return head.encode("latin-1") + b"\r\n" + body


def drip(conn, data, every):
    """Send data one byte at a time; then keep dripping spaces until the peer leaves."""
    start = time.time()
    try:
        i = 0
        while time.time() - start < DRIP_LIMIT:
            conn.sendall(data[i:i + 1] if i < len(data) else b" ")
            i += 1
            time.sleep(every)
    except OSError:
        pass


def endless(conn, prefix, unit):
    sent = 0
    try:
        conn.sendall(prefix)
        while sent < ENDLESS_LIMIT:
            conn.sendall(unit)
            sent += len(unit)
    except OSError:
        pass


def misbehave(conn, mode, cloud, action):
    name = mode["mode"]
    ok = tc_ok() if cloud == "tencent" else volc_ok(action)
    err = tc_error if cloud == "tencent" else volc_error
    if name == "ok":
        conn.sendall(answer(200, ok))
    elif name == "drip_headers":
        drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000, mode.get("every", 0.05))
    elif name == "endless_headers":
        endless(conn, b"HTTP/1.1 200 OK\r\n", b"X-Endless: " + b"h" * 100 + b"\r\n")
    elif name == "drip_body":
        drip(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + ok, mode.get("every", 0.05))
    elif name == "endless_body":
        endless(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", b"[" * 65536)
    elif name == "oversized":
        body = b'{"Response": {"Pad": "' + b"x" * (mode.get("size", 4 << 20)) + b'"}}'
        conn.sendall(answer(200, body))
    elif name == "garbage_json":
        conn.sendall(answer(200, b"{\"Response\": {\"RequestId\": \xff\xfe garbage"))
    elif name == "deep_json":
        conn.sendall(answer(200, b"[" * mode.get("depth", 100000)))
    elif name == "deep_object":
        depth = mode.get("depth", 100000)
        conn.sendall(answer(200, b'{"Response":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"))
    elif name == "redirect":
        conn.sendall(answer(mode.get("status", 302), b"", [("Location", mode.get("location", "http://127.0.0.1:9/moved"))],
                            reason="Found"))
    elif name == "mid_body_close":
        conn.sendall(answer(200, ok)[:-len(ok) // 2])
    elif name == "length_lie_short":    # says more than it sends, then closes
        conn.sendall(answer(200, ok).replace(b"Content-Length: %d" % len(ok), b"Content-Length: %d" % (len(ok) + 500)))
    elif name == "length_lie_long":     # says less than it sends: the rest is junk
        conn.sendall(answer(200, ok).replace(b"Content-Length: %d" % len(ok), b"Content-Length: 7"))
    elif name == "garbage_status":
        conn.sendall(b"HTTP/1.1 two hundred OK\r\nContent-Length: 2\r\n\r\n{}")
    elif name == "no_status":
        conn.sendall(b"\x00\x01\x02 garbage \xff\r\n\r\n")
    elif name == "http09":
        conn.sendall(ok)
    elif name == "throttle":
        body = err("RequestLimitExceeded" if cloud == "tencent" else "AccountFlowLimitExceeded")
        extra = [("Retry-After", mode["retry_after"])] if "retry_after" in mode else []
        conn.sendall(answer(mode.get("status", 200 if cloud == "tencent" else 429), body, extra))
    elif name == "clock":
        body = err("AuthFailure.SignatureExpire" if cloud == "tencent" else "SignatureExpire")
        conn.sendall(answer(200 if cloud == "tencent" else 401, body, [("Date", mode["date"])]))
    elif name == "ok_date":
        conn.sendall(answer(200, ok, [("Date", mode["date"])]))
    elif name == "folded":
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-A:\r\n  fHTTP/1.1 200 OA: 1\r\n  folded\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(ok) + ok)
    elif name == "close":
        pass
    else:
        conn.sendall(answer(500, b"unknown hostile mode " + name.encode()))


def control(conn, method, path, body):
    with LOCK:
        if path == "/__hostile/mode" and method == "POST":
            STATE["mode"] = json.loads(body or b"{}")
            out = {"ok": True}
        elif path == "/__hostile/reset":
            STATE.update(mode={"mode": "ok"}, actions={}, tokens={})
            out = {"ok": True}
        elif path == "/__hostile/counts":
            out = {"actions": STATE["actions"], "tokens": STATE["tokens"]}
        else:
            out = {"error": "unknown control " + path}
    conn.sendall(answer(200, json.dumps(out).encode()))


def handle(conn):
    try:
        conn.settimeout(DRIP_LIMIT + 5)
        req = read_request(conn)
        if not req:
            return
        method, target, headers, body = req
        path, _, query = target.partition("?")
        if path.startswith("/__hostile/"):
            return control(conn, method, path, body)
        q = urllib.parse.parse_qs(query)
        cloud = "tencent" if "x-tc-action" in headers else "volcengine"
        action = headers.get("x-tc-action") or (q.get("Action") or ["?"])[0]
        token = (q.get("ClientToken") or [None])[0]
        with LOCK:
            STATE["actions"][action] = STATE["actions"].get(action, 0) + 1
            if token:
                STATE["tokens"].setdefault(action, []).append(token)
            mode = dict(STATE["mode"])
        misbehave(conn, mode, cloud, action)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)

    def serve():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    print(json.dumps({"port": srv.getsockname()[1], "pid": __import__("os").getpid()}), flush=True)
    sys.stdin.read()          # the spec holds our stdin: when it goes, we go


if __name__ == "__main__":
    main()

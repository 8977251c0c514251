"""A misbehaving Redis for spec/redis_faults_spec.lua (stdlib only), on 127.0.0.1.

  python3 hostile_redis.py PORTFILE LIFE MODE [RESP]

MODE: silent (accept, read, never answer), drip (answer a 1000-byte bulk string
one byte every 0.5 s), reply (SCRIPT LOAD gets a SHA; every other command gets
RESP, with \\r\\n written as the two characters backslash-r backslash-n), error
(AUTH is accepted, every later command gets an error echoing what AUTH sent). Writes its port to
PORTFILE and stops by itself after LIFE seconds.
"""
import socket
import sys
import threading
import time

portfile, life, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
resp = (sys.argv[4] if len(sys.argv) > 4 else "").replace("\\r\\n", "\r\n").encode()
end = time.time() + life


seen = []


def serve(conn):
    conn.settimeout(0.2)
    try:
        while time.time() < end:
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            if mode == "silent":
                continue
            if mode == "drip":
                conn.sendall(b"$1000\r\n")
                while time.time() < end:
                    conn.sendall(b"x")
                    time.sleep(0.5)
                return
            if mode == "error":      # AUTH accepted, then every error echoes what AUTH sent
                if b"AUTH" in data.upper():
                    seen.append(data.replace(b"\r\n", b" ")[:200])
                    conn.sendall(b"+OK\r\n")
                else:
                    conn.sendall(b"-ERR not allowed (" + (seen[-1] if seen else b"") + b")\r\n")
                continue
            if b"SCRIPT" in data.upper() and b"LOAD" in data.upper():
                conn.sendall(b"$40\r\n" + b"a" * 40 + b"\r\n")
            else:
                conn.sendall(resp)
    except OSError:
        pass
    finally:
        conn.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
s.settimeout(0.2)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
s.close()

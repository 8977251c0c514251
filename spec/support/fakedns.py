"""A tiny DNS server for specs: answers A 127.0.0.1 for names ending in
.fake.test and never answers anything else (a resolver that hangs).
Prints "PORT PID" on its first line."""
import os
import socket
import struct
import sys
import time

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], os.getpid(), flush=True)
end = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 600)
s.settimeout(1)
while time.monotonic() < end:
    try:
        data, peer = s.recvfrom(512)
    except socket.timeout:
        continue
    if len(data) < 12:
        continue
    qid = data[:2]
    i, labels = 12, []
    while i < len(data) and data[i] != 0:
        n = data[i]
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qend = i + 5
    name = ".".join(labels).lower()
    qtype = struct.unpack("!H", data[i + 1:i + 3])[0] if qend <= len(data) else 0
    if not name.endswith("fake.test"):
        continue            # silence: the resolver waits resolver_timeout
    question = data[12:qend]
    if qtype == 1:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
        ancount = 1
    else:
        answer, ancount = b"", 0
    header = qid + struct.pack("!HHHHH", 0x8180, 1, ancount, 0, 0)
    s.sendto(header + question + answer, peer)

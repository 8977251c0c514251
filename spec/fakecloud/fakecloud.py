#!/usr/bin/env python3
"""fakecloud: a local stand-in for the Tencent Cloud and Volcengine APIs that
cloudrenew calls. It verifies every signature with its own implementation,
records what it received and can be told to misbehave. See README.md.

Prints one JSON line {"http_port", "https_port", "pid"} once listening, then
serves until SIGTERM/SIGINT, POST /__fake/shutdown, or EOF on stdin when stdin
is a pipe (so a parent holding the pipe takes the server down with it).
"""
import argparse
import json
import os
import signal
import ssl
import stat
import sys
import threading

from server import Server
from state import State


def parse_args(argv):
    p = argparse.ArgumentParser(description="fake Tencent Cloud / Volcengine API server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="HTTP port (0 = any free port)")
    p.add_argument("--tls-port", type=int, default=None, help="also serve HTTPS (0 = any port)")
    p.add_argument("--cert", help="server certificate (PEM) for --tls-port")
    p.add_argument("--key", help="server private key (PEM) for --tls-port")
    p.add_argument("--latency", type=float, default=0.0, help="seconds slept per API request")
    p.add_argument("--limits", action="store_true", help="enforce the per-action rate limits")
    p.add_argument("--quiet", action="store_true", help="no request log (the default)")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = p.parse_args(argv)
    if args.tls_port is not None and not (args.cert and args.key):
        p.error("--tls-port needs --cert and --key")
    return args


def watch_stdin(stop):
    """End with the parent: EOF on a stdin pipe means whoever held it is gone."""
    try:
        if not stat.S_ISFIFO(os.fstat(0).st_mode):
            return
    except OSError:
        return

    def reader():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()
    threading.Thread(target=reader, daemon=True).start()


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    stop = threading.Event()
    state = State(latency=args.latency, limits=args.limits)
    verbose = args.verbose and not args.quiet
    servers = [Server((args.host, args.port), state, stop, verbose=verbose)]
    if args.tls_port is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        servers.append(Server((args.host, args.tls_port), state, stop, ctx, verbose))
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    watch_stdin(stop)
    info = {"http_port": servers[0].server_port,
            "https_port": servers[1].server_port if len(servers) > 1 else None,
            "pid": os.getpid()}
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""HTTP/1.1 front end: reads requests, routes them to a cloud, runs the
verify -> throttle -> fault -> dispatch pipeline, records, and answers
(or misbehaves on purpose when a fault rule says so)."""
import socket
import socketserver
import ssl
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import control
import metadata
import sts
import tencent
import volcengine
from params import Reply, Request, json_reply
from state import EXECUTING_FAULTS

MAX_BODY = 64 * 1024 * 1024
HUGE_BYTES = 12 * 1024 * 1024
BAD_GATEWAY = ("<html><head><title>502 Bad Gateway</title></head>"
               "<body><center><h1>502 Bad Gateway</h1></center></body></html>")


def route(req):
    """Tencent requests carry X-TC-Action; Volcengine ones an Action query or its auth scheme.
    Metadata paths and unsigned federation calls go to metadata.py / sts.py."""
    if metadata.handles(req.path):
        return metadata
    if sts.unsigned(req):
        return sts
    if "x-tc-action" in req.headers:
        return tencent
    names = {k for k, _ in parse_qsl(req.query, keep_blank_values=True)}
    if "Action" in names or req.headers.get("authorization", "").startswith("HMAC-SHA256"):
        return volcengine
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakecloud/1.0"
    sys_version = ""
    timeout = 300   # idle keep-alive connections eventually free their thread

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def do_GET(self):
        try:
            self._serve()
        except (ConnectionError, socket.timeout, ssl.SSLError):
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._send(json_reply(500, {"error": "fakecloud internal error (see its stderr)"}))
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fakecloud: %s %s\n" % (self.address_string(), fmt % args))

    # ---- request plumbing ------------------------------------------------------

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass     # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _serve(self):
        state = self.server.state
        received = time.time()
        target = self.path if self.path.startswith("/") else urlsplit(self.path).path or "/"
        path, _, query = target.partition("?")
        body = self._read_body()
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + "," + v if k in headers else v
        if path.startswith("/__fake/"):
            reply = control.handle(self.command, path, query, body, state, self.server.stop)
            self._send(reply)
            if reply.after:
                reply.after()
            return
        req = Request(self.command, path, query, headers, body)
        with state.lock:
            latency = state.latency
        if latency:
            time.sleep(latency)
        cloud = route(req)
        rec = {"cloud": cloud and cloud.__name__, "service": None, "action": None,
               "version": None, "method": req.method, "path": path, "query": query,
               "headers": headers, "body": body.decode("utf-8", "replace"),
               "error": None, "status": None, "fault": None, "time": received,
               # the client's port tells which connection carried the request (keep-alive)
               "peer_port": self.client_address[1] if isinstance(self.client_address, tuple) else None}
        if cloud is None:
            reply = json_reply(404, {"error": "not a cloud API request (no X-TC-Action header "
                                              "or Action query parameter)"}, error="NotFound")
            self._finish(rec, reply)
            return
        self._pipeline(req, cloud, rec)

    def _pipeline(self, req, cloud, rec):
        state = self.server.state
        ctx, reply = cloud.verify(req, state)
        fault = None
        if reply is None:
            if not state.admit(ctx.cred_id, ctx.action or ""):
                reply = cloud.throttled(ctx)
            else:
                fault = state.take_fault(ctx.action or "")
                if fault is None or fault.kind in EXECUTING_FAULTS or (fault.kind == "body" and fault.execute):
                    with state.lock:
                        reply = cloud.dispatch(req, ctx, state)
        rec.update(service=ctx.service, action=ctx.action, version=ctx.version,
                   region=getattr(ctx, "region", None))
        if fault is None:
            self._finish(rec, reply)
        else:
            self._fault(fault, cloud, ctx, rec, reply)

    def _finish(self, rec, reply):
        # Record before answering so a client that reads the log next sees this request.
        rec.update(status=reply.status, error=reply.error)
        self.server.state.record(rec)
        self._send(reply)

    def _fault(self, fault, cloud, ctx, rec, reply):
        """Misbehave as the rule says; `reply` is the real answer when the action ran."""
        kind = rec["fault"] = fault.kind
        if kind in ("drop_before", "drop_after"):
            rec.update(status=0, error=reply and reply.error)
            self.server.state.record(rec)
            time.sleep(fault.delay)
            self._drop()
            return
        if kind == "truncated":
            rec.update(status=reply.status, error=reply.error)
            self.server.state.record(rec)
            time.sleep(fault.delay)
            self._send(reply, cut=max(1, len(reply.body) // 2))
            self._drop()
            return
        if kind == "slow":
            fake = reply
        elif kind == "status500":
            fake = Reply(500, b"", content_type="text/plain")
        elif kind == "status502_html":
            fake = Reply(502, BAD_GATEWAY, content_type="text/html")
        elif kind == "nonjson":
            fake = Reply(200, "<html>oops</html>", content_type="text/html", error=reply.error)
        elif kind == "huge":
            fake = Reply(200, _huge_body(cloud))
        elif kind == "body":
            fake = Reply(fault.status, fault.body, error=reply and reply.error)
        else:  # throttle
            fake = cloud.throttled(ctx)
            if fault.retry_after is not None:
                fake.headers["Retry-After"] = fault.retry_after
        rec.update(status=fake.status, error=fake.error)
        self.server.state.record(rec)
        time.sleep(fault.delay)
        self._send(fake)

    def date_time_string(self, timestamp=None):
        # The Date header shows the fake's own (possibly skewed) clock, as a real
        # server's would: clients re-sign with it after a timestamp error.
        # Config date_header replaces it verbatim, so specs can send absurd dates.
        if timestamp is None and self.server.state.date_header is not None:
            return self.server.state.date_header
        return super().date_time_string(self.server.state.now() if timestamp is None else timestamp)

    def _send(self, reply, cut=None):
        """Write a complete response; with cut, only that many body bytes (Content-Length lies)."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        # Head and body in one write: two small writes meet Nagle + delayed ACK (~40 ms).
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(reply.body if cut is None else reply.body[:cut])
        self.flush_headers()

    def _drop(self):
        """Close the TCP connection at once: the client gets EOF and no (more) bytes."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()


def _huge_body(cloud):
    """Valid JSON shaped like a success, so only a client-side size cap rejects it."""
    if cloud is tencent:
        head = '{"Response":{"RequestId":"huge-response","Padding":"'
        tail = '"}}'
    else:
        head = ('{"ResponseMetadata":{"RequestId":"huge-response","Action":"","Version":"",'
                '"Service":"","Region":""},"Result":{"Padding":"')
        tail = '"}}'
    return (head + "x" * (HUGE_BYTES - len(head) - len(tail)) + tail).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, state, stop, ssl_context=None, verbose=False):
        self.state = state
        self.stop = stop
        self.ssl_context = ssl_context
        self.verbose = verbose
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind calls getfqdn(), which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        # The TLS handshake runs here, in the connection's own thread, so a slow or
        # failing client never blocks the accept loop.
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if self.verbose:
                sys.stderr.write("fakecloud: TLS handshake failed: %s\n" % e)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)

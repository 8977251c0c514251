"""Instance metadata services (routed here by server.route on their paths).

Tencent CVM: GET /latest/meta-data/cam/security-credentials/ -> the role name;
GET .../<role> -> {TmpSecretId, TmpSecretKey, Token, ExpiredTime, Expiration, Code}.
Volcengine ECS (IMDSv2): PUT /latest/api/token with X-volc-ecs-metadata-token-ttl-seconds
-> a session token; GET /volcstack/latest/iam/security_credentials/[<role>] with
X-volc-ecs-metadata-token -> the role name / {AccessKeyId, SecretAccessKey,
SessionToken, ExpiredTime}. Without a valid token: 401.
The actions recorded are MetadataRole, MetadataCredentials and MetadataToken, so
faults (`{"action": "MetadataCredentials", "kind": "status500"}`) apply to them.
"""
import secrets
import threading
import time

import sts
from params import Ctx, Reply, json_reply

TC_PREFIX = "/latest/meta-data/cam/security-credentials/"
VOLC_TOKEN = "/latest/api/token"
VOLC_PREFIX = "/volcstack/latest/iam/security_credentials/"

_lock = threading.Lock()
_tokens = {}      # IMDSv2 session token -> expiry (monotonic)


def handles(path):
    return path.startswith(TC_PREFIX) or path == VOLC_TOKEN or path.startswith(VOLC_PREFIX)


def verify(req, state):
    p = req.path
    if p == VOLC_TOKEN:
        action = "MetadataToken"
    elif p in (TC_PREFIX, VOLC_PREFIX):
        action = "MetadataRole"
    else:
        action = "MetadataCredentials"
    ctx = Ctx("tencent" if p.startswith(TC_PREFIX) else "volcengine", action=action, service="metadata")
    return ctx, None


def _text(status, s):
    return Reply(status, s, content_type="text/plain", error=None if status == 200 else str(status))


def throttled(ctx):
    return _text(429, "too many requests")


def dispatch(req, ctx, state):
    cfg = sts.config()
    if cfg["metadata"] == "down":
        return _text(500, "metadata service unavailable")
    if ctx.cloud == "volcengine":
        if req.path == VOLC_TOKEN:
            if req.method != "PUT":
                return _text(405, "PUT required")
            ttl = req.headers.get("x-volc-ecs-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return _text(400, "X-volc-ecs-metadata-token-ttl-seconds must be 1..21600")
            tok = "imds-" + secrets.token_hex(16)
            with _lock:
                _tokens[tok] = time.monotonic() + int(ttl)
            return _text(200, tok)
        with _lock:
            exp = _tokens.get(req.headers.get("x-volc-ecs-metadata-token", ""))
        if exp is None or exp < time.monotonic():
            return _text(401, "missing or expired X-volc-ecs-metadata-token")
    if req.method != "GET":
        return _text(405, "GET required")
    prefix = TC_PREFIX if ctx.cloud == "tencent" else VOLC_PREFIX
    role = req.path[len(prefix):]
    if role == "":
        return _text(200, cfg["role"])
    if role != cfg["role"]:
        return _text(404, "no such role")
    if cfg["metadata"] == "garbage":
        return _text(200, "<html>not json</html>")
    e = sts.issue(state, ctx.cloud, ctx.cloud + ":metadata", cfg["ttl"])
    if ctx.cloud == "tencent":
        return json_reply(200, {"TmpSecretId": e["secret_id"], "TmpSecretKey": e["secret_key"],
                                "Token": e["token"], "ExpiredTime": e["expires"],
                                "Expiration": sts.rfc3339(e["expires"]), "Code": "Success"})
    return json_reply(200, {"AccessKeyId": e["access_key"], "SecretAccessKey": e["secret_key"],
                            "SessionToken": e["session_token"], "ExpiredTime": sts.rfc3339(e["expires"])})


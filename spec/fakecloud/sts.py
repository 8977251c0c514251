"""Role and federated credentials: the fake's IAM side.

- Tencent sts 2018-08-13: AssumeRole (signed, through tencent.py's checks) and
  AssumeRoleWithWebIdentity (unsigned: `Authorization: SKIP`).
- Volcengine sts 2018-01-01: AssumeRole (signed, through volcengine.py) and
  AssumeRoleWithOIDC (unsigned: no Authorization header).
- `POST /__fake/iam` configures roles, tokens and lifetimes; `GET /__fake/iam`
  answers the config and how many credentials each path issued.

Every issued credential is added to the fake's credential table with an expiry
(`expires`): tencent.py / volcengine.py reject it once that time has passed.
"""
import datetime
import json
import math
import re
import secrets
import threading
from urllib.parse import parse_qsl

import control
import official
import tencent
import volcengine
from params import Ctx, Invalid

DEFAULTS = {
    "role": "cloudrenew-role",        # the instance's role (both metadata services)
    "ttl": 7200,                      # lifetime of instance-role credentials, seconds
    "sts_ttl": None,                  # STS: None = DurationSeconds as asked
    "oidc_token": "fake-oidc-token",  # the web identity / OIDC token accepted
    "provider_id": "fake-provider",   # Tencent ProviderId accepted
    "account": "100000000001",
    "metadata": "ok",                 # "ok" | "down" (HTTP 500) | "garbage" (non-JSON 200)
    "sts_expiry": None,               # STS: None = the real expiry; a string = sent as the expiry instead
}

_lock = threading.Lock()
_config = dict(DEFAULTS)
_issued = {}
_secrets = []      # every credential issued since the last POST /__fake/iam (specs look for leaks)


def config():
    with _lock:
        return dict(_config)


def _set_config(state, data, q, stop):
    if not isinstance(data, dict):
        raise ValueError("iam config must be a JSON object")
    unknown = set(data) - set(DEFAULTS)
    if unknown:
        raise ValueError("unknown iam keys: %s" % sorted(unknown))
    new = dict(DEFAULTS)
    new.update(data)
    for k in ("ttl",):
        if not isinstance(new[k], (int, float)) or isinstance(new[k], bool) or new[k] < -86400:
            raise ValueError("%s must be a number of seconds" % k)
    if new["sts_ttl"] is not None and (not isinstance(new["sts_ttl"], (int, float)) or isinstance(new["sts_ttl"], bool)):
        raise ValueError("sts_ttl must be a number of seconds or null")
    if new["sts_expiry"] is not None and not isinstance(new["sts_expiry"], str):
        raise ValueError("sts_expiry must be a string or null")
    if new["metadata"] not in ("ok", "down", "garbage"):
        raise ValueError('metadata must be "ok", "down" or "garbage"')
    for k in ("role", "oidc_token", "provider_id", "account"):
        if not isinstance(new[k], str) or not new[k]:
            raise ValueError("%s must be a non-empty string" % k)
    with _lock:
        _config.clear()
        _config.update(new)
        _issued.clear()
        del _secrets[:]
    return _view()


def _view():
    with _lock:
        return {"config": dict(_config), "issued": dict(_issued), "credentials": list(_secrets)}


control.POSTS["iam"] = _set_config
control.GETS["iam"] = lambda state, data, q, stop: _view()


def rfc3339(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(state, cloud, how, ttl):
    """New random credentials known to the fake until now + ttl; counted under `how`."""
    expires = int(math.ceil(state.now() + ttl))    # whole seconds, never sooner than ttl
    hexs = secrets.token_hex
    if cloud == "tencent":
        entry = {"secret_id": "AKIDtmp" + hexs(12), "secret_key": "tmpkey" + hexs(16),
                 "token": "tmptoken" + hexs(24), "expires": expires}
        with state.lock:
            state.tencent[entry["secret_id"]] = entry
    else:
        entry = {"access_key": "AKTPtmp" + hexs(12), "secret_key": "tmpvkey" + hexs(16),
                 "session_token": "tmpvtoken" + hexs(24), "expires": expires}
        with state.lock:
            state.volcengine[entry["access_key"]] = entry
    with _lock:
        _issued[how] = _issued.get(how, 0) + 1
        _secrets.append(dict(entry, how=how))
        del _secrets[:-500]
    return entry


def _duration(p, lo, hi, default):
    d = p.get("DurationSeconds", default)
    if isinstance(d, str) and d.isdigit():
        d = int(d)
    if not isinstance(d, int) or isinstance(d, bool) or not lo <= d <= hi:
        raise Invalid("InvalidParameterValue" if lo == 0 else "InvalidParameter",
                      "DurationSeconds must be an integer in %d..%d" % (lo, hi))
    return d


def _session_name(p, hi):
    n = p.get("RoleSessionName")
    if not isinstance(n, str) or not 2 <= len(n) <= hi or not re.fullmatch(r"[\w+=,.@-]+", n):
        raise Invalid("InvalidParameter.RoleSessionName" if hi == 128 else "InvalidParameter",
                      "RoleSessionName must be 2-%d characters of [\\w+=,.@-]" % hi)
    return n


# ---- Tencent ------------------------------------------------------------------

TC_ARN = re.compile(r"qcs::cam::uin/\d+:role(Name)?/[\w+=,.@-]+")


def _tc_credentials(state, p, how):
    arn = p.get("RoleArn")
    if not isinstance(arn, str) or not TC_ARN.fullmatch(arn):
        raise Invalid("InvalidParameter.RoleArn", "RoleArn %r is not a role ARN" % (arn,))
    _session_name(p, 128)
    d = _duration(p, 0, 43200, 7200)
    ttl = config()["sts_ttl"]
    e = issue(state, "tencent", how, d if ttl is None else ttl)
    return {"Credentials": {"TmpSecretId": e["secret_id"], "TmpSecretKey": e["secret_key"],
                            "Token": e["token"]},
            "ExpiredTime": e["expires"] if config()["sts_expiry"] is None else config()["sts_expiry"],
            "Expiration": rfc3339(e["expires"]) if config()["sts_expiry"] is None else config()["sts_expiry"]}


def tc_assume_role(ctx, p, state):
    return _tc_credentials(state, p, "tencent:AssumeRole")


def tc_web_identity(ctx, p, state):
    cfg = config()
    if p.get("ProviderId") != cfg["provider_id"]:
        raise Invalid("InvalidParameter.ProviderId", "unknown ProviderId")
    if p.get("WebIdentityToken") != cfg["oidc_token"]:
        raise Invalid("InvalidParameter.WebIdentityTokenError", "the web identity token is not valid")
    return _tc_credentials(state, p, "tencent:AssumeRoleWithWebIdentity")


tencent.VERSIONS["sts"] = "2018-08-13"
tencent.ACTIONS["sts"] = {"AssumeRole": tc_assume_role}


# ---- Volcengine ---------------------------------------------------------------

VOLC_TRN = re.compile(r"trn:iam::\d+:role/[\w+=,.@-]+")


def _volc_params(req, q):
    """Query parameters, then a form body on top: Volcengine STS is a query-protocol
    service (volcengine-go-sdk volcenginequery: a POST carries its parameters as
    application/x-www-form-urlencoded). A body of any other type is not read."""
    p = dict(q)
    ctype = (req.headers.get("content-type") or "").lower()
    if req.body and ctype.startswith("application/x-www-form-urlencoded"):
        p.update(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    return p


def _volc_credentials(state, p, how, expiry_field):
    trn = p.get("RoleTrn")
    if not isinstance(trn, str) or not VOLC_TRN.fullmatch(trn):
        raise Invalid("InvalidParameter", "RoleTrn %r is not a role TRN" % (trn,))
    _session_name(p, 64)
    d = _duration(p, 900, 43200, 3600)
    ttl = config()["sts_ttl"]
    e = issue(state, "volcengine", how, d if ttl is None else ttl)
    return {"Credentials": {"AccessKeyId": e["access_key"], "SecretAccessKey": e["secret_key"],
                            "SessionToken": e["session_token"],
                            expiry_field: (rfc3339(e["expires"]) if config()["sts_expiry"] is None
                                           else config()["sts_expiry"]),
                            "CurrentTime": rfc3339(state.now())},
            "AssumedRoleUser": {"Trn": trn + "/" + p["RoleSessionName"]}}


def volc_assume_role(req, ctx, q, state):
    return _volc_credentials(state, _volc_params(req, q), "volcengine:AssumeRole", "ExpiredTime")


volcengine.ACTIONS["sts"] = {("AssumeRole", "2018-01-01"): volc_assume_role}


# ---- unsigned federation requests (routed here by server.route) ---------------

def unsigned(req):
    """AssumeRoleWithWebIdentity (Tencent, Authorization: SKIP) or AssumeRoleWithOIDC
    (Volcengine, no Authorization)."""
    if req.headers.get("x-tc-action") == "AssumeRoleWithWebIdentity":
        return True
    q = dict(parse_qsl(req.query, keep_blank_values=True))
    return q.get("Action") == "AssumeRoleWithOIDC" and not req.headers.get("authorization")


def verify(req, state):
    h = req.headers
    if "x-tc-action" in h:
        ctx = Ctx("tencent", action=h.get("x-tc-action"), version=h.get("x-tc-version"),
                  service="sts", region=h.get("x-tc-region"))
        if h.get("authorization") != "SKIP":
            return ctx, tencent.error(ctx, "AuthFailure.InvalidAuthorization",
                                      "AssumeRoleWithWebIdentity is sent unsigned (Authorization: SKIP)")
        if h.get("x-tc-version") != "2018-08-13":
            return ctx, tencent.error(ctx, "NoSuchVersion", "sts version must be 2018-08-13")
        return ctx, None
    q = dict(parse_qsl(req.query, keep_blank_values=True))
    ctx = Ctx("volcengine", action=q.get("Action"), version=q.get("Version"), service="sts")
    ctx.params = q
    if q.get("Version") != "2018-01-01":
        return ctx, volcengine.error(ctx, 404, "InvalidActionOrVersion", "sts version must be 2018-01-01")
    return ctx, None


def throttled(ctx):
    return (tencent if ctx.cloud == "tencent" else volcengine).throttled(ctx)


def dispatch(req, ctx, state):
    if ctx.cloud == "tencent":
        try:
            p = json.loads(req.body.decode("utf-8") or "null")
        except ValueError:
            p = None
        if not isinstance(p, dict):
            return tencent.error(ctx, "InvalidParameter", "the request body is not a JSON object")
        try:
            official.check_input(req, ctx, "tencent", p)
            result = tc_web_identity(ctx, p, state)
            official.check_output("tencent", ctx, result)
            return tencent.ok(result)
        except Invalid as e:
            return tencent.error(ctx, e.code, e.message)
        except official.Undefined as e:
            return official.reply(e)
    try:
        official.check_input(req, ctx, "volcengine")
        p = _volc_params(req, ctx.params)
        cfg = config()
        if p.get("OIDCToken") != cfg["oidc_token"]:
            raise Invalid("InvalidIdentityToken", "the OIDC token is not valid", 400)
        result = _volc_credentials(state, p, "volcengine:AssumeRoleWithOIDC", "Expiration")
        official.check_output("volcengine", ctx, result)
        return volcengine.ok(ctx, result)
    except Invalid as e:
        return volcengine.error(ctx, e.status, e.code, e.message)
    except official.Undefined as e:
        return official.reply(e)


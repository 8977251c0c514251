"""Volcengine OpenAPI (HMAC-SHA256): verification and the actions the fake
serves. Errors carry ResponseMetadata.Error with a 4xx/5xx HTTP status."""
import datetime
import hmac
import json
import re
from urllib.parse import parse_qsl

import official
import signing
from params import Ctx, Invalid, Reply, as_int, half_up_percent, json_reply
from state import dumps, request_id

# Public error numbers from the common error-code table; 0 where none is documented.
CODE_N = {"MissingParameter": 100002, "MissingAuthenticationToken": 100003,
          "InvalidTimestamp": 100006, "ServiceNotFound": 100007,
          "InvalidActionOrVersion": 100008, "InvalidAccessKey": 100009,
          "SignatureDoesNotMatch": 100010, "InternalError": 100014,
          "FlowLimitExceeded": 100018}
RENEW_PERIODS = set(range(1, 10)) | {12, 24, 36}
MAX_SKEW = 300

AUTH_RE = re.compile(r"HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*"
                     r"SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]+)\s*")


def _meta(ctx):
    return {"RequestId": request_id(), "Action": ctx.action or "", "Version": ctx.version or "",
            "Service": ctx.service or "", "Region": ctx.region or ""}


def error(ctx, status, code, message, headers=None):
    meta = _meta(ctx)
    meta["Error"] = {"Code": code, "CodeN": CODE_N.get(code, 0), "Message": message}
    return json_reply(status, {"ResponseMetadata": meta}, error=code, headers=headers)


def ok(ctx, result):
    # dumps: raw quotes may hold number literals json.dumps cannot write
    return Reply(200, dumps({"ResponseMetadata": _meta(ctx), "Result": result}))


def throttled(ctx):
    return error(ctx, 429, "FlowLimitExceeded",
                 "Too many requests for %s, please retry later" % ctx.action,
                 headers={"Retry-After": "1"})


def query_pairs(req):
    """Decoded query pairs, or None when the query string is malformed."""
    if not req.query:
        return []
    try:
        return parse_qsl(req.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None


def verify(req, state):
    """Authenticate the request; returns (ctx, error reply or None)."""
    h = req.headers
    pairs = query_pairs(req)
    first = {}
    for k, v in pairs or []:
        first.setdefault(k, v)
    ctx = Ctx("volcengine", action=first.get("Action"), version=first.get("Version"))
    ctx.params = first
    if pairs is None:
        return ctx, error(ctx, 400, "InvalidParameter", "malformed query string")
    if not h.get("authorization"):
        return ctx, error(ctx, 401, "MissingAuthenticationToken",
                          "Request is missing Authentication Token.")
    m = AUTH_RE.fullmatch(h["authorization"])
    scope = m and m.group(1).split("/")
    if not m or len(scope) != 5 or scope[4] != "request" or not re.fullmatch(r"\d{8}", scope[1]):
        return ctx, error(ctx, 400, "InvalidAuthorization",
                          "Invalid 'Authorization' header, Pls check authorization header.")
    ak, date8, ctx.region, ctx.service = scope[:4]
    names = m.group(2).split(";")
    if names != sorted(set(names)) or any(n != n.lower() for n in names) \
            or "host" not in names or "x-date" not in names:
        return ctx, error(ctx, 400, "InvalidAuthorization",
                          "SignedHeaders must be sorted, unique, lower-case and include host "
                          "and x-date")
    with state.lock:
        cred = state.volcengine.get(ak)
    if cred is None:
        return ctx, error(ctx, 401, "InvalidAccessKey",
                          "The accesskey [%s] included in the request is invalid." % ak)
    ctx.cred, ctx.cred_id = cred, ak
    x_date = h.get("x-date", "")
    try:
        when = datetime.datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        when = None
    if when is None or not re.fullmatch(r"\d{8}T\d{6}Z", x_date) \
            or abs(when - state.now()) > MAX_SKEW:
        return ctx, error(ctx, 400, "InvalidTimestamp",
                          "The Signature of the request is expired (X-Date %r)." % x_date)
    if date8 != x_date[:8]:
        return ctx, error(ctx, 401, "SignatureDoesNotMatch",
                          "credential scope date %s does not match X-Date %s" % (date8, x_date))
    sha = h.get("x-content-sha256")
    if sha is not None and sha.strip().lower() != signing.sha256_hex(req.body):
        return ctx, error(ctx, 401, "SignatureDoesNotMatch",
                          "X-Content-Sha256 does not match the body")
    canon = signing.volc_canonical_request(req.method, req.path, pairs, h, names, req.body)
    sts = signing.volc_string_to_sign(x_date, ctx.region, ctx.service, canon)
    expect = signing.volc_signature(cred["secret_key"], date8, ctx.region, ctx.service, sts)
    if not hmac.compare_digest(expect, m.group(3)):
        return ctx, error(ctx, 401, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature "
                          "you provided. Expected canonical request: %r" % canon)
    token = cred.get("session_token") or ""
    if token != h.get("x-security-token", "") or (token and "x-security-token" not in names):
        return ctx, error(ctx, 401, "InvalidSecretToken",
                          "Invalid secret token: X-Security-Token missing, unsigned or wrong")
    if cred.get("expires") is not None and state.now() >= cred["expires"]:   # sts.py issued it
        return ctx, error(ctx, 401, "InvalidSecretToken", "The security token has expired")
    return ctx, None


def dispatch(req, ctx, state):
    """Action/Version lookup, parameters, then the action. Call with state.lock held."""
    if not ctx.action or not ctx.version:
        missing = "Action" if not ctx.action else "Version"
        return error(ctx, 400, "MissingParameter", "The request is missing %s parameter." % missing)
    actions = ACTIONS.get(ctx.service)
    if actions is None:
        return error(ctx, 404, "ServiceNotFound", "This service[%s] not found." % ctx.service)
    handler = actions.get((ctx.action, ctx.version))
    if handler is None:
        return error(ctx, 404, "InvalidActionOrVersion",
                     "Could not find operation %s for version %s." % (ctx.action, ctx.version))
    try:
        official.check_input(req, ctx, "volcengine")
        result = handler(req, ctx, ctx.params, state)
        official.check_output("volcengine", ctx, result)
        return ok(ctx, result)
    except Invalid as e:
        return error(ctx, e.status, e.code, e.message)
    except official.Undefined as e:
        return official.reply(e)


def _need_method(req, ctx, method):
    if req.method != method:
        raise Invalid("InvalidParameter", "%s must be sent with HTTP %s" % (ctx.action, method))


# ---- actions ------------------------------------------------------------------

def ecs_renew_instance(req, ctx, q, state):
    _need_method(req, ctx, "GET")
    iid = q.get("InstanceId")
    if not iid:
        raise Invalid("MissingParameter.InstanceId", "The request is missing InstanceId parameter.")
    if q.get("Period") in (None, ""):
        raise Invalid("MissingParameter.Period", "The request is missing Period parameter.")
    period = as_int(q["Period"], loose=True)
    if period not in RENEW_PERIODS:
        raise Invalid("InvalidPeriod", "The specified Period %r is invalid." % q["Period"])
    unit = q.get("PeriodUnit", "Month")
    if unit != "Month":
        raise Invalid("InvalidPeriodUnit", "The specified PeriodUnit %r is invalid." % unit)
    token = q.get("ClientToken", "")
    if len(token) > 64 or not re.fullmatch(r"[\x21-\x7e]*", token):
        raise Invalid("InvalidClientToken.Malformed", "The specified ClientToken is malformed.")
    fingerprint = [iid, period, unit]
    key = (ctx.cred_id, token)
    if token and key in state.tokens:
        seen, order = state.tokens[key]
        if seen != fingerprint:
            raise Invalid("IdempotentParameterMismatch",
                          "ClientToken %s was used with different parameters." % token)
        return {"OrderId": order}      # replay: same order, nothing executes again
    if iid in state.missing or state.elsewhere(iid, ctx.region):
        raise Invalid("InvalidInstance.NotFound", "The specified instance %s is not found." % iid,
                      404)
    if iid in state.locked:
        raise Invalid("OperationDenied.ResourceLocked", "The instance %s is locked." % iid, 412)
    if not state.charge(half_up_percent(state.monthly_cents(iid, 40, 6000) * period, 85)):
        raise Invalid("Insufficient.Balance", "The account balance is insufficient.")
    state.renew("volcengine", ctx.action, iid, period)
    order = "Order%016d" % (7 * 10 ** 15 + state.serial())
    if token:
        state.tokens[key] = (fingerprint, order)
    return {"OrderId": order}


def ecs_describe_instances(req, ctx, q, state):
    _need_method(req, ctx, "GET")
    if "MaxResults" in q:
        n = as_int(q["MaxResults"], loose=True)
        if n is None or not 1 <= n <= 100:
            raise Invalid("InvalidMaxResults.Malformed", "MaxResults must be in 1..100.")
    return {"Instances": [{"InstanceId": "i-aaaaaaaaaaaaaaaaaaaa"}], "NextToken": ""}


def billing_query_price_for_renew(req, ctx, q, state):
    _need_method(req, ctx, "POST")
    if not req.headers.get("content-type", "").lower().startswith("application/json"):
        raise Invalid("InvalidParameter", "Content-Type must be application/json")
    try:
        p = json.loads(req.body.decode("utf-8"))
    except ValueError:
        p = None
    if not isinstance(p, dict):
        raise Invalid("InvalidParameter", "The request body is not a JSON object.")
    for name in ("Product", "UseDuration", "InstanceIDList"):
        if p.get(name) is None:
            raise Invalid("MissingParameter", "The request is missing %s parameter." % name)
    product, months, ids = p["Product"], as_int(p["UseDuration"]), p["InstanceIDList"]
    if not isinstance(product, str) or not product:
        raise Invalid("InvalidParameter", "Product must be a non-empty string.")
    if months is None or months < 1:
        raise Invalid("InvalidParameter", "UseDuration must be an integer >= 1.")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 20 \
            or not all(isinstance(i, str) and i for i in ids) or len(set(ids)) != len(ids):
        raise Invalid("InvalidParameter", "InstanceIDList must hold 1 to 20 unique ids.")
    gone = [i for i in ids if i in state.missing]
    if gone:
        raise Invalid("InvalidInstance.NotFound", "Instances not found: %s" % ", ".join(gone), 404)
    items, total_o, total_d = [], 0, 0
    for i in ids:
        orig = state.monthly_cents(i, 40, 6000) * months
        disc = half_up_percent(orig, 85)
        total_o, total_d = total_o + orig, total_d + disc
        raw, quote = state.raw_quote([i])
        items.append({"InstanceID": i, "Product": product, "ConfigurationCode": "ecs.g1.large",
                      "OriginalAmount": _money(orig), "DiscountAmount": quote if raw else _money(disc)})
    return {"Currency": "CNY", "TotalOriginalAmount": _money(total_o),
            "TotalDiscountAmount": _money(total_d), "InstanceAmountList": items}


def _money(cents):
    return "%d.%02d" % divmod(cents, 100)


ACTIONS = {
    "ecs": {("RenewInstance", "2020-04-01"): ecs_renew_instance,
            ("DescribeInstances", "2020-04-01"): ecs_describe_instances},
    "billing": {("QueryPriceForRenew", "2022-01-01"): billing_query_price_for_renew},
}

# Read actions over the fleet (describe.py) replace the DescribeInstances stub above.
import describe  # noqa: E402
describe.install_volcengine(ACTIONS)

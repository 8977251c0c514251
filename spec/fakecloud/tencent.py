"""Tencent Cloud API 3.0 (TC3-HMAC-SHA256): verification and the actions the
fake serves. Errors are HTTP 200 with Response.Error, as the real API answers."""
import datetime
import hmac
import json
import re
from urllib.parse import parse_qsl

import official
import signing
from params import Ctx, Invalid, Reply, as_bool, as_int, half_up_percent, json_reply, \
    unflatten, unknown_keys
from state import dumps, request_id

VERSIONS = {"cvm": "2017-03-12", "teo": "2022-09-01", "yunjing": "2018-02-28"}
CVM_REGIONS = {"ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-singapore", "ap-hongkong",
               "na-siliconvalley"}
RENEW_FLAGS = {"NOTIFY_AND_AUTO_RENEW", "NOTIFY_AND_MANUAL_RENEW",
               "DISABLE_NOTIFY_AND_MANUAL_RENEW"}
CVM_PERIODS = set(range(1, 13)) | {24, 36, 48, 60}
SHORT_PERIODS = set(range(1, 13)) | {24, 36}
MAX_SKEW = 300

AUTH_RE = re.compile(r"TC3-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*"
                     r"SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]+)\s*")
HOST_RE = re.compile(r"([a-z0-9-]+)\.(?:[a-z0-9-]+\.)?tencentcloudapi\.com")


def error(ctx, code, message):
    return json_reply(200, {"Response": {"Error": {"Code": code, "Message": message},
                                         "RequestId": request_id()}}, error=code)


def ok(result, rid=None):
    result = dict(result)
    result["RequestId"] = rid or request_id()
    return Reply(200, dumps({"Response": result}))   # dumps: raw quotes may hold literals


def throttled(ctx):
    return error(ctx, "RequestLimitExceeded",
                 "Your current request times equals to `%s` in a second, which exceeds the "
                 "frequency limit." % ctx.action)


def verify(req, state):
    """Authenticate the request; returns (ctx, error reply or None)."""
    h = req.headers
    ctx = Ctx("tencent", action=h.get("x-tc-action"), version=h.get("x-tc-version"),
              region=h.get("x-tc-region"))
    if req.method not in ("POST", "GET"):
        return ctx, error(ctx, "UnsupportedOperation",
                          "HTTP method %s is not supported" % req.method)
    m = AUTH_RE.fullmatch(h.get("authorization", ""))
    scope = m and m.group(1).split("/")
    if not m or len(scope) != 4 or scope[3] != "tc3_request" \
            or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", scope[1]):
        return ctx, error(ctx, "AuthFailure.InvalidAuthorization",
                          "Authorization header is missing or malformed")
    secret_id, date, ctx.service = scope[:3]
    names = m.group(2).split(";")
    if names != sorted(set(names)) or any(n != n.lower() for n in names):
        return ctx, error(ctx, "AuthFailure.InvalidAuthorization",
                          "SignedHeaders must be sorted, unique and lower-case")
    if "content-type" not in names or "host" not in names:
        return ctx, error(ctx, "AuthFailure.InvalidAuthorization",
                          "SignedHeaders must include content-type and host")
    with state.lock:
        cred = state.tencent.get(secret_id)
    if cred is None:
        return ctx, error(ctx, "AuthFailure.SecretIdNotFound", "The SecretId is not found")
    ctx.cred, ctx.cred_id = cred, secret_id
    ts = h.get("x-tc-timestamp", "")
    if not re.fullmatch(r"[0-9]{1,12}", ts):
        return ctx, error(ctx, "AuthFailure.InvalidAuthorization",
                          "X-TC-Timestamp is missing or not an integer")
    if abs(int(ts) - state.now()) > MAX_SKEW:
        return ctx, error(ctx, "AuthFailure.SignatureExpire",
                          "Signature expired: X-TC-Timestamp %s is more than 5 minutes off" % ts)
    utc = datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc)
    if date != utc.strftime("%Y-%m-%d"):
        return ctx, error(ctx, "AuthFailure.SignatureFailure",
                          "credential scope date %s is not the UTC date of X-TC-Timestamp" % date)
    hm = HOST_RE.fullmatch(h.get("host", "").split(":")[0].lower())
    if hm and hm.group(1) != ctx.service:
        return ctx, error(ctx, "AuthFailure.SignatureFailure",
                          "service %s in the credential scope does not match host %s"
                          % (ctx.service, h.get("host")))
    # The canonical query is the query string exactly as sent (GET) or empty (POST).
    query = req.query if req.method == "GET" else ""
    canon = signing.tc3_canonical_request(req.method, query, h, names, req.body)
    sts = signing.tc3_string_to_sign(ts, date, ctx.service, canon)
    expect = signing.tc3_signature(cred["secret_key"], date, ctx.service, sts)
    if not hmac.compare_digest(expect, m.group(3)):
        return ctx, error(ctx, "AuthFailure.SignatureFailure",
                          "The provided credentials could not be validated. "
                          "Expected canonical request: %r" % canon)
    if (cred.get("token") or "") != h.get("x-tc-token", ""):
        return ctx, error(ctx, "AuthFailure.TokenFailure", "X-TC-Token is missing or invalid")
    if cred.get("expires") is not None and state.now() >= cred["expires"]:   # sts.py issued it
        return ctx, error(ctx, "AuthFailure.TokenFailure", "The token has expired")
    return ctx, None


def dispatch(req, ctx, state):
    """Version, action, parameters, then the action itself. Call with state.lock held."""
    h = req.headers
    actions = ACTIONS.get(ctx.service)
    if actions is not None:
        if not ctx.version:
            return error(ctx, "MissingParameter", "The request is missing X-TC-Version")
        if ctx.version != VERSIONS[ctx.service]:
            return error(ctx, "NoSuchVersion",
                         "Version %s of %s does not exist" % (ctx.version, ctx.service))
    handler = (actions or {}).get(ctx.action)
    if handler is None:
        return error(ctx, "InvalidAction",
                     "Action %s of service %s does not exist" % (ctx.action, ctx.service))
    if h.get("x-tc-language", "zh-CN") not in ("zh-CN", "en-US"):
        return error(ctx, "InvalidParameterValue", "X-TC-Language must be zh-CN or en-US")
    try:
        if req.method == "GET":
            ctx.loose = True
            ctx.params = unflatten(parse_qsl(req.query, keep_blank_values=True))
        else:
            if not h.get("content-type", "").lower().startswith("application/json"):
                raise Invalid("InvalidParameter", "Content-Type must be application/json")
            try:
                ctx.params = json.loads(req.body.decode("utf-8"))
            except ValueError:
                ctx.params = None
            if not isinstance(ctx.params, dict):
                raise Invalid("InvalidParameter", "the request body is not JSON object")
        if ctx.service == "cvm":
            if not ctx.region:
                raise Invalid("MissingParameter", "The request is missing X-TC-Region")
            if ctx.region not in CVM_REGIONS:
                raise Invalid("UnsupportedRegion", "Region %s is not supported" % ctx.region)
        official.check_input(req, ctx, "tencent", ctx.params)
        # Known before the action runs: a CVM renewal's LatestOperationRequestId.
        ctx.request_id = request_id()
        result = handler(ctx, ctx.params, state)
        official.check_output("tencent", ctx, result)
        return ok(result, ctx.request_id)
    except Invalid as e:
        return error(ctx, e.code, e.message)
    except official.Undefined as e:
        return official.reply(e)


# ---- parameter checks -----------------------------------------------------------

def _required(p, name):
    if name not in p or p[name] is None:
        raise Invalid("MissingParameter", "The request is missing a required parameter `%s`" % name)
    return p[name]


def _instance_ids(ctx, p, state):
    ids = _required(p, "InstanceIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise Invalid("InvalidParameterValue", "InstanceIds must be a list of 1 to 100 ids")
    for i in ids:
        if not isinstance(i, str) or not re.fullmatch(r"ins-[a-z0-9]{8}", i):
            raise Invalid("InvalidInstanceId.Malformed", "InstanceIds: malformed id %r" % (i,))
    gone = [i for i in ids if i in state.missing or state.elsewhere(i, ctx.region)]
    if gone:
        raise Invalid("InvalidInstanceId.NotFound", "InstanceIds: %s not found" % ", ".join(gone))
    return ids


def _charge_prepaid(ctx, p, name, periods, code, flag_code):
    cp = _required(p, name)
    if not isinstance(cp, dict):
        raise Invalid(code, "%s must be an object" % name)
    unknown_keys(cp, ("Period", "RenewFlag"), name + ".")
    period = as_int(_required_nested(cp, name, "Period"), ctx.loose)
    if period not in periods:
        raise Invalid(code, "%s.Period %r is not one of %s" % (name, cp["Period"], sorted(periods)))
    if "RenewFlag" in cp and cp["RenewFlag"] not in RENEW_FLAGS:
        raise Invalid(flag_code, "%s.RenewFlag %r is invalid" % (name, cp["RenewFlag"]))
    return period


def _required_nested(obj, outer, name):
    if name not in obj:
        raise Invalid("MissingParameter", "The request is missing `%s.%s`" % (outer, name))
    return obj[name]


def _optional_bool(ctx, p, name):
    if name in p and as_bool(p[name], ctx.loose) is None:
        raise Invalid("InvalidParameterValue", "%s must be a boolean" % name)


# ---- actions ------------------------------------------------------------------

def cvm_inquiry(ctx, p, state):
    unknown_keys(p, ("InstanceIds", "InstanceChargePrepaid", "DryRun", "RenewPortableDataDisk"))
    ids = _instance_ids(ctx, p, state)
    period = _charge_prepaid(ctx, p, "InstanceChargePrepaid", CVM_PERIODS,
                             "InvalidPeriod", "InvalidParameterValue")
    _optional_bool(ctx, p, "DryRun")
    _optional_bool(ctx, p, "RenewPortableDataDisk")
    orig = sum(state.monthly_cents(i, 50, 20000) for i in ids) * period
    inst = _item_price(orig, half_up_percent(orig, 80), 80)
    raw, quote = state.raw_quote(ids)
    if raw:
        inst["DiscountPrice"] = quote
    return {"Price": {"InstancePrice": inst, "BandwidthPrice": _item_price(0, 0, 0)}}


def _item_price(orig, disc, discount):
    return {"OriginalPrice": orig / 100, "DiscountPrice": disc / 100, "Discount": discount,
            "UnitPrice": None, "ChargeUnit": None, "UnitPriceDiscount": None}


def cvm_renew(ctx, p, state):
    unknown_keys(p, ("InstanceIds", "InstanceChargePrepaid", "RenewPortableDataDisk"))
    ids = _instance_ids(ctx, p, state)
    period = _charge_prepaid(ctx, p, "InstanceChargePrepaid", CVM_PERIODS,
                             "InvalidPeriod", "InvalidParameterValue")
    _optional_bool(ctx, p, "RenewPortableDataDisk")
    busy = [i for i in ids if i in state.locked]
    if busy:
        raise Invalid("OperationDenied.InstanceOperationInProgress",
                      "InstanceIds: %s locked by another operation" % ", ".join(busy))
    cost = half_up_percent(sum(state.monthly_cents(i, 50, 20000) for i in ids) * period, 80)
    if not state.charge(cost):
        raise Invalid("InvalidAccount.InsufficientBalance", "Insufficient account balance")
    for i in ids:
        state.renew("tencent", ctx.action, i, period, ctx.request_id)
    return {}


def cvm_describe(ctx, p, state):
    unknown_keys(p, ("InstanceIds", "Filters", "Offset", "Limit"))
    limit = 20
    if "Limit" in p:
        limit = as_int(p["Limit"], ctx.loose)
        if limit is None or not 1 <= limit <= 100:
            raise Invalid("InvalidParameterValue", "Limit must be an integer in 1..100")
    items = [{"InstanceId": "ins-aaaaaaaa"}, {"InstanceId": "ins-bbbbbbbb"}]
    return {"TotalCount": 2, "InstanceSet": items[:limit]}


def teo_renew_plan(ctx, p, state):
    unknown_keys(p, ("PlanId", "Period", "AutoUseVoucher"))
    plan = _required(p, "PlanId")
    if not isinstance(plan, str) or not re.fullmatch(r"edgeone-[a-z0-9]{12}", plan) \
            or plan in state.missing:
        raise Invalid("InvalidParameter.PlanNotFound", "PlanId %r: plan not found" % (plan,))
    period = as_int(_required(p, "Period"), ctx.loose)
    if period not in SHORT_PERIODS:
        raise Invalid("InvalidParameter.InvalidPeriod", "Period %r is invalid" % (p["Period"],))
    if "AutoUseVoucher" in p and p["AutoUseVoucher"] not in ("true", "false"):
        raise Invalid("InvalidParameter.InvalidAutoUseVoucher",
                      'AutoUseVoucher must be the string "true" or "false"')
    if plan in state.locked:
        raise Invalid("OperationDenied.ResourceHasBeenLocked", "plan %s is locked" % plan)
    if not state.charge(state.monthly_cents(plan, 50, 20000) * period):
        raise Invalid("FailedOperation.InsufficientAccountBalance", "Insufficient account balance")
    state.renew("tencent", ctx.action, plan, period)
    return {"DealName": "2026%014d" % state.serial()}


def _yunjing_prepaid(ctx, p):
    return _charge_prepaid(ctx, p, "ChargePrepaid", SHORT_PERIODS,
                           "InvalidParameter.InvalidFormat", "InvalidParameter.InvalidFormat")


def yunjing_renew(ctx, p, state):
    unknown_keys(p, ("Quuid", "ChargePrepaid"))
    quuid = _required(p, "Quuid")
    if not isinstance(quuid, str) or not quuid:
        raise Invalid("InvalidParameter.InvalidFormat", "Quuid must be a non-empty string")
    period = _yunjing_prepaid(ctx, p)
    if quuid in state.missing:
        raise Invalid("ResourceNotFound", "Quuid %s not found" % quuid)
    if not state.charge(half_up_percent(state.monthly_cents(quuid, 30, 5000) * period, 90)):
        raise Invalid("FailedOperation.TradeError", "trade failed: insufficient balance")
    state.renew("tencent", ctx.action, quuid, period)
    return {}


def yunjing_inquiry(ctx, p, state):
    unknown_keys(p, ("ChargePrepaid", "Machines"))
    period = _yunjing_prepaid(ctx, p)
    machines = _required(p, "Machines")
    if not isinstance(machines, list) or not machines:
        raise Invalid("InvalidParameter.InvalidFormat", "Machines must be a non-empty list")
    for i, m in enumerate(machines):
        ok_shape = isinstance(m, dict) and m.get("MachineType") in ("CVM", "BM") \
            and all(isinstance(m.get(k), str) and m[k] for k in ("MachineRegion", "Quuid"))
        if not ok_shape:
            raise Invalid("InvalidParameter.InvalidFormat",
                          "Machines[%d] needs MachineType CVM|BM, MachineRegion and Quuid" % i)
        unknown_keys(m, ("MachineType", "MachineRegion", "Quuid"), "Machines.%d." % i)
        if m["Quuid"] in state.missing:
            raise Invalid("FailedOperation.InquiryPrice", "no price for Quuid %s" % m["Quuid"])
    orig = sum(state.monthly_cents(m["Quuid"], 30, 5000) for m in machines) * period
    raw, quote = state.raw_quote([m["Quuid"] for m in machines])
    return {"OriginalPrice": orig / 100,
            "DiscountPrice": quote if raw else half_up_percent(orig, 90) / 100}


ACTIONS = {
    "cvm": {"InquiryPriceRenewInstances": cvm_inquiry, "RenewInstances": cvm_renew,
            "DescribeInstances": cvm_describe},
    "teo": {"RenewPlan": teo_renew_plan},
    "yunjing": {"RenewProVersion": yunjing_renew,
                "InquiryPriceOpenProVersionPrepaid": yunjing_inquiry},
}

# Read actions over the fleet (describe.py) replace the DescribeInstances stub above.
import describe  # noqa: E402
describe.install_tencent(ACTIONS, VERSIONS)

"""The fleet: per-resource charge type, expiry, auto-renew flag, status and (CVM)
an asynchronous latest operation, plus the read actions that show them:
cvm DescribeInstances, teo DescribePlans, cwp DescribeMachineInfo, Volcengine ecs
DescribeInstances and billing ListAvailableInstances. Renewals (state.renew)
advance the expiry by the period in calendar months (UTC). Call everything here
with state.lock held (the action handlers are)."""
import calendar
import datetime
import json
import re
import zlib

from params import Invalid, as_int

# "other": a product only the billing actions show (billing.py): it needs `cloud`
# and `product_code` (Tencent ProductCode, Volcengine Product).
PRODUCTS = ("cvm", "ecs", "teo", "hspro", "cbs", "cdb", "crs", "lighthouse", "other")
CLOUDS = {"cvm": "tencent", "teo": "tencent", "hspro": "tencent", "ecs": "volcengine",
          "cbs": "tencent", "cdb": "tencent", "crs": "tencent", "lighthouse": "tencent"}
# id prefix -> product (tproducts.py serves cbs, cdb, crs and lighthouse)
PREFIXES = (("ins-", "cvm"), ("i-", "ecs"), ("edgeone-", "teo"), ("disk-", "cbs"), ("cdb-", "cdb"),
            ("crs-", "crs"), ("lhins-", "lighthouse"))
BEIJING = datetime.timezone(datetime.timedelta(hours=8))
UTC = datetime.timezone.utc
RESULTS = ("SUCCESS", "FAILED")


def product_of(rid):
    for prefix, product in PREFIXES:
        if rid.startswith(prefix):
            return product
    return "hspro"


def add_months(epoch, months):
    """epoch + months calendar months in UTC, the day clamped to the month's end."""
    d = datetime.datetime.fromtimestamp(epoch, UTC)
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    d = d.replace(year=y, month=m, day=min(d.day, calendar.monthrange(y, m)[1]))
    return d.timestamp()


def _fmt(epoch, style):
    if epoch is None:
        return None
    if style == "beijing":      # cwp: "2024-01-10 10:51:11", no zone
        return datetime.datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    if style == "+08:00":       # Volcengine ecs ExpiredAt
        return datetime.datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    if style == "+00:00":
        return datetime.datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return datetime.datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the store -------------------------------------------------------------------

def default_fleet(now):
    """What a fresh fake holds: two CVM instances and one ECS instance, visible in any region."""
    fleet = {}
    for rid in ("ins-aaaaaaaa", "ins-bbbbbbbb", "i-aaaaaaaaaaaaaaaaaaaa"):
        fleet[rid] = materialize(rid, now)
    return fleet


def materialize(rid, now):
    """An id the fake has not been told about: prepaid, manual renewal, expiring
    10 to 29 days from the day it was first seen (stable per id)."""
    day = int(now // 86400) * 86400
    return _resource({"id": rid}, day + (10 + zlib.crc32(rid.encode()) % 20) * 86400)


def _resource(spec, default_expiry):
    return {"id": spec["id"], "product": spec.get("product") or product_of(spec["id"]),
            "region": spec.get("region"), "prepaid": spec.get("prepaid", True),
            "charge_type": spec.get("charge_type"), "expires": default_expiry,
            "auto_renew": spec.get("auto_renew", False), "status": spec.get("status"),
            "time_format": spec.get("time_format", "Z"),
            "operation_result": spec.get("operation_result", "SUCCESS"),
            "operation_error": spec.get("operation_error", "renewal failed (injected)"),
            "plan_type": spec.get("plan_type", "plan-standard"), "area": spec.get("area", "mainland"),
            "cloud": spec.get("cloud"), "product_code": spec.get("product_code"),
            "sub_product_code": spec.get("sub_product_code"), "name": spec.get("name"),
            "product_name": spec.get("product_name"),
            "latest": None}


def cloud_of(r):
    return CLOUDS.get(r["product"]) or r["cloud"]


FIELDS = {"id", "product", "region", "prepaid", "charge_type", "expires_at", "expires_in_days",
          "auto_renew", "status", "time_format", "operation_result", "operation_error",
          "plan_type", "area", "cloud", "product_code", "sub_product_code", "name", "product_name"}


def _check_spec(s, now):
    if not isinstance(s, dict):
        raise ValueError("each resource must be an object")
    extra = set(s) - FIELDS
    if extra:
        raise ValueError("unknown resource fields: %s (known: %s)" % (sorted(extra), sorted(FIELDS)))
    if not isinstance(s.get("id"), str) or not s["id"]:
        raise ValueError("resource id must be a non-empty string")
    if s.get("product", product_of(s["id"])) not in PRODUCTS:
        raise ValueError("product must be one of %s" % (PRODUCTS,))
    for k in ("prepaid", "auto_renew"):
        if k in s and not isinstance(s[k], bool):
            raise ValueError("%s must be true or false" % k)
    for k in ("region", "charge_type", "status", "operation_error", "plan_type", "area", "product_code",
              "sub_product_code", "name", "product_name"):
        if s.get(k) is not None and not isinstance(s[k], str):
            raise ValueError("%s must be a string or null" % k)
    if s.get("cloud") not in (None, "tencent", "volcengine"):
        raise ValueError('cloud must be "tencent" or "volcengine"')
    if s.get("product") == "other" and (s.get("cloud") is None or not s.get("product_code")):
        raise ValueError('product "other" needs cloud and product_code')
    if s.get("time_format", "Z") not in ("Z", "+00:00"):
        raise ValueError('time_format must be "Z" or "+00:00"')
    if s.get("operation_result", "SUCCESS") not in RESULTS:
        raise ValueError("operation_result must be SUCCESS or FAILED")
    for k in ("expires_at", "expires_in_days"):
        v = s.get(k)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v != v
                              or abs(v) > 1e11):
            raise ValueError("%s must be a number or null" % k)
    if s.get("expires_at") is not None:
        return float(s["expires_at"])
    if s.get("expires_in_days") is not None:
        return now + s["expires_in_days"] * 86400.0
    if "expires_at" in s or "expires_in_days" in s or not s.get("prepaid", True):
        return None
    return "default"


def configure(state, body):
    """POST /__fake/resources {resources: [...], merge: bool, operation_seconds: s}."""
    if not isinstance(body, dict) or set(body) - {"resources", "merge", "operation_seconds"}:
        raise ValueError('expected {"resources": [...], "merge": bool, "operation_seconds": s}')
    specs = body.get("resources", [])
    if not isinstance(specs, list):
        raise ValueError("resources must be a list")
    ops = body.get("operation_seconds")
    if ops is not None and (not isinstance(ops, (int, float)) or isinstance(ops, bool) or not 0 <= ops <= 3600):
        raise ValueError("operation_seconds must be a number in 0..3600")
    merge = body.get("merge", False)
    if not isinstance(merge, bool):
        raise ValueError("merge must be true or false")
    with state.lock:
        now = state.now()
        checked = [(s, _check_spec(s, now)) for s in specs]   # all or nothing
        fleet = dict(state.fleet) if merge else {}
        for s, exp in checked:
            old = fleet.get(s["id"])
            if merge and old is not None:
                for k, v in s.items():
                    if k in old:
                        old[k] = v
                if exp != "default":
                    old["expires"] = exp
            else:
                fleet[s["id"]] = _resource(s, materialize(s["id"], now)["expires"] if exp == "default" else exp)
        state.fleet = fleet
        if ops is not None:
            state.operation_seconds = float(ops)
        return view(state)


def view(state):
    with state.lock:
        now = state.now()
        out = []
        for r in state.fleet.values():
            settle(state, r, now)
            lat = r["latest"]
            out.append({"id": r["id"], "product": r["product"], "region": r["region"],
                        "prepaid": r["prepaid"], "expires_at": r["expires"],
                        "expires": _fmt(r["expires"], "Z"), "auto_renew": r["auto_renew"],
                        "status": status_of(r, now),
                        "latest_operation": lat and {k: lat[k] for k in ("op", "request_id", "state")}})
        return {"operation_seconds": state.operation_seconds, "resources": out}


def get(state, rid):
    r = state.fleet.get(rid)
    if r is None:
        r = state.fleet[rid] = materialize(rid, state.now())
    return r


def settle(state, r, now):
    """A CVM operation ends operation_seconds after it started; SUCCESS moves the expiry."""
    lat = r["latest"]
    if lat and lat["state"] == "OPERATING" and (now >= lat["started"] + state.operation_seconds):
        lat["state"] = lat["result"]
        if lat["result"] == "SUCCESS" and r["expires"] is not None:
            r["expires"] = add_months(r["expires"], lat["period"])


def on_renew(state, action, rid, period, request_id):
    """Called by state.renew for every executed renewal."""
    r = get(state, rid)
    now = state.now()
    if action == "RenewInstances":
        if r["latest"]:
            settle(state, r, float("inf"))      # a newer operation ends the older one
        r["latest"] = {"op": "RenewInstances", "request_id": request_id, "started": now,
                       "period": period, "result": r["operation_result"], "state": "OPERATING",
                       "error": r["operation_error"]}
        settle(state, r, now)
    elif r["expires"] is not None:
        r["expires"] = add_months(r["expires"], period)


def status_of(r, now):
    if r["status"]:
        return r["status"]
    expired = r["expires"] is not None and r["expires"] <= now
    if r["product"] in ("cvm", "lighthouse"):
        return "SHUTDOWN" if expired else "RUNNING"
    if r["product"] == "teo":
        if expired:
            return "expired"
        return "expiring-soon" if r["expires"] is not None and r["expires"] - now < 7 * 86400 else "normal"
    if r["product"] == "ecs":
        return "STOPPED" if expired else "RUNNING"
    return "ONLINE"


def _of(state, product, region=None):
    now = state.now()
    out = []
    for r in state.fleet.values():
        if r["product"] == product and (region is None or r["region"] in (None, region)):
            settle(state, r, now)
            out.append(r)
    return sorted(out, key=lambda r: r["id"])


def _limit(p, name, default, hi, loose, code="InvalidParameterValue"):
    if name not in p:
        return default
    n = as_int(p[name], loose)
    if n is None or not 1 <= n <= hi:
        raise Invalid(code, "%s must be an integer in 1..%d" % (name, hi))
    return n


def _offset(p, loose):
    if "Offset" not in p:
        return 0
    n = as_int(p["Offset"], loose)
    if n is None or n < 0:
        raise Invalid("InvalidParameterValue", "Offset must be an integer >= 0")
    return n


def _filters(p, allowed, max_filters, max_values):
    fs = p.get("Filters", [])
    if not isinstance(fs, list) or len(fs) > max_filters:
        raise Invalid("InvalidParameterValue", "Filters must be a list of at most %d filters" % max_filters)
    out = {}
    for f in fs:
        if not isinstance(f, dict) or not isinstance(f.get("Name"), str) \
                or not isinstance(f.get("Values"), list) or not 1 <= len(f["Values"]) <= max_values:
            raise Invalid("InvalidParameterValue",
                          "each filter needs Name and 1..%d Values" % max_values)
        if f["Name"] in allowed:    # other documented names are accepted and ignored
            out[f["Name"]] = set(map(str, f["Values"]))
    return out


# ---- Tencent ---------------------------------------------------------------------

def cvm_charge(r):
    return r["charge_type"] or ("PREPAID" if r["prepaid"] else "POSTPAID_BY_HOUR")


def cvm_describe_instances(ctx, p, state):
    extra = set(p) - {"InstanceIds", "Filters", "Offset", "Limit"}
    if extra:
        raise Invalid("UnknownParameter", "The parameter `%s` is not recognized." % sorted(extra)[0])
    if "InstanceIds" in p and "Filters" in p:
        raise Invalid("InvalidParameterValue", "InstanceIds and Filters cannot be given together")
    limit, offset = _limit(p, "Limit", 20, 100, ctx.loose), _offset(p, ctx.loose)
    now = state.now()
    if "InstanceIds" in p:
        ids = p["InstanceIds"]
        if not isinstance(ids, list) or len(ids) > 100:
            raise Invalid("InvalidParameterValue", "InstanceIds must be a list of at most 100 ids")
        rows = []
        for i in ids:
            if not isinstance(i, str) or not re.fullmatch(r"ins-[a-z0-9]{8}", i):
                raise Invalid("InvalidInstanceId.Malformed", "InstanceIds: malformed id %r" % (i,))
            if i not in state.missing and not state.elsewhere(i, ctx.region):
                r = get(state, i)
                settle(state, r, now)
                rows.append(r)
    else:
        f = _filters(p, ("instance-id", "instance-charge-type", "instance-state"), 10, 5)
        rows = [r for r in _of(state, "cvm", ctx.region)
                if ("instance-id" not in f or r["id"] in f["instance-id"])
                and ("instance-charge-type" not in f or cvm_charge(r) in f["instance-charge-type"])
                and ("instance-state" not in f or status_of(r, now) in f["instance-state"])]
    page = rows[offset:offset + limit]
    items = []
    for r in page:
        lat = r["latest"] or {}
        items.append({
            "InstanceId": r["id"], "InstanceChargeType": cvm_charge(r),
            "ExpiredTime": _fmt(r["expires"], r["time_format"]) if r["prepaid"] else None,
            "RenewFlag": "NOTIFY_AND_AUTO_RENEW" if r["auto_renew"] else "NOTIFY_AND_MANUAL_RENEW",
            "InstanceState": status_of(r, now), "Placement": {"Zone": (r["region"] or ctx.region) + "-1"},
            "LatestOperation": lat.get("op"), "LatestOperationState": lat.get("state"),
            "LatestOperationRequestId": lat.get("request_id"),
            "LatestOperationErrorMsg": lat.get("error") if lat.get("state") == "FAILED" else None,
        })
    return {"TotalCount": len(rows), "InstanceSet": items}


def teo_describe_plans(ctx, p, state):
    extra = set(p) - {"Filters", "Order", "Direction", "Offset", "Limit"}
    if extra:
        raise Invalid("UnknownParameter", "The parameter `%s` is not recognized." % sorted(extra)[0])
    limit, offset = _limit(p, "Limit", 20, 200, ctx.loose), _offset(p, ctx.loose)
    if p.get("Order", "enable-time") not in ("enable-time", "expire-time") \
            or p.get("Direction", "asc") not in ("asc", "desc"):
        raise Invalid("InvalidParameterValue", "Order is enable-time|expire-time, Direction asc|desc")
    now = state.now()
    f = _filters(p, ("plan-id", "plan-type", "area", "status"), 4, 20)
    rows = [r for r in _of(state, "teo")
            if ("plan-id" not in f or r["id"] in f["plan-id"])
            and ("plan-type" not in f or r["plan_type"] in f["plan-type"])
            and ("area" not in f or r["area"] in f["area"])
            and ("status" not in f or status_of(r, now) in f["status"])]
    if p.get("Order") == "expire-time":
        rows.sort(key=lambda r: r["expires"] or 0, reverse=p.get("Direction") == "desc")
    plans = [{"PlanId": r["id"], "PlanType": r["plan_type"], "Area": r["area"],
              "AutoRenewal": r["auto_renew"], "Status": status_of(r, now),
              "PayMode": 1 if r["prepaid"] else 0, "EnabledTime": _fmt(r["expires"] and r["expires"] - 3e7, "Z"),
              "ExpiredTime": _fmt(r["expires"], "Z")} for r in rows[offset:offset + limit]]
    return {"TotalCount": len(rows), "Plans": plans}


def cwp_describe_machine_info(ctx, p, state):
    extra = set(p) - {"Quuid", "Uuid"}
    if extra:
        raise Invalid("UnknownParameter", "The parameter `%s` is not recognized." % sorted(extra)[0])
    q = p.get("Quuid") or p.get("Uuid")
    if not isinstance(q, str) or not q:
        raise Invalid("InvalidParameter", "Quuid or Uuid is required")
    r = state.fleet.get(q)
    if q in state.missing or (r is not None and r["product"] != "hspro"):
        raise Invalid("ResourceNotFound", "machine %s not found" % q)
    r = get(state, q)
    return {"Quuid": q, "Uuid": q, "MachineName": "fake-" + q, "MachineType": "CVM",
            "MachineRegion": r["region"] or ctx.region or "ap-guangzhou",
            "IsProVersion": True, "ProtectType": "PRO_VERSION",
            "PayMode": "PREPAY" if r["prepaid"] else "POSTPAY",
            "ProVersionDeadline": _fmt(r["expires"], "beijing") if r["prepaid"] else None,
            "MachineStatus": status_of(r, state.now())}


def install_tencent(actions, versions):
    actions["cvm"]["DescribeInstances"] = cvm_describe_instances
    actions["teo"]["DescribePlans"] = teo_describe_plans
    actions["cwp"] = {"DescribeMachineInfo": cwp_describe_machine_info}
    versions["cwp"] = "2018-02-28"
    import billing
    billing.install_tencent(actions, versions)
    import tproducts
    tproducts.install(actions, versions)


# ---- Volcengine ------------------------------------------------------------------

def _token(offset, n):
    return "" if offset >= n else "tok-%d" % offset


def _from_token(tok, code):
    if tok in (None, ""):
        return 0
    m = re.fullmatch(r"tok-([0-9]{1,9})", tok) if isinstance(tok, str) else None
    if not m:
        raise Invalid(code, "The specified NextToken is invalid.")
    return int(m.group(1))


def ecs_describe_instances(req, ctx, q, state):
    if req.method != "GET":
        raise Invalid("InvalidParameter", "DescribeInstances must be sent with HTTP GET")
    limit = _limit(q, "MaxResults", 10, 100, True, "InvalidMaxResults.Malformed")
    offset = _from_token(q.get("NextToken"), "InvalidNextToken.Malformed")
    ids = [v for k, v in sorted(q.items(), key=lambda kv: kv[0]) if re.fullmatch(r"InstanceIds\.[0-9]+", k)]
    if len(ids) > 100:
        raise Invalid("InvalidParameter", "at most 100 InstanceIds")
    now = state.now()
    rows = _of(state, "ecs", ctx.region)
    if ids:
        rows = []
        for i in ids:
            if i not in state.missing and not state.elsewhere(i, ctx.region):
                r = get(state, i)
                settle(state, r, now)
                rows.append(r)
    charge, status = q.get("InstanceChargeType"), q.get("Status")
    if charge:
        rows = [r for r in rows if _ecs_charge(r) == charge]
    if status:
        rows = [r for r in rows if status_of(r, now) == status]
    page = rows[offset:offset + limit]
    inst = [{"InstanceId": r["id"], "InstanceChargeType": _ecs_charge(r), "Status": status_of(r, now),
             "ExpiredAt": _fmt(r["expires"], "+08:00") if r["prepaid"] else "",
             "CreatedAt": "2025-01-01T00:00:00+08:00"} for r in page]
    return {"Instances": inst, "NextToken": _token(offset + limit, len(rows)), "TotalCount": len(rows)}


def _ecs_charge(r):
    return r["charge_type"] or ("PrePaid" if r["prepaid"] else "PostPaid")


def install_volcengine(actions):
    actions["ecs"][("DescribeInstances", "2020-04-01")] = ecs_describe_instances
    import billing   # every prepaid instance of the account: both clouds' billing lists
    billing.install_volcengine(actions)

"""The clouds' billing lists of every prepaid instance of the account (issue 23), over
the fleet (describe.py): Tencent billing 2018-07-09 DescribeRenewInstances and
Volcengine billing 2022-01-01 ListAvailableInstances, each any product and region.
Only fields the official definitions have (official.py checks the answers).

Values the definitions leave open, as docs/official.md records them:
- Tencent ExpireTime and the ExpireTimeStart/End filters: "yyyy-MM-dd HH:mm:ss"
  (the request's stated format, and tccli's example answer), read as Beijing time.
- Tencent Status NORMAL / ISOLATED (the definition's two values), RenewFlag the three
  documented flags, RenewPeriodUnit "m"; the list is ordered by expiry (Reverse: the
  other way), NextToken null on the last page (tccli's example answer).
- ProductCode / SubProductCode of the products cloudrenew knows: p_cvm/sp_cvm and
  p_yunjing/sp_yunjing_vas appear in the definitions, p_edgeone, p_cbs, p_cdb and p_redis
  as BusinessCodes of tccli's billing examples; p_lighthouse and every sp_ code but those
  two are assumed.
  A fleet entry may name any code (`product_code`, `sub_product_code`).
- Volcengine Product "ECS" for ecs, RenewType Manually/Automatically, Status
  Normal/Expired, ExpiredTime RFC 3339 UTC "Z". Call with state.lock held.
- Volcengine billing RenewInstance (issue 23 part 2, any Product): RenewalDurationUnit
  "Month" or "Year" (the definition names no values), RenewalDuration the months ecs
  takes (1-9, 12, 24, 36; absent: 1), an instance not listed under that Product
  InvalidParameter, a low balance Insufficient.Balance (ecs's code), a ClientToken
  seen before with the same parameters answers as then and executes nothing again.
"""
import datetime
import json
import re

import describe
from params import Invalid, as_int, half_up_percent

BEIJING = datetime.timezone(datetime.timedelta(hours=8))
UTC = datetime.timezone.utc
TC_CODES = {"cvm": ("p_cvm", "sp_cvm"), "hspro": ("p_yunjing", "sp_yunjing_vas"), "teo": ("p_edgeone", "sp_edgeone"),
            "cbs": ("p_cbs", "sp_cbs"), "cdb": ("p_cdb", "sp_cdb"), "crs": ("p_redis", "sp_redis"),
            "lighthouse": ("p_lighthouse", "sp_lighthouse")}
TC_FLAGS = ("NOTIFY_AND_MANUAL_RENEW", "NOTIFY_AND_AUTO_RENEW", "DISABLE_NOTIFY_AND_MANUAL_RENEW")
VOLC_CODES = {"ecs": "ECS"}


def _account(state, cloud):
    """Every prepaid resource of one cloud with an expiry, any product and region."""
    now = state.now()
    out = []
    for r in state.fleet.values():
        if describe.cloud_of(r) == cloud and r["prepaid"]:
            describe.settle(state, r, now)
            out.append(r)
    return out


def _page_of(tok, code):
    if tok in (None, ""):
        return 0
    m = re.fullmatch(r"tok-([0-9]{1,9})", tok) if isinstance(tok, str) else None
    if not m:
        raise Invalid(code, "The specified NextToken is invalid.")
    return int(m.group(1))


def _max_results(p, code):
    n = as_int(p.get("MaxResults"))
    if n is None or not 1 <= n <= 100:      # tccli: "取值范围：1~100"; the catalogue's 100 for Volcengine
        raise Invalid(code, "MaxResults must be an integer in 1..100")
    return n


# ---- Tencent --------------------------------------------------------------------

BJ_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _bj(v, name):
    if not isinstance(v, str) or not BJ_TIME.fullmatch(v):
        raise Invalid("InvalidParameterValue", "%s must be yyyy-MM-dd HH:mm:ss" % name)
    try:
        return datetime.datetime.strptime(v, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        raise Invalid("InvalidParameterValue", "%s is no such date" % name)


def _flag(r):
    if r.get("renew_flag"):
        return r["renew_flag"]
    return "NOTIFY_AND_AUTO_RENEW" if r["auto_renew"] else "NOTIFY_AND_MANUAL_RENEW"


def tencent_describe_renew_instances(ctx, p, state):
    limit = _max_results(p, "InvalidParameterValue")
    offset = _page_of(p.get("NextToken"), "InvalidParameterValue")
    flags = p.get("RenewFlagList")
    if flags is not None and any(f not in TC_FLAGS for f in flags):
        raise Invalid("InvalidParameterValue", "RenewFlagList: each is one of %s" % ", ".join(TC_FLAGS))
    ids = p.get("InstanceIdList")
    if ids is not None and len(ids) > 100:
        raise Invalid("InvalidParameterValue", "InstanceIdList holds at most 100 ids")
    start = _bj(p["ExpireTimeStart"], "ExpireTimeStart") if p.get("ExpireTimeStart") is not None else None
    end = _bj(p["ExpireTimeEnd"], "ExpireTimeEnd") if p.get("ExpireTimeEnd") is not None else None
    now = state.now()
    rows = [r for r in _account(state, "tencent")
            if (ids is None or r["id"] in ids) and (flags is None or _flag(r) in flags)
            and (start is None or (r["expires"] is not None and r["expires"] >= start))
            and (end is None or (r["expires"] is not None and r["expires"] <= end))]
    rows.sort(key=lambda r: (r["expires"] is None, r["expires"] or 0, r["id"]), reverse=p.get("Reverse") is True)
    out = []
    for r in rows[offset:offset + limit]:
        code, sub = TC_CODES.get(r["product"], (None, None))
        item = {"InstanceId": r["id"], "ProductCode": r["product_code"] or code,
                "SubProductCode": r["sub_product_code"] or sub or (r["product_code"] or "").replace("p_", "sp_", 1),
                "RegionCode": r["region"], "RenewFlag": _flag(r),
                "Status": "ISOLATED" if r["expires"] is not None and r["expires"] <= now else "NORMAL",
                "ExpireTime": None if r["expires"] is None else
                datetime.datetime.fromtimestamp(r["expires"], BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                "InstanceName": r["name"] or ""}
        if r["product_name"]:
            item["ProductName"] = r["product_name"]
        if r["auto_renew"]:
            item["RenewPeriod"], item["RenewPeriodUnit"] = r.get("renew_period") or (1, "m")
        out.append(item)
    more = offset + limit < len(rows)
    return {"InstanceList": out, "NextToken": "tok-%d" % (offset + limit) if more else None}


def tencent_set_renewal(ctx, p, state):
    """SetRenewal: one instance's renewal flag and auto-renew period. An instance the
    account does not hold is the common ResourceNotFound; a ProductCode or RegionCode
    that is not the instance's, a flag or period outside the documented values,
    InvalidParameterValue. The answer's InstanceList lists failed instances: none."""
    r = state.fleet.get(p["InstanceId"])
    if r is None or describe.cloud_of(r) != "tencent" or not r["prepaid"]:
        raise Invalid("ResourceNotFound", "instance %s not found" % p["InstanceId"])
    code = r["product_code"] or TC_CODES.get(r["product"], (None,))[0]
    if p["ProductCode"] != code or p["RegionCode"] != r["region"]:
        raise Invalid("InvalidParameterValue", "ProductCode/RegionCode are not those of %s" % r["id"])
    if p["RenewFlag"] not in TC_FLAGS:
        raise Invalid("InvalidParameterValue", "RenewFlag must be one of %s" % ", ".join(TC_FLAGS))
    unit = p.get("RenewPeriodUnit", "m")
    n = as_int(p.get("RenewPeriod", "1"), True)
    # "如果是月，支持：1-11 如果是年，支持：1-5"
    if unit not in ("m", "y") or n is None or not 1 <= n <= (11 if unit == "m" else 5):
        raise Invalid("InvalidParameterValue", "RenewPeriod is 1-11 months or 1-5 years")
    r["auto_renew"] = p["RenewFlag"] == "NOTIFY_AND_AUTO_RENEW"
    r["renew_flag"] = p["RenewFlag"] if p["RenewFlag"] == "DISABLE_NOTIFY_AND_MANUAL_RENEW" else None
    r["renew_period"] = (n, unit) if r["auto_renew"] else None
    return {"InstanceList": []}


def install_tencent(actions, versions):
    actions["billing"] = {"DescribeRenewInstances": tencent_describe_renew_instances,
                          "SetRenewal": tencent_set_renewal}
    versions["billing"] = "2018-07-09"


# ---- Volcengine -----------------------------------------------------------------

UTC_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _utc(v, name):
    if not isinstance(v, str) or not UTC_Z.fullmatch(v):
        raise Invalid("InvalidParameter", "%s must be yyyy-MM-ddTHH:mm:ssZ" % name)
    return datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _renew_type(r):
    return "Automatically" if r["auto_renew"] else "Manually"


def volc_list_available_instances(req, ctx, q, state):
    if req.method != "POST":
        raise Invalid("InvalidParameter", "ListAvailableInstances must be sent with HTTP POST")
    try:
        p = json.loads(req.body.decode("utf-8") or "{}")
    except ValueError:
        p = None
    if not isinstance(p, dict):
        raise Invalid("InvalidParameter", "The request body is not a JSON object.")
    limit = _max_results(p, "InvalidParameter")
    offset = _page_of(p.get("NextToken"), "InvalidParameter")
    start = _utc(p["ExpiredTimeStart"], "ExpiredTimeStart") if "ExpiredTimeStart" in p else None
    end = _utc(p["ExpiredTimeEnd"], "ExpiredTimeEnd") if "ExpiredTimeEnd" in p else None
    if start is not None and end is not None and not 0 <= end - start <= 31 * 86400:
        raise Invalid("InvalidParameter", "ExpiredTimeStart..ExpiredTimeEnd must span 0 to 31 days")
    ids = p.get("InstanceIDs")
    if ids is not None and (not isinstance(ids, list) or len(ids) > 100):
        raise Invalid("InvalidParameter", "InstanceIDs holds at most 100 ids")
    renew = {"Manually", "Automatically", "NoRenew"}
    if p.get("RenewType") is not None and p["RenewType"] not in renew:
        raise Invalid("InvalidParameter", "RenewType must be one of %s" % sorted(renew))
    now = state.now()

    def product(r):
        return r["product_code"] or VOLC_CODES.get(r["product"])

    rows = [r for r in sorted(_account(state, "volcengine"), key=lambda r: (r["product"], r["id"]))
            if r["expires"] is not None
            and (p.get("Product") is None or product(r) == p["Product"])
            and (ids is None or r["id"] in ids)
            and (start is None or r["expires"] >= start) and (end is None or r["expires"] <= end)
            and (p.get("RenewType") is None or _renew_type(r) == p["RenewType"])]
    out = []
    for r in rows[offset:offset + limit]:
        item = {"InstanceID": r["id"], "Product": product(r), "ExpiredTime": describe._fmt(r["expires"], "Z"),
                "RenewType": _renew_type(r), "Status": "Expired" if r["expires"] <= now else "Normal"}
        if r["name"]:
            item["InstanceName"] = r["name"]
        out.append(item)
    return {"InstanceList": out, "NextToken": "tok-%d" % (offset + limit) if offset + limit < len(rows) else ""}


def volc_set_renewal_type(req, ctx, q, state):
    """SetRenewalType: one instance's RenewType. An instance of another Product or
    none is simply not in SuccessInstanceList; a ClientToken seen before answers as
    it did then and changes nothing again."""
    if req.method != "POST":
        raise Invalid("InvalidParameter", "SetRenewalType must be sent with HTTP POST")
    try:
        p = json.loads(req.body.decode("utf-8") or "{}")
    except ValueError:
        p = None
    if not isinstance(p, dict):
        raise Invalid("InvalidParameter", "The request body is not a JSON object.")
    if p["RenewType"] not in ("Manually", "Automatically", "NoRenew"):
        raise Invalid("InvalidParameter", "RenewType must be Manually, Automatically or NoRenew")
    if p.get("RenewalDurationUnit") not in (None, "Month", "Year"):
        raise Invalid("InvalidParameter", "RenewalDurationUnit must be Month or Year")
    key = ("SetRenewalType", ctx.cred_id, p.get("ClientToken"))
    if p.get("ClientToken") and key in state.tokens:
        return state.tokens[key][1]
    r = state.fleet.get(p["InstanceID"])
    done = []
    if r is not None and describe.cloud_of(r) == "volcengine" and r["prepaid"] \
            and (r["product_code"] or VOLC_CODES.get(r["product"])) == p["Product"]:
        r["auto_renew"] = p["RenewType"] == "Automatically"
        done = [{"InstanceID": r["id"], "Product": p["Product"]}]
    answer = {"SuccessInstanceList": done}
    if p.get("ClientToken"):
        state.tokens[key] = (None, answer)
    return answer


VOLC_RENEW_MONTHS = set(range(1, 10)) | {12, 24, 36}


def volc_renew_instance(req, ctx, q, state):
    """RenewInstance: one instance of any Product, renewed; price as QueryPriceForRenew."""
    if req.method != "POST":
        raise Invalid("InvalidParameter", "RenewInstance must be sent with HTTP POST")
    try:
        p = json.loads(req.body.decode("utf-8") or "{}")
    except ValueError:
        p = None
    if not isinstance(p, dict):
        raise Invalid("InvalidParameter", "The request body is not a JSON object.")
    unit = p["RenewalDurationUnit"]
    if unit not in ("Month", "Year"):
        raise Invalid("InvalidParameter", "RenewalDurationUnit must be Month or Year")
    n = as_int(p.get("RenewalDuration", 1))
    months = None if n is None else (n * 12 if unit == "Year" else n)
    if months not in VOLC_RENEW_MONTHS:
        raise Invalid("InvalidParameter", "RenewalDuration %r %s is not a renewal period" % (p.get("RenewalDuration"), unit))
    token = p.get("ClientToken") or ""
    fingerprint = [p["Product"], p["InstanceID"], months]
    key = ("billing.RenewInstance", ctx.cred_id, token)
    if token and key in state.tokens:
        seen, answer = state.tokens[key]
        if seen != fingerprint:
            raise Invalid("InvalidParameter", "ClientToken %s was used with different parameters." % token)
        return answer      # replay: the same order, nothing executes again
    iid = p["InstanceID"]
    r = state.fleet.get(iid)
    if r is None or iid in state.missing or describe.cloud_of(r) != "volcengine" or not r["prepaid"] \
            or (r["product_code"] or VOLC_CODES.get(r["product"])) != p["Product"]:
        raise Invalid("InvalidParameter", "No prepaid instance %s of product %s." % (iid, p["Product"]))
    if not state.charge(half_up_percent(state.monthly_cents(iid, 40, 6000) * months, 85)):
        raise Invalid("Insufficient.Balance", "The account balance is insufficient.")
    state.renew("volcengine", "RenewInstance", iid, months)
    answer = {"OrderIDList": ["Order%016d" % (8 * 10 ** 15 + state.serial())],
              "SuccessInstanceList": [{"InstanceID": iid, "Product": p["Product"]}]}
    if token:
        state.tokens[key] = (fingerprint, answer)
    return answer


def install_volcengine(actions):
    actions["billing"][("RenewInstance", "2022-01-01")] = volc_renew_instance
    actions["billing"][("ListAvailableInstances", "2022-01-01")] = volc_list_available_instances
    actions["billing"][("SetRenewalType", "2022-01-01")] = volc_set_renewal_type

"""Tencent products whose own APIs renew them (issue 23 part 2), over the fleet
(describe.py): cbs 2017-03-12 (InquiryPriceRenewDisks, RenewDisk, DescribeDisks),
cdb 2017-03-20 (DescribeDBPrice, RenewDBInstance, DescribeDBInstances), redis
2018-04-12 (InquiryPriceRenewInstance, RenewInstance, DescribeInstances), lighthouse
2020-03-24 (InquirePriceRenewInstances, RenewInstances: asynchronous as cvm,
DescribeInstances), and billing 2018-07-09 RenewInstance (ClientToken).
official.py bounds every input and answer by the definitions. Call with state.lock
held (the action handlers are).

Values the definitions leave open (docs/official.md): regional as cvm (an instance
of another region is not found); times as tccli types them (cbs/cdb/redis
"yyyy-MM-dd HH:mm:ss" Beijing time, lighthouse ISO 8601 UTC); refusals use the
common codes ResourceNotFound, InvalidParameterValue and FailedOperation (a low
balance); redis answers AmountUnit "pent". billing RenewInstance renews the fleet
entry whose ProductCode, SubProductCode and RegionCode are its own; a ClientToken
seen before with the same parameters answers as then and executes nothing again,
with other parameters InvalidParameterValue.
"""
import datetime
import re

import describe
from params import Invalid, as_int, half_up_percent

BEIJING = datetime.timezone(datetime.timedelta(hours=8))
SHORT = set(range(1, 13)) | {24, 36}
FLAGS = ("NOTIFY_AND_AUTO_RENEW", "NOTIFY_AND_MANUAL_RENEW")
# monthly price base (yuan) and spread (cents) per product, as the other products'
PRICE = {"cbs": (20, 3000), "cdb": (60, 9000), "crs": (40, 6000), "lighthouse": (30, 4000)}


def _bj(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _one(ctx, state, rid, product):
    """The fleet entry of a product the caller may act on, else ResourceNotFound."""
    if not isinstance(rid, str) or rid in state.missing or state.elsewhere(rid, ctx.region) \
            or describe.product_of(rid) != product:
        raise Invalid("ResourceNotFound", "%s %r not found" % (product, rid))
    r = describe.get(state, rid)
    if r["product"] != product:
        raise Invalid("ResourceNotFound", "%s %r not found" % (product, rid))
    describe.settle(state, r, state.now())
    return r


def _period(v, name="Period"):
    n = as_int(v)
    if n not in SHORT:
        raise Invalid("InvalidParameterValue", "%s %r is not one of %s" % (name, v, sorted(SHORT)))
    return n


def _cents(state, r, period, percent):
    base, spread = PRICE[r["product"]]
    return half_up_percent(state.monthly_cents(r["id"], base, spread) * period, percent)


def _renew(ctx, state, r, action, period, percent):
    if r["id"] in state.locked:
        raise Invalid("FailedOperation", "%s is locked by another operation" % r["id"])
    if not r["prepaid"]:
        raise Invalid("InvalidParameterValue", "%s is not prepaid" % r["id"])
    if not state.charge(_cents(state, r, period, percent)):
        raise Invalid("FailedOperation", "Insufficient account balance")
    state.renew("tencent", action, r["id"], period, ctx.request_id)


def _ids(p, name, state, ctx, product):
    """The rows of a read by ids: unknown and other-region ids are simply absent."""
    out = []
    for i in p.get(name) or []:
        if isinstance(i, str) and describe.product_of(i) == product and i not in state.missing \
                and not state.elsewhere(i, ctx.region):
            r = describe.get(state, i)
            if r["product"] == product:
                describe.settle(state, r, state.now())
                out.append(r)
    return out


def _page(p, rows, hi):
    limit = as_int(p.get("Limit", 20))
    offset = as_int(p.get("Offset", 0))
    if limit is None or not 1 <= limit <= hi or offset is None or offset < 0:
        raise Invalid("InvalidParameterValue", "Limit is 1..%d, Offset >= 0" % hi)
    return rows[offset:offset + limit]


def _listed(ctx, p, state, product, ids_name):
    if p.get(ids_name):
        return _ids(p, ids_name, state, ctx, product)
    return describe._of(state, product, ctx.region)


# ---- cbs ------------------------------------------------------------------------

def cbs_inquiry(ctx, p, state):
    rows = [_one(ctx, state, i, "cbs") for i in p["DiskIds"]]
    charges = p.get("DiskChargePrepaids")
    if not charges:
        raise Invalid("InvalidParameterValue", "the fake prices by DiskChargePrepaids only")
    period = _period(charges[0].get("Period"), "DiskChargePrepaids.Period")
    orig = sum(_cents(state, r, period, 100) for r in rows)
    disc = sum(_cents(state, r, period, 80) for r in rows)
    raw, quote = state.raw_quote([r["id"] for r in rows])
    return {"DiskPrice": {"OriginalPrice": orig / 100, "DiscountPrice": quote if raw else disc / 100}}


def cbs_renew(ctx, p, state):
    r = _one(ctx, state, p["DiskId"], "cbs")
    _renew(ctx, state, r, "RenewDisk", _period(p["DiskChargePrepaid"].get("Period"), "DiskChargePrepaid.Period"), 80)
    return {}


def cbs_describe(ctx, p, state):
    rows = _listed(ctx, p, state, "cbs", "DiskIds")
    return {"TotalCount": len(rows), "DiskSet": [{
        "DiskId": r["id"], "DiskChargeType": "PREPAID" if r["prepaid"] else "POSTPAID_BY_HOUR",
        "DeadlineTime": _bj(r["expires"]) if r["prepaid"] else None,
        "RenewFlag": FLAGS[0] if r["auto_renew"] else FLAGS[1],
        "DiskState": r["status"] or "ATTACHED", "DiskUsage": "DATA_DISK", "DiskName": r["name"] or r["id"],
        "Placement": {"Zone": (r["region"] or ctx.region) + "-1"}} for r in _page(p, rows, 100)]}


# ---- cdb ------------------------------------------------------------------------

def cdb_price(ctx, p, state):
    if not p.get("InstanceId"):
        raise Invalid("InvalidParameterValue", "the fake prices renewals only (InstanceId)")
    r = _one(ctx, state, p["InstanceId"], "cdb")
    n = as_int(p["Period"])
    if n is None or not 1 <= n <= 36:
        raise Invalid("InvalidParameterValue", "Period is 1..36")
    raw, quote = state.raw_quote([r["id"]])
    return {"Price": quote if raw else _cents(state, r, n, 85), "OriginalPrice": _cents(state, r, n, 100), "Currency": "CNY"}


def cdb_renew(ctx, p, state):
    r = _one(ctx, state, p["InstanceId"], "cdb")
    _renew(ctx, state, r, "RenewDBInstance", _period(p["TimeSpan"], "TimeSpan"), 85)
    return {"DealId": "cdb-deal-%012d" % state.serial()}


def cdb_describe(ctx, p, state):
    rows = _listed(ctx, p, state, "cdb", "InstanceIds")
    now = state.now()
    return {"TotalCount": len(rows), "Items": [{
        "InstanceId": r["id"], "PayType": 0 if r["prepaid"] else 1,
        "DeadlineTime": _bj(r["expires"]) if r["prepaid"] else None,
        "AutoRenew": 1 if r["auto_renew"] else 0,
        "Status": 5 if r["expires"] is not None and r["expires"] <= now else 1,
        "Region": r["region"] or ctx.region, "InstanceType": 1} for r in _page(p, rows, 2000)]}


# ---- redis ----------------------------------------------------------------------

def redis_inquiry(ctx, p, state):
    r = _one(ctx, state, p["InstanceId"], "crs")
    n = _period(p["Period"])
    raw, quote = state.raw_quote([r["id"]])
    return {"Price": quote if raw else float(_cents(state, r, n, 90)), "OriginalPrice": float(_cents(state, r, n, 100)),
            "Currency": "CNY", "AmountUnit": "pent"}


def redis_renew(ctx, p, state):
    r = _one(ctx, state, p["InstanceId"], "crs")
    _renew(ctx, state, r, "RenewInstance", _period(p["Period"]), 90)
    n = state.serial()
    return {"DealId": "redis-deal-%012d" % n, "DealName": "2026%014d" % n}


def redis_describe(ctx, p, state):
    rows = _listed(ctx, p, state, "crs", "InstanceIds")
    if p.get("BillingMode") in ("prepaid", "postpaid"):
        rows = [r for r in rows if r["prepaid"] == (p["BillingMode"] == "prepaid")]
    now = state.now()
    return {"TotalCount": len(rows), "InstanceSet": [{
        "InstanceId": r["id"], "BillingMode": 1 if r["prepaid"] else 0,
        "DeadlineTime": _bj(r["expires"]) if r["prepaid"] else None,
        "AutoRenewFlag": 1 if r["auto_renew"] else 0,
        "Status": -2 if r["expires"] is not None and r["expires"] <= now else 2,
        "Region": r["region"] or ctx.region} for r in _page(p, rows, 1000)]}


# ---- lighthouse -----------------------------------------------------------------

def _lh_price(orig, disc):
    return {"OriginalPrice": orig / 100, "DiscountPrice": disc / 100, "Discount": 80, "Currency": "CNY"}


def lh_inquiry(ctx, p, state):
    rows = [_one(ctx, state, i, "lighthouse") for i in p["InstanceIds"]]
    n = _period(p["InstanceChargePrepaid"].get("Period"), "InstanceChargePrepaid.Period")
    detail = []
    for r in rows:
        raw, quote = state.raw_quote([r["id"]])
        price = _lh_price(_cents(state, r, n, 100), _cents(state, r, n, 80))
        if raw:
            price["DiscountPrice"] = quote
        detail.append({"InstanceId": r["id"], "InstancePrice": price})
    orig, disc = sum(_cents(state, r, n, 100) for r in rows), sum(_cents(state, r, n, 80) for r in rows)
    return {"Price": {"InstancePrice": detail[0]["InstancePrice"]}, "InstancePriceDetailSet": detail,
            "TotalPrice": {"OriginalPrice": orig / 100, "DiscountPrice": disc / 100}}


def lh_renew(ctx, p, state):
    rows = [_one(ctx, state, i, "lighthouse") for i in p["InstanceIds"]]
    n = _period(p["InstanceChargePrepaid"].get("Period"), "InstanceChargePrepaid.Period")
    for r in rows:
        _renew(ctx, state, r, "RenewInstances", n, 80)   # describe.on_renew: asynchronous, as cvm
    return {}


def lh_describe(ctx, p, state):
    rows = _listed(ctx, p, state, "lighthouse", "InstanceIds")
    now = state.now()
    items = []
    for r in _page(p, rows, 100):
        lat = r["latest"] or {}
        items.append({
            "InstanceId": r["id"], "InstanceChargeType": "PREPAID",
            "ExpiredTime": describe._fmt(r["expires"], "Z"),
            "RenewFlag": FLAGS[0] if r["auto_renew"] else FLAGS[1],
            "InstanceState": describe.status_of(r, now), "Zone": (r["region"] or ctx.region) + "-1",
            "LatestOperation": lat.get("op"), "LatestOperationState": lat.get("state"),
            "LatestOperationRequestId": lat.get("request_id")})
    return {"TotalCount": len(rows), "InstanceSet": items}


# ---- billing RenewInstance --------------------------------------------------------

def billing_renew(ctx, p, state):
    token = p["ClientToken"]
    unit = p.get("PeriodUnit", "m")
    n = as_int(p.get("Period", 1))
    if unit not in ("m", "y") or n is None or not 1 <= n <= 36:
        raise Invalid("InvalidParameterValue", "Period is 1..36, PeriodUnit m or y")
    months = n * 12 if unit == "y" else n
    fingerprint = [p["ProductCode"], p["SubProductCode"], p["RegionCode"], p["InstanceId"], months]
    key = ("billing.RenewInstance.tencent", ctx.cred_id, token)
    if key in state.tokens:
        seen, answer = state.tokens[key]
        if seen != fingerprint:
            raise Invalid("InvalidParameterValue", "ClientToken %s was used with other parameters" % token)
        return answer       # the same order; nothing executes again
    import billing
    r = state.fleet.get(p["InstanceId"])
    code, sub = (None, None)
    if r is not None:
        dc, ds = billing.TC_CODES.get(r["product"], (None, None))
        code, sub = r["product_code"] or dc, r["sub_product_code"] or ds or (code or "").replace("p_", "sp_", 1)
    if r is None or p["InstanceId"] in state.missing or describe.cloud_of(r) != "tencent" or not r["prepaid"] \
            or p["ProductCode"] != code or p["SubProductCode"] != sub or p["RegionCode"] != r["region"]:
        raise Invalid("ResourceNotFound", "no prepaid instance %s of %s/%s in %s" % (
            p["InstanceId"], p["ProductCode"], p["SubProductCode"], p["RegionCode"]))
    if not state.charge(half_up_percent(state.monthly_cents(r["id"], 30, 5000) * months, 90)):
        raise Invalid("FailedOperation", "Insufficient account balance")
    state.renew("tencent", "RenewInstance", r["id"], months)
    answer = {"OrderIdList": ["2026%014d" % state.serial()]}
    state.tokens[key] = (fingerprint, answer)
    return answer


def install(actions, versions):
    actions["cbs"] = {"InquiryPriceRenewDisks": cbs_inquiry, "RenewDisk": cbs_renew,
                      "DescribeDisks": cbs_describe}
    actions["cdb"] = {"DescribeDBPrice": cdb_price, "RenewDBInstance": cdb_renew,
                      "DescribeDBInstances": cdb_describe}
    actions["redis"] = {"InquiryPriceRenewInstance": redis_inquiry, "RenewInstance": redis_renew,
                        "DescribeInstances": redis_describe}
    actions["lighthouse"] = {"InquirePriceRenewInstances": lh_inquiry, "RenewInstances": lh_renew,
                             "DescribeInstances": lh_describe}
    actions["billing"]["RenewInstance"] = billing_renew
    versions.update({"cbs": "2017-03-12", "cdb": "2017-03-20", "redis": "2018-04-12", "lighthouse": "2020-03-24"})

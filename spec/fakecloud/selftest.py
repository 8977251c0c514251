#!/usr/bin/env python3
"""Self-test of the fake cloud: python3 spec/fakecloud/selftest.py [-v]

1. The fake's signing code (signing.py) and the independent client signer in
   testclient.py both reproduce the official worked examples in API-FACTS.md.
2. A live server (HTTP + HTTPS with spec/support/certs.sh certificates) accepts
   correctly signed requests, rejects bad ones with the clouds' codes, and its
   idempotency, faults, throttling and TLS behave as documented.
Exits non-zero when any check fails.
"""
import http.client
import json
from urllib.parse import urlencode
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import creds  # noqa: E402
import signing  # noqa: E402
from testclient import (TC, TC_STS, VECTOR_PAYLOAD, VOLC, VOLC_STS, Fake,  # noqa: E402
                        raw_exchange, raw_tencent, tc3_headers, volc_request)

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def eq(got, want, what=""):
    assert got == want, "%s: got %r, want %r" % (what, got, want)


# ---- official vectors ----------------------------------------------------------

TC_NEW = {"secret_id": "AKID" + "*" * 32, "secret_key": "*" * 32}
TC_OLD = {"secret_id": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
          "secret_key": "Gu5t9xGARNpq86cd98joQYCN3*******"}
VOLC_EX = {"access_key": "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
           "secret_key": "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ=="}


@check
def vectors_tencent(_):
    ct = "application/json; charset=utf-8"
    for cred, sign_action, want_hash, want_sig in [
        (TC_NEW, True, "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
         "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"),
        (TC_OLD, False, "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
         "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"),
    ]:
        eq(signing.sha256_hex(VECTOR_PAYLOAD),
           "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064", "payload hash")
        _, h, sig = tc3_headers(cred, "cvm", "DescribeInstances", "2017-03-12", VECTOR_PAYLOAD,
                                "cvm.tencentcloudapi.com", ts=1551113065, ctype=ct,
                                sign_action=sign_action)
        eq((h, sig), (want_hash, want_sig), "client signer")
        hdrs = {"content-type": ct, "host": "cvm.tencentcloudapi.com",
                "x-tc-action": "DescribeInstances"}
        names = ["content-type", "host"] + (["x-tc-action"] if sign_action else [])
        canon = signing.tc3_canonical_request("POST", "", hdrs, names, VECTOR_PAYLOAD.encode())
        sts = signing.tc3_string_to_sign(1551113065, "2019-02-25", "cvm", canon)
        eq(signing.sha256_hex(canon), want_hash, "fake canonical request")
        eq(signing.tc3_signature(cred["secret_key"], "2019-02-25", "cvm", sts), want_sig,
           "fake signature")


@check
def vectors_volcengine(_):
    want_hash = "3a4d4dee07c3308a52da01bc12d7a83c3705bfa543f51648f46de880bb2a7447"
    want_sig = "28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7"
    ct = "application/x-www-form-urlencoded; charset=utf-8"
    params = {"Action": "ListUsers", "Version": "2018-01-01", "Limit": "10", "Offset": "0"}
    hdrs, _, h, sig = volc_request(VOLC_EX, "iam", "cn-north-1", "GET", params,
                                   "iam.volcengineapi.com", b"", ct, x_date="20201230T081805Z")
    eq((h, sig), (want_hash, want_sig), "client signer")
    names = ["content-type", "host", "x-content-sha256", "x-date"]
    canon = signing.volc_canonical_request("GET", "/", list(params.items()), hdrs, names, b"")
    sts = signing.volc_string_to_sign("20201230T081805Z", "cn-north-1", "iam", canon)
    eq(signing.sha256_hex(canon), want_hash, "fake canonical request")
    eq(signing.volc_signature(VOLC_EX["secret_key"], "20201230", "cn-north-1", "iam", sts),
       want_sig, "fake signature")


@check
def credentials_json_current(_):
    with open(creds.JSON_PATH, encoding="utf-8") as f:
        eq(f.read(), creds.as_json(), "credentials.json (regenerate with python3 creds.py)")


# ---- Tencent ------------------------------------------------------------------

@check
def tencent_inquiry_ok(fake):
    fake.control("POST", "config", {"prices": {"ins-aaaaaaaa": 100.05}})
    r = fake.tencent("cvm", "InquiryPriceRenewInstances",
                     {"InstanceIds": ["ins-aaaaaaaa", "ins-2zvpghhc"],
                      "InstanceChargePrepaid": {"Period": 3, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}})
    assert "Error" not in r, r
    cents = (10005 + 5000 + zlib.crc32(b"ins-2zvpghhc") % 20000) * 3
    ip = r["Price"]["InstancePrice"]
    eq(ip["OriginalPrice"], cents / 100, "OriginalPrice")
    eq(ip["DiscountPrice"], ((cents * 80 + 50) // 100) / 100, "DiscountPrice")
    eq((ip["Discount"], ip["UnitPrice"]), (80, None), "Discount/UnitPrice")
    eq(r["Price"]["BandwidthPrice"]["OriginalPrice"], 0, "bandwidth")
    rec = fake.control("GET", "requests")[-1]
    eq((rec["cloud"], rec["service"], rec["action"], rec["error"], rec["status"]),
       ("tencent", "cvm", "InquiryPriceRenewInstances", None, 200), "record")


@check
def tencent_rejections(fake):
    p = {"InstanceIds": ["ins-aaaaaaaa"], "InstanceChargePrepaid": {"Period": 1}}
    payload = json.dumps(p)
    hdrs, _, _ = tc3_headers(TC, "cvm", "InquiryPriceRenewInstances", "2017-03-12", payload,
                             fake.host, region="ap-guangzhou")
    st, _, body = fake.send("POST", "/", hdrs, payload.replace("1}", "2}").encode())
    eq(json.loads(body)["Response"]["Error"]["Code"], "AuthFailure.SignatureFailure", "tampered")

    def code(params, **kw):
        service = kw.pop("service", "cvm")
        action = kw.pop("action", "InquiryPriceRenewInstances")
        return fake.tencent(service, action, params, **kw).get("Error", {}).get("Code")
    eq(code(p, ts=int(time.time()) - 400), "AuthFailure.SignatureExpire", "old timestamp")
    eq(code(p, cred=dict(TC, secret_id="AKIDnobody")), "AuthFailure.SecretIdNotFound", "id")
    eq(code(p, cred=dict(TC_STS, token=None), token="wrong"), "AuthFailure.TokenFailure", "token")
    eq(code(p, cred=TC_STS), None, "STS with token")
    eq(code(p, version="2018-01-01"), "NoSuchVersion", "version")
    eq(code(p, action="NoSuchThing"), "InvalidAction", "action")
    eq(code(p, region=None), "MissingParameter", "no region")
    eq(code(p, region="mars-1"), "UnsupportedRegion", "region")
    eq(code(dict(p, InstanceIds=["i-bad"])), "InvalidInstanceId.Malformed", "malformed id")
    eq(code(dict(p, InstanceChargePrepaid={"Period": 13})), "InvalidPeriod", "period")
    eq(code({"InstanceIds": ["ins-aaaaaaaa"]}), "MissingParameter", "missing prepaid")
    eq(code(dict(p, Bogus=1)), "UnknownParameter", "unknown parameter")
    fake.control("POST", "config", {"missing": ["ins-gone0000"]})
    eq(code(dict(p, InstanceIds=["ins-gone0000"])), "InvalidInstanceId.NotFound", "missing id")
    plan = {"PlanId": "edgeone-2unuvzjmmn2q", "Period": 1, "AutoUseVoucher": False}
    eq(code(plan, service="teo", action="RenewPlan"),
       "InvalidParameter", "boolean AutoUseVoucher (a string officially: refused as any wrong type)")


@check
def official_bounds(fake):
    """The extract bounds the fake both ways (official.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import official
    ok = {"Price": {"InstancePrice": {"OriginalPrice": 1.0, "DiscountPrice": 0.8}}}
    eq(official.undefined_fields("tencent", "cvm", "2017-03-12", "InquiryPriceRenewInstances", ok), [], "defined")
    extra = {"Price": {"InstancePrice": {"DiscountPrice": 0.8, "Currency": "CNY"}}, "Region": "x"}
    eq(official.undefined_fields("tencent", "cvm", "2017-03-12", "InquiryPriceRenewInstances", extra),
       ["Response.Price.InstancePrice.Currency", "Response.Region"], "undefined fields")
    eq(official.undefined_fields("volcengine", "billing", "2022-01-01", "ListAvailableInstances",
                                 {"InstanceList": [{"InstanceID": "i-1", "Region": "cn-beijing"}]}),
       ["Result.InstanceList[].Region"], "billing has no Region")

    def code(params, service, action, **kw):
        return fake.tencent(service, action, params, **kw).get("Error", {}).get("Code")
    ids = {"InstanceIds": ["ins-aaaaaaaa"]}
    eq(code(dict(ids, Filters=[{"Name": "zone", "Values": ["ap-guangzhou-3"]}]), "cvm", "DescribeInstances",
            region="ap-guangzhou"), "InvalidParameter", "InstanceIds with Filters")
    eq(code({}, "cwp", "DescribeMachineInfo", version="2018-02-28", region=None), "MissingParameter",
       "neither Quuid nor Uuid")
    eq(code({"PlanId": "edgeone-2unuvzjmmn2q"}, "teo", "RenewPlan", region=None), "MissingParameter",
       "RenewPlan without Period")
    eq(code({"PlanId": "edgeone-2unuvzjmmn2q", "Period": "1"}, "teo", "RenewPlan", region=None),
       "InvalidParameter", "Period as a string")
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01", {"InstanceId": "i-aaaaaaaa", "Period": "1"})
    eq((st >= 400, r["ResponseMetadata"]["Error"]["Code"]), (True, "MissingParameter"), "PeriodUnit is required")
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01", {"InstanceId": "i-aaaaaaaa", "Period": "1",
                                                                 "PeriodUnit": "Month", "Bogus": "1"})
    eq(r["ResponseMetadata"]["Error"]["Code"], "InvalidParameter", "unknown Volcengine parameter")


@check
def tencent_renewals_and_get(fake):
    r = fake.tencent("teo", "RenewPlan", {"PlanId": "edgeone-2unuvzjmmn2q", "Period": 1,
                                          "AutoUseVoucher": "true"}, region=None)
    assert r["DealName"].startswith("2026") and len(r["DealName"]) == 18, r
    r = fake.tencent("yunjing", "InquiryPriceOpenProVersionPrepaid",
                     {"ChargePrepaid": {"Period": 1}, "Machines": [
                         {"MachineType": "CVM", "MachineRegion": "ap-guangzhou", "Quuid": "q1"}]},
                     region=None)
    assert isinstance(r["OriginalPrice"], float) and r["DiscountPrice"] < r["OriginalPrice"], r
    fake.tencent("yunjing", "RenewProVersion", {"Quuid": "q1", "ChargePrepaid": {"Period": 1}})
    # GET form: parameters in the query string, which is also the canonical query.
    q = "Limit=1"
    hdrs, _, _ = tc3_headers(TC, "cvm", "DescribeInstances", "2017-03-12", "", fake.host,
                             region="ap-beijing", method="GET", query=q,
                             ctype="application/x-www-form-urlencoded")
    st, _, body = fake.send("GET", "/?" + q, hdrs)
    eq(len(json.loads(body)["Response"]["InstanceSet"]), 1, "GET DescribeInstances")
    eq(fake.control("GET", "renewals"), {"edgeone-2unuvzjmmn2q": 1, "q1": 1}, "renewals")


# ---- Volcengine ---------------------------------------------------------------

@check
def volc_renew_idempotent(fake):
    args = {"InstanceId": "i-aaaaaaaaaaaaaaaaaaaa", "Period": "1", "PeriodUnit": "Month",
            "ClientToken": "tok-123"}
    st1, _, r1 = fake.volc("ecs", "RenewInstance", "2020-04-01", args)
    st2, _, r2 = fake.volc("ecs", "RenewInstance", "2020-04-01", args)
    eq((st1, st2), (200, 200), "status")
    assert r1["Result"]["OrderId"].startswith("Order"), r1
    eq(r2["Result"]["OrderId"], r1["Result"]["OrderId"], "same order")
    eq(r1["ResponseMetadata"]["Service"], "ecs", "metadata")
    eq(fake.control("GET", "renewals"), {"i-aaaaaaaaaaaaaaaaaaaa": 1}, "executed once")
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01", dict(args, Period="2"))
    eq((st, r["ResponseMetadata"]["Error"]["Code"]), (400, "IdempotentParameterMismatch"), "")
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01", dict(args, PeriodUnit="Week"))
    eq((st, r["ResponseMetadata"]["Error"]["Code"]), (400, "InvalidPeriodUnit"), "week")
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01", args, cred=VOLC_STS)
    eq(st, 200, "STS with token")
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01", args,
                         cred=dict(VOLC, secret_key="nope"))
    eq((st, r["ResponseMetadata"]["Error"]["Code"]), (401, "SignatureDoesNotMatch"), "bad key")
    st, _, r = fake.volc("ecs", "RenewInstance", "2099-01-01", args)
    eq((st, r["ResponseMetadata"]["Error"]["Code"]), (404, "InvalidActionOrVersion"), "version")


@check
def volc_billing_strings(fake):
    body = {"Product": "ECS", "UseDuration": 2, "InstanceIDList": ["i-1", "i-2"]}
    st, _, r = fake.volc("billing", "QueryPriceForRenew", "2022-01-01", {}, "POST", body)
    eq(st, 200, "status")
    res = r["Result"]
    for v in [res["TotalOriginalAmount"], res["TotalDiscountAmount"]] + \
            [i[k] for i in res["InstanceAmountList"] for k in ("OriginalAmount", "DiscountAmount")]:
        assert isinstance(v, str) and v.split(".")[1].isdigit() and len(v.split(".")[1]) == 2, v
    st, _, r = fake.volc("billing", "QueryPriceForRenew", "2022-01-01", {}, "POST",
                         dict(body, InstanceIDList=["i-1", "i-1"]))
    eq((st, r["ResponseMetadata"]["Error"]["Code"]), (400, "InvalidParameter"), "duplicates")


@check
def raw_quotes(fake):
    fake.control("POST", "config", {"raw_quotes": {"ins-rawq0001": "NaN", "q1": -1000,
                                                   "i-2": {"$literal": "1e309"}}})
    p = {"InstanceIds": ["ins-rawq0001"], "InstanceChargePrepaid": {"Period": 1}}
    eq(fake.tencent("cvm", "InquiryPriceRenewInstances", p)["Price"]["InstancePrice"]["DiscountPrice"],
       "NaN", "cvm raw quote")
    m = {"ChargePrepaid": {"Period": 1}, "Machines": [{"MachineType": "CVM", "MachineRegion": "r", "Quuid": "q1"}]}
    eq(fake.tencent("yunjing", "InquiryPriceOpenProVersionPrepaid", m)["DiscountPrice"], -1000, "yunjing")
    body = {"Product": "ECS", "UseDuration": 1, "InstanceIDList": ["i-1", "i-2"]}
    st, _, r = fake.volc("billing", "QueryPriceForRenew", "2022-01-01", {}, "POST", body)
    amounts = [i["DiscountAmount"] for i in r["Result"]["InstanceAmountList"]]
    assert isinstance(amounts[0], str) and amounts[1] == float("inf"), amounts   # 1e309 reads as inf
    eq(fake.control("GET", "state")["raw_quotes"]["i-2"], {"$literal": "1e309"}, "state view")
    st, _, _ = fake.send("POST", "/__fake/config", {"Content-Type": "application/json"},
                         json.dumps({"raw_quotes": {"x": {"$literal": "NaN"}}}).encode())
    eq(st, 400, "a $literal must be a JSON number token")


# ---- faults, throttling, TLS, keep-alive ----------------------------------------

@check
def fault_drops(fake):
    fake.control("POST", "faults", {"faults": [{"action": "RenewInstances", "kind": "drop_before"},
                                               {"action": "RenewInstances", "kind": "drop_after"}]})
    req = raw_tencent(fake, "RenewInstances", {"InstanceIds": ["ins-aaaaaaaa"],
                                               "InstanceChargePrepaid": {"Period": 1}})
    t = time.time()
    eq(raw_exchange(fake.port, req), b"", "drop_before sends nothing")
    assert time.time() - t < 2, "drop_before did not close promptly"
    eq(fake.control("GET", "renewals"), {}, "drop_before did not execute")
    eq(raw_exchange(fake.port, req), b"", "drop_after sends nothing")
    eq(fake.control("GET", "renewals"), {"ins-aaaaaaaa": 1}, "drop_after executed")
    eq([r["fault"] for r in fake.control("GET", "requests")], ["drop_before", "drop_after"], "")


@check
def fault_kinds(fake):
    p = {"InstanceIds": ["ins-aaaaaaaa"], "InstanceChargePrepaid": {"Period": 1}}
    payload = json.dumps(p)
    kinds = ["status500", "status502_html", "nonjson", "huge", "throttle", "truncated"]
    fake.control("POST", "faults", {"faults": [{"action": "*", "kind": k} for k in kinds]})
    results = []
    for _ in kinds:
        hdrs, _, _ = tc3_headers(TC, "cvm", "InquiryPriceRenewInstances", "2017-03-12", payload,
                                 fake.host, region="ap-guangzhou")
        conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
        try:
            st, rh, body = fake.send("POST", "/", hdrs, payload.encode(), conn)
            results.append((st, rh.get("Content-Type"), len(body), body[:40]))
        except http.client.IncompleteRead as e:
            results.append(("incomplete", len(e.partial)))
        conn.close()
    eq(results[0][:3], (500, "text/plain", 0), "status500")
    eq(results[1][:2], (502, "text/html"), "status502_html")
    eq(results[2][3], b"<html>oops</html>", "nonjson")
    eq((results[3][0], results[3][2]), (200, 12 * 1024 * 1024), "huge")
    assert b"RequestLimitExceeded" in fake.control("GET", "requests")[4]["error"].encode()
    eq(results[5][0], "incomplete", "truncated")
    # slow: the answer is late but normal.
    fake.control("POST", "faults", {"faults": [{"kind": "slow", "delay": 0.5}]})
    t = time.time()
    assert "Price" in fake.tencent("cvm", "InquiryPriceRenewInstances", p)
    assert time.time() - t >= 0.5, "slow was not slow"


@check
def fault_body(fake):
    p = {"InstanceIds": ["ins-aaaaaaaa"], "InstanceChargePrepaid": {"Period": 1}}
    fake.control("POST", "faults", {"faults": [
        {"action": "RenewInstances", "kind": "body", "body": '{"Response":[1,2]}', "execute": True},
        {"action": "RenewInstances", "kind": "body", "body": "not json", "status": 503}]})
    req = raw_tencent(fake, "RenewInstances", p)
    got = raw_exchange(fake.port, req.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b'{"Response":[1,2]}'), got
    eq(fake.control("GET", "renewals"), {"ins-aaaaaaaa": 1}, "body with execute ran the action")
    got = raw_exchange(fake.port, req.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    assert got.startswith(b"HTTP/1.1 503 ") and got.endswith(b"not json"), got
    eq(fake.control("GET", "renewals"), {"ins-aaaaaaaa": 1}, "body without execute did not run it")
    eq([r["fault"] for r in fake.control("GET", "requests")], ["body", "body"], "")
    for bad in ({"kind": "body"}, {"kind": "body", "body": "x", "status": 99},
                {"kind": "body", "body": "x", "execute": 1}):
        st, _, _ = fake.send("POST", "/__fake/faults", {"Content-Type": "application/json"},
                             json.dumps({"faults": [bad]}).encode())
        eq(st, 400, "bad body fault %r" % bad)


@check
def throttle_retry_after(fake):
    body = {"Product": "ECS", "UseDuration": 1, "InstanceIDList": ["i-1"]}
    fake.control("POST", "faults", {"faults": [
        {"action": "QueryPriceForRenew", "kind": "throttle", "retry_after": "3000"},
        {"action": "QueryPriceForRenew", "kind": "throttle", "retry_after": "soon"}]})
    for want in ("3000", "soon"):
        st, rh, _ = fake.volc("billing", "QueryPriceForRenew", "2022-01-01", {}, "POST", body)
        eq((st, rh.get("Retry-After")), (429, want), "throttle retry_after")
    for bad in ({"kind": "throttle", "retry_after": 5}, {"kind": "status500", "retry_after": "1"},
                {"kind": "throttle", "retry_after": "1\r\nX-Evil: 1"}):
        st, _, _ = fake.send("POST", "/__fake/faults", {"Content-Type": "application/json"},
                             json.dumps({"faults": [bad]}).encode())
        eq(st, 400, "bad retry_after fault %r" % bad)


@check
def throttling(fake):
    fake.control("POST", "config", {"limits": True})
    p = {"InstanceIds": ["ins-aaaaaaaa"], "InstanceChargePrepaid": {"Period": 1}}
    codes = [fake.tencent("cvm", "InquiryPriceRenewInstances", p).get("Error", {}).get("Code")
             for _ in range(12)]
    eq(codes.count("RequestLimitExceeded"), 2, "12 requests against a limit of 10: %s" % codes)
    fake.control("POST", "config", {"limit_overrides": {"QueryPriceForRenew": 1}})
    body = {"Product": "ECS", "UseDuration": 1, "InstanceIDList": ["i-1"]}
    st1, _, _ = fake.volc("billing", "QueryPriceForRenew", "2022-01-01", {}, "POST", body)
    st2, rh, r = fake.volc("billing", "QueryPriceForRenew", "2022-01-01", {}, "POST", body)
    eq((st1, st2, r["ResponseMetadata"]["Error"]["Code"]), (200, 429, "FlowLimitExceeded"), "")
    eq(rh.get("Retry-After"), "1", "Retry-After")
    eq(fake.control("GET", "state")["throttled"], 3, "throttle count")
    time.sleep(1.05)
    assert "Error" not in fake.tencent("cvm", "InquiryPriceRenewInstances", p), "window slides"


@check
def https(fake):
    payload = json.dumps({"Limit": 1})
    hdrs, _, _ = tc3_headers(TC, "cvm", "DescribeInstances", "2017-03-12", payload,
                             "cvm.tencentcloudapi.com", region="ap-guangzhou")

    def over_tls(ca):
        ctx = ssl.create_default_context(cafile=ca)
        raw = socket.create_connection(("127.0.0.1", fake.tls_port), timeout=10)
        conn = http.client.HTTPSConnection("cvm.tencentcloudapi.com", context=ctx)
        conn.sock = ctx.wrap_socket(raw, server_hostname="cvm.tencentcloudapi.com")
        try:
            return fake.send("POST", "/", hdrs, payload.encode(), conn)
        finally:
            conn.close()
    st, _, body = over_tls(fake.certs + "/ca.pem")
    eq(json.loads(body)["Response"]["TotalCount"], 2, "HTTPS with the test CA")
    try:
        over_tls(fake.certs + "/wrong-ca.pem")
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise AssertionError("HTTPS with wrong-ca.pem should fail verification")


@check
def keepalive_and_latency(fake):
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    for _ in range(3):
        fake.tencent("cvm", "DescribeInstances", {}, conn=conn)
    local = conn.sock.getsockname()
    fake.tencent("cvm", "DescribeInstances", {}, conn=conn)
    eq(conn.sock.getsockname(), local, "same connection reused")
    fake.control("POST", "config", {"latency": 0.3})
    t = time.time()
    fake.tencent("cvm", "DescribeInstances", {}, conn=conn)
    assert time.time() - t >= 0.3, "latency not applied"
    st, _, _ = fake.send("GET", "/nothing-here")
    eq(st, 404, "unknown path")


# ---- fleet and read actions (describe.py) -------------------------------------

@check
def fleet_cvm_pages_and_async_renewal(fake):
    res = [{"id": "ins-p%07d" % i, "expires_in_days": 5 + i % 40} for i in range(250)]
    res.append({"id": "ins-postpaid", "prepaid": False})
    fake.control("POST", "resources", {"resources": res, "operation_seconds": 0.5})
    seen, off = [], 0
    while True:
        r = fake.tencent("cvm", "DescribeInstances", {"Offset": off, "Limit": 100})
        eq(r["TotalCount"], 251, "TotalCount")
        seen += r["InstanceSet"]
        off += 100
        if off >= r["TotalCount"]:
            break
    eq(len(seen), 251, "all pages")
    post = [i for i in seen if i["InstanceId"] == "ins-postpaid"][0]
    eq((post["InstanceChargeType"], post["ExpiredTime"]), ("POSTPAID_BY_HOUR", None), "postpaid")
    one = fake.tencent("cvm", "DescribeInstances", {"InstanceIds": ["ins-p0000001"]})["InstanceSet"][0]
    assert one["ExpiredTime"].endswith("Z") and one["RenewFlag"] == "NOTIFY_AND_MANUAL_RENEW", one
    before = one["ExpiredTime"]
    rid = fake.tencent("cvm", "RenewInstances", {"InstanceIds": ["ins-p0000001"],
                                                 "InstanceChargePrepaid": {"Period": 1}})["RequestId"]
    one = fake.tencent("cvm", "DescribeInstances", {"InstanceIds": ["ins-p0000001"]})["InstanceSet"][0]
    eq((one["LatestOperation"], one["LatestOperationState"], one["LatestOperationRequestId"],
        one["ExpiredTime"]), ("RenewInstances", "OPERATING", rid, before), "operating")
    time.sleep(0.6)
    one = fake.tencent("cvm", "DescribeInstances", {"InstanceIds": ["ins-p0000001"]})["InstanceSet"][0]
    eq(one["LatestOperationState"], "SUCCESS", "success after operation_seconds")
    assert one["ExpiredTime"] > before, (one["ExpiredTime"], before)
    # An injected FAILED operation leaves the expiry where it was.
    fake.control("POST", "resources", {"merge": True, "operation_seconds": 0, "resources": [
        {"id": "ins-p0000002", "operation_result": "FAILED", "operation_error": "no stock"}]})
    before = fake.tencent("cvm", "DescribeInstances", {"InstanceIds": ["ins-p0000002"]})["InstanceSet"][0]
    fake.tencent("cvm", "RenewInstances", {"InstanceIds": ["ins-p0000002"],
                                           "InstanceChargePrepaid": {"Period": 1}})
    one = fake.tencent("cvm", "DescribeInstances", {"InstanceIds": ["ins-p0000002"]})["InstanceSet"][0]
    eq((one["LatestOperationState"], one["LatestOperationErrorMsg"], one["ExpiredTime"]),
       ("FAILED", "no stock", before["ExpiredTime"]), "failed")
    eq(fake.control("GET", "renewals"), {"ins-p0000001": 1, "ins-p0000002": 1}, "renewals")


@check
def fleet_teo_cwp_dates(fake):
    fake.control("POST", "resources", {"resources": [
        {"id": "edgeone-aaaaaaaaaaaa", "expires_at": 1767225600, "auto_renew": True},   # 2026-01-01Z
        {"id": "q-machine-1", "expires_at": 1767225600}]})
    r = fake.tencent("teo", "DescribePlans", {"Limit": 200}, region=None)
    eq(r["Plans"][0]["ExpiredTime"], "2026-01-01T00:00:00Z", "teo expiry")
    eq((r["Plans"][0]["AutoRenewal"], r["Plans"][0]["PayMode"]), (True, 1), "teo flags")
    r = fake.tencent("cwp", "DescribeMachineInfo", {"Quuid": "q-machine-1"}, version="2018-02-28",
                     region=None)
    eq((r["ProVersionDeadline"], r["PayMode"]), ("2026-01-01 08:00:00", "PREPAY"), "cwp Beijing time")
    fake.tencent("teo", "RenewPlan", {"PlanId": "edgeone-aaaaaaaaaaaa", "Period": 2}, region=None)
    r = fake.tencent("teo", "DescribePlans", {"Filters": [{"Name": "plan-id",
                     "Values": ["edgeone-aaaaaaaaaaaa"]}]}, region=None)
    eq(r["Plans"][0]["ExpiredTime"], "2026-03-01T00:00:00Z", "renewal advanced by 2 months")


@check
def fleet_volcengine(fake):
    fake.control("POST", "resources", {"resources": [
        {"id": "i-v%019d" % i, "expires_at": 1767225600 + i * 86400, "auto_renew": i == 3}
        for i in range(15)] + [{"id": "i-postpaid0000000000", "prepaid": False}]})
    st, _, r = fake.volc("ecs", "DescribeInstances", "2020-04-01", {"MaxResults": "10"})
    eq((st, len(r["Result"]["Instances"]), r["Result"]["TotalCount"]), (200, 10, 16), "page 1")
    first = [i for i in r["Result"]["Instances"] if i["InstanceId"] == "i-v%019d" % 0][0]
    eq(first["ExpiredAt"], "2026-01-01T08:00:00+08:00", "ExpiredAt +08:00")
    st, _, r = fake.volc("ecs", "DescribeInstances", "2020-04-01",
                         {"MaxResults": "10", "NextToken": r["Result"]["NextToken"]})
    eq((len(r["Result"]["Instances"]), r["Result"]["NextToken"]), (6, ""), "last page")
    st, _, r = fake.volc("ecs", "DescribeInstances", "2020-04-01", {"InstanceIds.1": "i-postpaid0000000000"})
    eq(r["Result"]["Instances"][0]["InstanceChargeType"], "PostPaid", "by id")
    body = {"Product": "ECS", "ExpiredTimeStart": "2026-01-02T00:00:00Z",
            "ExpiredTimeEnd": "2026-01-05T00:00:00Z", "MaxResults": 100}
    st, _, r = fake.volc("billing", "ListAvailableInstances", "2022-01-01", {}, "POST", body)
    got = [(i["InstanceID"][-2:], i["RenewType"], i["ExpiredTime"]) for i in r["Result"]["InstanceList"]]
    eq(got, [("01", "Manually", "2026-01-02T00:00:00Z"), ("02", "Manually", "2026-01-03T00:00:00Z"),
             ("03", "Automatically", "2026-01-04T00:00:00Z"), ("04", "Manually", "2026-01-05T00:00:00Z")],
       "window")
    st, _, r = fake.volc("billing", "ListAvailableInstances", "2022-01-01", {}, "POST",
                         dict(body, ExpiredTimeEnd="2026-03-01T00:00:00Z"))
    eq((st, r["ResponseMetadata"]["Error"]["Code"]), (400, "InvalidParameter"), "span > 31 days")
    st, _, data = fake.send("POST", "/__fake/resources", {"Content-Type": "application/json"},
                            json.dumps({"resources": [{"id": "x", "bogus": 1}]}).encode())
    eq(st, 400, "unknown resource field refused")


# ---- role and federated credentials (metadata.py, sts.py) ----------------------

def _tc_ok(fake, cred):
    r = fake.tencent("cvm", "InquiryPriceRenewInstances",
                     {"InstanceIds": ["ins-aaaaaaaa"], "InstanceChargePrepaid": {"Period": 1}}, cred=cred)
    return r.get("Error", {}).get("Code")


@check
def metadata_services(fake):
    fake.control("POST", "iam", {"ttl": 1})
    base = "/latest/meta-data/cam/security-credentials/"
    st, _, role = fake.send("GET", base)
    eq((st, role), (200, b"cloudrenew-role"), "Tencent role name")
    st, _, body = fake.send("GET", base + "cloudrenew-role")
    t = json.loads(body)
    eq((st, t["Code"], t["ExpiredTime"] - time.time() <= 2), (200, "Success", True), "Tencent role credentials")
    tmp = {"secret_id": t["TmpSecretId"], "secret_key": t["TmpSecretKey"], "token": t["Token"]}
    eq(_tc_ok(fake, tmp), None, "temporary credentials accepted")
    eq(_tc_ok(fake, dict(tmp, token="wrong")), "AuthFailure.TokenFailure", "wrong token")
    eq(fake.send("GET", base + "other")[0], 404, "unknown role")
    # Volcengine IMDSv2: no token, no answer; PUT a token, then GET with it
    vbase = "/volcstack/latest/iam/security_credentials/"
    eq(fake.send("GET", vbase + "cloudrenew-role")[0], 401, "IMDSv2 without a token")
    eq(fake.send("GET", "/latest/api/token")[0], 405, "IMDSv2 token needs PUT")
    st, _, tok = fake.send("PUT", "/latest/api/token", {"X-volc-ecs-metadata-token-ttl-seconds": "21600"})
    eq(st, 200, "IMDSv2 token")
    st, _, body = fake.send("GET", vbase + "cloudrenew-role", {"X-volc-ecs-metadata-token": tok.decode()})
    v = json.loads(body)
    vtmp = {"access_key": v["AccessKeyId"], "secret_key": v["SecretAccessKey"], "session_token": v["SessionToken"]}
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01",
                         {"InstanceId": "i-aaaaaaaa", "Period": 1, "PeriodUnit": "Month"}, cred=vtmp)
    eq(st, 200, "Volcengine role credentials accepted")
    time.sleep(2.05)     # both have expired (whole seconds, rounded up)
    eq(_tc_ok(fake, tmp), "AuthFailure.TokenFailure", "expired Tencent credentials")
    st, _, r = fake.volc("ecs", "RenewInstance", "2020-04-01",
                         {"InstanceId": "i-aaaaaaaa", "Period": 1, "PeriodUnit": "Month"}, cred=vtmp)
    eq((st, r["ResponseMetadata"]["Error"]["Code"]), (401, "InvalidSecretToken"), "expired Volcengine credentials")
    fake.control("POST", "iam", {"metadata": "down"})
    eq(fake.send("GET", base)[0], 500, "metadata down")
    eq(fake.control("GET", "iam")["issued"], {}, "a new iam config clears the counts")


@check
def sts_actions(fake):
    fake.control("POST", "iam", {})
    arn = "qcs::cam::uin/100000000001:roleName/ops"
    r = fake.tencent("sts", "AssumeRole", {"RoleArn": arn, "RoleSessionName": "st", "DurationSeconds": 900},
                     version="2018-08-13")
    c = r["Credentials"]
    eq(_tc_ok(fake, {"secret_id": c["TmpSecretId"], "secret_key": c["TmpSecretKey"], "token": c["Token"]}),
       None, "assumed-role credentials accepted")
    r = fake.tencent("sts", "AssumeRole", {"RoleArn": "bad", "RoleSessionName": "st"}, version="2018-08-13")
    eq(r["Error"]["Code"], "InvalidParameter.RoleArn", "bad RoleArn")
    body = json.dumps({"ProviderId": "fake-provider", "WebIdentityToken": "fake-oidc-token", "RoleArn": arn,
                       "RoleSessionName": "st"})
    hdrs = {"Authorization": "SKIP", "Content-Type": "application/json", "X-TC-Action": "AssumeRoleWithWebIdentity",
            "X-TC-Version": "2018-08-13", "X-TC-Region": "ap-guangzhou", "X-TC-Timestamp": str(int(time.time()))}
    st, _, data = fake.send("POST", "/", hdrs, body.encode())
    eq("TmpSecretId" in json.loads(data)["Response"]["Credentials"], True, "AssumeRoleWithWebIdentity unsigned")
    st, _, data = fake.send("POST", "/", hdrs, body.replace("fake-oidc-token", "x").encode())
    eq(json.loads(data)["Response"]["Error"]["Code"], "InvalidParameter.WebIdentityTokenError", "bad web identity")
    trn = "trn:iam::2100000001:role/ops"
    st, _, r = fake.volc("sts", "AssumeRole", "2018-01-01", {"RoleTrn": trn, "RoleSessionName": "st"})
    eq((st, "SessionToken" in r["Result"]["Credentials"]), (200, True), "Volcengine AssumeRole")
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    st, _, data = fake.send("POST", "/?Action=AssumeRoleWithOIDC&Version=2018-01-01", form,
                            urlencode({"OIDCToken": "fake-oidc-token", "RoleTrn": trn, "RoleSessionName": "st"}).encode())
    eq((st, "Expiration" in json.loads(data)["Result"]["Credentials"]), (200, True), "AssumeRoleWithOIDC unsigned")
    # a query-protocol service reads a form body only: JSON parameters are not seen
    st, _, data = fake.send("POST", "/?Action=AssumeRoleWithOIDC&Version=2018-01-01", {"Content-Type": "application/json"},
                            json.dumps({"OIDCToken": "fake-oidc-token", "RoleTrn": trn, "RoleSessionName": "st"}).encode())
    eq(st >= 400, True, "AssumeRoleWithOIDC with a JSON body")
    eq(fake.control("GET", "iam")["issued"], {"tencent:AssumeRole": 1, "tencent:AssumeRoleWithWebIdentity": 1,
                                               "volcengine:AssumeRole": 1, "volcengine:AssumeRoleWithOIDC": 1}, "issued")


def main():
    verbose = "-v" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        certs = os.path.join(tmp, "certs")
        subprocess.run(["sh", os.path.join(HERE, "..", "support", "certs.sh"), certs], check=True)
        fake = Fake(certs)
        failed = 0
        try:
            for fn in CHECKS:
                fake.control("POST", "reset")
                t = time.time()
                try:
                    fn(fake)
                    print("ok    %s (%.2fs)" % (fn.__name__, time.time() - t))
                except Exception as e:
                    failed += 1
                    print("FAIL  %s: %s" % (fn.__name__, e))
                    if verbose:
                        traceback.print_exc()
        finally:
            fake.stop()
        eq(fake.proc.returncode, 0, "fake exit status after /__fake/shutdown")
    print("%d/%d checks passed" % (len(CHECKS) - failed, len(CHECKS)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

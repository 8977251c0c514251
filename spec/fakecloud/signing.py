"""The two clouds' request-signing algorithms, written from the public docs.

This is the fake's own implementation (it never calls the project's code), so
a signature the fake accepts was computed correctly by an independent party.
selftest.py checks it against the official worked examples.
"""
import hashlib
import hmac
from urllib.parse import quote


def sha256_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _hmac(key, msg):
    if isinstance(key, str):
        key = key.encode("utf-8")
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


# ---- Tencent Cloud TC3-HMAC-SHA256 -------------------------------------------

def tc3_canonical_request(method, query, headers, signed_names, payload):
    """headers: {lower-case name: value}; signed_names: list, already sorted.

    Tencent lower-cases (and trims) the header values as well as the names.
    """
    canon_headers = "".join(
        "%s:%s\n" % (n, headers.get(n, "").strip().lower()) for n in signed_names)
    return "\n".join([method, "/", query, canon_headers, ";".join(signed_names),
                      sha256_hex(payload)])


def tc3_string_to_sign(timestamp, date, service, canonical_request):
    return "TC3-HMAC-SHA256\n%s\n%s/%s/tc3_request\n%s" % (
        timestamp, date, service, sha256_hex(canonical_request))


def tc3_signature(secret_key, date, service, string_to_sign):
    k_date = _hmac("TC3" + secret_key, date)
    k_service = _hmac(k_date, service)
    k_signing = _hmac(k_service, "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


# ---- Volcengine HMAC-SHA256 ------------------------------------------------------

def rfc3986(s):
    return quote(s, safe="-_.~")


def volc_canonical_query(pairs):
    """pairs: decoded (name, value) tuples; encoded, sorted by name then value."""
    enc = sorted((rfc3986(k), rfc3986(v)) for k, v in pairs)
    return "&".join("%s=%s" % kv for kv in enc)


def volc_canonical_request(method, path, pairs, headers, signed_names, body):
    """Volcengine trims header values but keeps their case."""
    canon_headers = "".join(
        "%s:%s\n" % (n, headers.get(n, "").strip()) for n in signed_names)
    return "\n".join([method, path, volc_canonical_query(pairs), canon_headers,
                      ";".join(signed_names), sha256_hex(body)])


def volc_string_to_sign(x_date, region, service, canonical_request):
    return "HMAC-SHA256\n%s\n%s/%s/%s/request\n%s" % (
        x_date, x_date[:8], region, service, sha256_hex(canonical_request))


def volc_signature(secret_key, date8, region, service, string_to_sign):
    k = _hmac(secret_key, date8)
    for part in (region, service, "request"):
        k = _hmac(k, part)
    return hmac.new(k, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()

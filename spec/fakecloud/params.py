"""Shared plumbing for both clouds: the parsed request, the reply, the context
a verified request carries, and small parameter-checking helpers."""
import json
import re


class Request:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path          # without the query string
        self.query = query        # raw query string as received ("" when none)
        self.headers = headers    # {lower-case name: value}
        self.body = body          # bytes


class Reply:
    def __init__(self, status, body, content_type="application/json", headers=None, error=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type
        self.headers = headers or {}
        self.error = error        # cloud error code, recorded with the request
        self.after = None         # called once the reply has been sent


def json_reply(status, obj, error=None, headers=None):
    return Reply(status, json.dumps(obj, ensure_ascii=False), headers=headers, error=error)


class Ctx:
    """What a request is, as far as verification got (fields stay None otherwise)."""
    def __init__(self, cloud, action=None, version=None, service=None, region=None):
        self.cloud = cloud
        self.action = action
        self.version = version
        self.service = service
        self.region = region
        self.cred = None          # the matching credential entry once known
        self.cred_id = None
        self.params = None        # parsed parameters (dispatch fills them in)
        self.loose = False        # parameters came from a query string: numbers are text


class Invalid(Exception):
    """A request the cloud rejects: code, message and (Volcengine) HTTP status."""
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def as_int(v, loose=False):
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if loose and isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v):
        return int(v)
    return None


def as_bool(v, loose=False):
    if isinstance(v, bool):
        return v
    if loose and v in ("true", "false"):
        return v == "true"
    return None


def half_up_percent(cents, percent):
    """cents * percent / 100, rounded half-up, in integer arithmetic (no float drift)."""
    return (cents * percent + 50) // 100


def unknown_keys(params, allowed, prefix=""):
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise Invalid("UnknownParameter",
                      "The parameter `%s%s` is not recognized." % (prefix, extra[0]))


def unflatten(pairs):
    """Tencent GET style "A.0=x&B.C=1" -> {"A": ["x"], "B": {"C": "1"}} (values stay text)."""
    root = {}
    for name, value in pairs:
        parts = name.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise Invalid("InvalidParameter", "parameter %s is malformed" % name)
        node[parts[-1]] = value

    def listify(node):
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            return [listify(node[k]) for k in sorted(node, key=int)]
        return {k: listify(v) for k, v in node.items()}
    return listify(root)

"""The vendors' definitions (official/extract.json, issue 20) as the fake's bounds.

For an action the extract defines, the fake refuses what the official input refuses
(an unknown parameter, a wrong type, a missing required one, the exclusive and
one-of rules) with the clouds' common error codes, and its success answer may carry
only fields the official output has: a field the definition lacks is the fake's own
bug, answered as HTTP 500 FakeCloud.UndefinedField so the spec that met it fails.
Actions the extract does not define (none the project uses) are left as they are.
"""
import json
import os
import re
import sys
from urllib.parse import parse_qsl

from params import Invalid, json_reply

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "official", "extract.json")
_EX = None


class Undefined(Exception):
    """The fake answered a field the official output does not have."""


def _extract():
    global _EX
    if _EX is None:
        with open(_PATH, "rb") as f:
            _EX = json.loads(f.read().decode("utf-8"))["actions"]
    return _EX


def definition(cloud, service, version, action):
    return _extract().get("%s/%s/%s/%s" % (cloud, service, version, action))


# ---- input ----------------------------------------------------------------------

# Tencent Cloud API 3.0 common error codes; Volcengine's common MissingParameter and
# InvalidParameter.
CODES = {
    "tencent": {"unknown": "UnknownParameter", "missing": "MissingParameter", "type": "InvalidParameter",
                "rule": "InvalidParameter"},
    "volcengine": {"unknown": "InvalidParameter", "missing": "MissingParameter", "type": "InvalidParameter",
                   "rule": "InvalidParameter"},
}

_INT = re.compile(r"-?[0-9]+")
_NUM = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _type_ok(t, v, strings):
    """Does v have official type t? strings: values came as text (query or form)."""
    if v is None:
        return True
    if strings and isinstance(v, str):
        if t == "integer":
            return bool(_INT.fullmatch(v))
        if t == "number":
            return bool(_NUM.fullmatch(v))
        if t == "boolean":
            return v in ("true", "false")
        return t == "string"
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    return True


def _check_fields(codes, fields, params, prefix, strings):
    for name in params:
        if name not in fields:
            raise Invalid(codes["unknown"], "The parameter %s%s is not recognized." % (prefix, name))
    for name, f in fields.items():
        v = params.get(name)
        if v is None:
            if f.get("required"):
                raise Invalid(codes["missing"], "The request is missing a required parameter `%s%s`."
                              % (prefix, name))
            continue
        if not _type_ok(f.get("type"), v, strings):
            raise Invalid(codes["type"], "The parameter %s%s must be of type %s." % (prefix, name, f.get("type")))
        if isinstance(v, dict) and f.get("fields"):
            _check_fields(codes, f["fields"], v, prefix + name + ".", strings)
        if isinstance(v, list) and isinstance(f.get("items"), dict):
            item = f["items"]
            for i, x in enumerate(v):
                if not _type_ok(item.get("type"), x, strings):
                    raise Invalid(codes["type"], "The parameter %s%s.%d must be of type %s."
                                  % (prefix, name, i, item.get("type")))
                if isinstance(x, dict) and item.get("fields"):
                    _check_fields(codes, item["fields"], x, "%s%s.%d." % (prefix, name, i), strings)


def _unflatten_top(pairs):
    """Query/form pairs -> { top-level name: value }: Name.1 / Name.Field become a
    list or dict of their own (their inner shape is not checked here)."""
    out = {}
    for k, v in pairs:
        top, _, rest = k.partition(".")
        if not rest:
            out[top] = v
        elif rest.split(".")[0].isdigit():
            out.setdefault(top, [])
            if isinstance(out[top], list):
                out[top].append(v)
        else:
            out.setdefault(top, {})
    return out


def check_input(req, ctx, cloud, params=None):
    """Raise Invalid as the official definition refuses; params: the parsed JSON
    object (Tencent) when the caller has it. Volcengine's are read from the wire."""
    d = definition(cloud, ctx.service, ctx.version, ctx.action)
    if d is None:
        return
    codes = CODES[cloud]
    strings = bool(getattr(ctx, "loose", False))   # Tencent GET: values came as text
    if cloud == "volcengine":
        query = [(k, v) for k, v in parse_qsl(req.query, keep_blank_values=True) if k not in ("Action", "Version")]
        ctype = (req.headers.get("content-type") or "").lower()
        if req.method == "GET":
            params, strings = _unflatten_top(query), True
        elif ctype.startswith("application/x-www-form-urlencoded"):
            params = _unflatten_top(query + parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
            strings = True
        else:
            try:
                params = json.loads(req.body.decode("utf-8") or "{}")
            except ValueError:
                return      # the action answers a body that is not JSON itself
            if not isinstance(params, dict):
                return
            for k, v in _unflatten_top(query).items():
                params.setdefault(k, v)
    if not isinstance(params, dict):
        return
    fields = d["input"]["fields"]
    if strings:
        # Inner shapes of flattened names are not rebuilt: check top-level names,
        # required ones and scalar types only.
        for name in params:
            if name not in fields:
                raise Invalid(codes["unknown"], "The parameter %s is not recognized." % name)
        for name, f in fields.items():
            v = params.get(name)
            if v is None or v == "":
                if f.get("required"):
                    raise Invalid(codes["missing"], "The request is missing a required parameter `%s`." % name)
            elif isinstance(v, str) and not _type_ok(f.get("type"), v, True):
                raise Invalid(codes["type"], "The parameter %s must be of type %s." % (name, f.get("type")))
    else:
        _check_fields(codes, fields, params, "", False)
    rules = d["input"].get("rules") or {}
    for group in rules.get("exclusive") or []:
        given = [n for n in group if params.get(n) not in (None, "")]
        if len(given) > 1:
            raise Invalid(codes["rule"], "The parameters %s cannot be specified together." % " and ".join(given))
    for group in rules.get("one_of_required") or []:
        if not any(params.get(n) not in (None, "") for n in group):
            raise Invalid(codes["missing"], "One of the parameters %s is required." % ", ".join(group))


# ---- output ---------------------------------------------------------------------

def undefined_fields(cloud, service, version, action, result):
    """Paths of a success answer's fields (below Response / Result) that the
    official output does not have; [] for actions the extract does not define."""
    d = definition(cloud, service, version, action)
    if d is None:
        return []
    known = d["output"]          # path -> official type
    root = "Response" if cloud == "tencent" else "Result"
    bad = []

    # A value of the wrong shape at a defined path (a hostile quote a spec asked
    # for) is not an undefined field: only defined objects and arrays are entered.
    def walk(v, path):
        if path not in known:
            bad.append(path)
            return
        if isinstance(v, dict) and known[path] == "object":
            for k, x in v.items():
                walk(x, path + "." + k)
        elif isinstance(v, list) and known[path] == "array":
            for x in v:
                walk(x, path + "[]")

    if isinstance(result, dict):
        for k, x in result.items():
            walk(x, root + "." + k)
    return sorted(set(bad))


def reply(e):
    """The fake's own bug, answered so that whatever met it fails loudly."""
    sys.stderr.write("fakecloud: %s\n" % e)
    return json_reply(500, {"Error": {"Code": "FakeCloud.UndefinedField", "Message": str(e)}},
                      error="FakeCloud.UndefinedField")


def check_output(cloud, ctx, result):
    bad = undefined_fields(cloud, ctx.service, ctx.version, ctx.action, result)
    if bad:
        raise Undefined("%s %s answered fields its official definition lacks: %s"
                        % (ctx.service, ctx.action, ", ".join(bad)))

"""Shared mutable state of the fake cloud: credentials, recorded requests,
renewals, prices, faults and throttling windows. One lock guards it all; the
action handlers run entirely under it so executions are atomic."""
import collections
import json
import random
import re
import threading
import time
import uuid
import zlib

import creds
import describe

# Documented per-action limits (requests per second); anything else gets DEFAULT_LIMIT.
LIMITS = {
    "RenewProVersion": 20, "InquiryPriceOpenProVersionPrepaid": 20, "RenewPlan": 20,
    "InquiryPriceRenewInstances": 10, "RenewInstances": 10, "RenewDisk": 10, "RenewDBInstance": 10,
    "RenewInstance": 10, "QueryPriceForRenew": 10,
    # cvm's documented 40/s (the clients pace Volcengine's DescribeInstances at 10/s anyway)
    "DescribeInstances": 40,
}
DEFAULT_LIMIT = 20

# Kinds that let the action execute before the (faulty) answer goes out.
EXECUTING_FAULTS = {"drop_after", "slow", "nonjson", "truncated"}
FAULT_KINDS = EXECUTING_FAULTS | {"drop_before", "status500", "status502_html", "huge", "throttle", "body"}


class Fault:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("fault must be an object")
        self.action = spec.get("action", "*")
        self.kind = spec.get("kind")
        if not isinstance(self.action, str):
            raise ValueError("fault action must be a string")
        if self.kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r (one of %s)" % (self.kind, sorted(FAULT_KINDS)))
        self.rate = spec.get("rate")
        # With a rate and no count the rule stays for good; otherwise it fires count times.
        self.count = spec.get("count", None if self.rate is not None else 1)
        # "slow" without a delay would be a no-op, so it defaults to one second.
        self.delay = spec.get("delay", 1.0 if self.kind == "slow" else 0)
        if self.count is not None and (not _is_int(self.count) or self.count < 1):
            raise ValueError("fault count must be an integer >= 1")
        if self.rate is not None and (not _is_num(self.rate) or not 0 <= self.rate <= 1):
            raise ValueError("fault rate must be a number in 0..1")
        if not _is_num(self.delay) or self.delay < 0:
            raise ValueError("fault delay must be a number >= 0")
        # "body": answer this raw body and status (hostile or malformed answers);
        # with execute the action runs first, as a cloud that acted would.
        self.body = spec.get("body")
        self.status = spec.get("status", 200)
        self.execute = spec.get("execute", False)
        if self.kind == "body":
            if not isinstance(self.body, str):
                raise ValueError("a body fault needs body: a string")
            if not _is_int(self.status) or not 100 <= self.status <= 599:
                raise ValueError("fault status must be an integer in 100..599")
            if not isinstance(self.execute, bool):
                raise ValueError("fault execute must be true or false")
        # "throttle": send this Retry-After verbatim instead of the cloud's own
        # (specs need absurd ones: 3000, 1e308, -5, "soon", an HTTP-date).
        self.retry_after = spec.get("retry_after")
        if self.retry_after is not None and (self.kind != "throttle" or not isinstance(self.retry_after, str)
                                             or "\r" in self.retry_after or "\n" in self.retry_after):
            raise ValueError("retry_after is a one-line string, for kind throttle only")

    def as_dict(self):
        d = {"action": self.action, "kind": self.kind, "count": self.count,
             "rate": self.rate, "delay": self.delay}
        if self.kind == "body":
            d.update(body=self.body, status=self.status, execute=self.execute)
        if self.retry_after is not None:
            d["retry_after"] = self.retry_after
        return d


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _id_list(v, name):
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("%s must be a list of strings" % name)
    return set(v)


class State:
    def __init__(self, latency=0.0, limits=False):
        self.lock = threading.RLock()
        self.cli_latency = latency
        self.cli_limits = limits
        # Credentials survive /__fake/reset so specs can add them once in setup.
        self.tencent = {c["secret_id"]: dict(c) for c in creds.TENCENT}
        self.volcengine = {c["access_key"]: dict(c) for c in creds.VOLCENGINE}
        self._serial = int(time.time()) % 100000
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.renewals = collections.Counter()
            self.renewal_log = []
            self.tokens = {}            # (access key, ClientToken) -> (params, OrderId)
            self.faults = []
            self.prices = {}            # id -> monthly price in cents
            self.raw_quotes = {}        # id -> what inquiries answer as its price, verbatim
            self.missing = set()
            self.locked = set()
            self.balance = None         # cents; None = unlimited
            self.clock_offset = 0.0
            self.date_header = None     # str: sent verbatim as Date (hostile-server specs)
            self.latency = self.cli_latency
            self.limits = self.cli_limits
            self.limit_overrides = {}
            self.windows = {}           # (credential id, action) -> deque of admit times
            self.throttled = collections.Counter()
            self.faults_fired = collections.Counter()
            # The fleet (describe.py): expiry, charge type, auto-renew, latest operation.
            self.fleet = describe.default_fleet(self.now())
            self.operation_seconds = 0.0

    # ---- control API ---------------------------------------------------------

    def configure(self, cfg):
        if not isinstance(cfg, dict):
            raise ValueError("config must be a JSON object")
        unknown = set(cfg) - {"latency", "clock_offset", "limits", "limit_overrides",
                              "balance", "prices", "missing", "locked", "date_header"}
        unknown.discard("raw_quotes")
        if unknown:
            raise ValueError("unknown config keys: %s" % sorted(unknown))
        # Validate everything first so a bad request changes nothing.
        new = {}
        for key in ("latency", "clock_offset"):
            if key in cfg:
                if not _is_num(cfg[key]) or (key == "latency" and cfg[key] < 0):
                    raise ValueError("%s must be a number" % key)
                new[key] = float(cfg[key])
        if "date_header" in cfg:
            d = cfg["date_header"]
            if d is not None and (not isinstance(d, str) or any(c in d for c in "\r\n\0")
                                  or len(d) > 65536 or not all(ord(c) < 256 for c in d)):
                raise ValueError("date_header must be null or a one-line latin-1 string up to 64 KiB")
            new["date_header"] = d
        if "limits" in cfg:
            if not isinstance(cfg["limits"], bool):
                raise ValueError("limits must be a boolean")
            new["limits"] = cfg["limits"]
        if "limit_overrides" in cfg:
            lo = cfg["limit_overrides"]
            if not isinstance(lo, dict) or not all(_is_int(v) and v >= 0 for v in lo.values()):
                raise ValueError("limit_overrides must map action names to integers >= 0")
            new["limit_overrides"] = dict(lo)
        if "balance" in cfg:
            b = cfg["balance"]
            if b is not None and not _is_num(b):
                raise ValueError("balance must be a number or null")
            new["balance"] = None if b is None else round(b * 100)
        if "prices" in cfg:
            p = cfg["prices"]
            if not isinstance(p, dict) or not all(_is_num(v) and v >= 0 for v in p.values()):
                raise ValueError("prices must map ids to monthly prices")
            new["prices"] = {k: round(v * 100) for k, v in p.items()}
        for key in ("missing", "locked"):
            if key in cfg:
                new[key] = _id_list(cfg[key], key)
        if "raw_quotes" in cfg:
            new["raw_quotes"] = _raw_quotes(cfg["raw_quotes"])
        with self.lock:
            for k, v in new.items():
                setattr(self, k, v)
        return self.config_view()

    def add_credentials(self, body):
        if not isinstance(body, dict):
            raise ValueError("credentials must be a JSON object")
        cloud = body.get("cloud")
        if cloud == "tencent":
            idk, keys = "secret_id", ("secret_id", "secret_key", "token")
        elif cloud == "volcengine":
            idk, keys = "access_key", ("access_key", "secret_key", "session_token")
        else:
            raise ValueError('cloud must be "tencent" or "volcengine"')
        entry = {k: body.get(k) for k in keys}
        for k in keys[:2]:
            if not isinstance(entry[k], str) or not entry[k]:
                raise ValueError("%s is required" % k)
        if entry[keys[2]] is not None and not isinstance(entry[keys[2]], str):
            raise ValueError("%s must be a string or null" % keys[2])
        with self.lock:
            getattr(self, cloud)[entry[idk]] = entry
        return {"ok": True, "cloud": cloud, idk: entry[idk]}

    def add_faults(self, body):
        specs = body.get("faults") if isinstance(body, dict) else None
        if not isinstance(specs, list):
            raise ValueError('expected {"faults": [...]}')
        rules = [Fault(s) for s in specs]
        with self.lock:
            self.faults.extend(rules)
            return {"ok": True, "faults": [f.as_dict() for f in self.faults]}

    def config_view(self):
        with self.lock:
            return {
                "latency": self.latency, "clock_offset": self.clock_offset,
                "date_header": self.date_header,
                "limits": self.limits, "limit_overrides": dict(self.limit_overrides),
                "balance": None if self.balance is None else self.balance / 100,
                "prices": {k: v / 100 for k, v in self.prices.items()},
                "missing": sorted(self.missing), "locked": sorted(self.locked),
                "raw_quotes": {k: ({"$literal": v.text} if isinstance(v, Literal) else v)
                               for k, v in self.raw_quotes.items()},
            }

    def snapshot(self):
        with self.lock:
            view = self.config_view()
            view.update({
                "request_count": len(self.requests),
                "renewals": dict(self.renewals),
                "renewal_log": list(self.renewal_log),
                "faults": [f.as_dict() for f in self.faults],
                "faults_fired": dict(self.faults_fired),
                "throttled": sum(self.throttled.values()),
                "throttled_by_action": dict(self.throttled),
                "idempotency_tokens": len(self.tokens),
                "credentials": {"tencent": sorted(self.tencent),
                                "volcengine": sorted(self.volcengine)},
            })
            return view

    # ---- used by the request pipeline ----------------------------------------

    def elsewhere(self, rid, region):
        """True when the fleet holds rid in another region: a regional API (cvm, ecs)
        called in `region` does not see it (reads omit it, actions answer NotFound)."""
        r = self.fleet.get(rid)
        return bool(r and r.get("region") and region and r["region"] != region)

    def now(self):
        """The fake's idea of the current time (tests shift it to fake clock skew)."""
        return time.time() + self.clock_offset

    def record(self, rec):
        with self.lock:
            self.requests.append(rec)

    def take_fault(self, action):
        with self.lock:
            for i, f in enumerate(self.faults):
                if f.action not in ("*", action):
                    continue
                # First matching rule decides; a rate miss means "answer normally".
                if f.rate is not None and random.random() >= f.rate:
                    return None
                if f.count is not None:
                    f.count -= 1
                    if f.count <= 0:
                        del self.faults[i]
                self.faults_fired[f.kind] += 1
                return f
            return None

    def admit(self, cred_id, action):
        """Sliding one-second window per (credential, action); False = throttled."""
        with self.lock:
            if not self.limits:
                return True
            limit = self.limit_overrides.get(action, LIMITS.get(action, DEFAULT_LIMIT))
            now = time.monotonic()
            win = self.windows.setdefault((cred_id, action), collections.deque())
            while win and win[0] <= now - 1.0:
                win.popleft()
            if len(win) >= limit:
                self.throttled[action] += 1
                return False
            win.append(now)
            return True

    def monthly_cents(self, rid, base, spread):
        """Override, else a stable pseudo-price: base + crc32(id) % spread cents."""
        if rid in self.prices:
            return self.prices[rid]
        return base * 100 + zlib.crc32(rid.encode("utf-8")) % spread

    def raw_quote(self, ids):
        """(True, value) for the first of ids with a raw quote configured, else (False, None)."""
        with self.lock:
            for rid in ids:
                if rid in self.raw_quotes:
                    return True, self.raw_quotes[rid]
            return False, None

    def charge(self, cents):
        """Take cents from the balance; False (nothing taken) when it is too low."""
        if self.balance is None:
            return True
        if self.balance < cents:
            return False
        self.balance -= cents
        return True

    def renew(self, cloud, action, rid, period, request_id=None):
        self.renewals[rid] += 1
        self.renewal_log.append({"cloud": cloud, "action": action, "id": rid,
                                 "period": period, "time": time.time()})
        describe.on_renew(self, action, rid, period, request_id)

    def serial(self):
        with self.lock:
            self._serial += 1
            return self._serial


def request_id():
    return str(uuid.uuid4())


# ---- hostile price quotes ------------------------------------------------------

class Literal:
    """A JSON number token sent exactly as written (1e309, -1e309): Python's json
    cannot produce them (it reads 1e309 as inf and writes Infinity)."""
    def __init__(self, text):
        self.text = text


LITERAL_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _raw_quotes(v):
    """{id: any JSON value} answered verbatim as the id's quote; {"$literal": "1e309"}
    stands for that number token written as is."""
    if not isinstance(v, dict):
        raise ValueError("raw_quotes must map ids to JSON values")
    out = {}
    for k, x in v.items():
        if isinstance(x, dict) and set(x) == {"$literal"}:
            t = x["$literal"]
            if not isinstance(t, str) or not LITERAL_RE.fullmatch(t):
                raise ValueError("raw_quotes.%s: $literal must be a JSON number token" % k)
            x = Literal(t)
        out[k] = x
    return out


def dumps(obj):
    """json.dumps, with each Literal spliced in as its raw text."""
    texts = []

    def placeholder(o):
        if not isinstance(o, Literal):
            raise TypeError("not JSON serializable: %r" % (o,))
        texts.append(o.text)
        return "\0literal%d\0" % (len(texts) - 1)
    s = json.dumps(obj, ensure_ascii=False, default=placeholder)
    for i, t in enumerate(texts):
        s = s.replace(json.dumps("\0literal%d\0" % i), t)
    return s

#!/usr/bin/env python3
"""Extract the vendors' official definitions of every action cloudrenew uses.

    python3 scripts/official-extract.py --tccli PATH --volc-go PATH [--out official/extract.json]

PATH is a checkout or a bare clone of TencentCloud/tencentcloud-cli and of
volcengine/volcengine-go-sdk; from a bare clone files are read with
`git show COMMIT:path` (COMMIT: --tccli-commit / --volc-commit, default HEAD).

The actions are the project's own: every row of lua/cloudrenew/client/catalog.lua
and every generic call (`:call("service", "version", "Action"`) in lua/, plus the
STS actions credentials/roles.lua names through a table (EXTRA below).

What is written is facts read from the definitions (names, types, required,
enumerations and bounds, output field paths and types, method, body encoding,
host, version, lifecycle), each action with its source repository, commit and
path. Enumerations and bounds stated only in tccli's prose are read by a few
narrow patterns (see PROSE); each such fact keeps the phrase it came from.
Standard library only.
"""
import argparse
import json
import os
import re
import subprocess
import sys

TCCLI_REPO = "TencentCloud/tencentcloud-cli"
VOLC_REPO = "volcengine/volcengine-go-sdk"

# Actions the code names through a variable (roles.lua: VERSION[cloud] and
# OIDC[cloud].action), so a grep for literal calls cannot see them.
EXTRA = [
    ("tencent", "sts", "2018-08-13", "AssumeRole"),
    ("tencent", "sts", "2018-08-13", "AssumeRoleWithWebIdentity"),
    ("volcengine", "sts", "2018-01-01", "AssumeRole"),
    ("volcengine", "sts", "2018-01-01", "AssumeRoleWithOIDC"),
]


# ---- reading a checkout or a bare clone ---------------------------------------

class Repo:
    def __init__(self, path, commit=None):
        self.path = path
        self.bare = self._git("rev-parse", "--is-bare-repository").strip() == "true"
        self.commit = self._git("rev-parse", commit or "HEAD").strip()

    def _git(self, *args, check=True):
        p = subprocess.run(["git", "-C", self.path] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if check and p.returncode != 0:
            raise RuntimeError("git %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
        return p.stdout.decode("utf-8") if p.returncode == 0 else None

    def read(self, rel, commit=None):
        """File text, or None when absent (a bare snapshot may list blobs it lacks)."""
        if not self.bare and commit is None:
            fp = os.path.join(self.path, rel)
            if not os.path.isfile(fp):
                return None
            with open(fp, encoding="utf-8") as f:
                return f.read()
        return self._git("show", "%s:%s" % (commit or self.commit, rel), check=False)

    def ls(self, rel):
        if not self.bare:
            d = os.path.join(self.path, rel)
            return sorted(os.listdir(d)) if os.path.isdir(d) else []
        out = self._git("ls-tree", "--name-only", "%s:%s" % (self.commit, rel), check=False)
        return sorted(out.split()) if out else []

    def newest_readable(self, rel):
        """(commit, text) of the newest version of rel whose content is here."""
        text = self.read(rel)
        if text is not None:
            return self.commit, text
        log = self._git("log", "--format=%H", self.commit, "--", rel, check=False) or ""
        for c in log.split():
            t = self.read(rel, c)
            if t is not None:
                return c, t
        return None, None


# ---- the project's actions ----------------------------------------------------

def project_actions(root):
    acts = set(EXTRA)
    with open(os.path.join(root, "lua/cloudrenew/client/catalog.lua"), encoding="utf-8") as f:
        cat = f.read()
    for m in re.finditer(r'cloud\s*=\s*"(\w+)",\s*service\s*=\s*"(\w+)",\s*version\s*=\s*"([\d-]+)",'
                         r'\s*action\s*=\s*"(\w+)"', cat):
        acts.add(m.groups())
    calls = re.compile(r':call\(\s*"(\w+)",\s*"([\d-]+)",\s*"(\w+)"')
    for dirpath, _, files in os.walk(os.path.join(root, "lua")):
        for fn in files:
            if not fn.endswith(".lua"):
                continue
            with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                text = f.read()
            for m in calls.finditer(text):
                svc, ver, act = m.groups()
                # a service both clouds lack is no project action; the cloud is
                # the one whose catalogue knows the service at that version (both
                # clouds have a "billing": Tencent 2018-07-09, Volcengine 2022-01-01)
                for cloud in ("tencent", "volcengine"):
                    if re.search(r'cloud\s*=\s*"%s",\s*service\s*=\s*"%s",\s*version\s*=\s*"%s"'
                                 % (cloud, svc, re.escape(ver)), cat):
                        acts.add((cloud, svc, ver, act))
                        break
                else:
                    sys.exit("%s: %s %s %s: no catalogue row names service %s %s for either cloud"
                             % (fn, svc, ver, act, svc, ver))
    return sorted(acts)


# ---- tccli prose: narrow patterns, each fact with its phrase ------------------

TOKEN_LI = re.compile(r'<li>\s*(?:<code>)?\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*(?:</code>)?\s*[：:]')
ANY_LI = re.compile(r'<li>')


def strip_tags(s):
    return re.sub(r"<[^>]+>", " ", s)


def prose_facts(doc, kind, name):
    """Enumerations, bounds and defaults a member's document states. kind: the
    member's JSON type (string, integer, number, boolean, array)."""
    out = {}
    if not doc:
        return out
    plain = strip_tags(doc)
    # integer enumerations: "取值范围：1, 2, 3" / "取值有：1，2，3"
    m = re.search(r'取值(?:范围|有)\s*[：:]\s*((?:\d+\s*[,，、]\s*)+\d+)', plain)
    if m and kind == "integer":
        out["enum"] = [int(x) for x in re.split(r'\s*[,，、]\s*', m.group(1))]
        out["enum_basis"] = m.group(0).strip()
    # <li>TOKEN：meaning</li> lists, only when every item of the document is one
    items = TOKEN_LI.findall(doc)
    if "enum" not in out and len(items) >= 2 and len(items) == len(ANY_LI.findall(doc)) \
            and kind in ("string", "integer", "array"):
        if kind == "integer":
            if all(re.fullmatch(r"\d+", x) for x in items):
                out["enum"] = [int(x) for x in items]
        else:
            out["enum"] = items
        if "enum" in out:
            out["enum_basis"] = "<li> list: " + ", ".join(items)
    m = re.search(r'最大值\s*(?:为|[：:])\s*(\d+)', plain)
    if m and kind == "integer":
        out["max"] = int(m.group(1))
        out["max_basis"] = m.group(0)
    m = re.search(r'默认(?:为|值\s*[：:]|取值\s*[：:])\s*([A-Za-z0-9_\-]+)', plain)
    if m:
        v = m.group(1)
        if kind == "integer" and v.isdigit():
            v = int(v)
        elif kind == "boolean" and v in ("true", "false"):
            v = v == "true"
        out["default"] = v
        out["default_basis"] = m.group(0)
    if kind == "array":
        # "每次请求的实例的上限为100" / "`Filters`的上限为10"
        own = re.search(r'`?%s`?\s*的上限为\s*(\d+)' % re.escape(name), plain)
        anyl = re.findall(r'上限为\s*(\d+)', plain)
        if own:
            out["max_items"], out["max_items_basis"] = int(own.group(1)), own.group(0)
        elif len(anyl) == 1 and not re.search(r'[`\w]\.Values`?\s*的上限', plain):
            m = re.search(r'[^，。]*上限为\s*\d+', plain)
            out["max_items"], out["max_items_basis"] = int(anyl[0]), m.group(0).strip()
        # "`Filter.Values`的上限为5" / "Filters.Values 的上限为 20": the items' Values
        m = re.search(r'`?\w+\.Values`?\s*的上限为\s*(\d+)', plain)
        if m:
            out["values_max_items"], out["values_max_items_basis"] = int(m.group(1)), m.group(0)
        # documented filter names: <li><strong>zone</strong></li> / <li>plan-id<br>
        names = re.findall(r'<li>\s*(?:<strong>)?\s*([a-z][a-z0-9\-]*(?::[a-z0-9\-]+)?)\s*(?:</strong>)?\s*(?:</li>|<br>)', doc)
        if len(names) >= 2:
            out["filter_names"] = names
    if kind == "string":
        m = re.search(r'长度在\s*(\d+)\s*到\s*(\d+)\s*之间', plain)
        if m:
            out["min_length"], out["max_length"] = int(m.group(1)), int(m.group(2))
            out["length_basis"] = m.group(0)
    if kind == "integer":
        m = re.search(r'最长可设定有效期为\s*(\d+)\s*秒', plain)
        if m:
            out["max"], out["max_basis"] = int(m.group(1)), m.group(0)
    return out


def object_rules(members):
    """Rules between members stated in their documents."""
    rules = {}
    names = [m["name"] for m in members]
    for m in members:
        doc = strip_tags(m.get("document") or "")
        for a, b in re.findall(r'不支持同时指定\s*`(\w+)`\s*和\s*`(\w+)`', doc):
            pair = sorted([a, b])
            if pair not in rules.setdefault("exclusive", []):
                rules["exclusive"].append(pair)
        mm = re.search(r'(\w+)\s*[,，、]\s*(\w+)\s*必填一项', doc)
        if mm and mm.group(1) in names and mm.group(2) in names:
            pair = sorted([mm.group(1), mm.group(2)])
            if pair not in rules.setdefault("one_of_required", []):
                rules["one_of_required"].append(pair)
    return rules


# ---- Tencent (tccli api.json) ---------------------------------------------------

TC_SCALAR = {"string": "string", "int": "integer", "float": "number", "bool": "boolean",
             "binary": "string"}


def tc_kind(t):
    return TC_SCALAR.get(t, t)


def tc_member_kind(m):
    t = m["type"]
    if t == "list":
        return "array"
    if t == "object":
        return "object"
    return tc_kind(t)


def tc_input(api, obj_name, seen=()):
    obj = api["objects"][obj_name]
    fields = {}
    for m in obj["members"]:
        kind = tc_member_kind(m)
        f = {"type": kind, "required": bool(m.get("required"))}
        if m.get("disabled"):
            f["disabled"] = True
        f.update(prose_facts(m.get("document"), kind, m["name"]))
        if kind == "array":
            mt = m["member"]
            if mt in api["objects"] and mt not in seen:
                f["items"] = {"type": "object", **tc_input(api, mt, seen + (mt,))}
            else:
                f["items"] = {"type": tc_kind(mt)}
                if "enum" in f:  # an enumeration of a list of scalars is its items'
                    f["items"]["enum"], f["items"]["enum_basis"] = f.pop("enum"), f.pop("enum_basis")
            if "values_max_items" in f and f["items"].get("fields", {}).get("Values"):
                f["items"]["fields"]["Values"]["max_items"] = f.pop("values_max_items")
                f["items"]["fields"]["Values"]["max_items_basis"] = f.pop("values_max_items_basis")
        elif kind == "object" and m["member"] in api["objects"] and m["member"] not in seen:
            f.update(tc_input(api, m["member"], seen + (m["member"],)))
        fields[m["name"]] = f
    out = {"fields": fields}
    rules = object_rules(obj["members"])
    if rules:
        out["rules"] = rules
    return out


def tc_output(api, obj_name, prefix, paths, facts, seen=()):
    for m in api["objects"][obj_name]["members"]:
        kind = tc_member_kind(m)
        p = prefix + "." + m["name"]
        paths[p] = kind
        fact = {}
        if m.get("type") == "string" and m.get("member") not in (None, "string"):
            fact["format"] = m["member"]                 # e.g. datetime_iso
        if m.get("example") not in (None, "", "无") and kind not in ("object", "array"):
            fact["example"] = m["example"]
        if "value_allowed_null" in m:
            fact["nullable"] = bool(m["value_allowed_null"])
        if "output_required" in m:
            fact["required"] = bool(m["output_required"])
        pf = prose_facts(m.get("document"), kind, m["name"])
        if "enum" in pf:
            fact["enum"] = pf["enum"]
        if fact:
            facts[p] = fact
        mt = m.get("member")
        if kind == "array":
            if mt in api["objects"] and mt not in seen:
                paths[p + "[]"] = "object"
                tc_output(api, mt, p + "[]", paths, facts, seen + (mt,))
            else:
                paths[p + "[]"] = tc_kind(mt)
        elif kind == "object" and mt in api["objects"] and mt not in seen:
            tc_output(api, mt, p, paths, facts, seen + (mt,))


def tc_client_method(repo, service, action):
    """The HTTP method and signing tccli uses for one action (its do<Action>)."""
    path = "tccli/services/%s/%s_client.py" % (service, service)
    text = repo.read(path) or ""
    m = re.search(r"\ndef do%s\(.*?(?=\ndef |\Z)" % re.escape(action), text, re.S)
    if not m:
        return None
    body = m.group(0)
    method = re.search(r'reqMethod="(\w+)"', body)
    sign = re.search(r'signMethod="([\w-]+)"', body)
    return {"method": method and method.group(1), "sign": sign and sign.group(1), "path": path}


def tc_host(repo, service):
    text = repo.read("tccli/configure.py") or ""
    if re.search(r'conf_data\[mod\]\["endpoint"\]\s*=\s*"%s\.tencentcloudapi\.com"\s*%\s*mod', text):
        special = re.search(r'if mod == "%s":\s*\n\s*conf_data\[mod\]\["endpoint"\]\s*=\s*"([^"]+)"'
                            % re.escape(service), text)
        return special.group(1) if special else "%s.tencentcloudapi.com" % service
    return None


def tc_changelog(repo):
    """Events (added/deleted actions) per service line, from CHANGELOG.md."""
    commit, text = repo.newest_readable("CHANGELOG.md")
    events = []
    if text is None:
        return None, events
    svc = ver = date = cn = section = None
    for line in text.splitlines():
        h = re.match(r'^## (.*)\((\w+)\) 版本[：:]\s*([\d-]+)', line)
        if h:
            cn, svc, ver, date, section = h.group(1), h.group(2), h.group(3), None, None
            continue
        if line.startswith("# "):
            svc = None
            continue
        d = re.match(r'^发布时间[：:]\s*(\S+)', line)
        if d:
            date = d.group(1)
            continue
        if "删除接口" in line:
            section = "deleted"
            continue
        if "新增接口" in line:
            section = "added"
            continue
        if re.match(r'^(修改接口|新增数据结构|删除数据结构|修改数据结构|<font|本次发布|改善)', line) or \
                line.startswith("###"):
            section = None
            continue
        a = re.match(r'^\* (?:\[)?(\w+)(?:\]\([^)]*\))?\s*$', line)
        if a and svc and section:
            events.append({"service": svc, "service_name": cn, "version": ver, "date": date,
                           "event": section, "action": a.group(1)})
    return commit, events


def tc_products(repo):
    text = repo.read("products.md") or ""
    out = {}
    for m in re.finditer(r'^\|\s*(\w+)\s*\|.*\|\s*(\d{4}-\d\d-\d\d[ \d:]*)\s*\|\s*$', text, re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def tencent(repo, acts):
    out = {}
    ch_commit, events = tc_changelog(repo)
    updated = tc_products(repo)
    for cloud, service, version, action in acts:
        vdir = "v" + version.replace("-", "")
        path = "tccli/services/%s/%s/api.json" % (service, vdir)
        text = repo.read(path)
        if text is None:
            sys.exit("tccli: no %s" % path)
        api = json.loads(text)
        a = api["actions"].get(action)
        key = "%s/%s/%s/%s" % (cloud, service, version, action)
        if a is None:
            out[key] = {"cloud": cloud, "service": service, "version": version, "action": action,
                        "defined": False, "source": {"repo": TCCLI_REPO, "commit": repo.commit, "path": path}}
            continue
        paths, facts = {}, {}
        tc_output(api, a["output"], "Response", paths, facts)
        cm = tc_client_method(repo, service, action)
        host = tc_host(repo, service)
        meta = api.get("metadata", {})
        e = {
            "cloud": cloud, "service": service, "version": meta.get("apiVersion", version), "action": action,
            "defined": True,
            "input": tc_input(api, a["input"]),
            "output": paths, "output_facts": facts,
            "method": cm and cm["method"],
            # tencentcloud-sdk-python (what tccli calls) sends a TC3-signed POST as
            # an application/json body: the encoding follows from method + signing
            "encoding": "json" if cm and cm["method"] == "POST" and cm["sign"] == "TC3-HMAC-SHA256" else None,
            "encoding_basis": cm and ("%s reqMethod=%s signMethod=%s" % (cm["path"], cm["method"], cm["sign"])),
            "host": host, "hosts": [host] if host else [],
            "host_basis": "tccli/configure.py: endpoint = <service>.tencentcloudapi.com",
            "rate": None,
            "source": {"repo": TCCLI_REPO, "commit": repo.commit, "path": path},
        }
        doc = strip_tags(a.get("document") or "")
        if re.search(r'Authorization\s*需要传入值\s*SKIP', doc):
            e["unsigned"] = True      # "Authorization 需要传入值 SKIP"
        m = re.search(r'(\d+)\s*次/秒', doc)
        if m:
            e["rate"] = int(m.group(1))
        life = {"status": a.get("status"), "service_name": meta.get("serviceNameCN"),
                "service_last_updated": updated.get(service)}
        same_product = [ev for ev in events if ev["action"] == action
                        and (ev["service"] == service
                            or (ev["service_name"] and ev["service_name"] == meta.get("serviceNameCN")))]
        life["events"] = sorted(same_product, key=lambda ev: (ev["date"] or "", ev["service"], ev["event"]))
        life["changelog"] = {"repo": TCCLI_REPO, "commit": ch_commit, "path": "CHANGELOG.md"}
        e["lifecycle"] = life
        out[key] = e
    return out


# ---- Volcengine (Go SDK structs) ------------------------------------------------

GO_SCALAR = {"string": "string", "int": "integer", "int8": "integer", "int16": "integer", "int32": "integer",
             "int64": "integer", "uint": "integer", "uint32": "integer", "uint64": "integer",
             "float32": "number", "float64": "number", "bool": "boolean"}


def go_structs(text):
    """name -> [ (field, gotype, tags) ] for every struct type in a Go file."""
    out = {}
    for m in re.finditer(r'^type (\w+) struct \{\n(.*?)^\}', text, re.S | re.M):
        fields = []
        for line in m.group(2).splitlines():
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            f = re.match(r'^(\w+)\s+([\w\.\*\[\]]+(?:\{\})?)\s*(?:`([^`]*)`)?', line)
            if not f or f.group(1) == "_":
                continue
            tags = dict(re.findall(r'(\w+):"([^"]*)"', f.group(3) or ""))
            fields.append((f.group(1), f.group(2), tags))
        out[m.group(1)] = fields
    return out


def go_wire_name(field, tags):
    if tags.get("locationName"):
        return tags["locationName"]
    j = tags.get("json", "").split(",")[0]
    return j or field


def go_kind(gotype, structs):
    t = gotype.lstrip("*")
    if t.startswith("[]"):
        return "array", t[2:].lstrip("*")
    if t.startswith("map["):
        return "object", None
    if t in GO_SCALAR:
        return GO_SCALAR[t], None
    if t in structs:
        return "object", t
    return "object", t   # a struct of another package (response.ResponseMetadata)


def go_input(structs, name, seen=()):
    fields = {}
    for field, gotype, tags in structs.get(name, []):
        kind, sub = go_kind(gotype, structs)
        f = {"type": kind, "required": tags.get("required") == "true"}
        for tag, key in (("min", "min"), ("max", "max")):
            if tag in tags:
                f[key] = int(tags[tag]) if tags[tag].lstrip("-").isdigit() else tags[tag]
        if kind == "array":
            if sub in structs and sub not in seen:
                f["items"] = {"type": "object", **go_input(structs, sub, seen + (sub,))}
            else:
                f["items"] = {"type": GO_SCALAR.get(sub, "object")}
        elif kind == "object" and sub in structs and sub not in seen:
            f.update(go_input(structs, sub, seen + (sub,)))
        fields[go_wire_name(field, tags)] = f
    return {"fields": fields}


def go_output(structs, name, prefix, paths, seen=()):
    for field, gotype, tags in structs.get(name, []):
        if field == "Metadata" and "response.ResponseMetadata" in gotype:
            continue      # ResponseMetadata, beside Result in the answer
        kind, sub = go_kind(gotype, structs)
        p = prefix + "." + go_wire_name(field, tags)
        paths[p] = kind
        if kind == "array":
            if sub in structs and sub not in seen:
                paths[p + "[]"] = "object"
                go_output(structs, sub, p + "[]", paths, seen + (sub,))
            else:
                paths[p + "[]"] = GO_SCALAR.get(sub, "object")
        elif kind == "object" and sub in structs and sub not in seen:
            go_output(structs, sub, p, paths, seen + (sub,))


def volc_metadata(repo, paths):
    path = "volcengine/response/volcengine_response.go"
    structs = go_structs(repo.read(path) or "")
    go_output(structs, "ResponseMetadata", "ResponseMetadata", paths)
    paths["ResponseMetadata"] = "object"
    # HTTPCode is the SDK's own (set from the status line), not a field of the answer
    paths.pop("ResponseMetadata.HTTPCode", None)
    return path


def volc_service(repo, service):
    path = "service/%s/service_%s.go" % (service, service)
    text = repo.read(path) or ""
    ver = re.search(r'APIVersion:\s*"([\d-]+)"', text)
    build = re.search(r'Handlers\.Build\.PushBackNamed\((\w+)\.BuildHandler\)', text)
    return {"version": ver and ver.group(1), "protocol": build and build.group(1), "path": path}


def volc_hosts(repo, service):
    """Hosts the SDK resolves for a service: the default, and the service's own."""
    text = repo.read("volcengine/volcengineutil/url.go") or ""
    hosts, basis = ["open.volcengineapi.com"], ["volcengineutil/url.go: default open.volcengineapi.com"]
    m = re.search(r'"%s":\s*\{Service:\s*"%s",\s*IsGlobal:\s*(true|false)' % (service, service), text)
    if m:
        code = service.lower().replace("_", "-")
        hosts.append("%s.volcengineapi.com" % code if m.group(1) == "true" else "%s.{region}.volcengineapi.com" % code)
        basis.append("volcengineutil/url.go: %s IsGlobal %s" % (service, m.group(1)))
    return hosts, basis


def volc_encoding(method, json_header, protocol):
    # volcenginequery.Build: POST/PUT/... with an application/json Content-Type set
    # by the operation -> JSON body; else volcenginebody.BodyParam: POST -> form body,
    # GET -> query string.
    if protocol != "volcenginequery":
        return None
    if method != "GET" and json_header:
        return "json"
    return "form" if method == "POST" else "query"


def volcengine(repo, acts):
    out = {}
    meta_paths = {}
    meta_path = volc_metadata(repo, meta_paths)
    files = {}
    for cloud, service, version, action in acts:
        key = "%s/%s/%s/%s" % (cloud, service, version, action)
        if service == "sts" and action == "AssumeRoleWithOIDC":
            out[key] = volc_oidc(repo, key, version, meta_paths)
            continue
        svc = volc_service(repo, service)
        if service not in files:
            files[service] = [f for f in repo.ls("service/%s" % service) if f.startswith("api_")]
        path = text = None
        for f in files[service]:
            t = repo.read("service/%s/%s" % (service, f)) or ""
            if re.search(r'const op%s = "%s"' % (action, action), t):
                path, text = "service/%s/%s" % (service, f), t
                break
        if text is None:
            out[key] = {"cloud": cloud, "service": service, "version": version, "action": action,
                        "defined": False, "source": {"repo": VOLC_REPO, "commit": repo.commit,
                                                     "path": "service/%s" % service}}
            continue
        req = re.search(r'func \(c \*\w+\) %sRequest\(input \*%sInput\).*?\n\}' % (action, action), text, re.S)
        body = req.group(0) if req else ""
        method = re.search(r'HTTPMethod:\s*"(\w+)"', body)
        method = method and method.group(1)
        json_header = 'Header.Set("Content-Type", "application/json' in body
        structs = go_structs(text)
        paths = dict(meta_paths)
        paths["Result"] = "object"
        go_output(structs, action + "Output", "Result", paths)
        hosts, hbasis = volc_hosts(repo, service)
        if service == "sts":
            hosts.append("sts.volcengineapi.com")
            hbasis.append("volcengine/credentials: sts.volcengineapi.com")
        inp = go_input(structs, action + "Input")
        # Validate() must agree with the tags: required:"true" is what it checks
        checked = set(re.findall(r'NewErrParamRequired\("(\w+)"\)', text))
        for name, f in inp["fields"].items():
            if name in checked:
                f["required"] = True
        out[key] = {
            "cloud": cloud, "service": service, "version": svc["version"], "action": action, "defined": True,
            "input": inp, "output": paths, "output_facts": {},
            "method": method, "encoding": volc_encoding(method, json_header, svc["protocol"]),
            "encoding_basis": "%s: HTTPMethod %s%s; %s builds with %s" % (
                path, method, ", Content-Type application/json" if json_header else "", svc["path"], svc["protocol"]),
            "host": hosts[-1], "hosts": hosts, "host_basis": "; ".join(hbasis), "rate": None,
            "lifecycle": {"status": None, "events": []},
            "source": {"repo": VOLC_REPO, "commit": repo.commit, "path": path},
            "also": [svc["path"], meta_path],
        }
    return out


def volc_oidc(repo, key, version, meta_paths):
    """AssumeRoleWithOIDC is no service/sts operation: the SDK's OIDC credential
    provider sends it (volcengine/credentials)."""
    path = "volcengine/credentials/assume_role_oidc_provider.go"
    req_path = "volcengine/credentials/sts_request.go"
    text, req = repo.read(path) or "", repo.read(req_path) or ""
    structs = go_structs(text)
    fn = re.search(r'func \(p \*OIDCCredentialsProvider\) fetchOnce\(\).*?\n\}', text, re.S)
    body = fn.group(0) if fn else ""
    fields, depth = {}, {}
    prov = {f: t for f, t, _ in structs.get("OIDCCredentialsProvider", [])}
    for m in re.finditer(r'^(\t+)data\.Set\("(\w+)",\s*(.*)\)\s*$', body, re.M):
        name, expr = m.group(2), m.group(3)
        depth.setdefault(name, []).append(len(m.group(1)))
        kind = "string"
        if '"%d"' in expr:
            kind = "integer"
        else:
            pf = re.search(r'p\.(\w+)', expr)
            if pf and prov.get(pf.group(1)) in GO_SCALAR:
                kind = GO_SCALAR[prov[pf.group(1)]]
        fields[name] = {"type": kind, "required": False}
    for name, ds in depth.items():
        # set at the function's top level, or in both arms of an if/else: always sent
        fields[name]["sent_always"] = min(ds) == 1 or len(ds) >= 2
    # the provider refuses to call without these (its "missing required" check)
    miss = re.search(r'if (p\.\w+ == "" \|\| p\.\w+ == "")', body)
    if miss and "OIDCTokenFilePath" in miss.group(1) and "OIDCToken" in fields:
        fields["OIDCToken"]["required"] = True
    if miss and "RoleTrn" in miss.group(1) and "RoleTrn" in fields:
        fields["RoleTrn"]["required"] = True
    paths = dict(meta_paths)
    paths["Result"] = "object"
    go_output(structs, "Result", "Result", paths)
    ver = re.search(r'Version=([\d-]+)', req)
    post = re.search(r'client\.Post\([^,]+,\s*"([^"]+)"', req)
    host = re.search(r'const DefaultEndpoint = "([^"]+)"', text)
    return {
        "cloud": "volcengine", "service": "sts", "version": ver and ver.group(1), "action": "AssumeRoleWithOIDC",
        "defined": True, "input": {"fields": fields}, "output": paths, "output_facts": {},
        "method": "POST" if post else None,
        "encoding": "form" if post and "x-www-form-urlencoded" in post.group(1) else None,
        "encoding_basis": "%s: client.Post(url, %r, form values)" % (req_path, post and post.group(1)),
        "host": host and host.group(1), "hosts": [host.group(1)] if host else [],
        "host_basis": path + ": DefaultEndpoint", "rate": None, "unsigned": True,
        "lifecycle": {"status": None, "events": []},
        "source": {"repo": VOLC_REPO, "commit": repo.commit, "path": path},
        "also": [req_path],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tccli", required=True, help="tencentcloud-cli checkout or bare clone")
    ap.add_argument("--volc-go", required=True, help="volcengine-go-sdk checkout or bare clone")
    ap.add_argument("--tccli-commit")
    ap.add_argument("--volc-commit")
    ap.add_argument("--project", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--out")
    args = ap.parse_args()
    root = os.path.abspath(args.project)
    acts = project_actions(root)
    tc = Repo(args.tccli, args.tccli_commit)
    vg = Repo(args.volc_go, args.volc_commit)
    actions = {}
    actions.update(tencent(tc, [a for a in acts if a[0] == "tencent"]))
    actions.update(volcengine(vg, [a for a in acts if a[0] == "volcengine"]))
    doc = {
        "format": 1,
        "about": "Official definitions of the actions cloudrenew uses, extracted by "
                 "scripts/official-extract.py; see official/README.md.",
        "sources": {
            "tencent": {"repo": TCCLI_REPO, "commit": tc.commit},
            "volcengine": {"repo": VOLC_REPO, "commit": vg.commit},
        },
        "actions": actions,
    }
    out = args.out or os.path.join(root, "official", "extract.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print("%s: %d actions (tccli %s, volcengine-go-sdk %s)" % (out, len(actions), tc.commit[:12], vg.commit[:12]))


if __name__ == "__main__":
    main()

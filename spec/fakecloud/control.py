"""The /__fake/ control API: JSON in, JSON out, never recorded."""
import json
from urllib.parse import parse_qsl

import describe
from params import json_reply


def handle(method, path, query, body, state, stop):
    """Returns a Reply. `stop` is the threading.Event that ends the server."""
    name = path[len("/__fake/"):].strip("/")
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else {}
    except ValueError:
        return _err(400, "request body is not JSON")
    route = GETS.get(name) if method == "GET" else POSTS.get(name) if method == "POST" else None
    if route is None:
        known = name in GETS or name in POSTS
        return _err(405 if known else 404,
                    "%s /__fake/%s is not a control endpoint" % (method, name))
    try:
        reply = json_reply(200, route(state, data, dict(parse_qsl(query)), stop))
    except ValueError as e:
        return _err(400, str(e))
    if name == "shutdown":
        reply.after = stop.set    # only once the reply has gone out
    return reply


def _err(status, message):
    return json_reply(status, {"error": message})


def _requests(state, data, q, stop):
    with state.lock:
        reqs = list(state.requests)
    if "action" in q:
        reqs = [r for r in reqs if r["action"] == q["action"]]
    return reqs


def _renewals(state, data, q, stop):
    with state.lock:
        return dict(state.renewals)


def _reset(state, data, q, stop):
    state.reset()
    return {"ok": True}


def _shutdown(state, data, q, stop):
    return {"ok": True}


GETS = {
    "requests": _requests,
    "renewals": _renewals,
    "state": lambda state, data, q, stop: state.snapshot(),
    "resources": lambda state, data, q, stop: describe.view(state),
}
POSTS = {
    "reset": _reset,
    "config": lambda state, data, q, stop: state.configure(data),
    "credentials": lambda state, data, q, stop: state.add_credentials(data),
    "faults": lambda state, data, q, stop: state.add_faults(data),
    "resources": lambda state, data, q, stop: describe.configure(state, data),
    "shutdown": _shutdown,
}

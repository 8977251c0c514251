"""Credentials the fake cloud knows by default.

credentials.json (next to this file) mirrors them so Lua specs read the same
values; run `python3 creds.py` to regenerate it after editing this list.
"""
import json
import os

# The first entry of each list is the plain (non-STS) identity; specs use [1].
TENCENT = [
    {"secret_id": "AKIDfakecloud0000000000000000000001",
     "secret_key": "fakecloud-tencent-secret-key-0001", "token": None},
    {"secret_id": "AKIDfakecloudsts000000000000000001",
     "secret_key": "fakecloud-tencent-sts-secret-0001",
     "token": "fakecloud-sts-token-0001"},
]

VOLCENGINE = [
    {"access_key": "AKLTfakecloud000000000000000001",
     "secret_key": "fakecloud-volc-secret-key-0001", "session_token": None},
    {"access_key": "AKTPfakecloudsts0000000000000001",
     "secret_key": "fakecloud-volc-sts-secret-0001",
     "session_token": "fakecloud-volc-sts-token-0001"},
]

JSON_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "credentials.json")


def as_json():
    return json.dumps({"tencent": TENCENT, "volcengine": VOLCENGINE}, indent=2) + "\n"


def write_json(path=JSON_PATH):
    """Rewrite credentials.json only when it differs (keeps the tree clean)."""
    text = as_json()
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    write_json()

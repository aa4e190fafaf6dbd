"""Signs interoperability cases with the official cos-python-sdk-v5, and nothing else.

Reads one JSON case per line on stdin and writes one JSON line per case on stdout, in order.
Every signature comes from the SDK's own public calls (`CosS3Client.get_auth`,
`get_presigned_url`, `get_object_url`); this script only pins the SDK's clock and maps the
case onto the SDK's arguments. A case the SDK refuses gets {"id": …, "error": "…"}.

Case fields: id, kind ("header" or "presign"), secret_id, secret_key, token (or null),
bucket, region, method, key ("" is the bucket root), params ([name, value-or-null] pairs),
headers ([name, value] pairs), sign_host, start, end (Unix seconds), and null_as_none: how
a valueless parameter is handed to the SDK (None when true, "" as the SDK's own bucket
calls write it otherwise).
"""

import json
import logging
import sys

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos import cos_auth

# The SDK signs a window of (now - 60; now + Expired) with now read from time.time().
BACKDATE = 60


class PinnedClock:
    """Stands in for the `time` module inside cos_auth, so signing happens at a fixed time."""

    def __init__(self):
        self.now = 0

    def time(self):
        return float(self.now)


CLOCK = PinnedClock()
cos_auth.time = CLOCK


CLIENTS = {}


def client_for(case):
    """One client per region and key pair: building a config per case is wasted work."""
    ident = (case["region"], case["secret_id"], case["secret_key"])
    if ident not in CLIENTS:
        config = CosConfig(
            Region=case["region"],
            SecretId=case["secret_id"],
            SecretKey=case["secret_key"],
            Scheme="https",
        )
        CLIENTS[ident] = CosS3Client(config)
    return CLIENTS[ident]


def sign(case):
    client = client_for(case)
    # The SDK's URL builder refuses an empty key; "/" addresses the bucket root, because the
    # SDK drops one leading slash from the URL and signs the path "/".
    key = case["key"] or "/"
    valueless = None if case["null_as_none"] else ""
    params = {n: (valueless if v is None else v) for n, v in case["params"]}
    headers = {n: v for n, v in case["headers"]}
    CLOCK.now = case["start"] + BACKDATE
    expired = case["end"] - CLOCK.now
    if case["kind"] == "header":
        if case["token"] is not None:
            # What send_request does for a client with a token: the header is added
            # before signing, so it is signed.
            headers["x-cos-security-token"] = case["token"]
        authorization = client.get_auth(
            Method=case["method"],
            Bucket=case["bucket"],
            Key=key,
            Expired=expired,
            Headers=headers,
            Params=params,
            SignHost=case["sign_host"],
        )
        url = client.get_object_url(Bucket=case["bucket"], Key=key)
        return {"authorization": authorization, "url": url}
    if case["kind"] == "presign":
        if case["token"] is not None:
            # The SDK's documented way to presign with temporary credentials.
            params["x-cos-security-token"] = case["token"]
        url = client.get_presigned_url(
            Bucket=case["bucket"],
            Key=key,
            Method=case["method"],
            Expired=expired,
            Params=params,
            Headers=headers,
            SignHost=case["sign_host"],
        )
        return {"url": url}
    raise ValueError("unknown kind %r" % case["kind"])


def main():
    logging.disable(logging.CRITICAL)
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            out = sign(case)
        except Exception as error:  # one bad case must not stop the batch
            out = {"error": "%s: %s" % (type(error).__name__, error)}
        out["id"] = case["id"]
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""An existing Python app adopting Cosigner: the official COS SDK as the terminal.

The SDK never sees a secret. It sends what the business server signed, through the SDK's
own request layer (retries, error parsing): the Authorization header of a PUT, the
presigned URLs of multipart parts, and the presigned GET of a download.

Usage: python_terminal.py API_URL TOKEN
Prints one JSON line of what it did; exits non-zero (with the reason) on any mismatch.
"""

import hashlib
import json
import os
import sys

import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

API, TOKEN = sys.argv[1], sys.argv[2]
AUTH = {"Authorization": "Bearer " + TOKEN}

# Anonymous: the SDK signs nothing itself; every request carries the server's signature.
sdk = CosS3Client(CosConfig(Region="ap-guangzhou", Anonymous=True, Scheme="http"))


def api(method, path, body=None, expect=200):
    response = requests.request(method, API + path, json=body, headers=AUTH, timeout=30)
    if response.status_code != expect:
        sys.exit(f"{method} {path}: {response.status_code} {response.text}")
    return response.json() if response.content else None


def send(method, url, headers, data=None):
    # Host and Content-Length come from the URL and the body, as the server signed them.
    headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
    return sdk.send_request(method=method, url=url, headers=headers, data=data, stream=data is None)


def download(file_id):
    record = api("GET", f"/v1/files/{file_id}")
    return send("GET", record["url"], {}).content


def put_then_get():
    body = os.urandom(123_456)
    issued = api("POST", "/v1/uploads",
                 {"name": "photo.jpg", "size": len(body), "content_type": "image/jpeg"}, expect=201)
    assert issued["method"] == "put", issued
    assert "authorization" in {k.lower() for k in issued["headers"]}, issued["headers"].keys()
    send("PUT", issued["url"], issued["headers"], body)
    ready = api("POST", f"/v1/uploads/{issued['file_id']}/complete")
    assert ready["state"] == "ready", ready
    assert download(issued["file_id"]) == body
    return issued["file_id"]


def multipart():
    part = 1 << 20
    body = os.urandom(2 * part + 4321)
    issued = api("POST", "/v1/uploads",
                 {"name": "video.mp4", "size": len(body), "content_type": "video/mp4",
                  "method": "multipart"}, expect=201)
    size = issued["part_size"]
    numbers = list(range(1, issued["part_count"] + 1))
    signed = api("POST", f"/v1/uploads/{issued['file_id']}/parts", {"part_numbers": numbers})
    for signed_part in signed["parts"]:
        n = signed_part["part_number"]
        send("PUT", signed_part["url"], signed_part["headers"], body[(n - 1) * size:n * size])
    ready = api("POST", f"/v1/uploads/{issued['file_id']}/complete")
    assert ready["state"] == "ready" and ready["size"] == len(body), ready
    assert hashlib.sha256(download(issued["file_id"])).digest() == hashlib.sha256(body).digest()
    return issued["file_id"], len(numbers)


def deleted_is_gone(file_id):
    url = api("GET", f"/v1/files/{file_id}")["url"]
    api("DELETE", f"/v1/files/{file_id}", expect=204)
    try:
        send("GET", url, {})
    except CosServiceError as err:
        assert err.get_status_code() == 404, err.get_status_code()
        return err.get_error_code()
    sys.exit("the deleted object could still be downloaded")


def tampered_signature_is_refused():
    body = b"x" * 100
    issued = api("POST", "/v1/uploads",
                 {"name": "a.txt", "size": len(body), "content_type": "text/plain"}, expect=201)
    try:
        # The same signed PUT, with one byte more than was declared and signed.
        send("PUT", issued["url"], issued["headers"], body + b"!")
    except CosServiceError as err:
        return err.get_error_code()
    sys.exit("a PUT of another size was accepted")


put_id = put_then_get()
multipart_id, parts = multipart()
gone = deleted_is_gone(put_id)
refused = tampered_signature_is_refused()
print(json.dumps({"put": put_id, "multipart": multipart_id, "parts": parts,
                  "deleted_get": gone, "tampered_put": refused}))

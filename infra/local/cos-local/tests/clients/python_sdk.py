"""Drives cos-local with the official COS Python SDK (cos-python-sdk-v5), unchanged.

Run by tests/sdk_clients.rs with one argument: a JSON object with the port, bucket, region,
credentials, a work directory and a signed POST form. Every step checks the bytes that come
back; any mismatch raises, and the process exits non-zero. One line per passed check goes
to stdout.
"""

import hashlib
import json
import os
import sys

import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name} failed {detail}")
    print(f"ok {name}", flush=True)


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def main():
    cfg = json.loads(sys.argv[1])
    port, bucket, region = cfg["port"], cfg["bucket"], cfg["region"]
    work = cfg["workdir"]

    # IP/Port: requests go to 127.0.0.1:<port> with Host <bucket>.cos.<region>.myqcloud.com
    # (no port), as the SDK sends them to a COS IP address.
    by_ip = CosS3Client(
        CosConfig(
            Region=region,
            SecretId=cfg["secret_id"],
            SecretKey=cfg["secret_key"],
            Scheme="http",
            IP="127.0.0.1",
            Port=port,
        ),
        retry=0,
    )
    # Domain: every request goes to http://127.0.0.1:<port>/<key>, the default bucket.
    by_domain = CosS3Client(
        CosConfig(
            Region=region,
            SecretId=cfg["secret_id"],
            SecretKey=cfg["secret_key"],
            Scheme="http",
            Domain=f"127.0.0.1:{port}",
        ),
        retry=0,
    )

    # Another bucket in another region, through the same address: the Host header picks it.
    second = CosS3Client(
        CosConfig(
            Region=cfg["second_region"],
            SecretId=cfg["secret_id"],
            SecretKey=cfg["secret_key"],
            Scheme="http",
            IP="127.0.0.1",
            Port=port,
        ),
        retry=0,
    )
    second.put_object(Bucket=cfg["second_bucket"], Key="py/other.txt", Body=b"second bucket")
    other = second.get_object(Bucket=cfg["second_bucket"], Key="py/other.txt")
    check("second bucket", other["Body"].get_raw_stream().read() == b"second bucket")

    key = "py/dir/hello wörld+~(1).txt"
    body = b"hello from the python sdk\n" * 10
    put = by_ip.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="text/plain",
        Metadata={"x-cos-meta-owner": "42"},
    )
    check("put_object etag", put["ETag"] == f'"{md5_hex(body)}"', put)

    got = by_ip.get_object(Bucket=bucket, Key=key)
    data = got["Body"].get_raw_stream().read()
    check("get_object bytes", data == body)
    check("get_object content type", got["Content-Type"] == "text/plain", got)
    check("get_object metadata", got["x-cos-meta-owner"] == "42", got)

    ranged = by_ip.get_object(Bucket=bucket, Key=key, Range="bytes=6-9")
    check("get_object range", ranged["Body"].get_raw_stream().read() == body[6:10])
    suffix = by_ip.get_object(Bucket=bucket, Key=key, Range="bytes=-5")
    check("get_object suffix range", suffix["Body"].get_raw_stream().read() == body[-5:])

    head = by_ip.head_object(Bucket=bucket, Key=key)
    check("head_object length", int(head["Content-Length"]) == len(body), head)
    check("head_object etag", head["ETag"] == put["ETag"], head)

    via_domain = by_domain.get_object(Bucket=bucket, Key=key)
    check("domain get_object", via_domain["Body"].get_raw_stream().read() == body)

    url = by_domain.get_presigned_url(Bucket=bucket, Key=key, Method="GET", Expired=120)
    presigned = requests.get(url)
    check("presigned url", presigned.status_code == 200 and presigned.content == body, presigned.text)

    # A file over 20 MB goes up in 5 MB parts (a multipart upload) ...
    big_path = os.path.join(work, "py-big.bin")
    big = os.urandom(21 * 1024 * 1024 + 12345)
    with open(big_path, "wb") as f:
        f.write(big)
    uploaded = by_ip.upload_file(
        Bucket=bucket, Key="py/big.bin", LocalFilePath=big_path, PartSize=5, MAXThread=3
    )
    check("upload_file multipart etag", uploaded["ETag"].strip('"').endswith("-5"), uploaded)

    # ... and comes down in ranged parts, checked against the CRC-64 the store reports.
    down_path = os.path.join(work, "py-big.down")
    by_ip.download_file(
        Bucket=bucket,
        Key="py/big.bin",
        DestFilePath=down_path,
        PartSize=5,
        MAXThread=3,
        EnableCRC=True,
    )
    with open(down_path, "rb") as f:
        check("download_file bytes", f.read() == big)
    whole = by_ip.get_object(Bucket=bucket, Key="py/big.bin")
    check("get_object multipart bytes", whole["Body"].get_raw_stream().read() == big)

    # The POST form was signed by cos-sign in the Rust test; requests sends the fields
    # before the file, as COS requires.
    form = cfg["form"]
    form_body = b"posted by a browser form\n"
    posted = requests.post(
        f"http://127.0.0.1:{port}/",
        data=form["fields"],
        files={"file": ("form.txt", form_body, "application/octet-stream")},
    )
    check("post object status", posted.status_code == 204, posted.text)
    check("post object etag", posted.headers["ETag"] == f'"{md5_hex(form_body)}"', posted.headers)
    got = by_ip.get_object(Bucket=bucket, Key=form["key"])
    check("post object bytes", got["Body"].get_raw_stream().read() == form_body)
    check("post object content type", got["Content-Type"] == form["content_type"], got)

    listed = by_ip.list_objects(Bucket=bucket, Prefix="py/", Delimiter="/")
    keys = [c["Key"] for c in listed.get("Contents", [])]
    prefixes = [p["Prefix"] for p in listed.get("CommonPrefixes", [])]
    check("list_objects keys", keys == ["py/big.bin", form["key"]], listed)
    check("list_objects common prefixes", prefixes == ["py/dir/"], listed)

    paged = by_ip.list_objects(Bucket=bucket, Prefix="py/", MaxKeys=1)
    check("list_objects paging", paged["IsTruncated"] == "true" and len(paged["Contents"]) == 1)

    by_ip.delete_object(Bucket=bucket, Key=key)
    try:
        by_ip.head_object(Bucket=bucket, Key=key)
        check("head after delete", False)
    except CosServiceError as e:
        check("head after delete", e.get_status_code() == 404)

    try:
        by_ip.get_object(Bucket=bucket, Key="py/missing")
        check("get missing", False)
    except CosServiceError as e:
        check("get missing", e.get_error_code() == "NoSuchKey" and e.get_request_id(), e)

    wrong = CosS3Client(
        CosConfig(
            Region=region,
            SecretId=cfg["secret_id"],
            SecretKey="not-the-key",
            Scheme="http",
            IP="127.0.0.1",
            Port=port,
        ),
        retry=0,
    )
    try:
        wrong.put_object(Bucket=bucket, Key="py/denied", Body=b"x")
        check("wrong key refused", False)
    except CosServiceError as e:
        check("wrong key refused", e.get_error_code() == "SignatureDoesNotMatch", e)

    print(json.dumps({"big_md5": md5_hex(big)}), flush=True)


if __name__ == "__main__":
    main()

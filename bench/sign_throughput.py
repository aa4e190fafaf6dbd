#!/usr/bin/env python3
"""Signatures per second of the official COS SDKs and of cos-sign, measured in one run.

Every implementation signs the same request (a PUT with Host, Content-Type,
Content-Length, Content-MD5 and x-cos-forbid-overwrite, the inputs of
shared/cos-sign/benches/fixture/mod.rs). Before anything is timed, each one signs it at
the fixed window and the `Authorization` values must be byte-for-byte equal; otherwise
the comparison would not be of the same work and the script stops.

The implementations run interleaved, `--rounds` times each for `--seconds`, and the best
round of each is kept: on a shared machine the best round is the one least disturbed by
other work, and interleaving spreads any disturbance over all of them alike. The figures
that matter are the ratios, which compare runs of the same minute on the same machine.

Usage: bench/sign_throughput.py [--seconds S] [--rounds R] [--write FILE] [--strict]
Needs the Python venv and node_modules of `make deps`, and cargo.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
NODE_SDK = REPO / "node_modules" / "cos-nodejs-sdk-v5"

# The same values as shared/cos-sign/benches/fixture/mod.rs; the equality check below
# fails loudly if the two drift apart.
SPEC = {
    "secret_id": "AKIDexampleSecretId0123456789abcdefg",
    "secret_key": "exampleSecretKey0123456789abcdef",
    "start": 1_700_000_000,
    "end": 1_700_000_900,
    "bucket": "examplebucket-1250000000",
    "region": "ap-guangzhou",
    "key": "uploads/2024/05/01HX3Q9Z7YB8K2M4N6P0R2T4V6/photo.jpg",
    "headers": {
        "Host": "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com",
        "Content-Type": "image/jpeg",
        "Content-Length": "1048576",
        "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
        "x-cos-forbid-overwrite": "true",
    },
}

# Runs inside the venv. argv: mode, seconds, spec JSON. Prints {count, seconds, output,
# version}; `output` is the signature at the fixed window, made before the timed loop.
PYTHON_RUNNER = r"""
import json, sys, time, types
from importlib.metadata import version
from requests import Request
from qcloud_cos import CosConfig, CosS3Client, cos_auth

mode, seconds, spec = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
conf = CosConfig(Region=spec["region"], SecretId=spec["secret_id"], SecretKey=spec["secret_key"])
client = CosS3Client(conf)
url = conf.uri(bucket=spec["bucket"], path=spec["key"])
# The SDK opens its window 60 s before "now" and closes it `expire` seconds after.
expire = spec["end"] - spec["start"] - 60

if mode == "auth":
    auth = cos_auth.CosS3Auth(conf, spec["key"], {}, expire)
    request = Request("PUT", url, headers=dict(spec["headers"]))
    op = lambda: auth(request).headers["Authorization"]
elif mode == "get_auth":
    op = lambda: client.get_auth(
        Method="PUT", Bucket=spec["bucket"], Key=spec["key"], Expired=expire,
        Headers=dict(spec["headers"]))
else:
    sys.exit("unknown mode " + mode)

real_time = cos_auth.time
cos_auth.time = types.SimpleNamespace(time=lambda: spec["start"] + 60)
output = op()
cos_auth.time = real_time

op()
count, start = 0, time.perf_counter()
while True:
    for _ in range(100):
        op()
    count += 100
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        break
print(json.dumps({"count": count, "seconds": elapsed, "output": output,
                  "version": version("cos-python-sdk-v5")}))
"""

# Runs under node from the repository root. argv: seconds, spec JSON.
NODE_RUNNER = r"""
const COS = require('cos-nodejs-sdk-v5');
const version = require('cos-nodejs-sdk-v5/package.json').version;
const seconds = Number(process.argv[1]);
const spec = JSON.parse(process.argv[2]);
const opts = {
  SecretId: spec.secret_id, SecretKey: spec.secret_key, Method: 'put', Key: spec.key,
  Headers: spec.headers, KeyTime: spec.start + ';' + spec.end,
};
const output = COS.getAuthorization(opts);
let count = 0;
const start = process.hrtime.bigint();
let elapsed;
for (;;) {
  for (let i = 0; i < 1000; i++) COS.getAuthorization(opts);
  count += 1000;
  elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if (elapsed >= seconds) break;
}
console.log(JSON.stringify({ count, seconds: elapsed, output, version }));
"""


def fail(message, code=2):
    print(f"sign_throughput: {message}", file=sys.stderr)
    sys.exit(code)


def check_dependencies():
    if not VENV_PYTHON.exists():
        fail(f"{VENV_PYTHON} is missing: run `make deps` first")
    if not NODE_SDK.exists():
        fail(f"{NODE_SDK} is missing: run `make deps` first")


def build_sign_loop():
    """Builds the release `sign_loop` example; returns the target directory and its path."""
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "-p", "cos-sign", "--example", "sign_loop"],
        cwd=REPO,
        check=True,
    )
    metadata = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    target = Path(json.loads(metadata.stdout)["target_directory"])
    return target, target / "release" / "examples" / "sign_loop"


# The criterion benchmarks of shared/cos-sign/benches/signing.rs, in report order.
CRITERION = [
    ("request_signature/put_5_headers", "request signature: PUT, 5 headers, built and signed"),
    ("request_signature/put_5_headers_prebuilt", "the same, request built once"),
    ("presign/get_with_content_disposition", "presigned GET URL, response-content-disposition"),
    ("verify/put_header_signature", "verification of the signed PUT"),
    ("verify/presigned_get", "verification of the presigned GET"),
    ("post_policy/build_and_sign", "POST policy: built, written as JSON, signed"),
    ("post_policy/sign_given_text", "POST policy: given text, signed"),
    ("bare/hmac_sha1_sha1_hmac", "bare HMAC-SHA1 + SHA-1 + HMAC-SHA1 of one signature"),
]


def criterion_table(target):
    """criterion's last results from `target`, or None when it has not run there.

    Beside criterion's mean, the fastest sample (time per iteration of the best of its
    samples) is shown: on a shared machine the mean carries other processes' work, the
    fastest sample much less of it, so the ratios are taken between fastest samples.
    """
    results = {}
    for bench_id, _ in CRITERION:
        folder = target / "criterion" / bench_id.replace("/", "_") / "new"
        try:
            mean = json.loads((folder / "estimates.json").read_text())["mean"]["point_estimate"]
            sample = json.loads((folder / "sample.json").read_text())
        except (OSError, ValueError, KeyError):
            return None
        best = min(t / i for t, i in zip(sample["times"], sample["iters"]))
        results[bench_id] = (mean, best, (folder / "sample.json").stat().st_mtime)
    bare = results["bare/hmac_sha1_sha1_hmac"][1]
    rows = [
        "| criterion benchmark | what | mean | fastest sample | × bare work |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for bench_id, what in CRITERION:
        mean, best, _ = results[bench_id]
        rows.append(
            f"| `{bench_id}` | {what} | {mean:,.0f} ns | {best:,.0f} ns | {best / bare:.2f}× |"
        )
    oldest = min(r[2] for r in results.values())
    when = datetime.datetime.fromtimestamp(oldest, datetime.timezone.utc)
    note = f"From criterion's last run in the cargo target directory, {when:%Y-%m-%d %H:%M UTC}."
    return "\n".join(rows) + "\n\n" + note


def run_json(command, **kwargs):
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        fail(f"{command[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout)


class Implementation:
    """One row of the table: how to run it for a number of seconds, and its best round."""

    def __init__(self, name, timed, command):
        self.name = name
        self.timed = timed
        self.command = command
        self.best = None
        self.output = None
        self.version = None

    def run(self, seconds):
        result = run_json(self.command(seconds))
        rate = result["count"] / result["seconds"]
        self.best = rate if self.best is None else max(self.best, rate)
        self.output = result["output"]
        self.version = result.get("version")


def implementations(sign_loop):
    spec = json.dumps(SPEC)
    python = str(VENV_PYTHON)
    return {
        "python_auth": Implementation(
            "Python SDK `CosS3Auth.__call__`",
            "the SDK's signing step on a prepared request",
            lambda s: [python, "-c", PYTHON_RUNNER, "auth", str(s), spec],
        ),
        "python_get_auth": Implementation(
            "Python SDK `CosS3Client.get_auth`",
            "the public call: builds the request, then signs",
            lambda s: [python, "-c", PYTHON_RUNNER, "get_auth", str(s), spec],
        ),
        "node": Implementation(
            "Node SDK `COS.getAuthorization`",
            "the public static call",
            lambda s: ["node", "-e", NODE_RUNNER, str(s), spec],
        ),
        "ours": Implementation(
            "cos-sign `RequestToSign` + `sign`",
            "builds the request, then signs",
            lambda s: [str(sign_loop), "sign", str(s)],
        ),
        "bare": Implementation(
            "bare HMAC-SHA1 + SHA-1 + HMAC-SHA1",
            "`hmac`/`sha1` crates, no allocation",
            lambda s: [str(sign_loop), "bare", str(s)],
        ),
    }


def check_same_work(impls):
    """Every implementation must have produced the same signature at the fixed window."""
    auths = {key: impl.output for key, impl in impls.items() if key != "bare"}
    if len(set(auths.values())) != 1:
        lines = "\n".join(f"  {key}: {value}" for key, value in auths.items())
        fail(f"the implementations signed different things:\n{lines}", code=1)
    ours = auths["ours"]
    signature = ours.rsplit("q-signature=", 1)[-1]
    if impls["bare"].output != signature:
        fail(f"the bare work gives {impls['bare'].output}, the signature is {signature}", 1)


def environment():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run(["node", "-v"], capture_output=True, text=True).stdout.strip()
    python = subprocess.run(
        [str(VENV_PYTHON), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs",
        "os": f"{platform.system()} {platform.release()}",
        "rustc": rustc,
        "python": f"CPython {python}",
        "node": f"Node.js {node}",
        "load": f"{load:.2f}",
    }


def table(impls, env, seconds, rounds):
    ours = impls["ours"].best
    python = max(impls["python_auth"].best, impls["python_get_auth"].best)
    node = impls["node"].best
    bare = impls["bare"].best
    by_python, by_node, over_bare = ours / python, ours / node, bare / ours

    def verdict(met):
        return "met" if met else "**missed**"

    rows = [
        "| Implementation | What is timed | signatures/s | µs/signature | cos-sign ÷ this |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for key in ["python_auth", "python_get_auth", "node", "ours", "bare"]:
        impl = impls[key]
        name = impl.name + (f" ({impl.version})" if impl.version else "")
        rows.append(
            f"| {name} | {impl.timed} | {impl.best:,.0f} | {1e6 / impl.best:.2f} "
            f"| {ours / impl.best:.2f}× |"
        )
    summary = [
        f"- cos-sign ÷ Python SDK (its faster path): **{by_python:.0f}×** "
        f"(target ≥ 100×: {verdict(by_python >= 100)})",
        f"- cos-sign ÷ Node SDK: **{by_node:.1f}×** (target ≥ 20×: {verdict(by_node >= 20)})",
        f"- cos-sign takes **{over_bare:.2f}×** the time of the bare HMAC/SHA-1 work "
        f"(target ≤ 3×: {verdict(over_bare <= 3)})",
        f"- ceiling, had signing no cost beyond the bare work: {bare / python:.0f}× Python, "
        f"{bare / node:.1f}× Node",
    ]
    setup = (
        f"Measured {env['date']} on {env['cpu']} ({env['os']}, load average "
        f"{env['load']} at the start); {env['rustc']}, {env['python']}, {env['node']}. "
        f"Best of {rounds} interleaved rounds of {seconds:g} s each; all five produced "
        "the same signature for the same request before timing."
    )
    met = by_python >= 100 and by_node >= 20 and over_bare <= 3
    return "\n".join(rows), "\n".join(summary), setup, met


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per round (1.5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per implementation (3)")
    parser.add_argument("--write", type=Path, help="also write the results to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.seconds <= 0 or args.rounds < 1:
        fail("--seconds must be positive and --rounds at least 1")

    check_dependencies()
    target, sign_loop = build_sign_loop()
    env = environment()
    impls = implementations(sign_loop)

    for round_number in range(1, args.rounds + 1):
        for key, impl in impls.items():
            print(f"round {round_number}/{args.rounds}: {impl.name}", file=sys.stderr)
            impl.run(args.seconds)
        if round_number == 1:
            check_same_work(impls)

    rows, summary, setup, met = table(impls, env, args.seconds, args.rounds)
    criterion = criterion_table(target)
    print(f"{rows}\n\n{summary}\n\n{setup}")
    if criterion:
        print(f"\n{criterion}")
    else:
        print("\n(no criterion results: run `cargo bench -p cos-sign --bench signing` first)")
    if args.write:
        text = (
            "# Signing throughput\n\n"
            "Written by `bench/sign_throughput.py`; copy the table into the README by hand.\n"
            "One request (a PUT with Host, Content-Type, Content-Length, Content-MD5 and\n"
            "x-cos-forbid-overwrite) signed in a loop by each implementation.\n\n"
            f"{rows}\n\n{summary}\n\n{setup}\n"
        )
        if criterion:
            text += f"\n## criterion\n\n{criterion}\n"
        args.write.write_text(text)
    if args.strict and not met:
        sys.exit(1)


if __name__ == "__main__":
    main()

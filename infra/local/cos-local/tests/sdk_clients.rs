//! The official COS clients, unchanged, against the real `cos-local` binary: the Python
//! SDK, the Node.js SDK and coscmd each put, get (ranges too), head, list and delete, upload
//! a file over 20 MB in several parts, and check every byte that comes back. The scripts
//! live in `tests/clients/`; each prints `ok <check>` per passed check.

// Test helpers outside #[test] functions panic on setup failures, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use cos_sign::PostPolicy;

use common::{
    BUCKET, CosLocal, REGION, SECRET_ID, SECRET_KEY, creds, md5_hex, now, python, required_tool,
    window, workspace_root,
};

/// A second bucket, in another region, beside the default one.
const SECOND_BUCKET: &str = "docs-1250000000";
const SECOND_REGION: &str = "ap-beijing";
const SECOND_BUCKET_ARG: &str = "docs-1250000000:ap-beijing";

fn clients_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn config_json(server: &CosLocal, work: &Path) -> serde_json::Value {
    serde_json::json!({
        "port": server.port,
        "bucket": BUCKET,
        "region": REGION,
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "workdir": work.to_str().unwrap(),
        "second_bucket": SECOND_BUCKET,
        "second_region": SECOND_REGION,
    })
}

/// The output's `ok` lines, after checking that the run succeeded.
fn passed(output: &Output, server: &CosLocal) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client failed\nstdout:\n{stdout}\nstderr:\n{}\ncos-local log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log_text()
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .map(str::to_owned)
        .collect()
}

/// The object's ETag and bytes, read back with a signed request of our own.
async fn stored(server: &CosLocal, key: &str) -> (String, Vec<u8>) {
    let reply = server.request("GET", key).send().await;
    assert_eq!(reply.status, 200, "{key}: {}", reply.text());
    (reply.header("etag").unwrap(), reply.body)
}

#[tokio::test]
async fn the_python_sdk_works_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &["--bucket", SECOND_BUCKET_ARG]);
    let form_key = "py/form upload.txt";
    let form = PostPolicy::new(now() + 600)
        .equals("key", form_key)
        .equals("Content-Type", "text/plain")
        .content_length_range(1, 1 << 20)
        .sign(&creds(), window())
        .unwrap();
    let mut config = config_json(&server, dir.path());
    config["form"] = serde_json::json!({
        "key": form_key,
        "content_type": "text/plain",
        "fields": form
            .fields
            .iter()
            .map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str())))
            .collect::<serde_json::Map<_, _>>(),
    });

    let output = Command::new(python())
        .arg(clients_dir().join("python_sdk.py"))
        .arg(config.to_string())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap();

    let checks = passed(&output, &server);
    for expected in [
        "second bucket",
        "put_object etag",
        "get_object range",
        "get_object suffix range",
        "head_object length",
        "domain get_object",
        "presigned url",
        "upload_file multipart etag",
        "download_file bytes",
        "post object bytes",
        "list_objects keys",
        "list_objects common prefixes",
        "head after delete",
        "wrong key refused",
    ] {
        assert!(
            checks.iter().any(|c| c == expected),
            "missing check {expected}: {checks:?}"
        );
    }
    let summary: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let (etag, bytes) = stored(&server, "py/big.bin").await;
    assert_eq!(md5_hex(&bytes), summary["big_md5"]);
    assert!(etag.ends_with("-5\""), "{etag}");
}

#[tokio::test]
async fn the_node_sdk_works_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &["--bucket", SECOND_BUCKET_ARG]);
    let root = workspace_root();
    required_tool(
        root.join("node_modules/cos-nodejs-sdk-v5"),
        "the Node.js SDK (cos-nodejs-sdk-v5)",
    );

    let output = Command::new("node")
        .current_dir(&root)
        .arg(clients_dir().join("node_sdk.js"))
        .arg(config_json(&server, dir.path()).to_string())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install Node.js, then `make deps`"));

    let checks = passed(&output, &server);
    for expected in [
        "putObject etag",
        "getObject bytes",
        "getObject range",
        "headObject length",
        "uploadFile multipart etag",
        "getObject multipart bytes",
        "getBucket keys",
        "getObjectUrl presigned",
        "path-style second bucket",
        "buckets are separate",
        "headObject after delete",
        "wrong key refused",
    ] {
        assert!(
            checks.iter().any(|c| c == expected),
            "missing check {expected}: {checks:?}"
        );
    }
    let summary: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let (etag, bytes) = stored(&server, "node/big.bin").await;
    assert_eq!(md5_hex(&bytes), summary["big_md5"]);
    assert!(etag.ends_with("-6\""), "{etag}");
}

#[tokio::test]
async fn coscmd_works_unchanged_through_an_http_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let coscmd = required_tool(workspace_root().join(".venv/bin/coscmd"), "coscmd");
    let conf = dir.path().join("cos.conf");
    std::fs::write(
        &conf,
        format!(
            "[common]\nsecret_id = {SECRET_ID}\nsecret_key = {SECRET_KEY}\nbucket = {BUCKET}\n\
             region = {REGION}\nmax_thread = 4\npart_size = 4\nschema = http\n\
             multiupload_threshold = 20\nmultidownload_threshold = 20\n"
        ),
    )
    .unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();

    let output = Command::new("bash")
        .arg(clients_dir().join("coscmd.sh"))
        .arg(&coscmd)
        .arg(server.port.to_string())
        .arg(&conf)
        .arg(&work)
        .output()
        .unwrap();

    let checks = passed(&output, &server);
    assert_eq!(
        checks,
        [
            "upload and download small",
            "multipart upload and ranged download",
            "info shows the multipart etag",
            "list shows the big file",
            "list shows the small file",
            "delete",
        ]
    );
    let md5 = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let (etag, bytes) = stored(&server, "cmd/big.bin").await;
    assert_eq!(md5_hex(&bytes), md5);
    assert!(etag.ends_with("-6\""), "{etag}");
    // coscmd reached cos-local only through the proxy, with absolute-form targets.
    assert!(server.log_text().contains("cmd/big.bin"));
}

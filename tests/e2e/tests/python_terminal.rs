//! The seed's flow driven by the official Python COS SDK as the terminal, with only what
//! the server signed: proof that an existing app could adopt Cosigner.

#![allow(clippy::unwrap_used)] // A test that cannot reach its stack should stop right there.

use std::process::Command;

use serde_json::Value;

use cosigner_e2e::{Stack, python};

#[test]
fn the_official_python_sdk_uploads_and_downloads_with_server_signatures_only() {
    // Parts of 1 MiB, so the multipart case stays small.
    let stack = Stack::start(&[("MULTIPART_PART_BYTES", "1048576")], 60);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python_terminal.py");

    let output = Command::new(python())
        .arg(&script)
        .arg(&stack.ready.api_url)
        .arg(&stack.ready.token)
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python terminal failed: {stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["parts"], 3);
    assert_eq!(report["deleted_get"], "NoSuchKey");
    assert!(
        matches!(
            report["tampered_put"].as_str(),
            Some("SignatureDoesNotMatch" | "AccessDenied")
        ),
        "{report}"
    );
}

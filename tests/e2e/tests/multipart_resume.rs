//! A 64 MB upload in parts, interrupted halfway (the terminal killed outright, as a crash
//! or a lost connection would end it), resumed by re-running the same command, completed,
//! and downloaded byte-identical.

#![allow(clippy::unwrap_used)] // A test that cannot reach its stack should stop right there.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use cosigner_e2e::{Stack, bytes};

const SIZE: usize = 64 << 20;
const PART: usize = 8 << 20;

#[test]
fn an_interrupted_multipart_upload_resumes_and_completes_byte_identical() {
    let stack = Stack::start(&[("MULTIPART_PART_BYTES", &PART.to_string())], 60);
    let token = stack.ready.token.clone();
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("config");
    let path = folder.path().join("big.bin");
    let original = bytes(SIZE, 64);
    std::fs::write(&path, &original).unwrap();
    let args = [
        "-v",
        "upload",
        "--progress",
        "plain",
        path.to_str().unwrap(),
    ];

    let mut first = stack
        .cosigner_command(&token, &config, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sent_before = 0;
    for line in BufReader::new(first.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("PUT part ") && line.contains("→ 200") {
            sent_before += 1;
            if sent_before == 4 {
                first.kill().unwrap();
                break;
            }
        }
    }
    let status = first.wait().unwrap();
    assert!(!status.success(), "the first run was meant to be cut short");
    assert_eq!(sent_before, 4);

    let second = stack.cosigner(&token, &config, &args);

    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "the resumed run failed: {stderr}");
    let sent_after = stderr
        .lines()
        .filter(|l| l.starts_with("PUT part ") && l.contains("→ 200"))
        .count();
    assert!(
        sent_after >= SIZE / PART - 4,
        "only {sent_after} parts were sent after the interruption"
    );
    assert!(
        sent_after < SIZE / PART,
        "the resumed run sent every part again: {stderr}"
    );

    let listed = stack.cosigner(&token, &config, &["ls", "--json"]);
    let files: Vec<serde_json::Value> = listed
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(files.len(), 1, "one file, not a second upload: {files:?}");
    assert_eq!(files[0]["state"], "ready");
    assert_eq!(files[0]["size"], SIZE);
    let id = files[0]["file_id"].as_str().unwrap();
    let copy = folder.path().join("copy.bin");
    let get = stack.cosigner(&token, &config, &["get", id, "-o", copy.to_str().unwrap()]);
    assert!(
        get.status.success(),
        "{}",
        String::from_utf8_lossy(&get.stderr)
    );
    assert!(
        std::fs::read(&copy).unwrap() == original,
        "the download differs from the upload"
    );
}

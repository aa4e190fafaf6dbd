//! The browser terminal in headless Chromium: a person connects with a token, uploads two
//! files through signed POST forms, downloads one byte-identical, deletes the other, and is
//! refused a file over the quota; the server's own view is checked afterwards.

#![allow(clippy::unwrap_used)] // A test that cannot reach its stack should stop right there.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use cosigner_e2e::{Stack, bytes, workspace};

const QUOTA: u64 = 1_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_person_uploads_downloads_and_deletes_in_the_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run `make deps-browser` (Debian's chromium package)"
    );
    let stack = Stack::start(&[("DEFAULT_QUOTA_BYTES", &QUOTA.to_string())], 60);
    let work = tempfile::tempdir().unwrap();
    let keep = bytes(70_000, 11);
    // A name beyond ASCII must come back as it was; markup in a name must show as text,
    // never become part of the page.
    let names = json!({
        "keep": "Résumé – final.txt",
        "drop": "<img src=x onerror=alert(1)> & \"quoted\".raw",
        "huge": "too-big.bin",
    });
    std::fs::write(work.path().join("keep"), &keep).unwrap();
    std::fs::write(work.path().join("drop"), bytes(30_000, 12)).unwrap();
    std::fs::write(work.path().join("huge"), bytes(QUOTA as usize, 13)).unwrap();
    std::fs::write(work.path().join("names.json"), names.to_string()).unwrap();

    let output = Command::new("node")
        .arg(workspace().join("tests/e2e/clients/web_terminal.mjs"))
        .arg(&stack.ready.api_url)
        .arg(&stack.ready.token)
        .arg(work.path())
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser run failed: {stderr}");
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    // What the page showed.
    assert_eq!(seen["page_errors"], json!([]), "{seen}");
    let bad_token = seen["bad_token_error"].as_str().unwrap();
    assert!(bad_token.contains("unauthorized"), "{bad_token}");
    assert_eq!(seen["library_hidden_after_bad_token"], true);
    assert_eq!(seen["empty_list_shown"], true);
    assert_eq!(seen["error_hidden_after_connect"], true);
    let mut states: Vec<(&str, &str)> = seen["transfer_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["state"].as_str().unwrap()))
        .collect();
    states.sort_unstable();
    let mut expected = [
        (names["keep"].as_str().unwrap(), "ready"),
        (names["drop"].as_str().unwrap(), "ready"),
    ];
    expected.sort_unstable();
    assert_eq!(states, expected, "{seen}");
    let rows = seen["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{seen}");
    let row_of = |name: &Value| rows.iter().find(|r| &r["name"] == name).unwrap();
    let (kept, dropped) = (row_of(&names["keep"]), row_of(&names["drop"]));
    assert_eq!(
        (&kept["state"], &dropped["state"]),
        (&json!("ready"), &json!("ready"))
    );
    assert_eq!(
        dropped["elements_in_name"], 0,
        "a name became markup: {seen}"
    );
    assert!(
        seen["quota_after_upload"]
            .as_str()
            .unwrap()
            .contains("100.00 kB used"),
        "{seen}"
    );
    assert_eq!(seen["rows_after_delete"], json!([kept["id"]]));
    let huge = seen["huge_status"].as_str().unwrap();
    assert!(huge.contains("quota_exceeded"), "{huge}");
    assert!(
        seen["huge_error"].as_str().unwrap().contains("too-big.bin"),
        "{seen}"
    );
    assert!(
        seen["quota_at_end"]
            .as_str()
            .unwrap()
            .contains("70.00 kB used"),
        "{seen}"
    );
    assert_eq!(seen["rows_after_reload"], json!([kept["id"]]));

    // The download is the upload, byte for byte, under its original name.
    assert_eq!(std::fs::read(work.path().join("downloaded")).unwrap(), keep);
    assert_eq!(seen["download_name"], names["keep"]);

    // And the server agrees: one ready file, its bytes counted, nothing reserved.
    let api = stack.api(&stack.ready.token);
    let files = api.send("GET", "/v1/files", None).await.body["files"].clone();
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files[0]["file_id"], kept["id"]);
    assert_eq!(files[0]["state"], "ready");
    assert_eq!(files[0]["method"], "post", "sent through the signed form");
    let me = api.me().await;
    assert_eq!(
        (
            me["used_bytes"].as_u64(),
            me["reserved_bytes"].as_u64(),
            me["pending_count"].as_u64()
        ),
        (Some(70_000), Some(0), Some(0))
    );
    let gone = api
        .send(
            "GET",
            &format!("/v1/files/{}", dropped["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(gone.status, 404);
}

//! The command line: `--help` documents every option, and a configuration that cannot work
//! stops the binary at once with a message saying why, and no secret in it.

// Test helpers outside #[test] functions panic on setup failures, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn cos_local(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cos-local"))
        .args(args)
        .env_remove("COS_LOCAL_NOTIFY_SECRET")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_documents_every_option() {
    let (status, help, _) = cos_local(&["--help"]);

    assert_eq!(status, 0);
    for option in [
        "--config",
        "--data",
        "--bind",
        "--port",
        "--bucket",
        "--default-bucket",
        "--credential",
        "--notify ",
        "--notify-secret",
        "--notify-retry-max",
        "--cors-origin",
        "--max-object-bytes",
        "--min-part-bytes",
        "--idle-timeout",
        "--log",
        "--ready-file",
    ] {
        assert!(help.contains(option), "--help does not mention {option}");
    }
}

#[test]
fn an_unusable_configuration_stops_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--bucket", "a-1"], "no credential is configured"),
        (
            &["--credential", "id:s3cr3t-value"],
            "no bucket is configured",
        ),
        (
            &["--bucket", "Bad_Name", "--credential", "id:s3cr3t-value"],
            "is not <name>-<appid>",
        ),
        (
            &[
                "--bucket",
                "a-1",
                "--credential",
                "id:s3cr3t-value",
                "--notify",
                "http://127.0.0.1:1/",
            ],
            "--notify needs --notify-secret",
        ),
        (
            &[
                "--bucket",
                "a-1",
                "--credential",
                "id:s3cr3t-value",
                "--default-bucket",
                "b-2",
            ],
            "the default bucket b-2 is not one of the configured buckets",
        ),
    ];

    for (args, reason) in cases {
        let mut all = vec!["--data", data, "--port", "0"];
        all.extend_from_slice(args);

        let (status, stdout, stderr) = cos_local(&all);

        assert_eq!(status, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(!stderr.contains("s3cr3t"), "a secret leaked: {stderr}");
    }
}

#[test]
fn a_taken_port_is_a_start_failure() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();

    let (status, _, stderr) = cos_local(&[
        "--data",
        dir.path().join("data").to_str().unwrap(),
        "--port",
        &port,
        "--bucket",
        "a-1",
        "--credential",
        "id:secret",
    ]);

    assert_eq!(status, 1);
    assert!(stderr.contains("cannot listen on 127.0.0.1:"), "{stderr}");
}

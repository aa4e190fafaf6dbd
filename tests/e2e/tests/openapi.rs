//! `/openapi.json` stays true: Schemathesis generates requests from it against the running
//! gateway and checks that none gets a 5xx and every response matches the description; and
//! every route the description names is one the gateway serves.

#![allow(clippy::unwrap_used)] // A test that cannot reach its stack should stop right there.

use std::process::Command;

use serde_json::Value;

use cosigner_e2e::{Stack, workspace};

#[tokio::test(flavor = "multi_thread")]
async fn every_described_route_is_served_and_nothing_else_is_described() {
    let stack = Stack::start(&[], 60);
    let description: Value = reqwest::get(format!("{}/openapi.json", stack.ready.api_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api = stack.api(&stack.ready.token);

    let paths = description["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 9);
    for (path, operations) in paths {
        let concrete = path.replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        for method in operations.as_object().unwrap().keys() {
            let answer = api.send(&method.to_uppercase(), &concrete, None).await;
            assert!(
                !matches!(
                    answer.body["error"]["code"].as_str(),
                    Some("no_such_route" | "method_not_allowed")
                ),
                "{method} {path} is described but not served: {answer:?}"
            );
        }
    }
    let undescribed = api.send("GET", "/v1/teapot", None).await;
    assert_eq!(undescribed.body["error"]["code"], "no_such_route");
}

#[test]
fn schemathesis_finds_no_server_error_and_no_response_off_the_description() {
    let stack = Stack::start(&[], 60);
    let schemathesis = workspace().join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: run `make deps`",
        schemathesis.display()
    );

    let output = Command::new(schemathesis)
        .arg("run")
        .arg(format!("{}/openapi.json", stack.ready.api_url))
        .args([
            "--header",
            &format!("Authorization: Bearer {}", stack.ready.token),
        ])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
        ])
        .args([
            "--max-examples",
            "30",
            "--generation-deterministic",
            "--no-color",
        ])
        .output()
        .unwrap();

    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Schemathesis found problems:\n{report}"
    );
    assert!(
        report.contains("Tested: 10"),
        "not every operation was tested:\n{report}"
    );
}

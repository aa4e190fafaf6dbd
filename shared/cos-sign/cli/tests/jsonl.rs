//! The binary as a user runs it: JSON Lines in, one answer line per line out, in order.

#![allow(clippy::unwrap_used)] // A test that cannot start the binary should stop right there.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

#[test]
fn answers_every_line_in_order_and_goes_on_after_a_bad_one() {
    let input = [
        r#"{"kind":"request","secret_id":"AKIDexample","secret_key":"k","start_time":1,"end_time":2,"method":"PUT","key":"a b","params":{},"headers":{"Content-Type":"text/plain"}}"#,
        "{ this is not json",
        r#"{"kind":"presign","secret_id":"AKIDexample","secret_key":"k","start_time":1,"end_time":2,"method":"GET","key":"a","bucket":"b-1250000000","region":"ap-guangzhou","params":{"response-content-disposition":"attachment"},"headers":{}}"#,
        "",
        r#"{"kind":"v4","secret_id":"AKIDexample","secret_key":"k","appid":"1250000000","bucket":"b","expired":0,"current":1,"rand":42,"fileid":"/1250000000/b/a"}"#,
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_cos-sign"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.join("\n").as_bytes())
        .unwrap();

    let output = child.wait_with_output().unwrap();

    assert!(output.status.success());
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), input.len());
    assert_eq!(
        lines[0]["http_string"],
        "put\n/a b\n\ncontent-type=text%2Fplain\n"
    );
    assert!(lines[1]["error"].is_string());
    let url = lines[2]["url"].as_str().unwrap();
    assert!(url.starts_with(
        "https://b-1250000000.cos.ap-guangzhou.myqcloud.com/a?q-sign-algorithm=sha1&"
    ));
    assert!(url.contains("q-header-list=host&q-url-param-list=response-content-disposition&"));
    assert!(lines[3]["error"].is_string());
    assert_eq!(
        lines[4]["plaintext"],
        "a=1250000000&b=b&k=AKIDexample&e=0&t=1&r=42&f=/1250000000/b/a"
    );
}

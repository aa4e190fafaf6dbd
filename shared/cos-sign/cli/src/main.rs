//! `cos-sign`: signs COS requests described as JSON Lines, one answer line per input line.
//!
//! For anyone fighting `SignatureDoesNotMatch`: feed it the request you sent and compare
//! its `http_string` and `string_to_sign` with the `StringToSign` COS answered with.
//!
//! ```text
//! $ echo '{"kind":"request","secret_id":"AKID…","secret_key":"…","start_time":1,"end_time":2,
//!          "method":"GET","key":"a.txt","params":{},"headers":{"Host":"b-1.cos.ap-guangzhou.myqcloud.com"}}' | cos-sign
//! {"authorization":"q-sign-algorithm=sha1&…","http_string":"get\n/a.txt\n\nhost=…\n","string_to_sign":"sha1\n1;2\n…\n"}
//! ```
//!
//! A line that cannot be understood or signed gets `{"error": "…"}`, and the tool goes on.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use serde::Deserialize;
use serde_json::{Value, json};

use cos_sign::{Credentials, Endpoint, KeyTime, RequestToSign, V4Claims, sign_post_policy};

/// One input line. Which fields are required depends on `kind`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    kind: String,
    secret_id: String,
    secret_key: String,
    token: Option<String>,
    start_time: Option<u64>,
    end_time: Option<u64>,
    method: Option<String>,
    key: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, Option<String>>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    signed_headers: Option<Vec<String>>,
    bucket: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    sign_host: Option<bool>,
    policy: Option<String>,
    appid: Option<String>,
    expired: Option<u64>,
    current: Option<u64>,
    rand: Option<u64>,
    fileid: Option<String>,
}

fn main() -> ExitCode {
    let stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    for line in stdin.lines() {
        let answer = match line {
            Ok(line) => answer(&line),
            Err(err) => json!({ "error": format!("cannot read the line: {err}") }),
        };
        if writeln!(stdout, "{answer}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // The reader went away; there is no one left to answer.
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The answer to one line: the signature's parts, or `{"error": …}`.
fn answer(line: &str) -> Value {
    match serde_json::from_str::<Line>(line)
        .map_err(|e| e.to_string())
        .and_then(|l| sign(&l))
    {
        Ok(value) => value,
        Err(message) => json!({ "error": message }),
    }
}

fn sign(line: &Line) -> Result<Value, String> {
    let mut creds =
        Credentials::new(&line.secret_id, &line.secret_key).map_err(|e| e.to_string())?;
    if let Some(token) = &line.token {
        creds = creds.with_session_token(token).map_err(|e| e.to_string())?;
    }
    match line.kind.as_str() {
        "request" => sign_request(line, &creds),
        "presign" => presign(line, &creds),
        "post_policy" => {
            let policy = required(&line.policy, "policy")?;
            let form =
                sign_post_policy(policy, &creds, window(line)?).map_err(|e| e.to_string())?;
            let fields: serde_json::Map<String, Value> = form
                .fields
                .into_iter()
                .map(|(n, v)| (n, Value::String(v)))
                .collect();
            Ok(json!({ "policy": form.policy, "signature": form.signature, "fields": fields }))
        }
        "v4" => {
            let claims = V4Claims {
                appid: required(&line.appid, "appid")?.clone(),
                bucket: required(&line.bucket, "bucket")?.clone(),
                secret_id: line.secret_id.clone(),
                expired: *required(&line.expired, "expired")?,
                current: *required(&line.current, "current")?,
                rand: *required(&line.rand, "rand")?,
                fileid: line.fileid.clone().unwrap_or_default(),
            };
            let signature = claims.sign(&creds).map_err(|e| e.to_string())?;
            Ok(json!({ "signature": signature, "plaintext": claims.plaintext() }))
        }
        other => Err(format!(
            "unknown kind {other:?}: expected request, presign, post_policy or v4"
        )),
    }
}

fn sign_request(line: &Line, creds: &Credentials) -> Result<Value, String> {
    let signed = request(line)?
        .sign(creds, window(line)?)
        .map_err(|e| e.to_string())?;
    Ok(json!({
        "authorization": signed.authorization,
        "http_string": signed.http_string,
        "string_to_sign": signed.string_to_sign,
    }))
}

fn presign(line: &Line, creds: &Credentials) -> Result<Value, String> {
    let endpoint = match &line.endpoint {
        Some(origin) => Endpoint::custom(origin),
        None => Endpoint::cos(
            required(&line.bucket, "bucket")?,
            required(&line.region, "region")?,
        ),
    }
    .map_err(|e| e.to_string())?;
    let sign_host = line.sign_host.unwrap_or(true);
    let url = request(line)?
        .presign(&endpoint, sign_host, creds, window(line)?)
        .map_err(|e| e.to_string())?;
    Ok(json!({ "url": url }))
}

fn request(line: &Line) -> Result<RequestToSign, String> {
    let mut request = RequestToSign::new(
        required(&line.method, "method")?,
        required(&line.key, "key")?,
    );
    for (name, value) in &line.params {
        request = match value {
            Some(value) => request.param(name, value),
            None => request.flag(name),
        };
    }
    for (name, value) in &line.headers {
        request = request.header(name, value);
    }
    if let Some(names) = &line.signed_headers {
        request = request.sign_headers(names);
    }
    Ok(request)
}

fn window(line: &Line) -> Result<KeyTime, String> {
    let start = *required(&line.start_time, "start_time")?;
    let end = *required(&line.end_time, "end_time")?;
    KeyTime::new(start, end).map_err(|e| e.to_string())
}

fn required<'a, T>(field: &'a Option<T>, name: &str) -> Result<&'a T, String> {
    field
        .as_ref()
        .ok_or_else(|| format!("missing field `{name}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_answers_with_its_intermediate_strings() {
        let line = r#"{"kind":"request","secret_id":"AKIDexample","secret_key":"secret","start_time":1,
            "end_time":2,"method":"GET","key":"","params":{"acl":null},"headers":{"Host":"b-1.example"}}"#;

        let answer = answer(&line.replace('\n', ""));

        assert_eq!(answer["http_string"], "get\n/\nacl=\nhost=b-1.example\n");
        assert!(
            answer["authorization"]
                .as_str()
                .unwrap()
                .contains("q-url-param-list=acl&")
        );
        assert!(
            answer["string_to_sign"]
                .as_str()
                .unwrap()
                .starts_with("sha1\n1;2\n")
        );
    }

    #[test]
    fn bad_lines_answer_with_an_error() {
        let cases = [
            "",
            "not json",
            r#"{"kind":"request"}"#,
            r#"{"kind":"teleport","secret_id":"a","secret_key":"b"}"#,
            r#"{"kind":"request","secret_id":"a","secret_key":"","start_time":1,"end_time":2,"method":"GET","key":"k"}"#,
            r#"{"kind":"request","secret_id":"a","secret_key":"b","start_time":2,"end_time":1,"method":"GET","key":"k"}"#,
            r#"{"kind":"request","secret_id":"a","secret_key":"b","start_time":1,"end_time":2,"key":"k"}"#,
            r#"{"kind":"request","secret_id":"a","secret_key":"b","colour":"red"}"#,
        ];
        for case in cases {
            let answer = answer(case);
            assert!(answer["error"].is_string(), "{case} gave {answer}");
        }
    }

    #[test]
    fn the_error_never_echoes_the_secret_key() {
        let answer =
            answer(r#"{"kind":"request","secret_id":"a","secret_key":"hunter2","method":"GET"}"#);

        assert!(!answer.to_string().contains("hunter2"));
    }

    #[test]
    fn post_policy_and_v4_lines_answer() {
        let policy =
            r#"{\"expiration\":\"2030-01-01T00:00:00.000Z\",\"conditions\":[{\"key\":\"a\"}]}"#;
        let post = answer(&format!(
            r#"{{"kind":"post_policy","secret_id":"AKID","secret_key":"k","start_time":1,"end_time":2,"policy":"{policy}"}}"#
        ));
        let v4 = answer(
            r#"{"kind":"v4","secret_id":"AKID","secret_key":"k","appid":"1","bucket":"b","expired":9,"current":1,"rand":7}"#,
        );

        assert_eq!(post["fields"]["key"], "a");
        assert_eq!(post["fields"]["q-key-time"], "1;2");
        assert_eq!(v4["plaintext"], "a=1&b=b&k=AKID&e=9&t=1&r=7&f=");
    }
}

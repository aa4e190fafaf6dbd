//! The JSON shapes of the stored secrets.
//!
//! Errors describe what is wrong (not JSON, a missing field, a field that is not a
//! string) and never quote the text: serde's own messages can quote a value
//! (`invalid type: integer 5, expected a string`), so they are never passed on.

use cos_sign::{Credentials, Secret};
use cosigner_core::SecretError;
use serde_json::{Map, Value};

// Limitation: the parsed JSON tree holds copies of the values that are not zeroed when it
// is dropped; only the `Secret`s made from them are.

/// The COS key pair from `{"secret_id", "secret_key", "session_token"?}`.
pub(crate) fn cos_credentials(source: &str, text: &str) -> Result<Credentials, SecretError> {
    let object = object(source, text)?;
    let secret_id =
        string(source, &object, "secret_id")?.ok_or_else(|| missing_field(source, "secret_id"))?;
    let secret_key = string(source, &object, "secret_key")?
        .ok_or_else(|| missing_field(source, "secret_key"))?;
    let session_token = string(source, &object, "session_token")?;

    let credentials = Credentials::new(secret_id, secret_key)
        .map_err(|e| SecretError::Malformed(source.to_owned(), e.to_string()))?;
    match session_token {
        Some(token) => credentials
            .with_session_token(token)
            .map_err(|e| SecretError::Malformed(source.to_owned(), e.to_string())),
        None => Ok(credentials),
    }
}

/// One named secret from an object of named secrets.
pub(crate) fn named(source: &str, text: &str, name: &str) -> Result<Secret, SecretError> {
    let object = object(source, text)?;
    match string(source, &object, name)? {
        Some(value) if value.is_empty() => Err(SecretError::Malformed(
            source.to_owned(),
            format!("the field {name} is empty"),
        )),
        Some(value) => Ok(Secret::new(value)),
        None => Err(SecretError::Missing(format!("{name} in {source}"))),
    }
}

fn object(source: &str, text: &str) -> Result<Map<String, Value>, SecretError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(SecretError::Malformed(
            source.to_owned(),
            "the value is not a JSON object".to_owned(),
        )),
        // The position says where to look without saying what is there.
        Err(e) => Err(SecretError::Malformed(
            source.to_owned(),
            format!(
                "the value is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )),
    }
}

/// A string field: `None` when absent or null.
fn string(
    source: &str,
    object: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>, SecretError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(SecretError::Malformed(
            source.to_owned(),
            format!("the field {field} is not a string"),
        )),
    }
}

fn missing_field(source: &str, field: &str) -> SecretError {
    SecretError::Malformed(source.to_owned(), format!("the field {field} is missing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(err: &SecretError) -> String {
        format!("{err} {err:?}")
    }

    #[test]
    fn reads_a_key_pair_with_and_without_a_session_token() {
        let permanent = cos_credentials("s", r#"{"secret_id":"AKIDx","secret_key":"k1"}"#).unwrap();
        let temporary = cos_credentials(
            "s",
            r#"{"secret_id":"AKIDx","secret_key":"k1","session_token":"t1","note":"x"}"#,
        )
        .unwrap();

        assert_eq!(permanent.secret_id(), "AKIDx");
        assert_eq!(permanent.secret_key().expose(), "k1");
        assert!(permanent.session_token().is_none());
        assert_eq!(temporary.session_token().map(Secret::expose), Some("t1"));
    }

    #[test]
    fn malformed_values_are_described_without_being_quoted() {
        let cases = [
            ("hunter2-not-json", "not JSON"),
            (
                r#"{"secret_id":"AKIDx","secret_key":987654321}"#,
                "secret_key is not a string",
            ),
            (r#"{"secret_id":"AKIDx"}"#, "secret_key is missing"),
            (r#"["hunter2-in-a-list"]"#, "not a JSON object"),
            (
                r#"{"secret_id":"AK ID","secret_key":"hunter2"}"#,
                "cannot be signed",
            ),
            (r#"{"secret_id":"AKIDx","secret_key":"hunter2""#, "not JSON"),
        ];
        for (value, expected) in cases {
            let err = cos_credentials("prod/cos", value).unwrap_err();

            let text = text_of(&err);
            assert!(text.contains(expected), "{text}");
            assert!(text.contains("prod/cos"), "{text}");
            for secret in ["hunter2", "987654321", "AK ID"] {
                assert!(!text.contains(secret), "{text} quotes {secret}");
            }
        }
    }

    #[test]
    fn a_named_secret_absent_from_the_object_is_missing() {
        let text = r#"{"jwt_secret":"j","event_secret":""}"#;

        assert_eq!(named("app", text, "jwt_secret").unwrap().expose(), "j");
        assert!(matches!(
            named("app", text, "cursor_secret"),
            Err(SecretError::Missing(m)) if m.contains("cursor_secret")
        ));
        assert!(matches!(
            named("app", text, "event_secret"),
            Err(SecretError::Malformed(_, m)) if m.contains("empty")
        ));
    }
}

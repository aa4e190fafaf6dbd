//! POST Object form uploads: the policy, its signature, and the form fields a browser sends.
//!
//! Trap: a POST form does not use the request signature. Its StringToSign is the hex SHA-1
//! of the policy's JSON text itself (not of its base64), and the form names the window
//! `q-key-time` while the policy names it `q-sign-time`.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::key_time::KeyTime;
use crate::request::SECURITY_TOKEN;
use crate::signature::{sha1_hex, sign_key, signature};
use crate::{Credentials, SignError, VerifyError};

/// One condition of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The form field must equal the value (`{"field": "value"}`).
    Equals {
        /// Form field name, as written in the policy (without `$`).
        field: String,
        /// Required value.
        value: String,
    },
    /// The form field must start with the prefix (`["starts-with", "$field", "prefix"]`).
    StartsWith {
        /// Form field name (without `$`).
        field: String,
        /// Required prefix; empty allows any value but still demands the field.
        prefix: String,
    },
    /// The file must be between `min` and `max` bytes, both included.
    ContentLengthRange {
        /// Smallest allowed size in bytes.
        min: u64,
        /// Largest allowed size in bytes.
        max: u64,
    },
}

impl Condition {
    fn to_json(&self) -> Value {
        match self {
            // A field whose own name starts with `$` would lose it in the object form,
            // which reads `{"$key": …}` as the field `key`; the array form keeps it.
            Self::Equals { field, value } if field.starts_with('$') => {
                json!(["eq", format!("${field}"), value])
            }
            Self::Equals { field, value } => json!({ field.as_str(): value }),
            Self::StartsWith { field, prefix } => {
                json!(["starts-with", format!("${field}"), prefix])
            }
            Self::ContentLengthRange { min, max } => json!(["content-length-range", min, max]),
        }
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (field, value) = map.iter().next().ok_or("empty condition")?;
                let value = value
                    .as_str()
                    .ok_or_else(|| format!("the value of {field} is not a string"))?;
                // One `$` is tolerated, as in the array form; a second one is the name's.
                Ok(Self::Equals {
                    field: field.strip_prefix('$').unwrap_or(field).to_owned(),
                    value: value.to_owned(),
                })
            }
            Value::Array(items) => match items.as_slice() {
                [
                    Value::String(op),
                    Value::String(field),
                    Value::String(value),
                ] if op.eq_ignore_ascii_case("eq") => Ok(Self::Equals {
                    field: strip_dollar(field)?,
                    value: value.clone(),
                }),
                [
                    Value::String(op),
                    Value::String(field),
                    Value::String(prefix),
                ] if op.eq_ignore_ascii_case("starts-with") => Ok(Self::StartsWith {
                    field: strip_dollar(field)?,
                    prefix: prefix.clone(),
                }),
                [Value::String(op), min, max]
                    if op.eq_ignore_ascii_case("content-length-range") =>
                {
                    let bound = |v: &Value| {
                        v.as_u64()
                            .ok_or("content-length-range bounds must be whole numbers")
                    };
                    let (min, max) = (bound(min)?, bound(max)?);
                    if min > max {
                        return Err("content-length-range minimum exceeds its maximum".into());
                    }
                    Ok(Self::ContentLengthRange { min, max })
                }
                _ => Err(format!("unknown condition {value}")),
            },
            _ => Err(format!("unknown condition {value}")),
        }
    }
}

fn strip_dollar(field: &str) -> Result<String, String> {
    field
        .strip_prefix('$')
        .map(str::to_owned)
        .ok_or_else(|| format!("{field:?} does not start with '$'"))
}

/// A POST Object policy: when it expires and what the form must satisfy.
///
/// ```
/// use cos_sign::{Credentials, KeyTime, PostPolicy};
///
/// let creds = Credentials::new("AKIDexample", "secret")?;
/// let form = PostPolicy::new(1700000600)
///     .equals("key", "users/42/01HX/photo.jpg")
///     .content_length_range(1, 10 << 20)
///     .equals("Content-Type", "image/jpeg")
///     .sign(&creds, KeyTime::new(1700000000, 1700000600)?)?;
///
/// assert_eq!(form.field("key"), Some("users/42/01HX/photo.jpg"));
/// assert_eq!(form.field("q-ak"), Some("AKIDexample"));
/// # Ok::<(), cos_sign::SignError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    expiration: u64,
    conditions: Vec<Condition>,
}

impl PostPolicy {
    /// A policy that expires at `expiration` (Unix seconds), with no conditions yet.
    pub fn new(expiration: u64) -> Self {
        Self {
            expiration,
            conditions: Vec::new(),
        }
    }

    /// Requires a form field to equal a value.
    pub fn equals(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.conditions.push(Condition::Equals {
            field: field.into(),
            value: value.into(),
        });
        self
    }

    /// Requires a form field to start with a prefix.
    pub fn starts_with(mut self, field: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.conditions.push(Condition::StartsWith {
            field: field.into(),
            prefix: prefix.into(),
        });
        self
    }

    /// Bounds the size of the uploaded file, both ends included.
    pub fn content_length_range(mut self, min: u64, max: u64) -> Self {
        self.conditions
            .push(Condition::ContentLengthRange { min, max });
        self
    }

    /// When the policy expires, Unix seconds.
    pub fn expiration(&self) -> u64 {
        self.expiration
    }

    /// The conditions, in order.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The policy as JSON text.
    pub fn to_json(&self) -> String {
        let expiration =
            humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs(self.expiration));
        let conditions: Vec<Value> = self.conditions.iter().map(Condition::to_json).collect();
        json!({ "expiration": expiration.to_string(), "conditions": conditions }).to_string()
    }

    /// Parses a policy's JSON text.
    ///
    /// # Errors
    ///
    /// [`SignError::MalformedPolicy`] unless the text is an object with an ISO 8601
    /// `expiration` and a `conditions` array of known conditions.
    pub fn parse(text: &str) -> Result<Self, SignError> {
        let malformed = |why: String| SignError::MalformedPolicy(why);
        let value: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        let expiration = value
            .get("expiration")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("expiration is missing or not a string".into()))?;
        let expiration = humantime::parse_rfc3339(expiration)
            .map_err(|e| malformed(format!("expiration {expiration:?}: {e}")))?
            .duration_since(UNIX_EPOCH)
            .map_err(|_| malformed("expiration is before 1970".into()))?
            .as_secs();
        let conditions = value
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("conditions is missing or not an array".into()))?
            .iter()
            .map(Condition::from_json)
            .collect::<Result<_, _>>()
            .map_err(malformed)?;
        Ok(Self {
            expiration,
            conditions,
        })
    }

    /// Adds the conditions COS documents as required (`q-sign-algorithm`, `q-ak`,
    /// `q-sign-time`) and signs the result.
    ///
    /// # Errors
    ///
    /// None in practice; the signature is that of [`sign_post_policy`].
    pub fn sign(&self, creds: &Credentials, window: KeyTime) -> Result<PostForm, SignError> {
        let policy = self
            .clone()
            .equals("q-sign-algorithm", "sha1")
            .equals("q-ak", creds.secret_id())
            .equals("q-sign-time", window.to_string());
        sign_post_policy(&policy.to_json(), creds, window)
    }

    /// Checks a submitted form against every condition.
    ///
    /// `fields` are the form's text fields (names case-insensitive), `size` the file's
    /// length in bytes, `bucket` the full bucket name the form was posted to.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Expired`] past the expiration, [`VerifyError::EntityTooSmall`] or
    /// [`VerifyError::EntityTooLarge`] outside the length range, and
    /// [`VerifyError::PolicyViolation`] for any other unmet condition.
    pub fn check(
        &self,
        fields: &[(String, String)],
        size: u64,
        bucket: &str,
        now: u64,
    ) -> Result<(), VerifyError> {
        if now > self.expiration {
            return Err(VerifyError::Expired {
                end: self.expiration,
                now,
            });
        }
        for condition in &self.conditions {
            let violation = |reason: String| VerifyError::PolicyViolation {
                condition: condition.to_json().to_string(),
                reason,
            };
            let field_value = |field: &str| -> Option<&str> {
                let name = if field.eq_ignore_ascii_case("q-sign-time") {
                    "q-key-time"
                } else {
                    field
                };
                if field.eq_ignore_ascii_case("bucket") {
                    return Some(bucket);
                }
                fields
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            match condition {
                Condition::ContentLengthRange { min, max } => {
                    if size < *min {
                        return Err(VerifyError::EntityTooSmall { size, min: *min });
                    }
                    if size > *max {
                        return Err(VerifyError::EntityTooLarge { size, max: *max });
                    }
                }
                Condition::Equals { field, value } => match field_value(field) {
                    None => return Err(violation(format!("the form has no {field} field"))),
                    Some(actual) if actual != value => {
                        return Err(violation(format!("{field} is {actual:?}")));
                    }
                    Some(_) => {}
                },
                Condition::StartsWith { field, prefix } => match field_value(field) {
                    None => return Err(violation(format!("the form has no {field} field"))),
                    Some(actual) if !actual.starts_with(prefix.as_str()) => {
                        return Err(violation(format!("{field} is {actual:?}")));
                    }
                    Some(_) => {}
                },
            }
        }
        Ok(())
    }
}

/// A signed POST form.
#[derive(Debug, Clone)]
pub struct PostForm {
    /// The policy, standard base64 with padding.
    pub policy: String,
    /// `q-signature`.
    pub signature: String,
    /// The hex SHA-1 of the policy text that was HMACed.
    pub string_to_sign: String,
    /// Every form field a browser must send, in order, before the `file` field (which must
    /// come last): the policy's exact-valued fields (`key` first), then `policy`, the `q-*`
    /// fields, and the session token of temporary credentials. Fields the policy constrains
    /// only by prefix are left for the caller to add.
    pub fields: Vec<(String, String)>,
}

impl PostForm {
    /// The value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Signs a policy's JSON text exactly as given.
///
/// # Errors
///
/// [`SignError::MalformedPolicy`] when the text is not a policy, since the form fields are
/// read from its conditions.
pub fn sign_post_policy(
    policy_text: &str,
    creds: &Credentials,
    window: KeyTime,
) -> Result<PostForm, SignError> {
    let policy = PostPolicy::parse(policy_text)?;
    let key_time = window.text();
    let string_to_sign = sha1_hex(policy_text.as_bytes());
    let signature = signature(&sign_key(creds.secret_key(), &key_time), &string_to_sign);
    let encoded = STANDARD.encode(policy_text.as_bytes());

    let mut fields: Vec<(String, String)> = Vec::new();
    for condition in policy.conditions() {
        if let Condition::Equals { field, value } = condition {
            let lower = field.to_ascii_lowercase();
            let derived = lower == "bucket" || lower.starts_with("q-") || lower == "policy";
            if !derived && !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(field)) {
                fields.push((field.clone(), value.clone()));
            }
        }
    }
    if let Some(at) = fields.iter().position(|(n, _)| n == "key") {
        let key = fields.remove(at);
        fields.insert(0, key);
    }
    fields.push(("policy".into(), encoded.clone()));
    fields.push(("q-sign-algorithm".into(), "sha1".into()));
    fields.push(("q-ak".into(), creds.secret_id().to_owned()));
    fields.push(("q-key-time".into(), key_time));
    fields.push(("q-signature".into(), signature.clone()));
    if let Some(token) = creds.session_token() {
        fields.push((SECURITY_TOKEN.into(), token.expose().to_owned()));
    }

    Ok(PostForm {
        policy: encoded,
        signature,
        string_to_sign,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_json_round_trips() {
        let policy = PostPolicy::new(1567157892)
            .equals("key", "a/b.jpg")
            .starts_with("x-cos-meta-owner", "")
            .content_length_range(1, 100);

        let text = policy.to_json();

        assert!(text.contains("\"expiration\":\"2019-08-30T09:38:12.000Z\""));
        assert_eq!(PostPolicy::parse(&text).unwrap(), policy);
    }

    #[test]
    fn a_field_whose_name_starts_with_a_dollar_survives_the_json_round_trip() {
        let text = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":
            [["eq","$$key","a"],{"$$b":"c"},{"$d":"e"},["starts-with","$$f",""]]}"#;
        let built = PostPolicy::new(1893456000).equals("$key", "a");

        let parsed = PostPolicy::parse(text).unwrap();

        let equals = |field: &str, value: &str| Condition::Equals {
            field: field.into(),
            value: value.into(),
        };
        assert_eq!(
            parsed.conditions()[..3],
            [equals("$key", "a"), equals("$b", "c"), equals("d", "e")]
        );
        assert_eq!(PostPolicy::parse(&parsed.to_json()).unwrap(), parsed);
        assert_eq!(PostPolicy::parse(&built.to_json()).unwrap(), built);
        assert!(built.to_json().contains(r#"["eq","$$key","a"]"#));
    }

    #[test]
    fn accepts_the_eq_array_form_and_refuses_unknown_conditions() {
        let ok = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$key","a"]]}"#;
        let bad = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["between","$key","a"]]}"#;
        let inverted =
            r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",9,1]]}"#;

        assert_eq!(
            PostPolicy::parse(ok).unwrap().conditions(),
            [Condition::Equals {
                field: "key".into(),
                value: "a".into()
            }]
        );
        assert!(PostPolicy::parse(bad).is_err());
        assert!(PostPolicy::parse(inverted).is_err());
        assert!(PostPolicy::parse("[]").is_err());
    }

    #[test]
    fn checks_each_condition() {
        let policy = PostPolicy::new(2000)
            .equals("key", "k")
            .equals("bucket", "b-1")
            .starts_with("Content-Type", "image/")
            .content_length_range(2, 10);
        let good = form(&[("key", "k"), ("content-type", "image/png")]);

        assert_eq!(policy.check(&good, 5, "b-1", 1000), Ok(()));
        assert!(matches!(
            policy.check(&good, 1, "b-1", 1000),
            Err(VerifyError::EntityTooSmall { .. })
        ));
        assert!(matches!(
            policy.check(&good, 11, "b-1", 1000),
            Err(VerifyError::EntityTooLarge { .. })
        ));
        assert!(matches!(
            policy.check(&good, 5, "b-2", 1000),
            Err(VerifyError::PolicyViolation { .. })
        ));
        assert!(matches!(
            policy.check(&good, 5, "b-1", 2001),
            Err(VerifyError::Expired { .. })
        ));
        let wrong_key = form(&[("key", "other"), ("content-type", "image/png")]);
        assert!(matches!(
            policy.check(&wrong_key, 5, "b-1", 1000),
            Err(VerifyError::PolicyViolation { .. })
        ));
        let wrong_type = form(&[("key", "k"), ("content-type", "text/html")]);
        assert!(matches!(
            policy.check(&wrong_type, 5, "b-1", 1000),
            Err(VerifyError::PolicyViolation { .. })
        ));
        let no_type = form(&[("key", "k")]);
        assert!(matches!(
            policy.check(&no_type, 5, "b-1", 1000),
            Err(VerifyError::PolicyViolation { .. })
        ));
    }

    #[test]
    fn the_form_lists_exact_fields_first_and_the_signature_fields_after() {
        let creds = Credentials::new("AKIDexample", "secret")
            .unwrap()
            .with_session_token("tok")
            .unwrap();

        let form = PostPolicy::new(2000)
            .equals("Content-Type", "image/png")
            .equals("key", "k")
            .equals("bucket", "b-1")
            .sign(&creds, KeyTime::new(1000, 2000).unwrap())
            .unwrap();

        let names: Vec<&str> = form.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "key",
                "Content-Type",
                "policy",
                "q-sign-algorithm",
                "q-ak",
                "q-key-time",
                "q-signature",
                "x-cos-security-token"
            ]
        );
        assert_eq!(form.field("q-key-time"), Some("1000;2000"));
    }
}

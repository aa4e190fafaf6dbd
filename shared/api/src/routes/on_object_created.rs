//! `on-object-created`: COS's upload-completion event confirms an upload the same way
//! `complete-upload` does, so the two agree in any order and any number of repeats.
//!
//! The event arrives either as a direct invocation ([`handle_cos_event`]) or relayed to
//! `POST /v1/events/cos` with no bearer token, authenticated by
//! `x-cosigner-signature: hex(HMAC-SHA256(event secret, timestamp + "." + body))` and
//! `x-cosigner-timestamp` (Unix seconds, within [`MAX_EVENT_SKEW_SECS`] of the server's
//! clock).
//!
//! Parsing is lenient, as COS's samples disagree with each other: `size` and `eventTime` may
//! be numbers or strings, the bucket's `appid` too, and a key may arrive percent-encoded.
//! Records that are not ours (other buckets, other event types, keys outside the layout) are
//! skipped and acknowledged, each with a reason in the report and the log; an object in the
//! layout that no upload owns is removed from COS. Only a failure of the table or COS asks
//! the sender to deliver the event again.

use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use tracing::{info, warn};

use cos_sign::Secret;
use cosigner_core::{Clock, Config, FileTable, ObjectStore};

use crate::confirm::{ConfirmError, Confirmed, Source, confirm};
use crate::{ApiError, ApiRequest, ApiResponse, Deps, ErrorCode, retry};

/// The header carrying the relay's Unix time.
pub const TIMESTAMP_HEADER: &str = "x-cosigner-timestamp";
/// The header carrying the relay's signature.
pub const SIGNATURE_HEADER: &str = "x-cosigner-signature";
/// How far a relayed event's timestamp may be from the server's clock, either way.
pub const MAX_EVENT_SKEW_SECS: u64 = 300;

/// What became of one record of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordOutcome {
    /// This event made the file ready.
    Confirmed,
    /// The file was ready already.
    AlreadyReady,
    /// Not ours, or nothing to do: acknowledged without a change.
    Skipped,
    /// The table or COS failed; delivering the event again may succeed.
    Failed,
}

/// One record's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordReport {
    /// The object key, as far as it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What happened.
    pub outcome: RecordOutcome,
    /// Why, in a few words.
    pub detail: String,
    #[serde(skip)]
    failure: Option<ErrorCode>,
}

/// What an event did, record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventReport {
    /// One entry per record, in order.
    pub records: Vec<RecordReport>,
    /// Set when the body is not a COS event at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<String>,
}

impl EventReport {
    /// Whether a record failed in a way a new delivery may fix (the table or COS failed).
    pub fn should_retry(&self) -> bool {
        self.records
            .iter()
            .any(|r| r.outcome == RecordOutcome::Failed)
    }

    /// How many records had this outcome.
    pub fn count(&self, outcome: RecordOutcome) -> usize {
        self.records.iter().filter(|r| r.outcome == outcome).count()
    }
}

/// The signature a relay sends for `body` at `timestamp`.
pub fn sign_event(secret: &Secret, timestamp: u64, body: &[u8]) -> String {
    hex::encode(event_mac(secret, timestamp, body).finalize().into_bytes())
}

/// Checks a relayed event's signature headers against the event secret and the clock.
///
/// # Errors
///
/// A 401 [`ApiError`] for a missing, stale or wrong signature.
pub fn verify_event_signature<T, O, C>(
    deps: &Deps<T, O, C>,
    request: &ApiRequest,
) -> Result<(), ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    verify_event_signature_at(&deps.keys.event_secret, request, deps.clock.now())
}

/// [`verify_event_signature`] at a given time.
///
/// # Errors
///
/// As [`verify_event_signature`].
pub fn verify_event_signature_at(
    secret: &Secret,
    request: &ApiRequest,
    now: u64,
) -> Result<(), ApiError> {
    let refuse = |why: &str| ApiError::new(ErrorCode::Unauthorized, why);
    let timestamp: u64 = request
        .header(TIMESTAMP_HEADER)
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| refuse("the event has no valid x-cosigner-timestamp"))?;
    if timestamp.abs_diff(now) > MAX_EVENT_SKEW_SECS {
        return Err(refuse(
            "the event's timestamp is too far from the server's time",
        ));
    }
    let signature = request
        .header(SIGNATURE_HEADER)
        .and_then(|s| hex::decode(s.trim()).ok())
        .ok_or_else(|| refuse("the event has no valid x-cosigner-signature"))?;
    event_mac(secret, timestamp, &request.body)
        .verify_slice(&signature)
        .map_err(|_| refuse("the event's signature does not verify"))
}

fn event_mac(secret: &Secret, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Answers `POST /v1/events/cos`: 401 unless signed, 400 for a body that is not a COS event,
/// 502/503 when a record failed (so the relay delivers again), else 200 with the report.
pub(crate) async fn handle_http<T, O, C>(
    deps: &Deps<T, O, C>,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    verify_event_signature(deps, request)?;

    let report = handle_cos_event(deps, &request.body).await;

    if let Some(why) = &report.malformed {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("not a COS event: {why}"),
        ));
    }
    if let Some(failed) = report.records.iter().find_map(|r| r.failure) {
        let err = ApiError::new(
            failed,
            "a record could not be processed; deliver the event again",
        );
        return Err(if failed == ErrorCode::Unavailable {
            err.retry_after(std::time::Duration::from_secs(5))
        } else {
            err
        });
    }
    Ok(ApiResponse::json(200, &report))
}

/// Processes a COS event given as its JSON body (a direct invocation, or the relayed event
/// once its signature is checked). Never fails: every record gets an outcome.
pub async fn handle_cos_event<T, O, C>(deps: &Deps<T, O, C>, body: &[u8]) -> EventReport
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let records = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut event)) => match event.remove("Records") {
            Some(Value::Array(records)) => records,
            _ => return malformed("there is no Records array"),
        },
        Ok(_) => return malformed("the body is not a JSON object"),
        Err(err) => return malformed(&format!("the body is not JSON: {err}")),
    };

    let mut report = EventReport::default();
    for record in &records {
        let outcome = handle_record(deps, record).await;
        log_record(&outcome);
        report.records.push(outcome);
    }
    report
}

fn malformed(why: &str) -> EventReport {
    warn!(reason = why, "skipped a body that is not a COS event");
    EventReport {
        records: Vec::new(),
        malformed: Some(why.to_owned()),
    }
}

fn log_record(report: &RecordReport) {
    let key = report.key.as_deref().unwrap_or("-");
    let detail = report.detail.as_str();
    match report.outcome {
        RecordOutcome::Failed => warn!(key, outcome = ?report.outcome, detail, "cos event record"),
        _ => info!(key, outcome = ?report.outcome, detail, "cos event record"),
    }
}

async fn handle_record<T, O, C>(deps: &Deps<T, O, C>, record: &Value) -> RecordReport
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let report = |key: Option<&str>, outcome, detail: String| RecordReport {
        key: key.map(str::to_owned),
        outcome,
        detail,
        failure: None,
    };
    let key = match object_key(record, &deps.config) {
        Ok(key) => key,
        Err(why) => return report(None, RecordOutcome::Skipped, why),
    };
    let Some((user, id, key)) = candidates(&key)
        .into_iter()
        .find_map(|k| deps.config.keys.parse(&k).map(|(u, f)| (u, f, k)))
    else {
        return report(
            Some(&key),
            RecordOutcome::Skipped,
            "the key is outside the upload layout".into(),
        );
    };
    let file = match retry::table(|| deps.table.get_file(&user, id)).await {
        Ok(Some(file)) if file.key == key => file,
        Ok(_) => return remove_stray(deps, key).await,
        Err(err) => {
            let err = ApiError::from(err);
            return RecordReport {
                failure: Some(err.code),
                ..report(
                    Some(&key),
                    RecordOutcome::Failed,
                    crate::dispatch::cause_chain(&err),
                )
            };
        }
    };

    match confirm(deps, file, &Source::Event).await {
        Ok(Confirmed::Now(_)) => {
            report(Some(&key), RecordOutcome::Confirmed, "marked ready".into())
        }
        Ok(Confirmed::Already(_)) => report(
            Some(&key),
            RecordOutcome::AlreadyReady,
            "was ready already".into(),
        ),
        Err(ConfirmError::Failed(err)) if err.code == ErrorCode::NotFound => report(
            Some(&key),
            RecordOutcome::Skipped,
            "the file was deleted".into(),
        ),
        Err(ConfirmError::Failed(err)) => RecordReport {
            failure: Some(err.code),
            ..report(
                Some(&key),
                RecordOutcome::Failed,
                crate::dispatch::cause_chain(&err),
            )
        },
        Err(err) => report(Some(&key), RecordOutcome::Skipped, err.to_string()),
    }
}

/// An object in the upload layout that no file record owns. Every record is written before
/// its signature is handed out, so such an object was sent after its file was deleted, with a
/// signature still inside its window: nobody can list, fetch or count it, and it would hold
/// storage outside every quota. It is removed; when COS fails, the record fails so that the
/// event is delivered again.
async fn remove_stray<T, O, C>(deps: &Deps<T, O, C>, key: String) -> RecordReport
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    match retry::store(deps, || deps.store.delete(&key)).await {
        Ok(()) => RecordReport {
            key: Some(key),
            outcome: RecordOutcome::Skipped,
            detail: "no upload has this key; the object was removed".into(),
            failure: None,
        },
        Err(err) => {
            let err = ApiError::from(err);
            RecordReport {
                key: Some(key),
                outcome: RecordOutcome::Failed,
                detail: crate::dispatch::cause_chain(&err),
                failure: Some(err.code),
            }
        }
    }
}

/// The object key of a record of ours: an `ObjectCreated` event of the configured bucket,
/// with `/<appid>/<bucket short name>/` taken off the front once.
fn object_key(record: &Value, config: &Config) -> Result<String, String> {
    let text = |pointer: &str| -> Option<String> {
        match record.pointer(pointer)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let event = text("/event/eventName").ok_or("the record has no eventName")?;
    if !event.starts_with("cos:ObjectCreated:") {
        let shown: String = event.chars().take(64).collect();
        return Err(format!("not an object-created event ({shown})"));
    }
    let name = text("/cos/cosBucket/name").ok_or("the record names no bucket")?;
    let appid = text("/cos/cosBucket/appid").ok_or("the record names no appid")?;
    if format!("{name}-{appid}") != config.bucket {
        return Err("an event of another bucket".into());
    }
    let key = text("/cos/cosObject/key").ok_or("the record has no object key")?;
    key.strip_prefix(&format!("/{appid}/{name}/"))
        .map(str::to_owned)
        .ok_or_else(|| "the object key is not under its bucket".into())
}

/// The keys a record's key may stand for: decoded first when it holds `%`, then as given.
/// Our keys never hold `%` (safe names are made of letters, digits and `-_.()+`), so a key
/// with one is either encoded or not ours.
fn candidates(key: &str) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if key.contains('%')
        && let Ok(decoded) = percent_decode_str(key).decode_utf8()
        && decoded != key
    {
        keys.push(decoded.into_owned());
    }
    keys.push(key.to_owned());
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(timestamp: &str, signature: &str, body: &str) -> ApiRequest {
        ApiRequest {
            method: "POST".into(),
            path: "/v1/events/cos".into(),
            headers: vec![
                (TIMESTAMP_HEADER.into(), timestamp.into()),
                (SIGNATURE_HEADER.into(), signature.into()),
            ],
            body: body.as_bytes().to_vec(),
            ..ApiRequest::default()
        }
    }

    #[test]
    fn a_fresh_signed_event_verifies() {
        let secret = Secret::new("event-secret");
        let signature = sign_event(&secret, 1_700_000_000, b"{}");

        let result = verify_event_signature_at(
            &secret,
            &request("1700000000", &signature, "{}"),
            1_700_000_299,
        );

        assert!(result.is_ok());
    }

    #[test]
    fn stale_forged_or_unsigned_events_are_refused() {
        let secret = Secret::new("event-secret");
        let good = sign_event(&secret, 1_700_000_000, b"{}");
        let other = sign_event(&Secret::new("other"), 1_700_000_000, b"{}");

        for (timestamp, signature, body, now) in [
            ("1700000000", good.as_str(), "{}", 1_700_000_301),
            ("1700000000", good.as_str(), "{}", 1_699_999_699),
            ("1700000000", good.as_str(), "{ }", 1_700_000_000),
            ("1700000001", good.as_str(), "{}", 1_700_000_000),
            ("1700000000", other.as_str(), "{}", 1_700_000_000),
            ("1700000000", "zz", "{}", 1_700_000_000),
            ("", good.as_str(), "{}", 1_700_000_000),
            ("-1", good.as_str(), "{}", 1_700_000_000),
        ] {
            let err = verify_event_signature_at(&secret, &request(timestamp, signature, body), now)
                .unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::Unauthorized,
                "{timestamp} {body} {now}"
            );
        }
    }

    #[test]
    fn percent_encoded_keys_are_tried_decoded_too() {
        assert_eq!(candidates("a/b.txt"), vec!["a/b.txt"]);
        assert_eq!(
            candidates("a/%E4%B8%AD.txt"),
            vec!["a/中.txt", "a/%E4%B8%AD.txt"]
        );
        assert_eq!(candidates("a/%FF.txt"), vec!["a/%FF.txt"]);
    }
}

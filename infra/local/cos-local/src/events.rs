//! Upload events: for each created object, the COS trigger event (the shape an SCF function
//! receives), queued on disk and POSTed, signed, to every notify URL until one answers 2xx.
//!
//! Each delivery (one event to one URL) is its own file under `<data>/events/pending/`,
//! written crash-safely before the upload is acknowledged and removed once the receiver
//! answers 2xx. A failed attempt (no connection, a timeout, any other status) is retried
//! with exponential backoff and jitter, for as long as the server runs; at start every file
//! still pending is picked up again. Delivery is therefore at least once: a receiver that
//! answered but whose answer was lost to a crash sees the event again, and must be
//! idempotent (as it must be for COS itself).
//!
//! Each POST carries `x-cosigner-timestamp: <unix seconds>` and `x-cosigner-signature:
//! <hex HMAC-SHA256(secret, timestamp + "." + body)>`; the timestamp is that of the attempt,
//! so a receiver can refuse stale replays.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::sync::Semaphore;

use cos_sign::Secret;
use cos_sign::encode::encode_path;

use crate::config::{Bucket, Config};
use crate::store::ObjectMeta;
use crate::store::files::{TEMP_PREFIX, remove_if_exists, unique_name, write_atomic};

/// The header with the Unix time of a delivery attempt.
pub const TIMESTAMP_HEADER: &str = "x-cosigner-timestamp";

/// The header with the hex HMAC-SHA256 of `<timestamp>.<body>`.
pub const SIGNATURE_HEADER: &str = "x-cosigner-signature";

/// Deliveries in flight at once, so a burst of uploads does not open a burst of sockets.
const CONCURRENT_DELIVERIES: usize = 16;

/// The first retry waits about this long; each further one twice as long, up to the cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// How an object was created, as the event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// PUT Object.
    Put,
    /// POST Object (a form upload).
    Post,
    /// CompleteMultipartUpload.
    CompleteMultipartUpload,
}

impl Created {
    /// `cos:ObjectCreated:<kind>`.
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Put => "cos:ObjectCreated:Put",
            Self::Post => "cos:ObjectCreated:Post",
            Self::CompleteMultipartUpload => "cos:ObjectCreated:CompleteMultipartUpload",
        }
    }
}

/// What an event says about the request that created the object.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    /// How it was created.
    pub created: Created,
    /// The request id of the creating request.
    pub request_id: &'a str,
    /// The uploader's address.
    pub source_ip: IpAddr,
    /// The `Authorization` header of the request; empty for a presigned URL or a form.
    pub authorization: &'a str,
}

/// The short region code COS events carry (`gz` for ap-guangzhou), or the region itself.
//
// Limitation: the codes come from the published event samples (gz, cd, bj) and the
// regions' usual abbreviations; a region not listed here is sent under its full name.
fn short_region(region: &str) -> &str {
    match region {
        "ap-guangzhou" => "gz",
        "ap-beijing" => "bj",
        "ap-chengdu" => "cd",
        "ap-shanghai" => "sh",
        "ap-chongqing" => "cq",
        "ap-nanjing" => "nj",
        "ap-hongkong" => "hk",
        "ap-singapore" => "sg",
        other => other,
    }
}

/// The COS trigger event for one created object.
pub fn object_created_event(bucket: &Bucket, object: &ObjectMeta, origin: &Origin<'_>) -> Value {
    let mut meta = Map::new();
    meta.insert("x-cos-request-id".into(), origin.request_id.into());
    meta.insert("Content-Type".into(), object.content_type.clone().into());
    for (name, value) in &object.headers {
        if name.starts_with("x-cos-meta-") {
            meta.insert(name.clone(), value.clone().into());
        }
    }
    let region = short_region(&bucket.region);
    json!({
        "Records": [{
            "cos": {
                "cosSchemaVersion": "1.0",
                "cosObject": {
                    "url": format!("http://{}/{}", bucket.cos_host(), encode_path(&object.key)),
                    "meta": meta,
                    "vid": "",
                    "key": format!("/{}/{}/{}", bucket.appid, bucket.short_name, object.key),
                    "size": object.size,
                },
                "cosBucket": {
                    "region": region,
                    "name": bucket.short_name,
                    "appid": bucket.appid,
                },
                // Spelled as COS spells it.
                "cosNotificationId": "unkown",
            },
            "event": {
                "eventName": origin.created.event_name(),
                "eventVersion": "1.0",
                "eventTime": object.last_modified,
                "eventSource": "qcs::cos",
                "requestParameters": {
                    "requestSourceIP": origin.source_ip.to_string(),
                    "requestHeaders": { "Authorization": origin.authorization },
                },
                "eventQueue": format!(
                    "qcs:0:lambda:{region}:appid/{}:default.cos-local.$LATEST",
                    bucket.appid
                ),
                "reservedInfo": "",
                "reqid": fastrand::u32(..),
            },
        }],
    })
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`.
pub fn sign_event(secret: &Secret, timestamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail; a zero-length key is refused at
    // configuration time.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// One queued delivery, as stored on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    url: String,
    body: String,
    queued: u64,
}

/// Queues events and delivers them.
#[derive(Debug)]
pub struct Notifier {
    urls: Vec<String>,
    secret: Option<Secret>,
    dir: PathBuf,
    client: reqwest::Client,
    retry_max: Duration,
    in_flight: Semaphore,
}

impl Notifier {
    /// Prepares the queue directory and resumes every delivery left pending by an earlier
    /// run.
    ///
    /// # Errors
    ///
    /// The file-system error of creating or reading the queue directory.
    pub async fn start(config: &Config) -> io::Result<Arc<Self>> {
        let dir = config.data.join("events").join("pending");
        tokio::fs::create_dir_all(&dir).await?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // Receivers are local services; an HTTP_PROXY meant for other traffic must not
            // swallow their events.
            .no_proxy()
            .build()
            .map_err(io::Error::other)?;
        let notifier = Arc::new(Self {
            urls: config.notify.clone(),
            secret: config.notify_secret.clone(),
            dir,
            client,
            retry_max: config.notify_retry_max,
            in_flight: Semaphore::new(CONCURRENT_DELIVERIES),
        });
        notifier.resume().await?;
        Ok(notifier)
    }

    async fn resume(self: &Arc<Self>) -> io::Result<()> {
        let mut entries = tokio::fs::read_dir(&self.dir).await?;
        let mut resumed = 0usize;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(TEMP_PREFIX) {
                remove_if_exists(&path).await?;
                continue;
            }
            let pending = tokio::fs::read(&path)
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Pending>(&bytes).ok());
            match pending {
                Some(pending) => {
                    self.spawn(path, pending);
                    resumed += 1;
                }
                None => tracing::warn!(file = %name, "skipping an unreadable queued event"),
            }
        }
        if resumed > 0 {
            tracing::info!(count = resumed, "resuming queued event deliveries");
        }
        Ok(())
    }

    /// Queues an event for every notify URL; returns once each delivery is on disk.
    ///
    /// # Errors
    ///
    /// The file-system error of writing a delivery; deliveries written before it stand.
    pub async fn enqueue(self: &Arc<Self>, event: &Value) -> io::Result<()> {
        if self.urls.is_empty() {
            return Ok(());
        }
        let body = event.to_string();
        for url in &self.urls {
            let pending = Pending {
                url: url.clone(),
                body: body.clone(),
                queued: crate::now_secs(),
            };
            let path = self.dir.join(format!("{}.json", unique_name()));
            let bytes = serde_json::to_vec(&pending).map_err(io::Error::other)?;
            write_atomic(&path, &bytes).await?;
            self.spawn(path, pending);
        }
        Ok(())
    }

    fn spawn(self: &Arc<Self>, path: PathBuf, pending: Pending) {
        let notifier = Arc::clone(self);
        tokio::spawn(async move { notifier.deliver(&path, &pending).await });
    }

    async fn deliver(&self, path: &Path, pending: &Pending) {
        let Some(secret) = &self.secret else {
            tracing::warn!(
                url = %redact_query(&pending.url),
                "an event is queued but no notify secret is configured; it stays queued"
            );
            return;
        };
        let mut attempt: u32 = 0;
        loop {
            let outcome = {
                let _permit = self.in_flight.acquire().await;
                let timestamp = crate::now_secs();
                self.client
                    .post(&pending.url)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(TIMESTAMP_HEADER, timestamp.to_string())
                    .header(
                        SIGNATURE_HEADER,
                        sign_event(secret, timestamp, pending.body.as_bytes()),
                    )
                    .body(pending.body.clone())
                    .send()
                    .await
            };
            let failure = match outcome {
                Ok(response) if response.status().is_success() => {
                    if let Err(error) = remove_if_exists(path).await {
                        tracing::error!(cause = %error, "could not remove a delivered event");
                    }
                    tracing::info!(
                        url = %redact_query(&pending.url),
                        attempts = attempt + 1,
                        "event delivered"
                    );
                    return;
                }
                Ok(response) => format!("status {}", response.status()),
                Err(error) => error.to_string(),
            };
            let wait = self.backoff(attempt);
            tracing::warn!(
                url = %redact_query(&pending.url),
                reason = %failure,
                retry_in_ms = wait.as_millis() as u64,
                "event delivery failed"
            );
            tokio::time::sleep(wait).await;
            attempt = attempt.saturating_add(1);
        }
    }

    /// Exponential backoff with jitter: half the step fixed, half random, so receivers that
    /// come back are not hit by every queued event at the same instant.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = FIRST_BACKOFF
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.retry_max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// A URL without its query, for logs (a query may carry a token).
fn redact_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn bucket() -> Bucket {
        Bucket {
            name: "photos-1250000000".into(),
            short_name: "photos".into(),
            appid: "1250000000".into(),
            region: "ap-guangzhou".into(),
            allowed: Vec::new(),
            cors: Vec::new(),
        }
    }

    fn object() -> ObjectMeta {
        ObjectMeta {
            key: "uploads/u 42/photo.jpg".into(),
            size: 204800,
            etag: "abc".into(),
            crc64: "1".into(),
            last_modified: 1700000123,
            content_type: "image/jpeg".into(),
            headers: vec![
                ("x-cos-meta-uploader".into(), "42".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            data_file: "x".into(),
        }
    }

    #[test]
    fn the_event_has_the_shape_of_a_cos_trigger_event() {
        let origin = Origin {
            created: Created::Put,
            request_id: "req-1",
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            authorization: "q-sign-algorithm=sha1&q-ak=AKID",
        };

        let event = object_created_event(&bucket(), &object(), &origin);

        let record = &event["Records"][0];
        assert_eq!(
            record["cos"]["cosObject"]["key"],
            "/1250000000/photos/uploads/u 42/photo.jpg"
        );
        assert_eq!(
            record["cos"]["cosObject"]["url"],
            "http://photos-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/u%2042/photo.jpg"
        );
        assert_eq!(record["cos"]["cosObject"]["size"], 204800);
        assert_eq!(
            record["cos"]["cosObject"]["meta"]["Content-Type"],
            "image/jpeg"
        );
        assert_eq!(
            record["cos"]["cosObject"]["meta"]["x-cos-meta-uploader"],
            "42"
        );
        assert_eq!(
            record["cos"]["cosObject"]["meta"]["x-cos-request-id"],
            "req-1"
        );
        assert!(
            record["cos"]["cosObject"]["meta"]
                .get("cache-control")
                .is_none()
        );
        assert_eq!(record["cos"]["cosBucket"]["name"], "photos");
        assert_eq!(record["cos"]["cosBucket"]["region"], "gz");
        assert_eq!(record["event"]["eventName"], "cos:ObjectCreated:Put");
        assert_eq!(record["event"]["eventTime"], 1700000123);
        assert_eq!(
            record["event"]["requestParameters"]["requestHeaders"]["Authorization"],
            "q-sign-algorithm=sha1&q-ak=AKID"
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        let secret = Secret::new("Jefe");

        let signature = sign_event(&secret, 0, b"what do ya want for nothing?");

        // Python: hmac.new(b"Jefe", b"0.what do ya want for nothing?", "sha256").hexdigest()
        assert_eq!(
            signature,
            "37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let notifier = Notifier {
            urls: Vec::new(),
            secret: None,
            dir: PathBuf::new(),
            client: reqwest::Client::new(),
            retry_max: Duration::from_secs(2),
            in_flight: Semaphore::new(1),
        };

        let first = notifier.backoff(0);
        let late = notifier.backoff(30);

        assert!(first >= FIRST_BACKOFF / 2 && first <= FIRST_BACKOFF);
        assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
    }
}

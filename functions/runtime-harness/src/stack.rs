//! The environment a function under test starts with, the local services behind it (its
//! table in `moto_server`, a `cos-local` for its bucket), and the recorded events it is
//! handed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use cos_local::config::{Config, Options};
use cos_local::events::Notifier;
use cos_local::server::{App, serve};
use cos_local::store::Store;
use cos_sign::Secret;
use cosigner_api::{SIGNATURE_HEADER, TIMESTAMP_HEADER, mint_token, sign_event};
use cosigner_core::UserId;
use cosigner_table::DynamoFileTable;

/// The bucket the functions are configured with.
pub const BUCKET: &str = "examplebucket-1250000000";
/// Its region.
pub const REGION: &str = "ap-guangzhou";
/// The HS256 secret of the test environment.
pub const JWT_SECRET: &str = "harness-jwt-secret-0123456789abcdef0123456789";
/// The event-relay secret of the test environment.
pub const EVENT_SECRET: &str = "harness-event-secret-0123456789abcdef";
const CURSOR_SECRET: &str = "harness-cursor-secret-0123456789abcdef";
const COS_SECRET_ID: &str = "AKIDharnessharnessharnessharness";
const COS_SECRET_KEY: &str = "harness-cos-secret-key-0123456789";

/// A closed loopback port: anything the functions would send to COS fails at once, and
/// nothing leaves the machine.
const NOWHERE: &str = "http://127.0.0.1:9";

/// The settings of a function under test, and the local services behind them.
pub struct LocalStack {
    aws_endpoint: String,
    cos_endpoint: String,
    table: String,
    file_table: Option<DynamoFileTable>,
    cos: Option<CosLocal>,
}

impl LocalStack {
    /// A fresh table named after `function` in the shared `moto_server` (started on first
    /// use), a fresh `cos-local` serving the bucket with the test's key pair, and the
    /// environment that points at both.
    ///
    /// # Panics
    ///
    /// When moto cannot be started (the message says to run `make deps`), the table
    /// cannot be created, or `cos-local` cannot start.
    pub async fn start(function: &str) -> Self {
        let moto = tokio::task::spawn_blocking(cosigner_local_aws::shared)
            .await
            .unwrap_or_else(|e| panic!("starting moto_server panicked: {e}"))
            .unwrap_or_else(|e| panic!("moto_server is needed for this test: {e}"));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let table = format!("{function}-{nanos}");
        let file_table = cosigner_local_aws::create_file_table(&moto.sdk_config(), &table)
            .await
            .unwrap_or_else(|e| panic!("cannot create the table {table}: {e}"));
        let cos = CosLocal::start().await;
        Self {
            aws_endpoint: moto.endpoint().to_owned(),
            cos_endpoint: cos.url.clone(),
            table,
            file_table: Some(file_table),
            cos: Some(cos),
        }
    }

    /// Settings with no AWS service behind them, for a function that needs none (the
    /// authorizer): the AWS endpoint is a closed loopback port.
    pub fn without_aws() -> Self {
        Self {
            aws_endpoint: NOWHERE.to_owned(),
            cos_endpoint: NOWHERE.to_owned(),
            table: "unused".to_owned(),
            file_table: None,
            cos: None,
        }
    }

    /// The table the function uses, to set up or check what a test needs directly.
    ///
    /// # Panics
    ///
    /// For a stack made [`LocalStack::without_aws`].
    pub fn file_table(&self) -> &DynamoFileTable {
        self.file_table
            .as_ref()
            .unwrap_or_else(|| panic!("this stack has no table"))
    }

    /// The origin of the local COS (a closed port without one).
    pub fn cos_endpoint(&self) -> &str {
        &self.cos_endpoint
    }

    /// Stops the local COS, so that the functions' calls to it fail from now on.
    pub fn stop_cos(&mut self) {
        self.cos = None;
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// [`LocalStack::env`] with some variables set to other values.
    pub fn env_with(&self, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env();
        for (name, value) in overrides {
            env.retain(|(n, _)| n != name);
            env.push(((*name).to_owned(), (*value).to_owned()));
        }
        env
    }

    /// The whole environment of the function, Lambda's own variables aside.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", self.aws_endpoint.as_str()),
            ("RUST_LOG", "info"),
            ("COS_BUCKET", BUCKET),
            ("COS_REGION", REGION),
            ("COS_ENDPOINT", self.cos_endpoint.as_str()),
            ("COS_KEY_PREFIX", "uploads"),
            ("COS_CREDENTIALS", "env"),
            ("COS_SECRET_ID", COS_SECRET_ID),
            ("COS_SECRET_KEY", COS_SECRET_KEY),
            ("APP_SECRETS", "env"),
            ("AUTH_JWT_SECRET", JWT_SECRET),
            ("EVENT_SECRET", EVENT_SECRET),
            ("CURSOR_SECRET", CURSOR_SECRET),
            ("TABLE_NAME", self.table.as_str()),
            (
                "ALLOWED_CONTENT_TYPES",
                "image/*,application/pdf,text/plain",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

/// `cos-local` in this process, on a free loopback port, over a temporary directory;
/// stopped when dropped.
struct CosLocal {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    _data: TempDir,
}

impl CosLocal {
    async fn start() -> Self {
        let data = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let credential = format!("{COS_SECRET_ID}:{COS_SECRET_KEY}");
        let data_dir = data.path().display().to_string();
        let args = [
            "cos-local",
            "--data",
            &data_dir,
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--bucket",
            &format!("{BUCKET}:{REGION}"),
            "--credential",
            &credential,
        ];
        let options = Options::try_parse_from(args)
            .unwrap_or_else(|e| panic!("cos-local refused its options: {e}"));
        let config = Config::load(options).unwrap_or_else(|e| panic!("cos-local config: {e}"));
        let store = Store::open(&config.data, &config.buckets)
            .await
            .unwrap_or_else(|e| panic!("cos-local store: {e}"));
        let notifier = Notifier::start(&config)
            .await
            .unwrap_or_else(|e| panic!("cos-local events: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind a loopback port for cos-local: {e}"));
        let url = listener
            .local_addr()
            .map(|addr| format!("http://{addr}"))
            .unwrap_or_else(|e| panic!("cos-local socket has no address: {e}"));
        let app = Arc::new(App::new(config, store, notifier).await);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            stop: Some(stop),
            _data: data,
        }
    }
}

impl Drop for CosLocal {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends the bytes of an upload the way a terminal does: the method, URL and headers that
/// `issue-upload` answered, straight to the local COS. Returns COS's status.
///
/// # Panics
///
/// When the answer lacks the URL or the request cannot be sent.
pub async fn upload_as_terminal(issued: &Value, body: Vec<u8>) -> u16 {
    let url = issued["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no url in {issued}"));
    let mut request = reqwest::Client::new().put(url).body(body);
    if let Some(headers) = issued["headers"].as_object() {
        for (name, value) in headers {
            // The HTTP client sets the length from the body itself.
            if !name.eq_ignore_ascii_case("content-length") {
                request = request.header(name, value.as_str().unwrap_or_default());
            }
        }
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
    response.status().as_u16()
}

/// A recorded event from `shared/api/tests/fixtures/gateway`.
///
/// # Panics
///
/// When the fixture is missing or not JSON.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/api/tests/fixtures/gateway")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// An HTTP API event for `method` and `path` (query after a `?`), from the caller `user`
/// as the authorizer passes it (none for an anonymous call), with a JSON body if given:
/// the recorded `me.json` event with those parts changed.
pub fn gateway_event(method: &str, path: &str, user: Option<&str>, body: Option<&Value>) -> Value {
    let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
    let mut event = fixture("me.json");
    event["routeKey"] = json!(format!("{method} {raw_path}"));
    event["rawPath"] = json!(raw_path);
    event["rawQueryString"] = json!(raw_query);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    event["requestContext"]["routeKey"] = event["routeKey"].clone();
    match user {
        Some(user) => event["requestContext"]["authorizer"]["lambda"]["user_id"] = json!(user),
        None => {
            if let Some(context) = event["requestContext"].as_object_mut() {
                context.remove("authorizer");
            }
            if let Some(headers) = event["headers"].as_object_mut() {
                headers.remove("authorization");
            }
        }
    }
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
        event["headers"]["content-type"] = json!("application/json");
    }
    event
}

/// The JSON body of a gateway response document: `null` when empty, a string when it is
/// not JSON.
pub fn body_of(answer: &Value) -> Value {
    match answer["body"].as_str() {
        None | Some("") => Value::Null,
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
    }
}

/// The relay's signature headers for `body` at `now`, with the test's event secret.
pub fn signed_event_headers(body: &[u8], now: u64) -> Vec<(String, String)> {
    let signature = sign_event(&Secret::new(EVENT_SECRET), now, body);
    vec![
        (TIMESTAMP_HEADER.to_owned(), now.to_string()),
        (SIGNATURE_HEADER.to_owned(), signature),
    ]
}

/// `Bearer <token>` for `user`, minted with the test's JWT secret, valid for ten minutes
/// from `now`.
///
/// # Panics
///
/// When `user` is not a valid user id.
pub fn bearer_for(user: &str, now: u64) -> String {
    let user = UserId::new(user).unwrap_or_else(|e| panic!("{user:?}: {e}"));
    let token = mint_token(
        &Secret::new(JWT_SECRET),
        &user,
        Duration::from_secs(600),
        now,
    )
    .unwrap_or_else(|e| panic!("cannot mint a token: {e}"));
    format!("Bearer {token}")
}

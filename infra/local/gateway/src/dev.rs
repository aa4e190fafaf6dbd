//! `cosigner-local dev`: the whole stack on loopback, as one command.
//!
//! It starts the DynamoDB-protocol server (`moto_server`), creates the table and puts back
//! what the last run saved, starts `cos-local` with a bucket, a key pair and the event route
//! as its notification target, and starts `serve` with the same configuration the Lambda
//! functions read. Ctrl-C (or SIGTERM) saves the table and stops everything.
//!
//! Everything lives under the data folder (`.dev` by default): the generated secrets, the
//! bucket's objects and queued events, the table snapshot, and `cos-local`'s log.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use cos_sign::Secret;
use cosigner_api::cause_chain as chain;
use cosigner_core::{JwtConfig, UserId};
use cosigner_local_aws::MotoServer;

use crate::snapshot;

/// The development bucket, in COS's `<name>-<appid>` form.
pub const BUCKET: &str = "cosigner-1250000000";
/// The development bucket's region.
pub const REGION: &str = "ap-guangzhou";
/// The development table.
pub const TABLE: &str = "cosigner";
/// The user `dev` prints a token for.
pub const DEV_USER: &str = "dev";

/// Options of `dev`.
#[derive(Debug, clap::Args)]
pub struct DevOptions {
    /// Port of the API; 0 takes any free port.
    #[arg(long, default_value_t = 8080)]
    api_port: u16,
    /// Port of cos-local; 0 takes any free port.
    #[arg(long, default_value_t = 9000)]
    cos_port: u16,
    /// Where the stack keeps its data between runs.
    #[arg(long, default_value = ".dev")]
    data: PathBuf,
    /// Also write where everything is, as JSON, to this file once the stack is up.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Run the sweep of abandoned uploads every this many seconds.
    #[arg(long, default_value_t = 60)]
    sweep_every: u64,
}

/// The stack's generated secrets, kept in `<data>/secrets.json` (mode 0600) so tokens and
/// queued events stay valid across restarts.
pub struct DevSecrets {
    /// The COS key pair's id.
    pub cos_secret_id: String,
    /// The COS key pair's secret.
    pub cos_secret_key: Secret,
    /// Signs development tokens (HS256).
    pub jwt_secret: Secret,
    /// Signs COS events from cos-local to the event route.
    pub event_secret: Secret,
    /// Protects list cursors.
    pub cursor_secret: Secret,
}

#[derive(Serialize, Deserialize)]
struct SecretsFile {
    cos_secret_id: String,
    cos_secret_key: String,
    jwt_secret: String,
    event_secret: String,
    cursor_secret: String,
}

impl DevSecrets {
    fn file(data: &Path) -> PathBuf {
        data.join("secrets.json")
    }

    /// Reads the secrets of an existing stack.
    pub fn load(data: &Path) -> Result<Self, String> {
        let file = Self::file(data);
        let text = fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let parsed: SecretsFile = serde_json::from_slice(&text)
            .map_err(|_| format!("{} is malformed", file.display()))?;
        Ok(Self {
            cos_secret_id: parsed.cos_secret_id,
            cos_secret_key: Secret::new(parsed.cos_secret_key),
            jwt_secret: Secret::new(parsed.jwt_secret),
            event_secret: Secret::new(parsed.event_secret),
            cursor_secret: Secret::new(parsed.cursor_secret),
        })
    }

    fn load_or_create(data: &Path) -> Result<Self, String> {
        if Self::file(data).exists() {
            return Self::load(data);
        }
        let parsed = SecretsFile {
            cos_secret_id: format!("AKIDlocal{}", random_hex(12)?),
            cos_secret_key: random_hex(20)?,
            jwt_secret: random_hex(32)?,
            event_secret: random_hex(32)?,
            cursor_secret: random_hex(32)?,
        };
        let text = serde_json::to_vec_pretty(&parsed).map_err(|e| e.to_string())?;
        let file = Self::file(data);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .and_then(|mut f| f.write_all(&text))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        Self::load(data)
    }
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| format!("no randomness for the dev secrets: {e}"))?;
    Ok(hex::encode(buffer))
}

/// Where everything is, as printed and as written to `--ready-file`.
#[derive(Serialize)]
struct Ready {
    api_url: String,
    cos_endpoint: String,
    bucket: &'static str,
    region: &'static str,
    token: String,
    user: &'static str,
    data: PathBuf,
    table_endpoint: String,
}

/// Starts the stack and runs it until Ctrl-C or SIGTERM.
pub async fn run(options: DevOptions) -> Result<(), String> {
    fs::create_dir_all(&options.data)
        .map_err(|e| format!("cannot create {}: {e}", options.data.display()))?;
    let data = fs::canonicalize(&options.data).map_err(|e| e.to_string())?;
    let secrets = DevSecrets::load_or_create(&data)?;
    let api_port = pick_port(options.api_port)?;
    let cos_port = pick_port(options.cos_port)?;
    let bin_dir = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .map(Path::to_path_buf)
        .ok_or("cannot tell where the binaries are")?;

    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot start the table server: {}", chain(&e)))?;
    let sdk = moto.sdk_config();
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    cosigner_table::create_table(&client, TABLE)
        .await
        .map_err(|e| format!("cannot create the table: {}", chain(&e)))?;
    let snapshot_file = data.join("table.json");
    let restored = snapshot::restore(&client, TABLE, &snapshot_file).await?;

    let mut cos_local = start_cos_local(&bin_dir, &data, cos_port, api_port, &secrets).await?;
    let mut api = match start_api(
        &bin_dir,
        api_port,
        cos_port,
        moto.endpoint(),
        &secrets,
        options.sweep_every,
    )
    .await
    {
        Ok(api) => api,
        Err(err) => {
            let _ = cos_local.kill().await;
            return Err(err);
        }
    };

    let user = UserId::new(DEV_USER).map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let jwt = JwtConfig {
        issuer: None,
        audience: None,
        jwks_url: None,
        leeway_secs: 0,
    };
    let token = cosigner_api::mint_token_for(
        &jwt,
        &secrets.jwt_secret,
        &user,
        Duration::from_secs(7 * 86_400),
        now,
    )
    .map_err(|e| e.to_string())?;
    let ready = Ready {
        api_url: format!("http://127.0.0.1:{api_port}"),
        cos_endpoint: format!("http://127.0.0.1:{cos_port}"),
        bucket: BUCKET,
        region: REGION,
        token,
        user: DEV_USER,
        data: data.clone(),
        table_endpoint: moto.endpoint().to_owned(),
    };
    print_banner(&ready, restored);
    if let Some(file) = &options.ready_file {
        let text = serde_json::to_vec_pretty(&ready).map_err(|e| e.to_string())?;
        fs::write(file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }

    // Limitation: the table is saved only on the way out; a supervisor killed outright
    // (SIGKILL, a power cut) loses the table changes of that run, and leaves cos-local and
    // the API running until they are stopped by hand. Objects in cos-local are not lost.
    let reason = wait_for_stop(&mut cos_local, &mut api).await;
    println!("\nstopping ({reason})");
    match snapshot::save(&client, TABLE, &snapshot_file).await {
        Ok(count) => println!("saved {count} table items to {}", snapshot_file.display()),
        Err(err) => eprintln!("cosigner-local: {err}"),
    }
    let _ = api.kill().await;
    let _ = cos_local.kill().await;
    drop(moto);
    Ok(())
}

fn print_banner(ready: &Ready, restored: usize) {
    println!();
    println!("Cosigner is running on this machine.");
    println!();
    println!("  API           {}", ready.api_url);
    println!("  web terminal  {}/ (paste the token below)", ready.api_url);
    println!(
        "  COS endpoint  {} (bucket {}, region {})",
        ready.cos_endpoint, ready.bucket, ready.region
    );
    println!(
        "  table         {} ({restored} items restored)",
        ready.table_endpoint
    );
    println!("  data          {}", ready.data.display());
    println!();
    println!("  token for user {:?}:", ready.user);
    println!("  {}", ready.token);
    println!();
    println!("  more tokens:  target/debug/cosigner-local token --user NAME");
    println!(
        "  try:          curl -H \"Authorization: Bearer $TOKEN\" {}/v1/me",
        ready.api_url
    );
    println!();
    println!(
        "Ctrl-C stops everything; the data stays in {} (make dev-reset clears it).",
        ready.data.display()
    );
}

/// A free loopback port when 0 is asked for: the API and cos-local must each know the
/// other's port before either starts.
fn pick_port(port: u16) -> Result<u16, String> {
    if port != 0 {
        return Ok(port);
    }
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

async fn start_cos_local(
    bin_dir: &Path,
    data: &Path,
    port: u16,
    api_port: u16,
    secrets: &DevSecrets,
) -> Result<Child, String> {
    let binary = bin_dir.join("cos-local");
    if !binary.exists() {
        return Err(format!(
            "{} is missing: run `cargo build -p cos-local`",
            binary.display()
        ));
    }
    let ready_file = data.join("cos-local.ready");
    let _ = fs::remove_file(&ready_file);
    let log = fs::File::create(data.join("cos-local.log")).map_err(|e| e.to_string())?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(&binary);
    command
        .arg("--data")
        .arg(data.join("cos"))
        .args(["--port", &port.to_string()])
        .args(["--bucket", &format!("{BUCKET}:{REGION}")])
        .args([
            "--credential",
            &format!(
                "{}:{}",
                secrets.cos_secret_id,
                secrets.cos_secret_key.expose()
            ),
        ])
        .args([
            "--notify",
            &format!("http://127.0.0.1:{api_port}/v1/events/cos"),
        ])
        .args(["--cors-origin", "*"])
        .arg("--ready-file")
        .arg(&ready_file)
        .env("COS_LOCAL_NOTIFY_SECRET", secrets.event_secret.expose())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(true);
    // Its own process group: Ctrl-C reaches only this supervisor, which saves the table
    // before it stops the others.
    command.as_std_mut().process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start cos-local: {e}"))?;

    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready_file.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "cos-local exited ({status}); see {}",
                data.join("cos-local.log").display()
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill().await;
            return Err("cos-local did not start within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(child)
}

async fn start_api(
    bin_dir: &Path,
    port: u16,
    cos_port: u16,
    table_endpoint: &str,
    secrets: &DevSecrets,
    sweep_every: u64,
) -> Result<Child, String> {
    let binary = bin_dir.join("cosigner-local");
    let mut command = Command::new(&binary);
    command
        .args([
            "serve",
            "--port",
            &port.to_string(),
            "--sweep-every",
            &sweep_every.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // The stack's own settings, unless the caller's environment already says otherwise
    // (a test shortening UPLOAD_URL_TTL, say).
    let settings: [(&str, String); 19] = [
        ("COS_BUCKET", BUCKET.into()),
        ("COS_REGION", REGION.into()),
        ("COS_ENDPOINT", format!("http://127.0.0.1:{cos_port}")),
        ("COS_KEY_PREFIX", "uploads".into()),
        ("COS_CREDENTIALS", "env".into()),
        ("COS_SECRET_ID", secrets.cos_secret_id.clone()),
        ("COS_SECRET_KEY", secrets.cos_secret_key.expose().to_owned()),
        ("APP_SECRETS", "env".into()),
        ("AUTH_JWT_SECRET", secrets.jwt_secret.expose().to_owned()),
        ("EVENT_SECRET", secrets.event_secret.expose().to_owned()),
        ("CURSOR_SECRET", secrets.cursor_secret.expose().to_owned()),
        ("TABLE_NAME", TABLE.into()),
        ("AWS_ENDPOINT_URL", table_endpoint.into()),
        ("AWS_REGION", cosigner_local_aws::REGION.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("MULTIPART_THRESHOLD_BYTES", (16u64 << 20).to_string()),
        ("RUST_LOG", "info".into()),
    ];
    for (name, value) in settings {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    command.as_std_mut().process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the API: {e}"))?;

    let stdout = child
        .stdout
        .take()
        .ok_or("the API's output is not captured")?;
    let mut lines = BufReader::new(stdout).lines();
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("cosigner-local serving on ") {
                return true;
            }
            println!("{line}");
        }
        false
    })
    .await;
    if started != Ok(true) {
        let _ = child.kill().await;
        return Err("the API did not start; its log above says why".into());
    }
    // Keep forwarding what it prints.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("{line}");
        }
    });
    Ok(child)
}

async fn wait_for_stop(cos_local: &mut Child, api: &mut Child) -> String {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C".into(),
        () = terminate => "SIGTERM".into(),
        status = cos_local.wait() => format!("cos-local exited: {}", status.map_or_else(|e| e.to_string(), |s| s.to_string())),
        status = api.wait() => format!("the API exited: {}", status.map_or_else(|e| e.to_string(), |s| s.to_string())),
    }
}

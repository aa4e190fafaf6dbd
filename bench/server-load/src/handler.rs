//! Warm `POST /v1/uploads` through `dispatch`, next to the table calls it makes, against one
//! `moto_server` on loopback.
//!
//! Four operations take turns, one at a time, for the same number of rounds:
//!
//! - **handler**: the whole route through [`dispatch`], exactly as the gateway and the
//!   `issue-upload` function call it, with a real [`DynamoFileTable`] and JSON logs formatted
//!   (into a sink, so the terminal's speed does not count);
//! - **reserve**: [`FileTable::reserve`] with a record like the handler's, which issues the
//!   same single `TransactWriteItems` (the new file with its quota and pending-count
//!   conditions on the user): the baseline;
//! - **read**: [`FileTable::ensure_user`] for the existing user, the consistent `GetItem`
//!   that a multipart upload makes before it reserves, and a user's first upload after its
//!   reservation is refused for want of a profile; a warm single PUT skips it;
//! - **handler-cpu**: the same `dispatch` over a table that answers at once, which is the
//!   handler's own work: routing, JSON, checks, the id, signing, logging.
//!
//! moto's transactions copy the whole table (so that it can undo them), so their cost grows
//! with the table: 1,000 leftover uploads make one several times slower, and the baseline
//! would then be moto's copying rather than the request. Each upload is therefore deleted
//! again (untimed) right after it is measured, keeping the table at the user and at most
//! one file. The operations take turns, the order rotating every round, so any drift in
//! moto or the machine falls on all of them alike; moto serves one request at a time, so
//! the requests are sequential anyway.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cos_sign::{Credentials, Secret};
use cosigner_api::{ApiRequest, AppKeys, Caller, Deps, dispatch};
use cosigner_core::{
    Clock, Config, FileId, FileRecord, FileState, FileTable, ListPage, SafeName, SystemClock,
    TableError, Transition, UploadKind, UserId, UserRecord,
};
use cosigner_cos_client::{CosClient, CosSettings};
use cosigner_local_aws::MotoServer;
use cosigner_table::DynamoFileTable;

use crate::BenchError;
use crate::stats::{Samples, Summary, load_average, millis, ratio};

/// The table the measurement creates in its own moto.
const TABLE: &str = "bench-issue-upload";

/// The most the handler may add to the bare transaction, in percent.
const TARGET_ADDED_PERCENT: f64 = 20.0;

/// The declared upload: a small photo, signed as a single PUT.
const NAME: &str = "photo.jpg";
const SIZE: u64 = 64 * 1024;
const CONTENT_TYPE: &str = "image/jpeg";

/// How many rounds to run, and how many of them to leave out at the start.
#[derive(Debug, Clone, Copy)]
pub struct HandlerOptions {
    /// Rounds counted (each runs every operation once).
    pub rounds: usize,
    /// Rounds run first and not counted: connections, moto's caches, the allocator.
    pub warmup: usize,
}

/// One operation's latencies.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Its name in the table.
    pub name: &'static str,
    /// What it does.
    pub what: &'static str,
    /// Its latencies.
    pub summary: Summary,
}

/// What the measurement found.
#[derive(Debug, Clone)]
pub struct HandlerReport {
    /// The handler, the bare transaction (the baseline), the read, and the handler over a
    /// table that answers at once.
    pub operations: Vec<Operation>,
    /// The load average before and after.
    pub load: (String, String),
    /// How long it all took.
    pub elapsed: Duration,
}

/// The operations in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Handler,
    Reserve,
    Read,
    HandlerCpu,
}

const KINDS: [Kind; 4] = [Kind::Handler, Kind::Reserve, Kind::Read, Kind::HandlerCpu];

/// The routes' dependencies over the real table, and over one that answers at once.
struct Setups {
    real: Deps<DynamoFileTable, CosClient, SystemClock>,
    instant: Deps<InstantTable, CosClient, SystemClock>,
}

/// Starts moto, creates the table and the user, and runs the rounds.
///
/// # Errors
///
/// A [`BenchError`] when moto cannot start, the table cannot be made, or an operation does
/// not succeed (a refused upload would be timed as an error path, not as the route).
pub async fn measure(options: HandlerOptions) -> Result<HandlerReport, BenchError> {
    let load_before = load_average();
    let started = Instant::now();
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .map_err(|e| BenchError::Stack(format!("starting moto panicked: {e}")))??;
    let table = cosigner_local_aws::create_file_table(&moto.sdk_config(), TABLE).await?;
    let setups = Setups {
        real: deps(table)?,
        instant: deps(InstantTable)?,
    };
    let user = UserId::new("bench-user")?;
    let limits = &setups.real.config.limits;
    setups
        .real
        .table
        .ensure_user(&user, limits.default_quota_bytes, SystemClock.now())
        .await?;

    let mut samples: HashMap<&'static str, Samples> = HashMap::new();
    for round in 0..options.warmup + options.rounds {
        for offset in 0..KINDS.len() {
            let kind = KINDS[(round + offset) % KINDS.len()];
            let latency = run_once(&setups, &user, kind, round).await?;
            if round >= options.warmup {
                samples.entry(name(kind)).or_default().push(latency);
            }
        }
    }

    let mut operations = Vec::new();
    for kind in KINDS {
        let summary = samples
            .get(name(kind))
            .and_then(Samples::summary)
            .ok_or_else(|| BenchError::Stack("no rounds were counted".into()))?;
        operations.push(Operation {
            name: name(kind),
            what: what(kind),
            summary,
        });
    }
    drop(moto);
    Ok(HandlerReport {
        operations,
        load: (load_before, load_average()),
        elapsed: started.elapsed(),
    })
}

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Handler => "handler",
        Kind::Reserve => "reserve",
        Kind::Read => "read",
        Kind::HandlerCpu => "handler-cpu",
    }
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Handler => "`dispatch` of `POST /v1/uploads` (TransactWriteItems + signing)",
        Kind::Reserve => {
            "bare `TransactWriteItems` of the reservation (`DynamoFileTable::reserve`)"
        }
        Kind::Read => "bare consistent `GetItem` of the profile (`ensure_user`, warm)",
        Kind::HandlerCpu => "the same `dispatch` over a table that answers at once",
    }
}

/// The dependencies the `issue-upload` function builds, over `table`. The COS client points
/// at a closed loopback port: a single PUT is signed without calling COS.
fn deps<T: FileTable>(table: T) -> Result<Deps<T, CosClient, SystemClock>, BenchError> {
    let settings: HashMap<&str, &str> = HashMap::from([
        ("COS_BUCKET", "examplebucket-1250000000"),
        ("COS_REGION", "ap-guangzhou"),
        ("COS_ENDPOINT", "http://127.0.0.1:9"),
        ("COS_CREDENTIALS", "env"),
        ("TABLE_NAME", TABLE),
    ]);
    let config = Config::from_lookup(|name| settings.get(name).map(|v| (*v).to_owned()))?;
    let credentials = Credentials::new("AKIDbenchbenchbenchbench", "bench-cos-secret-key")?;
    let store = CosClient::new(&CosSettings::from_config(&config), credentials.clone())?;
    let keys = AppKeys::new(
        Secret::new("bench-event-secret-0123456789abcdef"),
        Secret::new("bench-cursor-secret-0123456789abcdef"),
    );
    Ok(Deps::new(
        config,
        table,
        store,
        SystemClock,
        credentials,
        keys,
    )?)
}

async fn run_once(
    setups: &Setups,
    user: &UserId,
    kind: Kind,
    round: usize,
) -> Result<Duration, BenchError> {
    let deps = &setups.real;
    match kind {
        Kind::Handler => {
            let (latency, id) = issue(deps, user, round).await?;
            deps.table.delete_file(user, id).await?;
            Ok(latency)
        }
        Kind::HandlerCpu => Ok(issue(&setups.instant, user, round).await?.0),
        Kind::Reserve => {
            // The record is built outside the timing, as the handler builds it before its
            // transaction: the baseline is the table call alone.
            let record = pending_record(deps, user)?;
            let max_pending = deps.config.limits.max_pending_uploads;
            let started = Instant::now();
            deps.table.reserve(&record, max_pending).await?;
            let latency = started.elapsed();
            deps.table.delete_file(user, record.id).await?;
            Ok(latency)
        }
        Kind::Read => {
            let quota = deps.config.limits.default_quota_bytes;
            let now = deps.clock.now();
            let started = Instant::now();
            deps.table.ensure_user(user, quota, now).await?;
            Ok(started.elapsed())
        }
    }
}

/// Times one `POST /v1/uploads` through `dispatch` and returns the new file's id; anything
/// but a 201 is an error.
async fn issue<T: FileTable>(
    deps: &Deps<T, CosClient, SystemClock>,
    user: &UserId,
    round: usize,
) -> Result<(Duration, FileId), BenchError> {
    let request = issue_request(round);
    let caller = Caller::User(user.clone());
    let started = Instant::now();
    let response = dispatch(deps, caller, request).await;
    let latency = started.elapsed();
    if response.status != 201 {
        return Err(BenchError::Unexpected {
            operation: "the handler",
            detail: format!(
                "status {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ),
        });
    }
    let id = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|body| body["file_id"].as_str().and_then(|id| id.parse().ok()))
        .ok_or_else(|| BenchError::Unexpected {
            operation: "the handler",
            detail: "its answer has no file_id".into(),
        })?;
    Ok((latency, id))
}

/// A table that answers at once: every user has an empty profile and every reservation
/// succeeds. Only what `POST /v1/uploads` calls is answered; nothing is stored, so it
/// measures the handler without the table.
struct InstantTable;

impl FileTable for InstantTable {
    async fn ensure_user(
        &self,
        user: &UserId,
        default_quota: u64,
        now: u64,
    ) -> Result<UserRecord, TableError> {
        Ok(UserRecord::new(user.clone(), default_quota, now))
    }

    async fn reserve(&self, _file: &FileRecord, _max_pending: u64) -> Result<(), TableError> {
        Ok(())
    }

    async fn get_file(
        &self,
        _user: &UserId,
        _file: FileId,
    ) -> Result<Option<FileRecord>, TableError> {
        Ok(None)
    }

    async fn mark_ready(
        &self,
        _seen: &FileRecord,
        _size: u64,
        _etag: &str,
    ) -> Result<Transition, TableError> {
        Err(TableError::NotFound)
    }

    async fn release(
        &self,
        _user: &UserId,
        _file: FileId,
        _to: FileState,
    ) -> Result<Transition, TableError> {
        Err(TableError::NotFound)
    }

    async fn delete_file(&self, _user: &UserId, _file: FileId) -> Result<Transition, TableError> {
        Err(TableError::NotFound)
    }

    async fn list_files(
        &self,
        _user: &UserId,
        _limit: u32,
        _after: Option<FileId>,
    ) -> Result<ListPage, TableError> {
        Err(TableError::NotFound)
    }

    async fn expired_pending(&self, _now: u64, _limit: u32) -> Result<Vec<FileRecord>, TableError> {
        Ok(Vec::new())
    }
}

/// The request the gateway hands `dispatch` for a terminal's upload.
fn issue_request(round: usize) -> ApiRequest {
    let body = serde_json::json!({ "name": NAME, "size": SIZE, "content_type": CONTENT_TYPE });
    ApiRequest {
        method: "POST".into(),
        path: "/v1/uploads".into(),
        query: Vec::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        request_id: format!("bench-{round:08}"),
    }
}

/// A pending PUT upload as the handler records it.
fn pending_record(
    deps: &Deps<DynamoFileTable, CosClient, SystemClock>,
    user: &UserId,
) -> Result<FileRecord, BenchError> {
    let now = deps.clock.now();
    let id = FileId::generate(deps.clock.now_millis());
    let name = SafeName::new(NAME).map_err(|e| BenchError::Unexpected {
        operation: "naming the file",
        detail: e.to_string(),
    })?;
    Ok(FileRecord {
        user: user.clone(),
        id,
        key: deps.config.keys.key(user, id, &name),
        name: NAME.to_owned(),
        size: SIZE,
        content_type: CONTENT_TYPE.to_owned(),
        content_md5: None,
        state: FileState::Pending,
        upload: UploadKind::Put,
        etag: None,
        created_at: now,
        expires_at: now + deps.config.limits.upload_url_ttl.as_secs(),
    })
}

/// Formats JSON log lines the way the functions do in Lambda, into a sink, so the handler's
/// one outcome line per request is paid for as in production (less the write itself).
pub fn log_like_lambda() {
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::sink);
    let _ = cosigner_api::lambda::json_lines(builder).try_init();
}

impl HandlerReport {
    /// The report as Markdown: one row per operation, with each p50 and p99 against the
    /// bare transaction's.
    pub fn markdown(&self) -> String {
        let baseline = self.operations.iter().find(|o| o.name == "reserve");
        let mut text = String::new();
        text.push_str(
            "| operation | n | p50 ms | p90 ms | p99 ms | mean ms | p50 / reserve | p99 / reserve |\n",
        );
        text.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for op in &self.operations {
            let s = &op.summary;
            let against = |value, base: fn(&Summary) -> Duration| {
                baseline
                    .and_then(|b| ratio(value, base(&b.summary)))
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}×"))
            };
            text.push_str(&format!(
                "| {} — {} | {} | {} | {} | {} | {} | {} | {} |\n",
                op.name,
                op.what,
                s.count,
                millis(s.p50),
                millis(s.p90),
                millis(s.p99),
                millis(s.mean),
                against(s.p50, |b| b.p50),
                against(s.p99, |b| b.p99),
            ));
        }
        let find = |name: &str| self.operations.iter().find(|o| o.name == name);
        if let (Some(handler), Some(reserve), Some(read), Some(cpu)) =
            (find("handler"), baseline, find("read"), find("handler-cpu"))
        {
            let added = |pick: fn(&Summary) -> Duration| {
                ratio(pick(&handler.summary), pick(&reserve.summary))
                    .map_or(f64::NAN, |r| (r - 1.0) * 100.0)
            };
            let (p50, p99) = (added(|s| s.p50), added(|s| s.p99));
            let verdict = if p50 <= TARGET_ADDED_PERCENT && p99 <= TARGET_ADDED_PERCENT {
                "met".to_owned()
            } else {
                format!(
                    "missed by {:.0} points at p50, {:.0} at p99",
                    (p50 - TARGET_ADDED_PERCENT).max(0.0),
                    (p99 - TARGET_ADDED_PERCENT).max(0.0)
                )
            };
            text.push_str(&format!(
                "\nHandler over the bare transaction: {p50:+.0}% at p50, {p99:+.0}% at p99 \
                 (target ≤ {TARGET_ADDED_PERCENT:.0}% added: {verdict}).\n"
            ));
            text.push_str(&format!(
                "\nAt p50 the handler adds {} ms to the bare transaction; its own work \
                 (handler-cpu) is {} ms, and a profile read, which a warm single PUT no \
                 longer makes, would add {} ms.\n",
                millis(handler.summary.p50.saturating_sub(reserve.summary.p50)),
                millis(cpu.summary.p50),
                millis(read.summary.p50),
            ));
        }
        text.push_str(&format!(
            "\nload average before {}, after {}; {:.1} s in all.\n",
            self.load.0,
            self.load.1,
            self.elapsed.as_secs_f64()
        ));
        text
    }
}

//! In-memory fakes of the table and the object store, a fixed clock, and helpers that drive
//! the handlers through `dispatch` the way the gateway does.
//!
//! The fakes keep the ports' contracts (conditional transitions, counters changed with the
//! file, idempotent deletes and aborts) so the handlers' logic is what is under test; the real
//! adapters are tested against moto and cos-local elsewhere.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use cos_sign::{Credentials, Secret};
use cosigner_api::{
    ApiRequest, ApiResponse, AppKeys, BoxFuture, Caller, CredentialRefresh, Deps, dispatch,
    sign_event,
};
use cosigner_core::{
    Clock, Config, FileId, FileRecord, FileState, FileTable, ListPage, ObjectInfo, ObjectStore,
    Part, SecretError, StoreError, TableError, Transition, UserId, UserRecord,
};

/// The fixed time of every test: 2023-11-14T22:13:20Z.
pub const NOW: u64 = 1_700_000_000;
pub const BUCKET: &str = "examplebucket-1250000000";
pub const EVENT_SECRET: &str = "event-secret-for-tests";
pub const CURSOR_SECRET: &str = "cursor-secret-for-tests";
pub const SECRET_ID: &str = "AKIDserverkey";
pub const SECRET_KEY: &str = "server-secret-key";

/// A clock that only moves when told.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    pub fn at(now: u64) -> Self {
        Self(AtomicU64::new(now))
    }

    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A failure to inject into the next calls of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Conflict,
    Throttled,
    Unavailable,
    InvalidCredentials,
    Rejected,
    NoSuchUpload,
}

impl Fault {
    fn table_error(self) -> TableError {
        match self {
            Self::Conflict => TableError::Conflict,
            Self::Throttled => TableError::Throttled,
            _ => TableError::Unavailable(Box::new(std::io::Error::other("connection refused"))),
        }
    }

    fn store_error(self) -> StoreError {
        match self {
            Self::InvalidCredentials => StoreError::InvalidCredentials {
                code: "InvalidAccessKeyId".into(),
            },
            Self::Rejected => StoreError::Rejected {
                status: 403,
                code: "AccessDenied".into(),
                message: "denied".into(),
            },
            Self::NoSuchUpload => StoreError::NoSuchUpload,
            _ => StoreError::Unavailable(Box::new(std::io::Error::other("connection reset"))),
        }
    }
}

/// Faults queued per operation name, each used once.
#[derive(Debug, Default)]
struct Faults(Mutex<HashMap<&'static str, Vec<Fault>>>);

impl Faults {
    fn push(&self, op: &'static str, fault: Fault, times: usize) {
        let mut map = self.0.lock().unwrap();
        let queue = map.entry(op).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    fn take(&self, op: &'static str) -> Option<Fault> {
        let mut map = self.0.lock().unwrap();
        let queue = map.get_mut(op)?;
        (!queue.is_empty()).then(|| queue.remove(0))
    }
}

#[derive(Debug, Default)]
struct TableState {
    users: HashMap<UserId, UserRecord>,
    files: BTreeMap<(UserId, FileId), FileRecord>,
}

/// The table, in memory, with the adapter's transition rules.
#[derive(Debug, Default)]
pub struct FakeTable {
    state: Mutex<TableState>,
    stale_expired: Mutex<Option<Vec<FileRecord>>>,
    faults: Faults,
    calls: AtomicU64,
}

impl FakeTable {
    /// Makes the next `times` calls of `op` (a method name) fail.
    pub fn fail(&self, op: &'static str, fault: Fault, times: usize) {
        self.faults.push(op, fault, times);
    }

    pub fn user(&self, user: &UserId) -> Option<UserRecord> {
        self.state.lock().unwrap().users.get(user).cloned()
    }

    pub fn file(&self, user: &UserId, id: FileId) -> Option<FileRecord> {
        self.state
            .lock()
            .unwrap()
            .files
            .get(&(user.clone(), id))
            .cloned()
    }

    pub fn files_of(&self, user: &UserId) -> Vec<FileRecord> {
        let state = self.state.lock().unwrap();
        state
            .files
            .values()
            .filter(|f| &f.user == user)
            .cloned()
            .collect()
    }

    pub fn set_quota(&self, user: &UserId, quota: u64) {
        let mut state = self.state.lock().unwrap();
        let profile = state
            .users
            .entry(user.clone())
            .or_insert_with(|| UserRecord::new(user.clone(), quota, NOW));
        profile.quota_bytes = quota;
    }

    /// Puts a record straight into the table, counting it as the adapter would.
    pub fn seed(&self, record: FileRecord) {
        let mut state = self.state.lock().unwrap();
        let profile = state
            .users
            .entry(record.user.clone())
            .or_insert_with(|| UserRecord::new(record.user.clone(), 1 << 30, NOW));
        match record.state {
            FileState::Pending => {
                profile.reserved_bytes += record.size;
                profile.pending_count += 1;
            }
            FileState::Ready => {
                profile.used_bytes += record.size;
                profile.file_count += 1;
            }
            _ => {}
        }
        state.files.insert((record.user.clone(), record.id), record);
    }

    /// Checks the user's counters against the files: every file counted exactly once.
    pub fn assert_counters_match(&self, user: &UserId) {
        let state = self.state.lock().unwrap();
        let profile = state.users.get(user).expect("a profile");
        let files: Vec<&FileRecord> = state.files.values().filter(|f| &f.user == user).collect();
        let of = |s: FileState| files.iter().filter(move |f| f.state == s);
        assert_eq!(
            profile.used_bytes,
            of(FileState::Ready).map(|f| f.size).sum::<u64>()
        );
        assert_eq!(profile.file_count, of(FileState::Ready).count() as u64);
        assert_eq!(
            profile.reserved_bytes,
            of(FileState::Pending).map(|f| f.size).sum::<u64>()
        );
        assert_eq!(profile.pending_count, of(FileState::Pending).count() as u64);
    }

    /// The next `expired_pending` answers these records as they were read earlier, to
    /// play out a record that moved on between a sweep's read and its write.
    pub fn serve_stale_expired(&self, records: Vec<FileRecord>) {
        *self.stale_expired.lock().unwrap() = Some(records);
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn enter(&self, op: &'static str) -> Result<(), TableError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.faults.take(op) {
            Some(fault) => Err(fault.table_error()),
            None => Ok(()),
        }
    }
}

impl FileTable for FakeTable {
    async fn ensure_user(
        &self,
        user: &UserId,
        default_quota: u64,
        now: u64,
    ) -> Result<UserRecord, TableError> {
        self.enter("ensure_user")?;
        let mut state = self.state.lock().unwrap();
        Ok(state
            .users
            .entry(user.clone())
            .or_insert_with(|| UserRecord::new(user.clone(), default_quota, now))
            .clone())
    }

    async fn reserve(&self, file: &FileRecord, max_pending: u64) -> Result<(), TableError> {
        self.enter("reserve")?;
        let mut state = self.state.lock().unwrap();
        let Some(profile) = state.users.get(&file.user) else {
            return Err(TableError::NotFound);
        };
        if profile.used_bytes + profile.reserved_bytes + file.size > profile.quota_bytes {
            let taken = profile.used_bytes + profile.reserved_bytes;
            return Err(TableError::QuotaExceeded {
                size: file.size,
                available: profile.quota_bytes.saturating_sub(taken),
            });
        }
        if profile.pending_count >= max_pending {
            return Err(TableError::TooManyPending);
        }
        if state.files.contains_key(&(file.user.clone(), file.id)) {
            return Err(TableError::Conflict);
        }
        let profile = state.users.get_mut(&file.user).expect("checked above");
        profile.reserved_bytes += file.size;
        profile.pending_count += 1;
        state
            .files
            .insert((file.user.clone(), file.id), file.clone());
        Ok(())
    }

    async fn get_file(
        &self,
        user: &UserId,
        file: FileId,
    ) -> Result<Option<FileRecord>, TableError> {
        self.enter("get_file")?;
        Ok(self.file(user, file))
    }

    async fn mark_ready(
        &self,
        seen: &FileRecord,
        size: u64,
        etag: &str,
    ) -> Result<Transition, TableError> {
        self.enter("mark_ready")?;
        let user = &seen.user;
        let mut state = self.state.lock().unwrap();
        let record = state
            .files
            .get_mut(&(user.clone(), seen.id))
            .ok_or(TableError::NotFound)?;
        match record.state {
            FileState::Ready => return Ok(Transition::AlreadyDone(record.clone())),
            FileState::Pending => {}
            other => return Err(TableError::WrongState(other)),
        }
        let declared = record.size;
        record.state = FileState::Ready;
        record.size = size;
        record.etag = Some(etag.to_owned());
        let ready = record.clone();
        let profile = state.users.get_mut(user).expect("a profile");
        profile.reserved_bytes -= declared;
        profile.pending_count -= 1;
        profile.used_bytes += size;
        profile.file_count += 1;
        Ok(Transition::Applied(ready))
    }

    async fn release(
        &self,
        user: &UserId,
        file: FileId,
        to: FileState,
    ) -> Result<Transition, TableError> {
        self.enter("release")?;
        let mut state = self.state.lock().unwrap();
        let record = state
            .files
            .get_mut(&(user.clone(), file))
            .ok_or(TableError::NotFound)?;
        if record.state == to {
            return Ok(Transition::AlreadyDone(record.clone()));
        }
        if record.state != FileState::Pending {
            return Err(TableError::WrongState(record.state));
        }
        record.state = to;
        let released = record.clone();
        let profile = state.users.get_mut(user).expect("a profile");
        profile.reserved_bytes -= released.size;
        profile.pending_count -= 1;
        Ok(Transition::Applied(released))
    }

    async fn delete_file(&self, user: &UserId, file: FileId) -> Result<Transition, TableError> {
        self.enter("delete_file")?;
        let mut state = self.state.lock().unwrap();
        let record = state
            .files
            .remove(&(user.clone(), file))
            .ok_or(TableError::NotFound)?;
        let profile = state.users.get_mut(user).expect("a profile");
        match record.state {
            FileState::Ready => {
                profile.used_bytes -= record.size;
                profile.file_count -= 1;
            }
            FileState::Pending => {
                profile.reserved_bytes -= record.size;
                profile.pending_count -= 1;
            }
            _ => {}
        }
        Ok(Transition::Applied(record))
    }

    async fn list_files(
        &self,
        user: &UserId,
        limit: u32,
        after: Option<FileId>,
    ) -> Result<ListPage, TableError> {
        self.enter("list_files")?;
        let state = self.state.lock().unwrap();
        let mut files: Vec<FileRecord> = state
            .files
            .values()
            .filter(|f| &f.user == user)
            .filter(|f| matches!(f.state, FileState::Pending | FileState::Ready))
            .filter(|f| after.is_none_or(|a| f.id < a))
            .cloned()
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.id));
        let more = files.len() > limit as usize;
        files.truncate(limit as usize);
        let next_after = if more {
            files.last().map(|f| f.id)
        } else {
            None
        };
        Ok(ListPage { files, next_after })
    }

    async fn expired_pending(&self, now: u64, limit: u32) -> Result<Vec<FileRecord>, TableError> {
        self.enter("expired_pending")?;
        if let Some(stale) = self.stale_expired.lock().unwrap().take() {
            return Ok(stale);
        }
        let state = self.state.lock().unwrap();
        let mut files: Vec<FileRecord> = state
            .files
            .values()
            .filter(|f| f.state == FileState::Pending && f.expires_at < now)
            .cloned()
            .collect();
        files.sort_by_key(|f| f.expires_at);
        files.truncate(limit as usize);
        Ok(files)
    }
}

/// An object in the fake store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub size: u64,
    pub etag: String,
    pub crc64: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Default)]
struct StoreState {
    objects: HashMap<String, StoredObject>,
    uploads: HashMap<String, (String, Vec<Part>)>,
    next_upload: u64,
    log: Vec<String>,
}

/// COS, in memory. It accepts the server's calls only while the installed credentials are
/// the ones it expects, to play out a key rotation.
#[derive(Debug)]
pub struct FakeStore {
    state: Mutex<StoreState>,
    faults: Faults,
    installed: Mutex<String>,
    accepted: Mutex<String>,
}

impl Default for FakeStore {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            faults: Faults::default(),
            installed: Mutex::new(SECRET_ID.into()),
            accepted: Mutex::new(SECRET_ID.into()),
        }
    }
}

impl FakeStore {
    pub fn fail(&self, op: &'static str, fault: Fault, times: usize) {
        self.faults.push(op, fault, times);
    }

    /// COS now only accepts this secret id (the old key was rotated away).
    pub fn rotate_to(&self, secret_id: &str) {
        *self.accepted.lock().unwrap() = secret_id.into();
    }

    pub fn install(&self, credentials: Credentials) {
        *self.installed.lock().unwrap() = credentials.secret_id().into();
    }

    /// A terminal's upload landing in COS.
    pub fn put_object(&self, key: &str, size: u64, etag: &str) {
        self.state.lock().unwrap().objects.insert(
            key.into(),
            StoredObject {
                size,
                etag: etag.into(),
                crc64: None,
                content_type: None,
            },
        );
    }

    pub fn put_object_with_crc(&self, key: &str, size: u64, etag: &str, crc64: &str) {
        self.put_object(key, size, etag);
        self.state
            .lock()
            .unwrap()
            .objects
            .get_mut(key)
            .unwrap()
            .crc64 = Some(crc64.into());
    }

    /// A terminal's part landing in COS.
    pub fn put_part(&self, upload_id: &str, number: u32, size: u64) {
        let mut state = self.state.lock().unwrap();
        let (_, parts) = state.uploads.get_mut(upload_id).expect("an upload");
        parts.retain(|p| p.number != number);
        parts.push(Part {
            number,
            etag: format!("part-{number}"),
            size,
        });
    }

    pub fn object(&self, key: &str) -> Option<StoredObject> {
        self.state.lock().unwrap().objects.get(key).cloned()
    }

    pub fn has_upload(&self, upload_id: &str) -> bool {
        self.state.lock().unwrap().uploads.contains_key(upload_id)
    }

    pub fn upload_count(&self) -> usize {
        self.state.lock().unwrap().uploads.len()
    }

    /// Every call the server made, as `op key`.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    fn enter(&self, op: &'static str, key: &str) -> Result<(), StoreError> {
        self.state.lock().unwrap().log.push(format!("{op} {key}"));
        if *self.installed.lock().unwrap() != *self.accepted.lock().unwrap() {
            return Err(StoreError::InvalidCredentials {
                code: "InvalidAccessKeyId".into(),
            });
        }
        match self.faults.take(op) {
            Some(fault) => Err(fault.store_error()),
            None => Ok(()),
        }
    }
}

impl ObjectStore for FakeStore {
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        self.enter("head", key)?;
        Ok(self.object(key).map(|o| ObjectInfo {
            size: o.size,
            etag: o.etag,
            crc64: o.crc64,
            content_type: o.content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.enter("delete", key)?;
        self.state.lock().unwrap().objects.remove(key);
        Ok(())
    }

    async fn initiate_multipart(
        &self,
        key: &str,
        _content_type: &str,
    ) -> Result<String, StoreError> {
        self.enter("initiate_multipart", key)?;
        let mut state = self.state.lock().unwrap();
        state.next_upload += 1;
        let id = format!("upload-{}", state.next_upload);
        state.uploads.insert(id.clone(), (key.into(), Vec::new()));
        Ok(id)
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<Part>, StoreError> {
        self.enter("list_parts", key)?;
        let state = self.state.lock().unwrap();
        match state.uploads.get(upload_id) {
            Some((k, parts)) if k == key => Ok(parts.clone()),
            _ => Err(StoreError::NoSuchUpload),
        }
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[Part],
    ) -> Result<ObjectInfo, StoreError> {
        self.enter("complete_multipart", key)?;
        let mut state = self.state.lock().unwrap();
        let Some((k, _)) = state.uploads.get(upload_id) else {
            return Err(StoreError::NoSuchUpload);
        };
        if k != key {
            return Err(StoreError::NoSuchUpload);
        }
        state.uploads.remove(upload_id);
        let size = parts.iter().map(|p| p.size).sum();
        let etag = format!("multi-{}", parts.len());
        state.objects.insert(
            key.into(),
            StoredObject {
                size,
                etag: etag.clone(),
                crc64: None,
                content_type: None,
            },
        );
        Ok(ObjectInfo {
            size,
            etag,
            crc64: None,
            content_type: None,
        })
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.enter("abort_multipart", key)?;
        self.state.lock().unwrap().uploads.remove(upload_id);
        Ok(())
    }
}

pub type TestDeps = Deps<FakeTable, FakeStore, FixedClock>;

/// A test's world: the handlers' dependencies over the fakes.
pub struct World {
    pub deps: TestDeps,
    /// The credentials the refresh hook hands out next.
    pub next_credentials: Arc<Mutex<Credentials>>,
}

/// A deployment's settings for tests; `extra` overrides or adds variables.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("COS_BUCKET", BUCKET),
        ("COS_REGION", "ap-guangzhou"),
        ("TABLE_NAME", "cosigner"),
        ("COS_CREDENTIALS", "env"),
        ("COS_KEY_PREFIX", "uploads"),
        ("MAX_UPLOAD_BYTES", "104857600"),
        ("DEFAULT_QUOTA_BYTES", "209715200"),
        ("MAX_PENDING_UPLOADS", "5"),
        ("MULTIPART_THRESHOLD_BYTES", "16777216"),
        ("MULTIPART_PART_BYTES", "8388608"),
        (
            "ALLOWED_CONTENT_TYPES",
            "image/*,video/*,application/pdf,text/plain",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("a valid test config")
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        Self::with_config(config(&[]))
    }

    pub fn with_config(config: Config) -> Self {
        let credentials = Credentials::new(SECRET_ID, SECRET_KEY).unwrap();
        let next_credentials = Arc::new(Mutex::new(credentials.clone()));
        let keys = AppKeys::new(Secret::new(EVENT_SECRET), Secret::new(CURSOR_SECRET));
        let fetch_from = Arc::clone(&next_credentials);
        let refresh = CredentialRefresh::new(
            move || -> BoxFuture<'static, Result<Credentials, SecretError>> {
                let credentials = fetch_from.lock().unwrap().clone();
                Box::pin(async move { Ok(credentials) })
            },
            |store: &FakeStore, credentials| store.install(credentials),
        );
        let deps = Deps::new(
            config,
            FakeTable::default(),
            FakeStore::default(),
            FixedClock::at(NOW),
            credentials,
            keys,
        )
        .unwrap()
        .with_credential_refresh(refresh);
        Self {
            deps,
            next_credentials,
        }
    }

    pub fn table(&self) -> &FakeTable {
        &self.deps.table
    }

    pub fn store(&self) -> &FakeStore {
        &self.deps.store
    }

    pub fn clock(&self) -> &FixedClock {
        &self.deps.clock
    }

    /// Sends a request as `user` (or anonymously with `None`).
    pub async fn call(&self, user: Option<&str>, method: &str, path: &str, body: &str) -> Reply {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, parse_query(q)),
            None => (path, Vec::new()),
        };
        let request = ApiRequest {
            method: method.into(),
            path: path.into(),
            query,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            request_id: "req-test".into(),
        };
        self.send(caller(user), request).await
    }

    pub async fn send(&self, caller: Caller, request: ApiRequest) -> Reply {
        Reply::of(dispatch(&self.deps, caller, request).await)
    }

    /// Issues an upload and returns the answer's JSON (asserting a 201).
    pub async fn issue(&self, user: &str, body: Value) -> Value {
        let reply = self
            .call(Some(user), "POST", "/v1/uploads", &body.to_string())
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json
    }

    /// Issues a PUT upload of `size` bytes named `name`; returns (file id, key).
    pub async fn issue_put(&self, user: &str, name: &str, size: u64) -> (String, String) {
        let issued = self
            .issue(
                user,
                json!({"name": name, "size": size, "content_type": "text/plain"}),
            )
            .await;
        let id = issued["file_id"].as_str().unwrap().to_owned();
        let record = self.record(user, &id);
        (id, record.key)
    }

    /// An uploaded, confirmed file; returns (file id, key).
    pub async fn ready_file(&self, user: &str, name: &str, size: u64) -> (String, String) {
        let (id, key) = self.issue_put(user, name, size).await;
        self.store().put_object(&key, size, "etag-1");
        let reply = self
            .call(
                Some(user),
                "POST",
                &format!("/v1/uploads/{id}/complete"),
                "",
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        (id, key)
    }

    pub fn record(&self, user: &str, id: &str) -> FileRecord {
        self.table()
            .file(&UserId::new(user).unwrap(), id.parse().unwrap())
            .expect("a record")
    }

    /// The relayed event route with a valid signature at the test time.
    pub async fn relay_event(&self, body: &str) -> Reply {
        let now = self.clock().now();
        let signature = sign_event(&Secret::new(EVENT_SECRET), now, body.as_bytes());
        let request = ApiRequest {
            method: "POST".into(),
            path: "/v1/events/cos".into(),
            headers: vec![
                ("x-cosigner-timestamp".into(), now.to_string()),
                ("x-cosigner-signature".into(), signature),
            ],
            body: body.as_bytes().to_vec(),
            request_id: "req-event".into(),
            ..ApiRequest::default()
        };
        self.send(Caller::Anonymous, request).await
    }
}

pub fn caller(user: Option<&str>) -> Caller {
    match user {
        Some(user) => Caller::User(UserId::new(user).unwrap()),
        None => Caller::Anonymous,
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (n.to_owned(), v.to_owned())
        })
        .collect()
}

/// A response with its body parsed when it is JSON.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn of(response: ApiResponse) -> Self {
        let text = String::from_utf8(response.body).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status: response.status,
            headers: response.headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the one error shape with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.json["error"]["code"], code, "{}", self.text);
        let message = self.json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "an error says what is wrong: {}",
            self.text
        );
        assert!(
            self.json["error"]["request_id"].is_string(),
            "{}",
            self.text
        );
        assert_eq!(
            self.json.as_object().map(|o| o.len()),
            Some(1),
            "nothing but the error: {}",
            self.text
        );
    }
}

/// A COS event (COS-SIGNING.md §4 shape) for one object key of the test bucket.
pub fn cos_event(key: &str, size: u64) -> Value {
    json!({
        "Records": [
            cos_record("cos:ObjectCreated:Put", "examplebucket", "1250000000", key, json!(size))
        ]
    })
}

pub fn cos_record(event_name: &str, bucket: &str, appid: &str, key: &str, size: Value) -> Value {
    json!({
        "cos": {
            "cosSchemaVersion": "1.0",
            "cosObject": {
                "url": format!("http://{bucket}-{appid}.cos.ap-guangzhou.myqcloud.com/{key}"),
                "meta": {
                    "x-cos-request-id": "NWMxOWY4MGFfMjViMjU4NjRfMTUyMV8yNzhhZjM=",
                    "Content-Type": "text/plain"
                },
                "vid": "",
                "key": format!("/{appid}/{bucket}/{key}"),
                "size": size
            },
            "cosBucket": {"region": "gz", "name": bucket, "appid": appid},
            "cosNotificationId": "unkown"
        },
        "event": {
            "eventName": event_name,
            "eventVersion": "1.0",
            "eventTime": 1700000123,
            "eventSource": "qcs::cos",
            "requestParameters": {
                "requestSourceIP": "203.0.113.7",
                "requestHeaders": {"Authorization": ""}
            },
            "eventQueue": "qcs:0:lambda:gz:appid/1250000000:default.onUpload.$LATEST",
            "reservedInfo": "",
            "reqid": 179398952
        }
    })
}

/// A fixture file under `tests/fixtures`.
pub fn fixture(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A recorded API Gateway HTTP API (payload 2.0) event, turned into the handlers' request by
/// the Lambda glue's own converter.
pub fn gateway_request(path: &str) -> (Caller, ApiRequest) {
    let event: Value = serde_json::from_str(&fixture(path)).unwrap();
    let request = cosigner_api::lambda::http_request_of(event).expect("an HTTP API event");
    cosigner_api::lambda::api_request(request)
}

/// The ids the recorded fixtures name.
pub const READY_ID: &str = "01HF7YAT00RQ4ZXT8W6M3D2KGA";
pub const PENDING_ID: &str = "01HF7YAT00RQ4ZXT8W6M3D2KGB";
pub const MULTI_ID: &str = "01HF7YAT00RQ4ZXT8W6M3D2KGC";
pub const ABORT_ID: &str = "01HF7YAT00RQ4ZXT8W6M3D2KGD";

/// A record as issue-upload would write it.
pub fn record(user: &str, id: &str, name: &str, size: u64, state: FileState) -> FileRecord {
    FileRecord {
        user: UserId::new(user).unwrap(),
        id: id.parse().unwrap(),
        key: format!("uploads/{user}/{id}/{}", name.replace(' ', "_")),
        name: name.into(),
        size,
        content_type: "image/jpeg".into(),
        content_md5: None,
        state,
        upload: cosigner_core::UploadKind::Put,
        etag: (state == FileState::Ready).then(|| "etag-ready".into()),
        created_at: NOW - 100,
        expires_at: NOW + 900,
    }
}

impl World {
    /// The records the recorded fixtures act on, all alice's: a ready file, a pending PUT
    /// (with its object not yet in COS), a pending multipart upload, and a pending upload to
    /// abort.
    pub async fn seed_fixture_records(&self) {
        let ready = record("alice", READY_ID, "Résumé 2023.pdf", 5000, FileState::Ready);
        self.store().put_object(&ready.key, 5000, "etag-ready");
        self.table().seed(ready);
        self.table().seed(record(
            "alice",
            PENDING_ID,
            "holiday photo.jpg",
            204800,
            FileState::Pending,
        ));
        let mut multi = record("alice", MULTI_ID, "video.mp4", 20 << 20, FileState::Pending);
        let upload_id = self
            .store()
            .initiate_multipart(&multi.key, "video/mp4")
            .await
            .unwrap();
        multi.upload = cosigner_core::UploadKind::Multipart {
            upload_id,
            part_size: 8 << 20,
        };
        self.table().seed(multi);
        self.table().seed(record(
            "alice",
            ABORT_ID,
            "draft.png",
            1000,
            FileState::Pending,
        ));
    }
}

pub const HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";

/// Splits a URL of the test bucket into its path and query.
pub fn path_and_query(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix(&format!("https://{HOST}"))
        .unwrap_or_else(|| panic!("a URL of the bucket: {url}"));
    match rest.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (rest.to_owned(), String::new()),
    }
}

/// Checks a signed request as COS would (with cos-sign's verifier): `headers` are what the
/// terminal sends besides `Host`.
pub fn cos_verifies(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    now: u64,
) -> Result<cos_sign::Verified, cos_sign::VerifyError> {
    let (path, query) = path_and_query(url);
    let mut sent: Vec<(&str, &[u8])> = vec![("Host", HOST.as_bytes())];
    sent.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    let request = cos_sign::ReceivedRequest {
        method,
        path: &path,
        query: &query,
        headers: &sent,
    };
    cos_sign::verify_request(&request, now, |id| {
        (id == SECRET_ID).then(|| Credentials::new(SECRET_ID, SECRET_KEY).unwrap())
    })
}

/// `headers` of an issue-upload answer as pairs.
pub fn header_pairs(headers: &Value) -> Vec<(String, String)> {
    headers
        .as_object()
        .expect("a headers object")
        .iter()
        .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

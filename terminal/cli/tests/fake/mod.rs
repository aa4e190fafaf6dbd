//! A small stand-in for the Cosigner API and the object store, on `127.0.0.1:0`: it answers
//! the routes the CLI calls with the server's JSON shapes, signs nothing for real (its
//! "signatures" are marker strings the tests look for in the CLI's output, which must never
//! show them), and takes the PUTs and GETs itself. Faults are switched on through
//! [`World`].

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use md5::{Digest as _, Md5};
use serde_json::{Value, json};

/// The marker every signed URL and signature header carries.
pub const SECRET: &str = "SECRET-SIG";
/// The token the fake accepts.
pub const TOKEN: &str = "tok-alice-0123456789";

/// One file record.
#[derive(Debug, Clone)]
pub struct FakeFile {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub state: String,
    pub method: String,
    pub etag: Option<String>,
    pub upload_id: Option<String>,
    pub created_at: u64,
}

/// One PUT the store received.
#[derive(Debug, Clone)]
pub struct SeenPut {
    pub file_id: String,
    pub part: Option<u32>,
    pub headers: Vec<(String, String)>,
    pub ok: bool,
}

/// Everything the fake holds, and its switches.
#[derive(Debug)]
pub struct World {
    base: String,
    pub quota: u64,
    pub part_size: u64,
    pub multipart_threshold: u64,
    pub files: BTreeMap<String, FakeFile>,
    pub objects: HashMap<String, Vec<u8>>,
    pub parts: HashMap<String, BTreeMap<u32, Vec<u8>>>,
    pub puts: Vec<SeenPut>,
    /// After this many stored parts, every part PUT fails with a 500.
    pub fail_parts_after: Option<usize>,
    /// Serve a wrong ETag for single-PUT files.
    pub corrupt_etag: bool,
    /// How long the store takes over each PUT.
    pub put_delay_ms: u64,
    next_id: u64,
    next_request: u64,
}

impl World {
    /// Part numbers the store accepted, in order.
    pub fn stored_parts(&self) -> Vec<u32> {
        self.puts
            .iter()
            .filter(|p| p.ok)
            .filter_map(|p| p.part)
            .collect()
    }

    /// The one file of that name.
    pub fn file_named(&self, name: &str) -> FakeFile {
        self.files
            .values()
            .find(|f| f.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no file named {name}"))
    }
}

/// A running fake.
pub struct Fake {
    pub url: String,
    pub world: Arc<Mutex<World>>,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    /// Starts a fake on a free loopback port.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let world = Arc::new(Mutex::new(World {
            base: url.clone(),
            quota: 10_000_000,
            part_size: 1000,
            multipart_threshold: 2000,
            files: BTreeMap::new(),
            objects: HashMap::new(),
            parts: HashMap::new(),
            puts: Vec::new(),
            fail_parts_after: None,
            corrupt_etag: false,
            put_delay_ms: 0,
            next_id: 0,
            next_request: 0,
        }));
        let shared = Arc::clone(&world);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let world = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let world = Arc::clone(&world);
                        async move { Ok::<_, Infallible>(handle(&world, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url,
            world,
            _runtime: runtime,
        }
    }

    /// Runs `f` on the world.
    pub fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.world.lock().unwrap())
    }
}

type Answer = Response<Full<Bytes>>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn json_answer(status: u16, body: &Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn error(world: &mut World, status: u16, code: &str, message: &str) -> Answer {
    world.next_request += 1;
    let id = format!("req-{:04}", world.next_request);
    json_answer(
        status,
        &json!({"error": {"code": code, "message": message, "request_id": id}}),
    )
}

fn xml_error(status: u16, code: &str) -> Answer {
    // Like COS, the body quotes what was signed; the CLI must show the code only.
    let body = format!("<Error><Code>{code}</Code><StringToSign>{SECRET}</StringToSign></Error>");
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn view(file: &FakeFile) -> Value {
    let mut v = json!({
        "file_id": file.id, "name": file.name, "size": file.size,
        "content_type": file.content_type, "state": file.state, "method": file.method,
        "created_at": file.created_at,
    });
    if let Some(etag) = &file.etag {
        v["etag"] = json!(etag);
    }
    if file.state == "pending" {
        if let Some(upload_id) = &file.upload_id {
            v["upload_id"] = json!(upload_id);
        }
        v["expires_at"] = json!(file.created_at + 86_400);
    }
    v
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

async fn handle(world: &Mutex<World>, req: Request<Incoming>) -> Answer {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let Ok(body) = body else {
        return xml_error(400, "IncompleteBody");
    };
    let delay = world.lock().unwrap().put_delay_ms;
    if method == Method::PUT && delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let mut world = world.lock().unwrap();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();

    if segments[0] == "store" {
        return store(
            &mut world,
            &method,
            segments.get(1).copied().unwrap_or(""),
            &query,
            &headers,
            &body,
        );
    }

    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return error(&mut world, 401, "unauthorized", "the token is not valid");
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    match (&method, segments.as_slice()) {
        (&Method::GET, ["v1", "me"]) => me(&world),
        (&Method::POST, ["v1", "uploads"]) => issue(&mut world, &body),
        (&Method::POST, ["v1", "uploads", id, "parts"]) => sign_parts(&mut world, id, &body),
        (&Method::POST, ["v1", "uploads", id, "complete"]) => complete(&mut world, id),
        (&Method::DELETE, ["v1", "uploads", id]) => abort(&mut world, id),
        (&Method::GET, ["v1", "files"]) => list(&world, &query),
        (&Method::GET, ["v1", "files", id]) => get_file(&mut world, id),
        (&Method::DELETE, ["v1", "files", id]) => delete_file(&mut world, id),
        _ => error(&mut world, 404, "no_such_route", "no such route"),
    }
}

fn totals(world: &World) -> (u64, u64) {
    let sum = |state: &str| {
        world
            .files
            .values()
            .filter(|f| f.state == state)
            .map(|f| f.size)
            .sum::<u64>()
    };
    (sum("ready"), sum("pending"))
}

fn me(world: &World) -> Answer {
    let (used, reserved) = totals(world);
    json_answer(
        200,
        &json!({
            "user_id": "alice", "quota_bytes": world.quota, "used_bytes": used,
            "reserved_bytes": reserved, "available_bytes": world.quota.saturating_sub(used + reserved),
            "file_count": world.files.values().filter(|f| f.state == "ready").count(),
            "pending_count": world.files.values().filter(|f| f.state == "pending").count(),
        }),
    )
}

fn issue(world: &mut World, body: &Value) -> Answer {
    let (Some(name), Some(size), Some(content_type)) = (
        body["name"].as_str(),
        body["size"].as_u64(),
        body["content_type"].as_str(),
    ) else {
        return error(
            world,
            400,
            "bad_request",
            "name, size and content_type are needed",
        );
    };
    if size == 0 {
        return error(world, 422, "invalid", "size: must be at least one byte");
    }
    let (used, reserved) = totals(world);
    let available = world.quota.saturating_sub(used + reserved);
    if size > available {
        let message = format!("the file does not fit: {available} bytes of your quota are free");
        return error(world, 413, "quota_exceeded", &message);
    }
    world.next_id += 1;
    let id = format!("01HXFAKE{:018}", world.next_id);
    let multipart = size >= world.multipart_threshold;
    let file = FakeFile {
        id: id.clone(),
        name: name.to_owned(),
        size,
        content_type: content_type.to_owned(),
        state: "pending".into(),
        method: if multipart { "multipart" } else { "put" }.into(),
        etag: None,
        upload_id: multipart.then(|| format!("up-{id}")),
        created_at: now(),
    };
    world.files.insert(id.clone(), file.clone());
    let mut answer = json!({
        "file_id": id, "name": name, "size": size, "content_type": content_type,
        "method": file.method, "url": format!("{}/store/{id}", world.base),
        "starts_at": now() - 60, "expires_at": now() + 900, "server_time": now(),
    });
    if multipart {
        world.parts.insert(format!("up-{id}"), BTreeMap::new());
        answer["upload_id"] = json!(format!("up-{id}"));
        answer["part_size"] = json!(world.part_size);
        answer["part_count"] = json!(size.div_ceil(world.part_size));
    } else {
        answer["url"] = json!(format!("{}/store/{id}?sig={SECRET}", world.base));
        answer["headers"] = json!({
            "Content-Length": size.to_string(), "Content-Type": content_type,
            "x-cos-forbid-overwrite": "true", "Authorization": format!("q-sign-{SECRET}-{id}"),
        });
    }
    json_answer(201, &answer)
}

fn part_len(file: &FakeFile, part_size: u64, number: u32) -> u64 {
    let count = file.size.div_ceil(part_size);
    if u64::from(number) < count {
        part_size
    } else {
        file.size - part_size * (count - 1)
    }
}

fn sign_parts(world: &mut World, id: &str, body: &Value) -> Answer {
    let Some(file) = world.files.get(id).cloned() else {
        return error(world, 404, "not_found", "no such file");
    };
    if file.state != "pending" || file.method != "multipart" {
        return error(
            world,
            409,
            "conflict",
            "the upload is not a pending multipart upload",
        );
    }
    let upload_id = file.upload_id.clone().unwrap_or_default();
    let numbers: Vec<u32> = body["part_numbers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_u64())
                .map(|n| n as u32)
                .collect()
        })
        .unwrap_or_default();
    if numbers.is_empty() || numbers.len() > 100 {
        return error(world, 422, "invalid", "part_numbers: 1 to 100 parts");
    }
    let parts: Vec<Value> = numbers
        .iter()
        .map(|&n| {
            json!({
                "part_number": n,
                "url": format!("{}/store/{id}?partNumber={n}&uploadId={upload_id}&sig={SECRET}", world.base),
                "headers": {"Content-Length": part_len(&file, world.part_size, n).to_string()},
            })
        })
        .collect();
    json_answer(
        200,
        &json!({
            "file_id": id, "upload_id": upload_id, "parts": parts,
            "starts_at": now() - 60, "expires_at": now() + 900, "server_time": now(),
        }),
    )
}

fn complete(world: &mut World, id: &str) -> Answer {
    let Some(file) = world.files.get(id).cloned() else {
        return error(world, 404, "not_found", "no such file");
    };
    if file.state == "ready" {
        return json_answer(200, &view(&file));
    }
    if file.state != "pending" {
        return error(
            world,
            409,
            "conflict",
            "the upload is aborted; start a new one",
        );
    }
    let etag = if file.method == "multipart" {
        let parts = world
            .parts
            .get(file.upload_id.as_deref().unwrap_or(""))
            .cloned()
            .unwrap_or_default();
        let count = file.size.div_ceil(world.part_size) as usize;
        if parts.len() != count {
            return error(
                world,
                409,
                "conflict",
                "the upload is not finished: parts are missing",
            );
        }
        let whole: Vec<u8> = parts.values().flatten().copied().collect();
        let etag = format!("\"{}-{count}\"", md5_hex(&whole));
        world.objects.insert(id.to_owned(), whole);
        etag
    } else {
        let Some(object) = world.objects.get(id) else {
            return error(
                world,
                409,
                "conflict",
                "the upload is not finished: COS does not have the object yet",
            );
        };
        if world.corrupt_etag {
            format!("\"{}\"", md5_hex(b"something else"))
        } else {
            format!("\"{}\"", md5_hex(object))
        }
    };
    let file = world.files.get_mut(id).unwrap();
    file.state = "ready".into();
    file.etag = Some(etag);
    let view = view(file);
    json_answer(200, &view)
}

fn abort(world: &mut World, id: &str) -> Answer {
    let Some(file) = world.files.get_mut(id) else {
        return error(world, 404, "not_found", "no such file");
    };
    if file.state == "ready" {
        return error(
            world,
            409,
            "conflict",
            "the upload is complete; delete the file instead",
        );
    }
    file.state = "aborted".into();
    let view = view(file);
    json_answer(200, &view)
}

fn list(world: &World, query: &str) -> Answer {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    };
    let limit: usize = param("limit").and_then(|v| v.parse().ok()).unwrap_or(20);
    let start: usize = param("cursor")
        .and_then(|c| c.strip_prefix("c").and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let newest_first: Vec<&FakeFile> = world.files.values().rev().collect();
    let page: Vec<Value> = newest_first
        .iter()
        .skip(start)
        .take(limit)
        .map(|f| view(f))
        .collect();
    let mut answer = json!({ "files": page });
    if start + limit < newest_first.len() {
        answer["next_cursor"] = json!(format!("c{}", start + limit));
    }
    json_answer(200, &answer)
}

fn get_file(world: &mut World, id: &str) -> Answer {
    let Some(file) = world.files.get(id).cloned() else {
        return error(world, 404, "not_found", "no such file");
    };
    let mut answer = view(&file);
    if file.state == "ready" {
        answer["url"] = json!(format!("{}/store/{id}?download=1&sig={SECRET}", world.base));
        answer["url_expires_at"] = json!(now() + 300);
    }
    answer["server_time"] = json!(now());
    json_answer(200, &answer)
}

fn delete_file(world: &mut World, id: &str) -> Answer {
    if world.files.remove(id).is_none() {
        return error(world, 404, "not_found", "no such file");
    }
    world.objects.remove(id);
    Response::builder()
        .status(204)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn store(
    world: &mut World,
    method: &Method,
    id: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Answer {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let part: Option<u32> = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("partNumber="))
        .and_then(|n| n.parse().ok());
    let Some(file) = world.files.get(id).cloned() else {
        return xml_error(404, "NoSuchKey");
    };
    if *method == Method::GET {
        if !query.contains(SECRET) {
            return xml_error(403, "AccessDenied");
        }
        return match world.objects.get(id) {
            Some(object) => Response::builder()
                .status(200)
                .header("etag", file.etag.clone().unwrap_or_default())
                .body(Full::new(Bytes::from(object.clone())))
                .unwrap(),
            None => xml_error(404, "NoSuchKey"),
        };
    }
    if *method != Method::PUT {
        return xml_error(405, "MethodNotAllowed");
    }

    let mut seen = SeenPut {
        file_id: id.to_owned(),
        part,
        headers: headers.to_vec(),
        ok: false,
    };
    // A signed length must arrive as such: chunked bodies are refused like COS does.
    let declared = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let answer = if header("transfer-encoding").is_some() || declared != Some(body.len() as u64) {
        xml_error(411, "MissingContentLength")
    } else if let Some(number) = part {
        let stored = world.stored_parts().len();
        if world.fail_parts_after.is_some_and(|after| stored >= after) {
            xml_error(500, "InternalError")
        } else if !query.contains(SECRET)
            || body.len() as u64 != part_len(&file, world.part_size, number)
        {
            xml_error(403, "SignatureDoesNotMatch")
        } else {
            let upload_id = file.upload_id.clone().unwrap_or_default();
            world
                .parts
                .entry(upload_id)
                .or_default()
                .insert(number, body.to_vec());
            seen.ok = true;
            ok_put(body)
        }
    } else if header("authorization") != Some(&format!("q-sign-{SECRET}-{id}"))
        || header("content-type") != Some(file.content_type.as_str())
        || header("x-cos-forbid-overwrite") != Some("true")
        || body.len() as u64 != file.size
    {
        xml_error(403, "SignatureDoesNotMatch")
    } else if world.objects.contains_key(id) {
        xml_error(409, "FileAlreadyExists")
    } else {
        world.objects.insert(id.to_owned(), body.to_vec());
        seen.ok = true;
        ok_put(body)
    };
    world.puts.push(seen);
    answer
}

fn ok_put(body: &[u8]) -> Answer {
    Response::builder()
        .status(200)
        .header("etag", format!("\"{}\"", md5_hex(body)))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

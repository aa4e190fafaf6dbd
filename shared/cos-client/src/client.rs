//! [`CosClient`]: signs each call with the server's key pair, sends it, and reads COS's
//! answer into the domain's terms.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};
use reqwest::header::{AUTHORIZATION, HOST, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use tracing::debug;

use cos_sign::{Credentials, KeyTime, RequestToSign};
use cosigner_core::{Clock, ObjectInfo, ObjectStore, Part, StoreError, SystemClock};

use crate::ClientError;
use crate::error::{Fault, malformed, unreachable, unsignable};
use crate::settings::{CosSettings, Route};
use crate::xml::{self, XmlError};

/// How far back a signature's window opens, so a COS clock a little behind ours accepts it.
const BACKDATE_SECS: u64 = 60;

/// The most bytes of an answer we read. COS's largest answer here, a page of 1000 parts, is
/// about 200 KB; anything far beyond is not COS.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// COS lists at most 1000 parts a page and allows 10 000 parts, so ten pages is the most a
/// real upload needs; the cap stops a store that never stops saying "truncated".
const MAX_PART_PAGES: usize = 20;

/// The server's own calls to one COS bucket.
///
/// Cheap to share: build it once per cold start and keep it. When COS refuses the key pair
/// ([`StoreError::InvalidCredentials`]), fetch the credentials again and hand them to
/// [`CosClient::set_credentials`]; calls already in flight finish with the old pair.
pub struct CosClient {
    http: reqwest::Client,
    route: Route,
    credentials: RwLock<Arc<Credentials>>,
    clock: Arc<dyn Clock>,
    signature_ttl: u64,
}

impl fmt::Debug for CosClient {
    /// Shows where requests go and which key signs them; never the secret half.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosClient")
            .field("origin", &self.route.origin)
            .field("host", &self.route.host)
            .field("prefix", &self.route.prefix)
            .field("secret_id", &self.secret_id())
            .field("signature_ttl", &self.signature_ttl)
            .finish_non_exhaustive()
    }
}

impl CosClient {
    /// A client for the bucket of `settings`, signing with `credentials` and the system
    /// clock.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidEndpoint`] for a bucket, region or endpoint that cannot make
    /// a COS address; [`ClientError::HttpClient`] when the HTTP client cannot be built.
    pub fn new(settings: &CosSettings, credentials: Credentials) -> Result<Self, ClientError> {
        let route = Route::new(settings)?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // A redirect would carry our Authorization to wherever it points; COS never
            // redirects these calls, so one is an error to report, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError::HttpClient)?;

        Ok(Self {
            http,
            route,
            credentials: RwLock::new(Arc::new(credentials)),
            clock: Arc::new(SystemClock),
            signature_ttl: settings.signature_ttl.as_secs().max(1),
        })
    }

    /// The same client reading the time from `clock` when it signs.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Signs every later call with `credentials`, after COS refused the old pair (a
    /// rotation).
    pub fn set_credentials(&self, credentials: Credentials) {
        // A poisoned lock only means a writer panicked mid-swap of an Arc, which cannot
        // leave it half-written; the value inside is whole.
        let mut current = self
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(credentials);
    }

    /// The public half of the key pair now in use, for logs.
    pub fn secret_id(&self) -> String {
        self.credentials().secret_id().to_owned()
    }

    /// The `Host` every request sends and signs.
    pub fn host(&self) -> &str {
        &self.route.host
    }

    fn credentials(&self) -> Arc<Credentials> {
        let current = self
            .credentials
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&current)
    }

    /// Signs and sends one call. A transport failure is [`StoreError::Unavailable`]; any
    /// answer, error statuses included, is returned for the caller to read.
    async fn send(&self, call: Call<'_>) -> Result<Response, StoreError> {
        let credentials = self.credentials();
        let window = KeyTime::around(self.clock.now(), BACKDATE_SECS, self.signature_ttl);

        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(content_type) = call.content_type {
            headers.push(("content-type", content_type.to_owned()));
        }
        // POST and PUT always say their length, an empty body included, so the signed
        // value is the one on the wire whatever the HTTP stack would add by itself.
        if call.body.is_some() || call.method == Method::POST || call.method == Method::PUT {
            let body = call.body.as_deref().unwrap_or_default();
            headers.push(("content-length", body.len().to_string()));
            if !body.is_empty() {
                headers.push(("content-md5", BASE64.encode(Md5::digest(body))));
            }
        }
        let mut to_sign =
            RequestToSign::new(call.method.as_str(), call.key).header("host", &self.route.host);
        for (name, value) in &call.params {
            to_sign = match value {
                Some(value) => to_sign.param(*name, value.as_str()),
                None => to_sign.flag(*name),
            };
        }
        for (name, value) in &headers {
            to_sign = to_sign.header(*name, value.as_str());
        }
        let signed = to_sign.sign(&credentials, window).map_err(unsignable)?;

        let mut header_map = HeaderMap::new();
        insert(&mut header_map, HOST.as_str(), &self.route.host, false)?;
        insert(
            &mut header_map,
            AUTHORIZATION.as_str(),
            &signed.authorization,
            true,
        )?;
        for (name, value) in &headers {
            insert(&mut header_map, name, value, false)?;
        }
        for (name, value) in &signed.headers_to_add {
            insert(&mut header_map, name, value, true)?;
        }
        let url = self.route.url(call.key, &call.params);
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .headers(header_map);
        if let Some(body) = call.body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(unreachable)?;

        debug!(
            op = call.op,
            status = response.status().as_u16(),
            request_id = request_id(&response).unwrap_or(""),
            "COS answered"
        );
        Ok(response)
    }
}

/// One call before it is signed.
struct Call<'a> {
    /// The COS operation, for the logs.
    op: &'static str,
    method: Method,
    key: &'a str,
    params: Vec<(&'static str, Option<String>)>,
    content_type: Option<&'a str>,
    body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    fn new(op: &'static str, method: Method, key: &'a str) -> Self {
        Self {
            op,
            method,
            key,
            params: Vec::new(),
            content_type: None,
            body: None,
        }
    }

    fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.params.push((name, Some(value.into())));
        self
    }

    fn flag(mut self, name: &'static str) -> Self {
        self.params.push((name, None));
        self
    }
}

/// Adds a header; a secret one is marked sensitive so no `Debug` of the request shows it.
fn insert(map: &mut HeaderMap, name: &str, value: &str, secret: bool) -> Result<(), StoreError> {
    // cos-sign already refused names and values HTTP cannot carry; this only fails for a
    // non-ASCII value, which cos-sign allows and `http` does not.
    let refused = || StoreError::Rejected {
        status: 400,
        code: "InvalidRequest".to_owned(),
        message: format!("the {name} header cannot be sent, so the request was not sent"),
    };
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| refused())?;
    let mut value = HeaderValue::from_str(value).map_err(|_| refused())?;
    value.set_sensitive(secret);
    map.insert(name, value);
    Ok(())
}

fn request_id(response: &Response) -> Option<&str> {
    response
        .headers()
        .get("x-cos-request-id")
        .and_then(|v| v.to_str().ok())
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Reads an answer's body, at most [`MAX_ANSWER_BYTES`] of it.
async fn read_text(mut response: Response) -> Result<String, StoreError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(malformed(format!(
                "the answer is longer than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| malformed("the answer is not UTF-8"))
}

/// Reads an error answer into a [`Fault`]. A body that cannot be read or parsed still
/// leaves the status to go by.
async fn fault(response: Response) -> Fault {
    let status = response.status().as_u16();
    let header_id = request_id(&response).map(str::to_owned);
    let text = read_text(response).await.unwrap_or_default();
    fault_from(status, header_id, &text)
}

fn fault_from(status: u16, header_id: Option<String>, text: &str) -> Fault {
    let body = xml::parse_error(text);
    Fault {
        status,
        code: body
            .code
            .unwrap_or_else(|| Fault::code_for_status(status).to_owned()),
        message: body.message.unwrap_or_default(),
        request_id: body.request_id.or(header_id).unwrap_or_default(),
    }
}

/// Reads a successful answer's XML with `parse`.
///
/// Trap: COS may answer 200 and report a failure in the body (a complete that fails after
/// the status went out), so the root element is checked before the result is trusted.
async fn read_result<T>(
    response: Response,
    parse: fn(&str) -> Result<T, XmlError>,
) -> Result<T, StoreError> {
    if !response.status().is_success() {
        return Err(fault(response).await.into_store_error());
    }
    let status = response.status().as_u16();
    let header_id = request_id(&response).map(str::to_owned);
    let text = read_text(response).await?;
    if xml::root_name(&text).is_ok_and(|root| root == "Error") {
        return Err(fault_from(status, header_id, &text).into_store_error());
    }
    parse(&text).map_err(|XmlError(why)| malformed(why))
}

/// The object's description from a HEAD answer's headers.
fn object_info(headers: &HeaderMap) -> Result<ObjectInfo, StoreError> {
    // Trap: the body of a HEAD answer is empty, so its length must come from the header,
    // not from the HTTP client's idea of the body's size.
    let size = header_text(headers, "content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed("a HEAD answer without a Content-Length"))?;
    let etag = header_text(headers, "etag")
        .map(|v| xml::unquote(&v).to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| malformed("a HEAD answer without an ETag"))?;
    Ok(ObjectInfo {
        size,
        etag,
        crc64: header_text(headers, "x-cos-hash-crc64ecma"),
        content_type: header_text(headers, "content-type"),
    })
}

impl ObjectStore for CosClient {
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let response = self
            .send(Call::new("HeadObject", Method::HEAD, key))
            .await?;

        // Limitation: a HEAD answer has no body, so a 404 for a missing bucket looks like
        // one for a missing object and reads as `None`.
        match response.status() {
            status if status.is_success() => object_info(response.headers()).map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(fault(response).await.into_store_error()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let response = self
            .send(Call::new("DeleteObject", Method::DELETE, key))
            .await?;

        if response.status().is_success() {
            return Ok(());
        }
        // COS answers 204 for a missing object too; a store that says NoSuchKey instead
        // means the same thing.
        let fault = fault(response).await;
        if fault.code == "NoSuchKey" {
            return Ok(());
        }
        Err(fault.into_store_error())
    }

    async fn initiate_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<String, StoreError> {
        let mut call = Call::new("InitiateMultipartUpload", Method::POST, key).flag("uploads");
        call.content_type = Some(content_type);

        let response = self.send(call).await?;

        read_result(response, xml::parse_initiate).await
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<Part>, StoreError> {
        let mut parts = Vec::new();
        let mut marker: Option<u32> = None;
        for _ in 0..MAX_PART_PAGES {
            let mut call = Call::new("ListParts", Method::GET, key)
                .param("uploadId", upload_id)
                .param("max-parts", "1000");
            if let Some(marker) = marker {
                call = call.param("part-number-marker", marker.to_string());
            }

            let response = self.send(call).await?;
            let page = read_result(response, xml::parse_parts_page).await?;

            parts.extend(page.parts);
            match page.next_marker {
                None => {
                    parts.sort_by_key(|p: &Part| p.number);
                    return Ok(parts);
                }
                Some(next) if marker.is_some_and(|m| next <= m) => {
                    return Err(malformed(format!(
                        "the part listing went back from marker {marker:?} to {next}"
                    )));
                }
                Some(next) => marker = Some(next),
            }
        }
        Err(malformed(format!(
            "the part listing ran past {MAX_PART_PAGES} pages"
        )))
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[Part],
    ) -> Result<ObjectInfo, StoreError> {
        let mut call =
            Call::new("CompleteMultipartUpload", Method::POST, key).param("uploadId", upload_id);
        call.content_type = Some("application/xml");
        call.body = Some(xml::complete_body(parts).into_bytes());

        let response = self.send(call).await?;
        let crc64 = header_text(response.headers(), "x-cos-hash-crc64ecma");
        let etag = read_result(response, xml::parse_complete).await?;

        // Limitation: the complete answer carries neither the size nor the content type;
        // the size is the sum of the parts completed, and the type is left unknown. A HEAD
        // would tell both for one more round trip.
        Ok(ObjectInfo {
            size: parts.iter().map(|p| p.size).sum(),
            etag,
            crc64,
            content_type: None,
        })
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let call =
            Call::new("AbortMultipartUpload", Method::DELETE, key).param("uploadId", upload_id);

        let response = self.send(call).await?;

        if response.status().is_success() {
            return Ok(());
        }
        match fault(response).await.into_store_error() {
            StoreError::NoSuchUpload => Ok(()),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_head_answer_gives_size_unquoted_etag_crc_and_type() {
        let map = headers(&[
            ("content-length", "1048576"),
            ("etag", "\"0cc175b9c0f1b6a831c399e269772661\""),
            ("x-cos-hash-crc64ecma", "4471093215843620354"),
            ("content-type", "image/png"),
        ]);

        let info = object_info(&map).unwrap();

        assert_eq!(
            info,
            ObjectInfo {
                size: 1048576,
                etag: "0cc175b9c0f1b6a831c399e269772661".into(),
                crc64: Some("4471093215843620354".into()),
                content_type: Some("image/png".into()),
            }
        );
    }

    #[test]
    fn a_head_answer_without_length_or_etag_is_malformed() {
        let no_length = headers(&[("etag", "\"a\"")]);
        let no_etag = headers(&[("content-length", "1")]);

        assert!(matches!(
            object_info(&no_length),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            object_info(&no_etag),
            Err(StoreError::Unavailable(_))
        ));
    }

    #[test]
    fn an_error_body_wins_over_the_status_and_header() {
        let text = "<Error><Code>NoSuchUpload</Code><Message>gone</Message>\
                    <RequestId>body-id</RequestId></Error>";

        let fault = fault_from(404, Some("header-id".into()), text);

        assert_eq!(fault.code, "NoSuchUpload");
        assert_eq!(fault.message, "gone");
        assert_eq!(fault.request_id, "body-id");
    }

    #[test]
    fn a_bodiless_error_takes_its_code_from_the_status() {
        let fault = fault_from(403, Some("header-id".into()), "");

        assert_eq!(fault.code, "AccessDenied");
        assert_eq!(fault.request_id, "header-id");
        assert!(matches!(
            fault.into_store_error(),
            StoreError::InvalidCredentials { .. }
        ));
    }

    #[test]
    fn debug_of_a_client_shows_the_key_id_and_never_the_secret() {
        let creds = Credentials::new("AKIDpublic", "very-secret-key")
            .and_then(|c| c.with_session_token("session-token-value"))
            .unwrap();
        let client =
            CosClient::new(&CosSettings::new("files-1250000000", "ap-guangzhou"), creds).unwrap();

        let debug = format!("{client:?}");

        assert!(debug.contains("AKIDpublic"), "{debug}");
        assert!(debug.contains("files-1250000000.cos.ap-guangzhou.myqcloud.com"));
        assert!(!debug.contains("very-secret-key"));
        assert!(!debug.contains("session-token-value"));
    }

    #[test]
    fn set_credentials_swaps_the_pair_used_for_later_calls() {
        let old = Credentials::new("AKIDold", "k1").unwrap();
        let new = Credentials::new("AKIDnew", "k2").unwrap();
        let client =
            CosClient::new(&CosSettings::new("files-1250000000", "ap-guangzhou"), old).unwrap();

        client.set_credentials(new);

        assert_eq!(client.secret_id(), "AKIDnew");
    }
}

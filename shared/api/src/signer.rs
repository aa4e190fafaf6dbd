//! The URLs, headers and forms the server hands to terminals, signed with the server's COS
//! credentials for one key, one method, the declared size and type, and a short window.
//!
//! The credentials sit behind a lock so a rotation can swap them while requests run; the lock
//! is only held to clone an `Arc`, never across a signature or an await.

use std::sync::{Arc, PoisonError, RwLock};

use cos_sign::{Credentials, Endpoint, KeyTime, PostPolicy, RequestToSign, SignError};
use cosigner_core::Config;

/// The header that keeps a signed PUT from replacing an existing object.
pub(crate) const FORBID_OVERWRITE: &str = "x-cos-forbid-overwrite";

/// A PUT the terminal sends: to `url`, with exactly `headers` (plus `Host`, which its HTTP
/// client adds and the signature binds).
#[derive(Debug, Clone)]
pub(crate) struct SignedPut {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
}

/// A browser form: posted to `url` with `fields` in order, the file last.
#[derive(Debug, Clone)]
pub(crate) struct SignedPost {
    pub(crate) url: String,
    pub(crate) fields: Vec<(String, String)>,
}

/// Signs what terminals send to COS.
pub(crate) struct UrlSigner {
    endpoint: Endpoint,
    bucket: String,
    credentials: RwLock<Arc<Credentials>>,
}

impl UrlSigner {
    /// A signer for the configured bucket: its COS domain, or `COS_ENDPOINT` when set.
    pub(crate) fn from_config(
        config: &Config,
        credentials: Credentials,
    ) -> Result<Self, SignError> {
        let endpoint = match &config.endpoint {
            Some(origin) => Endpoint::custom(origin)?,
            None => Endpoint::cos(&config.bucket, &config.region)?,
        };
        Ok(Self {
            endpoint,
            bucket: config.bucket.clone(),
            credentials: RwLock::new(Arc::new(credentials)),
        })
    }

    /// Installs rotated credentials; signatures made from now on use them.
    pub(crate) fn set_credentials(&self, credentials: Credentials) {
        // A poisoned lock only means a writer panicked between two plain assignments; the
        // value inside is still a whole `Arc`.
        let mut slot = self
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Arc::new(credentials);
    }

    fn credentials(&self) -> Arc<Credentials> {
        let slot = self
            .credentials
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&slot)
    }

    /// The URL of an object, without a signature.
    pub(crate) fn object_url(&self, key: &str) -> String {
        self.endpoint.object_url(key)
    }

    /// A PUT binding host, length, type, MD5 when declared, and no overwriting.
    pub(crate) fn sign_put(
        &self,
        key: &str,
        size: u64,
        content_type: &str,
        content_md5: Option<&str>,
        window: KeyTime,
    ) -> Result<SignedPut, SignError> {
        let mut headers = vec![
            ("Content-Length".to_owned(), size.to_string()),
            ("Content-Type".to_owned(), content_type.to_owned()),
        ];
        if let Some(md5) = content_md5 {
            headers.push(("Content-MD5".to_owned(), md5.to_owned()));
        }
        headers.push((FORBID_OVERWRITE.to_owned(), "true".to_owned()));

        let mut request = RequestToSign::new("PUT", key).header("Host", self.endpoint.host());
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut names: Vec<&str> = vec!["host"];
        names.extend(headers.iter().map(|(n, _)| n.as_str()));
        let signed = request
            .sign_headers(names)
            .sign(&self.credentials(), window)?;

        headers.push(("Authorization".to_owned(), signed.authorization));
        headers.extend(signed.headers_to_add);
        Ok(SignedPut {
            url: self.endpoint.object_url(key),
            headers,
        })
    }

    /// A POST form whose policy pins the key, the exact size, the type, the bucket and the
    /// expiry.
    pub(crate) fn sign_post(
        &self,
        key: &str,
        size: u64,
        content_type: &str,
        window: KeyTime,
    ) -> Result<SignedPost, SignError> {
        let form = PostPolicy::new(window.end())
            .equals("bucket", self.bucket.as_str())
            .equals("key", key)
            .equals("Content-Type", content_type)
            .content_length_range(size, size)
            .sign(&self.credentials(), window)?;

        Ok(SignedPost {
            url: format!("{}/", self.endpoint.origin()),
            fields: form.fields,
        })
    }

    /// A presigned PUT of one part of a multipart upload, bound to the part's length.
    pub(crate) fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        size: u64,
        window: KeyTime,
    ) -> Result<String, SignError> {
        RequestToSign::new("PUT", key)
            .param("partNumber", part_number.to_string())
            .param("uploadId", upload_id)
            .header("Content-Length", size.to_string())
            .presign(&self.endpoint, true, &self.credentials(), window)
    }

    /// A presigned GET that makes the browser save the object under `disposition`.
    pub(crate) fn presign_get(
        &self,
        key: &str,
        disposition: &str,
        window: KeyTime,
    ) -> Result<String, SignError> {
        RequestToSign::new("GET", key)
            .param("response-content-disposition", disposition)
            .presign(&self.endpoint, true, &self.credentials(), window)
    }
}

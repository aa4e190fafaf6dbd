//! Which bucket and object a request addresses.
//!
//! The SDKs reach a bucket four ways, and all four arrive here:
//!
//! - virtual-host: `Host: <bucket>.cos.<region>.myqcloud.com`, with or without a port (the
//!   Python SDK's `IP`/`Port` options send it so); any host whose first label is a
//!   configured bucket works the same (`<bucket>.localhost:9000`);
//! - a bare host (`127.0.0.1:9000`, a custom domain: the SDKs' `Domain` option) goes to the
//!   default bucket;
//! - path-style, `/<bucket>/<key>` on a bare host, when the first segment names a
//!   configured bucket; the signature then covers `/<key>`;
//! - absolute-form request targets (`GET http://<host>/<key> HTTP/1.1`, what an HTTP proxy
//!   receives: coscmd through `HTTP_PROXY`), whose authority wins over the `Host` header.

use std::sync::Arc;

use http::{HeaderMap, StatusCode, Uri, header};
use percent_encoding::percent_decode_str;

use crate::config::{Bucket, Config};
use crate::error::CosError;

/// COS's longest object key, in bytes.
pub const MAX_KEY_BYTES: usize = 850;

/// The bucket and object a request is for.
#[derive(Debug, Clone)]
pub struct Target {
    /// The bucket.
    pub bucket: Arc<Bucket>,
    /// The path the signature covers: as on the request line (percent-encoded), from the
    /// `/` that starts the key.
    pub signed_path: String,
    /// The object key, decoded; empty for the bucket itself.
    pub key: String,
}

impl Target {
    /// `<bucket host>/<key>`, the Resource of an error.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.bucket.cos_host(), self.key)
    }
}

/// Finds the bucket and key of a request.
///
/// # Errors
///
/// NoSuchBucket for a COS host naming a bucket that is not served (or in another region),
/// InvalidURI for a path that is not a percent-encoded UTF-8 path, KeyTooLong past 850
/// bytes.
pub fn resolve(config: &Config, uri: &Uri, headers: &HeaderMap) -> Result<Target, CosError> {
    let host = match uri.authority() {
        Some(authority) => authority.host().to_ascii_lowercase(),
        None => headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(|h| strip_port(h).to_ascii_lowercase())
            .unwrap_or_default(),
    };
    let path = uri.path();
    if !path.starts_with('/') {
        return Err(invalid_uri("the request path does not start with /"));
    }

    let (bucket, signed_path) = match virtual_host_bucket(config, &host)? {
        Some(bucket) => (bucket, path.to_owned()),
        None => path_style(config, path),
    };
    let key = percent_decode_str(&signed_path[1..])
        .decode_utf8()
        .map_err(|_| invalid_uri("the object key is not valid UTF-8"))?
        .into_owned();
    if key.len() > MAX_KEY_BYTES {
        return Err(CosError::new(
            StatusCode::BAD_REQUEST,
            "KeyTooLong",
            format!(
                "Your key is too long: {} bytes, at most {MAX_KEY_BYTES}.",
                key.len()
            ),
        ));
    }
    Ok(Target {
        bucket,
        signed_path,
        key,
    })
}

fn invalid_uri(message: &str) -> CosError {
    CosError::new(StatusCode::BAD_REQUEST, "InvalidURI", message)
}

/// `host:port` → `host`, and `[v6]:port` → `[v6]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(bare, _)| bare)
}

fn virtual_host_bucket(config: &Config, host: &str) -> Result<Option<Arc<Bucket>>, CosError> {
    let Some((label, rest)) = host.split_once('.') else {
        return Ok(None);
    };
    let cos_region = rest
        .strip_prefix("cos.")
        .and_then(|r| r.strip_suffix(".myqcloud.com"));
    match (config.bucket(label), cos_region) {
        (Some(bucket), Some(region)) if region != bucket.region => {
            Err(CosError::no_such_bucket(format!(
                "The bucket {label} is served in {}, not {region}.",
                bucket.region
            )))
        }
        (Some(bucket), _) => Ok(Some(bucket.clone())),
        // A COS domain for a bucket we do not serve.
        (None, Some(_)) if label.contains('-') => Err(CosError::no_such_bucket(format!(
            "The specified bucket does not exist: {label}."
        ))),
        (None, _) => Ok(None),
    }
}

fn path_style(config: &Config, path: &str) -> (Arc<Bucket>, String) {
    let rest = &path[1..];
    let (first, remainder) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    match config.bucket(first) {
        Some(bucket) => (bucket.clone(), remainder.to_owned()),
        None => (config.default_bucket.clone(), path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use http::HeaderValue;

    use super::*;
    use crate::config::Options;

    fn config() -> Config {
        let options = Options::try_parse_from([
            "cos-local",
            "--bucket",
            "photos-1250000000",
            "--bucket",
            "docs-1250000000:ap-beijing",
            "--credential",
            "id:key",
        ])
        .unwrap();
        Config::load(options).unwrap()
    }

    fn resolve_with(target: &str, host: Option<&str>) -> Result<Target, CosError> {
        let uri: Uri = target.parse().unwrap();
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        }
        resolve(&config(), &uri, &headers)
    }

    #[test]
    fn a_cos_host_with_or_without_port_names_the_bucket() {
        for host in [
            "docs-1250000000.cos.ap-beijing.myqcloud.com",
            "docs-1250000000.cos.ap-beijing.myqcloud.com:9000",
            "docs-1250000000.localhost:9000",
        ] {
            let target = resolve_with("/a%20b/c.txt", Some(host)).unwrap();

            assert_eq!(target.bucket.name, "docs-1250000000", "{host}");
            assert_eq!(target.key, "a b/c.txt");
            assert_eq!(target.signed_path, "/a%20b/c.txt");
        }
    }

    #[test]
    fn a_bare_host_goes_to_the_default_bucket_unless_the_path_names_one() {
        let default = resolve_with("/x/y", Some("127.0.0.1:9000")).unwrap();
        let path_style = resolve_with("/docs-1250000000/x/y", Some("127.0.0.1:9000")).unwrap();
        let bucket_root = resolve_with("/docs-1250000000", Some("127.0.0.1:9000")).unwrap();

        assert_eq!(default.bucket.name, "photos-1250000000");
        assert_eq!(default.key, "x/y");
        assert_eq!(path_style.bucket.name, "docs-1250000000");
        assert_eq!(path_style.signed_path, "/x/y");
        assert_eq!(path_style.key, "x/y");
        assert_eq!(bucket_root.key, "");
        assert_eq!(bucket_root.signed_path, "/");
    }

    #[test]
    fn an_absolute_target_wins_over_the_host_header() {
        let target = resolve_with(
            "http://docs-1250000000.cos.ap-beijing.myqcloud.com/k",
            Some("127.0.0.1:9000"),
        )
        .unwrap();

        assert_eq!(target.bucket.name, "docs-1250000000");
        assert_eq!(target.key, "k");
    }

    #[test]
    fn unknown_buckets_and_wrong_regions_are_no_such_bucket() {
        for host in [
            "other-1250000000.cos.ap-guangzhou.myqcloud.com",
            "docs-1250000000.cos.ap-guangzhou.myqcloud.com",
        ] {
            let error = resolve_with("/k", Some(host)).unwrap_err();

            assert_eq!(error.code, "NoSuchBucket", "{host}");
        }
    }

    #[test]
    fn keys_must_be_utf8_and_not_too_long() {
        let long = format!("/{}", "a".repeat(MAX_KEY_BYTES + 1));

        assert_eq!(
            resolve_with("/%FF", Some("127.0.0.1")).unwrap_err().code,
            "InvalidURI"
        );
        assert_eq!(
            resolve_with(&long, Some("127.0.0.1")).unwrap_err().code,
            "KeyTooLong"
        );
    }
}

//! Where the bucket is and how long the client waits: the settings a [`crate::CosClient`] is
//! built from, and the address every request goes to.

use std::time::Duration;

use cos_sign::Endpoint;
use cos_sign::encode::{encode, encode_path};
use cosigner_core::Config;

use crate::ClientError;

/// How requests name the bucket when they go to a custom endpoint.
///
/// Without a custom endpoint requests always go to `<bucket>.cos.<region>.myqcloud.com`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addressing {
    /// The endpoint's own host serves the bucket: a custom domain bound to it, or a local
    /// store's default bucket. `Host` is the endpoint's and the path is the key. This is
    /// how presigned URLs for a custom endpoint address the bucket, so the server and the
    /// terminals reach it the same way.
    #[default]
    Domain,
    /// Connect to the endpoint but send `Host: <bucket>.cos.<region>.myqcloud.com`, with
    /// the endpoint's port when it has one, as the SDKs do when pointed at an address.
    VirtualHost,
    /// The endpoint's host, with the bucket as the first path segment: `/<bucket>/<key>`.
    PathStyle,
}

/// What a [`crate::CosClient`] needs besides its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosSettings {
    /// `<name>-<appid>`.
    pub bucket: String,
    /// Such as `ap-guangzhou`.
    pub region: String,
    /// A custom origin (`http://127.0.0.1:9000`) instead of COS's own domain.
    pub endpoint: Option<String>,
    /// How to name the bucket at a custom endpoint; ignored without one.
    pub addressing: Addressing,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long a whole request may take, answer included.
    pub request_timeout: Duration,
    /// How long after it is made a request's signature stays valid. The window also opens
    /// a minute early, so a COS clock a little behind ours still accepts it.
    pub signature_ttl: Duration,
}

impl CosSettings {
    /// The settings for a bucket at COS's own domain, with the default timeouts: 2 s to
    /// connect, 10 s per request, signatures valid for 60 s.
    pub fn new(bucket: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            region: region.into(),
            endpoint: None,
            addressing: Addressing::default(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            signature_ttl: Duration::from_secs(60),
        }
    }

    /// The settings the server's configuration names (`COS_BUCKET`, `COS_REGION`,
    /// `COS_ENDPOINT`), with the default timeouts.
    pub fn from_config(config: &Config) -> Self {
        Self {
            endpoint: config.endpoint.clone(),
            ..Self::new(&config.bucket, &config.region)
        }
    }
}

/// Where requests go: the origin to connect to, the `Host` to send and sign, and the path
/// before the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) origin: String,
    pub(crate) host: String,
    pub(crate) prefix: String,
}

impl Route {
    /// Resolves the settings into an address.
    pub(crate) fn new(settings: &CosSettings) -> Result<Self, ClientError> {
        let cos = Endpoint::cos(&settings.bucket, &settings.region)
            .map_err(ClientError::InvalidEndpoint)?;
        let Some(origin) = &settings.endpoint else {
            return Ok(Self {
                origin: cos.origin(),
                host: cos.host().to_owned(),
                prefix: String::new(),
            });
        };

        let custom = Endpoint::custom(origin).map_err(ClientError::InvalidEndpoint)?;
        let route = match settings.addressing {
            Addressing::Domain => Self {
                origin: custom.origin(),
                host: custom.host().to_owned(),
                prefix: String::new(),
            },
            Addressing::VirtualHost => Self {
                origin: custom.origin(),
                host: match port_of(custom.host()) {
                    Some(port) => format!("{}:{port}", cos.host()),
                    None => cos.host().to_owned(),
                },
                prefix: String::new(),
            },
            Addressing::PathStyle => Self {
                origin: custom.origin(),
                host: custom.host().to_owned(),
                prefix: format!("/{}", settings.bucket),
            },
        };
        Ok(route)
    }

    /// The URL of a request for `key` with these query parameters, encoded as COS signs
    /// them (`%20` for a space, never `+`).
    pub(crate) fn url(&self, key: &str, params: &[(&str, Option<String>)]) -> String {
        let mut url = format!("{}{}/{}", self.origin, self.prefix, encode_path(key));
        for (i, (name, value)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode(name));
            if let Some(value) = value {
                url.push('=');
                url.push_str(&encode(value));
            }
        }
        url
    }
}

/// The port of an authority such as `127.0.0.1:9000` or `[::1]:9000`.
fn port_of(authority: &str) -> Option<&str> {
    let (host, port) = authority.rsplit_once(':')?;
    let bracketed_v6 = host.starts_with('[') && host.ends_with(']');
    let bare_host = !host.contains(':');
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    ((bracketed_v6 || bare_host) && digits).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "files-1250000000";

    fn settings(endpoint: Option<&str>, addressing: Addressing) -> CosSettings {
        CosSettings {
            endpoint: endpoint.map(str::to_owned),
            addressing,
            ..CosSettings::new(BUCKET, "ap-guangzhou")
        }
    }

    #[test]
    fn without_an_endpoint_requests_go_to_the_bucket_domain() {
        let route = Route::new(&settings(None, Addressing::PathStyle)).unwrap();

        assert_eq!(
            route.origin,
            "https://files-1250000000.cos.ap-guangzhou.myqcloud.com"
        );
        assert_eq!(route.host, "files-1250000000.cos.ap-guangzhou.myqcloud.com");
        assert_eq!(route.prefix, "");
    }

    #[test]
    fn a_custom_endpoint_serves_the_bucket_at_its_own_host_by_default() {
        let route = Route::new(&settings(
            Some("http://127.0.0.1:9000/"),
            Addressing::default(),
        ))
        .unwrap();

        assert_eq!(route.origin, "http://127.0.0.1:9000");
        assert_eq!(route.host, "127.0.0.1:9000");
        assert_eq!(route.url("a b/c", &[]), "http://127.0.0.1:9000/a%20b/c");
    }

    #[test]
    fn virtual_host_addressing_keeps_the_endpoint_port_in_the_host() {
        let with_port = Route::new(&settings(
            Some("http://127.0.0.1:9000"),
            Addressing::VirtualHost,
        ))
        .unwrap();
        let without = Route::new(&settings(
            Some("https://cos.internal"),
            Addressing::VirtualHost,
        ))
        .unwrap();

        assert_eq!(with_port.origin, "http://127.0.0.1:9000");
        assert_eq!(
            with_port.host,
            "files-1250000000.cos.ap-guangzhou.myqcloud.com:9000"
        );
        assert_eq!(
            without.host,
            "files-1250000000.cos.ap-guangzhou.myqcloud.com"
        );
    }

    #[test]
    fn path_style_puts_the_bucket_first_in_the_path() {
        let route =
            Route::new(&settings(Some("http://[::1]:9000"), Addressing::PathStyle)).unwrap();

        let url = route.url("k", &[("uploadId", Some("u+1".into())), ("uploads", None)]);

        assert_eq!(
            url,
            "http://[::1]:9000/files-1250000000/k?uploadId=u%2B1&uploads"
        );
    }

    #[test]
    fn an_invalid_bucket_or_endpoint_is_refused() {
        let bad_bucket = CosSettings::new("files", "ap-guangzhou");
        let bad_endpoint = settings(Some("ftp://x"), Addressing::Domain);

        assert!(matches!(
            Route::new(&bad_bucket),
            Err(ClientError::InvalidEndpoint(_))
        ));
        assert!(matches!(
            Route::new(&bad_endpoint),
            Err(ClientError::InvalidEndpoint(_))
        ));
    }

    #[test]
    fn the_server_configuration_names_bucket_region_and_endpoint() {
        let env = [
            ("COS_BUCKET", "files-1250000000"),
            ("COS_REGION", "ap-shanghai"),
            ("COS_ENDPOINT", "http://127.0.0.1:9000"),
            ("COS_CREDENTIALS", "env"),
            ("TABLE_NAME", "cosigner"),
        ];
        let config = Config::from_lookup(|name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();

        let settings = CosSettings::from_config(&config);

        assert_eq!(settings.bucket, "files-1250000000");
        assert_eq!(settings.region, "ap-shanghai");
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(settings.addressing, Addressing::Domain);
        assert_eq!(settings.request_timeout, Duration::from_secs(10));
        assert_eq!(settings.connect_timeout, Duration::from_secs(2));
    }

    #[test]
    fn ports_are_found_after_hosts_and_bracketed_addresses_only() {
        assert_eq!(port_of("a:1"), Some("1"));
        assert_eq!(port_of("[::1]:80"), Some("80"));
        assert_eq!(port_of("[::1]"), None);
        assert_eq!(port_of("a"), None);
        assert_eq!(port_of("a:"), None);
    }
}

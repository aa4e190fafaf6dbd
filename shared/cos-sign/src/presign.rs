//! Presigned URLs: the request signature carried in the query string.

use crate::encode::{encode, encode_path};
use crate::key_time::KeyTime;
use crate::request::{RequestToSign, SECURITY_TOKEN};
use crate::{Credentials, SignError};

/// Where a bucket is reached: its COS domain, or a custom origin (a CDN domain, a local
/// store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: &'static str,
    authority: String,
}

impl Endpoint {
    /// `https://<bucket>.cos.<region>.myqcloud.com`.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidBucket`] for a bucket that is not `<name>-<appid>` or a region
    /// that is not made of `a-z0-9-`.
    pub fn cos(bucket: &str, region: &str) -> Result<Self, SignError> {
        validate_bucket(bucket)?;
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SignError::InvalidBucket("region", region.to_owned()));
        }
        Ok(Self {
            scheme: "https",
            authority: format!("{bucket}.cos.{region}.myqcloud.com"),
        })
    }

    /// A custom origin such as `http://127.0.0.1:9000` or `https://files.example.com`.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidEndpoint`] unless it is `http://` or `https://` followed by a
    /// host and an optional port, with at most a trailing `/`.
    pub fn custom(origin: &str) -> Result<Self, SignError> {
        let invalid = || SignError::InvalidEndpoint(origin.to_owned());
        let (scheme, rest) = if let Some(rest) = origin.strip_prefix("https://") {
            ("https", rest)
        } else if let Some(rest) = origin.strip_prefix("http://") {
            ("http", rest)
        } else {
            return Err(invalid());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let valid = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b);
        if authority.is_empty() || !authority.bytes().all(valid) {
            return Err(invalid());
        }
        Ok(Self {
            scheme,
            authority: authority.to_ascii_lowercase(),
        })
    }

    /// The `Host` header a client sends to this endpoint (with the port when there is one).
    pub fn host(&self) -> &str {
        &self.authority
    }

    /// `scheme://authority`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The URL of an object, without a query.
    pub fn object_url(&self, key: &str) -> String {
        format!("{}://{}/{}", self.scheme, self.authority, encode_path(key))
    }
}

/// A bucket name as COS spells it: `<name>-<appid>`, lowercase letters, digits and `-`.
pub(crate) fn validate_bucket(bucket: &str) -> Result<(), SignError> {
    let valid = bucket.rsplit_once('-').is_some_and(|(name, appid)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !appid.is_empty()
            && appid.bytes().all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok(())
    } else {
        Err(SignError::InvalidBucket("bucket", bucket.to_owned()))
    }
}

impl RequestToSign {
    /// A URL that performs this request without any header of its own: the signature and
    /// the business parameters travel in the query, all encoded with COS's encoding.
    ///
    /// `host` is signed when `sign_host` is set (recommended: a URL signed for one bucket
    /// then cannot be replayed on another). With temporary credentials the session token is
    /// added as the signed parameter `x-cos-security-token`. Headers given to the request
    /// are signed by the usual rule and must be sent by whoever uses the URL.
    ///
    /// ```
    /// use cos_sign::{Credentials, Endpoint, KeyTime, RequestToSign};
    ///
    /// let creds = Credentials::new("AKIDexample", "secret")?;
    /// let endpoint = Endpoint::cos("examplebucket-1250000000", "ap-guangzhou")?;
    /// let url = RequestToSign::new("GET", "docs/a b.pdf")
    ///     .param("response-content-disposition", "attachment")
    ///     .presign(&endpoint, true, &creds, KeyTime::new(1700000000, 1700000600)?)?;
    ///
    /// assert!(url.starts_with(
    ///     "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/docs/a%20b.pdf?q-sign-algorithm=sha1&"
    /// ));
    /// assert!(url.ends_with("&response-content-disposition=attachment"));
    /// # Ok::<(), cos_sign::SignError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`RequestToSign::sign`].
    pub fn presign(
        &self,
        endpoint: &Endpoint,
        sign_host: bool,
        creds: &Credentials,
        window: KeyTime,
    ) -> Result<String, SignError> {
        let mut request = self.clone();
        if let Some(token) = creds.session_token() {
            request
                .params
                .push((SECURITY_TOKEN.to_owned(), Some(token.expose().to_owned())));
        }
        let host = sign_host.then_some(("host", endpoint.host()));
        if sign_host
            && request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            return Err(SignError::DuplicateHeader("host".into()));
        }
        let canonical = request.canonical(host)?;
        let signed = canonical.sign(creds, window, Vec::new());

        let mut url = endpoint.object_url(&request.key);
        url.push('?');
        for (i, (name, value)) in signed.fields.pairs().iter().enumerate() {
            if i > 0 {
                url.push('&');
            }
            url.push_str(name);
            url.push('=');
            url.push_str(&encode(value));
        }
        for (name, value) in &request.params {
            url.push('&');
            url.push_str(&encode(name));
            if let Some(value) = value {
                url.push('=');
                url.push_str(&encode(value));
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_regions_are_checked() {
        assert!(Endpoint::cos("examplebucket-1250000000", "ap-guangzhou").is_ok());
        assert!(Endpoint::cos("examplebucket", "ap-guangzhou").is_err());
        assert!(Endpoint::cos("Example-125", "ap-guangzhou").is_err());
        assert!(Endpoint::cos("example-125", "ap/guangzhou").is_err());
    }

    #[test]
    fn custom_endpoints_are_origins_only() {
        assert_eq!(
            Endpoint::custom("http://127.0.0.1:9000/").unwrap().host(),
            "127.0.0.1:9000"
        );
        assert!(Endpoint::custom("ftp://x").is_err());
        assert!(Endpoint::custom("http://x/path").is_err());
        assert!(Endpoint::custom("http://").is_err());
    }

    #[test]
    fn temporary_credentials_carry_a_signed_token_parameter() {
        let creds = Credentials::new("AKIDexample", "secret")
            .unwrap()
            .with_session_token("a+b")
            .unwrap();
        let endpoint = Endpoint::custom("http://127.0.0.1:9000").unwrap();

        let url = RequestToSign::new("GET", "k")
            .presign(&endpoint, true, &creds, KeyTime::new(1, 2).unwrap())
            .unwrap();

        assert!(url.contains("&q-header-list=host&q-url-param-list=x-cos-security-token&"));
        assert!(url.ends_with("&x-cos-security-token=a%2Bb"));
        assert!(url.contains("q-sign-time=1%3B2"));
    }
}

//! CORS: preflight requests answered from the bucket's rules, and the
//! `Access-Control-*` headers on the answers to cross-origin requests.

use http::header::{self, HeaderMap};
use http::{Method, Response, StatusCode};

use super::{response, set};
use crate::body::{self, ResponseBody};
use crate::config::{Bucket, CorsRule};
use crate::error::CosError;

/// Case-insensitive match with at most one `*` standing for any run of characters.
fn matches(pattern: &str, value: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let value = value.to_ascii_lowercase();
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

fn rule_for<'a>(bucket: &'a Bucket, origin: &str, method: &str) -> Option<&'a CorsRule> {
    bucket.cors.iter().find(|rule| {
        rule.allowed_origins.iter().any(|o| matches(o, origin))
            && rule
                .allowed_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method))
    })
}

/// Answers an OPTIONS preflight.
///
/// # Errors
///
/// 403 AccessForbidden when no rule allows the origin, method and headers asked for, and
/// 400 when the request is not a preflight.
pub fn preflight(bucket: &Bucket, headers: &HeaderMap) -> Result<Response<ResponseBody>, CosError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    let (Some(origin), Some(method)) = (
        text(header::ORIGIN),
        text(header::ACCESS_CONTROL_REQUEST_METHOD),
    ) else {
        return Err(CosError::invalid_request(
            "A CORS preflight needs the Origin and Access-Control-Request-Method headers.",
        ));
    };
    let requested: Vec<&str> = text(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let rule = rule_for(bucket, origin, method)
        .filter(|rule| {
            requested
                .iter()
                .all(|h| rule.allowed_headers.iter().any(|a| matches(a, h)))
        })
        .ok_or_else(|| {
            CosError::new(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: this CORS request is not allowed: no CORS rule of the bucket \
                 allows this origin, method and these headers.",
            )
        })?;

    let mut answer = response(StatusCode::OK, body::empty());
    let out = answer.headers_mut();
    set(out, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    set(
        out,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &rule.allowed_methods.join(","),
    );
    if !requested.is_empty() {
        set(
            out,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &requested.join(","),
        );
    }
    set(
        out,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        &rule.expose_headers.join(","),
    );
    if let Some(age) = rule.max_age_seconds {
        set(out, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    set(out, header::VARY, "Origin");
    Ok(answer)
}

/// Adds `Access-Control-Allow-Origin` and `-Expose-Headers` to the answer of a
/// cross-origin request that a rule allows.
pub fn decorate(headers: &mut HeaderMap, bucket: &Bucket, origin: &str, method: &Method) {
    if let Some(rule) = rule_for(bucket, origin, method.as_str()) {
        set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        set(
            headers,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &rule.expose_headers.join(","),
        );
        set(headers, header::VARY, "Origin");
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn bucket() -> Bucket {
        Bucket {
            name: "a-1".into(),
            short_name: "a".into(),
            appid: "1".into(),
            region: "ap-guangzhou".into(),
            allowed: Vec::new(),
            cors: vec![CorsRule {
                allowed_headers: vec!["content-type".into(), "x-cos-*".into()],
                ..CorsRule::for_origin("https://*.example.com")
            }],
        }
    }

    fn preflight_with(
        origin: &str,
        method: &str,
        headers: &str,
    ) -> Result<Response<ResponseBody>, CosError> {
        let mut map = HeaderMap::new();
        map.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        map.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_str(method).unwrap(),
        );
        map.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_str(headers).unwrap(),
        );
        preflight(&bucket(), &map)
    }

    #[test]
    fn a_preflight_allowed_by_a_rule_echoes_origin_and_headers() {
        let answer = preflight_with(
            "https://app.example.com",
            "PUT",
            "Content-Type, x-cos-meta-a",
        )
        .unwrap();

        let headers = answer.headers();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "Content-Type,x-cos-meta-a"
        );
        assert!(
            headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
                .to_str()
                .unwrap()
                .contains("ETag")
        );
    }

    #[test]
    fn other_origins_methods_and_headers_are_refused() {
        for (origin, method, headers) in [
            ("https://evil.test", "PUT", ""),
            ("https://app.example.com", "PATCH", ""),
            ("https://app.example.com", "PUT", "authorization-x"),
        ] {
            let error = preflight_with(origin, method, headers).unwrap_err();

            assert_eq!(error.code, "AccessForbidden", "{origin} {method} {headers}");
        }
    }
}

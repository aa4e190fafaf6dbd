//! The browser terminal (`terminal/web`), served from the API's own origin so that the page
//! needs no CORS rule to reach the API; its uploads and downloads go to COS, whose bucket
//! allows the page's origin. The files are built into the binary.

use cosigner_api::ApiResponse;

const INDEX: &str = include_str!("../../../../terminal/web/index.html");
const SCRIPT: &str = include_str!("../../../../terminal/web/app.js");
const STYLE: &str = include_str!("../../../../terminal/web/style.css");

/// Scripts and styles from this origin only; requests may go anywhere (the API may live
/// elsewhere, and COS always does); no framing, so no clickjacking.
const POLICY: &str = "default-src 'self'; connect-src *; img-src 'self'; object-src 'none'; \
                      base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's file at `path`, if it is one.
pub fn asset(path: &str) -> Option<ApiResponse> {
    let (content_type, text) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/style.css" => ("text/css; charset=utf-8", STYLE),
        _ => return None,
    };
    let mut response = ApiResponse::empty(200);
    for (name, value) in [
        ("content-type", content_type),
        ("content-security-policy", POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ] {
        response.headers.push((name.into(), value.into()));
    }
    response.body = text.as_bytes().to_vec();
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_served_with_their_types_and_policy() {
        for (path, kind) in [
            ("/", "text/html"),
            ("/app.js", "text/javascript"),
            ("/style.css", "text/css"),
        ] {
            let response = asset(path).unwrap_or_else(|| panic!("{path} is not served"));
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            assert!(header("content-type").is_some_and(|t| t.starts_with(kind)));
            assert!(header("content-security-policy").is_some_and(|p| p.contains("'self'")));
            assert!(!response.body.is_empty());
        }
        assert!(asset("/v1/files").is_none());
        assert!(asset("/../Cargo.toml").is_none());
    }
}

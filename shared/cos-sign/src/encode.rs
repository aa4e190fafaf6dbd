//! The percent-encodings COS signatures and URLs use.
//!
//! Trap: COS's encoding is RFC 3986's, not HTML forms'. Space is `%20`, never `+`; `!*'()`
//! are encoded although JavaScript's `encodeURIComponent` leaves them; hex digits are upper
//! case here, and only the names in a signature get lowercased afterwards.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

/// Everything but the RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, but keeping `/` so an object key reads as a path.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// Encodes a name or value the way COS signs it (`UrlEncode` in the signing documents).
pub fn encode(text: &str) -> Cow<'_, str> {
    utf8_percent_encode(text, COMPONENT).into()
}

/// Encodes an object key for the path of a URL.
///
/// Every `./` becomes `.%2F`, so an HTTP client cannot resolve `.` or `..` segments of a key
/// away before the request leaves; COS decodes it back to the same key.
pub fn encode_path(key: &str) -> String {
    let encoded: Cow<'_, str> = utf8_percent_encode(key, PATH).into();
    let mut out = encoded.replace("./", ".%2F");
    // A key that ends in a `.` or `..` segment would be resolved away too.
    if out == "." || out == ".." || out.ends_with("/.") || out.ends_with("/..") {
        let dots = out.len() - out.trim_end_matches('.').len();
        out.truncate(out.len() - dots);
        out.push_str(&"%2E".repeat(dots));
    }
    out
}

/// Encodes every byte of a path but the unreserved characters and `/` (the v4 file id).
pub(crate) fn encode_keep_slash(path: &str) -> Cow<'_, str> {
    utf8_percent_encode(path, PATH).into()
}

/// Decodes a percent-encoded path or query component into bytes; `+` stays `+`.
pub(crate) fn decode_bytes(text: &str) -> Cow<'_, [u8]> {
    percent_decode(text.as_bytes()).into()
}

/// Decodes a query component as HTML forms write it: `+` is a space. Python's `urlencode`
/// writes spaces that way, and COS reads it so.
pub(crate) fn decode_query_component(text: &str) -> Cow<'_, [u8]> {
    if text.contains('+') {
        let spaced = text.replace('+', " ");
        Cow::Owned(percent_decode(spaced.as_bytes()).collect())
    } else {
        decode_bytes(text)
    }
}

/// The form of a header or parameter name inside a signature: encoded, then lowercased.
///
/// Trap: the lowercasing comes after the encoding, so `É` signs as `%c3%89`, not as the
/// encoding of `é`; the official SDKs do it in this order.
pub(crate) fn signed_name(name: &str) -> String {
    encode(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters_with_uppercase_hex() {
        assert_eq!(encode("a b+c/d%e"), "a%20b%2Bc%2Fd%25e");
        assert_eq!(encode("!*'()"), "%21%2A%27%28%29");
        assert_eq!(encode("-_.~AZaz09"), "-_.~AZaz09");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn signed_names_have_lowercase_hex() {
        assert_eq!(signed_name("A:"), "a%3a");
        assert_eq!(signed_name("X-Cos-Meta-É"), "x-cos-meta-%c3%89");
    }

    #[test]
    fn paths_keep_slashes_and_cannot_be_normalised_away() {
        assert_eq!(encode_path("a/b c/d"), "a/b%20c/d");
        assert_eq!(encode_path("a/./b/../c"), "a/.%2Fb/..%2Fc");
        assert_eq!(encode_path("a/.."), "a/%2E%2E");
        assert_eq!(encode_path(".."), "%2E%2E");
    }

    #[test]
    fn query_components_read_plus_as_space() {
        assert_eq!(&*decode_query_component("a+b%2B"), b"a b+");
        assert_eq!(&*decode_bytes("a+b%2B"), b"a+b+");
    }
}

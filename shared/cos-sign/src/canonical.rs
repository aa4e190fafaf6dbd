//! The canonical request: the signed parameter and header pairs, and the HttpString.

use std::cmp::Ordering;

use crate::encode::{encode, signed_name};

/// How names are ordered in `HttpParameters` and `HttpHeaders`.
///
/// The lists (`q-url-param-list`, `q-header-list`) are always sorted by encoded name; the
/// joined pairs are sorted by encoded name in the Python, Go and Java SDKs, but by the raw
/// lowercased name in the JavaScript SDKs. The two agree for names made of `a-z0-9-_.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairOrder {
    /// Sorted by the encoded, lowercased name (what we sign).
    Encoded,
    /// Sorted by the lowercased name before encoding, compared as JavaScript compares
    /// strings (by UTF-16 code unit): what the JavaScript SDKs sign.
    Raw,
}

/// One signed pair, kept in both forms.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    /// The lowercased name before encoding (Unicode lowercasing, as JavaScript's).
    raw_name: String,
    /// `lowercase(UrlEncode(name))`.
    name: String,
    /// `UrlEncode(value)`.
    value: String,
}

impl Pair {
    pub(crate) fn new(name: &str, value: &str) -> Self {
        Self {
            raw_name: name.to_lowercase(),
            name: signed_name(name),
            value: encode(value).into_owned(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// The pairs of one kind (parameters or headers), sorted, with duplicate names refused.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignedPairs {
    pairs: Vec<Pair>,
}

impl SignedPairs {
    /// Sorts the pairs by encoded name.
    ///
    /// # Errors
    ///
    /// The name of the first pair whose encoded name repeats.
    pub(crate) fn new(mut pairs: Vec<Pair>) -> Result<Self, String> {
        pairs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        if let Some(twin) = pairs.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(twin[0].raw_name.clone());
        }
        Ok(Self { pairs })
    }

    /// `k1=v1&k2=v2…` in the given order.
    pub(crate) fn joined(&self, order: PairOrder) -> String {
        let mut refs: Vec<&Pair> = self.pairs.iter().collect();
        if order == PairOrder::Raw {
            refs.sort_by(|a, b| js_order(&a.raw_name, &b.raw_name));
        }
        let mut out = String::new();
        for (i, pair) in refs.into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&pair.name);
            out.push('=');
            out.push_str(&pair.value);
        }
        out
    }

    /// Whether the two orders give different joined strings.
    pub(crate) fn orders_differ(&self) -> bool {
        self.pairs
            .windows(2)
            .any(|w| js_order(&w[0].raw_name, &w[1].raw_name) == Ordering::Greater)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.iter()
    }
}

/// Compares two strings as JavaScript's `<` does: by UTF-16 code unit.
///
/// Trap: that is not code point order. A character beyond U+FFFF is a surrogate pair
/// starting at 0xD800, so an emoji sorts before U+E000..U+FFFF (full-width letters, for
/// one) in JavaScript, and after them in Rust's `str` order.
fn js_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `HttpString = method + "\n" + path + "\n" + HttpParameters + "\n" + HttpHeaders + "\n"`,
/// with the method lowercased and the path not encoded.
pub(crate) fn http_string(method: &str, path: &str, params: &str, headers: &str) -> String {
    let mut out =
        String::with_capacity(method.len() + path.len() + params.len() + headers.len() + 4);
    for c in method.chars() {
        out.push(c.to_ascii_lowercase());
    }
    out.push('\n');
    out.push_str(path);
    out.push('\n');
    out.push_str(params);
    out.push('\n');
    out.push_str(headers);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> SignedPairs {
        SignedPairs::new(items.iter().map(|(n, v)| Pair::new(n, v)).collect()).unwrap()
    }

    #[test]
    fn sorts_by_encoded_name_and_encodes_values() {
        let set = pairs(&[("Content-Type", "text/plain"), ("a:", "x y"), ("a0", "1")]);

        let names: Vec<&str> = set.iter().map(Pair::name).collect();
        assert_eq!(names, ["a%3a", "a0", "content-type"]);
        assert_eq!(
            set.joined(PairOrder::Encoded),
            "a%3a=x%20y&a0=1&content-type=text%2Fplain"
        );
        assert_eq!(
            set.joined(PairOrder::Raw),
            "a0=1&a%3a=x%20y&content-type=text%2Fplain"
        );
        assert!(set.orders_differ());
    }

    #[test]
    fn the_raw_order_compares_utf16_code_units_as_javascript_does() {
        let set = pairs(&[("emoji\u{1F600}", "1"), ("emoji\u{FF5A}", "2")]);

        assert_eq!(
            set.joined(PairOrder::Encoded),
            "emoji%ef%bd%9a=2&emoji%f0%9f%98%80=1"
        );
        assert_eq!(
            set.joined(PairOrder::Raw),
            "emoji%f0%9f%98%80=1&emoji%ef%bd%9a=2"
        );
        assert!(set.orders_differ());
    }

    #[test]
    fn names_that_differ_only_in_case_are_refused() {
        let result = SignedPairs::new(vec![Pair::new("Host", "a"), Pair::new("host", "b")]);

        assert_eq!(result.unwrap_err(), "host");
    }

    #[test]
    fn empty_parts_keep_their_line_feeds() {
        assert_eq!(http_string("GET", "/obj", "", ""), "get\n/obj\n\n\n");
    }
}

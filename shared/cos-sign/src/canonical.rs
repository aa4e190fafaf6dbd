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
    /// The lowercased name before encoding (Unicode lowercasing, as JavaScript's), kept
    /// only when it differs from `name`: for the usual names, made of unreserved ASCII
    /// characters, encoding changes nothing and the two are the same text.
    raw_name: Option<String>,
    /// `lowercase(UrlEncode(name))`.
    name: String,
    /// `UrlEncode(value)`.
    value: String,
}

impl Pair {
    pub(crate) fn new(name: &str, value: &str) -> Self {
        let unreserved = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        Self {
            raw_name: (!unreserved).then(|| name.to_lowercase()),
            name: signed_name(name),
            value: encode(value).into_owned(),
        }
    }

    fn raw_name(&self) -> &str {
        self.raw_name.as_deref().unwrap_or(&self.name)
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
            return Err(twin[0].raw_name().to_owned());
        }
        Ok(Self { pairs })
    }

    /// `k1=v1&k2=v2…` in the given order, appended to `out`.
    fn push_joined(&self, out: &mut String, order: PairOrder) {
        // The pairs are kept in encoded order; when that is also raw order, the stable
        // sort below would leave them as they are.
        if order == PairOrder::Raw && self.orders_differ() {
            let mut sorted: Vec<&Pair> = self.pairs.iter().collect();
            sorted.sort_by(|a, b| js_order(a.raw_name(), b.raw_name()));
            push_pairs(out, sorted);
        } else {
            push_pairs(out, &self.pairs);
        }
    }

    /// The length of the joined pairs, in either order.
    fn joined_len(&self) -> usize {
        self.pairs
            .iter()
            .map(|p| p.name.len() + p.value.len() + 2)
            .sum()
    }

    /// Whether the two orders give different joined strings.
    pub(crate) fn orders_differ(&self) -> bool {
        self.pairs
            .windows(2)
            .any(|w| js_order(w[0].raw_name(), w[1].raw_name()) == Ordering::Greater)
    }

    /// The encoded names, in order, giving up the pairs.
    pub(crate) fn into_names(self) -> Vec<String> {
        self.pairs.into_iter().map(|p| p.name).collect()
    }
}

fn push_pairs<'p>(out: &mut String, pairs: impl IntoIterator<Item = &'p Pair>) {
    for (i, pair) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&pair.name);
        out.push('=');
        out.push_str(&pair.value);
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
/// with the method lowercased, the path not encoded, and the pairs joined in `order`.
pub(crate) fn http_string(
    method: &str,
    path: &str,
    params: &SignedPairs,
    headers: &SignedPairs,
    order: PairOrder,
) -> String {
    let mut out = String::with_capacity(
        method.len() + path.len() + params.joined_len() + headers.joined_len() + 4,
    );
    for c in method.chars() {
        out.push(c.to_ascii_lowercase());
    }
    out.push('\n');
    out.push_str(path);
    out.push('\n');
    params.push_joined(&mut out, order);
    out.push('\n');
    headers.push_joined(&mut out, order);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SignedPairs {
        fn joined(&self, order: PairOrder) -> String {
            let mut out = String::new();
            self.push_joined(&mut out, order);
            out
        }
    }

    fn pairs(items: &[(&str, &str)]) -> SignedPairs {
        SignedPairs::new(items.iter().map(|(n, v)| Pair::new(n, v)).collect()).unwrap()
    }

    #[test]
    fn sorts_by_encoded_name_and_encodes_values() {
        let set = pairs(&[("Content-Type", "text/plain"), ("a:", "x y"), ("a0", "1")]);

        let names: Vec<&str> = set.pairs.iter().map(|p| p.name.as_str()).collect();
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
        let none = SignedPairs::default();

        let http = http_string("GET", "/obj", &none, &none, PairOrder::Encoded);

        assert_eq!(http, "get\n/obj\n\n\n");
    }
}

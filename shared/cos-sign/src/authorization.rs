//! The `Authorization` value: seven `q-*` fields, in a header or in a query string.

use std::fmt;

use crate::key_time::KeyTime;
use crate::{SignError, VerifyError};

/// The fields of a v5 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `q-ak`: the secret id that signed.
    pub secret_id: String,
    /// `q-sign-time`: when the signature is valid.
    pub sign_time: KeyTime,
    /// `q-key-time`: the window the SignKey was derived from (the SDKs make it equal to
    /// `sign_time`).
    pub key_time: KeyTime,
    /// `q-header-list`: the signed header names, encoded and lowercased.
    pub header_list: Vec<String>,
    /// `q-url-param-list`: the signed parameter names, encoded and lowercased.
    pub param_list: Vec<String>,
    /// `q-signature`: 40 lowercase hex digits.
    pub signature: String,
}

/// The field names, in the order the SDKs write them.
pub(crate) const FIELDS: [&str; 7] = [
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
];

impl Authorization {
    /// Parses an `Authorization` header value: `q-sign-algorithm=sha1&q-ak=…&…`, nothing
    /// encoded.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] for a missing, repeated or unparsable field, and
    /// [`VerifyError::UnsupportedAlgorithm`] for an algorithm other than `sha1`.
    pub fn parse(value: &str) -> Result<Self, VerifyError> {
        let pairs = value
            .trim()
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (name, value),
                None => (pair, ""),
            });
        Self::from_pairs(pairs.map(|(n, v)| (n.to_owned(), v.to_owned())))
    }

    /// Builds the fields from decoded `(name, value)` pairs; names other than the seven
    /// `q-*` fields are ignored, so the pairs of a whole query string can be passed.
    ///
    /// # Errors
    ///
    /// As [`Authorization::parse`].
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, VerifyError> {
        let mut found: [Option<String>; 7] = Default::default();
        for (name, value) in pairs {
            let Some(slot) = FIELDS.iter().position(|f| *f == name) else {
                continue;
            };
            if found[slot].replace(value).is_some() {
                return Err(VerifyError::Malformed(format!("{name} is given twice")));
            }
        }
        let mut take = |i: usize| {
            found[i]
                .take()
                .ok_or_else(|| VerifyError::Malformed(format!("{} is missing", FIELDS[i])))
        };
        let algorithm = take(0)?;
        let secret_id = take(1)?;
        let sign_time = take(2)?;
        let key_time = take(3)?;
        let header_list = take(4)?;
        let param_list = take(5)?;
        let signature = take(6)?;

        if !algorithm.eq_ignore_ascii_case("sha1") {
            return Err(VerifyError::UnsupportedAlgorithm(algorithm));
        }
        if secret_id.is_empty() {
            return Err(VerifyError::Malformed("q-ak is empty".into()));
        }
        let window = |name: &str, text: &str| {
            text.parse::<KeyTime>()
                .map_err(|e: SignError| VerifyError::Malformed(format!("{name}: {e}")))
        };
        let sign_time = window("q-sign-time", &sign_time)?;
        let key_time = window("q-key-time", &key_time)?;
        if signature.len() != 40 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VerifyError::Malformed(
                "q-signature is not 40 hex digits".into(),
            ));
        }

        Ok(Self {
            secret_id,
            sign_time,
            key_time,
            header_list: split_list(&header_list),
            param_list: split_list(&param_list),
            signature: signature.to_ascii_lowercase(),
        })
    }

    /// The seven fields as `(name, value)` pairs, in the order the SDKs write them.
    pub fn pairs(&self) -> [(&'static str, String); 7] {
        [
            (FIELDS[0], "sha1".to_owned()),
            (FIELDS[1], self.secret_id.clone()),
            (FIELDS[2], self.sign_time.to_string()),
            (FIELDS[3], self.key_time.to_string()),
            (FIELDS[4], self.header_list.join(";")),
            (FIELDS[5], self.param_list.join(";")),
            (FIELDS[6], self.signature.clone()),
        ]
    }
}

fn split_list(list: &str) -> Vec<String> {
    if list.is_empty() {
        Vec::new()
    } else {
        list.split(';').map(str::to_owned).collect()
    }
}

impl Authorization {
    /// Appends the `Authorization` value to `out`: the same text as joining
    /// [`Authorization::pairs`], written field by field so that signing allocates nothing
    /// but `out`.
    pub(crate) fn push_to(&self, out: &mut String) {
        let list = |out: &mut String, names: &[String]| {
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(name);
            }
        };
        let field = |out: &mut String, i: usize| {
            if i > 0 {
                out.push('&');
            }
            out.push_str(FIELDS[i]);
            out.push('=');
        };
        field(out, 0);
        out.push_str("sha1");
        field(out, 1);
        out.push_str(&self.secret_id);
        field(out, 2);
        self.sign_time.push_to(out);
        field(out, 3);
        self.key_time.push_to(out);
        field(out, 4);
        list(out, &self.header_list);
        field(out, 5);
        list(out, &self.param_list);
        field(out, 6);
        out.push_str(&self.signature);
    }

    /// The length of the value [`Authorization::push_to`] writes, to size its buffer.
    pub(crate) fn text_len(&self) -> usize {
        let list = |names: &[String]| {
            names
                .iter()
                .map(|n| n.len() + 1)
                .sum::<usize>()
                .saturating_sub(1)
        };
        // Each field's name with its `=` and `&`, and each of the two windows at its longest
        // (two 20-digit numbers and a `;`).
        let fields: usize = FIELDS.iter().map(|f| f.len() + 2).sum();
        fields
            + "sha1".len()
            + self.secret_id.len()
            + 2 * 41
            + list(&self.header_list)
            + list(&self.param_list)
            + self.signature.len()
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(self.text_len());
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "q-sign-algorithm=sha1&q-ak=AKIDexample&q-sign-time=1;2&q-key-time=1;2\
        &q-header-list=content-type;host&q-url-param-list=&q-signature=\
        0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn parses_and_prints_the_same_value() {
        let auth = Authorization::parse(VALUE).unwrap();

        assert_eq!(auth.header_list, ["content-type", "host"]);
        assert!(auth.param_list.is_empty());
        assert_eq!(auth.to_string(), VALUE);
    }

    #[test]
    fn refuses_missing_repeated_and_bad_fields() {
        let cases = [
            VALUE.replace("q-ak=AKIDexample&", ""),
            format!("{VALUE}&q-ak=other"),
            VALUE.replace("q-sign-time=1;2", "q-sign-time=2;1"),
            VALUE.replace("0123456789abcdef0123456789abcdef01234567", "xyz"),
            VALUE.replace("q-ak=AKIDexample", "q-ak="),
        ];
        for case in cases {
            assert!(
                matches!(Authorization::parse(&case), Err(VerifyError::Malformed(_))),
                "{case}"
            );
        }
        assert!(matches!(
            Authorization::parse(&VALUE.replace("sha1", "sha256")),
            Err(VerifyError::UnsupportedAlgorithm(_))
        ));
    }
}

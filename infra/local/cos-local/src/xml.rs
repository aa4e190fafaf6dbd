//! The XML COS speaks: a small writer for response bodies, and the parser for the one
//! request body that matters, the part list of CompleteMultipartUpload.

use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use serde::Deserialize;

use crate::error::CosError;

/// The highest part number COS accepts.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Builds an XML document element by element, escaping every text.
#[derive(Debug)]
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// A document with its declaration.
    pub fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    /// Opens an element.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Closes an element.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes `<name>text</name>`.
    pub fn element(&mut self, name: &str, text: &str) {
        self.open(name);
        self.out.push_str(&escape(text));
        self.close(name);
    }

    /// The finished document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// One `<Part>` of a CompleteMultipartUpload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPart {
    /// 1 through 10000.
    pub number: u32,
    /// The ETag the client was given for the part, quotes removed.
    pub etag: String,
}

#[derive(Deserialize)]
struct CompleteBody {
    #[serde(rename = "Part", default)]
    parts: Vec<PartBody>,
}

#[derive(Deserialize)]
struct PartBody {
    #[serde(rename = "PartNumber")]
    number: Option<String>,
    #[serde(rename = "ETag")]
    etag: Option<String>,
}

/// Parses `<CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>…`.
///
/// # Errors
///
/// MalformedXML for a body that is not that document or lists no part, InvalidArgument for
/// a part number outside 1..=10000.
pub fn parse_complete(body: &[u8]) -> Result<Vec<ListedPart>, CosError> {
    let text = std::str::from_utf8(body).map_err(|_| CosError::malformed_xml("not UTF-8"))?;
    let root = root_element(text)?;
    if root != "CompleteMultipartUpload" {
        return Err(CosError::malformed_xml(format!(
            "the root element is {root}, not CompleteMultipartUpload"
        )));
    }
    let parsed: CompleteBody =
        quick_xml::de::from_str(text).map_err(|e| CosError::malformed_xml(e.to_string()))?;
    if parsed.parts.is_empty() {
        return Err(CosError::malformed_xml("no Part is listed"));
    }
    parsed
        .parts
        .into_iter()
        .map(|part| {
            let number = part
                .number
                .ok_or_else(|| CosError::malformed_xml("a Part has no PartNumber"))?;
            let etag = part
                .etag
                .ok_or_else(|| CosError::malformed_xml("a Part has no ETag"))?;
            Ok(ListedPart {
                number: parse_part_number(number.trim())?,
                etag: unquote_etag(&etag).to_owned(),
            })
        })
        .collect()
}

/// Reads a part number: a whole number from 1 through 10000.
///
/// # Errors
///
/// InvalidArgument for anything else.
pub fn parse_part_number(text: &str) -> Result<u32, CosError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(CosError::invalid_argument(format!(
            "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive \
             (got {:?}).",
            truncate(text, 32)
        ))),
    }
}

/// An ETag without its surrounding quotes and whitespace.
pub fn unquote_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

fn root_element(text: &str) -> Result<String, CosError> {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(start) | Event::Empty(start)) => {
                return Ok(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) => return Err(CosError::malformed_xml("the body is empty")),
            Ok(Event::Text(text)) if !text.iter().all(u8::is_ascii_whitespace) => {
                return Err(CosError::malformed_xml("text before the root element"));
            }
            Ok(_) => {}
            Err(e) => return Err(CosError::malformed_xml(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_part_list_with_quoted_and_escaped_etags() {
        let body = br#"<?xml version="1.0"?>
            <CompleteMultipartUpload>
              <Part><PartNumber>1</PartNumber><ETag>"aa"</ETag></Part>
              <Part><PartNumber> 2 </PartNumber><ETag>&quot;bb&quot;</ETag></Part>
              <Part><ETag>cc</ETag><PartNumber>3</PartNumber></Part>
            </CompleteMultipartUpload>"#;

        let parts = parse_complete(body).unwrap();

        let listed: Vec<(u32, &str)> = parts.iter().map(|p| (p.number, p.etag.as_str())).collect();
        assert_eq!(listed, [(1, "aa"), (2, "bb"), (3, "cc")]);
    }

    #[test]
    fn refuses_bodies_that_are_not_a_part_list() {
        for body in [
            &b""[..],
            b"not xml",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
            b"<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
            b"<CompleteMultipartUpload></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
        ] {
            let error = parse_complete(body).unwrap_err();

            assert!(
                error.code == "MalformedXML" || error.code == "InvalidArgument",
                "{body:?}: {error:?}"
            );
        }
    }

    #[test]
    fn part_numbers_are_bounded() {
        assert_eq!(parse_part_number("1").unwrap(), 1);
        assert_eq!(parse_part_number("10000").unwrap(), 10000);

        for bad in ["0", "10001", "-1", "99999999999999999999", "1.5", ""] {
            assert_eq!(parse_part_number(bad).unwrap_err().code, "InvalidArgument");
        }
    }

    #[test]
    fn the_writer_escapes_text() {
        let mut xml = XmlWriter::new();
        xml.open("A");
        xml.element("B", "\"x\" <&>");
        xml.close("A");

        assert!(
            xml.finish()
                .ends_with("<A><B>&quot;x&quot; &lt;&amp;&gt;</B></A>")
        );
    }
}

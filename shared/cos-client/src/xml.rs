//! The XML COS speaks for multipart uploads and errors: the few documents this client reads,
//! and the one it writes.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use serde::Deserialize;

use cosigner_core::Part;

/// What a document could not be read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError(pub(crate) String);

/// The name of a document's root element, skipping the declaration, comments and the
/// whitespace COS may send ahead of a late error.
pub(crate) fn root_name(text: &str) -> Result<String, XmlError> {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Ok(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) => return Err(XmlError("the body holds no element".to_owned())),
            Ok(_) => {}
            Err(err) => return Err(XmlError(err.to_string())),
        }
    }
}

/// `<Error>`: COS's error body. Every field is optional, so a terse body still reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "Code", default)]
    pub(crate) code: Option<String>,
    #[serde(rename = "Message", default)]
    pub(crate) message: Option<String>,
    #[serde(rename = "RequestId", default)]
    pub(crate) request_id: Option<String>,
}

/// `<InitiateMultipartUploadResult>`.
#[derive(Debug, Deserialize)]
struct InitiateResult {
    #[serde(rename = "UploadId")]
    upload_id: String,
}

/// `<ListPartsResult>`, one page of it.
#[derive(Debug, Deserialize)]
struct ListPartsResult {
    #[serde(rename = "IsTruncated", default)]
    is_truncated: Option<String>,
    #[serde(rename = "NextPartNumberMarker", default)]
    next_marker: Option<String>,
    #[serde(rename = "Part", default)]
    parts: Vec<PartEntry>,
}

#[derive(Debug, Deserialize)]
struct PartEntry {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "Size")]
    size: u64,
}

/// `<CompleteMultipartUploadResult>`.
#[derive(Debug, Deserialize)]
struct CompleteResult {
    #[serde(rename = "ETag")]
    etag: String,
}

/// One page of parts, and where the next page starts when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartsPage {
    pub(crate) parts: Vec<Part>,
    pub(crate) next_marker: Option<u32>,
}

/// Reads a document whose root must be `root`.
fn parse<'a, T: Deserialize<'a>>(text: &'a str, root: &str) -> Result<T, XmlError> {
    let found = root_name(text)?;
    if found != root {
        return Err(XmlError(format!("expected <{root}>, found <{found}>")));
    }
    quick_xml::de::from_str(text).map_err(|err| XmlError(format!("<{root}>: {err}")))
}

/// The error body, or an empty one when the text is not one (a proxy's HTML page, say).
pub(crate) fn parse_error(text: &str) -> ErrorBody {
    parse(text, "Error").unwrap_or_default()
}

/// The upload id from an initiate answer.
pub(crate) fn parse_initiate(text: &str) -> Result<String, XmlError> {
    let result: InitiateResult = parse(text, "InitiateMultipartUploadResult")?;
    if result.upload_id.is_empty() {
        return Err(XmlError("the upload id is empty".to_owned()));
    }
    Ok(result.upload_id)
}

/// A page of a list-parts answer.
pub(crate) fn parse_parts_page(text: &str) -> Result<PartsPage, XmlError> {
    let result: ListPartsResult = parse(text, "ListPartsResult")?;
    let parts = result
        .parts
        .into_iter()
        .map(|p| Part {
            number: p.number,
            etag: unquote(&p.etag).to_owned(),
            size: p.size,
        })
        .collect();
    let truncated = result
        .is_truncated
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
    let next_marker = if truncated {
        let marker = result.next_marker.unwrap_or_default();
        let marker = marker.trim().parse().map_err(|_| {
            XmlError(format!(
                "a truncated page with the next marker {marker:?} cannot be followed"
            ))
        })?;
        Some(marker)
    } else {
        None
    };
    Ok(PartsPage { parts, next_marker })
}

/// The final ETag, without quotes, from a complete answer.
pub(crate) fn parse_complete(text: &str) -> Result<String, XmlError> {
    let result: CompleteResult = parse(text, "CompleteMultipartUploadResult")?;
    let etag = unquote(&result.etag);
    if etag.is_empty() {
        return Err(XmlError("the ETag is empty".to_owned()));
    }
    Ok(etag.to_owned())
}

/// The body of a complete request: the parts in ascending order of number.
///
/// ETags travel quoted, as COS lists them and as the official SDKs send them back.
pub(crate) fn complete_body(parts: &[Part]) -> String {
    let mut sorted: Vec<&Part> = parts.iter().collect();
    sorted.sort_by_key(|p| p.number);

    let mut body = String::from("<CompleteMultipartUpload>");
    for part in sorted {
        let etag: Cow<'_, str> = escape(format!("\"{}\"", unquote(&part.etag)));
        // Writing to a String cannot fail.
        let _ = write!(
            body,
            "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
            part.number
        );
    }
    body.push_str("</CompleteMultipartUpload>");
    body
}

/// An ETag without its surrounding quotes.
pub(crate) fn unquote(etag: &str) -> &str {
    let etag = etag.trim();
    etag.strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_upload_id_of_an_initiate_answer() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult>
  <Bucket>examplebucket-1250000000</Bucket>
  <Key>a/b.bin</Key>
  <UploadId>1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361</UploadId>
</InitiateMultipartUploadResult>"#;

        let upload_id = parse_initiate(text).unwrap();

        assert_eq!(
            upload_id,
            "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361"
        );
    }

    #[test]
    fn a_missing_or_empty_upload_id_is_an_error() {
        let missing = "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>";
        let empty =
            "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>";

        assert!(parse_initiate(missing).is_err());
        assert!(parse_initiate(empty).is_err());
    }

    #[test]
    fn reads_a_page_of_parts_with_quoted_etags() {
        let text = r#"<ListPartsResult>
  <Bucket>b-1</Bucket><Key>k</Key><UploadId>u</UploadId>
  <PartNumberMarker>0</PartNumberMarker>
  <NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part><PartNumber>1</PartNumber><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;aa&quot;</ETag><Size>1048576</Size></Part>
  <Part><PartNumber>2</PartNumber><ETag>"bb"</ETag><Size>7</Size></Part>
</ListPartsResult>"#;

        let page = parse_parts_page(text).unwrap();

        assert_eq!(
            page.parts,
            [
                Part {
                    number: 1,
                    etag: "aa".into(),
                    size: 1048576
                },
                Part {
                    number: 2,
                    etag: "bb".into(),
                    size: 7
                },
            ]
        );
        assert_eq!(page.next_marker, Some(2));
    }

    #[test]
    fn the_last_page_has_no_next_marker() {
        let text = "<ListPartsResult><IsTruncated>false</IsTruncated>\
                    <NextPartNumberMarker>9</NextPartNumberMarker></ListPartsResult>";

        let page = parse_parts_page(text).unwrap();

        assert!(page.parts.is_empty());
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn a_truncated_page_without_a_marker_is_an_error() {
        let text = "<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>";

        assert!(parse_parts_page(text).is_err());
    }

    #[test]
    fn reads_the_final_etag_of_a_complete_answer() {
        let text = r#"<CompleteMultipartUploadResult>
  <Location>b-1.cos.ap-guangzhou.myqcloud.com/k</Location>
  <Bucket>b-1</Bucket><Key>k</Key>
  <ETag>"aa6e6f1f1a4c3b6c14d9ed1e4b3c0dd1-3"</ETag>
</CompleteMultipartUploadResult>"#;

        assert_eq!(
            parse_complete(text).unwrap(),
            "aa6e6f1f1a4c3b6c14d9ed1e4b3c0dd1-3"
        );
    }

    #[test]
    fn an_error_document_is_not_taken_for_a_result() {
        let text = "\n\n<?xml version=\"1.0\"?><Error><Code>InternalError</Code></Error>";

        assert_eq!(root_name(text).unwrap(), "Error");
        assert!(parse_complete(text).is_err());
    }

    #[test]
    fn reads_code_message_and_request_id_of_an_error() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>SignatureDoesNotMatch</Code>
  <Message>The Signature you specified is invalid.</Message>
  <Resource>b-1.cos.ap-guangzhou.myqcloud.com/k</Resource>
  <RequestId>NjU1YjA4ZjBfMjQ=</RequestId>
  <TraceId>abc</TraceId>
  <StringToSign>sha1
1;2
abc
</StringToSign>
</Error>"#;

        let body = parse_error(text);

        assert_eq!(body.code.as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(
            body.message.as_deref(),
            Some("The Signature you specified is invalid.")
        );
        assert_eq!(body.request_id.as_deref(), Some("NjU1YjA4ZjBfMjQ="));
    }

    #[test]
    fn a_body_that_is_not_an_error_document_reads_as_an_empty_error() {
        let body = parse_error("<html><body>Bad Gateway</body></html>");
        let garbage = parse_error("not xml at all <<<");

        assert!(body.code.is_none() && body.message.is_none());
        assert!(garbage.code.is_none());
    }

    #[test]
    fn the_complete_body_lists_parts_in_ascending_order_with_quoted_etags() {
        let parts = [
            Part {
                number: 3,
                etag: "cc".into(),
                size: 1,
            },
            Part {
                number: 1,
                etag: "\"aa\"".into(),
                size: 1,
            },
            Part {
                number: 2,
                etag: "b&b".into(),
                size: 1,
            },
        ];

        let body = complete_body(&parts);

        assert_eq!(
            body,
            "<CompleteMultipartUpload>\
             <Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&quot;b&amp;b&quot;</ETag></Part>\
             <Part><PartNumber>3</PartNumber><ETag>&quot;cc&quot;</ETag></Part>\
             </CompleteMultipartUpload>"
        );
    }

    #[test]
    fn unquote_leaves_bare_etags_alone() {
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(unquote(" \"abc-3\" "), "abc-3");
        assert_eq!(unquote("\""), "\"");
    }
}

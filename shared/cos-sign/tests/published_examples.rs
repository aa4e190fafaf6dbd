//! Tencent's published worked examples, reproduced at their fixed times.
//!
//! These are the first test vectors: the XML API request-signature examples (a PUT and a
//! GET), the POST Object form example, and the two v4 tokens of the JSON API documents.

#![allow(clippy::unwrap_used)] // A test that cannot build its fixture should stop right there.

use cos_sign::{
    Credentials, KeyTime, ReceivedRequest, RequestToSign, decode_v4, sign_post_policy,
    sign_v4_plaintext, verify_post_form, verify_request, verify_v4,
};

const SECRET_ID: &str = "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q";
const SECRET_KEY: &str = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz";
const HOST: &str = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com";

fn creds() -> Credentials {
    Credentials::new(SECRET_ID, SECRET_KEY).unwrap()
}

#[test]
fn the_put_example_reproduces() {
    let signed = RequestToSign::new("PUT", "exampleobject(腾讯云)")
        .header("Date", "Thu, 16 May 2019 06:45:51 GMT")
        .header("Host", HOST)
        .header("Content-Type", "text/plain")
        .header("Content-Length", "13")
        .header("Content-MD5", "mQ/fVh815F3k6TAUm8m0eg==")
        .header("x-cos-acl", "private")
        .header("x-cos-grant-read", "uin=\"100000000011\"")
        .sign_headers([
            "Content-Length",
            "Content-MD5",
            "Content-Type",
            "Date",
            "Host",
            "x-cos-acl",
            "x-cos-grant-read",
        ])
        .sign(&creds(), KeyTime::new(1557989151, 1557996351).unwrap())
        .unwrap();

    assert_eq!(
        signed.http_string,
        "put\n/exampleobject(腾讯云)\n\ncontent-length=13&content-md5=mQ%2FfVh815F3k6TAUm8m0eg%3D%3D\
         &content-type=text%2Fplain&date=Thu%2C%2016%20May%202019%2006%3A45%3A51%20GMT\
         &host=examplebucket-1250000000.cos.ap-beijing.myqcloud.com&x-cos-acl=private\
         &x-cos-grant-read=uin%3D%22100000000011%22\n"
    );
    assert_eq!(
        signed.string_to_sign,
        "sha1\n1557989151;1557996351\n8b2751e77f43a0995d6e9eb9477f4b685cca4172\n"
    );
    assert_eq!(
        signed.authorization,
        "q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q\
         &q-sign-time=1557989151;1557996351&q-key-time=1557989151;1557996351\
         &q-header-list=content-length;content-md5;content-type;date;host;x-cos-acl;x-cos-grant-read\
         &q-url-param-list=&q-signature=3b8851a11a569213c17ba8fa7dcf2abec6935172"
    );
}

#[test]
fn the_get_example_reproduces_and_verifies() {
    let signed = RequestToSign::new("GET", "exampleobject(腾讯云)")
        .param("response-content-type", "application/octet-stream")
        .param("response-cache-control", "max-age=600")
        .header("Date", "Thu, 16 May 2019 06:55:53 GMT")
        .header("Host", HOST)
        .sign_headers(["date", "host"])
        .sign(&creds(), KeyTime::new(1557989753, 1557996953).unwrap())
        .unwrap();

    assert_eq!(
        signed.string_to_sign,
        "sha1\n1557989753;1557996953\n54ecfe22f59d3514fdc764b87a32d8133ea611e6\n"
    );
    assert_eq!(
        signed.authorization,
        "q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q\
         &q-sign-time=1557989753;1557996953&q-key-time=1557989753;1557996953&q-header-list=date;host\
         &q-url-param-list=response-cache-control;response-content-type\
         &q-signature=01681b8c9d798a678e43b685a9f1bba0f6c0e012"
    );

    let headers: [(&str, &[u8]); 3] = [
        ("Date", b"Thu, 16 May 2019 06:55:53 GMT"),
        ("Host", HOST.as_bytes()),
        ("Authorization", signed.authorization.as_bytes()),
    ];
    let request = ReceivedRequest {
        method: "GET",
        path: "/exampleobject(%E8%85%BE%E8%AE%AF%E4%BA%91)",
        query: "response-content-type=application%2Foctet-stream&response-cache-control=max-age%3D600",
        headers: &headers,
    };
    let verified = verify_request(&request, 1557990000, |_| Some(creds())).unwrap();
    assert_eq!(verified.secret_id, SECRET_ID);
}

const POLICY: &str = concat!(
    "{\n",
    "    \"expiration\": \"2019-08-30T09:38:12.414Z\",\n",
    "    \"conditions\": [\n",
    "        { \"acl\": \"default\" },\n",
    "        { \"bucket\": \"examplebucket-1250000000\" },\n",
    "        [ \"starts-with\", \"$key\", \"folder/subfolder/\" ],\n",
    "        [ \"starts-with\", \"$Content-Type\", \"image/\" ],\n",
    "        [ \"starts-with\", \"$success_action_redirect\", \"https://my.website/\" ],\n",
    "        [ \"eq\", \"$x-cos-server-side-encryption\", \"AES256\" ],\n",
    "        { \"q-sign-algorithm\": \"sha1\" },\n",
    "        { \"q-ak\": \"AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q\" },\n",
    "        { \"q-sign-time\": \"1567150692;1567157892\" }\n",
    "    ]\n",
    "}"
);

#[test]
fn the_post_object_example_reproduces_and_verifies() {
    let form = sign_post_policy(
        POLICY,
        &creds(),
        KeyTime::new(1567150692, 1567157892).unwrap(),
    )
    .unwrap();

    assert_eq!(
        form.string_to_sign,
        "d5d903b8360468bc81c1311f134989bc8c8b5b89"
    );
    assert_eq!(form.signature, "7758dc9a832e9d301dca704cacbf9d9f8172fdef");
    assert_eq!(
        form.policy,
        "ewogICAgImV4cGlyYXRpb24iOiAiMjAxOS0wOC0zMFQwOTozODoxMi40MTRaIiwKICAgICJjb25kaXRpb25zIjogWwogICAgICAgIHsgImFjbCI6ICJkZWZhdWx0IiB9LAogICAgICAgIHsgImJ1Y2tldCI6ICJleGFtcGxlYnVja2V0LTEyNTAwMDAwMDAiIH0sCiAgICAgICAgWyAic3RhcnRzLXdpdGgiLCAiJGtleSIsICJmb2xkZXIvc3ViZm9sZGVyLyIgXSwKICAgICAgICBbICJzdGFydHMtd2l0aCIsICIkQ29udGVudC1UeXBlIiwgImltYWdlLyIgXSwKICAgICAgICBbICJzdGFydHMtd2l0aCIsICIkc3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiLCAiaHR0cHM6Ly9teS53ZWJzaXRlLyIgXSwKICAgICAgICBbICJlcSIsICIkeC1jb3Mtc2VydmVyLXNpZGUtZW5jcnlwdGlvbiIsICJBRVMyNTYiIF0sCiAgICAgICAgeyAicS1zaWduLWFsZ29yaXRobSI6ICJzaGExIiB9LAogICAgICAgIHsgInEtYWsiOiAiQUtJRFFqejNsdG9tcFZqQm5pNUxpdGtXSEZsRnB3a245VTVxIiB9LAogICAgICAgIHsgInEtc2lnbi10aW1lIjogIjE1NjcxNTA2OTI7MTU2NzE1Nzg5MiIgfQogICAgXQp9"
    );
    assert_eq!(form.field("acl"), Some("default"));
    assert_eq!(form.field("x-cos-server-side-encryption"), Some("AES256"));
    assert_eq!(form.field("q-key-time"), Some("1567150692;1567157892"));

    let mut fields = form.fields.clone();
    fields.push(("key".into(), "folder/subfolder/photo.jpg".into()));
    fields.push(("Content-Type".into(), "image/jpeg".into()));
    fields.push((
        "success_action_redirect".into(),
        "https://my.website/done".into(),
    ));
    let verified = verify_post_form(&fields, 100, "examplebucket-1250000000", 1567151000, |_| {
        Some(creds())
    });
    assert!(verified.is_ok(), "{verified:?}");
}

const V4_SECRET_ID: &str = "AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv";
const V4_SECRET_KEY: &str = "bLcPnl88WU30VY57ipRhSePfPdOfSruK";

fn v4_creds() -> Credentials {
    Credentials::new(V4_SECRET_ID, V4_SECRET_KEY).unwrap()
}

#[test]
fn the_reusable_v4_token_reproduces_and_verifies() {
    let token = "vxzLR6vzMNhBMUVzMTWKUB+LMeVhPTIwMDAwMSZrPUFLSURVZkxVRVVpZ1FpWHFtN0\
                 NWU3NwS0pudWFpSUt0eHFBdiZlPTE0Mzc5OTU3MDQmdD0xNDM3OTk1NjQ0JnI9MjA4\
                 MTY2MDQyMSZmPSZiPW5ld2J1Y2tldA==";
    let plaintext = "a=200001&k=AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv&e=1437995704&t=1437995644&r=2081660421&f=&b=newbucket";

    assert_eq!(sign_v4_plaintext(plaintext, &v4_creds()), token);
    let claims = verify_v4(token, 1437995700, |_| Some(v4_creds())).unwrap();
    assert_eq!(
        (
            claims.appid.as_str(),
            claims.bucket.as_str(),
            claims.expired
        ),
        ("200001", "newbucket", 1437995704)
    );
    assert!(verify_v4(token, 1437995705, |_| Some(v4_creds())).is_err());
}

#[test]
fn the_one_time_v4_token_reproduces_and_verifies() {
    let token = "f11dDSuw86CR02Ko1INzsZstbRlhPTIwMDAwMSZrPUFLSURVZkxVRVVpZ1FpWHFtN0\
                 NWU3NwS0pudWFpSUt0eHFBdiZlPTAmdD0xNDM3OTk1NjQ1JnI9MTE2NjcxMDc5MiZm\
                 PS8yMDAwMDEvbmV3YnVja2V0L3RlbmNlbnRfdGVzdC5qcGcmYj1uZXdidWNrZXQ=";

    let decoded = decode_v4(token).unwrap();

    assert_eq!(sign_v4_plaintext(&decoded.plaintext, &v4_creds()), token);
    assert!(decoded.claims.is_one_time());
    assert_eq!(decoded.claims.fileid, "/200001/newbucket/tencent_test.jpg");
    assert!(verify_v4(token, u64::MAX, |_| Some(v4_creds())).is_ok());
}

//! criterion benchmarks of the signing crate, beside the bare HMAC work a signature needs.
//!
//! Run with `cargo bench -p cos-sign --bench signing`. The `bare` benchmark is the floor:
//! the three hash steps of one signature over inputs of the same length, with nothing
//! else; the crate's request signature should stay within three times of it.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};

use cos_sign::{ReceivedRequest, sign_post_policy, verify_request};

mod fixture;

use fixture::{
    GET_KEY, HOST, NOW, PUT_HEADERS, PUT_KEY, SECRET_ID, SECRET_KEY, bare_signature_work, creds,
    endpoint, get_request, post_policy, put_request, window,
};

fn request_signature(c: &mut Criterion) {
    let creds = creds();
    let window = window();

    c.bench_function("request_signature/put_5_headers", |b| {
        b.iter(|| put_request().sign(black_box(&creds), black_box(window)))
    });

    // The same request built once, to show what the builder itself costs.
    let request = put_request();
    c.bench_function("request_signature/put_5_headers_prebuilt", |b| {
        b.iter(|| black_box(&request).sign(black_box(&creds), black_box(window)))
    });
}

fn bare_work(c: &mut Criterion) {
    let signed = match put_request().sign(&creds(), window()) {
        Ok(signed) => signed,
        Err(err) => panic!("the fixture request does not sign: {err}"),
    };
    let key_time = window().to_string();

    // The floor must do exactly the work of the signature it is compared with.
    let bare = bare_signature_work(
        SECRET_KEY.as_bytes(),
        key_time.as_bytes(),
        signed.http_string.as_bytes(),
    );
    assert_eq!(bare.as_slice(), signed.fields.signature.as_bytes());

    c.bench_function("bare/hmac_sha1_sha1_hmac", |b| {
        b.iter(|| {
            bare_signature_work(
                black_box(SECRET_KEY.as_bytes()),
                black_box(key_time.as_bytes()),
                black_box(signed.http_string.as_bytes()),
            )
        })
    });
}

fn presigned_url(c: &mut Criterion) {
    let creds = creds();
    let window = window();
    let endpoint = endpoint();

    c.bench_function("presign/get_with_content_disposition", |b| {
        b.iter(|| {
            get_request().presign(
                black_box(&endpoint),
                true,
                black_box(&creds),
                black_box(window),
            )
        })
    });
}

fn verification(c: &mut Criterion) {
    let creds = creds();
    let lookup = |id: &str| (id == SECRET_ID).then(|| creds.clone());

    let signed = match put_request().sign(&creds, window()) {
        Ok(signed) => signed,
        Err(err) => panic!("the fixture request does not sign: {err}"),
    };
    let mut headers: Vec<(&str, &[u8])> = PUT_HEADERS
        .iter()
        .map(|(name, value)| (*name, value.as_bytes()))
        .collect();
    headers.push(("Authorization", signed.authorization.as_bytes()));
    let path = format!("/{PUT_KEY}");
    let put = ReceivedRequest {
        method: "PUT",
        path: &path,
        query: "",
        headers: &headers,
    };
    assert!(verify_request(&put, NOW, lookup).is_ok());

    c.bench_function("verify/put_header_signature", |b| {
        b.iter(|| verify_request(black_box(&put), NOW, lookup))
    });

    let url = match get_request().presign(&endpoint(), true, &creds, window()) {
        Ok(url) => url,
        Err(err) => panic!("the fixture download does not presign: {err}"),
    };
    let Some((_, query)) = url.split_once('?') else {
        panic!("a presigned URL without a query: {url}");
    };
    let encoded_path = format!("/{}", cos_sign::encode::encode_path(GET_KEY));
    let host: [(&str, &[u8]); 1] = [("Host", HOST.as_bytes())];
    let get = ReceivedRequest {
        method: "GET",
        path: &encoded_path,
        query,
        headers: &host,
    };
    assert!(verify_request(&get, NOW, lookup).is_ok());

    c.bench_function("verify/presigned_get", |b| {
        b.iter(|| verify_request(black_box(&get), NOW, lookup))
    });
}

fn post_policy_signature(c: &mut Criterion) {
    let creds = creds();
    let window = window();

    c.bench_function("post_policy/build_and_sign", |b| {
        b.iter(|| post_policy().sign(black_box(&creds), black_box(window)))
    });

    // Signing a policy text the caller already has (the debugging tool's path).
    let text = post_policy().to_json();
    c.bench_function("post_policy/sign_given_text", |b| {
        b.iter(|| sign_post_policy(black_box(&text), black_box(&creds), black_box(window)))
    });
}

/// Runs every benchmark with the settings given on the command line (criterion's
/// `criterion_group!` would do the same, but leaves an undocumented public function).
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    request_signature(&mut c);
    bare_work(&mut c);
    presigned_url(&mut c);
    verification(&mut c);
    post_policy_signature(&mut c);
}

criterion_main!(benches);

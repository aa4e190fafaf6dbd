//! Bearer-token verification: HS256 with the app secret, RS256/ES256 through a JWKS served
//! by a small HTTP server on a loopback port, and the forgeries a token verifier must refuse.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use cos_sign::Secret;
use cosigner_api::{ApiError, AuthError, Authenticator, ErrorCode, mint_token, mint_token_for};
use cosigner_core::{JwtConfig, UserId};

const NOW: u64 = 1_750_000_000;
const SECRET: &str = "test-jwt-secret-of-a-comfortable-length-0123456789";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn config() -> JwtConfig {
    JwtConfig {
        issuer: None,
        audience: None,
        jwks_url: None,
        leeway_secs: 30,
    }
}

fn hs256_only() -> Authenticator {
    Authenticator::new(&config(), Some(Secret::new(SECRET))).unwrap()
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs256(claims: &Value, secret: &str) -> String {
    sign(
        Algorithm::HS256,
        None,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).unwrap()
}

fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("ec-private.pem")).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "iat": NOW, "exp": NOW + 600 })
}

/// A JWKS document served over HTTP on a loopback port, counting its fetches.
struct JwksServer {
    url: String,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(document: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&fetches);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let document = document.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        document.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&document).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url, fetches }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn with_jwks(secret: Option<&str>) -> (Authenticator, JwksServer) {
    let server = JwksServer::start(fixture("jwks.json")).await;
    let config = JwtConfig {
        jwks_url: Some(server.url.clone()),
        ..config()
    };
    let auth = Authenticator::new(&config, secret.map(Secret::new)).unwrap();
    (auth, server)
}

fn user(id: &str) -> UserId {
    UserId::new(id).unwrap()
}

#[tokio::test]
async fn a_valid_hs256_token_gives_its_subject() {
    let token = hs256(&claims("auth0|alice"), SECRET);

    let verified = hs256_only().verify_at(&token, NOW + 10).await;

    assert_eq!(verified.unwrap(), user("auth0|alice"));
}

#[tokio::test]
async fn a_minted_token_passes_an_authenticator_of_the_same_configuration() {
    let config = JwtConfig {
        issuer: Some("cosigner-dev".into()),
        audience: Some("cosigner".into()),
        ..config()
    };
    let secret = Secret::new(SECRET);
    let auth = Authenticator::new(&config, Some(secret.clone())).unwrap();
    let bare = mint_token(&secret, &user("bob"), Duration::from_secs(60), NOW).unwrap();
    let full =
        mint_token_for(&config, &secret, &user("bob"), Duration::from_secs(60), NOW).unwrap();

    let without_claims = auth.verify_at(&bare, NOW).await;
    let with_claims = auth.verify_at(&full, NOW).await;

    assert!(matches!(without_claims, Err(AuthError::MissingClaim(c)) if c == "iss" || c == "aud"));
    assert_eq!(with_claims.unwrap(), user("bob"));
}

#[tokio::test]
async fn an_expired_token_is_refused_once_past_the_leeway() {
    let token = hs256(&json!({ "sub": "alice", "exp": NOW }), SECRET);
    let auth = hs256_only();

    let within_leeway = auth.verify_at(&token, NOW + 30).await;
    let past_leeway = auth.verify_at(&token, NOW + 31).await;

    assert!(within_leeway.is_ok());
    assert!(matches!(past_leeway, Err(AuthError::Expired)));
}

#[tokio::test]
async fn a_token_that_is_not_valid_yet_is_refused() {
    let token = hs256(
        &json!({ "sub": "alice", "nbf": NOW + 300, "exp": NOW + 900 }),
        SECRET,
    );
    let auth = hs256_only();

    let early = auth.verify_at(&token, NOW).await;
    let just_inside_leeway = auth.verify_at(&token, NOW + 270).await;

    assert!(matches!(early, Err(AuthError::NotYetValid)));
    assert!(just_inside_leeway.is_ok());
}

#[tokio::test]
async fn a_token_without_expiry_or_subject_is_refused() {
    let auth = hs256_only();

    let no_exp = auth
        .verify_at(&hs256(&json!({ "sub": "alice" }), SECRET), NOW)
        .await;
    let no_sub = auth
        .verify_at(&hs256(&json!({ "exp": NOW + 60 }), SECRET), NOW)
        .await;

    assert!(matches!(no_exp, Err(AuthError::MissingClaim(c)) if c == "exp"));
    assert!(matches!(no_sub, Err(AuthError::MissingClaim(c)) if c == "sub"));
}

#[tokio::test]
async fn a_token_for_another_issuer_or_audience_is_refused() {
    let config = JwtConfig {
        issuer: Some("https://idp.example".into()),
        audience: Some("cosigner".into()),
        ..config()
    };
    let auth = Authenticator::new(&config, Some(Secret::new(SECRET))).unwrap();
    let good =
        json!({ "sub": "a", "exp": NOW + 60, "iss": "https://idp.example", "aud": "cosigner" });
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!(["other-app"]);
    let mut listed_aud = good.clone();
    listed_aud["aud"] = json!(["other-app", "cosigner"]);

    let accepted = auth.verify_at(&hs256(&good, SECRET), NOW).await;
    let issuer = auth.verify_at(&hs256(&wrong_iss, SECRET), NOW).await;
    let audience = auth.verify_at(&hs256(&wrong_aud, SECRET), NOW).await;
    let among_audiences = auth.verify_at(&hs256(&listed_aud, SECRET), NOW).await;

    assert!(accepted.is_ok());
    assert!(matches!(issuer, Err(AuthError::WrongIssuer)));
    assert!(matches!(audience, Err(AuthError::WrongAudience)));
    assert!(among_audiences.is_ok());
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let token = hs256(
        &claims("alice"),
        "a-different-secret-of-the-same-sort-0123456789",
    );

    let verified = hs256_only().verify_at(&token, NOW).await;

    assert!(matches!(verified, Err(AuthError::BadSignature)));
}

#[tokio::test]
async fn an_unsigned_token_with_alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims("alice").to_string());
    let auth = hs256_only();

    let empty_signature = auth.verify_at(&format!("{header}.{payload}."), NOW).await;
    let no_signature = auth.verify_at(&format!("{header}.{payload}"), NOW).await;

    assert!(matches!(empty_signature, Err(AuthError::Malformed(_))));
    assert!(matches!(no_signature, Err(AuthError::Malformed(_))));
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    // The classic confusion: an attacker takes the provider's public key and uses it as an
    // HMAC secret, hoping the verifier feeds the same bytes to HMAC.
    let public_pem = fixture("rsa-public.pem");
    let forged = sign(
        Algorithm::HS256,
        Some("test-rsa-1"),
        &claims("mallory"),
        &EncodingKey::from_secret(&public_pem),
    );
    let (jwks_only, _server) = with_jwks(None).await;
    let (both, _server2) = with_jwks(Some(SECRET)).await;

    let refused_outright = jwks_only.verify_at(&forged, NOW).await;
    let checked_against_the_secret = both.verify_at(&forged, NOW).await;

    assert!(matches!(
        refused_outright,
        Err(AuthError::AlgorithmNotAccepted)
    ));
    assert!(matches!(
        checked_against_the_secret,
        Err(AuthError::BadSignature)
    ));
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_through_the_jwks() {
    let (auth, server) = with_jwks(None).await;
    let rs = sign(
        Algorithm::RS256,
        Some("test-rsa-1"),
        &claims("cognito-user-1"),
        &rsa_key(),
    );
    let es = sign(
        Algorithm::ES256,
        Some("test-ec-1"),
        &claims("cognito-user-2"),
        &ec_key(),
    );

    let rs_user = auth.verify_at(&rs, NOW).await;
    let es_user = auth.verify_at(&es, NOW).await;

    assert_eq!(rs_user.unwrap(), user("cognito-user-1"));
    assert_eq!(es_user.unwrap(), user("cognito-user-2"));
    assert_eq!(server.fetches(), 1, "the JWKS is fetched once and cached");
}

#[tokio::test]
async fn a_token_signed_by_a_key_outside_the_jwks_is_refused() {
    let (auth, _server) = with_jwks(None).await;
    let forger = EncodingKey::from_rsa_pem(&fixture("rsa-other-private.pem")).unwrap();
    let forged = sign(
        Algorithm::RS256,
        Some("test-rsa-1"),
        &claims("alice"),
        &forger,
    );

    let verified = auth.verify_at(&forged, NOW).await;

    assert!(matches!(verified, Err(AuthError::BadSignature)));
}

#[tokio::test]
async fn a_token_whose_algorithm_does_not_fit_its_key_is_refused() {
    let (auth, _server) = with_jwks(None).await;
    // Signed with the RSA key, but naming the EC key's id.
    let token = sign(
        Algorithm::RS256,
        Some("test-ec-1"),
        &claims("alice"),
        &rsa_key(),
    );

    let verified = auth.verify_at(&token, NOW).await;

    assert!(matches!(verified, Err(AuthError::KeyMismatch)));
}

#[tokio::test]
async fn jwks_tokens_must_name_their_key() {
    let (auth, _server) = with_jwks(None).await;
    let token = sign(Algorithm::RS256, None, &claims("alice"), &rsa_key());

    let verified = auth.verify_at(&token, NOW).await;

    assert!(matches!(verified, Err(AuthError::MissingKeyId)));
}

#[tokio::test]
async fn an_unknown_key_id_refetches_the_jwks_at_most_once_a_minute() {
    let (auth, server) = with_jwks(None).await;
    let known = sign(
        Algorithm::RS256,
        Some("test-rsa-1"),
        &claims("a"),
        &rsa_key(),
    );
    let unknown = sign(
        Algorithm::RS256,
        Some("rotated-in-later"),
        &claims("a"),
        &rsa_key(),
    );

    auth.verify_at(&known, NOW).await.unwrap();
    let first = auth.verify_at(&unknown, NOW + 1).await;
    let burst: Vec<_> = verify_repeatedly(&auth, &unknown, NOW + 2, 20).await;
    let fetches_within_the_minute = server.fetches();
    let after_a_minute = auth.verify_at(&unknown, NOW + 61).await;

    assert!(matches!(first, Err(AuthError::UnknownKey)));
    assert!(
        burst
            .iter()
            .all(|r| matches!(r, Err(AuthError::UnknownKey)))
    );
    assert_eq!(fetches_within_the_minute, 1);
    assert!(matches!(after_a_minute, Err(AuthError::UnknownKey)));
    assert_eq!(server.fetches(), 2);
}

async fn verify_repeatedly(
    auth: &Authenticator,
    token: &str,
    now: u64,
    count: usize,
) -> Vec<Result<UserId, AuthError>> {
    let mut results = Vec::with_capacity(count);
    for _ in 0..count {
        results.push(auth.verify_at(token, now).await);
    }
    results
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_503_not_a_401() {
    // Bind and drop a listener so the port is very likely closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = JwtConfig {
        jwks_url: Some(format!("http://127.0.0.1:{port}/jwks")),
        ..config()
    };
    let auth = Authenticator::new(&config, None).unwrap();
    let token = sign(
        Algorithm::RS256,
        Some("test-rsa-1"),
        &claims("alice"),
        &rsa_key(),
    );

    let verified = auth.verify_at(&token, NOW).await;

    let err = verified.unwrap_err();
    assert!(matches!(err, AuthError::KeysUnavailable(_)));
    assert_eq!(ApiError::from(err).code, ErrorCode::Unavailable);
}

#[tokio::test]
async fn a_subject_that_is_not_a_usable_user_id_is_refused() {
    let auth = hs256_only();

    let slash = auth.verify_at(&hs256(&claims("a/../b"), SECRET), NOW).await;
    let empty = auth.verify_at(&hs256(&claims(""), SECRET), NOW).await;

    assert!(matches!(slash, Err(AuthError::InvalidSubject)));
    assert!(matches!(empty, Err(AuthError::InvalidSubject)));
}

#[tokio::test]
async fn hs256_is_refused_when_only_a_jwks_is_configured() {
    let (auth, _server) = with_jwks(None).await;

    let verified = auth.verify_at(&hs256(&claims("alice"), SECRET), NOW).await;

    assert!(matches!(verified, Err(AuthError::AlgorithmNotAccepted)));
}

#[tokio::test]
async fn other_algorithms_are_refused_even_with_a_good_key() {
    let (auth, _server) = with_jwks(Some(SECRET)).await;
    let hs512 = sign(
        Algorithm::HS512,
        None,
        &claims("a"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    );
    let rs512 = sign(
        Algorithm::RS512,
        Some("test-rsa-1"),
        &claims("a"),
        &rsa_key(),
    );

    let hmac = auth.verify_at(&hs512, NOW).await;
    let rsa = auth.verify_at(&rs512, NOW).await;

    assert!(matches!(hmac, Err(AuthError::AlgorithmNotAccepted)));
    assert!(matches!(rsa, Err(AuthError::AlgorithmNotAccepted)));
}

#[tokio::test]
async fn refusals_are_401s_that_never_repeat_the_token() {
    let auth = hs256_only();
    let tokens = [
        hs256(&claims("alice"), "wrong-secret-wrong-secret-wrong-secret"),
        hs256(&json!({ "sub": "alice", "exp": NOW - 3600 }), SECRET),
        "not.a.jwt".to_owned(),
        "x".repeat(10_000),
    ];

    for token in tokens {
        let err = auth.verify_at(&token, NOW).await.unwrap_err();

        let response = ApiError::from(err).into_response("req-1");
        let body = String::from_utf8(response.body).unwrap();
        assert_eq!(response.status, 401, "{body}");
        assert!(!body.contains(&token[..token.len().min(40)]), "{body}");
    }
}

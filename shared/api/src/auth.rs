//! Who is calling: bearer tokens (JWTs) verified into a [`UserId`].
//!
//! Two kinds of token are accepted, each only when configured: HS256 tokens signed with the
//! app's `jwt_secret`, and RS256/ES256 tokens signed by an identity provider (Cognito, Auth0
//! and the like) whose public keys are published as a JWKS document at `AUTH_JWKS_URL`.
//! The key is always chosen by the configuration and the token's `kid`, never by what the
//! token's header claims about itself, so a token cannot pick an HMAC check against a public
//! key ("algorithm confusion") or skip the signature with `alg: none`.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::{debug, warn};

use cos_sign::Secret;
use cosigner_core::{Clock, JwtConfig, SystemClock, UserId};

use crate::{ApiError, ErrorCode};

/// Tokens longer than this are refused before any parsing: no honest JWT comes close.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A JWKS document larger than this is refused: real ones hold a handful of keys.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// After a successful fetch, an unknown `kid` triggers another fetch at most this often, so
/// forged tokens with random key ids cannot turn us into a flood against the provider.
const JWKS_REFETCH_SECS: u64 = 60;

/// After a failed fetch, the next try waits this long: short, so a cold start that met a
/// network hiccup recovers quickly, but not zero, so a down provider is not hammered.
const JWKS_RETRY_SECS: u64 = 5;

/// How long one JWKS fetch may take; an authorizer has a few seconds in all.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a token was refused, or why the authenticator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Neither a JWT secret nor a JWKS URL is configured: nothing could ever verify.
    #[error("no way to verify tokens is configured: set the jwt_secret or AUTH_JWKS_URL")]
    NotConfigured,
    /// `AUTH_JWKS_URL` is not an http(s) URL.
    #[error("AUTH_JWKS_URL is not an http(s) URL")]
    BadJwksUrl,
    /// The HTTP client for the JWKS could not be built.
    #[error("the HTTP client for the JWKS could not be built")]
    Client(#[source] reqwest::Error),
    /// The request carries no bearer token.
    #[error("a bearer token is required")]
    Missing,
    /// The token is not a well-formed JWT.
    #[error("the bearer token is malformed")]
    Malformed(#[source] Option<jsonwebtoken::errors::Error>),
    /// The token's algorithm is not one this deployment accepts.
    #[error("the token's signing algorithm is not accepted")]
    AlgorithmNotAccepted,
    /// The token names no key (`kid`) although it must be checked against the JWKS.
    #[error("the token does not name its signing key (kid)")]
    MissingKeyId,
    /// The JWKS holds no key with the token's `kid`.
    #[error("the token's signing key is not known")]
    UnknownKey,
    /// The key with the token's `kid` is not of the kind the token's algorithm needs.
    #[error("the token's algorithm does not match its signing key")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// A claim the deployment requires is absent.
    #[error("the token lacks the {0} claim")]
    MissingClaim(String),
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not include the configured audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `sub` is not a usable user id.
    #[error("the token's subject is not a usable user id")]
    InvalidSubject,
    /// The JWKS document could not be fetched or read; the token may be fine.
    #[error("the signing keys could not be fetched")]
    KeysUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A token could not be minted.
    #[error("the token could not be minted")]
    Mint(#[source] jsonwebtoken::errors::Error),
}

impl AuthError {
    /// Whether the fault lies with the token (a 401) rather than with us or the provider.
    pub fn is_caller_fault(&self) -> bool {
        !matches!(
            self,
            Self::NotConfigured
                | Self::BadJwksUrl
                | Self::Client(_)
                | Self::KeysUnavailable(_)
                | Self::Mint(_)
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        if err.is_caller_fault() {
            return ApiError::new(ErrorCode::Unauthorized, err.to_string());
        }
        match err {
            AuthError::KeysUnavailable(_) => ApiError::new(
                ErrorCode::Unavailable,
                "the identity provider's keys could not be fetched; try again shortly",
            )
            .retry_after(Duration::from_secs(JWKS_RETRY_SECS))
            .with_cause(err),
            other => ApiError::internal(other),
        }
    }
}

/// The claims we read; everything else in a token is ignored. All optional here so that a
/// missing one is reported by name by the validation, not as a parse failure.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
}

/// The claims [`mint_token`] writes.
#[derive(Debug, Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// Verifies bearer tokens. Build it once per cold start; it is cheap to share.
pub struct Authenticator {
    hs256: Option<Secret>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_secs: u64,
    jwks: Option<JwksCache>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("hs256", &self.hs256.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks", &self.jwks.as_ref().map(|j| &j.url))
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator for the configured issuer, audience and JWKS, with `jwt_secret` for
    /// HS256 tokens when there is one. The JWKS is fetched on first use, not here, so a
    /// cold start does not wait on the identity provider.
    ///
    /// # Errors
    ///
    /// [`AuthError::NotConfigured`] when there is neither a secret nor a JWKS URL,
    /// [`AuthError::BadJwksUrl`] for a URL that is not http(s), [`AuthError::Client`] when
    /// the HTTP client cannot be built.
    pub fn new(config: &JwtConfig, jwt_secret: Option<Secret>) -> Result<Self, AuthError> {
        let hs256 = jwt_secret.filter(|s| !s.is_empty());
        if let Some(secret) = &hs256
            && secret.expose_bytes().len() < 32
        {
            warn!("the JWT secret is shorter than 32 bytes; HS256 tokens are easier to forge");
        }
        let jwks = match &config.jwks_url {
            None => None,
            Some(url) => Some(JwksCache::new(url)?),
        };
        if hs256.is_none() && jwks.is_none() {
            return Err(AuthError::NotConfigured);
        }
        Ok(Self {
            hs256,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway_secs: config.leeway_secs,
            jwks,
        })
    }

    /// The names of the accepted algorithms, for the cold-start log line.
    pub fn accepted_algorithms(&self) -> Vec<&'static str> {
        let mut algs = Vec::new();
        if self.hs256.is_some() {
            algs.push("HS256");
        }
        if self.jwks.is_some() {
            algs.extend(["RS256", "ES256"]);
        }
        algs
    }

    /// Verifies a token against the system clock.
    ///
    /// # Errors
    ///
    /// See [`Authenticator::verify_at`].
    pub async fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        self.verify_at(token, SystemClock.now()).await
    }

    /// Verifies a token at `now` (Unix seconds) and returns its subject.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] saying what is wrong with the token (every such error is a 401 and
    /// never repeats the token), or [`AuthError::KeysUnavailable`] when the JWKS could not be
    /// fetched.
    pub async fn verify_at(&self, token: &str, now: u64) -> Result<UserId, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed(None));
        }
        // An unknown `alg` (including "none") fails here: the header type has no such variant.
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(Some(e)))?;

        let key = match header.alg {
            Algorithm::HS256 => match &self.hs256 {
                Some(secret) => DecodingKey::from_secret(secret.expose_bytes()),
                None => return Err(AuthError::AlgorithmNotAccepted),
            },
            Algorithm::RS256 | Algorithm::ES256 => match &self.jwks {
                Some(jwks) => {
                    // Limitation: a JWKS token must name its key; providers that sign
                    // without a `kid` (rare: Cognito, Auth0, Okta and Entra all send one)
                    // are refused rather than tried against every key.
                    let kid = header.kid.as_deref().ok_or(AuthError::MissingKeyId)?;
                    jwks.key_for(kid, header.alg, now).await?
                }
                None => return Err(AuthError::AlgorithmNotAccepted),
            },
            _ => return Err(AuthError::AlgorithmNotAccepted),
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation(header.alg))
            .map_err(map_decode_error)?
            .claims;

        let exp = claims
            .exp
            .ok_or_else(|| AuthError::MissingClaim("exp".into()))?;
        if now > exp.saturating_add(self.leeway_secs) {
            return Err(AuthError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway_secs))
        {
            return Err(AuthError::NotYetValid);
        }
        let sub = claims
            .sub
            .ok_or_else(|| AuthError::MissingClaim("sub".into()))?;
        UserId::new(sub).map_err(|_| AuthError::InvalidSubject)
    }

    /// What `jsonwebtoken` checks for us: the one algorithm, the signature, the presence of
    /// the claims we need, `iss` and `aud`. Times are checked by us against the `now` we
    /// were given, so tests and the twin `verify` agree.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Without a configured audience a token's `aud` is not ours to judge.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

fn map_decode_error(err: jsonwebtoken::errors::Error) -> AuthError {
    match err.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAccepted,
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            AuthError::KeyMismatch
        }
        _ => AuthError::Malformed(Some(err)),
    }
}

/// The token in an `Authorization` header value: `Bearer <token>`, scheme in any case.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An HS256 token for `user`, valid from `now` for `ttl`: for local development and tests,
/// where no identity provider runs.
///
/// # Errors
///
/// [`AuthError::Mint`] if the token cannot be encoded (an empty secret, for one).
pub fn mint_token(
    secret: &Secret,
    user: &UserId,
    ttl: Duration,
    now: u64,
) -> Result<String, AuthError> {
    mint(secret, user, ttl, now, None, None)
}

/// Like [`mint_token`], with the configured `iss` and `aud`, so the token passes an
/// authenticator built from the same configuration.
///
/// # Errors
///
/// [`AuthError::Mint`] if the token cannot be encoded.
pub fn mint_token_for(
    config: &JwtConfig,
    secret: &Secret,
    user: &UserId,
    ttl: Duration,
    now: u64,
) -> Result<String, AuthError> {
    mint(
        secret,
        user,
        ttl,
        now,
        config.issuer.as_deref(),
        config.audience.as_deref(),
    )
}

fn mint(
    secret: &Secret,
    user: &UserId,
    ttl: Duration,
    now: u64,
    iss: Option<&str>,
    aud: Option<&str>,
) -> Result<String, AuthError> {
    if secret.is_empty() {
        return Err(AuthError::Mint(ErrorKind::InvalidKeyFormat.into()));
    }
    let claims = MintedClaims {
        sub: user.as_str(),
        iat: now,
        nbf: now,
        exp: now.saturating_add(ttl.as_secs()),
        iss,
        aud,
    };
    let key = EncodingKey::from_secret(secret.expose_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(AuthError::Mint)
}

/// A verification key from the JWKS, with the one algorithm it may verify.
#[derive(Clone)]
struct PublishedKey {
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Default)]
struct JwksState {
    keys: HashMap<String, PublishedKey>,
    /// When to allow the next fetch (Unix seconds); `None` before the first.
    next_fetch_at: Option<u64>,
}

/// The identity provider's public keys, fetched on demand and cached for the life of the
/// process.
struct JwksCache {
    url: String,
    client: reqwest::Client,
    // A mutex rather than a read-write lock: a Lambda instance serves one request at a time,
    // and holding it across a fetch makes concurrent callers share one fetch.
    state: Mutex<JwksState>,
}

impl JwksCache {
    fn new(url: &str) -> Result<Self, AuthError> {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(AuthError::BadJwksUrl);
        }
        let client = reqwest::Client::builder()
            .timeout(JWKS_TIMEOUT)
            .build()
            .map_err(AuthError::Client)?;
        Ok(Self {
            url: url.to_owned(),
            client,
            state: Mutex::new(JwksState::default()),
        })
    }

    /// The key for `kid`, fetching the document when the key is unknown and the last fetch
    /// is old enough.
    async fn key_for(&self, kid: &str, alg: Algorithm, now: u64) -> Result<DecodingKey, AuthError> {
        let mut state = self.state.lock().await;
        if !state.keys.contains_key(kid) && state.next_fetch_at.is_none_or(|at| now >= at) {
            match self.fetch().await {
                Ok(keys) => {
                    debug!(keys = keys.len(), "fetched the JWKS");
                    state.keys = keys;
                    state.next_fetch_at = Some(now.saturating_add(JWKS_REFETCH_SECS));
                }
                Err(err) => {
                    state.next_fetch_at = Some(now.saturating_add(JWKS_RETRY_SECS));
                    return Err(err);
                }
            }
        }
        let published = state.keys.get(kid).ok_or(AuthError::UnknownKey)?;
        if published.alg != alg {
            return Err(AuthError::KeyMismatch);
        }
        Ok(published.key.clone())
    }

    async fn fetch(&self) -> Result<HashMap<String, PublishedKey>, AuthError> {
        let unavailable = |e: reqwest::Error| AuthError::KeysUnavailable(Box::new(e));
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(AuthError::KeysUnavailable(
                "the JWKS document is too large".into(),
            ));
        }
        let body = response.bytes().await.map_err(unavailable)?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(AuthError::KeysUnavailable(
                "the JWKS document is too large".into(),
            ));
        }
        parse_jwks(&body)
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

/// The usable signing keys of a JWKS document, by `kid`.
///
/// Keys are read one by one so that one key of a kind we do not know (a new curve, an
/// encryption key) does not hide the others.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, PublishedKey>, AuthError> {
    let raw: RawJwks =
        serde_json::from_slice(body).map_err(|e| AuthError::KeysUnavailable(Box::new(e)))?;
    let mut keys = HashMap::new();
    for value in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            debug!("skipped a JWKS entry that is not a key we can read");
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            debug!("skipped a JWKS key without a kid");
            continue;
        };
        match published_key(&jwk) {
            Some(key) => {
                keys.insert(kid, key);
            }
            None => debug!(
                kid,
                "skipped a JWKS key that is not an RS256 or ES256 signing key"
            ),
        }
    }
    Ok(keys)
}

/// The algorithm a JWK may verify, from its type and curve; its own `alg`, when present, must
/// agree. HMAC ("oct") keys are never taken from a JWKS.
fn published_key(jwk: &Jwk) -> Option<PublishedKey> {
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    if !declared_ok {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(PublishedKey { alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> JwtConfig {
        JwtConfig {
            issuer: None,
            audience: None,
            jwks_url: None,
            leeway_secs: 30,
        }
    }

    fn user(id: &str) -> UserId {
        UserId::new(id).unwrap()
    }

    #[test]
    fn bearer_tokens_are_found_whatever_the_scheme_case() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[test]
    fn an_authenticator_needs_a_secret_or_a_jwks() {
        let none = Authenticator::new(&config(), None);
        let empty = Authenticator::new(&config(), Some(Secret::new("")));
        let bad_url = Authenticator::new(
            &JwtConfig {
                jwks_url: Some("file:///etc/passwd".into()),
                ..config()
            },
            None,
        );

        assert!(matches!(none, Err(AuthError::NotConfigured)));
        assert!(matches!(empty, Err(AuthError::NotConfigured)));
        assert!(matches!(bad_url, Err(AuthError::BadJwksUrl)));
    }

    #[tokio::test]
    async fn a_minted_token_verifies_until_it_expires() {
        let secret = Secret::new("a-test-secret-that-is-long-enough-0123");
        let auth = Authenticator::new(&config(), Some(secret.clone())).unwrap();
        let token = mint_token(&secret, &user("alice"), Duration::from_secs(600), 1_000).unwrap();

        let fresh = auth.verify_at(&token, 1_100).await;
        let late = auth.verify_at(&token, 1_000 + 600 + 31).await;

        assert_eq!(fresh.unwrap(), user("alice"));
        assert!(matches!(late, Err(AuthError::Expired)));
    }

    #[test]
    fn caller_faults_are_401_and_provider_faults_503() {
        let unauthorized: ApiError = AuthError::BadSignature.into();
        let unavailable: ApiError = AuthError::KeysUnavailable("down".into()).into();

        assert_eq!(unauthorized.code, ErrorCode::Unauthorized);
        assert_eq!(unavailable.code, ErrorCode::Unavailable);
        assert!(unavailable.retry_after.is_some());
    }

    #[test]
    fn jwks_keys_of_other_kinds_are_skipped() {
        let doc = br#"{"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "no-alg-match", "alg": "RS512", "n": "AQAB", "e": "AQAB"},
            {"kty": "weird", "kid": "x"},
            {"kty": "EC", "kid": "ec", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]}"#;

        let keys = parse_jwks(doc).unwrap();

        assert_eq!(keys.len(), 1);
        assert_eq!(keys["ec"].alg, Algorithm::ES256);
    }
}

//! COS signing and verification, without I/O.
//!
//! Everything a Tencent Cloud COS client or store needs to sign or check a request: the
//! XML API request signature (`Authorization` header), presigned URLs, POST Object form
//! policies, and the legacy v4 tokens of the JSON API. No clock is read, no environment,
//! no network, no logging: callers pass the time and the secrets, and get strings back.
//!
//! # Layout
//!
//! One module per step of the algorithm, in the order a signature is made:
//!
//! - [`encode`]: COS's percent-encoding (RFC 3986 unreserved set, `%20` for space).
//! - `key_time`: the validity window, `<start>;<end>`.
//! - `canonical`: signed pairs and the HttpString.
//! - `signature`: SignKey, StringToSign and Signature, the three HMAC-SHA1 steps.
//! - `authorization`: the seven `q-*` fields, formatted and parsed.
//! - `request`: [`RequestToSign`], the entry point for header signatures.
//! - `presign`: [`Endpoint`] and presigned URLs.
//! - `post_policy`: [`PostPolicy`] and the fields of a browser form upload.
//! - `v4`: legacy JSON API tokens.
//! - `verify`: the other side of all of the above, for a store.
//! - `secret`: [`Secret`] and [`Credentials`], zeroed on drop and never printed.

pub mod encode;

mod authorization;
mod canonical;
mod error;
mod key_time;
mod post_policy;
mod presign;
mod request;
mod secret;
mod signature;
mod v4;
mod verify;

pub use authorization::Authorization;
pub use canonical::PairOrder;
pub use error::{SignError, VerifyError};
pub use key_time::KeyTime;
pub use post_policy::{Condition, PostForm, PostPolicy, sign_post_policy};
pub use presign::Endpoint;
pub use request::{RequestSignature, RequestToSign, SECURITY_TOKEN, signed_by_default};
pub use secret::{Credentials, Secret};
pub use v4::{DecodedV4, MAX_RAND, V4Claims, decode_v4, sign_v4_plaintext, v4_fileid, verify_v4};
pub use verify::{
    Carrier, ReceivedRequest, Verified, VerifiedPost, parse_query, verify_post_form, verify_request,
};

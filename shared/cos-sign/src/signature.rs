//! The three HMAC steps shared by every v5 signature: SignKey, StringToSign, Signature.

use std::ops::Deref;

use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use zeroize::Zeroize;

use crate::Secret;

type HmacSha1 = Hmac<Sha1>;

/// HMAC-SHA1 of `message` under `key`.
pub(crate) fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha1::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex of a 20-byte digest. `hex::encode_to_slice` writes into a stack buffer;
/// `hex::encode`'s per-character iterator costs as much as a SHA-1 block here.
pub(crate) fn hex20(bytes: &[u8; 20]) -> String {
    let mut out = String::with_capacity(40);
    push_hex(&mut out, bytes);
    out
}

fn push_hex(out: &mut String, bytes: &[u8; 20]) {
    let mut buffer = [0u8; 40];
    out.push_str(hex_into(bytes, &mut buffer));
}

/// Writes the 40 hex digits of `bytes` into `buffer` and returns them as text.
fn hex_into<'b>(bytes: &[u8; 20], buffer: &'b mut [u8; 40]) -> &'b str {
    // 20 bytes always fit 40 hex digits, and hex digits are ASCII.
    if hex::encode_to_slice(bytes, buffer).is_err() {
        return "";
    }
    std::str::from_utf8(buffer).unwrap_or_default()
}

/// A SignKey: 40 hex digits, kept on the stack and zeroed on drop, since it signs anything
/// for its window as well as the secret key would.
pub(crate) struct SignKey([u8; 40]);

impl Deref for SignKey {
    type Target = str;

    fn deref(&self) -> &str {
        // Only `sign_key` makes one, from hex digits.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Drop for SignKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `SignKey = hex(HMAC(SecretKey, KeyTime))`.
pub(crate) fn sign_key(secret_key: &Secret, key_time: &str) -> SignKey {
    let mut digest = hmac_sha1(secret_key.expose_bytes(), key_time.as_bytes());
    let mut key = SignKey([0u8; 40]);
    hex_into(&digest, &mut key.0);
    digest.zeroize();
    key
}

/// `StringToSign = "sha1\n" + KeyTime + "\n" + hex(SHA1(HttpString)) + "\n"`.
pub(crate) fn string_to_sign(key_time: &str, http_string: &str) -> String {
    let mut out = String::with_capacity(5 + key_time.len() + 1 + 40 + 1);
    out.push_str("sha1\n");
    out.push_str(key_time);
    out.push('\n');
    push_hex(&mut out, &Sha1::digest(http_string.as_bytes()).into());
    out.push('\n');
    out
}

/// `Signature = hex(HMAC(SignKey, StringToSign))`.
///
/// Trap: the HMAC key is the 40 ASCII characters of the hex SignKey, not its 20 raw bytes.
pub(crate) fn signature(sign_key_hex: &str, string_to_sign: &str) -> String {
    hex20(&hmac_sha1(
        sign_key_hex.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// Hex SHA-1 of some bytes: the StringToSign of a POST form is this over its policy.
pub(crate) fn sha1_hex(bytes: &[u8]) -> String {
    hex20(&Sha1::digest(bytes).into())
}

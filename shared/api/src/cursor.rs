//! The list cursor: opaque to terminals, and bound to its user so it can be neither forged
//! nor used by anyone else.
//!
//! A cursor is `base64url(file id (16 bytes) ‖ HMAC-SHA256(cursor secret, user id ‖ 0 ‖ file
//! id))`. The zero byte cannot occur in a user id, so no two (user, file) pairs hash the same
//! input.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use ulid::Ulid;

use cos_sign::Secret;
use cosigner_core::{FileId, UserId};

use crate::{ApiError, ErrorCode};

const ID_BYTES: usize = 16;
const TAG_BYTES: usize = 32;

/// A cursor that continues `user`'s list after `after`.
pub(crate) fn encode(secret: &Secret, user: &UserId, after: FileId) -> String {
    let id = after.ulid().to_bytes();
    let tag = mac(secret, user, &id).finalize().into_bytes();

    let mut bytes = Vec::with_capacity(ID_BYTES + TAG_BYTES);
    bytes.extend_from_slice(&id);
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The file id a cursor continues after, if it was made by this server for this user.
///
/// # Errors
///
/// An [`ErrorCode::InvalidCursor`] for anything else, whatever is wrong with it.
pub(crate) fn decode(secret: &Secret, user: &UserId, text: &str) -> Result<FileId, ApiError> {
    let invalid = || ApiError::new(ErrorCode::InvalidCursor, "the cursor is not valid here");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    if bytes.len() != ID_BYTES + TAG_BYTES {
        return Err(invalid());
    }
    let (id, tag) = bytes.split_at(ID_BYTES);
    mac(secret, user, id)
        .verify_slice(tag)
        .map_err(|_| invalid())?;

    let id: [u8; ID_BYTES] = id.try_into().map_err(|_| invalid())?;
    Ulid::from_bytes(id)
        .to_string()
        .parse()
        .map_err(|_| invalid())
}

fn mac(secret: &Secret, user: &UserId, id: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(user.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(id);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("cursor-secret")
    }

    #[test]
    fn a_cursor_round_trips_for_its_user() {
        let user = UserId::new("alice").unwrap();
        let id = FileId::generate(1_700_000_000_000);

        let cursor = encode(&secret(), &user, id);

        assert_eq!(decode(&secret(), &user, &cursor).unwrap(), id);
        assert!(!cursor.contains(['+', '/', '=']));
    }

    #[test]
    fn another_users_cursor_is_refused() {
        let alice = UserId::new("alice").unwrap();
        let bob = UserId::new("bob").unwrap();
        let cursor = encode(&secret(), &alice, FileId::generate(1));

        let err = decode(&secret(), &bob, &cursor).unwrap_err();

        assert_eq!(err.code, ErrorCode::InvalidCursor);
    }

    #[test]
    fn a_tampered_or_truncated_cursor_is_refused() {
        let user = UserId::new("alice").unwrap();
        let cursor = encode(&secret(), &user, FileId::generate(1));
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[3] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);

        for bad in [
            tampered.as_str(),
            &cursor[..cursor.len() - 2],
            "",
            "!!!",
            "AAAA",
        ] {
            assert!(decode(&secret(), &user, bad).is_err(), "{bad:?}");
        }
        assert!(decode(&Secret::new("other"), &user, &cursor).is_err());
    }
}

//! Records to items and back.

use std::fmt::Display;

use aws_sdk_dynamodb::types::AttributeValue;
use cosigner_core::{FileId, FileRecord, FileState, TableError, UploadKind, UserId, UserRecord};

use crate::errors::Item;
use crate::schema::{
    FILE_PREFIX, PENDING_PARTITION, PENDING_PARTITION_ATTRIBUTE, PENDING_SORT_ATTRIBUTE, PK,
    PROFILE, SK, file_sk, user_pk,
};

// Attribute names. Several (`size`, `state`, `name`, `key`) are DynamoDB reserved words,
// so every expression refers to attributes through `#` placeholders.
pub(crate) const QUOTA: &str = "quota_bytes";
pub(crate) const USED: &str = "used_bytes";
pub(crate) const RESERVED: &str = "reserved_bytes";
pub(crate) const FREE: &str = "free_bytes";
pub(crate) const FILE_COUNT: &str = "file_count";
pub(crate) const PENDING_COUNT: &str = "pending_count";
pub(crate) const CREATED_AT: &str = "created_at";
pub(crate) const OBJECT_KEY: &str = "object_key";
pub(crate) const NAME: &str = "name";
pub(crate) const SIZE: &str = "size";
pub(crate) const CONTENT_TYPE: &str = "content_type";
pub(crate) const CONTENT_MD5: &str = "content_md5";
pub(crate) const STATE: &str = "state";
pub(crate) const UPLOAD: &str = "upload";
pub(crate) const UPLOAD_ID: &str = "upload_id";
pub(crate) const PART_SIZE: &str = "part_size";
pub(crate) const ETAG: &str = "etag";
pub(crate) const EXPIRES_AT: &str = "expires_at";

/// A string attribute.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute (DynamoDB numbers travel as decimal text, signed).
pub(crate) fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The key of a user's profile.
pub(crate) fn user_key(user: &UserId) -> Item {
    Item::from([
        (PK.to_owned(), s(user_pk(user.as_str()))),
        (SK.to_owned(), s(PROFILE)),
    ])
}

/// The key of a file.
pub(crate) fn file_key(user: &UserId, file: FileId) -> Item {
    Item::from([
        (PK.to_owned(), s(user_pk(user.as_str()))),
        (SK.to_owned(), s(file_sk(&file.to_string()))),
    ])
}

/// A new profile, with `free_bytes` set to match its counters.
pub(crate) fn user_item(user: &UserRecord) -> Item {
    let free = i128::from(user.quota_bytes)
        - i128::from(user.used_bytes)
        - i128::from(user.reserved_bytes);
    let mut item = user_key(&user.user);
    item.extend([
        (QUOTA.to_owned(), n(user.quota_bytes)),
        (USED.to_owned(), n(user.used_bytes)),
        (RESERVED.to_owned(), n(user.reserved_bytes)),
        (FREE.to_owned(), n(free)),
        (FILE_COUNT.to_owned(), n(user.file_count)),
        (PENDING_COUNT.to_owned(), n(user.pending_count)),
        (CREATED_AT.to_owned(), n(user.created_at)),
    ]);
    item
}

/// A profile read back.
pub(crate) fn user_from_item(item: &Item) -> Result<UserRecord, TableError> {
    let pk = text(item, PK)?;
    let user = pk
        .strip_prefix("USER#")
        .and_then(|id| UserId::new(id).ok())
        .ok_or_else(|| corrupt(PK, "is not USER#<user id>"))?;
    Ok(UserRecord {
        user,
        quota_bytes: number(item, QUOTA)?,
        used_bytes: number(item, USED)?,
        reserved_bytes: number(item, RESERVED)?,
        file_count: number(item, FILE_COUNT)?,
        pending_count: number(item, PENDING_COUNT)?,
        created_at: number(item, CREATED_AT)?,
    })
}

/// A profile's `free_bytes`, which may be negative.
pub(crate) fn free_bytes(item: &Item) -> Result<i128, TableError> {
    signed(item, FREE)
}

/// A file as stored; a pending file carries the keys of the pending index.
pub(crate) fn file_item(file: &FileRecord) -> Item {
    let mut item = file_key(&file.user, file.id);
    item.extend([
        (OBJECT_KEY.to_owned(), s(&file.key)),
        (NAME.to_owned(), s(&file.name)),
        (SIZE.to_owned(), n(file.size)),
        (CONTENT_TYPE.to_owned(), s(&file.content_type)),
        (STATE.to_owned(), s(file.state.as_str())),
        (CREATED_AT.to_owned(), n(file.created_at)),
        (EXPIRES_AT.to_owned(), n(file.expires_at)),
    ]);
    match &file.upload {
        UploadKind::Put => {
            item.insert(UPLOAD.to_owned(), s("put"));
        }
        UploadKind::Post => {
            item.insert(UPLOAD.to_owned(), s("post"));
        }
        UploadKind::Multipart {
            upload_id,
            part_size,
        } => {
            item.insert(UPLOAD.to_owned(), s("multipart"));
            item.insert(UPLOAD_ID.to_owned(), s(upload_id));
            item.insert(PART_SIZE.to_owned(), n(part_size));
        }
    }
    if let Some(md5) = &file.content_md5 {
        item.insert(CONTENT_MD5.to_owned(), s(md5));
    }
    if let Some(etag) = &file.etag {
        item.insert(ETAG.to_owned(), s(etag));
    }
    if file.state == FileState::Pending {
        item.insert(PENDING_PARTITION_ATTRIBUTE.to_owned(), s(PENDING_PARTITION));
        item.insert(PENDING_SORT_ATTRIBUTE.to_owned(), n(file.expires_at));
    }
    item
}

/// A file read back.
pub(crate) fn file_from_item(item: &Item) -> Result<FileRecord, TableError> {
    let user = text(item, PK)?
        .strip_prefix("USER#")
        .and_then(|id| UserId::new(id).ok())
        .ok_or_else(|| corrupt(PK, "is not USER#<user id>"))?;
    let id = text(item, SK)?
        .strip_prefix(FILE_PREFIX)
        .and_then(|id| id.parse::<FileId>().ok())
        .ok_or_else(|| corrupt(SK, "is not FILE#<file id>"))?;
    let state = FileState::parse(text(item, STATE)?).ok_or_else(|| corrupt(STATE, "is unknown"))?;
    let upload = match text(item, UPLOAD)? {
        "put" => UploadKind::Put,
        "post" => UploadKind::Post,
        "multipart" => UploadKind::Multipart {
            upload_id: text(item, UPLOAD_ID)?.to_owned(),
            part_size: number(item, PART_SIZE)?,
        },
        _ => return Err(corrupt(UPLOAD, "is unknown")),
    };
    Ok(FileRecord {
        user,
        id,
        key: text(item, OBJECT_KEY)?.to_owned(),
        name: text(item, NAME)?.to_owned(),
        size: number(item, SIZE)?,
        content_type: text(item, CONTENT_TYPE)?.to_owned(),
        content_md5: optional_text(item, CONTENT_MD5)?,
        state,
        upload,
        etag: optional_text(item, ETAG)?,
        created_at: number(item, CREATED_AT)?,
        expires_at: number(item, EXPIRES_AT)?,
    })
}

fn corrupt(attribute: &str, problem: &str) -> TableError {
    TableError::Corrupt(format!("the attribute {attribute} {problem}"))
}

fn text<'a>(item: &'a Item, attribute: &str) -> Result<&'a str, TableError> {
    match item.get(attribute) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(corrupt(attribute, "is not a string")),
        None => Err(corrupt(attribute, "is missing")),
    }
}

fn optional_text(item: &Item, attribute: &str) -> Result<Option<String>, TableError> {
    match item.get(attribute) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => text(item, attribute).map(|v| Some(v.to_owned())),
    }
}

fn number(item: &Item, attribute: &str) -> Result<u64, TableError> {
    match item.get(attribute) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| corrupt(attribute, "is not a whole number of at least zero")),
        Some(_) => Err(corrupt(attribute, "is not a number")),
        None => Err(corrupt(attribute, "is missing")),
    }
}

fn signed(item: &Item, attribute: &str) -> Result<i128, TableError> {
    match item.get(attribute) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| corrupt(attribute, "is not a whole number")),
        Some(_) => Err(corrupt(attribute, "is not a number")),
        None => Err(corrupt(attribute, "is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: FileState, upload: UploadKind) -> FileRecord {
        FileRecord {
            user: UserId::new("auth0|abc").unwrap(),
            id: FileId::generate(1_700_000_000_000),
            key: "uploads/auth0|abc/x/report.pdf".into(),
            name: "report.pdf".into(),
            size: 1234,
            content_type: "application/pdf".into(),
            content_md5: Some("1B2M2Y8AsgTpgAmY7PhCfg==".into()),
            state,
            upload,
            etag: None,
            created_at: 1_700_000_000,
            expires_at: 1_700_000_900,
        }
    }

    #[test]
    fn a_file_round_trips_in_every_upload_kind() {
        for upload in [
            UploadKind::Put,
            UploadKind::Post,
            UploadKind::Multipart {
                upload_id: "1700000000abc".into(),
                part_size: 8 << 20,
            },
        ] {
            let file = record(FileState::Pending, upload);

            let back = file_from_item(&file_item(&file)).unwrap();

            assert_eq!(back, file);
        }
    }

    #[test]
    fn only_a_pending_file_carries_the_index_keys() {
        let pending = file_item(&record(FileState::Pending, UploadKind::Put));
        let ready = file_item(&record(FileState::Ready, UploadKind::Put));

        assert_eq!(
            pending.get(PENDING_SORT_ATTRIBUTE),
            Some(&n(1_700_000_900u64))
        );
        assert!(pending.contains_key(PENDING_PARTITION_ATTRIBUTE));
        assert!(!ready.contains_key(PENDING_SORT_ATTRIBUTE));
        assert!(!ready.contains_key(PENDING_PARTITION_ATTRIBUTE));
    }

    #[test]
    fn a_new_profile_has_all_its_quota_free() {
        let user = UserRecord::new(UserId::new("u").unwrap(), 1000, 5);

        let item = user_item(&user);

        assert_eq!(free_bytes(&item).unwrap(), 1000);
        assert_eq!(user_from_item(&item).unwrap(), user);
    }

    #[test]
    fn a_negative_counter_is_corrupt_not_a_panic() {
        let mut item = user_item(&UserRecord::new(UserId::new("u").unwrap(), 10, 0));
        item.insert(RESERVED.to_owned(), n(-5));

        let err = user_from_item(&item).unwrap_err();

        assert!(
            matches!(err, TableError::Corrupt(ref m) if m.contains(RESERVED)),
            "{err}"
        );
    }
}

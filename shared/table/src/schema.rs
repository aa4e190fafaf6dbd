//! The table's shape.
//!
//! - A user's profile: `PK = USER#<uid>`, `SK = PROFILE`, with `quota_bytes`, `used_bytes`,
//!   `reserved_bytes`, `free_bytes`, `file_count`, `pending_count` and `created_at`.
//! - A file: `PK = USER#<uid>`, `SK = FILE#<file_id>`, with `object_key`, `name`, `size`,
//!   `content_type`, `content_md5`, `state`, `upload` (`put`, `post` or `multipart`),
//!   `upload_id`, `part_size`, `etag`, `created_at` and `expires_at`.
//!
//! A pending file also carries `pending_pk` (always `PENDING`) and `pending_expires_at`,
//! the keys of the sparse index [`PENDING_INDEX`]: the attributes are removed when the
//! upload leaves `pending`, so the index holds exactly the uploads a sweep may expire.
//! A released file (expired or aborted) carries [`TTL_ATTRIBUTE`], so DynamoDB's time to
//! live removes it a week after its window closed; it holds no bytes, so no counter
//! needs to change when it goes.
//!
//! # The quota condition
//!
//! A reservation must keep `used + reserved + size ≤ quota`. A DynamoDB condition can
//! compare an attribute with a value or another attribute, but cannot add: neither
//! `used_bytes + reserved_bytes + :size <= quota_bytes` nor any rearrangement of it over
//! three attributes can be written. Reading the profile first and conditioning on the
//! values read would work but costs a read and loses every race to a retry.
//!
//! So the profile keeps one more counter, `free_bytes = quota - used - reserved`, and
//! every transaction that moves `used_bytes` or `reserved_bytes` moves `free_bytes` by the
//! opposite amount in the same update expression. The reservation's condition is then
//! the single comparison `free_bytes >= :size`, checked and applied atomically with the
//! new file item. `free_bytes` may go below zero when COS confirms more bytes than were
//! declared (the signature binds the size, so it should not), which only blocks new
//! reservations. Changing a user's quota must move `free_bytes` by the same amount in the
//! same update.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use cosigner_core::TableError;

use crate::errors::{built, from_sdk};

/// The partition key.
pub(crate) const PK: &str = "PK";
/// The sort key.
pub(crate) const SK: &str = "SK";
/// The sort key of a user's profile.
pub(crate) const PROFILE: &str = "PROFILE";
/// The sort-key prefix of a user's files.
pub(crate) const FILE_PREFIX: &str = "FILE#";

/// The sparse index of pending uploads by the end of their window.
pub const PENDING_INDEX: &str = "pending-by-expiry";
/// The index's partition key: one constant value, so one query reads pending uploads
/// of every user in order.
pub const PENDING_PARTITION_ATTRIBUTE: &str = "pending_pk";
/// The index's sort key: Unix seconds when the upload's window closes.
pub const PENDING_SORT_ATTRIBUTE: &str = "pending_expires_at";
/// The value of [`PENDING_PARTITION_ATTRIBUTE`].
pub(crate) const PENDING_PARTITION: &str = "PENDING";
/// The time-to-live attribute (Unix seconds) of released files.
pub const TTL_ATTRIBUTE: &str = "expire_ttl";
/// How long a released file stays readable after its window closed.
pub(crate) const RELEASED_RETENTION_SECS: u64 = 7 * 24 * 3600;

/// The partition key of a user.
pub(crate) fn user_pk(user: &str) -> String {
    format!("USER#{user}")
}

/// The sort key of a file.
pub(crate) fn file_sk(file: &str) -> String {
    format!("{FILE_PREFIX}{file}")
}

/// Creates the table with its index, on-demand billing and time to live, and waits until
/// it is active. A table that already exists is left as it is.
///
/// The deployment creates the table from its template; this is for the local stack and
/// the tests, and spells out the same shape.
///
/// # Errors
///
/// [`TableError::Unavailable`] when the table cannot be created or does not become active
/// within a minute.
pub async fn create_table(client: &Client, name: &str) -> Result<(), TableError> {
    // Limitation: every pending upload lands in one partition of the index. DynamoDB
    // spreads an index partition's writes only up to its per-partition limit (about a
    // thousand writes a second); a busier deployment would shard the constant key.
    let key = |attribute: &str, kind: KeyType| {
        built(
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(kind)
                .build(),
        )
    };
    let attribute = |attribute: &str, kind: ScalarAttributeType| {
        built(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(kind)
                .build(),
        )
    };
    let index = built(
        GlobalSecondaryIndex::builder()
            .index_name(PENDING_INDEX)
            .key_schema(key(PENDING_PARTITION_ATTRIBUTE, KeyType::Hash)?)
            .key_schema(key(PENDING_SORT_ATTRIBUTE, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build(),
    )?;

    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(SK, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(
            PENDING_PARTITION_ATTRIBUTE,
            ScalarAttributeType::S,
        )?)
        .attribute_definitions(attribute(PENDING_SORT_ATTRIBUTE, ScalarAttributeType::N)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(index)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(err) => return Err(from_sdk(err)),
    }

    wait_until_active(client, name).await?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(built(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build(),
        )?)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

async fn wait_until_active(client: &Client, name: &str) -> Result<(), TableError> {
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(from_sdk)?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(TableError::Unavailable(
        format!("the table {name} did not become active within a minute").into(),
    ))
}

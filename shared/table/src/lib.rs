//! The DynamoDB adapter of Cosigner's file table: users' profiles and their files in one
//! table, every change of a file and its user's counters in one conditional transaction.
//!
//! # Layout
//!
//! - `schema`: the table's keys, its index of pending uploads, the attribute names, and
//!   [`create_table`] for local use and tests.
//! - `item`: records to items and back.
//! - `errors`: the SDK's errors as [`TableError`](cosigner_core::TableError)s.
//! - `table`: [`DynamoFileTable`], the [`FileTable`](cosigner_core::FileTable) itself.

mod errors;
mod item;
mod schema;
mod table;

pub use schema::{
    PENDING_INDEX, PENDING_PARTITION_ATTRIBUTE, PENDING_SORT_ATTRIBUTE, TTL_ATTRIBUTE, create_table,
};
pub use table::DynamoFileTable;

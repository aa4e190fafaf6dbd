//! The server's own calls to COS: [`CosClient`] implements `cosigner_core::ObjectStore`
//! (head, delete, and the multipart upload calls) over HTTPS, every request signed with
//! `cos-sign` and the server's key pair.
//!
//! # Layout
//!
//! - `settings`: [`CosSettings`] and [`Addressing`]: the bucket, a custom endpoint such as
//!   `cos-local`, how to name the bucket there, and the timeouts.
//! - `client`: [`CosClient`]: signing, sending, and reading each answer.
//! - `xml`: the multipart and error documents COS sends, and the one we send.
//! - `error`: [`ClientError`], and how a COS error answer becomes a
//!   `cosigner_core::StoreError`: a refused key asks for fresh credentials, `NoSuchUpload`
//!   is its own case, server faults and timeouts are worth a retry, the rest is a refusal.
//!
//! No secret key, signature or `Authorization` value is ever logged or put in an error.

mod client;
mod error;
mod settings;
mod xml;

pub use client::CosClient;
pub use error::ClientError;
pub use settings::{Addressing, CosSettings};

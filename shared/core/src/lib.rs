//! Cosigner's domain, free of any cloud SDK.
//!
//! # Layout
//!
//! - `ids`: [`UserId`] and [`FileId`] (a ULID, so a user's files sort by time).
//! - `name`: turning a terminal's file name into one safe inside an object key.
//! - `content_type`: the allow-list of media types.
//! - `key`: the object-key layout `<prefix>/<uid>/<file_id>/<name>`, both ways.
//! - `record`: the file and user records and the upload state machine.
//! - `quota`: the arithmetic of quota, used and reserved bytes.
//! - `config`: every setting, read from the environment in one place.
//! - `ports`: the traits the adapters implement: the table, the object store, the secret
//!   store and the clock.

mod config;
mod content_type;
mod ids;
mod key;
mod name;
mod ports;
mod quota;
mod record;

pub use config::{Config, ConfigError, CredentialSource, JwtConfig};
pub use content_type::{ContentTypeError, ContentTypes};
pub use ids::{FileId, IdError, UserId};
pub use key::KeyLayout;
pub use name::{NameError, SafeName};
pub use ports::{
    Clock, FileTable, ListPage, ObjectInfo, ObjectStore, Part, SecretError, SecretSource,
    StoreError, SystemClock, TableError, Transition,
};
pub use quota::{Limits, QuotaCheck};
pub use record::{FileRecord, FileState, UploadKind, UserRecord};

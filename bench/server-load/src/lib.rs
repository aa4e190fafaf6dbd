//! Speed of the business server, measured on one machine with release builds: warm
//! `POST /v1/uploads` through its handler beside the table transaction it performs, the
//! cold start of the function binaries, and end-to-end load through the whole local stack
//! beside the floor of talking to `cos-local` directly.
//!
//! Nothing here asserts a time: each measurement prints a Markdown table with its baseline
//! taken in the same run, and `bench/RESULTS-server.md` keeps the figures.
//!
//! # Layout
//!
//! - `stats`: [`Samples`] and [`Summary`], nearest-rank percentiles, ratios, load average.
//! - `handler`: warm `issue-upload` through `dispatch` against `moto_server`, beside the bare
//!   `TransactWriteItems` it performs and the profile read that a user's first upload and a
//!   multipart upload add.
//! - `cold_start`: exec to first poll and to first answer under the local Runtime API, and
//!   the binaries' sizes.
//! - `end_to_end`: N terminals looping sign → PUT → complete → get URL → GET against
//!   `cosigner-local dev`, beside the same PUT and GET with pre-made signatures.
//! - `error`: [`BenchError`].

pub mod cold_start;
pub mod end_to_end;
mod error;
pub mod handler;
pub mod stats;

pub use error::BenchError;
pub use stats::{Samples, Summary, percentile};

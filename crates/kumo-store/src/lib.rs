//! Kumo's storage infrastructure, shared by every service: opening a SQLite file the one way
//! ([`sqlite`]), the group-commit writer ([`group_commit`]), schema migrations
//! ([`migrations`]), what health reports ask of a store ([`health`]), and the content-addressed blob store for code packages and layers. What a
//! service stores lives behind a trait in that service's crate (Lambda's in
//! `kumo_invoke::store`, SQS's in `kumo_sqs::store`, IAM's in `kumo_iam::store`).

mod blobs;
pub mod group_commit;
pub mod health;
mod layered;
pub mod migrations;
pub mod ops_writer;
pub mod sqlite;
mod unzip;

pub use blobs::{BlobStore, CodePackage};
pub use unzip::{extract_zip, inspect_zip, PackageError};

/// Errors from a store; callers map them to `ServiceException` and log the detail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The filesystem failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Stored JSON could not be read back.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

//! What IAM stores, behind [`IamStore`]: JSON documents keyed by kind (`role`, `policy`,
//! `session`) and key, sessions with an expiry. IAM state is small, so it is all loaded at
//! start and written through on every change. Calls block; the service makes them from
//! blocking threads. [`SqliteIamStore`] keeps them in `iam.sqlite3` under the data dir.

mod sqlite;
#[cfg(test)]
mod suite;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use sqlite::SqliteIamStore;

/// IAM's durable documents.
pub trait IamStore: Send + Sync {
    /// Writes a document (replacing one with the same kind and key); `expires_ms` marks it for
    /// [`Self::purge_expired`].
    fn put_document(&self, kind: Kind, key: &str, document: &str, expires_ms: Option<u64>) -> Result<(), StoreError>;

    /// Deletes a document; deleting a missing one is not an error.
    fn delete(&self, kind: Kind, key: &str) -> Result<(), StoreError>;

    /// Every document of a kind as `(key, document)`, by key.
    fn load_documents(&self, kind: Kind) -> Result<Vec<(String, String)>, StoreError>;

    /// Removes documents that expired before `now_ms` (sessions); returns how many went.
    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError>;

    /// `Ok` while writes made now would be kept; otherwise why not (for `/_kumo/health`).
    /// Called on every health poll: O(1), no I/O beyond a `stat`.
    fn health(&self) -> Result<(), String>;
}

impl dyn IamStore {
    /// Writes a record as its JSON document.
    pub fn put<T: Serialize>(
        &self,
        kind: Kind,
        key: &str,
        record: &T,
        expires_ms: Option<u64>,
    ) -> Result<(), StoreError> {
        self.put_document(kind, key, &serde_json::to_string(record)?, expires_ms)
    }

    /// Every record of a kind, by key.
    pub fn load<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<(String, T)>, StoreError> {
        let mut loaded = Vec::new();
        for (key, text) in self.load_documents(kind)? {
            loaded.push((key, serde_json::from_str(&text)?));
        }
        Ok(loaded)
    }
}

/// Kinds of stored documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// [`crate::model::RoleRecord`], keyed `<account>/<lowercase name>`.
    Role,
    /// [`crate::model::PolicyRecord`], keyed by lowercase ARN.
    Policy,
    /// [`crate::model::SessionRecord`], keyed by access key id.
    Session,
}

impl Kind {
    /// The kind's name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::Policy => "policy",
            Kind::Session => "session",
        }
    }
}

/// Why the store failed; the service logs it and answers `ServiceFailure`.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// A document did not (de)serialise.
    Json(serde_json::Error),
    /// The filesystem failed.
    Io(std::io::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlite(error) => write!(f, "sqlite: {error}"),
            StoreError::Json(error) => write!(f, "json: {error}"),
            StoreError::Io(error) => write!(f, "io: {error}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Io(error)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Json(error)
    }
}

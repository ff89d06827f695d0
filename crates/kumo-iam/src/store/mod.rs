//! Durable IAM state in its own SQLite file under the data dir (`iam.sqlite3`): one table of
//! JSON documents keyed by kind (`role`, `policy`, `session`) and key. IAM state is small, so
//! it is all loaded at start and written through on every change. Calls block; the service
//! makes them from blocking threads.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde::de::DeserializeOwned;
use serde::Serialize;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS iam_documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    document TEXT NOT NULL,
    expires_ms INTEGER,
    PRIMARY KEY (kind, key)
);
";

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
    fn as_str(self) -> &'static str {
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
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlite(error) => write!(f, "sqlite: {error}"),
            StoreError::Json(error) => write!(f, "json: {error}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Json(error)
    }
}

/// The IAM database.
pub struct IamStore {
    connection: Mutex<Connection>,
}

impl IamStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(SCHEMA)?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // No statement panics half-way; a poisoned lock still guards a usable connection.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes a document (replacing one with the same key).
    pub fn put<T: Serialize>(
        &self,
        kind: Kind,
        key: &str,
        document: &T,
        expires_ms: Option<u64>,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(document)?;
        let expires = expires_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX));
        self.connection().execute(
            "INSERT OR REPLACE INTO iam_documents (kind, key, document, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![kind.as_str(), key, text, expires],
        )?;
        Ok(())
    }

    /// Deletes a document; deleting a missing one is not an error.
    pub fn delete(&self, kind: Kind, key: &str) -> Result<(), StoreError> {
        self.connection()
            .execute("DELETE FROM iam_documents WHERE kind = ?1 AND key = ?2", params![kind.as_str(), key])?;
        Ok(())
    }

    /// Every document of a kind, by key.
    pub fn load<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<(String, T)>, StoreError> {
        let connection = self.connection();
        let mut statement =
            connection.prepare("SELECT key, document FROM iam_documents WHERE kind = ?1 ORDER BY key")?;
        let rows = statement.query_map(params![kind.as_str()], |row| Ok((row.get(0)?, row.get::<_, String>(1)?)))?;
        let mut loaded = Vec::new();
        for row in rows {
            let (key, text): (String, String) = row?;
            loaded.push((key, serde_json::from_str(&text)?));
        }
        Ok(loaded)
    }

    /// Removes documents that expired before `now_ms` (sessions).
    pub fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Ok(self
            .connection()
            .execute("DELETE FROM iam_documents WHERE expires_ms IS NOT NULL AND expires_ms < ?1", [now])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_documents_until_deleted_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iam.sqlite3");
        {
            let store = IamStore::open(&path).unwrap();
            store.put(Kind::Role, "000000000000/a", &"first", None).unwrap();
            store.put(Kind::Role, "000000000000/a", &"replaced", None).unwrap();
            store.put(Kind::Role, "000000000000/b", &"second", None).unwrap();
            store.put(Kind::Session, "ASIA1", &"old", Some(1_000)).unwrap();
            store.put(Kind::Session, "ASIA2", &"new", Some(5_000)).unwrap();
            store.delete(Kind::Role, "000000000000/b").unwrap();
            assert_eq!(store.purge_expired(2_000).unwrap(), 1);
        }
        let store = IamStore::open(&path).unwrap();
        let roles: Vec<(String, String)> = store.load(Kind::Role).unwrap();
        assert_eq!(roles, vec![("000000000000/a".to_string(), "replaced".to_string())]);
        let sessions: Vec<(String, String)> = store.load(Kind::Session).unwrap();
        assert_eq!(sessions, vec![("ASIA2".to_string(), "new".to_string())]);
    }
}

//! [`IamStore`] on SQLite: `iam.sqlite3` under the data dir, one table of documents.

use std::path::Path;
use std::sync::Mutex;

use kumo_store::health::{DatabaseFile, Status};
use kumo_store::migrations::Schema;
use rusqlite::{params, Connection, Transaction};

use super::{IamStore, Kind, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS iam_documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    document TEXT NOT NULL,
    expires_ms INTEGER,
    PRIMARY KEY (kind, key)
);
";

/// IAM's schema.
const SCHEMA_MIGRATIONS: Schema<'static, (), StoreError> = Schema { shape_checks: &[], versions: &[create_tables] };

/// Version 1: the documents table.
fn create_tables(transaction: &Transaction<'_>, _: &()) -> Result<(), StoreError> {
    Ok(transaction.execute_batch(SCHEMA)?)
}

/// IAM's documents in one SQLite database.
pub struct SqliteIamStore {
    connection: Mutex<Connection>,
    /// How the last write went.
    writes: Status,
    /// `iam.sqlite3` as opened.
    file: DatabaseFile,
}

impl SqliteIamStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = kumo_store::sqlite::open(path, kumo_store::sqlite::OpenOptions::default())?;
        kumo_store::migrations::migrate(&mut connection, &(), &SCHEMA_MIGRATIONS)?;
        let file = DatabaseFile::at(path)?;
        Ok(Self { connection: Mutex::new(connection), writes: Status::new("the iam store"), file })
    }

    /// Records how a write went, for [`IamStore::health`].
    fn record<T>(&self, outcome: rusqlite::Result<T>) -> Result<T, StoreError> {
        match &outcome {
            Ok(_) => self.writes.succeeded(),
            Err(error) => self.writes.failed(&error.to_string()),
        }
        Ok(outcome?)
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // No statement panics half-way; a poisoned lock still guards a usable connection.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl IamStore for SqliteIamStore {
    fn put_document(&self, kind: Kind, key: &str, document: &str, expires_ms: Option<u64>) -> Result<(), StoreError> {
        let expires = expires_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX));
        self.record(self.connection().execute(
            "INSERT OR REPLACE INTO iam_documents (kind, key, document, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![kind.as_str(), key, document, expires],
        ))?;
        Ok(())
    }

    fn delete(&self, kind: Kind, key: &str) -> Result<(), StoreError> {
        let deleted = self
            .connection()
            .execute("DELETE FROM iam_documents WHERE kind = ?1 AND key = ?2", params![kind.as_str(), key]);
        self.record(deleted)?;
        Ok(())
    }

    fn load_documents(&self, kind: Kind) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.connection();
        let mut statement =
            connection.prepare("SELECT key, document FROM iam_documents WHERE kind = ?1 ORDER BY key")?;
        let rows = statement.query_map(params![kind.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let purged = self
            .connection()
            .execute("DELETE FROM iam_documents WHERE expires_ms IS NOT NULL AND expires_ms < ?1", [now]);
        self.record(purged)
    }

    fn health(&self) -> Result<(), String> {
        self.writes.check()?;
        self.file.check()
    }
}

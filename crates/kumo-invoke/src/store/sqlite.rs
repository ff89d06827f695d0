//! [`LambdaStore`] on SQLite: `kumo.sqlite3` under the data dir, one exclusive connection
//! ([`SharedConnection`]) shared by API calls and the group-commit writers of the async queue
//! (a task on the runtime) and of logs and metering (a thread).

use std::sync::Arc;

use kumo_store::group_commit::{self, BatchedWrite, WriterName};
use kumo_store::health::{DatabaseFile, Status};
use kumo_store::sqlite::SharedConnection;
use kumo_store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

use super::writers::{BatchWrite, BatchWriter, QueueChange, QueueWriter};
use super::{AsyncEvent, LambdaStore, MeteringRecord, StoredLogEvent};

/// The tables, as version 1 of the schema creates them.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS functions (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account, region, name, version)
);
CREATE TABLE IF NOT EXISTS async_events (
    id INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    payload BLOB NOT NULL DEFAULT x''
);
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    log_group TEXT NOT NULL,
    log_stream TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_account_group ON log_events (account, region, log_group, id);
CREATE TABLE IF NOT EXISTS event_source_mappings (
    uuid TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metering (
    request_id TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS layers (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    latest_version INTEGER NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS layer_versions (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account, region, name, version)
);
";

/// Most writes one transaction takes; the rest wait for the next one.
const MAX_BATCH: usize = 4096;

/// Lambda's tables in one SQLite database.
pub struct SqliteLambdaStore {
    shared: Arc<SharedConnection>,
    /// The async queue's writer: every Event invoke waits for its commits.
    queue_writer: Status,
    /// The logs-and-metering writer.
    batch_writer: Status,
    /// How the last control-plane write (functions, layers, mappings) went.
    writes: Status,
    /// `kumo.sqlite3` as opened.
    file: DatabaseFile,
    /// The configured account: owns metering records from before accounts existed.
    default_account: String,
}

impl SqliteLambdaStore {
    /// Opens the database in WAL mode and brings its schema up to date; Lambda resources of a
    /// data dir from before accounts existed become `default_account`'s.
    pub fn open(path: &std::path::Path, default_account: &str) -> Result<Self, StoreError> {
        let shared =
            SharedConnection::open(path, |connection| super::migrations::migrate(connection, default_account))?;
        Ok(Self {
            shared: Arc::new(shared),
            queue_writer: Status::new("the async queue writer"),
            batch_writer: Status::new("the logs and metering writer"),
            writes: Status::new("the lambda store"),
            file: DatabaseFile::at(path)?,
            default_account: default_account.to_string(),
        })
    }

    /// Runs a control-plane write on the shared connection and records how it went (health).
    fn write<T>(&self, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let outcome = work(&self.shared.lock());
        match &outcome {
            Ok(_) => self.writes.succeeded(),
            Err(error) => self.writes.failed(&error.to_string()),
        }
        Ok(outcome?)
    }

    /// The connection the writers share (tests hold it to make them wait).
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<SharedConnection> {
        &self.shared
    }

    /// Counts an account's functions (their `$LATEST`) across regions.
    #[cfg(test)]
    pub fn function_count(&self, account: &str) -> Result<u64, StoreError> {
        let count: i64 = self.shared.lock().query_row(
            "SELECT COUNT(*) FROM functions WHERE account = ?1 AND version = '$LATEST'",
            params![account],
            |row| row.get(0),
        )?;
        Ok(count as u64)
    }

    /// Durably stores one async event and returns its queue id (the Event invoke path goes
    /// through [`QueueWriter`] instead, which shares one commit among concurrent events).
    #[cfg(test)]
    pub fn enqueue_async(&self, event: &AsyncEvent) -> Result<i64, StoreError> {
        let connection = self.shared.lock();
        let mut insert = connection.prepare_cached("INSERT INTO async_events (document, payload) VALUES (?1, ?2)")?;
        Ok(insert.insert(params![serde_json::to_string(event)?, event.payload])?)
    }

    /// All queued async events, oldest first.
    #[cfg(test)]
    pub fn pending_async(&self) -> Result<Vec<(i64, AsyncEvent)>, StoreError> {
        let mut events = Vec::new();
        for id in self.pending_async_ids()? {
            events.extend(self.async_event(id)?.map(|event| (id, event)));
        }
        Ok(events)
    }

    /// Removes an async event once it has been handled.
    #[cfg(test)]
    pub fn complete_async(&self, id: i64) -> Result<(), StoreError> {
        self.shared.lock().execute("DELETE FROM async_events WHERE id = ?1", params![id])?;
        Ok(())
    }
}

impl LambdaStore for SqliteLambdaStore {
    /// Inserts or replaces a function version document.
    fn put_function(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        self.write(|connection| {
            connection.execute(
            "INSERT OR REPLACE INTO functions (account, region, name, version, document) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account, region, name, version, document],
        )
        })?;
        Ok(())
    }

    /// Inserts a function version only if it does not exist; returns whether it was inserted.
    fn insert_function(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
        document: &str,
    ) -> Result<bool, StoreError> {
        let inserted = self.write(|connection| {
            connection.execute(
            "INSERT OR IGNORE INTO functions (account, region, name, version, document) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account, region, name, version, document],
        )
        })?;
        Ok(inserted == 1)
    }

    /// Reads one function version document.
    fn get_function(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .shared
            .lock()
            .query_row(
                "SELECT document FROM functions WHERE account = ?1 AND region = ?2 AND name = ?3 AND version = ?4",
                params![account, region, name, version],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Lists `(name, document)` of one version across functions, ordered by name, after `marker`.
    fn list_functions(
        &self,
        account: &str,
        region: &str,
        version: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare_cached(
            "SELECT name, document FROM functions \
             WHERE account = ?1 AND region = ?2 AND version = ?3 AND name > ?4 ORDER BY name LIMIT ?5",
        )?;
        let rows = statement
            .query_map(params![account, region, version, after.unwrap_or(""), limit as i64], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every stored version of one function as `(version, document)`, unordered.
    fn list_function_versions(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare_cached(
            "SELECT version, document FROM functions WHERE account = ?1 AND region = ?2 AND name = ?3",
        )?;
        let rows = statement.query_map(params![account, region, name], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every `$LATEST` document of every account and region as `(account, region, document)`,
    /// for start-up work (reservations, provisioning).
    fn all_latest_functions(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let connection = self.shared.lock();
        let mut statement =
            connection.prepare("SELECT account, region, document FROM functions WHERE version = '$LATEST'")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes one version of a function; returns whether it existed.
    fn delete_function_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
    ) -> Result<bool, StoreError> {
        let deleted = self.write(|connection| {
            connection.execute(
                "DELETE FROM functions WHERE account = ?1 AND region = ?2 AND name = ?3 AND version = ?4",
                params![account, region, name, version],
            )
        })?;
        Ok(deleted == 1)
    }

    /// Stores a new version of a layer under the next number and returns it: numbers count up
    /// per layer name and are never reused, even after every version was deleted.
    fn insert_layer_version(&self, account: &str, region: &str, name: &str, document: &str) -> Result<u64, StoreError> {
        self.write(|connection| {
            // The connection is held exclusively for the closure: no other transaction can be open.
            let transaction = connection.unchecked_transaction()?;
            transaction.execute(
                "INSERT INTO layers (account, region, name, latest_version) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT (account, region, name) DO UPDATE SET latest_version = latest_version + 1",
                params![account, region, name],
            )?;
            let version: i64 = transaction.query_row(
                "SELECT latest_version FROM layers WHERE account = ?1 AND region = ?2 AND name = ?3",
                params![account, region, name],
                |row| row.get(0),
            )?;
            transaction.execute(
                "INSERT INTO layer_versions (account, region, name, version, document) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![account, region, name, version, document],
            )?;
            transaction.commit()?;
            Ok(version as u64)
        })
    }

    /// Replaces the document of an existing layer version (its policy changed).
    fn update_layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
        document: &str,
    ) -> Result<(), StoreError> {
        self.write(|connection| {
            connection.execute(
            "UPDATE layer_versions SET document = ?5 WHERE account = ?1 AND region = ?2 AND name = ?3 AND version = ?4",
            params![account, region, name, version as i64, document],
        )
        })?;
        Ok(())
    }

    /// Reads one layer version document.
    fn get_layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .shared
            .lock()
            .query_row(
                "SELECT document FROM layer_versions WHERE account = ?1 AND region = ?2 AND name = ?3 AND version = ?4",
                params![account, region, name, version as i64],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Every version of every layer of an account's region as `(name, version, document)`, by
    /// name, newest version first.
    fn list_layer_versions(&self, account: &str, region: &str) -> Result<Vec<(String, u64, String)>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare_cached(
            "SELECT name, version, document FROM layer_versions WHERE account = ?1 AND region = ?2 \
             ORDER BY name, version DESC",
        )?;
        let rows = statement
            .query_map(params![account, region], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes one layer version; returns whether it existed. The layer's numbering stays.
    fn delete_layer_version(&self, account: &str, region: &str, name: &str, version: u64) -> Result<bool, StoreError> {
        let deleted = self.write(|connection| {
            connection.execute(
                "DELETE FROM layer_versions WHERE account = ?1 AND region = ?2 AND name = ?3 AND version = ?4",
                params![account, region, name, version as i64],
            )
        })?;
        Ok(deleted == 1)
    }

    /// Inserts or replaces an event source mapping.
    fn put_event_source_mapping(
        &self,
        uuid: &str,
        account: &str,
        region: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        self.write(|connection| {
            connection.execute(
            "INSERT OR REPLACE INTO event_source_mappings (uuid, account, region, document) VALUES (?1, ?2, ?3, ?4)",
            params![uuid, account, region, document],
        )
        })?;
        Ok(())
    }

    /// Reads an event source mapping of an account's region.
    fn get_event_source_mapping(&self, uuid: &str, account: &str, region: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .shared
            .lock()
            .query_row(
                "SELECT document FROM event_source_mappings WHERE uuid = ?1 AND account = ?2 AND region = ?3",
                params![uuid, account, region],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Every event source mapping as `(account, region, document)`, ordered by UUID.
    fn list_event_source_mappings(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let connection = self.shared.lock();
        let mut statement =
            connection.prepare_cached("SELECT account, region, document FROM event_source_mappings ORDER BY uuid")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes an event source mapping; returns whether it existed.
    fn delete_event_source_mapping(&self, uuid: &str) -> Result<bool, StoreError> {
        Ok(self.write(|connection| {
            connection.execute("DELETE FROM event_source_mappings WHERE uuid = ?1", params![uuid])
        })? == 1)
    }

    fn put_code_signing_config(&self, account: &str, region: &str, id: &str, document: &str) -> Result<(), StoreError> {
        self.write(|connection| {
            connection.execute(
                "INSERT OR REPLACE INTO code_signing_configs (account, region, id, document) VALUES (?1, ?2, ?3, ?4)",
                params![account, region, id, document],
            )
        })?;
        Ok(())
    }

    fn get_code_signing_config(&self, account: &str, region: &str, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .shared
            .lock()
            .query_row(
                "SELECT document FROM code_signing_configs WHERE account = ?1 AND region = ?2 AND id = ?3",
                params![account, region, id],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn list_code_signing_configs(&self, account: &str, region: &str) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare_cached(
            "SELECT id, document FROM code_signing_configs WHERE account = ?1 AND region = ?2 ORDER BY id",
        )?;
        let rows = statement.query_map(params![account, region], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_code_signing_config(&self, account: &str, region: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.write(|connection| {
            connection.execute(
                "DELETE FROM code_signing_configs WHERE account = ?1 AND region = ?2 AND id = ?3",
                params![account, region, id],
            )
        })? == 1)
    }

    /// Deletes every version of a function; returns how many rows went.
    fn delete_function(&self, account: &str, region: &str, name: &str) -> Result<usize, StoreError> {
        self.write(|connection| {
            connection.execute(
                "DELETE FROM functions WHERE account = ?1 AND region = ?2 AND name = ?3",
                params![account, region, name],
            )
        })
    }

    /// Ids of all queued async events, oldest first: what start-up resumes, without holding
    /// their payloads in memory.
    fn pending_async_ids(&self) -> Result<Vec<i64>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare("SELECT id FROM async_events ORDER BY id")?;
        let ids = statement.query_map([], |row| row.get::<_, i64>(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// One queued async event, if it is still queued.
    fn async_event(&self, id: i64) -> Result<Option<AsyncEvent>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare_cached("SELECT document, payload FROM async_events WHERE id = ?1")?;
        let row = statement
            .query_row(params![id], |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)))
            .optional()?;
        let Some((document, payload)) = row else { return Ok(None) };
        let mut event: AsyncEvent = serde_json::from_str(&document)?;
        event.payload = payload;
        Ok(Some(event))
    }

    /// Log lines of an account's group after position `after_id`, oldest first.
    fn log_events(
        &self,
        account: &str,
        region: &str,
        log_group: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<StoredLogEvent>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare_cached(
            "SELECT id, log_stream, timestamp_ms, message FROM log_events \
             WHERE account = ?1 AND region = ?2 AND log_group = ?3 AND id > ?4 ORDER BY id LIMIT ?5",
        )?;
        let rows = statement.query_map(params![account, region, log_group, after_id, limit as i64], |row| {
            Ok(StoredLogEvent {
                id: row.get(0)?,
                log_stream: row.get(1)?,
                timestamp_ms: row.get::<_, i64>(2)? as u64,
                message: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Metering records of an account's function, oldest first.
    fn metering(&self, account: &str, region: &str, function_name: &str) -> Result<Vec<MeteringRecord>, StoreError> {
        let connection = self.shared.lock();
        let mut statement = connection.prepare_cached("SELECT document FROM metering ORDER BY rowid")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        let mut records = Vec::new();
        for row in rows {
            let record: MeteringRecord = serde_json::from_str(&row?)?;
            let owner = if record.account.is_empty() { &self.default_account } else { &record.account };
            if owner == account && record.region == region && record.function_name == function_name {
                records.push(record);
            }
        }
        Ok(records)
    }

    fn spawn_queue_writer(&self) -> QueueWriter {
        let status = self.queue_writer.clone();
        QueueWriter::new(group_commit::spawn_task(Arc::clone(&self.shared), "async queue", MAX_BATCH, status))
    }

    fn spawn_batch_writer(&self) -> BatchWriter {
        let name = WriterName { thread: "kumo-store-writer", what: "logs and metering" };
        // Start-up cannot continue without it.
        let sender = group_commit::spawn_thread(Arc::clone(&self.shared), name, MAX_BATCH, self.batch_writer.clone())
            .expect("spawning the logs and metering writer thread");
        BatchWriter::new(sender)
    }

    fn health(&self) -> Result<(), String> {
        self.queue_writer.check()?;
        self.batch_writer.check()?;
        self.writes.check()?;
        self.file.check()
    }
}

impl BatchedWrite for QueueChange {
    type Error = StoreError;

    fn apply(connection: &Connection, batch: &mut [Self]) -> Result<(), StoreError> {
        let mut insert = connection.prepare_cached("INSERT INTO async_events (document, payload) VALUES (?1, ?2)")?;
        let mut update = connection.prepare_cached("UPDATE async_events SET document = ?2 WHERE id = ?1")?;
        let mut delete = connection.prepare_cached("DELETE FROM async_events WHERE id = ?1")?;
        for change in batch {
            match change {
                Self::Enqueue { event, document, id, .. } => {
                    *id = insert.insert(params![*document, event.payload])?;
                }
                Self::Update { id, document } => {
                    update.execute(params![*id, *document])?;
                }
                Self::Complete(id) => {
                    delete.execute(params![*id])?;
                }
            }
        }
        Ok(())
    }

    fn finish(self, outcome: Result<(), &str>) {
        self.tell_enqueuer(outcome);
    }
}

impl BatchedWrite for BatchWrite {
    type Error = StoreError;

    fn apply(connection: &Connection, batch: &mut [Self]) -> Result<(), StoreError> {
        let mut insert_log = connection.prepare_cached(
            "INSERT INTO log_events (account, region, log_group, log_stream, timestamp_ms, message) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut insert_metering =
            connection.prepare_cached("INSERT INTO metering (request_id, document) VALUES (?1, ?2)")?;
        for write in batch.iter() {
            match write {
                Self::Log(event) => {
                    insert_log.execute(params![
                        event.account,
                        event.region,
                        event.log_group,
                        event.log_stream,
                        event.timestamp_ms as i64,
                        event.message
                    ])?;
                }
                Self::Metering(record) => {
                    insert_metering.execute(params![record.request_id, serde_json::to_string(record)?])?;
                }
                Self::Flush(_) => {}
            }
        }
        Ok(())
    }

    fn finish(self, _outcome: Result<(), &str>) {
        self.run_flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{BatchWrite, LogEvent};

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    #[test]
    fn async_events_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let event = AsyncEvent {
            request_id: "r1".into(),
            account: A.into(),
            region: "us-east-1".into(),
            function_name: "f".into(),
            qualifier: None,
            payload: b"{}".to_vec(),
            client_context: None,
            enqueued_ms: 1,
            attempts: 0,
        };
        let id = SqliteLambdaStore::open(&path, A).unwrap().enqueue_async(&event).unwrap();
        let reopened = SqliteLambdaStore::open(&path, A).unwrap();
        assert_eq!(reopened.pending_async().unwrap(), vec![(id, event.clone())]);
        assert_eq!(reopened.pending_async_ids().unwrap(), vec![id]);
        assert_eq!(reopened.async_event(id).unwrap(), Some(event));
        reopened.complete_async(id).unwrap();
        assert!(reopened.pending_async().unwrap().is_empty());
        assert!(reopened.pending_async_ids().unwrap().is_empty());
        assert_eq!(reopened.async_event(id).unwrap(), None);
    }

    #[test]
    fn lists_functions_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLambdaStore::open(&dir.path().join("db"), A).unwrap();
        for name in ["c", "a", "b"] {
            assert!(store.insert_function(A, "us-east-1", name, "$LATEST", "{}").unwrap());
        }
        assert!(!store.insert_function(A, "us-east-1", "a", "$LATEST", "{}").unwrap());
        let first: Vec<_> = store.list_functions(A, "us-east-1", "$LATEST", None, 2).unwrap();
        assert_eq!(first.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let rest = store.list_functions(A, "us-east-1", "$LATEST", Some("b"), 2).unwrap();
        assert_eq!(rest.len(), 1);
        assert!(store.list_functions(A, "eu-west-1", "$LATEST", None, 2).unwrap().is_empty());
    }

    #[test]
    fn layer_version_numbers_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLambdaStore::open(&dir.path().join("db"), A).unwrap();
        assert_eq!(store.insert_layer_version(A, "us-east-1", "deps", "d").unwrap(), 1);
        assert_eq!(store.insert_layer_version(A, "us-east-1", "deps", "d").unwrap(), 2);
        assert_eq!(store.insert_layer_version(A, "eu-west-1", "deps", "d").unwrap(), 1);
        assert!(store.delete_layer_version(A, "us-east-1", "deps", 1).unwrap());
        assert!(store.delete_layer_version(A, "us-east-1", "deps", 2).unwrap());
        assert!(!store.delete_layer_version(A, "us-east-1", "deps", 2).unwrap());
        assert_eq!(store.insert_layer_version(A, "us-east-1", "deps", "d").unwrap(), 3);
        let listed = store.list_layer_versions(A, "us-east-1").unwrap();
        assert_eq!(listed, vec![("deps".to_string(), 3, "d".to_string())]);
        store.update_layer_version(A, "us-east-1", "deps", 3, "changed").unwrap();
        assert_eq!(store.get_layer_version(A, "us-east-1", "deps", 3).unwrap().as_deref(), Some("changed"));
    }

    #[test]
    fn the_same_names_in_two_accounts_are_two_resources() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLambdaStore::open(&dir.path().join("db"), A).unwrap();
        assert!(store.insert_function(A, "us-east-1", "f", "$LATEST", "a").unwrap());
        assert!(store.insert_function(B, "us-east-1", "f", "$LATEST", "b").unwrap());
        assert_eq!(store.get_function(B, "us-east-1", "f", "$LATEST").unwrap().as_deref(), Some("b"));
        assert_eq!(store.list_functions(A, "us-east-1", "$LATEST", None, 10).unwrap(), vec![("f".into(), "a".into())]);
        assert_eq!(store.function_count(B).unwrap(), 1);
        assert_eq!(store.delete_function(A, "us-east-1", "f").unwrap(), 1);
        assert!(store.get_function(B, "us-east-1", "f", "$LATEST").unwrap().is_some());
        assert_eq!(store.insert_layer_version(A, "us-east-1", "deps", "a").unwrap(), 1);
        assert_eq!(store.insert_layer_version(B, "us-east-1", "deps", "b").unwrap(), 1);
        assert_eq!(store.list_layer_versions(B, "us-east-1").unwrap(), vec![("deps".into(), 1, "b".into())]);
    }

    #[test]
    fn logs_and_metering_of_two_accounts_stay_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteLambdaStore::open(&dir.path().join("db"), A).unwrap());
        let writer = store.spawn_batch_writer();
        let metering = |account: &str, request_id: &str| MeteringRecord {
            request_id: request_id.into(),
            account: account.into(),
            region: "us-east-1".into(),
            function_name: "f".into(),
            version: "$LATEST".into(),
            started_ms: 1,
            duration_ms: 1.0,
            billed_ms: 1,
            memory_mb: 128,
            max_memory_used_mb: 20,
            init_duration_ms: None,
            gb_seconds: 0.000125,
        };
        for (account, message) in [(A, "from a"), (B, "from b")] {
            writer.send(BatchWrite::Log(LogEvent {
                account: account.into(),
                region: "us-east-1".into(),
                log_group: "/aws/lambda/f".into(),
                log_stream: "s".into(),
                timestamp_ms: 1,
                message: message.into(),
            }));
            writer.send(BatchWrite::Metering(metering(account, message)));
        }
        // Records from before accounts existed carry none: they are the configured account's.
        writer.send(BatchWrite::Metering(metering("", "legacy")));
        let (done, flushed) = std::sync::mpsc::channel();
        writer.send(BatchWrite::Flush(Box::new(move || done.send(()).unwrap())));
        flushed.recv().unwrap();
        let messages = |account| -> Vec<String> {
            store
                .log_events(account, "us-east-1", "/aws/lambda/f", 0, 10)
                .unwrap()
                .into_iter()
                .map(|e| e.message)
                .collect()
        };
        assert_eq!(messages(A), ["from a"]);
        assert_eq!(messages(B), ["from b"]);
        let requests = |account| -> Vec<String> {
            store.metering(account, "us-east-1", "f").unwrap().into_iter().map(|r| r.request_id).collect()
        };
        assert_eq!(requests(A), ["from a", "legacy"]);
        assert_eq!(requests(B), ["from b"]);
    }
}

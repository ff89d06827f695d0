//! Lambda's schema (`kumo_store::migrations`). Version 1 creates the tables, version 2 the code
//! signing configurations'. Two changes from
//! before versions were counted are shape checks, run on every open: the rows of tables keyed
//! without an account go to the configured account, and an async queue created with
//! `AUTOINCREMENT` is rebuilt without it.

use kumo_store::migrations::{give_tables_to_account, Schema};
use kumo_store::StoreError;
use rusqlite::{Connection, Transaction};

use super::sqlite::SCHEMA;

/// Tables that were keyed without an account before resources became per account, with the
/// columns they had then.
const SINGLE_ACCOUNT_TABLES: [(&str, &str); 5] = [
    ("functions", "region, name, version, document"),
    ("event_source_mappings", "uuid, region, document"),
    ("layers", "region, name, latest_version"),
    ("layer_versions", "region, name, version, document"),
    // Keeps its ids, so a `kumo logs --follow` position stays valid. Its old index goes with
    // the old table: the new one has another name.
    ("log_events", "id, region, log_group, log_stream, timestamp_ms, message"),
];

/// Lambda's schema.
const SCHEMA_MIGRATIONS: Schema<'static, str, StoreError> = Schema {
    shape_checks: &[give_to_account, drop_async_autoincrement],
    versions: &[create_tables, code_signing_configs],
};

/// Brings the schema of `connection` up to date; rows from before accounts existed become
/// `default_account`'s.
pub(super) fn migrate(connection: &mut Connection, default_account: &str) -> Result<(), StoreError> {
    kumo_store::migrations::migrate(connection, default_account, &SCHEMA_MIGRATIONS)
}

/// Shape check: tables keyed without an account get one, their rows given to
/// `default_account` (creating the schema's tables as it goes).
fn give_to_account(transaction: &Transaction<'_>, default_account: &str) -> Result<(), StoreError> {
    Ok(give_tables_to_account(transaction, &SINGLE_ACCOUNT_TABLES, SCHEMA, default_account)?)
}

/// Version 1: the tables, keyed by account.
fn create_tables(transaction: &Transaction<'_>, _: &str) -> Result<(), StoreError> {
    Ok(transaction.execute_batch(SCHEMA)?)
}

/// Version 2: code signing configurations, per account and region.
fn code_signing_configs(transaction: &Transaction<'_>, _: &str) -> Result<(), StoreError> {
    Ok(transaction.execute_batch(
        "CREATE TABLE IF NOT EXISTS code_signing_configs (
             account TEXT NOT NULL,
             region TEXT NOT NULL,
             id TEXT NOT NULL,
             document TEXT NOT NULL,
             PRIMARY KEY (account, region, id)
         );",
    )?)
}

/// Shape check: rebuilds an `async_events` table created with `AUTOINCREMENT` without it, keeping
/// its rows and ids. `AUTOINCREMENT` made every batch of the Event-invoke path also write
/// `sqlite_sequence`: one more WAL frame per commit (4 → 5 for a batch of four 1 KB events).
/// Without it an id can be used again, but only after its row is deleted, which is the last
/// change the queue makes to an event.
fn drop_async_autoincrement(transaction: &Transaction<'_>, _: &str) -> Result<(), StoreError> {
    let definition: String = transaction.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'async_events'",
        [],
        |row| row.get(0),
    )?;
    if definition.contains("AUTOINCREMENT") {
        transaction.execute_batch(
            "ALTER TABLE async_events RENAME TO async_events_autoincrement;
             CREATE TABLE async_events (
                 id INTEGER PRIMARY KEY,
                 document TEXT NOT NULL,
                 payload BLOB NOT NULL DEFAULT x''
             );
             INSERT INTO async_events (id, document, payload)
                 SELECT id, document, payload FROM async_events_autoincrement;
             DROP TABLE async_events_autoincrement;",
        )?;
        tracing::info!("rebuilt the async queue's table without AUTOINCREMENT");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LambdaStore, SqliteLambdaStore as MetadataStore};

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    #[test]
    fn a_single_account_data_dir_becomes_the_default_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        // The schema as it was before accounts existed.
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE functions (region TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, \
             document TEXT NOT NULL, PRIMARY KEY (region, name, version));
             CREATE TABLE event_source_mappings (uuid TEXT PRIMARY KEY, region TEXT NOT NULL, document TEXT NOT NULL);
             CREATE TABLE layers (region TEXT NOT NULL, name TEXT NOT NULL, latest_version INTEGER NOT NULL, \
             PRIMARY KEY (region, name));
             CREATE TABLE layer_versions (region TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, \
             document TEXT NOT NULL, PRIMARY KEY (region, name, version));
             INSERT INTO functions VALUES ('us-east-1', 'f', '$LATEST', 'doc');
             INSERT INTO event_source_mappings VALUES ('u1', 'us-east-1', 'esm');
             INSERT INTO layers VALUES ('us-east-1', 'deps', 4);
             INSERT INTO layer_versions VALUES ('us-east-1', 'deps', 4, 'layer');
             CREATE TABLE log_events (id INTEGER PRIMARY KEY AUTOINCREMENT, region TEXT NOT NULL, \
             log_group TEXT NOT NULL, log_stream TEXT NOT NULL, timestamp_ms INTEGER NOT NULL, message TEXT NOT NULL);
             CREATE INDEX log_events_by_group ON log_events (region, log_group, id);
             INSERT INTO log_events VALUES (7, 'us-east-1', '/aws/lambda/f', 'stream', 1, 'hello');",
        )
        .unwrap();
        drop(old);
        for _ in 0..2 {
            // Opening twice proves the migration runs once and keeps the rows.
            let store = MetadataStore::open(&path, A).unwrap();
            assert_eq!(store.get_function(A, "us-east-1", "f", "$LATEST").unwrap().as_deref(), Some("doc"));
            assert!(store.get_function(B, "us-east-1", "f", "$LATEST").unwrap().is_none());
            assert_eq!(store.get_event_source_mapping("u1", A, "us-east-1").unwrap().as_deref(), Some("esm"));
            assert_eq!(store.get_layer_version(A, "us-east-1", "deps", 4).unwrap().as_deref(), Some("layer"));
            let logs = store.log_events(A, "us-east-1", "/aws/lambda/f", 0, 10).unwrap();
            assert_eq!(logs.iter().map(|e| (e.id, e.message.as_str())).collect::<Vec<_>>(), [(7, "hello")]);
            assert!(store.log_events(B, "us-east-1", "/aws/lambda/f", 0, 10).unwrap().is_empty());
        }
        let store = MetadataStore::open(&path, A).unwrap();
        assert_eq!(store.insert_layer_version(A, "us-east-1", "deps", "next").unwrap(), 5);
    }

    #[test]
    fn a_version_one_database_gains_the_code_signing_table_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(SCHEMA).unwrap();
        old.execute("INSERT INTO functions VALUES (?1, 'us-east-1', 'f', '$LATEST', 'doc')", [A]).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        drop(old);
        for _ in 0..2 {
            let store = MetadataStore::open(&path, A).unwrap();
            assert_eq!(store.get_function(A, "us-east-1", "f", "$LATEST").unwrap().as_deref(), Some("doc"));
            store.put_code_signing_config(A, "us-east-1", "csc-0123456789abcdef0", "config").unwrap();
            assert_eq!(
                store.get_code_signing_config(A, "us-east-1", "csc-0123456789abcdef0").unwrap().as_deref(),
                Some("config")
            );
        }
        let version: i64 =
            Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, 2);
    }

    #[test]
    fn an_autoincrement_async_queue_keeps_its_events_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE async_events (id INTEGER PRIMARY KEY AUTOINCREMENT, document TEXT NOT NULL, \
             payload BLOB NOT NULL DEFAULT x'');
             INSERT INTO async_events (id, document, payload) VALUES (7, \
             '{\"request_id\":\"r7\",\"region\":\"us-east-1\",\"function_name\":\"f\",\"qualifier\":null,\
             \"client_context\":null,\"enqueued_ms\":1,\"attempts\":2}', x'7b7d');",
        )
        .unwrap();
        drop(old);
        for _ in 0..2 {
            let store = MetadataStore::open(&path, A).unwrap();
            let pending = store.pending_async().unwrap();
            assert_eq!(pending.len(), 1);
            let (id, event) = &pending[0];
            assert_eq!(
                (*id, event.request_id.as_str(), event.attempts, event.payload.as_slice()),
                (7, "r7", 2, &b"{}"[..])
            );
        }
        let store = MetadataStore::open(&path, A).unwrap();
        let (_, event) = store.pending_async().unwrap().remove(0);
        assert_eq!(store.enqueue_async(&event).unwrap(), 8);
        drop(store);
        let definition: String = Connection::open(&path)
            .unwrap()
            .query_row("SELECT sql FROM sqlite_master WHERE name = 'async_events'", [], |row| row.get(0))
            .unwrap();
        assert!(!definition.contains("AUTOINCREMENT"), "{definition}");
    }
}

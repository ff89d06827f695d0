//! Schema migrations of the metadata store, run on open. Lambda resources became per account
//! after data dirs existed: tables keyed without an account are rebuilt with one, their rows
//! given to the configured account.

use rusqlite::{params, Connection};

use crate::metadata::SCHEMA;
use crate::StoreError;

/// Tables that were keyed without an account before resources became per account, with the
/// columns they had then; data dirs from that time are migrated on open.
const SINGLE_ACCOUNT_TABLES: [(&str, &str); 4] = [
    ("functions", "region, name, version, document"),
    ("event_source_mappings", "uuid, region, document"),
    ("layers", "region, name, latest_version"),
    ("layer_versions", "region, name, version, document"),
];

/// Creates the schema, first moving the Lambda tables of a data dir from before accounts
/// existed aside and then copying their rows in as `default_account`'s, all in one transaction.
pub(crate) fn migrate_to_accounts(connection: &mut Connection, default_account: &str) -> Result<(), StoreError> {
    let transaction = connection.transaction()?;
    let mut migrated = Vec::new();
    for (table, columns) in SINGLE_ACCOUNT_TABLES {
        let exists: bool = transaction.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            params![table],
            |row| row.get(0),
        )?;
        let has_account: bool = transaction.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = 'account'",
            params![table],
            |row| row.get(0),
        )?;
        if exists && !has_account {
            transaction.execute_batch(&format!("ALTER TABLE {table} RENAME TO {table}_single_account"))?;
            migrated.push((table, columns));
        }
    }
    transaction.execute_batch(SCHEMA)?;
    for (table, columns) in migrated {
        transaction.execute(
            &format!("INSERT INTO {table} (account, {columns}) SELECT ?1, {columns} FROM {table}_single_account"),
            params![default_account],
        )?;
        transaction.execute_batch(&format!("DROP TABLE {table}_single_account"))?;
        tracing::info!(table, account = default_account, "gave a single-account table's rows to the default account");
    }
    transaction.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetadataStore;

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
             INSERT INTO layer_versions VALUES ('us-east-1', 'deps', 4, 'layer');",
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
        }
        let store = MetadataStore::open(&path, A).unwrap();
        assert_eq!(store.insert_layer_version(A, "us-east-1", "deps", "next").unwrap(), 5);
    }
}

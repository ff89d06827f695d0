//! [`SqsStore`] on SQLite: its own database (`sqs.sqlite3`, WAL) written by one group-commit
//! thread that owns the connection (`kumo_store::group_commit`).

use std::path::Path;
use std::sync::Arc;

use kumo_store::group_commit::WriterName;
use kumo_store::migrations::{give_tables_to_account, Schema};
use kumo_store::ops_writer::{ApplyOps, OpsWriter};
use rusqlite::{params, Connection, Transaction};

use super::{DedupRow, Done, Loaded, QueueRow, SqsStore, StoreError, StoredMessage, WriteOp};
use crate::types::MessageAttributes;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    system_attributes TEXT,
    sent_ms INTEGER NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    available_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive_ms INTEGER NOT NULL,
    receipt INTEGER NOT NULL,
    group_id TEXT,
    dedup_id TEXT,
    sender_id TEXT NOT NULL,
    dead_letter_source TEXT
);
CREATE TABLE IF NOT EXISTS dedup (
    queue_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue_id, key)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// SQS's schema.
const SCHEMA_MIGRATIONS: Schema<'static, str, StoreError> =
    Schema { shape_checks: &[give_to_account], versions: &[create_tables, mark_legacy_urls] };

/// Shape check: queues stored before queues had accounts (a `queues` table without an
/// `account` column, unique by region and name) become `default_account`'s, in a table whose
/// names are unique per account (creating the schema's tables as it goes).
fn give_to_account(transaction: &Transaction<'_>, default_account: &str) -> Result<(), StoreError> {
    let single_account = [("queues", "id, region, name, attributes, tags, created_ms, modified_ms")];
    Ok(give_tables_to_account(transaction, &single_account, SCHEMA, default_account)?)
}

/// Version 1: the tables.
fn create_tables(transaction: &Transaction<'_>, _: &str) -> Result<(), StoreError> {
    Ok(transaction.execute_batch(SCHEMA)?)
}

/// Version 2: queue URLs carry the region from now on; the queues stored before keep the URL
/// they were given (`http://<host>/<account>/<name>`), which tools have recorded (Terraform's
/// queue id is its URL).
fn mark_legacy_urls(transaction: &Transaction<'_>, _: &str) -> Result<(), StoreError> {
    Ok(transaction.execute_batch(
        "ALTER TABLE queues ADD COLUMN legacy_url INTEGER NOT NULL DEFAULT 0;
         UPDATE queues SET legacy_url = 1;",
    )?)
}

/// Most operations one transaction applies before it commits.
const MAX_OPS_PER_COMMIT: usize = 20_000;

/// SQS's SQLite database and the thread that writes it.
pub struct SqliteSqsStore {
    writer: OpsWriter<WriteOp>,
}

fn open_connection(path: &Path, default_account: &str) -> Result<Connection, StoreError> {
    let mut connection = kumo_store::sqlite::open(path, kumo_store::sqlite::OpenOptions::default())?;
    kumo_store::migrations::migrate(&mut connection, default_account, &SCHEMA_MIGRATIONS)?;
    Ok(connection)
}

impl SqliteSqsStore {
    /// Opens (creating) `sqs.sqlite3` in `data_dir`, reads everything, and starts the writer;
    /// queues stored before queues had accounts become `default_account`'s.
    pub fn open(data_dir: &Path, default_account: &str) -> Result<(Self, Loaded), StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("sqs.sqlite3");
        let connection = open_connection(&path, default_account)?;
        let loaded = load(&connection)?;
        let name = WriterName { thread: "kumo-sqs-writer", what: "sqs" };
        let writer = OpsWriter::start(connection, &path, name, "the sqs writer", MAX_OPS_PER_COMMIT)?;
        Ok((Self { writer }, loaded))
    }
}

impl SqsStore for SqliteSqsStore {
    fn submit(&self, ops: Vec<WriteOp>, done: Option<Done>) {
        self.writer.submit(ops, done);
    }

    fn health(&self) -> Result<(), String> {
        self.writer.health()
    }
}

impl ApplyOps for WriteOp {
    type Error = StoreError;

    fn apply<'a>(connection: &Connection, ops: impl Iterator<Item = &'a Self>) -> Result<(), StoreError> {
        let mut max_seq = 0u64;
        let mut max_queue_id = 0i64;
        for op in ops {
            apply_op(connection, op, &mut max_seq, &mut max_queue_id)?;
        }
        if max_seq > 0 {
            connection.execute(
                "INSERT INTO counters (name, value) VALUES ('next_seq', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                [max_seq as i64 + 1],
            )?;
        }
        if max_queue_id > 0 {
            connection.execute(
                "INSERT INTO counters (name, value) VALUES ('next_queue_id', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                [max_queue_id + 1],
            )?;
        }
        Ok(())
    }
}

fn load(connection: &Connection) -> Result<Loaded, StoreError> {
    let mut statement = connection.prepare(
        "SELECT id, account, region, name, attributes, tags, created_ms, modified_ms, legacy_url
         FROM queues ORDER BY id",
    )?;
    let queues = statement
        .query_map([], |row| {
            Ok(QueueRow {
                id: row.get(0)?,
                account: row.get(1)?,
                region: row.get(2)?,
                name: row.get(3)?,
                attributes: row.get(4)?,
                tags: row.get(5)?,
                created_ms: row.get::<_, i64>(6)? as u64,
                modified_ms: row.get::<_, i64>(7)? as u64,
                legacy_url: row.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut statement = connection.prepare(
        "SELECT seq, queue_id, message_id, body, attributes, system_attributes, sent_ms, enqueued_ms, available_ms,
                receive_count, first_receive_ms, receipt, group_id, dedup_id, sender_id, dead_letter_source
         FROM messages ORDER BY seq",
    )?;
    let mut messages = Vec::new();
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let attributes: Option<String> = row.get(4)?;
        let system_attributes: Option<String> = row.get(5)?;
        let parse = |text: Option<String>| -> Result<Arc<MessageAttributes>, StoreError> {
            Ok(Arc::new(match text {
                Some(text) => serde_json::from_str(&text)?,
                None => MessageAttributes::new(),
            }))
        };
        let body: String = row.get(3)?;
        messages.push(StoredMessage {
            seq: row.get::<_, i64>(0)? as u64,
            queue_id: row.get(1)?,
            message_id: row.get(2)?,
            body: Arc::from(body),
            attributes: parse(attributes)?,
            system_attributes: parse(system_attributes)?,
            sent_ms: row.get::<_, i64>(6)? as u64,
            enqueued_ms: row.get::<_, i64>(7)? as u64,
            available_ms: row.get::<_, i64>(8)? as u64,
            receive_count: row.get::<_, i64>(9)? as u32,
            first_receive_ms: row.get::<_, i64>(10)? as u64,
            receipt: row.get::<_, i64>(11)? as u64,
            group_id: row.get(12)?,
            dedup_id: row.get(13)?,
            sender_id: row.get(14)?,
            dead_letter_source: row.get(15)?,
        });
    }
    let mut statement = connection.prepare("SELECT queue_id, key, message_id, seq, expires_ms FROM dedup")?;
    let dedup = statement
        .query_map([], |row| {
            Ok(DedupRow {
                queue_id: row.get(0)?,
                key: row.get(1)?,
                message_id: row.get(2)?,
                seq: row.get::<_, i64>(3)? as u64,
                expires_ms: row.get::<_, i64>(4)? as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let counter = |name: &str| -> Result<i64, StoreError> {
        Ok(connection
            .query_row("SELECT value FROM counters WHERE name = ?1", [name], |row| row.get(0))
            .or_else(|error| if error == rusqlite::Error::QueryReturnedNoRows { Ok(0) } else { Err(error) })?)
    };
    let max_message = messages.last().map_or(0, |m| m.seq);
    let max_dedup = dedup.iter().map(|d| d.seq).max().unwrap_or(0);
    let next_seq = (counter("next_seq")? as u64).max(max_message + 1).max(max_dedup + 1);
    let max_queue = queues.iter().map(|q| q.id).max().unwrap_or(0);
    let next_queue_id = counter("next_queue_id")?.max(max_queue + 1);
    Ok(Loaded { queues, messages, dedup, next_seq, next_queue_id })
}

fn json_or_null(attributes: &MessageAttributes) -> Result<Option<String>, StoreError> {
    if attributes.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::to_string(attributes)?))
}

fn apply_op(
    transaction: &Connection,
    op: &WriteOp,
    max_seq: &mut u64,
    max_queue_id: &mut i64,
) -> Result<(), StoreError> {
    match op {
        WriteOp::PutQueue(queue) => {
            *max_queue_id = (*max_queue_id).max(queue.id);
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO queues
                        (id, region, name, attributes, tags, created_ms, modified_ms, account, legacy_url)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    queue.id,
                    queue.region,
                    queue.name,
                    queue.attributes,
                    queue.tags,
                    queue.created_ms as i64,
                    queue.modified_ms as i64,
                    queue.account,
                    queue.legacy_url
                ])?;
        }
        WriteOp::DeleteQueue(id) => {
            transaction.prepare_cached("DELETE FROM queues WHERE id = ?1")?.execute([id])?;
            transaction.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?.execute([id])?;
            transaction.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1")?.execute([id])?;
        }
        WriteOp::PurgeQueue(id) => {
            transaction.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?.execute([id])?;
            transaction.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1")?.execute([id])?;
        }
        WriteOp::InsertMessage(message) => {
            *max_seq = (*max_seq).max(message.seq);
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO messages (seq, queue_id, message_id, body, attributes, system_attributes,
                        sent_ms, enqueued_ms, available_ms, receive_count, first_receive_ms, receipt, group_id,
                        dedup_id, sender_id, dead_letter_source)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )?
                .execute(params![
                    message.seq as i64,
                    message.queue_id,
                    message.message_id,
                    &*message.body,
                    json_or_null(&message.attributes)?,
                    json_or_null(&message.system_attributes)?,
                    message.sent_ms as i64,
                    message.enqueued_ms as i64,
                    message.available_ms as i64,
                    i64::from(message.receive_count),
                    message.first_receive_ms as i64,
                    message.receipt as i64,
                    message.group_id,
                    message.dedup_id,
                    message.sender_id,
                    message.dead_letter_source
                ])?;
        }
        WriteOp::UpdateMessage { seq, available_ms, receive_count, first_receive_ms, receipt } => {
            transaction
                .prepare_cached(
                    "UPDATE messages SET available_ms = ?2, receive_count = ?3, first_receive_ms = ?4, receipt = ?5
                     WHERE seq = ?1",
                )?
                .execute(params![
                    *seq as i64,
                    *available_ms as i64,
                    i64::from(*receive_count),
                    *first_receive_ms as i64,
                    *receipt as i64
                ])?;
        }
        WriteOp::DeleteMessage(seq) => {
            transaction.prepare_cached("DELETE FROM messages WHERE seq = ?1")?.execute([*seq as i64])?;
        }
        WriteOp::InsertDedup(row) => {
            *max_seq = (*max_seq).max(row.seq);
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO dedup (queue_id, key, message_id, seq, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![row.queue_id, row.key, row.message_id, row.seq as i64, row.expires_ms as i64])?;
        }
        WriteOp::ExpireDedup(now_ms) => {
            transaction.prepare_cached("DELETE FROM dedup WHERE expires_ms <= ?1")?.execute([*now_ms as i64])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, queue_id: i64) -> StoredMessage {
        StoredMessage {
            seq,
            queue_id,
            message_id: format!("m{seq}"),
            body: Arc::from("body"),
            attributes: Arc::new(MessageAttributes::new()),
            system_attributes: Arc::new(MessageAttributes::new()),
            sent_ms: 1,
            enqueued_ms: 1,
            available_ms: 1,
            receive_count: 0,
            first_receive_ms: 0,
            receipt: 0,
            group_id: None,
            dedup_id: None,
            sender_id: "test".into(),
            dead_letter_source: None,
        }
    }

    #[tokio::test]
    async fn committed_writes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, loaded) = SqliteSqsStore::open(dir.path(), "000000000000").unwrap();
            let store: Box<dyn SqsStore> = Box::new(store);
            assert!(loaded.queues.is_empty());
            let queue = QueueRow {
                id: 7,
                account: "111111111111".into(),
                region: "us-east-1".into(),
                name: "q".into(),
                attributes: "{}".into(),
                tags: "{}".into(),
                created_ms: 1,
                modified_ms: 1,
                legacy_url: false,
            };
            store
                .commit(vec![
                    WriteOp::PutQueue(queue),
                    WriteOp::InsertMessage(Box::new(message(10, 7))),
                    WriteOp::InsertMessage(Box::new(message(11, 7))),
                ])
                .await
                .unwrap();
            store.commit(vec![WriteOp::DeleteMessage(10)]).await.unwrap();
        }
        let (_store, loaded) = SqliteSqsStore::open(dir.path(), "000000000000").unwrap();
        assert_eq!(loaded.queues.len(), 1);
        assert_eq!(loaded.queues[0].account, "111111111111");
        assert_eq!(loaded.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![11]);
        assert_eq!(loaded.next_seq, 12);
        assert_eq!(loaded.next_queue_id, 8);
    }

    #[tokio::test]
    async fn health_follows_failed_commits_and_a_removed_file() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = SqliteSqsStore::open(dir.path(), "000000000000").unwrap();
        let store: Box<dyn SqsStore> = Box::new(store);
        assert_eq!(store.health(), Ok(()));
        // Another hand breaks the schema under the running writer: its commits fail.
        let other = Connection::open(dir.path().join("sqs.sqlite3")).unwrap();
        other.execute_batch("DROP TABLE messages").unwrap();
        assert!(store.commit(vec![WriteOp::InsertMessage(Box::new(message(1, 7)))]).await.is_err());
        let why = store.health().unwrap_err();
        assert!(why.starts_with("the sqs writer failed its last commit: sqlite: no such table: messages"), "{why}");
        // A commit that succeeds again: the store keeps writes again.
        other.execute_batch(SCHEMA).unwrap();
        store.commit(vec![WriteOp::InsertMessage(Box::new(message(2, 7)))]).await.unwrap();
        assert_eq!(store.health(), Ok(()));
        std::fs::remove_file(dir.path().join("sqs.sqlite3")).unwrap();
        assert_eq!(
            store.health(),
            Err("database file sqs.sqlite3 was removed while open; writes would be lost at restart".to_string())
        );
    }

    #[test]
    fn queues_from_before_accounts_become_the_default_accounts() {
        let dir = tempfile::tempdir().unwrap();
        {
            let old = Connection::open(dir.path().join("sqs.sqlite3")).unwrap();
            old.execute_batch(
                "CREATE TABLE queues (id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL,
                    attributes TEXT NOT NULL, tags TEXT NOT NULL, created_ms INTEGER NOT NULL,
                    modified_ms INTEGER NOT NULL, UNIQUE (region, name));
                 INSERT INTO queues VALUES (3, 'us-east-1', 'jobs', '{}', '{}', 1, 2);",
            )
            .unwrap();
        }
        let (_store, loaded) = SqliteSqsStore::open(dir.path(), "000000000000").unwrap();
        assert_eq!(loaded.queues.len(), 1);
        let row = &loaded.queues[0];
        assert_eq!((row.id, row.account.as_str(), row.name.as_str(), row.modified_ms), (3, "000000000000", "jobs", 2));
        assert!(row.legacy_url, "a queue from before keeps its URL form");
        assert_eq!(loaded.next_queue_id, 4);
        drop(_store);
        // Reopening does not migrate again, and the same name may now exist in another account.
        let connection = open_connection(&dir.path().join("sqs.sqlite3"), "999999999999").unwrap();
        connection
            .execute(
                "INSERT INTO queues (id, account, region, name, attributes, tags, created_ms, modified_ms)
                 VALUES (4, '111111111111', 'us-east-1', 'jobs', '{}', '{}', 1, 1)",
                [],
            )
            .unwrap();
        let accounts: Vec<String> = connection
            .prepare("SELECT account FROM queues ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(accounts, ["000000000000", "111111111111"]);
    }

    #[test]
    fn queues_from_before_regional_urls_keep_their_url_form() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A data dir at schema version 1, with one queue.
            let old = Connection::open(dir.path().join("sqs.sqlite3")).unwrap();
            old.execute_batch(SCHEMA).unwrap();
            old.execute_batch(
                "INSERT INTO queues (id, account, region, name, attributes, tags, created_ms, modified_ms)
                 VALUES (1, '000000000000', 'us-east-1', 'old', '{}', '{}', 1, 1);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let (_store, loaded) = SqliteSqsStore::open(dir.path(), "000000000000").unwrap();
        assert_eq!(loaded.queues.iter().map(|q| (q.name.as_str(), q.legacy_url)).collect::<Vec<_>>(), [("old", true)]);
        drop(_store);
        // Reopening does not mark the queues created since.
        let connection = open_connection(&dir.path().join("sqs.sqlite3"), "000000000000").unwrap();
        connection
            .execute(
                "INSERT INTO queues (id, account, region, name, attributes, tags, created_ms, modified_ms)
                 VALUES (2, '000000000000', 'us-east-1', 'new', '{}', '{}', 1, 1)",
                [],
            )
            .unwrap();
        drop(connection);
        let (_store, loaded) = SqliteSqsStore::open(dir.path(), "000000000000").unwrap();
        let forms: Vec<_> = loaded.queues.iter().map(|q| (q.name.as_str(), q.legacy_url)).collect();
        assert_eq!(forms, [("old", true), ("new", false)]);
    }
}

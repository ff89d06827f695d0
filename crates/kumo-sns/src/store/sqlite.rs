//! [`SnsStore`] on SQLite: its own database (`sns.sqlite3`, WAL) written by one group-commit
//! thread that owns the connection (`kumo_store::group_commit`); outbox pages are read through a
//! second connection (WAL lets it read committed rows while the writer writes).

use std::path::Path;
use std::sync::Mutex;

use kumo_store::group_commit::WriterName;
use kumo_store::migrations::Schema;
use kumo_store::ops_writer::{ApplyOps, OpsWriter};
use rusqlite::{params, Connection, Transaction};

use super::{Done, Loaded, OutboxRow, SnsStore, StoreError, SubscriptionRow, TopicRow, WriteOp};

/// SNS's schema.
const SCHEMA_MIGRATIONS: Schema<'static, (), StoreError> = Schema { shape_checks: &[], versions: &[create_tables] };

/// Version 1: the tables.
fn create_tables(transaction: &Transaction<'_>, _: &()) -> Result<(), StoreError> {
    Ok(transaction.execute_batch(
        "CREATE TABLE topics (
            arn TEXT PRIMARY KEY,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL
        );
        CREATE TABLE subscriptions (
            arn TEXT PRIMARY KEY,
            topic_arn TEXT NOT NULL,
            owner TEXT NOT NULL,
            protocol TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            attributes TEXT NOT NULL,
            pending_token TEXT
        );
        CREATE INDEX subscriptions_by_topic ON subscriptions (topic_arn);
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            message TEXT NOT NULL
        );",
    )?)
}

/// Most operations one transaction applies before it commits.
const MAX_OPS_PER_COMMIT: usize = 20_000;

/// SNS's SQLite database and the thread that writes it.
pub struct SqliteSnsStore {
    writer: OpsWriter<WriteOp>,
    reader: Mutex<Connection>,
}

impl SqliteSnsStore {
    /// Opens (creating) `sns.sqlite3` in `data_dir`, reads everything, and starts the writer.
    pub fn open(data_dir: &Path) -> Result<(Self, Loaded), StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("sns.sqlite3");
        let mut connection = kumo_store::sqlite::open(&path, kumo_store::sqlite::OpenOptions::default())?;
        kumo_store::migrations::migrate(&mut connection, &(), &SCHEMA_MIGRATIONS)?;
        let loaded = load(&connection)?;
        let reader = kumo_store::sqlite::open(&path, kumo_store::sqlite::OpenOptions::default())?;
        let name = WriterName { thread: "kumo-sns-writer", what: "sns" };
        let writer = OpsWriter::start(connection, &path, name, "the sns writer", MAX_OPS_PER_COMMIT)?;
        Ok((Self { writer, reader: Mutex::new(reader) }, loaded))
    }
}

impl SnsStore for SqliteSnsStore {
    fn submit(&self, ops: Vec<WriteOp>, done: Option<Done>) {
        self.writer.submit(ops, done);
    }

    fn health(&self) -> Result<(), String> {
        self.writer.health()
    }

    fn outbox_page(&self, after: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        // A panic while reading leaves nothing half-done: the connection only reads.
        let reader = self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let rows = reader
            .prepare_cached("SELECT seq, message FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")?
            .query_map(params![after as i64, limit as i64], |row| {
                Ok(OutboxRow { seq: row.get::<_, i64>(0)? as u64, message: row.get(1)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

impl ApplyOps for WriteOp {
    type Error = StoreError;

    fn apply<'a>(connection: &Connection, ops: impl Iterator<Item = &'a Self>) -> Result<(), StoreError> {
        for op in ops {
            apply_op(connection, op)?;
        }
        Ok(())
    }
}

fn apply_op(connection: &Connection, op: &WriteOp) -> Result<(), StoreError> {
    match op {
        WriteOp::PutTopic(topic) => {
            connection
                .prepare_cached("INSERT OR REPLACE INTO topics (arn, attributes, tags) VALUES (?1, ?2, ?3)")?
                .execute(params![topic.arn, topic.attributes, topic.tags])?;
        }
        WriteOp::DeleteTopic(arn) => {
            connection.prepare_cached("DELETE FROM topics WHERE arn = ?1")?.execute([arn])?;
            connection.prepare_cached("DELETE FROM subscriptions WHERE topic_arn = ?1")?.execute([arn])?;
        }
        WriteOp::PutSubscription(row) => {
            connection
                .prepare_cached(
                    "INSERT OR REPLACE INTO subscriptions
                        (arn, topic_arn, owner, protocol, endpoint, attributes, pending_token)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    row.arn,
                    row.topic_arn,
                    row.owner,
                    row.protocol,
                    row.endpoint,
                    row.attributes,
                    row.pending_token
                ])?;
        }
        WriteOp::DeleteSubscription(arn) => {
            connection.prepare_cached("DELETE FROM subscriptions WHERE arn = ?1")?.execute([arn])?;
        }
        WriteOp::InsertOutbox(row) => {
            connection
                .prepare_cached("INSERT OR REPLACE INTO outbox (seq, message) VALUES (?1, ?2)")?
                .execute(params![row.seq as i64, row.message])?;
        }
        WriteOp::DeleteOutbox(seq) => {
            connection.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?.execute([*seq as i64])?;
        }
    }
    Ok(())
}

fn load(connection: &Connection) -> Result<Loaded, StoreError> {
    let topics = connection
        .prepare("SELECT arn, attributes, tags FROM topics ORDER BY arn")?
        .query_map([], |row| Ok(TopicRow { arn: row.get(0)?, attributes: row.get(1)?, tags: row.get(2)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    let subscriptions = connection
        .prepare(
            "SELECT arn, topic_arn, owner, protocol, endpoint, attributes, pending_token
             FROM subscriptions ORDER BY arn",
        )?
        .query_map([], |row| {
            Ok(SubscriptionRow {
                arn: row.get(0)?,
                topic_arn: row.get(1)?,
                owner: row.get(2)?,
                protocol: row.get(3)?,
                endpoint: row.get(4)?,
                attributes: row.get(5)?,
                pending_token: row.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (undelivered, last): (i64, Option<i64>) =
        connection.query_row("SELECT COUNT(*), MAX(seq) FROM outbox", [], |row| Ok((row.get(0)?, row.get(1)?)))?;
    // Positions are never reused while a row holds one; a fresh outbox may start again at 1.
    let next_seq = last.map_or(1, |last| last as u64 + 1);
    Ok(Loaded { topics, subscriptions, undelivered: undelivered as u64, next_seq })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sqlite_store_keeps_the_suite() {
        super::super::suite::suite(|dir| super::SqliteSnsStore::open(dir).unwrap());
    }
}

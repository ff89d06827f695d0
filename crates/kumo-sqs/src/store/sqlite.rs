//! SQS's durable store: its own SQLite database (`sqs.sqlite3`, WAL) written by one thread that
//! commits whatever jobs have queued up in one transaction (group commit). A job's `done`
//! callback runs after its transaction committed, in submission order, so "sent = stored":
//! SendMessage answers only from that callback. Reads happen once, at start-up.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use rusqlite::{params, Connection, Transaction};

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

/// Errors of the store; the service logs them and answers with an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored document could not be read.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The filesystem failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The writer thread is gone.
    #[error("the sqs writer has stopped")]
    WriterStopped,
}

/// A queue's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    /// Never reused, even after the queue is deleted.
    pub id: i64,
    /// The owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// [`crate::attributes::QueueAttributes`] as JSON.
    pub attributes: String,
    /// Tags as a JSON object.
    pub tags: String,
    /// Creation time, epoch ms.
    pub created_ms: u64,
    /// Last attribute change, epoch ms.
    pub modified_ms: u64,
}

/// A message as stored and as held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Global, increasing position (the FIFO sequence number derives from it).
    pub seq: u64,
    /// The queue holding it.
    pub queue_id: i64,
    /// Message id (kept when moved to a dead-letter queue).
    pub message_id: String,
    /// The body.
    pub body: Arc<str>,
    /// User attributes.
    pub attributes: Arc<MessageAttributes>,
    /// System attributes (`AWSTraceHeader`).
    pub system_attributes: Arc<MessageAttributes>,
    /// `SentTimestamp`, epoch ms.
    pub sent_ms: u64,
    /// Start of the retention period, epoch ms.
    pub enqueued_ms: u64,
    /// When it can next be received (after a delay or a visibility timeout), epoch ms.
    pub available_ms: u64,
    /// Receives so far.
    pub receive_count: u32,
    /// First receive, epoch ms (0 = never).
    pub first_receive_ms: u64,
    /// Token of the latest receive's handle (0 = never received).
    pub receipt: u64,
    /// FIFO group.
    pub group_id: Option<String>,
    /// FIFO deduplication id.
    pub dedup_id: Option<String>,
    /// `SenderId`.
    pub sender_id: String,
    /// ARN of the queue it was dead-lettered from (for StartMessageMoveTask).
    pub dead_letter_source: Option<String>,
}

/// A FIFO deduplication record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupRow {
    /// Queue.
    pub queue_id: i64,
    /// Deduplication id (prefixed with the group for `messageGroup` scope).
    pub key: String,
    /// Message id the first send got.
    pub message_id: String,
    /// Its sequence position.
    pub seq: u64,
    /// End of the 5-minute window, epoch ms.
    pub expires_ms: u64,
}

/// One change to the database.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Inserts or replaces a queue row.
    PutQueue(QueueRow),
    /// Deletes a queue with its messages and deduplication records.
    DeleteQueue(i64),
    /// Deletes every message of a queue.
    PurgeQueue(i64),
    /// Stores a message (new, or moved with a new `seq`).
    InsertMessage(Box<StoredMessage>),
    /// Records a receive or visibility change.
    UpdateMessage {
        /// Message position.
        seq: u64,
        /// New availability.
        available_ms: u64,
        /// Receives so far.
        receive_count: u32,
        /// First receive.
        first_receive_ms: u64,
        /// Current receipt token.
        receipt: u64,
    },
    /// Deletes a message.
    DeleteMessage(u64),
    /// Records a FIFO deduplication id.
    InsertDedup(DedupRow),
    /// Forgets deduplication records that expired before this time.
    ExpireDedup(u64),
}

/// Called once the job's transaction committed (`true`) or failed (`false`).
pub type Done = Box<dyn FnOnce(bool) + Send>;

struct Job {
    ops: Vec<WriteOp>,
    done: Option<Done>,
}

/// Everything the store holds, read at start-up.
pub struct Loaded {
    /// Queue rows.
    pub queues: Vec<QueueRow>,
    /// Messages, by `seq`.
    pub messages: Vec<StoredMessage>,
    /// Deduplication records.
    pub dedup: Vec<DedupRow>,
    /// Next free message position.
    pub next_seq: u64,
    /// Next free queue id.
    pub next_queue_id: i64,
}

/// Handle on the store and its writer thread.
pub struct SqsStore {
    sender: mpsc::Sender<Job>,
}

/// Most operations one transaction applies before it commits.
const MAX_OPS_PER_COMMIT: usize = 20_000;

/// Gives queues stored before queues had accounts (a `queues` table without an `account`
/// column, unique by region and name) to `default_account`, rebuilding the table so names are
/// unique per account. Runs once; a store that has the column is left alone.
fn migrate_queue_accounts(connection: &mut Connection, default_account: &str) -> Result<(), StoreError> {
    let has_account =
        connection.prepare("SELECT 1 FROM pragma_table_info('queues') WHERE name = 'account'")?.exists([])?;
    if has_account {
        return Ok(());
    }
    let transaction = connection.transaction()?;
    transaction.execute_batch(
        "CREATE TABLE queues_with_accounts (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            modified_ms INTEGER NOT NULL,
            UNIQUE (account, region, name)
        );",
    )?;
    let moved = transaction.execute(
        "INSERT INTO queues_with_accounts (id, account, region, name, attributes, tags, created_ms, modified_ms)
         SELECT id, ?1, region, name, attributes, tags, created_ms, modified_ms FROM queues",
        [default_account],
    )?;
    transaction.execute_batch("DROP TABLE queues; ALTER TABLE queues_with_accounts RENAME TO queues;")?;
    transaction.commit()?;
    tracing::info!(queues = moved, account = default_account, "sqs store migrated: queues now belong to accounts");
    Ok(())
}

fn open_connection(path: &Path, default_account: &str) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    // WAL + NORMAL: a committed transaction survives a crash of Kumo (kill -9); only an OS
    // crash or power loss can lose the last commits, as with the rest of Kumo's state.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut connection = connection;
    let existing =
        connection.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queues'")?.exists([])?;
    if existing {
        migrate_queue_accounts(&mut connection, default_account)?;
    }
    connection.execute_batch(SCHEMA)?;
    Ok(connection)
}

impl SqsStore {
    /// Opens (creating) `sqs.sqlite3` in `data_dir`, reads everything, and starts the writer;
    /// queues stored before queues had accounts become `default_account`'s.
    pub fn open(data_dir: &Path, default_account: &str) -> Result<(Self, Loaded), StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let connection = open_connection(&data_dir.join("sqs.sqlite3"), default_account)?;
        let loaded = load(&connection)?;
        let (sender, receiver) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("kumo-sqs-writer".into()).spawn(move || write_loop(connection, receiver))?;
        Ok((Self { sender }, loaded))
    }

    /// Queues `ops`; `done` runs after they committed (or failed).
    pub fn submit(&self, ops: Vec<WriteOp>, done: Option<Done>) {
        if let Err(mpsc::SendError(job)) = self.sender.send(Job { ops, done }) {
            tracing::error!("sqs writer stopped; a write was dropped");
            if let Some(done) = job.done {
                done(false);
            }
        }
    }

    /// Queues `ops` and waits until they are committed.
    pub async fn commit(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.submit(
            ops,
            Some(Box::new(move |ok| {
                let _ = sender.send(ok);
            })),
        );
        match receiver.await {
            Ok(true) => Ok(()),
            _ => Err(StoreError::WriterStopped),
        }
    }
}

fn load(connection: &Connection) -> Result<Loaded, StoreError> {
    let mut statement = connection.prepare(
        "SELECT id, account, region, name, attributes, tags, created_ms, modified_ms FROM queues ORDER BY id",
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

fn write_loop(mut connection: Connection, receiver: mpsc::Receiver<Job>) {
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        let mut op_count = jobs[0].ops.len();
        while op_count < MAX_OPS_PER_COMMIT {
            match receiver.try_recv() {
                Ok(job) => {
                    op_count += job.ops.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let committed = match apply(&mut connection, &jobs) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, jobs = jobs.len(), "sqs store commit failed");
                false
            }
        };
        for job in jobs {
            if let Some(done) = job.done {
                done(committed);
            }
        }
    }
    tracing::debug!("sqs writer stopped");
}

fn json_or_null(attributes: &MessageAttributes) -> Result<Option<String>, StoreError> {
    if attributes.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::to_string(attributes)?))
}

fn apply(connection: &mut Connection, jobs: &[Job]) -> Result<(), StoreError> {
    let transaction = connection.transaction()?;
    let mut max_seq = 0u64;
    let mut max_queue_id = 0i64;
    for op in jobs.iter().flat_map(|job| job.ops.iter()) {
        apply_op(&transaction, op, &mut max_seq, &mut max_queue_id)?;
    }
    if max_seq > 0 {
        transaction.execute(
            "INSERT INTO counters (name, value) VALUES ('next_seq', ?1)
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            [max_seq as i64 + 1],
        )?;
    }
    if max_queue_id > 0 {
        transaction.execute(
            "INSERT INTO counters (name, value) VALUES ('next_queue_id', ?1)
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            [max_queue_id + 1],
        )?;
    }
    transaction.commit()?;
    Ok(())
}

fn apply_op(
    transaction: &Transaction<'_>,
    op: &WriteOp,
    max_seq: &mut u64,
    max_queue_id: &mut i64,
) -> Result<(), StoreError> {
    match op {
        WriteOp::PutQueue(queue) => {
            *max_queue_id = (*max_queue_id).max(queue.id);
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO queues (id, region, name, attributes, tags, created_ms, modified_ms, account)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    queue.id,
                    queue.region,
                    queue.name,
                    queue.attributes,
                    queue.tags,
                    queue.created_ms as i64,
                    queue.modified_ms as i64,
                    queue.account
                ])?;
        }
        WriteOp::DeleteQueue(id) => {
            transaction.prepare_cached("DELETE FROM queues WHERE id = ?1")?.execute([id])?;
            transaction.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?.execute([id])?;
            transaction.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1")?.execute([id])?;
        }
        WriteOp::PurgeQueue(id) => {
            transaction.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?.execute([id])?;
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
            let (store, loaded) = SqsStore::open(dir.path(), "000000000000").unwrap();
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
        let (_store, loaded) = SqsStore::open(dir.path(), "000000000000").unwrap();
        assert_eq!(loaded.queues.len(), 1);
        assert_eq!(loaded.queues[0].account, "111111111111");
        assert_eq!(loaded.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![11]);
        assert_eq!(loaded.next_seq, 12);
        assert_eq!(loaded.next_queue_id, 8);
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
        let (_store, loaded) = SqsStore::open(dir.path(), "000000000000").unwrap();
        assert_eq!(loaded.queues.len(), 1);
        let row = &loaded.queues[0];
        assert_eq!((row.id, row.account.as_str(), row.name.as_str(), row.modified_ms), (3, "000000000000", "jobs", 2));
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
}

//! What SQS stores, behind [`SqsStore`]: queue rows, messages and FIFO deduplication records,
//! written as batches of [`WriteOp`]s whose `done` callbacks run after their transaction
//! committed, in submission order, so "sent = stored": SendMessage answers only from that
//! callback. Everything is read once, at start-up ([`Loaded`]). [`SqliteSqsStore`] keeps it in
//! `sqs.sqlite3` under the data dir.

mod sqlite;
#[cfg(test)]
mod suite;

use std::sync::Arc;

use crate::types::MessageAttributes;

pub use sqlite::SqliteSqsStore;

/// SQS's durable state. Writes are queued and group-committed; reads happen once, when the
/// implementation is opened.
pub trait SqsStore: Send + Sync {
    /// Queues `ops`; `done` runs after they committed (`true`) or failed (`false`), in the
    /// order the writes were submitted.
    fn submit(&self, ops: Vec<WriteOp>, done: Option<Done>);

    /// `Ok` while writes submitted now would be kept; otherwise why not (for
    /// `/_kumo/health`). Called on every health poll: O(1), no I/O beyond a `stat`.
    fn health(&self) -> Result<(), String>;
}

impl dyn SqsStore {
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
    /// Created before queue URLs carried the region: its URL stays `<endpoint>/<account>/<name>`.
    pub legacy_url: bool,
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
    /// Deletes every message of a queue and its deduplication records.
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

pub use kumo_store::ops_writer::Done;

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

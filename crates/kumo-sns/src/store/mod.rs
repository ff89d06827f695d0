//! What SNS stores, behind [`SnsStore`]: topics, subscriptions and the delivery outbox (messages
//! accepted by Publish whose fan-out has not finished), written as batches of [`WriteOp`]s through
//! one group-commit writer whose `done` callbacks run after their transaction committed, so
//! "published = stored": Publish answers only from that callback. Topics and subscriptions are
//! read once, at start-up ([`Loaded`]); the outbox is read a page at a time
//! ([`SnsStore::outbox_page`]), so a large backlog never has to fit in memory.
//! [`SqliteSnsStore`] keeps it in `sns.sqlite3` under the data dir.

mod sqlite;
#[cfg(test)]
mod suite;

pub use sqlite::SqliteSnsStore;

/// SNS's durable state. Writes are queued and group-committed; reads happen once, when the
/// implementation is opened.
pub trait SnsStore: Send + Sync {
    /// Queues `ops`; `done` runs after they committed (`true`) or failed (`false`), in the
    /// order the writes were submitted.
    fn submit(&self, ops: Vec<WriteOp>, done: Option<Done>);

    /// `Ok` while writes submitted now would be kept; otherwise why not (for `/_kumo/health`).
    fn health(&self) -> Result<(), String>;

    /// Up to `limit` committed outbox rows with `seq > after`, in `seq` order (blocking: call
    /// from a blocking thread).
    fn outbox_page(&self, after: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError>;
}

impl dyn SnsStore {
    /// Queues `ops` and waits until they are committed.
    pub async fn commit(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let done: Done = Box::new(move |ok| {
            let _ = sender.send(ok);
        });
        self.submit(ops, Some(done));
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
    #[error("the sns writer has stopped")]
    WriterStopped,
}

/// A topic's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRow {
    /// `arn:aws:sns:<region>:<account>:<name>`.
    pub arn: String,
    /// Its settable attributes as a JSON object.
    pub attributes: String,
    /// Its tags as a JSON object.
    pub tags: String,
}

/// A subscription's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    /// `<topic arn>:<uuid>`.
    pub arn: String,
    /// The topic.
    pub topic_arn: String,
    /// The subscribing account.
    pub owner: String,
    /// `sqs`, `lambda`, `http`, …
    pub protocol: String,
    /// Where messages go (a queue or function ARN, a URL).
    pub endpoint: String,
    /// Its settable attributes as a JSON object.
    pub attributes: String,
    /// The confirmation token while it waits to be confirmed.
    pub pending_token: Option<String>,
}

/// A published message whose deliveries have not all been made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Position in the outbox, increasing.
    pub seq: u64,
    /// [`crate::delivery::Notification`] as JSON.
    pub message: String,
}

/// One change to the database.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Inserts or replaces a topic.
    PutTopic(TopicRow),
    /// Deletes a topic and its subscriptions.
    DeleteTopic(String),
    /// Inserts or replaces a subscription.
    PutSubscription(SubscriptionRow),
    /// Deletes a subscription.
    DeleteSubscription(String),
    /// Records a published message for delivery.
    InsertOutbox(OutboxRow),
    /// Forgets a message whose deliveries are done.
    DeleteOutbox(u64),
}

pub use kumo_store::ops_writer::Done;

/// What the store holds, read at start-up (the outbox's rows are paged later).
#[derive(Debug, Default)]
pub struct Loaded {
    /// Topics, by ARN.
    pub topics: Vec<TopicRow>,
    /// Subscriptions, by ARN.
    pub subscriptions: Vec<SubscriptionRow>,
    /// How many messages wait in the outbox.
    pub undelivered: u64,
    /// Next free outbox position.
    pub next_seq: u64,
}

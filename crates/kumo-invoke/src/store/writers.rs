//! Handles on the group-committed writes of Lambda's store: the async queue (every Event
//! invoke waits for its commit) and logs and metering. An implementation of
//! [`super::LambdaStore`] starts the writer behind each handle and applies the changes sent to
//! it, many per transaction (`kumo_store::group_commit`).

use std::sync::mpsc;

use super::{AsyncEvent, LogEvent, MeteringRecord};

/// Called once the event's batch is committed, with the event handed back (so the enqueuer
/// need not keep a copy) and its new id, or with the error.
pub type EnqueueDone = Box<dyn FnOnce(AsyncEvent, Result<i64, String>) + Send>;

/// A change to the async queue. Documents are serialised by the sender, so the one writer that
/// every Event invoke waits for only writes.
pub enum QueueChange {
    /// Store a new event; `id` is filled in when it is inserted.
    Enqueue {
        /// The event (its payload is stored beside the document).
        event: AsyncEvent,
        /// The event as JSON.
        document: String,
        /// Its id once inserted.
        id: i64,
        /// Told the outcome after the commit.
        done: EnqueueDone,
    },
    /// Replace an event's document (attempt count).
    Update {
        /// The event's id.
        id: i64,
        /// Its new JSON.
        document: String,
    },
    /// Remove a handled event.
    Complete(i64),
}

impl QueueChange {
    /// Tells an enqueuer how its batch's commit went; other changes have no one to tell.
    pub(crate) fn tell_enqueuer(self, outcome: Result<(), &str>) {
        if let Self::Enqueue { event, id, done, .. } = self {
            done(event, outcome.map(|()| id).map_err(str::to_string));
        }
    }
}

/// Sends changes to the async queue's writer.
#[derive(Clone)]
pub struct QueueWriter {
    sender: tokio::sync::mpsc::UnboundedSender<QueueChange>,
}

impl QueueWriter {
    /// A handle on a writer that applies what `sender`'s receiver gets.
    pub fn new(sender: tokio::sync::mpsc::UnboundedSender<QueueChange>) -> Self {
        Self { sender }
    }

    /// Stores a new event; `done` runs once it is committed. If the store is shutting down,
    /// `done` is dropped without being called.
    pub fn enqueue(&self, event: AsyncEvent, done: EnqueueDone) {
        match document(&event) {
            Ok(document) => {
                let _ = self.sender.send(QueueChange::Enqueue { event, document, id: 0, done });
            }
            Err(error) => done(event, Err(error.to_string())),
        }
    }

    /// Replaces a stored event's document (its attempt count).
    pub fn update(&self, id: i64, event: &AsyncEvent) {
        match document(event) {
            Ok(document) => {
                let _ = self.sender.send(QueueChange::Update { id, document });
            }
            Err(error) => tracing::error!(%error, id, "serialising an async event failed"),
        }
    }

    /// Removes a handled event.
    pub fn complete(&self, id: i64) {
        let _ = self.sender.send(QueueChange::Complete(id));
    }
}

/// An event's JSON document, written into a buffer sized for a typical one at once (growing a
/// `String` from empty took several reallocations per Event invoke).
fn document(event: &AsyncEvent) -> Result<String, serde_json::Error> {
    let mut buffer = Vec::with_capacity(256);
    serde_json::to_writer(&mut buffer, event)?;
    // serde_json writes UTF-8 only; the check is a formality, not a failure path.
    Ok(String::from_utf8(buffer).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
}

/// Called once every write sent before it is committed.
pub type FlushDone = Box<dyn FnOnce() + Send>;

/// A write the logs-and-metering writer performs.
pub enum BatchWrite {
    /// Append a log line.
    Log(LogEvent),
    /// Record a metered invocation.
    Metering(MeteringRecord),
    /// Run after every earlier write is committed (used to wait for durability).
    Flush(FlushDone),
}

impl BatchWrite {
    /// Runs a flush once its batch's commit was attempted (a failed batch is already logged;
    /// a flush waits for the attempt, not for success).
    pub(crate) fn run_flush(self) {
        if let Self::Flush(done) = self {
            done();
        }
    }
}

/// Sends writes to the logs-and-metering writer.
#[derive(Clone)]
pub struct BatchWriter {
    sender: mpsc::Sender<BatchWrite>,
}

impl BatchWriter {
    /// A handle on a writer that applies what `sender`'s receiver gets.
    pub fn new(sender: mpsc::Sender<BatchWrite>) -> Self {
        Self { sender }
    }

    /// Queues a write; dropped silently only if the store is shutting down.
    pub fn send(&self, write: BatchWrite) {
        let _ = self.sender.send(write);
    }
}

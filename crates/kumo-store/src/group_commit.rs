//! Group commit for the store's high-rate writes: one writer per kind of write takes everything
//! queued, applies it in one SQLite transaction and only then tells each sender it is done. The
//! async-invoke queue uses it so an event is committed before its 202; logs and metering use it
//! so a busy function costs one transaction per batch, not per line.
//!
//! The logs-and-metering writer is a thread. The async queue's writer is a task on the async
//! runtime that commits in place when the connection is free: an Event invoke's commit is
//! short (a few page writes into the page cache, nothing synced), while a writer thread between
//! the requests and their commit cost two cross-thread wake-ups per batch. Whatever could make
//! it wait goes to a blocking thread instead: a connection busy with other work, and the
//! checkpoint (which syncs the WAL and the database file). This is the one place SQLite runs on
//! the async runtime.

use std::sync::mpsc;
use std::sync::Arc;

use rusqlite::{params, Connection};

use crate::metadata::{AsyncEvent, LogEvent, MetadataStore, MeteringRecord};
use crate::StoreError;

/// Most writes one transaction takes; the rest wait for the next one.
const MAX_BATCH: usize = 4096;

/// One kind of write a group-commit thread applies.
trait BatchedWrite: Sized + Send + 'static {
    /// Applies a whole batch inside the caller's transaction (statements are prepared once per
    /// batch; a write that inserts a row records its id in itself).
    fn apply(connection: &Connection, batch: &mut [Self]) -> Result<(), StoreError>;
    /// Tells the sender the outcome, once the batch is committed or has failed.
    fn finish(self, outcome: Result<(), &str>);
}

/// Starts a group-commit thread for one kind of write and returns its queue.
fn spawn<W: BatchedWrite>(store: &Arc<MetadataStore>, thread_name: &str, what: &'static str) -> mpsc::Sender<W> {
    let (sender, receiver) = mpsc::channel::<W>();
    let store = Arc::clone(store);
    std::thread::Builder::new()
        .name(thread_name.into())
        .spawn(move || run(&store, &receiver, what))
        .expect("spawning a store writer thread"); // Start-up cannot continue without it.
    sender
}

fn run<W: BatchedWrite>(store: &MetadataStore, receiver: &mpsc::Receiver<W>, what: &str) {
    // Reused across batches: a batch costs no allocation once the vector has grown.
    let mut batch = Vec::new();
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        batch.extend(receiver.try_iter().take(MAX_BATCH - 1));
        let outcome = store.in_transaction(|connection| W::apply(connection, &mut batch));
        finish(&mut batch, outcome, what);
    }
}

/// Called once the event's batch is committed, with the event handed back (so the enqueuer
/// need not keep a copy) and its new id, or with the error.
pub type EnqueueDone = Box<dyn FnOnce(AsyncEvent, Result<i64, String>) + Send>;

/// A change to the async queue. Documents are serialised by the sender, so the one thread that
/// every Event invoke waits for only writes.
enum QueueChange {
    /// Store a new event; `id` is filled in when it is inserted.
    Enqueue { event: AsyncEvent, document: String, id: i64, done: EnqueueDone },
    /// Replace an event's document (attempt count).
    Update { id: i64, document: String },
    /// Remove a handled event.
    Complete(i64),
}

impl BatchedWrite for QueueChange {
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
        if let Self::Enqueue { event, id, done, .. } = self {
            done(event, outcome.map(|()| id).map_err(str::to_string));
        }
    }
}

/// Sends changes to the async queue's writer task.
#[derive(Clone)]
pub struct QueueWriter {
    sender: tokio::sync::mpsc::UnboundedSender<QueueChange>,
}

impl QueueWriter {
    /// Starts the task that writes the async queue (on the current Tokio runtime: call it from
    /// within one): many events are committed in one transaction, and each enqueuer is told its
    /// id only after that commit.
    pub(crate) fn spawn(store: &Arc<MetadataStore>) -> Self {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(run_queue(Arc::clone(store), receiver));
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

async fn run_queue(store: Arc<MetadataStore>, mut receiver: tokio::sync::mpsc::UnboundedReceiver<QueueChange>) {
    // Reused across batches: a batch costs no allocation once the vector has grown.
    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Let the requests already read on this thread reach the queue first: the batch then
        // holds every event that is ready, not only the first one (3.7 instead of 1.1 per
        // commit with 8 clients), with no timer.
        tokio::task::yield_now().await;
        while let Ok(change) = receiver.try_recv() {
            batch.push(change);
            if batch.len() == MAX_BATCH {
                break;
            }
        }
        let (outcome, checkpoint_due) =
            match store.try_in_transaction(|connection| QueueChange::apply(connection, &mut batch)) {
                Some(committed) => committed,
                None => match commit_blocking(&store, &mut batch).await {
                    Some(outcome) => (outcome, false),
                    None => continue,
                },
            };
        finish(&mut batch, outcome, "async queue");
        if checkpoint_due {
            // After the 202s have gone: only events arriving meanwhile wait for it.
            let store = Arc::clone(&store);
            let _ = tokio::task::spawn_blocking(move || store.checkpoint()).await;
        }
    }
}

/// Commits a batch on a blocking thread, for when the connection is busy (a checkpoint, the logs
/// writer, an API call): waiting for it must not hold the runtime. `None` if the commit
/// panicked; the batch went with it, and its enqueuers see the writer gone.
async fn commit_blocking(store: &Arc<MetadataStore>, batch: &mut Vec<QueueChange>) -> Option<Result<(), StoreError>> {
    let (store, mut moved) = (Arc::clone(store), std::mem::take(batch));
    let waited = tokio::task::spawn_blocking(move || {
        let outcome = store.in_transaction(|connection| QueueChange::apply(connection, &mut moved));
        (outcome, moved)
    })
    .await;
    match waited {
        Ok((outcome, moved)) => {
            *batch = moved;
            Some(outcome)
        }
        Err(error) => {
            tracing::error!(%error, "writing an async queue batch panicked");
            None
        }
    }
}

/// Tells every write of a batch how its commit went, emptying the batch.
fn finish<W: BatchedWrite>(batch: &mut Vec<W>, outcome: Result<(), StoreError>, what: &str) {
    match outcome {
        Ok(()) => batch.drain(..).for_each(|write| write.finish(Ok(()))),
        Err(error) => {
            tracing::error!(%error, batch = what, "writing a batch failed");
            let message = error.to_string();
            batch.drain(..).for_each(|write| write.finish(Err(&message)));
        }
    }
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

impl BatchedWrite for BatchWrite {
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
        // A failed batch is already logged; a flush waits for the attempt, not for success.
        if let Self::Flush(done) = self {
            done();
        }
    }
}

/// Sends writes to the logs-and-metering writer thread.
#[derive(Clone)]
pub struct BatchWriter {
    sender: mpsc::Sender<BatchWrite>,
}

impl BatchWriter {
    /// Starts the thread that commits logs and metering in batches.
    pub(crate) fn spawn(store: &Arc<MetadataStore>) -> Self {
        Self { sender: spawn(store, "kumo-store-writer", "logs and metering") }
    }

    /// Queues a write; dropped silently only if the store is shutting down.
    pub fn send(&self, write: BatchWrite) {
        let _ = self.sender.send(write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(request_id: &str) -> AsyncEvent {
        AsyncEvent {
            request_id: request_id.into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            function_name: "f".into(),
            qualifier: None,
            payload: request_id.as_bytes().to_vec(),
            client_context: None,
            enqueued_ms: 1,
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn each_enqueuer_gets_its_id_and_changes_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Arc::new(MetadataStore::open(&path, "111111111111").unwrap());
        let writer = store.spawn_queue_writer();
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        for name in ["a", "b", "c"] {
            let sender = sender.clone();
            writer.enqueue(event(name), Box::new(move |event, id| sender.send((event, id.unwrap())).unwrap()));
        }
        let mut enqueued: Vec<(AsyncEvent, i64)> = Vec::new();
        while enqueued.len() < 3 {
            enqueued.push(receiver.recv().await.unwrap());
        }
        assert_eq!(enqueued.iter().map(|(event, _)| event.request_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        let (a, b) = (enqueued[0].1, enqueued[1].1);
        let mut retried = event("b");
        retried.attempts = 1;
        writer.update(b, &retried);
        writer.complete(a);
        // The writer applies changes in order: once "d" is committed, so are the two before it.
        let (committed, committed_receiver) = tokio::sync::oneshot::channel();
        writer.enqueue(event("d"), Box::new(move |_, id| committed.send(id).unwrap()));
        assert!(committed_receiver.await.unwrap().unwrap() > enqueued[2].1);
        let pending = store.pending_async().unwrap();
        let pending: Vec<(&str, u32)> =
            pending.iter().map(|(_, event)| (event.request_id.as_str(), event.attempts)).collect();
        assert_eq!(pending, [("b", 1), ("c", 0), ("d", 0)]);
    }

    #[tokio::test]
    async fn the_writer_does_not_wait_for_a_busy_connection_on_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MetadataStore::open(&dir.path().join("db"), "111111111111").unwrap());
        let writer = store.spawn_queue_writer();
        // Another user holds the connection until this test lets go, or 5 s have passed.
        let (holding, held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store.in_transaction(|_| {
                    holding.send(()).unwrap();
                    Ok(released.recv_timeout(std::time::Duration::from_secs(5)).is_ok())
                })
            })
        };
        held.recv().unwrap();
        let (done, committed) = tokio::sync::oneshot::channel();
        writer.enqueue(event("e"), Box::new(move |_, id| done.send(id).unwrap()));
        // This runtime has one thread: had the writer waited for the connection on it, this
        // task would only go on once the holder gave up by itself.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        assert!(holder.join().unwrap().unwrap(), "the runtime was blocked until the holder timed out");
        assert!(committed.await.unwrap().unwrap() > 0);
        assert_eq!(store.pending_async().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_wal_is_checkpointed_and_restarted_under_the_queue_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let wal = dir.path().join("db-wal");
        let store = Arc::new(MetadataStore::open(&path, "111111111111").unwrap());
        let writer = store.spawn_queue_writer();
        // 60 batches of 50 events of 4 KiB: over 6,000 WAL frames without checkpoints.
        let mut largest_wal = 0;
        for batch in 0..60 {
            let mut waiting = Vec::new();
            for i in 0..50 {
                let (done, committed) = tokio::sync::oneshot::channel();
                let mut event = event(&format!("e{batch}-{i}"));
                event.payload = vec![b'x'; 4096];
                writer.enqueue(event, Box::new(move |_, id| done.send(id).unwrap()));
                waiting.push(committed);
            }
            for committed in waiting {
                committed.await.unwrap().unwrap();
            }
            largest_wal = largest_wal.max(std::fs::metadata(&wal).unwrap().len());
        }
        assert_eq!(store.pending_async().unwrap().len(), 3000);
        // The WAL file keeps its largest size; restarted after each checkpoint, it stays near
        // 1,000 frames of 4,120 bytes (plus a batch) instead of growing with every commit.
        assert!(largest_wal < 1500 * 4120, "the WAL grew to {largest_wal} bytes");
        let database = std::fs::metadata(&path).unwrap().len();
        assert!(database > 2000 * 4096, "only {database} bytes reached the database file");
    }

    #[test]
    fn a_flush_runs_after_the_writes_before_it_are_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MetadataStore::open(&dir.path().join("db"), "111111111111").unwrap());
        let writer = store.spawn_batch_writer();
        for line in 0..100 {
            writer.send(BatchWrite::Log(LogEvent {
                account: "111111111111".into(),
                region: "us-east-1".into(),
                log_group: "/aws/lambda/f".into(),
                log_stream: "s".into(),
                timestamp_ms: line,
                message: format!("line {line}"),
            }));
        }
        let (sender, receiver) = mpsc::channel();
        writer.send(BatchWrite::Flush(Box::new(move || sender.send(()).unwrap())));
        receiver.recv().unwrap();
        assert_eq!(store.log_events("111111111111", "us-east-1", "/aws/lambda/f", 0, 1000).unwrap().len(), 100);
    }
}

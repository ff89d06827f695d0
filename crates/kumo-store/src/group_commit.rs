//! Group commit, the one writer every service's high-rate writes go through: it takes whatever
//! writes have queued, applies them in one SQLite transaction and only then tells each sender,
//! in submission order, how the commit went. SQS answers a send only from that callback; the
//! Lambda async queue answers an Event invoke's 202 from it; logs and metering cost one
//! transaction per batch, not per line.
//!
//! Two drivers run the same [`BatchedWrite`]s:
//! - [`spawn_thread`]: a thread that owns its connection ([`Connection`], SQS) or takes turns
//!   on a [`SharedConnection`] (Lambda's logs and metering).
//! - [`spawn_task`]: a task on the async runtime that commits in place when the shared
//!   connection is free. An Event invoke's commit is short (a few page writes into the page
//!   cache, nothing synced), while a writer thread between the requests and their commit cost
//!   two cross-thread wake-ups per batch. Whatever could make it wait goes to a blocking thread
//!   instead: a connection busy with other work, and the checkpoint (which syncs the WAL and the
//!   database file). This is the one place SQLite runs on the async runtime.

use std::sync::mpsc;
use std::sync::Arc;

use rusqlite::Connection;

use crate::health::Status;
use crate::sqlite::{commit, SharedConnection};

/// One kind of write a group-commit writer applies.
pub trait BatchedWrite: Sized + Send + 'static {
    /// What applying a batch can fail with (its message is what [`Self::finish`] gets).
    type Error: std::fmt::Display + From<rusqlite::Error> + Send;

    /// How much of a batch's limit this write takes (1 by default: the limit counts writes).
    fn weight(&self) -> usize {
        1
    }

    /// Applies a whole batch inside the writer's transaction (statements are prepared once per
    /// batch; a write that inserts a row may record its id in itself).
    fn apply(connection: &Connection, batch: &mut [Self]) -> Result<(), Self::Error>;

    /// Tells the sender the outcome, once the batch is committed (`Ok`) or has failed (the
    /// error's message). Called in submission order.
    fn finish(self, outcome: Result<(), &str>);
}

/// A connection a writer thread commits on.
pub trait CommitTarget: Send + 'static {
    /// Runs `work` in one transaction and commits it; rolls back if it fails.
    fn in_transaction<E: From<rusqlite::Error>>(
        &mut self,
        work: impl FnOnce(&Connection) -> Result<(), E>,
    ) -> Result<(), E>;
}

impl CommitTarget for Connection {
    fn in_transaction<E: From<rusqlite::Error>>(
        &mut self,
        work: impl FnOnce(&Connection) -> Result<(), E>,
    ) -> Result<(), E> {
        commit(self, work)
    }
}

impl CommitTarget for Arc<SharedConnection> {
    fn in_transaction<E: From<rusqlite::Error>>(
        &mut self,
        work: impl FnOnce(&Connection) -> Result<(), E>,
    ) -> Result<(), E> {
        SharedConnection::in_transaction(self, work)
    }
}

/// Names a writer in its thread and its log lines.
#[derive(Debug, Clone, Copy)]
pub struct WriterName {
    /// The thread's name.
    pub thread: &'static str,
    /// What it writes, for error logs ("logs and metering").
    pub what: &'static str,
}

/// Starts a writer thread committing on `target` and returns its queue. A batch holds writes
/// until their weights reach `max_weight`; the rest wait for the next transaction. The thread
/// ends once every sender is dropped and the queue is drained. `status` follows its commits
/// and its end (for health reports).
pub fn spawn_thread<W: BatchedWrite, C: CommitTarget>(
    target: C,
    name: WriterName,
    max_weight: usize,
    status: Status,
) -> std::io::Result<mpsc::Sender<W>> {
    let (sender, receiver) = mpsc::channel::<W>();
    std::thread::Builder::new().name(name.thread.into()).spawn(move || {
        let _running = status.guard();
        run(target, &receiver, name.what, max_weight, &status);
    })?;
    Ok(sender)
}

fn run<W: BatchedWrite, C: CommitTarget>(
    mut target: C,
    receiver: &mpsc::Receiver<W>,
    what: &str,
    max_weight: usize,
    status: &Status,
) {
    // Reused across batches: a batch costs no allocation once the vector has grown.
    let mut batch = Vec::new();
    while let Ok(first) = receiver.recv() {
        let mut weight = first.weight();
        batch.push(first);
        while weight < max_weight {
            match receiver.try_recv() {
                Ok(write) => {
                    weight += write.weight();
                    batch.push(write);
                }
                Err(_) => break,
            }
        }
        let outcome = target.in_transaction(|connection| W::apply(connection, &mut batch));
        finish(&mut batch, outcome, what, status);
    }
    tracing::debug!(writer = what, "group-commit writer stopped");
}

/// Starts a writer task on the current Tokio runtime (call it from within one) committing on
/// `shared`, at most `max_batch` writes per transaction, and returns its queue. `status`
/// follows its commits and its end.
pub fn spawn_task<W: BatchedWrite>(
    shared: Arc<SharedConnection>,
    what: &'static str,
    max_batch: usize,
    status: Status,
) -> tokio::sync::mpsc::UnboundedSender<W> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _running = status.guard();
        run_task(shared, receiver, what, max_batch, &status).await;
    });
    sender
}

async fn run_task<W: BatchedWrite>(
    shared: Arc<SharedConnection>,
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<W>,
    what: &'static str,
    max_batch: usize,
    status: &Status,
) {
    // Reused across batches: a batch costs no allocation once the vector has grown.
    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, max_batch).await > 0 {
        // Let the requests already read on this thread reach the queue first: the batch then
        // holds every write that is ready, not only the first one (3.7 instead of 1.1 events per
        // commit with 8 clients), with no timer.
        tokio::task::yield_now().await;
        while let Ok(write) = receiver.try_recv() {
            batch.push(write);
            if batch.len() == max_batch {
                break;
            }
        }
        let (outcome, checkpoint_due) = match shared.try_in_transaction(|connection| W::apply(connection, &mut batch)) {
            Some(committed) => committed,
            None => match commit_blocking(&shared, &mut batch, what).await {
                Some(outcome) => (outcome, false),
                None => {
                    status.failed("writing a batch panicked");
                    continue;
                }
            },
        };
        finish(&mut batch, outcome, what, status);
        if checkpoint_due {
            // After the senders were told: only writes arriving meanwhile wait for it.
            let shared = Arc::clone(&shared);
            let _ = tokio::task::spawn_blocking(move || shared.checkpoint()).await;
        }
    }
}

/// Commits a batch on a blocking thread, for when the connection is busy (a checkpoint, another
/// writer, an API call): waiting for it must not hold the runtime. `None` if the commit
/// panicked; the batch went with it, and its senders see the writer gone.
async fn commit_blocking<W: BatchedWrite>(
    shared: &Arc<SharedConnection>,
    batch: &mut Vec<W>,
    what: &'static str,
) -> Option<Result<(), W::Error>> {
    let (shared, mut moved) = (Arc::clone(shared), std::mem::take(batch));
    let waited = tokio::task::spawn_blocking(move || {
        let outcome = SharedConnection::in_transaction(&shared, |connection| W::apply(connection, &mut moved));
        (outcome, moved)
    })
    .await;
    match waited {
        Ok((outcome, moved)) => {
            *batch = moved;
            Some(outcome)
        }
        Err(error) => {
            tracing::error!(%error, batch = what, "writing a batch panicked");
            None
        }
    }
}

/// Tells every write of a batch how its commit went, in order, emptying the batch.
fn finish<W: BatchedWrite>(batch: &mut Vec<W>, outcome: Result<(), W::Error>, what: &str, status: &Status) {
    match outcome {
        Ok(()) => {
            status.succeeded();
            batch.drain(..).for_each(|write| write.finish(Ok(())));
        }
        Err(error) => {
            tracing::error!(%error, batch = what, writes = batch.len(), "writing a batch failed");
            let message = error.to_string();
            status.failed(&message);
            batch.drain(..).for_each(|write| write.finish(Err(&message)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test write: inserts its number (failing on a negative one) and reports to a channel.
    struct Numbered {
        number: i64,
        done: mpsc::Sender<(i64, Result<(), String>)>,
    }

    impl BatchedWrite for Numbered {
        type Error = rusqlite::Error;

        fn apply(connection: &Connection, batch: &mut [Self]) -> Result<(), rusqlite::Error> {
            let mut insert = connection.prepare_cached("INSERT INTO numbers (n) VALUES (?1)")?;
            for write in batch.iter() {
                if write.number < 0 {
                    return Err(rusqlite::Error::InvalidQuery);
                }
                insert.execute([write.number])?;
            }
            Ok(())
        }

        fn finish(self, outcome: Result<(), &str>) {
            let _ = self.done.send((self.number, outcome.map_err(str::to_string)));
        }
    }

    fn numbers(connection: &Connection) -> Vec<i64> {
        let mut statement = connection.prepare("SELECT n FROM numbers ORDER BY rowid").unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    const NAME: WriterName = WriterName { thread: "test-writer", what: "test" };

    #[test]
    fn a_thread_writer_commits_before_telling_each_sender_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let connection = crate::sqlite::open(&path, crate::sqlite::OpenOptions::default()).unwrap();
        connection.execute_batch("CREATE TABLE numbers (n INTEGER NOT NULL)").unwrap();
        let writer = spawn_thread::<Numbered, _>(connection, NAME, 3, Status::new("test writer")).unwrap();
        let (done, told) = mpsc::channel();
        for number in 0..10 {
            writer.send(Numbered { number, done: done.clone() }).unwrap();
        }
        let reader = rusqlite::Connection::open(&path).unwrap();
        for expected in 0..10 {
            let (number, outcome) = told.recv().unwrap();
            assert_eq!((number, outcome), (expected, Ok(())));
            // Told only after the commit: another connection already sees the row.
            assert!(numbers(&reader).contains(&number));
        }
        drop(writer);
        assert_eq!(numbers(&reader), (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_failed_batch_is_rolled_back_and_every_sender_told() {
        let dir = tempfile::tempdir().unwrap();
        let shared = Arc::new(
            SharedConnection::open(&dir.path().join("db"), |connection| {
                connection.execute_batch("CREATE TABLE numbers (n INTEGER NOT NULL)")
            })
            .unwrap(),
        );
        let status = Status::new("test writer");
        let writer = spawn_task::<Numbered>(Arc::clone(&shared), "test", 100, status.clone());
        let (done, told) = mpsc::channel();
        // Sent before the task first runs: one batch, which the negative number fails.
        for number in [1, -1, 2] {
            writer.send(Numbered { number, done: done.clone() }).unwrap_or_else(|_| panic!("writer gone"));
        }
        let mut outcomes = Vec::new();
        while outcomes.len() < 3 {
            tokio::task::yield_now().await;
            outcomes.extend(told.try_iter());
        }
        assert_eq!(outcomes.iter().map(|(number, _)| *number).collect::<Vec<_>>(), [1, -1, 2]);
        assert!(outcomes.iter().all(|(_, outcome)| outcome.is_err()));
        assert!(numbers(&shared.lock()).is_empty());
        let why = status.check().unwrap_err();
        assert!(why.starts_with("test writer failed its last commit: "), "{why}");
        // A good batch afterwards: the writer is well again.
        writer.send(Numbered { number: 3, done: done.clone() }).unwrap_or_else(|_| panic!("writer gone"));
        while told.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
        assert_eq!(status.check(), Ok(()));
    }

    /// A write whose apply panics, as a bug in a service's batch code would.
    struct Panicking;

    impl BatchedWrite for Panicking {
        type Error = rusqlite::Error;

        fn apply(_: &Connection, _: &mut [Self]) -> Result<(), rusqlite::Error> {
            panic!("a bug in a batch");
        }

        fn finish(self, _: Result<(), &str>) {}
    }

    #[test]
    fn a_writer_thread_that_died_reports_it_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::sqlite::open(&dir.path().join("db"), crate::sqlite::OpenOptions::default()).unwrap();
        let status = Status::new("test writer");
        let writer = spawn_thread::<Panicking, _>(connection, NAME, 3, status.clone()).unwrap();
        assert_eq!(status.check(), Ok(()));
        writer.send(Panicking).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while status.check().is_ok() && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(status.check(), Err("test writer panicked".to_string()));
    }
}

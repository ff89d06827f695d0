//! A service's database written by one group-commit thread that owns the connection: the service
//! submits lists of its own change operations (`Op`, applied in order inside the writer's
//! transaction) with a callback told once they are committed, and reads the writer's and the
//! database file's health. SQS and SNS keep their state this way; each says only how its
//! operations are applied ([`ApplyOps`]).

use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;

use crate::group_commit::{self, BatchedWrite, WriterName};
use crate::health::{DatabaseFile, Status};

/// Told once a submission is committed (`true`) or has failed (`false`).
pub type Done = Box<dyn FnOnce(bool) + Send>;

/// How a store applies its operations inside the writer's transaction.
pub trait ApplyOps: Sized + Send + 'static {
    /// What applying can fail with.
    type Error: std::fmt::Display + From<rusqlite::Error> + Send;

    /// Applies every operation of a batch, in submission order.
    fn apply<'a>(connection: &Connection, ops: impl Iterator<Item = &'a Self>) -> Result<(), Self::Error>;
}

/// One submission: its operations and who to tell.
struct Job<Op> {
    ops: Vec<Op>,
    done: Option<Done>,
}

impl<Op: ApplyOps> BatchedWrite for Job<Op> {
    type Error = Op::Error;

    fn weight(&self) -> usize {
        self.ops.len()
    }

    fn apply(connection: &Connection, jobs: &mut [Self]) -> Result<(), Op::Error> {
        Op::apply(connection, jobs.iter().flat_map(|job| job.ops.iter()))
    }

    fn finish(self, outcome: Result<(), &str>) {
        if let Some(done) = self.done {
            done(outcome.is_ok());
        }
    }
}

/// The writer thread of one service's database and that database's file.
pub struct OpsWriter<Op> {
    sender: mpsc::Sender<Job<Op>>,
    /// The writer thread's commits and end.
    writer: Status,
    /// The database file as opened.
    file: DatabaseFile,
    /// What it writes, for logs.
    what: &'static str,
}

impl<Op: ApplyOps> OpsWriter<Op> {
    /// Starts the writer on `connection` (the database at `path`), its health reported as
    /// `label`'s ("the sqs writer failed its last commit: …"); a transaction applies at most
    /// `max_ops` operations before it commits.
    pub fn start(
        connection: Connection,
        path: &Path,
        name: WriterName,
        label: &'static str,
        max_ops: usize,
    ) -> std::io::Result<Self> {
        let file = DatabaseFile::at(path)?;
        let writer = Status::new(label);
        let what = name.what;
        let sender = group_commit::spawn_thread(connection, name, max_ops, writer.clone())?;
        Ok(Self { sender, writer, file, what })
    }

    /// Queues `ops` for the next commit; `done` is told its outcome (`false` at once when the
    /// writer has stopped).
    pub fn submit(&self, ops: Vec<Op>, done: Option<Done>) {
        if let Err(mpsc::SendError(job)) = self.sender.send(Job { ops, done }) {
            tracing::error!(what = self.what, "the writer stopped; a write was dropped");
            if let Some(done) = job.done {
                done(false);
            }
        }
    }

    /// `Err` says why the store cannot keep what it is given: its writer stopped or failed, or
    /// its database file was removed or replaced.
    pub fn health(&self) -> Result<(), String> {
        self.writer.check()?;
        self.file.check()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// A row to insert.
    struct Insert(i64);

    impl ApplyOps for Insert {
        type Error = rusqlite::Error;

        fn apply<'a>(connection: &Connection, ops: impl Iterator<Item = &'a Self>) -> Result<(), rusqlite::Error> {
            for op in ops {
                connection.prepare_cached("INSERT INTO t (v) VALUES (?1)")?.execute([op.0])?;
            }
            Ok(())
        }
    }

    #[test]
    fn commits_submissions_in_order_and_tells_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let connection = crate::sqlite::open(&path, crate::sqlite::OpenOptions::default()).unwrap();
        connection.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        let writer =
            OpsWriter::start(connection, &path, WriterName { thread: "t-writer", what: "t" }, "the t writer", 2)
                .unwrap();
        let (sender, committed) = mpsc::channel();
        for batch in [vec![Insert(1), Insert(2), Insert(3)], vec![Insert(4)]] {
            let sender = sender.clone();
            writer.submit(batch, Some(Box::new(move |ok| sender.send(ok).unwrap())));
        }
        let told: Vec<bool> = (0..2).map(|_| committed.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
        assert_eq!(told, [true, true]);
        assert!(writer.health().is_ok());
        let reader = Connection::open(&path).unwrap();
        let values: Vec<i64> = reader
            .prepare("SELECT v FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(values, [1, 2, 3, 4]);
        // A failing batch is told so.
        reader.execute_batch("DROP TABLE t").unwrap();
        let failed = Arc::new(AtomicBool::new(false));
        let (sender, told) = mpsc::channel();
        let flag = Arc::clone(&failed);
        writer.submit(
            vec![Insert(5)],
            Some(Box::new(move |ok| {
                flag.store(!ok, Ordering::SeqCst);
                sender.send(()).unwrap();
            })),
        );
        told.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(failed.load(Ordering::SeqCst));
    }
}

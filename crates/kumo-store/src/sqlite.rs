//! Opening a service's SQLite file the one way Kumo does (WAL, `synchronous = NORMAL`, a busy
//! timeout, a 0600 file), and [`SharedConnection`]: one connection that blocking callers and the
//! group-commit writers take turns on, committing in cached `BEGIN`/`COMMIT` statements and
//! checkpointing the WAL outside commits that must not wait.

use std::cell::Cell;
use std::ffi::c_int;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, TryLockError};

use rusqlite::hooks::Wal;
use rusqlite::Connection;

/// How long a statement waits for a lock held by another connection before it fails.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How a service's database file is opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Exclusive locking: only this process opens the file, through one connection, so the WAL
    /// index stays in memory and transactions skip their file-lock syscalls. Requires that the
    /// connection is the only one (a [`SharedConnection`]).
    pub exclusive: bool,
}

/// Opens (creating with mode 0600 if missing) a SQLite database in WAL mode with
/// `synchronous = NORMAL`: a committed transaction survives a crash of Kumo (kill -9); only an
/// OS crash or power loss can lose the last commits.
pub fn open(path: &Path, options: OpenOptions) -> rusqlite::Result<Connection> {
    // Created private before SQLite opens it; `kumo serve` also tightens existing files at start.
    // If this fails SQLite reports the same problem when it opens the path.
    let _ = std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path);
    let connection = Connection::open(path)?;
    if options.exclusive {
        // Must be set before WAL is entered.
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    }
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

/// Runs `work` in one transaction on `connection` and commits it; rolls back if it fails or
/// panics. `BEGIN` and `COMMIT` are cached statements: a group-commit writer runs one
/// transaction per batch, and parsing them each time showed in the async queue writer's profile.
pub fn commit<T, E: From<rusqlite::Error>>(
    connection: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    connection.prepare_cached("BEGIN")?.execute([])?;
    let mut open = OpenTransaction { connection, committed: false };
    let value = work(open.connection)?;
    open.connection.prepare_cached("COMMIT")?.execute([])?;
    open.committed = true;
    Ok(value)
}

/// One connection shared by blocking callers and group-commit writers, opened exclusive with
/// SQLite's automatic checkpoint replaced: a commit that leaves the WAL long is followed by a
/// checkpoint when its caller lets go ([`Held`]), or, for a writer on the async runtime, on a
/// blocking thread ([`SharedConnection::try_in_transaction`]).
pub struct SharedConnection {
    connection: Mutex<Connection>,
}

impl SharedConnection {
    /// Opens `path` exclusive; `migrate` runs on the connection before anyone shares it.
    pub fn open<E: From<rusqlite::Error>>(
        path: &Path,
        migrate: impl FnOnce(&mut Connection) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut connection = open(path, OpenOptions { exclusive: true })?;
        // The hook replaces SQLite's automatic checkpoint inside `COMMIT` (see `Held`).
        connection.wal_hook(Some(record_wal_frames));
        migrate(&mut connection)?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    /// Holds the connection until the guard is dropped (checkpointing then if a commit made under
    /// it left the WAL long).
    pub fn lock(&self) -> Held<'_> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        Held(self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Runs `work` in one transaction and commits it; rolls back if it fails.
    pub fn in_transaction<T, E: From<rusqlite::Error>>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        commit(&self.lock(), work)
    }

    /// Like [`Self::in_transaction`], but only if the connection is free right now (`None`
    /// otherwise) and without checkpointing: for a caller on the async runtime, which must not
    /// wait. The flag says a checkpoint is due ([`Self::checkpoint`], on a blocking thread).
    pub fn try_in_transaction<T, E: From<rusqlite::Error>>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Option<(Result<T, E>, bool)> {
        let guard = match self.connection.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        let outcome = commit(&guard, work);
        Some((outcome, take_checkpoint_due()))
    }

    /// Copies the WAL into the database file (blocking: it syncs both).
    pub fn checkpoint(&self) {
        checkpoint(&self.lock());
    }
}

/// WAL length, in frames, from which a commit is followed by a checkpoint (SQLite's default).
const CHECKPOINT_FRAMES: i32 = 1000;

thread_local! {
    /// The WAL's length after this thread's last commit, as the WAL hook reported it.
    static WAL_FRAMES: Cell<i32> = const { Cell::new(0) };
}

fn record_wal_frames(_wal: &Wal, frames: c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(frames);
    Ok(())
}

/// Whether this thread's last commit left the WAL long enough for a checkpoint (read once).
fn take_checkpoint_due() -> bool {
    WAL_FRAMES.take() >= CHECKPOINT_FRAMES
}

fn checkpoint(connection: &Connection) {
    // Only this process's one connection uses the database (exclusive locking), so a PASSIVE
    // checkpoint copies every frame and the next write starts the WAL from its beginning.
    if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::error!(%error, "checkpointing the WAL failed");
    }
}

/// The shared connection, held by a blocking caller; when released after a commit that left the
/// WAL long, it checkpoints first (what SQLite's automatic checkpoint did inside `COMMIT`).
pub struct Held<'a>(MutexGuard<'a, Connection>);

impl std::ops::Deref for Held<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if take_checkpoint_due() {
            checkpoint(&self.0);
        }
    }
}

/// Rolls back a transaction that [`commit`] did not commit: its work failed or panicked, or
/// `COMMIT` itself failed and left it open.
struct OpenTransaction<'a> {
    connection: &'a Connection,
    committed: bool,
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if !self.committed && !self.connection.is_autocommit() {
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::error!(%error, "rolling back a failed batch failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_database_file_is_private_and_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let connection = open(&path, OpenOptions::default()).unwrap();
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_failed_transaction_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let shared = SharedConnection::open(&dir.path().join("db"), |connection| {
            connection.execute_batch("CREATE TABLE t (x INTEGER)")
        })
        .unwrap();
        let failed: Result<(), rusqlite::Error> = shared.in_transaction(|connection| {
            connection.execute("INSERT INTO t VALUES (1)", [])?;
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(failed.is_err());
        let count: i64 = shared.lock().query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 0);
    }
}

//! What `/_kumo/health` asks a store: whether it can still keep what it is given. Health is
//! polled, so every check here is O(1) and cheap: an atomic load for a writer or worker (its
//! state is recorded when it changes, not probed); for a database file, a non-blocking read of
//! an inotify queue that says whether its directory's entry for it changed (a `stat` only then).
//!
//! - [`Status`]: a writer's or a background worker's state, set by the component itself: a
//!   group-commit writer marks a failed commit (cleared by the next good one) and its own end
//!   (a panic or a stop), and a worker marks its end through a [`Status::guard`].
//! - [`DatabaseFile`]: the file a connection opened is still the one at its path. SQLite in WAL
//!   mode goes on committing into a database file that was removed or replaced under it (the
//!   open descriptor keeps the old inode alive), so nothing would fail until the next start,
//!   which finds the data gone.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

/// Running: the last commit (if any) succeeded, or the worker is alive.
const RUNNING: u8 = 0;
/// The last commit failed; the next good one clears it.
const FAILED: u8 = 1;
/// Ended for good (stopped or panicked).
const STOPPED: u8 = 2;

/// A writer's or worker's state, shared between it and whoever reports health.
#[derive(Debug, Clone)]
pub struct Status {
    inner: Arc<StatusInner>,
}

#[derive(Debug)]
struct StatusInner {
    /// What it is, for the report ("sqs writer", "async queue").
    what: &'static str,
    state: AtomicU8,
    /// Why it is not running; read only when `state` says so.
    why: Mutex<String>,
}

impl Status {
    /// A running component named `what` in the reports.
    pub fn new(what: &'static str) -> Self {
        Self { inner: Arc::new(StatusInner { what, state: AtomicU8::new(RUNNING), why: Mutex::new(String::new()) }) }
    }

    /// `Ok` while running; otherwise what went wrong, for `unavailable: <why>`.
    pub fn check(&self) -> Result<(), String> {
        if self.inner.state.load(Ordering::Acquire) == RUNNING {
            return Ok(());
        }
        Err(format!("{} {}", self.inner.what, self.why()))
    }

    /// Records a commit that failed with `error` (until the next good one).
    pub fn failed(&self, error: &str) {
        self.set(FAILED, format!("failed its last commit: {error}"));
    }

    /// Records a good commit: a failure before it no longer holds (a stop still does).
    pub fn succeeded(&self) {
        // One load per commit on the hot path; the exchange only after a failure.
        if self.inner.state.load(Ordering::Relaxed) == FAILED {
            let _ = self.inner.state.compare_exchange(FAILED, RUNNING, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// Records that the component ended for good, and why.
    pub fn stopped(&self, why: &str) {
        self.set(STOPPED, why.to_string());
    }

    /// A guard for a worker's task or thread: when it is dropped (the worker returned, panicked
    /// or was cancelled with its runtime) the status says the worker stopped.
    pub fn guard(&self) -> StatusGuard {
        StatusGuard { status: self.clone() }
    }

    fn set(&self, state: u8, why: String) {
        if self.inner.state.load(Ordering::Acquire) == STOPPED {
            return;
        }
        *self.lock_why() = why;
        self.inner.state.store(state, Ordering::Release);
    }

    fn why(&self) -> String {
        self.lock_why().clone()
    }

    fn lock_why(&self) -> std::sync::MutexGuard<'_, String> {
        // Only a string is behind the lock; a panic elsewhere cannot leave it half-written.
        self.inner.why.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Marks its [`Status`] stopped when dropped.
#[derive(Debug)]
pub struct StatusGuard {
    status: Status,
}

impl Drop for StatusGuard {
    fn drop(&mut self) {
        let why = if std::thread::panicking() { "panicked" } else { "stopped" };
        self.status.stopped(why);
    }
}

/// A database file as it was when opened, to tell whether the path still leads to it.
#[derive(Debug, Clone)]
pub struct DatabaseFile {
    path: PathBuf,
    /// `(device, inode)` when opened.
    identity: (u64, u64),
    /// What the last look at the path found, and what tells when to look again.
    watch: Arc<Mutex<Watch>>,
}

/// The watch on a database file's directory entry.
#[derive(Debug)]
struct Watch {
    /// An inotify queue (non-blocking) of the changes to the directory's entries and to the
    /// directory itself; `None` where inotify is not available: then every check stats the path.
    queue: Option<OwnedFd>,
    /// The last check's verdict, true until the queue holds an event.
    verdict: Result<(), String>,
}

/// The changes to a directory that can change what a path in it names.
fn watched_changes() -> WatchFlags {
    WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVE_SELF
        | WatchFlags::ONLYDIR
}

impl DatabaseFile {
    /// Remembers the file now at `path` (call it once the connection has it open).
    pub fn at(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        let identity = (metadata.dev(), metadata.ino());
        // Watched before the first look, so that no change falls between the two.
        let queue = watch_directory(path);
        let file =
            Self { path: path.to_path_buf(), identity, watch: Arc::new(Mutex::new(Watch { queue, verdict: Ok(()) })) };
        let verdict = file.look();
        file.lock_watch().verdict = verdict;
        Ok(file)
    }

    /// `Ok` while the path still names the opened file. Unlinking or renaming queues an event
    /// before the call that did it returns, so the verdict is as fresh as a `stat`: one read of
    /// an empty queue in the common case, and a `stat` only after a change in the directory.
    pub fn check(&self) -> Result<(), String> {
        let mut watch = self.lock_watch();
        if watch.queue.as_ref().is_none_or(|queue| changed(queue, self.file_name())) {
            watch.verdict = self.look();
        }
        watch.verdict.clone()
    }

    /// Whether the path names the opened file now; one `stat`.
    fn look(&self) -> Result<(), String> {
        let name = self.file_name().to_string_lossy();
        match std::fs::metadata(&self.path) {
            Ok(metadata) if (metadata.dev(), metadata.ino()) == self.identity => Ok(()),
            Ok(_) => Err(format!("database file {name} was replaced while open; writes go to the old file")),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("database file {name} was removed while open; writes would be lost at restart"))
            }
            Err(error) => Err(format!("database file {name} cannot be read: {error}")),
        }
    }

    fn file_name(&self) -> &OsStr {
        self.path.file_name().unwrap_or(self.path.as_os_str())
    }

    fn lock_watch(&self) -> std::sync::MutexGuard<'_, Watch> {
        // The guarded state is replaced whole; a panic elsewhere cannot leave it half-written.
        self.watch.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A non-blocking inotify queue watching the directory of `path`, or `None` (logged) where the
/// kernel or its per-user limits do not allow one.
fn watch_directory(path: &Path) -> Option<OwnedFd> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let watched = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
        .and_then(|queue| inotify::add_watch(&queue, directory, watched_changes()).map(|_| queue));
    match watched {
        Ok(queue) => Some(queue),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "no inotify watch: each health check stats the file");
            None
        }
    }
}

/// Whether `queue` holds a change that may concern `name` (an entry of that name, the directory
/// itself, an overflowed queue, or a failure to read it), draining it.
fn changed(queue: &OwnedFd, name: &OsStr) -> bool {
    // Room for several events with long names; `Reader` aligns it.
    let mut buffer = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut reader = inotify::Reader::new(queue, &mut buffer);
    let mut changed = false;
    loop {
        match reader.next() {
            Ok(event) => {
                let entry = event.file_name().map(|entry| OsStr::from_bytes(entry.to_bytes()));
                // No name: the directory itself (removed, moved), an overflow, or the watch's end.
                changed |= entry.is_none_or(|entry| entry == name);
            }
            Err(rustix::io::Errno::AGAIN) => return changed,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_commit_holds_until_the_next_good_one_and_a_stop_for_good() {
        let status = Status::new("test writer");
        assert_eq!(status.check(), Ok(()));
        status.failed("disk I/O error");
        assert_eq!(status.check(), Err("test writer failed its last commit: disk I/O error".to_string()));
        status.succeeded();
        assert_eq!(status.check(), Ok(()));
        drop(status.guard());
        status.succeeded();
        assert_eq!(status.check(), Err("test writer stopped".to_string()));
    }

    #[test]
    fn a_guard_dropped_by_a_panic_says_so() {
        let status = Status::new("worker");
        let moved = status.clone();
        let joined = std::thread::spawn(move || {
            let _guard = moved.guard();
            panic!("worker failed");
        })
        .join();
        assert!(joined.is_err());
        assert_eq!(status.check(), Err("worker panicked".to_string()));
    }

    #[test]
    fn a_removed_or_replaced_database_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.sqlite3");
        std::fs::write(&path, b"x").unwrap();
        let file = DatabaseFile::at(&path).unwrap();
        assert_eq!(file.check(), Ok(()));
        // Made while the first exists, so it cannot reuse its inode number.
        let other = dir.path().join("other");
        std::fs::write(&other, b"y").unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            file.check(),
            Err("database file service.sqlite3 was removed while open; writes would be lost at restart".to_string())
        );
        std::fs::rename(&other, &path).unwrap();
        assert!(file.check().unwrap_err().contains("was replaced while open"));
    }

    #[test]
    fn a_file_moved_away_and_back_is_seen_both_times_and_others_changes_are_not_its() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.sqlite3");
        std::fs::write(&path, b"x").unwrap();
        let file = DatabaseFile::at(&path).unwrap();
        // Another file's comings and goings in the same directory change nothing.
        std::fs::write(dir.path().join("service.sqlite3-wal"), b"w").unwrap();
        std::fs::remove_file(dir.path().join("service.sqlite3-wal")).unwrap();
        assert_eq!(file.check(), Ok(()));
        let aside = dir.path().join("aside");
        std::fs::rename(&path, &aside).unwrap();
        assert!(file.check().unwrap_err().contains("was removed while open"));
        // Still so at the next check, with no new event.
        assert!(file.check().unwrap_err().contains("was removed while open"));
        std::fs::rename(&aside, &path).unwrap();
        assert_eq!(file.check(), Ok(()));
        // A clone watches the same entry.
        let clone = file.clone();
        std::fs::remove_file(&path).unwrap();
        assert!(clone.check().is_err() && file.check().is_err());
    }
}

//! The seam under the cgroup code: cgroupfs reads and writes, directory management and killing
//! a process. [`HostCgroupFs`] is the real thing; [`FakeCgroupFs`] is an in-memory tree that
//! records writes, so the v1 and v2 logic is tested without root or cgroups.

use std::io;
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

/// What the cgroup code asks of the host.
pub trait CgroupFs: Send + Sync + std::fmt::Debug {
    /// Reads a cgroup file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes a value to a cgroup file in one `write(2)`.
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Removes an (empty) cgroup directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Names of the subdirectories of `path`.
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// Sends SIGKILL to a process.
    fn kill(&self, pid: u32);
    /// Whether a process with this pid is alive.
    fn process_alive(&self, pid: u32) -> bool;
}

/// The real cgroup file systems.
#[derive(Debug, Default)]
pub struct HostCgroupFs;

impl CgroupFs for HostCgroupFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        let written = file.write(value.as_bytes())?;
        if written == value.len() {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::WriteZero, "short write to a cgroup file"))
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn kill(&self, pid: u32) {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: kill has no memory-safety preconditions; a stale pid fails with ESRCH.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    fn process_alive(&self, pid: u32) -> bool {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
    }
}

/// An in-memory cgroup tree for tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct FakeCgroupFs {
    state: std::sync::Mutex<FakeState>,
}

#[cfg(test)]
#[derive(Debug, Default)]
struct FakeState {
    files: std::collections::BTreeMap<PathBuf, String>,
    dirs: std::collections::BTreeSet<PathBuf>,
    writes: Vec<String>,
    killed: Vec<u32>,
    alive: std::collections::BTreeSet<u32>,
    refuse_writes: Vec<PathBuf>,
}

#[cfg(test)]
impl FakeCgroupFs {
    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    /// Adds a file with content (and its directory).
    pub fn set(&self, path: impl Into<PathBuf>, content: &str) {
        let path = path.into();
        let mut state = self.state();
        if let Some(parent) = path.parent() {
            state.dirs.insert(parent.to_path_buf());
        }
        state.files.insert(path, content.to_string());
    }

    /// Adds a directory.
    pub fn add_dir(&self, path: impl Into<PathBuf>) {
        self.state().dirs.insert(path.into());
    }

    /// Marks a pid as a living process.
    pub fn add_process(&self, pid: u32) {
        self.state().alive.insert(pid);
    }

    /// Writes to this file fail with EACCES.
    pub fn refuse_writes_to(&self, path: impl Into<PathBuf>) {
        self.state().refuse_writes.push(path.into());
    }

    /// `path = value` for every write so far.
    pub fn writes(&self) -> Vec<String> {
        self.state().writes.clone()
    }

    /// Pids killed so far.
    pub fn killed(&self) -> Vec<u32> {
        self.state().killed.clone()
    }

    /// Whether a directory exists.
    pub fn has_dir(&self, path: &Path) -> bool {
        self.state().dirs.contains(path)
    }
}

#[cfg(test)]
impl CgroupFs for FakeCgroupFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.state().files.get(path).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        let mut state = self.state();
        if state.refuse_writes.iter().any(|refused| refused == path) {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        if !state.dirs.contains(path.parent().unwrap_or(Path::new("/"))) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        state.writes.push(format!("{} = {value}", path.display()));
        state.files.insert(path.to_path_buf(), value.to_string());
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        for ancestor in path.ancestors() {
            state.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        let procs = path.join("cgroup.procs");
        let populated = state.files.get(&procs).is_some_and(|pids| {
            pids.split_whitespace().filter_map(|p| p.parse::<u32>().ok()).any(|pid| state.alive.contains(&pid))
        });
        let has_children = state.dirs.iter().any(|dir| dir.parent() == Some(path));
        if populated || has_children {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        if !state.dirs.remove(path) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        state.files.retain(|file, _| file.parent() != Some(path));
        Ok(())
    }

    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        let state = self.state();
        if !state.dirs.contains(path) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(state
            .dirs
            .iter()
            .filter(|dir| dir.parent() == Some(path))
            .filter_map(|dir| dir.file_name().map(|name| name.to_string_lossy().into_owned()))
            .collect())
    }

    fn exists(&self, path: &Path) -> bool {
        let state = self.state();
        state.dirs.contains(path) || state.files.contains_key(path)
    }

    fn kill(&self, pid: u32) {
        let mut state = self.state();
        state.killed.push(pid);
        state.alive.remove(&pid);
    }

    fn process_alive(&self, pid: u32) -> bool {
        self.state().alive.contains(&pid)
    }
}

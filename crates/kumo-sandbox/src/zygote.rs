//! Zygotes: per-interpreter template processes that fork execution environments.
//!
//! A Python cold start pays for the interpreter's start-up, the bootstrap's imports and, for most
//! real functions, `import boto3` — tens to hundreds of milliseconds. A zygote pays them once: Kumo
//! starts it through the launcher (in [`LaunchConfig::template`] mode: its own mount namespace, the
//! sandbox's root without any function, plus Kumo's data dir and `libkumo_zygote.so` under
//! `/.kumo`), and it preloads what functions commonly import. For each environment Kumo hands it
//! three descriptors over a `SOCK_SEQPACKET` socket (the child's configuration, status and output
//! pipes), and a fourth, the environment's network namespace, where environments have one; it forks a child that waits for its configuration like a parked launcher. Kumo moves
//! the child into the environment's cgroups, and on a cold start sends the configuration; the child
//! runs the launcher's own steps through the library (namespaces, init, code, `/tmp`, `/proc`,
//! detaching `/.kumo`, uid, seccomp) and then the bootstrap, in the same process.
//!
//! The child is the zygote's, not Kumo's: Kumo holds a pidfd to kill it and to see it end, and the
//! child reports its runtime's exit status on the status pipe ([`StatusLine::Exit`]).
//!
//! [`LaunchConfig::template`]: crate::config::LaunchConfig
//! [`StatusLine::Exit`]: crate::config::StatusLine

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{LaunchConfig, Prelude, LAUNCHER_COMMAND};
use crate::process;

/// The descriptor a zygote reads its requests from.
const CONTROL_FD: RawFd = 5;
/// The library's file name, next to Kumo's executable.
pub(crate) const LIBRARY_NAME: &str = "libkumo_zygote.so";
/// How long a zygote may take to preload (importing boto3 on a busy host takes a second or two).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fork request may take (seconds on a host whose cores are all busy).
const FORK_TIMEOUT: Duration = Duration::from_secs(30);

/// Finds `libkumo_zygote.so` next to the running executable (test binaries live one directory
/// further down, in `deps/`).
pub(crate) fn find_library() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(LIBRARY_NAME), dir.parent()?.join(LIBRARY_NAME)].into_iter().find(|path| path.is_file())
}

/// The variables an interpreter reads once, at start-up, and never again: a zygote's children keep
/// the zygote's values, so a function whose values differ cannot come from that zygote.
pub(crate) fn startup_environment(environment: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    environment
        .iter()
        .filter(|(key, _)| {
            key.starts_with("PYTHON") || key.starts_with("LD_") || key.starts_with("LC_") || key.as_str() == "LANG"
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// A running zygote.
#[derive(Debug)]
pub(crate) struct Zygote {
    pid: libc::pid_t,
    /// Cleared by its keeper thread as soon as it has exited (before it is reaped, so that `kill`
    /// never reaches a reused pid).
    alive: Arc<AtomicBool>,
    control: Mutex<OwnedFd>,
    startup_environment: BTreeMap<String, String>,
    forks: AtomicU64,
}

impl Zygote {
    /// Starts a zygote with `config` (a template launch) and waits until it has preloaded.
    /// Blocking.
    ///
    /// The zygote is spawned by a thread of its own that lives as long as the zygote: a
    /// parent-death signal fires when the parent *thread* exits, and a pool thread (say tokio's
    /// blocking pool, which retires idle threads) would take the zygote, and every environment
    /// forked from it, along.
    pub(crate) fn start(
        launcher: &Path,
        config: &LaunchConfig,
        startup_environment: BTreeMap<String, String>,
    ) -> io::Result<Self> {
        let (ours, theirs) = seqpacket_pair()?;
        let (fds, writer, mut status) = process::prepare_launch(&Prelude::default())?;
        writer.send(config)?;
        let mut command = std::process::Command::new(launcher);
        let stderr = io::stderr().as_raw_fd();
        // SAFETY: F_DUPFD_CLOEXEC returns a fresh descriptor owned by nobody else.
        let output = unsafe { OwnedFd::from_raw_fd(check(libc::fcntl(stderr, libc::F_DUPFD_CLOEXEC, 10))?) };
        command
            .arg(LAUNCHER_COMMAND)
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(output.try_clone()?))
            .stderr(std::process::Stdio::from(output));
        let control = theirs.as_raw_fd();
        let (config_fd, status_fd) = fds.raw();
        // SAFETY: the closure makes only async-signal-safe calls; the descriptors stay open until
        // spawn returns (the keeper thread owns them until then).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                process::die_with_parent()?;
                process::install_launch_fds(config_fd, status_fd, None)?;
                check(libc::dup2(control, CONTROL_FD)).map(drop)
            });
        }
        let alive = Arc::new(AtomicBool::new(true));
        let (started_sender, started) = std::sync::mpsc::channel();
        let keeper_alive = Arc::clone(&alive);
        std::thread::Builder::new().name("kumo-zygote".to_string()).spawn(move || {
            let spawned = command.spawn();
            drop((fds, theirs));
            let child = match spawned {
                Ok(child) => child,
                Err(error) => {
                    let _ = started_sender.send(Err(error));
                    return;
                }
            };
            let pid = child.id() as libc::pid_t;
            let _ = started_sender.send(Ok(pid));
            keep(pid, &keeper_alive);
        })?;
        let pid = started.recv().map_err(|_| io::Error::other("the zygote's keeper thread ended"))??;
        let zygote = Self { pid, alive, control: Mutex::new(ours), startup_environment, forks: AtomicU64::new(0) };
        let mut reply = [0u8; 64];
        match zygote.receive(&mut reply, READY_TIMEOUT) {
            Ok(n) if &reply[..n] == b"ready" => Ok(zygote),
            Ok(_) | Err(_) => {
                zygote.kill();
                let reason = status
                    .failure()
                    .map(|failure| format!("{}: {}", failure.step, failure.message))
                    .unwrap_or_else(|| "it exited while preloading (its output is in Kumo's log)".to_string());
                Err(io::Error::other(format!("the zygote did not start: {reason}")))
            }
        }
    }

    /// Whether the zygote still runs.
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Whether a function with `environment` can be forked from this zygote.
    pub(crate) fn accepts(&self, environment: &BTreeMap<String, String>) -> bool {
        startup_environment(environment) == self.startup_environment
    }

    /// How many children it forked.
    pub(crate) fn forks(&self) -> u64 {
        self.forks.load(Ordering::Relaxed)
    }

    /// Forks a child that reads its configuration from `config`, reports on `status`, writes
    /// its output to `output` and enters `network_namespace` (if any) before its other namespaces.
    pub(crate) fn fork(
        &self,
        config: RawFd,
        status: RawFd,
        output: RawFd,
        network_namespace: Option<RawFd>,
    ) -> io::Result<ForkedProcess> {
        let control = self.control.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut fds = vec![config, status, output];
        fds.extend(network_namespace);
        let exchange = send_with_fds(control.as_raw_fd(), b"fork", &fds).and_then(|()| {
            let mut reply = [0u8; 64];
            let n = receive(control.as_raw_fd(), &mut reply, FORK_TIMEOUT)?;
            let reply = std::str::from_utf8(&reply[..n]).unwrap_or_default();
            reply
                .parse::<u32>()
                .map_err(|_| io::Error::other(format!("the zygote answered {reply:?} instead of a pid")))
        });
        drop(control);
        // A late or garbled answer would be read as the answer to the next request, pairing each
        // fork with another's child from then on: a zygote out of step is killed and replaced.
        let pid = exchange.inspect_err(|_| self.kill())?;
        self.forks.fetch_add(1, Ordering::Relaxed);
        // The child waits for its configuration, so its pid cannot have been reused yet.
        ForkedProcess::open(pid)
    }

    fn receive(&self, buffer: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let control = self.control.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        receive(control.as_raw_fd(), buffer, timeout)
    }

    /// Kills the zygote (its children die with it).
    pub(crate) fn kill(&self) {
        if self.is_alive() {
            // SAFETY: kill with a pid that is not reaped yet (see `alive`).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The keeper thread's watch: marks the zygote dead as soon as it exits, then reaps it.
fn keep(pid: libc::pid_t, alive: &AtomicBool) {
    // SAFETY: siginfo_t is plain old data; waitid fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for this thread's own child without reaping it (WNOWAIT).
        let waited = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if waited == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    alive.store(false, Ordering::SeqCst);
    let mut status = 0;
    // SAFETY: reaps the exited child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    tracing::info!(pid, "a zygote exited");
}

/// An environment's first process when a zygote forked it: not Kumo's child, so it is watched and
/// killed through a pidfd.
#[derive(Debug, Clone)]
pub(crate) struct ForkedProcess {
    pid: u32,
    pidfd: Arc<OwnedFd>,
}

impl ForkedProcess {
    fn open(pid: u32) -> io::Result<Self> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as RawFd;
        // SAFETY: `fd` is a fresh descriptor owned by nobody else.
        let pidfd = unsafe { OwnedFd::from_raw_fd(check(fd)?) };
        Ok(Self { pid, pidfd: Arc::new(pidfd) })
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether it still runs.
    pub(crate) fn is_alive(&self) -> bool {
        let mut poll = libc::pollfd { fd: self.pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: polls one valid descriptor without waiting.
        unsafe { libc::poll(&mut poll, 1, 0) == 0 }
    }

    /// Kills it (and with it the environment: its init has a parent-death signal).
    pub(crate) fn kill(&self) {
        // SAFETY: pidfd_send_signal with a valid pidfd and no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }

    /// Waits until it has ended.
    pub(crate) async fn ended(&self) -> io::Result<()> {
        let pidfd = self.pidfd.try_clone()?;
        // SAFETY: the AsyncFd owns this duplicate and nothing else closes or replaces it.
        let fd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }
            .map_err(|error| error.into_parts().1)?;
        let _ = fd.readable().await?;
        Ok(())
    }
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair returns.
    check(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one message carrying `fds` (`SCM_RIGHTS`).
fn send_with_fds(socket: RawFd, message: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fds_bytes = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fds_bytes as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec { iov_base: message.as_ptr() as *mut libc::c_void, iov_len: message.len() };
    // SAFETY: msghdr is plain old data; zero is valid for every field set below.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.as_mut_ptr().cast();
    header.msg_controllen = space as _;
    // SAFETY: `header` describes `control`, which has room for one cmsghdr with `fds` (CMSG_SPACE);
    // CMSG_FIRSTHDR/CMSG_DATA point into it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&header);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fds_bytes as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), fds_bytes);
    }
    // SAFETY: `header` and everything it points to are valid for the call.
    let sent = unsafe { libc::sendmsg(socket, &header, libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one message, waiting at most `timeout`; an empty message means the peer is gone.
fn receive(socket: RawFd, buffer: &mut [u8], timeout: Duration) -> io::Result<usize> {
    let mut poll = libc::pollfd { fd: socket, events: libc::POLLIN, revents: 0 };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: polls one valid descriptor.
        match unsafe { libc::poll(&mut poll, 1, millis) } {
            -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            -1 => return Err(io::Error::last_os_error()),
            0 => return Err(io::Error::new(io::ErrorKind::TimedOut, "the zygote did not answer")),
            _ => break,
        }
    }
    // SAFETY: `buffer` is valid for writes of its length.
    let received = unsafe { libc::recv(socket, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
    match received {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the zygote exited")),
        n => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_start_up_variables_decide_which_zygote_fits() {
        let function = BTreeMap::from([
            ("PYTHONPATH".to_string(), "/var/runtime/packages".to_string()),
            ("LANG".to_string(), "en_US.UTF-8".to_string()),
            ("LD_LIBRARY_PATH".to_string(), "/lib64".to_string()),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
            ("MY_SETTING".to_string(), "1".to_string()),
        ]);
        let startup = startup_environment(&function);
        assert_eq!(startup.keys().collect::<Vec<_>>(), ["LANG", "LD_LIBRARY_PATH", "PYTHONPATH"]);
        let mut other = function.clone();
        other.insert("MY_SETTING".to_string(), "2".to_string());
        assert_eq!(startup_environment(&other), startup);
        other.insert("PYTHONHASHSEED".to_string(), "0".to_string());
        assert_ne!(startup_environment(&other), startup);
    }

    #[test]
    fn messages_and_descriptors_travel_until_the_peer_is_gone() {
        let (a, b) = seqpacket_pair().unwrap();
        let (read, _write) = seqpacket_pair().unwrap();
        send_with_fds(a.as_raw_fd(), b"fork", &[read.as_raw_fd()]).unwrap();
        let mut buffer = [0u8; 16];
        let n = receive(b.as_raw_fd(), &mut buffer, Duration::from_secs(1)).unwrap();
        assert_eq!(&buffer[..n], b"fork");
        let timeout = receive(b.as_raw_fd(), &mut buffer, Duration::from_millis(10)).unwrap_err();
        assert_eq!(timeout.kind(), io::ErrorKind::TimedOut);
        drop(b);
        let gone = receive(a.as_raw_fd(), &mut buffer, Duration::from_secs(1)).unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::UnexpectedEof);
    }
}

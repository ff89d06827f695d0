//! Starting an environment's first process: the launcher (`<kumo> sandbox-init`, which builds the
//! sandbox and execs the runtime) or, with the sandbox off, the runtime itself. Either way the
//! process gets a cleared environment, its own process group and a parent-death signal, so it
//! never outlives Kumo.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::path::Path;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::config::{
    Handover, LaunchConfig, Prelude, SetupFailure, StatusLine, CONFIG_FD, LAUNCHER_COMMAND, NETWORK_NAMESPACE_FD,
    SETUP_FAILED_EXIT, STATUS_FD,
};
use crate::runtimes::LaunchPlan;

/// Runs between fork and exec: ties the child's life to Kumo's.
///
/// # Safety
/// Only async-signal-safe calls (prctl, getppid).
pub(crate) unsafe fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl and getppid are async-signal-safe and take no pointers.
    unsafe {
        // Environments must not outlive Kumo, even after `kill -9`.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() == 1 {
            return Err(std::io::Error::other("kumo exited while starting the environment"));
        }
    }
    Ok(())
}

/// Starts `plan` in `working_dir` with exactly `environment`, output to `output` (no sandbox).
pub fn spawn_direct(
    plan: &LaunchPlan,
    working_dir: &Path,
    environment: &BTreeMap<String, String>,
    output: OwnedFd,
) -> std::io::Result<Child> {
    let mut command = Command::new(&plan.program);
    command
        .args(&plan.args)
        .current_dir(working_dir)
        .env_clear()
        .envs(environment)
        .stdin(Stdio::null())
        .stdout(Stdio::from(output.try_clone()?))
        .stderr(Stdio::from(output))
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: the closure only makes async-signal-safe calls.
    unsafe { command.pre_exec(|| die_with_parent()) };
    command.spawn()
}

/// The descriptors a launcher inherits: the read end of its configuration pipe and the write end
/// of its status pipe.
#[derive(Debug)]
pub struct LaunchFds {
    config: OwnedFd,
    status: OwnedFd,
}

/// Kumo's end of a launcher's configuration pipe.
#[derive(Debug)]
pub struct ConfigWriter(std::fs::File);

/// Pipe size for configurations: a whole one fits, so writing never waits for the launcher.
const CONFIG_PIPE_BYTES: usize = 1024 * 1024;

impl ConfigWriter {
    /// Sends an empty line: the go-ahead a zygote's parked child waits for once it is in its
    /// cgroups.
    pub(crate) fn release(&mut self) -> std::io::Result<()> {
        self.0.write_all(b"\n")
    }

    /// Sends the environment's configuration; the launcher proceeds as soon as it has it.
    pub fn send(mut self, config: &LaunchConfig) -> std::io::Result<()> {
        self.write_line(config)
    }

    /// Sends a pre-started runtime's launcher its runtime's configuration; the writer stays for
    /// the [`Handover`].
    pub(crate) fn prestart(&mut self, config: &LaunchConfig) -> std::io::Result<()> {
        self.write_line(config)
    }

    /// Hands a pre-started runtime its function.
    pub(crate) fn hand_over(mut self, handover: &Handover) -> std::io::Result<()> {
        self.write_line(handover)
    }

    fn write_line(&mut self, value: &impl serde::Serialize) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if line.len() > CONFIG_PIPE_BYTES {
            return Err(std::io::Error::other("the launch configuration is too large"));
        }
        self.0.write_all(&line)
    }
}

/// Kumo's end of a launcher's status pipe.
#[derive(Debug)]
pub struct StatusReader(std::fs::File);

/// What the status pipe said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// The setup failure, if setup failed.
    pub failure: Option<SetupFailure>,
    /// How the runtime ended, as a zygote's child reports it: `(exit code, signal)`.
    pub exit: Option<(Option<i32>, Option<i32>)>,
}

impl StatusReader {
    /// What the launcher (or a zygote's child) reported. Read once it has exited: by then every
    /// process that could write has exited too.
    pub fn report(&mut self) -> StatusReport {
        let mut text = String::new();
        let _ = self.0.read_to_string(&mut text);
        let mut report = StatusReport::default();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            match serde_json::from_str(line) {
                Ok(StatusLine::Failure(failure)) => {
                    report.failure.get_or_insert(failure);
                }
                Ok(StatusLine::Exit { exit_code, exit_signal }) => report.exit = Some((exit_code, exit_signal)),
                Err(_) => {
                    report
                        .failure
                        .get_or_insert(SetupFailure { step: "unknown".to_string(), message: line.to_string() });
                }
            }
        }
        report
    }

    /// The setup failure the launcher reported, if any (see [`StatusReader::report`]).
    pub fn failure(&mut self) -> Option<SetupFailure> {
        self.report().failure
    }
}

/// Descriptors are moved above this number before `dup2` puts them at 3 and 4, so that neither
/// overwrites the other.
const HIGH_FD: RawFd = 10;

pub(crate) fn duplicate_high(fd: &OwnedFd) -> std::io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor, owned by nobody else.
    let duplicate = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, HIGH_FD) };
    if duplicate == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `duplicate` is a fresh, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(duplicate) })
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded; both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl LaunchFds {
    /// The child's ends: its configuration pipe and its status pipe.
    pub(crate) fn raw(&self) -> (RawFd, RawFd) {
        (self.config.as_raw_fd(), self.status.as_raw_fd())
    }
}

/// Opens the configuration pipe (with the prelude already in it) and the status pipe.
pub fn prepare_launch(prelude: &Prelude) -> std::io::Result<(LaunchFds, ConfigWriter, StatusReader)> {
    let (fds, mut writer, status) = launch_pipes()?;
    let mut line = serde_json::to_vec(prelude).map_err(std::io::Error::other)?;
    line.push(b'\n');
    writer.0.write_all(&line)?;
    Ok((fds, writer, status))
}

/// Opens an empty configuration pipe and the status pipe.
pub(crate) fn launch_pipes() -> std::io::Result<(LaunchFds, ConfigWriter, StatusReader)> {
    let (config_read, config_write) = pipe()?;
    // SAFETY: F_SETPIPE_SZ only resizes the pipe's buffer. If the host caps pipe sizes lower, the
    // default 64 KiB still holds any realistic configuration.
    unsafe { libc::fcntl(config_write.as_raw_fd(), libc::F_SETPIPE_SZ, CONFIG_PIPE_BYTES as libc::c_int) };
    let writer = ConfigWriter(std::fs::File::from(config_write));
    let (status_read, status_write) = pipe()?;
    // SAFETY: sets a flag on a descriptor this function owns.
    unsafe { libc::fcntl(status_read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let fds = LaunchFds { config: duplicate_high(&config_read)?, status: duplicate_high(&status_write)? };
    Ok((fds, writer, StatusReader(std::fs::File::from(status_read))))
}

/// Runs between fork and exec: puts the configuration at fd 3, the status pipe at fd 4 and the
/// network namespace, if any, at fd 5 (dup2 clears close-on-exec on the copies).
///
/// # Safety
/// Only async-signal-safe calls (dup2); the descriptors are open and above 5.
pub(crate) unsafe fn install_launch_fds(
    config: RawFd,
    status: RawFd,
    network_namespace: Option<RawFd>,
) -> std::io::Result<()> {
    // SAFETY: dup2 is async-signal-safe; the sources are open and distinct from 3, 4 and 5.
    unsafe {
        if libc::dup2(config, CONFIG_FD) == -1 || libc::dup2(status, STATUS_FD) == -1 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some(namespace) = network_namespace {
            if libc::dup2(namespace, NETWORK_NAMESPACE_FD) == -1 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Starts the launcher for one environment; its output (and the runtime's) goes to `output`. It
/// inherits `network_namespace` (see [`Prelude::network_namespace`]).
pub fn spawn_launcher(
    launcher: &Path,
    fds: LaunchFds,
    output: OwnedFd,
    network_namespace: Option<&OwnedFd>,
) -> std::io::Result<Child> {
    let network_namespace = network_namespace.map(duplicate_high).transpose()?;
    let mut command = Command::new(launcher);
    command
        .arg(LAUNCHER_COMMAND)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::from(output.try_clone()?))
        .stderr(Stdio::from(output))
        .process_group(0)
        .kill_on_drop(true);
    let (config, status) = (fds.config.as_raw_fd(), fds.status.as_raw_fd());
    let namespace = network_namespace.as_ref().map(OwnedFd::as_raw_fd);
    // SAFETY: the closure only makes async-signal-safe calls; the descriptors stay open in
    // Kumo until spawn returns (`fds` and the namespace's copy are dropped after it).
    unsafe {
        command.pre_exec(move || {
            die_with_parent()?;
            install_launch_fds(config, status, namespace)
        });
    }
    let child = command.spawn();
    drop((fds, network_namespace));
    child
}

/// Runs the launcher synchronously with a probe configuration (at start-up, to learn what the
/// host allows), in `network_namespace` if given. `Ok` when every step worked.
pub fn run_probe(
    launcher: &Path,
    prelude: &Prelude,
    config: &LaunchConfig,
    network_namespace: Option<&OwnedFd>,
) -> Result<(), SetupFailure> {
    let unexpected = |message: String| SetupFailure { step: "launcher".to_string(), message };
    let network_namespace = network_namespace
        .map(duplicate_high)
        .transpose()
        .map_err(|e| unexpected(format!("preparing the probe: {e}")))?;
    let namespace = network_namespace.as_ref().map(OwnedFd::as_raw_fd);
    let prepared =
        prepare_launch(prelude).and_then(|(fds, writer, status)| writer.send(config).map(|()| (fds, status)));
    let (fds, mut status) = prepared.map_err(|e| unexpected(format!("preparing the probe: {e}")))?;
    let mut command = std::process::Command::new(launcher);
    command.arg(LAUNCHER_COMMAND).env_clear().stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let (config_fd, status_fd) = (fds.config.as_raw_fd(), fds.status.as_raw_fd());
    // SAFETY: the closure only calls dup2; the descriptors stay open until spawn returns.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            install_launch_fds(config_fd, status_fd, namespace)
        });
    }
    let output = command.output();
    drop((fds, network_namespace));
    let output = output.map_err(|e| unexpected(format!("cannot start {}: {e}", launcher.display())))?;
    if output.status.success() {
        return Ok(());
    }
    if let Some(failure) = status.failure() {
        return Err(failure);
    }
    let code = output.status.code();
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(unexpected(match code {
        Some(SETUP_FAILED_EXIT) => format!("setup failed without a reason: {}", stderr.trim()),
        _ => format!("the launcher ended with {}: {}", output.status, stderr.trim()),
    }))
}

/// Kills the whole process group of an environment (the launcher, init, the runtime and
/// anything it started that kept the group).
pub fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: killpg has no memory-safety preconditions; a stale pid group fails with ESRCH.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}

/// Peak resident memory in MB (`VmHWM`) of the largest process among `pid` and its
/// descendants (the runtime sits below the launcher and init); 0 if nothing can be read.
/// Used only where no memory cgroup measures the whole environment.
pub fn peak_memory_mb(pid: u32) -> u64 {
    let mut peak = 0;
    let mut pending = vec![pid];
    let mut seen = 0;
    while let Some(pid) = pending.pop() {
        seen += 1;
        if seen > 64 {
            break;
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let kilobytes = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
            peak = peak.max(kilobytes.div_ceil(1024));
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            pending.extend(children.split_whitespace().filter_map(|child| child.parse::<u32>().ok()));
        }
    }
    peak
}

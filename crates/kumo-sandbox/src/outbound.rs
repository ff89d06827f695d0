//! Outbound network access for environments (`kumo serve --function-network outbound`): a
//! user-mode network stack, `pasta` (Debian package `passt`), attached to each environment's
//! network namespace.
//!
//! pasta gives the namespace an interface (`10.0.2.100/24`, gateway `10.0.2.2`, slirp's
//! addresses, so that the host's own address stays reachable from inside rather than being copied
//! into the namespace) and carries its TCP, UDP and ICMP traffic through ordinary sockets on the
//! host, as any process of Kumo's would make them. It forwards no port in either direction
//! (`-t none -u none -T none -U none`: nothing of the host's loopback appears inside, nothing
//! inside is reachable from the host) and does not map the gateway to the host's loopback
//! (`--no-map-gw`): Kumo's endpoint and the Runtime API stay the namespace's own listeners on
//! `127.0.0.1`, exactly as without the option.
//!
//! One pasta process per namespace (pasta serves one namespace). It is started with the namespace,
//! ahead of a cold start, and killed when the environment (or the parked process holding the
//! namespace) goes; it keeps the namespace alive while it runs. Readiness is its pid file: pasta
//! writes it once the namespace's interface, address and routes are configured.

use std::io;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The address of an environment's interface, as slirp4netns and QEMU's user networking use.
pub const NAMESPACE_ADDRESS: &str = "10.0.2.100";
/// The namespace's gateway (pasta answers for it; it is not the host).
const GATEWAY: &str = "10.0.2.2";
/// Longest pasta may take to configure a namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The user-mode network stack in use.
#[derive(Debug, Clone)]
pub(crate) struct OutboundStack {
    /// The `pasta` executable.
    program: PathBuf,
    /// Where pasta writes its pid files (one per namespace, removed once read).
    run_dir: PathBuf,
}

/// One namespace's pasta process: killed (and reaped by tokio) when dropped.
#[derive(Debug)]
pub(crate) struct OutboundLink {
    _process: tokio::process::Child,
}

impl OutboundStack {
    /// Finds `pasta` on `PATH` (Kumo's own, so an operator can point it at another build); an
    /// error says how to install it.
    pub(crate) fn find(run_dir: &Path) -> Result<Self, String> {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        let program = std::env::split_paths(&path)
            .map(|dir| dir.join("pasta"))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| {
            "pasta is not installed (Debian/Ubuntu: apt-get install passt; scripts/run installs it when \
                 given --function-network outbound)"
                .to_string()
        })?;
        std::fs::create_dir_all(run_dir).map_err(|error| format!("cannot create {}: {error}", run_dir.display()))?;
        Ok(Self { program, run_dir: run_dir.to_path_buf() })
    }

    /// The tool's name for the health report.
    pub(crate) fn tool(&self) -> &'static str {
        "pasta"
    }

    /// Attaches pasta to the namespace at `namespace` and waits until it has configured it.
    /// Call within a tokio runtime.
    pub(crate) fn attach(&self, namespace: &OwnedFd) -> io::Result<OutboundLink> {
        let pid_file = self.run_dir.join(format!("{}.pid", uuid::Uuid::new_v4().simple()));
        // pasta inherits Kumo's descriptor of the namespace under its own number and opens it
        // as `/proc/self/fd/<n>` (it cannot open another process's `/proc/<pid>/…` once it has
        // isolated itself).
        let namespace_fd = namespace.as_raw_fd();
        let namespace_path = format!("/proc/self/fd/{namespace_fd}");
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(["--foreground", "--quiet", "--runas", "0", "--config-net", "--ipv4-only"])
            .args(["--tcp-ports", "none", "--udp-ports", "none", "--tcp-ns", "none", "--udp-ns", "none"])
            .args(["--no-map-gw", "--address", NAMESPACE_ADDRESS, "--netmask", "24", "--gateway", GATEWAY])
            .arg("--pid")
            .arg(&pid_file)
            .arg("--netns")
            .arg(&namespace_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: runs in the child between fork and exec, where only async-signal-safe calls are
        // allowed: fcntl is one. It clears close-on-exec on the one descriptor pasta must inherit;
        // the parent's copy (and every other descriptor) is untouched.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(namespace_fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut process = command.spawn()?;
        let started = Instant::now();
        let outcome = loop {
            if std::fs::metadata(&pid_file).is_ok_and(|meta| meta.len() > 0) {
                break Ok(());
            }
            if let Ok(Some(status)) = process.try_wait() {
                break Err(io::Error::other(format!("pasta exited ({status}){}", stderr_of(&mut process))));
            }
            if started.elapsed() > READY_TIMEOUT {
                break Err(io::Error::other(format!("pasta did not configure the namespace within {READY_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let _ = std::fs::remove_file(&pid_file);
        outcome.map(|()| {
            // Its messages are not read past start-up: a full pipe must not stall it.
            drop(process.stderr.take());
            OutboundLink { _process: process }
        })
    }
}

/// What an exited pasta wrote to stderr, as `: <text>`.
fn stderr_of(process: &mut tokio::process::Child) -> String {
    let Some(stderr) = process.stderr.take() else { return String::new() };
    let Ok(stderr) = stderr.into_owned_fd() else { return String::new() };
    let mut text = String::new();
    let _ = io::Read::read_to_string(&mut std::fs::File::from(stderr), &mut text);
    let text: String = text.lines().filter(|line| !line.contains("syslog")).collect::<Vec<_>>().join("; ");
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", text.trim())
    }
}

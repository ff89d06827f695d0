//! Spawning the runtime process: cleared environment, own process group, killed with Kumo.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::runtimes::LaunchPlan;

/// Starts `plan` in `working_dir` with exactly `environment`, output to `output`.
pub fn spawn(
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
    // SAFETY: the closure runs between fork and exec and only calls prctl and getppid,
    // both async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // Environments must not outlive Kumo, even after `kill -9`.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("kumo exited while starting the environment"));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Kills the whole process group of an environment (the runtime and anything it started).
pub fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: killpg has no memory-safety preconditions; a stale pid group fails with ESRCH.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}

/// Peak resident memory of a process in MB (`VmHWM`), 0 if it cannot be read.
pub fn peak_memory_mb(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return 0 };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kilobytes| kilobytes.div_ceil(1024))
}

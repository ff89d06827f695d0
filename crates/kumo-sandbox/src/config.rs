//! What Kumo tells the launcher (`kumo sandbox-init`): two JSON lines read from fd 3, a pipe.
//!
//! The first line ([`Prelude`]) comes at once: the launcher joins its cgroups and then waits for
//! the second ([`LaunchConfig`]); a pre-started runtime's launcher reads a third ([`Handover`]). That lets Kumo start launchers ahead of demand ("parked"), so the
//! exec of the launcher and the slow cgroup moves are off a cold start's path.
//!
//! Kumo decides everything (which namespaces, which mounts, which uid, which limits); the launcher
//! only carries the steps out in order. Keeping the decisions on Kumo's side keeps the launcher
//! small and lets unit tests check the decisions without root.
//!
//! The lines travel through an inherited pipe rather than argv or the environment: argv is
//! world-readable in `/proc/<pid>/cmdline`, and the function's variables (which may contain
//! `LD_PRELOAD`) must never reach the launcher's own dynamic loader, which still runs as Kumo.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The hidden subcommand of the `kumo` binary that runs the launcher.
pub const LAUNCHER_COMMAND: &str = "sandbox-init";
/// Descriptor the launcher reads its [`Prelude`] and [`LaunchConfig`] from.
pub const CONFIG_FD: i32 = 3;
/// Descriptor the launcher reports setup failures to (one [`SetupFailure`] JSON line).
pub const STATUS_FD: i32 = 4;
/// Descriptor of the environment's network namespace, when [`Prelude::network_namespace`] says
/// the launcher inherited one.
pub const NETWORK_NAMESPACE_FD: i32 = 5;
/// The [`SetupFailure`] step of a pre-started runtime that ended before its handover.
pub const PARKED_STEP: &str = "parked";
/// Exit status of a launcher whose setup failed; the reason is on the status descriptor.
pub const SETUP_FAILED_EXIT: i32 = 125;

/// What the launcher does as soon as it starts, before its environment is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prelude {
    /// `cgroup.procs` files the launcher moves itself into before anything else, so that every
    /// process of the environment is accounted from its first instruction.
    pub cgroup_procs: Vec<PathBuf>,
    /// The launcher inherited its environment's network namespace at [`NETWORK_NAMESPACE_FD`] and
    /// enters it next (before any other namespace: see `network.rs`).
    #[serde(default)]
    pub network_namespace: bool,
}

/// Everything the launcher needs to start one sandboxed runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchConfig {
    /// Executable to run, as a path inside the sandbox.
    pub program: PathBuf,
    /// Its arguments (without `argv[0]`, which is `program`).
    pub args: Vec<String>,
    /// Exactly the environment the runtime gets.
    pub environment: Vec<(String, String)>,
    /// Working directory inside the sandbox.
    pub working_dir: PathBuf,
    /// New namespaces; `None` runs in Kumo's namespaces (a host without them).
    pub namespaces: Option<NamespaceConfig>,
    /// The minimal root; `None` leaves the host's file system visible (no mount isolation).
    pub mounts: Option<MountPlan>,
    /// The unprivileged user the runtime runs as; `None` keeps Kumo's identity.
    pub identity: Option<Identity>,
    /// Set `PR_SET_NO_NEW_PRIVS` (required for the seccomp filter).
    pub no_new_privs: bool,
    /// Install Kumo's seccomp filter.
    pub seccomp: bool,
    /// Resource limits set before the runtime starts.
    pub rlimits: Vec<ResourceLimit>,
    /// Self-test: do every step, then exit 0 instead of starting `program`.
    #[serde(default)]
    pub probe: bool,
    /// Start a zygote (a runtime's template process, see `zygote.rs`): only a mount namespace,
    /// no init, no pid namespace, and Kumo's identity, so that it can fork environments later.
    #[serde(default)]
    pub template: bool,
    /// Start the runtime before its function is known (a pre-started runtime, for interpreters
    /// that cannot be forked, like Node.js): init builds a root that still shows Kumo's data dir
    /// at `/.kumo/data`, starts the runtime with a pipe at fd 3, and then waits for a
    /// [`Handover`] line: it mounts the function's code, detaches the data dir, and writes the
    /// function's environment into the pipe. The runtime reads it and only then loads code.
    #[serde(default)]
    pub prestart: bool,
}

/// The third line a pre-started runtime's launcher reads (see [`LaunchConfig::prestart`]): what
/// makes the environment its function's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// Applied in place to the runtime's root: code, layers, `/tmp`; then the data dir detached.
    pub mounts: MountPlan,
    /// The function's environment, which the runtime adopts as its own.
    pub environment: Vec<(String, String)>,
}

/// New mount, pid, ipc and uts namespaces, plus a user namespace when Kumo is not root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceConfig {
    /// Host name inside the uts namespace.
    pub hostname: String,
    /// A user namespace with this mapping; needed when Kumo has no `CAP_SYS_ADMIN`.
    pub user: Option<UserMapping>,
    /// Only a mount namespace (a zygote's): its children make the others.
    #[serde(default)]
    pub mount_only: bool,
}

/// One uid and one gid mapped into a new user namespace (all an unprivileged process may map).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMapping {
    /// uid inside the namespace.
    pub inside_uid: u32,
    /// Kumo's uid it stands for.
    pub outside_uid: u32,
    /// gid inside the namespace.
    pub inside_gid: u32,
    /// Kumo's gid it stands for.
    pub outside_gid: u32,
}

/// An unprivileged identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// User id.
    pub uid: u32,
    /// Group id (also the only group).
    pub gid: u32,
}

/// A resource limit (`setrlimit`), soft and hard set alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimit {
    /// Which limit.
    pub resource: Resource,
    /// The value for both the soft and the hard limit.
    pub value: u64,
}

/// The rlimits Kumo sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resource {
    /// `RLIMIT_NOFILE`.
    OpenFiles,
    /// `RLIMIT_NPROC`.
    Processes,
    /// `RLIMIT_CORE`.
    CoreFileSize,
}

/// How to build the sandbox's root file system: a small tmpfs at `root` (a host directory used
/// only as a mount point), filled by `steps` in order, then made the process's root with
/// `pivot_root` and remounted read-only.
///
/// A plan `in_place` instead applies its steps to the current root, which must already be a
/// sandbox root (a zygote's, with every mount point made): a zygote's child only adds its own
/// code, `/tmp` and `/proc`, and detaches what only the zygote may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPlan {
    /// Host directory the root tmpfs is mounted on (private to the environment's mount namespace).
    pub root: PathBuf,
    /// What to put into the root, in order. Targets are absolute paths inside the sandbox.
    pub steps: Vec<MountStep>,
    /// Apply the steps to the current root (no tmpfs, no `pivot_root`).
    #[serde(default)]
    pub in_place: bool,
}

/// One step of a [`MountPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountStep {
    /// An empty directory (mode 0755).
    Dir { target: PathBuf },
    /// A symbolic link `target -> link_to`.
    Symlink { target: PathBuf, link_to: PathBuf },
    /// A bind mount of a host path, never recursive (submounts of the source stay hidden).
    Bind {
        /// Host path.
        source: PathBuf,
        /// Path inside the sandbox.
        target: PathBuf,
        /// What the source is.
        kind: BindKind,
    },
    /// A fresh tmpfs.
    Tmpfs {
        /// Path inside the sandbox.
        target: PathBuf,
        /// Size limit in MiB.
        size_mb: u32,
        /// Octal mode of its root directory.
        mode: u32,
    },
    /// `/proc` of the new pid namespace.
    Proc { target: PathBuf },
    /// Detaches the mount at `target` (`umount2(MNT_DETACH)`): what a zygote saw and its
    /// children must not.
    Detach { target: PathBuf },
}

/// What a bind mount's source is; decides the mount point and the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BindKind {
    /// A directory, remounted read-only, nosuid and nodev.
    Directory,
    /// A regular file, remounted read-only, nosuid and nodev.
    File,
    /// A device node (`/dev/null`…), left writable and with device access.
    Device,
}

/// A line on the status pipe ([`STATUS_FD`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusLine {
    /// The launcher could not start the runtime.
    Failure(SetupFailure),
    /// How the runtime ended, as the first process of a zygote's environment reports it: that
    /// process is the zygote's child, so Kumo cannot wait for it.
    Exit {
        /// Its exit code, when it exited.
        exit_code: Option<i32>,
        /// The signal that killed it.
        exit_signal: Option<i32>,
    },
}

/// Why the launcher could not start the runtime; written as one JSON line to [`STATUS_FD`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupFailure {
    /// The step that failed (`cgroups`, `namespaces`, `mounts`, `identity`, `seccomp`, `exec`…).
    pub step: String,
    /// What went wrong.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let config = LaunchConfig {
            program: PathBuf::from("/var/task/bootstrap"),
            args: vec!["a".into()],
            environment: vec![("K".into(), "V".into())],
            working_dir: PathBuf::from("/var/task"),
            namespaces: Some(NamespaceConfig { hostname: "localhost".into(), user: None, mount_only: false }),
            mounts: Some(MountPlan {
                root: PathBuf::from("/data/sandbox/root"),
                steps: vec![MountStep::Proc { target: PathBuf::from("/proc") }],
                in_place: false,
            }),
            identity: Some(Identity { uid: 993, gid: 990 }),
            no_new_privs: true,
            seccomp: true,
            rlimits: vec![ResourceLimit { resource: Resource::OpenFiles, value: 1024 }],
            probe: false,
            template: false,
            prestart: false,
        };
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<LaunchConfig>(&json).unwrap(), config);
    }

    #[test]
    fn status_lines_tell_failures_from_exits() {
        let failure = r#"{"step":"exec","message":"/x: No such file"}"#;
        assert!(matches!(serde_json::from_str(failure).unwrap(), StatusLine::Failure(f) if f.step == "exec"));
        let exit = serde_json::to_string(&StatusLine::Exit { exit_code: None, exit_signal: Some(9) }).unwrap();
        assert_eq!(
            serde_json::from_str::<StatusLine>(&exit).unwrap(),
            StatusLine::Exit { exit_code: None, exit_signal: Some(9) }
        );
    }
}

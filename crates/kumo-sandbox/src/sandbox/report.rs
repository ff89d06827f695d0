//! What the sandbox gives environments, as `/_kumo/health` reports it: the protections by
//! name, the ones this host lacks with their reasons, and the network environments have.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Features;
use crate::cgroups::{CgroupManager, CgroupVersion, Controller};
use crate::rootfs::SANDBOX_USER;

/// A protection an environment can have; the names appear in the health report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protection {
    /// Own mount namespace.
    MountNamespace,
    /// Own pid namespace: sees only its processes, all of them die with it.
    PidNamespace,
    /// Own ipc namespace.
    IpcNamespace,
    /// Own uts namespace (host name).
    UtsNamespace,
    /// Own network namespace: only loopback, with its own Runtime API and Kumo's endpoint.
    NetworkNamespace,
    /// A user namespace (needed when Kumo is not root).
    UserNamespace,
    /// A minimal read-only root: no host home directories, data dir, other functions' code.
    Filesystem,
    /// Runs as an unprivileged uid.
    UnprivilegedUser,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Kumo's seccomp filter.
    Seccomp,
    /// rlimits (open files, core dumps).
    Rlimits,
    /// Memory limit, peak and OOM detection.
    MemoryCgroup,
    /// Process count limit.
    PidsCgroup,
    /// CPU quota.
    CpuCgroup,
}

impl Protection {
    /// The name in the health report.
    pub fn name(self) -> &'static str {
        match self {
            Protection::MountNamespace => "namespaces.mount",
            Protection::PidNamespace => "namespaces.pid",
            Protection::IpcNamespace => "namespaces.ipc",
            Protection::UtsNamespace => "namespaces.uts",
            Protection::NetworkNamespace => "namespaces.net",
            Protection::UserNamespace => "namespaces.user",
            Protection::Filesystem => "filesystem",
            Protection::UnprivilegedUser => "unprivileged-user",
            Protection::NoNewPrivs => "no-new-privs",
            Protection::Seccomp => "seccomp",
            Protection::Rlimits => "rlimits",
            Protection::MemoryCgroup => "cgroups.memory",
            Protection::PidsCgroup => "cgroups.pids",
            Protection::CpuCgroup => "cgroups.cpu",
        }
    }

    pub(super) fn of_controller(controller: Controller) -> Self {
        match controller {
            Controller::Memory => Protection::MemoryCgroup,
            Controller::Pids => Protection::PidsCgroup,
            Controller::Cpu => Protection::CpuCgroup,
        }
    }

    pub(super) const NAMESPACES: [Protection; 4] =
        [Protection::MountNamespace, Protection::PidNamespace, Protection::IpcNamespace, Protection::UtsNamespace];
}

/// What `/_kumo/health` shows under `sandbox`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SandboxReport {
    /// `full`, `partial`, `none`, or `off` (`KUMO_SANDBOX=off`).
    pub isolation: &'static str,
    /// Protections every environment gets.
    pub active: Vec<&'static str>,
    /// Protections this host cannot give (each with its reason in `reasons`).
    pub missing: Vec<&'static str>,
    /// Why each missing protection is missing.
    pub reasons: BTreeMap<&'static str, String>,
    /// The cgroup hierarchy in use.
    pub cgroup: Option<CgroupVersion>,
    /// The user functions run as.
    pub user: Option<String>,
    /// `isolated`: each environment has its own network namespace (its Runtime API at
    /// `127.0.0.1:9001`, Kumo's endpoint, nothing else); `host`: environments share the host's
    /// network and their Runtime APIs are ports on its loopback (the reason is under
    /// `reasons["namespaces.net"]`); `outbound`: isolated as that, and each namespace reaches
    /// other hosts through the user-mode network stack `network_tool` (`--function-network
    /// outbound`).
    pub network: &'static str,
    /// The user-mode network stack giving namespaces outbound access (`pasta`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_tool: Option<&'static str>,
    /// Anything an operator must know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub(super) fn all_protections(needs_user_namespace: bool) -> Vec<Protection> {
    let mut all = Protection::NAMESPACES.to_vec();
    all.push(Protection::NetworkNamespace);
    if needs_user_namespace {
        all.push(Protection::UserNamespace);
    }
    all.extend([
        Protection::Filesystem,
        Protection::UnprivilegedUser,
        Protection::NoNewPrivs,
        Protection::Seccomp,
        Protection::Rlimits,
        Protection::MemoryCgroup,
        Protection::PidsCgroup,
        Protection::CpuCgroup,
    ]);
    all
}

pub(super) fn build_report(
    features: &Features,
    cgroups: Option<&dyn CgroupManager>,
    reasons: BTreeMap<Protection, String>,
    privileged: bool,
) -> SandboxReport {
    let mut active = BTreeSet::new();
    if let Some(namespaces) = &features.namespaces {
        active.extend(Protection::NAMESPACES);
        if namespaces.user.is_some() {
            active.insert(Protection::UserNamespace);
        }
    }
    if features.network {
        active.insert(Protection::NetworkNamespace);
    }
    if features.layout.is_some() {
        active.insert(Protection::Filesystem);
    }
    if features.identity.is_some() {
        active.insert(Protection::UnprivilegedUser);
    }
    if features.no_new_privs {
        active.insert(Protection::NoNewPrivs);
    }
    if features.seccomp {
        active.insert(Protection::Seccomp);
    }
    if !features.rlimits.is_empty() {
        active.insert(Protection::Rlimits);
    }
    if let Some(manager) = cgroups {
        active.extend(manager.controllers().into_iter().map(Protection::of_controller));
    }
    let expected = all_protections(!privileged);
    let missing: Vec<Protection> = expected.iter().copied().filter(|p| !active.contains(p)).collect();
    let reasons: BTreeMap<&'static str, String> = missing
        .iter()
        .map(|p| (p.name(), reasons.get(p).cloned().unwrap_or_else(|| "not available on this host".to_string())))
        .collect();
    let isolation = match (missing.is_empty(), active.is_empty()) {
        (true, _) => "full",
        (false, true) => "none",
        (false, false) => "partial",
    };
    let pids_cgroup = cgroups.is_some_and(|m| m.controllers().contains(&Controller::Pids));
    let shared_nproc = features.rlimits.iter().any(|limit| limit.resource == crate::config::Resource::Processes);
    let note = (!pids_cgroup && shared_nproc)
        .then(|| "without the pids cgroup, RLIMIT_NPROC caps the processes of all environments together".to_string());
    SandboxReport {
        isolation,
        active: active.iter().map(|p| p.name()).collect(),
        missing: missing.iter().map(|p| p.name()).collect(),
        reasons,
        cgroup: cgroups.map(|m| m.version()),
        user: features.identity.map(|id| format!("{SANDBOX_USER} ({}:{})", id.uid, id.gid)),
        network: if features.network { "isolated" } else { "host" },
        network_tool: None,
        note,
    }
}

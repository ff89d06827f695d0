//! Resource limits (`setrlimit`) of a runtime, as on AWS: 1,024 open files, no core dumps, and a
//! process cap where no pids cgroup exists.

use std::io;

use crate::config::{Resource, ResourceLimit};

/// Open files per process (AWS: 1,024).
pub const OPEN_FILES: u64 = 1024;
/// Processes when no pids cgroup caps them (AWS: 1,024 processes/threads per environment).
pub const PROCESSES: u64 = 1024;

/// The limits for an environment. `RLIMIT_NPROC` counts every process of the uid on the host,
/// so with one shared sandbox uid it would cap all environments together: it is set only when
/// the pids cgroup (a true per-environment cap) is missing, as the next best protection.
pub fn for_environment(pids_cgroup: bool) -> Vec<ResourceLimit> {
    let mut limits = vec![
        ResourceLimit { resource: Resource::OpenFiles, value: OPEN_FILES },
        ResourceLimit { resource: Resource::CoreFileSize, value: 0 },
    ];
    if !pids_cgroup {
        limits.push(ResourceLimit { resource: Resource::Processes, value: PROCESSES });
    }
    limits
}

/// Sets each limit, soft and hard alike (the function cannot raise them again).
pub fn apply(limits: &[ResourceLimit]) -> io::Result<()> {
    for limit in limits {
        let resource = match limit.resource {
            Resource::OpenFiles => libc::RLIMIT_NOFILE,
            Resource::Processes => libc::RLIMIT_NPROC,
            Resource::CoreFileSize => libc::RLIMIT_CORE,
        };
        let value = libc::rlimit { rlim_cur: limit.value, rlim_max: limit.value };
        // SAFETY: `value` is a valid rlimit that outlives the call.
        if unsafe { libc::setrlimit(resource, &value) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nproc_only_without_a_pids_cgroup() {
        let has = |limits: &[ResourceLimit], resource| limits.iter().any(|l| l.resource == resource);
        assert!(!has(&for_environment(true), Resource::Processes));
        assert!(has(&for_environment(false), Resource::Processes));
        assert!(has(&for_environment(true), Resource::OpenFiles));
        assert!(has(&for_environment(true), Resource::CoreFileSize));
    }
}

//! Linux namespaces of an environment: mount, pid, ipc and uts always; a user namespace when Kumo
//! lacks `CAP_SYS_ADMIN` (not root), mapping one unprivileged uid/gid to Kumo's own.
//!
//! `unshare(CLONE_NEWPID)` does not move the caller: its next child becomes pid 1 of the new
//! namespace. The launcher therefore forks once after [`enter`]; that child is the namespace's
//! init, and when it dies the kernel kills every process left in the namespace — nothing a
//! function started can outlive its environment.

use std::io;
use std::path::Path;

use crate::config::{NamespaceConfig, UserMapping};
use crate::syscalls::Syscalls;

/// The `unshare` flags for `config`.
pub fn flags(config: &NamespaceConfig) -> libc::c_int {
    let always = if config.mount_only {
        libc::CLONE_NEWNS
    } else {
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS
    };
    if config.user.is_some() {
        always | libc::CLONE_NEWUSER
    } else {
        always
    }
}

/// Unshares the namespaces and, for a user namespace, writes its id maps.
pub fn enter(sys: &dyn Syscalls, config: &NamespaceConfig) -> io::Result<()> {
    sys.unshare(flags(config))?;
    if let Some(mapping) = &config.user {
        map_ids(sys, mapping)?;
    }
    Ok(())
}

/// Writes the uid and gid maps of a fresh user namespace. An unprivileged process may map only its
/// own ids, and only after giving up `setgroups` (so it cannot drop a group that denies access).
fn map_ids(sys: &dyn Syscalls, mapping: &UserMapping) -> io::Result<()> {
    sys.write_file(Path::new("/proc/self/setgroups"), "deny")?;
    sys.write_file(Path::new("/proc/self/uid_map"), &format!("{} {} 1\n", mapping.inside_uid, mapping.outside_uid))?;
    sys.write_file(Path::new("/proc/self/gid_map"), &format!("{} {} 1\n", mapping.inside_gid, mapping.outside_gid))
}

/// Sets the host name inside the new uts namespace.
pub fn set_hostname(sys: &dyn Syscalls, config: &NamespaceConfig) -> io::Result<()> {
    sys.sethostname(&config.hostname)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::Recorder;

    #[test]
    fn root_gets_no_user_namespace() {
        let recorder = Recorder::default();
        let config = NamespaceConfig { hostname: "localhost".into(), user: None, mount_only: false };
        enter(&recorder, &config).unwrap();
        let expected = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
        assert_eq!(recorder.lines(), [format!("unshare {expected:#x}")]);
    }

    #[test]
    fn a_zygote_gets_only_a_mount_namespace() {
        let config = NamespaceConfig { hostname: "localhost".into(), user: None, mount_only: true };
        assert_eq!(flags(&config), libc::CLONE_NEWNS);
    }

    #[test]
    fn an_unprivileged_kumo_maps_one_uid_and_gid() {
        let recorder = Recorder::default();
        let mapping = UserMapping { inside_uid: 993, outside_uid: 1000, inside_gid: 990, outside_gid: 1000 };
        let config = NamespaceConfig { hostname: "localhost".into(), user: Some(mapping), mount_only: false };
        enter(&recorder, &config).unwrap();
        let lines = recorder.lines();
        assert!(lines[0].starts_with("unshare "));
        assert_eq!(flags(&config) & libc::CLONE_NEWUSER, libc::CLONE_NEWUSER);
        assert_eq!(
            lines[1..],
            [
                "write /proc/self/setgroups \"deny\"".to_string(),
                "write /proc/self/uid_map \"993 1000 1\\n\"".to_string(),
                "write /proc/self/gid_map \"990 1000 1\\n\"".to_string(),
            ]
        );
    }
}

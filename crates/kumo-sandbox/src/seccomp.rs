//! The seccomp filter every runtime runs under: a deny list of what a function never needs
//! (mounting, tracing other processes, loading kernel code, new namespaces, keyrings, io_uring…), answered
//! with `EPERM` so well-behaved programs see an ordinary permission error. Everything else is
//! allowed: runtimes and the programs functions start use a wide and changing set of syscalls.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// Syscalls denied outright.
const DENIED: &[(&str, libc::c_long)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("acct", libc::SYS_acct),
    ("syslog", libc::SYS_syslog),
    ("quotactl", libc::SYS_quotactl),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("userfaultfd", libc::SYS_userfaultfd),
    // io_uring runs operations on kernel threads that the rest of this filter never sees, and
    // has been a steady source of kernel exploits; no runtime needs it.
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
];

/// `clone` flags that would create namespaces; `clone` itself must stay (fork, threads).
const NAMESPACE_FLAGS: [libc::c_int; 8] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
    0x80, // CLONE_NEWTIME
];

/// The names of the denied syscalls (for the health report and tests).
pub fn denied_syscalls() -> Vec<&'static str> {
    DENIED.iter().map(|(name, _)| *name).chain(["clone (namespace flags)", "clone3"]).collect()
}

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// Builds the filters, in the order they are installed.
///
/// Three programs: the deny list (`EPERM`); `clone3` answered with `ENOSYS`, because its flags sit
/// behind a pointer a filter cannot read, and C libraries fall back to `clone` on `ENOSYS`; and on
/// x86-64 a guard rejecting x32-ABI syscall numbers, which would otherwise slip past a list of
/// x86-64 numbers.
pub fn filters() -> Result<Vec<BpfProgram>, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED.iter().map(|(_, number)| (*number, Vec::new())).collect();
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|flag| {
            let flag = *flag as u64;
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )?])
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    let deny: BpfProgram =
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), ARCH)?.try_into()?;
    let clone3 = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    let no_clone3: BpfProgram =
        SeccompFilter::new(clone3, SeccompAction::Allow, SeccompAction::Errno(libc::ENOSYS as u32), ARCH)?
            .try_into()?;
    let mut programs = vec![deny, no_clone3];
    if cfg!(target_arch = "x86_64") {
        programs.push(x32_guard());
    }
    Ok(programs)
}

/// `if (nr & __X32_SYSCALL_BIT) return EPERM; else allow` (the arch is checked by the deny list).
fn x32_guard() -> BpfProgram {
    use seccompiler::sock_filter;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let instruction = |code: u32, jt: u8, jf: u8, k: u32| sock_filter { code: code as u16, jt, jf, k };
    vec![
        // Load the syscall number (offset 0 of struct seccomp_data).
        instruction(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        instruction(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K, 0, 1, X32_SYSCALL_BIT),
        instruction(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        instruction(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Installs the filters on the calling thread (which must have `no_new_privs` or
/// `CAP_SYS_ADMIN`). They are inherited by every child and kept across `execve`.
pub fn install(programs: &[BpfProgram]) -> Result<(), seccompiler::Error> {
    programs.iter().try_for_each(|program| seccompiler::apply_filter(program))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile() {
        let programs = filters().unwrap();
        assert!(programs.len() >= 2);
        assert!(programs.iter().all(|p| !p.is_empty() && p.len() < 4096));
    }

    #[test]
    fn the_deny_list_covers_what_functions_never_need() {
        let denied = denied_syscalls();
        for name in [
            "mount",
            "ptrace",
            "bpf",
            "kexec_load",
            "init_module",
            "unshare",
            "setns",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
        ] {
            assert!(denied.contains(&name), "{name}");
        }
        assert!(!denied.contains(&"execve"));
    }

    /// Installs the filters in a forked child and checks what it may and may not do.
    #[test]
    fn a_filtered_process_cannot_unshare_or_mount_but_can_fork() {
        let programs = filters().unwrap();
        // SAFETY: the child only makes raw syscalls and exits with _exit; it touches no lock
        // another test thread might hold (the filters were compiled before the fork).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = (|| {
                if install(&programs).is_err() {
                    return 10;
                }
                // SAFETY: plain syscalls with valid (null or static) arguments.
                unsafe {
                    if libc::unshare(libc::CLONE_NEWNS) == 0 || *libc::__errno_location() != libc::EPERM {
                        return 11;
                    }
                    if libc::mount(
                        c"none".as_ptr(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REMOUNT,
                        std::ptr::null(),
                    ) == 0
                        || *libc::__errno_location() != libc::EPERM
                    {
                        return 12;
                    }
                    if libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0) == 0
                        || *libc::__errno_location() != libc::ENOSYS
                    {
                        return 13;
                    }
                    let child = libc::fork();
                    if child == 0 {
                        libc::_exit(0);
                    }
                    if child < 0 {
                        return 14;
                    }
                    let mut status = 0;
                    libc::waitpid(child, &mut status, 0);
                }
                0
            })();
            // SAFETY: ends the forked child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child died: {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0);
    }
}

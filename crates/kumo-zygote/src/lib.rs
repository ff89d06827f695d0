//! `libkumo_zygote.so`: what a runtime's zygote calls in each forked child to enter the child's
//! sandbox. The steps are the launcher's own ([`kumo_sandbox::launcher::enter_from_zygote`]), so a
//! zygote's environments are sealed exactly like exec'd ones.

/// Prepares a parked child before its function is known: namespaces, init and the runtime's
/// process. Returns 0, only in the runtime's process; the calling process stays the relay of the
/// runtime's exit status and init stays init, neither returns. `network_namespace` is the
/// descriptor of the environment's network namespace (entered first, then closed), or -1.
///
/// # Safety
/// The calling process must be single-threaded (a freshly forked child), with its configuration
/// pipe at fd 3 and its status pipe at fd 4.
#[no_mangle]
pub unsafe extern "C" fn kumo_zygote_prepare(network_namespace: i32) -> i32 {
    kumo_sandbox::launcher::prepare_from_zygote(network_namespace);
    0
}

/// Seals the prepared runtime process as the launch configuration at `config` (`len` bytes of
/// JSON) describes: its root, uid, rlimits, seccomp. Returns 0; a failure exits the process.
///
/// # Safety
/// `config` must point to `len` readable bytes; the caller is the process
/// [`kumo_zygote_prepare`] returned in.
#[no_mangle]
pub unsafe extern "C" fn kumo_zygote_enter(config: *const u8, len: usize) -> i32 {
    // SAFETY: the caller guarantees `len` readable bytes at `config`.
    let config = unsafe { std::slice::from_raw_parts(config, len) };
    kumo_sandbox::launcher::enter_from_zygote(config);
    0
}

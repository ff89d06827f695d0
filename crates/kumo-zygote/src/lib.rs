//! `libkumo_zygote.so`: what a runtime's zygote calls in each forked child to enter the child's
//! sandbox. The steps are the launcher's own ([`kumo_sandbox::launcher::enter_from_zygote`]), so a
//! zygote's environments are sealed exactly like exec'd ones.

/// Enters the sandbox described by the launch configuration at `config` (`len` bytes of JSON).
/// Returns 0, only in the environment's runtime process; every other process of the environment
/// stays inside (relaying the runtime's end, or being its init) and never returns.
///
/// # Safety
/// `config` must point to `len` readable bytes, and the calling process must be single-threaded
/// (a freshly forked child).
#[no_mangle]
pub unsafe extern "C" fn kumo_zygote_enter(config: *const u8, len: usize) -> i32 {
    // SAFETY: the caller guarantees `len` readable bytes at `config`.
    let config = unsafe { std::slice::from_raw_parts(config, len) };
    kumo_sandbox::launcher::enter_from_zygote(config);
    0
}

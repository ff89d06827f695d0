//! The launcher, `kumo sandbox-init`: the small program between Kumo and a runtime that puts the
//! runtime into its sandbox. Kumo starts it instead of the runtime, with a [`Prelude`] and then a
//! [`LaunchConfig`] on fd 3 and a status pipe on fd 4. It runs before any async runtime or thread
//! exists, so it may fork freely. Kumo may start it ahead of demand: it joins its cgroups and then
//! waits for its configuration.
//!
//! Three processes make up an environment:
//! ```text
//! kumo ── launcher (Kumo's child, host pid namespace: relays the runtime's exit status)
//!           └── init (pid 1 of the new pid namespace: builds the root, reaps orphans)
//!                 └── runtime (pid 2: unprivileged, seccomp-filtered, exec'd with exactly its environment)
//! ```
//! The launcher dies with Kumo (parent-death signal, set by Kumo before exec), init dies with the
//! launcher (its own parent-death signal), and when init dies the kernel kills everything left in
//! the pid namespace. The runtime's exit status comes back to Kumo unchanged: init passes it to
//! the launcher through a pipe and the launcher ends the same way (same code or same signal).
//!
//! A failed step is reported as one [`SetupFailure`] JSON line on the status pipe, and the
//! launcher exits with [`SETUP_FAILED_EXIT`].

use std::ffi::CString;
use std::io::Read as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::process::ExitCode;

use crate::config::{
    Handover, Identity, LaunchConfig, NamespaceConfig, Prelude, SetupFailure, StatusLine, CONFIG_FD, LAUNCHER_COMMAND,
    NETWORK_NAMESPACE_FD, PARKED_STEP, SETUP_FAILED_EXIT, STATUS_FD,
};
use crate::syscalls::{Linux, Syscalls};
use crate::{mounts, namespaces, network, rlimits, seccomp};

/// Whether this process was started as the launcher (`<exe> sandbox-init`). Binaries that can
/// start environments call this first thing in `main` and then [`main`].
pub fn is_launcher_invocation() -> bool {
    std::env::args_os().nth(1).is_some_and(|arg| arg == LAUNCHER_COMMAND)
}

/// Runs the launcher. Returns only on a usage error; otherwise it execs the runtime or exits.
pub fn main() -> ExitCode {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(CONFIG_FD, libc::F_GETFD) } == -1 {
        eprintln!("kumo {LAUNCHER_COMMAND}: internal command started by Kumo, not meant to be run by hand");
        return ExitCode::from(2);
    }
    // SAFETY: fd 3 is open (checked above) and belongs to this process alone from here on.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(CONFIG_FD) });
    let mut lines = std::io::BufReader::with_capacity(16 * 1024, file);
    let prelude: Prelude = read_line(&mut lines);
    join_cgroups(&prelude);
    if prelude.network_namespace {
        enter_network_namespace(NETWORK_NAMESPACE_FD);
    }
    // A parked launcher waits here until Kumo has an environment for it.
    let config: LaunchConfig = read_line(&mut lines);
    if config.prestart {
        prestart(&config, lines);
    }
    drop(lines);
    run(&config, Finish::Exec);
    unreachable!("the launcher execs or exits")
}

/// The configuration pipe, read line by line (init of a pre-started runtime reads its third line).
type Lines = std::io::BufReader<std::fs::File>;

/// Starts a pre-started runtime (see [`LaunchConfig::prestart`]); init reads the handover from
/// `lines`. Never returns.
fn prestart(config: &LaunchConfig, lines: Lines) -> ! {
    let Some(namespace_config) = &config.namespaces else {
        fail("namespaces", "a pre-started runtime needs its own namespaces")
    };
    if let Err(error) = namespaces::enter(&Linux, namespace_config) {
        fail("namespaces", error);
    }
    fork_init(Some(config), Finish::Exec, Some(lines));
    unreachable!("the launcher relays and init waits; neither returns")
}

/// Prepares a zygote's parked child (its status pipe at fd 4, its configuration pipe at fd 3),
/// before it knows its function: new pid, ipc, uts and mount namespaces, init, and the runtime's
/// process, so that no fork remains on a cold start's path. Returns only in the runtime's process
/// (pid 2 of the new namespace), which then waits for its configuration and calls
/// [`enter_from_zygote`]; this process stays the relay and init stays init, neither returns.
///
/// `network_namespace` (a descriptor, or -1 for none) is the environment's network namespace,
/// entered first.
pub fn prepare_from_zygote(network_namespace: libc::c_int) {
    // SAFETY: prctl with integer arguments. The zygote's child dies with the zygote, which dies with Kumo.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) } != 0 {
        fail("namespaces", last_error());
    }
    if network_namespace >= 0 {
        enter_network_namespace(network_namespace);
    }
    let namespaces = NamespaceConfig { hostname: String::new(), user: None, mount_only: false };
    if let Err(error) = namespaces::enter(&Linux, &namespaces) {
        fail("namespaces", error);
    }
    fork_init(None, Finish::Return, None);
}

/// Seals a prepared runtime process (see [`prepare_from_zygote`]) as `config` (JSON) describes:
/// host name, root (in place: code, layers, `/tmp`, `/proc`; `/.kumo` detached), rlimits, uid,
/// `no_new_privs`, seccomp. Then returns, and the process goes on running the zygote's code.
pub fn enter_from_zygote(config: &[u8]) {
    let config: LaunchConfig = serde_json::from_slice(config).unwrap_or_else(|error| fail("config", error));
    set_up_root(&config);
    start_runtime(&config, Finish::Return);
}

/// What the runtime's process does once it is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    /// Exec the configured program (the launcher).
    Exec,
    /// Return to the caller (a zygote's child, which already is the runtime).
    Return,
}

fn read_line<T: serde::de::DeserializeOwned>(lines: &mut impl std::io::BufRead) -> T {
    let mut line = String::new();
    match lines.read_line(&mut line) {
        Ok(0) => {
            // Kumo dropped a parked launcher it no longer needs.
            // SAFETY: exits without running destructors; nothing is half-done.
            unsafe { libc::_exit(0) }
        }
        Ok(_) => serde_json::from_str(&line).unwrap_or_else(|error| fail("config", error)),
        Err(error) => fail("config", error),
    }
}

/// Joins the environment's cgroups first: everything after is accounted and limited.
fn join_cgroups(prelude: &Prelude) {
    let sys = Linux;
    for procs in &prelude.cgroup_procs {
        if let Err(error) = sys.write_file(procs, "0") {
            fail("cgroups", format!("joining {}: {error}", procs.display()));
        }
    }
}

/// Enters the environment's network namespace (see `network.rs`) and closes its descriptor. First
/// of the namespaces: `setns` into a namespace Kumo made needs Kumo's privileges, which a user
/// namespace made after would not have.
fn enter_network_namespace(fd: libc::c_int) {
    if let Err(error) = network::enter(fd) {
        fail("network", format!("setns: {error}"));
    }
}

/// Reports a failed step to Kumo and exits.
fn fail(step: &str, error: impl std::fmt::Display) -> ! {
    let failure = SetupFailure { step: step.to_string(), message: error.to_string() };
    let mut line = serde_json::to_string(&failure).unwrap_or_else(|_| format!("{{\"step\":\"{step}\"}}"));
    line.push('\n');
    // SAFETY: writes a valid buffer to the status descriptor; an error is ignored (nobody listens).
    unsafe {
        libc::write(STATUS_FD, line.as_ptr().cast(), line.len());
        libc::_exit(SETUP_FAILED_EXIT)
    }
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// The launcher's steps; returns only with [`Finish::Return`], in the runtime's process.
fn run(config: &LaunchConfig, finish: Finish) {
    let sys = Linux;
    let Some(namespace_config) = &config.namespaces else {
        // No namespaces on this host: this process becomes the runtime itself.
        return start_runtime(config, finish);
    };
    if let Err(error) = namespaces::enter(&sys, namespace_config) {
        fail("namespaces", error);
    }
    if config.template {
        // A zygote: it stays in Kumo's pid namespace (its children make their own) and needs no init.
        if let Some(plan) = &config.mounts {
            if let Err(error) = mounts::apply(&sys, plan) {
                fail("mounts", error);
            }
        }
        return start_runtime(config, finish);
    }
    fork_init(Some(config), finish, None);
}

/// Forks init, pid 1 of the new pid namespace; this process becomes the relay. With a
/// configuration init builds the root and the runtime starts it; without one (a zygote's parked
/// child) the runtime's process returns, to be sealed later. With `handover`, init hands the
/// started runtime its function later (see [`LaunchConfig::prestart`]). Returns only with
/// [`Finish::Return`], in the runtime's process.
fn fork_init(config: Option<&LaunchConfig>, finish: Finish, handover: Option<Lines>) {
    let (relay_read, relay_write) = pipe().unwrap_or_else(|error| fail("namespaces", error));
    let (alive_read, alive_write) = pipe().unwrap_or_else(|error| fail("namespaces", error));
    // SAFETY: the launcher is single-threaded, so the child may keep using the allocator.
    match unsafe { libc::fork() } {
        -1 => fail("fork", last_error()),
        0 => {
            drop(relay_read);
            drop(alive_write);
            init(config, relay_write, alive_read, finish, handover)
        }
        init_pid => {
            drop(relay_write);
            drop(alive_read);
            drop(handover);
            // SAFETY: closes descriptors this process no longer uses. The launcher has nothing more
            // to report (init and the runtime hold copies of the status pipe); a zygote's relay
            // reports the runtime's end, but never reads a configuration.
            unsafe {
                if finish == Finish::Exec {
                    libc::close(STATUS_FD);
                } else {
                    libc::close(CONFIG_FD);
                }
            }
            relay(init_pid, relay_read, alive_write, finish)
        }
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(last_error());
    }
    // SAFETY: pipe2 succeeded; both descriptors are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// How the runtime ended, as init tells the launcher: `[0, code]` or `[1, signal]`.
fn encode_status(status: libc::c_int) -> [u8; 2] {
    if libc::WIFSIGNALED(status) {
        [1, libc::WTERMSIG(status) as u8]
    } else {
        [0, libc::WEXITSTATUS(status) as u8]
    }
}

fn wait_for(pid: libc::pid_t) -> (libc::pid_t, libc::c_int) {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        if waited == -1 && last_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return (waited, status);
    }
}

/// The launcher's part: wait for init, then end the way the runtime ended. A zygote's child also
/// reports it on the status pipe, since its parent is the zygote, not Kumo.
fn relay(init_pid: libc::pid_t, relay_read: OwnedFd, _alive_write: OwnedFd, finish: Finish) -> ! {
    let (_, init_status) = wait_for(init_pid);
    let mut message = [0u8; 2];
    let mut file = std::fs::File::from(relay_read);
    let received = file.read(&mut message).unwrap_or(0);
    let (kind, value) = if received == 2 {
        (message[0], libc::c_int::from(message[1]))
    } else {
        // Init itself was killed (by Kumo, or the OOM killer): end the way it did.
        let [kind, value] = encode_status(init_status);
        (kind, libc::c_int::from(value))
    };
    if finish == Finish::Return {
        let exit = if kind == 1 {
            StatusLine::Exit { exit_code: None, exit_signal: Some(value) }
        } else {
            StatusLine::Exit { exit_code: Some(value), exit_signal: None }
        };
        let mut line = serde_json::to_vec(&exit).unwrap_or_default();
        line.push(b'\n');
        // SAFETY: writes a valid buffer to the status pipe; if Kumo is gone nobody cares.
        unsafe { libc::write(STATUS_FD, line.as_ptr().cast(), line.len()) };
    }
    if kind == 1 {
        die_by_signal(value);
    }
    // SAFETY: ends the process with the runtime's exit code.
    unsafe { libc::_exit(value) }
}

fn die_by_signal(signal: libc::c_int) -> ! {
    // SAFETY: restoring the default action and signalling ourselves are plain syscalls; if the
    // signal does not end the process (it should), the exit code says which one it was.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), signal);
        libc::_exit(128 + signal)
    }
}

/// Pid 1 of the new pid namespace: builds the root, starts the runtime, reaps orphans, and
/// reports the runtime's end to the launcher. Its own exit tears the namespace down.
/// Returns only with [`Finish::Return`], in the runtime's process.
fn init(
    config: Option<&LaunchConfig>,
    relay_write: OwnedFd,
    alive_read: OwnedFd,
    finish: Finish,
    handover: Option<Lines>,
) {
    // SAFETY: prctl with integer arguments; getppid cannot tell whether the launcher is gone
    // (it lives outside this pid namespace), so the alive pipe is checked instead.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
            fail("namespaces", last_error());
        }
        let mut poll = libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&alive_read), events: 0, revents: 0 };
        if libc::poll(&mut poll, 1, 0) > 0 && poll.revents & libc::POLLHUP != 0 {
            libc::_exit(SETUP_FAILED_EXIT);
        }
    }
    if let Some(config) = config {
        set_up_root(config);
    }
    // A pre-started runtime reads its function's environment from this pipe, at fd 3.
    let environment_pipe = handover.as_ref().map(|_| pipe().unwrap_or_else(|error| fail("handover", error)));
    // SAFETY: single-threaded; see `run`.
    let runtime = match unsafe { libc::fork() } {
        -1 => fail("fork", last_error()),
        0 => {
            drop(relay_write);
            drop(alive_read);
            if let Some((read, write)) = environment_pipe {
                drop(write);
                // dup2 replaces fd 3, the configuration pipe the reader owns: it must not close it again.
                std::mem::forget(handover);
                // SAFETY: both descriptors are open; dup2 clears close-on-exec on the copy.
                if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&read), CONFIG_FD) } == -1 {
                    fail("handover", last_error());
                }
            }
            // Returns only in a zygote's runtime, which goes back to the zygote's code (sealed
            // now, or later by `enter_from_zygote` when there is no configuration yet).
            if let Some(config) = config {
                start_runtime(config, finish);
            }
            return;
        }
        pid => pid,
    };
    if let (Some(lines), Some((read, write))) = (handover, environment_pipe) {
        drop(read);
        hand_over(lines, write, runtime);
    }
    // SAFETY: init reports nothing itself from here on; only the runtime may still fail setup,
    // and only the runtime reads a zygote child's configuration.
    unsafe {
        libc::close(STATUS_FD);
        if finish == Finish::Return {
            libc::close(CONFIG_FD);
        }
    }
    loop {
        let (waited, status) = wait_for(-1);
        if waited == runtime || waited == -1 {
            let message = encode_status(status);
            // SAFETY: writes two bytes from a valid buffer; if the launcher is gone nobody cares.
            unsafe {
                libc::write(std::os::fd::AsRawFd::as_raw_fd(&relay_write), message.as_ptr().cast(), 2);
                libc::_exit(0)
            }
        }
    }
}

/// Init's part of a pre-started runtime: waits for the function (or for the runtime's end, if it
/// dies parked: then init ends too, and the namespace with it), mounts its code, and passes its
/// environment to the runtime.
fn hand_over(mut lines: Lines, environment_write: OwnedFd, runtime: libc::pid_t) {
    if lines.buffer().is_empty() && !wait_readable(CONFIG_FD, runtime) {
        // Killed from outside while parked. If Kumo hands it a function before it sees the
        // launcher gone, this failure tells it to start the environment again.
        fail(PARKED_STEP, "the pre-started runtime ended before it had a function");
    }
    let handover: Handover = read_line(&mut lines);
    if let Err(error) = mounts::apply(&Linux, &handover.mounts) {
        fail("mounts", error);
    }
    let environment: serde_json::Map<String, serde_json::Value> =
        handover.environment.into_iter().map(|(key, value)| (key, serde_json::Value::String(value))).collect();
    let text = serde_json::to_vec(&environment).unwrap_or_else(|error| fail("handover", error));
    // A runtime that died meanwhile leaves a broken pipe (SIGPIPE is ignored): the reaping loop
    // then reports its end.
    let _ = std::io::Write::write_all(&mut std::fs::File::from(environment_write), &text);
}

/// Waits until `fd` is readable (or closed); false if the process `pid` (a child) ends first.
fn wait_readable(fd: libc::c_int, pid: libc::pid_t) -> bool {
    // SAFETY: pidfd_open takes a pid and flags; the result is a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    let mut fds = [
        libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 },
    ];
    // Without pidfds (kernels before 5.3) only the pipe is watched.
    let count = if pidfd >= 0 { 2 } else { 1 };
    loop {
        // SAFETY: `fds` holds `count` valid pollfd entries.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), count, -1) };
        if ready == -1 && last_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if pidfd >= 0 {
            // SAFETY: closes the descriptor opened above.
            unsafe { libc::close(pidfd) };
        }
        // A runtime found dead wins over a handover that arrived at the same moment.
        return fds[1].revents == 0;
    }
}

/// The host name and the root of `config`, in the environment's namespaces.
fn set_up_root(config: &LaunchConfig) {
    let sys = Linux;
    if let Some(namespace_config) = &config.namespaces {
        if let Err(error) = namespaces::set_hostname(&sys, namespace_config) {
            fail("namespaces", format!("sethostname: {error}"));
        }
    }
    if let Some(plan) = &config.mounts {
        if let Err(error) = mounts::apply(&sys, plan) {
            fail("mounts", error);
        }
    }
}

/// Everything that happens in the runtime's own process before `execve` (or, for a zygote's
/// child, before returning to the zygote's code).
fn start_runtime(config: &LaunchConfig, finish: Finish) {
    // Everything that allocates happens before the first restriction is in place.
    let program = c_string(config.program.as_os_str().as_bytes());
    let mut argv: Vec<CString> = vec![program.clone()];
    argv.extend(config.args.iter().map(|arg| c_string(arg.as_bytes())));
    let envp: Vec<CString> =
        config.environment.iter().map(|(key, value)| c_string(format!("{key}={value}").as_bytes())).collect();
    let filters =
        if config.seccomp { Some(seccomp::filters().unwrap_or_else(|error| fail("seccomp", error))) } else { None };
    let working_dir = c_string(config.working_dir.as_os_str().as_bytes());

    if finish == Finish::Return {
        show_environment(&envp);
    }
    if let Err(error) = rlimits::apply(&config.rlimits) {
        fail("rlimits", error);
    }
    if let Some(identity) = config.identity {
        let in_user_namespace = config.namespaces.as_ref().is_some_and(|n| n.user.is_some());
        if let Err(error) = drop_privileges(identity, in_user_namespace) {
            fail("identity", error);
        }
    }
    // SAFETY: plain syscalls with valid arguments. SIGPIPE is reset because Rust's start-up code
    // ignored it in this process and an ignored signal stays ignored across execve.
    unsafe {
        if (config.no_new_privs || config.seccomp) && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            fail("no_new_privs", last_error());
        }
        if libc::chdir(working_dir.as_ptr()) != 0 {
            fail("working directory", format!("{}: {}", config.working_dir.display(), last_error()));
        }
        if finish == Finish::Exec {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        // The status pipe closes on a successful exec; it stays open to report a failed one.
        libc::fcntl(STATUS_FD, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    if let Some(filters) = &filters {
        if let Err(error) = seccomp::install(filters) {
            fail("seccomp", error);
        }
    }
    if config.probe {
        // SAFETY: the self-test ends here, successfully.
        unsafe { libc::_exit(0) };
    }
    if finish == Finish::Return {
        // SAFETY: the function's code must not be able to write status lines.
        unsafe { libc::close(STATUS_FD) };
        return;
    }
    let mut argv_pointers: Vec<*const libc::c_char> = argv.iter().map(|arg| arg.as_ptr()).collect();
    argv_pointers.push(std::ptr::null());
    let mut envp_pointers: Vec<*const libc::c_char> = envp.iter().map(|entry| entry.as_ptr()).collect();
    envp_pointers.push(std::ptr::null());
    // SAFETY: both arrays are NULL-terminated and point to NUL-terminated strings kept alive by
    // `argv` and `envp`; execve only returns on failure.
    unsafe { libc::execve(program.as_ptr(), argv_pointers.as_ptr(), envp_pointers.as_ptr()) };
    fail("exec", format!("{}: {}", config.program.display(), last_error()))
}

/// Makes `/proc/<pid>/environ` of a zygote's runtime show the function's environment, as an
/// exec'd runtime's does (operators and tools look there); without it, it would show the
/// zygote's. `PR_SET_MM_MAP` (unlike the single-field `PR_SET_MM` calls) needs no capability when
/// the executable stays the same; cosmetic, so a failure is ignored.
fn show_environment(envp: &[CString]) {
    /// `struct prctl_mm_map` of `<linux/prctl.h>`.
    #[repr(C)]
    struct MmMap {
        start_code: u64,
        end_code: u64,
        start_data: u64,
        end_data: u64,
        start_brk: u64,
        brk: u64,
        start_stack: u64,
        arg_start: u64,
        arg_end: u64,
        env_start: u64,
        env_end: u64,
        auxv: *mut u64,
        auxv_size: u32,
        exe_fd: u32,
    }
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the parenthesised command name, which may itself contain spaces; field 3 is
    // the first one after it.
    let Some((_, rest)) = stat.rsplit_once(") ") else { return };
    let fields: Vec<u64> = rest.split_whitespace().map(|field| field.parse().unwrap_or(0)).collect();
    let field = |number: usize| fields.get(number - 3).copied().unwrap_or(0);
    let block: Vec<u8> = envp.iter().flat_map(|entry| entry.as_bytes_with_nul().iter().copied()).collect();
    // The kernel reads the block whenever /proc/<pid>/environ is read: it must live for good.
    let block: &'static [u8] = Vec::leak(block);
    let start = block.as_ptr() as u64;
    let map = MmMap {
        start_code: field(26),
        end_code: field(27),
        start_data: field(45),
        end_data: field(46),
        start_brk: field(47),
        // SAFETY: sbrk(0) only reads the current program break.
        brk: unsafe { libc::sbrk(0) } as u64,
        start_stack: field(28),
        arg_start: field(48),
        arg_end: field(49),
        env_start: start,
        env_end: start + block.len() as u64,
        auxv: std::ptr::null_mut(),
        auxv_size: 0,
        exe_fd: u32::MAX,
    };
    // SAFETY: PR_SET_MM_MAP reads a `prctl_mm_map` of the given size; every address in it is this
    // process's own (read from /proc/self/stat, or the block just leaked).
    unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_MAP as libc::c_ulong,
            &map as *const MmMap as libc::c_ulong,
            std::mem::size_of::<MmMap>() as libc::c_ulong,
            0,
        )
    };
}

fn c_string(bytes: &[u8]) -> CString {
    CString::new(bytes).unwrap_or_else(|_| fail("config", "a string contains a NUL byte"))
}

/// Becomes `identity` for good: no supplementary groups, then gid, then uid (last, since
/// changing the others needs the privilege it gives up).
fn drop_privileges(identity: Identity, in_user_namespace: bool) -> std::io::Result<()> {
    // SAFETY: plain syscalls with integer arguments.
    unsafe {
        // A user namespace has setgroups denied (and no supplementary groups to drop).
        if !in_user_namespace && libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(last_error());
        }
        if libc::setresgid(identity.gid, identity.gid, identity.gid) != 0 {
            return Err(last_error());
        }
        if libc::setresuid(identity.uid, identity.uid, identity.uid) != 0 {
            return Err(last_error());
        }
    }
    Ok(())
}

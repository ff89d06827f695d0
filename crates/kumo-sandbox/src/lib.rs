//! Execution environments: sandboxed processes that run a function's runtime and speak the Lambda
//! Runtime API to Kumo. This crate isolates and limits them, serves each one its own Runtime API
//! endpoint, collects their output as log lines and enforces the invocation timeout.
//!
//! Isolation (see `design.md` beside this crate's sources): each environment runs in new mount,
//! pid, ipc, uts and network namespaces (plus a user namespace when Kumo is not root) with a minimal
//! read-only root, as an unprivileged user, with `no_new_privs`, a seccomp filter, rlimits and a
//! cgroup limiting memory, processes and CPU. The launcher that sets this up is the hidden
//! `kumo sandbox-init` subcommand ([`launcher`]); [`Sandbox::probe`] finds out at start-up what
//! the host allows and reports what is missing.

pub mod cgroups;
mod config;
mod environment;
pub mod launcher;
mod logs;
mod mounts;
mod namespaces;
mod network;
mod outbound;
mod parking;
mod process;
mod response_stream;
mod rlimits;
mod rootfs;
mod runtime_api;
pub mod runtimes;
mod sandbox;
mod seccomp;
mod spawner;
mod syscalls;
mod zygote;

pub use config::{LaunchConfig, SetupFailure, LAUNCHER_COMMAND};
pub use environment::{
    EnvironmentSpec, ExecutionEnvironment, InitErrorDetail, InitFailure, InvokeOutcome, InvokeResult,
};
pub use logs::LogLine;
pub use mounts::{RUNTIME_DIR, TASK_ROOT};
pub use network::{FunctionEndpoint, RUNTIME_API_ADDRESS};
pub use response_stream::{StreamPiece, StreamedResponse};
pub use runtime_api::Invocation;
pub use runtimes::{LaunchPlan, RuntimeError, RuntimeMounts, RuntimeRegistry};
pub use sandbox::{
    denied_syscalls, ParkedStatus, PrestartedStatus, Sandbox, SandboxReport, ZygoteStatus, SANDBOX_ENV, ZYGOTE_ENV,
};

//! Execution environments: processes that run a function's runtime and speak the Lambda
//! Runtime API to Kumo. This crate spawns them, serves each one its own Runtime API endpoint,
//! collects their output as log lines and enforces the invocation timeout.
//!
//! Isolation (namespaces, cgroups, seccomp) is not here yet: environments are plain child
//! processes with a cleared environment, their own process group and a parent-death signal.

mod environment;
mod logs;
mod process;
mod runtime_api;
pub mod runtimes;

pub use environment::{
    EnvironmentSpec, ExecutionEnvironment, InitErrorDetail, InitFailure, InvokeOutcome, InvokeResult,
};
pub use logs::LogLine;
pub use runtime_api::Invocation;
pub use runtimes::{LaunchPlan, RuntimeError, RuntimeRegistry};

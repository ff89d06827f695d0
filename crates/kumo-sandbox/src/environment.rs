//! One execution environment: a runtime process, its Runtime API endpoint and its output.
//!
//! Lifecycle as on AWS: Init (start the process, wait for its first `/next`), then one
//! invocation at a time, then Shutdown (kill the process group). A timeout, a crash or an
//! oversized response leaves the environment unusable; the pool replaces it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::process::Child;
use tokio::sync::watch;

use crate::logs::{output_pipe, LogLine, OutputPipe};
use crate::process;
use crate::runtime_api::{InitError, Invocation, RuntimeAnswer, RuntimeApiServer, RuntimeState};
use crate::runtimes::LaunchPlan;

/// Longest Init phase AWS allows an on-demand environment.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to start an environment for one function version.
#[derive(Debug, Clone)]
pub struct EnvironmentSpec {
    /// How to start the runtime.
    pub plan: LaunchPlan,
    /// Unpacked code (`LAMBDA_TASK_ROOT`).
    pub code_dir: PathBuf,
    /// The environment variables the function sees (AWS's reserved ones plus the user's).
    pub environment: BTreeMap<String, String>,
}

/// Why Init failed; reported to the caller as the invocation's function error.
#[derive(Debug, Clone)]
pub struct InitFailure {
    /// Error type, e.g. `Runtime.ImportModuleError` or `Runtime.ExitError`.
    pub error_type: String,
    /// What went wrong.
    pub detail: InitErrorDetail,
    /// Output the runtime wrote while starting.
    pub log_lines: Vec<LogLine>,
    /// How long Init ran.
    pub init_duration: Duration,
}

/// The error of a failed Init.
#[derive(Debug, Clone)]
pub enum InitErrorDetail {
    /// The runtime posted this JSON to `/init/error`.
    Posted(Bytes),
    /// Kumo saw the failure (exit, timeout, spawn error); the invoker words it with the request id.
    Platform(String),
}

/// How an invocation ended.
#[derive(Debug)]
pub enum InvokeOutcome {
    /// The handler returned this response.
    Success(Bytes),
    /// The handler (or runtime) reported an error.
    FunctionError {
        /// `Lambda-Runtime-Function-Error-Type`, if given.
        error_type: Option<String>,
        /// The error JSON.
        body: Bytes,
    },
    /// The timeout expired; the environment was killed.
    Timeout,
    /// The runtime process exited; its exit status as AWS words it.
    Crashed(String),
    /// The response exceeded 6 MB.
    ResponseTooLarge,
}

/// The outcome of an invocation plus what metering and logging need.
#[derive(Debug)]
pub struct InvokeResult {
    /// How it ended.
    pub outcome: InvokeOutcome,
    /// What the function wrote during the invocation.
    pub log_lines: Vec<LogLine>,
    /// On a cold start, what the runtime wrote during Init (logged before START).
    pub init_lines: Vec<LogLine>,
    /// Time from handing out the event to the answer.
    pub duration: Duration,
    /// Peak memory of the runtime process in MB.
    pub max_memory_used_mb: u64,
    /// Set on the first invocation of an environment: how long Init took.
    pub init_duration: Option<Duration>,
}

/// A running execution environment.
pub struct ExecutionEnvironment {
    exit_task: tokio::task::JoinHandle<()>,
    pid: u32,
    runtime_api: RuntimeApiServer,
    output: OutputPipe,
    exited: watch::Receiver<Option<String>>,
    pending_init: Option<(Duration, Vec<LogLine>)>,
    usable: bool,
    log_stream: String,
    /// When the environment last finished an invocation; the pool reaps idle ones.
    pub last_used: Instant,
}

impl ExecutionEnvironment {
    /// Starts the runtime and waits until it asks for its first event (end of Init).
    pub async fn start(spec: &EnvironmentSpec) -> Result<Self, InitFailure> {
        let started = Instant::now();
        let failure = |message: String, init_duration: Duration| InitFailure {
            error_type: "Runtime.Unknown".to_string(),
            detail: InitErrorDetail::Platform(message),
            log_lines: Vec::new(),
            init_duration,
        };
        let runtime_api = RuntimeApiServer::start()
            .await
            .map_err(|e| failure(format!("cannot open the Runtime API: {e}"), started.elapsed()))?;
        let (output, child_output) =
            output_pipe().map_err(|e| failure(format!("cannot create the output pipe: {e}"), started.elapsed()))?;
        let mut environment = spec.environment.clone();
        environment.insert("AWS_LAMBDA_RUNTIME_API".to_string(), runtime_api.address().to_string());
        let child = process::spawn(&spec.plan, &spec.code_dir, &environment, child_output)
            .map_err(|e| failure(format!("cannot start {}: {e}", spec.plan.program.display()), started.elapsed()))?;
        let pid = child.id().unwrap_or(0);
        let (exited, exit_task) = Self::watch_exit(child);
        let mut environment = Self {
            exit_task,
            pid,
            runtime_api,
            output,
            exited,
            pending_init: None,
            usable: true,
            log_stream: spec.environment.get("AWS_LAMBDA_LOG_STREAM_NAME").cloned().unwrap_or_default(),
            last_used: Instant::now(),
        };
        match environment.wait_for_init().await {
            Ok(()) => {
                let mut lines = Vec::new();
                if let Some(warning) = &spec.plan.warning {
                    lines.push(LogLine { timestamp_ms: kumo_core::time::now_millis(), text: warning.clone() });
                }
                let init_duration = started.elapsed();
                lines.extend(environment.output.drain().await);
                environment.pending_init = Some((init_duration, lines));
                Ok(environment)
            }
            Err((error_type, detail)) => {
                let init_duration = started.elapsed();
                environment.shutdown();
                let log_lines = environment.output.drain().await;
                Err(InitFailure { error_type, detail, log_lines, init_duration })
            }
        }
    }

    /// Moves the child into a task that publishes its exit status; Kumo keeps the pid to kill it.
    fn watch_exit(mut child: Child) -> (watch::Receiver<Option<String>>, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = watch::channel(None);
        let task = tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => describe_exit(status),
                Err(error) => format!("exit status unknown: {error}"),
            };
            let _ = sender.send(Some(status));
        });
        (receiver, task)
    }

    async fn wait_for_init(&mut self) -> Result<(), (String, InitErrorDetail)> {
        let mut state = self.runtime_api.state();
        let mut exited = self.exited.clone();
        let outcome = tokio::time::timeout(INIT_TIMEOUT, async {
            loop {
                match &*state.borrow_and_update() {
                    RuntimeState::Ready => return Ok(()),
                    RuntimeState::InitFailed => return Err(None),
                    RuntimeState::Initializing => {}
                }
                if let Some(status) = exited.borrow_and_update().clone() {
                    return Err(Some(status));
                }
                tokio::select! {
                    _ = state.changed() => {}
                    _ = exited.changed() => {}
                }
            }
        })
        .await;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(None)) => {
                let InitError { error_type, body } =
                    self.runtime_api.init_error().unwrap_or(InitError { error_type: None, body: Bytes::new() });
                let error_type = error_type.unwrap_or_else(|| "Runtime.Unknown".to_string());
                let detail = if body.is_empty() {
                    InitErrorDetail::Platform("Runtime failed to initialize".to_string())
                } else {
                    InitErrorDetail::Posted(body)
                };
                Err((error_type, detail))
            }
            Ok(Err(Some(status))) => Err((
                "Runtime.ExitError".to_string(),
                InitErrorDetail::Platform(format!("Runtime exited with error: {status}")),
            )),
            Err(_) => Err((
                "Sandbox.Timedout".to_string(),
                InitErrorDetail::Platform("Init phase timed out after 10.00 seconds".to_string()),
            )),
        }
    }

    /// Whether the environment can take another invocation.
    pub fn is_usable(&self) -> bool {
        self.usable && self.exited.borrow().is_none()
    }

    /// The CloudWatch log stream this environment writes to.
    pub fn log_stream(&self) -> &str {
        &self.log_stream
    }

    /// The runtime process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Runs one invocation with the function's timeout.
    pub async fn invoke(&mut self, invocation: Invocation, timeout: Duration) -> InvokeResult {
        let started = Instant::now();
        let answer = self.runtime_api.submit(invocation).await;
        let mut exited = self.exited.clone();
        let outcome = tokio::select! {
            answer = answer => match answer {
                Ok(RuntimeAnswer::Response(body)) => InvokeOutcome::Success(body),
                Ok(RuntimeAnswer::Error { error_type, body }) => InvokeOutcome::FunctionError { error_type, body },
                Ok(RuntimeAnswer::ResponseTooLarge) => InvokeOutcome::ResponseTooLarge,
                Err(_) => InvokeOutcome::Crashed("environment shut down".to_string()),
            },
            _ = tokio::time::sleep(timeout) => InvokeOutcome::Timeout,
            status = wait_exit(&mut exited) => InvokeOutcome::Crashed(status),
        };
        let duration = started.elapsed();
        let max_memory_used_mb = process::peak_memory_mb(self.pid);
        if !matches!(outcome, InvokeOutcome::Success(_) | InvokeOutcome::FunctionError { .. }) {
            self.usable = false;
            self.shutdown();
        }
        let (init_duration, init_lines) = match self.pending_init.take() {
            Some((init, lines)) => (Some(init), lines),
            None => (None, Vec::new()),
        };
        let log_lines = self.output.drain().await;
        self.last_used = Instant::now();
        InvokeResult { outcome, log_lines, init_lines, duration, max_memory_used_mb, init_duration }
    }

    /// Kills the runtime and everything it started.
    pub fn shutdown(&mut self) {
        self.usable = false;
        process::kill_group(self.pid);
    }
}

impl Drop for ExecutionEnvironment {
    fn drop(&mut self) {
        self.shutdown();
        // Dropping the child (kill_on_drop) also kills it should the group kill have missed it.
        self.exit_task.abort();
    }
}

async fn wait_exit(exited: &mut watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(status) = exited.borrow_and_update().clone() {
            return status;
        }
        if exited.changed().await.is_err() {
            return "unknown".to_string();
        }
    }
}

/// Words an exit status as AWS does (`exit status 1`, `signal: killed`).
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal: {}", signal_name(signal)),
        (None, None) => "exit status unknown".to_string(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => "killed",
        libc::SIGSEGV => "segmentation fault",
        libc::SIGABRT => "aborted",
        libc::SIGTERM => "terminated",
        _ => "signal",
    }
}

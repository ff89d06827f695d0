//! One execution environment: a sandboxed runtime process, its cgroup, its network namespace's
//! listeners (its Runtime API endpoint and Kumo's), and its output.
//!
//! Lifecycle as on AWS: Init (start the process, wait for its first `/next`), then one
//! invocation at a time, then Shutdown (kill the process group, remove the cgroup). A timeout, a
//! crash, an out-of-memory kill or an oversized response leaves the environment unusable; the
//! pool replaces it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot, watch};

use crate::cgroups::{CpuQuota, EnvironmentCgroup};
use crate::config::{SetupFailure, PARKED_STEP};
use crate::logs::{LogLine, OutputPipe};
use crate::network::{EndpointTask, RUNTIME_API_ADDRESS};
use crate::outbound::OutboundLink;
use crate::parking::{EnvProcess, Killer, ParkedPool};
use crate::process::{self, StatusReader};
use crate::response_stream::{StreamPiece, StreamedResponse};
use crate::runtime_api::{InitError, Invocation, RuntimeAnswer, RuntimeApiServer, RuntimeState};
use crate::runtimes::LaunchPlan;
use crate::sandbox::{Launched, Sandbox};

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
    /// `MemorySize`: the memory limit, and the CPU share that goes with it.
    pub memory_mb: u32,
    /// `EphemeralStorage`: the size of `/tmp`.
    pub ephemeral_mb: u32,
    /// The host's sandbox.
    pub sandbox: Arc<Sandbox>,
    /// Who the environment is, as Kumo's endpoint tells requests from inside it.
    pub caller: kumo_core::CallerEnvironment,
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

/// A failed start attempt, and whether it may be tried once more.
struct Failed {
    failure: InitFailure,
    /// The zygote the environment came from, if any (it may have died with it).
    zygote: Option<Arc<ParkedPool>>,
    /// The pre-started runtime it was handed had died while parked.
    parked_runtime_gone: bool,
}

impl Failed {
    fn new(failure: InitFailure) -> Self {
        Self { failure, zygote: None, parked_runtime_gone: false }
    }
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
    /// The environment ran out of memory and the kernel killed the runtime (exit status as
    /// AWS words it, `signal: killed`).
    OutOfMemory(String),
    /// The response exceeded its limit (6 MB buffered, 200 MB streamed).
    ResponseTooLarge {
        /// The limit it went past, in bytes.
        limit: usize,
    },
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
    /// Peak memory of the environment in MB (its cgroup's peak; the runtime's `VmHWM` without one).
    pub max_memory_used_mb: u64,
    /// Set on the first invocation of an environment: how long Init took.
    pub init_duration: Option<Duration>,
}

/// How the environment's first process ended.
#[derive(Debug, Clone)]
struct Exit {
    /// As AWS words it: `exit status 1`, `signal: killed`.
    status: String,
    /// What the launcher reported, when it could not start the runtime.
    setup_failure: Option<SetupFailure>,
}

/// A running execution environment.
pub struct ExecutionEnvironment {
    exit_task: tokio::task::JoinHandle<()>,
    pid: u32,
    killer: Killer,
    runtime_api: RuntimeApiServer,
    /// Kumo's endpoint served inside the environment's network namespace, if it has one.
    _endpoint: Option<EndpointTask>,
    /// The namespace's user-mode network stack (`--function-network outbound`), stopped with it.
    _outbound: Option<OutboundLink>,
    output: OutputPipe,
    exited: watch::Receiver<Option<Exit>>,
    sandbox: Arc<Sandbox>,
    cgroup: Option<Arc<dyn EnvironmentCgroup>>,
    oom_kills_seen: u64,
    pending_init: Option<(Duration, Vec<LogLine>)>,
    usable: bool,
    log_stream: String,
    /// When the environment last finished an invocation; the pool reaps idle ones.
    pub last_used: Instant,
    started: Instant,
}

impl ExecutionEnvironment {
    /// Starts the runtime and waits until it asks for its first event (end of Init).
    pub async fn start(spec: &EnvironmentSpec) -> Result<Self, InitFailure> {
        let Failed { failure, zygote, parked_runtime_gone } = match Self::start_once(spec).await {
            Ok(environment) => return Ok(environment),
            Err(failed) => failed,
        };
        if parked_runtime_gone {
            // A pre-started runtime that died while parked (killed from outside) was handed the
            // function before its launcher had exited: a platform failure; the next one is fine.
            tracing::warn!("a pre-started runtime had died while parked; starting the environment again");
            return Self::start_once(spec).await.map_err(|failed| failed.failure);
        }
        let killed = failure.error_type == "Runtime.ExitError"
            && matches!(&failure.detail, InitErrorDetail::Platform(message) if message.ends_with("signal: killed"));
        let Some(zygote) = zygote.filter(|_| killed) else { return Err(failure) };
        // A zygote's death reaches its children first (parent-death signal), Kumo a moment later.
        let deadline = Instant::now() + Duration::from_millis(500);
        while zygote.is_alive() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if zygote.is_alive() {
            return Err(failure);
        }
        // The environment died with its zygote: a platform failure, not the function's. Once
        // more, the exec way until a new zygote is ready.
        tracing::warn!("an environment died with its zygote while starting; starting it again");
        Self::start_once(spec).await.map_err(|failed| failed.failure)
    }

    /// One attempt.
    async fn start_once(spec: &EnvironmentSpec) -> Result<Self, Failed> {
        let started = Instant::now();
        let failure = |message: String, init_duration: Duration| InitFailure {
            error_type: "Runtime.Unknown".to_string(),
            detail: InitErrorDetail::Platform(message),
            log_lines: Vec::new(),
            init_duration,
        };
        let cannot_open = |e: std::io::Error| failure(format!("cannot open the Runtime API: {e}"), started.elapsed());
        // With a network namespace of its own the environment's Runtime API is AWS's address,
        // served on a listener made with the namespace; otherwise a port on the host's loopback.
        let host_runtime_api = match spec.sandbox.isolates_network() {
            true => None,
            false => Some(RuntimeApiServer::start().await.map_err(|e| Failed::new(cannot_open(e)))?),
        };
        let mut environment = spec.environment.clone();
        let runtime_api_address = match &host_runtime_api {
            Some(server) => server.address().to_string(),
            None => RUNTIME_API_ADDRESS.to_string(),
        };
        environment.insert("AWS_LAMBDA_RUNTIME_API".to_string(), runtime_api_address);
        let sandbox = Arc::clone(&spec.sandbox);
        let _starting = sandbox.starting();
        let launched = sandbox
            .launch(&spec.plan, &environment, &spec.code_dir, spec.memory_mb, spec.ephemeral_mb)
            .map_err(|message| Failed::new(failure(message, started.elapsed())))?;
        let Launched { process, output, status, cgroup, zygote, network } = launched;
        let pid = process.pid();
        let killer = process.killer();
        // Kills the process if the namespace's listeners cannot be served (it could not start).
        let served = (|| match (host_runtime_api, network) {
            (Some(server), _) => Ok((server, None, None)),
            (None, Some(listeners)) => {
                let server = RuntimeApiServer::serve(listeners.runtime_api)?;
                let endpoint = match listeners.endpoint {
                    Some(listener) => Some(sandbox.serve_endpoint(listener, spec.caller.clone())?),
                    None => None,
                };
                Ok((server, endpoint, listeners.outbound))
            }
            (None, None) => Err(std::io::Error::other("the environment's process came without a network namespace")),
        })();
        let (runtime_api, endpoint, outbound) = match served {
            Ok(served) => served,
            Err(error) => {
                killer.kill();
                if let Some(cgroup) = cgroup {
                    sandbox.retire_cgroup(cgroup);
                }
                return Err(Failed::new(cannot_open(error)));
            }
        };
        let (exited, exit_task) = Self::watch_exit(process, status);
        let mut environment = Self {
            exit_task,
            pid,
            killer,
            runtime_api,
            _endpoint: endpoint,
            _outbound: outbound,
            output,
            exited,
            sandbox,
            cgroup,
            oom_kills_seen: 0,
            pending_init: None,
            usable: true,
            log_stream: spec.environment.get("AWS_LAMBDA_LOG_STREAM_NAME").cloned().unwrap_or_default(),
            last_used: Instant::now(),
            started,
        };
        match environment.wait_for_init().await {
            Ok(()) => {
                // Init ran with at least a full vCPU; invocations get the share MemorySize buys.
                if let Some(cgroup) = &environment.cgroup {
                    if let Err(error) = cgroup.set_cpu(CpuQuota::proportional(spec.memory_mb)) {
                        tracing::warn!(%error, "cannot set the environment's CPU quota");
                    }
                }
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
                let exit = environment.exited.borrow().clone();
                let parked_runtime_gone =
                    exit.and_then(|exit| exit.setup_failure).is_some_and(|failure| failure.step == PARKED_STEP);
                let failure = InitFailure { error_type, detail, log_lines, init_duration };
                Err(Failed { failure, zygote, parked_runtime_gone })
            }
        }
    }

    /// Moves the process into a task that publishes its exit status (and the launcher's setup
    /// failure, if any); Kumo keeps a [`Killer`] to kill it.
    fn watch_exit(
        process: EnvProcess,
        mut status_reader: Option<StatusReader>,
    ) -> (watch::Receiver<Option<Exit>>, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = watch::channel(None);
        let task = tokio::spawn(async move {
            let waited = match process {
                EnvProcess::Child(mut child) => Some(child.wait().await),
                EnvProcess::Forked(forked) => {
                    let _ = forked.ended().await;
                    None
                }
            };
            // Every writer of the status pipe has exited by now: the read cannot block.
            let report = status_reader.as_mut().map(StatusReader::report).unwrap_or_default();
            let status = match (waited, report.exit) {
                (Some(Ok(status)), _) => describe_exit(status),
                (Some(Err(error)), _) => format!("exit status unknown: {error}"),
                (None, Some((Some(code), _))) => format!("exit status {code}"),
                (None, Some((None, Some(signal)))) => format!("signal: {}", signal_name(signal)),
                // A zygote's child ends without a report only when it was killed itself.
                (None, _) => "signal: killed".to_string(),
            };
            let _ = sender.send(Some(Exit { status, setup_failure: report.failure }));
        });
        (receiver, task)
    }

    /// Whether the OOM killer struck since the last look.
    fn new_oom_kill(&mut self) -> bool {
        let Some(kills) = self.cgroup.as_ref().and_then(|cgroup| cgroup.oom_kills()) else { return false };
        let struck = kills > self.oom_kills_seen;
        self.oom_kills_seen = kills;
        struck
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
            Ok(Err(Some(Exit { setup_failure: Some(failure), .. }))) => Err(setup_error(&failure)),
            Ok(Err(Some(Exit { status, setup_failure: None }))) => {
                let error_type = if self.new_oom_kill() { "Runtime.OutOfMemory" } else { "Runtime.ExitError" };
                Err((error_type.to_string(), InitErrorDetail::Platform(format!("Runtime exited with error: {status}"))))
            }
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

    /// When it started (its Init began).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The runtime process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Runs one invocation with the function's timeout and answers its response whole: one the
    /// runtime streams is gathered up to the buffered limit, as AWS answers a plain Invoke of a
    /// streaming function.
    pub async fn invoke(&mut self, invocation: Invocation, timeout: Duration) -> InvokeResult {
        self.run(invocation, timeout, None).await
    }

    /// Runs one invocation whose streamed response goes to `sink` as the runtime sends it
    /// (InvokeWithResponseStream); its outcome's body is then empty. A response the runtime
    /// posts whole is answered in the outcome as by [`Self::invoke`]. Should `sink` close (the
    /// client went away), the rest of the stream is read and dropped and the invocation runs to
    /// its end, metered as any other.
    pub async fn invoke_streaming(
        &mut self,
        invocation: Invocation,
        timeout: Duration,
        sink: &mpsc::Sender<Bytes>,
    ) -> InvokeResult {
        self.run(invocation, timeout, Some(sink)).await
    }

    async fn run(
        &mut self,
        invocation: Invocation,
        timeout: Duration,
        sink: Option<&mpsc::Sender<Bytes>>,
    ) -> InvokeResult {
        let started = Instant::now();
        let answer = self.runtime_api.submit(invocation).await;
        let mut exited = self.exited.clone();
        // The timeout covers the whole response, a streamed one to its last chunk.
        let outcome = tokio::select! {
            outcome = receive(answer, sink) => outcome,
            _ = tokio::time::sleep(timeout) => InvokeOutcome::Timeout,
            status = wait_exit(&mut exited) => InvokeOutcome::Crashed(status),
        };
        let duration = started.elapsed();
        let outcome = match outcome {
            InvokeOutcome::Crashed(status) if self.new_oom_kill() => InvokeOutcome::OutOfMemory(status),
            other => other,
        };
        let max_memory_used_mb = match self.cgroup.as_ref().and_then(|cgroup| cgroup.memory_peak_bytes()) {
            Some(bytes) => bytes.div_ceil(1024 * 1024),
            None => process::peak_memory_mb(self.pid),
        };
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
        self.killer.kill();
    }
}

impl Drop for ExecutionEnvironment {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(cgroup) = self.cgroup.take() {
            self.sandbox.retire_cgroup(cgroup);
        }
        // Dropping the child (kill_on_drop) also kills it should the group kill have missed it.
        self.exit_task.abort();
    }
}

/// The outcome the runtime's answer makes; a streamed one is passed on to `sink` or gathered.
async fn receive(answer: oneshot::Receiver<RuntimeAnswer>, sink: Option<&mpsc::Sender<Bytes>>) -> InvokeOutcome {
    match answer.await {
        Ok(RuntimeAnswer::Response(body)) => InvokeOutcome::Success(body),
        Ok(RuntimeAnswer::Streamed(stream)) => match sink {
            Some(sink) => pass_on(stream, sink).await,
            None => gather(stream).await,
        },
        Ok(RuntimeAnswer::Error { error_type, body }) => InvokeOutcome::FunctionError { error_type, body },
        Ok(RuntimeAnswer::ResponseTooLarge) => {
            InvokeOutcome::ResponseTooLarge { limit: kumo_core::limits::SYNC_RESPONSE_MAX_BYTES }
        }
        Err(_) => InvokeOutcome::Crashed("environment shut down".to_string()),
    }
}

/// Hands each piece of a streamed response to `sink` as it comes; a full `sink` holds the
/// stream back (and with it the runtime's connection), so nothing piles up in between.
async fn pass_on(mut stream: StreamedResponse, sink: &mpsc::Sender<Bytes>) -> InvokeOutcome {
    let mut listening = true;
    loop {
        match stream.next().await {
            Some(StreamPiece::Chunk(data)) => {
                if listening && sink.send(data).await.is_err() {
                    listening = false;
                }
            }
            Some(end) => return stream_end(end, Bytes::new()),
            // The connection broke mid-stream: the process's exit or the timeout decides.
            None => return std::future::pending().await,
        }
    }
}

/// Gathers a streamed response for a caller that takes it whole, within the buffered limit.
async fn gather(mut stream: StreamedResponse) -> InvokeOutcome {
    let limit = kumo_core::limits::SYNC_RESPONSE_MAX_BYTES;
    let mut body = BytesMut::new();
    loop {
        match stream.next().await {
            Some(StreamPiece::Chunk(data)) => {
                if body.len() + data.len() > limit {
                    return InvokeOutcome::ResponseTooLarge { limit };
                }
                body.extend_from_slice(&data);
            }
            Some(end) => return stream_end(end, body.freeze()),
            None => return std::future::pending().await,
        }
    }
}

/// The outcome of a stream's last piece; `body` is what a successful one answers.
fn stream_end(end: StreamPiece, body: Bytes) -> InvokeOutcome {
    match end {
        // Callers hand over a stream's last piece only; a chunk cannot end one.
        StreamPiece::Finished | StreamPiece::Chunk(_) => InvokeOutcome::Success(body),
        StreamPiece::Failed { error_type, body } => InvokeOutcome::FunctionError { error_type, body },
        StreamPiece::TooLarge => {
            InvokeOutcome::ResponseTooLarge { limit: kumo_core::limits::STREAMED_RESPONSE_MAX_BYTES }
        }
    }
}

async fn wait_exit(exited: &mut watch::Receiver<Option<Exit>>) -> String {
    loop {
        if let Some(exit) = exited.borrow_and_update().clone() {
            return exit.status;
        }
        if exited.changed().await.is_err() {
            return "unknown".to_string();
        }
    }
}

/// The Init error for a launcher that could not start the runtime. A failed exec is what AWS
/// reports as an invalid entrypoint; anything else is Kumo's own failure.
fn setup_error(failure: &SetupFailure) -> (String, InitErrorDetail) {
    if failure.step == "exec" {
        return (
            "Runtime.InvalidEntrypoint".to_string(),
            InitErrorDetail::Platform(format!("fork/exec {}", failure.message)),
        );
    }
    tracing::error!(step = %failure.step, message = %failure.message, "the sandbox could not be set up");
    let message = format!("Kumo could not set up the sandbox ({}): {}", failure.step, failure.message);
    ("Runtime.Unknown".to_string(), InitErrorDetail::Platform(message))
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

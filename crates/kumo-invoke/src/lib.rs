//! The invoke engine: every invocation (sync, async, and later event sources) goes through
//! here, so warm pools, logging and metering happen in exactly one place.

mod async_queue;
mod concurrency;
mod destinations;
pub mod event_sources;
mod function;
pub mod metrics;
mod pool;
pub mod report;
pub mod store;
mod streaming;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use kumo_core::AwsError;
use kumo_sandbox::{
    EnvironmentSpec, InitErrorDetail, InitFailure, Invocation, InvokeOutcome, LogLine, RuntimeRegistry,
};
use store::{BatchWrite, BatchWriter, LogEvent, Store};

pub use async_queue::AsyncQueue;
pub use concurrency::{ConcurrencyLimits, ConcurrencyPermit};
pub use destinations::{delivery_action, invocation_record, AsyncConfig, BoxFuture, DestinationSender};
pub use function::{FunctionResolver, FunctionVersion};
pub use pool::{PoolCounts, WarmPool};
use report::Measurements;
pub use streaming::{StreamCompletion, StreamingInvocation};

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `AWS_ENDPOINT_URL` given to functions: Kumo's own address.
    pub endpoint_url: String,
    /// Credentials given to functions when no credential issuer is set.
    pub access_key_id: String,
    /// Secret of those credentials.
    pub secret_access_key: String,
    /// Idle environments older than this are stopped.
    pub idle_timeout: Duration,
    /// Delay before the first retry of a failed async event (AWS: about a minute); doubles after.
    pub async_retry_delay: Duration,
    /// Concurrent executions allowed per region (AWS's default account limit is 1,000).
    pub account_concurrency: u32,
    /// Payload bytes of waiting async events kept in memory; the rest wait in the store only.
    pub async_backlog_memory: usize,
    /// The account functions belong to (for ARNs the engine writes).
    pub account: String,
}

/// A sync invocation of a resolved function version.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    /// The version to run.
    pub function: FunctionVersion,
    /// ARN the function sees as invoked (qualified when the caller qualified it).
    pub invoked_function_arn: String,
    /// The event.
    pub payload: Bytes,
    /// Decoded client context JSON.
    pub client_context: Option<String>,
    /// Request id of the invocation.
    pub request_id: String,
}

/// The answer of a sync invocation.
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    /// The function's response or error JSON (empty when it was streamed to the caller).
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: Option<&'static str>,
    /// The error's type when the function failed (`Sandbox.Timedout`, the handler's own, …).
    pub error_type: Option<String>,
    /// The last 4 KB of the log, base64 (`X-Amz-Log-Result`).
    pub log_result: String,
    /// The version that ran.
    pub executed_version: String,
}

/// `(account, region, function name, version)`.
type PoolKey = (String, String, String, String);

/// The engine.
pub struct InvokeEngine {
    config: EngineConfig,
    runtimes: RuntimeRegistry,
    store: Store,
    writer: BatchWriter,
    pools: Mutex<HashMap<PoolKey, Arc<WarmPool>>>,
    async_queue: OnceLock<AsyncQueue>,
    destinations: OnceLock<Arc<dyn DestinationSender>>,
    event_sources: event_sources::EventSources,
    /// Mints execution-role credentials; without one, functions get the configured key.
    credential_issuer: OnceLock<Arc<dyn kumo_core::identity::CredentialIssuer>>,
    concurrency: Arc<ConcurrencyLimits>,
    /// Counters of async invocations per function.
    async_metrics: metrics::AsyncMetrics,
    /// Provisioned concurrency targets: version → (function, requested environments).
    provisioned: Mutex<HashMap<PoolKey, (FunctionVersion, u32)>>,
    provisioning_wake: tokio::sync::Notify,
    /// Why provisioning a version failed (status FAILED until the configuration changes).
    provisioning_failures: Mutex<HashMap<PoolKey, String>>,
}

impl InvokeEngine {
    /// Creates the engine and starts its idle reaper.
    pub fn new(config: EngineConfig, runtimes: RuntimeRegistry, store: Store) -> Arc<Self> {
        let writer = store.metadata.spawn_batch_writer();
        let engine = Arc::new_cyclic(|weak| Self {
            event_sources: event_sources::EventSources::new(weak.clone()),
            runtimes,
            store,
            writer,
            pools: Mutex::new(HashMap::new()),
            async_queue: OnceLock::new(),
            destinations: OnceLock::new(),
            credential_issuer: OnceLock::new(),
            concurrency: ConcurrencyLimits::new(config.account_concurrency),
            async_metrics: metrics::AsyncMetrics::default(),
            config,
            provisioned: Mutex::new(HashMap::new()),
            provisioning_wake: tokio::sync::Notify::new(),
            provisioning_failures: Mutex::new(HashMap::new()),
        });
        tokio::spawn(reap_idle(Arc::downgrade(&engine)));
        tokio::spawn(maintain_provisioned(Arc::downgrade(&engine)));
        engine
    }

    /// Starts the durable async queue, resuming events accepted before a restart.
    pub fn start_async_queue(
        self: &Arc<Self>,
        resolver: Arc<dyn FunctionResolver>,
    ) -> Result<(), kumo_store::StoreError> {
        let queue = AsyncQueue::start(Arc::clone(self), resolver)?;
        let _ = self.async_queue.set(queue);
        Ok(())
    }

    /// Sets where async invocations' outcomes are delivered (destinations, dead-letter queues).
    pub fn set_destinations(&self, sender: Arc<dyn DestinationSender>) {
        let _ = self.destinations.set(sender);
    }

    /// `Ok` while the engine can take and run invocations: its store keeps what it is given,
    /// the async queue hands events to workers, and every enabled mapping's poller runs;
    /// otherwise the first thing that does not. O(1) (health is polled).
    pub fn health(&self) -> Result<(), String> {
        self.store.metadata.health()?;
        if let Some(queue) = self.async_queue.get() {
            queue.health()?;
        }
        self.event_sources.health()
    }

    /// The event source mappings' pollers.
    pub fn event_sources(&self) -> &event_sources::EventSources {
        &self.event_sources
    }

    /// Gives environments credentials of their function's execution role (set once at start).
    pub fn set_credential_issuer(&self, issuer: Arc<dyn kumo_core::identity::CredentialIssuer>) {
        let _ = self.credential_issuer.set(issuer);
    }

    /// `(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)` of a new environment:
    /// a session of the execution role named after the function, as on AWS.
    fn function_credentials(&self, function: &FunctionVersion) -> (String, String, String) {
        match self.credential_issuer.get() {
            Some(issuer) => {
                let session = issuer.credentials_for(&function.role, &function.name);
                (session.access_key_id, session.secret_access_key, session.session_token)
            }
            None => (
                self.config.access_key_id.clone(),
                self.config.secret_access_key.clone(),
                "kumo-session-token".to_string(),
            ),
        }
    }

    /// The destination sender, once wired.
    pub fn destinations(&self) -> Option<&Arc<dyn DestinationSender>> {
        self.destinations.get()
    }

    /// The async queue (after [`Self::start_async_queue`]).
    pub fn async_queue(&self) -> Option<&AsyncQueue> {
        self.async_queue.get()
    }

    /// Counters of async invocations per function.
    pub fn async_metrics(&self) -> &metrics::AsyncMetrics {
        &self.async_metrics
    }

    /// Concurrency limits and reservations.
    pub fn concurrency(&self) -> &Arc<ConcurrencyLimits> {
        &self.concurrency
    }

    /// The runtimes this host can run.
    pub fn runtimes(&self) -> &RuntimeRegistry {
        &self.runtimes
    }

    /// The store behind the engine.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn pools(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, Arc<WarmPool>>> {
        // Map operations cannot panic half-way; recover the map if a panic ever poisons it.
        self.pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pool_for(&self, function: &FunctionVersion) -> Arc<WarmPool> {
        let key = pool_key(function);
        let mut pools = self.pools();
        match pools.get(&key) {
            Some(pool) if pool.function.revision == function.revision => Arc::clone(pool),
            _ => {
                let pool = Arc::new(WarmPool::new(function.clone()));
                if let Some(retired) = pools.insert(key, Arc::clone(&pool)) {
                    retired.clear();
                }
                pool
            }
        }
    }

    /// Stops every environment of a function (after delete or update).
    pub fn retire_function(&self, account: &str, region: &str, name: &str) {
        self.pools().retain(|(pool_account, pool_region, pool_name, _), pool| {
            let keep = !(pool_account == account && pool_region == region && pool_name == name);
            if !keep {
                pool.clear();
            }
            keep
        });
    }

    /// Stops the environments of one version (after it changed or was deleted).
    pub fn retire_version(&self, account: &str, region: &str, name: &str, version: &str) {
        let key = (account.to_string(), region.to_string(), name.to_string(), version.to_string());
        if let Some(pool) = self.pools().remove(&key) {
            pool.clear();
        }
    }

    /// Keeps `requested` environments of a published version initialised (0 removes the target).
    pub fn set_provisioned(&self, function: FunctionVersion, requested: u32) {
        let key = pool_key(&function);
        {
            let mut targets = self.provisioned.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if requested == 0 {
                targets.remove(&key);
            } else {
                targets.insert(key.clone(), (function.clone(), requested));
            }
        }
        self.provisioning_failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key);
        if let Some(pool) = self.pools().get(&key) {
            pool.trim_provisioned(requested as usize);
        }
        self.provisioning_wake.notify_one();
    }

    /// Provisioned environments of a version that are initialised and alive.
    pub fn provisioned_allocated(&self, account: &str, region: &str, name: &str, version: &str) -> u32 {
        let key = (account.to_string(), region.to_string(), name.to_string(), version.to_string());
        self.pools().get(&key).map_or(0, |pool| pool.provisioned_alive() as u32)
    }

    /// Why provisioning a version failed, if it did.
    pub fn provisioned_failure(&self, account: &str, region: &str, name: &str, version: &str) -> Option<String> {
        let key = (account.to_string(), region.to_string(), name.to_string(), version.to_string());
        self.provisioning_failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&key).cloned()
    }

    /// Starts the provisioned environments each target is missing.
    async fn provision_missing(&self) {
        let targets: Vec<(FunctionVersion, u32)> =
            self.provisioned.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).values().cloned().collect();
        for (function, requested) in targets {
            if self
                .provisioned_failure(&function.account, &function.region, &function.name, &function.version)
                .is_some()
            {
                continue;
            }
            let pool = self.pool_for(&function);
            let missing = (requested as usize).saturating_sub(pool.provisioned_alive());
            if missing == 0 {
                continue;
            }
            let Ok(mut spec) = self.environment_spec(&function) else {
                tracing::warn!(function = %function.name, version = %function.version, "provisioned concurrency cannot start this runtime");
                continue;
            };
            spec.environment
                .insert("AWS_LAMBDA_INITIALIZATION_TYPE".to_string(), "provisioned-concurrency".to_string());
            let mut starting = tokio::task::JoinSet::new();
            for _ in 0..missing.min(PROVISIONING_BATCH) {
                let spec = spec.clone();
                starting.spawn(async move { kumo_sandbox::ExecutionEnvironment::start(&spec).await });
            }
            while let Some(started) = starting.join_next().await {
                match started {
                    Ok(Ok(environment)) => pool.add_provisioned(environment),
                    Ok(Err(failure)) => {
                        tracing::warn!(function = %function.name, version = %function.version, error_type = %failure.error_type, "a provisioned environment failed Init");
                        let key = pool_key(&function);
                        let reason = format!("FUNCTION_ERROR_INIT_FAILURE: {}", failure.error_type);
                        self.provisioning_failures
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .insert(key, reason);
                    }
                    Err(error) => tracing::error!(%error, "a provisioning task failed"),
                }
            }
        }
    }

    /// Stops every environment (graceful shutdown).
    pub fn shutdown(&self) {
        for (_, pool) in self.pools().drain() {
            pool.clear();
        }
    }

    /// Idle/busy counts per function version, for the status endpoint.
    pub fn pool_counts(&self) -> BTreeMap<String, PoolCounts> {
        self.pools()
            .iter()
            .map(|((account, region, name, version), pool)| {
                // The configured account's pools keep the short key scripts already read.
                let key = if *account == self.config.account {
                    format!("{region}/{name}:{version}")
                } else {
                    format!("{account}/{region}/{name}:{version}")
                };
                (key, pool.counts())
            })
            .collect()
    }

    /// Checks that a runtime can be started on this host.
    pub fn check_runtime(&self, runtime: &str, code_dir: &std::path::Path) -> Result<(), kumo_sandbox::RuntimeError> {
        self.runtimes.plan(runtime, code_dir, None).map(|_| ())
    }

    /// What starting an environment needs; a runtime that cannot start fails Init as on AWS.
    fn environment_spec(&self, function: &FunctionVersion) -> Result<EnvironmentSpec, InitFailure> {
        let layers_dir = function.layers_dir.as_deref();
        let plan = self.runtimes.plan(&function.runtime, &function.code_dir, layers_dir).map_err(|error| {
            let (error_type, message) = match error {
                kumo_sandbox::RuntimeError::MissingBootstrap => (
                    "Runtime.InvalidEntrypoint",
                    "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]".to_string(),
                ),
                other => {
                    // A runtime the API accepts but this host cannot run (java*, dotnet*, ruby*, or
                    // a missing interpreter) fails Init as Lambda does when its entrypoint cannot
                    // be executed; the log names the real reason.
                    tracing::warn!(function = %function.name, runtime = %function.runtime, error = %other, "runtime cannot start");
                    ("Runtime.InvalidEntrypoint", "fork/exec /var/runtime/bootstrap: no such file or directory".to_string())
                }
            };
            InitFailure {
                error_type: error_type.to_string(),
                detail: InitErrorDetail::Platform(message),
                log_lines: Vec::new(),
                init_duration: Duration::ZERO,
            }
        })?;
        let stream = format!(
            "{}/[{}]{}",
            kumo_core::time::log_stream_date(kumo_core::time::now_millis()),
            function.version,
            uuid::Uuid::new_v4().simple()
        );
        // Paths as the function sees them: `/var/task` inside the sandbox.
        let task_root = self.runtimes.sandbox().task_root(&function.code_dir).display().to_string();
        let layers_root = self.runtimes.sandbox().layers_root(layers_dir).display().to_string();
        let mut environment: BTreeMap<String, String> = function.variables.clone();
        let (access_key_id, secret_access_key, session_token) = self.function_credentials(function);
        let reserved = [
            ("_HANDLER", function.handler.clone()),
            ("AWS_REGION", function.region.clone()),
            ("AWS_DEFAULT_REGION", function.region.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", function.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", function.version.clone()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", function.log_group()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream.clone()),
            ("AWS_ACCESS_KEY_ID", access_key_id),
            ("AWS_SECRET_ACCESS_KEY", secret_access_key),
            ("AWS_SESSION_TOKEN", session_token),
            // Inside a network namespace of its own the function reaches Kumo through the listener
            // Kumo serves there; otherwise at Kumo's own address.
            (
                "AWS_ENDPOINT_URL",
                self.runtimes.sandbox().function_endpoint_url().unwrap_or(self.config.endpoint_url.clone()),
            ),
            ("LAMBDA_TASK_ROOT", task_root.clone()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_string()),
            ("TZ", ":UTC".to_string()),
            ("LANG", "en_US.UTF-8".to_string()),
            ("PATH", format!("/usr/local/bin:/usr/bin/:/bin:{layers_root}/bin")),
            ("LD_LIBRARY_PATH", format!("/lib64:/usr/lib64:{task_root}:{task_root}/lib:{layers_root}/lib")),
        ];
        // AWS's defaults of the unreserved variables give way to the function's own values.
        let own = |key: &str| UNRESERVED_VARIABLES.contains(&key) && function.variables.contains_key(key);
        environment
            .extend(reserved.into_iter().filter(|(key, _)| !own(key)).map(|(key, value)| (key.to_string(), value)));
        if let Some(execution_env) = &plan.execution_env {
            environment.insert("AWS_EXECUTION_ENV".to_string(), execution_env.clone());
        }
        for (key, value) in &plan.environment {
            match function.variables.get(key) {
                // Kumo's packages (boto3) stay importable after the function's own paths, as
                // `/var/runtime` does on AWS whatever PYTHONPATH says.
                Some(own_value) if key == "PYTHONPATH" => {
                    environment.insert(key.clone(), format!("{own_value}:{value}"));
                }
                Some(_) if own(key) => {}
                _ => {
                    environment.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(EnvironmentSpec {
            plan,
            code_dir: function.code_dir.clone(),
            environment,
            memory_mb: function.memory_mb,
            ephemeral_mb: function.ephemeral_mb,
            sandbox: std::sync::Arc::clone(self.runtimes.sandbox()),
            caller: kumo_core::CallerEnvironment::new(
                &function.region,
                &function.account,
                &function.name,
                &function.version,
                &stream,
            ),
        })
    }

    /// Runs one invocation synchronously: picks or starts an environment, runs, logs, meters.
    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, AwsError> {
        let function = &request.function;
        let _permit = self.concurrency.acquire(&function.account, &function.region, &function.name)?;
        Ok(self.run(&request, None).await)
    }

    /// Runs one invocation under a permit already held: its response goes to `sink` as the
    /// runtime streams it, or whole into the answer.
    async fn run(&self, request: &InvokeRequest, sink: Option<&tokio::sync::mpsc::Sender<Bytes>>) -> InvokeResponse {
        let function = &request.function;
        let pool = self.pool_for(function);
        let started_ms = kumo_core::time::now_millis();
        let mut leased = match pool.take_idle() {
            Some(leased) => leased,
            None => {
                let spec = match self.environment_spec(function) {
                    Ok(spec) => spec,
                    Err(failure) => return self.init_failed(request, started_ms, failure),
                };
                match pool.start(&spec).await {
                    Ok(leased) => leased,
                    Err(failure) => return self.init_failed(request, started_ms, failure),
                }
            }
        };
        let timeout = Duration::from_secs(u64::from(function.timeout_s));
        let invocation = Invocation {
            request_id: request.request_id.clone(),
            payload: request.payload.clone(),
            deadline_ms: kumo_core::time::now_millis() + timeout.as_millis() as u64,
            invoked_function_arn: request.invoked_function_arn.clone(),
            trace_id: trace_id(),
            client_context: request.client_context.clone(),
            cognito_identity: None,
        };
        let mut result = match sink {
            Some(sink) => leased.environment.invoke_streaming(invocation, timeout, sink).await,
            None => leased.environment.invoke(invocation, timeout).await,
        };
        if leased.provisioned {
            // Provisioned environments finished Init before traffic arrived: nothing to report.
            result.init_duration = None;
        }
        let log_stream = leased.environment.log_stream().to_string();
        pool.release(leased);
        let mut output = result.log_lines;
        let out_of_memory = matches!(result.outcome, InvokeOutcome::OutOfMemory(_));
        let (payload, error_type, status) = match result.outcome {
            InvokeOutcome::Success(body) => (body, None, None),
            InvokeOutcome::FunctionError { error_type, body } => {
                // A handler's own error is a normal end for the platform: no Status in REPORT.
                let error_type = error_type.or_else(|| posted_error_type(&body)).unwrap_or_else(|| "Unhandled".into());
                (body, Some(error_type), None)
            }
            InvokeOutcome::Timeout => {
                let message = format!("Task timed out after {}.00 seconds", function.timeout_s);
                output.push(platform_line(format!(
                    "{} {} {message}",
                    kumo_core::time::rfc3339(kumo_core::time::now_millis()),
                    request.request_id
                )));
                let body =
                    error_json("Sandbox.Timedout", &format!("RequestId: {} Error: {message}", request.request_id));
                (body, Some("Sandbox.Timedout".to_string()), Some(("timeout", "Sandbox.Timedout".to_string())))
            }
            InvokeOutcome::Crashed(status) | InvokeOutcome::OutOfMemory(status) => {
                let error_type = if out_of_memory { "Runtime.OutOfMemory" } else { "Runtime.ExitError" };
                let message = format!("RequestId: {} Error: Runtime exited with error: {status}", request.request_id);
                output.push(platform_line(message.clone()));
                output.push(platform_line(error_type.to_string()));
                let status = Some(("error", error_type.to_string()));
                (error_json(error_type, &message), Some(error_type.to_string()), status)
            }
            InvokeOutcome::ResponseTooLarge { limit } => {
                let message = format!("Response payload size exceeded maximum allowed payload size ({limit} bytes).");
                let body = error_json("Function.ResponseSizeTooLarge", &message);
                let error_type = "Function.ResponseSizeTooLarge".to_string();
                (body, Some(error_type.clone()), Some(("error", error_type)))
            }
        };
        let measurements = Measurements {
            request_id: request.request_id.clone(),
            started_ms,
            duration: result.duration,
            init_duration: result.init_duration,
            max_memory_used_mb: result.max_memory_used_mb,
            status,
        };
        let lines = report::invocation_log(function, &measurements, result.init_lines, output);
        let log_result = self.record(function, &log_stream, &measurements, &lines);
        let function_error = error_type.is_some().then_some("Unhandled");
        InvokeResponse { payload, function_error, error_type, log_result, executed_version: function.version.clone() }
    }

    fn init_failed(&self, request: &InvokeRequest, started_ms: u64, failure: InitFailure) -> InvokeResponse {
        let function = &request.function;
        let mut init_lines = failure.log_lines;
        init_lines.push(platform_line(format!(
            "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {}",
            failure.init_duration.as_secs_f64() * 1000.0,
            failure.error_type
        )));
        let measurements = Measurements {
            request_id: request.request_id.clone(),
            started_ms,
            duration: Duration::ZERO,
            init_duration: Some(failure.init_duration),
            max_memory_used_mb: 0,
            status: Some(("error", failure.error_type.clone())),
        };
        let lines = report::invocation_log(function, &measurements, init_lines, Vec::new());
        let stream = format!("{}/[{}]init-failed", kumo_core::time::log_stream_date(started_ms), function.version);
        let log_result = self.record(function, &stream, &measurements, &lines);
        let payload = match failure.detail {
            InitErrorDetail::Posted(body) => body,
            InitErrorDetail::Platform(message) => {
                error_json(&failure.error_type, &format!("RequestId: {} Error: {message}", request.request_id))
            }
        };
        InvokeResponse {
            payload,
            function_error: Some("Unhandled"),
            error_type: Some(failure.error_type),
            log_result,
            executed_version: function.version.clone(),
        }
    }

    /// Stores the log lines and the metering record; returns the base64 tail.
    fn record(
        &self,
        function: &FunctionVersion,
        stream: &str,
        measurements: &Measurements,
        lines: &[LogLine],
    ) -> String {
        let log_group = function.log_group();
        for line in lines {
            self.writer.send(BatchWrite::Log(LogEvent {
                account: function.account.clone(),
                region: function.region.clone(),
                log_group: log_group.clone(),
                log_stream: stream.to_string(),
                timestamp_ms: line.timestamp_ms,
                message: line.text.clone(),
            }));
        }
        self.writer.send(BatchWrite::Metering(report::metering(function, measurements)));
        base64::engine::general_purpose::STANDARD.encode(report::tail(lines))
    }

    /// Waits until every log line and metering record sent so far is committed.
    pub async fn flush(&self) {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.writer.send(BatchWrite::Flush(Box::new(move || {
            let _ = sender.send(());
        })));
        let _ = tokio::time::timeout(Duration::from_secs(10), receiver).await;
    }
}

fn platform_line(text: String) -> LogLine {
    LogLine { timestamp_ms: kumo_core::time::now_millis(), text }
}

/// The `errorType` of an error JSON a runtime posted without the error type header.
fn posted_error_type(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("errorType")?.as_str().map(str::to_string)
}

fn error_json(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

/// An X-Ray style trace id: `Root=1-<8 hex time>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let seconds = kumo_core::time::now_millis() / 1000;
    format!("Root=1-{seconds:08x}-{};Parent={};Sampled=0", &id[..24], &id[16..32])
}

/// Most provisioned environments started at once per version.
const PROVISIONING_BATCH: usize = 16;

/// Variables the runtime sets but a function may set instead ("unreserved" in AWS's list).
const UNRESERVED_VARIABLES: [&str; 5] = ["LANG", "PATH", "LD_LIBRARY_PATH", "NODE_PATH", "PYTHONPATH"];

async fn maintain_provisioned(engine: std::sync::Weak<InvokeEngine>) {
    loop {
        let Some(strong) = engine.upgrade() else { return };
        strong.provision_missing().await;
        let wake = async { strong.provisioning_wake.notified().await };
        // Also wake periodically to replace provisioned environments that died.
        let _ = tokio::time::timeout(Duration::from_millis(500), wake).await;
    }
}

async fn reap_idle(engine: std::sync::Weak<InvokeEngine>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    let mut last_reap = Instant::now();
    loop {
        interval.tick().await;
        let Some(engine) = engine.upgrade() else { return };
        let idle_timeout = engine.config.idle_timeout;
        if last_reap.elapsed() < idle_timeout.min(Duration::from_secs(5)) {
            continue;
        }
        last_reap = Instant::now();
        let pools: Vec<Arc<WarmPool>> = engine.pools().values().cloned().collect();
        let reaped: usize = pools.iter().map(|pool| pool.reap(idle_timeout)).sum();
        if reaped > 0 {
            tracing::debug!(reaped, "stopped idle execution environments");
        }
    }
}
/// The key of a version's warm pool and provisioned target.
fn pool_key(function: &FunctionVersion) -> PoolKey {
    (function.account.clone(), function.region.clone(), function.name.clone(), function.version.clone())
}

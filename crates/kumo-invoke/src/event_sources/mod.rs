//! Event source mappings: pollers that drain a queue into a function, as Lambda's SQS
//! integration does. A poller long-polls the queue, gathers a batch (up to `BatchSize` or until
//! `MaximumBatchingWindowInSeconds`), drops messages its filters reject, invokes the function
//! synchronously with AWS's SQS event, then deletes what succeeded; on a function error the batch
//! stays and the queue's visibility timeout redelivers it (so a RedrivePolicy catches poison
//! messages). Pollers scale out with the backlog up to `ScalingConfig.MaximumConcurrency`.
//!
//! A poller acts as the function's execution role, as Lambda's does on AWS: before each receive
//! it asks the queue's service whether the role (of the version the mapping runs, read afresh
//! each time) may `sqs:ReceiveMessage`, and before each delete `sqs:DeleteMessage`. While it may
//! not, messages stay in the queue (or come back after their visibility timeout) and the mapping
//! reports AWS's `PROBLEM: <the AccessDenied message>` as its `LastProcessingResult`; it resumes
//! by itself once the permission is back.
//!
//! Queues are reached through [`QueueSource`], implemented by the SQS service (and by an
//! in-memory double in tests).

mod filters;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use filters::{matches_filters, validate_pattern, FilterError};

use kumo_core::policy::ExecutionRole;

use crate::{BoxFuture, FunctionResolver, InvokeEngine, InvokeRequest};

/// A message as a poller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceMessage {
    /// `messageId`.
    pub message_id: String,
    /// `receiptHandle`, for deleting it.
    pub receipt_handle: String,
    /// `body`.
    pub body: String,
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, …).
    pub attributes: BTreeMap<String, String>,
    /// Message attributes as the SQS event renders them (`stringValue`, `dataType`, …).
    pub message_attributes: serde_json::Value,
    /// `md5OfBody`.
    pub md5_of_body: String,
}

/// A queue service pollers can drain.
pub trait QueueSource: Send + Sync + 'static {
    /// Whether the queue named by `arn` exists.
    fn exists<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, bool>;
    /// Receives up to `max` messages, waiting up to `wait` for the first one.
    fn receive<'a>(
        &'a self,
        arn: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SourceMessage>, String>>;
    /// Deletes received messages by receipt handle.
    fn delete<'a>(&'a self, arn: &'a str, receipt_handles: Vec<String>) -> BoxFuture<'a, Result<(), String>>;
    /// Whether `caller` (the function's execution role, which the poller acts as) may perform
    /// `action` (`sqs:ReceiveMessage`, …) on the queue, as the queue's service decides it;
    /// `Err` says why not.
    fn authorize(&self, arn: &str, caller: &kumo_core::policy::Caller<'_>, action: &str) -> Result<(), String>;
}

/// What a running mapping needs (the Lambda service owns the full configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingSpec {
    /// The mapping's UUID.
    pub uuid: String,
    /// Account of the function and the mapping.
    pub account: String,
    /// Region of the function and the queue.
    pub region: String,
    /// Queue ARN.
    pub event_source_arn: String,
    /// Function name.
    pub function_name: String,
    /// Version or alias, when the mapping names one.
    pub qualifier: Option<String>,
    /// Messages per invocation.
    pub batch_size: usize,
    /// How long to gather a batch.
    pub batching_window: Duration,
    /// `FilterCriteria.Filters[].Pattern`, parsed.
    pub filters: Vec<serde_json::Value>,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency` (default: as many pollers as the backlog needs, up to 1,000).
    pub maximum_concurrency: usize,
    /// `State == Enabled`.
    pub enabled: bool,
}

/// The outcome of the last batch, as `LastProcessingResult` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessingResult {
    /// Nothing was processed yet.
    NoRecordsProcessed,
    /// The last batch was processed.
    Ok,
    /// The poller could not go on: why (the execution role may not read or delete the queue).
    Problem(String),
}

impl ProcessingResult {
    /// As `LastProcessingResult` reads: `No records processed`, `OK` or `PROBLEM: <why>`.
    pub fn render(&self) -> String {
        match self {
            ProcessingResult::NoRecordsProcessed => "No records processed".to_string(),
            ProcessingResult::Ok => "OK".to_string(),
            ProcessingResult::Problem(why) => format!("PROBLEM: {why}"),
        }
    }
}

struct Running {
    spec: MappingSpec,
    stop: watch::Sender<bool>,
}

/// Runs the pollers of every enabled mapping.
pub struct EventSources {
    engine: Weak<InvokeEngine>,
    source: Mutex<Option<Arc<dyn QueueSource>>>,
    resolver: Mutex<Option<Arc<dyn FunctionResolver>>>,
    running: Mutex<HashMap<String, Running>>,
    processed: Mutex<HashMap<String, ProcessingResult>>,
    /// Mappings whose poller ended without being stopped (it panicked): they deliver nothing.
    dead: Arc<DeadPollers>,
}

/// Pollers that ended while their mapping still wanted them, by mapping id.
#[derive(Default)]
struct DeadPollers {
    /// How many; health reads only this unless it is non-zero.
    count: std::sync::atomic::AtomicUsize,
    by_uuid: Mutex<HashMap<String, &'static str>>,
}

impl DeadPollers {
    fn mark(&self, uuid: &str, why: &'static str) {
        let mut by_uuid = EventSources::lock(&self.by_uuid);
        by_uuid.insert(uuid.to_string(), why);
        self.count.store(by_uuid.len(), std::sync::atomic::Ordering::Release);
    }

    fn clear(&self, uuid: &str) {
        let mut by_uuid = EventSources::lock(&self.by_uuid);
        if by_uuid.remove(uuid).is_some() {
            self.count.store(by_uuid.len(), std::sync::atomic::Ordering::Release);
        }
    }
}

/// Marks its mapping's poller dead if dropped while the mapping was not stopped: the poller's
/// task panicked (or its runtime went away).
struct PollerLiveness {
    uuid: String,
    stopped: watch::Receiver<bool>,
    dead: Arc<DeadPollers>,
}

impl Drop for PollerLiveness {
    fn drop(&mut self) {
        if !*self.stopped.borrow() {
            let why = if std::thread::panicking() { "panicked" } else { "stopped" };
            self.dead.mark(&self.uuid, why);
        }
    }
}

/// Most pollers a mapping runs when `MaximumConcurrency` is not set (AWS's default ceiling).
pub const DEFAULT_MAXIMUM_CONCURRENCY: usize = 1000;
/// Long-poll wait of each receive, so a stopped poller notices within this time.
const RECEIVE_WAIT: Duration = Duration::from_secs(2);
/// Pause after a failed receive or invoke, so a broken queue or function is not hammered.
const ERROR_PAUSE: Duration = Duration::from_millis(500);
/// Pause while the execution role may not read the queue, before asking again.
const PERMISSION_PAUSE: Duration = Duration::from_secs(1);

impl EventSources {
    /// The manager for `engine`.
    pub fn new(engine: Weak<InvokeEngine>) -> Self {
        Self {
            engine,
            source: Mutex::new(None),
            resolver: Mutex::new(None),
            running: Mutex::new(HashMap::new()),
            processed: Mutex::new(HashMap::new()),
            dead: Arc::default(),
        }
    }

    /// `Ok` while every enabled mapping's poller runs; otherwise which one ended. O(1) while
    /// all run (health is polled).
    pub fn health(&self) -> Result<(), String> {
        if self.dead.count.load(std::sync::atomic::Ordering::Acquire) == 0 {
            return Ok(());
        }
        let dead = Self::lock(&self.dead.by_uuid);
        match dead.iter().min() {
            Some((uuid, why)) => Err(format!("the event source poller of mapping {uuid} {why}")),
            None => Ok(()),
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        // Map updates cannot panic half-way; recover the data if a panic ever poisons a lock.
        mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connects the queue service and the function resolver; mappings applied before wait.
    pub fn connect(&self, source: Arc<dyn QueueSource>, resolver: Arc<dyn FunctionResolver>) {
        *Self::lock(&self.source) = Some(source);
        *Self::lock(&self.resolver) = Some(resolver);
        let specs: Vec<MappingSpec> = Self::lock(&self.running).values().map(|r| r.spec.clone()).collect();
        for spec in specs {
            self.apply(spec);
        }
    }

    /// The queue service, once connected.
    pub fn source(&self) -> Option<Arc<dyn QueueSource>> {
        Self::lock(&self.source).clone()
    }

    /// Starts, restarts or stops a mapping's pollers to match `spec`.
    pub fn apply(&self, spec: MappingSpec) {
        self.remove(&spec.uuid);
        self.dead.clear(&spec.uuid);
        let (stop, stopped) = watch::channel(false);
        let source = Self::lock(&self.source).clone();
        let resolver = Self::lock(&self.resolver).clone();
        if let (true, Some(source), Some(resolver), Some(engine)) =
            (spec.enabled, source, resolver, self.engine.upgrade())
        {
            let poller = Poller { spec: spec.clone(), source, resolver, engine: Arc::downgrade(&engine) };
            let liveness =
                PollerLiveness { uuid: spec.uuid.clone(), stopped: stopped.clone(), dead: Arc::clone(&self.dead) };
            tokio::spawn(async move {
                let _liveness = liveness;
                poller.run(stopped).await;
            });
        }
        Self::lock(&self.running).insert(spec.uuid.clone(), Running { spec, stop });
    }

    /// Stops a mapping's pollers.
    pub fn remove(&self, uuid: &str) {
        if let Some(running) = Self::lock(&self.running).remove(uuid) {
            let _ = running.stop.send(true);
        }
        self.dead.clear(uuid);
    }

    /// `LastProcessingResult` of a mapping.
    pub fn last_result(&self, uuid: &str) -> ProcessingResult {
        Self::lock(&self.processed).get(uuid).cloned().unwrap_or(ProcessingResult::NoRecordsProcessed)
    }

    fn record_processed(&self, uuid: &str) {
        Self::lock(&self.processed).insert(uuid.to_string(), ProcessingResult::Ok);
    }

    /// Records why a mapping's poller cannot go on; true when that is news (it was not the last
    /// result already), so it is logged once, not at every retry.
    fn record_problem(&self, uuid: &str, why: String) -> bool {
        let problem = ProcessingResult::Problem(why);
        Self::lock(&self.processed).insert(uuid.to_string(), problem.clone()).as_ref() != Some(&problem)
    }
}

/// One mapping's polling loop and its scaled-out workers.
#[derive(Clone)]
struct Poller {
    spec: MappingSpec,
    source: Arc<dyn QueueSource>,
    resolver: Arc<dyn FunctionResolver>,
    engine: Weak<InvokeEngine>,
}

impl Poller {
    /// Runs the first worker; each worker that fills a whole batch starts one more, up to the
    /// mapping's maximum concurrency, and extra workers stop when the queue runs dry.
    async fn run(self, stopped: watch::Receiver<bool>) {
        let workers = Arc::new(std::sync::atomic::AtomicUsize::new(1));
        self.worker(stopped, Arc::clone(&workers), true).await;
    }

    fn worker(
        self,
        mut stopped: watch::Receiver<bool>,
        workers: Arc<std::sync::atomic::AtomicUsize>,
        first: bool,
    ) -> BoxFuture<'static, ()> {
        use std::sync::atomic::Ordering;
        Box::pin(async move {
            let maximum = self.spec.maximum_concurrency.max(1);
            loop {
                if *stopped.borrow() {
                    break;
                }
                let role = self.acting_role().await;
                if !self.permitted(role.as_ref(), "sqs:ReceiveMessage") {
                    // Nothing is received: the messages stay in the queue until the role may.
                    if !first {
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(PERMISSION_PAUSE) => continue,
                        _ = stopped.changed() => break,
                    }
                }
                let batch = tokio::select! {
                    batch = self.gather() => batch,
                    _ = stopped.changed() => break,
                };
                let messages = match batch {
                    Ok(messages) => messages,
                    Err(error) => {
                        tracing::warn!(uuid = %self.spec.uuid, %error, "receiving from the event source failed");
                        tokio::time::sleep(ERROR_PAUSE).await;
                        continue;
                    }
                };
                if messages.is_empty() {
                    if !first {
                        break;
                    }
                    continue;
                }
                let full = messages.len() >= self.spec.batch_size;
                if full && workers.load(Ordering::Relaxed) < maximum {
                    workers.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(self.clone().worker(stopped.clone(), Arc::clone(&workers), false));
                }
                if !self.process(messages, role.as_ref()).await {
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
            workers.fetch_sub(1, Ordering::Relaxed);
        })
    }

    /// Receives up to a batch, waiting at most the batching window once something arrived.
    async fn gather(&self) -> Result<Vec<SourceMessage>, String> {
        let arn = &self.spec.event_source_arn;
        let mut messages = self.source.receive(arn, self.spec.batch_size.min(10), RECEIVE_WAIT).await?;
        if messages.is_empty() || self.spec.batch_size <= messages.len() {
            return Ok(messages);
        }
        let deadline = tokio::time::Instant::now() + self.spec.batching_window;
        while messages.len() < self.spec.batch_size {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let want = (self.spec.batch_size - messages.len()).min(10);
            let more = self.source.receive(arn, want, left.min(RECEIVE_WAIT)).await?;
            messages.extend(more);
        }
        Ok(messages)
    }

    /// The execution role the poller acts as now: the mapped version's, read afresh so a role
    /// changed by UpdateFunctionConfiguration applies from the next receive. `None` when the
    /// poller is not held to a role.
    async fn acting_role(&self) -> Option<ExecutionRole> {
        let resolver = Arc::clone(&self.resolver);
        let (account, region) = (self.spec.account.clone(), self.spec.region.clone());
        let (name, qualifier) = (self.spec.function_name.clone(), self.spec.qualifier.clone());
        let role = tokio::task::spawn_blocking(move || {
            resolver.execution_role(&account, &region, &name, qualifier.as_deref())
        })
        .await
        .ok()
        .flatten()?;
        Some(ExecutionRole::new(&role, &self.spec.function_name))
    }

    /// Whether `role` may perform `action` on the queue, as the queue's service decides; if not,
    /// the mapping reports why as its `LastProcessingResult`.
    fn permitted(&self, role: Option<&ExecutionRole>, action: &str) -> bool {
        let Some(role) = role else { return true };
        let Err(why) = self.source.authorize(&self.spec.event_source_arn, &role.caller(), action) else {
            return true;
        };
        let news =
            self.engine.upgrade().is_some_and(|engine| engine.event_sources().record_problem(&self.spec.uuid, why));
        if news {
            tracing::warn!(uuid = %self.spec.uuid, role = %role.role_arn, action, "the execution role may not use the event source; its messages stay in the queue");
        }
        false
    }

    /// Filters, invokes and deletes one batch as `role`; false when the function failed or the
    /// role may not delete (the batch then comes back after its visibility timeout).
    async fn process(&self, messages: Vec<SourceMessage>, role: Option<&ExecutionRole>) -> bool {
        let arn = self.spec.event_source_arn.clone();
        let (kept, dropped): (Vec<SourceMessage>, Vec<SourceMessage>) = messages
            .into_iter()
            .partition(|message| matches_filters(&self.spec.filters, &sqs_record(&self.spec, message)));
        if !dropped.is_empty() && !self.permitted(role, "sqs:DeleteMessage") {
            return false;
        }
        if !dropped.is_empty() {
            // AWS deletes SQS messages that no filter matches.
            let handles = dropped.iter().map(|m| m.receipt_handle.clone()).collect();
            if let Err(error) = self.source.delete(&arn, handles).await {
                tracing::warn!(uuid = %self.spec.uuid, %error, "deleting filtered-out messages failed");
            }
        }
        if kept.is_empty() {
            return true;
        }
        let Some(engine) = self.engine.upgrade() else { return false };
        let resolver = Arc::clone(&self.resolver);
        let spec = self.spec.clone();
        let resolve =
            move || resolver.resolve(&spec.account, &spec.region, &spec.function_name, spec.qualifier.as_deref());
        let function = match tokio::task::spawn_blocking(resolve).await {
            Ok(Ok(function)) => function,
            other => {
                tracing::warn!(uuid = %self.spec.uuid, ?other, "the mapped function cannot be resolved");
                return false;
            }
        };
        let records: Vec<serde_json::Value> = kept.iter().map(|message| sqs_record(&self.spec, message)).collect();
        let payload = serde_json::json!({ "Records": records }).to_string();
        let invoked_function_arn = match &self.spec.qualifier {
            Some(qualifier) => {
                kumo_core::arn::qualified_function_arn(&function.region, &function.account, &function.name, qualifier)
            }
            None => function.function_arn(),
        };
        let request = InvokeRequest {
            function,
            invoked_function_arn,
            payload: payload.into(),
            client_context: None,
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let response = match engine.invoke(request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(uuid = %self.spec.uuid, %error, "invoking the mapped function failed; the batch will be redelivered");
                return false;
            }
        };
        engine.event_sources().record_processed(&self.spec.uuid);
        if response.function_error.is_some() {
            return false;
        }
        let failed = if self.spec.report_batch_item_failures { batch_item_failures(&response.payload) } else { None };
        let delete: Vec<String> = match &failed {
            // A malformed partial-failure answer fails the whole batch, as on AWS.
            Some(None) => return false,
            Some(Some(failed)) => {
                kept.iter().filter(|m| !failed.contains(&m.message_id)).map(|m| m.receipt_handle.clone()).collect()
            }
            None => kept.iter().map(|m| m.receipt_handle.clone()).collect(),
        };
        if !delete.is_empty() {
            if !self.permitted(role, "sqs:DeleteMessage") {
                return false;
            }
            // As for async events: messages are deleted only after the invocation's logs are committed.
            engine.flush().await;
            if let Err(error) = self.source.delete(&arn, delete).await {
                tracing::warn!(uuid = %self.spec.uuid, %error, "deleting processed messages failed");
            }
        }
        true
    }
}

/// `batchItemFailures` of a function's answer: `None` when the answer does not use it (all
/// succeeded), `Some(None)` when it is malformed, else the failed message ids.
fn batch_item_failures(payload: &[u8]) -> Option<Option<Vec<String>>> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let failures = value.get("batchItemFailures")?;
    if failures.is_null() {
        return None;
    }
    let Some(list) = failures.as_array() else { return Some(None) };
    let mut ids = Vec::with_capacity(list.len());
    for item in list {
        match item.get("itemIdentifier").and_then(|id| id.as_str()).filter(|id| !id.is_empty()) {
            Some(id) => ids.push(id.to_string()),
            None => return Some(None),
        }
    }
    Some(Some(ids))
}

/// One record of AWS's SQS event.
pub fn sqs_record(spec: &MappingSpec, message: &SourceMessage) -> serde_json::Value {
    serde_json::json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": message.attributes,
        "messageAttributes": message.message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": spec.event_source_arn,
        "awsRegion": spec.region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partial_batch_failures() {
        assert_eq!(batch_item_failures(br#""ok""#), None);
        assert_eq!(batch_item_failures(br#"{"batchItemFailures": []}"#), Some(Some(vec![])));
        assert_eq!(
            batch_item_failures(br#"{"batchItemFailures": [{"itemIdentifier": "m-2"}]}"#),
            Some(Some(vec!["m-2".to_string()]))
        );
        assert_eq!(batch_item_failures(br#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#), Some(None));
        assert_eq!(batch_item_failures(br#"{"batchItemFailures": "nope"}"#), Some(None));
    }

    #[tokio::test]
    async fn a_poller_that_died_shows_in_health_until_its_mapping_is_reapplied_or_removed() {
        let sources = EventSources::new(Weak::new());
        let (stop, stopped) = watch::channel(false);
        let liveness = PollerLiveness { uuid: "m-1".into(), stopped, dead: Arc::clone(&sources.dead) };
        let task = tokio::spawn(async move {
            let _liveness = liveness;
            panic!("a bug in the poller");
        });
        assert!(task.await.is_err());
        assert_eq!(sources.health(), Err("the event source poller of mapping m-1 panicked".to_string()));
        sources.remove("m-1");
        assert_eq!(sources.health(), Ok(()));
        // A poller stopped on purpose is not a failure.
        let (stop_two, stopped) = watch::channel(false);
        drop(PollerLiveness { uuid: "m-2".into(), stopped, dead: Arc::clone(&sources.dead) });
        assert!(sources.health().is_err());
        sources.remove("m-2");
        let _ = stop.send(true);
        let _ = stop_two.send(true);
        let (_stop, stopped) = watch::channel(true);
        drop(PollerLiveness { uuid: "m-3".into(), stopped, dead: Arc::clone(&sources.dead) });
        assert_eq!(sources.health(), Ok(()));
    }
}

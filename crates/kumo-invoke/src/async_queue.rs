//! The durable queue behind `InvocationType: Event`.
//!
//! An event is committed to SQLite before the caller gets its 202, and deleted only after it
//! ran (or exhausted its retries), so accepted work survives `kill -9`: on start-up every
//! stored event is run again (delivery is at-least-once, as on AWS).
//!
//! Waiting events keep their payloads in memory only up to a budget
//! ([`EngineConfig::async_backlog_memory`](crate::EngineConfig)); past it, and for everything
//! resumed at start-up, only the id waits in memory and the event is read back from the store
//! when a worker takes it. A throttled function's backlog (AWS keeps events up to six hours)
//! then grows the database, not Kumo's memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::store::{AsyncEvent, QueueWriter};
use kumo_core::AwsError;
use kumo_store::health::Status;
use tokio::sync::{mpsc, Semaphore};

use crate::{invocation_record, AsyncConfig, FunctionResolver, InvokeEngine, InvokeRequest, InvokeResponse};

/// First wait after a throttle; doubles up to the maximum (AWS: 1 s growing to 5 min).
const THROTTLE_BACKOFF_START: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest wait between throttled attempts.
const THROTTLE_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(300);
/// How many async events run at once.
const WORKERS: usize = 64;

/// Handle to enqueue async events.
#[derive(Clone)]
pub struct AsyncQueue {
    engine: Arc<InvokeEngine>,
    sender: mpsc::UnboundedSender<Queued>,
    writer: QueueWriter,
    backlog: Arc<Backlog>,
    /// The task that hands events to workers: if it ends, accepted events wait forever.
    dispatcher: Status,
}

/// A stored event waiting for a worker: with its contents while they fit the memory budget,
/// else by id only.
struct Queued {
    id: i64,
    event: Option<Box<AsyncEvent>>,
}

/// Payload bytes of waiting events held in memory, against the budget.
struct Backlog {
    held: AtomicUsize,
    budget: usize,
}

impl Backlog {
    /// Counts `bytes` in if they fit the budget; whether they did.
    fn try_hold(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(bytes).filter(|total| *total <= self.budget)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl AsyncQueue {
    /// Starts the workers and re-queues every event stored before a restart.
    pub(crate) fn start(
        engine: Arc<InvokeEngine>,
        resolver: Arc<dyn FunctionResolver>,
    ) -> Result<Self, kumo_store::StoreError> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let pending = engine.store.metadata.pending_async_ids()?;
        if !pending.is_empty() {
            tracing::info!(count = pending.len(), "resuming async invocations accepted before restart");
        }
        for id in pending {
            let _ = sender.send(Queued { id, event: None });
        }
        let writer = engine.store.metadata.spawn_queue_writer();
        let backlog = Arc::new(Backlog { held: AtomicUsize::new(0), budget: engine.config.async_backlog_memory });
        let dispatcher = Status::new("the async queue dispatcher");
        let queue = Self { engine: Arc::clone(&engine), sender, writer, backlog, dispatcher };
        let (running, for_task) = (queue.dispatcher.guard(), queue.clone());
        tokio::spawn(async move {
            let _running = running;
            run(for_task, resolver, receiver).await;
        });
        Ok(queue)
    }

    /// `Ok` while accepted events are handed to workers; otherwise why not.
    pub fn health(&self) -> Result<(), String> {
        self.dispatcher.check()
    }

    /// Durably stores an event and schedules it; returns once it is committed (its commit is
    /// shared with the other events enqueued meanwhile).
    pub async fn enqueue(&self, event: AsyncEvent) -> Result<(), AwsError> {
        let (done, committed) = tokio::sync::oneshot::channel();
        self.writer.enqueue(
            event,
            Box::new(move |event, outcome| {
                let _ = done.send((event, outcome));
            }),
        );
        let (event, id) = match committed.await {
            Ok((event, Ok(id))) => (event, id),
            Ok((_, Err(error))) => {
                tracing::error!(%error, "storing an async event failed");
                return Err(AwsError::service());
            }
            Err(_) => {
                tracing::error!("the async queue writer stopped");
                return Err(AwsError::service());
            }
        };
        self.engine
            .async_metrics
            .function(self.event_account(&event), &event.region, &event.function_name)
            .event_received();
        let event = self.backlog.try_hold(event.payload.len()).then(|| Box::new(event));
        let _ = self.sender.send(Queued { id, event });
        Ok(())
    }

    /// The event a worker took: from memory, or read back from the store (`None` if it is no
    /// longer queued).
    async fn take(&self, queued: Queued) -> Option<AsyncEvent> {
        if let Some(event) = queued.event {
            self.backlog.release(event.payload.len());
            return Some(*event);
        }
        let store = Arc::clone(&self.engine.store.metadata);
        match tokio::task::spawn_blocking(move || store.async_event(queued.id)).await {
            Ok(Ok(event)) => event,
            Ok(Err(error)) => {
                // Left stored: the next start-up tries it again.
                tracing::error!(%error, id = queued.id, "reading a queued async event failed");
                None
            }
            Err(error) => {
                tracing::error!(%error, id = queued.id, "reading a queued async event panicked");
                None
            }
        }
    }
}

async fn run(queue: AsyncQueue, resolver: Arc<dyn FunctionResolver>, mut receiver: mpsc::UnboundedReceiver<Queued>) {
    let workers = Arc::new(Semaphore::new(WORKERS));
    while let Some(queued) = receiver.recv().await {
        let Ok(permit) = Arc::clone(&workers).acquire_owned().await else { return };
        let queue = queue.clone();
        let resolver = Arc::clone(&resolver);
        tokio::spawn(async move {
            let id = queued.id;
            if let Some(event) = queue.take(queued).await {
                queue.process(id, event, resolver).await;
            }
            drop(permit);
        });
    }
}

/// How one attempt at an async event ended.
enum Attempt {
    /// It ran without a function error.
    Done(InvokeResponse),
    /// A function or platform error: retried while attempts remain.
    Failed(Option<InvokeResponse>, String),
    /// The function no longer exists: nothing to retry.
    Gone(AwsError),
    /// Concurrency limits said no: retried later without using up an attempt, as on AWS.
    Throttled,
}

/// Why an event was given up, as the invocation record's `condition` says.
const RETRIES_EXHAUSTED: &str = "RetriesExhausted";
/// The event outlived `MaximumEventAgeInSeconds`.
const EVENT_AGE_EXCEEDED: &str = "EventAgeExceeded";

impl AsyncQueue {
    async fn process(&self, id: i64, mut event: AsyncEvent, resolver: Arc<dyn FunctionResolver>) {
        let config = {
            let resolver = Arc::clone(&resolver);
            let (account, region, name, qualifier) = (
                self.event_account(&event).to_string(),
                event.region.clone(),
                event.function_name.clone(),
                event.qualifier.clone(),
            );
            tokio::task::spawn_blocking(move || resolver.async_config(&account, &region, &name, qualifier.as_deref()))
                .await
                .unwrap_or_default()
        };
        let counters =
            self.engine.async_metrics.function(self.event_account(&event), &event.region, &event.function_name);
        let mut throttle_delay = THROTTLE_BACKOFF_START;
        // Whether an attempt reached the function (and so may have written log lines).
        let mut ran = false;
        loop {
            if self.too_old(&event, &config) {
                self.give_up(&event, &config, EVENT_AGE_EXCEEDED, None, "event age exceeded").await;
                counters.event_dropped();
                break;
            }
            event.attempts += 1;
            counters.event_age(Self::age(&event).as_millis() as u64);
            match self.run_once(&event, Arc::clone(&resolver)).await {
                Attempt::Done(response) => {
                    ran = true;
                    if let Some(destination) = &config.on_success {
                        let record = invocation_record(
                            &event,
                            &self.executed_arn(&event, &response.executed_version),
                            "Success",
                            Some(&response),
                        );
                        if !self.deliver(&event, &config, destination, record.to_string(), Vec::new()).await {
                            counters.destination_delivery_failed();
                        }
                    }
                    break;
                }
                Attempt::Throttled => {
                    event.attempts -= 1;
                    tracing::debug!(request_id = %event.request_id, delay = ?throttle_delay, "async invocation throttled; will retry");
                    tokio::time::sleep(throttle_delay).await;
                    throttle_delay = (throttle_delay * 2).min(THROTTLE_BACKOFF_MAX);
                }
                Attempt::Failed(_, error) if event.attempts <= config.maximum_retry_attempts => {
                    ran = true;
                    // Remember the failed attempt, so a restart does not grant extra retries.
                    self.update(id, &event).await;
                    let delay = self.engine.config.async_retry_delay * 2u32.pow(event.attempts - 1);
                    tracing::info!(request_id = %event.request_id, attempt = event.attempts, %error, ?delay, "async invocation failed; will retry");
                    tokio::time::sleep(delay.min(self.remaining_age(&event, &config))).await;
                }
                Attempt::Failed(response, error) => {
                    ran = true;
                    self.give_up(&event, &config, RETRIES_EXHAUSTED, response.as_ref(), &error).await;
                    counters.event_dropped();
                    break;
                }
                Attempt::Gone(error) => {
                    tracing::warn!(request_id = %event.request_id, %error, "async invocation dropped: function is gone");
                    counters.event_dropped();
                    break;
                }
            }
        }
        // The event leaves the queue only once its log lines are committed: a crash in between
        // runs it again rather than losing the trace of a run. An event that never reached its
        // function (e.g. it was deleted) has none, and skips the wait: draining the backlog of a
        // deleted function then costs no log commit per event.
        if ran {
            self.engine.flush().await;
        }
        self.complete(id).await;
    }

    fn age(event: &AsyncEvent) -> Duration {
        Duration::from_millis(kumo_core::time::now_millis().saturating_sub(event.enqueued_ms))
    }

    fn too_old(&self, event: &AsyncEvent, config: &AsyncConfig) -> bool {
        Self::age(event) >= config.maximum_event_age
    }

    fn remaining_age(&self, event: &AsyncEvent, config: &AsyncConfig) -> Duration {
        config.maximum_event_age.saturating_sub(Self::age(event))
    }

    /// Routes a failed event to the on-failure destination and the dead-letter queue.
    async fn give_up(
        &self,
        event: &AsyncEvent,
        config: &AsyncConfig,
        condition: &str,
        response: Option<&InvokeResponse>,
        error: &str,
    ) {
        tracing::warn!(request_id = %event.request_id, condition, %error, "async invocation failed for good");
        let counters =
            self.engine.async_metrics.function(self.event_account(event), &event.region, &event.function_name);
        if let Some(destination) = &config.on_failure {
            let version =
                response.map_or_else(|| event.qualifier.as_deref().unwrap_or("$LATEST"), |r| &r.executed_version);
            let function_arn = self.executed_arn(event, version);
            let record = invocation_record(event, &function_arn, condition, response);
            if !self.deliver(event, config, destination, record.to_string(), Vec::new()).await {
                counters.destination_delivery_failed();
            }
        }
        if let Some(dead_letter) = &config.dead_letter {
            let (code, message) = match response.map(|r| serde_json::from_slice::<serde_json::Value>(&r.payload)) {
                Some(Ok(body)) => (
                    body["errorType"].as_str().unwrap_or("Unhandled").to_string(),
                    body["errorMessage"].as_str().unwrap_or(error).to_string(),
                ),
                _ => (condition.to_string(), error.to_string()),
            };
            let attributes = vec![
                ("RequestID".to_string(), event.request_id.clone()),
                ("ErrorCode".to_string(), code),
                ("ErrorMessage".to_string(), message),
            ];
            let body = String::from_utf8_lossy(&event.payload).into_owned();
            if !self.deliver(event, config, dead_letter, body, attributes).await {
                counters.dead_letter_failed();
            }
        }
    }

    /// The qualified ARN of the version that ran, as invocation records name it.
    fn executed_arn(&self, event: &AsyncEvent, version: &str) -> String {
        kumo_core::arn::qualified_function_arn(&event.region, self.event_account(event), &event.function_name, version)
    }

    /// The account of an event's function (events queued before accounts existed carry none).
    fn event_account<'a>(&'a self, event: &'a AsyncEvent) -> &'a str {
        if event.account.is_empty() {
            &self.engine.config.account
        } else {
            &event.account
        }
    }

    /// Sends a record or failed event to a destination as the function's execution role;
    /// returns whether it was delivered. A delivery the role may not make is dropped and
    /// logged, as AWS drops it.
    async fn deliver(
        &self,
        event: &AsyncEvent,
        config: &AsyncConfig,
        destination: &str,
        body: String,
        attributes: Vec<(String, String)>,
    ) -> bool {
        let Some(sender) = self.engine.destinations() else {
            tracing::error!(destination, "no destination sender is wired; the record is dropped");
            return false;
        };
        if let Some(role) = &config.role {
            let role = kumo_core::policy::ExecutionRole::new(role, &event.function_name);
            let action = crate::destinations::delivery_action(destination);
            if let Err(why) = sender.authorize(destination, &role.caller(), action) {
                tracing::warn!(
                    request_id = %event.request_id,
                    function = %event.function_name,
                    destination,
                    %why,
                    "the execution role may not deliver to the destination; the record is dropped"
                );
                return false;
            }
        }
        match sender.send(destination, body, attributes).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(destination, %error, "delivering to a destination failed");
                false
            }
        }
    }

    async fn run_once(&self, event: &AsyncEvent, resolver: Arc<dyn FunctionResolver>) -> Attempt {
        let (account, region, name, qualifier) = (
            self.event_account(event).to_string(),
            event.region.clone(),
            event.function_name.clone(),
            event.qualifier.clone(),
        );
        let resolved =
            tokio::task::spawn_blocking(move || resolver.resolve(&account, &region, &name, qualifier.as_deref())).await;
        let function = match resolved {
            Ok(Ok(function)) => function,
            Ok(Err(error)) if error.status == 404 => return Attempt::Gone(error),
            Ok(Err(error)) => return Attempt::Failed(None, error.to_string()),
            Err(error) => return Attempt::Failed(None, error.to_string()),
        };
        let invoked_function_arn = match &event.qualifier {
            Some(qualifier) => {
                kumo_core::arn::qualified_function_arn(&function.region, &function.account, &function.name, qualifier)
            }
            None => function.function_arn(),
        };
        let request = InvokeRequest {
            function,
            invoked_function_arn,
            payload: event.payload.clone().into(),
            client_context: event.client_context.clone(),
            request_id: event.request_id.clone(),
        };
        match self.engine.invoke(request).await {
            Ok(response) if response.function_error.is_none() => Attempt::Done(response),
            Ok(response) => {
                let error = String::from_utf8_lossy(&response.payload).into_owned();
                Attempt::Failed(Some(response), error)
            }
            Err(error) if error.status == 429 => Attempt::Throttled,
            Err(error) => Attempt::Failed(None, error.to_string()),
        }
    }

    async fn update(&self, id: i64, event: &AsyncEvent) {
        self.writer.update(id, event);
    }

    async fn complete(&self, id: i64) {
        self.writer.complete(id);
    }
}

//! The durable queue behind `InvocationType: Event`.
//!
//! An event is committed to SQLite before the caller gets its 202, and deleted only after it
//! ran (or exhausted its retries), so accepted work survives `kill -9`: on start-up every
//! stored event is run again (delivery is at-least-once, as on AWS).

use std::sync::Arc;

use kumo_core::AwsError;
use kumo_store::AsyncEvent;
use tokio::sync::{mpsc, Semaphore};

use crate::{FunctionResolver, InvokeEngine, InvokeRequest};

/// Function errors are retried twice by default, as on AWS.
const MAX_RETRIES: u32 = 2;
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
    sender: mpsc::UnboundedSender<(i64, AsyncEvent)>,
}

impl AsyncQueue {
    /// Starts the workers and re-queues every event stored before a restart.
    pub(crate) fn start(
        engine: Arc<InvokeEngine>,
        resolver: Arc<dyn FunctionResolver>,
    ) -> Result<Self, kumo_store::StoreError> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let pending = engine.store.metadata.pending_async()?;
        if !pending.is_empty() {
            tracing::info!(count = pending.len(), "resuming async invocations accepted before restart");
        }
        for item in pending {
            let _ = sender.send(item);
        }
        let queue = Self { engine: Arc::clone(&engine), sender };
        tokio::spawn(run(queue.clone(), resolver, receiver));
        Ok(queue)
    }

    /// Durably stores an event and schedules it; returns once it is committed.
    pub async fn enqueue(&self, event: AsyncEvent) -> Result<(), AwsError> {
        let store = Arc::clone(&self.engine.store.metadata);
        let stored = event.clone();
        let id = tokio::task::spawn_blocking(move || store.enqueue_async(&stored))
            .await
            .map_err(|error| {
                tracing::error!(%error, "async enqueue task failed");
                AwsError::service()
            })?
            .map_err(|error| {
                tracing::error!(%error, "storing an async event failed");
                AwsError::service()
            })?;
        let _ = self.sender.send((id, event));
        Ok(())
    }
}

async fn run(
    queue: AsyncQueue,
    resolver: Arc<dyn FunctionResolver>,
    mut receiver: mpsc::UnboundedReceiver<(i64, AsyncEvent)>,
) {
    let workers = Arc::new(Semaphore::new(WORKERS));
    while let Some((id, event)) = receiver.recv().await {
        let Ok(permit) = Arc::clone(&workers).acquire_owned().await else { return };
        let queue = queue.clone();
        let resolver = Arc::clone(&resolver);
        tokio::spawn(async move {
            queue.process(id, event, resolver).await;
            drop(permit);
        });
    }
}

/// How one attempt at an async event ended.
enum Attempt {
    /// It ran without a function error.
    Done,
    /// A function or platform error: retried while attempts remain.
    Failed(String),
    /// The function no longer exists: nothing to retry.
    Gone(AwsError),
    /// Concurrency limits said no: retried later without using up an attempt, as on AWS.
    Throttled,
}

impl AsyncQueue {
    async fn process(&self, id: i64, mut event: AsyncEvent, resolver: Arc<dyn FunctionResolver>) {
        let mut throttle_delay = THROTTLE_BACKOFF_START;
        loop {
            // Count the attempt durably first, so a crash mid-run still uses up a retry.
            event.attempts += 1;
            self.update(id, &event).await;
            match self.run_once(&event, Arc::clone(&resolver)).await {
                Attempt::Done => break,
                Attempt::Throttled => {
                    event.attempts -= 1;
                    tracing::debug!(request_id = %event.request_id, delay = ?throttle_delay, "async invocation throttled; will retry");
                    tokio::time::sleep(throttle_delay).await;
                    throttle_delay = (throttle_delay * 2).min(THROTTLE_BACKOFF_MAX);
                }
                Attempt::Failed(error) if event.attempts <= MAX_RETRIES => {
                    let delay = self.engine.config.async_retry_delay * 2u32.pow(event.attempts - 1);
                    tracing::info!(request_id = %event.request_id, attempt = event.attempts, %error, ?delay, "async invocation failed; will retry");
                    tokio::time::sleep(delay).await;
                }
                Attempt::Failed(error) => {
                    tracing::warn!(request_id = %event.request_id, %error, "async invocation failed on its last attempt");
                    break;
                }
                Attempt::Gone(error) => {
                    tracing::warn!(request_id = %event.request_id, %error, "async invocation dropped: function is gone");
                    break;
                }
            }
        }
        self.complete(id).await;
    }

    async fn run_once(&self, event: &AsyncEvent, resolver: Arc<dyn FunctionResolver>) -> Attempt {
        let (region, name, qualifier) = (event.region.clone(), event.function_name.clone(), event.qualifier.clone());
        let resolved =
            tokio::task::spawn_blocking(move || resolver.resolve(&region, &name, qualifier.as_deref())).await;
        let function = match resolved {
            Ok(Ok(function)) => function,
            Ok(Err(error)) if error.status == 404 => return Attempt::Gone(error),
            Ok(Err(error)) => return Attempt::Failed(error.to_string()),
            Err(error) => return Attempt::Failed(error.to_string()),
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
            Ok(response) if response.function_error.is_none() => Attempt::Done,
            Ok(response) => Attempt::Failed(String::from_utf8_lossy(&response.payload).into_owned()),
            Err(error) if error.status == 429 => Attempt::Throttled,
            Err(error) => Attempt::Failed(error.to_string()),
        }
    }

    async fn update(&self, id: i64, event: &AsyncEvent) {
        let store = Arc::clone(&self.engine.store.metadata);
        let event = event.clone();
        let _ = tokio::task::spawn_blocking(move || store.update_async(id, &event)).await;
    }

    async fn complete(&self, id: i64) {
        let store = Arc::clone(&self.engine.store.metadata);
        match tokio::task::spawn_blocking(move || store.complete_async(id)).await {
            Ok(Ok(())) => {}
            other => tracing::error!(?other, "removing a finished async event failed"),
        }
    }
}

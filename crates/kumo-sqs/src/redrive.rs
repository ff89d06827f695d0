//! Dead-letter queues: ListDeadLetterSourceQueues, and redrive back out of a dead-letter queue
//! with StartMessageMoveTask, CancelMessageMoveTask and ListMessageMoveTasks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use kumo_core::AwsError;

use crate::queue::Queue;
use crate::types::*;
use crate::{attributes, error, required, SqsService};

/// A finished task's status and failure reason.
type Finished = Option<(String, Option<String>)>;

/// A message move task and its progress.
#[derive(Debug)]
pub(crate) struct MoveTask {
    handle: String,
    source_arn: String,
    destination_arn: Option<String>,
    rate: Option<i64>,
    started_ms: u64,
    to_move: u64,
    moved: Arc<AtomicU64>,
    cancelled: Arc<AtomicBool>,
    finished: Arc<std::sync::Mutex<Finished>>,
}

impl MoveTask {
    fn status(&self) -> (String, Option<String>) {
        let finished = self.finished.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        finished.unwrap_or_else(|| ("RUNNING".to_string(), None))
    }

    fn view(&self) -> MessageMoveTask {
        let (status, failure_reason) = self.status();
        MessageMoveTask {
            task_handle: (status == "RUNNING").then(|| self.handle.clone()),
            status,
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            max_number_of_messages_per_second: self.rate,
            approximate_number_of_messages_moved: self.moved.load(Ordering::Relaxed),
            approximate_number_of_messages_to_move: self.to_move,
            failure_reason,
            started_timestamp: self.started_ms,
        }
    }
}

impl SqsService {
    fn move_tasks(&self) -> std::sync::MutexGuard<'_, Vec<MoveTask>> {
        // The list is only pushed to and read; a panic cannot leave it inconsistent.
        self.move_tasks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues of the region whose redrive policy targets `arn`.
    fn dead_letter_sources(&self, region: &str, arn: &str) -> Vec<Arc<Queue>> {
        let mut sources: Vec<Arc<Queue>> = self
            .all_queues()
            .into_iter()
            .filter(|queue| queue.region == region)
            .filter(|queue| queue.lock().attributes.redrive().is_some_and(|p| p.dead_letter_target_arn == arn))
            .collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        sources
    }

    /// ListDeadLetterSourceQueues.
    pub async fn list_dead_letter_source_queues(
        &self,
        context: &SqsContext,
        request: ListDeadLetterSourceQueuesRequest,
    ) -> Result<ListDeadLetterSourceQueuesResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:ListDeadLetterSourceQueues")?;
        let limit = match request.max_results {
            None => 1000,
            Some(n) if (1..=1000).contains(&n) => n as usize,
            Some(n) => {
                return Err(error::invalid_parameter_value(
                    n,
                    "MaxResults",
                    "MaxResults must be an integer between 1 and 1000.",
                ))
            }
        };
        let after = request
            .next_token
            .as_deref()
            .and_then(|token| URL_SAFE_NO_PAD.decode(token).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let mut sources: Vec<_> = self
            .dead_letter_sources(&queue.region, &queue.arn)
            .into_iter()
            .filter(|source| source.account == queue.account)
            .filter(|source| after.as_ref().is_none_or(|after| source.name > *after))
            .collect();
        let more = sources.len() > limit && request.max_results.is_some();
        sources.truncate(limit);
        let next_token = if more { sources.last().map(|last| URL_SAFE_NO_PAD.encode(&last.name)) } else { None };
        let queue_urls = sources.iter().map(|source| self.queue_url(context, source)).collect();
        Ok(ListDeadLetterSourceQueuesResponse { queue_urls, next_token })
    }

    /// StartMessageMoveTask: moves a dead-letter queue's messages back to their sources (or to
    /// `DestinationArn`) in the background.
    pub async fn start_message_move_task(
        self: &Arc<Self>,
        context: &SqsContext,
        request: StartMessageMoveTaskRequest,
    ) -> Result<StartMessageMoveTaskResponse, AwsError> {
        let source_arn = required(&request.source_arn, "SourceArn")?.to_string();
        let not_found =
            || error::resource_not_found("The resource that you specified for the SourceArn parameter doesn't exist.");
        let source = self.queue_by_arn(&source_arn).filter(|q| q.region == context.region).ok_or_else(not_found)?;
        self.authorize(context, &source, "sqs:StartMessageMoveTask")?;
        if self.dead_letter_sources(&context.region, &source_arn).is_empty() {
            return Err(error::invalid_parameter("Source queue must be configured as a Dead Letter Queue."));
        }
        let destination = match request.destination_arn.as_deref() {
            None => None,
            // Messages move within the source's account only.
            Some(arn) => Some(self.queue_by_arn(arn).filter(|q| q.account == source.account).ok_or_else(|| {
                error::resource_not_found(
                    "The resource that you specified for the DestinationArn parameter doesn't exist.",
                )
            })?),
        };
        if let Some(rate) = request.max_number_of_messages_per_second {
            if !(1..=500).contains(&rate) {
                return Err(error::invalid_parameter_value(
                    rate,
                    "MaxNumberOfMessagesPerSecond",
                    "Must be between 1 and 500.",
                ));
            }
        }
        let mut tasks = self.move_tasks();
        if tasks.iter().any(|task| task.source_arn == source_arn && task.status().0 == "RUNNING") {
            return Err(error::invalid_parameter(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let started_ms = kumo_core::time::now_millis();
        let to_move = source.lock().messages.len() as u64;
        let handle = encode_task_handle(&uuid::Uuid::new_v4().to_string(), &source_arn);
        let task = MoveTask {
            handle: handle.clone(),
            source_arn,
            destination_arn: request.destination_arn.clone(),
            rate: request.max_number_of_messages_per_second,
            started_ms,
            to_move,
            moved: Arc::new(AtomicU64::new(0)),
            cancelled: Arc::new(AtomicBool::new(false)),
            finished: Arc::new(std::sync::Mutex::new(None)),
        };
        let (moved, cancelled, finished) =
            (Arc::clone(&task.moved), Arc::clone(&task.cancelled), Arc::clone(&task.finished));
        tasks.push(task);
        drop(tasks);
        let service = Arc::clone(self);
        let rate = request.max_number_of_messages_per_second;
        tokio::spawn(async move {
            let outcome = service.run_move(&source, destination, to_move, rate, &moved, &cancelled).await;
            let status = match outcome {
                Ok(()) if cancelled.load(Ordering::Relaxed) => ("CANCELLED".to_string(), None),
                Ok(()) => ("COMPLETED".to_string(), None),
                Err(reason) => ("FAILED".to_string(), Some(reason)),
            };
            tracing::info!(source = %source.arn, status = %status.0, moved = moved.load(Ordering::Relaxed), "message move task ended");
            *finished.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(status);
        });
        Ok(StartMessageMoveTaskResponse { task_handle: handle })
    }

    async fn run_move(
        &self,
        source: &Arc<Queue>,
        destination: Option<Arc<Queue>>,
        to_move: u64,
        rate: Option<i64>,
        moved: &AtomicU64,
        cancelled: &AtomicBool,
    ) -> Result<(), String> {
        let chunk = rate.map_or(100, |rate| rate.clamp(1, 100) as usize);
        while moved.load(Ordering::Relaxed) < to_move && !cancelled.load(Ordering::Relaxed) {
            let now = kumo_core::time::now_millis();
            let remaining = (to_move - moved.load(Ordering::Relaxed)) as usize;
            let batch: Vec<_> = {
                let mut state = source.lock();
                let seqs = state.receivable(now, chunk.min(remaining), &Default::default());
                seqs.into_iter().filter_map(|seq| state.remove(seq)).collect()
            };
            if batch.is_empty() {
                return Ok(());
            }
            let count = batch.len() as u64;
            // Group by target: the explicit destination, or each message's original source.
            let mut by_target: std::collections::HashMap<i64, (Arc<Queue>, Vec<_>)> = std::collections::HashMap::new();
            let mut failure = None;
            let mut unmoved = Vec::new();
            for message in batch {
                let target = match &destination {
                    Some(destination) => Some(Arc::clone(destination)),
                    None => message.dead_letter_source.as_deref().and_then(|arn| self.queue_by_arn(arn)),
                };
                match target {
                    // A target deleted since the task started fails the task.
                    Some(target) if target.is_deleted() => {
                        failure = Some("AWS.SimpleQueueService.NonExistentQueue");
                        unmoved.push(message);
                    }
                    Some(target) => by_target.entry(target.id).or_insert_with(|| (target, Vec::new())).1.push(message),
                    None => {
                        failure = Some("CouldNotDetermineMessageSource");
                        unmoved.push(message);
                    }
                }
            }
            if let Some(reason) = failure {
                // Nothing of this batch moves: every message stays in the source.
                let mut state = source.lock();
                for message in unmoved.into_iter().chain(by_target.into_values().flat_map(|(_, messages)| messages)) {
                    state.insert(message);
                }
                return Err(reason.to_string());
            }
            let targets: Vec<_> = by_target.into_values().collect();
            for (target, messages) in targets {
                let (sender, receiver) = tokio::sync::oneshot::channel();
                self.transfer(
                    source,
                    &target,
                    messages,
                    None,
                    Some(Box::new(move |ok| {
                        let _ = sender.send(ok);
                    })),
                );
                if !matches!(receiver.await, Ok(true)) {
                    return Err("InternalError".to_string());
                }
            }
            moved.fetch_add(count, Ordering::Relaxed);
            if rate.is_some() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Ok(())
    }

    /// CancelMessageMoveTask: authorized as `sqs:CancelMessageMoveTask` on the task's source
    /// queue, so only whoever may act on that queue (its account, or what its policy grants) can
    /// stop its redrive.
    pub async fn cancel_message_move_task(
        &self,
        context: &SqsContext,
        request: CancelMessageMoveTaskRequest,
    ) -> Result<CancelMessageMoveTaskResponse, AwsError> {
        let handle = required(&request.task_handle, "TaskHandle")?;
        let (_, source_arn) = decode_task_handle(handle)
            .ok_or_else(|| error::invalid_parameter("Value for parameter TaskHandle is invalid."))?;
        if self.queue_by_arn(&source_arn).is_none() {
            return Err(error::resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            ));
        }
        let tasks = self.move_tasks();
        let task = tasks
            .iter()
            .find(|task| task.handle == handle && task.status().0 == "RUNNING")
            .ok_or_else(|| error::resource_not_found("Task does not exist."))?;
        let action = "sqs:CancelMessageMoveTask";
        match self.queue_by_arn(&task.source_arn) {
            Some(source) => self.authorize(context, &source, action)?,
            // A source deleted since: its account still owns the task.
            None => {
                let owner = attributes::parse_queue_arn(&task.source_arn).map_or("", |(_, account, _)| account);
                self.authorize_resource(context, &task.source_arn, owner, None, action)?;
            }
        }
        task.cancelled.store(true, Ordering::Relaxed);
        Ok(CancelMessageMoveTaskResponse { approximate_number_of_messages_moved: task.moved.load(Ordering::Relaxed) })
    }

    /// ListMessageMoveTasks: most recent first.
    pub async fn list_message_move_tasks(
        &self,
        context: &SqsContext,
        request: ListMessageMoveTasksRequest,
    ) -> Result<ListMessageMoveTasksResponse, AwsError> {
        let source_arn = required(&request.source_arn, "SourceArn")?;
        let Some(source) = self.queue_by_arn(source_arn).filter(|q| q.region == context.region) else {
            return Err(error::resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            ));
        };
        self.authorize(context, &source, "sqs:ListMessageMoveTasks")?;
        let limit = match request.max_results {
            None => 1,
            Some(n) if (1..=10).contains(&n) => n as usize,
            Some(n) => return Err(error::invalid_parameter_value(n, "MaxResults", "Must be between 1 and 10.")),
        };
        let tasks = self.move_tasks();
        let results =
            tasks.iter().rev().filter(|task| task.source_arn == source_arn).take(limit).map(MoveTask::view).collect();
        Ok(ListMessageMoveTasksResponse { results })
    }
}

/// A move task's handle as AWS writes it: base64 of `{"taskId":"<id>","sourceArn":"<arn>"}`.
fn encode_task_handle(task_id: &str, source_arn: &str) -> String {
    // Written by hand to keep AWS's member order (serde_json sorts an object's keys).
    let (id, arn) = (serde_json::Value::from(task_id), serde_json::Value::from(source_arn));
    STANDARD.encode(format!(r#"{{"taskId":{id},"sourceArn":{arn}}}"#))
}

/// The task id and source ARN of a handle; `None` for anything that is not one.
fn decode_task_handle(handle: &str) -> Option<(String, String)> {
    let document: serde_json::Value = serde_json::from_slice(&STANDARD.decode(handle).ok()?).ok()?;
    let field = |name: &str| document.get(name).and_then(serde_json::Value::as_str).map(str::to_string);
    Some((field("taskId")?, field("sourceArn")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_handles_are_base64_json_of_id_and_source() {
        let handle = encode_task_handle("10f57157-fc38-4da9-a113-4de7e12d05dd", "arn:aws:sqs:us-east-1:1:q");
        let text = String::from_utf8(STANDARD.decode(&handle).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"taskId":"10f57157-fc38-4da9-a113-4de7e12d05dd","sourceArn":"arn:aws:sqs:us-east-1:1:q"}"#
        );
        let decoded = decode_task_handle(&handle).unwrap();
        assert_eq!(
            decoded,
            ("10f57157-fc38-4da9-a113-4de7e12d05dd".to_string(), "arn:aws:sqs:us-east-1:1:q".to_string())
        );
        for bad in ["foobared", "e30=", &STANDARD.encode("[1]")] {
            assert_eq!(decode_task_handle(bad), None, "{bad}");
        }
    }
}

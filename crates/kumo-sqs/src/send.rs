//! Sending: SendMessage and SendMessageBatch (each message's checks, FIFO fields, delays,
//! deduplication, the `X-Amzn-Trace-Id` header) and [`SqsService::enqueue`], which stores
//! messages for every sender (the API, redrive, other Kumo services).

use std::sync::Arc;

use kumo_core::AwsError;

use crate::attributes::MAX_MESSAGE_SIZE;
use crate::messages::batch_error;
use crate::queue::{DedupEntry, Queue};
use crate::store::{DedupRow, StoredMessage, WriteOp};
use crate::types::*;
use crate::{error, fifo, md5, validation, SqsService};

/// A message ready to be stored.
pub(crate) struct Outgoing {
    pub body: String,
    pub delay_seconds: u32,
    pub attributes: MessageAttributes,
    pub system_attributes: MessageAttributes,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// What a send answers.
pub(crate) struct Sent {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_attributes: Option<String>,
    pub md5_of_system_attributes: Option<String>,
    pub sequence_number: Option<String>,
}

/// Stores the request's `X-Amzn-Trace-Id` header as the `AWSTraceHeader` system attribute when
/// the message gives none, as AWS does; whether it did.
fn add_trace_header(context: &SqsContext, system_attributes: &mut MessageAttributes) -> bool {
    let Some(trace) = &context.trace_header else { return false };
    if system_attributes.contains_key("AWSTraceHeader") {
        return false;
    }
    let value =
        MessageAttributeValue { data_type: "String".into(), string_value: Some(trace.clone()), binary_value: None };
    system_attributes.insert("AWSTraceHeader".into(), value);
    true
}

impl SqsService {
    /// Checks one message's own fields (what a batch reports per entry).
    #[allow(clippy::too_many_arguments)]
    fn check_message(
        &self,
        queue: &Queue,
        maximum_size: u32,
        body: &Option<String>,
        delay_seconds: Option<i64>,
        attributes: &MessageAttributes,
        system_attributes: &MessageAttributes,
    ) -> Result<(String, u32), AwsError> {
        let body = body.as_deref().filter(|b| !b.is_empty()).ok_or_else(|| error::missing_parameter("MessageBody"))?;
        validation::message_body(body)?;
        validation::message_attributes(attributes)?;
        validation::system_attributes(system_attributes)?;
        let size = validation::message_size(body, attributes);
        if size > maximum_size as usize {
            return Err(error::invalid_parameter(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {maximum_size} bytes."
            )));
        }
        let delay = match delay_seconds {
            None => None,
            Some(value) => Some(u32::try_from(value).ok().filter(|v| *v <= 900).ok_or_else(|| {
                error::invalid_parameter_value(value, "DelaySeconds", "DelaySeconds must be >= 0 and <= 900.")
            })?),
        };
        if queue.fifo && delay.is_some_and(|d| d > 0) {
            return Err(error::invalid_parameter_value(
                delay.unwrap_or_default(),
                "DelaySeconds",
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        // A FIFO queue has no per-message delay: an explicit 0 leaves the queue's delay in force.
        let delay = if queue.fifo { None } else { delay };
        Ok((body.to_string(), delay.unwrap_or(u32::MAX)))
    }

    /// Checks the FIFO fields of a send: a group is required, and a deduplication id unless the
    /// queue deduplicates by content. Standard queues take no deduplication id.
    fn check_fifo_fields(
        queue: &Queue,
        content_based: bool,
        group: &Option<String>,
        dedup: &Option<String>,
        batch: bool,
    ) -> Result<(), AwsError> {
        if !queue.fifo {
            if let Some(dedup) = dedup {
                return Err(error::invalid_parameter_value(
                    dedup,
                    "MessageDeduplicationId",
                    "The request include parameter that is not valid for this queue type",
                ));
            }
        }
        for (value, name) in [(group, "MessageGroupId"), (dedup, "MessageDeduplicationId")] {
            if let Some(value) = value {
                let valid = !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_graphic());
                if !valid {
                    return Err(error::invalid_parameter_value(
                        value,
                        name,
                        &format!(
                            "{name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
                        ),
                    ));
                }
            }
        }
        if !queue.fifo {
            // A standard queue takes a group id too (a fair queue): kept and returned.
            return Ok(());
        }
        if group.is_none() {
            return Err(if batch {
                error::invalid_parameter("The request must contain the parameter MessageGroupId.")
            } else {
                error::missing_parameter("MessageGroupId")
            });
        }
        if dedup.is_none() && !content_based {
            return Err(error::invalid_parameter(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
        Ok(())
    }

    /// Stores messages durably and makes them receivable; answers after the commit.
    pub(crate) async fn enqueue(
        &self,
        queue: &Arc<Queue>,
        outgoing: Vec<Outgoing>,
        sender_id: &str,
    ) -> Result<Vec<Sent>, AwsError> {
        let now = kumo_core::time::now_millis();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let mut answers = Vec::with_capacity(outgoing.len());
        {
            let mut state = queue.lock();
            let queue_delay = state.attributes.delay_seconds;
            let content_based = state.attributes.content_based_deduplication;
            let scope = state.attributes.deduplication_scope.clone();
            let mut ops = Vec::with_capacity(outgoing.len() * 2);
            let mut pending = Vec::with_capacity(outgoing.len());
            let mut reserved = Vec::new();
            for message in outgoing {
                let md5_of_body = md5::of_body(&message.body);
                let md5_of_attributes = md5::of_attributes(&message.attributes);
                let md5_of_system_attributes = md5::of_attributes(&message.system_attributes);
                let mut dedup_id = None;
                if queue.fifo {
                    let group = message.group_id.as_deref().unwrap_or_default();
                    let id = fifo::deduplication_id(message.dedup_id.as_deref(), &message.body, content_based);
                    let id = id.ok_or_else(|| error::internal("fifo send without a deduplication id"))?;
                    let key = fifo::dedup_key(&scope, group, &id);
                    if let Some(entry) = state.dedup.get(&key).filter(|entry| entry.expires_ms > now) {
                        answers.push(Sent {
                            message_id: entry.message_id.clone(),
                            md5_of_body,
                            md5_of_attributes,
                            md5_of_system_attributes,
                            sequence_number: Some(fifo::sequence_number(entry.seq)),
                        });
                        continue;
                    }
                    dedup_id = Some((id, key));
                }
                let seq = self.allocate_seq();
                let message_id = uuid::Uuid::new_v4().to_string();
                let delay = if message.delay_seconds == u32::MAX { queue_delay } else { message.delay_seconds };
                let stored = StoredMessage {
                    seq,
                    queue_id: queue.id,
                    message_id: message_id.clone(),
                    body: Arc::from(message.body),
                    attributes: Arc::new(message.attributes),
                    system_attributes: Arc::new(message.system_attributes),
                    sent_ms: now,
                    enqueued_ms: now,
                    available_ms: now + u64::from(delay) * 1000,
                    receive_count: 0,
                    first_receive_ms: 0,
                    receipt: 0,
                    group_id: message.group_id,
                    dedup_id: dedup_id.as_ref().map(|(id, _)| id.clone()),
                    sender_id: sender_id.to_string(),
                    dead_letter_source: None,
                };
                if let Some((_, key)) = dedup_id {
                    let entry =
                        DedupEntry { message_id: message_id.clone(), seq, expires_ms: now + fifo::DEDUP_WINDOW_MS };
                    ops.push(WriteOp::InsertDedup(DedupRow {
                        queue_id: queue.id,
                        key: key.clone(),
                        message_id: message_id.clone(),
                        seq,
                        expires_ms: entry.expires_ms,
                    }));
                    state.dedup.insert(key.clone(), entry);
                    reserved.push(key);
                }
                ops.push(WriteOp::InsertMessage(Box::new(stored.clone())));
                pending.push(stored);
                answers.push(Sent {
                    message_id,
                    md5_of_body,
                    md5_of_attributes,
                    md5_of_system_attributes,
                    sequence_number: queue.fifo.then(|| fifo::sequence_number(seq)),
                });
            }
            let committed_queue = Arc::clone(queue);
            // Submitted under the queue lock so that positions commit in order.
            self.store.submit(
                ops,
                Some(Box::new(move |ok| {
                    let mut state = committed_queue.lock();
                    if ok {
                        committed_queue.counters.sent(pending.len());
                        for message in pending {
                            state.insert(message);
                        }
                    } else {
                        for key in reserved {
                            state.dedup.remove(&key);
                        }
                    }
                    drop(state);
                    if ok {
                        committed_queue.notify.notify_waiters();
                    }
                    let _ = sender.send(ok);
                })),
            );
        }
        match receiver.await {
            Ok(true) => Ok(answers),
            _ => Err(error::internal("storing messages failed")),
        }
    }

    /// SendMessage.
    pub async fn send_message(
        &self,
        context: &SqsContext,
        request: SendMessageRequest,
    ) -> Result<SendMessageResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:SendMessage")?;
        let (maximum_size, content_based) = {
            let state = queue.lock();
            (state.attributes.maximum_message_size, state.attributes.content_based_deduplication)
        };
        let (body, delay_seconds) = self.check_message(
            &queue,
            maximum_size,
            &request.message_body,
            request.delay_seconds,
            &request.message_attributes,
            &request.message_system_attributes,
        )?;
        Self::check_fifo_fields(
            &queue,
            content_based,
            &request.message_group_id,
            &request.message_deduplication_id,
            false,
        )?;
        let mut system_attributes = request.message_system_attributes;
        let traced_by_header = add_trace_header(context, &mut system_attributes);
        let outgoing = Outgoing {
            body,
            delay_seconds,
            attributes: request.message_attributes,
            system_attributes,
            group_id: request.message_group_id,
            dedup_id: request.message_deduplication_id,
        };
        let mut sent = self.enqueue(&queue, vec![outgoing], &context.sender_id).await?;
        let sent = sent.pop().ok_or_else(|| error::internal("a send produced no answer"))?;
        Ok(SendMessageResponse {
            md5_of_message_body: sent.md5_of_body,
            md5_of_message_attributes: sent.md5_of_attributes,
            // The digest answers what the request sent, not what the header added.
            md5_of_message_system_attributes: sent.md5_of_system_attributes.filter(|_| !traced_by_header),
            message_id: sent.message_id,
            sequence_number: sent.sequence_number,
        })
    }

    /// SendMessageBatch: per-entry failures for bad messages; request errors for a bad batch.
    pub async fn send_message_batch(
        &self,
        context: &SqsContext,
        request: SendMessageBatchRequest,
    ) -> Result<SendMessageBatchResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:SendMessage")?;
        validation::batch_ids(request.entries.iter().map(|e| e.id.as_str()), "SendMessageBatchRequestEntry")?;
        let total: usize = request
            .entries
            .iter()
            .map(|e| validation::message_size(e.message_body.as_deref().unwrap_or_default(), &e.message_attributes))
            .sum();
        if total > MAX_MESSAGE_SIZE as usize {
            return Err(error::batch_too_long(MAX_MESSAGE_SIZE as usize, total));
        }
        let (maximum_size, content_based) = {
            let state = queue.lock();
            (state.attributes.maximum_message_size, state.attributes.content_based_deduplication)
        };
        for entry in &request.entries {
            Self::check_fifo_fields(
                &queue,
                content_based,
                &entry.message_group_id,
                &entry.message_deduplication_id,
                true,
            )?;
        }
        let mut response = SendMessageBatchResponse::default();
        let mut ids = Vec::new();
        let mut traced_by_header = Vec::new();
        let mut outgoing = Vec::new();
        for entry in request.entries {
            match self.check_message(
                &queue,
                maximum_size,
                &entry.message_body,
                entry.delay_seconds,
                &entry.message_attributes,
                &entry.message_system_attributes,
            ) {
                Ok((body, delay_seconds)) => {
                    let mut system_attributes = entry.message_system_attributes;
                    traced_by_header.push(add_trace_header(context, &mut system_attributes));
                    ids.push(entry.id);
                    outgoing.push(Outgoing {
                        body,
                        delay_seconds,
                        attributes: entry.message_attributes,
                        system_attributes,
                        group_id: entry.message_group_id,
                        dedup_id: entry.message_deduplication_id,
                    });
                }
                Err(mut error) => {
                    // A batch entry's size is reported in other words than a single send's.
                    if let Some(reason) = error.message.strip_prefix("One or more parameters are invalid. ") {
                        error.message = format!("One or more parameters cannot be validated. {reason}");
                    }
                    response.failed.push(batch_error(&entry.id, &error))
                }
            }
        }
        if !outgoing.is_empty() {
            let sent = self.enqueue(&queue, outgoing, &context.sender_id).await?;
            for ((id, sent), traced_by_header) in ids.into_iter().zip(sent).zip(traced_by_header) {
                response.successful.push(SendMessageBatchResultEntry {
                    id,
                    message_id: sent.message_id,
                    md5_of_message_body: sent.md5_of_body,
                    md5_of_message_attributes: sent.md5_of_attributes,
                    md5_of_message_system_attributes: sent.md5_of_system_attributes.filter(|_| !traced_by_header),
                    sequence_number: sent.sequence_number,
                });
            }
        }
        Ok(response)
    }
}

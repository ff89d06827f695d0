//! Messages once sent: ReceiveMessage with long polling, DeleteMessage(Batch) and
//! ChangeMessageVisibility(Batch), with visibility timeouts, retention and dead-lettering after
//! `maxReceiveCount` receives (sending is in [`crate::send`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kumo_core::AwsError;

use crate::attributes::RedrivePolicy;
use crate::queue::Queue;
use crate::receipts::{self, Receipt};
use crate::store::{StoredMessage, WriteOp};
use crate::types::*;
use crate::{error, fifo, md5, required, validation, SqsService};

/// A message taken by a receive, with the handle of that receive.
pub(crate) struct Taken {
    pub message: StoredMessage,
    pub handle: String,
}

/// Which attributes a receive returns.
pub(crate) struct AttributeSelection {
    system: Vec<String>,
    user: Vec<String>,
}

impl AttributeSelection {
    /// From the request's lists.
    pub fn new(system: Vec<String>, user: Vec<String>) -> Self {
        Self { system, user }
    }

    /// Every system and user attribute.
    pub fn all() -> Self {
        Self { system: vec!["All".into()], user: vec!["All".into()] }
    }

    fn wants_system(&self, name: &str) -> bool {
        self.system.iter().any(|wanted| wanted == "All" || wanted == name)
    }

    /// `All`, `*` and `.*` take every attribute, `<prefix>.*` those whose names start with the
    /// prefix (`Hel.*` takes `Hello` and `Help.Me`), any other name that attribute.
    fn wants_user(&self, name: &str) -> bool {
        self.user.iter().any(|wanted| {
            matches!(wanted.as_str(), "All" | "*" | ".*")
                || wanted == name
                || wanted.strip_suffix(".*").is_some_and(|prefix| name.starts_with(prefix))
        })
    }
}

fn visibility_timeout(value: i64) -> Result<u32, AwsError> {
    u32::try_from(value).ok().filter(|v| *v <= 43_200).ok_or_else(|| {
        error::invalid_parameter_value(value, "VisibilityTimeout", "Must be between 0 and 43200, if provided.")
    })
}

pub(crate) fn batch_error(id: &str, error: &AwsError) -> BatchResultErrorEntry {
    BatchResultErrorEntry {
        id: id.to_string(),
        sender_fault: error.status < 500,
        code: error::query_code(error.code).to_string(),
        message: error.message.clone(),
    }
}

impl SqsService {
    /// Takes up to `max` receivable messages now: drops expired ones, dead-letters those past
    /// `maxReceiveCount`, and starts a visibility timeout on the rest.
    pub(crate) fn take_messages(&self, queue: &Arc<Queue>, max: usize, visibility: Option<u32>) -> Vec<Taken> {
        let now = kumo_core::time::now_millis();
        let redrive = queue.lock().attributes.redrive();
        let dead_letter_queue = redrive
            .as_ref()
            .and_then(|policy| self.queue_by_arn(&policy.dead_letter_target_arn))
            .filter(|target| target.id != queue.id && target.fifo == queue.fifo);
        let max_receives =
            dead_letter_queue.as_ref().and(redrive.as_ref()).map(|p: &RedrivePolicy| p.max_receive_count);
        let mut taken = Vec::new();
        let mut seen = BTreeSet::new();
        let mut ops = Vec::new();
        let mut dead_letters = Vec::new();
        {
            let mut state = queue.lock();
            let visibility_ms = u64::from(visibility.unwrap_or(state.attributes.visibility_timeout)) * 1000;
            while taken.len() < max {
                let wanted = max - taken.len();
                let candidates = if queue.fifo {
                    fifo::receivable(&state, now, wanted, &seen)
                } else {
                    state.receivable(now, wanted, &seen)
                };
                if candidates.is_empty() {
                    break;
                }
                for seq in candidates {
                    seen.insert(seq);
                    let Some(message) = state.messages.get(&seq) else { continue };
                    if state.is_expired(message, now) {
                        state.remove(seq);
                        ops.push(WriteOp::DeleteMessage(seq));
                        continue;
                    }
                    if max_receives.is_some_and(|limit| message.receive_count >= limit) {
                        if let Some(message) = state.remove(seq) {
                            dead_letters.push(message);
                        }
                        continue;
                    }
                    let token = receipts::new_token();
                    state.set_available(seq, now + visibility_ms);
                    let Some(message) = state.messages.get_mut(&seq) else { continue };
                    message.receive_count += 1;
                    if message.first_receive_ms == 0 {
                        message.first_receive_ms = now;
                    }
                    message.receipt = token;
                    ops.push(WriteOp::UpdateMessage {
                        seq,
                        available_ms: message.available_ms,
                        receive_count: message.receive_count,
                        first_receive_ms: message.first_receive_ms,
                        receipt: token,
                    });
                    let handle = receipts::encode(Receipt { queue_id: queue.id, seq, token }, &message.message_id);
                    taken.push(Taken { message: message.clone(), handle });
                }
            }
            if queue.fifo {
                let mut groups: Vec<String> = Vec::new();
                for group in taken.iter().filter_map(|taken| taken.message.group_id.as_ref()) {
                    if groups.last() != Some(group) {
                        groups.push(group.clone());
                    }
                }
                fifo::served(&mut state, groups.iter().map(String::as_str));
            }
        }
        if !ops.is_empty() {
            self.store.submit(ops, None);
        }
        queue.counters.received(taken.len());
        if let Some(target) = dead_letter_queue.filter(|_| !dead_letters.is_empty()) {
            tracing::info!(queue = %queue.arn, dead_letter_queue = %target.arn, count = dead_letters.len(), "messages dead-lettered");
            self.transfer(queue, &target, dead_letters, Some(queue.arn.clone()), None);
        }
        taken
    }

    /// Moves messages (already removed from `from`'s memory) into `to`, atomically in the store.
    /// `done` runs after the commit with the number moved.
    pub(crate) fn transfer(
        &self,
        from: &Arc<Queue>,
        to: &Arc<Queue>,
        messages: Vec<StoredMessage>,
        dead_letter_source: Option<String>,
        done: Option<Box<dyn FnOnce(bool) + Send>>,
    ) {
        let now = kumo_core::time::now_millis();
        let mut ops = Vec::with_capacity(messages.len() * 2);
        let mut moved = Vec::with_capacity(messages.len());
        for message in messages {
            ops.push(WriteOp::DeleteMessage(message.seq));
            let stored = StoredMessage {
                seq: self.allocate_seq(),
                queue_id: to.id,
                // Standard queues keep the original enqueue time for retention; FIFO resets it.
                enqueued_ms: if to.fifo { now } else { message.enqueued_ms },
                available_ms: now,
                // Dead-lettered, a message keeps counting its receives (the first from the
                // dead-letter queue reports maxReceiveCount + 1, as AWS does); moved back by a
                // move task, it starts afresh.
                receive_count: if dead_letter_source.is_some() { message.receive_count } else { 0 },
                first_receive_ms: if dead_letter_source.is_some() { message.first_receive_ms } else { 0 },
                receipt: 0,
                dead_letter_source: dead_letter_source.clone(),
                ..message
            };
            ops.push(WriteOp::InsertMessage(Box::new(stored.clone())));
            moved.push(stored);
        }
        let target = Arc::clone(to);
        let source = Arc::clone(from);
        self.store.submit(
            ops,
            Some(Box::new(move |ok| {
                if ok {
                    let mut state = target.lock();
                    for message in moved {
                        state.insert(message);
                    }
                    drop(state);
                    target.notify.notify_waiters();
                } else {
                    // The store still has them in the source queue: put them back.
                    let mut state = source.lock();
                    for message in moved {
                        state.insert(StoredMessage { queue_id: source.id, ..message });
                    }
                }
                if let Some(done) = done {
                    done(ok);
                }
            })),
        );
    }

    /// Receives with long polling: returns as soon as a message is receivable or the wait ends.
    pub(crate) async fn receive(
        &self,
        queue: &Arc<Queue>,
        max: usize,
        visibility: Option<u32>,
        wait: Duration,
    ) -> Vec<Taken> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = queue.notify.notified();
            tokio::pin!(notified);
            // Registered before looking, so a send between the look and the wait still wakes us.
            notified.as_mut().enable();
            if queue.is_deleted() {
                return Vec::new();
            }
            let taken = self.take_messages(queue, max, visibility);
            let now = tokio::time::Instant::now();
            if !taken.is_empty() || now >= deadline {
                return taken;
            }
            let now_ms = kumo_core::time::now_millis();
            let mut wake = deadline;
            if let Some(next_ms) = queue.lock().next_available_after(now_ms) {
                wake = wake.min(now + Duration::from_millis(next_ms.saturating_sub(now_ms)));
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Renders a taken message with the requested attributes.
    pub(crate) fn render(queue: &Queue, taken: Taken, selection: &AttributeSelection) -> Message {
        let message = taken.message;
        let mut attributes = BTreeMap::new();
        let mut put = |name: &str, value: String| {
            if selection.wants_system(name) {
                attributes.insert(name.to_string(), value);
            }
        };
        put("SenderId", message.sender_id.clone());
        put("SentTimestamp", message.sent_ms.to_string());
        put("ApproximateReceiveCount", message.receive_count.to_string());
        put("ApproximateFirstReceiveTimestamp", message.first_receive_ms.to_string());
        if queue.fifo {
            put("SequenceNumber", fifo::sequence_number(message.seq));
            if let Some(id) = &message.dedup_id {
                put("MessageDeduplicationId", id.clone());
            }
        }
        if let Some(group) = &message.group_id {
            put("MessageGroupId", group.clone());
        }
        if let Some(trace) = message.system_attributes.get("AWSTraceHeader").and_then(|v| v.string_value.clone()) {
            put("AWSTraceHeader", trace);
        }
        if let Some(source) = &message.dead_letter_source {
            put("DeadLetterQueueSourceArn", source.clone());
        }
        let message_attributes: MessageAttributes = message
            .attributes
            .iter()
            .filter(|(name, _)| selection.wants_user(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Message {
            message_id: message.message_id.clone(),
            receipt_handle: taken.handle,
            md5_of_body: md5::of_body(&message.body),
            body: message.body.to_string(),
            attributes,
            md5_of_message_attributes: md5::of_attributes(&message_attributes),
            message_attributes,
        }
    }

    /// ReceiveMessage.
    pub async fn receive_message(
        &self,
        context: &SqsContext,
        request: ReceiveMessageRequest,
    ) -> Result<ReceiveMessageResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:ReceiveMessage")?;
        let max = match request.max_number_of_messages {
            None => 1,
            Some(n) if (1..=10).contains(&n) => n as usize,
            Some(n) => {
                return Err(error::invalid_parameter_value(
                    n,
                    "MaxNumberOfMessages",
                    "Must be between 1 and 10, if provided.",
                ))
            }
        };
        let visibility = request.visibility_timeout.map(visibility_timeout).transpose()?;
        let wait = match request.wait_time_seconds {
            None => u64::from(queue.lock().attributes.receive_message_wait_time_seconds),
            Some(n) if (0..=20).contains(&n) => n as u64,
            Some(n) => {
                return Err(error::invalid_parameter_value(
                    n,
                    "WaitTimeSeconds",
                    "Must be >= 0 and <= 20, if provided.",
                ))
            }
        };
        let taken = self.receive(&queue, max, visibility, Duration::from_secs(wait)).await;
        let mut system = request.attribute_names;
        system.extend(request.message_system_attribute_names);
        let selection = AttributeSelection::new(system, request.message_attribute_names);
        let messages = taken.into_iter().map(|taken| Self::render(&queue, taken, &selection)).collect();
        Ok(ReceiveMessageResponse { messages })
    }

    /// Deletes by receipt handle from memory; returns the position to delete in the store.
    fn forget(&self, queue: &Queue, handle: &str) -> Result<Option<u64>, AwsError> {
        let receipt = receipts::decode(handle)
            .filter(|receipt| receipt.queue_id == queue.id)
            .ok_or_else(|| error::receipt_handle_invalid(handle))?;
        let now = kumo_core::time::now_millis();
        let mut state = queue.lock();
        let Some(message) = state.messages.get(&receipt.seq) else {
            // Already deleted: deleting again succeeds, as in AWS.
            return Ok(None);
        };
        let current = message.receipt == receipt.token;
        if queue.fifo && (!current || message.available_ms <= now) {
            return Err(error::invalid_parameter_value(handle, "ReceiptHandle", "The receipt handle has expired."));
        }
        if !current {
            // A handle from an earlier receive: the request succeeds, the message stays.
            return Ok(None);
        }
        state.remove(receipt.seq);
        queue.counters.deleted();
        Ok(Some(receipt.seq))
    }

    /// DeleteMessage.
    pub async fn delete_message(&self, context: &SqsContext, request: DeleteMessageRequest) -> Result<Empty, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:DeleteMessage")?;
        let handle = required(&request.receipt_handle, "ReceiptHandle")?;
        if let Some(seq) = self.forget(&queue, handle)? {
            self.commit(vec![WriteOp::DeleteMessage(seq)]).await?;
            if queue.fifo {
                queue.notify.notify_waiters();
            }
        }
        Ok(Empty {})
    }

    /// DeleteMessageBatch.
    pub async fn delete_message_batch(
        &self,
        context: &SqsContext,
        request: ReceiptBatchRequest,
    ) -> Result<ReceiptBatchResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:DeleteMessage")?;
        validation::batch_ids(request.entries.iter().map(|e| e.id.as_str()), "DeleteMessageBatchRequestEntry")?;
        let mut response = ReceiptBatchResponse::default();
        let mut ops = Vec::new();
        for entry in request.entries {
            let outcome =
                required(&entry.receipt_handle, "ReceiptHandle").and_then(|handle| self.forget(&queue, handle));
            match outcome {
                Ok(seq) => {
                    ops.extend(seq.map(WriteOp::DeleteMessage));
                    response.successful.push(BatchResultEntry { id: entry.id });
                }
                Err(error) => response.failed.push(batch_error(&entry.id, &error)),
            }
        }
        if !ops.is_empty() {
            self.commit(ops).await?;
            if queue.fifo {
                queue.notify.notify_waiters();
            }
        }
        Ok(response)
    }

    /// Changes one message's visibility in memory; returns the store update.
    fn change_visibility(&self, queue: &Queue, handle: &str, timeout: u32) -> Result<WriteOp, AwsError> {
        let receipt = receipts::decode(handle)
            .filter(|receipt| receipt.queue_id == queue.id)
            .ok_or_else(|| error::receipt_handle_invalid(handle))?;
        let now = kumo_core::time::now_millis();
        let mut state = queue.lock();
        let current = state.messages.get(&receipt.seq).filter(|m| m.receipt == receipt.token).is_some();
        if !current {
            return Err(error::invalid_parameter_value(
                handle,
                "ReceiptHandle",
                "Message does not exist or is not available for visibility timeout change.",
            ));
        }
        state.set_available(receipt.seq, now + u64::from(timeout) * 1000);
        let message = state.messages.get(&receipt.seq).ok_or_else(|| error::internal("message vanished under lock"))?;
        Ok(WriteOp::UpdateMessage {
            seq: message.seq,
            available_ms: message.available_ms,
            receive_count: message.receive_count,
            first_receive_ms: message.first_receive_ms,
            receipt: message.receipt,
        })
    }

    /// ChangeMessageVisibility.
    pub async fn change_message_visibility(
        &self,
        context: &SqsContext,
        request: ChangeMessageVisibilityRequest,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:ChangeMessageVisibility")?;
        let handle = required(&request.receipt_handle, "ReceiptHandle")?;
        let timeout = visibility_timeout(
            request.visibility_timeout.ok_or_else(|| error::missing_parameter("VisibilityTimeout"))?,
        )?;
        let op = self.change_visibility(&queue, handle, timeout)?;
        self.store.submit(vec![op], None);
        queue.notify.notify_waiters();
        Ok(Empty {})
    }

    /// ChangeMessageVisibilityBatch.
    pub async fn change_message_visibility_batch(
        &self,
        context: &SqsContext,
        request: ReceiptBatchRequest,
    ) -> Result<ReceiptBatchResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:ChangeMessageVisibility")?;
        validation::batch_ids(
            request.entries.iter().map(|e| e.id.as_str()),
            "ChangeMessageVisibilityBatchRequestEntry",
        )?;
        let mut response = ReceiptBatchResponse::default();
        let mut ops = Vec::new();
        for entry in request.entries {
            let outcome = required(&entry.receipt_handle, "ReceiptHandle").and_then(|handle| {
                let timeout = entry.visibility_timeout.ok_or_else(|| error::missing_parameter("VisibilityTimeout"))?;
                self.change_visibility(&queue, handle, visibility_timeout(timeout)?)
            });
            match outcome {
                Ok(op) => {
                    ops.push(op);
                    response.successful.push(BatchResultEntry { id: entry.id });
                }
                Err(error) => response.failed.push(batch_error(&entry.id, &error)),
            }
        }
        if !ops.is_empty() {
            self.store.submit(ops, None);
            queue.notify.notify_waiters();
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::types::*;
    use crate::SqsService;

    fn context() -> SqsContext {
        SqsContext::root("000000000000", "us-east-1", "http://h:1")
    }

    #[tokio::test]
    async fn visibility_redelivery_and_stale_handles() {
        let dir = tempfile::tempdir().unwrap();
        let service = SqsService::open(dir.path(), "000000000000").unwrap();
        let created = service
            .create_queue(&context(), CreateQueueRequest { queue_name: Some("v".into()), ..Default::default() })
            .await
            .unwrap();
        let url = Some(created.queue_url);
        let send = SendMessageRequest { queue_url: url.clone(), message_body: Some("m".into()), ..Default::default() };
        service.send_message(&context(), send).await.unwrap();
        let receive = |visibility| ReceiveMessageRequest {
            queue_url: url.clone(),
            visibility_timeout: Some(visibility),
            message_system_attribute_names: vec!["ApproximateReceiveCount".into()],
            ..Default::default()
        };
        // Visibility 0: receivable again at once, with a new handle and a higher count.
        let first = service.receive_message(&context(), receive(0)).await.unwrap().messages;
        let second = service.receive_message(&context(), receive(30)).await.unwrap().messages;
        assert_eq!(first[0].message_id, second[0].message_id);
        assert_ne!(first[0].receipt_handle, second[0].receipt_handle);
        assert_eq!(second[0].attributes["ApproximateReceiveCount"], "2");
        assert!(service.receive_message(&context(), receive(30)).await.unwrap().messages.is_empty());
        // A stale handle deletes nothing; the current one deletes.
        let delete =
            |handle: &str| DeleteMessageRequest { queue_url: url.clone(), receipt_handle: Some(handle.into()) };
        service.delete_message(&context(), delete(&first[0].receipt_handle)).await.unwrap();
        let queue = service.queue_named("000000000000", "us-east-1", "v").unwrap();
        assert_eq!(queue.lock().messages.len(), 1);
        service.delete_message(&context(), delete(&second[0].receipt_handle)).await.unwrap();
        assert!(queue.lock().messages.is_empty());
        let error = service.delete_message(&context(), delete("junk")).await.unwrap_err();
        assert_eq!(error.code, "ReceiptHandleIsInvalid");
    }

    #[tokio::test]
    async fn long_poll_wakes_on_send() {
        let dir = tempfile::tempdir().unwrap();
        let service = SqsService::open(dir.path(), "000000000000").unwrap();
        service
            .create_queue(&context(), CreateQueueRequest { queue_name: Some("w".into()), ..Default::default() })
            .await
            .unwrap();
        let arn = "arn:aws:sqs:us-east-1:000000000000:w";
        let receiver = {
            let service = std::sync::Arc::clone(&service);
            tokio::spawn(async move { service.receive_internal(arn, 1, Duration::from_secs(10), None).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        service.send_internal("us-east-1", "w", "ping".into(), Default::default()).await.unwrap();
        let received = receiver.await.unwrap().unwrap();
        assert_eq!(received[0].body, "ping");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn fifo_deduplicates_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let service = SqsService::open(dir.path(), "000000000000").unwrap();
        let mut attributes = std::collections::BTreeMap::new();
        attributes.insert("FifoQueue".to_string(), "true".to_string());
        attributes.insert("ContentBasedDeduplication".to_string(), "true".to_string());
        let created = service
            .create_queue(
                &context(),
                CreateQueueRequest { queue_name: Some("f.fifo".into()), attributes, ..Default::default() },
            )
            .await
            .unwrap();
        let send = |body: &str| SendMessageRequest {
            queue_url: Some(created.queue_url.clone()),
            message_body: Some(body.into()),
            message_group_id: Some("g".into()),
            ..Default::default()
        };
        let one = service.send_message(&context(), send("same")).await.unwrap();
        let two = service.send_message(&context(), send("same")).await.unwrap();
        let three = service.send_message(&context(), send("other")).await.unwrap();
        assert_eq!(one.message_id, two.message_id);
        assert_eq!(one.sequence_number, two.sequence_number);
        assert_ne!(one.message_id, three.message_id);
        assert!(three.sequence_number > one.sequence_number);
        assert_eq!(service.queue_named("000000000000", "us-east-1", "f.fifo").unwrap().lock().messages.len(), 2);
    }
}

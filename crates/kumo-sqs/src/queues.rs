//! Queue lifecycle and settings: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
//! GetQueueAttributes, SetQueueAttributes, PurgeQueue, TagQueue, UntagQueue, ListQueueTags.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kumo_core::AwsError;

use crate::attributes::{self, QueueAttributes, RedrivePolicy, ALL_ATTRIBUTE_NAMES};
use crate::queue::{Queue, QueueState};
use crate::store::{QueueRow, WriteOp};
use crate::types::*;
use crate::{error, required, validation, SqsService};

/// Most tags on one queue.
const MAX_TAGS: usize = 50;
/// Minimum time between two purges of one queue.
const PURGE_INTERVAL_MS: u64 = 60_000;

impl SqsService {
    /// The store row of `queue` in `state`.
    pub(crate) fn queue_row(&self, queue: &Queue, state: &QueueState) -> Result<QueueRow, AwsError> {
        Ok(QueueRow {
            id: queue.id,
            account: queue.account.clone(),
            region: queue.region.clone(),
            name: queue.name.clone(),
            attributes: serde_json::to_string(&state.attributes).map_err(error::internal)?,
            tags: serde_json::to_string(&state.tags).map_err(error::internal)?,
            created_ms: state.created_ms,
            modified_ms: state.modified_ms,
            legacy_url: queue.legacy_url,
        })
    }

    /// Checks a redrive policy against the queues that exist: the dead-letter queue must be
    /// the source's account's, in its region, as in AWS.
    fn check_redrive(&self, attributes: &QueueAttributes, account: &str, region: &str) -> Result<(), AwsError> {
        let Some(text) = &attributes.redrive_policy else { return Ok(()) };
        let policy = RedrivePolicy::parse(text)?;
        let target =
            self.queue_by_arn(&policy.dead_letter_target_arn).filter(|q| q.region == region && q.account == account);
        let Some(target) = target else {
            return Err(error::invalid_parameter_value(text, "RedrivePolicy", "Dead letter target does not exist."));
        };
        if target.fifo != attributes.fifo_queue {
            return Err(error::invalid_parameter_value(
                text,
                "RedrivePolicy",
                "Dead-letter queue must be same type of queue as the source.",
            ));
        }
        Ok(())
    }

    /// CreateQueue: idempotent when the given attributes match an existing queue's.
    pub async fn create_queue(
        &self,
        context: &SqsContext,
        request: CreateQueueRequest,
    ) -> Result<QueueUrlResponse, AwsError> {
        let name = required(&request.queue_name, "QueueName")?.to_string();
        let fifo = request.attributes.get("FifoQueue").is_some_and(|value| value.eq_ignore_ascii_case("true"));
        validation::queue_name(&name, fifo)?;
        let mut attributes = QueueAttributes::defaults(fifo);
        attributes.apply(&request.attributes, true)?;
        if request.tags.len() > MAX_TAGS {
            return Err(error::invalid_parameter(format!("Too many tags added for queue {name}.")));
        }
        let arn = attributes::queue_arn(&context.region, &context.account, &name);
        self.authorize_resource(context, &arn, &context.account, None, "sqs:CreateQueue")?;
        let _lifecycle = self.lifecycle.lock().await;
        if let Some(existing) = self.queue_named(&context.account, &context.region, &name) {
            let current = existing.lock().attributes.configured();
            let requested = attributes.configured();
            for key in request.attributes.keys() {
                let key = key.as_str();
                if current.get(key) != requested.get(key) {
                    return Err(error::queue_name_exists(key));
                }
            }
            return Ok(QueueUrlResponse { queue_url: self.queue_url(context, &existing) });
        }
        self.check_redrive(&attributes, &context.account, &context.region)?;
        let now = kumo_core::time::now_millis();
        let id = self.next_queue_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let state = QueueState::new(attributes, request.tags, now, now);
        let queue = Arc::new(Queue::new(id, context.account.clone(), context.region.clone(), name.clone(), state));
        let row = self.queue_row(&queue, &queue.lock())?;
        self.commit(vec![WriteOp::PutQueue(row)]).await?;
        self.queues_write().insert((context.account.clone(), context.region.clone(), name), Arc::clone(&queue));
        tracing::info!(queue = %queue.arn, fifo, "queue created");
        Ok(QueueUrlResponse { queue_url: self.queue_url(context, &queue) })
    }

    /// GetQueueUrl.
    pub async fn get_queue_url(
        &self,
        context: &SqsContext,
        request: GetQueueUrlRequest,
    ) -> Result<QueueUrlResponse, AwsError> {
        let name = required(&request.queue_name, "QueueName")?;
        let owner = request.queue_owner_aws_account_id.as_deref().filter(|owner| !owner.is_empty());
        let owner = owner.unwrap_or(&context.account);
        let queue = self.queue_named(owner, &context.region, name).ok_or_else(error::queue_does_not_exist)?;
        self.authorize(context, &queue, "sqs:GetQueueUrl")?;
        Ok(QueueUrlResponse { queue_url: self.queue_url(context, &queue) })
    }

    /// ListQueues: sorted by name, paginated when `MaxResults` is given.
    pub async fn list_queues(
        &self,
        context: &SqsContext,
        request: ListQueuesRequest,
    ) -> Result<ListQueuesResponse, AwsError> {
        // The account's queues, as AWS names the resource of ListQueues.
        let resource = format!("arn:aws:sqs:{}:{}:", context.region, context.account);
        self.authorize_resource(context, &resource, &context.account, None, "sqs:ListQueues")?;
        let prefix = request.queue_name_prefix.unwrap_or_default();
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
        let after = match request.next_token.as_deref().filter(|token| !token.is_empty()) {
            None => None,
            Some(token) => {
                Some(decode_token(token).ok_or_else(|| error::invalid_parameter("Invalid NextToken value."))?)
            }
        };
        let mut queues: Vec<Arc<Queue>> = self
            .queues_read()
            .iter()
            .filter(|((account, region, name), _)| {
                *account == context.account
                    && *region == context.region
                    && name.starts_with(&prefix)
                    && after.as_ref().is_none_or(|after| name > after)
            })
            .map(|(_, queue)| Arc::clone(queue))
            .collect();
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        let more = queues.len() > limit && request.max_results.is_some();
        queues.truncate(limit);
        let next_token = if more { queues.last().map(|last| URL_SAFE_NO_PAD.encode(&last.name)) } else { None };
        let queue_urls = queues.iter().map(|queue| self.queue_url(context, queue)).collect();
        Ok(ListQueuesResponse { queue_urls, next_token })
    }

    /// DeleteQueue: the queue and its messages go at once.
    pub async fn delete_queue(&self, context: &SqsContext, request: QueueUrlRequest) -> Result<Empty, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:DeleteQueue")?;
        let _lifecycle = self.lifecycle.lock().await;
        self.commit(vec![WriteOp::DeleteQueue(queue.id)]).await?;
        self.queues_write().remove(&(queue.account.clone(), queue.region.clone(), queue.name.clone()));
        queue.lock().clear();
        queue.mark_deleted();
        tracing::info!(queue = %queue.arn, "queue deleted");
        Ok(Empty {})
    }

    /// GetQueueAttributes: `All` or named attributes, including the computed counts.
    pub async fn get_queue_attributes(
        &self,
        context: &SqsContext,
        request: GetQueueAttributesRequest,
    ) -> Result<GetQueueAttributesResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:GetQueueAttributes")?;
        for name in &request.attribute_names {
            if !ALL_ATTRIBUTE_NAMES.contains(&name.as_str()) {
                return Err(error::invalid_attribute_name(name));
            }
        }
        let all = request.attribute_names.iter().any(|name| name == "All");
        let wanted = |name: &str| all || request.attribute_names.iter().any(|n| n == name);
        let now = kumo_core::time::now_millis();
        let state = queue.lock();
        let counts = state.counts(now);
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in state.attributes.configured() {
            values.insert(name.to_string(), value);
        }
        values.insert("QueueArn".into(), queue.arn.clone());
        values.insert("ApproximateNumberOfMessages".into(), counts.visible.to_string());
        values.insert("ApproximateNumberOfMessagesNotVisible".into(), counts.in_flight.to_string());
        values.insert("ApproximateNumberOfMessagesDelayed".into(), counts.delayed.to_string());
        values.insert("CreatedTimestamp".into(), (state.created_ms / 1000).to_string());
        values.insert("LastModifiedTimestamp".into(), (state.modified_ms / 1000).to_string());
        drop(state);
        values.retain(|name, _| wanted(name));
        Ok(GetQueueAttributesResponse { attributes: values })
    }

    /// SetQueueAttributes.
    pub async fn set_queue_attributes(
        &self,
        context: &SqsContext,
        request: SetQueueAttributesRequest,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:SetQueueAttributes")?;
        let mut attributes = queue.lock().attributes.clone();
        attributes.apply(&request.attributes, false)?;
        if request.attributes.contains_key("RedrivePolicy") {
            self.check_redrive(&attributes, &queue.account, &queue.region)?;
        }
        let row = {
            let mut state = queue.lock();
            state.attributes = attributes;
            state.modified_ms = kumo_core::time::now_millis();
            self.queue_row(&queue, &state)?
        };
        self.commit(vec![WriteOp::PutQueue(row)]).await?;
        // A shorter delay or a new visibility setting may make messages receivable sooner.
        queue.notify.notify_waiters();
        Ok(Empty {})
    }

    /// PurgeQueue: at most once every 60 seconds, as in AWS.
    pub async fn purge_queue(&self, context: &SqsContext, request: QueueUrlRequest) -> Result<Empty, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:PurgeQueue")?;
        let now = kumo_core::time::now_millis();
        {
            let mut state = queue.lock();
            if state.last_purge_ms.is_some_and(|last| now < last + PURGE_INTERVAL_MS) {
                return Err(error::purge_in_progress(&queue.name));
            }
            state.last_purge_ms = Some(now);
            state.clear();
            // A purge forgets the deduplication ids too: the same id may be sent again at once.
            state.dedup.clear();
        }
        self.commit(vec![WriteOp::PurgeQueue(queue.id)]).await?;
        Ok(Empty {})
    }

    /// TagQueue.
    pub async fn tag_queue(&self, context: &SqsContext, request: TagQueueRequest) -> Result<Empty, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:TagQueue")?;
        if request.tags.is_empty() {
            return Err(error::missing_parameter("Tags"));
        }
        let row = {
            let mut state = queue.lock();
            let mut tags = state.tags.clone();
            tags.extend(request.tags);
            if tags.len() > MAX_TAGS {
                return Err(error::invalid_parameter(format!("Too many tags added for queue {}.", queue.name)));
            }
            state.tags = tags;
            self.queue_row(&queue, &state)?
        };
        self.commit(vec![WriteOp::PutQueue(row)]).await?;
        Ok(Empty {})
    }

    /// UntagQueue.
    pub async fn untag_queue(&self, context: &SqsContext, request: UntagQueueRequest) -> Result<Empty, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:UntagQueue")?;
        if request.tag_keys.is_empty() {
            return Err(error::missing_parameter("TagKeys"));
        }
        let row = {
            let mut state = queue.lock();
            for key in &request.tag_keys {
                state.tags.remove(key);
            }
            self.queue_row(&queue, &state)?
        };
        self.commit(vec![WriteOp::PutQueue(row)]).await?;
        Ok(Empty {})
    }

    /// ListQueueTags.
    pub async fn list_queue_tags(
        &self,
        context: &SqsContext,
        request: QueueUrlRequest,
    ) -> Result<ListQueueTagsResponse, AwsError> {
        let queue = self.queue_for_url(context, request.queue_url.as_deref(), "sqs:ListQueueTags")?;
        let tags = queue.lock().tags.clone();
        Ok(ListQueueTagsResponse { tags })
    }
}

fn decode_token(token: &str) -> Option<String> {
    URL_SAFE_NO_PAD.decode(token).ok().and_then(|bytes| String::from_utf8(bytes).ok())
}

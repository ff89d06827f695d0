//! The narrow in-process API other Kumo services use (Lambda destinations and dead-letter
//! targets, the SQS event-source-mapping poller): queues are named by ARN (or, for sends, by
//! URL too), and sends, receives and deletes keep every rule of the public API. An ARN or URL
//! names the queue's account; a bare name means the configured account's queue.

use std::sync::Arc;
use std::time::Duration;

use kumo_core::AwsError;

use crate::messages::AttributeSelection;
use crate::queue::Queue;
use crate::send::Outgoing;
use crate::types::{Message, MessageAttributes};
use crate::{error, validation, SqsService};

/// `SenderId` of messages Kumo itself sends.
pub const KUMO_SENDER_ID: &str = "kumo";

impl SqsService {
    /// Resolves a queue by ARN, URL (`…/<account>/<name>`) or name, in `region` for names and URLs.
    fn resolve(&self, region: &str, queue: &str) -> Result<Arc<Queue>, AwsError> {
        if queue.starts_with("arn:") {
            return self.queue_by_arn(queue).ok_or_else(error::queue_does_not_exist);
        }
        let mut segments = queue.rsplit('/');
        let name = segments.next().unwrap_or(queue);
        let account = segments.next().filter(|account| !account.is_empty()).unwrap_or(&self.default_account);
        self.queue_named(account, region, name).ok_or_else(error::queue_does_not_exist)
    }

    /// Sends a message to a standard queue named by ARN, URL or name; returns its message id
    /// once it is durably stored. FIFO queues need a group and are refused here.
    pub async fn send_internal(
        &self,
        region: &str,
        queue: &str,
        body: String,
        attributes: MessageAttributes,
    ) -> Result<String, AwsError> {
        self.send_internal_grouped(region, queue, body, attributes, None, None).await
    }

    /// [`Self::send_internal`] with a FIFO queue's message group and deduplication id (SNS FIFO
    /// topics' deliveries); a FIFO queue without a group is refused, as SendMessage refuses it.
    pub async fn send_internal_grouped(
        &self,
        region: &str,
        queue: &str,
        body: String,
        attributes: MessageAttributes,
        group_id: Option<String>,
        dedup_id: Option<String>,
    ) -> Result<String, AwsError> {
        let queue = self.resolve(region, queue)?;
        if queue.fifo && group_id.is_none() {
            return Err(error::missing_parameter("MessageGroupId"));
        }
        let (group_id, dedup_id) = if queue.fifo { (group_id, dedup_id) } else { (None, None) };
        validation::message_body(&body)?;
        validation::message_attributes(&attributes)?;
        let maximum = queue.lock().attributes.maximum_message_size as usize;
        if validation::message_size(&body, &attributes) > maximum {
            return Err(error::invalid_parameter(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {maximum} bytes."
            )));
        }
        let outgoing = Outgoing {
            body,
            delay_seconds: u32::MAX,
            attributes,
            system_attributes: MessageAttributes::new(),
            group_id,
            dedup_id,
        };
        let mut sent = self.enqueue(&queue, vec![outgoing], KUMO_SENDER_ID).await?;
        sent.pop().map(|sent| sent.message_id).ok_or_else(|| error::internal("a send produced no answer"))
    }

    /// Receives up to `max` (1–10) messages from the queue with this ARN, waiting up to `wait`
    /// for the first; every system and user attribute is included (what an SQS event carries).
    pub async fn receive_internal(
        &self,
        queue_arn: &str,
        max: usize,
        wait: Duration,
        visibility_timeout: Option<u32>,
    ) -> Result<Vec<Message>, AwsError> {
        let queue = self.queue_by_arn(queue_arn).ok_or_else(error::queue_does_not_exist)?;
        let taken = self.receive(&queue, max.clamp(1, 10), visibility_timeout, wait).await;
        let selection = AttributeSelection::all();
        Ok(taken.into_iter().map(|taken| Self::render(&queue, taken, &selection)).collect())
    }

    /// Whether a queue with this ARN exists.
    pub fn queue_exists(&self, queue_arn: &str) -> bool {
        self.queue_by_arn(queue_arn).is_some()
    }

    /// Whether `caller` (a function's execution role, for which Kumo reads or writes the queue
    /// in-process) may perform `action` (`sqs:ReceiveMessage`, …) on the queue with this ARN:
    /// decided as for a call of the public API, by the caller's identity policies and the
    /// queue's `Policy` (another account's queue needs its policy to grant it too). A queue that
    /// does not exist (yet) has no policy: the role's own policies decide, as IAM does on AWS.
    pub fn authorize_internal(
        &self,
        queue_arn: &str,
        caller: &kumo_core::policy::Caller<'_>,
        action: &str,
    ) -> Result<(), AwsError> {
        let queue = self.queue_by_arn(queue_arn);
        let policy = queue.as_ref().and_then(|queue| queue.lock().attributes.policy.clone());
        let statements = policy.as_deref().map(kumo_core::policy::parse_statements);
        let owner = queue_arn.split(':').nth(4).unwrap_or_default();
        let not_enforced = kumo_core::policy::Authorizer::identity_not_enforced();
        let authorizer = self.authorizer.get().unwrap_or(&not_enforced);
        authorizer
            .authorize(caller, action, queue_arn, owner, statements.as_deref(), &[])
            .map_err(|denial| error::access_denied(denial, caller.arn, action, queue_arn))
    }

    /// Whether the queue with this ARN exists and its `Policy` lets the AWS service `service`
    /// (`s3.amazonaws.com`) send to it for the resource `source_arn` of `source_account` (the
    /// check S3 makes before it takes the queue as a notification destination).
    pub fn service_may_send(&self, queue_arn: &str, service: &str, source_arn: &str, source_account: &str) -> bool {
        use kumo_core::policy::{evaluate, Effect, PolicyKind, Principal, Request};
        let Some(queue) = self.queue_by_arn(queue_arn) else { return false };
        let policy = queue.lock().attributes.policy.clone();
        let Some(statements) = policy.as_deref().map(kumo_core::policy::parse_statements) else { return false };
        let mut request = Request::new(Principal::Service(service), "sqs:SendMessage", Some(queue_arn));
        request.set("aws:SourceArn", source_arn).set("aws:SourceAccount", source_account);
        evaluate(&statements, PolicyKind::Resource, &request) == Effect::Allow
    }

    /// Deletes a received message from the queue with this ARN.
    pub async fn delete_internal(&self, queue_arn: &str, receipt_handle: &str) -> Result<(), AwsError> {
        let queue = self.queue_by_arn(queue_arn).ok_or_else(error::queue_does_not_exist)?;
        // The queue's own account deletes (the poller acts for a function of that account).
        let request = kumo_core::RequestContext::new(queue.account.clone(), queue.region.clone());
        let context = crate::SqsContext::new(request, String::new(), KUMO_SENDER_ID);
        let request = crate::types::DeleteMessageRequest {
            queue_url: Some(format!("/queue/{}/{}/{}", queue.region, queue.account, queue.name)),
            receipt_handle: Some(receipt_handle.to_string()),
        };
        self.delete_message(&context, request).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::types::{CreateQueueRequest, SqsContext};
    use crate::SqsService;

    #[tokio::test]
    async fn send_receive_delete_by_arn() {
        let dir = tempfile::tempdir().unwrap();
        let service = SqsService::open(dir.path(), "000000000000").unwrap();
        let context = SqsContext::root("000000000000", "us-east-1", "http://localhost:4566");
        let request = CreateQueueRequest { queue_name: Some("jobs".into()), ..Default::default() };
        service.create_queue(&context, request).await.unwrap();
        let arn = "arn:aws:sqs:us-east-1:000000000000:jobs";

        let id = service.send_internal("us-east-1", arn, "hello".into(), Default::default()).await.unwrap();
        let received = service.receive_internal(arn, 10, Duration::from_secs(1), Some(30)).await.unwrap();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].message_id, id);
        assert_eq!(received[0].body, "hello");
        assert_eq!(received[0].attributes["ApproximateReceiveCount"], "1");
        service.delete_internal(arn, &received[0].receipt_handle).await.unwrap();
        assert!(service.receive_internal(arn, 10, Duration::ZERO, None).await.unwrap().is_empty());
        assert!(service.send_internal("us-east-1", "missing", "x".into(), Default::default()).await.is_err());
    }
}

//! Narrow adapters between services: the SQS service as an event source for the invoke
//! engine's pollers and as a destination / dead-letter target for async invocations; SNS topics
//! as destinations, and SQS queues and Lambda functions as SNS's delivery endpoints; S3 as where
//! Lambda reads packages named by `S3Bucket`/`S3Key`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kumo_invoke::event_sources::{QueueSource, SourceMessage};
use kumo_invoke::{BoxFuture, DestinationSender};
use kumo_sqs::types::{MessageAttributeValue, MessageAttributes};
use kumo_sqs::SqsService;

/// SQS queues as seen by event source mappings.
pub struct SqsQueues(pub Arc<SqsService>);

/// Message attributes as Lambda's SQS event renders them.
fn event_attributes(attributes: &MessageAttributes) -> serde_json::Value {
    use base64::Engine as _;
    let rendered: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|(name, value)| {
            let mut attribute = serde_json::json!({
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.data_type,
            });
            if let Some(string) = &value.string_value {
                attribute["stringValue"] = serde_json::Value::String(string.clone());
            }
            if let Some(binary) = &value.binary_value {
                attribute["binaryValue"] =
                    serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(binary));
            }
            (name.clone(), attribute)
        })
        .collect();
    serde_json::Value::Object(rendered)
}

impl QueueSource for SqsQueues {
    fn exists<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move { self.0.queue_exists(arn) })
    }

    fn receive<'a>(
        &'a self,
        arn: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SourceMessage>, String>> {
        Box::pin(async move {
            let messages = self.0.receive_internal(arn, max, wait, None).await.map_err(|e| e.to_string())?;
            Ok(messages
                .into_iter()
                .map(|message| SourceMessage {
                    message_attributes: event_attributes(&message.message_attributes),
                    message_id: message.message_id,
                    receipt_handle: message.receipt_handle,
                    body: message.body,
                    attributes: message.attributes,
                    md5_of_body: message.md5_of_body,
                })
                .collect())
        })
    }

    fn delete<'a>(&'a self, arn: &'a str, receipt_handles: Vec<String>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for handle in receipt_handles {
                self.0.delete_internal(arn, &handle).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }

    fn authorize(&self, arn: &str, caller: &kumo_core::policy::Caller<'_>, action: &str) -> Result<(), String> {
        self.0.authorize_internal(arn, caller, action).map_err(|error| error.message)
    }
}

impl DestinationSender for SqsQueues {
    fn send<'a>(
        &'a self,
        arn: &'a str,
        body: String,
        attributes: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let region = arn.split(':').nth(3).unwrap_or(kumo_core::DEFAULT_REGION).to_string();
            let attributes: MessageAttributes = attributes
                .into_iter()
                .map(|(name, value)| {
                    let value = MessageAttributeValue {
                        data_type: "String".to_string(),
                        string_value: Some(value),
                        binary_value: None,
                    };
                    (name, value)
                })
                .collect::<BTreeMap<_, _>>();
            self.0.send_internal(&region, arn, body, attributes).await.map(|_| ()).map_err(|e| e.to_string())
        })
    }

    fn authorize(&self, arn: &str, caller: &kumo_core::policy::Caller<'_>, action: &str) -> Result<(), String> {
        self.0.authorize_internal(arn, caller, action).map_err(|error| error.message)
    }
}

/// Whether the resource policy of the function `arn` lets `principal` (a service) invoke it for
/// `source_arn` of `source_account`.
async fn function_grants(
    lambda: &Arc<kumo_lambda::LambdaService>,
    arn: &str,
    principal: &str,
    source_arn: String,
    source_account: &str,
) -> bool {
    let Ok(reference) = kumo_core::arn::parse_function_ref(arn) else { return false };
    let (Some(account), Some(region)) = (reference.account, reference.region) else { return false };
    let trigger = kumo_lambda::ServiceTrigger {
        service_principal: principal.to_string(),
        source_arn: Some(source_arn),
        source_account: Some(source_account.to_string()),
    };
    lambda.service_may_invoke(account, region, reference.name, reference.qualifier, trigger).await.unwrap_or(false)
}

/// Where SNS delivers: SQS queues through the SQS service, functions through Lambda's
/// asynchronous invocation (the same path as async destinations: retries, dead-letter queue and
/// destinations apply).
pub struct SnsEndpoints {
    /// The SQS service.
    pub sqs: Arc<SqsService>,
    /// The Lambda service (whose function policies another account's topic must be granted by).
    pub functions: Arc<kumo_lambda::LambdaService>,
    /// Lambda's destination sender (asynchronous invokes of `arn:aws:lambda:…` targets).
    pub lambda: Arc<dyn DestinationSender>,
}

/// The principal SNS acts as in its endpoints' policies.
const SNS_PRINCIPAL: &str = "sns.amazonaws.com";

impl SnsEndpoints {
    /// A queue or function of another account than the topic's takes deliveries only when its
    /// resource policy grants SNS for that topic: otherwise one tenant could fill another's
    /// queue, or run its function, by subscribing it. (AWS asks the same grant within one account
    /// too; Kumo does not, yet: see README.)
    async fn endpoint_grants(&self, delivery: &kumo_sns::delivery::Delivery) -> Result<(), String> {
        let account_of = |arn: &str| arn.split(':').nth(4).map(str::to_string).unwrap_or_default();
        let (topic_account, endpoint_account) = (account_of(&delivery.topic_arn), account_of(&delivery.endpoint));
        if topic_account == endpoint_account {
            return Ok(());
        }
        let (topic, source_account) = (delivery.topic_arn.clone(), topic_account.as_str());
        let granted = match delivery.protocol.as_str() {
            "sqs" => self.sqs.service_may_send(&delivery.endpoint, SNS_PRINCIPAL, &topic, source_account),
            "lambda" => {
                function_grants(&self.functions, &delivery.endpoint, SNS_PRINCIPAL, topic, source_account).await
            }
            _ => true,
        };
        if granted {
            Ok(())
        } else {
            Err(format!("the policy of {} does not let SNS deliver from {}", delivery.endpoint, delivery.topic_arn))
        }
    }
}

impl kumo_sns::delivery::Endpoints for SnsEndpoints {
    fn deliver<'a>(&'a self, delivery: &'a kumo_sns::delivery::Delivery) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.endpoint_grants(delivery).await?;
            match delivery.protocol.as_str() {
                "lambda" => self.lambda.send(&delivery.endpoint, delivery.body.clone(), Vec::new()).await,
                "sqs" => {
                    let region = delivery.endpoint.split(':').nth(3).unwrap_or(kumo_core::DEFAULT_REGION);
                    let attributes: MessageAttributes = delivery
                        .attributes
                        .iter()
                        .map(|attribute| {
                            let value = MessageAttributeValue {
                                data_type: attribute.data_type.clone(),
                                string_value: attribute.string_value.clone(),
                                binary_value: attribute.binary_value.clone(),
                            };
                            (attribute.name.clone(), value)
                        })
                        .collect();
                    let (body, group, dedup) =
                        (delivery.body.clone(), delivery.group_id.clone(), delivery.dedup_id.clone());
                    let sent =
                        self.sqs.send_internal_grouped(region, &delivery.endpoint, body, attributes, group, dedup);
                    sent.await.map(|_| ()).map_err(|error| error.to_string())
                }
                other => Err(format!("Kumo cannot deliver to {other} endpoints")),
            }
        })
    }
}

/// SNS topics as destinations and dead-letter targets of asynchronous invocations.
pub struct SnsTopics(pub Arc<kumo_sns::SnsService>);

impl DestinationSender for SnsTopics {
    fn send<'a>(
        &'a self,
        arn: &'a str,
        body: String,
        attributes: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(
            async move { self.0.publish_internal(arn, body, attributes).await.map(|_| ()).map_err(|e| e.to_string()) },
        )
    }

    fn authorize(&self, arn: &str, caller: &kumo_core::policy::Caller<'_>, action: &str) -> Result<(), String> {
        self.0.authorize_internal(arn, caller, action).map_err(|error| error.message)
    }
}

/// Kumo's S3 as where Lambda reads packages named by `S3Bucket`/`S3Key`.
pub struct S3CodeObjects {
    /// The S3 service.
    pub s3: Arc<kumo_s3::S3Service>,
    /// The runtime Lambda's blocking tasks belong to: a read runs on it, awaited in place.
    pub runtime: tokio::runtime::Handle,
}

impl kumo_lambda::code_source::CodeObjects for S3CodeObjects {
    fn read(
        &self,
        context: &kumo_core::RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, kumo_lambda::code_source::CodeObjectError> {
        use kumo_lambda::code_source::CodeObjectError;
        use kumo_s3::internal::{ObjectRef, ReadError};
        let read = self.s3.read_object(context, ObjectRef { bucket, key, version }, max_bytes);
        self.runtime.block_on(read).map_err(|error| match error {
            ReadError::S3 { code, message } => CodeObjectError::S3 { code, message },
            ReadError::TooLarge => CodeObjectError::TooLarge,
        })
    }
}

/// Where S3's event notifications go: SQS queues, SNS topics, and Lambda functions through the
/// asynchronous invocation queue (the same path as async destinations: retries, dead-letter
/// queue and destinations apply).
pub struct S3NotificationTargets {
    /// The Lambda service (whose function policies S3 must be granted by).
    pub lambda: Arc<kumo_lambda::LambdaService>,
    /// Lambda's destination sender (asynchronous invokes of `arn:aws:lambda:…` targets).
    pub functions: Arc<dyn DestinationSender>,
    /// The SQS service.
    pub sqs: Arc<SqsService>,
    /// The SNS service.
    pub sns: Arc<kumo_sns::SnsService>,
}

/// The principal S3 acts as in its destinations' policies.
const S3_PRINCIPAL: &str = "s3.amazonaws.com";

impl kumo_s3::notifications::delivery::Targets for S3NotificationTargets {
    fn validate<'a>(
        &'a self,
        kind: kumo_s3::notifications::DestinationKind,
        arn: &'a str,
        bucket: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, bool> {
        use kumo_s3::notifications::DestinationKind;
        Box::pin(async move {
            let source_arn = format!("arn:aws:s3:::{bucket}");
            match kind {
                DestinationKind::Queue => self.sqs.service_may_send(arn, S3_PRINCIPAL, &source_arn, owner),
                DestinationKind::Topic => self.sns.service_may_publish(arn, S3_PRINCIPAL, &source_arn, owner),
                DestinationKind::Lambda => function_grants(&self.lambda, arn, S3_PRINCIPAL, source_arn, owner).await,
            }
        })
    }

    fn deliver<'a>(
        &'a self,
        arn: &'a str,
        body: String,
        bucket: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        use kumo_s3::notifications::DestinationKind;
        Box::pin(async move {
            // As on AWS, a destination whose policy stopped granting S3 gets nothing more.
            let kind = match arn.split(':').nth(2) {
                Some("lambda") => DestinationKind::Lambda,
                Some("sns") => DestinationKind::Topic,
                _ => DestinationKind::Queue,
            };
            if !self.validate(kind, arn, bucket, owner).await {
                return Err(format!("the policy of {arn} does not let S3 send notifications of {bucket}"));
            }
            match kind {
                DestinationKind::Lambda => self.functions.send(arn, body, Vec::new()).await,
                DestinationKind::Topic => {
                    let published =
                        self.sns.publish_from_service(arn, Some("Amazon S3 Notification"), body, Vec::new());
                    published.await.map(|_| ()).map_err(|error| error.to_string())
                }
                DestinationKind::Queue => {
                    let region = arn.split(':').nth(3).unwrap_or(kumo_core::DEFAULT_REGION);
                    let sent = self.sqs.send_internal(region, arn, body, MessageAttributes::new());
                    sent.await.map(|_| ()).map_err(|error| error.to_string())
                }
            }
        })
    }
}

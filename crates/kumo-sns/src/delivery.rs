//! Fan-out: what leaves SNS for each subscriber, and the background work that sends it.
//!
//! Publish stores its [`Notification`] in the outbox (one group commit) and hands it to the
//! [`Outbox`]; a dispatcher task delivers it to every confirmed subscription whose filter
//! policy passes, through the binary's [`Endpoints`] bridge (SQS sends, Lambda asynchronous
//! invokes), and removes the outbox row once every delivery was made or given up. A row left
//! by a crash is delivered again at the next start: at least once. Standard topics' messages fan
//! out concurrently (bounded); a FIFO topic's are delivered one after another, in order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{OutboxRow, WriteOp};
use crate::types::{MessageAttributeValue, MessageAttributes};
use crate::{SnsService, Subscription};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Messages fanned out at once (each to all its subscribers).
const CONCURRENT_MESSAGES: usize = 64;
/// Attempts at one delivery before it is given up (to the dead-letter queue, if any).
const ATTEMPTS: u32 = 3;
/// Pause before the second attempt; doubled after.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Test hook: milliseconds every fan-out waits before its first delivery, so a test can kill
/// Kumo between Publish's answer and the delivery.
const DELAY_ENV: &str = "KUMO_SNS_DELIVERY_DELAY_MS";

/// One message attribute as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttribute {
    /// Name.
    pub name: String,
    /// `String`, `Number`, `Binary`, … as published.
    pub data_type: String,
    /// Value of string and number attributes.
    pub string_value: Option<String>,
    /// Value of binary attributes.
    pub binary_value: Option<Vec<u8>>,
}

/// What one subscriber is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `sqs` or `lambda`.
    pub protocol: String,
    /// The queue's or function's ARN.
    pub endpoint: String,
    /// The SQS message body or the Lambda event.
    pub body: String,
    /// SQS message attributes (raw delivery only).
    pub attributes: Vec<DeliveryAttribute>,
    /// FIFO group, for a FIFO queue.
    pub group_id: Option<String>,
    /// FIFO deduplication id, for a FIFO queue.
    pub dedup_id: Option<String>,
    /// HTTP headers (`http` endpoints).
    pub headers: Vec<(String, String)>,
}

/// Where SNS hands deliveries: bridged by the binary to the SQS service and to Lambda's
/// asynchronous invocation (whose retries, dead-letter queue and destinations apply).
pub trait Endpoints: Send + Sync + 'static {
    /// Sends one delivery; `Err` says why it could not be made.
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), String>>;
}

/// A published message, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Outbox position.
    pub seq: u64,
    /// Message id.
    pub message_id: String,
    /// The topic.
    pub topic_arn: String,
    /// Subject, if given.
    pub subject: Option<String>,
    /// The message (`MessageStructure=json`: its `default`).
    pub message: String,
    /// Per-protocol messages of `MessageStructure=json`.
    pub per_protocol: Option<BTreeMap<String, String>>,
    /// Message attributes.
    pub attributes: MessageAttributes,
    /// Publish time, epoch ms.
    pub timestamp_ms: u64,
    /// FIFO group.
    pub group_id: Option<String>,
    /// FIFO deduplication id (given or content-based).
    pub dedup_id: Option<String>,
    /// FIFO sequence number.
    pub sequence_number: Option<String>,
}

impl Notification {
    /// The message a subscriber of `protocol` gets.
    fn message_for(&self, protocol: &str) -> &str {
        self.per_protocol.as_ref().and_then(|messages| messages.get(protocol)).map_or(&self.message, String::as_str)
    }
}

/// Committed messages waiting for their fan-out.
pub struct Outbox {
    sender: tokio::sync::mpsc::UnboundedSender<Notification>,
    receiver: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Notification>>>,
}

impl Outbox {
    /// An outbox holding the rows a previous run left undelivered.
    pub(crate) fn new(rows: Vec<OutboxRow>) -> Self {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        for row in rows {
            match serde_json::from_str::<Notification>(&row.message) {
                Ok(notification) => {
                    let _ = sender.send(notification);
                }
                Err(error) => tracing::error!(%error, seq = row.seq, "an undelivered sns message could not be read"),
            }
        }
        Self { sender, receiver: Mutex::new(Some(receiver)) }
    }

    /// Hands a committed message to the fan-out.
    pub(crate) fn push(&self, notification: Notification) {
        // The receiver lives as long as the service; until delivery starts, messages wait.
        let _ = self.sender.send(notification);
    }
}

/// `2026-12-07T21:00:00.123Z`.
pub(crate) fn timestamp(millis: u64) -> String {
    let seconds = kumo_core::time::iso8601(millis);
    let without_zone = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{without_zone}.{:03}Z", millis % 1000)
}

/// A message attribute as the envelope and the Lambda event show it: `{"Type", "Value"}`.
#[derive(Debug, Serialize)]
struct EnvelopeAttribute<'a> {
    #[serde(rename = "Type")]
    data_type: &'a str,
    #[serde(rename = "Value")]
    value: String,
}

fn envelope_attributes(attributes: &MessageAttributes) -> BTreeMap<&str, EnvelopeAttribute<'_>> {
    attributes
        .iter()
        .map(|(name, value)| {
            let data_type = value.data_type.as_deref().unwrap_or("String");
            let text = value.string_value.clone().or_else(|| value.binary_value.clone()).unwrap_or_default();
            (name.as_str(), EnvelopeAttribute { data_type, value: text })
        })
        .collect()
}

/// The JSON envelope an SQS (or raw-less HTTP) subscriber receives, in AWS's key order.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "SequenceNumber", skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a str>,
    #[serde(rename = "TopicArn")]
    topic_arn: &'a str,
    #[serde(rename = "Subject", skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(rename = "Message")]
    message: &'a str,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "Signature")]
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "UnsubscribeURL")]
    unsubscribe_url: String,
    #[serde(rename = "MessageAttributes", skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<&'a str, EnvelopeAttribute<'a>>,
}

/// The message that asks an HTTP endpoint to confirm its subscription.
#[derive(Debug, Serialize)]
struct Confirmation<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "Token")]
    token: &'a str,
    #[serde(rename = "TopicArn")]
    topic_arn: &'a str,
    #[serde(rename = "Message")]
    message: &'a str,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: String,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "Signature")]
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
}

/// The SNS object of a Lambda event record.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LambdaSns<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    message_id: &'a str,
    topic_arn: &'a str,
    subject: Option<&'a str>,
    message: &'a str,
    timestamp: String,
    signature_version: &'a str,
    signature: String,
    signing_cert_url: String,
    unsubscribe_url: String,
    message_attributes: BTreeMap<&'a str, EnvelopeAttribute<'a>>,
}

/// One record of the Lambda event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LambdaRecord<'a> {
    event_source: &'a str,
    event_version: &'a str,
    event_subscription_arn: &'a str,
    sns: LambdaSns<'a>,
}

/// The Lambda event of an SNS delivery.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LambdaEvent<'a> {
    records: [LambdaRecord<'a>; 1],
}

/// The fields every notification form shares.
struct Common {
    timestamp: String,
    signature: String,
    signing_cert_url: String,
    unsubscribe_url: String,
}

impl SnsService {
    fn common(&self, notification: &Notification, subscription: &Subscription, message: &str) -> Common {
        use base64::Engine as _;
        use sha2::Digest as _;
        let timestamp = timestamp(notification.timestamp_ms);
        // AWS signs SHA1withRSA with its certificate; Kumo has no certificate to publish yet, so
        // the field carries a digest of the same string-to-sign (not verifiable as a signature).
        let mut string_to_sign = format!("Message\n{message}\nMessageId\n{}\n", notification.message_id);
        if let Some(subject) = &notification.subject {
            string_to_sign.push_str(&format!("Subject\n{subject}\n"));
        }
        string_to_sign
            .push_str(&format!("Timestamp\n{timestamp}\nTopicArn\n{}\nType\nNotification\n", notification.topic_arn));
        let signature = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(string_to_sign));
        let base = self.endpoint_url.trim_end_matches('/');
        let arn: String = form_encode(&subscription.arn);
        Common {
            timestamp,
            signature,
            signing_cert_url: format!("{base}/_kumo/sns/SimpleNotificationService.pem"),
            unsubscribe_url: format!("{base}/?Action=Unsubscribe&SubscriptionArn={arn}"),
        }
    }

    /// What `subscription` is sent for `notification`.
    pub(crate) fn delivery_for(&self, notification: &Notification, subscription: &Subscription) -> Delivery {
        let raw = subscription.lock().attributes.get("RawMessageDelivery").is_some_and(|raw| raw == "true");
        let message = notification.message_for(&subscription.protocol);
        let fifo_queue = subscription.endpoint.ends_with(".fifo");
        let mut delivery = Delivery {
            protocol: subscription.protocol.clone(),
            endpoint: subscription.endpoint.clone(),
            body: String::new(),
            attributes: Vec::new(),
            group_id: fifo_queue.then(|| notification.group_id.clone()).flatten(),
            dedup_id: fifo_queue.then(|| notification.dedup_id.clone()).flatten(),
            headers: Vec::new(),
        };
        if matches!(subscription.protocol.as_str(), "http" | "https") {
            delivery.headers = vec![
                ("x-amz-sns-message-type".to_string(), "Notification".to_string()),
                ("x-amz-sns-message-id".to_string(), notification.message_id.clone()),
                ("x-amz-sns-topic-arn".to_string(), notification.topic_arn.clone()),
                ("x-amz-sns-subscription-arn".to_string(), subscription.arn.clone()),
            ];
            if raw {
                delivery.headers.push(("x-amz-sns-rawdelivery".to_string(), "true".to_string()));
            }
        }
        if raw {
            delivery.body = message.to_string();
            delivery.attributes =
                notification.attributes.iter().map(|(name, value)| delivery_attribute(name, value)).collect();
            return delivery;
        }
        let common = self.common(notification, subscription, message);
        let body = if subscription.protocol == "lambda" {
            let event = LambdaEvent {
                records: [LambdaRecord {
                    event_source: "aws:sns",
                    event_version: "1.0",
                    event_subscription_arn: &subscription.arn,
                    sns: LambdaSns {
                        kind: "Notification",
                        message_id: &notification.message_id,
                        topic_arn: &notification.topic_arn,
                        subject: notification.subject.as_deref(),
                        message,
                        timestamp: common.timestamp,
                        signature_version: "1",
                        signature: common.signature,
                        signing_cert_url: common.signing_cert_url,
                        unsubscribe_url: common.unsubscribe_url,
                        message_attributes: envelope_attributes(&notification.attributes),
                    },
                }],
            };
            serde_json::to_string(&event)
        } else {
            let envelope = Envelope {
                kind: "Notification",
                message_id: &notification.message_id,
                sequence_number: notification.sequence_number.as_deref(),
                topic_arn: &notification.topic_arn,
                subject: notification.subject.as_deref(),
                message,
                timestamp: common.timestamp,
                signature_version: "1",
                signature: common.signature,
                signing_cert_url: common.signing_cert_url,
                unsubscribe_url: common.unsubscribe_url,
                message_attributes: envelope_attributes(&notification.attributes),
            };
            serde_json::to_string(&envelope)
        };
        // Serialising strings and maps of strings cannot fail.
        delivery.body = body.unwrap_or_default();
        delivery
    }

    /// The `SubscriptionConfirmation` message an `http`/`https` subscription is sent.
    pub(crate) fn confirmation_for(&self, subscription: &Subscription, token: &str) -> Delivery {
        let message_id = uuid::Uuid::new_v4().to_string();
        let notification = Notification {
            seq: 0,
            message_id: message_id.clone(),
            topic_arn: subscription.topic_arn.clone(),
            subject: None,
            message: format!(
                "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
                subscription.topic_arn
            ),
            per_protocol: None,
            attributes: MessageAttributes::new(),
            timestamp_ms: kumo_core::time::now_millis(),
            group_id: None,
            dedup_id: None,
            sequence_number: None,
        };
        let common = self.common(&notification, subscription, &notification.message);
        let base = self.endpoint_url.trim_end_matches('/');
        let confirmation = Confirmation {
            kind: "SubscriptionConfirmation",
            message_id: &message_id,
            token,
            topic_arn: &subscription.topic_arn,
            message: &notification.message,
            subscribe_url: format!(
                "{base}/?Action=ConfirmSubscription&TopicArn={}&Token={token}",
                form_encode(&subscription.topic_arn)
            ),
            timestamp: common.timestamp,
            signature_version: "1",
            signature: common.signature,
            signing_cert_url: common.signing_cert_url,
        };
        Delivery {
            protocol: subscription.protocol.clone(),
            endpoint: subscription.endpoint.clone(),
            // Serialising strings cannot fail.
            body: serde_json::to_string(&confirmation).unwrap_or_default(),
            attributes: Vec::new(),
            group_id: None,
            dedup_id: None,
            headers: vec![
                ("x-amz-sns-message-type".to_string(), "SubscriptionConfirmation".to_string()),
                ("x-amz-sns-message-id".to_string(), message_id.clone()),
                ("x-amz-sns-topic-arn".to_string(), subscription.topic_arn.clone()),
            ],
        }
    }

    /// Starts delivering: what earlier runs left in the outbox first, then every message
    /// Publish commits. Call once, when `endpoints` can take deliveries.
    pub fn start_delivery(self: &Arc<Self>, endpoints: Arc<dyn Endpoints>) {
        let receiver = self.outbox.receiver.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let Some(mut receiver) = receiver else {
            tracing::warn!("sns delivery was started twice");
            return;
        };
        let delay = std::env::var(DELAY_ENV).ok().and_then(|ms| ms.parse().ok()).map(Duration::from_millis);
        let service = Arc::downgrade(self);
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_MESSAGES));
        tokio::spawn(async move {
            while let Some(notification) = receiver.recv().await {
                let Some(sns) = service.upgrade() else { return };
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
                let endpoints = Arc::clone(&endpoints);
                let fifo = notification.sequence_number.is_some();
                let work = async move {
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    sns.fan_out(&notification, &endpoints).await;
                    sns.store.submit(vec![WriteOp::DeleteOutbox(notification.seq)], None);
                    drop(slot);
                };
                if fifo {
                    work.await;
                } else {
                    tokio::spawn(work);
                }
            }
        });
    }

    /// Delivers `notification` to every confirmed subscription of its topic that its filter
    /// policy lets through, all at once; returns when every delivery was made or given up.
    async fn fan_out(self: &Arc<Self>, notification: &Notification, endpoints: &Arc<dyn Endpoints>) {
        let mut deliveries = tokio::task::JoinSet::new();
        for subscription in self.subscriptions_of(&notification.topic_arn) {
            let (confirmed, filter) = {
                let state = subscription.lock();
                (state.pending_token.is_none(), state.filter.clone())
            };
            if !confirmed || !matches!(subscription.protocol.as_str(), "sqs" | "lambda" | "http" | "https") {
                continue;
            }
            let body_for_filter = notification.message_for(&subscription.protocol);
            if filter.is_some_and(|filter| !filter.matches(&notification.attributes, body_for_filter)) {
                continue;
            }
            let delivery = self.delivery_for(notification, &subscription);
            let redrive = subscription.lock().attributes.get("RedrivePolicy").cloned();
            let target = match subscription.protocol.as_str() {
                "http" | "https" => Arc::clone(&self.http) as Arc<dyn Endpoints>,
                _ => Arc::clone(endpoints),
            };
            let dead_letters = Arc::clone(endpoints);
            let arn = subscription.arn.clone();
            deliveries.spawn(async move { deliver(&target, &dead_letters, delivery, redrive, &arn).await });
        }
        while deliveries.join_next().await.is_some() {}
    }
}

/// Makes one delivery, retrying; a delivery that keeps failing goes to the subscription's
/// dead-letter queue when it has one, and is logged either way.
async fn deliver(
    target: &Arc<dyn Endpoints>,
    dead_letters: &Arc<dyn Endpoints>,
    delivery: Delivery,
    redrive: Option<String>,
    subscription: &str,
) {
    let mut pause = FIRST_RETRY;
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        match target.deliver(&delivery).await {
            Ok(()) => return,
            Err(error) => last_error = error,
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    tracing::warn!(subscription, endpoint = %delivery.endpoint, error = %last_error, "sns delivery failed");
    let dead_letter_queue = redrive
        .as_deref()
        .and_then(|policy| serde_json::from_str::<serde_json::Value>(policy).ok())
        .and_then(|policy| policy.get("deadLetterTargetArn").and_then(|arn| arn.as_str()).map(str::to_string));
    if let Some(dead_letter_queue) = dead_letter_queue {
        let dead_letter =
            Delivery { protocol: "sqs".to_string(), endpoint: dead_letter_queue, headers: Vec::new(), ..delivery };
        if let Err(error) = dead_letters.deliver(&dead_letter).await {
            tracing::warn!(subscription, dead_letter_queue = %dead_letter.endpoint, %error, "sns dead-letter delivery failed");
        }
    }
}

fn delivery_attribute(name: &str, value: &MessageAttributeValue) -> DeliveryAttribute {
    use base64::Engine as _;
    DeliveryAttribute {
        name: name.to_string(),
        data_type: value.data_type.clone().unwrap_or_else(|| "String".to_string()),
        string_value: value.string_value.clone(),
        binary_value: value
            .binary_value
            .as_deref()
            .and_then(|binary| base64::engine::general_purpose::STANDARD.decode(binary).ok()),
    }
}

/// `application/x-www-form-urlencoded` form of one value.
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_carry_milliseconds() {
        assert_eq!(super::timestamp(1_764_181_617_023), "2025-11-26T18:26:57.023Z");
    }
}

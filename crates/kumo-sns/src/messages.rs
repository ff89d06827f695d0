//! What each subscriber is sent, in AWS's formats: the JSON envelope (SQS, HTTP/S), the Lambda
//! event, the raw message, and the `SubscriptionConfirmation` / `UnsubscribeConfirmation`
//! messages of HTTP/S endpoints; every non-raw form signed as AWS signs it ([`crate::signing`]),
//! with the topic's `SignatureVersion`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::delivery::{Delivery, DeliveryAttribute, Notification};
use crate::signing::string_to_sign;
use crate::types::{MessageAttributeValue, MessageAttributes};
use crate::{SnsService, Subscription};

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
    timestamp: &'a str,
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "Signature")]
    signature: &'a str,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: &'a str,
    #[serde(rename = "UnsubscribeURL")]
    unsubscribe_url: String,
    #[serde(rename = "MessageAttributes", skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<&'a str, EnvelopeAttribute<'a>>,
}

/// The message that asks an HTTP endpoint to confirm its subscription, or tells it that it
/// was unsubscribed.
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
    subscribe_url: &'a str,
    #[serde(rename = "Timestamp")]
    timestamp: &'a str,
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "Signature")]
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: &'a str,
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
    timestamp: &'a str,
    signature_version: &'a str,
    signature: &'a str,
    signing_cert_url: &'a str,
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

/// What the signed forms of one notification share; signatures are made once per distinct
/// message text (a `MessageStructure=json` message has one per protocol), not per subscriber:
/// the subscriber-specific `UnsubscribeURL` is not part of the string-to-sign.
pub(crate) struct SignedForms<'n> {
    notification: &'n Notification,
    timestamp: String,
    signature_version: String,
    signing_cert_url: String,
    signatures: BTreeMap<String, String>,
}

impl<'n> SignedForms<'n> {
    /// The forms of `notification` for a topic signing with `signature_version`.
    pub(crate) fn new(sns: &SnsService, notification: &'n Notification, signature_version: &str) -> Self {
        Self {
            notification,
            timestamp: timestamp(notification.timestamp_ms),
            signature_version: if signature_version == "2" { "2" } else { "1" }.to_string(),
            signing_cert_url: sns.signing_cert_url(),
            signatures: BTreeMap::new(),
        }
    }

    /// AWS's string-to-sign of the notification carrying `message`.
    fn string_to_sign(&self, message: &str) -> String {
        let notification = self.notification;
        string_to_sign(&[
            ("Message", Some(message)),
            ("MessageId", Some(&notification.message_id)),
            ("Subject", notification.subject.as_deref()),
            ("Timestamp", Some(&self.timestamp)),
            ("TopicArn", Some(&notification.topic_arn)),
            ("Type", Some("Notification")),
        ])
    }

    /// Signs the notification for each of `messages` on a blocking thread (an RSA signature
    /// takes about two milliseconds of CPU: too long for an async worker).
    pub(crate) async fn sign<'m>(&mut self, sns: &SnsService, messages: impl Iterator<Item = &'m str>) {
        let mut texts: BTreeMap<String, String> = BTreeMap::new();
        for message in messages {
            if !self.signatures.contains_key(message) && !texts.contains_key(message) {
                texts.insert(message.to_string(), self.string_to_sign(message));
            }
        }
        if texts.is_empty() {
            return;
        }
        let (signer, version) = (Arc::clone(&sns.signer), self.signature_version.clone());
        let signing = tokio::task::spawn_blocking(move || {
            texts.into_iter().map(|(message, text)| (message, signer.sign(&version, &text))).collect::<Vec<_>>()
        });
        if let Ok(signed) = signing.await {
            self.signatures.extend(signed);
        }
    }

    /// The signature of the notification carrying `message` (made here if [`Self::sign`] did
    /// not make it).
    fn signature(&mut self, sns: &SnsService, message: &str) -> String {
        if let Some(signature) = self.signatures.get(message) {
            return signature.clone();
        }
        let signature = sns.signer.sign(&self.signature_version, &self.string_to_sign(message));
        self.signatures.insert(message.to_string(), signature.clone());
        signature
    }
}

impl SnsService {
    /// Where the signing certificate is published.
    pub(crate) fn signing_cert_url(&self) -> String {
        format!("{}{}", self.endpoint_url.trim_end_matches('/'), self.signer.certificate_path())
    }

    fn unsubscribe_url(&self, subscription_arn: &str) -> String {
        let base = self.endpoint_url.trim_end_matches('/');
        format!("{base}/?Action=Unsubscribe&SubscriptionArn={}", form_encode(subscription_arn))
    }

    /// What `subscription` is sent for the notification of `forms`; `content_type` is the
    /// subscription's effective request content type (HTTP/S).
    pub(crate) fn delivery_for(
        &self,
        forms: &mut SignedForms<'_>,
        subscription: &Subscription,
        content_type: Option<String>,
    ) -> Delivery {
        let notification = forms.notification;
        let raw = subscription.lock().attributes.get("RawMessageDelivery").is_some_and(|raw| raw == "true");
        let message = notification.message_for(&subscription.protocol);
        let fifo_queue = subscription.endpoint.ends_with(".fifo");
        let mut delivery = Delivery {
            topic_arn: subscription.topic_arn.clone(),
            protocol: subscription.protocol.clone(),
            endpoint: subscription.endpoint.clone(),
            body: String::new(),
            attributes: Vec::new(),
            group_id: fifo_queue.then(|| notification.group_id.clone()).flatten(),
            dedup_id: fifo_queue.then(|| notification.dedup_id.clone()).flatten(),
            headers: Vec::new(),
            content_type,
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
        let signature = forms.signature(self, message);
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
                        timestamp: &forms.timestamp,
                        signature_version: &forms.signature_version,
                        signature: &signature,
                        signing_cert_url: &forms.signing_cert_url,
                        unsubscribe_url: self.unsubscribe_url(&subscription.arn),
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
                timestamp: &forms.timestamp,
                signature_version: &forms.signature_version,
                signature: &signature,
                signing_cert_url: &forms.signing_cert_url,
                unsubscribe_url: self.unsubscribe_url(&subscription.arn),
                message_attributes: envelope_attributes(&notification.attributes),
            };
            serde_json::to_string(&envelope)
        };
        // Serialising strings and maps of strings cannot fail.
        delivery.body = body.unwrap_or_default();
        delivery
    }

    /// The `SubscriptionConfirmation` (`unsubscribed`: `UnsubscribeConfirmation`) message an
    /// `http`/`https` subscription is sent, signed with the topic's `SignatureVersion`.
    pub(crate) fn confirmation_for(&self, subscription: &Subscription, token: &str, unsubscribed: bool) -> Delivery {
        let message_id = uuid::Uuid::new_v4().to_string();
        let topic = &subscription.topic_arn;
        let (kind, message) = if unsubscribed {
            (
                "UnsubscribeConfirmation",
                format!(
                    "You have chosen to deactivate subscription {}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
                    subscription.arn
                ),
            )
        } else {
            (
                "SubscriptionConfirmation",
                format!(
                    "You have chosen to subscribe to the topic {topic}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
                ),
            )
        };
        let (signature_version, content_type) = self.http_settings_of(subscription);
        let base = self.endpoint_url.trim_end_matches('/');
        let subscribe_url = format!("{base}/?Action=ConfirmSubscription&TopicArn={}&Token={token}", form_encode(topic));
        let timestamp = timestamp(kumo_core::time::now_millis());
        let text = string_to_sign(&[
            ("Message", Some(&message)),
            ("MessageId", Some(&message_id)),
            ("SubscribeURL", Some(&subscribe_url)),
            ("Timestamp", Some(&timestamp)),
            ("Token", Some(token)),
            ("TopicArn", Some(topic)),
            ("Type", Some(kind)),
        ]);
        let signing_cert_url = self.signing_cert_url();
        let confirmation = Confirmation {
            kind,
            message_id: &message_id,
            token,
            topic_arn: topic,
            message: &message,
            subscribe_url: &subscribe_url,
            timestamp: &timestamp,
            signature_version: &signature_version,
            signature: self.signer.sign(&signature_version, &text),
            signing_cert_url: &signing_cert_url,
        };
        let mut headers = vec![
            ("x-amz-sns-message-type".to_string(), kind.to_string()),
            ("x-amz-sns-message-id".to_string(), message_id.clone()),
            ("x-amz-sns-topic-arn".to_string(), topic.clone()),
        ];
        if unsubscribed {
            headers.push(("x-amz-sns-subscription-arn".to_string(), subscription.arn.clone()));
        }
        Delivery {
            topic_arn: topic.clone(),
            protocol: subscription.protocol.clone(),
            endpoint: subscription.endpoint.clone(),
            // Serialising strings cannot fail.
            body: serde_json::to_string(&confirmation).unwrap_or_default(),
            attributes: Vec::new(),
            group_id: None,
            dedup_id: None,
            headers,
            content_type: Some(content_type),
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

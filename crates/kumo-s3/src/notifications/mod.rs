//! Event notifications: a bucket's configuration (Put/GetBucketNotificationConfiguration) as
//! [`Rules`], checked as S3 checks it, and the rules a change of an object matches.
//!
//! A change's messages are written to the outbox in the transaction of the change itself (see
//! [`crate::store::S3Store::put_object`]), so an answered request never loses its notification;
//! [`delivery`] sends them in the background through the binary's [`delivery::Targets`] bridge.

pub mod delivery;
mod records;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};
use serde::{Deserialize, Serialize};

use crate::store::{BucketRow, OutboxEntry};
use crate::{errors, S3Service};

pub use records::{event_records, ObjectEvent};

/// Every event type S3 takes in a configuration (botocore's `Event` enum); Kumo emits the
/// `ObjectCreated` and `ObjectRemoved` ones, the others are kept and never fire.
const EVENTS: &[&str] = &[
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAnnotation:*",
    "s3:ObjectAnnotation:Put",
    "s3:ObjectAnnotation:Delete",
    "s3:ObjectRetention:Put",
    "s3:MultipartUpload:*",
    "s3:MultipartUpload:PartUploaded",
    "s3:MultipartUpload:PartCopied",
    "s3:MultipartUpload:Aborted",
];

/// The longest prefix or suffix a filter rule takes (a key's length).
const MAX_FILTER_VALUE: usize = 1024;
/// The most configurations a bucket takes: Kumo's own bound (AWS documents none), which keeps
/// the pairwise overlap check of a 2 MB document cheap.
const MAX_RULES: usize = 1000;

/// What a notification goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestinationKind {
    /// A Lambda function, invoked asynchronously.
    Lambda,
    /// An SQS queue.
    Queue,
    /// An SNS topic.
    Topic,
}

/// One configuration of a bucket: its events, its key filter and where it sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// `Id`, generated when the configuration gave none.
    pub id: String,
    /// The destination's kind.
    pub kind: DestinationKind,
    /// The destination's ARN.
    pub arn: String,
    /// Event types (`s3:ObjectCreated:*`, …).
    pub events: Vec<String>,
    /// `prefix` filter rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `suffix` filter rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

impl Rule {
    /// Whether an event `event` (`s3:ObjectCreated:Put`) on `key` is for this rule.
    fn matches(&self, event: &str, key: &str) -> bool {
        self.events.iter().any(|wanted| event_covers(wanted, event))
            && self.prefix.as_deref().is_none_or(|prefix| key.starts_with(prefix))
            && self.suffix.as_deref().is_none_or(|suffix| key.ends_with(suffix))
    }
}

/// A bucket's whole notification configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Its configurations, in the order given.
    pub rules: Vec<Rule>,
    /// Whether `EventBridgeConfiguration` was given (kept and answered; Kumo has no EventBridge).
    #[serde(default)]
    pub event_bridge: bool,
}

impl Rules {
    /// The rules stored as `text` (a row that cannot be read has none).
    pub fn from_stored(text: Option<&str>) -> Self {
        text.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
    }

    /// The rules an event on `key` matches.
    pub fn matching<'a>(&'a self, event: &'a str, key: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |rule| rule.matches(event, key))
    }
}

/// Whether a configured event type (maybe a `…:*` wildcard) covers the event type `event`.
fn event_covers(wanted: &str, event: &str) -> bool {
    match wanted.strip_suffix('*') {
        Some(family) => event.starts_with(family),
        None => wanted == event,
    }
}

/// Whether two configured event types can both cover one event.
fn events_overlap(a: &str, b: &str) -> bool {
    event_covers(a, b) || event_covers(b, a)
}

/// Whether some key could pass both prefixes (one starts the other; none is every key).
fn prefixes_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    a.starts_with(b) || b.starts_with(a)
}

/// Whether some key could pass both suffixes (one ends the other).
fn suffixes_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    a.ends_with(b) || b.ends_with(a)
}

/// AWS's id for a configuration given none: base64 of a fresh UUID's text.
fn generated_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().to_string())
}

/// A configuration's filter as its prefix and suffix.
fn filter_of(filter: Option<NotificationConfigurationFilter>) -> S3Result<(Option<String>, Option<String>)> {
    let rules = filter.and_then(|filter| filter.key).and_then(|key| key.filter_rules).unwrap_or_default();
    let (mut prefix, mut suffix) = (None, None);
    for rule in rules {
        let name = rule.name.as_ref().map(|name| name.as_str().to_ascii_lowercase()).unwrap_or_default();
        let value = rule.value.unwrap_or_default();
        if value.len() > MAX_FILTER_VALUE {
            return Err(errors::invalid_argument("The filter rule value is too long."));
        }
        let slot = match name.as_str() {
            "prefix" => &mut prefix,
            "suffix" => &mut suffix,
            _ => return Err(errors::invalid_argument("filter rule name must be either prefix or suffix")),
        };
        if slot.is_some() {
            return Err(errors::invalid_argument(&format!("Cannot specify more than one {name} rule in a filter.")));
        }
        *slot = Some(value);
    }
    Ok((prefix, suffix))
}

/// One configuration of the document as a [`Rule`].
fn rule_of(
    kind: DestinationKind,
    id: Option<String>,
    arn: String,
    events: Vec<Event>,
    filter: Option<NotificationConfigurationFilter>,
) -> S3Result<Rule> {
    let events: Vec<String> = events.into_iter().map(String::from).collect();
    if events.is_empty() {
        return Err(errors::malformed_xml());
    }
    if let Some(unknown) = events.iter().find(|event| !EVENTS.contains(&event.as_str())) {
        tracing::debug!(event = %unknown, "unsupported notification event");
        return Err(errors::invalid_argument("The event is not supported for notifications"));
    }
    let (prefix, suffix) = filter_of(filter)?;
    Ok(Rule { id: id.filter(|id| !id.is_empty()).unwrap_or_else(generated_id), kind, arn, events, prefix, suffix })
}

/// The document as [`Rules`], refused as S3 refuses it (unknown events, bad filters, rules
/// that could both take one event).
pub fn parse(configuration: NotificationConfiguration) -> S3Result<Rules> {
    let mut rules = Vec::new();
    for lambda in configuration.lambda_function_configurations.unwrap_or_default() {
        let arn = lambda.lambda_function_arn;
        rules.push(rule_of(DestinationKind::Lambda, lambda.id, arn, lambda.events, lambda.filter)?);
    }
    for queue in configuration.queue_configurations.unwrap_or_default() {
        rules.push(rule_of(DestinationKind::Queue, queue.id, queue.queue_arn, queue.events, queue.filter)?);
    }
    for topic in configuration.topic_configurations.unwrap_or_default() {
        rules.push(rule_of(DestinationKind::Topic, topic.id, topic.topic_arn, topic.events, topic.filter)?);
    }
    if rules.len() > MAX_RULES {
        return Err(errors::invalid_argument(&format!(
            "A bucket takes at most {MAX_RULES} notification configurations in Kumo."
        )));
    }
    for (index, first) in rules.iter().enumerate() {
        for second in &rules[index + 1..] {
            let events = first.events.iter().any(|a| second.events.iter().any(|b| events_overlap(a, b)));
            if events
                && prefixes_overlap(first.prefix.as_deref(), second.prefix.as_deref())
                && suffixes_overlap(first.suffix.as_deref(), second.suffix.as_deref())
            {
                return Err(errors::invalid_argument(
                    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.",
                ));
            }
        }
    }
    Ok(Rules { rules, event_bridge: configuration.event_bridge_configuration.is_some() })
}

fn filter_out(rule: &Rule) -> Option<NotificationConfigurationFilter> {
    let mut filter_rules = Vec::new();
    if let Some(prefix) = &rule.prefix {
        filter_rules
            .push(FilterRule { name: Some(FilterRuleName::from_static("Prefix")), value: Some(prefix.clone()) });
    }
    if let Some(suffix) = &rule.suffix {
        filter_rules
            .push(FilterRule { name: Some(FilterRuleName::from_static("Suffix")), value: Some(suffix.clone()) });
    }
    (!filter_rules.is_empty())
        .then_some(NotificationConfigurationFilter { key: Some(S3KeyFilter { filter_rules: Some(filter_rules) }) })
}

/// The rules as GetBucketNotificationConfiguration answers them.
pub fn render(rules: &Rules) -> GetBucketNotificationConfigurationOutput {
    let (mut lambdas, mut queues, mut topics) = (Vec::new(), Vec::new(), Vec::new());
    for rule in &rules.rules {
        let events: Vec<Event> = rule.events.iter().cloned().map(Event::from).collect();
        let (id, filter) = (Some(rule.id.clone()), filter_out(rule));
        match rule.kind {
            DestinationKind::Lambda => {
                lambdas.push(LambdaFunctionConfiguration { events, filter, id, lambda_function_arn: rule.arn.clone() })
            }
            DestinationKind::Queue => {
                queues.push(QueueConfiguration { events, filter, id, queue_arn: rule.arn.clone() })
            }
            DestinationKind::Topic => {
                topics.push(TopicConfiguration { events, filter, id, topic_arn: rule.arn.clone() })
            }
        }
    }
    GetBucketNotificationConfigurationOutput {
        event_bridge_configuration: rules.event_bridge.then_some(EventBridgeConfiguration {}),
        lambda_function_configurations: (!lambdas.is_empty()).then_some(lambdas),
        queue_configurations: (!queues.is_empty()).then_some(queues),
        topic_configurations: (!topics.is_empty()).then_some(topics),
    }
}

/// Whether `arn` has the shape of a destination of `kind` in `region` (S3 takes destinations
/// of the bucket's region only).
fn destination_in_region(kind: DestinationKind, arn: &str, region: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let service = match kind {
        DestinationKind::Lambda => "lambda",
        DestinationKind::Queue => "sqs",
        DestinationKind::Topic => "sns",
    };
    parts.len() >= 6
        && parts[0] == "arn"
        && parts[2] == service
        && parts[3] == region
        && !parts[4].is_empty()
        && !parts[5].is_empty()
        && (kind != DestinationKind::Lambda || (parts.len() == 7 && parts[5] == "function" && !parts[6].is_empty()))
}

impl S3Service {
    pub(crate) async fn put_bucket_notification_configuration(
        &self,
        request: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let input = request.input;
        let bucket = self.bucket_for(&context, &input.bucket, "s3:PutBucketNotification", None).await?;
        let rules = parse(input.notification_configuration)?;
        let skip_validation = input.skip_destination_validation.unwrap_or(false);
        if !skip_validation {
            self.validate_destinations(&bucket, &rules).await?;
        }
        let tests = if skip_validation { Vec::new() } else { records::test_events(&bucket, &rules, &context) };
        let stored = (!rules.rules.is_empty() || rules.event_bridge)
            .then(|| serde_json::to_string(&rules))
            .transpose()
            .map_err(|error| errors::internal(&error))?;
        let has_tests = !tests.is_empty();
        self.blocking(move |store| store.set_notification(bucket.id, stored.as_deref(), &tests)).await?;
        if has_tests {
            self.notifier.wake();
        }
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
    }

    pub(crate) async fn get_bucket_notification_configuration(
        &self,
        request: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let bucket = self.bucket_for(context, &request.input.bucket, "s3:GetBucketNotification", None).await?;
        Ok(S3Response::new(render(&Rules::from_stored(bucket.notification.as_deref()))))
    }

    /// Refuses the configuration unless every destination exists in the bucket's region and
    /// lets S3 use it for this bucket (its resource policy grants `s3.amazonaws.com`).
    async fn validate_destinations(&self, bucket: &BucketRow, rules: &Rules) -> S3Result<()> {
        let targets = self.notifier.targets();
        for rule in &rules.rules {
            let valid = destination_in_region(rule.kind, &rule.arn, &bucket.region)
                && match &targets {
                    Some(targets) => targets.validate(rule.kind, &rule.arn, &bucket.name, &bucket.account).await,
                    None => false,
                };
            if !valid {
                tracing::debug!(bucket = %bucket.name, destination = %rule.arn, "notification destination refused");
                return Err(errors::invalid_argument("Unable to validate the following destination configurations"));
            }
        }
        Ok(())
    }

    /// The outbox entries of an event on an object of `bucket` (none when no rule matches).
    pub(crate) fn notifications_for(
        &self,
        bucket: &BucketRow,
        context: &kumo_core::RequestContext,
        event: &ObjectEvent<'_>,
    ) -> Vec<OutboxEntry> {
        if bucket.notification.is_none() {
            return Vec::new();
        }
        let rules = Rules::from_stored(bucket.notification.as_deref());
        event_records(bucket, context, &rules, event)
    }
}

#[cfg(test)]
mod tests;

//! Topics: CreateTopic (standard and FIFO, idempotent), DeleteTopic, ListTopics,
//! Get/SetTopicAttributes and the tagging operations.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::adapter::EmptyResult;
use kumo_protocol::NoResult;

use crate::store::{TopicRow, WriteOp};
use crate::types::{
    AttributesResult, CreateTopicInput, CreateTopicResult, ListTagsResult, ListTopicsResult, Members, PageInput,
    ResourceArnInput, SetTopicAttributesInput, Tag, TagResourceInput, TopicArnInput, TopicEntry, UntagResourceInput,
};
use crate::{error, required, SnsService, Topic, TopicState};

/// Topics a List page holds.
pub(crate) const PAGE_SIZE: usize = 100;
/// Standard topics per account (AWS's default quota).
const MAX_TOPICS: usize = 100_000;
/// FIFO topics per account.
const MAX_FIFO_TOPICS: usize = 1_000;
/// Tags per topic.
const MAX_TAGS: usize = 50;
/// Longest topic name, without `.fifo`.
const MAX_NAME: usize = 256;

/// Attributes SetTopicAttributes may change (CreateTopic also takes `FifoTopic`).
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "FifoThroughputScope",
    "DataProtectionPolicy",
    "HTTPSuccessFeedbackRoleArn",
    "HTTPSuccessFeedbackSampleRate",
    "HTTPFailureFeedbackRoleArn",
    "FirehoseSuccessFeedbackRoleArn",
    "FirehoseSuccessFeedbackSampleRate",
    "FirehoseFailureFeedbackRoleArn",
    "LambdaSuccessFeedbackRoleArn",
    "LambdaSuccessFeedbackSampleRate",
    "LambdaFailureFeedbackRoleArn",
    "ApplicationSuccessFeedbackRoleArn",
    "ApplicationSuccessFeedbackSampleRate",
    "ApplicationFailureFeedbackRoleArn",
    "SQSSuccessFeedbackRoleArn",
    "SQSSuccessFeedbackSampleRate",
    "SQSFailureFeedbackRoleArn",
];

/// `arn:aws:sns:<region>:<account>:<name>` → (region, account, name).
pub(crate) fn parse_topic_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some("sns"), Some(region), Some(account), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!region.is_empty() && !account.is_empty() && !name.is_empty()).then_some((region, account, name))
}

/// Whether `name` is a valid topic name: 1–256 letters, digits, `_` and `-`, and `.fifo` after
/// them for a FIFO topic.
fn valid_name(name: &str, fifo: bool) -> bool {
    let base = if fifo { name.strip_suffix(".fifo") } else { Some(name) };
    base.is_some_and(|base| {
        !base.is_empty()
            && base.len() <= MAX_NAME
            && base.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
    })
}

/// A `true`/`false` attribute.
fn boolean(name: &str, value: &str, prefix: &str) -> Result<bool, AwsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(error::invalid_parameter(format!("{prefix}{name}: Invalid value [{value}]. Must be true or false."))),
    }
}

/// Checks one attribute a topic is given; `prefix` is how the operation's messages name the
/// attribute's place (`Attributes Reason: ` for CreateTopic).
fn check_attribute(name: &str, value: &str, fifo: bool, prefix: &str) -> Result<(), AwsError> {
    if !SETTABLE.contains(&name) {
        return Err(error::invalid_parameter(format!("{prefix}AttributeName")));
    }
    match name {
        "ContentBasedDeduplication" => {
            let enabled = boolean(name, value, prefix)?;
            if enabled && !fifo {
                return Err(error::invalid_parameter(format!(
                    "{prefix}ContentBasedDeduplication: Content based deduplication can only be set for FIFO topics"
                )));
            }
        }
        "DeliveryPolicy" if !value.is_empty() => {
            crate::delivery_policy::check_topic_policy(value)
                .map_err(|why| error::invalid_parameter(format!("{prefix}DeliveryPolicy: {why}")))?;
        }
        "Policy" | "DataProtectionPolicy" | "ArchivePolicy" if !value.is_empty() => {
            let document: Result<serde_json::Value, _> = serde_json::from_str(value);
            if !document.is_ok_and(|document| document.is_object()) {
                return Err(error::invalid_parameter(format!("{prefix}{name}: failed to parse JSON.")));
            }
        }
        "DisplayName" if value.chars().count() > 100 => {
            return Err(error::invalid_parameter(format!("{prefix}DisplayName")));
        }
        "FifoThroughputScope" if !fifo || !matches!(value, "Topic" | "MessageGroup") => {
            return Err(error::invalid_parameter(format!("{prefix}FifoThroughputScope")));
        }
        "SignatureVersion" if !matches!(value, "1" | "2") => {
            return Err(error::invalid_parameter(format!("{prefix}SignatureVersion")));
        }
        "TracingConfig" if !matches!(value, "PassThrough" | "Active") => {
            return Err(error::invalid_parameter(format!("{prefix}TracingConfig")));
        }
        _ => {}
    }
    Ok(())
}

/// Checks tags: keys 1–128 characters, values up to 256, no key twice.
fn check_tags(tags: &[Tag]) -> Result<(), AwsError> {
    let mut keys = std::collections::BTreeSet::new();
    for tag in tags {
        if tag.key.is_empty() || tag.key.chars().count() > 128 {
            return Err(error::invalid_parameter("Tags Reason: Tag keys must be between 1 and 128 characters"));
        }
        if tag.value.chars().count() > 256 {
            return Err(error::invalid_parameter("Tags Reason: Tag values must be at most 256 characters"));
        }
        if !keys.insert(tag.key.as_str()) {
            return Err(error::invalid_parameter("Duplicated keys are not allowed."));
        }
    }
    Ok(())
}

impl SnsService {
    /// The topic a `TopicArn` parameter names, once the caller may perform `action` on it:
    /// a malformed ARN is `InvalidParameter`, a missing topic `NotFound`.
    pub(crate) fn topic_for(
        &self,
        context: &RequestContext,
        arn: Option<&str>,
        parameter: &str,
        action: &str,
    ) -> Result<Arc<Topic>, AwsError> {
        let arn = arn
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| error::invalid_parameter(format!("{parameter} Reason: no value for required parameter")))?;
        if parse_topic_arn(arn).is_none() {
            return Err(error::invalid_parameter(parameter));
        }
        let topic = self.topics_read().get(arn).cloned().ok_or_else(error::topic_not_found)?;
        self.authorize(context, &topic, action)?;
        Ok(topic)
    }

    /// A topic's row for the store.
    fn topic_row(topic: &Topic, state: &TopicState) -> Result<TopicRow, AwsError> {
        Ok(TopicRow {
            arn: topic.arn.clone(),
            attributes: serde_json::to_string(&state.attributes).map_err(error::internal)?,
            tags: serde_json::to_string(&state.tags).map_err(error::internal)?,
        })
    }

    /// CreateTopic: a new topic, or the existing one of that name when its attributes and tags
    /// agree with the request's.
    pub async fn create_topic(
        &self,
        context: &RequestContext,
        request: CreateTopicInput,
    ) -> Result<CreateTopicResult, AwsError> {
        let name = required(&request.name, "Name")?;
        let mut attributes = request.attributes;
        if let Some(policy) = request.data_protection_policy {
            attributes.insert("DataProtectionPolicy".to_string(), policy);
        }
        let fifo = match attributes.get("FifoTopic") {
            Some(value) => boolean("FifoTopic", value, "Attributes Reason: ")?,
            None => false,
        };
        if fifo && !valid_name(name, true) {
            return Err(error::invalid_parameter(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII \
                 letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
            ));
        }
        if !fifo && !valid_name(name, false) {
            return Err(error::invalid_parameter("Topic Name"));
        }
        for (attribute, value) in &attributes {
            if attribute != "FifoTopic" {
                check_attribute(attribute, value, fifo, "Attributes Reason: ")?;
            }
        }
        if let Some(policy) = attributes.get_mut("DeliveryPolicy").filter(|policy| !policy.is_empty()) {
            // Checked above: kept in the form AWS keeps it.
            *policy = crate::delivery_policy::check_topic_policy(policy).unwrap_or_default();
        }
        // FifoTopic=false is the default: kept only when true, as GetTopicAttributes shows it.
        if fifo {
            attributes.insert("FifoTopic".to_string(), "true".to_string());
        } else {
            attributes.remove("FifoTopic");
        }
        check_tags(&request.tags)?;
        if request.tags.len() > MAX_TAGS {
            return Err(error::tag_limit_exceeded());
        }
        let arn = format!("arn:aws:sns:{}:{}:{name}", context.region, context.account);
        self.authorize_resource(context, &arn, &context.account, None, "sns:CreateTopic")?;
        if !request.tags.is_empty() {
            self.authorize_resource(context, &arn, &context.account, None, "sns:TagResource")?;
        }
        let _lifecycle = self.lifecycle.lock().await;
        if let Some(existing) = self.topics_read().get(&arn).cloned() {
            let state = existing.lock();
            let differs = attributes.iter().any(|(name, value)| {
                let current = state.attributes.get(name).map(String::as_str);
                current.unwrap_or_else(|| default_attribute(name)) != value
            });
            if differs {
                return Err(error::invalid_parameter(
                    "Attributes Reason: Topic already exists with different attributes",
                ));
            }
            if request.tags.iter().any(|tag| state.tags.get(&tag.key) != Some(&tag.value)) {
                return Err(error::invalid_parameter("Tags Reason: Topic already exists with different tags"));
            }
            return Ok(CreateTopicResult { topic_arn: arn });
        }
        let prefix = format!("arn:aws:sns:{}:{}:", context.region, context.account);
        let (fifo_count, standard_count) = {
            let topics = self.topics_read();
            let mine = topics.range(prefix.clone()..).take_while(|(arn, _)| arn.starts_with(&prefix));
            mine.fold((0, 0), |(fifo, standard), (_, topic)| match topic.fifo {
                true => (fifo + 1, standard),
                false => (fifo, standard + 1),
            })
        };
        if (fifo && fifo_count >= MAX_FIFO_TOPICS) || (!fifo && standard_count >= MAX_TOPICS) {
            return Err(AwsError::new("TopicLimitExceeded", 403, "Topic limit exceeded"));
        }
        let tags = request.tags.into_iter().map(|tag| (tag.key, tag.value)).collect();
        let state = TopicState { attributes, tags, ..TopicState::default() };
        let topic = Topic {
            arn: arn.clone(),
            account: context.account.clone(),
            region: context.region.clone(),
            name: name.to_string(),
            fifo,
            state: Mutex::new(TopicState::default()),
        };
        let row = Self::topic_row(&topic, &state)?;
        *topic.lock() = state;
        self.commit(vec![WriteOp::PutTopic(row)]).await?;
        self.topics_write().insert(arn.clone(), Arc::new(topic));
        tracing::info!(topic = %arn, fifo, "sns topic created");
        Ok(CreateTopicResult { topic_arn: arn })
    }

    /// DeleteTopic, with its subscriptions. A topic that does not exist is no error, as on AWS.
    pub async fn delete_topic(&self, context: &RequestContext, request: TopicArnInput) -> Result<NoResult, AwsError> {
        let arn = required(&request.topic_arn, "TopicArn")?;
        let Some((_, owner, _)) = parse_topic_arn(arn) else {
            return Err(error::invalid_parameter("TopicArn"));
        };
        let _lifecycle = self.lifecycle.lock().await;
        let Some(topic) = self.topics_read().get(arn).cloned() else {
            self.authorize_resource(context, arn, owner, None, "sns:DeleteTopic")?;
            return Ok(NoResult {});
        };
        self.authorize(context, &topic, "sns:DeleteTopic")?;
        self.commit(vec![WriteOp::DeleteTopic(arn.to_string())]).await?;
        self.topics_write().remove(arn);
        let gone: Vec<String> =
            self.subscriptions_of(arn).iter().map(|subscription| subscription.arn.clone()).collect();
        let mut subscriptions = self.subscriptions_write();
        for subscription in gone {
            subscriptions.remove(&subscription);
        }
        tracing::info!(topic = %arn, "sns topic deleted");
        Ok(NoResult {})
    }

    /// ListTopics: the caller's topics in the region, 100 a page.
    pub async fn list_topics(
        &self,
        context: &RequestContext,
        request: PageInput,
    ) -> Result<ListTopicsResult, AwsError> {
        let prefix = format!("arn:aws:sns:{}:{}:", context.region, context.account);
        self.authorize_resource(context, &format!("{prefix}*"), &context.account, None, "sns:ListTopics")?;
        let start = page_start(request.next_token.as_deref(), &prefix)?;
        let topics = self.topics_read();
        let mut page: Vec<TopicEntry> = topics
            .range::<str, _>((
                start.as_ref().map_or(std::ops::Bound::Included(prefix.as_str()), |after| {
                    std::ops::Bound::Excluded(after.as_str())
                }),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(arn, _)| arn.starts_with(&prefix))
            .take(PAGE_SIZE + 1)
            .map(|(arn, _)| TopicEntry { topic_arn: arn.clone() })
            .collect();
        let next_token = (page.len() > PAGE_SIZE).then(|| {
            page.truncate(PAGE_SIZE);
            page_token(&page[PAGE_SIZE - 1].topic_arn)
        });
        Ok(ListTopicsResult { topics: Members { member: page }, next_token })
    }

    /// GetTopicAttributes: what was set, with what SNS derives (owner, counts, policies).
    pub async fn get_topic_attributes(
        &self,
        context: &RequestContext,
        request: TopicArnInput,
    ) -> Result<AttributesResult, AwsError> {
        let topic = self.topic_for(context, request.topic_arn.as_deref(), "TopicArn", "sns:GetTopicAttributes")?;
        let (mut confirmed, mut pending) = (0usize, 0usize);
        for subscription in self.subscriptions_of(&topic.arn) {
            match subscription.lock().pending_token.is_some() {
                true => pending += 1,
                false => confirmed += 1,
            }
        }
        let mut attributes = BTreeMap::new();
        attributes.insert("TopicArn".to_string(), topic.arn.clone());
        attributes.insert("Owner".to_string(), topic.account.clone());
        attributes.insert("Policy".to_string(), default_policy(&topic));
        attributes.insert("DisplayName".to_string(), String::new());
        let delivery_policy = topic.lock().attributes.get("DeliveryPolicy").cloned();
        let effective = crate::delivery_policy::effective_topic_policy(delivery_policy.as_deref());
        attributes.insert("EffectiveDeliveryPolicy".to_string(), effective);
        attributes.insert("SubscriptionsConfirmed".to_string(), confirmed.to_string());
        attributes.insert("SubscriptionsPending".to_string(), pending.to_string());
        attributes.insert("SubscriptionsDeleted".to_string(), "0".to_string());
        if topic.fifo {
            attributes.insert("ContentBasedDeduplication".to_string(), "false".to_string());
        }
        attributes.extend(topic.lock().attributes.clone());
        Ok(AttributesResult { attributes: attributes.into() })
    }

    /// SetTopicAttributes: one attribute; an empty value clears it.
    pub async fn set_topic_attributes(
        &self,
        context: &RequestContext,
        request: SetTopicAttributesInput,
    ) -> Result<NoResult, AwsError> {
        let topic = self.topic_for(context, request.topic_arn.as_deref(), "TopicArn", "sns:SetTopicAttributes")?;
        let name = required(&request.attribute_name, "AttributeName")?;
        let mut value = request.attribute_value.unwrap_or_default();
        check_attribute(name, &value, topic.fifo, "")?;
        if name == "DeliveryPolicy" && !value.is_empty() {
            // Checked above: kept in the form AWS keeps it.
            value = crate::delivery_policy::check_topic_policy(&value).unwrap_or_default();
        }
        let row = {
            let mut state = topic.lock();
            match value.is_empty() {
                true => state.attributes.remove(name),
                false => state.attributes.insert(name.to_string(), value),
            };
            Self::topic_row(&topic, &state)?
        };
        self.commit(vec![WriteOp::PutTopic(row)]).await?;
        Ok(NoResult {})
    }

    /// The topic a tagging operation names: `ResourceNotFound` when it does not exist.
    fn tagged_topic(&self, context: &RequestContext, arn: Option<&str>, action: &str) -> Result<Arc<Topic>, AwsError> {
        let arn = arn
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| error::invalid_parameter("ResourceArn Reason: no value for required parameter"))?;
        if parse_topic_arn(arn).is_none() {
            return Err(error::invalid_parameter("ResourceArn"));
        }
        let topic = self.topics_read().get(arn).cloned().ok_or_else(error::resource_not_found)?;
        self.authorize(context, &topic, action)?;
        Ok(topic)
    }

    /// TagResource: adds or replaces tags, at most 50 on a topic.
    pub async fn tag_resource(
        &self,
        context: &RequestContext,
        request: TagResourceInput,
    ) -> Result<EmptyResult, AwsError> {
        let topic = self.tagged_topic(context, request.resource_arn.as_deref(), "sns:TagResource")?;
        check_tags(&request.tags)?;
        let row = {
            let mut state = topic.lock();
            let mut tags = state.tags.clone();
            tags.extend(request.tags.into_iter().map(|tag| (tag.key, tag.value)));
            if tags.len() > MAX_TAGS {
                return Err(error::tag_limit_exceeded());
            }
            state.tags = tags;
            Self::topic_row(&topic, &state)?
        };
        self.commit(vec![WriteOp::PutTopic(row)]).await?;
        Ok(EmptyResult {})
    }

    /// UntagResource.
    pub async fn untag_resource(
        &self,
        context: &RequestContext,
        request: UntagResourceInput,
    ) -> Result<EmptyResult, AwsError> {
        let topic = self.tagged_topic(context, request.resource_arn.as_deref(), "sns:UntagResource")?;
        let row = {
            let mut state = topic.lock();
            for key in &request.tag_keys {
                state.tags.remove(key);
            }
            Self::topic_row(&topic, &state)?
        };
        self.commit(vec![WriteOp::PutTopic(row)]).await?;
        Ok(EmptyResult {})
    }

    /// ListTagsForResource.
    pub async fn list_tags_for_resource(
        &self,
        context: &RequestContext,
        request: ResourceArnInput,
    ) -> Result<ListTagsResult, AwsError> {
        let topic = self.tagged_topic(context, request.resource_arn.as_deref(), "sns:ListTagsForResource")?;
        let tags =
            topic.lock().tags.iter().map(|(key, value)| Tag { key: key.clone(), value: value.clone() }).collect();
        Ok(ListTagsResult { tags: Members { member: tags } })
    }
}

/// What GetTopicAttributes shows for an attribute never set (CreateTopic's idempotency compares
/// against it).
fn default_attribute(name: &str) -> &'static str {
    match name {
        "ContentBasedDeduplication" | "FifoTopic" => "false",
        _ => "",
    }
}

/// A topic's `Policy` when none was set: its owner's account may do everything.
fn default_policy(topic: &Topic) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic.arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": topic.account}},
        }],
    })
    .to_string()
}

/// A page token: the last ARN of the page, base64 (opaque to clients, as AWS's are).
pub(crate) fn page_token(last: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(last)
}

/// Where a page starts: after the ARN `token` names, which must lie under `prefix`
/// (`InvalidParameter` otherwise); `None` for the first page.
pub(crate) fn page_start(token: Option<&str>, prefix: &str) -> Result<Option<String>, AwsError> {
    use base64::Engine as _;
    let Some(token) = token.filter(|token| !token.is_empty()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(token).ok();
    let arn = decoded.and_then(|bytes| String::from_utf8(bytes).ok());
    match arn {
        Some(arn) if arn.starts_with(prefix) => Ok(Some(arn)),
        _ => Err(error::invalid_parameter("NextToken")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert!(valid_name("orders_1-a", false));
        assert!(!valid_name("orders.fifo", false));
        assert!(valid_name("orders.fifo", true));
        assert!(!valid_name(".fifo", true));
        assert!(!valid_name(&"a".repeat(257), false));
        assert!(valid_name(&"a".repeat(256), false));
        assert!(!valid_name("", false));
        assert!(!valid_name("ünïcode", false));
        assert_eq!(parse_topic_arn("arn:aws:sns:us-east-1:000000000000:t"), Some(("us-east-1", "000000000000", "t")));
        assert_eq!(parse_topic_arn("arn:aws:sns:us-east-1:000000000000:t:sub"), None);
        assert_eq!(parse_topic_arn("arn:aws:sqs:us-east-1:000000000000:t"), None);
    }

    #[test]
    fn page_tokens_round_trip_and_stay_in_their_range() {
        let prefix = "arn:aws:sns:us-east-1:000000000000:";
        let token = page_token("arn:aws:sns:us-east-1:000000000000:t");
        assert_eq!(page_start(Some(&token), prefix).unwrap().as_deref(), Some("arn:aws:sns:us-east-1:000000000000:t"));
        assert!(page_start(Some("garbage!"), prefix).is_err());
        let other = page_token("arn:aws:sns:us-east-1:111111111111:t");
        assert!(page_start(Some(&other), prefix).is_err());
    }
}

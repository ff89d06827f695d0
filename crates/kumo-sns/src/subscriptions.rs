//! Subscriptions: Subscribe (idempotent per endpoint), Unsubscribe, ListSubscriptions[ByTopic],
//! Get/SetSubscriptionAttributes and ConfirmSubscription. `sqs` and `lambda` subscriptions are
//! confirmed at once (same as AWS for endpoints of AWS services); `http`/`https` ones wait for
//! ConfirmSubscription with their token, and may only name endpoints
//! [`crate::endpoint_access`] allows.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kumo_core::{AwsError, RequestContext};
use kumo_protocol::NoResult;

use crate::filter::{FilterPolicy, PolicyError, Scope};
use crate::store::WriteOp;
use crate::topics::{page_start, page_token, parse_topic_arn, PAGE_SIZE};
use crate::types::{
    AttributesResult, ConfirmSubscriptionInput, ListSubscriptionsResult, Members, PageInput,
    SetSubscriptionAttributesInput, SubscribeInput, SubscriptionArnInput, SubscriptionArnResult, SubscriptionEntry,
    TopicPageInput,
};
use crate::{error, required, SnsService, Subscription, SubscriptionState};

/// Attributes a subscription may be given.
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];
/// Every protocol SNS knows.
const PROTOCOLS: &[&str] = &["http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"];
/// Protocols that can take raw messages.
const RAW_PROTOCOLS: &[&str] = &["sqs", "http", "https", "firehose"];
/// Subscriptions a FIFO topic may have.
const MAX_FIFO_SUBSCRIPTIONS: usize = 100;
/// Subscriptions with a filter policy a topic may have.
const MAX_FILTER_POLICIES: usize = 200;
/// Largest filter policy, in bytes.
const MAX_FILTER_POLICY_BYTES: usize = 256 * 1024;
/// What Subscribe answers for a subscription that waits for confirmation.
const PENDING: &str = "pending confirmation";

/// The compiled filter policy of a subscription's attributes; `None` without one. `prefix` is
/// `Attributes Reason: ` in Subscribe's messages.
pub(crate) fn compile_filter(
    attributes: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Option<Arc<FilterPolicy>>, AwsError> {
    let Some(text) = attributes.get("FilterPolicy").filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let scope = match attributes.get("FilterPolicyScope").map(String::as_str) {
        Some("MessageBody") => Scope::MessageBody,
        _ => Scope::MessageAttributes,
    };
    if text.len() > MAX_FILTER_POLICY_BYTES {
        return Err(error::invalid_parameter(format!("{prefix}FilterPolicy: Filter policy is too large")));
    }
    match FilterPolicy::parse(text, scope) {
        Ok(policy) => Ok(Some(Arc::new(policy))),
        Err(PolicyError::Invalid(why) | PolicyError::TooComplex(why)) => {
            Err(error::invalid_parameter(format!("{prefix}FilterPolicy: {why}")))
        }
    }
}

/// Checks one attribute a subscription is given; `prefix` is `Attributes Reason: ` in Subscribe.
fn check_attribute(name: &str, value: &str, protocol: &str, prefix: &str) -> Result<(), AwsError> {
    if !SETTABLE.contains(&name) {
        return Err(error::invalid_parameter(format!("{prefix}AttributeName")));
    }
    match name {
        "FilterPolicyScope" if !matches!(value, "MessageAttributes" | "MessageBody") => {
            Err(error::invalid_parameter(format!(
                "{prefix}FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
            )))
        }
        "RawMessageDelivery" => {
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                return Err(error::invalid_parameter(format!(
                    "{prefix}RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                )));
            }
            if !RAW_PROTOCOLS.contains(&protocol) {
                return Err(error::invalid_parameter(format!(
                    "{prefix}Delivery protocol [{protocol}] does not support raw message delivery."
                )));
            }
            Ok(())
        }
        "RedrivePolicy" if !value.is_empty() => {
            let document: serde_json::Value = serde_json::from_str(value)
                .map_err(|_| error::invalid_parameter(format!("{prefix}RedrivePolicy: failed to parse JSON.")))?;
            let target = document.get("deadLetterTargetArn").and_then(serde_json::Value::as_str).unwrap_or_default();
            if target.split(':').count() != 6 || !target.starts_with("arn:aws:sqs:") {
                return Err(error::invalid_parameter(format!(
                    "{prefix}RedrivePolicy: deadLetterTargetArn is an invalid arn"
                )));
            }
            Ok(())
        }
        "DeliveryPolicy" if !value.is_empty() => crate::delivery_policy::check_subscription_policy(value)
            .map(|_| ())
            .map_err(|why| error::invalid_parameter(format!("{prefix}DeliveryPolicy: {why}"))),
        "ReplayPolicy" if !value.is_empty() => serde_json::from_str::<serde_json::Value>(value)
            .map(|_| ())
            .map_err(|_| error::invalid_parameter(format!("{prefix}{name}: failed to parse JSON."))),
        _ => Ok(()),
    }
}

/// Checks a subscription's endpoint for its protocol.
fn check_endpoint(protocol: &str, endpoint: &str, fifo_topic: bool) -> Result<(), AwsError> {
    match protocol {
        "sqs" => {
            let parts: Vec<&str> = endpoint.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5].is_empty() {
                return Err(error::invalid_parameter("SQS endpoint ARN"));
            }
            if parts[5].ends_with(".fifo") && !fifo_topic {
                return Err(error::invalid_parameter(
                    "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
                ));
            }
        }
        "lambda" => {
            let parts: Vec<&str> = endpoint.split(':').collect();
            let well_formed = matches!(parts.len(), 7 | 8)
                && parts[0] == "arn"
                && parts[2] == "lambda"
                && parts[5] == "function"
                && !parts[6].is_empty();
            if !well_formed {
                return Err(error::invalid_parameter("Lambda endpoint ARN"));
            }
        }
        "http" | "https" => {
            if !endpoint.starts_with(&format!("{protocol}://")) {
                return Err(error::invalid_parameter("Endpoint must match the specified protocol"));
            }
            let uri = endpoint.parse::<http::Uri>().ok();
            if uri.as_ref().and_then(http::Uri::host).is_none_or(str::is_empty) {
                return Err(error::invalid_parameter("Endpoint"));
            }
        }
        other => {
            // A real SNS protocol Kumo has nowhere to deliver to: said plainly, not accepted silently.
            return Err(error::invalid_parameter(format!("Kumo does not deliver to {other} endpoints")));
        }
    }
    Ok(())
}

impl SnsService {
    /// The subscription a `SubscriptionArn` parameter names, with its topic's authorization.
    fn subscription_for(
        &self,
        context: &RequestContext,
        arn: Option<&str>,
        action: &str,
    ) -> Result<Arc<Subscription>, AwsError> {
        let arn = arn
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| error::invalid_parameter("SubscriptionArn Reason: no value for required parameter"))?;
        let subscription = self.subscriptions_read().get(arn).cloned().ok_or_else(error::subscription_not_found)?;
        match self.topics_read().get(&subscription.topic_arn).cloned() {
            Some(topic) => self.authorize(context, &topic, action)?,
            None => self.authorize_resource(context, &subscription.topic_arn, &subscription.owner, None, action)?,
        }
        Ok(subscription)
    }

    /// Subscribe: a new subscription, or the topic's existing one for the same protocol and
    /// endpoint when its attributes agree with the request's.
    pub async fn subscribe(
        &self,
        context: &RequestContext,
        request: SubscribeInput,
    ) -> Result<SubscriptionArnResult, AwsError> {
        let topic = self.topic_for(context, request.topic_arn.as_deref(), "TopicArn", "sns:Subscribe")?;
        let protocol = required(&request.protocol, "Protocol")?;
        if !PROTOCOLS.contains(&protocol) {
            return Err(error::invalid_parameter(format!(
                "Amazon SNS does not support this protocol string: {protocol}"
            )));
        }
        let endpoint = request.endpoint.as_deref().filter(|endpoint| !endpoint.is_empty());
        let endpoint = endpoint.ok_or_else(|| error::invalid_parameter("Endpoint"))?;
        check_endpoint(protocol, endpoint, topic.fifo)?;
        let mut attributes = request.attributes;
        for (name, value) in &attributes {
            check_attribute(name, value, protocol, "Attributes Reason: ")?;
        }
        if let Some(raw) = attributes.get_mut("RawMessageDelivery") {
            *raw = raw.to_ascii_lowercase();
        }
        if let Some(policy) = attributes.get_mut("DeliveryPolicy").filter(|policy| !policy.is_empty()) {
            // Checked above: kept in the form AWS keeps it.
            *policy = crate::delivery_policy::check_subscription_policy(policy).unwrap_or_default();
        }
        if matches!(protocol, "http" | "https") && self.endpoint_access.check_subscribe(endpoint).await.is_err() {
            tracing::info!(endpoint, "sns subscription refused: the endpoint is private to Kumo's host");
            return Err(error::invalid_parameter("Unreachable Endpoint"));
        }
        let filter = compile_filter(&attributes, "Attributes Reason: ")?;
        let _lifecycle = self.lifecycle.lock().await;
        let existing = self.subscriptions_of(&topic.arn);
        if let Some(same) = existing.iter().find(|other| other.protocol == protocol && other.endpoint == endpoint) {
            let state = same.lock();
            if attributes.iter().any(|(name, value)| state.attributes.get(name) != Some(value)) {
                return Err(error::invalid_parameter(
                    "Attributes Reason: Subscription already exists with different attributes",
                ));
            }
            let pending = state.pending_token.is_some() && !request.return_subscription_arn;
            return Ok(SubscriptionArnResult {
                subscription_arn: if pending { PENDING.to_string() } else { same.arn.clone() },
            });
        }
        if topic.fifo && existing.len() >= MAX_FIFO_SUBSCRIPTIONS {
            return Err(AwsError::new("SubscriptionLimitExceeded", 403, "Subscription limit exceeded"));
        }
        if filter.is_some()
            && existing.iter().filter(|other| other.lock().filter.is_some()).count() >= MAX_FILTER_POLICIES
        {
            return Err(error::filter_policy_limit_exceeded());
        }
        let confirm_later = matches!(protocol, "http" | "https");
        let pending_token = confirm_later
            .then(|| uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string());
        let subscription = Subscription {
            arn: format!("{}:{}", topic.arn, uuid::Uuid::new_v4()),
            topic_arn: topic.arn.clone(),
            owner: context.account.clone(),
            protocol: protocol.to_string(),
            endpoint: endpoint.to_string(),
            state: Mutex::new(SubscriptionState { attributes, filter, pending_token }),
        };
        let row = subscription.row()?;
        self.commit(vec![WriteOp::PutSubscription(row)]).await?;
        let arn = subscription.arn.clone();
        let token = subscription.lock().pending_token.clone();
        if let Some(token) = token {
            // The endpoint is asked to confirm in the background, as AWS asks it.
            let confirmation = self.confirmation_for(&subscription, &token, false);
            let http = Arc::clone(&self.http);
            tokio::spawn(async move {
                if let Err(error) = crate::delivery::Endpoints::deliver(&*http, &confirmation).await {
                    tracing::warn!(endpoint = %confirmation.endpoint, %error, "sns subscription confirmation failed");
                }
            });
        }
        self.subscriptions_write().insert(arn.clone(), Arc::new(subscription));
        tracing::info!(subscription = %arn, protocol, "sns subscription created");
        let pending = confirm_later && !request.return_subscription_arn;
        Ok(SubscriptionArnResult { subscription_arn: if pending { PENDING.to_string() } else { arn } })
    }

    /// Unsubscribe. A subscription that does not exist (any more) is no error, as on AWS.
    pub async fn unsubscribe(
        &self,
        context: &RequestContext,
        request: SubscriptionArnInput,
    ) -> Result<NoResult, AwsError> {
        let arn = required(&request.subscription_arn, "SubscriptionArn")?;
        let parts = arn.split(':').count();
        if parts < 6 {
            return Err(error::invalid_parameter(format!(
                "SubscriptionArn Reason: An ARN must have at least 6 elements, not {parts}"
            )));
        }
        if parts == 6 {
            return Err(error::invalid_parameter("SubscriptionId"));
        }
        if self.subscriptions_read().get(arn).is_none() {
            return Ok(NoResult {});
        }
        let subscription = self.subscription_for(context, Some(arn), "sns:Unsubscribe")?;
        self.commit(vec![WriteOp::DeleteSubscription(subscription.arn.clone())]).await?;
        self.subscriptions_write().remove(arn);
        self.pacer.forget(arn);
        let confirmed = subscription.lock().pending_token.is_none();
        if confirmed && matches!(subscription.protocol.as_str(), "http" | "https") {
            // AWS tells a confirmed HTTP/S endpoint that it was unsubscribed, in the background.
            let token = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
            let notice = self.confirmation_for(&subscription, &token, true);
            let http = Arc::clone(&self.http);
            tokio::spawn(async move {
                if let Err(error) = crate::delivery::Endpoints::deliver(&*http, &notice).await {
                    tracing::warn!(endpoint = %notice.endpoint, %error, "sns unsubscribe confirmation failed");
                }
            });
        }
        tracing::info!(subscription = %arn, "sns subscription deleted");
        Ok(NoResult {})
    }

    /// A List page of `subscriptions` (ARN-ordered) after `start`.
    fn subscription_page(
        subscriptions: impl Iterator<Item = Arc<Subscription>>,
        start: Option<String>,
    ) -> ListSubscriptionsResult {
        let mut page: Vec<SubscriptionEntry> = subscriptions
            .filter(|subscription| start.as_ref().is_none_or(|after| subscription.arn > *after))
            .take(PAGE_SIZE + 1)
            .map(|subscription| SubscriptionEntry {
                subscription_arn: match subscription.lock().pending_token.is_some() {
                    true => "PendingConfirmation".to_string(),
                    false => subscription.arn.clone(),
                },
                owner: subscription.owner.clone(),
                protocol: subscription.protocol.clone(),
                endpoint: subscription.endpoint.clone(),
                topic_arn: subscription.topic_arn.clone(),
            })
            .collect();
        let mut next_token = None;
        if page.len() > PAGE_SIZE {
            page.truncate(PAGE_SIZE);
            next_token = Some(page_token(&page[PAGE_SIZE - 1].subscription_arn));
        }
        ListSubscriptionsResult { subscriptions: Members { member: page }, next_token }
    }

    /// ListSubscriptions: the caller's account's subscriptions in the region, 100 a page.
    pub async fn list_subscriptions(
        &self,
        context: &RequestContext,
        request: PageInput,
    ) -> Result<ListSubscriptionsResult, AwsError> {
        let prefix = format!("arn:aws:sns:{}:", context.region);
        let resource = format!("arn:aws:sns:{}:{}:*", context.region, context.account);
        self.authorize_resource(context, &resource, &context.account, None, "sns:ListSubscriptions")?;
        let start = page_start(request.next_token.as_deref(), &prefix)?;
        let subscriptions: Vec<Arc<Subscription>> = self
            .subscriptions_read()
            .range(start.clone().unwrap_or_else(|| prefix.clone())..)
            .take_while(|(arn, _)| arn.starts_with(&prefix))
            .filter(|(_, subscription)| {
                subscription.owner == context.account
                    || parse_topic_arn(&subscription.topic_arn).is_some_and(|(_, owner, _)| owner == context.account)
            })
            .map(|(_, subscription)| Arc::clone(subscription))
            .collect();
        Ok(Self::subscription_page(subscriptions.into_iter(), start))
    }

    /// ListSubscriptionsByTopic, 100 a page.
    pub async fn list_subscriptions_by_topic(
        &self,
        context: &RequestContext,
        request: TopicPageInput,
    ) -> Result<ListSubscriptionsResult, AwsError> {
        let topic =
            self.topic_for(context, request.topic_arn.as_deref(), "TopicArn", "sns:ListSubscriptionsByTopic")?;
        let start = page_start(request.next_token.as_deref(), &format!("{}:", topic.arn))?;
        Ok(Self::subscription_page(self.subscriptions_of(&topic.arn).into_iter(), start))
    }

    /// GetSubscriptionAttributes: what was set, with what SNS derives.
    pub async fn get_subscription_attributes(
        &self,
        context: &RequestContext,
        request: SubscriptionArnInput,
    ) -> Result<AttributesResult, AwsError> {
        let subscription =
            self.subscription_for(context, request.subscription_arn.as_deref(), "sns:GetSubscriptionAttributes")?;
        let effective = matches!(subscription.protocol.as_str(), "http" | "https").then(|| {
            let topic = self.topics_read().get(&subscription.topic_arn).cloned();
            let topic_policy = topic.and_then(|topic| topic.lock().attributes.get("DeliveryPolicy").cloned());
            let own = subscription.lock().attributes.get("DeliveryPolicy").cloned();
            crate::delivery_policy::effective_subscription_policy(topic_policy.as_deref(), own.as_deref()).1
        });
        let state = subscription.lock();
        let mut attributes = BTreeMap::new();
        attributes.insert("SubscriptionArn".to_string(), subscription.arn.clone());
        attributes.insert("TopicArn".to_string(), subscription.topic_arn.clone());
        attributes.insert("Owner".to_string(), subscription.owner.clone());
        attributes.insert("Protocol".to_string(), subscription.protocol.clone());
        attributes.insert("Endpoint".to_string(), subscription.endpoint.clone());
        attributes.insert("SubscriptionPrincipal".to_string(), format!("arn:aws:iam::{}:root", subscription.owner));
        let pending = state.pending_token.is_some();
        attributes.insert("PendingConfirmation".to_string(), pending.to_string());
        attributes.insert("ConfirmationWasAuthenticated".to_string(), (!pending).to_string());
        attributes.insert("RawMessageDelivery".to_string(), "false".to_string());
        if state.attributes.contains_key("FilterPolicy") {
            attributes.insert("FilterPolicyScope".to_string(), "MessageAttributes".to_string());
        }
        attributes.extend(state.attributes.iter().map(|(name, value)| (name.clone(), value.clone())));
        if !state.attributes.contains_key("FilterPolicy") {
            attributes.remove("FilterPolicyScope");
        }
        if let Some(effective) = effective {
            attributes.insert("EffectiveDeliveryPolicy".to_string(), effective);
        }
        Ok(AttributesResult { attributes: attributes.into() })
    }

    /// SetSubscriptionAttributes: one attribute; an empty value clears it.
    pub async fn set_subscription_attributes(
        &self,
        context: &RequestContext,
        request: SetSubscriptionAttributesInput,
    ) -> Result<NoResult, AwsError> {
        let subscription =
            self.subscription_for(context, request.subscription_arn.as_deref(), "sns:SetSubscriptionAttributes")?;
        let name = required(&request.attribute_name, "AttributeName")?;
        let mut value = request.attribute_value.unwrap_or_default();
        check_attribute(name, &value, &subscription.protocol, "")?;
        if name == "RawMessageDelivery" {
            value = value.to_ascii_lowercase();
        }
        if name == "DeliveryPolicy" && !value.is_empty() {
            // Checked above: kept in the form AWS keeps it.
            value = crate::delivery_policy::check_subscription_policy(&value).unwrap_or_default();
        }
        let mut attributes = subscription.lock().attributes.clone();
        match value.is_empty() {
            true => attributes.remove(name),
            false => attributes.insert(name.to_string(), value),
        };
        let filter = compile_filter(&attributes, "")?;
        if filter.is_some() && subscription.lock().filter.is_none() {
            let others = self.subscriptions_of(&subscription.topic_arn);
            if others.iter().filter(|other| other.lock().filter.is_some()).count() >= MAX_FILTER_POLICIES {
                return Err(error::filter_policy_limit_exceeded());
            }
        }
        let row = {
            let mut state = subscription.lock();
            state.attributes = attributes;
            state.filter = filter;
            drop(state);
            subscription.row()?
        };
        self.commit(vec![WriteOp::PutSubscription(row)]).await?;
        Ok(NoResult {})
    }

    /// ConfirmSubscription: the pending subscription of the topic that was sent `Token`.
    pub async fn confirm_subscription(
        &self,
        context: &RequestContext,
        request: ConfirmSubscriptionInput,
    ) -> Result<SubscriptionArnResult, AwsError> {
        let topic_arn = required(&request.topic_arn, "TopicArn")?;
        if parse_topic_arn(topic_arn).is_none() {
            return Err(error::invalid_parameter("Topic"));
        }
        let token = required(&request.token, "Token")?;
        let topic = self.topics_read().get(topic_arn).cloned().ok_or_else(error::topic_not_found)?;
        let _ = context;
        let subscription = self
            .subscriptions_of(&topic.arn)
            .into_iter()
            .find(|subscription| subscription.lock().pending_token.as_deref() == Some(token))
            .ok_or_else(|| error::invalid_parameter("Token"))?;
        subscription.lock().pending_token = None;
        let row = subscription.row()?;
        self.commit(vec![WriteOp::PutSubscription(row)]).await?;
        Ok(SubscriptionArnResult { subscription_arn: subscription.arn.clone() })
    }

    /// The token a pending subscription was sent (for its confirmation request).
    pub fn pending_token(&self, subscription_arn: &str) -> Option<String> {
        self.subscriptions_read()
            .get(subscription_arn)
            .and_then(|subscription| subscription.lock().pending_token.clone())
    }
}

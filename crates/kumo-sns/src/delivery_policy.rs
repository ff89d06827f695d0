//! The HTTP/S delivery policy (`DeliveryPolicy` of a topic or a subscription): checked as AWS
//! checks it when set, kept in the form AWS keeps it, rendered as `EffectiveDeliveryPolicy`, and
//! turned into the pauses between a failed delivery's retries.
//!
//! A topic's policy is `{"http": {"defaultHealthyRetryPolicy", "defaultSicklyRetryPolicy",
//! "defaultThrottlePolicy", "defaultRequestPolicy", "disableSubscriptionOverrides"}}`; a
//! subscription's `{"healthyRetryPolicy", "sicklyRetryPolicy", "throttlePolicy",
//! "requestPolicy", "guaranteed"}`. The retry schedule follows AWS's four phases (immediate,
//! pre-backoff at the minimum delay, backoff from the minimum to the maximum, post-backoff at the
//! maximum); AWS does not publish its backoff curves, so Kumo's are its own (see
//! [`RetryPolicy::delays`]), without AWS's jitter so that they are predictable.

use std::time::Duration;

use serde_json::{Map, Value};

/// Most retries a policy may ask for.
const MAX_RETRIES: u64 = 100;
/// Longest delay, and longest total of all the delays, in seconds.
const MAX_RETRY_SECONDS: u64 = 3600;
/// The request content types AWS lets a policy name.
const CONTENT_TYPES: &[&str] =
    &["text/plain", "text/csv", "text/html", "text/xml", "application/json", "application/xml"];
/// Backoff functions AWS knows.
const BACKOFF_FUNCTIONS: &[&str] = &["arithmetic", "exponential", "geometric", "linear"];
/// The content type of a message whose policies name none.
pub const DEFAULT_CONTENT_TYPE: &str = crate::http::DEFAULT_CONTENT_TYPE;

/// A healthy retry policy with AWS's defaults for what it leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `minDelayTarget`, seconds.
    pub min_delay: u64,
    /// `maxDelayTarget`, seconds.
    pub max_delay: u64,
    /// `numRetries`.
    pub retries: u64,
    /// `numNoDelayRetries`.
    pub no_delay_retries: u64,
    /// `numMinDelayRetries`.
    pub min_delay_retries: u64,
    /// `numMaxDelayRetries`.
    pub max_delay_retries: u64,
    /// `backoffFunction`.
    pub backoff: &'static str,
}

impl Default for RetryPolicy {
    /// AWS's: three retries, 20 seconds apart.
    fn default() -> Self {
        Self {
            min_delay: 20,
            max_delay: 20,
            retries: 3,
            no_delay_retries: 0,
            min_delay_retries: 0,
            max_delay_retries: 0,
            backoff: "linear",
        }
    }
}

impl RetryPolicy {
    /// The policy a checked document describes (defaults for what it leaves out).
    fn from_document(document: &Map<String, Value>) -> Self {
        let number = |name: &str, default: u64| document.get(name).and_then(Value::as_u64).unwrap_or(default);
        let defaults = Self::default();
        let backoff = document.get("backoffFunction").and_then(Value::as_str).map(str::to_ascii_lowercase);
        Self {
            min_delay: number("minDelayTarget", defaults.min_delay),
            max_delay: number("maxDelayTarget", defaults.max_delay),
            retries: number("numRetries", defaults.retries),
            no_delay_retries: number("numNoDelayRetries", 0),
            min_delay_retries: number("numMinDelayRetries", 0),
            max_delay_retries: number("numMaxDelayRetries", 0),
            backoff: BACKOFF_FUNCTIONS
                .iter()
                .copied()
                .find(|known| Some(*known) == backoff.as_deref())
                .unwrap_or("linear"),
        }
    }

    /// The policy as `EffectiveDeliveryPolicy` shows it (AWS's member order).
    fn render(&self) -> String {
        ordered(&[
            ("minDelayTarget", self.min_delay.to_string()),
            ("maxDelayTarget", self.max_delay.to_string()),
            ("numRetries", self.retries.to_string()),
            ("numMaxDelayRetries", self.max_delay_retries.to_string()),
            ("numNoDelayRetries", self.no_delay_retries.to_string()),
            ("numMinDelayRetries", self.min_delay_retries.to_string()),
            ("backoffFunction", Value::String(self.backoff.to_string()).to_string()),
        ])
    }

    /// The pause before each retry, in order: `numNoDelayRetries` at once, `numMinDelayRetries`
    /// at the minimum, the backoff phase rising from the minimum to the maximum (linear: evenly;
    /// arithmetic: quadratically; geometric: by a constant factor; exponential: doubling its
    /// distance to the minimum each step), then `numMaxDelayRetries` at the maximum.
    pub fn delays(&self) -> Vec<Duration> {
        // Checked policies keep every count within `numRetries` (at most 100); the clamps keep
        // any other from looping long.
        let retries = self.retries.min(MAX_RETRIES);
        let no_delay_retries = self.no_delay_retries.min(retries);
        let min_delay_retries = self.min_delay_retries.min(retries - no_delay_retries);
        let max_delay_retries = self.max_delay_retries.min(retries - no_delay_retries - min_delay_retries);
        let backoff_retries = retries - no_delay_retries - min_delay_retries - max_delay_retries;
        let mut delays = Vec::with_capacity(retries as usize);
        delays.extend((0..no_delay_retries).map(|_| 0.0));
        delays.extend((0..min_delay_retries).map(|_| self.min_delay as f64));
        let (low, high) = (self.min_delay as f64, self.max_delay as f64);
        for step in 0..backoff_retries {
            let position = if backoff_retries > 1 { step as f64 / (backoff_retries - 1) as f64 } else { 0.0 };
            let seconds = match self.backoff {
                "arithmetic" => low + (high - low) * position * position,
                "geometric" => low * (high / low.max(1.0)).powf(position),
                "exponential" => {
                    let steps = backoff_retries.min(30) as f64;
                    low + (high - low) * ((2f64.powf(position * steps) - 1.0) / (2f64.powf(steps) - 1.0))
                }
                _ => low + (high - low) * position,
            };
            delays.push(seconds);
        }
        delays.extend((0..max_delay_retries).map(|_| self.max_delay as f64));
        delays.into_iter().map(|seconds| Duration::from_millis((seconds * 1000.0).round() as u64)).collect()
    }
}

/// How an http/https subscription's deliveries are made: its effective policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// The retries.
    pub retry: RetryPolicy,
    /// `maxReceivesPerSecond`, if throttled.
    pub max_receives_per_second: Option<u64>,
    /// The `Content-Type` of the requests.
    pub content_type: String,
}

/// `Invalid parameter: DeliveryPolicy: <why>` is the caller's to format; this is the why.
type Why = String;

/// A JSON object with its members in the given order (AWS's; `serde_json`'s maps sort).
fn ordered(members: &[(&str, String)]) -> String {
    let members: Vec<String> =
        members.iter().map(|(name, value)| format!("{}:{value}", Value::String((*name).to_string()))).collect();
    format!("{{{}}}", members.join(","))
}

fn member<'a>(document: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    document.get(name).filter(|value| !value.is_null())
}

/// Checks a retry policy object at `path` (`http.defaultHealthyRetryPolicy`), returning it
/// with its members in AWS's order (only those given).
fn check_retry(path: &str, value: &Value) -> Result<String, Why> {
    let Value::Object(document) = value else {
        return Err(format!("{path}: Invalid JSON"));
    };
    const NUMBERS: &[&str] = &[
        "minDelayTarget",
        "maxDelayTarget",
        "numRetries",
        "numMaxDelayRetries",
        "numNoDelayRetries",
        "numMinDelayRetries",
    ];
    if let Some(unknown) = document.keys().find(|name| !NUMBERS.contains(&name.as_str()) && *name != "backoffFunction")
    {
        return Err(format!("Unexpected JSON member: {unknown}"));
    }
    let mut kept = Map::new();
    for name in NUMBERS {
        let Some(value) = member(document, name) else { continue };
        let number = value.as_i64().ok_or_else(|| format!("{path}.{name} must be an integer"))?;
        if number < 0 {
            return Err(format!("{path}.{name} must be greater than or equal to 0"));
        }
        kept.insert((*name).to_string(), value.clone());
    }
    if let Some(backoff) = member(document, "backoffFunction") {
        let known =
            backoff.as_str().is_some_and(|text| BACKOFF_FUNCTIONS.contains(&text.to_ascii_lowercase().as_str()));
        if !known {
            return Err(format!("{path}.backoffFunction must be one of: arithmetic, exponential, geometric, linear"));
        }
        kept.insert("backoffFunction".to_string(), backoff.clone());
    }
    let policy = RetryPolicy::from_document(&kept);
    if policy.retries > MAX_RETRIES {
        return Err(format!("{path}.numRetries must be less than or equal to {MAX_RETRIES}"));
    }
    if policy.min_delay < 1 {
        return Err(format!("{path}.minDelayTarget must be greater than or equal to 1"));
    }
    if policy.max_delay > MAX_RETRY_SECONDS {
        return Err(format!("{path}.maxDelayTarget must be less than or equal to {MAX_RETRY_SECONDS}"));
    }
    if policy.min_delay > policy.max_delay {
        return Err(format!("{path}.minDelayTarget must be less than or equal to maxDelayTarget"));
    }
    let phases =
        policy.no_delay_retries.saturating_add(policy.min_delay_retries).saturating_add(policy.max_delay_retries);
    if phases > policy.retries {
        return Err(format!(
            "{path}.numRetries must be greater than or equal to the sum of numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries"
        ));
    }
    let total: Duration = policy.delays().iter().sum();
    if total > Duration::from_secs(MAX_RETRY_SECONDS) {
        return Err(format!("{path}: Total policy retry time cannot be greater than {MAX_RETRY_SECONDS} seconds"));
    }
    let members: Vec<(&str, String)> = NUMBERS
        .iter()
        .chain(["backoffFunction"].iter())
        .filter_map(|name| kept.get(*name).map(|value| (*name, value.to_string())))
        .collect();
    Ok(ordered(&members))
}

fn check_throttle(path: &str, value: &Value) -> Result<String, Why> {
    let Value::Object(document) = value else {
        return Err(format!("{path}: Invalid JSON"));
    };
    if let Some(unknown) = document.keys().find(|name| *name != "maxReceivesPerSecond") {
        return Err(format!("Unexpected JSON member: {unknown}"));
    }
    let mut kept = Map::new();
    if let Some(rate) = member(document, "maxReceivesPerSecond") {
        if rate.as_i64().is_none_or(|rate| rate < 1) {
            return Err(format!("{path}.maxReceivesPerSecond must be greater than or equal to 1"));
        }
        kept.insert("maxReceivesPerSecond".to_string(), rate.clone());
    }
    Ok(Value::Object(kept).to_string())
}

fn check_request(path: &str, value: &Value) -> Result<String, Why> {
    let Value::Object(document) = value else {
        return Err(format!("{path}: Invalid JSON"));
    };
    if let Some(unknown) = document.keys().find(|name| *name != "headerContentType") {
        return Err(format!("Unexpected JSON member: {unknown}"));
    }
    let mut kept = Map::new();
    if let Some(content_type) = member(document, "headerContentType") {
        let text = content_type.as_str().unwrap_or_default();
        let (base, parameters) = text.split_once(';').unwrap_or((text, ""));
        let parameters = parameters.trim();
        let valid = CONTENT_TYPES.contains(&base.trim())
            && (parameters.is_empty() || parameters.eq_ignore_ascii_case("charset=UTF-8"));
        if !valid {
            return Err(format!("{path}.headerContentType: Invalid value [{text}]"));
        }
        kept.insert("headerContentType".to_string(), content_type.clone());
    }
    Ok(Value::Object(kept).to_string())
}

fn parse(text: &str) -> Result<Map<String, Value>, Why> {
    match serde_json::from_str(text) {
        Ok(Value::Object(document)) => Ok(document),
        _ => Err("Invalid JSON".to_string()),
    }
}

/// Checks a topic's `DeliveryPolicy` and returns it as AWS keeps it (nulls dropped,
/// `disableSubscriptionOverrides` always present).
pub fn check_topic_policy(text: &str) -> Result<String, Why> {
    let document = parse(text)?;
    let mut kept = Vec::new();
    for (protocol, value) in &document {
        if protocol != "http" {
            return Err(format!("Unexpected JSON member: {protocol}"));
        }
        let Value::Object(http) = value else {
            return Err("http: Invalid JSON".to_string());
        };
        const MEMBERS: &[&str] = &[
            "defaultHealthyRetryPolicy",
            "defaultSicklyRetryPolicy",
            "disableSubscriptionOverrides",
            "defaultThrottlePolicy",
            "defaultRequestPolicy",
        ];
        if let Some(unknown) = http.keys().find(|name| !MEMBERS.contains(&name.as_str())) {
            return Err(format!("Unexpected JSON member: {unknown}"));
        }
        let mut checked = Vec::new();
        if let Some(retry) = member(http, "defaultHealthyRetryPolicy") {
            checked.push(("defaultHealthyRetryPolicy", check_retry("http.defaultHealthyRetryPolicy", retry)?));
        }
        if let Some(retry) = member(http, "defaultSicklyRetryPolicy") {
            checked.push(("defaultSicklyRetryPolicy", check_retry("http.defaultSicklyRetryPolicy", retry)?));
        }
        let disable = match member(http, "disableSubscriptionOverrides") {
            None => false,
            Some(Value::Bool(disable)) => *disable,
            Some(_) => return Err("http.disableSubscriptionOverrides must be a boolean".to_string()),
        };
        checked.push(("disableSubscriptionOverrides", disable.to_string()));
        if let Some(throttle) = member(http, "defaultThrottlePolicy") {
            checked.push(("defaultThrottlePolicy", check_throttle("http.defaultThrottlePolicy", throttle)?));
        }
        if let Some(request) = member(http, "defaultRequestPolicy") {
            checked.push(("defaultRequestPolicy", check_request("http.defaultRequestPolicy", request)?));
        }
        kept.push(("http", ordered(&checked)));
    }
    Ok(ordered(&kept))
}

/// Checks a subscription's `DeliveryPolicy` and returns it as AWS keeps it (every member,
/// `null` where not given).
pub fn check_subscription_policy(text: &str) -> Result<String, Why> {
    let document = parse(text)?;
    const MEMBERS: &[&str] =
        &["healthyRetryPolicy", "sicklyRetryPolicy", "throttlePolicy", "requestPolicy", "guaranteed"];
    if let Some(unknown) = document.keys().find(|name| !MEMBERS.contains(&name.as_str())) {
        return Err(format!("Unexpected JSON member: {unknown}"));
    }
    let checked = |name: &str, check: fn(&str, &Value) -> Result<String, Why>| -> Result<String, Why> {
        member(&document, name).map_or(Ok("null".to_string()), |value| check(name, value))
    };
    let guaranteed = match member(&document, "guaranteed") {
        None => false,
        Some(Value::Bool(guaranteed)) => *guaranteed,
        Some(_) => return Err("guaranteed must be a boolean".to_string()),
    };
    Ok(ordered(&[
        ("healthyRetryPolicy", checked("healthyRetryPolicy", check_retry)?),
        ("sicklyRetryPolicy", checked("sicklyRetryPolicy", check_retry)?),
        ("throttlePolicy", checked("throttlePolicy", check_throttle)?),
        ("requestPolicy", checked("requestPolicy", check_request)?),
        ("guaranteed", guaranteed.to_string()),
    ]))
}

/// The `http` member of a topic's kept policy.
fn topic_http(topic_policy: Option<&str>) -> Map<String, Value> {
    let document = topic_policy.and_then(|text| serde_json::from_str::<Value>(text).ok());
    match document.as_ref().and_then(|document| document.get("http")) {
        Some(Value::Object(http)) => http.clone(),
        _ => Map::new(),
    }
}

fn object(value: Option<&Value>) -> Option<&Map<String, Value>> {
    value.and_then(Value::as_object)
}

/// A topic's `EffectiveDeliveryPolicy`: its policy over AWS's defaults.
pub fn effective_topic_policy(topic_policy: Option<&str>) -> String {
    let http = topic_http(topic_policy);
    let retry = object(http.get("defaultHealthyRetryPolicy")).map(RetryPolicy::from_document).unwrap_or_default();
    let mut rendered = vec![("defaultHealthyRetryPolicy", retry.render())];
    if let Some(sickly) = object(http.get("defaultSicklyRetryPolicy")) {
        rendered.push(("defaultSicklyRetryPolicy", RetryPolicy::from_document(sickly).render()));
    }
    let disable = http.get("disableSubscriptionOverrides").and_then(Value::as_bool).unwrap_or(false);
    rendered.push(("disableSubscriptionOverrides", disable.to_string()));
    if let Some(throttle) = http.get("defaultThrottlePolicy").filter(|value| value.is_object()) {
        rendered.push(("defaultThrottlePolicy", throttle.to_string()));
    }
    let content_type = object(http.get("defaultRequestPolicy"))
        .and_then(|request| request.get("headerContentType").cloned())
        .unwrap_or_else(|| Value::String(DEFAULT_CONTENT_TYPE.to_string()));
    rendered.push(("defaultRequestPolicy", ordered(&[("headerContentType", content_type.to_string())])));
    ordered(&[("http", ordered(&rendered))])
}

/// What an http/https subscription's deliveries follow: its own policy where the topic lets
/// subscriptions override, the topic's defaults otherwise, AWS's defaults under both; with the
/// `EffectiveDeliveryPolicy` document GetSubscriptionAttributes shows.
pub fn effective_subscription_policy(topic_policy: Option<&str>, own: Option<&str>) -> (EffectivePolicy, String) {
    let http = topic_http(topic_policy);
    let overrides = !http.get("disableSubscriptionOverrides").and_then(Value::as_bool).unwrap_or(false);
    let own: Map<String, Value> = own
        .filter(|_| overrides)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|document| document.as_object().cloned())
        .unwrap_or_default();
    let pick = |own_name: &str, topic_name: &str| -> Option<Value> {
        member(&own, own_name).or_else(|| member(&http, topic_name)).cloned()
    };
    let retry = object(pick("healthyRetryPolicy", "defaultHealthyRetryPolicy").as_ref())
        .map(RetryPolicy::from_document)
        .unwrap_or_default();
    let sickly = object(pick("sicklyRetryPolicy", "defaultSicklyRetryPolicy").as_ref())
        .map_or_else(|| "null".to_string(), |document| RetryPolicy::from_document(document).render());
    let throttle = pick("throttlePolicy", "defaultThrottlePolicy").filter(Value::is_object).unwrap_or(Value::Null);
    let content_type = object(pick("requestPolicy", "defaultRequestPolicy").as_ref())
        .and_then(|request| request.get("headerContentType").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
    let guaranteed = member(&own, "guaranteed").and_then(Value::as_bool).unwrap_or(false);
    let rendered = ordered(&[
        ("healthyRetryPolicy", retry.render()),
        ("sicklyRetryPolicy", sickly),
        ("throttlePolicy", throttle.to_string()),
        ("requestPolicy", ordered(&[("headerContentType", Value::String(content_type.clone()).to_string())])),
        ("guaranteed", guaranteed.to_string()),
    ]);
    let policy = EffectivePolicy {
        retry,
        max_receives_per_second: throttle.get("maxReceivesPerSecond").and_then(Value::as_u64),
        content_type,
    };
    (policy, rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_policies_are_kept_and_rendered_as_aws_does() {
        let kept = check_topic_policy(r#"{"http":{"defaultRequestPolicy":{"headerContentType":"application/json"}}}"#)
            .unwrap();
        assert_eq!(
            kept,
            r#"{"http":{"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"application/json"}}}"#
        );
        let kept = check_topic_policy(
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":6,"numRetries":1}}}"#,
        )
        .unwrap();
        assert_eq!(
            effective_topic_policy(Some(&kept)),
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":6,"numRetries":1,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#
        );
        assert_eq!(
            check_topic_policy(r#"{"http":{"defaultHealthyRetryPolicy":null}}"#).unwrap(),
            r#"{"http":{"disableSubscriptionOverrides":false}}"#
        );
        assert_eq!(
            effective_topic_policy(None),
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#
        );
    }

    #[test]
    fn invalid_policies_are_refused_with_aws_reasons() {
        let why = |text: &str| check_topic_policy(text).unwrap_err();
        assert_eq!(
            why(r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":101}}}"#),
            "http.defaultHealthyRetryPolicy.numRetries must be less than or equal to 100"
        );
        assert_eq!(why(r#"{"throttlePolicy":{}}"#), "Unexpected JSON member: throttlePolicy");
        assert_eq!(
            why(
                r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":3599,"maxDelayTarget":3600,"numRetries":10}}}"#
            ),
            "http.defaultHealthyRetryPolicy: Total policy retry time cannot be greater than 3600 seconds"
        );
        assert!(why(r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":9,"maxDelayTarget":2}}}"#)
            .contains("minDelayTarget"));
        assert!(
            why(r#"{"http":{"defaultHealthyRetryPolicy":{"backoffFunction":"cubic"}}}"#).contains("backoffFunction")
        );
        assert!(why("[1]").contains("Invalid JSON"));
        // Counts that would overflow when added are refused, not wrapped.
        let huge = format!(
            r#"{{"http":{{"defaultHealthyRetryPolicy":{{"numRetries":3,"numNoDelayRetries":{max},"numMinDelayRetries":{max},"numMaxDelayRetries":2}}}}}}"#,
            max = i64::MAX
        );
        assert!(why(&huge).contains("numRetries must be greater than or equal to the sum"));
        let sub = |text: &str| check_subscription_policy(text).unwrap_err();
        assert_eq!(sub(r#"{"http":{}}"#), "Unexpected JSON member: http");
        assert!(sub(r#"{"throttlePolicy":{"maxReceivesPerSecond":0}}"#).contains("maxReceivesPerSecond"));
        assert!(sub(r#"{"requestPolicy":{"headerContentType":"text/bogus"}}"#).contains("headerContentType"));
    }

    #[test]
    fn subscriptions_take_their_own_policy_over_the_topics() {
        let own = check_subscription_policy(r#"{"requestPolicy":{"headerContentType":"text/csv"}}"#).unwrap();
        assert_eq!(
            own,
            r#"{"healthyRetryPolicy":null,"sicklyRetryPolicy":null,"throttlePolicy":null,"requestPolicy":{"headerContentType":"text/csv"},"guaranteed":false}"#
        );
        let (policy, rendered) = effective_subscription_policy(None, Some(&own));
        assert_eq!(policy.content_type, "text/csv");
        assert_eq!(
            rendered,
            r#"{"healthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"sicklyRetryPolicy":null,"throttlePolicy":null,"requestPolicy":{"headerContentType":"text/csv"},"guaranteed":false}"#
        );
        let topic = check_topic_policy(
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,"numRetries":2},"disableSubscriptionOverrides":true,"defaultRequestPolicy":{"headerContentType":"application/json"}}}"#,
        )
        .unwrap();
        let (policy, _) = effective_subscription_policy(Some(&topic), Some(&own));
        assert_eq!((policy.retry.retries, policy.content_type.as_str()), (2, "application/json"));
    }

    #[test]
    fn retry_schedules_follow_the_four_phases() {
        assert_eq!(RetryPolicy::default().delays(), vec![Duration::from_secs(20); 3]);
        let policy = RetryPolicy {
            min_delay: 1,
            max_delay: 60,
            retries: 50,
            no_delay_retries: 3,
            min_delay_retries: 2,
            max_delay_retries: 35,
            backoff: "exponential",
        };
        let delays = policy.delays();
        assert_eq!(delays.len(), 50);
        assert_eq!(&delays[..5], &[0, 0, 0, 1000, 1000].map(Duration::from_millis));
        assert_eq!(delays[5], Duration::from_secs(1));
        assert_eq!(delays[14], Duration::from_secs(60));
        assert!(delays[5..15].windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(delays[15..].iter().all(|delay| *delay == Duration::from_secs(60)));
        for backoff in BACKOFF_FUNCTIONS {
            let delays =
                RetryPolicy { min_delay: 5, max_delay: 260, retries: 10, backoff, ..RetryPolicy::default() }.delays();
            assert_eq!((delays[0], delays[9]), (Duration::from_secs(5), Duration::from_secs(260)), "{backoff}");
        }
    }
}

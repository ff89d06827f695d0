//! The SNS workload (issue #13): Publish to a topic with SQS queues subscribed, on N connections,
//! against Kumo and, in the same run, moto's server mode. Two figures: publishes accepted per
//! second, and deliveries per second — from the first Publish until every queue holds every
//! message, so a fan-out that lags behind the publisher counts against it.
//!
//! Requests speak awsQuery (form-encoded `Action=…`), as boto3 and the AWS CLI do for SNS, and
//! are SigV4-signed like any client's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::lambda::{Connection, Endpoint};
use crate::load::{self, Operation};

/// Size of each published message.
const MESSAGE_BYTES: usize = 256;

/// How long the deliveries may lag behind the last Publish before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

impl Connection {
    /// Calls an SNS action with form parameters; returns the XML reply (an error reply is an `Err`).
    pub async fn sns(&mut self, action: &str, parameters: &[(&str, &str)]) -> anyhow::Result<String> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action).append_pair("Version", "2010-03-31");
            for (name, value) in parameters {
                form.append_pair(name, value);
            }
            Bytes::from(form.finish())
        };
        let mut request = Request::post("/")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .body(Full::new(body.clone()))?;
        self.sign_for("sns", &mut request, &body);
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "{action}: {}", reply.describe());
        String::from_utf8(reply.body.to_vec()).with_context(|| format!("{action}: the reply is not UTF-8"))
    }
}

/// The text of the first `<name>…</name>` element of an XML reply.
fn element(document: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = document.find(&open)? + open.len();
    let end = start + document[start..].find(&format!("</{name}>"))?;
    Some(document[start..end].to_string())
}

/// Publishes one message; counts it in `published` once SNS accepted it.
pub async fn publish(
    connection: &mut Connection,
    topic_arn: &str,
    message: &str,
    published: &AtomicU64,
) -> anyhow::Result<usize> {
    let reply = connection.sns("Publish", &[("TopicArn", topic_arn), ("Message", message)]).await?;
    anyhow::ensure!(element(&reply, "MessageId").is_some(), "Publish: no MessageId in {reply}");
    published.fetch_add(1, Ordering::Relaxed);
    Ok(1)
}

/// One server's fan-out run.
#[derive(Debug)]
pub struct FanOut {
    /// `kumo` or `moto <version>`.
    pub server: String,
    /// Queues subscribed.
    pub subscribers: usize,
    /// Client connections publishing.
    pub connections: usize,
    /// The Publish load (items are publishes).
    pub publish: load::Outcome,
    /// Messages published in all (warm-up and requests finishing after the window included).
    pub published: u64,
    /// From the first Publish until every queue held every message, or why that did not happen.
    pub delivered_after: Result<Duration, String>,
}

impl FanOut {
    /// Messages delivered per second, from the first Publish to the last delivery.
    pub fn deliveries_per_second(&self) -> Option<f64> {
        let took = self.delivered_after.as_ref().ok()?;
        Some((self.published * self.subscribers as u64) as f64 / took.as_secs_f64().max(f64::MIN_POSITIVE))
    }
}

/// Subscribes `subscribers` fresh queues to a fresh topic, publishes on `connections` for
/// `duration`, then waits until every queue holds every message.
pub async fn fan_out(
    server: String,
    endpoint: &Endpoint,
    prefix: &str,
    subscribers: usize,
    connections: usize,
    duration: Duration,
    pid: Option<u32>,
) -> anyhow::Result<FanOut> {
    let mut connection = endpoint.connect().await?;
    let reply = connection.sns("CreateTopic", &[("Name", &format!("{prefix}-fan-out"))]).await?;
    let topic_arn = element(&reply, "TopicArn").context("CreateTopic: no TopicArn")?;
    let mut queues = Vec::with_capacity(subscribers);
    for index in 0..subscribers {
        let url = connection.create_queue(&format!("{prefix}-subscriber-{index}")).await?;
        let arn = connection.queue_arn(&url).await?;
        // The queue lets the topic send to it, as SNS→SQS needs on AWS.
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }],
        });
        connection
            .sqs("SetQueueAttributes", &json!({ "QueueUrl": url, "Attributes": { "Policy": policy.to_string() } }))
            .await?;
        connection.sns("Subscribe", &[("TopicArn", &topic_arn), ("Protocol", "sqs"), ("Endpoint", &arn)]).await?;
        queues.push(url);
    }
    let published = Arc::new(AtomicU64::new(0));
    let operation = Operation::SnsPublish {
        topic_arn: Arc::from(topic_arn.as_str()),
        message: Arc::from("p".repeat(MESSAGE_BYTES)),
        published: Arc::clone(&published),
    };
    let started = Instant::now();
    // No warm-up: the deliveries are timed from the first Publish.
    let publish = load::closed_loop(endpoint, &operation, connections, Duration::ZERO, duration, pid).await?;
    let total = published.load(Ordering::Relaxed);
    let delivered_after = wait_for_deliveries(&mut connection, &queues, total, started).await;
    for url in &queues {
        let _ = connection.delete_queue(url).await;
    }
    let _ = connection.sns("DeleteTopic", &[("TopicArn", &topic_arn)]).await;
    Ok(FanOut { server, subscribers, connections, publish, published: total, delivered_after })
}

/// Polls the queues until each holds `expected` messages; the time since `started`.
async fn wait_for_deliveries(
    connection: &mut Connection,
    queues: &[String],
    expected: u64,
    started: Instant,
) -> Result<Duration, String> {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let mut pending: Vec<&String> = queues.iter().collect();
    loop {
        let mut still = Vec::new();
        for url in pending {
            let reply = connection
                .sqs(
                    "GetQueueAttributes",
                    &json!({ "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"] }),
                )
                .await
                .map_err(|error| format!("{error:#}"))?;
            let held = reply["Attributes"]["ApproximateNumberOfMessages"].as_str().and_then(|n| n.parse::<u64>().ok());
            match held {
                Some(held) if held > expected => {
                    return Err(format!("{url} holds {held} messages of {expected} published"))
                }
                Some(held) if held == expected => {}
                _ => still.push(url),
            }
        }
        if still.is_empty() {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} queues still lacked messages {DELIVERY_TIMEOUT:?} after the last Publish",
                still.len()
            ));
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_element_and_rates_deliveries() {
        let reply = "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>";
        assert_eq!(element(reply, "MessageId").as_deref(), Some("m-1"));
        assert_eq!(element(reply, "TopicArn"), None);
        let run = FanOut {
            server: "kumo".into(),
            subscribers: 10,
            connections: 8,
            publish: load::Outcome::default(),
            published: 500,
            delivered_after: Ok(Duration::from_secs(2)),
        };
        assert_eq!(run.deliveries_per_second(), Some(2500.0));
    }
}

//! The service end to end without HTTP: topics, subscriptions, Publish and the fan-out through
//! a recording [`Endpoints`], and the outbox's replay after a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kumo_core::RequestContext;

use crate::delivery::{BoxFuture, Delivery, Endpoints};
use crate::types::{CreateTopicInput, MessageAttributeValue, PublishInput, SubscribeInput};
use crate::SnsService;

/// Records every delivery; fails those to endpoints named `…:broken`.
#[derive(Default)]
struct Recorder(Mutex<Vec<Delivery>>);

impl Endpoints for Recorder {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if delivery.endpoint.ends_with(":broken") {
                return Err("no such queue".to_string());
            }
            self.0.lock().unwrap().push(delivery.clone());
            Ok(())
        })
    }
}

impl Recorder {
    async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        for _ in 0..200 {
            let seen = self.0.lock().unwrap().clone();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{count} deliveries did not arrive: {:?}", self.0.lock().unwrap());
    }
}

fn context() -> RequestContext {
    RequestContext::new("000000000000", "us-east-1")
}

async fn topic(sns: &SnsService, name: &str) -> String {
    let request = CreateTopicInput {
        name: Some(name.to_string()),
        attributes: Default::default(),
        tags: Vec::new(),
        data_protection_policy: None,
    };
    sns.create_topic(&context(), request).await.unwrap().topic_arn
}

async fn subscribe(
    sns: &SnsService,
    topic: &str,
    protocol: &str,
    endpoint: &str,
    attributes: &[(&str, &str)],
) -> String {
    let request = SubscribeInput {
        topic_arn: Some(topic.to_string()),
        protocol: Some(protocol.to_string()),
        endpoint: Some(endpoint.to_string()),
        attributes: attributes.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
        return_subscription_arn: true,
    };
    sns.subscribe(&context(), request).await.unwrap().subscription_arn
}

fn publish_input(topic: &str, message: &str, kind: &str) -> PublishInput {
    let attribute =
        MessageAttributeValue { data_type: Some("String".into()), string_value: Some(kind.into()), binary_value: None };
    PublishInput {
        topic_arn: Some(topic.to_string()),
        message: Some(message.to_string()),
        message_attributes: [("kind".to_string(), attribute)].into(),
        ..PublishInput::default()
    }
}

#[tokio::test]
async fn publish_fans_out_through_filters_to_queues_and_functions() {
    let dir = tempfile::tempdir().unwrap();
    let sns = SnsService::open(dir.path(), "http://kumo:4566").unwrap();
    let recorder = Arc::new(Recorder::default());
    sns.start_delivery(Arc::clone(&recorder) as Arc<dyn Endpoints>);
    let topic = topic(&sns, "orders").await;
    let queue = "arn:aws:sqs:us-east-1:000000000000:cards";
    let function = "arn:aws:lambda:us-east-1:000000000000:function:audit";
    subscribe(&sns, &topic, "sqs", queue, &[("FilterPolicy", r#"{"kind":["card"]}"#), ("RawMessageDelivery", "true")])
        .await;
    let audit = subscribe(&sns, &topic, "lambda", function, &[]).await;
    let dead = "arn:aws:sqs:us-east-1:000000000000:dead";
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dead}"}}"#);
    subscribe(&sns, &topic, "sqs", "arn:aws:sqs:us-east-1:000000000000:broken", &[("RedrivePolicy", &redrive)]).await;

    let published = sns.publish(&context(), publish_input(&topic, "cash order", "cash")).await.unwrap();
    let mut seen = recorder.wait_for(2).await;
    seen.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    let endpoints: Vec<&str> = seen.iter().map(|delivery| delivery.endpoint.as_str()).collect();
    // The filtered queue is skipped; the broken queue's delivery lands in its dead-letter queue.
    assert_eq!(endpoints, [function, dead]);
    let event: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    let record = &event["Records"][0];
    assert_eq!(record["EventSource"], "aws:sns");
    assert_eq!(record["EventSubscriptionArn"], audit.as_str());
    assert_eq!(record["Sns"]["MessageId"], published.message_id.as_str());
    assert_eq!(record["Sns"]["MessageAttributes"]["kind"]["Value"], "cash");
    let envelope: serde_json::Value = serde_json::from_str(&seen[1].body).unwrap();
    assert_eq!(envelope["Message"], "cash order");

    recorder.0.lock().unwrap().clear();
    sns.publish(&context(), publish_input(&topic, "card order", "card")).await.unwrap();
    let seen = recorder.wait_for(3).await;
    let raw = seen.iter().find(|delivery| delivery.endpoint == queue).unwrap();
    assert_eq!(raw.body, "card order");
    assert_eq!(raw.attributes[0].name, "kind");
}

#[tokio::test]
async fn accepted_messages_are_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let queue = "arn:aws:sqs:us-east-1:000000000000:jobs";
    let topic_arn = {
        let sns = SnsService::open(dir.path(), "http://kumo:4566").unwrap();
        let topic = topic(&sns, "jobs").await;
        subscribe(&sns, &topic, "sqs", queue, &[]).await;
        // Accepted, but nothing delivers yet: the process "dies" here.
        sns.publish(&context(), publish_input(&topic, "pending", "x")).await.unwrap();
        topic
    };
    let sns = SnsService::open(dir.path(), "http://kumo:4566").unwrap();
    let recorder = Arc::new(Recorder::default());
    sns.start_delivery(Arc::clone(&recorder) as Arc<dyn Endpoints>);
    let seen = recorder.wait_for(1).await;
    let envelope: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        (envelope["TopicArn"].as_str(), envelope["Message"].as_str()),
        (Some(topic_arn.as_str()), Some("pending"))
    );
    // Once delivered, the outbox row goes: a third start delivers nothing again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(sns);
    let (_, loaded) = crate::store::SqliteSnsStore::open(dir.path()).unwrap();
    assert_eq!(loaded.undelivered, 0);
}

/// Counts deliveries per message id, slowly enough that the outbox fills and spills.
#[derive(Default)]
struct SlowCounter(Mutex<std::collections::BTreeMap<String, usize>>);

impl Endpoints for SlowCounter {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let envelope: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
            let id = envelope["MessageId"].as_str().unwrap().to_string();
            *self.0.lock().unwrap().entry(id).or_default() += 1;
            Ok(())
        })
    }
}

impl SlowCounter {
    async fn wait_for(&self, messages: usize) {
        for _ in 0..3000 {
            if self.0.lock().unwrap().len() >= messages {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("only {} of {messages} messages arrived", self.0.lock().unwrap().len());
    }
}

async fn wait_for_empty_outbox(sns: &SnsService) {
    for _ in 0..500 {
        if sns.store.outbox_page(0, 1).unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the outbox did not empty");
}

/// Many more messages than the outbox's channel holds, left by a previous run and published
/// while the fan-out lags: each is delivered exactly once, read back from the table in pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_is_paged_from_the_outbox_and_delivered_once() {
    const LEFT: usize = 700;
    const LIVE: usize = 1500;
    let dir = tempfile::tempdir().unwrap();
    let queue = "arn:aws:sqs:us-east-1:000000000000:backlog";
    let topic_arn = {
        let sns = SnsService::open(dir.path(), "http://kumo:4566").unwrap();
        let topic = topic(&sns, "backlog").await;
        subscribe(&sns, &topic, "sqs", queue, &[]).await;
        for index in 0..LEFT {
            sns.publish(&context(), publish_input(&topic, &format!("left {index}"), "x")).await.unwrap();
        }
        topic
    };
    let sns = SnsService::open(dir.path(), "http://kumo:4566").unwrap();
    let counter = Arc::new(SlowCounter::default());
    sns.start_delivery(Arc::clone(&counter) as Arc<dyn Endpoints>);
    // Published faster than one-by-one delivery keeps up: the channel fills and spills.
    let publishes = (0..LIVE).map(|index| {
        let (sns, topic) = (Arc::clone(&sns), topic_arn.clone());
        tokio::spawn(async move { sns.publish(&context(), publish_input(&topic, &format!("live {index}"), "x")).await })
    });
    for publish in publishes.collect::<Vec<_>>() {
        publish.await.unwrap().unwrap();
    }
    counter.wait_for(LEFT + LIVE).await;
    wait_for_empty_outbox(&sns).await;
    let counts = counter.0.lock().unwrap().clone();
    assert_eq!(counts.len(), LEFT + LIVE);
    let repeated: Vec<_> = counts.iter().filter(|(_, count)| **count != 1).collect();
    assert!(repeated.is_empty(), "delivered more than once: {repeated:?}");
}

//! Fan-out: the background work that sends each published message to its subscribers.
//!
//! Publish stores its [`Notification`] in the outbox (one group commit) and the [`Outbox`]
//! hands it on in bounded memory; the dispatcher delivers it to every confirmed subscription
//! whose filter policy passes, through the binary's [`Endpoints`] bridge (SQS sends, Lambda
//! asynchronous invokes) or Kumo's HTTP/S client, and removes the outbox row once every delivery
//! was made or given up. A row left by a crash is delivered again at the next start: at least
//! once. Standard topics' messages fan out concurrently (bounded); a FIFO topic's are delivered
//! one after another, in order.
//!
//! SQS and Lambda deliveries are tried three times, quickly (they are Kumo's own services). An
//! HTTP/S delivery follows its subscription's effective delivery policy; its retries, which may
//! take up to an hour, wait on their own (bounded in number) so that a dead endpoint does not
//! hold up the fan-out of later messages; a policy's `maxReceivesPerSecond` paces every attempt
//! at its subscription ([`Pacer`]).
//!
//! [`Outbox`]: crate::outbox::Outbox

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::messages::SignedForms;
use crate::store::WriteOp;
use crate::types::MessageAttributes;
use crate::{SnsService, Subscription};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Messages fanned out at once (each to all its subscribers).
const CONCURRENT_MESSAGES: usize = 64;
/// HTTP/S deliveries waiting for a retry at once; beyond it the fan-out waits (and Publish's
/// messages wait in the outbox table).
const WAITING_RETRIES: usize = 1024;
/// Attempts at one SQS or Lambda delivery before it is given up (to the dead-letter queue).
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
    /// The topic it comes from.
    pub topic_arn: String,
    /// `sqs`, `lambda`, `http` or `https`.
    pub protocol: String,
    /// The queue's or function's ARN, or the URL.
    pub endpoint: String,
    /// The SQS message body, the Lambda event or the HTTP body.
    pub body: String,
    /// SQS message attributes (raw delivery only).
    pub attributes: Vec<DeliveryAttribute>,
    /// FIFO group, for a FIFO queue.
    pub group_id: Option<String>,
    /// FIFO deduplication id, for a FIFO queue.
    pub dedup_id: Option<String>,
    /// HTTP headers (`http`/`https` endpoints).
    pub headers: Vec<(String, String)>,
    /// HTTP `Content-Type` (the delivery policy's `headerContentType`).
    pub content_type: Option<String>,
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
    pub(crate) fn message_for(&self, protocol: &str) -> &str {
        self.per_protocol.as_ref().and_then(|messages| messages.get(protocol)).map_or(&self.message, String::as_str)
    }
}

/// The deliveries of one message still under way; the last to finish removes its outbox row.
/// Finishing is explicit: a delivery abandoned at shutdown leaves the row for the next start.
struct Unfinished {
    seq: u64,
    remaining: AtomicUsize,
    sns: Arc<SnsService>,
}

impl Unfinished {
    fn finish_one(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.sns.store.submit(vec![WriteOp::DeleteOutbox(self.seq)], None);
        }
    }
}

/// How one subscription's delivery is retried.
enum Retries {
    /// Kumo's own services: [`ATTEMPTS`] quick attempts, all in the fan-out.
    Quick,
    /// HTTP/S: the pauses of the effective delivery policy.
    Policy(Vec<Duration>),
}

/// The outcome of a first attempt.
enum FirstAttempt {
    /// Made or given up.
    Done,
    /// Failed; retries follow.
    Retry { delivery: Box<Delivery>, delays: Vec<Duration>, error: String },
}

/// One delivery's route: where it goes, where it lands when it keeps failing.
struct Route {
    target: Arc<dyn Endpoints>,
    dead_letters: Arc<dyn Endpoints>,
    redrive: Option<String>,
    subscription: String,
    /// The pacer and rate of a throttled HTTP/S subscription.
    pace: Option<(Arc<Pacer>, u64)>,
}

impl Route {
    /// One attempt, in its turn when the subscription is throttled.
    async fn attempt(&self, delivery: &Delivery) -> Result<(), String> {
        if let Some((pacer, per_second)) = &self.pace {
            pacer.turn(&self.subscription, *per_second).await;
        }
        self.target.deliver(delivery).await
    }
}

/// Spaces the attempts at each throttled subscription (`maxReceivesPerSecond`) evenly: every
/// attempt takes the subscription's next free turn.
#[derive(Default)]
pub(crate) struct Pacer(Mutex<HashMap<String, Instant>>);

impl Pacer {
    /// Waits for `subscription`'s next turn at `per_second` attempts a second.
    async fn turn(&self, subscription: &str, per_second: u64) {
        let interval = Duration::from_secs(1) / u32::try_from(per_second.max(1)).unwrap_or(u32::MAX);
        let wait = {
            // A map of instants: a panic cannot leave it torn.
            let mut turns = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            let next = turns.entry(subscription.to_string()).or_insert(now);
            let turn = (*next).max(now);
            *next = turn + interval;
            turn - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Forgets a subscription that is gone.
    pub(crate) fn forget(&self, subscription: &str) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(subscription);
    }
}

impl SnsService {
    /// Starts delivering: what earlier runs left in the outbox first, then every message
    /// Publish commits. Call once, when `endpoints` can take deliveries.
    pub fn start_delivery(self: &Arc<Self>, endpoints: Arc<dyn Endpoints>) {
        let Some(receiver) = self.outbox.take_receiver() else {
            tracing::warn!("sns delivery was started twice");
            return;
        };
        let delay = std::env::var(DELAY_ENV).ok().and_then(|ms| ms.parse().ok()).map(Duration::from_millis);
        let service = Arc::downgrade(self);
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_MESSAGES));
        let outbox = Arc::clone(&self.outbox);
        let store = Arc::clone(&self.store);
        let dispatch = move |notification: Notification| {
            let (service, slots, endpoints) = (service.clone(), Arc::clone(&slots), Arc::clone(&endpoints));
            async move {
                let Some(sns) = service.upgrade() else { return };
                // Waiting here is the backpressure: the outbox fills, then spills to its table.
                let Ok(slot) = slots.acquire_owned().await else { return };
                let fifo = notification.sequence_number.is_some();
                let work = async move {
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    sns.fan_out(notification, &endpoints).await;
                    drop(slot);
                };
                if fifo {
                    work.await;
                } else {
                    tokio::spawn(work);
                }
            }
        };
        tokio::spawn(outbox.run(receiver, store, dispatch));
    }

    /// The topic's `SignatureVersion` and the effective content type of `subscription`'s
    /// HTTP/S requests.
    pub(crate) fn http_settings_of(&self, subscription: &Subscription) -> (String, String) {
        let topic = self.topics_read().get(&subscription.topic_arn).cloned();
        let (version, topic_policy) = topic.map_or((None, None), |topic| {
            let state = topic.lock();
            (state.attributes.get("SignatureVersion").cloned(), state.attributes.get("DeliveryPolicy").cloned())
        });
        let own = subscription.lock().attributes.get("DeliveryPolicy").cloned();
        let (policy, _) =
            crate::delivery_policy::effective_subscription_policy(topic_policy.as_deref(), own.as_deref());
        (version.unwrap_or_else(|| "1".to_string()), policy.content_type)
    }

    /// Delivers `notification` to every confirmed subscription of its topic that its filter
    /// policy lets through, all at once; returns when every first attempt (and every SQS or
    /// Lambda retry) is over, HTTP/S retries going on by themselves. The outbox row goes when
    /// the last delivery is made or given up.
    async fn fan_out(self: &Arc<Self>, notification: Notification, endpoints: &Arc<dyn Endpoints>) {
        let topic = self.topics_read().get(&notification.topic_arn).cloned();
        let (signature_version, topic_policy) = topic.map_or((None, None), |topic| {
            let state = topic.lock();
            (state.attributes.get("SignatureVersion").cloned(), state.attributes.get("DeliveryPolicy").cloned())
        });
        let unfinished =
            Arc::new(Unfinished { seq: notification.seq, remaining: AtomicUsize::new(1), sns: Arc::clone(self) });
        let mut eligible = Vec::new();
        for subscription in self.subscriptions_of(&notification.topic_arn) {
            let (confirmed, filter, raw) = {
                let state = subscription.lock();
                let raw = state.attributes.get("RawMessageDelivery").is_some_and(|raw| raw == "true");
                (state.pending_token.is_none(), state.filter.clone(), raw)
            };
            let known = matches!(subscription.protocol.as_str(), "sqs" | "lambda" | "http" | "https");
            if !confirmed || !known {
                continue;
            }
            let body_for_filter = notification.message_for(&subscription.protocol);
            if filter.is_some_and(|filter| !filter.matches(&notification.attributes, body_for_filter)) {
                continue;
            }
            eligible.push((subscription, raw));
        }
        let mut forms = SignedForms::new(self, &notification, signature_version.as_deref().unwrap_or("1"));
        let to_sign = eligible.iter().filter(|(_, raw)| !raw);
        forms.sign(self, to_sign.map(|(subscription, _)| notification.message_for(&subscription.protocol))).await;
        let mut deliveries = tokio::task::JoinSet::new();
        for (subscription, _) in eligible {
            let (redrive, own_policy) = {
                let state = subscription.lock();
                (state.attributes.get("RedrivePolicy").cloned(), state.attributes.get("DeliveryPolicy").cloned())
            };
            let http = matches!(subscription.protocol.as_str(), "http" | "https");
            let (retries, content_type, pace) = if http {
                let (policy, _) = crate::delivery_policy::effective_subscription_policy(
                    topic_policy.as_deref(),
                    own_policy.as_deref(),
                );
                let pace = policy.max_receives_per_second.map(|rate| (Arc::clone(&self.pacer), rate));
                (Retries::Policy(policy.retry.delays()), Some(policy.content_type), pace)
            } else {
                (Retries::Quick, None, None)
            };
            let delivery = self.delivery_for(&mut forms, &subscription, content_type);
            let route = Arc::new(Route {
                target: if http { Arc::clone(&self.http) as Arc<dyn Endpoints> } else { Arc::clone(endpoints) },
                dead_letters: Arc::clone(endpoints),
                redrive,
                subscription: subscription.arn.clone(),
                pace,
            });
            unfinished.remaining.fetch_add(1, Ordering::AcqRel);
            deliveries.spawn(async move {
                let outcome = first_attempt(&route, delivery, retries).await;
                (route, outcome)
            });
        }
        drop(forms);
        while let Some(joined) = deliveries.join_next().await {
            let Ok((route, outcome)) = joined else {
                // A delivery task panicked: its message stays in the outbox for the next start.
                continue;
            };
            match outcome {
                FirstAttempt::Done => unfinished.finish_one(),
                FirstAttempt::Retry { delivery, delays, error } => {
                    let Ok(waiting) = Arc::clone(&self.waiting_retries).acquire_owned().await else { continue };
                    let unfinished = Arc::clone(&unfinished);
                    tokio::spawn(async move {
                        retry(&route, *delivery, delays, error).await;
                        unfinished.finish_one();
                        drop(waiting);
                    });
                }
            }
        }
        unfinished.finish_one();
    }
}

/// The semaphore bounding HTTP/S deliveries that wait for a retry.
pub(crate) fn waiting_retries() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(WAITING_RETRIES))
}

/// The first attempt at a delivery (all of them for SQS and Lambda).
async fn first_attempt(route: &Route, delivery: Delivery, retries: Retries) -> FirstAttempt {
    match retries {
        Retries::Quick => {
            let mut pause = FIRST_RETRY;
            let mut last_error = String::new();
            for attempt in 1..=ATTEMPTS {
                match route.target.deliver(&delivery).await {
                    Ok(()) => return FirstAttempt::Done,
                    Err(error) => last_error = error,
                }
                if attempt < ATTEMPTS {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
            give_up(route, delivery, &last_error).await;
            FirstAttempt::Done
        }
        Retries::Policy(delays) => match route.attempt(&delivery).await {
            Ok(()) => FirstAttempt::Done,
            Err(error) if delays.is_empty() => {
                give_up(route, delivery, &error).await;
                FirstAttempt::Done
            }
            Err(error) => FirstAttempt::Retry { delivery: Box::new(delivery), delays, error },
        },
    }
}

/// An HTTP/S delivery's retries, after the pauses of its policy.
async fn retry(route: &Route, delivery: Delivery, delays: Vec<Duration>, mut last_error: String) {
    for delay in delays {
        tokio::time::sleep(delay).await;
        match route.attempt(&delivery).await {
            Ok(()) => return,
            Err(error) => last_error = error,
        }
    }
    give_up(route, delivery, &last_error).await;
}

/// A delivery that kept failing goes to the subscription's dead-letter queue when it has one,
/// and is logged either way.
async fn give_up(route: &Route, delivery: Delivery, error: &str) {
    let subscription = route.subscription.as_str();
    tracing::warn!(subscription, endpoint = %delivery.endpoint, error, "sns delivery failed");
    let dead_letter_queue = route
        .redrive
        .as_deref()
        .and_then(|policy| serde_json::from_str::<serde_json::Value>(policy).ok())
        .and_then(|policy| policy.get("deadLetterTargetArn").and_then(|arn| arn.as_str()).map(str::to_string));
    if let Some(dead_letter_queue) = dead_letter_queue {
        let dead_letter = Delivery {
            protocol: "sqs".to_string(),
            endpoint: dead_letter_queue,
            headers: Vec::new(),
            content_type: None,
            ..delivery
        };
        if let Err(error) = route.dead_letters.deliver(&dead_letter).await {
            tracing::warn!(subscription, dead_letter_queue = %dead_letter.endpoint, %error, "sns dead-letter delivery failed");
        }
    }
}

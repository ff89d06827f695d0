//! Load generation: sequential requests on one connection (latency) and closed-loop load on N
//! connections for a fixed time (throughput). Every reply is checked; a wrong one counts as an
//! error, not as a sample.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::StatusCode;

use crate::lambda::{self, Connection, Endpoint};

/// What each request of a run does.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `GET /_kumo/health`, the floor: Kumo's HTTP stack without an invoke.
    Health,
    /// An `Event` invoke, which must be accepted with 202.
    InvokeEvent {
        /// Function name.
        function: Arc<str>,
        /// Event sent.
        payload: Bytes,
    },
    /// A synchronous invoke of the echo function, whose reply must be the payload.
    Invoke {
        /// Function name.
        function: Arc<str>,
        /// Event sent and expected back.
        payload: Bytes,
    },
    /// An SQS send, receive and delete of 1 message (`SendMessage`, `ReceiveMessage`,
    /// `DeleteMessage`) or of 10 (`SendMessageBatch`, `ReceiveMessage`, `DeleteMessageBatch`).
    SqsCycle {
        /// Queue URL.
        queue_url: Arc<str>,
        /// Ten messages per request instead of one.
        batched: bool,
        /// Body of every message.
        body: Arc<str>,
    },
    /// An SNS Publish of one message to a topic, counted once accepted.
    SnsPublish {
        /// Topic ARN.
        topic_arn: Arc<str>,
        /// The message.
        message: Arc<str>,
        /// Messages accepted so far (warm-up and late answers included).
        published: Arc<std::sync::atomic::AtomicU64>,
    },
    /// An S3 PutObject of a small object, then a GetObject of it (2 operations); keys cycle
    /// through a fixed set shared by every connection of the run.
    S3SmallObject {
        /// Bucket.
        bucket: Arc<str>,
        /// The next key's number.
        next: Arc<std::sync::atomic::AtomicU64>,
        /// Body of every object.
        body: Bytes,
    },
}

impl Operation {
    /// Runs the operation once; returns the items it completed (messages for SQS, else 1);
    /// `Err` describes a failed request or a wrong reply.
    async fn run(&self, connection: &mut Connection) -> anyhow::Result<usize> {
        match self {
            Self::Health => {
                let reply = connection.health().await?;
                anyhow::ensure!(reply.status == StatusCode::OK, "health: {}", reply.describe());
            }
            Self::InvokeEvent { function, payload } => {
                let reply = connection.invoke_event(function, payload.clone()).await?;
                anyhow::ensure!(reply.status == StatusCode::ACCEPTED, "event invoke: {}", reply.describe());
            }
            Self::Invoke { function, payload } => {
                let reply = connection.invoke(function, payload.clone(), false).await?;
                let function_error = reply.headers.contains_key("x-amz-function-error");
                anyhow::ensure!(reply.status == StatusCode::OK && !function_error, "invoke: {}", reply.describe());
                anyhow::ensure!(lambda::is_echo(&reply.body, payload), "invoke: the body is not the payload");
            }
            Self::SqsCycle { queue_url, batched, body } => {
                return crate::sqs::cycle(connection, queue_url, *batched, body).await;
            }
            Self::SnsPublish { topic_arn, message, published } => {
                return crate::sns::publish(connection, topic_arn, message, published).await;
            }
            Self::S3SmallObject { bucket, next, body } => {
                return crate::s3::small_object_cycle(connection, bucket, next, body).await;
            }
        }
        Ok(1)
    }
}

/// Latencies and failures of one run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Latency of each successful request in the measured window.
    pub samples: Vec<Duration>,
    /// Items completed by the successful requests (see [`Operation::run`]).
    pub items: usize,
    /// Failed requests or wrong replies in the measured window.
    pub errors: usize,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// CPU time the Kumo server used in the measured window (user and system, all its threads;
    /// not its execution environments), when kumo-bench knows its pid.
    pub server_cpu: Option<Duration>,
}

impl Outcome {
    /// Successful requests per second over the measured window.
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.samples.len() as f64 / seconds
        } else {
            0.0
        }
    }

    /// Items completed per second over the measured window.
    pub fn items_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.items as f64 / seconds
        } else {
            0.0
        }
    }

    /// The server's CPU time per successful request in the measured window: what a request
    /// costs Kumo, which, unlike throughput, other work on the machine hardly changes.
    pub fn cpu_per_request(&self) -> Option<Duration> {
        let requests = u32::try_from(self.samples.len()).ok().filter(|&requests| requests > 0)?;
        Some(self.server_cpu? / requests)
    }

    fn record(&mut self, latency: Duration, items: usize) {
        self.samples.push(latency);
        self.items += items;
    }

    fn record_error(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{error:#}"));
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.samples.extend(other.samples);
        self.items += other.items;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// `warmup` untimed requests, then `count` timed ones, one after the other on `connection`.
pub async fn sequential(connection: &mut Connection, operation: &Operation, warmup: usize, count: usize) -> Outcome {
    let mut outcome = Outcome::default();
    for _ in 0..warmup {
        // Warm-up failures are not measured; a persistent failure shows in the timed requests.
        let _ = operation.run(connection).await;
    }
    outcome.samples.reserve(count);
    let started = Instant::now();
    for _ in 0..count {
        let start = Instant::now();
        match operation.run(connection).await {
            Ok(items) => outcome.record(start.elapsed(), items),
            Err(error) => outcome.record_error(&error),
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// Closed-loop load: `connections` tasks, each on its own keep-alive connection, send requests
/// back to back for `warmup` (not measured: it lets Kumo start an environment per connection)
/// and then for `duration`. A request counts when it completes inside the measured window.
/// With `server` (the Kumo server's pid), the server's CPU time over the window is read too.
pub async fn closed_loop(
    endpoint: &Endpoint,
    operation: &Operation,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    server: Option<u32>,
) -> anyhow::Result<Outcome> {
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(endpoint.connect().await?);
    }
    let measure_from = Instant::now() + warmup;
    let measure_until = measure_from + duration;
    let tasks: Vec<_> = opened
        .into_iter()
        .map(|connection| {
            let operation = operation.clone();
            let endpoint = endpoint.clone();
            tokio::spawn(load_one_connection(connection, endpoint, operation, measure_from, measure_until))
        })
        .collect();
    let cpu = server.map(|pid| tokio::spawn(server_cpu_between(pid, measure_from, measure_until)));
    let mut total = Outcome { elapsed: duration, ..Outcome::default() };
    for task in tasks {
        total.merge(task.await?);
    }
    if let Some(cpu) = cpu {
        total.server_cpu = cpu.await?;
    }
    Ok(total)
}

/// The CPU time process `pid` uses between `from` and `until`.
async fn server_cpu_between(pid: u32, from: Instant, until: Instant) -> Option<Duration> {
    tokio::time::sleep_until(from.into()).await;
    let before = crate::measure::cpu_time(pid)?;
    tokio::time::sleep_until(until.into()).await;
    crate::measure::cpu_time(pid)?.checked_sub(before)
}

async fn load_one_connection(
    mut connection: Connection,
    endpoint: Endpoint,
    operation: Operation,
    measure_from: Instant,
    measure_until: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    loop {
        let start = Instant::now();
        if start >= measure_until {
            break;
        }
        let result = operation.run(&mut connection).await;
        let end = Instant::now();
        let measured = end >= measure_from && end <= measure_until;
        match result {
            Ok(items) if measured => outcome.record(end - start, items),
            Ok(_) => {}
            Err(error) => {
                if measured {
                    outcome.record_error(&error);
                }
                if !connection.is_closed() {
                    continue;
                }
                // Continue on a fresh connection (still one at a time for this task).
                match endpoint.connect().await {
                    Ok(fresh) => connection = fresh,
                    Err(error) => {
                        outcome.record_error(&error);
                        break;
                    }
                }
            }
        }
    }
    outcome
}

/// A burst: `count` invocations of a sleeping function started at once, each on its own
/// connection; the figure is the time until the last one answered.
#[derive(Debug)]
pub struct Burst {
    /// Invocations started together.
    pub count: usize,
    /// Time until every one answered.
    pub elapsed: Duration,
    /// Failed or wrong answers.
    pub errors: usize,
    /// The first error seen.
    pub first_error: Option<String>,
}

/// Runs a burst of `count` concurrent invocations of `function` with `payload`.
pub async fn burst(endpoint: &Endpoint, function: &str, payload: Bytes, count: usize) -> anyhow::Result<Burst> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(endpoint.connect().await?);
    }
    let started = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut connection| {
            let function = function.to_string();
            let payload = payload.clone();
            tokio::spawn(async move {
                let reply = connection.invoke(&function, payload, false).await?;
                let ok = reply.status == StatusCode::OK && !reply.headers.contains_key("x-amz-function-error");
                anyhow::ensure!(ok, "burst invoke: {}", reply.describe());
                anyhow::Ok(())
            })
        })
        .collect();
    let mut result = Burst { count, elapsed: Duration::ZERO, errors: 0, first_error: None };
    for task in tasks {
        if let Err(error) = task.await.map_err(anyhow::Error::from).and_then(|outcome| outcome) {
            result.errors += 1;
            result.first_error.get_or_insert_with(|| format!("{error:#}"));
        }
    }
    result.elapsed = started.elapsed();
    Ok(result)
}

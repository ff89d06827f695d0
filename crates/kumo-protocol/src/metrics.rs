//! Per-operation request metrics of the registered services, rendered in Prometheus' text
//! exposition format: `kumo_api_requests_total{service,operation,outcome}` and the latency
//! histogram `kumo_api_request_duration_seconds{service,operation}`.
//!
//! Every label set is made when a service registers (its operation table is static), plus one
//! `operation="unknown"` row per service for requests that name no operation it has, so the
//! label sets stay bounded whatever clients send. Recording a request is a few relaxed atomic
//! adds on its operation's row: no allocation, no lock (a histogram from a metrics crate would
//! take a lock per observation, and a label lookup per request).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The histogram's upper bounds, in seconds (Prometheus' `le` labels), and in nanoseconds for
/// comparison on the hot path.
const BUCKETS: [(&str, u64); 16] = [
    ("0.0001", 100_000),
    ("0.00025", 250_000),
    ("0.0005", 500_000),
    ("0.001", 1_000_000),
    ("0.0025", 2_500_000),
    ("0.005", 5_000_000),
    ("0.01", 10_000_000),
    ("0.025", 25_000_000),
    ("0.05", 50_000_000),
    ("0.1", 100_000_000),
    ("0.25", 250_000_000),
    ("0.5", 500_000_000),
    ("1", 1_000_000_000),
    ("2.5", 2_500_000_000),
    ("5", 5_000_000_000),
    ("10", 10_000_000_000),
];

/// The operation label of requests that name no operation of the service.
pub const UNKNOWN_OPERATION: &str = "unknown";

/// How a request ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer.
    Success,
    /// An AWS error with a 4xx status (the caller's fault).
    ClientError,
    /// An AWS error with a 5xx status (the service's fault).
    ServerError,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Success, Outcome::ClientError, Outcome::ServerError];

    /// The outcome of an answer with HTTP status `status`.
    pub fn of_status(status: u16) -> Self {
        match status {
            500.. => Outcome::ServerError,
            400..=499 => Outcome::ClientError,
            _ => Outcome::Success,
        }
    }

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }
}

/// The counters of one service's operation.
#[derive(Debug)]
pub struct OperationMetrics {
    operation: &'static str,
    outcomes: [AtomicU64; 3],
    /// Requests per bucket (not cumulative; the last one is `+Inf`).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl OperationMetrics {
    fn new(operation: &'static str) -> Self {
        Self { operation, outcomes: Default::default(), buckets: Default::default(), sum_nanos: AtomicU64::new(0) }
    }

    /// Counts one request that ended with `outcome` after `elapsed`.
    pub fn record(&self, outcome: Outcome, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.outcomes[outcome as usize].fetch_add(1, Ordering::Relaxed);
        let bucket = BUCKETS.iter().position(|(_, bound)| nanos <= *bound).unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The operation's name (its label value).
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// Requests that ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome as usize].load(Ordering::Relaxed)
    }
}

/// The counters of one service: a row per operation of its table, then the `unknown` row.
#[derive(Debug)]
pub struct ServiceMetrics {
    service: &'static str,
    operations: Box<[OperationMetrics]>,
}

impl ServiceMetrics {
    /// Rows for `operations` (the service's operation table) and the `unknown` row.
    pub fn new(service: &'static str, operations: impl IntoIterator<Item = &'static str>) -> Self {
        let mut rows: Vec<OperationMetrics> = operations.into_iter().map(OperationMetrics::new).collect();
        rows.push(OperationMetrics::new(UNKNOWN_OPERATION));
        Self { service, operations: rows.into_boxed_slice() }
    }

    /// The row of `operation`, or the `unknown` row. A scan as the operation table's own
    /// lookup does: tables have tens of rows, and most names differ in length.
    pub fn operation(&self, operation: &str) -> &OperationMetrics {
        let known = &self.operations[..self.operations.len() - 1];
        known.iter().find(|row| row.operation == operation).unwrap_or_else(|| self.unknown())
    }

    /// The index of `operation`'s row, if the service has it.
    pub fn index_of(&self, operation: &str) -> Option<usize> {
        self.operations[..self.operations.len() - 1].iter().position(|row| row.operation == operation)
    }

    /// The row at `index` (of [`Self::index_of`]), or the `unknown` row.
    pub fn row(&self, index: usize) -> &OperationMetrics {
        self.operations.get(index).unwrap_or_else(|| self.unknown())
    }

    /// The row of requests that name no operation of the service.
    pub fn unknown(&self) -> &OperationMetrics {
        // `new` always pushes the unknown row last, so the slice is never empty.
        &self.operations[self.operations.len() - 1]
    }

    /// The service's name (its label value).
    pub fn service(&self) -> &'static str {
        self.service
    }
}

/// Writes `services`' metrics in Prometheus' text exposition format (version 0.0.4).
pub fn render<'a>(services: impl Iterator<Item = &'a ServiceMetrics> + Clone, out: &mut String) {
    // Writing to a String cannot fail: the results are ignored.
    out.push_str(
        "# HELP kumo_api_requests_total Requests that reached a registered service, by operation and outcome.\n",
    );
    out.push_str("# TYPE kumo_api_requests_total counter\n");
    for service in services.clone() {
        for row in service.operations.iter() {
            for outcome in Outcome::ALL {
                let _ = writeln!(
                    out,
                    "kumo_api_requests_total{{service=\"{}\",operation=\"{}\",outcome=\"{}\"}} {}",
                    service.service,
                    row.operation,
                    outcome.label(),
                    row.count(outcome)
                );
            }
        }
    }
    out.push_str("# HELP kumo_api_request_duration_seconds Time from routing to the rendered answer, by operation.\n");
    out.push_str("# TYPE kumo_api_request_duration_seconds histogram\n");
    for service in services {
        for row in service.operations.iter() {
            let labels = format!("service=\"{}\",operation=\"{}\"", service.service, row.operation);
            let mut cumulative = 0;
            for (index, (bound, _)) in BUCKETS.iter().enumerate() {
                cumulative += row.buckets[index].load(Ordering::Relaxed);
                let _ =
                    writeln!(out, "kumo_api_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            cumulative += row.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(out, "kumo_api_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
            let seconds = row.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "kumo_api_request_duration_seconds_sum{{{labels}}} {seconds}");
            let _ = writeln!(out, "kumo_api_request_duration_seconds_count{{{labels}}} {cumulative}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_operation_and_outcome_and_renders_cumulative_buckets() {
        let metrics = ServiceMetrics::new("sqs", ["SendMessage", "ReceiveMessage"]);
        metrics.operation("SendMessage").record(Outcome::Success, Duration::from_micros(50));
        metrics.operation("SendMessage").record(Outcome::of_status(400), Duration::from_millis(3));
        metrics.operation("Nope").record(Outcome::of_status(503), Duration::from_secs(20));
        assert_eq!(metrics.operation("SendMessage").count(Outcome::Success), 1);
        assert_eq!(metrics.operation("SendMessage").count(Outcome::ClientError), 1);
        assert_eq!(metrics.unknown().count(Outcome::ServerError), 1);
        let mut text = String::new();
        render([&metrics].into_iter(), &mut text);
        let has = |line: &str| text.lines().any(|candidate| candidate == line);
        assert!(has(r#"kumo_api_requests_total{service="sqs",operation="SendMessage",outcome="success"} 1"#));
        assert!(has(r#"kumo_api_requests_total{service="sqs",operation="ReceiveMessage",outcome="success"} 0"#));
        assert!(has(r#"kumo_api_requests_total{service="sqs",operation="unknown",outcome="server_error"} 1"#));
        let send = r#"service="sqs",operation="SendMessage""#;
        assert!(has(&format!("kumo_api_request_duration_seconds_bucket{{{send},le=\"0.0001\"}} 1")));
        assert!(has(&format!("kumo_api_request_duration_seconds_bucket{{{send},le=\"0.0025\"}} 1")));
        assert!(has(&format!("kumo_api_request_duration_seconds_bucket{{{send},le=\"0.005\"}} 2")));
        assert!(has(&format!("kumo_api_request_duration_seconds_bucket{{{send},le=\"+Inf\"}} 2")));
        assert!(has(&format!("kumo_api_request_duration_seconds_count{{{send}}} 2")));
        let unknown = r#"service="sqs",operation="unknown""#;
        assert!(has(&format!("kumo_api_request_duration_seconds_bucket{{{unknown},le=\"10\"}} 0")));
        assert!(has(&format!("kumo_api_request_duration_seconds_bucket{{{unknown},le=\"+Inf\"}} 1")));
        assert!(has(&format!("kumo_api_request_duration_seconds_sum{{{unknown}}} 20")));
    }
}

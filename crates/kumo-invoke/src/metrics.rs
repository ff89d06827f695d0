//! In-memory counters of the async invocation engine, per function, named after the CloudWatch
//! metrics Lambda publishes for them (`AsyncEventsReceived`, `AsyncEventAge`,
//! `AsyncEventsDropped`, `DestinationDeliveryFailures`, `DeadLetterErrors`).
//!
//! They are plain atomics, counted since the server started, and read through
//! [`AsyncMetrics::snapshot`]; exporting them (CloudWatch, Prometheus) is a later layer's job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;

/// Counters of one function (all its versions and aliases).
#[derive(Debug, Default)]
pub struct FunctionCounters {
    events_received: AtomicU64,
    events_dropped: AtomicU64,
    destination_delivery_failures: AtomicU64,
    dead_letter_errors: AtomicU64,
    age_count: AtomicU64,
    age_sum_ms: AtomicU64,
    age_max_ms: AtomicU64,
    age_last_ms: AtomicU64,
}

impl FunctionCounters {
    /// An event was stored and accepted (the caller got its 202).
    pub fn event_received(&self) {
        self.events_received.fetch_add(1, Ordering::Relaxed);
    }

    /// An event left the queue without a successful run (retries or age exhausted, function
    /// gone); it may still have gone to a destination or dead-letter queue, as on AWS.
    pub fn event_dropped(&self) {
        self.events_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// An invocation record could not be delivered to an `OnSuccess`/`OnFailure` destination.
    pub fn destination_delivery_failed(&self) {
        self.destination_delivery_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A failed event could not be sent to the function's dead-letter queue.
    pub fn dead_letter_failed(&self) {
        self.dead_letter_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt started `age_ms` after the event was accepted.
    pub fn event_age(&self, age_ms: u64) {
        self.age_count.fetch_add(1, Ordering::Relaxed);
        self.age_sum_ms.fetch_add(age_ms, Ordering::Relaxed);
        self.age_max_ms.fetch_max(age_ms, Ordering::Relaxed);
        self.age_last_ms.store(age_ms, Ordering::Relaxed);
    }
}

/// `AsyncEventAge` as a summary: how many attempts started and their age in ms.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AgeSummary {
    /// Attempts measured.
    pub count: u64,
    /// Sum of their ages (ms); with `count`, the mean.
    pub sum_ms: u64,
    /// Oldest age seen (ms).
    pub max_ms: u64,
    /// Age of the latest attempt (ms).
    pub last_ms: u64,
}

/// The counters of one function at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionMetrics {
    /// Account of the function.
    pub account: String,
    /// Region of the function.
    pub region: String,
    /// Function name.
    pub function_name: String,
    /// Events accepted by `Invoke` with `InvocationType: Event` (and destinations that invoke).
    pub async_events_received: u64,
    /// Age of events when an attempt to run them started.
    pub async_event_age: AgeSummary,
    /// Events given up without a successful run.
    pub async_events_dropped: u64,
    /// Records that could not be delivered to a destination.
    pub destination_delivery_failures: u64,
    /// Events that could not be sent to the dead-letter queue.
    pub dead_letter_errors: u64,
}

/// `(account, region, function name)`.
type FunctionKey = (String, String, String);

/// Counters of every function that saw async traffic.
#[derive(Debug, Default)]
pub struct AsyncMetrics {
    functions: RwLock<HashMap<FunctionKey, Arc<FunctionCounters>>>,
}

impl AsyncMetrics {
    /// The counters of a function, created on first use.
    pub fn function(&self, account: &str, region: &str, name: &str) -> Arc<FunctionCounters> {
        let key = (account.to_string(), region.to_string(), name.to_string());
        // The map only ever gains entries: a panic while holding the lock cannot tear it.
        let found = self.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&key).cloned();
        if let Some(counters) = found {
            return counters;
        }
        let mut functions = self.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(functions.entry(key).or_default())
    }

    /// The counters of `account`'s functions now, ordered by region and name.
    pub fn snapshot(&self, account: &str) -> Vec<FunctionMetrics> {
        let functions = self.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut snapshot: Vec<FunctionMetrics> = functions
            .iter()
            .filter(|((owner, _, _), _)| owner == account)
            .map(|((owner, region, name), counters)| FunctionMetrics {
                account: owner.clone(),
                region: region.clone(),
                function_name: name.clone(),
                async_events_received: counters.events_received.load(Ordering::Relaxed),
                async_event_age: AgeSummary {
                    count: counters.age_count.load(Ordering::Relaxed),
                    sum_ms: counters.age_sum_ms.load(Ordering::Relaxed),
                    max_ms: counters.age_max_ms.load(Ordering::Relaxed),
                    last_ms: counters.age_last_ms.load(Ordering::Relaxed),
                },
                async_events_dropped: counters.events_dropped.load(Ordering::Relaxed),
                destination_delivery_failures: counters.destination_delivery_failures.load(Ordering::Relaxed),
                dead_letter_errors: counters.dead_letter_errors.load(Ordering::Relaxed),
            })
            .collect();
        snapshot.sort_by(|a, b| (&a.region, &a.function_name).cmp(&(&b.region, &b.function_name)));
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    #[test]
    fn counts_per_function_and_summarises_age() {
        let metrics = AsyncMetrics::default();
        let f = metrics.function(A, "us-east-1", "f");
        f.event_received();
        f.event_received();
        f.event_age(5);
        f.event_age(30);
        f.event_age(10);
        metrics.function(A, "us-east-1", "f").event_dropped();
        metrics.function(A, "eu-west-1", "g").destination_delivery_failed();
        // The same name in another account is another function.
        metrics.function(B, "us-east-1", "f").event_received();
        let snapshot = metrics.snapshot(A);
        assert_eq!(snapshot.len(), 2);
        let g = &snapshot[0];
        assert_eq!(
            (g.region.as_str(), g.function_name.as_str(), g.destination_delivery_failures),
            ("eu-west-1", "g", 1)
        );
        let f = &snapshot[1];
        assert_eq!((f.async_events_received, f.async_events_dropped), (2, 1));
        assert_eq!(f.async_event_age, AgeSummary { count: 3, sum_ms: 45, max_ms: 30, last_ms: 10 });
        let json = serde_json::to_value(f).unwrap();
        assert_eq!(json["Account"], A);
        let other = metrics.snapshot(B);
        assert_eq!(
            other.iter().map(|m| (m.function_name.as_str(), m.async_events_received)).collect::<Vec<_>>(),
            [("f", 1)]
        );
        assert_eq!(json["AsyncEventsReceived"], 2);
        assert_eq!(json["AsyncEventAge"]["max_ms"], 30);
    }
}

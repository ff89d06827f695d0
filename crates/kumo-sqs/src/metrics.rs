//! In-memory counters per queue, named after the CloudWatch metrics SQS publishes
//! (`NumberOfMessagesSent`, `NumberOfMessagesReceived`, `NumberOfMessagesDeleted`, and the
//! `ApproximateNumberOfMessagesVisible` gauge, read from the queue's state when asked).
//!
//! Counted since the server started, for every way in (the SQS API, Lambda destinations and
//! event source mappings, which use the in-process interface); exporting them is a later
//! layer's job.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// The counters of one queue.
#[derive(Debug, Default)]
pub struct QueueCounters {
    sent: AtomicU64,
    received: AtomicU64,
    deleted: AtomicU64,
}

impl QueueCounters {
    /// `count` messages were stored (sends that deduplication absorbed are not counted).
    pub fn sent(&self, count: usize) {
        self.sent.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// `count` messages were handed to a receiver.
    pub fn received(&self, count: usize) {
        self.received.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// A message was deleted by its current receipt handle.
    pub fn deleted(&self) {
        self.deleted.fetch_add(1, Ordering::Relaxed);
    }
}

/// One queue's metrics at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueueMetrics {
    /// Region of the queue.
    pub region: String,
    /// Queue name.
    pub queue_name: String,
    /// Messages stored.
    pub number_of_messages_sent: u64,
    /// Messages handed to receivers (a message received twice counts twice).
    pub number_of_messages_received: u64,
    /// Messages deleted.
    pub number_of_messages_deleted: u64,
    /// Messages receivable now.
    pub approximate_number_of_messages_visible: u64,
}

impl QueueCounters {
    /// The counters with the queue's identity and current visible count.
    pub fn snapshot(&self, region: &str, name: &str, visible: usize) -> QueueMetrics {
        QueueMetrics {
            region: region.to_string(),
            queue_name: name.to_string(),
            number_of_messages_sent: self.sent.load(Ordering::Relaxed),
            number_of_messages_received: self.received.load(Ordering::Relaxed),
            number_of_messages_deleted: self.deleted.load(Ordering::Relaxed),
            approximate_number_of_messages_visible: visible as u64,
        }
    }
}

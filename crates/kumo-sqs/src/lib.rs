//! Amazon SQS for Kumo: standard and FIFO queues with AWS's semantics (visibility timeouts,
//! receipt handles, delays, retention, dead-letter queues, FIFO ordering and deduplication).
//!
//! Queues live in memory and in their own SQLite database; every change is written through
//! one group-committing writer thread (see [`store`]), and a send answers only after its
//! message is committed. Handlers take typed requests (decoded by the gateway) and return typed
//! responses or AWS errors. Other Kumo services use the narrow in-process API in [`internal`].
//! `design.md` beside this crate describes the state, the writes and the delivery guarantees.

pub mod attributes;
pub mod error;
pub mod fifo;
pub mod internal;
pub mod md5;
mod messages;
pub mod metrics;
mod queue;
mod queues;
mod receipts;
mod redrive;
pub mod store;
pub mod types;
pub mod validation;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kumo_core::AwsError;

use attributes::QueueAttributes;
use queue::{Queue, QueueState};
use store::{SqsStore, StoreError, WriteOp};

pub use types::SqsContext;

/// How often expired messages and deduplication entries are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The SQS service of one Kumo node.
pub struct SqsService {
    account: String,
    store: SqsStore,
    /// Queues by (region, name).
    queues: RwLock<HashMap<(String, String), Arc<Queue>>>,
    next_seq: AtomicU64,
    next_queue_id: AtomicI64,
    /// Serialises queue creation and deletion (name uniqueness).
    lifecycle: tokio::sync::Mutex<()>,
    move_tasks: Mutex<Vec<redrive::MoveTask>>,
}

impl SqsService {
    /// Opens the store under `data_dir` (blocking: call at start-up or via `spawn_blocking`)
    /// and restores every queue and message.
    pub fn open(data_dir: &Path, account: impl Into<String>) -> Result<Arc<Self>, StoreError> {
        let (store, loaded) = SqsStore::open(data_dir)?;
        let mut queues = HashMap::new();
        let mut by_id = HashMap::new();
        let account = account.into();
        for row in loaded.queues {
            let attributes: QueueAttributes = serde_json::from_str(&row.attributes)?;
            let tags = serde_json::from_str(&row.tags)?;
            let state = QueueState::new(attributes, tags, row.created_ms, row.modified_ms);
            let arn = attributes::queue_arn(&row.region, &account, &row.name);
            let queue = Arc::new(Queue::new(row.id, row.region.clone(), row.name.clone(), arn, state));
            by_id.insert(row.id, Arc::clone(&queue));
            queues.insert((row.region, row.name), queue);
        }
        let mut orphans = Vec::new();
        let message_count = loaded.messages.len();
        for message in loaded.messages {
            match by_id.get(&message.queue_id) {
                Some(queue) => queue.lock().insert(message),
                None => orphans.push(WriteOp::DeleteMessage(message.seq)),
            }
        }
        for row in loaded.dedup {
            if let Some(queue) = by_id.get(&row.queue_id) {
                let entry = queue::DedupEntry { message_id: row.message_id, seq: row.seq, expires_ms: row.expires_ms };
                queue.lock().dedup.insert(row.key, entry);
            }
        }
        if !orphans.is_empty() {
            store.submit(orphans, None);
        }
        tracing::info!(queues = queues.len(), messages = message_count, "sqs store opened");
        Ok(Arc::new(Self {
            account,
            store,
            queues: RwLock::new(queues),
            next_seq: AtomicU64::new(loaded.next_seq),
            next_queue_id: AtomicI64::new(loaded.next_queue_id),
            lifecycle: tokio::sync::Mutex::new(()),
            move_tasks: Mutex::new(Vec::new()),
        }))
    }

    /// Starts the background sweep of expired messages and deduplication entries.
    pub fn start_sweeper(self: &Arc<Self>) {
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(SWEEP_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(service) = service.upgrade() else { return };
                service.sweep(kumo_core::time::now_millis());
            }
        });
    }

    /// Drops expired messages and deduplication entries everywhere.
    fn sweep(&self, now_ms: u64) {
        let mut ops = Vec::new();
        let mut any_dedup_expired = false;
        for queue in self.all_queues() {
            let mut state = queue.lock();
            ops.extend(state.drop_expired(now_ms).into_iter().map(WriteOp::DeleteMessage));
            let before = state.dedup.len();
            state.dedup.retain(|_, entry| entry.expires_ms > now_ms);
            any_dedup_expired |= state.dedup.len() != before;
        }
        if any_dedup_expired {
            ops.push(WriteOp::ExpireDedup(now_ms));
        }
        if !ops.is_empty() {
            tracing::debug!(ops = ops.len(), "sqs sweep");
            self.store.submit(ops, None);
        }
    }

    /// Every queue's counters and visible count now, ordered by region and name.
    pub fn metrics(&self) -> Vec<metrics::QueueMetrics> {
        let now = kumo_core::time::now_millis();
        let mut snapshot: Vec<metrics::QueueMetrics> = self
            .all_queues()
            .iter()
            .map(|queue| {
                let visible = queue.lock().counts(now).visible;
                queue.counters.snapshot(&queue.region, &queue.name, visible)
            })
            .collect();
        snapshot.sort_by(|a, b| (&a.region, &a.queue_name).cmp(&(&b.region, &b.queue_name)));
        snapshot
    }

    /// The account queues belong to.
    pub fn account(&self) -> &str {
        &self.account
    }

    fn all_queues(&self) -> Vec<Arc<Queue>> {
        self.queues_read().values().cloned().collect()
    }

    fn queues_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Arc<Queue>>> {
        // The map is only ever inserted into or removed from; a panic cannot leave it torn.
        self.queues.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn queues_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, String), Arc<Queue>>> {
        self.queues.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A queue by region and name.
    fn queue_named(&self, region: &str, name: &str) -> Option<Arc<Queue>> {
        self.queues_read().get(&(region.to_string(), name.to_string())).cloned()
    }

    /// A queue by ARN (of this account).
    fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let (region, account, name) = attributes::parse_queue_arn(arn)?;
        if account != self.account {
            return None;
        }
        self.queue_named(region, name)
    }

    /// Resolves a `QueueUrl` parameter (`<anything>/<account>/<name>`) in the caller's region.
    fn queue_for_url(&self, context: &SqsContext, url: Option<&str>) -> Result<Arc<Queue>, AwsError> {
        let url = url.filter(|url| !url.is_empty()).ok_or_else(|| error::missing_parameter("QueueUrl"))?;
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
            None => url.trim_start_matches('/'),
        };
        let mut segments = path.split('/').filter(|segment| !segment.is_empty());
        let (Some(account), Some(name), None) = (segments.next(), segments.next(), segments.next()) else {
            return Err(AwsError::new("InvalidAddress", 404, "The address is not valid for this endpoint."));
        };
        if account != self.account {
            return Err(error::queue_does_not_exist());
        }
        self.queue_named(&context.region, name).ok_or_else(error::queue_does_not_exist)
    }

    /// The URL of a queue as seen by this caller.
    fn queue_url(&self, context: &SqsContext, queue: &Queue) -> String {
        format!("{}/{}/{}", context.endpoint.trim_end_matches('/'), self.account, queue.name)
    }

    fn allocate_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits for `ops` to commit, mapping failure to an internal error.
    async fn commit(&self, ops: Vec<WriteOp>) -> Result<(), AwsError> {
        self.store.commit(ops).await.map_err(error::internal)
    }
}

/// A required string parameter.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, AwsError> {
    value.as_deref().filter(|value| !value.is_empty()).ok_or_else(|| error::missing_parameter(name))
}

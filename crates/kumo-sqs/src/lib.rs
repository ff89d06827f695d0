//! Amazon SQS for Kumo: standard and FIFO queues with AWS's semantics (visibility timeouts,
//! receipt handles, delays, retention, dead-letter queues, FIFO ordering and deduplication).
//!
//! Queues belong to an account and a region (`(account, region, name)` is unique; URLs
//! `http://<host>/queue/<region>/<account>/<name>` (see [`urls`]) and ARNs
//! `arn:aws:sqs:<region>:<account>:<name>` name both). Every operation on a queue is authorized through [`kumo_core::policy`]: the
//! caller's identity policies (role sessions, when enforced) and the queue's `Policy`, which is
//! what lets another account in.
//!
//! Queues live in memory and in their own SQLite database; every change is written through
//! one group-committing writer thread (see [`store`]), and a send answers only after its
//! message is committed. Handlers take typed requests and return typed responses or AWS errors;
//! [`api`] registers the service with kumo-protocol's registry, which decodes and encodes.
//! Other Kumo services use the narrow in-process API in [`internal`].
//! `design.md` beside this crate describes the state, the writes and the delivery guarantees.

#[cfg(test)]
mod accounts_tests;
pub mod api;
#[cfg(test)]
mod api_tests;
pub mod attributes;
pub mod error;
pub mod fifo;
pub mod internal;
pub mod md5;
mod messages;
pub mod metrics;
mod permissions;
mod queue;
mod queues;
mod receipts;
mod redrive;
mod send;
pub mod store;
pub mod types;
pub mod urls;
pub mod validation;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kumo_core::AwsError;

use attributes::QueueAttributes;
use queue::{Queue, QueueState};
use store::{Loaded, SqliteSqsStore, SqsStore, StoreError, WriteOp};

pub use types::SqsContext;

/// How often expired messages and deduplication entries are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// `(account, region, name)`.
type QueueKey = (String, String, String);

/// The SQS service of one Kumo node.
pub struct SqsService {
    /// The configured account: owns queues stored before queues had accounts.
    default_account: String,
    store: Arc<dyn SqsStore>,
    /// Queues by (account, region, name).
    queues: RwLock<HashMap<QueueKey, Arc<Queue>>>,
    /// Decides who may do what to a queue; unset, identity policies are not enforced.
    authorizer: std::sync::OnceLock<kumo_core::policy::Authorizer>,
    next_seq: AtomicU64,
    next_queue_id: AtomicI64,
    /// Serialises queue creation and deletion (name uniqueness).
    lifecycle: tokio::sync::Mutex<()>,
    move_tasks: Mutex<Vec<redrive::MoveTask>>,
    /// How new queues' URLs are written (set once at start).
    url_style: std::sync::OnceLock<urls::UrlStyle>,
}

impl SqsService {
    /// Opens the store under `data_dir` (blocking: call at start-up or via `spawn_blocking`)
    /// and restores every queue and message.
    pub fn open(data_dir: &Path, account: impl Into<String>) -> Result<Arc<Self>, StoreError> {
        let account = account.into();
        let (store, loaded) = SqliteSqsStore::open(data_dir, &account)?;
        Self::with_store(Arc::new(store), loaded, account)
    }

    /// Restores every queue and message `loaded` from `store`, which takes the changes from now
    /// on; queues stored before queues had accounts belong to `account`.
    pub fn with_store(store: Arc<dyn SqsStore>, loaded: Loaded, account: String) -> Result<Arc<Self>, StoreError> {
        let mut queues = HashMap::new();
        let mut by_id = HashMap::new();
        for row in loaded.queues {
            let attributes: QueueAttributes = serde_json::from_str(&row.attributes)?;
            let tags = serde_json::from_str(&row.tags)?;
            let state = QueueState::new(attributes, tags, row.created_ms, row.modified_ms);
            let mut queue = Queue::new(row.id, row.account.clone(), row.region.clone(), row.name.clone(), state);
            queue.legacy_url = row.legacy_url;
            let queue = Arc::new(queue);
            by_id.insert(row.id, Arc::clone(&queue));
            queues.insert((row.account, row.region, row.name), queue);
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
            default_account: account,
            store,
            authorizer: std::sync::OnceLock::new(),
            queues: RwLock::new(queues),
            next_seq: AtomicU64::new(loaded.next_seq),
            next_queue_id: AtomicI64::new(loaded.next_queue_id),
            lifecycle: tokio::sync::Mutex::new(()),
            move_tasks: Mutex::new(Vec::new()),
            url_style: std::sync::OnceLock::new(),
        }))
    }

    /// Whether the store still keeps what SQS gives it (see [`SqsStore::health`]).
    pub fn store_health(&self) -> Result<(), String> {
        self.store.health()
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

    /// Makes every operation hold role sessions to their identity policies (set once at
    /// start; left unset by `--iam-enforcement off`). Queue policies are evaluated either way.
    pub fn set_authorizer(&self, authorizer: kumo_core::policy::Authorizer) {
        let _ = self.authorizer.set(authorizer);
    }

    /// Writes the URLs of queues from now on in `style` (set once at start; path form if unset).
    pub fn set_url_style(&self, style: urls::UrlStyle) {
        let _ = self.url_style.set(style);
    }

    /// Every queue of `account`: counters and visible count now, ordered by region and name.
    pub fn metrics_of(&self, account: &str) -> Vec<metrics::QueueMetrics> {
        let now = kumo_core::time::now_millis();
        let mut snapshot: Vec<metrics::QueueMetrics> = self
            .all_queues()
            .iter()
            .filter(|queue| queue.account == account)
            .map(|queue| {
                let visible = queue.lock().counts(now).visible;
                queue.counters.snapshot(&queue.region, &queue.name, visible)
            })
            .collect();
        snapshot.sort_by(|a, b| (&a.region, &a.queue_name).cmp(&(&b.region, &b.queue_name)));
        snapshot
    }

    /// The configured account (owner of queues from before queues had accounts).
    pub fn account(&self) -> &str {
        &self.default_account
    }

    fn all_queues(&self) -> Vec<Arc<Queue>> {
        self.queues_read().values().cloned().collect()
    }

    fn queues_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<QueueKey, Arc<Queue>>> {
        // The map is only ever inserted into or removed from; a panic cannot leave it torn.
        self.queues.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn queues_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<QueueKey, Arc<Queue>>> {
        self.queues.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A queue by account, region and name.
    fn queue_named(&self, account: &str, region: &str, name: &str) -> Option<Arc<Queue>> {
        self.queues_read().get(&(account.to_string(), region.to_string(), name.to_string())).cloned()
    }

    /// A queue by ARN (which names its account and region).
    fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let (region, account, name) = attributes::parse_queue_arn(arn)?;
        self.queue_named(account, region, name)
    }

    /// Resolves a `QueueUrl` parameter (any form of [`urls`], or a bare name) and authorizes
    /// `action` on it: a missing queue is `NonExistentQueue`, one the caller may not act on
    /// `AccessDenied`.
    fn queue_for_url(&self, context: &SqsContext, url: Option<&str>, action: &str) -> Result<Arc<Queue>, AwsError> {
        let url = url.filter(|url| !url.is_empty()).ok_or_else(|| error::missing_parameter("QueueUrl"))?;
        let address = urls::parse(url)
            .ok_or_else(|| AwsError::new("InvalidAddress", 404, "The address is not valid for this endpoint."))?;
        let account = address.account.unwrap_or(&context.account);
        let region = address.region.unwrap_or(&context.region);
        let queue = self.queue_named(account, region, address.name).ok_or_else(error::queue_does_not_exist)?;
        self.authorize(context, &queue, action)?;
        Ok(queue)
    }

    /// Whether the caller may perform `action` on `queue`: its identity policies (for role
    /// sessions, when enforced) and the queue's `Policy` decide, as AWS decides; another
    /// account needs the queue's policy to grant it.
    fn authorize(&self, context: &SqsContext, queue: &Queue, action: &str) -> Result<(), AwsError> {
        let policy = queue.lock().attributes.policy.clone();
        let statements = policy.as_deref().map(kumo_core::policy::parse_statements);
        self.authorize_resource(context, &queue.arn, &queue.account, statements.as_deref(), action)
    }

    /// [`Self::authorize`] for a resource that may not exist yet (CreateQueue, ListQueues).
    fn authorize_resource(
        &self,
        context: &SqsContext,
        resource: &str,
        owner: &str,
        statements: Option<&[serde_json::Value]>,
        action: &str,
    ) -> Result<(), AwsError> {
        let not_enforced = kumo_core::policy::Authorizer::identity_not_enforced();
        let authorizer = self.authorizer.get().unwrap_or(&not_enforced);
        authorizer
            .authorize(&context.caller(), action, resource, owner, statements, &[])
            .map_err(|denial| error::access_denied(denial, &context.caller_arn, action, resource))
    }

    /// The URL of a queue as seen by this caller.
    fn queue_url(&self, context: &SqsContext, queue: &Queue) -> String {
        let style = self.url_style.get().copied().unwrap_or_default();
        urls::format(&context.endpoint, style, queue.legacy_url, &queue.region, &queue.account, &queue.name)
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

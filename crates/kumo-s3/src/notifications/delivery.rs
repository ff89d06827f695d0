//! Sending what the outbox holds: a background task reads it a page at a time (oldest first),
//! hands each message to its destination through [`Targets`] (bridged by the binary to SQS,
//! SNS and Lambda's asynchronous invocation), and removes the rows once delivered or given up.
//! Rows a crash left are sent at the next start: at least once, possibly twice.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::DestinationKind;
use crate::store::OutboxEntry;
use crate::S3Service;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Outbox rows read and delivered at a time (all of a page at once): what bounds memory.
const PAGE: usize = 64;
/// Attempts at one delivery before it is given up.
const ATTEMPTS: u32 = 5;
/// Pause before the second attempt; doubled after.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Pause after the store failed to be read or written, before trying again.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// Test hook: milliseconds each page waits before its delivery, so that a test can kill Kumo
/// between a request's answer and its notification.
const DELAY_ENV: &str = "KUMO_S3_NOTIFICATION_DELAY_MS";

/// Where notifications go: the binary bridges it to the SQS, SNS and Lambda services, so that
/// kumo-s3 depends on none of them.
pub trait Targets: Send + Sync + 'static {
    /// Whether the destination `arn` exists and its resource policy lets `s3.amazonaws.com`
    /// send to it for the bucket `bucket` of `owner` (`aws:SourceArn` `arn:aws:s3:::<bucket>`,
    /// `aws:SourceAccount` `owner`).
    fn validate<'a>(
        &'a self,
        kind: DestinationKind,
        arn: &'a str,
        bucket: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, bool>;

    /// Sends `body` to `arn` (a queue: a message; a topic: a publish with the subject
    /// "Amazon S3 Notification"; a function: an asynchronous invocation) for the bucket `bucket`
    /// of `owner`, if the destination's policy still lets S3 do it; `Err` says why not.
    fn deliver<'a>(
        &'a self,
        arn: &'a str,
        body: String,
        bucket: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// The outbox's delivery side: the targets once set, and the signal that new rows wait.
#[derive(Default)]
pub struct Notifier {
    targets: OnceLock<Arc<dyn Targets>>,
    pending: tokio::sync::Notify,
}

impl Notifier {
    /// Says that rows were committed to the outbox.
    pub fn wake(&self) {
        self.pending.notify_one();
    }

    /// The targets, once delivery started.
    pub fn targets(&self) -> Option<Arc<dyn Targets>> {
        self.targets.get().cloned()
    }
}

impl S3Service {
    /// Starts delivering event notifications to `targets`: what earlier runs left in the outbox
    /// first, then every change from now on. Call once, when the targets can take deliveries.
    pub fn start_notifications(self: &Arc<Self>, targets: Arc<dyn Targets>) {
        if self.notifier.targets.set(Arc::clone(&targets)).is_err() {
            tracing::warn!("s3 notification delivery was started twice");
            return;
        }
        let delay = std::env::var(DELAY_ENV).ok().and_then(|ms| ms.parse().ok()).map(Duration::from_millis);
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(s3) = service.upgrade() else { return };
                let page = s3.blocking(|store| store.outbox_after(0, PAGE)).await;
                let page = match page {
                    Ok(page) => page,
                    Err(_) => {
                        tokio::time::sleep(STORE_RETRY).await;
                        continue;
                    }
                };
                if page.is_empty() {
                    s3.notifier.pending.notified().await;
                    continue;
                }
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                let seqs: Vec<i64> = page.iter().map(|entry| entry.seq).collect();
                let mut deliveries = tokio::task::JoinSet::new();
                for entry in page {
                    let targets = Arc::clone(&targets);
                    deliveries.spawn(async move { deliver(targets.as_ref(), entry).await });
                }
                while deliveries.join_next().await.is_some() {}
                if s3.blocking(move |store| store.remove_outbox(&seqs)).await.is_err() {
                    tokio::time::sleep(STORE_RETRY).await;
                }
            }
        });
    }
}

/// Makes one delivery, retrying; one that keeps failing is logged and given up (as S3 drops a
/// message whose destination went away).
async fn deliver(targets: &dyn Targets, entry: OutboxEntry) {
    let mut pause = FIRST_RETRY;
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        match targets.deliver(&entry.destination, entry.body.clone(), &entry.bucket, &entry.owner).await {
            Ok(()) => {
                tracing::debug!(destination = %entry.destination, seq = entry.seq, attempt, "s3 event notification delivered");
                return;
            }
            Err(error) => last_error = error,
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    tracing::warn!(destination = %entry.destination, error = %last_error, "s3 event notification given up");
}

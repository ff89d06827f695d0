//! Amazon S3 for Kumo: buckets (global names, owned by an account, in a region), objects
//! streamed to files and never held whole in memory, listings over a key index, multipart
//! uploads, with S3's errors.
//!
//! The protocol is s3s' (kumo-protocol's [`kumo_protocol::rest_xml`] adapter): [`api`] declares
//! the service and implements s3s' `S3` trait by calling the operations, one module per group
//! ([`buckets`], [`objects`], [`listing`], [`multipart`]). Metadata lives behind [`store::S3Store`]
//! (SQLite by default); content in [`files::ObjectFiles`]. Every operation is authorized by the
//! caller's identity policies ([`kumo_core::policy`]); a bucket of another account is refused.
//! Changes to objects send event notifications ([`notifications`]) through a durable outbox.

pub mod api;
mod buckets;
mod errors;
pub mod files;
pub mod internal;
mod listing;
mod multipart;
pub mod notifications;
mod objects;
pub mod store;
mod tagging;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use kumo_core::RequestContext;
use s3s::S3Result;

use files::ObjectFiles;
use store::{BucketRow, S3Store, SqliteS3Store, StoreError};

/// The S3 service of one Kumo node.
pub struct S3Service {
    store: Arc<dyn S3Store>,
    files: ObjectFiles,
    /// Decides what a caller's identity policies allow; unset, they are not enforced.
    authorizer: OnceLock<kumo_core::policy::Authorizer>,
    /// Delivers event notifications from the outbox.
    notifier: notifications::delivery::Notifier,
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// A time in milliseconds since the epoch as s3s' timestamp.
fn timestamp(ms: i64) -> s3s::dto::Timestamp {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH).into()
}

/// s3s' timestamp in milliseconds since the epoch.
fn millis(timestamp: s3s::dto::Timestamp) -> i64 {
    let time: time::OffsetDateTime = timestamp.into();
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl S3Service {
    /// Opens the store and the objects' files under `data_dir` (blocking: at start-up), and
    /// removes files a crash left that no row names.
    pub fn open(data_dir: &Path) -> Result<Arc<Self>, StoreError> {
        let store = SqliteS3Store::open(data_dir)?;
        let files = ObjectFiles::open(data_dir)?;
        let referenced: HashSet<String> = store.referenced_blobs()?.into_iter().collect();
        let swept = files.sweep(&referenced)?;
        tracing::info!(objects = referenced.len(), swept, "s3 store opened");
        Ok(Self::with_store(Arc::new(store), files))
    }

    /// The service over `store` and `files`.
    pub fn with_store(store: Arc<dyn S3Store>, files: ObjectFiles) -> Arc<Self> {
        Arc::new(Self { store, files, authorizer: OnceLock::new(), notifier: Default::default() })
    }

    /// Holds callers to their identity policies from now on (set once, at start).
    pub fn set_authorizer(&self, authorizer: kumo_core::policy::Authorizer) {
        let _ = self.authorizer.set(authorizer);
    }

    /// `Ok` while the store can keep what it is given.
    pub fn health(&self) -> Result<(), String> {
        self.store.health()
    }

    /// Runs `work` on the store on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn S3Store) -> Result<T, StoreError> + Send + 'static,
    ) -> S3Result<T> {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || work(store.as_ref())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(errors::internal(&error)),
            Err(error) => Err(errors::internal(&error)),
        }
    }

    /// Whether the caller's identity policies allow `action` (`s3:GetObject`) on `resource`.
    fn authorize(&self, context: &RequestContext, action: &str, resource: &str) -> S3Result<()> {
        let Some(authorizer) = self.authorizer.get() else { return Ok(()) };
        authorizer.authorize_identity(&context.caller(), action, resource).map_err(|_| errors::access_denied())
    }

    /// The bucket `name` for `action` by the caller: `NoSuchBucket`, or `AccessDenied` when
    /// another account owns it or the caller's policies do not allow the action.
    async fn bucket_for(
        &self,
        context: &RequestContext,
        name: &str,
        action: &str,
        key: Option<&str>,
    ) -> S3Result<BucketRow> {
        let wanted = name.to_string();
        let bucket = self.blocking(move |store| store.bucket(&wanted)).await?.ok_or_else(errors::no_such_bucket)?;
        if bucket.account != context.account {
            return Err(errors::access_denied());
        }
        let resource = match key {
            Some(key) => format!("arn:aws:s3:::{name}/{key}"),
            None => format!("arn:aws:s3:::{name}"),
        };
        self.authorize(context, action, &resource)?;
        Ok(bucket)
    }
}

//! What Lambda stores, behind [`LambdaStore`]: function versions and layer versions (as JSON
//! documents), event source mappings, the durable async-invoke queue, log lines and metering.
//! [`SqliteLambdaStore`] keeps them in `kumo.sqlite3` under the data dir; [`Store`] bundles
//! the chosen implementation with the code-package blobs of `kumo_store`.
//!
//! Calls block; async callers go through `spawn_blocking`. High-rate writes (the async queue,
//! logs, metering) go through the writers of [`writers`], one transaction per batch.

mod migrations;
mod sqlite;
#[cfg(test)]
mod suite;
#[cfg(test)]
mod writer_tests;
mod writers;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kumo_store::{BlobStore, StoreError};
use serde::{Deserialize, Serialize};

pub use sqlite::SqliteLambdaStore;
pub use writers::{BatchWrite, BatchWriter, EnqueueDone, FlushDone, QueueChange, QueueWriter};

/// Lambda's tables. Documents are the services' own JSON; the store keys and orders them.
pub trait LambdaStore: Send + Sync {
    /// Inserts or replaces a function version document.
    fn put_function(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
        document: &str,
    ) -> Result<(), StoreError>;

    /// Inserts a function version only if it does not exist; returns whether it was inserted.
    fn insert_function(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
        document: &str,
    ) -> Result<bool, StoreError>;

    /// Reads one function version document.
    fn get_function(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Lists `(name, document)` of one version across functions, ordered by name, after `after`.
    fn list_functions(
        &self,
        account: &str,
        region: &str,
        version: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Every stored version of one function as `(version, document)`, unordered.
    fn list_function_versions(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Every `$LATEST` document of every account and region as `(account, region, document)`,
    /// for start-up work (reservations, provisioning).
    fn all_latest_functions(&self) -> Result<Vec<(String, String, String)>, StoreError>;

    /// Deletes one version of a function; returns whether it existed.
    fn delete_function_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
    ) -> Result<bool, StoreError>;

    /// Deletes every version of a function; returns how many went.
    fn delete_function(&self, account: &str, region: &str, name: &str) -> Result<usize, StoreError>;

    /// Stores a new version of a layer under the next number and returns it: numbers count up
    /// per layer name and are never reused, even after every version was deleted.
    fn insert_layer_version(&self, account: &str, region: &str, name: &str, document: &str) -> Result<u64, StoreError>;

    /// Replaces the document of an existing layer version (its policy changed).
    fn update_layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
        document: &str,
    ) -> Result<(), StoreError>;

    /// Reads one layer version document.
    fn get_layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<String>, StoreError>;

    /// Every version of every layer of an account's region as `(name, version, document)`, by
    /// name, newest version first.
    fn list_layer_versions(&self, account: &str, region: &str) -> Result<Vec<(String, u64, String)>, StoreError>;

    /// Deletes one layer version; returns whether it existed. The layer's numbering stays.
    fn delete_layer_version(&self, account: &str, region: &str, name: &str, version: u64) -> Result<bool, StoreError>;

    /// Inserts or replaces an event source mapping.
    fn put_event_source_mapping(
        &self,
        uuid: &str,
        account: &str,
        region: &str,
        document: &str,
    ) -> Result<(), StoreError>;

    /// Reads an event source mapping of an account's region.
    fn get_event_source_mapping(&self, uuid: &str, account: &str, region: &str) -> Result<Option<String>, StoreError>;

    /// Every event source mapping as `(account, region, document)`, ordered by UUID.
    fn list_event_source_mappings(&self) -> Result<Vec<(String, String, String)>, StoreError>;

    /// Deletes an event source mapping; returns whether it existed.
    fn delete_event_source_mapping(&self, uuid: &str) -> Result<bool, StoreError>;

    /// Inserts or replaces a code signing configuration of an account's region.
    fn put_code_signing_config(&self, account: &str, region: &str, id: &str, document: &str) -> Result<(), StoreError>;

    /// Reads one code signing configuration.
    fn get_code_signing_config(&self, account: &str, region: &str, id: &str) -> Result<Option<String>, StoreError>;

    /// The code signing configurations of an account's region as `(id, document)`, by id.
    fn list_code_signing_configs(&self, account: &str, region: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Deletes a code signing configuration; returns whether it existed.
    fn delete_code_signing_config(&self, account: &str, region: &str, id: &str) -> Result<bool, StoreError>;

    /// Ids of all queued async events, oldest first: what start-up resumes, without holding
    /// their payloads in memory.
    fn pending_async_ids(&self) -> Result<Vec<i64>, StoreError>;

    /// One queued async event, if it is still queued.
    fn async_event(&self, id: i64) -> Result<Option<AsyncEvent>, StoreError>;

    /// Log lines of an account's group after position `after_id`, oldest first.
    fn log_events(
        &self,
        account: &str,
        region: &str,
        log_group: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<StoredLogEvent>, StoreError>;

    /// Metering records of an account's function, oldest first.
    fn metering(&self, account: &str, region: &str, function_name: &str) -> Result<Vec<MeteringRecord>, StoreError>;

    /// Starts the writer of the async queue (call it within a Tokio runtime): many events are
    /// committed in one transaction, and each enqueuer is told its id only after that commit.
    fn spawn_queue_writer(&self) -> QueueWriter;

    /// Starts the writer that commits logs and metering in batches.
    fn spawn_batch_writer(&self) -> BatchWriter;

    /// `Ok` while writes made now would be kept (the writers alive and committing, the
    /// database in place); otherwise why not, for `/_kumo/health`. Called on every health
    /// poll: O(1), no I/O beyond a `stat`.
    fn health(&self) -> Result<(), String>;
}

/// An accepted `Event` invocation waiting to run; removed only after it ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AsyncEvent {
    /// Request id returned to the caller with the 202.
    pub request_id: String,
    /// Account of the function; empty for events queued before accounts existed, which belong
    /// to the configured account.
    #[serde(default)]
    pub account: String,
    /// Region of the function.
    pub region: String,
    /// Function name.
    pub function_name: String,
    /// Version or alias requested.
    pub qualifier: Option<String>,
    /// The event payload (stored in its own column, not in the JSON document).
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Decoded client context JSON, if the caller sent one.
    pub client_context: Option<String>,
    /// When it was accepted.
    pub enqueued_ms: u64,
    /// How many times it has been tried.
    pub attempts: u32,
}

/// One billed invocation, as Lambda meters it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeteringRecord {
    /// Invocation request id.
    pub request_id: String,
    /// Account of the function; empty in records from before accounts existed, which belong
    /// to the configured account.
    #[serde(default)]
    pub account: String,
    /// Region of the function.
    pub region: String,
    /// Function name.
    pub function_name: String,
    /// Version that ran.
    pub version: String,
    /// When the invocation started (epoch ms).
    pub started_ms: u64,
    /// Handler duration in ms.
    pub duration_ms: f64,
    /// Duration rounded up to the next ms.
    pub billed_ms: u64,
    /// Configured memory in MB.
    pub memory_mb: u32,
    /// Peak memory used in MB.
    pub max_memory_used_mb: u64,
    /// Init duration when this invocation was a cold start.
    pub init_duration_ms: Option<f64>,
    /// Billed GB-seconds: memory in GB × billed seconds.
    pub gb_seconds: f64,
}

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Account of the function.
    pub account: String,
    /// Region of the function.
    pub region: String,
    /// `/aws/lambda/<function>`.
    pub log_group: String,
    /// Stream of the execution environment.
    pub log_stream: String,
    /// When the line was written (epoch ms).
    pub timestamp_ms: u64,
    /// The line, without its newline.
    pub message: String,
}

/// A stored log line with its position, for following.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StoredLogEvent {
    /// Monotonic position; pass the last one back to follow.
    pub id: i64,
    /// Stream it was written to.
    pub log_stream: String,
    /// When it was written (epoch ms).
    pub timestamp_ms: u64,
    /// The line.
    pub message: String,
}

/// Lambda's tables and code-package blobs on one data dir.
#[derive(Clone)]
pub struct Store {
    /// Functions, layers, event source mappings, async queue, logs, metering.
    pub metadata: Arc<dyn LambdaStore>,
    /// Code packages, by content hash.
    pub blobs: Arc<BlobStore>,
    data_dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the SQLite store and the blobs under `data_dir`; Lambda
    /// resources stored before accounts existed belong to `default_account`.
    pub fn open(data_dir: &Path, default_account: &str) -> Result<Self, StoreError> {
        let data_dir = Self::prepare_data_dir(data_dir)?;
        let metadata = SqliteLambdaStore::open(&data_dir.join("kumo.sqlite3"), default_account)?;
        Self::with_metadata(&data_dir, Arc::new(metadata))
    }

    /// Bundles another implementation of Lambda's tables with the blobs under `data_dir`.
    pub fn with_metadata(data_dir: &Path, metadata: Arc<dyn LambdaStore>) -> Result<Self, StoreError> {
        let data_dir = Self::prepare_data_dir(data_dir)?;
        let blobs = BlobStore::open(&data_dir)?;
        Ok(Self { metadata, blobs: Arc::new(blobs), data_dir })
    }

    fn prepare_data_dir(data_dir: &Path) -> Result<PathBuf, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        // Functions run with their code dir as cwd: every path handed out must be absolute.
        Ok(std::fs::canonicalize(data_dir)?)
    }

    /// The data dir this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

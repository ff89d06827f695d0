//! Kumo's durable state: an embedded SQLite metadata store and a content-addressed blob store
//! for code packages and layers. Everything lives under the data dir; deleting it resets Kumo.

mod blobs;
mod group_commit;
mod layered;
mod metadata;
mod migrations;
mod unzip;

pub use blobs::{BlobStore, CodePackage};
pub use group_commit::{BatchWrite, BatchWriter, EnqueueDone, FlushDone, QueueWriter};
pub use metadata::{AsyncEvent, LogEvent, MetadataStore, MeteringRecord, StoredLogEvent};
pub use unzip::{extract_zip, inspect_zip, PackageError};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors from the store; callers map them to `ServiceException` and log the detail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The filesystem failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Stored JSON could not be read back.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The metadata and blob stores opened on one data dir.
#[derive(Clone)]
pub struct Store {
    /// Functions, async queue, metering.
    pub metadata: Arc<MetadataStore>,
    /// Code packages, by content hash.
    pub blobs: Arc<BlobStore>,
    data_dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the stores under `data_dir`; Lambda resources stored before
    /// accounts existed belong to `default_account`.
    pub fn open(data_dir: &Path, default_account: &str) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        // Functions run with their code dir as cwd: every path handed out must be absolute.
        let data_dir = &std::fs::canonicalize(data_dir)?;
        let metadata = MetadataStore::open(&data_dir.join("kumo.sqlite3"), default_account)?;
        let blobs = BlobStore::open(data_dir)?;
        Ok(Self { metadata: Arc::new(metadata), blobs: Arc::new(blobs), data_dir: data_dir.to_path_buf() })
    }

    /// The data dir this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

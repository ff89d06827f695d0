//! What S3 keeps about buckets, objects and multipart uploads (the metadata; objects' content
//! is in files, see [`crate::files`]), behind [`S3Store`] so that another backend can take the
//! SQLite one's place. Every method is blocking: callers run it through `spawn_blocking`.
//!
//! Object keys are compared as bytes (S3 lists keys in UTF-8 binary order), and a listing reads
//! a bounded range of the `(bucket, key)` index: a page costs its own length, never the bucket's.

mod sqlite;
#[cfg(test)]
mod suite;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use kumo_store::StoreError;
pub use sqlite::SqliteS3Store;

/// A bucket: its global name, the account that owns it and the region it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    /// The store's id of the bucket (objects refer to it).
    pub id: i64,
    /// The bucket's name, unique in the partition.
    pub name: String,
    /// The owning account.
    pub account: String,
    /// The region the bucket was created in.
    pub region: String,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: i64,
    /// Its event notification configuration ([`crate::notifications::Rules`] as JSON), if any.
    pub notification: Option<String>,
}

/// An event notification waiting in the outbox for its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its position in the outbox (assigned by the store; 0 before).
    pub seq: i64,
    /// The ARN of the function, queue or topic it goes to.
    pub destination: String,
    /// The message (`{"Records":[…]}` or an `s3:TestEvent`).
    pub body: String,
    /// The bucket it reports on (the destination's policy must still let S3 send for it).
    pub bucket: String,
    /// The bucket's owner.
    pub owner: String,
}

/// What an object carries besides its content: the headers it was stored with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    /// `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires`, milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    /// User metadata (`x-amz-meta-<name>`), names in lower case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
    /// The object's tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// An object's metadata row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    /// The key.
    pub key: String,
    /// Content length in bytes.
    pub size: u64,
    /// The ETag without quotes (`<md5 hex>` or `<md5 hex>-<parts>`).
    pub etag: String,
    /// Last modification, milliseconds since the epoch.
    pub last_modified_ms: i64,
    /// The name of the file holding the content ([`crate::files::ObjectFiles`]).
    pub blob: String,
    /// Parts it was assembled from (a multipart upload), `None` for a single upload.
    pub parts: Option<u32>,
    /// Its headers and user metadata.
    pub headers: ObjectHeaders,
}

/// The precondition of a conditional write, checked in the write's own transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCondition {
    /// `If-None-Match: *`: the key must not exist.
    pub absent: bool,
    /// `If-Match: <etag>`: the key must exist with this ETag.
    pub etag: Option<String>,
}

/// Why a conditional write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionFailure {
    /// The condition did not hold (S3's `PreconditionFailed`).
    Failed,
    /// `If-Match` named an object that does not exist (S3's `NoSuchKey`).
    Missing,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// Its id.
    pub upload_id: String,
    /// The bucket it uploads into.
    pub bucket_id: i64,
    /// The key it will complete as.
    pub key: String,
    /// When it was created, milliseconds since the epoch.
    pub initiated_ms: i64,
    /// The headers the object will have.
    pub headers: ObjectHeaders,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    /// 1 to 10,000.
    pub part_number: u32,
    /// Its length.
    pub size: u64,
    /// Its MD5, hex.
    pub etag: String,
    /// When it was uploaded, milliseconds since the epoch.
    pub last_modified_ms: i64,
    /// The file holding it.
    pub blob: String,
}

/// What creating a bucket found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateBucket {
    /// Created.
    Created,
    /// The name is taken, by this bucket.
    Exists(BucketRow),
}

/// What deleting a bucket found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteBucket {
    /// Deleted, with the files of the uploads it still had, to remove.
    Deleted(Vec<String>),
    /// It still has objects.
    NotEmpty,
}

/// S3's metadata store.
pub trait S3Store: Send + Sync {
    /// Creates `bucket` (its id is assigned) unless the name is taken.
    fn create_bucket(&self, bucket: &BucketRow) -> Result<CreateBucket, StoreError>;
    /// The bucket named `name`.
    fn bucket(&self, name: &str) -> Result<Option<BucketRow>, StoreError>;
    /// `account`'s buckets, by name.
    fn buckets_of(&self, account: &str) -> Result<Vec<BucketRow>, StoreError>;
    /// Deletes the bucket unless it holds objects (its uploads in progress go with it).
    fn delete_bucket(&self, bucket_id: i64) -> Result<DeleteBucket, StoreError>;

    /// The object at `key`.
    fn object(&self, bucket_id: i64, key: &str) -> Result<Option<ObjectRow>, StoreError>;
    /// Stores `object` if `condition` holds, with its event `notifications` in the outbox (one
    /// transaction), answering the file of the object it replaced.
    fn put_object(
        &self,
        bucket_id: i64,
        object: &ObjectRow,
        condition: &WriteCondition,
        notifications: &[OutboxEntry],
    ) -> Result<Result<Option<String>, ConditionFailure>, StoreError>;
    /// Replaces the headers (and tags) of the object at `key` if its ETag is still `etag`
    /// (`false`: it was replaced or deleted).
    fn set_headers(&self, bucket_id: i64, key: &str, etag: &str, headers: &ObjectHeaders) -> Result<bool, StoreError>;
    /// Deletes the objects at `keys`, with their event `notifications` in the outbox (one
    /// transaction), answering the files of those that existed.
    fn delete_objects(
        &self,
        bucket_id: i64,
        keys: &[String],
        notifications: &[OutboxEntry],
    ) -> Result<Vec<String>, StoreError>;
    /// Up to `limit` objects whose keys are at least `from` and below `below` (when given), in
    /// key order (bytes).
    fn objects_from(
        &self,
        bucket_id: i64,
        from: &[u8],
        below: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>, StoreError>;

    /// Records a new multipart upload.
    fn create_upload(&self, upload: &UploadRow) -> Result<(), StoreError>;
    /// The upload `upload_id` into `bucket_id`.
    fn upload(&self, bucket_id: i64, upload_id: &str) -> Result<Option<UploadRow>, StoreError>;
    /// Up to `limit` uploads of the bucket after `(key, upload_id)` with keys starting `prefix`,
    /// by key and creation.
    fn uploads(
        &self,
        bucket_id: i64,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<UploadRow>, StoreError>;
    /// Stores a part of an upload that exists (`Ok(false)` when it does not), answering through
    /// `replaced` the file of the part it replaced.
    fn put_part(&self, upload_id: &str, part: &PartRow, replaced: &mut Option<String>) -> Result<bool, StoreError>;
    /// Up to `limit` parts of the upload numbered above `after`.
    fn parts(&self, upload_id: &str, after: u32, limit: usize) -> Result<Vec<PartRow>, StoreError>;
    /// Ends the upload: its rows go; answers its parts' files (`None`: no such upload).
    fn remove_upload(&self, upload_id: &str) -> Result<Option<Vec<String>>, StoreError>;
    /// Completes the upload as `object` if `condition` holds: the object is stored, its event
    /// `notifications` queued and the upload's rows go, in one transaction. Answers the
    /// replaced object's file.
    fn complete_upload(
        &self,
        upload: &UploadRow,
        object: &ObjectRow,
        condition: &WriteCondition,
        notifications: &[OutboxEntry],
    ) -> Result<Result<Option<String>, ConditionFailure>, StoreError>;

    /// Sets (or with `None` removes) the bucket's notification configuration, queueing
    /// `notifications` (the `s3:TestEvent`s it sends) in the same transaction.
    fn set_notification(
        &self,
        bucket_id: i64,
        configuration: Option<&str>,
        notifications: &[OutboxEntry],
    ) -> Result<(), StoreError>;
    /// Up to `limit` outbox entries after position `after`, oldest first.
    fn outbox_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Removes delivered (or given up) outbox entries.
    fn remove_outbox(&self, seqs: &[i64]) -> Result<(), StoreError>;

    /// Every file a row refers to (objects and parts), to find files no row names.
    fn referenced_blobs(&self) -> Result<Vec<String>, StoreError>;
    /// `Ok` while the store can keep what it is given.
    fn health(&self) -> Result<(), String>;
}

/// The smallest byte string greater than every string that starts with `prefix`, `None` when
/// there is none (empty, or every byte 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_bounds_every_key_with_the_prefix() {
        assert_eq!(prefix_end(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }
}

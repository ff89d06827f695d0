//! [`S3Store`] in its own SQLite file (`s3.sqlite3` in the data dir), through kumo-store's
//! shared connection and migrations. Keys are stored as BLOBs so that SQLite orders and bounds
//! them as bytes, which is S3's order; `(bucket_id, key)` is the primary key of a table without
//! rowids, so a listing page is one range read of the index.

use std::path::Path;

use kumo_store::health::DatabaseFile;
use kumo_store::migrations::{migrate, Schema};
use kumo_store::sqlite::SharedConnection;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::*;

/// The file name in the data dir.
const FILE_NAME: &str = "s3.sqlite3";

fn version_1(transaction: &Transaction<'_>, _: &()) -> Result<(), StoreError> {
    transaction.execute_batch(
        "CREATE TABLE buckets (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             account TEXT NOT NULL,
             region TEXT NOT NULL,
             created_ms INTEGER NOT NULL
         );
         CREATE INDEX buckets_by_account ON buckets (account, name);
         CREATE TABLE objects (
             bucket_id INTEGER NOT NULL,
             key BLOB NOT NULL,
             size INTEGER NOT NULL,
             etag TEXT NOT NULL,
             last_modified_ms INTEGER NOT NULL,
             blob TEXT NOT NULL,
             parts INTEGER,
             headers TEXT NOT NULL,
             PRIMARY KEY (bucket_id, key)
         ) WITHOUT ROWID;
         CREATE TABLE uploads (
             upload_id TEXT PRIMARY KEY,
             bucket_id INTEGER NOT NULL,
             key BLOB NOT NULL,
             initiated_ms INTEGER NOT NULL,
             headers TEXT NOT NULL
         );
         CREATE INDEX uploads_by_key ON uploads (bucket_id, key, upload_id);
         CREATE TABLE parts (
             upload_id TEXT NOT NULL,
             part_number INTEGER NOT NULL,
             size INTEGER NOT NULL,
             etag TEXT NOT NULL,
             last_modified_ms INTEGER NOT NULL,
             blob TEXT NOT NULL,
             PRIMARY KEY (upload_id, part_number)
         ) WITHOUT ROWID;",
    )?;
    Ok(())
}

/// Event notifications: each bucket's configuration, and the outbox their messages wait in
/// until delivered (written in the transaction of the change they report).
fn version_2(transaction: &Transaction<'_>, _: &()) -> Result<(), StoreError> {
    transaction.execute_batch(
        "ALTER TABLE buckets ADD COLUMN notification TEXT;
         CREATE TABLE notification_outbox (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             destination TEXT NOT NULL,
             body TEXT NOT NULL,
             bucket TEXT NOT NULL,
             owner TEXT NOT NULL
         );",
    )?;
    Ok(())
}

const SCHEMA: Schema<'static, (), StoreError> = Schema { shape_checks: &[], versions: &[version_1, version_2] };

/// S3's SQLite store.
pub struct SqliteS3Store {
    connection: SharedConnection,
    file: DatabaseFile,
}

impl SqliteS3Store {
    /// Opens (creating or migrating) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let connection =
            SharedConnection::open(&path, |connection: &mut Connection| migrate(connection, &(), &SCHEMA))?;
        let file = DatabaseFile::at(&path)?;
        Ok(Self { connection, file })
    }
}

const BUCKET_COLUMNS: &str = "id, name, account, region, created_ms, notification";
const OBJECT_COLUMNS: &str = "key, size, etag, last_modified_ms, blob, parts, headers";
const UPLOAD_COLUMNS: &str = "upload_id, bucket_id, key, initiated_ms, headers";
const PART_COLUMNS: &str = "part_number, size, etag, last_modified_ms, blob";

fn bucket_row(row: &Row<'_>) -> rusqlite::Result<BucketRow> {
    Ok(BucketRow {
        id: row.get(0)?,
        name: row.get(1)?,
        account: row.get(2)?,
        region: row.get(3)?,
        created_ms: row.get(4)?,
        notification: row.get(5)?,
    })
}

/// A key stored as bytes; keys come from `&str`, so they are UTF-8 (anything else reads as the
/// replacement character rather than failing a listing).
fn key_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|bytes| String::from_utf8_lossy(bytes.as_bytes()).into_owned())
}

fn headers_of(text: &str) -> ObjectHeaders {
    serde_json::from_str(text).unwrap_or_default()
}

fn object_row(row: &Row<'_>) -> rusqlite::Result<ObjectRow> {
    let size: i64 = row.get(1)?;
    let parts: Option<i64> = row.get(5)?;
    let headers: String = row.get(6)?;
    Ok(ObjectRow {
        key: key_text(row.get(0)?),
        size: u64::try_from(size).unwrap_or(0),
        etag: row.get(2)?,
        last_modified_ms: row.get(3)?,
        blob: row.get(4)?,
        parts: parts.and_then(|parts| u32::try_from(parts).ok()),
        headers: headers_of(&headers),
    })
}

fn upload_row(row: &Row<'_>) -> rusqlite::Result<UploadRow> {
    let headers: String = row.get(4)?;
    Ok(UploadRow {
        upload_id: row.get(0)?,
        bucket_id: row.get(1)?,
        key: key_text(row.get(2)?),
        initiated_ms: row.get(3)?,
        headers: headers_of(&headers),
    })
}

fn part_row(row: &Row<'_>) -> rusqlite::Result<PartRow> {
    let number: i64 = row.get(0)?;
    let size: i64 = row.get(1)?;
    Ok(PartRow {
        part_number: u32::try_from(number).unwrap_or(0),
        size: u64::try_from(size).unwrap_or(0),
        etag: row.get(2)?,
        last_modified_ms: row.get(3)?,
        blob: row.get(4)?,
    })
}

fn get_object(connection: &Connection, bucket_id: i64, key: &str) -> rusqlite::Result<Option<ObjectRow>> {
    connection
        .prepare_cached(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = ?1 AND key = ?2"))?
        .query_row(params![bucket_id, key.as_bytes()], object_row)
        .optional()
}

/// Queues `notifications` in the outbox.
fn queue_notifications(connection: &Connection, notifications: &[OutboxEntry]) -> rusqlite::Result<()> {
    let mut insert = connection
        .prepare_cached("INSERT INTO notification_outbox (destination, body, bucket, owner) VALUES (?1, ?2, ?3, ?4)")?;
    for notification in notifications {
        insert.execute(params![
            notification.destination,
            notification.body,
            notification.bucket,
            notification.owner
        ])?;
    }
    Ok(())
}

/// Checks `condition` against the object now at `key`, and stores `object` there if it holds.
fn write_object(
    connection: &Connection,
    bucket_id: i64,
    object: &ObjectRow,
    condition: &WriteCondition,
    notifications: &[OutboxEntry],
) -> Result<Result<Option<String>, ConditionFailure>, StoreError> {
    let current = get_object(connection, bucket_id, &object.key)?;
    if condition.absent && current.is_some() {
        return Ok(Err(ConditionFailure::Failed));
    }
    if let Some(etag) = &condition.etag {
        match &current {
            None => return Ok(Err(ConditionFailure::Missing)),
            Some(current) if etag != "*" && current.etag != *etag => return Ok(Err(ConditionFailure::Failed)),
            Some(_) => {}
        }
    }
    let size = i64::try_from(object.size).unwrap_or(i64::MAX);
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO objects (bucket_id, key, size, etag, last_modified_ms, blob, parts, headers)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            bucket_id,
            object.key.as_bytes(),
            size,
            object.etag,
            object.last_modified_ms,
            object.blob,
            object.parts,
            serde_json::to_string(&object.headers)?,
        ])?;
    queue_notifications(connection, notifications)?;
    Ok(Ok(current.map(|current| current.blob)))
}

fn take_parts(connection: &Connection, upload_id: &str) -> rusqlite::Result<Vec<String>> {
    let blobs = connection
        .prepare_cached("SELECT blob FROM parts WHERE upload_id = ?1")?
        .query_map(params![upload_id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    connection.prepare_cached("DELETE FROM parts WHERE upload_id = ?1")?.execute(params![upload_id])?;
    Ok(blobs)
}

impl S3Store for SqliteS3Store {
    fn create_bucket(&self, bucket: &BucketRow) -> Result<CreateBucket, StoreError> {
        self.connection.in_transaction(|connection| {
            let existing = connection
                .prepare_cached(&format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?1"))?
                .query_row(params![bucket.name], bucket_row)
                .optional()?;
            if let Some(existing) = existing {
                return Ok(CreateBucket::Exists(existing));
            }
            connection
                .prepare_cached("INSERT INTO buckets (name, account, region, created_ms) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![bucket.name, bucket.account, bucket.region, bucket.created_ms])?;
            Ok(CreateBucket::Created)
        })
    }

    fn bucket(&self, name: &str) -> Result<Option<BucketRow>, StoreError> {
        let connection = self.connection.lock();
        let row = connection
            .prepare_cached(&format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?1"))?
            .query_row(params![name], bucket_row)
            .optional()?;
        Ok(row)
    }

    fn buckets_of(&self, account: &str) -> Result<Vec<BucketRow>, StoreError> {
        let connection = self.connection.lock();
        let rows = connection
            .prepare_cached(&format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE account = ?1 ORDER BY name"))?
            .query_map(params![account], bucket_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn delete_bucket(&self, bucket_id: i64) -> Result<DeleteBucket, StoreError> {
        self.connection.in_transaction(|connection| {
            let has_objects: bool = connection
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM objects WHERE bucket_id = ?1)")?
                .query_row(params![bucket_id], |row| row.get(0))?;
            if has_objects {
                return Ok(DeleteBucket::NotEmpty);
            }
            let uploads = connection
                .prepare_cached("SELECT upload_id FROM uploads WHERE bucket_id = ?1")?
                .query_map(params![bucket_id], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            let mut blobs = Vec::new();
            for upload in uploads {
                blobs.extend(take_parts(connection, &upload)?);
            }
            connection.prepare_cached("DELETE FROM uploads WHERE bucket_id = ?1")?.execute(params![bucket_id])?;
            connection.prepare_cached("DELETE FROM buckets WHERE id = ?1")?.execute(params![bucket_id])?;
            Ok(DeleteBucket::Deleted(blobs))
        })
    }

    fn object(&self, bucket_id: i64, key: &str) -> Result<Option<ObjectRow>, StoreError> {
        Ok(get_object(&self.connection.lock(), bucket_id, key)?)
    }

    fn put_object(
        &self,
        bucket_id: i64,
        object: &ObjectRow,
        condition: &WriteCondition,
        notifications: &[OutboxEntry],
    ) -> Result<Result<Option<String>, ConditionFailure>, StoreError> {
        self.connection
            .in_transaction(|connection| write_object(connection, bucket_id, object, condition, notifications))
    }

    fn set_headers(&self, bucket_id: i64, key: &str, etag: &str, headers: &ObjectHeaders) -> Result<bool, StoreError> {
        self.connection.in_transaction(|connection| {
            let changed = connection
                .prepare_cached("UPDATE objects SET headers = ?4 WHERE bucket_id = ?1 AND key = ?2 AND etag = ?3")?
                .execute(params![bucket_id, key.as_bytes(), etag, serde_json::to_string(headers)?])?;
            Ok(changed == 1)
        })
    }

    fn delete_objects(
        &self,
        bucket_id: i64,
        keys: &[String],
        notifications: &[OutboxEntry],
    ) -> Result<Vec<String>, StoreError> {
        self.connection.in_transaction(|connection| {
            let mut blobs = Vec::new();
            for key in keys {
                let blob: Option<String> = connection
                    .prepare_cached("DELETE FROM objects WHERE bucket_id = ?1 AND key = ?2 RETURNING blob")?
                    .query_row(params![bucket_id, key.as_bytes()], |row| row.get(0))
                    .optional()?;
                blobs.extend(blob);
            }
            queue_notifications(connection, notifications)?;
            Ok(blobs)
        })
    }

    fn objects_from(
        &self,
        bucket_id: i64,
        from: &[u8],
        below: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>, StoreError> {
        let connection = self.connection.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match below {
            Some(below) => connection
                .prepare_cached(&format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = ?1 AND key >= ?2 AND key < ?3
                     ORDER BY key LIMIT ?4"
                ))?
                .query_map(params![bucket_id, from, below, limit], object_row)?
                .collect::<Result<_, _>>()?,
            None => connection
                .prepare_cached(&format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = ?1 AND key >= ?2 ORDER BY key LIMIT ?3"
                ))?
                .query_map(params![bucket_id, from, limit], object_row)?
                .collect::<Result<_, _>>()?,
        };
        Ok(rows)
    }

    fn create_upload(&self, upload: &UploadRow) -> Result<(), StoreError> {
        self.connection.in_transaction(|connection| {
            connection
                .prepare_cached(
                    "INSERT INTO uploads (upload_id, bucket_id, key, initiated_ms, headers) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    upload.upload_id,
                    upload.bucket_id,
                    upload.key.as_bytes(),
                    upload.initiated_ms,
                    serde_json::to_string(&upload.headers)?
                ])?;
            Ok(())
        })
    }

    fn upload(&self, bucket_id: i64, upload_id: &str) -> Result<Option<UploadRow>, StoreError> {
        let connection = self.connection.lock();
        let row = connection
            .prepare_cached(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?1 AND bucket_id = ?2"))?
            .query_row(params![upload_id, bucket_id], upload_row)
            .optional()?;
        Ok(row)
    }

    fn uploads(
        &self,
        bucket_id: i64,
        prefix: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<UploadRow>, StoreError> {
        let connection = self.connection.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (after_key, after_id) = after.unwrap_or(("", ""));
        let below = prefix_end(prefix.as_bytes());
        let rows = connection
            .prepare_cached(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads
                 WHERE bucket_id = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3) AND (key, upload_id) > (?4, ?5)
                 ORDER BY key, upload_id LIMIT ?6"
            ))?
            .query_map(params![bucket_id, prefix.as_bytes(), below, after_key.as_bytes(), after_id, limit], upload_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn put_part(&self, upload_id: &str, part: &PartRow, replaced: &mut Option<String>) -> Result<bool, StoreError> {
        self.connection.in_transaction(|connection| {
            let exists: bool = connection
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM uploads WHERE upload_id = ?1)")?
                .query_row(params![upload_id], |row| row.get(0))?;
            if !exists {
                return Ok(false);
            }
            *replaced = connection
                .prepare_cached("SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2")?
                .query_row(params![upload_id, part.part_number], |row| row.get(0))
                .optional()?;
            connection
                .prepare_cached(
                    "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, last_modified_ms, blob)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    upload_id,
                    part.part_number,
                    i64::try_from(part.size).unwrap_or(i64::MAX),
                    part.etag,
                    part.last_modified_ms,
                    part.blob
                ])?;
            Ok(true)
        })
    }

    fn parts(&self, upload_id: &str, after: u32, limit: usize) -> Result<Vec<PartRow>, StoreError> {
        let connection = self.connection.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = connection
            .prepare_cached(&format!(
                "SELECT {PART_COLUMNS} FROM parts WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3"
            ))?
            .query_map(params![upload_id, after, limit], part_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn remove_upload(&self, upload_id: &str) -> Result<Option<Vec<String>>, StoreError> {
        self.connection.in_transaction(|connection| {
            let removed =
                connection.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")?.execute(params![upload_id])?;
            if removed == 0 {
                return Ok(None);
            }
            Ok(Some(take_parts(connection, upload_id)?))
        })
    }

    fn complete_upload(
        &self,
        upload: &UploadRow,
        object: &ObjectRow,
        condition: &WriteCondition,
        notifications: &[OutboxEntry],
    ) -> Result<Result<Option<String>, ConditionFailure>, StoreError> {
        self.connection.in_transaction(|connection| {
            let written = write_object(connection, upload.bucket_id, object, condition, notifications)?;
            if written.is_ok() {
                connection
                    .prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")?
                    .execute(params![upload.upload_id])?;
                // The parts' files are the caller's to remove: the object's file was made from them.
                take_parts(connection, &upload.upload_id)?;
            }
            Ok(written)
        })
    }

    fn set_notification(
        &self,
        bucket_id: i64,
        configuration: Option<&str>,
        notifications: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        self.connection.in_transaction(|connection| {
            connection
                .prepare_cached("UPDATE buckets SET notification = ?2 WHERE id = ?1")?
                .execute(params![bucket_id, configuration])?;
            queue_notifications(connection, notifications)?;
            Ok(())
        })
    }

    fn outbox_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let connection = self.connection.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = connection
            .prepare_cached(
                "SELECT seq, destination, body, bucket, owner FROM notification_outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?
            .query_map(params![after, limit], |row| {
                Ok(OutboxEntry {
                    seq: row.get(0)?,
                    destination: row.get(1)?,
                    body: row.get(2)?,
                    bucket: row.get(3)?,
                    owner: row.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn remove_outbox(&self, seqs: &[i64]) -> Result<(), StoreError> {
        self.connection.in_transaction(|connection| {
            let mut delete = connection.prepare_cached("DELETE FROM notification_outbox WHERE seq = ?1")?;
            for seq in seqs {
                delete.execute(params![seq])?;
            }
            Ok(())
        })
    }

    fn referenced_blobs(&self) -> Result<Vec<String>, StoreError> {
        let connection = self.connection.lock();
        let blobs = connection
            .prepare("SELECT blob FROM objects UNION ALL SELECT blob FROM parts")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(blobs)
    }

    fn health(&self) -> Result<(), String> {
        self.file.check()
    }
}

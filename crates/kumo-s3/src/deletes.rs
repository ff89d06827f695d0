//! DeleteObject and DeleteObjects: in a bucket that was never versioned the object goes; in a
//! versioned one a delete without a version id puts a delete marker on top of the key, and one
//! with a version id removes that version for good.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::notifications::ObjectEvent;
use crate::store::{BucketRow, ObjectRow, OutboxEntry, WriteCondition};
use crate::versioning::{check_version_id, new_version_id};
use crate::{errors, now_ms, S3Service};

/// Keys one DeleteObjects may name.
const MAX_DELETE_KEYS: usize = 1000;

/// What one delete did.
#[derive(Debug, Default)]
struct Deleted {
    /// The delete marker it created or removed.
    delete_marker: bool,
    /// The version it removed, or the delete marker's.
    version_id: Option<String>,
}

impl S3Service {
    pub(crate) async fn delete_object(
        &self,
        request: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        if let Some(version_id) = &input.version_id {
            check_version_id(version_id)?;
        }
        let action = if input.version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
        let bucket = self.bucket_for(context, &input.bucket, action, Some(&input.key)).await?;
        let deleted = self.delete_one(&bucket, context, input.key.clone(), input.version_id.clone()).await?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: deleted.delete_marker.then_some(true),
            version_id: deleted.version_id,
            ..Default::default()
        }))
    }

    pub(crate) async fn delete_objects(
        &self,
        request: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        if input.delete.objects.is_empty() || input.delete.objects.len() > MAX_DELETE_KEYS {
            return Err(errors::malformed_xml());
        }
        let bucket = self.bucket_for(context, &input.bucket, "s3:DeleteObject", None).await?;
        let refusal = |object: &ObjectIdentifier, code: &str, message: &str| s3s::dto::Error {
            code: Some(code.to_string()),
            key: Some(object.key.clone()),
            message: Some(message.to_string()),
            version_id: object.version_id.clone(),
        };
        let (mut deleted, mut refused) = (Vec::new(), Vec::new());
        let unversioned = bucket.versioning.is_none() && input.delete.objects.iter().all(|o| o.version_id.is_none());
        let mut keys = Vec::new();
        for object in &input.delete.objects {
            let resource = format!("arn:aws:s3:::{}/{}", input.bucket, object.key);
            let action = if object.version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
            if self.authorize(context, action, &resource).is_err() {
                refused.push(refusal(object, "AccessDenied", "Access Denied"));
                continue;
            }
            if unversioned {
                keys.push(object.key.clone());
                deleted.push(DeletedObject { key: Some(object.key.clone()), ..Default::default() });
                continue;
            }
            if let Some(version_id) = &object.version_id {
                if check_version_id(version_id).is_err() {
                    refused.push(refusal(object, "NoSuchVersion", "The specified version does not exist."));
                    continue;
                }
            }
            let done = self.delete_one(&bucket, context, object.key.clone(), object.version_id.clone()).await?;
            // S3 answers the version asked for, and the marker's own id when one was made or removed.
            let (delete_marker_version_id, version_id) = match (&object.version_id, done.delete_marker) {
                (None, _) => (done.version_id, None),
                (Some(asked), true) => (Some(asked.clone()), Some(asked.clone())),
                (Some(asked), false) => (None, Some(asked.clone())),
            };
            deleted.push(DeletedObject {
                key: Some(object.key.clone()),
                delete_marker: done.delete_marker.then_some(true),
                delete_marker_version_id,
                version_id,
            });
        }
        if !keys.is_empty() {
            self.remove_objects(&bucket, context, keys).await?;
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let deleted = (!quiet && !deleted.is_empty()).then_some(deleted);
        let errors = (!refused.is_empty()).then_some(refused);
        Ok(S3Response::new(DeleteObjectsOutput { deleted, errors, ..Default::default() }))
    }

    /// Deletes `key` (its version `version_id`, if given) as S3 does in `bucket`.
    async fn delete_one(
        &self,
        bucket: &BucketRow,
        context: &kumo_core::RequestContext,
        key: String,
        version_id: Option<String>,
    ) -> S3Result<Deleted> {
        if let Some(version_id) = version_id {
            let bucket_id = bucket.id;
            let (wanted, asked) = (key.clone(), version_id.clone());
            let (owned_bucket, owned_context) = (bucket.clone(), context.clone());
            let removed = self
                .blocking(move |store| {
                    // Only a version that exists is reported as removed.
                    if store.version(bucket_id, &wanted, Some(&asked))?.is_none() {
                        return Ok(None);
                    }
                    let event = "ObjectRemoved:Delete";
                    let notifications =
                        removed_notifications(&owned_bucket, &owned_context, event, &wanted, Some(&asked));
                    let removed = store.delete_version(bucket_id, &wanted, &asked, &notifications)?;
                    Ok(removed.map(|removed| (removed, !notifications.is_empty())))
                })
                .await?;
            // Deleting a version that is not there succeeds, as S3 answers it.
            let Some((removed, notifying)) = removed else {
                return Ok(Deleted { delete_marker: false, version_id: Some(version_id) });
            };
            if !removed.blob.is_empty() {
                self.files.remove(vec![removed.blob.clone()]);
            }
            if notifying {
                self.notifier.wake();
            }
            return Ok(Deleted { delete_marker: removed.delete_marker, version_id: Some(version_id) });
        }
        if bucket.versioning.is_none() {
            self.remove_objects(bucket, context, vec![key]).await?;
            return Ok(Deleted::default());
        }
        let marker_id = (bucket.versioning.as_deref() == Some("Enabled")).then(new_version_id);
        let answered = marker_id.clone().unwrap_or_else(|| "null".to_string());
        let marker = ObjectRow {
            key: key.clone(),
            last_modified_ms: now_ms(),
            delete_marker: true,
            version_id: marker_id,
            ..Default::default()
        };
        let notifications =
            removed_notifications(bucket, context, "ObjectRemoved:DeleteMarkerCreated", &key, Some(&answered));
        self.store_object(bucket.id, marker, WriteCondition::default(), notifications).await?;
        Ok(Deleted { delete_marker: true, version_id: Some(answered) })
    }

    /// Deletes `keys` of a bucket that was never versioned with their notifications, removing
    /// their files.
    async fn remove_objects(
        &self,
        bucket: &BucketRow,
        context: &kumo_core::RequestContext,
        keys: Vec<String>,
    ) -> S3Result<()> {
        let notifications: Vec<OutboxEntry> = keys
            .iter()
            .flat_map(|key| removed_notifications(bucket, context, "ObjectRemoved:Delete", key, None))
            .collect();
        let notifying = !notifications.is_empty();
        let bucket_id = bucket.id;
        let removed = self.blocking(move |store| store.delete_objects(bucket_id, &keys, &notifications)).await?;
        self.files.remove(removed);
        if notifying {
            self.notifier.wake();
        }
        Ok(())
    }
}

/// The notifications of the removal `event` (`ObjectRemoved:Delete`) of `key`.
fn removed_notifications(
    bucket: &BucketRow,
    context: &kumo_core::RequestContext,
    event: &str,
    key: &str,
    version_id: Option<&str>,
) -> Vec<OutboxEntry> {
    if bucket.notification.is_none() {
        return Vec::new();
    }
    let rules = crate::notifications::Rules::from_stored(bucket.notification.as_deref());
    let event = ObjectEvent { name: event, key, created: None, version_id, time_ms: now_ms() };
    crate::notifications::event_records(bucket, context, &rules, &event)
}

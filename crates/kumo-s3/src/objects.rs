//! Objects: PutObject (streamed to a file, conditional writes, Content-MD5), GetObject and
//! HeadObject (ranges, conditional reads), DeleteObject, DeleteObjects, CopyObject (metadata
//! directive; the content is linked, not copied).

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::notifications::ObjectEvent;
use crate::store::{BucketRow, ConditionFailure, ObjectHeaders, ObjectRow, OutboxEntry, WriteCondition};
use crate::{errors, millis, now_ms, timestamp, S3Service};

/// The longest key (bytes of UTF-8).
pub const MAX_KEY_BYTES: usize = 1024;
/// The largest object a single PUT or a copy takes: 5 GiB.
pub const MAX_SINGLE_UPLOAD: u64 = 5 * 1024 * 1024 * 1024;
/// The most user metadata (names and values) an object may carry.
const MAX_USER_METADATA: usize = 2 * 1024;
/// The `Content-Type` of an object stored without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// Keys one DeleteObjects may name.
const MAX_DELETE_KEYS: usize = 1000;
/// Reads of an object's row before its file opens (each retry follows a replacement).
const OPEN_ATTEMPTS: usize = 5;
/// Bytes read from an object's file at a time while it is sent.
const READ_CHUNK: usize = 256 * 1024;

/// Most of a refused upload's body read and dropped, so that its connection can take the
/// next request (an unread body closes it).
const DRAINED: u64 = 1024 * 1024;

/// Reads and drops up to [`DRAINED`] bytes of a refused upload's body, then answers `error`.
pub async fn drain(mut body: s3s::Body, error: s3s::S3Error) -> s3s::S3Error {
    use http_body_util::BodyExt as _;
    let mut read = 0u64;
    let draining = async {
        while read < DRAINED {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |data| data.len() as u64),
                _ => break,
            }
        }
    };
    // A client that sends slowly does not hold the answer back long.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), draining).await;
    error
}

/// `KeyTooLongError` for a key over [`MAX_KEY_BYTES`].
pub fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    Ok(())
}

/// The headers a PUT, a copy with `REPLACE` or a multipart upload gives its object.
#[allow(clippy::too_many_arguments)]
pub fn object_headers(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    metadata: Option<Metadata>,
) -> S3Result<ObjectHeaders> {
    let user: std::collections::BTreeMap<String, String> =
        metadata.unwrap_or_default().into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
    let size: usize = user.iter().map(|(name, value)| name.len() + value.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(s3_error!(MetadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size."));
    }
    Ok(ObjectHeaders {
        content_type: Some(content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string())),
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires_ms: expires.map(millis),
        user,
        tags: Default::default(),
    })
}

/// The condition of a PUT's `If-None-Match` and `If-Match`.
pub fn write_condition(
    if_none_match: Option<&ETagCondition>,
    if_match: Option<&ETagCondition>,
) -> S3Result<WriteCondition> {
    let absent = match if_none_match {
        None => false,
        Some(ETagCondition::Any) => true,
        Some(ETagCondition::ETag(_)) => {
            return Err(s3_error!(
                NotImplemented,
                "A header you provided implies functionality that is not implemented"
            ))
        }
    };
    let etag = if_match.map(|condition| match condition {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(etag) => etag.value().to_string(),
    });
    Ok(WriteCondition { absent, etag })
}

/// S3's error for a conditional write that did not hold.
pub fn condition_error(failure: ConditionFailure) -> s3s::S3Error {
    match failure {
        ConditionFailure::Failed => errors::precondition_failed(),
        ConditionFailure::Missing => errors::no_such_key(),
    }
}

/// `Content-MD5` decoded: `InvalidDigest` unless it is 16 bytes in base64.
fn content_md5(value: Option<&str>) -> S3Result<Option<[u8; 16]>> {
    use base64::Engine as _;
    let Some(value) = value else { return Ok(None) };
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok();
    match decoded.and_then(|bytes| <[u8; 16]>::try_from(bytes).ok()) {
        Some(digest) => Ok(Some(digest)),
        None => Err(s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid.")),
    }
}

fn matches(condition: &ETagCondition, object: &ObjectRow) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(etag) => etag.value() == object.etag,
    }
}

/// HTTP dates have whole seconds: times are compared as such.
fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The preconditions of a read, as S3 evaluates them: a failed `If-Match` (or, without it,
/// `If-Unmodified-Since`) is 412; a matching `If-None-Match` (or, without it, an unchanged
/// `If-Modified-Since`) is 304.
pub(crate) fn check_read_conditions(
    object: &ObjectRow,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let modified = seconds(object.last_modified_ms);
    match (if_match, if_unmodified_since) {
        (Some(condition), _) if !matches(condition, object) => return Err(errors::precondition_failed()),
        (None, Some(since)) if modified > seconds(millis(since.clone())) => return Err(errors::precondition_failed()),
        _ => {}
    }
    match (if_none_match, if_modified_since) {
        (Some(condition), _) if matches(condition, object) => Err(errors::not_modified()),
        (None, Some(since)) if modified <= seconds(millis(since.clone())) => Err(errors::not_modified()),
        _ => Ok(()),
    }
}

/// An object's ETag as s3s sends it (quoted).
pub fn etag(object: &ObjectRow) -> ETag {
    ETag::Strong(object.etag.clone())
}

fn user_metadata(headers: &ObjectHeaders) -> Option<Metadata> {
    (!headers.user.is_empty()).then(|| headers.user.iter().map(|(name, value)| (name.clone(), value.clone())).collect())
}

impl S3Service {
    pub(crate) async fn put_object(&self, request: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let mut input = request.input;
        let body = s3s::Body::from(input.body.take().unwrap_or_else(|| StreamingBlob::from(s3s::Body::empty())));
        // Refused before the body is read (what of it arrived is drained: the connection stays usable).
        let (bucket, condition, expected_md5, headers) = match self.check_put(&context, &mut input).await {
            Ok(checked) => checked,
            Err(error) => return Err(drain(body, error).await),
        };
        let written = self.write_body(body).await?;
        if input.content_length.is_some_and(|declared| u64::try_from(declared).ok() != Some(written.size)) {
            self.files.remove(vec![written.blob]);
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            ));
        }
        if expected_md5.is_some_and(|expected| expected != written.md5) {
            self.files.remove(vec![written.blob]);
            return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
        }
        let object = ObjectRow {
            key: input.key,
            size: written.size,
            etag: hex::encode(written.md5),
            last_modified_ms: now_ms(),
            blob: written.blob,
            parts: None,
            headers,
        };
        let e_tag = etag(&object);
        let notifications = self.created_notifications(&bucket, &context, "ObjectCreated:Put", &object);
        self.store_object(bucket.id, object, condition, notifications).await?;
        Ok(S3Response::new(PutObjectOutput { e_tag: Some(e_tag), ..Default::default() }))
    }

    /// What a PutObject is checked for before its body is read.
    async fn check_put(
        &self,
        context: &kumo_core::RequestContext,
        input: &mut PutObjectInput,
    ) -> S3Result<(crate::store::BucketRow, WriteCondition, Option<[u8; 16]>, ObjectHeaders)> {
        check_key(&input.key)?;
        if input.content_length.is_some_and(|length| u64::try_from(length).unwrap_or(0) > MAX_SINGLE_UPLOAD) {
            return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"));
        }
        let condition = write_condition(input.if_none_match.as_ref(), input.if_match.as_ref())?;
        let expected_md5 = content_md5(input.content_md5.as_deref())?;
        let mut headers = object_headers(
            input.content_type.take(),
            input.content_encoding.take(),
            input.content_disposition.take(),
            input.content_language.take(),
            input.cache_control.take(),
            input.expires.take(),
            input.metadata.take(),
        )?;
        headers.tags = crate::tagging::header_tags(input.tagging.as_deref())?;
        let bucket = self.bucket_for(context, &input.bucket, "s3:PutObject", Some(&input.key)).await?;
        Ok((bucket, condition, expected_md5, headers))
    }

    /// Writes an upload's body to a new file (a failed body's error is the gateway's verdict).
    pub(crate) async fn write_body(&self, body: s3s::Body) -> S3Result<crate::files::Written> {
        self.files.write(body).await.map_err(|error| match error {
            crate::files::WriteError::Body(error) => kumo_protocol::rest_xml::body_error(&error),
            crate::files::WriteError::Io(error) => errors::internal(&error),
        })
    }

    /// The notifications of `object`'s creation by `event` (`ObjectCreated:Put`).
    pub(crate) fn created_notifications(
        &self,
        bucket: &BucketRow,
        context: &kumo_core::RequestContext,
        event: &str,
        object: &ObjectRow,
    ) -> Vec<OutboxEntry> {
        let event = ObjectEvent {
            name: event,
            key: &object.key,
            created: Some((object.size, &object.etag)),
            time_ms: object.last_modified_ms,
        };
        self.notifications_for(bucket, context, &event)
    }

    /// The notifications of deleting `keys`.
    fn removed_notifications(
        bucket: &BucketRow,
        context: &kumo_core::RequestContext,
        keys: &[String],
    ) -> Vec<OutboxEntry> {
        if bucket.notification.is_none() {
            return Vec::new();
        }
        let rules = crate::notifications::Rules::from_stored(bucket.notification.as_deref());
        let time_ms = now_ms();
        keys.iter()
            .flat_map(|key| {
                let event = ObjectEvent { name: "ObjectRemoved:Delete", key, created: None, time_ms };
                crate::notifications::event_records(bucket, context, &rules, &event)
            })
            .collect()
    }

    /// Commits `object` if `condition` holds (its file is removed otherwise) with its
    /// `notifications`, removing the file of the object it replaced.
    pub(crate) async fn store_object(
        &self,
        bucket_id: i64,
        object: ObjectRow,
        condition: WriteCondition,
        notifications: Vec<OutboxEntry>,
    ) -> S3Result<()> {
        let blob = object.blob.clone();
        let notifying = !notifications.is_empty();
        let stored = self.blocking(move |store| store.put_object(bucket_id, &object, &condition, &notifications)).await;
        match stored {
            Ok(Ok(replaced)) => {
                self.files.remove(replaced.into_iter().collect());
                if notifying {
                    self.notifier.wake();
                }
                Ok(())
            }
            Ok(Err(failure)) => {
                self.files.remove(vec![blob]);
                Err(condition_error(failure))
            }
            Err(error) => {
                self.files.remove(vec![blob]);
                Err(error)
            }
        }
    }

    /// The object at `key` with its file open (a delete from then on unlinks a file the read
    /// keeps open). A file removed between the row's read and the open belongs to an object
    /// replaced or deleted meanwhile: the row is read again.
    pub(crate) async fn open_object(
        &self,
        context: &kumo_core::RequestContext,
        bucket: &str,
        key: &str,
        action: &str,
    ) -> S3Result<(ObjectRow, tokio::fs::File)> {
        for _ in 0..OPEN_ATTEMPTS {
            let (_, object) = self.object_for(context, bucket, key, action).await?;
            match tokio::fs::File::open(self.files.path(&object.blob)).await {
                Ok(file) => return Ok((object, file)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(errors::internal(&error)),
            }
        }
        Err(errors::internal(&"an object kept being replaced while it was opened"))
    }

    /// `length` bytes of an object's open `file` from `start`, as a stream.
    pub(crate) async fn read_range(mut file: tokio::fs::File, start: u64, length: u64) -> S3Result<StreamingBlob> {
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start)).await.map_err(|error| errors::internal(&error))?;
        }
        Ok(StreamingBlob::wrap(tokio_util::io::ReaderStream::with_capacity(file.take(length), READ_CHUNK)))
    }

    /// The object at `key` (for `s3:GetObject`) with a new link to its file, read again when the
    /// file went between the row's read and the link (the object was replaced meanwhile).
    async fn link_source(
        &self,
        context: &kumo_core::RequestContext,
        bucket: &str,
        key: &str,
    ) -> S3Result<(ObjectRow, String)> {
        for _ in 0..OPEN_ATTEMPTS {
            let (_, object) = self.object_for(context, bucket, key, "s3:GetObject").await?;
            match self.files.link(&object.blob).await {
                Ok(blob) => return Ok((object, blob)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(errors::internal(&error)),
            }
        }
        Err(errors::internal(&"an object kept being replaced while it was linked"))
    }

    /// The object at `key` in the caller's bucket for `action`.
    pub(crate) async fn object_for(
        &self,
        context: &kumo_core::RequestContext,
        bucket: &str,
        key: &str,
        action: &str,
    ) -> S3Result<(crate::store::BucketRow, ObjectRow)> {
        let bucket = self.bucket_for(context, bucket, action, Some(key)).await?;
        let (id, wanted) = (bucket.id, key.to_string());
        let object = self.blocking(move |store| store.object(id, &wanted)).await?.ok_or_else(errors::no_such_key)?;
        Ok((bucket, object))
    }

    pub(crate) async fn get_object(&self, request: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        let (object, file) = self.open_object(context, &input.bucket, &input.key, "s3:GetObject").await?;
        check_read_conditions(
            &object,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let range = match &input.range {
            None => None,
            Some(range) => Some(
                range
                    .check(object.size)
                    .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?,
            ),
        };
        let (start, length) = match &range {
            Some(range) => (range.start, range.end - range.start),
            None => (0, object.size),
        };
        let stream = Self::read_range(file, start, length).await?;
        let headers = object.headers.clone();
        let output = GetObjectOutput {
            body: Some(stream),
            accept_ranges: Some("bytes".to_string()),
            content_length: i64::try_from(length).ok(),
            content_range: range
                .as_ref()
                .map(|range| format!("bytes {}-{}/{}", range.start, range.end - 1, object.size)),
            content_type: input.response_content_type.clone().or(headers.content_type.clone()),
            content_encoding: input.response_content_encoding.clone().or(headers.content_encoding.clone()),
            content_disposition: input.response_content_disposition.clone().or(headers.content_disposition.clone()),
            content_language: input.response_content_language.clone().or(headers.content_language.clone()),
            cache_control: input.response_cache_control.clone().or(headers.cache_control.clone()),
            expires: input.response_expires.clone().or(headers.expires_ms.map(timestamp)),
            e_tag: Some(etag(&object)),
            last_modified: Some(timestamp(object.last_modified_ms)),
            metadata: user_metadata(&headers),
            parts_count: object.parts.and_then(|parts| i32::try_from(parts).ok()),
            tag_count: (!headers.tags.is_empty()).then(|| i32::try_from(headers.tags.len()).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn head_object(
        &self,
        request: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        let (_, object) = self.object_for(context, &input.bucket, &input.key, "s3:GetObject").await?;
        check_read_conditions(
            &object,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let (content_length, content_range) = match &input.range {
            None => (object.size, None),
            Some(range) => {
                let range = range
                    .check(object.size)
                    .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
                (range.end - range.start, Some(format!("bytes {}-{}/{}", range.start, range.end - 1, object.size)))
            }
        };
        let headers = &object.headers;
        Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".to_string()),
            content_length: i64::try_from(content_length).ok(),
            content_range,
            content_type: headers.content_type.clone(),
            content_encoding: headers.content_encoding.clone(),
            content_disposition: headers.content_disposition.clone(),
            content_language: headers.content_language.clone(),
            cache_control: headers.cache_control.clone(),
            expires: headers.expires_ms.map(timestamp),
            e_tag: Some(etag(&object)),
            last_modified: Some(timestamp(object.last_modified_ms)),
            metadata: user_metadata(headers),
            parts_count: object.parts.and_then(|parts| i32::try_from(parts).ok()),
            ..Default::default()
        }))
    }

    pub(crate) async fn delete_object(
        &self,
        request: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        let bucket = self.bucket_for(context, &input.bucket, "s3:DeleteObject", Some(&input.key)).await?;
        let keys = vec![input.key.clone()];
        self.remove_objects(&bucket, context, keys).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
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
        let (mut keys, mut refused) = (Vec::new(), Vec::new());
        for object in &input.delete.objects {
            let resource = format!("arn:aws:s3:::{}/{}", input.bucket, object.key);
            match self.authorize(context, "s3:DeleteObject", &resource) {
                Ok(()) => keys.push(object.key.clone()),
                Err(_) => refused.push(s3s::dto::Error {
                    code: Some("AccessDenied".to_string()),
                    key: Some(object.key.clone()),
                    message: Some("Access Denied".to_string()),
                    version_id: None,
                }),
            }
        }
        self.remove_objects(&bucket, context, keys.clone()).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let deleted = (!quiet).then(|| {
            keys.into_iter().map(|key| DeletedObject { key: Some(key), ..Default::default() }).collect::<Vec<_>>()
        });
        let errors = (!refused.is_empty()).then_some(refused);
        Ok(S3Response::new(DeleteObjectsOutput { deleted, errors, ..Default::default() }))
    }

    /// Deletes `keys` with their notifications, removing their files.
    async fn remove_objects(
        &self,
        bucket: &BucketRow,
        context: &kumo_core::RequestContext,
        keys: Vec<String>,
    ) -> S3Result<()> {
        let notifications = Self::removed_notifications(bucket, context, &keys);
        let notifying = !notifications.is_empty();
        let bucket_id = bucket.id;
        let removed = self.blocking(move |store| store.delete_objects(bucket_id, &keys, &notifications)).await?;
        self.files.remove(removed);
        if notifying {
            self.notifier.wake();
        }
        Ok(())
    }

    pub(crate) async fn copy_object(
        &self,
        request: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let input = request.input;
        check_key(&input.key)?;
        let CopySource::Bucket { bucket: source_bucket, key: source_key, .. } = &input.copy_source else {
            return Err(s3_error!(
                NotImplemented,
                "A header you provided implies functionality that is not implemented"
            ));
        };
        let replace = match input.metadata_directive.as_ref().map(MetadataDirective::as_str) {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => return Err(errors::invalid_argument("Unknown metadata directive.")),
        };
        if !replace && **source_bucket == *input.bucket && **source_key == *input.key {
            return Err(errors::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        // Linked first: the source's file cannot go away under the copy from then on.
        let (source, blob) = self.link_source(&context, source_bucket, source_key).await?;
        let checked = async {
            if source.size > MAX_SINGLE_UPLOAD {
                return Err(errors::invalid_request(
                    "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
                ));
            }
            copy_source_conditions(&input, &source)?;
            let mut headers = if replace {
                object_headers(
                    input.content_type.clone(),
                    input.content_encoding.clone(),
                    input.content_disposition.clone(),
                    input.content_language.clone(),
                    input.cache_control.clone(),
                    input.expires.clone(),
                    input.metadata.clone(),
                )?
            } else {
                source.headers.clone()
            };
            headers.tags = match input.tagging_directive.as_ref().map(TaggingDirective::as_str) {
                None | Some("COPY") => source.headers.tags.clone(),
                Some("REPLACE") => crate::tagging::header_tags(input.tagging.as_deref())?,
                Some(_) => return Err(errors::invalid_argument("Unknown tagging directive.")),
            };
            let bucket = self.bucket_for(&context, &input.bucket, "s3:PutObject", Some(&input.key)).await?;
            Ok((headers, bucket))
        };
        let (headers, bucket) = match checked.await {
            Ok(checked) => checked,
            Err(error) => {
                self.files.remove(vec![blob]);
                return Err(error);
            }
        };
        let object = ObjectRow {
            key: input.key,
            size: source.size,
            etag: source.etag.clone(),
            last_modified_ms: now_ms(),
            blob,
            parts: source.parts,
            headers,
        };
        let result = CopyObjectResult {
            e_tag: Some(etag(&object)),
            last_modified: Some(timestamp(object.last_modified_ms)),
            ..Default::default()
        };
        let notifications = self.created_notifications(&bucket, &context, "ObjectCreated:Copy", &object);
        self.store_object(bucket.id, object, WriteCondition::default(), notifications).await?;
        Ok(S3Response::new(CopyObjectOutput { copy_object_result: Some(result), ..Default::default() }))
    }
}

/// A copy's `x-amz-copy-source-if-*` conditions: any that fails is 412.
fn copy_source_conditions(input: &CopyObjectInput, source: &ObjectRow) -> S3Result<()> {
    let read = check_read_conditions(
        source,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
        input.copy_source_if_modified_since.as_ref(),
        input.copy_source_if_unmodified_since.as_ref(),
    );
    read.map_err(|_| errors::precondition_failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(etag: &str, modified_ms: i64) -> ObjectRow {
        ObjectRow {
            key: "k".into(),
            size: 1,
            etag: etag.into(),
            last_modified_ms: modified_ms,
            blob: "b".into(),
            parts: None,
            headers: ObjectHeaders::default(),
        }
    }

    #[test]
    fn read_conditions_follow_s3s_precedence() {
        let object = object("abc", 10_500);
        let tag = |value: &str| ETagCondition::ETag(ETag::Strong(value.into()));
        let at = |ms: i64| timestamp(ms);
        let code = |result: S3Result<()>| result.err().map(|error| error.code().as_str().to_string());
        assert_eq!(code(check_read_conditions(&object, Some(&tag("abc")), None, None, None)), None);
        assert_eq!(
            code(check_read_conditions(&object, Some(&tag("x")), None, None, None)).as_deref(),
            Some("PreconditionFailed")
        );
        // If-Match holding wins over a failing If-Unmodified-Since.
        assert_eq!(code(check_read_conditions(&object, Some(&tag("abc")), None, None, Some(&at(0)))), None);
        assert_eq!(
            code(check_read_conditions(&object, None, None, None, Some(&at(0)))).as_deref(),
            Some("PreconditionFailed")
        );
        assert_eq!(
            code(check_read_conditions(&object, None, Some(&tag("abc")), None, None)).as_deref(),
            Some("NotModified")
        );
        // Same second: not modified.
        assert_eq!(
            code(check_read_conditions(&object, None, None, Some(&at(10_000)), None)).as_deref(),
            Some("NotModified")
        );
        assert_eq!(code(check_read_conditions(&object, None, None, Some(&at(9_999)), None)), None);
        // A non-matching If-None-Match wins over an unchanged If-Modified-Since.
        assert_eq!(code(check_read_conditions(&object, None, Some(&tag("x")), Some(&at(20_000)), None)), None);
    }

    #[test]
    fn content_md5_must_be_sixteen_bytes_of_base64() {
        assert_eq!(
            content_md5(Some("XUFAKrxLKna5cZ2REBfFkg==")).unwrap().map(hex::encode).as_deref(),
            Some("5d41402abc4b2a76b9719d911017c592")
        );
        assert!(content_md5(Some("nope")).is_err());
        assert!(content_md5(Some("aGVsbG8=")).is_err());
    }
}

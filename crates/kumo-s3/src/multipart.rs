//! Multipart uploads: CreateMultipartUpload, UploadPart (each part a file of its own),
//! CompleteMultipartUpload (the parts' files joined by the kernel into the object's, AWS's
//! `<md5 of the parts' md5s>-<count>` ETag), AbortMultipartUpload, ListParts,
//! ListMultipartUploads.

use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use crate::objects::{check_key, condition_error, object_headers, write_condition};
use crate::store::{BucketRow, ObjectRow, PartRow, UploadRow};
use crate::{errors, now_ms, timestamp, S3Service};

/// The smallest part but the last: 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part: 5 GiB.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Part numbers are 1 to 10,000.
const MAX_PART_NUMBER: i32 = 10_000;
/// The most parts or uploads one list answers.
const MAX_LISTED: usize = 1000;

fn part_number(number: i32) -> S3Result<u32> {
    if !(1..=MAX_PART_NUMBER).contains(&number) {
        return Err(errors::invalid_argument("Part number must be an integer between 1 and 10000, inclusive"));
    }
    u32::try_from(number)
        .map_err(|_| errors::invalid_argument("Part number must be an integer between 1 and 10000, inclusive"))
}

/// `bytes=first-last` of a source of `size` bytes as (start, length).
fn copy_range(range: &str, size: u64) -> S3Result<(u64, u64)> {
    let malformed = || {
        errors::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let (first, last) = range.strip_prefix("bytes=").and_then(|bounds| bounds.split_once('-')).ok_or_else(malformed)?;
    let (first, last): (u64, u64) = (first.parse().map_err(|_| malformed())?, last.parse().map_err(|_| malformed())?);
    if first > last {
        return Err(malformed());
    }
    if last >= size {
        return Err(errors::invalid_argument(&format!(
            "Range specified is not valid for source object of size: {size}"
        )));
    }
    Ok((first, last - first + 1))
}

fn invalid_part() -> s3s::S3Error {
    s3_error!(
        InvalidPart,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag."
    )
}

fn new_upload_id() -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> =
        uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).copied().collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl S3Service {
    async fn upload_for(
        &self,
        context: &kumo_core::RequestContext,
        bucket: &str,
        key: &str,
        upload_id: &str,
        action: &str,
    ) -> S3Result<UploadRow> {
        Ok(self.upload_in_bucket(context, bucket, key, upload_id, action).await?.1)
    }

    /// Like [`Self::upload_for`], with the bucket.
    async fn upload_in_bucket(
        &self,
        context: &kumo_core::RequestContext,
        bucket: &str,
        key: &str,
        upload_id: &str,
        action: &str,
    ) -> S3Result<(BucketRow, UploadRow)> {
        let bucket = self.bucket_for(context, bucket, action, Some(key)).await?;
        let (id, bucket_id) = (upload_id.to_string(), bucket.id);
        let upload = self.blocking(move |store| store.upload(bucket_id, &id)).await?;
        let upload = upload.filter(|upload| upload.key == key).ok_or_else(errors::no_such_upload)?;
        Ok((bucket, upload))
    }

    pub(crate) async fn create_multipart_upload(
        &self,
        request: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let input = request.input;
        check_key(&input.key)?;
        let headers = object_headers(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
            input.expires,
            input.metadata,
        )?;
        let mut headers = headers;
        headers.tags = crate::tagging::header_tags(input.tagging.as_deref())?;
        let bucket = self.bucket_for(&context, &input.bucket, "s3:PutObject", Some(&input.key)).await?;
        let upload = UploadRow {
            upload_id: new_upload_id(),
            bucket_id: bucket.id,
            key: input.key.clone(),
            initiated_ms: now_ms(),
            headers,
        };
        let upload_id = upload.upload_id.clone();
        self.blocking(move |store| store.create_upload(&upload)).await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    pub(crate) async fn upload_part(
        &self,
        request: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let mut input = request.input;
        let body = s3s::Body::from(input.body.take().unwrap_or_else(|| StreamingBlob::from(s3s::Body::empty())));
        // Refused before the body is read (what of it arrived is drained: the connection stays usable).
        let checked = async {
            let number = part_number(input.part_number)?;
            if input.content_length.is_some_and(|length| u64::try_from(length).unwrap_or(0) > MAX_PART_SIZE) {
                return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"));
            }
            let upload = self.upload_for(&context, &input.bucket, &input.key, &input.upload_id, "s3:PutObject").await?;
            Ok((number, upload))
        };
        let (number, upload) = match checked.await {
            Ok(checked) => checked,
            Err(error) => return Err(crate::objects::drain(body, error).await),
        };
        let written = self.write_body(body).await?;
        if input.content_length.is_some_and(|declared| u64::try_from(declared).ok() != Some(written.size)) {
            self.files.remove(vec![written.blob]);
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            ));
        }
        let e_tag = self.store_part(&upload.upload_id, number, written).await?;
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(e_tag), ..Default::default() }))
    }

    /// Records a written part of an upload (removing its file if the upload ended meanwhile, and
    /// the file of a part it replaces); answers its ETag.
    async fn store_part(&self, upload_id: &str, number: u32, written: crate::files::Written) -> S3Result<ETag> {
        let part = PartRow {
            part_number: number,
            size: written.size,
            etag: hex::encode(written.md5),
            last_modified_ms: now_ms(),
            blob: written.blob.clone(),
        };
        let e_tag = ETag::Strong(part.etag.clone());
        let upload_id = upload_id.to_string();
        let stored = self
            .blocking(move |store| {
                let mut replaced = None;
                let stored = store.put_part(&upload_id, &part, &mut replaced)?;
                Ok((stored, replaced))
            })
            .await;
        match stored {
            Ok((true, replaced)) => {
                self.files.remove(replaced.into_iter().collect());
                Ok(e_tag)
            }
            // Aborted or completed while the part was uploading.
            Ok((false, _)) => {
                self.files.remove(vec![written.blob]);
                Err(errors::no_such_upload())
            }
            Err(error) => {
                self.files.remove(vec![written.blob]);
                Err(error)
            }
        }
    }

    pub(crate) async fn upload_part_copy(
        &self,
        request: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let input = request.input;
        let number = part_number(input.part_number)?;
        let CopySource::Bucket { bucket: source_bucket, key: source_key, .. } = &input.copy_source else {
            return Err(s3_error!(
                NotImplemented,
                "A header you provided implies functionality that is not implemented"
            ));
        };
        let upload = self.upload_for(&context, &input.bucket, &input.key, &input.upload_id, "s3:PutObject").await?;
        let (source, file) = self.open_object(&context, source_bucket, source_key, "s3:GetObject").await?;
        let conditions = crate::objects::check_read_conditions(
            &source,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        );
        conditions.map_err(|_| errors::precondition_failed())?;
        let (start, length) = match input.copy_source_range.as_deref() {
            None => (0, source.size),
            Some(range) => copy_range(range, source.size)?,
        };
        if length > MAX_PART_SIZE {
            return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"));
        }
        let stream = Self::read_range(file, start, length).await?;
        let written = self.write_body(s3s::Body::from(stream)).await?;
        let modified = now_ms();
        let e_tag = self.store_part(&upload.upload_id, number, written).await?;
        let result =
            CopyPartResult { e_tag: Some(e_tag), last_modified: Some(timestamp(modified)), ..Default::default() };
        Ok(S3Response::new(UploadPartCopyOutput { copy_part_result: Some(result), ..Default::default() }))
    }

    /// Every part of an upload, in order.
    async fn all_parts(&self, upload_id: &str) -> S3Result<Vec<PartRow>> {
        let id = upload_id.to_string();
        self.blocking(move |store| store.parts(&id, 0, MAX_PART_NUMBER as usize)).await
    }

    pub(crate) async fn complete_multipart_upload(
        &self,
        request: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let input = request.input;
        let condition = write_condition(input.if_none_match.as_ref(), input.if_match.as_ref())?;
        let (bucket, upload) =
            self.upload_in_bucket(&context, &input.bucket, &input.key, &input.upload_id, "s3:PutObject").await?;
        let requested = input.multipart_upload.and_then(|upload| upload.parts).unwrap_or_default();
        if requested.is_empty() {
            return Err(errors::malformed_xml());
        }
        let stored = self.all_parts(&upload.upload_id).await?;
        let mut chosen = Vec::with_capacity(requested.len());
        let mut previous = 0;
        for part in &requested {
            let number = part.part_number.ok_or_else(invalid_part)?;
            let number = u32::try_from(number).map_err(|_| invalid_part())?;
            if number <= previous {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. Parts must be ordered by part number."
                ));
            }
            previous = number;
            let found = stored.iter().find(|stored| stored.part_number == number).ok_or_else(invalid_part)?;
            let etag_matches = part.e_tag.as_ref().is_none_or(|etag| etag.value().trim_matches('"') == found.etag);
            if !etag_matches {
                return Err(invalid_part());
            }
            chosen.push(found.clone());
        }
        if chosen.iter().rev().skip(1).any(|part| part.size < MIN_PART_SIZE) {
            return Err(s3_error!(EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size"));
        }
        let mut digest = Md5::new();
        for part in &chosen {
            let md5 = hex::decode(&part.etag).map_err(|error| errors::internal(&error))?;
            digest.update(md5);
        }
        let etag = format!("{}-{}", hex::encode(digest.finalize()), chosen.len());
        let blobs: Vec<String> = chosen.iter().map(|part| part.blob.clone()).collect();
        let written = self.files.concatenate(blobs).await.map_err(|error| errors::internal(&error))?;
        let object = ObjectRow {
            key: upload.key.clone(),
            size: written.size,
            etag: etag.clone(),
            last_modified_ms: now_ms(),
            blob: written.blob.clone(),
            parts: u32::try_from(chosen.len()).ok(),
            headers: upload.headers.clone(),
        };
        let notifications =
            self.created_notifications(&bucket, &context, "ObjectCreated:CompleteMultipartUpload", &object);
        let notifying = !notifications.is_empty();
        let completed =
            self.blocking(move |store| store.complete_upload(&upload, &object, &condition, &notifications)).await;
        match completed {
            Ok(Ok(replaced)) => {
                let mut garbage: Vec<String> = stored.into_iter().map(|part| part.blob).collect();
                garbage.extend(replaced);
                self.files.remove(garbage);
                if notifying {
                    self.notifier.wake();
                }
            }
            Ok(Err(failure)) => {
                self.files.remove(vec![written.blob]);
                return Err(condition_error(failure));
            }
            Err(error) => {
                self.files.remove(vec![written.blob]);
                return Err(error);
            }
        }
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(ETag::Strong(etag)),
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            ..Default::default()
        }))
    }

    pub(crate) async fn abort_multipart_upload(
        &self,
        request: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        let upload =
            self.upload_for(context, &input.bucket, &input.key, &input.upload_id, "s3:AbortMultipartUpload").await?;
        let removed = self.blocking(move |store| store.remove_upload(&upload.upload_id)).await?;
        self.files.remove(removed.ok_or_else(errors::no_such_upload)?);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn list_parts(&self, request: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = request.input.clone();
        let upload = self
            .upload_for(context, &input.bucket, &input.key, &input.upload_id, "s3:ListMultipartUploadParts")
            .await?;
        let max_parts = match input.max_parts {
            None => MAX_LISTED,
            Some(value) => usize::try_from(value)
                .map_err(|_| {
                    errors::invalid_argument("Argument max-parts must be an integer between 0 and 2147483647")
                })?
                .min(MAX_LISTED),
        };
        let after = match input.part_number_marker {
            None => 0,
            Some(marker) => u32::try_from(marker).map_err(|_| {
                errors::invalid_argument("Argument part-number-marker must be an integer between 0 and 2147483647")
            })?,
        };
        let id = upload.upload_id.clone();
        let mut parts = self.blocking(move |store| store.parts(&id, after, max_parts + 1)).await?;
        let truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        let owner = Owner { id: Some(context.account.clone()), display_name: Some(context.account.clone()) };
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            part_number_marker: i32::try_from(after).ok(),
            next_part_number_marker: parts.last().and_then(|part| i32::try_from(part.part_number).ok()),
            max_parts: i32::try_from(max_parts).ok(),
            is_truncated: Some(truncated),
            owner: Some(owner.clone()),
            initiator: Some(Initiator { id: owner.id, display_name: owner.display_name }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            parts: Some(
                parts
                    .into_iter()
                    .map(|part| Part {
                        part_number: i32::try_from(part.part_number).ok(),
                        size: i64::try_from(part.size).ok(),
                        e_tag: Some(ETag::Strong(part.etag)),
                        last_modified: Some(timestamp(part.last_modified_ms)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    pub(crate) async fn list_multipart_uploads(
        &self,
        request: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = request.input.clone();
        let bucket = self.bucket_for(context, &input.bucket, "s3:ListBucketMultipartUploads", None).await?;
        let max_uploads = match input.max_uploads {
            None => MAX_LISTED,
            Some(value) => usize::try_from(value)
                .map_err(|_| {
                    errors::invalid_argument("Argument max-uploads must be an integer between 0 and 2147483647")
                })?
                .min(MAX_LISTED),
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input.key_marker.clone().filter(|marker| !marker.is_empty()).map(|key| {
            // Without an upload id marker, every upload of the marker's key is skipped.
            let id = input.upload_id_marker.clone().unwrap_or_else(|| "\u{10FFFF}".to_string());
            (key, id)
        });
        let listing_prefix = prefix.clone();
        let mut uploads = self
            .blocking(move |store| {
                let after = after.as_ref().map(|(key, id)| (key.as_str(), id.as_str()));
                store.uploads(bucket.id, &listing_prefix, after, max_uploads + 1)
            })
            .await?;
        let truncated = uploads.len() > max_uploads;
        uploads.truncate(max_uploads);
        let owner = Owner { id: Some(context.account.clone()), display_name: Some(context.account.clone()) };
        let last = uploads.last().map(|upload| (upload.key.clone(), upload.upload_id.clone()));
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: Some(prefix),
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            next_key_marker: truncated.then(|| last.clone().map(|(key, _)| key)).flatten(),
            next_upload_id_marker: truncated.then(|| last.map(|(_, id)| id)).flatten(),
            max_uploads: i32::try_from(max_uploads).ok(),
            is_truncated: Some(truncated),
            uploads: Some(
                uploads
                    .into_iter()
                    .map(|upload| MultipartUpload {
                        key: Some(upload.key),
                        upload_id: Some(upload.upload_id),
                        initiated: Some(timestamp(upload.initiated_ms)),
                        owner: Some(owner.clone()),
                        initiator: Some(Initiator { id: owner.id.clone(), display_name: owner.display_name.clone() }),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::copy_range;

    #[test]
    fn copy_ranges_are_inclusive_and_within_the_source() {
        assert_eq!(copy_range("bytes=0-9", 10).unwrap(), (0, 10));
        assert_eq!(copy_range("bytes=5-5", 10).unwrap(), (5, 1));
        for bad in ["bytes=0-10", "bytes=5-4", "0-4", "bytes=-4", "bytes=a-b"] {
            assert!(copy_range(bad, 10).is_err(), "{bad}");
        }
    }
}

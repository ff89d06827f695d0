//! Object tagging: Put/Get/DeleteObjectTagging and the `x-amz-tagging` header of PutObject,
//! CreateMultipartUpload and CopyObject (`TaggingDirective`), with S3's limits (10 tags, keys of
//! 128 and values of 256 characters, no key twice). Tags are kept with the object's headers.

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use crate::versioning::answered_version;
use crate::{errors, S3Service};

/// Tags an object may carry.
const MAX_TAGS: usize = 10;
/// Longest tag key, in characters.
const MAX_KEY: usize = 128;
/// Longest tag value, in characters.
const MAX_VALUE: usize = 256;

/// A tag set checked against S3's limits.
pub fn checked_tags(tags: impl IntoIterator<Item = (String, String)>) -> S3Result<BTreeMap<String, String>> {
    let mut checked = BTreeMap::new();
    for (key, value) in tags {
        if key.chars().count() > MAX_KEY || key.is_empty() {
            return Err(s3_error!(InvalidTag, "The TagKey you have provided is invalid"));
        }
        if value.chars().count() > MAX_VALUE {
            return Err(s3_error!(InvalidTag, "The TagValue you have provided is too long, max 256"));
        }
        if checked.insert(key, value).is_some() {
            return Err(s3_error!(InvalidTag, "Cannot provide multiple Tags with the same key"));
        }
    }
    if checked.len() > MAX_TAGS {
        // S3's own code here, which s3s does not list.
        let mut error = s3s::S3Error::with_message(
            s3s::S3ErrorCode::Custom("BadRequest".into()),
            "Object tags cannot be greater than 10",
        );
        error.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(error);
    }
    Ok(checked)
}

/// The tags of an `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded).
pub fn header_tags(header: Option<&str>) -> S3Result<BTreeMap<String, String>> {
    let Some(header) = header else { return Ok(BTreeMap::new()) };
    checked_tags(form_urlencoded::parse(header.as_bytes()).map(|(key, value)| (key.into_owned(), value.into_owned())))
}

impl S3Service {
    /// Replaces the tags of the object at `key` (its version `version_id`, or the object as it
    /// is now), answering the version's id in a versioned bucket.
    async fn set_tags(
        &self,
        context: &kumo_core::RequestContext,
        (bucket, key, version_id): (&str, &str, Option<&str>),
        action: &str,
        tags: BTreeMap<String, String>,
    ) -> S3Result<Option<String>> {
        let (bucket, object) = self.version_for(context, bucket, key, version_id, action).await?;
        let answered = answered_version(&bucket, &object);
        let mut headers = object.headers.clone();
        headers.tags = tags;
        let (id, key, seq) = (bucket.id, object.key, object.seq);
        let changed = self.blocking(move |store| store.set_headers(id, &key, seq, &headers)).await?;
        // The object was replaced or deleted meanwhile.
        if !changed {
            return Err(errors::no_such_key());
        }
        Ok(answered)
    }

    pub(crate) async fn put_object_tagging(
        &self,
        request: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        let tags = checked_tags(
            input
                .tagging
                .tag_set
                .iter()
                .map(|tag| (tag.key.clone().unwrap_or_default(), tag.value.clone().unwrap_or_default())),
        )?;
        let action = if input.version_id.is_some() { "s3:PutObjectVersionTagging" } else { "s3:PutObjectTagging" };
        let object = (input.bucket.as_str(), input.key.as_str(), input.version_id.as_deref());
        let version_id = self.set_tags(context, object, action, tags).await?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    pub(crate) async fn get_object_tagging(
        &self,
        request: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        let version_id = input.version_id.as_deref();
        let action = if version_id.is_some() { "s3:GetObjectVersionTagging" } else { "s3:GetObjectTagging" };
        let (bucket, object) = self.version_for(context, &input.bucket, &input.key, version_id, action).await?;
        let version_id = answered_version(&bucket, &object);
        let tag_set =
            object.headers.tags.into_iter().map(|(key, value)| Tag { key: Some(key), value: Some(value) }).collect();
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id }))
    }

    pub(crate) async fn delete_object_tagging(
        &self,
        request: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = &request.input;
        let action =
            if input.version_id.is_some() { "s3:DeleteObjectVersionTagging" } else { "s3:DeleteObjectTagging" };
        let object = (input.bucket.as_str(), input.key.as_str(), input.version_id.as_deref());
        let version_id = self.set_tags(context, object, action, BTreeMap::new()).await?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_keep_s3s_limits() {
        let tags = header_tags(Some("a=1&b=two%20words")).unwrap();
        assert_eq!(tags.get("b").map(String::as_str), Some("two words"));
        assert!(header_tags(Some("a=1&a=2")).is_err());
        assert!(checked_tags([("k".repeat(129), String::new())]).is_err());
        assert!(checked_tags([("k".into(), "v".repeat(257))]).is_err());
        assert!(checked_tags((0..11).map(|index| (index.to_string(), String::new()))).is_err());
        assert_eq!(checked_tags((0..10).map(|index| (index.to_string(), String::new()))).unwrap().len(), 10);
    }
}

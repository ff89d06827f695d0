//! Bucket versioning: Put/GetBucketVersioning, version ids (S3's opaque form, `null` for the
//! version a key gets while versioning is off or suspended), the errors of reading a version,
//! and ListObjectVersions (versions and delete markers by key, newest first, paged by key and
//! version id markers over the same bounded index reads as ListObjects).

use base64::Engine as _;
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result};

use crate::objects::etag;
use crate::store::{prefix_end, BucketRow, ObjectRow};
use crate::{errors, timestamp, S3Service};

/// S3's largest and default page.
const MAX_KEYS: usize = 1000;

/// A new version id: 24 random bytes in URL-safe base64 (32 characters, as S3's current ones).
pub fn new_version_id() -> String {
    let mut bytes = [0u8; 24];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The shortest version id S3 takes as one (shorter ones are malformed).
const MIN_VERSION_ID_LENGTH: usize = 16;
/// The longest version id S3 takes as one.
const MAX_VERSION_ID_LENGTH: usize = 1024;

/// `InvalidArgument` unless `version_id` is `null` or has the form of a version id (S3's own
/// use `+`, `/`, `.` and `=` besides Kumo's URL-safe base64, so theirs are well formed too).
pub fn check_version_id(version_id: &str) -> S3Result<()> {
    let well_formed = version_id == "null"
        || ((MIN_VERSION_ID_LENGTH..=MAX_VERSION_ID_LENGTH).contains(&version_id.len())
            && version_id.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_.+/=".contains(&byte)));
    if well_formed {
        Ok(())
    } else {
        Err(errors::invalid_argument("Invalid version id specified"))
    }
}

/// The version id a new version of a key in `bucket` gets (`None`: the null version).
pub fn version_for_write(bucket: &BucketRow) -> Option<String> {
    (bucket.versioning.as_deref() == Some("Enabled")).then(new_version_id)
}

/// The `x-amz-version-id` S3 answers for `object` in `bucket` (none while it was never versioned).
pub fn answered_version(bucket: &BucketRow, object: &ObjectRow) -> Option<String> {
    bucket.versioning.as_ref().map(|_| object.version_id.clone().unwrap_or_else(|| "null".to_string()))
}

/// `error` with the headers S3 adds when a delete marker stands where an object was asked for.
pub fn with_delete_marker(mut error: S3Error, version_id: Option<&str>) -> S3Error {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(value) = http::HeaderValue::from_str(version_id.unwrap_or("null")) {
        headers.insert("x-amz-version-id", value);
    }
    error.set_headers(headers);
    error
}

/// `NoSuchVersion` (404).
pub fn no_such_version() -> S3Error {
    s3_error!(NoSuchVersion, "The specified version does not exist.")
}

/// `MethodNotAllowed` (405) for reading a delete marker by its version id.
pub fn method_not_allowed() -> S3Error {
    s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource.")
}

/// One page of ListObjectVersions.
struct VersionPage {
    rows: Vec<ObjectRow>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The key (or common prefix) and version id the next page starts after.
    next: Option<(String, Option<String>)>,
}

/// Reads a page of versions from `from` (only versions of `from` older than `before_seq` when
/// given), rolling keys up into common prefixes as ListObjects does.
fn read_versions(
    store: &dyn crate::store::S3Store,
    bucket_id: i64,
    prefix: &str,
    delimiter: Option<&str>,
    mut from: Vec<u8>,
    mut before_seq: Option<i64>,
    max_keys: usize,
) -> Result<VersionPage, crate::store::StoreError> {
    let below = prefix_end(prefix.as_bytes());
    if from.as_slice() < prefix.as_bytes() {
        from = prefix.as_bytes().to_vec();
        before_seq = None;
    }
    let mut page = VersionPage { rows: Vec::new(), prefixes: Vec::new(), truncated: false, next: None };
    if max_keys == 0 {
        return Ok(page);
    }
    let mut entries = 0;
    'pages: loop {
        let batch = (max_keys - entries + 1).min(MAX_KEYS);
        let rows = store.versions_from(bucket_id, &from, before_seq, below.as_deref(), batch)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let rolled_up = delimiter.and_then(|delimiter| {
                let rest = row.key.get(prefix.len()..)?;
                rest.find(delimiter).map(|at| row.key[..prefix.len() + at + delimiter.len()].to_string())
            });
            if entries == max_keys {
                page.truncated = true;
                break 'pages;
            }
            entries += 1;
            match rolled_up {
                Some(common) => {
                    let Some(end) = prefix_end(common.as_bytes()) else { break 'pages };
                    from = end;
                    before_seq = None;
                    page.next = Some((common.clone(), None));
                    page.prefixes.push(common);
                    continue 'pages;
                }
                None => {
                    from = row.key.as_bytes().to_vec();
                    before_seq = Some(row.seq);
                    page.next = Some((row.key.clone(), Some(row.version_id.clone().unwrap_or_else(|| "null".into()))));
                    page.rows.push(row);
                }
            }
        }
    }
    Ok(page)
}

/// `value` as S3 writes names with `EncodingType=url`.
fn encode(value: String, encoded: bool) -> String {
    if encoded {
        form_urlencoded::byte_serialize(value.as_bytes()).collect()
    } else {
        value
    }
}

impl S3Service {
    pub(crate) async fn put_bucket_versioning(
        &self,
        request: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let configuration = &request.input.versioning_configuration;
        let status = match configuration.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(status @ ("Enabled" | "Suspended")) => status.to_string(),
            _ => return Err(errors::malformed_xml()),
        };
        match configuration.mfa_delete.as_ref().map(MFADelete::as_str) {
            None | Some("Disabled") => {}
            Some("Enabled") => {
                return Err(errors::invalid_request("DevPay and Mfa are mutually exclusive authorization methods."))
            }
            Some(_) => return Err(errors::malformed_xml()),
        }
        let bucket = self.bucket_for(context, &request.input.bucket, "s3:PutBucketVersioning", None).await?;
        let id = bucket.id;
        self.blocking(move |store| store.set_versioning(id, &status)).await?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    pub(crate) async fn get_bucket_versioning(
        &self,
        request: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let bucket = self.bucket_for(context, &request.input.bucket, "s3:GetBucketVersioning", None).await?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: bucket.versioning.map(BucketVersioningStatus::from),
            mfa_delete: None,
        }))
    }

    pub(crate) async fn list_object_versions(
        &self,
        request: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = request.input.clone();
        let encoded = match input.encoding_type.as_ref().map(EncodingType::as_str) {
            None => false,
            Some("url") => true,
            Some(_) => return Err(errors::invalid_argument("Invalid Encoding Method specified in Request")),
        };
        let max_keys = match input.max_keys {
            None => MAX_KEYS,
            Some(value) => usize::try_from(value)
                .map(|value| value.min(MAX_KEYS))
                .map_err(|_| errors::invalid_argument("Provided max-keys not an integer or within integer range"))?,
        };
        let key_marker = input.key_marker.clone().filter(|marker| !marker.is_empty());
        let version_marker = input.version_id_marker.clone().filter(|marker| !marker.is_empty());
        if version_marker.is_some() && key_marker.is_none() {
            return Err(errors::invalid_argument("A version-id marker cannot be specified without a key marker."));
        }
        if let Some(marker) = &version_marker {
            check_version_id(marker)?;
        }
        let bucket = self.bucket_for(context, &input.bucket, "s3:ListBucketVersions", None).await?;
        let bucket_id = bucket.id;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|delimiter| !delimiter.is_empty());
        let page = self
            .blocking(move |store| {
                let (from, before_seq) = match (key_marker, version_marker) {
                    (None, _) => (Vec::new(), None),
                    // A marker that is a common prefix resumes past every key under it.
                    (Some(key), None) => match delimiter.as_deref().filter(|delimiter| key.ends_with(delimiter)) {
                        Some(_) => (prefix_end(key.as_bytes()).unwrap_or_else(|| after_key(&key)), None),
                        None => (after_key(&key), None),
                    },
                    (Some(key), Some(version)) => match store.version(bucket_id, &key, Some(&version))? {
                        Some(row) => (key.into_bytes(), Some(row.seq)),
                        None => (after_key(&key), None),
                    },
                };
                read_versions(store, bucket_id, &prefix, delimiter.as_deref(), from, before_seq, max_keys)
            })
            .await?;
        let owner = Owner { id: Some(bucket.account.clone()), display_name: Some(bucket.account.clone()) };
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        for row in page.rows {
            let version_id = Some(row.version_id.clone().unwrap_or_else(|| "null".to_string()));
            if row.delete_marker {
                markers.push(DeleteMarkerEntry {
                    is_latest: Some(row.is_latest),
                    key: Some(encode(row.key, encoded)),
                    last_modified: Some(timestamp(row.last_modified_ms)),
                    owner: Some(owner.clone()),
                    version_id,
                });
            } else {
                versions.push(ObjectVersion {
                    e_tag: Some(etag(&row)),
                    is_latest: Some(row.is_latest),
                    last_modified: Some(timestamp(row.last_modified_ms)),
                    owner: Some(owner.clone()),
                    size: i64::try_from(row.size).ok(),
                    storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                    version_id,
                    key: Some(encode(row.key, encoded)),
                    ..Default::default()
                });
            }
        }
        let (next_key_marker, next_version_id_marker) = match page.next.filter(|_| page.truncated) {
            Some((key, version)) => (Some(encode(key, encoded)), version),
            None => (None, None),
        };
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(encode(input.prefix.unwrap_or_default(), encoded)),
            delimiter: input.delimiter.map(|delimiter| encode(delimiter, encoded)),
            key_marker: Some(encode(input.key_marker.unwrap_or_default(), encoded)),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            max_keys: i32::try_from(max_keys).ok(),
            is_truncated: Some(page.truncated),
            next_key_marker,
            next_version_id_marker,
            encoding_type: input.encoding_type,
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            common_prefixes: (!page.prefixes.is_empty()).then(|| {
                page.prefixes.into_iter().map(|prefix| CommonPrefix { prefix: Some(encode(prefix, encoded)) }).collect()
            }),
            ..Default::default()
        }))
    }
}

/// The bytes just after `key` in byte order: a page resumes from there.
fn after_key(key: &str) -> Vec<u8> {
    let mut bytes = key.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_are_checked_for_kumos_form() {
        let id = new_version_id();
        assert_eq!(id.len(), 32);
        assert!(check_version_id(&id).is_ok());
        assert!(check_version_id("null").is_ok());
        assert!(check_version_id("nope").is_err());
        assert!(check_version_id("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY").is_ok());
        assert!(check_version_id(&format!("{}?", &id[1..])).is_err());
    }
}

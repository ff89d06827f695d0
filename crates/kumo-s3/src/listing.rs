//! ListObjects and ListObjectsV2: a page is read from the `(bucket, key)` index from its lower
//! bound, and keys that roll up into a common prefix are skipped in one step (the next read
//! starts past every key with that prefix), so a page costs its own length whatever the
//! bucket holds. V2's continuation token is the next page's lower bound.

use base64::Engine as _;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::objects::etag;
use crate::store::{prefix_end, ObjectRow};
use crate::{errors, timestamp, S3Service};

/// S3's largest and default page.
const MAX_KEYS: usize = 1000;

/// One page of a listing.
struct Page {
    contents: Vec<ObjectRow>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The lower bound of the next page (keys from it on).
    next: Vec<u8>,
    /// The last key or common prefix of the page.
    last: Option<String>,
}

/// What a listing asks.
struct Listing {
    bucket_id: i64,
    prefix: String,
    delimiter: Option<String>,
    /// Keys from this one on.
    from: Vec<u8>,
    /// A common prefix equal to this (a V1 marker) was on the previous page.
    after: Option<String>,
    max_keys: usize,
}

/// The bytes just after `key` in byte order: a page resumes from there.
fn after_key(key: &str) -> Vec<u8> {
    let mut bytes = key.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

fn max_keys(value: Option<i32>) -> S3Result<usize> {
    match value {
        None => Ok(MAX_KEYS),
        Some(value) => usize::try_from(value)
            .map(|value| value.min(MAX_KEYS))
            .map_err(|_| errors::invalid_argument("Provided max-keys not an integer or within integer range")),
    }
}

/// Whether names are URL-encoded in the answer (`EncodingType=url`).
fn url_encoded(value: Option<&EncodingType>) -> S3Result<bool> {
    match value.map(EncodingType::as_str) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => Err(errors::invalid_argument("Invalid Encoding Method specified in Request")),
    }
}

/// `value` as S3 writes names with `EncodingType=url`.
fn encode(value: String, encoded: bool) -> String {
    if encoded {
        form_urlencoded::byte_serialize(value.as_bytes()).collect()
    } else {
        value
    }
}

fn read_page(store: &dyn crate::store::S3Store, listing: Listing) -> Result<Page, crate::store::StoreError> {
    let prefix = listing.prefix.as_bytes();
    let below = prefix_end(prefix);
    let mut lower = listing.from.clone().max(prefix.to_vec());
    let delimiter = listing.delimiter.filter(|delimiter| !delimiter.is_empty());
    let mut page = Page { contents: Vec::new(), prefixes: Vec::new(), truncated: false, next: Vec::new(), last: None };
    let mut entries = 0;
    if listing.max_keys == 0 {
        return Ok(page);
    }
    'pages: loop {
        let batch = (listing.max_keys - entries + 1).min(MAX_KEYS);
        let rows = store.objects_from(listing.bucket_id, &lower, below.as_deref(), batch)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let rolled_up = delimiter.as_deref().and_then(|delimiter| {
                let rest = row.key.get(listing.prefix.len()..)?;
                rest.find(delimiter).map(|at| row.key[..listing.prefix.len() + at + delimiter.len()].to_string())
            });
            if entries == listing.max_keys {
                page.truncated = true;
                break 'pages;
            }
            match rolled_up {
                Some(common) => {
                    let Some(end) = prefix_end(common.as_bytes()) else { break 'pages };
                    lower = end;
                    if listing.after.as_deref() != Some(common.as_str()) {
                        entries += 1;
                        page.last = Some(common.clone());
                        page.prefixes.push(common);
                    }
                    // Every other key with this prefix is skipped by reading again past it.
                    continue 'pages;
                }
                None => {
                    lower = after_key(&row.key);
                    entries += 1;
                    page.last = Some(row.key.clone());
                    page.contents.push(row);
                }
            }
        }
    }
    page.next = lower;
    Ok(page)
}

fn object_entry(row: ObjectRow, encoded: bool, owner: Option<&Owner>) -> Object {
    Object {
        e_tag: Some(etag(&row)),
        last_modified: Some(timestamp(row.last_modified_ms)),
        size: i64::try_from(row.size).ok(),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
        owner: owner.cloned(),
        key: Some(encode(row.key, encoded)),
        ..Default::default()
    }
}

impl S3Service {
    async fn page(&self, listing: Listing) -> S3Result<Page> {
        self.blocking(move |store| read_page(store, listing)).await
    }

    pub(crate) async fn list_objects_v2(
        &self,
        request: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = request.input.clone();
        let encoded = url_encoded(input.encoding_type.as_ref())?;
        let max_keys = max_keys(input.max_keys)?;
        let from = match (&input.continuation_token, &input.start_after) {
            (Some(token), _) => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .map_err(|_| errors::invalid_argument("The continuation token provided is incorrect"))?,
            (None, Some(start_after)) => after_key(start_after),
            (None, None) => Vec::new(),
        };
        let bucket = self.bucket_for(context, &input.bucket, "s3:ListBucket", None).await?;
        let listing = Listing {
            bucket_id: bucket.id,
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            from,
            after: None,
            max_keys,
        };
        let page = self.page(listing).await?;
        let owner = input
            .fetch_owner
            .unwrap_or(false)
            .then(|| Owner { id: Some(bucket.account.clone()), display_name: Some(bucket.account.clone()) });
        let count = page.contents.len() + page.prefixes.len();
        let output = ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encode(input.prefix.unwrap_or_default(), encoded)),
            delimiter: input.delimiter.map(|delimiter| encode(delimiter, encoded)),
            max_keys: i32::try_from(max_keys).ok(),
            key_count: i32::try_from(count).ok(),
            continuation_token: input.continuation_token,
            start_after: input.start_after.map(|start_after| encode(start_after, encoded)),
            is_truncated: Some(page.truncated),
            next_continuation_token: page
                .truncated
                .then(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&page.next)),
            encoding_type: input.encoding_type,
            contents: Some(page.contents.into_iter().map(|row| object_entry(row, encoded, owner.as_ref())).collect()),
            common_prefixes: Some(
                page.prefixes
                    .into_iter()
                    .map(|prefix| CommonPrefix { prefix: Some(encode(prefix, encoded)) })
                    .collect(),
            ),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn list_objects(
        &self,
        request: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let input = request.input.clone();
        let encoded = url_encoded(input.encoding_type.as_ref())?;
        let max_keys = max_keys(input.max_keys)?;
        let bucket = self.bucket_for(context, &input.bucket, "s3:ListBucket", None).await?;
        let marker = input.marker.clone().filter(|marker| !marker.is_empty());
        let listing = Listing {
            bucket_id: bucket.id,
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            from: marker.as_deref().map(after_key).unwrap_or_default(),
            after: marker,
            max_keys,
        };
        let page = self.page(listing).await?;
        let owner = Owner { id: Some(bucket.account.clone()), display_name: Some(bucket.account.clone()) };
        // S3 gives NextMarker only with a delimiter; without one the last key is the marker.
        let next_marker = (page.truncated && input.delimiter.is_some()).then_some(page.last).flatten();
        let output = ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(encode(input.prefix.unwrap_or_default(), encoded)),
            delimiter: input.delimiter.map(|delimiter| encode(delimiter, encoded)),
            marker: Some(encode(input.marker.unwrap_or_default(), encoded)),
            max_keys: i32::try_from(max_keys).ok(),
            is_truncated: Some(page.truncated),
            next_marker: next_marker.map(|marker| encode(marker, encoded)),
            encoding_type: input.encoding_type,
            contents: Some(page.contents.into_iter().map(|row| object_entry(row, encoded, Some(&owner))).collect()),
            common_prefixes: Some(
                page.prefixes
                    .into_iter()
                    .map(|prefix| CommonPrefix { prefix: Some(encode(prefix, encoded)) })
                    .collect(),
            ),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }
}

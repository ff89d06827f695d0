//! A test-only S3, `kumotest-s3`, registered only when Kumo starts with `KUMO_TEST_SERVICES=1`:
//! it is not part of Kumo's AWS surface (S3 proper is its own issue). It speaks restXml under S3's
//! signing name (`s3`) and host form (`bucket.s3.<anything>`) through kumo-protocol's s3s adapter
//! ([`kumo_protocol::rest_xml::RestXmlService`]), so that end-to-end tests drive the restXml
//! codec, routing (path-style, virtual-hosted, a bucket named like Lambda's API version),
//! streamed uploads and S3's errors with real clients (boto3, the AWS CLI).
//!
//! In memory and bounded: buckets (S3's global names, each owned by the account that created
//! it, from the request context) and objects, whose content is kept only up to
//! [`KEPT_OBJECT_BYTES`] each and [`KEPT_TOTAL_BYTES`] in all (a larger object keeps its length
//! and ETag, and `GetObject` refuses it). Operations: `CreateBucket`, `ListBuckets`,
//! `HeadBucket`, `DeleteBucket`, `PutObject` (streamed, up to 5 GiB), `GetObject`,
//! `HeadObject`, `DeleteObject`; s3s answers `NotImplemented` for the others.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use kumo_core::AwsError;
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::rest_xml::{self, RestXmlService};
use kumo_protocol::service::same_code;
use kumo_protocol::{DecodeError, HostPattern, Protocol, ServiceDescriptor};
use md5::{Digest as _, Md5};
use s3s::dto::{
    Bucket, CreateBucketInput, CreateBucketOutput, DeleteBucketInput, DeleteBucketOutput, DeleteObjectInput,
    DeleteObjectOutput, ETag, GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput,
    HeadObjectOutput, ListBucketsInput, ListBucketsOutput, Owner, PutObjectInput, PutObjectOutput, StreamingBlob,
};
use s3s::{s3_error, S3Request, S3Response, S3Result};

/// Largest object whose content is kept.
pub const KEPT_OBJECT_BYTES: usize = 1024 * 1024;
/// Most object content kept in all.
pub const KEPT_TOTAL_BYTES: usize = 64 * 1024 * 1024;
/// Most buckets an account may have here.
const MAX_BUCKETS: usize = 100;
/// Most objects kept in all.
const MAX_OBJECTS: usize = 10_000;
/// Body limit of every request but an upload (S3's XML documents are at most a few MiB).
const DOCUMENT_LIMIT: usize = 2 * 1024 * 1024;

fn decode_error(_protocol: Protocol, error: &DecodeError) -> AwsError {
    AwsError::new("MalformedXML", 400, error.to_string())
}

/// The test S3's declaration: S3's signing name and virtual-hosted host form.
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "kumotest-s3",
    signing_name: "s3",
    json_target_prefix: None,
    cbor_service_name: None,
    hosts: &[HostPattern { label: rest_xml::head::S3_HOST_LABEL }],
    protocols: &[Protocol::RestXml],
    xml_namespace: "http://s3.amazonaws.com/doc/2006-03-01/",
    json_error_prefix: "",
    aws_query_compatible: false,
    query_error_detail: false,
    default_body_limit: DOCUMENT_LIMIT,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error,
    unknown_operation: |_| {
        AwsError::new("NotImplemented", 501, "A header you provided implies functionality that is not implemented")
    },
};

/// The operations the test S3 implements (s3s answers `NotImplemented` for the others).
const OPERATIONS: &[&str] = &[
    "CreateBucket",
    "ListBuckets",
    "HeadBucket",
    "DeleteBucket",
    "PutObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
];

/// The test S3, ready to register.
pub fn service() -> RestXmlService {
    RestXmlService::new(&DESCRIPTOR, OPERATIONS, TestS3::default())
}

/// An object: its length and ETag, and its content when small enough to keep.
#[derive(Clone)]
struct StoredObject {
    content: Option<Bytes>,
    length: u64,
    e_tag: String,
    content_type: Option<String>,
    last_modified: SystemTime,
}

struct StoredBucket {
    owner: String,
    region: String,
    created: SystemTime,
    objects: BTreeMap<String, StoredObject>,
}

#[derive(Default)]
struct State {
    /// By name: bucket names are global, as in S3.
    buckets: HashMap<String, StoredBucket>,
    kept_bytes: usize,
    objects: usize,
}

/// The test S3's state (plain values behind one mutex, never held across an await).
#[derive(Default)]
pub struct TestS3 {
    state: Mutex<State>,
}

impl TestS3 {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain values: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The bucket `name` of `account`: NoSuchBucket, or AccessDenied when another account owns it.
fn owned_bucket<'a>(state: &'a mut State, account: &str, name: &str) -> S3Result<&'a mut StoredBucket> {
    match state.buckets.get_mut(name) {
        Some(bucket) if bucket.owner == account => Ok(bucket),
        Some(_) => Err(s3_error!(AccessDenied, "Access Denied")),
        None => Err(s3_error!(NoSuchBucket, "The specified bucket does not exist")),
    }
}

fn no_such_key() -> s3s::S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// Reads an upload to its verified end: its MD5, length and (when small) content.
async fn read_upload(body: Option<StreamingBlob>) -> S3Result<(String, u64, Option<Bytes>)> {
    let mut body = s3s::Body::from(body.unwrap_or_else(|| StreamingBlob::from(s3s::Body::empty())));
    let mut md5 = Md5::new();
    let mut length = 0u64;
    let mut kept = Some(BytesMut::new());
    while let Some(frame) = body.frame().await {
        // A body that failed the gateway's verification ends in its error, and nothing is stored.
        let frame = frame.map_err(|error| rest_xml::body_error(&error))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        md5.update(&data);
        length += data.len() as u64;
        kept = kept.filter(|kept| kept.len() + data.len() <= KEPT_OBJECT_BYTES).map(|mut kept| {
            kept.extend_from_slice(&data);
            kept
        });
    }
    Ok((hex::encode(md5.finalize()), length, kept.map(BytesMut::freeze)))
}

#[async_trait::async_trait]
impl s3s::S3 for TestS3 {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let context = rest_xml::context(&req)?;
        let name = req.input.bucket.clone();
        let constraint =
            req.input.create_bucket_configuration.as_ref().and_then(|config| config.location_constraint.clone());
        let region = constraint.map_or_else(|| context.region.clone(), |constraint| constraint.as_str().to_string());
        let mut state = self.state();
        match state.buckets.get(&name) {
            Some(bucket) if bucket.owner == context.account => {
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                ))
            }
            Some(_) => {
                return Err(s3_error!(
                    BucketAlreadyExists,
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
                ))
            }
            None => {}
        }
        if state.buckets.values().filter(|bucket| bucket.owner == context.account).count() >= MAX_BUCKETS {
            return Err(s3_error!(TooManyBuckets, "You have attempted to create more buckets than allowed"));
        }
        let bucket = StoredBucket {
            owner: context.account.clone(),
            region,
            created: SystemTime::now(),
            objects: BTreeMap::new(),
        };
        state.buckets.insert(name.clone(), bucket);
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{name}")) }))
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let context = rest_xml::context(&req)?;
        let state = self.state();
        let mut buckets: Vec<Bucket> = state
            .buckets
            .iter()
            .filter(|(_, bucket)| bucket.owner == context.account)
            .map(|(name, bucket)| Bucket {
                name: Some(name.clone()),
                creation_date: Some(bucket.created.into()),
                bucket_region: Some(bucket.region.clone()),
            })
            .collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        let owner = Owner { id: Some(context.account.clone()), display_name: Some(context.account.clone()) };
        Ok(S3Response::new(ListBucketsOutput { buckets: Some(buckets), owner: Some(owner), ..Default::default() }))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        let context = rest_xml::context(&req)?;
        let mut state = self.state();
        let bucket = owned_bucket(&mut state, &context.account, &req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(bucket.region.clone()), ..Default::default() }))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let context = rest_xml::context(&req)?;
        let mut state = self.state();
        let bucket = owned_bucket(&mut state, &context.account, &req.input.bucket)?;
        if !bucket.objects.is_empty() {
            return Err(s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"));
        }
        state.buckets.remove(&req.input.bucket);
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let context = rest_xml::context(&req)?.clone();
        let PutObjectInput { bucket, key, body, content_length, content_type, .. } = req.input;
        // Refused before its body is read.
        owned_bucket(&mut self.state(), &context.account, &bucket)?;
        let (e_tag, length, content) = read_upload(body).await?;
        if content_length.is_some_and(|declared| u64::try_from(declared).ok() != Some(length)) {
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            ));
        }
        let mut state = self.state();
        let kept_bytes = state.kept_bytes;
        let content = content.filter(|content| kept_bytes + content.len() <= KEPT_TOTAL_BYTES);
        let added = content.as_ref().map_or(0, Bytes::len);
        let stored =
            StoredObject { content, length, e_tag: e_tag.clone(), content_type, last_modified: SystemTime::now() };
        let objects = state.objects;
        let bucket = owned_bucket(&mut state, &context.account, &bucket)?;
        if objects >= MAX_OBJECTS && !bucket.objects.contains_key(&key) {
            return Err(s3_error!(ServiceUnavailable, "The test S3 holds no more objects"));
        }
        let replaced = bucket.objects.insert(key, stored);
        let freed = replaced.as_ref().and_then(|object| object.content.as_ref()).map_or(0, Bytes::len);
        state.objects += usize::from(replaced.is_none());
        state.kept_bytes = state.kept_bytes + added - freed;
        Ok(S3Response::new(PutObjectOutput { e_tag: Some(ETag::Strong(e_tag)), ..Default::default() }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let context = rest_xml::context(&req)?;
        let object = {
            let mut state = self.state();
            let bucket = owned_bucket(&mut state, &context.account, &req.input.bucket)?;
            bucket.objects.get(&req.input.key).cloned().ok_or_else(no_such_key)?
        };
        let Some(content) = object.content else {
            return Err(s3_error!(NotImplemented, "The test S3 keeps the content of objects up to 1 MiB only"));
        };
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::from(s3s::Body::from(content))),
            content_length: i64::try_from(object.length).ok(),
            content_type: object.content_type,
            e_tag: Some(ETag::Strong(object.e_tag)),
            last_modified: Some(object.last_modified.into()),
            ..Default::default()
        }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let context = rest_xml::context(&req)?;
        let mut state = self.state();
        let bucket = owned_bucket(&mut state, &context.account, &req.input.bucket)?;
        let object = bucket.objects.get(&req.input.key).ok_or_else(no_such_key)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: i64::try_from(object.length).ok(),
            content_type: object.content_type.clone(),
            e_tag: Some(ETag::Strong(object.e_tag.clone())),
            last_modified: Some(object.last_modified.into()),
            ..Default::default()
        }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let context = rest_xml::context(&req)?;
        let mut state = self.state();
        let bucket = owned_bucket(&mut state, &context.account, &req.input.bucket)?;
        let removed = bucket.objects.remove(&req.input.key);
        if let Some(removed) = removed {
            state.objects -= 1;
            state.kept_bytes -= removed.content.as_ref().map_or(0, Bytes::len);
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }
}

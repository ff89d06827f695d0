//! S3 behind kumo-protocol's registry: its descriptor (restXml under the signing name `s3` and
//! the virtual-hosted host form `bucket.s3.<host>`), the operations it implements, s3s' `S3`
//! trait calling them, and [`S3Api`], the registered service (s3s' adapter with S3's health).

use std::sync::Arc;

use http::request::Parts;
use kumo_core::AwsError;
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::rest_xml::{self, ResponseBody, RestXmlService};
use kumo_protocol::service::same_code;
use kumo_protocol::{AwsService, BoxFuture, Call, DecodeError, Encoded, HostPattern, Protocol, ServiceDescriptor};
use kumo_protocol::{ServiceHealth, ServiceHealth::Running};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::S3Service;

/// Body limit of every request but an upload (S3's XML documents: a DeleteObjects of 1,000 keys
/// of 1 KiB each is the largest).
const DOCUMENT_LIMIT: usize = 2 * 1024 * 1024;

fn decode_error(_protocol: Protocol, error: &DecodeError) -> AwsError {
    AwsError::new("MalformedXML", 400, error.to_string())
}

/// S3's declaration.
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "s3",
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

/// The operations S3 implements (s3s answers `NotImplemented` for the others).
pub const OPERATIONS: &[&str] = &[
    "CreateBucket",
    "DeleteBucket",
    "HeadBucket",
    "ListBuckets",
    "GetBucketLocation",
    "PutObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "DeleteObjects",
    "CopyObject",
    "ListObjects",
    "ListObjectsV2",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "ListMultipartUploads",
    "PutObjectTagging",
    "GetObjectTagging",
    "DeleteObjectTagging",
    "PutBucketNotificationConfiguration",
    "GetBucketNotificationConfiguration",
];

/// s3s' view of the service.
struct Operations(Arc<S3Service>);

/// Each row hands the request to the service's method of the same name.
macro_rules! delegate {
    ($($method:ident: $input:ident => $output:ident;)*) => {
        #[async_trait::async_trait]
        impl s3s::S3 for Operations {
            $(
                async fn $method(&self, request: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.0.$method(request).await
                }
            )*
        }
    };
}

delegate! {
    create_bucket: CreateBucketInput => CreateBucketOutput;
    delete_bucket: DeleteBucketInput => DeleteBucketOutput;
    head_bucket: HeadBucketInput => HeadBucketOutput;
    list_buckets: ListBucketsInput => ListBucketsOutput;
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
    put_object: PutObjectInput => PutObjectOutput;
    get_object: GetObjectInput => GetObjectOutput;
    head_object: HeadObjectInput => HeadObjectOutput;
    delete_object: DeleteObjectInput => DeleteObjectOutput;
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
    copy_object: CopyObjectInput => CopyObjectOutput;
    list_objects: ListObjectsInput => ListObjectsOutput;
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
    upload_part: UploadPartInput => UploadPartOutput;
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
    list_parts: ListPartsInput => ListPartsOutput;
    list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput;
    put_object_tagging: PutObjectTaggingInput => PutObjectTaggingOutput;
    get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput;
    delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput;
    put_bucket_notification_configuration: PutBucketNotificationConfigurationInput => PutBucketNotificationConfigurationOutput;
    get_bucket_notification_configuration: GetBucketNotificationConfigurationInput => GetBucketNotificationConfigurationOutput;
}

/// S3 as the registry sees it: s3s' adapter over the service, reporting the store's health.
pub struct S3Api {
    service: Arc<S3Service>,
    codec: RestXmlService,
}

impl S3Api {
    /// The registered form of `service`.
    pub fn new(service: Arc<S3Service>) -> Self {
        let codec = RestXmlService::new(&DESCRIPTOR, OPERATIONS, Operations(Arc::clone(&service)));
        Self { service, codec }
    }
}

impl AwsService for S3Api {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        self.codec.descriptor()
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        self.codec.body_limit(operation)
    }

    fn streams_body(&self, operation: &str) -> bool {
        self.codec.streams_body(operation)
    }

    fn head_operation(&self, parts: &Parts) -> Option<&'static str> {
        self.codec.head_operation(parts)
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        self.codec.call(call)
    }

    fn call_http<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<http::Response<ResponseBody>, AwsError>> {
        self.codec.call_http(call)
    }

    fn too_large(&self, operation: Option<&str>, limit: usize, protocol: Protocol) -> AwsError {
        self.codec.too_large(operation, limit, protocol)
    }

    fn operation_names(&self) -> Vec<&'static str> {
        self.codec.operation_names()
    }

    fn health(&self) -> ServiceHealth {
        match self.service.health() {
            Ok(()) => Running,
            Err(why) => ServiceHealth::Unavailable(why),
        }
    }
}

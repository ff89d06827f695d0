//! Where a deployment package comes from: inline (`ZipFile`, base64 in the request) or an S3
//! object (`S3Bucket`, `S3Key`, `S3ObjectVersion`) that Lambda reads on the caller's behalf —
//! through Kumo's S3, which the binary bridges in as [`CodeObjects`]. A package read from S3 is
//! not held to the 50 MB limit of an inline one, only to the 250 MB of unzipped code, as on AWS.

use std::sync::Arc;

use kumo_core::{limits, AwsError, RequestContext};

use kumo_store::CodePackage;

use crate::types::AttachedLayer;
use crate::LambdaService;

/// Reads objects from S3 for Lambda (blocking: called from Lambda's blocking tasks).
pub trait CodeObjects: Send + Sync {
    /// The whole object as `context`'s caller may read it, at most `max_bytes`.
    fn read(
        &self,
        context: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, CodeObjectError>;
}

/// Why a package could not be read from S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeObjectError {
    /// S3 refused the read: its error code and message.
    S3 {
        /// S3's error code (`NoSuchKey`).
        code: String,
        /// S3's message.
        message: String,
    },
    /// The object is larger than Lambda takes.
    TooLarge,
}

/// A package's source as a request names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CodeSource<'a> {
    /// Base64 zip.
    ZipFile(&'a str),
    /// An S3 object.
    S3 { bucket: &'a str, key: &'a str, version: Option<&'a str> },
}

impl<'a> CodeSource<'a> {
    /// The source of `ZipFile` / `S3Bucket`+`S3Key`(+`S3ObjectVersion`) / `ImageUri`.
    pub(crate) fn of(
        zip_file: Option<&'a str>,
        s3_bucket: Option<&'a str>,
        s3_key: Option<&'a str>,
        s3_object_version: Option<&'a str>,
        image_uri: Option<&str>,
    ) -> Result<Self, AwsError> {
        if image_uri.is_some() {
            return Err(AwsError::invalid_parameter(
                "Kumo runs Zip packages only: container images are not supported.",
            ));
        }
        match (zip_file, s3_bucket, s3_key) {
            (Some(zip), _, _) => Ok(Self::ZipFile(zip)),
            (None, Some(bucket), Some(key)) => Ok(Self::S3 { bucket, key, version: s3_object_version }),
            _ => Err(AwsError::invalid_parameter("Please provide a source for function code.")),
        }
    }
}

impl LambdaService {
    /// Lets packages come from S3 (set once at start, by the binary that also runs S3).
    pub fn set_code_objects(&self, objects: Arc<dyn CodeObjects>) {
        let _ = self.code_objects.set(objects);
    }

    /// Stores the package `source` names, checking Lambda's limits (see [`Self::store_zip`]).
    pub(crate) fn store_code(
        &self,
        context: &RequestContext,
        source: CodeSource<'_>,
        operation: &str,
        layers: &[AttachedLayer],
    ) -> Result<CodePackage, AwsError> {
        match source {
            CodeSource::ZipFile(zip) => self.store_zip(zip, operation, layers),
            CodeSource::S3 { bucket, key, version } => {
                let objects = self.code_objects.get().ok_or_else(|| {
                    AwsError::invalid_parameter("This Kumo has no S3: upload the package as ZipFile.")
                })?;
                let bytes =
                    objects.read(context, bucket, key, version, limits::UNZIPPED_CODE_MAX_BYTES).map_err(|error| {
                        match error {
                            CodeObjectError::S3 { code, message } => AwsError::invalid_parameter(format!(
                                "Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
                            )),
                            CodeObjectError::TooLarge => AwsError::invalid_parameter(format!(
                                "Unzipped size must be smaller than {} bytes",
                                limits::UNZIPPED_CODE_MAX_BYTES
                            )),
                        }
                    })?;
                self.store_package(&bytes, layers)
            }
        }
    }
}

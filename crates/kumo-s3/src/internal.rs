//! What other Kumo services read from S3 on a caller's behalf (Lambda's function code and layers
//! from `S3Bucket`/`S3Key`): an object's whole content, or S3's error code and message, which
//! AWS services quote in their own errors ("Error occurred while GetObject. S3 Error Code: …").

use kumo_core::RequestContext;
use s3s::S3Error;
use tokio::io::AsyncReadExt as _;

use crate::S3Service;

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// S3 refused: its error code (`NoSuchKey`) and message ("The specified key does not exist.").
    S3 {
        /// S3's error code.
        code: String,
        /// S3's message.
        message: String,
    },
    /// The object holds more than the reader takes.
    TooLarge,
}

impl From<S3Error> for ReadError {
    fn from(error: S3Error) -> Self {
        Self::S3 { code: error.code().as_str().to_string(), message: error.message().unwrap_or_default().to_string() }
    }
}

/// What [`S3Service::read_object`] reads.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The key.
    pub key: &'a str,
    /// `S3ObjectVersion`: Kumo keeps one version of each object, whose id is `null`.
    pub version: Option<&'a str>,
}

impl S3Service {
    /// The whole content of an object, as `context`'s caller may read it (`s3:GetObject`) from
    /// a bucket in `context`'s region (another region's bucket answers S3's `PermanentRedirect`),
    /// at most `max_bytes`.
    pub async fn read_object(
        &self,
        context: &RequestContext,
        object: ObjectRef<'_>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ReadError> {
        let bucket = self.bucket_for(context, object.bucket, "s3:GetObject", Some(object.key)).await?;
        if bucket.region != context.region {
            return Err(ReadError::S3 {
                code: "PermanentRedirect".to_string(),
                message: format!(
                    "The bucket is in this region: {}. Please use this region to retry the request",
                    bucket.region
                ),
            });
        }
        let (_, row, file) =
            self.open_object(context, object.bucket, object.key, object.version, "s3:GetObject").await?;
        if row.size > max_bytes {
            return Err(ReadError::TooLarge);
        }
        let mut content = Vec::with_capacity(usize::try_from(row.size).unwrap_or(0));
        file.take(row.size).read_to_end(&mut content).await.map_err(|error| crate::errors::internal(&error))?;
        Ok(content)
    }
}

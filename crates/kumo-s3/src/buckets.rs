//! Buckets: CreateBucket (names global in the partition, the LocationConstraint rules of S3's
//! regional endpoints), DeleteBucket, HeadBucket, ListBuckets, GetBucketLocation.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use crate::store::{BucketRow, CreateBucket, DeleteBucket};
use crate::{now_ms, timestamp, S3Service};

/// Buckets an account may have (S3's default quota).
const MAX_BUCKETS: usize = 10_000;

/// The region whose endpoint takes CreateBucket without a LocationConstraint.
const DEFAULT_REGION: &str = "us-east-1";

/// Whether `name` follows S3's naming rules for general purpose buckets.
pub fn valid_bucket_name(name: &str) -> bool {
    s3s::path::check_bucket_name(name)
        && !name.starts_with("sthree-")
        && !name.starts_with("amzn-s3-demo-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
        && !name.ends_with(".mrap")
        && !name.ends_with("--x-s3")
        && !name.ends_with("--table-s3")
}

/// Whether `name` has the shape of an AWS region (`eu-west-1`, `us-gov-east-1`).
fn is_region(name: &str) -> bool {
    let labels: Vec<&str> = name.split('-').collect();
    labels.len() >= 3
        && labels[0].len() == 2
        && labels
            .iter()
            .take(labels.len() - 1)
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_lowercase()))
        && labels.last().is_some_and(|last| !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

/// The region a CreateBucket sent to `endpoint_region` with `constraint` creates its bucket in.
fn bucket_region(endpoint_region: &str, constraint: Option<&str>) -> S3Result<String> {
    let invalid = || s3_error!(InvalidLocationConstraint, "The specified location-constraint is not valid");
    match constraint {
        None | Some("") if endpoint_region == DEFAULT_REGION => Ok(DEFAULT_REGION.to_string()),
        None | Some("") => Err(s3_error!(
            IllegalLocationConstraintException,
            "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to."
        )),
        // us-east-1 is the region without a constraint: naming it is refused.
        Some(DEFAULT_REGION) => Err(invalid()),
        Some("EU") => Ok("eu-west-1".to_string()),
        Some(region) if !is_region(region) => Err(invalid()),
        Some(region) if endpoint_region == DEFAULT_REGION || region == endpoint_region => Ok(region.to_string()),
        Some(region) => Err(s3_error!(
            IllegalLocationConstraintException,
            "The {} location constraint is incompatible for the region specific endpoint this request was sent to.",
            region
        )),
    }
}

impl S3Service {
    pub(crate) async fn create_bucket(
        &self,
        request: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        let name = request.input.bucket;
        if !valid_bucket_name(&name) {
            return Err(s3_error!(InvalidBucketName, "The specified bucket is not valid."));
        }
        let constraint = request
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|configuration| configuration.location_constraint.as_ref())
            .map(|constraint| constraint.as_str().to_string());
        let region = bucket_region(&context.region, constraint.as_deref())?;
        self.authorize(&context, "s3:CreateBucket", &format!("arn:aws:s3:::{name}"))?;
        let row = BucketRow {
            id: 0,
            name: name.clone(),
            account: context.account.clone(),
            region: region.clone(),
            created_ms: now_ms(),
            notification: None,
        };
        let account = context.account.clone();
        let created = self
            .blocking(move |store| {
                if store.buckets_of(&account)?.len() >= MAX_BUCKETS && store.bucket(&row.name)?.is_none() {
                    return Ok(None);
                }
                store.create_bucket(&row).map(Some)
            })
            .await?;
        match created {
            None => Err(s3_error!(TooManyBuckets, "You have attempted to create more buckets than allowed")),
            Some(CreateBucket::Created) => {
                tracing::info!(bucket = %name, %region, account = %context.account, "bucket created");
                Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{name}")) }))
            }
            // us-east-1 answers success again to the owner (S3's legacy behaviour there).
            Some(CreateBucket::Exists(existing))
                if existing.account == context.account
                    && existing.region == DEFAULT_REGION
                    && region == DEFAULT_REGION =>
            {
                Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{name}")) }))
            }
            Some(CreateBucket::Exists(existing)) if existing.account == context.account => Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            )),
            Some(CreateBucket::Exists(_)) => Err(s3_error!(
                BucketAlreadyExists,
                "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
            )),
        }
    }

    pub(crate) async fn delete_bucket(
        &self,
        request: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let bucket = self.bucket_for(context, &request.input.bucket, "s3:DeleteBucket", None).await?;
        match self.blocking(move |store| store.delete_bucket(bucket.id)).await? {
            DeleteBucket::NotEmpty => Err(s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty")),
            DeleteBucket::Deleted(blobs) => {
                self.files.remove(blobs);
                Ok(S3Response::new(DeleteBucketOutput::default()))
            }
        }
    }

    pub(crate) async fn head_bucket(
        &self,
        request: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let bucket = self.bucket_for(context, &request.input.bucket, "s3:ListBucket", None).await?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(bucket.region), ..Default::default() }))
    }

    pub(crate) async fn list_buckets(
        &self,
        request: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?.clone();
        self.authorize(&context, "s3:ListAllMyBuckets", "*")?;
        let account = context.account.clone();
        let rows = self.blocking(move |store| store.buckets_of(&account)).await?;
        let prefix = request.input.prefix.unwrap_or_default();
        let region = request.input.bucket_region;
        let buckets: Vec<Bucket> = rows
            .into_iter()
            .filter(|row| row.name.starts_with(&prefix) && region.as_ref().is_none_or(|region| *region == row.region))
            .map(|row| Bucket {
                name: Some(row.name),
                creation_date: Some(timestamp(row.created_ms)),
                bucket_region: Some(row.region),
            })
            .collect();
        let owner = Owner { id: Some(context.account.clone()), display_name: Some(context.account.clone()) };
        Ok(S3Response::new(ListBucketsOutput { buckets: Some(buckets), owner: Some(owner), ..Default::default() }))
    }

    pub(crate) async fn get_bucket_location(
        &self,
        request: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let context = kumo_protocol::rest_xml::context(&request)?;
        let bucket = self.bucket_for(context, &request.input.bucket, "s3:GetBucketLocation", None).await?;
        // us-east-1 is reported as no constraint at all.
        let constraint = (bucket.region != DEFAULT_REGION).then(|| BucketLocationConstraint::from(bucket.region));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint: constraint }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3s_rules() {
        assert!(valid_bucket_name("my-bucket.1"));
        for bad in
            ["ab", "My-bucket", "a..b", "-ab", "192.168.1.1", "xn--ab", "sthree-x", "ab-s3alias", &"a".repeat(64)]
        {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn location_constraints_follow_the_endpoint() {
        assert_eq!(bucket_region("us-east-1", None).unwrap(), "us-east-1");
        assert_eq!(bucket_region("us-east-1", Some("eu-west-1")).unwrap(), "eu-west-1");
        assert_eq!(bucket_region("eu-west-1", Some("eu-west-1")).unwrap(), "eu-west-1");
        let code = |result: S3Result<String>| result.unwrap_err().code().as_str().to_string();
        assert_eq!(code(bucket_region("eu-west-1", None)), "IllegalLocationConstraintException");
        assert_eq!(code(bucket_region("eu-west-1", Some("us-west-2"))), "IllegalLocationConstraintException");
        assert_eq!(code(bucket_region("us-east-1", Some("us-east-1"))), "InvalidLocationConstraint");
        assert_eq!(code(bucket_region("us-east-1", Some("mars"))), "InvalidLocationConstraint");
    }
}

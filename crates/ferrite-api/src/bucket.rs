//! Bucket operations.

use ferrite_model::{NewBucket, VersioningState};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::convert::{decode_token, encode_token, invalid_argument, ts};
use crate::{FerriteS3, to_s3};

const MAX_BUCKETS_PAGE: usize = 10_000;

impl FerriteS3 {
    pub(crate) async fn do_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let location = input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_string());
        let ownership = match &input.object_ownership {
            Some(o) => Some(crate::acl::ownership_of(o.as_str())?),
            None => self.default_ownership,
        };
        let new = NewBucket {
            location,
            acl: crate::acl::acl_spec(crate::acl::acl_headers!(input, bucket))?,
            ownership,
            encryption: self.default_encryption.clone(),
            object_lock: input.object_lock_enabled_for_bucket.unwrap_or(false),
        };
        self.model
            .create_bucket(&caller, &input.bucket, new)
            .await
            .map_err(to_s3)?;
        let output = CreateBucketOutput {
            location: Some(format!("/{}", input.bucket)),
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let caller = self.caller(&req);
        let info = self
            .model
            .head_bucket(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        let output = HeadBucketOutput {
            bucket_region: Some(info.region),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let max = match input.max_buckets {
            None => MAX_BUCKETS_PAGE,
            Some(n) if (1..=MAX_BUCKETS_PAGE as i32).contains(&n) => n as usize,
            Some(_) => return Err(invalid_argument("max-buckets must be between 1 and 10000")),
        };
        let start_after = decode_token(input.continuation_token.as_deref())?;
        let (buckets, more) = self
            .model
            .list_buckets(&caller, input.prefix.as_deref(), start_after.as_deref(), max)
            .await
            .map_err(to_s3)?;
        let next = if more {
            buckets.last().map(|b| encode_token(&b.name))
        } else {
            None
        };
        let buckets = buckets
            .into_iter()
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(ts(b.created_ms)),
                bucket_region: Some(b.region),
            })
            .collect();
        let output = ListBucketsOutput {
            buckets: Some(buckets),
            owner: caller.canonical_id().map(|id| self.owner_of(id)),
            continuation_token: next,
            prefix: input.prefix,
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let caller = self.caller(&req);
        self.model
            .delete_bucket(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    pub(crate) async fn do_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let caller = self.caller(&req);
        let region = self
            .model
            .bucket_location(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        // As on AWS, buckets in us-east-1 report an empty location constraint.
        let location_constraint = (region != "us-east-1").then(|| BucketLocationConstraint::from(region));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }

    pub(crate) async fn do_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let caller = self.caller(&req);
        // A bucket that was never versioned has the empty configuration, as on AWS.
        let status = match self
            .model
            .bucket_versioning(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?
        {
            VersioningState::Unversioned => None,
            VersioningState::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
            VersioningState::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
        };
        Ok(S3Response::new(GetBucketVersioningOutput {
            status,
            mfa_delete: None,
        }))
    }

    pub(crate) async fn do_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let config = input.versioning_configuration;
        let mfa_enabled = config
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == MFADelete::ENABLED);
        if input.mfa.is_some() || mfa_enabled {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "MFA delete is not supported by this server.",
            ));
        }
        if let Some(m) = &config.mfa_delete
            && m.as_str() != MFADelete::DISABLED
        {
            return Err(malformed_versioning());
        }
        let state = match config.status.as_ref().map(|s| s.as_str()) {
            Some(BucketVersioningStatus::ENABLED) => VersioningState::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => VersioningState::Suspended,
            _ => return Err(malformed_versioning()),
        };
        self.model
            .set_bucket_versioning(&caller, &input.bucket, state)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }
}

/// AWS's answer to a versioning configuration without a valid Status.
fn malformed_versioning() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::IllegalVersioningConfigurationException,
        "The versioning configuration specified in the request is invalid.",
    )
}

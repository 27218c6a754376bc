//! Bucket policies, policy status and public access blocks: parse, one model call, map.

use ferrite_model::PublicAccessBlock;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::{FerriteS3, to_s3};

fn to_dto(b: PublicAccessBlock) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration {
        block_public_acls: Some(b.block_public_acls),
        block_public_policy: Some(b.block_public_policy),
        ignore_public_acls: Some(b.ignore_public_acls),
        restrict_public_buckets: Some(b.restrict_public_buckets),
    }
}

/// A setting the document leaves out is off, as on AWS.
fn from_dto(c: &PublicAccessBlockConfiguration) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    }
}

impl FerriteS3 {
    pub(crate) async fn do_put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        // `x-amz-confirm-remove-self-bucket-access` is accepted: the bucket owner and
        // root keep their rights on the policy whatever it says, so no policy can lock
        // them out and there is nothing to confirm.
        self.model
            .put_bucket_policy(&caller, &input.bucket, input.policy)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketPolicyOutput::default()))
    }

    pub(crate) async fn do_get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let caller = self.caller(&req);
        let policy = self
            .model
            .bucket_policy(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
    }

    pub(crate) async fn do_delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let caller = self.caller(&req);
        self.model
            .delete_bucket_policy(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
    }

    pub(crate) async fn do_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let caller = self.caller(&req);
        let public = self
            .model
            .bucket_policy_status(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus {
                is_public: Some(public),
            }),
        }))
    }

    pub(crate) async fn do_get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let caller = self.caller(&req);
        let block = self
            .model
            .public_access_block(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(to_dto(block)),
        }))
    }

    pub(crate) async fn do_put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let caller = self.caller(&req);
        let block = from_dto(&req.input.public_access_block_configuration);
        self.model
            .set_public_access_block(&caller, &req.input.bucket, Some(block))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
    }

    pub(crate) async fn do_delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        let caller = self.caller(&req);
        self.model
            .set_public_access_block(&caller, &req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeletePublicAccessBlockOutput::default()))
    }
}

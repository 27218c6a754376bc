//! Default bucket encryption: Put/Get/DeleteBucketEncryption.

use ferrite_model::{BucketEncryption, EncryptionAlgorithm};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::{FerriteS3, to_s3};

fn malformed(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedXML, msg.to_string())
}

/// The model's default encryption for a configuration: exactly one rule with a
/// default (AWS refuses more, and a rule without one).
fn parse(config: ServerSideEncryptionConfiguration) -> S3Result<BucketEncryption> {
    let mut rules = config.rules.into_iter();
    let (Some(rule), None) = (rules.next(), rules.next()) else {
        return Err(malformed("The configuration must have exactly one Rule."));
    };
    let Some(default) = rule.apply_server_side_encryption_by_default else {
        return Err(malformed("The Rule must have an ApplyServerSideEncryptionByDefault."));
    };
    let algorithm = match default.sse_algorithm.as_str() {
        ServerSideEncryption::AES256 => EncryptionAlgorithm::SseS3,
        ServerSideEncryption::AWS_KMS => EncryptionAlgorithm::SseKms,
        ServerSideEncryption::AWS_KMS_DSSE => EncryptionAlgorithm::SseKmsDsse,
        _ => {
            return Err(malformed(
                "The SSEAlgorithm is not one S3 has (AES256, aws:kms, aws:kms:dsse).",
            ));
        }
    };
    Ok(BucketEncryption {
        algorithm,
        kms_key_id: default.kms_master_key_id,
        bucket_key: rule.bucket_key_enabled.unwrap_or(false),
    })
}

fn to_dto(e: BucketEncryption) -> ServerSideEncryptionConfiguration {
    let algorithm = crate::object::sse_header(Some(e.algorithm))
        .unwrap_or_else(|| ServerSideEncryption::from_static(ServerSideEncryption::AES256));
    ServerSideEncryptionConfiguration {
        rules: vec![ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                sse_algorithm: algorithm,
                kms_master_key_id: e.kms_key_id,
            }),
            bucket_key_enabled: Some(e.bucket_key),
        }],
    }
}

impl FerriteS3 {
    pub(crate) async fn do_put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let config = parse(input.server_side_encryption_configuration)?;
        self.model
            .set_bucket_encryption(&caller, &input.bucket, Some(config))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    pub(crate) async fn do_get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let caller = self.caller(&req);
        let config = self
            .model
            .bucket_encryption(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(to_dto(config)),
        }))
    }

    pub(crate) async fn do_delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        let caller = self.caller(&req);
        self.model
            .set_bucket_encryption(&caller, &req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(algorithm: &str, key: Option<&str>) -> ServerSideEncryptionRule {
        ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                sse_algorithm: ServerSideEncryption::from(algorithm.to_string()),
                kms_master_key_id: key.map(String::from),
            }),
            bucket_key_enabled: None,
        }
    }

    #[test]
    fn configurations_parse_as_aws_allows() {
        let one = |r| ServerSideEncryptionConfiguration { rules: vec![r] };
        let c = parse(one(rule("AES256", None))).unwrap();
        assert_eq!(
            (c.algorithm, c.kms_key_id.as_deref(), c.bucket_key),
            (EncryptionAlgorithm::SseS3, None, false)
        );
        assert_eq!(
            parse(one(rule("aws:kms", Some("k")))).unwrap().algorithm,
            EncryptionAlgorithm::SseKms
        );
        for bad in [
            ServerSideEncryptionConfiguration { rules: vec![] },
            ServerSideEncryptionConfiguration {
                rules: vec![rule("AES256", None), rule("AES256", None)],
            },
            one(ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: None,
                bucket_key_enabled: Some(true),
            }),
            one(rule("ROT13", None)),
        ] {
            assert_eq!(parse(bad).unwrap_err().code(), &S3ErrorCode::MalformedXML);
        }
        let round = to_dto(c);
        assert_eq!(
            round.rules[0]
                .apply_server_side_encryption_by_default
                .as_ref()
                .unwrap()
                .sse_algorithm
                .as_str(),
            "AES256"
        );
    }
}

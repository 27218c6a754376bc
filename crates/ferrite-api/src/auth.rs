//! Credential lookup for s3s's SigV4 verification.

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result};

/// The root credentials. An unknown access key is `InvalidAccessKeyId`, as on AWS.
pub struct RootAuth {
    access_key: String,
    secret_key: SecretKey,
}

impl RootAuth {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: SecretKey::from(secret_key.into()),
        }
    }

    /// The secret key of `access_key`, if it is known.
    pub fn secret_for(&self, access_key: &str) -> Option<SecretKey> {
        (access_key == self.access_key).then(|| SecretKey::from(self.secret_key.expose()))
    }
}

#[async_trait::async_trait]
impl S3Auth for RootAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.access_key {
            Ok(SecretKey::from(self.secret_key.expose()))
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            ))
        }
    }
}

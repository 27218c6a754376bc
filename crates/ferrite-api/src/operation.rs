//! Names each request's S3 operation for the server's metrics. s3s resolves the
//! operation (GetObject, PutObject, ...) after authentication and before the access
//! check; [`RecordOperation`] is that access check: it writes the name into the
//! [`OperationName`] slot the server put in the request's extensions. It decides
//! nothing else: unsigned requests go on as the anonymous principal, and the model's
//! authorizer decides every operation for every caller.

use std::sync::{Arc, OnceLock};

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};

/// Filled with the operation's name once s3s has resolved it; empty for requests
/// that fail before (a bad signature, an unknown route).
#[derive(Clone, Default, Debug)]
pub struct OperationName(Arc<OnceLock<String>>);

impl OperationName {
    /// The name of an operation the server answers itself (POST uploads).
    pub fn named(name: &str) -> Self {
        let slot = Self::default();
        let _ = slot.0.set(name.to_string());
        slot
    }

    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The access check: records the operation; authorization happens in the model.
#[derive(Debug, Default)]
pub struct RecordOperation;

#[async_trait::async_trait]
impl S3Access for RecordOperation {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let name = cx.s3_op().name().to_string();
        if let Some(slot) = cx.extensions_mut().get::<OperationName>() {
            let _ = slot.0.set(name);
        }
        Ok(())
    }
}

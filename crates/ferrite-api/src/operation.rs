//! Names each request's S3 operation for the server's metrics. s3s resolves the
//! operation (GetObject, PutObject, ...) after authentication and before the access
//! check; [`RecordOperation`] is that access check: it writes the name into the
//! [`OperationName`] slot the server put in the request's extensions, then applies
//! s3s's default rule (anonymous requests are refused).

use std::sync::{Arc, OnceLock};

use s3s::access::{S3Access, S3AccessContext};
use s3s::{S3Result, s3_error};

/// Filled with the operation's name once s3s has resolved it; empty for requests
/// that fail before (a bad signature, an unknown route).
#[derive(Clone, Default, Debug)]
pub struct OperationName(Arc<OnceLock<String>>);

impl OperationName {
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The access check: records the operation, then refuses anonymous requests.
#[derive(Debug, Default)]
pub struct RecordOperation;

#[async_trait::async_trait]
impl S3Access for RecordOperation {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let name = cx.s3_op().name().to_string();
        if let Some(slot) = cx.extensions_mut().get::<OperationName>() {
            let _ = slot.0.set(name);
        }
        // A request sent through the service again after s3s verified its signature
        // (see `range_compat`) carries the verified key as a mark instead.
        let reauthenticated = cx.extensions_mut().get::<crate::Authenticated>().is_some();
        match cx.credentials() {
            Some(_) => Ok(()),
            None if reauthenticated => Ok(()),
            None => Err(s3_error!(AccessDenied, "Signature is required")),
        }
    }
}

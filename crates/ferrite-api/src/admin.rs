//! The admin endpoint: `GET /admin/v1/buckets`, every bucket with its owner and usage,
//! as JSON, for `ferrite admin bucket ls`; `POST /admin/v1/kms/rotate`, a master key
//! rotation (`ferrite admin kms rotate`), and `GET /admin/v1/kms/master-key`, its
//! versions. The server routes a request here only when
//! it is SigV4-signed with the credential scope service `admin` (so no S3 request, to a
//! bucket named `admin` or any other, is ever taken for it); it is verified like an
//! IAM request ([`FerriteAuth::authenticate`]) and answered to root only.

use ferrite_model::{Ferrite, Principal};
use http::StatusCode;
use serde::Serialize;

use crate::auth::{AuthFailure, FerriteAuth};
use crate::iam::sigv4::SigV4Error;

/// The admin endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    model: Ferrite,
    auth: FerriteAuth,
}

/// One row of `GET /admin/v1/buckets`.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct BucketRow {
    pub name: String,
    /// The owner's canonical id.
    pub owner_id: String,
    /// The owner's name: root's display name or the user's name.
    pub owner: String,
    pub created_ms: i64,
    /// Current objects and their bytes (what a listing shows).
    pub objects: u64,
    pub bytes: u64,
    /// Every stored version and their bytes (what the bucket's data takes).
    pub versions: u64,
    pub version_bytes: u64,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl Admin {
    pub fn new(model: Ferrite, auth: FerriteAuth) -> Self {
        Self { model, auth }
    }

    pub async fn handle(&self, parts: &http::request::Parts, body: &[u8]) -> http::Response<String> {
        match self.run(parts, body).await {
            Ok(json) => respond(StatusCode::OK, json),
            Err((status, code, message)) => {
                let body = serde_json::to_string(&ErrorBody { error: code, message }).unwrap_or_default();
                respond(status, body)
            }
        }
    }

    async fn run(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<String, (StatusCode, &'static str, &'static str)> {
        let (caller, _) = self
            .auth
            .authenticate(parts, body, time::OffsetDateTime::now_utc())
            .map_err(|e| match e {
                AuthFailure::Signature(SigV4Error::Mismatch) => (
                    StatusCode::FORBIDDEN,
                    "SignatureDoesNotMatch",
                    "the request signature does not match",
                ),
                AuthFailure::Signature(SigV4Error::Skewed) => (
                    StatusCode::FORBIDDEN,
                    "RequestTimeTooSkewed",
                    "the request time is too far from the server's",
                ),
                AuthFailure::Signature(SigV4Error::Missing | SigV4Error::Malformed(_)) => (
                    StatusCode::BAD_REQUEST,
                    "IncompleteSignature",
                    "the request is not properly signed",
                ),
                AuthFailure::UnknownKey => (StatusCode::FORBIDDEN, "InvalidAccessKeyId", "unknown access key"),
                AuthFailure::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error"),
            })?;
        if !matches!(caller.principal, Principal::Root { .. }) {
            return Err((StatusCode::FORBIDDEN, "AccessDenied", "only root may use the admin API"));
        }
        match (parts.method.as_str(), parts.uri.path()) {
            ("GET", "/admin/v1/buckets") => self.buckets(&caller).await,
            (_, "/admin/v1/buckets") => Err((StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "use GET")),
            ("POST", "/admin/v1/kms/rotate") => {
                let rotation = self.model.rotate_master_key(&caller).await.map_err(key_error)?;
                to_json(&rotation)
            }
            (_, "/admin/v1/kms/rotate") => Err((StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "use POST")),
            ("GET", "/admin/v1/kms/master-key") => to_json(&self.model.master_key_status(&caller).map_err(key_error)?),
            (_, "/admin/v1/kms/master-key") => Err((StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "use GET")),
            _ => Err((StatusCode::NOT_FOUND, "NotFound", "no such admin resource")),
        }
    }

    async fn buckets(
        &self,
        caller: &ferrite_model::Caller,
    ) -> Result<String, (StatusCode, &'static str, &'static str)> {
        let internal = |e: ferrite_model::ModelError| {
            tracing::error!(error = %e, "admin: cannot list buckets");
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error")
        };
        let buckets = self.model.list_all_buckets(caller).await.map_err(internal)?;
        let usage: std::collections::HashMap<String, ferrite_model::BucketUsage> =
            self.model.bucket_usage().await.map_err(internal)?.into_iter().collect();
        let root = self.auth.root();
        let mut rows = Vec::with_capacity(buckets.len());
        for b in buckets {
            let owner = if b.owner == root.canonical_id {
                root.display_name.clone()
            } else {
                self.model
                    .display_name_of(&b.owner)
                    .map_err(internal)?
                    .unwrap_or_else(|| b.owner.clone())
            };
            // A bucket deleted between the two reads has no usage row: zeros.
            let u = usage.get(&b.name).copied().unwrap_or_default();
            rows.push(BucketRow {
                name: b.name,
                owner_id: b.owner,
                owner,
                created_ms: b.created_ms,
                objects: u.objects,
                bytes: u.object_bytes,
                versions: u.versions,
                version_bytes: u.version_bytes,
            });
        }
        serde_json::to_string(&serde_json::json!({ "buckets": rows }))
            .map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error"))
    }
}

type Failure = (StatusCode, &'static str, &'static str);

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error"))
}

/// A master key operation's failure. The details go to the log, not to the client:
/// they can name key files.
fn key_error(e: ferrite_model::ModelError) -> Failure {
    use ferrite_model::ModelError as E;
    tracing::error!(error = %e, "admin: master key operation failed");
    match e {
        E::AccessDenied => (StatusCode::FORBIDDEN, "AccessDenied", "only root may use the admin API"),
        E::InvalidRequest(_) | E::NotImplemented(_) => (
            StatusCode::CONFLICT,
            "CannotRotate",
            "the master key cannot rotate now: it was given by FERRITE_KMS_MASTER_KEY, or a rotation is under way (the server log says which)",
        ),
        E::KeyUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "KeyUnavailable",
            "the master key is unavailable or its file cannot be written (the server log says why)",
        ),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error"),
    }
}

fn respond(status: StatusCode, body: String) -> http::Response<String> {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

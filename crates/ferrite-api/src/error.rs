//! Model errors to S3 errors: one exhaustive `match`, so a new model error cannot
//! silently become a 500.

use ferrite_model::ModelError;
use s3s::{S3Error, S3ErrorCode};

pub fn to_s3(e: ModelError) -> S3Error {
    use S3ErrorCode as C;
    let msg = e.to_string();
    let code = match e {
        ModelError::InvalidBucketName(_) => C::InvalidBucketName,
        ModelError::BucketAlreadyOwnedByYou => C::BucketAlreadyOwnedByYou,
        ModelError::BucketAlreadyExists => C::BucketAlreadyExists,
        ModelError::NoSuchBucket => C::NoSuchBucket,
        ModelError::AccessDenied => C::AccessDenied,
        ModelError::BucketNotEmpty => C::BucketNotEmpty,
        ModelError::MalformedPolicy(_) | ModelError::MalformedPolicyDocument(_) => C::MalformedPolicy,
        ModelError::PolicyTooLarge { .. } => {
            let mut e = S3Error::with_message(C::Custom("PolicyTooLarge".into()), msg);
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return e;
        }
        ModelError::NoSuchBucketPolicy => {
            let mut e = S3Error::with_message(C::NoSuchBucketPolicy, msg);
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::NoSuchPublicAccessBlockConfiguration => {
            let mut e = S3Error::with_message(C::Custom("NoSuchPublicAccessBlockConfiguration".into()), msg);
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::NoSuchCorsConfiguration => C::NoSuchCORSConfiguration,
        ModelError::InvalidTag(_) => C::InvalidTag,
        ModelError::InvalidBucketState(_) => {
            let mut e = S3Error::with_message(C::InvalidBucketState, msg);
            e.set_status_code(http::StatusCode::CONFLICT);
            return e;
        }
        ModelError::ObjectLockConfigurationNotFound => {
            let mut e = S3Error::with_message(C::ObjectLockConfigurationNotFoundError, msg);
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::NoSuchObjectLockConfiguration => {
            let mut e = S3Error::with_message(C::NoSuchObjectLockConfiguration, msg);
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::InvalidRetentionPeriod => {
            let mut e = S3Error::with_message(C::Custom("InvalidRetentionPeriod".into()), msg);
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return e;
        }
        ModelError::NoSuchLifecycleConfiguration => {
            let mut e = S3Error::with_message(C::NoSuchLifecycleConfiguration, msg);
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::InvalidStorageClass => C::InvalidStorageClass,
        ModelError::InvalidObjectState(_) => {
            let mut e = S3Error::with_message(C::InvalidObjectState, msg);
            e.set_status_code(http::StatusCode::FORBIDDEN);
            return e;
        }
        ModelError::RestoreAlreadyInProgress => {
            let mut e = S3Error::with_message(C::RestoreAlreadyInProgress, msg);
            e.set_status_code(http::StatusCode::CONFLICT);
            return e;
        }
        ModelError::NoSuchTagSet => {
            let mut e = S3Error::with_message(C::NoSuchTagSet, msg);
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::InvalidCors(_) => C::InvalidRequest,
        ModelError::MalformedAcl(_) => {
            return S3Error::with_message(
                C::MalformedACLError,
                "The XML you provided was not well-formed or did not validate against our published schema.",
            );
        }
        ModelError::AccessControlListNotSupported => {
            return S3Error::with_message(C::AccessControlListNotSupported, "The bucket does not allow ACLs");
        }
        ModelError::InvalidBucketAclWithObjectOwnership => C::InvalidBucketAclWithObjectOwnership,
        ModelError::OwnershipControlsNotFound => {
            let mut e = S3Error::with_message(
                C::OwnershipControlsNotFoundError,
                "The bucket ownership controls were not found",
            );
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::InvalidLocationConstraint(_) => C::InvalidLocationConstraint,
        ModelError::NoSuchKey => C::NoSuchKey,
        ModelError::DeletedKey { version_id } => {
            let mut e = S3Error::with_message(C::NoSuchKey, "The specified key does not exist.");
            e.set_headers(delete_marker_headers(&version_id, None));
            return e;
        }
        ModelError::DeleteMarkerVersion {
            version_id,
            last_modified_ms,
        } => {
            let mut e = S3Error::with_message(
                C::MethodNotAllowed,
                "The specified method is not allowed against this resource.",
            );
            e.set_status_code(http::StatusCode::METHOD_NOT_ALLOWED);
            e.set_headers(delete_marker_headers(&version_id, Some(last_modified_ms)));
            return e;
        }
        ModelError::CopySourceIsDeleteMarker => {
            return S3Error::with_message(
                C::InvalidRequest,
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            );
        }
        ModelError::NoSuchVersion => {
            return S3Error::with_message(C::NoSuchVersion, "The specified version does not exist.");
        }
        ModelError::InvalidVersionId => {
            return S3Error::with_message(C::InvalidArgument, "Invalid version id specified");
        }
        ModelError::NoSuchUpload => {
            return S3Error::with_message(
                C::NoSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been \
                 aborted or completed.",
            );
        }
        ModelError::InvalidPart(_) => {
            return S3Error::with_message(
                C::InvalidPart,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the \
                 specified entity tag may not match the part's entity tag.",
            );
        }
        ModelError::InvalidPartOrder => C::InvalidPartOrder,
        ModelError::EntityTooSmall => {
            return S3Error::with_message(
                C::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            );
        }
        ModelError::MalformedXml(_) => C::MalformedXML,
        ModelError::InvalidRequest(_) => C::InvalidRequest,
        ModelError::KeyTooLong => C::KeyTooLongError,
        ModelError::MetadataTooLarge => C::MetadataTooLarge,
        ModelError::EntityTooLarge => C::EntityTooLarge,
        ModelError::IncompleteBody => C::IncompleteBody,
        ModelError::BadDigest(_) => C::BadDigest,
        ModelError::InvalidDigest(_) => C::InvalidDigest,
        ModelError::PreconditionFailed => C::PreconditionFailed,
        ModelError::NotModified { etag, last_modified_ms } => {
            let mut e = S3Error::with_message(C::NotModified, "Not Modified");
            let mut headers = http::HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(&format!("\"{etag}\"")) {
                headers.insert(http::header::ETAG, v);
            }
            if let Ok(v) = http::HeaderValue::from_str(&crate::convert::http_date(last_modified_ms)) {
                headers.insert(http::header::LAST_MODIFIED, v);
            }
            e.set_headers(headers);
            return e;
        }
        ModelError::InvalidRange => C::InvalidRange,
        ModelError::CopyToSelfUnchanged => {
            return S3Error::with_message(
                C::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the \
                 object's metadata, storage class, website redirect location or encryption attributes.",
            );
        }
        ModelError::InvalidArgument(_) => C::InvalidArgument,
        ModelError::UnparseableKey => {
            return S3Error::with_message(C::InvalidURI, "Couldn't parse the specified URI.");
        }
        ModelError::RequestTimeout => {
            return S3Error::with_message(
                C::RequestTimeout,
                "Your socket connection to the server was not read from or written to within the timeout period.",
            );
        }
        ModelError::BodyStream(io) => return body_stream_error(&io),
        // IAM's errors: S3 operations do not raise them (users are managed through the
        // IAM endpoint, `crate::iam`, which maps them to IAM's own codes); should one
        // reach S3, it keeps its IAM code and status.
        ModelError::NoSuchEntity(_) => return iam_code("NoSuchEntity", http::StatusCode::NOT_FOUND, msg),
        ModelError::EntityAlreadyExists(_) => return iam_code("EntityAlreadyExists", http::StatusCode::CONFLICT, msg),
        ModelError::LimitExceeded(_) => return iam_code("LimitExceeded", http::StatusCode::CONFLICT, msg),
        ModelError::DeleteConflict(_) => return iam_code("DeleteConflict", http::StatusCode::CONFLICT, msg),
        ModelError::ValidationError(_) => C::InvalidArgument,
        ModelError::Store(_) if e.is_storage_full() => {
            tracing::error!(error = %msg, "out of space");
            return S3Error::with_message(
                C::ServiceUnavailable,
                "The server has no space left to store the data. Please try again later.",
            );
        }
        ModelError::Store(_) if e.is_conflict() => {
            // Contention a networked metadata store could not resolve in its retries.
            tracing::warn!(error = %msg, "write conflicts exhausted the retries");
            return S3Error::with_message(C::SlowDown, "Please reduce your request rate.");
        }
        ModelError::NotImplemented(_) => C::NotImplemented,
        ModelError::NoSuchEncryptionConfiguration => {
            // AWS answers it 404 (s3s's table says 400).
            let mut e = S3Error::with_message(C::ServerSideEncryptionConfigurationNotFoundError, msg);
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return e;
        }
        ModelError::WrongCustomerKey => C::AccessDenied,
        ModelError::Kms { exception, .. } => {
            // S3 answers a KMS failure as 400 `KMS.<Exception>`.
            let mut e = S3Error::with_message(C::Custom(format!("KMS.{}", exception.as_str()).into()), msg);
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return e;
        }
        ModelError::KeyUnavailable(_) => {
            // The operator's problem (a missing or wrong master key), said in the log;
            // the client learns only that the server cannot do it now.
            tracing::error!(error = %msg, "encryption key unavailable");
            return S3Error::with_message(
                C::InternalError,
                "The server cannot use the encryption key this request needs. Please try again later.",
            );
        }
        ModelError::Store(_) | ModelError::Corrupt(_) | ModelError::StoreMismatch(_) | ModelError::Internal(_) => {
            tracing::error!(error = %msg, "internal error");
            return S3Error::with_message(C::InternalError, "We encountered an internal error. Please try again.");
        }
    };
    S3Error::with_message(code, msg)
}

fn iam_code(code: &'static str, status: http::StatusCode, msg: String) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), msg);
    e.set_status_code(status);
    e
}

/// What a response about a delete marker carries. s3s sends an error's headers in
/// place of its own, so the XML content type is set here too.
fn delete_marker_headers(version_id: &str, last_modified_ms: Option<i64>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(v) = http::HeaderValue::from_str(version_id) {
        headers.insert("x-amz-version-id", v);
    }
    if let Some(ms) = last_modified_ms
        && let Ok(v) = http::HeaderValue::from_str(&crate::convert::http_date(ms))
    {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    headers
}

/// s3s reports aws-chunked signature and framing failures through the body stream. Its
/// error type lives in a private module, so it is recognised by its message (s3s is
/// pinned; `tests/signed_streaming.rs` catches a change).
fn body_stream_error(io: &std::io::Error) -> S3Error {
    use S3ErrorCode as C;
    if let Some(inner) = io.get_ref().and_then(|e| e.downcast_ref::<S3Error>()) {
        return S3Error::with_message(inner.code().clone(), inner.message().unwrap_or("").to_string());
    }
    let text = io.get_ref().map(ToString::to_string).unwrap_or_default();
    if let Some(kind) = text.strip_prefix("AwsChunkedStreamError: ") {
        if kind.starts_with("SignatureMismatch") {
            return S3Error::with_message(
                C::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided.",
            );
        }
        if !kind.starts_with("Incomplete") && !kind.starts_with("Underlying") {
            return S3Error::with_message(C::InvalidRequest, format!("Invalid aws-chunked body: {kind}"));
        }
    }
    tracing::debug!(error = %io, "request body ended early");
    S3Error::with_message(C::IncompleteBody, "The request body terminated unexpectedly")
}

//! The AWS KMS API subset, on the S3 endpoint: the built-in KMS's keys and aliases, for
//! `aws kms --endpoint-url` and the SDKs' KMS clients. The server recognises a KMS
//! request by its SigV4 credential scope service `kms` and hands it here with its body
//! (bounded by [`crate::iam::MAX_BODY`]), as it does IAM requests; the signature is
//! verified by the same [`FerriteAuth::authenticate`].
//!
//! Protocol: JSON 1.1, `POST /` with `X-Amz-Target: TrentService.<Operation>` and a
//! JSON object body; answers in JSON, errors as `{"__type": "<Exception>", "message"}`.
//! Root may call every operation; a user the ones its identity policies allow (the
//! model decides). Never a key's material here: the model does not hand it out.

use ferrite_model::{Caller, Ferrite, KmsAliasInfo, KmsKeyInfo, KmsKeyState, ModelError};
use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::auth::{AuthFailure, FerriteAuth};
use crate::iam::sigv4::SigV4Error;

/// The target prefix of every KMS operation.
const TARGET_PREFIX: &str = "TrentService.";
/// ListKeys/ListAliases' page size when Limit is not given, and its bound (AWS's).
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The KMS endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Kms {
    model: Ferrite,
    auth: FerriteAuth,
}

/// A KMS error: its `__type`, status, message.
#[derive(Debug)]
struct KmsError {
    kind: &'static str,
    status: StatusCode,
    message: String,
}

impl KmsError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    fn unsupported(message: impl Into<String>) -> Self {
        Self::new("UnsupportedOperationException", message)
    }
}

type KmsResult<T> = Result<T, KmsError>;

impl Kms {
    pub fn new(model: Ferrite, auth: FerriteAuth) -> Self {
        Self { model, auth }
    }

    /// Answers one KMS request: authenticates it, runs its operation, renders the reply.
    pub async fn handle(&self, parts: &http::request::Parts, body: &[u8]) -> http::Response<String> {
        let request_id = crate::iam::request_id();
        let (status, text) = match self.run(parts, body).await {
            Ok(v) => (StatusCode::OK, v.to_string()),
            Err(e) => (e.status, json!({"__type": e.kind, "message": e.message}).to_string()),
        };
        let mut resp = http::Response::new(text);
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        if let Ok(v) = http::HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-requestid", v);
        }
        resp
    }

    async fn run(&self, parts: &http::request::Parts, body: &[u8]) -> KmsResult<Value> {
        let (caller, _) = self
            .auth
            .authenticate(parts, body, time::OffsetDateTime::now_utc())
            .map_err(auth_error)?;
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(op) = target.strip_prefix(TARGET_PREFIX) else {
            return Err(KmsError::new(
                "UnknownOperationException",
                "The request has no KMS operation (X-Amz-Target: TrentService.<Operation>).",
            ));
        };
        let input = parse_body(body)?;
        let p = Input(&input);
        let caller = &caller;
        match op {
            "CreateKey" => self.create_key(caller, &p).await,
            "DescribeKey" => {
                let key = self
                    .model
                    .kms_describe_key(caller, p.key_id()?)
                    .await
                    .map_err(model_error)?;
                Ok(json!({ "KeyMetadata": key_metadata(&key) }))
            }
            "ListKeys" => self.list_keys(caller, &p).await,
            "EnableKey" => {
                self.model
                    .kms_enable_key(caller, p.key_id()?)
                    .await
                    .map_err(model_error)?;
                Ok(json!({}))
            }
            "DisableKey" => {
                self.model
                    .kms_disable_key(caller, p.key_id()?)
                    .await
                    .map_err(model_error)?;
                Ok(json!({}))
            }
            "ScheduleKeyDeletion" => self.schedule_deletion(caller, &p).await,
            "CancelKeyDeletion" => {
                let key = self
                    .model
                    .kms_cancel_key_deletion(caller, p.key_id()?)
                    .await
                    .map_err(model_error)?;
                Ok(json!({ "KeyId": key.arn }))
            }
            "CreateAlias" => {
                let (alias, target) = (p.required("AliasName")?, p.required("TargetKeyId")?);
                self.model
                    .kms_create_alias(caller, alias, target)
                    .await
                    .map_err(model_error)?;
                Ok(json!({}))
            }
            "ListAliases" => self.list_aliases(caller, &p).await,
            "DeleteAlias" => {
                self.model
                    .kms_delete_alias(caller, p.required("AliasName")?)
                    .await
                    .map_err(model_error)?;
                Ok(json!({}))
            }
            other => Err(KmsError::new(
                "UnsupportedOperationException",
                format!("The operation {other} is not supported by this endpoint (or not implemented by Ferrite)."),
            )),
        }
    }

    async fn create_key(&self, caller: &Caller, p: &Input<'_>) -> KmsResult<Value> {
        // What Ferrite cannot do is refused, not ignored.
        for (field, only) in [
            ("KeyUsage", "ENCRYPT_DECRYPT"),
            ("KeySpec", "SYMMETRIC_DEFAULT"),
            ("CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"),
            ("Origin", "AWS_KMS"),
        ] {
            if let Some(v) = p.string(field)?
                && v != only
            {
                return Err(KmsError::unsupported(format!(
                    "{field} {v} is not supported; only {only} is."
                )));
            }
        }
        if p.0.get("MultiRegion").and_then(Value::as_bool) == Some(true) {
            return Err(KmsError::unsupported("Multi-Region keys are not supported."));
        }
        for field in ["Policy", "Tags", "CustomKeyStoreId", "XksKeyId"] {
            if p.0.get(field).is_some_and(|v| !v.is_null()) {
                return Err(KmsError::unsupported(format!("{field} is not supported.")));
            }
        }
        let description = p.string("Description")?.unwrap_or("");
        let key = self
            .model
            .kms_create_key(caller, description, None)
            .await
            .map_err(model_error)?;
        Ok(json!({ "KeyMetadata": key_metadata(&key) }))
    }

    async fn list_keys(&self, caller: &Caller, p: &Input<'_>) -> KmsResult<Value> {
        let limit = p.limit()?;
        let keys = self.model.kms_list_keys(caller).await.map_err(model_error)?;
        let rows = keys
            .iter()
            .map(|k| (k.key_id.as_str(), json!({"KeyId": k.key_id, "KeyArn": k.arn})));
        Ok(page("Keys", rows, p.string("Marker")?, limit))
    }

    async fn list_aliases(&self, caller: &Caller, p: &Input<'_>) -> KmsResult<Value> {
        let limit = p.limit()?;
        let aliases = self
            .model
            .kms_list_aliases(caller, p.string("KeyId")?)
            .await
            .map_err(model_error)?;
        let rows = aliases.iter().map(|a| (a.name.as_str(), alias_entry(a)));
        Ok(page("Aliases", rows, p.string("Marker")?, limit))
    }

    async fn schedule_deletion(&self, caller: &Caller, p: &Input<'_>) -> KmsResult<Value> {
        let days = match p.0.get("PendingWindowInDays") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|d| u32::try_from(d).ok())
                    .ok_or_else(|| KmsError::validation("PendingWindowInDays must be a whole number of days."))?,
            ),
        };
        let key = self
            .model
            .kms_schedule_key_deletion(caller, p.key_id()?, days)
            .await
            .map_err(model_error)?;
        let deletion_ms = match key.state {
            KmsKeyState::PendingDeletion { deletion_ms } => deletion_ms,
            _ => return Err(internal()),
        };
        Ok(json!({
            "KeyId": key.arn,
            "DeletionDate": seconds(deletion_ms),
            "KeyState": key.state.as_str(),
            "PendingWindowInDays": days.unwrap_or(ferrite_model::kms::DEFAULT_PENDING_DAYS),
        }))
    }
}

/// The request body: a JSON object (an empty body reads as `{}`).
fn parse_body(body: &[u8]) -> KmsResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(KmsError::new(
            "SerializationException",
            "The request body is not a JSON object.",
        )),
        Err(_) => Err(KmsError::new(
            "SerializationException",
            "The request body is not valid JSON.",
        )),
    }
}

/// The request's fields.
struct Input<'a>(&'a Map<String, Value>);

impl Input<'_> {
    /// A string field, when present (another type: SerializationException, as AWS).
    fn string(&self, name: &str) -> KmsResult<Option<&str>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(KmsError::new(
                "SerializationException",
                format!("{name} must be a string."),
            )),
        }
    }

    fn required(&self, name: &str) -> KmsResult<&str> {
        self.string(name)?.ok_or_else(|| {
            KmsError::validation(format!(
                "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not \
                 be null"
            ))
        })
    }

    fn key_id(&self) -> KmsResult<&str> {
        self.required("KeyId")
    }

    fn limit(&self) -> KmsResult<usize> {
        match self.0.get("Limit") {
            None | Some(Value::Null) => Ok(DEFAULT_LIMIT),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| KmsError::validation(format!("Limit must be between 1 and {MAX_LIMIT}."))),
        }
    }
}

/// One page of a list: the rows after `marker` (a row's name), at most `limit`.
fn page<'a>(field: &str, rows: impl Iterator<Item = (&'a str, Value)>, marker: Option<&str>, limit: usize) -> Value {
    let mut out: Vec<(&str, Value)> = Vec::new();
    let mut next = None;
    for (name, row) in rows.filter(|(name, _)| marker.is_none_or(|m| *name > m)) {
        if out.len() == limit {
            next = out.last().map(|(n, _)| n.to_string());
            break;
        }
        out.push((name, row));
    }
    let mut v = Map::new();
    v.insert(field.into(), Value::Array(out.into_iter().map(|(_, r)| r).collect()));
    v.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        v.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(v)
}

/// Epoch seconds, as KMS's JSON dates are.
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// KMS's `KeyMetadata`.
fn key_metadata(k: &KmsKeyInfo) -> Value {
    let mut v = json!({
        "AWSAccountId": ferrite_model::ACCOUNT_ID,
        "KeyId": k.key_id,
        "Arn": k.arn,
        "CreationDate": seconds(k.created_ms),
        "Enabled": k.state == KmsKeyState::Enabled,
        "Description": k.description,
        "KeyUsage": k.usage.as_str(),
        "KeyState": k.state.as_str(),
        "Origin": "AWS_KMS",
        "KeyManager": k.manager.as_str(),
        "CustomerMasterKeySpec": k.spec.as_str(),
        "KeySpec": k.spec.as_str(),
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let (KmsKeyState::PendingDeletion { deletion_ms }, Some(m)) = (k.state, v.as_object_mut()) {
        m.insert("DeletionDate".into(), json!(seconds(deletion_ms)));
    }
    v
}

fn alias_entry(a: &KmsAliasInfo) -> Value {
    json!({
        "AliasName": a.name,
        "AliasArn": a.arn,
        "TargetKeyId": a.target_key_id,
        "CreationDate": seconds(a.created_ms),
    })
}

fn auth_error(e: AuthFailure) -> KmsError {
    match e {
        AuthFailure::Signature(SigV4Error::Missing) => {
            KmsError::new("MissingAuthenticationTokenException", "Missing Authentication Token")
        }
        AuthFailure::Signature(SigV4Error::Malformed(m)) => KmsError::new("IncompleteSignatureException", m),
        AuthFailure::Signature(SigV4Error::Skewed) => KmsError::new(
            "InvalidSignatureException",
            "Signature expired: the request time is more than 15 minutes from the server's time.",
        ),
        AuthFailure::Signature(SigV4Error::Mismatch) => KmsError::new(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        ),
        AuthFailure::UnknownKey => KmsError::new(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        AuthFailure::Internal => internal(),
    }
}

fn internal() -> KmsError {
    KmsError {
        kind: "KMSInternalException",
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "The request processing has failed because of an unknown error.".into(),
    }
}

/// Model errors to KMS errors: one exhaustive `match`. Errors no KMS operation gives
/// are answered as the server's failure, and logged.
fn model_error(e: ModelError) -> KmsError {
    let msg = e.to_string();
    match e {
        ModelError::Kms { exception, message } => KmsError::new(exception.as_str(), message),
        ModelError::AccessDenied => KmsError::new(
            "AccessDeniedException",
            "You are not authorized to perform this operation.",
        ),
        ModelError::Store(_) if e.is_conflict() => {
            tracing::warn!(error = %msg, "write conflicts exhausted the retries");
            KmsError::new("ThrottlingException", "Rate exceeded")
        }
        ModelError::KeyUnavailable(_) => {
            tracing::error!(error = %msg, "KMS: the master key is unavailable");
            KmsError {
                kind: "KMSInternalException",
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "The server cannot use its master key. Please try again later.".into(),
            }
        }
        ModelError::InvalidBucketName(_)
        | ModelError::BucketAlreadyOwnedByYou
        | ModelError::BucketAlreadyExists
        | ModelError::NoSuchBucket
        | ModelError::MalformedAcl(_)
        | ModelError::AccessControlListNotSupported
        | ModelError::InvalidBucketAclWithObjectOwnership
        | ModelError::OwnershipControlsNotFound
        | ModelError::NoSuchCorsConfiguration
        | ModelError::InvalidTag(_)
        | ModelError::NoSuchTagSet
        | ModelError::NoSuchLifecycleConfiguration
        | ModelError::InvalidStorageClass
        | ModelError::InvalidObjectState(_)
        | ModelError::RestoreAlreadyInProgress
        | ModelError::InvalidBucketState(_)
        | ModelError::ObjectLockConfigurationNotFound
        | ModelError::NoSuchObjectLockConfiguration
        | ModelError::InvalidRetentionPeriod
        | ModelError::InvalidCors(_)
        | ModelError::BucketNotEmpty
        | ModelError::MalformedPolicy(_)
        | ModelError::PolicyTooLarge { .. }
        | ModelError::MalformedPolicyDocument(_)
        | ModelError::NoSuchBucketPolicy
        | ModelError::NoSuchPublicAccessBlockConfiguration
        | ModelError::InvalidLocationConstraint(_)
        | ModelError::NoSuchKey
        | ModelError::DeletedKey { .. }
        | ModelError::DeleteMarkerVersion { .. }
        | ModelError::CopySourceIsDeleteMarker
        | ModelError::NoSuchVersion
        | ModelError::InvalidVersionId
        | ModelError::NoSuchUpload
        | ModelError::InvalidPart(_)
        | ModelError::InvalidPartOrder
        | ModelError::EntityTooSmall
        | ModelError::MalformedXml(_)
        | ModelError::InvalidRequest(_)
        | ModelError::KeyTooLong
        | ModelError::UnparseableKey
        | ModelError::MetadataTooLarge
        | ModelError::EntityTooLarge
        | ModelError::IncompleteBody
        | ModelError::BadDigest(_)
        | ModelError::InvalidDigest(_)
        | ModelError::PreconditionFailed
        | ModelError::NotModified { .. }
        | ModelError::InvalidRange
        | ModelError::CopyToSelfUnchanged
        | ModelError::InvalidArgument(_)
        | ModelError::RequestTimeout
        | ModelError::BodyStream(_)
        | ModelError::NoSuchEntity(_)
        | ModelError::EntityAlreadyExists(_)
        | ModelError::LimitExceeded(_)
        | ModelError::DeleteConflict(_)
        | ModelError::ValidationError(_)
        | ModelError::Store(_)
        | ModelError::Corrupt(_)
        | ModelError::StoreMismatch(_)
        | ModelError::NoSuchEncryptionConfiguration
        | ModelError::WrongCustomerKey
        | ModelError::NotImplemented(_)
        | ModelError::Internal(_) => {
            tracing::error!(error = %msg, "KMS request failed");
            internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_as_aws_reads_them() {
        assert!(parse_body(b"").unwrap().is_empty());
        assert_eq!(parse_body(b"[1]").unwrap_err().kind, "SerializationException");
        assert_eq!(parse_body(b"{\"KeyId\":").unwrap_err().kind, "SerializationException");
        let m = parse_body(br#"{"KeyId": 5}"#).unwrap();
        assert_eq!(Input(&m).key_id().unwrap_err().kind, "SerializationException");
        let m = parse_body(b"{}").unwrap();
        assert_eq!(Input(&m).key_id().unwrap_err().kind, "ValidationException");
        let m = parse_body(br#"{"Limit": 0}"#).unwrap();
        assert_eq!(Input(&m).limit().unwrap_err().kind, "ValidationException");
    }

    #[test]
    fn pages_continue_after_their_marker() {
        let rows = || ["a", "b", "c"].into_iter().map(|n| (n, json!(n)));
        let first = page("Keys", rows(), None, 2);
        assert_eq!(first["Keys"], json!(["a", "b"]));
        assert_eq!(first["NextMarker"], json!("b"));
        let second = page("Keys", rows(), Some("b"), 2);
        assert_eq!(second["Keys"], json!(["c"]));
        assert_eq!(second["Truncated"], json!(false));
    }
}

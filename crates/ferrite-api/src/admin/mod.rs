//! The admin API: JSON under `/admin/v1/`, described by the OpenAPI document it serves
//! at `/admin/v1/openapi.json` (`openapi.json` beside this file; [`routes::ROUTES`] is
//! the one table both the dispatcher and the document's check use).
//!
//! The server routes a request here when it is SigV4-signed with the credential scope
//! service `admin` (so no S3 request, to a bucket named `admin` or any other, is ever
//! taken for it), and an unsigned GET of the document. A request is verified like an
//! IAM request ([`FerriteAuth::authenticate`]) and every operation is one model call
//! that authorizes its caller as every other call does: users, keys and policies are
//! the IAM operations (`iam:` actions, the same model calls the IAM API makes: the IAM
//! XML and this JSON are two encodings of them), server-wide views and the master key
//! are `admin:` actions. Root may do everything; the built-in `admin` policy grants
//! all of it to a user.

pub mod presign;
pub mod routes;
mod session;

use std::path::PathBuf;

use ferrite_model::{Caller, Ferrite, KeyStatus, LoginMethod, ModelError, SessionInfo};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{AuthFailure, FerriteAuth};
use crate::iam::sigv4::SigV4Error;
use routes::{Matched, Op};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The largest page `GET /admin/v1/users` returns (IAM's ListUsers bound).
const MAX_USERS_PAGE: usize = 1000;

/// What the server binary knows of itself, for `GET /admin/v1/info`.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    /// The server's version.
    pub version: String,
    /// The data dir (the `default` tier's directory).
    pub data_dir: PathBuf,
}

/// Where `GET /admin/v1/metrics` reads the server's counters: the Prometheus text
/// that `/metrics` exports (the server binary owns the registry).
#[async_trait::async_trait]
pub trait MetricsSource: Send + Sync {
    async fn prometheus_text(&self) -> Result<String, String>;
}

/// The admin endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    model: Ferrite,
    auth: FerriteAuth,
    facts: std::sync::Arc<ServerFacts>,
    metrics: Option<std::sync::Arc<dyn MetricsSource>>,
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

/// A failed call: status, error code, message. The message never holds internal
/// details (those go to the log).
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    code: String,
    message: String,
    /// The methods the path takes, for a 405's `Allow` header.
    allow: Option<String>,
}

impl Failure {
    fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            allow: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }
}

/// A model error as the admin API answers it: IAM's codes and statuses (the same
/// mapping the IAM API uses).
fn model_failure(e: ModelError) -> Failure {
    let e = crate::iam::model_error(e);
    Failure::new(e.status, e.code, e.message)
}

/// A bucket operation's model error as the admin API answers it: S3's codes and
/// statuses (the S3 API's one mapping, `error::to_s3`).
fn bucket_failure(e: ModelError) -> Failure {
    s3_failure(crate::error::to_s3(e))
}

/// An S3 error (from the S3 API's document parsing or its error mapping) as the admin
/// API answers it.
fn s3_failure(e: s3s::S3Error) -> Failure {
    Failure::new(
        e.status_code().unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.code().as_str(),
        e.message().unwrap_or_default(),
    )
}

/// A setting that may be absent: its value, or `None` when the bucket has none.
fn optional<T>(r: ferrite_model::ModelResult<T>) -> Result<Option<T>, Failure> {
    use ferrite_model::ModelError as E;
    match r {
        Ok(v) => Ok(Some(v)),
        Err(
            E::NoSuchBucketPolicy
            | E::NoSuchEncryptionConfiguration
            | E::ObjectLockConfigurationNotFound
            | E::NoSuchCorsConfiguration
            | E::NoSuchLifecycleConfiguration
            | E::OwnershipControlsNotFound
            | E::NoSuchPublicAccessBlockConfiguration,
        ) => Ok(None),
        Err(e) => Err(bucket_failure(e)),
    }
}

/// A built-in KMS operation's failure: the KMS exception's name as the code, with the
/// status its meaning has over HTTP.
fn kms_failure(e: ModelError) -> Failure {
    use ferrite_model::KmsException as K;
    match e {
        ModelError::Kms { exception, message } => {
            let status = match exception {
                K::NotFoundException => StatusCode::NOT_FOUND,
                K::AlreadyExistsException | K::DisabledException | K::KMSInvalidStateException => StatusCode::CONFLICT,
                K::NotAuthorizedException => StatusCode::FORBIDDEN,
                K::InvalidArnException | K::ValidationException => StatusCode::BAD_REQUEST,
            };
            Failure::new(status, exception.as_str(), message)
        }
        other => model_failure(other),
    }
}

/// A master key operation's failure. The details go to the log, not to the client:
/// they can name key files.
fn key_failure(e: ModelError) -> Failure {
    use ferrite_model::ModelError as E;
    match e {
        E::AccessDenied => model_failure(e),
        E::InvalidRequest(_) | E::NotImplemented(_) => {
            tracing::warn!(error = %e, "admin: master key rotation refused");
            Failure::new(
                StatusCode::CONFLICT,
                "CannotRotate",
                "the master key cannot rotate now: it was given by FERRITE_KMS_MASTER_KEY, or a rotation is under way (the server log says which)",
            )
        }
        E::KeyUnavailable(_) => {
            tracing::error!(error = %e, "admin: master key operation failed");
            Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "KeyUnavailable",
                "the master key is unavailable or its file cannot be written (the server log says why)",
            )
        }
        other => model_failure(other),
    }
}

/// A successful answer: status, JSON body (none for 204) and any extra headers (a
/// session's cookie).
struct Answer {
    status: StatusCode,
    body: Option<String>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Answer {
    fn new(status: StatusCode, body: Option<String>) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }
}

fn ok(value: &impl Serialize) -> Result<Answer, Failure> {
    let body = serde_json::to_string(value)
        .map_err(|_| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error"))?;
    Ok(Answer::new(StatusCode::OK, Some(body)))
}

fn created(value: &impl Serialize) -> Result<Answer, Failure> {
    ok(value).map(|a| Answer {
        status: StatusCode::CREATED,
        ..a
    })
}

fn no_content() -> Result<Answer, Failure> {
    Ok(Answer::new(StatusCode::NO_CONTENT, None))
}

/// The response of a call.
fn finish(answer: Result<Answer, Failure>) -> http::Response<String> {
    match answer {
        Ok(a) => {
            let mut resp = respond(a.status, a.body);
            for (name, value) in a.headers {
                resp.headers_mut().append(name, value);
            }
            resp
        }
        Err(f) => {
            let body = json!({ "error": f.code, "message": f.message }).to_string();
            let mut resp = respond(f.status, Some(body));
            if let Some(v) = f.allow.as_deref().and_then(|a| http::HeaderValue::from_str(a).ok()) {
                resp.headers_mut().insert(http::header::ALLOW, v);
            }
            resp
        }
    }
}

/// A JSON request body of type `T` (unknown fields refused).
fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body)
        .map_err(|e| Failure::bad_request(format!("the request body is not valid JSON for this call: {e}")))
}

/// A policy document given in a JSON body: the document as a JSON object, or as a
/// string holding one.
fn document_text(value: Value) -> Result<String, Failure> {
    match value {
        Value::String(s) => Ok(s),
        v @ Value::Object(_) => Ok(v.to_string()),
        _ => Err(Failure::bad_request(
            "document must be a policy document (a JSON object or a string)",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyUpdate {
    status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPolicy {
    name: String,
    #[serde(default)]
    description: String,
    document: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InlinePolicy {
    document: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Versioning {
    status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKmsKey {
    #[serde(default)]
    description: String,
    alias: Option<String>,
}

/// A setting given as the S3 API's XML document (CORS, lifecycle): the same parser
/// and the same conversion as the S3 API's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlDocument {
    document: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EncryptionSetting {
    /// `AES256` (SSE-S3) or `aws:kms` (SSE-KMS).
    algorithm: String,
    #[serde(default)]
    kms_key_id: Option<String>,
    #[serde(default)]
    bucket_key: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockSetting {
    block_public_acls: bool,
    ignore_public_acls: bool,
    block_public_policy: bool,
    restrict_public_buckets: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnershipSetting {
    ownership: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockDefaults {
    /// None: no default retention.
    default_retention: Option<RetentionSetting>,
    /// Makes a bucket that is not a lock bucket yet one, for good (it must have
    /// versioning Enabled), as PutObjectLockConfiguration does. Without it such a
    /// bucket is refused: nothing irreversible happens by accident.
    #[serde(default)]
    enable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionSetting {
    /// `GOVERNANCE` or `COMPLIANCE`.
    mode: String,
    #[serde(default)]
    days: Option<u32>,
    #[serde(default)]
    years: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulationQuery {
    user: String,
    action: String,
    resource: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KmsKeyUpdate {
    enabled: bool,
}

fn kms_key_json(k: &ferrite_model::KmsKeyInfo, aliases: &[ferrite_model::KmsAliasInfo]) -> Value {
    json!({
        "key_id": k.key_id,
        "arn": k.arn,
        "description": k.description,
        "created_ms": k.created_ms,
        "state": k.state.as_str(),
        "manager": k.manager.as_str(),
        "aliases": aliases
            .iter()
            .filter(|a| a.target_key_id == k.key_id)
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
    })
}

fn user_json(u: &ferrite_model::UserInfo) -> Value {
    json!({
        "name": u.name,
        "arn": ferrite_model::user_arn(&u.name),
        "user_id": u.user_id,
        "canonical_id": u.canonical_id,
        "created_ms": u.created_ms,
    })
}

fn key_json(k: &ferrite_model::AccessKeyInfo) -> Value {
    json!({
        "access_key_id": k.access_key_id,
        "user_name": k.user_name,
        "status": k.status.as_str(),
        "created_ms": k.created_ms,
    })
}

fn policy_json(p: &ferrite_model::ManagedPolicyInfo, with_document: bool) -> Value {
    let mut v = json!({
        "name": p.name,
        "arn": p.arn,
        "policy_id": p.policy_id,
        "description": p.description,
        "created_ms": p.created_ms,
        "attachments": p.attachments,
        "built_in": p.built_in,
    });
    if with_document {
        v["document"] = Value::String(p.document.clone());
    }
    v
}

impl Admin {
    pub fn new(model: Ferrite, auth: FerriteAuth, facts: ServerFacts) -> Self {
        Self {
            model,
            auth,
            facts: std::sync::Arc::new(facts),
            metrics: None,
        }
    }

    /// Serves `GET /admin/v1/metrics` from `source`.
    pub fn with_metrics(mut self, source: std::sync::Arc<dyn MetricsSource>) -> Self {
        self.metrics = Some(source);
        self
    }

    /// The OpenAPI document, for an unsigned GET of `/admin/v1/openapi.json`.
    pub fn openapi_response() -> http::Response<String> {
        respond(StatusCode::OK, Some(OPENAPI.to_string()))
    }

    /// `POST /admin/v1/presign`: S3 requests signed with the caller's key.
    /// A console session's URLs last no longer than the session (as AWS's console
    /// signs with credentials that expire): their life is cut to what is left of it,
    /// and the answer says each URL's life.
    fn presign(
        &self,
        parts: &http::request::Parts,
        access_key: &str,
        live: Option<&SessionInfo>,
        body: &[u8],
    ) -> Result<Answer, Failure> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Batch {
            requests: Vec<presign::PresignRequest>,
        }
        let batch: Batch = body_json(body)?;
        if batch.requests.is_empty() || batch.requests.len() > presign::MAX_REQUESTS {
            return Err(Failure::bad_request(format!(
                "requests must hold 1 to {} requests",
                presign::MAX_REQUESTS
            )));
        }
        let secret = match self.auth.lookup(access_key).map_err(model_failure)? {
            Some(owner) => owner.secret,
            None => return Err(model_failure(ModelError::AccessDenied)),
        };
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .ok_or_else(|| Failure::bad_request("the request has no Host"))?;
        let secure = parts.extensions.get::<crate::ClientInfo>().is_some_and(|c| c.secure);
        let signer = presign::Signer {
            scheme: if secure { "https" } else { "http" },
            host,
            region: &self.model.options().region,
            access_key,
            secret: &secret,
            now: time::OffsetDateTime::now_utc(),
        };
        let left = live.map(|l| {
            let ms = l.expires_ms - time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
            u64::try_from(ms / 1000).unwrap_or(0).max(1)
        });
        let mut urls = Vec::with_capacity(batch.requests.len());
        let mut lives = Vec::with_capacity(batch.requests.len());
        for (i, mut r) in batch.requests.into_iter().enumerate() {
            // A life out of bounds is refused by the signer, not cut.
            if let Some(left) = left
                && r.expires_secs
                    .is_none_or(|e| (1..=presign::MAX_EXPIRES_SECS).contains(&e))
            {
                r.expires_secs = Some(r.expires_secs.unwrap_or(presign::DEFAULT_EXPIRES_SECS).min(left));
            }
            urls.push(
                signer
                    .presign(&r)
                    .map_err(|e| Failure::bad_request(format!("requests[{i}]: {e}")))?,
            );
            lives.push(r.expires_secs.unwrap_or(presign::DEFAULT_EXPIRES_SECS));
        }
        ok(&json!({ "urls": urls, "expires_secs": lives }))
    }

    /// A request SigV4-signed for the service `admin`.
    pub async fn handle(&self, parts: &http::request::Parts, body: &[u8]) -> http::Response<String> {
        let answer = match self.authenticate(parts, body) {
            Ok((caller, access_key)) => match routes::find(parts.method.as_str(), parts.uri.path()) {
                Matched::Route(Op::Login | Op::Logout, _) => Err(Failure::bad_request(
                    "console sessions are opened and ended by the console, without a signature",
                )),
                found => self.run(found, &caller, &access_key, None, parts, body).await,
            },
            Err(f) => Err(f),
        };
        finish(answer)
    }

    /// An unsigned request under `/admin/v1/`: the console's, authenticated by its
    /// session cookie (and, for every state-changing call, its CSRF token), or the
    /// login that opens a session.
    pub async fn handle_console(&self, parts: &http::request::Parts, body: &[u8]) -> http::Response<String> {
        finish(self.console(parts, body).await)
    }

    async fn console(&self, parts: &http::request::Parts, body: &[u8]) -> Result<Answer, Failure> {
        let found = routes::find(parts.method.as_str(), parts.uri.path());
        let safe = matches!(parts.method, http::Method::GET | http::Method::HEAD);
        if !safe && !session::same_origin(&parts.headers) {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "CrossOrigin",
                "console calls come from the console's own origin",
            ));
        }
        if let Matched::Route(Op::Login, _) = found {
            // A form on another site cannot send JSON without a preflight.
            if !session::is_json(&parts.headers) {
                return Err(Failure::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    "a login is a JSON body (content-type: application/json)",
                ));
            }
            return self.login(parts, body).await;
        }
        let (caller, live, token) = match self.session_caller(parts).await {
            Ok(found) => found,
            // Logging out of an ended session: nothing to protect; the cookie goes.
            Err(_) if matches!(found, Matched::Route(Op::Logout, _)) => {
                let mut answer = no_content()?;
                answer.headers.push(session::clear_cookie(parts));
                return Ok(answer);
            }
            Err(f) => return Err(f),
        };
        if !safe && !session::csrf_matches(&parts.headers, &token) {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "InvalidCsrfToken",
                "this call needs the session's CSRF token in the x-ferrite-csrf header",
            ));
        }
        match found {
            Matched::Route(Op::Logout, _) => {
                self.model.end_session(&token).await.map_err(model_failure)?;
                let mut answer = no_content()?;
                answer.headers.push(session::clear_cookie(parts));
                Ok(answer)
            }
            Matched::Route(Op::WhoAmI, _) => self.who_am_i(&caller, &live, Some(&token)),
            found => {
                let key = live.access_key.clone();
                self.run(found, &caller, &key, Some(&live), parts, body).await
            }
        }
    }

    fn authenticate(&self, parts: &http::request::Parts, body: &[u8]) -> Result<(Caller, String), Failure> {
        self.auth
            .authenticate(parts, body, time::OffsetDateTime::now_utc())
            .map(|(caller, auth)| (caller, auth.access_key))
            .map_err(|e| match e {
                AuthFailure::Signature(SigV4Error::Mismatch) => Failure::new(
                    StatusCode::FORBIDDEN,
                    "SignatureDoesNotMatch",
                    "the request signature does not match",
                ),
                AuthFailure::Signature(SigV4Error::Skewed) => Failure::new(
                    StatusCode::FORBIDDEN,
                    "RequestTimeTooSkewed",
                    "the request time is too far from the server's",
                ),
                AuthFailure::Signature(SigV4Error::Missing | SigV4Error::Malformed(_)) => Failure::new(
                    StatusCode::BAD_REQUEST,
                    "IncompleteSignature",
                    "the request is not properly signed",
                ),
                AuthFailure::UnknownKey => {
                    Failure::new(StatusCode::FORBIDDEN, "InvalidAccessKeyId", "unknown access key")
                }
                AuthFailure::Internal => {
                    Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error")
                }
            })
    }

    /// The caller of a console request: its session cookie's live session, acting
    /// with the session's access key (a key disabled or deleted since ends it).
    async fn session_caller(
        &self,
        parts: &http::request::Parts,
    ) -> Result<(Caller, SessionInfo, ferrite_model::Secret), Failure> {
        let not_logged_in = || {
            Failure::new(
                StatusCode::UNAUTHORIZED,
                "NotAuthenticated",
                "log in first: no live console session (or a signature) came with this call",
            )
        };
        let token = session::cookie_token(&parts.headers).ok_or_else(not_logged_in)?;
        let live = self
            .model
            .session(&token)
            .await
            .map_err(model_failure)?
            .ok_or_else(not_logged_in)?;
        // The key must still be active and its secret the one of the login.
        let (caller, current) = self.key_caller(parts, &live.access_key)?.ok_or_else(not_logged_in)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&current[..], &live.key_check[..])) {
            return Err(not_logged_in());
        }
        Ok((caller, live, token))
    }

    /// The caller an active access key acts as (with the request's context) and the
    /// check value of its secret; `None` when the key is unknown or inactive.
    fn key_caller(
        &self,
        parts: &http::request::Parts,
        access_key: &str,
    ) -> Result<Option<(Caller, [u8; 32])>, Failure> {
        let Some(owner) = self.auth.lookup(access_key).map_err(model_failure)? else {
            return Ok(None);
        };
        let mut caller = self.auth.caller_for(Some(access_key), "admin");
        if matches!(caller.principal, ferrite_model::Principal::Anonymous) {
            return Ok(None);
        }
        caller.context = std::sync::Arc::new(crate::lazy_request_context(
            &parts.uri,
            &parts.headers,
            parts.extensions.get::<crate::ClientInfo>(),
            time::OffsetDateTime::now_utc(),
        ));
        Ok(Some((caller, session::key_check(&owner.secret))))
    }

    /// `POST /admin/v1/session`: an access key and its secret, or a user's name and
    /// console password, open a session. Every failure is the same answer.
    async fn login(&self, parts: &http::request::Parts, body: &[u8]) -> Result<Answer, Failure> {
        let login: session::Login = body_json(body)?;
        let refused = || {
            Failure::new(
                StatusCode::UNAUTHORIZED,
                "InvalidCredentials",
                "the access key and secret, or the user name and password, are not right",
            )
        };
        let (access_key, method) = match login {
            session::Login::Key {
                access_key_id,
                secret_access_key,
            } => {
                let given = ferrite_model::Secret::new(secret_access_key);
                match self.auth.lookup(&access_key_id).map_err(model_failure)? {
                    Some(owner) if owner.secret == given => (access_key_id, LoginMethod::AccessKey),
                    _ => {
                        // The id only when it looks like one: a secret pasted into the
                        // wrong field never reaches the log.
                        let shown = session::loggable(&access_key_id, 128);
                        tracing::info!(access_key = %shown, "console login refused");
                        return Err(refused());
                    }
                }
            }
            session::Login::Password { user, password } => {
                let password = ferrite_model::Secret::new(password);
                match self
                    .model
                    .password_login(&user, &password)
                    .await
                    .map_err(model_failure)?
                {
                    Some(found) => (found.access_key, LoginMethod::Password),
                    None => {
                        let shown = session::loggable(&user, 64);
                        tracing::info!(user = %shown, "console login refused");
                        return Err(refused());
                    }
                }
            }
        };
        let (caller, key_check) = self.key_caller(parts, &access_key)?.ok_or_else(refused)?;
        let opened = self
            .model
            .open_session(&caller, &access_key, method, key_check)
            .await
            .map_err(model_failure)?;
        tracing::info!(principal = %opened.info.principal, session = %opened.info.id, "console session opened");
        let mut answer = self.who_am_i(&caller, &opened.info, Some(&opened.token))?;
        answer.status = StatusCode::CREATED;
        let max_age = (opened.info.expires_ms - opened.info.created_ms) / 1000;
        answer.headers.push(session::set_cookie(parts, &opened.token, max_age));
        Ok(answer)
    }

    /// Who the caller is, what the console may show it, and (for a session) the CSRF
    /// token its state-changing calls carry.
    fn who_am_i(
        &self,
        caller: &Caller,
        live: &SessionInfo,
        token: Option<&ferrite_model::Secret>,
    ) -> Result<Answer, Failure> {
        let root = matches!(caller.principal, ferrite_model::Principal::Root { .. });
        ok(&json!({
            "principal": live.principal,
            "root": root,
            "access_key_id": live.access_key,
            "method": live.method.as_str(),
            "session_id": live.id,
            "expires_ms": live.expires_ms,
            "admin": self.model.may(caller, "admin:GetServerInfo", "*"),
            "csrf_token": token.map(session::csrf_token),
        }))
    }

    /// Matches, then runs one admin operation for `caller` (signing with
    /// `access_key` when it presigns).
    async fn run(
        &self,
        found: Matched,
        caller: &Caller,
        access_key: &str,
        live: Option<&SessionInfo>,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Answer, Failure> {
        let (op, params) = match found {
            Matched::Route(op, params) => (op, params),
            Matched::WrongMethod(methods) => {
                let allow = methods.join(", ");
                let mut f = Failure::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    format!("use {allow}"),
                );
                f.allow = Some(allow);
                return Err(f);
            }
            Matched::NotFound => {
                return Err(Failure::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "no such admin resource",
                ));
            }
        };
        let query: std::collections::HashMap<String, String> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let p = |i: usize| params.get(i).map(String::as_str).unwrap_or("");
        let m = &self.model;
        let c = caller;
        match op {
            Op::OpenApi => Ok(Answer::new(StatusCode::OK, Some(OPENAPI.to_string()))),
            Op::Login | Op::Logout => Err(Failure::bad_request(
                "console sessions are opened and ended by the console",
            )),
            Op::WhoAmI => match live {
                Some(live) => self.who_am_i(c, live, None),
                None => ok(&json!({
                    "principal": caller.display_name(),
                    "root": matches!(caller.principal, ferrite_model::Principal::Root { .. }),
                    "access_key_id": access_key,
                    "method": "signature",
                    "admin": m.may(c, "admin:GetServerInfo", "*"),
                })),
            },
            Op::ListSessions => {
                let all = m.list_sessions(c).await.map_err(model_failure)?;
                let rows: Vec<Value> = all
                    .iter()
                    .map(|s| {
                        json!({
                            "id": s.id,
                            "principal": s.principal,
                            "access_key_id": s.access_key,
                            "method": s.method.as_str(),
                            "created_ms": s.created_ms,
                            "expires_ms": s.expires_ms,
                        })
                    })
                    .collect();
                ok(&json!({ "sessions": rows }))
            }
            Op::RevokeSession => {
                m.revoke_session(c, p(0)).await.map_err(model_failure)?;
                no_content()
            }
            Op::Presign => self.presign(parts, access_key, live, body),
            Op::GetConsolePassword => {
                let set = m.console_password_set_ms(c, p(0)).await.map_err(model_failure)?;
                ok(&json!({ "user": p(0), "password_set": set.is_some(), "set_ms": set }))
            }
            Op::SetConsolePassword => {
                let new: session::NewPassword = body_json(body)?;
                let password = ferrite_model::Secret::new(new.password);
                m.set_console_password(c, p(0), &password)
                    .await
                    .map_err(model_failure)?;
                no_content()
            }
            Op::DeleteConsolePassword => {
                m.delete_console_password(c, p(0)).await.map_err(model_failure)?;
                no_content()
            }
            Op::ServerInfo => self.info(c).await,
            Op::Metrics => {
                m.authorize(c, "admin:GetMetrics", "*").map_err(model_failure)?;
                let Some(source) = &self.metrics else {
                    return Err(Failure::new(
                        StatusCode::NOT_IMPLEMENTED,
                        "NotImplemented",
                        "this server exports no metrics",
                    ));
                };
                let text = source.prometheus_text().await.map_err(|e| {
                    tracing::error!(error = %e, "admin: metrics");
                    Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error")
                })?;
                ok(&json!({ "prometheus": text }))
            }
            Op::ListBuckets => self.buckets(c).await,
            Op::GetBucket => self.bucket(c, p(0)).await,
            Op::DeleteBucket => {
                m.delete_bucket(c, p(0)).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::PutBucketVersioning => {
                let v: Versioning = body_json(body)?;
                let state = match v.status.as_str() {
                    "Enabled" => ferrite_model::VersioningState::Enabled,
                    "Suspended" => ferrite_model::VersioningState::Suspended,
                    other => {
                        return Err(Failure::bad_request(format!(
                            "status must be Enabled or Suspended, not {other:?}"
                        )));
                    }
                };
                m.set_bucket_versioning(c, p(0), state).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::PutBucketPolicy => {
                let policy: InlinePolicy = body_json(body)?;
                m.put_bucket_policy(c, p(0), document_text(policy.document)?)
                    .await
                    .map_err(bucket_failure)?;
                no_content()
            }
            Op::DeleteBucketPolicy => {
                m.delete_bucket_policy(c, p(0)).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::PutBucketCors => {
                let doc: XmlDocument = body_json(body)?;
                let config = crate::cors::config_from_xml(&doc.document).map_err(s3_failure)?;
                m.put_bucket_cors(c, p(0), config).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::DeleteBucketCors => {
                m.delete_bucket_cors(c, p(0)).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::PutBucketLifecycle => {
                let doc: XmlDocument = body_json(body)?;
                let config = crate::lifecycle::config_from_xml(&doc.document).map_err(s3_failure)?;
                m.set_lifecycle_configuration(c, p(0), Some(config))
                    .await
                    .map_err(bucket_failure)?;
                no_content()
            }
            Op::DeleteBucketLifecycle => {
                m.set_lifecycle_configuration(c, p(0), None)
                    .await
                    .map_err(bucket_failure)?;
                no_content()
            }
            Op::PutBucketEncryption => {
                let e: EncryptionSetting = body_json(body)?;
                let algorithm = match e.algorithm.as_str() {
                    "AES256" => ferrite_model::EncryptionAlgorithm::SseS3,
                    "aws:kms" => ferrite_model::EncryptionAlgorithm::SseKms,
                    other => {
                        return Err(Failure::bad_request(format!(
                            "algorithm must be AES256 or aws:kms, not {other:?}"
                        )));
                    }
                };
                if algorithm == ferrite_model::EncryptionAlgorithm::SseS3 && (e.kms_key_id.is_some() || e.bucket_key) {
                    return Err(Failure::bad_request("kms_key_id and bucket_key go with aws:kms only"));
                }
                let config = ferrite_model::BucketEncryption {
                    algorithm,
                    kms_key_id: e.kms_key_id,
                    bucket_key: e.bucket_key,
                };
                m.set_bucket_encryption(c, p(0), Some(config))
                    .await
                    .map_err(bucket_failure)?;
                no_content()
            }
            Op::DeleteBucketEncryption => {
                m.set_bucket_encryption(c, p(0), None).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::PutPublicAccessBlock => {
                let b: BlockSetting = body_json(body)?;
                let block = ferrite_model::PublicAccessBlock {
                    block_public_acls: b.block_public_acls,
                    ignore_public_acls: b.ignore_public_acls,
                    block_public_policy: b.block_public_policy,
                    restrict_public_buckets: b.restrict_public_buckets,
                };
                m.set_public_access_block(c, p(0), Some(block))
                    .await
                    .map_err(bucket_failure)?;
                no_content()
            }
            Op::DeletePublicAccessBlock => {
                m.set_public_access_block(c, p(0), None).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::PutBucketOwnership => {
                let o: OwnershipSetting = body_json(body)?;
                let ownership = ferrite_model::ObjectOwnership::parse(&o.ownership).ok_or_else(|| {
                    Failure::bad_request("ownership must be ObjectWriter, BucketOwnerPreferred or BucketOwnerEnforced")
                })?;
                m.set_bucket_ownership(c, p(0), Some(ownership))
                    .await
                    .map_err(bucket_failure)?;
                no_content()
            }
            Op::DeleteBucketOwnership => {
                m.set_bucket_ownership(c, p(0), None).await.map_err(bucket_failure)?;
                no_content()
            }
            Op::PutObjectLockDefaults => {
                let l: LockDefaults = body_json(body)?;
                let default_retention = match l.default_retention {
                    None => None,
                    Some(r) => {
                        let mode = match r.mode.as_str() {
                            "GOVERNANCE" => ferrite_model::LockMode::Governance,
                            "COMPLIANCE" => ferrite_model::LockMode::Compliance,
                            other => {
                                return Err(Failure::bad_request(format!(
                                    "mode must be GOVERNANCE or COMPLIANCE, not {other:?}"
                                )));
                            }
                        };
                        let period = match (r.days, r.years) {
                            (Some(d), None) => ferrite_model::RetentionPeriod::Days(d),
                            (None, Some(y)) => ferrite_model::RetentionPeriod::Years(y),
                            _ => return Err(Failure::bad_request("give days or years, one of them")),
                        };
                        Some(ferrite_model::DefaultRetention { mode, period })
                    }
                };
                if !l.enable {
                    match m.object_lock_configuration(c, p(0)).await {
                        Ok(_) => {}
                        Err(ModelError::ObjectLockConfigurationNotFound) => {
                            return Err(Failure::new(
                                StatusCode::CONFLICT,
                                "InvalidBucketState",
                                "the bucket is not an object lock bucket; send \"enable\": true to make it one for good (its versioning must be Enabled)",
                            ));
                        }
                        Err(e) => return Err(bucket_failure(e)),
                    }
                }
                m.put_object_lock_configuration(c, p(0), ferrite_model::LockConfig { default_retention })
                    .await
                    .map_err(bucket_failure)?;
                no_content()
            }
            Op::RotateMasterKey => ok(&m.rotate_master_key(c).await.map_err(key_failure)?),
            Op::MasterKeyStatus => ok(&m.master_key_status(c).map_err(key_failure)?),
            Op::ListKmsKeys => {
                let keys = m.kms_list_keys(c).await.map_err(kms_failure)?;
                let aliases = m.kms_list_aliases(c, None).await.map_err(kms_failure)?;
                let rows: Vec<Value> = keys.iter().map(|k| kms_key_json(k, &aliases)).collect();
                ok(&json!({ "keys": rows }))
            }
            Op::CreateKmsKey => {
                let new: NewKmsKey = body_json(body)?;
                let key = m
                    .kms_create_key(c, &new.description, new.alias.as_deref())
                    .await
                    .map_err(kms_failure)?;
                let aliases = m.kms_list_aliases(c, Some(&key.key_id)).await.map_err(kms_failure)?;
                created(&kms_key_json(&key, &aliases))
            }
            Op::GetKmsKey => {
                let key = m.kms_describe_key(c, p(0)).await.map_err(kms_failure)?;
                let aliases = m.kms_list_aliases(c, Some(&key.key_id)).await.map_err(kms_failure)?;
                ok(&kms_key_json(&key, &aliases))
            }
            Op::UpdateKmsKey => {
                let update: KmsKeyUpdate = body_json(body)?;
                let key = match update.enabled {
                    true => m.kms_enable_key(c, p(0)).await,
                    false => m.kms_disable_key(c, p(0)).await,
                }
                .map_err(kms_failure)?;
                let aliases = m.kms_list_aliases(c, Some(&key.key_id)).await.map_err(kms_failure)?;
                ok(&kms_key_json(&key, &aliases))
            }
            Op::ListUsers => {
                let max = match query.get("max_items") {
                    None => 100,
                    Some(v) => v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_USERS_PAGE).contains(n))
                        .ok_or_else(|| Failure::bad_request(format!("max_items must be 1 to {MAX_USERS_PAGE}")))?,
                };
                let page = m
                    .list_users(c, query.get("marker").map(String::as_str), max)
                    .await
                    .map_err(model_failure)?;
                ok(&json!({
                    "users": page.users.iter().map(user_json).collect::<Vec<_>>(),
                    "next_marker": page.next_marker,
                }))
            }
            Op::CreateUser => {
                let new: NewUser = body_json(body)?;
                created(&user_json(&m.create_user(c, &new.name).await.map_err(model_failure)?))
            }
            Op::GetUser => ok(&user_json(&m.get_user(c, p(0)).await.map_err(model_failure)?)),
            Op::DeleteUser => {
                m.delete_user(c, p(0)).await.map_err(model_failure)?;
                no_content()
            }
            Op::ListAccessKeys => {
                let keys = m.list_access_keys(c, p(0)).await.map_err(model_failure)?;
                ok(&json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() }))
            }
            Op::CreateAccessKey => {
                let key = m.create_access_key(c, p(0)).await.map_err(model_failure)?;
                let mut v = key_json(&key.info);
                // The only time the secret leaves the server.
                v["secret_access_key"] = Value::String(key.secret.expose().to_string());
                created(&v)
            }
            Op::UpdateAccessKey => {
                let update: KeyUpdate = body_json(body)?;
                let status = match update.status.as_str() {
                    "Active" => KeyStatus::Active,
                    "Inactive" => KeyStatus::Inactive,
                    other => {
                        return Err(Failure::bad_request(format!(
                            "status must be Active or Inactive, not {other:?}"
                        )));
                    }
                };
                m.update_access_key(c, Some(p(0)), p(1), status)
                    .await
                    .map_err(model_failure)?;
                no_content()
            }
            Op::DeleteAccessKey => {
                m.delete_access_key(c, Some(p(0)), p(1)).await.map_err(model_failure)?;
                no_content()
            }
            Op::ListInlinePolicies => {
                let names = m.list_user_policies(c, p(0)).await.map_err(model_failure)?;
                ok(&json!({ "policies": names }))
            }
            Op::GetInlinePolicy => {
                let doc = m.get_user_policy(c, p(0), p(1)).await.map_err(model_failure)?;
                ok(&json!({ "name": p(1), "document": doc }))
            }
            Op::PutInlinePolicy => {
                let policy: InlinePolicy = body_json(body)?;
                m.put_user_policy(c, p(0), p(1), document_text(policy.document)?)
                    .await
                    .map_err(model_failure)?;
                no_content()
            }
            Op::DeleteInlinePolicy => {
                m.delete_user_policy(c, p(0), p(1)).await.map_err(model_failure)?;
                no_content()
            }
            Op::ListAttachedPolicies => {
                let attached = m.list_attached_user_policies(c, p(0)).await.map_err(model_failure)?;
                let rows: Vec<Value> = attached
                    .iter()
                    .map(|(name, arn)| json!({ "name": name, "arn": arn }))
                    .collect();
                ok(&json!({ "policies": rows }))
            }
            Op::AttachPolicy => {
                let arn = ferrite_model::resolve_policy_name(p(1));
                m.attach_user_policy(c, p(0), &arn).await.map_err(model_failure)?;
                no_content()
            }
            Op::DetachPolicy => {
                let arn = ferrite_model::resolve_policy_name(p(1));
                m.detach_user_policy(c, p(0), &arn).await.map_err(model_failure)?;
                no_content()
            }
            Op::ListPolicies => {
                let all = m.list_policies(c).await.map_err(model_failure)?;
                ok(&json!({ "policies": all.iter().map(|p| policy_json(p, false)).collect::<Vec<_>>() }))
            }
            Op::CreatePolicy => {
                let new: NewPolicy = body_json(body)?;
                let info = m
                    .create_policy(c, &new.name, &new.description, document_text(new.document)?)
                    .await
                    .map_err(model_failure)?;
                created(&policy_json(&info, true))
            }
            Op::GetPolicy => {
                let arn = ferrite_model::resolve_policy_name(p(0));
                ok(&policy_json(&m.get_policy(c, &arn).await.map_err(model_failure)?, true))
            }
            Op::DeletePolicy => {
                let arn = ferrite_model::resolve_policy_name(p(0));
                m.delete_policy(c, &arn).await.map_err(model_failure)?;
                no_content()
            }
            Op::Simulate => {
                let q: SimulationQuery = body_json(body)?;
                let sim = m
                    .simulate_policies(c, &q.user, &q.action, &q.resource)
                    .await
                    .map_err(model_failure)?;
                ok(&json!({
                    "decision": sim.decision.as_str(),
                    "decided_by": sim.decided_by.map(|d| json!({
                        "policy": d.policy,
                        "statement": d.index,
                        "sid": d.sid,
                    })),
                    "evaluated": sim.evaluated,
                }))
            }
        }
    }

    async fn info(&self, caller: &Caller) -> Result<Answer, Failure> {
        let info = self.model.server_info(caller).await.map_err(model_failure)?;
        let tiers: Vec<Value> = info
            .tiers
            .iter()
            .map(|t| {
                let dir = t.dir.clone().unwrap_or_else(|| self.facts.data_dir.clone());
                json!({
                    "name": t.name,
                    "dir": dir.display().to_string(),
                    "compress": t.compress,
                    "classes": t.classes,
                    "total_bytes": t.space.map(|s| s.total),
                    "free_bytes": t.space.map(|s| s.free),
                })
            })
            .collect();
        ok(&json!({
            "version": self.facts.version,
            "format": info.format,
            "uptime_secs": info.uptime_secs,
            "data_dir": self.facts.data_dir.display().to_string(),
            "tiers": tiers,
        }))
    }

    /// A bucket and its settings, each read by the model operation the S3 API uses
    /// (so each is authorized as its S3 read is); a setting the bucket does not have
    /// is `null`.
    async fn bucket(&self, caller: &Caller, name: &str) -> Result<Answer, Failure> {
        use ferrite_model::{EncryptionAlgorithm as A, LockMode, RetentionPeriod, VersioningState as V};
        let m = &self.model;
        let (info, usage) = m.bucket_with_usage(caller, name).await.map_err(bucket_failure)?;
        let versioning = match m.bucket_versioning(caller, name).await.map_err(bucket_failure)? {
            V::Unversioned => "Unversioned",
            V::Enabled => "Enabled",
            V::Suspended => "Suspended",
        };
        let lock = optional(m.object_lock_configuration(caller, name).await)?.map(|l| {
            json!({ "default_retention": l.default_retention.map(|r| {
                let (unit, n) = match r.period {
                    RetentionPeriod::Days(d) => ("days", d),
                    RetentionPeriod::Years(y) => ("years", y),
                };
                json!({
                    "mode": match r.mode { LockMode::Governance => "GOVERNANCE", LockMode::Compliance => "COMPLIANCE" },
                    unit: n,
                })
            }) })
        });
        let encryption = optional(m.bucket_encryption(caller, name).await)?.map(|e| {
            json!({
                "algorithm": match e.algorithm {
                    A::SseS3 | A::SseC => "AES256",
                    A::SseKms => "aws:kms",
                    A::SseKmsDsse => "aws:kms:dsse",
                },
                "kms_key_id": e.kms_key_id,
                "bucket_key": e.bucket_key,
            })
        });
        let policy = optional(m.bucket_policy(caller, name).await)?;
        let block = optional(m.public_access_block(caller, name).await)?.map(|b| {
            json!({
                "block_public_acls": b.block_public_acls,
                "ignore_public_acls": b.ignore_public_acls,
                "block_public_policy": b.block_public_policy,
                "restrict_public_buckets": b.restrict_public_buckets,
            })
        });
        let ownership = optional(m.bucket_ownership(caller, name).await)?.map(|o| o.as_str());
        let cors_rules = optional(m.bucket_cors(caller, name).await)?.map_or(0, |c| c.rules.len());
        let lifecycle_rules = optional(m.lifecycle_configuration(caller, name).await)?.map_or(0, |l| l.rules.len());
        ok(&json!({
            "name": info.name,
            "owner_id": info.owner,
            "region": info.region,
            "created_ms": info.created_ms,
            "versioning": versioning,
            "object_lock": lock,
            "encryption": encryption,
            "policy": policy,
            "public_access_block": block,
            "ownership": ownership,
            "cors_rules": cors_rules,
            "lifecycle_rules": lifecycle_rules,
            "objects": usage.objects,
            "bytes": usage.object_bytes,
            "versions": usage.versions,
            "version_bytes": usage.version_bytes,
        }))
    }

    async fn buckets(&self, caller: &Caller) -> Result<Answer, Failure> {
        let buckets = self.model.list_all_buckets(caller).await.map_err(model_failure)?;
        let usage: std::collections::HashMap<String, ferrite_model::BucketUsage> = self
            .model
            .bucket_usage()
            .await
            .map_err(model_failure)?
            .into_iter()
            .collect();
        let root = self.auth.root();
        let mut rows = Vec::with_capacity(buckets.len());
        for b in buckets {
            let owner = if b.owner == root.canonical_id {
                root.display_name.clone()
            } else {
                self.model
                    .display_name_of(&b.owner)
                    .map_err(model_failure)?
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
        ok(&json!({ "buckets": rows }))
    }
}

fn respond(status: StatusCode, body: Option<String>) -> http::Response<String> {
    let has_body = body.is_some();
    let mut resp = http::Response::new(body.unwrap_or_default());
    *resp.status_mut() = status;
    // Answers can hold secrets (a new key's, a session's CSRF token): never cached.
    resp.headers_mut()
        .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    if has_body {
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::routes::ROUTES;
    use super::*;

    /// The document names exactly the routes the dispatcher serves, with the same
    /// methods, and each operation has an id and responses.
    #[test]
    fn the_openapi_document_describes_exactly_the_routes() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                assert!(op["operationId"].is_string(), "{method} {path} has no operationId");
                assert!(op["responses"].is_object(), "{method} {path} has no responses");
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn documents_come_as_objects_or_strings() {
        assert_eq!(
            document_text(json!({"Version": "2012-10-17"})).unwrap(),
            r#"{"Version":"2012-10-17"}"#
        );
        assert_eq!(document_text(json!("{}")).unwrap(), "{}");
        assert!(document_text(json!(3)).is_err());
    }
}

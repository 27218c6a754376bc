//! The IAM API subset, on the S3 endpoint: users and access keys, for `aws iam` and
//! boto3's IAM client. The server recognises an IAM request by its SigV4 credential
//! scope service `iam` ([`sigv4::scope_service`]) and hands it here with its body
//! (bounded by [`MAX_BODY`]) before s3s sees it: s3s refuses every scope service but
//! `s3`/`sts`. Query protocol: `POST /` with a form body `Action=...&Version=2010-05-08`
//! (or the same as a GET query); answers in IAM's XML with IAM's error codes.
//!
//! Root may call every action; a user may call the actions its identity policies allow
//! (the model decides). Users' ARNs name the fixed account [`ACCOUNT_ID`].

pub mod sigv4;
pub mod xml;

use std::collections::HashMap;

use ferrite_model::{Caller, Ferrite, KeyStatus, MAX_LIST_USERS, ModelError};
use http::StatusCode;

use crate::auth::{AuthFailure, FerriteAuth};
use sigv4::SigV4Error;

/// The largest IAM request body read (the biggest real ones are a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// The account every user's ARN names (`arn:aws:iam::000000000000:user/NAME`). A
/// constant rather than one derived from root's key, so that ARNs (and policies
/// written with them) stay valid when root's credentials are rotated. Twelve zeros is
/// what local AWS stand-ins commonly use; it is no real AWS account.
pub use ferrite_model::ACCOUNT_ID;
/// ListUsers' page size when MaxItems is not given (IAM's default).
const DEFAULT_MAX_ITEMS: usize = 100;

/// The IAM endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Iam {
    model: Ferrite,
    auth: FerriteAuth,
}

/// An IAM error: code, status, message.
#[derive(Debug)]
pub(crate) struct IamError {
    pub(crate) code: &'static str,
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl IamError {
    fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", StatusCode::BAD_REQUEST, message)
    }
}

type IamResult<T> = Result<T, IamError>;

impl Iam {
    pub fn new(model: Ferrite, auth: FerriteAuth) -> Self {
        Self { model, auth }
    }

    /// Answers one IAM request: authenticates it, runs its action, renders the reply.
    pub async fn handle(&self, parts: &http::request::Parts, body: &[u8]) -> http::Response<String> {
        let request_id = uuid_like();
        let (status, text) = match self.run(parts, body, &request_id).await {
            Ok(text) => (StatusCode::OK, text),
            Err(e) => {
                let sender = e.status.is_client_error();
                (e.status, xml::error(e.code, &e.message, sender, &request_id))
            }
        };
        let mut resp = http::Response::new(text);
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/xml"));
        if let Ok(v) = http::HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-requestid", v);
        }
        resp
    }

    async fn run(&self, parts: &http::request::Parts, body: &[u8], request_id: &str) -> IamResult<String> {
        let (caller, _) = self
            .auth
            .authenticate(parts, body, time::OffsetDateTime::now_utc())
            .map_err(auth_error)?;
        let params = params(parts, body);
        let action = params.get("Action").map(String::as_str).unwrap_or("");
        if let Some(v) = params.get("Version")
            && v != "2010-05-08"
        {
            return Err(IamError::new(
                "InvalidParameterValue",
                StatusCode::BAD_REQUEST,
                format!("Unsupported API version {v}; this endpoint speaks 2010-05-08."),
            ));
        }
        refuse_unsupported(&params)?;
        let p = Params(&params);
        let result = match action {
            "CreateUser" => self.create_user(&caller, &p).await,
            "GetUser" => self.get_user(&caller, &p).await,
            "ListUsers" => self.list_users(&caller, &p).await,
            "DeleteUser" => self.delete_user(&caller, &p).await,
            "CreateAccessKey" => self.create_access_key(&caller, &p).await,
            "ListAccessKeys" => self.list_access_keys(&caller, &p).await,
            "UpdateAccessKey" => self.update_access_key(&caller, &p).await,
            "DeleteAccessKey" => self.delete_access_key(&caller, &p).await,
            "GetAccessKeyLastUsed" => self.access_key_last_used(&caller, &p).await,
            "PutUserPolicy" => self.put_user_policy(&caller, &p).await,
            "GetUserPolicy" => self.get_user_policy(&caller, &p).await,
            "ListUserPolicies" => self.list_user_policies(&caller, &p).await,
            "DeleteUserPolicy" => self.delete_user_policy(&caller, &p).await,
            "CreatePolicy" => self.create_policy(&caller, &p).await,
            "GetPolicy" => self.get_policy(&caller, &p).await,
            "DeletePolicy" => self.delete_policy(&caller, &p).await,
            "ListPolicies" => self.list_policies(&caller, &p).await,
            "AttachUserPolicy" => self.attach_user_policy(&caller, &p).await,
            "DetachUserPolicy" => self.detach_user_policy(&caller, &p).await,
            "ListAttachedUserPolicies" => self.list_attached_user_policies(&caller, &p).await,
            "" => Err(IamError::new(
                "MissingAction",
                StatusCode::BAD_REQUEST,
                "The request has no Action.",
            )),
            other => Err(IamError::new(
                "InvalidAction",
                StatusCode::BAD_REQUEST,
                format!("The action {other} is not valid for this endpoint (or not implemented by Ferrite)."),
            )),
        }?;
        Ok(xml::response(action, result.as_deref(), request_id))
    }

    async fn create_user(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let u = self
            .model
            .create_user(caller, p.required("UserName")?)
            .await
            .map_err(model_error)?;
        Ok(Some(xml::user(&u, ACCOUNT_ID)))
    }

    async fn get_user(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        // Without a name, GetUser describes its caller.
        let name = match (p.get("UserName"), &caller.principal) {
            (Some(name), _) => name,
            (None, ferrite_model::Principal::User { display_name, .. }) => display_name.as_str(),
            (None, ferrite_model::Principal::Root { .. }) => return Ok(Some(xml::root_user(ACCOUNT_ID))),
            (None, ferrite_model::Principal::Anonymous) => return Err(model_error(ModelError::AccessDenied)),
        };
        let u = self.model.get_user(caller, name).await.map_err(model_error)?;
        Ok(Some(xml::user(&u, ACCOUNT_ID)))
    }

    async fn list_users(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let max = match p.get("MaxItems") {
            None => DEFAULT_MAX_ITEMS,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIST_USERS).contains(n))
                .ok_or_else(|| IamError::validation(format!("MaxItems must be between 1 and {MAX_LIST_USERS}")))?,
        };
        let page = self
            .model
            .list_users(caller, p.get("Marker"), max)
            .await
            .map_err(model_error)?;
        let mut out = String::from("<Users>");
        for u in &page.users {
            out.push_str(
                &xml::user(u, ACCOUNT_ID)
                    .replace("<User>", "<member>")
                    .replace("</User>", "</member>"),
            );
        }
        out.push_str("</Users>");
        match &page.next_marker {
            Some(m) => {
                out.push_str("<IsTruncated>true</IsTruncated>");
                out.push_str(&xml::element("Marker", m));
            }
            None => out.push_str("<IsTruncated>false</IsTruncated>"),
        }
        Ok(Some(out))
    }

    async fn delete_user(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        self.model
            .delete_user(caller, p.required("UserName")?)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    async fn create_access_key(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let user = user_or_self(caller, p)?;
        let key = self.model.create_access_key(caller, user).await.map_err(model_error)?;
        Ok(Some(xml::access_key("AccessKey", &key.info, Some(key.secret.expose()))))
    }

    async fn list_access_keys(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let user = user_or_self(caller, p)?;
        let keys = self.model.list_access_keys(caller, user).await.map_err(model_error)?;
        let mut out = String::from("<AccessKeyMetadata>");
        for k in &keys {
            out.push_str(&xml::access_key("member", k, None));
        }
        out.push_str("</AccessKeyMetadata><IsTruncated>false</IsTruncated>");
        Ok(Some(out))
    }

    async fn update_access_key(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let status = match p.required("Status")? {
            "Active" => KeyStatus::Active,
            "Inactive" => KeyStatus::Inactive,
            other => {
                return Err(IamError::validation(format!(
                    "Status must be Active or Inactive, not {other:?}"
                )));
            }
        };
        self.model
            .update_access_key(caller, p.get("UserName"), p.required("AccessKeyId")?, status)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    async fn delete_access_key(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        self.model
            .delete_access_key(caller, p.get("UserName"), p.required("AccessKeyId")?)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    async fn access_key_last_used(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let used = self
            .model
            .access_key_last_used(caller, p.required("AccessKeyId")?)
            .await
            .map_err(model_error)?;
        let last = match &used.last_used {
            Some(l) => format!(
                "{}{}{}",
                xml::element("LastUsedDate", &xml::date(l.ms)),
                xml::element("ServiceName", &l.service),
                xml::element("Region", &l.region)
            ),
            // IAM's answer for a key never used.
            None => "<ServiceName>N/A</ServiceName><Region>N/A</Region>".into(),
        };
        Ok(Some(format!(
            "{}<AccessKeyLastUsed>{last}</AccessKeyLastUsed>",
            xml::element("UserName", &used.user_name)
        )))
    }
}

impl Iam {
    async fn put_user_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let doc = p.required("PolicyDocument")?.to_string();
        self.model
            .put_user_policy(caller, p.required("UserName")?, p.required("PolicyName")?, doc)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    async fn get_user_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let (user, name) = (p.required("UserName")?, p.required("PolicyName")?);
        let doc = self
            .model
            .get_user_policy(caller, user, name)
            .await
            .map_err(model_error)?;
        Ok(Some(format!(
            "{}{}{}",
            xml::element("UserName", user),
            xml::element("PolicyName", name),
            xml::element("PolicyDocument", &xml::policy_document(&doc))
        )))
    }

    async fn list_user_policies(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let names = self
            .model
            .list_user_policies(caller, p.required("UserName")?)
            .await
            .map_err(model_error)?;
        let mut out = String::from("<PolicyNames>");
        for n in &names {
            out.push_str(&xml::element("member", n));
        }
        out.push_str("</PolicyNames><IsTruncated>false</IsTruncated>");
        Ok(Some(out))
    }

    async fn delete_user_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        self.model
            .delete_user_policy(caller, p.required("UserName")?, p.required("PolicyName")?)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    async fn create_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let doc = p.required("PolicyDocument")?.to_string();
        let info = self
            .model
            .create_policy(
                caller,
                p.required("PolicyName")?,
                p.get("Description").unwrap_or(""),
                doc,
            )
            .await
            .map_err(model_error)?;
        Ok(Some(xml::managed_policy("Policy", &info)))
    }

    async fn get_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let info = self
            .model
            .get_policy(caller, p.required("PolicyArn")?)
            .await
            .map_err(model_error)?;
        Ok(Some(xml::managed_policy("Policy", &info)))
    }

    async fn delete_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        self.model
            .delete_policy(caller, p.required("PolicyArn")?)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    /// ListPolicies: `Scope` All (default), AWS (the built-in ones) or Local (the
    /// customer's); `OnlyAttached`.
    async fn list_policies(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let scope = p.get("Scope").unwrap_or("All");
        if !matches!(scope, "All" | "AWS" | "Local") {
            return Err(IamError::validation(format!(
                "Scope must be All, AWS or Local, not {scope:?}"
            )));
        }
        let only_attached = p.get("OnlyAttached") == Some("true");
        let all = self.model.list_policies(caller).await.map_err(model_error)?;
        let mut out = String::from("<Policies>");
        for info in all
            .iter()
            .filter(|i| (scope == "All" || (scope == "AWS") == i.built_in) && (!only_attached || i.attachments > 0))
        {
            out.push_str(&xml::managed_policy("member", info));
        }
        out.push_str("</Policies><IsTruncated>false</IsTruncated>");
        Ok(Some(out))
    }

    async fn attach_user_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        self.model
            .attach_user_policy(caller, p.required("UserName")?, p.required("PolicyArn")?)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    async fn detach_user_policy(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        self.model
            .detach_user_policy(caller, p.required("UserName")?, p.required("PolicyArn")?)
            .await
            .map_err(model_error)?;
        Ok(None)
    }

    async fn list_attached_user_policies(&self, caller: &Caller, p: &Params<'_>) -> IamResult<Option<String>> {
        let attached = self
            .model
            .list_attached_user_policies(caller, p.required("UserName")?)
            .await
            .map_err(model_error)?;
        let mut out = String::from("<AttachedPolicies>");
        for (name, arn) in &attached {
            out.push_str(&format!(
                "<member>{}{}</member>",
                xml::element("PolicyName", name),
                xml::element("PolicyArn", arn)
            ));
        }
        out.push_str("</AttachedPolicies><IsTruncated>false</IsTruncated>");
        Ok(Some(out))
    }
}

/// The request's parameters: the query's, then the form body's (a POST's body wins).
fn params(parts: &http::request::Parts, body: &[u8]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if parts.method == http::Method::POST {
        out.extend(form_urlencoded::parse(body).into_owned());
    }
    out
}

struct Params<'a>(&'a HashMap<String, String>);

/// The user a key operation names, or without a name (as on AWS) the user who signed
/// it. Root's own keys are configured, not managed through IAM.
fn user_or_self<'a>(caller: &'a Caller, p: &'a Params<'_>) -> IamResult<&'a str> {
    match (p.get("UserName"), &caller.principal) {
        (Some(name), _) => Ok(name),
        (None, ferrite_model::Principal::User { display_name, .. }) => Ok(display_name),
        (None, _) => Err(IamError::validation(
            "UserName is required: root's keys are configured, not managed here",
        )),
    }
}

/// Refuses the IAM parameters Ferrite does not implement, whatever the action, rather
/// than ignore them: tags, permissions boundaries and paths other than `/`.
fn refuse_unsupported(params: &HashMap<String, String>) -> IamResult<()> {
    let not_implemented = |what: &str| {
        Err(IamError::new(
            "NotImplemented",
            StatusCode::NOT_IMPLEMENTED,
            format!("{what} not implemented by Ferrite; the request was not carried out."),
        ))
    };
    for (name, value) in params {
        if name.starts_with("Tags.") {
            return not_implemented("IAM tags are");
        }
        if name == "PermissionsBoundary" {
            return not_implemented("Permissions boundaries are");
        }
        if (name == "Path" || name == "PathPrefix") && value != "/" {
            return not_implemented("IAM paths other than / are");
        }
    }
    Ok(())
}

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> IamResult<&str> {
        self.get(name).ok_or_else(|| {
            IamError::validation(format!(
                "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not \
                 be null"
            ))
        })
    }
}

fn auth_error(e: AuthFailure) -> IamError {
    use StatusCode as S;
    match e {
        AuthFailure::Signature(SigV4Error::Missing) => IamError::new(
            "MissingAuthenticationToken",
            S::FORBIDDEN,
            "Request is missing Authentication Token",
        ),
        AuthFailure::Signature(SigV4Error::Malformed(m)) => IamError::new("IncompleteSignature", S::BAD_REQUEST, m),
        AuthFailure::Signature(SigV4Error::Skewed) => IamError::new(
            "SignatureDoesNotMatch",
            S::FORBIDDEN,
            "Signature expired: the request time is more than 15 minutes from the server's time.",
        ),
        AuthFailure::Signature(SigV4Error::Mismatch) => IamError::new(
            "SignatureDoesNotMatch",
            S::FORBIDDEN,
            "The request signature we calculated does not match the signature you provided.",
        ),
        AuthFailure::UnknownKey => IamError::new(
            "InvalidClientTokenId",
            S::FORBIDDEN,
            "The security token included in the request is invalid.",
        ),
        AuthFailure::Internal => internal(),
    }
}

fn internal() -> IamError {
    IamError::new(
        "ServiceFailure",
        StatusCode::INTERNAL_SERVER_ERROR,
        "The request processing has failed because of an unknown error.",
    )
}

/// Model errors to IAM errors: one exhaustive `match`. The object errors cannot come
/// from user operations; they are answered as the server's failure, and logged.
/// The IAM error a model error is (the admin API answers the same codes in JSON).
pub(crate) fn model_error(e: ModelError) -> IamError {
    use StatusCode as S;
    let msg = e.to_string();
    match e {
        ModelError::NoSuchEntity(m) => IamError::new("NoSuchEntity", S::NOT_FOUND, m),
        ModelError::EntityAlreadyExists(m) => IamError::new("EntityAlreadyExists", S::CONFLICT, m),
        ModelError::LimitExceeded(m) => IamError::new("LimitExceeded", S::CONFLICT, m),
        ModelError::DeleteConflict(m) => IamError::new("DeleteConflict", S::CONFLICT, m),
        ModelError::ValidationError(m) => IamError::validation(m),
        ModelError::AccessDenied => IamError::new(
            "AccessDenied",
            S::FORBIDDEN,
            "You are not authorized to perform this operation.",
        ),
        ModelError::MalformedPolicyDocument(m) | ModelError::MalformedPolicy(m) => {
            IamError::new("MalformedPolicyDocument", S::BAD_REQUEST, m)
        }
        ModelError::PolicyTooLarge { .. } => IamError::new("MalformedPolicyDocument", S::BAD_REQUEST, msg),
        ModelError::Store(_) if e.is_conflict() => {
            tracing::warn!(error = %msg, "write conflicts exhausted the retries");
            IamError::new("Throttling", S::BAD_REQUEST, "Rate exceeded")
        }
        ModelError::Store(_) if e.is_storage_full() => {
            tracing::error!(error = %msg, "out of space");
            IamError::new(
                "ServiceUnavailable",
                S::SERVICE_UNAVAILABLE,
                "The server has no space left. Please try again later.",
            )
        }
        ModelError::InvalidBucketName(_)
        | ModelError::BucketAlreadyOwnedByYou
        | ModelError::BucketAlreadyExists
        | ModelError::NoSuchBucket
        | ModelError::BucketNotEmpty
        | ModelError::NoSuchBucketPolicy
        | ModelError::NoSuchPublicAccessBlockConfiguration
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
        | ModelError::MalformedAcl(_)
        | ModelError::AccessControlListNotSupported
        | ModelError::InvalidBucketAclWithObjectOwnership
        | ModelError::OwnershipControlsNotFound
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
        | ModelError::Store(_)
        | ModelError::Corrupt(_)
        | ModelError::StoreMismatch(_)
        | ModelError::KeyUnavailable(_)
        | ModelError::NoSuchEncryptionConfiguration
        | ModelError::WrongCustomerKey
        | ModelError::Kms { .. }
        | ModelError::NotImplemented(_)
        | ModelError::Internal(_) => {
            tracing::error!(error = %msg, "IAM request failed");
            internal()
        }
    }
}

/// A request id in the shape AWS uses (a UUID), for the other JSON/XML endpoints.
pub(crate) fn request_id() -> String {
    uuid_like()
}

/// A request id in the shape IAM uses (a UUID).
fn uuid_like() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_uuids() {
        let a = uuid_like();
        let b = uuid_like();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }

    #[test]
    fn form_body_and_query_parameters_are_read() {
        let req = http::Request::post("/?Version=2010-05-08").body(()).unwrap();
        let (parts, ()) = req.into_parts();
        let p = params(&parts, b"Action=CreateUser&UserName=a%2Bb%40c");
        assert_eq!(p["Action"], "CreateUser");
        assert_eq!(p["UserName"], "a+b@c");
        assert_eq!(p["Version"], "2010-05-08");
    }

    #[test]
    fn tags_boundaries_and_paths_are_refused_not_ignored() {
        let form = |body: &str| {
            let (parts, ()) = http::Request::post("/").body(()).unwrap().into_parts();
            params(&parts, body.as_bytes())
        };
        for body in [
            "Action=CreateUser&UserName=a&Tags.member.1.Key=team&Tags.member.1.Value=x",
            "Action=CreateUser&UserName=a&PermissionsBoundary=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Freadonly",
            "Action=CreateUser&UserName=a&Path=%2Fdivision%2F",
            "Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Path=%2Fteam%2F",
            "Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Tags.member.1.Key=k",
            "Action=ListPolicies&PathPrefix=%2Fteam%2F",
        ] {
            let e = refuse_unsupported(&form(body)).unwrap_err();
            assert_eq!((e.code, e.status.as_u16()), ("NotImplemented", 501), "{body}");
        }
        for body in [
            "Action=CreateUser&UserName=a",
            "Action=CreateUser&UserName=a&Path=%2F",
            "Action=ListPolicies&PathPrefix=%2F&Scope=Local",
        ] {
            assert!(refuse_unsupported(&form(body)).is_ok(), "{body}");
        }
    }

    #[test]
    fn model_errors_keep_iams_codes_and_statuses() {
        let cases = [
            (ModelError::NoSuchEntity("x".into()), "NoSuchEntity", 404),
            (ModelError::EntityAlreadyExists("x".into()), "EntityAlreadyExists", 409),
            (ModelError::LimitExceeded("x".into()), "LimitExceeded", 409),
            (ModelError::DeleteConflict("x".into()), "DeleteConflict", 409),
            (ModelError::ValidationError("x".into()), "ValidationError", 400),
            (ModelError::AccessDenied, "AccessDenied", 403),
            (ModelError::Internal("secret detail".into()), "ServiceFailure", 500),
        ];
        for (e, code, status) in cases {
            let got = model_error(e);
            assert_eq!((got.code, got.status.as_u16()), (code, status));
            assert!(!got.message.contains("secret detail"));
        }
    }
}

//! POST Object: browser uploads with an HTML form (`multipart/form-data` to
//! `POST /bucket`), signed by a POST policy (SigV4 or SigV2) or anonymous.
//!
//! The server routes these here before s3s, whose PostObject buffers the whole file in
//! memory. Here the form is parsed as it streams in (the `multer` crate): the fields
//! before the `file` part are read into memory under tight bounds (20 KiB in all, as
//! AWS, and [`MAX_FIELDS`] fields); the file part is handed to the model as a stream,
//! through the same write path as PutObject (staged while hashed, fsynced, one commit),
//! never held whole; fields after it are ignored, as AWS does. Everything the form
//! asks is decided before the file's first byte is read: the signature, the policy's
//! expiration and conditions (but the size range, which is enforced while streaming:
//! past the maximum the upload is abandoned, under the minimum nothing is stored), the
//! fields no condition covers, the features not built yet (501), and the authorizer
//! (the upload is a PutObject by the signer, or by the anonymous principal).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use ferrite_model::{BodyClaims, Caller, ChecksumAlgorithm, Ferrite, IncomingBody, PutAttrs};
use futures::Stream;
use hmac::Mac;
use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::dto::{Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::FerriteAuth;
use crate::convert::AttrsIn;
use crate::iam::sigv4;

mod policy;
mod stream;

use policy::Policy;
use stream::{FileStream, Paced, Pacing};

/// The fields before the file, names and values together (AWS's bound).
pub const MAX_PRE_DATA: usize = 20 * 1024;
/// The fields before the file, counted.
pub const MAX_FIELDS: usize = 100;
/// How long the fields before the file may take to arrive.
const FIELDS_TIMEOUT: Duration = Duration::from_secs(30);
/// The parser reads at most this much of the body per poll before yielding, so that
/// what it buffers in one go is bounded whatever the client's pace.
const READ_BURST: usize = 256 * 1024;
/// Bytes the parser may read without handing anything on (a part header or a preamble
/// that never ends): past it the form is refused.
const MAX_UNCONSUMED: u64 = 1024 * 1024;
/// Fields a form may carry without a policy condition.
const EXEMPT: &[&str] = &["awsaccesskeyid", "signature", "file", "policy", "x-amz-signature"];

/// The POST upload handler: cheap to clone.
#[derive(Clone)]
pub struct PostObject {
    model: Ferrite,
    auth: FerriteAuth,
    sigv2: bool,
    /// `--allow-sse-c-over-http`: SSE-C keys accepted over plain HTTP from anywhere.
    sse_c_over_http: bool,
}

/// What the server knows of the request besides its body.
pub struct PostRequest<'a> {
    pub headers: &'a HeaderMap,
    /// The connection the form came over (for policies' `aws:SourceIp`).
    pub client: Option<crate::ClientInfo>,
    pub bucket: &'a str,
    /// `http://host/bucket` (path style) or `http://bucket.host` (virtual-hosted): the
    /// object's URL is this, a slash and the key.
    pub location_base: String,
}

/// The condition keys of a form upload: the request's, with the form's fields standing
/// in for the headers a PUT would carry, and `s3:authType` POST.
fn form_context(form: &Form, req: &PostRequest<'_>) -> ferrite_policy::Context {
    let root: http::Uri = http::Uri::from_static("/");
    let mut cx = crate::request_context(&root, req.headers, req.client.as_ref(), OffsetDateTime::now_utc());
    cx.insert("s3:authType", "POST");
    if form.get("x-amz-algorithm").is_some() || form.get("x-amz-signature").is_some() {
        cx.insert("s3:signatureversion", "AWS4-HMAC-SHA256");
    } else if form.get("signature").is_some() {
        cx.insert("s3:signatureversion", "AWS");
    }
    for (field, key) in [
        ("acl", "s3:x-amz-acl"),
        ("x-amz-storage-class", "s3:x-amz-storage-class"),
        ("x-amz-server-side-encryption", "s3:x-amz-server-side-encryption"),
    ] {
        if let Some(v) = form.get(field) {
            cx.insert(key, v);
        }
    }
    cx
}

fn err(code: S3ErrorCode, msg: impl Into<String>) -> S3Error {
    S3Error::with_message(code, msg.into())
}

fn invalid_argument(msg: impl Into<String>) -> S3Error {
    err(S3ErrorCode::InvalidArgument, msg)
}

fn policy_failed(what: &str) -> S3Error {
    err(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {what}"),
    )
}

fn invalid_policy(what: &str) -> S3Error {
    err(S3ErrorCode::InvalidPolicyDocument, format!("Invalid Policy: {what}"))
}

fn malformed() -> S3Error {
    err(
        S3ErrorCode::MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

fn must_contain(field: &str) -> S3Error {
    invalid_argument(format!(
        "Bucket POST must contain a field named '{field}'.  If it is specified, please check the order of the fields."
    ))
}

impl PostObject {
    pub fn new(model: Ferrite, auth: FerriteAuth, sigv2: bool) -> Self {
        Self {
            model,
            auth,
            sigv2,
            sse_c_over_http: false,
        }
    }

    /// Accepts SSE-C keys over plain HTTP from any client (`--allow-sse-c-over-http`).
    pub fn with_sse_c_over_http(mut self, allow: bool) -> Self {
        self.sse_c_over_http = allow;
        self
    }

    /// Handles one POST upload; the answer is the success response or an S3 error.
    pub async fn handle<S, E>(&self, req: PostRequest<'_>, body: S) -> http::Response<String>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        match self.upload(req, body).await {
            Ok(resp) => resp,
            Err(e) => error_response(&e),
        }
    }

    async fn upload<S, E>(&self, req: PostRequest<'_>, body: S) -> Result<http::Response<String>, S3Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let boundary = req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(malformed)?;
        let pacing = Pacing::default();
        let paced = Paced {
            inner: body,
            spent: 0,
            pacing: pacing.clone(),
        };
        let mut form = multer::Multipart::new(paced, boundary);
        let (fields, file) = tokio::time::timeout(FIELDS_TIMEOUT, read_fields(&mut form, &pacing))
            .await
            .map_err(|_| {
                err(
                    S3ErrorCode::RequestTimeout,
                    "Your socket connection to the server was not read from or written to within the timeout period.",
                )
            })??;
        let form = Form::new(fields)?;
        form.refuse_unimplemented()?;
        if form.get(crate::sse_c::KEY_HEADERS[0]).is_some()
            && !crate::sse_c::sse_c_transport_allowed(req.client.as_ref(), self.sse_c_over_http)
        {
            return Err(crate::sse_c::insecure_transport());
        }
        let (mut caller, policy) = self.authenticate(&form)?;
        caller.context = std::sync::Arc::new(ferrite_model::RequestContext::ready(form_context(&form, &req)));
        let filename = file.file_name().unwrap_or("").to_string();
        let key = form
            .get("key")
            .ok_or_else(|| must_contain("key"))?
            .replace("${filename}", &filename);
        let mut range = (0, ferrite_model::MAX_PUT_SIZE);
        if let Some(policy) = &policy {
            range = policy.check(&form, req.bucket, &key, OffsetDateTime::now_utc())?;
            range.1 = range.1.min(ferrite_model::MAX_PUT_SIZE);
        }
        // After the signature and the policy (whose `bucket` condition names the bucket
        // the form was made for: a form posted elsewhere fails it with 403).
        if let Some(b) = form.get("bucket")
            && b != req.bucket
        {
            return Err(invalid_argument(
                "The bucket field does not name the bucket the form is posted to.",
            ));
        }
        let (put, claims) = form.put_attrs()?;
        let stream = FileStream {
            field: file,
            received: 0,
            range,
            pacing,
            ended: false,
        };
        let body = IncomingBody {
            stream,
            claims,
            trailer_value: None,
        };
        let info = self
            .model
            .put_object(&caller, req.bucket, &key, body, put)
            .await
            .map_err(crate::to_s3)?;
        Ok(success(&form, &req, &key, &info.etag, info.version_id.as_deref()))
    }

    /// Who signed the form (checking its signature over the policy), and the policy;
    /// a form without signature and policy is anonymous.
    fn authenticate(&self, form: &Form) -> Result<(Caller, Option<Policy>), S3Error> {
        let policy_b64 = form.get("policy");
        let v4 = form.get("x-amz-algorithm").is_some() || form.get("x-amz-signature").is_some();
        let v2 = form.get("awsaccesskeyid").is_some() || form.get("signature").is_some();
        let access_key = match (v4, v2, policy_b64) {
            (false, false, None) => return Ok((Caller::anonymous(), None)),
            (false, false, Some(_)) => return Err(must_contain("AWSAccessKeyId")),
            (_, _, None) => return Err(must_contain("policy")),
            (true, _, Some(p)) => self.verify_v4(form, p)?,
            (false, true, Some(p)) => self.verify_v2(form, p)?,
        };
        let policy = Policy::parse(policy_b64.unwrap_or_default())?;
        Ok((self.auth.caller_for(Some(&access_key), "s3"), Some(policy)))
    }

    fn secret_of(&self, access_key: &str) -> Result<ferrite_model::Secret, S3Error> {
        match self.auth.lookup(access_key) {
            Ok(Some(owner)) => Ok(owner.secret),
            Ok(None) => Err(err(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            )),
            Err(e) => Err(crate::to_s3(e)),
        }
    }

    /// Checks a SigV4 form's signature; returns its access key.
    fn verify_v4(&self, form: &Form, policy: &str) -> Result<String, S3Error> {
        let algorithm = form
            .get("x-amz-algorithm")
            .ok_or_else(|| must_contain("x-amz-algorithm"))?;
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(invalid_argument(format!(
                "Unsupported algorithm {algorithm}; use AWS4-HMAC-SHA256."
            )));
        }
        let credential = form
            .get("x-amz-credential")
            .ok_or_else(|| must_contain("x-amz-credential"))?;
        let date = form.get("x-amz-date").ok_or_else(|| must_contain("x-amz-date"))?;
        let given = form
            .get("x-amz-signature")
            .ok_or_else(|| must_contain("x-amz-signature"))?;
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key, day, region, service, "aws4_request"] = parts[..] else {
            return Err(invalid_argument(format!("Invalid credential {credential:?}.")));
        };
        if service != "s3" || day.len() != 8 || !date.starts_with(day) {
            return Err(invalid_argument(format!(
                "Invalid credential {credential:?} for the date {date:?}."
            )));
        }
        let secret = self.secret_of(access_key)?;
        let key = sigv4::signing_key(&secret, day, region, service);
        let expected = hex::encode(sigv4::hmac_sha256(&key, policy.as_bytes()));
        if !bool::from(expected.as_bytes().ct_eq(given.to_ascii_lowercase().as_bytes())) {
            return Err(signature_mismatch());
        }
        Ok(access_key.to_string())
    }

    /// Checks a SigV2 form's signature; returns its access key.
    fn verify_v2(&self, form: &Form, policy: &str) -> Result<String, S3Error> {
        if !self.sigv2 {
            return Err(err(
                S3ErrorCode::InvalidRequest,
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ));
        }
        let access_key = form
            .get("awsaccesskeyid")
            .ok_or_else(|| must_contain("AWSAccessKeyId"))?;
        let given = form.get("signature").ok_or_else(|| must_contain("signature"))?;
        let secret = self.secret_of(access_key)?;
        let given = base64::engine::general_purpose::STANDARD
            .decode(given)
            .map_err(|_| signature_mismatch())?;
        let mut mac =
            hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.expose().as_bytes()).map_err(|_| signature_mismatch())?;
        mac.update(policy.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&given).map_err(|_| signature_mismatch())?;
        Ok(access_key.to_string())
    }
}

fn signature_mismatch() -> S3Error {
    err(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

/// Reads the fields before the file part, bounded; returns them (names as sent) and
/// the file part, ready to stream.
async fn read_fields(
    form: &mut multer::Multipart<'static>,
    pacing: &Pacing,
) -> Result<(Vec<(String, String)>, multer::Field<'static>), S3Error> {
    let too_large = || {
        err(
            S3ErrorCode::MaxPostPreDataLengthExceededError,
            "Your POST request fields preceding the upload file were too large.",
        )
    };
    let mut fields = Vec::new();
    let mut size = 0usize;
    loop {
        let field = form.next_field().await.map_err(|e| form_error(e, pacing))?;
        pacing.consumed();
        let Some(mut field) = field else {
            return Err(err(
                S3ErrorCode::IncorrectNumberOfFilesInPostRequest,
                "POST requires exactly one file upload per request.",
            ));
        };
        let name = field.name().unwrap_or("").to_string();
        if name.eq_ignore_ascii_case("file") {
            return Ok((fields, field));
        }
        if fields.len() == MAX_FIELDS {
            return Err(too_large());
        }
        size += name.len();
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| form_error(e, pacing))? {
            pacing.consumed();
            size += chunk.len();
            if size > MAX_PRE_DATA {
                return Err(too_large());
            }
            value.extend_from_slice(&chunk);
        }
        let value =
            String::from_utf8(value).map_err(|_| invalid_argument(format!("The field {name} is not UTF-8.")))?;
        fields.push((name, value));
    }
}

fn form_error(e: multer::Error, pacing: &Pacing) -> S3Error {
    if pacing.overflowed.load(Ordering::Relaxed) {
        return malformed();
    }
    match e {
        multer::Error::StreamReadFailed(_) => {
            err(S3ErrorCode::IncompleteBody, "The request body terminated unexpectedly")
        }
        _ => malformed(),
    }
}

/// The form's fields by lower-cased name (AWS treats field names without regard to
/// case), in the order sent.
struct Form {
    fields: Vec<(String, String)>,
    by_name: HashMap<String, usize>,
}

impl Form {
    fn new(fields: Vec<(String, String)>) -> Result<Self, S3Error> {
        let mut by_name = HashMap::new();
        for (i, (name, _)) in fields.iter().enumerate() {
            if by_name.insert(name.to_ascii_lowercase(), i).is_some() {
                return Err(invalid_argument(format!("The field {name} is given more than once.")));
            }
        }
        Ok(Self { fields, by_name })
    }

    fn get(&self, lower_name: &str) -> Option<&str> {
        self.by_name.get(lower_name).map(|&i| self.fields[i].1.as_str())
    }

    fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.fields.iter().map(|(n, _)| n.to_ascii_lowercase())
    }

    /// Never half-accept: fields asking for features not built yet are refused (501),
    /// as the same headers are on other requests; so are `x-amz-*` fields this server
    /// does not know, rather than dropped unseen.
    fn refuse_unimplemented(&self) -> Result<(), S3Error> {
        for name in self.names() {
            crate::unsupported::refuse_unimplemented_field(&name)?;
            let known = name.starts_with("x-amz-meta-")
                || name.starts_with("x-amz-checksum-")
                || matches!(
                    name.as_str(),
                    "x-amz-algorithm"
                        | "x-amz-credential"
                        | "x-amz-date"
                        | "x-amz-signature"
                        | "x-amz-storage-class"
                        | "x-amz-website-redirect-location"
                        | "x-amz-server-side-encryption"
                        | "x-amz-server-side-encryption-aws-kms-key-id"
                        | "x-amz-server-side-encryption-context"
                        | "x-amz-server-side-encryption-bucket-key-enabled"
                        | "x-amz-server-side-encryption-customer-algorithm"
                        | "x-amz-server-side-encryption-customer-key"
                        | "x-amz-server-side-encryption-customer-key-md5"
                        | "x-amz-object-lock-mode"
                        | "x-amz-object-lock-retain-until-date"
                        | "x-amz-object-lock-legal-hold"
                );
            if name.starts_with("x-amz-") && !known {
                return Err(err(
                    S3ErrorCode::NotImplemented,
                    format!("The POST field {name} is not implemented; the request was not carried out."),
                ));
            }
        }
        Ok(())
    }

    /// The new object's attributes and what the form claims about the file.
    fn put_attrs(&self) -> Result<(PutAttrs, BodyClaims), S3Error> {
        let text = |n: &str| self.get(n).map(str::to_string);
        let expires = match self.get("expires") {
            None => None,
            Some(v) => Some(
                Timestamp::parse(TimestampFormat::HttpDate, v)
                    .map_err(|_| invalid_argument(format!("Invalid Expires field {v:?}.")))?,
            ),
        };
        let metadata: HashMap<String, String> = self
            .fields
            .iter()
            .filter_map(|(n, v)| {
                let lower = n.to_ascii_lowercase();
                lower.strip_prefix("x-amz-meta-").map(|m| (m.to_string(), v.clone()))
            })
            .collect();
        let attrs = AttrsIn {
            content_type: text("content-type"),
            cache_control: text("cache-control"),
            content_disposition: text("content-disposition"),
            content_encoding: text("content-encoding"),
            content_language: text("content-language"),
            expires,
            metadata: (!metadata.is_empty()).then_some(metadata),
            website_redirect: text("x-amz-website-redirect-location"),
        }
        .into_model();
        let acl = crate::acl::acl_spec(crate::acl::AclHeaders {
            canned: self.get("acl"),
            ..Default::default()
        })?;
        let storage_class =
            crate::object::storage_class(self.get("x-amz-storage-class").map(|s| s.to_string().into()))?;
        let put = PutAttrs {
            attrs,
            storage_class,
            if_none_match: None,
            if_match: None,
            acl,
            encryption: crate::object::sse_request(crate::object::SseHeaders {
                sse: self.get("x-amz-server-side-encryption"),
                kms_key_id: self.get("x-amz-server-side-encryption-aws-kms-key-id"),
                context: self.get("x-amz-server-side-encryption-context"),
                bucket_key: match self.get("x-amz-server-side-encryption-bucket-key-enabled") {
                    None => None,
                    Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
                    Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
                    Some(_) => {
                        return Err(crate::convert::invalid_argument(
                            "x-amz-server-side-encryption-bucket-key-enabled must be true or false",
                        ));
                    }
                },
                customer: crate::sse_c::customer_key(crate::sse_c::Headers {
                    algorithm: self.get("x-amz-server-side-encryption-customer-algorithm"),
                    key: self.get("x-amz-server-side-encryption-customer-key"),
                    key_md5: self.get("x-amz-server-side-encryption-customer-key-md5"),
                })?,
            })?,
            tags: match self.get("tagging") {
                Some(xml) => crate::tagging::form_tags(xml)?,
                None => Vec::new(),
            },
            lock: crate::lock::lock_request(
                self.get("x-amz-object-lock-mode"),
                match self.get("x-amz-object-lock-retain-until-date") {
                    None => None,
                    Some(v) => Some(Timestamp::parse(TimestampFormat::DateTime, v).map_err(|_| {
                        invalid_argument(format!("Invalid x-amz-object-lock-retain-until-date field {v:?}."))
                    })?),
                },
                self.get("x-amz-object-lock-legal-hold"),
            )?,
        };
        let checksums = ChecksumAlgorithm::ALL.map(|a| {
            let name = format!("x-amz-checksum-{}", a.name().to_ascii_lowercase());
            (a, self.get(&name).map(str::to_string))
        });
        let checksum = crate::convert::header_checksum(checksums.each_ref().map(|(a, v)| (*a, v.as_ref())))?;
        let sdk_algorithm = match self.get("x-amz-checksum-algorithm") {
            None => None,
            Some(name) => Some(
                ChecksumAlgorithm::from_name(name)
                    .ok_or_else(|| invalid_argument(format!("Invalid x-amz-checksum-algorithm {name:?}.")))?,
            ),
        };
        let claims = BodyClaims {
            length: None,
            content_md5: crate::convert::content_md5(text("content-md5").as_ref())?,
            checksum,
            trailer: None,
            sdk_algorithm,
        };
        Ok((put, claims))
    }
}

/// The answer to a stored upload: a redirect when the form asks for one (with a URL
/// that is one), else the status it asks for (200, 201 with the PostResponse document,
/// 204 otherwise).
fn success(form: &Form, req: &PostRequest<'_>, key: &str, etag: &str, version: Option<&str>) -> http::Response<String> {
    let quoted = format!("\"{etag}\"");
    let location = format!("{}/{}", req.location_base, encode_key(key));
    let redirect = form
        .get("success_action_redirect")
        .or_else(|| form.get("redirect"))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let mut resp = http::Response::new(String::new());
    if let Some(url) = redirect {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("bucket", req.bucket)
            .append_pair("key", key)
            .append_pair("etag", &quoted)
            .finish();
        let sep = if url.contains('?') { '&' } else { '?' };
        *resp.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(v) = HeaderValue::from_str(&format!("{url}{sep}{query}")) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
    } else {
        match form.get("success_action_status") {
            Some("200") => *resp.status_mut() = StatusCode::OK,
            Some("201") => {
                *resp.status_mut() = StatusCode::CREATED;
                *resp.body_mut() = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    xml_escape(&location),
                    xml_escape(req.bucket),
                    xml_escape(key),
                    xml_escape(&quoted)
                );
                resp.headers_mut()
                    .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            }
            _ => *resp.status_mut() = StatusCode::NO_CONTENT,
        }
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&quoted) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        resp.headers_mut().insert("x-amz-version-id", v);
    }
    resp
}

fn encode_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(key, KEEP).to_string()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An S3 error document for a refused upload. A refusal that leaves the body unread
/// closes the connection.
fn error_response(e: &S3Error) -> http::Response<String> {
    let status = e.status_code().unwrap_or(StatusCode::BAD_REQUEST);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
        xml_escape(e.code().as_str()),
        xml_escape(e.message().unwrap_or(""))
    );
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn duplicate_fields_and_unknown_amz_fields_are_refused() {
        assert!(Form::new(vec![("key".into(), "a".into()), ("KEY".into(), "b".into())]).is_err());
        // Object Lock is built: its fields are the PUT's headers.
        let f = form(&[
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            ("x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00Z"),
            ("x-amz-object-lock-legal-hold", "ON"),
        ]);
        assert!(f.refuse_unimplemented().is_ok());
        let (put, _) = f.put_attrs().unwrap();
        assert_eq!(put.lock.retention.map(|r| r.1), Some(1_893_456_000_000));
        assert_eq!(put.lock.legal_hold, Some(true));
        let f = form(&[("x-amz-object-lock-retain-until-date", "soon")]);
        assert_eq!(f.put_attrs().unwrap_err().code(), &S3ErrorCode::InvalidArgument);
        let f = form(&[("x-amz-object-lock-other", "x")]);
        assert_eq!(
            f.refuse_unimplemented().unwrap_err().code(),
            &S3ErrorCode::NotImplemented
        );
        assert!(
            form(&[("x-amz-server-side-encryption", "AES256")])
                .refuse_unimplemented()
                .is_ok()
        );
        assert!(
            form(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "alias/k"),
                ("x-amz-server-side-encryption-context", "e30="),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ])
            .refuse_unimplemented()
            .is_ok()
        );
        // Tags are built: the form's `tagging` document is the PUT's x-amz-tagging.
        assert!(form(&[("tagging", "<Tagging/>")]).refuse_unimplemented().is_ok());
        let f = form(&[("x-amz-grant-read", "id=x")]);
        assert_eq!(
            f.refuse_unimplemented().unwrap_err().code(),
            &S3ErrorCode::NotImplemented
        );
        let f = form(&[
            ("x-amz-meta-a", "1"),
            ("X-Amz-Checksum-Crc32", "AAAAAA=="),
            ("submit", "Upload"),
        ]);
        assert!(f.refuse_unimplemented().is_ok());
    }

    #[test]
    fn keys_in_locations_are_percent_encoded() {
        assert_eq!(encode_key("a b/c+d.txt"), "a%20b/c%2Bd.txt");
    }
}

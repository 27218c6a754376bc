//! CORS: the bucket operations (Put/Get/DeleteBucketCors), and the two places CORS
//! meets HTTP outside s3s: the preflight (`OPTIONS`, answered without authentication
//! before s3s sees the request, see [`preflight`]) and the headers added to the
//! response of an actual cross-origin request ([`CorsRequest::decorate`]). The rules
//! and the matching are the model's ([`ferrite_model::find_rule`]).
//!
//! A request without an `Origin` header costs nothing here: [`CorsRequest::of`] is one
//! header lookup, and only a request with an Origin reads the bucket's configuration.

use ferrite_model::{CorsConfig, CorsMethod, CorsRule, Ferrite, ModelError, find_rule};
use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::dto::{self, *};
use s3s::{S3Request, S3Response, S3Result};

use crate::{FerriteS3, to_s3};

const ORIGIN: &str = "origin";
const REQUEST_METHOD: &str = "access-control-request-method";
const REQUEST_HEADERS: &str = "access-control-request-headers";
/// What every CORS answer varies by (AWS sends the same three).
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of \
     Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by \
     the resource's CORS spec.";

impl FerriteS3 {
    pub(crate) async fn do_put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let config = config_of(input.cors_configuration).map_err(to_s3)?;
        self.model
            .put_bucket_cors(&caller, &input.bucket, config)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    pub(crate) async fn do_get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let caller = self.caller(&req);
        let config = self
            .model
            .bucket_cors(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(config.rules.into_iter().map(rule_out).collect()),
        }))
    }

    pub(crate) async fn do_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let caller = self.caller(&req);
        self.model
            .delete_bucket_cors(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketCorsOutput::default()))
    }
}

/// A `CORSConfiguration` document as the model's (the S3 API's and the admin API's one
/// conversion).
fn config_of(doc: CORSConfiguration) -> Result<CorsConfig, ModelError> {
    let rules = doc.cors_rules.into_iter().map(rule_in).collect::<Result<Vec<_>, _>>()?;
    Ok(CorsConfig { rules })
}

/// A `CORSConfiguration` XML document (the admin API's body), parsed by the same XML
/// reader as the S3 API's.
pub(crate) fn config_from_xml(xml: &str) -> S3Result<CorsConfig> {
    let malformed = || {
        s3s::S3Error::with_message(
            s3s::S3ErrorCode::MalformedXML,
            "not a well-formed CORSConfiguration document",
        )
    };
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let doc: CORSConfiguration = s3s::xml::Deserialize::deserialize(&mut d).map_err(|_| malformed())?;
    d.expect_eof().map_err(|_| malformed())?;
    config_of(doc).map_err(to_s3)
}

fn rule_in(r: dto::CORSRule) -> Result<CorsRule, ModelError> {
    Ok(CorsRule {
        id: r.id,
        allowed_methods: r
            .allowed_methods
            .iter()
            .map(|m| CorsMethod::parse(m))
            .collect::<Result<_, _>>()?,
        allowed_origins: r.allowed_origins,
        allowed_headers: r.allowed_headers.unwrap_or_default(),
        expose_headers: r.expose_headers.unwrap_or_default(),
        max_age_seconds: r.max_age_seconds,
    })
}

fn rule_out(r: CorsRule) -> dto::CORSRule {
    let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    dto::CORSRule {
        id: r.id,
        allowed_methods: r.allowed_methods.iter().map(|m| m.as_str().to_string()).collect(),
        allowed_origins: r.allowed_origins,
        allowed_headers: non_empty(r.allowed_headers),
        expose_headers: non_empty(r.expose_headers),
        max_age_seconds: r.max_age_seconds,
    }
}

/// Splits `Access-Control-Request-Headers` (a comma-separated list of names) into
/// lower-case names, as a browser sends them and as AWS answers them.
fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The bucket a request addresses and whether it names an object: from the Host
/// (virtual-hosted style, `host_bucket`) or the first path segment (path style).
pub fn addressed(path: &str, host_bucket: Option<&str>) -> (Option<String>, bool) {
    let rest = path.strip_prefix('/').unwrap_or(path);
    match host_bucket {
        Some(b) => (Some(b.to_string()), !rest.is_empty()),
        None => match rest.split_once('/') {
            Some((b, key)) => ((!b.is_empty()).then(|| b.to_string()), !key.is_empty()),
            None => ((!rest.is_empty()).then(|| rest.to_string()), false),
        },
    }
}

/// The headers a matching rule adds to an answer (preflight or actual).
fn allow_headers(out: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    };
    if rule.allows_every_origin(origin) {
        set("access-control-allow-origin", "*".into());
    } else {
        set("access-control-allow-origin", origin.to_string());
        set("access-control-allow-credentials", "true".into());
    }
    let methods: Vec<&str> = rule.allowed_methods.iter().map(|m| m.as_str()).collect();
    set("access-control-allow-methods", methods.join(", "));
    if !rule.expose_headers.is_empty() {
        set("access-control-expose-headers", rule.expose_headers.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        set("access-control-max-age", age.to_string());
    }
}

/// Answers a preflight (`OPTIONS` on a bucket or an object), without authentication,
/// as AWS does: no `Origin` is 400; a missing bucket, a bucket without CORS rules and
/// a request no rule allows are 403 AccessForbidden; a request without
/// `Access-Control-Request-Method` on a bucket with rules is 400. `request_id` goes
/// into the error document.
pub async fn preflight(
    model: &Ferrite,
    headers: &HeaderMap,
    bucket: Option<&str>,
    names_object: bool,
    request_id: &str,
) -> http::Response<String> {
    let method = header_text(headers, REQUEST_METHOD);
    let shown_method = method.unwrap_or("OPTIONS");
    let resource = if names_object { "OBJECT" } else { "BUCKET" };
    let Some(origin) = header_text(headers, ORIGIN) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
            None,
            request_id,
        );
    };
    let forbidden = |msg: &str, resource: &str| {
        error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            msg,
            Some((shown_method, resource)),
            request_id,
        )
    };
    let config = match bucket {
        None => return forbidden("CORSResponse: Bucket not found", "BUCKET"),
        Some(b) => match model.cors_of_bucket(b).await {
            Ok(Some(c)) => c,
            Ok(None) => return forbidden("CORSResponse: CORS is not enabled for this bucket.", "BUCKET"),
            Err(ModelError::NoSuchBucket) => return forbidden("CORSResponse: Bucket not found", "BUCKET"),
            Err(e) => {
                let e = to_s3(e);
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.code().as_str(),
                    e.message().unwrap_or(""),
                    None,
                    request_id,
                );
            }
        },
    };
    let Some(method) = method else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Access-Control-Request-Method request header needed.",
            None,
            request_id,
        );
    };
    let requested = requested_headers(headers);
    let names: Vec<&str> = requested.iter().map(String::as_str).collect();
    let Some(rule) = find_rule(&config, origin, method, &names) else {
        return forbidden(NOT_ALLOWED, resource);
    };
    let mut resp = http::Response::new(String::new());
    let out = resp.headers_mut();
    allow_headers(out, rule, origin);
    if !requested.is_empty()
        && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
    {
        out.insert("access-control-allow-headers", v);
    }
    out.insert(http::header::VARY, HeaderValue::from_static(VARY));
    resp
}

/// An actual (not preflight) request that carries an `Origin`: what its response's
/// CORS headers depend on, taken before the request is handed on.
#[derive(Debug, Clone)]
pub struct CorsRequest {
    bucket: String,
    origin: String,
    /// The method matched against the rules: `Access-Control-Request-Method` when the
    /// request carries one (AWS matches by it), else the request's own.
    method: String,
    requested: Vec<String>,
}

impl CorsRequest {
    /// `None` (nothing to do, nothing read) without an `Origin` header or a bucket.
    pub fn of(method: &http::Method, headers: &HeaderMap, bucket: Option<String>) -> Option<Self> {
        let origin = header_text(headers, ORIGIN)?;
        Some(Self {
            bucket: bucket?,
            origin: origin.to_string(),
            method: header_text(headers, REQUEST_METHOD)
                .unwrap_or(method.as_str())
                .to_string(),
            requested: requested_headers(headers),
        })
    }

    /// Adds the CORS headers of the first rule that matches to a response (errors
    /// included); `Vary` whenever the bucket has rules. A bucket without rules, or
    /// one that cannot be read, adds nothing.
    pub async fn decorate(&self, model: &Ferrite, out: &mut HeaderMap) {
        let config = match model.cors_of_bucket(&self.bucket).await {
            Ok(Some(c)) => c,
            Ok(None) | Err(ModelError::NoSuchBucket) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a bucket's CORS configuration");
                return;
            }
        };
        out.insert(http::header::VARY, HeaderValue::from_static(VARY));
        let names: Vec<&str> = self.requested.iter().map(String::as_str).collect();
        if let Some(rule) = find_rule(&config, &self.origin, &self.method, &names) {
            allow_headers(out, rule, &self.origin);
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An S3 error document; a refused preflight also names the method and resource type.
fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    method_and_resource: Option<(&str, &str)>,
    request_id: &str,
) -> http::Response<String> {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{}</Message>",
        escape(message)
    );
    if let Some((method, resource)) = method_and_resource {
        body.push_str(&format!(
            "<Method>{}</Method><ResourceType>{resource}</ResourceType>",
            escape(method)
        ));
    }
    body.push_str(&format!("<RequestId>{}</RequestId></Error>", escape(request_id)));
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_objects_are_found_in_either_style() {
        assert_eq!(addressed("/b/k/x", None), (Some("b".into()), true));
        assert_eq!(addressed("/b/", None), (Some("b".into()), false));
        assert_eq!(addressed("/b", None), (Some("b".into()), false));
        assert_eq!(addressed("/", None), (None, false));
        assert_eq!(addressed("/k/x", Some("vb")), (Some("vb".into()), true));
        assert_eq!(addressed("/", Some("vb")), (Some("vb".into()), false));
    }

    #[test]
    fn requested_headers_are_split_trimmed_and_lowered() {
        let mut h = HeaderMap::new();
        h.append(REQUEST_HEADERS, HeaderValue::from_static("X-Amz-Date, content-type,,"));
        h.append(REQUEST_HEADERS, HeaderValue::from_static("Authorization"));
        assert_eq!(requested_headers(&h), ["x-amz-date", "content-type", "authorization"]);
    }

    #[test]
    fn requests_without_origin_are_not_cors_requests() {
        let h = HeaderMap::new();
        assert!(CorsRequest::of(&http::Method::GET, &h, Some("b".into())).is_none());
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_static("http://a"));
        assert!(CorsRequest::of(&http::Method::GET, &h, None).is_none());
        h.insert(REQUEST_METHOD, HeaderValue::from_static("PUT"));
        let r = CorsRequest::of(&http::Method::GET, &h, Some("b".into())).unwrap();
        assert_eq!(r.method, "PUT");
    }

    #[test]
    fn error_documents_escape_what_they_repeat() {
        let resp = error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "a <b>",
            Some(("<M>", "OBJECT")),
            "ID",
        );
        assert!(
            resp.body()
                .contains("<Message>a &lt;b&gt;</Message><Method>&lt;M&gt;</Method>")
        );
        assert!(resp.body().ends_with("<RequestId>ID</RequestId></Error>"));
    }
}

//! Checks on a request's signature that run before s3s sees it.
//!
//! s3s verifies SigV2 without looking at the request's date (so a captured request
//! can be replayed for ever), compares signatures in variable time, and accepts any
//! `X-Amz-Expires`. Here, before the protocol layer:
//! - SigV2 (header or presigned) can be turned off; when on, a header-signed request
//!   must carry a `Date` or `x-amz-date` within 15 minutes of the server's clock
//!   (missing or unparseable: 403 AccessDenied; too far: 403 RequestTimeTooSkewed),
//!   and its signature is checked here in constant time (s3s checks it again, only
//!   ever against a signature that is already known to match);
//! - a SigV4 presigned URL may not live longer than 7 days (604800 seconds), as on AWS.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::Mac;
use s3s::auth::SecretKey;
use s3s::dto::{Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode};
use time::OffsetDateTime;

/// How far a SigV2 request's date may be from the server's clock (AWS: 15 minutes).
pub const MAX_SIGV2_SKEW: time::Duration = time::Duration::minutes(15);
/// The longest a SigV4 presigned URL may be valid (AWS: 7 days).
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// The sub-resources that a SigV2 string to sign includes, sorted.
const V2_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// What the pre-check needs of a request.
pub struct RequestView<'a> {
    pub method: &'a http::Method,
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
    /// The bucket named by the Host header (virtual-hosted style), if any.
    pub host_bucket: Option<&'a str>,
}

/// What the pre-check asks of a request that passed it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Passed {
    /// Send the request on with this path (`/bucket/` for `/bucket`): a SigV2 client
    /// (botocore) signed a bucket request's resource with the trailing slash of the
    /// virtual-hosted form, which AWS accepts; s3s signs the path as sent.
    pub path_with_slash: Option<String>,
}

/// Runs the checks; an error is the S3 error to answer with.
pub fn precheck(
    req: &RequestView<'_>,
    sigv2_enabled: bool,
    secret: &dyn Fn(&str) -> Option<SecretKey>,
    now: OffsetDateTime,
) -> Result<Passed, S3Error> {
    let authorization = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let header_v2 = authorization.is_some_and(|v| v.starts_with("AWS "));
    // Most requests carry no query auth: parse the query only when it might (a name
    // could be percent-encoded, hence `%`), or when a SigV2 header signs its
    // sub-resources.
    let raw_query = req.uri.query().unwrap_or("");
    let query =
        if header_v2 || raw_query.contains("Signature") || raw_query.contains("X-Amz-") || raw_query.contains('%') {
            parse_query(Some(raw_query))
        } else {
            BTreeMap::new()
        };
    if query.contains_key("X-Amz-Signature") || query.contains_key("X-Amz-Algorithm") {
        return check_presigned_v4(&query).map(|()| Passed::default());
    }
    if let Some(v4) = authorization.and_then(|v| v.strip_prefix("AWS4-HMAC-SHA256")) {
        return check_header_v4_shape(v4).map(|()| Passed::default());
    }
    let query_v2 = query.contains_key("Signature") && query.contains_key("AWSAccessKeyId");
    if !header_v2 && !query_v2 {
        return Ok(Passed::default());
    }
    if !sigv2_enabled {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    if header_v2 {
        check_header_v2(req, &query, secret, now)
    } else {
        check_presigned_v2(req, &query, secret, now)
    }
}

fn access_denied(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, msg.to_string())
}

fn check_presigned_v4(query: &BTreeMap<String, Vec<String>>) -> Result<(), S3Error> {
    // AWS answers these with 403 (what ceph/s3-tests' x_amz_expires tests expect too).
    let bad = |msg: &str| {
        let mut e = S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, msg.to_string());
        e.set_status_code(http::StatusCode::FORBIDDEN);
        e
    };
    let Some(expires) = query.get("X-Amz-Expires").and_then(|v| v.first()) else {
        return Ok(()); // s3s answers a missing parameter
    };
    let secs: i64 = expires.parse().map_err(|_| bad("X-Amz-Expires should be a number"))?;
    if secs < 0 {
        return Err(bad("X-Amz-Expires must be non-negative"));
    }
    let secs = secs as u64;
    if secs > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(bad(
            "X-Amz-Expires must be less than a week (in seconds) that is; the maximum expires is 604800 seconds",
        ));
    }
    Ok(())
}

/// A SigV4 `Authorization` header must name its credential, signed headers and
/// signature; one that does not is `400 AuthorizationHeaderMalformed`, as on AWS (s3s
/// would answer InvalidRequest).
fn check_header_v4_shape(rest: &str) -> Result<(), S3Error> {
    let has = |name: &str| {
        rest.split(',')
            .any(|p| p.trim().strip_prefix(name).is_some_and(|v| v.starts_with('=')))
    };
    if rest.starts_with(' ') && has("Credential") && has("SignedHeaders") && has("Signature") {
        return Ok(());
    }
    Err(S3Error::with_message(
        S3ErrorCode::AuthorizationHeaderMalformed,
        "The authorization header is malformed; it must name Credential, SignedHeaders and Signature.",
    ))
}

/// Parses an HTTP date as SigV2 clients send it (RFC 1123 with `GMT`, or RFC 2822).
fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse(TimestampFormat::HttpDate, s) {
        return Some(t.into());
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822).ok()
}

fn check_header_v2(
    req: &RequestView<'_>,
    query: &BTreeMap<String, Vec<String>>,
    secret: &dyn Fn(&str) -> Option<SecretKey>,
    now: OffsetDateTime,
) -> Result<Passed, S3Error> {
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let auth = header("authorization").unwrap_or_default();
    let Some((access_key, signature)) = auth.strip_prefix("AWS ").and_then(|r| r.split_once(':')) else {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
        ));
    };
    // x-amz-date takes the place of Date when both are present.
    let date = header("x-amz-date").or_else(|| header("date"));
    let date = match date.map(str::trim) {
        None | Some("") => {
            return Err(access_denied(
                "AWS authentication requires a valid Date or x-amz-date header",
            ));
        }
        Some(d) => parse_http_date(d)
            .ok_or_else(|| access_denied("AWS authentication requires a valid Date or x-amz-date header"))?,
    };
    if date.year() < 1970 {
        return Err(access_denied(
            "AWS authentication requires a valid Date or x-amz-date header",
        ));
    }
    if (date - now).abs() > MAX_SIGV2_SKEW {
        return Err(S3Error::with_message(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ));
    }
    let date_line = if header("x-amz-date").is_some() {
        ""
    } else {
        header("date").unwrap_or_default()
    };
    verify_v2(req, query, access_key, signature, date_line, secret)
}

fn check_presigned_v2(
    req: &RequestView<'_>,
    query: &BTreeMap<String, Vec<String>>,
    secret: &dyn Fn(&str) -> Option<SecretKey>,
    now: OffsetDateTime,
) -> Result<Passed, S3Error> {
    let one = |k: &str| query.get(k).and_then(|v| v.first()).map(String::as_str);
    let expires = one("Expires").unwrap_or_default();
    let Ok(expires_at) = expires.parse::<i64>() else {
        return Err(access_denied(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    if now.unix_timestamp() > expires_at {
        return Err(access_denied("Request has expired"));
    }
    let access_key = one("AWSAccessKeyId").unwrap_or_default();
    let signature = one("Signature").unwrap_or_default();
    verify_v2(req, query, access_key, signature, expires, secret)
}

/// Checks a SigV2 signature in constant time.
fn verify_v2(
    req: &RequestView<'_>,
    query: &BTreeMap<String, Vec<String>>,
    access_key: &str,
    signature: &str,
    date_line: &str,
    secret: &dyn Fn(&str) -> Option<SecretKey>,
) -> Result<Passed, S3Error> {
    let Some(secret) = secret(access_key) else {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    };
    let mismatch = || {
        S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        )
    };
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| mismatch())?;
    let matches = |path: &str| {
        let sts = string_to_sign_v2(req, query, date_line, path);
        hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.expose().as_bytes())
            .map(|mut mac| {
                mac.update(sts.as_bytes());
                // `verify_slice` compares in constant time.
                mac.verify_slice(&given).is_ok()
            })
            .unwrap_or(false)
    };
    let path = req.uri.path();
    if matches(path) {
        return Ok(Passed::default());
    }
    // A path-style bucket request (`/bucket`) signed as `/bucket/`.
    let bucket_only = req.host_bucket.is_none() && path.len() > 1 && !path[1..].contains('/');
    if bucket_only {
        let with_slash = format!("{path}/");
        if matches(&with_slash) {
            return Ok(Passed {
                path_with_slash: Some(with_slash),
            });
        }
    }
    Err(mismatch())
}

/// The SigV2 string to sign (AWS's "Signing and authenticating REST requests").
fn string_to_sign_v2(
    req: &RequestView<'_>,
    query: &BTreeMap<String, Vec<String>>,
    date_line: &str,
    path: &str,
) -> String {
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut s = String::with_capacity(256);
    s.push_str(req.method.as_str());
    s.push('\n');
    s.push_str(header("content-md5"));
    s.push('\n');
    s.push_str(header("content-type"));
    s.push('\n');
    s.push_str(date_line);
    s.push('\n');
    let mut amz: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, value) in req.headers {
        let name = name.as_str();
        if name.starts_with("x-amz-") {
            amz.entry(name.to_string())
                .or_default()
                .push(value.to_str().unwrap_or_default().trim());
        }
    }
    for (name, values) in &amz {
        s.push_str(name);
        s.push(':');
        s.push_str(&values.join(","));
        s.push('\n');
    }
    if let Some(bucket) = req.host_bucket {
        s.push('/');
        s.push_str(bucket);
    }
    s.push_str(path);
    let mut first = true;
    for name in V2_SUBRESOURCES {
        if let Some(v) = query.get(*name).and_then(|v| v.first()) {
            s.push(if first { '?' } else { '&' });
            first = false;
            s.push_str(name);
            if !v.is_empty() {
                s.push('=');
                s.push_str(v);
            }
        }
    }
    s
}

/// Query parameters, percent-decoded (`+` as a space), in name order.
fn parse_query(query: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Some(q) = query else { return out };
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(decode(k)).or_default().push(decode(v));
    }
    out
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn lookup(ak: &str) -> Option<SecretKey> {
        (ak == AK).then(|| SecretKey::from(SK.to_string()))
    }

    fn req_with(headers: &[(&str, &str)], uri: &str) -> (http::Method, http::Uri, http::HeaderMap) {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        (http::Method::GET, uri.parse().unwrap(), h)
    }

    /// AWS's documented example: GET /photos/puppy.jpg on awsexamplebucket1.
    #[test]
    fn string_to_sign_matches_the_aws_example() {
        let (m, u, h) = req_with(&[("date", "Tue, 27 Mar 2007 19:36:42 +0000")], "/photos/puppy.jpg");
        let view = RequestView {
            method: &m,
            uri: &u,
            headers: &h,
            host_bucket: Some("awsexamplebucket1"),
        };
        let q = parse_query(u.query());
        let sts = string_to_sign_v2(&view, &q, "Tue, 27 Mar 2007 19:36:42 +0000", u.path());
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(SK.as_bytes()).unwrap();
        mac.update(sts.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(sig, "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
    }

    fn check(headers: &[(&str, &str)], now: OffsetDateTime, enabled: bool) -> Result<Passed, S3Error> {
        let (m, u, h) = req_with(headers, "/photos/puppy.jpg");
        let view = RequestView {
            method: &m,
            uri: &u,
            headers: &h,
            host_bucket: Some("awsexamplebucket1"),
        };
        precheck(&view, enabled, &lookup, now)
    }

    fn at(s: &str) -> OffsetDateTime {
        parse_http_date(s).unwrap()
    }

    const GOOD_AUTH: &str = "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=";
    const DATE: &str = "Tue, 27 Mar 2007 19:36:42 +0000";

    #[test]
    fn sigv2_replay_defect_dates_are_checked() {
        let now = at("Tue, 27 Mar 2007 19:40:00 GMT");
        check(&[("date", DATE), ("authorization", GOOD_AUTH)], now, true).unwrap();
        // The same signed request much later: refused (it used to be accepted for ever).
        let later = at("Tue, 27 Mar 2007 20:00:00 GMT");
        let e = check(&[("date", DATE), ("authorization", GOOD_AUTH)], later, true).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::RequestTimeTooSkewed);
        // Missing, empty and garbage dates.
        for h in [
            vec![("authorization", GOOD_AUTH)],
            vec![("date", ""), ("authorization", GOOD_AUTH)],
            vec![("date", "Bad Date"), ("authorization", GOOD_AUTH)],
        ] {
            let e = check(&h, now, true).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::AccessDenied, "{h:?}");
        }
        // A wrong signature.
        let bad = "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1X=";
        let e = check(&[("date", DATE), ("authorization", bad)], now, true).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::SignatureDoesNotMatch);
        // Turned off.
        let e = check(&[("date", DATE), ("authorization", GOOD_AUTH)], now, false).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidRequest);
    }

    /// A SigV2 signature covers the sub-resources in the query (here `?acl`).
    #[test]
    fn sigv2_signs_subresources() {
        let sts = format!("GET\n\n\n{DATE}\n/awsexamplebucket1/photos/puppy.jpg?acl");
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(SK.as_bytes()).unwrap();
        mac.update(sts.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let auth = format!("AWS {AK}:{sig}");
        let (m, u, h) = req_with(&[("date", DATE), ("authorization", &auth)], "/photos/puppy.jpg?acl");
        let view = RequestView {
            method: &m,
            uri: &u,
            headers: &h,
            host_bucket: Some("awsexamplebucket1"),
        };
        precheck(&view, true, &lookup, at("Tue, 27 Mar 2007 19:40:00 GMT")).unwrap();
    }

    /// botocore signs a path-style bucket request's resource as `/bucket/`.
    #[test]
    fn sigv2_bucket_resource_with_a_trailing_slash() {
        let sts = format!("PUT\n\n\n{DATE}\n/mybucket/");
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(SK.as_bytes()).unwrap();
        mac.update(sts.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let auth = format!("AWS {AK}:{sig}");
        let (_, u, h) = req_with(&[("date", DATE), ("authorization", &auth)], "/mybucket");
        let m = http::Method::PUT;
        let view = RequestView {
            method: &m,
            uri: &u,
            headers: &h,
            host_bucket: None,
        };
        let passed = precheck(&view, true, &lookup, at("Tue, 27 Mar 2007 19:40:00 GMT")).unwrap();
        assert_eq!(passed.path_with_slash.as_deref(), Some("/mybucket/"));
        // An object path gets no such second chance.
        let (_, u, h) = req_with(&[("date", DATE), ("authorization", &auth)], "/mybucket/k");
        let view = RequestView {
            method: &m,
            uri: &u,
            headers: &h,
            host_bucket: None,
        };
        assert!(precheck(&view, true, &lookup, at("Tue, 27 Mar 2007 19:40:00 GMT")).is_err());
    }

    #[test]
    fn presigned_v4_expiry_is_capped_at_a_week() {
        let q = |e: &str| parse_query(Some(&format!("X-Amz-Signature=abc&X-Amz-Expires={e}")));
        check_presigned_v4(&q("604800")).unwrap();
        for e in ["604801", "-1", "x"] {
            let err = check_presigned_v4(&q(e)).unwrap_err();
            assert_eq!(*err.code(), S3ErrorCode::AuthorizationQueryParametersError);
        }
    }

    #[test]
    fn sigv4_authorization_must_have_its_three_parts() {
        check_header_v4_shape(" Credential=a/b, SignedHeaders=host, Signature=00").unwrap();
        for bad in [
            " garbage",
            "",
            " Credential=a/b, Signature=00",
            "Credential=a, SignedHeaders=h, Signature=0",
        ] {
            let e = check_header_v4_shape(bad).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::AuthorizationHeaderMalformed, "{bad:?}");
        }
    }

    #[test]
    fn query_decoding() {
        let q = parse_query(Some("a=%2Fx%2fy+z&b&c=%zz"));
        assert_eq!(q["a"], vec!["/x/y z"]);
        assert_eq!(q["b"], vec![""]);
        assert_eq!(q["c"], vec!["%zz"]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn header_pair() -> impl Strategy<Value = (String, String)> {
            (
                prop_oneof![
                    Just("authorization".to_string()),
                    Just("date".to_string()),
                    Just("x-amz-date".to_string()),
                    Just("content-md5".to_string()),
                    Just("content-type".to_string()),
                    "x-amz-[a-z-]{1,12}",
                ],
                prop_oneof![
                    "AWS [ -~]{0,60}",
                    "AWS4-HMAC-SHA256[ -~]{0,80}",
                    "[ -~]{0,60}",
                    Just(String::new()),
                ],
            )
        }

        proptest! {
            /// Fuzzing by property: no request shape makes the pre-check panic.
            #[test]
            fn precheck_never_panics(
                method in prop_oneof![Just("GET"), Just("PUT"), Just("POST"), Just("HEAD"), Just("DELETE")],
                path in "/[!-~]{0,40}",
                query in "[!-~]{0,120}",
                headers in proptest::collection::vec(header_pair(), 0..8),
                host_bucket in proptest::option::of("[a-z0-9.-]{0,20}"),
                skew in -100_000i64..100_000,
            ) {
                let uri_text = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
                let Ok(uri) = uri_text.parse::<http::Uri>() else { return Ok(()) };
                let mut map = http::HeaderMap::new();
                for (k, v) in &headers {
                    if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
                        map.append(k, v);
                    }
                }
                let m: http::Method = method.parse().unwrap();
                let view = RequestView { method: &m, uri: &uri, headers: &map, host_bucket: host_bucket.as_deref() };
                let now = OffsetDateTime::now_utc() + time::Duration::seconds(skew);
                let _ = precheck(&view, true, &lookup, now);
                let _ = precheck(&view, false, &lookup, now);
            }

            #[test]
            fn query_and_dates_never_panic(q in "\\PC{0,200}", d in "\\PC{0,64}") {
                let _ = parse_query(Some(&q));
                let _ = parse_http_date(&d);
                let _ = check_header_v4_shape(&d);
            }
        }
    }
}

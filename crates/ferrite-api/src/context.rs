//! The condition keys of a request, as policies test them (`aws:SourceIp`,
//! `s3:prefix`, ...): read once per request from what the HTTP layer knows, into the
//! [`Context`] the caller carries to the authorizer.

use std::net::SocketAddr;

use ferrite_model::RequestContext;
use ferrite_policy::Context;
use time::OffsetDateTime;

/// What the connection tells about a request: the server inserts it into every
/// request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientInfo {
    pub addr: SocketAddr,
    /// Whether the request came over TLS.
    pub secure: bool,
}

/// Request headers whose value policies test, and their keys (`s3:<header name>`).
const HEADER_KEYS: &[(&str, &str)] = &[
    ("x-amz-acl", "s3:x-amz-acl"),
    ("x-amz-grant-read", "s3:x-amz-grant-read"),
    ("x-amz-grant-write", "s3:x-amz-grant-write"),
    ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
    ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
    ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
    ("x-amz-server-side-encryption", "s3:x-amz-server-side-encryption"),
    (
        "x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    (
        "x-amz-server-side-encryption-customer-algorithm",
        "s3:x-amz-server-side-encryption-customer-algorithm",
    ),
    ("x-amz-storage-class", "s3:x-amz-storage-class"),
    ("x-amz-copy-source", "s3:x-amz-copy-source"),
    ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
    ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
    ("x-amz-object-lock-mode", "s3:object-lock-mode"),
    (
        "x-amz-object-lock-retain-until-date",
        "s3:object-lock-retain-until-date",
    ),
    ("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"),
];

/// The other headers the keys are built from.
const OTHER_HEADERS: &[&str] = &["user-agent", "referer", "authorization", "x-amz-date"];

/// Query parameters policies test, and their keys.
const QUERY_KEYS: &[(&str, &str)] = &[
    ("prefix", "s3:prefix"),
    ("delimiter", "s3:delimiter"),
    ("max-keys", "s3:max-keys"),
    ("versionId", "s3:VersionId"),
];

/// The condition keys of a request at `now`, built only if a policy asks for them:
/// what they need of the request (its URI, the few headers they read) is kept,
/// cheaply (both share the request's buffers; one pass over the headers), and the
/// rest dropped. Every request pays for this much; only requests that meet a
/// condition pay for the keys.
pub fn lazy_request_context(
    uri: &http::Uri,
    headers: &http::HeaderMap,
    client: Option<&ClientInfo>,
    now: OffsetDateTime,
) -> RequestContext {
    let wanted = |name: &str| {
        OTHER_HEADERS.contains(&name) || (name.starts_with("x-amz-") && HEADER_KEYS.iter().any(|(h, _)| *h == name))
    };
    let kept: Vec<(http::HeaderName, http::HeaderValue)> = headers
        .iter()
        .filter(|(name, _)| wanted(name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let (uri, client) = (uri.clone(), client.copied());
    RequestContext::lazy(move || {
        let header = |name: &str| {
            kept.iter()
                .find(|(n, _)| n.as_str() == name)
                .and_then(|(_, v)| v.to_str().ok())
        };
        build(&uri, &header, client.as_ref(), now)
    })
}

/// The condition keys of a request at `now`.
pub fn request_context(
    uri: &http::Uri,
    headers: &http::HeaderMap,
    client: Option<&ClientInfo>,
    now: OffsetDateTime,
) -> Context {
    build(
        uri,
        &|name| headers.get(name).and_then(|v| v.to_str().ok()),
        client,
        now,
    )
}

fn build<'h>(
    uri: &http::Uri,
    header: &dyn Fn(&str) -> Option<&'h str>,
    client: Option<&ClientInfo>,
    now: OffsetDateTime,
) -> Context {
    let mut cx = Context::new();
    if let Some(c) = client {
        cx.insert("aws:SourceIp", c.addr.ip().to_string());
    }
    cx.insert(
        "aws:SecureTransport",
        if client.is_some_and(|c| c.secure) {
            "true"
        } else {
            "false"
        },
    );
    if let Ok(t) = now.format(&time::format_description::well_known::Rfc3339) {
        cx.insert("aws:CurrentTime", t);
    }
    cx.insert("aws:EpochTime", now.unix_timestamp().to_string());
    if let Some(ua) = header("user-agent") {
        cx.insert("aws:UserAgent", ua);
    }
    if let Some(r) = header("referer") {
        cx.insert("aws:Referer", r);
    }
    for (name, key) in HEADER_KEYS {
        if let Some(v) = header(name) {
            cx.insert(key, v);
        }
    }
    // Whole days from now to the retain-until date a write asks for (AWS's key for
    // "retain at least / at most N days").
    if let Some(until) = header("x-amz-object-lock-retain-until-date")
        .and_then(|v| OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok())
    {
        let days = (until - now).whole_days().max(0);
        cx.insert("s3:object-lock-remaining-retention-days", days.to_string());
    }
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    for (name, key) in QUERY_KEYS {
        if let Some(v) = param(name) {
            cx.insert(key, v);
        }
    }
    // How the request was signed.
    let auth = header("authorization").unwrap_or("");
    let (version, auth_type, date) = if auth.starts_with("AWS4-HMAC-SHA256") {
        (Some("AWS4-HMAC-SHA256"), Some("REST-HEADER"), header("x-amz-date"))
    } else if auth.starts_with("AWS ") {
        (Some("AWS"), Some("REST-HEADER"), None)
    } else if param("X-Amz-Algorithm").is_some() {
        (Some("AWS4-HMAC-SHA256"), Some("REST-QUERY-STRING"), param("X-Amz-Date"))
    } else if param("Signature").is_some() {
        (Some("AWS"), Some("REST-QUERY-STRING"), None)
    } else {
        (None, None, None)
    };
    if let Some(v) = version {
        cx.insert("s3:signatureversion", v);
    }
    if let Some(t) = auth_type {
        cx.insert("s3:authType", t);
    }
    if let Some(signed) = date.and_then(parse_amz_date) {
        let age_ms = (now - signed).whole_milliseconds().max(0);
        cx.insert("s3:signatureAge", age_ms.to_string());
    }
    cx
}

/// `20130524T000000Z`.
fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &format).ok().map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presigned_listing_from_an_address_has_its_keys() {
        let uri: http::Uri =
            "/b?prefix=home%2Falice%2F&delimiter=%2F&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z"
                .parse()
                .unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("user-agent", "curl/8".parse().unwrap());
        headers.insert("x-amz-acl", "public-read".parse().unwrap());
        let client = ClientInfo {
            addr: "192.0.2.1:5555".parse().unwrap(),
            secure: false,
        };
        let now = time::macros::datetime!(2026-01-01 00:00:02 UTC);
        let cx = request_context(&uri, &headers, Some(&client), now);
        assert_eq!(cx.get("aws:SourceIp"), ["192.0.2.1"]);
        assert_eq!(cx.get("aws:SecureTransport"), ["false"]);
        assert_eq!(cx.get("aws:EpochTime"), [now.unix_timestamp().to_string()]);
        assert_eq!(cx.get("aws:UserAgent"), ["curl/8"]);
        assert_eq!(cx.get("s3:prefix"), ["home/alice/"]);
        assert_eq!(cx.get("s3:delimiter"), ["/"]);
        assert_eq!(cx.get("s3:x-amz-acl"), ["public-read"]);
        assert_eq!(cx.get("s3:authType"), ["REST-QUERY-STRING"]);
        assert_eq!(cx.get("s3:signatureversion"), ["AWS4-HMAC-SHA256"]);
        assert_eq!(cx.get("s3:signatureAge"), ["2000"]);
        assert!(cx.get("s3:max-keys").is_empty());
        // Built later, from what was kept, the keys are the same.
        let lazy = lazy_request_context(&uri, &headers, Some(&client), now);
        assert_eq!(lazy.get().get("s3:prefix"), ["home/alice/"]);
        assert_eq!(lazy.get().get("aws:UserAgent"), ["curl/8"]);
        assert_eq!(lazy.get().get("s3:signatureAge"), ["2000"]);
    }

    #[test]
    fn object_lock_headers_are_condition_keys() {
        let uri: http::Uri = "/b/k".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amz-object-lock-mode", "GOVERNANCE".parse().unwrap());
        headers.insert(
            "x-amz-object-lock-retain-until-date",
            "2026-01-31T12:00:00Z".parse().unwrap(),
        );
        headers.insert("x-amz-object-lock-legal-hold", "ON".parse().unwrap());
        let now = time::macros::datetime!(2026-01-01 00:00:00 UTC);
        let cx = request_context(&uri, &headers, None, now);
        assert_eq!(cx.get("s3:object-lock-mode"), ["GOVERNANCE"]);
        assert_eq!(cx.get("s3:object-lock-retain-until-date"), ["2026-01-31T12:00:00Z"]);
        assert_eq!(cx.get("s3:object-lock-legal-hold"), ["ON"]);
        assert_eq!(cx.get("s3:object-lock-remaining-retention-days"), ["30"]);
        // Kept for the lazy build too.
        let lazy = lazy_request_context(&uri, &headers, None, now);
        assert_eq!(lazy.get().get("s3:object-lock-remaining-retention-days"), ["30"]);
    }
}

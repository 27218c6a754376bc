//! The console's session on the wire: the login body, the session cookie and the CSRF
//! token.
//!
//! - The cookie `ferrite_session` holds the session's token: `HttpOnly` (no script
//!   reads it), `SameSite=Strict` (no other site's page sends it), `Secure` over TLS,
//!   `Path=/admin/v1/` (S3 requests never carry it) and the session's life as
//!   `Max-Age`.
//! - The CSRF token is an HMAC of the session token: the server recomputes it from the
//!   cookie, so it stores nothing more. The console reads it from the login (or
//!   `GET /admin/v1/session`) answer, which only a same-origin script can read, and
//!   sends it as `x-ferrite-csrf` with every call that changes anything.

use ferrite_model::Secret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::iam::sigv4::hmac_sha256;

pub const COOKIE: &str = "ferrite_session";
pub const CSRF_HEADER: &str = "x-ferrite-csrf";
const COOKIE_PATH: &str = "/admin/v1/";

/// `POST /admin/v1/session`'s body: an access key and its secret, or a user's name
/// and console password.
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub(super) enum Login {
    Key {
        access_key_id: String,
        secret_access_key: String,
    },
    Password {
        user: String,
        password: String,
    },
}

/// `PUT /admin/v1/users/{user}/password`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPassword {
    pub password: String,
}

/// A check value of an access key's secret, kept with a session: a secret changed
/// since the login ends the session.
pub(super) fn key_check(secret: &Secret) -> [u8; 32] {
    let mac = hmac_sha256(secret.expose().as_bytes(), b"ferrite console session key check");
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac[..32]);
    out
}

/// `value` for a log line when it is a plain identifier of at most `max` characters
/// (an access key id, a user name); otherwise a placeholder, so that a secret typed
/// into the wrong field never reaches the log.
pub(super) fn loggable(value: &str, max: usize) -> &str {
    let plain = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if plain { value } else { "(not an identifier)" }
}

/// The session token the request's cookie holds, if any.
pub(super) fn cookie_token(headers: &http::HeaderMap) -> Option<Secret> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| Secret::new(value))
        })
}

/// The CSRF token of a session token.
pub fn csrf_token(token: &Secret) -> String {
    hex::encode(hmac_sha256(token.expose().as_bytes(), b"ferrite console csrf"))
}

/// Whether the request carries the CSRF token of `token`.
pub(super) fn csrf_matches(headers: &http::HeaderMap, token: &Secret) -> bool {
    let Some(given) = headers.get(CSRF_HEADER) else {
        return false;
    };
    csrf_token(token).as_bytes().ct_eq(given.as_bytes()).into()
}

/// Whether the request's `Origin`, when it has one, is the host it was sent to (a
/// browser sends it with every POST, PUT, PATCH and DELETE).
pub(super) fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return true;
    };
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// Whether the body is declared JSON.
pub(super) fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

fn secure(parts: &http::request::Parts) -> bool {
    parts.extensions.get::<crate::ClientInfo>().is_some_and(|c| c.secure)
}

fn cookie(parts: &http::request::Parts, value: &str, max_age_secs: i64) -> (http::HeaderName, http::HeaderValue) {
    let secure = if secure(parts) { "; Secure" } else { "" };
    let text =
        format!("{COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}");
    // The token is hex and a dot: always a valid header value.
    let value = http::HeaderValue::from_str(&text).unwrap_or_else(|_| http::HeaderValue::from_static(""));
    (http::header::SET_COOKIE, value)
}

/// The `Set-Cookie` of a new session.
pub(super) fn set_cookie(
    parts: &http::request::Parts,
    token: &Secret,
    max_age_secs: i64,
) -> (http::HeaderName, http::HeaderValue) {
    cookie(parts, token.expose(), max_age_secs)
}

/// The `Set-Cookie` that removes the session cookie (a logout).
pub(super) fn clear_cookie(parts: &http::request::Parts) -> (http::HeaderName, http::HeaderValue) {
    cookie(parts, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; ferrite_session=abc.def; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_token(&h).unwrap().expose(), "abc.def");
        let mut h = http::HeaderMap::new();
        h.append(http::header::COOKIE, "a=1".parse().unwrap());
        h.append(http::header::COOKIE, "ferrite_session=x.y".parse().unwrap());
        assert_eq!(cookie_token(&h).unwrap().expose(), "x.y");
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "ferrite_session=; xferrite_session=z".parse().unwrap(),
        );
        assert!(cookie_token(&h).is_none());
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let a = Secret::new("a.b");
        let mut h = http::HeaderMap::new();
        assert!(!csrf_matches(&h, &a));
        h.insert(CSRF_HEADER, csrf_token(&a).parse().unwrap());
        assert!(csrf_matches(&h, &a));
        assert!(!csrf_matches(&h, &Secret::new("a.c")));
        h.insert(CSRF_HEADER, "0".repeat(64).parse().unwrap());
        assert!(!csrf_matches(&h, &a));
    }

    #[test]
    fn only_identifiers_are_logged() {
        assert_eq!(loggable("AKIAIOSFODNN7EXAMPLE", 128), "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(loggable("alice@example.com", 64), "alice@example.com");
        assert_eq!(
            loggable("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 128),
            "(not an identifier)"
        );
        assert_eq!(loggable(&"a".repeat(65), 64), "(not an identifier)");
        assert_eq!(loggable("", 64), "(not an identifier)");
        assert_ne!(key_check(&Secret::new("a")), key_check(&Secret::new("b")));
    }

    #[test]
    fn origins_and_json_bodies() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::HOST, "127.0.0.1:9000".parse().unwrap());
        assert!(same_origin(&h), "no Origin: not a cross-site browser request");
        h.insert(http::header::ORIGIN, "http://127.0.0.1:9000".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(http::header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(http::header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
        assert!(!is_json(&h));
        h.insert(
            http::header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }

    #[test]
    fn cookies_carry_their_flags() {
        let (parts, _) = http::Request::new(()).into_parts();
        let (_, v) = set_cookie(&parts, &Secret::new("i.s"), 28800);
        let v = v.to_str().unwrap();
        assert!(v.starts_with("ferrite_session=i.s; Path=/admin/v1/; Max-Age="), "{v}");
        assert!(
            v.contains("; HttpOnly") && v.contains("; SameSite=Strict") && !v.contains("Secure"),
            "{v}"
        );
        let mut req = http::Request::new(());
        req.extensions_mut().insert(crate::ClientInfo {
            addr: "127.0.0.1:1".parse().unwrap(),
            secure: true,
        });
        let (parts, _) = req.into_parts();
        let (_, v) = clear_cookie(&parts);
        let v = v.to_str().unwrap();
        assert!(v.contains("Max-Age=0") && v.ends_with("; Secure"), "{v}");
    }
}

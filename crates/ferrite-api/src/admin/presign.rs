//! Presigned S3 URLs for the admin API's caller (`POST /admin/v1/presign`): how the
//! console reaches the S3 API. The console never holds a secret key; it asks the
//! server to sign each S3 request it is about to make (a listing, an upload's parts,
//! a download, a shareable link) with the logged-in key, and sends it straight to the
//! S3 API, where it is authenticated and authorized as every S3 request is. Signing
//! grants nothing by itself: the URL carries exactly the key's rights.
//!
//! AWS's query-string SigV4 (`X-Amz-Algorithm` ... `X-Amz-Signature`), path-style,
//! payload unsigned, as the AWS SDKs presign.

use std::collections::BTreeMap;

use ferrite_model::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::iam::sigv4::{ALGORITHM, hmac_sha256, signing_key, uri_encode};

/// AWS's bound on a presigned URL's life (7 days).
pub const MAX_EXPIRES_SECS: u64 = 7 * 24 * 60 * 60;
/// The life of a URL when the request names none.
pub const DEFAULT_EXPIRES_SECS: u64 = 15 * 60;
/// Requests one call may sign (an upload of 10,000 parts at once).
pub const MAX_REQUESTS: usize = 10_000;

/// One S3 request to sign.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresignRequest {
    pub method: String,
    /// The bucket; none for the service (ListBuckets).
    #[serde(default)]
    pub bucket: Option<String>,
    /// The object key; none for a bucket request.
    #[serde(default)]
    pub key: Option<String>,
    /// Query parameters (`uploads`, `uploadId`, `partNumber`, `list-type`, ...).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Headers the request will send and that the signature covers (their exact
    /// values must then be sent).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub expires_secs: Option<u64>,
}

/// Where and as whom the URLs are signed.
pub struct Signer<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The host (and port) the caller reached the server at.
    pub host: &'a str,
    pub region: &'a str,
    pub access_key: &'a str,
    pub secret: &'a Secret,
    pub now: OffsetDateTime,
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Signer<'_> {
    /// The presigned URL of `r`, or why it cannot be signed.
    pub fn presign(&self, r: &PresignRequest) -> Result<String, String> {
        if !matches!(r.method.as_str(), "GET" | "HEAD" | "PUT" | "POST" | "DELETE") {
            return Err(format!(
                "method must be GET, HEAD, PUT, POST or DELETE, not {:?}",
                r.method
            ));
        }
        match &r.bucket {
            Some(bucket) => ferrite_model::validate_bucket_name(bucket).map_err(|e| format!("bucket: {e}"))?,
            None if r.key.is_some() => return Err("a key needs its bucket".into()),
            None => {}
        }
        if let Some(key) = &r.key {
            if key.is_empty() {
                return Err("key must not be empty (leave it out for a bucket request)".into());
            }
            // A browser's URL parser folds these segments away: the URL would name
            // another key than the one signed.
            if key.split('/').any(|seg| seg == "." || seg == "..") {
                return Err("a key with a \".\" or \"..\" path segment cannot be reached by a presigned URL".into());
            }
        }
        let expires = r.expires_secs.unwrap_or(DEFAULT_EXPIRES_SECS);
        if !(1..=MAX_EXPIRES_SECS).contains(&expires) {
            return Err(format!("expires_secs must be 1 to {MAX_EXPIRES_SECS}"));
        }
        if let Some(name) = r.query.keys().find(|k| k.to_ascii_lowercase().starts_with("x-amz-")) {
            return Err(format!(
                "query parameter {name:?}: X-Amz-* parameters are the signature's"
            ));
        }
        for (name, value) in &r.headers {
            if !valid_header_name(name) || name == "host" {
                return Err(format!(
                    "header name {name:?}: lower-case letters, digits and '-', not host"
                ));
            }
            if value.bytes().any(|b| b.is_ascii_control()) {
                return Err(format!("header {name}: control characters"));
            }
        }
        let date = self
            .now
            .format(time::macros::format_description!("[year][month][day]"))
            .map_err(|_| "the clock cannot be formatted".to_string())?;
        let amz_date = self
            .now
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .map_err(|_| "the clock cannot be formatted".to_string())?;
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let mut path = match &r.bucket {
            Some(bucket) => format!("/{bucket}"),
            None => "/".to_string(),
        };
        if let Some(key) = &r.key {
            path.push('/');
            path.push_str(&uri_encode(key.as_bytes(), true));
        }
        let mut signed: Vec<(String, String)> = vec![("host".into(), self.host.to_string())];
        // SigV4's canonical value: trimmed, inner runs of spaces as one.
        signed.extend(
            r.headers
                .iter()
                .map(|(k, v)| (k.clone(), v.split_whitespace().collect::<Vec<_>>().join(" "))),
        );
        signed.sort();
        let signed_names = signed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
        let mut query: Vec<(String, String)> = r
            .query
            .iter()
            .map(|(k, v)| (uri_encode(k.as_bytes(), false), uri_encode(v.as_bytes(), false)))
            .collect();
        for (k, v) in [
            ("X-Amz-Algorithm", ALGORITHM.to_string()),
            ("X-Amz-Credential", format!("{}/{scope}", self.access_key)),
            ("X-Amz-Date", amz_date.clone()),
            ("X-Amz-Expires", expires.to_string()),
            ("X-Amz-SignedHeaders", signed_names.clone()),
        ] {
            query.push((k.to_string(), uri_encode(v.as_bytes(), false)));
        }
        query.sort();
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let canonical = format!(
            "{}\n{path}\n{query}\n{headers}\n{signed_names}\nUNSIGNED-PAYLOAD",
            r.method
        );
        let to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let key = signing_key(self.secret, &date, self.region, "s3");
        let signature = hex::encode(hmac_sha256(&key, to_sign.as_bytes()));
        Ok(format!(
            "{}://{}{path}?{query}&X-Amz-Signature={signature}",
            self.scheme, self.host
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, key: Option<&str>) -> PresignRequest {
        PresignRequest {
            method: method.into(),
            bucket: Some("examplebucket".into()),
            key: key.map(str::to_string),
            query: BTreeMap::new(),
            headers: BTreeMap::new(),
            expires_secs: Some(86400),
        }
    }

    /// AWS's documented example of a presigned GET ("Authenticating Requests: Using
    /// Query Parameters", the S3 API reference): the same signature.
    #[test]
    fn signs_the_aws_example() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let signer = Signer {
            scheme: "https",
            host: "examplebucket.s3.amazonaws.com",
            region: "us-east-1",
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret: &secret,
            now: time::macros::datetime!(2013-05-24 00:00:00 UTC),
        };
        // AWS's example is virtual-hosted (`/test.txt`); ours are path-style, so the
        // example's canonical request is rebuilt here from its parts.
        let url = signer.presign(&request("GET", Some("test.txt"))).unwrap();
        assert!(url.starts_with("https://examplebucket.s3.amazonaws.com/examplebucket/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="), "{url}");
        // The example's own signature, over its virtual-hosted path: the same code
        // with the bucket in the host reproduces it.
        let key = signing_key(&secret, "20130524", "us-east-1", "s3");
        let canonical = "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD";
        let to_sign = format!(
            "{ALGORITHM}\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(
            hex::encode(hmac_sha256(&key, to_sign.as_bytes())),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn refuses_what_it_cannot_sign() {
        let secret = Secret::new("s");
        let signer = Signer {
            scheme: "http",
            host: "127.0.0.1:9000",
            region: "us-east-1",
            access_key: "AK",
            secret: &secret,
            now: time::macros::datetime!(2026-12-04 00:00:00 UTC),
        };
        assert!(signer.presign(&request("PATCH", None)).is_err());
        assert!(signer.presign(&request("GET", Some(""))).is_err());
        let mut r = request("GET", None);
        r.expires_secs = Some(MAX_EXPIRES_SECS + 1);
        assert!(signer.presign(&r).is_err());
        let mut r = request("GET", None);
        r.query.insert("X-Amz-Expires".into(), "1".into());
        assert!(signer.presign(&r).is_err());
        let mut r = request("PUT", Some("k"));
        r.headers.insert("Content-Type".into(), "text/plain".into());
        assert!(signer.presign(&r).is_err());
        let mut r = request("PUT", Some("k"));
        r.headers.insert("content-type".into(), "a\nb".into());
        assert!(signer.presign(&r).is_err());
        let mut r = request("GET", None);
        r.bucket = Some("Not_A_Bucket".into());
        assert!(signer.presign(&r).is_err());
        let mut r = request("GET", Some("k"));
        r.bucket = None;
        assert!(signer.presign(&r).is_err());
        let mut r = request("GET", None);
        r.bucket = None;
        assert!(
            signer
                .presign(&r)
                .unwrap()
                .starts_with("http://127.0.0.1:9000/?X-Amz-Algorithm=")
        );
        assert!(signer.presign(&request("GET", Some("a/../b"))).is_err());
        assert!(signer.presign(&request("GET", Some("./b"))).is_err());
        // Keys are encoded once, slashes kept.
        let url = signer.presign(&request("GET", Some("a b/ü+?"))).unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:9000/examplebucket/a%20b/%C3%BC%2B%3F?"),
            "{url}"
        );
    }
}

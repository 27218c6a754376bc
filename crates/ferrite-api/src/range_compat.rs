//! AWS ignores a `Range` header it cannot use as one byte range (several ranges,
//! `bytes=-0`, garbage) and answers with the whole object; s3s refuses such a request
//! with 400 while parsing it. The header cannot simply be removed before s3s sees the
//! request: SigV4 signs it.
//!
//! So such a GET or HEAD goes this way: s3s verifies its signature as usual, then
//! hands it to this route (routes are matched after authentication), which sends it
//! through the service again without the `Range` header and without its now-spent
//! signature, marked [`Authenticated`] with the access key s3s verified. The access
//! check lets a marked request through as the key it names; nothing a client sends
//! can set the mark (request extensions come only from server code).

use std::sync::{Arc, Mutex};

use s3s::dto::Range;
use s3s::route::S3Route;
use s3s::service::S3Service;
use s3s::{Body, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

/// Marks a request whose signature s3s has already verified, for the access key named.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub access_key: String,
}

/// Whether a `Range` header value is one usable byte range.
pub fn usable_range(value: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(value) else {
        return false;
    };
    match Range::parse(s.trim()) {
        Ok(Range::Suffix { length: 0 }) => false,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// The route; give it the built service with [`IgnoreUnusableRange::set_service`]
/// (and take it back with [`IgnoreUnusableRange::clear`] at shutdown: the service
/// holds the route, so the pair would otherwise keep each other alive).
#[derive(Clone, Default)]
pub struct IgnoreUnusableRange {
    service: Arc<Mutex<Option<S3Service>>>,
}

impl IgnoreUnusableRange {
    pub fn set_service(&self, service: S3Service) {
        *self.service.lock().unwrap_or_else(|p| p.into_inner()) = Some(service);
    }

    pub fn clear(&self) {
        self.service.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Query parameters of a presigned URL's signature.
const PRESIGN_PARAMS: [&str; 10] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
];

fn without_signature(uri: &http::Uri) -> S3Result<http::Uri> {
    let Some(query) = uri.query() else {
        return Ok(uri.clone());
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let name = p.split_once('=').map_or(*p, |(k, _)| k);
            !PRESIGN_PARAMS.contains(&name)
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|_| S3Error::new(S3ErrorCode::InvalidURI))?,
    );
    http::Uri::from_parts(parts).map_err(|_| S3Error::new(S3ErrorCode::InvalidURI))
}

#[async_trait::async_trait]
impl S3Route for IgnoreUnusableRange {
    fn is_match(
        &self,
        method: &http::Method,
        _uri: &http::Uri,
        headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> bool {
        if method != http::Method::GET && method != http::Method::HEAD || extensions.get::<Authenticated>().is_some() {
            return false;
        }
        let mut all = headers.get_all(http::header::RANGE).iter();
        match (all.next(), all.next()) {
            (None, _) => false,
            (Some(v), None) => !usable_range(v.as_bytes()),
            (Some(_), Some(_)) => true,
        }
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let service = self
            .service
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| S3Error::with_message(S3ErrorCode::ServiceUnavailable, "the server is shutting down"))?;
        let access_key = req
            .credentials
            .as_ref()
            .map(|c| c.access_key.clone())
            .ok_or_else(|| S3Error::new(S3ErrorCode::AccessDenied))?;
        let mut again = http::Request::new(req.input);
        *again.method_mut() = req.method;
        *again.uri_mut() = without_signature(&req.uri)?;
        *again.headers_mut() = req.headers;
        *again.extensions_mut() = req.extensions;
        let headers = again.headers_mut();
        headers.remove(http::header::RANGE);
        headers.remove(http::header::AUTHORIZATION);
        again.extensions_mut().insert(Authenticated { access_key });
        let resp = service
            .call(again)
            .await
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, format!("{e:?}")))?;
        let (parts, body) = resp.into_parts();
        let mut out = S3Response::new(body);
        out.status = Some(parts.status);
        out.headers = parts.headers;
        out.extensions = parts.extensions;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_ranges_are_usable() {
        for ok in ["bytes=0-0", "bytes=5-", "bytes=-3", "bytes=2-10", " bytes=1-2 "] {
            assert!(usable_range(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "bytes=-0",
            "bytes=0-1,3-4",
            "bytes=5-2",
            "garbage",
            "bytes=",
            "items=0-1",
            "bytes=a-b",
        ] {
            assert!(!usable_range(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn presigned_parameters_are_dropped_and_others_kept() {
        let u: http::Uri = "/b/k?versionId=abc&X-Amz-Signature=s&X-Amz-Expires=5&response-content-type=x"
            .parse()
            .unwrap();
        assert_eq!(
            without_signature(&u).unwrap().to_string(),
            "/b/k?versionId=abc&response-content-type=x"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any Range header: deciding whether it is usable never panics, and a
            /// usable one resolves, for any object size, inside the object.
            #[test]
            fn ranges(value in prop_oneof!["bytes=[0-9]{0,21}-[0-9]{0,21}", "bytes=-[0-9]{0,21}", "[ -~]{0,40}"],
                      size in prop_oneof![Just(0u64), 1u64..1000, any::<u64>()]) {
                if usable_range(value.as_bytes()) {
                    let r = Range::parse(value.trim()).unwrap();
                    if let Ok(got) = crate::convert::byte_range(r).resolve(size) {
                        prop_assert!(got.start < got.end && got.end <= size, "{value} on {size}: {got:?}");
                    }
                }
            }

            /// Dropping a presigned signature never panics and drops every part of it.
            #[test]
            fn presigned_parameters(query in "[!-~]{0,150}") {
                let Ok(uri) = format!("/b/k?{query}").parse::<http::Uri>() else { return Ok(()) };
                if let Ok(clean) = without_signature(&uri) {
                    let q = clean.query().unwrap_or("");
                    for p in q.split('&') {
                        let name = p.split_once('=').map_or(p, |(k, _)| k);
                        prop_assert!(!PRESIGN_PARAMS.contains(&name));
                    }
                }
            }
        }
    }
}

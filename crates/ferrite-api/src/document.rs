//! Integrity of request documents: the XML (or JSON) bodies of configuration and
//! batch requests (PutBucketCors, PutBucketPolicy, PutBucketAcl, DeleteObjects,
//! CompleteMultipartUpload, ...). A `Content-MD5` or `x-amz-checksum-*` header sent
//! with such a body is checked against it before the request runs, as it is for
//! object data (which the model checks while it streams): a mismatch is 400 BadDigest
//! and changes nothing. These bodies are small and the S3 layer buffers them anyway
//! (up to the same bound), so checking them costs one pass over a few kilobytes.

use ferrite_model::{BodyHasher, ChecksumAlgorithm, Expected, ModelError};
use s3s::S3Result;

use crate::convert::{content_md5, header_checksum};
use crate::error::to_s3;

/// Query keys that make a PUT or POST carry a document instead of object data.
const DOCUMENT_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "versioning",
    "website",
];

/// What a request claims about its document body, when it is a document request that
/// claims something: `Ok(None)` for object data, for requests without a digest header,
/// and for aws-chunked bodies (the S3 layer decodes those; their trailers are checked
/// there). A malformed digest header is refused here, as for object data.
pub fn document_claims(
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> S3Result<Option<Expected>> {
    if !(method == http::Method::PUT || method == http::Method::POST) {
        return Ok(None);
    }
    let query = uri.query().unwrap_or("");
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p.split_once('=').map_or(p, |(k, _)| k) == name)
    };
    // POST ?uploadId completes an upload (an XML document); PUT ?uploadId is a part.
    let completes = method == http::Method::POST && has("uploadId");
    if !(completes || DOCUMENT_SUBRESOURCES.iter().any(|s| has(s))) {
        return Ok(None);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let chunked = header("x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-"))
        || header("content-encoding").is_some_and(|v| v.split(',').any(|e| e.trim() == "aws-chunked"));
    if chunked {
        return Ok(None);
    }
    let md5 = header("content-md5");
    // CompleteMultipartUpload's x-amz-checksum-* is the whole object's checksum (the
    // model checks it against the parts), not its document's.
    let values: Vec<Option<String>> = ChecksumAlgorithm::ALL
        .iter()
        .map(|a| header(&format!("x-amz-checksum-{}", a.name().to_ascii_lowercase())))
        .map(|v| v.filter(|_| !completes))
        .collect();
    let checksums = [
        (ChecksumAlgorithm::ALL[0], values[0].as_ref()),
        (ChecksumAlgorithm::ALL[1], values[1].as_ref()),
        (ChecksumAlgorithm::ALL[2], values[2].as_ref()),
        (ChecksumAlgorithm::ALL[3], values[3].as_ref()),
        (ChecksumAlgorithm::ALL[4], values[4].as_ref()),
    ];
    let expected = Expected {
        md5: content_md5(md5.as_ref())?,
        checksum: header_checksum(checksums)?,
        length: None,
    };
    Ok((expected.md5.is_some() || expected.checksum.is_some()).then_some(expected))
}

/// Checks a whole document body against what its request claimed.
pub fn verify_document(expected: &Expected, body: &[u8]) -> S3Result<()> {
    let mut hasher = BodyHasher::new(expected.checksum.as_ref().map(|c| c.algorithm));
    hasher.update(body);
    hasher.finish().verify(expected).map_err(|e| to_s3(ModelError::from(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn claims(method: &str, uri: &str, headers: &[(&str, &str)]) -> S3Result<Option<Expected>> {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        document_claims(&method.parse().unwrap(), &uri.parse().unwrap(), &map)
    }

    fn md5_b64(body: &[u8]) -> String {
        let mut h = BodyHasher::new(None);
        h.update(body);
        base64::engine::general_purpose::STANDARD.encode(h.finish().md5)
    }

    #[test]
    fn documents_are_told_from_object_data() {
        let md5 = md5_b64(b"x");
        let h = [("content-md5", md5.as_str())];
        for (method, uri) in [
            ("PUT", "/b?cors"),
            ("PUT", "/b?policy"),
            ("PUT", "/b/k?acl"),
            ("POST", "/b?delete"),
            ("POST", "/b/k?uploadId=abc"),
            ("PUT", "/b/k?tagging&versionId=1"),
        ] {
            assert!(claims(method, uri, &h).unwrap().is_some(), "{method} {uri}");
        }
        for (method, uri) in [
            ("PUT", "/b/k"),
            ("PUT", "/b/k?partNumber=1&uploadId=abc"),
            ("PUT", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"),
            ("GET", "/b?cors"),
            ("POST", "/b/k?uploads"),
        ] {
            assert!(claims(method, uri, &h).unwrap().is_none(), "{method} {uri}");
        }
        // A completion's checksum header is the object's, not the document's.
        let crc = [("x-amz-checksum-crc32", "AAAAAA==")];
        assert!(claims("POST", "/b/k?uploadId=abc", &crc).unwrap().is_none());
        // Nothing claimed, or an aws-chunked body: nothing to check here.
        assert!(claims("PUT", "/b?cors", &[]).unwrap().is_none());
        let chunked = [
            ("content-md5", md5.as_str()),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ];
        assert!(claims("PUT", "/b?cors", &chunked).unwrap().is_none());
    }

    #[test]
    fn bodies_are_checked_against_md5_and_checksums() {
        let body = b"<CORSConfiguration></CORSConfiguration>";
        let md5 = md5_b64(body);
        let good = claims("PUT", "/b?cors", &[("content-md5", &md5)]).unwrap().unwrap();
        verify_document(&good, body).unwrap();
        let e = verify_document(&good, b"<CORSConfiguration/>").unwrap_err();
        assert_eq!(e.code().as_str(), "BadDigest");
        // A checksum header: computed with its own algorithm.
        let sha256 = {
            use sha2::Digest as _;
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
        };
        let c = claims("POST", "/b?delete", &[("x-amz-checksum-sha256", &sha256)])
            .unwrap()
            .unwrap();
        verify_document(&c, body).unwrap();
        assert_eq!(verify_document(&c, b"other").unwrap_err().code().as_str(), "BadDigest");
        // Malformed values are refused before the body is read.
        let e = claims("PUT", "/b?cors", &[("content-md5", "not base64!")]).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidDigest");
        // (A checksum of the wrong length, as for object data.)
        let e = claims("PUT", "/b?cors", &[("x-amz-checksum-crc32", "AAAA")]).unwrap_err();
        assert_eq!(e.code().as_str(), "BadDigest");
    }
}

//! Features Ferrite does not implement yet, refused before anything runs. A request
//! that asks for a protection Ferrite does not give must not succeed: the client would
//! believe its data protected. So a request carrying one of these headers is answered
//! 501 NotImplemented, naming the header, whatever the operation (the issues that
//! build these features remove their lines here; SSE, tags and Object Lock are built).

use s3s::{S3Error, S3ErrorCode};

/// Headers that ask for a feature not built yet, and the feature's name.
const NOT_YET: &[(&str, &str)] = &[];

/// Refuses a request that asks for a feature not built yet.
/// (Server-side encryption is built: its headers are the adapter's business, where a
/// value not built, dual-layer SSE-KMS, is NotImplemented, an unknown one
/// InvalidArgument.)
pub fn refuse_unimplemented(headers: &http::HeaderMap) -> Result<(), S3Error> {
    refuse_conflicting_encryption(headers)?;
    for (name, feature) in NOT_YET {
        if headers.contains_key(*name) {
            return Err(not_yet(feature, name));
        }
    }
    Ok(())
}

/// Refuses a POST form field (lower-cased name) that asks for a feature not built yet:
/// the headers above.
pub(crate) fn refuse_unimplemented_field(name: &str) -> Result<(), S3Error> {
    if let Some((name, feature)) = NOT_YET.iter().find(|(n, _)| *n == name) {
        return Err(not_yet(feature, name));
    }
    // The form's encryption fields are the PUT's headers (SSE-S3, SSE-KMS and SSE-C
    // are built); one S3 does not have is refused.
    if name.starts_with("x-amz-server-side-encryption")
        && !SSE_FIELDS.contains(&name)
        && !name.starts_with("x-amz-server-side-encryption-customer-")
    {
        return Err(not_yet("Server-side encryption", name));
    }
    Ok(())
}

const SSE: &str = "x-amz-server-side-encryption";

/// The encryption fields a POST form may carry besides SSE-C's.
const SSE_FIELDS: &[&str] = &[
    SSE,
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
];

/// Encryption headers that contradict each other are refused as AWS refuses them
/// (400 InvalidArgument), whether or not the kinds they name are built: a KMS key id
/// with `AES256`, and customer-key (SSE-C) headers beside `x-amz-server-side-encryption`.
fn refuse_conflicting_encryption(headers: &http::HeaderMap) -> Result<(), S3Error> {
    let Some(sse) = headers.get(SSE) else {
        return Ok(());
    };
    let invalid = |msg: &str| S3Error::with_message(S3ErrorCode::InvalidArgument, msg.to_string());
    if headers.contains_key("x-amz-server-side-encryption-customer-algorithm")
        || headers.contains_key("x-amz-server-side-encryption-customer-key")
    {
        return Err(invalid(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ));
    }
    if sse.as_bytes() == b"AES256" && headers.contains_key("x-amz-server-side-encryption-aws-kms-key-id") {
        return Err(invalid(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ));
    }
    Ok(())
}

/// `x-amz-server-side-encryption` on a read (GET, HEAD) is refused as AWS refuses it:
/// a stored object's encryption is the object's, not the request's.
pub fn refuse_encryption_on_reads(method: &http::Method, headers: &http::HeaderMap) -> Result<(), S3Error> {
    if (*method == http::Method::GET || *method == http::Method::HEAD) && headers.contains_key(SSE) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "x-amz-server-side-encryption header is not supported for this operation.",
        ));
    }
    Ok(())
}

fn not_yet(feature: &str, header: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NotImplemented,
        format!("{feature} ({header}) is not implemented yet; the request was not carried out."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn feature_headers_are_refused_and_others_pass() {
        for (name, _) in NOT_YET {
            let e = refuse_unimplemented(&headers(&[(name, "x")])).unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::NotImplemented, "{name}");
            assert!(e.message().unwrap().contains(name));
        }
        // Object Lock is built.
        assert!(refuse_unimplemented(&headers(&[("x-amz-bucket-object-lock-enabled", "true")])).is_ok());
        assert!(refuse_unimplemented(&headers(&[("x-amz-object-lock-mode", "GOVERNANCE")])).is_ok());
        assert!(refuse_unimplemented(&headers(&[("x-amz-acl", "private"), ("content-md5", "x")])).is_ok());
        // SSE-S3 is built.
        assert!(refuse_unimplemented(&headers(&[(SSE, "AES256")])).is_ok());
        // Contradictions are 400, whatever is built.
        for conflict in [
            headers(&[(SSE, "AES256"), ("x-amz-server-side-encryption-aws-kms-key-id", "k")]),
            headers(&[
                (SSE, "AES256"),
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ]),
            headers(&[(SSE, "aws:kms"), ("x-amz-server-side-encryption-customer-key", "a2V5")]),
        ] {
            let e = refuse_unimplemented(&conflict).unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::InvalidArgument);
        }
        // SSE-KMS is built: its headers pass to the adapter.
        assert!(
            refuse_unimplemented(&headers(&[
                (SSE, "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
                ("x-amz-server-side-encryption-context", "e30="),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ]))
            .is_ok()
        );
        let sse = headers(&[(SSE, "AES256")]);
        for method in [http::Method::GET, http::Method::HEAD] {
            let e = refuse_encryption_on_reads(&method, &sse).unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::InvalidArgument);
        }
        assert!(refuse_encryption_on_reads(&http::Method::PUT, &sse).is_ok());
        assert!(refuse_encryption_on_reads(&http::Method::GET, &headers(&[])).is_ok());
        assert!(refuse_unimplemented_field(SSE).is_ok());
        assert!(refuse_unimplemented_field("x-amz-server-side-encryption-aws-kms-key-id").is_ok());
        assert!(refuse_unimplemented_field("x-amz-server-side-encryption-other").is_err());
    }
}

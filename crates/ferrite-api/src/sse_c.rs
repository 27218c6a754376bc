//! SSE-C's request headers: the customer's key, checked as AWS checks it before
//! anything runs, and what responses answer about it.
//!
//! A request sends all three of `x-amz-server-side-encryption-customer-algorithm`
//! (`AES256`), `-key` (the 256-bit key, base64) and `-key-MD5` (the key's MD5, base64,
//! which guards the key against damage in transit); a copy sends the source's as
//! `x-amz-copy-source-server-side-encryption-customer-*`. Responses echo the algorithm
//! and the key's MD5, never the key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ferrite_model::{CustomerKey, EncryptionAlgorithm, Key};
use md5::{Digest, Md5};
use s3s::{S3Error, S3ErrorCode, S3Result};
use zeroize::Zeroizing;

/// The SSE-C headers of a request (or its copy-source headers), as sent.
#[derive(Clone, Copy, Default)]
pub(crate) struct Headers<'a> {
    pub algorithm: Option<&'a str>,
    pub key: Option<&'a str>,
    pub key_md5: Option<&'a str>,
}

/// The SSE-C headers of an s3s input that has them.
macro_rules! sse_c_headers {
    ($input:expr) => {
        $crate::sse_c::Headers {
            algorithm: $input.sse_customer_algorithm.as_deref(),
            key: $input.sse_customer_key.as_deref(),
            key_md5: $input.sse_customer_key_md5.as_deref(),
        }
    };
}
pub(crate) use sse_c_headers;

/// The copy-source SSE-C headers of a copy input.
macro_rules! copy_source_sse_c_headers {
    ($input:expr) => {
        $crate::sse_c::Headers {
            algorithm: $input.copy_source_sse_customer_algorithm.as_deref(),
            key: $input.copy_source_sse_customer_key.as_deref(),
            key_md5: $input.copy_source_sse_customer_key_md5.as_deref(),
        }
    };
}
pub(crate) use copy_source_sse_c_headers;

fn invalid(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg.to_string())
}

/// The key the headers send, checked: `None` when none of them is sent. Errors are
/// AWS's (400 InvalidArgument, or InvalidEncryptionAlgorithmError for another
/// algorithm than AES256).
pub(crate) fn customer_key(h: Headers<'_>) -> S3Result<Option<CustomerKey>> {
    let (algorithm, key) = match (h.algorithm, h.key, h.key_md5) {
        (None, None, None) => return Ok(None),
        (None, _, _) => {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid \
                 encryption algorithm.",
            ));
        }
        (Some(_), None, _) => {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate \
                 secret key.",
            ));
        }
        (Some(a), Some(k), _) => (a, k),
    };
    if algorithm != "AES256" {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "The encryption request you specified is not valid. The valid value is AES256.",
        ));
    }
    let bytes = Zeroizing::new(B64.decode(key.trim()).unwrap_or_default());
    let Ok(key) = Key::from_slice(&bytes) else {
        return Err(invalid("The secret key was invalid for the specified algorithm."));
    };
    let Some(sent_md5) = h.key_md5 else {
        return Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client \
             calculated MD5 of the secret key.",
        ));
    };
    let md5 = Md5::digest(key.expose());
    if B64.decode(sent_md5.trim()).ok().as_deref() != Some(md5.as_slice()) {
        return Err(invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    Ok(Some(CustomerKey::new(key)))
}

/// What a response answers about SSE-C: the algorithm and the key MD5 the request
/// sent, for an SSE-C object.
pub(crate) fn echo(encryption: Option<EncryptionAlgorithm>, h: Headers<'_>) -> (Option<String>, Option<String>) {
    match encryption {
        Some(EncryptionAlgorithm::SseC) => (Some("AES256".to_string()), h.key_md5.map(|m| m.trim().to_string())),
        _ => (None, None),
    }
}

/// Whether a request may carry SSE-C keys over this connection: AWS refuses them
/// over plain HTTP (the key would cross the network in the clear). Loopback clients
/// are allowed (the key does not leave the machine), and so is everyone when the
/// operator terminates TLS in front of the server (`--allow-sse-c-over-http`).
pub fn sse_c_transport_allowed(client: Option<&crate::ClientInfo>, allow_over_http: bool) -> bool {
    allow_over_http || client.is_some_and(|c| c.secure || c.addr.ip().is_loopback())
}

/// Request headers (and POST form fields, lower-cased) that carry an SSE-C key.
pub const KEY_HEADERS: [&str; 2] = [
    "x-amz-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key",
];

/// The refusal of an SSE-C key sent over plain HTTP (400, AWS's words).
pub fn insecure_transport() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidRequest,
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure \
         connection.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
    const MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

    fn h<'a>(algorithm: Option<&'a str>, key: Option<&'a str>, key_md5: Option<&'a str>) -> Headers<'a> {
        Headers {
            algorithm,
            key,
            key_md5,
        }
    }

    fn code(r: S3Result<Option<CustomerKey>>) -> String {
        r.err().map(|e| e.code().as_str().to_string()).unwrap_or_default()
    }

    #[test]
    fn a_complete_set_of_headers_gives_the_key() {
        let k = customer_key(h(Some("AES256"), Some(KEY), Some(MD5))).unwrap().unwrap();
        let expected = CustomerKey::new(Key::from_slice(&B64.decode(KEY).unwrap()).unwrap());
        assert_eq!(k, expected);
        assert_eq!(format!("{k:?}"), "CustomerKey(***)");
        assert!(customer_key(Headers::default()).unwrap().is_none());
    }

    #[test]
    fn each_missing_or_wrong_part_is_refused_as_aws_refuses_it() {
        assert_eq!(code(customer_key(h(None, Some(KEY), Some(MD5)))), "InvalidArgument");
        assert_eq!(code(customer_key(h(Some("AES256"), None, None))), "InvalidArgument");
        assert_eq!(
            code(customer_key(h(Some("AES256"), Some(KEY), None))),
            "InvalidArgument"
        );
        assert_eq!(
            code(customer_key(h(
                Some("AES256"),
                Some(KEY),
                Some("AAAAAAAAAAAAAAAAAAAAAA==")
            ))),
            "InvalidArgument"
        );
        assert_eq!(
            code(customer_key(h(Some("AES192"), Some(KEY), Some(MD5)))),
            "InvalidEncryptionAlgorithmError"
        );
        // 16 bytes, and not base64 at all.
        let short = B64.encode([1u8; 16]);
        let short_md5 = B64.encode(Md5::digest([1u8; 16]));
        assert_eq!(
            code(customer_key(h(Some("AES256"), Some(&short), Some(&short_md5)))),
            "InvalidArgument"
        );
        assert_eq!(
            code(customer_key(h(Some("AES256"), Some("%%%"), Some(MD5)))),
            "InvalidArgument"
        );
    }

    #[test]
    fn responses_echo_the_md5_only_for_sse_c_objects() {
        let sent = h(Some("AES256"), Some(KEY), Some(MD5));
        assert_eq!(
            echo(Some(EncryptionAlgorithm::SseC), sent),
            (Some("AES256".into()), Some(MD5.into()))
        );
        assert_eq!(echo(Some(EncryptionAlgorithm::SseS3), sent), (None, None));
        assert_eq!(echo(None, sent), (None, None));
    }

    #[test]
    fn plain_http_is_allowed_only_from_loopback_or_when_the_operator_says_so() {
        let client = |addr: &str, secure| crate::ClientInfo {
            addr: addr.parse().unwrap(),
            secure,
        };
        assert!(sse_c_transport_allowed(Some(&client("127.0.0.1:5000", false)), false));
        assert!(sse_c_transport_allowed(Some(&client("[::1]:5000", false)), false));
        assert!(!sse_c_transport_allowed(Some(&client("192.0.2.7:5000", false)), false));
        assert!(sse_c_transport_allowed(Some(&client("192.0.2.7:5000", true)), false));
        assert!(sse_c_transport_allowed(Some(&client("192.0.2.7:5000", false)), true));
        assert!(!sse_c_transport_allowed(None, false));
    }
}

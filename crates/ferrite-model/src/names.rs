//! Bucket-name and key rules, as AWS documents them for general purpose buckets.

use crate::{ModelError, ModelResult};

pub const MAX_KEY_LEN: usize = 1024;
/// User-defined metadata limit: names and values of `x-amz-meta-*`, in bytes.
pub const MAX_USER_METADATA: usize = 2048;

pub fn validate_bucket_name(name: &str) -> ModelResult<()> {
    let bad = |why: &str| Err(ModelError::InvalidBucketName(format!("{name:?}: {why}")));
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("may hold only lowercase letters, digits, dots and hyphens");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("must not have adjacent dots, or a dot beside a hyphen");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("must not be formatted as an IP address");
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return bad("uses a reserved prefix");
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return bad("uses a reserved suffix");
        }
    }
    Ok(())
}

pub fn validate_key(key: &str) -> ModelResult<()> {
    if key.is_empty() {
        return Err(ModelError::InvalidArgument("object key must not be empty".into()));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(ModelError::KeyTooLong);
    }
    // C1 control characters (U+0080..U+009F): AWS cannot parse a URI naming them
    // and answers 400 (ceph/s3-tests' test_object_read_unreadable), so no such key
    // can exist there; refuse them the same way for every operation.
    if key.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return Err(ModelError::UnparseableKey);
    }
    // NUL cannot travel in S3's XML, and the version index uses it as the separator.
    if key.contains('\0') {
        return Err(ModelError::InvalidArgument(
            "object key must not contain a NUL character".into(),
        ));
    }
    Ok(())
}

pub fn validate_user_metadata(meta: &[(String, String)]) -> ModelResult<()> {
    let size: usize = meta.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(ModelError::MetadataTooLarge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.data", "a1b", &"a".repeat(63), "1-2-3"] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "ABC",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a b",
            "ab/",
            "ab\u{e9}",
        ] {
            assert!(
                matches!(validate_bucket_name(bad), Err(ModelError::InvalidBucketName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys() {
        assert!(validate_key(&"k".repeat(1024)).is_ok());
        assert!(matches!(validate_key(&"k".repeat(1025)), Err(ModelError::KeyTooLong)));
        // 1024 bytes, not characters: 342 three-byte characters are 1026 bytes.
        assert!(matches!(
            validate_key(&"\u{20ac}".repeat(342)),
            Err(ModelError::KeyTooLong)
        ));
        assert!(validate_key("../../etc/passwd").is_ok(), "keys are names, never paths");
        assert!(validate_key("").is_err());
    }

    #[test]
    fn metadata_limit() {
        let at_limit = vec![("k".to_string(), "v".repeat(2047))];
        assert!(validate_user_metadata(&at_limit).is_ok());
        let over = vec![("k".to_string(), "v".repeat(2048))];
        assert!(matches!(
            validate_user_metadata(&over),
            Err(ModelError::MetadataTooLarge)
        ));
    }
}

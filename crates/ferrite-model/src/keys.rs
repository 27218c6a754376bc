//! Byte layouts of metadata keys. Object keys are stored under their bucket's numeric
//! id, so one bucket's objects are one contiguous, key-ordered range.

pub fn object_key(bucket_id: u64, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&bucket_id.to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// The first key past every key of `bucket_id`.
pub fn bucket_end(bucket_id: u64) -> Vec<u8> {
    (bucket_id + 1).to_be_bytes().to_vec()
}

/// Strips the bucket id off a stored key.
pub fn user_key(stored: &[u8]) -> Option<&str> {
    stored.get(8..).and_then(|k| std::str::from_utf8(k).ok())
}

/// The smallest string greater than every string that starts with `prefix`, or `None`
/// if there is none (an all-0xFF prefix, impossible for UTF-8 keys).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

pub const NEXT_BUCKET_ID: &[u8] = b"next_bucket_id";
pub const FORMAT_KEY: &[u8] = b"format_version";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_keeps_buckets_apart_and_keys_ordered() {
        assert!(object_key(1, "zzz") < object_key(2, ""));
        assert!(object_key(1, "a") < object_key(1, "a/"));
        assert!(object_key(1, "\u{ffff}") < bucket_end(1));
        assert_eq!(user_key(&object_key(7, "x/y")), Some("x/y"));
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
    }
}

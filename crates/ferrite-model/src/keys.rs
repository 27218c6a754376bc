//! Byte layouts of metadata keys. Object keys are stored under their bucket's numeric
//! id, so one bucket's objects are one contiguous, key-ordered range.
//!
//! A version key is `bucket id | key | 0x00 | !seq` (big-endian): object keys never
//! hold a NUL byte, so all versions of one key sort together, before any longer key
//! that extends it, and newest first (higher sequence, smaller inverted value).

pub fn object_key(bucket_id: u64, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&bucket_id.to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// All versions of `key` start with this.
pub fn version_prefix(bucket_id: u64, key: &str) -> Vec<u8> {
    let mut out = object_key(bucket_id, key);
    out.push(0);
    out
}

pub fn version_key(bucket_id: u64, key: &str, seq: u64) -> Vec<u8> {
    let mut out = version_prefix(bucket_id, key);
    out.extend_from_slice(&(!seq).to_be_bytes());
    out
}

/// Splits a stored version key into the user key and the version sequence.
pub fn split_version_key(stored: &[u8]) -> Option<(&str, u64)> {
    let (key, suffix) = split_suffixed(stored, 8)?;
    Some((key, !u64::from_be_bytes(suffix.try_into().ok()?)))
}

/// A multipart upload's key: `bucket id | key | 0x00 | upload id` (16 bytes, starting
/// with the initiation time), so a key's uploads list oldest first.
pub fn upload_key(bucket_id: u64, key: &str, upload: &[u8; 16]) -> Vec<u8> {
    let mut out = version_prefix(bucket_id, key);
    out.extend_from_slice(upload);
    out
}

pub fn split_upload_key(stored: &[u8]) -> Option<(&str, [u8; 16])> {
    let (key, suffix) = split_suffixed(stored, 16)?;
    Some((key, suffix.try_into().ok()?))
}

/// Splits `bucket id | key | 0x00 | suffix` with a suffix of `len` bytes.
fn split_suffixed(stored: &[u8], len: usize) -> Option<(&str, &[u8])> {
    let n = stored.len().checked_sub(len + 1)?;
    if n < 8 || stored[n] != 0 {
        return None;
    }
    Some((std::str::from_utf8(&stored[8..n]).ok()?, &stored[n + 1..]))
}

/// A part's key: upload id then part number, so an upload's parts list in order.
pub fn part_key(upload: &[u8; 16], part_number: u32) -> Vec<u8> {
    let mut out = upload.to_vec();
    out.extend_from_slice(&part_number.to_be_bytes());
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
/// The key provider's check value (`sse::check_provider`).
pub const KEY_CHECK: &[u8] = b"key_check";

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
    fn versions_sort_by_key_then_newest_first() {
        let v = |k, seq| version_key(1, k, seq);
        assert!(v("a", 10) < v("a", 9));
        assert!(v("a", 0) < v("a\u{1}", u64::MAX));
        assert!(v("a", 0) < v("a/", u64::MAX));
        assert!(version_prefix(1, "a") < v("a", u64::MAX));
        assert_eq!(split_version_key(&v("x/y", 42)), Some(("x/y", 42)));
        assert_eq!(split_version_key(&v("", 7)), Some(("", 7)));
        assert_eq!(split_version_key(b"short"), None);
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
    }
}

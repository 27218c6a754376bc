//! The records stored in the metadata store, and their versioned encoding.
//!
//! Every value starts with a one-byte record format version, then the postcard
//! encoding of the record. A reader that meets an older version migrates it on read;
//! a newer version than it knows is refused as corruption rather than misread.
//! Fields that later features fill (ACL, encryption, object lock, tags, versions,
//! multipart segments) are part of the schema from the first version.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checksum::ChecksumValue;
use crate::{ModelError, ModelResult};

/// Version of the on-disk format as a whole (data-dir layout and record encodings).
/// 1: current objects only. 2: the version index (`Versions`, `NullVersions`).
/// 3: per-bucket usage counters (`BucketStats`).
pub const FORMAT_VERSION: u32 = 3;

/// Version byte in front of every encoded record.
const RECORD_VERSION: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    // Encoding plain structs into a Vec cannot fail.
    out.extend(postcard::to_stdvec(value).expect("record encodes"));
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> ModelResult<T> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| ModelError::Corrupt(format!("undecodable record: {e}")))
        }
        Some((v, _)) => Err(ModelError::Corrupt(format!("unknown record version {v}"))),
        None => Err(ModelError::Corrupt("empty record".into())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersioningState {
    Unversioned,
    Enabled,
    Suspended,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Internal id, never reused: object keys are stored under it, so a bucket deleted
    /// and created again starts empty whatever was left behind.
    pub id: u64,
    pub name: String,
    pub created_ms: i64,
    /// The bucket's location constraint as given at creation (empty for the default).
    pub location: String,
    pub owner: String,
    pub versioning: VersioningState,
    pub object_lock: bool,
    pub acl: Option<Vec<Grant>>,
    pub encryption: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: String,
    pub permission: String,
}

/// Standard headers and user metadata, stored and returned exactly as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAttrs {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    /// `Expires`, as unix milliseconds.
    pub expires_ms: Option<i64>,
    /// `x-amz-meta-*` pairs (names without the prefix), in the order given.
    pub user_metadata: Vec<(String, String)>,
    pub website_redirect: Option<String>,
}

/// Where an object version's bytes live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataRef {
    /// In the metadata store's inline table, under this id.
    Inline([u8; 16]),
    /// In the blob store.
    Blob([u8; 16]),
    /// Multipart objects: the parts' blobs in order, each with its length.
    Segments(Vec<Segment>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The part number it was uploaded as (`partNumber` reads address it).
    pub part_number: u32,
    pub blob: [u8; 16],
    pub size: u64,
    pub etag: String,
    pub checksum: Option<ChecksumValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionInfo {
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key: bool,
    pub wrapped_key: Vec<u8>,
    pub customer_key_md5: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub mode: Option<String>,
    pub retain_until_ms: Option<i64>,
    pub legal_hold: bool,
}

/// One version of an object, or a delete marker (`delete_marker`, no data: its
/// `data` is an empty segment list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// `None` is the "null" version.
    pub version_id: Option<String>,
    pub delete_marker: bool,
    pub size: u64,
    /// Hex MD5 of the bytes (multipart: hex MD5 of part MD5s, `-N`), without quotes.
    pub etag: String,
    pub last_modified_ms: i64,
    pub attrs: ObjectAttrs,
    pub checksum: Option<ChecksumValue>,
    pub data: DataRef,
    pub owner: String,
    pub storage_class: Option<String>,
    pub tags: Vec<(String, String)>,
    pub acl: Option<Vec<Grant>>,
    pub encryption: Option<EncryptionInfo>,
    pub lock: LockInfo,
}

/// A multipart upload in progress: what CreateMultipartUpload said about the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub initiated_ms: i64,
    pub attrs: ObjectAttrs,
    pub storage_class: Option<String>,
    pub owner: String,
    pub checksum_algorithm: Option<crate::ChecksumAlgorithm>,
    /// FULL_OBJECT (a CRC of the whole object) rather than COMPOSITE.
    pub checksum_full_object: bool,
}

/// One uploaded part: its own blob (holding one reference) and digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub blob: [u8; 16],
    pub size: u64,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    pub checksum: Option<ChecksumValue>,
    pub last_modified_ms: i64,
}

/// What a completed upload produced, kept so a retried Complete gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedRecord {
    pub bucket_id: u64,
    pub key: String,
    pub etag: String,
    pub version_id: Option<String>,
    pub checksum: Option<ChecksumValue>,
    pub size: u64,
}

impl DataRef {
    /// Data ids this reference holds.
    pub fn ids(&self) -> Vec<[u8; 16]> {
        match self {
            DataRef::Inline(id) | DataRef::Blob(id) => vec![*id],
            DataRef::Segments(segs) => segs.iter().map(|s| s.blob).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ObjectRecord {
        ObjectRecord {
            version_id: None,
            delete_marker: false,
            size: 3,
            etag: "abc".into(),
            last_modified_ms: 1_700_000_000_000,
            attrs: ObjectAttrs {
                content_type: Some("text/plain".into()),
                user_metadata: vec![("a".into(), "b".into())],
                ..Default::default()
            },
            checksum: None,
            data: DataRef::Inline([1; 16]),
            owner: "o".into(),
            storage_class: None,
            tags: vec![],
            acl: None,
            encryption: None,
            lock: LockInfo::default(),
        }
    }

    #[test]
    fn records_round_trip_with_version_byte() {
        let rec = sample();
        let bytes = encode(&rec);
        assert_eq!(bytes[0], RECORD_VERSION);
        assert_eq!(decode::<ObjectRecord>(&bytes).unwrap(), rec);
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused() {
        let mut bytes = encode(&sample());
        bytes[0] = 99;
        assert!(matches!(decode::<ObjectRecord>(&bytes), Err(ModelError::Corrupt(_))));
        assert!(matches!(decode::<ObjectRecord>(&[]), Err(ModelError::Corrupt(_))));
        assert!(matches!(
            decode::<ObjectRecord>(&[RECORD_VERSION, 0xff]),
            Err(ModelError::Corrupt(_))
        ));
    }
}

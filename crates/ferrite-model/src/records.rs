//! The records stored in the metadata store, and their versioned encoding.
//!
//! Every value is one version byte, then the postcard encoding of the record in that
//! version's shape. Each record type has its own version ([`Record::VERSION`]), so one
//! type can grow without touching the others. Rules for changing a record:
//! - The shape in use is the newest. A change (a field added, a type changed) freezes
//!   the current shape, under its version, in the `previous` module (with any nested
//!   type the change touches), makes the new shape the next version, names the frozen
//!   one as its [`Record::Previous`] and writes [`Record::migrate`] from it.
//! - Reading a value of an older version decodes it in its own shape and migrates it
//!   step by step to the newest (a chain, as Garage's `type Previous`). Writes always
//!   write the newest. So a data dir written by any earlier release opens unchanged,
//!   and its rows are rewritten in the new shape only as they are written anyway.
//! - A version newer than this build knows is refused as corruption, never misread.
//! - The on-disk format ([`FORMAT_VERSION`]) goes up only when the layout changes
//!   (tables, keys), not for a record's new version.
//! - The pinned data-dir fixtures (`crates/ferrite/tests/upgrade.rs`) read every
//!   object of every earlier release with the new code; a record change adds its step.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::sse::Encryption;
use crate::{ModelError, ModelResult};
use ferrite_hash::ChecksumValue;

/// Version of the on-disk format as a whole (data-dir layout: tables and keys).
/// 1: current objects only. 2: the version index (`Versions`, `NullVersions`).
/// 3: per-bucket usage counters (`BucketStats`).
pub const FORMAT_VERSION: u32 = 3;

/// A record type of the metadata store, with its own version.
pub(crate) trait Record: Serialize + DeserializeOwned {
    /// The byte written in front of this shape's encoding. The first shape is 1.
    const VERSION: u8;
    /// The shape this one replaced ([`Initial`] for the first).
    type Previous: Record;
    /// Converts a record of the previous shape into this one.
    fn migrate(previous: Self::Previous) -> ModelResult<Self>;
}

/// The end of every migration chain: there is nothing before a first version.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Initial {}

impl Record for Initial {
    const VERSION: u8 = 0;
    type Previous = Initial;
    fn migrate(previous: Initial) -> ModelResult<Self> {
        match previous {}
    }
}

/// Records that are still in their first shape.
macro_rules! first_version {
    ($($t:ty),* $(,)?) => {$(
        impl Record for $t {
            const VERSION: u8 = 1;
            type Previous = Initial;
            fn migrate(previous: Initial) -> ModelResult<Self> {
                match previous {}
            }
        }
    )*};
}
pub(crate) use first_version;

pub(crate) fn encode<T: Record>(value: &T) -> Vec<u8> {
    let mut out = vec![T::VERSION];
    // Encoding plain structs into a Vec cannot fail.
    out.extend(postcard::to_stdvec(value).expect("record encodes"));
    out
}

pub(crate) fn decode<T: Record>(bytes: &[u8]) -> ModelResult<T> {
    match bytes.split_first() {
        Some((&version, rest)) => decode_at(version, rest),
        None => Err(ModelError::Corrupt("empty record".into())),
    }
}

/// Scans `table` from `start` on, decoding each row as `T` for `visit` (key, record),
/// which returns whether to go on. The first row that does not decode stops the scan
/// and is the error.
pub(crate) fn scan_decoded<T: Record>(
    txn: &dyn ferrite_store::ReadTxn,
    table: ferrite_store::Table,
    start: std::ops::Bound<&[u8]>,
    visit: &mut dyn FnMut(&[u8], T) -> bool,
) -> ModelResult<()> {
    let mut failed = None;
    txn.scan(
        table,
        start,
        std::ops::Bound::Unbounded,
        &mut |k, v| match decode::<T>(v) {
            Ok(rec) => visit(k, rec),
            Err(e) => {
                failed = Some(e);
                false
            }
        },
    )?;
    failed.map_or(Ok(()), Err)
}

/// Decodes `rest` written as `version` of the chain that ends in `T`, and migrates it.
fn decode_at<T: Record>(version: u8, rest: &[u8]) -> ModelResult<T> {
    if version == T::VERSION {
        postcard::from_bytes(rest).map_err(|e| ModelError::Corrupt(format!("undecodable record: {e}")))
    } else if version < T::VERSION && T::VERSION > 1 {
        T::migrate(decode_at::<T::Previous>(version, rest)?)
    } else {
        Err(ModelError::Corrupt(format!(
            "unknown record version {version} (this build reads up to {})",
            T::VERSION
        )))
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
    /// Canonical id of the principal that created the bucket.
    pub owner: String,
    pub versioning: VersioningState,
    pub object_lock: bool,
    /// The bucket's ACL; `None` is the default: its owner has FULL_CONTROL.
    pub acl: Option<Vec<Grant>>,
    /// The bucket's default encryption (PutBucketEncryption): what a write that asks
    /// for none gets. `None`: objects are stored as sent.
    pub encryption: Option<BucketEncryption>,
    /// Object ownership controls; `None` when none are set (ObjectWriter rules apply).
    pub ownership: Option<ObjectOwnership>,
    /// The bucket policy, as the owner wrote it; `None` when the bucket has none.
    pub policy: Option<StoredPolicy>,
    /// The bucket's public access block; `None` when none is set.
    pub public_access_block: Option<PublicAccessBlock>,
}

/// A bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    pub algorithm: EncryptionAlgorithm,
    /// The KMS key of SSE-KMS defaults.
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled`, as configured.
    pub bucket_key: bool,
}

/// A policy document as stored: the text exactly as written (GetBucketPolicy returns
/// it) and a stamp, random per write, under which its parsed form is cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    pub stamp: u64,
    pub document: String,
}

/// S3's public access block settings (one bucket's, or the whole server's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    /// Requests that would make a bucket or object ACL public are refused.
    pub block_public_acls: bool,
    /// Public grants in bucket and object ACLs are disregarded.
    pub ignore_public_acls: bool,
    /// A public bucket policy is refused.
    pub block_public_policy: bool,
    /// A public bucket policy grants nothing to callers outside the server's account.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// Every block on.
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// Each block that either setting turns on (the server-wide setting and a
    /// bucket's combine as AWS combines the account's and the bucket's).
    pub fn union(self, other: PublicAccessBlock) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: self.block_public_acls || other.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || other.ignore_public_acls,
            block_public_policy: self.block_public_policy || other.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || other.restrict_public_buckets,
        }
    }
}

// The enums below are stored by variant index: new variants go at the end, and a
// variant is never removed or reordered.

/// An ACL permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::FullControl => "FULL_CONTROL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Read,
            Self::Write,
            Self::ReadAcp,
            Self::WriteAcp,
            Self::FullControl,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The predefined groups an ACL can grant to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Group {
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

impl Group {
    pub fn uri(self) -> &'static str {
        match self {
            Group::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Group::AuthenticatedUsers => "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            Group::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        [Self::AllUsers, Self::AuthenticatedUsers, Self::LogDelivery]
            .into_iter()
            .find(|g| g.uri() == uri)
    }
}

/// A bucket's object ownership setting (S3's ownership controls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// The writer of an object owns it; ACLs apply.
    ObjectWriter,
    /// An object written with the `bucket-owner-full-control` ACL is owned by the bucket
    /// owner; otherwise as `ObjectWriter`.
    BucketOwnerPreferred,
    /// ACLs are disabled: the bucket owner owns every object, and only it has access
    /// (until policies grant more).
    BucketOwnerEnforced,
}

impl ObjectOwnership {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectOwnership::ObjectWriter => "ObjectWriter",
            ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
            ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ObjectWriter,
            Self::BucketOwnerPreferred,
            Self::BucketOwnerEnforced,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// S3's canned ACLs (`x-amz-acl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    pub const ALL: [CannedAcl; 8] = [
        CannedAcl::Private,
        CannedAcl::PublicRead,
        CannedAcl::PublicReadWrite,
        CannedAcl::AuthenticatedRead,
        CannedAcl::AwsExecRead,
        CannedAcl::BucketOwnerRead,
        CannedAcl::BucketOwnerFullControl,
        CannedAcl::LogDeliveryWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CannedAcl::Private => "private",
            CannedAcl::PublicRead => "public-read",
            CannedAcl::PublicReadWrite => "public-read-write",
            CannedAcl::AuthenticatedRead => "authenticated-read",
            CannedAcl::AwsExecRead => "aws-exec-read",
            CannedAcl::BucketOwnerRead => "bucket-owner-read",
            CannedAcl::BucketOwnerFullControl => "bucket-owner-full-control",
            CannedAcl::LogDeliveryWrite => "log-delivery-write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// An ACL as a request states it: a canned ACL, or a list of grants (from the
/// `x-amz-grant-*` headers or an AccessControlPolicy document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclSpec {
    Canned(CannedAcl),
    Grants(Vec<Grant>),
}

/// Who an ACL grant is to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// A principal, by canonical user id.
    User(String),
    Group(Group),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// S3's storage classes (`x-amz-storage-class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StorageClass {
    Standard,
    ReducedRedundancy,
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    Glacier,
    DeepArchive,
    Outposts,
    GlacierIr,
    Snow,
    ExpressOnezone,
}

impl StorageClass {
    pub const ALL: [StorageClass; 11] = [
        Self::Standard,
        Self::ReducedRedundancy,
        Self::StandardIa,
        Self::OnezoneIa,
        Self::IntelligentTiering,
        Self::Glacier,
        Self::DeepArchive,
        Self::Outposts,
        Self::GlacierIr,
        Self::Snow,
        Self::ExpressOnezone,
    ];

    /// Whether an object can be written in this class: AWS's regional classes
    /// (OUTPOSTS, SNOW and EXPRESS_ONEZONE need hardware or bucket kinds this server
    /// has not).
    pub fn is_regional(self) -> bool {
        !matches!(self, Self::Outposts | Self::Snow | Self::ExpressOnezone)
    }

    /// The name S3 uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::ReducedRedundancy => "REDUCED_REDUNDANCY",
            Self::StandardIa => "STANDARD_IA",
            Self::OnezoneIa => "ONEZONE_IA",
            Self::IntelligentTiering => "INTELLIGENT_TIERING",
            Self::Glacier => "GLACIER",
            Self::DeepArchive => "DEEP_ARCHIVE",
            Self::Outposts => "OUTPOSTS",
            Self::GlacierIr => "GLACIER_IR",
            Self::Snow => "SNOW",
            Self::ExpressOnezone => "EXPRESS_ONEZONE",
        }
    }

    /// The class S3 calls `name`, or `None` for a name S3 does not have.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Object Lock retention modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    Governance,
    Compliance,
}

/// Server-side encryption algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncryptionAlgorithm {
    /// SSE-S3 (`AES256`, server-managed keys).
    SseS3,
    /// SSE-KMS (`aws:kms`).
    SseKms,
    /// Dual-layer SSE-KMS (`aws:kms:dsse`).
    SseKmsDsse,
    /// SSE-C (`AES256` with a customer-provided key).
    SseC,
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
    /// The part's chunks' nonce prefix, when the object is encrypted: each part is a
    /// sealed body of its own under the upload's data key.
    pub nonce_prefix: Option<[u8; 8]>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub mode: Option<LockMode>,
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
    /// Canonical id of the principal that wrote this version.
    pub owner: String,
    pub storage_class: Option<StorageClass>,
    pub tags: Vec<(String, String)>,
    pub acl: Option<Vec<Grant>>,
    /// How the data is encrypted; `None`: stored as sent.
    pub encryption: Option<Encryption>,
    pub lock: LockInfo,
    /// A version in an archive class: its last RestoreObject, if any.
    pub restore: Option<RestoreState>,
    /// The tier `data`'s blobs live in (`tiers.rs`; `""`: the data dir's own).
    pub tier: String,
}

/// A restore of an archived version (RestoreObject): asked at `requested_ms`, readable
/// from `ready_ms` (the restore delay later) until `expiry_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreState {
    pub requested_ms: i64,
    pub ready_ms: i64,
    pub expiry_ms: i64,
    /// The restored copy that reads are served from (in the STANDARD class's tier),
    /// made when the restore was asked; collected at `expiry_ms`.
    pub copy: Option<RestoredCopy>,
}

/// Where a restored copy's bytes live: a reference (holding its own references on
/// the blobs, which may be the version's own when the tiers are one) and its tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredCopy {
    pub data: DataRef,
    pub tier: String,
}

/// A multipart upload in progress: what CreateMultipartUpload said about the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub initiated_ms: i64,
    pub attrs: ObjectAttrs,
    pub storage_class: Option<StorageClass>,
    /// Canonical id of the principal that created the upload (its initiator and the
    /// completed object's owner).
    pub owner: String,
    pub checksum_algorithm: Option<crate::ChecksumAlgorithm>,
    /// FULL_OBJECT (a CRC of the whole object) rather than COMPOSITE.
    pub checksum_full_object: bool,
    /// The ACL the completed object gets, as CreateMultipartUpload's headers stated
    /// it (resolved at Complete, when the object's owner is known); `None`: private.
    pub acl: Option<AclSpec>,
    /// How the parts are encrypted (the upload's data key, sealed, and binding); the
    /// completed object gets it. `None`: stored as sent.
    pub encryption: Option<Encryption>,
    /// The tags the completed object gets (`x-amz-tagging`), ordered by key.
    pub tags: Vec<(String, String)>,
    /// The Object Lock the completed object gets, as asked (no retention asked: the
    /// bucket's default at Complete).
    pub lock: LockInfo,
    /// The tier the parts are written to (`tiers.rs`: the class's tier at creation),
    /// which the completed object keeps.
    pub tier: String,
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
    /// The part's chunks' nonce prefix, when the upload is encrypted.
    pub nonce_prefix: Option<[u8; 8]>,
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
    /// The object's encryption, which a retried Complete answers too.
    pub encryption: Option<crate::sse::SseInfo>,
}

first_version!(previous::PartRecordV1, previous::CompletedRecordV1);

/// Version 3: the object's encryption with its KMS key and bucket key (SSE-KMS).
impl Record for CompletedRecord {
    const VERSION: u8 = 3;
    type Previous = previous::CompletedRecordV2;
    fn migrate(p: previous::CompletedRecordV2) -> ModelResult<Self> {
        Ok(CompletedRecord {
            bucket_id: p.bucket_id,
            key: p.key,
            etag: p.etag,
            version_id: p.version_id,
            checksum: p.checksum,
            size: p.size,
            encryption: p.encryption.map(crate::sse::SseInfo::plain),
        })
    }
}

/// Version 2: the object's encryption.
impl Record for previous::CompletedRecordV2 {
    const VERSION: u8 = 2;
    type Previous = previous::CompletedRecordV1;
    fn migrate(p: previous::CompletedRecordV1) -> ModelResult<Self> {
        Ok(previous::CompletedRecordV2 {
            bucket_id: p.bucket_id,
            key: p.key,
            etag: p.etag,
            version_id: p.version_id,
            checksum: p.checksum,
            size: p.size,
            encryption: None,
        })
    }
}

/// Version 2: the nonce prefix of an encrypted part.
impl Record for PartRecord {
    const VERSION: u8 = 2;
    type Previous = previous::PartRecordV1;
    fn migrate(p: previous::PartRecordV1) -> ModelResult<Self> {
        Ok(PartRecord {
            blob: p.blob,
            size: p.size,
            etag: p.etag,
            checksum: p.checksum,
            last_modified_ms: p.last_modified_ms,
            nonce_prefix: None,
        })
    }
}

/// Version 5: the default encryption, typed. No earlier release wrote one (the field
/// was a placeholder), so a version-4 record with bytes there is corrupt.
impl Record for BucketRecord {
    const VERSION: u8 = 5;
    type Previous = previous::BucketRecordV4;
    fn migrate(p: previous::BucketRecordV4) -> ModelResult<Self> {
        if p.encryption.is_some() {
            return Err(ModelError::Corrupt(
                "a bucket record from before default encryption existed has one".into(),
            ));
        }
        Ok(BucketRecord {
            id: p.id,
            name: p.name,
            created_ms: p.created_ms,
            location: p.location,
            owner: p.owner,
            versioning: p.versioning,
            object_lock: p.object_lock,
            acl: p.acl,
            encryption: None,
            ownership: p.ownership,
            policy: p.policy,
            public_access_block: p.public_access_block,
        })
    }
}

/// Version 4: the bucket policy and public access block.
impl Record for previous::BucketRecordV4 {
    const VERSION: u8 = 4;
    type Previous = previous::BucketRecordV3;
    fn migrate(p: previous::BucketRecordV3) -> ModelResult<Self> {
        Ok(previous::BucketRecordV4 {
            id: p.id,
            name: p.name,
            created_ms: p.created_ms,
            location: p.location,
            owner: p.owner,
            versioning: p.versioning,
            object_lock: p.object_lock,
            acl: p.acl,
            encryption: p.encryption,
            ownership: p.ownership,
            policy: None,
            public_access_block: None,
        })
    }
}

/// Version 3: object ownership controls.
impl Record for previous::BucketRecordV3 {
    const VERSION: u8 = 3;
    type Previous = previous::BucketRecordV2;
    fn migrate(p: previous::BucketRecordV2) -> ModelResult<Self> {
        Ok(previous::BucketRecordV3 {
            id: p.id,
            name: p.name,
            created_ms: p.created_ms,
            location: p.location,
            owner: p.owner,
            versioning: p.versioning,
            object_lock: p.object_lock,
            acl: p.acl,
            encryption: p.encryption,
            ownership: None,
        })
    }
}

/// Version 2: grants, storage class, lock mode and encryption algorithm became enums.
impl Record for previous::BucketRecordV2 {
    const VERSION: u8 = 2;
    type Previous = previous::BucketRecordV1;
    fn migrate(p: previous::BucketRecordV1) -> ModelResult<Self> {
        Ok(previous::BucketRecordV2 {
            id: p.id,
            name: p.name,
            created_ms: p.created_ms,
            location: p.location,
            owner: p.owner,
            versioning: p.versioning,
            object_lock: p.object_lock,
            acl: p.acl.map(previous::grants).transpose()?,
            encryption: p.encryption,
        })
    }
}

/// Version 5: tiers (the data's tier; a restore's copy). Every earlier record's data
/// is in the data dir, and no restore had a copy.
impl Record for ObjectRecord {
    const VERSION: u8 = 5;
    type Previous = previous::ObjectRecordV4;
    fn migrate(p: previous::ObjectRecordV4) -> ModelResult<Self> {
        Ok(ObjectRecord {
            version_id: p.version_id,
            delete_marker: p.delete_marker,
            size: p.size,
            etag: p.etag,
            last_modified_ms: p.last_modified_ms,
            attrs: p.attrs,
            checksum: p.checksum,
            data: p.data,
            owner: p.owner,
            storage_class: p.storage_class,
            tags: p.tags,
            acl: p.acl,
            encryption: p.encryption,
            lock: p.lock,
            restore: p.restore.map(|r| RestoreState {
                requested_ms: r.requested_ms,
                ready_ms: r.ready_ms,
                expiry_ms: r.expiry_ms,
                copy: None,
            }),
            tier: String::new(),
        })
    }
}

/// Version 4: restores of archived versions.
impl Record for previous::ObjectRecordV4 {
    const VERSION: u8 = 4;
    type Previous = previous::ObjectRecordV3;
    fn migrate(p: previous::ObjectRecordV3) -> ModelResult<Self> {
        Ok(previous::ObjectRecordV4 {
            version_id: p.version_id,
            delete_marker: p.delete_marker,
            size: p.size,
            etag: p.etag,
            last_modified_ms: p.last_modified_ms,
            attrs: p.attrs,
            checksum: p.checksum,
            data: p.data,
            owner: p.owner,
            storage_class: p.storage_class,
            tags: p.tags,
            acl: p.acl,
            encryption: p.encryption,
            lock: p.lock,
            restore: None,
        })
    }
}

/// Version 3: encryption became real (`sse::Encryption`: the sealed data key, nonce
/// prefix and binding; a multipart object's segments carry their own nonce prefix).
/// No earlier release wrote encryption info (it refused or ignored encryption), so a
/// version-2 record that has some is corrupt.
impl Record for previous::ObjectRecordV3 {
    const VERSION: u8 = 3;
    type Previous = previous::ObjectRecordV2;
    fn migrate(p: previous::ObjectRecordV2) -> ModelResult<Self> {
        if p.encryption.is_some() {
            return Err(ModelError::Corrupt(
                "an object record from before encryption existed claims to be encrypted".into(),
            ));
        }
        Ok(previous::ObjectRecordV3 {
            version_id: p.version_id,
            delete_marker: p.delete_marker,
            size: p.size,
            etag: p.etag,
            last_modified_ms: p.last_modified_ms,
            attrs: p.attrs,
            checksum: p.checksum,
            data: previous::data_ref(p.data),
            owner: p.owner,
            storage_class: p.storage_class,
            tags: p.tags,
            acl: p.acl,
            encryption: None,
            lock: p.lock,
        })
    }
}

/// Version 2: as for buckets.
impl Record for previous::ObjectRecordV2 {
    const VERSION: u8 = 2;
    type Previous = previous::ObjectRecordV1;
    fn migrate(p: previous::ObjectRecordV1) -> ModelResult<Self> {
        Ok(previous::ObjectRecordV2 {
            version_id: p.version_id,
            delete_marker: p.delete_marker,
            size: p.size,
            etag: p.etag,
            last_modified_ms: p.last_modified_ms,
            attrs: p.attrs,
            checksum: p.checksum,
            data: p.data,
            owner: p.owner,
            storage_class: p.storage_class.as_deref().map(previous::storage_class).transpose()?,
            tags: p.tags,
            acl: p.acl.map(previous::grants).transpose()?,
            encryption: p.encryption.map(previous::encryption).transpose()?,
            lock: previous::lock(p.lock)?,
        })
    }
}

/// Version 6: the parts' tier (every earlier upload's parts are in the data dir).
impl Record for UploadRecord {
    const VERSION: u8 = 6;
    type Previous = previous::UploadRecordV5;
    fn migrate(p: previous::UploadRecordV5) -> ModelResult<Self> {
        Ok(UploadRecord {
            initiated_ms: p.initiated_ms,
            attrs: p.attrs,
            storage_class: p.storage_class,
            owner: p.owner,
            checksum_algorithm: p.checksum_algorithm,
            checksum_full_object: p.checksum_full_object,
            acl: p.acl,
            encryption: p.encryption,
            tags: p.tags,
            lock: p.lock,
            tier: String::new(),
        })
    }
}

/// Version 5: the completed object's tags and Object Lock.
impl Record for previous::UploadRecordV5 {
    const VERSION: u8 = 5;
    type Previous = previous::UploadRecordV4;
    fn migrate(p: previous::UploadRecordV4) -> ModelResult<Self> {
        Ok(previous::UploadRecordV5 {
            initiated_ms: p.initiated_ms,
            attrs: p.attrs,
            storage_class: p.storage_class,
            owner: p.owner,
            checksum_algorithm: p.checksum_algorithm,
            checksum_full_object: p.checksum_full_object,
            acl: p.acl,
            encryption: p.encryption,
            tags: Vec::new(),
            lock: LockInfo::default(),
        })
    }
}

/// Version 4: the upload's encryption.
impl Record for previous::UploadRecordV4 {
    const VERSION: u8 = 4;
    type Previous = previous::UploadRecordV3;
    fn migrate(p: previous::UploadRecordV3) -> ModelResult<Self> {
        Ok(previous::UploadRecordV4 {
            initiated_ms: p.initiated_ms,
            attrs: p.attrs,
            storage_class: p.storage_class,
            owner: p.owner,
            checksum_algorithm: p.checksum_algorithm,
            checksum_full_object: p.checksum_full_object,
            acl: p.acl,
            encryption: None,
        })
    }
}

/// Version 3: the ACL the completed object gets.
impl Record for previous::UploadRecordV3 {
    const VERSION: u8 = 3;
    type Previous = previous::UploadRecordV2;
    fn migrate(p: previous::UploadRecordV2) -> ModelResult<Self> {
        Ok(previous::UploadRecordV3 {
            initiated_ms: p.initiated_ms,
            attrs: p.attrs,
            storage_class: p.storage_class,
            owner: p.owner,
            checksum_algorithm: p.checksum_algorithm,
            checksum_full_object: p.checksum_full_object,
            acl: None,
        })
    }
}

/// Version 2: the storage class became an enum.
impl Record for previous::UploadRecordV2 {
    const VERSION: u8 = 2;
    type Previous = previous::UploadRecordV1;
    fn migrate(p: previous::UploadRecordV1) -> ModelResult<Self> {
        Ok(previous::UploadRecordV2 {
            initiated_ms: p.initiated_ms,
            attrs: p.attrs,
            storage_class: p.storage_class.as_deref().map(previous::storage_class).transpose()?,
            owner: p.owner,
            checksum_algorithm: p.checksum_algorithm,
            checksum_full_object: p.checksum_full_object,
        })
    }
}

/// Earlier shapes of the records, frozen: never edit one (stored rows are in it).
pub(crate) mod previous {
    use serde::{Deserialize, Serialize};

    use super::*;

    fn corrupt(what: &str, value: &str) -> ModelError {
        ModelError::Corrupt(format!("stored {what} {value:?} is not one this build knows"))
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct GrantV1 {
        /// A canonical user id, or a group's URI.
        pub grantee: String,
        pub permission: String,
    }

    pub(super) fn grants(v1: Vec<GrantV1>) -> ModelResult<Vec<Grant>> {
        v1.into_iter()
            .map(|g| {
                let permission =
                    Permission::parse(&g.permission).ok_or_else(|| corrupt("permission", &g.permission))?;
                let grantee = match Group::from_uri(&g.grantee) {
                    Some(group) => Grantee::Group(group),
                    None => Grantee::User(g.grantee),
                };
                Ok(Grant { grantee, permission })
            })
            .collect()
    }

    pub(super) fn storage_class(name: &str) -> ModelResult<StorageClass> {
        StorageClass::parse(name).ok_or_else(|| corrupt("storage class", name))
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct EncryptionInfoV1 {
        pub algorithm: String,
        pub kms_key_id: Option<String>,
        pub bucket_key: bool,
        pub wrapped_key: Vec<u8>,
        pub customer_key_md5: Option<String>,
    }

    /// Encryption info as object records up to version 2 had it (never written with a
    /// value: those releases did not encrypt).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EncryptionInfoV2 {
        pub algorithm: EncryptionAlgorithm,
        pub kms_key_id: Option<String>,
        pub bucket_key: bool,
        pub wrapped_key: Vec<u8>,
        pub customer_key_md5: Option<String>,
    }

    pub(super) fn encryption(v1: EncryptionInfoV1) -> ModelResult<EncryptionInfoV2> {
        let algorithm = match (v1.algorithm.as_str(), v1.customer_key_md5.is_some()) {
            ("AES256", true) => EncryptionAlgorithm::SseC,
            ("AES256", false) => EncryptionAlgorithm::SseS3,
            ("aws:kms", _) => EncryptionAlgorithm::SseKms,
            ("aws:kms:dsse", _) => EncryptionAlgorithm::SseKmsDsse,
            (other, _) => return Err(corrupt("encryption algorithm", other)),
        };
        Ok(EncryptionInfoV2 {
            algorithm,
            kms_key_id: v1.kms_key_id,
            bucket_key: v1.bucket_key,
            wrapped_key: v1.wrapped_key,
            customer_key_md5: v1.customer_key_md5,
        })
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    pub struct LockInfoV1 {
        pub mode: Option<String>,
        pub retain_until_ms: Option<i64>,
        pub legal_hold: bool,
    }

    pub(super) fn lock(v1: LockInfoV1) -> ModelResult<LockInfo> {
        let mode = match v1.mode.as_deref() {
            None => None,
            Some("GOVERNANCE") => Some(LockMode::Governance),
            Some("COMPLIANCE") => Some(LockMode::Compliance),
            Some(other) => return Err(corrupt("lock mode", other)),
        };
        Ok(LockInfo {
            mode,
            retain_until_ms: v1.retain_until_ms,
            legal_hold: v1.legal_hold,
        })
    }

    /// Bucket records written by format-3 releases up to 0.1.0.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct BucketRecordV1 {
        pub id: u64,
        pub name: String,
        pub created_ms: i64,
        pub location: String,
        pub owner: String,
        pub versioning: VersioningState,
        pub object_lock: bool,
        pub acl: Option<Vec<GrantV1>>,
        pub encryption: Option<Vec<u8>>,
    }

    /// Object version records written by releases up to 0.1.0.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct ObjectRecordV1 {
        pub version_id: Option<String>,
        pub delete_marker: bool,
        pub size: u64,
        pub etag: String,
        pub last_modified_ms: i64,
        pub attrs: ObjectAttrs,
        pub checksum: Option<ChecksumValue>,
        pub data: DataRefV1,
        pub owner: String,
        pub storage_class: Option<String>,
        pub tags: Vec<(String, String)>,
        pub acl: Option<Vec<GrantV1>>,
        pub encryption: Option<EncryptionInfoV1>,
        pub lock: LockInfoV1,
    }

    /// Object version records written by releases up to session 10 (issue 15).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct ObjectRecordV2 {
        pub version_id: Option<String>,
        pub delete_marker: bool,
        pub size: u64,
        pub etag: String,
        pub last_modified_ms: i64,
        pub attrs: ObjectAttrs,
        pub checksum: Option<ChecksumValue>,
        pub data: DataRefV1,
        pub owner: String,
        pub storage_class: Option<StorageClass>,
        pub tags: Vec<(String, String)>,
        pub acl: Option<Vec<Grant>>,
        pub encryption: Option<EncryptionInfoV2>,
        pub lock: LockInfo,
    }

    /// Object version records written by releases up to session 15 (issue 17).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct ObjectRecordV3 {
        pub version_id: Option<String>,
        pub delete_marker: bool,
        pub size: u64,
        pub etag: String,
        pub last_modified_ms: i64,
        pub attrs: ObjectAttrs,
        pub checksum: Option<ChecksumValue>,
        pub data: DataRef,
        pub owner: String,
        pub storage_class: Option<StorageClass>,
        pub tags: Vec<(String, String)>,
        pub acl: Option<Vec<Grant>>,
        pub encryption: Option<Encryption>,
        pub lock: LockInfo,
    }

    /// Object version records written by releases up to session 15 (issue 18's
    /// lifecycle and restores, before tiers).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct ObjectRecordV4 {
        pub version_id: Option<String>,
        pub delete_marker: bool,
        pub size: u64,
        pub etag: String,
        pub last_modified_ms: i64,
        pub attrs: ObjectAttrs,
        pub checksum: Option<ChecksumValue>,
        pub data: DataRef,
        pub owner: String,
        pub storage_class: Option<StorageClass>,
        pub tags: Vec<(String, String)>,
        pub acl: Option<Vec<Grant>>,
        pub encryption: Option<Encryption>,
        pub lock: LockInfo,
        pub restore: Option<RestoreStateV1>,
    }

    /// A restore as version-4 object records hold it (no copy).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct RestoreStateV1 {
        pub requested_ms: i64,
        pub ready_ms: i64,
        pub expiry_ms: i64,
    }

    /// Multipart upload records written by releases up to session 15 (before tiers).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct UploadRecordV5 {
        pub initiated_ms: i64,
        pub attrs: ObjectAttrs,
        pub storage_class: Option<StorageClass>,
        pub owner: String,
        pub checksum_algorithm: Option<crate::ChecksumAlgorithm>,
        pub checksum_full_object: bool,
        pub acl: Option<AclSpec>,
        pub encryption: Option<Encryption>,
        pub tags: Vec<(String, String)>,
        pub lock: LockInfo,
    }

    /// Multipart upload records written by releases up to 0.1.0.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct UploadRecordV1 {
        pub initiated_ms: i64,
        pub attrs: ObjectAttrs,
        pub storage_class: Option<String>,
        pub owner: String,
        pub checksum_algorithm: Option<crate::ChecksumAlgorithm>,
        pub checksum_full_object: bool,
    }

    first_version!(BucketRecordV1, ObjectRecordV1, UploadRecordV1);

    /// Bucket records written by releases before object ownership controls.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct BucketRecordV2 {
        pub id: u64,
        pub name: String,
        pub created_ms: i64,
        pub location: String,
        pub owner: String,
        pub versioning: VersioningState,
        pub object_lock: bool,
        pub acl: Option<Vec<Grant>>,
        pub encryption: Option<Vec<u8>>,
    }

    /// Bucket records written by releases before bucket policies.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct BucketRecordV3 {
        pub id: u64,
        pub name: String,
        pub created_ms: i64,
        pub location: String,
        pub owner: String,
        pub versioning: VersioningState,
        pub object_lock: bool,
        pub acl: Option<Vec<Grant>>,
        pub encryption: Option<Vec<u8>>,
        pub ownership: Option<ObjectOwnership>,
    }

    /// Bucket records written by releases up to session 10 (policies, public access
    /// block; the encryption field a placeholder never written).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct BucketRecordV4 {
        pub id: u64,
        pub name: String,
        pub created_ms: i64,
        pub location: String,
        pub owner: String,
        pub versioning: VersioningState,
        pub object_lock: bool,
        pub acl: Option<Vec<Grant>>,
        pub encryption: Option<Vec<u8>>,
        pub ownership: Option<ObjectOwnership>,
        pub policy: Option<StoredPolicy>,
        pub public_access_block: Option<PublicAccessBlock>,
    }

    /// Multipart upload records written by releases before upload ACLs.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct UploadRecordV2 {
        pub initiated_ms: i64,
        pub attrs: ObjectAttrs,
        pub storage_class: Option<StorageClass>,
        pub owner: String,
        pub checksum_algorithm: Option<crate::ChecksumAlgorithm>,
        pub checksum_full_object: bool,
    }

    /// Multipart upload records written by releases up to session 10 (before
    /// encryption).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct UploadRecordV3 {
        pub initiated_ms: i64,
        pub attrs: ObjectAttrs,
        pub storage_class: Option<StorageClass>,
        pub owner: String,
        pub checksum_algorithm: Option<crate::ChecksumAlgorithm>,
        pub checksum_full_object: bool,
        pub acl: Option<AclSpec>,
    }

    /// Multipart upload records written by releases up to session 14 (before tags).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct UploadRecordV4 {
        pub initiated_ms: i64,
        pub attrs: ObjectAttrs,
        pub storage_class: Option<StorageClass>,
        pub owner: String,
        pub checksum_algorithm: Option<crate::ChecksumAlgorithm>,
        pub checksum_full_object: bool,
        pub acl: Option<AclSpec>,
        pub encryption: Option<Encryption>,
    }

    /// Completed-upload records written by releases up to session 10.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct CompletedRecordV1 {
        pub bucket_id: u64,
        pub key: String,
        pub etag: String,
        pub version_id: Option<String>,
        pub checksum: Option<ChecksumValue>,
        pub size: u64,
    }

    /// Completed-upload records written by releases up to session 13 (before SSE-KMS).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct CompletedRecordV2 {
        pub bucket_id: u64,
        pub key: String,
        pub etag: String,
        pub version_id: Option<String>,
        pub checksum: Option<ChecksumValue>,
        pub size: u64,
        pub encryption: Option<EncryptionAlgorithm>,
    }

    /// Part records written by releases up to session 10 (before encryption).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct PartRecordV1 {
        pub blob: [u8; 16],
        pub size: u64,
        pub etag: String,
        pub checksum: Option<ChecksumValue>,
        pub last_modified_ms: i64,
    }

    /// Where a version's bytes live, as object records up to version 2 had it (their
    /// segments had no nonce prefix).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum DataRefV1 {
        Inline([u8; 16]),
        Blob([u8; 16]),
        Segments(Vec<SegmentV1>),
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SegmentV1 {
        pub part_number: u32,
        pub blob: [u8; 16],
        pub size: u64,
        pub etag: String,
        pub checksum: Option<ChecksumValue>,
    }

    pub(super) fn data_ref(v1: DataRefV1) -> DataRef {
        match v1 {
            DataRefV1::Inline(id) => DataRef::Inline(id),
            DataRefV1::Blob(id) => DataRef::Blob(id),
            DataRefV1::Segments(segs) => DataRef::Segments(
                segs.into_iter()
                    .map(|s| Segment {
                        part_number: s.part_number,
                        blob: s.blob,
                        size: s.size,
                        etag: s.etag,
                        checksum: s.checksum,
                        nonce_prefix: None,
                    })
                    .collect(),
            ),
        }
    }
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
            restore: None,
            tier: String::new(),
        }
    }

    #[test]
    fn records_round_trip_with_version_byte() {
        let rec = sample();
        let bytes = encode(&rec);
        assert_eq!(bytes[0], 5);
        assert_eq!(decode::<ObjectRecord>(&bytes).unwrap(), rec);
        let restored = ObjectRecord {
            restore: Some(RestoreState {
                requested_ms: 1,
                ready_ms: 2,
                expiry_ms: 3,
                copy: Some(RestoredCopy {
                    data: DataRef::Blob([9; 16]),
                    tier: "hot".into(),
                }),
            }),
            tier: "cold".into(),
            ..rec.clone()
        };
        assert_eq!(decode::<ObjectRecord>(&encode(&restored)).unwrap(), restored);
        // A version 4 record (before tiers): its data and restore in the data dir.
        let v4 = previous::ObjectRecordV4 {
            version_id: rec.version_id.clone(),
            delete_marker: rec.delete_marker,
            size: rec.size,
            etag: rec.etag.clone(),
            last_modified_ms: rec.last_modified_ms,
            attrs: rec.attrs.clone(),
            checksum: rec.checksum.clone(),
            data: DataRef::Blob([7; 16]),
            owner: rec.owner.clone(),
            storage_class: Some(StorageClass::DeepArchive),
            tags: rec.tags.clone(),
            acl: rec.acl.clone(),
            encryption: None,
            lock: rec.lock.clone(),
            restore: Some(previous::RestoreStateV1 {
                requested_ms: 1,
                ready_ms: 2,
                expiry_ms: 3,
            }),
        };
        let old = decode::<ObjectRecord>(&encode(&v4)).unwrap();
        assert_eq!(old.tier, "");
        assert_eq!(old.data, DataRef::Blob([7; 16]));
        let r = old.restore.expect("the restore is kept");
        assert_eq!((r.requested_ms, r.ready_ms, r.expiry_ms, r.copy), (1, 2, 3, None));
        // A version 3 record (before restores) reads as never restored.
        let v3 = previous::ObjectRecordV3 {
            version_id: rec.version_id.clone(),
            delete_marker: rec.delete_marker,
            size: rec.size,
            etag: rec.etag.clone(),
            last_modified_ms: rec.last_modified_ms,
            attrs: rec.attrs.clone(),
            checksum: rec.checksum.clone(),
            data: rec.data.clone(),
            owner: rec.owner.clone(),
            storage_class: Some(StorageClass::Glacier),
            tags: rec.tags.clone(),
            acl: rec.acl.clone(),
            encryption: None,
            lock: rec.lock.clone(),
        };
        let old = decode::<ObjectRecord>(&encode(&v3)).unwrap();
        assert_eq!(old.restore, None);
        assert_eq!(old.storage_class, Some(StorageClass::Glacier));
        let encrypted = ObjectRecord {
            encryption: Some(Encryption {
                algorithm: EncryptionAlgorithm::SseS3,
                data_key: crate::sse::SealedKey {
                    kek: crate::sse::Kek::Master { version: 1 },
                    sealed: vec![1, 2, 3],
                },
                nonce_prefix: [4; 8],
                binding: b"binding".to_vec(),
            }),
            ..rec
        };
        assert_eq!(decode::<ObjectRecord>(&encode(&encrypted)).unwrap(), encrypted);
    }

    fn v1(storage_class: &str, mode: &str, algorithm: &str, permission: &str) -> previous::ObjectRecordV1 {
        previous::ObjectRecordV1 {
            version_id: Some("v".into()),
            delete_marker: false,
            size: 3,
            etag: "abc".into(),
            last_modified_ms: 1_700_000_000_000,
            attrs: ObjectAttrs::default(),
            checksum: None,
            data: previous::DataRefV1::Blob([2; 16]),
            owner: "o".into(),
            storage_class: Some(storage_class.into()),
            tags: vec![("t".into(), "1".into())],
            acl: Some(vec![
                previous::GrantV1 {
                    grantee: "abc123".into(),
                    permission: permission.into(),
                },
                previous::GrantV1 {
                    grantee: Group::AllUsers.uri().into(),
                    permission: "READ".into(),
                },
            ]),
            encryption: Some(previous::EncryptionInfoV1 {
                algorithm: algorithm.into(),
                kms_key_id: None,
                bucket_key: false,
                wrapped_key: vec![1, 2],
                customer_key_md5: None,
            }),
            lock: previous::LockInfoV1 {
                mode: Some(mode.into()),
                retain_until_ms: Some(5),
                legal_hold: true,
            },
        }
    }

    #[test]
    fn a_version_1_record_migrates_on_read() {
        let with_encryption = v1("STANDARD_IA", "COMPLIANCE", "aws:kms", "WRITE_ACP");
        // Version 2 mapped the algorithm's name; version 3 refuses encryption info no
        // release wrote (those releases did not encrypt).
        let v2: previous::ObjectRecordV2 = decode(&encode(&with_encryption)).unwrap();
        assert_eq!(v2.encryption.unwrap().algorithm, EncryptionAlgorithm::SseKms);
        assert!(matches!(
            decode::<ObjectRecord>(&encode(&with_encryption)),
            Err(ModelError::Corrupt(_))
        ));
        let plain = previous::ObjectRecordV1 {
            encryption: None,
            ..with_encryption
        };
        let bytes = encode(&plain);
        assert_eq!(bytes[0], 1, "the frozen shape writes its own version");
        let rec: ObjectRecord = decode(&bytes).unwrap();
        assert_eq!(rec.encryption, None);
        assert_eq!(rec.storage_class, Some(StorageClass::StandardIa));
        assert_eq!(rec.lock.mode, Some(LockMode::Compliance));
        assert_eq!(rec.lock.retain_until_ms, Some(5));
        assert!(rec.lock.legal_hold);
        assert_eq!(
            rec.acl.unwrap(),
            vec![
                Grant {
                    grantee: Grantee::User("abc123".into()),
                    permission: Permission::WriteAcp
                },
                Grant {
                    grantee: Grantee::Group(Group::AllUsers),
                    permission: Permission::Read
                },
            ]
        );
        assert_eq!((rec.etag.as_str(), rec.size, rec.tags.len()), ("abc", 3, 1));
        assert_eq!(rec.data, DataRef::Blob([2; 16]));
    }

    #[test]
    fn a_version_1_record_with_an_unknown_name_is_corrupt_not_guessed() {
        for bad in [
            v1("PLATINUM", "COMPLIANCE", "aws:kms", "READ"),
            v1("STANDARD", "FOREVER", "aws:kms", "READ"),
            v1("STANDARD", "GOVERNANCE", "ROT13", "READ"),
            v1("STANDARD", "GOVERNANCE", "AES256", "ALL"),
        ] {
            assert!(matches!(
                decode::<previous::ObjectRecordV2>(&encode(&bad)),
                Err(ModelError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn completed_records_of_every_version_read_as_the_current_shape() {
        let v1 = previous::CompletedRecordV1 {
            bucket_id: 3,
            key: "k".into(),
            etag: "e-2".into(),
            version_id: None,
            checksum: None,
            size: 9,
        };
        let mut bytes = vec![1u8];
        bytes.extend(postcard::to_stdvec(&v1).unwrap());
        let read: CompletedRecord = decode(&bytes).unwrap();
        assert_eq!((read.size, read.encryption), (9, None));
        let v2 = previous::CompletedRecordV2 {
            bucket_id: 3,
            key: "k".into(),
            etag: "e-2".into(),
            version_id: None,
            checksum: None,
            size: 9,
            encryption: Some(EncryptionAlgorithm::SseS3),
        };
        let mut bytes = vec![2u8];
        bytes.extend(postcard::to_stdvec(&v2).unwrap());
        let read: CompletedRecord = decode(&bytes).unwrap();
        assert_eq!(
            read.encryption,
            Some(crate::sse::SseInfo::plain(EncryptionAlgorithm::SseS3))
        );
        let again: CompletedRecord = decode(&encode(&read)).unwrap();
        assert_eq!(again, read);
    }

    #[test]
    fn enum_names_round_trip() {
        for c in StorageClass::ALL {
            assert_eq!(StorageClass::parse(c.as_str()), Some(c));
        }
        assert_eq!(StorageClass::parse("standard"), None);
        for p in ["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"] {
            assert_eq!(Permission::parse(p).unwrap().as_str(), p);
        }
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused() {
        let mut bytes = encode(&sample());
        bytes[0] = 99;
        assert!(matches!(decode::<ObjectRecord>(&bytes), Err(ModelError::Corrupt(_))));
        bytes[0] = 0;
        assert!(matches!(decode::<ObjectRecord>(&bytes), Err(ModelError::Corrupt(_))));
        assert!(matches!(decode::<ObjectRecord>(&[]), Err(ModelError::Corrupt(_))));
        assert!(matches!(
            decode::<ObjectRecord>(&[2, 0xff]),
            Err(ModelError::Corrupt(_))
        ));
    }
}

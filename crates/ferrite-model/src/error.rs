use ferrite_store::StoreError;

/// Everything that can go wrong in the object model, in domain terms. The API layer
/// maps each variant to an S3 error in one exhaustive `match`.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid bucket name: {0}")]
    InvalidBucketName(String),
    #[error("bucket already exists and is owned by you")]
    BucketAlreadyOwnedByYou,
    #[error("bucket name is taken by another owner")]
    BucketAlreadyExists,
    #[error("no such bucket")]
    NoSuchBucket,
    /// The caller may not do this. Says nothing of what exists.
    #[error("Access Denied")]
    AccessDenied,
    #[error("malformed ACL: {0}")]
    MalformedAcl(String),
    /// An ACL on a bucket whose ACLs are disabled (BucketOwnerEnforced).
    #[error("The bucket does not allow ACLs")]
    AccessControlListNotSupported,
    #[error("Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")]
    InvalidBucketAclWithObjectOwnership,
    #[error("The bucket ownership controls were not found")]
    OwnershipControlsNotFound,
    #[error("The CORS configuration does not exist")]
    NoSuchCorsConfiguration,
    /// A CORS configuration AWS refuses (InvalidRequest); the message is AWS's.
    #[error("{0}")]
    InvalidCors(String),
    #[error("bucket is not empty")]
    BucketNotEmpty,
    /// A tag set AWS refuses (too many tags, a key or value too long, a repeated key,
    /// a key in the reserved `aws:` namespace); the message is AWS's.
    #[error("{0}")]
    InvalidTag(String),
    #[error("The TagSet does not exist")]
    NoSuchTagSet,
    /// GetBucketLifecycleConfiguration of a bucket without one.
    #[error("the lifecycle configuration does not exist")]
    NoSuchLifecycleConfiguration,
    /// Reading (or restoring) a version whose storage class does not allow it: an
    /// archived version without a restored copy.
    #[error("{0}")]
    InvalidObjectState(String),
    /// RestoreObject while a restore of the version is still under way.
    #[error("Object restore is already in progress")]
    RestoreAlreadyInProgress,
    /// A storage class S3 does not have, or one not allowed where it was named.
    #[error("the storage class you specified is not valid")]
    InvalidStorageClass,
    /// A request the bucket's state does not allow (409): suspending versioning of a
    /// lock bucket, Object Lock on a bucket whose versioning is not Enabled.
    #[error("{0}")]
    InvalidBucketState(String),
    #[error("Object Lock configuration does not exist for this bucket")]
    ObjectLockConfigurationNotFound,
    #[error("The specified object does not have a ObjectLock configuration")]
    NoSuchObjectLockConfiguration,
    #[error("Default retention period must be a positive integer value")]
    InvalidRetentionPeriod,
    /// A policy document that does not parse or breaks the policy language's rules.
    #[error("{0}")]
    MalformedPolicy(String),
    /// A policy document over the size limit.
    #[error("Policies must be no larger than {max} bytes; this one is {size}")]
    PolicyTooLarge { size: usize, max: usize },
    /// An identity policy that does not parse (IAM's MalformedPolicyDocument).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("The bucket policy does not exist")]
    NoSuchBucketPolicy,
    #[error("The public access block configuration was not found")]
    NoSuchPublicAccessBlockConfiguration,
    #[error("location constraint {0:?} does not match this server's region")]
    InvalidLocationConstraint(String),
    #[error("no such key")]
    NoSuchKey,
    /// The key's current version is a delete marker (404, with the marker's headers).
    #[error("no such key: the current version is a delete marker")]
    DeletedKey { version_id: String },
    /// A request addressed a delete marker by version id where an object is needed.
    #[error("the version is a delete marker")]
    DeleteMarkerVersion { version_id: String, last_modified_ms: i64 },
    #[error("the source of a copy may not be a delete marker")]
    CopySourceIsDeleteMarker,
    #[error("no such version")]
    NoSuchVersion,
    #[error("invalid version id")]
    InvalidVersionId,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("part {0} was not uploaded, or its ETag or checksum does not match")]
    InvalidPart(u32),
    #[error("the parts are not in ascending order")]
    InvalidPartOrder,
    #[error("a part other than the last is smaller than 5 MiB")]
    EntityTooSmall,
    #[error("malformed XML: {0}")]
    MalformedXml(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("key is longer than 1024 bytes")]
    KeyTooLong,
    /// A key AWS cannot parse in a URI (it holds C1 control characters).
    #[error("the key cannot be parsed in a URI")]
    UnparseableKey,
    #[error("user metadata is larger than 2 KB")]
    MetadataTooLarge,
    #[error("object is larger than the maximum allowed size")]
    EntityTooLarge,
    #[error("body is shorter or longer than its declared length")]
    IncompleteBody,
    #[error("the {0} of the body does not match the one given")]
    BadDigest(&'static str),
    #[error("invalid digest: {0}")]
    InvalidDigest(String),
    #[error("precondition failed")]
    PreconditionFailed,
    /// 304: carries the validators the response must repeat.
    #[error("not modified")]
    NotModified { etag: String, last_modified_ms: i64 },
    #[error("range not satisfiable")]
    InvalidRange,
    #[error("copying an object onto itself without changing anything")]
    CopyToSelfUnchanged,
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("the request body sent nothing for too long")]
    RequestTimeout,
    #[error("request body stream failed: {0}")]
    BodyStream(std::io::Error),
    /// A user or access key that does not exist (IAM's NoSuchEntity).
    #[error("{0}")]
    NoSuchEntity(String),
    /// A user name taken (case-insensitively).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// A quota reached (access keys per user).
    #[error("{0}")]
    LimitExceeded(String),
    /// A user that still has access keys or owns buckets.
    #[error("{0}")]
    DeleteConflict(String),
    /// A parameter that breaks IAM's rules (a user name, a page size).
    #[error("{0}")]
    ValidationError(String),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    /// The stores given at start-up do not belong together (a data dir's blobs and
    /// another metadata store): nothing is opened, so nothing can be lost.
    #[error("the stores do not belong together: {0}")]
    StoreMismatch(String),
    /// The key that seals an encrypted object's data key cannot be used: no key
    /// provider, another master key than the one the data was written under, a
    /// missing key version. Nothing is read or written.
    #[error("encryption key unavailable: {0}")]
    KeyUnavailable(String),
    #[error("The server side encryption configuration was not found")]
    NoSuchEncryptionConfiguration,
    /// An SSE-C request presented another key than the one the object (or upload) was
    /// encrypted with (403, as AWS).
    #[error("The provided SSE-C key does not match the key the object was encrypted with")]
    WrongCustomerKey,
    /// A KMS operation refused as AWS KMS refuses it (`kms.rs`): the API answers the
    /// exception by name (KMS's JSON `__type`, S3's `KMS.<name>`).
    #[error("{message}")]
    Kms {
        exception: crate::kms::KmsException,
        message: String,
    },
    /// A feature the request asks for that is not built yet.
    #[error("{0}")]
    NotImplemented(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ModelResult<T> = Result<T, ModelError>;

impl ModelError {
    /// A write that lost a conflict in the metadata store (contention): run again,
    /// it may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ModelError::Store(e) if e.is_retryable())
    }

    /// Whether this is the storage running out of space (ENOSPC): the client may
    /// retry once space is freed.
    pub fn is_storage_full(&self) -> bool {
        match self {
            ModelError::Store(StoreError::Io(e)) => e.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

/// Hashing and verification errors keep their meaning.
impl From<ferrite_hash::HashError> for ModelError {
    fn from(e: ferrite_hash::HashError) -> Self {
        use ferrite_hash::HashError as H;
        match e {
            H::BadDigest(what) => ModelError::BadDigest(what),
            H::InvalidDigest(msg) => ModelError::InvalidDigest(msg),
            H::IncompleteBody => ModelError::IncompleteBody,
            H::InvalidArgument(msg) => ModelError::InvalidArgument(msg),
            H::Corrupt(msg) => ModelError::Corrupt(msg),
            H::Internal(msg) => ModelError::Internal(msg),
        }
    }
}

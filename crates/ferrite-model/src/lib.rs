//! Ferrite's object model: what buckets and objects are and the rules they obey.
//!
//! It speaks in S3's domain terms (a bucket, a key, an ETag, a precondition) but knows
//! nothing of HTTP: the API layer above maps [`ModelError`] to S3 error codes. Below, it
//! sees only the [`ferrite_store`] traits.
//!
//! The core promise lives here: an object's data is made durable first (staged into a
//! blob or kept inline), then one metadata transaction makes it the current object.
//! That commit is the moment the object exists.

#![forbid(unsafe_code)]

mod access;
mod acl;
mod archive;
pub mod authz;
mod bucket;
mod bucket_keys;
mod caller;
mod claims;
mod clock;
mod commit;
mod conditions;
mod cors;
mod engine;
mod epochs;
mod error;
mod gc;
mod identity;
mod info;
mod ingest;
mod keys;
pub mod kms;
mod leases;
mod lifecycle;
mod list;
mod lock;
mod lookup;
pub mod migrate;
mod multipart;
mod names;
mod object;
mod policy;
mod read_bufs;
mod records;
mod refs;
mod rotation;
mod secret;
mod sessions;
mod simulate;
pub mod sse;
mod staging;
mod stats;
mod tables;
mod tagging;
mod tiers;
mod upgrade;
mod users;
mod versions;

pub use acl::{ANONYMOUS_ID, AclView, MAX_GRANTS};
pub use archive::{MAX_RESTORE_DAYS, RestoreOutcome, RestoreStatus, is_archive};
pub use authz::ACCOUNT_ID;
pub use bucket::{BucketInfo, NewBucket};
pub use bucket_keys::{KmsOpCounts, MAX_CONTEXT, check_context};
pub use caller::{Caller, IdentityPolicies, Principal, RequestContext};
pub use conditions::{ReadConditions, evaluate_read_conditions};
pub use cors::{CorsConfig, CorsMethod, CorsRule, MAX_CORS_RULES, find_rule};
pub use engine::{EMBEDDED_META, Ferrite, Options};
pub use error::{ModelError, ModelResult};
pub use ferrite_crypt::Key;
pub use ferrite_hash::{BodyHasher, ChecksumAlgorithm, ChecksumValue, Digests, Expected};
pub use identity::{ManagedPolicyInfo, policy_arn, resolve_policy_name, user_arn};
pub use info::{ServerInfo, TierInfo};
pub use ingest::{BodyClaims, IncomingBody, PartCopied, PartCopy, TrailerValue};
pub use kms::{KeyManager, KmsAliasInfo, KmsException, KmsKeyInfo, KmsKeyState};
pub use lifecycle::{
    AndFilter, DAY, Expiration, LifecycleConfig, LifecycleCounts, LifecycleRule, MAX_LIFECYCLE_RULES,
    MAX_NEWER_NONCURRENT, MAX_RULE_ID, NoncurrentExpiration, NoncurrentTransition, RuleFilter, Transition, When,
    due_after, is_transition_class,
};
pub use list::{ListPage, ListQuery, ObjectSummary, VersionPage, VersionQuery, VersionSummary};
pub use lock::{DefaultRetention, LockConfig, LockRequest, Retention, RetentionPeriod};
pub use multipart::{
    CompletePart, CompleteRequest, CompletedUpload, MAX_PART_NUMBER, MIN_PART_SIZE, NewUpload, PartInfo, PartsPage,
    UploadInfo, UploadPage, UploadQuery,
};
pub use names::{MAX_KEY_LEN, MAX_USER_METADATA, validate_bucket_name, validate_key, validate_user_metadata};
pub use object::{
    ByteRange, CopyOutcome, CopyRequest, DeleteOutcome, DeleteRequest, MetadataDirective, ObjectBody, ObjectInfo,
    PartSummary, PutAttrs, Slice, TaggingDirective,
};
pub use records::{
    AclSpec, BucketEncryption, CannedAcl, EncryptionAlgorithm, FORMAT_VERSION, Grant, Grantee, Group, LockInfo,
    LockMode, ObjectAttrs, ObjectOwnership, Permission, PublicAccessBlock, StorageClass, VersioningState,
};
pub use rotation::{MasterKeyStatus, Resealed, Rotation};
pub use secret::Secret;
pub use sessions::{
    LoginMethod, MAX_PASSWORD_LEN, MAX_SESSIONS_PER_KEY, MIN_PASSWORD_LEN, NewSession, PasswordLogin, SessionInfo,
};
pub use simulate::{DecidingStatement, SimulatedDecision, Simulation};
pub use sse::{BuiltinKeys, CustomerKey, KeyProvider, KeyringStore, KmsRequest, SseInfo, SseRequest};
pub use staging::{MAX_PUT_SIZE, Staged};
pub use stats::BucketUsage;
pub use tagging::{
    MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE, TagTarget, TaggingView, Tags, tag_set,
};
pub use tiers::{DEFAULT_TIER, TierSpec, Tiering, parse_class_tier};
pub use users::{
    AccessKeyInfo, KeyLastUsed, KeyOwner, KeyStatus, LAST_USED_FLUSH_MS, LastUse, MAX_KEYS_PER_USER, MAX_LIST_USERS,
    NewAccessKey, UserInfo, UserPage, validate_user_name,
};
pub use versions::NULL_VERSION;

//! The model's tables in the metadata store, declared by name (the store knows tables
//! only by name and nothing of what they hold). Renaming one is a format change; a new
//! table needs none (it reads as empty until first written).

use ferrite_store::Table;

/// Store-wide settings: the format version, id counters.
pub(crate) const SYSTEM: Table = Table::new("system");
/// Bucket name -> bucket record.
pub(crate) const BUCKETS: Table = Table::new("buckets");
/// (bucket id, key) -> a copy of the current version of an object, when that version
/// is not a delete marker: what ListObjects, GET and HEAD read.
pub(crate) const OBJECTS: Table = Table::new("objects");
/// (bucket id, key, 0x00, inverted version sequence) -> every version of an object,
/// delete markers included, newest first within a key.
pub(crate) const VERSIONS: Table = Table::new("versions");
/// Small object data stored inline: data id -> bytes.
pub(crate) const INLINE: Table = Table::new("inline");
/// Blob id -> reference count: which blobs are live.
pub(crate) const BLOBS: Table = Table::new("blobs");
/// Blob ids whose data is no longer referenced and awaits deletion.
pub(crate) const GARBAGE: Table = Table::new("garbage");
/// (bucket id, key, 0x00, upload id) -> a multipart upload in progress.
pub(crate) const UPLOADS: Table = Table::new("uploads");
/// (bucket id, key) -> the version sequence of the key's `null` version.
pub(crate) const NULL_VERSIONS: Table = Table::new("null_versions");
/// (upload id, part number) -> an uploaded part.
pub(crate) const PARTS: Table = Table::new("parts");
/// Upload id -> the result of a completed multipart upload (for retried Completes).
pub(crate) const COMPLETED: Table = Table::new("completed");
/// Bucket id -> the bucket's usage counters (objects, versions, bytes), kept up to date
/// by every write so that reading them is one lookup, not a scan.
pub(crate) const BUCKET_STATS: Table = Table::new("bucket_stats");
/// Lower-cased user name -> the user (`users.rs`): names are unique case-insensitively.
pub(crate) const USERS: Table = Table::new("users");
/// Access key id -> the key: its user, secret and status.
pub(crate) const ACCESS_KEYS: Table = Table::new("access_keys");
/// Canonical id -> the user it belongs to, for rendering owners.
pub(crate) const PRINCIPALS: Table = Table::new("principals");
/// Access key id -> its last use, as last written (kept in memory between writes).
pub(crate) const KEY_LAST_USED: Table = Table::new("key_last_used");
/// (user key, 0, policy name) -> a user's inline policy.
pub(crate) const USER_POLICIES: Table = Table::new("user_policies");
/// Lower-cased name -> a customer managed policy.
pub(crate) const MANAGED_POLICIES: Table = Table::new("managed_policies");
/// (user key, 0, policy ARN) -> nothing: a managed policy attached to a user.
pub(crate) const POLICY_ATTACHMENTS: Table = Table::new("policy_attachments");
/// Bucket id -> the bucket's CORS configuration (`cors.rs`).
pub(crate) const BUCKET_CORS: Table = Table::new("bucket_cors");
/// KMS key id -> the key (`kms.rs`): its state and its material, sealed by the master key.
pub(crate) const KMS_KEYS: Table = Table::new("kms_keys");
/// KMS alias name (`alias/...`) -> the key it names.
pub(crate) const KMS_ALIASES: Table = Table::new("kms_aliases");
/// Bucket key id -> an S3 Bucket Key (`bucket_keys.rs`): a bucket's intermediate key
/// for one KMS key, sealed by that key's material.
pub(crate) const BUCKET_KEYS: Table = Table::new("bucket_keys");
/// Bucket id -> a lock bucket's configuration (`lock.rs`): its default retention.
pub(crate) const BUCKET_LOCK: Table = Table::new("bucket_lock");
/// Bucket id -> the bucket's tag set (`tagging.rs`), when it has one.
pub(crate) const BUCKET_TAGS: Table = Table::new("bucket_tags");
/// Bucket id -> the bucket's lifecycle configuration (`lifecycle.rs`), with its name.
pub(crate) const BUCKET_LIFECYCLE: Table = Table::new("bucket_lifecycle");
/// (expiry ms, version key) -> nothing: restored copies of archived versions by
/// when they expire (`archive.rs`), for the collector.
pub(crate) const RESTORES: Table = Table::new("restores");
/// Console sessions: session id -> `SessionRecord`.
pub(crate) const CONSOLE_SESSIONS: Table = Table::new("console_sessions");
/// What a gateway caches -> its epoch (u64, big-endian), one more at each change
/// (`epochs.rs`), so that gateways sharing the store empty their caches.
pub(crate) const CACHE_EPOCHS: Table = Table::new("cache_epochs");
/// Console passwords: user key -> `PasswordRecord` (an argon2id hash).
pub(crate) const CONSOLE_PASSWORDS: Table = Table::new("console_passwords");

/// Every table, for what walks the whole store (`ferrite migrate`). A table added
/// above must be added here: a unit test counts them.
pub(crate) const ALL: &[Table] = &[
    SYSTEM,
    BUCKETS,
    OBJECTS,
    VERSIONS,
    INLINE,
    BLOBS,
    GARBAGE,
    UPLOADS,
    NULL_VERSIONS,
    PARTS,
    COMPLETED,
    BUCKET_STATS,
    USERS,
    ACCESS_KEYS,
    PRINCIPALS,
    KEY_LAST_USED,
    USER_POLICIES,
    MANAGED_POLICIES,
    POLICY_ATTACHMENTS,
    BUCKET_CORS,
    KMS_KEYS,
    KMS_ALIASES,
    BUCKET_KEYS,
    BUCKET_LOCK,
    BUCKET_TAGS,
    BUCKET_LIFECYCLE,
    RESTORES,
    CONSOLE_SESSIONS,
    CACHE_EPOCHS,
    CONSOLE_PASSWORDS,
];

#[cfg(test)]
mod tests {
    #[test]
    fn all_names_every_table() {
        let declared = include_str!("tables.rs")
            .matches(concat!("Table = ", "Table::new("))
            .count();
        assert_eq!(super::ALL.len(), declared, "a table is missing from ALL");
        let mut names: Vec<_> = super::ALL.iter().map(|t| t.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::ALL.len());
    }
}

//! SSE-KMS on objects: which KMS key seals a new data key, S3 Bucket Keys, and the
//! count of KMS operations.
//!
//! Without a bucket key every SSE-KMS write is one KMS operation (the KMS key's
//! material seals the new data key: AWS's GenerateDataKey) and every read another
//! (it opens it: Decrypt). With a bucket key, a bucket-level intermediate key, made
//! per bucket and KMS key and sealed by the KMS key, seals the data keys instead:
//! writes within its lifetime and reads of objects under a bucket key already opened
//! make no KMS operation. The KMS key's state is still checked on every write and
//! read (a table read, not a KMS operation): a disabled key stops both at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrite_crypt::{Key, seal};
use ferrite_store::ReadTxn;
use serde::{Deserialize, Serialize};

use crate::clock::{now_ms, time_ordered_id};
use crate::engine::{Inner, blocking};
use crate::kms::{self, DEFAULT_S3_ALIAS};
use crate::records::{EncryptionAlgorithm, Initial, Record, decode, encode, first_version};
use crate::sse::{DataKeySealer, Kek, KmsRequest, NewEncryption};
use crate::{Ferrite, ModelError, ModelResult, tables};

/// How long new writes keep using one bucket key before a new one is made (AWS
/// makes bucket keys time-limited too). Older ones keep opening what they sealed.
pub(crate) const BUCKET_KEY_LIFETIME_MS: i64 = 60 * 60 * 1000;

/// Opened bucket keys kept in memory, at most (the cache starts over when full).
const OPENED_MAX: usize = 4096;

/// The largest encryption context accepted (AWS KMS's limit on its JSON form).
pub const MAX_CONTEXT: usize = 8192;

/// KMS operations made since start, as `/metrics` shows them.
#[derive(Debug, Default)]
pub(crate) struct KmsOps {
    /// A KMS key's material sealed a new key (a data key or a bucket key).
    generate: AtomicU64,
    /// A KMS key's material opened a sealed key.
    decrypt: AtomicU64,
}

/// [`KmsOps`], read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KmsOpCounts {
    pub generate_data_key: u64,
    pub decrypt: u64,
}

/// A bucket key as stored: its bucket, its KMS key, and the key sealed by the KMS
/// key's material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BucketKeyRecord {
    pub bucket_id: u64,
    pub kms_key_id: String,
    pub sealed: Vec<u8>,
    pub created_ms: i64,
}

first_version!(BucketKeyRecord);

fn bucket_key_context(id: &[u8; 16], bucket_id: u64, kms_key_id: &str) -> Vec<u8> {
    let mut c = b"ferrite/bucket-key/".to_vec();
    c.extend_from_slice(&bucket_id.to_be_bytes());
    c.extend_from_slice(id);
    c.extend_from_slice(kms_key_id.as_bytes());
    c
}

/// Bucket keys in memory: the one new writes use per bucket and KMS key, and those
/// opened.
#[derive(Default)]
pub(crate) struct BucketKeyCache {
    current: Mutex<HashMap<(u64, String), CurrentKey>>,
    opened: Mutex<HashMap<[u8; 16], Key>>,
}

struct CurrentKey {
    id: [u8; 16],
    key: Key,
    created_ms: i64,
}

impl std::fmt::Debug for BucketKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketKeyCache").finish_non_exhaustive()
    }
}

impl BucketKeyCache {
    fn current(&self, bucket_id: u64, kms_key_id: &str, now_ms: i64) -> Option<([u8; 16], Key)> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current
            .get(&(bucket_id, kms_key_id.to_string()))
            .filter(|c| fresh(c.created_ms, now_ms))
            .map(|c| (c.id, c.key.clone()))
    }

    fn opened(&self, id: &[u8; 16]) -> Option<Key> {
        self.opened.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    fn remember(&self, id: [u8; 16], key: &Key) {
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if opened.len() >= OPENED_MAX {
            opened.clear();
        }
        opened.insert(id, key.clone());
    }
}

/// Whether a bucket key made at `created_ms` still seals new data keys at `now_ms`.
fn fresh(created_ms: i64, now_ms: i64) -> bool {
    (0..BUCKET_KEY_LIFETIME_MS).contains(&(now_ms - created_ms))
}

impl Inner {
    fn count_generate(&self) {
        self.kms_ops.generate.fetch_add(1, Ordering::Relaxed);
    }

    fn count_decrypt(&self) {
        self.kms_ops.decrypt.fetch_add(1, Ordering::Relaxed);
    }
}

/// The key that opens a data key sealed under `kek` (a `Kek::Kms`): the KMS key's
/// material, or the bucket key it sealed. The KMS key must be usable: a disabled one
/// is DisabledException, one pending deletion KMSInvalidStateException (AWS's
/// answers), until it is enabled again.
pub(crate) fn kms_sealing_key(inner: &Inner, txn: &dyn ReadTxn, kek: &Kek) -> ModelResult<Key> {
    let Kek::Kms {
        key_arn, bucket_key, ..
    } = kek
    else {
        return Err(ModelError::Internal("not a KMS-sealed key".into()));
    };
    let key = kms::usable_by_id(txn, Kek::kms_key_id(key_arn))?;
    let Some(id) = bucket_key else {
        inner.count_decrypt();
        return kms::open_material(&inner.keys, &key);
    };
    if let Some(k) = inner.bucket_keys.opened(id) {
        return Ok(k);
    }
    let rec: BucketKeyRecord = txn
        .get(tables::BUCKET_KEYS, id)?
        .map(|v| decode(&v))
        .transpose()?
        .ok_or_else(|| ModelError::Corrupt("an object names a bucket key that is not stored".into()))?;
    if rec.kms_key_id != key.key_id {
        return Err(ModelError::Corrupt("a bucket key of another KMS key".into()));
    }
    let material = kms::open_material(&inner.keys, &key)?;
    inner.count_decrypt();
    let opened = seal::open_key(
        &material,
        &rec.sealed,
        &bucket_key_context(id, rec.bucket_id, &rec.kms_key_id),
    )
    .map_err(|_| ModelError::Corrupt("a bucket key does not open under its KMS key".into()))?;
    inner.bucket_keys.remember(*id, &opened);
    Ok(opened)
}

/// Deletes the bucket keys of a bucket being deleted (empty by then: nothing they
/// sealed is left). Bucket ids are never reused, so the in-memory maps' entries for
/// it are never asked for again.
pub(crate) fn forget(txn: &mut dyn ferrite_store::WriteTxn, bucket_id: u64) -> ModelResult<()> {
    let mut ids = Vec::new();
    crate::records::scan_decoded::<BucketKeyRecord>(
        &*txn,
        tables::BUCKET_KEYS,
        std::ops::Bound::Unbounded,
        &mut |k, rec| {
            if rec.bucket_id == bucket_id {
                ids.push(k.to_vec());
            }
            true
        },
    )?;
    for id in ids {
        txn.delete(tables::BUCKET_KEYS, &id)?;
    }
    Ok(())
}

/// Checks an encryption context as `x-amz-server-side-encryption-context` gives it
/// (decoded from base64): a JSON object whose values are strings, at most
/// [`MAX_CONTEXT`] bytes.
pub fn check_context(json: &str) -> Result<(), String> {
    if json.len() > MAX_CONTEXT {
        return Err(format!("The encryption context is longer than {MAX_CONTEXT} bytes."));
    }
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|_| "The encryption context is not valid JSON.".to_string())?;
    match value.as_object() {
        Some(map) if map.values().all(|v| v.is_string()) => Ok(()),
        _ => Err("The encryption context must be a JSON object of string values.".into()),
    }
}

impl Ferrite {
    /// KMS operations made since start (`/metrics`).
    pub fn kms_operations(&self) -> KmsOpCounts {
        KmsOpCounts {
            generate_data_key: self.inner.kms_ops.generate.load(Ordering::Relaxed),
            decrypt: self.inner.kms_ops.decrypt.load(Ordering::Relaxed),
        }
    }

    /// A fresh data key for an SSE-KMS body written to `key` in bucket `bucket_id`,
    /// sealed as `request` asks: by the KMS key it names (the default key, made on
    /// first use, when it names none), or by the current bucket key for that KMS key.
    pub(crate) async fn new_kms_encryption(
        &self,
        request: &KmsRequest,
        bucket_id: u64,
        key: &str,
        found: Option<kms::KmsKeyRecord>,
    ) -> ModelResult<NewEncryption> {
        if let Some(json) = &request.context {
            check_context(json).map_err(ModelError::InvalidArgument)?;
        }
        let kms_key = match found {
            Some(k) => k,
            None => self.kms_key_for_write(request.key.as_deref()).await?,
        };
        let (sealing, bucket_key) = if request.bucket_key == Some(true) {
            let (id, k) = self.bucket_key(bucket_id, &kms_key).await?;
            (k, Some(id))
        } else {
            let material = kms::open_material(&self.inner.keys, &kms_key)?;
            self.inner.count_generate();
            (material, None)
        };
        let kek = Kek::Kms {
            key_arn: kms_key.arn.clone(),
            context: request.context.clone(),
            bucket_key,
        };
        NewEncryption::new(
            DataKeySealer::Kms { key: &sealing, kek },
            EncryptionAlgorithm::SseKms,
            bucket_id,
            key,
        )
    }

    /// The usable KMS key `spec` names (`None`: `alias/aws/s3`, made on first use).
    async fn kms_key_for_write(&self, spec: Option<&str>) -> ModelResult<kms::KmsKeyRecord> {
        let spec = spec.unwrap_or(DEFAULT_S3_ALIAS).to_string();
        let inner = self.inner.clone();
        let lookup = spec.clone();
        let found = blocking(move || kms::find_usable(&*inner.meta.begin_read()?, &lookup)).await;
        match found {
            Err(ModelError::Kms { .. }) if spec == DEFAULT_S3_ALIAS => {
                let (keys, region) = (self.inner.keys.clone(), self.inner.opts.region.clone());
                self.inner
                    .committer
                    .write(move |txn| kms::default_s3_key(txn, &keys, &region, now_ms()))
                    .await
            }
            other => other,
        }
    }

    /// The bucket key new writes to `bucket_id` under `kms_key` use: the current one,
    /// or a new one (one KMS operation), stored before any data key it seals.
    async fn bucket_key(&self, bucket_id: u64, kms_key: &kms::KmsKeyRecord) -> ModelResult<([u8; 16], Key)> {
        let now = now_ms();
        if let Some(current) = self.inner.bucket_keys.current(bucket_id, &kms_key.key_id, now) {
            return Ok(current);
        }
        let material = kms::open_material(&self.inner.keys, kms_key)?;
        let id = time_ordered_id();
        let key = Key::random().map_err(|e| ModelError::Internal(format!("bucket key: {e}")))?;
        let sealed = seal::seal_key(&material, &key, &bucket_key_context(&id, bucket_id, &kms_key.key_id))
            .map_err(|e| ModelError::Internal(format!("bucket key: {e}")))?;
        self.inner.count_generate();
        let rec = BucketKeyRecord {
            bucket_id,
            kms_key_id: kms_key.key_id.clone(),
            sealed,
            created_ms: now,
        };
        self.inner
            .committer
            .write(move |txn| Ok(txn.put(tables::BUCKET_KEYS, &id, &encode(&rec))?))
            .await?;
        self.inner.bucket_keys.remember(id, &key);
        let mut current = self.inner.bucket_keys.current.lock().unwrap_or_else(|p| p.into_inner());
        current.insert(
            (bucket_id, kms_key.key_id.clone()),
            CurrentKey {
                id,
                key: key.clone(),
                created_ms: now,
            },
        );
        Ok((id, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_keys_seal_for_their_lifetime_only() {
        assert!(fresh(1_000, 1_000));
        assert!(fresh(1_000, 1_000 + BUCKET_KEY_LIFETIME_MS - 1));
        assert!(!fresh(1_000, 1_000 + BUCKET_KEY_LIFETIME_MS));
        // A clock that went back does not keep a key forever.
        assert!(!fresh(1_000, 999));
    }

    #[test]
    fn contexts_are_json_objects_of_strings() {
        assert!(check_context(r#"{"project":"alpha","team":"storage"}"#).is_ok());
        assert!(check_context("{}").is_ok());
        assert!(check_context("not json").is_err());
        assert!(check_context(r#"["a"]"#).is_err());
        assert!(check_context(r#"{"n":1}"#).is_err());
        assert!(check_context(&format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_CONTEXT))).is_err());
    }

    #[test]
    fn the_cache_forgets_when_full() {
        let cache = BucketKeyCache::default();
        let k = Key::random().unwrap();
        for i in 0..OPENED_MAX as u32 + 1 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            cache.remember(id, &k);
        }
        assert_eq!(cache.opened.lock().unwrap().len(), 1);
        assert!(format!("{cache:?}").starts_with("BucketKeyCache"));
    }

    #[test]
    fn a_deleted_buckets_keys_go_with_it() {
        use ferrite_store::{MetaStore, RedbMetaStore};
        let dir = tempfile::tempdir().unwrap();
        let meta = RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap();
        let mut txn = meta.begin_write().unwrap();
        for (n, bucket_id) in [(1u8, 7u64), (2, 8), (3, 7)] {
            let rec = BucketKeyRecord {
                bucket_id,
                kms_key_id: "k".into(),
                sealed: vec![n],
                created_ms: 0,
            };
            txn.put(tables::BUCKET_KEYS, &[n; 16], &encode(&rec)).unwrap();
        }
        forget(&mut *txn, 7).unwrap();
        txn.commit().unwrap();
        let read = meta.begin_read().unwrap();
        let left = read
            .range(
                tables::BUCKET_KEYS,
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                10,
            )
            .unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, [2u8; 16]);
    }
}

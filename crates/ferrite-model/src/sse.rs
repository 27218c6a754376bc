//! Server-side encryption: the key provider the model seals data keys with, and what
//! an encrypted version's record keeps to open its data again.
//!
//! Envelope encryption: every encrypted object version gets a fresh random 256-bit
//! data key. Its data is sealed in chunks under that key (`ferrite_crypt::chunk`); the
//! data key is stored only sealed by the [`KeyProvider`], bound to the version's
//! *binding* (bucket id, key, and a random write id), which is also the associated
//! data of every chunk. The built-in provider seals with the server's master key
//! ([`BuiltinKeys`]); an external KMS can implement the trait later.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use ferrite_crypt::{ChunkCipher, CryptError, Key, NoncePrefix, seal};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authz::Operation;
use crate::records::{BucketEncryption, EncryptionAlgorithm};
use crate::{ModelError, ModelResult};

/// Seals and opens small secrets (data keys) under key-encryption keys the server
/// does not store in the clear.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// Seals `secret` under the provider's current key, bound to `context`.
    fn seal(&self, secret: &[u8], context: &[u8]) -> ModelResult<SealedKey>;
    /// Opens what [`KeyProvider::seal`] sealed, given the same context.
    fn open(&self, sealed: &SealedKey, context: &[u8]) -> ModelResult<Zeroizing<Vec<u8>>>;
    /// The key [`KeyProvider::seal`] uses now.
    fn current(&self) -> Kek;
    /// Every key the provider holds (the current one included), oldest first.
    fn held(&self) -> Vec<Kek> {
        vec![self.current()]
    }
    /// Starts sealing under a new key, kept wherever the provider keeps its keys
    /// before it is used; the older ones still open what they sealed. Returns it.
    fn rotate(&self) -> ModelResult<Kek> {
        Err(ModelError::NotImplemented(
            "this key provider does not rotate its key".into(),
        ))
    }
    /// Forgets the keys in `old` (never the current one), once nothing sealed by them
    /// is left.
    fn retire(&self, _old: &[Kek]) -> ModelResult<()> {
        Ok(())
    }
}

/// Where the built-in provider keeps its key versions (the server's key file). A
/// rotation saves the new set here before using the new version, and a retirement
/// before forgetting the old ones, so a crash at any point leaves a set that opens
/// everything stored.
pub trait KeyringStore: Send + Sync {
    fn save(&self, versions: &BTreeMap<u32, Key>) -> ModelResult<()>;
}

/// A secret sealed by a [`KeyProvider`]: which of its keys sealed it, and the sealed
/// bytes (`ferrite_crypt::seal`'s layout).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    pub kek: Kek,
    pub sealed: Vec<u8>,
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedKey")
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

/// Seals again what an older key sealed, given its context (`None`: nothing to do).
pub(crate) type ResealFn<'a> = dyn FnMut(&SealedKey, &[u8]) -> ModelResult<Option<SealedKey>> + 'a;

/// Which key-encryption key sealed a secret.
///
/// (Variants are only ever added at the end: records store the variant's index.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kek {
    /// A version of the built-in provider's master key.
    Master { version: u32 },
    /// The key the customer sends with every request (SSE-C). It is never stored:
    /// only its fingerprint under a random salt (`ferrite_crypt::fingerprint`), to
    /// tell a wrong key from damaged data.
    Customer { salt: [u8; 16], fingerprint: [u8; 32] },
}

/// The 256-bit key an SSE-C request sends (`x-amz-server-side-encryption-customer-key`),
/// already checked against its MD5 by the adapter. `Debug` hides it; it is wiped
/// when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerKey(Key);

impl CustomerKey {
    pub fn new(key: Key) -> CustomerKey {
        CustomerKey(key)
    }
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerKey(***)")
    }
}

/// The server-side encryption a write asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseRequest {
    /// `x-amz-server-side-encryption: AES256`: keys the server manages.
    S3,
    /// `x-amz-server-side-encryption-customer-*`: the customer's key (SSE-C).
    Customer(CustomerKey),
}

impl SseRequest {
    pub fn algorithm(&self) -> EncryptionAlgorithm {
        match self {
            SseRequest::S3 => EncryptionAlgorithm::SseS3,
            SseRequest::Customer(_) => EncryptionAlgorithm::SseC,
        }
    }

    /// What a write asking for nothing gets from the bucket's default.
    pub(crate) fn from_default(algorithm: EncryptionAlgorithm) -> ModelResult<SseRequest> {
        match algorithm {
            EncryptionAlgorithm::SseS3 => Ok(SseRequest::S3),
            other => Err(ModelError::NotImplemented(format!(
                "server-side encryption {other:?} as a bucket default is not implemented yet"
            ))),
        }
    }

    /// Whether data sealed as `existing` already is what this asks for (a copy can then
    /// share it): SSE-S3 data for SSE-S3, SSE-C data under this very key for SSE-C.
    pub(crate) fn satisfied_by(&self, existing: Option<&Encryption>) -> bool {
        match (self, existing) {
            (SseRequest::S3, Some(e)) => matches!(e.data_key.kek, Kek::Master { .. }),
            (SseRequest::Customer(k), Some(e)) => match e.data_key.kek {
                Kek::Customer { salt, fingerprint } => k.0.matches(&salt, &fingerprint),
                Kek::Master { .. } => false,
            },
            (_, None) => false,
        }
    }
}

/// Checks the SSE-C key a request presents against what the version (or upload)
/// was sealed with: an SSE-C version needs its key (400 without, 403 with another);
/// a key for anything else is not applicable (400), as AWS answers.
pub(crate) fn check_customer_key(existing: Option<&Encryption>, given: Option<&CustomerKey>) -> ModelResult<()> {
    let sealed_for = existing.and_then(|e| match e.data_key.kek {
        Kek::Customer { salt, fingerprint } => Some((salt, fingerprint)),
        Kek::Master { .. } => None,
    });
    match (sealed_for, given) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(ModelError::InvalidRequest(
            "The encryption parameters are not applicable to this object.".into(),
        )),
        (Some(_), None) => Err(ModelError::InvalidRequest(
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided \
             to retrieve the object."
                .into(),
        )),
        (Some((salt, fingerprint)), Some(k)) if k.0.matches(&salt, &fingerprint) => Ok(()),
        (Some(_), Some(_)) => Err(ModelError::WrongCustomerKey),
    }
}

/// The built-in key provider: the server's master key (from `--kms-master-key-file`,
/// `FERRITE_KMS_MASTER_KEY` or the generated key file), in versions: one to begin
/// with, a new one per rotation; the highest seals.
pub struct BuiltinKeys {
    ring: RwLock<Ring>,
    /// Where versions are kept; `None` (a key given by the environment): no rotation.
    store: Option<Box<dyn KeyringStore>>,
}

struct Ring {
    versions: BTreeMap<u32, Key>,
    current: u32,
}

impl BuiltinKeys {
    /// A single master key, as version 1, that does not rotate.
    pub fn new(master: Key) -> BuiltinKeys {
        BuiltinKeys {
            ring: RwLock::new(Ring {
                versions: BTreeMap::from([(1, master)]),
                current: 1,
            }),
            store: None,
        }
    }

    /// The versions of a key ring (the highest is current), and where rotations keep
    /// them (`None`: the ring does not rotate).
    pub fn with_ring(versions: BTreeMap<u32, Key>, store: Option<Box<dyn KeyringStore>>) -> ModelResult<BuiltinKeys> {
        let Some(&current) = versions.keys().next_back() else {
            return Err(ModelError::KeyUnavailable("a key ring with no key".into()));
        };
        Ok(BuiltinKeys {
            ring: RwLock::new(Ring { versions, current }),
            store,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for BuiltinKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.read();
        f.debug_struct("BuiltinKeys")
            .field("versions", &ring.versions.keys().collect::<Vec<_>>())
            .field("current", &ring.current)
            .field("rotates", &self.store.is_some())
            .finish()
    }
}

impl KeyProvider for BuiltinKeys {
    fn seal(&self, secret: &[u8], context: &[u8]) -> ModelResult<SealedKey> {
        let ring = self.read();
        let key = ring
            .versions
            .get(&ring.current)
            .ok_or_else(|| ModelError::Internal("the current master key version is not held".into()))?;
        Ok(SealedKey {
            kek: Kek::Master { version: ring.current },
            sealed: seal::seal(key, secret, context).map_err(|e| ModelError::Internal(e.to_string()))?,
        })
    }

    fn open(&self, sealed: &SealedKey, context: &[u8]) -> ModelResult<Zeroizing<Vec<u8>>> {
        let Kek::Master { version } = sealed.kek else {
            return Err(ModelError::Internal(
                "a customer-sealed key reached the key provider".into(),
            ));
        };
        let ring = self.read();
        let key = ring
            .versions
            .get(&version)
            .ok_or_else(|| ModelError::KeyUnavailable(format!("master key version {version} is not loaded")))?;
        seal::open(key, &sealed.sealed, context).map_err(|_| {
            ModelError::KeyUnavailable(format!(
                "master key version {version} does not open this sealed key (is the right master key loaded?)"
            ))
        })
    }

    fn current(&self) -> Kek {
        Kek::Master {
            version: self.read().current,
        }
    }

    fn held(&self) -> Vec<Kek> {
        self.read()
            .versions
            .keys()
            .map(|&version| Kek::Master { version })
            .collect()
    }

    fn rotate(&self) -> ModelResult<Kek> {
        let Some(store) = &self.store else {
            return Err(ModelError::InvalidRequest(
                "the master key was given by FERRITE_KMS_MASTER_KEY, where a new version cannot be kept: rotating \
                 needs a key file (--kms-master-key-file, or the data dir's generated one)"
                    .into(),
            ));
        };
        let mut ring = self.write();
        let version = ring
            .current
            .checked_add(1)
            .ok_or_else(|| ModelError::Internal("no master key version left".into()))?;
        let mut versions = ring.versions.clone();
        versions.insert(version, Key::random().map_err(crypt_error)?);
        // Kept before it seals anything: a crash now leaves a ring that opens all.
        store.save(&versions)?;
        ring.versions = versions;
        ring.current = version;
        Ok(Kek::Master { version })
    }

    fn retire(&self, old: &[Kek]) -> ModelResult<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut ring = self.write();
        let current = ring.current;
        let mut versions = ring.versions.clone();
        versions.retain(|v, _| *v == current || !old.contains(&Kek::Master { version: *v }));
        if versions.len() == ring.versions.len() {
            return Ok(());
        }
        store.save(&versions)?;
        ring.versions = versions;
        Ok(())
    }
}

/// The server's keys as the model uses them: the provider, or why there is none.
#[derive(Debug, Clone)]
pub(crate) enum Keys {
    Ready(Arc<dyn KeyProvider>),
    /// No provider, or one that failed its start-up check: encrypted objects can be
    /// neither written nor read, and each attempt says why.
    Unavailable(String),
}

impl Keys {
    pub(crate) fn provider(&self) -> ModelResult<&Arc<dyn KeyProvider>> {
        match self {
            Keys::Ready(p) => Ok(p),
            Keys::Unavailable(why) => Err(ModelError::KeyUnavailable(why.clone())),
        }
    }
}

/// The secret sealed into the store's `key_check` row at first start with a provider,
/// and opened at every later start: a start with another master key finds out at
/// once, rather than at the first encrypted read.
const CHECK_SECRET: &[u8] = b"ferrite master key check";
pub(crate) const CHECK_CONTEXT: &[u8] = b"ferrite/key-check";

/// Checks `provider` against the stored check value (`None`: none stored yet; then
/// returns the value to store).
pub(crate) fn check_provider(provider: &dyn KeyProvider, stored: Option<&[u8]>) -> ModelResult<Option<Vec<u8>>> {
    match stored {
        None => Ok(Some(
            postcard::to_stdvec(&provider.seal(CHECK_SECRET, CHECK_CONTEXT)?)
                .map_err(|e| ModelError::Internal(format!("key check: {e}")))?,
        )),
        Some(bytes) => {
            let sealed: SealedKey = postcard::from_bytes(bytes)
                .map_err(|e| ModelError::Corrupt(format!("unreadable key check value: {e}")))?;
            let opened = provider.open(&sealed, CHECK_CONTEXT)?;
            if &opened[..] != CHECK_SECRET {
                return Err(ModelError::KeyUnavailable("the key check value does not match".into()));
            }
            Ok(None)
        }
    }
}

/// How a version's data is encrypted: everything needed to open it but the
/// provider's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub algorithm: EncryptionAlgorithm,
    /// The data key, sealed by the provider and bound to `binding`.
    pub data_key: SealedKey,
    /// The chunks' nonce prefix (`ferrite_crypt::chunk`).
    pub nonce_prefix: [u8; 8],
    /// The chunks' associated data: which bucket, key and write the data was sealed for.
    pub binding: Vec<u8>,
}

/// What a write seals its body with, before the body is read.
pub(crate) struct NewEncryption {
    pub record: Encryption,
    pub cipher: ChunkCipher,
    /// Keeps the master key version that sealed the data key until the write is done
    /// (see `rotation.rs`).
    pub pin: Option<crate::rotation::SealPin>,
}

const DATA_KEY_CONTEXT: &[u8] = b"ferrite/data-key/";

pub(crate) fn data_key_context(binding: &[u8]) -> Vec<u8> {
    [DATA_KEY_CONTEXT, binding].concat()
}

fn crypt_error(e: impl fmt::Display) -> ModelError {
    ModelError::Internal(format!("encryption: {e}"))
}

/// What seals a new data key: the key provider, or the customer's key (SSE-C).
pub(crate) enum DataKeySealer<'a> {
    Provider(&'a dyn KeyProvider),
    Customer(&'a CustomerKey),
}

impl DataKeySealer<'_> {
    fn seal(&self, data_key: &Key, context: &[u8]) -> ModelResult<SealedKey> {
        match self {
            DataKeySealer::Provider(p) => p.seal(data_key.expose(), context),
            DataKeySealer::Customer(k) => {
                let mut salt = [0u8; 16];
                ferrite_crypt::random_bytes(&mut salt).map_err(crypt_error)?;
                Ok(SealedKey {
                    kek: Kek::Customer {
                        salt,
                        fingerprint: ferrite_crypt::fingerprint(&k.0, &salt),
                    },
                    sealed: seal::seal(&k.0, data_key.expose(), context).map_err(crypt_error)?,
                })
            }
        }
    }
}

impl NewEncryption {
    /// A fresh data key for a body written to `key` in bucket `bucket_id`, sealed by
    /// `sealer`.
    pub(crate) fn new(
        sealer: DataKeySealer<'_>,
        algorithm: EncryptionAlgorithm,
        bucket_id: u64,
        key: &str,
    ) -> ModelResult<NewEncryption> {
        let mut write_id = [0u8; 16];
        ferrite_crypt::random_bytes(&mut write_id).map_err(crypt_error)?;
        let mut binding = Vec::with_capacity(8 + key.len() + 1 + 16);
        binding.extend_from_slice(&bucket_id.to_be_bytes());
        binding.extend_from_slice(key.as_bytes());
        binding.push(0);
        binding.extend_from_slice(&write_id);
        let data_key = Key::random().map_err(crypt_error)?;
        let sealed = sealer.seal(&data_key, &data_key_context(&binding))?;
        let prefix = NoncePrefix::random().map_err(crypt_error)?;
        Ok(NewEncryption {
            pin: None,
            cipher: ChunkCipher::new(&data_key, prefix, &binding),
            record: Encryption {
                algorithm,
                data_key: sealed,
                nonce_prefix: prefix.0,
                binding,
            },
        })
    }
}

impl Encryption {
    /// The data key, opened by the provider, or by the customer's key for SSE-C
    /// (checked first: none is 400, another 403; see [`check_customer_key`]).
    pub(crate) fn data_key(&self, keys: &Keys, customer: Option<&CustomerKey>) -> ModelResult<Key> {
        let context = data_key_context(&self.binding);
        let bytes = match self.data_key.kek {
            Kek::Master { .. } => keys.provider()?.open(&self.data_key, &context)?,
            Kek::Customer { .. } => {
                check_customer_key(Some(self), customer)?;
                let Some(k) = customer else {
                    return Err(ModelError::WrongCustomerKey);
                };
                // The fingerprint matched: a failure now is damage, not a wrong key.
                seal::open(&k.0, &self.data_key.sealed, &context)
                    .map_err(|_| ModelError::Corrupt("an SSE-C data key does not open under its own key".into()))?
            }
        };
        Key::from_slice(&bytes).map_err(|_| ModelError::Corrupt("a data key of the wrong length".into()))
    }

    /// Whether the data key is sealed by the customer's key (SSE-C).
    pub(crate) fn is_customer(&self) -> bool {
        matches!(self.data_key.kek, Kek::Customer { .. })
    }

    /// The cipher of one body sealed under `key` with `prefix` (a multipart object's
    /// segments each have their own prefix).
    pub(crate) fn body_cipher(&self, key: &Key, prefix: [u8; 8]) -> ChunkCipher {
        ChunkCipher::new(key, NoncePrefix(prefix), &self.binding)
    }

    /// What one part of an encrypted upload is sealed with: the upload's data key and
    /// binding, and a fresh nonce prefix of its own (a part sent again under the same
    /// number gets a new one, so no nonce is ever used twice under the key).
    pub(crate) fn for_part(&self, keys: &Keys, customer: Option<&CustomerKey>) -> ModelResult<NewEncryption> {
        let key = self.data_key(keys, customer)?;
        let prefix = NoncePrefix::random().map_err(crypt_error)?;
        Ok(NewEncryption {
            pin: None,
            cipher: ChunkCipher::new(&key, prefix, &self.binding),
            record: Encryption {
                nonce_prefix: prefix.0,
                ..self.clone()
            },
        })
    }
}

impl crate::engine::Inner {
    /// Counts a read of encrypted data that failed authentication.
    pub(crate) fn note_tampered(&self) {
        self.tampered_reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::error!("stored data of an encrypted object failed authentication (tampered or damaged)");
    }
}

impl crate::Ferrite {
    /// Reads of encrypted data that failed authentication since start (`/metrics`).
    pub fn tampered_reads(&self) -> u64 {
        self.inner.tampered_reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether encrypted objects can be written and read (a key provider passed the
    /// start-up check).
    pub fn encryption_available(&self) -> bool {
        matches!(self.inner.keys, Keys::Ready(_))
    }

    /// A fresh data key for a body written to `key` in the bucket `bucket_id`, as
    /// `request` asks.
    pub(crate) fn new_encryption(&self, request: &SseRequest, bucket_id: u64, key: &str) -> ModelResult<NewEncryption> {
        let provider = match request {
            SseRequest::S3 => self.inner.keys.provider()?,
            SseRequest::Customer(k) => {
                return NewEncryption::new(DataKeySealer::Customer(k), request.algorithm(), bucket_id, key);
            }
        };
        // Pinned before sealing, so that a rotation's retirement, which waits for the
        // pins of older versions, can never miss this write; a rotation in between
        // (sealed under another version than pinned) just takes another turn.
        for _ in 0..3 {
            let pin = self.inner.seal_pins.pin(provider.current());
            let mut new = NewEncryption::new(
                DataKeySealer::Provider(&**provider),
                request.algorithm(),
                bucket_id,
                key,
            )?;
            if pin.as_ref().map(|p| p.kek()) == Some(new.record.data_key.kek) {
                new.pin = pin;
                return Ok(new);
            }
        }
        Err(ModelError::Internal(
            "the key provider does not seal under the key it calls current".into(),
        ))
    }
}

impl crate::Ferrite {
    /// The bucket's default encryption (GetBucketEncryption).
    pub async fn bucket_encryption(&self, caller: &crate::Caller, bucket: &str) -> ModelResult<BucketEncryption> {
        self.read_bucket(caller, bucket, Operation::GetBucketEncryption, |b| {
            b.encryption.ok_or(ModelError::NoSuchEncryptionConfiguration)
        })
        .await
    }

    /// Sets (`Some`) or removes (`None`) the bucket's default encryption. Only what is
    /// built can be a default: SSE-KMS is NotImplemented until it lands.
    pub async fn set_bucket_encryption(
        &self,
        caller: &crate::Caller,
        bucket: &str,
        config: Option<BucketEncryption>,
    ) -> ModelResult<()> {
        let op = match &config {
            Some(c) => {
                check_bucket_default(c)?;
                Operation::PutBucketEncryption
            }
            None => Operation::DeleteBucketEncryption,
        };
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let mut b = crate::access::bucket_for(&*txn, &bucket, &caller, op)?;
                if b.encryption != config {
                    b.encryption = config.clone();
                    txn.put(crate::tables::BUCKETS, bucket.as_bytes(), &crate::records::encode(&b))?;
                }
                Ok(())
            })
            .await
    }
}

/// Whether `c` can be a bucket's default: SSE-S3 (without a KMS key, as AWS
/// requires); SSE-KMS not yet.
pub(crate) fn check_bucket_default(c: &BucketEncryption) -> ModelResult<()> {
    match c.algorithm {
        EncryptionAlgorithm::SseS3 if c.kms_key_id.is_some() => Err(ModelError::InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse".into(),
        )),
        EncryptionAlgorithm::SseS3 => Ok(()),
        EncryptionAlgorithm::SseKms | EncryptionAlgorithm::SseKmsDsse => Err(ModelError::NotImplemented(
            "SSE-KMS as a bucket's default encryption is not implemented yet".into(),
        )),
        EncryptionAlgorithm::SseC => Err(ModelError::InvalidArgument(
            "SSE-C cannot be a bucket's default encryption".into(),
        )),
    }
}

/// The ETag of a body sealed as `encryption`, whose plaintext MD5 is `md5_etag`: the
/// MD5 itself for plaintext and SSE-S3 (as AWS answers), else (SSE-C) 16 random
/// bytes: AWS documents that such ETags are not the MD5, and the MD5 of the plaintext
/// would let anyone who may list the bucket, without the key, confirm a guess of an
/// object's content.
pub(crate) fn etag(md5_etag: String, encryption: Option<&Encryption>) -> ModelResult<String> {
    match encryption {
        Some(e) if e.is_customer() => {
            let mut bytes = [0u8; 16];
            ferrite_crypt::random_bytes(&mut bytes).map_err(crypt_error)?;
            Ok(hex::encode(bytes))
        }
        _ => Ok(md5_etag),
    }
}

/// The error a read reports for data that does not authenticate.
pub(crate) fn tampered(e: CryptError) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("stored data of an encrypted object failed authentication: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_recognises_the_master_key() {
        let keys = BuiltinKeys::new(Key::from_slice(&[1; 32]).unwrap());
        let stored = check_provider(&keys, None).unwrap().expect("a value to store");
        assert_eq!(check_provider(&keys, Some(&stored)).unwrap(), None);
        let other = BuiltinKeys::new(Key::from_slice(&[2; 32]).unwrap());
        assert!(matches!(
            check_provider(&other, Some(&stored)),
            Err(ModelError::KeyUnavailable(_))
        ));
        let shown = format!("{keys:?}");
        assert!(shown.contains("versions: [1]") && !shown.contains("Key("), "{shown}");
    }

    #[test]
    fn an_sse_c_data_key_opens_only_with_the_customers_key() {
        let mine = CustomerKey::new(Key::from_slice(&[3; 32]).unwrap());
        let other = CustomerKey::new(Key::from_slice(&[4; 32]).unwrap());
        let new = NewEncryption::new(DataKeySealer::Customer(&mine), EncryptionAlgorithm::SseC, 7, "k").unwrap();
        let keys = Keys::Unavailable("the master key plays no part".into());
        assert!(new.record.is_customer());
        assert!(new.record.data_key(&keys, Some(&mine)).is_ok());
        assert!(matches!(
            new.record.data_key(&keys, Some(&other)),
            Err(ModelError::WrongCustomerKey)
        ));
        assert!(matches!(
            new.record.data_key(&keys, None),
            Err(ModelError::InvalidRequest(_))
        ));
        // The record holds neither the key nor anything that is the key.
        let stored = postcard::to_stdvec(&new.record).unwrap();
        assert!(!stored.windows(32).any(|w| w == [3u8; 32]));
        assert!(SseRequest::Customer(mine.clone()).satisfied_by(Some(&new.record)));
        assert!(!SseRequest::Customer(other).satisfied_by(Some(&new.record)));
        assert!(!SseRequest::S3.satisfied_by(Some(&new.record)));
        assert!(matches!(
            check_customer_key(None, Some(&mine)),
            Err(ModelError::InvalidRequest(_))
        ));
        assert_eq!(format!("{mine:?}"), "CustomerKey(***)");
        // The ETag of SSE-C data is not the MD5, and differs per write.
        let md5 = "0123456789abcdef0123456789abcdef".to_string();
        let e1 = etag(md5.clone(), Some(&new.record)).unwrap();
        assert_ne!(e1, md5);
        assert_ne!(e1, etag(md5.clone(), Some(&new.record)).unwrap());
        assert_eq!(etag(md5.clone(), None).unwrap(), md5);
    }

    #[test]
    fn a_data_key_opens_only_with_its_binding() {
        let keys: Arc<dyn KeyProvider> = Arc::new(BuiltinKeys::new(Key::random().unwrap()));
        let ready = Keys::Ready(keys.clone());
        let new = NewEncryption::new(DataKeySealer::Provider(&*keys), EncryptionAlgorithm::SseS3, 7, "a/key").unwrap();
        assert!(new.record.binding.starts_with(&7u64.to_be_bytes()));
        assert!(new.record.data_key(&ready, None).is_ok());
        let mut moved = new.record.clone();
        moved.binding = NewEncryption::new(DataKeySealer::Provider(&*keys), EncryptionAlgorithm::SseS3, 7, "a/key")
            .unwrap()
            .record
            .binding;
        assert!(matches!(
            moved.data_key(&ready, None),
            Err(ModelError::KeyUnavailable(_))
        ));
        let none = Keys::Unavailable("no master key".into());
        assert!(matches!(new.record.data_key(&none, None), Err(ModelError::KeyUnavailable(w)) if w == "no master key"));
    }
}

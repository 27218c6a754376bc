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
use ferrite_store::ReadTxn;
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kek {
    /// A version of the built-in provider's master key.
    Master { version: u32 },
    /// The key the customer sends with every request (SSE-C). It is never stored:
    /// only its fingerprint under a random salt (`ferrite_crypt::fingerprint`), to
    /// tell a wrong key from damaged data.
    Customer { salt: [u8; 16], fingerprint: [u8; 32] },
    /// A key of the built-in KMS (SSE-KMS), by its ARN: its material seals the data
    /// key, or seals the S3 Bucket Key `bucket_key` that seals it. `context` is the
    /// encryption context the writer gave (the JSON text), bound into the seal.
    Kms {
        key_arn: String,
        context: Option<String>,
        bucket_key: Option<[u8; 16]>,
    },
}

impl Kek {
    /// The KMS key id of a KMS key's ARN.
    pub(crate) fn kms_key_id(arn: &str) -> &str {
        arn.rsplit_once("key/").map_or(arn, |(_, id)| id)
    }
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
    /// `x-amz-server-side-encryption: aws:kms`: a key of the built-in KMS.
    Kms(KmsRequest),
    /// No encryption asked, but `x-amz-server-side-encryption-bucket-key-enabled`:
    /// the bucket's default, using a bucket key or not as this says when that default
    /// is SSE-KMS.
    Default { bucket_key: bool },
}

/// What a write is sealed as, settled with its access check
/// ([`crate::Ferrite::check_write_access`]).
pub(crate) struct WriteSealing {
    pub bucket_id: u64,
    pub wanted: Option<SseRequest>,
    /// The KMS key of an SSE-KMS write, found by the same read (`None`: not found
    /// there, the default key still to be made).
    pub kms_key: Option<crate::kms::KmsKeyRecord>,
    /// Whether the bucket's default retention applies to the new version (a lock
    /// bucket with a default): such a write needs Content-MD5 or a checksum.
    pub default_retention: bool,
}

/// What an SSE-KMS write asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsRequest {
    /// `x-amz-server-side-encryption-aws-kms-key-id`: a key id, key ARN, alias name or
    /// alias ARN; `None`: the default key `alias/aws/s3`.
    pub key: Option<String>,
    /// `x-amz-server-side-encryption-context`, decoded: a JSON object of strings.
    pub context: Option<String>,
    /// `x-amz-server-side-encryption-bucket-key-enabled`; `None`: as the bucket's
    /// default encryption says.
    pub bucket_key: Option<bool>,
}

/// How a version is encrypted, as responses state it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseInfo {
    pub algorithm: EncryptionAlgorithm,
    /// SSE-KMS: the ARN of the KMS key.
    pub kms_key_arn: Option<String>,
    /// SSE-KMS: whether an S3 Bucket Key sealed the data key.
    pub bucket_key: bool,
    /// SSE-KMS: the encryption context the writer gave (JSON text).
    pub context: Option<String>,
}

impl SseInfo {
    pub(crate) fn plain(algorithm: EncryptionAlgorithm) -> SseInfo {
        SseInfo {
            algorithm,
            kms_key_arn: None,
            bucket_key: false,
            context: None,
        }
    }
}

impl SseRequest {
    /// What a write asking for nothing gets from the bucket's default.
    pub(crate) fn from_default(default: BucketEncryption) -> ModelResult<SseRequest> {
        match default.algorithm {
            EncryptionAlgorithm::SseS3 => Ok(SseRequest::S3),
            EncryptionAlgorithm::SseKms => Ok(SseRequest::Kms(KmsRequest {
                key: default.kms_key_id,
                context: None,
                bucket_key: Some(default.bucket_key),
            })),
            other => Err(ModelError::NotImplemented(format!(
                "server-side encryption {other:?} as a bucket default is not implemented yet"
            ))),
        }
    }

    /// The request with what it leaves open taken from the bucket's default: an SSE-KMS
    /// request that does not say whether to use a bucket key does as an SSE-KMS
    /// default says (AWS's rule).
    pub(crate) fn with_default(self, default: Option<&BucketEncryption>) -> SseRequest {
        match self {
            SseRequest::Kms(mut k) if k.bucket_key.is_none() => {
                k.bucket_key = default
                    .filter(|d| d.algorithm == EncryptionAlgorithm::SseKms)
                    .map(|d| d.bucket_key);
                SseRequest::Kms(k)
            }
            other => other,
        }
    }

    /// What a write asking for `asked` (or nothing) in a bucket whose default is
    /// `default` is sealed as.
    pub(crate) fn wanted(
        asked: Option<&SseRequest>,
        default: Option<BucketEncryption>,
    ) -> ModelResult<Option<SseRequest>> {
        match asked {
            Some(&SseRequest::Default { bucket_key }) => default
                .map(|d| SseRequest::from_default(BucketEncryption { bucket_key, ..d }))
                .transpose(),
            Some(a) => Ok(Some(a.clone().with_default(default.as_ref()))),
            None => default.map(SseRequest::from_default).transpose(),
        }
    }

    /// Whether data sealed as `existing` already is what this asks for (a copy can then
    /// share it): SSE-S3 data for SSE-S3, SSE-C data under this very key for SSE-C.
    /// An SSE-KMS copy is always sealed anew (under the key, context and bucket key it
    /// names, as AWS does).
    pub(crate) fn satisfied_by(&self, existing: Option<&Encryption>) -> bool {
        match (self, existing) {
            (SseRequest::S3, Some(e)) => matches!(e.data_key.kek, Kek::Master { .. }),
            (SseRequest::Customer(k), Some(e)) => match &e.data_key.kek {
                Kek::Customer { salt, fingerprint } => k.0.matches(salt, fingerprint),
                Kek::Master { .. } | Kek::Kms { .. } => false,
            },
            (SseRequest::Kms(_) | SseRequest::Default { .. }, _) => false,
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
        Kek::Master { .. } | Kek::Kms { .. } => None,
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
    /// What the body's ETag is derived with when it is not the MD5 (see [`etag`]).
    pub etag_key: Option<Key>,
}

const DATA_KEY_CONTEXT: &[u8] = b"ferrite/data-key/";

pub(crate) fn data_key_context(binding: &[u8]) -> Vec<u8> {
    [DATA_KEY_CONTEXT, binding].concat()
}

/// The context a data key is sealed in: its binding, and for SSE-KMS the writer's
/// encryption context.
fn seal_context(binding: &[u8], kek: &Kek) -> Vec<u8> {
    let mut context = data_key_context(binding);
    if let Kek::Kms {
        context: Some(json), ..
    } = kek
    {
        context.extend_from_slice(b"\0kms-context\0");
        context.extend_from_slice(json.as_bytes());
    }
    context
}

fn crypt_error(e: impl fmt::Display) -> ModelError {
    ModelError::Internal(format!("encryption: {e}"))
}

/// What seals a new data key: the key provider, the customer's key (SSE-C), or a KMS
/// key (SSE-KMS: its material, or a bucket key sealed by it).
pub(crate) enum DataKeySealer<'a> {
    Provider(&'a dyn KeyProvider),
    Customer(&'a CustomerKey),
    Kms {
        /// The KMS key's material, or the bucket key's.
        key: &'a Key,
        /// What the record keeps: `Kek::Kms`.
        kek: Kek,
    },
}

impl DataKeySealer<'_> {
    fn seal(&self, data_key: &Key, binding: &[u8]) -> ModelResult<SealedKey> {
        match self {
            DataKeySealer::Provider(p) => p.seal(data_key.expose(), &data_key_context(binding)),
            DataKeySealer::Customer(k) => {
                let mut salt = [0u8; 16];
                ferrite_crypt::random_bytes(&mut salt).map_err(crypt_error)?;
                Ok(SealedKey {
                    kek: Kek::Customer {
                        salt,
                        fingerprint: ferrite_crypt::fingerprint(&k.0, &salt),
                    },
                    sealed: seal::seal(&k.0, data_key.expose(), &data_key_context(binding)).map_err(crypt_error)?,
                })
            }
            DataKeySealer::Kms { key, kek } => Ok(SealedKey {
                sealed: seal::seal(key, data_key.expose(), &seal_context(binding, kek)).map_err(crypt_error)?,
                kek: kek.clone(),
            }),
        }
    }
}

/// The key an encrypted body's ETag is derived with, from its data key: set for SSE-C
/// and SSE-KMS, whose ETags are not the MD5 (see [`etag`]).
fn etag_key(data_key: &Key, kek: &Kek) -> ModelResult<Option<Key>> {
    match kek {
        Kek::Master { .. } => Ok(None),
        Kek::Customer { .. } | Kek::Kms { .. } => {
            let derived = ferrite_crypt::keyed_tag(data_key, b"ferrite/etag-key", &[]);
            Key::from_slice(&derived).map(Some).map_err(crypt_error)
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
        let sealed = sealer.seal(&data_key, &binding)?;
        let prefix = NoncePrefix::random().map_err(crypt_error)?;
        Ok(NewEncryption {
            pin: None,
            etag_key: etag_key(&data_key, &sealed.kek)?,
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
    /// (checked first: none is 400, another 403; see [`check_customer_key`]). An
    /// SSE-KMS data key opens through the KMS: `txn` is where its key is read.
    pub(crate) fn data_key(
        &self,
        inner: &crate::engine::Inner,
        txn: &dyn ReadTxn,
        customer: Option<&CustomerKey>,
    ) -> ModelResult<Key> {
        let kms_key = match &self.data_key.kek {
            kek @ Kek::Kms { .. } => Some(crate::bucket_keys::kms_sealing_key(inner, txn, kek)?),
            Kek::Master { .. } | Kek::Customer { .. } => None,
        };
        self.open_data_key(&inner.keys, kms_key.as_ref(), customer)
    }

    /// [`Encryption::data_key`] given the key that sealed an SSE-KMS data key.
    fn open_data_key(&self, keys: &Keys, kms_key: Option<&Key>, customer: Option<&CustomerKey>) -> ModelResult<Key> {
        let bytes = match &self.data_key.kek {
            Kek::Master { .. } => keys
                .provider()?
                .open(&self.data_key, &data_key_context(&self.binding))?,
            Kek::Customer { .. } => {
                check_customer_key(Some(self), customer)?;
                let Some(k) = customer else {
                    return Err(ModelError::WrongCustomerKey);
                };
                // The fingerprint matched: a failure now is damage, not a wrong key.
                seal::open(&k.0, &self.data_key.sealed, &data_key_context(&self.binding))
                    .map_err(|_| ModelError::Corrupt("an SSE-C data key does not open under its own key".into()))?
            }
            kek @ Kek::Kms { .. } => {
                let kek_key = kms_key.ok_or_else(|| ModelError::Internal("no KMS key to open a data key".into()))?;
                seal::open(kek_key, &self.data_key.sealed, &seal_context(&self.binding, kek))
                    .map_err(|_| ModelError::Corrupt("an SSE-KMS data key does not open under its KMS key".into()))?
            }
        };
        Key::from_slice(&bytes).map_err(|_| ModelError::Corrupt("a data key of the wrong length".into()))
    }

    /// Whether the data key is sealed by the customer's key (SSE-C).
    pub(crate) fn is_customer(&self) -> bool {
        matches!(self.data_key.kek, Kek::Customer { .. })
    }

    /// How responses state this encryption.
    pub(crate) fn info(&self) -> SseInfo {
        match &self.data_key.kek {
            Kek::Kms {
                key_arn,
                context,
                bucket_key,
            } => SseInfo {
                algorithm: self.algorithm,
                kms_key_arn: Some(key_arn.clone()),
                bucket_key: bucket_key.is_some(),
                context: context.clone(),
            },
            Kek::Master { .. } | Kek::Customer { .. } => SseInfo::plain(self.algorithm),
        }
    }

    /// The cipher of one body sealed under `key` with `prefix` (a multipart object's
    /// segments each have their own prefix).
    pub(crate) fn body_cipher(&self, key: &Key, prefix: [u8; 8]) -> ChunkCipher {
        ChunkCipher::new(key, NoncePrefix(prefix), &self.binding)
    }

    /// What one part of an encrypted upload is sealed with: the upload's data key and
    /// binding, and a fresh nonce prefix of its own (a part sent again under the same
    /// number gets a new one, so no nonce is ever used twice under the key). Parts'
    /// ETags derive from the upload's data key: a part sent again with the same bytes
    /// gets the same ETag.
    pub(crate) fn for_part(
        &self,
        inner: &crate::engine::Inner,
        txn: &dyn ReadTxn,
        customer: Option<&CustomerKey>,
    ) -> ModelResult<NewEncryption> {
        let key = self.data_key(inner, txn, customer)?;
        let prefix = NoncePrefix::random().map_err(crypt_error)?;
        Ok(NewEncryption {
            pin: None,
            etag_key: etag_key(&key, &self.data_key.kek)?,
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
    /// (`kms_key`: an SSE-KMS write's key, when already found.)
    pub(crate) async fn new_encryption(
        &self,
        request: &SseRequest,
        bucket_id: u64,
        key: &str,
        kms_key: Option<crate::kms::KmsKeyRecord>,
    ) -> ModelResult<NewEncryption> {
        let provider = match request {
            SseRequest::S3 => self.inner.keys.provider()?,
            SseRequest::Customer(k) => {
                return NewEncryption::new(DataKeySealer::Customer(k), EncryptionAlgorithm::SseC, bucket_id, key);
            }
            SseRequest::Kms(kms) => return self.new_kms_encryption(kms, bucket_id, key, kms_key).await,
            SseRequest::Default { .. } => {
                return Err(ModelError::Internal(
                    "a write's encryption was not settled against its bucket's default".into(),
                ));
            }
        };
        // Pinned before sealing, so that a rotation's retirement, which waits for the
        // pins of older versions, can never miss this write; a rotation in between
        // (sealed under another version than pinned) just takes another turn.
        for _ in 0..3 {
            let pin = self.inner.seal_pins.pin(&provider.current());
            let mut new = NewEncryption::new(
                DataKeySealer::Provider(&**provider),
                EncryptionAlgorithm::SseS3,
                bucket_id,
                key,
            )?;
            if pin.as_ref().map(|p| p.kek()).as_ref() == Some(&new.record.data_key.kek) {
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
/// requires) or SSE-KMS (a key given is checked when a write uses it, as AWS does);
/// dual-layer SSE-KMS is not built.
pub(crate) fn check_bucket_default(c: &BucketEncryption) -> ModelResult<()> {
    match c.algorithm {
        EncryptionAlgorithm::SseS3 if c.kms_key_id.is_some() => Err(ModelError::InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse".into(),
        )),
        EncryptionAlgorithm::SseS3 | EncryptionAlgorithm::SseKms => Ok(()),
        EncryptionAlgorithm::SseKmsDsse => Err(ModelError::NotImplemented(
            "dual-layer SSE-KMS (aws:kms:dsse) as a bucket's default encryption is not implemented".into(),
        )),
        EncryptionAlgorithm::SseC => Err(ModelError::InvalidArgument(
            "SSE-C cannot be a bucket's default encryption".into(),
        )),
    }
}

/// The ETag of a body whose plaintext MD5 is `md5_etag`: the MD5 itself for
/// plaintext and SSE-S3 (as AWS answers); for SSE-C and SSE-KMS (`etag_key` given,
/// derived from the data key) 16 bytes of a keyed hash of the MD5. AWS documents that
/// such ETags are not the MD5, and the MD5 of the plaintext would let anyone who may
/// list the bucket, without the key, confirm a guess of an object's content. Under one
/// data key the same bytes get the same ETag: a part of an upload sent again answers
/// the ETag it had.
pub(crate) fn etag(md5_etag: String, etag_key: Option<&Key>) -> String {
    match etag_key {
        Some(k) => hex::encode(&ferrite_crypt::keyed_tag(k, b"ferrite/etag/", md5_etag.as_bytes())[..16]),
        None => md5_etag,
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
        assert!(new.record.open_data_key(&keys, None, Some(&mine)).is_ok());
        assert!(matches!(
            new.record.open_data_key(&keys, None, Some(&other)),
            Err(ModelError::WrongCustomerKey)
        ));
        assert!(matches!(
            new.record.open_data_key(&keys, None, None),
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
        // The ETag of SSE-C data is not the MD5; under one data key (the parts of an
        // upload) the same bytes get the same one, under another a different one.
        let md5 = "0123456789abcdef0123456789abcdef".to_string();
        let key = new.etag_key.as_ref().expect("SSE-C ETags are keyed");
        let e1 = etag(md5.clone(), Some(key));
        assert_ne!(e1, md5);
        assert_eq!(e1.len(), 32);
        assert_eq!(e1, etag(md5.clone(), Some(key)));
        let again = NewEncryption::new(DataKeySealer::Customer(&mine), EncryptionAlgorithm::SseC, 7, "k").unwrap();
        assert_ne!(e1, etag(md5.clone(), again.etag_key.as_ref()));
        assert_eq!(etag(md5.clone(), None), md5);
    }

    #[test]
    fn a_data_key_opens_only_with_its_binding() {
        let keys: Arc<dyn KeyProvider> = Arc::new(BuiltinKeys::new(Key::random().unwrap()));
        let ready = Keys::Ready(keys.clone());
        let new = NewEncryption::new(DataKeySealer::Provider(&*keys), EncryptionAlgorithm::SseS3, 7, "a/key").unwrap();
        assert!(new.record.binding.starts_with(&7u64.to_be_bytes()));
        assert!(new.etag_key.is_none(), "an SSE-S3 ETag is the MD5");
        assert!(new.record.open_data_key(&ready, None, None).is_ok());
        let mut moved = new.record.clone();
        moved.binding = NewEncryption::new(DataKeySealer::Provider(&*keys), EncryptionAlgorithm::SseS3, 7, "a/key")
            .unwrap()
            .record
            .binding;
        assert!(matches!(
            moved.open_data_key(&ready, None, None),
            Err(ModelError::KeyUnavailable(_))
        ));
        let none = Keys::Unavailable("no master key".into());
        assert!(
            matches!(new.record.open_data_key(&none, None, None), Err(ModelError::KeyUnavailable(w)) if w == "no master key")
        );
    }

    #[test]
    fn a_kms_data_key_is_bound_to_its_context_and_states_its_key() {
        let kms_key = Key::random().unwrap();
        let kek = Kek::Kms {
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/1234".into(),
            context: Some(r#"{"project":"alpha"}"#.into()),
            bucket_key: None,
        };
        let new = NewEncryption::new(
            DataKeySealer::Kms {
                key: &kms_key,
                kek: kek.clone(),
            },
            EncryptionAlgorithm::SseKms,
            7,
            "k",
        )
        .unwrap();
        let keys = Keys::Unavailable("the master key plays no part".into());
        assert!(new.record.open_data_key(&keys, Some(&kms_key), None).is_ok());
        assert!(
            new.record
                .open_data_key(&keys, Some(&Key::random().unwrap()), None)
                .is_err()
        );
        // Another context (as a record edited to claim one) does not open it.
        let mut edited = new.record.clone();
        edited.data_key.kek = Kek::Kms {
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/1234".into(),
            context: Some(r#"{"project":"beta"}"#.into()),
            bucket_key: None,
        };
        assert!(edited.open_data_key(&keys, Some(&kms_key), None).is_err());
        assert_eq!(Kek::kms_key_id("arn:aws:kms:us-east-1:000000000000:key/1234"), "1234");
        let info = new.record.info();
        assert_eq!(
            info.kms_key_arn.as_deref(),
            Some("arn:aws:kms:us-east-1:000000000000:key/1234")
        );
        assert_eq!(info.context.as_deref(), Some(r#"{"project":"alpha"}"#));
        assert!(!info.bucket_key);
        assert!(new.etag_key.is_some(), "SSE-KMS ETags are not the MD5");
        assert!(!SseRequest::Kms(KmsRequest::default()).satisfied_by(Some(&new.record)));
        // An SSE-KMS record is neither SSE-C nor needs a customer key.
        assert!(check_customer_key(Some(&new.record), None).is_ok());
    }

    #[test]
    fn a_lone_bucket_key_choice_applies_to_an_sse_kms_default_only() {
        let kms_default = BucketEncryption {
            algorithm: EncryptionAlgorithm::SseKms,
            kms_key_id: Some("alias/app".into()),
            bucket_key: true,
        };
        let lone_off = SseRequest::Default { bucket_key: false };
        assert_eq!(
            SseRequest::wanted(Some(&lone_off), Some(kms_default.clone())).unwrap(),
            Some(SseRequest::Kms(KmsRequest {
                key: Some("alias/app".into()),
                context: None,
                bucket_key: Some(false),
            }))
        );
        let s3_default = BucketEncryption {
            algorithm: EncryptionAlgorithm::SseS3,
            kms_key_id: None,
            bucket_key: false,
        };
        let lone_on = SseRequest::Default { bucket_key: true };
        assert_eq!(
            SseRequest::wanted(Some(&lone_on), Some(s3_default)).unwrap(),
            Some(SseRequest::S3)
        );
        assert_eq!(SseRequest::wanted(Some(&lone_on), None).unwrap(), None);
        // An aws:kms request without the header takes the default's choice.
        let asked = SseRequest::Kms(KmsRequest::default());
        assert_eq!(
            SseRequest::wanted(Some(&asked), Some(kms_default)).unwrap(),
            Some(SseRequest::Kms(KmsRequest {
                bucket_key: Some(true),
                ..KmsRequest::default()
            }))
        );
    }
}

//! Master-key rotation without rewriting data: the provider starts sealing under a
//! new key version, then every secret the store keeps sealed by an older version (the
//! data keys of encrypted versions and uploads, users' secret access keys, the
//! built-in KMS's keys, the key check value) is opened and sealed again under the new one, in small
//! transactions, while the server goes on serving. Object data is untouched: it is
//! sealed by the data keys, which do not change.
//!
//! An older version is kept until nothing uses it. Writes that sealed their data key
//! before the rotation may commit after the re-sealing pass went by: each holds a
//! [`SealPin`] on the version it sealed with, taken before sealing, until it is done. Retiring waits for the
//! pins of older versions to go, makes one more pass, and only then has the provider
//! forget them. A crash anywhere leaves the provider's key file holding every version
//! still in use; the next start finishes the job ([`Ferrite::finish_rotation`]).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrite_store::{Table, WriteTxn};

use crate::engine::{Ferrite, blocking};
use crate::records::{ObjectRecord, UploadRecord, decode, encode};
use crate::sse::{Kek, KeyProvider, SealedKey};
use crate::{Caller, ModelError, ModelResult, tables};

/// Rows looked at per transaction of a re-sealing pass.
const BATCH: usize = 256;

/// Writes in flight that sealed a data key, by the master key version they used.
#[derive(Clone, Default)]
pub(crate) struct SealPins(Arc<Mutex<BTreeMap<u32, usize>>>);

/// One write's hold on the master key version its data key is sealed with.
pub(crate) struct SealPin {
    pins: SealPins,
    version: u32,
}

impl SealPins {
    /// A pin on the master key version `kek` (none for other keys).
    pub(crate) fn pin(&self, kek: &Kek) -> Option<SealPin> {
        let &Kek::Master { version } = kek else {
            return None;
        };
        *self.lock().entry(version).or_default() += 1;
        Some(SealPin {
            pins: self.clone(),
            version,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, usize>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a write that sealed under a version other than `current` is in flight.
    fn any_besides(&self, current: &Kek) -> bool {
        self.lock().keys().any(|&version| Kek::Master { version } != *current)
    }
}

impl SealPin {
    pub(crate) fn kek(&self) -> Kek {
        Kek::Master { version: self.version }
    }
}

impl Drop for SealPin {
    fn drop(&mut self) {
        let mut pins = self.pins.lock();
        if let Some(n) = pins.get_mut(&self.version) {
            *n -= 1;
            if *n == 0 {
                pins.remove(&self.version);
            }
        }
    }
}

/// What a re-sealing pass sealed again, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resealed {
    /// Data keys of object versions (each version counted once, whichever tables
    /// hold a copy of its record).
    pub versions: u64,
    /// Data keys of multipart uploads in progress.
    pub uploads: u64,
    /// Users' secret access keys.
    pub access_keys: u64,
    /// The built-in KMS's keys.
    pub kms_keys: u64,
    /// The key check value.
    pub key_check: u64,
}

impl Resealed {
    fn add(&mut self, other: Resealed) {
        self.versions += other.versions;
        self.uploads += other.uploads;
        self.access_keys += other.access_keys;
        self.kms_keys += other.kms_keys;
        self.key_check += other.key_check;
    }
}

/// What `ferrite admin kms rotate` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The new master key version, which seals from now on.
    pub version: u32,
    pub resealed: Resealed,
    /// Older versions, forgotten once writes in flight under them are done.
    pub retiring: Vec<u32>,
}

/// The master key's versions (`GET /admin/v1/kms/master-key`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MasterKeyStatus {
    pub current: u32,
    /// Every version held, the current one included.
    pub versions: Vec<u32>,
}

fn version_of(kek: &Kek) -> Option<u32> {
    match kek {
        Kek::Master { version } => Some(*version),
        Kek::Customer { .. } | Kek::Kms { .. } => None,
    }
}

/// Seals again, under the provider's current key, what an older master key version
/// sealed; `None` for what needs nothing (the current version, a customer's key).
#[derive(Clone)]
struct Resealer {
    provider: Arc<dyn KeyProvider>,
    current: Kek,
}

impl Resealer {
    fn reseal(&self, sealed: &SealedKey, context: &[u8]) -> ModelResult<Option<SealedKey>> {
        if sealed.kek == self.current || !matches!(sealed.kek, Kek::Master { .. }) {
            return Ok(None);
        }
        let secret = self.provider.open(sealed, context)?;
        let resealed = self.provider.seal(&secret, context)?;
        // Sealed meanwhile by a newer rotation? Then this pass is not the last one.
        if resealed.kek != self.current {
            return Err(ModelError::Internal(
                "the master key rotated during a re-sealing pass".into(),
            ));
        }
        Ok(Some(resealed))
    }
}

/// Seals a version's or upload's data key again if an older version sealed it;
/// whether it did.
fn reseal_data_key(encryption: &mut Option<crate::sse::Encryption>, r: &Resealer) -> ModelResult<bool> {
    let Some(enc) = encryption else {
        return Ok(false);
    };
    match r.reseal(&enc.data_key, &crate::sse::data_key_context(&enc.binding))? {
        Some(sealed) => {
            enc.data_key = sealed;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Which table a pass goes through, and how one row of it is sealed again.
#[derive(Clone, Copy)]
enum Rows {
    Versions,
    Objects,
    Uploads,
    AccessKeys,
}

impl Rows {
    fn table(self) -> Table {
        match self {
            Rows::Versions => tables::VERSIONS,
            Rows::Objects => tables::OBJECTS,
            Rows::Uploads => tables::UPLOADS,
            Rows::AccessKeys => tables::ACCESS_KEYS,
        }
    }

    /// The row's value sealed again, if it needs it.
    fn reseal(self, key: &[u8], value: &[u8], r: &Resealer) -> ModelResult<Option<Vec<u8>>> {
        match self {
            Rows::Versions | Rows::Objects => {
                let mut rec: ObjectRecord = decode(value)?;
                Ok(reseal_data_key(&mut rec.encryption, r)?.then(|| encode(&rec)))
            }
            Rows::Uploads => {
                let mut rec: UploadRecord = decode(value)?;
                Ok(reseal_data_key(&mut rec.encryption, r)?.then(|| encode(&rec)))
            }
            Rows::AccessKeys => {
                crate::users::reseal_secret(key, value, &mut |sealed, context| r.reseal(sealed, context))
            }
        }
    }

    fn count(self, n: u64) -> Resealed {
        match self {
            Rows::Versions => Resealed {
                versions: n,
                ..Default::default()
            },
            // The current version's copy: its version was counted in `versions`.
            Rows::Objects => Resealed::default(),
            Rows::Uploads => Resealed {
                uploads: n,
                ..Default::default()
            },
            Rows::AccessKeys => Resealed {
                access_keys: n,
                ..Default::default()
            },
        }
    }
}

/// One transaction of a pass: up to [`BATCH`] rows after `after`, those that need it
/// sealed again. Returns how many were, and the last row looked at (`None`: the end).
fn reseal_batch(
    txn: &mut dyn WriteTxn,
    rows: Rows,
    after: Option<&[u8]>,
    r: &Resealer,
) -> ModelResult<(u64, Option<Vec<u8>>)> {
    let start = match after {
        Some(k) => Bound::Excluded(k),
        None => Bound::Unbounded,
    };
    let mut seen = Vec::new();
    txn.scan(rows.table(), start, Bound::Unbounded, &mut |k, v| {
        seen.push((k.to_vec(), v.to_vec()));
        seen.len() < BATCH
    })?;
    let mut changed = 0;
    for (k, v) in &seen {
        if let Some(new) = rows.reseal(k, v, r)? {
            txn.put(rows.table(), k, &new)?;
            changed += 1;
        }
    }
    let last = if seen.len() < BATCH {
        None
    } else {
        seen.pop().map(|(k, _)| k)
    };
    Ok((changed, last))
}

impl Ferrite {
    /// Rotates the master key (`admin:RotateMasterKey`): the provider seals under a new version
    /// from now on, everything sealed by older versions is sealed again, and the older
    /// versions are forgotten in the background once writes in flight under them are
    /// done. Object data is not rewritten.
    pub async fn rotate_master_key(&self, caller: &Caller) -> ModelResult<Rotation> {
        crate::identity::require_iam(caller, "admin:RotateMasterKey", "*")?;
        let provider = self.inner.keys.provider()?.clone();
        let Ok(guard) = self.inner.rotation.clone().try_lock_owned() else {
            return Err(ModelError::InvalidRequest(
                "a master key rotation is already under way; try again when it is done".into(),
            ));
        };
        let p = provider.clone();
        let new = blocking(move || p.rotate()).await?;
        tracing::info!(kek = ?new, "master key rotated: sealing again what older versions sealed");
        let resealed = self.reseal_all(provider.clone()).await?;
        let retiring = provider
            .held()
            .into_iter()
            .filter(|k| *k != new)
            .filter_map(|k| version_of(&k))
            .collect();
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.retire_old_versions(provider).await {
                tracing::error!(error = %e, "retiring older master key versions failed; the next start tries again");
            }
            drop(guard);
        });
        Ok(Rotation {
            version: version_of(&new).unwrap_or_default(),
            resealed,
            retiring,
        })
    }

    /// The master key's versions (`admin:GetMasterKeyStatus`).
    pub fn master_key_status(&self, caller: &Caller) -> ModelResult<MasterKeyStatus> {
        crate::identity::require_iam(caller, "admin:GetMasterKeyStatus", "*")?;
        let provider = self.inner.keys.provider()?;
        Ok(MasterKeyStatus {
            current: version_of(&provider.current()).unwrap_or_default(),
            versions: provider.held().iter().filter_map(version_of).collect(),
        })
    }

    /// At start: a provider holding older versions (a rotation that a stop cut
    /// short) finishes the rotation in the background.
    pub(crate) fn finish_rotation(&self) {
        let Ok(provider) = self.inner.keys.provider().cloned() else {
            return;
        };
        if provider.held().len() < 2 {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let guard = this.inner.rotation.clone().lock_owned().await;
            tracing::info!("finishing a master key rotation left unfinished");
            let result = async {
                this.reseal_all(provider.clone()).await?;
                this.retire_old_versions(provider).await
            }
            .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "finishing the master key rotation failed; the next start tries again");
            }
            drop(guard);
        });
    }

    /// Waits for writes in flight under older versions, seals again what they left,
    /// and has the provider forget the older versions.
    async fn retire_old_versions(&self, provider: Arc<dyn KeyProvider>) -> ModelResult<()> {
        let current = provider.current();
        while self.inner.seal_pins.any_besides(&current) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.reseal_all(provider.clone()).await?;
        let old: Vec<Kek> = provider.held().into_iter().filter(|k| *k != current).collect();
        if old.is_empty() {
            return Ok(());
        }
        blocking({
            let (provider, old) = (provider.clone(), old.clone());
            move || provider.retire(&old)
        })
        .await?;
        tracing::info!(retired = ?old, "older master key versions retired: nothing is sealed by them any more");
        Ok(())
    }

    /// One pass over everything sealed by the master key: what an older version
    /// sealed is sealed again under the current one.
    async fn reseal_all(&self, provider: Arc<dyn KeyProvider>) -> ModelResult<Resealed> {
        let r = Resealer {
            current: provider.current(),
            provider,
        };
        let mut total = Resealed::default();
        for rows in [Rows::Versions, Rows::Objects, Rows::Uploads, Rows::AccessKeys] {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let (r, from) = (r.clone(), after.clone());
                let (n, last) = self
                    .inner
                    .committer
                    .write(move |txn| reseal_batch(txn, rows, from.as_deref(), &r))
                    .await?;
                total.add(rows.count(n));
                match last {
                    Some(k) => after = Some(k),
                    None => break,
                }
            }
        }
        // The KMS's keys: few (the KMS caps them), so one transaction.
        let kms = r.clone();
        total.kms_keys = self
            .inner
            .committer
            .write(move |txn| crate::kms::reseal_kms_keys(txn, &mut |sealed, context| kms.reseal(sealed, context)))
            .await? as u64;
        let check = r.clone();
        total.key_check = self
            .inner
            .committer
            .write(move |txn| {
                let Some(bytes) = txn.get(tables::SYSTEM, crate::keys::KEY_CHECK)? else {
                    return Ok(0);
                };
                let sealed: SealedKey = postcard::from_bytes(&bytes)
                    .map_err(|e| ModelError::Corrupt(format!("unreadable key check value: {e}")))?;
                let Some(new) = check.reseal(&sealed, crate::sse::CHECK_CONTEXT)? else {
                    return Ok(0);
                };
                let value = postcard::to_stdvec(&new).map_err(|e| ModelError::Internal(format!("key check: {e}")))?;
                txn.put(tables::SYSTEM, crate::keys::KEY_CHECK, &value)?;
                Ok(1)
            })
            .await?;
        Ok(total)
    }
}

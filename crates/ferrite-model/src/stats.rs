//! Per-bucket usage counters: how many objects, versions and delete markers a bucket
//! holds and how many bytes they take. Every change to the version index adjusts the
//! bucket's counters in the same transaction, so they are always exact and reading
//! them costs one lookup per bucket, never a scan.

use std::ops::Bound;

use ferrite_store::{ReadTxn, WriteTxn};

use crate::keys::split_version_key;
use crate::records::{ObjectRecord, decode};
use crate::{ModelError, ModelResult, tables};

/// A bucket's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketUsage {
    /// Keys whose current version is an object (what ListObjects counts).
    pub objects: u64,
    /// Bytes of those current versions.
    pub object_bytes: u64,
    /// Stored versions that are objects, current and noncurrent.
    pub versions: u64,
    /// Bytes of all stored versions: what the bucket's data takes.
    pub version_bytes: u64,
    /// Stored delete markers.
    pub delete_markers: u64,
}

const ENCODED_LEN: usize = 40;

impl BucketUsage {
    fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        let fields = [
            self.objects,
            self.object_bytes,
            self.versions,
            self.version_bytes,
            self.delete_markers,
        ];
        for (chunk, v) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> ModelResult<Self> {
        if bytes.len() != ENCODED_LEN {
            return Err(ModelError::Corrupt(format!("bucket stats of {} bytes", bytes.len())));
        }
        let f = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Ok(Self {
            objects: f(0),
            object_bytes: f(1),
            versions: f(2),
            version_bytes: f(3),
            delete_markers: f(4),
        })
    }
}

/// Changes to one bucket's usage, gathered while a write runs and applied once.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UsageDelta {
    objects: i64,
    object_bytes: i64,
    versions: i64,
    version_bytes: i64,
    delete_markers: i64,
}

impl UsageDelta {
    /// A version row was added (`sign` 1) or removed (`sign` -1).
    pub fn version_row(&mut self, rec: &ObjectRecord, sign: i64) {
        if rec.delete_marker {
            self.delete_markers += sign;
        } else {
            self.versions += sign;
            self.version_bytes += sign * rec.size as i64;
        }
    }

    /// The key's current object changed from `old` to `new` (delete markers count as none).
    pub fn current(&mut self, old: Option<&ObjectRecord>, new: Option<&ObjectRecord>) {
        for (rec, sign) in [(old, -1), (new, 1)] {
            if let Some(rec) = rec.filter(|r| !r.delete_marker) {
                self.objects += sign;
                self.object_bytes += sign * rec.size as i64;
            }
        }
    }

    fn is_zero(&self) -> bool {
        self.objects == 0
            && self.object_bytes == 0
            && self.versions == 0
            && self.version_bytes == 0
            && self.delete_markers == 0
    }

    /// Adds the delta to the bucket's stored counters.
    pub fn apply(&self, txn: &mut dyn WriteTxn, bucket_id: u64) -> ModelResult<()> {
        if self.is_zero() {
            return Ok(());
        }
        let key = bucket_id.to_be_bytes();
        let mut usage = read(txn, bucket_id)?;
        let add = |v: u64, d: i64| -> ModelResult<u64> {
            v.checked_add_signed(d)
                .ok_or_else(|| ModelError::Corrupt(format!("bucket {bucket_id} usage {v} cannot change by {d}")))
        };
        usage.objects = add(usage.objects, self.objects)?;
        usage.object_bytes = add(usage.object_bytes, self.object_bytes)?;
        usage.versions = add(usage.versions, self.versions)?;
        usage.version_bytes = add(usage.version_bytes, self.version_bytes)?;
        usage.delete_markers = add(usage.delete_markers, self.delete_markers)?;
        txn.put(tables::BUCKET_STATS, &key, &usage.encode())?;
        Ok(())
    }
}

pub(crate) fn read(txn: &dyn ReadTxn, bucket_id: u64) -> ModelResult<BucketUsage> {
    match txn.get(tables::BUCKET_STATS, &bucket_id.to_be_bytes())? {
        Some(bytes) => BucketUsage::decode(&bytes),
        None => Ok(BucketUsage::default()),
    }
}

/// Drops a (deleted, hence empty) bucket's counters.
pub(crate) fn forget(txn: &mut dyn WriteTxn, bucket_id: u64) -> ModelResult<()> {
    txn.delete(tables::BUCKET_STATS, &bucket_id.to_be_bytes())?;
    Ok(())
}

/// Counts every bucket's usage from the version index and stores it: used once, when
/// a data directory written before the counters existed is upgraded.
pub(crate) fn rebuild(txn: &mut dyn WriteTxn) -> ModelResult<u64> {
    let mut found: Vec<(u64, BucketUsage)> = Vec::new();
    let mut last_key: Option<(u64, String)> = None;
    let mut failed = None;
    txn.scan(tables::VERSIONS, Bound::Unbounded, Bound::Unbounded, &mut |k, v| {
        let parsed = k
            .get(..8)
            .map(|id| u64::from_be_bytes(id.try_into().expect("8 bytes")))
            .zip(split_version_key(k));
        let (Some((bucket_id, (key, _))), Ok(rec)) = (parsed, decode::<ObjectRecord>(v)) else {
            failed = Some(ModelError::Corrupt("unreadable version row".into()));
            return false;
        };
        if found.last().is_none_or(|(id, _)| *id != bucket_id) {
            found.push((bucket_id, BucketUsage::default()));
        }
        let usage = &mut found.last_mut().expect("pushed").1;
        // Rows of one key are newest first: the first row of a key is its current version.
        let first_of_key = last_key.as_ref().is_none_or(|(b, k)| *b != bucket_id || k != key);
        if first_of_key {
            last_key = Some((bucket_id, key.to_string()));
            if !rec.delete_marker {
                usage.objects += 1;
                usage.object_bytes += rec.size;
            }
        }
        if rec.delete_marker {
            usage.delete_markers += 1;
        } else {
            usage.versions += 1;
            usage.version_bytes += rec.size;
        }
        true
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    for (bucket_id, usage) in &found {
        txn.put(tables::BUCKET_STATS, &bucket_id.to_be_bytes(), &usage.encode())?;
    }
    Ok(found.len() as u64)
}

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

    /// Adds the delta to the bucket's stored counters: its main row, or, on a
    /// committer that has a shard (shared stores), that shard's row of signed sums.
    pub fn apply(&self, txn: &mut dyn WriteTxn, bucket_id: u64) -> ModelResult<()> {
        if self.is_zero() {
            return Ok(());
        }
        if let Some(shard) = SHARD.with(|s| s.get()) {
            let key = shard_key(bucket_id, shard);
            let mut sums = match txn.get(tables::BUCKET_STATS, &key)? {
                Some(b) => decode_signed(&b)?,
                None => [0; 5],
            };
            for (sum, d) in sums.iter_mut().zip(self.fields()) {
                *sum = sum
                    .checked_add(d)
                    .ok_or_else(|| ModelError::Corrupt(format!("bucket {bucket_id} usage shard overflows")))?;
            }
            let mut out = [0u8; ENCODED_LEN];
            for (chunk, v) in out.chunks_exact_mut(8).zip(sums) {
                chunk.copy_from_slice(&v.to_be_bytes());
            }
            txn.put(tables::BUCKET_STATS, &key, &out)?;
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

/// Shards of a bucket's counters on shared stores: each gateway's committer adds its
/// changes to one of them (chosen at random when it starts), as signed sums; the
/// usage is the main row plus every shard. Gateways that pick the same shard only
/// contend as one gateway would.
pub(crate) const SHARDS: u16 = 16;

thread_local! {
    /// The shard the committer on this thread writes to (`None`: the main row).
    static SHARD: std::cell::Cell<Option<u16>> = const { std::cell::Cell::new(None) };
}

/// Sets the shard of the calling thread's writes (the committer's thread).
pub(crate) fn set_shard(shard: Option<u16>) {
    SHARD.with(|s| s.set(shard));
}

fn shard_key(bucket_id: u64, shard: u16) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..8].copy_from_slice(&bucket_id.to_be_bytes());
    k[8..].copy_from_slice(&shard.to_be_bytes());
    k
}

fn decode_signed(bytes: &[u8]) -> ModelResult<[i64; 5]> {
    if bytes.len() != ENCODED_LEN {
        return Err(ModelError::Corrupt(format!(
            "a bucket stats shard of {} bytes",
            bytes.len()
        )));
    }
    let mut out = [0i64; 5];
    for (v, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        *v = i64::from_be_bytes(chunk.try_into().expect("8 bytes"));
    }
    Ok(out)
}

impl UsageDelta {
    fn fields(&self) -> [i64; 5] {
        [
            self.objects,
            self.object_bytes,
            self.versions,
            self.version_bytes,
            self.delete_markers,
        ]
    }
}

/// The bucket's usage: its main row plus its shards (one range read).
pub(crate) fn read(txn: &dyn ReadTxn, bucket_id: u64) -> ModelResult<BucketUsage> {
    let start = bucket_id.to_be_bytes();
    let end = shard_key(bucket_id, u16::MAX);
    let mut main = BucketUsage::default();
    let mut sums = [0i64; 5];
    let mut failed = None;
    txn.scan(
        tables::BUCKET_STATS,
        Bound::Included(&start[..]),
        Bound::Included(&end[..]),
        &mut |k, v| {
            let r = match k.len() {
                8 => BucketUsage::decode(v).map(|u| main = u),
                10 => decode_signed(v).map(|d| {
                    for (s, x) in sums.iter_mut().zip(d) {
                        *s = s.saturating_add(x);
                    }
                }),
                _ => Err(ModelError::Corrupt("a bucket stats key of a strange length".into())),
            };
            match r {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        },
    )?;
    if let Some(e) = failed {
        return Err(e);
    }
    let add = |v: u64, d: i64| v.saturating_add_signed(d);
    Ok(BucketUsage {
        objects: add(main.objects, sums[0]),
        object_bytes: add(main.object_bytes, sums[1]),
        versions: add(main.versions, sums[2]),
        version_bytes: add(main.version_bytes, sums[3]),
        delete_markers: add(main.delete_markers, sums[4]),
    })
}

/// Drops a (deleted, hence empty) bucket's counters, shards included.
pub(crate) fn forget(txn: &mut dyn WriteTxn, bucket_id: u64) -> ModelResult<()> {
    txn.delete(tables::BUCKET_STATS, &bucket_id.to_be_bytes())?;
    for shard in 0..SHARDS {
        txn.delete(tables::BUCKET_STATS, &shard_key(bucket_id, shard))?;
    }
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

#[cfg(test)]
mod shard_tests {
    use super::*;
    use ferrite_store::{MetaStore, RedbMetaStore};

    /// Gateways on shared stores add to shards of signed sums (one may remove what
    /// another added); the usage is the main row plus every shard, and a deleted
    /// bucket's counters go with all their shards.
    #[test]
    fn shards_add_up_with_the_main_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap();
        let add = |shard: Option<u16>, size: i64, sign: i64| {
            set_shard(shard);
            let d = UsageDelta {
                objects: sign,
                object_bytes: sign * size,
                versions: sign,
                version_bytes: sign * size,
                delete_markers: 0,
            };
            let mut txn = store.begin_write().unwrap();
            d.apply(&mut *txn, 7).unwrap();
            txn.commit().unwrap();
            set_shard(None);
        };
        add(None, 100, 1); // before sharing: the main row
        add(Some(3), 10, 1);
        add(Some(9), 1000, 1);
        add(Some(3), 1000, -1); // removed through another gateway than added it
        let u = read(&*store.begin_read().unwrap(), 7).unwrap();
        assert_eq!(
            (u.objects, u.object_bytes, u.versions, u.version_bytes),
            (2, 110, 2, 110)
        );
        // Another bucket's rows are not counted.
        assert_eq!(read(&*store.begin_read().unwrap(), 8).unwrap(), BucketUsage::default());
        let mut txn = store.begin_write().unwrap();
        forget(&mut *txn, 7).unwrap();
        txn.commit().unwrap();
        let left = store
            .begin_read()
            .unwrap()
            .range(tables::BUCKET_STATS, Bound::Unbounded, Bound::Unbounded, 10)
            .unwrap();
        assert!(left.is_empty(), "{left:?}");
    }
}

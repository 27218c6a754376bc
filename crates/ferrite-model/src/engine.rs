//! The engine: the metadata store, the blob store, and the helpers every operation
//! shares (bucket lookup, data reference counting, running store work off the async
//! threads).

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrite_store::{BlobId, BlobStore, FsBlobStore, MetaStore, ReadTxn, RedbMetaStore, WriteTxn};
use tokio::sync::Notify;

use crate::keys::FORMAT_KEY;
use crate::records::{BucketRecord, DataRef, FORMAT_VERSION, ObjectRecord, decode};
use crate::{ModelError, ModelResult, tables};

#[derive(Debug, Clone)]
pub struct Options {
    /// The region this server answers for.
    pub region: String,
    /// fsync data and metadata before acknowledging writes. Off only at the user's risk.
    pub durable: bool,
    /// How long a request body may send nothing before the upload is abandoned.
    pub body_idle_timeout: std::time::Duration,
    /// The metadata store's page cache, in bytes.
    pub meta_cache_bytes: usize,
}

impl Options {
    pub const DEFAULT_BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
    pub const DEFAULT_META_CACHE: usize = RedbMetaStore::DEFAULT_CACHE;
}

/// The object model over one metadata store and one blob store. Cheap to clone.
#[derive(Clone)]
pub struct Ferrite {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub opts: Options,
    pub gc_wake: Arc<Notify>,
    /// Keeps blobs that readers are streaming from the garbage collector.
    pub leases: Arc<crate::leases::ReadLeases>,
    /// Runs the hot write paths with group commit.
    pub committer: crate::commit::Committer,
    /// Hashes the MD5 of concurrent uploads side by side.
    pub md5: crate::hash_pool::Md5Pool,
}

/// Runs blocking store work on tokio's blocking pool.
pub(crate) async fn blocking<R, F>(f: F) -> ModelResult<R>
where
    F: FnOnce() -> ModelResult<R> + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ModelError::Internal(format!("blocking task failed: {e}")))?
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Microseconds since the epoch.
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A fresh 16-byte id: the time in microseconds (u64 BE), then 64 random bits.
/// Unique like a random id, but ids made close in time sort close together: upload
/// ids list in the order they were made, and the inline data (and reference count)
/// rows a commit adds land in the same few B-tree pages at the end of their tables
/// instead of one page each anywhere in them.
pub(crate) fn time_ordered_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&now_us().to_be_bytes());
    id[8..].copy_from_slice(&rand::random::<[u8; 8]>());
    id
}

impl Ferrite {
    /// Opens the embedded default stores under `data_dir`: `meta.redb` and the
    /// filesystem blob store. Clears unfinished writes left by a crash and starts the
    /// background garbage collector and orphan sweep. Must run inside a tokio runtime.
    pub async fn open_local(data_dir: &Path, opts: Options) -> ModelResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| ModelError::Store(e.into()))?;
        let meta = Arc::new(RedbMetaStore::open_with_cache(
            &data_dir.join("meta.redb"),
            opts.durable,
            opts.meta_cache_bytes,
        )?);
        let blobs = Arc::new(FsBlobStore::open(data_dir, opts.durable)?);
        Self::open(meta, blobs, opts).await
    }

    /// Opens the model over any store pair. See [`Ferrite::open_local`].
    pub async fn open(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, opts: Options) -> ModelResult<Self> {
        let gc_wake = Arc::new(Notify::new());
        let this = Self {
            inner: Arc::new(Inner {
                committer: crate::commit::Committer::start(meta.clone(), gc_wake.clone()),
                md5: crate::hash_pool::Md5Pool::start().map_err(|e| ModelError::Store(e.into()))?,
                meta,
                blobs,
                opts,
                leases: crate::leases::ReadLeases::new(gc_wake.clone()),
                gc_wake,
            }),
        };
        let inner = this.inner.clone();
        // Taken from the blob store's clock, which blob times come from: a blob that a
        // write lands after this shows this time or later, so the orphan sweep can
        // never take it (`SystemTime::now()` can be a tick ahead of file times).
        this.inner.committer.write(upgrade_format).await?;
        let (cleared, started) = blocking(move || {
            let cleared = inner.blobs.clear_temp()?;
            Ok((cleared, inner.blobs.now()?))
        })
        .await?;
        if cleared > 0 {
            tracing::info!(count = cleared, "removed unfinished writes left by an earlier run");
        }
        this.spawn_background(started);
        Ok(this)
    }

    pub fn options(&self) -> &Options {
        &self.inner.opts
    }
}

/// Checks the data dir's on-disk format, and upgrades an older one (a new store gets
/// the current format). A job of its own: the upgrade is one transaction.
fn upgrade_format(w: &mut dyn WriteTxn) -> ModelResult<()> {
    let found = w.get(tables::SYSTEM, FORMAT_KEY)?;
    let found = match found {
        None => None,
        Some(v) => Some(u32::from_be_bytes(v.as_slice().try_into().map_err(|_| {
            ModelError::Corrupt(format!("unreadable on-disk format marker {v:?}"))
        })?)),
    };
    match found {
        Some(FORMAT_VERSION) => Ok(()),
        // A new store, or an older format: upgrade in one transaction.
        None | Some(1) | Some(2) => {
            if found == Some(1) {
                let migrated = crate::versions::migrate_from_v1(&mut *w)?;
                tracing::info!(objects = migrated, "built the version index");
            }
            if found.is_some() {
                let buckets = crate::stats::rebuild(&mut *w)?;
                tracing::info!(buckets, "counted bucket usage");
            }
            w.put(tables::SYSTEM, FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
            if found.is_some() {
                tracing::info!("upgraded the data directory to format {FORMAT_VERSION}");
            }
            Ok(())
        }
        Some(v) => Err(ModelError::Corrupt(format!(
            "data directory has on-disk format {v}; this build reads formats 1 to {FORMAT_VERSION}"
        ))),
    }
}

pub(crate) fn get_bucket(txn: &dyn ReadTxn, name: &str) -> ModelResult<BucketRecord> {
    match txn.get(tables::BUCKETS, name.as_bytes())? {
        Some(bytes) => decode(&bytes),
        None => Err(ModelError::NoSuchBucket),
    }
}

pub(crate) fn get_object(txn: &dyn ReadTxn, okey: &[u8]) -> ModelResult<Option<ObjectRecord>> {
    txn.get(tables::OBJECTS, okey)?.map(|b| decode(&b)).transpose()
}

fn refcount(txn: &dyn ReadTxn, id: &[u8; 16]) -> ModelResult<u64> {
    match txn.get(tables::BLOBS, id)? {
        Some(b) => {
            let arr: [u8; 8] = b
                .as_slice()
                .try_into()
                .map_err(|_| ModelError::Corrupt("bad refcount".into()))?;
            Ok(u64::from_be_bytes(arr))
        }
        None => Ok(0),
    }
}

/// Takes one reference on each data id of `data`.
pub(crate) fn add_refs(txn: &mut dyn WriteTxn, data: &DataRef) -> ModelResult<()> {
    for id in data.ids() {
        let n = refcount(txn, &id)?;
        txn.put(tables::BLOBS, &id, &(n + 1).to_be_bytes())?;
    }
    Ok(())
}

/// Drops one reference on each data id of `data`. Inline data without references is
/// removed in this transaction; blobs are queued for the garbage collector (the
/// committer wakes it after the commit).
pub(crate) fn drop_refs(txn: &mut dyn WriteTxn, data: &DataRef) -> ModelResult<()> {
    for id in data.ids() {
        let n = refcount(txn, &id)?;
        if n > 1 {
            txn.put(tables::BLOBS, &id, &(n - 1).to_be_bytes())?;
            continue;
        }
        txn.delete(tables::BLOBS, &id)?;
        if matches!(data, DataRef::Inline(_)) {
            txn.delete(tables::INLINE, &id)?;
        } else {
            txn.put(tables::GARBAGE, &id, &[])?;
        }
    }
    Ok(())
}

pub(crate) fn blob_id(id: &[u8; 16]) -> BlobId {
    BlobId(*id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_ids_are_unique_and_sort_by_time() {
        let mut ids: Vec<[u8; 16]> = (0..10_000).map(|_| time_ordered_id()).collect();
        let first = ids[0];
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = time_ordered_id();
        assert!(later > first, "an id made later sorts after");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10_000, "ids made in the same microsecond still differ");
    }
}

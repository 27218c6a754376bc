//! The engine: the metadata store, the blob store, the committer and the hashing
//! pool behind one handle, opening them, and running store work off the async threads.

use std::path::Path;
use std::sync::Arc;

use ferrite_store::{BlobStore, FsBlobStore, MetaStore, RedbMetaStore};
use tokio::sync::Notify;

use crate::{ModelError, ModelResult};

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
    /// The root principal's canonical id (a grantee ACLs may name).
    pub root_canonical_id: String,
    /// Seals the data keys of encrypted objects; `None`: encryption is unavailable
    /// (requests for it, and reads of encrypted objects, fail with KeyUnavailable).
    pub keys: Option<Arc<dyn crate::sse::KeyProvider>>,
    /// How long a lifecycle "day" lasts ([`crate::DAY`] unless shortened for tests:
    /// `--lifecycle-day-secs`).
    pub lifecycle_day: std::time::Duration,
    /// How long a RestoreObject takes before the restored copy is readable
    /// (`--restore-delay-secs`; zero: at once).
    pub restore_delay: std::time::Duration,
    /// The tiers beside the data dir and the classes placed on them (`tiers.rs`).
    pub tiering: crate::Tiering,
    /// How long a console session lasts after its login (`--console-session-minutes`).
    pub console_session_ttl: std::time::Duration,
}

impl Options {
    pub const DEFAULT_BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
    /// Eight hours.
    pub const DEFAULT_CONSOLE_SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(8 * 3600);
    pub const DEFAULT_META_CACHE: usize = RedbMetaStore::DEFAULT_CACHE;
}

/// The object model over one metadata store and one blob store. Cheap to clone.
#[derive(Clone)]
pub struct Ferrite {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub meta: Arc<dyn MetaStore>,
    /// The blob stores: the data dir's and the operator's tiers.
    pub tiers: crate::tiers::Tiers,
    pub opts: Options,
    pub gc_wake: Arc<Notify>,
    /// Keeps blobs that readers are streaming from the garbage collector.
    pub leases: Arc<crate::leases::ReadLeases>,
    /// Runs the hot write paths with group commit.
    pub committer: crate::commit::Committer,
    /// Hashes the MD5 of concurrent uploads side by side.
    pub md5: ferrite_hash::Md5Pool,
    /// Access keys' last use since start (written to the store coarsely).
    pub key_usage: crate::users::KeyUsage,
    /// Resolved access keys (see `users::KeyCache`).
    pub key_cache: crate::users::KeyCache,
    /// Buckets' CORS configurations (see `cors::CorsCache`).
    pub cors_cache: crate::cors::CorsCache,
    /// The key provider, once it passed the start-up check (or why there is none).
    pub keys: crate::sse::Keys,
    /// Writes in flight that sealed a data key, by master key version (rotation.rs).
    pub seal_pins: crate::rotation::SealPins,
    /// Held by a master key rotation until it is done: one at a time.
    pub rotation: Arc<tokio::sync::Mutex<()>>,
    /// Reads of encrypted data that failed authentication (tampered or damaged).
    pub tampered_reads: std::sync::atomic::AtomicU64,
    /// KMS operations since start (`bucket_keys.rs`).
    pub kms_ops: crate::bucket_keys::KmsOps,
    /// S3 Bucket Keys in use and opened (`bucket_keys.rs`).
    pub bucket_keys: crate::bucket_keys::BucketKeyCache,
    /// What the lifecycle worker has done since start (`lifecycle.rs`).
    pub lifecycle: crate::lifecycle::LifecycleCounters,
    /// Buckets that may have a lifecycle configuration (`lifecycle.rs`).
    pub lifecycle_index: crate::lifecycle::LifecycleIndex,
    /// When the model was opened (server info's uptime).
    pub opened: std::time::Instant,
    /// Whether other gateways share the stores, data included
    /// (`Ferrite::open_paired`): background passes are then claimed, the collector
    /// and the orphan sweep spare recent blobs (another gateway may be reading or
    /// about to commit them), and usage counters go to shards.
    pub shared: bool,
    /// This process's id in background claims (`claims.rs`).
    pub gateway_id: [u8; 16],
    /// Garbage entries this gateway's collector has seen, and since when (shared
    /// stores only: see `gc.rs`).
    pub garbage_seen: std::sync::Mutex<std::collections::HashMap<[u8; 16], std::time::Instant>>,
}

/// The embedded metadata store's file in a data dir.
pub const EMBEDDED_META: &str = "meta.redb";

/// The metadata key that records which blob store a metadata store's objects are in.
const BLOB_STORE_ID_KEY: &[u8] = b"blob_store_id";
/// The id a pairing in progress gives the blob store (see [`bind_blob_store`]).
const BLOB_STORE_PENDING_KEY: &[u8] = b"blob_store_id.pending";

/// Pairs a blob store with a metadata store, once, and refuses any other pairing: a
/// metadata store's garbage collector and orphan sweep delete blobs it does not
/// reference, so a blob store opened with the wrong metadata store (another gateway's
/// database, an empty embedded store after a database was used, a database that
/// never saw these blobs) would lose data, and reads would miss it.
///
/// - Both have the same id: the pairing made before.
/// - The metadata store has an id and the blob store another or none, or the blob
///   store has one the metadata store does not know: refused, saying which.
/// - Neither has an id (a new store, or one from a release before this check): they
///   are paired, in three steps that any gateway may take, so that gateways starting
///   together on new stores, or one starting after another stopped midway, agree:
///   1. the id is agreed in the metadata store, as pending (a transaction: of gateways
///      racing, the first to commit sets it, the others take it);
///   2. the blob store claims it (`claim_pairing`: atomic, first claim wins; a
///      claim already made by another metadata store refuses the pairing);
///   3. the metadata store records it as its blob store's id.
///
///   The blob store is read before the metadata store: an id it holds that a gateway
///   of this metadata store claimed was agreed in the metadata store before, so a
///   read of it after that shows it.
pub(crate) fn bind_blob_store(blobs: &dyn BlobStore, meta: &dyn MetaStore) -> ModelResult<()> {
    const FILE: &str = ferrite_store::PAIRING_FILE;
    let in_blobs = blobs.pairing()?;
    let (in_meta, pending) = {
        let txn = meta.begin_read()?;
        let text = |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned();
        (
            txn.get(crate::tables::SYSTEM, BLOB_STORE_ID_KEY)?.map(text),
            txn.get(crate::tables::SYSTEM, BLOB_STORE_PENDING_KEY)?.map(text),
        )
    };
    let not_its_own = |d: &str| {
        ModelError::StoreMismatch(format!(
            "the blob store is blob store {d} ({FILE}), but the metadata store has no objects of it: \
             the data was used with another metadata store, whose objects its blobs are"
        ))
    };
    match (in_blobs, in_meta) {
        (Some(d), Some(m)) if d == m => return Ok(()),
        (Some(d), Some(m)) => {
            return Err(ModelError::StoreMismatch(format!(
                "the metadata store holds the objects of blob store {m}, but this blob store ({FILE}) is {d}: \
                 each metadata store opens only with its own data"
            )));
        }
        (None, Some(m)) => {
            return Err(ModelError::StoreMismatch(format!(
                "the metadata store holds the objects of blob store {m}, which is not in this blob store \
                 (no {FILE}): is this the data it was used with?"
            )));
        }
        (Some(d), None) if pending.as_deref() != Some(d.as_str()) => return Err(not_its_own(&d)),
        // Not paired yet, or being paired (now, or by a gateway that stopped midway).
        (_, None) => {}
    }
    let id = write_now(meta, |txn| {
        let agreed = match txn.get(crate::tables::SYSTEM, BLOB_STORE_ID_KEY)? {
            Some(m) => m,
            None => match txn.get(crate::tables::SYSTEM, BLOB_STORE_PENDING_KEY)? {
                Some(p) => p,
                None => {
                    let id = hex::encode(rand::random::<[u8; 16]>()).into_bytes();
                    txn.put(crate::tables::SYSTEM, BLOB_STORE_PENDING_KEY, &id)?;
                    id
                }
            },
        };
        Ok(String::from_utf8_lossy(&agreed).into_owned())
    })?;
    let held = blobs.claim_pairing(&id)?;
    if held != id {
        return Err(not_its_own(&held));
    }
    write_now(meta, |txn| match txn.get(crate::tables::SYSTEM, BLOB_STORE_ID_KEY)? {
        Some(m) if m == id.as_bytes() => Ok(()),
        Some(m) => Err(ModelError::StoreMismatch(format!(
            "the metadata store was just paired with blob store {}, not with this one ({id})",
            String::from_utf8_lossy(&m)
        ))),
        None => {
            txn.put(crate::tables::SYSTEM, BLOB_STORE_ID_KEY, id.as_bytes())?;
            txn.delete(crate::tables::SYSTEM, BLOB_STORE_PENDING_KEY)?;
            Ok(())
        }
    })
}

/// Runs `job` in a write transaction of its own and commits it, for the writes made
/// before the committer runs. A retryable conflict runs it again from the start after
/// a short random pause (gateways starting together on a networked store write the
/// same system rows, and a serializable store may abort any of them), as the
/// committer does: the job decides afresh from what it reads.
pub(crate) fn write_now<R>(
    meta: &dyn MetaStore,
    job: impl Fn(&mut dyn ferrite_store::WriteTxn) -> ModelResult<R>,
) -> ModelResult<R> {
    const MAX_ATTEMPTS: u64 = 16;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let run = || -> ModelResult<R> {
            let mut txn = meta.begin_write()?;
            let out = job(&mut *txn)?;
            txn.commit()?;
            Ok(out)
        };
        match run() {
            Err(e) if e.is_conflict() && attempt < MAX_ATTEMPTS => {
                let base = attempt.min(8);
                std::thread::sleep(std::time::Duration::from_millis(
                    base + rand::random::<u64>() % (base + 1),
                ));
            }
            done => return done,
        }
    }
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

impl Ferrite {
    /// Opens the embedded default stores under `data_dir`: `meta.redb` and the
    /// filesystem blob store. Clears unfinished writes left by a crash and starts the
    /// background garbage collector and orphan sweep. Must run inside a tokio runtime.
    pub async fn open_local(data_dir: &Path, opts: Options) -> ModelResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| ModelError::Store(e.into()))?;
        crate::tiers::check_dirs(data_dir, &opts.tiering)?;
        let meta = Arc::new(RedbMetaStore::open_with_cache(
            &data_dir.join(EMBEDDED_META),
            opts.durable,
            opts.meta_cache_bytes,
        )?);
        Self::open_dir(data_dir, meta, opts, false).await
    }

    /// Opens the model with `meta` as its metadata store (PostgreSQL, say) and the
    /// filesystem blob store under `data_dir`. Refuses a data dir that holds an
    /// embedded metadata store: its blobs belong to that store, and this one's orphan
    /// sweep would take them (`ferrite migrate` copies such a store). See
    /// [`bind_blob_store`] for the other half of that guard.
    pub async fn open_external(data_dir: &Path, meta: Arc<dyn MetaStore>, opts: Options) -> ModelResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| ModelError::Store(e.into()))?;
        if data_dir.join(EMBEDDED_META).exists() {
            return Err(ModelError::StoreMismatch(format!(
                "{} holds an embedded metadata store ({EMBEDDED_META}): its objects' data would be taken as orphans \
                 by another metadata store; use an empty data dir (ferrite migrate copies an embedded store)",
                data_dir.display()
            )));
        }
        crate::tiers::check_dirs(data_dir, &opts.tiering)?;
        Self::open_dir(data_dir, meta, opts, true).await
    }

    /// With `external`, another process may change the metadata store (the data dir's
    /// blobs stay this server's own): the cache epochs are watched.
    async fn open_dir(data_dir: &Path, meta: Arc<dyn MetaStore>, opts: Options, external: bool) -> ModelResult<Self> {
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(data_dir, opts.durable)?);
        let (b, m) = (blobs.clone(), meta.clone());
        blocking(move || bind_blob_store(&*b, &*m)).await?;
        Self::open_with(meta, blobs, opts, false, external).await
    }

    /// Opens the model over `meta` and `blobs` once [`bind_blob_store`] accepts them
    /// as a pair (a RADOS pool with a database, say); with `shared`, other gateways
    /// use both stores too (see `Inner::shared`; the cache epochs are watched).
    pub async fn open_paired(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        opts: Options,
        shared: bool,
    ) -> ModelResult<Self> {
        let (b, m) = (blobs.clone(), meta.clone());
        blocking(move || bind_blob_store(&*b, &*m)).await?;
        Self::open_with(meta, blobs, opts, shared, shared).await
    }

    /// Opens the model over any store pair. See [`Ferrite::open_local`].
    pub async fn open(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, opts: Options) -> ModelResult<Self> {
        Self::open_with(meta, blobs, opts, false, false).await
    }

    /// [`Ferrite::open`]; `shared` as in `Inner::shared`; with `watch`, other
    /// processes may change the metadata store and this one watches the cache epochs
    /// (`epochs.rs`).
    async fn open_with(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        opts: Options,
        shared: bool,
        watch: bool,
    ) -> ModelResult<Self> {
        {
            let m = meta.clone();
            blocking(move || crate::migrate::check_not_migrating(&*m)).await?;
        }
        // Read before any cache is filled: a change after this is seen by the watch.
        let epochs = match watch {
            true => {
                let m = meta.clone();
                Some(blocking(move || crate::epochs::read_all(&*m.begin_read()?)).await?)
            }
            false => None,
        };
        let gc_wake = Arc::new(Notify::new());
        let (meta_for_keys, opts_keys) = (meta.clone(), opts.keys.clone());
        let (meta_for_index, opts_day) = (meta.clone(), opts.lifecycle_day);
        let tiers = crate::tiers::Tiers::open(blobs, &opts.tiering, opts.durable)?;
        {
            use crate::records::{decode, encode};
            let stored = meta.begin_read()?.get(crate::tables::SYSTEM, crate::tiers::REGISTRY)?;
            let stored = stored.map(|v| decode(&v)).transpose()?;
            if crate::tiers::check_registry(stored, &opts.tiering, opts.durable)?.is_some() {
                // Written directly (the committer does not run yet), checked again in
                // the write: a gateway starting at the same time may have written it.
                write_now(&*meta, |txn| {
                    let stored = txn.get(crate::tables::SYSTEM, crate::tiers::REGISTRY)?;
                    let stored = stored.map(|v| decode(&v)).transpose()?;
                    if let Some(now) = crate::tiers::check_registry(stored, &opts.tiering, opts.durable)? {
                        txn.put(crate::tables::SYSTEM, crate::tiers::REGISTRY, &encode(&now))?;
                    }
                    Ok(())
                })?;
            }
        }
        let this = Self {
            inner: Arc::new(Inner {
                committer: crate::commit::Committer::start_with(
                    meta.clone(),
                    gc_wake.clone(),
                    shared.then(|| rand::random::<u16>() % crate::stats::SHARDS),
                ),
                md5: ferrite_hash::Md5Pool::start().map_err(|e| ModelError::Store(e.into()))?,
                meta,
                tiers,
                opts,
                leases: crate::leases::ReadLeases::new(gc_wake.clone()),
                key_usage: crate::users::KeyUsage::default(),
                key_cache: crate::users::KeyCache::default(),
                cors_cache: crate::cors::CorsCache::default(),
                keys: Self::check_keys(&meta_for_keys, opts_keys, shared).await?,
                seal_pins: Default::default(),
                rotation: Default::default(),
                tampered_reads: Default::default(),
                kms_ops: Default::default(),
                bucket_keys: Default::default(),
                lifecycle: Default::default(),
                lifecycle_index: crate::lifecycle::LifecycleIndex::load(&*meta_for_index, opts_day)?,
                opened: std::time::Instant::now(),
                shared,
                gateway_id: rand::random(),
                garbage_seen: Default::default(),
                gc_wake,
            }),
        };
        let inner = this.inner.clone();
        // Taken from the blob store's clock, which blob times come from: a blob that a
        // write lands after this shows this time or later, so the orphan sweep can
        // never take it (`SystemTime::now()` can be a tick ahead of file times).
        this.inner.committer.write(crate::upgrade::upgrade_format).await?;
        this.seal_stored_secrets().await?;
        this.finish_rotation();
        let (cleared, started) = blocking(move || {
            let mut cleared = 0;
            for (_, store) in inner.tiers.all() {
                cleared += store.clear_temp()?;
            }
            // The earliest of the tiers' clocks (each blob is judged by its own
            // store's times, and none can run ahead of the real time).
            let mut started = None;
            for (_, store) in inner.tiers.all() {
                let t = store.now()?;
                started = Some(started.map_or(t, |s: std::time::SystemTime| s.min(t)));
            }
            Ok((cleared, started.expect("the default tier")))
        })
        .await?;
        if cleared > 0 {
            tracing::info!(count = cleared, "removed unfinished writes left by an earlier run");
        }
        this.spawn_background(started);
        if let Some(epochs) = epochs {
            this.spawn_epoch_watch(epochs);
        }
        Ok(this)
    }

    /// Checks the key provider against the store's key check value (stored at the
    /// first start with a provider): a provider that does not open it (another master
    /// key) is not used, and every encrypted read or write says why, while everything
    /// else is served. With `shared` (gateways with data dirs of their own share the
    /// stores, each of which would otherwise generate a master key of its own), such a
    /// provider is an error instead: a gateway that cannot read what the others
    /// encrypt must not start.
    async fn check_keys(
        meta: &Arc<dyn MetaStore>,
        provider: Option<Arc<dyn crate::sse::KeyProvider>>,
        shared: bool,
    ) -> ModelResult<crate::sse::Keys> {
        use crate::sse::Keys;
        let Some(provider) = provider else {
            return Ok(Keys::Unavailable("the server has no key provider".into()));
        };
        let stored = meta.begin_read()?.get(crate::tables::SYSTEM, crate::keys::KEY_CHECK)?;
        let checked = match stored {
            Some(value) => crate::sse::check_provider(&*provider, Some(&value)).map(drop),
            // Written directly (the committer does not run yet), read again in the
            // write: a gateway starting at the same time may have stored its own.
            None => {
                let (meta, provider) = (meta.clone(), provider.clone());
                blocking(move || {
                    write_now(&*meta, |txn| {
                        let stored = txn.get(crate::tables::SYSTEM, crate::keys::KEY_CHECK)?;
                        if let Some(value) = crate::sse::check_provider(&*provider, stored.as_deref())? {
                            txn.put(crate::tables::SYSTEM, crate::keys::KEY_CHECK, &value)?;
                        }
                        Ok(())
                    })
                })
                .await
            }
        };
        match checked {
            Ok(()) => Ok(Keys::Ready(provider)),
            Err(ModelError::KeyUnavailable(why)) if shared => Err(ModelError::StoreMismatch(format!(
                "the master key does not open the metadata store's key check value ({why}): gateways that share \
                 a metadata store need the same master key (--kms-master-key-file or FERRITE_KMS_MASTER_KEY)"
            ))),
            Err(ModelError::KeyUnavailable(why)) => {
                tracing::error!(
                    reason = %why,
                    "the master key does not open this data dir's key check value: objects encrypted \
                     under the data dir's own master key can be neither read nor written until it is given"
                );
                Ok(Keys::Unavailable(format!("wrong master key: {why}")))
            }
            Err(e) => Err(e),
        }
    }

    pub fn options(&self) -> &Options {
        &self.inner.opts
    }
}

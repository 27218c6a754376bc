//! Read leases: a reader that has started receives the whole version it started with.
//!
//! A multipart object's segments are separate blobs. A GET opens the first one inside
//! its read transaction and the rest as the stream reaches them; meanwhile an
//! overwrite or delete may commit and queue those blobs as garbage. Without a lease
//! the collector would unlink them and the reader would stop half-way (a torn read).
//!
//! The rule: the collector never deletes a blob that a reader holds a lease on, and a
//! reader only relies on its lease if it could not have missed a deletion:
//! - a reader takes its lease while its read transaction is open, after reading the
//!   record (so it names exactly the blobs it will read);
//! - the collector, per blob, under the same lock: skips it if leased (it stays
//!   queued, and the lease's release wakes the collector), else marks it doomed;
//!   deletes it; then unmarks it and bumps the deletion epoch;
//! - a lease on a doomed blob is refused (the reader reads the record again), and a
//!   reader whose transaction began before a deletion finished (the epoch moved
//!   between the start of its transaction and its lease) checks that its blobs still
//!   exist before streaming.
//!
//! # Readers on other gateways (shared stores)
//!
//! Leases live in a gateway's memory; the collector of another gateway cannot see
//! them. On shared stores that collector waits [`crate::gc`]'s grace (15 minutes)
//! after first seeing a garbage entry, which only a long read can outlast; so each
//! gateway publishes the blobs its reads have held for longer than [`LONG_READ`]:
//! a row `lease/<gateway id>` in the system table, rewritten every
//! [`PUBLISH_PERIOD`] and valid for [`PUBLISHED_TTL`] (a gateway that died stops
//! renewing it, and its reads died with it). The collector skips every blob named by
//! a valid row. A read that began before its version was replaced has, by the time
//! the entry has waited out the grace, been long for ten minutes and published
//! every half minute since.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferrite_store::{ReadTxn, WriteTxn};
use tokio::sync::Notify;

use crate::{ModelError, ModelResult, tables};

/// Reads held this long are published for the other gateways' collectors.
#[cfg(not(test))]
pub(crate) const LONG_READ: Duration = Duration::from_secs(5 * 60);
/// (In unit tests every read is long.)
#[cfg(test)]
pub(crate) const LONG_READ: Duration = Duration::ZERO;
/// How often a gateway rewrites its published reads.
pub(crate) const PUBLISH_PERIOD: Duration = Duration::from_secs(30);
/// How long a published row counts without being rewritten.
pub(crate) const PUBLISHED_TTL: Duration = Duration::from_secs(120);
/// Blobs one row names at most (a read holds a few; this is 1.6 MB).
const MAX_PUBLISHED: usize = 100_000;
const PUBLISHED_PREFIX: &[u8] = b"lease/";

type Id = [u8; 16];

#[derive(Default)]
struct State {
    held: HashMap<Id, usize>,
    /// Since when each held blob has been held without a break.
    since: HashMap<Id, Instant>,
    /// Whether this gateway's row names blobs (so an empty set must be written once).
    published: bool,
    doomed: HashSet<Id>,
    epoch: u64,
    /// The collector skipped a leased blob; wake it when a lease ends.
    deferred: bool,
}

pub(crate) struct ReadLeases {
    state: Mutex<State>,
    gc_wake: Arc<Notify>,
}

/// What a taken lease needs from its reader.
pub(crate) enum LeaseCheck {
    /// No deletion can have touched the blobs: stream them.
    Ready,
    /// A deletion finished while the read was starting: check the blobs exist.
    VerifyExistence,
}

impl ReadLeases {
    pub fn new(gc_wake: Arc<Notify>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            gc_wake,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain counters behind: go on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The deletion epoch; read before a reader begins its transaction.
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Leases `ids` for a reader whose transaction began at `epoch`. `None`: one of
    /// them is being deleted (read the record again).
    pub fn take(self: &Arc<Self>, ids: Vec<Id>, epoch: u64) -> Option<(Lease, LeaseCheck)> {
        let mut s = self.lock();
        if ids.iter().any(|id| s.doomed.contains(id)) {
            return None;
        }
        let now = Instant::now();
        for id in &ids {
            *s.held.entry(*id).or_insert(0) += 1;
            s.since.entry(*id).or_insert(now);
        }
        let check = if s.epoch == epoch {
            LeaseCheck::Ready
        } else {
            LeaseCheck::VerifyExistence
        };
        drop(s);
        Some((
            Lease {
                leases: self.clone(),
                ids,
            },
            check,
        ))
    }

    /// For the collector: whether `id` may be deleted now. If so it is doomed until
    /// [`ReadLeases::deleted`] is called.
    pub fn doom(&self, id: &Id) -> bool {
        let mut s = self.lock();
        if s.held.contains_key(id) {
            s.deferred = true;
            return false;
        }
        s.doomed.insert(*id);
        true
    }

    /// For the collector: `id` is gone (or its deletion failed).
    pub fn deleted(&self, id: &Id) {
        let mut s = self.lock();
        s.doomed.remove(id);
        s.epoch += 1;
    }

    fn release(&self, ids: &[Id]) {
        let mut s = self.lock();
        for id in ids {
            if let Some(n) = s.held.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    s.held.remove(id);
                    s.since.remove(id);
                }
            }
        }
        let wake = s.deferred && s.held.is_empty();
        if wake {
            s.deferred = false;
        }
        drop(s);
        if wake {
            self.gc_wake.notify_one();
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.lock().held.len()
    }

    /// The blobs to publish now ([`LONG_READ`]), or `None` when neither they nor the
    /// last published set name any (nothing to write).
    fn to_publish(&self) -> Option<Vec<Id>> {
        let mut s = self.lock();
        let mut ids: Vec<Id> = s
            .since
            .iter()
            .filter(|(_, t)| t.elapsed() >= LONG_READ)
            .map(|(id, _)| *id)
            .collect();
        ids.truncate(MAX_PUBLISHED);
        if ids.is_empty() && !s.published {
            return None;
        }
        s.published = !ids.is_empty();
        Some(ids)
    }
}

/// Writes gateway `me`'s published reads (none: its row goes).
fn publish(txn: &mut dyn WriteTxn, me: &[u8; 16], now_ms: i64, ids: &[Id]) -> ModelResult<()> {
    let key = [PUBLISHED_PREFIX, me.as_slice()].concat();
    if ids.is_empty() {
        txn.delete(tables::SYSTEM, &key)?;
        return Ok(());
    }
    let mut v = Vec::with_capacity(8 + 16 * ids.len());
    v.extend_from_slice(&(now_ms + PUBLISHED_TTL.as_millis() as i64).to_be_bytes());
    for id in ids {
        v.extend_from_slice(id);
    }
    txn.put(tables::SYSTEM, &key, &v)?;
    Ok(())
}

/// Every blob a gateway's valid row names at `now_ms`.
pub(crate) fn published(txn: &dyn ReadTxn, now_ms: i64) -> ModelResult<HashSet<Id>> {
    let mut out = HashSet::new();
    let mut bad = false;
    txn.scan(
        tables::SYSTEM,
        Bound::Included(PUBLISHED_PREFIX),
        Bound::Unbounded,
        &mut |k, v| {
            if !k.starts_with(PUBLISHED_PREFIX) {
                return false;
            }
            if v.len() < 8 || (v.len() - 8) % 16 != 0 {
                bad = true;
                return false;
            }
            let until = i64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
            if until > now_ms {
                out.extend(v[8..].chunks_exact(16).map(|c| <Id>::try_from(c).expect("16 bytes")));
            }
            true
        },
    )?;
    if bad {
        return Err(ModelError::Corrupt("a published read lease has a bad length".into()));
    }
    Ok(out)
}

impl crate::Ferrite {
    /// Publishes this gateway's long reads for the other gateways' collectors (shared
    /// stores only; see the module docs).
    pub(crate) async fn publish_long_reads(&self) -> ModelResult<()> {
        if !self.inner.shared {
            return Ok(());
        }
        let Some(ids) = self.inner.leases.to_publish() else {
            return Ok(());
        };
        let me = self.inner.gateway_id;
        self.inner
            .committer
            .write(move |txn| publish(txn, &me, crate::clock::now_ms(), &ids))
            .await
    }
}

/// Keeps a reader's blobs from being collected until dropped.
pub(crate) struct Lease {
    leases: Arc<ReadLeases>,
    ids: Vec<Id>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.leases.release(&self.ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leased_blobs_are_not_doomed_and_doomed_blobs_are_not_leased() {
        let l = ReadLeases::new(Arc::new(Notify::new()));
        let (a, b) = ([1u8; 16], [2u8; 16]);
        let e = l.epoch();
        let (lease, check) = l.take(vec![a], e).unwrap();
        assert!(matches!(check, LeaseCheck::Ready));
        assert!(!l.doom(&a), "a leased blob must not be deleted");
        assert!(l.doom(&b));
        assert!(l.take(vec![b], l.epoch()).is_none(), "a doomed blob cannot be leased");
        l.deleted(&b);
        // A reader that started before that deletion finished must check existence.
        let (_l2, check) = l.take(vec![b], e).unwrap();
        assert!(matches!(check, LeaseCheck::VerifyExistence));
        drop(lease);
        assert!(l.doom(&a));
        l.deleted(&a);
        drop(_l2);
        assert_eq!(l.held(), 0);
    }

    /// Two gateways on one store pair: a read on B keeps the blob it streams from A's
    /// collector once B has published it, and the blob goes once the read is over and
    /// B has said so. Without the publication (the negative control) A's collector
    /// deletes the blob B is reading.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_published_read_keeps_its_blob_from_another_gateways_collector() {
        use crate::{Caller, Ferrite, Options, PutAttrs, ReadConditions};
        use bytes::Bytes;
        use ferrite_store::{BlobStore, FsBlobStore, MetaStore, RedbMetaStore};
        use futures::TryStreamExt;

        let dir = tempfile::tempdir().unwrap();
        let meta: Arc<dyn MetaStore> = Arc::new(RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap());
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(&dir.path().join("blobs"), false).unwrap());
        let opts = || Options {
            region: "us-east-1".into(),
            durable: false,
            body_idle_timeout: Options::DEFAULT_BODY_IDLE_TIMEOUT,
            meta_cache_bytes: Options::DEFAULT_META_CACHE,
            root_canonical_id: "0".repeat(64),
            lifecycle_day: crate::DAY,
            restore_delay: Duration::ZERO,
            tiering: Default::default(),
            console_session_ttl: Options::DEFAULT_CONSOLE_SESSION_TTL,
            keys: None,
        };
        let a = Ferrite::open_paired(meta.clone(), blobs.clone(), opts(), true)
            .await
            .unwrap();
        let b = Ferrite::open_paired(meta.clone(), blobs.clone(), opts(), true)
            .await
            .unwrap();
        let root = Caller::root("0".repeat(64), "root");
        a.create_bucket(&root, "bkt", Default::default()).await.unwrap();
        let put = async |key: &str, fill: u8| {
            let data = vec![fill; 1 << 20];
            let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(data))]);
            let staged = a.stage(body, None, crate::MAX_PUT_SIZE).await.unwrap();
            a.put_staged(&root, "bkt", key, staged, PutAttrs::default())
                .await
                .unwrap();
        };
        let count = || {
            let mut n = 0;
            blobs.for_each(&mut |_, _| n += 1).unwrap();
            n
        };
        let read_all = async |body: crate::ObjectBody| -> std::io::Result<Vec<u8>> {
            let chunks: Vec<Bytes> = body.into_stream().try_collect().await?;
            Ok(chunks.concat())
        };

        // Published: kept while read, collected after.
        put("k", 1).await;
        let (_, body) = b
            .get_object(&root, "bkt", "k", None, None, &ReadConditions::default())
            .await
            .unwrap();
        b.publish_long_reads().await.unwrap();
        put("k", 2).await;
        a.collect_garbage().await.unwrap();
        assert_eq!(count(), 2, "the blob B streams is kept");
        assert_eq!(read_all(body).await.unwrap(), vec![1u8; 1 << 20]);
        b.publish_long_reads().await.unwrap();
        a.collect_garbage().await.unwrap();
        assert_eq!(count(), 1, "once B's read is over and published, the blob goes");

        // Not published: A's collector cannot know, and takes the blob from under the
        // read (which an open file survives here; a read from RADOS would fail).
        let (_, body) = b
            .get_object(&root, "bkt", "k", None, None, &ReadConditions::default())
            .await
            .unwrap();
        put("k", 3).await;
        a.collect_garbage().await.unwrap();
        assert_eq!(count(), 1, "the collector took the blob B was about to stream");
        drop(body);
    }
}

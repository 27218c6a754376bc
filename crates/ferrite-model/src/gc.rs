//! Reclaiming space: deleting blobs no object references any more, and sweeping
//! orphans (blobs made durable by a write that crashed before its metadata commit).

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferrite_store::BlobId;

use crate::engine::blocking;
use crate::{Ferrite, ModelResult, tables};

const GC_BATCH: usize = 1000;
const GC_PERIOD: Duration = Duration::from_secs(30);
/// How long a garbage entry waits before its blob is deleted on shared stores: a GET
/// on another gateway that started before the overwrite or delete may still be
/// streaming it, and this gateway's read leases do not see other gateways' readers.
/// Reads still going after it are published by their gateways (`leases.rs`), and
/// their blobs kept.
#[cfg(not(test))]
const SHARED_GARBAGE_GRACE: Duration = Duration::from_secs(15 * 60);
/// (No wait in unit tests: they check the published leases.)
#[cfg(test)]
const SHARED_GARBAGE_GRACE: Duration = Duration::ZERO;

/// Whether garbage entry `id` has waited [`SHARED_GARBAGE_GRACE`] since this
/// gateway's collector first saw it (noting it as seen in this pass).
fn garbage_aged(inner: &crate::engine::Inner, id: &[u8; 16], seen_now: &mut HashSet<[u8; 16]>) -> bool {
    seen_now.insert(*id);
    let mut map = inner.garbage_seen.lock().unwrap_or_else(|p| p.into_inner());
    let first = *map.entry(*id).or_insert_with(std::time::Instant::now);
    first.elapsed() >= SHARED_GARBAGE_GRACE
}

/// How old an unreferenced blob must be before the orphan sweep of a gateway that
/// shares its stores takes it: far longer than any write spends between landing its
/// blob and committing it, and than any clock skew between gateways.
const SHARED_ORPHAN_GRACE: Duration = Duration::from_secs(3600);

impl Ferrite {
    pub(crate) fn spawn_background(&self, started: SystemTime) {
        let weak = Arc::downgrade(&self.inner);
        let wake = self.inner.gc_wake.clone();
        tokio::spawn(async move {
            if let Some(inner) = weak.upgrade() {
                // With other gateways on the same stores, a blob made before this
                // start may be another gateway's, about to be committed: only blobs
                // older than the grace period are taken.
                let older_than = match inner.shared {
                    true => started
                        .checked_sub(SHARED_ORPHAN_GRACE)
                        .unwrap_or(std::time::UNIX_EPOCH),
                    false => started,
                };
                let this = Ferrite { inner };
                match this.sweep_orphans(older_than).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(count = n, "removed orphaned blobs left by an earlier run"),
                    Err(e) => tracing::error!(error = %e, "orphan sweep failed"),
                }
            }
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let this = Ferrite { inner };
                match this.claim(crate::claims::Pass::Collect).await {
                    Ok(true) => {
                        if let Err(e) = this.collect_garbage().await {
                            tracing::error!(error = %e, "garbage collection failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot claim garbage collection"),
                }
                drop(this);
                let _ = tokio::time::timeout(GC_PERIOD, wake.notified()).await;
            }
        });
        // On shared stores: this gateway's long reads, published for the other
        // gateways' collectors (`leases.rs`).
        if self.inner.shared {
            let weak = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(crate::leases::PUBLISH_PERIOD).await;
                    let Some(inner) = weak.upgrade() else { return };
                    if let Err(e) = (Ferrite { inner }).publish_long_reads().await {
                        tracing::warn!(error = %e, "cannot publish this gateway's long reads");
                    }
                }
            });
        }
        // The lifecycle worker: a pass now (finishing one a restart interrupted),
        // then one every period. A new configuration waits for the next pass, as on
        // AWS (where rules act asynchronously, within a day).
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let this = Ferrite { inner };
                let period = this.lifecycle_period();
                match this.claim(crate::claims::Pass::Lifecycle).await {
                    Ok(true) => {
                        if let Err(e) = this.run_lifecycle().await {
                            tracing::error!(error = %e, "lifecycle pass failed");
                        }
                        if let Err(e) = this.collect_restores().await {
                            tracing::error!(error = %e, "collecting expired restored copies failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot claim the lifecycle pass"),
                }
                drop(this);
                tokio::time::sleep(period).await;
            }
        });
    }

    /// Deletes every blob queued as garbage that no reader holds a lease on (those
    /// stay queued for a later pass); returns how many were deleted.
    pub async fn collect_garbage(&self) -> ModelResult<usize> {
        let mut total = 0;
        let mut after: Option<Vec<u8>> = None;
        // The garbage entries this pass saw (shared stores): what the pass did not see
        // is forgotten at its end.
        let mut seen = std::collections::HashSet::new();
        loop {
            let inner = self.inner.clone();
            let from = after.take();
            let (gone, scanned, last, seen_back) = blocking(move || {
                let start = match &from {
                    Some(k) => Bound::Excluded(k.as_slice()),
                    None => Bound::Unbounded,
                };
                let txn = inner.meta.begin_read()?;
                let ids = txn.range(tables::GARBAGE, start, Bound::Unbounded, GC_BATCH)?;
                // Blobs that long reads on any gateway hold (shared stores).
                let read_elsewhere = match inner.shared {
                    true => crate::leases::published(&*txn, crate::clock::now_ms())?,
                    false => HashSet::new(),
                };
                drop(txn);
                let mut gone = Vec::new();
                let mut seen_now = std::mem::take(&mut seen);
                for (id, tier) in &ids {
                    let blob = BlobId::from_slice(id)?;
                    // The tier the blob was in (entries from before tiers name none).
                    let tier = std::str::from_utf8(tier)
                        .map_err(|_| crate::ModelError::Corrupt("bad tier in garbage entry".into()))?;
                    let store = match inner.tiers.store(tier) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, blob = ?blob, "garbage kept until its tier is declared");
                            continue;
                        }
                    };
                    if inner.shared && !garbage_aged(&inner, &blob.0, &mut seen_now) {
                        continue; // a reader on another gateway may be streaming it
                    }
                    if read_elsewhere.contains(&blob.0) {
                        continue; // a long read on some gateway is streaming it
                    }
                    if !inner.leases.doom(&blob.0) {
                        continue; // a reader is streaming it
                    }
                    let deleted = store.delete(blob);
                    inner.leases.deleted(&blob.0);
                    deleted?;
                    gone.push(id.clone());
                }
                Ok((gone, ids.len(), ids.last().map(|(k, _)| k.clone()), seen_now))
            })
            .await?;
            seen = seen_back;
            total += gone.len();
            if !gone.is_empty() {
                // The blobs are gone; their queue entries go in a metadata write like
                // any other. (Should this fail, a later pass finds them again, and
                // deleting a blob that is already gone succeeds.)
                self.inner
                    .committer
                    .write(move |txn| {
                        for id in &gone {
                            txn.delete(tables::GARBAGE, id)?;
                        }
                        Ok(())
                    })
                    .await?;
            }
            if scanned < GC_BATCH {
                if self.inner.shared {
                    let mut map = self.inner.garbage_seen.lock().unwrap_or_else(|p| p.into_inner());
                    map.retain(|id, _| seen.contains(id));
                }
                return Ok(total);
            }
            after = last;
        }
    }

    /// Deletes blobs that no metadata references and that were made before
    /// `older_than` (so no write in flight can own them; take it from
    /// `BlobStore::now`, the clock blob times come from); returns how many.
    pub async fn sweep_orphans(&self, older_than: SystemTime) -> ModelResult<usize> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut total = 0;
            // Every tier: a move that crashed leaves its new copy in the target tier.
            for (_, store) in inner.tiers.all() {
                let mut candidates = Vec::new();
                store.for_each(&mut |id, made| {
                    if made < older_than {
                        candidates.push(id);
                    }
                })?;
                let mut orphans = HashSet::new();
                for chunk in candidates.chunks(GC_BATCH) {
                    let txn = inner.meta.begin_read()?;
                    for id in chunk {
                        if txn.get(tables::BLOBS, &id.0)?.is_none() {
                            orphans.insert(*id);
                        }
                    }
                }
                for id in &orphans {
                    store.delete(*id)?;
                }
                total += orphans.len();
            }
            Ok(total)
        })
        .await
    }
}

//! Cache epochs: how a gateway learns that another one changed something it caches.
//!
//! A gateway keeps a few things in memory so that hot paths do not read the store:
//! resolved access keys ([`crate::users`]), CORS configurations ([`crate::cors`]), and
//! which buckets have a lifecycle configuration ([`crate::lifecycle`]). In one
//! process, each change empties its cache when its commit is done. With the metadata
//! shared by several gateways (PostgreSQL), a change made through one must reach the
//! others' caches too: every change also adds one to its kind's epoch, in the same
//! transaction, and each gateway on a shared store reads the epochs every
//! [`WATCH_PERIOD`] (one small read) and empties the caches whose epoch moved. A
//! disabled key or a changed CORS configuration is thus refused or applied by every
//! gateway within about a quarter of a second of its commit.
//!
//! A lookup stores what it read only if its cache was not emptied since the lookup
//! began (the caches' own generation check), so an entry read before a change cannot
//! outlive the emptying that follows the change.

use std::time::Duration;

use ferrite_store::{ReadTxn, WriteTxn};

use crate::{ModelError, ModelResult, tables};

/// How often a gateway on a shared store reads the epochs.
pub(crate) const WATCH_PERIOD: Duration = Duration::from_millis(250);

/// What a gateway caches, each with an epoch of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cached {
    /// Users, access keys and what they resolve to.
    Keys,
    /// Buckets' CORS configurations.
    Cors,
    /// Which buckets have a lifecycle configuration.
    Lifecycle,
}

impl Cached {
    pub(crate) const ALL: [Cached; 3] = [Cached::Keys, Cached::Cors, Cached::Lifecycle];

    fn key(self) -> &'static [u8] {
        match self {
            Cached::Keys => b"keys",
            Cached::Cors => b"cors",
            Cached::Lifecycle => b"lifecycle",
        }
    }
}

/// Adds one to `what`'s epoch, in the transaction of the change.
pub(crate) fn bump(txn: &mut dyn WriteTxn, what: Cached) -> ModelResult<()> {
    let now = read(&*txn, what)?;
    txn.put(tables::CACHE_EPOCHS, what.key(), &(now.wrapping_add(1)).to_be_bytes())?;
    Ok(())
}

/// `what`'s epoch (0 before its first change).
pub(crate) fn read(txn: &dyn ReadTxn, what: Cached) -> ModelResult<u64> {
    match txn.get(tables::CACHE_EPOCHS, what.key())? {
        None => Ok(0),
        Some(v) => {
            Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(|_| {
                ModelError::Corrupt("a cache epoch is not 8 bytes".into())
            })?))
        }
    }
}

/// Every epoch, in [`Cached::ALL`]'s order.
pub(crate) fn read_all(txn: &dyn ReadTxn) -> ModelResult<[u64; 3]> {
    let mut out = [0; 3];
    for (slot, what) in out.iter_mut().zip(Cached::ALL) {
        *slot = read(txn, what)?;
    }
    Ok(out)
}

impl crate::Ferrite {
    /// Watches the epochs (gateways on a shared store): every [`WATCH_PERIOD`], reads
    /// them and empties the caches whose epoch moved since `seen` (read when the
    /// model opened, before any cache was filled). Ends with the model.
    pub(crate) fn spawn_epoch_watch(&self, mut seen: [u64; 3]) {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                tokio::time::sleep(WATCH_PERIOD).await;
                let Some(inner) = weak.upgrade() else { return };
                let read = crate::engine::blocking(move || {
                    let now = read_all(&*inner.meta.begin_read()?)?;
                    for (i, what) in Cached::ALL.into_iter().enumerate() {
                        if now[i] != seen[i] {
                            match what {
                                Cached::Keys => inner.key_cache.invalidate(),
                                Cached::Cors => inner.cors_cache.invalidate(),
                                Cached::Lifecycle => inner.lifecycle_index.reload(&*inner.meta)?,
                            }
                        }
                    }
                    Ok(now)
                })
                .await;
                match read {
                    Ok(now) => {
                        if failing {
                            tracing::info!("reading cache epochs again");
                        }
                        failing = false;
                        seen = now;
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "cannot read cache epochs; caches are kept until it can");
                        }
                        failing = true;
                    }
                }
            }
        });
    }
}

//! Fault injection for tests: wrappers of a [`MetaStore`] and a [`BlobStore`] that fail
//! chosen operations, the way a failing disk, a full disk or a failing fsync would.
//!
//! A [`Faults`] plan is shared by both wrappers and changed while a test runs:
//! - `fail_after(n, kind)`: the n-th counted operation from now fails, and every one
//!   after it until [`Faults::heal`] (a disk that went bad, or filled up, stays so);
//! - `commit_then_fail()`: the next metadata commit becomes durable, then reports an
//!   error (the case where the caller cannot know whether its write happened);
//! - `conflict_every(n)`: every n-th metadata commit is aborted with a retryable
//!   [`StoreError::Conflict`] instead, as a networked transactional backend does under
//!   contention;
//! - `conflict_at_write(n)`: the n-th counted metadata write (`put` or `delete`) from
//!   now fails, once, with a retryable conflict, as PostgreSQL fails a statement
//!   with a serialization failure.
//!
//! Counted operations: metadata `put`, `delete` and `commit`; blob `create`, `write`,
//! `write_all`, `finish` and `delete`. Reads are never failed.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::SystemTime;

use crate::{BlobId, BlobReader, BlobStore, BlobWriter, MetaStore, ReadTxn, StoreError, StoreResult, Table, WriteTxn};

/// What an injected failure looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// An I/O error (EIO).
    Io,
    /// No space left on the device (ENOSPC).
    DiskFull,
}

impl FaultKind {
    fn error(self) -> StoreError {
        match self {
            FaultKind::Io => StoreError::Io(std::io::Error::from_raw_os_error(5)),
            FaultKind::DiskFull => StoreError::Io(std::io::Error::from_raw_os_error(28)),
        }
    }
}

/// The failure plan both wrappers consult.
#[derive(Debug, Default)]
pub struct Faults {
    /// Counted operations left before failures start; 0 = no failure armed.
    countdown: AtomicU64,
    failing: AtomicBool,
    /// 0 = Io, 1 = DiskFull.
    kind: AtomicU8,
    commit_then_fail: AtomicBool,
    /// Every n-th commit conflicts; 0 = never.
    conflict_every: AtomicU64,
    commits: AtomicU64,
    /// Metadata writes left before one conflicts; 0 = none armed.
    write_conflict: AtomicU64,
    injected: AtomicU64,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The `n`-th counted operation from now (1 = the next) and all after it fail.
    pub fn fail_after(&self, n: u64, kind: FaultKind) {
        self.kind.store(kind as u8, Ordering::SeqCst);
        self.failing.store(false, Ordering::SeqCst);
        self.countdown.store(n.max(1), Ordering::SeqCst);
    }

    /// The next metadata commit is made durable and then reported as failed.
    pub fn commit_then_fail(&self) {
        self.commit_then_fail.store(true, Ordering::SeqCst);
    }

    /// Every `n`-th metadata commit from now is aborted with a retryable conflict
    /// (nothing of its transaction is written); 0 stops it.
    pub fn conflict_every(&self, n: u64) {
        self.commits.store(0, Ordering::SeqCst);
        self.conflict_every.store(n, Ordering::SeqCst);
    }

    /// The `n`-th metadata write (`put` or `delete`) from now (1 = the next) fails
    /// with a retryable conflict; the ones after it do not.
    pub fn conflict_at_write(&self, n: u64) {
        self.write_conflict.store(n.max(1), Ordering::SeqCst);
    }

    /// Stops failing (the disk was replaced, space was freed).
    pub fn heal(&self) {
        self.write_conflict.store(0, Ordering::SeqCst);
        self.conflict_every.store(0, Ordering::SeqCst);
        self.countdown.store(0, Ordering::SeqCst);
        self.failing.store(false, Ordering::SeqCst);
        self.commit_then_fail.store(false, Ordering::SeqCst);
    }

    /// How many failures were injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    fn kind(&self) -> FaultKind {
        match self.kind.load(Ordering::SeqCst) {
            1 => FaultKind::DiskFull,
            _ => FaultKind::Io,
        }
    }

    /// Counts one metadata write for [`Faults::conflict_at_write`]; `Err` if it is
    /// the one to conflict.
    fn write_tick(&self) -> StoreResult<()> {
        let armed = self
            .write_conflict
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n > 0).then(|| n - 1));
        if armed == Ok(1) {
            self.injected.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    /// Counts one operation; `Err` if it is to fail.
    fn tick(&self) -> StoreResult<()> {
        if !self.failing.load(Ordering::SeqCst) {
            let armed = self
                .countdown
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n > 0).then(|| n - 1));
            match armed {
                Ok(1) => self.failing.store(true, Ordering::SeqCst),
                _ => return Ok(()),
            }
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Err(self.kind().error())
    }
}

/// A metadata store that fails as its [`Faults`] plan says.
pub struct FaultyMeta {
    inner: Arc<dyn MetaStore>,
    faults: Arc<Faults>,
}

impl FaultyMeta {
    pub fn new(inner: Arc<dyn MetaStore>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

impl MetaStore for FaultyMeta {
    fn begin_read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        self.inner.begin_read()
    }

    fn begin_write(&self) -> StoreResult<Box<dyn WriteTxn + '_>> {
        Ok(Box::new(FaultyTxn {
            inner: self.inner.begin_write()?,
            faults: &self.faults,
        }))
    }
}

struct FaultyTxn<'a> {
    inner: Box<dyn WriteTxn + 'a>,
    faults: &'a Faults,
}

impl ReadTxn for FaultyTxn<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        self.inner.scan(table, start, end, visit)
    }
}

impl WriteTxn for FaultyTxn<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.faults.write_tick()?;
        self.faults.tick()?;
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool> {
        self.faults.write_tick()?;
        self.faults.tick()?;
        self.inner.delete(table, key)
    }

    fn commit(self: Box<Self>) -> StoreResult<()> {
        self.faults.tick()?;
        let every = self.faults.conflict_every.load(Ordering::SeqCst);
        if every > 0 && (self.faults.commits.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(every) {
            self.faults.injected.fetch_add(1, Ordering::SeqCst);
            // Dropping the inner transaction aborts it.
            return Err(StoreError::Conflict);
        }
        let after = self.faults.commit_then_fail.swap(false, Ordering::SeqCst);
        self.inner.commit()?;
        if after {
            self.faults.injected.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Engine(
                "injected: the commit is durable but reported failed".into(),
            ));
        }
        Ok(())
    }
}

/// A blob store that fails as its [`Faults`] plan says.
pub struct FaultyBlobs {
    inner: Arc<dyn BlobStore>,
    faults: Arc<Faults>,
}

impl FaultyBlobs {
    pub fn new(inner: Arc<dyn BlobStore>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

impl BlobStore for FaultyBlobs {
    fn create_as(&self, id: BlobId) -> StoreResult<Box<dyn BlobWriter>> {
        self.faults.tick()?;
        Ok(Box::new(FaultyWriter {
            inner: self.inner.create_as(id)?,
            faults: self.faults.clone(),
        }))
    }

    fn open(&self, id: BlobId) -> StoreResult<Option<Box<dyn BlobReader>>> {
        self.inner.open(id)
    }

    fn delete(&self, id: BlobId) -> StoreResult<()> {
        self.faults.tick()?;
        self.inner.delete(id)
    }

    fn clear_temp(&self) -> StoreResult<usize> {
        self.inner.clear_temp()
    }

    fn for_each(&self, f: &mut dyn FnMut(BlobId, SystemTime)) -> StoreResult<()> {
        self.inner.for_each(f)
    }

    fn now(&self) -> StoreResult<SystemTime> {
        self.inner.now()
    }

    fn space(&self) -> StoreResult<Option<crate::Space>> {
        self.inner.space()
    }

    fn pairing(&self) -> StoreResult<Option<String>> {
        self.inner.pairing()
    }

    fn claim_pairing(&self, id: &str) -> StoreResult<String> {
        self.inner.claim_pairing(id)
    }
}

struct FaultyWriter {
    inner: Box<dyn BlobWriter>,
    faults: Arc<Faults>,
}

impl BlobWriter for FaultyWriter {
    fn write(&mut self, buf: &[u8]) -> StoreResult<()> {
        self.faults.tick()?;
        self.inner.write(buf)
    }

    fn write_all(&mut self, bufs: &[&[u8]]) -> StoreResult<()> {
        self.faults.tick()?;
        self.inner.write_all(bufs)
    }

    fn finish(self: Box<Self>) -> StoreResult<BlobId> {
        // A failing fsync: the data is not known to be durable, the blob not made.
        self.faults.tick()?;
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_operation_and_all_after_it_fail_until_healed() {
        let f = Faults::new();
        f.tick().unwrap();
        f.fail_after(3, FaultKind::DiskFull);
        f.tick().unwrap();
        f.tick().unwrap();
        let e = f.tick().unwrap_err();
        assert!(matches!(e, StoreError::Io(ref io) if io.raw_os_error() == Some(28)));
        assert!(f.tick().is_err());
        assert_eq!(f.injected(), 2);
        f.heal();
        f.tick().unwrap();
    }

    #[test]
    fn conformance_concurrency_holds_with_conflicting_commits() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn MetaStore> =
            Arc::new(crate::RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap());
        let faults = Faults::new();
        faults.conflict_every(3);
        let store = FaultyMeta::new(inner, faults.clone());
        let retries = crate::conformance::meta_store_concurrency(&store);
        assert!(
            retries > 0 && faults.injected() == retries,
            "conflicts were injected and retried"
        );
    }
}

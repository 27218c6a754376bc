//! The metadata store trait: ordered byte keys in named tables, read and written in
//! serializable transactions.
//!
//! A write transaction sees its own writes, and its commit is atomic and (unless the
//! store was opened without durability) durable when `commit` returns. Dropping a
//! write transaction without committing aborts it. Implementations must serialize
//! write transactions so that a read-check-write inside one transaction is atomic:
//! the object model relies on this for conditional writes.
//!
//! # Retryable transactions
//!
//! A store may abort a write transaction that conflicts with a concurrent one: any
//! call on it, `commit` included, then fails with [`StoreError::Conflict`] and
//! nothing of the transaction is visible. (A networked backend with optimistic or
//! serializable transactions does this under contention; the embedded stores
//! serialize writers and never do.) The caller runs the whole transaction again, from
//! `begin_write`, reading afresh. So the code that fills a write transaction must be
//! re-runnable: everything it decides comes from what it reads in that transaction
//! (never from state kept between attempts), and it has no effect outside the
//! transaction until the commit succeeds. The object model's committer does this for
//! every metadata write; the conformance suite's concurrency test checks that
//! read-modify-write transactions on one key lose no update under this loop.
//!
//! [`StoreError::Conflict`]: crate::StoreError::Conflict

use std::ops::Bound;

use crate::StoreResult;

/// A named table of the metadata store: an ordered map from byte keys to byte values.
///
/// The store knows tables only by name; which tables exist and what their keys and
/// values mean belongs to the layer above (the object model declares its own). A table
/// that was never written reads as empty, and the first write creates it, so adding a
/// table needs no migration. Names are short ASCII identifiers (`[a-z0-9_]`), unique
/// per store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Table(&'static str);

impl Table {
    /// Declares a table. Panics at compile time (in a `const`) on a name that is empty,
    /// longer than 64 bytes or not `[a-z0-9_]`.
    pub const fn new(name: &'static str) -> Self {
        let b = name.as_bytes();
        assert!(!b.is_empty() && b.len() <= 64, "table names are 1 to 64 bytes");
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            assert!(
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_',
                "table names are [a-z0-9_]"
            );
            i += 1;
        }
        Table(name)
    }

    pub const fn name(self) -> &'static str {
        self.0
    }
}

pub type KvPair = (Vec<u8>, Vec<u8>);

pub trait ReadTxn {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// Calls `visit` with each entry whose key is in (`start`, `end`), in ascending byte
    /// order, until `visit` returns `false`. Entries are borrowed, not copied.
    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()>;

    /// Up to `limit` entries with keys in (`start`, `end`), in ascending byte order.
    fn range(&self, table: Table, start: Bound<&[u8]>, end: Bound<&[u8]>, limit: usize) -> StoreResult<Vec<KvPair>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan(table, start, end, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            out.len() < limit
        })?;
        Ok(out)
    }
}

pub trait WriteTxn: ReadTxn {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()>;

    /// Removes `key`; returns whether it was present.
    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool>;

    /// Makes every write of this transaction visible and durable, all at once.
    fn commit(self: Box<Self>) -> StoreResult<()>;
}

pub trait MetaStore: Send + Sync + 'static {
    fn begin_read(&self) -> StoreResult<Box<dyn ReadTxn + '_>>;
    fn begin_write(&self) -> StoreResult<Box<dyn WriteTxn + '_>>;
}

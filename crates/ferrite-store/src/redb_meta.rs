//! The embedded default metadata store, on [redb](https://docs.rs/redb): a single-file,
//! copy-on-write B-tree with ACID transactions. A commit with `Durability::Immediate`
//! is durable when it returns: redb writes the new pages, fsyncs, then flips the
//! commit slot and fsyncs again, so a crash leaves either the old or the new state.

use std::ops::Bound;
use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{MetaStore, ReadTxn, StoreError, StoreResult, Table, WriteTxn};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

fn def(table: Table) -> Def {
    TableDefinition::new(table.name())
}

fn engine(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    match e {
        redb::Error::Io(io) => StoreError::Io(io),
        other => StoreError::Engine(other.to_string()),
    }
}

pub struct RedbMetaStore {
    db: Database,
    durable: bool,
}

impl RedbMetaStore {
    /// Opens (or creates) the store at `path`. With `durable` false, commits are not
    /// fsynced: faster, but a crash can lose recently acknowledged writes.
    pub fn open(path: &Path, durable: bool) -> StoreResult<Self> {
        Self::open_with_cache(path, durable, Self::DEFAULT_CACHE)
    }

    /// redb's page cache, which bounds most of the server's memory (redb's own default
    /// is 1 GiB).
    pub const DEFAULT_CACHE: usize = 32 << 20;

    /// Like [`RedbMetaStore::open`], with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, durable: bool, cache_bytes: usize) -> StoreResult<Self> {
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(engine)?;
        Ok(Self { db, durable })
    }
}

impl MetaStore for RedbMetaStore {
    fn begin_read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        Ok(Box::new(RedbRead(self.db.begin_read().map_err(engine)?)))
    }

    fn begin_write(&self) -> StoreResult<Box<dyn WriteTxn + '_>> {
        let mut txn = self.db.begin_write().map_err(engine)?;
        let durability = if self.durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        txn.set_durability(durability)
            .map_err(|e| StoreError::Engine(e.to_string()))?;
        Ok(Box::new(RedbWrite(txn)))
    }
}

struct RedbRead(redb::ReadTransaction);

impl RedbRead {
    /// The table, or `None` if it was never created (it reads as empty).
    fn table(&self, table: Table) -> StoreResult<Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>> {
        match self.0.open_table(def(table)) {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(engine(e)),
        }
    }
}
struct RedbWrite(redb::WriteTransaction);

fn scan_table<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> StoreResult<()> {
    for entry in table.range::<&[u8]>((start, end)).map_err(engine)? {
        let (k, v) = entry.map_err(engine)?;
        if !visit(k.value(), v.value()) {
            break;
        }
    }
    Ok(())
}

impl ReadTxn for RedbRead {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        match self.table(table)? {
            Some(t) => Ok(t.get(key).map_err(engine)?.map(|v| v.value().to_vec())),
            None => Ok(None),
        }
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        match self.table(table)? {
            Some(t) => scan_table(&t, start, end, visit),
            None => Ok(()),
        }
    }
}

/// A write transaction opens (and so creates) the table it touches.
impl ReadTxn for RedbWrite {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let t = self.0.open_table(def(table)).map_err(engine)?;
        Ok(t.get(key).map_err(engine)?.map(|v| v.value().to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let t = self.0.open_table(def(table)).map_err(engine)?;
        scan_table(&t, start, end, visit)
    }
}

impl WriteTxn for RedbWrite {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()> {
        let mut t = self.0.open_table(def(table)).map_err(engine)?;
        t.insert(key, value).map_err(engine)?;
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool> {
        let mut t = self.0.open_table(def(table)).map_err(engine)?;
        Ok(t.remove(key).map_err(engine)?.is_some())
    }

    fn commit(self: Box<Self>) -> StoreResult<()> {
        self.0.commit().map_err(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbMetaStore::open(&dir.path().join("meta.redb"), true).unwrap();
        crate::conformance::meta_store_suite(&store);
        crate::conformance::meta_store_concurrency(&store);
    }

    #[test]
    fn reopen_keeps_committed_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        crate::conformance::meta_store_persistence(|| RedbMetaStore::open(&path, true).unwrap());
    }
}

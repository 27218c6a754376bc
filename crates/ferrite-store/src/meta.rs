//! The metadata store trait: ordered byte keys in a fixed set of tables, read and
//! written in serializable transactions.
//!
//! A write transaction sees its own writes, and its commit is atomic and (unless the
//! store was opened without durability) durable when `commit` returns. Dropping a
//! write transaction without committing aborts it. Implementations must serialize
//! write transactions so that a read-check-write inside one transaction is atomic:
//! the object model relies on this for conditional writes.

use std::ops::Bound;

use crate::StoreResult;

/// The tables of the metadata store. Adding a table is a format change only if old
/// stores must be migrated; a missing table is created empty on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Store-wide settings: the format version, id counters.
    System,
    /// Bucket name -> bucket record.
    Buckets,
    /// (bucket id, key) -> a copy of the current version of an object, when that
    /// version is not a delete marker: what ListObjects, GET and HEAD read.
    Objects,
    /// (bucket id, key, 0x00, inverted version sequence) -> every version of an
    /// object, delete markers included, newest first within a key.
    Versions,
    /// Small object data stored inline: data id -> bytes.
    Inline,
    /// Blob id -> reference count record: which blobs are live.
    Blobs,
    /// Blob ids whose data is no longer referenced and awaits deletion.
    Garbage,
    /// (bucket id, key, 0x00, upload id) -> a multipart upload in progress.
    Uploads,
    /// (bucket id, key) -> the version sequence of the key's `null` version.
    NullVersions,
    /// (upload id, part number) -> an uploaded part.
    Parts,
    /// Upload id -> the result of a completed multipart upload (for retried Completes).
    Completed,
    /// Bucket id -> the bucket's usage counters (objects, versions, bytes), kept up to
    /// date by every write so that reading them is one lookup, not a scan.
    BucketStats,
}

impl Table {
    /// Every table. New tables go at the end: the SQLite store numbers tables by
    /// their position here.
    pub const ALL: [Table; 12] = [
        Table::System,
        Table::Buckets,
        Table::Objects,
        Table::Versions,
        Table::Inline,
        Table::Blobs,
        Table::Garbage,
        Table::Uploads,
        Table::NullVersions,
        Table::Parts,
        Table::Completed,
        Table::BucketStats,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::System => "system",
            Table::Buckets => "buckets",
            Table::Objects => "objects",
            Table::Versions => "versions",
            Table::Inline => "inline",
            Table::Blobs => "blobs",
            Table::Garbage => "garbage",
            Table::Uploads => "uploads",
            Table::NullVersions => "null_versions",
            Table::Parts => "parts",
            Table::Completed => "completed",
            Table::BucketStats => "bucket_stats",
        }
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

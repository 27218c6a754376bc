//! `ferrite migrate`: copies a store (an embedded data dir) into other stores (a
//! PostgreSQL database and a RADOS pool or another data dir), offline, resumably,
//! verifying every blob it copies.
//!
//! The order makes a half-done migration harmless and resumable:
//! 1. The destination gets a marker (`system/migration`) in its first transaction; a
//!    server refuses to open a metadata store that has one ([`check_not_migrating`]).
//! 2. Blobs first: every live blob (the `blobs` table) is copied under its own id
//!    ([`BlobStore::create_as`]), then read back from the destination and compared
//!    with the source by length and CRC-32C. A cursor in the destination records
//!    how far this got; a blob that already exists there (copied before an
//!    interruption) is verified, not copied again.
//! 3. Then every table, in batches of [`BATCH`] rows, each batch and its cursor in
//!    one transaction: an interrupted run resumes after the last committed batch.
//!    Not copied: the garbage list (its blobs are not copied), cache epochs,
//!    background claims, published read leases, the source's blob-store pairing.
//! 4. The last transaction removes the marker and the cursors; the destination's
//!    blob store is then paired with its metadata store.
//!
//! A destination that holds data of its own and no marker is refused, as is a
//! source with storage tiers (not supported yet). Encrypted objects need the same
//! master key on the servers that open the destination (copy `master.key`): their
//! data keys are copied sealed.

use std::ops::Bound;

use ferrite_store::{BlobId, BlobStore, MetaStore, ReadTxn, Table};

use crate::{ModelError, ModelResult, tables};

/// Rows per metadata transaction.
pub const BATCH: usize = 1000;
/// Blobs between two saves of the blob cursor.
const BLOB_CURSOR_EVERY: u64 = 64;

const MARKER: &[u8] = b"migration";
const BLOB_CURSOR: &[u8] = b"migration/blobs";
const TABLE_CURSOR: &[u8] = b"migration/table/";

/// What a migration did, for its progress lines and its summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateProgress {
    /// Blobs the source holds (live ones).
    pub blobs_total: u64,
    /// Blobs copied or found already copied, each verified.
    pub blobs_done: u64,
    /// Bytes of those blobs.
    pub bytes_done: u64,
    /// Metadata rows copied.
    pub rows_done: u64,
    /// The table being copied (empty during the blob phase).
    pub table: String,
    /// Whether this run continued an interrupted one.
    pub resumed: bool,
}

/// Refuses to open a metadata store that a migration is still filling.
pub(crate) fn check_not_migrating(meta: &dyn MetaStore) -> ModelResult<()> {
    if meta.begin_read()?.get(tables::SYSTEM, MARKER)?.is_some() {
        return Err(ModelError::StoreMismatch(
            "a migration into this metadata store has not finished: run `ferrite migrate` again to finish it".into(),
        ));
    }
    Ok(())
}

fn is_empty(txn: &dyn ReadTxn, table: Table) -> ModelResult<bool> {
    Ok(txn.range(table, Bound::Unbounded, Bound::Unbounded, 1)?.is_empty())
}

/// Whether a system row of the source stays behind.
fn skip_system_key(k: &[u8]) -> bool {
    k.starts_with(b"blob_store_id")
        || k.starts_with(b"claim/")
        || k.starts_with(b"lease/")
        || k.starts_with(b"migration")
}

/// Copies `src` (metadata and blobs) into `dst`; `progress` is called after each
/// batch. Blocking: run it on a blocking thread.
pub fn migrate(
    src_meta: &dyn MetaStore,
    src_blobs: &dyn BlobStore,
    dst_meta: &dyn MetaStore,
    dst_blobs: &dyn BlobStore,
    progress: &mut dyn FnMut(&MigrateProgress),
) -> ModelResult<MigrateProgress> {
    let src = src_meta.begin_read()?;
    if let Some(v) = src.get(tables::SYSTEM, crate::tiers::REGISTRY)? {
        let reg: crate::tiers::TierRegistry = crate::records::decode(&v)?;
        if !reg.tiers.is_empty() {
            return Err(ModelError::InvalidArgument(
                "the source has storage tiers (--tier): migrating tiered stores is not supported yet".into(),
            ));
        }
    }
    drop(src);
    let mut p = MigrateProgress::default();
    // Start, or resume.
    {
        let dst = dst_meta.begin_read()?;
        p.resumed = dst.get(tables::SYSTEM, MARKER)?.is_some();
        if !p.resumed {
            for t in [tables::BUCKETS, tables::USERS, tables::KMS_KEYS, tables::OBJECTS] {
                if !is_empty(&*dst, t)? {
                    return Err(ModelError::InvalidArgument(format!(
                        "the destination metadata store already holds data (table {}): migrate into an empty one",
                        t.name()
                    )));
                }
            }
            if dst_blobs.pairing()?.is_some() {
                return Err(ModelError::InvalidArgument(
                    "the destination blob store is already paired with a metadata store: migrate into an unused one"
                        .into(),
                ));
            }
        }
        drop(dst);
        if !p.resumed {
            let mut w = dst_meta.begin_write()?;
            w.put(tables::SYSTEM, MARKER, b"1")?;
            w.commit()?;
        }
    }

    // Blobs.
    // The `blobs` table counts references to inline data too; that data is a table's
    // rows, copied with the metadata.
    let ids: Vec<[u8; 16]> = {
        let src = src_meta.begin_read()?;
        let mut ids = Vec::new();
        src.scan(tables::BLOBS, Bound::Unbounded, Bound::Unbounded, &mut |k, _| {
            if let Ok(id) = <[u8; 16]>::try_from(k) {
                ids.push(id);
            }
            true
        })?;
        let mut blobs = Vec::with_capacity(ids.len());
        for id in ids {
            if src.get(tables::INLINE, &id)?.is_none() {
                blobs.push(id);
            }
        }
        blobs
    };
    p.blobs_total = ids.len() as u64;
    let cursor = dst_meta.begin_read()?.get(tables::SYSTEM, BLOB_CURSOR)?;
    let mut since_save = 0;
    for id in &ids {
        let id = BlobId(*id);
        let skip = cursor.as_deref().is_some_and(|c| id.0.as_slice() <= c);
        if !skip {
            p.bytes_done += copy_blob(src_blobs, dst_blobs, id)?;
            since_save += 1;
            if since_save >= BLOB_CURSOR_EVERY {
                let mut w = dst_meta.begin_write()?;
                w.put(tables::SYSTEM, BLOB_CURSOR, &id.0)?;
                w.commit()?;
                since_save = 0;
                p.blobs_done += 1;
                progress(&p);
                continue;
            }
        }
        p.blobs_done += 1;
    }
    progress(&p);

    // Metadata, table by table.
    for table in tables::ALL {
        if [tables::GARBAGE, tables::CACHE_EPOCHS].contains(table) {
            continue;
        }
        p.table = table.name().to_string();
        let cursor_key = [TABLE_CURSOR, table.name().as_bytes()].concat();
        let mut after = dst_meta.begin_read()?.get(tables::SYSTEM, &cursor_key)?;
        loop {
            let rows = {
                let start = match &after {
                    Some(k) => Bound::Excluded(k.as_slice()),
                    None => Bound::Unbounded,
                };
                src_meta.begin_read()?.range(*table, start, Bound::Unbounded, BATCH)?
            };
            let Some((last, _)) = rows.last() else { break };
            let last = last.clone();
            let mut w = dst_meta.begin_write()?;
            let mut n = 0;
            for (k, v) in &rows {
                if *table == tables::SYSTEM && skip_system_key(k) {
                    continue;
                }
                w.put(*table, k, v)?;
                n += 1;
            }
            w.put(tables::SYSTEM, &cursor_key, &last)?;
            w.commit()?;
            p.rows_done += n;
            progress(&p);
            if rows.len() < BATCH {
                break;
            }
            after = Some(last);
        }
    }

    // Done: the marker and cursors go in one transaction.
    let mut w = dst_meta.begin_write()?;
    w.delete(tables::SYSTEM, MARKER)?;
    w.delete(tables::SYSTEM, BLOB_CURSOR)?;
    for table in tables::ALL {
        w.delete(tables::SYSTEM, &[TABLE_CURSOR, table.name().as_bytes()].concat())?;
    }
    w.commit()?;
    crate::engine::bind_blob_store(dst_blobs, dst_meta)?;
    p.table.clear();
    Ok(p)
}

/// Copies blob `id` (unless the destination has it already) and verifies the
/// destination's copy against the source; returns its length.
fn copy_blob(src: &dyn BlobStore, dst: &dyn BlobStore, id: BlobId) -> ModelResult<u64> {
    let Some(from) = src.open(id)? else {
        return Err(ModelError::Corrupt(format!(
            "blob {} is referenced but missing from the source",
            id.to_hex()
        )));
    };
    let want = crc_of(&*from)?;
    if let Some(there) = dst.open(id)?
        && there.len() == from.len()
        && crc_of(&*there)? == want
    {
        return Ok(from.len());
    }
    // Absent (or a damaged earlier copy, replaced).
    dst.delete(id)?;
    let mut w = dst.create_as(id)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < from.len() {
        let n = from.read_at(at, &mut buf)?;
        if n == 0 {
            return Err(ModelError::Corrupt(format!("blob {} ended early", id.to_hex())));
        }
        w.write(&buf[..n])?;
        at += n as u64;
    }
    w.finish()?;
    let copy = dst
        .open(id)?
        .ok_or_else(|| ModelError::Internal(format!("blob {} vanished after its copy", id.to_hex())))?;
    if copy.len() != from.len() || crc_of(&*copy)? != want {
        return Err(ModelError::Corrupt(format!(
            "the copy of blob {} does not match the source",
            id.to_hex()
        )));
    }
    Ok(from.len())
}

/// The CRC-32C of a whole blob, read in 1 MiB pieces.
fn crc_of(r: &dyn ferrite_store::BlobReader) -> ModelResult<u32> {
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    while at < r.len() {
        let n = r.read_at(at, &mut buf)?;
        if n == 0 {
            return Err(ModelError::Corrupt("a blob ended early".into()));
        }
        digest.update(&buf[..n]);
        at += n as u64;
    }
    Ok(digest.finalize() as u32)
}

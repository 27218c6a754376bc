//! Reference counting of object data: which inline rows and blobs are live. Data a
//! version (or an uploaded part) points at holds one reference per pointer; dropping
//! the last one deletes inline data at once and queues a blob for the collector.

use ferrite_store::{BlobId, ReadTxn, WriteTxn};

use crate::records::DataRef;
use crate::{ModelError, ModelResult, tables};

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

/// Drops one reference on each data id of `data`, whose blobs live in `tier`.
/// Inline data without references is removed in this transaction; blobs are queued
/// for the garbage collector (the queue entry names the tier; the committer wakes
/// the collector after the commit).
pub(crate) fn drop_refs(txn: &mut dyn WriteTxn, data: &DataRef, tier: &str) -> ModelResult<()> {
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
            txn.put(tables::GARBAGE, &id, tier.as_bytes())?;
        }
    }
    Ok(())
}

pub(crate) fn blob_id(id: &[u8; 16]) -> BlobId {
    BlobId(*id)
}

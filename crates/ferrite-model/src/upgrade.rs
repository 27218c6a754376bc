//! Upgrades of the on-disk format: run once at start-up, as one committer job, before
//! the server answers anything. (Record shapes are not upgraded here: each record
//! migrates on read, see `records`.)

use std::ops::Bound;

use ferrite_store::WriteTxn;

use crate::keys::{FORMAT_KEY, version_key};
use crate::records::{FORMAT_VERSION, ObjectRecord, decode};
use crate::{ModelError, ModelResult, tables};

/// Checks the data dir's on-disk format, and upgrades an older one (a new store gets
/// the current format). A job of its own: the upgrade is one transaction.
pub(crate) fn upgrade_format(w: &mut dyn WriteTxn) -> ModelResult<()> {
    let found = w.get(tables::SYSTEM, FORMAT_KEY)?;
    let found = match found {
        None => None,
        Some(v) => Some(u32::from_be_bytes(v.as_slice().try_into().map_err(|_| {
            ModelError::Corrupt(format!("unreadable on-disk format marker {v:?}"))
        })?)),
    };
    match found {
        Some(FORMAT_VERSION) => Ok(()),
        // A new store, or an older format: upgrade in one transaction.
        None | Some(1) | Some(2) => {
            if found == Some(1) {
                let migrated = migrate_from_v1(&mut *w)?;
                tracing::info!(objects = migrated, "built the version index");
            }
            if found.is_some() {
                let buckets = crate::stats::rebuild(&mut *w)?;
                tracing::info!(buckets, "counted bucket usage");
            }
            w.put(tables::SYSTEM, FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
            if found.is_some() {
                tracing::info!("upgraded the data directory to format {FORMAT_VERSION}");
            }
            Ok(())
        }
        Some(v) => Err(ModelError::Corrupt(format!(
            "data directory has on-disk format {v}; this build reads formats 1 to {FORMAT_VERSION}"
        ))),
    }
}

/// Format 1 kept only `Objects` (no version index): give each object its `null`
/// version row and pointer. The data references move from the `Objects` row to the
/// version row, so refcounts stay as they are.
pub(crate) fn migrate_from_v1(txn: &mut dyn WriteTxn) -> ModelResult<u64> {
    let mut rows = Vec::new();
    txn.scan(tables::OBJECTS, Bound::Unbounded, Bound::Unbounded, &mut |k, v| {
        rows.push((k.to_vec(), v.to_vec()));
        true
    })?;
    for (okey, value) in &rows {
        let rec: ObjectRecord = decode(value)?;
        let (id_bytes, key_bytes) = okey.split_at(8);
        let bucket_id = u64::from_be_bytes(id_bytes.try_into().expect("8 bytes"));
        let key = std::str::from_utf8(key_bytes).map_err(|_| ModelError::Corrupt("non-UTF-8 key".into()))?;
        let seq = (rec.last_modified_ms.max(0) as u64).saturating_mul(1000);
        txn.put(tables::VERSIONS, &version_key(bucket_id, key, seq), value)?;
        txn.put(tables::NULL_VERSIONS, okey, &seq.to_be_bytes())?;
    }
    Ok(rows.len() as u64)
}

//! Reading records by their key, as every operation does first.

use ferrite_store::ReadTxn;

use crate::records::{BucketRecord, ObjectRecord, decode};
use crate::{ModelError, ModelResult, tables};

pub(crate) fn get_bucket(txn: &dyn ReadTxn, name: &str) -> ModelResult<BucketRecord> {
    match txn.get(tables::BUCKETS, name.as_bytes())? {
        Some(bytes) => decode(&bytes),
        None => Err(ModelError::NoSuchBucket),
    }
}

/// Calls `f` with every bucket record in name order, until it returns false. A record
/// that does not decode stops the scan with its error.
pub(crate) fn scan_buckets(txn: &dyn ReadTxn, f: &mut dyn FnMut(BucketRecord) -> bool) -> ModelResult<()> {
    let mut failed = None;
    txn.scan(
        tables::BUCKETS,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        &mut |_, v| match decode::<BucketRecord>(v) {
            Ok(b) => f(b),
            Err(e) => {
                failed = Some(e);
                false
            }
        },
    )?;
    failed.map_or(Ok(()), Err)
}

pub(crate) fn get_object(txn: &dyn ReadTxn, okey: &[u8]) -> ModelResult<Option<ObjectRecord>> {
    txn.get(tables::OBJECTS, okey)?.map(|b| decode(&b)).transpose()
}

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

pub(crate) fn get_object(txn: &dyn ReadTxn, okey: &[u8]) -> ModelResult<Option<ObjectRecord>> {
    txn.get(tables::OBJECTS, okey)?.map(|b| decode(&b)).transpose()
}

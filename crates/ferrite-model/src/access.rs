//! Access decisions, in one place. Until users and grants exist (the identity issue,
//! which replaces this with the authorizer): the root principal may do everything;
//! another signed principal may act only on buckets it owns; an anonymous caller on
//! nothing, as no grant to AllUsers can exist yet. A missing bucket is NoSuchBucket
//! whoever asks, as on AWS.

use ferrite_store::ReadTxn;

use crate::lookup::get_bucket;
use crate::records::BucketRecord;
use crate::{Caller, ModelError, ModelResult, Principal};

/// Whether `caller` may act on the bucket `rec`.
pub(crate) fn check_bucket(caller: &Caller, rec: &BucketRecord) -> ModelResult<()> {
    match &caller.principal {
        Principal::Root { .. } => Ok(()),
        Principal::User { canonical_id, .. } if *canonical_id == rec.owner => Ok(()),
        Principal::User { .. } | Principal::Anonymous => Err(ModelError::AccessDenied),
    }
}

/// The bucket `name`, if `caller` may act on it.
pub(crate) fn bucket_for(txn: &dyn ReadTxn, name: &str, caller: &Caller) -> ModelResult<BucketRecord> {
    let rec = get_bucket(txn, name)?;
    check_bucket(caller, &rec)?;
    Ok(rec)
}

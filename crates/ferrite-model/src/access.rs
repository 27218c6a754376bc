//! Where the model asks the authorizer ([`crate::authz`]): the facts it needs are read
//! from the stored records here, and a denial becomes [`ModelError::AccessDenied`]. A
//! missing bucket is NoSuchBucket whoever asks, as on AWS; a missing object is
//! reported only to a caller that may list the bucket (others get AccessDenied, which
//! reveals nothing).

use ferrite_store::ReadTxn;

use crate::authz::{Action, BucketFacts, Decision, ObjectFacts, Operation, Resource, authorize};
use crate::lookup::get_bucket;
use crate::records::{BucketRecord, ObjectRecord, UploadRecord};
use crate::{Caller, ModelError, ModelResult};

pub(crate) fn bucket_facts(b: &BucketRecord) -> BucketFacts<'_> {
    BucketFacts {
        owner: &b.owner,
        acl: b.acl.as_deref(),
        ownership: b.ownership,
    }
}

pub(crate) fn object_facts(o: &ObjectRecord) -> ObjectFacts<'_> {
    ObjectFacts {
        owner: &o.owner,
        acl: o.acl.as_deref(),
    }
}

/// An upload, for the actions its initiator may take.
pub(crate) fn upload_facts(u: &UploadRecord) -> ObjectFacts<'_> {
    ObjectFacts {
        owner: &u.owner,
        acl: None,
    }
}

/// Allows `action`, or fails with AccessDenied.
pub(crate) fn allow(
    caller: &Caller,
    action: Action,
    bucket: Option<&BucketRecord>,
    object: Option<ObjectFacts<'_>>,
) -> ModelResult<()> {
    let resource = Resource {
        bucket: bucket.map(bucket_facts),
        object,
    };
    match authorize(caller, action, &resource) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(ModelError::AccessDenied),
    }
}

/// The bucket `name`, if `caller` may perform the bucket operation `op` on it.
pub(crate) fn bucket_for(txn: &dyn ReadTxn, name: &str, caller: &Caller, op: Operation) -> ModelResult<BucketRecord> {
    let rec = get_bucket(txn, name)?;
    allow(caller, op.action(false), Some(&rec), None)?;
    Ok(rec)
}

/// What to answer when the object (or version) a caller addressed is not there: `e`
/// to a caller that may list the bucket, AccessDenied to any other.
pub(crate) fn not_found(caller: &Caller, bucket: &BucketRecord, e: ModelError) -> ModelError {
    match allow(caller, Action::ListBucket, Some(bucket), None) {
        Ok(()) => e,
        Err(denied) => denied,
    }
}

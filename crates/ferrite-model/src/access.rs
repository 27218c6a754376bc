//! Where the model asks the authorizer ([`crate::authz`]): the facts it needs are read
//! from the stored records here, and a denial becomes [`ModelError::AccessDenied`]. A
//! missing bucket is NoSuchBucket whoever asks, as on AWS; a missing object is
//! reported only to a caller that may list the bucket (others get AccessDenied, which
//! reveals nothing).

use std::sync::Arc;

use ferrite_store::ReadTxn;

use crate::authz::{
    Action, BucketFacts, BucketPolicy, Decision, ObjectFacts, Operation, Resource, authorize, authorize_named,
};
use crate::lookup::get_bucket;
use crate::policy::parsed_bucket_policy;
use crate::records::{BucketRecord, ObjectRecord, UploadRecord};
use crate::{Caller, ModelError, ModelResult, RequestContext};

pub(crate) fn bucket_facts<'a>(b: &'a BucketRecord, policy: Option<&'a BucketPolicy>) -> BucketFacts<'a> {
    BucketFacts {
        name: &b.name,
        owner: &b.owner,
        acl: b.acl.as_deref(),
        ownership: b.ownership,
        policy,
        block: b.public_access_block.unwrap_or_default(),
    }
}

pub(crate) fn object_facts(o: &ObjectRecord) -> ObjectFacts<'_> {
    ObjectFacts {
        owner: &o.owner,
        acl: o.acl.as_deref(),
        tags: &o.tags,
    }
}

/// An upload, for the actions its initiator may take.
pub(crate) fn upload_facts(u: &UploadRecord) -> ObjectFacts<'_> {
    ObjectFacts {
        owner: &u.owner,
        acl: None,
        tags: &[],
    }
}

/// Allows `action` (on the object `key` of `bucket` for object actions), or fails
/// with AccessDenied.
pub(crate) fn allow(
    caller: &Caller,
    action: Action,
    bucket: Option<&BucketRecord>,
    key: Option<&str>,
    object: Option<ObjectFacts<'_>>,
) -> ModelResult<()> {
    let policy = bucket.and_then(|b| b.policy.as_ref().map(|p| parsed_bucket_policy(&b.name, p)));
    let resource = Resource {
        key,
        bucket: bucket.map(|b| bucket_facts(b, policy.as_deref())),
        object,
    };
    match authorize(caller, action, &resource) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(ModelError::AccessDenied),
    }
}

/// Allows creating the bucket `name`, or fails with AccessDenied.
pub(crate) fn allow_create(caller: &Caller, name: &str) -> ModelResult<()> {
    let action = Operation::CreateBucket.action(false);
    match authorize_named(caller, action, &Resource::default(), Some(name)) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(ModelError::AccessDenied),
    }
}

/// The bucket `name`, if `caller` may perform the bucket operation `op` on it.
pub(crate) fn bucket_for(txn: &dyn ReadTxn, name: &str, caller: &Caller, op: Operation) -> ModelResult<BucketRecord> {
    let rec = get_bucket(txn, name)?;
    allow(caller, op.action(false), Some(&rec), None, None)?;
    Ok(rec)
}

/// The bucket `name`, if `caller` may perform the object operation `op` (a write:
/// PutObject, an upload's steps) on its object `key`.
pub(crate) fn bucket_for_key(
    txn: &dyn ReadTxn,
    name: &str,
    key: &str,
    caller: &Caller,
    op: Operation,
) -> ModelResult<BucketRecord> {
    let rec = get_bucket(txn, name)?;
    allow(caller, op.action(false), Some(&rec), Some(key), None)?;
    Ok(rec)
}

/// What to answer when the object (or version) `key` a caller addressed is not there:
/// `e` to a caller that may list that key (ListBucket with `s3:prefix` set to the key:
/// such a listing would show the key missing anyway), AccessDenied to any other.
pub(crate) fn not_found(caller: &Caller, bucket: &BucketRecord, key: &str, e: ModelError) -> ModelError {
    let lister;
    let caller = if caller.policies.is_empty() && bucket.policy.is_none() {
        caller
    } else {
        let mut context = caller.context.get().clone();
        context.set("s3:prefix", key);
        lister = Caller {
            context: Arc::new(RequestContext::ready(context)),
            ..caller.clone()
        };
        &lister
    };
    match allow(caller, Action::ListBucket, Some(bucket), None, None) {
        Ok(()) => e,
        Err(denied) => denied,
    }
}

//! Bucket policies and public access blocks: stored in the bucket's record (the
//! policy's text as written, with a stamp random per write), parsed once per stamp.
//!
//! Parsed policies are cached process-wide by stamp. A stamp names one document for
//! good (a new document gets a new stamp), so an entry is never stale and needs no
//! invalidation: a changed policy applies from the commit that stores it, because the
//! bucket record every request reads carries the new stamp. The cache is bounded
//! (emptied when full); a bucket without a policy never touches it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use ferrite_policy::{PolicyError, Scope};

use crate::access::bucket_for;
use crate::authz::{BucketPolicy, Operation};
use crate::records::{PublicAccessBlock, StoredPolicy, encode};
use crate::{Caller, Ferrite, ModelError, ModelResult, tables};

const CACHE_MAX: usize = 4096;

/// Read-locked on every request to a bucket with a policy (concurrent readers do not
/// wait on each other); write-locked only to add a policy parsed for the first time.
fn cache() -> &'static RwLock<HashMap<u64, Arc<BucketPolicy>>> {
    static CACHE: OnceLock<RwLock<HashMap<u64, Arc<BucketPolicy>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Parses a bucket policy document, mapping the policy language's errors to the
/// model's.
pub(crate) fn parse_bucket_policy(bucket: &str, document: &str) -> ModelResult<BucketPolicy> {
    match ferrite_policy::parse(document, Scope::Bucket(bucket)) {
        Ok(policy) => Ok(BucketPolicy {
            public: policy.is_public(),
            policy: Some(policy),
        }),
        Err(e) => Err(policy_error(e)),
    }
}

pub(crate) fn policy_error(e: PolicyError) -> ModelError {
    match e {
        PolicyError::TooLarge { size } => ModelError::PolicyTooLarge {
            size,
            max: ferrite_policy::MAX_POLICY_BYTES,
        },
        PolicyError::Malformed(msg) => ModelError::MalformedPolicy(msg),
    }
}

/// The parsed form of a stored bucket policy. A stored document that no longer parses
/// (it was accepted when written) denies everyone but root and the bucket owner's
/// policy changes, rather than granting nothing it did not grant before.
pub(crate) fn parsed_bucket_policy(bucket: &str, stored: &StoredPolicy) -> Arc<BucketPolicy> {
    let hit = cache()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&stored.stamp)
        .cloned();
    if let Some(hit) = hit {
        return hit;
    }
    let parsed = Arc::new(parse_bucket_policy(bucket, &stored.document).unwrap_or_else(|e| {
        tracing::error!(bucket, error = %e, "a stored bucket policy no longer parses; it denies every request");
        BucketPolicy {
            policy: None,
            public: false,
        }
    }));
    let mut map = cache().write().unwrap_or_else(|p| p.into_inner());
    if map.len() >= CACHE_MAX {
        map.clear();
    }
    map.insert(stored.stamp, parsed.clone());
    parsed
}

impl Ferrite {
    /// Sets the bucket's policy. The document is kept exactly as written. A public
    /// policy is refused (AccessDenied) where the public access block blocks public
    /// policies.
    pub async fn put_bucket_policy(&self, caller: &Caller, bucket: &str, document: String) -> ModelResult<()> {
        let parsed = parse_bucket_policy(bucket, &document)?;
        // Chosen once, outside the job: a re-run writes the same stamp.
        let stored = StoredPolicy {
            stamp: rand::random(),
            document,
        };
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let mut b = bucket_for(&*txn, &bucket, &caller, Operation::PutBucketPolicy)?;
                let block = b.public_access_block.unwrap_or_default().union(caller.account_block);
                if parsed.public && block.block_public_policy {
                    return Err(ModelError::AccessDenied);
                }
                b.policy = Some(stored.clone());
                txn.put(tables::BUCKETS, bucket.as_bytes(), &encode(&b))?;
                Ok(())
            })
            .await
    }

    /// The bucket's policy document, as written.
    pub async fn bucket_policy(&self, caller: &Caller, bucket: &str) -> ModelResult<String> {
        self.read_bucket(caller, bucket, Operation::GetBucketPolicy, |b| {
            b.policy.map(|p| p.document).ok_or(ModelError::NoSuchBucketPolicy)
        })
        .await
    }

    /// Removes the bucket's policy (succeeds when there is none, as on AWS).
    pub async fn delete_bucket_policy(&self, caller: &Caller, bucket: &str) -> ModelResult<()> {
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let mut b = bucket_for(&*txn, &bucket, &caller, Operation::DeleteBucketPolicy)?;
                if b.policy.take().is_some() {
                    txn.put(tables::BUCKETS, bucket.as_bytes(), &encode(&b))?;
                }
                Ok(())
            })
            .await
    }

    /// Whether the bucket's policy is public by AWS's definition (GetBucketPolicyStatus).
    pub async fn bucket_policy_status(&self, caller: &Caller, bucket: &str) -> ModelResult<bool> {
        self.read_bucket(caller, bucket, Operation::GetBucketPolicyStatus, |b| {
            let stored = b.policy.as_ref().ok_or(ModelError::NoSuchBucketPolicy)?;
            Ok(parsed_bucket_policy(&b.name, stored).public)
        })
        .await
    }

    /// The bucket's own public access block.
    pub async fn public_access_block(&self, caller: &Caller, bucket: &str) -> ModelResult<PublicAccessBlock> {
        self.read_bucket(caller, bucket, Operation::GetPublicAccessBlock, |b| {
            b.public_access_block
                .ok_or(ModelError::NoSuchPublicAccessBlockConfiguration)
        })
        .await
    }

    /// Sets (`Some`) or removes (`None`) the bucket's public access block.
    pub async fn set_public_access_block(
        &self,
        caller: &Caller,
        bucket: &str,
        block: Option<PublicAccessBlock>,
    ) -> ModelResult<()> {
        let op = match block {
            Some(_) => Operation::PutPublicAccessBlock,
            None => Operation::DeletePublicAccessBlock,
        };
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let mut b = bucket_for(&*txn, &bucket, &caller, op)?;
                if b.public_access_block != block {
                    b.public_access_block = block;
                    txn.put(tables::BUCKETS, bucket.as_bytes(), &encode(&b))?;
                }
                Ok(())
            })
            .await
    }
}

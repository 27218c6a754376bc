//! Buckets: create, look up, list, delete.

use std::ops::Bound;

use crate::access::{allow, bucket_for};
use crate::acl::new_bucket_acl;
use crate::authz::Operation;
use crate::clock::now_ms;
use crate::engine::blocking;
use crate::keys::{NEXT_BUCKET_ID, bucket_end, object_key};
use crate::lookup::scan_buckets;
use crate::records::{AclSpec, BucketEncryption};
use crate::records::{BucketRecord, ObjectOwnership, VersioningState, decode, encode};
use crate::{BucketUsage, Caller, Ferrite, ModelError, ModelResult, tables, validate_bucket_name};

const LEGACY_REGION: &str = "us-east-1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub created_ms: i64,
    /// The bucket's region.
    pub region: String,
    pub owner: String,
}

impl From<&BucketRecord> for BucketInfo {
    fn from(r: &BucketRecord) -> Self {
        Self {
            name: r.name.clone(),
            created_ms: r.created_ms,
            region: r.location.clone(),
            owner: r.owner.clone(),
        }
    }
}

/// What CreateBucket asks for besides the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewBucket {
    /// The requested LocationConstraint: it must be this server's region when given.
    pub location: Option<String>,
    /// The bucket's ACL (`None`: private).
    pub acl: Option<AclSpec>,
    /// The object ownership setting (`None`: no ownership controls).
    pub ownership: Option<ObjectOwnership>,
    /// The bucket's default encryption (`--default-encryption`; `None`: none).
    pub encryption: Option<BucketEncryption>,
    /// `x-amz-bucket-object-lock-enabled`: a lock bucket, versioning Enabled for good.
    pub object_lock: bool,
}

impl Ferrite {
    /// Creates a bucket owned by the caller.
    pub async fn create_bucket(&self, caller: &Caller, name: &str, new: NewBucket) -> ModelResult<BucketInfo> {
        crate::access::allow_create(caller, name)?;
        let owner = caller.owner_id();
        validate_bucket_name(name)?;
        let region = self.inner.opts.region.clone();
        if let Some(loc) = new.location.as_deref().filter(|l| !l.is_empty())
            && loc != region
        {
            return Err(ModelError::InvalidLocationConstraint(loc.to_string()));
        }
        let name = name.to_string();
        let root_id = self.inner.opts.root_canonical_id.clone();
        let caller = caller.clone();
        self.inner
            .committer
            .write(move |txn| {
                if let Some(existing) = txn.get(tables::BUCKETS, name.as_bytes())? {
                    let existing: BucketRecord = decode(&existing)?;
                    return match existing.owner == owner {
                        // AWS's legacy rule: in us-east-1, re-creating your own bucket
                        // succeeds and changes nothing; every other region says 409.
                        true if existing.location == LEGACY_REGION => Ok(BucketInfo::from(&existing)),
                        true => Err(ModelError::BucketAlreadyOwnedByYou),
                        false => Err(ModelError::BucketAlreadyExists),
                    };
                }
                let id = match txn.get(tables::SYSTEM, NEXT_BUCKET_ID)? {
                    Some(b) => u64::from_be_bytes(
                        b.as_slice()
                            .try_into()
                            .map_err(|_| ModelError::Corrupt("bad bucket id counter".into()))?,
                    ),
                    None => 1,
                };
                let acl = new_bucket_acl(&*txn, &root_id, &caller, &owner, new.acl.as_ref(), new.ownership)?;
                txn.put(tables::SYSTEM, NEXT_BUCKET_ID, &(id + 1).to_be_bytes())?;
                let rec = BucketRecord {
                    id,
                    name: name.clone(),
                    created_ms: now_ms(),
                    location: region.clone(),
                    owner: owner.clone(),
                    versioning: match new.object_lock {
                        true => VersioningState::Enabled,
                        false => VersioningState::Unversioned,
                    },
                    object_lock: new.object_lock,
                    acl,
                    encryption: new.encryption.clone(),
                    ownership: new.ownership,
                    policy: None,
                    public_access_block: None,
                };
                txn.put(tables::BUCKETS, name.as_bytes(), &encode(&rec))?;
                Ok(BucketInfo::from(&rec))
            })
            .await
    }

    pub async fn head_bucket(&self, caller: &Caller, name: &str) -> ModelResult<BucketInfo> {
        self.read_bucket(caller, name, Operation::HeadBucket, |b| Ok(BucketInfo::from(&b)))
            .await
    }

    /// The bucket and its usage counters, read in one snapshot, as HeadBucket lets
    /// `caller` (the admin API's bucket view).
    pub async fn bucket_with_usage(&self, caller: &Caller, name: &str) -> ModelResult<(BucketInfo, BucketUsage)> {
        let (caller, inner, name) = (caller.clone(), self.inner.clone(), name.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for(&*txn, &name, &caller, Operation::HeadBucket)?;
            let usage = crate::stats::read(&*txn, b.id)?;
            Ok((BucketInfo::from(&b), usage))
        })
        .await
    }

    /// Reads the bucket `name` as `op` lets `caller` (NoSuchBucket, AccessDenied
    /// otherwise) and answers `f` of its record: the shape of every bucket getter.
    pub(crate) async fn read_bucket<T, F>(&self, caller: &Caller, name: &str, op: Operation, f: F) -> ModelResult<T>
    where
        T: Send + 'static,
        F: FnOnce(BucketRecord) -> ModelResult<T> + Send + 'static,
    {
        let (caller, inner, name) = (caller.clone(), self.inner.clone(), name.to_string());
        blocking(move || f(bucket_for(&*inner.meta.begin_read()?, &name, &caller, op)?)).await
    }

    /// Fails unless `caller` may perform the object operation `op` on `key` in
    /// `bucket`: for refusing a request before its body is read (the commit checks
    /// again). Returns the bucket's id and its default encryption.
    pub(crate) async fn check_object_access(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        op: Operation,
    ) -> ModelResult<(u64, Option<crate::records::BucketEncryption>)> {
        let (caller, inner) = (caller.clone(), self.inner.clone());
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            crate::access::bucket_for_key(&*inner.meta.begin_read()?, &bucket, &key, &caller, op)
                .map(|b| (b.id, b.encryption))
        })
        .await
    }

    /// [`Ferrite::check_object_access`] for a write that may be sealed: also settles
    /// the encryption it gets (`asked`, else the bucket's default) and, for SSE-KMS,
    /// finds its KMS key, all in one read (`None` when that is the default key, not
    /// made yet).
    pub(crate) async fn check_write_access(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        op: Operation,
        asked: Option<&crate::sse::SseRequest>,
    ) -> ModelResult<crate::sse::WriteSealing> {
        let (caller, inner) = (caller.clone(), self.inner.clone());
        let (bucket, key, asked) = (bucket.to_string(), key.to_string(), asked.cloned());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = crate::access::bucket_for_key(&*txn, &bucket, &key, &caller, op)?;
            let default_retention = crate::lock::default_applies(&*txn, &b)?;
            let wanted = crate::sse::SseRequest::wanted(asked.as_ref(), b.encryption)?;
            let kms_key = match &wanted {
                Some(crate::sse::SseRequest::Kms(k)) => crate::kms::find_for_write(&*txn, k.key.as_deref())?,
                _ => None,
            };
            Ok(crate::sse::WriteSealing {
                bucket_id: b.id,
                wanted,
                kms_key,
                default_retention,
            })
        })
        .await
    }

    /// Whether `caller` may write the object `key` in `bucket` (PutObject's access
    /// check: the bucket exists, the caller's grants and the policies allow
    /// `s3:PutObject` with the request's condition keys). For a write the adapter
    /// refuses before calling it (a header it cannot take): the refusal goes only to a
    /// caller this allows, every other gets what the write itself would have answered
    /// (AccessDenied, NoSuchBucket), so a caller who may not write learns nothing of
    /// its request, and a policy that denies a header's value denies it whatever the
    /// value is.
    pub async fn check_object_write(&self, caller: &Caller, bucket: &str, key: &str) -> ModelResult<()> {
        let (caller, inner) = (caller.clone(), self.inner.clone());
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            crate::access::bucket_for_key(&*txn, &bucket, &key, &caller, Operation::PutObject).map(|_| ())
        })
        .await
    }

    /// The bucket's region (GetBucketLocation).
    pub async fn bucket_location(&self, caller: &Caller, name: &str) -> ModelResult<String> {
        self.read_bucket(caller, name, Operation::GetBucketLocation, |b| Ok(b.location))
            .await
    }

    /// The caller's own buckets in name order, after `start_after`, starting with
    /// `prefix`; at most `max`. The flag tells whether more follow.
    pub async fn list_buckets(
        &self,
        caller: &Caller,
        prefix: Option<&str>,
        start_after: Option<&str>,
        max: usize,
    ) -> ModelResult<(Vec<BucketInfo>, bool)> {
        allow(caller, Operation::ListBuckets.action(false), None, None, None)?;
        let owner = caller.owner_id();
        let inner = self.inner.clone();
        let prefix = prefix.unwrap_or("").to_string();
        let start_after = start_after.map(str::to_string);
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let start = match &start_after {
                Some(s) if s.as_str() >= prefix.as_str() => Bound::Excluded(s.as_bytes()),
                _ => Bound::Included(prefix.as_bytes()),
            };
            // Only the caller's own buckets, as on AWS (root's too: it may act on
            // every bucket, but lists its own).
            let mut out = Vec::new();
            let mut more = false;
            let mut failed = None;
            txn.scan(tables::BUCKETS, start, Bound::Unbounded, &mut |k, v| {
                if !k.starts_with(prefix.as_bytes()) {
                    return false;
                }
                let rec = match decode::<BucketRecord>(v) {
                    Ok(rec) => rec,
                    Err(e) => {
                        failed = Some(e);
                        return false;
                    }
                };
                if rec.owner != owner {
                    return true;
                }
                if out.len() == max {
                    more = true;
                    return false;
                }
                out.push(BucketInfo::from(&rec));
                true
            })?;
            match failed {
                Some(e) => Err(e),
                None => Ok((out, more)),
            }
        })
        .await
    }

    /// The bucket's versioning state (`Unversioned` until versioning is first set).
    pub async fn bucket_versioning(&self, caller: &Caller, name: &str) -> ModelResult<VersioningState> {
        self.read_bucket(caller, name, Operation::GetBucketVersioning, |b| Ok(b.versioning))
            .await
    }

    /// Sets versioning to `Enabled` or `Suspended`. A bucket never returns to
    /// `Unversioned`; its existing objects keep their versions (`null` for objects
    /// written before versioning was enabled).
    pub async fn set_bucket_versioning(&self, caller: &Caller, name: &str, state: VersioningState) -> ModelResult<()> {
        let caller = caller.clone();
        if state == VersioningState::Unversioned {
            return Err(ModelError::InvalidArgument(
                "versioning can only be set to Enabled or Suspended".into(),
            ));
        }
        let name = name.to_string();
        self.inner
            .committer
            .write(move |txn| {
                let mut rec = bucket_for(&*txn, &name, &caller, Operation::PutBucketVersioning)?;
                if rec.object_lock && state != VersioningState::Enabled {
                    return Err(ModelError::InvalidBucketState(
                        "An Object Lock configuration is present on this bucket, so the versioning state cannot be \
                         changed."
                            .into(),
                    ));
                }
                if rec.versioning != state {
                    rec.versioning = state;
                    txn.put(tables::BUCKETS, name.as_bytes(), &encode(&rec))?;
                }
                Ok(())
            })
            .await
    }

    /// Deletes an empty bucket: no objects, versions or delete markers. Multipart
    /// uploads in progress do not keep it alive: they are aborted with it, as on AWS.
    pub async fn delete_bucket(&self, caller: &Caller, name: &str) -> ModelResult<()> {
        let caller = caller.clone();
        let name = name.to_string();
        let result = self
            .inner
            .committer
            .write(move |txn| {
                let rec = bucket_for(&*txn, &name, &caller, Operation::DeleteBucket)?;
                let start = object_key(rec.id, "");
                let end = bucket_end(rec.id);
                for table in [tables::OBJECTS, tables::VERSIONS] {
                    if !txn
                        .range(table, Bound::Included(&start), Bound::Excluded(&end), 1)?
                        .is_empty()
                    {
                        return Err(ModelError::BucketNotEmpty);
                    }
                }
                crate::multipart::remove_bucket_uploads(&mut *txn, rec.id)?;
                crate::cors::forget(&mut *txn, rec.id)?;
                crate::bucket_keys::forget(&mut *txn, rec.id)?;
                crate::tagging::forget(&mut *txn, rec.id)?;
                crate::lock::forget(&mut *txn, rec.id)?;
                crate::lifecycle::forget(&mut *txn, rec.id)?;
                txn.delete(tables::BUCKETS, name.as_bytes())?;
                // Other gateways' caches may hold the bucket's CORS rules.
                crate::epochs::bump(txn, crate::epochs::Cached::Cors)?;
                crate::stats::forget(&mut *txn, rec.id)
            })
            .await;
        // Its CORS rules went with it (and a bucket made again under the name has none).
        self.inner.cors_cache.invalidate();
        result
    }

    /// Every bucket, whoever owns it: the administrator's view (`admin:ListAllBuckets`), for the
    /// admin API. S3's ListBuckets lists the caller's own ([`Ferrite::list_buckets`]).
    pub async fn list_all_buckets(&self, caller: &Caller) -> ModelResult<Vec<BucketInfo>> {
        crate::identity::require_iam(caller, "admin:ListAllBuckets", "*")?;
        let inner = self.inner.clone();
        blocking(move || {
            let mut out = Vec::new();
            scan_buckets(&*inner.meta.begin_read()?, &mut |b| {
                out.push(BucketInfo::from(&b));
                true
            })?;
            Ok(out)
        })
        .await
    }

    /// Every bucket's usage, by bucket name: one lookup per bucket. The server's own
    /// operational read (metrics), not an S3 operation: no caller.
    pub async fn bucket_usage(&self) -> ModelResult<Vec<(String, BucketUsage)>> {
        let inner = self.inner.clone();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let mut buckets = Vec::new();
            scan_buckets(&*txn, &mut |b| {
                buckets.push(b);
                true
            })?;
            buckets
                .into_iter()
                .map(|b| Ok((b.name, crate::stats::read(&*txn, b.id)?)))
                .collect()
        })
        .await
    }
}

//! Access control lists (AWS's ACL model) and object ownership controls: canned ACLs
//! and grants as requests state them, who owns what a write creates, and the ACL and
//! ownership-control operations. Deciding with them is the authorizer's job
//! ([`crate::authz`]).

use ferrite_store::ReadTxn;

use crate::access::{allow, bucket_for, not_found, object_facts};
use crate::authz::Operation;
use crate::engine::blocking;
use crate::lookup::get_bucket;
use crate::records::{AclSpec, BucketRecord, CannedAcl, Grant, Grantee, Group, ObjectOwnership, Permission, encode};
use crate::versions::{VersionSel, find, newest, replace_version, version_label};
use crate::{Caller, Ferrite, ModelError, ModelResult, tables, validate_key};

/// The canonical id AWS gives anonymous requesters (the owner of what they write into
/// a bucket that lets everyone write).
pub const ANONYMOUS_ID: &str = "65a011a29cdf8ec533ec3d1ccaae921c";
/// An ACL holds at most this many grants, as on AWS.
pub const MAX_GRANTS: usize = 100;

/// An ACL as GetBucketAcl and GetObjectAcl show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclView {
    pub owner: String,
    pub grants: Vec<Grant>,
}

fn full_control(id: &str) -> Grant {
    Grant {
        grantee: Grantee::User(id.to_string()),
        permission: Permission::FullControl,
    }
}

fn to_group(group: Group, permission: Permission) -> Grant {
    Grant {
        grantee: Grantee::Group(group),
        permission,
    }
}

/// The grants of a canned ACL for a resource owned by `owner`; `bucket_owner` is the
/// owner of the object's bucket (`None` for a bucket's own ACL: the bucket-owner ACLs
/// then mean the owner alone, as AWS ignores them on buckets). The owner's grant comes
/// last (grant order means nothing; this is the order Ceph RGW lists them in, which
/// its test suite compares against).
fn canned_grants(c: CannedAcl, owner: &str, bucket_owner: Option<&str>) -> Vec<Grant> {
    let mut g = Vec::new();
    match c {
        // `aws-exec-read` also grants READ to Amazon EC2, which does not exist here.
        CannedAcl::Private | CannedAcl::AwsExecRead => {}
        CannedAcl::PublicRead => g.push(to_group(Group::AllUsers, Permission::Read)),
        CannedAcl::PublicReadWrite => {
            g.push(to_group(Group::AllUsers, Permission::Read));
            g.push(to_group(Group::AllUsers, Permission::Write));
        }
        CannedAcl::AuthenticatedRead => g.push(to_group(Group::AuthenticatedUsers, Permission::Read)),
        CannedAcl::BucketOwnerRead | CannedAcl::BucketOwnerFullControl => {
            let permission = if c == CannedAcl::BucketOwnerRead {
                Permission::Read
            } else {
                Permission::FullControl
            };
            if let Some(b) = bucket_owner.filter(|b| *b != owner) {
                g.push(Grant {
                    grantee: Grantee::User(b.to_string()),
                    permission,
                });
            }
        }
        CannedAcl::LogDeliveryWrite => {
            g.push(to_group(Group::LogDelivery, Permission::Write));
            g.push(to_group(Group::LogDelivery, Permission::ReadAcp));
        }
    }
    g.push(full_control(owner));
    g
}

/// The ACL to store for `spec` on a resource owned by `owner`: `None` for the
/// default (the owner alone, FULL_CONTROL).
fn resolve(spec: &AclSpec, owner: &str, bucket_owner: Option<&str>) -> Option<Vec<Grant>> {
    let grants = match spec {
        AclSpec::Canned(c) => canned_grants(*c, owner, bucket_owner),
        AclSpec::Grants(g) => g.clone(),
    };
    (grants != [full_control(owner)]).then_some(grants)
}

/// The grants an ACL holds (`None`: the default).
pub(crate) fn effective(acl: Option<&[Grant]>, owner: &str) -> Vec<Grant> {
    match acl {
        Some(g) => g.to_vec(),
        None => vec![full_control(owner)],
    }
}

/// Refuses an ACL AWS would refuse: too many grants, or a grant to a canonical id no
/// principal has. Checked before anything is written.
fn check_spec(txn: &dyn ReadTxn, root_id: &str, spec: &AclSpec) -> ModelResult<()> {
    let AclSpec::Grants(grants) = spec else {
        return Ok(());
    };
    if grants.len() > MAX_GRANTS {
        return Err(ModelError::MalformedAcl(format!(
            "an ACL may hold at most {MAX_GRANTS} grants"
        )));
    }
    for g in grants {
        if let Grantee::User(id) = &g.grantee
            && !known_principal(txn, root_id, id)?
        {
            return Err(ModelError::InvalidArgument("Invalid id".into()));
        }
    }
    Ok(())
}

/// Refuses a public ACL (a grant to AllUsers or AuthenticatedUsers) where the public
/// access block in force (the server's, and `bucket`'s own) blocks public ACLs.
fn refuse_public(caller: &Caller, bucket: Option<&BucketRecord>, grants: Option<&[Grant]>) -> ModelResult<()> {
    let block = bucket
        .and_then(|b| b.public_access_block)
        .unwrap_or_default()
        .union(caller.account_block);
    let public = grants.is_some_and(|g| g.iter().any(|g| crate::authz::is_public_grantee(&g.grantee)));
    if block.block_public_acls && public {
        return Err(ModelError::AccessDenied);
    }
    Ok(())
}

/// Whether a canonical id names a principal of this server.
fn known_principal(txn: &dyn ReadTxn, root_id: &str, id: &str) -> ModelResult<bool> {
    if id == root_id || id == ANONYMOUS_ID {
        return Ok(true);
    }
    crate::users::canonical_id_exists(txn, id)
}

/// Whether `spec` is an ACL a bucket with ACLs disabled (BucketOwnerEnforced) accepts:
/// only one that gives the bucket owner full control and nothing else.
fn acceptable_when_enforced(spec: &AclSpec, bucket_owner: &str) -> bool {
    match spec {
        AclSpec::Canned(c) => matches!(c, CannedAcl::BucketOwnerFullControl | CannedAcl::Private),
        AclSpec::Grants(g) => g.as_slice() == [full_control(bucket_owner)],
    }
}

/// Who owns a version `writer` writes into `bucket`, and the ACL it gets from the
/// request's `spec`: the writer and its ACL, except that the bucket owner owns it
/// under `BucketOwnerEnforced` (where ACLs are refused) and, under
/// `BucketOwnerPreferred`, when the writer gave it `bucket-owner-full-control`.
pub(crate) fn written_by(
    txn: &dyn ReadTxn,
    root_id: &str,
    caller: &Caller,
    bucket: &BucketRecord,
    writer: &str,
    spec: Option<&AclSpec>,
) -> ModelResult<(String, Option<Vec<Grant>>)> {
    if let Some(spec) = spec {
        check_spec(txn, root_id, spec)?;
    }
    let (owner, acl) = written_by_rules(bucket, writer, spec)?;
    refuse_public(caller, Some(bucket), acl.as_deref())?;
    Ok((owner, acl))
}

fn written_by_rules(
    bucket: &BucketRecord,
    writer: &str,
    spec: Option<&AclSpec>,
) -> ModelResult<(String, Option<Vec<Grant>>)> {
    match (bucket.ownership, spec) {
        (Some(ObjectOwnership::BucketOwnerEnforced), Some(s)) if !acceptable_when_enforced(s, &bucket.owner) => {
            Err(ModelError::AccessControlListNotSupported)
        }
        (Some(ObjectOwnership::BucketOwnerEnforced), _) => Ok((bucket.owner.clone(), None)),
        (Some(ObjectOwnership::BucketOwnerPreferred), Some(AclSpec::Canned(CannedAcl::BucketOwnerFullControl))) => {
            Ok((bucket.owner.clone(), None))
        }
        (_, None) => Ok((writer.to_string(), None)),
        (_, Some(s)) => Ok((writer.to_string(), resolve(s, writer, Some(&bucket.owner)))),
    }
}

/// The ACL and ownership a new bucket gets. A bucket with ACLs disabled takes no ACL
/// but the owner's own.
pub(crate) fn new_bucket_acl(
    txn: &dyn ReadTxn,
    root_id: &str,
    caller: &Caller,
    owner: &str,
    spec: Option<&AclSpec>,
    ownership: Option<ObjectOwnership>,
) -> ModelResult<Option<Vec<Grant>>> {
    let Some(spec) = spec else { return Ok(None) };
    check_spec(txn, root_id, spec)?;
    if ownership == Some(ObjectOwnership::BucketOwnerEnforced) && !acceptable_when_enforced(spec, owner) {
        return Err(ModelError::InvalidBucketAclWithObjectOwnership);
    }
    let acl = resolve(spec, owner, None);
    refuse_public(caller, None, acl.as_deref())?;
    Ok(acl)
}

impl Ferrite {
    /// The bucket's ACL.
    pub async fn get_bucket_acl(&self, caller: &Caller, bucket: &str) -> ModelResult<AclView> {
        self.read_bucket(caller, bucket, Operation::GetBucketAcl, |b| {
            Ok(AclView {
                grants: effective(b.acl.as_deref(), &b.owner),
                owner: b.owner,
            })
        })
        .await
    }

    /// Replaces the bucket's ACL.
    pub async fn put_bucket_acl(&self, caller: &Caller, bucket: &str, spec: AclSpec) -> ModelResult<()> {
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        let root_id = self.inner.opts.root_canonical_id.clone();
        self.inner
            .committer
            .write(move |txn| {
                let mut b = bucket_for(&*txn, &bucket, &caller, Operation::PutBucketAcl)?;
                check_spec(&*txn, &root_id, &spec)?;
                if b.ownership == Some(ObjectOwnership::BucketOwnerEnforced)
                    && !acceptable_when_enforced(&spec, &b.owner)
                {
                    return Err(ModelError::AccessControlListNotSupported);
                }
                let acl = resolve(&spec, &b.owner, None);
                refuse_public(&caller, Some(&b), acl.as_deref())?;
                b.acl = acl;
                txn.put(tables::BUCKETS, bucket.as_bytes(), &encode(&b))?;
                Ok(())
            })
            .await
    }

    /// The ACL of the current object, or of `version`.
    pub async fn get_object_acl(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ModelResult<(AclView, Option<String>)> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let (caller, inner) = (caller.clone(), self.inner.clone());
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = get_bucket(&*txn, &bucket)?;
            let (_, rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
            allow(
                &caller,
                Operation::GetObjectAcl.action(sel.is_some()),
                Some(&b),
                Some(&key),
                Some(object_facts(&rec)),
            )?;
            let version_id = sel.as_ref().map(|_| version_label(&rec));
            Ok((
                AclView {
                    grants: effective(rec.acl.as_deref(), &rec.owner),
                    owner: rec.owner,
                },
                version_id,
            ))
        })
        .await
    }

    /// Replaces the ACL of the current object, or of `version`: the version is not
    /// rewritten, only its ACL changes.
    pub async fn put_object_acl(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        spec: AclSpec,
    ) -> ModelResult<Option<String>> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let caller = caller.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let root_id = self.inner.opts.root_canonical_id.clone();
        self.inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let (seq, mut rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
                allow(
                    &caller,
                    Operation::PutObjectAcl.action(sel.is_some()),
                    Some(&b),
                    Some(&key),
                    Some(object_facts(&rec)),
                )?;
                check_spec(&*txn, &root_id, &spec)?;
                if b.ownership == Some(ObjectOwnership::BucketOwnerEnforced)
                    && !acceptable_when_enforced(&spec, &b.owner)
                {
                    return Err(ModelError::AccessControlListNotSupported);
                }
                let acl = resolve(&spec, &rec.owner, Some(&b.owner));
                refuse_public(&caller, Some(&b), acl.as_deref())?;
                rec.acl = acl;
                replace_version(txn, b.id, &key, seq, &rec)?;
                Ok(sel.as_ref().map(|_| version_label(&rec)))
            })
            .await
    }

    /// The bucket's object ownership setting; `OwnershipControlsNotFound` when none
    /// was set.
    pub async fn bucket_ownership(&self, caller: &Caller, bucket: &str) -> ModelResult<ObjectOwnership> {
        self.read_bucket(caller, bucket, Operation::GetBucketOwnershipControls, |b| {
            b.ownership.ok_or(ModelError::OwnershipControlsNotFound)
        })
        .await
    }

    /// Sets (or, with `None`, removes) the bucket's object ownership setting. ACLs can
    /// be disabled only on a bucket whose ACL is its owner's alone.
    pub async fn set_bucket_ownership(
        &self,
        caller: &Caller,
        bucket: &str,
        ownership: Option<ObjectOwnership>,
    ) -> ModelResult<()> {
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        let op = match ownership {
            Some(_) => Operation::PutBucketOwnershipControls,
            None => Operation::DeleteBucketOwnershipControls,
        };
        self.inner
            .committer
            .write(move |txn| {
                let mut b = bucket_for(&*txn, &bucket, &caller, op)?;
                if ownership == Some(ObjectOwnership::BucketOwnerEnforced) && b.acl.is_some() {
                    return Err(ModelError::InvalidBucketAclWithObjectOwnership);
                }
                if b.ownership != ownership {
                    b.ownership = ownership;
                    txn.put(tables::BUCKETS, bucket.as_bytes(), &encode(&b))?;
                }
                Ok(())
            })
            .await
    }
}

/// The version an ACL or tagging operation addresses: the current one (a delete
/// marker there is NoSuchKey) or the one named (a delete marker there is
/// MethodNotAllowed, as AWS answers). Missing ones are reported only to callers that
/// may list the bucket.
pub(crate) fn addressed_version(
    txn: &dyn ReadTxn,
    caller: &Caller,
    b: &BucketRecord,
    key: &str,
    sel: Option<&VersionSel>,
) -> ModelResult<(u64, crate::records::ObjectRecord)> {
    let found = match sel {
        None => newest(txn, b.id, key)?.filter(|(_, r)| !r.delete_marker),
        Some(sel) => find(txn, b.id, key, sel)?,
    };
    match found {
        Some((_, rec)) if rec.delete_marker => Err(ModelError::DeleteMarkerVersion {
            version_id: version_label(&rec),
            last_modified_ms: rec.last_modified_ms,
        }),
        Some(found) => Ok(found),
        None if sel.is_some() => Err(not_found(caller, b, key, ModelError::NoSuchVersion)),
        None => Err(not_found(caller, b, key, ModelError::NoSuchKey)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_grant_as_aws_documents() {
        let g = |c| canned_grants(c, "o", Some("b"));
        assert_eq!(g(CannedAcl::Private), vec![full_control("o")]);
        assert_eq!(
            g(CannedAcl::PublicReadWrite),
            vec![
                to_group(Group::AllUsers, Permission::Read),
                to_group(Group::AllUsers, Permission::Write),
                full_control("o"),
            ]
        );
        assert_eq!(
            g(CannedAcl::AuthenticatedRead)[0],
            to_group(Group::AuthenticatedUsers, Permission::Read)
        );
        assert_eq!(
            g(CannedAcl::BucketOwnerRead)[0],
            Grant {
                grantee: Grantee::User("b".into()),
                permission: Permission::Read
            }
        );
        assert_eq!(g(CannedAcl::BucketOwnerFullControl)[0], full_control("b"));
        // On a bucket, or when the writer owns the bucket: the owner alone.
        assert_eq!(
            canned_grants(CannedAcl::BucketOwnerFullControl, "o", None),
            vec![full_control("o")]
        );
        assert_eq!(
            canned_grants(CannedAcl::BucketOwnerRead, "o", Some("o")),
            vec![full_control("o")]
        );
        assert_eq!(g(CannedAcl::LogDeliveryWrite).len(), 3);
        for c in CannedAcl::ALL {
            assert_eq!(CannedAcl::parse(c.as_str()), Some(c));
        }
        assert_eq!(CannedAcl::parse("Private"), None);
    }

    #[test]
    fn the_default_acl_is_stored_as_none() {
        assert_eq!(resolve(&AclSpec::Canned(CannedAcl::Private), "o", Some("b")), None);
        assert_eq!(resolve(&AclSpec::Grants(vec![full_control("o")]), "o", None), None);
        assert!(resolve(&AclSpec::Grants(vec![]), "o", None).is_some_and(|g| g.is_empty()));
        assert_eq!(effective(None, "o"), vec![full_control("o")]);
    }
}

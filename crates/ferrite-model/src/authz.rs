//! The authorizer: one pure function, [`authorize`], decides every S3 operation from
//! (caller with its identity policies and request facts, action, the resource's
//! stored owner, ACLs, bucket policy and public access block). It reads nothing and
//! writes nothing; the model operations load the records and ask it before they act.
//!
//! The whole server is one AWS account ([`ACCOUNT_ID`]) with many users, and this is
//! AWS's evaluation for a request within one account:
//! 1. A request naming an expected bucket owner that does not own the bucket: denied.
//! 2. An explicit `Deny` in any applicable policy (the caller's identity policies, the
//!    bucket policy) denies, root included, except that root and the bucket owner may
//!    always read, change and delete the bucket policy (no one is locked out).
//! 3. The root principal (the administrator) is allowed everything else.
//! 4. An `Allow` from the caller's identity policies or from the bucket policy allows
//!    (a public bucket policy allows nothing to anonymous callers when the bucket
//!    restricts public buckets).
//! 5. Service actions (ListAllMyBuckets, CreateBucket): any signed caller.
//! 6. Bucket actions: the bucket owner has the owner-only actions and, implicitly,
//!    READ_ACP and WRITE_ACP and the right to delete any object; everything else comes
//!    from the bucket ACL's grants (to the caller's canonical id, to AllUsers, to
//!    AuthenticatedUsers for signed callers).
//! 7. Object actions: the object owner has READ_ACP and WRITE_ACP implicitly; everything
//!    else from the object ACL. With `BucketOwnerEnforced` ownership ACLs are disabled:
//!    only the bucket owner (who then owns every object) has access.
//!    Public grants (to AllUsers, AuthenticatedUsers) count for nothing when the
//!    public access block ignores public ACLs.
//! 8. Anything not allowed is denied.

use std::sync::OnceLock;

use ferrite_policy::{Context, ContextSource, Outcome, Policy};

use crate::records::{Grant, Grantee, Group, ObjectOwnership, Permission, PublicAccessBlock};
use crate::{Caller, Principal};

/// The account id of the server's one account: users' and root's ARNs name it.
pub const ACCOUNT_ID: &str = "000000000000";

/// A bucket policy, parsed, with whether it is public by AWS's definition (computed
/// once, when it is parsed). `policy` is `None` for a stored document that no longer
/// parses: it denies every request (but root's and the owner's policy changes).
#[derive(Debug)]
pub struct BucketPolicy {
    pub policy: Option<Policy>,
    pub public: bool,
}

/// S3 actions, named as IAM policies name them (`s3:GetObject`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ListAllMyBuckets,
    CreateBucket,
    DeleteBucket,
    ListBucket,
    ListBucketVersions,
    ListBucketMultipartUploads,
    GetBucketLocation,
    GetBucketVersioning,
    PutBucketVersioning,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    GetObject,
    GetObjectVersion,
    PutObject,
    DeleteObject,
    DeleteObjectVersion,
    GetObjectAcl,
    GetObjectVersionAcl,
    PutObjectAcl,
    PutObjectVersionAcl,
    AbortMultipartUpload,
    ListMultipartUploadParts,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketPublicAccessBlock,
    PutBucketPublicAccessBlock,
    GetBucketCORS,
    PutBucketCORS,
    GetEncryptionConfiguration,
    PutEncryptionConfiguration,
    GetObjectTagging,
    GetObjectVersionTagging,
    PutObjectTagging,
    PutObjectVersionTagging,
    DeleteObjectTagging,
    DeleteObjectVersionTagging,
    GetBucketTagging,
    PutBucketTagging,
    GetBucketObjectLockConfiguration,
    PutBucketObjectLockConfiguration,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    BypassGovernanceRetention,
    GetLifecycleConfiguration,
    PutLifecycleConfiguration,
    RestoreObject,
}

impl Action {
    /// The action's name in IAM policies.
    pub fn name(self) -> &'static str {
        match self {
            Action::ListAllMyBuckets => "s3:ListAllMyBuckets",
            Action::CreateBucket => "s3:CreateBucket",
            Action::DeleteBucket => "s3:DeleteBucket",
            Action::ListBucket => "s3:ListBucket",
            Action::ListBucketVersions => "s3:ListBucketVersions",
            Action::ListBucketMultipartUploads => "s3:ListBucketMultipartUploads",
            Action::GetBucketLocation => "s3:GetBucketLocation",
            Action::GetBucketVersioning => "s3:GetBucketVersioning",
            Action::PutBucketVersioning => "s3:PutBucketVersioning",
            Action::GetBucketAcl => "s3:GetBucketAcl",
            Action::PutBucketAcl => "s3:PutBucketAcl",
            Action::GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
            Action::PutBucketOwnershipControls => "s3:PutBucketOwnershipControls",
            Action::GetObject => "s3:GetObject",
            Action::GetObjectVersion => "s3:GetObjectVersion",
            Action::PutObject => "s3:PutObject",
            Action::DeleteObject => "s3:DeleteObject",
            Action::DeleteObjectVersion => "s3:DeleteObjectVersion",
            Action::GetObjectAcl => "s3:GetObjectAcl",
            Action::GetObjectVersionAcl => "s3:GetObjectVersionAcl",
            Action::PutObjectAcl => "s3:PutObjectAcl",
            Action::PutObjectVersionAcl => "s3:PutObjectVersionAcl",
            Action::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Action::ListMultipartUploadParts => "s3:ListMultipartUploadParts",
            Action::GetBucketPolicy => "s3:GetBucketPolicy",
            Action::PutBucketPolicy => "s3:PutBucketPolicy",
            Action::DeleteBucketPolicy => "s3:DeleteBucketPolicy",
            Action::GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
            Action::GetBucketPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
            Action::PutBucketPublicAccessBlock => "s3:PutBucketPublicAccessBlock",
            Action::GetBucketCORS => "s3:GetBucketCORS",
            Action::PutBucketCORS => "s3:PutBucketCORS",
            Action::GetEncryptionConfiguration => "s3:GetEncryptionConfiguration",
            Action::PutEncryptionConfiguration => "s3:PutEncryptionConfiguration",
            Action::GetObjectTagging => "s3:GetObjectTagging",
            Action::GetObjectVersionTagging => "s3:GetObjectVersionTagging",
            Action::PutObjectTagging => "s3:PutObjectTagging",
            Action::PutObjectVersionTagging => "s3:PutObjectVersionTagging",
            Action::DeleteObjectTagging => "s3:DeleteObjectTagging",
            Action::DeleteObjectVersionTagging => "s3:DeleteObjectVersionTagging",
            Action::GetBucketTagging => "s3:GetBucketTagging",
            Action::PutBucketTagging => "s3:PutBucketTagging",
            Action::GetBucketObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
            Action::PutBucketObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
            Action::GetLifecycleConfiguration => "s3:GetLifecycleConfiguration",
            Action::PutLifecycleConfiguration => "s3:PutLifecycleConfiguration",
            Action::RestoreObject => "s3:RestoreObject",
            Action::GetObjectRetention => "s3:GetObjectRetention",
            Action::PutObjectRetention => "s3:PutObjectRetention",
            Action::GetObjectLegalHold => "s3:GetObjectLegalHold",
            Action::PutObjectLegalHold => "s3:PutObjectLegalHold",
            Action::BypassGovernanceRetention => "s3:BypassGovernanceRetention",
        }
    }

    /// Whether the action is on an object (its resource is `arn:aws:s3:::bucket/key`)
    /// rather than on a bucket or the service.
    pub fn on_object(self) -> bool {
        matches!(
            self,
            Action::GetObject
                | Action::GetObjectVersion
                | Action::PutObject
                | Action::DeleteObject
                | Action::DeleteObjectVersion
                | Action::GetObjectAcl
                | Action::GetObjectVersionAcl
                | Action::PutObjectAcl
                | Action::PutObjectVersionAcl
                | Action::AbortMultipartUpload
                | Action::ListMultipartUploadParts
                | Action::GetObjectTagging
                | Action::GetObjectVersionTagging
                | Action::PutObjectTagging
                | Action::PutObjectVersionTagging
                | Action::DeleteObjectTagging
                | Action::DeleteObjectVersionTagging
                | Action::GetObjectRetention
                | Action::PutObjectRetention
                | Action::GetObjectLegalHold
                | Action::PutObjectLegalHold
                | Action::BypassGovernanceRetention
        )
    }

    /// The actions on a bucket's policy, which root and the bucket owner keep whatever
    /// the policy says.
    fn manages_policy(self) -> bool {
        matches!(
            self,
            Action::GetBucketPolicy | Action::PutBucketPolicy | Action::DeleteBucketPolicy
        )
    }

    /// What an ACL-only decision requires for this action.
    fn need(self) -> Need {
        use Permission as P;
        match self {
            Action::ListAllMyBuckets | Action::CreateBucket => Need::Signed,
            Action::DeleteBucket
            | Action::GetBucketLocation
            | Action::GetBucketVersioning
            | Action::PutBucketVersioning
            | Action::GetBucketOwnershipControls
            | Action::PutBucketOwnershipControls
            | Action::GetBucketPolicy
            | Action::PutBucketPolicy
            | Action::DeleteBucketPolicy
            | Action::GetBucketPolicyStatus
            | Action::GetBucketPublicAccessBlock
            | Action::PutBucketPublicAccessBlock
            | Action::GetBucketCORS
            | Action::PutBucketCORS
            | Action::GetEncryptionConfiguration
            | Action::PutEncryptionConfiguration
            | Action::GetBucketTagging
            | Action::PutBucketTagging
            | Action::GetBucketObjectLockConfiguration
            | Action::PutBucketObjectLockConfiguration
            | Action::GetLifecycleConfiguration
            | Action::PutLifecycleConfiguration => Need::BucketOwner,
            Action::ListBucket | Action::ListBucketVersions | Action::ListBucketMultipartUploads => {
                Need::Bucket(P::Read)
            }
            Action::GetBucketAcl => Need::Bucket(P::ReadAcp),
            Action::PutBucketAcl => Need::Bucket(P::WriteAcp),
            Action::PutObject => Need::Bucket(P::Write),
            Action::DeleteObject | Action::DeleteObjectVersion => Need::Delete,
            Action::AbortMultipartUpload => Need::InitiatorOr(P::Write),
            Action::ListMultipartUploadParts => Need::InitiatorOr(P::Read),
            Action::GetObject | Action::GetObjectVersion => Need::Object(P::Read),
            Action::GetObjectAcl | Action::GetObjectVersionAcl => Need::Object(P::ReadAcp),
            Action::PutObjectAcl | Action::PutObjectVersionAcl => Need::Object(P::WriteAcp),
            // ACLs have no tagging permission: who may read an object may read its
            // tags, and its owner (or a FULL_CONTROL grantee) changes them, as its ACL.
            Action::GetObjectTagging | Action::GetObjectVersionTagging => Need::Object(P::Read),
            Action::PutObjectTagging
            | Action::PutObjectVersionTagging
            | Action::DeleteObjectTagging
            | Action::DeleteObjectVersionTagging => Need::Object(P::WriteAcp),
            // ACLs have no restore permission either: the object's owner (or a
            // FULL_CONTROL grantee) may restore it.
            Action::RestoreObject => Need::Object(P::WriteAcp),
            // Likewise a version's retention and legal hold.
            Action::GetObjectRetention | Action::GetObjectLegalHold => Need::Object(P::Read),
            Action::PutObjectRetention | Action::PutObjectLegalHold => Need::Object(P::WriteAcp),
            // Overriding GOVERNANCE retention is never granted by an ACL or by owning
            // the bucket: only root and an explicit policy Allow.
            Action::BypassGovernanceRetention => Need::PolicyOnly,
        }
    }
}

/// The S3 operations and the action each is authorized as: the one table. `versioned`
/// says whether the request names a version (`versionId`), which some operations
/// authorize as their `...Version` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketLocation,
    GetBucketVersioning,
    PutBucketVersioning,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    ListMultipartUploads,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetObject,
    HeadObject,
    PutObject,
    /// CopyObject, as a write to its destination.
    CopyObject,
    /// The source of CopyObject or UploadPartCopy, as a read.
    CopySource,
    DeleteObject,
    /// Each key of a DeleteObjects request.
    DeleteObjects,
    GetObjectAcl,
    PutObjectAcl,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketCors,
    /// PutBucketCors, and DeleteBucketCors (AWS has no delete permission for CORS).
    PutBucketCors,
    DeleteBucketCors,
    GetBucketEncryption,
    /// PutBucketEncryption, and DeleteBucketEncryption (both s3:PutEncryptionConfiguration).
    PutBucketEncryption,
    DeleteBucketEncryption,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetBucketTagging,
    /// PutBucketTagging, and DeleteBucketTagging (both s3:PutBucketTagging).
    PutBucketTagging,
    DeleteBucketTagging,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    GetBucketLifecycle,
    /// PutBucketLifecycleConfiguration, and DeleteBucketLifecycle (both
    /// s3:PutLifecycleConfiguration).
    PutBucketLifecycle,
    DeleteBucketLifecycle,
    RestoreObject,
}

impl Operation {
    pub fn action(self, versioned: bool) -> Action {
        use Action as A;
        match self {
            Operation::ListBuckets => A::ListAllMyBuckets,
            Operation::CreateBucket => A::CreateBucket,
            Operation::DeleteBucket => A::DeleteBucket,
            Operation::HeadBucket | Operation::ListObjects | Operation::ListObjectsV2 => A::ListBucket,
            Operation::GetBucketLocation => A::GetBucketLocation,
            Operation::GetBucketVersioning => A::GetBucketVersioning,
            Operation::PutBucketVersioning => A::PutBucketVersioning,
            Operation::ListObjectVersions => A::ListBucketVersions,
            Operation::ListMultipartUploads => A::ListBucketMultipartUploads,
            Operation::GetBucketAcl => A::GetBucketAcl,
            Operation::PutBucketAcl => A::PutBucketAcl,
            Operation::GetBucketOwnershipControls => A::GetBucketOwnershipControls,
            Operation::PutBucketOwnershipControls | Operation::DeleteBucketOwnershipControls => {
                A::PutBucketOwnershipControls
            }
            Operation::GetObject | Operation::HeadObject | Operation::CopySource if versioned => A::GetObjectVersion,
            Operation::GetObject | Operation::HeadObject | Operation::CopySource => A::GetObject,
            Operation::PutObject
            | Operation::CopyObject
            | Operation::CreateMultipartUpload
            | Operation::UploadPart
            | Operation::UploadPartCopy
            | Operation::CompleteMultipartUpload => A::PutObject,
            Operation::DeleteObject | Operation::DeleteObjects if versioned => A::DeleteObjectVersion,
            Operation::DeleteObject | Operation::DeleteObjects => A::DeleteObject,
            Operation::GetObjectAcl if versioned => A::GetObjectVersionAcl,
            Operation::GetObjectAcl => A::GetObjectAcl,
            Operation::PutObjectAcl if versioned => A::PutObjectVersionAcl,
            Operation::PutObjectAcl => A::PutObjectAcl,
            Operation::AbortMultipartUpload => A::AbortMultipartUpload,
            Operation::ListParts => A::ListMultipartUploadParts,
            Operation::GetBucketPolicy => A::GetBucketPolicy,
            Operation::PutBucketPolicy => A::PutBucketPolicy,
            Operation::DeleteBucketPolicy => A::DeleteBucketPolicy,
            Operation::GetBucketPolicyStatus => A::GetBucketPolicyStatus,
            Operation::GetPublicAccessBlock => A::GetBucketPublicAccessBlock,
            Operation::PutPublicAccessBlock | Operation::DeletePublicAccessBlock => A::PutBucketPublicAccessBlock,
            Operation::GetBucketCors => A::GetBucketCORS,
            Operation::PutBucketCors | Operation::DeleteBucketCors => A::PutBucketCORS,
            Operation::GetBucketEncryption => A::GetEncryptionConfiguration,
            Operation::PutBucketEncryption | Operation::DeleteBucketEncryption => A::PutEncryptionConfiguration,
            Operation::GetObjectTagging if versioned => A::GetObjectVersionTagging,
            Operation::GetObjectTagging => A::GetObjectTagging,
            Operation::PutObjectTagging if versioned => A::PutObjectVersionTagging,
            Operation::PutObjectTagging => A::PutObjectTagging,
            Operation::DeleteObjectTagging if versioned => A::DeleteObjectVersionTagging,
            Operation::DeleteObjectTagging => A::DeleteObjectTagging,
            Operation::GetBucketTagging => A::GetBucketTagging,
            Operation::PutBucketTagging | Operation::DeleteBucketTagging => A::PutBucketTagging,
            Operation::GetObjectLockConfiguration => A::GetBucketObjectLockConfiguration,
            Operation::PutObjectLockConfiguration => A::PutBucketObjectLockConfiguration,
            // IAM has no version-specific lock actions.
            Operation::GetObjectRetention => A::GetObjectRetention,
            Operation::PutObjectRetention => A::PutObjectRetention,
            Operation::GetObjectLegalHold => A::GetObjectLegalHold,
            Operation::PutObjectLegalHold => A::PutObjectLegalHold,
            Operation::GetBucketLifecycle => A::GetLifecycleConfiguration,
            Operation::PutBucketLifecycle | Operation::DeleteBucketLifecycle => A::PutLifecycleConfiguration,
            Operation::RestoreObject => A::RestoreObject,
        }
    }
}

/// What an action requires when only ACLs decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any signed caller.
    Signed,
    /// The bucket owner only.
    BucketOwner,
    /// A permission on the bucket (the owner has READ_ACP and WRITE_ACP implicitly).
    Bucket(Permission),
    /// Deleting an object: the bucket owner, or WRITE on the bucket.
    Delete,
    /// The upload's initiator, the bucket owner, or a permission on the bucket.
    InitiatorOr(Permission),
    /// A permission on the object (its owner has READ_ACP and WRITE_ACP implicitly).
    Object(Permission),
    /// Nothing an ACL grants: only root and policies.
    PolicyOnly,
}

/// What the authorizer knows of a bucket.
#[derive(Debug, Clone, Copy)]
pub struct BucketFacts<'a> {
    pub name: &'a str,
    pub owner: &'a str,
    /// `None`: the default ACL (the owner has FULL_CONTROL).
    pub acl: Option<&'a [Grant]>,
    pub ownership: Option<ObjectOwnership>,
    pub policy: Option<&'a BucketPolicy>,
    /// The bucket's own public access block (the caller brings the server's).
    pub block: PublicAccessBlock,
}

/// What the authorizer knows of an object version (or of an upload: its initiator).
#[derive(Debug, Clone, Copy)]
pub struct ObjectFacts<'a> {
    pub owner: &'a str,
    /// `None`: the default ACL (the owner has FULL_CONTROL).
    pub acl: Option<&'a [Grant]>,
    /// The version's tags, which policies test as `s3:ExistingObjectTag/<key>`.
    pub tags: &'a [(String, String)],
}

/// The resource an action is on: no bucket for service actions; the key an object
/// action addresses; the object (or upload) when one is addressed and exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resource<'a> {
    pub key: Option<&'a str>,
    pub bucket: Option<BucketFacts<'a>>,
    pub object: Option<ObjectFacts<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// Decides whether `caller` may perform `action` on `resource`. Pure: the same inputs
/// always give the same answer.
pub fn authorize(caller: &Caller, action: Action, resource: &Resource<'_>) -> Decision {
    authorize_named(caller, action, resource, None)
}

/// [`authorize`] naming the bucket of an action on one that does not exist yet
/// (CreateBucket), for identity policies' resources.
pub fn authorize_named(
    caller: &Caller,
    action: Action,
    resource: &Resource<'_>,
    bucket_name: Option<&str>,
) -> Decision {
    // A request that names its bucket's expected owner is refused, whoever sends it,
    // when another principal owns the bucket.
    if let (Some(expected), Some(bucket)) = (&caller.expected_bucket_owner, &resource.bucket)
        && expected != bucket.owner
    {
        return Decision::Deny;
    }
    let block = resource
        .bucket
        .map_or(caller.account_block, |b| b.block.union(caller.account_block));
    let from_policies = policies(caller, action, resource, bucket_name, block);
    if from_policies == Outcome::Deny {
        let keeps_policy = action.manages_policy()
            && match &caller.principal {
                Principal::Root { .. } => true,
                Principal::User { canonical_id, .. } => resource.bucket.is_some_and(|b| b.owner == canonical_id),
                Principal::Anonymous => false,
            };
        if !keeps_policy {
            return Decision::Deny;
        }
    }
    let id = match &caller.principal {
        Principal::Root { .. } => return Decision::Allow,
        Principal::User { canonical_id, .. } => Some(canonical_id.as_str()),
        Principal::Anonymous => None,
    };
    if from_policies == Outcome::Allow {
        return Decision::Allow;
    }
    let allowed = match (action.need(), resource.bucket) {
        (Need::Signed, _) => id.is_some(),
        // Every other action is on a bucket; without one there is nothing to grant.
        (_, None) => false,
        (need, Some(bucket)) => on_bucket(need, bucket, resource.object, id, block.ignore_public_acls),
    };
    if allowed { Decision::Allow } else { Decision::Deny }
}

/// Step 2 and 4: what the identity policies and the bucket policy say together
/// (Deny over Allow over nothing).
fn policies(
    caller: &Caller,
    action: Action,
    resource: &Resource<'_>,
    bucket_name: Option<&str>,
    block: PublicAccessBlock,
) -> Outcome {
    let bucket_policy = resource.bucket.and_then(|b| b.policy);
    if caller.policies.is_empty() && bucket_policy.is_none() {
        return Outcome::NotApplicable;
    }
    let bucket = resource.bucket.map(|b| b.name).or(bucket_name);
    let arn = match (bucket, resource.key) {
        (Some(b), Some(k)) if action.on_object() => format!("arn:aws:s3:::{b}/{k}"),
        (Some(b), _) => format!("arn:aws:s3:::{b}"),
        (None, _) => "arn:aws:s3:::*".to_string(),
    };
    let with_tags;
    let context: &dyn ContextSource = match resource.object {
        Some(o) if !o.tags.is_empty() => {
            with_tags = ExistingTags {
                base: &*caller.context,
                tags: o.tags,
                cell: OnceLock::new(),
            };
            &with_tags
        }
        _ => &*caller.context,
    };
    let request = ferrite_policy::Request {
        account: ACCOUNT_ID,
        principal: caller.policy_principal(),
        action: action.name(),
        resource: &arn,
        context,
    };
    let mut outcome = caller.identity_outcome(&request);
    if outcome == Outcome::Deny {
        return Outcome::Deny;
    }
    if let Some(bp) = bucket_policy {
        match bp.policy.as_ref().map_or(Outcome::Deny, |p| p.evaluate(&request)) {
            Outcome::Deny => return Outcome::Deny,
            // A public policy grants nothing outside the account when the bucket
            // restricts public buckets: here, nothing to anonymous callers.
            Outcome::Allow
                if bp.public && block.restrict_public_buckets && matches!(caller.principal, Principal::Anonymous) => {}
            Outcome::Allow => outcome = Outcome::Allow,
            Outcome::NotApplicable => {}
        }
    }
    outcome
}

/// The request's condition keys and an existing object's tags as
/// `s3:ExistingObjectTag/<key>`, joined only when a condition asks for a key.
#[derive(Debug)]
struct ExistingTags<'a> {
    base: &'a dyn ContextSource,
    tags: &'a [(String, String)],
    cell: OnceLock<Context>,
}

impl ContextSource for ExistingTags<'_> {
    fn context(&self) -> &Context {
        self.cell.get_or_init(|| {
            let mut cx = self.base.context().clone();
            for (k, v) in self.tags {
                cx.set(&format!("s3:ExistingObjectTag/{k}"), v.as_str());
            }
            cx
        })
    }
}

/// Steps 6 and 7 for a caller `id` (`None`: anonymous); `ignore_public` disregards
/// grants to groups.
fn on_bucket(
    need: Need,
    bucket: BucketFacts<'_>,
    object: Option<ObjectFacts<'_>>,
    id: Option<&str>,
    ignore_public: bool,
) -> bool {
    let is_bucket_owner = id == Some(bucket.owner);
    let enforced = bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced);
    let bucket_grants = |p: Permission| !enforced && grants(bucket.acl, bucket.owner, id, p, ignore_public);
    match need {
        Need::Signed => id.is_some(),
        Need::PolicyOnly => false,
        Need::BucketOwner => is_bucket_owner,
        Need::Bucket(p @ (Permission::ReadAcp | Permission::WriteAcp)) => is_bucket_owner || bucket_grants(p),
        Need::Bucket(p) => bucket_grants(p) || (enforced && is_bucket_owner),
        Need::Delete => is_bucket_owner || bucket_grants(Permission::Write),
        Need::InitiatorOr(p) => is_bucket_owner || object.is_some_and(|o| id == Some(o.owner)) || bucket_grants(p),
        Need::Object(_) if enforced => is_bucket_owner,
        Need::Object(p) => object.is_some_and(|o| {
            let implicit = matches!(p, Permission::ReadAcp | Permission::WriteAcp) && id == Some(o.owner);
            implicit || grants(o.acl, o.owner, id, p, ignore_public)
        }),
    }
}

/// Whether an ACL (`None`: the default, owner FULL_CONTROL) grants `wanted` to the
/// caller `id` (`None`: anonymous).
fn grants(acl: Option<&[Grant]>, owner: &str, id: Option<&str>, wanted: Permission, ignore_public: bool) -> bool {
    match acl {
        None => id == Some(owner),
        Some(list) => list.iter().any(|g| {
            (g.permission == wanted || g.permission == Permission::FullControl)
                && !(ignore_public && is_public_grantee(&g.grantee))
                && matches_grantee(&g.grantee, id)
        }),
    }
}

/// Whether a grantee makes an ACL public by AWS's definition (a grant to everyone or
/// to every authenticated caller).
pub fn is_public_grantee(grantee: &Grantee) -> bool {
    matches!(grantee, Grantee::Group(Group::AllUsers | Group::AuthenticatedUsers))
}

fn matches_grantee(grantee: &Grantee, id: Option<&str>) -> bool {
    match grantee {
        Grantee::User(user) => id == Some(user.as_str()),
        Grantee::Group(Group::AllUsers) => true,
        Grantee::Group(Group::AuthenticatedUsers) => id.is_some(),
        // No request is made as the log delivery group on this server.
        Grantee::Group(Group::LogDelivery) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> Caller {
        Caller::new(Principal::User {
            canonical_id: id.into(),
            display_name: id.into(),
            access_key_id: format!("AK{id}"),
            user_id: format!("AIDA{id}"),
        })
    }

    fn grant(grantee: Grantee, permission: Permission) -> Grant {
        Grant { grantee, permission }
    }

    fn bucket<'a>(acl: Option<&'a [Grant]>, ownership: Option<ObjectOwnership>) -> BucketFacts<'a> {
        BucketFacts {
            name: "b",
            owner: "owner",
            acl,
            ownership,
            policy: None,
            block: PublicAccessBlock::default(),
        }
    }

    #[test]
    fn root_may_do_everything_and_anonymous_nothing_by_default() {
        let root = Caller::root("r", "admin");
        let res = Resource {
            key: None,
            bucket: Some(bucket(None, None)),
            object: None,
        };
        for action in ALL {
            assert_eq!(authorize(&root, action, &res), Decision::Allow, "{action:?}");
            assert_eq!(
                authorize(&Caller::anonymous(), action, &res),
                Decision::Deny,
                "{action:?}"
            );
        }
    }

    #[test]
    fn the_bucket_owner_has_its_bucket_but_not_others_objects() {
        let owner = user("owner");
        let b = bucket(None, None);
        let res = Resource {
            key: None,
            bucket: Some(b),
            object: Some(ObjectFacts {
                owner: "writer",
                acl: None,
                tags: &[],
            }),
        };
        for a in [
            Action::ListBucket,
            Action::PutObject,
            Action::DeleteObject,
            Action::DeleteObjectVersion,
            Action::GetBucketAcl,
            Action::PutBucketAcl,
            Action::DeleteBucket,
            Action::PutBucketVersioning,
            Action::AbortMultipartUpload,
        ] {
            assert_eq!(authorize(&owner, a, &res), Decision::Allow, "{a:?}");
        }
        for a in [Action::GetObject, Action::GetObjectAcl, Action::PutObjectAcl] {
            assert_eq!(authorize(&owner, a, &res), Decision::Deny, "{a:?}");
        }
        // The writer owns the object, not the bucket.
        let writer = user("writer");
        assert_eq!(authorize(&writer, Action::GetObject, &res), Decision::Allow);
        assert_eq!(authorize(&writer, Action::PutObjectAcl, &res), Decision::Allow);
        assert_eq!(authorize(&writer, Action::ListBucket, &res), Decision::Deny);
        assert_eq!(authorize(&writer, Action::DeleteObject, &res), Decision::Deny);
    }

    #[test]
    fn grants_to_users_and_groups() {
        let acl = [
            grant(Grantee::User("owner".into()), Permission::FullControl),
            grant(Grantee::User("reader".into()), Permission::Read),
            grant(Grantee::Group(Group::AuthenticatedUsers), Permission::Write),
        ];
        let res = Resource {
            key: None,
            bucket: Some(bucket(Some(&acl), None)),
            object: None,
        };
        assert_eq!(authorize(&user("reader"), Action::ListBucket, &res), Decision::Allow);
        assert_eq!(authorize(&user("other"), Action::ListBucket, &res), Decision::Deny);
        assert_eq!(authorize(&user("other"), Action::PutObject, &res), Decision::Allow);
        assert_eq!(authorize(&Caller::anonymous(), Action::PutObject, &res), Decision::Deny);
        assert_eq!(authorize(&user("reader"), Action::GetBucketAcl, &res), Decision::Deny);
        let public = [grant(Grantee::Group(Group::AllUsers), Permission::Read)];
        let res = Resource {
            key: None,
            bucket: Some(bucket(Some(&public), None)),
            object: None,
        };
        assert_eq!(
            authorize(&Caller::anonymous(), Action::ListBucket, &res),
            Decision::Allow
        );
        assert_eq!(authorize(&Caller::anonymous(), Action::PutObject, &res), Decision::Deny);
        // The owner dropped its own grant: it keeps READ_ACP/WRITE_ACP and deletes.
        let others = [grant(Grantee::User("reader".into()), Permission::Read)];
        let res = Resource {
            key: None,
            bucket: Some(bucket(Some(&others), None)),
            object: None,
        };
        assert_eq!(authorize(&user("owner"), Action::ListBucket, &res), Decision::Deny);
        assert_eq!(authorize(&user("owner"), Action::PutBucketAcl, &res), Decision::Allow);
        assert_eq!(authorize(&user("owner"), Action::DeleteObject, &res), Decision::Allow);
    }

    #[test]
    fn enforced_ownership_disables_acls() {
        let public = [grant(Grantee::Group(Group::AllUsers), Permission::FullControl)];
        let res = Resource {
            key: None,
            bucket: Some(bucket(Some(&public), Some(ObjectOwnership::BucketOwnerEnforced))),
            object: Some(ObjectFacts {
                owner: "owner",
                acl: Some(&public),
                tags: &[],
            }),
        };
        for a in [
            Action::ListBucket,
            Action::PutObject,
            Action::GetObject,
            Action::GetBucketAcl,
        ] {
            assert_eq!(authorize(&Caller::anonymous(), a, &res), Decision::Deny, "{a:?}");
            assert_eq!(authorize(&user("other"), a, &res), Decision::Deny, "{a:?}");
            assert_eq!(authorize(&user("owner"), a, &res), Decision::Allow, "{a:?}");
        }
    }

    #[test]
    fn service_actions_need_a_signature() {
        let res = Resource::default();
        assert_eq!(authorize(&user("u"), Action::CreateBucket, &res), Decision::Allow);
        assert_eq!(authorize(&user("u"), Action::ListAllMyBuckets, &res), Decision::Allow);
        assert_eq!(
            authorize(&Caller::anonymous(), Action::CreateBucket, &res),
            Decision::Deny
        );
        // A bucket action without a bucket is never allowed (except for root).
        assert_eq!(authorize(&user("u"), Action::ListBucket, &res), Decision::Deny);
    }

    #[test]
    fn an_expected_bucket_owner_that_does_not_own_the_bucket_is_refused() {
        let res = Resource {
            key: None,
            bucket: Some(bucket(None, None)),
            object: None,
        };
        let mut root = Caller::root("r", "admin");
        root.expected_bucket_owner = Some("someone-else".into());
        assert_eq!(authorize(&root, Action::ListBucket, &res), Decision::Deny);
        root.expected_bucket_owner = Some("owner".into());
        assert_eq!(authorize(&root, Action::ListBucket, &res), Decision::Allow);
        let mut reader = user("owner");
        reader.expected_source_owner = Some("x".into());
        assert_eq!(
            authorize(&reader.for_copy_source(), Action::GetObject, &res),
            Decision::Deny
        );
    }

    #[test]
    fn versioned_requests_use_the_version_actions() {
        assert_eq!(Operation::GetObject.action(true), Action::GetObjectVersion);
        assert_eq!(Operation::HeadObject.action(false), Action::GetObject);
        assert_eq!(Operation::DeleteObjects.action(true), Action::DeleteObjectVersion);
        assert_eq!(Operation::PutObjectAcl.action(true), Action::PutObjectVersionAcl);
        assert_eq!(Operation::UploadPartCopy.action(true), Action::PutObject);
        assert_eq!(Action::GetObjectVersion.name(), "s3:GetObjectVersion");
    }

    const ALL: [Action; 52] = [
        Action::ListAllMyBuckets,
        Action::CreateBucket,
        Action::DeleteBucket,
        Action::ListBucket,
        Action::ListBucketVersions,
        Action::ListBucketMultipartUploads,
        Action::GetBucketLocation,
        Action::GetBucketVersioning,
        Action::PutBucketVersioning,
        Action::GetBucketAcl,
        Action::PutBucketAcl,
        Action::GetBucketOwnershipControls,
        Action::PutBucketOwnershipControls,
        Action::GetObject,
        Action::GetObjectVersion,
        Action::PutObject,
        Action::DeleteObject,
        Action::DeleteObjectVersion,
        Action::GetObjectAcl,
        Action::GetObjectVersionAcl,
        Action::PutObjectAcl,
        Action::PutObjectVersionAcl,
        Action::AbortMultipartUpload,
        Action::ListMultipartUploadParts,
        Action::GetBucketPolicy,
        Action::PutBucketPolicy,
        Action::DeleteBucketPolicy,
        Action::GetBucketPolicyStatus,
        Action::GetBucketPublicAccessBlock,
        Action::PutBucketPublicAccessBlock,
        Action::GetBucketCORS,
        Action::PutBucketCORS,
        Action::GetEncryptionConfiguration,
        Action::PutEncryptionConfiguration,
        Action::GetObjectTagging,
        Action::GetObjectVersionTagging,
        Action::PutObjectTagging,
        Action::PutObjectVersionTagging,
        Action::DeleteObjectTagging,
        Action::DeleteObjectVersionTagging,
        Action::GetBucketTagging,
        Action::PutBucketTagging,
        Action::GetBucketObjectLockConfiguration,
        Action::PutBucketObjectLockConfiguration,
        Action::GetObjectRetention,
        Action::PutObjectRetention,
        Action::GetObjectLegalHold,
        Action::PutObjectLegalHold,
        Action::BypassGovernanceRetention,
        Action::GetLifecycleConfiguration,
        Action::PutLifecycleConfiguration,
        Action::RestoreObject,
    ];

    #[test]
    fn tags_are_read_by_readers_and_changed_by_owners_and_policies_see_existing_tags() {
        let tags = [("security".to_string(), "public".to_string())];
        let object = |tags| ObjectFacts {
            owner: "writer",
            acl: None,
            tags,
        };
        let res = |tags| Resource {
            key: Some("k"),
            bucket: Some(bucket(None, None)),
            object: Some(object(tags)),
        };
        let writer = user("writer");
        for a in [
            Action::GetObjectTagging,
            Action::PutObjectVersionTagging,
            Action::DeleteObjectTagging,
        ] {
            assert_eq!(authorize(&writer, a, &res(&tags)), Decision::Allow, "{a:?}");
            assert_eq!(authorize(&user("other"), a, &res(&tags)), Decision::Deny, "{a:?}");
        }
        assert_eq!(
            authorize(&user("owner"), Action::GetBucketTagging, &res(&[])),
            Decision::Allow
        );
        assert_eq!(authorize(&writer, Action::PutBucketTagging, &res(&[])), Decision::Deny);
        assert_eq!(
            Operation::DeleteObjectTagging.action(true),
            Action::DeleteObjectVersionTagging
        );
        assert_eq!(Operation::DeleteBucketTagging.action(false), Action::PutBucketTagging);

        // A bucket policy reading `s3:ExistingObjectTag/security`.
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
            "Condition":{"StringEquals":{"s3:ExistingObjectTag/security":"public"}}}]}"#;
        let policy = BucketPolicy {
            policy: Some(ferrite_policy::parse(doc, ferrite_policy::Scope::Bucket("b")).unwrap()),
            public: false,
        };
        let with_policy = |tags| Resource {
            key: Some("k"),
            bucket: Some(BucketFacts {
                policy: Some(&policy),
                ..bucket(None, None)
            }),
            object: Some(object(tags)),
        };
        let other = user("other");
        assert_eq!(
            authorize(&other, Action::GetObject, &with_policy(&tags)),
            Decision::Allow
        );
        let private = [("security".to_string(), "private".to_string())];
        assert_eq!(
            authorize(&other, Action::GetObject, &with_policy(&private)),
            Decision::Deny
        );
        assert_eq!(authorize(&other, Action::GetObject, &with_policy(&[])), Decision::Deny);
    }
}

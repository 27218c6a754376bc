//! The names the policy language knows: every `s3:`, `iam:` and `kms:` action, the
//! `admin:` actions of Ferrite's own admin API, and every condition key a Ferrite
//! policy may name. Parsing checks literal names against these
//! lists and requires a wildcard pattern to match at least one entry, as IAM and S3 do
//! ("Policy has invalid action"). Evaluation never reads them.
//!
//! Source: AWS's Service Authorization Reference pages for Amazon S3, IAM and AWS KMS,
//! and the IAM User Guide's "AWS global condition context keys". Names are compared
//! case-insensitively; they are kept here in AWS's spelling.

use std::sync::OnceLock;

/// Sorted case-insensitively (byte order of the ASCII-lowercased names), so a request's
/// action is found by binary search; see [`action_index`].
///
/// Every action of the `s3` service prefix, as AWS's Service Authorization Reference
/// ("Actions, resources, and condition keys for Amazon S3") lists them.
pub(crate) const S3_ACTIONS: &[&str] = &[
    "AbortMultipartUpload",
    "AllowVendedLogDeliveryForResource",
    "AssociateAccessGrantsIdentityCenter",
    "BypassGovernanceRetention",
    "CreateAccessGrant",
    "CreateAccessGrantsInstance",
    "CreateAccessGrantsLocation",
    "CreateAccessPoint",
    "CreateAccessPointForObjectLambda",
    "CreateBucket",
    "CreateBucketMetadataTableConfiguration",
    "CreateJob",
    "CreateMultiRegionAccessPoint",
    "CreateStorageLensGroup",
    "DeleteAccessGrant",
    "DeleteAccessGrantsInstance",
    "DeleteAccessGrantsInstanceResourcePolicy",
    "DeleteAccessGrantsLocation",
    "DeleteAccessPoint",
    "DeleteAccessPointForObjectLambda",
    "DeleteAccessPointPolicy",
    "DeleteAccessPointPolicyForObjectLambda",
    "DeleteBucket",
    "DeleteBucketMetadataTableConfiguration",
    "DeleteBucketPolicy",
    "DeleteBucketWebsite",
    "DeleteJobTagging",
    "DeleteMultiRegionAccessPoint",
    "DeleteObject",
    "DeleteObjectAnnotation",
    "DeleteObjectTagging",
    "DeleteObjectVersion",
    "DeleteObjectVersionAnnotation",
    "DeleteObjectVersionTagging",
    "DeleteStorageLensConfiguration",
    "DeleteStorageLensConfigurationTagging",
    "DeleteStorageLensGroup",
    "DescribeJob",
    "DescribeMultiRegionAccessPointOperation",
    "DissociateAccessGrantsIdentityCenter",
    "GetAccelerateConfiguration",
    "GetAccessGrant",
    "GetAccessGrantsInstance",
    "GetAccessGrantsInstanceForPrefix",
    "GetAccessGrantsInstanceResourcePolicy",
    "GetAccessGrantsLocation",
    "GetAccessPoint",
    "GetAccessPointConfigurationForObjectLambda",
    "GetAccessPointForObjectLambda",
    "GetAccessPointPolicy",
    "GetAccessPointPolicyForObjectLambda",
    "GetAccessPointPolicyStatus",
    "GetAccessPointPolicyStatusForObjectLambda",
    "GetAccountPublicAccessBlock",
    "GetAnalyticsConfiguration",
    "GetBucketAbac",
    "GetBucketAcl",
    "GetBucketCORS",
    "GetBucketLocation",
    "GetBucketLogging",
    "GetBucketMetadataTableConfiguration",
    "GetBucketNotification",
    "GetBucketObjectLockConfiguration",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock",
    "GetBucketRequestPayment",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetBucketWebsite",
    "GetDataAccess",
    "GetEncryptionConfiguration",
    "GetIntelligentTieringConfiguration",
    "GetInventoryConfiguration",
    "GetJobTagging",
    "GetLifecycleConfiguration",
    "GetMetricsConfiguration",
    "GetMultiRegionAccessPoint",
    "GetMultiRegionAccessPointPolicy",
    "GetMultiRegionAccessPointPolicyStatus",
    "GetMultiRegionAccessPointRoutes",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAnnotation",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectTorrent",
    "GetObjectVersion",
    "GetObjectVersionAcl",
    "GetObjectVersionAnnotation",
    "GetObjectVersionAnnotationForReplication",
    "GetObjectVersionAttributes",
    "GetObjectVersionForReplication",
    "GetObjectVersionTagging",
    "GetObjectVersionTorrent",
    "GetReplicationConfiguration",
    "GetStorageLensConfiguration",
    "GetStorageLensConfigurationTagging",
    "GetStorageLensDashboard",
    "GetStorageLensGroup",
    "InitiateReplication",
    "ListAccessGrants",
    "ListAccessGrantsInstances",
    "ListAccessGrantsLocations",
    "ListAccessPoints",
    "ListAccessPointsForObjectLambda",
    "ListAllMyBuckets",
    "ListBucket",
    "ListBucketMultipartUploads",
    "ListBucketVersions",
    "ListCallerAccessGrants",
    "ListJobs",
    "ListMultipartUploadParts",
    "ListMultiRegionAccessPoints",
    "ListObjectAnnotations",
    "ListObjectVersionAnnotations",
    "ListStorageLensConfigurations",
    "ListStorageLensGroups",
    "ListTagsForResource",
    "ObjectOwnerOverrideToBucketOwner",
    "PauseReplication",
    "PutAccelerateConfiguration",
    "PutAccessGrantsInstanceResourcePolicy",
    "PutAccessPointConfigurationForObjectLambda",
    "PutAccessPointPolicy",
    "PutAccessPointPolicyForObjectLambda",
    "PutAccessPointPublicAccessBlock",
    "PutAccountPublicAccessBlock",
    "PutAnalyticsConfiguration",
    "PutBucketAbac",
    "PutBucketAcl",
    "PutBucketCORS",
    "PutBucketLogging",
    "PutBucketNotification",
    "PutBucketObjectLockConfiguration",
    "PutBucketOwnershipControls",
    "PutBucketPolicy",
    "PutBucketPublicAccessBlock",
    "PutBucketRequestPayment",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutBucketWebsite",
    "PutEncryptionConfiguration",
    "PutIntelligentTieringConfiguration",
    "PutInventoryConfiguration",
    "PutJobTagging",
    "PutLifecycleConfiguration",
    "PutMetricsConfiguration",
    "PutMultiRegionAccessPointPolicy",
    "PutObject",
    "PutObjectAcl",
    "PutObjectAnnotation",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
    "PutObjectVersionAcl",
    "PutObjectVersionAnnotation",
    "PutObjectVersionTagging",
    "PutReplicationConfiguration",
    "PutStorageLensConfiguration",
    "PutStorageLensConfigurationTagging",
    "ReplicateDelete",
    "ReplicateObject",
    "ReplicateObjectAnnotation",
    "ReplicateTags",
    "RestoreObject",
    "SubmitMultiRegionAccessPointRoutes",
    "TagResource",
    "UntagResource",
    "UpdateAccessGrantsLocation",
    "UpdateBucketMetadataAnnotationTableConfiguration",
    "UpdateBucketMetadataInventoryTableConfiguration",
    "UpdateBucketMetadataJournalTableConfiguration",
    "UpdateJobPriority",
    "UpdateJobStatus",
    "UpdateObjectEncryption",
    "UpdateStorageLensGroup",
];

/// Every action of the `iam` service prefix (users, groups, roles, access keys,
/// policies, ...), from the same reference ("... for AWS Identity and Access Management").
pub(crate) const IAM_ACTIONS: &[&str] = &[
    "AcceptDelegationRequest",
    "AddClientIDToOpenIDConnectProvider",
    "AddRoleToInstanceProfile",
    "AddUserToGroup",
    "AssociateDelegationRequest",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "ChangePassword",
    "CreateAccessKey",
    "CreateAccountAlias",
    "CreateDelegationRequest",
    "CreateGroup",
    "CreateInstanceProfile",
    "CreateLoginProfile",
    "CreateOpenIDConnectProvider",
    "CreatePolicy",
    "CreatePolicyVersion",
    "CreateRole",
    "CreateSAMLProvider",
    "CreateServiceLinkedRole",
    "CreateServiceSpecificCredential",
    "CreateUser",
    "CreateVirtualMFADevice",
    "DeactivateMFADevice",
    "DeleteAccessKey",
    "DeleteAccountAlias",
    "DeleteAccountPasswordPolicy",
    "DeleteCloudFrontPublicKey",
    "DeleteGroup",
    "DeleteGroupPolicy",
    "DeleteInstanceProfile",
    "DeleteLoginProfile",
    "DeleteOpenIDConnectProvider",
    "DeletePolicy",
    "DeletePolicyVersion",
    "DeleteRole",
    "DeleteRolePermissionsBoundary",
    "DeleteRolePolicy",
    "DeleteSAMLProvider",
    "DeleteServerCertificate",
    "DeleteServiceLinkedRole",
    "DeleteServiceSpecificCredential",
    "DeleteSigningCertificate",
    "DeleteSSHPublicKey",
    "DeleteUser",
    "DeleteUserPermissionsBoundary",
    "DeleteUserPolicy",
    "DeleteVirtualMFADevice",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "DisableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootSessions",
    "DisableOutboundWebIdentityFederation",
    "EnableMFADevice",
    "EnableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "EnableOutboundWebIdentityFederation",
    "GenerateCredentialReport",
    "GenerateOrganizationsAccessReport",
    "GenerateServiceLastAccessedDetails",
    "GetAccessKeyLastUsed",
    "GetAccountAuthorizationDetails",
    "GetAccountEmailAddress",
    "GetAccountName",
    "GetAccountPasswordPolicy",
    "GetAccountProperties",
    "GetAccountSummary",
    "GetCloudFrontPublicKey",
    "GetContextKeysForCustomPolicy",
    "GetContextKeysForPrincipalPolicy",
    "GetCredentialReport",
    "GetDelegationRequest",
    "GetGroup",
    "GetGroupPolicy",
    "GetHumanReadableSummary",
    "GetInstanceProfile",
    "GetLoginProfile",
    "GetMFADevice",
    "GetOpenIDConnectProvider",
    "GetOrganizationsAccessReport",
    "GetOutboundWebIdentityFederationInfo",
    "GetPolicy",
    "GetPolicyVersion",
    "GetRole",
    "GetRolePolicy",
    "GetRoleTemplateVersion",
    "GetSAMLProvider",
    "GetServerCertificate",
    "GetServiceLastAccessedDetails",
    "GetServiceLastAccessedDetailsWithEntities",
    "GetServiceLinkedRoleDeletionStatus",
    "GetSSHPublicKey",
    "GetUser",
    "GetUserPolicy",
    "ListAccessKeys",
    "ListAccountAliases",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "ListAttachedUserPolicies",
    "ListCloudFrontPublicKeys",
    "ListDelegationRequests",
    "ListEntitiesForPolicy",
    "ListGroupPolicies",
    "ListGroups",
    "ListGroupsForUser",
    "ListInstanceProfiles",
    "ListInstanceProfilesForRole",
    "ListInstanceProfileTags",
    "ListMFADevices",
    "ListMFADeviceTags",
    "ListOpenIDConnectProviders",
    "ListOpenIDConnectProviderTags",
    "ListOrganizationsFeatures",
    "ListPolicies",
    "ListPoliciesGrantingServiceAccess",
    "ListPolicyTags",
    "ListPolicyVersions",
    "ListRolePolicies",
    "ListRoles",
    "ListRoleTags",
    "ListSAMLProviders",
    "ListSAMLProviderTags",
    "ListServerCertificates",
    "ListServerCertificateTags",
    "ListServiceSpecificCredentials",
    "ListSigningCertificates",
    "ListSSHPublicKeys",
    "ListSTSRegionalEndpointsStatus",
    "ListUserPolicies",
    "ListUsers",
    "ListUserTags",
    "ListVirtualMFADevices",
    "PassRole",
    "PutAccountProperties",
    "PutGroupPolicy",
    "PutRolePermissionsBoundary",
    "PutRolePolicy",
    "PutUserPermissionsBoundary",
    "PutUserPolicy",
    "RejectDelegationRequest",
    "RemoveClientIDFromOpenIDConnectProvider",
    "RemoveRoleFromInstanceProfile",
    "RemoveUserFromGroup",
    "ResetServiceSpecificCredential",
    "ResyncMFADevice",
    "SendDelegationToken",
    "SetDefaultPolicyVersion",
    "SetSecurityTokenServicePreferences",
    "SetSTSRegionalEndpointStatus",
    "SimulateCustomPolicy",
    "SimulatePrincipalPolicy",
    "TagInstanceProfile",
    "TagMFADevice",
    "TagOpenIDConnectProvider",
    "TagPolicy",
    "TagRole",
    "TagSAMLProvider",
    "TagServerCertificate",
    "TagUser",
    "UntagInstanceProfile",
    "UntagMFADevice",
    "UntagOpenIDConnectProvider",
    "UntagPolicy",
    "UntagRole",
    "UntagSAMLProvider",
    "UntagServerCertificate",
    "UntagUser",
    "UpdateAccessKey",
    "UpdateAccountEmailAddress",
    "UpdateAccountName",
    "UpdateAccountPasswordPolicy",
    "UpdateAssumeRolePolicy",
    "UpdateCloudFrontPublicKey",
    "UpdateGroup",
    "UpdateLoginProfile",
    "UpdateOpenIDConnectProviderThumbprint",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateSAMLProvider",
    "UpdateServerCertificate",
    "UpdateServiceSpecificCredential",
    "UpdateSigningCertificate",
    "UpdateSSHPublicKey",
    "UpdateUser",
    "UploadCloudFrontPublicKey",
    "UploadServerCertificate",
    "UploadSigningCertificate",
    "UploadSSHPublicKey",
];

/// Every action of the `kms` service prefix, from the same reference ("... for AWS
/// Key Management Service"). The built-in KMS serves a subset of them; a policy may
/// name any.
pub(crate) const KMS_ACTIONS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncryptFrom",
    "ReEncryptTo",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "SynchronizeMultiRegionKey",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// The `admin` service prefix: what Ferrite's admin API does that no S3, IAM or KMS
/// action names (server-wide views and the master key). The built-in `admin` policy
/// grants them.
pub(crate) const ADMIN_ACTIONS: &[&str] = &[
    "GetMasterKeyStatus",
    "GetMetrics",
    "GetServerInfo",
    "ListAllBuckets",
    "ListSessions",
    "RevokeSession",
    "RotateMasterKey",
];

/// The services a policy's actions may name, with their action tables, in the order
/// action indexes run through them (`s3` first: its indexes are the table's).
pub(crate) const SERVICES: [(&str, &[&str]); 4] = [
    ("s3", S3_ACTIONS),
    ("iam", IAM_ACTIONS),
    ("kms", KMS_ACTIONS),
    ("admin", ADMIN_ACTIONS),
];

/// Every known action, over all services.
pub(crate) const ACTION_COUNT: usize = S3_ACTIONS.len() + IAM_ACTIONS.len() + KMS_ACTIONS.len() + ADMIN_ACTIONS.len();

/// The number of `u64` words of a bit set over all known actions.
pub(crate) const ACTION_WORDS: usize = ACTION_COUNT.div_ceil(64);

/// The position of a known action among every service's actions ([`SERVICES`] in
/// order), looked up case-insensitively without allocating; `None` for anything else.
pub(crate) fn action_index(action: &str) -> Option<usize> {
    let (prefix, name) = action.split_once(':')?;
    let mut base = 0;
    let mut names = None;
    for (i, (service, table)) in SERVICES.iter().enumerate() {
        if prefix.eq_ignore_ascii_case(service) {
            names = Some(&lowercase_tables()[i]);
            break;
        }
        base += table.len();
    }
    let names = names?;
    // Lowercase the name on the stack, then compare bytes (memcmp) while searching.
    let mut buf = [0u8; 64];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    names
        .binary_search_by(|known| known.as_bytes().cmp(lower))
        .ok()
        .map(|i| base + i)
}

/// The action tables, lowercased once per process (their order is the same: the tables
/// are sorted by lowercased name).
fn lowercase_tables() -> &'static [Vec<String>; 4] {
    static TABLES: OnceLock<[Vec<String>; 4]> = OnceLock::new();
    TABLES.get_or_init(|| SERVICES.map(|(_, names)| names.iter().map(|n| n.to_ascii_lowercase()).collect()))
}

/// The known action at `index` (see [`action_index`]), as `prefix:Name`.
pub(crate) fn action_at(index: usize) -> Option<(&'static str, &'static str)> {
    let mut rest = index;
    for (service, table) in SERVICES {
        match table.get(rest) {
            Some(name) => return Some((service, name)),
            None => rest -= table.len(),
        }
    }
    None
}

/// Global condition keys (`aws:*`), from "AWS global condition context keys".
pub(crate) const GLOBAL_KEYS: &[&str] = &[
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:Ec2InstanceSourceVpc",
    "aws:FederatedProvider",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:Referer",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceOwner",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:SourceVpce",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
];

/// Amazon S3's own condition keys, from the Service Authorization Reference.
pub(crate) const S3_KEYS: &[&str] = &[
    "s3:AccessGrantScope",
    "s3:AccessGrantsInstanceArn",
    "s3:AccessGrantsLocationScope",
    "s3:AccessPointNetworkOrigin",
    "s3:DataAccessPointAccount",
    "s3:DataAccessPointArn",
    "s3:ExistingJobOperation",
    "s3:ExistingJobPriority",
    "s3:InventoryAccessibleOptionalFields",
    "s3:JobSuspendedCause",
    "s3:ObjectCreationOperation",
    "s3:RequestJobOperation",
    "s3:RequestJobPriority",
    "s3:RequestObjectTagKeys",
    "s3:ResourceAccount",
    "s3:TlsVersion",
    "s3:annotation-prefix",
    "s3:authType",
    "s3:delimiter",
    "s3:deliverySourceArn",
    "s3:destinationRegion",
    "s3:if-match",
    "s3:if-none-match",
    "s3:isReplicationPauseRequest",
    "s3:locationconstraint",
    "s3:logType",
    "s3:max-annotation-results",
    "s3:max-keys",
    "s3:object-lock-legal-hold",
    "s3:object-lock-mode",
    "s3:object-lock-remaining-retention-days",
    "s3:object-lock-retain-until-date",
    "s3:prefix",
    "s3:resourceArnBeingAuthorized",
    "s3:signatureAge",
    "s3:signatureversion",
    "s3:versionid",
    "s3:x-amz-acl",
    "s3:x-amz-bucket-namespace",
    "s3:x-amz-content-sha256",
    "s3:x-amz-copy-source",
    "s3:x-amz-grant-full-control",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-object-annotation-directive",
    "s3:x-amz-object-if-match",
    "s3:x-amz-object-ownership",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-storage-class",
    "s3:x-amz-website-redirect-location",
];

/// IAM's own condition keys (valid in identity policies only).
pub(crate) const IAM_KEYS: &[&str] = &[
    "iam:AWSServiceName",
    "iam:AccountPropertyNamespaces",
    "iam:AssociatedResourceArn",
    "iam:DelegationDuration",
    "iam:DelegationRequestOwner",
    "iam:FIDO-FIPS-140-2-certification",
    "iam:FIDO-FIPS-140-3-certification",
    "iam:FIDO-certification",
    "iam:NotificationChannel",
    "iam:OrganizationsPolicyId",
    "iam:PassedToService",
    "iam:PermissionsBoundary",
    "iam:PolicyARN",
    "iam:RegisterSecurityKey",
    "iam:RoleTemplateARN",
    "iam:ServiceSpecificCredentialAgeDays",
    "iam:ServiceSpecificCredentialServiceName",
    "iam:TemplateArn",
];

/// Keys that name a tag: the prefix followed by any non-empty tag key.
pub(crate) const GLOBAL_KEY_PREFIXES: &[&str] = &["aws:PrincipalTag/", "aws:RequestTag/", "aws:ResourceTag/"];
pub(crate) const S3_KEY_PREFIXES: &[&str] = &[
    "s3:ExistingObjectTag/",
    "s3:RequestObjectTag/",
    "s3:AccessPointTag/",
    "s3:BucketTag/",
];
pub(crate) const IAM_KEY_PREFIXES: &[&str] = &["iam:ResourceTag/"];

/// Whether `key` (any case) is a condition key a policy of this kind may name.
pub(crate) fn is_known_key(key: &str, allow_iam: bool) -> bool {
    let listed = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(key));
    let prefixed = |prefixes: &[&str]| {
        prefixes
            .iter()
            .any(|p| key.len() > p.len() && key.is_char_boundary(p.len()) && key[..p.len()].eq_ignore_ascii_case(p))
    };
    listed(GLOBAL_KEYS)
        || listed(S3_KEYS)
        || prefixed(GLOBAL_KEY_PREFIXES)
        || prefixed(S3_KEY_PREFIXES)
        || (allow_iam && (listed(IAM_KEYS) || prefixed(IAM_KEY_PREFIXES)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp_ignore_ascii_case(a: &str, b: &str) -> std::cmp::Ordering {
        for (x, y) in a.bytes().zip(b.bytes()) {
            let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
            if x != y {
                return x.cmp(&y);
            }
        }
        a.len().cmp(&b.len())
    }

    #[test]
    fn action_tables_are_sorted_for_binary_search() {
        for (_, names) in SERVICES {
            for pair in names.windows(2) {
                assert_eq!(
                    cmp_ignore_ascii_case(pair[0], pair[1]),
                    std::cmp::Ordering::Less,
                    "{pair:?}"
                );
            }
        }
    }

    #[test]
    fn every_action_is_found_in_any_case() {
        for index in 0..ACTION_COUNT {
            let (prefix, name) = action_at(index).unwrap();
            assert_eq!(action_index(&format!("{prefix}:{name}")), Some(index));
            assert_eq!(
                action_index(&format!("{}:{}", prefix.to_uppercase(), name.to_lowercase())),
                Some(index)
            );
        }
        assert_eq!(action_at(ACTION_COUNT), None);
        assert_eq!(
            action_at(S3_ACTIONS.len() + IAM_ACTIONS.len()),
            Some(("kms", "CancelKeyDeletion"))
        );
        assert_eq!(action_index("admin:GetServerInfo"), Some(ACTION_COUNT - 5));
        assert_eq!(action_index("admin:RevokeSession"), Some(ACTION_COUNT - 2));
        for unknown in [
            "s3:Nope",
            "iam:GetObject",
            "kms:GetObject",
            "admin:CreateUser",
            "ec2:RunInstances",
            "GetObject",
            "s3:",
            "",
        ] {
            assert_eq!(action_index(unknown), None, "{unknown}");
        }
    }
}

//! Identity (user) policies: inline policies embedded in a user, managed policies that
//! stand alone and are attached to users, and the built-in managed policies
//! (`readonly`, `readwrite`, `writeonly`, `admin`) every server has.
//!
//! Tables: `user_policies` ((user key, 0, policy name) -> document), `managed_policies`
//! (lower-cased name -> the policy) and `policy_attachments` ((user key, 0, policy ARN)
//! -> nothing). A user's policies are read and parsed when its access key is resolved
//! and cached with the key ([`crate::users::KeyCache`]); every change here goes through
//! the same `change` as users and keys, which empties that cache before it returns,
//! so a changed policy applies from the next request.
//!
//! The IAM operations themselves are authorized like S3's: root may do everything;
//! a user may call the IAM actions its own policies allow ([`require_iam`]).

use std::ops::Bound;
use std::sync::Arc;

use ferrite_policy::{Outcome, Policy, Scope};
use ferrite_store::ReadTxn;
use serde::{Deserialize, Serialize};

use crate::authz::ACCOUNT_ID;
use crate::clock::now_ms;
use crate::engine::blocking;
use crate::policy::policy_error;
use crate::records::{Initial, Record, decode, encode, first_version};
use crate::{Caller, Ferrite, IdentityPolicies, ModelError, ModelResult, Principal, tables};

/// Managed policies one user may have attached (IAM's default quota).
pub const MAX_ATTACHED_PER_USER: usize = 10;

/// The built-in managed policies: name, description, document.
const BUILT_IN: [(&str, &str, &str); 4] = [
    (
        "readonly",
        "Read every bucket and object",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#,
    ),
    (
        "readwrite",
        "Every S3 action on every bucket",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    ),
    (
        "writeonly",
        "Upload objects (single and multipart) into every bucket",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts","s3:ListBucketMultipartUploads"],"Resource":"*"}]}"#,
    ),
    (
        "admin",
        "Every S3, IAM and KMS action and the admin API: a second administrator",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:*","kms:*","admin:*"],"Resource":"*"}]}"#,
    ),
];

/// What a stored identity policy that no longer parses becomes: it denies everything,
/// so that a Deny it held cannot lapse.
const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;

/// The ARN of the built-in policy `name`.
fn built_in_arn(name: &str) -> String {
    format!("arn:aws:iam::aws:policy/{name}")
}

/// The ARN of the customer managed policy `name`.
pub fn policy_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:policy/{name}")
}

/// The ARN of the user `name`.
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:user/{name}")
}

/// A managed policy as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyInfo {
    pub name: String,
    pub arn: String,
    /// IAM's unique id: `ANPA` and 17 upper-case letters and digits.
    pub policy_id: String,
    pub description: String,
    pub created_ms: i64,
    /// How many users have it attached.
    pub attachments: usize,
    /// Whether it is one of the server's built-in policies.
    pub built_in: bool,
    pub document: String,
}

/// `user_policies`: an inline policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct InlinePolicyRecord {
    name: String,
    document: String,
}

/// `managed_policies`: a customer managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ManagedPolicyRecord {
    name: String,
    policy_id: String,
    description: String,
    created_ms: i64,
    document: String,
}

first_version!(InlinePolicyRecord, ManagedPolicyRecord);

/// IAM's policy name rule: 1 to 128 of `A-Z a-z 0-9 + = , . @ _ -`.
fn validate_policy_name(name: &str) -> ModelResult<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > 128 || !name.chars().all(ok) {
        return Err(ModelError::ValidationError(format!(
            "The specified value for policyName is invalid. It must contain only alphanumeric characters and/or \
             the following: +=,.@_- and be 1 to 128 characters long: {name:?}"
        )));
    }
    Ok(())
}

fn parse_identity(document: &str) -> ModelResult<Policy> {
    ferrite_policy::parse(document, Scope::Identity).map_err(|e| match policy_error(e) {
        ModelError::MalformedPolicy(m) => ModelError::MalformedPolicyDocument(m),
        ModelError::PolicyTooLarge { size, max } => {
            ModelError::MalformedPolicyDocument(format!("The policy is {size} bytes, more than the {max} allowed"))
        }
        other => other,
    })
}

/// Fails unless `caller` may perform the service `action` (IAM, KMS or admin) on
/// `resource`: root always; a user when its policies allow it and none denies it;
/// anonymous never.
pub(crate) fn require_iam(caller: &Caller, action: &str, resource: &str) -> ModelResult<()> {
    match &caller.principal {
        Principal::Root { .. } => return Ok(()),
        Principal::Anonymous => return Err(ModelError::AccessDenied),
        Principal::User { .. } => {}
    }
    let request = ferrite_policy::Request {
        account: ACCOUNT_ID,
        principal: caller.policy_principal(),
        action,
        resource,
        context: &*caller.context,
    };
    match caller.identity_outcome(&request) {
        Outcome::Allow => Ok(()),
        Outcome::Deny | Outcome::NotApplicable => Err(ModelError::AccessDenied),
    }
}

impl Ferrite {
    /// Whether `caller` may do the IAM, KMS or admin `action` on `resource`, as the
    /// operation itself would decide (for what the console shows a caller; each
    /// operation still decides for itself).
    pub fn may(&self, caller: &Caller, action: &str, resource: &str) -> bool {
        require_iam(caller, action, resource).is_ok()
    }

    /// Authorizes an IAM, KMS or admin `action` that has no model operation of its
    /// own (reading the server's metrics): AccessDenied unless allowed.
    pub fn authorize(&self, caller: &Caller, action: &str, resource: &str) -> ModelResult<()> {
        require_iam(caller, action, resource)
    }
}

/// `(user key, 0, rest)`: the keys of a user's rows in the policy tables.
fn user_row(user_key: &str, rest: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + 1 + rest.len());
    k.extend_from_slice(user_key.as_bytes());
    k.push(0);
    k.extend_from_slice(rest.as_bytes());
    k
}

/// Every row of `table` for the user `user_key`: (the part after the user, value).
fn user_rows(txn: &dyn ReadTxn, table: ferrite_store::Table, user_key: &str) -> ModelResult<Vec<(String, Vec<u8>)>> {
    let start = user_row(user_key, "");
    let mut end = user_key.as_bytes().to_vec();
    end.push(1);
    let mut out = Vec::new();
    txn.scan(table, Bound::Included(&start), Bound::Excluded(&end), &mut |k, v| {
        out.push((String::from_utf8_lossy(&k[start.len()..]).into_owned(), v.to_vec()));
        true
    })?;
    Ok(out)
}

/// Whether a user has any inline or attached policy (DeleteUser refuses it then).
pub(crate) fn has_policies(txn: &dyn ReadTxn, user_key: &str) -> ModelResult<bool> {
    Ok(!user_rows(txn, tables::USER_POLICIES, user_key)?.is_empty()
        || !user_rows(txn, tables::POLICY_ATTACHMENTS, user_key)?.is_empty())
}

/// The document of the managed policy `arn` (built-in or stored), if it exists.
fn managed_document(txn: &dyn ReadTxn, arn: &str) -> ModelResult<Option<String>> {
    if let Some((_, _, doc)) = BUILT_IN.iter().find(|(n, _, _)| built_in_arn(n) == arn) {
        return Ok(Some(doc.to_string()));
    }
    let Some(name) = arn.strip_prefix(&format!("arn:aws:iam::{ACCOUNT_ID}:policy/")) else {
        return Ok(None);
    };
    Ok(
        match txn.get(tables::MANAGED_POLICIES, name.to_ascii_lowercase().as_bytes())? {
            Some(v) => Some(decode::<ManagedPolicyRecord>(&v)?.document),
            None => None,
        },
    )
}

/// A user's identity policies, parsed: its inline policies, then its attached ones.
/// A user's identity policies as stored, each with its label (`inline policy NAME`,
/// `managed policy NAME`), inline ones first (for the policy simulator).
pub(crate) fn named_policies_of(txn: &dyn ReadTxn, user_key: &str) -> ModelResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (name, v) in user_rows(txn, tables::USER_POLICIES, user_key)? {
        out.push((
            format!("inline policy {name}"),
            decode::<InlinePolicyRecord>(&v)?.document,
        ));
    }
    for (arn, _) in user_rows(txn, tables::POLICY_ATTACHMENTS, user_key)? {
        if let Some(doc) = managed_document(txn, &arn)? {
            let name = arn.rsplit('/').next().unwrap_or(&arn);
            out.push((format!("managed policy {name}"), doc));
        }
    }
    Ok(out)
}

pub(crate) fn policies_of(txn: &dyn ReadTxn, user_key: &str) -> ModelResult<IdentityPolicies> {
    let mut docs = Vec::new();
    for (_, v) in user_rows(txn, tables::USER_POLICIES, user_key)? {
        docs.push(decode::<InlinePolicyRecord>(&v)?.document);
    }
    for (arn, _) in user_rows(txn, tables::POLICY_ATTACHMENTS, user_key)? {
        // An attachment outlives no policy (DeletePolicy refuses attached ones).
        if let Some(doc) = managed_document(txn, &arn)? {
            docs.push(doc);
        }
    }
    let parsed = docs
        .iter()
        .map(|d| {
            let p = parse_identity(d).or_else(|e| {
                tracing::error!(error = %e, "a stored user policy no longer parses; it denies everything");
                parse_identity(DENY_ALL)
            })?;
            Ok(Arc::new(p))
        })
        .collect::<ModelResult<Vec<_>>>()?;
    Ok(Arc::from(parsed))
}

fn count_attachments(txn: &dyn ReadTxn, arn: &str) -> ModelResult<usize> {
    let mut n = 0;
    txn.scan(
        tables::POLICY_ATTACHMENTS,
        Bound::Unbounded,
        Bound::Unbounded,
        &mut |k, _| {
            if let Some(pos) = k.iter().position(|b| *b == 0)
                && &k[pos + 1..] == arn.as_bytes()
            {
                n += 1;
            }
            true
        },
    )?;
    Ok(n)
}

fn no_such_policy(what: &str) -> ModelError {
    ModelError::NoSuchEntity(format!("Policy {what} was not found."))
}

impl Ferrite {
    /// Adds or replaces the inline policy `policy` of `user`.
    pub async fn put_user_policy(
        &self,
        caller: &Caller,
        user: &str,
        policy: &str,
        document: String,
    ) -> ModelResult<()> {
        require_iam(caller, "iam:PutUserPolicy", &user_arn(user))?;
        validate_policy_name(policy)?;
        parse_identity(&document)?;
        let rec = InlinePolicyRecord {
            name: policy.to_string(),
            document,
        };
        let user = user.to_string();
        self.change(move |txn| {
            let key = crate::users::existing_user_key(&*txn, &user)?;
            txn.put(tables::USER_POLICIES, &user_row(&key, &rec.name), &encode(&rec))?;
            Ok(())
        })
        .await
    }

    /// The document of `user`'s inline policy `policy`.
    pub async fn get_user_policy(&self, caller: &Caller, user: &str, policy: &str) -> ModelResult<String> {
        require_iam(caller, "iam:GetUserPolicy", &user_arn(user))?;
        let (inner, user, policy) = (self.inner.clone(), user.to_string(), policy.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let key = crate::users::existing_user_key(&*txn, &user)?;
            match txn.get(tables::USER_POLICIES, &user_row(&key, &policy))? {
                Some(v) => Ok(decode::<InlinePolicyRecord>(&v)?.document),
                None => Err(ModelError::NoSuchEntity(format!(
                    "The user policy with name {policy} cannot be found."
                ))),
            }
        })
        .await
    }

    /// The names of `user`'s inline policies, in name order.
    pub async fn list_user_policies(&self, caller: &Caller, user: &str) -> ModelResult<Vec<String>> {
        require_iam(caller, "iam:ListUserPolicies", &user_arn(user))?;
        let (inner, user) = (self.inner.clone(), user.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let key = crate::users::existing_user_key(&*txn, &user)?;
            Ok(user_rows(&*txn, tables::USER_POLICIES, &key)?
                .into_iter()
                .map(|(name, _)| name)
                .collect())
        })
        .await
    }

    pub async fn delete_user_policy(&self, caller: &Caller, user: &str, policy: &str) -> ModelResult<()> {
        require_iam(caller, "iam:DeleteUserPolicy", &user_arn(user))?;
        let (user, policy) = (user.to_string(), policy.to_string());
        self.change(move |txn| {
            let key = crate::users::existing_user_key(&*txn, &user)?;
            let row = user_row(&key, &policy);
            if txn.get(tables::USER_POLICIES, &row)?.is_none() {
                return Err(ModelError::NoSuchEntity(format!(
                    "The user policy with name {policy} cannot be found."
                )));
            }
            txn.delete(tables::USER_POLICIES, &row)?;
            Ok(())
        })
        .await
    }

    /// Creates a customer managed policy.
    pub async fn create_policy(
        &self,
        caller: &Caller,
        name: &str,
        description: &str,
        document: String,
    ) -> ModelResult<ManagedPolicyInfo> {
        require_iam(caller, "iam:CreatePolicy", &policy_arn(name))?;
        validate_policy_name(name)?;
        if description.len() > 1000 {
            return Err(ModelError::ValidationError(
                "The description of a policy may be at most 1000 characters long".into(),
            ));
        }
        parse_identity(&document)?;
        let rec = ManagedPolicyRecord {
            name: name.to_string(),
            policy_id: format!("ANPA{}", crate::users::random_upper_alnum(17)),
            description: description.to_string(),
            created_ms: now_ms(),
            document,
        };
        self.change(move |txn| {
            let key = rec.name.to_ascii_lowercase();
            if txn.get(tables::MANAGED_POLICIES, key.as_bytes())?.is_some()
                || BUILT_IN.iter().any(|(n, _, _)| *n == key)
            {
                return Err(ModelError::EntityAlreadyExists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    rec.name
                )));
            }
            txn.put(tables::MANAGED_POLICIES, key.as_bytes(), &encode(&rec))?;
            Ok(managed_info(&rec, 0))
        })
        .await
    }

    /// The managed policy `arn` (built-in or customer).
    pub async fn get_policy(&self, caller: &Caller, arn: &str) -> ModelResult<ManagedPolicyInfo> {
        require_iam(caller, "iam:GetPolicy", arn)?;
        let (inner, arn) = (self.inner.clone(), arn.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            all_policies(&*txn)?
                .into_iter()
                .find(|p| p.arn == arn)
                .ok_or_else(|| no_such_policy(&arn))
        })
        .await
    }

    /// Every managed policy: the built-in ones, then the customer ones in name order.
    pub async fn list_policies(&self, caller: &Caller) -> ModelResult<Vec<ManagedPolicyInfo>> {
        require_iam(caller, "iam:ListPolicies", &policy_arn("*"))?;
        let inner = self.inner.clone();
        blocking(move || all_policies(&*inner.meta.begin_read()?)).await
    }

    /// Deletes a customer managed policy that no user has attached (DeleteConflict
    /// otherwise, as in IAM).
    pub async fn delete_policy(&self, caller: &Caller, arn: &str) -> ModelResult<()> {
        require_iam(caller, "iam:DeletePolicy", arn)?;
        let arn = arn.to_string();
        self.change(move |txn| {
            let Some(name) = arn.strip_prefix(&format!("arn:aws:iam::{ACCOUNT_ID}:policy/")) else {
                return Err(no_such_policy(&arn));
            };
            let key = name.to_ascii_lowercase();
            if txn.get(tables::MANAGED_POLICIES, key.as_bytes())?.is_none() {
                return Err(no_such_policy(&arn));
            }
            if count_attachments(&*txn, &arn)? > 0 {
                return Err(ModelError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            txn.delete(tables::MANAGED_POLICIES, key.as_bytes())?;
            Ok(())
        })
        .await
    }

    /// Attaches the managed policy `arn` to `user` (attaching it again changes nothing).
    pub async fn attach_user_policy(&self, caller: &Caller, user: &str, arn: &str) -> ModelResult<()> {
        require_iam(caller, "iam:AttachUserPolicy", &user_arn(user))?;
        let (user, arn) = (user.to_string(), arn.to_string());
        self.change(move |txn| {
            let key = crate::users::existing_user_key(&*txn, &user)?;
            if managed_document(&*txn, &arn)?.is_none() {
                return Err(no_such_policy(&arn));
            }
            let row = user_row(&key, &arn);
            if txn.get(tables::POLICY_ATTACHMENTS, &row)?.is_none() {
                if user_rows(&*txn, tables::POLICY_ATTACHMENTS, &key)?.len() >= MAX_ATTACHED_PER_USER {
                    return Err(ModelError::LimitExceeded(format!(
                        "Cannot exceed quota for PoliciesPerUser: {MAX_ATTACHED_PER_USER}"
                    )));
                }
                txn.put(tables::POLICY_ATTACHMENTS, &row, &[])?;
            }
            Ok(())
        })
        .await
    }

    pub async fn detach_user_policy(&self, caller: &Caller, user: &str, arn: &str) -> ModelResult<()> {
        require_iam(caller, "iam:DetachUserPolicy", &user_arn(user))?;
        let (user, arn) = (user.to_string(), arn.to_string());
        self.change(move |txn| {
            let key = crate::users::existing_user_key(&*txn, &user)?;
            let row = user_row(&key, &arn);
            if txn.get(tables::POLICY_ATTACHMENTS, &row)?.is_none() {
                return Err(ModelError::NoSuchEntity(format!("Policy {arn} was not attached.")));
            }
            txn.delete(tables::POLICY_ATTACHMENTS, &row)?;
            Ok(())
        })
        .await
    }

    /// The managed policies attached to `user`: (name, ARN).
    pub async fn list_attached_user_policies(&self, caller: &Caller, user: &str) -> ModelResult<Vec<(String, String)>> {
        require_iam(caller, "iam:ListAttachedUserPolicies", &user_arn(user))?;
        let (inner, user) = (self.inner.clone(), user.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let key = crate::users::existing_user_key(&*txn, &user)?;
            Ok(user_rows(&*txn, tables::POLICY_ATTACHMENTS, &key)?
                .into_iter()
                .map(|(arn, _)| (arn.rsplit('/').next().unwrap_or(&arn).to_string(), arn))
                .collect())
        })
        .await
    }
}

fn managed_info(rec: &ManagedPolicyRecord, attachments: usize) -> ManagedPolicyInfo {
    ManagedPolicyInfo {
        name: rec.name.clone(),
        arn: policy_arn(&rec.name),
        policy_id: rec.policy_id.clone(),
        description: rec.description.clone(),
        created_ms: rec.created_ms,
        attachments,
        built_in: false,
        document: rec.document.clone(),
    }
}

fn all_policies(txn: &dyn ReadTxn) -> ModelResult<Vec<ManagedPolicyInfo>> {
    let mut out = Vec::new();
    for (name, description, doc) in BUILT_IN {
        let arn = built_in_arn(name);
        out.push(ManagedPolicyInfo {
            name: name.to_string(),
            policy_id: format!("ANPAFERRITE{}", name.to_ascii_uppercase()),
            description: description.to_string(),
            created_ms: 0,
            attachments: count_attachments(txn, &arn)?,
            built_in: true,
            document: doc.to_string(),
            arn,
        });
    }
    let mut stored = Vec::new();
    txn.scan(
        tables::MANAGED_POLICIES,
        Bound::Unbounded,
        Bound::Unbounded,
        &mut |_, v| {
            stored.push(v.to_vec());
            true
        },
    )?;
    for v in stored {
        let rec: ManagedPolicyRecord = decode(&v)?;
        let n = count_attachments(txn, &policy_arn(&rec.name))?;
        out.push(managed_info(&rec, n));
    }
    Ok(out)
}

/// The ARN a name given to `ferrite admin policy attach` means: a built-in policy's
/// name, a customer policy's name, or an ARN as is.
pub fn resolve_policy_name(name: &str) -> String {
    if name.starts_with("arn:") {
        name.to_string()
    } else if BUILT_IN.iter().any(|(n, _, _)| *n == name) {
        built_in_arn(name)
    } else {
        policy_arn(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_policies_parse() {
        for (name, _, doc) in BUILT_IN {
            parse_identity(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        parse_identity(DENY_ALL).expect("deny-all parses");
    }

    #[test]
    fn names_resolve_to_arns() {
        assert_eq!(resolve_policy_name("readonly"), "arn:aws:iam::aws:policy/readonly");
        assert_eq!(resolve_policy_name("mine"), "arn:aws:iam::000000000000:policy/mine");
        assert_eq!(
            resolve_policy_name("arn:aws:iam::aws:policy/admin"),
            "arn:aws:iam::aws:policy/admin"
        );
    }
}

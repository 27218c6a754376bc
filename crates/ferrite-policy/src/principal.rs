//! The `Principal` / `NotPrincipal` element of bucket policies.
//!
//! Accepted forms: `"*"`, `{"AWS": "*"}`, `{"AWS": <ids>}` where an id is a user ARN
//! (`arn:aws:iam::<account>:user/[path/]name`), an account root ARN
//! (`arn:aws:iam::<account>:root`) or a bare 12-digit account id, and
//! `{"CanonicalUser": <ids>}`. "You cannot use a wildcard to match part of a principal
//! name or ARN" (IAM User Guide); other principal types (`Service`, `Federated`, roles)
//! name nothing Ferrite has and are refused as S3 refuses unknown principals.

use crate::error::{PolicyError, malformed};
use crate::json::Json;
use crate::request::Principal;

const INVALID: &str = "Invalid principal in policy";

#[derive(Debug, Clone)]
pub(crate) enum PrincipalSet {
    /// Everyone, anonymous callers included.
    Any,
    Ids(Box<[PrincipalId]>),
}

#[derive(Debug, Clone)]
pub(crate) enum PrincipalId {
    /// An account (its root ARN or its bare id).
    Account(Box<str>),
    /// An IAM user; the path of the ARN is not kept (user names are unique).
    User {
        account: Box<str>,
        name: Box<str>,
    },
    Canonical(Box<str>),
}

impl PrincipalSet {
    pub(crate) fn parse(json: &Json) -> Result<PrincipalSet, PolicyError> {
        let members = match json {
            Json::String(s) if s == "*" => return Ok(PrincipalSet::Any),
            Json::Object(members) if !members.is_empty() => members,
            _ => return Err(malformed(INVALID)),
        };
        let mut ids = Vec::new();
        let mut any = false;
        for (kind, values) in members {
            let values: Vec<&str> = match values {
                Json::String(s) => vec![s.as_str()],
                Json::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|v| match v {
                        Json::String(s) => Ok(s.as_str()),
                        _ => Err(malformed(INVALID)),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(malformed(INVALID)),
            };
            for value in values {
                match kind.as_str() {
                    "AWS" if value == "*" => any = true,
                    "AWS" => ids.push(parse_aws(value).ok_or_else(|| malformed(INVALID))?),
                    "CanonicalUser" if !value.is_empty() && !value.contains(['*', '?']) => {
                        ids.push(PrincipalId::Canonical(value.into()))
                    }
                    _ => return Err(malformed(INVALID)),
                }
            }
        }
        Ok(if any {
            PrincipalSet::Any
        } else {
            PrincipalSet::Ids(ids.into_boxed_slice())
        })
    }

    /// Whether `p` is in the set. `account_covers_users`: an account entry stands for
    /// every principal of the account (true in a Deny statement: denying an account
    /// denies its users), or for the account's root only (in an Allow statement, where
    /// AWS has the account delegate to its users through their own policies).
    pub(crate) fn contains(&self, p: &Principal<'_>, account: &str, account_covers_users: bool) -> bool {
        match self {
            PrincipalSet::Any => true,
            PrincipalSet::Ids(ids) => ids.iter().any(|id| id.matches(p, account, account_covers_users)),
        }
    }
}

impl PrincipalId {
    fn matches(&self, p: &Principal<'_>, account: &str, account_covers_users: bool) -> bool {
        match (self, p) {
            (_, Principal::Anonymous) => false,
            (PrincipalId::Account(a), Principal::Root { .. }) => **a == *account,
            (PrincipalId::Account(a), Principal::User { .. }) => account_covers_users && **a == *account,
            (PrincipalId::User { account: a, name }, Principal::User { name: n, .. }) => {
                **a == *account && **name == **n
            }
            (PrincipalId::User { .. }, Principal::Root { .. }) => false,
            (PrincipalId::Canonical(id), Principal::Root { canonical_id } | Principal::User { canonical_id, .. }) => {
                **id == **canonical_id
            }
        }
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_aws(value: &str) -> Option<PrincipalId> {
    if is_account_id(value) {
        return Some(PrincipalId::Account(value.into()));
    }
    let rest = value.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    if !is_account_id(account) {
        return None;
    }
    if resource == "root" {
        return Some(PrincipalId::Account(account.into()));
    }
    let path_and_name = resource.strip_prefix("user/")?;
    let name = path_and_name.rsplit('/').next()?;
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    let valid_path = !path_and_name.contains("//") && !path_and_name.contains(['*', '?']);
    (valid_name && valid_path).then(|| PrincipalId::User {
        account: account.into(),
        name: name.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_ids() {
        assert!(matches!(parse_aws("123456789012"), Some(PrincipalId::Account(a)) if &*a == "123456789012"));
        assert!(matches!(
            parse_aws("arn:aws:iam::123456789012:root"),
            Some(PrincipalId::Account(_))
        ));
        assert!(matches!(
            parse_aws("arn:aws:iam::123456789012:user/division/team/bob"),
            Some(PrincipalId::User { name, .. }) if &*name == "bob"
        ));
        for bad in [
            "12345678901",
            "arn:aws:iam::12345678901x:root",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:iam::123456789012:user/b*",
            "arn:aws:iam::123456789012:role/r",
            "arn:aws:sts::123456789012:assumed-role/r/s",
            "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1",
        ] {
            assert!(parse_aws(bad).is_none(), "{bad}");
        }
    }
}

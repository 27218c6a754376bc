//! "The meaning of public" for bucket policies (Amazon S3 User Guide, Blocking public
//! access): "Amazon S3 begins by assuming that the policy is public. It then evaluates
//! the policy to determine whether it qualifies as non-public. To be considered
//! non-public, a bucket policy must grant access only to fixed values (values that don't
//! contain a wildcard or an AWS Identity and Access Management Policy Variable) for one
//! or more of the following": a fixed principal, `aws:SourceIp` CIDRs, `aws:SourceArn`,
//! `aws:SourceVpc`, `aws:SourceVpce`, `aws:SourceOwner`, `aws:SourceAccount`,
//! `s3:x-amz-server-side-encryption-aws-kms-key-id`, `aws:userid` (outside the pattern
//! `AROLEID:*`), `s3:DataAccessPointArn`, `s3:DataAccessPointAccount`, and the
//! principal keys (`aws:PrincipalOrgID` is AWS's example; `aws:PrincipalAccount` and
//! `aws:PrincipalArn` name a principal as well).
//!
//! So an Allow statement is public when its principal is a wildcard (`*`,
//! `{"AWS": "*"}`, or a `NotPrincipal`, which grants to everyone not listed) and none of
//! its conditions pins one of those keys. A condition pins when it can only hold for the
//! listed values: a non-negated operator, without `IfExists` or `ForAllValues:` (both
//! hold when the key is absent), whose values are all fixed.
//!
//! Our reading where the document is silent: a CIDR wider than /8 (IPv4) or /32 (IPv6)
//! does not pin `aws:SourceIp`: `0.0.0.0/0` "limits" access to the whole internet.
//! Deny statements never make a policy public.

use crate::condition::{Condition, SetOp, Test};
use crate::policy::{Effect, Statement, Who};
use crate::principal::PrincipalSet;

pub(crate) fn statement_is_public(st: &Statement) -> bool {
    if st.effect != Effect::Allow {
        return false;
    }
    let wildcard = match &st.who {
        Who::Attached | Who::In(PrincipalSet::Ids(_)) => false,
        Who::In(PrincipalSet::Any) | Who::NotIn(_) => true,
    };
    wildcard && !st.conditions.iter().any(pins)
}

fn pins(c: &Condition) -> bool {
    if c.negated || c.if_exists || c.set == SetOp::ForAllValues {
        return false;
    }
    match c.key.name() {
        "aws:sourceip" => match &c.test {
            Test::Ip(ranges) => ranges.iter().all(|r| match r.prefix_len() {
                (true, prefix) => prefix >= 8,
                (false, prefix) => prefix >= 32,
            }),
            _ => false,
        },
        "aws:sourcearn"
        | "aws:sourcevpc"
        | "aws:sourcevpce"
        | "aws:sourceowner"
        | "aws:sourceaccount"
        | "aws:principalorgid"
        | "aws:principalaccount"
        | "aws:principalarn"
        | "aws:userid"
        | "s3:x-amz-server-side-encryption-aws-kms-key-id"
        | "s3:dataaccesspointaccount" => fixed_values(&c.test),
        // "this value can contain a wildcard for the access point name without rendering
        // the policy public, as long as the account id is fixed".
        "s3:dataaccesspointarn" => match &c.test {
            Test::Arn(patterns) => patterns.iter().all(|p| p.loose_parts().all(|i| i == 5)),
            other => fixed_values(other),
        },
        _ => false,
    }
}

fn fixed_values(test: &Test) -> bool {
    match test {
        Test::StringEquals(texts) | Test::StringEqualsIgnoreCase(texts) => texts.iter().all(|t| t.is_fixed()),
        Test::StringLike(patterns) => patterns.iter().all(|p| !p.has_wildcard() && !p.has_vars()),
        Test::Arn(patterns) => patterns.iter().all(|p| p.is_fixed()),
        _ => false,
    }
}

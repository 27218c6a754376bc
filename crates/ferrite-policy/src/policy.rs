//! A parsed policy and its evaluation.

use crate::condition::Condition;
use crate::env::{ArnBuf, Env};
use crate::pattern::Pattern;
use crate::principal::PrincipalSet;
use crate::request::Request;

/// The result of evaluating one policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No statement applies.
    NotApplicable,
    /// An Allow statement applies and no Deny statement does.
    Allow,
    /// A Deny statement applies (an explicit deny, which beats every allow).
    Deny,
}

/// A parsed policy document: validated, with every string pattern, address range, date
/// and number parsed, ready to evaluate many times. Cheap to share as `Arc<Policy>`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) statements: Box<[Statement]>,
    /// Whether any condition or variable reads `aws:PrincipalArn`, the one derived key
    /// that has to be formatted per request.
    pub(crate) needs_principal_arn: bool,
    pub(crate) public: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
pub(crate) enum Who {
    /// Identity policies have no principal: they apply to the identity they are attached to.
    Attached,
    In(PrincipalSet),
    NotIn(PrincipalSet),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// The action `*`.
    Any,
    S3,
    Iam,
}

#[derive(Debug, Clone)]
pub(crate) struct ActionPattern {
    pub(crate) service: Service,
    /// The part after `service:`, ASCII-lowercased.
    pub(crate) name: Pattern,
}

impl ActionPattern {
    fn matches(&self, action: &str) -> bool {
        let prefix = match self.service {
            Service::Any => return true,
            Service::S3 => "s3",
            Service::Iam => "iam",
        };
        action
            .split_once(':')
            .is_some_and(|(p, name)| p.eq_ignore_ascii_case(prefix) && self.name.matches_ascii_ci(name))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) who: Who,
    /// `NotAction` when true.
    pub(crate) not_action: bool,
    pub(crate) actions: Box<[ActionPattern]>,
    /// `NotResource` when true.
    pub(crate) not_resource: bool,
    pub(crate) resources: Box<[Pattern]>,
    pub(crate) conditions: Box<[Condition]>,
}

impl Statement {
    /// Cheapest tests first: action, resource, principal, then conditions.
    fn applies(&self, env: &Env<'_>) -> bool {
        let req = env.request();
        self.actions.iter().any(|a| a.matches(req.action)) != self.not_action
            && self.resources.iter().any(|r| r.matches(req.resource, env)) != self.not_resource
            && self.principal_matches(req)
            && self.conditions.iter().all(|c| c.holds(env))
    }

    fn principal_matches(&self, req: &Request<'_>) -> bool {
        match &self.who {
            Who::Attached => true,
            Who::In(set) => set.contains(&req.principal, req.account, self.effect == Effect::Deny),
            // An account listed in NotPrincipal exempts the account itself, not its
            // users: AWS's NotPrincipal examples list both the user ARN and the account
            // ARN to exempt one user, and say that without the account ARN "the policy
            // might deny access to the entire account containing the principal".
            Who::NotIn(set) => !set.contains(&req.principal, req.account, false),
        }
    }
}

impl Policy {
    /// Deny if any applicable statement denies; else Allow if any applicable statement
    /// allows; else NotApplicable. Allocation-free unless a policy variable or
    /// `aws:PrincipalArn` needs more room than the stack buffers provide.
    pub fn evaluate(&self, req: &Request<'_>) -> Outcome {
        let mut arn_buf = ArnBuf::new();
        let principal_arn = if self.needs_principal_arn {
            arn_buf.principal_arn(req)
        } else {
            None
        };
        let env = Env::new(req, principal_arn);
        let mut allowed = false;
        for statement in &self.statements {
            if allowed && statement.effect == Effect::Allow {
                continue;
            }
            if statement.applies(&env) {
                match statement.effect {
                    Effect::Deny => return Outcome::Deny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Outcome::Allow
        } else {
            Outcome::NotApplicable
        }
    }

    /// Whether this is a "public" bucket policy in S3 Block Public Access's sense (for
    /// GetBucketPolicyStatus's IsPublic, BlockPublicPolicy and RestrictPublicBuckets):
    /// some Allow statement grants to a wildcard principal (`*`, `{"AWS": "*"}` or any
    /// `NotPrincipal`) without a condition that pins it to fixed values of the keys AWS
    /// lists (the rules are in this crate's `public` module). Always false for identity
    /// policies.
    pub fn is_public(&self) -> bool {
        self.public
    }
}

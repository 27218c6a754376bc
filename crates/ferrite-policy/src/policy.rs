//! A parsed policy and its evaluation.

use crate::catalog::{ACTION_WORDS, action_at, action_index};
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
    Kms,
    Admin,
}

impl Service {
    /// The service at `index` of [`crate::catalog::SERVICES`].
    pub(crate) fn of(index: usize) -> Service {
        match index {
            0 => Service::S3,
            1 => Service::Iam,
            2 => Service::Kms,
            _ => Service::Admin,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ActionPattern {
    pub(crate) service: Service,
    /// The part after `service:`, ASCII-lowercased.
    pub(crate) name: Pattern,
}

impl ActionPattern {
    fn matches(&self, action: &str) -> bool {
        match self.service {
            Service::Any => true,
            _ => action
                .split_once(':')
                .is_some_and(|(prefix, name)| self.matches_parts(prefix, name)),
        }
    }

    fn matches_parts(&self, prefix: &str, name: &str) -> bool {
        let service = match self.service {
            Service::Any => return true,
            Service::S3 => "s3",
            Service::Iam => "iam",
            Service::Kms => "kms",
            Service::Admin => "admin",
        };
        prefix.eq_ignore_ascii_case(service) && self.name.matches_ascii_ci(name)
    }
}

/// The known actions (`catalog::action_index`) a statement's action patterns match,
/// computed at parse time: for a known request action the statement's Action test is
/// one bit test. Unknown request actions fall back to the patterns.
#[derive(Debug, Clone)]
pub(crate) struct ActionBits([u64; ACTION_WORDS]);

impl ActionBits {
    pub(crate) fn of(patterns: &[ActionPattern]) -> ActionBits {
        let mut bits = [0u64; ACTION_WORDS];
        let mut index = 0;
        while let Some((prefix, name)) = action_at(index) {
            if patterns.iter().any(|p| p.matches_parts(prefix, name)) {
                bits[index / 64] |= 1 << (index % 64);
            }
            index += 1;
        }
        ActionBits(bits)
    }

    fn contains(&self, index: usize) -> bool {
        self.0.get(index / 64).is_some_and(|word| word >> (index % 64) & 1 == 1)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) who: Who,
    /// `NotAction` when true.
    pub(crate) not_action: bool,
    pub(crate) actions: Box<[ActionPattern]>,
    pub(crate) action_bits: ActionBits,
    /// `NotResource` when true.
    pub(crate) not_resource: bool,
    pub(crate) resources: Box<[Pattern]>,
    pub(crate) conditions: Box<[Condition]>,
    /// The statement's `Sid`, for explaining a decision.
    pub(crate) sid: Option<Box<str>>,
}

/// The statement that decided a policy's outcome for a request ([`Policy::explain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decider {
    /// `Deny` or `Allow`.
    pub outcome: Outcome,
    /// The statement's place in the policy's `Statement` list, from 0.
    pub index: usize,
    pub sid: Option<String>,
}

impl Statement {
    /// Cheapest tests first: action, resource, principal, then conditions.
    fn applies(&self, env: &Env<'_>) -> bool {
        let req = env.request();
        let action = match env.action_index() {
            Some(index) => self.action_bits.contains(index),
            None => self.actions.iter().any(|a| a.matches(req.action)),
        };
        action != self.not_action
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
        self.evaluate_at(req, action_index(req.action))
    }

    /// What `policies` say of `req` together: a Deny in any wins (the rest are not
    /// evaluated), then an Allow in any; the same as evaluating each, with the
    /// request's action looked up once.
    pub fn evaluate_all<'p>(policies: impl IntoIterator<Item = &'p Policy>, req: &Request<'_>) -> Outcome {
        let action = action_index(req.action);
        let mut outcome = Outcome::NotApplicable;
        for p in policies {
            match p.evaluate_at(req, action) {
                Outcome::Deny => return Outcome::Deny,
                Outcome::Allow => outcome = Outcome::Allow,
                Outcome::NotApplicable => {}
            }
        }
        outcome
    }

    /// Runs `f` with the evaluation environment of `req` (formatting `aws:PrincipalArn`
    /// only when this policy reads it).
    fn with_env<R>(&self, req: &Request<'_>, action: Option<usize>, f: impl FnOnce(&Env<'_>) -> R) -> R {
        let mut arn_buf;
        let principal_arn = if self.needs_principal_arn {
            arn_buf = ArnBuf::new();
            arn_buf.principal_arn(req)
        } else {
            None
        };
        f(&Env::new(req, principal_arn, action))
    }

    fn evaluate_at(&self, req: &Request<'_>, action: Option<usize>) -> Outcome {
        self.with_env(req, action, |env| self.outcome_in(env))
    }

    fn outcome_in(&self, env: &Env<'_>) -> Outcome {
        let mut allowed = false;
        for statement in &self.statements {
            if allowed && statement.effect == Effect::Allow {
                continue;
            }
            if statement.applies(env) {
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

    /// Which statement decides [`Policy::evaluate`]'s outcome: the first Deny that
    /// applies, else the first Allow that applies; `None` when none applies.
    pub fn explain(&self, req: &Request<'_>) -> Option<Decider> {
        self.with_env(req, action_index(req.action), |env| self.decider_in(env))
    }

    fn decider_in(&self, env: &Env<'_>) -> Option<Decider> {
        let mut allow = None;
        for (index, statement) in self.statements.iter().enumerate() {
            if !statement.applies(env) {
                continue;
            }
            let decider = |outcome| Decider {
                outcome,
                index,
                sid: statement.sid.as_deref().map(str::to_string),
            };
            match statement.effect {
                Effect::Deny => return Some(decider(Outcome::Deny)),
                Effect::Allow if allow.is_none() => allow = Some(decider(Outcome::Allow)),
                Effect::Allow => {}
            }
        }
        allow
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(action: &str) -> ActionPattern {
        if action == "*" {
            return ActionPattern {
                service: Service::Any,
                name: Pattern::Any,
            };
        }
        let (prefix, name) = action.split_once(':').unwrap();
        let service = Service::of(
            crate::catalog::SERVICES
                .iter()
                .position(|(s, _)| prefix.eq_ignore_ascii_case(s))
                .unwrap(),
        );
        ActionPattern {
            service,
            name: Pattern::new(name, false).to_ascii_lowercase(),
        }
    }

    /// The bit set is a cache of the patterns: for every known action they must agree.
    #[test]
    fn action_bits_agree_with_the_patterns() {
        let sets: &[&[&str]] = &[
            &["*"],
            &["s3:*"],
            &["iam:*"],
            &["s3:GetObject"],
            &["S3:getobject", "s3:PUT*"],
            &["s3:*Object*", "iam:*AccessKey*"],
            &["s3:Get?bject", "iam:List*"],
            &["s3:?*Acl"],
            &["kms:*"],
            &["admin:*", "kms:Describe*"],
            &["admin:Get*", "iam:*", "s3:List*"],
        ];
        let mut index = 0;
        let mut total = 0;
        while let Some((prefix, name)) = action_at(index) {
            for set in sets {
                let patterns: Vec<ActionPattern> = set.iter().map(|a| pattern(a)).collect();
                let bits = ActionBits::of(&patterns);
                let action = format!("{prefix}:{name}");
                let by_patterns = patterns.iter().any(|p| p.matches(&action));
                assert_eq!(bits.contains(index), by_patterns, "{action} against {set:?}");
                total += usize::from(by_patterns);
            }
            index += 1;
        }
        assert!(total > index, "the sets match many actions");
        assert!(
            !ActionBits::of(&[pattern("*")]).contains(index),
            "no bit beyond the known actions"
        );
    }

    /// The deciding statement: the first applicable Deny beats every Allow; without
    /// one, the first applicable Allow; with neither, none.
    #[test]
    fn explain_names_the_deciding_statement() {
        let doc = r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "ReadAll", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/secret/*"}
        ]}"#;
        let policy = crate::parse(doc, crate::Scope::Identity).unwrap();
        let context = crate::Context::new();
        let ask = |action: &str, resource: &str| {
            let req = Request {
                account: "000000000000",
                principal: crate::Principal::User {
                    name: "u",
                    canonical_id: "c",
                    user_id: "AIDA",
                },
                action,
                resource,
                context: &context,
            };
            let explained = policy.explain(&req);
            assert_eq!(
                explained.as_ref().map_or(Outcome::NotApplicable, |d| d.outcome),
                policy.evaluate(&req),
                "{action} {resource}"
            );
            explained.map(|d| (d.outcome, d.index, d.sid))
        };
        assert_eq!(
            ask("s3:GetObject", "arn:aws:s3:::b/a"),
            Some((Outcome::Allow, 0, Some("ReadAll".into())))
        );
        assert_eq!(ask("s3:PutObject", "arn:aws:s3:::b/a"), Some((Outcome::Allow, 1, None)));
        assert_eq!(
            ask("s3:GetObject", "arn:aws:s3:::b/secret/x"),
            Some((Outcome::Deny, 2, Some("NoSecrets".into())))
        );
        assert_eq!(ask("s3:GetObject", "arn:aws:s3:::other/a"), None);
    }
}

//! The policy simulator (`iam:SimulatePrincipalPolicy`): would user U be allowed
//! action A on resource R by the policies, and which statement decided.
//!
//! It evaluates what AWS's simulator evaluates within one account: the user's identity
//! policies (each inline policy and each attached managed policy), and, for an S3
//! resource, its bucket's policy. An explicit Deny in any of them decides; else an
//! Allow in any; else the implicit deny. The request carries no context keys (no
//! source address, no TLS, no headers), so a condition that needs one does not apply,
//! as in AWS's simulator without context entries. ACLs and the bucket owner's
//! rights are not policies and are not simulated.

use crate::identity::{require_iam, user_arn};
use crate::{Caller, Ferrite, ModelError, ModelResult};

/// What the simulation decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulatedDecision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl SimulatedDecision {
    /// AWS's spelling (`EvalDecision`).
    pub fn as_str(self) -> &'static str {
        match self {
            SimulatedDecision::Allowed => "allowed",
            SimulatedDecision::ExplicitDeny => "explicitDeny",
            SimulatedDecision::ImplicitDeny => "implicitDeny",
        }
    }
}

/// The statement that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidingStatement {
    /// `inline policy NAME`, `managed policy NAME` or `bucket policy of NAME`.
    pub policy: String,
    /// Its place in the policy's `Statement` list, from 0.
    pub index: usize,
    pub sid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    pub decision: SimulatedDecision,
    pub decided_by: Option<DecidingStatement>,
    /// The policies evaluated, by the same labels.
    pub evaluated: Vec<String>,
}

/// The bucket an S3 resource ARN names.
fn s3_bucket(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:aws:s3:::")?;
    let bucket = rest.split('/').next()?;
    (!bucket.is_empty() && !bucket.contains(['*', '?'])).then_some(bucket)
}

impl Ferrite {
    /// Simulates `user`'s policies for `action` on `resource` (an ARN).
    pub async fn simulate_policies(
        &self,
        caller: &Caller,
        user: &str,
        action: &str,
        resource: &str,
    ) -> ModelResult<Simulation> {
        require_iam(caller, "iam:SimulatePrincipalPolicy", &user_arn(user))?;
        if !ferrite_policy::is_known_action(action) {
            return Err(ModelError::ValidationError(format!(
                "{action:?} is not an action Ferrite knows (service:Action, such as s3:GetObject)"
            )));
        }
        if resource.is_empty() || resource.len() > 2048 {
            return Err(ModelError::ValidationError(
                "the resource is an ARN of 1 to 2048 characters".into(),
            ));
        }
        // The bucket's policy is evaluated only when the caller may read it (the S3
        // API's GetBucketPolicy check): simulating reveals no policy it could not see.
        let mut unreadable = None;
        let bucket_policy = match s3_bucket(resource) {
            Some(b) => match self.bucket_policy(caller, b).await {
                Ok(doc) => Some((b.to_string(), doc)),
                Err(ModelError::AccessDenied) => {
                    unreadable = Some(format!("bucket policy of {b} (left out: you may not read it)"));
                    None
                }
                Err(_) => None,
            },
            None => None,
        };
        let inner = self.inner.clone();
        let (user, action, resource) = (user.to_string(), action.to_string(), resource.to_string());
        crate::engine::blocking(move || {
            let txn = inner.meta.begin_read()?;
            let rec = crate::users::read_user_record(&*txn, &user)?;
            // (label, document, whether it is the bucket's policy)
            let mut docs: Vec<(String, String, bool)> = Vec::new();
            for (label, doc) in crate::identity::named_policies_of(&*txn, &user.to_ascii_lowercase())? {
                docs.push((label, doc, false));
            }
            let bucket = bucket_policy.as_ref().map(|(b, _)| b.clone());
            if let Some((b, doc)) = bucket_policy {
                docs.push((format!("bucket policy of {b}"), doc, true));
            }
            let context = ferrite_policy::Context::new();
            let request = ferrite_policy::Request {
                account: crate::ACCOUNT_ID,
                principal: ferrite_policy::Principal::User {
                    name: &rec.name,
                    canonical_id: &rec.canonical_id,
                    user_id: &rec.user_id,
                },
                action: &action,
                resource: &resource,
                context: &context,
            };
            let mut allow = None;
            let mut evaluated = Vec::new();
            for (label, doc, of_bucket) in &docs {
                let scope = match (of_bucket, &bucket) {
                    (true, Some(b)) => ferrite_policy::Scope::Bucket(b),
                    _ => ferrite_policy::Scope::Identity,
                };
                // A stored policy that no longer parses denies everything where it is
                // enforced; the simulator says so instead of guessing.
                let policy = ferrite_policy::parse(doc, scope)
                    .map_err(|e| ModelError::Internal(format!("the stored {label} does not parse: {e}")))?;
                evaluated.push(label.clone());
                let Some(d) = policy.explain(&request) else {
                    continue;
                };
                let by = DecidingStatement {
                    policy: label.clone(),
                    index: d.index,
                    sid: d.sid,
                };
                match d.outcome {
                    ferrite_policy::Outcome::Deny => {
                        return Ok(Simulation {
                            decision: SimulatedDecision::ExplicitDeny,
                            decided_by: Some(by),
                            evaluated,
                        });
                    }
                    ferrite_policy::Outcome::Allow if allow.is_none() => allow = Some(by),
                    _ => {}
                }
            }
            evaluated.extend(unreadable);
            Ok(Simulation {
                decision: if allow.is_some() {
                    SimulatedDecision::Allowed
                } else {
                    SimulatedDecision::ImplicitDeny
                },
                decided_by: allow,
                evaluated,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_resources_name_their_bucket() {
        assert_eq!(s3_bucket("arn:aws:s3:::photos/a/b"), Some("photos"));
        assert_eq!(s3_bucket("arn:aws:s3:::photos"), Some("photos"));
        assert_eq!(s3_bucket("arn:aws:s3:::pho*"), None);
        assert_eq!(s3_bucket("arn:aws:iam::000000000000:user/x"), None);
        assert_eq!(s3_bucket("*"), None);
    }
}

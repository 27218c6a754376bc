//! Who is asking: the authenticated principal of a request, which every model
//! operation receives first, with what policies may test about the request.

use std::sync::{Arc, OnceLock};

use ferrite_policy::{Context, Outcome, Policy};

use crate::records::PublicAccessBlock;

/// The principal a request runs as. The adapter builds it once per request from what
/// the protocol layer authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The administrator (the root credentials): may do everything, on every bucket.
    Root { canonical_id: String, display_name: String },
    /// A user with its own access key (the identity issue adds them).
    User {
        canonical_id: String,
        display_name: String,
        access_key_id: String,
        /// IAM's unique id of the user (`aws:userid`).
        user_id: String,
    },
    /// An unsigned request.
    Anonymous,
}

/// A user's identity policies (inline and attached), parsed once and shared: empty for
/// root and anonymous callers.
pub type IdentityPolicies = Arc<[Arc<Policy>]>;

/// The condition keys of a request, built on first use: most requests meet no policy
/// and never pay for them. The builder owns what it needs of the request.
pub struct RequestContext {
    cell: OnceLock<Context>,
    build: Option<Box<dyn Fn() -> Context + Send + Sync>>,
}

impl RequestContext {
    /// Keys built only when a policy first asks for them.
    pub fn lazy(build: impl Fn() -> Context + Send + Sync + 'static) -> Self {
        Self {
            cell: OnceLock::new(),
            build: Some(Box::new(build)),
        }
    }

    /// Keys already built.
    pub fn ready(context: Context) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(context);
        Self { cell, build: None }
    }

    pub fn get(&self) -> &Context {
        self.cell
            .get_or_init(|| self.build.as_ref().map_or_else(Context::new, |b| b()))
    }
}

impl ferrite_policy::ContextSource for RequestContext {
    fn context(&self) -> &Context {
        self.get()
    }
}

impl Default for RequestContext {
    fn default() -> Self {
        Self::ready(Context::new())
    }
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cell.get() {
            Some(cx) => cx.fmt(f),
            None => f.write_str("RequestContext(not built)"),
        }
    }
}

/// The caller of a model operation: its principal, its identity policies, and the
/// request facts that policies test (source address, TLS, signature type, headers).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The user's identity policies.
    pub policies: IdentityPolicies,
    /// The condition keys of the request (`aws:SourceIp`, `s3:prefix`, ...), as the
    /// adapter read them.
    pub context: Arc<RequestContext>,
    /// The server-wide public access block (`--block-public-access`): it applies to
    /// every bucket on top of the bucket's own.
    pub account_block: PublicAccessBlock,
    /// `x-amz-expected-bucket-owner`: the request is refused (AccessDenied) unless the
    /// bucket it addresses is owned by this canonical id.
    pub expected_bucket_owner: Option<String>,
    /// `x-amz-source-expected-bucket-owner`: the same, for the source of a copy.
    pub expected_source_owner: Option<String>,
}

impl Caller {
    /// The caller as the policy evaluator sees it.
    pub(crate) fn policy_principal(&self) -> ferrite_policy::Principal<'_> {
        match &self.principal {
            Principal::Root { canonical_id, .. } => ferrite_policy::Principal::Root { canonical_id },
            Principal::User {
                canonical_id,
                display_name,
                user_id,
                ..
            } => ferrite_policy::Principal::User {
                name: display_name,
                canonical_id,
                user_id,
            },
            Principal::Anonymous => ferrite_policy::Principal::Anonymous,
        }
    }

    /// What the caller's identity policies say of `request` together: a Deny in any
    /// wins, then an Allow in any.
    pub(crate) fn identity_outcome(&self, request: &ferrite_policy::Request<'_>) -> Outcome {
        Policy::evaluate_all(self.policies.iter().map(|p| &**p), request)
    }

    pub fn new(principal: Principal) -> Self {
        Self {
            principal,
            policies: Arc::from(Vec::new()),
            context: Arc::default(),
            account_block: PublicAccessBlock::default(),
            expected_bucket_owner: None,
            expected_source_owner: None,
        }
    }

    /// The caller as it reads the source of a copy: the source's expected owner is the
    /// one the authorizer checks.
    pub fn for_copy_source(&self) -> Caller {
        Caller {
            expected_bucket_owner: self.expected_source_owner.clone(),
            ..self.clone()
        }
    }

    /// The caller as it writes `tags` (PutObject with `x-amz-tagging`,
    /// PutObjectTagging, ...): policies see them as `s3:RequestObjectTag/<key>` and
    /// `s3:RequestObjectTagKeys`, built only when a condition asks.
    pub(crate) fn with_request_tags(&self, tags: &[(String, String)]) -> Caller {
        if tags.is_empty() {
            return self.clone();
        }
        let (base, tags) = (self.context.clone(), tags.to_vec());
        Caller {
            context: Arc::new(RequestContext::lazy(move || {
                // `set` the first key: a caller tagged twice with the same tags
                // (PutObject checks before and after staging) has them once.
                let mut cx = base.get().clone();
                for (i, (k, v)) in tags.iter().enumerate() {
                    cx.set(&format!("s3:RequestObjectTag/{k}"), v.as_str());
                    if i == 0 {
                        cx.set("s3:RequestObjectTagKeys", k.as_str());
                    } else {
                        cx.insert("s3:RequestObjectTagKeys", k.as_str());
                    }
                }
                cx
            })),
            ..self.clone()
        }
    }

    pub fn root(canonical_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self::new(Principal::Root {
            canonical_id: canonical_id.into(),
            display_name: display_name.into(),
        })
    }

    pub fn anonymous() -> Self {
        Self::new(Principal::Anonymous)
    }

    /// Root's display name or the user's name; `None` for anonymous.
    pub fn display_name(&self) -> Option<&str> {
        match &self.principal {
            Principal::Root { display_name, .. } | Principal::User { display_name, .. } => Some(display_name),
            Principal::Anonymous => None,
        }
    }

    /// The canonical id of a signed caller; `None` for anonymous.
    pub fn canonical_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::Root { canonical_id, .. } | Principal::User { canonical_id, .. } => Some(canonical_id),
            Principal::Anonymous => None,
        }
    }

    /// The id stored as the owner of what this caller creates: anonymous callers (who
    /// may write only where a grant to AllUsers lets them) get AWS's anonymous id.
    pub(crate) fn owner_id(&self) -> String {
        self.canonical_id().unwrap_or(crate::ANONYMOUS_ID).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_callers_own_what_they_create_and_anonymous_ones_nothing() {
        let root = Caller::root("a".repeat(64), "admin");
        assert_eq!(root.owner_id(), "a".repeat(64));
        let user = Caller::new(Principal::User {
            canonical_id: "b".repeat(64),
            display_name: "bob".into(),
            access_key_id: "AKB".into(),
            user_id: "AIDAB".into(),
        });
        assert_eq!(user.canonical_id(), Some(&*"b".repeat(64)));
        let anon = Caller::anonymous();
        assert_eq!(anon.owner_id(), crate::ANONYMOUS_ID);
        assert_eq!(anon.canonical_id(), None);
    }

    #[test]
    fn request_tags_become_condition_keys_beside_the_requests_own() {
        let mut cx = Context::new();
        cx.set("s3:prefix", "p/");
        let mut caller = Caller::anonymous();
        caller.context = Arc::new(RequestContext::ready(cx));
        let tags = [("a".to_string(), "1".to_string()), ("b".to_string(), String::new())];
        let tagged = caller.with_request_tags(&tags);
        let keys = tagged.context.get();
        assert_eq!(keys.get("s3:RequestObjectTag/a"), ["1"]);
        assert_eq!(keys.get("s3:RequestObjectTag/b"), [""]);
        assert_eq!(keys.get("s3:RequestObjectTagKeys"), ["a", "b"]);
        assert_eq!(keys.get("s3:prefix"), ["p/"]);
        let twice = tagged.with_request_tags(&tags);
        assert_eq!(twice.context.get().get("s3:RequestObjectTagKeys"), ["a", "b"]);
        // No tags: no keys at all (ForAnyValue over none is false).
        assert!(
            caller
                .with_request_tags(&[])
                .context
                .get()
                .get("s3:RequestObjectTagKeys")
                .is_empty()
        );
    }
}

//! Shared helpers for the integration tests: requests in a few lines.
#![allow(dead_code)]

use ferrite_policy::{Context, Outcome, Policy, Principal, Request, Scope, parse};

pub const ACCOUNT: &str = "000000000000";

pub const ANON: Principal<'static> = Principal::Anonymous;
pub const ROOT: Principal<'static> = Principal::Root {
    canonical_id: "c0ffee00root",
};
pub const ALICE: Principal<'static> = Principal::User {
    name: "alice",
    canonical_id: "c0ffee01alice",
    user_id: "AIDAALICEEXAMPLE",
};
pub const BOB: Principal<'static> = Principal::User {
    name: "Bob",
    canonical_id: "c0ffee02bob",
    user_id: "AIDABOBEXAMPLE",
};

pub fn bucket_policy(bucket: &str, doc: &str) -> Policy {
    parse(doc, Scope::Bucket(bucket)).unwrap_or_else(|e| panic!("bucket policy refused: {e}\n{doc}"))
}

pub fn user_policy(doc: &str) -> Policy {
    parse(doc, Scope::Identity).unwrap_or_else(|e| panic!("identity policy refused: {e}\n{doc}"))
}

/// Evaluates `policy` for one request; `keys` fill the context (repeat a key for
/// several values).
pub fn eval(policy: &Policy, principal: Principal<'_>, action: &str, resource: &str, keys: &[(&str, &str)]) -> Outcome {
    let mut context = Context::new();
    for (k, v) in keys {
        context.insert(k, *v);
    }
    policy.evaluate(&Request {
        account: ACCOUNT,
        principal,
        action,
        resource,
        context: &context,
    })
}

//! The IAM / S3 policy language for Ferrite: bucket policies and user (identity)
//! policies, parsed strictly as AWS parses them and evaluated as AWS evaluates them.
//!
//! - [`parse`] turns a JSON document into a [`Policy`], or says what is wrong with it
//!   ([`PolicyError`], in AWS's wording where AWS has one). Everything that can be
//!   decided once is decided here: action names are checked against the complete lists
//!   of `s3:` and `iam:` actions, condition keys against the known keys, and patterns,
//!   address ranges, dates, numbers and base64 values are parsed.
//! - [`Policy::evaluate`] answers one [`Request`] with an [`Outcome`]: Deny if a
//!   matching statement denies, else Allow if one allows, else NotApplicable. It reads
//!   nothing but its arguments and allocates nothing in the common case.
//! - [`Policy::is_public`] is S3 Block Public Access's notion of a public bucket policy.
//!
//! This crate owns the policy language only. It never does I/O, never reads the clock
//! (the caller puts `aws:CurrentTime` / `aws:EpochTime` into the [`Context`]), and
//! depends on no other Ferrite crate: combining bucket policies, user policies and ACLs
//! into a decision is the authorizer's job (`ferrite-model`).
//!
//! Sources: the IAM User Guide's policy reference (grammar, elements, condition
//! operators, policy variables, global condition keys), the Service Authorization
//! Reference for Amazon S3 and IAM (action and key names) and the Amazon S3 User Guide
//! (bucket policy examples, "The meaning of public").

mod catalog;
mod condition;
mod env;
mod error;
mod json;
mod parse;
mod pattern;
mod policy;
mod principal;
mod public;
mod request;
mod values;

pub use error::PolicyError;
pub use policy::{Decider, Outcome, Policy};
pub use request::{Context, ContextSource, Principal, Request};

// Policies are cached and shared between request threads as `Arc<Policy>`.
const _: fn() = || {
    fn shareable<T: Send + Sync + Clone + std::fmt::Debug>() {}
    shareable::<Policy>();
};

/// The largest policy document accepted, in bytes: S3's bucket policy limit ("Bucket
/// policies are limited to 20 KB in size").
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// What kind of policy a document is, which decides what it may contain.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// A bucket policy of the named bucket: every statement has a `Principal` or
    /// `NotPrincipal`, only `s3:` actions, and only resources inside the bucket.
    Bucket(&'a str),
    /// A user (identity) policy: no principal; `s3:` and `iam:` actions.
    Identity,
}

/// Whether `action` (`service:Action`, any case) is one the policy language knows.
pub fn is_known_action(action: &str) -> bool {
    catalog::action_index(action).is_some()
}

/// Parses and validates a policy document.
///
/// Documents longer than [`MAX_POLICY_BYTES`] are refused before any parsing.
pub fn parse(doc: &str, scope: Scope<'_>) -> Result<Policy, PolicyError> {
    parse::parse(doc, scope)
}

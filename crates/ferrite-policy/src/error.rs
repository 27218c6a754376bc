//! The one error of this crate: a document that is not a policy we accept.

use crate::MAX_POLICY_BYTES;

/// Why [`crate::parse`] refused a document. The API layer maps both variants to S3's
/// `MalformedPolicy` (or IAM's `MalformedPolicyDocument`); the `Display` text is the
/// message for the client, in AWS's wording where AWS has one.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The document is longer than [`MAX_POLICY_BYTES`]; nothing of it was parsed.
    #[error("Policies must be no larger than {max} bytes; this one has {size}", max = MAX_POLICY_BYTES)]
    TooLarge { size: usize },
    /// The document is not valid JSON or breaks the policy grammar; the text says what.
    #[error("{0}")]
    Malformed(String),
}

pub(crate) fn malformed(msg: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(msg.into())
}

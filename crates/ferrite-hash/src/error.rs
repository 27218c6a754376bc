/// What can go wrong while hashing or verifying a body. The object model maps each
/// variant to its own error of the same meaning.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the {0} of the body does not match the one given")]
    BadDigest(&'static str),
    #[error("invalid digest: {0}")]
    InvalidDigest(String),
    #[error("body is shorter or longer than its declared length")]
    IncompleteBody,
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("corrupt checksum: {0}")]
    Corrupt(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type HashResult<T> = Result<T, HashError>;

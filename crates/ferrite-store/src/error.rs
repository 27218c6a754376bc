use std::io;

/// An error from a storage backend. These are never the client's fault: the layers
/// above log them with context and answer `InternalError`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("metadata engine error: {0}")]
    Engine(String),
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The transaction lost a conflict with a concurrent one and was aborted; nothing
    /// it wrote is visible. Running it again from the start may succeed. The embedded
    /// stores serialize writers and never return it; a networked transactional backend
    /// does, under contention (see the [`crate::MetaStore`] contract).
    #[error("transaction conflict, retry")]
    Conflict,
}

impl StoreError {
    /// Whether the whole transaction may be run again from the start.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

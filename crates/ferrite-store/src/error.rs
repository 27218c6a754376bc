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
}

pub type StoreResult<T> = Result<T, StoreError>;

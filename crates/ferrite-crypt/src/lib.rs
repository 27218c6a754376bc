//! Ferrite's encryption at rest, without I/O: key material as a type of its own
//! ([`Key`]), the chunked authenticated format object data is stored in ([`chunk`]),
//! and the sealing of keys and other secrets under a key-encryption key ([`seal`]).
//!
//! The cipher is AES-256-GCM from `aws-lc-rs` (AWS-LC's assembly: VAES with AVX-512 or
//! AVX2, AES-NI and carry-less multiplication on x86_64, ARMv8 crypto extensions on
//! aarch64). It replaced `ring` because it opens and seals object data faster on the
//! same CPU (docs/ARCHITECTURE.md, "Encryption at rest") and can encrypt from one
//! buffer into another, which saves the body a copy on the way to disk. The model decides
//! which key seals what and where sealed things are stored; this crate only does the
//! arithmetic, so it is tested and benchmarked alone.

pub mod chunk;
mod key;
pub mod seal;

pub use chunk::{CHUNK, ChunkCipher, NoncePrefix, Opener, SealBuf, SealedSpan, Sealer, TAG};
pub use key::{Key, KeyError, fingerprint, keyed_tag, random_bytes};

/// Why decryption failed. Deliberately unspecific: a wrong key, tampered bytes, a
/// chunk moved from elsewhere and a truncated stream all look the same to the cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// The authentication tag did not verify.
    #[error("authentication failed: the data was altered, truncated or sealed under another key or binding")]
    Unauthentic,
    /// A sealed value or chunk has an impossible length.
    #[error("sealed data has an impossible length")]
    Length,
    /// More chunks than the nonce's counter can number.
    #[error("too many chunks for one nonce prefix")]
    TooLong,
}

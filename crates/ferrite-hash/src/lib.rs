//! Body hashing for Ferrite: the MD5 behind every ETag and the `x-amz-checksum-*`
//! algorithms, computed in one pass while a body streams through.
//!
//! - [`md5_lanes`]: MD5 kernels that advance eight independent messages side by side
//!   in SIMD lanes (AVX2 / AVX-512VL, chosen at run time; scalar elsewhere). The only
//!   `unsafe` of the hashing code lives there, each block with its `// SAFETY:` note.
//! - [`Md5Pool`]: hashing threads that put the MD5 work of concurrent uploads into
//!   those lanes.
//! - [`BodyHasher`], [`ChecksumAlgorithm`], [`ChecksumValue`], [`Expected`],
//!   [`Digests`]: the digests of one body and their verification.
//!
//! [`ChecksumAlgorithm`] and [`ChecksumValue`] are stored inside the object model's
//! records (postcard): their serialized shape is frozen; a change needs a new record
//! version there.

// `unsafe` only where the SIMD kernels need it (md5_lanes), each block with a SAFETY note.
#![deny(unsafe_code)]

mod checksum;
mod error;
mod hash_pool;
#[allow(unsafe_code)]
pub mod md5_lanes;

pub use checksum::{BodyHasher, ChecksumAlgorithm, ChecksumValue, Digests, Expected, multipart_checksum};
pub use error::{HashError, HashResult};
pub use hash_pool::{Md5Feed, Md5Pool};

//! Storage backends for Ferrite.
//!
//! This crate owns the two storage traits every layer above builds on:
//! - [`MetaStore`]: an ordered, transactional key-value store holding all metadata
//!   (buckets, object versions, blob references). Its embedded default is [`RedbMetaStore`].
//! - [`BlobStore`]: a store of immutable byte blobs (object data). Its default is
//!   [`FsBlobStore`], one file per blob on the local filesystem.
//!
//! It knows nothing of S3, HTTP or the object model: keys and values are bytes.
//! [`conformance`] holds the one test suite every implementation must pass.

// `unsafe` only for the one raw filesystem call (fs_blob's sync_file_range) and the
// librados calls (rados_ffi, feature `rados`), each with a SAFETY note.
#![deny(unsafe_code)]

mod blob;
pub mod conformance;
mod error;
pub mod faults;
mod fs_blob;
mod meta;
#[cfg(feature = "postgres")]
mod pg_meta;
#[cfg(feature = "postgres")]
pub mod pg_testing;
#[cfg(feature = "rados")]
mod rados_blob;
#[cfg(feature = "rados")]
mod rados_ffi;
mod redb_meta;
#[cfg(feature = "sqlite")]
mod sqlite_meta;
mod zstd_blob;

pub use blob::{BlobId, BlobReader, BlobStore, BlobWriter, Space};
pub use error::{StoreError, StoreResult};
pub use fs_blob::{FsBlobStore, PAIRING_FILE};
pub use meta::{KvPair, MetaStore, ReadTxn, Table, WriteTxn};
#[cfg(feature = "postgres")]
pub use pg_meta::{PgMetaStore, PgOptions};
#[cfg(feature = "rados")]
pub use rados_blob::{RadosBlobStore, RadosTarget};
pub use redb_meta::RedbMetaStore;
#[cfg(feature = "sqlite")]
pub use sqlite_meta::SqliteMetaStore;
pub use zstd_blob::ZstdBlobStore;

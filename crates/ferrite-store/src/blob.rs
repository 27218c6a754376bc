//! The blob store trait: immutable byte blobs named by random ids.
//!
//! A blob is written through a [`BlobWriter`] into temporary space, and becomes a
//! permanent blob only when [`BlobWriter::finish`] returns, after its bytes are durable.
//! A writer dropped before `finish` leaves nothing behind. Whether a permanent blob is
//! *live* is not the blob store's business: the metadata store records references, and
//! the object model deletes blobs it no longer references.

use std::fmt;
use std::time::SystemTime;

use crate::{StoreError, StoreResult};

/// A blob's name: 128 random bits, shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub [u8; 16]);

impl BlobId {
    pub fn random() -> Self {
        Self(rand::random())
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> StoreResult<Self> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).map_err(|_| StoreError::Corrupt(format!("bad blob id {s:?}")))?;
        Ok(Self(out))
    }

    pub fn from_slice(b: &[u8]) -> StoreResult<Self> {
        let arr: [u8; 16] = b
            .try_into()
            .map_err(|_| StoreError::Corrupt("bad blob id length".into()))?;
        Ok(Self(arr))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.to_hex())
    }
}

pub trait BlobWriter: Send {
    fn write(&mut self, buf: &[u8]) -> StoreResult<()>;

    /// Writes all of `bufs`, in order. Stores that can should do it in one call
    /// (a request body arrives in many small chunks).
    fn write_all(&mut self, bufs: &[&[u8]]) -> StoreResult<()> {
        for buf in bufs {
            self.write(buf)?;
        }
        Ok(())
    }

    /// Makes the written bytes durable and permanent under the returned id.
    fn finish(self: Box<Self>) -> StoreResult<BlobId>;
}

pub trait BlobReader: Send + Sync {
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> StoreResult<usize>;

    /// Reads the bytes at `offset` into `bufs`, filling each before the next, as one
    /// `read_at` into their concatenation would; returns how many were read (fewer
    /// than asked only at the end of the blob, or when the store reads in parts: call
    /// again for the rest). A reader of sealed chunks uses it to put the ciphertexts
    /// side by side and the tags apart. The default reads each buffer with `read_at`.
    fn read_vectored_at(&self, offset: u64, bufs: &mut [std::io::IoSliceMut<'_>]) -> StoreResult<usize> {
        let mut done = 0;
        for buf in bufs.iter_mut() {
            let mut filled = 0;
            while filled < buf.len() {
                let n = self.read_at(offset + (done + filled) as u64, &mut buf[filled..])?;
                if n == 0 {
                    return Ok(done + filled);
                }
                filled += n;
            }
            done += filled;
        }
        Ok(done)
    }
}

pub trait BlobStore: Send + Sync + 'static {
    fn create(&self) -> StoreResult<Box<dyn BlobWriter>> {
        self.create_as(BlobId::random())
    }

    /// Starts a blob that [`BlobWriter::finish`] makes permanent under `id` (which
    /// must not exist yet): how a copy between stores keeps the ids the metadata
    /// names (`ferrite migrate`). Everything else uses [`BlobStore::create`].
    fn create_as(&self, id: BlobId) -> StoreResult<Box<dyn BlobWriter>>;

    /// Opens a permanent blob; `None` if there is no such blob.
    fn open(&self, id: BlobId) -> StoreResult<Option<Box<dyn BlobReader>>>;

    /// Deletes a permanent blob. Deleting a missing blob succeeds.
    fn delete(&self, id: BlobId) -> StoreResult<()>;

    /// Removes every unfinished write (left by a crash). Only call when no writer is live.
    fn clear_temp(&self) -> StoreResult<usize>;

    /// Calls `f` with every permanent blob and the time it was made permanent.
    fn for_each(&self, f: &mut dyn FnMut(BlobId, SystemTime)) -> StoreResult<()>;

    /// The time a blob made now would show in [`BlobStore::for_each`]. Blob times may
    /// come from a coarser clock than `SystemTime::now()` (a file system's timestamps
    /// can lag it by a clock tick), so compare them with this: every blob made after
    /// this call shows this time or a later one.
    fn now(&self) -> StoreResult<SystemTime>;

    /// The space of what the store writes to (a file system's size and what is free
    /// of it), for operators; `None` when the store cannot tell.
    fn space(&self) -> StoreResult<Option<Space>> {
        Ok(None)
    }

    /// The pairing id recorded in this store (see [`BlobStore::claim_pairing`]), if
    /// any.
    fn pairing(&self) -> StoreResult<Option<String>>;

    /// Records, durably, `id` as the id of this store's pairing with a metadata
    /// store, unless the store holds one already, and returns the id it holds after
    /// the call (`id`, or the one recorded before). Atomic: of callers racing to
    /// claim a store that holds none, exactly one records its id and all are
    /// answered that one. (The object model refuses to open a metadata store with a
    /// blob store it was not paired with, since its collectors delete blobs it does
    /// not reference.)
    fn claim_pairing(&self, id: &str) -> StoreResult<String>;
}

/// A store's capacity: total and free bytes (free to unprivileged writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub total: u64,
    pub free: u64,
}

//! Staging a request body: stream it into durable storage while hashing it, before
//! any metadata changes. Memory per request is bounded by a few flush buffers
//! ([`MD5_AHEAD`] + 1 megabytes).

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrite_store::{BlobId, BlobWriter, WriteTxn};
use futures::{Stream, StreamExt};

use ferrite_hash::{BodyHasher, Digests};

use crate::clock::time_ordered_id;
use crate::engine::{Inner, blocking};
use crate::records::DataRef;
use crate::sse::{Encryption, NewEncryption};
use crate::{ChecksumAlgorithm, Expected, Ferrite, ModelError, ModelResult};
use ferrite_crypt::chunk::sealed_len;
use ferrite_crypt::{CHUNK, SealBuf, Sealer, TAG};

/// Largest single PUT, as on AWS.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Bodies up to this size are stored inline in the metadata store: one fsync, no file.
pub const INLINE_MAX: usize = 64 * 1024;
/// Bytes gathered (as the received chunks, not copied) before they are handed on to
/// be written and hashed.
const FLUSH_AT: usize = 1024 * 1024;
/// Flushed megabytes an upload may have waiting for MD5 before it stops receiving.
/// The hashing thread then goes from one to the next without waiting for the upload,
/// and the upload goes on receiving and writing while the thread is busy elsewhere.
const MD5_AHEAD: usize = 3;
/// Received chunks smaller than this are copied together into buffers of
/// [`COALESCE_BUF`] bytes instead of being kept one by one: a client sending 1-byte
/// aws-chunked chunks would otherwise make a megabyte into a million buffers (and
/// each may keep a larger receive buffer alive). Larger chunks are kept as they came.
const COALESCE_BELOW: usize = 4096;
const COALESCE_BUF: usize = 64 * 1024;

/// A body read in full and hashed, not yet part of any object. Dropping it discards it.
pub struct Staged {
    pub(crate) data: StagedData,
    pub(crate) digests: Digests,
    /// How the stored bytes are sealed (`None`: they are the body as sent).
    pub(crate) encryption: Option<Encryption>,
    /// Held until the write commits or fails (see `rotation.rs`).
    pub(crate) pin: Option<crate::rotation::SealPin>,
    /// What the ETag derives from when it is not the MD5 (`sse::etag`).
    pub(crate) etag_key: Option<ferrite_crypt::Key>,
    /// The tier the blob is written to (`tiers.rs`; inline data is in the metadata
    /// store, and only staged so in the default tier).
    pub(crate) tier: String,
}

pub(crate) enum StagedData {
    Inline(Bytes),
    Blob(Box<dyn BlobWriter>),
}

/// What a staged body became once made durable.
pub(crate) enum Landed {
    Inline(Bytes),
    Blob(BlobId),
}

impl Staged {
    pub fn verify(&self, expected: &Expected) -> ModelResult<()> {
        Ok(self.digests.verify(expected)?)
    }

    pub fn len(&self) -> u64 {
        self.digests.len
    }

    pub fn is_empty(&self) -> bool {
        self.digests.len == 0
    }

    pub fn etag(&self) -> String {
        self.digests.etag()
    }

    pub fn checksum(&self) -> Option<&crate::ChecksumValue> {
        self.digests.checksum.as_ref()
    }

    /// Makes the data durable (blocking: call off the async threads).
    pub(crate) fn land(self) -> ModelResult<(Landed, Digests, Option<Encryption>, String)> {
        let landed = match self.data {
            StagedData::Inline(b) => Landed::Inline(b),
            StagedData::Blob(w) => Landed::Blob(w.finish()?),
        };
        Ok((landed, self.digests, self.encryption, self.tier))
    }
}

/// Where a body goes: the blob (created at the first flush), the hashes so far (but
/// MD5, which is in an [`Md5Feed`](ferrite_hash::Md5Feed) meanwhile), and the sealer
/// of an encrypted body (the hashes are of the plaintext; the blob gets the chunks
/// sealed).
struct Sink {
    /// The tier's blob store, which the blob is created in.
    store: Arc<dyn ferrite_store::BlobStore>,
    writer: Option<Box<dyn BlobWriter>>,
    hasher: BodyHasher,
    sealer: Option<Sealer>,
    /// The buffer each flush seals into, kept from one flush to the next (a fresh
    /// megabyte per flush cost more in page faults than the sealing itself); between
    /// flushes it holds the plaintext of the chunk not yet complete.
    sealed: SealBuf,
    /// Sealed bytes written to the blob so far.
    sealed_written: u64,
}

/// The sink, or the flush that has it while it writes a megabyte (and feeds it to the
/// extra checksum). One flush runs while the next megabyte is received: the upload is
/// not paused for its disk write.
// One per upload, moved once per megabyte: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum SinkSlot {
    Ready(Sink),
    Flushing(tokio::task::JoinHandle<ModelResult<Sink>>),
}

impl SinkSlot {
    async fn ready(self) -> ModelResult<Sink> {
        match self {
            SinkSlot::Ready(sink) => Ok(sink),
            SinkSlot::Flushing(flush) => flush
                .await
                .map_err(|e| ModelError::Internal(format!("flush task failed: {e}")))?,
        }
    }
}

impl Ferrite {
    /// Reads `body` to its end, hashing MD5 and `algorithm` on the way. Fails with
    /// `EntityTooLarge` past `max_size` bytes, without reading further, and with
    /// `RequestTimeout` when the body sends nothing for the idle timeout.
    pub async fn stage<S>(&self, body: S, algorithm: Option<ChecksumAlgorithm>, max_size: u64) -> ModelResult<Staged>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        self.stage_with(body, algorithm, max_size, INLINE_MAX, None, "").await
    }

    /// Like [`Ferrite::stage`], sealing the stored bytes as `encryption` says, into
    /// `tier` (a tier beside the data dir gets every body as a blob, however small).
    pub(crate) async fn stage_sealed<S>(
        &self,
        body: S,
        algorithm: Option<ChecksumAlgorithm>,
        max_size: u64,
        encryption: Option<NewEncryption>,
        tier: &str,
    ) -> ModelResult<Staged>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        let inline_max = if tier.is_empty() { INLINE_MAX } else { 0 };
        self.stage_with(body, algorithm, max_size, inline_max, encryption, tier)
            .await
    }

    /// Stages a multipart part: like [`Ferrite::stage`], but always into a blob, since
    /// parts become the segments of a blob-backed object.
    pub async fn stage_part<S>(&self, body: S, algorithm: Option<ChecksumAlgorithm>) -> ModelResult<Staged>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        self.stage_with(body, algorithm, MAX_PUT_SIZE, 0, None, "").await
    }

    /// Like [`Ferrite::stage_part`], sealing the part as its upload says, into the
    /// upload's tier.
    pub(crate) async fn stage_part_sealed<S>(
        &self,
        body: S,
        algorithm: Option<ChecksumAlgorithm>,
        encryption: Option<NewEncryption>,
        tier: &str,
    ) -> ModelResult<Staged>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        self.stage_with(body, algorithm, MAX_PUT_SIZE, 0, encryption, tier)
            .await
    }

    async fn stage_with<S>(
        &self,
        mut body: S,
        algorithm: Option<ChecksumAlgorithm>,
        max_size: u64,
        inline_max: usize,
        encryption: Option<NewEncryption>,
        tier: &str,
    ) -> ModelResult<Staged>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        let store = self.inner.tiers.store(tier)?.clone();
        let tier = tier.to_string();
        let mut hasher = BodyHasher::new(algorithm);
        let mut md5 = self.inner.md5.feed(hasher.lend_md5());
        let (record, sealer, pin, etag_key) = match encryption {
            Some(e) => (Some(e.record), Some(e.cipher.sealer()), e.pin, e.etag_key),
            None => (None, None, None, None),
        };
        let mut slot = SinkSlot::Ready(Sink {
            store,
            writer: None,
            hasher,
            sealer,
            sealed: SealBuf::new(),
            sealed_written: 0,
        });
        // Received chunks not yet written: kept as they came, so the body is never
        // copied in user space (the kernel copies it once into the file).
        let mut pending: Vec<Bytes> = Vec::new();
        let mut pending_len = 0;
        // Small chunks gathered, not yet in `pending`.
        let mut small = BytesMut::new();
        let mut total: u64 = 0;
        let idle = self.inner.opts.body_idle_timeout;
        loop {
            let next = tokio::time::timeout(idle, body.next())
                .await
                .map_err(|_| ModelError::RequestTimeout)?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(ModelError::BodyStream)?;
            total += chunk.len() as u64;
            if total > max_size {
                return Err(ModelError::EntityTooLarge);
            }
            if chunk.is_empty() {
                continue;
            }
            pending_len += chunk.len();
            if chunk.len() < COALESCE_BELOW {
                if small.capacity() - small.len() < chunk.len() {
                    if !small.is_empty() {
                        pending.push(small.split().freeze());
                    }
                    small.reserve(COALESCE_BUF);
                }
                small.extend_from_slice(&chunk);
            } else {
                if !small.is_empty() {
                    pending.push(small.split().freeze());
                }
                pending.push(chunk);
            }
            if pending_len >= FLUSH_AT {
                if !small.is_empty() {
                    pending.push(small.split().freeze());
                }
                let chunks = std::mem::take(&mut pending);
                pending_len = 0;
                if md5.pending() >= MD5_AHEAD {
                    md5.wait_oldest().await?;
                }
                md5.push(chunks.clone())?;
                let sink = slot.ready().await?;
                let this = self.clone();
                slot = SinkSlot::Flushing(tokio::spawn(async move { this.flush(sink, chunks, false).await }));
            }
        }
        if !small.is_empty() {
            pending.push(small.split().freeze());
        }
        drop(small);
        let mut sink = slot.ready().await?;
        if inline_max > 0 && sink.writer.is_none() && pending_len <= inline_max {
            // Nothing was pushed: the stream comes straight back.
            sink.hasher.return_md5(md5.finish().await?);
            let data = match pending.len() {
                1 => pending.pop().expect("one chunk"),
                _ => Bytes::from(pending.concat()),
            };
            sink.hasher.update(&data);
            let data = match sink.sealer {
                None => data,
                Some(mut sealer) => {
                    let mut sealed = SealBuf::new();
                    sealed.reserve(sealed_len(data.len() as u64) as usize);
                    sealer.update(&data, &mut sealed).map_err(crypt_failed)?;
                    sealer.finish(&mut sealed).map_err(crypt_failed)?;
                    Bytes::from(sealed.into_vec())
                }
            };
            return Ok(Staged {
                data: StagedData::Inline(data),
                digests: sink.hasher.finish(),
                encryption: record,
                pin,
                etag_key,
                tier,
            });
        }
        if !pending.is_empty() {
            md5.push(pending.clone())?;
        }
        let (sink, stream) = tokio::join!(self.flush(sink, pending, true), md5.finish());
        let mut sink = sink?;
        sink.hasher.return_md5(stream?);
        let writer = sink
            .writer
            .ok_or_else(|| ModelError::Internal("blob writer missing after flush".into()))?;
        Ok(Staged {
            data: StagedData::Blob(writer),
            digests: sink.hasher.finish(),
            encryption: record,
            pin,
            etag_key,
            tier,
        })
    }

    /// Writes the pending chunks (sealed, for an encrypted body; `last`: the body
    /// ends with them) and feeds them to the extra checksum (blocking work, off the
    /// async threads); their MD5 is the feed's business.
    async fn flush(&self, mut sink: Sink, chunks: Vec<Bytes>, last: bool) -> ModelResult<Sink> {
        blocking(move || {
            let writer = match sink.writer.as_mut() {
                Some(w) => w,
                None => sink.writer.insert(sink.store.create()?),
            };
            match sink.sealer.take() {
                None => {
                    let bufs: Vec<&[u8]> = chunks.iter().map(|b| &b[..]).collect();
                    writer.write_all(&bufs)?;
                }
                Some(mut sealer) => {
                    // The buffer starts with what the last flush left (sealed bytes
                    // short of a page, the plaintext of a chunk not yet complete).
                    // Each piece is copied in once and sealed in place, and every
                    // SEAL_STEP bytes what is sealed is written: the kernel copies
                    // those bytes into the file while they are still in the core's
                    // cache.
                    let sealed = &mut sink.sealed;
                    sealed.reserve(SEAL_STEP + PAGE as usize + 2 * (CHUNK + TAG));
                    let mut since = 0;
                    for chunk in &chunks {
                        for piece in chunk.chunks(SEAL_STEP) {
                            sealer.update(piece, sealed).map_err(crypt_failed)?;
                            since += piece.len();
                            if since >= SEAL_STEP {
                                write_sealed(&mut **writer, &sealer, sealed, &mut sink.sealed_written)?;
                                since = 0;
                            }
                        }
                    }
                    if last {
                        sealer.finish(sealed).map_err(crypt_failed)?;
                        writer.write_all(&[sealed.as_slice()])?;
                        sealed.clear();
                    } else {
                        write_sealed(&mut **writer, &sealer, sealed, &mut sink.sealed_written)?;
                        sink.sealer = Some(sealer);
                    }
                }
            }
            for chunk in &chunks {
                sink.hasher.update_extra(chunk);
            }
            Ok(sink)
        })
        .await
    }
}

/// The page size the sealed writes keep aligned to.
const PAGE: u64 = 4096;

/// Plaintext bytes sealed between two writes of an encrypted body.
const SEAL_STEP: usize = 256 * 1024;

/// Writes the whole pages of what `sealer` has sealed at the front of `sealed`, and
/// keeps the rest there: the file's writes stay page-aligned (a sealed chunk is not
/// a multiple of a page), so no page is written again after `sync_file_range` may
/// have started its writeback.
fn write_sealed(
    writer: &mut dyn BlobWriter,
    sealer: &Sealer,
    sealed: &mut SealBuf,
    written: &mut u64,
) -> ModelResult<()> {
    let ready = sealer.ready(sealed);
    let end = (*written + ready as u64) & !(PAGE - 1);
    let n = (end - *written) as usize;
    if n > 0 {
        writer.write_all(&[&sealed.as_slice()[..n]])?;
        *written = end;
        sealer.carry(sealed, n);
    }
    Ok(())
}

fn crypt_failed(e: ferrite_crypt::CryptError) -> ModelError {
    ModelError::Internal(format!("sealing a body: {e}"))
}

/// What a staged body became, for the write that commits it.
pub(crate) struct Landing {
    /// Where the data is: a fresh inline id, or the blob it was landed as.
    pub data: DataRef,
    /// The bytes of inline data, which the write stores in the same transaction.
    pub inline: Option<Bytes>,
    pub digests: Digests,
    pub encryption: Option<Encryption>,
    /// What the ETag derives from when it is not the MD5 (`sse::etag`).
    pub etag_key: Option<ferrite_crypt::Key>,
    /// The tier the blob is in (`""` for inline data).
    pub tier: String,
}

impl Landing {
    /// The ETag of the landed body (`sse::etag`).
    pub(crate) fn etag(&self) -> String {
        crate::sse::etag(self.digests.etag(), self.etag_key.as_ref())
    }
}

/// Lands `staged` (fsync, rename) and commits the write `make` builds for it, in a
/// task of its own so that a client that goes away mid-commit cannot strand landed
/// data. A write refused by its checks deletes the landed blob (see
/// [`crate::object::discard_landed`]). The one path by which PUT and UploadPart data
/// becomes part of the store.
pub(crate) async fn land_and_commit<R, F, J>(inner: Arc<Inner>, staged: Staged, make: F) -> ModelResult<R>
where
    R: Send + 'static,
    F: FnOnce(Landing) -> ModelResult<J> + Send + 'static,
    J: Fn(&mut dyn WriteTxn) -> ModelResult<R> + Send + 'static,
{
    let task = tokio::spawn(async move {
        let mut staged = staged;
        // Dropped when this task ends: once the write committed or failed.
        let _pin = staged.pin.take();
        let etag_key = staged.etag_key.take();
        let (landed, digests, encryption, tier) = blocking(move || staged.land()).await?;
        let (landing, blob) = match landed {
            Landed::Inline(bytes) => (
                Landing {
                    data: DataRef::Inline(time_ordered_id()),
                    inline: Some(bytes),
                    digests,
                    encryption,
                    etag_key,
                    tier: String::new(),
                },
                None,
            ),
            Landed::Blob(id) => (
                Landing {
                    data: DataRef::Blob(id.0),
                    inline: None,
                    digests,
                    encryption,
                    etag_key,
                    tier: tier.clone(),
                },
                Some(id),
            ),
        };
        let result = match make(landing) {
            Ok(job) => inner.committer.write(job).await,
            Err(e) => Err(e),
        };
        if let (Err(e), Some(id)) = (&result, blob) {
            crate::object::discard_landed(&inner, &tier, id, e).await;
        }
        result
    });
    task.await
        .map_err(|e| ModelError::Internal(format!("write task failed: {e}")))?
}

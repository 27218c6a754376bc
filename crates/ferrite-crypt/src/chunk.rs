//! The chunked format of encrypted object data.
//!
//! An object's (or a part's) plaintext is cut into chunks of [`CHUNK`] bytes, and the
//! last chunk is always the shorter rest, empty when the length is a multiple of
//! [`CHUNK`] (so a writer seals every full chunk as soon as it has it, never waiting to
//! learn whether it is the last; an empty body is one empty chunk). Each chunk is sealed with
//! AES-256-GCM under the object's data key and stored as its ciphertext (the same
//! length as its plaintext) followed by the 16-byte tag, chunk after chunk with nothing
//! in between:
//!
//! ```text
//! chunk 0: ciphertext (65536 bytes) | tag (16) ... chunk n-1: ciphertext (1..=65536) | tag (16)
//! ```
//!
//! The 96-bit nonce of chunk `i` is the object's random 8-byte [`NoncePrefix`] followed
//! by `i` as a 32-bit big-endian number whose top bit is set for the last chunk (the
//! STREAM construction): a reordered chunk fails to open (its index is wrong), and so
//! does a stream cut short at a chunk boundary (the chunk that is now last was not
//! sealed as last). The associated data of every chunk is the object's *binding*
//! (bytes the model chooses: which bucket, key and version the data was written
//! for), so sealed data moved to another object fails to open even under the same key.
//! The byte layout leaves room for nothing else: the prefix, binding and length live in
//! the object's record.

use std::io::IoSliceMut;
use std::ops::Range;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::{CryptError, Key, KeyError, random_bytes};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// Bytes of tag after each chunk's ciphertext.
pub const TAG: usize = 16;
/// A whole chunk as stored.
pub const SEALED_CHUNK: usize = CHUNK + TAG;
/// The nonce counter's top bit: set for the last chunk.
const LAST: u32 = 1 << 31;

/// How many chunks `len` plaintext bytes are sealed as: the full ones, then the
/// (possibly empty) rest, which is the last.
pub fn chunk_count(len: u64) -> u64 {
    len / CHUNK as u64 + 1
}

/// The stored size of `len` plaintext bytes.
pub fn sealed_len(len: u64) -> u64 {
    len + chunk_count(len) * TAG as u64
}

/// The random part of the chunks' nonces, one per object or part: with 2^31 chunk
/// indices below it, prefixes only need to differ between bodies sealed under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoncePrefix(pub [u8; 8]);

impl NoncePrefix {
    pub fn random() -> Result<NoncePrefix, KeyError> {
        let mut bytes = [0u8; 8];
        random_bytes(&mut bytes)?;
        Ok(NoncePrefix(bytes))
    }
}

/// A data key with the nonce prefix and binding of one body: seals and opens its chunks.
pub struct ChunkCipher {
    key: LessSafeKey,
    prefix: NoncePrefix,
    binding: Box<[u8]>,
}

impl std::fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCipher")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ChunkCipher {
    pub fn new(key: &Key, prefix: NoncePrefix, binding: &[u8]) -> ChunkCipher {
        let unbound = UnboundKey::new(&AES_256_GCM, key.expose()).expect("a 32-byte key is an AES-256 key");
        ChunkCipher {
            key: LessSafeKey::new(unbound),
            prefix,
            binding: binding.into(),
        }
    }

    fn nonce(&self, index: u64, last: bool) -> Result<Nonce, CryptError> {
        let index = u32::try_from(index)
            .ok()
            .filter(|i| *i < LAST)
            .ok_or(CryptError::TooLong)?;
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.prefix.0);
        nonce[8..].copy_from_slice(&(index | if last { LAST } else { 0 }).to_be_bytes());
        Ok(Nonce::assume_unique_for_key(nonce))
    }

    /// Seals one chunk in place: `chunk` is its plaintext (at most [`CHUNK`] bytes)
    /// followed by [`TAG`] bytes that get the tag.
    fn seal_chunk_in_place(&self, index: u64, last: bool, chunk: &mut [u8]) -> Result<(), CryptError> {
        let plain = chunk.len().checked_sub(TAG).ok_or(CryptError::Length)?;
        debug_assert!(plain <= CHUNK);
        let (text, tag_out) = chunk.split_at_mut(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(index, last)?, Aad::from(&self.binding[..]), text)
            .map_err(|_| CryptError::TooLong)?;
        tag_out.copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens the sealed chunk (ciphertext then tag) at `in_out[from..]` and writes its
    /// plaintext to the start of `in_out`, in the same pass as the decryption (a
    /// reader that opens many chunks in one buffer closes the gaps their tags leave
    /// without a second copy). The plaintext is the returned slice.
    pub fn open_chunk<'a>(
        &self,
        index: u64,
        last: bool,
        in_out: &'a mut [u8],
        from: usize,
    ) -> Result<&'a mut [u8], CryptError> {
        let sealed = in_out.len().checked_sub(from).ok_or(CryptError::Length)?;
        if !(TAG..=SEALED_CHUNK).contains(&sealed) {
            return Err(CryptError::Length);
        }
        self.key
            .open_within(self.nonce(index, last)?, Aad::from(&self.binding[..]), in_out, from..)
            .map_err(|_| CryptError::Unauthentic)
    }

    /// Seals `plain` (one whole chunk's plaintext, at most [`CHUNK`] bytes) into
    /// `out`, which must be exactly `plain.len() + TAG` bytes: ciphertext, then tag.
    /// The encryption reads the plaintext where it is, so it is copied nowhere first.
    pub fn seal_chunk_into(&self, index: u64, last: bool, plain: &[u8], out: &mut [u8]) -> Result<(), CryptError> {
        debug_assert!(plain.len() <= CHUNK);
        self.key
            .seal_in_place_scatter(
                self.nonce(index, last)?,
                Aad::from(&self.binding[..]),
                &mut [],
                plain,
                out,
            )
            .map_err(|_| CryptError::Length)
    }

    /// Opens one chunk's ciphertext in place under its `tag` (stored apart from it).
    pub fn open_chunk_separate(&self, index: u64, last: bool, tag: &[u8], in_out: &mut [u8]) -> Result<(), CryptError> {
        if in_out.len() > CHUNK || tag.len() != TAG {
            return Err(CryptError::Length);
        }
        self.key
            .open_in_place_separate_tag(self.nonce(index, last)?, Aad::from(&self.binding[..]), tag, in_out)
            .map(|_| ())
            .map_err(|_| CryptError::Unauthentic)
    }

    /// A sealer of a whole body, from its first chunk.
    pub fn sealer(self) -> Sealer {
        Sealer {
            cipher: self,
            index: 0,
            pending: 0,
        }
    }
}

/// The buffer a [`Sealer`] seals into. Its bytes stay initialised past its length, so
/// taking room for the next chunk after [`SealBuf::drain_front`] or
/// [`SealBuf::clear`] writes nothing first: a whole chunk is sealed straight into
/// the room it takes (a `Vec` would zero those 64 KiB just before the cipher
/// overwrites them).
#[derive(Debug, Default)]
pub struct SealBuf {
    bytes: Vec<u8>,
    len: usize,
}

impl SealBuf {
    pub fn new() -> SealBuf {
        SealBuf::default()
    }

    /// What the buffer holds.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room for `n` more bytes without taking it (zeroing it the first time).
    pub fn reserve(&mut self, n: usize) {
        let want = self.len + n;
        if self.bytes.len() < want {
            self.bytes.resize(want, 0);
        }
    }

    /// Takes `n` more bytes at the end and returns them, holding whatever they held.
    fn grow(&mut self, n: usize) -> &mut [u8] {
        let start = self.len;
        let end = start + n;
        if self.bytes.len() < end {
            // Doubling: a body sealed whole (an inline one) zeroes each byte once.
            self.bytes.resize(end.max(2 * self.bytes.len()), 0);
        }
        self.len = end;
        &mut self.bytes[start..end]
    }

    fn push(&mut self, data: &[u8]) {
        self.grow(data.len()).copy_from_slice(data);
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    pub fn drain_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.bytes.copy_within(n..self.len, 0);
        self.len -= n;
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The bytes held, as a vector of exactly that length.
    pub fn into_vec(mut self) -> Vec<u8> {
        self.bytes.truncate(self.len);
        self.bytes
    }
}

/// Seals a body that arrives in pieces of any size, in the caller's buffer.
///
/// A whole chunk within a piece is encrypted straight onto the end of the caller's
/// buffer; the bytes of a chunk that spans pieces are gathered there first and sealed
/// in place once the chunk is full. The bytes of a chunk not yet full stay at the
/// end of the buffer, unsealed ([`Sealer::pending`] of them): the caller writes
/// everything before them ([`Sealer::ready`]) and keeps them at the front of its next
/// buffer ([`Sealer::carry`]); [`Sealer::finish`] seals them as the last chunk.
#[derive(Debug)]
pub struct Sealer {
    cipher: ChunkCipher,
    index: u64,
    /// Plaintext bytes of the current chunk at the end of the caller's buffer.
    pending: usize,
}

impl Sealer {
    /// Appends `data` to `out`, sealing each chunk it completes. `out` must end with
    /// the [`Sealer::pending`] bytes this sealer left there.
    pub fn update(&mut self, mut data: &[u8], out: &mut SealBuf) -> Result<(), CryptError> {
        while !data.is_empty() {
            if self.pending == 0 && data.len() >= CHUNK {
                // A whole chunk in the caller's piece: sealed from where it is, into
                // the end of `out` (the copy and the encryption are one pass).
                self.cipher
                    .seal_chunk_into(self.index, false, &data[..CHUNK], out.grow(SEALED_CHUNK))?;
                self.index += 1;
                data = &data[CHUNK..];
                continue;
            }
            let take = (CHUNK - self.pending).min(data.len());
            out.push(&data[..take]);
            self.pending += take;
            data = &data[take..];
            if self.pending == CHUNK {
                out.grow(TAG);
                let end = out.len();
                self.cipher
                    .seal_chunk_in_place(self.index, false, &mut out.bytes[end - SEALED_CHUNK..end])?;
                self.index += 1;
                self.pending = 0;
            }
        }
        Ok(())
    }

    /// Plaintext bytes at the end of the caller's buffer that are not sealed yet.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// How much of `out` is sealed and ready to be written.
    pub fn ready(&self, out: &SealBuf) -> usize {
        out.len() - self.pending
    }

    /// Drops the first `written` bytes of `out` (at most what [`Sealer::ready`] said),
    /// keeping the rest (sealed bytes not written yet, then the pending plaintext) at
    /// its front for the next pieces.
    pub fn carry(&self, out: &mut SealBuf, written: usize) {
        out.drain_front(written.min(self.ready(out)));
    }

    /// Seals the pending rest (possibly empty) as the last chunk.
    pub fn finish(self, out: &mut SealBuf) -> Result<(), CryptError> {
        let start = out.len() - self.pending;
        out.grow(TAG);
        let end = out.len();
        self.cipher
            .seal_chunk_in_place(self.index, true, &mut out.bytes[start..end])
    }
}

/// Which stored bytes hold a plaintext range, and how to open them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedSpan {
    /// The first chunk to read.
    pub first_chunk: u64,
    /// Where it starts in the stored bytes.
    pub offset: u64,
    /// How many stored bytes to read from there (whole chunks).
    pub len: u64,
    /// Plaintext bytes of the first chunk before the range.
    pub skip: u64,
    /// Plaintext bytes in the range.
    pub plain_len: u64,
    /// Chunks in the whole body (the last one is opened as last).
    pub chunks: u64,
    /// The whole body's plaintext length.
    pub body_len: u64,
}

impl SealedSpan {
    /// The chunks holding plaintext bytes `start .. start + count` of a body of
    /// `body_len` bytes (the range must lie within it). The whole of an empty body is
    /// its one empty chunk (so even it is authenticated); any other empty range reads
    /// nothing.
    pub fn new(body_len: u64, start: u64, count: u64) -> SealedSpan {
        debug_assert!(start.saturating_add(count) <= body_len);
        let chunk = CHUNK as u64;
        let chunks = chunk_count(body_len);
        if count == 0 {
            return SealedSpan {
                first_chunk: 0,
                offset: 0,
                len: if body_len == 0 { TAG as u64 } else { 0 },
                skip: 0,
                plain_len: 0,
                chunks,
                body_len,
            };
        }
        let first = start / chunk;
        // A range to the end of the body reads the last chunk too (when it is an empty
        // one after full chunks), so a whole read also checks that nothing was cut off.
        let end = if start + count == body_len {
            chunks
        } else {
            (start + count).div_ceil(chunk)
        }; // exclusive
        let plain_end = (end * chunk).min(body_len);
        SealedSpan {
            first_chunk: first,
            offset: first * SEALED_CHUNK as u64,
            len: plain_end - first * chunk + (end - first) * TAG as u64,
            skip: start - first * chunk,
            plain_len: count,
            chunks,
            body_len,
        }
    }

    /// Opens the span's sealed bytes as they are read.
    pub fn opener(&self, cipher: ChunkCipher) -> Opener {
        Opener {
            cipher,
            next: self.first_chunk,
            span: *self,
            skip: self.skip,
            remaining: self.plain_len,
        }
    }
}

/// Opens a span's sealed bytes, read in buffers that each hold whole chunks.
#[derive(Debug)]
pub struct Opener {
    cipher: ChunkCipher,
    next: u64,
    span: SealedSpan,
    skip: u64,
    remaining: u64,
}

impl Opener {
    /// The next chunk to open: its index, whether it is the body's last, its
    /// plaintext length. Fails past the span.
    fn next_chunk(&mut self) -> Result<(u64, bool, usize), CryptError> {
        if self.next >= self.span.chunks {
            return Err(CryptError::Length);
        }
        let index = self.next;
        let plain = (self.span.body_len - index * CHUNK as u64).min(CHUNK as u64) as usize;
        self.next += 1;
        Ok((index, self.next == self.span.chunks, plain))
    }

    /// Of an opened chunk's `plain` bytes: how many lie before the range (only the
    /// range's first chunk has any) and how many of the rest are in it.
    fn trim(&mut self, plain: usize) -> (usize, usize) {
        let skip = self.skip.min(plain as u64) as usize;
        self.skip -= skip as u64;
        let keep = ((plain - skip) as u64).min(self.remaining) as usize;
        self.remaining -= keep as u64;
        (skip, keep)
    }

    /// Opens the whole chunks in `buf` (the span's next ones, in order) in place. The
    /// range's plaintext they hold ends up in `buf[..n]`; returns `n`. Each chunk is
    /// decrypted, then moved over the gaps the tags before it leave. A buffer that
    /// does not end on a chunk boundary, a chunk past the span, and a chunk that does
    /// not authenticate are errors.
    pub fn open(&mut self, buf: &mut [u8]) -> Result<usize, CryptError> {
        let mut read = 0; // sealed bytes consumed
        let mut written = 0; // plaintext of the range kept, at the start of `buf`
        while read < buf.len() {
            let (index, last, plain) = self.next_chunk()?;
            let sealed_end = read + plain + TAG;
            if sealed_end > buf.len() {
                return Err(CryptError::Length);
            }
            let opened = self
                .cipher
                .open_chunk(index, last, &mut buf[written..sealed_end], read - written)?
                .len();
            debug_assert_eq!(opened, plain);
            written += keep_range(buf, written, self.trim(plain));
            read = sealed_end;
        }
        Ok(written)
    }

    /// How a read of the next `sealed_len` stored bytes (whole chunks) lays them out
    /// for [`Opener::open_scattered`]: the chunks' ciphertexts side by side in
    /// `ciphertexts` (which must be exactly their plaintext's length,
    /// [`scattered_len`]) and their tags one after another in `tags` (16 bytes per
    /// chunk). The slices, in file order, are what a vectored read fills.
    pub fn scatter<'a>(
        &self,
        sealed_len: usize,
        ciphertexts: &'a mut [u8],
        tags: &'a mut [u8],
    ) -> Result<Vec<IoSliceMut<'a>>, CryptError> {
        let chunks = sealed_len.div_ceil(SEALED_CHUNK);
        if ciphertexts.len() != scattered_len(sealed_len) || tags.len() < chunks * TAG {
            return Err(CryptError::Length);
        }
        let mut slices = Vec::with_capacity(2 * chunks);
        let (mut text, mut tags) = (ciphertexts, tags);
        for _ in 0..chunks {
            let len = text.len().min(CHUNK);
            let (this, rest) = std::mem::take(&mut text).split_at_mut(len);
            let (tag, more) = std::mem::take(&mut tags).split_at_mut(TAG);
            slices.push(IoSliceMut::new(this));
            slices.push(IoSliceMut::new(tag));
            (text, tags) = (rest, more);
        }
        Ok(slices)
    }

    /// Opens the chunks a read laid out as [`Opener::scatter`] says, each in place
    /// under its own tag: no copy before, during or after the decryption. The range's
    /// plaintext is then `ciphertexts[returned range]` (side by side, since the
    /// chunks are). A layout that does not match the span's chunks, and a chunk that
    /// does not authenticate, are errors.
    pub fn open_scattered(&mut self, ciphertexts: &mut [u8], tags: &[u8]) -> Result<Range<usize>, CryptError> {
        let mut read = 0;
        let mut kept: Option<Range<usize>> = None;
        for tag in tags.chunks(TAG) {
            let (index, last, plain) = self.next_chunk()?;
            if tag.len() != TAG || read + plain > ciphertexts.len() {
                return Err(CryptError::Length);
            }
            self.cipher
                .open_chunk_separate(index, last, tag, &mut ciphertexts[read..read + plain])?;
            let (skip, keep) = self.trim(plain);
            if keep > 0 {
                let from = kept.as_ref().map_or(read + skip, |k| k.start);
                kept = Some(from..read + skip + keep);
            }
            read += plain;
        }
        if read != ciphertexts.len() {
            return Err(CryptError::Length);
        }
        Ok(kept.unwrap_or(0..0))
    }

    /// Plaintext bytes of the range not yet opened.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

/// Moves the range's part of a chunk just opened at `buf[at..]` (`skip` bytes before
/// the range, then `keep` in it) to `at`; returns `keep`.
fn keep_range(buf: &mut [u8], at: usize, (skip, keep): (usize, usize)) -> usize {
    if skip > 0 && keep > 0 {
        // Only the range's first chunk starts before the range.
        buf.copy_within(at + skip..at + skip + keep, at);
    }
    keep
}

/// The plaintext length of `sealed_len` stored bytes of whole chunks (every chunk but
/// the body's last is full): what [`Opener::scatter`] puts the ciphertexts in.
pub fn scattered_len(sealed_len: usize) -> usize {
    sealed_len - sealed_len.div_ceil(SEALED_CHUNK) * TAG
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cipher(binding: &[u8]) -> ChunkCipher {
        ChunkCipher::new(&Key::from_slice(&[9; 32]).unwrap(), NoncePrefix([1; 8]), binding)
    }

    /// Seals `data` arriving in pieces of the given sizes, writing out what is ready
    /// after every piece and carrying the rest, as staging does.
    fn seal(data: &[u8], pieces: &[usize]) -> Vec<u8> {
        let mut sealer = cipher(b"bucket/key/v1").sealer();
        let mut file = Vec::new();
        let mut out = SealBuf::new();
        let mut rest = data;
        for &p in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = p.max(1).min(rest.len());
            sealer.update(&rest[..n], &mut out).unwrap();
            rest = &rest[n..];
            let ready = sealer.ready(&out);
            assert_eq!(out.len() - ready, sealer.pending());
            file.extend_from_slice(&out.as_slice()[..ready]);
            sealer.carry(&mut out, ready);
            assert_eq!(out.len(), sealer.pending());
        }
        sealer.finish(&mut out).unwrap();
        file.extend_from_slice(out.as_slice());
        file
    }

    /// Reads `span` out of `stored` in buffers of `per_read` chunks, as GET does.
    fn read(stored: &[u8], span: &SealedSpan, per_read: usize, binding: &[u8]) -> Result<Vec<u8>, CryptError> {
        let mut opener = span.opener(cipher(binding));
        let region = &stored[span.offset as usize..(span.offset + span.len) as usize];
        // Both ways of opening, which must agree on every byte and every error.
        let mut scattered = span.opener(cipher(binding));
        let mut out = Vec::new();
        for piece in region.chunks(per_read * SEALED_CHUNK) {
            let mut buf = piece.to_vec();
            // Laid out as a vectored read would: ciphertexts together, tags apart.
            let mut texts = vec![0u8; scattered_len(piece.len())];
            let mut tags = vec![0u8; piece.len().div_ceil(SEALED_CHUNK) * TAG];
            let mut at = 0;
            for slice in scattered
                .scatter(piece.len(), &mut texts, &mut tags)
                .unwrap()
                .iter_mut()
            {
                let n = slice.len();
                slice.copy_from_slice(&piece[at..at + n]);
                at += n;
            }
            assert_eq!(at, piece.len(), "the layout covers the read");
            let got_scattered = scattered.open_scattered(&mut texts, &tags);
            let n = match opener.open(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    assert_eq!(got_scattered, Err(e), "open_scattered fails as open does");
                    return Err(e);
                }
            };
            let range = got_scattered.expect("open_scattered opens what open does");
            assert_eq!(&texts[range], &buf[..n]);
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(opener.remaining(), 0);
        assert_eq!(scattered.remaining(), 0);
        Ok(out)
    }

    fn body(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// A buffer that held another body (its bytes still there past its length) seals
    /// exactly what a fresh one does, by direct and gathered chunks alike.
    #[test]
    fn a_reused_buffer_seals_what_a_fresh_one_does() {
        let first = vec![0xeeu8; 5 * CHUNK + 77];
        let second = body(3 * CHUNK + 5);
        let whole = |data: &[u8], out: &mut SealBuf, piece: usize| {
            let mut sealer = cipher(b"b/k/v").sealer();
            for p in data.chunks(piece) {
                sealer.update(p, out).unwrap();
            }
            sealer.finish(out).unwrap();
        };
        for piece in [1000, CHUNK, CHUNK + 1, 3 * CHUNK] {
            let mut fresh = SealBuf::new();
            whole(&second, &mut fresh, piece);
            let mut reused = SealBuf::new();
            whole(&first, &mut reused, piece);
            reused.clear();
            whole(&second, &mut reused, piece);
            assert_eq!(reused.as_slice(), fresh.as_slice(), "pieces of {piece}");
            assert_eq!(fresh.len() as u64, sealed_len(second.len() as u64));
            assert_eq!(fresh.into_vec().len() as u64, sealed_len(second.len() as u64));
        }
    }

    #[test]
    fn layout_is_chunks_with_tags() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5] {
            let data = body(len);
            let stored = seal(&data, &[1000]);
            assert_eq!(stored.len() as u64, sealed_len(len as u64), "len {len}");
            // Whole chunks sealed straight from the piece (pieces of a chunk and more)
            // are the same bytes as chunks gathered first.
            for pieces in [&[CHUNK][..], &[3 * CHUNK + 7], &[CHUNK + 1, 5]] {
                assert_eq!(seal(&data, pieces), stored, "len {len}, pieces {pieces:?}");
            }
            // Ciphertext is not the plaintext.
            if len > 0 {
                assert_ne!(&stored[..len.min(CHUNK)], &data[..len.min(CHUNK)]);
            }
            let all = SealedSpan::new(len as u64, 0, len as u64);
            assert_eq!(read(&stored, &all, 8, b"bucket/key/v1").unwrap(), data);
        }
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(CHUNK as u64 - 1), 1);
        assert_eq!(chunk_count(CHUNK as u64), 2, "full chunks, then the empty rest");
        assert_eq!(chunk_count(CHUNK as u64 + 1), 2);
    }

    #[test]
    fn tampering_is_detected() {
        let data = body(3 * CHUNK + 100);
        let stored = seal(&data, &[4096]);
        let all = SealedSpan::new(data.len() as u64, 0, data.len() as u64);
        // Any flipped byte: ciphertext or tag, first or last chunk.
        for at in [0, 5000, CHUNK, CHUNK + TAG, 2 * SEALED_CHUNK + 7, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                read(&bad, &all, 8, b"bucket/key/v1"),
                Err(CryptError::Unauthentic),
                "byte {at}"
            );
        }
        // Another binding (the data moved to another object).
        assert_eq!(read(&stored, &all, 8, b"bucket/key/v2"), Err(CryptError::Unauthentic));
        // Two chunks swapped.
        let mut swapped = stored.clone();
        let (a, b) = swapped.split_at_mut(SEALED_CHUNK);
        a.swap_with_slice(&mut b[..SEALED_CHUNK]);
        assert_eq!(read(&swapped, &all, 8, b"bucket/key/v1"), Err(CryptError::Unauthentic));
        // Cut after whole chunks, the record's length claiming the shorter body: the
        // chunk now opened as the last one was sealed as a middle one.
        let cut = &stored[..2 * SEALED_CHUNK];
        let short = SealedSpan::new(2 * CHUNK as u64 - TAG as u64, 0, 2 * CHUNK as u64 - TAG as u64);
        assert_eq!(read(cut, &short, 8, b"bucket/key/v1"), Err(CryptError::Unauthentic));
        // A body of whole chunks ends with an empty last chunk; dropping it is seen by
        // a whole read.
        let aligned = body(2 * CHUNK);
        let stored_aligned = seal(&aligned, &[CHUNK]);
        assert_eq!(stored_aligned.len(), 2 * SEALED_CHUNK + TAG);
        let whole = SealedSpan::new(2 * CHUNK as u64, 0, 2 * CHUNK as u64);
        assert_eq!(
            whole.len,
            stored_aligned.len() as u64,
            "a whole read reads the empty last chunk"
        );
        // (A reader of the span meets the end of the cut file before the span's end.)
        assert!(((2 * SEALED_CHUNK) as u64) < whole.offset + whole.len);
        // And the full chunks alone, claimed as the whole body, do not open: their
        // last one was not sealed as last.
        let mut full_only = whole;
        full_only.len = 2 * SEALED_CHUNK as u64;
        full_only.chunks = 2;
        let mut buf = stored_aligned[..2 * SEALED_CHUNK].to_vec();
        assert_eq!(
            full_only.opener(cipher(b"bucket/key/v1")).open(&mut buf),
            Err(CryptError::Unauthentic)
        );
        // Cut mid-chunk, the record's length unchanged: the opener sees too few bytes.
        let mut opener = all.opener(cipher(b"bucket/key/v1"));
        let mut buf = stored[..SEALED_CHUNK + 10].to_vec();
        assert_eq!(opener.open(&mut buf), Err(CryptError::Length));
    }

    /// The stored bytes of one body, pinned: data written by an earlier release must
    /// open unchanged. The digest and tail were produced by the `ring` build of this
    /// format (commit 409f61e), before the cipher moved to `aws-lc-rs`.
    #[test]
    fn the_format_is_the_one_earlier_releases_wrote() {
        let data = body(2 * CHUNK + 5);
        let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        for pieces in [&[1000][..], &[CHUNK], &[5 * CHUNK]] {
            let stored = seal(&data, pieces);
            assert_eq!(stored.len(), 131_125);
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &stored);
            assert_eq!(
                hex(digest.as_ref()),
                "4c2f2991bfd908105570e9c0ee59de21f80be67f89d45fe05adcd15ba9baa035",
                "pieces {pieces:?}"
            );
            assert_eq!(
                hex(&stored[stored.len() - 21..]),
                "aeb7d1ae741ffd01ee5edbdc07ad1e757edb9b5839"
            );
        }
    }

    #[test]
    fn a_wrong_key_does_not_open() {
        let data = body(100);
        let stored = seal(&data, &[100]);
        let other = ChunkCipher::new(
            &Key::from_slice(&[8; 32]).unwrap(),
            NoncePrefix([1; 8]),
            b"bucket/key/v1",
        );
        let mut buf = stored.clone();
        assert_eq!(
            other.open_chunk(0, true, &mut buf, 0).map(|_| ()),
            Err(CryptError::Unauthentic)
        );
    }

    proptest! {
        /// Any body, sealed in pieces of any sizes, reads back whole and in any range,
        /// with reads of any number of chunks.
        #[test]
        fn ranges_read_back(
            len in 0usize..(4 * CHUNK + 300),
            pieces in proptest::collection::vec(1usize..(2 * CHUNK), 1..5),
            a in any::<u64>(), b in any::<u64>(), per_read in 1usize..4,
        ) {
            let data = body(len);
            let stored = seal(&data, &pieces);
            prop_assert_eq!(stored.len() as u64, sealed_len(len as u64));
            let (start, count) = if len == 0 { (0, 0) } else {
                let s = a % len as u64;
                (s, b % (len as u64 - s) + 1)
            };
            let span = SealedSpan::new(len as u64, start, count);
            prop_assert_eq!(span.offset % SEALED_CHUNK as u64, 0);
            prop_assert!(span.offset + span.len <= stored.len() as u64);
            let got = read(&stored, &span, per_read, b"bucket/key/v1").unwrap();
            prop_assert_eq!(&got[..], &data[start as usize..(start + count) as usize]);
        }
    }
}

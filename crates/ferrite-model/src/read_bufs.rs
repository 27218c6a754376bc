//! The buffers GET reads blobs into, reused.
//!
//! A fresh buffer for every read of a large body is zeroed before the read fills it
//! (the allocator hands back memory freed by an earlier read, so it cannot skip the
//! zeroing): one pass over every byte served, which `perf` showed as about a tenth of
//! the server's time on a 64 MiB GET. A buffer taken from here was filled by an
//! earlier read and is filled again completely before any byte of it leaves: the
//! read either fills all of it or fails, and only what was read is ever sliced out.
//! It comes back here when the last `Bytes` over it is dropped (after hyper has sent
//! it).

use std::sync::Mutex;

use bytes::Bytes;

/// The size of every pooled buffer: one blob read. Measured on 64 MiB GETs (2 cores,
/// client on the same box): 1 MiB reads serve about 12% more than 512 KiB (fewer
/// wakeups and socket writes per byte), 2 MiB another 6%, at twice the memory per
/// GET in flight.
pub(crate) const BUF_LEN: usize = 1024 * 1024;

/// Buffers kept for reuse at most (the rest are freed): enough for several GETs in
/// flight, each with a read being filled and one or two being sent, while the idle
/// pool stays at a few MiB.
const KEPT: usize = 8;

/// Reads shorter than this get a fresh buffer: zeroing a few KiB costs less than
/// holding a pooled 1 MiB buffer until the response is sent.
const POOLED_FROM: usize = 64 * 1024;

/// Free buffers, each [`BUF_LEN`] long.
struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    const fn new() -> Pool {
        Pool(Mutex::new(Vec::new()))
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

static POOL: Pool = Pool::new();

/// A buffer of at least `len` bytes whose first `len` are to be filled by a read.
pub(crate) struct ReadBuf {
    buf: Vec<u8>,
    len: usize,
    pool: &'static Pool,
}

impl ReadBuf {
    /// A buffer for `len` bytes (one of at most [`BUF_LEN`] comes from the pool;
    /// longer or short ones are allocated for the read).
    pub(crate) fn take(len: usize) -> ReadBuf {
        ReadBuf::take_from(&POOL, len)
    }

    fn take_from(pool: &'static Pool, len: usize) -> ReadBuf {
        if !(POOLED_FROM..=BUF_LEN).contains(&len) {
            return ReadBuf {
                buf: vec![0u8; len],
                len,
                pool,
            };
        }
        let buf = pool.free().pop().unwrap_or_else(|| vec![0u8; BUF_LEN]);
        ReadBuf { buf, len, pool }
    }

    /// The `len` bytes the read fills.
    pub(crate) fn as_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    /// `range` of the filled bytes, as `Bytes` that give the buffer back when dropped.
    pub(crate) fn freeze(self, range: std::ops::Range<usize>) -> Bytes {
        assert!(range.end <= self.len, "a slice past what the read filled");
        Bytes::from_owner(self).slice(range)
    }
}

impl AsRef<[u8]> for ReadBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        if self.buf.len() != BUF_LEN {
            return;
        }
        let mut free = self.pool.free();
        if free.len() < KEPT {
            free.push(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled(pool: &Pool) -> Vec<*const u8> {
        pool.free().iter().map(|b| b.as_ptr()).collect()
    }

    #[test]
    fn a_buffer_is_reused_after_its_bytes_are_dropped() {
        static P: Pool = Pool::new();
        let mut a = ReadBuf::take_from(&P, BUF_LEN);
        a.as_mut().fill(7);
        let ptr = a.buf.as_ptr();
        let bytes = a.freeze(10..20);
        assert_eq!(&bytes[..], &[7u8; 10]);
        let clone = bytes.clone();
        drop(bytes);
        assert!(pooled(&P).is_empty(), "still referenced, so not back yet");
        drop(clone);
        assert_eq!(pooled(&P), vec![ptr]);
        // A shorter read gets the pooled buffer, but only its own length of it.
        let mut b = ReadBuf::take_from(&P, 100_000);
        assert_eq!(b.buf.as_ptr(), ptr);
        assert_eq!(b.as_mut().len(), 100_000);
        b.as_mut().fill(1);
        assert_eq!(&b.freeze(0..100_000)[..], &[1u8; 100_000][..]);
        assert_eq!(pooled(&P), vec![ptr]);
    }

    #[test]
    fn small_and_large_reads_are_not_pooled() {
        static P: Pool = Pool::new();
        let s = ReadBuf::take_from(&P, 100);
        assert_eq!(s.buf.len(), 100);
        let l = ReadBuf::take_from(&P, BUF_LEN + 1);
        assert_eq!(l.buf.len(), BUF_LEN + 1);
        drop((s, l));
        assert!(pooled(&P).is_empty());
    }

    #[test]
    fn the_pool_keeps_a_bounded_number() {
        static P: Pool = Pool::new();
        let bufs: Vec<_> = (0..KEPT + 5).map(|_| ReadBuf::take_from(&P, BUF_LEN)).collect();
        drop(bufs);
        assert_eq!(pooled(&P).len(), KEPT);
    }

    #[test]
    #[should_panic(expected = "past what the read filled")]
    fn no_slice_reaches_past_the_read() {
        ReadBuf::take(100_000).freeze(0..100_001);
    }
}

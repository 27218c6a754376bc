//! A blob store that keeps its blobs zstd-compressed in another blob store (an
//! archive tier's `compress` option). Callers see the bytes they wrote: lengths,
//! offsets and contents are of the uncompressed data.
//!
//! A stored blob is one zstd stream, then the uncompressed length (8 bytes, little
//! endian) and a 4-byte tag. Writes compress as they stream (nothing is buffered
//! beyond the encoder's window); reads decompress from the start, so a reader that
//! goes forward (a restore, a move) costs one pass, and one that seeks back starts
//! over (this store is for data that is read whole and rarely).

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::{BlobId, BlobReader, BlobStore, BlobWriter, StoreError, StoreResult};

const TAG: &[u8; 4] = b"FZS1";
const TRAILER: u64 = 12;
/// zstd's default level: a good ratio at a speed well above a disk's.
const LEVEL: i32 = 3;

pub struct ZstdBlobStore {
    inner: Arc<dyn BlobStore>,
}

impl ZstdBlobStore {
    pub fn new(inner: Arc<dyn BlobStore>) -> Self {
        Self { inner }
    }
}

/// The inner writer as `io::Write`, for the encoder.
struct Sink(Box<dyn BlobWriter>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct ZstdWriter {
    encoder: zstd::stream::write::Encoder<'static, Sink>,
    len: u64,
}

impl BlobWriter for ZstdWriter {
    fn write(&mut self, buf: &[u8]) -> StoreResult<()> {
        self.encoder.write_all(buf)?;
        self.len += buf.len() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>) -> StoreResult<BlobId> {
        let mut sink = self.encoder.finish()?;
        let mut trailer = [0u8; TRAILER as usize];
        trailer[..8].copy_from_slice(&self.len.to_le_bytes());
        trailer[8..].copy_from_slice(TAG);
        sink.0.write(&trailer)?;
        sink.0.finish()
    }
}

/// The compressed part of an inner blob, read forward, as `io::Read`.
struct Source {
    blob: Arc<dyn BlobReader>,
    at: u64,
    end: u64,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.end - self.at) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.blob.read_at(self.at, &mut buf[..want]).map_err(io::Error::other)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "compressed blob is short"));
        }
        self.at += n as u64;
        Ok(n)
    }
}

type Decoder = zstd::stream::read::Decoder<'static, io::BufReader<Source>>;

struct Cursor {
    decoder: Decoder,
    /// Uncompressed bytes the decoder has given out.
    pos: u64,
}

struct ZstdReader {
    blob: Arc<dyn BlobReader>,
    compressed: u64,
    len: u64,
    cursor: Mutex<Option<Cursor>>,
}

impl ZstdReader {
    fn start(&self) -> StoreResult<Cursor> {
        let source = Source {
            blob: self.blob.clone(),
            at: 0,
            end: self.compressed,
        };
        Ok(Cursor {
            decoder: zstd::stream::read::Decoder::new(source)?,
            pos: 0,
        })
    }
}

impl BlobReader for ZstdReader {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> StoreResult<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let mut guard = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_none_or(|c| c.pos > offset) {
            *guard = Some(self.start()?);
        }
        let cursor = guard.as_mut().expect("started above");
        // Skip forward to `offset`.
        let mut scratch = [0u8; 16 * 1024];
        while cursor.pos < offset {
            let take = ((offset - cursor.pos) as usize).min(scratch.len());
            let n = cursor.decoder.read(&mut scratch[..take])?;
            if n == 0 {
                return Err(StoreError::Corrupt("compressed blob ends before its length".into()));
            }
            cursor.pos += n as u64;
        }
        let want = ((self.len - offset) as usize).min(buf.len());
        let n = cursor.decoder.read(&mut buf[..want])?;
        if n == 0 {
            return Err(StoreError::Corrupt("compressed blob ends before its length".into()));
        }
        cursor.pos += n as u64;
        Ok(n)
    }
}

impl BlobStore for ZstdBlobStore {
    fn create_as(&self, id: BlobId) -> StoreResult<Box<dyn BlobWriter>> {
        let sink = Sink(self.inner.create_as(id)?);
        Ok(Box::new(ZstdWriter {
            encoder: zstd::stream::write::Encoder::new(sink, LEVEL)?,
            len: 0,
        }))
    }

    fn open(&self, id: BlobId) -> StoreResult<Option<Box<dyn BlobReader>>> {
        let Some(blob) = self.inner.open(id)? else {
            return Ok(None);
        };
        let stored = blob.len();
        if stored < TRAILER {
            return Err(StoreError::Corrupt(format!(
                "compressed blob {} is too short",
                id.to_hex()
            )));
        }
        let mut trailer = [0u8; TRAILER as usize];
        let mut got = 0;
        while got < trailer.len() {
            let n = blob.read_at(stored - TRAILER + got as u64, &mut trailer[got..])?;
            if n == 0 {
                return Err(StoreError::Corrupt(format!("compressed blob {} is short", id.to_hex())));
            }
            got += n;
        }
        if &trailer[8..] != TAG {
            return Err(StoreError::Corrupt(format!(
                "blob {} is not a compressed blob",
                id.to_hex()
            )));
        }
        let len = u64::from_le_bytes(trailer[..8].try_into().expect("8 bytes"));
        Ok(Some(Box::new(ZstdReader {
            blob: Arc::from(blob),
            compressed: stored - TRAILER,
            len,
            cursor: Mutex::new(None),
        })))
    }

    fn delete(&self, id: BlobId) -> StoreResult<()> {
        self.inner.delete(id)
    }

    fn clear_temp(&self) -> StoreResult<usize> {
        self.inner.clear_temp()
    }

    fn for_each(&self, f: &mut dyn FnMut(BlobId, SystemTime)) -> StoreResult<()> {
        self.inner.for_each(f)
    }

    fn now(&self) -> StoreResult<SystemTime> {
        self.inner.now()
    }

    fn space(&self) -> StoreResult<Option<crate::Space>> {
        self.inner.space()
    }

    fn pairing(&self) -> StoreResult<Option<String>> {
        self.inner.pairing()
    }

    fn claim_pairing(&self, id: &str) -> StoreResult<String> {
        self.inner.claim_pairing(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsBlobStore;

    fn store(dir: &std::path::Path) -> (ZstdBlobStore, Arc<dyn BlobStore>) {
        let fs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir, false).unwrap());
        (ZstdBlobStore::new(fs.clone()), fs)
    }

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        crate::conformance::blob_store_suite(&store(dir.path()).0);
        crate::conformance::pairing_suite(&store(dir.path()).0);
    }

    #[test]
    fn stores_less_and_reads_back_at_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        let (z, raw) = store(dir.path());
        let data: Vec<u8> = (0..2_000_000u32)
            .map(|i| b"log line "[(i % 9) as usize] ^ (i / 100_000) as u8)
            .collect();
        let mut w = z.create().unwrap();
        for c in data.chunks(100_000) {
            w.write(c).unwrap();
        }
        let id = w.finish().unwrap();
        let stored = raw.open(id).unwrap().unwrap().len();
        assert!(stored * 10 < data.len() as u64, "stored {stored} of {}", data.len());
        let r = z.open(id).unwrap().unwrap();
        assert_eq!(r.len(), data.len() as u64);
        // Forward, backward, and past the end.
        for at in [1_500_000u64, 7, 1_999_990, 0] {
            let mut buf = vec![0u8; 50_000];
            let n = r.read_at(at, &mut buf).unwrap();
            assert!(n > 0);
            assert_eq!(&buf[..n], &data[at as usize..at as usize + n], "at {at}");
        }
        assert_eq!(r.read_at(data.len() as u64, &mut [0u8; 4]).unwrap(), 0);
        // A blob that is not compressed is refused as corrupt, not misread.
        let mut w = raw.create().unwrap();
        w.write(b"plain bytes, no trailer").unwrap();
        let plain = w.finish().unwrap();
        assert!(matches!(z.open(plain), Err(StoreError::Corrupt(_))));
    }
}

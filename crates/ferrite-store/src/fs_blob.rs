//! The local-filesystem blob store: one file per blob.
//!
//! Layout under the root: `tmp/<id>.<random>` for writes in progress, `blobs/<first two hex
//! digits>/<id>` for permanent blobs. `finish` fsyncs the file, renames it into place
//! and fsyncs the directory, so a blob that `finish` returned survives a crash, and a
//! crash before then leaves only a file in `tmp/` (cleared at start-up). Ids are random
//! hex: no client input ever becomes part of a path.

use std::fs::{self, File, OpenOptions};
use std::io::{IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::{BlobId, BlobReader, BlobStore, BlobWriter, StoreError, StoreResult};

pub struct FsBlobStore {
    root: PathBuf,
    tmp: PathBuf,
    blobs: PathBuf,
    durable: bool,
}

/// The file in the store's root naming its pairing with a metadata store.
pub const PAIRING_FILE: &str = "blobstore.id";

impl FsBlobStore {
    /// Opens (or creates) a blob store under `root`. With `durable` false nothing is
    /// fsynced.
    pub fn open(root: &Path, durable: bool) -> StoreResult<Self> {
        let tmp = root.join("tmp");
        let blobs = root.join("blobs");
        // New directory entries are fsynced (the shard entries in `blobs/`, `blobs/`
        // and `tmp/` in the root, and the root in its parent): a blob's own rename
        // and directory fsync rely on its shard directory being there after a crash.
        let mut made = false;
        for dir in [root, tmp.as_path(), blobs.as_path()] {
            if !dir.is_dir() {
                fs::create_dir_all(dir)?;
                made = true;
            }
        }
        let mut shards_made = false;
        for i in 0..=255u8 {
            let shard = blobs.join(format!("{i:02x}"));
            if !shard.is_dir() {
                fs::create_dir(&shard)?;
                shards_made = true;
            }
        }
        if durable && (made || shards_made) {
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(parent)?.sync_all()?;
            }
            File::open(root)?.sync_all()?;
            File::open(&blobs)?.sync_all()?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            tmp,
            blobs,
            durable,
        })
    }

    fn path(&self, id: BlobId) -> PathBuf {
        let hex = id.to_hex();
        self.blobs.join(&hex[..2]).join(hex)
    }
}

struct FsWriter {
    file: Option<File>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    id: BlobId,
    durable: bool,
    /// Bytes written so far, and how many of them writeback was started for.
    written: u64,
    writeback_from: u64,
}

/// Large blobs start writeback every this many bytes, so the fsync in `finish` waits
/// for the last stretch only instead of the whole blob.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// Asks the kernel to start writing `len` bytes at `offset` to disk, without waiting
/// (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`). Durability still comes from the
/// fsync in `finish`; this only moves the work earlier. Failures are ignored for that
/// reason.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads its integer arguments; the descriptor is open
    // for as long as `file` is borrowed.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

impl FsWriter {
    fn wrote(&mut self, n: usize) {
        self.written += n as u64;
        if self.durable
            && self.written - self.writeback_from >= WRITEBACK_EVERY
            && let Some(f) = self.file.as_ref()
        {
            start_writeback(f, self.writeback_from, self.written - self.writeback_from);
            self.writeback_from = self.written;
        }
    }
}

impl BlobWriter for FsWriter {
    fn write(&mut self, buf: &[u8]) -> StoreResult<()> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(buf)?;
            self.wrote(buf.len());
        }
        Ok(())
    }

    /// One `writev` per call (more only after a short write): a syscall, and the
    /// filesystem's per-write work, per flush instead of per received chunk.
    fn write_all(&mut self, bufs: &[&[u8]]) -> StoreResult<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        // IOV_MAX bounds one call; write_vectored takes what it can and we go on.
        while !rest.is_empty() {
            let n = match f.write_vectored(rest) {
                Ok(0) => return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            IoSlice::advance_slices(&mut rest, n);
        }
        self.wrote(total);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> StoreResult<BlobId> {
        let file = self.file.take().expect("file is present until finish");
        if self.durable {
            file.sync_data()?;
        }
        drop(file);
        fs::rename(&self.tmp_path, &self.final_path)?;
        if self.durable
            && let Some(dir) = self.final_path.parent()
        {
            File::open(dir)?.sync_all()?;
        }
        Ok(self.id)
    }
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        if self.file.take().is_some()
            && let Err(e) = fs::remove_file(&self.tmp_path)
        {
            tracing::warn!(path = %self.tmp_path.display(), error = %e, "could not remove unfinished blob");
        }
    }
}

struct FsReader {
    file: File,
    len: u64,
}

impl BlobReader for FsReader {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> StoreResult<usize> {
        Ok(self.file.read_at(buf, offset)?)
    }

    /// One `preadv`: the kernel copies each stretch of the file straight into its
    /// buffer.
    fn read_vectored_at(&self, offset: u64, bufs: &mut [std::io::IoSliceMut<'_>]) -> StoreResult<usize> {
        loop {
            match rustix::io::preadv(&self.file, bufs, offset) {
                Ok(n) => return Ok(n),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(std::io::Error::from(e).into()),
            }
        }
    }
}

impl BlobStore for FsBlobStore {
    fn create_as(&self, id: BlobId) -> StoreResult<Box<dyn BlobWriter>> {
        // A suffix of its own: a writer of the same id that was killed (an interrupted
        // `ferrite migrate`, which copies blobs under their ids) left its file here.
        let tmp_path = self.tmp.join(format!("{}.{:08x}", id.to_hex(), rand::random::<u32>()));
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp_path)?;
        Ok(Box::new(FsWriter {
            file: Some(file),
            tmp_path,
            final_path: self.path(id),
            id,
            durable: self.durable,
            written: 0,
            writeback_from: 0,
        }))
    }

    fn open(&self, id: BlobId) -> StoreResult<Option<Box<dyn BlobReader>>> {
        match File::open(self.path(id)) {
            Ok(file) => {
                let len = file.metadata()?.len();
                Ok(Some(Box::new(FsReader { file, len })))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn delete(&self, id: BlobId) -> StoreResult<()> {
        match fs::remove_file(self.path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn clear_temp(&self) -> StoreResult<usize> {
        let mut n = 0;
        for entry in fs::read_dir(&self.tmp)? {
            fs::remove_file(entry?.path())?;
            n += 1;
        }
        Ok(n)
    }

    /// The file system's own clock: stamps a file and reads the stamp back.
    fn now(&self) -> StoreResult<SystemTime> {
        let path = self.tmp.join("clock");
        let mut file = File::create(&path)?;
        file.write_all(b"now")?;
        let stamp = file.metadata()?.modified()?;
        drop(file);
        fs::remove_file(&path)?;
        Ok(stamp)
    }

    fn space(&self) -> StoreResult<Option<crate::Space>> {
        let st = rustix::fs::statvfs(&self.blobs).map_err(std::io::Error::from)?;
        Ok(Some(crate::Space {
            total: st.f_blocks.saturating_mul(st.f_frsize),
            free: st.f_bavail.saturating_mul(st.f_frsize),
        }))
    }

    fn for_each(&self, f: &mut dyn FnMut(BlobId, SystemTime)) -> StoreResult<()> {
        for shard in fs::read_dir(&self.blobs)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name();
                let Some(id) = name.to_str().and_then(|s| BlobId::from_hex(s).ok()) else {
                    tracing::warn!(path = %entry.path().display(), "unexpected file in blob store");
                    continue;
                };
                f(id, entry.metadata()?.modified()?);
            }
        }
        Ok(())
    }

    fn pairing(&self) -> StoreResult<Option<String>> {
        match fs::read_to_string(self.root.join(PAIRING_FILE)) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn claim_pairing(&self, id: &str) -> StoreResult<String> {
        let file = self.root.join(PAIRING_FILE);
        if let Some(held) = self.pairing()? {
            return Ok(held);
        }
        // A temporary file of this call's own (in tmp/, which `clear_temp` empties
        // after a crash), fsynced, then hard-linked to the name: the link is all or
        // nothing and fails if the name exists (another claim won).
        let tmp = self.tmp.join(format!("pairing-{}", BlobId::random().to_hex()));
        let written = (|| {
            let mut f = File::create_new(&tmp)?;
            std::io::Write::write_all(&mut f, format!("{id}\n").as_bytes())?;
            f.sync_all()?;
            match fs::hard_link(&tmp, &file) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(e),
            }
        })();
        let removed = fs::remove_file(&tmp);
        written?;
        removed?;
        File::open(&self.root)?.sync_all()?;
        self.pairing()?
            .ok_or_else(|| StoreError::Corrupt(format!("{PAIRING_FILE} is gone right after it was written")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path(), true).unwrap();
        crate::conformance::blob_store_suite(&store);
        crate::conformance::pairing_suite(&store);
        // A file system always knows its space.
        assert!(store.space().unwrap().is_some());
    }

    #[test]
    fn unfinished_writes_leave_only_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path(), true).unwrap();
        let mut w = store.create().unwrap();
        w.write(b"partial").unwrap();
        // A crash is simulated by leaking the writer: its Drop never runs.
        std::mem::forget(w);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 1);
        let mut live = 0;
        store.for_each(&mut |_, _| live += 1).unwrap();
        assert_eq!(live, 0, "an unfinished write is never a permanent blob");
        assert_eq!(store.clear_temp().unwrap(), 1);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    /// A writer of a given id that died (an interrupted migration copies blobs under
    /// their ids) does not keep that id from being written again.
    #[test]
    fn an_id_whose_writer_died_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path(), true).unwrap();
        let id = BlobId::random();
        let mut w = store.create_as(id).unwrap();
        w.write(b"half").unwrap();
        std::mem::forget(w);
        let mut w = store.create_as(id).unwrap();
        w.write(b"whole").unwrap();
        w.finish().unwrap();
        let r = store.open(id).unwrap().unwrap();
        let mut buf = [0u8; 5];
        assert_eq!(r.read_at(0, &mut buf).unwrap(), 5);
        assert_eq!(&buf, b"whole");
    }
}

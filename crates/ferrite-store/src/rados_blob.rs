//! The blob store on Ceph RADOS (feature `rados`): object data that every gateway
//! of a cluster reads and writes (`ferrite serve --blobs rados:pool=...,conf=...`).
//!
//! # Layout (in one pool, its default namespace)
//! - A blob's bytes are cut into **segments** of [`SEGMENT`] bytes (the last one
//!   shorter): RADOS object `<id>.<n>` (`<id>` 32 hex digits, `<n>` the segment's
//!   index in hex, 8 digits). Each is written whole, once, in one atomic operation
//!   with an xattr `ferrite.crc32c` (the segment's CRC-32C, 4 bytes big-endian), so
//!   that a scrub can check it without the metadata. RADOS acknowledges a write when
//!   every OSD of the acting set has it.
//! - The **head**, RADOS object `<id>`, is written last, after every segment was
//!   acknowledged: [`HEAD_MAGIC`], the length (u64), the segment size (u32), the
//!   segment count (u32), the time the blob was finished (ms since the epoch, u64),
//!   all big-endian. A blob exists (for `open` and `for_each`) exactly when its
//!   head does, so a write that stops before its head leaves only segments without
//!   a head, which [`BlobStore::clear_temp`] removes once they are older than
//!   [`TEMP_GRACE`] (other gateways may be writing right now: the store is shared).
//! - Deleting removes the segments first, then the head: an interrupted delete
//!   leaves a blob whose delete is simply run again.
//! - The object `ferrite.pairing` holds the id of this pool's pairing with a
//!   metadata store (see [`BlobStore::set_pairing`]).
//!
//! Segments are at most 4 MiB, well under RADOS's limits (`osd_max_write_size` 90
//! MB, `osd_max_object_size` 128 MiB in Ceph 16): a writer buffers one segment, so a
//! write holds at most 4 MiB of memory. All calls block; the object model calls blob
//! stores from its blocking pool.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::rados_ffi::Pool;
use crate::{BlobId, BlobReader, BlobStore, BlobWriter, Space, StoreError, StoreResult};

/// Bytes per segment object.
pub const SEGMENT: usize = 4 << 20;
/// The head's first bytes (layout version 1).
pub const HEAD_MAGIC: &[u8; 4] = b"FRB1";
const HEAD_LEN: usize = 4 + 8 + 4 + 4 + 8;
/// Segments without a head younger than this are another writer's work in progress.
pub const TEMP_GRACE: Duration = Duration::from_secs(3600);
const PAIRING_OBJECT: &str = "ferrite.pairing";
const CRC_XATTR: &str = "ferrite.crc32c";
/// When a segment was written (ms, u64 big-endian), for [`BlobStore::clear_temp`].
const WRITTEN_XATTR: &str = "ferrite.written";

/// Where a RADOS blob store is: `pool=NAME,conf=PATH[,user=NAME]`
/// (`ferrite serve --blobs rados:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadosTarget {
    pub pool: String,
    pub conf: String,
    /// The cephx user, without `client.` (default `admin`).
    pub user: String,
}

impl std::str::FromStr for RadosTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (mut pool, mut conf, mut user) = (None, None, "admin".to_string());
        for part in s.split(',').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("pool", v)) if !v.is_empty() => pool = Some(v.to_string()),
                Some(("conf", v)) if !v.is_empty() => conf = Some(v.to_string()),
                Some(("user", v)) if !v.is_empty() => user = v.to_string(),
                _ => return Err(format!("unknown or empty RADOS setting {part:?} (pool=, conf=, user=)")),
            }
        }
        Ok(Self {
            pool: pool.ok_or("a RADOS blob store needs pool=NAME")?,
            conf: conf.unwrap_or_else(|| "/etc/ceph/ceph.conf".into()),
            user,
        })
    }
}

pub struct RadosBlobStore {
    pool: std::sync::Arc<Pool>,
}

impl std::fmt::Debug for RadosBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RadosBlobStore")
    }
}

fn ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn segment_name(id: BlobId, n: u32) -> String {
    format!("{}.{n:08x}", id.to_hex())
}

/// A blob's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    len: u64,
    segment: u32,
    segments: u32,
    finished_ms: u64,
}

impl Head {
    fn encode(&self) -> [u8; HEAD_LEN] {
        let mut out = [0u8; HEAD_LEN];
        out[..4].copy_from_slice(HEAD_MAGIC);
        out[4..12].copy_from_slice(&self.len.to_be_bytes());
        out[12..16].copy_from_slice(&self.segment.to_be_bytes());
        out[16..20].copy_from_slice(&self.segments.to_be_bytes());
        out[20..28].copy_from_slice(&self.finished_ms.to_be_bytes());
        out
    }

    fn decode(id: BlobId, b: &[u8]) -> StoreResult<Self> {
        let bad = || StoreError::Corrupt(format!("the head of RADOS blob {} is damaged", id.to_hex()));
        if b.len() != HEAD_LEN || &b[..4] != HEAD_MAGIC {
            return Err(bad());
        }
        let head = Head {
            len: u64::from_be_bytes(b[4..12].try_into().expect("8 bytes")),
            segment: u32::from_be_bytes(b[12..16].try_into().expect("4 bytes")),
            segments: u32::from_be_bytes(b[16..20].try_into().expect("4 bytes")),
            finished_ms: u64::from_be_bytes(b[20..28].try_into().expect("8 bytes")),
        };
        if head.segment == 0 || head.len.div_ceil(u64::from(head.segment)) != u64::from(head.segments) {
            return Err(bad());
        }
        Ok(head)
    }
}

impl RadosBlobStore {
    /// Connects to the cluster `target` names (librados is loaded now).
    pub fn connect(target: &RadosTarget) -> StoreResult<Self> {
        let pool = Pool::connect(&target.conf, &target.user, &target.pool)?;
        Ok(Self {
            pool: std::sync::Arc::new(pool),
        })
    }

    fn head(&self, id: BlobId) -> StoreResult<Option<Head>> {
        let mut buf = [0u8; HEAD_LEN + 1];
        match self.pool.read(&id.to_hex(), 0, &mut buf)? {
            None => Ok(None),
            Some(n) => Head::decode(id, &buf[..n]).map(Some),
        }
    }

    /// Checks every segment of blob `id` against its CRC xattr (a scrub); returns
    /// the bytes checked. Damage is [`StoreError::Corrupt`].
    pub fn verify(&self, id: BlobId) -> StoreResult<u64> {
        let Some(head) = self.head(id)? else {
            return Err(StoreError::Corrupt(format!("no RADOS blob {}", id.to_hex())));
        };
        let mut buf = vec![0u8; head.segment as usize];
        for n in 0..head.segments {
            let name = segment_name(id, n);
            let want = self
                .pool
                .getxattr(&name, CRC_XATTR, 4)?
                .ok_or_else(|| StoreError::Corrupt(format!("segment {name} or its checksum is missing")))?;
            let got = self.pool.read(&name, 0, &mut buf)?.unwrap_or(0);
            let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &buf[..got]) as u32;
            if want != crc.to_be_bytes() {
                return Err(StoreError::Corrupt(format!(
                    "segment {name} does not match its checksum"
                )));
            }
        }
        Ok(head.len)
    }
}

struct RadosWriter {
    pool: std::sync::Arc<Pool>,
    id: BlobId,
    buf: Vec<u8>,
    /// Segments written so far.
    written: u32,
    len: u64,
    finished: bool,
}

impl RadosWriter {
    fn flush_segment(&mut self) -> StoreResult<()> {
        let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &self.buf) as u32;
        let name = segment_name(self.id, self.written);
        self.pool.write_full_with(
            &name,
            &self.buf,
            &[
                (CRC_XATTR, &crc.to_be_bytes()),
                (WRITTEN_XATTR, &ms_now().to_be_bytes()),
            ],
        )?;
        self.written += 1;
        self.buf.clear();
        Ok(())
    }
}

impl BlobWriter for RadosWriter {
    fn write(&mut self, mut data: &[u8]) -> StoreResult<()> {
        while !data.is_empty() {
            if self.buf.capacity() == 0 {
                self.buf
                    .reserve_exact(SEGMENT.min(data.len().next_power_of_two().max(64 << 10)));
            }
            let room = SEGMENT - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            self.len += take as u64;
            data = &data[take..];
            if self.buf.len() == SEGMENT {
                self.flush_segment()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> StoreResult<BlobId> {
        if !self.buf.is_empty() {
            self.flush_segment()?;
        }
        let head = Head {
            len: self.len,
            segment: SEGMENT as u32,
            segments: self.written,
            finished_ms: ms_now(),
        };
        self.pool.write_full(&self.id.to_hex(), &head.encode())?;
        self.finished = true;
        Ok(self.id)
    }
}

impl Drop for RadosWriter {
    fn drop(&mut self) {
        if !self.finished {
            // An abandoned write leaves nothing (best effort: what a crash leaves,
            // clear_temp takes later).
            for n in 0..self.written {
                let _ = self.pool.remove(&segment_name(self.id, n));
            }
        }
    }
}

struct RadosReader {
    pool: std::sync::Arc<Pool>,
    id: BlobId,
    head: Head,
}

impl BlobReader for RadosReader {
    fn len(&self) -> u64 {
        self.head.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> StoreResult<usize> {
        if offset >= self.head.len || buf.is_empty() {
            return Ok(0);
        }
        let seg = u64::from(self.head.segment);
        let n = (offset / seg) as u32;
        let within = offset % seg;
        let want = buf
            .len()
            .min((seg - within) as usize)
            .min((self.head.len - offset) as usize);
        let name = segment_name(self.id, n);
        match self.pool.read(&name, within, &mut buf[..want])? {
            Some(0) | None => Err(StoreError::Corrupt(format!(
                "segment {name} of a RADOS blob is missing or short"
            ))),
            Some(got) => Ok(got),
        }
    }
}

impl BlobStore for RadosBlobStore {
    fn create_as(&self, id: BlobId) -> StoreResult<Box<dyn BlobWriter>> {
        Ok(Box::new(RadosWriter {
            pool: self.pool.clone(),
            id,
            buf: Vec::new(),
            written: 0,
            len: 0,
            finished: false,
        }))
    }

    fn open(&self, id: BlobId) -> StoreResult<Option<Box<dyn BlobReader>>> {
        Ok(self.head(id)?.map(|head| {
            Box::new(RadosReader {
                pool: self.pool.clone(),
                id,
                head,
            }) as Box<dyn BlobReader>
        }))
    }

    fn delete(&self, id: BlobId) -> StoreResult<()> {
        let Some(head) = self.head(id)? else { return Ok(()) };
        for n in 0..head.segments {
            self.pool.remove(&segment_name(id, n))?;
        }
        self.pool.remove(&id.to_hex())?;
        Ok(())
    }

    fn clear_temp(&self) -> StoreResult<usize> {
        // Segments whose blob has no head, older than the grace period.
        let mut segments = Vec::new();
        let mut heads = std::collections::HashSet::new();
        self.pool.for_each_object(&mut |name| {
            if let Some((id, _)) = name.split_once('.')
                && id.len() == 32
                && BlobId::from_hex(id).is_ok()
            {
                segments.push((id.to_string(), name.to_string()));
            } else if name.len() == 32 && BlobId::from_hex(name).is_ok() {
                heads.insert(name.to_string());
            }
        })?;
        let cutoff = ms_now().saturating_sub(TEMP_GRACE.as_millis() as u64);
        let mut removed = 0;
        for (id, name) in segments {
            if heads.contains(&id) {
                continue;
            }
            let written = self
                .pool
                .getxattr(&name, WRITTEN_XATTR, 8)?
                .and_then(|v| v.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            // A head finished since the listing makes the segment a blob's: check.
            if written < cutoff && self.pool.read(&id, 0, &mut [0u8; 1])?.is_none() && self.pool.remove(&name)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn for_each(&self, f: &mut dyn FnMut(BlobId, SystemTime)) -> StoreResult<()> {
        let mut ids = Vec::new();
        self.pool.for_each_object(&mut |name| {
            if name.len() == 32
                && let Ok(id) = BlobId::from_hex(name)
            {
                ids.push(id);
            }
        })?;
        for id in ids {
            // A blob deleted since the listing is skipped.
            if let Some(head) = self.head(id)? {
                f(id, UNIX_EPOCH + Duration::from_millis(head.finished_ms));
            }
        }
        Ok(())
    }

    fn now(&self) -> StoreResult<SystemTime> {
        // Whole milliseconds, as heads record them.
        Ok(UNIX_EPOCH + Duration::from_millis(ms_now()))
    }

    fn space(&self) -> StoreResult<Option<Space>> {
        let st = self.pool.cluster_stat()?;
        Ok(Some(Space {
            total: st.kb.saturating_mul(1024),
            free: st.kb_avail.saturating_mul(1024),
        }))
    }

    fn pairing(&self) -> StoreResult<Option<String>> {
        let mut buf = [0u8; 128];
        Ok(self
            .pool
            .read(PAIRING_OBJECT, 0, &mut buf)?
            .map(|n| String::from_utf8_lossy(&buf[..n]).trim().to_string()))
    }

    fn claim_pairing(&self, id: &str) -> StoreResult<String> {
        // Exclusive create: of gateways claiming the pool at once, one writes.
        self.pool.create_exclusive(PAIRING_OBJECT, id.as_bytes())?;
        self.pairing()?
            .ok_or_else(|| StoreError::Corrupt(format!("{PAIRING_OBJECT} is gone right after it was written")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_bad_ones_are_refused() {
        let t: RadosTarget = "pool=data,conf=/x/ceph.conf".parse().unwrap();
        assert_eq!(t.pool, "data");
        assert_eq!(t.conf, "/x/ceph.conf");
        assert_eq!(t.user, "admin");
        let t: RadosTarget = "pool=p,user=ferrite".parse().unwrap();
        assert_eq!((t.conf.as_str(), t.user.as_str()), ("/etc/ceph/ceph.conf", "ferrite"));
        for bad in ["", "conf=/x", "pool=", "pool=p,size=3", "pool"] {
            assert!(bad.parse::<RadosTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn heads_round_trip_and_damage_is_refused() {
        let id = BlobId::random();
        let h = Head {
            len: 9 << 20,
            segment: SEGMENT as u32,
            segments: 3,
            finished_ms: 1_700_000_000_000,
        };
        assert_eq!(Head::decode(id, &h.encode()).unwrap(), h);
        let mut bad = h.encode();
        bad[0] = b'X';
        assert!(Head::decode(id, &bad).is_err());
        let wrong_count = Head { segments: 2, ..h };
        assert!(Head::decode(id, &wrong_count.encode()).is_err());
        assert!(Head::decode(id, &h.encode()[..10]).is_err());
    }

    /// The shared blob-store suite against a real cluster: `CEPH_CONF` (and
    /// `FERRITE_TEST_RADOS_POOL`, default `ferrite`) as `scripts/ceph-cluster.sh`
    /// prints them. Without a cluster it is skipped with a note, unless CI or
    /// FERRITE_REQUIRE_RADOS=1 asks for it.
    #[test]
    fn conformance_on_a_real_cluster() {
        let Some(store) = test_store() else { return };
        crate::conformance::blob_store_suite(&store);
        // Several segments, read across their edges, and a scrub.
        let data: Vec<u8> = (0..(2 * SEGMENT + 12_345)).map(|i| (i * 7 % 253) as u8).collect();
        let mut w = store.create().unwrap();
        for piece in data.chunks(1_000_003) {
            w.write(piece).unwrap();
        }
        let id = w.finish().unwrap();
        let r = store.open(id).unwrap().unwrap();
        assert_eq!(r.len(), data.len() as u64);
        let mut buf = vec![0u8; 100];
        let at = SEGMENT as u64 - 40;
        let n = r.read_at(at, &mut buf).unwrap();
        assert_eq!(n, 40, "a read stops at its segment's end");
        assert_eq!(&buf[..n], &data[at as usize..at as usize + n]);
        assert_eq!(store.verify(id).unwrap(), data.len() as u64);
        // A damaged segment is caught by the scrub.
        store
            .pool
            .write_full(&segment_name(id, 1), &data[SEGMENT..2 * SEGMENT - 1])
            .unwrap();
        assert!(matches!(store.verify(id), Err(StoreError::Corrupt(_))));
        store.delete(id).unwrap();
        assert!(store.open(id).unwrap().is_none());
        let mut left = 0;
        store
            .pool
            .for_each_object(&mut |name| left += usize::from(name.starts_with(&id.to_hex())))
            .unwrap();
        assert_eq!(left, 0, "no segment outlives its blob");
        // Pairing (the pool is shared with other tests: no pairing is left in it).
        store.pool.remove(PAIRING_OBJECT).unwrap();
        crate::conformance::pairing_suite(&store);
        store.pool.remove(PAIRING_OBJECT).unwrap();
    }

    fn test_store() -> Option<RadosBlobStore> {
        let required = std::env::var_os("FERRITE_REQUIRE_RADOS").is_some_and(|v| v == "1");
        let Some(conf) = std::env::var("CEPH_CONF").ok().filter(|c| !c.is_empty()) else {
            assert!(
                !required,
                "FERRITE_REQUIRE_RADOS=1 but no CEPH_CONF: run scripts/rados-tests.sh"
            );
            eprintln!("SKIPPED: no CEPH_CONF (scripts/rados-tests.sh starts a throwaway cluster)");
            return None;
        };
        let pool = std::env::var("FERRITE_TEST_RADOS_POOL").unwrap_or_else(|_| "ferrite".into());
        let target = RadosTarget {
            pool,
            conf,
            user: "admin".into(),
        };
        Some(RadosBlobStore::connect(&target).expect("connecting to the test cluster"))
    }
}

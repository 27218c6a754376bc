//! Hashing threads that put the MD5 work of concurrent uploads side by side in SIMD
//! lanes (see `md5_lanes`).
//!
//! An upload hands over its stream state and the next run of body chunks, and gets
//! the state back once they are hashed. A thread keeps up to [`LANES`] such jobs
//! open at once and advances them together, a stretch of blocks at a time; between
//! stretches it fills free lanes from the queue. With one job it hashes that job alone
//! with the scalar kernel, so a lone upload hashes as fast as before; lanes fill
//! exactly when uploads wait for hashing, which is when they help.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::md5_lanes::{Kernel, LANES, Md5Stream, compress_lanes, compress_scalar};
use crate::{ModelError, ModelResult};

/// Blocks hashed per lane before a thread looks for new jobs: 16 KiB.
const STRETCH: usize = 256;

pub(crate) struct Md5Pool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    kernel: Kernel,
    /// Stretches hashed with the lane kernel (for tests and curiosity).
    lane_stretches: AtomicU64,
    /// Makes a thread panic at its next job (to test that uploads then fail cleanly).
    #[cfg(test)]
    poison: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Job {
    stream: Md5Stream,
    chunks: Vec<Bytes>,
    reply: oneshot::Sender<Md5Stream>,
}

impl Md5Pool {
    /// Starts the hashing threads: one per four cores when the CPU has a lane kernel
    /// (one thread then hashes eight uploads at once), one per core otherwise.
    pub(crate) fn start() -> std::io::Result<Self> {
        let kernel = Kernel::detect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = if kernel.is_scalar() { cores } else { cores.div_ceil(4) };
        Self::with_threads(kernel, threads)
    }

    fn with_threads(kernel: Kernel, threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            kernel,
            lane_stretches: AtomicU64::new(0),
            #[cfg(test)]
            poison: std::sync::atomic::AtomicBool::new(false),
        });
        let threads = (0..threads.max(1))
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("ferrite-md5-{i}"))
                    .spawn(move || shared.run())
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self { shared, threads })
    }

    /// Continues `stream` over `chunks`, in order.
    pub(crate) async fn hash(&self, stream: Md5Stream, chunks: Vec<Bytes>) -> ModelResult<Md5Stream> {
        let (reply, done) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(ModelError::Internal("the MD5 hashing threads stopped".into()));
            }
            queue.jobs.push_back(Job { stream, chunks, reply });
        }
        self.shared.ready.notify_one();
        done.await
            .map_err(|_| ModelError::Internal("an MD5 hashing thread stopped".into()))
    }
}

impl Drop for Md5Pool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A job being hashed: where its next unhashed byte is.
struct Lane {
    job: Job,
    chunk: usize,
    offset: usize,
}

/// Where a lane's next blocks come from.
#[derive(Clone, Copy)]
enum Source {
    /// The block gathered in the stream's tail (it straddled chunks).
    Tail,
    /// `blocks` whole blocks inside the current chunk.
    Chunk { blocks: usize },
}

impl Lane {
    fn new(mut job: Job) -> Self {
        job.stream.len += job.chunks.iter().map(|c| c.len() as u64).sum::<u64>();
        Self {
            job,
            chunk: 0,
            offset: 0,
        }
    }

    /// Finds the next whole block, gathering it in the tail if it straddles chunks.
    /// `None` once the job's bytes are all hashed or in the tail.
    fn next_source(&mut self) -> Option<Source> {
        let s = &mut self.job.stream;
        loop {
            let rest = &self.job.chunks.get(self.chunk)?[self.offset..];
            if rest.is_empty() {
                self.chunk += 1;
                self.offset = 0;
                continue;
            }
            if s.tail_len == 0 && rest.len() >= 64 {
                return Some(Source::Chunk {
                    blocks: rest.len() / 64,
                });
            }
            let take = rest.len().min(64 - s.tail_len);
            s.tail[s.tail_len..s.tail_len + take].copy_from_slice(&rest[..take]);
            s.tail_len += take;
            self.offset += take;
            if s.tail_len == 64 {
                return Some(Source::Tail);
            }
        }
    }

    fn blocks(&self, source: Source, n: usize) -> &[u8] {
        match source {
            Source::Tail => &self.job.stream.tail,
            Source::Chunk { .. } => &self.job.chunks[self.chunk][self.offset..self.offset + n * 64],
        }
    }

    fn advance(&mut self, source: Source, n: usize) {
        match source {
            Source::Tail => self.job.stream.tail_len = 0,
            Source::Chunk { .. } => self.offset += n * 64,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue half-changed.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self) {
        // Should this thread panic (a bug), close the pool: queued jobs are dropped, so
        // their uploads fail with an internal error instead of waiting forever.
        struct CloseOnPanic<'a>(&'a Shared);
        impl Drop for CloseOnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut queue = self.0.lock();
                    queue.closed = true;
                    queue.jobs.clear();
                }
            }
        }
        let _close = CloseOnPanic(self);
        let mut lanes: [Option<Lane>; LANES] = Default::default();
        let mut sources: [Option<Source>; LANES] = [None; LANES];
        loop {
            if !self.take_jobs(&mut lanes) {
                return;
            }
            #[cfg(test)]
            if self.poison.load(Ordering::Relaxed) {
                panic!("poisoned by a test");
            }
            let mut busy = 0;
            let mut stretch = STRETCH;
            for (slot, source) in lanes.iter_mut().zip(sources.iter_mut()) {
                *source = None;
                let Some(lane) = slot else { continue };
                match lane.next_source() {
                    Some(s) => {
                        stretch = stretch.min(match s {
                            Source::Tail => 1,
                            Source::Chunk { blocks } => blocks,
                        });
                        *source = Some(s);
                        busy += 1;
                    }
                    None => {
                        let lane = slot.take().expect("lane is busy");
                        // The uploader may have gone (request dropped): nothing to do.
                        let _ = lane.job.reply.send(lane.job.stream);
                    }
                }
            }
            if busy == 0 {
                continue;
            }
            if busy < self.kernel.min_lanes() {
                for (lane, source) in lanes.iter_mut().zip(sources) {
                    let (Some(lane), Some(source)) = (lane, source) else {
                        continue;
                    };
                    let n = match source {
                        Source::Tail => 1,
                        Source::Chunk { blocks } => blocks.min(STRETCH),
                    };
                    let mut state = lane.job.stream.state;
                    compress_scalar(&mut state, lane.blocks(source, n));
                    lane.job.stream.state = state;
                    lane.advance(source, n);
                }
                continue;
            }
            let mut states = [[0u32; 4]; LANES];
            {
                // Idle lanes hash a copy of a busy lane's blocks; their result is dropped.
                let filler = lanes
                    .iter()
                    .zip(sources)
                    .find_map(|(l, s)| Some(l.as_ref()?.blocks(s?, stretch)))
                    .expect("a busy lane");
                let blocks: [&[u8]; LANES] = std::array::from_fn(|i| match (&lanes[i], sources[i]) {
                    (Some(lane), Some(source)) => {
                        states[i] = lane.job.stream.state;
                        lane.blocks(source, stretch)
                    }
                    _ => filler,
                });
                compress_lanes(self.kernel, &mut states, blocks, stretch);
            }
            self.lane_stretches.fetch_add(1, Ordering::Relaxed);
            for ((lane, source), state) in lanes.iter_mut().zip(sources).zip(states) {
                if let (Some(lane), Some(source)) = (lane, source) {
                    lane.job.stream.state = state;
                    lane.advance(source, stretch);
                }
            }
        }
    }

    /// Fills free lanes from the queue, waiting for work only when every lane is
    /// free. False once the pool is closed and nothing is left to hash.
    fn take_jobs(&self, lanes: &mut [Option<Lane>; LANES]) -> bool {
        let idle = lanes.iter().all(Option::is_none);
        let mut queue = self.lock();
        if idle {
            while queue.jobs.is_empty() {
                if queue.closed {
                    return false;
                }
                queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
        }
        for slot in lanes.iter_mut().filter(|s| s.is_none()) {
            match queue.jobs.pop_front() {
                Some(job) => *slot = Some(Lane::new(job)),
                None => break,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};

    use super::*;

    fn body(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Cuts `data` into chunks of pseudo-random sizes, 1 byte to 40 KiB, so blocks
    /// straddle chunks at every offset.
    fn chunks(data: &[u8], seed: u64) -> Vec<Bytes> {
        let sizes = body(data.len(), seed ^ 0x55);
        let mut out = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < data.len() {
            let n = match sizes[i] % 4 {
                0 => 1 + sizes[i] as usize % 64,
                1 => 64 * (1 + sizes[i] as usize % 8),
                _ => 1 + (sizes[i] as usize * 157) % (40 << 10),
            };
            let n = n.min(data.len() - at);
            out.push(Bytes::copy_from_slice(&data[at..at + n]));
            at += n;
            i += 1;
        }
        out
    }

    /// Many uploads at once, each in several jobs of uneven chunks, through every
    /// kernel this CPU has: every digest must equal the reference MD5.
    async fn check_pool(kernel: Kernel, threads: usize) {
        let pool = Arc::new(Md5Pool::with_threads(kernel, threads).unwrap());
        let mut tasks = Vec::new();
        for upload in 0..20u64 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let len = (upload as usize * 37_123) % 300_000 + upload as usize;
                let data = body(len, upload);
                let mut stream = Md5Stream::new();
                let all = chunks(&data, upload);
                for job in all.chunks(7) {
                    stream = pool.hash(stream, job.to_vec()).await.unwrap();
                }
                let want: [u8; 16] = Md5::digest(&data).into();
                assert_eq!(stream.len, len as u64);
                assert_eq!(
                    stream.finalize(),
                    want,
                    "upload {upload} ({len} bytes) with {}",
                    kernel.name()
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        if !kernel.is_scalar() && threads == 1 {
            // Twenty uploads queue up behind one thread: it must have put them in lanes.
            assert!(
                pool.shared.lane_stretches.load(Ordering::Relaxed) > 0,
                "{} never ran",
                kernel.name()
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_uploads_hash_exactly() {
        check_pool(Kernel::detect(), 3).await;
        for kernel in Kernel::available() {
            check_pool(kernel, 1).await;
        }
        check_pool(Kernel::scalar(), 2).await;
    }

    #[tokio::test]
    async fn a_panicking_thread_fails_uploads_instead_of_hanging_them() {
        let pool = Md5Pool::with_threads(Kernel::detect(), 1).unwrap();
        pool.shared.poison.store(true, Ordering::Relaxed);
        let job = pool.hash(Md5Stream::new(), vec![Bytes::from_static(b"abc")]);
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), job).await;
        assert!(
            matches!(outcome, Ok(Err(ModelError::Internal(_)))),
            "the upload must fail, not hang"
        );
        let later = pool.hash(Md5Stream::new(), vec![Bytes::from_static(b"abc")]);
        let later = tokio::time::timeout(std::time::Duration::from_secs(10), later).await;
        assert!(
            matches!(later, Ok(Err(ModelError::Internal(_)))),
            "a closed pool refuses new work"
        );
    }

    #[tokio::test]
    async fn dropping_the_pool_stops_its_threads() {
        let pool = Md5Pool::with_threads(Kernel::detect(), 2).unwrap();
        let s = pool
            .hash(Md5Stream::new(), vec![Bytes::from_static(b"abc")])
            .await
            .unwrap();
        assert_eq!(hex::encode(s.finalize()), "900150983cd24fb0d6963f7d28e17f72");
        drop(pool); // joins the threads: the test would hang if they did not stop
    }
}

//! Hashing threads that put the MD5 work of concurrent uploads side by side in SIMD
//! lanes (see `md5_lanes`).
//!
//! An upload opens a [`Md5Feed`] with its stream state and pushes runs of body chunks
//! to it; the pool hashes each feed's runs in order and gives the state back at the
//! end. An upload may push a few runs ahead, so a thread that finishes one run goes
//! straight on with the next one in the same lane, without waiting for the upload. A
//! thread keeps up to [`LANES`] feeds open at once and advances them together, a
//! stretch of blocks at a time; between stretches it fills free lanes from the queue.
//! With one feed it hashes that feed alone with the scalar kernel, so a lone upload
//! hashes as fast as before; lanes fill exactly when uploads wait for hashing, which
//! is when they help.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::md5_lanes::{Kernel, LANES, Md5Stream, compress_lanes, compress_scalar};
use crate::{HashError, HashResult};

/// Blocks hashed per lane before a thread looks for new work: 16 KiB.
const STRETCH: usize = 256;

pub struct Md5Pool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    kernel: Kernel,
    /// Stretches hashed with the lane kernel (for tests and curiosity).
    lane_stretches: AtomicU64,
    /// Makes a thread panic at its next round (to test that uploads then fail cleanly).
    #[cfg(test)]
    poison: std::sync::atomic::AtomicBool,
}

/// Feeds with runs to hash that no thread has taken yet.
#[derive(Default)]
struct Queue {
    feeds: VecDeque<Arc<Feed>>,
    closed: bool,
}

/// One upload's MD5 as the pool sees it.
struct Feed(Mutex<FeedState>);

struct FeedState {
    /// The stream, while no lane holds it.
    stream: Option<Md5Stream>,
    /// Runs pushed and not yet taken by a lane, oldest first.
    runs: VecDeque<Run>,
    /// The feed is in the queue or in a lane, so its runs get hashed without
    /// queueing it again.
    scheduled: bool,
}

struct Run {
    chunks: Vec<Bytes>,
    done: oneshot::Sender<()>,
}

impl Feed {
    fn lock(&self) -> MutexGuard<'_, FeedState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the runs nobody will hash (the pool closed), so their uploads see an
    /// error instead of waiting, and lets a later push find out that the pool closed.
    fn abandon(&self) {
        let mut state = self.lock();
        state.runs.clear();
        state.scheduled = false;
    }
}

/// An upload's handle on its MD5 while the pool computes it.
pub struct Md5Feed {
    shared: Arc<Shared>,
    feed: Arc<Feed>,
    /// One receiver per pushed run not yet known to be hashed, oldest first.
    pushed: VecDeque<oneshot::Receiver<()>>,
}

fn stopped() -> HashError {
    HashError::Internal("the MD5 hashing threads stopped".into())
}

impl Md5Feed {
    /// Queues `chunks` to be hashed after everything pushed before.
    pub fn push(&mut self, chunks: Vec<Bytes>) -> HashResult<()> {
        let (done, hashed) = oneshot::channel();
        let schedule = {
            let mut state = self.feed.lock();
            state.runs.push_back(Run { chunks, done });
            !std::mem::replace(&mut state.scheduled, true)
        };
        if schedule {
            let mut queue = self.shared.lock();
            if queue.closed {
                drop(queue);
                self.feed.abandon();
                return Err(stopped());
            }
            queue.feeds.push_back(self.feed.clone());
            drop(queue);
            self.shared.ready.notify_one();
        }
        self.pushed.push_back(hashed);
        Ok(())
    }

    /// Runs pushed and not yet waited for.
    pub fn pending(&self) -> usize {
        self.pushed.len()
    }

    /// Waits until the oldest pushed run is hashed.
    pub async fn wait_oldest(&mut self) -> HashResult<()> {
        match self.pushed.pop_front() {
            Some(hashed) => hashed.await.map_err(|_| stopped()),
            None => Ok(()),
        }
    }

    /// Waits for every pushed run, and gives the stream back.
    pub async fn finish(mut self) -> HashResult<Md5Stream> {
        while !self.pushed.is_empty() {
            self.wait_oldest().await?;
        }
        // Every run is hashed, and a lane puts the stream back before it reports the
        // last run done.
        self.feed.lock().stream.take().ok_or_else(stopped)
    }
}

impl Md5Pool {
    /// Starts the hashing threads: one per four cores when the CPU has a lane kernel
    /// (one thread then hashes eight uploads at once), one per core otherwise.
    pub fn start() -> std::io::Result<Self> {
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

    /// Opens a feed that continues `stream`.
    pub fn feed(&self, stream: Md5Stream) -> Md5Feed {
        Md5Feed {
            shared: self.shared.clone(),
            feed: Arc::new(Feed(Mutex::new(FeedState {
                stream: Some(stream),
                runs: VecDeque::new(),
                scheduled: false,
            }))),
            pushed: VecDeque::new(),
        }
    }

    /// Continues `stream` over `chunks`, in order.
    #[cfg(test)]
    async fn hash(&self, stream: Md5Stream, chunks: Vec<Bytes>) -> HashResult<Md5Stream> {
        let mut feed = self.feed(stream);
        feed.push(chunks)?;
        feed.finish().await
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

/// A feed being hashed: its stream, the run at hand and where its next unhashed
/// byte is.
struct Lane {
    feed: Arc<Feed>,
    stream: Md5Stream,
    run: Run,
    chunk: usize,
    offset: usize,
}

/// Why a feed leaves its lane.
enum Leave {
    /// All its runs are hashed.
    Idle,
    /// It has more, but other feeds wait: it goes back in the queue, behind them.
    Requeue,
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
    /// Takes a queued feed's stream and oldest run. `None` if it has no run (which
    /// only a closing pool leaves behind).
    fn open(feed: Arc<Feed>) -> Option<Self> {
        let (stream, run) = {
            let mut state = feed.lock();
            let run = state.runs.pop_front()?;
            (state.stream.take()?, run)
        };
        let mut lane = Self {
            feed,
            stream,
            run,
            chunk: 0,
            offset: 0,
        };
        lane.count_run();
        Some(lane)
    }

    fn count_run(&mut self) {
        self.stream.len += self.run.chunks.iter().map(|c| c.len() as u64).sum::<u64>();
    }

    /// The run at hand is hashed. Goes on with the feed's next run (`None`), unless
    /// other feeds wait for a lane: so that none waits long, a feed then leaves its
    /// lane after each run, as it does when it has no next run. Leaving, the lane
    /// gives the stream back to the feed. One lock decides, so a run pushed meanwhile
    /// is never left in an unscheduled feed.
    fn next_run(&mut self, others_waiting: bool) -> Option<Leave> {
        let mut state = self.feed.lock();
        if !others_waiting && let Some(run) = state.runs.pop_front() {
            drop(state);
            let hashed = std::mem::replace(&mut self.run, run);
            self.chunk = 0;
            self.offset = 0;
            self.count_run();
            // The uploader may have gone (request dropped): nothing to do.
            let _ = hashed.done.send(());
            return None;
        }
        state.stream = Some(std::mem::take(&mut self.stream));
        if state.runs.is_empty() {
            state.scheduled = false;
            Some(Leave::Idle)
        } else {
            Some(Leave::Requeue)
        }
    }

    /// Reports the last run done, once [`Lane::next_run`] gave the stream back.
    fn close(self) {
        let _ = self.run.done.send(());
    }

    /// Finds the next whole block, gathering it in the tail if it straddles chunks.
    /// `None` once the run's bytes are all hashed or in the tail.
    fn next_source(&mut self) -> Option<Source> {
        let s = &mut self.stream;
        loop {
            let rest = &self.run.chunks.get(self.chunk)?[self.offset..];
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

    /// The next source of the feed, going on to its next run when this one is done
    /// (see [`Lane::next_run`]).
    fn next_source_of_feed(&mut self, others_waiting: bool) -> Result<Source, Leave> {
        loop {
            if let Some(source) = self.next_source() {
                return Ok(source);
            }
            if let Some(leave) = self.next_run(others_waiting) {
                return Err(leave);
            }
        }
    }

    fn blocks(&self, source: Source, n: usize) -> &[u8] {
        match source {
            Source::Tail => &self.stream.tail,
            Source::Chunk { .. } => &self.run.chunks[self.chunk][self.offset..self.offset + n * 64],
        }
    }

    fn advance(&mut self, source: Source, n: usize) {
        match source {
            Source::Tail => self.stream.tail_len = 0,
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
        // Should this thread panic (a bug), close the pool: the queued feeds are
        // abandoned, so their uploads fail with an internal error instead of waiting
        // forever. (A feed in one of this thread's lanes fails at the run it was at: that
        // run's sender goes with the lane, and the upload waits for runs in order.)
        struct CloseOnPanic<'a>(&'a Shared);
        impl Drop for CloseOnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut queue = self.0.lock();
                    queue.closed = true;
                    for feed in queue.feeds.drain(..) {
                        feed.abandon();
                    }
                }
            }
        }
        let _close = CloseOnPanic(self);
        let mut lanes: [Option<Lane>; LANES] = Default::default();
        let mut sources: [Option<Source>; LANES] = [None; LANES];
        loop {
            let Some(others_waiting) = self.take_feeds(&mut lanes) else {
                return;
            };
            #[cfg(test)]
            if self.poison.load(Ordering::Relaxed) {
                panic!("poisoned by a test");
            }
            let mut busy = 0;
            let mut stretch = STRETCH;
            for (slot, source) in lanes.iter_mut().zip(sources.iter_mut()) {
                *source = None;
                let Some(lane) = slot else { continue };
                match lane.next_source_of_feed(others_waiting) {
                    Ok(s) => {
                        stretch = stretch.min(match s {
                            Source::Tail => 1,
                            Source::Chunk { blocks } => blocks,
                        });
                        *source = Some(s);
                        busy += 1;
                    }
                    Err(leave) => {
                        let lane = slot.take().expect("lane is busy");
                        if let Leave::Requeue = leave {
                            self.requeue(lane.feed.clone());
                        }
                        lane.close();
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
                    let mut state = lane.stream.state;
                    compress_scalar(&mut state, lane.blocks(source, n));
                    lane.stream.state = state;
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
                        states[i] = lane.stream.state;
                        lane.blocks(source, stretch)
                    }
                    _ => filler,
                });
                compress_lanes(self.kernel, &mut states, blocks, stretch);
            }
            self.lane_stretches.fetch_add(1, Ordering::Relaxed);
            for ((lane, source), state) in lanes.iter_mut().zip(sources).zip(states) {
                if let (Some(lane), Some(source)) = (lane, source) {
                    lane.stream.state = state;
                    lane.advance(source, stretch);
                }
            }
        }
    }

    /// Puts a feed that left its lane with runs to go back at the end of the queue.
    fn requeue(&self, feed: Arc<Feed>) {
        let mut queue = self.lock();
        if queue.closed {
            drop(queue);
            feed.abandon();
            return;
        }
        queue.feeds.push_back(feed);
        drop(queue);
        self.ready.notify_one();
    }

    /// Fills free lanes from the queue, waiting for work only when every lane is
    /// free. Says whether feeds are left waiting for a lane; `None` once the pool is
    /// closed and nothing is left to hash.
    fn take_feeds(&self, lanes: &mut [Option<Lane>; LANES]) -> Option<bool> {
        let idle = lanes.iter().all(Option::is_none);
        let mut queue = self.lock();
        if idle {
            while queue.feeds.is_empty() {
                if queue.closed {
                    return None;
                }
                queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
        }
        for slot in lanes.iter_mut().filter(|s| s.is_none()) {
            let Some(feed) = queue.feeds.pop_front() else { break };
            *slot = Lane::open(feed);
        }
        Some(!queue.feeds.is_empty())
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

    /// Many uploads at once, each in several runs of uneven chunks pushed up to
    /// `ahead` at a time, through every kernel this CPU has: every digest must equal
    /// the reference MD5.
    async fn check_pool(kernel: Kernel, threads: usize, ahead: usize) {
        let pool = Arc::new(Md5Pool::with_threads(kernel, threads).unwrap());
        let mut tasks = Vec::new();
        for upload in 0..20u64 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let len = (upload as usize * 37_123) % 300_000 + upload as usize;
                let data = body(len, upload);
                let mut feed = pool.feed(Md5Stream::new());
                let all = chunks(&data, upload);
                for run in all.chunks(7) {
                    if feed.pending() >= ahead {
                        feed.wait_oldest().await.unwrap();
                    }
                    feed.push(run.to_vec()).unwrap();
                }
                let stream = feed.finish().await.unwrap();
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
            // A run left unhashed would hang its upload: fail instead.
            tokio::time::timeout(std::time::Duration::from_secs(60), t)
                .await
                .expect("every upload finishes")
                .unwrap();
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
        check_pool(Kernel::detect(), 3, 1).await;
        for kernel in Kernel::available() {
            check_pool(kernel, 1, 1).await;
            check_pool(kernel, 1, 3).await;
            check_pool(kernel, 2, usize::MAX).await;
        }
        check_pool(Kernel::scalar(), 2, 2).await;
    }

    #[tokio::test]
    async fn a_panicking_thread_fails_uploads_instead_of_hanging_them() {
        let pool = Md5Pool::with_threads(Kernel::detect(), 1).unwrap();
        pool.shared.poison.store(true, Ordering::Relaxed);
        let job = pool.hash(Md5Stream::new(), vec![Bytes::from_static(b"abc")]);
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), job).await;
        assert!(
            matches!(outcome, Ok(Err(HashError::Internal(_)))),
            "the upload must fail, not hang"
        );
        let later = pool.hash(Md5Stream::new(), vec![Bytes::from_static(b"abc")]);
        let later = tokio::time::timeout(std::time::Duration::from_secs(10), later).await;
        assert!(
            matches!(later, Ok(Err(HashError::Internal(_)))),
            "a closed pool refuses new work"
        );
    }

    /// More uploads than lanes, each with all its runs pushed at once: a feed must
    /// leave its lane after each run while others wait, not keep it to its end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn feeds_take_turns_when_lanes_are_short() {
        const FEEDS: usize = 2 * LANES;
        const RUNS: usize = 8;
        let pool = Md5Pool::with_threads(Kernel::detect(), 1).unwrap();
        let data = body(64 << 10, 9);
        let mut feeds: Vec<Md5Feed> = (0..FEEDS).map(|_| pool.feed(Md5Stream::new())).collect();
        for _ in 0..RUNS {
            for feed in &mut feeds {
                feed.push(vec![Bytes::from(data.clone())]).unwrap();
            }
        }
        for feed in &mut feeds {
            feed.wait_oldest().await.unwrap();
        }
        // Every upload has had a turn; had the first ones kept their lanes, they would
        // all be done by now.
        let mut done = 0;
        for feed in &mut feeds {
            if feed.pushed.back_mut().expect("runs pushed").try_recv().is_ok() {
                done += 1;
            }
        }
        assert!(
            done < LANES,
            "{done} uploads were hashed to the end before all had a turn"
        );
        let want: [u8; 16] = Md5::digest(data.repeat(RUNS)).into();
        for feed in feeds {
            assert_eq!(feed.finish().await.unwrap().finalize(), want);
        }
    }

    /// Uploads with several runs queued when their thread dies must fail too, whether
    /// their feed was in a lane or still in the queue.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_thread_fails_uploads_with_runs_queued() {
        let pool = Md5Pool::with_threads(Kernel::detect(), 1).unwrap();
        pool.shared.poison.store(true, Ordering::Relaxed);
        let mut feeds: Vec<Md5Feed> = (0..20).map(|_| pool.feed(Md5Stream::new())).collect();
        for _ in 0..3 {
            for feed in &mut feeds {
                // Once the pool has closed, pushing fails right away: fine too.
                let _ = feed.push(vec![Bytes::from(vec![7u8; 4096])]);
            }
        }
        for feed in feeds {
            let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), feed.finish()).await;
            assert!(
                matches!(outcome, Ok(Err(HashError::Internal(_)))),
                "the upload must fail, not hang"
            );
        }
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

//! Group commit: one thread runs every metadata write, many to a transaction, and
//! makes them durable with one commit (one fsync).
//!
//! Writers hand in a job and wait for its typed reply. While a commit is being
//! fsynced, new jobs queue up; the next batch takes all of them. Each job is still
//! acknowledged only after the commit that contains it is durable, so the durability
//! promise is unchanged; what changes is that concurrent writers share the fsync
//! instead of queueing behind each other's.
//!
//! The contract of a job (every metadata write of the model is one):
//! - **Checks, then changes.** A job reads and checks everything it needs before its
//!   first change to the transaction. A job that fails with a domain error (a failed
//!   precondition, a missing key) has changed nothing, so the others in its batch
//!   commit as usual. A store failure (I/O, corruption) or a panicking job aborts the
//!   whole batch and every job in it fails.
//! - **Re-runnable.** A job is a `Fn`: when the store aborts the transaction with a
//!   retryable conflict ([`StoreError::Conflict`], from a networked transactional
//!   backend under contention), the committer runs the whole batch again in a new
//!   transaction, and each job decides afresh from what it reads. A job keeps no state
//!   between runs and has no effect outside the transaction, so a re-run duplicates
//!   nothing.
//! - **Garbage wakes the collector.** The committer watches the transaction for blobs
//!   queued as garbage and wakes the garbage collector after the commit that made them
//!   garbage; no job has to.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use ferrite_store::{MetaStore, ReadTxn, StoreError, StoreResult, Table, WriteTxn};
use tokio::sync::{Notify, oneshot};

use crate::{ModelError, ModelResult, tables};

/// Writes at most this many to one transaction.
const MAX_BATCH: usize = 512;
/// Runs of a batch that keep losing conflicts before its jobs fail.
const MAX_ATTEMPTS: u32 = 16;

/// One queued job, its reply type erased (no `Any`: each knows its own channel).
trait Pending: Send {
    /// Runs the job in `txn`, keeping its result. Returns the job's error when the
    /// batch cannot commit: a store failure (fatal) or a conflict (retry the batch).
    fn run(&mut self, txn: &mut dyn WriteTxn) -> Option<String>;
    /// Whether the kept result is a retryable conflict.
    fn conflicted(&self) -> bool;
    /// Sends the reply: the job's own result if its batch committed, else the failure.
    fn finish(self: Box<Self>, committed: Result<(), ModelError>);
}

struct Typed<R, F> {
    job: F,
    result: Option<ModelResult<R>>,
    reply: oneshot::Sender<ModelResult<R>>,
}

impl<R, F> Pending for Typed<R, F>
where
    R: Send + 'static,
    F: Fn(&mut dyn WriteTxn) -> ModelResult<R> + Send + 'static,
{
    fn run(&mut self, txn: &mut dyn WriteTxn) -> Option<String> {
        // A panicking job (a bug) must not take the commit thread down with it: it
        // fails its batch like a store error, and the thread goes on.
        let job = &self.job;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(txn)))
            .unwrap_or_else(|_| Err(ModelError::Internal("a write panicked".into())));
        let stop = match &result {
            Err(e) if is_fatal(e) => Some(e.to_string()),
            _ => None,
        };
        self.result = Some(result);
        stop
    }

    fn conflicted(&self) -> bool {
        matches!(&self.result, Some(Err(e)) if e.is_conflict())
    }

    fn finish(self: Box<Self>, committed: Result<(), ModelError>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(ModelError::Internal("a write was not run".into())),
            // Nothing of the batch is durable: every job fails, with its own error if
            // it had one, else with the batch's (a job not run: its transaction could
            // not begin).
            (Err(_), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(e),
        };
        let _ = self.reply.send(answer);
    }
}

pub(crate) struct Committer {
    queue: Option<mpsc::Sender<Box<dyn Pending>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Committer {
    /// Stops the thread and waits for it, so the store is closed when the engine is
    /// gone (a data dir can be reopened at once). When the last reference to the
    /// engine dies on the commit thread itself (inside a write), it is not joined.
    fn drop(&mut self) {
        self.queue.take();
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

/// Whether a write's error may have come after its transaction became durable (a
/// store failure, a commit that reported an error): such a write may have happened,
/// so nothing it wrote may be undone. A domain error (a refused check) means it
/// changed nothing.
pub(crate) fn is_fatal(e: &ModelError) -> bool {
    matches!(
        e,
        ModelError::Store(_) | ModelError::Corrupt(_) | ModelError::Internal(_)
    )
}

impl Committer {
    /// Starts the commit thread. It ends when the committer is dropped. `gc_wake` is
    /// notified after every commit that queued garbage.
    #[cfg(test)]
    pub fn start(meta: Arc<dyn MetaStore>, gc_wake: Arc<Notify>) -> Self {
        Self::start_with(meta, gc_wake, None)
    }

    /// [`Committer::start`]; with `stats_shard`, the usage counters this committer's
    /// jobs change go to that shard of each bucket's counters (`stats.rs`), so that
    /// gateways sharing a store do not all write one row per bucket.
    pub fn start_with(meta: Arc<dyn MetaStore>, gc_wake: Arc<Notify>, stats_shard: Option<u16>) -> Self {
        let (queue, jobs) = mpsc::channel::<Box<dyn Pending>>();
        let thread = std::thread::Builder::new()
            .name("ferrite-commit".into())
            .spawn(move || {
                crate::stats::set_shard(stats_shard);
                while let Ok(first) = jobs.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    run_batch(&*meta, &gc_wake, batch);
                }
            })
            .expect("the commit thread starts");
        Self {
            queue: Some(queue),
            thread: Some(thread),
        }
    }

    /// Runs `job` in a shared write transaction and returns its reply once the
    /// transaction is durably committed. See the module docs for what a job must obey.
    pub async fn write<R, F>(&self, job: F) -> ModelResult<R>
    where
        R: Send + 'static,
        F: Fn(&mut dyn WriteTxn) -> ModelResult<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending: Box<dyn Pending> = Box::new(Typed {
            job,
            result: None,
            reply,
        });
        self.queue
            .as_ref()
            .ok_or_else(|| ModelError::Internal("the commit thread has stopped".into()))?
            .send(pending)
            .map_err(|_| ModelError::Internal("the commit thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| ModelError::Internal("the commit thread dropped a write".into()))?
    }
}

/// How one run of a batch ended.
enum Run {
    Committed { garbage: bool },
    Conflict,
    Failed(ModelError),
}

fn run_batch(meta: &dyn MetaStore, gc_wake: &Notify, mut batch: Vec<Box<dyn Pending>>) {
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        match run_once(meta, &mut batch) {
            // Jobs are independent: a batch of several that lost a conflict runs again
            // as two halves, in order, each with its own retries. A smaller
            // transaction is less likely to meet a concurrent one again (another
            // gateway writing the same keys), and one job's conflict no longer fails
            // the others.
            Run::Conflict if batch.len() > 1 => {
                let second = batch.split_off(batch.len() / 2);
                run_batch(meta, gc_wake, batch);
                run_batch(meta, gc_wake, second);
                return;
            }
            Run::Conflict if attempt < MAX_ATTEMPTS => {
                // Let the transaction that won go first; the jitter keeps two
                // gateways from retrying in step.
                let base = u64::from(attempt.min(8));
                std::thread::sleep(Duration::from_millis(base + rand::random::<u64>() % (base + 1)));
            }
            Run::Conflict => break Err(ModelError::Store(StoreError::Conflict)),
            Run::Failed(e) => break Err(e),
            Run::Committed { garbage } => {
                if garbage {
                    gc_wake.notify_one();
                }
                break Ok(());
            }
        }
    };
    for job in batch {
        let committed = match &outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(clone_failure(e)),
        };
        job.finish(committed);
    }
}

/// The error each job of a failed batch answers (`ModelError` is not `Clone`).
fn clone_failure(e: &ModelError) -> ModelError {
    match e {
        ModelError::Store(StoreError::Conflict) => ModelError::Store(StoreError::Conflict),
        other => ModelError::Internal(format!("write batch failed: {other}")),
    }
}

fn run_once(meta: &dyn MetaStore, batch: &mut [Box<dyn Pending>]) -> Run {
    let txn = match meta.begin_write() {
        Ok(t) => t,
        Err(e) if e.is_retryable() => return Run::Conflict,
        Err(e) => return Run::Failed(ModelError::Internal(format!("begin write: {e}"))),
    };
    let mut txn = Watched {
        inner: txn,
        garbage: false,
    };
    for job in batch.iter_mut() {
        if let Some(msg) = job.run(&mut txn) {
            // Dropping the transaction aborts it.
            return if job.conflicted() {
                Run::Conflict
            } else {
                Run::Failed(ModelError::Internal(format!("write batch aborted: {msg}")))
            };
        }
    }
    let garbage = txn.garbage;
    match txn.inner.commit() {
        Ok(()) => Run::Committed { garbage },
        Err(e) if e.is_retryable() => Run::Conflict,
        Err(e) => Run::Failed(ModelError::Internal(format!("commit failed: {e}"))),
    }
}

/// The batch's transaction, noting whether a job queued garbage.
struct Watched<'a> {
    inner: Box<dyn WriteTxn + 'a>,
    garbage: bool,
}

impl ReadTxn for Watched<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        self.inner.scan(table, start, end, visit)
    }
}

impl WriteTxn for Watched<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.inner.put(table, key, value)?;
        self.garbage |= table == tables::GARBAGE;
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool> {
        self.inner.delete(table, key)
    }

    fn commit(self: Box<Self>) -> StoreResult<()> {
        // Jobs never commit; the committer does, through `inner`.
        Err(StoreError::Engine(
            "a job tried to commit the shared transaction".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_store::RedbMetaStore;
    use ferrite_store::faults::{Faults, FaultyMeta};

    fn store() -> (tempfile::TempDir, Arc<dyn MetaStore>) {
        let dir = tempfile::tempdir().unwrap();
        let meta: Arc<dyn MetaStore> = Arc::new(RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap());
        (dir, meta)
    }

    fn read(meta: &dyn MetaStore, key: &[u8]) -> Option<Vec<u8>> {
        meta.begin_read().unwrap().get(tables::SYSTEM, key).unwrap()
    }

    #[tokio::test]
    async fn a_panicking_write_fails_its_batch_and_the_thread_goes_on() {
        let (_dir, meta) = store();
        let c = Committer::start(meta.clone(), Arc::new(Notify::new()));
        let err = c
            .write(|txn| -> ModelResult<()> {
                txn.put(tables::SYSTEM, b"half", b"written")?;
                panic!("a bug in a write");
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ModelError::Internal(_)));
        assert_eq!(read(&*meta, b"half"), None);
        c.write(|txn| Ok(txn.put(tables::SYSTEM, b"after", b"ok")?))
            .await
            .unwrap();
        assert_eq!(read(&*meta, b"after").as_deref(), Some(&b"ok"[..]));
    }

    /// Adds one to a counter: a read-modify-write job.
    fn increment(txn: &mut dyn WriteTxn) -> ModelResult<u64> {
        let n = match txn.get(tables::SYSTEM, b"n")? {
            Some(v) => u64::from_be_bytes(v.try_into().unwrap()),
            None => 0,
        };
        txn.put(tables::SYSTEM, b"n", &(n + 1).to_be_bytes())?;
        Ok(n + 1)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn batches_that_lose_a_conflict_are_re_run_without_duplicating_effects() {
        let (_dir, inner) = store();
        let faults = Faults::new();
        faults.conflict_every(2);
        let meta: Arc<dyn MetaStore> = Arc::new(FaultyMeta::new(inner.clone(), faults.clone()));
        let c = Arc::new(Committer::start(meta, Arc::new(Notify::new())));
        // One commit first: the next one (the first batch's first run) conflicts.
        c.write(|txn| Ok(txn.put(tables::SYSTEM, b"primed", b"1")?))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move { c.write(increment).await }));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap().unwrap());
        }
        replies.sort();
        // Each job's typed reply is what it saw in the run that committed: 1..=200,
        // each once.
        assert_eq!(replies, (1..=200).collect::<Vec<u64>>());
        assert_eq!(read(&*inner, b"n"), Some(200u64.to_be_bytes().to_vec()));
        assert!(faults.injected() > 0, "conflicts were injected");
    }

    #[tokio::test]
    async fn a_batch_that_always_conflicts_fails_with_a_conflict_and_writes_nothing() {
        let (_dir, inner) = store();
        let faults = Faults::new();
        faults.conflict_every(1);
        let meta: Arc<dyn MetaStore> = Arc::new(FaultyMeta::new(inner.clone(), faults.clone()));
        let c = Committer::start(meta, Arc::new(Notify::new()));
        let err = c.write(increment).await.unwrap_err();
        assert!(matches!(err, ModelError::Store(StoreError::Conflict)), "{err:?}");
        assert_eq!(faults.injected(), u64::from(MAX_ATTEMPTS));
        assert_eq!(read(&*inner, b"n"), None);
    }

    #[tokio::test]
    async fn a_commit_that_queues_garbage_wakes_the_collector() {
        let (_dir, meta) = store();
        let wake = Arc::new(Notify::new());
        let c = Committer::start(meta, wake.clone());
        c.write(|txn| Ok(txn.put(tables::SYSTEM, b"x", b"1")?)).await.unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(50), wake.notified()).await;
        assert!(quiet.is_err(), "a write that queued no garbage does not wake it");
        c.write(|txn| Ok(txn.put(tables::GARBAGE, &[7; 16], &[])?))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .expect("the collector was woken");
    }
}

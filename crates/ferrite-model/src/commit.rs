//! Group commit: one thread runs metadata writes, many to a transaction, and makes
//! them durable with one commit (one fsync).
//!
//! Writers hand in a closure and wait for the answer. While a commit is being
//! fsynced, new writes queue up; the next batch takes all of them. Each write is
//! still acknowledged only after the commit that contains it is durable, so the
//! durability promise is unchanged; what changes is that concurrent writers share the
//! fsync instead of queueing behind each other's.
//!
//! A write's checks must come before its first change to the transaction (every write
//! in the model is written that way): a write that fails with a domain error (a failed
//! precondition, a missing key) has changed nothing, so the others in its batch commit
//! as usual. A store failure (I/O, corruption) or a panicking write aborts the whole
//! batch and every write in it fails.

use std::any::Any;
use std::sync::Arc;
use std::sync::mpsc;

use ferrite_store::{MetaStore, WriteTxn};
use tokio::sync::oneshot;

use crate::{ModelError, ModelResult};

type Value = Box<dyn Any + Send>;
type Run = Box<dyn FnOnce(&mut dyn WriteTxn) -> ModelResult<Value> + Send>;

struct Job {
    run: Run,
    reply: oneshot::Sender<ModelResult<Value>>,
}

/// Writes at most this many to one transaction.
const MAX_BATCH: usize = 512;

pub(crate) struct Committer {
    queue: Option<mpsc::Sender<Job>>,
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
    /// Starts the commit thread. It ends when the committer is dropped.
    pub fn start(meta: Arc<dyn MetaStore>) -> Self {
        let (queue, jobs) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("ferrite-commit".into())
            .spawn(move || {
                while let Ok(first) = jobs.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    run_batch(&*meta, batch);
                }
            })
            .expect("the commit thread starts");
        Self {
            queue: Some(queue),
            thread: Some(thread),
        }
    }

    /// Runs `f` in a shared write transaction and returns its result once the
    /// transaction is durably committed.
    pub async fn write<R, F>(&self, f: F) -> ModelResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn WriteTxn) -> ModelResult<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let run: Run = Box::new(move |txn| f(txn).map(|r| Box::new(r) as Value));
        self.queue
            .as_ref()
            .ok_or_else(|| ModelError::Internal("the commit thread has stopped".into()))?
            .send(Job { run, reply })
            .map_err(|_| ModelError::Internal("the commit thread has stopped".into()))?;
        let value = answer
            .await
            .map_err(|_| ModelError::Internal("the commit thread dropped a write".into()))??;
        value
            .downcast::<R>()
            .map(|b| *b)
            .map_err(|_| ModelError::Internal("a write answered with the wrong type".into()))
    }
}

fn run_batch(meta: &dyn MetaStore, batch: Vec<Job>) {
    let mut txn = match meta.begin_write() {
        Ok(t) => t,
        Err(e) => {
            let msg = e.to_string();
            for job in batch {
                let _ = job.reply.send(Err(ModelError::Internal(format!("begin write: {msg}"))));
            }
            return;
        }
    };
    let mut done: Vec<(oneshot::Sender<ModelResult<Value>>, ModelResult<Value>)> = Vec::with_capacity(batch.len());
    let mut fatal: Option<String> = None;
    for job in batch {
        if let Some(msg) = &fatal {
            let _ = job
                .reply
                .send(Err(ModelError::Internal(format!("write batch aborted: {msg}"))));
            continue;
        }
        // A panicking write (a bug) must not take the commit thread down with it: it
        // fails its batch like a store error, and the thread goes on.
        let run = job.run;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut *txn)))
            .unwrap_or_else(|_| Err(ModelError::Internal("a write panicked".into())));
        if let Err(e) = &result
            && is_fatal(e)
        {
            fatal = Some(e.to_string());
        }
        done.push((job.reply, result));
    }
    let committed = match &fatal {
        Some(msg) => {
            drop(txn);
            Err(msg.clone())
        }
        None => txn.commit().map_err(|e| e.to_string()),
    };
    for (reply, result) in done {
        let answer = match (&committed, result) {
            (Ok(()), r) => r,
            // Nothing of the batch is durable: every write fails, with its own error
            // if it had one.
            (Err(_), Err(e)) => Err(e),
            (Err(msg), Ok(_)) => Err(ModelError::Internal(format!("commit failed: {msg}"))),
        };
        let _ = reply.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables;
    use ferrite_store::RedbMetaStore;

    #[tokio::test]
    async fn a_panicking_write_fails_its_batch_and_the_thread_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let meta: Arc<dyn MetaStore> = Arc::new(RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap());
        let c = Committer::start(meta.clone());
        let err = c
            .write(|txn| -> ModelResult<()> {
                txn.put(tables::SYSTEM, b"half", b"written")?;
                panic!("a bug in a write");
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ModelError::Internal(_)));
        assert_eq!(meta.begin_read().unwrap().get(tables::SYSTEM, b"half").unwrap(), None);
        c.write(|txn| Ok(txn.put(tables::SYSTEM, b"after", b"ok")?))
            .await
            .unwrap();
        assert_eq!(
            meta.begin_read()
                .unwrap()
                .get(tables::SYSTEM, b"after")
                .unwrap()
                .as_deref(),
            Some(&b"ok"[..])
        );
    }
}

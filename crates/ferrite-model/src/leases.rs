//! Read leases: a reader that has started receives the whole version it started with.
//!
//! A multipart object's segments are separate blobs. A GET opens the first one inside
//! its read transaction and the rest as the stream reaches them; meanwhile an
//! overwrite or delete may commit and queue those blobs as garbage. Without a lease
//! the collector would unlink them and the reader would stop half-way (a torn read).
//!
//! The rule: the collector never deletes a blob that a reader holds a lease on, and a
//! reader only relies on its lease if it could not have missed a deletion:
//! - a reader takes its lease while its read transaction is open, after reading the
//!   record (so it names exactly the blobs it will read);
//! - the collector, per blob, under the same lock: skips it if leased (it stays
//!   queued, and the lease's release wakes the collector), else marks it doomed;
//!   deletes it; then unmarks it and bumps the deletion epoch;
//! - a lease on a doomed blob is refused (the reader reads the record again), and a
//!   reader whose transaction began before a deletion finished (the epoch moved
//!   between the start of its transaction and its lease) checks that its blobs still
//!   exist before streaming.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

type Id = [u8; 16];

#[derive(Default)]
struct State {
    held: HashMap<Id, usize>,
    doomed: HashSet<Id>,
    epoch: u64,
    /// The collector skipped a leased blob; wake it when a lease ends.
    deferred: bool,
}

pub(crate) struct ReadLeases {
    state: Mutex<State>,
    gc_wake: Arc<Notify>,
}

/// What a taken lease needs from its reader.
pub(crate) enum LeaseCheck {
    /// No deletion can have touched the blobs: stream them.
    Ready,
    /// A deletion finished while the read was starting: check the blobs exist.
    VerifyExistence,
}

impl ReadLeases {
    pub fn new(gc_wake: Arc<Notify>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            gc_wake,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain counters behind: go on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The deletion epoch; read before a reader begins its transaction.
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Leases `ids` for a reader whose transaction began at `epoch`. `None`: one of
    /// them is being deleted (read the record again).
    pub fn take(self: &Arc<Self>, ids: Vec<Id>, epoch: u64) -> Option<(Lease, LeaseCheck)> {
        let mut s = self.lock();
        if ids.iter().any(|id| s.doomed.contains(id)) {
            return None;
        }
        for id in &ids {
            *s.held.entry(*id).or_insert(0) += 1;
        }
        let check = if s.epoch == epoch {
            LeaseCheck::Ready
        } else {
            LeaseCheck::VerifyExistence
        };
        drop(s);
        Some((
            Lease {
                leases: self.clone(),
                ids,
            },
            check,
        ))
    }

    /// For the collector: whether `id` may be deleted now. If so it is doomed until
    /// [`ReadLeases::deleted`] is called.
    pub fn doom(&self, id: &Id) -> bool {
        let mut s = self.lock();
        if s.held.contains_key(id) {
            s.deferred = true;
            return false;
        }
        s.doomed.insert(*id);
        true
    }

    /// For the collector: `id` is gone (or its deletion failed).
    pub fn deleted(&self, id: &Id) {
        let mut s = self.lock();
        s.doomed.remove(id);
        s.epoch += 1;
    }

    fn release(&self, ids: &[Id]) {
        let mut s = self.lock();
        for id in ids {
            if let Some(n) = s.held.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    s.held.remove(id);
                }
            }
        }
        let wake = s.deferred && s.held.is_empty();
        if wake {
            s.deferred = false;
        }
        drop(s);
        if wake {
            self.gc_wake.notify_one();
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.lock().held.len()
    }
}

/// Keeps a reader's blobs from being collected until dropped.
pub(crate) struct Lease {
    leases: Arc<ReadLeases>,
    ids: Vec<Id>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.leases.release(&self.ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leased_blobs_are_not_doomed_and_doomed_blobs_are_not_leased() {
        let l = ReadLeases::new(Arc::new(Notify::new()));
        let (a, b) = ([1u8; 16], [2u8; 16]);
        let e = l.epoch();
        let (lease, check) = l.take(vec![a], e).unwrap();
        assert!(matches!(check, LeaseCheck::Ready));
        assert!(!l.doom(&a), "a leased blob must not be deleted");
        assert!(l.doom(&b));
        assert!(l.take(vec![b], l.epoch()).is_none(), "a doomed blob cannot be leased");
        l.deleted(&b);
        // A reader that started before that deletion finished must check existence.
        let (_l2, check) = l.take(vec![b], e).unwrap();
        assert!(matches!(check, LeaseCheck::VerifyExistence));
        drop(lease);
        assert!(l.doom(&a));
        l.deleted(&a);
        drop(_l2);
        assert_eq!(l.held(), 0);
    }
}

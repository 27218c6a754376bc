//! Claims: which gateway runs a background pass when several share the stores.
//!
//! Garbage collection, the lifecycle worker and the collection of expired restored
//! copies are jobs that any gateway can run, and each of their steps is a
//! re-runnable, serializable job, so two gateways running the same pass at once
//! would not corrupt anything; but they would do every step twice and race each
//! other's deletions. So on shared stores a pass runs only on the gateway that holds
//! its claim: a row `claim/<pass>` in the system table naming a gateway (a random id
//! per process) and when the claim lapses. A gateway takes a claim that is free,
//! lapsed or its own, in one serializable transaction (so two gateways cannot both
//! take it), and renews it at every pass; a gateway that dies lets its claims lapse
//! after [`CLAIM_TTL`], and another takes over. On a store of its own, a gateway
//! holds every claim without asking.

use std::time::Duration;

use ferrite_store::WriteTxn;

use crate::{ModelError, ModelResult, tables};

/// How long a claim lasts without renewal.
pub(crate) const CLAIM_TTL: Duration = Duration::from_secs(90);

/// The background passes that are claimed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pass {
    Collect,
    Lifecycle,
}

impl Pass {
    fn key(self) -> &'static [u8] {
        match self {
            Pass::Collect => b"claim/collect",
            Pass::Lifecycle => b"claim/lifecycle",
        }
    }
}

/// Takes or renews `pass`'s claim for gateway `me` at `now_ms`; whether it is ours.
pub(crate) fn take(txn: &mut dyn WriteTxn, pass: Pass, me: &[u8; 16], now_ms: i64) -> ModelResult<bool> {
    if let Some(v) = txn.get(tables::SYSTEM, pass.key())? {
        if v.len() != 24 {
            return Err(ModelError::Corrupt("a background claim is not 24 bytes".into()));
        }
        let holder = &v[..16];
        let until = i64::from_be_bytes(v[16..24].try_into().expect("8 bytes"));
        if holder != me && until > now_ms {
            return Ok(false);
        }
    }
    let mut v = Vec::with_capacity(24);
    v.extend_from_slice(me);
    v.extend_from_slice(&(now_ms + CLAIM_TTL.as_millis() as i64).to_be_bytes());
    txn.put(tables::SYSTEM, pass.key(), &v)?;
    Ok(true)
}

impl crate::Ferrite {
    /// Whether this gateway runs `pass` now (always, on stores of its own).
    pub(crate) async fn claim(&self, pass: Pass) -> ModelResult<bool> {
        if !self.inner.shared {
            return Ok(true);
        }
        let me = self.inner.gateway_id;
        self.inner
            .committer
            .write(move |txn| take(txn, pass, &me, crate::clock::now_ms()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_store::{MetaStore, RedbMetaStore};

    #[test]
    fn one_gateway_holds_a_claim_until_it_lapses() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap();
        let (a, b) = ([1u8; 16], [2u8; 16]);
        let run = |who: &[u8; 16], at: i64| {
            let mut txn = store.begin_write().unwrap();
            let got = take(&mut *txn, Pass::Collect, who, at).unwrap();
            txn.commit().unwrap();
            got
        };
        assert!(run(&a, 1_000));
        assert!(!run(&b, 2_000), "held by a");
        assert!(run(&a, 50_000), "a renews");
        let lapse = 50_000 + CLAIM_TTL.as_millis() as i64;
        assert!(!run(&b, lapse - 1));
        assert!(run(&b, lapse), "lapsed: b takes over");
        assert!(!run(&a, lapse + 1));
        // Passes are claimed apart.
        let mut txn = store.begin_write().unwrap();
        assert!(take(&mut *txn, Pass::Lifecycle, &a, lapse + 1).unwrap());
    }
}

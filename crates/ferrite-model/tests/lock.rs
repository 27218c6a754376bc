//! Object Lock as a property: random sequences of puts (with and without retention
//! and legal hold), deletes of versions (with and without the governance bypass),
//! delete markers, retention changes and legal-hold changes, run against the model
//! and against a small in-memory model of AWS's rules. Every answer (allowed or
//! AccessDenied) must be the in-memory model's, and after every step the bucket's
//! versions are exactly the in-memory model's: no locked version ever disappears.
//! `PROPTEST_CASES` sets the number of sequences (24 by default).

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::{options, root};
use ferrite_model::{
    DeleteRequest, Ferrite, LockMode, LockRequest, ModelError, NewBucket, PutAttrs, Retention, VersionQuery,
};
use proptest::prelude::*;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: u8,
        retention: Option<(bool, i64)>,
        hold: bool,
    },
    DeleteVersion {
        key: u8,
        pick: usize,
        bypass: bool,
    },
    DeleteCurrent {
        key: u8,
    },
    Retain {
        key: u8,
        pick: usize,
        compliance: bool,
        days: i64,
        bypass: bool,
    },
    Unretain {
        key: u8,
        pick: usize,
        bypass: bool,
    },
    Hold {
        key: u8,
        pick: usize,
        on: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..3;
    prop_oneof![
        (
            key.clone(),
            proptest::option::of((any::<bool>(), 1i64..30)),
            any::<bool>()
        )
            .prop_map(|(key, retention, hold)| Op::Put { key, retention, hold }),
        (key.clone(), any::<usize>(), any::<bool>()).prop_map(|(key, pick, bypass)| Op::DeleteVersion {
            key,
            pick,
            bypass
        }),
        key.clone().prop_map(|key| Op::DeleteCurrent { key }),
        (key.clone(), any::<usize>(), any::<bool>(), 1i64..30, any::<bool>()).prop_map(
            |(key, pick, compliance, days, bypass)| Op::Retain {
                key,
                pick,
                compliance,
                days,
                bypass
            }
        ),
        (key.clone(), any::<usize>(), any::<bool>()).prop_map(|(key, pick, bypass)| Op::Unretain { key, pick, bypass }),
        (key, any::<usize>(), any::<bool>()).prop_map(|(key, pick, on)| Op::Hold { key, pick, on }),
    ]
}

/// One version as the in-memory model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    id: String,
    retention: Option<(LockMode, i64)>,
    hold: bool,
}

impl Version {
    /// The retention in effect (retain-until days ahead, so none expires in a run).
    fn active(&self) -> Option<(LockMode, i64)> {
        self.retention
    }

    fn deletable(&self, bypass: bool) -> bool {
        !self.hold
            && match self.active() {
                None => true,
                Some((LockMode::Governance, _)) => bypass,
                Some((LockMode::Compliance, _)) => false,
            }
    }
}

fn allowed<T>(r: &Result<T, ModelError>) -> Result<bool, String> {
    match r {
        Ok(_) => Ok(true),
        Err(ModelError::AccessDenied) => Ok(false),
        Err(e) => Err(format!("unexpected error: {e}")),
    }
}

async fn run(ops: Vec<Op>) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let m = Ferrite::open_local(dir.path(), options()).await.unwrap();
    let new = NewBucket {
        object_lock: true,
        ..Default::default()
    };
    m.create_bucket(&root(), "wor", new).await.unwrap();
    let now = ferrite_model_now();
    // key -> versions, oldest first.
    let mut oracle: BTreeMap<String, Vec<Version>> = BTreeMap::new();
    for (step, op) in ops.into_iter().enumerate() {
        let k = |key: u8| format!("k{key}");
        let pick = |oracle: &BTreeMap<String, Vec<Version>>, key: &str, pick: usize| {
            oracle
                .get(key)
                .filter(|v| !v.is_empty())
                .map(|v| (pick % v.len(), v[pick % v.len()].clone()))
        };
        match op {
            Op::Put { key, retention, hold } => {
                let retention = retention.map(|(c, days)| {
                    let mode = if c { LockMode::Compliance } else { LockMode::Governance };
                    (mode, now + days * DAY_MS)
                });
                let put = PutAttrs {
                    lock: LockRequest {
                        retention,
                        legal_hold: Some(hold),
                    },
                    ..Default::default()
                };
                let staged = m
                    .stage(futures::stream::iter([Ok(Bytes::from_static(b"v"))]), None, u64::MAX)
                    .await
                    .unwrap();
                let info = m.put_staged(&root(), "wor", &k(key), staged, put).await.unwrap();
                oracle.entry(k(key)).or_default().push(Version {
                    id: info.version_id.unwrap(),
                    retention,
                    hold,
                });
            }
            Op::DeleteCurrent { key } => {
                let out = m
                    .delete_object(
                        &root(),
                        "wor",
                        DeleteRequest {
                            key: k(key),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                oracle.entry(k(key)).or_default().push(Version {
                    id: out.version_id.unwrap(),
                    retention: None,
                    hold: false,
                });
            }
            Op::DeleteVersion { key, pick: p, bypass } => {
                let Some((i, v)) = pick(&oracle, &k(key), p) else {
                    continue;
                };
                let r = m
                    .delete_object(
                        &root(),
                        "wor",
                        DeleteRequest {
                            key: k(key),
                            version_id: Some(v.id.clone()),
                            bypass_governance: bypass,
                            ..Default::default()
                        },
                    )
                    .await;
                let want = v.deletable(bypass);
                if allowed(&r)? != want {
                    return Err(format!(
                        "step {step}: delete {v:?} bypass={bypass}: got {r:?}, want allowed={want}"
                    ));
                }
                if want {
                    oracle.get_mut(&k(key)).unwrap().remove(i);
                }
            }
            Op::Retain {
                key,
                pick: p,
                compliance,
                days,
                bypass,
            } => {
                let Some((i, v)) = pick(&oracle, &k(key), p) else {
                    continue;
                };
                let mode = if compliance {
                    LockMode::Compliance
                } else {
                    LockMode::Governance
                };
                let new = Retention {
                    mode,
                    retain_until_ms: now + days * DAY_MS,
                };
                let r = m
                    .put_object_retention(&root(), "wor", &k(key), Some(&v.id), Some(new), bypass)
                    .await;
                let weakens = v
                    .active()
                    .is_some_and(|(old_mode, old_until)| old_mode != mode || new.retain_until_ms < old_until);
                let want = !weakens || (bypass && matches!(v.active(), Some((LockMode::Governance, _))));
                // A delete marker has no retention to set (MethodNotAllowed).
                if matches!(r, Err(ModelError::DeleteMarkerVersion { .. })) {
                    continue;
                }
                if allowed(&r)? != want {
                    return Err(format!(
                        "step {step}: retain {v:?} as {new:?} bypass={bypass}: got {r:?}"
                    ));
                }
                if want {
                    oracle.get_mut(&k(key)).unwrap()[i].retention = Some((mode, new.retain_until_ms));
                }
            }
            Op::Unretain { key, pick: p, bypass } => {
                let Some((i, v)) = pick(&oracle, &k(key), p) else {
                    continue;
                };
                let r = m
                    .put_object_retention(&root(), "wor", &k(key), Some(&v.id), None, bypass)
                    .await;
                if matches!(r, Err(ModelError::DeleteMarkerVersion { .. })) {
                    continue;
                }
                let want = match v.active() {
                    None => true,
                    Some((LockMode::Governance, _)) => bypass,
                    Some((LockMode::Compliance, _)) => false,
                };
                if allowed(&r)? != want {
                    return Err(format!("step {step}: unretain {v:?} bypass={bypass}: got {r:?}"));
                }
                if want {
                    oracle.get_mut(&k(key)).unwrap()[i].retention = None;
                }
            }
            Op::Hold { key, pick: p, on } => {
                let Some((i, v)) = pick(&oracle, &k(key), p) else {
                    continue;
                };
                let r = m.put_object_legal_hold(&root(), "wor", &k(key), Some(&v.id), on).await;
                if matches!(r, Err(ModelError::DeleteMarkerVersion { .. })) {
                    continue;
                }
                r.map_err(|e| format!("step {step}: hold: {e}"))?;
                oracle.get_mut(&k(key)).unwrap()[i].hold = on;
            }
        }
        // The bucket holds exactly the oracle's versions: none disappeared.
        let page = m
            .list_object_versions(
                &root(),
                "wor",
                VersionQuery {
                    max_keys: 1000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut stored: Vec<(String, String)> = page
            .versions
            .iter()
            .map(|v| (v.key.clone(), v.version_id.clone()))
            .collect();
        stored.sort();
        let mut want: Vec<(String, String)> = oracle
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.id.clone())))
            .collect();
        want.sort();
        if stored != want {
            return Err(format!("step {step}: stored {stored:?}, want {want:?}"));
        }
    }
    Ok(())
}

fn ferrite_model_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24), ..ProptestConfig::default() })]

    #[test]
    fn no_locked_version_ever_disappears(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let result = rt.block_on(run(ops));
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

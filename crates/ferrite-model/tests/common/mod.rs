//! Shared by the model's integration tests.

#![allow(dead_code)]

use ferrite_model::{Caller, Options};
use ferrite_store::RedbMetaStore;

/// Test options: no fsync (the tests are about rules, not durability), default caches.
pub fn options() -> Options {
    Options {
        region: "us-east-1".into(),
        durable: false,
        body_idle_timeout: Options::DEFAULT_BODY_IDLE_TIMEOUT,
        meta_cache_bytes: Options::DEFAULT_META_CACHE,
        root_canonical_id: "0".repeat(64),
        lifecycle_day: ferrite_model::DAY,
        restore_delay: std::time::Duration::ZERO,
        tiering: Default::default(),
        console_session_ttl: ferrite_model::Options::DEFAULT_CONSOLE_SESSION_TTL,
        keys: Some(std::sync::Arc::new(ferrite_model::BuiltinKeys::new(
            ferrite_model::Key::from_slice(&[7; 32]).unwrap(),
        ))),
    }
}

/// The administrator, as the adapter builds it for root-signed requests.
pub fn root() -> Caller {
    Caller::root("0".repeat(64), "root")
}

/// Opens the engine on a data directory with `opts`. A dropped engine closes its store
/// when its last reference goes, and a background pass (the orphan sweep, garbage
/// collection) may hold one for a moment after the test dropped its own: this
/// retries for up to 5 s while the store is still open.
pub async fn open_engine(dir: &std::path::Path, opts: Options) -> ferrite_model::Ferrite {
    let mut last = None;
    for _ in 0..500 {
        match ferrite_model::Ferrite::open_local(dir, opts.clone()).await {
            Ok(f) => return f,
            Err(e) if e.to_string().contains("already open") => last = Some(e),
            Err(e) => panic!("opening {}: {e}", dir.display()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the data directory never reopened: {last:?}");
}

/// Opens a data directory's metadata store directly. A dropped engine may hold the
/// store for a moment (its background sweep), so this retries for up to 5 s.
pub async fn open_store(dir: &std::path::Path) -> RedbMetaStore {
    for _ in 0..500 {
        if let Ok(m) = RedbMetaStore::open(&dir.join("meta.redb"), false) {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the store reopens once the engine is gone");
}

/// The caller a user's access key signs as, as the adapter builds it.
pub fn as_user(f: &ferrite_model::Ferrite, key: &str) -> Caller {
    let owner = f.principal_for_key(key).unwrap().expect("key resolves");
    let mut caller = Caller::new(owner.principal);
    caller.policies = owner.policies;
    caller
}

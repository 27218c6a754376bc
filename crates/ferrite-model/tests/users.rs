//! Users and access keys in the model: only root manages them; names follow IAM's
//! rules and are unique case-insensitively; two keys at most; a user with keys or
//! buckets cannot be deleted; a disabled or deleted key stops resolving at once;
//! listing pages; every write is a re-runnable job (re-run under injected conflicts).

mod common;

use std::sync::Arc;

use common::{as_user, options, root};
use ferrite_model::*;
use ferrite_store::faults::{Faults, FaultyMeta};
use ferrite_store::{BlobStore, FsBlobStore, MetaStore, RedbMetaStore};

async fn open(dir: &std::path::Path) -> Ferrite {
    common::open_engine(dir, options()).await
}

#[tokio::test]
async fn users_and_keys_round_trip_and_resolve_to_principals() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    let alice = f.create_user(&root(), "alice").await.unwrap();
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.canonical_id.len(), 64);
    assert!(
        alice
            .canonical_id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(
        alice.user_id.starts_with("AIDA") && alice.user_id.len() == 21,
        "{}",
        alice.user_id
    );
    assert_eq!(
        f.get_user(&root(), "ALICE").await.unwrap(),
        alice,
        "names are case-insensitive"
    );

    let key = f.create_access_key(&root(), "alice").await.unwrap();
    assert_eq!(key.info.access_key_id.len(), 20);
    assert!(key.info.access_key_id.starts_with("AKIA"));
    assert!(
        key.info
            .access_key_id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    assert_eq!(key.secret.expose().len(), 40);
    assert_eq!(key.info.status, KeyStatus::Active);

    let owner = f.principal_for_key(&key.info.access_key_id).unwrap().unwrap();
    assert_eq!(owner.secret, key.secret);
    assert_eq!(
        owner.principal,
        Principal::User {
            canonical_id: alice.canonical_id.clone(),
            display_name: "alice".into(),
            access_key_id: key.info.access_key_id.clone(),
            user_id: alice.user_id.clone(),
        }
    );
    assert!(owner.policies.is_empty(), "a new user has no policies");
    assert!(f.principal_for_key("AKIANOSUCHKEY0000000").unwrap().is_none());
    assert_eq!(
        f.display_name_of(&alice.canonical_id).unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(f.display_name_of(&"f".repeat(64)).unwrap(), None);

    // Inactive: refused at once; active again: accepted again.
    let id = key.info.access_key_id.clone();
    f.update_access_key(&root(), Some("alice"), &id, KeyStatus::Inactive)
        .await
        .unwrap();
    assert!(f.principal_for_key(&id).unwrap().is_none());
    let listed = f.list_access_keys(&root(), "alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, KeyStatus::Inactive);
    f.update_access_key(&root(), None, &id, KeyStatus::Active)
        .await
        .unwrap();
    assert!(f.principal_for_key(&id).unwrap().is_some());

    // The user's buckets are its own.
    let user = as_user(&f, &id);
    f.create_bucket(&user, "alices", Default::default()).await.unwrap();
    let (mine, _) = f.list_buckets(&user, None, None, 100).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].owner, alice.canonical_id);

    // Deleted: gone at once.
    f.delete_access_key(&root(), Some("alice"), &id).await.unwrap();
    assert!(f.principal_for_key(&id).unwrap().is_none());
    assert!(f.list_access_keys(&root(), "alice").await.unwrap().is_empty());
    assert!(matches!(
        f.delete_access_key(&root(), None, &id).await,
        Err(ModelError::NoSuchEntity(_))
    ));
}

#[tokio::test]
async fn only_root_manages_users() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_user(&root(), "bob").await.unwrap();
    let key = f.create_access_key(&root(), "bob").await.unwrap();
    let bob = as_user(&f, &key.info.access_key_id);
    for caller in [bob, Caller::anonymous()] {
        assert!(matches!(
            f.create_user(&caller, "eve").await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.get_user(&caller, "bob").await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.list_users(&caller, None, 10).await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.delete_user(&caller, "bob").await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.create_access_key(&caller, "bob").await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.list_access_keys(&caller, "bob").await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.update_access_key(&caller, None, &key.info.access_key_id, KeyStatus::Inactive)
                .await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.delete_access_key(&caller, None, &key.info.access_key_id).await,
            Err(ModelError::AccessDenied)
        ));
        assert!(matches!(
            f.access_key_last_used(&caller, &key.info.access_key_id).await,
            Err(ModelError::AccessDenied)
        ));
    }
    assert!(f.principal_for_key(&key.info.access_key_id).unwrap().is_some());
}

#[tokio::test]
async fn names_follow_iam_rules_and_are_unique_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    for bad in ["", "has space", "slash/", "ünïcode", &"x".repeat(65), "semi;colon"] {
        assert!(
            matches!(f.create_user(&root(), bad).await, Err(ModelError::ValidationError(_))),
            "{bad:?}"
        );
    }
    for good in ["a", "A+b=c,d.e@f_g-h", &"y".repeat(64)] {
        f.create_user(&root(), good).await.unwrap();
    }
    f.create_user(&root(), "Carol").await.unwrap();
    assert!(matches!(
        f.create_user(&root(), "carol").await,
        Err(ModelError::EntityAlreadyExists(_))
    ));
    assert_eq!(f.get_user(&root(), "carol").await.unwrap().name, "Carol");
    assert!(matches!(
        f.get_user(&root(), "nobody").await,
        Err(ModelError::NoSuchEntity(_))
    ));
}

#[tokio::test]
async fn two_keys_at_most() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_user(&root(), "dave").await.unwrap();
    let k1 = f.create_access_key(&root(), "dave").await.unwrap();
    let k2 = f.create_access_key(&root(), "dave").await.unwrap();
    assert_ne!(k1.info.access_key_id, k2.info.access_key_id);
    assert_ne!(k1.secret, k2.secret);
    assert!(matches!(
        f.create_access_key(&root(), "dave").await,
        Err(ModelError::LimitExceeded(_))
    ));
    let listed: Vec<String> = f
        .list_access_keys(&root(), "dave")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert_eq!(
        listed,
        vec![k1.info.access_key_id.clone(), k2.info.access_key_id.clone()]
    );
    f.delete_access_key(&root(), None, &k1.info.access_key_id)
        .await
        .unwrap();
    f.create_access_key(&root(), "dave").await.unwrap();
    assert!(matches!(
        f.create_access_key(&root(), "nobody").await,
        Err(ModelError::NoSuchEntity(_))
    ));
}

#[tokio::test]
async fn a_key_is_addressed_through_its_own_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_user(&root(), "u1").await.unwrap();
    f.create_user(&root(), "u2").await.unwrap();
    let k = f.create_access_key(&root(), "u1").await.unwrap();
    let id = &k.info.access_key_id;
    assert!(matches!(
        f.update_access_key(&root(), Some("u2"), id, KeyStatus::Inactive).await,
        Err(ModelError::NoSuchEntity(_))
    ));
    assert!(matches!(
        f.delete_access_key(&root(), Some("u2"), id).await,
        Err(ModelError::NoSuchEntity(_))
    ));
    assert!(f.principal_for_key(id).unwrap().is_some(), "unchanged");
}

#[tokio::test]
async fn delete_user_conflicts_while_it_has_keys_or_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    let erin = f.create_user(&root(), "erin").await.unwrap();
    let key = f.create_access_key(&root(), "erin").await.unwrap();
    let caller = as_user(&f, &key.info.access_key_id);
    f.create_bucket(&caller, "erins-bucket", Default::default())
        .await
        .unwrap();
    // Root's own bucket does not count against her.
    f.create_bucket(&root(), "roots-bucket", Default::default())
        .await
        .unwrap();

    let conflict = |r: ModelResult<()>| matches!(r, Err(ModelError::DeleteConflict(_)));
    assert!(conflict(f.delete_user(&root(), "erin").await), "keys");
    f.delete_access_key(&root(), None, &key.info.access_key_id)
        .await
        .unwrap();
    let err = f.delete_user(&root(), "erin").await;
    assert!(
        matches!(&err, Err(ModelError::DeleteConflict(m)) if m.contains("erins-bucket")),
        "{err:?}"
    );
    f.delete_bucket(&root(), "erins-bucket").await.unwrap();
    f.delete_user(&root(), "erin").await.unwrap();
    assert!(matches!(
        f.get_user(&root(), "erin").await,
        Err(ModelError::NoSuchEntity(_))
    ));
    assert_eq!(f.display_name_of(&erin.canonical_id).unwrap(), None);
    // A new user of the same name is a new principal.
    let again = f.create_user(&root(), "erin").await.unwrap();
    assert_ne!(again.canonical_id, erin.canonical_id);
    assert!(matches!(
        f.delete_user(&root(), "nobody").await,
        Err(ModelError::NoSuchEntity(_))
    ));
}

#[tokio::test]
async fn list_users_pages_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    let names = ["zed", "Bob", "alice", "carol", "dave", "Eve", "frank"];
    for n in names {
        f.create_user(&root(), n).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = f.list_users(&root(), marker.as_deref(), 3).await.unwrap();
        assert!(page.users.len() <= 3);
        pages += 1;
        seen.extend(page.users.into_iter().map(|u| u.name));
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["alice", "Bob", "carol", "dave", "Eve", "frank", "zed"]);
    let all = f.list_users(&root(), None, MAX_LIST_USERS).await.unwrap();
    assert_eq!(all.users.len(), 7);
    assert_eq!(all.next_marker, None);
    for bad in [0, MAX_LIST_USERS + 1] {
        assert!(matches!(
            f.list_users(&root(), None, bad).await,
            Err(ModelError::ValidationError(_))
        ));
    }
}

#[tokio::test]
async fn last_use_is_reported_from_memory_and_flushed_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        let f = open(dir.path()).await;
        f.create_user(&root(), "gina").await.unwrap();
        id = f.create_access_key(&root(), "gina").await.unwrap().info.access_key_id;
        let before = f.access_key_last_used(&root(), &id).await.unwrap();
        assert_eq!(before.user_name, "gina");
        assert_eq!(before.last_used, None);
        let t0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        f.note_key_used(&id, "s3", "us-east-1");
        let after = f.access_key_last_used(&root(), &id).await.unwrap();
        let used = after.last_used.expect("a use is reported");
        assert!(used.ms >= t0);
        assert_eq!((used.service.as_str(), used.region.as_str()), ("s3", "us-east-1"));
        // The first use after start is written (off the request path): wait for it.
        for _ in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    // Reopened: the memory is gone, the stored use remains.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let f = open(dir.path()).await;
    let stored = f.access_key_last_used(&root(), &id).await.unwrap();
    assert!(stored.last_used.is_some(), "the first use was written to the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_writes_are_re_runnable_under_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> = Arc::new(RedbMetaStore::open(&dir.path().join("meta.redb"), false).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path(), false).unwrap());
    let faults = Faults::new();
    let f = Ferrite::open(Arc::new(FaultyMeta::new(meta, faults.clone())), blobs, options())
        .await
        .unwrap();
    faults.conflict_every(2);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("user{i:02}");
            let u = f.create_user(&root(), &name).await?;
            let k = f.create_access_key(&root(), &name).await?;
            f.update_access_key(&root(), Some(&name), &k.info.access_key_id, KeyStatus::Inactive)
                .await?;
            ModelResult::Ok((u, k))
        }));
    }
    let mut made = Vec::new();
    for t in tasks {
        made.push(t.await.unwrap().unwrap());
    }
    assert!(faults.injected() > 0, "conflicts were injected");
    faults.heal();
    let page = f.list_users(&root(), None, 100).await.unwrap();
    assert_eq!(page.users.len(), 20);
    for (u, k) in &made {
        // Each re-run wrote the same ids: what the reply said is what is stored.
        assert_eq!(f.get_user(&root(), &u.name).await.unwrap(), *u);
        let keys = f.list_access_keys(&root(), &u.name).await.unwrap();
        assert_eq!(keys.len(), 1, "no key written twice");
        assert_eq!(keys[0].access_key_id, k.info.access_key_id);
        assert_eq!(keys[0].status, KeyStatus::Inactive);
        assert_eq!(
            f.display_name_of(&u.canonical_id).unwrap().as_deref(),
            Some(u.name.as_str())
        );
    }
}

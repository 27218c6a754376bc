use std::sync::Arc;

use ferrite_store::{MetaStore, RedbMetaStore};

use super::*;
use crate::sse::BuiltinKeys;
use crate::{Options, Principal};

const MASTER: [u8; 32] = [7; 32];

fn keys() -> Keys {
    Keys::Ready(Arc::new(BuiltinKeys::new(Key::from_slice(&MASTER).unwrap())))
}

fn store() -> (tempfile::TempDir, Arc<dyn MetaStore>) {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> = Arc::new(RedbMetaStore::open(&dir.path().join("m.redb"), false).unwrap());
    (dir, meta)
}

fn exception(r: ModelResult<impl std::fmt::Debug>) -> KmsException {
    match r {
        Err(ModelError::Kms { exception, .. }) => exception,
        other => panic!("not a KMS error: {other:?}"),
    }
}

/// Stores a customer key (and its alias) and returns its record.
fn add_key(meta: &dyn MetaStore, alias: Option<&str>) -> KmsKeyRecord {
    let key = new_key_record(&keys(), "us-east-1", "d", KeyManager::Customer, now_ms()).unwrap();
    let mut txn = meta.begin_write().unwrap();
    put_key(&mut *txn, &key).unwrap();
    if let Some(a) = alias {
        let rec = KmsAliasRecord {
            key_id: key.key_id.clone(),
            created_ms: 0,
        };
        txn.put(tables::KMS_ALIASES, a.as_bytes(), &encode(&rec)).unwrap();
    }
    txn.commit().unwrap();
    key
}

fn set_state(meta: &dyn MetaStore, key: &KmsKeyRecord, state: KmsKeyState) {
    let mut k = key.clone();
    k.state = state;
    let mut txn = meta.begin_write().unwrap();
    put_key(&mut *txn, &k).unwrap();
    txn.commit().unwrap();
}

#[test]
fn a_key_resolves_by_id_arn_alias_and_alias_arn() {
    let (_dir, meta) = store();
    let key = add_key(&*meta, Some("alias/app"));
    let txn = meta.begin_read().unwrap();
    let specs = [
        key.key_id.clone(),
        key.arn.clone(),
        "alias/app".to_string(),
        format!("arn:aws:kms:us-east-1:{ACCOUNT_ID}:alias/app"),
    ];
    let mut material = None;
    for spec in &specs {
        let used = resolve_for_encrypt(&*txn, &keys(), spec).unwrap();
        assert_eq!(
            (used.key_id.as_str(), used.arn.as_str()),
            (key.key_id.as_str(), key.arn.as_str())
        );
        if let Some(m) = &material {
            assert!(used.material == *m, "one key, one material");
        }
        material = Some(used.material);
    }
    for spec in [
        "nope".to_string(),
        "alias/other".to_string(),
        format!("arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{}", key.key_id),
        format!("arn:aws:kms:us-east-1:111111111111:key/{}", key.key_id),
    ] {
        assert_eq!(
            exception(resolve_for_encrypt(&*txn, &keys(), &spec)),
            KmsException::NotFoundException,
            "{spec}"
        );
    }
    for spec in ["arn:aws:s3:::bucket", "arn:aws:kms:us-east-1:000000000000:thing/x"] {
        assert_eq!(
            exception(resolve_for_encrypt(&*txn, &keys(), spec)),
            KmsException::InvalidArnException,
            "{spec}"
        );
    }
}

#[test]
fn a_disabled_key_and_one_pending_deletion_are_refused() {
    let (_dir, meta) = store();
    let key = add_key(&*meta, None);
    set_state(&*meta, &key, KmsKeyState::Disabled);
    {
        let txn = meta.begin_read().unwrap();
        assert_eq!(
            exception(resolve_for_encrypt(&*txn, &keys(), &key.key_id)),
            KmsException::DisabledException
        );
        assert_eq!(
            exception(key_for_decrypt(&*txn, &keys(), &key.key_id)),
            KmsException::DisabledException
        );
    }
    set_state(
        &*meta,
        &key,
        KmsKeyState::PendingDeletion {
            deletion_ms: now_ms() + DAY_MS,
        },
    );
    let txn = meta.begin_read().unwrap();
    assert_eq!(
        exception(resolve_for_encrypt(&*txn, &keys(), &key.key_id)),
        KmsException::KMSInvalidStateException
    );
    assert_eq!(
        exception(key_for_decrypt(&*txn, &keys(), &key.key_id)),
        KmsException::KMSInvalidStateException
    );
}

#[test]
fn keys_past_their_deletion_date_are_purged_with_their_aliases() {
    let (_dir, meta) = store();
    let gone = add_key(&*meta, Some("alias/gone"));
    let kept = add_key(&*meta, Some("alias/kept"));
    set_state(
        &*meta,
        &gone,
        KmsKeyState::PendingDeletion {
            deletion_ms: now_ms() - 1,
        },
    );
    {
        let txn = meta.begin_read().unwrap();
        assert_eq!(
            exception(key_for_decrypt(&*txn, &keys(), &gone.key_id)),
            KmsException::NotFoundException,
            "past its date, a key is gone before it is purged"
        );
    }
    let mut txn = meta.begin_write().unwrap();
    assert_eq!(purge_expired(&mut *txn, now_ms()).unwrap(), 1);
    txn.commit().unwrap();
    let txn = meta.begin_read().unwrap();
    assert!(read_key(&*txn, &gone.key_id).unwrap().is_none());
    assert!(read_alias(&*txn, "alias/gone").unwrap().is_none());
    assert!(read_key(&*txn, &kept.key_id).unwrap().is_some());
    assert!(read_alias(&*txn, "alias/kept").unwrap().is_some());
}

#[test]
fn alias_rules() {
    for ok in ["alias/a", "alias/team/app-1_x"] {
        validate_alias_name(ok).unwrap();
    }
    for (bad, e) in [
        ("app", KmsException::ValidationException),
        ("alias/", KmsException::ValidationException),
        ("alias/a b", KmsException::ValidationException),
        ("alias/a.b", KmsException::ValidationException),
        ("alias/aws/s3", KmsException::NotAuthorizedException),
    ] {
        assert_eq!(exception(validate_alias_name(bad)), e, "{bad}");
    }
    let long = format!("alias/{}", "a".repeat(251));
    assert_eq!(exception(validate_alias_name(&long)), KmsException::ValidationException);
}

#[test]
fn the_record_holds_the_material_only_sealed() {
    let (_dir, meta) = store();
    let key = add_key(&*meta, None);
    let txn = meta.begin_read().unwrap();
    let material = key_for_decrypt(&*txn, &keys(), &key.key_id).unwrap().material;
    let stored = txn.get(tables::KMS_KEYS, key.key_id.as_bytes()).unwrap().unwrap();
    assert!(!stored.windows(32).any(|w| w == material.expose()));
    assert!(!format!("{key:?}").contains(&hex::encode(material.expose())));
    // Sealed for this key id: another key's context does not open it.
    let provider = keys().provider().unwrap().clone();
    assert!(provider.open(&key.material, &material_context("other")).is_err());
    assert_eq!(decode::<KmsKeyRecord>(&stored).unwrap(), key);
}

#[test]
fn the_default_key_is_made_once_and_reseal_rewrites_every_material() {
    let (_dir, meta) = store();
    let mut txn = meta.begin_write().unwrap();
    let first = default_s3_key(&mut *txn, &keys(), "us-east-1", 1).unwrap();
    let again = default_s3_key(&mut *txn, &keys(), "us-east-1", 2).unwrap();
    assert_eq!(first.key_id, again.key_id);
    assert!(first.material == again.material);
    let first_material = open_material(&keys(), &first).unwrap();
    txn.commit().unwrap();
    add_key(&*meta, None);
    let read = meta.begin_read().unwrap();
    assert_eq!(
        resolve_for_encrypt(&*read, &keys(), DEFAULT_S3_ALIAS).unwrap().key_id,
        first.key_id
    );
    let key = read_key(&*read, &first.key_id).unwrap().unwrap();
    assert_eq!(key.manager, KeyManager::Aws);
    drop(read);

    let new_keys = Keys::Ready(Arc::new(BuiltinKeys::new(Key::from_slice(&[9; 32]).unwrap())));
    let (old, new) = (keys().provider().unwrap().clone(), new_keys.provider().unwrap().clone());
    let mut txn = meta.begin_write().unwrap();
    let n = reseal_kms_keys(&mut *txn, &mut |sealed, context| {
        let plain = old.open(sealed, context)?;
        Ok(Some(new.seal(&plain, context)?))
    })
    .unwrap();
    txn.commit().unwrap();
    assert_eq!(n, 2);
    let read = meta.begin_read().unwrap();
    assert!(key_for_decrypt(&*read, &new_keys, &first.key_id).unwrap().material == first_material);
}

#[tokio::test]
async fn only_root_manages_keys_and_states_change_as_on_aws() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        region: "us-east-1".into(),
        durable: false,
        body_idle_timeout: Options::DEFAULT_BODY_IDLE_TIMEOUT,
        meta_cache_bytes: Options::DEFAULT_META_CACHE,
        root_canonical_id: "0".repeat(64),
        lifecycle_day: crate::DAY,
        restore_delay: std::time::Duration::ZERO,
        tiering: Default::default(),
        console_session_ttl: Options::DEFAULT_CONSOLE_SESSION_TTL,
        keys: Some(Arc::new(BuiltinKeys::new(Key::from_slice(&MASTER).unwrap()))),
    };
    let model = Ferrite::open_local(dir.path(), opts).await.unwrap();
    let root = Caller::root("0".repeat(64), "root");
    let user = Caller::new(Principal::User {
        canonical_id: "c".repeat(64),
        display_name: "u".into(),
        access_key_id: "AK".into(),
        user_id: "AIDA".into(),
    });
    assert!(matches!(
        model.kms_create_key(&user, "", None).await,
        Err(ModelError::AccessDenied)
    ));
    assert!(matches!(
        model.kms_list_keys(&user).await,
        Err(ModelError::AccessDenied)
    ));

    let k = model.kms_create_key(&root, "d", Some("alias/a")).await.unwrap();
    assert_eq!(k.state, KmsKeyState::Enabled);
    assert!(k.arn.starts_with("arn:aws:kms:us-east-1:000000000000:key/"));
    assert_eq!(
        exception(model.kms_create_key(&root, "", Some("alias/a")).await),
        KmsException::AlreadyExistsException
    );
    assert_eq!(model.kms_describe_key(&root, "alias/a").await.unwrap().key_id, k.key_id);
    assert_eq!(
        model.kms_disable_key(&root, &k.arn).await.unwrap().state,
        KmsKeyState::Disabled
    );
    assert_eq!(
        model.kms_enable_key(&root, &k.key_id).await.unwrap().state,
        KmsKeyState::Enabled
    );
    for days in [6, 31] {
        assert_eq!(
            exception(model.kms_schedule_key_deletion(&root, &k.key_id, Some(days)).await),
            KmsException::ValidationException
        );
    }
    let pending = model.kms_schedule_key_deletion(&root, &k.key_id, None).await.unwrap();
    assert!(
        matches!(pending.state, KmsKeyState::PendingDeletion { deletion_ms } if deletion_ms > now_ms() + 29 * DAY_MS)
    );
    assert_eq!(
        exception(model.kms_enable_key(&root, &k.key_id).await),
        KmsException::KMSInvalidStateException
    );
    assert_eq!(
        model.kms_cancel_key_deletion(&root, &k.key_id).await.unwrap().state,
        KmsKeyState::Disabled
    );
    assert_eq!(
        exception(model.kms_cancel_key_deletion(&root, &k.key_id).await),
        KmsException::KMSInvalidStateException
    );
    model.kms_create_alias(&root, "alias/b", &k.key_id).await.unwrap();
    let aliases = model.kms_list_aliases(&root, Some(&k.key_id)).await.unwrap();
    assert_eq!(
        aliases.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["alias/a", "alias/b"]
    );
    model.kms_delete_alias(&root, "alias/b").await.unwrap();
    assert_eq!(
        exception(model.kms_delete_alias(&root, "alias/b").await),
        KmsException::NotFoundException
    );
    // The default key appears on first use, AWS-managed, and may not be changed.
    let d = model.kms_describe_key(&root, DEFAULT_S3_ALIAS).await.unwrap();
    assert_eq!(d.manager, KeyManager::Aws);
    assert_eq!(
        exception(model.kms_disable_key(&root, &d.key_id).await),
        KmsException::NotAuthorizedException
    );
    assert_eq!(model.kms_list_keys(&root).await.unwrap().len(), 2);
}

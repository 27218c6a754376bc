//! Console sessions and passwords in the model: a session is found by its whole token
//! only, ends at its time, at logout or by an admin's revocation; only admins list or
//! revoke; console passwords are argon2id hashes that open sessions on the user's key,
//! and a new password ends the sessions the old one opened.

mod common;

use std::time::Duration;

use common::{as_user, options, root};
use ferrite_model::*;

#[tokio::test]
async fn sessions_live_until_they_expire_or_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options();
    opts.console_session_ttl = Duration::from_millis(700);
    let f = common::open_engine(dir.path(), opts).await;
    f.create_user(&root(), "alice").await.unwrap();
    let key = f.create_access_key(&root(), "alice").await.unwrap();
    let kid = key.info.access_key_id.clone();
    let alice = as_user(&f, &kid);

    let opened = f
        .open_session(&alice, &kid, LoginMethod::AccessKey, [1; 32])
        .await
        .unwrap();
    let token = opened.token.expose().to_string();
    let live = f.session(&opened.token).await.unwrap().expect("a live session");
    assert_eq!(
        (live.principal.as_str(), live.access_key.as_str(), live.key_check),
        ("alice", kid.as_str(), [1; 32])
    );
    assert!(live.expires_ms > live.created_ms && live.expires_ms - live.created_ms <= 700);
    // Only the whole token finds it.
    let (id, secret) = token.split_once('.').unwrap();
    let mut other = secret.to_string();
    other.replace_range(0..1, if secret.starts_with('0') { "1" } else { "0" });
    for wrong in [
        format!("{id}.{other}"),
        id.to_string(),
        String::new(),
        format!("{token}0"),
    ] {
        assert_eq!(f.session(&Secret::new(wrong.clone())).await.unwrap(), None, "{wrong}");
    }

    // Only admins list and revoke.
    assert!(matches!(f.list_sessions(&alice).await, Err(ModelError::AccessDenied)));
    assert!(matches!(
        f.revoke_session(&alice, id).await,
        Err(ModelError::AccessDenied)
    ));
    let all = f.list_sessions(&root()).await.unwrap();
    assert_eq!(all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [id]);

    // Expiry.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(f.session(&opened.token).await.unwrap(), None);
    assert!(f.list_sessions(&root()).await.unwrap().is_empty());
    assert!(matches!(
        f.revoke_session(&root(), id).await,
        Err(ModelError::NoSuchEntity(_))
    ));

    // Logout and revocation.
    let a = f
        .open_session(&alice, &kid, LoginMethod::AccessKey, [1; 32])
        .await
        .unwrap();
    let b = f
        .open_session(&alice, &kid, LoginMethod::AccessKey, [1; 32])
        .await
        .unwrap();
    f.end_session(&a.token).await.unwrap();
    assert_eq!(f.session(&a.token).await.unwrap(), None);
    f.revoke_session(&root(), &b.info.id).await.unwrap();
    assert_eq!(f.session(&b.token).await.unwrap(), None);
    // Anonymous callers open none.
    assert!(matches!(
        f.open_session(&Caller::anonymous(), &kid, LoginMethod::AccessKey, [0; 32])
            .await,
        Err(ModelError::AccessDenied)
    ));
}

#[tokio::test]
async fn console_passwords_open_sessions_on_the_users_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = common::open_engine(dir.path(), options()).await;
    f.create_user(&root(), "bob").await.unwrap();
    let pw = Secret::new("bob's first password");
    // No key yet: a right password still opens nothing.
    f.set_console_password(&root(), "bob", &pw).await.unwrap();
    assert_eq!(f.password_login("bob", &pw).await.unwrap(), None);
    let key = f.create_access_key(&root(), "bob").await.unwrap();
    let kid = key.info.access_key_id.clone();
    let found = f.password_login("BOB", &pw).await.unwrap().expect("a login");
    assert_eq!((found.user.as_str(), found.access_key.as_str()), ("bob", kid.as_str()));
    assert_eq!(
        f.password_login("bob", &Secret::new("bob's first passworD"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(f.password_login("nobody", &pw).await.unwrap(), None);
    assert!(f.console_password_set_ms(&root(), "bob").await.unwrap().is_some());

    // bob may not set passwords (his own included) without a policy allowing it.
    let bob = as_user(&f, &kid);
    assert!(matches!(
        f.set_console_password(&bob, "bob", &Secret::new("another password"))
            .await,
        Err(ModelError::AccessDenied)
    ));
    assert!(matches!(
        f.set_console_password(&root(), "bob", &Secret::new("short")).await,
        Err(ModelError::ValidationError(_))
    ));

    // A new password ends the sessions the old one opened, not the key's own.
    let by_password = f
        .open_session(&bob, &kid, LoginMethod::Password, [2; 32])
        .await
        .unwrap();
    let by_key = f
        .open_session(&bob, &kid, LoginMethod::AccessKey, [2; 32])
        .await
        .unwrap();
    f.set_console_password(&root(), "bob", &Secret::new("bob's second password"))
        .await
        .unwrap();
    assert_eq!(f.session(&by_password.token).await.unwrap(), None);
    assert!(f.session(&by_key.token).await.unwrap().is_some());
    assert_eq!(f.password_login("bob", &pw).await.unwrap(), None);

    // Removed: no login; the user's deletion takes the password with it.
    f.delete_console_password(&root(), "bob").await.unwrap();
    assert_eq!(f.console_password_set_ms(&root(), "bob").await.unwrap(), None);
    assert!(matches!(
        f.delete_console_password(&root(), "bob").await,
        Err(ModelError::NoSuchEntity(_))
    ));
    f.set_console_password(&root(), "bob", &pw).await.unwrap();
    f.delete_access_key(&root(), Some("bob"), &kid).await.unwrap();
    f.delete_user(&root(), "bob").await.unwrap();
    f.create_user(&root(), "bob").await.unwrap();
    assert_eq!(f.console_password_set_ms(&root(), "bob").await.unwrap(), None);
}

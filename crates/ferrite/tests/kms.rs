//! The built-in KMS end to end, against the real binary with its default config: every
//! supported operation through the real `aws-sdk-kms` client (endpoint URL set), keys
//! named by id, ARN, alias and alias ARN, state changes, AWS's errors, a user without
//! KMS rights refused, the store holding no key in the clear, and `ferrite admin kms
//! key` driving it all.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{KeyManagerType, KeyState};
use common::{ACCESS_KEY, SECRET_KEY, Server, admin, admin_json, admin_ok, kms_client, new_iam_user};

fn root_kms(server: &Server) -> Client {
    kms_client(server, ACCESS_KEY, SECRET_KEY)
}

/// The error code of a failed call.
fn code<E: ProvideErrorMetadata, R>(e: &aws_sdk_kms::error::SdkError<E, R>) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or("(no service error)")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_aliases_through_the_kms_client() {
    let server = Server::start();
    let kms = root_kms(&server);

    let created = kms.create_key().description("app data").send().await.unwrap();
    let meta = created.key_metadata().unwrap();
    let id = meta.key_id().to_string();
    let arn = meta.arn().unwrap().to_string();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:000000000000:key/{id}"));
    assert_eq!(id.len(), 36);
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert!(meta.enabled());
    assert_eq!(meta.description(), Some("app data"));
    assert_eq!(meta.key_manager(), Some(&KeyManagerType::Customer));
    assert!(meta.creation_date().is_some());
    assert_eq!(meta.key_usage().map(|u| u.as_str()), Some("ENCRYPT_DECRYPT"));
    assert_eq!(meta.key_spec().map(|s| s.as_str()), Some("SYMMETRIC_DEFAULT"));

    kms.create_alias()
        .alias_name("alias/app")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    // The key by each of its names.
    for spec in [
        id.clone(),
        arn.clone(),
        "alias/app".to_string(),
        "arn:aws:kms:us-east-1:000000000000:alias/app".to_string(),
    ] {
        let d = kms.describe_key().key_id(&spec).send().await.unwrap();
        assert_eq!(d.key_metadata().unwrap().key_id(), id, "{spec}");
    }

    let keys = kms.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.keys()[0].key_id(), Some(id.as_str()));
    assert_eq!(keys.keys()[0].key_arn(), Some(arn.as_str()));
    let aliases = kms.list_aliases().send().await.unwrap();
    let names: Vec<_> = aliases.aliases().iter().filter_map(|a| a.alias_name()).collect();
    assert_eq!(names, ["alias/app"]);
    assert_eq!(aliases.aliases()[0].target_key_id(), Some(id.as_str()));
    assert_eq!(
        aliases.aliases()[0].alias_arn(),
        Some("arn:aws:kms:us-east-1:000000000000:alias/app")
    );

    // Disable and enable.
    kms.disable_key().key_id("alias/app").send().await.unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_state(), Some(&KeyState::Disabled));
    assert!(!d.key_metadata().unwrap().enabled());
    kms.enable_key().key_id(&arn).send().await.unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_state(), Some(&KeyState::Enabled));

    // Schedule and cancel deletion.
    let e = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(3)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let s = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(s.key_id(), Some(arn.as_str()));
    assert_eq!(s.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(s.pending_window_in_days(), Some(7));
    let deletion = s.deletion_date().unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((deletion - now - 7 * 86400).abs() < 60, "{deletion} vs {now}");
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_state(), Some(&KeyState::PendingDeletion));
    assert!(d.key_metadata().unwrap().deletion_date().is_some());
    let e = kms.enable_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let c = kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(c.key_id(), Some(arn.as_str()));
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_state(), Some(&KeyState::Disabled));

    // Aliases: AWS's rules.
    let e = kms
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AlreadyExistsException");
    let e = kms
        .create_alias()
        .alias_name("alias/aws/mine")
        .target_key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotAuthorizedException");
    let e = kms
        .create_alias()
        .alias_name("noprefix")
        .target_key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    kms.delete_alias().alias_name("alias/app").send().await.unwrap();
    let e = kms.delete_alias().alias_name("alias/app").send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    assert!(kms.list_aliases().send().await.unwrap().aliases().is_empty());

    // Unknown keys, by each form.
    for spec in [
        "00000000-0000-4000-8000-000000000000",
        "alias/none",
        "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000",
    ] {
        let e = kms.describe_key().key_id(spec).send().await.unwrap_err();
        assert_eq!(code(&e), "NotFoundException", "{spec}");
    }
    let e = kms
        .describe_key()
        .key_id("arn:aws:s3:::bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArnException");
    // What Ferrite cannot do is refused, not ignored.
    let e = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Rsa2048)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    // An operation not implemented.
    let e = kms
        .encrypt()
        .key_id(&id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");

    // The default key appears with `alias/aws/s3`, managed by "AWS".
    let d = kms.describe_key().key_id("alias/aws/s3").send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_manager(), Some(&KeyManagerType::Aws));
    let e = kms
        .disable_key()
        .key_id(d.key_metadata().unwrap().key_id())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotAuthorizedException");
    assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_kms_rights_is_refused_and_bad_requests_get_kms_errors() {
    let server = Server::start();
    let user = new_iam_user(&server, "dave").await;
    let kms = kms_client(&server, &user.key_id, &user.secret);
    let e = kms.create_key().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let e = kms.list_keys().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    // Unknown credentials and a wrong secret.
    let e = kms_client(&server, "AKIANOSUCHKEY0000000", "x")
        .list_keys()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException");
    let e = kms_client(&server, ACCESS_KEY, "wrong")
        .list_keys()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidSignatureException");

    // Malformed JSON, signed: SerializationException, in KMS's JSON error shape.
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "TrentService.DescribeKey"),
    ];
    let (status, _, body) = common::signed_request(
        &server,
        (ACCESS_KEY, SECRET_KEY),
        "kms",
        "POST",
        "/",
        &headers,
        b"{not json".to_vec(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, v["__type"].as_str()), (400, Some("SerializationException")));
    // A body over the bound is refused before it is read.
    let (status, _, _) = common::signed_request(
        &server,
        (ACCESS_KEY, SECRET_KEY),
        "kms",
        "POST",
        "/",
        &headers,
        vec![b' '; 65 * 1024],
    )
    .await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_holds_no_key_in_the_clear() {
    let mut server = Server::start();
    let kms = root_kms(&server);
    let id = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    server.terminate();
    let meta = server.metadata_bytes();
    let contains = |needle: &[u8]| meta.windows(needle.len()).any(|w| w == needle);
    assert!(contains(id.as_bytes()), "the key's record is in the store");
    // The master key (base64 in its file) is in the store in neither form.
    let text = std::fs::read_to_string(server.data_dir.join("master.key")).unwrap();
    use base64::Engine;
    let master = base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap();
    assert_eq!(master.len(), 32);
    assert!(!contains(&master));
    assert!(!contains(text.trim().as_bytes()));
    // (That the key's own material is stored only sealed is checked by the model's
    // unit test `the_record_holds_the_material_only_sealed`, which can open it.)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrite_admin_kms_key_add_ls_disable_enable() {
    let server = Server::start();
    let added = admin_json(
        &server,
        &[
            "kms",
            "key",
            "add",
            "--description",
            "backups",
            "--alias",
            "alias/backups",
        ],
    );
    let id = added["key_id"].as_str().unwrap().to_string();
    assert_eq!(added["state"], "Enabled");
    assert!(admin_ok(&server, &["kms", "key", "add"]).starts_with("created KMS key "));

    let keys = admin_json(&server, &["kms", "key", "ls"]);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let row = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == id.as_str())
        .unwrap();
    assert_eq!(row["aliases"], serde_json::json!(["alias/backups"]));
    assert_eq!(row["description"], "backups");
    let text = admin_ok(&server, &["kms", "key", "ls"]);
    assert!(
        text.contains(&id) && text.contains("alias/backups") && text.contains("Enabled"),
        "{text}"
    );

    assert!(admin_ok(&server, &["kms", "key", "disable", "alias/backups"]).contains("disabled alias/backups"));
    let d = root_kms(&server).describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_state(), Some(&KeyState::Disabled));
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
    admin_ok(&server, &["kms", "key", "enable", &arn]);
    let d = root_kms(&server).describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_state(), Some(&KeyState::Enabled));

    let (ok, _, err) = admin(&server, &["kms", "key", "disable", "alias/none"]);
    assert!(!ok);
    assert!(err.contains("NotFoundException"), "{err}");
    let (ok, _, err) = admin(&server, &["kms", "key", "add", "--alias", "alias/backups"]);
    assert!(!ok);
    assert!(err.contains("AlreadyExistsException"), "{err}");
}

//! Master-key rotation (`ferrite admin kms rotate`): online, without rewriting data.
//! Objects, uploads and secret access keys from before and after read back, across
//! restarts; the old version leaves the key file once nothing uses it, and from then
//! on the old key alone opens nothing; a kill mid-rotation loses nothing and the next
//! start finishes the job.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use base64::Engine;
use common::*;
use serde_json::Value;

/// Waits until the server holds only the current master key version.
fn wait_retired(server: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = admin_json(server, &["kms", "master-key"]);
        if v["versions"].as_array().map(Vec::len) == Some(1) {
            return v;
        }
        assert!(Instant::now() < deadline, "older versions never retired: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The versions a key file holds.
fn file_versions(path: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    if lines.len() == 1 && !lines[0].contains(':') {
        return vec![1];
    }
    lines
        .iter()
        .map(|l| l.split_once(':').unwrap().0.parse().unwrap())
        .collect()
}

async fn put_sse(c: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    c.put_object()
        .bucket("enc")
        .key(key)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

async fn get(c: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    read_all(c.get_object().bucket("enc").key(key).send().await.unwrap()).await
}

#[tokio::test]
async fn rotation_reseals_everything_and_retires_the_old_version() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let key_file = data.join("master.key");
    let mut s = Server::start_in(&data, &[]);
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    set_versioning(&c, "enc", aws_sdk_s3::types::BucketVersioningStatus::Enabled).await;
    let big = pattern(700_000, 1);
    put_sse(&c, "big", big.clone()).await;
    put_sse(&c, "small", b"small secret".to_vec()).await;
    // An older version under the same key.
    put_sse(&c, "small", b"newer small secret".to_vec()).await;
    // An SSE-C object: sealed by the customer's key, nothing to reseal.
    let customer = [7u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    let customer_b64 = b64.encode(customer);
    let customer_md5 = b64.encode(<md5::Md5 as md5::Digest>::digest(customer));
    c.put_object()
        .bucket("enc")
        .key("customer")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&customer_b64)
        .sse_customer_key_md5(&customer_md5)
        .body(ByteStream::from_static(b"customer secret"))
        .send()
        .await
        .unwrap();
    // An upload in progress, one part sent before the rotation.
    let up = c
        .create_multipart_upload()
        .bucket("enc")
        .key("mp")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    let upload_id = up.upload_id().unwrap().to_string();
    let part1 = pattern(5 << 20, 2);
    let p1 = c
        .upload_part()
        .bucket("enc")
        .key("mp")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(part1.clone()))
        .send()
        .await
        .unwrap();
    let user = new_iam_user(&s, "alice").await;
    let kms_key = admin_json(&s, &["kms", "key", "add", "--alias", "alias/backups"]);
    let kms_id = kms_key["key_id"].as_str().unwrap().to_string();
    assert_eq!(file_versions(&key_file), vec![1]);
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    let held = admin_json(&s, &["kms", "master-key"]);
    assert_eq!(
        (held["current"].as_u64(), held["versions"].clone()),
        (Some(1), serde_json::json!([1]))
    );
    let r = admin_json(&s, &["kms", "rotate"]);
    assert_eq!(r["version"], 2, "{r}");
    let resealed = &r["resealed"];
    // big, two versions of small, the upload's key, alice's secret, the key check.
    assert_eq!(resealed["versions"], 3, "{r}");
    assert_eq!(resealed["uploads"], 1, "{r}");
    assert_eq!(resealed["access_keys"], 1, "{r}");
    assert_eq!(resealed["kms_keys"], 1, "{r}");
    assert_eq!(resealed["key_check"], 1, "{r}");
    assert_eq!(r["retiring"], serde_json::json!([1]));
    let held = wait_retired(&s);
    assert_eq!(held["current"], 2);
    assert_eq!(file_versions(&key_file), vec![2]);

    // Written after; the upload goes on and completes.
    put_sse(&c, "after", b"after the rotation".to_vec()).await;
    let part2 = pattern(1000, 3);
    let p2 = c
        .upload_part()
        .bucket("enc")
        .key("mp")
        .upload_id(&upload_id)
        .part_number(2)
        .body(ByteStream::from(part2.clone()))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("enc")
        .key("mp")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p1.e_tag().unwrap())
                        .build(),
                )
                .parts(
                    CompletedPart::builder()
                        .part_number(2)
                        .e_tag(p2.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let check = |c: aws_sdk_s3::Client, user: aws_sdk_s3::Client| {
        let (big, part1, part2) = (big.clone(), part1.clone(), part2.clone());
        let (customer_b64, customer_md5) = (customer_b64.clone(), customer_md5.clone());
        async move {
            assert!(get(&c, "big").await == big);
            assert_eq!(get(&c, "small").await, b"newer small secret");
            let versions = c
                .list_object_versions()
                .bucket("enc")
                .prefix("small")
                .send()
                .await
                .unwrap();
            let oldest = versions.versions().last().unwrap().version_id().unwrap().to_string();
            let old = c
                .get_object()
                .bucket("enc")
                .key("small")
                .version_id(oldest)
                .send()
                .await
                .unwrap();
            assert_eq!(read_all(old).await, b"small secret");
            assert_eq!(get(&c, "after").await, b"after the rotation");
            let mp = get(&c, "mp").await;
            assert!(
                mp.len() == part1.len() + part2.len()
                    && mp[..part1.len()] == part1[..]
                    && mp[part1.len()..] == part2[..]
            );
            let sse_c = c
                .get_object()
                .bucket("enc")
                .key("customer")
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&customer_b64)
                .sse_customer_key_md5(&customer_md5)
                .send()
                .await
                .unwrap();
            assert_eq!(read_all(sse_c).await, b"customer secret");
            // alice's secret, sealed again, still signs.
            user.list_buckets().send().await.unwrap();
        }
    };
    check(c.clone(), user.client.clone()).await;

    // Across a restart.
    s.kill();
    s.restart();
    let alice = client_with(&s.endpoint(), &user.key_id, &user.secret);
    check(s.client(), alice).await;
    assert_eq!(
        admin_json(&s, &["kms", "master-key"])["versions"],
        serde_json::json!([2])
    );
    let keys = admin_json(&s, &["kms", "key", "ls"]);
    assert!(keys.to_string().contains(&kms_id), "{keys}");
    s.kill();

    // The old key alone opens nothing any more: everything was sealed again.
    let old_file = tmp.path().join("old.key");
    std::fs::write(&old_file, &old_key).unwrap();
    let s = Server::start_in(&data, &["--kms-master-key-file", old_file.to_str().unwrap()]);
    let c = s.client();
    let e = c.get_object().bucket("enc").key("big").send().await.unwrap_err();
    assert_eq!(status(&e), 500);
    let alice = client_with(&s.endpoint(), &user.key_id, &user.secret);
    assert!(
        alice.list_buckets().send().await.is_err(),
        "the old key opened alice's resealed secret"
    );
}

/// Rotation is root's; a key given by the environment cannot rotate (nowhere to keep
/// the new version) and says so; nothing changes.
#[tokio::test]
async fn who_and_what_may_rotate() {
    let s = Server::start();
    let user = new_iam_user(&s, "bob").await;
    let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["admin", "--endpoint", &s.endpoint(), "kms", "rotate"])
        .env("FERRITE_ROOT_ACCESS_KEY", &user.key_id)
        .env("FERRITE_ROOT_SECRET_KEY", &user.secret)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AccessDenied"));
    assert_eq!(admin_json(&s, &["kms", "master-key"])["current"], 1);

    let key = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
    let s = Server::start_with_env(&[], &[("FERRITE_KMS_MASTER_KEY", &key)]);
    let (ok, _, err) = admin(&s, &["kms", "rotate"]);
    assert!(!ok && err.contains("CannotRotate"), "{err}");
    assert_eq!(
        admin_json(&s, &["kms", "master-key"])["versions"],
        serde_json::json!([1])
    );
}

/// SIGKILL while a rotation re-seals many versions: wherever it lands, every object
/// reads back after the restart, and the restart finishes the rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_rotation_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start_in(&data, &[]);
    let c = s.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    const N: usize = 1500;
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..10 {
        let c = c.clone();
        tasks.spawn(async move {
            for i in (chunk..N).step_by(10) {
                put_sse(&c, &format!("k{i:05}"), format!("secret {i}").into_bytes()).await;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let mut rotate = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["admin", "--endpoint", &s.endpoint(), "kms", "rotate"])
        .env("FERRITE_ROOT_ACCESS_KEY", ACCESS_KEY)
        .env("FERRITE_ROOT_SECRET_KEY", SECRET_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.kill();
    let _ = rotate.wait();
    let versions = file_versions(&data.join("master.key"));
    // Where the kill landed: [1] before the rotation began, [1, 2] amid it, [2] after.
    eprintln!("key file versions at the kill: {versions:?}");
    assert!(!versions.is_empty() && versions.len() <= 2, "{versions:?}");

    s.restart();
    let c = s.client();
    for i in (0..N).step_by(37).chain([N - 1]) {
        assert_eq!(
            get(&c, &format!("k{i:05}")).await,
            format!("secret {i}").into_bytes(),
            "k{i:05}"
        );
    }
    let held = wait_retired(&s);
    assert_eq!(
        file_versions(&data.join("master.key")),
        vec![held["current"].as_u64().unwrap() as u32]
    );
    for i in 0..N {
        assert_eq!(
            get(&c, &format!("k{i:05}")).await,
            format!("secret {i}").into_bytes(),
            "k{i:05}"
        );
    }
}

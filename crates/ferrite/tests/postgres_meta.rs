//! `ferrite serve --meta postgres://...`: the metadata in PostgreSQL, the data in the
//! data dir. The whole S3 behaviour is checked on PostgreSQL by running the other
//! suites with `FERRITE_TEST_META=postgres` (`scripts/postgres-tests.sh`); this file
//! checks what is particular to the flag: where things are, restarts, the guards
//! that keep a data dir's blobs from meeting a metadata store that does not know
//! them, connection errors, and that the database password is never printed.
//!
//! Each test starts its own PostgreSQL (ferrite_store::pg_testing), or skips with a
//! note where the machine has none and none is required (CI requires one).

mod common;

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use common::{ACCESS_KEY, SECRET_KEY, Server, read_all, serve_once};
use ferrite_store::pg_testing::TestPostgres;

#[tokio::test]
async fn objects_live_in_postgres_and_survive_a_restart() {
    let Some(pg) = TestPostgres::start() else { return };
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut s = Server::start_in(&data_dir, &["--meta", &url]);
    let c = s.client();
    c.create_bucket().bucket("pg-objects").send().await.unwrap();
    let big = common::pattern(300_000, 3);
    for (k, body) in [("small", b"inline bytes".to_vec()), ("big", big.clone())] {
        c.put_object()
            .bucket("pg-objects")
            .key(k)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    assert!(s.terminate().success());
    // The metadata is in the database, not in the data dir.
    assert!(!data_dir.join("meta.redb").exists());
    let rows = s.metadata_bytes();
    assert!(rows.windows(b"inline bytes".len()).any(|w| w == b"inline bytes"));

    s.restart();
    let c = s.client();
    let listed = c.list_objects_v2().bucket("pg-objects").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["big", "small"]);
    let got = read_all(c.get_object().bucket("pg-objects").key("big").send().await.unwrap()).await;
    assert_eq!(got, big);
    let got = read_all(c.get_object().bucket("pg-objects").key("small").send().await.unwrap()).await;
    assert_eq!(got, b"inline bytes");
}

/// A blob store and a metadata store that were not used together never open
/// together: the garbage collector and the orphan sweep of one would delete the
/// other's data. Each refusal changes nothing.
#[tokio::test]
async fn stores_that_do_not_belong_together_refuse_to_start() {
    let Some(pg) = TestPostgres::start() else { return };
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();

    // An embedded data dir pointed at a database.
    let embedded = dir.path().join("embedded");
    let mut s = Server::start_in(&embedded, &[]);
    let c = s.client();
    c.create_bucket().bucket("mine").send().await.unwrap();
    c.put_object()
        .bucket("mine")
        .key("k")
        .body(ByteStream::from(common::pattern(200_000, 1)))
        .send()
        .await
        .unwrap();
    assert!(s.terminate().success());
    let (listened, err) = serve_once(&embedded, &["--meta", &url], "warn");
    assert!(!listened);
    assert!(err.contains("embedded metadata store"), "{err}");

    // A database paired with one data dir, and a second dir.
    let first = dir.path().join("first");
    let mut a = Server::start_in(&first, &["--meta", &url]);
    a.client().create_bucket().bucket("shared").send().await.unwrap();
    assert!(a.terminate().success());
    let (listened, err) = serve_once(&dir.path().join("second"), &["--meta", &url], "warn");
    assert!(!listened);
    assert!(err.contains("not in") && err.contains("blobstore.id"), "{err}");

    // The first dir started without --meta: a new embedded store would not know its
    // blobs.
    let (listened, err) = serve_once(&first, &[], "warn");
    assert!(!listened);
    assert!(err.contains("used with another metadata store"), "{err}");
    std::fs::remove_file(first.join("meta.redb")).unwrap();

    // Nothing was lost on the way: both stores open as they were.
    let s = Server::start_in(&embedded, &[]);
    let got = read_all(s.client().get_object().bucket("mine").key("k").send().await.unwrap()).await;
    assert_eq!(got, common::pattern(200_000, 1));
    let a = Server::start_in(&first, &["--meta", &url]);
    a.client().head_bucket().bucket("shared").send().await.unwrap();
}

/// The database goes away under a running gateway: requests that need it fail with
/// 500 InternalError (nothing half-done), and when it is back the same gateway serves
/// again without a restart (its pool reconnects), with everything committed before.
#[tokio::test]
async fn a_database_outage_fails_requests_and_the_gateway_recovers() {
    let Some(mut pg) = TestPostgres::start_own() else {
        return;
    };
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &["--meta", &url]);
    let c = s.client();
    c.create_bucket().bucket("outage").send().await.unwrap();
    c.put_object()
        .bucket("outage")
        .key("before")
        .body(ByteStream::from_static(b"committed"))
        .send()
        .await
        .unwrap();

    pg.stop();
    // No retries: the test looks at each answer.
    let once = aws_sdk_s3::Client::from_conf(
        c.config()
            .to_builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    );
    let put = once
        .put_object()
        .bucket("outage")
        .key("during")
        .body(ByteStream::from_static(b"lost"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::status(&put), 500, "{put:?}");
    assert_eq!(common::code(&put), "InternalError");
    let get = once
        .get_object()
        .bucket("outage")
        .key("before")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::status(&get), 500, "{get:?}");

    pg.start_again();
    // The first requests may still meet a connection of the old server: the pool
    // drops each on its first error. Within a few seconds every request succeeds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = once.get_object().bucket("outage").key("before").send().await;
        match r {
            Ok(o) => {
                assert_eq!(read_all(o).await, b"committed");
                break;
            }
            Err(e) => assert!(std::time::Instant::now() < deadline, "never recovered: {e:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    c.put_object()
        .bucket("outage")
        .key("after")
        .body(ByteStream::from_static(b"again"))
        .send()
        .await
        .unwrap();
    // The PUT refused during the outage left nothing.
    let keys: Vec<String> = c
        .list_objects_v2()
        .bucket("outage")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(keys, ["after", "before"]);
}

#[test]
fn the_database_password_is_never_printed() {
    let Some(pg) = TestPostgres::start() else { return };
    let url = pg.database();
    // The test server trusts every connection: any password is accepted.
    let with_password = url.replacen("://ferrite@", "://ferrite:pw-7c1e9b2d@", 1);
    assert_ne!(with_password, url);
    let dir = tempfile::tempdir().unwrap();
    let (listened, err) = serve_once(&dir.path().join("d"), &["--meta", &with_password], "debug");
    assert!(listened, "{err}");
    assert!(err.contains("PostgreSQL"), "the log names the store: {err}");
    assert!(!err.contains("pw-7c1e9b2d"), "the password is in the log: {err}");
}

#[test]
fn unusable_meta_urls_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (listened, err) = serve_once(&dir.path().join("a"), &["--meta", "mysql://x@h/db"], "warn");
    assert!(!listened);
    assert!(err.contains("expected postgres://"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (listened, err) = serve_once(
        &dir.path().join("b"),
        &["--meta", &format!("postgres://ferrite:pw-51d0@127.0.0.1:{port}/db")],
        "warn",
    );
    assert!(!listened);
    assert!(err.contains("connecting to the metadata store"), "{err}");
    assert!(!err.contains("pw-51d0"), "{err}");
}

/// Waits up to `within` for `done` to hold, checking every 50 ms; returns how long it
/// took.
async fn until_within<F: AsyncFnMut() -> bool>(
    what: &str,
    within: std::time::Duration,
    mut done: F,
) -> std::time::Duration {
    let t = std::time::Instant::now();
    loop {
        if done().await {
            return t.elapsed();
        }
        assert!(t.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Two gateways on one database (and, until object data is in RADOS, one data dir):
/// what one of them caches (a resolved access key, a CORS configuration, which
/// buckets have lifecycle rules) follows a change made through the other within a
/// second: a disabled key is refused, CORS rules apply and go, `x-amz-expiration`
/// appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_gateway_reaches_the_others_caches_within_a_second() {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, CorsConfiguration, CorsRule, ExpirationStatus, LifecycleExpiration,
        LifecycleRule, LifecycleRuleFilter,
    };
    let Some(pg) = TestPostgres::start() else { return };
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let a = Server::start_in(&data_dir, &["--meta", &url]);
    let b = Server::start_in(&data_dir, &["--meta", &url]);
    let second = std::time::Duration::from_secs(1);

    // A key made through A signs on B (and B caches what it resolved).
    let (status, body) = common::iam_as_root(&a, &[("Action", "CreateUser"), ("UserName", "alice")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = common::iam_as_root(&a, &[("Action", "CreateAccessKey"), ("UserName", "alice")]).await;
    assert_eq!(status, 200, "{body}");
    let key = common::xml_tag(&body, "AccessKeyId").unwrap();
    let secret = common::xml_tag(&body, "SecretAccessKey").unwrap();
    let alice_on_b = common::client_with(&b.endpoint(), &key, &secret);
    alice_on_b.list_buckets().send().await.unwrap();
    let (status, body) = common::iam_as_root(
        &a,
        &[
            ("Action", "UpdateAccessKey"),
            ("AccessKeyId", &key),
            ("Status", "Inactive"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let took = until_within("B refuses the disabled key", second, async || {
        match alice_on_b.list_buckets().send().await {
            Ok(_) => false,
            Err(e) => {
                assert_eq!(common::code(&e), "InvalidAccessKeyId");
                true
            }
        }
    })
    .await;
    eprintln!("key disabled through A, refused by B after {took:?}");

    // A user's policy changed through A applies on B: allowed, then denied.
    let bob = common::new_iam_user(&a, "bob").await;
    let put_policy = async |effect: &str| {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"s3:ListAllMyBuckets","Resource":"*"}}]}}"#
        );
        let (status, body) = common::iam_as_root(
            &a,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "bob"),
                ("PolicyName", "listing"),
                ("PolicyDocument", &doc),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    };
    put_policy("Allow").await;
    let bob_on_b = common::client_with(&b.endpoint(), &bob.key_id, &bob.secret);
    until_within("B applies bob's new policy", second, async || {
        bob_on_b.list_buckets().send().await.is_ok()
    })
    .await;
    put_policy("Deny").await;
    let took = until_within("B applies the denial", second, async || {
        match bob_on_b.list_buckets().send().await {
            Ok(_) => false,
            Err(e) => {
                assert_eq!(common::code(&e), "AccessDenied");
                true
            }
        }
    })
    .await;
    eprintln!("policy changed through A, applied by B after {took:?}");

    // CORS set through A applies on B; deleted through A, it goes on B.
    let root_a = a.client();
    root_a.create_bucket().bucket("shared-cors").send().await.unwrap();
    let preflight = async || {
        let (status, _, _) = common::http_send(
            "OPTIONS",
            &format!("{}/shared-cors/k", b.endpoint()),
            &[
                ("Origin", "https://app.example"),
                ("Access-Control-Request-Method", "PUT"),
            ],
            vec![],
        )
        .await;
        status
    };
    assert_eq!(preflight().await, 403, "no configuration yet (and B caches that)");
    let rule = CorsRule::builder()
        .allowed_origins("https://app.example")
        .allowed_methods("PUT")
        .build()
        .unwrap();
    root_a
        .put_bucket_cors()
        .bucket("shared-cors")
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
    let took = until_within("B applies the new rules", second, async || preflight().await == 200).await;
    eprintln!("CORS set through A, applied by B after {took:?}");
    root_a.delete_bucket_cors().bucket("shared-cors").send().await.unwrap();
    until_within("B drops the deleted rules", second, async || preflight().await == 403).await;

    // A lifecycle configuration set through A shows in B's x-amz-expiration.
    let root_b = b.client();
    root_b
        .put_object()
        .bucket("shared-cors")
        .key("expiring")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let head = root_b
        .head_object()
        .bucket("shared-cors")
        .key("expiring")
        .send()
        .await
        .unwrap();
    assert_eq!(head.expiration(), None);
    let rule = LifecycleRule::builder()
        .id("expire")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(30).build())
        .build()
        .unwrap();
    root_a
        .put_bucket_lifecycle_configuration()
        .bucket("shared-cors")
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
    until_within("B states the expiration", second, async || {
        let head = root_b
            .head_object()
            .bucket("shared-cors")
            .key("expiring")
            .send()
            .await
            .unwrap();
        head.expiration().is_some_and(|e| e.contains("rule-id=\"expire\""))
    })
    .await;
}

/// `ferrite admin` and the console work against any gateway: what one is told, the
/// other shows, and a console session opened on one is valid on the other, and
/// ended there for both.
#[tokio::test]
async fn admin_and_console_work_against_any_gateway() {
    use serde_json::{Value, json};
    let Some(pg) = TestPostgres::start() else { return };
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let a = Server::start_in(&data_dir, &["--meta", &url]);
    let b = Server::start_in(&data_dir, &["--meta", &url]);

    a.client().create_bucket().bucket("made-on-a").send().await.unwrap();
    assert!(common::admin_ok(&b, &["bucket", "ls"]).contains("made-on-a"));
    common::admin_ok(&b, &["user", "add", "carol"]);
    assert!(common::admin_ok(&a, &["user", "ls"]).contains("carol"));

    async fn session(
        s: &Server,
        method: &str,
        cookie: Option<&str>,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> (u16, http::HeaderMap, Value) {
        let url = format!("{}/admin/v1/session", s.endpoint());
        let cookie = cookie.map(|c| format!("ferrite_session={c}"));
        let mut headers = vec![("host", s.addr.as_str()), ("content-type", "application/json")];
        if let Some(c) = &cookie {
            headers.push(("cookie", c.as_str()));
        }
        if let Some(t) = csrf {
            headers.push(("x-ferrite-csrf", t));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (st, h, out) = common::http_send(method, &url, &headers, bytes).await;
        (st, h, serde_json::from_slice(&out).unwrap_or(Value::Null))
    }
    let login = json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY});
    let (st, h, _) = session(&a, "POST", None, None, Some(login)).await;
    assert_eq!(st, 201);
    let token = h.get("set-cookie").unwrap().to_str().unwrap();
    let token = token
        .strip_prefix("ferrite_session=")
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_string();
    let (st, _, me) = session(&b, "GET", Some(&token), None, None).await;
    assert_eq!(st, 200, "a session opened on A is valid on B: {me}");
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    let (st, _, _) = session(&b, "DELETE", Some(&token), Some(&csrf), None).await;
    assert_eq!(st, 204, "logout through B");
    assert_eq!(
        session(&a, "GET", Some(&token), None, None).await.0,
        401,
        "ended for A too"
    );
}

/// Runs `ferrite migrate` to the end; returns its stdout.
fn migrate(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("migrate")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "migrate {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// An embedded store copied into PostgreSQL and a new data dir: every kind of
/// object (inline, blob, multipart, versions, SSE-S3 under the same master key), a
/// user's key and tags read back through a server on the copy; the copy of a store
/// it was already made from is refused.
#[tokio::test]
async fn migrate_copies_an_embedded_store_into_postgres() {
    use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption};
    let Some(pg) = TestPostgres::start() else { return };
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    let mut s = Server::start_in(&src, &[]);
    let c = s.client();
    c.create_bucket().bucket("moved").send().await.unwrap();
    common::set_versioning(&c, "moved", BucketVersioningStatus::Enabled).await;
    let put = |key: &'static str, body: Vec<u8>| {
        let c = c.clone();
        async move {
            c.put_object()
                .bucket("moved")
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .unwrap()
        }
    };
    let v1 = put("versioned", b"first".to_vec())
        .await
        .version_id()
        .unwrap()
        .to_string();
    put("versioned", b"second".to_vec()).await;
    put("inline", b"small".to_vec()).await;
    put("blob", common::pattern(300_000, 7)).await;
    c.put_object()
        .bucket("moved")
        .key("sealed")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(common::pattern(200_000, 8)))
        .send()
        .await
        .unwrap();
    let parts = [common::pattern(5 << 20, 1), common::pattern(100_000, 2)];
    common::multipart_put(&c, "moved", "mp", &parts).await;
    let (status, body) = common::iam_as_root(&s, &[("Action", "CreateUser"), ("UserName", "carol")]).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = common::iam_as_root(&s, &[("Action", "CreateAccessKey"), ("UserName", "carol")]).await;
    let (key, secret) = (
        common::xml_tag(&body, "AccessKeyId").unwrap(),
        common::xml_tag(&body, "SecretAccessKey").unwrap(),
    );
    assert!(s.terminate().success());

    let out = migrate(&[
        "--from",
        src.to_str().unwrap(),
        "--meta",
        &url,
        "--data-dir",
        dst.to_str().unwrap(),
    ]);
    assert!(out.contains("migrated: "), "{out}");
    assert!(!out.contains("(resumed)"), "{out}");

    let master = src.join("master.key");
    let d = Server::start_in(
        &dst,
        &["--meta", &url, "--kms-master-key-file", master.to_str().unwrap()],
    );
    let c = d.client();
    let get = |key: &'static str, version: Option<String>| {
        let c = c.clone();
        async move {
            read_all(
                c.get_object()
                    .bucket("moved")
                    .key(key)
                    .set_version_id(version)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(get("versioned", None).await, b"second");
    assert_eq!(get("versioned", Some(v1)).await, b"first");
    assert_eq!(get("inline", None).await, b"small");
    assert_eq!(get("blob", None).await, common::pattern(300_000, 7));
    assert_eq!(get("sealed", None).await, common::pattern(200_000, 8));
    assert_eq!(get("mp", None).await, parts.concat());
    let versions = c.list_object_versions().bucket("moved").send().await.unwrap();
    assert_eq!(versions.versions().len(), 6);
    common::client_with(&d.endpoint(), &key, &secret)
        .list_buckets()
        .send()
        .await
        .unwrap();
    // The data is in the new dir; the database is the metadata.
    assert!(d.blob_files() >= 4, "{}", d.blob_files());
    assert!(!dst.join("meta.redb").exists());
    drop(d);

    // Into a database that holds data already: refused.
    let again = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["migrate", "--from", src.to_str().unwrap(), "--meta", &url, "--data-dir"])
        .arg(dir.path().join("third"))
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
}

/// A migration killed half-way (SIGKILL) leaves a destination that no server opens
/// ("has not finished"), and running it again finishes it: every object reads back.
#[tokio::test]
async fn an_interrupted_migration_resumes() {
    let Some(pg) = TestPostgres::start() else { return };
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    let mut s = Server::start_in(&src, &[]);
    let c = s.client();
    c.create_bucket().bucket("many").send().await.unwrap();
    const N: u64 = 400;
    let mut tasks = Vec::new();
    for i in 0..N {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.put_object()
                .bucket("many")
                .key(format!("k{i:04}"))
                .body(ByteStream::from(common::pattern(70_000, i)))
                .send()
                .await
                .unwrap();
        }));
        if tasks.len() >= 16 {
            for t in tasks.drain(..) {
                t.await.unwrap();
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(s.terminate().success());

    let args = [
        "--from",
        src.to_str().unwrap(),
        "--meta",
        &url,
        "--data-dir",
        dst.to_str().unwrap(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("migrate")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead as _;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("progress: blobs "), "{first}");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed before the end ({first})");

    let (listened, err) = serve_once(&dst, &["--meta", &url], "warn");
    assert!(!listened);
    assert!(err.contains("has not finished"), "{err}");

    let out = migrate(&args);
    assert!(out.contains("(resumed)"), "{out}");
    assert!(out.contains(&format!("blobs {N}/{N}")), "{out}");
    let master = src.join("master.key");
    let d = Server::start_in(
        &dst,
        &["--meta", &url, "--kms-master-key-file", master.to_str().unwrap()],
    );
    let c = d.client();
    for i in (0..N).step_by(7).chain([N - 1]) {
        let got = read_all(
            c.get_object()
                .bucket("many")
                .key(format!("k{i:04}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got, common::pattern(70_000, i), "k{i:04}");
    }
    let mut listed = 0;
    let mut pages = c.list_objects_v2().bucket("many").into_paginator().send();
    while let Some(page) = pages.next().await {
        listed += page.unwrap().contents().len();
    }
    assert_eq!(listed as u64, N);
}

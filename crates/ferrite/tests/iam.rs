//! Users and access keys end to end, against the real binary: the IAM API (signed
//! here with the `aws-sigv4` crate, as the AWS SDKs sign), a user's key used with
//! aws-sdk-s3, key status changes taking effect on the very next request, last use,
//! refusals (a user's own key, unknown keys, bad signatures, unsigned requests), the
//! admin endpoint, and `ferrite admin` driving it all.

mod common;

use std::process::Command;
use std::time::SystemTime;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use common::{ACCESS_KEY, SECRET_KEY, Server, admin, admin_json, admin_ok, client_with, code, new_iam_user};
use http_body_util::{BodyExt, Full};

/// Sends a SigV4-signed request for `service`; returns status and body.
async fn signed(
    endpoint: &str,
    (ak, sk): (&str, &str),
    service: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let authority = endpoint.trim_start_matches("http://").to_string();
    let uri = format!("{endpoint}{path}");
    let mut req = http::Request::builder()
        .method(method)
        .uri(&uri)
        .header("host", &authority);
    if !body.is_empty() {
        req = req.header("content-type", "application/x-www-form-urlencoded; charset=utf-8");
    }
    let mut req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let identity = aws_credential_types::Credentials::new(ak, sk, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        // S3 (s3s) wants the payload hash header, as the S3 SDKs send it.
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    let signable = SignableRequest::new(method, uri.clone(), headers.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    send(req).await
}

async fn send(req: http::Request<Full<Bytes>>) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn form(params: &[(&str, &str)]) -> Vec<u8> {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        f.append_pair(k, v);
    }
    f.append_pair("Version", "2010-05-08");
    f.finish().into_bytes()
}

/// One IAM action, signed with `creds`.
async fn iam(endpoint: &str, creds: (&str, &str), params: &[(&str, &str)]) -> (u16, String) {
    signed(endpoint, creds, "iam", "POST", "/", &form(params)).await
}

const ROOT: (&str, &str) = (ACCESS_KEY, SECRET_KEY);

fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..end].to_string())
}

fn assert_iam_error(got: &(u16, String), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert!(
        got.1
            .contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"),
        "{}",
        got.1
    );
    assert_eq!(tag(&got.1, "Code").as_deref(), Some(code), "{}", got.1);
    assert!(tag(&got.1, "RequestId").is_some_and(|r| !r.is_empty()), "{}", got.1);
}

fn now_iso() -> String {
    let t = aws_smithy_types::DateTime::from(SystemTime::now());
    let s = t.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap();
    format!("{}Z", &s[..19])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_made_through_iam_works_with_s3_until_its_key_is_disabled_or_deleted() {
    let server = Server::start();
    let ep = server.endpoint();
    let root = server.client();

    // Create the user and a key.
    let created = iam(&ep, ROOT, &[("Action", "CreateUser"), ("UserName", "alice")]).await;
    assert_eq!(created.0, 200, "{}", created.1);
    assert!(
        created
            .1
            .contains("<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">")
    );
    assert_eq!(tag(&created.1, "UserName").as_deref(), Some("alice"));
    assert_eq!(
        tag(&created.1, "Arn").as_deref(),
        Some("arn:aws:iam::000000000000:user/alice")
    );
    assert!(tag(&created.1, "UserId").unwrap().starts_with("AIDA"));
    assert!(tag(&created.1, "RequestId").is_some());
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "CreateUser"), ("UserName", "ALICE")]).await,
        409,
        "EntityAlreadyExists",
    );
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "CreateUser"), ("UserName", "no spaces")]).await,
        400,
        "ValidationError",
    );
    let key = iam(&ep, ROOT, &[("Action", "CreateAccessKey"), ("UserName", "alice")]).await;
    assert_eq!(key.0, 200, "{}", key.1);
    let key_id = tag(&key.1, "AccessKeyId").unwrap();
    let secret = tag(&key.1, "SecretAccessKey").unwrap();
    assert_eq!((key_id.len(), secret.len()), (20, 40));
    assert_eq!(tag(&key.1, "Status").as_deref(), Some("Active"));
    let listed = iam(&ep, ROOT, &[("Action", "ListAccessKeys"), ("UserName", "alice")]).await;
    assert_eq!(listed.0, 200);
    assert!(listed.1.contains(&format!("<AccessKeyId>{key_id}</AccessKeyId>")));
    assert!(!listed.1.contains(&secret), "a listing never shows a secret");

    // Never used yet.
    let unused = iam(
        &ep,
        ROOT,
        &[("Action", "GetAccessKeyLastUsed"), ("AccessKeyId", &key_id)],
    )
    .await;
    assert_eq!(unused.0, 200, "{}", unused.1);
    assert_eq!(tag(&unused.1, "UserName").as_deref(), Some("alice"));
    assert_eq!(tag(&unused.1, "LastUsedDate"), None);

    // The user works with S3, on its own buckets.
    let before_use = now_iso();
    let alice = client_with(&ep, &key_id, &secret);
    alice.create_bucket().bucket("alice-bucket").send().await.unwrap();
    alice
        .put_object()
        .bucket("alice-bucket")
        .key("k")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let got = alice.get_object().bucket("alice-bucket").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");
    root.create_bucket().bucket("root-bucket").send().await.unwrap();
    let mine = alice.list_buckets().send().await.unwrap();
    let names: Vec<&str> = mine.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["alice-bucket"], "a user lists only its own buckets");
    // Root may act on every bucket, but ListBuckets lists its own (as on AWS).
    let all = root.list_buckets().send().await.unwrap();
    let names: Vec<&str> = all.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["root-bucket"]);
    let err = alice.head_bucket().bucket("root-bucket").send().await.unwrap_err();
    assert_eq!(common::status(&err), 403);
    // Owners show the user's name.
    let objects = alice
        .list_objects_v2()
        .bucket("alice-bucket")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owner = objects.contents()[0].owner().unwrap();
    assert_eq!(owner.display_name(), Some("alice"));
    assert_eq!(owner.id().map(str::len), Some(64));

    // Last use is reported.
    let used = iam(
        &ep,
        ROOT,
        &[("Action", "GetAccessKeyLastUsed"), ("AccessKeyId", &key_id)],
    )
    .await;
    assert_eq!(used.0, 200, "{}", used.1);
    let last = tag(&used.1, "LastUsedDate").expect("a use is reported");
    assert!(last >= before_use, "{last} < {before_use}");
    assert_eq!(tag(&used.1, "ServiceName").as_deref(), Some("s3"));
    assert_eq!(tag(&used.1, "Region").as_deref(), Some("us-east-1"));

    // The IAM API is root's: a user's own key is refused, as are unknown keys, bad
    // signatures and unsigned requests.
    assert_iam_error(
        &iam(&ep, (&key_id, &secret), &[("Action", "ListUsers")]).await,
        403,
        "AccessDenied",
    );
    assert_iam_error(
        &iam(
            &ep,
            (&key_id, &secret),
            &[("Action", "CreateUser"), ("UserName", "mallory")],
        )
        .await,
        403,
        "AccessDenied",
    );
    assert_iam_error(
        &iam(&ep, ("AKIAUNKNOWNKEY000000", SECRET_KEY), &[("Action", "ListUsers")]).await,
        403,
        "InvalidClientTokenId",
    );
    assert_iam_error(
        &iam(&ep, (ACCESS_KEY, "not-the-secret"), &[("Action", "ListUsers")]).await,
        403,
        "SignatureDoesNotMatch",
    );
    let unsigned = http::Request::post(format!("{ep}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form(&[
            ("Action", "CreateUser"),
            ("UserName", "mallory"),
        ]))))
        .unwrap();
    assert_iam_error(&send(unsigned).await, 403, "MissingAuthenticationToken");
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "GetUser"), ("UserName", "mallory")]).await,
        404,
        "NoSuchEntity",
    );

    // Inactive: refused on the very next request; active again: accepted.
    let off = iam(
        &ep,
        ROOT,
        &[
            ("Action", "UpdateAccessKey"),
            ("UserName", "alice"),
            ("AccessKeyId", &key_id),
            ("Status", "Inactive"),
        ],
    )
    .await;
    assert_eq!(off.0, 200, "{}", off.1);
    assert!(off.1.contains("<UpdateAccessKeyResponse"));
    let err = alice.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId");
    let on = iam(
        &ep,
        ROOT,
        &[
            ("Action", "UpdateAccessKey"),
            ("AccessKeyId", &key_id),
            ("Status", "Active"),
        ],
    )
    .await;
    assert_eq!(on.0, 200, "{}", on.1);
    alice.list_buckets().send().await.unwrap();

    // A second key, then the quota.
    let second = iam(&ep, ROOT, &[("Action", "CreateAccessKey"), ("UserName", "alice")]).await;
    assert_eq!(second.0, 200);
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "CreateAccessKey"), ("UserName", "alice")]).await,
        409,
        "LimitExceeded",
    );
    let second_id = tag(&second.1, "AccessKeyId").unwrap();

    // Keys and buckets keep the user.
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "DeleteUser"), ("UserName", "alice")]).await,
        409,
        "DeleteConflict",
    );
    for id in [&key_id, &second_id] {
        let del = iam(
            &ep,
            ROOT,
            &[
                ("Action", "DeleteAccessKey"),
                ("UserName", "alice"),
                ("AccessKeyId", id),
            ],
        )
        .await;
        assert_eq!(del.0, 200, "{}", del.1);
    }
    let err = alice.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId", "a deleted key is refused at once");
    let conflict = iam(&ep, ROOT, &[("Action", "DeleteUser"), ("UserName", "alice")]).await;
    assert_iam_error(&conflict, 409, "DeleteConflict");
    assert!(conflict.1.contains("alice-bucket"), "{}", conflict.1);
    root.delete_object()
        .bucket("alice-bucket")
        .key("k")
        .send()
        .await
        .unwrap();
    root.delete_bucket().bucket("alice-bucket").send().await.unwrap();
    let deleted = iam(&ep, ROOT, &[("Action", "DeleteUser"), ("UserName", "alice")]).await;
    assert_eq!(deleted.0, 200, "{}", deleted.1);
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "GetUser"), ("UserName", "alice")]).await,
        404,
        "NoSuchEntity",
    );
    // Without a name, GetUser describes its caller: root.
    let me = iam(&ep, ROOT, &[("Action", "GetUser")]).await;
    assert_eq!(me.0, 200, "{}", me.1);
    assert!(me.1.contains("<Arn>arn:aws:iam::000000000000:root</Arn>"), "{}", me.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_pages_with_marker_and_max_items() {
    let server = Server::start();
    let ep = server.endpoint();
    for name in ["u3", "u1", "u5", "u2", "u4"] {
        assert_eq!(
            iam(&ep, ROOT, &[("Action", "CreateUser"), ("UserName", name)]).await.0,
            200
        );
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("Action", "ListUsers"), ("MaxItems", "2")];
        if let Some(m) = &marker {
            params.push(("Marker", m));
        }
        let (status, body) = iam(&ep, ROOT, &params).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        seen.extend(body.split("<member>").skip(1).map(|m| tag(m, "UserName").unwrap()));
        match tag(&body, "IsTruncated").as_deref() {
            Some("true") => marker = Some(tag(&body, "Marker").expect("a truncated page has a marker")),
            Some("false") => break,
            other => panic!("IsTruncated {other:?}"),
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["u1", "u2", "u3", "u4", "u5"]);
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "ListUsers"), ("MaxItems", "0")]).await,
        400,
        "ValidationError",
    );
    // A GET with the query works too, as IAM allows.
    let (status, body) = signed(&ep, ROOT, "iam", "GET", "/?Action=ListUsers&Version=2010-05-08", b"").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<ListUsersResponse"));
    assert_iam_error(&iam(&ep, ROOT, &[("Action", "CreateRole")]).await, 400, "InvalidAction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoint_is_for_admin_signed_root_requests_only() {
    let server = Server::start();
    let ep = server.endpoint();
    let root = server.client();
    // A bucket named "admin" with an object at "v1/buckets" stays an S3 resource.
    root.create_bucket().bucket("admin").send().await.unwrap();
    root.put_object()
        .bucket("admin")
        .key("v1/buckets")
        .body(ByteStream::from_static(b"an object"))
        .send()
        .await
        .unwrap();
    let got = root
        .get_object()
        .bucket("admin")
        .key("v1/buckets")
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"an object");
    let (status, body) = signed(&ep, ROOT, "s3", "GET", "/admin/v1/buckets", b"").await;
    assert_eq!((status, body.as_str()), (200, "an object"), "s3-signed: S3's object");

    let (status, body) = signed(&ep, ROOT, "admin", "GET", "/admin/v1/buckets", b"").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rows = v["buckets"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "admin");
    assert_eq!(rows[0]["owner"], "ferrite");
    assert_eq!(rows[0]["objects"], 1);
    assert_eq!(rows[0]["bytes"], 9);

    // Users may not; unsigned or badly signed requests are not admin requests.
    iam(&ep, ROOT, &[("Action", "CreateUser"), ("UserName", "bob")]).await;
    let key = iam(&ep, ROOT, &[("Action", "CreateAccessKey"), ("UserName", "bob")])
        .await
        .1;
    let bob = (tag(&key, "AccessKeyId").unwrap(), tag(&key, "SecretAccessKey").unwrap());
    let (status, body) = signed(&ep, (&bob.0, &bob.1), "admin", "GET", "/admin/v1/buckets", b"").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"));
    let (status, _) = signed(&ep, (ACCESS_KEY, "wrong"), "admin", "GET", "/admin/v1/buckets", b"").await;
    assert_eq!(status, 403);
    let (status, _) = signed(&ep, ROOT, "admin", "GET", "/admin/v1/nothing", b"").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrite_admin_manages_users_keys_and_lists_buckets() {
    let server = Server::start();
    let ep = server.endpoint();
    assert!(admin_ok(&server, &["user", "add", "carol"]).contains("created user carol"));
    let users = admin_json(&server, &["user", "ls"]);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["name"], "carol");
    assert!(admin_ok(&server, &["user", "ls"]).contains("carol"));

    let key = admin_json(&server, &["key", "add", "carol"]);
    let key_id = key["access_key_id"].as_str().unwrap().to_string();
    let secret = key["secret_access_key"].as_str().unwrap().to_string();
    assert_eq!((key_id.len(), secret.len()), (20, 40));
    let human = admin_ok(&server, &["key", "add", "carol"]);
    assert!(
        human.contains("secret key: "),
        "a new key's secret is printed once: {human}"
    );
    let keys = admin_json(&server, &["key", "ls", "carol"]);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("secret_access_key").is_none())
    );
    let listed = admin_ok(&server, &["key", "ls", "carol"]);
    assert!(listed.contains(&key_id) && listed.contains("Active"), "{listed}");

    let carol = client_with(&ep, &key_id, &secret);
    carol.create_bucket().bucket("carol-bucket").send().await.unwrap();
    carol
        .put_object()
        .bucket("carol-bucket")
        .key("a")
        .body(ByteStream::from_static(b"12345"))
        .send()
        .await
        .unwrap();
    server
        .client()
        .create_bucket()
        .bucket("root-bucket")
        .send()
        .await
        .unwrap();
    let buckets = admin_json(&server, &["bucket", "ls"]);
    let rows = buckets.as_array().unwrap();
    assert_eq!(rows.len(), 2, "all buckets: {buckets}");
    let row = rows.iter().find(|b| b["name"] == "carol-bucket").unwrap();
    assert_eq!(
        (row["owner"].as_str(), row["objects"].as_u64(), row["bytes"].as_u64()),
        (Some("carol"), Some(1), Some(5))
    );
    let row = rows.iter().find(|b| b["name"] == "root-bucket").unwrap();
    assert_eq!(row["owner"], "ferrite");
    let table = admin_ok(&server, &["bucket", "ls"]);
    assert!(table.contains("carol-bucket") && table.contains("carol"), "{table}");

    admin_ok(&server, &["key", "disable", "carol", &key_id]);
    assert_eq!(
        code(&carol.list_buckets().send().await.unwrap_err()),
        "InvalidAccessKeyId"
    );
    admin_ok(&server, &["key", "enable", "carol", &key_id]);
    carol.list_buckets().send().await.unwrap();

    let (ok, _, err) = admin(&server, &["user", "rm", "carol"]);
    assert!(!ok);
    assert!(err.contains("DeleteConflict"), "{err}");
    for k in admin_json(&server, &["key", "ls", "carol"]).as_array().unwrap() {
        admin_ok(&server, &["key", "rm", "carol", k["access_key_id"].as_str().unwrap()]);
    }
    assert_eq!(
        code(&carol.list_buckets().send().await.unwrap_err()),
        "InvalidAccessKeyId"
    );
    let (ok, _, err) = admin(&server, &["user", "rm", "carol"]);
    assert!(!ok && err.contains("carol-bucket"), "owns a bucket: {err}");
    server
        .client()
        .delete_object()
        .bucket("carol-bucket")
        .key("a")
        .send()
        .await
        .unwrap();
    server
        .client()
        .delete_bucket()
        .bucket("carol-bucket")
        .send()
        .await
        .unwrap();
    admin_ok(&server, &["user", "rm", "carol"]);
    assert_eq!(admin_json(&server, &["user", "ls"]), serde_json::json!([]));
    let (ok, _, err) = admin(&server, &["user", "rm", "carol"]);
    assert!(!ok && err.contains("NoSuchEntity"), "{err}");

    // Root's credentials from a data dir's credentials.json when the environment has none.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("credentials.json"),
        format!("{{\"access_key\":\"{ACCESS_KEY}\",\"secret_key\":\"{SECRET_KEY}\"}}"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["admin", "--endpoint", &ep, "--json", "--data-dir"])
        .arg(dir.path())
        .args(["user", "ls"])
        .env_remove("FERRITE_ROOT_ACCESS_KEY")
        .env_remove("FERRITE_ROOT_SECRET_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_bodies_over_64_kib_are_refused_before_anything_runs() {
    let server = Server::start();
    let ep = server.endpoint();
    let mut body = form(&[("Action", "CreateUser"), ("UserName", "big")]);
    body.extend(std::iter::repeat_n(b'x', 64 * 1024));
    let (status, text) = signed(&ep, ROOT, "iam", "POST", "/", &body).await;
    assert_eq!(status, 413, "{text}");
    assert_iam_error(
        &iam(&ep, ROOT, &[("Action", "GetUser"), ("UserName", "big")]).await,
        404,
        "NoSuchEntity",
    );
}

/// A user's secret access key is stored sealed by the master key: a copy of the
/// metadata file alone does not reveal it, and the key still signs after a restart.
#[tokio::test]
async fn secret_access_keys_are_stored_sealed() {
    let mut s = Server::start();
    let user = new_iam_user(&s, "sealed").await;
    assert!(s.terminate().success());
    let meta = s.metadata_bytes();
    assert!(
        meta.windows(user.key_id.len()).any(|w| w == user.key_id.as_bytes()),
        "the scan sees the key id, which is not secret"
    );
    assert!(
        !meta.windows(user.secret.len()).any(|w| w == user.secret.as_bytes()),
        "the secret access key is in the metadata store in the clear"
    );
    s.restart();
    let c = client_with(&s.endpoint(), &user.key_id, &user.secret);
    let e = c.list_objects_v2().bucket("none-such").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchBucket", "the key authenticates after the restart");
}

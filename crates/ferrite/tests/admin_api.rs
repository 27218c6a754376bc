//! The admin API (`/admin/v1/`, JSON, SigV4 for the service `admin`) against the real
//! binary: every endpoint for root and for a user with the built-in `admin` policy,
//! the same endpoints refused (403, nothing changed) for a user without it and for a
//! user allowed only some `admin:`/`iam:` actions, its errors, and the OpenAPI
//! document checked against what the server actually serves.

mod common;

use common::{ACCESS_KEY, SECRET_KEY, Server, http_send, iam_as_root, new_iam_user, signed_request};
use serde_json::{Value, json};

const ROOT: (&str, &str) = (ACCESS_KEY, SECRET_KEY);

/// An admin call: status, headers and the JSON body (Null when empty).
async fn call(s: &Server, who: (&str, &str), method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, _, v) = call_h(s, who, method, path, body).await;
    (status, v)
}

async fn call_h(
    s: &Server,
    who: (&str, &str),
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, http::HeaderMap, Value) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let ct = [("content-type", "application/json")];
    let (status, headers, out) = signed_request(s, who, "admin", method, path, &ct, bytes).await;
    let v = if out.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {}", String::from_utf8_lossy(&out)))
    };
    (status, headers, v)
}

/// An unsigned admin call with a console session's cookie (and CSRF token).
async fn cookie_call(
    s: &Server,
    cookie: &str,
    csrf: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, http::HeaderMap, Value) {
    let url = format!("{}{path}", s.endpoint());
    let cookie = format!("ferrite_session={cookie}");
    let mut headers = vec![
        ("host", s.addr.as_str()),
        ("cookie", cookie.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(t) = csrf {
        headers.push(("x-ferrite-csrf", t));
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (st, h, out) = http_send(method, &url, &headers, bytes).await;
    let v = if out.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e})"))
    };
    (st, h, v)
}

/// Logs in (an unsigned POST): the session token from the cookie, and the answer.
async fn login(s: &Server, body: Value) -> (String, Value) {
    let (st, h, v) = try_login(s, body).await;
    assert_eq!(st, 201, "{v}");
    let set = h.get("set-cookie").expect("a session cookie").to_str().unwrap();
    let token = set
        .strip_prefix("ferrite_session=")
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_string();
    (token, v)
}

async fn try_login(s: &Server, body: Value) -> (u16, http::HeaderMap, Value) {
    let url = format!("{}/admin/v1/session", s.endpoint());
    let (st, h, out) = http_send(
        "POST",
        &url,
        &[("host", s.addr.as_str()), ("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await;
    (st, h, serde_json::from_slice(&out).unwrap_or(Value::Null))
}

/// Every admin route with the JSON body it takes, on the user `u`, its key `k` and
/// the policies `p` (managed) and `i` (inline), for the refusal matrix.
fn every_call(
    u: &str,
    k: &str,
    p: &str,
    i: &str,
    b: &str,
    kk: &str,
    sid: &str,
) -> Vec<(&'static str, String, Option<Value>)> {
    let doc =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    let bucket_doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{b}/*")}]});
    vec![
        ("GET", "/admin/v1/info".into(), None),
        ("GET", "/admin/v1/buckets".into(), None),
        ("GET", "/admin/v1/kms/keys".into(), None),
        (
            "POST",
            "/admin/v1/kms/keys".into(),
            Some(json!({"description": "mine"})),
        ),
        ("GET", format!("/admin/v1/kms/keys/{kk}"), None),
        (
            "PATCH",
            format!("/admin/v1/kms/keys/{kk}"),
            Some(json!({"enabled": false})),
        ),
        ("GET", format!("/admin/v1/buckets/{b}"), None),
        ("DELETE", format!("/admin/v1/buckets/{b}"), None),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/versioning"),
            Some(json!({"status": "Enabled"})),
        ),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/policy"),
            Some(json!({"document": bucket_doc})),
        ),
        ("DELETE", format!("/admin/v1/buckets/{b}/policy"), None),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/cors"),
            Some(
                json!({"document": "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"}),
            ),
        ),
        ("DELETE", format!("/admin/v1/buckets/{b}/cors"), None),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/lifecycle"),
            Some(
                json!({"document": "<LifecycleConfiguration><Rule><ID>x</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"}),
            ),
        ),
        ("DELETE", format!("/admin/v1/buckets/{b}/lifecycle"), None),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/encryption"),
            Some(json!({"algorithm": "AES256"})),
        ),
        ("DELETE", format!("/admin/v1/buckets/{b}/encryption"), None),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/public-access-block"),
            Some(
                json!({"block_public_acls": false, "ignore_public_acls": false, "block_public_policy": false, "restrict_public_buckets": false}),
            ),
        ),
        ("DELETE", format!("/admin/v1/buckets/{b}/public-access-block"), None),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/ownership"),
            Some(json!({"ownership": "ObjectWriter"})),
        ),
        ("DELETE", format!("/admin/v1/buckets/{b}/ownership"), None),
        (
            "PUT",
            format!("/admin/v1/buckets/{b}/object-lock"),
            Some(json!({"default_retention": null})),
        ),
        ("GET", "/admin/v1/kms/master-key".into(), None),
        ("POST", "/admin/v1/kms/rotate".into(), None),
        ("GET", "/admin/v1/users".into(), None),
        ("POST", "/admin/v1/users".into(), Some(json!({"name": "mallory"}))),
        ("GET", format!("/admin/v1/users/{u}"), None),
        ("DELETE", format!("/admin/v1/users/{u}"), None),
        ("GET", format!("/admin/v1/users/{u}/keys"), None),
        ("POST", format!("/admin/v1/users/{u}/keys"), None),
        (
            "PATCH",
            format!("/admin/v1/users/{u}/keys/{k}"),
            Some(json!({"status": "Inactive"})),
        ),
        ("DELETE", format!("/admin/v1/users/{u}/keys/{k}"), None),
        ("GET", format!("/admin/v1/users/{u}/inline-policies"), None),
        ("GET", format!("/admin/v1/users/{u}/inline-policies/{i}"), None),
        (
            "PUT",
            format!("/admin/v1/users/{u}/inline-policies/{i}"),
            Some(json!({"document": doc})),
        ),
        ("DELETE", format!("/admin/v1/users/{u}/inline-policies/{i}"), None),
        ("GET", format!("/admin/v1/users/{u}/policies"), None),
        ("PUT", format!("/admin/v1/users/{u}/policies/{p}"), None),
        ("DELETE", format!("/admin/v1/users/{u}/policies/{p}"), None),
        ("GET", "/admin/v1/policies".into(), None),
        (
            "POST",
            "/admin/v1/policies".into(),
            Some(json!({"name": "evil", "document": doc})),
        ),
        ("GET", format!("/admin/v1/policies/{p}"), None),
        ("DELETE", format!("/admin/v1/policies/{p}"), None),
        ("GET", "/admin/v1/sessions".into(), None),
        ("DELETE", format!("/admin/v1/sessions/{sid}"), None),
        ("GET", "/admin/v1/metrics".into(), None),
        (
            "POST",
            "/admin/v1/simulate".into(),
            Some(json!({"user": u, "action": "s3:GetObject", "resource": "arn:aws:s3:::x/y"})),
        ),
        ("GET", format!("/admin/v1/users/{u}/password"), None),
        (
            "PUT",
            format!("/admin/v1/users/{u}/password"),
            Some(json!({"password": "a long enough password"})),
        ),
        ("DELETE", format!("/admin/v1/users/{u}/password"), None),
    ]
}

/// What root and an admin user do: a user's whole life through the admin API, each
/// step checked, the S3 effect of its key checked with the SDK.
async fn user_lifecycle(s: &Server, who: (&str, &str), name: &str) {
    let (st, v) = call(s, who, "POST", "/admin/v1/users", Some(json!({"name": name}))).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["name"], name);
    assert!(v["arn"].as_str().unwrap().ends_with(&format!(":user/{name}")));
    let (st, v) = call(s, who, "POST", "/admin/v1/users", Some(json!({"name": name}))).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("EntityAlreadyExists")), "{v}");
    let (st, v) = call(s, who, "GET", "/admin/v1/users?max_items=1000", None).await;
    assert_eq!(st, 200);
    assert!(v["users"].as_array().unwrap().iter().any(|u| u["name"] == name), "{v}");
    let (st, v) = call(s, who, "GET", &format!("/admin/v1/users/{name}"), None).await;
    assert_eq!((st, v["name"].as_str()), (200, Some(name)));

    // A key: its secret shown once, then it signs S3 requests until made inactive.
    let (st, key) = call(s, who, "POST", &format!("/admin/v1/users/{name}/keys"), None).await;
    assert_eq!(st, 201, "{key}");
    let (kid, secret) = (
        key["access_key_id"].as_str().unwrap(),
        key["secret_access_key"].as_str().unwrap(),
    );
    assert_eq!(key["status"], "Active");
    let user_client = common::client_with(&s.endpoint(), kid, secret);
    user_client
        .list_buckets()
        .send()
        .await
        .expect("a new key signs S3 requests");
    let (st, keys) = call(s, who, "GET", &format!("/admin/v1/users/{name}/keys"), None).await;
    assert_eq!(st, 200);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert!(
        keys["keys"][0].get("secret_access_key").is_none(),
        "a listing never shows secrets"
    );
    let key_path = format!("/admin/v1/users/{name}/keys/{kid}");
    let (st, v) = call(s, who, "PATCH", &key_path, Some(json!({"status": "Inactive"}))).await;
    assert_eq!(st, 204, "{v}");
    assert!(
        user_client.list_buckets().send().await.is_err(),
        "an inactive key signs nothing"
    );
    let (st, v) = call(s, who, "PATCH", &key_path, Some(json!({"status": "Sleeping"}))).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    let (st, _) = call(s, who, "PATCH", &key_path, Some(json!({"status": "Active"}))).await;
    assert_eq!(st, 204);

    // An inline policy: stored, read, refused when it does not parse, deleted.
    let inline = format!("/admin/v1/users/{name}/inline-policies/read-a");
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]});
    let (st, v) = call(s, who, "PUT", &inline, Some(json!({"document": doc}))).await;
    assert_eq!(st, 204, "{v}");
    let (st, v) = call(s, who, "GET", &inline, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<Value>(v["document"].as_str().unwrap()).unwrap(),
        doc
    );
    let (st, v) = call(s, who, "GET", &format!("/admin/v1/users/{name}/inline-policies"), None).await;
    assert_eq!((st, v["policies"].clone()), (200, json!(["read-a"])));
    let bad =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Nope", "Resource": "*"}]});
    let (st, v) = call(s, who, "PUT", &inline, Some(json!({"document": bad}))).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("MalformedPolicyDocument")), "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("s3:Nope"),
        "the parser says what is wrong: {v}"
    );
    let (_, v) = call(s, who, "GET", &inline, None).await;
    assert_eq!(
        serde_json::from_str::<Value>(v["document"].as_str().unwrap()).unwrap(),
        doc,
        "a refused document changes nothing"
    );
    let (st, _) = call(s, who, "DELETE", &inline, None).await;
    assert_eq!(st, 204);

    // A managed policy: created (as a JSON string this time), attached, in use, gone.
    let pname = format!("{name}-ro");
    let (st, v) = call(
        s,
        who,
        "POST",
        "/admin/v1/policies",
        Some(json!({"name": pname, "description": "reads", "document": doc.to_string()})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["built_in"].as_bool()),
        (Some(pname.as_str()), Some(false))
    );
    let (st, v) = call(s, who, "GET", &format!("/admin/v1/policies/{pname}"), None).await;
    assert_eq!((st, v["description"].as_str()), (200, Some("reads")));
    assert!(v["document"].is_string());
    let (st, v) = call(s, who, "GET", "/admin/v1/policies", None).await;
    assert_eq!(st, 200);
    let names: Vec<&str> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"admin") && names.contains(&"readonly") && names.contains(&pname.as_str()),
        "{names:?}"
    );
    let attach = format!("/admin/v1/users/{name}/policies/{pname}");
    assert_eq!(call(s, who, "PUT", &attach, None).await.0, 204);
    let (st, v) = call(s, who, "GET", &format!("/admin/v1/users/{name}/policies"), None).await;
    assert_eq!(st, 200);
    assert_eq!(v["policies"][0]["name"], pname.as_str());
    let (st, v) = call(s, who, "DELETE", &format!("/admin/v1/policies/{pname}"), None).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (409, Some("DeleteConflict")),
        "an attached policy stays: {v}"
    );
    let (st, v) = call(s, who, "DELETE", &format!("/admin/v1/users/{name}"), None).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (409, Some("DeleteConflict")),
        "a user with a key stays: {v}"
    );
    assert_eq!(call(s, who, "DELETE", &attach, None).await.0, 204);
    assert_eq!(
        call(s, who, "DELETE", &format!("/admin/v1/policies/{pname}"), None)
            .await
            .0,
        204
    );
    assert_eq!(call(s, who, "DELETE", &key_path, None).await.0, 204);
    assert_eq!(
        call(s, who, "DELETE", &format!("/admin/v1/users/{name}"), None).await.0,
        204
    );
    let (st, v) = call(s, who, "GET", &format!("/admin/v1/users/{name}"), None).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("NoSuchEntity")), "{v}");
}

/// The server views: info (with the data dir's tier and its space), buckets, the
/// master key.
async fn server_views(s: &Server, who: (&str, &str)) {
    let (st, info) = call(s, who, "GET", "/admin/v1/info", None).await;
    assert_eq!(st, 200, "{info}");
    assert!(!info["version"].as_str().unwrap().is_empty());
    assert_eq!(info["format"], 3);
    assert!(info["uptime_secs"].as_u64().is_some());
    let data_dir = s.data_dir.canonicalize().unwrap();
    assert_eq!(info["data_dir"].as_str().unwrap(), data_dir.to_str().unwrap());
    let t = &info["tiers"][0];
    assert_eq!(
        (t["name"].as_str(), t["compress"].as_bool()),
        (Some("default"), Some(false))
    );
    assert_eq!(t["dir"], info["data_dir"]);
    let classes: Vec<&str> = t["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(classes.len(), 8, "every regional class in the data dir: {classes:?}");
    assert!(classes.contains(&"STANDARD") && classes.contains(&"GLACIER"));
    let (total, free) = (t["total_bytes"].as_u64().unwrap(), t["free_bytes"].as_u64().unwrap());
    assert!(total > 0 && free > 0 && free <= total, "{t}");
    if who == ROOT {
        // `ferrite admin info` shows the same.
        let cli = common::admin_json(s, &["info"]);
        assert_eq!(
            (&cli["format"], &cli["data_dir"], &cli["tiers"][0]["name"]),
            (&info["format"], &info["data_dir"], &t["name"])
        );
        let text = common::admin_ok(s, &["info"]);
        assert!(text.contains("format       3") && text.contains("STANDARD"), "{text}");
    }
    let (st, v) = call(s, who, "GET", "/admin/v1/buckets", None).await;
    assert_eq!(st, 200);
    assert!(
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == "seen-by-admins"),
        "{v}"
    );
    let (st, v) = call(s, who, "GET", "/admin/v1/kms/master-key", None).await;
    assert_eq!(st, 200, "{v}");
    assert!(v["current"].as_u64().is_some());
}

/// A bucket's settings through the admin API, each change seen by the S3 API too.
async fn bucket_settings(s: &Server, who: (&str, &str), bucket: &str) {
    let root = s.client();
    root.create_bucket().bucket(bucket).send().await.unwrap();
    let path = format!("/admin/v1/buckets/{bucket}");
    let (st, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["versioning"].as_str()),
        (Some(bucket), Some("Unversioned"))
    );
    for unset in [
        "object_lock",
        "encryption",
        "policy",
        "public_access_block",
        "ownership",
    ] {
        assert!(v[unset].is_null(), "{unset}: {v}");
    }
    assert_eq!((v["cors_rules"].as_u64(), v["objects"].as_u64()), (Some(0), Some(0)));

    let (st, v) = call(
        s,
        who,
        "PUT",
        &format!("{path}/versioning"),
        Some(json!({"status": "Enabled"})),
    )
    .await;
    assert_eq!(st, 204, "{v}");
    let got = root.get_bucket_versioning().bucket(bucket).send().await.unwrap();
    assert_eq!(got.status().map(|s| s.as_str()), Some("Enabled"));
    let (st, v) = call(
        s,
        who,
        "PUT",
        &format!("{path}/versioning"),
        Some(json!({"status": "Off"})),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");

    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
    let (st, v) = call(s, who, "PUT", &format!("{path}/policy"), Some(json!({"document": doc}))).await;
    assert_eq!(st, 204, "{v}");
    let stored = root.get_bucket_policy().bucket(bucket).send().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(stored.policy().unwrap()).unwrap(), doc);
    let outside = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}]});
    let (st, v) = call(
        s,
        who,
        "PUT",
        &format!("{path}/policy"),
        Some(json!({"document": outside})),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("MalformedPolicy")), "{v}");
    let (st, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(st, 200);
    assert_eq!(v["versioning"], "Enabled");
    assert_eq!(
        serde_json::from_str::<Value>(v["policy"].as_str().unwrap()).unwrap(),
        doc,
        "the refused policy changed nothing"
    );
    assert_eq!(call(s, who, "DELETE", &format!("{path}/policy"), None).await.0, 204);
    assert!(root.get_bucket_policy().bucket(bucket).send().await.is_err());

    // Default encryption, public access block and ownership: set through the admin
    // API, seen by the S3 API, removed; bad values refused.
    let put = |what: &'static str, body: Value| {
        let path = format!("{path}/{what}");
        async move { call(s, who, "PUT", &path, Some(body)).await }
    };
    let (st, v) = put("encryption", json!({"algorithm": "aws:kms", "bucket_key": true})).await;
    assert_eq!(st, 204, "{v}");
    let got = root.get_bucket_encryption().bucket(bucket).send().await.unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "aws:kms"
    );
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    for bad in [
        json!({"algorithm": "AES128"}),
        json!({"algorithm": "AES256", "bucket_key": true}),
    ] {
        let (st, v) = put("encryption", bad.clone()).await;
        assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{bad}: {v}");
    }
    let (_, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(
        v["encryption"],
        json!({"algorithm": "aws:kms", "kms_key_id": null, "bucket_key": true}),
        "the refusals changed nothing: {v}"
    );
    // As on AWS ("Amazon S3 doesn't validate the KMS key ID provided in
    // PutBucketEncryption requests"), the key is checked when an object uses it.
    let (st, v) = put(
        "encryption",
        json!({"algorithm": "aws:kms", "kms_key_id": "alias/none-such"}),
    )
    .await;
    assert_eq!(st, 204, "{v}");
    let (_, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(v["encryption"]["kms_key_id"], "alias/none-such", "{v}");
    assert_eq!(call(s, who, "DELETE", &format!("{path}/encryption"), None).await.0, 204);
    assert!(root.get_bucket_encryption().bucket(bucket).send().await.is_err());

    let block = json!({"block_public_acls": true, "ignore_public_acls": false, "block_public_policy": true, "restrict_public_buckets": false});
    assert_eq!(put("public-access-block", block.clone()).await.0, 204);
    let got = root.get_public_access_block().bucket(bucket).send().await.unwrap();
    let c = got.public_access_block_configuration().unwrap();
    assert_eq!(
        (c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy()),
        (Some(true), Some(false), Some(true))
    );
    let (_, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(v["public_access_block"], block);
    assert_eq!(
        call(s, who, "DELETE", &format!("{path}/public-access-block"), None)
            .await
            .0,
        204
    );
    assert!(root.get_public_access_block().bucket(bucket).send().await.is_err());

    assert_eq!(
        put("ownership", json!({"ownership": "BucketOwnerEnforced"})).await.0,
        204
    );
    let got = root
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership().as_str(),
        "BucketOwnerEnforced"
    );
    let (st, v) = put("ownership", json!({"ownership": "Nobody"})).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    assert_eq!(call(s, who, "DELETE", &format!("{path}/ownership"), None).await.0, 204);
    assert!(
        root.get_bucket_ownership_controls()
            .bucket(bucket)
            .send()
            .await
            .is_err()
    );

    // CORS and lifecycle: the S3 API's XML documents, through the same parser.
    let cors = r#"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"#;
    assert_eq!(put("cors", json!({"document": cors})).await.0, 204);
    let got = root.get_bucket_cors().bucket(bucket).send().await.unwrap();
    assert_eq!(got.cors_rules()[0].allowed_origins(), ["https://app.example"]);
    let (st, v) = put("cors", json!({"document": "<CORSConfiguration><CORSRule>"})).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("MalformedXML")), "{v}");
    let (st, v) = put(
        "cors",
        json!({"document": "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>BREW</AllowedMethod></CORSRule></CORSConfiguration>"}),
    )
    .await;
    assert_eq!(st, 400, "an unknown method is refused: {v}");
    let (_, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(v["cors_rules"], 1, "the refusals changed nothing: {v}");
    assert_eq!(call(s, who, "DELETE", &format!("{path}/cors"), None).await.0, 204);
    assert!(root.get_bucket_cors().bucket(bucket).send().await.is_err());
    let lifecycle = r#"<LifecycleConfiguration><Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"#;
    assert_eq!(put("lifecycle", json!({"document": lifecycle})).await.0, 204);
    let got = root
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules()[0].id(), Some("tmp"));
    let two_children = r#"<LifecycleConfiguration><Rule><ID>x</ID><Filter><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"#;
    let (st, v) = put("lifecycle", json!({"document": two_children})).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("MalformedXML")), "{v}");
    let (_, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(v["lifecycle_rules"], 1, "{v}");
    assert_eq!(call(s, who, "DELETE", &format!("{path}/lifecycle"), None).await.0, 204);
    assert!(
        root.get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
            .is_err()
    );

    // Object lock defaults need a lock bucket.
    let (st, v) = put(
        "object-lock",
        json!({"default_retention": {"mode": "GOVERNANCE", "days": 1}}),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    let (_, v) = call(s, who, "GET", &path, None).await;
    assert!(v["object_lock"].is_null(), "the refusal changed nothing: {v}");
    // With "enable", the (versioned) bucket becomes a lock bucket for good.
    let (st, v) = put("object-lock", json!({"default_retention": null, "enable": true})).await;
    assert_eq!(st, 204, "{v}");
    let got = root
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.object_lock_configuration()
            .unwrap()
            .object_lock_enabled()
            .map(|e| e.as_str()),
        Some("Enabled")
    );

    // Usage, and delete only when empty.
    root.put_object()
        .bucket(bucket)
        .key("k")
        .body(b"12345".to_vec().into())
        .send()
        .await
        .unwrap();
    let (_, v) = call(s, who, "GET", &path, None).await;
    assert_eq!(
        (v["objects"].as_u64(), v["bytes"].as_u64(), v["policy"].is_null()),
        (Some(1), Some(5), true),
        "{v}"
    );
    let (st, v) = call(s, who, "DELETE", &path, None).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("BucketNotEmpty")), "{v}");
    let versions = root.list_object_versions().bucket(bucket).send().await.unwrap();
    for ver in versions.versions() {
        root.delete_object()
            .bucket(bucket)
            .key("k")
            .version_id(ver.version_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(call(s, who, "DELETE", &path, None).await.0, 204);
    let (st, v) = call(s, who, "GET", &path, None).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("NoSuchBucket")), "{v}");
}

/// KMS keys: created with an alias, found by id and by alias, disabled and enabled
/// (as the KMS API then reports), and the KMS errors.
async fn kms_keys(s: &Server, who: (&str, &str), alias: &str) {
    let (st, key) = call(
        s,
        who,
        "POST",
        "/admin/v1/kms/keys",
        Some(json!({"description": "backups", "alias": alias})),
    )
    .await;
    assert_eq!(st, 201, "{key}");
    assert_eq!(
        (key["state"].as_str(), key["manager"].as_str()),
        (Some("Enabled"), Some("CUSTOMER"))
    );
    assert_eq!(key["aliases"], json!([alias]));
    let id = key["key_id"].as_str().unwrap();
    let (st, v) = call(s, who, "GET", "/admin/v1/kms/keys", None).await;
    assert_eq!(st, 200);
    assert!(v["keys"].as_array().unwrap().iter().any(|k| k["key_id"] == id), "{v}");
    let by_alias = format!("/admin/v1/kms/keys/{}", alias.replace('/', "%2F"));
    let (st, v) = call(s, who, "GET", &by_alias, None).await;
    assert_eq!((st, v["key_id"].as_str()), (200, Some(id)), "{v}");
    let (st, v) = call(
        s,
        who,
        "PATCH",
        &format!("/admin/v1/kms/keys/{id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!((st, v["state"].as_str()), (200, Some("Disabled")), "{v}");
    let kms = common::kms_client(s, ACCESS_KEY, SECRET_KEY);
    let described = kms.describe_key().key_id(id).send().await.unwrap();
    assert!(
        !described.key_metadata().unwrap().enabled(),
        "the KMS API sees the same key"
    );
    let (st, v) = call(s, who, "PATCH", &by_alias, Some(json!({"enabled": true}))).await;
    assert_eq!((st, v["state"].as_str()), (200, Some("Enabled")), "{v}");
    let (st, v) = call(s, who, "POST", "/admin/v1/kms/keys", Some(json!({"alias": alias}))).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("AlreadyExistsException")), "{v}");
    let (st, v) = call(
        s,
        who,
        "GET",
        "/admin/v1/kms/keys/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (404, Some("NotFoundException")), "{v}");
    let (st, v) = call(s, who, "PATCH", &by_alias, Some(json!({"enabled": "yes"}))).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
}

/// The settings view of a lock bucket with a default retention and default
/// encryption, set through the S3 API.
async fn lock_and_encryption_settings(s: &Server) {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let root = s.client();
    let bucket = "locked-settings";
    root.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .days(3)
                .build(),
        )
        .build();
    let config = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(rule)
        .build();
    root.put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(config)
        .send()
        .await
        .unwrap();
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .unwrap();
    let sse = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .unwrap();
    root.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(sse)
        .send()
        .await
        .unwrap();
    let (st, v) = call(s, ROOT, "GET", &format!("/admin/v1/buckets/{bucket}"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["versioning"], "Enabled");
    assert_eq!(
        v["object_lock"],
        json!({"default_retention": {"mode": "GOVERNANCE", "days": 3}})
    );
    // Changed through the admin API: seen by the S3 API; removed with null.
    let lock_path = format!("/admin/v1/buckets/{bucket}/object-lock");
    let (st, v) = call(
        s,
        ROOT,
        "PUT",
        &lock_path,
        Some(json!({"default_retention": {"mode": "COMPLIANCE", "years": 1}})),
    )
    .await;
    assert_eq!(st, 204, "{v}");
    let got = root
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rule = got
        .object_lock_configuration()
        .unwrap()
        .rule()
        .unwrap()
        .default_retention()
        .unwrap();
    assert_eq!(
        (rule.mode().map(|m| m.as_str()), rule.years()),
        (Some("COMPLIANCE"), Some(1))
    );
    let (st, v) = call(
        s,
        ROOT,
        "PUT",
        &lock_path,
        Some(json!({"default_retention": {"mode": "GOVERNANCE", "days": 1, "years": 1}})),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    assert_eq!(
        call(s, ROOT, "PUT", &lock_path, Some(json!({"default_retention": null})))
            .await
            .0,
        204
    );
    let (_, v) = call(s, ROOT, "GET", &format!("/admin/v1/buckets/{bucket}"), None).await;
    assert_eq!(v["object_lock"], json!({"default_retention": null}), "{v}");
    assert_eq!(
        call(
            s,
            ROOT,
            "PUT",
            &lock_path,
            Some(json!({"default_retention": {"mode": "GOVERNANCE", "days": 3}}))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        v["encryption"],
        json!({"algorithm": "AES256", "kms_key_id": null, "bucket_key": false})
    );
    let (st, v) = call(
        s,
        ROOT,
        "PUT",
        &format!("/admin/v1/buckets/{bucket}/versioning"),
        Some(json!({"status": "Suspended"})),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (409, Some("InvalidBucketState")),
        "a lock bucket stays versioned: {v}"
    );
}

#[tokio::test]
async fn root_and_admin_users_use_every_endpoint_others_are_refused() {
    let s = Server::start();
    s.client()
        .create_bucket()
        .bucket("seen-by-admins")
        .send()
        .await
        .unwrap();

    // Root: everything.
    server_views(&s, ROOT).await;
    user_lifecycle(&s, ROOT, "carol").await;
    bucket_settings(&s, ROOT, "settings-by-root").await;
    lock_and_encryption_settings(&s).await;
    kms_keys(&s, ROOT, "alias/by-root").await;

    // A user with the built-in admin policy: everything, through the same authorizer.
    let admin = new_iam_user(&s, "ada").await;
    let (st, text) = iam_as_root(
        &s,
        &[
            ("Action", "AttachUserPolicy"),
            ("UserName", "ada"),
            ("PolicyArn", "arn:aws:iam::aws:policy/admin"),
        ],
    )
    .await;
    assert_eq!(st, 200, "{text}");
    let ada = (admin.key_id.as_str(), admin.secret.as_str());
    server_views(&s, ada).await;
    user_lifecycle(&s, ada, "dave").await;
    bucket_settings(&s, ada, "settings-by-ada").await;
    kms_keys(&s, ada, "alias/by-ada").await;

    // The console-era endpoints, allowed to the admin user by the admin policy (root
    // passes without the authorizer; ada goes through it).
    let (st, v) = call(&s, ada, "GET", "/admin/v1/metrics", None).await;
    assert!(
        st == 200 && v["prometheus"].as_str().unwrap().contains("ferrite_s3_requests_total"),
        "{v}"
    );
    let (st, v) = call(&s, ada, "GET", "/admin/v1/sessions", None).await;
    assert!(st == 200 && v["sessions"].is_array(), "{v}");
    assert_eq!(
        call(
            &s,
            ada,
            "DELETE",
            "/admin/v1/sessions/00000000000000000000000000000000",
            None
        )
        .await
        .0,
        404,
        "allowed, and no such session"
    );
    let (st, v) = call(
        &s,
        ada,
        "POST",
        "/admin/v1/simulate",
        Some(json!({"user": "ada", "action": "iam:CreateUser", "resource": "*"})),
    )
    .await;
    assert_eq!((st, v["decision"].as_str()), (200, Some("allowed")), "{v}");
    assert_eq!(v["decided_by"]["policy"], "managed policy admin");
    let pw = "/admin/v1/users/dave-pw/password";
    assert_eq!(
        call(&s, ada, "POST", "/admin/v1/users", Some(json!({"name": "dave-pw"})))
            .await
            .0,
        201
    );
    assert_eq!(
        call(&s, ada, "PUT", pw, Some(json!({"password": "dave's password"})))
            .await
            .0,
        204
    );
    assert_eq!(call(&s, ada, "GET", pw, None).await.1["password_set"], true);
    assert_eq!(call(&s, ada, "DELETE", pw, None).await.0, 204);
    let (st, v) = call(
        &s,
        ada,
        "POST",
        "/admin/v1/presign",
        Some(json!({"requests": [{"method": "GET"}]})),
    )
    .await;
    assert!(
        st == 200 && v["urls"][0].as_str().unwrap().contains(&admin.key_id),
        "{v}"
    );

    // The admin user may rotate the master key (`admin:RotateMasterKey`).
    let (_, before) = call(&s, ada, "GET", "/admin/v1/kms/master-key", None).await;
    let (st, v) = call(&s, ada, "POST", "/admin/v1/kms/rotate", None).await;
    assert_eq!(st, 200, "{v}");
    let (_, after) = call(&s, ada, "GET", "/admin/v1/kms/master-key", None).await;
    assert_eq!(
        after["current"].as_u64(),
        before["current"].as_u64().map(|c| c + 1),
        "{before} -> {after}"
    );

    // The targets of the refusals exist, so a refusal is not a missing entity.
    let (st, v) = call(
        &s,
        ROOT,
        "POST",
        "/admin/v1/kms/keys",
        Some(json!({"description": "target"})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let kms_key = v["key_id"].as_str().unwrap().to_string();
    let target = new_iam_user(&s, "target").await;
    let doc =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    let (st, _) = call(
        &s,
        ROOT,
        "POST",
        "/admin/v1/policies",
        Some(json!({"name": "tp", "document": doc})),
    )
    .await;
    assert_eq!(st, 201);
    assert_eq!(
        call(&s, ROOT, "PUT", "/admin/v1/users/target/policies/tp", None)
            .await
            .0,
        204
    );
    let (st, _) = call(
        &s,
        ROOT,
        "PUT",
        "/admin/v1/users/target/inline-policies/ip",
        Some(json!({"document": doc})),
    )
    .await;
    assert_eq!(st, 204);

    // A user without policies, and one allowed only the server info and reading
    // users: each refused call is 403 AccessDenied and changes nothing.
    let plain = new_iam_user(&s, "plain").await;
    let scoped = new_iam_user(&s, "scoped").await;
    let scoped_doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["admin:GetServerInfo", "iam:GetUser", "iam:ListUsers"], "Resource": "*"}]});
    let (st, _) = call(
        &s,
        ROOT,
        "PUT",
        "/admin/v1/users/scoped/inline-policies/some",
        Some(json!({"document": scoped_doc})),
    )
    .await;
    assert_eq!(st, 204);
    let before = call(&s, ROOT, "GET", "/admin/v1/users?max_items=1000", None).await.1;
    let before_policies = call(&s, ROOT, "GET", "/admin/v1/policies", None).await.1;
    let master_before = call(&s, ROOT, "GET", "/admin/v1/kms/master-key", None).await.1;
    let bucket_before = call(&s, ROOT, "GET", "/admin/v1/buckets/seen-by-admins", None).await.1;
    let kms_before = call(&s, ROOT, "GET", "/admin/v1/kms/keys", None).await.1;
    let allowed_for_scoped = ["/admin/v1/info", "/admin/v1/users", "/admin/v1/users/target"];
    // A live console session of root's, for the revocation the others are refused.
    let (root_cookie, _) = login(
        &s,
        json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}),
    )
    .await;
    let sessions_before = call(&s, ROOT, "GET", "/admin/v1/sessions", None).await.1;
    let sid = sessions_before["sessions"][0]["id"].as_str().unwrap().to_string();
    for (who, name) in [
        ((plain.key_id.as_str(), plain.secret.as_str()), "plain"),
        ((scoped.key_id.as_str(), scoped.secret.as_str()), "scoped"),
    ] {
        for (method, path, body) in every_call("target", &target.key_id, "tp", "ip", "seen-by-admins", &kms_key, &sid) {
            let (st, v) = call(&s, who, method, &path, body).await;
            if name == "scoped" && method == "GET" && allowed_for_scoped.contains(&path.as_str()) {
                assert_eq!(st, 200, "{name}: {method} {path}: {v}");
            } else {
                assert_eq!(
                    (st, v["error"].as_str()),
                    (403, Some("AccessDenied")),
                    "{name}: {method} {path}: {v}"
                );
                assert!(!v.to_string().contains(&target.key_id), "a denial reveals nothing: {v}");
            }
        }
    }
    assert_eq!(
        call(&s, ROOT, "GET", "/admin/v1/users?max_items=1000", None).await.1,
        before
    );
    assert_eq!(
        call(&s, ROOT, "GET", "/admin/v1/policies", None).await.1,
        before_policies
    );
    assert_eq!(
        call(&s, ROOT, "GET", "/admin/v1/kms/master-key", None).await.1,
        master_before
    );
    assert_eq!(
        call(&s, ROOT, "GET", "/admin/v1/buckets/seen-by-admins", None).await.1,
        bucket_before
    );
    assert_eq!(call(&s, ROOT, "GET", "/admin/v1/kms/keys", None).await.1, kms_before);
    assert_eq!(
        call(&s, ROOT, "GET", "/admin/v1/sessions", None).await.1,
        sessions_before
    );
    assert_eq!(
        cookie_call(&s, &root_cookie, None, "GET", "/admin/v1/session", None)
            .await
            .0,
        200,
        "root's session was not revoked"
    );
    let (_, pw) = call(&s, ROOT, "GET", "/admin/v1/users/target/password", None).await;
    assert_eq!(pw["password_set"], false, "{pw}");
    let (_, keys) = call(&s, ROOT, "GET", "/admin/v1/users/target/keys", None).await;
    assert_eq!(keys["keys"][0]["status"], "Active");
    target
        .client
        .list_buckets()
        .send()
        .await
        .expect("the target's key still works");

    // Unsigned requests to admin paths reach no admin operation.
    let url = format!("{}/admin/v1/users", s.endpoint());
    let (st, _, body) = http_send("GET", &url, &[("host", s.addr.as_str())], Vec::new()).await;
    assert_ne!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!String::from_utf8_lossy(&body).contains("target"));
}

#[tokio::test]
async fn errors_and_the_openapi_document() {
    let s = Server::start();
    // Unknown route, wrong method (with Allow), bad bodies.
    let (st, v) = call(&s, ROOT, "GET", "/admin/v1/nothing", None).await;
    assert_eq!((st, v["error"].as_str()), (404, Some("NotFound")));
    let (st, headers, v) = call_h(&s, ROOT, "PUT", "/admin/v1/users", None).await;
    assert_eq!((st, v["error"].as_str()), (405, Some("MethodNotAllowed")));
    assert_eq!(headers.get("allow").unwrap(), "GET, POST");
    for body in [json!("carol"), json!({"name": "x", "admin": true}), json!({})] {
        let (st, v) = call(&s, ROOT, "POST", "/admin/v1/users", Some(body.clone())).await;
        assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{body}: {v}");
    }
    let (st, v) = call(&s, ROOT, "POST", "/admin/v1/users", Some(json!({"name": "bad name!"}))).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    let (st, v) = call(&s, ROOT, "GET", "/admin/v1/users?max_items=0", None).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    let (_, v) = call(&s, ROOT, "GET", "/admin/v1/users", None).await;
    assert_eq!(v["users"], json!([]), "nothing was created by the refused calls");
    let (st, v) = call(&s, ("NOSUCHKEY0000000000A", "x"), "GET", "/admin/v1/info", None).await;
    assert_eq!((st, v["error"].as_str()), (403, Some("InvalidAccessKeyId")));
    let (st, v) = call(&s, (ACCESS_KEY, "wrong-secret"), "GET", "/admin/v1/info", None).await;
    assert_eq!((st, v["error"].as_str()), (403, Some("SignatureDoesNotMatch")));

    // The document, unsigned; every operation it names is served: with root and
    // parameters naming nothing, each answers something other than "no such route".
    let url = format!("{}/admin/v1/openapi.json", s.endpoint());
    let (st, headers, body) = http_send("GET", &url, &[("host", s.addr.as_str())], Vec::new()).await;
    assert_eq!(st, 200);
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            let concrete = path
                .replace("{user}", "nobody")
                .replace("{key}", "AKIANOTHING")
                .replace("{policy}", "nothing")
                .replace("{bucket}", "no-such-bucket")
                .replace("{session}", "00000000000000000000000000000000");
            let body = match method.as_str() {
                "post" | "put" | "patch" => Some(json!({})),
                _ => None,
            };
            let (st, v) = call(&s, ROOT, &method.to_uppercase(), &concrete, body).await;
            assert!(
                !(st == 404 && v["error"] == "NotFound") && st != 405,
                "{method} {path} is documented but not served: {st} {v}"
            );
            operations += 1;
        }
    }
    assert_eq!(operations, 55);
}

/// Console sessions over the wire: the login (every failure alike), the cookie's
/// flags, CSRF on every state-changing call, presigned S3 URLs with exactly the key's
/// rights, console passwords, a non-admin session refused every admin endpoint, and
/// sessions ended by logout, by an admin's revocation and by disabling the key.
#[tokio::test]
async fn console_sessions() {
    let s = Server::start();
    let root_login = json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY});

    // Every refused login is the same answer, and sets no cookie.
    let user = new_iam_user(&s, "erin").await;
    let mut refusals = Vec::new();
    for body in [
        json!({"access_key_id": ACCESS_KEY, "secret_access_key": "wrong"}),
        json!({"access_key_id": "AKIANOSUCHKEY0000000", "secret_access_key": SECRET_KEY}),
        json!({"user": "erin", "password": "no password set yet"}),
        json!({"user": "nobody", "password": "whatever it is"}),
    ] {
        let (st, h, v) = try_login(&s, body.clone()).await;
        assert!(h.get("set-cookie").is_none(), "{body}");
        refusals.push((st, v));
    }
    assert!(refusals.iter().all(|r| *r == refusals[0]), "{refusals:?}");
    assert_eq!(refusals[0].0, 401);
    assert_eq!(refusals[0].1["error"], "InvalidCredentials");
    let (st, _, v) = try_login(&s, json!({"access_key_id": ACCESS_KEY})).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    // A login from a form on another site: not JSON, or from another origin.
    let url = format!("{}/admin/v1/session", s.endpoint());
    let (st, h, _) = http_send(
        "POST",
        &url,
        &[("host", s.addr.as_str()), ("content-type", "text/plain")],
        root_login.to_string().into_bytes(),
    )
    .await;
    assert!(st == 415 && h.get("set-cookie").is_none(), "{st}");
    let (st, h, _) = http_send(
        "POST",
        &url,
        &[
            ("host", s.addr.as_str()),
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        root_login.to_string().into_bytes(),
    )
    .await;
    assert!(st == 403 && h.get("set-cookie").is_none(), "{st}");

    // Root's session: the cookie's flags, the CSRF token, who it is.
    let (st, h, v) = try_login(&s, root_login.clone()).await;
    assert_eq!(st, 201, "{v}");
    let set = h.get("set-cookie").unwrap().to_str().unwrap().to_string();
    for flag in [
        "; Path=/admin/v1/",
        "; HttpOnly",
        "; SameSite=Strict",
        "; Max-Age=28800",
    ] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    assert!(!v.to_string().contains(SECRET_KEY));
    let (root, me) = login(&s, root_login.clone()).await;
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    assert_eq!((me["root"].as_bool(), me["admin"].as_bool()), (Some(true), Some(true)));
    let (st, _, who) = cookie_call(&s, &root, None, "GET", "/admin/v1/session", None).await;
    assert_eq!((st, who["csrf_token"].as_str()), (200, Some(csrf.as_str())));

    // A state-changing call without the CSRF token, or with another session's, is
    // refused and changes nothing; with it, it runs.
    let (other, _) = login(&s, root_login.clone()).await;
    let other_csrf = cookie_call(&s, &other, None, "GET", "/admin/v1/session", None).await.2["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    for token in [None, Some(other_csrf.as_str()), Some("00")] {
        let (st, _, v) = cookie_call(
            &s,
            &root,
            token,
            "POST",
            "/admin/v1/users",
            Some(json!({"name": "frank"})),
        )
        .await;
        assert_eq!((st, v["error"].as_str()), (403, Some("InvalidCsrfToken")), "{v}");
    }
    assert_eq!(call(&s, ROOT, "GET", "/admin/v1/users/frank", None).await.0, 404);
    let (st, _, v) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "POST",
        "/admin/v1/users",
        Some(json!({"name": "frank"})),
    )
    .await;
    assert_eq!(st, 201, "{v}");

    // Presigned S3 requests, signed with the session's key.
    root_client(&s).create_bucket().bucket("console").send().await.unwrap();
    let (st, _, v) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "POST",
        "/admin/v1/presign",
        Some(json!({"requests": [
            {"method": "PUT", "bucket": "console", "key": "dir/a b+ü.txt"},
            {"method": "GET", "bucket": "console", "key": "dir/a b+ü.txt", "expires_secs": 60},
            {"method": "GET", "bucket": "console", "query": {"list-type": "2", "delimiter": "/"}},
            {"method": "GET"},
        ]})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let urls: Vec<String> = v["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    let host = [("host", s.addr.as_str())];
    assert_eq!(
        http_send("PUT", &urls[0], &host, b"from the console".to_vec()).await.0,
        200
    );
    let (st, h, body) = http_send("GET", &urls[1], &host, Vec::new()).await;
    assert_eq!((st, body.as_slice()), (200, &b"from the console"[..]));
    // Objects share the console's origin: a browser sandboxes what they hold.
    assert_eq!(h["content-security-policy"], "sandbox");
    assert_eq!(h["x-content-type-options"], "nosniff");
    // A session's URLs last no longer than the session.
    assert_eq!(v["expires_secs"][1], 60);
    let (st, _, long) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "POST",
        "/admin/v1/presign",
        Some(json!({"requests": [{"method": "GET", "bucket": "console", "key": "k", "expires_secs": 604800}]})),
    )
    .await;
    assert_eq!(st, 200);
    let life = long["expires_secs"][0].as_u64().unwrap();
    assert!(life <= 8 * 3600 && life > 8 * 3600 - 120, "{long}");
    assert!(
        long["urls"][0]
            .as_str()
            .unwrap()
            .contains(&format!("X-Amz-Expires={life}&"))
    );
    let (st, _, body) = http_send("GET", &urls[2], &host, Vec::new()).await;
    assert!(st == 200 && String::from_utf8_lossy(&body).contains("<Prefix>dir/</Prefix>"));
    let (st, _, body) = http_send("GET", &urls[3], &host, Vec::new()).await;
    assert!(st == 200 && String::from_utf8_lossy(&body).contains("<Name>console</Name>"));
    for bad in [
        json!({"requests": []}),
        json!({"requests": [{"method": "GET", "bucket": "console", "expires_secs": 604801}]}),
        json!({"requests": [{"method": "GET", "bucket": "console", "query": {"X-Amz-Date": "1"}}]}),
    ] {
        let (st, _, v) = cookie_call(&s, &root, Some(&csrf), "POST", "/admin/v1/presign", Some(bad.clone())).await;
        assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{bad}: {v}");
    }

    // A console password for erin (argon2id): she logs in with it, her session acts
    // with her key, and her presigned URLs carry only her rights.
    let pw_path = "/admin/v1/users/erin/password";
    let (st, _, v) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "PUT",
        pw_path,
        Some(json!({"password": "short"})),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    let (st, _, v) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "PUT",
        pw_path,
        Some(json!({"password": "erin's long password"})),
    )
    .await;
    assert_eq!(st, 204, "{v}");
    let (_, _, v) = cookie_call(&s, &root, None, "GET", pw_path, None).await;
    assert_eq!(v["password_set"], true, "{v}");
    let (st, _, _) = try_login(&s, json!({"user": "erin", "password": "erin's long passworD"})).await;
    assert_eq!(st, 401);
    let (erin, me) = login(&s, json!({"user": "ERIN", "password": "erin's long password"})).await;
    assert_eq!(
        (
            me["principal"].as_str(),
            me["method"].as_str(),
            me["access_key_id"].as_str(),
            me["admin"].as_bool()
        ),
        (Some("erin"), Some("password"), Some(user.key_id.as_str()), Some(false))
    );
    let erin_csrf = me["csrf_token"].as_str().unwrap().to_string();
    let (st, _, v) = cookie_call(
        &s,
        &erin,
        Some(&erin_csrf),
        "POST",
        "/admin/v1/presign",
        Some(json!({"requests": [{"method": "GET", "bucket": "console", "key": "dir/a b+ü.txt"}]})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, _, body) = http_send("GET", v["urls"][0].as_str().unwrap(), &host, Vec::new()).await;
    assert_eq!(
        st,
        403,
        "erin may not read root's object: {}",
        String::from_utf8_lossy(&body)
    );

    // A session without admin rights is refused every admin endpoint, with or without
    // its CSRF token, and nothing changes.
    let kms_key = call(
        &s,
        ROOT,
        "POST",
        "/admin/v1/kms/keys",
        Some(json!({"description": "k"})),
    )
    .await
    .1["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    call(&s, ROOT, "PUT", "/admin/v1/users/frank/inline-policies/ip", Some(json!({"document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}))).await;
    let sid = cookie_call(&s, &root, None, "GET", "/admin/v1/session", None).await.2["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let users_before = call(&s, ROOT, "GET", "/admin/v1/users", None).await.1;
    for (method, path, body) in every_call("frank", &user.key_id, "admin", "ip", "console", &kms_key, &sid) {
        let (st, _, v) = cookie_call(&s, &erin, Some(&erin_csrf), method, &path, body).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (403, Some("AccessDenied")),
            "{method} {path}: {v}"
        );
    }
    assert_eq!(call(&s, ROOT, "GET", "/admin/v1/users", None).await.1, users_before);
    assert_eq!(
        cookie_call(&s, &root, None, "GET", "/admin/v1/session", None).await.0,
        200
    );

    // Every state-changing call of a session needs its CSRF token: each is refused
    // without it and changes nothing.
    let users_before = call(&s, ROOT, "GET", "/admin/v1/users", None).await.1;
    let policies_before = call(&s, ROOT, "GET", "/admin/v1/policies", None).await.1;
    let bucket_before = call(&s, ROOT, "GET", "/admin/v1/buckets/console", None).await.1;
    let keys_before = call(&s, ROOT, "GET", "/admin/v1/kms/keys", None).await.1;
    for (method, path, body) in every_call("frank", &user.key_id, "admin", "ip", "console", &kms_key, &sid) {
        if method == "GET" {
            continue;
        }
        let (st, _, v) = cookie_call(&s, &root, None, method, &path, body).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (403, Some("InvalidCsrfToken")),
            "{method} {path}: {v}"
        );
    }
    assert_eq!(call(&s, ROOT, "GET", "/admin/v1/users", None).await.1, users_before);
    assert_eq!(
        call(&s, ROOT, "GET", "/admin/v1/policies", None).await.1,
        policies_before
    );
    assert_eq!(
        call(&s, ROOT, "GET", "/admin/v1/buckets/console", None).await.1,
        bucket_before
    );
    assert_eq!(call(&s, ROOT, "GET", "/admin/v1/kms/keys", None).await.1, keys_before);
    assert_eq!(
        cookie_call(&s, &root, None, "GET", "/admin/v1/session", None).await.0,
        200
    );

    // An admin lists the sessions and revokes erin's: her next call is refused.
    let (st, _, v) = cookie_call(&s, &root, None, "GET", "/admin/v1/sessions", None).await;
    assert_eq!(st, 200);
    let rows = v["sessions"].as_array().unwrap();
    let hers = rows
        .iter()
        .find(|r| r["principal"] == "erin")
        .expect("erin's session is listed");
    assert_eq!(hers["method"], "password");
    assert!(!v.to_string().contains(&erin), "the list never shows tokens");
    let id = hers["id"].as_str().unwrap();
    let (st, _, _) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "DELETE",
        &format!("/admin/v1/sessions/{id}"),
        None,
    )
    .await;
    assert_eq!(st, 204);
    let (st, _, v) = cookie_call(&s, &erin, None, "GET", "/admin/v1/session", None).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("NotAuthenticated")));
    let (st, _, _) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "DELETE",
        &format!("/admin/v1/sessions/{id}"),
        None,
    )
    .await;
    assert_eq!(st, 404);

    // Disabling the key a session acts with ends the session.
    let (erin2, _) = login(
        &s,
        json!({"access_key_id": user.key_id, "secret_access_key": user.secret}),
    )
    .await;
    assert_eq!(
        cookie_call(&s, &erin2, None, "GET", "/admin/v1/session", None).await.0,
        200
    );
    let key_path = format!("/admin/v1/users/erin/keys/{}", user.key_id);
    assert_eq!(
        call(&s, ROOT, "PATCH", &key_path, Some(json!({"status": "Inactive"})))
            .await
            .0,
        204
    );
    assert_eq!(
        cookie_call(&s, &erin2, None, "GET", "/admin/v1/session", None).await.0,
        401
    );
    let (st, _, _) = try_login(&s, json!({"user": "erin", "password": "erin's long password"})).await;
    assert_eq!(st, 401, "a password login needs an active key");

    // A new password ends the sessions the old one opened.
    assert_eq!(
        call(&s, ROOT, "PATCH", &key_path, Some(json!({"status": "Active"})))
            .await
            .0,
        204
    );
    let (erin3, _) = login(&s, json!({"user": "erin", "password": "erin's long password"})).await;
    let (erin_key_session, _) = login(
        &s,
        json!({"access_key_id": user.key_id, "secret_access_key": user.secret}),
    )
    .await;
    let (st, _, _) = cookie_call(
        &s,
        &root,
        Some(&csrf),
        "PUT",
        pw_path,
        Some(json!({"password": "erin's newer password"})),
    )
    .await;
    assert_eq!(st, 204);
    assert_eq!(
        cookie_call(&s, &erin3, None, "GET", "/admin/v1/session", None).await.0,
        401
    );
    assert_eq!(
        cookie_call(&s, &erin_key_session, None, "GET", "/admin/v1/session", None)
            .await
            .0,
        200,
        "a session opened with the key itself stays"
    );

    // One key holds at most MAX_SESSIONS_PER_KEY sessions: its oldest end.
    let first = login(&s, json!({"user": "erin", "password": "erin's newer password"}))
        .await
        .0;
    for _ in 0..ferrite_model::MAX_SESSIONS_PER_KEY {
        login(
            &s,
            json!({"access_key_id": user.key_id, "secret_access_key": user.secret}),
        )
        .await;
    }
    assert_eq!(
        cookie_call(&s, &first, None, "GET", "/admin/v1/session", None).await.0,
        401
    );
    let (_, _, v) = cookie_call(&s, &root, None, "GET", "/admin/v1/sessions", None).await;
    let erins = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["principal"] == "erin")
        .count();
    assert_eq!(erins, ferrite_model::MAX_SESSIONS_PER_KEY);

    // The password goes with its user.
    assert_eq!(
        cookie_call(&s, &root, Some(&csrf), "DELETE", pw_path, None).await.0,
        204
    );
    let (_, _, v) = cookie_call(&s, &root, None, "GET", pw_path, None).await;
    assert_eq!(v["password_set"], false);

    // A signed call cannot open or end a session; logout ends this one.
    let (st, v) = call(&s, ROOT, "POST", "/admin/v1/session", Some(root_login.clone())).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("ValidationError")), "{v}");
    let (st, _, _) = cookie_call(&s, &root, None, "DELETE", "/admin/v1/session", None).await;
    assert_eq!(st, 403, "logout needs the CSRF token too");
    let (st, h, _) = cookie_call(&s, &root, Some(&csrf), "DELETE", "/admin/v1/session", None).await;
    assert_eq!(st, 204);
    assert!(h.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(
        cookie_call(&s, &root, None, "GET", "/admin/v1/session", None).await.0,
        401
    );
    let (root2, _) = login(&s, root_login.clone()).await;
    // No cookie at all: not logged in.
    let url = format!("{}/admin/v1/info", s.endpoint());
    let (st, _, _) = http_send("GET", &url, &host, Vec::new()).await;
    assert_eq!(st, 401);

    // The metrics the console charts: the same text /metrics serves.
    let (st, _, v) = cookie_call(&s, &root2, None, "GET", "/admin/v1/metrics", None).await;
    assert_eq!(st, 200, "{v}");
    let text = v["prometheus"].as_str().unwrap();
    assert!(
        text.contains("ferrite_s3_requests_total{operation=\"PutObject\",status=\"200\"}"),
        "{text}"
    );
    assert!(text.contains("ferrite_bucket_objects{bucket=\"console\"} 1"), "{text}");

    // The console's page: unsigned, strict CSP, never cached.
    let (st, h, page) = http_send("GET", &format!("{}/console/", s.endpoint()), &host, Vec::new()).await;
    assert_eq!(st, 200);
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(h["cache-control"], "no-store");
    assert!(String::from_utf8_lossy(&page).contains("/console/assets/app."));
}

fn root_client(s: &Server) -> aws_sdk_s3::Client {
    s.client()
}

/// `ferrite admin user passwd` sets and removes a console password through the admin
/// API: the user logs in with it, then no longer.
#[tokio::test]
async fn the_cli_sets_console_passwords() {
    let s = Server::start();
    new_iam_user(&s, "gail").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "gail's console password\nnot this line\n").unwrap();
    let out = common::admin_ok(
        &s,
        &["user", "passwd", "gail", "--password-file", file.to_str().unwrap()],
    );
    assert!(out.contains("set the console password of gail"), "{out}");
    let (st, _, v) = try_login(&s, json!({"user": "gail", "password": "gail's console password"})).await;
    assert_eq!(st, 201, "{v}");
    std::fs::write(&file, "short\n").unwrap();
    let (ok, _, err) = common::admin(
        &s,
        &["user", "passwd", "gail", "--password-file", file.to_str().unwrap()],
    );
    assert!(!ok && err.contains("ValidationError"), "{err}");
    common::admin_ok(&s, &["user", "passwd", "gail", "--remove"]);
    let (st, _, _) = try_login(&s, json!({"user": "gail", "password": "gail's console password"})).await;
    assert_eq!(st, 401);
    let (ok, _, err) = common::admin(&s, &["user", "passwd", "nobody", "--remove"]);
    assert!(!ok && err.contains("NoSuchEntity"), "{err}");
}

/// The policy simulator names the deciding statement, and agrees with what the S3 API
/// then enforces for the same user.
#[tokio::test]
async fn the_policy_simulator_explains_decisions() {
    let s = Server::start();
    let sam = new_iam_user(&s, "sam").await;
    let root = s.client();
    root.create_bucket().bucket("simb").send().await.unwrap();
    root.put_object()
        .bucket("simb")
        .key("a")
        .body(b"a".to_vec().into())
        .send()
        .await
        .unwrap();
    root.put_object()
        .bucket("simb")
        .key("secret/x")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let read = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadB", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::simb/*"}]});
    assert_eq!(
        call(
            &s,
            ROOT,
            "PUT",
            "/admin/v1/users/sam/inline-policies/read",
            Some(json!({"document": read}))
        )
        .await
        .0,
        204
    );
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::simb"},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::simb/secret/*"}]});
    assert_eq!(
        call(
            &s,
            ROOT,
            "POST",
            "/admin/v1/policies",
            Some(json!({"name": "no-secrets", "document": deny}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        call(&s, ROOT, "PUT", "/admin/v1/users/sam/policies/no-secrets", None)
            .await
            .0,
        204
    );
    let bucket_doc = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Uploads", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/sam"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::simb/up/*"}]});
    assert_eq!(
        call(
            &s,
            ROOT,
            "PUT",
            "/admin/v1/buckets/simb/policy",
            Some(json!({"document": bucket_doc}))
        )
        .await
        .0,
        204
    );

    let simulate = |action: &'static str, resource: &'static str| {
        let s = &s;
        async move {
            let (st, v) = call(
                s,
                ROOT,
                "POST",
                "/admin/v1/simulate",
                Some(json!({"user": "sam", "action": action, "resource": resource})),
            )
            .await;
            assert_eq!(st, 200, "{v}");
            v
        }
    };
    let v = simulate("s3:GetObject", "arn:aws:s3:::simb/a").await;
    assert_eq!(v["decision"], "allowed");
    assert_eq!(
        v["decided_by"],
        json!({"policy": "inline policy read", "statement": 0, "sid": "ReadB"})
    );
    assert_eq!(
        v["evaluated"],
        json!([
            "inline policy read",
            "managed policy no-secrets",
            "bucket policy of simb"
        ])
    );
    let v = simulate("s3:GetObject", "arn:aws:s3:::simb/secret/x").await;
    assert_eq!(v["decision"], "explicitDeny");
    assert_eq!(
        v["decided_by"],
        json!({"policy": "managed policy no-secrets", "statement": 1, "sid": "NoSecrets"})
    );
    let v = simulate("s3:PutObject", "arn:aws:s3:::simb/up/x").await;
    assert_eq!(v["decision"], "allowed");
    assert_eq!(v["decided_by"]["policy"], "bucket policy of simb");
    let v = simulate("s3:DeleteObject", "arn:aws:s3:::simb/a").await;
    assert_eq!(
        (v["decision"].as_str(), v["decided_by"].is_null()),
        (Some("implicitDeny"), true)
    );

    // What the S3 API enforces for sam agrees.
    assert!(sam.client.get_object().bucket("simb").key("a").send().await.is_ok());
    assert!(
        sam.client
            .get_object()
            .bucket("simb")
            .key("secret/x")
            .send()
            .await
            .is_err()
    );
    assert!(
        sam.client
            .put_object()
            .bucket("simb")
            .key("up/x")
            .body(b"u".to_vec().into())
            .send()
            .await
            .is_ok()
    );
    assert!(sam.client.delete_object().bucket("simb").key("a").send().await.is_err());

    // Bad questions, and a caller not allowed to ask.
    let sam_key = (sam.key_id.as_str(), sam.secret.as_str());
    for (who, body, status, code) in [
        (
            ROOT,
            json!({"user": "sam", "action": "s3:Nope", "resource": "*"}),
            400,
            "ValidationError",
        ),
        (
            ROOT,
            json!({"user": "nobody", "action": "s3:GetObject", "resource": "*"}),
            404,
            "NoSuchEntity",
        ),
        (
            sam_key,
            json!({"user": "sam", "action": "s3:GetObject", "resource": "*"}),
            403,
            "AccessDenied",
        ),
    ] {
        let (st, v) = call(&s, who, "POST", "/admin/v1/simulate", Some(body.clone())).await;
        assert_eq!((st, v["error"].as_str()), (status, Some(code)), "{body}: {v}");
    }
}

/// `--no-console`: no console page, no console logins; S3 responses carry no sandbox.
#[tokio::test]
async fn the_console_can_be_turned_off() {
    let s = Server::start_with(&["--no-console"]);
    let host = [("host", s.addr.as_str())];
    let (st, h, _) = http_send("GET", &format!("{}/console/", s.endpoint()), &host, Vec::new()).await;
    assert_ne!(st, 200);
    assert!(h.get("content-security-policy").is_none());
    let (st, h, _) = try_login(
        &s,
        json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}),
    )
    .await;
    assert!(st != 201 && h.get("set-cookie").is_none(), "{st}");
    // The SigV4 admin API stays.
    assert_eq!(call(&s, ROOT, "GET", "/admin/v1/info", None).await.0, 200);
}

/// `--console-session-minutes` sets a session's life: the cookie's and the session's.
#[tokio::test]
async fn the_session_life_is_configurable() {
    let s = Server::start_with(&["--console-session-minutes", "5"]);
    let (st, h, v) = try_login(
        &s,
        json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert!(
        h["set-cookie"].to_str().unwrap().contains("; Max-Age=300;"),
        "{:?}",
        h["set-cookie"]
    );
    let life = v["expires_ms"].as_i64().unwrap() - time_now_ms();
    assert!((290_000..=300_000).contains(&life), "{life}");
}

fn time_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

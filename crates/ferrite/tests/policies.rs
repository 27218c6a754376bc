//! Bucket policies, user policies and public access blocks against the real binary,
//! driven by `aws-sdk-s3` and `aws-sdk-iam` (default settings), with AWS's documented
//! evaluation as the expected answers: an explicit Deny wins over every Allow, an Allow
//! from a user's policies or the bucket policy (or an ACL grant) allows, anything else
//! is denied. Each case checks both sides (what is allowed and what is refused), so a
//! bypassed or an over-strict authorizer fails it.

mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, PublicAccessBlockConfiguration};
use common::{ACCESS_KEY, SECRET_KEY, Server, anonymous, client_with, code, status};

fn iam_client(server: &Server, access_key: &str, secret_key: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::config::Builder::new()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "ferrite-tests",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

fn root_iam(server: &Server) -> aws_sdk_iam::Client {
    iam_client(server, ACCESS_KEY, SECRET_KEY)
}

/// A user made through IAM, with its S3 and IAM clients.
struct User {
    s3: Client,
    iam: aws_sdk_iam::Client,
}

async fn new_user(server: &Server, name: &str) -> User {
    let iam = root_iam(server);
    iam.create_user().user_name(name).send().await.unwrap();
    let key = iam.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().unwrap();
    User {
        s3: client_with(&server.endpoint(), key.access_key_id(), key.secret_access_key()),
        iam: iam_client(server, key.access_key_id(), key.secret_access_key()),
    }
}

async fn put(c: &Client, bucket: &str, key: &str) -> Result<(), String> {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn get(c: &Client, bucket: &str, key: &str) -> Result<(), String> {
    c.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn list(c: &Client, bucket: &str, prefix: Option<&str>) -> Result<(), String> {
    c.list_objects_v2()
        .bucket(bucket)
        .set_prefix(prefix.map(str::to_string))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn set_policy(c: &Client, bucket: &str, policy: &str) -> Result<(), String> {
    c.put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

fn denied(r: Result<(), String>) -> bool {
    r.is_err_and(|c| c == "AccessDenied")
}

#[tokio::test]
async fn a_public_read_prefix_policy_opens_that_prefix_to_everyone_and_nothing_else() {
    let server = Server::start();
    let root = server.client();
    let anon = anonymous(&server);
    root.create_bucket().bucket("site").send().await.unwrap();
    put(&root, "site", "public/index.html").await.unwrap();
    put(&root, "site", "private/secret.txt").await.unwrap();
    assert!(
        denied(get(&anon, "site", "public/index.html").await),
        "private by default"
    );

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::site/public/*"]}]}"#;
    set_policy(&root, "site", policy).await.unwrap();
    assert_eq!(get(&anon, "site", "public/index.html").await, Ok(()));
    assert!(denied(get(&anon, "site", "private/secret.txt").await));
    assert!(denied(list(&anon, "site", None).await));
    assert!(denied(put(&anon, "site", "public/new.html").await));
    // Stored as written; public by AWS's definition.
    let got = root.get_bucket_policy().bucket("site").send().await.unwrap();
    assert_eq!(got.policy(), Some(policy));
    let st = root.get_bucket_policy_status().bucket("site").send().await.unwrap();
    assert_eq!(st.policy_status().and_then(|s| s.is_public()), Some(true));

    root.delete_bucket_policy().bucket("site").send().await.unwrap();
    assert!(
        denied(get(&anon, "site", "public/index.html").await),
        "the grant went with the policy"
    );
    let e = root.get_bucket_policy().bucket("site").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchBucketPolicy");
    assert_eq!(status(&e), 404);
    // Deleting again succeeds, as on AWS.
    root.delete_bucket_policy().bucket("site").send().await.unwrap();
}

#[tokio::test]
async fn a_deny_unencrypted_uploads_policy_refuses_plain_puts_even_from_root() {
    let server = Server::start();
    let root = server.client();
    root.create_bucket().bucket("vault").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"DenyUnencrypted","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::vault/*",
         "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}]}"#;
    set_policy(&root, "vault", policy).await.unwrap();
    assert!(denied(put(&root, "vault", "plain.txt").await));
    // Asking for encryption satisfies the policy, and the object is stored encrypted.
    root.put_object()
        .bucket("vault")
        .key("sse.txt")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let head = root.head_object().bucket("vault").key("sse.txt").send().await.unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    // Root (and the bucket owner) keep the policy itself: never locked out.
    root.delete_bucket_policy().bucket("vault").send().await.unwrap();
    assert_eq!(put(&root, "vault", "plain.txt").await, Ok(()));
}

#[tokio::test]
async fn source_ip_conditions_match_the_client_address() {
    let server = Server::start();
    let root = server.client();
    let anon = anonymous(&server);
    root.create_bucket().bucket("ipb").send().await.unwrap();
    put(&root, "ipb", "k").await.unwrap();
    let allow_from = |cidr: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::ipb/*","Condition":{{"IpAddress":{{"aws:SourceIp":["{cidr}","2001:db8::/32"]}}}}}}]}}"#
        )
    };
    set_policy(&root, "ipb", &allow_from("127.0.0.0/8")).await.unwrap();
    assert_eq!(get(&anon, "ipb", "k").await, Ok(()));
    set_policy(&root, "ipb", &allow_from("192.0.2.0/24")).await.unwrap();
    assert!(denied(get(&anon, "ipb", "k").await));
    // A Deny from outside a range: this client is inside, so nothing is denied.
    let deny_outside = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::ipb","arn:aws:s3:::ipb/*"],"Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.1/32"}}}]}"#;
    set_policy(&root, "ipb", deny_outside).await.unwrap();
    assert_eq!(get(&root, "ipb", "k").await, Ok(()));
    let deny_inside = deny_outside.replace("NotIpAddress", "IpAddress");
    set_policy(&root, "ipb", &deny_inside).await.unwrap();
    assert!(denied(get(&root, "ipb", "k").await));
}

#[tokio::test]
async fn a_user_policy_with_the_username_variable_limits_a_user_to_its_home_prefix() {
    let server = Server::start();
    let root = server.client();
    root.create_bucket().bucket("shared").send().await.unwrap();
    put(&root, "shared", "home/bob/notes.txt").await.unwrap();
    let alice = new_user(&server, "alice").await;
    // Before any policy: nothing in a bucket alice does not own.
    assert!(denied(put(&alice.s3, "shared", "home/alice/a.txt").await));
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"ListHome","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared",
         "Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*"]}}},
        {"Sid":"RWHome","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],
         "Resource":"arn:aws:s3:::shared/home/${aws:username}/*"}]}"#;
    root_iam(&server)
        .put_user_policy()
        .user_name("alice")
        .policy_name("home")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(put(&alice.s3, "shared", "home/alice/a.txt").await, Ok(()));
    assert_eq!(get(&alice.s3, "shared", "home/alice/a.txt").await, Ok(()));
    assert!(denied(put(&alice.s3, "shared", "home/bob/x.txt").await));
    assert!(denied(get(&alice.s3, "shared", "home/bob/notes.txt").await));
    assert_eq!(list(&alice.s3, "shared", Some("home/alice/")).await, Ok(()));
    assert!(denied(list(&alice.s3, "shared", Some("home/bob/")).await));
    assert!(denied(list(&alice.s3, "shared", None).await));
    // A missing key in her home reads as missing (she may list that prefix); one in
    // bob's home as denied, which tells her nothing about what bob has.
    let e = alice
        .s3
        .head_object()
        .bucket("shared")
        .key("home/alice/none.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
    let e = alice
        .s3
        .get_object()
        .bucket("shared")
        .key("home/alice/none.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
    let e = alice
        .s3
        .get_object()
        .bucket("shared")
        .key("home/bob/none.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (403, "AccessDenied"));
    let e = alice
        .s3
        .head_object()
        .bucket("shared")
        .key("home/bob/none.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);
    // Removing the policy takes effect on the next request (alice still reads what
    // she wrote: she owns it, and its ACL is hers).
    root_iam(&server)
        .delete_user_policy()
        .user_name("alice")
        .policy_name("home")
        .send()
        .await
        .unwrap();
    assert!(denied(put(&alice.s3, "shared", "home/alice/b.txt").await));
    assert!(denied(list(&alice.s3, "shared", Some("home/alice/")).await));
    assert_eq!(get(&alice.s3, "shared", "home/alice/a.txt").await, Ok(()));
}

#[tokio::test]
async fn an_explicit_deny_beats_an_acl_grant_and_a_user_policy() {
    let server = Server::start();
    let root = server.client();
    let anon = anonymous(&server);
    root.create_bucket()
        .bucket("open")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&root, "open", "k").await.unwrap();
    assert_eq!(list(&anon, "open", None).await, Ok(()), "the ACL grants AllUsers READ");
    let carol = new_user(&server, "carol").await;
    root_iam(&server)
        .attach_user_policy()
        .user_name("carol")
        .policy_arn("arn:aws:iam::aws:policy/readwrite")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&carol.s3, "open", "k").await, Ok(()), "readwrite allows");
    let deny = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Deny","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::open"},
        {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::open/*"}]}"#;
    set_policy(&root, "open", deny).await.unwrap();
    assert!(denied(list(&anon, "open", None).await), "deny beats the ACL grant");
    assert!(
        denied(get(&carol.s3, "open", "k").await),
        "deny beats the user's own policy"
    );
    assert_eq!(
        put(&carol.s3, "open", "k2").await,
        Ok(()),
        "what is not denied stays allowed"
    );
}

#[tokio::test]
async fn a_bucket_owner_keeps_its_policy_whatever_the_policy_says() {
    let server = Server::start();
    let dave = new_user(&server, "dave").await;
    dave.s3.create_bucket().bucket("daves").send().await.unwrap();
    let lockout = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::daves","arn:aws:s3:::daves/*"]}]}"#;
    set_policy(&dave.s3, "daves", lockout).await.unwrap();
    assert!(denied(list(&dave.s3, "daves", None).await));
    assert!(denied(put(&dave.s3, "daves", "k").await));
    dave.s3.get_bucket_policy().bucket("daves").send().await.unwrap();
    dave.s3.delete_bucket_policy().bucket("daves").send().await.unwrap();
    assert_eq!(put(&dave.s3, "daves", "k").await, Ok(()));
    // Another user may not touch it.
    let eve = new_user(&server, "eve").await;
    assert!(denied(set_policy(&eve.s3, "daves", lockout).await));
    let e = eve.s3.get_bucket_policy().bucket("daves").send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn malformed_or_oversized_policies_are_refused_and_nothing_is_stored() {
    let server = Server::start();
    let root = server.client();
    root.create_bucket().bucket("strict").send().await.unwrap();
    let cases = [
        ("not json", "{", "MalformedPolicy"),
        (
            "unknown action",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::strict/*"}]}"#,
            "MalformedPolicy",
        ),
        (
            "resource outside the bucket",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
            "MalformedPolicy",
        ),
        (
            "unknown top-level field",
            r#"{"Version":"2012-10-17","Statment":[]}"#,
            "MalformedPolicy",
        ),
        (
            "unknown operator",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::strict/*","Condition":{"StringSorta":{"aws:UserAgent":"x"}}}]}"#,
            "MalformedPolicy",
        ),
    ];
    for (what, doc, want) in cases {
        let e = set_policy(&root, "strict", doc).await.unwrap_err();
        assert_eq!(e, want, "{what}");
    }
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::strict/*"}}]}}"#,
        "a".repeat(21 * 1024)
    );
    let e = root
        .put_bucket_policy()
        .bucket("strict")
        .policy(big)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "PolicyTooLarge");
    assert_eq!(status(&e), 400);
    let e = root.get_bucket_policy().bucket("strict").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchBucketPolicy", "nothing was stored");
}

#[tokio::test]
async fn public_access_blocks_refuse_and_ignore_public_acls_and_policies() {
    let server = Server::start();
    let root = server.client();
    let anon = anonymous(&server);
    root.create_bucket()
        .bucket("pab")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&root, "pab", "k").await.unwrap();
    let e = root.get_public_access_block().bucket("pab").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchPublicAccessBlockConfiguration");
    assert_eq!(status(&e), 404);
    let block = |acls: bool, ignore: bool, policy: bool, restrict: bool| {
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(acls)
            .ignore_public_acls(ignore)
            .block_public_policy(policy)
            .restrict_public_buckets(restrict)
            .build()
    };
    let public_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}"#;
    let private_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/nobody"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}"#;

    // BlockPublicAcls: public ACLs refused on the bucket, on objects, on uploads.
    root.put_public_access_block()
        .bucket("pab")
        .public_access_block_configuration(block(true, false, false, false))
        .send()
        .await
        .unwrap();
    let got = root.get_public_access_block().bucket("pab").send().await.unwrap();
    let got = got.public_access_block_configuration().unwrap();
    assert_eq!(got.block_public_acls(), Some(true));
    assert_eq!(got.ignore_public_acls(), Some(false));
    let e = root
        .put_bucket_acl()
        .bucket("pab")
        .acl(BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = root
        .put_object()
        .bucket("pab")
        .key("p")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert!(get(&root, "pab", "p").await.is_err(), "nothing stored");
    root.put_object_acl()
        .bucket("pab")
        .key("k")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    // The existing public ACL still works until it is ignored.
    assert_eq!(list(&anon, "pab", None).await, Ok(()));

    // IgnorePublicAcls: the bucket's public-read grant counts for nothing.
    root.put_public_access_block()
        .bucket("pab")
        .public_access_block_configuration(block(false, true, false, false))
        .send()
        .await
        .unwrap();
    assert!(denied(list(&anon, "pab", None).await));

    // BlockPublicPolicy: a public policy is refused, a non-public one accepted.
    root.put_public_access_block()
        .bucket("pab")
        .public_access_block_configuration(block(false, false, true, false))
        .send()
        .await
        .unwrap();
    assert!(denied(set_policy(&root, "pab", public_policy).await));
    assert_eq!(set_policy(&root, "pab", private_policy).await, Ok(()));

    // RestrictPublicBuckets: a public policy already in place grants anonymous
    // callers nothing.
    root.delete_public_access_block().bucket("pab").send().await.unwrap();
    set_policy(&root, "pab", public_policy).await.unwrap();
    assert_eq!(get(&anon, "pab", "k").await, Ok(()));
    root.put_public_access_block()
        .bucket("pab")
        .public_access_block_configuration(block(false, false, false, true))
        .send()
        .await
        .unwrap();
    assert!(denied(get(&anon, "pab", "k").await));
    root.delete_public_access_block().bucket("pab").send().await.unwrap();
    assert_eq!(get(&anon, "pab", "k").await, Ok(()));
}

#[tokio::test]
async fn the_server_wide_block_overrides_every_bucket() {
    let server = Server::start_with(&["--block-public-access"]);
    let root = server.client();
    root.create_bucket().bucket("blocked").send().await.unwrap();
    let public_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::blocked/*"}]}"#;
    assert!(denied(set_policy(&root, "blocked", public_policy).await));
    let e = root
        .create_bucket()
        .bucket("public-one")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = root
        .put_bucket_acl()
        .bucket("blocked")
        .acl(BucketCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn iam_manages_inline_and_managed_policies_and_users_act_within_them() {
    let server = Server::start();
    let root = server.client();
    let iam = root_iam(&server);
    root.create_bucket().bucket("data").send().await.unwrap();
    put(&root, "data", "k").await.unwrap();
    let frank = new_user(&server, "frank").await;

    // Inline policies.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}]}"#;
    iam.put_user_policy()
        .user_name("frank")
        .policy_name("get-data")
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    let got = iam
        .get_user_policy()
        .user_name("frank")
        .policy_name("get-data")
        .send()
        .await
        .unwrap();
    // IAM returns the document URL-encoded (boto3 decodes it; the Rust SDK does not).
    let decoded: String = form_urlencoded::parse(format!("d={}", got.policy_document()).as_bytes())
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(decoded, doc);
    let names = iam.list_user_policies().user_name("frank").send().await.unwrap();
    assert_eq!(names.policy_names(), ["get-data"]);
    assert_eq!(get(&frank.s3, "data", "k").await, Ok(()));
    assert!(denied(put(&frank.s3, "data", "k2").await));
    let e = iam
        .put_user_policy()
        .user_name("frank")
        .policy_name("bad")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("MalformedPolicyDocument"));

    // Managed policies: built-in ones listed, customer ones created, attached, detached.
    let all = iam.list_policies().send().await.unwrap();
    let names: Vec<&str> = all.policies().iter().filter_map(|p| p.policy_name()).collect();
    for builtin in ["readonly", "readwrite", "writeonly", "admin"] {
        assert!(names.contains(&builtin), "{builtin} in {names:?}");
    }
    let created = iam
        .create_policy()
        .policy_name("put-data")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::data/*"}]}"#)
        .send()
        .await
        .unwrap();
    let arn = created.policy().unwrap().arn().unwrap().to_string();
    assert_eq!(arn, "arn:aws:iam::000000000000:policy/put-data");
    iam.attach_user_policy()
        .user_name("frank")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    let attached = iam
        .list_attached_user_policies()
        .user_name("frank")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    assert_eq!(put(&frank.s3, "data", "k2").await, Ok(()));
    let e = iam.delete_policy().policy_arn(&arn).send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("DeleteConflict"));
    iam.detach_user_policy()
        .user_name("frank")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(denied(put(&frank.s3, "data", "k3").await));
    iam.delete_policy().policy_arn(&arn).send().await.unwrap();

    // IAM itself: a user may call what its policies allow.
    let e = frank.iam.create_user().user_name("mallory").send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("AccessDenied"));
    iam.attach_user_policy()
        .user_name("frank")
        .policy_arn("arn:aws:iam::aws:policy/admin")
        .send()
        .await
        .unwrap();
    frank.iam.create_user().user_name("grace").send().await.unwrap();
    frank.iam.delete_user().user_name("grace").send().await.unwrap();
    let me = frank.iam.get_user().send().await.unwrap();
    assert_eq!(me.user().map(|u| u.user_name()), Some("frank"));

    // A user with policies cannot be deleted until they are removed.
    let e = iam.delete_user().user_name("frank").send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("DeleteConflict"));
}

#[tokio::test]
async fn built_in_readonly_reads_every_bucket_and_writes_none() {
    let server = Server::start();
    let root = server.client();
    root.create_bucket().bucket("ro-bucket").send().await.unwrap();
    put(&root, "ro-bucket", "k").await.unwrap();
    let ro = new_user(&server, "reader").await;
    assert!(denied(get(&ro.s3, "ro-bucket", "k").await));
    root_iam(&server)
        .attach_user_policy()
        .user_name("reader")
        .policy_arn("arn:aws:iam::aws:policy/readonly")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&ro.s3, "ro-bucket", "k").await, Ok(()));
    assert_eq!(list(&ro.s3, "ro-bucket", None).await, Ok(()));
    assert!(denied(put(&ro.s3, "ro-bucket", "k2").await));
    let e = ro
        .s3
        .delete_object()
        .bucket("ro-bucket")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn a_user_may_manage_its_own_keys_and_no_one_elses_through_the_username_variable() {
    let server = Server::start();
    let iam = root_iam(&server);
    let erin = new_user(&server, "erin").await;
    new_user(&server, "oscar").await;
    let own_keys = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":["iam:CreateAccessKey","iam:ListAccessKeys","iam:DeleteAccessKey"],
        "Resource":"arn:aws:iam::000000000000:user/${aws:username}"}]}"#;
    // Before the policy: not even her own keys.
    let e = erin.iam.list_access_keys().send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("AccessDenied"));
    iam.put_user_policy()
        .user_name("erin")
        .policy_name("own-keys")
        .policy_document(own_keys)
        .send()
        .await
        .unwrap();
    // Her own keys, named or implied.
    let made = erin.iam.create_access_key().send().await.unwrap();
    let new_id = made.access_key().unwrap().access_key_id().to_string();
    let mine = erin.iam.list_access_keys().user_name("erin").send().await.unwrap();
    assert_eq!(mine.access_key_metadata().len(), 2);
    erin.iam
        .delete_access_key()
        .access_key_id(&new_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        erin.iam
            .list_access_keys()
            .send()
            .await
            .unwrap()
            .access_key_metadata()
            .len(),
        1
    );
    // Oscar's keys, and anything else, stay out of reach.
    let e = erin.iam.list_access_keys().user_name("oscar").send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("AccessDenied"));
    let e = erin
        .iam
        .create_access_key()
        .user_name("oscar")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("AccessDenied"));
    let e = erin.iam.create_user().user_name("mallory").send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("AccessDenied"));
    let oscar_keys = iam.list_access_keys().user_name("oscar").send().await.unwrap();
    assert_eq!(oscar_keys.access_key_metadata().len(), 1, "nothing made for oscar");
}

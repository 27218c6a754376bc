//! Object and bucket tags against the real binary with `aws-sdk-s3` (default
//! settings), checked against AWS's documentation: tags on PutObject, multipart and
//! copy (`x-amz-tagging`, `x-amz-tagging-directive`), Put/Get/DeleteObjectTagging on a
//! version in place, `x-amz-tagging-count`, Put/Get/DeleteBucketTagging, AWS's limits
//! (nothing changes on error), and who may read and change tags, with the policy
//! condition keys `s3:ExistingObjectTag/<key>` and `s3:RequestObjectTag/<key>`.

mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Tag, Tagging, TaggingDirective,
};
use common::{Server, anonymous, code, new_iam_user, set_versioning, status};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

async fn tags_of(c: &Client, bucket: &str, key: &str, version: Option<&str>) -> Vec<(String, String)> {
    let out = c
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .unwrap();
    out.tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn put(
    c: &Client,
    bucket: &str,
    key: &str,
    tags: Option<&str>,
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .set_tagging(tags.map(str::to_string))
        .body(ByteStream::from_static(b"tagged data"))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_set_at_put_changed_in_place_and_counted_on_reads() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("tags").send().await.unwrap();
    set_versioning(&c, "tags", BucketVersioningStatus::Enabled).await;

    // x-amz-tagging: URL-encoded pairs; a bare key has an empty value. Answered
    // ordered by key.
    let v1 = put(&c, "tags", "k", Some("foo=bar&bar&a%20b=c%26d")).await;
    let v1 = v1.version_id().unwrap().to_string();
    assert_eq!(
        tags_of(&c, "tags", "k", None).await,
        pairs(&[("a b", "c&d"), ("bar", ""), ("foo", "bar")])
    );
    let head = c.head_object().bucket("tags").key("k").send().await.unwrap();
    let (etag, modified) = (head.e_tag().unwrap().to_string(), head.last_modified().cloned());
    let got = c.get_object().bucket("tags").key("k").send().await.unwrap();
    assert_eq!(got.tag_count(), Some(3));

    // PutObjectTagging replaces the whole set, in place: same version, ETag, time.
    let out = c
        .put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(tagging(&[("key3", "val3")]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));
    assert_eq!(tags_of(&c, "tags", "k", None).await, pairs(&[("key3", "val3")]));
    let head = c.head_object().bucket("tags").key("k").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.last_modified(), modified.as_ref());
    assert_eq!(head.version_id(), Some(v1.as_str()));
    let versions = c.list_object_versions().bucket("tags").send().await.unwrap();
    assert_eq!(versions.versions().len(), 1, "no new version");

    // An older version is tagged by id, without touching the current one.
    let v2 = put(&c, "tags", "k", None).await.version_id().unwrap().to_string();
    assert!(tags_of(&c, "tags", "k", None).await.is_empty());
    let got = c.get_object().bucket("tags").key("k").send().await.unwrap();
    assert_eq!(got.tag_count(), None, "no count without tags");
    c.put_object_tagging()
        .bucket("tags")
        .key("k")
        .version_id(&v1)
        .tagging(tagging(&[("old", "yes")]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "tags", "k", Some(&v1)).await, pairs(&[("old", "yes")]));
    assert!(tags_of(&c, "tags", "k", Some(&v2)).await.is_empty());
    let out = c
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));

    // DeleteObjectTagging empties the set (204), again in place.
    let out = c
        .delete_object_tagging()
        .bucket("tags")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), Some(v1.as_str()));
    assert!(tags_of(&c, "tags", "k", Some(&v1)).await.is_empty());
    let versions = c.list_object_versions().bucket("tags").send().await.unwrap();
    assert_eq!(versions.versions().len(), 2);

    // A missing key, and a delete marker, have no tags to read or write.
    let e = c
        .get_object_tagging()
        .bucket("tags")
        .key("none")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchKey"));
    c.delete_object().bucket("tags").key("k").send().await.unwrap();
    let e = c
        .put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404, "{e:?}");

    // Tags survive a crash (SIGKILL: a success was durable) and a restart.
    let mut s = s;
    s.kill();
    s.restart();
    let c = s.client();
    assert!(tags_of(&c, "tags", "k", Some(&v1)).await.is_empty());
    c.put_object_tagging()
        .bucket("tags")
        .key("k")
        .version_id(&v2)
        .tagging(tagging(&[("kept", "1")]))
        .send()
        .await
        .unwrap();
    s.kill();
    s.restart();
    let c = s.client();
    assert_eq!(tags_of(&c, "tags", "k", Some(&v2)).await, pairs(&[("kept", "1")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_the_tag_count_header() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("hdr").send().await.unwrap();
    put(&c, "hdr", "two", Some("a=1&b=2")).await;
    put(&c, "hdr", "none", None).await;
    // Signed HEADs, read raw: the SDK's HeadObjectOutput has no tag count.
    for (key, want) in [("two", Some("2")), ("none", None)] {
        let (st, headers, _) = common::signed_request(
            &s,
            (common::ACCESS_KEY, common::SECRET_KEY),
            "s3",
            "HEAD",
            &format!("/hdr/{key}"),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(st, 200);
        let count = headers.get("x-amz-tagging-count").map(|v| v.to_str().unwrap());
        assert_eq!(count, want, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_limits_are_enforced_and_a_refused_request_changes_nothing() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("lim").send().await.unwrap();
    put(&c, "lim", "k", Some("keep=me")).await;
    let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".to_string())).collect();
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".to_string())).collect();
    let set = |p: &[(String, String)]| {
        let v: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        tagging(&v)
    };
    let (k128, v256) = ("k".repeat(128), "v".repeat(256));
    let bad = [
        set(&eleven),
        tagging(&[(&format!("{k128}x"), "v")]),
        tagging(&[("k", &format!("{v256}x"))]),
        tagging(&[("dup", "1"), ("dup", "2")]),
        tagging(&[("aws:reserved", "1")]),
    ];
    for (i, t) in bad.into_iter().enumerate() {
        let e = c
            .put_object_tagging()
            .bucket("lim")
            .key("k")
            .tagging(t)
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidTag"), "case {i}");
        assert_eq!(
            tags_of(&c, "lim", "k", None).await,
            pairs(&[("keep", "me")]),
            "case {i}"
        );
    }
    // The largest allowed set is accepted whole.
    c.put_object_tagging()
        .bucket("lim")
        .key("k")
        .tagging(set(&ten))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "lim", "k", None).await.len(), 10);
    c.put_object_tagging()
        .bucket("lim")
        .key("k")
        .tagging(tagging(&[(&k128, &v256)]))
        .send()
        .await
        .unwrap();

    // A PUT whose x-amz-tagging breaks a rule stores nothing.
    let header = eleven
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let e = c
        .put_object()
        .bucket("lim")
        .key("new")
        .tagging(header)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidTag"));
    let e = c.head_object().bucket("lim").key("new").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "nothing was stored");
    let e = c
        .create_multipart_upload()
        .bucket("lim")
        .key("new")
        .tagging("aws:x=1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidTag");
    let uploads = c.list_multipart_uploads().bucket("lim").send().await.unwrap();
    assert!(uploads.uploads().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_and_copies_carry_tags_as_aws_does() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("mpc").send().await.unwrap();

    // Tags named at CreateMultipartUpload are the completed object's.
    let up = c
        .create_multipart_upload()
        .bucket("mpc")
        .key("mp")
        .tagging("Hello=World&foo=bar")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("mpc")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part one"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("mpc")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, "mpc", "mp", None).await,
        pairs(&[("Hello", "World"), ("foo", "bar")])
    );

    // A copy takes the source's tags by default (COPY) ...
    put(&c, "mpc", "src", Some("team=red")).await;
    c.copy_object()
        .bucket("mpc")
        .key("copied")
        .copy_source("mpc/src")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "mpc", "copied", None).await, pairs(&[("team", "red")]));
    // ... and with COPY a tagging header changes nothing (as AWS).
    c.copy_object()
        .bucket("mpc")
        .key("copied2")
        .copy_source("mpc/src")
        .tagging("ignored=1")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "mpc", "copied2", None).await, pairs(&[("team", "red")]));
    // REPLACE: the request's tags, or none.
    c.copy_object()
        .bucket("mpc")
        .key("replaced")
        .copy_source("mpc/src")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("team=blue&x=y")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, "mpc", "replaced", None).await,
        pairs(&[("team", "blue"), ("x", "y")])
    );
    c.copy_object()
        .bucket("mpc")
        .key("untagged")
        .copy_source("mpc/src")
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
    assert!(tags_of(&c, "mpc", "untagged", None).await.is_empty());
    // A self-copy with REPLACE metadata re-tags in a new object (a rewrite).
    c.copy_object()
        .bucket("mpc")
        .key("src")
        .copy_source("mpc/src")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .tagging_directive(TaggingDirective::Replace)
        .tagging("team=green")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "mpc", "src", None).await, pairs(&[("team", "green")]));
    let e = c
        .copy_object()
        .bucket("mpc")
        .key("bad")
        .copy_source("mpc/src")
        .tagging_directive(TaggingDirective::from("MERGE"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"));

    // An encrypted copy (written again, not shared) also carries the tags.
    c.copy_object()
        .bucket("mpc")
        .key("sealed")
        .copy_source("mpc/src")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "mpc", "sealed", None).await, pairs(&[("team", "green")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_tags_are_set_read_and_deleted_by_the_owner() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("btg").send().await.unwrap();
    let e = c.get_bucket_tagging().bucket("btg").send().await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchTagSet"));
    c.put_bucket_tagging()
        .bucket("btg")
        .tagging(tagging(&[("Hello", "World"), ("cost", "42")]))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_tagging().bucket("btg").send().await.unwrap();
    let got: Vec<_> = got
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(got, pairs(&[("Hello", "World"), ("cost", "42")]));
    // 50 is the limit; 51 is refused and the set is unchanged.
    let fifty_one: Vec<Tag> = (0..51)
        .map(|i| Tag::builder().key(format!("k{i}")).value("v").build().unwrap())
        .collect();
    let e = c
        .put_bucket_tagging()
        .bucket("btg")
        .tagging(Tagging::builder().set_tag_set(Some(fifty_one.clone())).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidTag"));
    assert_eq!(
        c.get_bucket_tagging()
            .bucket("btg")
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        2
    );
    c.put_bucket_tagging()
        .bucket("btg")
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(fifty_one[..50].to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get_bucket_tagging()
            .bucket("btg")
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        50
    );

    // Another user (no grants) may neither read nor change them.
    let bob = new_iam_user(&s, "bob").await;
    let e = bob.client.get_bucket_tagging().bucket("btg").send().await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (403, "AccessDenied"));
    let e = bob
        .client
        .delete_bucket_tagging()
        .bucket("btg")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    let out = c.delete_bucket_tagging().bucket("btg").send().await;
    assert!(out.is_ok(), "{out:?}");
    let e = c.get_bucket_tagging().bucket("btg").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchTagSet");

    // A bucket deleted and made again starts without tags.
    c.put_bucket_tagging()
        .bucket("btg")
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("btg").send().await.unwrap();
    c.create_bucket().bucket("btg").send().await.unwrap();
    let e = c.get_bucket_tagging().bucket("btg").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchTagSet");
}

/// Who may do what with tags: principals × operations, each cell checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_to_tags_is_a_matrix_of_principals_and_operations() {
    let s = Server::start();
    let root = s.client();
    let alice = new_iam_user(&s, "alice").await; // owns her bucket and objects
    let bob = new_iam_user(&s, "bob").await; // no grants at all
    let carol = new_iam_user(&s, "carol").await; // bucket policy: GetObjectTagging only
    let anon = anonymous(&s);
    alice.client.create_bucket().bucket("abk").send().await.unwrap();
    put(&alice.client, "abk", "obj", Some("security=public")).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::000000000000:user/carol"},
        "Action":"s3:GetObjectTagging","Resource":"arn:aws:s3:::abk/*"}]}"#;
    alice
        .client
        .put_bucket_policy()
        .bucket("abk")
        .policy(policy)
        .send()
        .await
        .unwrap();

    async fn get(c: &Client) -> Result<(), String> {
        c.get_object_tagging()
            .bucket("abk")
            .key("obj")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code(&e))
    }
    async fn put_tags(c: &Client) -> Result<(), String> {
        c.put_object_tagging()
            .bucket("abk")
            .key("obj")
            .tagging(tagging(&[("security", "public")]))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code(&e))
    }
    async fn delete(c: &Client) -> Result<(), String> {
        c.delete_object_tagging()
            .bucket("abk")
            .key("obj")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code(&e))
    }
    async fn bucket_put(c: &Client) -> Result<(), String> {
        c.put_bucket_tagging()
            .bucket("abk")
            .tagging(tagging(&[("t", "1")]))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code(&e))
    }
    let denied = || Err("AccessDenied".to_string());
    type Row<'a> = (&'a str, &'a Client, [Result<(), String>; 4]);
    let cases: [Row; 5] = [
        ("root", &root, [Ok(()), Ok(()), Ok(()), Ok(())]),
        ("alice (owner)", &alice.client, [Ok(()), Ok(()), Ok(()), Ok(())]),
        ("bob (nothing)", &bob.client, [denied(), denied(), denied(), denied()]),
        (
            "carol (GetObjectTagging)",
            &carol.client,
            [Ok(()), denied(), denied(), denied()],
        ),
        ("anonymous", &anon, [denied(), denied(), denied(), denied()]),
    ];
    for (who, c, want) in cases {
        // Each write cell restores the tags first, so every cell sees the same state.
        put_tags(&root).await.unwrap();
        let got = [get(c).await, put_tags(c).await, delete(c).await, bucket_put(c).await];
        assert_eq!(
            got, want,
            "{who}: [GetObjectTagging, PutObjectTagging, DeleteObjectTagging, PutBucketTagging]"
        );
    }
    // Reading an object is not reading its tags, and the other way round.
    let e = carol
        .client
        .get_object()
        .bucket("abk")
        .key("obj")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_test_existing_and_requested_tags() {
    let s = Server::start();
    let root = s.client();
    let bob = new_iam_user(&s, "bob").await;
    root.create_bucket().bucket("ptg").send().await.unwrap();
    put(&root, "ptg", "publictag", Some("security=public&foo=bar")).await;
    put(&root, "ptg", "privatetag", Some("security=private")).await;
    put(&root, "ptg", "invalidtag", Some("security1=public")).await;
    put(&root, "ptg", "untagged", None).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::ptg/*",
         "Condition":{"StringEquals":{"s3:ExistingObjectTag/security":"public"}}},
        {"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:PutObject","s3:PutObjectTagging"],
         "Resource":"arn:aws:s3:::ptg/up/*",
         "Condition":{"StringEquals":{"s3:RequestObjectTag/security":"public"}}},
        {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::ptg/plain/*"},
        {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:PutObjectTagging","Resource":"arn:aws:s3:::ptg/*",
         "Condition":{"StringEquals":{"s3:ExistingObjectTag/security":"public"}}}]}"#;
    root.put_bucket_policy()
        .bucket("ptg")
        .policy(policy)
        .send()
        .await
        .unwrap();

    let b = &bob.client;
    assert!(b.get_object().bucket("ptg").key("publictag").send().await.is_ok());
    for key in ["privatetag", "invalidtag", "untagged"] {
        let e = b.get_object().bucket("ptg").key(key).send().await.unwrap_err();
        assert_eq!(status(&e), 403, "{key}");
    }
    // A PUT with tags also needs s3:PutObjectTagging on the new version, which its
    // writer (who owns it, as for its ACL) has unless a policy denies it (below).
    b.put_object()
        .bucket("ptg")
        .key("plain/x")
        .tagging("a=b")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&root, "ptg", "plain/x", None).await, pairs(&[("a", "b")]));
    // Under `up/` a PUT is allowed only with the requested tag.
    let e = b
        .put_object()
        .bucket("ptg")
        .key("up/a")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = b
        .put_object()
        .bucket("ptg")
        .key("up/a")
        .tagging("security=private")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    b.put_object()
        .bucket("ptg")
        .key("up/a")
        .tagging("security=public")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // Re-tagging is allowed while the existing tag says public: once bob sets
    // private, he can no longer change it back.
    let retag = |key: &'static str, value: &'static str| async move {
        b.put_object_tagging()
            .bucket("ptg")
            .key(key)
            .tagging(tagging(&[("security", value)]))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code(&e))
    };
    assert_eq!(retag("privatetag", "public").await, Err("AccessDenied".into()));
    assert_eq!(retag("publictag", "public").await, Ok(()));
    assert_eq!(retag("publictag", "private").await, Ok(()));
    assert_eq!(retag("publictag", "public").await, Err("AccessDenied".into()));

    // A Deny on s3:PutObjectTagging refuses a tagged PUT, not a plain one.
    let deny = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Deny","Principal":"*","Action":"s3:PutObjectTagging","Resource":"arn:aws:s3:::ptg/*"}]}"#;
    root.put_bucket_policy()
        .bucket("ptg")
        .policy(deny)
        .send()
        .await
        .unwrap();
    let e = root
        .put_object()
        .bucket("ptg")
        .key("denied")
        .tagging("a=b")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = root.head_object().bucket("ptg").key("denied").send().await.unwrap_err();
    assert_eq!(status(&e), 404, "nothing was stored");
    put(&root, "ptg", "denied", None).await;
    // A copy of a tagged source with its tags writes tags too: refused; with REPLACE
    // and no tags it is allowed.
    let e = root
        .copy_object()
        .bucket("ptg")
        .key("copy")
        .copy_source("ptg/privatetag")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    root.copy_object()
        .bucket("ptg")
        .key("copy")
        .copy_source("ptg/privatetag")
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
}

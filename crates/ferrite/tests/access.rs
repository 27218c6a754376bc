//! Who may do what: a matrix of principals × operations against the real binary,
//! driven by `aws-sdk-s3`, with AWS's ACL semantics as the expected answers. Users and
//! keys are made through the IAM API, as an operator would. Every cell sends one real
//! request: a "deny" cell fails if the authorizer is bypassed, an "allow" cell if it
//! refuses too much.

mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, VersioningConfiguration,
};
use common::{ACCESS_KEY, SECRET_KEY, Server, anonymous, client_with, code, hex_encode, sha256_hex};

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Calls the IAM API as root: a form POST signed with SigV4 for service `iam`.
async fn iam(server: &Server, params: &[(&str, &str)]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let mut all = vec![("Version", "2010-05-08")];
    all.extend_from_slice(params);
    let body = all
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    let iso = now.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap();
    let digits: String = iso.chars().filter(|c| *c != '-' && *c != ':').collect();
    let amz_date = format!("{}Z", &digits[..15]);
    let day = &amz_date[..8];
    let scope = format!("{day}/us-east-1/iam/aws4_request");
    let payload = sha256_hex(body.as_bytes());
    let host = &server.addr;
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:{host}\nx-amz-date:{amz_date}\n\ncontent-type;host;x-amz-date\n{payload}"
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let key = ["us-east-1", "iam", "aws4_request"]
        .iter()
        .fold(hmac(format!("AWS4{SECRET_KEY}").as_bytes(), day), |k, p| hmac(&k, p));
    let signature = hex_encode(&hmac(&key, &sts));
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nX-Amz-Date: {amz_date}\r\nAuthorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders=content-type;host;x-amz-date, Signature={signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn between<'a>(text: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = text.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {text}")) + open.len();
    let end = text[start..].find(&format!("</{tag}>")).unwrap() + start;
    &text[start..end]
}

/// A user as the tests know it: its canonical id, its key, and a client signed with it.
struct User {
    id: String,
    key_id: String,
    client: Client,
}

async fn new_user(server: &Server, name: &str) -> User {
    let (status, text) = iam(server, &[("Action", "CreateUser"), ("UserName", name)]).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = iam(server, &[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    assert_eq!(status, 200, "{text}");
    let (key_id, secret) = (between(&text, "AccessKeyId"), between(&text, "SecretAccessKey"));
    let client = client_with(&server.endpoint(), key_id, secret);
    // A user's canonical id is the owner id of what it creates.
    let bucket = format!("whoami-{}", name.to_ascii_lowercase());
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let acl = client.get_bucket_acl().bucket(&bucket).send().await.unwrap();
    let id = acl.owner().unwrap().id().unwrap().to_string();
    assert_eq!(id.len(), 64, "canonical ids are 64 hex characters");
    User {
        id,
        key_id: key_id.to_string(),
        client,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    BucketOwner,
    ObjectWriter,
    Other,
    Granted,
    AuthenticatedGrant,
    Anonymous,
    AnonymousPublicRead,
    DisabledKey,
}

const ALL_WHO: [Who; 8] = [
    Who::BucketOwner,
    Who::ObjectWriter,
    Who::Other,
    Who::Granted,
    Who::AuthenticatedGrant,
    Who::Anonymous,
    Who::AnonymousPublicRead,
    Who::DisabledKey,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    HeadBucket,
    ListObjectsV2,
    ListObjects,
    ListObjectVersions,
    ListMultipartUploads,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketVersioning,
    PutBucketVersioning,
    GetBucketLocation,
    GetObject,
    HeadObject,
    GetObjectVersion,
    GetObjectAcl,
    GetObjectVersionAcl,
    PutObjectAcl,
    PutObject,
    DeleteObject,
    DeleteObjectVersion,
    DeleteObjects,
    CopyIn,
    CopyOut,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    ListParts,
    AbortMultipartUpload,
    CompleteMultipartUpload,
    DeleteBucket,
}

const ALL_OPS: [Op; 29] = [
    Op::HeadBucket,
    Op::ListObjectsV2,
    Op::ListObjects,
    Op::ListObjectVersions,
    Op::ListMultipartUploads,
    Op::GetBucketAcl,
    Op::GetBucketVersioning,
    Op::GetBucketLocation,
    Op::GetObject,
    Op::HeadObject,
    Op::GetObjectVersion,
    Op::GetObjectAcl,
    Op::GetObjectVersionAcl,
    Op::CopyOut,
    Op::UploadPartCopy,
    Op::ListParts,
    // Writes last, each on a resource of its own.
    Op::PutBucketAcl,
    Op::PutBucketVersioning,
    Op::PutObjectAcl,
    Op::PutObject,
    Op::DeleteObject,
    Op::DeleteObjectVersion,
    Op::DeleteObjects,
    Op::CopyIn,
    Op::CreateMultipartUpload,
    Op::UploadPart,
    Op::AbortMultipartUpload,
    Op::CompleteMultipartUpload,
    Op::DeleteBucket,
];

/// AWS's answer for each cell (ACL semantics, ObjectWriter ownership). The bucket's
/// ACL: owner FULL_CONTROL, the writer WRITE, plus the scenario's grant; its objects
/// are the writer's: writer FULL_CONTROL plus the scenario's grant.
fn expected(who: Who, op: Op) -> bool {
    use Op::*;
    let owner_only = matches!(
        op,
        GetBucketVersioning | PutBucketVersioning | GetBucketLocation | DeleteBucket
    );
    let object_read = matches!(op, GetObject | HeadObject | GetObjectVersion | CopyOut | UploadPartCopy);
    let object_acp = matches!(op, GetObjectAcl | GetObjectVersionAcl | PutObjectAcl);
    let bucket_read = matches!(
        op,
        HeadBucket | ListObjectsV2 | ListObjects | ListObjectVersions | ListMultipartUploads | ListParts
    );
    let bucket_write = matches!(
        op,
        PutObject
            | DeleteObject
            | DeleteObjectVersion
            | DeleteObjects
            | CopyIn
            | CreateMultipartUpload
            | UploadPart
            | AbortMultipartUpload
            | CompleteMultipartUpload
    );
    match who {
        // Its bucket, everything; the writer's objects, nothing.
        Who::BucketOwner => !(object_read || object_acp),
        // WRITE on the bucket; its own objects.
        Who::ObjectWriter => bucket_write || object_read || object_acp,
        Who::Other | Who::Anonymous | Who::DisabledKey => false,
        // FULL_CONTROL on the bucket and the objects: all but the owner-only actions.
        Who::Granted => !owner_only,
        // READ on the bucket and the objects.
        Who::AuthenticatedGrant | Who::AnonymousPublicRead => bucket_read || object_read,
    }
}

/// The scenario's extra grantee (`id=` or `uri=`) and the permission it gets.
fn extra_grant(who: Who, users: &Users) -> Option<(String, &'static str)> {
    match who {
        Who::Granted => Some((format!("id=\"{}\"", users.granted.id), "full")),
        Who::DisabledKey => Some((format!("id=\"{}\"", users.disabled.id), "full")),
        Who::AuthenticatedGrant => Some((format!("uri=\"{AUTHENTICATED_USERS}\""), "read")),
        Who::AnonymousPublicRead => Some((format!("uri=\"{ALL_USERS}\""), "read")),
        _ => None,
    }
}

struct Users {
    owner: User,
    writer: User,
    other: User,
    granted: User,
    authd: User,
    disabled: User,
}

/// Grant headers for the bucket ACL of a scenario: (full control, read, write).
fn bucket_acl(who: Who, u: &Users) -> (String, Option<String>, String) {
    let mut full = format!("id=\"{}\"", u.owner.id);
    let mut read = None;
    match extra_grant(who, u) {
        Some((g, "full")) => full = format!("{full}, {g}"),
        Some((g, _)) => read = Some(g),
        None => {}
    }
    (full, read, format!("id=\"{}\"", u.writer.id))
}

fn object_acl(who: Who, u: &Users) -> (String, Option<String>) {
    let mut full = format!("id=\"{}\"", u.writer.id);
    let mut read = None;
    match extra_grant(who, u) {
        Some((g, "full")) => full = format!("{full}, {g}"),
        Some((g, _)) => read = Some(g),
        None => {}
    }
    (full, read)
}

/// What a scenario's cells work on.
struct Fixture {
    bucket: String,
    empty_bucket: String,
    v1: String,
    del_version: String,
    /// Uploads by the bucket owner: for UploadPart/ListParts, Abort, Complete.
    upload_parts: String,
    upload_abort: String,
    upload_complete: String,
    etag_complete: String,
    /// An upload in the shared sink bucket, for UploadPartCopy.
    sink_upload: String,
}

async fn put_writer_object(c: &Client, bucket: &str, key: &str, acl: &(String, Option<String>)) -> Option<String> {
    let mut req = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"payload"))
        .grant_full_control(&acl.0);
    if let Some(r) = &acl.1 {
        req = req.grant_read(r);
    }
    req.send().await.unwrap().version_id().map(str::to_string)
}

async fn setup(who: Who, u: &Users, root: &Client) -> Fixture {
    let tag = format!("{who:?}").to_ascii_lowercase();
    let bucket = format!("m-{tag}");
    let empty_bucket = format!("e-{tag}");
    let owner = &u.owner.client;
    let (full, read, write) = bucket_acl(who, u);
    for b in [&bucket, &empty_bucket] {
        let mut req = owner
            .create_bucket()
            .bucket(b)
            .grant_full_control(&full)
            .grant_write(&write);
        if let Some(r) = &read {
            req = req.grant_read(r);
        }
        req.send().await.unwrap();
    }
    owner
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let oacl = object_acl(who, u);
    let w = &u.writer.client;
    let v1 = put_writer_object(w, &bucket, "obj", &oacl).await.unwrap();
    put_writer_object(w, &bucket, "obj", &oacl).await;
    for k in ["acl-target", "del1", "del3"] {
        put_writer_object(w, &bucket, k, &oacl).await;
    }
    let del_version = put_writer_object(w, &bucket, "del2", &oacl).await.unwrap();
    let mut uploads = Vec::new();
    for k in ["mp-parts", "mp-abort", "mp-complete"] {
        let up = owner
            .create_multipart_upload()
            .bucket(&bucket)
            .key(k)
            .send()
            .await
            .unwrap();
        uploads.push(up.upload_id().unwrap().to_string());
    }
    let part = owner
        .upload_part()
        .bucket(&bucket)
        .key("mp-complete")
        .upload_id(&uploads[2])
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let sink = root
        .create_multipart_upload()
        .bucket("sink")
        .key(format!("copy-{tag}"))
        .send()
        .await
        .unwrap();
    Fixture {
        bucket,
        empty_bucket,
        v1,
        del_version,
        upload_parts: uploads[0].clone(),
        upload_abort: uploads[1].clone(),
        upload_complete: uploads[2].clone(),
        etag_complete: part.e_tag().unwrap().to_string(),
        sink_upload: sink.upload_id().unwrap().to_string(),
    }
}

/// The code of a HEAD error: its status (no body says more), `403` for a denial.
fn head_code<E>(e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> String {
    common::status(e).to_string()
}

/// Runs one cell: `Ok(())` if the request succeeded, else the error code.
async fn run(op: Op, c: &Client, f: &Fixture, who: Who, u: &Users) -> Result<(), String> {
    let b = f.bucket.as_str();
    macro_rules! done {
        ($e:expr) => {
            $e.await.map(|_| ()).map_err(|e| code(&e))
        };
    }
    match op {
        // A HEAD answer has no body: its status is what the client sees.
        Op::HeadBucket => c
            .head_bucket()
            .bucket(b)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| head_code(&e)),
        Op::ListObjectsV2 => done!(c.list_objects_v2().bucket(b).send()),
        Op::ListObjects => done!(c.list_objects().bucket(b).send()),
        Op::ListObjectVersions => done!(c.list_object_versions().bucket(b).send()),
        Op::ListMultipartUploads => done!(c.list_multipart_uploads().bucket(b).send()),
        Op::GetBucketAcl => done!(c.get_bucket_acl().bucket(b).send()),
        Op::PutBucketAcl => {
            // The scenario's own ACL again: allowed or not, the state stays the same.
            let (full, read, write) = bucket_acl(who, u);
            let mut req = c.put_bucket_acl().bucket(b).grant_full_control(full).grant_write(write);
            if let Some(r) = read {
                req = req.grant_read(r);
            }
            done!(req.send())
        }
        Op::GetBucketVersioning => done!(c.get_bucket_versioning().bucket(b).send()),
        Op::PutBucketVersioning => done!(
            c.put_bucket_versioning()
                .bucket(b)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build()
                )
                .send()
        ),
        Op::GetBucketLocation => done!(c.get_bucket_location().bucket(b).send()),
        Op::GetObject => done!(c.get_object().bucket(b).key("obj").send()),
        Op::HeadObject => c
            .head_object()
            .bucket(b)
            .key("obj")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| head_code(&e)),
        Op::GetObjectVersion => done!(c.get_object().bucket(b).key("obj").version_id(&f.v1).send()),
        Op::GetObjectAcl => done!(c.get_object_acl().bucket(b).key("obj").send()),
        Op::GetObjectVersionAcl => done!(c.get_object_acl().bucket(b).key("obj").version_id(&f.v1).send()),
        Op::PutObjectAcl => {
            let (full, read) = object_acl(who, u);
            let mut req = c.put_object_acl().bucket(b).key("acl-target").grant_full_control(full);
            if let Some(r) = read {
                req = req.grant_read(r);
            }
            done!(req.send())
        }
        Op::PutObject => done!(
            c.put_object()
                .bucket(b)
                .key("new")
                .body(ByteStream::from_static(b"x"))
                .send()
        ),
        Op::DeleteObject => done!(c.delete_object().bucket(b).key("del1").send()),
        Op::DeleteObjectVersion => done!(
            c.delete_object()
                .bucket(b)
                .key("del2")
                .version_id(&f.del_version)
                .send()
        ),
        Op::DeleteObjects => {
            let del = Delete::builder()
                .objects(ObjectIdentifier::builder().key("del3").build().unwrap())
                .build()
                .unwrap();
            match c.delete_objects().bucket(b).delete(del).send().await {
                Err(e) => Err(code(&e)),
                Ok(out) => match out.errors().first() {
                    Some(e) => Err(e.code().unwrap_or("?").to_string()),
                    None => Ok(()),
                },
            }
        }
        Op::CopyIn => done!(
            c.copy_object()
                .bucket(b)
                .key("copied-in")
                .copy_source("pubsrc/public")
                .send()
        ),
        Op::CopyOut => done!(
            c.copy_object()
                .bucket("sink")
                .key(format!("out-{who:?}"))
                .copy_source(format!("{b}/obj"))
                .send()
        ),
        Op::CreateMultipartUpload => done!(c.create_multipart_upload().bucket(b).key("mp-new").send()),
        Op::UploadPart => done!(
            c.upload_part()
                .bucket(b)
                .key("mp-parts")
                .upload_id(&f.upload_parts)
                .part_number(2)
                .body(ByteStream::from_static(b"p"))
                .send()
        ),
        Op::UploadPartCopy => done!(
            c.upload_part_copy()
                .bucket("sink")
                .key(format!("copy-{}", format!("{who:?}").to_ascii_lowercase()))
                .upload_id(&f.sink_upload)
                .part_number(1)
                .copy_source(format!("{b}/obj"))
                .send()
        ),
        Op::ListParts => done!(
            c.list_parts()
                .bucket(b)
                .key("mp-parts")
                .upload_id(&f.upload_parts)
                .send()
        ),
        Op::AbortMultipartUpload => done!(
            c.abort_multipart_upload()
                .bucket(b)
                .key("mp-abort")
                .upload_id(&f.upload_abort)
                .send()
        ),
        Op::CompleteMultipartUpload => done!(
            c.complete_multipart_upload()
                .bucket(b)
                .key("mp-complete")
                .upload_id(&f.upload_complete)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .parts(CompletedPart::builder().part_number(1).e_tag(&f.etag_complete).build())
                        .build()
                )
                .send()
        ),
        Op::DeleteBucket => done!(c.delete_bucket().bucket(&f.empty_bucket).send()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn principals_by_operations_follow_aws_acl_semantics() {
    let server = Server::start();
    let root = server.client();
    let users = Users {
        owner: new_user(&server, "Owner").await,
        writer: new_user(&server, "Writer").await,
        other: new_user(&server, "Other").await,
        granted: new_user(&server, "Granted").await,
        authd: new_user(&server, "Authd").await,
        disabled: new_user(&server, "Disabled").await,
    };
    // Shared by every scenario: a public source to copy in, and a sink anyone may
    // write to, to copy out into.
    root.create_bucket()
        .bucket("pubsrc")
        .acl("public-read".into())
        .send()
        .await
        .unwrap();
    root.put_object()
        .bucket("pubsrc")
        .key("public")
        .acl("public-read".into())
        .body(ByteStream::from_static(b"public"))
        .send()
        .await
        .unwrap();
    root.create_bucket()
        .bucket("sink")
        .acl("public-read-write".into())
        .send()
        .await
        .unwrap();
    let anon = anonymous(&server);

    let mut failures = Vec::new();
    let mut cells = 0;
    for who in ALL_WHO {
        let fixture = setup(who, &users, &root).await;
        let client = match who {
            Who::BucketOwner => &users.owner.client,
            Who::ObjectWriter => &users.writer.client,
            Who::Other => &users.other.client,
            Who::Granted => &users.granted.client,
            Who::AuthenticatedGrant => &users.authd.client,
            Who::Anonymous | Who::AnonymousPublicRead => &anon,
            Who::DisabledKey => &users.disabled.client,
        };
        if who == Who::DisabledKey {
            let (status, text) = iam(
                &server,
                &[
                    ("Action", "UpdateAccessKey"),
                    ("UserName", "Disabled"),
                    ("AccessKeyId", &users.disabled.key_id),
                    ("Status", "Inactive"),
                ],
            )
            .await;
            assert_eq!(status, 200, "{text}");
        }
        for op in ALL_OPS {
            cells += 1;
            let want = expected(who, op);
            let got = run(op, client, &fixture, who, &users).await;
            let denied_code = if who == Who::DisabledKey {
                "InvalidAccessKeyId"
            } else {
                "AccessDenied"
            };
            let ok = match (&got, want) {
                (Ok(()), true) => true,
                (Err(c), false) => c == denied_code || (matches!(op, Op::HeadBucket | Op::HeadObject) && c == "403"),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{who:?} × {op:?}: expected {}, got {got:?}",
                    if want { "allow" } else { "deny" }
                ));
            }
        }
    }
    assert!(cells >= 8 * 25);
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A caller that may not list a bucket learns nothing of what is missing in it: 403,
/// not 404; one that may list gets 404. Anonymous ListBuckets is refused.
#[tokio::test(flavor = "multi_thread")]
async fn missing_keys_are_hidden_from_callers_that_may_not_list() {
    let server = Server::start();
    let root = server.client();
    let reader = new_user(&server, "Reader").await;
    let stranger = new_user(&server, "Stranger").await;
    root.create_bucket().bucket("bkt").send().await.unwrap();
    root.put_bucket_acl()
        .bucket("bkt")
        .grant_read(format!("id=\"{}\"", reader.id))
        .send()
        .await
        .unwrap();
    let e = reader
        .client
        .get_object()
        .bucket("bkt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchKey");
    let e = stranger
        .client
        .get_object()
        .bucket("bkt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = stranger
        .client
        .head_object()
        .bucket("bkt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 403);
    // Another user's bucket name is taken; ListBuckets lists the caller's own.
    let e = stranger.client.create_bucket().bucket("bkt").send().await.unwrap_err();
    assert_eq!(code(&e), "BucketAlreadyExists");
    let mine = stranger.client.list_buckets().send().await.unwrap();
    let names: Vec<_> = mine.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["whoami-stranger"]);
    let e = anonymous(&server).list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

/// Each version has its own ACL; a new version starts from its own headers. A copy
/// gets a private ACL unless its headers say otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn acls_belong_to_versions_and_copies_start_private() {
    let server = Server::start();
    let root = server.client();
    let anon = anonymous(&server);
    root.create_bucket().bucket("vers").send().await.unwrap();
    common::set_versioning(&root, "vers", BucketVersioningStatus::Enabled).await;
    let put = |acl: Option<&'static str>| {
        let mut r = root
            .put_object()
            .bucket("vers")
            .key("k")
            .body(ByteStream::from_static(b"1"));
        if let Some(a) = acl {
            r = r.acl(a.into());
        }
        r.send()
    };
    let public = put(Some("public-read"))
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    put(None).await.unwrap();
    // The current version is private; the older one stays public.
    assert_eq!(
        code(&anon.get_object().bucket("vers").key("k").send().await.unwrap_err()),
        "AccessDenied"
    );
    anon.get_object()
        .bucket("vers")
        .key("k")
        .version_id(&public)
        .send()
        .await
        .unwrap();
    // A copy of the public version is private.
    root.copy_object()
        .bucket("vers")
        .key("copy")
        .copy_source(format!("vers/k?versionId={public}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&anon.get_object().bucket("vers").key("copy").send().await.unwrap_err()),
        "AccessDenied"
    );
    // PutObjectAcl on the current version opens it, and only it.
    root.put_object_acl()
        .bucket("vers")
        .key("k")
        .acl("public-read".into())
        .send()
        .await
        .unwrap();
    anon.get_object().bucket("vers").key("k").send().await.unwrap();
    // Too many grants, or an unknown canonical id: refused, nothing changes.
    let many = (0..101)
        .map(|i| format!("id=\"{i:064x}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let e = root
        .put_object_acl()
        .bucket("vers")
        .key("k")
        .grant_read(many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedACLError");
    let e = root
        .put_object_acl()
        .bucket("vers")
        .key("k")
        .grant_read(format!("id=\"{}\"", "f".repeat(64)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
    anon.get_object().bucket("vers").key("k").send().await.unwrap();
    let e = root
        .put_object_acl()
        .bucket("vers")
        .key("k")
        .grant_read("emailAddress=\"a@example.com\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnresolvableGrantByEmailAddress");
}

/// Ownership controls: BucketOwnerEnforced disables ACLs (ACL writes refused, the
/// bucket owner owns every object); BucketOwnerPreferred gives the bucket owner objects
/// written with bucket-owner-full-control.
#[tokio::test(flavor = "multi_thread")]
async fn ownership_controls() {
    use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    let server = Server::start();
    let owner = new_user(&server, "BucketOwner").await;
    let writer = new_user(&server, "Uploader").await;
    let o = &owner.client;
    let e = o
        .create_bucket()
        .bucket("enforced")
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .grant_write(format!("id=\"{}\"", writer.id))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidBucketAclWithObjectOwnership");
    o.create_bucket()
        .bucket("enforced")
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .unwrap();
    let got = o
        .get_bucket_ownership_controls()
        .bucket("enforced")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
    let e = o
        .put_object()
        .bucket("enforced")
        .key("k")
        .acl("public-read".into())
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessControlListNotSupported");
    let e = o
        .put_bucket_acl()
        .bucket("enforced")
        .acl("public-read".into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessControlListNotSupported");
    o.put_object()
        .bucket("enforced")
        .key("k")
        .acl("bucket-owner-full-control".into())
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();

    // Preferred: the writer hands the object over with bucket-owner-full-control.
    o.create_bucket()
        .bucket("preferred")
        .grant_write(format!("id=\"{}\"", writer.id))
        .grant_full_control(format!("id=\"{}\"", owner.id))
        .send()
        .await
        .unwrap();
    let e = o
        .get_bucket_ownership_controls()
        .bucket("preferred")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "OwnershipControlsNotFoundError");
    o.put_bucket_ownership_controls()
        .bucket("preferred")
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerPreferred)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for (key, acl, owned_by_bucket_owner) in [
        ("given", Some("bucket-owner-full-control"), true),
        ("kept", None, false),
    ] {
        let mut r = writer
            .client
            .put_object()
            .bucket("preferred")
            .key(key)
            .body(ByteStream::from_static(b"x"));
        if let Some(a) = acl {
            r = r.acl(a.into());
        }
        r.send().await.unwrap();
        // The bucket owner can read only what it owns (or was granted).
        let read = o.get_object().bucket("preferred").key(key).send().await;
        assert_eq!(read.is_ok(), owned_by_bucket_owner, "{key}");
    }
    o.delete_bucket_ownership_controls()
        .bucket("preferred")
        .send()
        .await
        .unwrap();
    let e = o
        .get_bucket_ownership_controls()
        .bucket("preferred")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "OwnershipControlsNotFoundError");
    // Only the bucket owner manages ownership controls.
    let e = writer
        .client
        .get_bucket_ownership_controls()
        .bucket("enforced")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

/// `x-amz-expected-bucket-owner` (and the copy source's) is enforced: a bucket owned
/// by another principal is refused with AccessDenied, even to root. Ferrite's users are
/// account-like, so the value is the owner's canonical id (as in Ceph RGW).
#[tokio::test(flavor = "multi_thread")]
async fn expected_bucket_owner_is_checked() {
    let server = Server::start();
    let root = server.client();
    let alice = new_user(&server, "Alice").await;
    let c = &alice.client;
    c.create_bucket().bucket("alices").send().await.unwrap();
    c.put_object()
        .bucket("alices")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    c.list_objects_v2()
        .bucket("alices")
        .expected_bucket_owner(&alice.id)
        .send()
        .await
        .unwrap();
    for client in [c, &root] {
        let e = client
            .list_objects_v2()
            .bucket("alices")
            .expected_bucket_owner("0".repeat(64))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        let e = client
            .put_object()
            .bucket("alices")
            .key("k2")
            .expected_bucket_owner("0".repeat(64))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
    }
    // The copy source's expected owner is checked against the source bucket.
    let e = c
        .copy_object()
        .bucket("alices")
        .key("copy")
        .copy_source("alices/k")
        .expected_source_bucket_owner("0".repeat(64))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    c.copy_object()
        .bucket("alices")
        .key("copy")
        .copy_source("alices/k")
        .expected_source_bucket_owner(&alice.id)
        .expected_bucket_owner(&alice.id)
        .send()
        .await
        .unwrap();
}

/// `x-amz-grant-write` on an object write is kept, not dropped unseen (the SDK's
/// PutObject has no field for it; the header is added as a client would).
#[tokio::test(flavor = "multi_thread")]
async fn grant_write_on_an_object_write_is_kept() {
    let server = Server::start();
    let root = server.client();
    let bob = new_user(&server, "Bob").await;
    root.create_bucket().bucket("grantw").send().await.unwrap();
    let grant = format!("id=\"{}\"", bob.id);
    root.put_object()
        .bucket("grantw")
        .key("k")
        .grant_read(&grant)
        .body(ByteStream::from_static(b"x"))
        .customize()
        .mutate_request(move |r| {
            r.headers_mut().insert("x-amz-grant-write", grant.clone());
        })
        .send()
        .await
        .unwrap();
    let acl = root.get_object_acl().bucket("grantw").key("k").send().await.unwrap();
    let perms: Vec<&str> = acl
        .grants()
        .iter()
        .filter_map(|g| g.permission())
        .map(|p| p.as_str())
        .collect();
    assert_eq!(perms, ["READ", "WRITE"]);
    // Bob may read (READ); WRITE on an object grants nothing more on AWS.
    bob.client.get_object().bucket("grantw").key("k").send().await.unwrap();
    let e = bob
        .client
        .get_object_acl()
        .bucket("grantw")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

/// `--default-object-ownership` decides what new buckets get when CreateBucket names
/// no ownership; a request that names one still wins.
#[tokio::test(flavor = "multi_thread")]
async fn the_operator_chooses_the_default_object_ownership() {
    use aws_sdk_s3::types::ObjectOwnership;
    let server = Server::start_with(&["--default-object-ownership", "BucketOwnerEnforced"]);
    let root = server.client();
    root.create_bucket().bucket("enforced").send().await.unwrap();
    let got = root
        .get_bucket_ownership_controls()
        .bucket("enforced")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
    let e = root
        .put_object()
        .bucket("enforced")
        .key("k")
        .acl("public-read".into())
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessControlListNotSupported");
    root.create_bucket()
        .bucket("writer")
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    let got = root
        .get_bucket_ownership_controls()
        .bucket("writer")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::ObjectWriter
    );
}

/// CreateMultipartUpload's ACL is the completed object's: nothing is readable before
/// Complete, and the object is public after it; an upload refused its ACL is refused
/// at once, not at Complete.
#[tokio::test(flavor = "multi_thread")]
async fn a_multipart_uploads_acl_applies_at_complete() {
    let server = Server::start();
    let root = server.client();
    let anon = anonymous(&server);
    root.create_bucket().bucket("mpacl").send().await.unwrap();
    let up = root
        .create_multipart_upload()
        .bucket("mpacl")
        .key("k")
        .acl("public-read".into())
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = root
        .upload_part()
        .bucket("mpacl")
        .key("k")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"parts"))
        .send()
        .await
        .unwrap();
    let e = anon.get_object().bucket("mpacl").key("k").send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "nothing to read before Complete");
    root.complete_multipart_upload()
        .bucket("mpacl")
        .key("k")
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
    let got = anon.get_object().bucket("mpacl").key("k").send().await.unwrap();
    assert_eq!(common::read_all(got).await, b"parts");
    let e = root
        .create_multipart_upload()
        .bucket("mpacl")
        .key("k2")
        .grant_read(format!("id=\"{}\"", "e".repeat(64)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
}

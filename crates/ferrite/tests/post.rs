//! POST Object (browser uploads) against the real binary: forms built by hand, signed
//! with SigV4 and SigV2 policies; every condition kind met and unmet, expiry, bad
//! signatures and keys, the size range enforced while streaming (nothing stored when
//! refused), `${filename}`, the success answers (204, 200, 201 with its document, 303
//! redirects), fields after the file ignored, features not built refused, anonymous
//! uploads where the bucket allows them, and a 64 MiB file streamed without the
//! server's memory growing by its size.

mod common;

use aws_sdk_s3::types::BucketCannedAcl;
use base64::Engine as _;
use common::{ACCESS_KEY, SECRET_KEY, Server, http_send, md5_hex, pattern, read_all, status, xml_tag};
use serde_json::json;

const B64: base64::engine::general_purpose::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn iso(t: std::time::SystemTime) -> String {
    let s = aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    format!("{}Z", &s[..19])
}

fn in_an_hour() -> String {
    iso(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
}

/// A form's fields; the file part goes last unless placed otherwise.
struct FormBuilder {
    fields: Vec<(String, String)>,
}

impl FormBuilder {
    fn new() -> Self {
        Self { fields: vec![] }
    }

    fn field(mut self, k: &str, v: &str) -> Self {
        self.fields.push((k.into(), v.into()));
        self
    }

    /// The fields of a SigV4 presigned POST for `conditions` (to which the signature
    /// fields are added, as SDKs do), then the caller's fields.
    fn sigv4(self, expiration: &str, conditions: Vec<serde_json::Value>) -> Self {
        self.sigv4_with((ACCESS_KEY, SECRET_KEY), expiration, conditions)
    }

    fn sigv4_with(mut self, (ak, sk): (&str, &str), expiration: &str, mut conditions: Vec<serde_json::Value>) -> Self {
        let now = iso(std::time::SystemTime::now());
        let amz_date: String = now.chars().filter(|c| *c != '-' && *c != ':').collect();
        let day = &amz_date[..8];
        let credential = format!("{ak}/{day}/us-east-1/s3/aws4_request");
        conditions.push(json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}));
        conditions.push(json!({"x-amz-credential": credential}));
        conditions.push(json!({"x-amz-date": amz_date}));
        let policy = B64.encode(json!({"expiration": expiration, "conditions": conditions}).to_string());
        let key = ["us-east-1", "s3", "aws4_request"]
            .iter()
            .fold(hmac256(format!("AWS4{sk}").as_bytes(), day.as_bytes()), |k, p| {
                hmac256(&k, p.as_bytes())
            });
        let signature = common::hex_encode(&hmac256(&key, policy.as_bytes()));
        self.fields.push(("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()));
        self.fields.push(("x-amz-credential".into(), credential));
        self.fields.push(("x-amz-date".into(), amz_date));
        self.fields.push(("policy".into(), policy));
        self.fields.push(("x-amz-signature".into(), signature));
        self
    }

    /// The fields of a SigV2 POST (Ceph's s3-tests' form).
    fn sigv2(mut self, expiration: &str, conditions: Vec<serde_json::Value>) -> Self {
        use hmac::Mac;
        let policy = B64.encode(json!({"expiration": expiration, "conditions": conditions}).to_string());
        let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
        m.update(policy.as_bytes());
        let signature = B64.encode(m.finalize().into_bytes());
        self.fields.push(("AWSAccessKeyId".into(), ACCESS_KEY.into()));
        self.fields.push(("policy".into(), policy));
        self.fields.push(("signature".into(), signature));
        self
    }

    /// The multipart body with the file part (if any) after the fields, then `after`.
    fn body(&self, file: Option<(&str, &[u8])>, after: &[(&str, &str)]) -> (String, Vec<u8>) {
        let boundary = "----ferrite-test-boundary-7MA4YWxkTrZu0gW";
        let mut out = Vec::new();
        let mut part = |name: &str, filename: Option<&str>, value: &[u8]| {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => out.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        for (k, v) in &self.fields {
            part(k, None, v.as_bytes());
        }
        if let Some((filename, data)) = file {
            part("file", Some(filename), data);
        }
        for (k, v) in after {
            part(k, None, v.as_bytes());
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), out)
    }
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    text: String,
}

impl Answer {
    fn code(&self) -> Option<String> {
        xml_tag(&self.text, "Code")
    }

    fn message(&self) -> Option<String> {
        xml_tag(&self.text, "Message").map(|m| m.replace("&quot;", "\"").replace("&amp;", "&"))
    }
}

async fn post(server: &Server, bucket: &str, form: &FormBuilder, file: Option<(&str, &[u8])>) -> Answer {
    post_with(server, bucket, form, file, &[]).await
}

async fn post_with(
    server: &Server,
    bucket: &str,
    form: &FormBuilder,
    file: Option<(&str, &[u8])>,
    after: &[(&str, &str)],
) -> Answer {
    let (ct, body) = form.body(file, after);
    let url = format!("{}/{bucket}", server.endpoint());
    let (status, headers, body) = http_send("POST", &url, &[("content-type", &ct)], body).await;
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Posts a form whose refusal comes while its file is still being sent: the body is
/// written from a task of its own (the server may close the connection before taking
/// it all), and the answer is read as it comes. Returns the raw answer.
async fn post_refused_early(server: &Server, bucket: &str, form: &FormBuilder, file: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (ct, body) = form.body(Some(("f", file)), &[]);
    let stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST /{bucket} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    );
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !out.windows(8).any(|w| w == b"</Error>") {
        match tokio::time::timeout_at(deadline, rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    writer.abort();
    String::from_utf8_lossy(&out).into_owned()
}

async fn exists(server: &Server, bucket: &str, key: &str) -> bool {
    server
        .client()
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

async fn bucket(server: &Server, name: &str) {
    server.client().create_bucket().bucket(name).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_upload_stores_the_file_with_the_forms_attributes() {
    let server = Server::start();
    bucket(&server, "uploads").await;
    let form = FormBuilder::new()
        .field("key", "uploads/${filename}")
        .field("acl", "public-read")
        .field("Content-Type", "text/plain")
        .field("Cache-Control", "max-age=60")
        .field("x-amz-meta-color", "blue")
        .field("x-ignore-note", "not covered, not stored")
        .sigv4(
            &in_an_hour(),
            vec![
                json!({"bucket": "uploads"}),
                json!(["starts-with", "$key", "uploads/"]),
                json!({"acl": "public-read"}),
                json!(["starts-with", "$Content-Type", "text/"]),
                json!(["eq", "$cache-control", "max-age=60"]),
                json!({"x-amz-meta-color": "blue"}),
                json!(["content-length-range", 1, 1024]),
            ],
        );
    let a = post(&server, "uploads", &form, Some(("hello.txt", b"hello, form"))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(
        a.headers.get("etag").unwrap().to_str().unwrap(),
        format!("\"{}\"", md5_hex(b"hello, form"))
    );
    assert!(
        a.headers
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("/uploads/uploads/hello.txt")
    );
    let got = server
        .client()
        .get_object()
        .bucket("uploads")
        .key("uploads/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(got.metadata().unwrap().get("color").map(String::as_str), Some("blue"));
    assert_eq!(got.metadata().unwrap().len(), 1);
    assert_eq!(common::read_all(got).await, b"hello, form");
    // The ACL field applied: anyone may read it.
    let (status, _, body) = http_send(
        "GET",
        &format!("{}/uploads/uploads/hello.txt", server.endpoint()),
        &[],
        vec![],
    )
    .await;
    assert_eq!((status, body.as_slice()), (200, &b"hello, form"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv2_upload_answers_201_with_its_document() {
    let server = Server::start();
    bucket(&server, "sigv2").await;
    let form = FormBuilder::new()
        .field("key", "foo.txt")
        .sigv2(
            &in_an_hour(),
            vec![
                json!({"bucket": "sigv2"}),
                json!(["starts-with", "$key", "foo"]),
                json!({"success_action_status": "201"}),
            ],
        )
        .field("success_action_status", "201");
    let a = post(&server, "sigv2", &form, Some(("x", b"bar"))).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(xml_tag(&a.text, "Bucket").as_deref(), Some("sigv2"));
    assert_eq!(xml_tag(&a.text, "Key").as_deref(), Some("foo.txt"));
    assert_eq!(
        xml_tag(&a.text, "ETag").as_deref(),
        Some(format!("&quot;{}&quot;", md5_hex(b"bar")).as_str())
    );
    assert!(xml_tag(&a.text, "Location").unwrap().ends_with("/sigv2/foo.txt"));
    assert!(exists(&server, "sigv2", "foo.txt").await);
    // Case does not matter in field names, operators and condition fields.
    let form = FormBuilder::new().field("kEy", "foo2.txt").sigv2(
        &in_an_hour(),
        vec![json!({"bUcKeT": "sigv2"}), json!(["StArTs-WiTh", "$KeY", "foo"])],
    );
    let a = post(&server, "sigv2", &form, Some(("x", b"bar"))).await;
    assert_eq!(a.status, 204, "{}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_condition_is_enforced_and_a_refusal_stores_nothing() {
    let server = Server::start();
    bucket(&server, "cond").await;
    let conditions = || {
        vec![
            json!({"bucket": "cond"}),
            json!(["starts-with", "$key", "ok/"]),
            json!(["eq", "$acl", "private"]),
        ]
    };
    // Met.
    let form = FormBuilder::new()
        .field("key", "ok/1")
        .field("acl", "private")
        .sigv4(&in_an_hour(), conditions());
    assert_eq!(post(&server, "cond", &form, Some(("f", b"1"))).await.status, 204);
    // Unmet: starts-with, eq, a field the condition names missing, the bucket.
    for (key, acl, failed) in [
        ("no/1", Some("private"), r#"["starts-with", "$key", "ok/"]"#),
        ("ok/2", Some("public-read"), r#"["eq", "$acl", "private"]"#),
        ("ok/3", None, r#"["eq", "$acl", "private"]"#),
    ] {
        let mut form = FormBuilder::new().field("key", key);
        if let Some(acl) = acl {
            form = form.field("acl", acl);
        }
        let a = post(
            &server,
            "cond",
            &form.sigv4(&in_an_hour(), conditions()),
            Some(("f", b"1")),
        )
        .await;
        assert_eq!(a.status, 403, "{key}: {}", a.text);
        assert_eq!(a.code().as_deref(), Some("AccessDenied"));
        assert_eq!(
            a.message(),
            Some(format!(
                "Invalid according to Policy: Policy Condition failed: {failed}"
            ))
        );
        assert!(!exists(&server, "cond", key).await);
    }
    bucket(&server, "other").await;
    let form = FormBuilder::new()
        .field("key", "ok/4")
        .field("acl", "private")
        .sigv4(&in_an_hour(), conditions());
    let a = post(&server, "other", &form, Some(("f", b"1"))).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert!(a.message().unwrap().contains(r#"["eq", "$bucket", "cond"]"#));
    // The same with a bucket field naming the bucket the form was made for: still the
    // policy's 403, and nothing stored in either bucket.
    let form = FormBuilder::new()
        .field("key", "ok/4")
        .field("bucket", "cond")
        .field("acl", "private")
        .sigv4(&in_an_hour(), conditions());
    let a = post(&server, "other", &form, Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (403, Some("AccessDenied")),
        "{}",
        a.text
    );
    assert!(!exists(&server, "other", "ok/4").await && !exists(&server, "cond", "ok/4").await);
    // A field no condition covers.
    let form = FormBuilder::new()
        .field("key", "ok/5")
        .field("acl", "private")
        .field("x-amz-meta-extra", "1")
        .field("Content-Type", "text/plain")
        .sigv4(&in_an_hour(), conditions());
    let a = post(&server, "cond", &form, Some(("f", b"1"))).await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.message().as_deref(),
        Some("Invalid according to Policy: Extra input fields: x-amz-meta-extra, content-type")
    );
    assert!(!exists(&server, "cond", "ok/5").await);
    // Expired.
    let past = iso(std::time::SystemTime::now() - std::time::Duration::from_secs(60));
    let form = FormBuilder::new()
        .field("key", "ok/6")
        .field("acl", "private")
        .sigv4(&past, conditions());
    let a = post(&server, "cond", &form, Some(("f", b"1"))).await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.message().as_deref(),
        Some("Invalid according to Policy: Policy expired.")
    );
    assert!(!exists(&server, "cond", "ok/6").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_keys_and_malformed_forms_are_refused() {
    let server = Server::start();
    bucket(&server, "sig").await;
    let cond = || vec![json!({"bucket": "sig"}), json!(["starts-with", "$key", ""])];
    // A signature made with another secret, SigV4 and SigV2.
    let form = FormBuilder::new()
        .field("key", "k1")
        .sigv4_with((ACCESS_KEY, "wrong-secret"), &in_an_hour(), cond());
    let a = post(&server, "sig", &form, Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "{}",
        a.text
    );
    let mut form = FormBuilder::new().field("key", "k2").sigv2(&in_an_hour(), cond());
    for (k, v) in form.fields.iter_mut() {
        if k == "signature" {
            *v = B64.encode([7u8; 20]);
        }
    }
    let a = post(&server, "sig", &form, Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "{}",
        a.text
    );
    // A tampered policy no longer matches its signature.
    let mut form = FormBuilder::new().field("key", "k3").sigv4(&in_an_hour(), cond());
    for (k, v) in form.fields.iter_mut() {
        if k == "policy" {
            *v = B64.encode(r#"{"expiration": "2099-01-01T00:00:00Z", "conditions": []}"#);
        }
    }
    let a = post(&server, "sig", &form, Some(("f", b"1"))).await;
    assert_eq!(a.code().as_deref(), Some("SignatureDoesNotMatch"), "{}", a.text);
    // An unknown key.
    let form =
        FormBuilder::new()
            .field("key", "k4")
            .sigv4_with(("AKIAUNKNOWNUNKNOWN00", SECRET_KEY), &in_an_hour(), cond());
    let a = post(&server, "sig", &form, Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (403, Some("InvalidAccessKeyId")),
        "{}",
        a.text
    );
    // A policy that is not one (signed all the same).
    let form = FormBuilder::new()
        .field("key", "k5")
        .sigv4(&in_an_hour(), vec![json!(["content-length-range", 5])]);
    let a = post(&server, "sig", &form, Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (400, Some("InvalidPolicyDocument")),
        "{}",
        a.text
    );
    // No file; no key; a policy without a signature.
    let form = FormBuilder::new().field("key", "k6").sigv4(&in_an_hour(), cond());
    let a = post(&server, "sig", &form, None).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (400, Some("IncorrectNumberOfFilesInPostRequest")),
        "{}",
        a.text
    );
    let form = FormBuilder::new().sigv4(&in_an_hour(), cond());
    let a = post(&server, "sig", &form, Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (400, Some("InvalidArgument")),
        "{}",
        a.text
    );
    let form = FormBuilder::new().field("key", "k7").field("policy", "e30=");
    let a = post(&server, "sig", &form, Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (400, Some("InvalidArgument")),
        "{}",
        a.text
    );
    // Not multipart at all.
    let (status, _, body) = http_send(
        "POST",
        &format!("{}/sig", server.endpoint()),
        &[("content-type", "multipart/form-data; boundary=xyz")],
        b"garbage".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    for k in ["k1", "k2", "k3", "k4", "k5", "k6", "k7"] {
        assert!(!exists(&server, "sig", k).await, "{k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_size_range_is_enforced_while_streaming_and_nothing_is_stored() {
    let server = Server::start();
    bucket(&server, "size").await;
    let form = |key: &str| {
        FormBuilder::new().field("key", key).sigv4(
            &in_an_hour(),
            vec![
                json!({"bucket": "size"}),
                json!(["starts-with", "$key", ""]),
                json!(["content-length-range", 10, 100]),
            ],
        )
    };
    let a = post(&server, "size", &form("big"), Some(("f", &[1u8; 101]))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (400, Some("EntityTooLarge")),
        "{}",
        a.text
    );
    let a = post(&server, "size", &form("small"), Some(("f", &[1u8; 9]))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (400, Some("EntityTooSmall")),
        "{}",
        a.text
    );
    let a = post(&server, "size", &form("edge-low"), Some(("f", &[1u8; 10]))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = post(&server, "size", &form("edge-high"), Some(("f", &[1u8; 100]))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert!(!exists(&server, "size", "big").await);
    assert!(!exists(&server, "size", "small").await);
    // A refusal far past the maximum (a 32 MiB file against 100 bytes): refused while
    // streaming, no blob and no temporary file left behind.
    let blobs = server.blob_files();
    let text = post_refused_early(&server, "size", &form("huge"), &pattern(32 << 20, 1)).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("<Code>EntityTooLarge</Code>"), "{text}");
    assert!(!exists(&server, "size", "huge").await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.blob_files(), blobs);
    assert_eq!(server.temp_files(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_answers_redirects_and_ignored_fields() {
    let server = Server::start();
    bucket(&server, "answers").await;
    let signed = |form: FormBuilder, extra: Vec<serde_json::Value>| {
        let mut c = vec![json!({"bucket": "answers"}), json!(["starts-with", "$key", ""])];
        c.extend(extra);
        form.sigv4(&in_an_hour(), c)
    };
    for (status_field, want) in [("200", 200), ("201", 201), ("204", 204), ("404", 204), ("junk", 204)] {
        let form = signed(
            FormBuilder::new()
                .field("key", &format!("s{status_field}"))
                .field("success_action_status", status_field),
            vec![json!(["starts-with", "$success_action_status", ""])],
        );
        let a = post(&server, "answers", &form, Some(("f", b"x"))).await;
        assert_eq!(a.status, want, "{status_field}: {}", a.text);
    }
    // A redirect: 303 to the URL with bucket, key and ETag added.
    let form = signed(
        FormBuilder::new()
            .field("key", "r/${filename}")
            .field("success_action_redirect", "http://example.com/done?x=1"),
        vec![json!({"success_action_redirect": "http://example.com/done?x=1"})],
    );
    let a = post(&server, "answers", &form, Some(("a b.txt", b"redirected"))).await;
    assert_eq!(a.status, 303, "{}", a.text);
    let etag = md5_hex(b"redirected");
    assert_eq!(
        a.headers.get("location").unwrap().to_str().unwrap(),
        format!("http://example.com/done?x=1&bucket=answers&key=r%2Fa+b.txt&etag=%22{etag}%22")
    );
    assert!(exists(&server, "answers", "r/a b.txt").await);
    // Fields after the file are ignored: not stored, not checked against the policy.
    let form = signed(FormBuilder::new().field("key", "late"), vec![]);
    let a = post_with(
        &server,
        "answers",
        &form,
        Some(("f", b"x")),
        &[("x-amz-meta-late", "1"), ("acl", "public-read")],
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let head = server
        .client()
        .head_object()
        .bucket("answers")
        .key("late")
        .send()
        .await
        .unwrap();
    assert!(head.metadata().is_none_or(|m| m.is_empty()));
    let (status, _, _) = http_send("GET", &format!("{}/answers/late", server.endpoint()), &[], vec![]).await;
    assert_eq!(status, 403, "the ACL field after the file was not applied");
    // Checksums and Content-MD5 are verified.
    let form = signed(
        FormBuilder::new()
            .field("key", "sum")
            .field("Content-MD5", &B64.encode([0u8; 16])),
        vec![json!(["starts-with", "$content-md5", ""])],
    );
    let a = post(&server, "answers", &form, Some(("f", b"x"))).await;
    assert_eq!(a.code().as_deref(), Some("BadDigest"), "{}", a.text);
    assert!(!exists(&server, "answers", "sum").await);
}

/// The form's `x-amz-server-side-encryption: AES256` stores the file under SSE-S3,
/// as the same header does on a PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_can_ask_for_sse_s3() {
    let server = Server::start();
    bucket(&server, "sealed").await;
    let form = FormBuilder::new()
        .field("key", "secret.txt")
        .field("x-amz-server-side-encryption", "AES256")
        .sigv4(
            &in_an_hour(),
            vec![
                json!({"bucket": "sealed"}),
                json!(["eq", "$key", "secret.txt"]),
                json!({"x-amz-server-side-encryption": "AES256"}),
            ],
        );
    let a = post(&server, "sealed", &form, Some(("f", b"form secret"))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let c = server.client();
    let got = c.get_object().bucket("sealed").key("secret.txt").send().await.unwrap();
    assert_eq!(
        got.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    assert_eq!(read_all(got).await, b"form secret");
}

/// The form's `tagging` field (a Tagging document) tags the stored object, as
/// `x-amz-tagging` does on a PUT; a malformed or over-limit one stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_can_tag_the_object() {
    let server = Server::start();
    bucket(&server, "tagged").await;
    let upload = |key: &'static str, tagging: &'static str| {
        FormBuilder::new().field("key", key).field("tagging", tagging).sigv4(
            &in_an_hour(),
            vec![
                json!({"bucket": "tagged"}),
                json!(["starts-with", "$key", ""]),
                json!(["starts-with", "$tagging", ""]),
            ],
        )
    };
    let xml = "<Tagging><TagSet><Tag><Key>1</Key><Value>b</Value></Tag>\
               <Tag><Key>0</Key><Value>a</Value></Tag></TagSet></Tagging>";
    let a = post(&server, "tagged", &upload("t.txt", xml), Some(("f", b"bar"))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let c = server.client();
    let tags = c
        .get_object_tagging()
        .bucket("tagged")
        .key("t.txt")
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("0", "a"), ("1", "b")]);
    for (key, bad, code) in [
        ("bad.txt", "<Tagging><TagSet>", "MalformedXML"),
        (
            "bad2.txt",
            "<Tagging><TagSet><Tag><Key>aws:x</Key><Value>1</Value></Tag></TagSet></Tagging>",
            "InvalidTag",
        ),
    ] {
        let a = post(&server, "tagged", &upload(key, bad), Some(("f", b"bar"))).await;
        assert_eq!((a.status, a.code().as_deref()), (400, Some(code)), "{}", a.text);
        let e = c.head_object().bucket("tagged").key(key).send().await.unwrap_err();
        assert_eq!(status(&e), 404, "nothing was stored");
    }
}

/// The form's SSE-KMS fields store the file under the KMS key they name, as the same
/// headers do on a PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_can_ask_for_sse_kms() {
    let server = Server::start();
    bucket(&server, "sealed").await;
    let form = FormBuilder::new()
        .field("key", "kms.txt")
        .field("x-amz-server-side-encryption", "aws:kms")
        .field("x-amz-server-side-encryption-bucket-key-enabled", "true")
        .sigv4(
            &in_an_hour(),
            vec![
                json!({"bucket": "sealed"}),
                json!(["eq", "$key", "kms.txt"]),
                json!({"x-amz-server-side-encryption": "aws:kms"}),
                json!({"x-amz-server-side-encryption-bucket-key-enabled": "true"}),
            ],
        );
    let a = post(&server, "sealed", &form, Some(("f", b"form kms secret"))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let got = server
        .client()
        .get_object()
        .bucket("sealed")
        .key("kms.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms)
    );
    assert!(got.ssekms_key_id().unwrap().starts_with("arn:aws:kms:"));
    assert_eq!(got.bucket_key_enabled(), Some(true));
    assert_eq!(read_all(got).await, b"form kms secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn features_not_built_are_refused_and_nothing_is_stored() {
    let server = Server::start();
    bucket(&server, "nyi").await;
    for (field, value) in [("x-amz-server-side-encryption", "aws:kms:dsse")] {
        let form = FormBuilder::new().field("key", field).field(field, value).sigv4(
            &in_an_hour(),
            vec![
                json!({"bucket": "nyi"}),
                json!(["starts-with", "$key", ""]),
                json!(["starts-with", format!("${field}"), ""]),
            ],
        );
        let a = post(&server, "nyi", &form, Some(("f", b"x"))).await;
        assert_eq!(
            (a.status, a.code().as_deref()),
            (501, Some("NotImplemented")),
            "{field}: {}",
            a.text
        );
        assert!(!exists(&server, "nyi", field).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_uploads_need_a_bucket_that_lets_everyone_write() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket()
        .bucket("public")
        .acl(BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    bucket(&server, "private").await;
    let form = FormBuilder::new()
        .field("key", "anon.txt")
        .field("acl", "public-read")
        .field("Content-Type", "text/plain");
    let a = post(&server, "public", &form, Some(("f", b"from anyone"))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let (status, _, body) = http_send("GET", &format!("{}/public/anon.txt", server.endpoint()), &[], vec![]).await;
    assert_eq!((status, body.as_slice()), (200, &b"from anyone"[..]));
    let a = post(&server, "private", &form, Some(("f", b"from anyone"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (403, Some("AccessDenied")),
        "{}",
        a.text
    );
    assert!(!exists(&server, "private", "anon.txt").await);
    let a = post(&server, "missing", &form, Some(("f", b"x"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (404, Some("NoSuchBucket")),
        "{}",
        a.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_file_is_streamed_not_buffered() {
    let server = Server::start();
    bucket(&server, "large").await;
    // Warm up: the first upload's allocations are not the file's.
    let form = FormBuilder::new().field("key", "warm").sigv4(
        &in_an_hour(),
        vec![json!({"bucket": "large"}), json!(["starts-with", "$key", ""])],
    );
    assert_eq!(
        post(&server, "large", &form, Some(("f", &pattern(4 << 20, 2))))
            .await
            .status,
        204
    );
    let before = server.peak_rss();
    let data = pattern(64 << 20, 3);
    let form = FormBuilder::new().field("key", "big").sigv4(
        &in_an_hour(),
        vec![
            json!({"bucket": "large"}),
            json!(["starts-with", "$key", ""]),
            json!(["content-length-range", 0, 128u64 << 20]),
        ],
    );
    let a = post(&server, "large", &form, Some(("big.bin", &data))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(
        a.headers.get("etag").unwrap().to_str().unwrap(),
        format!("\"{}\"", md5_hex(&data))
    );
    let grown = server.peak_rss().saturating_sub(before);
    assert!(grown < 32 << 20, "the server's peak RSS grew by {} MiB", grown >> 20);
    let got = server
        .client()
        .get_object()
        .bucket("large")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(common::read_all(got).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_hosted_style_posts_name_the_bucket_in_the_host() {
    let server = Server::start_with(&["--domain", "s3.test"]);
    bucket(&server, "vhost").await;
    let form = FormBuilder::new().field("key", "vhost.txt").sigv4(
        &in_an_hour(),
        vec![json!({"bucket": "vhost"}), json!({"key": "vhost.txt"})],
    );
    let (ct, body) = form.body(Some(("f", b"virtual")), &[]);
    let port = server.addr.rsplit(':').next().unwrap();
    let host = format!("vhost.s3.test:{port}");
    let (status, headers, text) = http_send(
        "POST",
        &format!("{}/", server.endpoint()),
        &[("content-type", &ct), ("host", &host)],
        body,
    )
    .await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&text));
    assert!(
        headers
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("/vhost.txt")
    );
    let got = server
        .client()
        .get_object()
        .bucket("vhost")
        .key("vhost.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(common::read_all(got).await, b"virtual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_policy_conditions_see_the_forms_fields() {
    let server = Server::start();
    bucket(&server, "guarded").await;
    // Uploads must be private and come through a form (s3:authType POST): a Deny that
    // binds root too.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"PrivateOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::guarded/*",
         "Condition":{"StringNotEquals":{"s3:x-amz-acl":"private"}}},
        {"Sid":"FormsOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::guarded/*",
         "Condition":{"StringNotEquals":{"s3:authType":"POST"}}}]}"#;
    server
        .client()
        .put_bucket_policy()
        .bucket("guarded")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let conditions = || {
        vec![
            json!({"bucket": "guarded"}),
            json!(["starts-with", "$key", ""]),
            json!(["starts-with", "$acl", ""]),
        ]
    };
    let form = |key: &str, acl: &str| {
        FormBuilder::new()
            .field("key", key)
            .field("acl", acl)
            .sigv4(&in_an_hour(), conditions())
    };
    let a = post(&server, "guarded", &form("public", "public-read"), Some(("f", b"1"))).await;
    assert_eq!(
        (a.status, a.code().as_deref()),
        (403, Some("AccessDenied")),
        "{}",
        a.text
    );
    assert!(!exists(&server, "guarded", "public").await);
    let a = post(&server, "guarded", &form("private", "private"), Some(("f", b"1"))).await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert!(exists(&server, "guarded", "private").await);
    // The same upload as a plain PUT is not a form: denied.
    let e = server
        .client()
        .put_object()
        .bucket("guarded")
        .key("put")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "AccessDenied");
    assert!(!exists(&server, "guarded", "put").await);
}

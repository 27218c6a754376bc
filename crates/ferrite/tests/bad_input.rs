//! The bad-input suite: malformed headers, queries, paths, XML bodies and signatures,
//! huge and tiny sizes, sent to the real binary over raw sockets (so that nothing a
//! client library would refuse to send is left out). For each probe: the S3 error
//! (status and code, as AWS documents them), nothing changed in the bucket, the server
//! still answers; at the end, its memory stayed bounded.

mod common;

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const BUCKET: &str = "probe";

/// One probe: a request and the answer it must get.
struct Probe {
    name: &'static str,
    method: &'static str,
    /// Path, already percent-encoded as it goes on the wire.
    path: String,
    /// Query in canonical form (sorted, encoded), without `?`.
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Sign it with SigV4 (the signature covers the headers given and the body).
    sign: bool,
    status: u16,
    code: &'static str,
}

impl Probe {
    fn new(name: &'static str, method: &'static str, path: impl Into<String>, status: u16, code: &'static str) -> Self {
        Probe {
            name,
            method,
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            sign: true,
            status,
            code,
        }
    }

    fn query(mut self, q: &str) -> Self {
        self.query = q.to_string();
        self
    }

    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_ascii_lowercase(), v.to_string()));
        self
    }

    fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }

    fn unsigned(mut self) -> Self {
        self.sign = false;
        self
    }

    /// The request as bytes on the wire.
    fn render(&self, host: &str) -> Vec<u8> {
        let mut headers: Vec<(String, String)> = self.headers.clone();
        headers.push(("host".into(), host.into()));
        if !headers.iter().any(|(k, _)| k == "content-length") {
            headers.push(("content-length".into(), self.body.len().to_string()));
        }
        if self.sign {
            let sig = SigV4::now();
            let payload = sha256_hex(&self.body);
            headers.push(("x-amz-content-sha256".into(), payload.clone()));
            headers.push(("x-amz-date".into(), sig.amz_date.clone()));
            headers.sort();
            let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
            names.dedup();
            let signed = names.join(";");
            let mut canonical_headers = String::new();
            for name in &names {
                let values: Vec<&str> = headers
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.trim())
                    .collect();
                canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
            }
            let canonical = format!(
                "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{payload}",
                self.method, self.path, self.query
            );
            headers.push((
                "authorization".into(),
                sig.authorization(&signed, &sig.sign(&canonical)),
            ));
        }
        let target = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut out = format!("{} {target} HTTP/1.1\r\n", self.method).into_bytes();
        for (k, v) in &headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Sends raw bytes, returns (status, body).
async fn send_raw(addr: &str, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn error_code(body: &str) -> String {
    body.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or("")
        .to_string()
}

fn complete_xml(parts: usize) -> String {
    let mut x = String::from("<CompleteMultipartUpload>");
    for i in 1..=parts {
        x.push_str(&format!("<Part><PartNumber>{i}</PartNumber><ETag>\"x\"</ETag></Part>"));
    }
    x.push_str("</CompleteMultipartUpload>");
    x
}

fn delete_xml(keys: usize) -> String {
    let mut x = String::from("<Delete>");
    for i in 0..keys {
        x.push_str(&format!("<Object><Key>k{i}</Key></Object>"));
    }
    x.push_str("</Delete>");
    x
}

fn now_http_date() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::HttpDate)
        .unwrap()
}

fn md5_b64(data: &[u8]) -> String {
    use md5::Digest;
    B64.encode(md5::Md5::digest(data))
}

fn probes(upload_id: &str) -> Vec<Probe> {
    let obj = format!("/{BUCKET}/target");
    let long_key = format!("/{BUCKET}/{}", "k".repeat(1025));
    let big_meta = "v".repeat(2100);
    vec![
        // Paths and names.
        Probe::new("path that is not UTF-8", "GET", format!("/{BUCKET}/%C3%28"), 400, "InvalidURI"),
        Probe::new("key longer than 1024 bytes", "PUT", long_key, 400, "KeyTooLongError").body("x"),
        Probe::new("bucket name with capitals", "PUT", "/BadBucket", 400, "InvalidBucketName"),
        Probe::new("bucket name too short", "PUT", "/ab", 400, "InvalidBucketName"),
        Probe::new("bucket name with ..", "PUT", "/a..b", 400, "InvalidBucketName"),
        // Integrity headers.
        Probe::new("Content-MD5 not base64", "PUT", obj.clone(), 400, "InvalidDigest")
            .header("content-md5", "not base64!")
            .body("hello"),
        Probe::new("Content-MD5 of other bytes", "PUT", obj.clone(), 400, "BadDigest")
            .header("content-md5", &md5_b64(b"other"))
            .body("hello"),
        Probe::new("x-amz-checksum-crc32 of other bytes", "PUT", obj.clone(), 400, "BadDigest")
            .header("x-amz-checksum-crc32", "AAAAAA==")
            .body("hello"),
        // A value that cannot be a digest can never match: BadDigest, as S3 answers.
        Probe::new("x-amz-checksum-sha256 malformed", "PUT", obj.clone(), 400, "BadDigest")
            .header("x-amz-checksum-sha256", "@@@")
            .body("hello"),
        Probe::new("two Content-MD5 headers", "PUT", obj.clone(), 400, "InvalidRequest")
            .header("content-md5", &md5_b64(b"hello"))
            .header("content-md5", &md5_b64(b"hello"))
            .body("hello"),
        // Sizes.
        Probe::new("declared length over 5 GiB", "PUT", obj.clone(), 400, "EntityTooLarge")
            .header("content-length", "6000000000"),
        Probe::new("user metadata over 2 KB", "PUT", obj.clone(), 400, "MetadataTooLarge")
            .header("x-amz-meta-big", &big_meta)
            .body("x"),
        Probe::new("invalid storage class", "PUT", obj.clone(), 400, "InvalidStorageClass")
            .header("x-amz-storage-class", "PLATINUM")
            .body("x"),
        // Queries.
        Probe::new("max-keys not a number", "GET", format!("/{BUCKET}"), 400, "InvalidArgument").query("max-keys=abc"),
        Probe::new("max-keys negative", "GET", format!("/{BUCKET}"), 400, "InvalidArgument").query("max-keys=-1"),
        Probe::new("version id garbage", "GET", obj.clone(), 400, "InvalidArgument").query("versionId=not-a-version"),
        Probe::new("part number 0", "PUT", obj.clone(), 400, "InvalidArgument")
            .query(&format!("partNumber=0&uploadId={upload_id}"))
            .body("x"),
        Probe::new("part number 10001", "PUT", obj.clone(), 400, "InvalidArgument")
            .query(&format!("partNumber=10001&uploadId={upload_id}"))
            .body("x"),
        Probe::new("part number not a number", "PUT", obj.clone(), 400, "InvalidArgument")
            .query(&format!("partNumber=one&uploadId={upload_id}"))
            .body("x"),
        Probe::new("upload id garbage", "PUT", obj.clone(), 404, "NoSuchUpload")
            .query("partNumber=1&uploadId=garbage")
            .body("x"),
        Probe::new("GET partNumber 0", "GET", obj.clone(), 400, "InvalidArgument").query("partNumber=0"),
        // Copy sources.
        Probe::new("copy source without a key", "PUT", obj.clone(), 400, "InvalidArgument")
            .header("x-amz-copy-source", BUCKET),
        Probe::new("copy source bucket missing", "PUT", obj.clone(), 404, "NoSuchBucket")
            .header("x-amz-copy-source", "/no-such-bucket-here/k"),
        Probe::new("copy source key missing", "PUT", obj.clone(), 404, "NoSuchKey")
            .header("x-amz-copy-source", &format!("/{BUCKET}/no-such-key")),
        Probe::new("copy source range malformed", "PUT", obj.clone(), 400, "InvalidArgument")
            .query(&format!("partNumber=1&uploadId={upload_id}"))
            .header("x-amz-copy-source", &format!("/{BUCKET}/keep"))
            .header("x-amz-copy-source-range", "bytes=zz"),
        Probe::new("copy source range past the end", "PUT", obj.clone(), 416, "InvalidRange")
            .query(&format!("partNumber=1&uploadId={upload_id}"))
            .header("x-amz-copy-source", &format!("/{BUCKET}/keep"))
            .header("x-amz-copy-source-range", "bytes=0-999999"),
        // XML bodies.
        Probe::new("DeleteObjects not XML", "POST", format!("/{BUCKET}"), 400, "MalformedXML")
            .query("delete=")
            .header("content-md5", &md5_b64(b"<Delete><Object>"))
            .body("<Delete><Object>"),
        Probe::new("DeleteObjects of 1001 keys", "POST", format!("/{BUCKET}"), 400, "MalformedXML")
            .query("delete=")
            .header("content-md5", &md5_b64(delete_xml(1001).as_bytes()))
            .body(delete_xml(1001)),
        Probe::new("Complete not XML", "POST", obj.clone(), 400, "MalformedXML")
            .query(&format!("uploadId={upload_id}"))
            .body("<<<"),
        Probe::new("Complete with no parts", "POST", obj.clone(), 400, "MalformedXML")
            .query(&format!("uploadId={upload_id}"))
            .body("<CompleteMultipartUpload></CompleteMultipartUpload>"),
        Probe::new("Complete naming parts never uploaded", "POST", obj.clone(), 400, "InvalidPart")
            .query(&format!("uploadId={upload_id}"))
            .body(complete_xml(3)),
        Probe::new("XML body over 4 MiB", "POST", obj.clone(), 400, "MaxMessageLengthExceeded")
            .query(&format!("uploadId={upload_id}"))
            .body(complete_xml(80_000)),
        Probe::new("versioning status unknown", "PUT", format!("/{BUCKET}"), 400, "IllegalVersioningConfigurationException")
            .query("versioning=")
            .body("<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>"),
        // ACLs: an unparseable document is MalformedACLError (s3s says MalformedXML);
        // a document and ACL headers together are refused.
        Probe::new("bucket ACL document malformed", "PUT", format!("/{BUCKET}"), 400, "MalformedACLError")
            .query("acl=")
            .body("<AccessControlPolicy><AccessControlList><Grant>"),
        Probe::new("object ACL document malformed", "PUT", obj.clone(), 400, "MalformedACLError")
            .query("acl=")
            .body("<AccessControlPolicy><AccessControlList"),
        Probe::new("ACL document and ACL header together", "PUT", format!("/{BUCKET}"), 400, "InvalidRequest")
            .query("acl=")
            .header("x-amz-acl", "public-read")
            .body("<AccessControlPolicy><AccessControlList></AccessControlList></AccessControlPolicy>"),
        // Signatures.
        Probe::new("no signature", "PUT", obj.clone(), 403, "AccessDenied").body("x").unsigned(),
        Probe::new("authorization header garbage", "PUT", obj.clone(), 400, "AuthorizationHeaderMalformed")
            .header("authorization", "AWS4-HMAC-SHA256 garbage")
            .header("x-amz-date", "20260101T000000Z")
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .body("x")
            .unsigned(),
        Probe::new("unknown access key", "PUT", obj.clone(), 403, "InvalidAccessKeyId")
            .header(
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=NOSUCHKEY/{}, SignedHeaders=host, Signature={}",
                    SigV4::now().scope,
                    "0".repeat(64)
                ),
            )
            .header("x-amz-date", &SigV4::now().amz_date)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .body("x")
            .unsigned(),
        Probe::new("SigV4 date a day old", "PUT", obj.clone(), 403, "RequestTimeTooSkewed")
            .header(
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20200101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
                ),
            )
            .header("x-amz-date", "20200101T000000Z")
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .body("x")
            .unsigned(),
        Probe::new("SigV2 without a date", "PUT", obj.clone(), 403, "AccessDenied")
            .header("authorization", &format!("AWS {ACCESS_KEY}:AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
            .body("x")
            .unsigned(),
        Probe::new("SigV2 authorization without a colon", "PUT", obj.clone(), 400, "InvalidArgument")
            .header("authorization", "AWS nocolon")
            .header("date", &now_http_date())
            .body("x")
            .unsigned(),
        Probe::new("presigned expiry over a week", "GET", obj.clone(), 403, "AuthorizationQueryParametersError")
            .query(&format!(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={ACCESS_KEY}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=999999&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
            ))
            .unsigned(),
        // A browser upload without its file.
        Probe::new("form POST without a file", "POST", format!("/{BUCKET}"), 400, "IncorrectNumberOfFilesInPostRequest")
            .header("content-type", "multipart/form-data; boundary=b")
            .body("--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n")
            .unsigned(),
    ]
}

#[tokio::test]
async fn every_malformed_request_gets_its_s3_error_and_changes_nothing() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    client
        .put_object()
        .bucket(BUCKET)
        .key("keep")
        .body(ByteStream::from_static(b"kept bytes"))
        .send()
        .await
        .unwrap();
    let up = client
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("target")
        .send()
        .await
        .unwrap();
    let upload_id = up.upload_id().unwrap().to_string();
    let rss_before = server.peak_rss();

    let mut wrong = Vec::new();
    for probe in probes(&upload_id) {
        let (status, text) = send_raw(&server.addr, &probe.render(&server.addr)).await;
        let code = error_code(&text);
        if status != probe.status || code != probe.code {
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            wrong.push(format!(
                "{}: expected {} {}, got {status} {code}: {body}",
                probe.name, probe.status, probe.code
            ));
        }
        // Nothing changed: the bucket holds only `keep`, and the upload has no parts.
        let listed = client.list_objects_v2().bucket(BUCKET).send().await.unwrap();
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["keep"], "after {}", probe.name);
        let parts = client
            .list_parts()
            .bucket(BUCKET)
            .key("target")
            .upload_id(&upload_id)
            .send()
            .await
            .unwrap();
        assert!(parts.parts().is_empty(), "after {}", probe.name);
    }
    assert!(wrong.is_empty(), "probes answered wrongly:\n{}", wrong.join("\n"));
    let got = client.get_object().bucket(BUCKET).key("keep").send().await.unwrap();
    assert_eq!(read_all(got).await, b"kept bytes");
    let versioning = client.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
    assert!(versioning.status().is_none());
    let grown = server.peak_rss().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "peak RSS grew by {} MiB", grown >> 20);
}

/// Slow and stalled clients: a body that stops half-way, and a declared length that
/// never arrives, store nothing; the server answers others meanwhile.
#[tokio::test]
async fn stalled_and_truncated_bodies_store_nothing() {
    let server = Server::start_with(&["--body-timeout-secs", "1"]);
    let client = server.client();
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    // A declared 1 MiB of which 1000 bytes come, then silence: RequestTimeout.
    let mut p = Probe::new("stall", "PUT", format!("/{BUCKET}/stalled"), 400, "RequestTimeout")
        .header("content-length", "1048576")
        .body(vec![b'x'; 1000]);
    p.sign = false;
    let sig = SigV4::now();
    let host = server.addr.clone();
    let canonical = format!(
        "PUT\n/{BUCKET}/stalled\n\ncontent-length:1048576\nhost:{host}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:{}\n\ncontent-length;host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD",
        sig.amz_date
    );
    let auth = sig.authorization(
        "content-length;host;x-amz-content-sha256;x-amz-date",
        &sig.sign(&canonical),
    );
    let p = p
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header("x-amz-date", &sig.amz_date)
        .header("authorization", &auth);
    let mut s = TcpStream::connect(&server.addr).await.unwrap();
    s.write_all(&p.render(&host)).await.unwrap();
    // Meanwhile the server answers others.
    client.head_bucket().bucket(BUCKET).send().await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert_eq!(error_code(&text), "RequestTimeout");
    // The same, but the client hangs up half-way: nothing stored either.
    let mut s = TcpStream::connect(&server.addr).await.unwrap();
    s.write_all(&p.render(&host)).await.unwrap();
    drop(s);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed = client.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    assert_eq!(server.temp_files(), 0, "staged data of failed uploads is removed");
}

/// Document bodies (CORS, bucket policy, ACL, DeleteObjects) are checked against their
/// Content-MD5 and x-amz-checksum-* like object data: a mismatch is 400 BadDigest and
/// nothing changes; a matching digest goes through. Signed as the SDKs sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_bodies_are_checked_against_their_digests() {
    use base64::Engine as _;
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("docs").send().await.unwrap();
    c.put_object()
        .bucket("docs")
        .key("keep")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .unwrap();
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let md5 = |d: &[u8]| {
        use md5::Digest as _;
        b64(&md5::Md5::digest(d))
    };
    let root = (common::ACCESS_KEY, common::SECRET_KEY);
    let send = |method: &'static str, pq: &'static str, headers: Vec<(&'static str, String)>, body: &'static [u8]| {
        let server = &server;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, _, text) = common::signed_request(server, root, "s3", method, pq, &h, body.to_vec()).await;
            (status, common::xml_tag(&String::from_utf8_lossy(&text), "Code"))
        }
    };
    let cors: &[u8] = b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    let delete: &[u8] = b"<Delete><Object><Key>keep</Key></Object></Delete>";
    let policy: &[u8] = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}"#;
    let wrong = md5(b"something else");

    // Mismatches: refused, nothing stored or deleted.
    assert_eq!(
        send("PUT", "/docs?cors", vec![("content-md5", wrong.clone())], cors).await,
        (400, Some("BadDigest".into()))
    );
    assert_eq!(
        code(&c.get_bucket_cors().bucket("docs").send().await.unwrap_err()),
        "NoSuchCORSConfiguration"
    );
    assert_eq!(
        send("PUT", "/docs?policy", vec![("content-md5", wrong.clone())], policy).await,
        (400, Some("BadDigest".into()))
    );
    assert_eq!(
        code(&c.get_bucket_policy().bucket("docs").send().await.unwrap_err()),
        "NoSuchBucketPolicy"
    );
    let crc_of_other = b64(&[0, 0, 0, 0]);
    assert_eq!(
        send(
            "POST",
            "/docs?delete",
            vec![("x-amz-checksum-crc32", crc_of_other)],
            delete
        )
        .await,
        (400, Some("BadDigest".into()))
    );
    assert_eq!(
        send("POST", "/docs?delete", vec![("content-md5", wrong.clone())], delete).await,
        (400, Some("BadDigest".into()))
    );
    c.head_object()
        .bucket("docs")
        .key("keep")
        .send()
        .await
        .expect("not deleted");
    // Malformed: refused too.
    assert_eq!(
        send(
            "PUT",
            "/docs?cors",
            vec![("content-md5", "bm90IGFuIG1kNQ==".into())],
            cors
        )
        .await,
        (400, Some("InvalidDigest".into()))
    );

    // Matching digests: the requests run.
    assert_eq!(
        send("PUT", "/docs?cors", vec![("content-md5", md5(cors))], cors)
            .await
            .0,
        200
    );
    assert_eq!(
        c.get_bucket_cors()
            .bucket("docs")
            .send()
            .await
            .unwrap()
            .cors_rules()
            .len(),
        1
    );
    assert_eq!(
        send("PUT", "/docs?policy", vec![("content-md5", md5(policy))], policy)
            .await
            .0,
        204
    );
    let sha = {
        use sha2::Digest as _;
        b64(&sha2::Sha256::digest(delete))
    };
    assert_eq!(
        send("POST", "/docs?delete", vec![("x-amz-checksum-sha256", sha)], delete)
            .await
            .0,
        200
    );
    assert!(
        c.head_object().bucket("docs").key("keep").send().await.is_err(),
        "deleted"
    );
    // The SDK's own requests (which add their checksums) keep working.
    c.delete_bucket_cors().bucket("docs").send().await.unwrap();
    c.put_bucket_cors()
        .bucket("docs")
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(
                    aws_sdk_s3::types::CorsRule::builder()
                        .allowed_origins("*")
                        .allowed_methods("PUT")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

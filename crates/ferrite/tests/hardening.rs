//! Regression tests for the defects found by probing the running server as a hostile
//! client would (issue "Hardening"). Each test names the defect it pins.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Reads from `s` until `done` says the bytes so far are a whole answer, the peer
/// closes, or `limit` passes.
async fn read_until(s: &mut TcpStream, limit: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut chunk = [0u8; 4096];
    while !done(&buf) {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

/// Whether the server has closed `s` (EOF or reset) within `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // e.g. an HTTP/2 GOAWAY before the close
            Err(_) => return false,
        }
    }
}

fn has_whole_health_answer(b: &[u8]) -> bool {
    b.windows(7).any(|w| w == b"\r\n\r\nok\n")
}

const HEALTH_KEEP_ALIVE: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Defect 1: an anonymous multipart/form-data POST was buffered whole (up to 5 GiB)
/// by the protocol layer before any check. It must be refused before its file is read
/// (POST uploads are now ours and streamed: an anonymous one to a private bucket is
/// AccessDenied once its fields are read, before the file's first byte).
#[tokio::test]
async fn defect1_form_post_is_refused_before_its_body_is_read() {
    let server = Server::start();
    server.client().create_bucket().bucket("forms").send().await.unwrap();
    let rss_before = server.peak_rss();
    let mut s = TcpStream::connect(&server.addr).await.unwrap();
    let head = "POST /forms HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 1073741824\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    // Start sending the gigabyte; the answer must come without it.
    let mut body = b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n".to_vec();
    body.resize(8 << 20, b'x');
    let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(&body)).await;
    let answer = read_until(&mut s, Duration::from_secs(10), |b| {
        b.windows(8).any(|w| w == b"</Error>")
    })
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
    drop(s);
    // Nothing was stored, the server still answers, and its memory did not grow by the body.
    let listed = server.client().list_objects_v2().bucket("forms").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    assert!(
        server.peak_rss() < rss_before + (64 << 20),
        "peak RSS grew from {} to {}",
        rss_before,
        server.peak_rss()
    );
}

/// Defect 2: connections that send nothing, stop inside the HTTP/2 preface, or sit
/// idle after a request were held for ever. Thousands of them must be closed on time
/// while a client keeps getting answers.
#[tokio::test]
async fn defect2_idle_and_half_open_connections_are_closed_on_time() {
    let server = Server::start_with(&[
        "--handshake-timeout-secs",
        "1",
        "--idle-timeout-secs",
        "2",
        "--max-connections",
        "4000",
    ]);
    let client = server.client();
    client.create_bucket().bucket("busy").send().await.unwrap();

    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..2000 {
        silent.push(TcpStream::connect(&server.addr).await.unwrap());
    }
    let mut half_h2 = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(&server.addr).await.unwrap();
        s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap(); // the preface, unfinished
        half_h2.push(s);
    }
    let mut half_head = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(&server.addr).await.unwrap();
        s.write_all(b"GET /health/live HTTP/1.1\r\nHost: loc").await.unwrap(); // a head, unfinished
        half_head.push(s);
    }
    let mut idle_after_request = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(&server.addr).await.unwrap();
        s.write_all(HEALTH_KEEP_ALIVE).await.unwrap();
        let got = read_until(&mut s, Duration::from_secs(5), has_whole_health_answer).await;
        assert!(has_whole_health_answer(&got), "{}", String::from_utf8_lossy(&got));
        idle_after_request.push(s);
    }
    let opened = started.elapsed();

    // A client keeps working the whole time.
    let worker = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut n = 0;
            let until = Instant::now() + Duration::from_secs(6);
            while Instant::now() < until {
                client
                    .put_object()
                    .bucket("busy")
                    .key(format!("k{n}"))
                    .body(ByteStream::from(vec![7u8; 100]))
                    .send()
                    .await
                    .expect("requests are served while idle connections are open");
                n += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            n
        })
    };

    // Every socket was opened (or last used) by now: the handshake timeout (1 s) or the
    // idle timeout (2 s), plus up to 2 s to finish closing, plus slack for a loaded box.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let mut still_open = Vec::new();
    for (kind, group) in [
        ("silent", &mut silent),
        ("unfinished HTTP/2 preface", &mut half_h2),
        ("unfinished request head", &mut half_head),
        ("idle after a request", &mut idle_after_request),
    ] {
        let mut open = 0;
        for s in group.iter_mut() {
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .max(Duration::from_millis(100));
            if !closed_within(s, left).await {
                open += 1;
            }
        }
        if open > 0 {
            still_open.push(format!("{open} {kind}"));
        }
    }
    assert!(
        still_open.is_empty(),
        "connections still open after their timeouts (opening took {opened:?}): {still_open:?}"
    );
    let served = worker.await.unwrap();
    assert!(served > 10, "the client got {served} answers");
}

/// Defect 2: past --max-connections new connections wait briefly, then are refused,
/// while connections already open keep being served.
#[tokio::test]
async fn defect2_connection_limit_refuses_new_connections_and_serves_open_ones() {
    let server = Server::start_with(&["--max-connections", "4", "--idle-timeout-secs", "30"]);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(&server.addr).await.unwrap();
        s.write_all(HEALTH_KEEP_ALIVE).await.unwrap();
        assert!(has_whole_health_answer(
            &read_until(&mut s, Duration::from_secs(5), has_whole_health_answer).await
        ));
        held.push(s);
    }
    let t = Instant::now();
    let mut extra = TcpStream::connect(&server.addr).await.unwrap();
    extra.write_all(HEALTH_KEEP_ALIVE).await.unwrap();
    let answer = read_until(&mut extra, Duration::from_secs(10), |b| {
        b.windows(8).any(|w| w == b"</Error>")
    })
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("SlowDown"), "{text}");
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "refused without waiting: {:?}",
        t.elapsed()
    );
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "waited too long: {:?}",
        t.elapsed()
    );
    // The open connections are still served.
    let s = &mut held[0];
    s.write_all(HEALTH_KEEP_ALIVE).await.unwrap();
    assert!(has_whole_health_answer(
        &read_until(s, Duration::from_secs(5), has_whole_health_answer).await
    ));
    // A slot that frees up admits a waiting connection.
    drop(held.pop());
    let mut next = TcpStream::connect(&server.addr).await.unwrap();
    next.write_all(HEALTH_KEEP_ALIVE).await.unwrap();
    assert!(has_whole_health_answer(
        &read_until(&mut next, Duration::from_secs(5), has_whole_health_answer).await
    ));
}

fn sigv2_sign(string_to_sign: &str) -> String {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
    m.update(string_to_sign.as_bytes());
    B64.encode(m.finalize().into_bytes())
}

fn http_date(t: std::time::SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::HttpDate)
        .unwrap()
}

/// A SigV2 PUT of `body` to `/bucket/key`, dated `date`.
async fn sigv2_put(addr: &str, path: &str, body: &str, date: &str) -> String {
    let sts = format!("PUT\n\ntext/plain\n{date}\n{path}");
    let req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nDate: {date}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nAuthorization: AWS {ACCESS_KEY}:{}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        sigv2_sign(&sts)
    );
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).to_string()
}

/// Defect 3: SigV2 requests were accepted with any date, so a captured signed PUT
/// could be replayed for ever (with a new body: SigV2 does not sign it).
#[tokio::test]
async fn defect3_sigv2_requests_must_be_recent_and_can_be_turned_off() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("sigv2").send().await.unwrap();
    let now = std::time::SystemTime::now();

    let fresh = sigv2_put(&server.addr, "/sigv2/fresh", "hello", &http_date(now)).await;
    assert!(fresh.starts_with("HTTP/1.1 200"), "{fresh}");

    let old = http_date(now - Duration::from_secs(20 * 60));
    let replayed = sigv2_put(&server.addr, "/sigv2/replayed", "evil", &old).await;
    assert!(replayed.starts_with("HTTP/1.1 403"), "{replayed}");
    assert!(replayed.contains("RequestTimeTooSkewed"), "{replayed}");
    for date in ["", "Bad Date", "Thu, 01 Jan 2001 00:00:00 GMT"] {
        let r = sigv2_put(&server.addr, "/sigv2/dated", "x", date).await;
        assert!(r.starts_with("HTTP/1.1 403"), "{date:?}: {r}");
    }
    let wrong = format!(
        "PUT /sigv2/wrong HTTP/1.1\r\nHost: h\r\nDate: {}\r\nContent-Length: 1\r\nAuthorization: AWS {ACCESS_KEY}:AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\nConnection: close\r\n\r\nx",
        http_date(now)
    );
    let mut s = TcpStream::connect(&server.addr).await.unwrap();
    s.write_all(wrong.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(String::from_utf8_lossy(&buf).contains("SignatureDoesNotMatch"));

    let listed = client.list_objects_v2().bucket("sigv2").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["fresh"], "only the fresh request stored anything");

    // botocore's SigV2 signs a path-style bucket request's resource as `/bucket/`;
    // AWS accepts that, and so must Ferrite.
    let date = http_date(now);
    let sts = format!("PUT\n\n\n{date}\n/sigv2-made/");
    let req = format!(
        "PUT /sigv2-made HTTP/1.1\r\nHost: {}\r\nDate: {date}\r\nContent-Length: 0\r\nAuthorization: AWS {ACCESS_KEY}:{}\r\nConnection: close\r\n\r\n",
        server.addr,
        sigv2_sign(&sts)
    );
    let mut s = TcpStream::connect(&server.addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
    client.head_bucket().bucket("sigv2-made").send().await.unwrap();

    // --disable-sigv2: refused however fresh, SigV4 still works.
    let v4_only = Server::start_with(&["--disable-sigv2"]);
    v4_only.client().create_bucket().bucket("sigv2").send().await.unwrap();
    let r = sigv2_put(&v4_only.addr, "/sigv2/fresh", "hello", &http_date(now)).await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("InvalidRequest"), "{r}");
}

/// Defect 3: X-Amz-Expires was not capped (AWS: 403 AuthorizationQueryParametersError), and an expired
/// presigned URL must answer 403.
#[tokio::test]
async fn defect3_presigned_urls_are_capped_at_a_week_and_expire_with_403() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("pre").send().await.unwrap();
    client
        .put_object()
        .bucket("pre")
        .key("k")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap();
    let presigned = client
        .get_object()
        .bucket("pre")
        .key("k")
        .presigned(aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(3)).unwrap())
        .await
        .unwrap();
    let uri = presigned.uri().to_string();
    // X-Amz-Date has whole seconds: a URL signed late in a second has a little less
    // than its 3 s left, still 2 s at least.
    let (status, _) = raw_request(&server.addr, "GET", &uri, &[]).await;
    assert!(status.contains("200"), "{status}");
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let (status, body) = raw_request(&server.addr, "GET", &uri, &[]).await;
    assert!(status.contains("403"), "{status}");
    assert!(body.contains("AccessDenied"), "{body}");

    let too_long = uri.replace("X-Amz-Expires=3", "X-Amz-Expires=604801");
    assert_ne!(too_long, uri);
    let (status, body) = raw_request(&server.addr, "GET", &too_long, &[]).await;
    assert!(status.contains("403"), "{status}");
    assert!(body.contains("AuthorizationQueryParametersError"), "{body}");
}

/// Defect 4: a signed GET of the object `health/live` answered the health check.
#[tokio::test]
async fn defect4_health_routes_never_shadow_signed_requests() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("health").send().await.unwrap();
    client
        .put_object()
        .bucket("health")
        .key("live")
        .body(ByteStream::from_static(b"the object"))
        .send()
        .await
        .unwrap();
    let got = client.get_object().bucket("health").key("live").send().await.unwrap();
    assert_eq!(read_all(got).await, b"the object");
    let head = client.head_object().bucket("health").key("live").send().await.unwrap();
    assert_eq!(head.content_length(), Some(10));
    // Unsigned, it is still the health check.
    let (status, body) = raw_request(&server.addr, "GET", "/health/live", &[]).await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok\n");
}

/// Defect 5: a GET of a multipart object returned its first segment and then broke
/// off when the key was overwritten during the read (the collector unlinked the other
/// segments). Every read that starts must deliver the whole version it started with.
#[tokio::test]
async fn defect5_reads_of_multipart_objects_are_never_torn_by_overwrites() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("torn").send().await.unwrap();
    const MIB: usize = 1 << 20;
    // Two 3-part versions of 11 MiB and a small single-part one.
    let versions: Vec<Vec<u8>> = vec![pattern(11 * MIB, 1), pattern(11 * MIB, 2), pattern(300_000, 3)];
    let digests: Vec<String> = versions.iter().map(|v| md5_hex(v)).collect();

    async fn write(client: &aws_sdk_s3::Client, data: &[u8]) {
        if data.len() < 5 << 20 {
            client
                .put_object()
                .bucket("torn")
                .key("k")
                .body(ByteStream::from(data.to_vec()))
                .send()
                .await
                .unwrap();
            return;
        }
        let up = client
            .create_multipart_upload()
            .bucket("torn")
            .key("k")
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap();
        let mut parts = Vec::new();
        for (i, piece) in data.chunks(5 << 20).enumerate() {
            let n = i as i32 + 1;
            let p = client
                .upload_part()
                .bucket("torn")
                .key("k")
                .upload_id(id)
                .part_number(n)
                .body(ByteStream::from(piece.to_vec()))
                .send()
                .await
                .unwrap();
            parts.push(
                aws_sdk_s3::types::CompletedPart::builder()
                    .part_number(n)
                    .e_tag(p.e_tag().unwrap())
                    .build(),
            );
        }
        client
            .complete_multipart_upload()
            .bucket("torn")
            .key("k")
            .upload_id(id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    write(&client, &versions[0]).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (client, versions, stop) = (client.clone(), versions.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                write(&client, &versions[i % versions.len()]).await;
                if i % 4 == 0 {
                    client.delete_object().bucket("torn").key("k").send().await.unwrap();
                }
                i += 1;
            }
            i
        })
    };
    let mut readers = Vec::new();
    for r in 0..4 {
        let (client, versions, digests) = (client.clone(), versions.clone(), digests.clone());
        readers.push(tokio::spawn(async move {
            let (mut complete, mut missing) = (0, 0);
            let until = Instant::now() + Duration::from_secs(8);
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                // Full reads, and ranges across part boundaries.
                let range = (r % 2 == 1).then(|| format!("bytes={}-{}", 4 * MIB + (n as usize % 1000), 10 * MIB));
                let mut req = client.get_object().bucket("torn").key("k");
                if let Some(range) = &range {
                    req = req.range(range);
                }
                let out = match req.send().await {
                    Ok(out) => out,
                    // A deleted key, or a range past the small version's end.
                    Err(e) if code(&e) == "NoSuchKey" || code(&e) == "InvalidRange" => {
                        missing += 1;
                        continue;
                    }
                    Err(e) => panic!("GET failed: {e:?}"),
                };
                let etag = out.e_tag().unwrap().trim_matches('"').to_string();
                let body = out
                    .body
                    .collect()
                    .await
                    .unwrap_or_else(|e| panic!("torn read (etag {etag}): {e:?}"))
                    .into_bytes();
                let ok = if range.is_some() {
                    // The slice must come from one whole version.
                    versions
                        .iter()
                        .filter(|v| v.len() > 10 * MIB)
                        .any(|v| v[4 * MIB + (n as usize % 1000)..=10 * MIB] == body[..])
                } else {
                    digests.contains(&md5_hex(&body))
                };
                assert!(
                    ok,
                    "a read returned bytes of no complete version ({} bytes)",
                    body.len()
                );
                complete += 1;
            }
            (complete, missing)
        }));
    }
    let mut total = 0;
    for r in readers {
        let (complete, _) = r.await.unwrap();
        total += complete;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.await.unwrap();
    assert!(total >= 8, "only {total} complete reads");
    assert!(writes >= 4, "only {writes} overwrites during the reads");
}

/// Defect 7: a signed upload in 1-byte aws-chunked chunks kept every chunk as its own
/// buffer (245 MB of memory for 16 MiB). Memory per upload must stay bounded.
#[tokio::test]
async fn defect7_one_byte_chunks_keep_memory_bounded() {
    let server = Server::start();
    server.client().create_bucket().bucket("tiny").send().await.unwrap();
    let data = pattern(3 << 20, 9);
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &data) as u32;
    let trailer = format!("x-amz-checksum-crc32:{}\r\n\r\n", B64.encode(crc.to_be_bytes()));
    let mut body = Vec::with_capacity(data.len() * 6 + 64);
    for b in &data {
        body.extend_from_slice(b"1\r\n");
        body.push(*b);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n");
    body.extend_from_slice(trailer.as_bytes());

    let sig = SigV4::now();
    let host = &server.addr;
    let payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    let signed = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-trailer";
    let canonical = format!(
        "PUT\n/tiny/k\n\ncontent-encoding:aws-chunked\ncontent-length:{}\nhost:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{}\nx-amz-decoded-content-length:{}\nx-amz-trailer:x-amz-checksum-crc32\n\n{signed}\n{payload}",
        body.len(),
        sig.amz_date,
        data.len()
    );
    let head = format!(
        "PUT /tiny/k HTTP/1.1\r\nHost: {host}\r\nContent-Encoding: aws-chunked\r\nContent-Length: {}\r\nx-amz-content-sha256: {payload}\r\nx-amz-date: {}\r\nx-amz-decoded-content-length: {}\r\nx-amz-trailer: x-amz-checksum-crc32\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        body.len(),
        sig.amz_date,
        data.len(),
        sig.authorization(signed, &sig.sign(&canonical))
    );
    let rss_before = server.peak_rss();
    let mut s = TcpStream::connect(host).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(120), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let grown = server.peak_rss().saturating_sub(rss_before);
    assert!(
        grown < 48 << 20,
        "peak RSS grew by {} MiB for a 3 MiB upload",
        grown >> 20
    );
    let got = server
        .client()
        .get_object()
        .bucket("tiny")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(md5_hex(&read_all(got).await), md5_hex(&data));
}

/// Defect 8: HEAD with partNumber=1 of a zero-byte multipart object answered
/// `content-range: bytes 0-18446744073709551615/0`. GET and HEAD must agree.
#[tokio::test]
async fn defect8_zero_byte_part_has_no_underflowing_content_range() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("zero").send().await.unwrap();
    let up = client
        .create_multipart_upload()
        .bucket("zero")
        .key("z")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let p = client
        .upload_part()
        .bucket("zero")
        .key("z")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    client
        .complete_multipart_upload()
        .bucket("zero")
        .key("z")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let head = client
        .head_object()
        .bucket("zero")
        .key("z")
        .part_number(1)
        .send()
        .await
        .unwrap();
    let get = client
        .get_object()
        .bucket("zero")
        .key("z")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_range(), None);
    assert_eq!(get.content_range(), None);
    assert_eq!(head.content_length(), Some(0));
    assert_eq!(get.content_length(), Some(0));
    assert_eq!(head.parts_count(), get.parts_count());
    assert_eq!(read_all(get).await.len(), 0);
}

/// Defect 9: with `RUST_LOG=s3s=debug` the protocol layer logged the correct
/// signature of every mismatched request. No log level may print one.
#[test]
fn defect9_no_log_level_prints_signatures() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("d"))
        .env("FERRITE_ROOT_ACCESS_KEY", ACCESS_KEY)
        .env("FERRITE_ROOT_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "trace,s3s=trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_string();
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A SigV4 request with a wrong signature, and a SigV2 one.
    let sig = SigV4::now();
    let canonical = format!(
        "GET\n/\n\nhost:{addr}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:{}\n\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD",
        sig.amz_date
    );
    let correct = sig.sign(&canonical);
    let wrong = "0".repeat(64);
    let auth = sig.authorization("host;x-amz-content-sha256;x-amz-date", &wrong);
    let date = sig.amz_date.clone();
    let (status, _) = rt.block_on(raw_request(
        &addr,
        "GET",
        "/",
        &[
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-date", &date),
            ("Authorization", &auth),
        ],
    ));
    assert!(status.contains("403"), "{status}");
    let now = http_date(std::time::SystemTime::now());
    let v2_correct = sigv2_sign(&format!("GET\n\n\n{now}\n/"));
    let v2_auth = format!("AWS {ACCESS_KEY}:AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let (status, _) = rt.block_on(raw_request(
        &addr,
        "GET",
        "/",
        &[("Date", &now), ("Authorization", &v2_auth)],
    ));
    assert!(status.contains("403"), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    child.wait().unwrap();
    assert!(!log.contains(&correct), "the log holds the correct SigV4 signature");
    assert!(!log.contains(&v2_correct), "the log holds the correct SigV2 signature");
    assert!(!log.contains(SECRET_KEY), "the log holds the secret key");
    assert!(
        !log.to_lowercase().contains("string_to_sign"),
        "the log holds a string to sign"
    );
}

/// Defect 10: the data dir and everything in it were created world-readable.
#[tokio::test]
async fn defect10_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("priv").send().await.unwrap();
    client
        .put_object()
        .bucket("priv")
        .key("big")
        .body(ByteStream::from(vec![1u8; 200_000]))
        .send()
        .await
        .unwrap();
    let mut checked = 0;
    let mut stack = vec![server.data_dir.clone()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", p.display());
        checked += 1;
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    assert!(checked > 256, "checked {checked} entries");
    assert!(server.blob_files() >= 1);
}

/// Defect 13: a Range header that is not one usable byte range (several ranges,
/// `bytes=-0`, garbage) was answered 400; AWS ignores it and sends the whole object.
#[tokio::test]
async fn defect13_unusable_range_headers_are_ignored_as_on_aws() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("ranges").send().await.unwrap();
    client
        .put_object()
        .bucket("ranges")
        .key("k")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();
    for bad in ["bytes=0-1,3-4", "bytes=-0", "garbage", "bytes=5-2", "bytes="] {
        let got = client.get_object().bucket("ranges").key("k").range(bad).send().await;
        let got = got.unwrap_or_else(|e| panic!("{bad}: {e:?}"));
        assert_eq!(got.content_range(), None, "{bad}");
        assert_eq!(read_all(got).await, b"0123456789", "{bad}");
        let head = client
            .head_object()
            .bucket("ranges")
            .key("k")
            .range(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(10), "{bad}");
    }
    // A usable range still works, an unsatisfiable one is still 416.
    let got = client
        .get_object()
        .bucket("ranges")
        .key("k")
        .range("bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_range(), Some("bytes 2-4/10"));
    assert_eq!(read_all(got).await, b"234");
    let err = client
        .get_object()
        .bucket("ranges")
        .key("k")
        .range("bytes=100-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 416);
    // Presigned, with a bad Range the URL did not sign: still the whole object.
    let presigned = client
        .get_object()
        .bucket("ranges")
        .key("k")
        .presigned(aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let (line, body) = raw_request(&server.addr, "GET", presigned.uri(), &[("Range", "bytes=1-2,5-6")]).await;
    assert!(line.contains("200"), "{line}");
    assert_eq!(body, "0123456789");
    // Unsigned requests are still refused.
    let (line, _) = raw_request(&server.addr, "GET", "/ranges/k", &[("Range", "bytes=-0")]).await;
    assert!(line.contains("403"), "{line}");
}

/// Item 14 (ceph's test_object_read_unreadable): a key with a C1 control character
/// is a URI AWS cannot parse: 400 InvalidURI for a read, and for a write, which AWS
/// cannot store either.
#[tokio::test]
async fn defect14_keys_with_c1_control_characters_are_unparseable() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("unread").send().await.unwrap();
    let key = "\u{ae}\u{8a}-";
    let err = client.get_object().bucket("unread").key(key).send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (400, "InvalidURI"));
    let err = client
        .put_object()
        .bucket("unread")
        .key(key)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&err), code(&err).as_str()), (400, "InvalidURI"));
    // Other non-ASCII keys are fine.
    client
        .put_object()
        .bucket("unread")
        .key("caf\u{e9}-\u{ae}")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let listed = client.list_objects_v2().bucket("unread").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
}

/// Item 14 (ceph's test_object_set_get_unicode_metadata): non-ASCII metadata is
/// stored decoded and returned RFC 2047-encoded, as AWS documents ("Values of such
/// headers are character decoded as per RFC 2047 before storing and encoded as per
/// RFC 2047 to make them mail-safe before returning"). The ceph test expects the
/// ISO-8859-1 bytes back instead; the AWS SDK for Rust cannot parse a response that
/// carries such bytes (tried: "Failed to parse Metadata from prefix header"), so the
/// documented form is kept.
#[tokio::test]
async fn defect14_non_ascii_metadata_round_trips_rfc2047_encoded() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket("meta").send().await.unwrap();
    let sig = SigV4::now();
    let host = &server.addr;
    // As boto3 sends it: the value's UTF-8 bytes.
    let value = "Hello World\u{e9}";
    let canonical = format!(
        "PUT\n/meta/k\n\ncontent-length:3\nhost:{host}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:{}\nx-amz-meta-meta1:{value}\nx-amz-meta-meta2:price \u{20ac}5\n\ncontent-length;host;x-amz-content-sha256;x-amz-date;x-amz-meta-meta1;x-amz-meta-meta2\nUNSIGNED-PAYLOAD",
        sig.amz_date
    );
    let auth = sig.authorization(
        "content-length;host;x-amz-content-sha256;x-amz-date;x-amz-meta-meta1;x-amz-meta-meta2",
        &sig.sign(&canonical),
    );
    let req = format!(
        "PUT /meta/k HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-date: {}\r\nx-amz-meta-meta1: {value}\r\nx-amz-meta-meta2: price \u{20ac}5\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\nbar",
        sig.amz_date
    );
    let mut s = TcpStream::connect(host).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));

    let presigned = client
        .head_object()
        .bucket("meta")
        .key("k")
        .presigned(aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let mut s = TcpStream::connect(host).await.unwrap();
    let path = common::path_of(presigned.uri());
    s.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut head)).await;
    let line = |name: &[u8]| {
        head.split(|b| *b == b'\n')
            .find(|l| l.to_ascii_lowercase().starts_with(name))
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .unwrap_or_default()
    };
    assert_eq!(
        line(b"x-amz-meta-meta1:"),
        b"x-amz-meta-meta1: =?UTF-8?B?SGVsbG8gV29ybGTDqQ==?="
    );
    assert_eq!(
        line(b"x-amz-meta-meta2:"),
        b"x-amz-meta-meta2: =?UTF-8?B?cHJpY2Ug4oKsNQ==?="
    );
    let sdk = client.head_object().bucket("meta").key("k").send().await.unwrap();
    let meta = sdk.metadata().unwrap();
    assert_eq!(meta["meta1"], "=?UTF-8?B?SGVsbG8gV29ybGTDqQ==?=");
}

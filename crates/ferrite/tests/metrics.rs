//! `GET /metrics`: request counts, latency histograms and bytes by operation and
//! status, and per-bucket usage, as a Prometheus scraper sees them.

mod common;

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketVersioningStatus;
use common::*;

/// Parses the exposition text into `name{labels}` -> value.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(s: &Server, headers: &[(&str, &str)]) -> (String, String) {
    raw_request(&s.addr, "GET", "/metrics", headers).await
}

/// Requests are recorded when their response body is done, a moment after the client
/// has read it: wait until `name` reaches `want`.
async fn scrape_until(s: &Server, name: &str, want: f64) -> HashMap<String, f64> {
    let mut last = HashMap::new();
    for _ in 0..100 {
        let (status_line, body) = scrape(s, &[]).await;
        assert!(status_line.contains("200"), "{status_line}");
        last = samples(&body);
        if last.get(name) == Some(&want) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{name} never reached {want}: {:?}", last.get(name));
}

#[tokio::test]
async fn requests_bytes_and_bucket_usage_are_exposed() {
    let s = Server::start();
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    for (key, len) in [("a", 1000), ("a", 2000), ("b", 500)] {
        c.put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from(pattern(len, 1)))
            .send()
            .await
            .unwrap();
    }
    c.delete_object().bucket("bkt").key("b").send().await.unwrap();
    let got = read_all(c.get_object().bucket("bkt").key("a").send().await.unwrap()).await;
    assert_eq!(got.len(), 2000);
    let e = c.head_object().bucket("bkt").key("missing").send().await.unwrap_err();
    assert_eq!(status(&e), 404);
    let stranger = client_with(&s.endpoint(), ACCESS_KEY, "not-the-secret");
    let e = stranger.list_buckets().send().await.unwrap_err();
    assert_eq!(status(&e), 403);

    let m = scrape_until(
        &s,
        r#"ferrite_s3_requests_total{operation="GetObject",status="200"}"#,
        1.0,
    )
    .await;
    let get = |name: &str| m.get(name).copied().unwrap_or_else(|| panic!("no sample {name}"));
    assert_eq!(
        get(r#"ferrite_s3_requests_total{operation="PutObject",status="200"}"#),
        3.0
    );
    assert_eq!(
        get(r#"ferrite_s3_requests_total{operation="DeleteObject",status="204"}"#),
        1.0
    );
    assert_eq!(
        get(r#"ferrite_s3_requests_total{operation="HeadObject",status="404"}"#),
        1.0
    );
    // A bad signature fails before s3s resolves the operation.
    assert_eq!(
        get(r#"ferrite_s3_requests_total{operation="unknown",status="403"}"#),
        1.0
    );
    // Latency histograms: one observation per request, every bucket cumulative.
    let gets = r#"operation="GetObject",status="200""#;
    assert_eq!(
        get(&format!("ferrite_s3_request_duration_seconds_count{{{gets}}}")),
        1.0
    );
    assert_eq!(
        get(&format!(
            r#"ferrite_s3_request_duration_seconds_bucket{{le="+Inf",{gets}}}"#
        )),
        1.0
    );
    let sum = get(&format!("ferrite_s3_request_duration_seconds_sum{{{gets}}}"));
    assert!(sum > 0.0 && sum < 10.0, "{sum}");
    assert_eq!(
        get(&format!(
            "ferrite_s3_request_duration_seconds_count{{{}}}",
            r#"operation="PutObject",status="200""#
        )),
        3.0
    );
    // Bytes: the GET sent exactly the object; the PUTs' bodies carried 3,500 bytes of
    // data plus whatever framing the SDK added (aws-chunked with a checksum trailer).
    assert_eq!(get(r#"ferrite_s3_sent_bytes_total{operation="GetObject"}"#), 2000.0);
    let received = get(r#"ferrite_s3_received_bytes_total{operation="PutObject"}"#);
    assert!((3500.0..4500.0).contains(&received), "{received}");
    // Bucket usage: a is current (2,000 B) with one older version, b is behind a marker.
    assert_eq!(get(r#"ferrite_bucket_objects{bucket="bkt"}"#), 1.0);
    assert_eq!(get(r#"ferrite_bucket_object_bytes{bucket="bkt"}"#), 2000.0);
    assert_eq!(get(r#"ferrite_bucket_versions{bucket="bkt"}"#), 3.0);
    assert_eq!(get(r#"ferrite_bucket_stored_bytes{bucket="bkt"}"#), 3500.0);
    assert_eq!(get(r#"ferrite_bucket_delete_markers{bucket="bkt"}"#), 1.0);

    // Deleting everything empties the gauges; deleting the bucket removes its series.
    let listed = c.list_object_versions().bucket("bkt").send().await.unwrap();
    let versions = listed.versions().iter().map(|v| (v.key(), v.version_id()));
    let markers = listed.delete_markers().iter().map(|d| (d.key(), d.version_id()));
    for (key, id) in versions.chain(markers) {
        c.delete_object()
            .bucket("bkt")
            .key(key.unwrap())
            .version_id(id.unwrap())
            .send()
            .await
            .unwrap();
    }
    let (_, body) = scrape(&s, &[]).await;
    let m = samples(&body);
    for gauge in ["objects", "object_bytes", "versions", "stored_bytes", "delete_markers"] {
        assert_eq!(m[&format!(r#"ferrite_bucket_{gauge}{{bucket="bkt"}}"#)], 0.0, "{gauge}");
    }
    c.delete_bucket().bucket("bkt").send().await.unwrap();
    let (_, body) = scrape(&s, &[]).await;
    assert!(!body.contains(r#"bucket="bkt""#), "{body}");
}

#[tokio::test]
async fn formats_token_and_a_bucket_named_metrics() {
    let s = Server::start_with(&["--metrics-token", "s3cr3t"]);
    // Signed requests to /metrics are S3 requests on a bucket named `metrics`.
    let c = s.client();
    let e = c.list_objects_v2().bucket("metrics").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchBucket");
    c.create_bucket().bucket("metrics").send().await.unwrap();
    c.put_object()
        .bucket("metrics")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let listed = c.list_objects_v2().bucket("metrics").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    let (status_line, _) = scrape(&s, &[]).await;
    assert!(status_line.contains("401"), "{status_line}");
    let (status_line, _) = scrape(&s, &[("Authorization", "Bearer wrong")]).await;
    assert!(status_line.contains("401"), "{status_line}");
    let (status_line, body) = scrape(&s, &[("Authorization", "Bearer s3cr3t")]).await;
    assert!(status_line.contains("200"), "{status_line}");
    assert!(body.contains("# TYPE ferrite_s3_requests counter"), "{body}");
    assert!(!body.contains("# EOF"));
    let (_, body) = scrape(
        &s,
        &[
            ("Authorization", "Bearer s3cr3t"),
            ("Accept", "application/openmetrics-text; version=1.0.0"),
        ],
    )
    .await;
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
}

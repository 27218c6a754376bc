//! CORS against the real binary: Put/Get/DeleteBucketCors through aws-sdk-s3,
//! configurations AWS refuses (nothing stored), preflights (`OPTIONS`, unauthenticated)
//! allowed and refused, the CORS headers on actual requests (errors included), and who
//! may manage a bucket's rules.

mod common;

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use common::{ACCESS_KEY, SECRET_KEY, Server, code, http_send, new_iam_user, signed_request, xml_tag};

const APP: &str = "http://app.example";

fn rule(origins: &[&str], methods: &[&str]) -> aws_sdk_s3::types::builders::CorsRuleBuilder {
    let mut b = CorsRule::builder();
    for o in origins {
        b = b.allowed_origins(*o);
    }
    for m in methods {
        b = b.allowed_methods(*m);
    }
    b
}

async fn put_cors(c: &Client, bucket: &str, rules: Vec<CorsRule>) -> Result<(), String> {
    c.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

/// The configuration most tests use: the app may GET and PUT, with any `x-amz-*` or
/// Content-Type header, sees ETag, caches preflights 600 s; anyone may GET.
fn app_rules() -> Vec<CorsRule> {
    vec![
        rule(&[APP], &["GET", "PUT"])
            .id("app")
            .allowed_headers("x-amz-*")
            .allowed_headers("Content-Type")
            .expose_headers("ETag")
            .expose_headers("x-amz-request-id")
            .max_age_seconds(600)
            .build()
            .unwrap(),
        rule(&["*"], &["GET"]).build().unwrap(),
    ]
}

fn header<'a>(h: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

async fn options(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, http::HeaderMap, String) {
    let (status, h, body) = http_send("OPTIONS", &format!("{}{path}", server.endpoint()), headers, vec![]).await;
    (status, h, String::from_utf8(body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_delete_round_trip() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("round-trip").send().await.unwrap();
    let err = c.get_bucket_cors().bucket("round-trip").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchCORSConfiguration");
    assert_eq!(common::status(&err), 404);

    put_cors(&c, "round-trip", app_rules()).await.unwrap();
    let got = c.get_bucket_cors().bucket("round-trip").send().await.unwrap();
    assert_eq!(got.cors_rules(), app_rules().as_slice());
    // Replacing keeps only the new rules.
    put_cors(
        &c,
        "round-trip",
        vec![rule(&["*"], &["HEAD", "DELETE", "POST"]).build().unwrap()],
    )
    .await
    .unwrap();
    let got = c.get_bucket_cors().bucket("round-trip").send().await.unwrap();
    assert_eq!(got.cors_rules().len(), 1);
    assert_eq!(got.cors_rules()[0].allowed_methods(), ["HEAD", "DELETE", "POST"]);

    c.delete_bucket_cors().bucket("round-trip").send().await.unwrap();
    let err = c.get_bucket_cors().bucket("round-trip").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchCORSConfiguration");
    // Deleting what is not there succeeds, as on AWS.
    c.delete_bucket_cors().bucket("round-trip").send().await.unwrap();
    let err = c.get_bucket_cors().bucket("missing").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_bucket_takes_its_rules_with_it() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("gone").send().await.unwrap();
    put_cors(&c, "gone", app_rules()).await.unwrap();
    c.delete_bucket().bucket("gone").send().await.unwrap();
    c.create_bucket().bucket("gone").send().await.unwrap();
    let err = c.get_bucket_cors().bucket("gone").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchCORSConfiguration");
    let (status, _, body) = options(
        &server,
        "/gone/k",
        &[("Origin", APP), ("Access-Control-Request-Method", "GET")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_aws_refuses_are_refused_and_nothing_is_stored() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("bad").send().await.unwrap();
    let cases: Vec<(Vec<CorsRule>, &str, Option<&str>)> = vec![
        (
            vec![rule(&[APP], &["GET", "PATCH"]).build().unwrap()],
            "InvalidRequest",
            Some("Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
        ),
        (
            vec![rule(&[APP], &["get"]).build().unwrap()],
            "InvalidRequest",
            Some("Found unsupported HTTP method in CORS config. Unsupported method is get"),
        ),
        (
            vec![rule(&["http://*.*.example"], &["GET"]).build().unwrap()],
            "InvalidRequest",
            Some("AllowedOrigin \"http://*.*.example\" can not have more than one wildcard."),
        ),
        (
            vec![rule(&[APP], &["GET"]).allowed_headers("x-*-*").build().unwrap()],
            "InvalidRequest",
            Some("AllowedHeader \"x-*-*\" can not have more than one wildcard."),
        ),
        (
            vec![rule(&[APP], &["GET"]).expose_headers("*").build().unwrap()],
            "InvalidRequest",
            None,
        ),
        (
            (0..101).map(|_| rule(&[APP], &["GET"]).build().unwrap()).collect(),
            "MalformedXML",
            None,
        ),
        (vec![], "MalformedXML", None),
    ];
    for (rules, want, message) in cases {
        let err = c
            .put_bucket_cors()
            .bucket("bad")
            .cors_configuration(
                CorsConfiguration::builder()
                    .set_cors_rules(Some(rules))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), want, "{err:?}");
        assert_eq!(common::status(&err), 400);
        if let Some(m) = message {
            assert_eq!(err.as_service_error().unwrap().meta().message(), Some(m));
        }
        let err = c.get_bucket_cors().bucket("bad").send().await.unwrap_err();
        assert_eq!(code(&err), "NoSuchCORSConfiguration", "nothing stored after {want}");
    }
    // Documents that are not CORS configurations at all.
    for body in [
        "not xml",
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
        "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
    ] {
        let (status, _, text) = signed_request(
            &server,
            (ACCESS_KEY, SECRET_KEY),
            "s3",
            "PUT",
            "/bad?cors",
            &[],
            body.as_bytes().to_vec(),
        )
        .await;
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status, 400, "{body}: {text}");
        assert_eq!(
            xml_tag(&text, "Code").as_deref(),
            Some("MalformedXML"),
            "{body}: {text}"
        );
    }
    // A refused configuration leaves the stored one as it was.
    put_cors(&c, "bad", app_rules()).await.unwrap();
    let err = put_cors(&c, "bad", vec![rule(&[APP], &["OPTIONS"]).build().unwrap()])
        .await
        .unwrap_err();
    assert_eq!(err, "InvalidRequest");
    let got = c.get_bucket_cors().bucket("bad").send().await.unwrap();
    assert_eq!(got.cors_rules(), app_rules().as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_bucket_owner_manages_cors() {
    let server = Server::start();
    let owner = new_iam_user(&server, "owner").await;
    let other = new_iam_user(&server, "other").await;
    owner.client.create_bucket().bucket("owned").send().await.unwrap();
    put_cors(&owner.client, "owned", app_rules()).await.unwrap();
    let err = put_cors(&other.client, "owned", app_rules()).await.unwrap_err();
    assert_eq!(err, "AccessDenied");
    let err = other.client.get_bucket_cors().bucket("owned").send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = other
        .client
        .delete_bucket_cors()
        .bucket("owned")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // Anonymous callers neither.
    let (status, _, body) = http_send("GET", &format!("{}/owned?cors", server.endpoint()), &[], vec![]).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    // The owner's rules are untouched; root may manage them as the administrator.
    let got = owner.client.get_bucket_cors().bucket("owned").send().await.unwrap();
    assert_eq!(got.cors_rules(), app_rules().as_slice());
    server.client().get_bucket_cors().bucket("owned").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_answered_by_the_first_matching_rule() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("preflight").send().await.unwrap();
    c.create_bucket().bucket("plain").send().await.unwrap();
    put_cors(&c, "preflight", app_rules()).await.unwrap();

    // Allowed: the app's rule, with the requested headers echoed in lower case.
    let (status, h, body) = options(
        &server,
        "/preflight/some/key",
        &[
            ("Origin", APP),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "Content-Type,X-Amz-Date"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&h, "access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(
        header(&h, "access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(
        header(&h, "access-control-expose-headers"),
        Some("ETag, x-amz-request-id")
    );
    assert_eq!(header(&h, "access-control-max-age"), Some("600"));
    assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(
        header(&h, "vary"),
        Some("Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
    );
    assert!(body.is_empty());
    // Another origin falls through to the `*` rule: GET only, any origin, no credentials.
    let (status, h, _) = options(
        &server,
        "/preflight/k",
        &[
            ("Origin", "http://other.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&h, "access-control-allow-methods"), Some("GET"));
    assert_eq!(header(&h, "access-control-allow-credentials"), None);
    assert_eq!(header(&h, "access-control-max-age"), None);

    // Refused: a method, a header or an origin no rule allows.
    for (path, origin, method, hdrs) in [
        ("/preflight/k", "http://other.example", "PUT", None),
        ("/preflight/k", APP, "DELETE", None),
        ("/preflight/k", APP, "PUT", Some("authorization")),
        ("/preflight", "http://other.example", "GET", Some("x-custom")),
    ] {
        let mut headers = vec![("Origin", origin), ("Access-Control-Request-Method", method)];
        if let Some(hv) = hdrs {
            headers.push(("Access-Control-Request-Headers", hv));
        }
        let (status, h, body) = options(&server, path, &headers).await;
        assert_eq!(status, 403, "{origin} {method} {hdrs:?}");
        assert_eq!(xml_tag(&body, "Code").as_deref(), Some("AccessForbidden"));
        assert_eq!(
            xml_tag(&body, "Message").as_deref(),
            Some(
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, \
                 request method / Access-Control-Request-Method or Access-Control-Request-Headers are not \
                 whitelisted by the resource's CORS spec."
            )
        );
        assert_eq!(xml_tag(&body, "Method").as_deref(), Some(method));
        let resource = if path == "/preflight" { "BUCKET" } else { "OBJECT" };
        assert_eq!(xml_tag(&body, "ResourceType").as_deref(), Some(resource));
        assert!(xml_tag(&body, "RequestId").is_some());
        assert_eq!(header(&h, "access-control-allow-origin"), None);
    }

    // Without rules, without a bucket, without the request's facts.
    let pre = [("Origin", APP), ("Access-Control-Request-Method", "GET")];
    let (status, _, body) = options(&server, "/plain/k", &pre).await;
    assert_eq!(status, 403);
    assert_eq!(
        xml_tag(&body, "Message").as_deref(),
        Some("CORSResponse: CORS is not enabled for this bucket.")
    );
    let (status, _, body) = options(&server, "/nosuchbucket/k", &pre).await;
    assert_eq!(status, 403);
    assert_eq!(
        xml_tag(&body, "Message").as_deref(),
        Some("CORSResponse: Bucket not found")
    );
    let (status, _, body) = options(&server, "/preflight/k", &[("Access-Control-Request-Method", "GET")]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(xml_tag(&body, "Code").as_deref(), Some("BadRequest"));
    let (status, _, body) = options(&server, "/preflight/k", &[("Origin", APP)]).await;
    assert_eq!(status, 400, "{body}");
    // A preflight is never authenticated: a signature on it changes nothing.
    let (status, h, _) = signed_request(
        &server,
        (ACCESS_KEY, SECRET_KEY),
        "s3",
        "OPTIONS",
        "/preflight/k",
        &[("origin", APP), ("access-control-request-method", "GET")],
        vec![],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP));
}

async fn presigned_get(c: &Client, bucket: &str, key: &str) -> String {
    c.get_object()
        .bucket(bucket)
        .key(key)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actual_requests_carry_the_matching_rules_headers_errors_included() {
    let server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("act").send().await.unwrap();
    c.create_bucket().bucket("norules").send().await.unwrap();
    put_cors(
        &c,
        "act",
        vec![
            rule(&[APP], &["GET", "PUT"])
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    c.put_object()
        .bucket("act")
        .key("k")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();

    // A GET through a presigned URL, as a page would send it.
    let url = presigned_get(&c, "act", "k").await;
    let (status, h, body) = http_send("GET", &url, &[("Origin", APP)], vec![]).await;
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(&h, "access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(header(&h, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(header(&h, "access-control-max-age"), Some("600"));
    assert!(header(&h, "vary").unwrap().starts_with("Origin"));
    assert!(header(&h, "access-control-allow-headers").is_none());

    // A PUT likewise; the object is stored.
    let put_url = c
        .put_object()
        .bucket("act")
        .key("put")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string();
    let (status, h, _) = http_send("PUT", &put_url, &[("Origin", APP)], b"put body".to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP));
    let got = c.get_object().bucket("act").key("put").send().await.unwrap();
    assert_eq!(common::read_all(got).await, b"put body");

    // Errors carry them too: a missing key, an anonymous read of a private object, a
    // bad signature.
    let url = presigned_get(&c, "act", "missing").await;
    let (status, h, _) = http_send("GET", &url, &[("Origin", APP)], vec![]).await;
    assert_eq!(status, 404);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP));
    let anon = format!("{}/act/k", server.endpoint());
    let (status, h, _) = http_send("GET", &anon, &[("Origin", APP)], vec![]).await;
    assert_eq!(status, 403);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP));
    let url = presigned_get(&c, "act", "k").await;
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[at..at + 1] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    let (status, h, _) = http_send("GET", &tampered, &[("Origin", APP)], vec![]).await;
    assert_eq!(status, 403);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP));

    // No rule for the origin or the method: no CORS headers, but Vary (the answer
    // depends on the Origin). `Access-Control-Request-Method` decides the match.
    let url = presigned_get(&c, "act", "k").await;
    for headers in [
        vec![("Origin", "http://evil.example")],
        vec![("Origin", APP), ("Access-Control-Request-Method", "DELETE")],
    ] {
        let (status, h, _) = http_send("GET", &url, &headers, vec![]).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "access-control-allow-origin"), None, "{headers:?}");
        assert!(header(&h, "vary").is_some(), "{headers:?}");
    }
    // Without an Origin, or on a bucket without rules: nothing.
    let (_, h, _) = http_send("GET", &url, &[], vec![]).await;
    assert!(header(&h, "access-control-allow-origin").is_none() && header(&h, "vary").is_none());
    c.put_object()
        .bucket("norules")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let url = presigned_get(&c, "norules", "k").await;
    let (status, h, _) = http_send("GET", &url, &[("Origin", APP)], vec![]).await;
    assert_eq!(status, 200);
    assert!(header(&h, "access-control-allow-origin").is_none() && header(&h, "vary").is_none());
}

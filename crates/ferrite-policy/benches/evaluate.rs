//! Policy evaluation cost: a 20-statement bucket policy with mixed conditions, evaluated
//! for a GET and a PUT with a realistic request context. Also the parse cost, which is
//! paid once per policy (policies are cached).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrite_policy::{Context, Principal, Request, Scope, parse};

fn policy_doc() -> String {
    let mut statements = vec![
        // Deny anything not over TLS.
        r#"{"Sid":"TlsOnly","Effect":"Deny","Principal":"*","Action":"s3:*",
            "Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#
            .to_owned(),
        // Deny uploads without SSE, or with the wrong SSE.
        r#"{"Sid":"SseHeader","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*",
            "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":["AES256","aws:kms"]}}}"#
            .to_owned(),
        r#"{"Sid":"SseMissing","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*",
            "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}"#
            .to_owned(),
        // Deny from outside the office networks.
        r#"{"Sid":"Offices","Effect":"Deny","Principal":"*","Action":["s3:PutObject","s3:DeleteObject"],
            "Resource":"arn:aws:s3:::photos/*",
            "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24","2001:db8::/32"]}}}"#
            .to_owned(),
        // Public read of the public prefix, from the website only.
        r#"{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:GetObjectVersion"],
            "Resource":"arn:aws:s3:::photos/public/*",
            "Condition":{"StringLike":{"aws:Referer":["https://www.example.com/*","https://example.com/*"]}}}"#
            .to_owned(),
        // Home folders.
        r#"{"Sid":"HomeList","Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos",
            "Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}}"#
            .to_owned(),
        r#"{"Sid":"HomeObjects","Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],
            "Resource":"arn:aws:s3:::photos/home/${aws:username}/*"}"#
            .to_owned(),
        // Uploads must grant the bucket owner full control and use a known storage class.
        r#"{"Sid":"Uploads","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:user/alice","arn:aws:iam::000000000000:user/bob"]},
            "Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/uploads/*",
            "Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"},
                         "StringLikeIfExists":{"s3:x-amz-storage-class":["STANDARD*","INTELLIGENT_TIERING"]}}}"#
            .to_owned(),
        // Time-limited campaign access.
        r#"{"Sid":"Campaign","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/campaign/*",
            "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"},
                         "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}"#
            .to_owned(),
        // Listing page size cap.
        r#"{"Sid":"MaxKeys","Effect":"Deny","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos",
            "Condition":{"NumericGreaterThan":{"s3:max-keys":"1000"}}}"#
            .to_owned(),
        // Tag-based rules.
        r#"{"Sid":"Tags","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*",
            "Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["secret","internal"]}}}"#
            .to_owned(),
        r#"{"Sid":"TagRead","Effect":"Allow","Principal":{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*",
            "Condition":{"StringEquals":{"s3:ExistingObjectTag/classification":"shared"}}}"#
            .to_owned(),
        // Protect the bucket itself.
        r#"{"Sid":"NoBucketDelete","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:root"},
            "Action":["s3:DeleteBucket","s3:PutBucketPolicy","s3:DeleteBucketPolicy"],"Resource":"arn:aws:s3:::photos"}"#
            .to_owned(),
        r#"{"Sid":"Agents","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*",
            "Condition":{"StringLike":{"aws:UserAgent":["*badbot*","*scraper*"]}}}"#
            .to_owned(),
        r#"{"Sid":"Replication","Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":["s3:ReplicateObject","s3:ReplicateDelete"],
            "Resource":"arn:aws:s3:::photos/*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::photos-replica*"}}}"#
            .to_owned(),
    ];
    // Filler statements for other prefixes, so the relevant ones are not all first.
    for i in 0..5 {
        statements.insert(
            3 + i,
            format!(
                r#"{{"Sid":"Team{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/team{i}"}},
                    "Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::photos/teams/{i}/*",
                    "Condition":{{"IpAddress":{{"aws:SourceIp":"10.{i}.0.0/16"}}}}}}"#
            ),
        );
    }
    assert_eq!(statements.len(), 20);
    format!(
        r#"{{"Version":"2012-10-17","Id":"bench","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn bench(c: &mut Criterion) {
    let doc = policy_doc();
    let policy = parse(&doc, Scope::Bucket("photos")).expect("bench policy is valid");

    let base = |source_ip: &str| {
        let mut ctx = Context::new();
        ctx.insert("aws:SecureTransport", "true");
        ctx.insert("aws:SourceIp", source_ip);
        ctx.insert("aws:CurrentTime", "2026-03-01T12:00:00Z");
        ctx.insert("aws:EpochTime", "1772366400");
        ctx.insert("aws:UserAgent", "aws-sdk-rust/1.0 os/linux");
        ctx.insert("s3:signatureversion", "AWS4-HMAC-SHA256");
        ctx.insert("s3:authType", "REST-HEADER");
        ctx
    };
    let mut get_ctx = base("198.51.100.7");
    get_ctx.insert("aws:Referer", "https://www.example.com/gallery");
    let get = Request {
        account: "000000000000",
        principal: Principal::Anonymous,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::photos/public/cat.jpg",
        context: &get_ctx,
    };

    let mut put_ctx = base("192.0.2.10");
    put_ctx.insert("s3:x-amz-server-side-encryption", "AES256");
    put_ctx.insert("s3:x-amz-acl", "bucket-owner-full-control");
    put_ctx.insert("s3:x-amz-storage-class", "STANDARD");
    put_ctx.insert("s3:x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    let put = Request {
        account: "000000000000",
        principal: Principal::User {
            name: "alice",
            canonical_id: "a1b2",
            user_id: "AIDAALICE",
        },
        action: "s3:PutObject",
        resource: "arn:aws:s3:::photos/home/alice/2026/trip.jpg",
        context: &put_ctx,
    };
    // Both are allowed, after every Deny statement was checked (and found not to apply).
    assert_eq!(policy.evaluate(&get), ferrite_policy::Outcome::Allow);
    assert_eq!(policy.evaluate(&put), ferrite_policy::Outcome::Allow);

    c.bench_function("evaluate 20-statement policy: GET", |b| {
        b.iter(|| black_box(&policy).evaluate(black_box(&get)))
    });
    c.bench_function("evaluate 20-statement policy: PUT", |b| {
        b.iter(|| black_box(&policy).evaluate(black_box(&put)))
    });
    c.bench_function("parse 20-statement policy", |b| {
        b.iter(|| parse(black_box(&doc), Scope::Bucket("photos")).expect("valid"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

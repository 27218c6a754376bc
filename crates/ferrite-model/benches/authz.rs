//! The authorizer's cost per decision: `cargo bench -p ferrite-model --bench authz`.
//! It runs on every request, so it must stay far below a request's own cost (a 4 KiB
//! GET is tens of microseconds end to end).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use ferrite_model::authz::{Action, BucketFacts, BucketPolicy, ObjectFacts, Resource, authorize};
use ferrite_model::{Caller, Grant, Grantee, Group, Permission, Principal, PublicAccessBlock, RequestContext};
use ferrite_policy::{Context, Policy, Scope};

fn user(id: &str) -> Caller {
    Caller::new(Principal::User {
        canonical_id: id.to_string(),
        display_name: "u".into(),
        access_key_id: "AK".into(),
        user_id: "AIDA".into(),
    })
}

fn bench(c: &mut Criterion) {
    let owner = "a".repeat(64);
    let reader = "b".repeat(64);
    // A long ACL: the decision scans it, and the grant that matches is the last one.
    let mut acl: Vec<Grant> = (0..99)
        .map(|i| Grant {
            grantee: Grantee::User(format!("{i:064x}")),
            permission: Permission::Read,
        })
        .collect();
    acl.push(Grant {
        grantee: Grantee::User(reader.clone()),
        permission: Permission::Read,
    });
    let public = [Grant {
        grantee: Grantee::Group(Group::AllUsers),
        permission: Permission::Read,
    }];
    let default_bucket = BucketFacts {
        name: "b",
        owner: &owner,
        acl: None,
        ownership: None,
        policy: None,
        block: PublicAccessBlock::default(),
    };
    let owned = Resource {
        key: None,
        bucket: Some(default_bucket),
        object: Some(ObjectFacts {
            owner: &owner,
            acl: None,
            tags: &[],
        }),
    };
    let long = Resource {
        key: None,
        bucket: Some(default_bucket),
        object: Some(ObjectFacts {
            owner: &owner,
            acl: Some(&acl),
            tags: &[],
        }),
    };
    let open = Resource {
        key: None,
        bucket: Some(default_bucket),
        object: Some(ObjectFacts {
            owner: &owner,
            acl: Some(&public),
            tags: &[],
        }),
    };
    let (owner_caller, reader_caller, anon) = (user(&owner), user(&reader), Caller::anonymous());
    let mut g = c.benchmark_group("authorize");
    g.bench_function("owner_get_default_acl", |b| {
        b.iter(|| authorize(black_box(&owner_caller), Action::GetObject, black_box(&owned)))
    });
    g.bench_function("user_put_default_bucket_acl", |b| {
        b.iter(|| authorize(black_box(&owner_caller), Action::PutObject, black_box(&owned)))
    });
    g.bench_function("grantee_get_100_grant_acl", |b| {
        b.iter(|| authorize(black_box(&reader_caller), Action::GetObject, black_box(&long)))
    });
    g.bench_function("anonymous_get_public_read", |b| {
        b.iter(|| authorize(black_box(&anon), Action::GetObject, black_box(&open)))
    });
    policies(&mut g);
    g.finish();
}

/// The `bench/run.sh` policy workloads' setup, decided in process: a user with 5
/// managed policies (4 statements each, `${aws:username}` variables, IpAddress
/// conditions, a Deny) reading and writing in a bucket another principal owns, whose
/// 20-statement policy grants it access in its last statement. The request's condition
/// keys are built lazily, as the server builds them.
fn policies(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let root = "r".repeat(64);
    let identity: Vec<Arc<Policy>> = (1..=5)
        .map(|i| {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[
 {{"Sid":"Home{i}","Effect":"Allow","Action":["s3:ListBucket"],"Resource":"arn:aws:s3:::home-{i}","Condition":{{"StringLike":{{"s3:prefix":["${{aws:username}}/*"]}}}}}},
 {{"Sid":"Objects{i}","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::home-{i}/${{aws:username}}/*"}},
 {{"Sid":"NoDelete{i}","Effect":"Deny","Action":["s3:DeleteBucket","s3:PutBucketPolicy"],"Resource":"*"}},
 {{"Sid":"Office{i}","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::reports-{i}/*","Condition":{{"IpAddress":{{"aws:SourceIp":["10.{i}.0.0/16","2001:db8:{i}::/48"]}}}}}}]}}"#
            );
            Arc::new(ferrite_policy::parse(&doc, Scope::Identity).unwrap())
        })
        .collect();
    let b = "arn:aws:s3:::ferrite-bench-policy";
    let mut statements: Vec<String> = (0..19)
        .map(|i| match i % 3 {
            0 => format!(
                r#"{{"Sid":"Public{i}","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{b}/public-{i}/*","Condition":{{"StringLike":{{"aws:Referer":["https://site-{i}.example/*"]}}}}}}"#
            ),
            1 => format!(
                r#"{{"Sid":"Protect{i}","Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:PutObjectAcl"],"Resource":"{b}/locked-{i}/*"}}"#
            ),
            _ => format!(
                r#"{{"Sid":"Partner{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/partner-{i}"}},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["{b}","{b}/partner-{i}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}},"NumericLessThanEquals":{{"s3:max-keys":"1000"}}}}}}"#
            ),
        })
        .collect();
    statements.push(format!(
        r#"{{"Sid":"BenchUser","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/policyuser"}},"Action":["s3:GetObject","s3:PutObject"],"Resource":"{b}/*"}}"#
    ));
    let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
    let parsed = ferrite_policy::parse(&doc, Scope::Bucket("ferrite-bench-policy")).unwrap();
    let bucket_policy = BucketPolicy {
        public: parsed.is_public(),
        policy: Some(parsed),
    };
    let user_id = "p".repeat(64);
    let facts = BucketFacts {
        name: "ferrite-bench-policy",
        owner: &root,
        acl: None,
        ownership: None,
        policy: Some(&bucket_policy),
        block: PublicAccessBlock::default(),
    };
    let get = Resource {
        key: Some("obj-000123"),
        bucket: Some(facts),
        object: Some(ObjectFacts {
            owner: &user_id,
            acl: None,
            tags: &[],
        }),
    };
    let put = Resource {
        key: Some("obj-000123"),
        bucket: Some(facts),
        object: None,
    };
    // A new caller per decision, as per request: the lazy keys start unbuilt.
    let caller = || {
        let mut c = Caller::new(Principal::User {
            canonical_id: user_id.clone(),
            display_name: "policyuser".into(),
            access_key_id: "AK".into(),
            user_id: "AIDAPOLICYUSER".into(),
        });
        c.policies = Arc::from(identity.clone());
        c.context = Arc::new(RequestContext::lazy(|| {
            let mut cx = Context::new();
            cx.insert("aws:SourceIp", "127.0.0.1");
            cx.insert("aws:SecureTransport", "false");
            cx.insert("aws:CurrentTime", "2026-12-02T10:00:00Z");
            cx.insert("aws:EpochTime", "1796205600");
            cx.insert("aws:UserAgent", "aws-sdk-rust/1.3 os/linux lang/rust/1.95");
            cx.insert("s3:x-amz-content-sha256", "UNSIGNED-PAYLOAD");
            cx.insert("s3:signatureversion", "AWS4-HMAC-SHA256");
            cx.insert("s3:authType", "REST-HEADER");
            cx.insert("s3:signatureAge", "3");
            cx
        }));
        c
    };
    g.bench_function("policy_user_get_5_policies_20_statement_bucket", |bch| {
        bch.iter_batched(
            caller,
            |c| authorize(black_box(&c), Action::GetObject, black_box(&get)),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("policy_user_put_5_policies_20_statement_bucket", |bch| {
        bch.iter_batched(
            caller,
            |c| authorize(black_box(&c), Action::PutObject, black_box(&put)),
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

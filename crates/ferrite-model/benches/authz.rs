//! The authorizer's cost per decision: `cargo bench -p ferrite-model --bench authz`.
//! It runs on every request, so it must stay far below a request's own cost (a 4 KiB
//! GET is tens of microseconds end to end).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrite_model::authz::{Action, BucketFacts, ObjectFacts, Resource, authorize};
use ferrite_model::{Caller, Grant, Grantee, Group, Permission, Principal, PublicAccessBlock};

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
        }),
    };
    let long = Resource {
        key: None,
        bucket: Some(default_bucket),
        object: Some(ObjectFacts {
            owner: &owner,
            acl: Some(&acl),
        }),
    };
    let open = Resource {
        key: None,
        bucket: Some(default_bucket),
        object: Some(ObjectFacts {
            owner: &owner,
            acl: Some(&public),
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The metadata store at 1M keys: durable single-row commits, point reads and
//! 1,000-row range scans, for each engine built (redb; SQLite with `--features sqlite`).
//! `cargo bench -p ferrite-store --bench meta [--features sqlite]`.
//!
//! Keys look like the object index's (bucket id, then `dir-NN/object-NNNNNNN`) and
//! values are 200 bytes, about an object record's size.

use std::hint::black_box;
use std::ops::Bound;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrite_store::{MetaStore, RedbMetaStore, Table};

/// A table shaped like the object model's current-object table.
const OBJECTS: Table = Table::new("objects");
use rand::{Rng, SeedableRng};

const KEYS: u64 = 1_000_000;
const LOAD_BATCH: u64 = 20_000;
const VALUE: [u8; 200] = [0x5a; 200];
const SCAN: usize = 1000;

fn key(i: u64) -> Vec<u8> {
    let mut k = 7u64.to_be_bytes().to_vec();
    k.extend_from_slice(format!("dir-{:02}/object-{i:07}", i % 100).as_bytes());
    k
}

fn load(store: &dyn MetaStore) {
    for start in (0..KEYS).step_by(LOAD_BATCH as usize) {
        let mut w = store.begin_write().unwrap();
        for i in start..start + LOAD_BATCH {
            w.put(OBJECTS, &key(i), &VALUE).unwrap();
        }
        w.commit().unwrap();
    }
}

fn bench_engine(c: &mut Criterion, name: &str, open: &dyn Fn(&Path, bool) -> Box<dyn MetaStore>) {
    let dir = tempfile::tempdir().unwrap();
    // Load without fsync (it is setup), then reopen durable for the measured commits.
    load(&*open(dir.path(), false));
    let store = open(dir.path(), true);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut g = c.benchmark_group(format!("meta_{name}_1M"));

    let mut next = KEYS;
    g.bench_function("put_commit_fsync", |b| {
        b.iter(|| {
            let mut w = store.begin_write().unwrap();
            w.put(OBJECTS, &key(next), &VALUE).unwrap();
            w.commit().unwrap();
            next += 1;
        })
    });
    g.bench_function("put_100_per_commit_fsync", |b| {
        b.iter(|| {
            let mut w = store.begin_write().unwrap();
            for _ in 0..100 {
                w.put(OBJECTS, &key(next), &VALUE).unwrap();
                next += 1;
            }
            w.commit().unwrap();
        })
    });
    g.bench_function("get_random", |b| {
        b.iter(|| {
            let r = store.begin_read().unwrap();
            let v = r.get(OBJECTS, &key(rng.random_range(0..KEYS))).unwrap();
            assert!(v.is_some());
            black_box(v)
        })
    });
    g.throughput(Throughput::Elements(SCAN as u64));
    g.bench_function("scan_1000_from_random_key", |b| {
        b.iter(|| {
            let r = store.begin_read().unwrap();
            let from = key(rng.random_range(0..KEYS - 2 * SCAN as u64));
            let mut n = 0usize;
            r.scan(OBJECTS, Bound::Included(&from), Bound::Unbounded, &mut |k, v| {
                black_box((k, v));
                n += 1;
                n < SCAN
            })
            .unwrap();
            assert_eq!(n, SCAN);
        })
    });
    g.finish();
}

fn engines(c: &mut Criterion) {
    bench_engine(c, "redb", &|dir, durable| {
        Box::new(RedbMetaStore::open(&dir.join("meta.redb"), durable).unwrap())
    });
    #[cfg(feature = "sqlite")]
    bench_engine(c, "sqlite", &|dir, durable| {
        Box::new(ferrite_store::SqliteMetaStore::open(&dir.join("meta.sqlite"), durable).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = engines
}
criterion_main!(benches);

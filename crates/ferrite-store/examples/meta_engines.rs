//! Compares metadata engines on Ferrite's access pattern:
//! durable single-record commits (a PUT), point reads each in its own read transaction
//! (a GET or HEAD), and 1000-key range scans in a 1,000,000-key table (a LIST page).
//!
//! `cargo run --release -p ferrite-store --features sqlite --example meta_engines`

use std::ops::Bound;
use std::path::Path;
use std::time::Instant;

use ferrite_store::{MetaStore, RedbMetaStore, SqliteMetaStore, Table};

/// A table shaped like the object model's current-object table.
const OBJECTS: Table = Table::new("objects");

const KEYS: u64 = 1_000_000;
const VALUE: [u8; 300] = [7u8; 300]; // about the size of an encoded object record

fn key(i: u64) -> Vec<u8> {
    let mut k = 1u64.to_be_bytes().to_vec();
    k.extend_from_slice(format!("dir{:03}/obj{:08}", i % 1000, i).as_bytes());
    k
}

fn rng(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

fn bench(name: &str, durable: &dyn MetaStore, bulk: &dyn MetaStore) {
    // Durable single-record commits.
    let mut lat = Vec::new();
    let t = Instant::now();
    for i in 0..300u64 {
        let s = Instant::now();
        let mut w = durable.begin_write().unwrap();
        w.put(OBJECTS, &key(i), &VALUE).unwrap();
        w.commit().unwrap();
        lat.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let rate = 300.0 / t.elapsed().as_secs_f64();
    let (p50, p99) = median(lat);
    println!("{name:7} durable commit: {rate:8.0} commits/s  p50 {p50:.2} ms  p99 {p99:.2} ms");

    // Bulk fill (not durable), 10,000 records per transaction.
    let t = Instant::now();
    for batch in 0..KEYS / 10_000 {
        let mut w = bulk.begin_write().unwrap();
        for i in batch * 10_000..(batch + 1) * 10_000 {
            w.put(OBJECTS, &key(i), &VALUE).unwrap();
        }
        w.commit().unwrap();
    }
    println!("{name:7} fill {KEYS} keys: {:.1} s", t.elapsed().as_secs_f64());

    // Point reads, one read transaction each.
    let mut seed = 42;
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        let r = bulk.begin_read().unwrap();
        assert!(r.get(OBJECTS, &key(rng(&mut seed) % KEYS)).unwrap().is_some());
    }
    println!(
        "{name:7} point read: {:8.0} reads/s",
        n as f64 / t.elapsed().as_secs_f64()
    );

    // 1000-key range scans from random positions.
    let mut lat = Vec::new();
    for _ in 0..200 {
        let start = key(rng(&mut seed) % KEYS);
        let s = Instant::now();
        let r = bulk.begin_read().unwrap();
        let mut n = 0;
        r.scan(OBJECTS, Bound::Included(&start), Bound::Unbounded, &mut |_, _| {
            n += 1;
            n < 1000
        })
        .unwrap();
        lat.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = median(lat);
    println!("{name:7} scan 1000 of {KEYS}: p50 {p50:.2} ms  p99 {p99:.2} ms");
}

fn main() {
    let dir = tempfile::tempdir_in(std::env::args().nth(1).unwrap_or_else(|| ".".into())).unwrap();
    let d: &Path = dir.path();
    let redb_durable = RedbMetaStore::open(&d.join("durable.redb"), true).unwrap();
    let redb_bulk = RedbMetaStore::open(&d.join("bulk.redb"), false).unwrap();
    bench("redb", &redb_durable, &redb_bulk);
    let sqlite_durable = SqliteMetaStore::open(&d.join("durable.sqlite"), true).unwrap();
    let sqlite_bulk = SqliteMetaStore::open(&d.join("bulk.sqlite"), false).unwrap();
    bench("sqlite", &sqlite_durable, &sqlite_bulk);
}

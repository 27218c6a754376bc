//! The blob store's write path: write a blob in 1 MiB chunks, fsync it, rename it into
//! place and fsync the directory (what a PUT waits for), at several sizes; and the
//! same without fsync, to show what durability costs. `cargo bench -p ferrite-store --bench blob`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrite_store::{BlobStore, FsBlobStore};

const CHUNK: usize = 1 << 20;

fn write_blob(store: &FsBlobStore, data: &[u8]) {
    let mut w = store.create().unwrap();
    for chunk in data.chunks(CHUNK) {
        w.write(chunk).unwrap();
    }
    let id = w.finish().unwrap();
    store.delete(id).unwrap();
}

fn blobs(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for (durable, label) in [(true, "fsync"), (false, "no_fsync")] {
        let store = FsBlobStore::open(dir.path(), durable).unwrap();
        let mut g = c.benchmark_group(format!("blob_write_{label}"));
        for size in [4usize << 10, 1 << 20, 16 << 20] {
            let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_with_input(
                BenchmarkId::from_parameter(format!("{}KiB", size >> 10)),
                &data,
                |b, data| b.iter(|| write_blob(&store, data)),
            );
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = blobs
}
criterion_main!(benches);

//! The PUT path's hashing: MD5 (the ETag) alone and with each extra checksum, fed in
//! the 64 KiB chunks a request body arrives in. `cargo bench -p ferrite-model`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrite_model::{BodyHasher, ChecksumAlgorithm};

const BODY: usize = 4 << 20;
const CHUNK: usize = 64 << 10;

fn hashing(c: &mut Criterion) {
    let body: Vec<u8> = (0..BODY).map(|i| (i * 31 % 251) as u8).collect();
    let mut g = c.benchmark_group("body_hasher_4MiB");
    g.throughput(Throughput::Bytes(BODY as u64));
    let cases = std::iter::once(None).chain(ChecksumAlgorithm::ALL.into_iter().map(Some));
    for extra in cases {
        let name = extra.map_or("md5".to_string(), |a| format!("md5+{}", a.name()));
        g.bench_with_input(BenchmarkId::from_parameter(name), &extra, |b, &extra| {
            b.iter(|| {
                let mut h = BodyHasher::new(extra);
                for chunk in body.chunks(CHUNK) {
                    h.update(chunk);
                }
                h.finish()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = hashing
}
criterion_main!(benches);

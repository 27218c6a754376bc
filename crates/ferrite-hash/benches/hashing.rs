//! The PUT path's hashing: MD5 (the ETag) alone and with each extra checksum, fed in
//! the 64 KiB chunks a request body arrives in; and the MD5 lane kernels that hash
//! concurrent uploads side by side. `cargo bench -p ferrite-hash --bench hashing`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrite_hash::md5_lanes::{Kernel, LANES, compress_lanes, compress_scalar};
use ferrite_hash::{BodyHasher, ChecksumAlgorithm};

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

/// The MD5 kernels behind concurrent uploads: one message with the scalar kernel,
/// and eight side by side with the lane kernels this CPU has (all eight busy, and four
/// busy as in the 64 MiB PUT benchmark, where the idle lanes' work is thrown away).
/// Throughput counts only the busy lanes' bytes.
fn md5_lanes(c: &mut Criterion) {
    let bodies: Vec<Vec<u8>> = (0..LANES)
        .map(|l| (0..BODY).map(|i| ((i * 31 + l * 7) % 251) as u8).collect())
        .collect();
    let blocks = BODY / 64;
    // Every lane kernel this CPU has (an AVX-512 machine also shows what AVX2-only
    // machines run).
    let kernels: Vec<Kernel> = Kernel::available().into_iter().filter(|k| !k.is_scalar()).collect();
    let mut g = c.benchmark_group("md5_4MiB_per_message");
    g.throughput(Throughput::Bytes(BODY as u64));
    g.bench_function("scalar_1", |b| {
        b.iter(|| {
            let mut state = [0u32; 4];
            compress_scalar(&mut state, &bodies[0]);
            state
        })
    });
    for (kernel, busy) in kernels.into_iter().flat_map(|k| [(k, 4), (k, LANES)]) {
        g.throughput(Throughput::Bytes((busy * BODY) as u64));
        g.bench_function(format!("{}_{busy}", kernel.name()), |b| {
            b.iter(|| {
                let mut states = [[0u32; 4]; LANES];
                let lanes: [&[u8]; LANES] = std::array::from_fn(|l| &bodies[l % busy][..]);
                compress_lanes(kernel, &mut states, lanes, blocks);
                states
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = hashing, md5_lanes
}
criterion_main!(benches);

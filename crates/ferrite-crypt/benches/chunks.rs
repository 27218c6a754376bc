//! The chunk cipher's throughput on one core: sealing a body as PUT does (pieces of
//! 1 MiB), opening it as GET does (8 chunks per read).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrite_crypt::chunk::{SEALED_CHUNK, SealedSpan, sealed_len};
use ferrite_crypt::{ChunkCipher, Key, NoncePrefix};

const BODY: usize = 8 << 20;

fn cipher() -> ChunkCipher {
    ChunkCipher::new(
        &Key::from_slice(&[3; 32]).unwrap(),
        NoncePrefix([5; 8]),
        b"bench-bucket/bench-key/version",
    )
}

fn bench(c: &mut Criterion) {
    let data = vec![0x5au8; BODY];
    let mut group = c.benchmark_group("chunks");
    group.throughput(Throughput::Bytes(BODY as u64));
    let mut out = Vec::with_capacity(sealed_len(BODY as u64) as usize);
    group.bench_function("seal 8 MiB in 1 MiB pieces", |b| {
        b.iter(|| {
            out.clear();
            let mut sealer = cipher().sealer();
            for piece in data.chunks(1 << 20) {
                sealer.update(piece, &mut out).unwrap();
            }
            sealer.finish(&mut out).unwrap();
        })
    });
    let stored = out.clone();
    let span = SealedSpan::new(BODY as u64, 0, BODY as u64);
    let mut buf = vec![0u8; 8 * SEALED_CHUNK];
    group.bench_function("open 8 MiB in reads of 8 chunks", |b| {
        b.iter(|| {
            let mut opener = span.opener(cipher());
            for piece in stored.chunks(8 * SEALED_CHUNK) {
                buf[..piece.len()].copy_from_slice(piece);
                opener.open(&mut buf[..piece.len()]).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

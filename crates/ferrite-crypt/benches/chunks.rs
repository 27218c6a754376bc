//! The chunk cipher's throughput on one core: sealing a body as PUT does (pieces of
//! 1 MiB), opening it in place and as GET does (8 chunks per read, ciphertexts and
//! tags laid apart by the read).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrite_crypt::chunk::{SEALED_CHUNK, SealedSpan, scattered_len, sealed_len};
use ferrite_crypt::{ChunkCipher, Key, NoncePrefix, SealBuf, TAG};

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
    let mut out = SealBuf::new();
    out.reserve(sealed_len(BODY as u64) as usize);
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
    // Sealed here, not by the bench above, so that a filter that runs only the
    // opening bench still opens a whole body.
    let mut stored = SealBuf::new();
    let mut sealer = cipher().sealer();
    sealer.update(&data, &mut stored).unwrap();
    sealer.finish(&mut stored).unwrap();
    let stored = stored.into_vec();
    let span = SealedSpan::new(BODY as u64, 0, BODY as u64);
    let mut buf = vec![0u8; 8 * SEALED_CHUNK];
    group.bench_function("open 8 MiB in reads of 8 chunks", |b| {
        b.iter(|| {
            let mut opener = span.opener(cipher());
            let mut opened = 0;
            for piece in stored.chunks(8 * SEALED_CHUNK) {
                buf[..piece.len()].copy_from_slice(piece);
                opened += opener.open(&mut buf[..piece.len()]).unwrap();
            }
            assert_eq!(opened, BODY);
        })
    });
    // What GET does: each read laid out by a vectored read (ciphertexts side by
    // side, tags apart; copied here as the kernel would), then opened in place.
    let mut texts = vec![0u8; scattered_len(8 * SEALED_CHUNK)];
    let mut tags = vec![0u8; 8 * TAG];
    group.bench_function("open 8 MiB in scattered reads of 8 chunks", |b| {
        b.iter(|| {
            let mut opener = span.opener(cipher());
            let mut opened = 0;
            for piece in stored.chunks(8 * SEALED_CHUNK) {
                let len = scattered_len(piece.len());
                let mut at = 0;
                for slice in opener
                    .scatter(piece.len(), &mut texts[..len], &mut tags)
                    .unwrap()
                    .iter_mut()
                {
                    let n = slice.len();
                    slice.copy_from_slice(&piece[at..at + n]);
                    at += n;
                }
                let chunks = piece.len().div_ceil(SEALED_CHUNK);
                opened += opener
                    .open_scattered(&mut texts[..len], &tags[..chunks * TAG])
                    .unwrap()
                    .len();
            }
            assert_eq!(opened, BODY);
        })
    });
    group.finish();

    // What a small encrypted GET adds: opening the sealed data key under the master
    // key, then the object's one chunk.
    let master = Key::from_slice(&[9; 32]).unwrap();
    let data_key = Key::from_slice(&[4; 32]).unwrap();
    let sealed_key = ferrite_crypt::seal::seal_key(&master, &data_key, b"context").unwrap();
    let small = vec![0x33u8; 4096];
    let mut sealed_small = SealBuf::new();
    let mut sealer = cipher().sealer();
    sealer.update(&small, &mut sealed_small).unwrap();
    sealer.finish(&mut sealed_small).unwrap();
    let sealed_small = sealed_small.into_vec();
    c.bench_function("open a 4 KiB object (data key, then its chunk)", |b| {
        b.iter(|| {
            let key = ferrite_crypt::seal::open_key(&master, &sealed_key, b"context").unwrap();
            let c = ChunkCipher::new(&key, NoncePrefix([5; 8]), b"bench-bucket/bench-key/version");
            let span = SealedSpan::new(4096, 0, 4096);
            let mut buf = sealed_small.clone();
            span.opener(c).open(&mut buf).unwrap_or(0)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

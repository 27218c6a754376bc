//! Property tests (fuzzing with arbitrary inputs; coverage-guided fuzzing needs a
//! nightly toolchain, which this project does not use): the model's parsers of
//! client-supplied values never panic, and staging gives the same bytes and digests
//! however a body is cut into chunks. `PROPTEST_CASES` sets the number of cases (256
//! by default, as in CI).

mod common;

use bytes::Bytes;
use common::{options, root};
use ferrite_model::{
    ByteRange, ChecksumAlgorithm, ChecksumValue, Expected, Ferrite, PutAttrs, ReadConditions, Slice,
    validate_bucket_name, validate_key,
};
use futures::StreamExt;
use proptest::prelude::*;

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

proptest! {
    #[test]
    fn client_values_never_panic(s in "\\PC{0,80}", raw in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = validate_key(&s);
        let _ = validate_bucket_name(&s);
        let _ = Expected::parse_content_md5(&s);
        for algo in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
        ] {
            let _ = ChecksumValue::parse(algo, &s);
        }
        let lossy = String::from_utf8_lossy(&raw);
        let _ = validate_key(&lossy);
    }

    /// Any byte range on any size: a resolved range lies inside the object.
    #[test]
    fn ranges_resolve_inside_the_object(first in any::<u64>(), last in proptest::option::of(any::<u64>()),
                                        len in any::<u64>(), size in prop_oneof![Just(0u64), 1u64..10_000, any::<u64>()],
                                        suffix in any::<bool>()) {
        let r = if suffix { ByteRange::Suffix { len } } else { ByteRange::From { first, last } };
        if let Ok(got) = r.resolve(size) {
            prop_assert!(got.start < got.end && got.end <= size, "{r:?} on {size}: {got:?}");
        }
    }
}

fn stage_case() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (0usize..300_000).prop_flat_map(|len| {
        (
            proptest::collection::vec(any::<u8>(), len..=len),
            proptest::collection::vec(prop_oneof![1usize..8, 1usize..5000, 4000usize..200_000], 1..64),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24), ..ProptestConfig::default() })]

    /// However a body is chunked (1-byte chunks, mixed, large), the stored object
    /// is the same bytes with the same ETag, and every range of it reads right.
    #[test]
    fn staging_is_independent_of_chunking((data, cuts) in stage_case(), at in any::<u64>()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let m = Ferrite::open_local(dir.path(), options()).await.unwrap();
            m.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
            let mut chunks = Vec::new();
            let (mut pos, mut i) = (0, 0);
            while pos < data.len() {
                let n = cuts[i % cuts.len()].min(data.len() - pos);
                chunks.push(Ok(Bytes::copy_from_slice(&data[pos..pos + n])));
                pos += n;
                i += 1;
            }
            let staged = m.stage(futures::stream::iter(chunks), Some(ChecksumAlgorithm::Crc32c), u64::MAX).await.unwrap();
            assert_eq!(staged.len(), data.len() as u64);
            assert_eq!(staged.etag(), md5_hex(&data));
            m.put_staged(&root(), "bkt", "k", staged, PutAttrs::default()).await.unwrap();
            let read = |slice| {
                let m = m.clone();
                async move {
                    let (_, body) = m.get_object(&root(), "bkt", "k", None, slice, &ReadConditions::default()).await.unwrap();
                    let mut out = Vec::new();
                    let mut s = body.into_stream();
                    while let Some(c) = s.next().await {
                        out.extend_from_slice(&c.unwrap());
                    }
                    out
                }
            };
            assert_eq!(read(None).await, data);
            if !data.is_empty() {
                let first = at % data.len() as u64;
                let last = first + (at >> 20) % 70_000;
                let got = read(Some(Slice::Range(ByteRange::From { first, last: Some(last) }))).await;
                let end = (last as usize + 1).min(data.len());
                assert_eq!(got, &data[first as usize..end]);
            }
        });
    }
}

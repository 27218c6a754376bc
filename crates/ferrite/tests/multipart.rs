//! Multipart upload through the real binary with `aws-sdk-s3`: every operation and
//! error of the multipart issue, checksums, copies, retries, and a 1 GiB upload.

mod common;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;

const MIB: usize = 1 << 20;

async fn bucket(c: &Client, name: &str) {
    c.create_bucket().bucket(name).send().await.unwrap();
}

async fn create(c: &Client, b: &str, k: &str) -> String {
    c.create_multipart_upload()
        .bucket(b)
        .key(k)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string()
}

async fn upload(c: &Client, b: &str, k: &str, id: &str, n: i32, data: &[u8]) -> CompletedPart {
    let out = c
        .upload_part()
        .bucket(b)
        .key(k)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.e_tag().unwrap().trim_matches('"'),
        md5_hex(data),
        "a part's ETag is its MD5"
    );
    CompletedPart::builder()
        .part_number(n)
        .e_tag(out.e_tag().unwrap())
        .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
        .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_string))
        .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_string))
        .set_checksum_sha1(out.checksum_sha1().map(str::to_string))
        .set_checksum_sha256(out.checksum_sha256().map(str::to_string))
        .build()
}

fn parts(list: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder().set_parts(Some(list)).build()
}

/// The multipart ETag: MD5 of the concatenated binary part MD5s, then `-N`.
fn multipart_etag(part_bodies: &[&[u8]]) -> String {
    use md5::Digest;
    let mut h = md5::Md5::new();
    for p in part_bodies {
        h.update(md5::Md5::digest(p));
    }
    format!("{}-{}", hex_encode(&h.finalize()), part_bodies.len())
}

async fn get_range(c: &Client, b: &str, k: &str, range: &str) -> Vec<u8> {
    read_all(c.get_object().bucket(b).key(k).range(range).send().await.unwrap()).await
}

#[tokio::test]
async fn upload_complete_and_read_back() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    c.put_object()
        .bucket("bkt")
        .key("obj")
        .body(ByteStream::from_static(b"previous"))
        .send()
        .await
        .unwrap();
    let p1 = pattern(5 * MIB, 1);
    let p2 = pattern(5 * MIB + 17, 2);
    let p3 = pattern(1000, 3);
    let out = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("obj")
        .content_type("application/x-test")
        .metadata("colour", "blue")
        .storage_class(aws_sdk_s3::types::StorageClass::StandardIa)
        .send()
        .await
        .unwrap();
    let id = out.upload_id().unwrap().to_string();
    // Parts upload concurrently, out of order.
    let (c3, c1, c2) = (c.clone(), c.clone(), c.clone());
    let (id3, id1, id2) = (id.clone(), id.clone(), id.clone());
    let (b3, b1, b2) = (p3.clone(), p1.clone(), p2.clone());
    let t3 = tokio::spawn(async move { upload(&c3, "bkt", "obj", &id3, 3, &b3).await });
    let t1 = tokio::spawn(async move { upload(&c1, "bkt", "obj", &id1, 1, &b1).await });
    let t2 = tokio::spawn(async move { upload(&c2, "bkt", "obj", &id2, 2, &b2).await });
    let (cp1, cp2, cp3) = (t1.await.unwrap(), t2.await.unwrap(), t3.await.unwrap());

    // Until Complete, readers see the previous object.
    assert_eq!(
        read_all(c.get_object().bucket("bkt").key("obj").send().await.unwrap()).await,
        b"previous"
    );
    let done = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("obj")
        .upload_id(&id)
        .multipart_upload(parts(vec![cp1, cp2, cp3]))
        .send()
        .await
        .unwrap();
    let want_etag = multipart_etag(&[&p1, &p2, &p3]);
    assert_eq!(done.e_tag().unwrap().trim_matches('"'), want_etag);
    assert_eq!(done.key(), Some("obj"));

    let whole = [p1.clone(), p2.clone(), p3.clone()].concat();
    let got = c.get_object().bucket("bkt").key("obj").send().await.unwrap();
    assert_eq!(got.e_tag().unwrap().trim_matches('"'), want_etag);
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(got.metadata().unwrap().get("colour").map(String::as_str), Some("blue"));
    assert_eq!(got.storage_class().map(|s| s.as_str()), Some("STANDARD_IA"));
    assert_eq!(got.content_length(), Some(whole.len() as i64));
    assert_eq!(md5_hex(&read_all(got).await), md5_hex(&whole));

    // Ranges across part boundaries.
    let boundary = 5 * MIB;
    let r = get_range(&c, "bkt", "obj", &format!("bytes={}-{}", boundary - 10, boundary + 9)).await;
    assert_eq!(r, whole[boundary - 10..boundary + 10]);
    let r = get_range(&c, "bkt", "obj", &format!("bytes={}-", 2 * boundary + 10)).await;
    assert_eq!(r, whole[2 * boundary + 10..]);
    let r = get_range(&c, "bkt", "obj", "bytes=-1500").await;
    assert_eq!(r, whole[whole.len() - 1500..]);

    // partNumber: that part, 206, with the part count.
    let got = c
        .get_object()
        .bucket("bkt")
        .key("obj")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), Some(3));
    assert_eq!(
        got.content_range(),
        Some(format!("bytes {}-{}/{}", p1.len(), p1.len() + p2.len() - 1, whole.len()).as_str())
    );
    assert_eq!(read_all(got).await, p2);
    let head = c
        .head_object()
        .bucket("bkt")
        .key("obj")
        .part_number(3)
        .send()
        .await
        .unwrap();
    assert_eq!(head.parts_count(), Some(3));
    assert_eq!(head.content_length(), Some(p3.len() as i64));
    let e = c
        .get_object()
        .bucket("bkt")
        .key("obj")
        .part_number(4)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidPart"));

    // The upload is gone; its parts are the object's segments (no copies on disk).
    let ups = c.list_multipart_uploads().bucket("bkt").send().await.unwrap();
    assert!(ups.uploads().is_empty());
    assert_eq!(s.blob_files(), 3, "the three parts' blobs are the object's data");
}

#[tokio::test]
async fn errors_are_the_ones_aws_documents() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let id = create(&c, "bkt", "k").await;
    let unknown = "0123456789abcdef0123456789abcdef";
    for bad_id in [unknown, "not-an-upload-id"] {
        let e = c
            .upload_part()
            .bucket("bkt")
            .key("k")
            .upload_id(bad_id)
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchUpload"));
    }
    // The upload id belongs to its key.
    let e = c
        .upload_part()
        .bucket("bkt")
        .key("other-key")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
    for n in [0, 10001, -1] {
        let e = c
            .upload_part()
            .bucket("bkt")
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidArgument"), "part {n}");
    }
    let small = upload(&c, "bkt", "k", &id, 1, b"too small to be a middle part").await;
    let last = upload(&c, "bkt", "k", &id, 2, b"last").await;
    let complete = |list: Vec<CompletedPart>| {
        c.complete_multipart_upload()
            .bucket("bkt")
            .key("k")
            .upload_id(&id)
            .multipart_upload(parts(list))
            .send()
    };
    let e = complete(vec![small.clone(), last.clone()]).await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "EntityTooSmall"));
    let e = complete(vec![last.clone(), small.clone()]).await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidPartOrder"));
    let missing = CompletedPart::builder()
        .part_number(7)
        .e_tag(small.e_tag().unwrap())
        .build();
    let e = complete(vec![missing]).await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidPart"));
    let wrong_etag = CompletedPart::builder()
        .part_number(1)
        .e_tag("\"00000000000000000000000000000000\"")
        .build();
    let e = complete(vec![wrong_etag]).await.unwrap_err();
    assert_eq!(code(&e), "InvalidPart");
    let e = complete(vec![]).await.unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "MalformedXML"));
    // Bad checksum headers on a part: BadDigest, and the part is not stored.
    let e = c
        .upload_part()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .part_number(3)
        .content_md5(B64.encode([0u8; 16]))
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "BadDigest"));
    let listed = c
        .list_parts()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 2);

    // The last part alone may be small: a one-part upload of 29 bytes completes.
    let done = complete(vec![small.clone()]).await.unwrap();
    assert_eq!(
        done.e_tag().unwrap().trim_matches('"'),
        multipart_etag(&[b"too small to be a middle part"])
    );
    // Abort of an unknown (here: completed) upload.
    let e = c
        .abort_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (404, "NoSuchUpload"));
    let e = c
        .create_multipart_upload()
        .bucket("nope")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchBucket");
}

#[tokio::test]
async fn parts_replace_list_and_abort_frees_them() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let id = create(&c, "bkt", "k").await;
    for n in 1..=5 {
        upload(&c, "bkt", "k", &id, n, &pattern(1000 + n as usize, n as u64)).await;
    }
    // Re-uploading part 3 replaces it.
    let replaced = upload(&c, "bkt", "k", &id, 3, b"replacement").await;
    let all = c
        .list_parts()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let numbers: Vec<_> = all.parts().iter().filter_map(|p| p.part_number()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert_eq!(all.parts()[2].e_tag(), replaced.e_tag());
    assert_eq!(all.parts()[2].size(), Some(11));
    assert_eq!(all.is_truncated(), Some(false));
    // The collector runs in the background, woken by the commit: wait for it.
    for _ in 0..100 {
        if s.blob_files() == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(s.blob_files(), 5, "the replaced part's blob was freed");

    // Paging with part-number-marker and max-parts.
    let page = c
        .list_parts()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .max_parts(2)
        .part_number_marker("2")
        .send()
        .await
        .unwrap();
    let numbers: Vec<_> = page.parts().iter().filter_map(|p| p.part_number()).collect();
    assert_eq!(numbers, [3, 4]);
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_part_number_marker(), Some("4"));

    c.abort_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.blob_files() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(TICK).await;
    }
    assert_eq!(s.blob_files(), 0, "an aborted upload's parts are deleted");
    let e = c
        .list_parts()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchUpload");
    let e = c.get_object().bucket("bkt").key("k").send().await.unwrap_err();
    assert_eq!(code(&e), "NoSuchKey", "an aborted upload creates nothing");
}

#[tokio::test]
async fn list_multipart_uploads_with_prefixes_and_markers() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let mut ids = Vec::new();
    for key in ["a/1", "a/2", "b", "b", "c"] {
        ids.push((key, create(&c, "bkt", key).await));
    }
    let out = c.list_multipart_uploads().bucket("bkt").send().await.unwrap();
    let listed: Vec<_> = out
        .uploads()
        .iter()
        .map(|u| (u.key().unwrap(), u.upload_id().unwrap().to_string()))
        .collect();
    let want: Vec<_> = ids.iter().map(|(k, id)| (*k, id.clone())).collect();
    assert_eq!(listed, want, "key order, then oldest first");
    assert!(out.uploads()[0].initiated().is_some());

    let out = c
        .list_multipart_uploads()
        .bucket("bkt")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["a/"]);
    assert_eq!(out.uploads().len(), 3);
    let out = c
        .list_multipart_uploads()
        .bucket("bkt")
        .prefix("a/")
        .send()
        .await
        .unwrap();
    assert_eq!(out.uploads().len(), 2);

    // Page one upload at a time through the markers.
    let mut seen = Vec::new();
    let (mut km, mut um) = (None::<String>, None::<String>);
    loop {
        let out = c
            .list_multipart_uploads()
            .bucket("bkt")
            .max_uploads(1)
            .set_key_marker(km.clone())
            .set_upload_id_marker(um.clone())
            .send()
            .await
            .unwrap();
        seen.extend(out.uploads().iter().map(|u| u.upload_id().unwrap().to_string()));
        if out.is_truncated() != Some(true) {
            break;
        }
        km = out.next_key_marker().map(str::to_string);
        um = out.next_upload_id_marker().map(str::to_string);
    }
    assert_eq!(seen, want.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
    // key-marker alone: uploads of later keys only.
    let out = c
        .list_multipart_uploads()
        .bucket("bkt")
        .key_marker("b")
        .send()
        .await
        .unwrap();
    assert_eq!(out.uploads().iter().filter_map(|u| u.key()).collect::<Vec<_>>(), ["c"]);

    // encoding-type=url escapes keys.
    create(&c, "bkt", "z z").await;
    let out = c
        .list_multipart_uploads()
        .bucket("bkt")
        .prefix("z")
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.uploads()[0].key(), Some("z%20z"));
}

#[tokio::test]
async fn retried_complete_and_conditions_and_versions() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let id = create(&c, "bkt", "k").await;
    let p = upload(&c, "bkt", "k", &id, 1, b"only part").await;
    let complete = || {
        c.complete_multipart_upload()
            .bucket("bkt")
            .key("k")
            .upload_id(&id)
            .multipart_upload(parts(vec![p.clone()]))
            .send()
    };
    let first = complete().await.unwrap();
    assert!(first.version_id().is_some(), "a versioned Complete returns its version");
    let again = complete().await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    assert_eq!(
        again.version_id(),
        first.version_id(),
        "a retried Complete answers the same"
    );
    let versions = c.list_object_versions().bucket("bkt").send().await.unwrap();
    assert_eq!(versions.versions().len(), 1, "the retry created nothing");

    // If-None-Match: * on Complete.
    let id2 = create(&c, "bkt", "k").await;
    let p2 = upload(&c, "bkt", "k", &id2, 1, b"second").await;
    let e = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id2)
        .if_none_match("*")
        .multipart_upload(parts(vec![p2.clone()]))
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    // The upload is still there: If-Match with the current ETag succeeds.
    let cur = c.head_object().bucket("bkt").key("k").send().await.unwrap();
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id2)
        .if_match(cur.e_tag().unwrap())
        .multipart_upload(parts(vec![p2]))
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(read_all(got).await, b"second");
}

fn crc32(data: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32
}

/// Checks a multipart object's checksum against one computed here.
async fn checksum_case(c: &Client, algo: ChecksumAlgorithm, kind: Option<ChecksumType>, key: &str) -> (String, String) {
    let mut create = c
        .create_multipart_upload()
        .bucket("bkt")
        .key(key)
        .checksum_algorithm(algo.clone());
    if let Some(k) = &kind {
        create = create.checksum_type(k.clone());
    }
    let id = create.send().await.unwrap().upload_id().unwrap().to_string();
    let bodies = [pattern(5 * MIB, 11), pattern(3000, 12)];
    let mut list = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        let out = c
            .upload_part()
            .bucket("bkt")
            .key(key)
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(algo.clone())
            .body(ByteStream::from(b.clone()))
            .send()
            .await
            .unwrap();
        list.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_string))
                .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_string))
                .set_checksum_sha1(out.checksum_sha1().map(str::to_string))
                .set_checksum_sha256(out.checksum_sha256().map(str::to_string))
                .build(),
        );
    }
    let done = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key(key)
        .upload_id(&id)
        .multipart_upload(parts(list))
        .send()
        .await
        .unwrap();
    let value = [
        done.checksum_crc32(),
        done.checksum_crc32_c(),
        done.checksum_crc64_nvme(),
        done.checksum_sha1(),
        done.checksum_sha256(),
    ]
    .into_iter()
    .flatten()
    .next()
    .expect("Complete answers the object's checksum")
    .to_string();
    let head = c
        .head_object()
        .bucket("bkt")
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    let shown = [
        head.checksum_crc32(),
        head.checksum_crc32_c(),
        head.checksum_crc64_nvme(),
        head.checksum_sha1(),
        head.checksum_sha256(),
    ]
    .into_iter()
    .flatten()
    .next()
    .unwrap()
    .to_string();
    assert_eq!(shown, value, "HEAD shows the checksum Complete computed");
    let kind = head.checksum_type().unwrap().as_str().to_string();
    assert_eq!(done.checksum_type().map(|t| t.as_str()), Some(kind.as_str()));
    // Expected values, computed here from the bodies.
    let whole = [bodies[0].clone(), bodies[1].clone()].concat();
    let expected = match (&algo, kind.as_str()) {
        (ChecksumAlgorithm::Crc32, "FULL_OBJECT") => B64.encode(crc32(&whole).to_be_bytes()),
        (ChecksumAlgorithm::Crc64Nvme, "FULL_OBJECT") => {
            B64.encode(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &whole).to_be_bytes())
        }
        (ChecksumAlgorithm::Crc32, "COMPOSITE") => {
            let raw: Vec<u8> = bodies.iter().flat_map(|b| crc32(b).to_be_bytes()).collect();
            format!("{}-2", B64.encode(crc32(&raw).to_be_bytes()))
        }
        (ChecksumAlgorithm::Sha256, "COMPOSITE") => {
            use sha2::Digest;
            let raw: Vec<u8> = bodies.iter().flat_map(|b| sha2::Sha256::digest(b).to_vec()).collect();
            format!("{}-2", B64.encode(sha2::Sha256::digest(&raw)))
        }
        other => panic!("unexpected case {other:?}"),
    };
    assert_eq!(value, expected, "{algo:?} {kind}");
    (kind, value)
}

#[tokio::test]
async fn composite_and_full_object_checksums() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let (kind, _) = checksum_case(&c, ChecksumAlgorithm::Crc32, None, "crc32-default").await;
    assert_eq!(kind, "COMPOSITE", "CRC32 defaults to composite");
    let (kind, _) = checksum_case(
        &c,
        ChecksumAlgorithm::Crc32,
        Some(ChecksumType::FullObject),
        "crc32-full",
    )
    .await;
    assert_eq!(kind, "FULL_OBJECT");
    let (kind, _) = checksum_case(&c, ChecksumAlgorithm::Crc64Nvme, None, "crc64").await;
    assert_eq!(kind, "FULL_OBJECT", "CRC64NVME is full-object only");
    checksum_case(&c, ChecksumAlgorithm::Sha256, None, "sha256").await;

    // Impossible combinations are refused at create.
    for (algo, kind) in [
        (ChecksumAlgorithm::Sha256, ChecksumType::FullObject),
        (ChecksumAlgorithm::Crc64Nvme, ChecksumType::Composite),
    ] {
        let e = c
            .create_multipart_upload()
            .bucket("bkt")
            .key("bad")
            .checksum_algorithm(algo)
            .checksum_type(kind)
            .send()
            .await
            .unwrap_err();
        assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidRequest"));
    }
    // A part whose checksum does not match its body is refused.
    let id = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let e = c
        .upload_part()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    // A wrong whole-object checksum on Complete is refused, and the upload stays.
    let p = upload(&c, "bkt", "k", &id, 1, b"body").await;
    let e = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .checksum_crc32("AAAAAA==-1")
        .multipart_upload(parts(vec![p.clone()]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "BadDigest");
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .multipart_upload(parts(vec![p]))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn upload_part_copy_with_ranges_and_versions() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    set_versioning(&c, "bkt", BucketVersioningStatus::Enabled).await;
    let src = pattern(12 * MIB, 21);
    let v1 = c
        .put_object()
        .bucket("bkt")
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    // Overwrite the source: copies below read the old version by id.
    c.put_object()
        .bucket("bkt")
        .key("src")
        .body(ByteStream::from_static(b"newer"))
        .send()
        .await
        .unwrap();
    let id = create(&c, "bkt", "dst").await;
    let first = c
        .upload_part_copy()
        .bucket("bkt")
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("bkt/src?versionId={v1}"))
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    assert_eq!(first.copy_source_version_id(), Some(v1.as_str()));
    let r1 = first.copy_part_result().unwrap();
    assert_eq!(r1.e_tag().unwrap().trim_matches('"'), md5_hex(&src[..5 * MIB]));
    let second = c
        .upload_part_copy()
        .bucket("bkt")
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("bkt/src?versionId={v1}"))
        .copy_source_range(format!("bytes={}-{}", 5 * MIB, src.len() - 1))
        .send()
        .await
        .unwrap();
    let third = c
        .upload_part_copy()
        .bucket("bkt")
        .key("dst")
        .upload_id(&id)
        .part_number(3)
        .copy_source("bkt/src")
        .send()
        .await
        .unwrap();
    let cp = |n: i32, e: &str| CompletedPart::builder().part_number(n).e_tag(e).build();
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("dst")
        .upload_id(&id)
        .multipart_upload(parts(vec![
            cp(1, r1.e_tag().unwrap()),
            cp(2, second.copy_part_result().unwrap().e_tag().unwrap()),
            cp(3, third.copy_part_result().unwrap().e_tag().unwrap()),
        ]))
        .send()
        .await
        .unwrap();
    let got = read_all(c.get_object().bucket("bkt").key("dst").send().await.unwrap()).await;
    assert_eq!(got, [src.clone(), b"newer".to_vec()].concat());

    // Copy-source conditions and a range past the end.
    let e = c
        .upload_part_copy()
        .bucket("bkt")
        .key("dst")
        .upload_id(&create(&c, "bkt", "dst").await)
        .part_number(1)
        .copy_source("bkt/src")
        .copy_source_if_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (412, "PreconditionFailed"));
    let e = c
        .upload_part_copy()
        .bucket("bkt")
        .key("dst")
        .upload_id(&create(&c, "bkt", "dst").await)
        .part_number(1)
        .copy_source("bkt/src")
        .copy_source_range("bytes=100-200")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRange");
    let e = c
        .upload_part_copy()
        .bucket("bkt")
        .key("dst")
        .upload_id(&create(&c, "bkt", "dst").await)
        .part_number(1)
        .copy_source("bkt/src")
        .copy_source_range("bytes=0-5")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRange", "a range ending past the source's 5 bytes");
}

/// A 1 GiB object in 16 concurrent 64 MiB parts, read back by MD5, with the server's
/// memory staying small.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_gib_in_sixteen_concurrent_parts() {
    use md5::Digest;
    const PART: usize = 64 * MIB;
    const PARTS: usize = 16;
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let mut whole = md5::Md5::new();
    let mut part_md5s = Vec::new();
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mib = pattern(MIB, 77);
        for p in 0..PARTS {
            let mut h = md5::Md5::new();
            for i in 0..PART / MIB {
                // Vary every MiB cheaply so no two parts are equal.
                let mut chunk = mib.clone();
                chunk[..8].copy_from_slice(&((p * 1000 + i) as u64).to_le_bytes());
                h.update(&chunk);
                whole.update(&chunk);
                f.write_all(&chunk).unwrap();
            }
            part_md5s.push(h.finalize().to_vec());
        }
    }
    let id = create(&c, "bkt", "big").await;
    let mut tasks = Vec::new();
    for p in 0..PARTS {
        let (c, id, path) = (c.clone(), id.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let body = ByteStream::read_from()
                .path(&path)
                .offset((p * PART) as u64)
                .length(aws_sdk_s3::primitives::Length::Exact(PART as u64))
                .build()
                .await
                .unwrap();
            let out = c
                .upload_part()
                .bucket("bkt")
                .key("big")
                .upload_id(&id)
                .part_number(p as i32 + 1)
                .body(body)
                .send()
                .await
                .unwrap();
            CompletedPart::builder()
                .part_number(p as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .build()
        }));
    }
    let mut list = Vec::new();
    for t in tasks {
        list.push(t.await.unwrap());
    }
    for (i, p) in list.iter().enumerate() {
        assert_eq!(p.e_tag().unwrap().trim_matches('"'), hex_encode(&part_md5s[i]));
    }
    let started = std::time::Instant::now();
    let done = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("big")
        .upload_id(&id)
        .multipart_upload(parts(list))
        .send()
        .await
        .unwrap();
    println!("Complete of 1 GiB in {PARTS} parts took {:?}", started.elapsed());
    let mut h = md5::Md5::new();
    for m in &part_md5s {
        h.update(m);
    }
    assert_eq!(
        done.e_tag().unwrap().trim_matches('"'),
        format!("{}-{PARTS}", hex_encode(&h.finalize()))
    );
    let mut got = c.get_object().bucket("bkt").key("big").send().await.unwrap().body;
    let mut h = md5::Md5::new();
    let mut n = 0;
    while let Some(chunk) = got.try_next().await.unwrap() {
        n += chunk.len();
        h.update(&chunk);
    }
    assert_eq!(n, PART * PARTS);
    assert_eq!(hex_encode(&h.finalize()), hex_encode(&whole.finalize()));
    let rss = s.peak_rss();
    println!(
        "server peak RSS through a 1 GiB multipart upload and read: {} MiB",
        rss >> 20
    );
    assert!(rss < 128 << 20, "server memory stays bounded: {} MiB", rss >> 20);
}

/// Concurrent Completes on one key follow PutObject's rules: with versioning each is a
/// version; without, exactly one complete object survives.
#[tokio::test]
async fn concurrent_completes_on_one_key() {
    let s = Server::start();
    let c = s.client();
    for (b, versioned) in [("plain", false), ("versioned", true)] {
        bucket(&c, b).await;
        if versioned {
            set_versioning(&c, b, BucketVersioningStatus::Enabled).await;
        }
        const N: usize = 6;
        let mut ready = Vec::new();
        for i in 0..N {
            let id = create(&c, b, "hot").await;
            let body = pattern(200_000 + i, 500 + i as u64);
            let part = upload(&c, b, "hot", &id, 1, &body).await;
            ready.push((id, part, body));
        }
        let mut tasks = Vec::new();
        for (id, part, body) in ready {
            let (c, b) = (c.clone(), b.to_string());
            tasks.push(tokio::spawn(async move {
                let out = c
                    .complete_multipart_upload()
                    .bucket(&b)
                    .key("hot")
                    .upload_id(&id)
                    .multipart_upload(parts(vec![part]))
                    .send()
                    .await
                    .unwrap();
                (out.version_id().map(str::to_string), body)
            }));
        }
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap());
        }
        let versions = c.list_object_versions().bucket(b).send().await.unwrap();
        let current = read_all(c.get_object().bucket(b).key("hot").send().await.unwrap()).await;
        assert!(
            done.iter().any(|(_, body)| *body == current),
            "{b}: a whole body is current"
        );
        if versioned {
            assert_eq!(versions.versions().len(), N, "{b}: every Complete is a version");
            for (v, body) in &done {
                let got = c
                    .get_object()
                    .bucket(b)
                    .key("hot")
                    .version_id(v.as_deref().unwrap())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(&read_all(got).await, body);
            }
        } else {
            assert_eq!(versions.versions().len(), 1, "{b}: one object survives");
        }
    }
    // Only the surviving objects' data remains: one blob (plain) + N (versioned).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.blob_files() != 7 && std::time::Instant::now() < deadline {
        tokio::time::sleep(TICK).await;
    }
    assert_eq!(s.blob_files(), 7);
}

/// As on AWS, uploads in progress do not keep a bucket alive: deleting it aborts them.
#[tokio::test]
async fn deleting_a_bucket_aborts_its_uploads() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let id = create(&c, "bkt", "k").await;
    upload(&c, "bkt", "k", &id, 1, &pattern(100_000, 1)).await;
    c.put_object()
        .bucket("bkt")
        .key("obj")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let e = c.delete_bucket().bucket("bkt").send().await.unwrap_err();
    assert_eq!(code(&e), "BucketNotEmpty", "objects still keep it");
    c.delete_object().bucket("bkt").key("obj").send().await.unwrap();
    c.delete_bucket().bucket("bkt").send().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.blob_files() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(TICK).await;
    }
    assert_eq!(s.blob_files(), 0, "the aborted upload's part is freed");
    // A new bucket of the same name starts without the old upload.
    bucket(&c, "bkt").await;
    let ups = c.list_multipart_uploads().bucket("bkt").send().await.unwrap();
    assert!(ups.uploads().is_empty());
}

/// Parts are read back by the number they were uploaded as; a part listed twice in
/// Complete counts once, as its last entry; part 1 of a single-part object is all of it.
#[tokio::test]
async fn part_numbers_gaps_duplicates_and_single_part_objects() {
    let s = Server::start();
    let c = s.client();
    bucket(&c, "bkt").await;
    let id = create(&c, "bkt", "gaps").await;
    let p1 = pattern(5 * MIB, 31);
    let p3 = pattern(777, 33);
    let first_try = upload(&c, "bkt", "gaps", &id, 1, b"replaced soon").await;
    let cp1 = upload(&c, "bkt", "gaps", &id, 1, &p1).await;
    let cp3 = upload(&c, "bkt", "gaps", &id, 3, &p3).await;
    // Part 1 listed twice: the stale entry first, the current one last.
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("gaps")
        .upload_id(&id)
        .multipart_upload(parts(vec![first_try, cp1, cp3]))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("bkt")
        .key("gaps")
        .part_number(3)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), Some(2));
    assert_eq!(read_all(got).await, p3);
    let e = c
        .get_object()
        .bucket("bkt")
        .key("gaps")
        .part_number(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), code(&e).as_str()), (400, "InvalidPart"));
    let whole = read_all(c.get_object().bucket("bkt").key("gaps").send().await.unwrap()).await;
    assert_eq!(whole, [p1, p3].concat());

    c.put_object()
        .bucket("bkt")
        .key("single")
        .body(ByteStream::from_static(b"single part"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("bkt")
        .key("single")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), None);
    assert_eq!(read_all(got).await, b"single part");
    let e = c
        .head_object()
        .bucket("bkt")
        .key("single")
        .part_number(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
}

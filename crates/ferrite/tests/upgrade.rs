//! Upgrade compatibility: data dirs written by earlier releases must open unchanged
//! under every later version, with every object byte-exact.
//!
//! `tests/fixtures/format3/` is a pinned data dir written by the release at commit
//! `a36f4c8` (on-disk format 3: the version index and per-bucket usage counters):
//!
//! - `data.tar.gz`: the whole data dir after a clean shutdown (SIGTERM), made with the
//!   system `tar czf`, paths relative to the data dir. The root keys came from the
//!   environment, so it holds no `credentials.json`; the manifest has the keys.
//! - `manifest.json`: everything [`upgrade_opens_format3_fixture`] checks against: the
//!   buckets and their versioning state; every object version and delete marker in
//!   the order ListObjectVersions returned it, with its ETag, size, SHA-256 of the
//!   content, standard headers, user metadata and stored checksum; the current keys;
//!   the in-progress multipart upload with its parts (and the seeds to regenerate
//!   their bytes).
//!
//! It was generated in a worktree of that commit with
//!
//! ```text
//! git -C /work/main worktree add /tmp/fixture-wt a36f4c8
//! cd /tmp/fixture-wt
//! CARGO_TARGET_DIR=/tmp/fixture-target cargo test -p ferrite --test upgrade -- --ignored write_format3_fixture
//! ```
//!
//! which runs [`write_format3_fixture`] (ignored by default: it overwrites the fixture).
//! Never regenerate it with later code: the point is that the bytes were written by the
//! format-3 release. The checker only ever reads an extracted copy, so the committed
//! fixture is never modified.
//!
//! Every later issue that changes a record or the data-dir layout adds its own fixture
//! step here: a `write_formatN_fixture` generator run once at that release (writing
//! `tests/fixtures/formatN/`), and an `upgrade_opens_formatN_fixture` checker, while
//! the older checkers stay and keep passing.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart,
};
use common::*;
use serde::{Deserialize, Serialize};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The format the fixture was written in.
const FORMAT3: u32 = 3;
/// The commit of the release that wrote the fixture.
const FORMAT3_COMMIT: &str = "a36f4c8";
const GENERATE_COMMAND: &str = "cargo test -p ferrite --test upgrade -- --ignored write_format3_fixture";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format3")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    generated_at_commit: String,
    generated_with: String,
    access_key: String,
    secret_key: String,
    buckets: Vec<BucketEntry>,
    uploads: Vec<UploadEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BucketEntry {
    name: String,
    /// GetBucketVersioning's status: `None` for a bucket never versioned.
    versioning: Option<String>,
    /// ListObjectVersions as the SDK returns it: the versions in the order listed, then
    /// the delete markers in the order listed. (The format-3 release also sends them
    /// in that order; S3 interleaves them by key. Comparing this concatenation compares
    /// the two lists, so either wire order passes.)
    versions: Vec<VersionEntry>,
    /// ListObjectsV2's keys, in order.
    current_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct VersionEntry {
    key: String,
    /// As listed: `null` for the null version.
    version_id: String,
    is_latest: bool,
    delete_marker: bool,
    /// LastModified as listed (RFC 3339).
    last_modified: String,
    /// Everything about the stored object; `None` for a delete marker.
    object: Option<ObjectEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ObjectEntry {
    /// As returned, quotes included.
    etag: String,
    size: i64,
    /// Hex SHA-256 of the content.
    sha256: String,
    storage_class: Option<String>,
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    /// `x-amz-meta-*` pairs, names without the prefix.
    metadata: BTreeMap<String, String>,
    /// The checksum algorithms ListObjectVersions names for this version.
    listed_checksum_algorithms: Vec<String>,
    /// The stored checksum, as GET returns it with ChecksumMode Enabled.
    checksum: Checksums,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Checksums {
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64nvme: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    checksum_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UploadEntry {
    bucket: String,
    key: String,
    upload_id: String,
    content_type: Option<String>,
    metadata: BTreeMap<String, String>,
    parts: Vec<PartEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartEntry {
    part_number: i32,
    /// As returned, quotes included.
    etag: String,
    size: i64,
    /// Hex SHA-256 of the part's bytes.
    sha256: String,
    /// The bytes are `repetitive(size, seed)`.
    seed: u64,
    /// The part's stored CRC32 (the SDK sends one with every part), as ListParts returns it.
    checksum_crc32: Option<String>,
}

/// Highly repetitive bytes (a 251-byte `pattern` block, repeated) so that the large
/// objects compress to almost nothing in the tarball; a prime period keeps part
/// boundaries off the block boundaries.
fn repetitive(len: usize, seed: u64) -> Vec<u8> {
    pattern(251, seed).into_iter().cycle().take(len).collect()
}

fn text(len: usize, tag: &str) -> Vec<u8> {
    let line = format!("ferrite format-3 fixture, {tag}: the quick brown fox jumps over the lazy dog.\n");
    line.bytes().cycle().take(len).collect()
}

/// The multipart ETag: MD5 of the concatenated binary part MD5s, then `-N`.
fn multipart_etag(parts: &[&[u8]]) -> String {
    use md5::Digest;
    let mut h = md5::Md5::new();
    for p in parts {
        h.update(md5::Md5::digest(p));
    }
    format!("\"{}-{}\"", hex_encode(&h.finalize()), parts.len())
}

fn opt(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

fn sorted(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn rfc3339(t: Option<&aws_smithy_types::DateTime>, what: &str) -> String {
    t.unwrap_or_else(|| panic!("{what}: no LastModified"))
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

// ---------------------------------------------------------------------------------
// Reading a bucket's whole state, the same way for the generator and the checker.
// ---------------------------------------------------------------------------------

/// Everything GET (with ChecksumMode Enabled) says about one version, checked against
/// what ListObjectVersions said of it.
async fn describe(
    c: &Client,
    bucket: &str,
    key: &str,
    version_id: &str,
    listed: &aws_sdk_s3::types::ObjectVersion,
) -> (ObjectEntry, Vec<u8>) {
    let what = format!("{bucket}/{key}@{version_id}");
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .version_id(version_id)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {what}: {e:?}"));
    if let Some(v) = out.version_id() {
        assert_eq!(v, version_id, "{what}: GET answered another version");
    }
    let etag = out.e_tag().unwrap_or_else(|| panic!("{what}: no ETag")).to_string();
    assert_eq!(
        Some(etag.as_str()),
        listed.e_tag(),
        "{what}: GET and listing ETags differ"
    );
    let entry = ObjectEntry {
        etag,
        size: listed.size().unwrap_or_else(|| panic!("{what}: no listed size")),
        sha256: String::new(),
        storage_class: listed.storage_class().map(|s| s.as_str().to_string()),
        content_type: opt(out.content_type()),
        cache_control: opt(out.cache_control()),
        content_disposition: opt(out.content_disposition()),
        content_language: opt(out.content_language()),
        metadata: sorted(out.metadata()),
        listed_checksum_algorithms: listed
            .checksum_algorithm()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        checksum: Checksums {
            crc32: opt(out.checksum_crc32()),
            crc32c: opt(out.checksum_crc32_c()),
            crc64nvme: opt(out.checksum_crc64_nvme()),
            sha1: opt(out.checksum_sha1()),
            sha256: opt(out.checksum_sha256()),
            checksum_type: out.checksum_type().map(|t| t.as_str().to_string()),
        },
    };
    assert_eq!(out.content_length(), Some(entry.size), "{what}: Content-Length");
    let body = read_all(out).await;
    assert_eq!(body.len() as i64, entry.size, "{what}: body length");
    (
        ObjectEntry {
            sha256: sha256_hex(&body),
            ..entry
        },
        body,
    )
}

/// A bucket's whole state, every version read back. Also returns each version's bytes.
async fn snapshot(c: &Client, bucket: &str) -> (BucketEntry, HashMap<(String, String), Vec<u8>>) {
    let versioning = c.get_bucket_versioning().bucket(bucket).send().await.unwrap();
    let listed = c.list_object_versions().bucket(bucket).send().await.unwrap();
    assert_eq!(
        listed.is_truncated(),
        Some(false),
        "{bucket}: the listing must fit one page"
    );
    let mut versions = Vec::new();
    let mut bodies = HashMap::new();
    for v in listed.versions() {
        let key = v.key().expect("a listed key").to_string();
        let version_id = v.version_id().expect("a listed version id").to_string();
        let what = format!("{bucket}/{key}@{version_id}");
        let (object, body) = describe(c, bucket, &key, &version_id, v).await;
        assert!(
            bodies.insert((key.clone(), version_id.clone()), body).is_none(),
            "{what}: listed twice"
        );
        versions.push(VersionEntry {
            last_modified: rfc3339(v.last_modified(), &what),
            is_latest: v.is_latest().unwrap_or_else(|| panic!("{what}: no IsLatest")),
            key,
            version_id,
            delete_marker: false,
            object: Some(object),
        });
    }
    for m in listed.delete_markers() {
        let key = m.key().expect("a listed key").to_string();
        let version_id = m.version_id().expect("a listed version id").to_string();
        let what = format!("{bucket}/{key}@{version_id}");
        versions.push(VersionEntry {
            last_modified: rfc3339(m.last_modified(), &what),
            is_latest: m.is_latest().unwrap_or_else(|| panic!("{what}: no IsLatest")),
            key,
            version_id,
            delete_marker: true,
            object: None,
        });
    }
    let current = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    assert_eq!(
        current.is_truncated(),
        Some(false),
        "{bucket}: ListObjectsV2 must fit one page"
    );
    let current_keys: Vec<String> = current
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect();
    // The current keys are exactly those whose latest version is not a delete marker.
    let mut expected: Vec<String> = versions
        .iter()
        .filter(|v| v.is_latest && !v.delete_marker)
        .map(|v| v.key.clone())
        .collect();
    expected.sort();
    assert_eq!(
        current_keys, expected,
        "{bucket}: ListObjectsV2 against the latest versions"
    );
    let entry = BucketEntry {
        name: bucket.to_string(),
        versioning: versioning.status().map(|s| s.as_str().to_string()),
        versions,
        current_keys,
    };
    (entry, bodies)
}

async fn uploads_of(c: &Client, bucket: &str) -> Vec<(String, String)> {
    let out = c.list_multipart_uploads().bucket(bucket).send().await.unwrap();
    assert_eq!(out.is_truncated(), Some(false));
    out.uploads()
        .iter()
        .map(|u| (u.key().unwrap().to_string(), u.upload_id().unwrap().to_string()))
        .collect()
}

/// ListParts: (number, ETag, size, CRC32).
async fn parts_of(c: &Client, bucket: &str, key: &str, upload_id: &str) -> Vec<(i32, String, i64, Option<String>)> {
    let out = c
        .list_parts()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.is_truncated(), Some(false));
    out.parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap(),
                p.e_tag().unwrap().to_string(),
                p.size().unwrap(),
                opt(p.checksum_crc32()),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------

async fn put(c: &Client, bucket: &str, key: &str, body: &[u8]) -> Option<String> {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(format!("\"{}\"", md5_hex(body)).as_str()));
    opt(out.version_id())
}

async fn put_with_meta(c: &Client, bucket: &str, key: &str, body: &[u8], ty: &str, rev: &str) -> Option<String> {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(ty)
        .metadata("rev", rev)
        .metadata("written-by", "format3-fixture")
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    opt(out.version_id())
}

async fn upload_part(c: &Client, bucket: &str, key: &str, id: &str, n: i32, body: &[u8]) -> CompletedPart {
    let out = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(format!("\"{}\"", md5_hex(body)).as_str()));
    CompletedPart::builder()
        .part_number(n)
        .e_tag(out.e_tag().unwrap())
        .set_checksum_crc32(opt(out.checksum_crc32()))
        .build()
}

/// What the generator wrote: (bucket, key, version id as listed) -> bytes.
type Written = HashMap<(String, String, String), Vec<u8>>;

fn wrote(w: &mut Written, bucket: &str, key: &str, version: Option<String>, body: &[u8]) {
    let version = version.unwrap_or_else(|| "null".to_string());
    w.insert((bucket.to_string(), key.to_string(), version), body.to_vec());
}

const PENDING_PARTS: [(i32, usize, u64); 2] = [(1, 5 * MIB, 31), (2, 3 * KIB, 32)];

async fn populate(c: &Client) -> Written {
    let mut w = Written::new();

    // `plain`: never versioned.
    c.create_bucket().bucket("plain").send().await.unwrap();
    let small = text(300, "small.txt");
    let out = c
        .put_object()
        .bucket("plain")
        .key("small.txt")
        .content_type("text/plain; charset=utf-8")
        .cache_control("max-age=3600, must-revalidate")
        .content_disposition("attachment; filename=\"small.txt\"")
        .content_language("en-GB")
        .metadata("colour", "blue")
        .metadata("owner-team", "storage")
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap();
    wrote(&mut w, "plain", "small.txt", opt(out.version_id()), &small);

    let blob = pattern(200 * KIB, 7);
    let out = c
        .put_object()
        .bucket("plain")
        .key("blob.bin")
        .content_type("application/octet-stream")
        .metadata("kind", "blob")
        .body(ByteStream::from(blob.clone()))
        .send()
        .await
        .unwrap();
    wrote(&mut w, "plain", "blob.bin", opt(out.version_id()), &blob);

    let summed = text(4 * KIB, "checksummed.txt");
    let out = c
        .put_object()
        .bucket("plain")
        .key("checksummed.txt")
        .content_type("text/plain")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(summed.clone()))
        .send()
        .await
        .unwrap();
    assert!(out.checksum_sha256().is_some(), "a SHA-256 checksum is stored");
    wrote(&mut w, "plain", "checksummed.txt", opt(out.version_id()), &summed);

    let nested = text(500, "nested key");
    let v = put(c, "plain", "dir/nested/key with spaces.txt", &nested).await;
    wrote(&mut w, "plain", "dir/nested/key with spaces.txt", v, &nested);

    let (p1, p2) = (repetitive(5 * MIB, 11), repetitive(MIB, 12));
    let id = c
        .create_multipart_upload()
        .bucket("plain")
        .key("mp.bin")
        .content_type("application/x-fixture-multipart")
        .metadata("parts", "2")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let cp1 = upload_part(c, "plain", "mp.bin", &id, 1, &p1).await;
    let cp2 = upload_part(c, "plain", "mp.bin", &id, 2, &p2).await;
    let done = c
        .complete_multipart_upload()
        .bucket("plain")
        .key("mp.bin")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(cp1).parts(cp2).build())
        .send()
        .await
        .unwrap();
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&p1, &p2]).as_str()));
    wrote(&mut w, "plain", "mp.bin", opt(done.version_id()), &[p1, p2].concat());

    let id = c
        .create_multipart_upload()
        .bucket("plain")
        .key("pending.bin")
        .content_type("application/x-fixture-pending")
        .metadata("state", "in-progress")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    for (n, len, seed) in PENDING_PARTS {
        upload_part(c, "plain", "pending.bin", &id, n, &repetitive(len, seed)).await;
    }

    // `versioned`: a null version from before versioning, then real versions.
    c.create_bucket().bucket("versioned").send().await.unwrap();
    let null_first = text(200, "null-first, written unversioned");
    let v = put_with_meta(c, "versioned", "null-first", &null_first, "text/plain", "0").await;
    assert_eq!(v, None, "written before versioning: the null version");
    wrote(&mut w, "versioned", "null-first", v, &null_first);
    set_versioning(c, "versioned", BucketVersioningStatus::Enabled).await;
    let docs = [
        (text(150, "doc rev 1"), "text/plain", "1"),
        // Above 64 KiB: this version lives in the blob store.
        (repetitive(80 * KIB, 13), "application/octet-stream", "2"),
        (text(700, "doc rev 3"), "text/markdown", "3"),
    ];
    for (body, ty, rev) in &docs {
        let v = put_with_meta(c, "versioned", "doc", body, ty, rev).await;
        assert!(v.is_some(), "versioning is on: a version id");
        wrote(&mut w, "versioned", "doc", v, body);
    }
    let gone = text(120, "gone");
    let v = put(c, "versioned", "gone", &gone).await;
    wrote(&mut w, "versioned", "gone", v, &gone);
    let del = c.delete_object().bucket("versioned").key("gone").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let null_second = text(250, "null-first, second write (versioned)");
    let v = put_with_meta(c, "versioned", "null-first", &null_second, "text/plain", "1").await;
    assert!(v.is_some(), "versioning is on: a version id");
    wrote(&mut w, "versioned", "null-first", v, &null_second);

    // `suspended`: versions from while enabled, then null versions and a null marker.
    c.create_bucket().bucket("suspended").send().await.unwrap();
    set_versioning(c, "suspended", BucketVersioningStatus::Enabled).await;
    let k1 = text(100, "k while enabled");
    let v = put(c, "suspended", "k", &k1).await;
    assert!(v.is_some());
    wrote(&mut w, "suspended", "k", v, &k1);
    let x1 = text(100, "x while enabled");
    let v = put(c, "suspended", "x", &x1).await;
    assert!(v.is_some());
    wrote(&mut w, "suspended", "x", v, &x1);
    set_versioning(c, "suspended", BucketVersioningStatus::Suspended).await;
    let k2 = text(110, "k suspended, first null");
    put(c, "suspended", "k", &k2).await;
    let k3 = text(120, "k suspended, null overwritten");
    let v = put(c, "suspended", "k", &k3).await;
    wrote(&mut w, "suspended", "k", v, &k3);
    let del = c.delete_object().bucket("suspended").key("x").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));

    c.create_bucket().bucket("empty").send().await.unwrap();
    w
}

/// Writes `tests/fixtures/format3/` from scratch. Run only at the format-3 release
/// (see the module docs); ignored so that no later run overwrites the fixture.
#[tokio::test]
#[ignore = "writes the pinned fixture; run only at the release that owns it"]
async fn write_format3_fixture() {
    assert_eq!(
        ferrite_model::FORMAT_VERSION,
        FORMAT3,
        "this generator must only run at the format-3 release"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(head.status.success());
    let commit = String::from_utf8(head.stdout).unwrap().trim().to_string();
    assert_eq!(
        commit, FORMAT3_COMMIT,
        "generate the fixture at the commit the docs name"
    );

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start_in(&data, &[]);
    let c = server.client();
    let written = populate(&c).await;

    let mut buckets = Vec::new();
    let mut seen = 0;
    for name in ["plain", "versioned", "suspended", "empty"] {
        let (entry, bodies) = snapshot(&c, name).await;
        // Every version read back is exactly what was written.
        for ((key, version), body) in &bodies {
            let what = format!("{name}/{key}@{version}");
            let expected = written
                .get(&(name.to_string(), key.clone(), version.clone()))
                .unwrap_or_else(|| panic!("{what}: listed but never written"));
            assert!(body == expected, "{what}: read back differs from what was written");
            seen += 1;
        }
        buckets.push(entry);
    }
    assert_eq!(seen, written.len(), "every written version is listed");

    let ups = uploads_of(&c, "plain").await;
    assert_eq!(ups.len(), 1, "{ups:?}");
    let (key, upload_id) = ups[0].clone();
    let listed_parts = parts_of(&c, "plain", &key, &upload_id).await;
    assert_eq!(listed_parts.len(), PENDING_PARTS.len());
    let parts = listed_parts
        .into_iter()
        .zip(PENDING_PARTS)
        .map(|((n, etag, size, crc32), (pn, len, seed))| {
            let body = repetitive(len, seed);
            assert_eq!((n, size), (pn, len as i64));
            assert_eq!(etag, format!("\"{}\"", md5_hex(&body)));
            PartEntry {
                part_number: n,
                etag,
                size,
                sha256: sha256_hex(&body),
                seed,
                checksum_crc32: crc32,
            }
        })
        .collect();
    let manifest = Manifest {
        format: FORMAT3,
        generated_at_commit: commit,
        generated_with: GENERATE_COMMAND.to_string(),
        access_key: ACCESS_KEY.to_string(),
        secret_key: SECRET_KEY.to_string(),
        buckets,
        uploads: vec![UploadEntry {
            bucket: "plain".to_string(),
            key,
            upload_id,
            content_type: Some("application/x-fixture-pending".to_string()),
            metadata: BTreeMap::from([("state".to_string(), "in-progress".to_string())]),
            parts,
        }],
    };

    assert!(server.terminate().success(), "clean shutdown");
    let dir = fixture_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let tarball = dir.join("data.tar.gz");
    let status = Command::new("tar")
        .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-czf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&data)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success(), "tar czf");
    let json = serde_json::to_string_pretty(&manifest).unwrap() + "\n";
    std::fs::write(dir.join("manifest.json"), json).unwrap();
    let size = std::fs::metadata(&tarball).unwrap().len();
    assert!(size < 1 << 20, "the tarball is {size} bytes; keep it well under 1 MiB");
}

// ---------------------------------------------------------------------------------
// The checker.
// ---------------------------------------------------------------------------------

fn load_manifest() -> Manifest {
    let bytes = std::fs::read(fixture_dir().join("manifest.json")).unwrap();
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m.format, FORMAT3);
    assert_eq!(m.generated_at_commit, FORMAT3_COMMIT);
    // The harness starts the server with its root keys; the fixture's objects were
    // written (and are owned) under the same keys.
    assert_eq!(
        (m.access_key.as_str(), m.secret_key.as_str()),
        (ACCESS_KEY, SECRET_KEY),
        "the harness's root keys changed; the fixture was written with the manifest's"
    );
    m
}

/// Extracts the fixture's data dir into a fresh temporary directory.
fn extract() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(fixture_dir().join("data.tar.gz"))
        .arg("-C")
        .arg(&data)
        .status()
        .unwrap();
    assert!(status.success(), "tar xzf");
    (tmp, data)
}

/// Compares a bucket's state now with the manifest's, entry by entry.
fn assert_bucket(got: &BucketEntry, want: &BucketEntry) {
    let b = &want.name;
    assert_eq!(got.versioning, want.versioning, "{b}: versioning");
    let ids = |e: &BucketEntry| -> Vec<(String, String, bool, bool)> {
        e.versions
            .iter()
            .map(|v| (v.key.clone(), v.version_id.clone(), v.is_latest, v.delete_marker))
            .collect()
    };
    assert_eq!(
        ids(got),
        ids(want),
        "{b}: ListObjectVersions (ids, latest flags, markers, order)"
    );
    for (g, w) in got.versions.iter().zip(&want.versions) {
        assert_eq!(g, w, "{b}/{}@{}", w.key, w.version_id);
    }
    assert_eq!(got.current_keys, want.current_keys, "{b}: ListObjectsV2");
}

async fn assert_deleted_latest_is_404(c: &Client, want: &BucketEntry) -> usize {
    let mut n = 0;
    for v in want.versions.iter().filter(|v| v.is_latest && v.delete_marker) {
        let err = c
            .head_object()
            .bucket(&want.name)
            .key(&v.key)
            .send()
            .await
            .expect_err("HEAD of a key whose latest version is a delete marker");
        assert_eq!(status(&err), 404, "{}/{}", want.name, v.key);
        n += 1;
    }
    n
}

#[tokio::test]
async fn upgrade_opens_format3_fixture() {
    let m = load_manifest();
    let (_tmp, data) = extract();
    let mut server = Server::start_in(&data, &[]);
    let c = client_with(&server.endpoint(), &m.access_key, &m.secret_key);

    // Buckets.
    let listed = c.list_buckets().send().await.unwrap();
    let mut names: Vec<&str> = listed.buckets().iter().map(|b| b.name().unwrap()).collect();
    names.sort();
    let mut want: Vec<&str> = m.buckets.iter().map(|b| b.name.as_str()).collect();
    want.sort();
    assert_eq!(names, want, "ListBuckets");

    // Every version, byte-exact, with its ETag, headers, metadata and checksum.
    let mut markers_404 = 0;
    for want in &m.buckets {
        let (got, bodies) = snapshot(&c, &want.name).await;
        assert_bucket(&got, want);
        assert_eq!(bodies.len(), want.versions.iter().filter(|v| !v.delete_marker).count());
        // The latest version is also what a plain GET returns.
        for v in want.versions.iter().filter(|v| v.is_latest && !v.delete_marker) {
            let out = c.get_object().bucket(&want.name).key(&v.key).send().await.unwrap();
            let body = read_all(out).await;
            assert_eq!(
                Some(sha256_hex(&body)),
                v.object.as_ref().map(|o| o.sha256.clone()),
                "{}/{}: GET without a version id",
                want.name,
                v.key
            );
        }
        markers_404 += assert_deleted_latest_is_404(&c, want).await;
    }
    assert_eq!(
        markers_404, 2,
        "the fixture has two keys whose latest version is a delete marker"
    );

    // The in-progress upload and its parts.
    for b in &m.buckets {
        let want: Vec<(String, String)> = m
            .uploads
            .iter()
            .filter(|u| u.bucket == b.name)
            .map(|u| (u.key.clone(), u.upload_id.clone()))
            .collect();
        assert_eq!(uploads_of(&c, &b.name).await, want, "{}: ListMultipartUploads", b.name);
    }
    assert_eq!(m.uploads.len(), 1);
    let up = &m.uploads[0];
    let want_parts: Vec<_> = up
        .parts
        .iter()
        .map(|p| (p.part_number, p.etag.clone(), p.size, p.checksum_crc32.clone()))
        .collect();
    assert_eq!(
        parts_of(&c, &up.bucket, &up.key, &up.upload_id).await,
        want_parts,
        "ListParts"
    );

    // Writing to the old data: complete the pending upload with the manifest's ETags.
    let mut bodies = Vec::new();
    let mut completed = CompletedMultipartUpload::builder();
    for p in &up.parts {
        let body = repetitive(p.size as usize, p.seed);
        assert_eq!(sha256_hex(&body), p.sha256, "part {} regenerates", p.part_number);
        bodies.push(body);
        completed = completed.parts(
            CompletedPart::builder()
                .part_number(p.part_number)
                .e_tag(&p.etag)
                .set_checksum_crc32(p.checksum_crc32.clone())
                .build(),
        );
    }
    let done = c
        .complete_multipart_upload()
        .bucket(&up.bucket)
        .key(&up.key)
        .upload_id(&up.upload_id)
        .multipart_upload(completed.build())
        .send()
        .await
        .unwrap();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    assert_eq!(done.e_tag(), Some(multipart_etag(&refs).as_str()));
    let whole = bodies.concat();
    let check_pending = |c: Client| {
        let (up, whole, etag) = (up.clone(), whole.clone(), multipart_etag(&refs));
        async move {
            let out = c.get_object().bucket(&up.bucket).key(&up.key).send().await.unwrap();
            assert_eq!(out.e_tag(), Some(etag.as_str()));
            assert_eq!(opt(out.content_type()), up.content_type);
            assert_eq!(sorted(out.metadata()), up.metadata);
            assert!(
                read_all(out).await == whole,
                "the completed upload reads back byte-exact"
            );
            assert!(
                uploads_of(&c, &up.bucket).await.is_empty(),
                "no upload left in progress"
            );
        }
    };
    check_pending(c.clone()).await;

    // A new object in the old unversioned bucket, and a new version in the versioned one.
    let fresh = pattern(100 * KIB, 99);
    put(&c, "plain", "after-upgrade.bin", &fresh).await;
    let doc_new = text(333, "doc rev 4, after the upgrade");
    let doc_new_id = put(&c, "versioned", "doc", &doc_new).await.expect("a version id");

    // Delete one old version: the oldest version of `doc`.
    let versioned = m.buckets.iter().find(|b| b.name == "versioned").unwrap();
    let doc_versions: Vec<&VersionEntry> = versioned.versions.iter().filter(|v| v.key == "doc").collect();
    assert_eq!(doc_versions.len(), 3);
    let oldest = doc_versions[2].version_id.clone();
    let del = c
        .delete_object()
        .bucket("versioned")
        .key("doc")
        .version_id(&oldest)
        .send()
        .await
        .unwrap();
    assert_eq!(del.version_id(), Some(oldest.as_str()));

    // All of it holds, and survives a restart on the same (now upgraded) data dir.
    for round in ["before restart", "after restart"] {
        let c = client_with(&server.endpoint(), &m.access_key, &m.secret_key);
        check_pending(c.clone()).await;
        let got = read_all(
            c.get_object()
                .bucket("plain")
                .key("after-upgrade.bin")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(got == fresh, "{round}: the new object reads back byte-exact");
        let got = read_all(c.get_object().bucket("versioned").key("doc").send().await.unwrap()).await;
        assert!(got == doc_new, "{round}: the new version is the latest");
        let err = c
            .get_object()
            .bucket("versioned")
            .key("doc")
            .version_id(&oldest)
            .send()
            .await
            .expect_err("the deleted version is gone");
        assert_eq!(status(&err), 404, "{round}: GET of the deleted version");
        // Everything else in `versioned` is as it was, under the new version.
        let (now, _) = snapshot(&c, "versioned").await;
        let listed: Vec<(String, String)> = now
            .versions
            .iter()
            .map(|v| (v.key.clone(), v.version_id.clone()))
            .collect();
        // The manifest's list without the deleted version, the new one first among `doc`'s.
        let mut expected: Vec<(String, String)> = versioned
            .versions
            .iter()
            .filter(|v| v.version_id != oldest)
            .map(|v| (v.key.clone(), v.version_id.clone()))
            .collect();
        let first_doc = expected.iter().position(|(k, _)| k == "doc").unwrap();
        expected.insert(first_doc, ("doc".to_string(), doc_new_id.clone()));
        assert_eq!(listed, expected, "{round}: versions of `versioned`");
        for v in now.versions.iter().filter(|v| v.version_id != doc_new_id) {
            let old = versioned
                .versions
                .iter()
                .find(|o| o.version_id == v.version_id)
                .unwrap();
            if v.key == "doc" {
                // The previous latest is no longer latest; nothing else changed.
                assert_eq!(v.object, old.object, "{round}: doc@{}", v.version_id);
            } else {
                assert_eq!(v, old, "{round}: {}@{}", v.key, v.version_id);
            }
        }
        if round == "before restart" {
            assert!(server.terminate().success(), "clean shutdown");
            server.restart();
        }
    }
}

//! Upgrade compatibility: data dirs written by earlier releases must open unchanged
//! under every later version, with every object byte-exact.
//!
//! Each fixture is a pinned data dir under `tests/fixtures/<name>/`, written once by
//! the server binary of the release that owns it:
//!
//! - `data.tar.gz`: the whole data dir after a clean shutdown (SIGTERM), made with the
//!   system `tar czf`, paths relative to the data dir. The root keys came from the
//!   environment, so it holds no `credentials.json`; the manifest has the keys.
//! - `manifest.json`: everything the fixture's checker compares against: the buckets
//!   and their versioning state; every object version and delete marker in the order
//!   ListObjectVersions returned it, with its ETag, size, SHA-256 of the content,
//!   standard headers, user metadata and stored checksum; the current keys; the
//!   in-progress multipart upload with its parts (and the seeds to regenerate their
//!   bytes); and, for the fixtures that have them, the extras below.
//!
//! The fixtures:
//!
//! - `format3/` ([`upgrade_opens_format3_fixture`]): written by release 0.1.0 at commit
//!   `a36f4c8` (on-disk format 3: the version index and per-bucket usage counters;
//!   every record at version 1). The content of [`populate`]: four buckets (never
//!   versioned, versioned with a null version, suspended, empty), inline and blob
//!   objects, a completed and a pending multipart upload, delete markers.
//! - `session10/` ([`upgrade_opens_session10_fixture`]): written at commit `f3f8ec1`
//!   (the release before SSE; still on-disk format 3, with `ObjectRecord` at version 2,
//!   `BucketRecord` at version 4, `UploadRecord` at version 3, `PartRecord`,
//!   `CompletedRecord` and the IAM and CORS records at version 1). The same
//!   [`populate`] content, then [`populate_session10`]: a bucket `shared` with a bucket
//!   policy (anyone may GET `public/*`, the IAM user may PUT into `inbox/*`) and
//!   BucketOwnerEnforced ownership controls; a bucket `web` with two CORS rules and a
//!   public-read object; a bucket `guarded` with a public access block; an IAM user
//!   `fixture-reader` with one access key, an attached customer managed policy (GET
//!   `shared/reports/*`) and an inline policy (list `shared`). Its manifest adds each
//!   bucket's settings (GetBucketPolicy's text, GetBucketCors' rules,
//!   GetPublicAccessBlock, GetBucketOwnershipControls), the IAM state (users, keys with
//!   their secrets, inline and attached policies, the customer managed policies), CORS
//!   preflights and their answers, and access probes (who did what to which key, and
//!   what that release answered), all recorded from the release's own answers. The
//!   checker asks the same questions of the current code and wants the same answers:
//!   the policy JSON the same document, the user's old key still signing, its policies
//!   still allowing exactly what they allowed.
//!
//! Each was generated in a git worktree of its commit, with this file (the generator
//! and the test harness only; never server sources) copied in when it was newer than
//! the commit's:
//!
//! ```text
//! git -C /work/main worktree add /tmp/fixture-wt a36f4c8
//! cd /tmp/fixture-wt
//! CARGO_TARGET_DIR=/tmp/fixture-target cargo test -p ferrite --test upgrade -- --ignored write_format3_fixture
//!
//! git -C /work/main worktree add /tmp/fixture-s10 f3f8ec1
//! cp /work/main/crates/ferrite/tests/upgrade.rs /tmp/fixture-s10/crates/ferrite/tests/upgrade.rs
//! cd /tmp/fixture-s10
//! CARGO_TARGET_DIR=/tmp/fixture-target cargo test -p ferrite --test upgrade -- --ignored write_session10_fixture
//! cp -r /tmp/fixture-s10/crates/ferrite/tests/fixtures/session10 /work/main/crates/ferrite/tests/fixtures/
//! git -C /work/main worktree remove --force /tmp/fixture-s10
//! ```
//!
//! which run [`write_format3_fixture`] and [`write_session10_fixture`] (ignored by
//! default: they overwrite the fixture). Each generator asserts that it runs at its
//! commit (`git rev-parse HEAD` of the worktree, whose test files may be newer: the
//! data is written by that commit's binary). Never regenerate a fixture with later
//! code: the point is that the bytes were written by that release. The checkers only
//! ever read an extracted copy, so the committed fixtures are never modified.
//!
//! Every later issue that changes a record or the data-dir layout adds its own fixture
//! step here: a generator run once at the release before the change (writing
//! `tests/fixtures/<name>/`), and a checker, while the older checkers stay and keep
//! passing.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart,
    CorsConfiguration, CorsRule, ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration,
};
use common::*;
use serde::{Deserialize, Serialize};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The on-disk format both fixtures were written in.
const FORMAT3: u32 = 3;

/// The `format3` fixture: the commit of the release that wrote it, and how.
const FORMAT3_FIXTURE: &str = "format3";
const FORMAT3_COMMIT: &str = "a36f4c8";
const GENERATE_COMMAND: &str = "cargo test -p ferrite --test upgrade -- --ignored write_format3_fixture";

/// The `session10` fixture: the commit of the release that wrote it, and how.
const SESSION10_FIXTURE: &str = "session10";
const SESSION10_COMMIT: &str = "f3f8ec1";
const GENERATE_SESSION10: &str = "cargo test -p ferrite --test upgrade -- --ignored write_session10_fixture";

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
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
    // The extras below came with the session10 fixture; older manifests lack them.
    /// IAM users, as ListUsers and the per-user calls describe them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    users: Vec<UserEntry>,
    /// Customer managed policies (ListPolicies with Scope Local), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    managed_policies: Vec<ManagedPolicyEntry>,
    /// CORS preflights and what the release answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    preflights: Vec<PreflightEntry>,
    /// Requests made as root, as an IAM user or anonymously, and what the release
    /// answered: the policies, ACLs and public access blocks at work.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    probes: Vec<ProbeEntry>,
}

/// A bucket's settings beyond versioning, as the getters return them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct BucketSettings {
    /// GetBucketPolicy's text; `None`: NoSuchBucketPolicy. Compared as JSON values.
    policy: Option<String>,
    /// GetBucketCors' rules; `None`: NoSuchCORSConfiguration.
    cors: Option<Vec<CorsRuleEntry>>,
    /// GetPublicAccessBlock; `None`: NoSuchPublicAccessBlockConfiguration.
    public_access_block: Option<PublicAccessBlockEntry>,
    /// GetBucketOwnershipControls' rule; `None`: OwnershipControlsNotFoundError.
    ownership: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CorsRuleEntry {
    id: Option<String>,
    allowed_origins: Vec<String>,
    allowed_methods: Vec<String>,
    allowed_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age_seconds: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PublicAccessBlockEntry {
    block_public_acls: Option<bool>,
    ignore_public_acls: Option<bool>,
    block_public_policy: Option<bool>,
    restrict_public_buckets: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UserEntry {
    name: String,
    user_id: String,
    arn: String,
    create_date: String,
    access_keys: Vec<AccessKeyEntry>,
    /// Inline policies: name and document (GetUserPolicy's, URL-decoded).
    inline_policies: Vec<InlinePolicyEntry>,
    /// ListAttachedUserPolicies: the ARNs, in order.
    attached_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AccessKeyEntry {
    access_key_id: String,
    /// As CreateAccessKey returned it (IAM never shows it again): the checker signs
    /// with it.
    secret_access_key: String,
    status: String,
    create_date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct InlinePolicyEntry {
    name: String,
    document: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ManagedPolicyEntry {
    name: String,
    arn: String,
    policy_id: String,
    description: Option<String>,
    attachment_count: Option<i32>,
    create_date: String,
    /// The document as CreatePolicy was given it. That release has no
    /// GetPolicyVersion, so only the probes check it.
    document: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PreflightEntry {
    /// The request: `OPTIONS <path>` with these headers.
    path: String,
    origin: String,
    method: String,
    request_headers: Option<String>,
    /// The answer.
    status: u16,
    allow_origin: Option<String>,
    allow_methods: Option<String>,
    allow_headers: Option<String>,
    expose_headers: Option<String>,
    max_age: Option<String>,
    allow_credentials: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ProbeEntry {
    /// `root`, `anonymous`, or the name of one of the manifest's users (signing with
    /// its first access key).
    who: String,
    /// `GetObject`; `PutObject` (the body [`probe_body`]); `ListObjectsV2`;
    /// `PutObjectPublicRead` (a PutObject with the public-read canned ACL);
    /// `PutPublicBucketPolicy` (a policy letting anyone GetObject, [`public_policy`]).
    action: String,
    bucket: String,
    /// Empty for the bucket-level actions.
    key: String,
    /// `ok`, or the error code.
    outcome: String,
    /// For a GetObject that succeeded: the hex SHA-256 of the body.
    sha256: Option<String>,
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
    /// Policy, CORS, public access block and ownership controls; `None` in the
    /// manifests of releases that had none of them (not read then, not checked now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settings: Option<BucketSettings>,
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
        settings: None,
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
// Reading the extras (session10 on), the same way for the generator and the checker.
// ---------------------------------------------------------------------------------

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;
type SdkError<E> = aws_sdk_s3::error::SdkError<E, HttpResponse>;

fn iam_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::config::Builder::new()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "ferrite-tests",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// A getter's answer; `None` when it is 404 `missing` (nothing set).
fn unless_missing<T, E>(r: Result<T, SdkError<E>>, missing: &str, what: &str) -> Option<T>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(v) => Some(v),
        Err(e) if code(&e) == missing => {
            assert_eq!(status(&e), 404, "{what}: {missing}");
            None
        }
        Err(e) => panic!("{what}: {e:?}"),
    }
}

fn cors_entry(r: &CorsRule) -> CorsRuleEntry {
    CorsRuleEntry {
        id: opt(r.id()),
        allowed_origins: r.allowed_origins().to_vec(),
        allowed_methods: r.allowed_methods().to_vec(),
        allowed_headers: r.allowed_headers().to_vec(),
        expose_headers: r.expose_headers().to_vec(),
        max_age_seconds: r.max_age_seconds(),
    }
}

/// A bucket's policy, CORS rules, public access block and ownership controls.
async fn settings_of(c: &Client, bucket: &str) -> BucketSettings {
    let policy = unless_missing(
        c.get_bucket_policy().bucket(bucket).send().await,
        "NoSuchBucketPolicy",
        &format!("{bucket}: GetBucketPolicy"),
    )
    .map(|o| o.policy().expect("a policy").to_string());
    let cors = unless_missing(
        c.get_bucket_cors().bucket(bucket).send().await,
        "NoSuchCORSConfiguration",
        &format!("{bucket}: GetBucketCors"),
    )
    .map(|o| o.cors_rules().iter().map(cors_entry).collect());
    let public_access_block = unless_missing(
        c.get_public_access_block().bucket(bucket).send().await,
        "NoSuchPublicAccessBlockConfiguration",
        &format!("{bucket}: GetPublicAccessBlock"),
    )
    .map(|o| {
        let b = o.public_access_block_configuration().expect("a configuration");
        PublicAccessBlockEntry {
            block_public_acls: b.block_public_acls(),
            ignore_public_acls: b.ignore_public_acls(),
            block_public_policy: b.block_public_policy(),
            restrict_public_buckets: b.restrict_public_buckets(),
        }
    });
    let ownership = unless_missing(
        c.get_bucket_ownership_controls().bucket(bucket).send().await,
        "OwnershipControlsNotFoundError",
        &format!("{bucket}: GetBucketOwnershipControls"),
    )
    .map(|o| {
        let rules = o.ownership_controls().expect("ownership controls").rules();
        assert_eq!(rules.len(), 1, "{bucket}: one ownership rule");
        rules[0].object_ownership().as_str().to_string()
    });
    BucketSettings {
        policy,
        cors,
        public_access_block,
        ownership,
    }
}

fn json(text: &str, what: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}

fn assert_settings(bucket: &str, got: &BucketSettings, want: &BucketSettings) {
    let what = format!("{bucket}: GetBucketPolicy");
    assert_eq!(
        got.policy.as_deref().map(|p| json(p, &what)),
        want.policy.as_deref().map(|p| json(p, &what)),
        "{what} (the same JSON document)"
    );
    assert_eq!(got.cors, want.cors, "{bucket}: GetBucketCors");
    assert_eq!(
        got.public_access_block, want.public_access_block,
        "{bucket}: GetPublicAccessBlock"
    );
    assert_eq!(got.ownership, want.ownership, "{bucket}: GetBucketOwnershipControls");
}

fn iam_date(t: &aws_smithy_types::DateTime) -> String {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap()
}

/// IAM returns policy documents URL-encoded (the Rust SDK does not decode them).
fn url_decoded(doc: &str) -> String {
    form_urlencoded::parse(format!("d={doc}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// The IAM state as root sees it: every user (with its keys, inline policies and
/// attached policies) and every customer managed policy. The secrets and the managed
/// policies' documents are left empty: IAM never returns them.
async fn describe_iam(iam: &aws_sdk_iam::Client) -> (Vec<UserEntry>, Vec<ManagedPolicyEntry>) {
    let listed = iam.list_users().send().await.unwrap();
    assert!(!listed.is_truncated(), "ListUsers fits one page");
    let mut users = Vec::new();
    for u in listed.users() {
        let name = u.user_name();
        let got = iam.get_user().user_name(name).send().await.unwrap();
        let got = got.user().expect("GetUser: a user");
        assert_eq!(got, u, "{name}: GetUser and ListUsers agree");
        let keys = iam.list_access_keys().user_name(name).send().await.unwrap();
        let access_keys = keys
            .access_key_metadata()
            .iter()
            .map(|k| AccessKeyEntry {
                access_key_id: k.access_key_id().expect("a key id").to_string(),
                secret_access_key: String::new(),
                status: k.status().expect("a status").as_str().to_string(),
                create_date: iam_date(k.create_date().expect("a date")),
            })
            .collect();
        let names = iam.list_user_policies().user_name(name).send().await.unwrap();
        let mut inline_policies = Vec::new();
        for policy in names.policy_names() {
            let doc = iam
                .get_user_policy()
                .user_name(name)
                .policy_name(policy)
                .send()
                .await
                .unwrap();
            inline_policies.push(InlinePolicyEntry {
                name: policy.clone(),
                document: url_decoded(doc.policy_document()),
            });
        }
        let attached = iam.list_attached_user_policies().user_name(name).send().await.unwrap();
        users.push(UserEntry {
            name: name.to_string(),
            user_id: u.user_id().to_string(),
            arn: u.arn().to_string(),
            create_date: iam_date(u.create_date()),
            access_keys,
            inline_policies,
            attached_policies: attached
                .attached_policies()
                .iter()
                .map(|p| p.policy_arn().expect("an ARN").to_string())
                .collect(),
        });
    }
    let listed = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    let mut policies = Vec::new();
    for p in listed.policies() {
        let arn = p.arn().expect("an ARN");
        let got = iam.get_policy().policy_arn(arn).send().await.unwrap();
        assert_eq!(got.policy(), Some(p), "{arn}: GetPolicy and ListPolicies agree");
        policies.push(ManagedPolicyEntry {
            name: p.policy_name().expect("a name").to_string(),
            arn: arn.to_string(),
            policy_id: p.policy_id().expect("an id").to_string(),
            description: opt(p.description()),
            attachment_count: p.attachment_count(),
            create_date: iam_date(p.create_date().expect("a date")),
            document: String::new(),
        });
    }
    (users, policies)
}

/// The body a `PutObject` probe writes.
fn probe_body(bucket: &str, key: &str) -> Vec<u8> {
    text(64, &format!("probe {bucket}/{key}"))
}

/// The policy a `PutPublicBucketPolicy` probe tries: anyone may GET any object.
fn public_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

fn outcome<T, E>(r: Result<T, SdkError<E>>) -> (String, Option<String>)
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(_) => ("ok".to_string(), None),
        Err(e) => (code(&e), None),
    }
}

/// Makes one probe's request; returns the outcome and, for a GET, the body's SHA-256.
async fn probe(c: &Client, action: &str, bucket: &str, key: &str) -> (String, Option<String>) {
    match action {
        "GetObject" => match c.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => ("ok".to_string(), Some(sha256_hex(&read_all(out).await))),
            Err(e) => (code(&e), None),
        },
        "PutObject" => outcome(
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(probe_body(bucket, key)))
                .send()
                .await,
        ),
        "PutObjectPublicRead" => outcome(
            c.put_object()
                .bucket(bucket)
                .key(key)
                .acl(ObjectCannedAcl::PublicRead)
                .body(ByteStream::from(probe_body(bucket, key)))
                .send()
                .await,
        ),
        "ListObjectsV2" => outcome(c.list_objects_v2().bucket(bucket).send().await),
        "PutPublicBucketPolicy" => outcome(
            c.put_bucket_policy()
                .bucket(bucket)
                .policy(public_policy(bucket))
                .send()
                .await,
        ),
        other => panic!("unknown probe action {other}"),
    }
}

/// The client a probe's `who` names: root, anonymous, or a user with its first key.
fn client_for(server: &Server, root: (&str, &str), users: &[UserEntry], who: &str) -> Client {
    match who {
        "root" => client_with(&server.endpoint(), root.0, root.1),
        "anonymous" => anonymous(server),
        name => {
            let user = users
                .iter()
                .find(|u| u.name == name)
                .unwrap_or_else(|| panic!("probe as {name}: no such user in the manifest"));
            let key = user.access_keys.first().expect("the user has a key");
            client_with(&server.endpoint(), &key.access_key_id, &key.secret_access_key)
        }
    }
}

/// An unauthenticated CORS preflight and its answer.
async fn preflight(
    server: &Server,
    path: &str,
    origin: &str,
    method: &str,
    request_headers: Option<&str>,
) -> PreflightEntry {
    let mut headers = vec![("Origin", origin), ("Access-Control-Request-Method", method)];
    if let Some(h) = request_headers {
        headers.push(("Access-Control-Request-Headers", h));
    }
    let url = format!("{}{path}", server.endpoint());
    let (status, h, _) = http_send("OPTIONS", &url, &headers, Vec::new()).await;
    let header = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_string());
    PreflightEntry {
        path: path.to_string(),
        origin: origin.to_string(),
        method: method.to_string(),
        request_headers: request_headers.map(str::to_string),
        status,
        allow_origin: header("access-control-allow-origin"),
        allow_methods: header("access-control-allow-methods"),
        allow_headers: header("access-control-allow-headers"),
        expose_headers: header("access-control-expose-headers"),
        max_age: header("access-control-max-age"),
        allow_credentials: header("access-control-allow-credentials"),
    }
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

/// The short id of the commit checked out where the tests run.
fn head_commit() -> String {
    let head = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(head.status.success());
    String::from_utf8(head.stdout).unwrap().trim().to_string()
}

/// Snapshots the buckets `names`, checking that every version read back is exactly
/// what was written and that every written version is listed.
async fn snapshot_written(c: &Client, names: &[&str], written: &Written) -> Vec<BucketEntry> {
    let mut buckets = Vec::new();
    let mut seen = 0;
    for &name in names {
        let (entry, bodies) = snapshot(c, name).await;
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
    buckets
}

/// The upload [`populate`] left in progress, with its parts as ListParts lists them.
async fn pending_upload(c: &Client) -> UploadEntry {
    let ups = uploads_of(c, "plain").await;
    assert_eq!(ups.len(), 1, "{ups:?}");
    let (key, upload_id) = ups[0].clone();
    let listed_parts = parts_of(c, "plain", &key, &upload_id).await;
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
    UploadEntry {
        bucket: "plain".to_string(),
        key,
        upload_id,
        content_type: Some("application/x-fixture-pending".to_string()),
        metadata: BTreeMap::from([("state".to_string(), "in-progress".to_string())]),
        parts,
    }
}

/// Writes `tests/fixtures/<name>/`: the data dir (of a server shut down cleanly) as
/// `data.tar.gz`, and `manifest.json`.
fn write_fixture(name: &str, data: &Path, manifest: &Manifest) {
    let dir = fixture_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let tarball = dir.join("data.tar.gz");
    let status = Command::new("tar")
        .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-czf"])
        .arg(&tarball)
        .arg("-C")
        .arg(data)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success(), "tar czf");
    let json = serde_json::to_string_pretty(manifest).unwrap() + "\n";
    std::fs::write(dir.join("manifest.json"), json).unwrap();
    let size = std::fs::metadata(&tarball).unwrap().len();
    assert!(size < 1 << 20, "the tarball is {size} bytes; keep it well under 1 MiB");
}

/// The buckets [`populate`] makes.
const FORMAT3_BUCKETS: [&str; 4] = ["plain", "versioned", "suspended", "empty"];

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
    let commit = head_commit();
    assert_eq!(
        commit, FORMAT3_COMMIT,
        "generate the fixture at the commit the docs name"
    );

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start_in(&data, &[]);
    let c = server.client();
    let written = populate(&c).await;
    let buckets = snapshot_written(&c, &FORMAT3_BUCKETS, &written).await;
    let manifest = Manifest {
        format: FORMAT3,
        generated_at_commit: commit,
        generated_with: GENERATE_COMMAND.to_string(),
        access_key: ACCESS_KEY.to_string(),
        secret_key: SECRET_KEY.to_string(),
        buckets,
        uploads: vec![pending_upload(&c).await],
        users: Vec::new(),
        managed_policies: Vec::new(),
        preflights: Vec::new(),
        probes: Vec::new(),
    };
    assert!(server.terminate().success(), "clean shutdown");
    write_fixture(FORMAT3_FIXTURE, &data, &manifest);
}

// ---------------------------------------------------------------------------------
// The session10 generator: the format-3 content, plus what that release added.
// ---------------------------------------------------------------------------------

/// The IAM user of the session10 fixture.
const READER: &str = "fixture-reader";
/// The buckets [`populate_session10`] makes.
const SESSION10_BUCKETS: [&str; 3] = ["shared", "web", "guarded"];

/// The reader's managed policy: GET under `shared/reports/`.
const READ_REPORTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadReports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/reports/*"}]}"#;
/// The reader's inline policy: list `shared`.
const LIST_SHARED: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":"arn:aws:s3:::shared"}]}"#;

/// `shared`'s bucket policy, as written (spaces and newlines included): anyone may
/// GET `public/*`; the reader, named by its ARN, may PUT into `inbox/*`.
fn shared_policy(reader_arn: &str) -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Id": "session10-fixture",
  "Statement": [
    {{
      "Sid": "AnyoneReadsPublic",
      "Effect": "Allow",
      "Principal": "*",
      "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::shared/public/*"
    }},
    {{
      "Sid": "ReaderDropsIntoInbox",
      "Effect": "Allow",
      "Principal": {{ "AWS": "{reader_arn}" }},
      "Action": ["s3:PutObject"],
      "Resource": ["arn:aws:s3:::shared/inbox/*"]
    }}
  ]
}}"#
    )
}

/// `web`'s CORS rules.
fn web_cors() -> Vec<CorsRule> {
    vec![
        CorsRule::builder()
            .id("app")
            .allowed_origins("https://app.example")
            .allowed_methods("GET")
            .allowed_methods("PUT")
            .allowed_headers("x-amz-*")
            .allowed_headers("Content-Type")
            .expose_headers("ETag")
            .expose_headers("x-amz-version-id")
            .max_age_seconds(600)
            .build()
            .unwrap(),
        CorsRule::builder()
            .id("docs")
            .allowed_origins("https://*.docs.example")
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .build()
            .unwrap(),
    ]
}

/// The preflights the session10 manifest records: (path, origin, method, requested
/// headers, expected status).
const SESSION10_PREFLIGHTS: [(&str, &str, &str, Option<&str>, u16); 4] = [
    (
        "/web/index.html",
        "https://app.example",
        "PUT",
        Some("content-type,x-amz-date"),
        200,
    ),
    ("/web/app.js", "https://a.docs.example", "GET", None, 200),
    ("/web/index.html", "https://evil.example", "GET", None, 403),
    ("/web/index.html", "https://app.example", "DELETE", None, 403),
];

/// The probes the session10 manifest records: (who, action, bucket, key, expected
/// outcome), and why.
const SESSION10_PROBES: [(&str, &str, &str, &str, &str); 18] = [
    // The bucket policy's public statement, and nothing beyond it.
    ("anonymous", "GetObject", "shared", "public/readme.txt", "ok"),
    ("anonymous", "GetObject", "shared", "private/secret.txt", "AccessDenied"),
    ("anonymous", "GetObject", "shared", "reports/q1.csv", "AccessDenied"),
    ("anonymous", "ListObjectsV2", "shared", "", "AccessDenied"),
    // The reader's managed policy (GET reports/*), inline policy (list shared), the
    // bucket policy naming it (PUT inbox/*) and its public statement; nothing else.
    (READER, "GetObject", "shared", "reports/q1.csv", "ok"),
    (READER, "GetObject", "shared", "public/readme.txt", "ok"),
    (READER, "GetObject", "shared", "private/secret.txt", "AccessDenied"),
    (READER, "ListObjectsV2", "shared", "", "ok"),
    (READER, "PutObject", "shared", "inbox/from-reader.txt", "ok"),
    (READER, "PutObject", "shared", "reports/q2.csv", "AccessDenied"),
    (READER, "ListObjectsV2", "plain", "", "AccessDenied"),
    (READER, "GetObject", "plain", "small.txt", "AccessDenied"),
    // An object's public-read ACL; its private neighbour.
    ("anonymous", "GetObject", "web", "index.html", "ok"),
    ("anonymous", "GetObject", "web", "app.js", "AccessDenied"),
    // The public access block: public ACLs and public policies refused, even to root.
    ("root", "PutObjectPublicRead", "guarded", "public.txt", "AccessDenied"),
    ("root", "PutPublicBucketPolicy", "guarded", "", "AccessDenied"),
    ("root", "GetObject", "guarded", "k.txt", "ok"),
    ("root", "GetObject", "shared", "inbox/from-reader.txt", "ok"),
];

/// What [`populate_session10`] made that IAM never shows again.
struct Secrets {
    /// Access key id -> secret.
    keys: HashMap<String, String>,
    /// Managed policy ARN -> document.
    documents: HashMap<String, String>,
}

/// The session10 extras, after [`populate`]: see the module docs.
async fn populate_session10(server: &Server, c: &Client, w: &mut Written) -> Secrets {
    let iam = iam_client(&server.endpoint(), ACCESS_KEY, SECRET_KEY);
    let mut secrets = Secrets {
        keys: HashMap::new(),
        documents: HashMap::new(),
    };

    // The user, its key and its policies.
    let user = iam.create_user().user_name(READER).send().await.unwrap();
    let reader_arn = user.user().expect("a user").arn().to_string();
    let key = iam.create_access_key().user_name(READER).send().await.unwrap();
    let key = key.access_key().expect("a key");
    secrets
        .keys
        .insert(key.access_key_id().to_string(), key.secret_access_key().to_string());
    let created = iam
        .create_policy()
        .policy_name("read-shared-reports")
        .description("GET under shared/reports/")
        .policy_document(READ_REPORTS)
        .send()
        .await
        .unwrap();
    let arn = created.policy().and_then(|p| p.arn()).expect("an ARN").to_string();
    secrets.documents.insert(arn.clone(), READ_REPORTS.to_string());
    iam.attach_user_policy()
        .user_name(READER)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name(READER)
        .policy_name("list-shared")
        .policy_document(LIST_SHARED)
        .send()
        .await
        .unwrap();

    // `shared`: a bucket policy, and ownership controls (BucketOwnerEnforced: what
    // the reader puts is the bucket owner's).
    c.create_bucket().bucket("shared").send().await.unwrap();
    for (key, body) in [
        ("public/readme.txt", text(180, "shared/public/readme.txt")),
        ("reports/q1.csv", text(240, "shared/reports/q1.csv")),
        ("private/secret.txt", text(90, "shared/private/secret.txt")),
    ] {
        let v = put(c, "shared", key, &body).await;
        wrote(w, "shared", key, v, &body);
    }
    c.put_bucket_policy()
        .bucket("shared")
        .policy(shared_policy(&reader_arn))
        .send()
        .await
        .unwrap();
    c.put_bucket_ownership_controls()
        .bucket("shared")
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // `web`: CORS rules, a public-read object and a private one.
    c.create_bucket().bucket("web").send().await.unwrap();
    let index = text(400, "web/index.html");
    let out = c
        .put_object()
        .bucket("web")
        .key("index.html")
        .content_type("text/html; charset=utf-8")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from(index.clone()))
        .send()
        .await
        .unwrap();
    wrote(w, "web", "index.html", opt(out.version_id()), &index);
    let app = text(300, "web/app.js");
    let v = put(c, "web", "app.js", &app).await;
    wrote(w, "web", "app.js", v, &app);
    c.put_bucket_cors()
        .bucket("web")
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(web_cors()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // `guarded`: a public access block (public ACLs and policies refused).
    c.create_bucket().bucket("guarded").send().await.unwrap();
    let k = text(120, "guarded/k.txt");
    let v = put(c, "guarded", "k.txt", &k).await;
    wrote(w, "guarded", "k.txt", v, &k);
    c.put_public_access_block()
        .bucket("guarded")
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(false)
                .block_public_policy(true)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    secrets
}

/// Writes `tests/fixtures/session10/` from scratch. Run only at commit `f3f8ec1` (see
/// the module docs); ignored so that no later run overwrites the fixture.
#[tokio::test]
#[ignore = "writes the pinned fixture; run only at the release that owns it"]
async fn write_session10_fixture() {
    assert_eq!(
        ferrite_model::FORMAT_VERSION,
        FORMAT3,
        "the session10 release is on-disk format 3"
    );
    let commit = head_commit();
    assert_eq!(
        commit, SESSION10_COMMIT,
        "generate the fixture at the commit the docs name"
    );

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start_in(&data, &[]);
    let c = server.client();
    let mut written = populate(&c).await;
    let secrets = populate_session10(&server, &c, &mut written).await;

    // IAM, with the secrets and documents IAM does not return.
    let iam = iam_client(&server.endpoint(), ACCESS_KEY, SECRET_KEY);
    let (mut users, mut managed_policies) = describe_iam(&iam).await;
    for key in users.iter_mut().flat_map(|u| u.access_keys.iter_mut()) {
        key.secret_access_key = secrets.keys[&key.access_key_id].clone();
    }
    for p in &mut managed_policies {
        p.document = secrets.documents[&p.arn].clone();
    }
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, READER);
    assert_eq!(users[0].access_keys.len(), 1);
    assert_eq!(users[0].inline_policies.len(), 1);
    assert_eq!(users[0].attached_policies, vec![managed_policies[0].arn.clone()]);
    assert_eq!(managed_policies.len(), 1);

    // The probes (their writes are part of the fixture), and the preflights.
    let mut probes = Vec::new();
    for (who, action, bucket, key, expected) in SESSION10_PROBES {
        let client = client_for(&server, (ACCESS_KEY, SECRET_KEY), &users, who);
        let (outcome, sha256) = probe(&client, action, bucket, key).await;
        assert_eq!(outcome, expected, "{who} {action} {bucket}/{key}");
        if action == "PutObject" && outcome == "ok" {
            wrote(&mut written, bucket, key, None, &probe_body(bucket, key));
        }
        probes.push(ProbeEntry {
            who: who.to_string(),
            action: action.to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            outcome,
            sha256,
        });
    }
    let mut preflights = Vec::new();
    for (path, origin, method, headers, expected) in SESSION10_PREFLIGHTS {
        let answer = preflight(&server, path, origin, method, headers).await;
        assert_eq!(answer.status, expected, "{answer:?}");
        preflights.push(answer);
    }

    let names: Vec<&str> = FORMAT3_BUCKETS.iter().chain(&SESSION10_BUCKETS).copied().collect();
    let mut buckets = snapshot_written(&c, &names, &written).await;
    for b in &mut buckets {
        b.settings = Some(settings_of(&c, &b.name).await);
    }
    let with = |f: fn(&BucketSettings) -> bool| -> Vec<&str> {
        buckets
            .iter()
            .filter(|b| f(b.settings.as_ref().unwrap()))
            .map(|b| b.name.as_str())
            .collect()
    };
    assert_eq!(with(|s| s.policy.is_some()), ["shared"]);
    assert_eq!(with(|s| s.cors.is_some()), ["web"]);
    assert_eq!(with(|s| s.public_access_block.is_some()), ["guarded"]);
    assert_eq!(with(|s| s.ownership.is_some()), ["shared"]);

    let manifest = Manifest {
        format: FORMAT3,
        generated_at_commit: commit,
        generated_with: GENERATE_SESSION10.to_string(),
        access_key: ACCESS_KEY.to_string(),
        secret_key: SECRET_KEY.to_string(),
        buckets,
        uploads: vec![pending_upload(&c).await],
        users,
        managed_policies,
        preflights,
        probes,
    };
    assert!(server.terminate().success(), "clean shutdown");
    write_fixture(SESSION10_FIXTURE, &data, &manifest);
}

// ---------------------------------------------------------------------------------
// The checker.
// ---------------------------------------------------------------------------------

/// The manifest of fixture `name`, written at `commit`.
fn load_manifest(name: &str, commit: &str) -> Manifest {
    let bytes = std::fs::read(fixture_dir(name).join("manifest.json")).unwrap();
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m.format, FORMAT3);
    assert_eq!(m.generated_at_commit, commit);
    // The harness starts the server with its root keys; the fixture's objects were
    // written (and are owned) under the same keys.
    assert_eq!(
        (m.access_key.as_str(), m.secret_key.as_str()),
        (ACCESS_KEY, SECRET_KEY),
        "the harness's root keys changed; the fixture was written with the manifest's"
    );
    m
}

/// Extracts fixture `name`'s data dir into a fresh temporary directory.
fn extract(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(fixture_dir(name).join("data.tar.gz"))
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

/// The extras a manifest has (the format3 one has none): every bucket's settings, the
/// IAM state, the CORS preflights and the access probes, each as the release answered.
async fn check_extras(server: &Server, m: &Manifest, round: &str) {
    let c = client_with(&server.endpoint(), &m.access_key, &m.secret_key);
    for b in &m.buckets {
        if let Some(want) = &b.settings {
            let got = settings_of(&c, &b.name).await;
            assert_settings(&format!("{round}: {}", b.name), &got, want);
        }
    }

    if !m.users.is_empty() || !m.managed_policies.is_empty() {
        let iam = iam_client(&server.endpoint(), &m.access_key, &m.secret_key);
        let (users, policies) = describe_iam(&iam).await;
        // IAM shows neither secrets nor managed policy documents (the probes check
        // those); inline documents are compared as JSON.
        let documents = |us: &[UserEntry]| -> Vec<Vec<(String, serde_json::Value)>> {
            us.iter()
                .map(|u| {
                    u.inline_policies
                        .iter()
                        .map(|p| (p.name.clone(), json(&p.document, &format!("{}/{}", u.name, p.name))))
                        .collect()
                })
                .collect()
        };
        assert_eq!(documents(&users), documents(&m.users), "{round}: inline policies");
        let bare = |us: &[UserEntry]| -> Vec<UserEntry> {
            us.iter()
                .map(|u| {
                    let mut u = u.clone();
                    for k in &mut u.access_keys {
                        k.secret_access_key.clear();
                    }
                    for p in &mut u.inline_policies {
                        p.document.clear();
                    }
                    u
                })
                .collect()
        };
        assert_eq!(bare(&users), bare(&m.users), "{round}: IAM users");
        let want: Vec<ManagedPolicyEntry> = m
            .managed_policies
            .iter()
            .map(|p| ManagedPolicyEntry {
                document: String::new(),
                ..p.clone()
            })
            .collect();
        assert_eq!(policies, want, "{round}: customer managed policies");
    }

    for want in &m.preflights {
        let got = preflight(
            server,
            &want.path,
            &want.origin,
            &want.method,
            want.request_headers.as_deref(),
        )
        .await;
        assert_eq!(&got, want, "{round}: CORS preflight");
    }

    for p in &m.probes {
        let client = client_for(server, (&m.access_key, &m.secret_key), &m.users, &p.who);
        let got = probe(&client, &p.action, &p.bucket, &p.key).await;
        assert_eq!(
            got,
            (p.outcome.clone(), p.sha256.clone()),
            "{round}: {} {} {}/{}",
            p.who,
            p.action,
            p.bucket,
            p.key
        );
    }
}

#[tokio::test]
async fn upgrade_opens_format3_fixture() {
    check_fixture(FORMAT3_FIXTURE, FORMAT3_COMMIT).await;
}

#[tokio::test]
async fn upgrade_opens_session10_fixture() {
    check_fixture(SESSION10_FIXTURE, SESSION10_COMMIT).await;
}

/// Opens an extracted copy of fixture `name` (written at `commit`) with the current
/// code and checks it against its manifest: every bucket, version and upload as it
/// was; then writes to it (completes the pending upload, adds an object and a version,
/// deletes an old version) and checks everything, extras included, before and after a
/// restart.
async fn check_fixture(name: &str, commit: &str) {
    let m = load_manifest(name, commit);
    let (_tmp, data) = extract(name);
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

    // Records from before tags and Object Lock (the pending upload's included) read as
    // having none of either; an old version takes tags in place, its bytes unchanged.
    let head = c.head_object().bucket(&up.bucket).key(&up.key).send().await.unwrap();
    assert_eq!(head.object_lock_mode(), None);
    assert_eq!(head.object_lock_legal_hold_status(), None);
    for b in &m.buckets {
        let e = c.get_bucket_tagging().bucket(&b.name).send().await.unwrap_err();
        assert_eq!(code(&e), "NoSuchTagSet", "{}", b.name);
        let e = c
            .get_object_lock_configuration()
            .bucket(&b.name)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ObjectLockConfigurationNotFoundError", "{}", b.name);
        for v in b.versions.iter().filter(|v| !v.delete_marker) {
            let tags = c
                .get_object_tagging()
                .bucket(&b.name)
                .key(&v.key)
                .version_id(&v.version_id)
                .send()
                .await
                .unwrap();
            assert!(tags.tag_set().is_empty(), "{}/{} {}", b.name, v.key, v.version_id);
        }
    }
    let (b, v) = m
        .buckets
        .iter()
        .find_map(|b| b.versions.iter().find(|v| !v.delete_marker).map(|v| (b, v)))
        .unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("migrated")
                .value("yes")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    c.put_object_tagging()
        .bucket(&b.name)
        .key(&v.key)
        .version_id(&v.version_id)
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    let out = c
        .get_object()
        .bucket(&b.name)
        .key(&v.key)
        .version_id(&v.version_id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.tag_count(), Some(1));
    assert_eq!(
        Some(sha256_hex(&read_all(out).await)),
        v.object.as_ref().map(|o| o.sha256.clone())
    );

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
        check_extras(&server, &m, round).await;
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
    // Secret access keys stored before secrets were sealed are sealed by the first
    // start with a master key: the metadata file no longer holds any (and the users
    // signed with them above, after the upgrade and after the restart).
    assert!(server.terminate().success(), "clean shutdown");
    let meta = std::fs::read(data.join("meta.redb")).unwrap();
    let secrets: Vec<&str> = m
        .users
        .iter()
        .flat_map(|u| u.access_keys.iter().map(|k| k.secret_access_key.as_str()))
        .collect();
    for secret in &secrets {
        assert!(
            !meta.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret access key left unsealed in meta.redb"
        );
    }
}

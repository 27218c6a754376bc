//! The version index, at the model level: version ids, delete markers, the null
//! version, listing, and what reads cost as versions pile up (counted in rows the
//! metadata store hands out, not in time).

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod common;

use bytes::Bytes;
use common::{open_store, options, root};
use ferrite_model::*;
use ferrite_store::{FsBlobStore, MetaStore, ReadTxn, RedbMetaStore, StoreResult, Table, WriteTxn};

// The model's tables, by the names it stores them under (to rewrite a data dir into an
// older format).
const VERSIONS: Table = Table::new("versions");
const NULL_VERSIONS: Table = Table::new("null_versions");
const SYSTEM: Table = Table::new("system");
use futures::TryStreamExt;

/// A metadata store that counts the rows it returns to readers and the commits, and
/// can make each commit slow (as a slow disk's fsync would).
struct Counting {
    inner: RedbMetaStore,
    rows: Arc<AtomicU64>,
    commits: Arc<AtomicU64>,
    commit_delay: std::time::Duration,
}

struct CountingRead<'a> {
    inner: Box<dyn ReadTxn + 'a>,
    rows: Arc<AtomicU64>,
}

struct CountingWrite<'a> {
    inner: Box<dyn WriteTxn + 'a>,
    commits: Arc<AtomicU64>,
    commit_delay: std::time::Duration,
}

impl ReadTxn for CountingRead<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.rows.fetch_add(1, Ordering::Relaxed);
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        self.inner.scan(table, start, end, &mut |k, v| {
            self.rows.fetch_add(1, Ordering::Relaxed);
            visit(k, v)
        })
    }
}

impl ReadTxn for CountingWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        self.inner.scan(table, start, end, visit)
    }
}

impl WriteTxn for CountingWrite<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool> {
        self.inner.delete(table, key)
    }

    fn commit(self: Box<Self>) -> StoreResult<()> {
        std::thread::sleep(self.commit_delay);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.inner.commit()
    }
}

impl MetaStore for Counting {
    fn begin_read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        Ok(Box::new(CountingRead {
            inner: self.inner.begin_read()?,
            rows: self.rows.clone(),
        }))
    }

    fn begin_write(&self) -> StoreResult<Box<dyn WriteTxn + '_>> {
        Ok(Box::new(CountingWrite {
            inner: self.inner.begin_write()?,
            commits: self.commits.clone(),
            commit_delay: self.commit_delay,
        }))
    }
}

async fn open_counting(dir: &std::path::Path) -> (Ferrite, Arc<AtomicU64>) {
    let (f, rows, _) = open_counting_with(dir, std::time::Duration::ZERO).await;
    (f, rows)
}

async fn open_counting_with(
    dir: &std::path::Path,
    commit_delay: std::time::Duration,
) -> (Ferrite, Arc<AtomicU64>, Arc<AtomicU64>) {
    let rows = Arc::new(AtomicU64::new(0));
    let commits = Arc::new(AtomicU64::new(0));
    let meta = Counting {
        inner: RedbMetaStore::open(&dir.join("meta.redb"), false).unwrap(),
        rows: rows.clone(),
        commits: commits.clone(),
        commit_delay,
    };
    let blobs = FsBlobStore::open(dir, false).unwrap();
    let f = Ferrite::open(Arc::new(meta), Arc::new(blobs), options()).await.unwrap();
    (f, rows, commits)
}

async fn open(dir: &std::path::Path) -> Ferrite {
    common::open_engine(dir, options()).await
}

async fn put(f: &Ferrite, key: &str, data: &[u8]) -> ObjectInfo {
    let chunks = vec![Ok::<_, std::io::Error>(Bytes::copy_from_slice(data))];
    let staged = f
        .stage(futures::stream::iter(chunks), None, MAX_PUT_SIZE)
        .await
        .unwrap();
    f.put_staged(&root(), "bkt", key, staged, PutAttrs::default())
        .await
        .unwrap()
}

async fn read(f: &Ferrite, key: &str, version: Option<&str>) -> ModelResult<Vec<u8>> {
    let (_, body) = f
        .get_object(&root(), "bkt", key, version, None, &ReadConditions::default())
        .await?;
    let chunks: Vec<Bytes> = body.into_stream().try_collect().await.unwrap();
    Ok(chunks.concat())
}

fn del(key: &str, version: Option<&str>) -> DeleteRequest {
    DeleteRequest {
        key: key.into(),
        version_id: version.map(str::to_string),
        if_match: None,
        bypass_governance: false,
    }
}

async fn versions(f: &Ferrite) -> Vec<(String, String, bool, bool)> {
    let q = VersionQuery {
        max_keys: 1000,
        ..Default::default()
    };
    let page = f.list_object_versions(&root(), "bkt", q).await.unwrap();
    page.versions
        .into_iter()
        .map(|v| (v.key, v.version_id, v.is_latest, v.delete_marker))
        .collect()
}

async fn live_keys(f: &Ferrite) -> Vec<String> {
    let q = ListQuery {
        max_keys: 1000,
        ..Default::default()
    };
    f.list_objects(&root(), "bkt", q)
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.key)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn enabled_bucket_keeps_every_version_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    let before = put(&f, "k", b"before versioning").await;
    assert_eq!(before.version_id, None, "never-versioned buckets answer no version id");
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    assert_eq!(
        f.bucket_versioning(&root(), "bkt").await.unwrap(),
        VersioningState::Enabled
    );

    let mut ids = Vec::new();
    for i in 0..5 {
        let info = put(&f, "k", format!("v{i}").as_bytes()).await;
        let id = info.version_id.unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "URL-safe: {id}");
        ids.push(id);
    }
    // Newest-sorting: each new id sorts before the previous one.
    for pair in ids.windows(2) {
        assert!(pair[1] < pair[0], "{} should sort before {}", pair[1], pair[0]);
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(read(&f, "k", Some(id)).await.unwrap(), format!("v{i}").as_bytes());
    }
    assert_eq!(read(&f, "k", None).await.unwrap(), b"v4");
    assert_eq!(read(&f, "k", Some("null")).await.unwrap(), b"before versioning");

    let listed = versions(&f).await;
    let mut expected: Vec<_> = ids
        .iter()
        .rev()
        .map(|id| ("k".to_string(), id.clone(), false, false))
        .collect();
    expected.push(("k".into(), "null".into(), false, false));
    expected[0].2 = true;
    assert_eq!(listed, expected);

    // Unknown and malformed ids.
    let unknown = format!("{}0000000000000000", &ids[0][..16]);
    assert!(matches!(
        read(&f, "k", Some(&unknown)).await,
        Err(ModelError::NoSuchVersion)
    ));
    assert!(matches!(
        read(&f, "k", Some("not-an-id")).await,
        Err(ModelError::InvalidVersionId)
    ));
    assert!(matches!(
        f.set_bucket_versioning(&root(), "bkt", VersioningState::Unversioned)
            .await,
        Err(ModelError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_markers_hide_and_removing_them_restores() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    let v1 = put(&f, "k", b"one").await.version_id.unwrap();
    let marker = f.delete_object(&root(), "bkt", del("k", None)).await.unwrap();
    assert!(marker.delete_marker);
    let marker_id = marker.version_id.unwrap();
    assert!(matches!(
        read(&f, "k", None).await,
        Err(ModelError::DeletedKey { version_id }) if version_id == marker_id
    ));
    assert!(matches!(
        read(&f, "k", Some(&marker_id)).await,
        Err(ModelError::DeleteMarkerVersion { .. })
    ));
    assert_eq!(read(&f, "k", Some(&v1)).await.unwrap(), b"one");
    assert!(live_keys(&f).await.is_empty(), "ListObjects hides a deleted key");
    assert_eq!(
        versions(&f).await,
        [
            ("k".to_string(), marker_id.clone(), true, true),
            ("k".to_string(), v1.clone(), false, false)
        ]
    );
    // A second delete stacks another marker; a marker on a key that never existed is fine.
    let second = f.delete_object(&root(), "bkt", del("k", None)).await.unwrap();
    assert!(second.delete_marker);
    assert!(
        f.delete_object(&root(), "bkt", del("ghost", None))
            .await
            .unwrap()
            .delete_marker
    );

    // Removing the markers by id makes v1 current again.
    let removed = f
        .delete_object(&root(), "bkt", del("k", second.version_id.as_deref()))
        .await
        .unwrap();
    assert!(removed.delete_marker, "the version removed was a delete marker");
    f.delete_object(&root(), "bkt", del("k", Some(&marker_id)))
        .await
        .unwrap();
    assert_eq!(read(&f, "k", None).await.unwrap(), b"one");
    assert_eq!(live_keys(&f).await, ["k"]);

    // Deleting a version for good; the key is then gone entirely.
    let gone = f.delete_object(&root(), "bkt", del("k", Some(&v1))).await.unwrap();
    assert_eq!(gone.version_id.as_deref(), Some(v1.as_str()));
    assert!(!gone.delete_marker);
    assert!(matches!(read(&f, "k", None).await, Err(ModelError::NoSuchKey)));
    // Deleting a version that no longer exists succeeds and changes nothing.
    f.delete_object(&root(), "bkt", del("k", Some(&v1))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn suspended_buckets_replace_the_null_version_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    put(&f, "k", &vec![1u8; 200_000]).await; // a blob-backed null version
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    let kept = put(&f, "k", b"kept").await.version_id.unwrap();
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Suspended)
        .await
        .unwrap();
    let info = put(&f, "k", b"null again").await;
    assert_eq!(info.version_id, None, "a null write reports no version id");
    let head = f
        .head_object(&root(), "bkt", "k", None, &ReadConditions::default())
        .await
        .unwrap();
    assert_eq!(head.version_id.as_deref(), Some("null"), "reads name the null version");
    let listed = versions(&f).await;
    assert_eq!(
        listed,
        [
            ("k".to_string(), "null".to_string(), true, false),
            ("k".to_string(), kept.clone(), false, false)
        ],
        "the old null version was replaced; the other version stays"
    );
    f.collect_garbage().await.unwrap();
    let blobs: usize = std::fs::read_dir(dir.path().join("blobs"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(blobs, 0, "the replaced null version's blob is freed");

    // A delete in a suspended bucket is a null delete marker replacing the null version.
    let out = f.delete_object(&root(), "bkt", del("k", None)).await.unwrap();
    assert_eq!(out.version_id.as_deref(), Some("null"));
    assert!(out.delete_marker);
    assert_eq!(
        versions(&f).await,
        [
            ("k".to_string(), "null".to_string(), true, true),
            ("k".to_string(), kept.clone(), false, false)
        ]
    );
    // Removing the null marker brings back the kept version.
    f.delete_object(&root(), "bkt", del("k", Some("null"))).await.unwrap();
    assert_eq!(read(&f, "k", None).await.unwrap(), b"kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn version_listing_pages_with_markers_and_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    for key in ["a", "b/1", "b/2", "c"] {
        for i in 0..3 {
            put(&f, key, format!("{key}{i}").as_bytes()).await;
        }
    }
    f.delete_object(&root(), "bkt", del("c", None)).await.unwrap();
    let all = versions(&f).await;
    assert_eq!(all.len(), 13);

    // Page two entries at a time; the pages concatenate to the full listing.
    let mut seen = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let q = VersionQuery {
            max_keys: 2,
            key_marker: key_marker.clone(),
            version_id_marker: version_marker.clone(),
            ..Default::default()
        };
        let page = f.list_object_versions(&root(), "bkt", q).await.unwrap();
        seen.extend(
            page.versions
                .iter()
                .map(|v| (v.key.clone(), v.version_id.clone(), v.is_latest, v.delete_marker)),
        );
        if !page.is_truncated {
            break;
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
    assert_eq!(seen, all, "paging keeps IsLatest and order");

    // Delimiter roll-up.
    let q = VersionQuery {
        delimiter: Some("/".into()),
        max_keys: 1000,
        ..Default::default()
    };
    let page = f.list_object_versions(&root(), "bkt", q).await.unwrap();
    assert_eq!(page.common_prefixes, ["b/"]);
    assert_eq!(page.versions.len(), 7);
    // key-marker alone skips all versions of that key.
    let q = VersionQuery {
        key_marker: Some("b/2".into()),
        max_keys: 1000,
        ..Default::default()
    };
    let page = f.list_object_versions(&root(), "bkt", q).await.unwrap();
    assert!(page.versions.iter().all(|v| v.key == "c"));
    assert_eq!(page.versions.len(), 4);
    // A version-id marker needs a key marker.
    let q = VersionQuery {
        version_id_marker: Some("null".into()),
        max_keys: 10,
        ..Default::default()
    };
    assert!(matches!(
        f.list_object_versions(&root(), "bkt", q).await,
        Err(ModelError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_and_listing_do_not_pay_for_old_versions() {
    let dir = tempfile::tempdir().unwrap();
    let (f, rows) = open_counting(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    put(&f, "few", b"1").await;
    for i in 0..500 {
        put(&f, "many", format!("{i}").as_bytes()).await;
    }
    for i in 0..50 {
        put(&f, &format!("dead{i:02}"), b"x").await;
        f.delete_object(&root(), "bkt", del(&format!("dead{i:02}"), None))
            .await
            .unwrap();
    }

    let cost = |before: u64| rows.load(Ordering::Relaxed) - before;
    let start = rows.load(Ordering::Relaxed);
    f.head_object(&root(), "bkt", "few", None, &ReadConditions::default())
        .await
        .unwrap();
    let few = cost(start);
    let start = rows.load(Ordering::Relaxed);
    f.head_object(&root(), "bkt", "many", None, &ReadConditions::default())
        .await
        .unwrap();
    let many = cost(start);
    assert_eq!(
        few, many,
        "HEAD of a key with 500 versions reads what a key with one does"
    );
    assert!(many <= 2, "HEAD reads the bucket and one object row, read {many}");

    // ListObjects reads only current live objects: not the 499 old versions of "many",
    // nor the 50 deleted keys.
    let start = rows.load(Ordering::Relaxed);
    assert_eq!(live_keys(&f).await, ["few", "many"]);
    let listed = cost(start);
    assert!(listed <= 4, "listing 2 live keys read {listed} rows");
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_writes_check_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path()).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    let put_if = |none_match: bool, if_match: Option<&str>| PutAttrs {
        if_none_match: none_match.then(|| "*".to_string()),
        if_match: if_match.map(str::to_string),
        ..Default::default()
    };
    let try_put = |attrs: PutAttrs| {
        let f = f.clone();
        async move {
            let chunks = vec![Ok::<_, std::io::Error>(Bytes::from_static(b"data"))];
            let staged = f
                .stage(futures::stream::iter(chunks), None, MAX_PUT_SIZE)
                .await
                .unwrap();
            f.put_staged(&root(), "bkt", "k", staged, attrs).await
        }
    };
    assert!(matches!(
        try_put(put_if(false, Some("*"))).await,
        Err(ModelError::NoSuchKey)
    ));
    let first = try_put(put_if(true, None)).await.unwrap();
    assert!(matches!(
        try_put(put_if(true, None)).await,
        Err(ModelError::PreconditionFailed)
    ));
    assert!(matches!(
        try_put(put_if(false, Some("0123"))).await,
        Err(ModelError::PreconditionFailed)
    ));
    try_put(put_if(false, Some(&first.etag))).await.unwrap();
    // Behind a delete marker the key has no current object.
    f.delete_object(&root(), "bkt", del("k", None)).await.unwrap();
    assert!(matches!(
        try_put(put_if(false, Some(&first.etag))).await,
        Err(ModelError::NoSuchKey)
    ));
    try_put(put_if(true, None)).await.unwrap();

    // Conditional delete: a wrong ETag changes nothing.
    let mut d = del("k", None);
    d.if_match = Some("wrong".into());
    assert!(matches!(
        f.delete_object(&root(), "bkt", d.clone()).await,
        Err(ModelError::PreconditionFailed)
    ));
    assert_eq!(read(&f, "k", None).await.unwrap(), b"data");
    d.if_match = Some(first.etag.clone());
    assert!(f.delete_object(&root(), "bkt", d.clone()).await.unwrap().delete_marker);
    assert!(matches!(
        f.delete_object(&root(), "bkt", d).await,
        Err(ModelError::NoSuchKey)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn format_1_directories_are_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    {
        let f = open(dir.path()).await;
        f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
        put(&f, "k", b"old object").await;
    }
    // Turn the directory back into format 1: objects without a version index.
    {
        let meta = open_store(dir.path()).await;
        let mut w = meta.begin_write().unwrap();
        for table in [VERSIONS, NULL_VERSIONS] {
            let rows = w.range(table, Bound::Unbounded, Bound::Unbounded, usize::MAX).unwrap();
            for (k, _) in rows {
                w.delete(table, &k).unwrap();
            }
        }
        w.put(SYSTEM, b"format_version", &1u32.to_be_bytes()).unwrap();
        w.commit().unwrap();
    }
    let f = open(dir.path()).await;
    assert_eq!(read(&f, "k", Some("null")).await.unwrap(), b"old object");
    assert_eq!(versions(&f).await, [("k".to_string(), "null".to_string(), true, false)]);
    f.delete_object(&root(), "bkt", del("k", None)).await.unwrap();
    f.delete_bucket(&root(), "bkt").await.unwrap();
}

/// Group commit: while one commit is in progress, the writes that arrive queue up and
/// share the next commit; each is answered only after its commit.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writes_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _, commits) = open_counting_with(dir.path(), std::time::Duration::from_millis(30)).await;
    f.create_bucket(&root(), "bkt", Default::default()).await.unwrap();
    f.set_bucket_versioning(&root(), "bkt", VersioningState::Enabled)
        .await
        .unwrap();
    let before = commits.load(Ordering::Relaxed);
    const WRITERS: usize = 64;
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let info = put(&f, &format!("k{}", i % 4), format!("body {i}").as_bytes()).await;
            (info, i)
        }));
    }
    let mut written = Vec::new();
    for t in tasks {
        written.push(t.await.unwrap());
    }
    let used = commits.load(Ordering::Relaxed) - before;
    assert!(used < WRITERS as u64 / 4, "{WRITERS} writes took {used} commits");
    // Every write is durable and distinct: all versions are there and readable.
    for (info, i) in &written {
        let got = read(&f, &format!("k{}", i % 4), info.version_id.as_deref())
            .await
            .unwrap();
        assert_eq!(got, format!("body {i}").as_bytes());
    }
    assert_eq!(versions(&f).await.len(), WRITERS);
    // A refused write in a batch does not disturb the others.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let chunks = vec![Ok::<_, std::io::Error>(Bytes::from(format!("x{i}")))];
            let staged = f
                .stage(futures::stream::iter(chunks), None, MAX_PUT_SIZE)
                .await
                .unwrap();
            let attrs = PutAttrs {
                // Odd writers demand an ETag no object has.
                if_match: (i % 2 == 1).then(|| "00000000000000000000000000000000".to_string()),
                ..Default::default()
            };
            f.put_staged(&root(), "bkt", "mixed", staged, attrs).await
        }));
    }
    let mut ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(i % 2 == 1 && matches!(e, ModelError::NoSuchKey | ModelError::PreconditionFailed)),
        }
    }
    assert_eq!(ok, 4);
    assert_eq!(versions(&f).await.iter().filter(|v| v.0 == "mixed").count(), 4);
}

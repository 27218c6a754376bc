//! Crash safety: SIGKILL the server while many clients PUT and overwrite keys, restart,
//! and check that every acknowledged PUT reads back byte-exact with its ETag, that no
//! object is partial, and that no orphaned data survives the start-up sweep.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use common::*;

const CLIENTS: usize = 8;
const KEYS_PER_CLIENT: usize = 4;
const KILL_POINTS: u64 = 6;
const INLINE_MAX: usize = 64 * 1024;

/// Per key: the last acknowledged body and the body of a PUT still in flight. Each key
/// belongs to one client, so a key has at most one PUT in flight.
#[derive(Default, Clone)]
struct KeyState {
    acked: Option<Vec<u8>>,
    in_flight: Option<Vec<u8>>,
}

fn body_for(round: u64, client: usize, n: u64) -> Vec<u8> {
    // Mix inline-sized and blob-sized bodies.
    let len = match n % 3 {
        0 => 3_000,
        1 => 150_000,
        _ => 1_200_000,
    };
    pattern(len, round * 1_000_000 + client as u64 * 10_000 + n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_overwrites_loses_nothing_acknowledged() {
    overwrites_survive_kills(Sealing::Plain).await;
}

/// The same with SSE-S3: sealed data is written, landed and committed like any other
/// (a temp file of sealed chunks, fsync, one transaction), so a kill leaves each key
/// with its acknowledged or its in-flight object, whole and still encrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_sse_overwrites_loses_nothing_acknowledged() {
    overwrites_survive_kills(Sealing::SseS3).await;
}

/// The same with SSE-KMS under S3 Bucket Keys: every start makes a new bucket key (its
/// own commit, before any data key it seals), so each round's kill can land around
/// one; no object may name a bucket key that is not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_sse_kms_overwrites_loses_nothing_acknowledged() {
    overwrites_survive_kills(Sealing::SseKmsBucketKey).await;
}

#[derive(Clone, Copy, PartialEq)]
enum Sealing {
    Plain,
    SseS3,
    SseKmsBucketKey,
}

async fn overwrites_survive_kills(sealing: Sealing) {
    use aws_sdk_s3::types::ServerSideEncryption;
    let sse = sealing != Sealing::Plain;
    // SSE-KMS ETags are not the MD5 (as on AWS).
    let md5_etags = sealing != Sealing::SseKmsBucketKey;
    let mut server = Server::start();
    server.client().create_bucket().bucket("crash").send().await.unwrap();
    let state: Arc<Mutex<HashMap<String, KeyState>>> = Arc::default();
    let acked_total = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut in_flight_at_kills = 0;

    for round in 0..KILL_POINTS {
        let client = server.client();
        let mut tasks = Vec::new();
        for cl in 0..CLIENTS {
            let client = client.clone();
            let state = state.clone();
            let acked_total = acked_total.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                loop {
                    let key = format!("c{cl}/k{}", n as usize % KEYS_PER_CLIENT);
                    let body = body_for(round, cl, n);
                    state.lock().unwrap().entry(key.clone()).or_default().in_flight = Some(body.clone());
                    let res = client
                        .put_object()
                        .bucket("crash")
                        .key(&key)
                        .set_server_side_encryption(match sealing {
                            Sealing::Plain => None,
                            Sealing::SseS3 => Some(ServerSideEncryption::Aes256),
                            Sealing::SseKmsBucketKey => Some(ServerSideEncryption::AwsKms),
                        })
                        .set_bucket_key_enabled((sealing == Sealing::SseKmsBucketKey).then_some(true))
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await;
                    match res {
                        Ok(out) => {
                            if md5_etags {
                                assert_eq!(out.e_tag().unwrap().trim_matches('"'), md5_hex(&body));
                            }
                            let mut st = state.lock().unwrap();
                            let e = st.get_mut(&key).unwrap();
                            e.acked = Some(body);
                            e.in_flight = None;
                            acked_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        // The server died: this PUT may or may not have committed.
                        Err(_) => return,
                    }
                    n += 1;
                }
            }));
        }
        // Kill at a different point of the write stream each round.
        tokio::time::sleep(Duration::from_millis(300 + round * 170)).await;
        server.kill();
        for t in tasks {
            t.await.unwrap();
        }
        server.restart();
        let c = server.client();

        let snapshot = state.lock().unwrap().clone();
        in_flight_at_kills += snapshot.values().filter(|k| k.in_flight.is_some()).count();
        let mut blob_objects = 0;
        for (key, ks) in &snapshot {
            match c.get_object().bucket("crash").key(key).send().await {
                Ok(out) => {
                    let etag = out.e_tag().unwrap().trim_matches('"').to_string();
                    assert_eq!(
                        out.server_side_encryption().is_some(),
                        sse,
                        "round {round} {key}: stored as asked"
                    );
                    let bytes = read_all(out).await;
                    if md5_etags {
                        assert_eq!(md5_hex(&bytes), etag, "round {round} {key}: body matches its ETag");
                    }
                    let is_acked = ks.acked.as_ref() == Some(&bytes);
                    let is_in_flight = ks.in_flight.as_ref() == Some(&bytes);
                    assert!(
                        is_acked || is_in_flight,
                        "round {round} {key}: an acknowledged or in-flight body, never partial"
                    );
                    if bytes.len() > INLINE_MAX {
                        blob_objects += 1;
                    }
                    // Settle the state: what is there now is the acknowledged value.
                    let mut st = state.lock().unwrap();
                    let e = st.get_mut(key).unwrap();
                    e.acked = Some(bytes);
                    e.in_flight = None;
                }
                Err(e) => {
                    assert!(
                        ks.acked.is_none(),
                        "round {round} {key}: acknowledged object lost: {}",
                        code(&e)
                    );
                    state.lock().unwrap().get_mut(key).unwrap().in_flight = None;
                }
            }
        }
        assert_eq!(
            server.temp_files(),
            0,
            "round {round}: unfinished writes are cleared at start-up"
        );
        // The sweep and the collector run in the background after start-up.
        let mut blobs = server.blob_files();
        for _ in 0..100 {
            if blobs == blob_objects {
                break;
            }
            tokio::time::sleep(TICK).await;
            blobs = server.blob_files();
        }
        assert_eq!(
            blobs, blob_objects,
            "round {round}: every blob on disk belongs to exactly one object"
        );
    }
    let acked = acked_total.load(std::sync::atomic::Ordering::Relaxed);
    println!("{KILL_POINTS} kills, {acked} acknowledged PUTs, {in_flight_at_kills} PUTs in flight at the kills");
    assert!(
        acked > KILL_POINTS as usize * CLIENTS,
        "the clients really wrote between kills"
    );
    assert!(
        in_flight_at_kills >= KILL_POINTS as usize,
        "every kill interrupted writes in flight"
    );
}

/// Acknowledged versions: version id -> (key, body).
type AckedVersions = HashMap<String, (String, Vec<u8>)>;

/// With versioning on, a crash must not lose or tear any acknowledged version, and a
/// version the crash interrupted is either absent or complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_versioned_writes_keeps_every_acknowledged_version() {
    use aws_sdk_s3::types::BucketVersioningStatus;
    const ROUNDS: u64 = 3;
    let mut server = Server::start();
    let c = server.client();
    c.create_bucket().bucket("vcrash").send().await.unwrap();
    set_versioning(&c, "vcrash", BucketVersioningStatus::Enabled).await;
    // Acknowledged versions: id -> (key, body); bodies in flight at a kill, per key.
    let acked: Arc<Mutex<AckedVersions>> = Arc::default();
    let in_flight: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    for round in 0..ROUNDS {
        let client = server.client();
        let mut tasks = Vec::new();
        for cl in 0..CLIENTS {
            let (client, acked, in_flight) = (client.clone(), acked.clone(), in_flight.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                loop {
                    let key = format!("c{cl}/k{}", n as usize % 2);
                    let body = body_for(round + 100, cl, n);
                    in_flight.lock().unwrap().insert(key.clone(), body.clone());
                    let res = client
                        .put_object()
                        .bucket("vcrash")
                        .key(&key)
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await;
                    let Ok(out) = res else { return };
                    let id = out.version_id().expect("a versioned PUT returns its id").to_string();
                    in_flight.lock().unwrap().remove(&key);
                    acked.lock().unwrap().insert(id, (key, body));
                    n += 1;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + round * 230)).await;
        server.kill();
        for t in tasks {
            t.await.unwrap();
        }
        server.restart();
        let c = server.client();

        // Every version on the server is acknowledged, or the one in flight for its key.
        let mut listed = Vec::new();
        let mut marker: (Option<String>, Option<String>) = (None, None);
        loop {
            let out = c
                .list_object_versions()
                .bucket("vcrash")
                .set_key_marker(marker.0.clone())
                .set_version_id_marker(marker.1.clone())
                .send()
                .await
                .unwrap();
            listed.extend(out.versions().iter().map(|v| {
                (
                    v.key().unwrap().to_string(),
                    v.version_id().unwrap().to_string(),
                    v.size().unwrap(),
                )
            }));
            if !out.is_truncated().unwrap() {
                break;
            }
            marker = (
                out.next_key_marker().map(str::to_string),
                out.next_version_id_marker().map(str::to_string),
            );
        }
        let mut acked_now = acked.lock().unwrap().clone();
        let flying = in_flight.lock().unwrap().clone();
        let listed_ids: std::collections::HashSet<_> = listed.iter().map(|(_, id, _)| id.clone()).collect();
        for id in acked_now.keys() {
            assert!(listed_ids.contains(id), "round {round}: acknowledged version {id} lost");
        }
        let mut blob_versions = 0;
        for (key, id, size) in &listed {
            let out = c
                .get_object()
                .bucket("vcrash")
                .key(key)
                .version_id(id)
                .send()
                .await
                .unwrap();
            let etag = out.e_tag().unwrap().trim_matches('"').to_string();
            let bytes = read_all(out).await;
            assert_eq!(bytes.len() as i64, *size);
            assert_eq!(md5_hex(&bytes), etag, "round {round} {key} {id}: body matches its ETag");
            match acked_now.get(id) {
                Some((k, body)) => assert!(k == key && *body == bytes, "round {round}: {id} reads back exactly"),
                None => {
                    assert_eq!(
                        flying.get(key),
                        Some(&bytes),
                        "round {round}: an unacknowledged version is complete"
                    );
                    // It committed: from now on it is acknowledged.
                    acked_now.insert(id.clone(), (key.clone(), bytes.clone()));
                }
            }
            if bytes.len() > INLINE_MAX {
                blob_versions += 1;
            }
        }
        *acked.lock().unwrap() = acked_now;
        in_flight.lock().unwrap().clear();
        assert_eq!(server.temp_files(), 0, "round {round}: unfinished writes are cleared");
        let mut blobs = server.blob_files();
        for _ in 0..100 {
            if blobs == blob_versions {
                break;
            }
            tokio::time::sleep(TICK).await;
            blobs = server.blob_files();
        }
        assert_eq!(
            blobs, blob_versions,
            "round {round}: one blob per blob-sized version, no orphans"
        );
    }
    let total = acked.lock().unwrap().len();
    println!("{ROUNDS} kills, {total} versions kept");
    assert!(
        total > ROUNDS as usize * CLIENTS,
        "the clients really wrote between kills"
    );
}

/// SIGKILL while clients run multipart uploads (single-part ones, so Completes are
/// frequent, and two-part ones): after restart each key holds nothing, or a whole
/// object from an acknowledged or in-flight Complete; uploads not completed are still
/// listed with their acknowledged parts; no orphaned part data survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_multipart_uploads_and_completes() {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    const ROUNDS: u64 = 3;
    const MP_CLIENTS: usize = 6;
    let mut server = Server::start();
    server.client().create_bucket().bucket("mcrash").send().await.unwrap();
    // Per key: the last acknowledged object body, and a body whose Complete is in flight.
    let state: Arc<Mutex<HashMap<String, KeyState>>> = Arc::default();
    let completes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for round in 0..ROUNDS {
        let client = server.client();
        let mut tasks = Vec::new();
        for cl in 0..MP_CLIENTS {
            let (client, state, completes) = (client.clone(), state.clone(), completes.clone());
            tasks.push(tokio::spawn(async move {
                let key = format!("m{cl}");
                for n in 0u64.. {
                    let parts: Vec<Vec<u8>> = if cl % 2 == 0 {
                        vec![pattern(100_000, round * 1000 + n)]
                    } else {
                        vec![pattern(5 << 20, round * 1000 + n), pattern(1_000, round * 1000 + n + 1)]
                    };
                    let Ok(up) = client.create_multipart_upload().bucket("mcrash").key(&key).send().await else {
                        return;
                    };
                    let id = up.upload_id().unwrap().to_string();
                    let mut done = Vec::new();
                    for (i, p) in parts.iter().enumerate() {
                        let res = client
                            .upload_part()
                            .bucket("mcrash")
                            .key(&key)
                            .upload_id(&id)
                            .part_number(i as i32 + 1)
                            .body(ByteStream::from(p.clone()))
                            .send()
                            .await;
                        let Ok(out) = res else { return };
                        done.push(
                            CompletedPart::builder()
                                .part_number(i as i32 + 1)
                                .e_tag(out.e_tag().unwrap())
                                .build(),
                        );
                    }
                    let body = parts.concat();
                    state.lock().unwrap().entry(key.clone()).or_default().in_flight = Some(body.clone());
                    let res = client
                        .complete_multipart_upload()
                        .bucket("mcrash")
                        .key(&key)
                        .upload_id(&id)
                        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
                        .send()
                        .await;
                    if res.is_err() {
                        return;
                    }
                    let mut st = state.lock().unwrap();
                    let e = st.get_mut(&key).unwrap();
                    e.acked = Some(body);
                    e.in_flight = None;
                    completes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(700 + round * 400)).await;
        server.kill();
        for t in tasks {
            t.await.unwrap();
        }
        server.restart();
        let c = server.client();

        let mut expected_blobs = 0;
        let snapshot = state.lock().unwrap().clone();
        for (key, ks) in &snapshot {
            match c.get_object().bucket("mcrash").key(key).send().await {
                Ok(out) => {
                    let etag = out.e_tag().unwrap().trim_matches('"').to_string();
                    let segments: usize = etag.rsplit('-').next().unwrap().parse().unwrap();
                    expected_blobs += segments;
                    let bytes = read_all(out).await;
                    let ok = ks.acked.as_ref() == Some(&bytes) || ks.in_flight.as_ref() == Some(&bytes);
                    assert!(ok, "round {round} {key}: a whole acknowledged or in-flight object");
                    let mut st = state.lock().unwrap();
                    let e = st.get_mut(key).unwrap();
                    e.acked = Some(bytes);
                    e.in_flight = None;
                }
                Err(e) => {
                    assert!(
                        ks.acked.is_none(),
                        "round {round} {key}: completed object lost: {}",
                        code(&e)
                    );
                    state.lock().unwrap().get_mut(key).unwrap().in_flight = None;
                }
            }
        }
        // Uploads the kill interrupted are still there, with their acknowledged parts.
        let ups = c.list_multipart_uploads().bucket("mcrash").send().await.unwrap();
        let objects_only = expected_blobs;
        for u in ups.uploads() {
            let parts = c
                .list_parts()
                .bucket("mcrash")
                .key(u.key().unwrap())
                .upload_id(u.upload_id().unwrap())
                .send()
                .await
                .unwrap();
            expected_blobs += parts.parts().len();
        }
        assert_eq!(server.temp_files(), 0, "round {round}: unfinished writes are cleared");
        // Once the start-up sweep has run: objects' segments plus pending parts, no orphans.
        let settle = |want: usize| {
            let server = &server;
            async move {
                let mut blobs = server.blob_files();
                for _ in 0..200 {
                    if blobs == want {
                        break;
                    }
                    tokio::time::sleep(TICK).await;
                    blobs = server.blob_files();
                }
                blobs
            }
        };
        assert_eq!(
            settle(expected_blobs).await,
            expected_blobs,
            "round {round}: blobs are the objects' segments and the pending uploads' parts"
        );
        for u in ups.uploads() {
            c.abort_multipart_upload()
                .bucket("mcrash")
                .key(u.key().unwrap())
                .upload_id(u.upload_id().unwrap())
                .send()
                .await
                .unwrap();
        }
        assert_eq!(
            settle(objects_only).await,
            objects_only,
            "round {round}: aborting the leftovers frees their parts"
        );
    }
    let n = completes.load(std::sync::atomic::Ordering::Relaxed);
    println!("{ROUNDS} kills, {n} acknowledged Completes");
    assert!(n >= ROUNDS as usize, "Completes really ran between kills");
}

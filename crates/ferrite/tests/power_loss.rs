//! Power loss: every write that was not fsynced at the moment of the cut is lost.
//!
//! SIGKILL (tests/crash.rs) keeps the page cache, so it cannot show a missing fsync.
//! Here the server runs on a real ext4 filesystem on a loop device, and the cut is
//! `FS_IOC_SHUTDOWN` with `EXT4_GOING_FLAGS_NOLOGFLUSH`: the filesystem stops at once,
//! nothing more reaches the device, and neither dirty pages nor the uncommitted
//! journal are written. The filesystem is then unmounted and mounted again (the
//! journal replays), which leaves exactly what a power cut would have: what was made
//! durable (fsync, fdatasync, directory fsync) and what writeback happened to issue
//! before. This is the cut xfstests uses ("godown"); it is more faithful than a FUSE
//! simulation (the real filesystem, journal and fsync paths) and runs where LazyFS
//! cannot be built (no network to fetch it). It needs root and a loop device, as the
//! CI machines have.
//!
//! Under concurrent PUTs (inline and blob), multipart uploads, versioned writes and
//! deletes, the filesystem is cut at several points; after each cut the server starts
//! on the replayed filesystem and every acknowledged write must read back byte-exact,
//! every acknowledged delete must hold, and a write in flight at the cut must be either
//! complete or absent, never partial.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketVersioningStatus;
use common::*;

const CUTS: usize = 6;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An ext4 filesystem on a loop device over a sparse image file.
struct Disk {
    image: PathBuf,
    mount: PathBuf,
    loop_dev: String,
    mounted: bool,
}

impl Disk {
    fn new(dir: &Path) -> Self {
        let image = dir.join("disk.img");
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).unwrap();
        let f = std::fs::File::create(&image).unwrap();
        f.set_len(1 << 30).unwrap();
        let loop_dev = run("losetup", &["--find", "--show", image.to_str().unwrap()]);
        run("mkfs.ext4", &["-q", "-F", &loop_dev]);
        let mut d = Disk {
            image,
            mount,
            loop_dev,
            mounted: false,
        };
        d.mount();
        d
    }

    fn mount(&mut self) {
        run("mount", &[&self.loop_dev, self.mount.to_str().unwrap()]);
        self.mounted = true;
    }

    /// The power cut: the filesystem stops without flushing its journal or pages.
    fn cut(&self) {
        use std::os::fd::AsRawFd;
        const FS_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587D; // _IOR('X', 125, __u32)
        const NOLOGFLUSH: u32 = 2; // EXT4_GOING_FLAGS_NOLOGFLUSH
        let dir = std::fs::File::open(&self.mount).unwrap();
        let flags: u32 = NOLOGFLUSH;
        // SAFETY: FS_IOC_SHUTDOWN reads one u32 through the pointer, which points at a
        // live local; the descriptor is open for the duration of the call.
        let rc = unsafe { libc::ioctl(dir.as_raw_fd(), FS_IOC_SHUTDOWN, &flags as *const u32) };
        assert_eq!(rc, 0, "FS_IOC_SHUTDOWN: {}", std::io::Error::last_os_error());
    }

    fn unmount(&mut self) {
        if self.mounted {
            // The killed server's files are closed; retry while the kernel lets go.
            for _ in 0..50 {
                if Command::new("umount").arg(&self.mount).status().unwrap().success() {
                    self.mounted = false;
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            panic!("cannot unmount {}", self.mount.display());
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
        let _ = Command::new("losetup").args(["-d", &self.loop_dev]).status();
        let _ = std::fs::remove_file(&self.image);
    }
}

fn can_run() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root (loop devices and mount)".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Err("needs /dev/loop-control".into());
    }
    Ok(())
}

/// What a key must look like after a cut: as the last acknowledged write left it, or
/// as the write in flight at the cut would have left it.
#[derive(Clone, Debug, Default)]
struct KeyState {
    /// MD5 of the acknowledged content; None = absent.
    settled: Option<String>,
    /// The write in flight at the cut, if any: Some(None) = a delete.
    in_flight: Option<Option<String>>,
}

#[derive(Default)]
struct Ledger {
    plain: HashMap<String, KeyState>,
    /// Versioned bucket: acknowledged version ids and their MD5.
    versions: HashMap<String, String>,
    /// Acknowledged deletions of versions.
    deleted_versions: Vec<String>,
    /// Version ids of deletions in flight (may or may not have happened).
    doubtful_deletes: Vec<String>,
    /// MD5s of every body ever sent, so any version found must be one of them.
    sent: std::collections::HashSet<String>,
}

async fn put(c: &Client, bucket: &str, key: &str, data: Vec<u8>) -> Result<Option<String>, String> {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data))
        .send()
        .await
        .map(|o| o.version_id().map(str::to_string))
        .map_err(|e| format!("{e:?}"))
}

async fn multipart_put(c: &Client, key: &str, parts: &[Vec<u8>]) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let up = c
        .create_multipart_upload()
        .bucket("plain")
        .key(key)
        .send()
        .await
        .map_err(|x| e(&x))?;
    let id = up.upload_id().unwrap_or_default().to_string();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c
            .upload_part()
            .bucket("plain")
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .map_err(|x| e(&x))?;
        done.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap_or_default())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket("plain")
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|x| e(&x))
}

/// One worker: its own keys, one operation at a time, each recorded in the ledger
/// before it starts (as in flight) and after it is acknowledged (as settled).
async fn worker(c: Client, ledger: Arc<Mutex<Ledger>>, w: usize, round: usize) {
    let mut seq = 0u64;
    loop {
        seq += 1;
        let seed = (round as u64) << 40 | (w as u64) << 32 | seq;
        match w {
            // Plain PUTs, inline and blob-backed, some of them deletes.
            0 | 1 => {
                let key = format!("w{w}-k{}", seq % 7);
                let delete = seq.is_multiple_of(5);
                let data = pattern(
                    if seq.is_multiple_of(2) {
                        900
                    } else {
                        150_000 + (seq as usize % 5000)
                    },
                    seed,
                );
                let md5 = md5_hex(&data);
                {
                    let mut l = ledger.lock().unwrap();
                    l.sent.insert(md5.clone());
                    let st = l.plain.entry(key.clone()).or_default();
                    st.in_flight = Some(if delete { None } else { Some(md5.clone()) });
                }
                let ok = if delete {
                    c.delete_object().bucket("plain").key(&key).send().await.is_ok()
                } else {
                    put(&c, "plain", &key, data).await.is_ok()
                };
                if !ok {
                    return; // the cut: this write stays in flight
                }
                let mut l = ledger.lock().unwrap();
                let st = l.plain.get_mut(&key).unwrap();
                st.settled = st.in_flight.take().unwrap();
            }
            // Multipart uploads.
            2 => {
                let key = format!("w2-m{}", seq % 3);
                let parts = vec![pattern(5 << 20, seed), pattern(70_000, seed + 1)];
                let whole = parts.concat();
                let md5 = md5_hex(&whole);
                {
                    let mut l = ledger.lock().unwrap();
                    l.sent.insert(md5.clone());
                    l.plain.entry(key.clone()).or_default().in_flight = Some(Some(md5));
                }
                if multipart_put(&c, &key, &parts).await.is_err() {
                    return;
                }
                let mut l = ledger.lock().unwrap();
                let st = l.plain.get_mut(&key).unwrap();
                st.settled = st.in_flight.take().unwrap();
            }
            // Versioned writes, and deletions of versions.
            _ => {
                let key = format!("v{}", seq % 4);
                let target = if seq.is_multiple_of(4) {
                    let l = ledger.lock().unwrap();
                    l.versions.keys().next().cloned()
                } else {
                    None
                };
                if let Some(vid) = target {
                    let (k, id) = vid.split_once('@').unwrap();
                    let (k, id) = (k.to_string(), id.to_string());
                    ledger.lock().unwrap().doubtful_deletes.push(vid.clone());
                    let r = c.delete_object().bucket("ver").key(&k).version_id(&id).send().await;
                    if r.is_err() {
                        return;
                    }
                    let mut l = ledger.lock().unwrap();
                    l.doubtful_deletes.retain(|v| v != &vid);
                    l.versions.remove(&vid);
                    l.deleted_versions.push(vid);
                    continue;
                }
                let data = pattern(if seq.is_multiple_of(2) { 2000 } else { 120_000 }, seed);
                let md5 = md5_hex(&data);
                ledger.lock().unwrap().sent.insert(md5.clone());
                match put(&c, "ver", &key, data).await {
                    Ok(Some(vid)) => {
                        ledger.lock().unwrap().versions.insert(format!("{key}@{vid}"), md5);
                    }
                    _ => return,
                }
            }
        }
    }
}

async fn body_md5(c: &Client, bucket: &str, key: &str, version: Option<&str>) -> Option<String> {
    let mut req = c.get_object().bucket(bucket).key(key);
    if let Some(v) = version {
        req = req.version_id(v);
    }
    match req.send().await {
        Ok(out) => {
            let bytes = out
                .body
                .collect()
                .await
                .expect("a stored object reads whole")
                .into_bytes();
            Some(md5_hex(&bytes))
        }
        Err(e) if code(&e) == "NoSuchKey" || code(&e) == "NoSuchVersion" => None,
        Err(e) => panic!("GET {bucket}/{key} {version:?}: {e:?}"),
    }
}

async fn verify(c: &Client, ledger: &Ledger) -> usize {
    let mut checked = 0;
    for (key, st) in &ledger.plain {
        let got = body_md5(c, "plain", key, None).await;
        let ok = got == st.settled || st.in_flight.as_ref().is_some_and(|f| *f == got);
        assert!(
            ok,
            "{key}: after the cut it is {got:?}; acknowledged {:?}, in flight {:?}",
            st.settled, st.in_flight
        );
        checked += 1;
    }
    for (vid, md5) in &ledger.versions {
        let (key, id) = vid.split_once('@').unwrap();
        let got = body_md5(c, "ver", key, Some(id)).await;
        if ledger.doubtful_deletes.contains(vid) && got.is_none() {
            continue;
        }
        assert_eq!(got.as_ref(), Some(md5), "acknowledged version {vid} lost or changed");
        checked += 1;
    }
    for vid in &ledger.deleted_versions {
        let (key, id) = vid.split_once('@').unwrap();
        assert_eq!(
            body_md5(c, "ver", key, Some(id)).await,
            None,
            "deleted version {vid} is back"
        );
    }
    // Every version present is whole and is one of the bodies sent.
    let listed = c.list_object_versions().bucket("ver").send().await.unwrap();
    for v in listed.versions() {
        let got = body_md5(c, "ver", v.key().unwrap(), v.version_id()).await;
        if let Some(got) = got {
            assert!(ledger.sent.contains(&got), "a version holds bytes never sent");
        }
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_power_cuts() {
    if let Err(why) = can_run() {
        // Loud, so a run without the means is not mistaken for a pass.
        eprintln!("power-loss test NOT RUN: {why}");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the power-loss test: {why}"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut disk = Disk::new(tmp.path());
    let data_dir = disk.mount.join("data");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut total_checked = 0;
    {
        let server = Server::start_in(&data_dir, &[]);
        let c = server.client();
        c.create_bucket().bucket("plain").send().await.unwrap();
        c.create_bucket().bucket("ver").send().await.unwrap();
        set_versioning(&c, "ver", BucketVersioningStatus::Enabled).await;
        drop(server);
    }
    for round in 0..CUTS {
        let mut server = Server::start_in(&data_dir, &[]);
        let c = server.client();
        let workers: Vec<_> = (0..4)
            .map(|w| tokio::spawn(worker(c.clone(), ledger.clone(), w, round)))
            .collect();
        // Cut somewhere in 0.4 .. 2.2 s of load.
        tokio::time::sleep(Duration::from_millis(400 + (round as u64 * 373) % 1800)).await;
        disk.cut();
        server.kill();
        for w in workers {
            let _ = tokio::time::timeout(Duration::from_secs(60), w).await;
        }
        disk.unmount();
        disk.mount();
        let server = Server::start_in(&data_dir, &[]);
        let c = server.client();
        let l = std::mem::take(&mut *ledger.lock().unwrap());
        total_checked += verify(&c, &l).await;
        // What was in doubt is now settled as found.
        let mut settled = l;
        let keys: Vec<String> = settled.plain.keys().cloned().collect();
        for key in keys {
            let got = body_md5(&c, "plain", &key, None).await;
            let st = settled.plain.get_mut(&key).unwrap();
            st.settled = got;
            st.in_flight = None;
        }
        let doubtful = std::mem::take(&mut settled.doubtful_deletes);
        for vid in doubtful {
            let (key, id) = vid.split_once('@').unwrap();
            if body_md5(&c, "ver", key, Some(id)).await.is_none() {
                settled.versions.remove(&vid);
                settled.deleted_versions.push(vid);
            }
        }
        *ledger.lock().unwrap() = settled;
        drop(server);
    }
    let l = ledger.lock().unwrap();
    assert!(l.versions.len() >= 5, "only {} versions acknowledged", l.versions.len());
    assert!(total_checked > 30, "only {total_checked} checks");
    eprintln!(
        "power-loss: {CUTS} cuts, {total_checked} acknowledged keys and versions checked, {} versions live",
        l.versions.len()
    );
}

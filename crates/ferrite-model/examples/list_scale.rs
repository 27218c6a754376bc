//! Measures listing at scale: fills a bucket with N objects (default 1,000,000) through
//! the model, then times ListObjects pages of 1000 keys from points across the bucket.
//!
//! `cargo run --release -p ferrite-model --example list_scale -- [N] [DIR]`
//! The fill runs without fsync (it measures listing, not writes), 64 PUTs at a time.
//! With `FERRITE_META=postgres://...` the metadata goes to that PostgreSQL database
//! (the data to DIR), as `ferrite serve --meta` does.

use std::time::Instant;

use bytes::Bytes;
use ferrite_model::{Caller, Ferrite, ListQuery, MAX_PUT_SIZE, Options, PutAttrs};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse().expect("N")).unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let opts = Options {
        region: "us-east-1".into(),
        durable: false,
        body_idle_timeout: Options::DEFAULT_BODY_IDLE_TIMEOUT,
        meta_cache_bytes: Options::DEFAULT_META_CACHE,
        root_canonical_id: "0".repeat(64),
        lifecycle_day: ferrite_model::DAY,
        restore_delay: std::time::Duration::ZERO,
        tiering: Default::default(),
        console_session_ttl: ferrite_model::Options::DEFAULT_CONSOLE_SESSION_TTL,
        keys: None,
    };
    let f = match std::env::var("FERRITE_META") {
        Ok(url) => {
            let pg = ferrite_store::PgOptions {
                durable: false,
                pool_size: 64,
                ..Default::default()
            };
            let meta = tokio::task::spawn_blocking(move || ferrite_store::PgMetaStore::connect(&url, pg))
                .await
                .unwrap()
                .unwrap();
            println!("metadata on PostgreSQL");
            Ferrite::open_external(&dir, std::sync::Arc::new(meta), opts)
                .await
                .unwrap()
        }
        Err(_) => Ferrite::open_local(&dir, opts).await.unwrap(),
    };
    let root = Caller::root("0".repeat(64), "bench");
    if f.head_bucket(&root, "scale").await.is_err() {
        f.create_bucket(&root, "scale", Default::default()).await.unwrap();
        let started = Instant::now();
        use futures::StreamExt as _;
        futures::stream::iter(0..n)
            .map(|i| {
                let (f, root) = (f.clone(), root.clone());
                async move {
                    let key = format!("dir{:03}/obj{:08}", i % 1000, i);
                    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]);
                    let staged = f.stage(body, None, MAX_PUT_SIZE).await.unwrap();
                    f.put_staged(&root, "scale", &key, staged, PutAttrs::default())
                        .await
                        .unwrap();
                }
            })
            .buffer_unordered(64)
            .for_each(|()| async {})
            .await;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "filled {n} objects in {secs:.1} s ({:.0} puts/s, no fsync)",
            n as f64 / secs
        );
    }
    for (label, delimiter) in [("no delimiter", None), ("delimiter '/'", Some("/".to_string()))] {
        let mut times = Vec::new();
        for i in 0..50 {
            let q = ListQuery {
                prefix: String::new(),
                delimiter: delimiter.clone(),
                start_after: Some(format!("dir{:03}/", (i * 20) % 1000)),
                max_keys: 1000,
            };
            let t = Instant::now();
            let page = f.list_objects(&root, "scale", q).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(!page.objects.is_empty() || !page.common_prefixes.is_empty());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "list 1000 from {n} ({label}): median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[times.len() - 1]
        );
    }
}

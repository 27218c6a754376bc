//! `ferrite migrate`: an embedded data dir into a database and a RADOS pool (or a
//! new data dir). The copy itself is `ferrite_model::migrate`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use ferrite_store::{BlobStore, FsBlobStore, MetaStore, RedbMetaStore};

use crate::MetaUrl;

#[derive(clap::Args, Debug, Clone)]
pub struct MigrateArgs {
    /// The data dir to copy from (its server stopped: the embedded store is locked
    /// while a server has it open).
    #[arg(long, value_name = "DATA_DIR")]
    pub from: PathBuf,
    /// The destination metadata store (postgres://...), as `ferrite serve --meta`.
    #[arg(long, env = "FERRITE_META", value_name = "URL")]
    pub meta: MetaUrl,
    /// The destination blob store (rados:pool=...), as `ferrite serve --blobs`.
    #[arg(long, env = "FERRITE_BLOBS", value_name = "STORE")]
    pub blobs: Option<String>,
    /// Without --blobs: the new data dir that receives the data (then served with
    /// `ferrite serve --data-dir DIR --meta URL`). Not the --from dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let src_path = args.from.join(ferrite_model::EMBEDDED_META);
    anyhow::ensure!(
        src_path.is_file(),
        "{} holds no embedded store ({} is missing)",
        args.from.display(),
        src_path.display()
    );
    let dst_blobs: Arc<dyn BlobStore> = match (&args.blobs, &args.data_dir) {
        (Some(_), Some(_)) => anyhow::bail!("give --blobs or --data-dir for the data, not both"),
        (None, None) => anyhow::bail!("where does the data go? --blobs rados:... or --data-dir DIR"),
        (Some(spec), None) => {
            let Some(target) = spec.strip_prefix("rados:") else {
                anyhow::bail!("unknown --blobs {spec:?}: expected rados:pool=NAME[,conf=PATH][,user=NAME]");
            };
            crate::server::open_rados(target.to_string()).await?
        }
        (None, Some(dir)) => {
            let same = match (dir.canonicalize(), args.from.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            anyhow::ensure!(!same, "--data-dir must be a new directory, not the --from dir");
            anyhow::ensure!(
                !dir.join(ferrite_model::EMBEDDED_META).exists(),
                "{} holds an embedded store of its own",
                dir.display()
            );
            crate::datadir::prepare(dir)?;
            Arc::new(FsBlobStore::open(dir, true)?)
        }
    };
    let from = args.from.clone();
    let url = args.meta.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let src_meta = RedbMetaStore::open(&src_path, true)
            .with_context(|| format!("opening {} (is its server stopped?)", src_path.display()))?;
        let src_blobs = FsBlobStore::open(&from, true)?;
        let dst_meta = ferrite_store::PgMetaStore::connect(&url.0, ferrite_store::PgOptions::default())
            .context("connecting to the destination metadata store (--meta)")?;
        let mut last_line = std::time::Instant::now() - std::time::Duration::from_secs(10);
        let mut show = |p: &ferrite_model::migrate::MigrateProgress| {
            if last_line.elapsed() >= std::time::Duration::from_millis(500) {
                last_line = std::time::Instant::now();
                print_progress(p);
            }
        };
        let report = ferrite_model::migrate::migrate(
            &src_meta as &dyn MetaStore,
            &src_blobs,
            &dst_meta,
            &*dst_blobs,
            &mut show,
        )?;
        Ok(report)
    })
    .await??;
    print_progress(&report);
    println!(
        "migrated: {} blobs ({} bytes, each verified), {} metadata rows{}",
        report.blobs_done,
        report.bytes_done,
        report.rows_done,
        if report.resumed { " (resumed)" } else { "" }
    );
    println!(
        "next: serve with the same root credentials and master key as the source \
         ({}/credentials.json and master.key, or FERRITE_ROOT_* and FERRITE_KMS_MASTER_KEY*)",
        args.from.display()
    );
    Ok(())
}

fn print_progress(p: &ferrite_model::migrate::MigrateProgress) {
    let phase = if p.table.is_empty() {
        "blobs".to_string()
    } else {
        format!("table {}", p.table)
    };
    println!(
        "progress: blobs {}/{} ({} bytes), rows {}, {phase}",
        p.blobs_done, p.blobs_total, p.bytes_done, p.rows_done
    );
}

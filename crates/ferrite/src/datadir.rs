//! The data directory: private to the server's user, and its creation durable.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Makes everything the server creates from now on private to its user (files 0600,
/// directories 0700, whatever umask it was started with), creates `data_dir` if
/// needed (0700, its entry fsynced in the parent), and warns when an existing data
/// dir can be read by other users.
pub fn prepare(data_dir: &Path) -> anyhow::Result<()> {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    if data_dir.is_dir() {
        let mode = std::fs::metadata(data_dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                data_dir = %data_dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory can be read by other users; `chmod 700` it to keep objects private"
            );
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", parent.display()))?;
    Ok(())
}

/// Creates `dir/name` holding `bytes`, readable only by the server's user (0600):
/// written whole to a temporary name, fsynced, renamed, and the directory entry
/// fsynced, so a crash leaves either no file or the whole file.
pub fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

//! The built-in key provider's master key: from `--kms-master-key-file`, from
//! `FERRITE_KMS_MASTER_KEY`, or generated at the first start into the data dir's
//! `master.key` (mode 0600), beside the data files but not among them.
//!
//! Every form is 32 bytes, base64-encoded (a file may end in a newline). What the
//! generated file does and does not protect against is in the README: a copy of the
//! metadata file or of the blob files alone reveals no object plaintext; a copy of
//! the whole data dir, key file included, does.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ferrite_model::Key;
use zeroize::Zeroizing;

/// The generated key file's name in the data dir.
pub const FILE: &str = "master.key";

/// Where the master key came from, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Env,
    Generated(PathBuf),
}

/// The master key: from `file` (`--kms-master-key-file`), else `env`
/// (`FERRITE_KMS_MASTER_KEY`'s value), else the data dir's key file, generated if it
/// does not exist. Both given is an error (which one was meant?).
pub fn load(data_dir: &Path, file: Option<&Path>, env: Option<Zeroizing<String>>) -> anyhow::Result<(Key, Source)> {
    let env = env.filter(|v| !v.trim().is_empty());
    match (file, env) {
        (Some(_), Some(_)) => bail!("give the master key by --kms-master-key-file or FERRITE_KMS_MASTER_KEY, not both"),
        (Some(path), None) => Ok((read(path)?, Source::File(path.to_path_buf()))),
        (None, Some(value)) => Ok((parse(&value).context("FERRITE_KMS_MASTER_KEY")?, Source::Env)),
        (None, None) => {
            let path = data_dir.join(FILE);
            if path.exists() {
                return Ok((read(&path)?, Source::File(path)));
            }
            let key = Key::random().context("generating a master key")?;
            let text = Zeroizing::new(format!("{}\n", B64.encode(key.expose())));
            crate::datadir::write_private(data_dir, FILE, text.as_bytes())?;
            Ok((key, Source::Generated(path)))
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Key> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading the master key file {}", path.display()))?,
    );
    parse(&text).with_context(|| format!("the master key file {}", path.display()))
}

fn parse(text: &str) -> anyhow::Result<Key> {
    let bytes = Zeroizing::new(
        B64.decode(text.trim())
            .map_err(|_| anyhow::anyhow!("a master key is 32 bytes in base64; this is not base64"))?,
    );
    Key::from_slice(&bytes).map_err(|_| anyhow::anyhow!("a master key is 32 bytes; this one is {}", bytes.len()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generated_once_then_read_back_private() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = load(dir.path(), None, None).unwrap();
        assert_eq!(source, Source::Generated(dir.path().join(FILE)));
        let mode = std::fs::metadata(dir.path().join(FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (second, source) = load(dir.path(), None, None).unwrap();
        assert_eq!(source, Source::File(dir.path().join(FILE)));
        assert_eq!(first, second);
    }

    #[test]
    fn given_keys_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = B64.encode([5u8; 32]);
        let (key, source) = load(dir.path(), None, Some(Zeroizing::new(good.clone()))).unwrap();
        assert_eq!((key.expose(), source), (&[5u8; 32], Source::Env));
        assert!(!dir.path().join(FILE).exists(), "nothing generated when a key is given");
        let file = dir.path().join("given.key");
        std::fs::write(&file, format!("{good}\n")).unwrap();
        assert_eq!(load(dir.path(), Some(&file), None).unwrap().0.expose(), &[5u8; 32]);
        assert!(
            load(dir.path(), Some(&file), Some(Zeroizing::new(good))).is_err(),
            "both"
        );
        let short = Zeroizing::new(B64.encode([1u8; 16]));
        let e = load(dir.path(), None, Some(short)).unwrap_err();
        assert!(format!("{e:#}").contains("32 bytes"), "{e:#}");
        assert!(load(dir.path(), None, Some(Zeroizing::new("not base64!".into()))).is_err());
        std::fs::write(&file, "garbage").unwrap();
        assert!(load(dir.path(), Some(&file), None).is_err());
    }
}

//! The built-in key provider's master key: from `--kms-master-key-file`, from
//! `FERRITE_KMS_MASTER_KEY`, or generated at the first start into the data dir's
//! `master.key` (mode 0600), beside the data files but not among them.
//!
//! A key is 32 bytes, base64-encoded (a file may end in a newline). A key file is a
//! key ring once the key has been rotated (`ferrite admin kms rotate`): one
//! `<version>:<base64>` line per version, the highest current; a line that is just a
//! key is version 1, so a file from before rotation existed reads unchanged. A
//! rotation writes the ring back to the file it came from (atomically: a temporary
//! file, fsync, rename); a key given by the environment cannot rotate. What the
//! generated file does and does not protect against is in the README: a copy of the
//! metadata file or of the blob files alone reveals no object plaintext; a copy of
//! the whole data dir, key file included, does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ferrite_model::{Key, KeyringStore, ModelError, ModelResult};
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

/// The master key's versions (the highest is current).
pub type Ring = BTreeMap<u32, Key>;

/// The master key ring: from `file` (`--kms-master-key-file`), else `env`
/// (`FERRITE_KMS_MASTER_KEY`'s value), else the data dir's key file, generated if it
/// does not exist. Both given is an error (which one was meant?).
pub fn load(data_dir: &Path, file: Option<&Path>, env: Option<Zeroizing<String>>) -> anyhow::Result<(Ring, Source)> {
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
            Ok((BTreeMap::from([(1, key)]), Source::Generated(path)))
        }
    }
}

/// Where a rotated ring is kept: the file it was read from (none for the environment).
pub fn store_for(source: &Source) -> Option<Box<dyn KeyringStore>> {
    match source {
        Source::File(path) | Source::Generated(path) => Some(Box::new(FileRing(path.clone()))),
        Source::Env => None,
    }
}

fn read(path: &Path) -> anyhow::Result<Ring> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading the master key file {}", path.display()))?,
    );
    parse(&text).with_context(|| format!("the master key file {}", path.display()))
}

fn parse(text: &str) -> anyhow::Result<Ring> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut ring = Ring::new();
    match lines.as_slice() {
        [] => bail!("no key in it"),
        [only] if !only.contains(':') => {
            ring.insert(1, parse_key(only)?);
        }
        _ => {
            for line in lines {
                let Some((version, key)) = line.split_once(':') else {
                    bail!("a key ring's lines are <version>:<base64 key>");
                };
                let version: u32 = version
                    .trim()
                    .parse()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| anyhow::anyhow!("a key version is a positive number, not {version:?}"))?;
                if ring.insert(version, parse_key(key.trim())?).is_some() {
                    bail!("key version {version} appears twice");
                }
            }
        }
    }
    Ok(ring)
}

fn parse_key(text: &str) -> anyhow::Result<Key> {
    let bytes = Zeroizing::new(
        B64.decode(text)
            .map_err(|_| anyhow::anyhow!("a master key is 32 bytes in base64; this is not base64"))?,
    );
    Key::from_slice(&bytes).map_err(|_| anyhow::anyhow!("a master key is 32 bytes; this one is {}", bytes.len()))
}

/// The ring as a key file holds it.
fn render(ring: &Ring) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::from(
        "# ferrite master key ring: <version>:<base64 key>, the highest version is current\n",
    ));
    for (version, key) in ring {
        text.push_str(&format!("{version}:{}\n", B64.encode(key.expose())));
    }
    text
}

/// A key file that keeps a rotated ring.
struct FileRing(PathBuf);

impl KeyringStore for FileRing {
    fn save(&self, versions: &BTreeMap<u32, Key>) -> ModelResult<()> {
        let (Some(dir), Some(name)) = (self.0.parent(), self.0.file_name().and_then(|n| n.to_str())) else {
            return Err(ModelError::Internal(format!(
                "the key file {} has no directory",
                self.0.display()
            )));
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        crate::datadir::write_private(dir, name, render(versions).as_bytes()).map_err(|e| {
            ModelError::KeyUnavailable(format!("cannot write the master key file {}: {e:#}", self.0.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generated_once_then_read_back_private() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = load(dir.path(), None, None).unwrap();
        let first = first[&1].clone();
        assert_eq!(source, Source::Generated(dir.path().join(FILE)));
        let mode = std::fs::metadata(dir.path().join(FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (second, source) = load(dir.path(), None, None).unwrap();
        let second = second[&1].clone();
        assert_eq!(source, Source::File(dir.path().join(FILE)));
        assert_eq!(first, second);
    }

    #[test]
    fn given_keys_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = B64.encode([5u8; 32]);
        let (ring, source) = load(dir.path(), None, Some(Zeroizing::new(good.clone()))).unwrap();
        assert_eq!((ring[&1].expose(), ring.len(), source), (&[5u8; 32], 1, Source::Env));
        assert!(!dir.path().join(FILE).exists(), "nothing generated when a key is given");
        let file = dir.path().join("given.key");
        std::fs::write(&file, format!("{good}\n")).unwrap();
        assert_eq!(load(dir.path(), Some(&file), None).unwrap().0[&1].expose(), &[5u8; 32]);
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

    #[test]
    fn a_rotated_ring_is_kept_in_its_file_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (ring, source) = load(dir.path(), None, None).unwrap();
        let store = store_for(&source).expect("a generated key file keeps rotations");
        let mut rotated = ring.clone();
        rotated.insert(2, Key::from_slice(&[9u8; 32]).unwrap());
        store.save(&rotated).unwrap();
        let path = dir.path().join(FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (back, _) = load(dir.path(), None, None).unwrap();
        assert_eq!(back.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(back[&1], ring[&1]);
        assert_eq!(back[&2].expose(), &[9u8; 32]);
        // A ring given by the environment reads, but has nowhere to keep a rotation.
        let text = std::fs::read_to_string(&path).unwrap();
        let (env_ring, env) = load(dir.path(), None, Some(Zeroizing::new(text))).unwrap();
        assert_eq!(env_ring.len(), 2);
        assert!(store_for(&env).is_none());
        for bad in ["1:AAAA\n", "0:x\n", "1:QUFB\n1:QUFB\n", "x:y\nz\n"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}

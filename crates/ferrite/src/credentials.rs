//! Root credentials: from the environment, or generated once and kept in the data dir.

use std::path::Path;

use anyhow::Context;
use rand::Rng;
use serde::{Deserialize, Serialize};

const FILE: &str = "credentials.json";

#[derive(Serialize, Deserialize)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// The root credentials from the environment or `data_dir`'s credentials.json, for
/// clients (`ferrite admin`): never generated.
pub fn load(data_dir: &Path) -> anyhow::Result<Credentials> {
    let env_ak = std::env::var("FERRITE_ROOT_ACCESS_KEY").ok().filter(|s| !s.is_empty());
    let env_sk = std::env::var("FERRITE_ROOT_SECRET_KEY").ok().filter(|s| !s.is_empty());
    match (env_ak, env_sk) {
        (Some(access_key), Some(secret_key)) => return Ok(Credentials { access_key, secret_key }),
        (None, None) => {}
        _ => anyhow::bail!("set both FERRITE_ROOT_ACCESS_KEY and FERRITE_ROOT_SECRET_KEY, or neither"),
    }
    let path = data_dir.join(FILE);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "no root credentials: set FERRITE_ROOT_ACCESS_KEY and FERRITE_ROOT_SECRET_KEY, or point --data-dir at \
             the server's data dir ({} is unreadable)",
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
}

/// Returns the root credentials and whether they were generated just now.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<(Credentials, bool)> {
    let env_ak = std::env::var("FERRITE_ROOT_ACCESS_KEY").ok().filter(|s| !s.is_empty());
    let env_sk = std::env::var("FERRITE_ROOT_SECRET_KEY").ok().filter(|s| !s.is_empty());
    match (env_ak, env_sk) {
        (Some(access_key), Some(secret_key)) => return Ok((Credentials { access_key, secret_key }, false)),
        (None, None) => {}
        _ => anyhow::bail!("set both FERRITE_ROOT_ACCESS_KEY and FERRITE_ROOT_SECRET_KEY, or neither"),
    }
    let path = data_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let c = serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?;
            return Ok((c, false));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let creds = Credentials {
        access_key: random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 20),
        secret_key: random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 40),
    };
    crate::datadir::write_private(data_dir, FILE, &serde_json::to_vec_pretty(&creds)?)?;
    Ok((creds, true))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generated_once_then_reused_with_private_mode() {
        // The environment variables are not set in the test environment.
        if std::env::var_os("FERRITE_ROOT_ACCESS_KEY").is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (first, generated) = load_or_create(dir.path()).unwrap();
        assert!(generated);
        assert_eq!(first.access_key.len(), 20);
        assert_eq!(first.secret_key.len(), 40);
        let mode = std::fs::metadata(dir.path().join(FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (second, generated) = load_or_create(dir.path()).unwrap();
        assert!(!generated);
        assert_eq!(second.access_key, first.access_key);
        assert_eq!(second.secret_key, first.secret_key);
    }
}

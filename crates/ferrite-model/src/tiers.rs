//! Tiers: where a version's bytes live. The data dir's own blob store is the default
//! tier (named `""` in records, `default` to operators); an operator declares more
//! (`--tier NAME=DIR[,compress]`, each a blob store of its own, typically another
//! disk) and places storage classes on them (`--class-tier CLASS=NAME`).
//!
//! Every blob lives in exactly one tier, and every record that points at data names
//! its tier (`ObjectRecord::tier`, `UploadRecord::tier` for an upload's parts), so a
//! read goes straight to it and a changed mapping never loses data: records written
//! under the old mapping keep naming the tier they are in. Moving a version to
//! another tier copies its stored bytes (sealed data as it is: the seal binds the
//! version, not the file) into a new blob there, then one metadata commit swaps the
//! record's data and tier, and the old blob goes to the collector.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrite_store::{BlobId, BlobStore, FsBlobStore, ZstdBlobStore};
use serde::{Deserialize, Serialize};

use crate::records::{DataRef, Initial, Record, StorageClass, first_version};
use crate::{ModelError, ModelResult};

/// The name operators use for the data dir's own tier.
pub const DEFAULT_TIER: &str = "default";

/// A tier an operator declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierSpec {
    pub name: String,
    pub dir: PathBuf,
    /// Store the bytes zstd-compressed (meant for archive tiers: reads that start
    /// mid-blob decompress from its start).
    pub compress: bool,
}

impl TierSpec {
    /// Parses `NAME=DIR[,compress]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("--tier {s:?}: expected NAME=DIR[,compress]"))?;
        check_name(name)?;
        let (dir, compress) = match rest.rsplit_once(',') {
            Some((dir, "compress")) => (dir, true),
            Some((_, opt)) => return Err(format!("--tier {s:?}: unknown option {opt:?} (known: compress)")),
            None => (rest, false),
        };
        if dir.is_empty() {
            return Err(format!("--tier {s:?}: the directory is empty"));
        }
        Ok(Self {
            name: name.to_string(),
            dir: PathBuf::from(dir),
            compress,
        })
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !ok {
        return Err(format!("tier name {name:?}: 1 to 32 of a-z, 0-9, '-' and '_'"));
    }
    Ok(())
}

/// Parses `CLASS=NAME` (`--class-tier`).
pub fn parse_class_tier(s: &str) -> Result<(StorageClass, String), String> {
    let (class, name) = s
        .split_once('=')
        .ok_or_else(|| format!("--class-tier {s:?}: expected CLASS=TIER"))?;
    let class =
        StorageClass::parse(class).ok_or_else(|| format!("--class-tier {s:?}: unknown storage class {class:?}"))?;
    check_name(name)?;
    Ok((class, name.to_string()))
}

/// The operator's tier layout: the tiers beside the data dir, and which class goes
/// where (classes not named stay in the data dir).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tiering {
    pub tiers: Vec<TierSpec>,
    pub classes: Vec<(StorageClass, String)>,
}

/// Refuses a layout whose tiers share a directory with the data dir or with each
/// other (two stores over one directory would each take the other's blobs for
/// orphans). Creates the tier directories.
pub(crate) fn check_dirs(data_dir: &Path, tiering: &Tiering) -> ModelResult<()> {
    let canon = |p: &Path| {
        std::fs::create_dir_all(p)
            .and_then(|_| p.canonicalize())
            .map_err(|e| ModelError::Store(e.into()))
    };
    let mut seen = vec![(DEFAULT_TIER.to_string(), canon(data_dir)?)];
    for t in &tiering.tiers {
        let dir = canon(&t.dir)?;
        if let Some((other, _)) = seen.iter().find(|(_, d)| dir.starts_with(d) || d.starts_with(&dir)) {
            return Err(ModelError::InvalidArgument(format!(
                "tier {:?} ({}) overlaps tier {other:?}: every tier needs a directory of its own",
                t.name,
                t.dir.display()
            )));
        }
        seen.push((t.name.clone(), dir));
    }
    Ok(())
}

/// The tiers this data dir has been started with (`system` table, [`REGISTRY`]): a
/// tier that disappears from the command line while its directory still holds blobs
/// would leave the versions in it unreadable, so start-up refuses that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TierRegistry {
    /// (name, directory) of each declared tier.
    pub tiers: Vec<(String, String)>,
}

first_version!(TierRegistry);

pub(crate) const REGISTRY: &[u8] = b"tiers";

/// Checks the declared layout against the registry and returns the registry to
/// store when it changed: a tier declared before and not now is refused while its
/// directory holds blobs (and forgotten when it holds none).
pub(crate) fn check_registry(
    stored: Option<TierRegistry>,
    tiering: &Tiering,
    durable: bool,
) -> ModelResult<Option<TierRegistry>> {
    let now = TierRegistry {
        tiers: tiering
            .tiers
            .iter()
            .map(|t| (t.name.clone(), t.dir.display().to_string()))
            .collect(),
    };
    let before = stored.unwrap_or_default();
    for (name, dir) in &before.tiers {
        if tiering.tiers.iter().any(|t| &t.name == name) {
            continue;
        }
        let path = Path::new(dir);
        if !path.join("blobs").is_dir() {
            continue;
        }
        let mut held = 0usize;
        FsBlobStore::open(path, durable)?.for_each(&mut |_, _| held += 1)?;
        if held > 0 {
            return Err(ModelError::InvalidArgument(format!(
                "tier {name:?} ({dir}) holds {held} blobs that versions may still reference; \
                 declare it again with --tier {name}={dir} (move its versions elsewhere first to retire it)"
            )));
        }
    }
    Ok((now != before).then_some(now))
}

/// The open tiers.
pub(crate) struct Tiers {
    default: Arc<dyn BlobStore>,
    named: BTreeMap<String, Arc<dyn BlobStore>>,
    /// Class -> the tier its new data goes to (record form: `""` is the default).
    by_class: HashMap<StorageClass, String>,
}

impl Tiers {
    /// Opens every declared tier's blob store; refuses a layout that names a tier it
    /// does not declare, declares one twice, or redeclares `default`.
    pub(crate) fn open(default: Arc<dyn BlobStore>, tiering: &Tiering, durable: bool) -> ModelResult<Self> {
        let mut named: BTreeMap<String, Arc<dyn BlobStore>> = BTreeMap::new();
        for t in &tiering.tiers {
            if t.name == DEFAULT_TIER {
                return Err(ModelError::InvalidArgument(format!(
                    "tier {DEFAULT_TIER:?} is the data dir; declare other names"
                )));
            }
            let fs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(&t.dir, durable)?);
            let store = match t.compress {
                true => Arc::new(ZstdBlobStore::new(fs)) as Arc<dyn BlobStore>,
                false => fs,
            };
            if named.insert(t.name.clone(), store).is_some() {
                return Err(ModelError::InvalidArgument(format!(
                    "tier {:?} is declared twice",
                    t.name
                )));
            }
        }
        let mut by_class = HashMap::new();
        for (class, name) in &tiering.classes {
            let tier = match name.as_str() {
                DEFAULT_TIER => String::new(),
                n if named.contains_key(n) => n.to_string(),
                n => {
                    return Err(ModelError::InvalidArgument(format!(
                        "--class-tier {}={n}: no tier {n:?} is declared (--tier {n}=DIR)",
                        class.as_str()
                    )));
                }
            };
            by_class.insert(*class, tier);
        }
        Ok(Self {
            default,
            named,
            by_class,
        })
    }

    /// The tier new data of `class` goes to (record form).
    pub(crate) fn for_class(&self, class: Option<StorageClass>) -> &str {
        let class = class.unwrap_or(StorageClass::Standard);
        self.by_class.get(&class).map_or("", |s| s.as_str())
    }

    /// The blob store of tier `name` (record form).
    pub(crate) fn store(&self, name: &str) -> ModelResult<&Arc<dyn BlobStore>> {
        match name {
            "" => Ok(&self.default),
            n => self.named.get(n).ok_or_else(|| {
                ModelError::Internal(format!(
                    "data lives in tier {n:?}, which this server does not declare (--tier {n}=DIR)"
                ))
            }),
        }
    }

    /// Every tier, the default first (record-form names).
    pub(crate) fn all(&self) -> impl Iterator<Item = (&str, &Arc<dyn BlobStore>)> {
        std::iter::once(("", &self.default)).chain(self.named.iter().map(|(n, s)| (n.as_str(), s)))
    }
}

/// Copies the stored bytes of `data` (blobs in tier `from`) into new blobs of tier
/// `to`, made durable; returns the new reference (same shape, new ids). Inline data
/// (in the metadata store) becomes a blob of a named tier, and stays as it is for
/// the data dir's. Blocking. On error the blobs made so far are deleted (any left
/// by a crash are orphans for the sweep).
pub(crate) fn copy_blobs(inner: &crate::engine::Inner, data: &DataRef, from: &str, to: &str) -> ModelResult<DataRef> {
    let tiers = &inner.tiers;
    let (src, dst) = (tiers.store(from)?, tiers.store(to)?);
    let mut made = Vec::new();
    let result = (|| {
        Ok(match data {
            DataRef::Inline(_) if to.is_empty() => data.clone(),
            DataRef::Inline(id) => {
                // The stored bytes as they are (sealed ones included: an inline body
                // is sealed in the same chunk format as a blob).
                let bytes = inner
                    .meta
                    .begin_read()?
                    .get(crate::tables::INLINE, id)?
                    .ok_or_else(|| ModelError::Corrupt("inline data missing".into()))?;
                let mut writer = dst.create()?;
                writer.write(&bytes)?;
                let new = writer.finish()?;
                made.push(new);
                DataRef::Blob(new.0)
            }
            DataRef::Blob(id) => {
                let new = copy_one(&**src, &**dst, *id)?;
                made.push(new);
                DataRef::Blob(new.0)
            }
            DataRef::Segments(segs) => {
                let mut out = Vec::with_capacity(segs.len());
                for s in segs {
                    let new = copy_one(&**src, &**dst, s.blob)?;
                    made.push(new);
                    out.push(crate::records::Segment {
                        blob: new.0,
                        ..s.clone()
                    });
                }
                DataRef::Segments(out)
            }
        })
    })();
    if result.is_err() {
        for id in made {
            let _ = dst.delete(id);
        }
    }
    result
}

/// Deletes the blobs of a copy no commit took (a crash before this leaves them to
/// the orphan sweep).
pub(crate) async fn discard_copy(inner: &Arc<crate::engine::Inner>, tier: &str, data: &DataRef) {
    let (inner, tier, ids) = (inner.clone(), tier.to_string(), data.ids());
    let done = crate::engine::blocking(move || {
        let store = inner.tiers.store(&tier)?;
        for id in ids {
            store.delete(BlobId(id))?;
        }
        Ok(())
    })
    .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "could not remove an unused copy; the orphan sweep will");
    }
}

const COPY_BUF: usize = 1024 * 1024;

fn copy_one(src: &dyn BlobStore, dst: &dyn BlobStore, id: [u8; 16]) -> ModelResult<BlobId> {
    let reader = src
        .open(BlobId(id))?
        .ok_or_else(|| ModelError::Corrupt(format!("blob {} is missing", BlobId(id).to_hex())))?;
    let mut writer = dst.create()?;
    let mut buf = vec![0u8; COPY_BUF];
    let mut at = 0u64;
    loop {
        let n = reader.read_at(at, &mut buf)?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n])?;
        at += n as u64;
    }
    if at != reader.len() {
        return Err(ModelError::Corrupt(format!(
            "blob {} ended at {at} of {} bytes",
            BlobId(id).to_hex(),
            reader.len()
        )));
    }
    Ok(writer.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_flags_parse_as_documented() {
        let t = TierSpec::parse("cold=/mnt/cold,compress").unwrap();
        assert_eq!(
            (t.name.as_str(), t.dir.to_str().unwrap(), t.compress),
            ("cold", "/mnt/cold", true)
        );
        let t = TierSpec::parse("ia=/mnt/a,b").unwrap_err();
        assert!(t.contains("unknown option"), "{t}");
        assert!(!TierSpec::parse("fast=/x").unwrap().compress);
        for bad in ["", "=/x", "Cold=/x", "x", "x=", "x=,compress"] {
            assert!(TierSpec::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_class_tier("GLACIER=cold").unwrap(),
            (StorageClass::Glacier, "cold".to_string())
        );
        assert!(parse_class_tier("glacier=cold").is_err());
        assert!(parse_class_tier("GLACIER").is_err());
    }
}

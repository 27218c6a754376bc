//! What the server is: its on-disk format, how long it has been open, and its tiers
//! with their classes and space. An admin view (`admin:GetServerInfo`).

use crate::identity::require_iam;
use crate::tiers::DEFAULT_TIER;
use crate::{Caller, Ferrite, ModelResult};

/// The server as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The on-disk format this build writes ([`crate::FORMAT_VERSION`]).
    pub format: u32,
    /// Seconds since the model was opened.
    pub uptime_secs: u64,
    /// The data dir's tier (`default`) first, then the declared tiers by name.
    pub tiers: Vec<TierInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierInfo {
    pub name: String,
    /// The directory (`None` for the data dir's tier: the server knows it).
    pub dir: Option<std::path::PathBuf>,
    pub compress: bool,
    /// The storage classes whose new data goes to this tier, in AWS's spelling.
    pub classes: Vec<String>,
    /// The tier's file system: total and free bytes, when the store can tell.
    pub space: Option<ferrite_store::Space>,
}

impl Ferrite {
    /// The server's format, uptime and tiers. Allowed to root and to users whose
    /// policies allow `admin:GetServerInfo`.
    pub async fn server_info(&self, caller: &Caller) -> ModelResult<ServerInfo> {
        require_iam(caller, "admin:GetServerInfo", "*")?;
        let inner = self.inner.clone();
        crate::engine::blocking(move || {
            let mut tiers = Vec::new();
            for (name, store) in inner.tiers.all() {
                let spec = inner.opts.tiering.tiers.iter().find(|t| t.name == name);
                let classes = crate::StorageClass::ALL
                    .iter()
                    .filter(|c| c.is_regional() && inner.tiers.for_class(Some(**c)) == name)
                    .map(|c| c.as_str().to_string())
                    .collect();
                tiers.push(TierInfo {
                    name: if name.is_empty() {
                        DEFAULT_TIER.to_string()
                    } else {
                        name.to_string()
                    },
                    dir: spec.map(|t| t.dir.clone()),
                    compress: spec.is_some_and(|t| t.compress),
                    classes,
                    space: store.space()?,
                });
            }
            Ok(ServerInfo {
                format: crate::FORMAT_VERSION,
                uptime_secs: inner.opened.elapsed().as_secs(),
                tiers,
            })
        })
        .await
    }
}

//! Who signed: access key -> principal and secret, in one place ([`FerriteAuth::lookup`]).
//! Root's credentials (configured, not stored) are checked first, then the users'
//! keys in the model. s3s asks here for the secret of every S3 request's key, the
//! SigV2 pre-check does too, the adapter builds each request's [`Caller`] from the
//! same lookup, and the IAM and admin endpoints authenticate through
//! [`FerriteAuth::authenticate`]. An unknown or inactive key is `InvalidAccessKeyId`,
//! as on AWS. A key disabled or deleted is refused on its next request (the model's
//! key cache never outlives a change).

use std::sync::Arc;

use ferrite_model::{Caller, Ferrite, KeyOwner, ModelResult, Principal, PublicAccessBlock, Secret};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result};
use time::OffsetDateTime;

use crate::RootIdentity;
use crate::iam::sigv4::{self, Authorization, SigV4Error};

/// The server's credentials: root's, then the users' (through the model). Cheap to clone.
#[derive(Clone)]
pub struct FerriteAuth {
    inner: Arc<Inner>,
}

struct Inner {
    model: Ferrite,
    root: RootIdentity,
    root_secret: Secret,
    /// The server-wide public access block every caller carries.
    account_block: PublicAccessBlock,
}

/// Why a request we verify ourselves (IAM, admin) was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// The signature itself (missing, malformed, skewed, mismatched).
    Signature(SigV4Error),
    /// The key is not root's and no active user key.
    UnknownKey,
    /// The credentials could not be read (a store failure; logged).
    Internal,
}

impl FerriteAuth {
    pub fn new(model: Ferrite, root: RootIdentity, root_secret: Secret) -> Self {
        Self::with_account_block(model, root, root_secret, PublicAccessBlock::default())
    }

    /// With a server-wide public access block (`--block-public-access`), which every
    /// request's caller carries to the authorizer.
    pub fn with_account_block(
        model: Ferrite,
        root: RootIdentity,
        root_secret: Secret,
        account_block: PublicAccessBlock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                model,
                root,
                root_secret,
                account_block,
            }),
        }
    }

    pub fn root(&self) -> &RootIdentity {
        &self.inner.root
    }

    /// The administrator's caller.
    pub fn root_caller(&self) -> Caller {
        let root = &self.inner.root;
        let mut caller = Caller::root(root.canonical_id.clone(), root.display_name.clone());
        caller.account_block = self.inner.account_block;
        caller
    }

    /// The principal `access_key` signs for, its secret and policies: root's first,
    /// then an active user key. `None` for an unknown or inactive key.
    pub fn lookup(&self, access_key: &str) -> ModelResult<Option<KeyOwner>> {
        let root = &self.inner.root;
        if access_key == root.access_key {
            let principal = Principal::Root {
                canonical_id: root.canonical_id.clone(),
                display_name: root.display_name.clone(),
            };
            return Ok(Some(KeyOwner {
                principal,
                secret: self.inner.root_secret.clone(),
                policies: Arc::from(Vec::new()),
            }));
        }
        self.inner.model.principal_for_key(access_key)
    }

    /// The secret of `access_key`, if it may sign (for the SigV2 pre-check).
    pub fn secret_for(&self, access_key: &str) -> Option<SecretKey> {
        match self.lookup(access_key) {
            Ok(found) => found.map(|o| SecretKey::from(o.secret.expose())),
            Err(e) => {
                tracing::error!(error = %e, "cannot read access keys");
                None
            }
        }
    }

    /// The caller for a request whose signature by `access_key` was verified (by s3s
    /// or by us); anonymous when unsigned, or when the key stopped resolving since
    /// (disabled in between: no more than anonymous rights). Notes a user key's use.
    pub fn caller_for(&self, access_key: Option<&str>, service: &str) -> Caller {
        let mut caller = match access_key.map(|k| (k, self.lookup(k))) {
            None => Caller::anonymous(),
            Some((key, Ok(Some(owner)))) => {
                if matches!(owner.principal, Principal::User { .. }) {
                    let region = &self.inner.model.options().region;
                    self.inner.model.note_key_used(key, service, region);
                }
                let mut caller = Caller::new(owner.principal);
                caller.policies = owner.policies;
                caller
            }
            Some((_, Ok(None))) => Caller::anonymous(),
            Some((_, Err(e))) => {
                tracing::error!(error = %e, "cannot read access keys");
                Caller::anonymous()
            }
        };
        caller.account_block = self.inner.account_block;
        caller
    }

    /// Authenticates a header-signed SigV4 request that the server answers itself
    /// (IAM, admin): parses its authorization, finds the key's secret, verifies the
    /// signature over `body`. Returns the caller and the signed scope.
    pub fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(Caller, Authorization), AuthFailure> {
        let auth = Authorization::of(&parts.headers).map_err(AuthFailure::Signature)?;
        let secret = match self.lookup(&auth.access_key) {
            Ok(Some(owner)) => owner.secret,
            Ok(None) => return Err(AuthFailure::UnknownKey),
            Err(e) => {
                tracing::error!(error = %e, "cannot read access keys");
                return Err(AuthFailure::Internal);
            }
        };
        sigv4::verify(parts, body, &auth, &secret, now).map_err(AuthFailure::Signature)?;
        let mut caller = self.caller_for(Some(&auth.access_key), &auth.service);
        caller.context = Arc::new(crate::lazy_request_context(
            &parts.uri,
            &parts.headers,
            parts.extensions.get::<crate::ClientInfo>(),
            now,
        ));
        Ok((caller, auth))
    }
}

#[async_trait::async_trait]
impl S3Auth for FerriteAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.lookup(access_key) {
            Ok(Some(owner)) => Ok(SecretKey::from(owner.secret.expose())),
            Ok(None) => Err(S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            )),
            Err(e) => Err(crate::to_s3(e)),
        }
    }
}

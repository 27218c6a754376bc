//! The built-in KMS: named customer keys, each holding 256 bits of key material stored
//! only sealed by the server's key provider (the master key), and aliases naming them.
//!
//! This module owns the `kms_keys` and `kms_aliases` tables. The management operations
//! (create, describe, list, enable, disable, schedule and cancel deletion, aliases) take
//! `&Caller` first and are allowed to root and to users whose identity policies allow
//! the `kms:` action, as the IAM operations are (`identity::require_iam`). They all run
//! as committer jobs, so that a key whose deletion date has passed is purged (with its
//! aliases) the next time any of them runs.
//!
//! The crate-internal functions at the end are for SSE-KMS: they resolve a key spec
//! (key id, key ARN, alias name, alias ARN) and open its material. They never log or
//! return the material but inside [`KmsKeyUse`], whose `Debug` hides it (a
//! [`ferrite_crypt::Key`], wiped when dropped).

use std::ops::Bound;

use ferrite_crypt::Key;
use ferrite_store::{ReadTxn, WriteTxn};
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::identity::require_iam;
use crate::records::{Initial, Record, decode, encode, first_version, scan_decoded};
use crate::sse::{Keys, SealedKey};
use crate::{ACCOUNT_ID, Caller, Ferrite, ModelError, ModelResult, tables};

/// ScheduleKeyDeletion's waiting period bounds and default, in days (AWS's).
pub const MIN_PENDING_DAYS: u32 = 7;
pub const MAX_PENDING_DAYS: u32 = 30;
pub const DEFAULT_PENDING_DAYS: u32 = 30;
/// The alias of the AWS-managed key SSE-KMS uses when a request names none.
pub const DEFAULT_S3_ALIAS: &str = "alias/aws/s3";
/// The longest description AWS accepts.
pub const MAX_DESCRIPTION: usize = 8192;
/// The most keys (and aliases) one list returns: the store's whole KMS is small, the
/// bound only keeps a runaway list from growing without end.
pub const MAX_LIST: usize = 10_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The AWS KMS exceptions the model answers with. The API layer names them as they are
/// (`__type` in KMS's JSON, `KMS.<name>` in S3's XML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsException {
    NotFoundException,
    DisabledException,
    KMSInvalidStateException,
    AlreadyExistsException,
    InvalidArnException,
    ValidationException,
    NotAuthorizedException,
}

impl KmsException {
    pub fn as_str(self) -> &'static str {
        match self {
            KmsException::NotFoundException => "NotFoundException",
            KmsException::DisabledException => "DisabledException",
            KmsException::KMSInvalidStateException => "KMSInvalidStateException",
            KmsException::AlreadyExistsException => "AlreadyExistsException",
            KmsException::InvalidArnException => "InvalidArnException",
            KmsException::ValidationException => "ValidationException",
            KmsException::NotAuthorizedException => "NotAuthorizedException",
        }
    }
}

fn kms_error(exception: KmsException, message: impl Into<String>) -> ModelError {
    ModelError::Kms {
        exception,
        message: message.into(),
    }
}

/// A key's state. Stored by variant index: new variants go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KmsKeyState {
    Enabled,
    Disabled,
    /// Deleted (with its aliases) once `deletion_ms` has passed, unless cancelled
    /// (then Disabled, as on AWS).
    PendingDeletion {
        deletion_ms: i64,
    },
}

impl KmsKeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KmsKeyState::Enabled => "Enabled",
            KmsKeyState::Disabled => "Disabled",
            KmsKeyState::PendingDeletion { .. } => "PendingDeletion",
        }
    }
}

/// Who manages a key: the customer, or the server (the SSE-KMS default key, as AWS's
/// `aws/s3`). Stored by variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    Customer,
    Aws,
}

impl KeyManager {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyManager::Customer => "CUSTOMER",
            KeyManager::Aws => "AWS",
        }
    }
}

/// What a key is for. Only symmetric encryption keys exist. Stored by variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KmsKeyUsage {
    EncryptDecrypt,
}

impl KmsKeyUsage {
    pub fn as_str(self) -> &'static str {
        "ENCRYPT_DECRYPT"
    }
}

/// The key's type. Stored by variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KmsKeySpec {
    SymmetricDefault,
}

impl KmsKeySpec {
    pub fn as_str(self) -> &'static str {
        "SYMMETRIC_DEFAULT"
    }
}

/// A key as the API shows it (never with its material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyInfo {
    pub key_id: String,
    pub arn: String,
    pub description: String,
    pub created_ms: i64,
    pub state: KmsKeyState,
    pub usage: KmsKeyUsage,
    pub spec: KmsKeySpec,
    pub manager: KeyManager,
}

/// An alias as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsAliasInfo {
    pub name: String,
    pub arn: String,
    pub target_key_id: String,
    pub created_ms: i64,
}

// ---- records ----

/// `kms_keys`: key id -> the key. The material is only ever stored sealed by the key
/// provider, bound to the key id ([`material_context`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KmsKeyRecord {
    pub key_id: String,
    pub arn: String,
    pub description: String,
    pub created_ms: i64,
    pub state: KmsKeyState,
    pub usage: KmsKeyUsage,
    pub spec: KmsKeySpec,
    pub manager: KeyManager,
    pub material: SealedKey,
}

/// `kms_aliases`: alias name (`alias/...`) -> the key it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KmsAliasRecord {
    pub key_id: String,
    pub created_ms: i64,
}

first_version!(KmsKeyRecord, KmsAliasRecord);

impl KmsKeyRecord {
    fn info(&self) -> KmsKeyInfo {
        KmsKeyInfo {
            key_id: self.key_id.clone(),
            arn: self.arn.clone(),
            description: self.description.clone(),
            created_ms: self.created_ms,
            state: self.state,
            usage: self.usage,
            spec: self.spec,
            manager: self.manager,
        }
    }

    /// The region part of the key's ARN.
    fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or("")
    }

    fn expired(&self, now_ms: i64) -> bool {
        matches!(self.state, KmsKeyState::PendingDeletion { deletion_ms } if deletion_ms <= now_ms)
    }
}

/// What a key's material is sealed for: its key id.
fn material_context(key_id: &str) -> Vec<u8> {
    [b"ferrite/kms-key/".as_slice(), key_id.as_bytes()].concat()
}

/// A key id: a random UUID (version 4), as AWS's look.
fn new_key_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

pub fn key_arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}")
}

pub fn alias_arn(region: &str, alias: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT_ID}:{alias}")
}

// ---- rules ----

/// AWS's alias rules: `alias/` and 1 to 250 more of `A-Z a-z 0-9 / _ -`; the
/// `alias/aws/` prefix is reserved for AWS-managed keys.
pub fn validate_alias_name(name: &str) -> ModelResult<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "/_-".contains(c);
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(kms_error(
            KmsException::ValidationException,
            format!("Alias must start with the prefix \"alias/\": {name:?}"),
        ));
    };
    if rest.is_empty() || name.len() > 256 || !rest.chars().all(ok_char) {
        return Err(kms_error(
            KmsException::ValidationException,
            format!(
                "Alias name must be 1 to 256 characters of alphanumerics, '/', '_' and '-', starting with \"alias/\": \
                 {name:?}"
            ),
        ));
    }
    if name.starts_with("alias/aws/") {
        return Err(kms_error(
            KmsException::NotAuthorizedException,
            "The alias/aws/ prefix is reserved for AWS managed keys.",
        ));
    }
    Ok(())
}

fn not_found(spec: &str) -> ModelError {
    kms_error(KmsException::NotFoundException, format!("Key '{spec}' does not exist"))
}

/// What a key spec names, before looking anything up.
enum Spec<'a> {
    Key(&'a str),
    Alias(&'a str),
}

/// Parses a key id, key ARN, alias name or alias ARN. An ARN's region is checked
/// against the key's once it is found (returned here as the second value).
fn parse_spec(spec: &str) -> ModelResult<(Spec<'_>, Option<&str>)> {
    if spec.is_empty() || spec.len() > 2048 {
        return Err(kms_error(
            KmsException::ValidationException,
            "KeyId must be 1 to 2048 characters long.",
        ));
    }
    if spec.starts_with("alias/") {
        return Ok((Spec::Alias(spec), None));
    }
    let Some(rest) = spec.strip_prefix("arn:") else {
        return Ok((Spec::Key(spec), None));
    };
    let invalid = || kms_error(KmsException::InvalidArnException, format!("Invalid arn {spec}"));
    let mut parts = rest.splitn(5, ':');
    let (Some(_partition), Some("kms"), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if region.is_empty() {
        return Err(invalid());
    }
    if account != ACCOUNT_ID {
        return Err(not_found(spec));
    }
    if let Some(id) = resource.strip_prefix("key/") {
        Ok((Spec::Key(id), Some(region)))
    } else if resource.starts_with("alias/") {
        Ok((Spec::Alias(resource), Some(region)))
    } else {
        Err(invalid())
    }
}

fn read_key(txn: &dyn ReadTxn, key_id: &str) -> ModelResult<Option<KmsKeyRecord>> {
    txn.get(tables::KMS_KEYS, key_id.as_bytes())?
        .map(|v| decode(&v))
        .transpose()
}

fn read_alias(txn: &dyn ReadTxn, name: &str) -> ModelResult<Option<KmsAliasRecord>> {
    txn.get(tables::KMS_ALIASES, name.as_bytes())?
        .map(|v| decode(&v))
        .transpose()
}

/// The key a spec names, as stored (a key past its deletion date reads as gone).
fn find_key(txn: &dyn ReadTxn, spec: &str, now_ms: i64) -> ModelResult<KmsKeyRecord> {
    let (parsed, region) = parse_spec(spec)?;
    let key_id = match parsed {
        Spec::Key(id) => id.to_string(),
        Spec::Alias(name) => read_alias(txn, name)?.ok_or_else(|| not_found(spec))?.key_id,
    };
    let key = read_key(txn, &key_id)?.ok_or_else(|| not_found(spec))?;
    if region.is_some_and(|r| r != key.region()) || key.expired(now_ms) {
        return Err(not_found(spec));
    }
    Ok(key)
}

/// Refuses a key that may not be used: Disabled or PendingDeletion.
fn check_usable(key: &KmsKeyRecord) -> ModelResult<()> {
    match key.state {
        KmsKeyState::Enabled => Ok(()),
        KmsKeyState::Disabled => Err(kms_error(
            KmsException::DisabledException,
            format!("{} is disabled.", key.arn),
        )),
        KmsKeyState::PendingDeletion { .. } => Err(kms_error(
            KmsException::KMSInvalidStateException,
            format!("{} is pending deletion.", key.arn),
        )),
    }
}

pub(crate) fn open_material(keys: &Keys, key: &KmsKeyRecord) -> ModelResult<Key> {
    let bytes = keys.provider()?.open(&key.material, &material_context(&key.key_id))?;
    Key::from_slice(&bytes)
        .map_err(|_| ModelError::Corrupt(format!("the material of KMS key {} is not 32 bytes", key.key_id)))
}

#[cfg(test)]
fn key_use(keys: &Keys, key: &KmsKeyRecord) -> ModelResult<KmsKeyUse> {
    Ok(KmsKeyUse {
        key_id: key.key_id.clone(),
        arn: key.arn.clone(),
        material: open_material(keys, key)?,
    })
}

/// A new key record with fresh material, sealed by the provider.
fn new_key_record(
    keys: &Keys,
    region: &str,
    description: &str,
    manager: KeyManager,
    now_ms: i64,
) -> ModelResult<KmsKeyRecord> {
    let provider = keys.provider()?;
    let key_id = new_key_id();
    let material = Key::random().map_err(|e| ModelError::Internal(format!("KMS key material: {e}")))?;
    let sealed = provider.seal(material.expose(), &material_context(&key_id))?;
    Ok(KmsKeyRecord {
        arn: key_arn(region, &key_id),
        key_id,
        description: description.to_string(),
        created_ms: now_ms,
        state: KmsKeyState::Enabled,
        usage: KmsKeyUsage::EncryptDecrypt,
        spec: KmsKeySpec::SymmetricDefault,
        manager,
        material: sealed,
    })
}

fn put_key(txn: &mut dyn WriteTxn, key: &KmsKeyRecord) -> ModelResult<()> {
    Ok(txn.put(tables::KMS_KEYS, key.key_id.as_bytes(), &encode(key))?)
}

/// Deletes every key whose deletion date has passed, and the aliases naming them.
/// Returns how many keys went.
fn purge_expired(txn: &mut dyn WriteTxn, now_ms: i64) -> ModelResult<usize> {
    let mut expired = Vec::new();
    scan_decoded::<KmsKeyRecord>(txn, tables::KMS_KEYS, Bound::Unbounded, &mut |k, key| {
        if key.expired(now_ms) {
            expired.push(k.to_vec());
        }
        true
    })?;
    if expired.is_empty() {
        return Ok(0);
    }
    let mut aliases = Vec::new();
    txn.scan(tables::KMS_ALIASES, Bound::Unbounded, Bound::Unbounded, &mut |k, v| {
        if let Ok(a) = decode::<KmsAliasRecord>(v)
            && expired.iter().any(|id| id == a.key_id.as_bytes())
        {
            aliases.push(k.to_vec());
        }
        true
    })?;
    for a in &aliases {
        txn.delete(tables::KMS_ALIASES, a)?;
    }
    for k in &expired {
        txn.delete(tables::KMS_KEYS, k)?;
    }
    tracing::info!(keys = expired.len(), "purged KMS keys whose deletion date passed");
    Ok(expired.len())
}

fn list_keys_in(txn: &dyn ReadTxn) -> ModelResult<Vec<KmsKeyInfo>> {
    let mut out = Vec::new();
    scan_decoded::<KmsKeyRecord>(txn, tables::KMS_KEYS, Bound::Unbounded, &mut |_, k| {
        out.push(k.info());
        out.len() < MAX_LIST
    })?;
    Ok(out)
}

fn list_aliases_in(txn: &dyn ReadTxn, region: &str, key_id: Option<&str>) -> ModelResult<Vec<KmsAliasInfo>> {
    let mut out = Vec::new();
    let mut failed = None;
    txn.scan(tables::KMS_ALIASES, Bound::Unbounded, Bound::Unbounded, &mut |k, v| {
        let (Ok(name), Ok(a)) = (std::str::from_utf8(k), decode::<KmsAliasRecord>(v)) else {
            failed = Some(ModelError::Corrupt("unreadable KMS alias".into()));
            return false;
        };
        if key_id.is_none_or(|id| id == a.key_id) {
            out.push(KmsAliasInfo {
                name: name.to_string(),
                arn: alias_arn(region, name),
                target_key_id: a.key_id,
                created_ms: a.created_ms,
            });
        }
        out.len() < MAX_LIST
    })?;
    failed.map_or(Ok(out), Err)
}

/// A customer key's state may change only if the customer manages it.
fn customer_key(key: &KmsKeyRecord) -> ModelResult<()> {
    match key.manager {
        KeyManager::Customer => Ok(()),
        KeyManager::Aws => Err(kms_error(
            KmsException::NotAuthorizedException,
            format!("{} is an AWS managed key; it cannot be changed.", key.arn),
        )),
    }
}

fn pending_state_error(key: &KmsKeyRecord) -> ModelError {
    kms_error(
        KmsException::KMSInvalidStateException,
        format!("{} is pending deletion.", key.arn),
    )
}

// ---- operations ----

/// What a state change does.
#[derive(Debug, Clone, Copy)]
enum Change {
    Enable,
    Disable,
    Schedule { days: u32 },
    Cancel,
}

impl Ferrite {
    fn kms_region(&self) -> String {
        self.inner.opts.region.clone()
    }

    /// Creates a customer key with fresh material (and, when given, an alias for it).
    pub async fn kms_create_key(
        &self,
        caller: &Caller,
        description: &str,
        alias: Option<&str>,
    ) -> ModelResult<KmsKeyInfo> {
        require_iam(caller, "kms:CreateKey", "*")?;
        if description.len() > MAX_DESCRIPTION {
            return Err(kms_error(
                KmsException::ValidationException,
                format!("Description must be at most {MAX_DESCRIPTION} characters long."),
            ));
        }
        if let Some(a) = alias {
            validate_alias_name(a)?;
        }
        let now = now_ms();
        // Made once, outside the job: a re-run writes the same key.
        let key = new_key_record(
            &self.inner.keys,
            &self.kms_region(),
            description,
            KeyManager::Customer,
            now,
        )?;
        let alias = alias.map(str::to_string);
        self.inner
            .committer
            .write(move |txn| {
                purge_expired(txn, now)?;
                if let Some(a) = &alias {
                    if read_alias(txn, a)?.is_some() {
                        return Err(kms_error(
                            KmsException::AlreadyExistsException,
                            format!("An alias with the name {} already exists", alias_arn(key.region(), a)),
                        ));
                    }
                    let rec = KmsAliasRecord {
                        key_id: key.key_id.clone(),
                        created_ms: now,
                    };
                    txn.put(tables::KMS_ALIASES, a.as_bytes(), &encode(&rec))?;
                }
                put_key(txn, &key)?;
                Ok(key.info())
            })
            .await
    }

    pub async fn kms_describe_key(&self, caller: &Caller, spec: &str) -> ModelResult<KmsKeyInfo> {
        require_iam(caller, "kms:DescribeKey", "*")?;
        let spec = spec.to_string();
        let (keys, region) = (self.inner.keys.clone(), self.kms_region());
        self.inner
            .committer
            .write(move |txn| {
                let now = now_ms();
                purge_expired(txn, now)?;
                if spec == DEFAULT_S3_ALIAS && read_alias(txn, DEFAULT_S3_ALIAS)?.is_none() {
                    // As on AWS, describing the default key's alias creates the key.
                    default_s3_key(txn, &keys, &region, now)?;
                }
                Ok(find_key(txn, &spec, now)?.info())
            })
            .await
    }

    /// Every key, in key id order.
    pub async fn kms_list_keys(&self, caller: &Caller) -> ModelResult<Vec<KmsKeyInfo>> {
        require_iam(caller, "kms:ListKeys", "*")?;
        self.inner
            .committer
            .write(move |txn| {
                purge_expired(txn, now_ms())?;
                list_keys_in(txn)
            })
            .await
    }

    /// Every alias (or those of one key), in name order.
    pub async fn kms_list_aliases(&self, caller: &Caller, key: Option<&str>) -> ModelResult<Vec<KmsAliasInfo>> {
        require_iam(caller, "kms:ListAliases", "*")?;
        let key = key.map(str::to_string);
        let region = self.kms_region();
        self.inner
            .committer
            .write(move |txn| {
                let now = now_ms();
                purge_expired(txn, now)?;
                let key_id = key
                    .as_deref()
                    .map(|k| find_key(txn, k, now))
                    .transpose()?
                    .map(|k| k.key_id);
                list_aliases_in(txn, &region, key_id.as_deref())
            })
            .await
    }

    pub async fn kms_enable_key(&self, caller: &Caller, spec: &str) -> ModelResult<KmsKeyInfo> {
        require_iam(caller, "kms:EnableKey", "*")?;
        self.kms_change(spec, Change::Enable).await
    }

    pub async fn kms_disable_key(&self, caller: &Caller, spec: &str) -> ModelResult<KmsKeyInfo> {
        require_iam(caller, "kms:DisableKey", "*")?;
        self.kms_change(spec, Change::Disable).await
    }

    /// Schedules a key's deletion in `days` (7..=30; 30 when not given).
    pub async fn kms_schedule_key_deletion(
        &self,
        caller: &Caller,
        spec: &str,
        days: Option<u32>,
    ) -> ModelResult<KmsKeyInfo> {
        require_iam(caller, "kms:ScheduleKeyDeletion", "*")?;
        let days = days.unwrap_or(DEFAULT_PENDING_DAYS);
        if !(MIN_PENDING_DAYS..=MAX_PENDING_DAYS).contains(&days) {
            return Err(kms_error(
                KmsException::ValidationException,
                format!(
                    "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy \
                     constraint: Member must have value between {MIN_PENDING_DAYS} and {MAX_PENDING_DAYS}"
                ),
            ));
        }
        self.kms_change(spec, Change::Schedule { days }).await
    }

    /// Cancels a scheduled deletion: the key is Disabled again, as on AWS.
    pub async fn kms_cancel_key_deletion(&self, caller: &Caller, spec: &str) -> ModelResult<KmsKeyInfo> {
        require_iam(caller, "kms:CancelKeyDeletion", "*")?;
        self.kms_change(spec, Change::Cancel).await
    }

    async fn kms_change(&self, spec: &str, change: Change) -> ModelResult<KmsKeyInfo> {
        let spec = spec.to_string();
        self.inner
            .committer
            .write(move |txn| {
                let now = now_ms();
                purge_expired(txn, now)?;
                let mut key = find_key(txn, &spec, now)?;
                customer_key(&key)?;
                let pending = matches!(key.state, KmsKeyState::PendingDeletion { .. });
                key.state = match (change, pending) {
                    (Change::Enable, false) => KmsKeyState::Enabled,
                    (Change::Disable, false) => KmsKeyState::Disabled,
                    (Change::Schedule { days }, false) => KmsKeyState::PendingDeletion {
                        deletion_ms: now + i64::from(days) * DAY_MS,
                    },
                    (Change::Cancel, true) => KmsKeyState::Disabled,
                    (Change::Cancel, false) => {
                        return Err(kms_error(
                            KmsException::KMSInvalidStateException,
                            format!("{} is not pending deletion.", key.arn),
                        ));
                    }
                    (_, true) => return Err(pending_state_error(&key)),
                };
                put_key(txn, &key)?;
                Ok(key.info())
            })
            .await
    }

    /// Names a customer key `alias` (a new name: AlreadyExists when taken).
    pub async fn kms_create_alias(&self, caller: &Caller, alias: &str, target: &str) -> ModelResult<()> {
        require_iam(caller, "kms:CreateAlias", "*")?;
        validate_alias_name(alias)?;
        let (alias, target) = (alias.to_string(), target.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let now = now_ms();
                purge_expired(txn, now)?;
                let key = find_key(txn, &target, now)?;
                customer_key(&key)?;
                if matches!(key.state, KmsKeyState::PendingDeletion { .. }) {
                    return Err(pending_state_error(&key));
                }
                if read_alias(txn, &alias)?.is_some() {
                    return Err(kms_error(
                        KmsException::AlreadyExistsException,
                        format!(
                            "An alias with the name {} already exists",
                            alias_arn(key.region(), &alias)
                        ),
                    ));
                }
                let rec = KmsAliasRecord {
                    key_id: key.key_id,
                    created_ms: now,
                };
                txn.put(tables::KMS_ALIASES, alias.as_bytes(), &encode(&rec))?;
                Ok(())
            })
            .await
    }

    pub async fn kms_delete_alias(&self, caller: &Caller, alias: &str) -> ModelResult<()> {
        require_iam(caller, "kms:DeleteAlias", "*")?;
        validate_alias_name(alias)?;
        let alias = alias.to_string();
        let region = self.kms_region();
        self.inner
            .committer
            .write(move |txn| {
                purge_expired(txn, now_ms())?;
                if !txn.delete(tables::KMS_ALIASES, alias.as_bytes())? {
                    return Err(kms_error(
                        KmsException::NotFoundException,
                        format!("Alias {} is not found.", alias_arn(&region, &alias)),
                    ));
                }
                Ok(())
            })
            .await
    }
}

// ---- for SSE-KMS ----

/// A KMS key resolved, with its material opened. `Debug` shows no material.
#[cfg(test)]
pub(crate) struct KmsKeyUse {
    pub key_id: String,
    pub arn: String,
    pub material: Key,
}

#[cfg(test)]
impl std::fmt::Debug for KmsKeyUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyUse")
            .field("key_id", &self.key_id)
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

/// Resolves a key id, key ARN, alias name or alias ARN to an Enabled key and opens its
/// material. NotFoundException, DisabledException, KMSInvalidStateException (pending
/// deletion) as AWS KMS answers them. `alias/aws/s3` resolves only once the default
/// key exists (see [`default_s3_key`]).
#[cfg(test)]
pub(crate) fn resolve_for_encrypt(txn: &dyn ReadTxn, keys: &Keys, spec: &str) -> ModelResult<KmsKeyUse> {
    key_use(keys, &find_usable(txn, spec)?)
}

/// The Enabled key a key id, key ARN, alias name or alias ARN names, without opening
/// its material (errors as [`resolve_for_encrypt`]).
pub(crate) fn find_usable(txn: &dyn ReadTxn, spec: &str) -> ModelResult<KmsKeyRecord> {
    let key = find_key(txn, spec, now_ms())?;
    check_usable(&key)?;
    Ok(key)
}

/// The usable key an SSE-KMS write names (`None`: the default key), or `None` when
/// that is the default key and it is not made yet.
pub(crate) fn find_for_write(txn: &dyn ReadTxn, spec: Option<&str>) -> ModelResult<Option<KmsKeyRecord>> {
    let spec = spec.unwrap_or(DEFAULT_S3_ALIAS);
    match find_usable(txn, spec) {
        Err(ModelError::Kms {
            exception: KmsException::NotFoundException,
            ..
        }) if spec == DEFAULT_S3_ALIAS => Ok(None),
        other => other.map(Some),
    }
}

/// The key by id if it may be used to decrypt, without opening its material (errors
/// as [`key_for_decrypt`]).
pub(crate) fn usable_by_id(txn: &dyn ReadTxn, key_id: &str) -> ModelResult<KmsKeyRecord> {
    let key = read_key(txn, key_id)?
        .filter(|k| !k.expired(now_ms()))
        .ok_or_else(|| not_found(key_id))?;
    check_usable(&key)?;
    Ok(key)
}

/// The key by id, for decrypting: a Disabled key is DisabledException (objects under
/// it cannot be read until it is enabled again), one pending deletion
/// KMSInvalidStateException.
#[cfg(test)]
pub(crate) fn key_for_decrypt(txn: &dyn ReadTxn, keys: &Keys, key_id: &str) -> ModelResult<KmsKeyUse> {
    key_use(keys, &usable_by_id(txn, key_id)?)
}

/// The AWS-managed default key `alias/aws/s3`, created (with its alias) on first use;
/// refused as [`find_usable`] refuses when it is not Enabled.
pub(crate) fn default_s3_key(
    txn: &mut dyn WriteTxn,
    keys: &Keys,
    region: &str,
    now_ms: i64,
) -> ModelResult<KmsKeyRecord> {
    if let Some(alias) = read_alias(txn, DEFAULT_S3_ALIAS)?
        && let Some(key) = read_key(txn, &alias.key_id)?
    {
        check_usable(&key)?;
        return Ok(key);
    }
    let key = new_key_record(
        keys,
        region,
        "Default key that protects my S3 objects when no other key is defined",
        KeyManager::Aws,
        now_ms,
    )?;
    put_key(txn, &key)?;
    let alias = KmsAliasRecord {
        key_id: key.key_id.clone(),
        created_ms: now_ms,
    };
    txn.put(tables::KMS_ALIASES, DEFAULT_S3_ALIAS.as_bytes(), &encode(&alias))?;
    Ok(key)
}

/// Seals a material anew given its sealed form and its context (`None`: leave it).
pub(crate) type Reseal<'a> = dyn FnMut(&SealedKey, &[u8]) -> ModelResult<Option<SealedKey>> + 'a;

/// Every stored sealed key material, for master-key rotation: `f` gets each sealed
/// material and its context and returns the material sealed anew (or `None` to leave
/// it). Returns how many were rewritten.
pub(crate) fn reseal_kms_keys(txn: &mut dyn WriteTxn, f: &mut Reseal<'_>) -> ModelResult<usize> {
    let rows = txn.range(tables::KMS_KEYS, Bound::Unbounded, Bound::Unbounded, usize::MAX)?;
    let mut count = 0;
    for (_, v) in rows {
        let mut key: KmsKeyRecord = decode(&v)?;
        if let Some(sealed) = f(&key.material, &material_context(&key.key_id))? {
            key.material = sealed;
            put_key(txn, &key)?;
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests;

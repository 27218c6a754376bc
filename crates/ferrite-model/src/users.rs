//! Users and their access keys: account-like principals (as in Ceph RGW), each with a
//! name, a canonical user id, up to two access keys, and the buckets it creates.
//!
//! This module owns the `users`, `access_keys`, `principals` and `key_last_used`
//! tables. The root principal (the configured credentials) is the administrator and is
//! not stored here. Every operation on users takes `&Caller` first and only root may
//! run it (IAM's own rights model comes with policies). Two reads are for the rest of
//! the server and take no caller: [`Ferrite::principal_for_key`] (per request, one
//! read transaction, no cache: a disabled or deleted key is refused on its very next
//! request) and [`Ferrite::display_name_of`] (owners in listings).
//!
//! Last use of a key ([`Ferrite::note_key_used`]) is kept in memory and written to the
//! store coarsely: at the first use after a start, then at most once an hour per key,
//! as a committer job off the request path. A store write per request would put every
//! GET through the committer; AWS itself reports last use approximately. So after a
//! restart the stored time can be up to an hour old.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Mutex;

use ferrite_store::{ReadTxn, WriteTxn};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::engine::blocking;
use crate::identity::{require_iam, user_arn};
use crate::records::{Initial, Record, decode, encode, first_version};
use crate::{Caller, Ferrite, IdentityPolicies, ModelError, ModelResult, Principal, Secret, tables};

/// Access keys one user may have, as in IAM.
pub const MAX_KEYS_PER_USER: usize = 2;
/// The most users one ListUsers page returns (IAM's bound).
pub const MAX_LIST_USERS: usize = 1000;
/// The stored last use of a key is rewritten when it is older than this.
pub const LAST_USED_FLUSH_MS: i64 = 60 * 60 * 1000;

/// Whether an access key may sign requests. Stored by variant index: new variants go
/// at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The name as given at creation (names are unique case-insensitively).
    pub name: String,
    /// IAM's unique id: `AIDA` and 17 upper-case letters and digits.
    pub user_id: String,
    /// 64 lower-case hex digits: what the user's buckets and objects store as owner.
    pub canonical_id: String,
    pub created_ms: i64,
}

/// An access key as the API shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    pub access_key_id: String,
    pub user_name: String,
    pub status: KeyStatus,
    pub created_ms: i64,
}

/// A key just created: the only time its secret leaves the server.
#[derive(Debug)]
pub struct NewAccessKey {
    pub info: AccessKeyInfo,
    pub secret: Secret,
}

/// When and where a key was last used to sign a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    pub ms: i64,
    /// `s3` (or `iam` once users may call it).
    pub service: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLastUsed {
    pub user_name: String,
    pub last_used: Option<LastUse>,
}

/// What an access key resolves to: the principal it signs for, its secret, and the
/// principal's identity policies.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub principal: Principal,
    pub secret: Secret,
    pub policies: IdentityPolicies,
}

/// One page of ListUsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<UserInfo>,
    /// Where the next page starts, when more follow.
    pub next_marker: Option<String>,
}

// ---- records ----

/// `users`: lower-cased name -> the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub name: String,
    pub user_id: String,
    pub canonical_id: String,
    pub created_ms: i64,
    /// Its access key ids, oldest first (at most [`MAX_KEYS_PER_USER`]).
    pub keys: Vec<String>,
}

/// `access_keys`: key id -> the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessKeyRecord {
    /// The owning user's `users` key (its lower-cased name).
    pub user: String,
    pub secret: StoredSecret,
    pub status: KeyStatus,
    pub created_ms: i64,
}

/// A secret access key as stored: sealed by the key provider (bound to the key id),
/// or, written before sealing existed or while no key provider was usable, as is
/// until the next start with a provider seals it ([`Ferrite::seal_stored_secrets`]).
/// Variants are stored by index: new ones go at the end.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredSecret {
    Plain(String),
    Sealed(crate::sse::SealedKey),
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredSecret::Plain(_) => f.write_str("Plain(***)"),
            StoredSecret::Sealed(s) => f.debug_tuple("Sealed").field(s).finish(),
        }
    }
}

/// The access key row `key` -> `value` with its sealed secret sealed again by
/// `reseal` (master key rotation); `None` when it needs nothing.
pub(crate) fn reseal_secret(
    key: &[u8],
    value: &[u8],
    reseal: &mut crate::sse::ResealFn<'_>,
) -> ModelResult<Option<Vec<u8>>> {
    let mut rec: AccessKeyRecord = decode(value)?;
    let StoredSecret::Sealed(sealed) = &rec.secret else {
        return Ok(None);
    };
    let key_id =
        std::str::from_utf8(key).map_err(|_| ModelError::Corrupt("an access key id that is not text".into()))?;
    let Some(new) = reseal(sealed, &secret_context(key_id))? else {
        return Ok(None);
    };
    rec.secret = StoredSecret::Sealed(new);
    Ok(Some(encode(&rec)))
}

/// What a secret access key is sealed for: its key id.
fn secret_context(key_id: &str) -> Vec<u8> {
    [b"ferrite/access-key/".as_slice(), key_id.as_bytes()].concat()
}

impl StoredSecret {
    /// `secret` sealed by the provider when one is usable, else as is.
    fn new(keys: &crate::sse::Keys, key_id: &str, secret: &Secret) -> ModelResult<StoredSecret> {
        match keys.provider() {
            Ok(p) => Ok(StoredSecret::Sealed(
                p.seal(secret.expose().as_bytes(), &secret_context(key_id))?,
            )),
            Err(_) => Ok(StoredSecret::Plain(secret.expose().to_string())),
        }
    }

    fn open(&self, keys: &crate::sse::Keys, key_id: &str) -> ModelResult<Secret> {
        match self {
            StoredSecret::Plain(s) => Ok(Secret::new(s.clone())),
            StoredSecret::Sealed(sealed) => {
                let bytes = keys.provider()?.open(sealed, &secret_context(key_id))?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| ModelError::Corrupt(format!("the sealed secret of {key_id} is not text")))?;
                Ok(Secret::new(text))
            }
        }
    }
}

/// Access key records written before secrets were sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessKeyRecordV1 {
    pub user: String,
    pub secret: String,
    pub status: KeyStatus,
    pub created_ms: i64,
}

/// Version 2: the secret sealed (a version-1 secret stays plain until the next start
/// with a key provider seals it).
impl Record for AccessKeyRecord {
    const VERSION: u8 = 2;
    type Previous = AccessKeyRecordV1;
    fn migrate(p: AccessKeyRecordV1) -> ModelResult<Self> {
        Ok(AccessKeyRecord {
            user: p.user,
            secret: StoredSecret::Plain(p.secret),
            status: p.status,
            created_ms: p.created_ms,
        })
    }
}

/// `principals`: canonical id -> the user it belongs to, for rendering owners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PrincipalRecord {
    pub user: String,
    pub display_name: String,
}

/// `key_last_used`: key id -> its last use, as last flushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastUsedRecord {
    pub ms: i64,
    pub service: String,
    pub region: String,
}

first_version!(UserRecord, AccessKeyRecordV1, PrincipalRecord, LastUsedRecord);

impl UserRecord {
    fn info(&self) -> UserInfo {
        UserInfo {
            name: self.name.clone(),
            user_id: self.user_id.clone(),
            canonical_id: self.canonical_id.clone(),
            created_ms: self.created_ms,
        }
    }
}

// ---- rules ----

/// IAM's user name rule: 1 to 64 of `A-Z a-z 0-9 + = , . @ _ -`.
pub fn validate_user_name(name: &str) -> ModelResult<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(ModelError::ValidationError(format!(
            "The specified value for userName is invalid. It must contain only alphanumeric characters and/or the \
             following: +=,.@_- and be 1 to 64 characters long: {name:?}"
        )));
    }
    Ok(())
}

/// Only the administrator manages users (until IAM policies exist).
/// Access keys resolved to their principal and secret, so that a user's request reads
/// the store for its key once, not twice (s3s's secret lookup, then the caller) and
/// not at all while the entry lives. No entry outlives a change: every change to users
/// or keys bumps the generation and empties the map once its commit is done, before
/// its reply returns; and a lookup stores what it read only if no change happened
/// since it began reading. Bounded: emptied when full.
#[derive(Default)]
pub(crate) struct KeyCache {
    state: std::sync::Mutex<KeyCacheState>,
}

#[derive(Default)]
struct KeyCacheState {
    generation: u64,
    keys: std::collections::HashMap<String, KeyOwner>,
}

const KEY_CACHE_MAX: usize = 10_000;

impl KeyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, KeyCacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    fn get(&self, key: &str) -> Option<KeyOwner> {
        self.lock().keys.get(key).cloned()
    }

    fn insert(&self, since: u64, key: &str, value: &KeyOwner) {
        let mut s = self.lock();
        if s.generation != since {
            return;
        }
        if s.keys.len() >= KEY_CACHE_MAX {
            s.keys.clear();
        }
        s.keys.insert(key.to_string(), value.clone());
    }

    pub(crate) fn invalidate(&self) {
        let mut s = self.lock();
        s.generation += 1;
        s.keys.clear();
    }
}

/// Whether a user has this canonical id (ACL grants may name only principals that exist).
pub(crate) fn canonical_id_exists(txn: &dyn ReadTxn, canonical_id: &str) -> ModelResult<bool> {
    Ok(txn.get(tables::PRINCIPALS, canonical_id.as_bytes())?.is_some())
}

/// The user an IAM request about access keys is about: the one it names, else the
/// calling user itself (as IAM does), else (root, naming none) none in particular.
fn key_user(caller: &Caller, user: Option<&str>) -> Option<String> {
    match (user, &caller.principal) {
        (Some(u), _) => Some(u.to_string()),
        (None, Principal::User { display_name, .. }) => Some(display_name.clone()),
        (None, _) => None,
    }
}

/// The resource ARN of an IAM request on `user` (every user when none is named).
fn target(user: Option<&str>) -> String {
    user_arn(user.unwrap_or("*"))
}

/// The `users` key of an existing user, or NoSuchEntity.
pub(crate) fn existing_user_key(txn: &dyn ReadTxn, name: &str) -> ModelResult<String> {
    read_user(txn, name)?;
    Ok(user_key(name))
}

/// `len` random upper-case letters and digits.
pub(crate) fn random_upper_alnum(len: usize) -> String {
    random_from(UPPER_ALNUM, len)
}

/// The `users` key of a name: unique case-insensitively, as in IAM.
fn user_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn new_user_id() -> String {
    format!("AIDA{}", random_from(UPPER_ALNUM, 17))
}

fn new_canonical_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// 20 characters, `AKIA` first, as AWS's long-term keys look (tools check the shape).
fn new_access_key_id() -> String {
    format!("AKIA{}", random_from(UPPER_ALNUM, 16))
}

fn new_secret() -> Secret {
    Secret::new(random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        40,
    ))
}

fn no_such_user(name: &str) -> ModelError {
    ModelError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

fn no_such_key(key_id: &str) -> ModelError {
    ModelError::NoSuchEntity(format!("The Access Key with id {key_id} cannot be found."))
}

/// A user's record (for the policy simulator).
pub(crate) fn read_user_record(txn: &dyn ReadTxn, name: &str) -> ModelResult<UserRecord> {
    read_user(txn, name)
}

fn read_user(txn: &dyn ReadTxn, name: &str) -> ModelResult<UserRecord> {
    match txn.get(tables::USERS, user_key(name).as_bytes())? {
        Some(v) => decode(&v),
        None => Err(no_such_user(name)),
    }
}

fn read_key(txn: &dyn ReadTxn, key_id: &str) -> ModelResult<AccessKeyRecord> {
    match txn.get(tables::ACCESS_KEYS, key_id.as_bytes())? {
        Some(v) => decode(&v),
        None => Err(no_such_key(key_id)),
    }
}

/// The key `key_id`, checked to belong to `user` when a user is named (IAM answers
/// NoSuchEntity for a key of another user).
fn key_of(txn: &dyn ReadTxn, user: Option<&str>, key_id: &str) -> ModelResult<AccessKeyRecord> {
    let key = read_key(txn, key_id)?;
    if let Some(user) = user {
        read_user(txn, user)?;
        if key.user != user_key(user) {
            return Err(no_such_key(key_id));
        }
    }
    Ok(key)
}

/// The names of the buckets owned by `canonical_id` (at most `max`).
fn buckets_owned_by(txn: &dyn ReadTxn, canonical_id: &str, max: usize) -> ModelResult<Vec<String>> {
    let mut out = Vec::new();
    crate::lookup::scan_buckets(txn, &mut |b| {
        if b.owner == canonical_id {
            out.push(b.name);
        }
        out.len() < max
    })?;
    Ok(out)
}

// ---- last use, in memory ----

struct Usage {
    last: LastUse,
    /// When this key's last use was last queued for the store (0: not since start).
    flushed_ms: i64,
}

/// Last use of each key since start, by key id. Bounded by the number of keys:
/// only keys that verified a signature are noted, and a deleted key is forgotten.
#[derive(Default)]
pub(crate) struct KeyUsage {
    map: Mutex<HashMap<String, Usage>>,
}

impl KeyUsage {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Usage>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a use; returns it when it should be written to the store now.
    fn note(&self, key_id: &str, last: LastUse) -> Option<LastUse> {
        let mut map = self.lock();
        let now = last.ms;
        match map.get_mut(key_id) {
            Some(u) => {
                u.last = last;
                (now - u.flushed_ms >= LAST_USED_FLUSH_MS).then(|| {
                    u.flushed_ms = now;
                    u.last.clone()
                })
            }
            None => {
                map.insert(
                    key_id.to_string(),
                    Usage {
                        last: last.clone(),
                        flushed_ms: now,
                    },
                );
                Some(last)
            }
        }
    }

    fn get(&self, key_id: &str) -> Option<LastUse> {
        self.lock().get(key_id).map(|u| u.last.clone())
    }

    fn forget(&self, key_id: &str) {
        self.lock().remove(key_id);
    }
}

// ---- operations ----

impl Ferrite {
    /// Creates a user. Its canonical id and user id are random and kept for good.
    pub async fn create_user(&self, caller: &Caller, name: &str) -> ModelResult<UserInfo> {
        require_iam(caller, "iam:CreateUser", &user_arn(name))?;
        validate_user_name(name)?;
        // Made once, outside the job: a re-run of the job writes the same ids.
        let rec = UserRecord {
            name: name.to_string(),
            user_id: new_user_id(),
            canonical_id: new_canonical_id(),
            created_ms: now_ms(),
            keys: Vec::new(),
        };
        self.change(move |txn| {
            let key = user_key(&rec.name);
            if txn.get(tables::USERS, key.as_bytes())?.is_some() {
                return Err(ModelError::EntityAlreadyExists(format!(
                    "User with name {} already exists.",
                    rec.name
                )));
            }
            if txn.get(tables::PRINCIPALS, rec.canonical_id.as_bytes())?.is_some() {
                return Err(ModelError::Internal("canonical id collision".into()));
            }
            txn.put(tables::USERS, key.as_bytes(), &encode(&rec))?;
            let principal = PrincipalRecord {
                user: key,
                display_name: rec.name.clone(),
            };
            txn.put(tables::PRINCIPALS, rec.canonical_id.as_bytes(), &encode(&principal))?;
            Ok(rec.info())
        })
        .await
    }

    pub async fn get_user(&self, caller: &Caller, name: &str) -> ModelResult<UserInfo> {
        require_iam(caller, "iam:GetUser", &user_arn(name))?;
        let inner = self.inner.clone();
        let name = name.to_string();
        blocking(move || Ok(read_user(&*inner.meta.begin_read()?, &name)?.info())).await
    }

    /// Users in (case-insensitive) name order, after `marker`; at most `max`
    /// (1..=[`MAX_LIST_USERS`]).
    pub async fn list_users(&self, caller: &Caller, marker: Option<&str>, max: usize) -> ModelResult<UserPage> {
        require_iam(caller, "iam:ListUsers", &target(None))?;
        if !(1..=MAX_LIST_USERS).contains(&max) {
            return Err(ModelError::ValidationError(format!(
                "MaxItems must be between 1 and {MAX_LIST_USERS}"
            )));
        }
        let inner = self.inner.clone();
        let marker = marker.filter(|m| !m.is_empty()).map(str::to_string);
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let start = match &marker {
                Some(m) => Bound::Excluded(m.as_bytes()),
                None => Bound::Unbounded,
            };
            let mut users = Vec::new();
            let mut more = false;
            crate::records::scan_decoded::<UserRecord>(&*txn, tables::USERS, start, &mut |_, u| {
                if users.len() == max {
                    more = true;
                    return false;
                }
                users.push(u.info());
                true
            })?;
            let next_marker = if more {
                users.last().map(|u| user_key(&u.name))
            } else {
                None
            };
            Ok(UserPage { users, next_marker })
        })
        .await
    }

    /// Deletes a user that has no access keys and owns no bucket (IAM's DeleteConflict
    /// otherwise: delete its keys, and its buckets or hand them over, first).
    pub async fn delete_user(&self, caller: &Caller, name: &str) -> ModelResult<()> {
        require_iam(caller, "iam:DeleteUser", &user_arn(name))?;
        let name = name.to_string();
        self.change(move |txn| {
            let rec = read_user(&*txn, &name)?;
            if !rec.keys.is_empty() {
                return Err(ModelError::DeleteConflict(
                    "Cannot delete entity, must delete access keys first.".into(),
                ));
            }
            if crate::identity::has_policies(&*txn, &user_key(&name))? {
                return Err(ModelError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if let Some(bucket) = buckets_owned_by(&*txn, &rec.canonical_id, 1)?.first() {
                return Err(ModelError::DeleteConflict(format!(
                    "Cannot delete entity, the user owns buckets (such as {bucket}); delete them first."
                )));
            }
            txn.delete(tables::USERS, user_key(&name).as_bytes())?;
            txn.delete(tables::PRINCIPALS, rec.canonical_id.as_bytes())?;
            crate::sessions::forget_password(txn, &user_key(&name))?;
            Ok(())
        })
        .await
    }

    /// Creates an access key for `user` (Active). Its secret is in the reply only.
    pub async fn create_access_key(&self, caller: &Caller, user: &str) -> ModelResult<NewAccessKey> {
        require_iam(caller, "iam:CreateAccessKey", &user_arn(user))?;
        let user = user.to_string();
        let key_id = new_access_key_id();
        let secret = new_secret();
        let created_ms = now_ms();
        let stored = StoredSecret::new(&self.inner.keys, &key_id, &secret)?;
        let info = self
            .change(move |txn| {
                let mut rec = read_user(&*txn, &user)?;
                if rec.keys.len() >= MAX_KEYS_PER_USER {
                    return Err(ModelError::LimitExceeded(format!(
                        "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                    )));
                }
                if txn.get(tables::ACCESS_KEYS, key_id.as_bytes())?.is_some() {
                    return Err(ModelError::Internal("access key id collision".into()));
                }
                let key = AccessKeyRecord {
                    user: user_key(&rec.name),
                    secret: stored.clone(),
                    status: KeyStatus::Active,
                    created_ms,
                };
                rec.keys.push(key_id.clone());
                txn.put(tables::ACCESS_KEYS, key_id.as_bytes(), &encode(&key))?;
                txn.put(tables::USERS, key.user.as_bytes(), &encode(&rec))?;
                Ok(AccessKeyInfo {
                    access_key_id: key_id.clone(),
                    user_name: rec.name,
                    status: KeyStatus::Active,
                    created_ms,
                })
            })
            .await?;
        Ok(NewAccessKey { info, secret })
    }

    /// The user's access keys, oldest first.
    pub async fn list_access_keys(&self, caller: &Caller, user: &str) -> ModelResult<Vec<AccessKeyInfo>> {
        require_iam(caller, "iam:ListAccessKeys", &user_arn(user))?;
        let inner = self.inner.clone();
        let user = user.to_string();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let rec = read_user(&*txn, &user)?;
            rec.keys
                .iter()
                .map(|id| {
                    let k = read_key(&*txn, id)
                        .map_err(|_| ModelError::Corrupt(format!("user {} lists a missing key", rec.name)))?;
                    Ok(AccessKeyInfo {
                        access_key_id: id.clone(),
                        user_name: rec.name.clone(),
                        status: k.status,
                        created_ms: k.created_ms,
                    })
                })
                .collect()
        })
        .await
    }

    /// Turns a key on or off. An inactive key is refused from its next request on.
    pub async fn update_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
        key_id: &str,
        status: KeyStatus,
    ) -> ModelResult<()> {
        let user = key_user(caller, user);
        require_iam(caller, "iam:UpdateAccessKey", &target(user.as_deref()))?;
        let key_id = key_id.to_string();
        self.change(move |txn| {
            let mut key = key_of(&*txn, user.as_deref(), &key_id)?;
            if key.status != status {
                key.status = status;
                txn.put(tables::ACCESS_KEYS, key_id.as_bytes(), &encode(&key))?;
            }
            Ok(())
        })
        .await
    }

    pub async fn delete_access_key(&self, caller: &Caller, user: Option<&str>, key_id: &str) -> ModelResult<()> {
        let user = key_user(caller, user);
        require_iam(caller, "iam:DeleteAccessKey", &target(user.as_deref()))?;
        let id = key_id.to_string();
        self.change(move |txn| {
            let key = key_of(&*txn, user.as_deref(), &id)?;
            let mut rec: UserRecord = match txn.get(tables::USERS, key.user.as_bytes())? {
                Some(v) => decode(&v)?,
                None => return Err(ModelError::Corrupt(format!("key {id} of a missing user"))),
            };
            rec.keys.retain(|k| *k != id);
            txn.put(tables::USERS, key.user.as_bytes(), &encode(&rec))?;
            txn.delete(tables::ACCESS_KEYS, id.as_bytes())?;
            txn.delete(tables::KEY_LAST_USED, id.as_bytes())?;
            Ok(())
        })
        .await?;
        self.inner.key_usage.forget(key_id);
        Ok(())
    }

    /// When the key was last used (approximately: see the module docs).
    pub async fn access_key_last_used(&self, caller: &Caller, key_id: &str) -> ModelResult<KeyLastUsed> {
        let inner = self.inner.clone();
        let id = key_id.to_string();
        let read = blocking(move || {
            let txn = inner.meta.begin_read()?;
            let key = read_key(&*txn, &id)?;
            let user: UserRecord = match txn.get(tables::USERS, key.user.as_bytes())? {
                Some(v) => decode(&v)?,
                None => return Err(ModelError::Corrupt(format!("key {id} of a missing user"))),
            };
            let stored = match txn.get(tables::KEY_LAST_USED, id.as_bytes())? {
                Some(v) => Some(decode::<LastUsedRecord>(&v)?),
                None => None,
            };
            Ok((user.name, stored))
        })
        .await;
        // Authorized on the key's user, once it is known; a missing key is reported
        // only to a caller that could have asked about any user's keys.
        let (user_name, stored) = match read {
            Ok(found) => found,
            Err(e @ ModelError::NoSuchEntity(_)) => {
                require_iam(caller, "iam:GetAccessKeyLastUsed", &target(None))?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        require_iam(caller, "iam:GetAccessKeyLastUsed", &user_arn(&user_name))?;
        let stored = stored.map(|r| LastUse {
            ms: r.ms,
            service: r.service,
            region: r.region,
        });
        let last_used = match (self.inner.key_usage.get(key_id), stored) {
            (Some(m), Some(s)) if s.ms > m.ms => Some(s),
            (Some(m), _) => Some(m),
            (None, s) => s,
        };
        Ok(KeyLastUsed { user_name, last_used })
    }

    /// Runs a change to users or keys as a committer job, then drops every resolved
    /// key (see [`KeyCache`]) before the change's reply returns.
    pub(crate) async fn change<R, F>(&self, job: F) -> ModelResult<R>
    where
        R: Send + 'static,
        F: Fn(&mut dyn WriteTxn) -> ModelResult<R> + Send + 'static,
    {
        let result = self
            .inner
            .committer
            .write(move |txn| {
                let r = job(txn)?;
                crate::epochs::bump(txn, crate::epochs::Cached::Keys)?;
                Ok(r)
            })
            .await;
        self.inner.key_cache.invalidate();
        result
    }

    /// The principal an access key signs for, its secret and its policies, if the key
    /// exists and is active: from the [`KeyCache`], else one read transaction. A change
    /// applies at once (the cache never outlives one). Root's credentials are not
    /// stored here: the adapter checks them first.
    pub fn principal_for_key(&self, access_key: &str) -> ModelResult<Option<KeyOwner>> {
        if let Some(hit) = self.inner.key_cache.get(access_key) {
            return Ok(Some(hit));
        }
        let since = self.inner.key_cache.generation();
        let txn = self.inner.meta.begin_read()?;
        let Some(v) = txn.get(tables::ACCESS_KEYS, access_key.as_bytes())? else {
            return Ok(None);
        };
        let key: AccessKeyRecord = decode(&v)?;
        if key.status != KeyStatus::Active {
            return Ok(None);
        }
        let Some(u) = txn.get(tables::USERS, key.user.as_bytes())? else {
            return Err(ModelError::Corrupt(format!(
                "access key {access_key} of a missing user"
            )));
        };
        let user: UserRecord = decode(&u)?;
        let policies = crate::identity::policies_of(&*txn, &key.user)?;
        let principal = Principal::User {
            canonical_id: user.canonical_id,
            display_name: user.name,
            access_key_id: access_key.to_string(),
            user_id: user.user_id,
        };
        let found = KeyOwner {
            principal,
            secret: key.secret.open(&self.inner.keys, access_key)?,
            policies,
        };
        self.inner.key_cache.insert(since, access_key, &found);
        Ok(Some(found))
    }

    /// Seals every secret access key still stored as is (written before secrets were
    /// sealed, or while no key provider was usable), so that the metadata file alone
    /// reveals none. Runs at start when the key provider is usable; one job, so a
    /// crash leaves each record either as it was or sealed. Returns how many it sealed.
    pub(crate) async fn seal_stored_secrets(&self) -> ModelResult<usize> {
        let keys = self.inner.keys.clone();
        if keys.provider().is_err() {
            return Ok(0);
        }
        let sealed = self
            .inner
            .committer
            .write(move |txn| {
                let mut plain = Vec::new();
                crate::records::scan_decoded::<AccessKeyRecord>(
                    &*txn,
                    tables::ACCESS_KEYS,
                    Bound::Unbounded,
                    &mut |k, rec| {
                        if matches!(rec.secret, StoredSecret::Plain(_)) {
                            plain.push((k.to_vec(), rec));
                        }
                        true
                    },
                )?;
                for (id, mut rec) in plain.iter().cloned() {
                    let key_id = String::from_utf8(id.clone())
                        .map_err(|_| ModelError::Corrupt("an access key id that is not text".into()))?;
                    let StoredSecret::Plain(secret) = &rec.secret else {
                        continue;
                    };
                    rec.secret = StoredSecret::new(&keys, &key_id, &Secret::new(secret.clone()))?;
                    txn.put(tables::ACCESS_KEYS, &id, &encode(&rec))?;
                }
                Ok(plain.len())
            })
            .await?;
        if sealed > 0 {
            tracing::info!(count = sealed, "sealed stored secret access keys with the master key");
        }
        Ok(sealed)
    }

    /// The display name (the user's name) of a stored user's canonical id.
    pub fn display_name_of(&self, canonical_id: &str) -> ModelResult<Option<String>> {
        let txn = self.inner.meta.begin_read()?;
        match txn.get(tables::PRINCIPALS, canonical_id.as_bytes())? {
            Some(v) => Ok(Some(decode::<PrincipalRecord>(&v)?.display_name)),
            None => Ok(None),
        }
    }

    /// Notes that `key_id` just signed a verified request. Cheap (a map update); about
    /// once an hour per key it also queues a store write, without waiting for it.
    pub fn note_key_used(&self, key_id: &str, service: &str, region: &str) {
        let last = LastUse {
            ms: now_ms(),
            service: service.to_string(),
            region: region.to_string(),
        };
        let Some(flush) = self.inner.key_usage.note(key_id, last) else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        let id = key_id.to_string();
        rt.spawn(async move {
            let rec = LastUsedRecord {
                ms: flush.ms,
                service: flush.service,
                region: flush.region,
            };
            let written = this
                .inner
                .committer
                .write(move |txn| store_last_used(txn, &id, &rec))
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not record an access key's last use");
            }
        });
    }
}

/// Writes a key's last use, if the key still exists and nothing newer is stored.
fn store_last_used(txn: &mut dyn WriteTxn, key_id: &str, rec: &LastUsedRecord) -> ModelResult<()> {
    if txn.get(tables::ACCESS_KEYS, key_id.as_bytes())?.is_none() {
        return Ok(());
    }
    if let Some(v) = txn.get(tables::KEY_LAST_USED, key_id.as_bytes())?
        && decode::<LastUsedRecord>(&v)?.ms >= rec.ms
    {
        return Ok(());
    }
    txn.put(tables::KEY_LAST_USED, key_id.as_bytes(), &encode(rec))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> KeyOwner {
        let principal = Principal::User {
            canonical_id: "c".repeat(64),
            display_name: "u".into(),
            access_key_id: "AK".into(),
            user_id: "AIDA".into(),
        };
        KeyOwner {
            principal,
            secret: Secret::new("s"),
            policies: std::sync::Arc::from(Vec::new()),
        }
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_kept() {
        let cache = KeyCache::default();
        let since = cache.generation();
        cache.invalidate();
        cache.insert(since, "AK", &entry());
        assert!(cache.get("AK").is_none(), "read before the change, stored after it");
        let since = cache.generation();
        cache.insert(since, "AK", &entry());
        assert!(cache.get("AK").is_some());
        cache.invalidate();
        assert!(cache.get("AK").is_none(), "a change empties the cache");
    }
}

//! Console sessions and console passwords.
//!
//! A console session is a server-side record: the browser holds only its token (in an
//! HttpOnly cookie), never a secret key. The token is `<id>.<secret>`: the id names
//! the record (`console_sessions`), the record holds only the SHA-256 of the secret,
//! so a copy of the metadata file opens no session. A session acts with the access key
//! it was opened with: a key disabled or deleted ends its sessions at once (the key
//! no longer resolves), and every request is authorized as that key's requests are.
//!
//! A user may have a console password (IAM's login profile), stored as an argon2id
//! hash (`console_passwords`); a password login opens a session on the user's oldest
//! active access key. Root logs in with its access key and secret.
//!
//! Sessions expire (`Options::console_session_ttl` after the login); an admin lists and revokes
//! them (`admin:ListSessions`, `admin:RevokeSession`).

use std::ops::Bound;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::now_ms;
use crate::engine::blocking;
use crate::identity::{require_iam, user_arn};
use crate::records::{Initial, Record, decode, encode, first_version};
use crate::{Caller, Ferrite, KeyStatus, ModelError, ModelResult, Principal, Secret, tables};

/// Live sessions the server keeps at most; a login past it is refused.
pub const MAX_SESSIONS: usize = 10_000;
/// Live sessions of one access key at most: a login past it ends the key's oldest
/// (so one key cannot fill the server's sessions).
pub const MAX_SESSIONS_PER_KEY: usize = 20;
/// Console password length bounds (bounded before hashing: argon2's cost is per byte
/// only a little, but an unbounded input is never taken).
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 128;

/// Password hashes computed at once, at most: each takes argon2's memory (19 MiB).
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// `console_sessions`: session id -> the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    /// SHA-256 of the token's secret half.
    pub secret_hash: [u8; 32],
    /// The access key the session acts with.
    pub access_key: String,
    /// A check value of the key's secret at the login (the API layer's HMAC of it): a
    /// secret changed since ends the session.
    pub key_check: [u8; 32],
    /// Who logged in: root's display name or the user's name.
    pub principal: String,
    pub method: LoginMethod,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// `console_passwords`: user key (lower-cased name) -> the password's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PasswordRecord {
    /// The argon2id hash in the PHC string format (algorithm, parameters, salt, hash).
    pub phc: String,
    pub set_ms: i64,
}

first_version!(SessionRecord, PasswordRecord);

/// How a session was opened. Stored by variant index: new variants go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginMethod {
    AccessKey,
    Password,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::AccessKey => "access_key",
            LoginMethod::Password => "password",
        }
    }
}

/// A session as the admin's list shows it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    pub principal: String,
    pub access_key: String,
    /// The check value of the key's secret at the login (see [`Ferrite::open_session`]).
    pub key_check: [u8; 32],
    pub method: LoginMethod,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// A session just opened: its info and its token (the cookie's value, given once).
#[derive(Debug)]
pub struct NewSession {
    pub info: SessionInfo,
    pub token: Secret,
}

/// A password login that succeeded: who, and the access key the session acts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordLogin {
    pub user: String,
    pub access_key: String,
}

impl SessionRecord {
    fn info(&self, id: &str) -> SessionInfo {
        SessionInfo {
            id: id.to_string(),
            principal: self.principal.clone(),
            access_key: self.access_key.clone(),
            key_check: self.key_check,
            method: self.method,
            created_ms: self.created_ms,
            expires_ms: self.expires_ms,
        }
    }
}

/// The token's two halves, if it has the shape of one.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (ok(id, 32) && ok(secret, 64)).then_some((id, secret))
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn no_such_session(id: &str) -> ModelError {
    ModelError::NoSuchEntity(format!("The session {id} does not exist or has ended."))
}

fn argon2() -> argon2::Argon2<'static> {
    // Argon2id with the crate's defaults (RFC 9106's second recommendation: 19 MiB,
    // 2 passes, 1 lane).
    argon2::Argon2::default()
}

fn hash_password(password: &str) -> ModelResult<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| ModelError::Internal(format!("password salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ModelError::Internal(format!("password hash: {e}")))
}

/// Whether `password` is the one `phc` hashes.
fn password_matches(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => argon2().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches, verified against for an unknown user so that a login
/// takes as long whether or not the user exists.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&hex::encode(rand::random::<[u8; 32]>())).unwrap_or_default())
}

fn validate_password(password: &str) -> ModelResult<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&n) {
        return Err(ModelError::ValidationError(format!(
            "A console password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters."
        )));
    }
    Ok(())
}

impl Ferrite {
    /// Opens a console session for `caller`, who has just proven it holds
    /// `access_key` (its secret, or a console password); `key_check` is a check value
    /// of the key's secret that every use of the session compares again. Ends expired
    /// sessions, and the key's oldest past [`MAX_SESSIONS_PER_KEY`], in the same
    /// transaction.
    pub async fn open_session(
        &self,
        caller: &Caller,
        access_key: &str,
        method: LoginMethod,
        key_check: [u8; 32],
    ) -> ModelResult<NewSession> {
        let principal = match &caller.principal {
            Principal::Root { display_name, .. } => display_name.clone(),
            Principal::User { display_name, .. } => display_name.clone(),
            Principal::Anonymous => return Err(ModelError::AccessDenied),
        };
        let id = hex::encode(rand::random::<[u8; 16]>());
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let now = now_ms();
        let rec = SessionRecord {
            secret_hash: hash_secret(&secret),
            access_key: access_key.to_string(),
            key_check,
            principal,
            method,
            created_ms: now,
            expires_ms: now + i64::try_from(self.inner.opts.console_session_ttl.as_millis()).unwrap_or(i64::MAX / 2),
        };
        let info = rec.info(&id);
        let row = id.clone();
        self.inner
            .committer
            .write(move |txn| {
                let mut expired = Vec::new();
                let mut live = 0usize;
                // The key's live sessions: (created, id).
                let mut of_key = Vec::new();
                crate::records::scan_decoded::<SessionRecord>(
                    &*txn,
                    tables::CONSOLE_SESSIONS,
                    Bound::Unbounded,
                    &mut |k, s| {
                        if s.expires_ms <= now {
                            expired.push(k.to_vec());
                        } else {
                            live += 1;
                            if s.access_key == rec.access_key {
                                of_key.push((s.created_ms, k.to_vec()));
                            }
                        }
                        true
                    },
                )?;
                of_key.sort();
                let over = (of_key.len() + 1).saturating_sub(MAX_SESSIONS_PER_KEY);
                for (_, k) in of_key.iter().take(over) {
                    expired.push(k.clone());
                    live -= 1;
                }
                for k in &expired {
                    txn.delete(tables::CONSOLE_SESSIONS, k)?;
                }
                if live >= MAX_SESSIONS {
                    return Err(ModelError::LimitExceeded(format!(
                        "The server holds {MAX_SESSIONS} console sessions, its most; try again when some end."
                    )));
                }
                txn.put(tables::CONSOLE_SESSIONS, row.as_bytes(), &encode(&rec))?;
                Ok(())
            })
            .await?;
        Ok(NewSession {
            info,
            token: Secret::new(format!("{id}.{secret}")),
        })
    }

    /// The live session a token names, if any (a token of another shape, an unknown
    /// or ended session, or a wrong secret: `None`).
    pub async fn session(&self, token: &Secret) -> ModelResult<Option<SessionInfo>> {
        let Some((id, secret)) = split_token(token.expose()) else {
            return Ok(None);
        };
        let (id, hash) = (id.to_string(), hash_secret(secret));
        let inner = self.inner.clone();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let Some(v) = txn.get(tables::CONSOLE_SESSIONS, id.as_bytes())? else {
                return Ok(None);
            };
            let rec: SessionRecord = decode(&v)?;
            let matches: bool = rec.secret_hash.ct_eq(&hash).into();
            Ok((matches && rec.expires_ms > now_ms()).then(|| rec.info(&id)))
        })
        .await
    }

    /// Ends the session a token names (a logout); nothing when there is none.
    pub async fn end_session(&self, token: &Secret) -> ModelResult<()> {
        let Some(live) = self.session(token).await? else {
            return Ok(());
        };
        self.inner
            .committer
            .write(move |txn| {
                txn.delete(tables::CONSOLE_SESSIONS, live.id.as_bytes())?;
                Ok(())
            })
            .await
    }

    /// Every live session, oldest first.
    pub async fn list_sessions(&self, caller: &Caller) -> ModelResult<Vec<SessionInfo>> {
        require_iam(caller, "admin:ListSessions", "*")?;
        let inner = self.inner.clone();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let now = now_ms();
            let mut all = Vec::new();
            crate::records::scan_decoded::<SessionRecord>(
                &*txn,
                tables::CONSOLE_SESSIONS,
                Bound::Unbounded,
                &mut |k, s| {
                    if s.expires_ms > now {
                        all.push(s.info(&String::from_utf8_lossy(k)));
                    }
                    true
                },
            )?;
            all.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
            Ok(all)
        })
        .await
    }

    /// Ends a session by its id.
    pub async fn revoke_session(&self, caller: &Caller, id: &str) -> ModelResult<()> {
        require_iam(caller, "admin:RevokeSession", "*")?;
        let id = id.to_string();
        self.inner
            .committer
            .write(move |txn| {
                let live = match txn.get(tables::CONSOLE_SESSIONS, id.as_bytes())? {
                    Some(v) => decode::<SessionRecord>(&v)?.expires_ms > now_ms(),
                    None => false,
                };
                if !live {
                    return Err(no_such_session(&id));
                }
                txn.delete(tables::CONSOLE_SESSIONS, id.as_bytes())?;
                Ok(())
            })
            .await
    }

    /// Sets `user`'s console password (`iam:CreateLoginProfile` when it has none,
    /// `iam:UpdateLoginProfile` when it has one).
    pub async fn set_console_password(&self, caller: &Caller, user: &str, password: &Secret) -> ModelResult<()> {
        let resource = user_arn(user);
        // A caller allowed neither action is refused before any hashing; which one
        // applies is decided in the job, by whether the user has a password.
        if require_iam(caller, "iam:CreateLoginProfile", &resource).is_err()
            && require_iam(caller, "iam:UpdateLoginProfile", &resource).is_err()
        {
            return Err(ModelError::AccessDenied);
        }
        validate_password(password.expose())?;
        let phc = {
            let _permit = HASHING
                .acquire()
                .await
                .map_err(|_| ModelError::Internal("password hashing closed".into()))?;
            let password = password.clone();
            blocking(move || hash_password(password.expose())).await?
        };
        let caller = caller.clone();
        let user = user.to_string();
        self.inner
            .committer
            .write(move |txn| {
                let key = crate::users::existing_user_key(&*txn, &user)?;
                let action = match txn.get(tables::CONSOLE_PASSWORDS, key.as_bytes())? {
                    Some(_) => "iam:UpdateLoginProfile",
                    None => "iam:CreateLoginProfile",
                };
                require_iam(&caller, action, &resource)?;
                let rec = PasswordRecord {
                    phc: phc.clone(),
                    set_ms: now_ms(),
                };
                txn.put(tables::CONSOLE_PASSWORDS, key.as_bytes(), &encode(&rec))?;
                end_password_sessions(txn, &key)
            })
            .await
    }

    /// Removes `user`'s console password (`iam:DeleteLoginProfile`).
    pub async fn delete_console_password(&self, caller: &Caller, user: &str) -> ModelResult<()> {
        require_iam(caller, "iam:DeleteLoginProfile", &user_arn(user))?;
        let user = user.to_string();
        self.inner
            .committer
            .write(move |txn| {
                let key = crate::users::existing_user_key(&*txn, &user)?;
                if txn.get(tables::CONSOLE_PASSWORDS, key.as_bytes())?.is_none() {
                    return Err(ModelError::NoSuchEntity(format!(
                        "The user with name {user} has no console password."
                    )));
                }
                txn.delete(tables::CONSOLE_PASSWORDS, key.as_bytes())?;
                end_password_sessions(txn, &key)
            })
            .await
    }

    /// Whether `user` has a console password, and when it was set (`iam:GetLoginProfile`).
    pub async fn console_password_set_ms(&self, caller: &Caller, user: &str) -> ModelResult<Option<i64>> {
        require_iam(caller, "iam:GetLoginProfile", &user_arn(user))?;
        let inner = self.inner.clone();
        let user = user.to_string();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let key = crate::users::existing_user_key(&*txn, &user)?;
            match txn.get(tables::CONSOLE_PASSWORDS, key.as_bytes())? {
                Some(v) => Ok(Some(decode::<PasswordRecord>(&v)?.set_ms)),
                None => Ok(None),
            }
        })
        .await
    }

    /// Checks a console password. `Ok(None)` for a wrong password, an unknown user,
    /// a user without a password or without an active access key: the caller cannot
    /// tell which (the same answer, and about the same time, for each).
    pub async fn password_login(&self, user: &str, password: &Secret) -> ModelResult<Option<PasswordLogin>> {
        if password.expose().len() > MAX_PASSWORD_LEN * 4 {
            return Ok(None);
        }
        let inner = self.inner.clone();
        let name = user.to_string();
        let found = blocking(move || {
            let txn = inner.meta.begin_read()?;
            let key = name.to_ascii_lowercase();
            let Some(u) = txn.get(tables::USERS, key.as_bytes())? else {
                return Ok(None);
            };
            let Some(p) = txn.get(tables::CONSOLE_PASSWORDS, key.as_bytes())? else {
                return Ok(None);
            };
            let user: crate::users::UserRecord = decode(&u)?;
            let phc = decode::<PasswordRecord>(&p)?.phc;
            let mut active = None;
            for id in &user.keys {
                if let Some(k) = txn.get(tables::ACCESS_KEYS, id.as_bytes())?
                    && decode::<crate::users::AccessKeyRecord>(&k)?.status == KeyStatus::Active
                {
                    active = Some(id.clone());
                    break;
                }
            }
            Ok(Some((user.name, phc, active)))
        })
        .await?;
        let _permit = HASHING
            .acquire()
            .await
            .map_err(|_| ModelError::Internal("password hashing closed".into()))?;
        let password = password.clone();
        blocking(move || {
            Ok(match found {
                Some((user, phc, key)) => match (password_matches(&phc, password.expose()), key) {
                    (true, Some(access_key)) => Some(PasswordLogin { user, access_key }),
                    _ => None,
                },
                None => {
                    password_matches(decoy_hash(), password.expose());
                    None
                }
            })
        })
        .await
    }
}

/// Ends the sessions a user opened with its console password (the password changed
/// or was removed).
fn end_password_sessions(txn: &mut dyn ferrite_store::WriteTxn, user_key: &str) -> ModelResult<()> {
    let mut ended = Vec::new();
    crate::records::scan_decoded::<SessionRecord>(&*txn, tables::CONSOLE_SESSIONS, Bound::Unbounded, &mut |k, s| {
        if s.method == LoginMethod::Password && s.principal.eq_ignore_ascii_case(user_key) {
            ended.push(k.to_vec());
        }
        true
    })?;
    for k in &ended {
        txn.delete(tables::CONSOLE_SESSIONS, k)?;
    }
    Ok(())
}

/// Deletes a user's console password in a transaction that deletes the user.
pub(crate) fn forget_password(txn: &mut dyn ferrite_store::WriteTxn, user_key: &str) -> ModelResult<()> {
    txn.delete(tables::CONSOLE_PASSWORDS, user_key.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_one_shape() {
        let id = "0".repeat(32);
        let secret = "a".repeat(64);
        assert_eq!(
            split_token(&format!("{id}.{secret}")),
            Some((id.as_str(), secret.as_str()))
        );
        for bad in [
            String::new(),
            format!("{id}{secret}"),
            format!("{id}.{secret}0"),
            format!("{}.{secret}", "g".repeat(32)),
            format!("{id}.{}", "a".repeat(63)),
            format!("{id}.{secret}.x"),
        ] {
            assert_eq!(split_token(&bad), None, "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(password_matches(&phc, "correct horse"));
        assert!(!password_matches(&phc, "correct horsE"));
        assert!(!password_matches("not a hash", "correct horse"));
        // A fresh salt each time.
        assert_ne!(phc, hash_password("correct horse").unwrap());
        assert!(!password_matches(decoy_hash(), ""));
    }

    #[test]
    fn password_lengths_are_bounded() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_LEN)).is_ok());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}

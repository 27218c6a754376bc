//! Object Lock: write-once-read-many versions.
//!
//! A bucket is a lock bucket from its creation (`x-amz-bucket-object-lock-enabled`)
//! or from PutObjectLockConfiguration on a versioning-Enabled bucket; never back. A
//! lock bucket's versioning stays Enabled. Its configuration (an optional default
//! retention) lives in its own table, read only by writes into lock buckets.
//!
//! Each version's lock state is a typed field of its record ([`LockInfo`]): a
//! retention (mode and retain-until time) and a legal hold, set when the version is
//! written (the request's, else the bucket's default retention from the commit time)
//! and changed in place by PutObjectRetention and PutObjectLegalHold.
//!
//! Enforcement has one place: the version index's row removal
//! (`versions::remove_row`), which every deletion of a version goes through, asks
//! [`LockInfo::check_removal`] with the [`Removal`] its caller was authorized for.
//! Retention is judged by this server's clock ([`crate::clock::now_ms`]).

use serde::{Deserialize, Serialize};

use crate::access::{allow, bucket_for, object_facts};
use crate::acl::addressed_version;
use crate::authz::{Action, ObjectFacts, Operation};
use crate::clock::now_ms;
use crate::engine::blocking;
use crate::lookup::get_bucket;
use crate::records::{
    BucketRecord, Grant, Initial, LockInfo, LockMode, Record, VersioningState, decode, encode, first_version,
};
use crate::versions::{VersionSel, replace_version, version_header};
use crate::{Caller, Ferrite, ModelError, ModelResult, tables, validate_key};

/// The longest default retention accepted, in days (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// The longest default retention accepted, in years.
pub const MAX_RETENTION_YEARS: u32 = 100;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A default retention period: exactly one of days or years, positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

impl RetentionPeriod {
    /// The retain-until time of a version committed at `from_ms` (a year is 365 days).
    pub fn until(self, from_ms: i64) -> i64 {
        match self {
            RetentionPeriod::Days(d) => from_ms + i64::from(d) * DAY_MS,
            RetentionPeriod::Years(y) => from_ms + i64::from(y) * 365 * DAY_MS,
        }
    }
}

/// A bucket's default retention: what every new version that names none gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: LockMode,
    pub period: RetentionPeriod,
}

/// A lock bucket's configuration, as stored (`BUCKET_LOCK`, by bucket id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockConfig {
    pub default_retention: Option<DefaultRetention>,
}

first_version!(LockConfig);

impl LockConfig {
    /// AWS's rules: a period of at least one day or year, and bounded.
    pub fn validate(&self) -> ModelResult<()> {
        if let Some(d) = &self.default_retention {
            let ok = match d.period {
                RetentionPeriod::Days(n) => (1..=MAX_RETENTION_DAYS).contains(&n),
                RetentionPeriod::Years(n) => (1..=MAX_RETENTION_YEARS).contains(&n),
            };
            if !ok {
                return Err(ModelError::InvalidRetentionPeriod);
            }
        }
        Ok(())
    }
}

/// The lock a write asks for (`x-amz-object-lock-*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockRequest {
    /// A mode and a retain-until time (unix ms), both or neither.
    pub retention: Option<(LockMode, i64)>,
    /// `x-amz-object-lock-legal-hold`: ON or OFF.
    pub legal_hold: Option<bool>,
}

impl LockRequest {
    pub fn is_empty(&self) -> bool {
        self.retention.is_none() && self.legal_hold.is_none()
    }
}

/// What a removal of a version was authorized to override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Nothing: a version under retention or legal hold stays.
    Plain,
    /// GOVERNANCE retention (the caller sent `x-amz-bypass-governance-retention` and
    /// holds `s3:BypassGovernanceRetention`). COMPLIANCE retention and legal holds
    /// still hold.
    BypassGovernance,
}

impl LockInfo {
    /// The retention in effect at `now` (its retain-until time is still ahead).
    pub fn retention_at(&self, now: i64) -> Option<(LockMode, i64)> {
        match (self.mode, self.retain_until_ms) {
            (Some(mode), Some(until)) if until > now => Some((mode, until)),
            _ => None,
        }
    }

    /// Whether the version may be deleted now under `removal`: AccessDenied if not.
    pub(crate) fn check_removal(&self, now: i64, removal: Removal) -> ModelResult<()> {
        if self.legal_hold {
            return Err(ModelError::AccessDenied);
        }
        match (self.retention_at(now), removal) {
            (None, _) => Ok(()),
            (Some((LockMode::Governance, _)), Removal::BypassGovernance) => Ok(()),
            (Some(_), _) => Err(ModelError::AccessDenied),
        }
    }

    /// Whether removing the version needs the governance bypass (it is under
    /// GOVERNANCE retention and nothing else holds it).
    pub(crate) fn needs_bypass(&self, now: i64) -> bool {
        !self.legal_hold && matches!(self.retention_at(now), Some((LockMode::Governance, _)))
    }
}

fn config_key(bucket_id: u64) -> [u8; 8] {
    bucket_id.to_be_bytes()
}

/// A lock bucket's configuration (the empty one when none was put).
pub(crate) fn config_of(txn: &dyn ferrite_store::ReadTxn, bucket_id: u64) -> ModelResult<LockConfig> {
    match txn.get(tables::BUCKET_LOCK, &config_key(bucket_id))? {
        Some(v) => decode(&v),
        None => Ok(LockConfig::default()),
    }
}

/// Drops a deleted bucket's lock configuration (in DeleteBucket's transaction).
pub(crate) fn forget(txn: &mut dyn ferrite_store::WriteTxn, bucket_id: u64) -> ModelResult<()> {
    txn.delete(tables::BUCKET_LOCK, &config_key(bucket_id))?;
    Ok(())
}

fn missing_configuration() -> ModelError {
    ModelError::InvalidRequest("Bucket is missing Object Lock Configuration".into())
}

/// Whether a write into `bucket` gets a default retention (so needs Content-MD5 or
/// a checksum even when it names no lock).
pub(crate) fn default_applies(txn: &dyn ferrite_store::ReadTxn, bucket: &BucketRecord) -> ModelResult<bool> {
    Ok(bucket.object_lock && config_of(txn, bucket.id)?.default_retention.is_some())
}

/// Refuses a retain-until time that is not in the future.
pub(crate) fn check_request(req: &LockRequest, now: i64) -> ModelResult<()> {
    if let Some((_, until)) = req.retention
        && until <= now
    {
        return Err(ModelError::InvalidArgument(
            "The retain until date must be in the future!".into(),
        ));
    }
    Ok(())
}

/// Checks the lock a write into `bucket` asks for: it needs a lock bucket, a
/// retain-until time ahead of `now`, and `s3:PutObjectRetention` /
/// `s3:PutObjectLegalHold` on the version as it will be stored (`stored_as`: its
/// owner and ACL).
pub(crate) fn check_lock_request(
    caller: &Caller,
    bucket: &BucketRecord,
    key: &str,
    req: &LockRequest,
    stored_as: (&str, Option<&[Grant]>),
    now: i64,
) -> ModelResult<()> {
    if req.is_empty() {
        return Ok(());
    }
    if !bucket.object_lock {
        return Err(missing_configuration());
    }
    check_request(req, now)?;
    let facts = ObjectFacts {
        owner: stored_as.0,
        acl: stored_as.1,
        tags: &[],
    };
    if req.retention.is_some() {
        allow(caller, Action::PutObjectRetention, Some(bucket), Some(key), Some(facts))?;
    }
    if req.legal_hold.is_some() {
        allow(caller, Action::PutObjectLegalHold, Some(bucket), Some(key), Some(facts))?;
    }
    Ok(())
}

/// The lock state a request asks for, as stored (an upload keeps it until Complete).
pub(crate) fn requested(req: &LockRequest) -> LockInfo {
    LockInfo {
        mode: req.retention.map(|r| r.0),
        retain_until_ms: req.retention.map(|r| r.1),
        legal_hold: req.legal_hold.unwrap_or(false),
    }
}

/// `asked` completed with the bucket's default retention, from `now` (the commit
/// time), when it names no retention of its own.
pub(crate) fn with_default(
    txn: &dyn ferrite_store::ReadTxn,
    bucket: &BucketRecord,
    mut asked: LockInfo,
    now: i64,
) -> ModelResult<LockInfo> {
    if bucket.object_lock
        && asked.mode.is_none()
        && let Some(d) = config_of(txn, bucket.id)?.default_retention
    {
        asked.mode = Some(d.mode);
        asked.retain_until_ms = Some(d.period.until(now));
    }
    Ok(asked)
}

/// The lock a new version of `key` in `bucket` gets, committed at `now`: the
/// request's (checked with [`check_lock_request`]), completed with the bucket's
/// default retention.
pub(crate) fn lock_for_new_version(
    txn: &dyn ferrite_store::ReadTxn,
    caller: &Caller,
    bucket: &BucketRecord,
    key: &str,
    req: &LockRequest,
    stored_as: (&str, Option<&[Grant]>),
    now: i64,
) -> ModelResult<LockInfo> {
    check_lock_request(caller, bucket, key, req, stored_as, now)?;
    with_default(txn, bucket, requested(req), now)
}

/// How a removal of `rec` (a version of `key`) is authorized: with the governance
/// bypass only when asked for, needed, and allowed (`s3:BypassGovernanceRetention`).
pub(crate) fn removal_for(
    caller: &Caller,
    bucket: &BucketRecord,
    key: &str,
    rec: &crate::records::ObjectRecord,
    bypass: bool,
    now: i64,
) -> ModelResult<Removal> {
    if bypass && rec.lock.needs_bypass(now) {
        allow(
            caller,
            Action::BypassGovernanceRetention,
            Some(bucket),
            Some(key),
            Some(object_facts(rec)),
        )?;
        return Ok(Removal::BypassGovernance);
    }
    Ok(Removal::Plain)
}

/// A version's retention as GetObjectRetention answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub mode: LockMode,
    pub retain_until_ms: i64,
}

impl Ferrite {
    /// GetObjectLockConfiguration: ObjectLockConfigurationNotFoundError unless the
    /// bucket is a lock bucket.
    pub async fn object_lock_configuration(&self, caller: &Caller, bucket: &str) -> ModelResult<LockConfig> {
        let (caller, inner, bucket) = (caller.clone(), self.inner.clone(), bucket.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for(&*txn, &bucket, &caller, Operation::GetObjectLockConfiguration)?;
            if !b.object_lock {
                return Err(ModelError::ObjectLockConfigurationNotFound);
            }
            config_of(&*txn, b.id)
        })
        .await
    }

    /// PutObjectLockConfiguration: sets the default retention (or none) and, on a
    /// versioning-Enabled bucket that is not a lock bucket yet, makes it one for good
    /// (InvalidBucketState on any other).
    pub async fn put_object_lock_configuration(
        &self,
        caller: &Caller,
        bucket: &str,
        config: LockConfig,
    ) -> ModelResult<()> {
        config.validate()?;
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        let value = encode(&config);
        self.inner
            .committer
            .write(move |txn| {
                let mut b = bucket_for(&*txn, &bucket, &caller, Operation::PutObjectLockConfiguration)?;
                if !b.object_lock {
                    if b.versioning != VersioningState::Enabled {
                        return Err(ModelError::InvalidBucketState(
                            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration".into(),
                        ));
                    }
                    b.object_lock = true;
                    txn.put(tables::BUCKETS, bucket.as_bytes(), &encode(&b))?;
                }
                txn.put(tables::BUCKET_LOCK, &config_key(b.id), &value)?;
                Ok(())
            })
            .await
    }

    /// GetObjectRetention: the version's retention (NoSuchObjectLockConfiguration
    /// when it has none; InvalidRequest outside a lock bucket).
    pub async fn object_retention(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ModelResult<Retention> {
        let rec = self
            .read_lock_state(caller, bucket, key, version, Operation::GetObjectRetention)
            .await?;
        match (rec.mode, rec.retain_until_ms) {
            (Some(mode), Some(retain_until_ms)) => Ok(Retention { mode, retain_until_ms }),
            _ => Err(ModelError::NoSuchObjectLockConfiguration),
        }
    }

    /// GetObjectLegalHold: whether the version is on legal hold.
    pub async fn object_legal_hold(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ModelResult<bool> {
        let rec = self
            .read_lock_state(caller, bucket, key, version, Operation::GetObjectLegalHold)
            .await?;
        Ok(rec.legal_hold)
    }

    async fn read_lock_state(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        op: Operation,
    ) -> ModelResult<LockInfo> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let (caller, inner) = (caller.clone(), self.inner.clone());
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = get_bucket(&*txn, &bucket)?;
            let (_, rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
            allow(
                &caller,
                op.action(sel.is_some()),
                Some(&b),
                Some(&key),
                Some(object_facts(&rec)),
            )?;
            if !b.object_lock {
                return Err(missing_configuration());
            }
            Ok(rec.lock)
        })
        .await
    }

    /// PutObjectRetention: sets (or, with `None`, removes) a version's retention in
    /// place. COMPLIANCE retention in effect can only be extended, by anyone;
    /// GOVERNANCE retention in effect can be extended, and shortened, removed or
    /// changed to COMPLIANCE only with `bypass` and `s3:BypassGovernanceRetention`.
    /// Answers the version's id.
    pub async fn put_object_retention(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        retention: Option<Retention>,
        bypass: bool,
    ) -> ModelResult<Option<String>> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let (caller, bucket, key) = (caller.clone(), bucket.to_string(), key.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let (seq, mut rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
                let action = Operation::PutObjectRetention.action(sel.is_some());
                allow(&caller, action, Some(&b), Some(&key), Some(object_facts(&rec)))?;
                if !b.object_lock {
                    return Err(missing_configuration());
                }
                let now = now_ms();
                if let Some(r) = &retention {
                    check_request(
                        &LockRequest {
                            retention: Some((r.mode, r.retain_until_ms)),
                            legal_hold: None,
                        },
                        now,
                    )?;
                }
                let weakens = match (rec.lock.retention_at(now), &retention) {
                    (None, _) => false,
                    (Some((old_mode, old_until)), Some(new)) => new.mode != old_mode || new.retain_until_ms < old_until,
                    (Some(_), None) => true,
                };
                if weakens {
                    match rec.lock.retention_at(now) {
                        Some((LockMode::Governance, _)) if bypass => {
                            allow(
                                &caller,
                                Action::BypassGovernanceRetention,
                                Some(&b),
                                Some(&key),
                                Some(object_facts(&rec)),
                            )?;
                        }
                        _ => return Err(ModelError::AccessDenied),
                    }
                }
                rec.lock.mode = retention.map(|r| r.mode);
                rec.lock.retain_until_ms = retention.map(|r| r.retain_until_ms);
                replace_version(txn, b.id, &key, seq, &rec)?;
                Ok(version_header(&rec, &b))
            })
            .await
    }

    /// PutObjectLegalHold: puts a version on legal hold or takes it off, in place,
    /// whatever its retention. Answers the version's id.
    pub async fn put_object_legal_hold(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        on: bool,
    ) -> ModelResult<Option<String>> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let (caller, bucket, key) = (caller.clone(), bucket.to_string(), key.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let (seq, mut rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
                let action = Operation::PutObjectLegalHold.action(sel.is_some());
                allow(&caller, action, Some(&b), Some(&key), Some(object_facts(&rec)))?;
                if !b.object_lock {
                    return Err(missing_configuration());
                }
                rec.lock.legal_hold = on;
                replace_version(txn, b.id, &key, seq, &rec)?;
                Ok(version_header(&rec, &b))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_honours_legal_hold_compliance_and_governance_with_bypass_only() {
        let now = 1_000_000;
        let lock = |mode, until, legal_hold| LockInfo {
            mode,
            retain_until_ms: until,
            legal_hold,
        };
        let free = LockInfo::default();
        assert!(free.check_removal(now, Removal::Plain).is_ok());
        let gov = lock(Some(LockMode::Governance), Some(now + 1), false);
        assert!(gov.check_removal(now, Removal::Plain).is_err());
        assert!(gov.check_removal(now, Removal::BypassGovernance).is_ok());
        assert!(gov.needs_bypass(now));
        let comp = lock(Some(LockMode::Compliance), Some(now + 1), false);
        assert!(comp.check_removal(now, Removal::BypassGovernance).is_err());
        assert!(!comp.needs_bypass(now));
        // Expired retention holds nothing; a legal hold holds whatever the retention.
        let expired = lock(Some(LockMode::Compliance), Some(now), false);
        assert!(expired.check_removal(now, Removal::Plain).is_ok());
        let held = lock(Some(LockMode::Governance), Some(now + 1), true);
        assert!(held.check_removal(now, Removal::BypassGovernance).is_err());
        assert!(!held.needs_bypass(now));
        assert!(
            lock(None, None, true)
                .check_removal(now, Removal::BypassGovernance)
                .is_err()
        );
    }

    #[test]
    fn default_periods_are_positive_and_bounded() {
        let cfg = |period| LockConfig {
            default_retention: Some(DefaultRetention {
                mode: LockMode::Governance,
                period,
            }),
        };
        assert!(cfg(RetentionPeriod::Days(1)).validate().is_ok());
        assert!(cfg(RetentionPeriod::Years(100)).validate().is_ok());
        for bad in [
            RetentionPeriod::Days(0),
            RetentionPeriod::Years(0),
            RetentionPeriod::Days(MAX_RETENTION_DAYS + 1),
            RetentionPeriod::Years(101),
        ] {
            assert!(
                matches!(cfg(bad).validate(), Err(ModelError::InvalidRetentionPeriod)),
                "{bad:?}"
            );
        }
        assert_eq!(RetentionPeriod::Days(2).until(10), 10 + 2 * DAY_MS);
        assert_eq!(RetentionPeriod::Years(1).until(0), 365 * DAY_MS);
    }
}

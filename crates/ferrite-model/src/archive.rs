//! Archive storage classes (GLACIER, DEEP_ARCHIVE): a version in one is not readable
//! until a RestoreObject has made a temporary copy of it readable, as on AWS.
//!
//! The restore state is a typed field of the version's record ([`RestoreState`]):
//! when it was asked, when it is ready (`--restore-delay-secs` later) and when the
//! restored copy expires (its `Days` after it is ready, counted in lifecycle days).
//! Everything else follows from the clock: "ongoing" until ready, readable from ready
//! until expiry. Every class is stored in the data dir today, so the restored copy is
//! the stored bytes themselves and nothing is copied or collected.

use crate::access::{allow, object_facts};
use crate::acl::addressed_version;
use crate::authz::Operation;
use crate::clock::now_ms;
use crate::lifecycle::due_after;
use crate::lookup::get_bucket;
use crate::records::{ObjectRecord, RestoreState, StorageClass};
use crate::versions::{VersionSel, replace_version};
use crate::{Caller, Ferrite, ModelError, ModelResult, validate_key};

/// The most days a restored copy may be kept (AWS: 1 to 30 000... we cap it there too).
pub const MAX_RESTORE_DAYS: u32 = 30_000;

/// Whether `class` is an archive class, whose versions need a restore to be read.
pub fn is_archive(class: Option<StorageClass>) -> bool {
    matches!(class, Some(StorageClass::Glacier | StorageClass::DeepArchive))
}

/// Where a version's restore is at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreStatus {
    /// Asked, not ready yet (`x-amz-restore: ongoing-request="true"`).
    Ongoing,
    /// Readable until this time (unix ms).
    Ready { expiry_ms: i64 },
}

/// The restore state a client sees at `now`: none when never asked or expired.
pub(crate) fn restore_status(rec: &ObjectRecord, now: i64) -> Option<RestoreStatus> {
    let r = rec.restore.as_ref()?;
    if now < r.ready_ms {
        Some(RestoreStatus::Ongoing)
    } else if now < r.expiry_ms {
        Some(RestoreStatus::Ready { expiry_ms: r.expiry_ms })
    } else {
        None
    }
}

/// Refuses reading the data of an archived version that has no restored copy
/// (403 InvalidObjectState, as AWS).
pub(crate) fn check_readable(rec: &ObjectRecord, now: i64) -> ModelResult<()> {
    if !is_archive(rec.storage_class) || matches!(restore_status(rec, now), Some(RestoreStatus::Ready { .. })) {
        return Ok(());
    }
    Err(ModelError::InvalidObjectState(
        "The operation is not valid for the object's storage class".into(),
    ))
}

/// What RestoreObject did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// A restore started (202 Accepted).
    Started,
    /// A restored copy exists; its expiry was set again from the new `Days` (200 OK).
    Extended,
}

impl Ferrite {
    /// RestoreObject: makes an archived version readable for `days` (lifecycle days),
    /// after the server's restore delay.
    pub async fn restore_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        days: u32,
    ) -> ModelResult<RestoreOutcome> {
        validate_key(key)?;
        if days == 0 || days > MAX_RESTORE_DAYS {
            return Err(ModelError::InvalidArgument(format!(
                "Days must be between 1 and {MAX_RESTORE_DAYS}"
            )));
        }
        let sel = VersionSel::parse_opt(version)?;
        let (caller, bucket, key) = (caller.clone(), bucket.to_string(), key.to_string());
        let day_ms = (self.inner.opts.lifecycle_day.as_millis() as i64).max(1);
        let delay_ms = self.inner.opts.restore_delay.as_millis() as i64;
        self.inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let (seq, mut rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
                allow(
                    &caller,
                    Operation::RestoreObject.action(sel.is_some()),
                    Some(&b),
                    Some(&key),
                    Some(object_facts(&rec)),
                )?;
                if !is_archive(rec.storage_class) {
                    return Err(ModelError::InvalidObjectState(
                        "Restore is not allowed for the object's current storage class".into(),
                    ));
                }
                let now = now_ms();
                let outcome = match restore_status(&rec, now) {
                    Some(RestoreStatus::Ongoing) => return Err(ModelError::RestoreAlreadyInProgress),
                    Some(RestoreStatus::Ready { .. }) => {
                        let r = rec.restore.as_mut().expect("a status comes from a restore");
                        r.expiry_ms = due_after(now, days, day_ms);
                        RestoreOutcome::Extended
                    }
                    None => {
                        let ready_ms = now + delay_ms;
                        rec.restore = Some(RestoreState {
                            requested_ms: now,
                            ready_ms,
                            expiry_ms: due_after(ready_ms, days, day_ms),
                        });
                        RestoreOutcome::Started
                    }
                };
                replace_version(txn, b.id, &key, seq, &rec)?;
                Ok(outcome)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_versions_read_only_while_a_restored_copy_lasts() {
        let mut rec = crate::versions::delete_marker("o");
        rec.delete_marker = false;
        assert!(check_readable(&rec, 0).is_ok(), "STANDARD");
        rec.storage_class = Some(StorageClass::GlacierIr);
        assert!(check_readable(&rec, 0).is_ok(), "GLACIER_IR reads at once");
        rec.storage_class = Some(StorageClass::DeepArchive);
        assert!(matches!(
            check_readable(&rec, 0),
            Err(ModelError::InvalidObjectState(_))
        ));
        rec.restore = Some(RestoreState {
            requested_ms: 0,
            ready_ms: 10,
            expiry_ms: 20,
        });
        assert_eq!(restore_status(&rec, 5), Some(RestoreStatus::Ongoing));
        assert!(check_readable(&rec, 5).is_err());
        assert_eq!(restore_status(&rec, 10), Some(RestoreStatus::Ready { expiry_ms: 20 }));
        assert!(check_readable(&rec, 10).is_ok());
        assert_eq!(restore_status(&rec, 20), None, "expired");
        assert!(check_readable(&rec, 20).is_err());
    }
}

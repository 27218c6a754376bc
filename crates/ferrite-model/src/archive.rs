//! Archive storage classes (GLACIER, DEEP_ARCHIVE): a version in one is not readable
//! until a RestoreObject has made a temporary copy of it readable, as on AWS.
//!
//! The restore state is a typed field of the version's record ([`RestoreState`]):
//! when it was asked, when it is ready (`--restore-delay-secs` later) and when the
//! restored copy expires (its `Days` after it is ready, counted in lifecycle days).
//! Everything else follows from the clock: "ongoing" until ready, readable from ready
//! until expiry. The restored copy ([`RestoredCopy`]) is made when the restore is
//! asked, in the STANDARD class's tier (a reference to the version's own blobs when
//! they are in that tier already); reads are served from it, and the collector
//! (`collect_restores`, run with the lifecycle worker) drops it once it expired,
//! found through an index by expiry (`tables::RESTORES`).

use crate::access::{allow, object_facts};
use crate::acl::addressed_version;
use crate::authz::Operation;
use crate::clock::now_ms;
use crate::lifecycle::due_after;
use crate::lookup::get_bucket;
use std::ops::Bound;

use crate::engine::blocking;
use crate::keys::{split_version_key, version_key};
use crate::records::{DataRef, ObjectRecord, RestoreState, RestoredCopy, StorageClass};
use crate::tiers::copy_blobs;
use crate::versions::{VersionSel, at_seq, replace_version_data};
use crate::{Caller, Ferrite, ModelError, ModelResult, tables, validate_key};

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

/// The data a read of `rec` (found readable by [`check_readable`]) is served from,
/// and its tier: an archived version's restored copy, when it has one, else its own.
pub(crate) fn readable_data(rec: &ObjectRecord) -> (&DataRef, &str) {
    match rec.restore.as_ref().and_then(|r| r.copy.as_ref()) {
        Some(copy) if is_archive(rec.storage_class) => (&copy.data, &copy.tier),
        _ => (&rec.data, &rec.tier),
    }
}

/// What RestoreObject did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// A restore started (202 Accepted).
    Started,
    /// A restored copy exists; its expiry was set again from the new `Days` (200 OK).
    Extended,
}

/// The restored copies by expiry: `expiry ms (8 bytes) | version key` -> nothing,
/// so the collector finds the due ones by a range scan.
fn restore_entry(expiry_ms: i64, bucket_id: u64, key: &str, seq: u64) -> Vec<u8> {
    let mut out = (expiry_ms.max(0) as u64).to_be_bytes().to_vec();
    out.extend_from_slice(&version_key(bucket_id, key, seq));
    out
}

/// Expired restored copies collected per transaction.
const COLLECT_BATCH: usize = 256;

impl Ferrite {
    /// RestoreObject: makes an archived version readable for `days` (lifecycle days),
    /// after the server's restore delay. The restored copy is made now, in the
    /// STANDARD class's tier (sharing the version's blobs when that is the tier they
    /// are in), and shown from the ready time on; the collector drops it at expiry.
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
        // Decide from a snapshot, and make the copy (outside any transaction) when a
        // new restore needs one; the commit checks again.
        let (inner, caller2, bucket2, key2, sel2) = (
            self.inner.clone(),
            caller.clone(),
            bucket.to_string(),
            key.to_string(),
            sel.clone(),
        );
        let copy = blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = get_bucket(&*txn, &bucket2)?;
            let (_, rec) = addressed_version(&*txn, &caller2, &b, &key2, sel2.as_ref())?;
            check_restorable(&caller2, &b, &key2, sel2.is_some(), &rec)?;
            if restore_status(&rec, now_ms()).is_some() {
                return Ok(None);
            }
            let to = inner.tiers.for_class(Some(StorageClass::Standard)).to_string();
            let data = match to == rec.tier {
                true => rec.data.clone(),
                false => copy_blobs(&inner, &rec.data, &rec.tier, &to)?,
            };
            Ok(Some((rec.data, RestoredCopy { data, tier: to })))
        })
        .await?;
        let (caller, bucket, key) = (caller.clone(), bucket.to_string(), key.to_string());
        let day_ms = (self.inner.opts.lifecycle_day.as_millis() as i64).max(1);
        let delay_ms = self.inner.opts.restore_delay.as_millis() as i64;
        let planned = copy.clone();
        let result = self
            .inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let (seq, rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
                check_restorable(&caller, &b, &key, sel.is_some(), &rec)?;
                let now = now_ms();
                let mut new = rec.clone();
                let outcome = match restore_status(&rec, now) {
                    Some(RestoreStatus::Ongoing) => return Err(ModelError::RestoreAlreadyInProgress),
                    Some(RestoreStatus::Ready { .. }) => {
                        let r = new.restore.as_mut().expect("a status comes from a restore");
                        txn.delete(tables::RESTORES, &restore_entry(r.expiry_ms, b.id, &key, seq))?;
                        r.expiry_ms = due_after(now, days, day_ms);
                        (RestoreOutcome::Extended, false)
                    }
                    None => {
                        // The copy was made of the data the version still has.
                        let Some((_, copy)) = planned.clone().filter(|(of, _)| *of == rec.data) else {
                            return Err(ModelError::Internal(
                                "the version changed while its restore was prepared; retry".into(),
                            ));
                        };
                        // An expired restore's entry (its copy goes with the rewrite).
                        if let Some(old) = &rec.restore {
                            txn.delete(tables::RESTORES, &restore_entry(old.expiry_ms, b.id, &key, seq))?;
                        }
                        let ready_ms = now + delay_ms;
                        new.restore = Some(RestoreState {
                            requested_ms: now,
                            ready_ms,
                            expiry_ms: due_after(ready_ms, days, day_ms),
                            copy: Some(copy),
                        });
                        (RestoreOutcome::Started, true)
                    }
                };
                let expiry = new.restore.as_ref().map_or(0, |r| r.expiry_ms);
                txn.put(tables::RESTORES, &restore_entry(expiry, b.id, &key, seq), &[])?;
                replace_version_data(txn, b.id, &key, seq, &rec, &new)?;
                Ok(outcome)
            })
            .await;
        // A copy the commit did not take (refused, or another restore came first)
        // is deleted; a crash here leaves it to the orphan sweep.
        let used = matches!(result, Ok((_, true)));
        if let Some((of, copy)) = copy
            && !used
            && copy.data != of
        {
            crate::tiers::discard_copy(&self.inner, &copy.tier, &copy.data).await;
        }
        result.map(|(outcome, _)| outcome)
    }

    /// Drops the restored copies whose expiry has passed (their versions read as
    /// archived again from that moment on; this returns the space). Returns how many.
    pub(crate) async fn collect_restores(&self) -> ModelResult<usize> {
        let mut total = 0;
        loop {
            // Most passes find nothing due: they look in a snapshot, and write nothing.
            let inner = self.inner.clone();
            let any_due = blocking(move || {
                let end = ((now_ms().max(0) as u64) + 1).to_be_bytes();
                let txn = inner.meta.begin_read()?;
                Ok(!txn
                    .range(tables::RESTORES, Bound::Unbounded, Bound::Excluded(&end[..]), 1)?
                    .is_empty())
            })
            .await?;
            if !any_due {
                return Ok(total);
            }
            let n = self
                .inner
                .committer
                .write(|txn| {
                    let now = now_ms();
                    let end = ((now.max(0) as u64) + 1).to_be_bytes();
                    let due = txn.range(
                        tables::RESTORES,
                        Bound::Unbounded,
                        Bound::Excluded(&end[..]),
                        COLLECT_BATCH,
                    )?;
                    for (k, _) in &due {
                        txn.delete(tables::RESTORES, k)?;
                        let vkey = &k[8..];
                        let bucket_id = vkey
                            .get(..8)
                            .and_then(|b| b.try_into().ok())
                            .map(u64::from_be_bytes)
                            .ok_or_else(|| ModelError::Corrupt("bad restore entry".into()))?;
                        let (key, seq) =
                            split_version_key(vkey).ok_or_else(|| ModelError::Corrupt("bad restore entry".into()))?;
                        let Some(rec) = at_seq(&*txn, bucket_id, key, seq)? else {
                            continue; // the version is gone, and its copy with it
                        };
                        if rec.restore.as_ref().is_some_and(|r| r.expiry_ms <= now) {
                            let new = ObjectRecord {
                                restore: None,
                                ..rec.clone()
                            };
                            replace_version_data(txn, bucket_id, key, seq, &rec, &new)?;
                        }
                    }
                    Ok(due.len())
                })
                .await?;
            total += n;
            if n < COLLECT_BATCH {
                return Ok(total);
            }
        }
    }
}

/// The caller may restore `rec`, and its class is an archive class.
fn check_restorable(
    caller: &Caller,
    b: &crate::records::BucketRecord,
    key: &str,
    versioned: bool,
    rec: &ObjectRecord,
) -> ModelResult<()> {
    allow(
        caller,
        Operation::RestoreObject.action(versioned),
        Some(b),
        Some(key),
        Some(object_facts(rec)),
    )?;
    if !is_archive(rec.storage_class) {
        return Err(ModelError::InvalidObjectState(
            "Restore is not allowed for the object's current storage class".into(),
        ));
    }
    Ok(())
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
            copy: None,
        });
        assert_eq!(restore_status(&rec, 5), Some(RestoreStatus::Ongoing));
        assert!(check_readable(&rec, 5).is_err());
        assert_eq!(restore_status(&rec, 10), Some(RestoreStatus::Ready { expiry_ms: 20 }));
        assert!(check_readable(&rec, 10).is_ok());
        assert_eq!(restore_status(&rec, 20), None, "expired");
        assert!(check_readable(&rec, 20).is_err());
    }
}

//! The version index: every version of every object, delete markers included.
//!
//! Layout (see `keys`): `Versions[bucket | key | 0 | !seq]` holds each version's
//! record, newest first within a key; the newest is the key's current version.
//! `Objects[bucket | key]` holds a copy of the current version when it is not a delete
//! marker, so GET, HEAD and ListObjects read one row and never see old versions or
//! markers. `NullVersions[bucket | key]` names the sequence of the key's `null`
//! version, so replacing it costs one lookup however many versions the key has.
//!
//! Data references belong to the `Versions` rows: the `Objects` copy owns nothing.
//! Every function here runs inside the caller's write transaction, so each change is
//! one atomic commit.

use std::ops::Bound;

use ferrite_store::{ReadTxn, WriteTxn};

use crate::clock::{now_ms, now_us};
use crate::keys::{object_key, prefix_successor, split_version_key, version_key, version_prefix};
use crate::lock::Removal;
use crate::records::{BucketRecord, DataRef, ObjectRecord, VersioningState, decode, encode};
use crate::refs::{add_refs, drop_refs};
use crate::stats::UsageDelta;
use crate::{ModelError, ModelResult, tables};

/// The version id string of the `null` version.
pub const NULL_VERSION: &str = "null";

/// A version named by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionSel {
    Null,
    /// A generated id: its first 16 hex digits are the inverted sequence, the rest
    /// random, so ids sort newest first and cannot be guessed from one another.
    Id {
        seq: u64,
        id: String,
    },
}

impl VersionSel {
    pub fn parse(s: &str) -> ModelResult<Self> {
        if s == NULL_VERSION {
            return Ok(VersionSel::Null);
        }
        let well_formed = s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return Err(ModelError::InvalidVersionId);
        }
        let inverted = u64::from_str_radix(&s[..16], 16).map_err(|_| ModelError::InvalidVersionId)?;
        Ok(VersionSel::Id {
            seq: !inverted,
            id: s.to_string(),
        })
    }

    pub fn parse_opt(s: Option<&str>) -> ModelResult<Option<Self>> {
        s.map(Self::parse).transpose()
    }
}

/// A fresh version id for sequence `seq`.
pub(crate) fn new_version_id(seq: u64) -> String {
    format!("{:016x}{:016x}", !seq, rand::random::<u64>())
}

/// The id a client sees for a version: its own, or `null`.
pub(crate) fn version_label(rec: &ObjectRecord) -> String {
    rec.version_id.clone().unwrap_or_else(|| NULL_VERSION.to_string())
}

/// The `x-amz-version-id` to answer with: none for a bucket that was never versioned.
pub(crate) fn version_header(rec: &ObjectRecord, bucket: &BucketRecord) -> Option<String> {
    match (&rec.version_id, bucket.versioning) {
        (Some(id), _) => Some(id.clone()),
        (None, VersioningState::Unversioned) => None,
        (None, _) => Some(NULL_VERSION.to_string()),
    }
}

/// A version as stored: its sequence and record.
pub(crate) type Stored = (u64, ObjectRecord);

/// The key's newest version (its current one, possibly a delete marker).
pub(crate) fn newest(txn: &dyn ReadTxn, bucket_id: u64, key: &str) -> ModelResult<Option<Stored>> {
    let start = version_prefix(bucket_id, key);
    let end = prefix_successor(&start).expect("a NUL-terminated prefix has a successor");
    let mut found = None;
    let mut failure = None;
    txn.scan(
        tables::VERSIONS,
        Bound::Included(&start),
        Bound::Excluded(&end),
        &mut |stored, value| {
            match (split_version_key(stored), decode::<ObjectRecord>(value)) {
                (Some((_, seq)), Ok(rec)) => found = Some((seq, rec)),
                (None, _) => failure = Some(ModelError::Corrupt("malformed version key".into())),
                (_, Err(e)) => failure = Some(e),
            }
            false
        },
    )?;
    match failure {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

fn null_seq(txn: &dyn ReadTxn, bucket_id: u64, key: &str) -> ModelResult<Option<u64>> {
    match txn.get(tables::NULL_VERSIONS, &object_key(bucket_id, key))? {
        Some(b) => {
            let arr: [u8; 8] = b
                .as_slice()
                .try_into()
                .map_err(|_| ModelError::Corrupt("bad null-version pointer".into()))?;
            Ok(Some(u64::from_be_bytes(arr)))
        }
        None => Ok(None),
    }
}

pub(crate) fn at_seq(txn: &dyn ReadTxn, bucket_id: u64, key: &str, seq: u64) -> ModelResult<Option<ObjectRecord>> {
    txn.get(tables::VERSIONS, &version_key(bucket_id, key, seq))?
        .map(|b| decode(&b))
        .transpose()
}

/// The version `sel` names, if it exists.
pub(crate) fn find(txn: &dyn ReadTxn, bucket_id: u64, key: &str, sel: &VersionSel) -> ModelResult<Option<Stored>> {
    match sel {
        VersionSel::Null => match null_seq(txn, bucket_id, key)? {
            Some(seq) => Ok(at_seq(txn, bucket_id, key, seq)?.map(|r| (seq, r))),
            None => Ok(None),
        },
        VersionSel::Id { seq, id } => Ok(at_seq(txn, bucket_id, key, *seq)?
            .filter(|r| r.version_id.as_deref() == Some(id.as_str()))
            .map(|r| (*seq, r))),
    }
}

/// The sequence of `sel` for resuming a listing after it (it need not exist).
pub(crate) fn marker_seq(txn: &dyn ReadTxn, bucket_id: u64, key: &str, sel: &VersionSel) -> ModelResult<Option<u64>> {
    match sel {
        VersionSel::Null => null_seq(txn, bucket_id, key),
        VersionSel::Id { seq, .. } => Ok(Some(*seq)),
    }
}

/// The write conditions a client can put on the key's current object.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteConditions<'a> {
    /// `If-None-Match`: with `*`, only if the key has no current object; with an
    /// ETag, only if the current object (if any) has another one.
    pub if_none_match: Option<&'a str>,
    /// `If-Match`: only if the current object has this ETag, or any for `*`.
    pub if_match: Option<&'a str>,
}

impl WriteConditions<'_> {
    /// Checks the conditions against the key's current version (`None`, or a delete
    /// marker, when the key has no current object).
    pub fn check(&self, current: Option<&ObjectRecord>) -> ModelResult<()> {
        let live = current.filter(|r| !r.delete_marker);
        if let (Some(want), Some(o)) = (self.if_none_match, live)
            && (want == "*" || o.etag == want)
        {
            return Err(ModelError::PreconditionFailed);
        }
        if let Some(want) = self.if_match {
            match live {
                None => return Err(ModelError::NoSuchKey),
                Some(o) if want != "*" && o.etag != want => return Err(ModelError::PreconditionFailed),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Outcome of a write to the version index.
pub(crate) struct Written {
    pub record: ObjectRecord,
}

/// Adds `new` as the key's newest version after checking `cond` against the current
/// one. In an Enabled bucket it gets a fresh version id; otherwise it is the `null`
/// version, and replaces the key's previous `null` version.
pub(crate) fn add_version(
    txn: &mut dyn WriteTxn,
    bucket: &BucketRecord,
    key: &str,
    mut new: ObjectRecord,
    cond: WriteConditions<'_>,
) -> ModelResult<Written> {
    let current = newest(txn, bucket.id, key)?;
    cond.check(current.as_ref().map(|(_, r)| r))?;
    // Sequences follow the clock but always move forward within a key.
    let seq = now_us().max(current.as_ref().map_or(0, |(s, _)| s + 1));
    new.version_id = match bucket.versioning {
        VersioningState::Enabled => Some(new_version_id(seq)),
        VersioningState::Unversioned | VersioningState::Suspended => None,
    };
    // Take the new references before dropping any: a self-copy shares its data.
    add_data(txn, &new)?;
    let mut usage = UsageDelta::default();
    if new.version_id.is_none() {
        if let Some(old_seq) = null_seq(txn, bucket.id, key)? {
            remove_row(txn, bucket.id, key, old_seq, Removal::Plain, &mut usage)?;
        }
        txn.put(tables::NULL_VERSIONS, &object_key(bucket.id, key), &seq.to_be_bytes())?;
    }
    txn.put(tables::VERSIONS, &version_key(bucket.id, key, seq), &encode(&new))?;
    usage.version_row(&new, 1);
    set_current(
        txn,
        bucket.id,
        key,
        current.as_ref().map(|(_, r)| r),
        Some(&new),
        &mut usage,
    )?;
    usage.apply(txn, bucket.id)?;
    Ok(Written { record: new })
}

/// Rewrites the version at `seq` in place with `rec`, which differs from the stored
/// record only in its mutable subresources (its ACL, tags, retention): same data, same
/// size, so no reference or usage counter changes. The current-object copy follows.
pub(crate) fn replace_version(
    txn: &mut dyn WriteTxn,
    bucket_id: u64,
    key: &str,
    seq: u64,
    rec: &ObjectRecord,
) -> ModelResult<()> {
    txn.put(tables::VERSIONS, &version_key(bucket_id, key, seq), &encode(rec))?;
    if !rec.delete_marker && newest(txn, bucket_id, key)?.is_some_and(|(s, _)| s == seq) {
        txn.put(tables::OBJECTS, &object_key(bucket_id, key), &encode(rec))?;
    }
    Ok(())
}

/// Rewrites the version at `seq`, stored as `old`, with `new`, whose data (or
/// restored copy) is elsewhere: a move to another tier, a restore's copy made or
/// collected. Takes the new references before dropping the old ones (data both
/// share stays). Same bytes, same size: no usage counter changes.
pub(crate) fn replace_version_data(
    txn: &mut dyn WriteTxn,
    bucket_id: u64,
    key: &str,
    seq: u64,
    old: &ObjectRecord,
    new: &ObjectRecord,
) -> ModelResult<()> {
    add_data(txn, new)?;
    drop_data(txn, old)?;
    replace_version(txn, bucket_id, key, seq, new)
}

/// Takes the references a version record holds: its data, and its restored copy.
fn add_data(txn: &mut dyn WriteTxn, rec: &ObjectRecord) -> ModelResult<()> {
    add_refs(txn, &rec.data)?;
    if let Some(copy) = rec.restore.as_ref().and_then(|r| r.copy.as_ref()) {
        add_refs(txn, &copy.data)?;
    }
    Ok(())
}

/// Drops the references a version record holds (see [`add_data`]).
fn drop_data(txn: &mut dyn WriteTxn, rec: &ObjectRecord) -> ModelResult<()> {
    drop_refs(txn, &rec.data, &rec.tier)?;
    if let Some(copy) = rec.restore.as_ref().and_then(|r| r.copy.as_ref()) {
        drop_refs(txn, &copy.data, &copy.tier)?;
    }
    Ok(())
}

/// Deletes the version at `seq` for good, unless its lock holds it against `removal`
/// (AccessDenied). If it was the current version, the next newest becomes current.
pub(crate) fn remove_version(
    txn: &mut dyn WriteTxn,
    bucket_id: u64,
    key: &str,
    seq: u64,
    removal: Removal,
) -> ModelResult<()> {
    let was_current = newest(txn, bucket_id, key)?.is_some_and(|(s, _)| s == seq);
    let mut usage = UsageDelta::default();
    let Some(removed) = remove_row(txn, bucket_id, key, seq, removal, &mut usage)? else {
        return Ok(());
    };
    if was_current {
        let next = newest(txn, bucket_id, key)?;
        set_current(
            txn,
            bucket_id,
            key,
            Some(&removed),
            next.as_ref().map(|(_, r)| r),
            &mut usage,
        )?;
    }
    usage.apply(txn, bucket_id)
}

/// Removes one version row, its `null` pointer and its data references. Returns the
/// removed record. The one place a version is deleted: Object Lock is enforced here
/// (a version under retention or legal hold stays unless `removal` overrides it).
fn remove_row(
    txn: &mut dyn WriteTxn,
    bucket_id: u64,
    key: &str,
    seq: u64,
    removal: Removal,
    usage: &mut UsageDelta,
) -> ModelResult<Option<ObjectRecord>> {
    let Some(rec) = at_seq(txn, bucket_id, key, seq)? else {
        return Ok(None);
    };
    rec.lock.check_removal(now_ms(), removal)?;
    txn.delete(tables::VERSIONS, &version_key(bucket_id, key, seq))?;
    if rec.version_id.is_none() && null_seq(txn, bucket_id, key)? == Some(seq) {
        txn.delete(tables::NULL_VERSIONS, &object_key(bucket_id, key))?;
    }
    usage.version_row(&rec, -1);
    drop_data(txn, &rec)?;
    Ok(Some(rec))
}

/// Points `Objects` at the key's current version: a copy of it, or nothing when the
/// key has no versions or its newest is a delete marker.
/// `old` is the key's current version before the change.
fn set_current(
    txn: &mut dyn WriteTxn,
    bucket_id: u64,
    key: &str,
    old: Option<&ObjectRecord>,
    current: Option<&ObjectRecord>,
    usage: &mut UsageDelta,
) -> ModelResult<()> {
    let okey = object_key(bucket_id, key);
    usage.current(old, current);
    match current.filter(|r| !r.delete_marker) {
        Some(rec) => txn.put(tables::OBJECTS, &okey, &encode(rec))?,
        None => {
            txn.delete(tables::OBJECTS, &okey)?;
        }
    }
    Ok(())
}

/// A delete marker record (it holds no data).
pub(crate) fn delete_marker(owner: &str) -> ObjectRecord {
    ObjectRecord {
        version_id: None,
        delete_marker: true,
        size: 0,
        etag: String::new(),
        last_modified_ms: now_ms(),
        attrs: Default::default(),
        checksum: None,
        data: DataRef::Segments(Vec::new()),
        owner: owner.to_string(),
        storage_class: None,
        tags: Vec::new(),
        acl: None,
        encryption: None,
        lock: Default::default(),
        restore: None,
        tier: String::new(),
    }
}

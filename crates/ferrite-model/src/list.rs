//! Listing: ordered range scans over one bucket's key range, with delimiter roll-up
//! that jumps past each common prefix instead of reading inside it. ListObjects scans
//! `Objects` (current, live objects only: old versions and delete markers are never
//! read); ListObjectVersions scans the version index.

use std::ops::Bound;

use ferrite_store::{ReadTxn, Table};

use crate::access::bucket_for;
use crate::authz::Operation;
use crate::engine::blocking;
use crate::keys::{bucket_end, object_key, prefix_successor, split_version_key, user_key, version_key, version_prefix};
use crate::records::{ObjectRecord, decode};
use crate::versions::{VersionSel, marker_seq, version_label};
use crate::{Caller, ChecksumAlgorithm, Ferrite, ModelError, ModelResult, StorageClass, tables};

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// List only keys (and common prefixes) after this one.
    pub start_after: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub storage_class: Option<StorageClass>,
    pub owner: String,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Whether the checksum is COMPOSITE (of part checksums) rather than FULL_OBJECT.
    pub checksum_composite: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned, when the page is truncated.
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct VersionQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Resume after this key (after all its versions, unless `version_id_marker`).
    pub key_marker: Option<String>,
    /// Resume after this version of `key_marker`.
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
}

/// One entry of ListObjectVersions: a version or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSummary {
    pub key: String,
    /// The version id, `null` for the null version.
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub storage_class: Option<StorageClass>,
    pub owner: String,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Whether the checksum is COMPOSITE (of part checksums) rather than FULL_OBJECT.
    pub checksum_composite: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionPage {
    /// Versions and delete markers in key order, each key's newest first.
    pub versions: Vec<VersionSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    /// Absent when the page ends with a common prefix.
    pub next_version_id_marker: Option<String>,
}

/// One listing pass over a table: the shared delimiter and page-size logic.
pub(crate) struct Walk<'a> {
    pub table: Table,
    pub bucket_id: u64,
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Common prefixes at or before this were returned by an earlier page.
    pub marker: Option<&'a str>,
    pub max: usize,
    /// Extracts the user key from a stored key of `table`.
    pub user_key: fn(&[u8]) -> Option<&str>,
}

/// Turns one stored entry (user key, stored key, value) into a listed item, or skips it.
pub(crate) type EntryFn<'a, T> = dyn FnMut(&str, &[u8], &[u8]) -> ModelResult<Option<T>> + 'a;

/// Walks the table from `start`, rolling keys up into common prefixes and handing the
/// rest to `entry`, which may skip one (`None`). Stops when `max` items are listed and
/// another would follow (truncated) or the prefix range ends.
pub(crate) fn walk<T>(
    txn: &dyn ReadTxn,
    w: &Walk<'_>,
    start: Bound<Vec<u8>>,
    items: &mut Vec<T>,
    prefixes: &mut Vec<String>,
    entry: &mut EntryFn<'_, T>,
) -> ModelResult<bool> {
    if w.max == 0 {
        return Ok(false);
    }
    let prefix_key = object_key(w.bucket_id, w.prefix);
    let end = prefix_successor(&prefix_key).unwrap_or_else(|| bucket_end(w.bucket_id));
    let mut cursor = start;
    let mut failure = None;
    // Each pass scans forward until the page is full, the range ends, or a common
    // prefix is found; then the next pass seeks past that whole prefix.
    loop {
        let mut jump = None;
        let mut full = false;
        txn.scan(
            w.table,
            cursor.as_ref().map(Vec::as_slice),
            Bound::Excluded(&end),
            &mut |stored, value| {
                let Some(key) = (w.user_key)(stored) else {
                    failure = Some(ModelError::Corrupt("malformed listing key".into()));
                    return false;
                };
                if let Some(d) = w.delimiter
                    && let Some(pos) = key[w.prefix.len()..].find(d)
                {
                    let cp = &key[..w.prefix.len() + pos + d.len()];
                    let seen = w.marker.is_some_and(|s| s >= cp);
                    if !seen {
                        if items.len() + prefixes.len() == w.max {
                            full = true;
                            return false;
                        }
                        prefixes.push(cp.to_string());
                    }
                    jump = Some(prefix_successor(&object_key(w.bucket_id, cp)));
                    return false;
                }
                match entry(key, stored, value) {
                    Ok(None) => true,
                    Ok(Some(_)) if items.len() + prefixes.len() == w.max => {
                        full = true;
                        false
                    }
                    Ok(Some(item)) => {
                        items.push(item);
                        true
                    }
                    Err(e) => {
                        failure = Some(e);
                        false
                    }
                }
            },
        )?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
        if full {
            return Ok(true);
        }
        match jump {
            Some(Some(next)) => cursor = Bound::Included(next),
            // No jump: the scan reached the end of the range. A prefix with no
            // successor covers everything after it.
            Some(None) | None => return Ok(false),
        }
    }
}

fn object_user_key(stored: &[u8]) -> Option<&str> {
    user_key(stored)
}

fn version_user_key(stored: &[u8]) -> Option<&str> {
    split_version_key(stored).map(|(k, _)| k)
}

impl Ferrite {
    pub async fn list_objects(&self, caller: &Caller, bucket: &str, q: ListQuery) -> ModelResult<ListPage> {
        let caller = caller.clone();
        let inner = self.inner.clone();
        let bucket = bucket.to_string();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for(&*txn, &bucket, &caller, Operation::ListObjects)?;
            let mut page = ListPage::default();
            let start = match &q.start_after {
                Some(s) if s.as_str() >= q.prefix.as_str() => Bound::Excluded(object_key(b.id, s)),
                _ => Bound::Included(object_key(b.id, &q.prefix)),
            };
            let w = Walk {
                table: tables::OBJECTS,
                bucket_id: b.id,
                prefix: &q.prefix,
                delimiter: q.delimiter.as_deref().filter(|d| !d.is_empty()),
                marker: q.start_after.as_deref(),
                max: q.max_keys,
                user_key: object_user_key,
            };
            page.is_truncated = walk(
                &*txn,
                &w,
                start,
                &mut page.objects,
                &mut page.common_prefixes,
                &mut |key, _, value| {
                    let rec: ObjectRecord = decode(value)?;
                    // `Objects` holds no delete markers; this only guards the invariant.
                    if rec.delete_marker {
                        return Ok(None);
                    }
                    Ok(Some(ObjectSummary {
                        key: key.to_string(),
                        size: rec.size,
                        etag: rec.etag,
                        last_modified_ms: rec.last_modified_ms,
                        storage_class: rec.storage_class,
                        owner: rec.owner,
                        checksum_composite: rec.checksum.as_ref().is_some_and(|c| c.is_composite()),
                        checksum_algorithm: rec.checksum.map(|c| c.algorithm),
                    }))
                },
            )?;
            if page.is_truncated {
                let last_key = page.objects.last().map(|o| o.key.clone());
                let last_prefix = page.common_prefixes.last().cloned();
                page.next_marker = last_key.into_iter().chain(last_prefix).max();
            }
            Ok(page)
        })
        .await
    }

    /// Every version and delete marker, in key order and newest first within a key.
    pub async fn list_object_versions(
        &self,
        caller: &Caller,
        bucket: &str,
        q: VersionQuery,
    ) -> ModelResult<VersionPage> {
        let caller = caller.clone();
        let version_marker = match (&q.key_marker, &q.version_id_marker) {
            (None, Some(_)) => {
                return Err(ModelError::InvalidArgument(
                    "A version-id marker cannot be specified without a key marker.".into(),
                ));
            }
            (Some(_), Some(v)) if !v.is_empty() => Some(VersionSel::parse(v)?),
            _ => None,
        };
        let inner = self.inner.clone();
        let bucket = bucket.to_string();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for(&*txn, &bucket, &caller, Operation::ListObjectVersions)?;
            let mut page = VersionPage::default();
            let key_marker = q.key_marker.as_deref().filter(|k| !k.is_empty());
            // Versions of the key we resume inside are, by then, not the latest.
            let mut previous_key: Option<String> = None;
            let start = match (key_marker, &version_marker) {
                (Some(k), Some(sel)) if k >= q.prefix.as_str() => {
                    previous_key = Some(k.to_string());
                    match marker_seq(&*txn, b.id, k, sel)? {
                        Some(seq) => Bound::Excluded(version_key(b.id, k, seq)),
                        None => Bound::Included(prefix_successor(&version_prefix(b.id, k)).expect("has successor")),
                    }
                }
                (Some(k), _) if k >= q.prefix.as_str() => {
                    Bound::Included(prefix_successor(&version_prefix(b.id, k)).expect("has successor"))
                }
                _ => Bound::Included(object_key(b.id, &q.prefix)),
            };
            let w = Walk {
                table: tables::VERSIONS,
                bucket_id: b.id,
                prefix: &q.prefix,
                delimiter: q.delimiter.as_deref().filter(|d| !d.is_empty()),
                marker: key_marker,
                max: q.max_keys,
                user_key: version_user_key,
            };
            page.is_truncated = walk(
                &*txn,
                &w,
                start,
                &mut page.versions,
                &mut page.common_prefixes,
                &mut |key, _, value| {
                    let rec: ObjectRecord = decode(value)?;
                    let is_latest = previous_key.as_deref() != Some(key);
                    if is_latest {
                        previous_key = Some(key.to_string());
                    }
                    Ok(Some(VersionSummary {
                        key: key.to_string(),
                        version_id: version_label(&rec),
                        is_latest,
                        delete_marker: rec.delete_marker,
                        size: rec.size,
                        etag: rec.etag,
                        last_modified_ms: rec.last_modified_ms,
                        storage_class: rec.storage_class,
                        owner: rec.owner,
                        checksum_composite: rec.checksum.as_ref().is_some_and(|c| c.is_composite()),
                        checksum_algorithm: rec.checksum.map(|c| c.algorithm),
                    }))
                },
            )?;
            if page.is_truncated {
                let last = page.versions.last();
                let last_prefix = page.common_prefixes.last();
                match (last, last_prefix) {
                    (Some(v), p) if p.is_none_or(|p| p.as_str() < v.key.as_str()) => {
                        page.next_key_marker = Some(v.key.clone());
                        page.next_version_id_marker = Some(v.version_id.clone());
                    }
                    (_, p) => page.next_key_marker = p.cloned(),
                }
            }
            Ok(page)
        })
        .await
    }
}

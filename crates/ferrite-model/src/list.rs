//! Listing current objects: ordered range scans over one bucket's key range, with
//! delimiter roll-up that jumps past each common prefix instead of reading inside it.

use std::ops::Bound;

use ferrite_store::Table;

use crate::engine::{blocking, get_bucket};
use crate::keys::{bucket_end, object_key, prefix_successor, user_key};
use crate::records::{ObjectRecord, decode};
use crate::{ChecksumAlgorithm, Ferrite, ModelError, ModelResult};

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
    pub storage_class: Option<String>,
    pub owner: String,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned, when the page is truncated.
    pub next_marker: Option<String>,
}

impl Ferrite {
    pub async fn list_objects(&self, bucket: &str, q: ListQuery) -> ModelResult<ListPage> {
        let inner = self.inner.clone();
        let bucket = bucket.to_string();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = get_bucket(&*txn, &bucket)?;
            let mut page = ListPage::default();
            if q.max_keys == 0 {
                return Ok(page);
            }
            let prefix_key = object_key(b.id, &q.prefix);
            let end = prefix_successor(&prefix_key).unwrap_or_else(|| bucket_end(b.id));
            let mut cursor = match &q.start_after {
                Some(s) if s.as_str() >= q.prefix.as_str() => Bound::Excluded(object_key(b.id, s)),
                _ => Bound::Included(prefix_key),
            };
            let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty());
            let mut count = 0usize;
            let mut failure = None;
            // Each pass scans forward until the page is full, the range ends, or a common
            // prefix is found; then the next pass seeks past that whole prefix.
            loop {
                let mut jump = None;
                let mut full = false;
                txn.scan(
                    Table::Objects,
                    cursor.as_ref().map(Vec::as_slice),
                    Bound::Excluded(&end),
                    &mut |stored, value| {
                        let Some(key) = user_key(stored) else {
                            failure = Some(ModelError::Corrupt("non-UTF-8 key".into()));
                            return false;
                        };
                        if let Some(d) = delimiter
                            && let Some(pos) = key[q.prefix.len()..].find(d)
                        {
                            let cp = &key[..q.prefix.len() + pos + d.len()];
                            let seen = q.start_after.as_deref().is_some_and(|s| s >= cp);
                            if !seen {
                                if count == q.max_keys {
                                    full = true;
                                    return false;
                                }
                                page.common_prefixes.push(cp.to_string());
                                count += 1;
                            }
                            jump = Some(prefix_successor(&object_key(b.id, cp)));
                            return false;
                        }
                        let rec: ObjectRecord = match decode(value) {
                            Ok(r) => r,
                            Err(e) => {
                                failure = Some(e);
                                return false;
                            }
                        };
                        if rec.delete_marker {
                            return true;
                        }
                        if count == q.max_keys {
                            full = true;
                            return false;
                        }
                        page.objects.push(ObjectSummary {
                            key: key.to_string(),
                            size: rec.size,
                            etag: rec.etag,
                            last_modified_ms: rec.last_modified_ms,
                            storage_class: rec.storage_class,
                            owner: rec.owner,
                            checksum_algorithm: rec.checksum.map(|c| c.algorithm),
                        });
                        count += 1;
                        true
                    },
                )?;
                if let Some(e) = failure.take() {
                    return Err(e);
                }
                if full {
                    page.is_truncated = true;
                    break;
                }
                match jump {
                    Some(Some(next)) => cursor = Bound::Included(next),
                    // No jump: the scan reached the end of the range. A prefix with no
                    // successor covers everything after it.
                    Some(None) | None => break,
                }
            }
            if page.is_truncated {
                let last_key = page.objects.last().map(|o| o.key.clone());
                let last_prefix = page.common_prefixes.last().cloned();
                page.next_marker = last_key.into_iter().chain(last_prefix).max();
            }
            Ok(page)
        })
        .await
    }
}

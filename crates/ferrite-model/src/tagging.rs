//! Tags: an object version's tag set (a mutable subresource of an immutable version:
//! changing it rewrites the version's record, never its data, and makes no new
//! version) and a bucket's tag set (its own table, read only by the tagging calls).
//!
//! Tag sets are stored ordered by key, so every read answers them in the same order.

use serde::{Deserialize, Serialize};

use crate::access::{allow, bucket_for, object_facts};
use crate::acl::addressed_version;
use crate::authz::Operation;
use crate::engine::blocking;
use crate::lookup::get_bucket;
use crate::records::{Initial, Record, decode, encode, first_version};
use crate::versions::{VersionSel, replace_version, version_header};
use crate::{Caller, Ferrite, ModelError, ModelResult, tables, validate_key};

/// A tag set: (key, value) pairs, keys unique.
pub type Tags = Vec<(String, String)>;

/// Tags one object version may have (AWS's limit).
pub const MAX_OBJECT_TAGS: usize = 10;
/// Tags one bucket may have (AWS's limit).
pub const MAX_BUCKET_TAGS: usize = 50;
/// The longest tag key, in Unicode characters.
pub const MAX_TAG_KEY: usize = 128;
/// The longest tag value, in Unicode characters.
pub const MAX_TAG_VALUE: usize = 256;

/// What a tag set is for: each has its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagTarget {
    Object,
    Bucket,
}

/// Checks `tags` against AWS's rules for `target` and orders them by key: at most 10
/// (objects) or 50 (buckets) tags, keys of 1 to 128 characters outside the reserved
/// `aws:` namespace and not repeated, values of at most 256 characters.
/// Fails with InvalidTag, in AWS's words.
pub fn tag_set(mut tags: Tags, target: TagTarget) -> ModelResult<Tags> {
    let max = match target {
        TagTarget::Object => MAX_OBJECT_TAGS,
        TagTarget::Bucket => MAX_BUCKET_TAGS,
    };
    let invalid = |msg: &str| Err(ModelError::InvalidTag(msg.to_string()));
    if tags.len() > max {
        return Err(ModelError::InvalidTag(match target {
            TagTarget::Object => format!("Object tags cannot be greater than {max}"),
            TagTarget::Bucket => format!("Bucket tag count cannot be greater than {max}"),
        }));
    }
    for (k, v) in &tags {
        if k.is_empty() {
            return invalid("The TagKey you have provided is invalid");
        }
        if k.chars().count() > MAX_TAG_KEY {
            return invalid("The TagKey you have provided is too long, max 128");
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return invalid("The TagValue you have provided is too long, max 256");
        }
        if k.len() >= 4 && k[..4].eq_ignore_ascii_case("aws:") {
            return invalid("Your TagKey cannot be prefixed with aws:");
        }
    }
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    if tags.windows(2).any(|w| w[0].0 == w[1].0) {
        return invalid("Cannot provide multiple Tags with the same key");
    }
    Ok(tags)
}

/// A version's tags as GetObjectTagging answers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggingView {
    pub tags: Tags,
    /// `x-amz-version-id`: the version's, none for a never-versioned bucket.
    pub version_id: Option<String>,
}

/// A bucket's tag set, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BucketTagsRecord {
    pub tags: Tags,
}

first_version!(BucketTagsRecord);

fn bucket_tags_key(bucket_id: u64) -> [u8; 8] {
    bucket_id.to_be_bytes()
}

/// Drops a deleted bucket's tags (in DeleteBucket's transaction).
pub(crate) fn forget(txn: &mut dyn ferrite_store::WriteTxn, bucket_id: u64) -> ModelResult<()> {
    txn.delete(tables::BUCKET_TAGS, &bucket_tags_key(bucket_id))?;
    Ok(())
}

impl Ferrite {
    /// GetObjectTagging: the tags of the current version of `key`, or of `version`.
    pub async fn object_tagging(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ModelResult<TaggingView> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let (caller, inner) = (caller.clone(), self.inner.clone());
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = get_bucket(&*txn, &bucket)?;
            let (_, rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
            let action = Operation::GetObjectTagging.action(sel.is_some());
            allow(&caller, action, Some(&b), Some(&key), Some(object_facts(&rec)))?;
            Ok(TaggingView {
                version_id: version_header(&rec, &b),
                tags: rec.tags,
            })
        })
        .await
    }

    /// PutObjectTagging (`Some`, already checked with [`tag_set`]) and
    /// DeleteObjectTagging (`None`): replaces the version's tags in place; the version
    /// keeps its data, id and last-modified time. Answers the version's id.
    pub async fn set_object_tagging(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: Option<Tags>,
    ) -> ModelResult<Option<String>> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let op = match tags {
            Some(_) => Operation::PutObjectTagging,
            None => Operation::DeleteObjectTagging,
        };
        let tags = tags.unwrap_or_default();
        let caller = caller.with_request_tags(&tags);
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let (seq, mut rec) = addressed_version(&*txn, &caller, &b, &key, sel.as_ref())?;
                allow(
                    &caller,
                    op.action(sel.is_some()),
                    Some(&b),
                    Some(&key),
                    Some(object_facts(&rec)),
                )?;
                rec.tags = tags.clone();
                replace_version(txn, b.id, &key, seq, &rec)?;
                Ok(version_header(&rec, &b))
            })
            .await
    }

    /// GetBucketTagging: the bucket's tags; NoSuchTagSet when it has none.
    pub async fn bucket_tagging(&self, caller: &Caller, bucket: &str) -> ModelResult<Tags> {
        let (caller, inner, bucket) = (caller.clone(), self.inner.clone(), bucket.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for(&*txn, &bucket, &caller, Operation::GetBucketTagging)?;
            match txn.get(tables::BUCKET_TAGS, &bucket_tags_key(b.id))? {
                Some(v) => Ok(decode::<BucketTagsRecord>(&v)?.tags),
                None => Err(ModelError::NoSuchTagSet),
            }
        })
        .await
    }

    /// PutBucketTagging (`Some`, already checked with [`tag_set`]; an empty set
    /// removes the tags, as AWS) and DeleteBucketTagging (`None`).
    pub async fn set_bucket_tagging(&self, caller: &Caller, bucket: &str, tags: Option<Tags>) -> ModelResult<()> {
        let op = match tags {
            Some(_) => Operation::PutBucketTagging,
            None => Operation::DeleteBucketTagging,
        };
        let value = tags
            .filter(|t| !t.is_empty())
            .map(|tags| encode(&BucketTagsRecord { tags }));
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let b = bucket_for(&*txn, &bucket, &caller, op)?;
                match &value {
                    Some(v) => txn.put(tables::BUCKET_TAGS, &bucket_tags_key(b.id), v)?,
                    None => forget(txn, b.id)?,
                }
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tag_sets_are_ordered_by_key_and_held_to_aws_limits() {
        let ok = tag_set(
            tags(&[("foo", "bar"), ("bar", ""), ("Hello", "World")]),
            TagTarget::Object,
        )
        .unwrap();
        assert_eq!(ok, tags(&[("Hello", "World"), ("bar", ""), ("foo", "bar")]));

        let many: Tags = (0..11).map(|i| (i.to_string(), i.to_string())).collect();
        assert!(matches!(
            tag_set(many.clone(), TagTarget::Object),
            Err(ModelError::InvalidTag(_))
        ));
        assert_eq!(tag_set(many[..10].to_vec(), TagTarget::Object).unwrap().len(), 10);
        assert_eq!(tag_set(many.clone(), TagTarget::Bucket).unwrap().len(), 11);
        let fifty_one: Tags = (0..51).map(|i| (i.to_string(), String::new())).collect();
        assert!(tag_set(fifty_one, TagTarget::Bucket).is_err());

        // Lengths count characters, not bytes.
        let (k128, v256) = ("é".repeat(128), "é".repeat(256));
        assert!(tag_set(vec![(k128.clone(), v256.clone())], TagTarget::Object).is_ok());
        for bad in [
            vec![(format!("{k128}x"), String::new())],
            vec![("k".into(), format!("{v256}x"))],
            vec![(String::new(), "v".into())],
            vec![("aws:cost".into(), "v".into())],
            vec![("AWS:cost".into(), "v".into())],
            tags(&[("k", "1"), ("k", "2")]),
        ] {
            let e = tag_set(bad.clone(), TagTarget::Object).unwrap_err();
            assert!(matches!(e, ModelError::InvalidTag(_)), "{bad:?}: {e}");
        }
        // Keys are case-sensitive: `K` and `k` are two tags.
        assert_eq!(
            tag_set(tags(&[("k", "1"), ("K", "2")]), TagTarget::Object)
                .unwrap()
                .len(),
            2
        );
    }
}

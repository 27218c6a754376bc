//! Objects: put (commit a staged body), head, get, delete, copy.
//!
//! Every write is one metadata transaction that replaces the key's record, takes
//! references on the new data and drops them on the old: the commit is the moment the
//! new object exists, and readers see either the old record or the new one.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use ferrite_store::{BlobId, BlobReader, ReadTxn, WriteTxn};
use std::pin::Pin;

use futures::{Stream, StreamExt, TryStreamExt};

use crate::access::{allow, bucket_for_key, not_found, object_facts};
use crate::acl::written_by;
use crate::authz::{Action, ObjectFacts, Operation};
use crate::clock::now_ms;
use crate::conditions::{ReadConditions, as_copy_source, evaluate_read_conditions};
use crate::engine::blocking;
use crate::keys::object_key;
use crate::leases::{Lease, LeaseCheck};
use crate::lock::{LockRequest, lock_for_new_version};
use crate::lookup::{get_bucket, get_object};
use crate::names::validate_user_metadata;
use crate::records::AclSpec;
use crate::records::{BucketRecord, DataRef, Grant, LockInfo, ObjectAttrs, ObjectRecord, VersioningState};
use crate::refs::blob_id;
use crate::sse::{Encryption, SseRequest, check_customer_key, tampered};
use crate::staging::land_and_commit;
use crate::versions::{
    VersionSel, WriteConditions, add_version, delete_marker, find, newest, remove_version, version_header,
    version_label,
};
use crate::{
    Caller, ChecksumValue, Ferrite, ModelError, ModelResult, Staged, StorageClass, Tags, tables, validate_key,
};
use ferrite_crypt::TAG;
use ferrite_crypt::chunk::{SEALED_CHUNK, SealedSpan, scattered_len};
use ferrite_crypt::{ChunkCipher, Key, Opener};

use crate::read_bufs::{self, ReadBuf};

/// A stream of object bytes, shareable across threads as HTTP bodies require.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

/// Bytes per read when streaming a blob out: one pooled buffer.
const READ_CHUNK: u64 = read_bufs::BUF_LEN as u64;

/// What a client sees of an object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Hex digest, without quotes.
    pub etag: String,
    pub last_modified_ms: i64,
    pub attrs: ObjectAttrs,
    pub checksum: Option<ChecksumValue>,
    /// What `x-amz-version-id` answers: the version's id, `null` for the null version
    /// of a bucket that has a versioning state, nothing for a never-versioned bucket.
    pub version_id: Option<String>,
    pub storage_class: Option<StorageClass>,
    pub owner: String,
    /// The number of parts of a multipart object.
    pub parts_count: Option<u32>,
    /// How the stored data is encrypted (`x-amz-server-side-encryption`).
    pub encryption: Option<crate::sse::SseInfo>,
    /// The version's tags (GET and HEAD answer their number, `x-amz-tagging-count`).
    pub tags: Tags,
    /// The version's Object Lock state (GET and HEAD answer it).
    pub lock: LockInfo,
    /// When a lifecycle rule expires this (current) version, and the rule's id
    /// (`x-amz-expiration` on PUT, GET and HEAD).
    pub expiration: Option<(i64, String)>,
    /// An archived version's restore, as `x-amz-restore` answers it.
    pub restore: Option<crate::archive::RestoreStatus>,
}

impl ObjectInfo {
    /// A new version as a write answers it: writes report only real version ids
    /// (a `null` version written in a suspended bucket gets no `x-amz-version-id`).
    fn written(key: &str, r: &ObjectRecord, bucket: &BucketRecord) -> Self {
        let mut info = Self::from_record(key, r, bucket);
        info.version_id = r.version_id.clone();
        info
    }

    fn from_record(key: &str, r: &ObjectRecord, bucket: &BucketRecord) -> Self {
        Self {
            key: key.to_string(),
            size: r.size,
            etag: r.etag.clone(),
            last_modified_ms: r.last_modified_ms,
            attrs: r.attrs.clone(),
            checksum: r.checksum.clone(),
            version_id: version_header(r, bucket),
            storage_class: r.storage_class,
            owner: r.owner.clone(),
            parts_count: match &r.data {
                DataRef::Segments(s) if !r.delete_marker => Some(s.len() as u32),
                _ => None,
            },
            encryption: r.encryption.as_ref().map(Encryption::info),
            tags: r.tags.clone(),
            lock: r.lock.clone(),
            expiration: None,
            restore: crate::archive::restore_status(r, now_ms()),
        }
    }

    /// Adds when the bucket's lifecycle rules expire `r`, the key's current version.
    fn with_expiry(
        mut self,
        txn: &dyn ReadTxn,
        bucket: &BucketRecord,
        r: &ObjectRecord,
        index: &crate::lifecycle::LifecycleIndex,
    ) -> ModelResult<Self> {
        self.expiration = index.expiration_header(txn, bucket, &self.key, r)?;
        Ok(self)
    }
}

/// One part of a multipart object, as GetObjectAttributes lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSummary {
    pub part_number: u32,
    pub size: u64,
    /// The part's own checksum, when the upload had an algorithm.
    pub checksum: Option<ChecksumValue>,
}

/// Attributes of a new object, and the conditions on the key's current object.
#[derive(Debug, Clone, Default)]
pub struct PutAttrs {
    pub attrs: ObjectAttrs,
    pub storage_class: Option<StorageClass>,
    /// `If-None-Match`: `*` stores only if the key has no current object; an ETag
    /// (without quotes) only if the current object does not have it.
    pub if_none_match: Option<String>,
    /// `If-Match`: only if the current object has this ETag (without quotes).
    pub if_match: Option<String>,
    /// The new version's ACL (`x-amz-acl` or `x-amz-grant-*`); `None`: private.
    pub acl: Option<AclSpec>,
    /// Server-side encryption asked for (`x-amz-server-side-encryption`, or SSE-C's
    /// customer key); `None`: the bucket's default, else stored as sent.
    pub encryption: Option<SseRequest>,
    /// The new version's tags (`x-amz-tagging`), already checked with
    /// [`crate::tag_set`]. Writing tags also needs `s3:PutObjectTagging`.
    pub tags: Tags,
    /// The new version's Object Lock (`x-amz-object-lock-*`); none asked: the
    /// bucket's default retention, if any.
    pub lock: LockRequest,
}

/// Which tags a copy gets (`x-amz-tagging-directive`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TaggingDirective {
    /// The source's (reading them needs `s3:GetObjectTagging` on the source).
    #[default]
    Copy,
    /// These (`x-amz-tagging`), already checked with [`crate::tag_set`].
    Replace(Tags),
}

#[derive(Debug, Clone)]
pub enum MetadataDirective {
    Copy,
    Replace(ObjectAttrs),
}

#[derive(Debug, Clone)]
pub struct CopyRequest {
    pub src_bucket: String,
    pub src_key: String,
    /// The source version (`?versionId=`), or the current one.
    pub src_version: Option<String>,
    pub dst_bucket: String,
    pub dst_key: String,
    pub directive: MetadataDirective,
    pub storage_class: Option<StorageClass>,
    /// `x-amz-copy-source-if-*`; any failure is `PreconditionFailed`.
    pub source_conditions: ReadConditions,
    /// Conditions on the destination's current object, as for [`PutAttrs`].
    pub if_none_match: Option<String>,
    pub if_match: Option<String>,
    /// The copy's ACL; `None`: private (a copy never takes the source's ACL).
    pub acl: Option<AclSpec>,
    /// Server-side encryption asked for the copy (`x-amz-server-side-encryption` or
    /// SSE-C's customer key); `None`: the destination bucket's default, else the
    /// source's (an SSE-C source's copy is stored unencrypted: its key is the
    /// customer's, given for reading the source only). The source's own SSE-C key
    /// rides in `source_conditions`.
    pub encryption: Option<SseRequest>,
    pub tagging: TaggingDirective,
    /// The copy's Object Lock (the source's is not copied); none asked: the
    /// destination bucket's default retention, if any.
    pub lock: LockRequest,
}

/// What a copy made, and which source version it read.
#[derive(Debug, Clone)]
pub struct CopyOutcome {
    pub info: ObjectInfo,
    /// `x-amz-copy-source-version-id`: the source version's id, if it has one.
    pub source_version_id: Option<String>,
}

/// One object (or one version of it) to delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteRequest {
    pub key: String,
    pub version_id: Option<String>,
    /// `If-Match`: delete only if the object (the named version, or else the current
    /// object) has this ETag, or exists at all for `*`.
    pub if_match: Option<String>,
    /// `x-amz-bypass-governance-retention`: a version under GOVERNANCE retention may
    /// be deleted (with `s3:BypassGovernanceRetention`).
    pub bypass_governance: bool,
}

/// What a delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version id created (a delete marker) or removed, as `x-amz-version-id`
    /// answers it.
    pub version_id: Option<String>,
    /// Whether a delete marker was created, or the version removed was one.
    pub delete_marker: bool,
}

/// What part of an object a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// A `Range` header.
    Range(ByteRange),
    /// `partNumber=N`: one part of a multipart object (part 1 of any other object is
    /// the whole object).
    Part(u32),
}

/// Resolves a slice of `rec`: the byte range, and whether the answer is partial (206).
fn resolve_slice(rec: &ObjectRecord, slice: Option<Slice>) -> ModelResult<(Range<u64>, bool)> {
    match slice {
        None => Ok((0..rec.size, false)),
        Some(Slice::Range(r)) => Ok((r.resolve(rec.size)?, true)),
        Some(Slice::Part(n)) => match &rec.data {
            // Parts are addressed by the number they were uploaded as (an upload may
            // complete with parts 1 and 3).
            DataRef::Segments(segs) if !segs.is_empty() => {
                let i = segs
                    .iter()
                    .position(|s| s.part_number == n)
                    .ok_or(ModelError::InvalidPart(n))?;
                let start: u64 = segs[..i].iter().map(|s| s.size).sum();
                // A zero-byte part is answered whole (200), not as an empty range.
                Ok((start..start + segs[i].size, segs[i].size > 0))
            }
            _ if n == 1 => Ok((0..rec.size, false)),
            _ => Err(ModelError::InvalidPart(n)),
        },
    }
}

/// A requested byte range, before the object's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` or `bytes=first-`.
    From { first: u64, last: Option<u64> },
    /// `bytes=-len`: the last `len` bytes.
    Suffix { len: u64 },
}

impl ByteRange {
    pub fn resolve(self, size: u64) -> ModelResult<Range<u64>> {
        match self {
            ByteRange::From { first, last } => {
                if first >= size || last.is_some_and(|l| l < first) {
                    return Err(ModelError::InvalidRange);
                }
                let end = last.map_or(size, |l| l.saturating_add(1).min(size));
                Ok(first..end)
            }
            ByteRange::Suffix { len } => {
                if len == 0 || size == 0 {
                    return Err(ModelError::InvalidRange);
                }
                Ok(size.saturating_sub(len)..size)
            }
        }
    }
}

/// An object's bytes (or a range of them), streamed.
pub struct ObjectBody {
    /// The byte range served, and the object's full size.
    pub range: Range<u64>,
    pub total: u64,
    /// Whether the client asked for a range (so the answer is 206).
    pub partial: bool,
    stream: BodyStream,
}

impl ObjectBody {
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn into_stream(self) -> BodyStream {
        self.stream
    }
}

enum Source {
    /// Inline data (opened already, if it was sealed).
    Inline(Bytes),
    /// A blob, leased on shared stores (below).
    Blob(Arc<dyn BlobReader>, Option<Lease>),
    /// A blob of sealed chunks, the cipher that opens them and the plaintext size.
    SealedBlob(Arc<dyn BlobReader>, Box<ChunkCipher>, u64, Option<Lease>),
    /// The pieces of a multipart object's segments to read, the first one already
    /// open, all of them leased; with the data key and encryption if they are sealed,
    /// and the tier's blob store the rest are opened from.
    Segments(
        Vec<Piece>,
        Arc<dyn BlobReader>,
        Lease,
        Option<Box<(Key, Encryption)>>,
        Arc<dyn ferrite_store::BlobStore>,
    ),
}

/// The version a read addresses (the current one when `version` is `None`), if the
/// caller may read it, after checking the read conditions. What is not there is
/// reported only to a caller that may list the bucket.
fn read_version(
    txn: &dyn ReadTxn,
    caller: &Caller,
    bucket: &str,
    key: &str,
    version: Option<&VersionSel>,
    cond: &ReadConditions,
) -> ModelResult<(BucketRecord, ObjectRecord)> {
    let b = get_bucket(txn, bucket)?;
    let rec = match version {
        None => match get_object(txn, &object_key(b.id, key))? {
            Some(rec) => rec,
            // No live current object: say whether a delete marker hides older versions.
            None => match newest(txn, b.id, key)? {
                Some((_, m)) if m.delete_marker => {
                    let e = ModelError::DeletedKey {
                        version_id: version_label(&m),
                    };
                    return Err(not_found(caller, &b, key, e));
                }
                _ => return Err(not_found(caller, &b, key, ModelError::NoSuchKey)),
            },
        },
        Some(sel) => {
            let Some((_, rec)) = find(txn, b.id, key, sel)? else {
                return Err(not_found(caller, &b, key, ModelError::NoSuchVersion));
            };
            if rec.delete_marker {
                let e = ModelError::DeleteMarkerVersion {
                    version_id: version_label(&rec),
                    last_modified_ms: rec.last_modified_ms,
                };
                return Err(not_found(caller, &b, key, e));
            }
            rec
        }
    };
    let action = Operation::GetObject.action(version.is_some());
    allow(caller, action, Some(&b), Some(key), Some(object_facts(&rec)))?;
    evaluate_read_conditions(cond, &rec.etag, rec.last_modified_ms)?;
    Ok((b, rec))
}

/// Deletes one object or version inside the caller's transaction.
fn delete_one(
    txn: &mut dyn WriteTxn,
    caller: &Caller,
    bucket: &BucketRecord,
    req: &DeleteRequest,
    owner: &str,
) -> ModelResult<DeleteOutcome> {
    validate_key(&req.key)?;
    let key = req.key.as_str();
    let sel = VersionSel::parse_opt(req.version_id.as_deref())?;
    if let Some(sel) = sel {
        let Some((seq, rec)) = find(txn, bucket.id, key, &sel)? else {
            // Deleting a version that does not exist changes nothing, and succeeds.
            let outcome = DeleteOutcome {
                version_id: req.version_id.clone(),
                delete_marker: false,
            };
            return Ok(outcome);
        };
        let cond = WriteConditions {
            if_none_match: None,
            if_match: req.if_match.as_deref(),
        };
        cond.check(Some(&rec))?;
        let removal = crate::lock::removal_for(caller, bucket, key, &rec, req.bypass_governance, now_ms())?;
        remove_version(txn, bucket.id, key, seq, removal)?;
        return Ok(DeleteOutcome {
            version_id: Some(version_label(&rec)),
            delete_marker: rec.delete_marker,
        });
    }
    let cond = WriteConditions {
        if_none_match: None,
        if_match: req.if_match.as_deref(),
    };
    match bucket.versioning {
        VersioningState::Unversioned => {
            let current = newest(txn, bucket.id, key)?;
            cond.check(current.as_ref().map(|(_, r)| r))?;
            if let Some((seq, rec)) = current {
                let removal = crate::lock::removal_for(caller, bucket, key, &rec, req.bypass_governance, now_ms())?;
                remove_version(txn, bucket.id, key, seq, removal)?;
            }
            Ok(DeleteOutcome::default())
        }
        VersioningState::Enabled | VersioningState::Suspended => {
            let w = add_version(txn, bucket, key, delete_marker(owner), cond)?;
            Ok(DeleteOutcome {
                version_id: Some(version_label(&w.record)),
                delete_marker: true,
            })
        }
    }
}

impl Ferrite {
    /// Commits a staged body as the current object `key`: the lower half of
    /// [`Ferrite::put_object`], for callers that stage a body themselves (tests, tools).
    pub async fn put_staged(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        staged: Staged,
        put: PutAttrs,
    ) -> ModelResult<ObjectInfo> {
        let owner = caller.owner_id();
        validate_key(key)?;
        validate_user_metadata(&put.attrs.user_metadata)?;
        // Policies see the new version's tags as the request's.
        let caller = caller.with_request_tags(&put.tags);
        let root_id = self.inner.opts.root_canonical_id.clone();
        let day = self.inner.lifecycle_index.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        land_and_commit(self.inner.clone(), staged, move |landing| {
            let record = ObjectRecord {
                version_id: None,
                delete_marker: false,
                size: landing.digests.len,
                etag: landing.etag(),
                last_modified_ms: now_ms(),
                attrs: put.attrs,
                checksum: landing.digests.checksum.clone(),
                data: landing.data,
                owner,
                storage_class: put.storage_class,
                tags: put.tags,
                acl: None,
                encryption: landing.encryption,
                lock: LockInfo::default(),
                restore: None,
                tier: landing.tier,
            };
            let inline = landing.inline;
            let (if_none_match, if_match, acl, lock) = (put.if_none_match, put.if_match, put.acl, put.lock);
            Ok(move |txn: &mut dyn WriteTxn| {
                let b = bucket_for_key(txn, &bucket, &key, &caller, Operation::PutObject)?;
                let cond = WriteConditions {
                    if_none_match: if_none_match.as_deref(),
                    if_match: if_match.as_deref(),
                };
                let mut record = record.clone();
                (record.owner, record.acl) = written_by(&*txn, &root_id, &caller, &b, &record.owner, acl.as_ref())?;
                allow_writing_tags(&caller, &b, &key, &record.tags, (&record.owner, record.acl.as_deref()))?;
                let stored_as = (record.owner.as_str(), record.acl.as_deref());
                record.lock = lock_for_new_version(&*txn, &caller, &b, &key, &lock, stored_as, now_ms())?;
                let w = add_version(txn, &b, &key, record, cond)?;
                // After the checks: a refused write changes nothing.
                if let (Some(bytes), DataRef::Inline(id)) = (&inline, &w.record.data) {
                    txn.put(tables::INLINE, id, bytes)?;
                }
                ObjectInfo::written(&key, &w.record, &b).with_expiry(&*txn, &b, &w.record, &day)
            })
        })
        .await
    }

    /// The attributes of the current object, or of `version`, after checking `cond`.
    pub async fn head_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        cond: &ReadConditions,
    ) -> ModelResult<ObjectInfo> {
        let caller = caller.clone();
        Ok(self.head_slice(&caller, bucket, key, version, None, cond).await?.0)
    }

    /// Like [`Ferrite::head_object`], also resolving a slice: the byte range a GET
    /// would serve, when that is partial.
    pub async fn head_slice(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        slice: Option<Slice>,
        cond: &ReadConditions,
    ) -> ModelResult<(ObjectInfo, Option<Range<u64>>)> {
        let caller = caller.clone();
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let inner = self.inner.clone();
        let (bucket, key, cond) = (bucket.to_string(), key.to_string(), cond.clone());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let (b, rec) = read_version(&*txn, &caller, &bucket, &key, sel.as_ref(), &cond)?;
            check_customer_key(rec.encryption.as_ref(), cond.sse_customer_key.as_ref())?;
            let (range, partial) = resolve_slice(&rec, slice)?;
            let mut info = ObjectInfo::from_record(&key, &rec, &b);
            if sel.is_none() {
                info = info.with_expiry(&*txn, &b, &rec, &inner.lifecycle_index)?;
            }
            Ok((info, partial.then_some(range)))
        })
        .await
    }

    /// GetObjectAttributes: what HEAD answers of the current object (or `version`),
    /// authorized and conditioned as HEAD is, and, for a multipart object, its parts
    /// (`None` for any other).
    pub async fn object_attributes(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        cond: &ReadConditions,
    ) -> ModelResult<(ObjectInfo, Option<Vec<PartSummary>>)> {
        let caller = caller.clone();
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        let inner = self.inner.clone();
        let (bucket, key, cond) = (bucket.to_string(), key.to_string(), cond.clone());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let (b, rec) = read_version(&*txn, &caller, &bucket, &key, sel.as_ref(), &cond)?;
            check_customer_key(rec.encryption.as_ref(), cond.sse_customer_key.as_ref())?;
            let parts = match &rec.data {
                DataRef::Segments(segs) => Some(
                    segs.iter()
                        .map(|s| PartSummary {
                            part_number: s.part_number,
                            size: s.size,
                            checksum: s.checksum.clone(),
                        })
                        .collect(),
                ),
                DataRef::Inline(_) | DataRef::Blob(_) => None,
            };
            Ok((ObjectInfo::from_record(&key, &rec, &b), parts))
        })
        .await
    }

    /// The current object (or `version`) and a stream of its bytes (or of `range`).
    pub async fn get_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        slice: Option<Slice>,
        cond: &ReadConditions,
    ) -> ModelResult<(ObjectInfo, ObjectBody)> {
        validate_key(key)?;
        let sel = VersionSel::parse_opt(version)?;
        // A concurrent overwrite may delete the blob between reading the record and
        // opening the blob; then the record read again names the new data.
        for _ in 0..8 {
            let inner = self.inner.clone();
            let (bucket, key, cond, sel) = (bucket.to_string(), key.to_string(), cond.clone(), sel.clone());
            let caller = caller.clone();
            let found = blocking(move || {
                let epoch = inner.leases.epoch();
                let txn = inner.meta.begin_read()?;
                let (b, rec) = read_version(&*txn, &caller, &bucket, &key, sel.as_ref(), &cond)?;
                crate::archive::check_readable(&rec, now_ms())?;
                // Where the readable bytes are: the version's own, or a restored copy.
                let (data, tier) = crate::archive::readable_data(&rec);
                let store = inner.tiers.store(tier)?.clone();
                let (byte_range, partial) = resolve_slice(&rec, slice)?;
                // An encrypted version whose key cannot be opened fails here, before
                // anything is answered.
                let sealed = match &rec.encryption {
                    Some(e) => Some((e.data_key(&inner, &*txn, cond.sse_customer_key.as_ref())?, e.clone())),
                    None if cond.sse_customer_key.is_some() => {
                        check_customer_key(None, cond.sse_customer_key.as_ref())?;
                        None
                    }
                    None => None,
                };
                // A single body's cipher (a multipart object's segments get theirs as
                // the stream reaches them).
                let cipher = match data {
                    DataRef::Segments(_) => None,
                    _ => sealed.as_ref().map(|(key, e)| e.body_cipher(key, e.nonce_prefix)),
                };
                let source = match data {
                    DataRef::Inline(id) => {
                        let bytes = txn
                            .get(tables::INLINE, id)?
                            .ok_or_else(|| ModelError::Corrupt("inline data missing".into()))?;
                        let bytes = match cipher {
                            None => Bytes::from(bytes),
                            Some(cipher) => open_inline(&inner, cipher, bytes, rec.size)?,
                        };
                        Some(Source::Inline(bytes))
                    }
                    DataRef::Blob(id) => {
                        // An open file keeps its data after an unlink, a blob in RADOS
                        // does not: on shared stores the blob is leased as segments are
                        // (the collector keeps it; a long read is published for the
                        // other gateways' collectors), and a blob already doomed means
                        // a concurrent overwrite: read the record again. Opened after
                        // the lease, so a blob deleted meanwhile is found missing.
                        let lease = match inner.shared {
                            true => inner.leases.take(vec![*id], epoch).map(|(lease, _)| Some(lease)),
                            false => Some(None),
                        };
                        match lease {
                            None => None,
                            Some(lease) => store.open(blob_id(id))?.map(|r| match cipher {
                                None => Source::Blob(Arc::from(r), lease),
                                Some(cipher) => Source::SealedBlob(Arc::from(r), Box::new(cipher), rec.size, lease),
                            }),
                        }
                    }
                    DataRef::Segments(segs) => {
                        // Lease every segment the range needs, so that the collector
                        // keeps them until the stream is done (see `leases`); open the
                        // first now and the rest as the stream reaches them. A segment
                        // already gone means a concurrent overwrite: read the record
                        // again.
                        let needed = segments_in(segs, &byte_range);
                        let ids = needed.iter().map(|p| p.blob).collect();
                        match inner.leases.take(ids, epoch) {
                            None => None,
                            Some((lease, check)) => {
                                let all_there = match check {
                                    LeaseCheck::Ready => true,
                                    LeaseCheck::VerifyExistence => {
                                        let mut ok = true;
                                        for piece in needed.iter().skip(1) {
                                            if store.open(blob_id(&piece.blob))?.is_none() {
                                                ok = false;
                                                break;
                                            }
                                        }
                                        ok
                                    }
                                };
                                match needed.first() {
                                    _ if !all_there => None,
                                    None => Some(Source::Inline(Bytes::new())),
                                    Some(piece) => store.open(blob_id(&piece.blob))?.map(|r| {
                                        Source::Segments(
                                            needed,
                                            Arc::from(r),
                                            lease,
                                            sealed.map(Box::new),
                                            store.clone(),
                                        )
                                    }),
                                }
                            }
                        }
                    }
                };
                let mut info = ObjectInfo::from_record(&key, &rec, &b);
                if sel.is_none() {
                    info = info.with_expiry(&*txn, &b, &rec, &inner.lifecycle_index)?;
                }
                Ok(source.map(|s| (info, s, byte_range, partial)))
            })
            .await?;
            if let Some((info, source, byte_range, partial)) = found {
                let stream = match source {
                    Source::Inline(b) => {
                        let slice = b.slice(byte_range.start as usize..byte_range.end as usize);
                        Box::pin(futures::stream::once(async move { Ok(slice) })) as BodyStream
                    }
                    Source::Blob(reader, lease) => holding(blob_stream(reader, byte_range.clone()), lease),
                    Source::SealedBlob(reader, cipher, size, lease) => {
                        let span = SealedSpan::new(size, byte_range.start, byte_range.end - byte_range.start);
                        holding(
                            sealed_blob_stream(self.inner.clone(), reader, span, span.opener(*cipher)),
                            lease,
                        )
                    }
                    Source::Segments(pieces, first, lease, sealed, store) => {
                        segments_stream(self.inner.clone(), store, pieces, first, lease, sealed.map(|b| *b))
                    }
                };
                let body = ObjectBody {
                    range: byte_range,
                    total: info.size,
                    partial,
                    stream,
                };
                return Ok((info, body));
            }
        }
        Err(ModelError::Internal(format!(
            "blob of {bucket}/{key} keeps disappearing"
        )))
    }

    /// Deletes an object: in a versioned bucket, adds a delete marker, or removes the
    /// version named. Deleting a missing key or version succeeds.
    pub async fn delete_object(&self, caller: &Caller, bucket: &str, req: DeleteRequest) -> ModelResult<DeleteOutcome> {
        let caller = caller.clone();
        let mut results = self.delete_objects(&caller, bucket, vec![req]).await?;
        results.pop().unwrap_or(Ok(DeleteOutcome::default()))
    }

    /// Deletes many objects in one transaction; one result per request, in order.
    pub async fn delete_objects(
        &self,
        caller: &Caller,
        bucket: &str,
        reqs: Vec<DeleteRequest>,
    ) -> ModelResult<Vec<ModelResult<DeleteOutcome>>> {
        let caller = caller.clone();
        let owner = caller.owner_id();
        let bucket = bucket.to_string();
        self.inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let mut results = Vec::with_capacity(reqs.len());
                for req in &reqs {
                    // Each delete either fully applies or changes nothing: its checks come
                    // before its first write.
                    let action = Operation::DeleteObjects.action(req.version_id.is_some());
                    let result = match allow(&caller, action, Some(&b), Some(&req.key), None) {
                        Ok(()) => delete_one(&mut *txn, &caller, &b, req, &owner),
                        Err(denied) => Err(denied),
                    };
                    // A domain error is this key's answer; a store error (a conflict
                    // to re-run, a failed statement after which the transaction is
                    // void) is the whole job's: kept as one key's answer, the batch
                    // would commit what the failed delete half wrote (or, on
                    // PostgreSQL, have its COMMIT turned into a ROLLBACK).
                    match result {
                        Err(e) if crate::commit::is_fatal(&e) => return Err(e),
                        r => results.push(r),
                    }
                }
                Ok(results)
            })
            .await
    }

    /// Copies an object: the new object shares the source's data (no bytes are copied)
    /// and gets its own record, unless the copy asks for an encryption the source's
    /// data does not have: then the bytes are read (opened) and written again, sealed
    /// as asked (a copy onto itself so is how an existing object gets encrypted).
    pub async fn copy_object(&self, caller: &Caller, req: CopyRequest) -> ModelResult<CopyOutcome> {
        // The copy's encryption: what it asks for, else the destination bucket's
        // default; with neither it keeps the source's (but for SSE-C: the customer's
        // key was given to read the source, not to seal the copy).
        let needs_default = match &req.encryption {
            None | Some(SseRequest::Default { .. }) => true,
            Some(SseRequest::Kms(k)) => k.bucket_key.is_none(),
            Some(_) => false,
        };
        let default = match needs_default {
            true => {
                self.check_object_access(caller, &req.dst_bucket, &req.dst_key, Operation::CopyObject)
                    .await?
                    .1
            }
            false => None,
        };
        let wanted = SseRequest::wanted(req.encryption.as_ref(), default)?;
        let source = self.copy_source_facts(caller, &req).await?;
        // The copy's bytes go to its class's tier: data in another tier is copied.
        let dst_tier = self
            .inner
            .tiers
            .for_class(req.storage_class.or(source.class))
            .to_string();
        if !copy_shares_data(wanted.as_ref(), source.encryption.as_ref()) || dst_tier != source.tier {
            let req = CopyRequest {
                encryption: wanted,
                ..req
            };
            return self.copy_rewriting(caller, req).await;
        }
        let caller = match &req.tagging {
            TaggingDirective::Replace(tags) => caller.with_request_tags(tags),
            TaggingDirective::Copy => caller.clone(),
        };
        let owner = caller.owner_id();
        let root_id = self.inner.opts.root_canonical_id.clone();
        let day = self.inner.lifecycle_index.clone();
        validate_key(&req.src_key)?;
        let src_sel = VersionSel::parse_opt(req.src_version.as_deref())?;
        validate_key(&req.dst_key)?;
        if let MetadataDirective::Replace(attrs) = &req.directive {
            validate_user_metadata(&attrs.user_metadata)?;
        }
        self.inner
            .committer
            .write(move |txn| {
                let src_bucket = get_bucket(&*txn, &req.src_bucket)?;
                let reader = caller.for_copy_source();
                let src = match &src_sel {
                    None => get_object(&*txn, &object_key(src_bucket.id, &req.src_key))?
                        .ok_or_else(|| not_found(&reader, &src_bucket, &req.src_key, ModelError::NoSuchKey))?,
                    Some(sel) => {
                        let (_, rec) = find(&*txn, src_bucket.id, &req.src_key, sel)?
                            .ok_or_else(|| not_found(&reader, &src_bucket, &req.src_key, ModelError::NoSuchVersion))?;
                        if rec.delete_marker {
                            return Err(not_found(
                                &reader,
                                &src_bucket,
                                &req.src_key,
                                ModelError::CopySourceIsDeleteMarker,
                            ));
                        }
                        rec
                    }
                };
                let read = Operation::CopySource.action(src_sel.is_some());
                allow(
                    &reader,
                    read,
                    Some(&src_bucket),
                    Some(&req.src_key),
                    Some(object_facts(&src)),
                )?;
                // The source read before may have been replaced since: sharing its
                // data is right only if it still is what was decided on.
                crate::archive::check_readable(&src, now_ms())?;
                check_customer_key(src.encryption.as_ref(), req.source_conditions.sse_customer_key.as_ref())?;
                // A copy of SSE-KMS data needs its KMS key usable, as reading it would
                // (AWS's copy decrypts): a disabled key refuses the copy.
                if let Some(crate::sse::Kek::Kms { key_arn, .. }) = src.encryption.as_ref().map(|e| &e.data_key.kek) {
                    crate::kms::usable_by_id(&*txn, crate::sse::Kek::kms_key_id(key_arn))?;
                }
                if !copy_shares_data(wanted.as_ref(), src.encryption.as_ref())
                    || src.tier != dst_tier
                    || req.storage_class.or(src.storage_class) != req.storage_class.or(source.class)
                {
                    return Err(ModelError::Internal(
                        "the copy source's encryption or tier changed during the copy; retry".into(),
                    ));
                }
                let dst_bucket = bucket_for_key(&*txn, &req.dst_bucket, &req.dst_key, &caller, Operation::CopyObject)?;
                evaluate_read_conditions(&req.source_conditions, &src.etag, src.last_modified_ms)
                    .map_err(as_copy_source)?;
                let same_key = src_bucket.id == dst_bucket.id && req.src_key == req.dst_key;
                let class_changes = req.storage_class.is_some() && req.storage_class != src.storage_class;
                // Copying a named older version onto its own key is a rollback, not a no-op;
                // asking for encryption is a change (of the encryption attributes).
                if same_key
                    && src_sel.is_none()
                    && matches!(req.directive, MetadataDirective::Copy)
                    && !class_changes
                    && matches!(req.encryption, None | Some(SseRequest::Default { .. }))
                {
                    return Err(ModelError::CopyToSelfUnchanged);
                }
                let attrs = match &req.directive {
                    MetadataDirective::Copy => src.attrs.clone(),
                    MetadataDirective::Replace(a) => a.clone(),
                };
                let source_version_id = version_header(&src, &src_bucket);
                let tags = copied_tags(
                    &reader,
                    &src_bucket,
                    &req.src_key,
                    src_sel.is_some(),
                    &src,
                    &req.tagging,
                )?;
                let (owner, acl) = written_by(&*txn, &root_id, &caller, &dst_bucket, &owner, req.acl.as_ref())?;
                let record = ObjectRecord {
                    version_id: None,
                    delete_marker: false,
                    last_modified_ms: now_ms(),
                    attrs,
                    owner,
                    acl,
                    storage_class: req.storage_class.or(src.storage_class),
                    tags,
                    // A copy is a new version: not restored, whatever its source was.
                    restore: None,
                    ..src
                };
                let stored_as = (record.owner.as_str(), record.acl.as_deref());
                allow_writing_tags(&caller, &dst_bucket, &req.dst_key, &record.tags, stored_as)?;
                let lock = lock_for_new_version(
                    &*txn,
                    &caller,
                    &dst_bucket,
                    &req.dst_key,
                    &req.lock,
                    stored_as,
                    now_ms(),
                )?;
                let record = ObjectRecord { lock, ..record };
                let cond = WriteConditions {
                    if_none_match: req.if_none_match.as_deref(),
                    if_match: req.if_match.as_deref(),
                };
                let w = add_version(&mut *txn, &dst_bucket, &req.dst_key, record, cond)?;
                let outcome = CopyOutcome {
                    info: ObjectInfo::written(&req.dst_key, &w.record, &dst_bucket).with_expiry(
                        &*txn,
                        &dst_bucket,
                        &w.record,
                        &day,
                    )?,
                    source_version_id,
                };
                Ok(outcome)
            })
            .await
    }
}

impl Ferrite {
    /// The encryption of the copy's source version, read as the copy will read it,
    /// with the source's SSE-C key checked (a missing or unreadable source answers
    /// the copy's own error later).
    /// The copy source's encryption, class and tier, and the tags the copy gets (see
    /// [`copied_tags`]), read as the copy will read the source.
    async fn copy_source_facts(&self, caller: &Caller, req: &CopyRequest) -> ModelResult<SourceFacts> {
        let sel = VersionSel::parse_opt(req.src_version.as_deref())?;
        let (caller, inner) = (caller.for_copy_source(), self.inner.clone());
        let (bucket, key) = (req.src_bucket.clone(), req.src_key.clone());
        let given = req.source_conditions.sse_customer_key.clone();
        let directive = req.tagging.clone();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let (b, rec) = read_version(&*txn, &caller, &bucket, &key, sel.as_ref(), &ReadConditions::default())
                .map_err(as_copy_source)?;
            crate::archive::check_readable(&rec, now_ms())?;
            check_customer_key(rec.encryption.as_ref(), given.as_ref())?;
            let tags = copied_tags(&caller, &b, &key, sel.is_some(), &rec, &directive)?;
            Ok(SourceFacts {
                encryption: rec.encryption,
                tags,
                class: rec.storage_class,
                tier: rec.tier,
            })
        })
        .await
    }

    /// A copy whose data is written again: the source is read through the GET path
    /// (with the copy-source conditions) and stored like a PUT of those bytes, with
    /// the copy's attributes and encryption.
    async fn copy_rewriting(&self, caller: &Caller, req: CopyRequest) -> ModelResult<CopyOutcome> {
        // The tags are decided (and, copied, authorized) on the source as first read.
        let tags = self.copy_source_facts(caller, &req).await?.tags;
        let (src, body) = self
            .get_object(
                &caller.for_copy_source(),
                &req.src_bucket,
                &req.src_key,
                req.src_version.as_deref(),
                None,
                &req.source_conditions,
            )
            .await
            .map_err(as_copy_source)?;
        let put = PutAttrs {
            attrs: match req.directive {
                MetadataDirective::Copy => src.attrs.clone(),
                MetadataDirective::Replace(attrs) => attrs,
            },
            storage_class: req.storage_class.or(src.storage_class),
            if_none_match: req.if_none_match,
            if_match: req.if_match,
            acl: req.acl,
            encryption: req.encryption,
            tags,
            lock: req.lock,
        };
        let mut incoming = crate::IncomingBody::new(body.into_stream());
        // The copy keeps the source's checksum algorithm, computed over its bytes.
        incoming.claims.sdk_algorithm = src.checksum.as_ref().map(|c| c.algorithm);
        incoming.claims.length = Some(src.size);
        let info = self
            .put_object(caller, &req.dst_bucket, &req.dst_key, incoming, put)
            .await?;
        Ok(CopyOutcome {
            info,
            source_version_id: src.version_id,
        })
    }
}

/// What a copy decides on from its source before it commits.
struct SourceFacts {
    encryption: Option<Encryption>,
    tags: Tags,
    class: Option<crate::records::StorageClass>,
    /// The tier the source version's own data is in.
    tier: String,
}

/// The tags a copy of `src` gets: the source's (`Copy`: reading them needs
/// `s3:GetObjectTagging` on the source when it has any) or the request's.
fn copied_tags(
    reader: &Caller,
    src_bucket: &BucketRecord,
    src_key: &str,
    versioned: bool,
    src: &ObjectRecord,
    directive: &TaggingDirective,
) -> ModelResult<Tags> {
    match directive {
        TaggingDirective::Replace(tags) => Ok(tags.clone()),
        TaggingDirective::Copy if src.tags.is_empty() => Ok(Tags::new()),
        TaggingDirective::Copy => {
            let action = Operation::GetObjectTagging.action(versioned);
            allow(reader, action, Some(src_bucket), Some(src_key), Some(object_facts(src)))?;
            Ok(src.tags.clone())
        }
    }
}

/// A write that gives its new version `tags` also needs `s3:PutObjectTagging` on it
/// (AWS's rule), judged on the version as it will be stored (its owner and ACL).
pub(crate) fn allow_writing_tags(
    caller: &Caller,
    bucket: &BucketRecord,
    key: &str,
    tags: &[(String, String)],
    (owner, acl): (&str, Option<&[Grant]>),
) -> ModelResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let facts = ObjectFacts { owner, acl, tags: &[] };
    allow(caller, Action::PutObjectTagging, Some(bucket), Some(key), Some(facts))
}

/// Whether a copy can share the source's stored data: it is sealed as the copy asks
/// (`wanted`), or the copy asks for nothing and the source is not SSE-C.
fn copy_shares_data(wanted: Option<&SseRequest>, source: Option<&Encryption>) -> bool {
    match wanted {
        Some(w) => w.satisfied_by(source),
        None => !source.is_some_and(Encryption::is_customer),
    }
}

/// After a write that landed blob `id` failed with `e`: deletes the blob if the
/// write was refused by its checks (it changed nothing). Any other failure may have
/// come after the commit became durable, so the record may point at the blob: it is
/// left to the orphan sweep, which deletes only what no record references.
pub(crate) async fn discard_landed(inner: &Arc<crate::engine::Inner>, tier: &str, id: BlobId, e: &ModelError) {
    if crate::commit::is_fatal(e) {
        tracing::warn!(error = %e, blob = ?id, "a write failed after landing its data; leaving the data to the orphan sweep");
        return;
    }
    let Ok(blobs) = inner.tiers.store(tier).cloned() else {
        return;
    };
    let _ = blocking(move || {
        if let Err(del) = blobs.delete(id) {
            tracing::warn!(error = %del, "could not remove data of a refused write; the orphan sweep will");
        }
        Ok(())
    })
    .await;
}

/// A piece of a multipart object to read: a range of one segment (plaintext offsets
/// within the segment), with what opening the segment needs when it is sealed.
struct Piece {
    blob: [u8; 16],
    range: Range<u64>,
    /// The segment's plaintext size (a sealed segment is a body of its own).
    segment_size: u64,
    nonce_prefix: Option<[u8; 8]>,
}

/// The pieces of the segments that cover `range` of a multipart object, in order.
fn segments_in(segs: &[crate::records::Segment], range: &Range<u64>) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start = 0u64;
    for s in segs {
        let end = start + s.size;
        if end > range.start && start < range.end && s.size > 0 {
            let from = range.start.max(start) - start;
            let to = range.end.min(end) - start;
            pieces.push(Piece {
                blob: s.blob,
                range: from..to,
                segment_size: s.size,
                nonce_prefix: s.nonce_prefix,
            });
        }
        start = end;
    }
    pieces
}

/// Streams the pieces of a multipart object in turn, through the same bounded reads
/// as a single blob (opening each segment's chunks when the object is sealed). The
/// lease lives as long as the stream.
fn segments_stream(
    inner: Arc<crate::engine::Inner>,
    store: Arc<dyn ferrite_store::BlobStore>,
    pieces: Vec<Piece>,
    first: Arc<dyn BlobReader>,
    lease: Lease,
    sealed: Option<(Key, Encryption)>,
) -> BodyStream {
    let mut first = Some(first);
    let lease = Arc::new(lease);
    let sealed = sealed.map(Arc::new);
    let streams = futures::stream::iter(pieces).then(move |piece| {
        let opened = first.take();
        let inner = inner.clone();
        let lease = lease.clone();
        let sealed = sealed.clone();
        let blobs = store.clone();
        async move {
            let reader = match opened {
                Some(reader) => reader,
                None => {
                    let blob = piece.blob;
                    let opened = tokio::task::spawn_blocking(move || blobs.open(blob_id(&blob)))
                        .await
                        .map_err(io::Error::other)?
                        .map_err(io::Error::other)?;
                    Arc::from(opened.ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            "a segment of the object was removed while reading",
                        )
                    })?)
                }
            };
            drop(lease);
            Ok::<_, io::Error>(match (&sealed, piece.nonce_prefix) {
                (None, _) => blob_stream(reader, piece.range),
                (Some(s), Some(prefix)) => {
                    let (key, encryption) = &**s;
                    let r = &piece.range;
                    let span = SealedSpan::new(piece.segment_size, r.start, r.end - r.start);
                    sealed_blob_stream(inner, reader, span, span.opener(encryption.body_cipher(key, prefix)))
                }
                (Some(_), None) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a segment of an encrypted object has no nonce prefix",
                    ));
                }
            })
        }
    });
    Box::pin(streams.try_flatten())
}

/// Opens a sealed inline body whole (at most a few chunks). Data that does not
/// authenticate is an error (counted), never returned.
fn open_inline(inner: &crate::engine::Inner, cipher: ChunkCipher, sealed: Vec<u8>, size: u64) -> ModelResult<Bytes> {
    let span = SealedSpan::new(size, 0, size);
    let mut buf = sealed;
    if buf.len() as u64 != span.len {
        inner.note_tampered();
        return Err(ModelError::Corrupt("sealed inline data has the wrong length".into()));
    }
    let mut opener = span.opener(cipher);
    match opener.open(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Ok(Bytes::from(buf))
        }
        Err(e) => {
            inner.note_tampered();
            Err(ModelError::Corrupt(format!("inline data of an encrypted object: {e}")))
        }
    }
}

/// Sealed chunks read per blob read: about [`READ_CHUNK`], in whole chunks.
const SEALED_READ: u64 = SEALED_READ_CHUNKS as u64 * SEALED_CHUNK as u64;
const SEALED_READ_CHUNKS: usize = (READ_CHUNK / ferrite_crypt::CHUNK as u64) as usize;

/// Streams and opens the sealed chunks of `span`, in reads of whole chunks. A chunk
/// that does not authenticate ends the stream with an error (counted): the client
/// sees a failed transfer, never wrong bytes.
fn sealed_blob_stream(
    inner: Arc<crate::engine::Inner>,
    reader: Arc<dyn BlobReader>,
    span: SealedSpan,
    opener: Opener,
) -> BodyStream {
    let start = (reader, span.offset, span.offset + span.len, opener, inner);
    let stream = futures::stream::try_unfold(start, |(reader, pos, end, opener, inner)| async move {
        if pos >= end {
            return Ok::<_, io::Error>(None);
        }
        let n = SEALED_READ.min(end - pos) as usize;
        let r = reader.clone();
        let counter = inner.clone();
        let (piece, opener) = tokio::task::spawn_blocking(move || -> io::Result<(Bytes, Opener)> {
            let mut opener = opener;
            // One vectored read puts the chunks' ciphertexts side by side and their
            // tags apart, so each chunk opens in place and the range's plaintext is
            // one stretch of the buffer: no copy besides the kernel's. One piece per
            // read (a piece per chunk costs far more in the write path).
            let mut plain = ReadBuf::take(scattered_len(n));
            let mut tags = [0u8; SEALED_READ_CHUNKS * TAG];
            let mut bufs = opener.scatter(n, plain.as_mut(), &mut tags).map_err(io::Error::other)?;
            read_exact_vectored_at(&*r, pos, &mut bufs)?;
            drop(bufs);
            let chunks = n.div_ceil(SEALED_CHUNK);
            match opener.open_scattered(plain.as_mut(), &tags[..chunks * TAG]) {
                Ok(range) => Ok((plain.freeze(range), opener)),
                Err(e) => {
                    counter.note_tampered();
                    Err(tampered(e))
                }
            }
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Some((piece, (reader, pos + n as u64, end, opener, inner))))
    });
    Box::pin(stream)
}

/// Fills `bufs` from `pos` on; a blob that ends first is an error.
fn read_exact_vectored_at(r: &dyn BlobReader, pos: u64, bufs: &mut [std::io::IoSliceMut<'_>]) -> io::Result<()> {
    let mut rest = bufs;
    let mut at = pos;
    while !rest.is_empty() {
        let k = r.read_vectored_at(at, rest).map_err(io::Error::other)?;
        if k == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "blob is shorter than its record",
            ));
        }
        at += k as u64;
        std::io::IoSliceMut::advance_slices(&mut rest, k);
    }
    Ok(())
}

fn read_exact_at(r: &dyn BlobReader, pos: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let k = r
            .read_at(pos + filled as u64, &mut buf[filled..])
            .map_err(io::Error::other)?;
        if k == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "blob is shorter than its record",
            ));
        }
        filled += k;
    }
    Ok(())
}

/// `stream`, keeping `lease` until it is dropped.
fn holding(stream: BodyStream, lease: Option<Lease>) -> BodyStream {
    match lease {
        None => stream,
        Some(lease) => Box::pin(stream.map(move |item| {
            let _held = &lease;
            item
        })),
    }
}

fn blob_stream(reader: Arc<dyn BlobReader>, range: Range<u64>) -> BodyStream {
    let stream = futures::stream::try_unfold((reader, range.start, range.end), |(reader, pos, end)| async move {
        if pos >= end {
            return Ok(None);
        }
        let n = READ_CHUNK.min(end - pos) as usize;
        let r = reader.clone();
        let chunk = tokio::task::spawn_blocking(move || -> io::Result<Bytes> {
            let mut buf = ReadBuf::take(n);
            read_exact_at(&*r, pos, buf.as_mut())?;
            Ok(buf.freeze(0..n))
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Some((chunk, (reader, pos + n as u64, end))))
    });
    Box::pin(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_as_http_says() {
        let r = |first, last| ByteRange::From { first, last };
        assert_eq!(r(0, Some(0)).resolve(10).unwrap(), 0..1);
        assert_eq!(r(2, Some(100)).resolve(10).unwrap(), 2..10);
        assert_eq!(r(9, None).resolve(10).unwrap(), 9..10);
        assert_eq!(ByteRange::Suffix { len: 3 }.resolve(10).unwrap(), 7..10);
        assert_eq!(ByteRange::Suffix { len: 30 }.resolve(10).unwrap(), 0..10);
        assert!(matches!(r(10, None).resolve(10), Err(ModelError::InvalidRange)));
        assert!(matches!(r(0, Some(0)).resolve(0), Err(ModelError::InvalidRange)));
        assert!(matches!(
            ByteRange::Suffix { len: 0 }.resolve(10),
            Err(ModelError::InvalidRange)
        ));
        assert!(matches!(
            ByteRange::Suffix { len: 1 }.resolve(0),
            Err(ModelError::InvalidRange)
        ));
    }
}

//! Multipart upload: parts are staged and made durable one by one, each in its own
//! blob holding one reference; Complete turns the parts into the new object's
//! segments in one metadata transaction, without copying a byte. Until then readers
//! see the previous object.

use std::ops::Bound;

use ferrite_store::{ReadTxn, WriteTxn};
use md5::{Digest as _, Md5};

use crate::access::{allow, bucket_for, bucket_for_key, not_found, upload_facts};
use crate::acl::written_by;
use crate::authz::Operation;
use crate::clock::{now_ms, time_ordered_id};
use crate::engine::blocking;
use crate::keys::{object_key, part_key, prefix_successor, split_upload_key, upload_key, version_prefix};
use crate::list::{Walk, walk};
use crate::lookup::get_bucket;
use crate::names::validate_user_metadata;
use crate::object::allow_writing_tags;
use crate::records::AclSpec;
use crate::records::{
    CompletedRecord, DataRef, LockInfo, ObjectAttrs, ObjectRecord, PartRecord, Segment, UploadRecord, decode, encode,
};
use crate::refs::{add_refs, drop_refs};
use crate::sse::SseInfo;
use crate::sse::{Encryption, NewEncryption};
use crate::staging::land_and_commit;
use crate::versions::{WriteConditions, add_version};
use crate::{
    Caller, ChecksumAlgorithm, ChecksumValue, Ferrite, ModelError, ModelResult, Staged, StorageClass, tables,
    validate_key,
};
use ferrite_hash::multipart_checksum;

/// Part numbers run from 1 to this.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Every part but the last must be at least this large.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest object a multipart upload may make, as on AWS.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Completed-upload results are kept this long for retried Completes.
const COMPLETED_KEPT_MS: i64 = 24 * 3600 * 1000;

/// What CreateMultipartUpload says about the object to be.
#[derive(Debug, Clone, Default)]
pub struct NewUpload {
    pub attrs: ObjectAttrs,
    pub storage_class: Option<StorageClass>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// `x-amz-checksum-type`: `Some(true)` FULL_OBJECT, `Some(false)` COMPOSITE,
    /// `None` the algorithm's default (full-object for CRC64NVME, else composite).
    pub checksum_full_object: Option<bool>,
    /// The completed object's ACL (`x-amz-acl` or `x-amz-grant-*`); `None`: private.
    pub acl: Option<AclSpec>,
    /// Server-side encryption of the parts and the object (`None`: the bucket's
    /// default, else stored as sent). With SSE-C every part must send the same key.
    pub encryption: Option<crate::sse::SseRequest>,
    /// The completed object's tags (`x-amz-tagging`), already checked with
    /// [`crate::tag_set`]. Writing tags also needs `s3:PutObjectTagging`.
    pub tags: crate::Tags,
    /// The completed object's Object Lock (`x-amz-object-lock-*`), checked now; no
    /// retention asked: the bucket's default at Complete.
    pub lock: crate::LockRequest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub storage_class: Option<StorageClass>,
    pub owner: String,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_full_object: bool,
    pub encryption: Option<SseInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
    pub checksum: Option<ChecksumValue>,
    pub last_modified_ms: i64,
    /// The upload's encryption (UploadPart answers it).
    pub encryption: Option<SseInfo>,
}

/// One entry of CompleteMultipartUpload's part list.
#[derive(Debug, Clone, Default)]
pub struct CompletePart {
    pub part_number: u32,
    /// Without quotes.
    pub etag: String,
    pub checksum: Option<ChecksumValue>,
}

#[derive(Debug, Clone, Default)]
pub struct CompleteRequest {
    pub parts: Vec<CompletePart>,
    /// A whole-object checksum the client claims (`x-amz-checksum-*` on Complete).
    pub expected_checksum: Option<ChecksumValue>,
    pub if_none_match: Option<String>,
    pub if_match: Option<String>,
    /// SSE-C's key, which Complete may send (it reads no data): if sent, it must be
    /// the upload's.
    pub sse_customer_key: Option<crate::sse::CustomerKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedUpload {
    pub etag: String,
    /// `x-amz-version-id` of the new object, if it has a real id.
    pub version_id: Option<String>,
    pub checksum: Option<ChecksumValue>,
    pub size: u64,
    pub encryption: Option<SseInfo>,
}

#[derive(Debug, Clone, Default)]
pub struct UploadQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

#[derive(Debug, Clone, Default)]
pub struct UploadPage {
    pub uploads: Vec<UploadInfo>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PartsPage {
    pub upload: UploadInfo,
    pub parts: Vec<PartInfo>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

fn upload_id_string(id: &[u8; 16]) -> String {
    hex::encode(id)
}

/// Upload ids are 32 hex digits; anything else names no upload.
fn parse_upload_id(s: &str) -> ModelResult<[u8; 16]> {
    let mut out = [0u8; 16];
    if s.len() != 32 || hex::decode_to_slice(s, &mut out).is_err() {
        return Err(ModelError::NoSuchUpload);
    }
    Ok(out)
}

pub(crate) fn check_part_number(n: u32) -> ModelResult<()> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(())
    } else {
        Err(ModelError::InvalidArgument(format!(
            "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
        )))
    }
}

fn get_upload(txn: &dyn ReadTxn, bucket_id: u64, key: &str, id: &[u8; 16]) -> ModelResult<UploadRecord> {
    match txn.get(tables::UPLOADS, &upload_key(bucket_id, key, id))? {
        Some(b) => decode(&b),
        None => Err(ModelError::NoSuchUpload),
    }
}

fn info(key: &str, id: &[u8; 16], u: &UploadRecord) -> UploadInfo {
    UploadInfo {
        upload_id: upload_id_string(id),
        key: key.to_string(),
        initiated_ms: u.initiated_ms,
        storage_class: u.storage_class,
        owner: u.owner.clone(),
        checksum_algorithm: u.checksum_algorithm,
        checksum_full_object: u.checksum_full_object,
        encryption: u.encryption.as_ref().map(Encryption::info),
    }
}

/// Checks the SSE-C key a part or a Complete sent against the upload's: another key
/// is a bad request (400 InvalidArgument, the key decides nothing about access here),
/// unlike a read with a wrong key (403).
fn check_upload_key(encryption: Option<&Encryption>, customer: Option<&crate::sse::CustomerKey>) -> ModelResult<()> {
    crate::sse::check_customer_key(encryption, customer).map_err(|e| match e {
        ModelError::WrongCustomerKey => ModelError::InvalidArgument(
            "The provided encryption parameters did not match the ones used originally.".into(),
        ),
        other => other,
    })
}

fn part_info(part_number: u32, p: &PartRecord, encryption: Option<SseInfo>) -> PartInfo {
    PartInfo {
        part_number,
        size: p.size,
        etag: p.etag.clone(),
        checksum: p.checksum.clone(),
        last_modified_ms: p.last_modified_ms,
        encryption,
    }
}

/// All parts of an upload, in part-number order.
fn all_parts(txn: &dyn ReadTxn, id: &[u8; 16]) -> ModelResult<Vec<(u32, PartRecord)>> {
    let start = part_key(id, 0);
    let end = prefix_successor(id).expect("ids are not all 0xff");
    let rows = txn.range(
        tables::PARTS,
        Bound::Included(&start),
        Bound::Excluded(&end),
        usize::MAX,
    )?;
    rows.into_iter()
        .map(|(k, v)| {
            let n = u32::from_be_bytes(
                k[16..]
                    .try_into()
                    .map_err(|_| ModelError::Corrupt("bad part key".into()))?,
            );
            Ok((n, decode(&v)?))
        })
        .collect()
}

/// Removes an upload and its parts, dropping the parts' references.
pub(crate) fn remove_upload(txn: &mut dyn WriteTxn, bucket_id: u64, key: &str, id: &[u8; 16]) -> ModelResult<()> {
    let tier = get_upload(&*txn, bucket_id, key, id)?.tier;
    for (n, part) in all_parts(txn, id)? {
        txn.delete(tables::PARTS, &part_key(id, n))?;
        drop_refs(txn, &DataRef::Blob(part.blob), &tier)?;
    }
    txn.delete(tables::UPLOADS, &upload_key(bucket_id, key, id))?;
    Ok(())
}

/// Aborts every upload in a bucket (a deleted bucket takes its uploads with it, as on
/// AWS).
pub(crate) fn remove_bucket_uploads(txn: &mut dyn WriteTxn, bucket_id: u64) -> ModelResult<()> {
    let start = object_key(bucket_id, "");
    let end = crate::keys::bucket_end(bucket_id);
    let rows = txn.range(
        tables::UPLOADS,
        Bound::Included(&start),
        Bound::Excluded(&end),
        usize::MAX,
    )?;
    for (k, _) in rows {
        let (key, id) = split_upload_key(&k).ok_or_else(|| ModelError::Corrupt("bad upload key".into()))?;
        remove_upload(txn, bucket_id, key, &id)?;
    }
    Ok(())
}

/// Forgets completed-upload results older than a day (ids start with their upload's
/// start time, so the oldest come first).
fn prune_completed(txn: &mut dyn WriteTxn) -> ModelResult<()> {
    let cutoff_us = ((now_ms() - COMPLETED_KEPT_MS).max(0) as u64) * 1000;
    let end = cutoff_us.to_be_bytes();
    let old = txn.range(tables::COMPLETED, Bound::Unbounded, Bound::Excluded(&end), 64)?;
    for (k, _) in old {
        txn.delete(tables::COMPLETED, &k)?;
    }
    Ok(())
}

impl Ferrite {
    pub async fn create_multipart_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        new: NewUpload,
    ) -> ModelResult<UploadInfo> {
        // Policies see the completed object's tags as the request's.
        let caller = caller.with_request_tags(&new.tags);
        validate_key(key)?;
        validate_user_metadata(&new.attrs.user_metadata)?;
        let full_object = match (new.checksum_algorithm, new.checksum_full_object) {
            (None, Some(_)) => {
                return Err(ModelError::InvalidRequest(
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.".into(),
                ));
            }
            (None, None) => false,
            (Some(a), None) => !a.supports_composite(),
            (Some(a), Some(true)) if !a.supports_full_object() => {
                return Err(ModelError::InvalidRequest(format!(
                    "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                    a.name()
                )));
            }
            (Some(a), Some(false)) if !a.supports_composite() => {
                return Err(ModelError::InvalidRequest(format!(
                    "The COMPOSITE checksum type cannot be used with the {} checksum algorithm.",
                    a.name()
                )));
            }
            (Some(_), Some(full)) => full,
        };
        let owner = caller.owner_id();
        let root_id = self.inner.opts.root_canonical_id.clone();
        // The parts go to the class's tier as configured now; the upload keeps it.
        let tier = self.inner.tiers.for_class(new.storage_class).to_string();
        // The data key is made once, outside the job: a re-run stores the same one.
        // What the request asks for, else the bucket's default encryption.
        let sealing = self
            .check_write_access(
                &caller,
                bucket,
                key,
                Operation::CreateMultipartUpload,
                new.encryption.as_ref(),
            )
            .await?;
        let (encryption, _pin) = match &sealing.wanted {
            None => (None, None),
            Some(request) => {
                let new = self
                    .new_encryption(request, sealing.bucket_id, key, sealing.kms_key)
                    .await?;
                (Some(new.record), new.pin)
            }
        };
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let b = bucket_for_key(txn, &bucket, &key, &caller, Operation::CreateMultipartUpload)?;
                // Checked now (the ACL is refused here, not at Complete); stored as
                // asked, and resolved again against the bucket at Complete.
                let (owner_then, acl_then) = written_by(&*txn, &root_id, &caller, &b, &owner, new.acl.as_ref())?;
                allow_writing_tags(&caller, &b, &key, &new.tags, (&owner_then, acl_then.as_deref()))?;
                let stored_as = (owner_then.as_str(), acl_then.as_deref());
                crate::lock::check_lock_request(&caller, &b, &key, &new.lock, stored_as, now_ms())?;
                let id = time_ordered_id();
                let rec = UploadRecord {
                    initiated_ms: now_ms(),
                    attrs: new.attrs.clone(),
                    storage_class: new.storage_class,
                    owner: owner.clone(),
                    checksum_algorithm: new.checksum_algorithm,
                    checksum_full_object: full_object,
                    acl: new.acl.clone(),
                    encryption: encryption.clone(),
                    tags: new.tags.clone(),
                    lock: crate::lock::requested(&new.lock),
                    tier: tier.clone(),
                };
                txn.put(tables::UPLOADS, &upload_key(b.id, &key, &id), &encode(&rec))?;
                Ok(info(&key, &id, &rec))
            })
            .await
    }

    /// The upload's settings (the adapter needs its checksum algorithm before staging).
    pub async fn upload_info(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ModelResult<UploadInfo> {
        Ok(self.upload_state(caller, bucket, key, upload_id).await?.0)
    }

    /// What a part of an upload encrypted as `encryption` is sealed with, given the
    /// SSE-C key the part request sent (the upload's own, for an SSE-C upload; another
    /// is 400 InvalidArgument).
    pub(crate) async fn part_sealing(
        &self,
        encryption: Option<&Encryption>,
        customer: Option<&crate::sse::CustomerKey>,
    ) -> ModelResult<Option<NewEncryption>> {
        // A part sent with another SSE-C key than its upload's is a bad request (the
        // key decides nothing about access here), unlike a read with a wrong key.
        check_upload_key(encryption, customer)?;
        let Some(e) = encryption.cloned() else {
            return Ok(None);
        };
        let (inner, customer) = (self.inner.clone(), customer.cloned());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            e.for_part(&inner, &*txn, customer.as_ref()).map(Some)
        })
        .await
    }

    /// The upload's settings and encryption.
    pub(crate) async fn upload_state(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ModelResult<(UploadInfo, Option<Encryption>, String)> {
        let caller = caller.clone();
        let id = parse_upload_id(upload_id)?;
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for_key(&*txn, &bucket, &key, &caller, Operation::UploadPart)?;
            let upload = get_upload(&*txn, b.id, &key, &id)?;
            Ok((info(&key, &id, &upload), upload.encryption.clone(), upload.tier))
        })
        .await
    }

    /// Makes a staged part durable and records it, replacing any earlier part with the
    /// same number: the lower half of [`Ferrite::upload_part`], for callers that stage
    /// a body themselves (tests, tools).
    pub async fn upload_part_staged(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        staged: Staged,
    ) -> ModelResult<PartInfo> {
        let caller = caller.clone();
        check_part_number(part_number)?;
        let id = parse_upload_id(upload_id)?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        land_and_commit(self.inner.clone(), staged, move |landing| {
            let DataRef::Blob(blob) = landing.data else {
                return Err(ModelError::Internal("a part was staged inline".into()));
            };
            let rec = PartRecord {
                blob,
                size: landing.digests.len,
                etag: landing.etag(),
                checksum: landing.digests.checksum.clone(),
                last_modified_ms: now_ms(),
                nonce_prefix: landing.encryption.as_ref().map(|e| e.nonce_prefix),
            };
            let binding = landing.encryption.map(|e| e.binding);
            let tier = landing.tier;
            Ok(move |txn: &mut dyn WriteTxn| {
                let b = bucket_for_key(txn, &bucket, &key, &caller, Operation::UploadPart)?;
                let upload = get_upload(txn, b.id, &key, &id)?;
                // Sealed as the upload says (or plain for a plain upload), in its tier.
                if upload.encryption.as_ref().map(|e| &e.binding) != binding.as_ref() {
                    return Err(ModelError::Internal(
                        "a part was sealed other than its upload says".into(),
                    ));
                }
                if upload.tier != tier {
                    return Err(ModelError::Internal(
                        "a part was staged outside its upload's tier".into(),
                    ));
                }
                let pkey = part_key(&id, part_number);
                let old: Option<PartRecord> = txn.get(tables::PARTS, &pkey)?.map(|v| decode(&v)).transpose()?;
                add_refs(txn, &DataRef::Blob(rec.blob))?;
                txn.put(tables::PARTS, &pkey, &encode(&rec))?;
                if let Some(o) = old {
                    drop_refs(txn, &DataRef::Blob(o.blob), &upload.tier)?;
                }
                Ok(part_info(
                    part_number,
                    &rec,
                    upload.encryption.as_ref().map(Encryption::info),
                ))
            })
        })
        .await
    }

    /// Completes an upload: the listed parts become the new object's segments, in one
    /// transaction. A retried Complete of a completed upload answers the same result.
    pub async fn complete_multipart_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        req: CompleteRequest,
    ) -> ModelResult<CompletedUpload> {
        let caller = caller.clone();
        let id = parse_upload_id(upload_id)?;
        if req.parts.is_empty() {
            return Err(ModelError::MalformedXml("You must specify at least one part".into()));
        }
        for pair in req.parts.windows(2) {
            if pair[1].part_number < pair[0].part_number {
                return Err(ModelError::InvalidPartOrder);
            }
        }
        // A part number listed twice (a part re-sent while the list was built) counts
        // once, as its last entry.
        let mut req = req;
        let mut parts: Vec<CompletePart> = Vec::with_capacity(req.parts.len());
        for p in std::mem::take(&mut req.parts) {
            match parts.last_mut() {
                Some(last) if last.part_number == p.part_number => *last = p,
                _ => parts.push(p),
            }
        }
        req.parts = parts;
        for p in &req.parts {
            check_part_number(p.part_number)?;
        }
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let root_id = self.inner.opts.root_canonical_id.clone();
        self.inner
            .committer
            .write(move |txn| {
                let b = bucket_for_key(txn, &bucket, &key, &caller, Operation::CompleteMultipartUpload)?;
                if let Some(done) = txn.get(tables::COMPLETED, &id)? {
                    let done: CompletedRecord = decode(&done)?;
                    if done.bucket_id == b.id && done.key == key {
                        return Ok(completed(&done));
                    }
                    return Err(ModelError::NoSuchUpload);
                }
                let upload = get_upload(&*txn, b.id, &key, &id)?;
                if req.sse_customer_key.is_some() {
                    check_upload_key(upload.encryption.as_ref(), req.sse_customer_key.as_ref())?;
                }
                let stored: std::collections::HashMap<u32, PartRecord> = all_parts(&*txn, &id)?.into_iter().collect();
                let mut record = assemble(&upload, &stored, &req)?;
                (record.owner, record.acl) =
                    written_by(&*txn, &root_id, &caller, &b, &upload.owner, upload.acl.as_ref())?;
                // As asked at CreateMultipartUpload (checked then), else the default
                // retention from now, the commit.
                record.lock = crate::lock::with_default(&*txn, &b, upload.lock, now_ms())?;
                let cond = WriteConditions {
                    if_none_match: req.if_none_match.as_deref(),
                    if_match: req.if_match.as_deref(),
                };
                let w = add_version(&mut *txn, &b, &key, record, cond)?;
                remove_upload(&mut *txn, b.id, &key, &id)?;
                let done = CompletedRecord {
                    bucket_id: b.id,
                    key: key.clone(),
                    etag: w.record.etag.clone(),
                    version_id: w.record.version_id.clone(),
                    checksum: w.record.checksum.clone(),
                    size: w.record.size,
                    encryption: w.record.encryption.as_ref().map(Encryption::info),
                };
                prune_completed(&mut *txn)?;
                txn.put(tables::COMPLETED, &id, &encode(&done))?;
                Ok(completed(&done))
            })
            .await
    }

    /// Aborts an upload and frees its parts.
    pub async fn abort_multipart_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ModelResult<()> {
        let caller = caller.clone();
        let id = parse_upload_id(upload_id)?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.inner
            .committer
            .write(move |txn| {
                let b = get_bucket(&*txn, &bucket)?;
                let upload = get_upload(&*txn, b.id, &key, &id).map_err(|e| not_found(&caller, &b, &key, e))?;
                allow(
                    &caller,
                    Operation::AbortMultipartUpload.action(false),
                    Some(&b),
                    Some(&key),
                    Some(upload_facts(&upload)),
                )?;
                remove_upload(&mut *txn, b.id, &key, &id)
            })
            .await
    }

    /// Parts after `marker`, at most `max`.
    pub async fn list_parts(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max: usize,
    ) -> ModelResult<PartsPage> {
        let caller = caller.clone();
        let id = parse_upload_id(upload_id)?;
        let inner = self.inner.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = get_bucket(&*txn, &bucket)?;
            let upload = get_upload(&*txn, b.id, &key, &id).map_err(|e| not_found(&caller, &b, &key, e))?;
            allow(
                &caller,
                Operation::ListParts.action(false),
                Some(&b),
                Some(&key),
                Some(upload_facts(&upload)),
            )?;
            let start = part_key(&id, marker);
            let end = prefix_successor(&id).expect("ids are not all 0xff");
            let rows = txn.range(
                tables::PARTS,
                Bound::Excluded(&start),
                Bound::Excluded(&end),
                max.saturating_add(1),
            )?;
            let mut parts = Vec::new();
            let mut is_truncated = false;
            for (k, v) in rows {
                if parts.len() == max {
                    is_truncated = true;
                    break;
                }
                let n = u32::from_be_bytes(
                    k[16..]
                        .try_into()
                        .map_err(|_| ModelError::Corrupt("bad part key".into()))?,
                );
                parts.push(part_info(
                    n,
                    &decode(&v)?,
                    upload.encryption.as_ref().map(Encryption::info),
                ));
            }
            let next_part_number_marker = parts.last().map(|p| p.part_number);
            Ok(PartsPage {
                upload: info(&key, &id, &upload),
                parts,
                is_truncated,
                next_part_number_marker,
            })
        })
        .await
    }

    /// Uploads in progress, in key order and oldest first within a key.
    pub async fn list_multipart_uploads(
        &self,
        caller: &Caller,
        bucket: &str,
        q: UploadQuery,
    ) -> ModelResult<UploadPage> {
        let caller = caller.clone();
        let inner = self.inner.clone();
        let bucket = bucket.to_string();
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for(&*txn, &bucket, &caller, Operation::ListMultipartUploads)?;
            let mut page = UploadPage::default();
            let key_marker = q.key_marker.as_deref().filter(|k| !k.is_empty());
            let id_marker = q.upload_id_marker.as_deref().filter(|k| !k.is_empty());
            let start = match key_marker {
                Some(k) if k >= q.prefix.as_str() => match id_marker.map(parse_upload_id) {
                    Some(Ok(id)) => Bound::Excluded(upload_key(b.id, k, &id)),
                    // No (or an unknown) upload-id marker: after all uploads of the key.
                    _ => Bound::Included(prefix_successor(&version_prefix(b.id, k)).expect("has successor")),
                },
                _ => Bound::Included(object_key(b.id, &q.prefix)),
            };
            let w = Walk {
                table: tables::UPLOADS,
                bucket_id: b.id,
                prefix: &q.prefix,
                delimiter: q.delimiter.as_deref().filter(|d| !d.is_empty()),
                marker: key_marker,
                max: q.max_uploads,
                user_key: |stored| split_upload_key(stored).map(|(k, _)| k),
            };
            page.is_truncated = walk(
                &*txn,
                &w,
                start,
                &mut page.uploads,
                &mut page.common_prefixes,
                &mut |key, stored, value| {
                    let (_, id) =
                        split_upload_key(stored).ok_or_else(|| ModelError::Corrupt("bad upload key".into()))?;
                    Ok(Some(info(key, &id, &decode(value)?)))
                },
            )?;
            if page.is_truncated {
                let last = page.uploads.last();
                match (last, page.common_prefixes.last()) {
                    (Some(u), p) if p.is_none_or(|p| p.as_str() < u.key.as_str()) => {
                        page.next_key_marker = Some(u.key.clone());
                        page.next_upload_id_marker = Some(u.upload_id.clone());
                    }
                    (_, p) => page.next_key_marker = p.cloned(),
                }
            }
            Ok(page)
        })
        .await
    }
}

/// Builds the new object's record from the listed parts, checking each as AWS does.
fn assemble(
    upload: &UploadRecord,
    stored: &std::collections::HashMap<u32, PartRecord>,
    req: &CompleteRequest,
) -> ModelResult<ObjectRecord> {
    let last = req.parts.len() - 1;
    let mut segments = Vec::with_capacity(req.parts.len());
    let mut md5s = Md5::new();
    let mut size = 0u64;
    for (i, p) in req.parts.iter().enumerate() {
        let Some(part) = stored.get(&p.part_number) else {
            return Err(ModelError::InvalidPart(p.part_number));
        };
        if part.etag != p.etag {
            return Err(ModelError::InvalidPart(p.part_number));
        }
        if let Some(claimed) = &p.checksum
            && part.checksum.as_ref() != Some(claimed)
        {
            return Err(ModelError::InvalidPart(p.part_number));
        }
        if i < last && part.size < MIN_PART_SIZE {
            return Err(ModelError::EntityTooSmall);
        }
        size += part.size;
        md5s.update(hex::decode(&part.etag).map_err(|_| ModelError::Corrupt("part etag is not hex".into()))?);
        segments.push(Segment {
            part_number: p.part_number,
            blob: part.blob,
            size: part.size,
            etag: part.etag.clone(),
            checksum: part.checksum.clone(),
            nonce_prefix: part.nonce_prefix,
        });
    }
    if size > MAX_OBJECT_SIZE {
        return Err(ModelError::EntityTooLarge);
    }
    let checksum = match upload.checksum_algorithm {
        None => None,
        Some(algo) => {
            let mut sums = Vec::with_capacity(segments.len());
            for s in &segments {
                match &s.checksum {
                    Some(c) if c.algorithm == algo => sums.push((c, s.size)),
                    _ => {
                        return Err(ModelError::InvalidRequest(format!(
                            "a part was uploaded without its {} checksum",
                            algo.name()
                        )));
                    }
                }
            }
            Some(multipart_checksum(algo, upload.checksum_full_object, &sums)?)
        }
    };
    if let Some(want) = &req.expected_checksum {
        match &checksum {
            Some(got) if got.algorithm == want.algorithm && got.base64 == want.base64 => {}
            Some(got) if got.algorithm == want.algorithm && got.is_composite() => {
                // A composite value may be given with or without its -N suffix.
                if got.base64.split('-').next() != Some(want.base64.as_str()) {
                    return Err(ModelError::BadDigest("checksum"));
                }
            }
            _ => return Err(ModelError::BadDigest("checksum")),
        }
    }
    Ok(ObjectRecord {
        version_id: None,
        delete_marker: false,
        size,
        etag: format!("{}-{}", hex::encode(md5s.finalize()), segments.len()),
        last_modified_ms: now_ms(),
        attrs: upload.attrs.clone(),
        checksum,
        data: DataRef::Segments(segments),
        // The initiator owns the object it completes.
        owner: upload.owner.clone(),
        storage_class: upload.storage_class,
        // Asked for (and authorized) when the upload was created.
        tags: upload.tags.clone(),
        acl: None,
        encryption: upload.encryption.clone(),
        lock: LockInfo::default(),
        restore: None,
        tier: upload.tier.clone(),
    })
}

fn completed(done: &CompletedRecord) -> CompletedUpload {
    CompletedUpload {
        etag: done.etag.clone(),
        version_id: done.version_id.clone(),
        checksum: done.checksum.clone(),
        size: done.size,
        encryption: done.encryption.clone(),
    }
}

//! Multipart upload: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.

use ferrite_model::{
    ByteRange, ChecksumAlgorithm as Algo, ChecksumValue, CompletePart, CompleteRequest, IncomingBody, ModelError,
    NewUpload, PartCopy, UploadInfo, UploadQuery,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::convert::{
    ChecksumOut, attrs_of, checksum_type, checksum_type_of, condition_etag, etag, header_checksum, invalid_argument,
    read_conditions, ts,
};
use crate::integrity::{algorithm, checksum_fields, claims, trailer_value};
use crate::list::url_encoded;
use crate::object::sse_out;
use crate::object::{body_stream, storage_class};
use crate::sse_c::{copy_source_sse_c_headers, sse_c_headers};
use crate::{FerriteS3, to_s3};

const MAX_PARTS_PAGE: usize = 1000;
const MAX_UPLOADS_PAGE: usize = 1000;

/// A part number as the model takes it; one below 1 becomes 0, which the model
/// refuses with S3's message (the range rule lives there).
fn part_number(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn page_size(v: Option<i32>, max: usize, what: &str) -> S3Result<usize> {
    match v {
        None => Ok(max),
        Some(n) if n < 0 => Err(invalid_argument(format!("{what} must not be negative"))),
        Some(n) => Ok((n as usize).min(max)),
    }
}

/// `x-amz-copy-source-range: bytes=first-last`, both required, as AWS documents.
fn copy_source_range(v: Option<&str>) -> S3Result<Option<ByteRange>> {
    let Some(v) = v else { return Ok(None) };
    let bad = || invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last");
    let (first, last) = v
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let first: u64 = first.parse().map_err(|_| bad())?;
    let last: u64 = last.parse().map_err(|_| bad())?;
    if last < first {
        return Err(bad());
    }
    Ok(Some(ByteRange::From {
        first,
        last: Some(last),
    }))
}

fn upload_algorithm(u: &UploadInfo) -> Option<ChecksumAlgorithm> {
    u.checksum_algorithm
        .map(|a| ChecksumAlgorithm::from(a.name().to_string()))
}

fn upload_checksum_type(u: &UploadInfo) -> Option<ChecksumType> {
    u.checksum_algorithm.map(|_| checksum_type_of(!u.checksum_full_object))
}

/// SSE-C's echo of a multipart answer (`sse_c::echo`).
fn sse_c_echo(info: Option<&ferrite_model::SseInfo>, h: crate::sse_c::Headers<'_>) -> (Option<String>, Option<String>) {
    crate::sse_c::echo(info.map(|e| e.algorithm), h)
}

impl FerriteS3 {
    /// An upload's owner and initiator: the principal that created it.
    fn owner_initiator(&self, id: &str) -> (Owner, Initiator) {
        let owner = self.owner_of(id);
        let initiator = Initiator {
            id: owner.id.clone(),
            display_name: owner.display_name.clone(),
        };
        (owner, initiator)
    }

    pub(crate) async fn do_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let sse_c = sse_c_headers!(input);
        // The headers are taken before the upload starts; one it refuses is answered
        // as refused only to a caller who may write here (`refuse_write`).
        let parsed = (|| {
            let checksum_algorithm = input
                .checksum_algorithm
                .as_ref()
                .map(|a| algorithm(a.as_str()))
                .transpose()?;
            let checksum_full_object = match input.checksum_type.as_ref().map(|t| t.as_str()) {
                None => None,
                Some(ChecksumType::FULL_OBJECT) => Some(true),
                Some(ChecksumType::COMPOSITE) => Some(false),
                Some(other) => return Err(invalid_argument(format!("unknown x-amz-checksum-type {other:?}"))),
            };
            let attrs = attrs_of!(input);
            let customer = crate::sse_c::customer_key(sse_c)?;
            let new = NewUpload {
                acl: crate::acl::acl_spec(crate::acl::object_acl_headers!(input, &req.headers))?,
                attrs,
                storage_class: storage_class(input.storage_class)?,
                checksum_algorithm,
                checksum_full_object,
                encryption: crate::object::sse_request(crate::object::sse_headers!(input, customer))?,
                tags: crate::tagging::header_tags(input.tagging.as_deref())?,
                lock: crate::lock::lock_request(
                    input.object_lock_mode.as_ref().map(|m| m.as_str()),
                    input.object_lock_retain_until_date,
                    input.object_lock_legal_hold_status.as_ref().map(|h| h.as_str()),
                )?,
            };
            Ok::<_, S3Error>(new)
        })();
        let new = match parsed {
            Ok(new) => new,
            Err(e) => return Err(self.refuse_write(&caller, &input.bucket, &input.key, e).await),
        };
        let up = self
            .model
            .create_multipart_upload(&caller, &input.bucket, &input.key, new)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(up.upload_id.clone()),
            checksum_algorithm: upload_algorithm(&up),
            checksum_type: upload_checksum_type(&up),
            server_side_encryption: sse_out(up.encryption.as_ref()).sse,
            ssekms_key_id: sse_out(up.encryption.as_ref()).kms_key_id,
            bucket_key_enabled: sse_out(up.encryption.as_ref()).bucket_key,
            ssekms_encryption_context: sse_out(up.encryption.as_ref()).context,
            sse_customer_algorithm: sse_c_echo(up.encryption.as_ref(), sse_c).0,
            sse_customer_key_md5: sse_c_echo(up.encryption.as_ref(), sse_c).1,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let caller = self.caller(&req);
        if let Some(marker) = req.extensions.get::<crate::BodyStreamed>() {
            marker.mark();
        }
        let input = req.input;
        let number = part_number(input.part_number);
        let sse_c = sse_c_headers!(input);
        // A refused header is answered as refused only to a caller who may write
        // here (`refuse_write`; UploadPart is s3:PutObject on the key).
        let parsed = (|| {
            let claims = claims(
                &req.headers,
                checksum_fields!(input),
                input.checksum_algorithm.as_ref(),
                input.content_md5.as_ref(),
                input.content_length,
            )?;
            Ok::<_, S3Error>((claims, crate::sse_c::customer_key(sse_c)?))
        })();
        let (claims, customer) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return Err(self.refuse_write(&caller, &input.bucket, &input.key, e).await),
        };
        let body = IncomingBody {
            stream: body_stream(input.body),
            claims,
            trailer_value: trailer_value(req.trailing_headers),
        };
        let part = self
            .model
            .upload_part_keyed(
                &caller,
                &input.bucket,
                &input.key,
                &input.upload_id,
                number,
                body,
                customer.as_ref(),
            )
            .await
            .map_err(to_s3)?;
        let cs = ChecksumOut::from_value(part.checksum.as_ref());
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&part.etag)),
            checksum_crc32: cs.crc32,
            checksum_crc32c: cs.crc32c,
            checksum_crc64nvme: cs.crc64nvme,
            checksum_sha1: cs.sha1,
            checksum_sha256: cs.sha256,
            server_side_encryption: sse_out(part.encryption.as_ref()).sse,
            ssekms_key_id: sse_out(part.encryption.as_ref()).kms_key_id,
            bucket_key_enabled: sse_out(part.encryption.as_ref()).bucket_key,
            sse_customer_algorithm: sse_c_echo(part.encryption.as_ref(), sse_c).0,
            sse_customer_key_md5: sse_c_echo(part.encryption.as_ref(), sse_c).1,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let (src_bucket, src_key, src_version) = match input.copy_source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => (bucket.to_string(), key.to_string(), version_id.map(String::from)),
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "access point copy sources are not supported",
                ));
            }
        };
        let mut conditions = read_conditions(
            input.copy_source_if_match,
            input.copy_source_if_none_match,
            input.copy_source_if_modified_since,
            input.copy_source_if_unmodified_since,
        );
        conditions.sse_customer_key = crate::sse_c::customer_key(copy_source_sse_c_headers!(input))?;
        let sse_c = sse_c_headers!(input);
        let copy = PartCopy {
            part_number: part_number(input.part_number),
            range: copy_source_range(input.copy_source_range.as_deref())?,
            conditions,
            sse_customer_key: crate::sse_c::customer_key(sse_c)?,
            bucket: input.bucket,
            key: input.key,
            upload_id: input.upload_id,
            src_bucket,
            src_key,
            src_version,
        };
        let done = self.model.upload_part_copy(&caller, copy).await.map_err(to_s3)?;
        let cs = ChecksumOut::from_value(done.part.checksum.as_ref());
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag(&done.part.etag)),
                last_modified: Some(ts(done.part.last_modified_ms)),
                checksum_crc32: cs.crc32,
                checksum_crc32c: cs.crc32c,
                checksum_crc64nvme: cs.crc64nvme,
                checksum_sha1: cs.sha1,
                checksum_sha256: cs.sha256,
            }),
            copy_source_version_id: done.source_version_id,
            server_side_encryption: sse_out(done.part.encryption.as_ref()).sse,
            ssekms_key_id: sse_out(done.part.encryption.as_ref()).kms_key_id,
            bucket_key_enabled: sse_out(done.part.encryption.as_ref()).bucket_key,
            sse_customer_algorithm: sse_c_echo(done.part.encryption.as_ref(), sse_c).0,
            sse_customer_key_md5: sse_c_echo(done.part.encryption.as_ref(), sse_c).1,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let malformed = || {
            S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            )
        };
        let listed = input.multipart_upload.and_then(|m| m.parts).ok_or_else(malformed)?;
        let mut parts = Vec::with_capacity(listed.len());
        for p in listed {
            let number = p.part_number.ok_or_else(malformed)?;
            let etag = p.e_tag.ok_or_else(malformed)?;
            let checksum = header_checksum(checksum_fields!(p))
                // A part checksum that cannot be a digest names no stored part.
                .map_err(|_| to_s3(ModelError::InvalidPart(number.max(0) as u32)))?;
            parts.push(CompletePart {
                part_number: part_number(number),
                etag: etag.value().trim_matches('"').to_string(),
                checksum,
            });
        }
        let expected_checksum = whole_checksum(checksum_fields!(input))?;
        let complete = CompleteRequest {
            parts,
            expected_checksum,
            if_none_match: input.if_none_match.map(condition_etag),
            if_match: input.if_match.map(condition_etag),
            sse_customer_key: crate::sse_c::customer_key(sse_c_headers!(input))?,
        };
        let done = self
            .model
            .complete_multipart_upload(&caller, &input.bucket, &input.key, &input.upload_id, complete)
            .await
            .map_err(to_s3)?;
        let cs = ChecksumOut::from_value(done.checksum.as_ref());
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(etag(&done.etag)),
            version_id: done.version_id,
            checksum_crc32: cs.crc32,
            checksum_crc32c: cs.crc32c,
            checksum_crc64nvme: cs.crc64nvme,
            checksum_sha1: cs.sha1,
            checksum_sha256: cs.sha256,
            checksum_type: checksum_type(done.checksum.as_ref()),
            server_side_encryption: sse_out(done.encryption.as_ref()).sse,
            ssekms_key_id: sse_out(done.encryption.as_ref()).kms_key_id,
            bucket_key_enabled: sse_out(done.encryption.as_ref()).bucket_key,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        self.model
            .abort_multipart_upload(&caller, &input.bucket, &input.key, &input.upload_id)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn do_list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let max = page_size(input.max_parts, MAX_PARTS_PAGE, "max-parts")?;
        let marker = match input.part_number_marker {
            None => 0,
            Some(n) if n < 0 => return Err(invalid_argument("part-number-marker must not be negative")),
            Some(n) => n as u32,
        };
        let page = self
            .model
            .list_parts(&caller, &input.bucket, &input.key, &input.upload_id, marker, max)
            .await
            .map_err(to_s3)?;
        let parts = page
            .parts
            .iter()
            .map(|p| {
                let cs = ChecksumOut::from_value(p.checksum.as_ref());
                Part {
                    part_number: Some(p.part_number as i32),
                    e_tag: Some(etag(&p.etag)),
                    size: Some(p.size as i64),
                    last_modified: Some(ts(p.last_modified_ms)),
                    checksum_crc32: cs.crc32,
                    checksum_crc32c: cs.crc32c,
                    checksum_crc64nvme: cs.crc64nvme,
                    checksum_sha1: cs.sha1,
                    checksum_sha256: cs.sha256,
                }
            })
            .collect();
        let (owner, initiator) = self.owner_initiator(&page.upload.owner);
        let up = &page.upload;
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            part_number_marker: Some(marker as i32),
            next_part_number_marker: page.next_part_number_marker.map(|n| n as i32),
            max_parts: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            parts: Some(parts),
            owner: Some(owner),
            initiator: Some(initiator),
            storage_class: Some(StorageClass::from(crate::convert::class_name(up.storage_class))),
            checksum_algorithm: upload_algorithm(up),
            checksum_type: upload_checksum_type(up),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let caller = self.caller(&req);
        let mut input = req.input;
        input.delimiter = input.delimiter.filter(|d| !d.is_empty());
        let encode = match input.encoding_type.as_ref() {
            None => false,
            Some(e) if e.as_str() == EncodingType::URL => true,
            Some(_) => return Err(invalid_argument("Invalid Encoding Method specified in Request")),
        };
        let enc = |s: &str| url_encoded(s, encode);
        let max = page_size(input.max_uploads, MAX_UPLOADS_PAGE, "max-uploads")?;
        let q = UploadQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            key_marker: input.key_marker.clone(),
            upload_id_marker: input.upload_id_marker.clone(),
            max_uploads: max,
        };
        let page = self
            .model
            .list_multipart_uploads(&caller, &input.bucket, q)
            .await
            .map_err(to_s3)?;
        let uploads = page
            .uploads
            .iter()
            .map(|u| {
                let (owner, initiator) = self.owner_initiator(&u.owner);
                MultipartUpload {
                    key: Some(enc(&u.key)),
                    upload_id: Some(u.upload_id.clone()),
                    initiated: Some(ts(u.initiated_ms)),
                    owner: Some(owner),
                    initiator: Some(initiator),
                    storage_class: Some(StorageClass::from(crate::convert::class_name(u.storage_class))),
                    checksum_algorithm: upload_algorithm(u),
                    checksum_type: upload_checksum_type(u),
                }
            })
            .collect();
        let prefixes = page
            .common_prefixes
            .iter()
            .map(|p| CommonPrefix { prefix: Some(enc(p)) })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            next_key_marker: page.next_key_marker.as_deref().map(enc),
            next_upload_id_marker: page.next_upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            uploads: Some(uploads),
            common_prefixes: Some(prefixes),
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }
}

/// A whole-object checksum on Complete may be composite (`<base64>-N`): keep its
/// digest part for comparison.
fn whole_checksum(values: [(Algo, Option<&String>); 5]) -> S3Result<Option<ChecksumValue>> {
    let trimmed = values.map(|(a, v)| (a, v.map(|s| s.split('-').next().unwrap_or("").to_string())));
    header_checksum(trimmed.each_ref().map(|(a, v)| (*a, v.as_ref())))
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any x-amz-copy-source-range: no panic; an accepted one is first <= last.
        #[test]
        fn copy_source_ranges(v in prop_oneof!["bytes=[0-9]{0,22}-[0-9]{0,22}", "[ -~]{0,40}"]) {
            if let Ok(Some(ByteRange::From { first, last: Some(last) })) = copy_source_range(Some(&v)) {
                prop_assert!(first <= last);
            }
        }
    }
}

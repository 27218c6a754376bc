//! Object operations: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject.

use std::io;

use bytes::Bytes;
use ferrite_model::{
    CopyRequest, CustomerKey, DeleteRequest, EncryptionAlgorithm, IncomingBody, KmsRequest, ObjectInfo, PutAttrs,
    ReadConditions, Slice, SseInfo, SseRequest,
};

use crate::sse_c::{self, copy_source_sse_c_headers, sse_c_headers};
use futures::{Stream, StreamExt};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::convert::{
    ChecksumOut, attrs_of, byte_range, checksum_type, condition_etag, etag, invalid_argument, metadata_out,
    read_conditions, ts,
};
use crate::integrity::{checksum_fields, claims, trailer_value};
use crate::{FerriteS3, to_s3};

const DELETE_OBJECTS_MAX: usize = 1000;

/// The model's storage class for an `x-amz-storage-class` value. The classes an
/// object can be written in are AWS's regional ones; any other name (OUTPOSTS, SNOW
/// and EXPRESS_ONEZONE need hardware or bucket kinds this server has not) is
/// InvalidStorageClass.
pub(crate) fn storage_class(sc: Option<StorageClass>) -> S3Result<Option<ferrite_model::StorageClass>> {
    match sc {
        None => Ok(None),
        Some(s) => ferrite_model::StorageClass::parse(s.as_str())
            .filter(|c| c.is_regional())
            .map(Some)
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidStorageClass,
                    format!("The storage class you specified is not valid: {}", s.as_str()),
                )
            }),
    }
}

/// The encryption headers of a write (PutObject, CopyObject's destination,
/// CreateMultipartUpload, a POST form).
#[derive(Default)]
pub(crate) struct SseHeaders<'a> {
    /// `x-amz-server-side-encryption`.
    pub sse: Option<&'a str>,
    /// `x-amz-server-side-encryption-aws-kms-key-id`.
    pub kms_key_id: Option<&'a str>,
    /// `x-amz-server-side-encryption-context` (base64).
    pub context: Option<&'a str>,
    /// `x-amz-server-side-encryption-bucket-key-enabled`.
    pub bucket_key: Option<bool>,
    /// SSE-C's customer key, already checked against its MD5.
    pub customer: Option<CustomerKey>,
}

/// The `SseHeaders` of an s3s input that has the SSE-KMS fields.
macro_rules! sse_headers {
    ($input:expr, $customer:expr) => {
        $crate::object::SseHeaders {
            sse: $input.server_side_encryption.as_ref().map(|v| v.as_str()),
            kms_key_id: $input.ssekms_key_id.as_deref(),
            context: $input.ssekms_encryption_context.as_deref(),
            bucket_key: $input.bucket_key_enabled,
            customer: $customer,
        }
    };
}
pub(crate) use sse_headers;

/// The encryption a write asks for: an `x-amz-server-side-encryption` value (with the
/// SSE-KMS headers for `aws:kms`), or SSE-C's customer key (the two together are
/// refused before: see `unsupported::refuse_conflicting_encryption`). `AES256` is
/// SSE-S3, `aws:kms` SSE-KMS; dual-layer SSE-KMS is not built (NotImplemented);
/// anything else is what AWS calls an unsupported encryption method
/// (InvalidArgument). SSE-KMS headers without `aws:kms` are refused as AWS refuses
/// them; a lone `bucket-key-enabled` says whether an SSE-KMS bucket default uses a
/// bucket key for this write.
pub(crate) fn sse_request(h: SseHeaders<'_>) -> S3Result<Option<SseRequest>> {
    let kms_only = || {
        invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        )
    };
    match h.sse {
        None if h.kms_key_id.is_some() || h.context.is_some() => Err(kms_only()),
        None => Ok(match (h.customer, h.bucket_key) {
            (Some(k), _) => Some(SseRequest::Customer(k)),
            (None, Some(bucket_key)) => Some(SseRequest::Default { bucket_key }),
            (None, None) => None,
        }),
        Some(_) if h.customer.is_some() => Err(invalid_argument(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        )),
        Some(ServerSideEncryption::AES256) if h.kms_key_id.is_some() || h.context.is_some() => Err(kms_only()),
        Some(ServerSideEncryption::AES256) => Ok(Some(SseRequest::S3)),
        Some(ServerSideEncryption::AWS_KMS) => Ok(Some(SseRequest::Kms(KmsRequest {
            key: match h.kms_key_id.map(str::trim) {
                Some("") => return Err(invalid_argument("The KMS key id must not be empty.")),
                other => other.map(str::to_string),
            },
            context: h.context.map(decode_context).transpose()?,
            bucket_key: h.bucket_key,
        }))),
        Some(v @ ServerSideEncryption::AWS_KMS_DSSE) => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            format!(
                "Dual-layer server-side encryption with KMS keys (x-amz-server-side-encryption: {v}) is not implemented; the request was not carried out."
            ),
        )),
        Some(_) => Err(invalid_argument("The encryption method specified is not supported")),
    }
}

/// `x-amz-server-side-encryption-context` decoded: base64 of a JSON object of strings.
fn decode_context(value: &str) -> S3Result<String> {
    use base64::Engine as _;
    let bad = || invalid_argument("The x-amz-server-side-encryption-context value is not base64-encoded JSON.");
    if value.len() > 2 * ferrite_model::MAX_CONTEXT {
        return Err(invalid_argument("The encryption context is too long."));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| bad())?;
    let json = String::from_utf8(bytes).map_err(|_| bad())?;
    ferrite_model::check_context(&json).map_err(invalid_argument)?;
    Ok(json)
}

/// What responses say of an object's encryption (`x-amz-server-side-encryption` and
/// the SSE-KMS headers; SSE-C answers its own, see `sse_c::echo`).
#[derive(Default)]
pub(crate) struct SseOut {
    pub sse: Option<ServerSideEncryption>,
    pub kms_key_id: Option<String>,
    pub bucket_key: Option<bool>,
    /// The encryption context, base64 (PutObject, CopyObject and
    /// CreateMultipartUpload answer it, as AWS does).
    pub context: Option<String>,
}

pub(crate) fn sse_out(info: Option<&SseInfo>) -> SseOut {
    use base64::Engine as _;
    let Some(info) = info else {
        return SseOut::default();
    };
    SseOut {
        sse: sse_header(Some(info.algorithm)),
        kms_key_id: info.kms_key_arn.clone(),
        bucket_key: info.bucket_key.then_some(true),
        context: info
            .context
            .as_ref()
            .map(|c| base64::engine::general_purpose::STANDARD.encode(c)),
    }
}

/// What `x-amz-server-side-encryption` answers for an object encrypted so.
pub(crate) fn sse_header(algorithm: Option<EncryptionAlgorithm>) -> Option<ServerSideEncryption> {
    let name = match algorithm? {
        EncryptionAlgorithm::SseS3 => ServerSideEncryption::AES256,
        EncryptionAlgorithm::SseKms => ServerSideEncryption::AWS_KMS,
        EncryptionAlgorithm::SseKmsDsse => ServerSideEncryption::AWS_KMS_DSSE,
        // SSE-C answers its own headers (customer algorithm and key MD5), not this one.
        EncryptionAlgorithm::SseC => return None,
    };
    Some(ServerSideEncryption::from_static(name))
}

/// A conditional-write header the s3s DTO lacks (CopyObject's `If-Match` and
/// `If-None-Match`), read from the request itself.
fn raw_condition(headers: &http::HeaderMap, name: &str) -> S3Result<Option<String>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_string()))
            .map_err(|_| invalid_argument(format!("invalid {name} header"))),
    }
}

/// An `If-Match` / `If-None-Match` value as the model compares it: the bare ETag, or `*`.
fn if_match_value(value: &str) -> String {
    value.trim().trim_matches('"').to_string()
}

pub(crate) fn body_stream(body: Option<StreamingBlob>) -> impl Stream<Item = io::Result<Bytes>> + Send + Unpin {
    match body {
        Some(b) => b.map(|r| r.map_err(io::Error::other)).left_stream(),
        None => futures::stream::empty().right_stream(),
    }
}

struct Overrides {
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    expires: Option<Timestamp>,
}

/// What GET and HEAD answer alike, with the `response-*` overrides applied.
struct Common {
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    expires: Option<Timestamp>,
    metadata: Option<Metadata>,
    checksum: ChecksumOut,
    checksum_type: Option<ChecksumType>,
    storage_class: Option<StorageClass>,
}

fn common(info: &ObjectInfo, o: Overrides, with_checksum: bool) -> Common {
    let a = &info.attrs;
    let checksum = if with_checksum { info.checksum.as_ref() } else { None };
    Common {
        content_type: o.content_type.or_else(|| a.content_type.clone()),
        cache_control: o.cache_control.or_else(|| a.cache_control.clone()),
        content_disposition: o.content_disposition.or_else(|| a.content_disposition.clone()),
        content_encoding: o.content_encoding.or_else(|| a.content_encoding.clone()),
        content_language: o.content_language.or_else(|| a.content_language.clone()),
        expires: o.expires.or_else(|| a.expires_ms.map(ts)),
        metadata: metadata_out(a),
        checksum: ChecksumOut::from_value(checksum),
        checksum_type: checksum_type(checksum),
        storage_class: info
            .storage_class
            .filter(|s| *s != ferrite_model::StorageClass::Standard)
            .map(|s| StorageClass::from(s.as_str().to_string())),
    }
}

/// `Range` or `partNumber` (not both, as AWS requires).
fn slice(range: Option<Range>, part_number: Option<i32>) -> S3Result<Option<Slice>> {
    match (range, part_number) {
        (Some(_), Some(_)) => Err(invalid_argument(
            "Cannot specify both Range header and partNumber query parameter",
        )),
        (Some(r), None) => Ok(Some(Slice::Range(byte_range(r)))),
        (None, Some(n)) if n < 1 => Err(invalid_argument("Part number must be an integer between 1 and 10000")),
        (None, Some(n)) => Ok(Some(Slice::Part(n as u32))),
        (None, None) => Ok(None),
    }
}

/// The `Content-Range` of a partial answer; GET and HEAD share it. An empty range
/// (a zero-byte part) has none: `bytes first-last` cannot name zero bytes.
fn content_range(range: &std::ops::Range<u64>, total: u64) -> Option<String> {
    (range.end > range.start).then(|| format!("bytes {}-{}/{total}", range.start, range.end - 1))
}

/// `x-amz-mp-parts-count` answers a `partNumber` read of a multipart object.
fn parts_count(info: &ObjectInfo, slice: Option<Slice>) -> Option<i32> {
    match slice {
        Some(Slice::Part(_)) => info.parts_count.map(|n| n as i32),
        _ => None,
    }
}

/// `x-amz-tagging-count`: sent only when the version has tags, as AWS.
fn tag_count(info: &ObjectInfo) -> Option<i32> {
    (!info.tags.is_empty()).then_some(info.tags.len() as i32)
}

fn checksum_mode_enabled(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED))
}

impl FerriteS3 {
    pub(crate) async fn do_put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let caller = self.caller(&req);
        if let Some(marker) = req.extensions.get::<crate::BodyStreamed>() {
            marker.mark();
        }
        let input = req.input;
        let sse_c = sse_c_headers!(input);
        // The headers are taken before the write runs; one it refuses is answered as
        // refused only to a caller who may write here (`refuse_write`).
        let parsed = (|| {
            let claims = claims(
                &req.headers,
                checksum_fields!(input),
                input.checksum_algorithm.as_ref(),
                input.content_md5.as_ref(),
                input.content_length,
            )?;
            let customer = sse_c::customer_key(sse_c)?;
            let has_customer = customer.is_some();
            let put = PutAttrs {
                acl: crate::acl::acl_spec(crate::acl::object_acl_headers!(input, &req.headers))?,
                attrs: attrs_of!(input),
                storage_class: storage_class(input.storage_class)?,
                if_none_match: input.if_none_match.map(condition_etag),
                if_match: input.if_match.map(condition_etag),
                encryption: sse_request(sse_headers!(input, customer))?,
                tags: crate::tagging::header_tags(input.tagging.as_deref())?,
                lock: crate::lock::lock_request(
                    input.object_lock_mode.as_ref().map(|m| m.as_str()),
                    input.object_lock_retain_until_date,
                    input.object_lock_legal_hold_status.as_ref().map(|h| h.as_str()),
                )?,
            };
            Ok::<_, S3Error>((claims, has_customer, put))
        })();
        let (claims, has_customer, put) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return Err(self.refuse_write(&caller, &input.bucket, &input.key, e).await),
        };
        let (sse_c_algorithm, sse_c_md5) = sse_c::echo(has_customer.then_some(EncryptionAlgorithm::SseC), sse_c);
        let body = IncomingBody {
            stream: body_stream(input.body),
            claims,
            trailer_value: trailer_value(req.trailing_headers),
        };
        let info = self
            .model
            .put_object(&caller, &input.bucket, &input.key, body, put)
            .await
            .map_err(to_s3)?;
        let cs = ChecksumOut::from_value(info.checksum.as_ref());
        let sse = sse_out(info.encryption.as_ref());
        let output = PutObjectOutput {
            expiration: crate::lifecycle::expiration_header(info.expiration.as_ref()),
            e_tag: Some(etag(&info.etag)),
            checksum_crc32: cs.crc32,
            checksum_crc32c: cs.crc32c,
            checksum_crc64nvme: cs.crc64nvme,
            checksum_sha1: cs.sha1,
            checksum_sha256: cs.sha256,
            checksum_type: checksum_type(info.checksum.as_ref()),
            version_id: info.version_id,
            server_side_encryption: sse.sse,
            ssekms_key_id: sse.kms_key_id,
            bucket_key_enabled: sse.bucket_key,
            ssekms_encryption_context: sse.context,
            sse_customer_algorithm: sse_c_algorithm,
            sse_customer_key_md5: sse_c_md5,
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let slice = slice(input.range, input.part_number)?;
        let sse_c = sse_c_headers!(input);
        let mut cond = read_conditions(
            input.if_match,
            input.if_none_match,
            input.if_modified_since,
            input.if_unmodified_since,
        );
        cond.sse_customer_key = sse_c::customer_key(sse_c)?;
        let (info, body) = self
            .model
            .get_object(
                &caller,
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                slice,
                &cond,
            )
            .await
            .map_err(to_s3)?;
        let echo = sse_c::echo(info.encryption.as_ref().map(|e| e.algorithm), sse_c);
        let sse = sse_out(info.encryption.as_ref());
        let overrides = Overrides {
            content_type: input.response_content_type,
            cache_control: input.response_cache_control,
            content_disposition: input.response_content_disposition,
            content_encoding: input.response_content_encoding,
            content_language: input.response_content_language,
            expires: input.response_expires,
        };
        let c = common(
            &info,
            overrides,
            checksum_mode_enabled(input.checksum_mode.as_ref()) && !body.partial,
        );
        let content_range = body.partial.then(|| content_range(&body.range, body.total)).flatten();
        let content_length = body.len() as i64;
        let output = GetObjectOutput {
            expiration: crate::lifecycle::expiration_header(info.expiration.as_ref()),
            restore: crate::restore::restore_header(info.restore),
            body: Some(StreamingBlob::wrap(body.into_stream())),
            accept_ranges: Some("bytes".into()),
            content_length: Some(content_length),
            content_range,
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.last_modified_ms)),
            content_type: c.content_type,
            cache_control: c.cache_control,
            content_disposition: c.content_disposition,
            content_encoding: c.content_encoding,
            content_language: c.content_language,
            expires: c.expires,
            metadata: c.metadata,
            checksum_crc32: c.checksum.crc32,
            checksum_crc32c: c.checksum.crc32c,
            checksum_crc64nvme: c.checksum.crc64nvme,
            checksum_sha1: c.checksum.sha1,
            checksum_sha256: c.checksum.sha256,
            checksum_type: c.checksum_type,
            storage_class: c.storage_class,
            website_redirect_location: info.attrs.website_redirect.clone(),
            version_id: info.version_id.clone(),
            parts_count: parts_count(&info, slice),
            server_side_encryption: sse.sse,
            ssekms_key_id: sse.kms_key_id,
            bucket_key_enabled: sse.bucket_key,
            sse_customer_algorithm: echo.0,
            sse_customer_key_md5: echo.1,
            tag_count: tag_count(&info),
            object_lock_mode: crate::lock::mode_out(&info.lock),
            object_lock_retain_until_date: crate::lock::until_out(&info.lock),
            object_lock_legal_hold_status: crate::lock::hold_out(&info.lock),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let slice = slice(input.range, input.part_number)?;
        let sse_c = sse_c_headers!(input);
        let mut cond = read_conditions(
            input.if_match,
            input.if_none_match,
            input.if_modified_since,
            input.if_unmodified_since,
        );
        cond.sse_customer_key = sse_c::customer_key(sse_c)?;
        let (info, range) = self
            .model
            .head_slice(
                &caller,
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                slice,
                &cond,
            )
            .await
            .map_err(to_s3)?;
        let echo = sse_c::echo(info.encryption.as_ref().map(|e| e.algorithm), sse_c);
        let sse = sse_out(info.encryption.as_ref());
        let overrides = Overrides {
            content_type: input.response_content_type,
            cache_control: input.response_cache_control,
            content_disposition: input.response_content_disposition,
            content_encoding: input.response_content_encoding,
            content_language: input.response_content_language,
            expires: input.response_expires,
        };
        let c = common(
            &info,
            overrides,
            checksum_mode_enabled(input.checksum_mode.as_ref()) && range.is_none(),
        );
        let (content_length, content_range) = match &range {
            Some(r) => ((r.end - r.start) as i64, content_range(r, info.size)),
            None => (info.size as i64, None),
        };
        let output = HeadObjectOutput {
            expiration: crate::lifecycle::expiration_header(info.expiration.as_ref()),
            restore: crate::restore::restore_header(info.restore),
            accept_ranges: Some("bytes".into()),
            content_length: Some(content_length),
            content_range,
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.last_modified_ms)),
            content_type: c.content_type,
            cache_control: c.cache_control,
            content_disposition: c.content_disposition,
            content_encoding: c.content_encoding,
            content_language: c.content_language,
            expires: c.expires,
            metadata: c.metadata,
            checksum_crc32: c.checksum.crc32,
            checksum_crc32c: c.checksum.crc32c,
            checksum_crc64nvme: c.checksum.crc64nvme,
            checksum_sha1: c.checksum.sha1,
            checksum_sha256: c.checksum.sha256,
            checksum_type: c.checksum_type,
            storage_class: c.storage_class,
            website_redirect_location: info.attrs.website_redirect.clone(),
            version_id: info.version_id.clone(),
            parts_count: parts_count(&info, slice),
            server_side_encryption: sse.sse,
            ssekms_key_id: sse.kms_key_id,
            bucket_key_enabled: sse.bucket_key,
            sse_customer_algorithm: echo.0,
            sse_customer_key_md5: echo.1,
            object_lock_mode: crate::lock::mode_out(&info.lock),
            object_lock_retain_until_date: crate::lock::until_out(&info.lock),
            object_lock_legal_hold_status: crate::lock::hold_out(&info.lock),
            ..Default::default()
        };
        let mut resp = S3Response::new(output);
        if range.is_some() {
            resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
        }
        // AWS answers HEAD with the count too, though its model omits it.
        if let Some(n) = tag_count(&info) {
            resp.headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
        }
        Ok(resp)
    }

    pub(crate) async fn do_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let del = DeleteRequest {
            key: input.key,
            version_id: input.version_id,
            if_match: input.if_match.map(condition_etag),
            bypass_governance: input.bypass_governance_retention.unwrap_or(false),
        };
        let outcome = self
            .model
            .delete_object(&caller, &input.bucket, del)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: outcome.delete_marker.then_some(true),
            version_id: outcome.version_id,
            request_charged: None,
        }))
    }

    pub(crate) async fn do_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let objects = input.delete.objects;
        if objects.len() > DELETE_OBJECTS_MAX {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let bypass_governance = input.bypass_governance_retention.unwrap_or(false);
        let reqs: Vec<DeleteRequest> = objects
            .into_iter()
            .map(|o| DeleteRequest {
                key: o.key,
                version_id: o.version_id,
                if_match: o.e_tag.as_ref().map(|e| if_match_value(e.value())),
                bypass_governance,
            })
            .collect();
        let results = self
            .model
            .delete_objects(&caller, &input.bucket, reqs.clone())
            .await
            .map_err(to_s3)?;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for (req, result) in reqs.into_iter().zip(results) {
            match result {
                // Quiet mode reports only errors.
                Ok(_) if quiet => {}
                Ok(outcome) => {
                    // For a delete marker created or removed, DeleteMarkerVersionId names
                    // it; VersionId echoes the version the request named.
                    let marker_version = outcome.delete_marker.then(|| outcome.version_id.clone()).flatten();
                    deleted.push(DeletedObject {
                        key: Some(req.key),
                        version_id: req.version_id,
                        delete_marker: outcome.delete_marker.then_some(true),
                        delete_marker_version_id: marker_version,
                    });
                }
                Err(e) => {
                    let e = to_s3(e);
                    errors.push(Error {
                        code: Some(e.code().as_str().to_string()),
                        key: Some(req.key),
                        message: e.message().map(str::to_string),
                        version_id: req.version_id,
                    });
                }
            }
        }
        let output = DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            request_charged: None,
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let caller = self.caller(&req);
        let dst_if_match = raw_condition(&req.headers, "if-match")?.map(|v| if_match_value(&v));
        let dst_if_none_match = raw_condition(&req.headers, "if-none-match")?.map(|v| if_match_value(&v));
        let input = req.input;
        let (src_bucket, src_key, src_version) = match input.copy_source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => (bucket.to_string(), key.to_string(), version_id),
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::NotImplemented,
                    "access point copy sources are not supported",
                ));
            }
        };
        let sse_c = sse_c_headers!(input);
        // The headers are taken before the copy runs; one it refuses is answered as
        // refused only to a caller who may write the destination (`refuse_write`).
        let parsed = (|| {
            let directive = match input.metadata_directive.as_ref().map(|d| d.as_str()) {
                None | Some(MetadataDirective::COPY) => ferrite_model::MetadataDirective::Copy,
                Some(MetadataDirective::REPLACE) => ferrite_model::MetadataDirective::Replace(attrs_of!(input)),
                Some(other) => return Err(invalid_argument(format!("Unknown metadata directive {other:?}"))),
            };
            let mut source_conditions: ReadConditions = read_conditions(
                input.copy_source_if_match,
                input.copy_source_if_none_match,
                input.copy_source_if_modified_since,
                input.copy_source_if_unmodified_since,
            );
            source_conditions.sse_customer_key = sse_c::customer_key(copy_source_sse_c_headers!(input))?;
            let customer = sse_c::customer_key(sse_c)?;
            let acl = crate::acl::acl_spec(crate::acl::object_acl_headers!(input, &req.headers))?;
            // `x-amz-tagging` counts only with REPLACE (with COPY the source's tags are
            // the copy's, as AWS).
            let tagging = match input.tagging_directive.as_ref().map(|d| d.as_str()) {
                None | Some(TaggingDirective::COPY) => ferrite_model::TaggingDirective::Copy,
                Some(TaggingDirective::REPLACE) => {
                    ferrite_model::TaggingDirective::Replace(crate::tagging::header_tags(input.tagging.as_deref())?)
                }
                Some(other) => return Err(invalid_argument(format!("Unknown tagging directive {other:?}"))),
            };
            let copy = CopyRequest {
                tagging,
                lock: crate::lock::lock_request(
                    input.object_lock_mode.as_ref().map(|m| m.as_str()),
                    input.object_lock_retain_until_date,
                    input.object_lock_legal_hold_status.as_ref().map(|h| h.as_str()),
                )?,
                acl,
                src_bucket,
                src_key,
                src_version: src_version.map(String::from),
                dst_bucket: input.bucket.clone(),
                dst_key: input.key.clone(),
                directive,
                storage_class: storage_class(input.storage_class)?,
                source_conditions,
                if_none_match: dst_if_none_match,
                if_match: dst_if_match,
                encryption: sse_request(sse_headers!(input, customer))?,
            };
            Ok::<_, S3Error>(copy)
        })();
        let copy = match parsed {
            Ok(copy) => copy,
            Err(e) => return Err(self.refuse_write(&caller, &input.bucket, &input.key, e).await),
        };
        let outcome = self.model.copy_object(&caller, copy).await.map_err(to_s3)?;
        let info = outcome.info;
        let cs = ChecksumOut::from_value(info.checksum.as_ref());
        let result = CopyObjectResult {
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.last_modified_ms)),
            checksum_crc32: cs.crc32,
            checksum_crc32c: cs.crc32c,
            checksum_crc64nvme: cs.crc64nvme,
            checksum_sha1: cs.sha1,
            checksum_sha256: cs.sha256,
            checksum_type: checksum_type(info.checksum.as_ref()),
        };
        let sse = sse_out(info.encryption.as_ref());
        let sse_c_echo = sse_c::echo(info.encryption.as_ref().map(|e| e.algorithm), sse_c);
        let output = CopyObjectOutput {
            expiration: crate::lifecycle::expiration_header(info.expiration.as_ref()),
            copy_object_result: Some(result),
            copy_source_version_id: outcome.source_version_id,
            version_id: info.version_id,
            server_side_encryption: sse.sse,
            ssekms_key_id: sse.kms_key_id,
            bucket_key_enabled: sse.bucket_key,
            ssekms_encryption_context: sse.context,
            sse_customer_algorithm: sse_c_echo.0,
            sse_customer_key_md5: sse_c_echo.1,
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }
}

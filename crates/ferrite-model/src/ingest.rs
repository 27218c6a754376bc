//! Bodies coming in: PutObject, UploadPart and UploadPartCopy, each one model call.
//!
//! The adapter hands over the body stream and what the request claims about it (its
//! declared length, Content-MD5, an `x-amz-checksum-*` value or the announcement of one
//! in a trailer, and a way to read that trailer once the body has ended). The model
//! refuses what it can before reading a byte (access, a missing bucket or upload, a
//! declared size over the limit, a checksum algorithm the upload does not use), then
//! stages the body while hashing it, verifies it against the claims, lands it and
//! commits it: one typed result, or one error that changed nothing.

use std::io;

use bytes::Bytes;
use futures::Stream;

use crate::authz::Operation;
use crate::conditions::as_copy_source;
use crate::multipart::check_part_number;
use crate::object::{ByteRange, ObjectInfo, PutAttrs, Slice};
use crate::staging::MAX_PUT_SIZE;
use crate::{
    Caller, ChecksumAlgorithm, ChecksumValue, Expected, Ferrite, ModelError, ModelResult, PartInfo, ReadConditions,
    validate_key,
};

/// Reads the value of the announced trailer checksum once the body has ended: given
/// the algorithm, the base64 value the client sent, if it sent one.
pub type TrailerValue = Box<dyn FnOnce(ChecksumAlgorithm) -> Option<String> + Send>;

/// What a request says about its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyClaims {
    /// The declared length (`Content-Length`, or `x-amz-decoded-content-length`).
    pub length: Option<u64>,
    /// `Content-MD5`, decoded.
    pub content_md5: Option<[u8; 16]>,
    /// An `x-amz-checksum-*` value sent as a header.
    pub checksum: Option<ChecksumValue>,
    /// The algorithm of a checksum announced for a trailer (`x-amz-trailer`).
    pub trailer: Option<ChecksumAlgorithm>,
    /// The algorithm an SDK says it used (`x-amz-sdk-checksum-algorithm`) without
    /// sending a value: the stored object gets that checksum.
    pub sdk_algorithm: Option<ChecksumAlgorithm>,
}

impl BodyClaims {
    /// Whether the request sends a value the body is checked against: Content-MD5,
    /// or an `x-amz-checksum-*` value (a header, or a trailer it announces).
    pub fn has_integrity_value(&self) -> bool {
        self.content_md5.is_some() || self.checksum.is_some() || self.trailer.is_some()
    }

    /// The checksum algorithm to compute while staging.
    fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.checksum
            .as_ref()
            .map(|c| c.algorithm)
            .or(self.trailer)
            .or(self.sdk_algorithm)
    }

    /// The algorithm of a value the client actually sends (header or trailer).
    fn sent_algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.checksum.as_ref().map(|c| c.algorithm).or(self.trailer)
    }

    fn check_size(&self) -> ModelResult<()> {
        match self.length {
            Some(n) if n > MAX_PUT_SIZE => Err(ModelError::EntityTooLarge),
            _ => Ok(()),
        }
    }

    /// What to verify the staged body against; reads the trailer value, which exists
    /// only once the body has ended.
    fn expected(self, trailer_value: Option<TrailerValue>) -> ModelResult<Expected> {
        let mut expected = Expected {
            md5: self.content_md5,
            checksum: self.checksum,
            length: self.length,
        };
        if let (None, Some(algo)) = (&expected.checksum, self.trailer) {
            let value = trailer_value.and_then(|read| read(algo)).ok_or_else(|| {
                ModelError::InvalidRequest(format!(
                    "the x-amz-checksum-{} trailer was announced but not sent",
                    algo.name().to_ascii_lowercase()
                ))
            })?;
            expected.checksum = Some(ChecksumValue::parse(algo, &value)?);
        }
        Ok(expected)
    }
}

/// A request body on its way in, with what the request claims about it.
pub struct IncomingBody<S> {
    pub stream: S,
    pub claims: BodyClaims,
    pub trailer_value: Option<TrailerValue>,
}

impl<S> IncomingBody<S> {
    /// A body that claims nothing (its digests are computed, not checked).
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            claims: BodyClaims::default(),
            trailer_value: None,
        }
    }
}

/// UploadPartCopy: a byte range of an existing object (any version) becomes a part.
#[derive(Debug, Clone, Default)]
pub struct PartCopy {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub part_number: u32,
    pub src_bucket: String,
    pub src_key: String,
    pub src_version: Option<String>,
    /// `x-amz-copy-source-range`: must lie within the source.
    pub range: Option<ByteRange>,
    /// The `x-amz-copy-source-if-*` conditions (a failed one is 412, never 304), and
    /// the source's SSE-C key.
    pub conditions: ReadConditions,
    /// The SSE-C key of the upload (the part's destination), when it is SSE-C.
    pub sse_customer_key: Option<crate::sse::CustomerKey>,
}

/// What UploadPartCopy answers.
#[derive(Debug, Clone)]
pub struct PartCopied {
    pub part: PartInfo,
    /// The source's `x-amz-version-id`.
    pub source_version_id: Option<String>,
}

impl Ferrite {
    /// PutObject: stores `body` as the current object `key` (a new version when
    /// versioning is Enabled), after checking it against what the request claims.
    pub async fn put_object<S>(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        body: IncomingBody<S>,
        put: PutAttrs,
    ) -> ModelResult<ObjectInfo>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        let IncomingBody {
            stream,
            claims,
            trailer_value,
        } = body;
        claims.check_size()?;
        // Policies see the new version's tags as the request's.
        let caller = &caller.with_request_tags(&put.tags);
        // Refuse what can be refused before reading the body.
        validate_key(key)?;
        crate::validate_user_metadata(&put.attrs.user_metadata)?;
        // What the request asks for, else the bucket's default encryption.
        let sealing = self
            .check_write_access(caller, bucket, key, Operation::PutObject, put.encryption.as_ref())
            .await?;
        // AWS's rule for locked uploads, before the body is read.
        if (!put.lock.is_empty() || sealing.default_retention) && !claims.has_integrity_value() {
            return Err(ModelError::InvalidRequest(
                "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock \
                 parameters"
                    .into(),
            ));
        }
        let encryption = match &sealing.wanted {
            None => None,
            Some(request) => Some(
                self.new_encryption(request, sealing.bucket_id, key, sealing.kms_key)
                    .await?,
            ),
        };
        let tier = self.inner.tiers.for_class(put.storage_class).to_string();
        let staged = self
            .stage_sealed(stream, claims.algorithm(), MAX_PUT_SIZE, encryption, &tier)
            .await?;
        staged.verify(&claims.expected(trailer_value)?)?;
        self.put_staged(caller, bucket, key, staged, put).await
    }

    /// UploadPart: stores `body` as part `part_number` of the upload, replacing any
    /// earlier part with that number. The part is hashed with the upload's checksum
    /// algorithm (so that Complete can combine the part checksums); a part that sends
    /// a checksum of another algorithm is refused before its body is read.
    pub async fn upload_part<S>(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: IncomingBody<S>,
    ) -> ModelResult<PartInfo>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        self.upload_part_keyed(caller, bucket, key, upload_id, part_number, body, None)
            .await
    }

    /// [`Ferrite::upload_part`] for a part that sends an SSE-C key (`customer`): an
    /// SSE-C upload's parts must each send the upload's key.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_keyed<S>(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: IncomingBody<S>,
        customer: Option<&crate::sse::CustomerKey>,
    ) -> ModelResult<PartInfo>
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
    {
        let IncomingBody {
            stream,
            claims,
            trailer_value,
        } = body;
        check_part_number(part_number)?;
        claims.check_size()?;
        let (upload, encryption, tier) = self.upload_state(caller, bucket, key, upload_id).await?;
        let sealing = self.part_sealing(encryption.as_ref(), customer).await?;
        if let (Some(want), Some(sent)) = (upload.checksum_algorithm, claims.sent_algorithm())
            && want != sent
        {
            return Err(ModelError::InvalidRequest(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                want.name().to_ascii_lowercase(),
                sent.name().to_ascii_lowercase()
            )));
        }
        let algorithm = upload.checksum_algorithm.or(claims.algorithm());
        let staged = self.stage_part_sealed(stream, algorithm, sealing, &tier).await?;
        staged.verify(&claims.expected(trailer_value)?)?;
        self.upload_part_staged(caller, bucket, key, upload_id, part_number, staged)
            .await
    }

    /// UploadPartCopy: reads the source (through the GET path, with its conditions and
    /// range) and stores those bytes as a part. A part is a blob of its own, so this is
    /// a real copy.
    pub async fn upload_part_copy(&self, caller: &Caller, req: PartCopy) -> ModelResult<PartCopied> {
        check_part_number(req.part_number)?;
        validate_key(&req.src_key)?;
        let (upload, encryption, tier) = self.upload_state(caller, &req.bucket, &req.key, &req.upload_id).await?;
        let sealing = self
            .part_sealing(encryption.as_ref(), req.sse_customer_key.as_ref())
            .await?;
        let (src, body) = self
            .get_object(
                &caller.for_copy_source(),
                &req.src_bucket,
                &req.src_key,
                req.src_version.as_deref(),
                req.range.map(Slice::Range),
                &req.conditions,
            )
            .await
            .map_err(as_copy_source)?;
        // Unlike a GET's Range, a copy-source range must lie within the source.
        if let Some(ByteRange::From { last: Some(last), .. }) = req.range
            && last >= src.size
        {
            return Err(ModelError::InvalidRange);
        }
        let staged = self
            .stage_part_sealed(body.into_stream(), upload.checksum_algorithm, sealing, &tier)
            .await?;
        let part = self
            .upload_part_staged(caller, &req.bucket, &req.key, &req.upload_id, req.part_number, staged)
            .await?;
        Ok(PartCopied {
            part,
            source_version_id: src.version_id,
        })
    }
}

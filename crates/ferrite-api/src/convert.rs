//! Conversions between s3s DTO pieces and model values.

use ferrite_model::{ByteRange, ChecksumAlgorithm, ChecksumValue, ModelError, ObjectAttrs, ReadConditions};
use s3s::dto::{ETag, ETagCondition, Metadata, Range, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result};
use time::OffsetDateTime;

use crate::to_s3;

pub fn ts(ms: i64) -> Timestamp {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// An HTTP date (IMF-fixdate), as in Last-Modified.
pub fn http_date(ms: i64) -> String {
    let mut out = Vec::new();
    match ts(ms).format(s3s::dto::TimestampFormat::HttpDate, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub fn ms_of(t: Timestamp) -> i64 {
    let t: OffsetDateTime = t.into();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn secs_of(t: Timestamp) -> i64 {
    let t: OffsetDateTime = t.into();
    t.unix_timestamp()
}

pub fn etag(hex: &str) -> ETag {
    ETag::Strong(hex.to_string())
}

/// The ETag a condition names, without quotes; `*` for the wildcard.
pub fn condition_etag(c: ETagCondition) -> String {
    match c {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(e) => e.into_value(),
    }
}

pub fn read_conditions(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
    if_modified_since: Option<Timestamp>,
    if_unmodified_since: Option<Timestamp>,
) -> ReadConditions {
    ReadConditions {
        if_match: if_match.map(|c| vec![condition_etag(c)]),
        if_none_match: if_none_match.map(|c| vec![condition_etag(c)]),
        if_modified_since: if_modified_since.map(secs_of),
        if_unmodified_since: if_unmodified_since.map(secs_of),
        sse_customer_key: None,
    }
}

pub fn byte_range(r: Range) -> ByteRange {
    match r {
        Range::Int { first, last } => ByteRange::From { first, last },
        Range::Suffix { length } => ByteRange::Suffix { len: length },
    }
}

/// The standard headers and user metadata of a PUT or a REPLACE copy.
pub struct AttrsIn {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
    pub metadata: Option<Metadata>,
    pub website_redirect: Option<String>,
}

/// The model attributes of any s3s input that carries the standard headers and user
/// metadata (PutObject, CopyObject with REPLACE, CreateMultipartUpload).
macro_rules! attrs_of {
    ($input:expr) => {
        $crate::convert::AttrsIn {
            content_type: $input.content_type,
            cache_control: $input.cache_control,
            content_disposition: $input.content_disposition,
            content_encoding: $input.content_encoding,
            content_language: $input.content_language,
            expires: $input.expires,
            metadata: $input.metadata,
            website_redirect: $input.website_redirect_location,
        }
        .into_model()
    };
}
pub(crate) use attrs_of;

impl AttrsIn {
    pub fn into_model(self) -> ObjectAttrs {
        let mut user_metadata: Vec<(String, String)> = self.metadata.unwrap_or_default().into_iter().collect();
        user_metadata.sort();
        ObjectAttrs {
            content_type: Some(self.content_type.unwrap_or_else(|| "binary/octet-stream".to_string())),
            cache_control: self.cache_control,
            content_disposition: self.content_disposition,
            content_encoding: self.content_encoding.and_then(without_aws_chunked),
            content_language: self.content_language,
            expires_ms: self.expires.map(ms_of),
            user_metadata,
            website_redirect: self.website_redirect,
        }
    }
}

/// `aws-chunked` describes how the request body was framed, not the object: S3 drops it
/// from the stored Content-Encoding.
fn without_aws_chunked(encoding: String) -> Option<String> {
    let kept: Vec<&str> = encoding
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

pub fn metadata_out(attrs: &ObjectAttrs) -> Option<Metadata> {
    if attrs.user_metadata.is_empty() {
        None
    } else {
        Some(attrs.user_metadata.iter().cloned().collect())
    }
}

/// One optional field per checksum algorithm, as the output DTOs have them.
#[derive(Default)]
pub struct ChecksumOut {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl ChecksumOut {
    pub fn from_value(v: Option<&ChecksumValue>) -> Self {
        let mut out = Self::default();
        if let Some(v) = v {
            let slot = match v.algorithm {
                ChecksumAlgorithm::Crc32 => &mut out.crc32,
                ChecksumAlgorithm::Crc32c => &mut out.crc32c,
                ChecksumAlgorithm::Crc64Nvme => &mut out.crc64nvme,
                ChecksumAlgorithm::Sha1 => &mut out.sha1,
                ChecksumAlgorithm::Sha256 => &mut out.sha256,
            };
            *slot = Some(v.base64.clone());
        }
        out
    }
}

/// `x-amz-checksum-type` of a stored checksum: COMPOSITE for a checksum of part
/// checksums (`<base64>-N`), else FULL_OBJECT.
pub fn checksum_type(v: Option<&ChecksumValue>) -> Option<s3s::dto::ChecksumType> {
    v.map(|c| checksum_type_of(c.is_composite()))
}

pub fn checksum_type_of(composite: bool) -> s3s::dto::ChecksumType {
    use s3s::dto::ChecksumType;
    ChecksumType::from_static(if composite {
        ChecksumType::COMPOSITE
    } else {
        ChecksumType::FULL_OBJECT
    })
}

/// The checksum header a request carries, if any: at most one is allowed.
pub fn header_checksum(values: [(ChecksumAlgorithm, Option<&String>); 5]) -> S3Result<Option<ChecksumValue>> {
    let mut found = None;
    for (algo, value) in values {
        if let Some(v) = value {
            if found.is_some() {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            found = Some(ChecksumValue::parse(algo, v).map_err(|e| to_s3(e.into()))?);
        }
    }
    Ok(found)
}

pub fn content_md5(value: Option<&String>) -> S3Result<Option<[u8; 16]>> {
    value
        .map(|v| ferrite_model::Expected::parse_content_md5(v))
        .transpose()
        .map_err(|e| to_s3(e.into()))
}

/// Continuation tokens are opaque to clients: the URL-safe base64 of the name to
/// continue after.
pub fn encode_token(after: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(after)
}

pub fn decode_token(token: Option<&str>) -> S3Result<Option<String>> {
    use base64::Engine as _;
    token
        .map(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid_argument("The continuation token provided is incorrect"))
        })
        .transpose()
}

pub fn invalid_argument(msg: impl Into<String>) -> S3Error {
    to_s3(ModelError::InvalidArgument(msg.into()))
}

/// The storage class name listings show: STANDARD when none was given.
pub(crate) fn class_name(sc: Option<ferrite_model::StorageClass>) -> String {
    sc.unwrap_or(ferrite_model::StorageClass::Standard).as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_not_part_of_the_stored_encoding() {
        assert_eq!(without_aws_chunked("gzip, aws-chunked".into()), Some("gzip".into()));
        assert_eq!(without_aws_chunked("aws-chunked".into()), None);
        assert_eq!(without_aws_chunked("aws-chunked,br".into()), Some("br".into()));
        assert_eq!(without_aws_chunked("identity".into()), Some("identity".into()));
    }
}

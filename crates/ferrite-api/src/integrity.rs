//! What a request claims about its body (length, Content-MD5, `x-amz-checksum-*` as a
//! header or an aws-chunked trailer), shared by PutObject and UploadPart.

use ferrite_model::{ChecksumAlgorithm as Algo, ChecksumValue, Expected};
use s3s::dto::{ChecksumAlgorithm, ContentMD5};
use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::convert::{content_md5, header_checksum, invalid_argument};
use crate::to_s3;

pub(crate) fn algorithm(name: &str) -> S3Result<Algo> {
    Algo::from_name(name).ok_or_else(|| invalid_argument(format!("unsupported checksum algorithm {name:?}")))
}

/// The trailer checksum algorithm a streaming upload announces in `x-amz-trailer`.
fn trailer_algorithm(headers: &http::HeaderMap) -> S3Result<Option<Algo>> {
    let Some(v) = headers.get("x-amz-trailer") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| invalid_argument("invalid x-amz-trailer"))?
        .trim()
        .to_ascii_lowercase();
    match v.strip_prefix("x-amz-checksum-") {
        Some(name) => Ok(Some(algorithm(name)?)),
        None => Err(invalid_argument(format!("unsupported trailer {v:?}"))),
    }
}

/// The `x-amz-checksum-*` header fields of an input, in `ChecksumAlgorithm::ALL` order.
pub(crate) type ChecksumHeaders<'a> = [(Algo, Option<&'a String>); 5];

/// The `checksum_*` fields of any s3s input (or part) as [`ChecksumHeaders`].
macro_rules! checksum_fields {
    ($x:expr) => {
        [
            (ferrite_model::ChecksumAlgorithm::Crc32, $x.checksum_crc32.as_ref()),
            (ferrite_model::ChecksumAlgorithm::Crc32c, $x.checksum_crc32c.as_ref()),
            (
                ferrite_model::ChecksumAlgorithm::Crc64Nvme,
                $x.checksum_crc64nvme.as_ref(),
            ),
            (ferrite_model::ChecksumAlgorithm::Sha1, $x.checksum_sha1.as_ref()),
            (ferrite_model::ChecksumAlgorithm::Sha256, $x.checksum_sha256.as_ref()),
        ]
    };
}
pub(crate) use checksum_fields;

pub(crate) struct Integrity {
    header: Option<ChecksumValue>,
    trailer: Option<Algo>,
    sdk: Option<Algo>,
    md5: Option<[u8; 16]>,
    declared: Option<u64>,
}

impl Integrity {
    pub fn new(
        headers: &http::HeaderMap,
        checksums: ChecksumHeaders<'_>,
        sdk_algorithm: Option<&ChecksumAlgorithm>,
        md5: Option<&ContentMD5>,
        content_length: Option<i64>,
    ) -> S3Result<Self> {
        let declared = match content_length {
            Some(n) if n < 0 => return Err(invalid_argument("negative Content-Length")),
            Some(n) => Some(n as u64),
            None => None,
        };
        Ok(Self {
            header: header_checksum(checksums)?,
            trailer: trailer_algorithm(headers)?,
            sdk: sdk_algorithm.map(|a| algorithm(a.as_str())).transpose()?,
            md5: content_md5(md5)?,
            declared,
        })
    }

    pub fn declared_length(&self) -> Option<u64> {
        self.declared
    }

    /// The checksum algorithm the body claims one of, if any.
    pub fn algorithm(&self) -> Option<Algo> {
        self.header.as_ref().map(|c| c.algorithm).or(self.trailer).or(self.sdk)
    }

    /// The algorithm of a value the client actually sends (header or trailer).
    pub fn sent_algorithm(&self) -> Option<Algo> {
        self.header.as_ref().map(|c| c.algorithm).or(self.trailer)
    }

    /// What to verify the staged body against, reading a trailer checksum once the
    /// body has been consumed.
    pub fn expected(self, trailers: Option<s3s::TrailingHeaders>) -> S3Result<Expected> {
        let mut expected = Expected {
            md5: self.md5,
            checksum: self.header,
            length: self.declared,
        };
        if let (None, Some(algo)) = (&expected.checksum, self.trailer) {
            let name = format!("x-amz-checksum-{}", algo.name().to_ascii_lowercase());
            let value = trailers
                .and_then(|t| t.take())
                .and_then(|h| h.get(name.as_str()).and_then(|v| v.to_str().ok()).map(str::to_string));
            let value = value.ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("the {name} trailer was announced but not sent"),
                )
            })?;
            expected.checksum = Some(ChecksumValue::parse(algo, &value).map_err(|e| to_s3(e.into()))?);
        }
        Ok(expected)
    }
}

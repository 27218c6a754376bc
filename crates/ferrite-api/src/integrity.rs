//! What a request claims about its body (length, Content-MD5, `x-amz-checksum-*` as a
//! header or an aws-chunked trailer), parsed into the model's [`BodyClaims`] for
//! PutObject and UploadPart; the model checks the body against them.

use ferrite_model::{BodyClaims, ChecksumAlgorithm as Algo, TrailerValue};
use s3s::S3Result;
use s3s::dto::{ChecksumAlgorithm, ContentMD5};

use crate::convert::{content_md5, header_checksum, invalid_argument};

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

/// What the request claims about its body, in model terms.
pub(crate) fn claims(
    headers: &http::HeaderMap,
    checksums: ChecksumHeaders<'_>,
    sdk_algorithm: Option<&ChecksumAlgorithm>,
    md5: Option<&ContentMD5>,
    content_length: Option<i64>,
) -> S3Result<BodyClaims> {
    let length = match content_length {
        Some(n) if n < 0 => return Err(invalid_argument("negative Content-Length")),
        Some(n) => Some(n as u64),
        None => None,
    };
    Ok(BodyClaims {
        length,
        content_md5: content_md5(md5)?,
        checksum: header_checksum(checksums)?,
        trailer: trailer_algorithm(headers)?,
        sdk_algorithm: sdk_algorithm.map(|a| algorithm(a.as_str())).transpose()?,
    })
}

/// Reads a trailer checksum from the aws-chunked trailers, once the body has ended.
pub(crate) fn trailer_value(trailers: Option<s3s::TrailingHeaders>) -> Option<TrailerValue> {
    let trailers = trailers?;
    Some(Box::new(move |algo: Algo| {
        let name = format!("x-amz-checksum-{}", algo.name().to_ascii_lowercase());
        let headers = trailers.take()?;
        headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }))
}

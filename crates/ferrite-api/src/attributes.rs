//! GetObjectAttributes: what HEAD knows of a version, as a document, selected by
//! `x-amz-object-attributes`, with a multipart object's parts listed a page at a time.
//! Authorized, conditioned (If-Match, If-None-Match, If-Modified-Since,
//! If-Unmodified-Since) and SSE-C-checked as HEAD is.

use ferrite_model::{PartSummary, ReadConditions};
#[cfg(test)]
use s3s::S3ErrorCode;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::convert::{ChecksumOut, checksum_type, class_name, invalid_argument, read_conditions, ts};
use crate::sse_c::{self, sse_c_headers};
use crate::{FerriteS3, to_s3};

/// The most parts one answer lists (and the default page size), as ListParts.
const MAX_PARTS: i32 = 1000;

/// Which attributes a request asked for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Wanted {
    etag: bool,
    checksum: bool,
    parts: bool,
    storage_class: bool,
    size: bool,
}

/// `x-amz-object-attributes`: a list of attribute names (the SDKs send one header of
/// comma-separated names, or several headers). None, or an unknown one, is refused.
fn wanted(list: &[ObjectAttributes]) -> S3Result<Wanted> {
    let mut w = Wanted::default();
    let mut any = false;
    for name in list.iter().flat_map(|a| a.as_str().split(',')).map(str::trim) {
        match name {
            ObjectAttributes::ETAG => w.etag = true,
            ObjectAttributes::CHECKSUM => w.checksum = true,
            ObjectAttributes::OBJECT_PARTS => w.parts = true,
            ObjectAttributes::STORAGE_CLASS => w.storage_class = true,
            ObjectAttributes::OBJECT_SIZE => w.size = true,
            "" => continue,
            _ => return Err(invalid_argument("Invalid attribute name specified.")),
        }
        any = true;
    }
    if !any {
        return Err(invalid_argument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
        ));
    }
    Ok(w)
}

/// Conditional headers s3s does not model for this operation, read as HEAD reads them.
fn conditions(headers: &http::HeaderMap) -> S3Result<ReadConditions> {
    let text = |name: &str| -> S3Result<Option<&str>> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| invalid_argument(format!("invalid {name} header")))
            })
            .transpose()
    };
    let etag = |name: &str| -> S3Result<Option<ETagCondition>> {
        text(name)?
            .map(|v| {
                ETagCondition::parse_http_header(v.trim().as_bytes())
                    .map_err(|_| invalid_argument(format!("invalid {name} header")))
            })
            .transpose()
    };
    // An unparseable date is ignored, as HTTP says and HEAD does.
    let date = |name: &str| -> S3Result<Option<Timestamp>> {
        Ok(text(name)?.and_then(|v| Timestamp::parse(TimestampFormat::HttpDate, v).ok()))
    };
    Ok(read_conditions(
        etag("if-match")?,
        etag("if-none-match")?,
        date("if-modified-since")?,
        date("if-unmodified-since")?,
    ))
}

/// The largest GetObjectAttributes document (1000 parts at most, each well under
/// 400 bytes).
pub const MAX_ATTRIBUTES_DOCUMENT: usize = 1024 * 1024;

/// AWS answers GetObjectAttributes' ETag unquoted, unlike every other ETag, and
/// clients compare it as such; s3s renders every ETag quoted. The server passes the
/// rendered document through this, which drops the quotes of its one top-level
/// `<ETag>`. `None`: the document has no quoted ETag (nothing to change).
pub fn unquote_etag(document: &[u8]) -> Option<Vec<u8>> {
    const OPEN: &[u8] = b"<ETag>&quot;";
    const OPEN_RAW: &[u8] = b"<ETag>\"";
    let find = |needle: &[u8]| document.windows(needle.len()).position(|w| w == needle);
    let (start, quote_len) = match (find(OPEN_RAW), find(OPEN)) {
        (Some(i), _) => (i, 1),
        (None, Some(i)) => (i, "&quot;".len()),
        (None, None) => return None,
    };
    let value_start = start + "<ETag>".len() + quote_len;
    let close = document[value_start..].windows(7).position(|w| w == b"</ETag>")? + value_start;
    let value_end = close.checked_sub(quote_len)?;
    if value_end < value_start {
        return None;
    }
    let mut out = Vec::with_capacity(document.len());
    out.extend_from_slice(&document[..start + "<ETag>".len()]);
    out.extend_from_slice(&document[value_start..value_end]);
    out.extend_from_slice(&document[close..]);
    Some(out)
}

/// One page of `parts`: those numbered after `marker`, at most `max`.
fn parts_page(parts: &[PartSummary], marker: Option<i32>, max: Option<i32>) -> S3Result<GetObjectAttributesParts> {
    let max = match max {
        None => MAX_PARTS,
        Some(m) if m < 0 => return Err(invalid_argument("max-parts must be a non-negative integer")),
        Some(m) => m.min(MAX_PARTS),
    };
    let marker_value = match marker {
        Some(m) if m < 0 => return Err(invalid_argument("part-number-marker must be a non-negative integer")),
        Some(m) => m as u32,
        None => 0,
    };
    let after: Vec<&PartSummary> = parts.iter().filter(|p| p.part_number > marker_value).collect();
    let page = &after[..after.len().min(max as usize)];
    let truncated = after.len() > page.len();
    let listed: Vec<ObjectPart> = page
        .iter()
        .map(|p| {
            let cs = ChecksumOut::from_value(p.checksum.as_ref());
            ObjectPart {
                part_number: Some(p.part_number as i32),
                size: Some(p.size as i64),
                checksum_crc32: cs.crc32,
                checksum_crc32c: cs.crc32c,
                checksum_crc64nvme: cs.crc64nvme,
                checksum_sha1: cs.sha1,
                checksum_sha256: cs.sha256,
            }
        })
        .collect();
    Ok(GetObjectAttributesParts {
        is_truncated: Some(truncated),
        max_parts: Some(max),
        next_part_number_marker: page.last().map(|p| p.part_number as i32),
        part_number_marker: Some(marker.unwrap_or(0)),
        parts: Some(listed),
        total_parts_count: Some(parts.len() as i32),
    })
}

impl FerriteS3 {
    pub(crate) async fn do_get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let caller = self.caller(&req);
        let mut cond = conditions(&req.headers)?;
        let input = req.input;
        let w = wanted(&input.object_attributes)?;
        cond.sse_customer_key = sse_c::customer_key(sse_c_headers!(input))?;
        let (info, parts) = self
            .model
            .object_attributes(&caller, &input.bucket, &input.key, input.version_id.as_deref(), &cond)
            .await
            .map_err(to_s3)?;
        let object_parts = match (&parts, w.parts) {
            (Some(parts), true) => Some(parts_page(parts, input.part_number_marker, input.max_parts)?),
            _ => None,
        };
        let checksum = match (&info.checksum, w.checksum) {
            (Some(value), true) => {
                let cs = ChecksumOut::from_value(Some(value));
                Some(Checksum {
                    checksum_crc32: cs.crc32,
                    checksum_crc32c: cs.crc32c,
                    checksum_crc64nvme: cs.crc64nvme,
                    checksum_sha1: cs.sha1,
                    checksum_sha256: cs.sha256,
                    checksum_type: checksum_type(Some(value)),
                })
            }
            _ => None,
        };
        let output = GetObjectAttributesOutput {
            checksum,
            delete_marker: None,
            // Rendered quoted by s3s; the server unquotes it ([`unquote_etag`]).
            e_tag: w.etag.then(|| ETag::Strong(info.etag.clone())),
            last_modified: Some(ts(info.last_modified_ms)),
            object_parts,
            object_size: w.size.then_some(info.size as i64),
            request_charged: None,
            storage_class: w
                .storage_class
                .then(|| StorageClass::from(class_name(info.storage_class))),
            version_id: info.version_id.clone(),
        };
        Ok(S3Response::new(output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(names: &[&str]) -> Vec<ObjectAttributes> {
        names.iter().map(|n| ObjectAttributes::from(n.to_string())).collect()
    }

    #[test]
    fn the_etag_is_unquoted_and_nothing_else_changes() {
        let doc = b"<?xml version=\"1.0\"?><GetObjectAttributesResponse><ETag>\"abc-2\"</ETag><ObjectSize>3</ObjectSize></GetObjectAttributesResponse>";
        let out = unquote_etag(doc).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<?xml version=\"1.0\"?><GetObjectAttributesResponse><ETag>abc-2</ETag><ObjectSize>3</ObjectSize></GetObjectAttributesResponse>"
        );
        let escaped = b"<R><ETag>&quot;abc&quot;</ETag></R>";
        assert_eq!(unquote_etag(escaped).unwrap(), b"<R><ETag>abc</ETag></R>");
        assert_eq!(unquote_etag(b"<R><ObjectSize>3</ObjectSize></R>"), None);
        assert_eq!(unquote_etag(b"<R><ETag>\"</R>"), None);
    }

    #[test]
    fn attribute_names_are_aws_names_only() {
        let w = wanted(&attrs(&["ETag", "ObjectSize"])).unwrap();
        assert!(w.etag && w.size && !w.parts && !w.checksum && !w.storage_class);
        let w = wanted(&attrs(&["Checksum,ObjectParts", "StorageClass"])).unwrap();
        assert!(w.checksum && w.parts && w.storage_class);
        for bad in [&["Etag"][..], &["ETag", "Owner"], &[], &[""]] {
            assert_eq!(
                wanted(&attrs(bad)).unwrap_err().code(),
                &S3ErrorCode::InvalidArgument,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parts_are_listed_a_page_after_the_marker() {
        let parts: Vec<PartSummary> = (1..=6)
            .map(|n| PartSummary {
                part_number: n,
                size: 5,
                checksum: None,
            })
            .collect();
        let p = parts_page(&parts, Some(3), Some(1)).unwrap();
        assert_eq!(p.parts.as_ref().unwrap()[0].part_number, Some(4));
        assert_eq!((p.is_truncated, p.next_part_number_marker), (Some(true), Some(4)));
        assert_eq!(
            (p.part_number_marker, p.max_parts, p.total_parts_count),
            (Some(3), Some(1), Some(6))
        );
        let p = parts_page(&parts, Some(4), Some(10)).unwrap();
        let numbers: Vec<_> = p.parts.unwrap().iter().map(|x| x.part_number.unwrap()).collect();
        assert_eq!(numbers, [5, 6]);
        assert_eq!(p.is_truncated, Some(false));
        let p = parts_page(&parts, None, None).unwrap();
        assert_eq!((p.parts.unwrap().len(), p.max_parts), (6, Some(1000)));
        assert!(parts_page(&parts, Some(-1), None).is_err());
        assert!(parts_page(&parts, None, Some(-1)).is_err());
        let p = parts_page(&parts, Some(6), None).unwrap();
        assert!(p.parts.unwrap().is_empty());
        assert_eq!(p.next_part_number_marker, None);
    }
}

//! ListObjects (v1), ListObjectsV2 and ListObjectVersions.

use ferrite_model::{Caller, ListPage, ListQuery, VersionQuery};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::convert::{checksum_type_of, decode_token, encode_token, etag, invalid_argument, ts};
use crate::{FerriteS3, to_s3};

const MAX_KEYS: usize = 1000;

/// `encoding-type=url` escapes everything but unreserved characters and `/`.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// An empty delimiter is no delimiter, and is not echoed back.
fn delimiter(d: Option<String>) -> Option<String> {
    d.filter(|d| !d.is_empty())
}

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(invalid_argument("max-keys must not be negative")),
        Some(n) => Ok((n as usize).min(MAX_KEYS)),
    }
}

fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
    match e {
        None => Ok(false),
        Some(e) if e.as_str() == EncodingType::URL => Ok(true),
        Some(_) => Err(invalid_argument("Invalid Encoding Method specified in Request")),
    }
}

struct Rendered {
    contents: Vec<Object>,
    prefixes: Vec<CommonPrefix>,
}

/// What the three listing operations share, already normalised (empty delimiter removed).
struct Listing<'a> {
    bucket: &'a str,
    prefix: Option<&'a str>,
    delimiter: Option<&'a str>,
    encoding: Option<&'a EncodingType>,
    max_keys: Option<i32>,
    start_after: Option<String>,
    with_owner: bool,
}

pub(crate) fn url_encoded(s: &str, encode: bool) -> String {
    if encode {
        utf8_percent_encode(s, URL_ENCODE).to_string()
    } else {
        s.to_string()
    }
}

impl FerriteS3 {
    fn render(&self, page: &ListPage, encode: bool, with_owner: bool) -> Rendered {
        let enc = |s: &str| url_encoded(s, encode);
        let contents = page
            .objects
            .iter()
            .map(|o| Object {
                key: Some(enc(&o.key)),
                size: Some(o.size as i64),
                e_tag: Some(etag(&o.etag)),
                last_modified: Some(ts(o.last_modified_ms)),
                storage_class: Some(ObjectStorageClass::from(crate::convert::class_name(o.storage_class))),
                owner: with_owner.then(|| self.owner_of(&o.owner)),
                checksum_algorithm: o
                    .checksum_algorithm
                    .map(|a| vec![ChecksumAlgorithm::from(a.name().to_string())]),
                checksum_type: o.checksum_algorithm.map(|_| checksum_type_of(o.checksum_composite)),
                restore_status: None,
            })
            .collect();
        let prefixes = page
            .common_prefixes
            .iter()
            .map(|p| CommonPrefix { prefix: Some(enc(p)) })
            .collect();
        Rendered { contents, prefixes }
    }

    /// Validates the shared parameters, lists one page and renders it; also returns the
    /// effective max-keys.
    async fn list_page(&self, caller: &Caller, l: Listing<'_>) -> S3Result<(ListPage, Rendered, usize)> {
        let encode = url_encoding(l.encoding)?;
        let max = max_keys(l.max_keys)?;
        let query = ListQuery {
            prefix: l.prefix.unwrap_or_default().to_string(),
            delimiter: l.delimiter.map(str::to_string),
            start_after: l.start_after.filter(|m| !m.is_empty()),
            max_keys: max,
        };
        let page = self.model.list_objects(caller, l.bucket, query).await.map_err(to_s3)?;
        let rendered = self.render(&page, encode, l.with_owner);
        Ok((page, rendered, max))
    }

    pub(crate) async fn do_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let caller = self.caller(&req);
        let mut input = req.input;
        input.delimiter = delimiter(input.delimiter.take());
        let (page, r, max) = self
            .list_page(
                &caller,
                Listing {
                    bucket: &input.bucket,
                    prefix: input.prefix.as_deref(),
                    delimiter: input.delimiter.as_deref(),
                    encoding: input.encoding_type.as_ref(),
                    max_keys: input.max_keys,
                    start_after: input.marker.clone(),
                    with_owner: true,
                },
            )
            .await?;
        // As AWS documents, NextMarker is returned only when a delimiter was given.
        let next_marker = if input.delimiter.is_some() {
            page.next_marker.clone()
        } else {
            None
        };
        let output = ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(input.prefix.unwrap_or_default()),
            marker: Some(input.marker.unwrap_or_default()),
            max_keys: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            contents: Some(r.contents),
            common_prefixes: Some(r.prefixes),
            delimiter: input.delimiter,
            next_marker,
            encoding_type: input.encoding_type,
            request_charged: None,
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let caller = self.caller(&req);
        let mut input = req.input;
        input.delimiter = delimiter(input.delimiter.take());
        let after_token = decode_token(input.continuation_token.as_deref())?;
        let (page, r, max) = self
            .list_page(
                &caller,
                Listing {
                    bucket: &input.bucket,
                    prefix: input.prefix.as_deref(),
                    delimiter: input.delimiter.as_deref(),
                    encoding: input.encoding_type.as_ref(),
                    max_keys: input.max_keys,
                    start_after: after_token.or_else(|| input.start_after.clone()),
                    with_owner: input.fetch_owner == Some(true),
                },
            )
            .await?;
        let key_count = (r.contents.len() + r.prefixes.len()) as i32;
        let next = if page.is_truncated {
            page.next_marker.as_ref().map(|m| encode_token(m))
        } else {
            None
        };
        let output = ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(input.prefix.unwrap_or_default()),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.is_truncated),
            next_continuation_token: next,
            contents: Some(r.contents),
            common_prefixes: Some(r.prefixes),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            start_after: input.start_after,
            request_charged: None,
        };
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let caller = self.caller(&req);
        let mut input = req.input;
        input.delimiter = delimiter(input.delimiter.take());
        let encode = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let query = VersionQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            key_marker: input.key_marker.clone().filter(|m| !m.is_empty()),
            version_id_marker: input.version_id_marker.clone().filter(|m| !m.is_empty()),
            max_keys: max,
        };
        let page = self
            .model
            .list_object_versions(&caller, &input.bucket, query)
            .await
            .map_err(to_s3)?;
        let enc = |s: &str| url_encoded(s, encode);
        let mut versions = Vec::new();
        let mut delete_markers = Vec::new();
        for v in &page.versions {
            if v.delete_marker {
                delete_markers.push(DeleteMarkerEntry {
                    is_latest: Some(v.is_latest),
                    key: Some(enc(&v.key)),
                    last_modified: Some(ts(v.last_modified_ms)),
                    owner: Some(self.owner_of(&v.owner)),
                    version_id: Some(v.version_id.clone()),
                });
                continue;
            }
            versions.push(ObjectVersion {
                checksum_algorithm: v
                    .checksum_algorithm
                    .map(|a| vec![ChecksumAlgorithm::from(a.name().to_string())]),
                checksum_type: v.checksum_algorithm.map(|_| checksum_type_of(v.checksum_composite)),
                e_tag: Some(etag(&v.etag)),
                is_latest: Some(v.is_latest),
                key: Some(enc(&v.key)),
                last_modified: Some(ts(v.last_modified_ms)),
                owner: Some(self.owner_of(&v.owner)),
                restore_status: None,
                size: Some(v.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from(crate::convert::class_name(
                    v.storage_class,
                ))),
                version_id: Some(v.version_id.clone()),
            });
        }
        let prefixes = page
            .common_prefixes
            .iter()
            .map(|p| CommonPrefix { prefix: Some(enc(p)) })
            .collect();
        let output = ListObjectVersionsOutput {
            common_prefixes: Some(prefixes),
            delete_markers: Some(delete_markers),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            is_truncated: Some(page.is_truncated),
            key_marker: Some(input.key_marker.unwrap_or_default()),
            max_keys: Some(max as i32),
            name: Some(input.bucket),
            next_key_marker: page.next_key_marker.as_deref().map(enc),
            next_version_id_marker: page.next_version_id_marker,
            prefix: Some(input.prefix.unwrap_or_default()),
            request_charged: None,
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            versions: Some(versions),
        };
        Ok(S3Response::new(output))
    }
}

//! Tags: the `x-amz-tagging` header of writes, the `Tagging` document (the tagging
//! calls' body, a POST form's `tagging` field), and Put/Get/DeleteObjectTagging and
//! Put/Get/DeleteBucketTagging. The rules (limits, order) are the model's
//! ([`ferrite_model::tag_set`]).

use ferrite_model::{TagTarget, Tags, tag_set};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::{FerriteS3, to_s3};

/// The tags of `x-amz-tagging` (URL-encoded `key=value` pairs joined by `&`; a key
/// alone has an empty value), checked as an object's tag set.
pub(crate) fn header_tags(value: Option<&str>) -> S3Result<Tags> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Tags::new());
    };
    let pairs: Tags = form_urlencoded::parse(value.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    tag_set(pairs, TagTarget::Object).map_err(to_s3)
}

/// The tags of a `Tagging` document, checked for `target`. A tag without a key is
/// malformed; one without a value has an empty value.
pub(crate) fn document_tags(tagging: Tagging, target: TagTarget) -> S3Result<Tags> {
    let pairs = tagging
        .tag_set
        .into_iter()
        .map(|t| match t.key {
            Some(k) => Ok((k, t.value.unwrap_or_default())),
            None => Err(malformed()),
        })
        .collect::<S3Result<Tags>>()?;
    tag_set(pairs, target).map_err(to_s3)
}

/// A POST form's `tagging` field: a `Tagging` XML document.
pub(crate) fn form_tags(xml: &str) -> S3Result<Tags> {
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let tagging: Tagging = s3s::xml::Deserialize::deserialize(&mut d).map_err(|_| malformed())?;
    d.expect_eof().map_err(|_| malformed())?;
    document_tags(tagging, TagTarget::Object)
}

fn malformed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn tag_set_out(tags: Tags) -> TagSet {
    tags.into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

impl FerriteS3 {
    pub(crate) async fn do_get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let view = self
            .model
            .object_tagging(&caller, &input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tag_set_out(view.tags),
            version_id: view.version_id,
        }))
    }

    pub(crate) async fn do_put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let tags = document_tags(input.tagging, TagTarget::Object)?;
        let version_id = self
            .model
            .set_object_tagging(
                &caller,
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                Some(tags),
            )
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    pub(crate) async fn do_delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let version_id = self
            .model
            .set_object_tagging(&caller, &input.bucket, &input.key, input.version_id.as_deref(), None)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }

    pub(crate) async fn do_get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let caller = self.caller(&req);
        let tags = self
            .model
            .bucket_tagging(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: tag_set_out(tags),
        }))
    }

    pub(crate) async fn do_put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let tags = document_tags(input.tagging, TagTarget::Bucket)?;
        self.model
            .set_bucket_tagging(&caller, &input.bucket, Some(tags))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketTaggingOutput::default()))
    }

    pub(crate) async fn do_delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let caller = self.caller(&req);
        self.model
            .set_bucket_tagging(&caller, &req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Tags {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_tagging_header_is_url_encoded_pairs_and_a_bare_key_has_an_empty_value() {
        assert_eq!(
            header_tags(Some("foo=bar&bar")).unwrap(),
            pairs(&[("bar", ""), ("foo", "bar")])
        );
        assert_eq!(
            header_tags(Some("a%20b=c%26d&e=f%3Dg")).unwrap(),
            pairs(&[("a b", "c&d"), ("e", "f=g")])
        );
        assert!(header_tags(None).unwrap().is_empty());
        assert!(header_tags(Some("")).unwrap().is_empty());
        let eleven = (0..11).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("&");
        assert_eq!(header_tags(Some(&eleven)).unwrap_err().code(), &S3ErrorCode::InvalidTag);
        assert_eq!(
            header_tags(Some("k=1&k=2")).unwrap_err().code(),
            &S3ErrorCode::InvalidTag
        );
    }

    #[test]
    fn a_form_tagging_field_is_a_tagging_document() {
        let xml = "<Tagging><TagSet><Tag><Key>1</Key><Value>b</Value></Tag>\
                   <Tag><Key>0</Key><Value></Value></Tag></TagSet></Tagging>";
        assert_eq!(form_tags(xml).unwrap(), pairs(&[("0", ""), ("1", "b")]));
        for bad in [
            "<Tagging><TagSet><Tag><Value>b</Value></Tag></TagSet></Tagging>",
            "<Tagging><TagSet>",
            "not xml",
        ] {
            assert_eq!(form_tags(bad).unwrap_err().code(), &S3ErrorCode::MalformedXML, "{bad}");
        }
        let too_long = format!(
            "<Tagging><TagSet><Tag><Key>{}</Key><Value/></Tag></TagSet></Tagging>",
            "k".repeat(129)
        );
        assert_eq!(form_tags(&too_long).unwrap_err().code(), &S3ErrorCode::InvalidTag);
    }
}

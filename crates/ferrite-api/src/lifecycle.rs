//! Put/Get/DeleteBucketLifecycleConfiguration: the `LifecycleConfiguration` document
//! to and from the model's [`ferrite_model::LifecycleConfig`], and `x-amz-expiration`.
//! The document's shape is checked here (one of each choice, required elements);
//! the rules AWS puts on the values are the model's (`LifecycleConfig::validate`).

use ferrite_model as model;
use ferrite_model::{AndFilter, Expiration, RuleFilter, When};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::convert::{http_date, invalid_argument, ms_of, ts};
use crate::{FerriteS3, to_s3};

fn malformed(why: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        format!("The XML you provided was not well-formed or did not validate against our published schema: {why}"),
    )
}

/// What a rule id keeps unencoded in `x-amz-expiration`: URL's unreserved characters.
const RULE_ID: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `x-amz-expiration`: `expiry-date="<HTTP date>", rule-id="<id, URL-encoded>"`.
pub(crate) fn expiration_header(e: Option<&(i64, String)>) -> Option<String> {
    e.map(|(ms, id)| {
        let id = percent_encoding::utf8_percent_encode(id, RULE_ID);
        format!("expiry-date=\"{}\", rule-id=\"{id}\"", http_date(*ms))
    })
}

fn days(n: i32, what: &str) -> S3Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid_argument(format!("'{what}' must be a positive integer")))
}

fn size(n: i64) -> S3Result<u64> {
    u64::try_from(n).map_err(|_| invalid_argument("Object size filters must be non-negative"))
}

fn class(c: Option<TransitionStorageClass>) -> S3Result<model::StorageClass> {
    let c = c.ok_or_else(|| malformed("a transition needs a StorageClass"))?;
    model::StorageClass::parse(c.as_str()).ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidStorageClass,
            "The storage class you specified is not valid",
        )
    })
}

fn tag_of(t: Tag) -> S3Result<(String, String)> {
    match t.key {
        Some(k) => Ok((k, t.value.unwrap_or_default())),
        None => Err(malformed("a Tag needs a Key")),
    }
}

fn filter_of(filter: Option<LifecycleRuleFilter>, legacy: Option<String>) -> S3Result<RuleFilter> {
    let f = match (filter, legacy) {
        (Some(_), Some(_)) => return Err(malformed("a rule has either a Filter or a Prefix, not both")),
        (None, Some(p)) => return Ok(RuleFilter::Legacy(p)),
        (None, None) => return Err(malformed("a rule needs a Filter or a Prefix")),
        (Some(f), None) => f,
    };
    let given = [
        f.prefix.is_some(),
        f.tag.is_some(),
        f.and.is_some(),
        f.object_size_greater_than.is_some(),
        f.object_size_less_than.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    if given > 1 {
        return Err(malformed(
            "a Filter holds one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And",
        ));
    }
    Ok(if let Some(p) = f.prefix {
        RuleFilter::Prefix(p)
    } else if let Some(t) = f.tag {
        let (k, v) = tag_of(t)?;
        RuleFilter::Tag(k, v)
    } else if let Some(n) = f.object_size_greater_than {
        RuleFilter::SizeGreaterThan(size(n)?)
    } else if let Some(n) = f.object_size_less_than {
        RuleFilter::SizeLessThan(size(n)?)
    } else if let Some(a) = f.and {
        RuleFilter::And(AndFilter {
            prefix: a.prefix,
            tags: a
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(tag_of)
                .collect::<S3Result<_>>()?,
            size_greater_than: a.object_size_greater_than.map(size).transpose()?,
            size_less_than: a.object_size_less_than.map(size).transpose()?,
        })
    } else {
        RuleFilter::Empty
    })
}

fn when(days_: Option<i32>, date: Option<Timestamp>, what: &str) -> S3Result<When> {
    match (days_, date) {
        (Some(_), Some(_)) => Err(malformed(&format!("{what} has either Days or Date, not both"))),
        (Some(n), None) => Ok(When::Days(days(n, &format!("Days' for '{what}"))?)),
        (None, Some(d)) => Ok(When::Date(ms_of(d))),
        (None, None) => Err(malformed(&format!("{what} needs Days or Date"))),
    }
}

fn expiration_of(e: LifecycleExpiration) -> S3Result<Expiration> {
    match (e.days, e.date, e.expired_object_delete_marker) {
        (None, None, Some(flag)) => Ok(Expiration::ExpiredObjectDeleteMarker(flag)),
        (_, _, Some(_)) => Err(malformed(
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy",
        )),
        (d, date, None) => Ok(Expiration::After(when(d, date, "Expiration")?)),
    }
}

/// A `LifecycleConfiguration` document as the model's configuration (the S3 API's and
/// the admin API's one conversion).
fn config_of(doc: BucketLifecycleConfiguration) -> S3Result<model::LifecycleConfig> {
    if doc.rules.len() > model::MAX_LIFECYCLE_RULES {
        return Err(invalid_argument(format!(
            "a lifecycle configuration holds at most {} rules",
            model::MAX_LIFECYCLE_RULES
        )));
    }
    let rules = doc.rules.into_iter().map(rule_of).collect::<S3Result<Vec<_>>>()?;
    Ok(model::LifecycleConfig { rules })
}

/// A `LifecycleConfiguration` XML document (the admin API's body) as the model's
/// configuration, parsed by the same XML reader as the S3 API's.
pub(crate) fn config_from_xml(xml: &str) -> S3Result<model::LifecycleConfig> {
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let doc: BucketLifecycleConfiguration = s3s::xml::Deserialize::deserialize(&mut d)
        .map_err(|_| malformed("not a well-formed LifecycleConfiguration document"))?;
    d.expect_eof()
        .map_err(|_| malformed("not a well-formed LifecycleConfiguration document"))?;
    config_of(doc)
}

fn rule_of(r: LifecycleRule) -> S3Result<model::LifecycleRule> {
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(malformed("Status is Enabled or Disabled")),
    };
    let noncurrent_expiration = r
        .noncurrent_version_expiration
        .map(|n| -> S3Result<_> {
            let d = n
                .noncurrent_days
                .ok_or_else(|| malformed("NoncurrentVersionExpiration needs NoncurrentDays"))?;
            Ok(model::NoncurrentExpiration {
                days: days(d, "NoncurrentDays")?,
                newer_noncurrent: n.newer_noncurrent_versions.map(newer).transpose()?,
            })
        })
        .transpose()?;
    let transitions = r
        .transitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            Ok(model::Transition {
                when: when(t.days, t.date, "Transition")?,
                class: class(t.storage_class)?,
            })
        })
        .collect::<S3Result<_>>()?;
    let noncurrent_transitions = r
        .noncurrent_version_transitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let d = t
                .noncurrent_days
                .ok_or_else(|| malformed("NoncurrentVersionTransition needs NoncurrentDays"))?;
            Ok(model::NoncurrentTransition {
                days: days(d, "NoncurrentDays")?,
                newer_noncurrent: t.newer_noncurrent_versions.map(newer).transpose()?,
                class: class(t.storage_class)?,
            })
        })
        .collect::<S3Result<_>>()?;
    let abort_incomplete_days = r
        .abort_incomplete_multipart_upload
        .map(|a| {
            let d = a
                .days_after_initiation
                .ok_or_else(|| malformed("AbortIncompleteMultipartUpload needs DaysAfterInitiation"))?;
            days(d, "DaysAfterInitiation")
        })
        .transpose()?;
    Ok(model::LifecycleRule {
        id: r.id.unwrap_or_default(),
        enabled,
        filter: filter_of(r.filter, r.prefix)?,
        expiration: r.expiration.map(expiration_of).transpose()?,
        noncurrent_expiration,
        transitions,
        noncurrent_transitions,
        abort_incomplete_days,
    })
}

fn newer(n: i32) -> S3Result<u32> {
    u32::try_from(n).map_err(|_| invalid_argument("'NewerNoncurrentVersions' must be a positive integer"))
}

fn tag_out((k, v): &(String, String)) -> Tag {
    Tag {
        key: Some(k.clone()),
        value: Some(v.clone()),
    }
}

fn class_out(c: model::StorageClass) -> TransitionStorageClass {
    TransitionStorageClass::from(c.as_str().to_string())
}

fn when_out(w: When) -> (Option<i32>, Option<Timestamp>) {
    match w {
        When::Days(d) => (Some(d as i32), None),
        When::Date(ms) => (None, Some(ts(ms))),
    }
}

fn rule_out(r: &model::LifecycleRule) -> LifecycleRule {
    let (filter, prefix) = match &r.filter {
        RuleFilter::Legacy(p) => (None, Some(p.clone())),
        f => {
            let mut out = LifecycleRuleFilter::default();
            match f {
                RuleFilter::Legacy(_) | RuleFilter::Empty => {}
                RuleFilter::Prefix(p) => out.prefix = Some(p.clone()),
                RuleFilter::Tag(k, v) => out.tag = Some(tag_out(&(k.clone(), v.clone()))),
                RuleFilter::SizeGreaterThan(n) => out.object_size_greater_than = Some(*n as i64),
                RuleFilter::SizeLessThan(n) => out.object_size_less_than = Some(*n as i64),
                RuleFilter::And(a) => {
                    out.and = Some(LifecycleRuleAndOperator {
                        prefix: a.prefix.clone(),
                        tags: (!a.tags.is_empty()).then(|| a.tags.iter().map(tag_out).collect()),
                        object_size_greater_than: a.size_greater_than.map(|n| n as i64),
                        object_size_less_than: a.size_less_than.map(|n| n as i64),
                    })
                }
            }
            (Some(out), None)
        }
    };
    LifecycleRule {
        id: Some(r.id.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter,
        prefix,
        expiration: r.expiration.map(|e| match e {
            Expiration::After(w) => {
                let (days, date) = when_out(w);
                LifecycleExpiration {
                    days,
                    date,
                    expired_object_delete_marker: None,
                }
            }
            Expiration::ExpiredObjectDeleteMarker(flag) => LifecycleExpiration {
                days: None,
                date: None,
                expired_object_delete_marker: Some(flag),
            },
        }),
        noncurrent_version_expiration: r.noncurrent_expiration.map(|n| NoncurrentVersionExpiration {
            noncurrent_days: Some(n.days as i32),
            newer_noncurrent_versions: n.newer_noncurrent.map(|v| v as i32),
        }),
        transitions: (!r.transitions.is_empty()).then(|| {
            r.transitions
                .iter()
                .map(|t| {
                    let (days, date) = when_out(t.when);
                    Transition {
                        days,
                        date,
                        storage_class: Some(class_out(t.class)),
                    }
                })
                .collect()
        }),
        noncurrent_version_transitions: (!r.noncurrent_transitions.is_empty()).then(|| {
            r.noncurrent_transitions
                .iter()
                .map(|t| NoncurrentVersionTransition {
                    noncurrent_days: Some(t.days as i32),
                    newer_noncurrent_versions: t.newer_noncurrent.map(|v| v as i32),
                    storage_class: Some(class_out(t.class)),
                })
                .collect()
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_days.map(|d| AbortIncompleteMultipartUpload {
            days_after_initiation: Some(d as i32),
        }),
    }
}

impl FerriteS3 {
    pub(crate) async fn do_put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let doc = input
            .lifecycle_configuration
            .ok_or_else(|| malformed("the request has no LifecycleConfiguration"))?;
        self.model
            .set_lifecycle_configuration(&caller, &input.bucket, Some(config_of(doc)?))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
    }

    pub(crate) async fn do_get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let caller = self.caller(&req);
        let config = self
            .model
            .lifecycle_configuration(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(config.rules.iter().map(rule_out).collect()),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let caller = self.caller(&req);
        self.model
            .set_lifecycle_configuration(&caller, &req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(xml_filter: Option<LifecycleRuleFilter>, prefix: Option<&str>) -> LifecycleRule {
        LifecycleRule {
            id: Some("r".into()),
            status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
            filter: xml_filter,
            prefix: prefix.map(str::to_string),
            expiration: Some(LifecycleExpiration {
                days: Some(1),
                date: None,
                expired_object_delete_marker: None,
            }),
            noncurrent_version_expiration: None,
            transitions: None,
            noncurrent_version_transitions: None,
            abort_incomplete_multipart_upload: None,
        }
    }

    #[test]
    fn rules_convert_both_ways_and_malformed_shapes_are_refused() {
        let legacy = rule_of(rule(None, Some("logs/"))).unwrap();
        assert_eq!(legacy.filter, RuleFilter::Legacy("logs/".into()));
        let back = rule_out(&legacy);
        assert_eq!(back.prefix.as_deref(), Some("logs/"));
        assert!(back.filter.is_none());

        let and = LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some("p/".into()),
                tags: Some(vec![Tag {
                    key: Some("k".into()),
                    value: Some("v".into()),
                }]),
                object_size_greater_than: Some(5),
                object_size_less_than: None,
            }),
            ..Default::default()
        };
        let r = rule_of(rule(Some(and), None)).unwrap();
        assert_eq!(rule_of(rule_out(&r)).unwrap(), r);

        let code = |r: LifecycleRule| rule_of(r).unwrap_err().code().clone();
        assert_eq!(code(rule(None, None)), S3ErrorCode::MalformedXML);
        assert_eq!(
            code(rule(Some(LifecycleRuleFilter::default()), Some("x"))),
            S3ErrorCode::MalformedXML
        );
        let two = LifecycleRuleFilter {
            prefix: Some("a".into()),
            object_size_less_than: Some(3),
            ..Default::default()
        };
        assert_eq!(code(rule(Some(two), None)), S3ErrorCode::MalformedXML);
        let mut bad_status = rule(None, Some(""));
        bad_status.status = ExpirationStatus::from("enabled".to_string());
        assert_eq!(code(bad_status), S3ErrorCode::MalformedXML);
        let mut both = rule(None, Some(""));
        both.expiration = Some(LifecycleExpiration {
            days: Some(1),
            date: Some(ts(0)),
            expired_object_delete_marker: None,
        });
        assert_eq!(code(both), S3ErrorCode::MalformedXML);
        let mut negative = rule(None, Some(""));
        negative.expiration = Some(LifecycleExpiration {
            days: Some(-1),
            date: None,
            expired_object_delete_marker: None,
        });
        assert_eq!(code(negative), S3ErrorCode::InvalidArgument);
        let mut unknown = rule(None, Some(""));
        unknown.transitions = Some(vec![Transition {
            days: Some(1),
            date: None,
            storage_class: Some(TransitionStorageClass::from("FAST".to_string())),
        }]);
        assert_eq!(code(unknown), S3ErrorCode::InvalidStorageClass);
    }

    #[test]
    fn the_expiration_header_has_aws_shape() {
        assert_eq!(
            expiration_header(Some(&(1_356_220_800_000, "rule 1".into()))).as_deref(),
            Some("expiry-date=\"Sun, 23 Dec 2012 00:00:00 GMT\", rule-id=\"rule%201\"")
        );
        assert_eq!(expiration_header(None), None);
    }
}

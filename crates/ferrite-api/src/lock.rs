//! Object Lock in S3's terms: the `x-amz-object-lock-*` headers of writes, the lock
//! headers of GET and HEAD, and Put/GetObjectLockConfiguration,
//! Put/GetObjectRetention, Put/GetObjectLegalHold. The rules are the model's
//! (`ferrite_model::lock`); this parses and renders.

use ferrite_model::{LockConfig, LockInfo, LockMode, LockRequest, Retention, RetentionPeriod};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use time::OffsetDateTime;

use crate::convert::{invalid_argument, ts};
use crate::{FerriteS3, to_s3};

fn malformed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// A mode as S3 spells it (upper case only, as AWS).
fn mode_in(s: &str) -> Option<LockMode> {
    match s {
        ObjectLockRetentionMode::GOVERNANCE => Some(LockMode::Governance),
        ObjectLockRetentionMode::COMPLIANCE => Some(LockMode::Compliance),
        _ => None,
    }
}

fn mode_name(m: LockMode) -> &'static str {
    match m {
        LockMode::Governance => ObjectLockRetentionMode::GOVERNANCE,
        LockMode::Compliance => ObjectLockRetentionMode::COMPLIANCE,
    }
}

fn ms_of(t: Timestamp) -> i64 {
    let t: OffsetDateTime = t.into();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The lock a write's headers ask for: `x-amz-object-lock-mode` and
/// `-retain-until-date` (both or neither) and `-legal-hold` (ON or OFF).
pub(crate) fn lock_request(
    mode: Option<&str>,
    until: Option<Timestamp>,
    legal_hold: Option<&str>,
) -> S3Result<LockRequest> {
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let mode = mode_in(m).ok_or_else(|| invalid_argument("Unknown wormMode directive."))?;
            Some((mode, ms_of(u)))
        }
        _ => {
            return Err(invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let legal_hold = match legal_hold {
        None => None,
        Some(ObjectLockLegalHoldStatus::ON) => Some(true),
        Some(ObjectLockLegalHoldStatus::OFF) => Some(false),
        Some(_) => return Err(invalid_argument("Legal Hold must be either of 'ON' or 'OFF'")),
    };
    Ok(LockRequest { retention, legal_hold })
}

/// `x-amz-object-lock-mode` of a version with a retention.
pub(crate) fn mode_out(lock: &LockInfo) -> Option<ObjectLockMode> {
    lock.mode.map(|m| ObjectLockMode::from_static(mode_name(m)))
}

/// `x-amz-object-lock-retain-until-date`.
pub(crate) fn until_out(lock: &LockInfo) -> Option<Timestamp> {
    lock.retain_until_ms.map(ts)
}

/// `x-amz-object-lock-legal-hold`: answered only when the hold is on.
pub(crate) fn hold_out(lock: &LockInfo) -> Option<ObjectLockLegalHoldStatus> {
    lock.legal_hold
        .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON))
}

/// A lock configuration document: `ObjectLockEnabled` must be `Enabled`; a rule has a
/// default retention with a mode and exactly one of Days and Years.
fn config_in(doc: Option<ObjectLockConfiguration>) -> S3Result<LockConfig> {
    let doc = doc.ok_or_else(malformed)?;
    if doc.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some(ObjectLockEnabled::ENABLED) {
        return Err(malformed());
    }
    let Some(rule) = doc.rule else {
        return Ok(LockConfig::default());
    };
    let d = rule.default_retention.ok_or_else(malformed)?;
    let mode = d
        .mode
        .as_ref()
        .and_then(|m| mode_in(m.as_str()))
        .ok_or_else(malformed)?;
    let positive = |n: i32| u32::try_from(n).map_err(|_| to_s3(ferrite_model::ModelError::InvalidRetentionPeriod));
    let period = match (d.days, d.years) {
        (Some(days), None) => RetentionPeriod::Days(positive(days)?),
        (None, Some(years)) => RetentionPeriod::Years(positive(years)?),
        _ => return Err(malformed()),
    };
    Ok(LockConfig {
        default_retention: Some(ferrite_model::DefaultRetention { mode, period }),
    })
}

fn config_out(config: LockConfig) -> ObjectLockConfiguration {
    ObjectLockConfiguration {
        object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
        rule: config.default_retention.map(|d| ObjectLockRule {
            default_retention: Some(DefaultRetention {
                mode: Some(ObjectLockRetentionMode::from_static(mode_name(d.mode))),
                days: match d.period {
                    RetentionPeriod::Days(n) => Some(n as i32),
                    RetentionPeriod::Years(_) => None,
                },
                years: match d.period {
                    RetentionPeriod::Years(n) => Some(n as i32),
                    RetentionPeriod::Days(_) => None,
                },
            }),
        }),
    }
}

/// A Retention document: a mode and a date, or neither (which removes the retention).
fn retention_in(doc: Option<ObjectLockRetention>) -> S3Result<Option<Retention>> {
    let Some(doc) = doc else {
        return Ok(None);
    };
    match (doc.mode, doc.retain_until_date) {
        (None, None) => Ok(None),
        (Some(m), Some(u)) => {
            let mode = mode_in(m.as_str()).ok_or_else(malformed)?;
            Ok(Some(Retention {
                mode,
                retain_until_ms: ms_of(u),
            }))
        }
        _ => Err(malformed()),
    }
}

impl FerriteS3 {
    pub(crate) async fn do_put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let config = config_in(input.object_lock_configuration)?;
        self.model
            .put_object_lock_configuration(&caller, &input.bucket, config)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    pub(crate) async fn do_get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let caller = self.caller(&req);
        let config = self
            .model
            .object_lock_configuration(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(config_out(config)),
        }))
    }

    pub(crate) async fn do_put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let retention = retention_in(input.retention)?;
        self.model
            .put_object_retention(
                &caller,
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                retention,
                input.bypass_governance_retention.unwrap_or(false),
            )
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    pub(crate) async fn do_get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let r = self
            .model
            .object_retention(&caller, &input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from_static(mode_name(r.mode))),
                retain_until_date: Some(ts(r.retain_until_ms)),
            }),
        }))
    }

    pub(crate) async fn do_put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let on = match input.legal_hold.and_then(|h| h.status).as_ref().map(|s| s.as_str()) {
            Some(ObjectLockLegalHoldStatus::ON) => true,
            Some(ObjectLockLegalHoldStatus::OFF) => false,
            _ => return Err(malformed()),
        };
        self.model
            .put_object_legal_hold(&caller, &input.bucket, &input.key, input.version_id.as_deref(), on)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    pub(crate) async fn do_get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let on = self
            .model
            .object_legal_hold(&caller, &input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        let status = if on {
            ObjectLockLegalHoldStatus::ON
        } else {
            ObjectLockLegalHoldStatus::OFF
        };
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold {
                status: Some(ObjectLockLegalHoldStatus::from_static(status)),
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from(OffsetDateTime::from_unix_timestamp(secs).unwrap())
    }

    #[test]
    fn write_headers_are_both_or_neither_and_spelled_as_aws() {
        let r = lock_request(Some("GOVERNANCE"), Some(at(2_000_000_000)), Some("ON")).unwrap();
        assert_eq!(r.retention, Some((LockMode::Governance, 2_000_000_000_000)));
        assert_eq!(r.legal_hold, Some(true));
        assert!(lock_request(None, None, None).unwrap().is_empty());
        assert_eq!(lock_request(None, None, Some("OFF")).unwrap().legal_hold, Some(false));
        for (mode, until, hold) in [
            (Some("GOVERNANCE"), None, None),
            (None, Some(at(1)), None),
            (Some("governance"), Some(at(1)), None),
            (None, None, Some("on")),
        ] {
            let e = lock_request(mode, until, hold).unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::InvalidArgument, "{mode:?} {hold:?}");
        }
    }

    #[test]
    fn configurations_need_enabled_and_one_positive_period() {
        let doc = |enabled: &str, mode: Option<&str>, days: Option<i32>, years: Option<i32>| {
            Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from(enabled.to_string())),
                rule: Some(ObjectLockRule {
                    default_retention: Some(DefaultRetention {
                        mode: mode.map(|m| ObjectLockRetentionMode::from(m.to_string())),
                        days,
                        years,
                    }),
                }),
            })
        };
        let ok = config_in(doc("Enabled", Some("COMPLIANCE"), None, Some(1))).unwrap();
        assert_eq!(
            ok.default_retention,
            Some(ferrite_model::DefaultRetention {
                mode: LockMode::Compliance,
                period: RetentionPeriod::Years(1)
            })
        );
        assert_eq!(
            config_out(ok.clone()).rule.unwrap().default_retention.unwrap().years,
            Some(1)
        );
        for bad in [
            doc("Disabled", Some("GOVERNANCE"), Some(1), None),
            doc("Enabled", Some("governance"), Some(1), None),
            doc("Enabled", None, Some(1), None),
            doc("Enabled", Some("GOVERNANCE"), Some(1), Some(1)),
            doc("Enabled", Some("GOVERNANCE"), None, None),
            None,
        ] {
            assert_eq!(config_in(bad).unwrap_err().code(), &S3ErrorCode::MalformedXML);
        }
        let e = config_in(doc("Enabled", Some("GOVERNANCE"), None, Some(-1))).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidRetentionPeriod");
    }
}

//! Read preconditions (If-Match, If-None-Match, If-Modified-Since,
//! If-Unmodified-Since), evaluated as AWS and RFC 9110 order them:
//! If-Match decides over If-Unmodified-Since, If-None-Match over If-Modified-Since.

use crate::{ModelError, ModelResult};

#[derive(Debug, Clone, Default)]
pub struct ReadConditions {
    /// ETags without quotes; `"*"` matches any.
    pub if_match: Option<Vec<String>>,
    pub if_none_match: Option<Vec<String>>,
    /// Unix seconds.
    pub if_modified_since: Option<i64>,
    pub if_unmodified_since: Option<i64>,
    /// The SSE-C key the read presents (GET/HEAD's `x-amz-server-side-encryption-customer-key`,
    /// a copy's `x-amz-copy-source-server-side-encryption-customer-key`): an SSE-C
    /// version cannot be read or described without it.
    pub sse_customer_key: Option<crate::sse::CustomerKey>,
}

fn not_modified(etag: &str, last_modified_ms: i64) -> ModelError {
    ModelError::NotModified {
        etag: etag.to_string(),
        last_modified_ms,
    }
}

fn matches(list: &[String], etag: &str) -> bool {
    list.iter().any(|e| e == "*" || e == etag)
}

/// `etag` without quotes; `last_modified_ms` in unix milliseconds (compared at the
/// one-second precision of HTTP dates). `PreconditionFailed` maps to 412 and
/// `NotModified` to 304.
pub fn evaluate_read_conditions(c: &ReadConditions, etag: &str, last_modified_ms: i64) -> ModelResult<()> {
    let modified_s = last_modified_ms.div_euclid(1000);
    match &c.if_match {
        Some(list) if !matches(list, etag) => return Err(ModelError::PreconditionFailed),
        Some(_) => {}
        None => {
            if let Some(t) = c.if_unmodified_since
                && modified_s > t
            {
                return Err(ModelError::PreconditionFailed);
            }
        }
    }
    match &c.if_none_match {
        Some(list) if matches(list, etag) => return Err(not_modified(etag, last_modified_ms)),
        Some(_) => {}
        None => {
            if let Some(t) = c.if_modified_since
                && modified_s <= t
            {
                return Err(not_modified(etag, last_modified_ms));
            }
        }
    }
    Ok(())
}

/// Copy-source conditions (`x-amz-copy-source-if-*`, CopyObject and UploadPartCopy
/// alike) are read conditions, except that one that fails is 412, never 304; and a
/// source that is a delete marker is a bad request, not a missing object.
pub(crate) fn as_copy_source(e: ModelError) -> ModelError {
    match e {
        ModelError::NotModified { .. } => ModelError::PreconditionFailed,
        // A copy names a source; what GET says about delete markers (405 with the
        // marker's headers, or 404 with them) is not what a copy answers.
        ModelError::DeleteMarkerVersion { .. } => ModelError::CopySourceIsDeleteMarker,
        ModelError::DeletedKey { .. } => ModelError::NoSuchKey,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000;

    fn check(c: ReadConditions) -> &'static str {
        match evaluate_read_conditions(&c, "abc", T * 1000 + 500) {
            Ok(()) => "ok",
            Err(ModelError::PreconditionFailed) => "412",
            Err(ModelError::NotModified { etag, .. }) => {
                assert_eq!(etag, "abc");
                "304"
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn list(s: &str) -> Option<Vec<String>> {
        Some(vec![s.to_string()])
    }

    #[test]
    fn each_condition_alone() {
        assert_eq!(
            check(ReadConditions {
                if_match: list("abc"),
                ..Default::default()
            }),
            "ok"
        );
        assert_eq!(
            check(ReadConditions {
                if_match: list("*"),
                ..Default::default()
            }),
            "ok"
        );
        assert_eq!(
            check(ReadConditions {
                if_match: list("zzz"),
                ..Default::default()
            }),
            "412"
        );
        assert_eq!(
            check(ReadConditions {
                if_none_match: list("abc"),
                ..Default::default()
            }),
            "304"
        );
        assert_eq!(
            check(ReadConditions {
                if_none_match: list("zzz"),
                ..Default::default()
            }),
            "ok"
        );
        assert_eq!(
            check(ReadConditions {
                if_modified_since: Some(T),
                ..Default::default()
            }),
            "304"
        );
        assert_eq!(
            check(ReadConditions {
                if_modified_since: Some(T - 1),
                ..Default::default()
            }),
            "ok"
        );
        assert_eq!(
            check(ReadConditions {
                if_unmodified_since: Some(T),
                ..Default::default()
            }),
            "ok"
        );
        assert_eq!(
            check(ReadConditions {
                if_unmodified_since: Some(T - 1),
                ..Default::default()
            }),
            "412"
        );
    }

    #[test]
    fn aws_precedence() {
        // If-Match true + If-Unmodified-Since false: 200.
        let c = ReadConditions {
            if_match: list("abc"),
            if_unmodified_since: Some(T - 10),
            ..Default::default()
        };
        assert_eq!(check(c), "ok");
        // If-None-Match false (no match) + If-Modified-Since false: 200, INM decides.
        let c = ReadConditions {
            if_none_match: list("zzz"),
            if_modified_since: Some(T + 10),
            ..Default::default()
        };
        assert_eq!(check(c), "ok");
        // If-None-Match matches + If-Modified-Since true: 304.
        let c = ReadConditions {
            if_none_match: list("abc"),
            if_modified_since: Some(T - 10),
            ..Default::default()
        };
        assert_eq!(check(c), "304");
        // If-Match fails before If-None-Match is looked at.
        let c = ReadConditions {
            if_match: list("zzz"),
            if_none_match: list("abc"),
            ..Default::default()
        };
        assert_eq!(check(c), "412");
    }
}

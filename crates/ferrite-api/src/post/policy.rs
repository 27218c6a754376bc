//! POST policies: the base64 JSON document a signed form carries, parsed and checked
//! against the form (all but the file's size, which the stream enforces).

use base64::Engine as _;
use s3s::S3Error;
#[cfg(test)]
use s3s::S3ErrorCode;
use time::OffsetDateTime;

use super::{EXEMPT, Form, invalid_policy, policy_failed};

/// One condition of a POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Condition {
    Eq {
        field: String,
        value: String,
        shown: String,
    },
    StartsWith {
        field: String,
        prefix: String,
        shown: String,
    },
    LengthRange {
        min: u64,
        max: u64,
    },
}

/// A POST policy: when it expires and what the form must satisfy.
#[derive(Debug)]
pub(super) struct Policy {
    expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

impl Policy {
    /// Decodes the `policy` field: base64 of a JSON document with `expiration` (ISO
    /// 8601) and `conditions` (`{"field": "value"}`, `["eq", "$field", "value"]`,
    /// `["starts-with", "$field", "prefix"]`, `["content-length-range", min, max]`).
    /// Operators and field names are matched without regard to case, as AWS does.
    pub(super) fn parse(b64: &str) -> Result<Self, S3Error> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| invalid_policy("Policy is not base64-encoded."))?;
        let doc: serde_json::Value =
            serde_json::from_slice(&raw).map_err(|_| invalid_policy("Policy is not valid JSON."))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| invalid_policy("Policy is not a JSON object."))?;
        let expiration = obj
            .get("expiration")
            .ok_or_else(|| invalid_policy("Policy missing expiration."))?;
        let expiration = expiration
            .as_str()
            // ISO 8601 as AWS reads it: RFC 3339 with the `T` (the `time` crate also
            // takes RFC 3339's space, which AWS refuses).
            .filter(|s| s.as_bytes().get(10) == Some(&b'T'))
            .and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .ok_or_else(|| invalid_policy(&format!("Invalid 'expiration' value: {expiration}")))?;
        let list = obj
            .get("conditions")
            .ok_or_else(|| invalid_policy("Policy missing conditions."))?
            .as_array()
            .ok_or_else(|| invalid_policy("Invalid 'conditions' value: not a list."))?;
        let conditions = list.iter().map(Condition::parse).collect::<Result<_, _>>()?;
        Ok(Self { expiration, conditions })
    }

    /// Checks the form against the policy (all but the file's size); returns the
    /// allowed size range of the file.
    /// Checks the form against the conditions; `key` is the key field with
    /// `${filename}` already replaced (conditions on `$key` see the final key).
    pub(super) fn check(
        &self,
        form: &Form,
        bucket: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<(u64, u64), S3Error> {
        if now > self.expiration {
            return Err(policy_failed("Policy expired."));
        }
        let value = |field: &str| match field {
            "bucket" => Some(bucket),
            "key" => Some(key),
            _ => form.get(field),
        };
        let mut range = (0, u64::MAX);
        for c in &self.conditions {
            let ok = match c {
                Condition::Eq { field, value: want, .. } => value(field) == Some(want.as_str()),
                Condition::StartsWith { field, prefix, .. } => value(field).unwrap_or("").starts_with(prefix.as_str()),
                Condition::LengthRange { min, max } => {
                    range = (range.0.max(*min), range.1.min(*max));
                    true
                }
            };
            if !ok {
                return Err(policy_failed(&format!("Policy Condition failed: {}", c.shown())));
            }
        }
        let extra: Vec<String> = form
            .names()
            .filter(|n| !EXEMPT.contains(&n.as_str()) && !n.starts_with("x-ignore-"))
            .filter(|n| !self.conditions.iter().any(|c| c.field() == Some(n.as_str())))
            .collect();
        if !extra.is_empty() {
            return Err(policy_failed(&format!("Extra input fields: {}", extra.join(", "))));
        }
        Ok(range)
    }
}

impl Condition {
    fn parse(v: &serde_json::Value) -> Result<Self, S3Error> {
        let bad = || invalid_policy(&format!("Invalid Condition: {v}"));
        if let Some(obj) = v.as_object() {
            let mut entries = obj.iter();
            let (Some((field, value)), None) = (entries.next(), entries.next()) else {
                return Err(bad());
            };
            let value = value.as_str().ok_or_else(bad)?;
            return Ok(Condition::Eq {
                field: field.to_ascii_lowercase(),
                value: value.to_string(),
                shown: shown("eq", &format!("${field}"), value),
            });
        }
        let items = v.as_array().ok_or_else(bad)?;
        let [op, a, b] = items.as_slice() else {
            return Err(bad());
        };
        let op = op.as_str().ok_or_else(bad)?.to_ascii_lowercase();
        if op == "content-length-range" {
            let bound = |x: &serde_json::Value| {
                x.as_u64()
                    .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
                    .ok_or_else(bad)
            };
            let (min, max) = (bound(a)?, bound(b)?);
            if min > max {
                return Err(bad());
            }
            return Ok(Condition::LengthRange { min, max });
        }
        let (Some(raw_field), Some(value)) = (a.as_str(), b.as_str()) else {
            return Err(bad());
        };
        let field = raw_field.strip_prefix('$').ok_or_else(bad)?.to_ascii_lowercase();
        let shown = shown(&op, raw_field, value);
        match op.as_str() {
            "eq" => Ok(Condition::Eq {
                field,
                value: value.to_string(),
                shown,
            }),
            "starts-with" => Ok(Condition::StartsWith {
                field,
                prefix: value.to_string(),
                shown,
            }),
            _ => Err(bad()),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => Some(field),
            Condition::LengthRange { .. } => None,
        }
    }

    fn shown(&self) -> String {
        match self {
            Condition::Eq { shown, .. } | Condition::StartsWith { shown, .. } => shown.clone(),
            Condition::LengthRange { min, max } => format!("[\"content-length-range\", {min}, {max}]"),
        }
    }
}

/// A condition as AWS repeats it in its error: `["eq", "$key", "value"]`.
fn shown(op: &str, field: &str, value: &str) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    format!("[{}, {}, {}]", q(op), q(field), q(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    /// `check` with the form's own key (no `${filename}` in it).
    fn chk(p: &Policy, f: &Form, bucket: &str, now: OffsetDateTime) -> Result<(u64, u64), S3Error> {
        p.check(f, bucket, f.get("key").unwrap_or(""), now)
    }

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn policies_parse_all_condition_forms() {
        let p = Policy::parse(&b64(r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [
                {"Bucket": "b"}, ["StArTs-WiTh", "$Key", "up/"], ["eq", "$acl", "private"],
                ["content-length-range", 1, "10"]]}"#))
        .unwrap();
        assert_eq!(p.expiration, at("2030-01-01T00:00:00Z"));
        assert_eq!(p.conditions.len(), 4);
        assert_eq!(p.conditions[0].field(), Some("bucket"));
        assert_eq!(p.conditions[1].field(), Some("key"));
        assert_eq!(p.conditions[3], Condition::LengthRange { min: 1, max: 10 });
        let f = form(&[("key", "up/a"), ("ACL", "private")]);
        assert_eq!(chk(&p, &f, "b", at("2029-01-01T00:00:00Z")).unwrap(), (1, 10));
        // The bucket is the one posted to.
        assert!(chk(&p, &f, "other", at("2029-01-01T00:00:00Z")).is_err());
    }

    #[test]
    fn malformed_policies_are_invalid_policy_documents() {
        for doc in [
            "not json",
            r#"[]"#,
            r#"{"conditions": []}"#,
            r#"{"EXPIRATION": "2030-01-01T00:00:00Z", "conditions": []}"#,
            r#"{"expiration": "tomorrow", "conditions": []}"#,
            // RFC 3339 allows a space for the T; AWS's ISO 8601 does not.
            r#"{"expiration": "2030-01-01 00:00:00+00:00", "conditions": []}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z"}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [{}]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [{"a": "b", "c": "d"}]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", 0]]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", -1, 0]]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", 5, 1]]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "key", "x"]]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["matches", "$key", "x"]]}"#,
        ] {
            let e = Policy::parse(&b64(doc)).unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::InvalidPolicyDocument, "{doc}");
        }
        assert_eq!(
            Policy::parse("%%%").unwrap_err().code(),
            &S3ErrorCode::InvalidPolicyDocument
        );
    }

    #[test]
    fn conditions_expiry_and_extra_fields_are_enforced() {
        let p = Policy::parse(&b64(r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [
                {"bucket": "b"}, ["starts-with", "$key", "up/"], {"acl": "private"}]}"#))
        .unwrap();
        let now = at("2029-01-01T00:00:00Z");
        let ok = form(&[
            ("key", "up/x"),
            ("acl", "private"),
            ("policy", "p"),
            ("AWSAccessKeyId", "a"),
            ("signature", "s"),
            ("x-ignore-anything", "1"),
        ]);
        assert_eq!(chk(&p, &ok, "b", now).unwrap(), (0, u64::MAX));
        let e = chk(&p, &ok, "b", at("2030-01-01T00:00:01Z")).unwrap_err();
        assert_eq!(e.message(), Some("Invalid according to Policy: Policy expired."));
        let e = chk(&p, &form(&[("key", "down/x"), ("acl", "private")]), "b", now).unwrap_err();
        assert_eq!(e.code(), &S3ErrorCode::AccessDenied);
        assert_eq!(
            e.message(),
            Some("Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"up/\"]")
        );
        // A condition on a field the form lacks fails.
        let e = chk(&p, &form(&[("key", "up/x")]), "b", now).unwrap_err();
        assert!(e.message().unwrap().contains("[\"eq\", \"$acl\", \"private\"]"));
        let e = chk(
            &p,
            &form(&[
                ("key", "up/x"),
                ("acl", "private"),
                ("x-amz-meta-a", "1"),
                ("Content-Type", "t"),
            ]),
            "b",
            now,
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            Some("Invalid according to Policy: Extra input fields: x-amz-meta-a, content-type")
        );
    }

    #[test]
    fn key_conditions_see_the_key_after_filename_substitution() {
        let p = Policy::parse(&b64(
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["starts-with", "$key", "foo"]]}"#,
        ))
        .unwrap();
        let f = form(&[("key", "${filename}")]);
        let now = at("2029-01-01T00:00:00Z");
        assert!(p.check(&f, "b", "foo.txt", now).is_ok());
        assert!(p.check(&f, "b", "bar.txt", now).is_err());
    }
}

//! Bucket CORS configurations: the rules that let web pages from other origins use a
//! bucket, and the one function that matches a request against them.
//!
//! This module owns the `bucket_cors` table (bucket id -> [`CorsConfig`]). Bucket ids
//! are never reused, and deleting a bucket removes its row in the same transaction, so
//! a bucket created again under the same name starts without rules.
//!
//! Put/Get/DeleteBucketCors take `&Caller` and are owner-only (`s3:PutBucketCORS`,
//! `s3:GetBucketCORS`). [`Ferrite::cors_of_bucket`] takes no caller: it is the server's
//! own read, for answering preflights and decorating responses, which AWS does without
//! authentication. [`find_rule`] is pure: no HTTP, no I/O.
//!
//! Every request with an `Origin` header reads its bucket's configuration, so those
//! reads are cached ([`CorsCache`]): measured with `ferrite-bench --origin` (4 KiB GET,
//! concurrency 16, three interleaved 8 s rounds), a store read per request took GETs
//! from 22,400 to 16,200 ops/s (-28%); with the cache, two runs on a busy box gave -0.3%
//! and -11%, within its noise. The cache never outlives a change: every CORS write and
//! every bucket deletion empties it once committed, before its reply returns, and a
//! read that raced a change is not kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::access::bucket_for;
use crate::authz::Operation;
use crate::engine::blocking;
use crate::lookup::get_bucket;
use crate::records::{Initial, Record, decode, encode, first_version};
use crate::{Caller, Ferrite, ModelError, ModelResult, tables};

/// Rules one configuration may hold (AWS's limit).
pub const MAX_CORS_RULES: usize = 100;
/// The longest rule ID (AWS's limit).
pub const MAX_CORS_RULE_ID: usize = 255;
/// A configuration's stored size. AWS limits the document to 64 KB; every request
/// with an `Origin` header reads it, so it stays small.
pub const MAX_CORS_BYTES: usize = 64 * 1024;

/// The methods a CORS rule may allow. Stored by variant index: new variants go at the
/// end, none is removed or reordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CorsMethod {
    Get,
    Put,
    Head,
    Post,
    Delete,
}

impl CorsMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CorsMethod::Get => "GET",
            CorsMethod::Put => "PUT",
            CorsMethod::Head => "HEAD",
            CorsMethod::Post => "POST",
            CorsMethod::Delete => "DELETE",
        }
    }

    /// A method a rule may name; anything else (`OPTIONS`, `PATCH`, lower case, the
    /// empty string) is refused as AWS refuses it.
    pub fn parse(s: &str) -> ModelResult<Self> {
        [Self::Get, Self::Put, Self::Head, Self::Post, Self::Delete]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                ModelError::InvalidCors(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {s}"
                ))
            })
    }
}

/// One rule, as stored and as GetBucketCors answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    /// Origins, each with at most one `*` (matching any run of characters, even none).
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<CorsMethod>,
    /// Headers a preflight may request, each with at most one `*`; matched without
    /// regard to case.
    pub allowed_headers: Vec<String>,
    /// Response headers the page's scripts may read.
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

impl CorsRule {
    /// Whether the pattern that lets `origin` in is `*` itself: the answer then allows
    /// any origin (`Access-Control-Allow-Origin: *`, without credentials) instead of
    /// naming this one.
    pub fn allows_every_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .find(|o| wildcard_match(o, origin, false))
            .is_some_and(|o| o == "*")
    }
}

/// A bucket's CORS configuration: its rules in the order given; the first that
/// matches a request decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    pub rules: Vec<CorsRule>,
}

first_version!(CorsConfig);

impl CorsConfig {
    /// AWS's rules for a configuration. Parsing the methods ([`CorsMethod::parse`]) is
    /// the adapter's, since it meets them as strings.
    pub fn validate(&self) -> ModelResult<()> {
        if self.rules.is_empty() || self.rules.len() > MAX_CORS_RULES {
            return Err(ModelError::MalformedXml(format!(
                "a CORS configuration has 1 to {MAX_CORS_RULES} rules"
            )));
        }
        for rule in &self.rules {
            if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
                return Err(ModelError::MalformedXml(
                    "a CORS rule needs an AllowedOrigin and an AllowedMethod".into(),
                ));
            }
            if rule.id.as_ref().is_some_and(|id| id.chars().count() > MAX_CORS_RULE_ID) {
                return Err(ModelError::InvalidArgument(format!(
                    "A CORS rule ID may not be longer than {MAX_CORS_RULE_ID} characters."
                )));
            }
            for (what, values) in [
                ("AllowedOrigin", &rule.allowed_origins),
                ("AllowedHeader", &rule.allowed_headers),
            ] {
                if let Some(v) = values.iter().find(|v| v.matches('*').count() > 1) {
                    return Err(ModelError::InvalidCors(format!(
                        "{what} \"{v}\" can not have more than one wildcard."
                    )));
                }
            }
            if let Some(v) = rule.expose_headers.iter().find(|v| v.contains('*')) {
                return Err(ModelError::InvalidCors(format!(
                    "ExposeHeader \"{v}\" contains wildcard. We currently do not support wildcard for ExposeHeader."
                )));
            }
            if rule.max_age_seconds.is_some_and(|s| s < 0) {
                return Err(ModelError::InvalidArgument("MaxAgeSeconds may not be negative.".into()));
            }
        }
        if encode(self).len() > MAX_CORS_BYTES {
            return Err(ModelError::InvalidCors(
                "The CORS configuration may not be larger than 64 KB.".into(),
            ));
        }
        Ok(())
    }
}

/// The first rule of `config` that allows a request from `origin` with `method`
/// (for a preflight, its `Access-Control-Request-Method`) asking to send the headers
/// `request_headers` (a preflight's `Access-Control-Request-Headers`, split).
///
/// The origin matches an `AllowedOrigin` byte for byte, its one `*` standing for any
/// run of characters (even none); the method must be one the rule allows; every
/// requested header must match some `AllowedHeader`, without regard to case.
pub fn find_rule<'a>(
    config: &'a CorsConfig,
    origin: &str,
    method: &str,
    request_headers: &[&str],
) -> Option<&'a CorsRule> {
    config.rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|o| wildcard_match(o, origin, false))
            && rule.allowed_methods.iter().any(|m| m.as_str() == method)
            && request_headers.iter().all(|h| {
                rule.allowed_headers
                    .iter()
                    .any(|allowed| wildcard_match(allowed, h, true))
            })
    })
}

/// Whether `value` matches `pattern`, whose first `*` (if any) stands for any run of
/// characters; the rest must match exactly (ASCII case aside when `fold_case`).
fn wildcard_match(pattern: &str, value: &str, fold_case: bool) -> bool {
    let eq = |a: &str, b: &str| if fold_case { a.eq_ignore_ascii_case(b) } else { a == b };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.is_char_boundary(prefix.len())
                && value.is_char_boundary(value.len() - suffix.len())
                && eq(&value[..prefix.len()], prefix)
                && eq(&value[value.len() - suffix.len()..], suffix)
        }
    }
}

/// Bucket name -> its configuration (`None`: it has none), for buckets that exist.
/// Bounded: emptied when it would pass [`CorsCache::MAX_ENTRIES`] entries or
/// [`CorsCache::MAX_BYTES`] of stored configurations.
#[derive(Default)]
pub(crate) struct CorsCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    generation: u64,
    bytes: usize,
    map: HashMap<String, Option<Arc<CorsConfig>>>,
}

impl CorsCache {
    const MAX_ENTRIES: usize = 4096;
    const MAX_BYTES: usize = 8 << 20;

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // The map is left consistent at every step: a panic elsewhere cannot spoil it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for `name`, and the generation to insert a fresh one with.
    fn get(&self, name: &str) -> (u64, Option<Option<Arc<CorsConfig>>>) {
        let inner = self.lock();
        (inner.generation, inner.map.get(name).cloned())
    }

    /// Keeps what was read at `generation`, unless a change came since.
    fn insert(&self, generation: u64, name: &str, value: Option<Arc<CorsConfig>>, size: usize) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.map.len() >= Self::MAX_ENTRIES || inner.bytes + size > Self::MAX_BYTES {
            inner.map.clear();
            inner.bytes = 0;
        }
        inner.bytes += size;
        inner.map.insert(name.to_string(), value);
    }

    pub(crate) fn invalidate(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.clear();
        inner.bytes = 0;
    }
}

fn cors_key(bucket_id: u64) -> [u8; 8] {
    bucket_id.to_be_bytes()
}

/// Drops a bucket's configuration, in the transaction that deletes the bucket.
pub(crate) fn forget(txn: &mut dyn ferrite_store::WriteTxn, bucket_id: u64) -> ModelResult<()> {
    txn.delete(tables::BUCKET_CORS, &cors_key(bucket_id))?;
    Ok(())
}

impl Ferrite {
    /// PutBucketCors: replaces the bucket's configuration (bucket owner only).
    pub async fn put_bucket_cors(&self, caller: &Caller, bucket: &str, config: CorsConfig) -> ModelResult<()> {
        config.validate()?;
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        let value = encode(&config);
        let result = self
            .inner
            .committer
            .write(move |txn| {
                let rec = bucket_for(&*txn, &bucket, &caller, Operation::PutBucketCors)?;
                txn.put(tables::BUCKET_CORS, &cors_key(rec.id), &value)?;
                crate::epochs::bump(txn, crate::epochs::Cached::Cors)
            })
            .await;
        self.inner.cors_cache.invalidate();
        result
    }

    /// GetBucketCors: the bucket's configuration (bucket owner only);
    /// `NoSuchCorsConfiguration` when it has none.
    pub async fn bucket_cors(&self, caller: &Caller, bucket: &str) -> ModelResult<CorsConfig> {
        let (caller, inner, bucket) = (caller.clone(), self.inner.clone(), bucket.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let rec = bucket_for(&*txn, &bucket, &caller, Operation::GetBucketCors)?;
            match txn.get(tables::BUCKET_CORS, &cors_key(rec.id))? {
                Some(v) => decode(&v),
                None => Err(ModelError::NoSuchCorsConfiguration),
            }
        })
        .await
    }

    /// DeleteBucketCors (bucket owner only): succeeds whether or not there was one.
    pub async fn delete_bucket_cors(&self, caller: &Caller, bucket: &str) -> ModelResult<()> {
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        let result = self
            .inner
            .committer
            .write(move |txn| {
                let rec = bucket_for(&*txn, &bucket, &caller, Operation::DeleteBucketCors)?;
                forget(&mut *txn, rec.id)?;
                crate::epochs::bump(txn, crate::epochs::Cached::Cors)
            })
            .await;
        self.inner.cors_cache.invalidate();
        result
    }

    /// The configuration of bucket `name` for the server's own use (preflights,
    /// response headers): no caller, since AWS answers CORS without authentication.
    /// `NoSuchBucket` when the bucket does not exist, `None` when it has no rules.
    pub async fn cors_of_bucket(&self, name: &str) -> ModelResult<Option<Arc<CorsConfig>>> {
        let (generation, cached) = self.inner.cors_cache.get(name);
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let (inner, key) = (self.inner.clone(), name.to_string());
        let (found, size) = blocking(move || {
            let txn = inner.meta.begin_read()?;
            let rec = get_bucket(&*txn, &key)?;
            match txn.get(tables::BUCKET_CORS, &cors_key(rec.id))? {
                Some(v) => Ok((Some(Arc::new(decode::<CorsConfig>(&v)?)), v.len())),
                None => Ok((None, 0)),
            }
        })
        .await?;
        self.inner
            .cors_cache
            .insert(generation, name, found.clone(), size + name.len());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{Action, BucketFacts, Decision, Resource, authorize};

    fn rule(origins: &[&str], methods: &[CorsMethod], headers: &[&str]) -> CorsRule {
        CorsRule {
            id: None,
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.to_vec(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            expose_headers: vec![],
            max_age_seconds: None,
        }
    }

    fn config(rules: Vec<CorsRule>) -> CorsConfig {
        CorsConfig { rules }
    }

    use CorsMethod::*;

    #[test]
    fn origins_match_exactly_or_around_one_wildcard() {
        // The patterns of Ceph's test_cors_origin_response.
        let c = config(vec![
            rule(&["*suffix"], &[Get], &[]),
            rule(&["start*end"], &[Get], &[]),
            rule(&["prefix*"], &[Get], &[]),
            rule(&["*.put"], &[Put], &[]),
        ]);
        for origin in [
            "foo.suffix",
            "startend",
            "start1end",
            "start12end",
            "prefix",
            "prefix.suffix",
        ] {
            assert!(find_rule(&c, origin, "GET", &[]).is_some(), "{origin}");
        }
        for origin in ["foo.bar", "foo.suffix.get", "0start12end", "bla.prefix", "foo.put"] {
            assert!(find_rule(&c, origin, "GET", &[]).is_none(), "{origin}");
        }
        assert!(find_rule(&c, "foo.put", "PUT", &[]).is_some());
        // `startend`: the wildcard may match nothing, but prefix and suffix may not overlap.
        let c = config(vec![rule(&["ab*ba"], &[Get], &[])]);
        assert!(find_rule(&c, "aba", "GET", &[]).is_none());
        assert!(find_rule(&c, "abba", "GET", &[]).is_some());
    }

    #[test]
    fn origin_matching_is_case_sensitive_and_exact() {
        let c = config(vec![rule(&["https://Example.com", "http://*.origin.com"], &[Get], &[])]);
        assert!(find_rule(&c, "https://Example.com", "GET", &[]).is_some());
        assert!(find_rule(&c, "https://example.com", "GET", &[]).is_none());
        assert!(find_rule(&c, "https://Example.com/", "GET", &[]).is_none());
        assert!(find_rule(&c, "http://test.origin.com", "GET", &[]).is_some());
        assert!(find_rule(&c, "http://test.origin.com/", "GET", &[]).is_none());
        assert!(find_rule(&c, "https://test.origin.com", "GET", &[]).is_none());
        let any = config(vec![rule(&["*"], &[Get], &[])]);
        assert!(
            find_rule(&any, "anything at all", "GET", &[])
                .unwrap()
                .allows_every_origin("x")
        );
        let named_first = rule(&["http://a", "*"], &[Get], &[]);
        assert!(!named_first.allows_every_origin("http://a"));
        assert!(named_first.allows_every_origin("http://b"));
        assert!(find_rule(&any, "", "GET", &[]).is_some());
    }

    #[test]
    fn the_method_must_be_allowed() {
        let c = config(vec![rule(&["*"], &[Get, Head], &[])]);
        assert!(find_rule(&c, "o", "GET", &[]).is_some());
        assert!(find_rule(&c, "o", "HEAD", &[]).is_some());
        for m in ["PUT", "POST", "DELETE", "OPTIONS", "get", ""] {
            assert!(find_rule(&c, "o", m, &[]).is_none(), "{m}");
        }
    }

    #[test]
    fn every_requested_header_must_be_allowed_ignoring_case() {
        let c = config(vec![rule(&["*"], &[Put], &["x-amz-*", "Content-Type"])]);
        assert!(find_rule(&c, "o", "PUT", &["content-type"]).is_some());
        assert!(find_rule(&c, "o", "PUT", &["X-AMZ-Meta-Foo", "CONTENT-TYPE"]).is_some());
        assert!(find_rule(&c, "o", "PUT", &["x-amz-"]).is_some());
        assert!(find_rule(&c, "o", "PUT", &["content-type", "authorization"]).is_none());
        // No AllowedHeader: no requested header is allowed (Ceph's test_cors_header_option).
        let none = config(vec![rule(&["*"], &[Get], &[])]);
        assert!(find_rule(&none, "o", "GET", &[]).is_some());
        assert!(find_rule(&none, "o", "GET", &["x-amz-meta-header2"]).is_none());
        let all = config(vec![rule(&["*"], &[Get], &["*"])]);
        assert!(find_rule(&all, "o", "GET", &["anything", "Authorization"]).is_some());
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let mut first = rule(&["http://a.example"], &[Get], &[]);
        first.id = Some("first".into());
        let mut second = rule(&["*"], &[Get, Put], &[]);
        second.id = Some("second".into());
        let c = config(vec![first, second]);
        let id = |o, m| find_rule(&c, o, m, &[]).and_then(|r| r.id.as_deref());
        assert_eq!(id("http://a.example", "GET"), Some("first"));
        assert_eq!(id("http://a.example", "PUT"), Some("second"));
        assert_eq!(id("http://b.example", "GET"), Some("second"));
    }

    #[test]
    fn wildcards_never_split_a_character() {
        let c = config(vec![rule(&["é*é"], &[Get], &[])]);
        assert!(find_rule(&c, "é", "GET", &[]).is_none());
        assert!(find_rule(&c, "éxé", "GET", &[]).is_some());
        assert!(!wildcard_match("a*", "Ä", true));
    }

    #[test]
    fn validation_follows_aws() {
        assert!(config(vec![rule(&["*"], &[Get], &["*"])]).validate().is_ok());
        assert!(
            config(vec![rule(&[""], &[Get], &[])]).validate().is_ok(),
            "an empty origin is kept"
        );
        let err = |c: CorsConfig| c.validate().unwrap_err().to_string();
        assert!(matches!(config(vec![]).validate(), Err(ModelError::MalformedXml(_))));
        let many = (0..=MAX_CORS_RULES).map(|_| rule(&["*"], &[Get], &[])).collect();
        assert!(matches!(config(many).validate(), Err(ModelError::MalformedXml(_))));
        assert!(matches!(
            config(vec![rule(&[], &[Get], &[])]).validate(),
            Err(ModelError::MalformedXml(_))
        ));
        assert_eq!(
            err(config(vec![rule(&["*example*.com"], &[Get], &[])])),
            "AllowedOrigin \"*example*.com\" can not have more than one wildcard."
        );
        assert_eq!(
            err(config(vec![rule(&["*"], &[Get], &["x-*-*"])])),
            "AllowedHeader \"x-*-*\" can not have more than one wildcard."
        );
        let mut r = rule(&["*"], &[Get], &[]);
        r.expose_headers = vec!["*".into()];
        assert!(matches!(config(vec![r]).validate(), Err(ModelError::InvalidCors(_))));
        let mut r = rule(&["*"], &[Get], &[]);
        r.id = Some("x".repeat(256));
        assert!(matches!(
            config(vec![r]).validate(),
            Err(ModelError::InvalidArgument(_))
        ));
        let mut r = rule(&["*"], &[Get], &[]);
        r.max_age_seconds = Some(-1);
        assert!(matches!(
            config(vec![r]).validate(),
            Err(ModelError::InvalidArgument(_))
        ));
        let big = rule(&[&"o".repeat(MAX_CORS_BYTES)], &[Get], &[]);
        assert!(matches!(config(vec![big]).validate(), Err(ModelError::InvalidCors(_))));
        assert_eq!(
            CorsMethod::parse("PATCH").unwrap_err().to_string(),
            "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"
        );
        assert!(CorsMethod::parse("get").is_err());
        assert_eq!(CorsMethod::parse("DELETE").unwrap(), Delete);
    }

    #[test]
    fn cors_actions_are_the_bucket_owners() {
        let res = Resource {
            key: None,
            bucket: Some(BucketFacts {
                name: "b",
                owner: "owner",
                acl: None,
                ownership: None,
                policy: None,
                block: Default::default(),
            }),
            object: None,
        };
        let user = |id: &str| {
            Caller::new(crate::Principal::User {
                canonical_id: id.into(),
                display_name: id.into(),
                access_key_id: "AK".into(),
                user_id: "AIDA".into(),
            })
        };
        for op in [
            Operation::GetBucketCors,
            Operation::PutBucketCors,
            Operation::DeleteBucketCors,
        ] {
            let a = op.action(false);
            assert_eq!(authorize(&user("owner"), a, &res), Decision::Allow, "{op:?}");
            assert_eq!(authorize(&user("other"), a, &res), Decision::Deny, "{op:?}");
            assert_eq!(authorize(&Caller::anonymous(), a, &res), Decision::Deny, "{op:?}");
        }
        assert_eq!(Operation::DeleteBucketCors.action(false), Action::PutBucketCORS);
        assert_eq!(Action::GetBucketCORS.name(), "s3:GetBucketCORS");
        assert_eq!(Action::PutBucketCORS.name(), "s3:PutBucketCORS");
    }

    #[test]
    fn the_cache_keeps_nothing_read_before_a_change() {
        let cache = CorsCache::default();
        let (g, hit) = cache.get("b");
        assert!(hit.is_none());
        cache.invalidate();
        cache.insert(g, "b", None, 1);
        assert!(cache.get("b").1.is_none(), "read before the change: not kept");
        let (g, _) = cache.get("b");
        cache.insert(g, "b", None, 1);
        assert_eq!(cache.get("b").1, Some(None));
        cache.invalidate();
        assert!(cache.get("b").1.is_none());
        // Bounded: a full cache starts over.
        let (g, _) = cache.get("x");
        for i in 0..CorsCache::MAX_ENTRIES + 1 {
            cache.insert(g, &format!("b{i}"), None, 1);
        }
        assert!(cache.lock().map.len() <= CorsCache::MAX_ENTRIES);
        cache.insert(g, "big", None, CorsCache::MAX_BYTES);
        assert_eq!(cache.lock().map.len(), 1);
    }

    #[test]
    fn records_round_trip() {
        let mut r = rule(&["*"], &[Get, Delete], &["a"]);
        r.id = Some("id".into());
        r.max_age_seconds = Some(3000);
        r.expose_headers = vec!["ETag".into()];
        let c = config(vec![r]);
        let bytes = encode(&c);
        assert_eq!(bytes[0], 1);
        assert_eq!(decode::<CorsConfig>(&bytes).unwrap(), c);
    }
}

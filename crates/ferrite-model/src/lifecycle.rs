//! Lifecycle rules: a bucket's configuration and the worker that applies it.
//!
//! A configuration ([`LifecycleConfig`]) is a list of rules, each a filter (prefix,
//! tags, object size) and actions: expire current versions, expire noncurrent ones,
//! remove expired delete markers, move versions to another storage class, abort
//! incomplete multipart uploads. It lives in its own table (`BUCKET_LIFECYCLE`).
//!
//! The worker ([`Ferrite::run_lifecycle`]) walks the buckets that have a
//! configuration, a batch of keys at a time. It plans each batch from a snapshot,
//! then commits the keys that have something due in one committer job that plans
//! them again from what the transaction sees (so the job is re-runnable and never
//! acts on a stale plan), through the same version-index functions as every other
//! write: a version under retention or legal hold is never removed (Object Lock is
//! enforced in `versions::remove_row`, and the plan skips what it would refuse). A
//! cursor in the `system` table (written in the same transaction as the batch's
//! changes) lets a restarted server resume the pass where it stopped. Between batches
//! the worker sleeps three times as long as the batch took, so it never takes more than
//! about a quarter of one core from foreground requests.
//!
//! Time: as AWS, a rule's day count runs from the version's creation (noncurrent
//! actions: from when it became noncurrent, the next version's creation) and is
//! rounded up to the next midnight UTC. A "day" is [`crate::Options::lifecycle_day`]
//! long (a real day unless an operator or a test shortens it).

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrite_store::{ReadTxn, WriteTxn};
use serde::{Deserialize, Serialize};

use crate::access::bucket_for;
use crate::authz::Operation;
use crate::clock::now_ms;
use crate::engine::blocking;
use crate::keys::{bucket_end, object_key, prefix_successor, split_upload_key, split_version_key, version_prefix};
use crate::lock::Removal;
use crate::lookup::get_bucket;
use crate::records::{
    BucketRecord, DataRef, Initial, ObjectRecord, Record, StorageClass, UploadRecord, VersioningState, decode, encode,
    first_version,
};
use crate::tagging::{TagTarget, tag_set};
use crate::versions::{Stored, WriteConditions, add_version, delete_marker, remove_version, replace_version};
use crate::{Caller, Ferrite, ModelError, ModelResult, Tags, tables};

/// The most rules a configuration holds.
pub const MAX_LIFECYCLE_RULES: usize = 1000;
/// The longest rule id, in characters.
pub const MAX_RULE_ID: usize = 255;
/// The most noncurrent versions a rule may keep (`NewerNoncurrentVersions`).
pub const MAX_NEWER_NONCURRENT: u32 = 100;
/// A real day.
pub const DAY: Duration = Duration::from_secs(86_400);

/// Which objects a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleFilter {
    /// The legacy form: a `Prefix` in the rule itself, no `Filter`.
    Legacy(String),
    /// An empty `Filter`: every object.
    Empty,
    Prefix(String),
    Tag(String, String),
    SizeGreaterThan(u64),
    SizeLessThan(u64),
    And(AndFilter),
}

/// `And`: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AndFilter {
    pub prefix: Option<String>,
    pub tags: Tags,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
}

impl RuleFilter {
    fn prefix(&self) -> &str {
        match self {
            RuleFilter::Legacy(p) | RuleFilter::Prefix(p) => p,
            RuleFilter::And(a) => a.prefix.as_deref().unwrap_or(""),
            RuleFilter::Empty | RuleFilter::Tag(..) | RuleFilter::SizeGreaterThan(_) | RuleFilter::SizeLessThan(_) => {
                ""
            }
        }
    }

    /// Whether the filter tests tags (such rules cannot act on delete markers or
    /// uploads, which have none).
    pub fn has_tags(&self) -> bool {
        match self {
            RuleFilter::Tag(..) => true,
            RuleFilter::And(a) => !a.tags.is_empty(),
            _ => false,
        }
    }

    fn has_size(&self) -> bool {
        match self {
            RuleFilter::SizeGreaterThan(_) | RuleFilter::SizeLessThan(_) => true,
            RuleFilter::And(a) => a.size_greater_than.is_some() || a.size_less_than.is_some(),
            _ => false,
        }
    }

    /// Whether an object version with this key, tags and size is in the filter.
    pub fn matches(&self, key: &str, tags: &Tags, size: u64) -> bool {
        let has = |k: &str, v: &str| tags.iter().any(|(tk, tv)| tk == k && tv == v);
        match self {
            RuleFilter::Legacy(p) | RuleFilter::Prefix(p) => key.starts_with(p.as_str()),
            RuleFilter::Empty => true,
            RuleFilter::Tag(k, v) => has(k, v),
            RuleFilter::SizeGreaterThan(n) => size > *n,
            RuleFilter::SizeLessThan(n) => size < *n,
            RuleFilter::And(a) => {
                key.starts_with(a.prefix.as_deref().unwrap_or(""))
                    && a.tags.iter().all(|(k, v)| has(k, v))
                    && a.size_greater_than.is_none_or(|n| size > n)
                    && a.size_less_than.is_none_or(|n| size < n)
            }
        }
    }
}

/// When an action is due: a number of days after its starting point, or a date
/// (unix ms, a midnight UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum When {
    Days(u32),
    Date(i64),
}

/// What a rule's `Expiration` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiration {
    /// Current versions expire this long after their creation, or on a date.
    After(When),
    /// `ExpiredObjectDeleteMarker`: remove delete markers that no version hides behind.
    ExpiredObjectDeleteMarker(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    pub days: u32,
    /// Keep this many newer noncurrent versions whatever their age.
    pub newer_noncurrent: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub when: When,
    pub class: StorageClass,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentTransition {
    pub days: u32,
    pub newer_noncurrent: Option<u32>,
    pub class: StorageClass,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub filter: RuleFilter,
    pub expiration: Option<Expiration>,
    pub noncurrent_expiration: Option<NoncurrentExpiration>,
    pub transitions: Vec<Transition>,
    pub noncurrent_transitions: Vec<NoncurrentTransition>,
    /// `AbortIncompleteMultipartUpload`'s `DaysAfterInitiation`.
    pub abort_incomplete_days: Option<u32>,
}

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    pub rules: Vec<LifecycleRule>,
}

/// The configuration as stored (`BUCKET_LIFECYCLE`, by bucket id), with the bucket's
/// name so the worker finds the bucket from the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredLifecycle {
    pub bucket: String,
    pub config: LifecycleConfig,
}

/// Where a lifecycle pass is: the bucket it works in and the last key it finished
/// (`system` table, [`CURSOR`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LifecycleCursor {
    pub bucket_id: u64,
    /// The stored key (versions, or uploads when `uploads`) to go on after.
    pub after: Option<Vec<u8>>,
    pub uploads: bool,
}

first_version!(StoredLifecycle, LifecycleCursor);

const CURSOR: &[u8] = b"lifecycle_cursor";

/// Classes a transition may move to (AWS refuses STANDARD and REDUCED_REDUNDANCY).
pub fn is_transition_class(c: StorageClass) -> bool {
    matches!(
        c,
        StorageClass::StandardIa
            | StorageClass::OnezoneIa
            | StorageClass::IntelligentTiering
            | StorageClass::GlacierIr
            | StorageClass::Glacier
            | StorageClass::DeepArchive
    )
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::InvalidArgument(msg.into())
}

impl LifecycleConfig {
    /// AWS's rules for a configuration. Rules without an id get a generated one.
    pub fn validate(&mut self) -> ModelResult<()> {
        if self.rules.is_empty() {
            return Err(ModelError::MalformedXml(
                "a lifecycle configuration needs at least one rule".into(),
            ));
        }
        if self.rules.len() > MAX_LIFECYCLE_RULES {
            return Err(invalid(format!(
                "a lifecycle configuration holds at most {MAX_LIFECYCLE_RULES} rules"
            )));
        }
        for rule in &mut self.rules {
            if rule.id.is_empty() {
                rule.id = generated_id();
            }
            rule.validate()?;
        }
        let mut ids: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("Rule ID must be unique. Found same ID for more than one rule"));
        }
        Ok(())
    }
}

fn generated_id() -> String {
    let n: u128 = rand::random();
    // 48 characters of base 36, as AWS's generated ids look.
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut v = n;
    let mut out = String::with_capacity(25);
    for _ in 0..25 {
        out.push(alphabet[(v % 36) as usize] as char);
        v /= 36;
    }
    out
}

fn check_when(when: &When, what: &str) -> ModelResult<()> {
    match when {
        When::Days(0) => Err(invalid(format!("'Days' for {what} action must be a positive integer"))),
        When::Days(_) => Ok(()),
        When::Date(ms) if ms.rem_euclid(DAY.as_millis() as i64) != 0 => Err(invalid("'Date' must be at midnight GMT")),
        When::Date(_) => Ok(()),
    }
}

/// The fewest days AWS accepts before a move to `class` (the infrequent-access
/// classes bill 30 days at least).
fn min_transition_days(class: StorageClass) -> u32 {
    match class {
        StorageClass::StandardIa | StorageClass::OnezoneIa => 30,
        _ => 0,
    }
}

impl LifecycleRule {
    fn validate(&self) -> ModelResult<()> {
        if self.id.chars().count() > MAX_RULE_ID {
            return Err(invalid("ID length should not exceed allowed limit of 255"));
        }
        let has_action = self.expiration.is_some()
            || self.noncurrent_expiration.is_some()
            || !self.transitions.is_empty()
            || !self.noncurrent_transitions.is_empty()
            || self.abort_incomplete_days.is_some();
        if !has_action {
            return Err(invalid("At least one action needs to be specified in a rule"));
        }
        match &self.filter {
            RuleFilter::Tag(k, v) => {
                tag_set(vec![(k.clone(), v.clone())], TagTarget::Bucket)?;
            }
            RuleFilter::And(a) => {
                tag_set(a.tags.clone(), TagTarget::Bucket)?;
                if let (Some(g), Some(l)) = (a.size_greater_than, a.size_less_than)
                    && g >= l
                {
                    return Err(invalid(
                        "ObjectSizeGreaterThan must be less than ObjectSizeLessThan in the And filter",
                    ));
                }
            }
            _ => {}
        }
        match self.expiration {
            Some(Expiration::After(w)) => check_when(&w, "Expiration")?,
            Some(Expiration::ExpiredObjectDeleteMarker(_)) if self.filter.has_tags() => {
                return Err(invalid(
                    "ExpiredObjectDeleteMarker cannot be specified with object tags in a Lifecycle Expiration Policy",
                ));
            }
            Some(Expiration::ExpiredObjectDeleteMarker(_)) if self.filter.has_size() => {
                return Err(ModelError::MalformedXml(
                    "ExpiredObjectDeleteMarker cannot be specified with an object size filter".into(),
                ));
            }
            Some(Expiration::ExpiredObjectDeleteMarker(_)) | None => {}
        }
        if self.abort_incomplete_days.is_some() && self.filter.has_tags() {
            return Err(ModelError::InvalidRequest(
                "AbortIncompleteMultipartUpload cannot be specified with Tags.".into(),
            ));
        }
        if self.abort_incomplete_days == Some(0) {
            return Err(invalid(
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
            ));
        }
        if self.abort_incomplete_days.is_some() && self.filter.has_size() {
            return Err(ModelError::InvalidRequest(
                "AbortIncompleteMultipartUpload cannot be specified with an object size filter.".into(),
            ));
        }
        if let Some(n) = &self.noncurrent_expiration {
            if n.days == 0 {
                return Err(invalid(
                    "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                ));
            }
            check_newer(n.newer_noncurrent)?;
        }
        let mut seen_days = false;
        let mut seen_dates = false;
        for t in &self.transitions {
            check_when(&t.when, "Transition")?;
            if let When::Days(d) = t.when
                && d < min_transition_days(t.class)
            {
                return Err(invalid(format!(
                    "'Days' in Transition action for StorageClass {} must be greater than or equal to {}",
                    t.class.as_str(),
                    min_transition_days(t.class)
                )));
            }
            match t.when {
                When::Days(_) => seen_days = true,
                When::Date(_) => seen_dates = true,
            }
            check_class(t.class)?;
        }
        if seen_days && seen_dates {
            return Err(invalid(
                "Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule",
            ));
        }
        distinct_classes(self.transitions.iter().map(|t| t.class), "Transition")?;
        for t in &self.noncurrent_transitions {
            if t.days == 0 {
                return Err(invalid(
                    "'NoncurrentDays' for NoncurrentVersionTransition action must be a positive integer",
                ));
            }
            check_newer(t.newer_noncurrent)?;
            check_class(t.class)?;
            if t.days < min_transition_days(t.class) {
                return Err(invalid(format!(
                    "'NoncurrentDays' in NoncurrentVersionTransition action for StorageClass {} must be greater than or \
                     equal to {}",
                    t.class.as_str(),
                    min_transition_days(t.class)
                )));
            }
        }
        distinct_classes(
            self.noncurrent_transitions.iter().map(|t| t.class),
            "NoncurrentVersionTransition",
        )?;
        // An expiration must come after every transition of the same kind.
        if let Some(Expiration::After(When::Days(e))) = self.expiration
            && self
                .transitions
                .iter()
                .any(|t| matches!(t.when, When::Days(d) if d >= e))
        {
            return Err(invalid(
                "'Days' in the Expiration action must be greater than 'Days' in the Transition action",
            ));
        }
        if let Some(Expiration::After(When::Date(e))) = self.expiration
            && self
                .transitions
                .iter()
                .any(|t| matches!(t.when, When::Date(d) if d >= e))
        {
            return Err(invalid(
                "'Date' in the Expiration action must be later than 'Date' in the Transition action",
            ));
        }
        if let Some(n) = &self.noncurrent_expiration
            && self.noncurrent_transitions.iter().any(|t| t.days >= n.days)
        {
            return Err(invalid(
                "'NoncurrentDays' in the NoncurrentVersionExpiration action must be greater than 'NoncurrentDays' \
                 in the NoncurrentVersionTransition action",
            ));
        }
        Ok(())
    }
}

/// A rule moves to each class at most once per kind of transition (AWS).
fn distinct_classes(classes: impl Iterator<Item = StorageClass>, what: &str) -> ModelResult<()> {
    let mut names: Vec<&str> = classes.map(StorageClass::as_str).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid(format!(
            "'StorageClass' must be different for '{what}' actions in same 'Rule'"
        )));
    }
    Ok(())
}

fn check_newer(n: Option<u32>) -> ModelResult<()> {
    match n {
        Some(n) if n == 0 || n > MAX_NEWER_NONCURRENT => Err(invalid(format!(
            "'NewerNoncurrentVersions' must be between 1 and {MAX_NEWER_NONCURRENT}"
        ))),
        _ => Ok(()),
    }
}

fn check_class(c: StorageClass) -> ModelResult<()> {
    if is_transition_class(c) {
        Ok(())
    } else {
        Err(ModelError::InvalidStorageClass)
    }
}

/// The moment a rule's `days` from `from_ms` are over. Real days, as AWS counts
/// them: `from + days`, rounded up to the next midnight UTC. A shortened lifecycle day
/// (`day_ms` other than [`DAY`], a test facility as RGW's `lc_debug_interval`) counts
/// exactly, so that tests can tell when a rule acts.
pub fn due_after(from_ms: i64, days: u32, day_ms: i64) -> i64 {
    let day_ms = day_ms.max(1);
    let t = from_ms.saturating_add(i64::from(days).saturating_mul(day_ms));
    if day_ms != DAY.as_millis() as i64 {
        return t;
    }
    t.div_euclid(day_ms)
        .saturating_add(i64::from(t.rem_euclid(day_ms) != 0))
        .saturating_mul(day_ms)
}

fn due(when: When, from_ms: i64, day_ms: i64) -> i64 {
    match when {
        When::Days(d) => due_after(from_ms, d, day_ms),
        When::Date(ms) => ms,
    }
}

/// When the current version `rec` of `key` expires under `config`, and by which rule
/// (`x-amz-expiration`): the earliest expiration of an enabled rule whose filter it
/// is in.
pub(crate) fn expiry_of(config: &LifecycleConfig, key: &str, rec: &ObjectRecord, day_ms: i64) -> Option<(i64, String)> {
    config
        .rules
        .iter()
        .filter(|r| r.enabled && r.filter.matches(key, &rec.tags, rec.size))
        .filter_map(|r| match r.expiration {
            Some(Expiration::After(w)) => Some((due(w, rec.last_modified_ms, day_ms), r.id.clone())),
            _ => None,
        })
        .min_by_key(|(t, _)| *t)
}

/// What the worker does to one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// Expire the current version: a delete marker on top (versioned buckets), or
    /// its removal (unversioned).
    ExpireCurrent,
    /// Remove this version for good (a noncurrent version, or an expired delete marker).
    Remove { seq: u64, marker: bool },
    /// Move this version to another class.
    Transition { seq: u64, class: StorageClass },
}

/// Plans one key: `versions` newest first, all of them.
pub(crate) fn plan_key(rules: &[LifecycleRule], key: &str, versions: &[Stored], now: i64, day_ms: i64) -> Vec<Act> {
    let mut acts = Vec::new();
    let Some((cur_seq, cur)) = versions.first() else {
        return acts;
    };
    let enabled = || rules.iter().filter(|r| r.enabled);
    if cur.delete_marker {
        if versions.len() == 1 {
            let marker_matches = |r: &&LifecycleRule| !r.filter.has_tags() && r.filter.matches(key, &Vec::new(), 0);
            let expired = enabled().filter(marker_matches).any(|r| match r.expiration {
                Some(Expiration::ExpiredObjectDeleteMarker(on)) => on,
                // A Days expiration also cleans up markers old enough for it (AWS).
                Some(Expiration::After(When::Days(d))) => due_after(cur.last_modified_ms, d, day_ms) <= now,
                _ => false,
            });
            if expired {
                acts.push(Act::Remove {
                    seq: *cur_seq,
                    marker: true,
                });
            }
        }
    } else {
        let matching: Vec<&LifecycleRule> = enabled()
            .filter(|r| r.filter.matches(key, &cur.tags, cur.size))
            .collect();
        let expires = matching.iter().any(|r| match r.expiration {
            Some(Expiration::After(w)) => due(w, cur.last_modified_ms, day_ms) <= now,
            _ => false,
        });
        if expires {
            acts.push(Act::ExpireCurrent);
        } else if let Some(class) = latest_due(
            matching
                .iter()
                .flat_map(|r| r.transitions.iter())
                .map(|t| (due(t.when, cur.last_modified_ms, day_ms), t.class)),
            now,
        ) && cur.storage_class.unwrap_or(StorageClass::Standard) != class
        {
            acts.push(Act::Transition { seq: *cur_seq, class });
        }
    }
    for (i, pair) in versions.windows(2).enumerate() {
        let (since, (seq, rec)) = (pair[0].1.last_modified_ms, &pair[1]);
        // Noncurrent versions newer than this one.
        let newer = i as u32;
        let matching: Vec<&LifecycleRule> = enabled()
            .filter(|r| r.filter.matches(key, &rec.tags, rec.size))
            .collect();
        let keeps = |n: Option<u32>| newer < n.unwrap_or(0);
        let expires = matching.iter().any(|r| match &r.noncurrent_expiration {
            Some(n) => due_after(since, n.days, day_ms) <= now && !keeps(n.newer_noncurrent),
            None => false,
        });
        if expires {
            // A version under retention or legal hold stays: plan nothing the
            // version index would refuse.
            if rec.lock.check_removal(now, Removal::Plain).is_ok() {
                acts.push(Act::Remove {
                    seq: *seq,
                    marker: rec.delete_marker,
                });
            }
            continue;
        }
        if rec.delete_marker {
            continue;
        }
        if let Some(class) = latest_due(
            matching
                .iter()
                .flat_map(|r| r.noncurrent_transitions.iter())
                .filter(|t| !keeps(t.newer_noncurrent))
                .map(|t| (due_after(since, t.days, day_ms), t.class)),
            now,
        ) && rec.storage_class.unwrap_or(StorageClass::Standard) != class
        {
            acts.push(Act::Transition { seq: *seq, class });
        }
    }
    acts
}

/// The class of the transition that came due last, among those due by `now`.
fn latest_due(due: impl Iterator<Item = (i64, StorageClass)>, now: i64) -> Option<StorageClass> {
    due.filter(|(t, _)| *t <= now).max_by_key(|(t, _)| *t).map(|(_, c)| c)
}

/// What the worker has done since start (`/metrics`).
#[derive(Debug, Default)]
pub(crate) struct LifecycleCounters {
    expired: AtomicU64,
    markers_removed: AtomicU64,
    transitioned: AtomicU64,
    aborted: AtomicU64,
}

/// Counts of the lifecycle worker's work since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecycleCounts {
    /// Object versions expired (current versions given a delete marker or removed,
    /// noncurrent versions removed).
    pub expired: u64,
    /// Expired delete markers removed.
    pub markers_removed: u64,
    /// Versions moved to another storage class.
    pub transitioned: u64,
    /// Incomplete multipart uploads aborted.
    pub uploads_aborted: u64,
}

impl LifecycleCounters {
    fn add(&self, c: &LifecycleCounts) {
        self.expired.fetch_add(c.expired, Ordering::Relaxed);
        self.markers_removed.fetch_add(c.markers_removed, Ordering::Relaxed);
        self.transitioned.fetch_add(c.transitioned, Ordering::Relaxed);
        self.aborted.fetch_add(c.uploads_aborted, Ordering::Relaxed);
    }
}

impl std::ops::AddAssign for LifecycleCounts {
    fn add_assign(&mut self, o: Self) {
        self.expired += o.expired;
        self.markers_removed += o.markers_removed;
        self.transitioned += o.transitioned;
        self.uploads_aborted += o.uploads_aborted;
    }
}

fn config_key(bucket_id: u64) -> [u8; 8] {
    bucket_id.to_be_bytes()
}

/// A bucket's lifecycle configuration, if it has one.
pub(crate) fn config_of(txn: &dyn ReadTxn, bucket_id: u64) -> ModelResult<Option<LifecycleConfig>> {
    txn.get(tables::BUCKET_LIFECYCLE, &config_key(bucket_id))?
        .map(|v| decode::<StoredLifecycle>(&v).map(|s| s.config))
        .transpose()
}

/// Which buckets may have a lifecycle configuration, so that the reads and writes of
/// every other bucket answer `x-amz-expiration` without a lookup. It may hold a bucket
/// that has none any more (a deleted configuration or bucket stays in it until
/// restart: that costs one lookup, never a wrong answer); it never misses one that
/// has one (a bucket goes in before its configuration is committed). Filled at
/// start-up from the table. One process writes the store today; a shared metadata
/// store (several gateways) will need it invalidated across them.
#[derive(Clone)]
pub(crate) struct LifecycleIndex {
    day_ms: i64,
    buckets: std::sync::Arc<std::sync::RwLock<std::collections::HashSet<u64>>>,
}

impl LifecycleIndex {
    pub(crate) fn load(meta: &dyn ferrite_store::MetaStore, day: Duration) -> ModelResult<Self> {
        let rows =
            meta.begin_read()?
                .range(tables::BUCKET_LIFECYCLE, Bound::Unbounded, Bound::Unbounded, usize::MAX)?;
        let mut buckets = std::collections::HashSet::with_capacity(rows.len());
        for (k, _) in rows {
            let id: [u8; 8] = k
                .as_slice()
                .try_into()
                .map_err(|_| ModelError::Corrupt("bad lifecycle key".into()))?;
            buckets.insert(u64::from_be_bytes(id));
        }
        Ok(Self {
            day_ms: (day.as_millis() as i64).max(1),
            buckets: std::sync::Arc::new(std::sync::RwLock::new(buckets)),
        })
    }

    /// Reads the set again (another gateway added a configuration).
    pub(crate) fn reload(&self, meta: &dyn ferrite_store::MetaStore) -> ModelResult<()> {
        let fresh = Self::load(meta, Duration::from_millis(self.day_ms as u64))?;
        let set = std::mem::take(&mut *fresh.buckets.write().unwrap_or_else(|e| e.into_inner()));
        let mut mine = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        // Buckets added here since the read began stay (the set only over-approximates).
        mine.extend(set);
        Ok(())
    }

    fn may_have(&self, bucket_id: u64) -> bool {
        self.buckets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&bucket_id)
    }

    fn add(&self, bucket_id: u64) {
        self.buckets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(bucket_id);
    }

    /// `x-amz-expiration` for the current version `rec`: when a rule expires it, and
    /// which.
    pub(crate) fn expiration_header(
        &self,
        txn: &dyn ReadTxn,
        bucket: &BucketRecord,
        key: &str,
        rec: &ObjectRecord,
    ) -> ModelResult<Option<(i64, String)>> {
        if rec.delete_marker || !self.may_have(bucket.id) {
            return Ok(None);
        }
        Ok(config_of(txn, bucket.id)?.and_then(|c| expiry_of(&c, key, rec, self.day_ms)))
    }
}

/// Drops a deleted bucket's configuration (in DeleteBucket's transaction).
pub(crate) fn forget(txn: &mut dyn WriteTxn, bucket_id: u64) -> ModelResult<()> {
    txn.delete(tables::BUCKET_LIFECYCLE, &config_key(bucket_id))?;
    Ok(())
}

/// Every version of `key`, newest first.
fn key_versions(txn: &dyn ReadTxn, bucket_id: u64, key: &str) -> ModelResult<Vec<Stored>> {
    let start = version_prefix(bucket_id, key);
    let end = prefix_successor(&start).expect("a NUL-terminated prefix has a successor");
    let mut out = Vec::new();
    let mut failure = None;
    txn.scan(
        tables::VERSIONS,
        Bound::Included(&start),
        Bound::Excluded(&end),
        &mut |k, v| match (split_version_key(k), decode::<ObjectRecord>(v)) {
            (Some((_, seq)), Ok(rec)) => {
                out.push((seq, rec));
                true
            }
            (None, _) => {
                failure = Some(ModelError::Corrupt("malformed version key".into()));
                false
            }
            (_, Err(e)) => {
                failure = Some(e);
                false
            }
        },
    )?;
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A transition that moves a version's bytes to another tier: done after the batch
/// commits (copying is I/O no transaction should wait for), by [`Ferrite::move_version`].
#[derive(Debug, Clone)]
pub(crate) struct Move {
    bucket_id: u64,
    key: String,
    seq: u64,
    class: StorageClass,
    /// The data the plan saw (the move commits only if the version still has it).
    data: DataRef,
    from: String,
    to: String,
}

/// Applies the plan for `key` as the transaction sees it; returns what it did. A
/// transition within a tier relabels the version here; one to another tier is added
/// to `moves`.
#[allow(clippy::too_many_arguments)]
fn apply_key(
    txn: &mut dyn WriteTxn,
    tiers: &crate::tiers::Tiers,
    bucket: &BucketRecord,
    rules: &[LifecycleRule],
    key: &str,
    now: i64,
    day_ms: i64,
    moves: &mut Vec<Move>,
) -> ModelResult<LifecycleCounts> {
    let versions = key_versions(&*txn, bucket.id, key)?;
    let mut done = LifecycleCounts::default();
    for act in plan_key(rules, key, &versions, now, day_ms) {
        match act {
            Act::ExpireCurrent => {
                match bucket.versioning {
                    VersioningState::Enabled | VersioningState::Suspended => {
                        // The bucket owner stands for the lifecycle service.
                        add_version(
                            txn,
                            bucket,
                            key,
                            delete_marker(&bucket.owner),
                            WriteConditions::default(),
                        )?;
                    }
                    VersioningState::Unversioned => {
                        let (seq, _) = versions[0];
                        remove_version(txn, bucket.id, key, seq, Removal::Plain)?;
                    }
                }
                done.expired += 1;
            }
            Act::Remove { seq, marker } => {
                remove_version(txn, bucket.id, key, seq, Removal::Plain)?;
                if marker {
                    done.markers_removed += 1;
                } else {
                    done.expired += 1;
                }
            }
            Act::Transition { seq, class } => {
                if let Some((_, rec)) = versions.iter().find(|(s, _)| *s == seq) {
                    let to = tiers.for_class(Some(class));
                    if to != rec.tier {
                        moves.push(Move {
                            bucket_id: bucket.id,
                            key: key.to_string(),
                            seq,
                            class,
                            data: rec.data.clone(),
                            from: rec.tier.clone(),
                            to: to.to_string(),
                        });
                        continue;
                    }
                    let mut rec = rec.clone();
                    rec.storage_class = Some(class);
                    replace_version(txn, bucket.id, key, seq, &rec)?;
                    done.transitioned += 1;
                }
            }
        }
    }
    Ok(done)
}

/// What one batch did, where the next starts (`None`: this phase of the bucket is
/// done), and whether it committed (and so wrote the cursor).
struct Step {
    done: LifecycleCounts,
    next: Option<Vec<u8>>,
    committed: bool,
}

/// Keys per batch of the worker. Small batches keep each burst of the worker's CPU
/// short, which is what a foreground request's tail latency feels on a busy core
/// (bench get-4k-lc-busy, pinned, three runs each: 128 keys 2.44-2.61x idle p99,
/// 32 keys 1.68-1.87x; 100,000 expirations took 37 s instead of 24 s).
const BATCH_KEYS: usize = 32;

/// One batch read from a snapshot: the keys that have something due, and where the
/// batch ended (`None`: the bucket's end).
struct Batch {
    due: Vec<String>,
    next: Option<Vec<u8>>,
}

impl Ferrite {
    fn day_ms(&self) -> i64 {
        (self.inner.opts.lifecycle_day.as_millis() as i64).max(1)
    }

    /// GetBucketLifecycleConfiguration.
    pub async fn lifecycle_configuration(&self, caller: &Caller, bucket: &str) -> ModelResult<LifecycleConfig> {
        let (caller, inner, bucket) = (caller.clone(), self.inner.clone(), bucket.to_string());
        blocking(move || {
            let txn = inner.meta.begin_read()?;
            let b = bucket_for(&*txn, &bucket, &caller, Operation::GetBucketLifecycle)?;
            config_of(&*txn, b.id)?.ok_or(ModelError::NoSuchLifecycleConfiguration)
        })
        .await
    }

    /// PutBucketLifecycleConfiguration (`Some`: replaces the configuration whole) and
    /// DeleteBucketLifecycle (`None`).
    pub async fn set_lifecycle_configuration(
        &self,
        caller: &Caller,
        bucket: &str,
        config: Option<LifecycleConfig>,
    ) -> ModelResult<()> {
        let op = match config {
            Some(_) => Operation::PutBucketLifecycle,
            None => Operation::DeleteBucketLifecycle,
        };
        let config = match config {
            Some(mut c) => {
                c.validate()?;
                Some(c)
            }
            None => None,
        };
        let (caller, bucket) = (caller.clone(), bucket.to_string());
        let index = self.inner.lifecycle_index.clone();
        self.inner
            .committer
            .write(move |txn| {
                let b = bucket_for(&*txn, &bucket, &caller, op)?;
                match &config {
                    Some(c) => {
                        // Known before the commit, so no read after it misses it.
                        index.add(b.id);
                        let stored = StoredLifecycle {
                            bucket: bucket.clone(),
                            config: c.clone(),
                        };
                        txn.put(tables::BUCKET_LIFECYCLE, &config_key(b.id), &encode(&stored))?;
                        // Other gateways learn of the bucket from the epoch.
                        crate::epochs::bump(txn, crate::epochs::Cached::Lifecycle)?;
                    }
                    None => forget(txn, b.id)?,
                }
                Ok(())
            })
            .await
    }

    /// What the lifecycle worker has done since start.
    pub fn lifecycle_counts(&self) -> LifecycleCounts {
        let c = &self.inner.lifecycle;
        LifecycleCounts {
            expired: c.expired.load(Ordering::Relaxed),
            markers_removed: c.markers_removed.load(Ordering::Relaxed),
            transitioned: c.transitioned.load(Ordering::Relaxed),
            uploads_aborted: c.aborted.load(Ordering::Relaxed),
        }
    }

    /// How often the worker starts a pass: a quarter of a lifecycle day, within
    /// [200 ms, 1 h].
    pub(crate) fn lifecycle_period(&self) -> Duration {
        (self.inner.opts.lifecycle_day / 4).clamp(Duration::from_millis(200), Duration::from_secs(3600))
    }

    /// One pass of the lifecycle worker over every bucket that has a configuration,
    /// from where the last pass stopped (a restart resumes it). Returns what it did.
    pub async fn run_lifecycle(&self) -> ModelResult<LifecycleCounts> {
        let inner = self.inner.clone();
        let (cursor, buckets) = blocking(move || {
            let txn = inner.meta.begin_read()?;
            let cursor = txn
                .get(tables::SYSTEM, CURSOR)?
                .map(|v| decode::<LifecycleCursor>(&v))
                .transpose()?;
            let from = cursor.as_ref().map_or(0, |c| c.bucket_id);
            let rows = txn.range(
                tables::BUCKET_LIFECYCLE,
                Bound::Included(&from.to_be_bytes()[..]),
                Bound::Unbounded,
                usize::MAX,
            )?;
            let mut buckets = Vec::with_capacity(rows.len());
            for (k, v) in rows {
                let id = u64::from_be_bytes(
                    k.as_slice()
                        .try_into()
                        .map_err(|_| ModelError::Corrupt("bad lifecycle key".into()))?,
                );
                buckets.push((id, decode::<StoredLifecycle>(&v)?.bucket));
            }
            Ok((cursor, buckets))
        })
        .await?;
        let mut total = LifecycleCounts::default();
        let mut cursor_written = cursor.is_some();
        for (id, name) in buckets {
            let resume = cursor.as_ref().filter(|c| c.bucket_id == id);
            let (mut after, mut uploads) = match resume {
                Some(c) => (c.after.clone(), c.uploads),
                None => (None, false),
            };
            loop {
                let started = Instant::now();
                let Step { done, next, committed } = if uploads {
                    self.lifecycle_uploads(id, &name, after.clone()).await?
                } else {
                    self.lifecycle_versions(id, &name, after.clone()).await?
                };
                cursor_written |= committed;
                total += done;
                match next {
                    Some(n) => after = Some(n),
                    None if !uploads => (uploads, after) = (true, None),
                    None => break,
                }
                // Yield to foreground requests: rest three times as long as the batch
                // took (the worker takes at most a quarter of a core; bench get-4k-lc-busy).
                tokio::time::sleep(started.elapsed() * 3).await;
            }
        }
        if cursor_written {
            self.inner
                .committer
                .write(|txn| {
                    txn.delete(tables::SYSTEM, CURSOR)?;
                    Ok(())
                })
                .await?;
        }
        Ok(total)
    }

    /// One batch of a bucket's versions after `after`: plans from a snapshot, then
    /// commits the keys that have something due. Returns what it did and where the
    /// next batch starts (`None`: the bucket is done).
    async fn lifecycle_versions(&self, bucket_id: u64, name: &str, after: Option<Vec<u8>>) -> ModelResult<Step> {
        let (inner, name2, day_ms) = (self.inner.clone(), name.to_string(), self.day_ms());
        let batch = blocking(move || {
            let txn = inner.meta.begin_read()?;
            let Some((b, config)) = bucket_and_config(&*txn, bucket_id, &name2)? else {
                return Ok(Batch {
                    due: Vec::new(),
                    next: None,
                });
            };
            let start = after.unwrap_or_else(|| object_key(b.id, ""));
            let end = bucket_end(b.id);
            let now = now_ms();
            let mut groups: Vec<(String, Vec<Stored>)> = Vec::new();
            let mut full = false;
            let mut failure = None;
            txn.scan(
                tables::VERSIONS,
                Bound::Included(&start),
                Bound::Excluded(&end),
                &mut |k, v| {
                    let (key, seq) = match split_version_key(k) {
                        Some(s) => s,
                        None => {
                            failure = Some(ModelError::Corrupt("malformed version key".into()));
                            return false;
                        }
                    };
                    if groups.last().is_none_or(|(g, _)| g != key) {
                        if groups.len() == BATCH_KEYS {
                            full = true;
                            return false;
                        }
                        groups.push((key.to_string(), Vec::new()));
                    }
                    match decode::<ObjectRecord>(v) {
                        Ok(rec) => {
                            if let Some((_, g)) = groups.last_mut() {
                                g.push((seq, rec));
                            }
                            true
                        }
                        Err(e) => {
                            failure = Some(e);
                            false
                        }
                    }
                },
            )?;
            if let Some(e) = failure {
                return Err(e);
            }
            let next = match (full, groups.last()) {
                (true, Some((key, _))) => prefix_successor(&version_prefix(b.id, key)),
                _ => None,
            };
            let due = groups
                .into_iter()
                .filter(|(key, versions)| !plan_key(&config.rules, key, versions, now, day_ms).is_empty())
                .map(|(key, _)| key)
                .collect();
            Ok(Batch { due, next })
        })
        .await?;
        let committed = !batch.due.is_empty();
        let done = if !committed {
            LifecycleCounts::default()
        } else {
            let (bucket_name, next, inner) = (name.to_string(), batch.next.clone(), self.inner.clone());
            let (mut done, moves) = self
                .inner
                .committer
                .write(move |txn| {
                    let mut done = LifecycleCounts::default();
                    let mut moves = Vec::new();
                    if let Some((b, config)) = bucket_and_config(&*txn, bucket_id, &bucket_name)? {
                        let now = now_ms();
                        for key in &batch.due {
                            done += apply_key(txn, &inner.tiers, &b, &config.rules, key, now, day_ms, &mut moves)?;
                        }
                    }
                    save_cursor(txn, bucket_id, next.clone(), false)?;
                    Ok((done, moves))
                })
                .await?;
            // A crash before a move commits leaves the version where it was (and the
            // copy to the orphan sweep); the next pass plans it again.
            // One version that cannot move (its blob damaged, its tier undeclared) is
            // logged and left where it is; it must not stop the pass for the others.
            for m in moves {
                let what = format!("{}/{}", name, m.key);
                match self.move_version(m).await {
                    Ok(true) => done.transitioned += 1,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, object = %what, "a transition could not move the version"),
                }
            }
            self.inner.lifecycle.add(&done);
            done
        };
        Ok(Step {
            done,
            next: batch.next,
            committed,
        })
    }

    /// Moves a version's bytes to another tier for a transition: copies them into
    /// new blobs there (durable), then one commit switches the version to them and
    /// to its new class, if it still has the data the plan saw; the old blobs go to
    /// the collector. Returns whether the version moved.
    pub(crate) async fn move_version(&self, m: Move) -> ModelResult<bool> {
        let inner = self.inner.clone();
        let (data, from, to) = (m.data.clone(), m.from.clone(), m.to.clone());
        let copied = blocking(move || crate::tiers::copy_blobs(&inner, &data, &from, &to)).await?;
        let planned = copied.clone();
        let (old, to) = (m.data.clone(), m.to.clone());
        let result = self
            .inner
            .committer
            .write(move |txn| {
                let Some(rec) = crate::versions::at_seq(&*txn, m.bucket_id, &m.key, m.seq)? else {
                    return Ok(false);
                };
                if rec.data != m.data || rec.tier != m.from {
                    return Ok(false);
                }
                let new = ObjectRecord {
                    storage_class: Some(m.class),
                    data: planned.clone(),
                    tier: m.to.clone(),
                    ..rec.clone()
                };
                crate::versions::replace_version_data(txn, m.bucket_id, &m.key, m.seq, &rec, &new)?;
                Ok(true)
            })
            .await;
        if !matches!(result, Ok(true)) && copied != old {
            crate::tiers::discard_copy(&self.inner, &to, &copied).await;
        }
        result
    }

    /// One batch of a bucket's incomplete uploads after `after`: aborts those a rule
    /// says are due (found in a snapshot, checked again in the committing job).
    async fn lifecycle_uploads(&self, bucket_id: u64, name: &str, after: Option<Vec<u8>>) -> ModelResult<Step> {
        let (inner, name2, day_ms) = (self.inner.clone(), name.to_string(), self.day_ms());
        let (due, next) = blocking(move || {
            let txn = inner.meta.begin_read()?;
            let Some((b, config)) = bucket_and_config(&*txn, bucket_id, &name2)? else {
                return Ok((Vec::new(), None));
            };
            let first = object_key(b.id, "");
            let start = match &after {
                Some(a) => Bound::Excluded(a.as_slice()),
                None => Bound::Included(first.as_slice()),
            };
            let end = bucket_end(b.id);
            let rows = txn.range(tables::UPLOADS, start, Bound::Excluded(&end), BATCH_KEYS)?;
            let now = now_ms();
            let mut due = Vec::new();
            for (k, v) in &rows {
                if upload_due(&config, k, &decode(v)?, now, day_ms)? {
                    due.push(k.clone());
                }
            }
            let next = (rows.len() == BATCH_KEYS)
                .then(|| rows.last().map(|(k, _)| k.clone()))
                .flatten();
            Ok((due, next))
        })
        .await?;
        if due.is_empty() {
            return Ok(Step {
                done: LifecycleCounts::default(),
                next,
                committed: false,
            });
        }
        let (name, next2) = (name.to_string(), next.clone());
        let done = self
            .inner
            .committer
            .write(move |txn| {
                let mut done = LifecycleCounts::default();
                if let Some((b, config)) = bucket_and_config(&*txn, bucket_id, &name)? {
                    let now = now_ms();
                    for k in &due {
                        let Some(v) = txn.get(tables::UPLOADS, k)? else {
                            continue;
                        };
                        if upload_due(&config, k, &decode(&v)?, now, day_ms)? {
                            let (key, id) =
                                split_upload_key(k).ok_or_else(|| ModelError::Corrupt("bad upload key".into()))?;
                            crate::multipart::remove_upload(txn, b.id, key, &id)?;
                            done.uploads_aborted += 1;
                        }
                    }
                }
                save_cursor(txn, bucket_id, next2.clone(), true)?;
                Ok(done)
            })
            .await?;
        self.inner.lifecycle.add(&done);
        Ok(Step {
            done,
            next,
            committed: true,
        })
    }
}

/// Whether a rule says the upload stored under `stored_key` is to be aborted by `now`.
fn upload_due(
    config: &LifecycleConfig,
    stored_key: &[u8],
    upload: &UploadRecord,
    now: i64,
    day_ms: i64,
) -> ModelResult<bool> {
    let (key, _) = split_upload_key(stored_key).ok_or_else(|| ModelError::Corrupt("bad upload key".into()))?;
    Ok(config.rules.iter().any(|r| {
        r.enabled
            && !r.filter.has_tags()
            && key.starts_with(r.filter.prefix())
            && r.abort_incomplete_days
                .is_some_and(|d| due_after(upload.initiated_ms, d, day_ms) <= now)
    }))
}

/// The bucket with id `bucket_id` under `name` and its configuration, if both still
/// exist (a bucket deleted and made again has another id).
fn bucket_and_config(
    txn: &dyn ReadTxn,
    bucket_id: u64,
    name: &str,
) -> ModelResult<Option<(BucketRecord, LifecycleConfig)>> {
    let b = match get_bucket(txn, name) {
        Ok(b) if b.id == bucket_id => b,
        Ok(_) | Err(ModelError::NoSuchBucket) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(config_of(txn, b.id)?.map(|c| (b, c)))
}

fn save_cursor(txn: &mut dyn WriteTxn, bucket_id: u64, after: Option<Vec<u8>>, uploads: bool) -> ModelResult<()> {
    let cursor = LifecycleCursor {
        bucket_id,
        after,
        uploads,
    };
    txn.put(tables::SYSTEM, CURSOR, &encode(&cursor))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = 1000;

    fn version(ms: i64, marker: bool) -> ObjectRecord {
        let mut r = crate::versions::delete_marker("o");
        r.delete_marker = marker;
        r.last_modified_ms = ms;
        r.size = if marker { 0 } else { 10 };
        r
    }

    fn rule(filter: RuleFilter) -> LifecycleRule {
        LifecycleRule {
            id: "r".into(),
            enabled: true,
            filter,
            expiration: None,
            noncurrent_expiration: None,
            transitions: Vec::new(),
            noncurrent_transitions: Vec::new(),
            abort_incomplete_days: None,
        }
    }

    #[test]
    fn real_days_round_up_to_the_next_midnight_and_short_days_count_exactly() {
        // Created 2026-12-03T10:00Z, 1 day: due 2026-12-05T00:00Z (AWS's example:
        // 2014-01-15 10:30 + 3 days = 2014-01-19 00:00).
        let day = DAY.as_millis() as i64;
        let created = 20_425 * day + 10 * 3_600_000;
        assert_eq!(due_after(created, 1, day), 20_427 * day);
        assert_eq!(due_after(20_425 * day, 1, day), 20_426 * day, "from a midnight");
        assert_eq!(due_after(0, 1, D), D);
        assert_eq!(due_after(1, 1, D), D + 1);
        assert_eq!(due_after(999, 2, D), 2 * D + 999);
    }

    #[test]
    fn current_versions_expire_and_transition_when_due() {
        let mut r = rule(RuleFilter::Prefix("logs/".into()));
        r.expiration = Some(Expiration::After(When::Days(3)));
        r.transitions = vec![
            Transition {
                when: When::Days(1),
                class: StorageClass::StandardIa,
            },
            Transition {
                when: When::Days(2),
                class: StorageClass::Glacier,
            },
        ];
        let rules = [r];
        let v = [(1, version(0, false))];
        assert!(plan_key(&rules, "logs/a", &v, D - 1, D).is_empty());
        assert_eq!(
            plan_key(&rules, "logs/a", &v, D, D),
            [Act::Transition {
                seq: 1,
                class: StorageClass::StandardIa
            }]
        );
        assert_eq!(
            plan_key(&rules, "logs/a", &v, 2 * D, D),
            [Act::Transition {
                seq: 1,
                class: StorageClass::Glacier
            }]
        );
        assert_eq!(plan_key(&rules, "logs/a", &v, 3 * D, D), [Act::ExpireCurrent]);
        assert!(
            plan_key(&rules, "other", &v, 10 * D, D).is_empty(),
            "outside the filter"
        );
        let mut off = rules.clone();
        off[0].enabled = false;
        assert!(plan_key(&off, "logs/a", &v, 10 * D, D).is_empty(), "disabled rule");
    }

    #[test]
    fn noncurrent_versions_count_from_their_successor_and_keep_the_newest() {
        let mut r = rule(RuleFilter::Empty);
        r.noncurrent_expiration = Some(NoncurrentExpiration {
            days: 1,
            newer_noncurrent: Some(1),
        });
        let rules = [r];
        // Newest first: current at 5D, noncurrent since 5D (kept: the newest
        // noncurrent), since 3D, since 1D.
        let v = [
            (4, version(5 * D, false)),
            (3, version(3 * D, false)),
            (2, version(D, false)),
            (1, version(0, false)),
        ];
        assert!(plan_key(&rules, "k", &v, D, D).is_empty());
        assert_eq!(
            plan_key(&rules, "k", &v, 2 * D, D),
            [Act::Remove { seq: 1, marker: false }]
        );
        assert_eq!(
            plan_key(&rules, "k", &v, 6 * D, D),
            [
                Act::Remove { seq: 2, marker: false },
                Act::Remove { seq: 1, marker: false }
            ]
        );
        // A locked one stays.
        let mut locked = v.clone();
        locked[3].1.lock.legal_hold = true;
        assert_eq!(
            plan_key(&rules, "k", &locked, 6 * D, D),
            [Act::Remove { seq: 2, marker: false }]
        );
    }

    #[test]
    fn lone_delete_markers_expire_by_flag_or_by_days() {
        let lone = [(1, version(0, true))];
        let hidden = [(2, version(D, true)), (1, version(0, false))];
        let mut flag = rule(RuleFilter::Empty);
        flag.expiration = Some(Expiration::ExpiredObjectDeleteMarker(true));
        assert_eq!(
            plan_key(&[flag.clone()], "k", &lone, 0, D),
            [Act::Remove { seq: 1, marker: true }]
        );
        assert!(plan_key(&[flag], "k", &hidden, 10 * D, D).is_empty());
        let mut days = rule(RuleFilter::Empty);
        days.expiration = Some(Expiration::After(When::Days(2)));
        assert!(plan_key(&[days.clone()], "k", &lone, D, D).is_empty());
        assert_eq!(
            plan_key(&[days], "k", &lone, 2 * D, D),
            [Act::Remove { seq: 1, marker: true }]
        );
    }

    #[test]
    fn filters_test_prefix_tags_and_size() {
        let tags = vec![("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())];
        assert!(RuleFilter::Tag("a".into(), "1".into()).matches("k", &tags, 0));
        assert!(!RuleFilter::Tag("a".into(), "2".into()).matches("k", &tags, 0));
        assert!(RuleFilter::SizeGreaterThan(10).matches("k", &tags, 11));
        assert!(!RuleFilter::SizeGreaterThan(10).matches("k", &tags, 10));
        assert!(RuleFilter::SizeLessThan(10).matches("k", &tags, 9));
        let and = RuleFilter::And(AndFilter {
            prefix: Some("p/".into()),
            tags: tags.clone(),
            size_greater_than: Some(1),
            size_less_than: Some(100),
        });
        assert!(and.matches("p/x", &tags, 50));
        assert!(!and.matches("q/x", &tags, 50));
        assert!(!and.matches("p/x", &tags[..1].to_vec(), 50));
        assert!(!and.matches("p/x", &tags, 100));
    }

    #[test]
    fn configurations_are_held_to_aws_rules() {
        let ok = |r: LifecycleRule| LifecycleConfig { rules: vec![r] }.validate();
        let mut r = rule(RuleFilter::Empty);
        assert!(
            matches!(ok(r.clone()), Err(ModelError::InvalidArgument(_))),
            "no action"
        );
        r.expiration = Some(Expiration::After(When::Days(0)));
        assert!(ok(r.clone()).is_err(), "zero days");
        r.expiration = Some(Expiration::After(When::Date(1_000)));
        assert!(ok(r.clone()).is_err(), "not at midnight");
        r.expiration = Some(Expiration::After(When::Date(20_000 * DAY.as_millis() as i64)));
        assert!(ok(r.clone()).is_ok());
        let mut tagged = rule(RuleFilter::Tag("k".into(), "v".into()));
        tagged.abort_incomplete_days = Some(1);
        assert!(matches!(ok(tagged.clone()), Err(ModelError::InvalidRequest(_))));
        tagged.abort_incomplete_days = None;
        tagged.expiration = Some(Expiration::ExpiredObjectDeleteMarker(true));
        assert!(matches!(ok(tagged), Err(ModelError::InvalidArgument(_))));
        let mut t = rule(RuleFilter::Empty);
        t.transitions = vec![Transition {
            when: When::Days(1),
            class: StorageClass::Standard,
        }];
        assert!(matches!(ok(t.clone()), Err(ModelError::InvalidStorageClass)));
        t.transitions[0].class = StorageClass::StandardIa;
        assert!(
            matches!(ok(t.clone()), Err(ModelError::InvalidArgument(_))),
            "IA needs 30 days"
        );
        t.transitions[0].when = When::Days(30);
        assert!(ok(t.clone()).is_ok());
        t.transitions[0].class = StorageClass::Glacier;
        t.transitions[0].when = When::Days(1);
        assert!(ok(t.clone()).is_ok());
        let mut twice = t.clone();
        twice.transitions.push(Transition {
            when: When::Days(2),
            class: StorageClass::Glacier,
        });
        assert!(
            matches!(ok(twice), Err(ModelError::InvalidArgument(_))),
            "one class twice"
        );
        let mut nc = t;
        nc.transitions.clear();
        nc.noncurrent_transitions = vec![
            NoncurrentTransition {
                days: 1,
                newer_noncurrent: None,
                class: StorageClass::DeepArchive,
            };
            2
        ];
        assert!(
            matches!(ok(nc.clone()), Err(ModelError::InvalidArgument(_))),
            "noncurrent twice"
        );
        nc.noncurrent_transitions[1].class = StorageClass::Glacier;
        assert!(ok(nc).is_ok());
        let mut eodm = rule(RuleFilter::SizeLessThan(5));
        eodm.expiration = Some(Expiration::ExpiredObjectDeleteMarker(true));
        assert!(matches!(ok(eodm), Err(ModelError::MalformedXml(_))));
        let mut two = LifecycleConfig {
            rules: vec![
                {
                    let mut r = rule(RuleFilter::Empty);
                    r.abort_incomplete_days = Some(1);
                    r
                };
                2
            ],
        };
        assert!(two.validate().is_err(), "same id twice");
        two.rules[1].id.clear();
        assert!(two.validate().is_ok(), "an id is generated");
        assert!(!two.rules[1].id.is_empty());
    }
}

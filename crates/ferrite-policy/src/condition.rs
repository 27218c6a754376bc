//! The `Condition` element: operators, their values (parsed to their types once), and
//! AWS's evaluation rules (IAM User Guide, "Condition operators" and "Creating a
//! condition with multiple keys or values"):
//!
//! - every operator of a block and every key of an operator must hold (AND);
//! - several policy values for one key: any may match (OR); for a negated operator
//!   (`StringNotEquals`, `NotIpAddress`, ...) the request value must match none of them;
//! - a key the request lacks: the condition is false, except that a negated operator is
//!   then true ("If the policy condition requires that the key is *not* matched, such as
//!   StringNotLike or ArnNotLike, and the right key is not present, the condition is
//!   true"), `...IfExists` is true ("If the key is not present, evaluate the condition
//!   element as true"), `ForAllValues:` is true and `ForAnyValue:` is false ("It also
//!   returns true if there are no keys in the request" / "For no matching key or a null
//!   dataset, the condition returns false");
//! - `ForAllValues:` holds when every request value matches (in the operator's sense,
//!   negation included), `ForAnyValue:` when at least one does;
//! - without a set operator a multi-valued key behaves as `ForAnyValue:` for positive
//!   operators and requires that no request value matches for negated ones (a request
//!   value that matched would make "not equals" false);
//! - a request value that does not parse as the operator's type (a number, a date, an
//!   address) matches no policy value.

use crate::catalog;
use crate::env::{Env, Key};
use crate::error::{PolicyError, malformed};
use crate::json::Json;
use crate::pattern::{ArnPattern, Pattern, Text};
use crate::values::{Cidr, Instant, decode_base64, parse_date, parse_ip};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// An operator's positive test with the policy values of one key.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    StringEquals(Box<[Text]>),
    /// Values lowercased at parse time.
    StringEqualsIgnoreCase(Box<[Text]>),
    StringLike(Box<[Pattern]>),
    Numeric(Cmp, Box<[f64]>),
    Date(Cmp, Box<[Instant]>),
    /// `"true"` / `"false"` (or a variable), lowercased.
    Bool(Box<[Text]>),
    Binary(Box<[Box<[u8]>]>),
    Ip(Box<[Cidr]>),
    /// `ArnEquals` and `ArnLike` "behave identically".
    Arn(Box<[ArnPattern]>),
    /// `true`: the key must be absent; `false`: present.
    Null(Box<[bool]>),
}

/// One (operator, key) pair of a `Condition` block.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub(crate) test: Test,
    pub(crate) negated: bool,
    pub(crate) set: SetOp,
    pub(crate) if_exists: bool,
    pub(crate) key: Key,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

struct Operator {
    kind: Kind,
    negated: bool,
    set: SetOp,
    if_exists: bool,
}

fn parse_operator(name: &str) -> Option<Operator> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (SetOp::ForAnyValue, rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (SetOp::ForAllValues, rest)
    } else {
        (SetOp::Single, name)
    };
    let (if_exists, base) = match rest.strip_suffix("IfExists") {
        Some(base) => (true, base),
        None => (false, rest),
    };
    let (kind, negated) = match base {
        "StringEquals" => (Kind::StringEquals, false),
        "StringNotEquals" => (Kind::StringEquals, true),
        "StringEqualsIgnoreCase" => (Kind::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Kind::StringEqualsIgnoreCase, true),
        "StringLike" => (Kind::StringLike, false),
        "StringNotLike" => (Kind::StringLike, true),
        "NumericEquals" => (Kind::Numeric(Cmp::Eq), false),
        "NumericNotEquals" => (Kind::Numeric(Cmp::Eq), true),
        "NumericLessThan" => (Kind::Numeric(Cmp::Lt), false),
        "NumericLessThanEquals" => (Kind::Numeric(Cmp::Le), false),
        "NumericGreaterThan" => (Kind::Numeric(Cmp::Gt), false),
        "NumericGreaterThanEquals" => (Kind::Numeric(Cmp::Ge), false),
        "DateEquals" => (Kind::Date(Cmp::Eq), false),
        "DateNotEquals" => (Kind::Date(Cmp::Eq), true),
        "DateLessThan" => (Kind::Date(Cmp::Lt), false),
        "DateLessThanEquals" => (Kind::Date(Cmp::Le), false),
        "DateGreaterThan" => (Kind::Date(Cmp::Gt), false),
        "DateGreaterThanEquals" => (Kind::Date(Cmp::Ge), false),
        "Bool" => (Kind::Bool, false),
        "BinaryEquals" => (Kind::Binary, false),
        "IpAddress" => (Kind::Ip, false),
        "NotIpAddress" => (Kind::Ip, true),
        "ArnEquals" | "ArnLike" => (Kind::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Kind::Arn, true),
        "Null" => (Kind::Null, false),
        _ => return None,
    };
    // "You can add IfExists to the end of any condition operator name except the Null
    // condition"; a set operator over "is the key absent" has no meaning either.
    if kind == Kind::Null && (if_exists || set != SetOp::Single) {
        return None;
    }
    Some(Operator {
        kind,
        negated,
        set,
        if_exists,
    })
}

/// Parses a statement's `Condition` object. `vars`: the policy's version has policy
/// variables; `allow_iam`: `iam:` condition keys are allowed (identity policies).
pub(crate) fn parse_block(block: &Json, vars: bool, allow_iam: bool) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = block else {
        return Err(malformed(format!("Condition must be an object, not {}", block.kind())));
    };
    let mut conditions = Vec::new();
    for (op_name, keys) in operators {
        let op = parse_operator(op_name).ok_or_else(|| malformed(format!("Invalid Condition type: {op_name}")))?;
        let Json::Object(keys) = keys else {
            return Err(malformed(format!("Condition {op_name} must map keys to values")));
        };
        if keys.is_empty() {
            return Err(malformed(format!("Condition {op_name} names no key")));
        }
        for (key, values) in keys {
            if !catalog::is_known_key(key, allow_iam) {
                return Err(malformed(format!("Policy has an invalid condition key: {key}")));
            }
            let values = strings(values).ok_or_else(|| {
                malformed(format!(
                    "Condition {op_name} of {key} must be a string, number, boolean or a list of them"
                ))
            })?;
            let test = parse_values(op.kind, &values, vars)
                .ok_or_else(|| malformed(format!("Invalid Condition value for {op_name} on {key}: {values:?}")))?;
            conditions.push(Condition {
                test,
                negated: op.negated,
                set: op.set,
                if_exists: op.if_exists,
                key: Key::new(key),
            });
        }
    }
    Ok(conditions)
}

/// A condition value or a non-empty list of them, as strings (numbers and booleans as
/// JSON writes them).
fn strings(json: &Json) -> Option<Vec<&str>> {
    fn scalar(json: &Json) -> Option<&str> {
        match json {
            Json::String(s) | Json::Number(s) => Some(s),
            Json::Bool(true) => Some("true"),
            Json::Bool(false) => Some("false"),
            Json::Null | Json::Array(_) | Json::Object(_) => None,
        }
    }
    match json {
        Json::Array(items) if !items.is_empty() => items.iter().map(scalar).collect(),
        Json::Array(_) => None,
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Variables are allowed in the string, ARN and Bool operators only (IAM User Guide,
/// "Where you can use policy variables" and the Boolean section); elsewhere `${...}`
/// does not parse as the operator's type and the policy is refused.
fn parse_values(kind: Kind, values: &[&str], vars: bool) -> Option<Test> {
    fn all<T>(values: &[&str], f: impl Fn(&str) -> Option<T>) -> Option<Box<[T]>> {
        values.iter().map(|v| f(v)).collect()
    }
    Some(match kind {
        Kind::StringEquals => Test::StringEquals(all(values, |v| Some(Text::new(v, vars)))?),
        Kind::StringEqualsIgnoreCase => {
            Test::StringEqualsIgnoreCase(all(values, |v| Some(Text::new(v, vars).to_lowercase()))?)
        }
        Kind::StringLike => Test::StringLike(all(values, |v| Some(Pattern::new(v, vars)))?),
        Kind::Numeric(cmp) => Test::Numeric(cmp, all(values, parse_number)?),
        Kind::Date(cmp) => Test::Date(cmp, all(values, parse_date)?),
        Kind::Bool => Test::Bool(all(values, |v| {
            let text = Text::new(v, vars).to_lowercase();
            let valid = text.has_vars() || matches!(text.plain(), Some("true" | "false"));
            valid.then_some(text)
        })?),
        Kind::Binary => Test::Binary(all(values, |v| decode_base64(v).map(Vec::into_boxed_slice))?),
        Kind::Ip => Test::Ip(all(values, Cidr::parse)?),
        Kind::Arn => Test::Arn(all(values, |v| Some(ArnPattern::new(v, vars)))?),
        Kind::Null => Test::Null(all(values, |v| match v.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        })?),
    })
}

fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

impl Condition {
    /// Whether the condition reads `key`, as its key or through a policy variable.
    pub(crate) fn mentions(&self, key: &Key) -> bool {
        self.key == *key
            || match &self.test {
                Test::StringEquals(texts) | Test::StringEqualsIgnoreCase(texts) | Test::Bool(texts) => {
                    texts.iter().any(|t| t.mentions(key))
                }
                Test::StringLike(patterns) => patterns.iter().any(|p| p.mentions(key)),
                Test::Arn(patterns) => patterns.iter().any(|p| p.mentions(key)),
                Test::Numeric(..) | Test::Date(..) | Test::Binary(_) | Test::Ip(_) | Test::Null(_) => false,
            }
    }

    pub(crate) fn holds(&self, env: &Env<'_>) -> bool {
        let values = env.lookup(&self.key);
        if let Test::Null(expect_absent) = &self.test {
            return expect_absent.iter().any(|&absent| absent == values.is_none());
        }
        let Some(values) = values else {
            return self.if_exists
                || match self.set {
                    SetOp::ForAllValues => true,
                    SetOp::ForAnyValue => false,
                    SetOp::Single => self.negated,
                };
        };
        let matches = |v: &str| self.test.matches_any(v, env) != self.negated;
        match (self.set, self.negated) {
            (SetOp::ForAllValues, _) | (SetOp::Single, true) => values.iter().all(matches),
            (SetOp::ForAnyValue, _) | (SetOp::Single, false) => values.iter().any(matches),
        }
    }
}

impl Test {
    /// Whether the request value `v` matches any policy value (the positive test).
    fn matches_any(&self, v: &str, env: &Env<'_>) -> bool {
        match self {
            Test::StringEquals(texts) => texts.iter().any(|t| t.equals(v, env)),
            Test::StringEqualsIgnoreCase(texts) | Test::Bool(texts) => {
                texts.iter().any(|t| t.equals_ignore_case(v, env))
            }
            Test::StringLike(patterns) => patterns.iter().any(|p| p.matches(v, env)),
            Test::Numeric(cmp, numbers) => parse_number(v).is_some_and(|x| numbers.iter().any(|&n| cmp.holds(x, n))),
            Test::Date(cmp, dates) => parse_date(v).is_some_and(|x| dates.iter().any(|&d| cmp.holds(x, d))),
            Test::Binary(blobs) => blobs.iter().any(|b| **b == *v.as_bytes()),
            Test::Ip(ranges) => parse_ip(v).is_some_and(|ip| ranges.iter().any(|r| r.contains(ip))),
            Test::Arn(patterns) => patterns.iter().any(|p| p.matches(v, env)),
            Test::Null(_) => false,
        }
    }
}

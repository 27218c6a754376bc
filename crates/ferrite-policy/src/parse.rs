//! From a policy document to a [`Policy`]: the grammar (IAM User Guide, "Grammar of the
//! IAM JSON policy language"), strictly. Every refusal names what is wrong.

use crate::catalog::SERVICES;
use crate::condition;
use crate::env::Key;
use crate::error::{PolicyError, malformed};
use crate::json::Json;
use crate::pattern::Pattern;
use crate::policy::{ActionBits, ActionPattern, Effect, Policy, Service, Statement, Who};
use crate::principal::PrincipalSet;
use crate::public::statement_is_public;
use crate::{MAX_POLICY_BYTES, Scope};

pub(crate) fn parse(doc: &str, scope: Scope<'_>) -> Result<Policy, PolicyError> {
    if doc.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge { size: doc.len() });
    }
    let json: Json = serde_json::from_str(doc).map_err(|e| match e.classify() {
        // Our own refusal (a duplicate key) or a type error: say which.
        serde_json::error::Category::Data => malformed(format!("This policy contains invalid Json: {e}")),
        _ => malformed("This policy contains invalid Json"),
    })?;
    let Json::Object(top) = json else {
        return Err(malformed("Policies must be valid JSON and the first byte must be '{'"));
    };

    let mut version = None;
    let mut statement = None;
    for (name, value) in &top {
        match name.as_str() {
            "Version" => version = Some(value),
            "Id" => {
                if !matches!(value, Json::String(_)) {
                    return Err(malformed("Id must be a string"));
                }
            }
            "Statement" => statement = Some(value),
            other => return Err(malformed(format!("Unknown field {other}"))),
        }
    }
    // Variables "were introduced in version 2012-10-17"; without a Version element "variables
    // like ${aws:username} are treated as literal strings".
    let vars = match version {
        None => false,
        Some(Json::String(v)) if v == "2012-10-17" => true,
        Some(Json::String(v)) if v == "2008-10-17" => false,
        Some(_) => return Err(malformed("The policy must contain a valid version string")),
    };
    let statements: Vec<&[(String, Json)]> = match statement {
        None => return Err(malformed("Missing required field Statement")),
        Some(Json::Object(members)) => vec![members],
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| match item {
                Json::Object(members) => Ok(members.as_slice()),
                other => Err(malformed(format!(
                    "A statement must be an object, not {}",
                    other.kind()
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(malformed(format!(
                "Statement must be an object or a list, not {}",
                other.kind()
            )));
        }
    };
    if statements.is_empty() {
        return Err(malformed("Could not parse the policy: Statement is empty!"));
    }

    let mut sids: Vec<&str> = Vec::new();
    let mut parsed = Vec::with_capacity(statements.len());
    for members in statements {
        let (statement, sid) = parse_statement(members, scope, vars)?;
        if let Some(sid) = sid.filter(|s| !s.is_empty()) {
            // S3 refuses a bucket policy whose statements share a Sid.
            if sids.contains(&sid) {
                return Err(malformed(format!(
                    "Statement IDs (SID) in a single policy must be unique: {sid}"
                )));
            }
            sids.push(sid);
        }
        parsed.push(statement);
    }

    let public = parsed.iter().any(statement_is_public);
    // Decided on the parsed policy, not on its text: JSON escapes can spell the key.
    let needs_principal_arn = parsed.iter().any(|st| {
        st.resources.iter().any(|r| r.mentions(&Key::PrincipalArn))
            || st.conditions.iter().any(|c| c.mentions(&Key::PrincipalArn))
    });
    Ok(Policy {
        statements: parsed.into_boxed_slice(),
        needs_principal_arn,
        public,
    })
}

fn parse_statement<'d>(
    members: &'d [(String, Json)],
    scope: Scope<'_>,
    vars: bool,
) -> Result<(Statement, Option<&'d str>), PolicyError> {
    let mut sid = None;
    let mut effect = None;
    let mut principal: Option<(bool, &Json)> = None;
    let mut action: Option<(bool, &Json)> = None;
    let mut resource: Option<(bool, &Json)> = None;
    let mut conditions = Vec::new();
    for (name, value) in members {
        let negated = name.starts_with("Not");
        match name.as_str() {
            "Sid" => match value {
                // "For IAM policies, basic alphanumeric characters (A-Z,a-z,0-9) are the
                // only allowed characters in the Sid value"; S3 also allows others.
                Json::String(s)
                    if matches!(scope, Scope::Identity) && !s.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                {
                    return Err(malformed(format!("Statement IDs (SID) must be alpha-numeric: {s}")));
                }
                Json::String(s) => sid = Some(s.as_str()),
                _ => return Err(malformed("Sid must be a string")),
            },
            "Effect" => effect = Some(parse_effect(value)?),
            "Principal" | "NotPrincipal" => {
                if principal.replace((negated, value)).is_some() {
                    return Err(malformed("A statement must have Principal or NotPrincipal, not both"));
                }
            }
            "Action" | "NotAction" => {
                if action.replace((negated, value)).is_some() {
                    return Err(malformed("A statement must have Action or NotAction, not both"));
                }
            }
            "Resource" | "NotResource" => {
                if resource.replace((negated, value)).is_some() {
                    return Err(malformed("A statement must have Resource or NotResource, not both"));
                }
            }
            "Condition" => conditions = condition::parse_block(value, vars, matches!(scope, Scope::Identity))?,
            other => return Err(malformed(format!("Unknown field {other}"))),
        }
    }
    let effect = effect.ok_or_else(|| malformed("Missing required field Effect"))?;
    let who = match (scope, principal) {
        (Scope::Identity, None) => Who::Attached,
        (Scope::Identity, Some(_)) => return Err(malformed("Policy document should not specify a principal.")),
        (Scope::Bucket(_), None) => return Err(malformed("Missing required field Principal")),
        (Scope::Bucket(_), Some((false, json))) => Who::In(PrincipalSet::parse(json)?),
        (Scope::Bucket(_), Some((true, json))) => Who::NotIn(PrincipalSet::parse(json)?),
    };
    let (not_action, actions) = action.ok_or_else(|| malformed("Missing required field Action"))?;
    let actions = strings(actions, "Action")?
        .into_iter()
        .map(|a| parse_action(a, scope))
        .collect::<Result<Box<[_]>, _>>()?;
    let (not_resource, resources) = resource.ok_or_else(|| malformed("Missing required field Resource"))?;
    let resources = strings(resources, "Resource")?
        .into_iter()
        .map(|r| parse_resource(r, scope, vars))
        .collect::<Result<Box<[_]>, _>>()?;
    let statement = Statement {
        effect,
        who,
        not_action,
        action_bits: ActionBits::of(&actions),
        actions,
        not_resource,
        resources,
        conditions: conditions.into_boxed_slice(),
        sid: sid.filter(|s| !s.is_empty()).map(Box::from),
    };
    Ok((statement, sid))
}

fn parse_effect(value: &Json) -> Result<Effect, PolicyError> {
    match value {
        Json::String(s) if s == "Allow" => Ok(Effect::Allow),
        Json::String(s) if s == "Deny" => Ok(Effect::Deny),
        Json::String(s) => Err(malformed(format!("Invalid effect: {s}"))),
        other => Err(malformed(format!("Effect must be a string, not {}", other.kind()))),
    }
}

/// A string or a non-empty list of strings.
fn strings<'d>(value: &'d Json, field: &str) -> Result<Vec<&'d str>, PolicyError> {
    match value {
        Json::String(s) => Ok(vec![s]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Ok(s.as_str()),
                other => Err(malformed(format!(
                    "{field} values must be strings, not {}",
                    other.kind()
                ))),
            })
            .collect(),
        Json::Array(_) => Err(malformed(format!("{field} must not be empty"))),
        other => Err(malformed(format!(
            "{field} must be a string or a list of strings, not {}",
            other.kind()
        ))),
    }
}

/// `*`, or `s3:` / `iam:` / `kms:` / `admin:` (any case) and a name that is a known
/// action or a wildcard pattern matching at least one. Bucket policies take `s3:`
/// actions only.
fn parse_action(action: &str, scope: Scope<'_>) -> Result<ActionPattern, PolicyError> {
    if action == "*" {
        return Ok(ActionPattern {
            service: Service::Any,
            name: Pattern::Any,
        });
    }
    let invalid = || malformed(format!("Policy has invalid action: {action}"));
    let (prefix, name) = action.split_once(':').ok_or_else(invalid)?;
    let (service, known) = match SERVICES.iter().position(|(s, _)| prefix.eq_ignore_ascii_case(s)) {
        Some(0) => (Service::S3, SERVICES[0].1),
        // The other services' actions are for identity policies only: a bucket policy
        // grants S3 actions.
        Some(i) if matches!(scope, Scope::Identity) => (Service::of(i), SERVICES[i].1),
        _ => return Err(invalid()),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?') {
        return Err(invalid());
    }
    let pattern = Pattern::new(name, false).to_ascii_lowercase();
    if !known.iter().any(|k| pattern.matches_ascii_ci(k)) {
        return Err(invalid());
    }
    Ok(ActionPattern { service, name: pattern })
}

/// A bucket policy's resources must lie in its bucket: the bucket ARN itself or
/// `arn:aws:s3:::<bucket>/...` (S3: "Policy has invalid resource"). Identity policies
/// take any ARN or `*`.
fn parse_resource(resource: &str, scope: Scope<'_>, vars: bool) -> Result<Pattern, PolicyError> {
    match scope {
        Scope::Bucket(bucket) => {
            let in_bucket = resource
                .strip_prefix("arn:aws:s3:::")
                .and_then(|rest| rest.strip_prefix(bucket))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if !in_bucket {
                return Err(malformed("Policy has invalid resource"));
            }
        }
        Scope::Identity => {
            if resource != "*" && !resource.starts_with("arn:") {
                return Err(malformed(format!("Resource {resource} must be in ARN format or \"*\"")));
            }
        }
    }
    Ok(Pattern::new(resource, vars))
}
